//! The accounting part of `pandamon bench`: an archive-only history of completed jobs (at
//! least 5 M in 30 days, only the job table rows the rollups read), the backfill's rate, a
//! 30-day and a 1-year series from the rollups against the same numbers straight from the job
//! tables, and how long a completed job takes to show in the rollups of a running server.

use anyhow::Context;
use chrono::Utc;
use pandamon_accounting::series::{SeriesQuery, series};
use pandamon_accounting::{Dimension, Metric, Topology, rollup};
use pandamon_sim::rng::Rng;
use pandamon_sim::world::World;
use pandamon_store::{Batch, Db, StateConfig, StateStore, Value, schema};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Completed jobs the history holds in its 30 days.
const HISTORY_JOBS: i64 = 5_000_000;
/// Where its pandaids start: far above the simulator's.
const FIRST_PANDAID: i64 = 900_000_000_000;
/// The marker saying the history is loaded (with its end), so `--keep` runs reuse it.
const META: &str = "bench_accounting_history";

#[derive(Debug, Serialize)]
pub struct AccountingBench {
    /// Completed jobs in the 30 days the series cover.
    pub accounting_jobs: i64,
    /// A 30-day series, 1-day bins, grouped by site, from the rollups.
    pub accounting_30d_p50_ms: f64,
    /// The same numbers (completed jobs per site and day) straight from the job tables.
    pub accounting_sql_30d_p50_ms: f64,
    /// A 1-year series, 1-day bins, grouped by site, from the rollups.
    pub accounting_1y_p50_ms: f64,
    /// From a job completing in the database to the server's rollups counting it.
    pub accounting_rollup_lag_s: f64,
    /// Completed jobs rolled up per second by the backfill.
    pub accounting_backfill_jobs_per_s: f64,
}

