//! `pandamon bench`: loads a simulated workload and measures, in one run, the live index against
//! the same summary pushed down to SQL, the index's sync lag and memory, HTTP throughput of
//! `/jobs/?json`, a mix of distinct, uncached selections across the main pages, and the
//! accounting rollups (`accounting_bench.rs`). Timings belong here and in BENCHMARKS.md, never in tests.

use anyhow::{Context, bail};
use chrono::{Timelike, Utc};
use pandamon_live::sync::{LiveIndex, Syncer};
use pandamon_model::JobTable;
use pandamon_query::{Defaults, Selection, fields};
use pandamon_sim::SimConfig;
use pandamon_store::{Db, Value, schema};
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Serialize)]
pub struct BenchResult {
    pub jobs: u64,
    pub index_summary_p50_ms: f64,
    pub index_summary_p99_ms: f64,
    pub sql_summary_p50_ms: f64,
    pub speedup_p50: f64,
    pub sync_lag_p50_ms: f64,
    pub sync_lag_p99_ms: f64,
    pub index_bytes_per_job: f64,
    pub cold_load_rows_per_s: f64,
    pub http_rps: f64,
    pub http_p99_ms: f64,
    /// Harvester workers submitted in the last 24 hours (topped up to production density).
    pub harvester_workers: i64,
    /// The worker summary of those 24 hours (count, 7 facets, per hour and status) from the
    /// live worker index.
    pub harvester_summary_p50_ms: f64,
    /// The same facets as one SQL statement.
    pub harvester_sql_p50_ms: f64,
    pub worker_index_bytes_per_worker: f64,
    /// The Global Shares figures (HS06 and jobs of jobsactive4 by share, status, resource type,
    /// site and core count) from the index, and as SQL.
    pub globalshares_index_p50_ms: f64,
    pub globalshares_sql_p50_ms: f64,
    /// The share history: every job of the week spread over the hours it ran.
    pub globalshares_history_p50_ms: f64,
    /// A mix of distinct selections (64 clients, answer cache and per-client limit off): each
    /// request one of `/jobs/`, `/errors/`, `/dash/region/`, `/tasks/` narrowed by a random
    /// site, user or task, maybe a status, and a window of 1 to 72 hours. 2xx answers a second.
    pub mix_rps: f64,
    pub mix_p99_ms: f64,
    /// Answers other than 2xx in the mix (none expected).
    pub mix_errors: u64,
    /// `/errors/?json` and `/dash/region/?json` over the default 12 hours, uncached.
    pub errors_p50_ms: f64,
    pub region_p50_ms: f64,
    /// `/job/<id>/?json` and `/task/<id>/?json` for random jobs and tasks of the index,
    /// uncached.
    pub job_page_p50_ms: f64,
    pub task_page_p50_ms: f64,
    #[serde(flatten)]
    pub accounting: crate::accounting_bench::AccountingBench,
}

/// The values the mixed workload narrows by: sites, users and tasks of the indexed jobs.
struct MixValues {
    sites: Vec<String>,
    users: Vec<String>,
    tasks: Vec<i64>,
    /// Jobs spread over the whole window, for the job page.
    jobs: Vec<i64>,
}

