//! `pandamon`: the PanDA monitor. Subcommands create a PanDA schema, simulate a workload, run the
//! one-command demo and serve the monitor.

mod accounting_bench;
mod bench;
mod config;
mod logging;
mod schemacheck;

/// The simulator allocates many short-lived rows from two threads; glibc's arenas contend.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use config::Settings;
use pandamon_model::SimulatorReport;
use pandamon_sim::live::{Live, LiveConfig};
use pandamon_sim::{Progress, SimConfig};
use pandamon_store::schema::{self, InitOutcome};
use pandamon_store::{Db, Purpose};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "pandamon",
    version,
    about = "The PanDA monitor, rebuilt in Rust"
)]
struct Cli {
    /// Config file (default: ./pandamon.toml when present; env PANDAMON_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or check the PanDA schema in a database.
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
    },
    /// Fill a pandamon-created database with a simulated ATLAS-like workload.
    Simulate(SimulateArgs),
    /// Run the demo: an embedded SQLite database with a live simulated workload, served on 127.0.0.1:8080.
    Demo(DemoArgs),
    /// Serve the monitor for a PanDA database.
    Serve(ServeArgs),
    /// Measure the live index against SQL on a simulated workload (writes BENCHMARKS-style results).
    Bench(BenchArgs),
    /// List every module, whether the configuration switches it on, and its routes.
    Modules,
    /// Run the alert rules of [alerts], or list them with the alerts sent.
    Alerts {
        #[command(subcommand)]
        action: AlertsAction,
    },
    /// Build the job accounting rollups in pandamon's state.
    Accounting {
        #[command(subcommand)]
        action: AccountingAction,
    },
}