fn ts(t: i64) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// Writes `n` completed jobs ending in `[from, to)` into job table `table`, pandaids from
/// `first`.
async fn write_jobs(
    db: &Db,
    table: &'static str,
    first: i64,
    n: i64,
    (from, to): (i64, i64),
) -> anyhow::Result<()> {
    let world = World::build(&mut Rng::new(1).fork(1));
    let queues = &world.queues;
    let mut rng = Rng::new(0xACC0);
    let mut batch = Batch::new(table);
    let labels = [("managed", 0.8), ("user", 0.18), ("ptest", 0.02)];
    let ptypes = ["evgen", "simul", "reco", "deriv", "merge", "pile"];
    let shares = ["MC Simulation", "Data Derivations", "Analysis", "Express"];
    let started = Instant::now();
    for k in 0..n {
        let q = &queues[rng.index(queues.len())];
        let end = from + (to - from) * k / n + rng.range(0, 60);
        let wall = rng.range(600, 40_000);
        let cores = if rng.chance(0.6) { 8 } else { 1 };
        let roll = rng.f64();
        let status = match roll {
            r if r < 0.86 => "finished",
            r if r < 0.97 => "failed",
            r if r < 0.99 => "cancelled",
            _ => "closed",
        };
        let label = {
            let r = rng.f64();
            let mut acc = 0.0;
            labels
                .iter()
                .find(|(_, p)| {
                    acc += p;
                    r < acc
                })
                .map_or("managed", |(l, _)| l)
        };
        let mut row = batch.blank();
        let set = |row: &mut Vec<Value>, c: &str, v: Value| batch.set(row, c, v);
        set(&mut row, "pandaid", (first + k).into());
        set(&mut row, "jobstatus", status.into());
        set(&mut row, "creationtime", ts(end - wall - 3_600).into());
        set(&mut row, "modificationtime", ts(end).into());
        set(&mut row, "starttime", ts(end - wall).into());
        set(&mut row, "endtime", ts(end).into());
        set(&mut row, "computingsite", q.name.clone().into());
        set(&mut row, "cloud", q.cloud.into());
        set(&mut row, "prodsourcelabel", label.into());
        set(&mut row, "processingtype", (*rng.pick(&ptypes)).into());
        set(&mut row, "gshare", (*rng.pick(&shares)).into());
        set(
            &mut row,
            "resource_type",
            if cores > 1 { "MCORE" } else { "SCORE" }.into(),
        );
        set(&mut row, "corecount", cores.into());
        set(&mut row, "actualcorecount", cores.into());
        set(
            &mut row,
            "cpuconsumptiontime",
            (wall * cores * rng.range(50, 95) / 100).into(),
        );
        set(
            &mut row,
            "hs06",
            ((q.corepower * cores as f64) as i64).into(),
        );
        set(&mut row, "nevents", rng.range(100, 2_000).into());
        set(&mut row, "jeditaskid", (40_000_000 + k / 500).into());
        if status == "failed" {
            set(&mut row, "piloterrorcode", 1_099i64.into());
        }
        batch.push(row);
        if batch.len() >= 20_000 {
            db.load(&mut batch).await?;
            batch = Batch::new(table);
        }
        if (k + 1) % 1_000_000 == 0 && n >= 1_000_000 {
            println!(
                "  {} M history jobs written ({:.0} jobs/s)",
                (k + 1) / 1_000_000,
                (k + 1) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    db.load(&mut batch).await?;
    Ok(())
}

fn p50(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

async fn timed<F, Fut, T>(runs: usize, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await?;
        samples.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    Ok(p50(&mut samples))
}

/// The series of completed jobs per site in day bins over `[from, to)`.
fn by_site(from: i64, to: i64) -> SeriesQuery {
    SeriesQuery {
        metric: Metric::Jobs,
        groupby: Dimension::Site,
        bin: 86_400,
        from,
        to,
        filters: Vec::new(),
        top: None,
    }
}

pub async fn run(db: &Db) -> anyhow::Result<AccountingBench> {
    const DAY: i64 = 86_400;
    let now = Utc::now().timestamp();
    let today = rollup::ceil(now, DAY);
    // The history: 30 whole days ending today.
    let (from, to) = (today - 30 * DAY, now - 3_600);
    if schema::get_meta(db, META).await?.is_none() {
        println!("writing {HISTORY_JOBS} completed jobs of 30 days into the archive table");
        let started = Instant::now();
        write_jobs(db, "jobsarchived", FIRST_PANDAID, HISTORY_JOBS, (from, to)).await?;
        schema::set_meta(db, META, &to.to_string()).await?;
        println!(
            "history written in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    let store = StateStore::open(&StateConfig::default(), db)
        .await
        .context("opening pandamon's state")?;

    // The backfill of those 30 days (and today), from the start.
    rollup::forget_backfill(&store, from, today).await?;
    let started = Instant::now();
    let rolled = rollup::backfill(db, &store, from, today, |_, _, _| {}).await?;
    let backfill_rate = rolled as f64 / started.elapsed().as_secs_f64();
    println!(
        "backfill: {rolled} completed jobs in {:.1} s ({backfill_rate:.0} jobs/s)",
        started.elapsed().as_secs_f64()
    );

    let topology = Topology::default();
    let month = by_site(from, today);
    let jobs = series(&store, &topology, &month).await?.total as i64;
    let rollup_ms = timed(11, || async {
        Ok(series(&store, &topology, &month).await?)
    })
    .await?;
    let year = by_site(today - 365 * DAY, today);
    let year_ms = timed(11, || async { Ok(series(&store, &topology, &year).await?) }).await?;
    let sql_ms = timed(3, || async {
        Ok(db.completed_by_site_and_day(ts(from), ts(today)).await?)
    })
    .await?;
    println!(
        "accounting: {jobs} completed jobs in 30 days; 30 d by site p50 {rollup_ms:.1} ms (rollups), {sql_ms:.0} ms (sql); 1 y {year_ms:.1} ms"
    );

    // The lag: the server's keeper runs; jobs complete; how long until the rollups count them.
    let keeper = tokio::spawn(rollup::run_forever(db.clone(), store.clone(), 30));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut lags = Vec::new();
    for _ in 0..3 {
        let at = Utc::now().timestamp();
        // The jobs end within a minute of `at`: the window holds the 10-minute bins of that
        // minute (a bin's edge can fall in it).
        let (a, b) = (rollup::floor(at, 600), rollup::ceil(at + 61, 600));
        let window = SeriesQuery {
            bin: 600,
            ..by_site(a, b)
        };
        let before = series(&store, &topology, &window).await?.total as i64;
        let n = 1_000;
        // Jobs complete where PanDA puts them: the recent archive table.
        // Pandaids of their own in every round of every run (a `--keep` run keeps the last
        // run's jobs): rounds start seconds apart.
        let first = FIRST_PANDAID + HISTORY_JOBS + at.rem_euclid(10_000_000) * n;
        write_jobs(db, "jobsarchived4", first, n, (at, at + 1)).await?;
        let written = Instant::now();
        loop {
            let counted = series(&store, &topology, &window).await?.total as i64;
            if counted >= before + n {
                break;
            }
            if written.elapsed() > Duration::from_secs(300) {
                anyhow::bail!("the rollups did not count new jobs within 5 minutes");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        lags.push(written.elapsed().as_secs_f64());
        // The next round starts in another part of the update period.
        tokio::time::sleep(Duration::from_secs(7)).await;
    }
    keeper.abort();
    let lag = p50(&mut lags);
    println!("rollup lag p50 {lag:.1} s");

    Ok(AccountingBench {
        accounting_jobs: jobs,
        accounting_30d_p50_ms: round(rollup_ms),
        accounting_sql_30d_p50_ms: round(sql_ms),
        accounting_1y_p50_ms: round(year_ms),
        accounting_rollup_lag_s: round(lag),
        accounting_backfill_jobs_per_s: round(backfill_rate),
    })
}