impl MixValues {
    fn from_index(live: &LiveIndex, selection: &Selection) -> anyhow::Result<MixValues> {
        let index = live
            .index
            .read()
            .map_err(|_| anyhow::anyhow!("index lock poisoned"))?;
        let columns = ["computingsite", "produsername", "jeditaskid"];
        let mut per_column = index
            .facet_counts(selection, &JobTable::ALL, &columns)
            .into_iter();
        let mut texts = || -> Vec<String> {
            per_column
                .next()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(cell, _)| cell.as_text().map(str::to_string))
                .collect()
        };
        let (sites, users) = (texts(), texts());
        let tasks = per_column
            .next()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(cell, _)| match cell {
                pandamon_store::jobs::Cell::Int(id) => Some(id),
                _ => None,
            })
            .collect();
        let every = index.count(selection, &JobTable::ALL).max(1) as u64;
        let jobs = (0..101u64)
            .filter_map(|i| {
                let page = pandamon_live::Page {
                    column: "pandaid",
                    descending: false,
                    nulls_largest: true,
                    offset: (every * i / 101) as usize,
                    limit: 1,
                };
                index
                    .top(selection, &JobTable::ALL, &page)?
                    .first()
                    .map(|(id, _)| *id)
            })
            .collect();
        Ok(MixValues {
            sites,
            users,
            tasks,
            jobs,
        })
    }

    /// The `n`-th request of a client whose generator is `state`: a distinct selection.
    fn request(&self, state: &mut u64) -> String {
        let mut next = |n: usize| {
            // xorshift64: cheap and good enough to spread requests.
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state % n.max(1) as u64) as usize
        };
        let page = ["/jobs/", "/errors/", "/dash/region/", "/tasks/"][next(4)];
        let tasks_page = page == "/tasks/";
        let narrow = match next(3) {
            0 if !self.sites.is_empty() => {
                let site = &self.sites[next(self.sites.len())];
                if tasks_page {
                    format!("site={site}")
                } else {
                    format!("computingsite={site}")
                }
            }
            1 if !self.users.is_empty() => {
                let user = &self.users[next(self.users.len())];
                if tasks_page {
                    format!("username={user}")
                } else {
                    format!("produsername={user}")
                }
            }
            _ if !self.tasks.is_empty() => {
                format!("jeditaskid={}", self.tasks[next(self.tasks.len())])
            }
            _ => String::new(),
        };
        let status = match (next(2), tasks_page) {
            (0, _) => String::new(),
            (_, false) => {
                let s = ["finished", "failed", "running", "activated"][next(4)];
                format!("&jobstatus={s}")
            }
            (_, true) => {
                let s = ["running", "done", "failed", "finished"][next(4)];
                format!("&status={s}")
            }
        };
        let hours = 1 + next(72);
        format!(
            "{page}?json&{}{status}&hours={hours}",
            narrow.replace(' ', "%20")
        )
    }
}