#[derive(Subcommand)]
enum AccountingAction {
    /// Roll up the completed jobs of every day from --from to --to (default: now), newest day
    /// first. An interrupted run resumes where it stopped; a second run rebuilds the same rows.
    Backfill {
        /// Database url (env PANDAMON_DB).
        #[arg(long)]
        db: Option<String>,
        /// First day, 2026-11-01 (UTC).
        #[arg(long)]
        from: String,
        /// Day after the last, 2026-12-01 (UTC); default: today included.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
enum AlertsAction {
    /// Run the rules: with --once every enabled rule now, whatever its schedule; without it,
    /// each on its schedule until interrupted (a runner without the web server).
    Run {
        /// Database url (env PANDAMON_DB).
        #[arg(long)]
        db: Option<String>,
        /// Run every rule now, once, and stop.
        #[arg(long)]
        once: bool,
        /// Print what would be sent and to whom; send and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this rule (stalled_staging, site_failure_spike, stuck_tasks).
        #[arg(long)]
        rule: Option<String>,
    },
    /// List the rules, their schedules and recipients, and (with a database) the alerts sent.
    List {
        /// Database url (env PANDAMON_DB); without one only the rules are listed.
        #[arg(long)]
        db: Option<String>,
    },
}

#[derive(Args)]
struct BenchArgs {
    /// Database url for the simulated workload (a database pandamon created, or an empty one).
    #[arg(long)]
    db: Option<String>,
    /// Jobs to simulate.
    #[arg(long, default_value_t = 1_000_000)]
    jobs: u64,
    /// Random seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Reuse the simulated workload already in the database instead of simulating again.
    #[arg(long)]
    keep: bool,
}

#[derive(Subcommand)]
enum SchemaAction {
    /// Create the PanDA tables the monitor reads (idempotent on a database pandamon created).
    Init {
        /// Database url: postgres://user@host/db, mysql://user@host/db or sqlite://path.
        #[arg(long)]
        db: Option<String>,
        /// Drop and recreate PanDA tables that pandamon did not create.
        #[arg(long)]
        force: bool,
    },
    /// List which tables and columns pandamon reads are present, missing or of another type,
    /// and which pages each gap affects. Reads the database's dictionary only; never writes.
    Check {
        /// Database url (env PANDAMON_DB).
        #[arg(long)]
        db: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct SimulateArgs {
    /// Database url (must have been created by `pandamon schema init`).
    #[arg(long)]
    db: Option<String>,
    /// Number of jobs that exist at the end of the simulated history.
    #[arg(long, default_value_t = 100_000)]
    jobs: u64,
    /// Random seed: the same seed gives the same workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Days of history ending now.
    #[arg(long, default_value_t = 3.0)]
    days: f64,
    /// End of the history as unix seconds (default: now). Pins the output for reproducibility.
    #[arg(long)]
    now: Option<i64>,
    /// Keep the workload moving in real time after writing the history.
    #[arg(long)]
    live: bool,
    /// New jobs per second in live mode.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
}

#[derive(Args)]
struct DemoArgs {
    /// SQLite file for the demo database (reused on the next run).
    #[arg(long, default_value = "pandamon-demo.db")]
    file: PathBuf,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Jobs in the demo history.
    #[arg(long, default_value_t = 200_000)]
    jobs: u64,
    /// Throw the existing demo database away and simulate a new one.
    #[arg(long)]
    fresh: bool,
    /// New jobs per second while the demo runs.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    #[command(flatten)]
    index: IndexArgs,
}

#[derive(Args)]
struct ServeArgs {
    /// Database url (env PANDAMON_DB).
    #[arg(long)]
    db: Option<String>,
    /// Address to listen on (env PANDAMON_LISTEN; default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    #[command(flatten)]
    index: IndexArgs,
}

#[derive(Args, Clone, Copy)]
struct IndexArgs {
    /// Answer from the database only, without the live in-memory job index.
    #[arg(long)]
    no_index: bool,
    /// Days of jobs the live index holds.
    #[arg(long, default_value_t = 7.0)]
    index_days: f64,
}

fn main() {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn init_tracing() {
    logging::init(config::env::LOG);
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let getenv = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match cli.command {
        Command::Schema {
            action: SchemaAction::Init { db, force },
        } => {
            let settings = config::load(cli.config.as_deref(), db.as_deref(), None, getenv)?;
            let db = connect(&settings, Purpose::Load).await?;
            let outcome = schema::init(&db, force).await?;
            match outcome {
                InitOutcome::Created => println!("created the PanDA schema in {}", db.display_url),
                InitOutcome::AlreadyOwned => {
                    println!("the PanDA schema in {} is up to date", db.display_url)
                }
                InitOutcome::Replaced { dropped } => println!(
                    "dropped {dropped} existing PanDA tables and created the schema in {}",
                    db.display_url
                ),
            }
            Ok(())
        }
        Command::Schema {
            action: SchemaAction::Check { db, json },
        } => {
            let settings = config::load(cli.config.as_deref(), db.as_deref(), None, getenv)?;
            let db = connect(&settings, Purpose::Serve).await?;
            let report = schemacheck::run(&db).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                schemacheck::print(&report);
            }
            db.close().await;
            if !report.serve_can_start {
                bail!("the database lacks job tables: serve would not start");
            }
            Ok(())
        }
        Command::Simulate(args) => {
            let settings = config::load(cli.config.as_deref(), args.db.as_deref(), None, getenv)?;
            let db = connect(&settings, Purpose::Load).await?;
            let now = args.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
            let config = SimConfig {
                jobs: args.jobs,
                seed: args.seed,
                days: args.days,
                now,
            };
            config.validate()?;
            let (summary, _) = pandamon_sim::simulate(&db, config, progress_bar()).await?;
            print_summary(&summary);
            if args.live {
                let report = Arc::new(RwLock::new(SimulatorReport::default()));
                let live = start_live(&db, args.rate, args.seed, report).await?;
                println!(
                    "live simulation running at {} jobs/s; press ctrl-c to stop",
                    args.rate
                );
                let (tx, rx) = tokio::sync::watch::channel(false);
                let task = tokio::spawn(live.run(rx));
                shutdown_signal().await;
                let _ = tx.send(true);
                let _ = task.await;
                println!("stopped");
            }
            Ok(())
        }
        Command::Demo(args) => demo(args).await,
        Command::Alerts { action } => alerts(cli.config.as_deref(), action, getenv).await,
        Command::Accounting { action } => accounting(cli.config.as_deref(), action, getenv).await,
        Command::Modules => {
            let settings = config::load(cli.config.as_deref(), None, None, getenv)?;
            print!("{}", modules_table(&settings));
            Ok(())
        }
        Command::Bench(args) => {
            let settings = config::load(cli.config.as_deref(), args.db.as_deref(), None, getenv)?;
            let db = connect(&settings, Purpose::Load).await?;
            let result = bench::run(db, args.jobs, args.seed, args.keep).await?;
            bench::print_table(&result);
            if let Some(path) = args.json {
                std::fs::write(&path, serde_json::to_string_pretty(&result)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        }
        Command::Serve(args) => {
            let settings = config::load(
                cli.config.as_deref(),
                args.db.as_deref(),
                args.listen.as_deref(),
                getenv,
            )?;
            let db = connect(&settings, Purpose::Serve).await?;
            let required: Vec<&str> = pandamon_model::JobTable::ALL
                .iter()
                .map(|t| t.name())
                .collect();
            schema::ensure_tables(&db, &required).await?;
            let listen = settings
                .listen
                .clone()
                .unwrap_or_else(|| "127.0.0.1:8080".into());
            serve(db, &settings, &listen, None, args.index).await
        }
    }
}

/// `pandamon alerts run|list`.
/// A day given as `2026-11-01`, as unix seconds.
fn parse_day(flag: &str, text: &str) -> anyhow::Result<i64> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp())
        .map_err(|_| anyhow::anyhow!("{flag} takes a day such as 2026-11-01, not '{text}'"))
}

async fn accounting(
    config: Option<&std::path::Path>,
    action: AccountingAction,
    getenv: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let AccountingAction::Backfill { db, from, to } = action;
    let from = parse_day("--from", &from)?;
    let to = match to {
        Some(t) => parse_day("--to", &t)?,
        None => chrono::Utc::now().timestamp(),
    };
    if to <= from {
        bail!("--to must be after --from");
    }
    let settings = config::load(config, db.as_deref(), None, getenv)?;
    let db = connect(&settings, Purpose::Load).await?;
    let store = pandamon_store::StateStore::open(&settings.state, &db)
        .await
        .context("cannot open pandamon's state store: check [state] in the config file or PANDAMON_STATE_DB")?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} days · {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let jobs = pandamon_accounting::rollup::backfill(&db, &store, from, to, |done, total, jobs| {
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(format!("{jobs} jobs"));
    })
    .await
    .context("the backfill stopped; run the same command again to resume")?;
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rolled up {jobs} completed jobs in {seconds:.1} s ({:.0} jobs/s)",
        jobs as f64 / seconds.max(0.001)
    );
    Ok(())
}

async fn alerts(
    config: Option<&std::path::Path>,
    action: AlertsAction,
    getenv: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    use pandamon_alerts::{Mailer, Rule};
    match action {
        AlertsAction::Run {
            db,
            once,
            dry_run,
            rule,
        } => {
            let settings = config::load(config, db.as_deref(), None, getenv)?;
            let rules: Vec<Rule> = match rule.as_deref() {
                None => Rule::ALL
                    .into_iter()
                    .filter(|r| r.enabled(&settings.alerts))
                    .collect(),
                Some(name) => match Rule::ALL.into_iter().find(|r| r.name() == name) {
                    Some(r) => vec![r],
                    None => bail!(
                        "unknown rule '{name}'; known rules: {}",
                        pandamon_alerts::config::RULES.join(", ")
                    ),
                },
            };
            if !once && dry_run {
                bail!("--dry-run needs --once");
            }
            let db = connect(&settings, Purpose::Serve).await?;
            let store = pandamon_store::StateStore::open(&settings.state, &db)
                .await
                .context("cannot open pandamon's state store: check [state] in the config file or PANDAMON_STATE_DB")?;
            let mailer = Mailer::new(&settings.alerts).map_err(anyhow::Error::msg)?;
            if !once {
                println!(
                    "running the alert rules on their schedules (mail server {}); press ctrl-c to stop",
                    mailer.server()
                );
                tokio::select! {
                    _ = pandamon_alerts::run_forever(db.clone(), store, settings.alerts.clone()) => {}
                    _ = shutdown_signal() => {}
                }
                return Ok(());
            }
            let now = chrono::Utc::now().naive_utc();
            let mut failed = false;
            for rule in rules {
                let report = pandamon_alerts::run_rule(
                    rule,
                    &db,
                    &store,
                    &settings.alerts,
                    &mailer,
                    now,
                    dry_run,
                )
                .await;
                println!(
                    "{}: {} found, {} already reported, {} being sent by another runner",
                    rule.name(),
                    report.findings,
                    report.suppressed,
                    report.busy
                );
                for m in &report.sent {
                    println!(
                        "  {} \"{}\" to {} ({})",
                        if dry_run { "would send" } else { "sent" },
                        m.title,
                        m.recipients.join(", "),
                        m.subjects.join(", ")
                    );
                }
                for e in &report.failed {
                    println!("  not delivered (stays due): {e}");
                    failed = true;
                }
                if let Some(e) = &report.error {
                    println!("  could not run: {e}");
                    failed = true;
                }
            }
            if failed {
                bail!("some alerts were not delivered or a rule could not run (see above)");
            }
            Ok(())
        }
        AlertsAction::List { db } => {
            let settings = config::load(config, db.as_deref(), None, getenv)?;
            let a = &settings.alerts;
            println!(
                "mail server {} · from {} · experts {} · repeat after {} days",
                pandamon_alerts::config::redact(&a.smtp),
                a.from,
                a.experts.join(", "),
                a.repeat_days
            );
            for rule in Rule::ALL {
                println!(
                    "{:<20} {:<4} {:<18} {}",
                    rule.name(),
                    if rule.enabled(a) { "on" } else { "off" },
                    rule.schedule(a).to_string(),
                    rule.describe(a)
                );
            }
            if settings.db_url.is_some() {
                let db = connect(&settings, Purpose::Serve).await?;
                let store = pandamon_store::StateStore::open(&settings.state, &db).await?;
                let records = store.recent_alerts(50).await?;
                println!("\n{} alerts in {}:", records.len(), store.location().place);
                for r in records {
                    println!(
                        "  {:<20} {:<28} {:<20} {}",
                        r.rule,
                        r.subject,
                        r.delivered_at
                            .map(|t| format!("sent {}", t.format("%Y-%m-%d %H:%M")))
                            .unwrap_or_else(|| "not delivered".to_string()),
                        r.last_error.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}

/// `pandamon modules`: every registered module, on or off, with its routes.
fn modules_table(settings: &Settings) -> String {
    let mut out = format!("profile {}\n", settings.profile.name);
    for m in pandamon_web::modules::REGISTRY {
        let on = settings.modules.contains(&m.name());
        out.push_str(&format!(
            "{:<12} {:<4} {}\n",
            m.name(),
            if on { "on" } else { "off" },
            m.description()
        ));
        for route in m.routes() {
            out.push_str(&format!("{:<17} {}\n", "", route.path));
        }
        for key in m.config_keys() {
            out.push_str(&format!(
                "{:<17} [modules.{}] {}: {}\n",
                "",
                m.name(),
                key.name,
                key.description
            ));
        }
    }
    out
}

async fn connect(settings: &Settings, purpose: Purpose) -> anyhow::Result<Db> {
    let url = settings.require_db()?;
    let timeout = (purpose == Purpose::Serve).then_some(settings.statement_timeout);
    Ok(Db::connect_limited(url, settings.schemas.clone(), purpose, timeout).await?)
}

async fn start_live(
    db: &Db,
    rate: f64,
    seed: u64,
    report: Arc<RwLock<SimulatorReport>>,
) -> anyhow::Result<Live> {
    let config = LiveConfig {
        rate,
        tick: Duration::from_secs(1),
        seed,
    };
    Ok(Live::start(db.clone(), config, report).await?)
}

async fn serve(
    db: Db,
    settings: &Settings,
    listen: &str,
    live: Option<pandamon_web::LiveHandle>,
    index: IndexArgs,
) -> anyhow::Result<()> {
    if !(index.index_days > 0.0 && index.index_days <= 60.0) {
        bail!("--index-days must be between 0 and 60");
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen}: is the address free? choose another with --listen")
        })?;
    let address = listener.local_addr()?;
    let store = pandamon_store::StateStore::open(&settings.state, &db)
        .await
        .context("cannot open pandamon's state store: check [state] in the config file or PANDAMON_STATE_DB")?;
    tracing::info!(place = %store.location().place, version = store.location().version, "pandamon state store open");
    let memory = settings.server_limits.memory;
    tracing::info!(
        ceiling_mb = memory.ceiling >> 20,
        cache_mb = memory.cache_bytes >> 20,
        computations = memory.computations,
        "memory for answering requests"
    );
    let mut state = pandamon_web::AppState::new(db.clone(), live)
        .with_settings(pandamon_web::Settings {
            labels: settings.profile.labels,
            module_config: settings.module_config.clone().into_iter().collect(),
            alerts: settings.alerts.clone(),
            server: settings.server_limits.clone(),
            ..Default::default()
        })
        .with_modules(pandamon_web::modules::select(&settings.modules).map_err(anyhow::Error::msg)?)
        .with_state(store.clone());
    if let Some(config) = settings.auth.clone() {
        if !settings.modules.contains(&"login") {
            tracing::warn!("[auth] is set but the login module is off: nobody can log in");
        }
        let issuer = config.issuer.clone().unwrap_or_default();
        let auth = pandamon_web::kit::auth::Auth::new(config, &store)
            .await
            .map_err(anyhow::Error::msg)?;
        tracing::info!(issuer = %issuer, "login through openid connect");
        state = state.with_auth(auth);
    }
    if let Err(e) = state.check_tables().await {
        tracing::warn!(error = %e, "cannot read which tables the database has");
    }
    let (stop_index, stopped) = tokio::sync::watch::channel(false);
    let mut syncer_task = None;
    if !index.no_index {
        let live_index = pandamon_live::sync::LiveIndex::new(index.index_days);
        let syncer = pandamon_live::sync::Syncer::new(db.clone(), live_index.clone());
        syncer_task = Some(tokio::spawn(syncer.run(Duration::from_secs(1), stopped)));
        state = state.with_index(live_index);
    }
    println!(
        "pandamon is serving {} at http://{address}/",
        db.display_url
    );
    pandamon_web::serve(listener, state, shutdown_signal()).await?;
    let _ = stop_index.send(true);
    if let Some(task) = syncer_task {
        let _ = task.await;
    }
    println!("stopped");
    Ok(())
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    if args.fresh && args.file.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", args.file.display()));
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
    }
    let url = format!("sqlite://{}", args.file.display());
    let getenv = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let settings = config::load(None, Some(&url), Some(&args.listen), getenv)?;
    let db = connect(&settings, Purpose::Load).await?;
    let existing = schema::existing_tables(&db).await?;
    let owned = schema::is_owned(&db).await?;
    if !existing.is_empty() && !owned {
        bail!(
            "{} holds PanDA tables pandamon did not create; choose another file with --file",
            args.file.display()
        );
    }
    let jobs = if owned { db.jobs_held().await? } else { 0 };
    const SEED: u64 = 2026;
    if jobs == 0 {
        println!("creating the demo database {}", args.file.display());
        schema::init(&db, false).await?;
        let config = SimConfig {
            jobs: args.jobs,
            seed: SEED,
            days: 3.0,
            now: chrono::Utc::now().timestamp(),
        };
        let (summary, _) = pandamon_sim::simulate(&db, config, progress_bar()).await?;
        print_summary(&summary);
    } else {
        println!(
            "reusing the demo database {} ({jobs} jobs; --fresh starts over)",
            args.file.display()
        );
    }
    let report = Arc::new(RwLock::new(SimulatorReport::default()));
    let live = start_live(&db, args.rate, SEED, report.clone()).await?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let live_task = tokio::spawn(live.run(rx));
    let result = serve(db, &settings, &args.listen, Some(report), args.index).await;
    let _ = tx.send(true);
    let _ = live_task.await;
    result
}

fn print_summary(summary: &pandamon_sim::SimSummary) {
    println!(
        "simulated {} jobs in {} tasks in {:.1} s",
        summary.jobs, summary.tasks, summary.seconds
    );
    let rows: u64 = summary.rows.values().sum();
    println!("wrote {rows} rows into {} tables", summary.rows.len());
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// A progress bar on a terminal, log lines otherwise (the bar or spinner, the total, the last
/// count logged).
struct Bar(Option<indicatif::ProgressBar>, u64, u64);

impl Progress for Bar {
    fn phase(&mut self, what: &'static str) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
        if std::io::stderr().is_terminal() {
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.set_message(what);
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            self.0 = Some(spinner);
        } else {
            tracing::info!(phase = what, "simulating");
        }
    }
    fn start(&mut self, total: u64) {
        if let Some(spinner) = self.0.take() {
            spinner.finish_and_clear();
        }
        self.1 = total;
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} simulating [{bar:40}] {pos}/{len} jobs {per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            self.0 = Some(bar);
        } else {
            tracing::info!(jobs = total, "simulating");
        }
    }
    fn advance(&mut self, done: u64) {
        match &self.0 {
            Some(bar) => bar.set_position(done),
            None if done.is_multiple_of(100_000) && done != self.2 => {
                self.2 = done;
                tracing::info!(done, total = self.1, "simulating")
            }
            None => {}
        }
    }
    fn finish(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

fn progress_bar() -> Box<dyn Progress> {
    Box::new(Bar(None, 0, 0))
}