/// `clients` connections asking for `next`'s addresses for `seconds`: 2xx answers a second, their
/// p99 in ms, and the count of other answers.
async fn mixed_load(
    address: std::net::SocketAddr,
    values: std::sync::Arc<MixValues>,
    clients: usize,
    seconds: u64,
) -> (f64, f64, u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let values = values.clone();
        tasks.push(tokio::spawn(async move {
            let mut state =
                0x9E37_79B9_7F4A_7C15 ^ (client as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let (mut latencies, mut errors) = (Vec::new(), 0);
            let mut slowest: Vec<(f64, String)> = Vec::new();
            while Instant::now() < deadline {
                let path = values.request(&mut state);
                let started = Instant::now();
                match fetch_status(address, &path).await {
                    Some(code) if (200..300).contains(&code) => {
                        let ms = started.elapsed().as_secs_f64() * 1_000.0;
                        latencies.push(ms);
                        slowest.push((ms, path));
                        slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
                        slowest.truncate(3);
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors, slowest)
        }));
    }
    let (mut all, mut errors, mut slowest) = (Vec::new(), 0, Vec::new());
    for t in tasks {
        if let Ok((l, e, s)) = t.await {
            all.extend(l);
            errors += e;
            slowest.extend(s);
        }
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (ms, path) in slowest.iter().take(8) {
        println!("  slow in the mix: {ms:.0} ms {path}");
    }
    let rps = all.len() as f64 / seconds as f64;
    (rps, percentile(&mut all, 99.0), errors)
}

/// One request over a fresh connection: the answer's status code, if one came.
async fn fetch_status(address: std::net::SocketAddr, path: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body).await.ok()?;
    std::str::from_utf8(body.get(9..12)?).ok()?.parse().ok()
}

/// A server on a free local port answering from `live`, with the per-client limit off (one
/// address sends every client's requests) and the memory budget given: its address, the sender
/// that stops it and its task.
async fn start_server(
    db: &Db,
    live: &LiveIndex,
    memory: Option<pandamon_web::kit::limits::MemoryBudget>,
) -> anyhow::Result<(
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let defaults = pandamon_web::kit::limits::ServerLimits::default();
    let state = pandamon_web::AppState::new(db.clone(), None)
        .with_settings(pandamon_web::Settings {
            server: pandamon_web::kit::limits::ServerLimits {
                per_client: 0,
                memory: memory.unwrap_or(defaults.memory),
                ..defaults
            },
            ..Default::default()
        })
        .with_index(live.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pandamon_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Ok((address, stop, server))
}

/// `path` over the last 12 hours asked `runs` times one after the other, each window ending a
/// second before the last (a selection of its own, so that nothing is reused from the run
/// before): the median time of a 2xx answer in ms.
async fn sequential_p50(
    address: std::net::SocketAddr,
    path: &str,
    runs: usize,
) -> anyhow::Result<f64> {
    let mut samples = Vec::new();
    let now = Utc::now();
    let format = "%Y-%m-%dT%H:%M:%S";
    for run in 0..runs {
        let to = now - chrono::Duration::seconds(run as i64);
        let from = to - chrono::Duration::hours(12);
        let path = format!(
            "{path}&date_from={}&date_to={}",
            from.format(format),
            to.format(format)
        );
        let started = Instant::now();
        match fetch_status(address, &path).await {
            Some(code) if (200..300).contains(&code) => {
                samples.push(started.elapsed().as_secs_f64() * 1_000.0)
            }
            other => bail!("{path} answered {other:?}"),
        }
    }
    Ok(percentile(&mut samples, 50.0))
}

/// The median time in ms of a 2xx answer to each of `paths`, asked one after the other.
async fn paths_p50(address: std::net::SocketAddr, paths: &[String]) -> anyhow::Result<f64> {
    let mut samples = Vec::new();
    for path in paths {
        let started = Instant::now();
        match fetch_status(address, path).await {
            Some(code) if (200..300).contains(&code) => {
                samples.push(started.elapsed().as_secs_f64() * 1_000.0)
            }
            other => bail!("{path} answered {other:?}"),
        }
    }
    Ok(percentile(&mut samples, 50.0))
}

/// Jobs modified in the last `hours`, with the window ending `back` seconds ago.
fn jobs_selection(hours: &str, back: i64) -> anyhow::Result<Selection> {
    Ok(Selection::parse(
        [("hours", hours)],
        Defaults {
            window_hours: 12,
            now: Utc::now().timestamp() - back,
            vocabulary: &fields::JOBS,
        },
    )?)
}

/// Workers a day in ATLAS: the density the Harvester summary is measured at.
const WORKERS_PER_DAY: i64 = 600_000;

/// Harvester workers submitted in the last 24 hours: the selection the bench summarises.
fn last_day_of_workers() -> anyhow::Result<Selection> {
    Ok(Selection::parse(
        [("hours", "24")],
        Defaults {
            window_hours: 24,
            now: Utc::now().timestamp(),
            vocabulary: &fields::WORKERS,
        },
    )?)
}

/// Tops the workers of the last day up to production density with a worker-only workload.
async fn top_up_workers(db: &Db, seed: u64) -> anyhow::Result<()> {
    let have = db
        .count_rows(&["harvester_workers"], &last_day_of_workers()?)
        .await?;
    if have < WORKERS_PER_DAY {
        // A little over, so that the day is still full when the measurements start.
        let missing = (WORKERS_PER_DAY - have) as u64 + 10_000;
        println!("adding {missing} workers without jobs to reach {WORKERS_PER_DAY} a day");
        pandamon_sim::workers::add_workers(db, missing, 23.5, Utc::now().timestamp(), seed).await?;
    }
    Ok(())
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The summary `/jobs/` shows: the count, every facet and the error groups.
fn index_summary(
    live: &LiveIndex,
    selection: &Selection,
    tables: &[JobTable],
) -> anyhow::Result<i64> {
    let index = live
        .index
        .read()
        .map_err(|_| anyhow::anyhow!("index lock poisoned"))?;
    if !index.supports(selection) {
        bail!("the benchmark selection does not fit the index window");
    }
    let facets: Vec<&str> = pandamon_web::modules::JOB_FACETS
        .iter()
        .map(|(_, c)| *c)
        .collect();
    let per_facet = index.facet_counts(selection, tables, &facets);
    let failing = selection.and_in("jobstatus", &["failed", "holding"]);
    let errors: Vec<&str> = pandamon_web::kit::joberrors::error_columns()
        .iter()
        .map(|(c, _)| *c)
        .collect();
    let error_groups = index.group(&failing, tables, &errors);
    Ok(per_facet.iter().map(Vec::len).sum::<usize>() as i64 + error_groups.len() as i64)
}

/// The same facet summary as one SQL statement (see `Db::facet_summary_in_sql`).
async fn sql_summary(db: &Db, selection: &Selection, tables: &[JobTable]) -> anyhow::Result<i64> {
    let columns: Vec<&str> = pandamon_web::modules::JOB_FACETS
        .iter()
        .map(|(_, c)| *c)
        .collect();
    let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
    Ok(db.facet_summary_in_sql(&names, &columns, selection).await?)
}

/// Milliseconds from an UPDATE's commit until the index shows it, for `rounds` jobs.
async fn sync_lag(db: &Db, live: &LiveIndex, rounds: usize) -> anyhow::Result<Vec<f64>> {
    let ids = db.running_pandaids(rounds as u64).await?;
    let mut lags = Vec::new();
    for pandaid in ids {
        let now = Value::Time(
            Utc::now()
                .naive_utc()
                .with_nanosecond(0)
                .unwrap_or_default(),
        );
        let update = db.update_statement(
            "jobsactive4",
            &[
                ("jobstatus", Value::from("holding")),
                ("modificationtime", now.clone()),
                ("statechangetime", now),
            ],
            &[("pandaid", Value::Int(pandaid))],
        );
        db.transaction(&[update]).await?;
        let committed = Instant::now();
        loop {
            let seen = live
                .index
                .read()
                .map(|i| i.status_of(pandaid) == Some("holding"))
                .unwrap_or(false);
            if seen {
                break;
            }
            if committed.elapsed() > Duration::from_secs(60) {
                bail!("job {pandaid} did not reach the index within a minute");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(committed.elapsed().as_secs_f64() * 1_000.0);
    }
    Ok(lags)
}

/// `/jobs/?json` with `clients` concurrent connections for `seconds`.
async fn http_load(address: std::net::SocketAddr, clients: usize, seconds: u64) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else { continue };
                let request = format!("GET /jobs/?json&display_limit=20 HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
                if stream.write_all(request.as_bytes()).await.is_err() {
                    continue;
                }
                let mut body = Vec::new();
                if stream.read_to_end(&mut body).await.is_ok() && body.starts_with(b"HTTP/1.1 200") {
                    latencies.push(started.elapsed().as_secs_f64() * 1_000.0);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        if let Ok(l) = t.await {
            all.extend(l);
        }
    }
    let rps = all.len() as f64 / seconds as f64;
    (rps, percentile(&mut all, 99.0))
}

pub async fn run(db: Db, jobs: u64, seed: u64, keep: bool) -> anyhow::Result<BenchResult> {
    if !schema::is_owned(&db).await? {
        if !schema::existing_tables(&db).await?.is_empty() {
            bail!(
                "the benchmark writes a simulated workload: give it a database of its own (this one holds PanDA tables pandamon did not create)"
            );
        }
        schema::init(&db, false).await?;
    }
    let held = db.jobs_held().await?;
    let simulated_jobs = if keep && held > 0 {
        println!("reusing the {held} jobs in the database");
        held as u64
    } else {
        println!("simulating {jobs} jobs");
        let config = SimConfig {
            jobs,
            seed,
            days: 3.0,
            now: Utc::now().timestamp(),
        };
        let (summary, _) =
            pandamon_sim::simulate(&db, config, Box::new(pandamon_sim::Silent)).await?;
        println!(
            "simulated {} jobs in {:.1} s",
            summary.jobs, summary.seconds
        );
        summary.jobs
    };

    top_up_workers(&db, seed).await?;

    let live = LiveIndex::new(7.0);
    let mut syncer = Syncer::new(db.clone(), live.clone());
    let cold_rate = syncer.load().await.context("loading the index")?;
    let bytes = live.index.read().map(|i| i.bytes_per_job()).unwrap_or(0.0);
    println!(
        "index loaded: {:.0} rows/s, {bytes:.0} bytes per job",
        cold_rate
    );

    // The /jobs/ summary over the whole simulated history (3 days, within the 7-day index).
    let selection = jobs_selection("72", 0)?;
    let tables = pandamon_web::kit::joberrors::job_tables(&selection);
    let mut index_ms = Vec::new();
    for run in 0..21 {
        // A window a second apart each run: the index remembers the rows of a selection it
        // has just matched, and each run must match its own.
        let selection = jobs_selection("72", run)?;
        let started = Instant::now();
        index_summary(&live, &selection, &tables)?;
        index_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    let mut sql_ms = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        sql_summary(&db, &selection, &tables).await?;
        sql_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    let index_p50 = percentile(&mut index_ms, 50.0);
    let index_p99 = percentile(&mut index_ms, 99.0);
    let sql_p50 = percentile(&mut sql_ms, 50.0);
    println!("summary: index p50 {index_p50:.1} ms, sql p50 {sql_p50:.1} ms");

    // The Harvester worker summary of the last day, index against SQL.
    let day = last_day_of_workers()?;
    let facets = pandamon_web::modules::WORKER_FACETS;
    let (harvester_workers, worker_bytes, mut worker_ms) = {
        let workers = live
            .workers
            .read()
            .map_err(|_| anyhow::anyhow!("worker index lock poisoned"))?;
        if !live.workers_loaded() || !workers.supports(&day) {
            bail!("the worker index does not hold the last day of workers");
        }
        let mut samples = Vec::new();
        let mut total = 0;
        for _ in 0..21 {
            let started = Instant::now();
            total = workers.summary(&day, facets).total;
            samples.push(started.elapsed().as_secs_f64() * 1_000.0);
        }
        (total, workers.bytes_per_worker(), samples)
    };
    let mut worker_sql_ms = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        db.facet_summary_in_sql(&["harvester_workers"], facets, &day)
            .await?;
        worker_sql_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    println!(
        "harvester: {harvester_workers} workers in 24 h, summary p50 {:.1} ms (index), {:.1} ms (sql), {worker_bytes:.0} bytes per worker",
        percentile(&mut worker_ms, 50.0),
        percentile(&mut worker_sql_ms, 50.0)
    );

    // Global Shares: the grouped HS06 sums of the active jobs, and the week's history.
    let week = jobs_selection("168", 0)?;
    let gs_columns = [
        "gshare",
        "jobstatus",
        "resource_type",
        "computingsite",
        "corecount",
    ];
    let (mut gs_ms, mut history_ms) = (Vec::new(), Vec::new());
    {
        let index = live
            .index
            .read()
            .map_err(|_| anyhow::anyhow!("index lock poisoned"))?;
        let now = Utc::now().timestamp();
        let span = pandamon_live::Span {
            from: now - 7 * 86_400,
            bin: 3_600,
            bins: 7 * 24,
            now,
        };
        for run in 0..11 {
            let week = jobs_selection("168", run)?;
            let started = Instant::now();
            index.group_sums(&week, &[JobTable::Active], &gs_columns, &["hs06"]);
            gs_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
            let started = Instant::now();
            index.occupancy(&week, &JobTable::ALL, "gshare", "hs06", span);
            history_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
        }
    }
    let typed: Vec<(&str, pandamon_store::catalog::ColType)> = gs_columns
        .iter()
        .map(|c| (*c, pandamon_live::loaded_type(c)))
        .collect();
    let mut gs_sql_ms = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        db.group_sums(&["jobsactive4"], &typed, &["hs06"], &week)
            .await?;
        gs_sql_ms.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    println!(
        "global shares: p50 {:.1} ms (index), {:.1} ms (sql), history {:.1} ms",
        percentile(&mut gs_ms, 50.0),
        percentile(&mut gs_sql_ms, 50.0),
        percentile(&mut history_ms, 50.0)
    );

    // Sync lag with the poller running as `serve` runs it.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(syncer.run(Duration::from_secs(1), stopped));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut lags = sync_lag(&db, &live, 20).await?;
    println!("sync lag p50 {:.0} ms", percentile(&mut lags, 50.0));

    // HTTP with the index, 64 clients.
    let (address, stop_http, server) = start_server(&db, &live, None).await?;
    let (rps, http_p99) = http_load(address, 64, 15).await;
    let _ = stop_http.send(());
    let _ = server.await;
    println!("http: {rps:.0} requests/s, p99 {http_p99:.0} ms");

    // Distinct selections: the answer cache keeps nothing.
    let no_cache = pandamon_web::kit::limits::MemoryBudget::new(1 << 30, Some(0));
    let (address, stop_http, server) = start_server(&db, &live, Some(no_cache)).await?;
    let errors_p50 = sequential_p50(address, "/errors/?json", 11).await?;
    let region_p50 = sequential_p50(address, "/dash/region/?json", 11).await?;
    println!(
        "uncached 12 h: /errors/ p50 {errors_p50:.1} ms, /dash/region/ p50 {region_p50:.1} ms"
    );
    let values = std::sync::Arc::new(MixValues::from_index(&live, &selection)?);
    let job_paths: Vec<String> = values
        .jobs
        .iter()
        .map(|id| format!("/job/{id}/?json"))
        .collect();
    let task_paths: Vec<String> = values
        .tasks
        .iter()
        .step_by((values.tasks.len() / 101).max(1))
        .take(101)
        .map(|id| format!("/task/{id}/?json"))
        .collect();
    let job_page_p50 = paths_p50(address, &job_paths).await?;
    let task_page_p50 = paths_p50(address, &task_paths).await?;
    println!(
        "uncached pages: /job/<id>/ p50 {job_page_p50:.1} ms, /task/<id>/ p50 {task_page_p50:.1} ms"
    );
    let (mix_rps, mix_p99, mix_errors) = mixed_load(address, values, 64, 20).await;
    println!("mix: {mix_rps:.0} requests/s, p99 {mix_p99:.0} ms, {mix_errors} not 2xx");
    let _ = stop_http.send(());
    let _ = server.await;
    let _ = stop.send(true);
    let _ = poller.await;

    let accounting = crate::accounting_bench::run(&db).await?;

    Ok(BenchResult {
        jobs: simulated_jobs,
        index_summary_p50_ms: round(index_p50),
        index_summary_p99_ms: round(index_p99),
        sql_summary_p50_ms: round(sql_p50),
        speedup_p50: round(sql_p50 / index_p50.max(1e-6)),
        sync_lag_p50_ms: round(percentile(&mut lags, 50.0)),
        sync_lag_p99_ms: round(percentile(&mut lags, 99.0)),
        index_bytes_per_job: round(bytes),
        cold_load_rows_per_s: round(cold_rate),
        http_rps: round(rps),
        http_p99_ms: round(http_p99),
        harvester_workers,
        harvester_summary_p50_ms: round(percentile(&mut worker_ms, 50.0)),
        harvester_sql_p50_ms: round(percentile(&mut worker_sql_ms, 50.0)),
        worker_index_bytes_per_worker: round(worker_bytes),
        globalshares_index_p50_ms: round(percentile(&mut gs_ms, 50.0)),
        globalshares_sql_p50_ms: round(percentile(&mut gs_sql_ms, 50.0)),
        globalshares_history_p50_ms: round(percentile(&mut history_ms, 50.0)),
        mix_rps: round(mix_rps),
        mix_p99_ms: round(mix_p99),
        mix_errors,
        errors_p50_ms: round(errors_p50),
        region_p50_ms: round(region_p50),
        job_page_p50_ms: round(job_page_p50),
        task_page_p50_ms: round(task_page_p50),
        accounting,
    })
}

pub fn print_table(result: &BenchResult) {
    let value = serde_json::to_value(result).unwrap_or_default();
    if let Some(map) = value.as_object() {
        let width = map.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in map {
            println!("{k:width$}  {v}");
        }
    }
}
