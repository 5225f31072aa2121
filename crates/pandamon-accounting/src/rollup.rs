//! Building the rollups from the job tables.
//!
//! A range of 10-minute bins is recomputed from every completed job (finished, failed,
//! cancelled, closed) that ended in it, wherever the job is now (active, archived or the archive
//! schema; a job found twice counts once, its latest copy), and replaces what was stored for
//! the range; the hours and days around it are then recomputed from the finer bins. Counting
//! by end time, a job that crosses a bin edge counts in the bin it ended in; each retry is a
//! job of its own.

use crate::{RESOLUTIONS, RollupStore, snapshots, transfers};
use pandamon_model::{FIRST_ERROR_ORDER, JobTable, error_category_name};
use pandamon_store::accounting::{GENERATION, JOB_ROLLUPS, ROLLUP_DIMS, ROLLUP_METRICS, RollupRow};
use pandamon_store::catalog::ColType;
use pandamon_store::scan::{Field, TimeRange};
use pandamon_store::{Db, Result, StateStore};
use std::collections::{BTreeSet, HashMap};

/// The job statuses of completed jobs.
pub const COMPLETED: [&str; 4] = ["finished", "failed", "cancelled", "closed"];

/// The tables a completed job can be in.
const TABLES: [JobTable; 3] = [JobTable::Active, JobTable::Archived, JobTable::Archive];

/// A rollup row's dimension values and sums.
pub(crate) type Dims = [String; ROLLUP_DIMS.len()];
pub(crate) type Sums = [i64; ROLLUP_METRICS.len()];

/// The job columns read, in the order [`Job::read`] expects them.
pub(crate) const COLUMNS: [(&str, ColType); 30] = [
    ("pandaid", ColType::BigInt),
    ("modificationtime", ColType::Timestamp),
    ("endtime", ColType::Timestamp),
    ("starttime", ColType::Timestamp),
    ("jobstatus", ColType::Text),
    ("computingsite", ColType::Text),
    ("cloud", ColType::Text),
    ("resource_type", ColType::Text),
    ("prodsourcelabel", ColType::Text),
    ("processingtype", ColType::Text),
    ("gshare", ColType::Text),
    ("workinggroup", ColType::Text),
    ("inputfiletype", ColType::Text),
    ("actualcorecount", ColType::BigInt),
    ("corecount", ColType::BigInt),
    ("cpuconsumptiontime", ColType::BigInt),
    ("hs06sec", ColType::BigInt),
    ("hs06", ColType::BigInt),
    ("nevents", ColType::BigInt),
    ("inputfilebytes", ColType::BigInt),
    ("outputfilebytes", ColType::BigInt),
    // The error codes, in FIRST_ERROR_ORDER (checked by a test).
    ("piloterrorcode", ColType::BigInt),
    ("exeerrorcode", ColType::BigInt),
    ("transexitcode", ColType::Text),
    ("ddmerrorcode", ColType::BigInt),
    ("jobdispatchererrorcode", ColType::BigInt),
    ("taskbuffererrorcode", ColType::BigInt),
    ("superrorcode", ColType::BigInt),
    ("brokerageerrorcode", ColType::BigInt),
    ("jeditaskid", ColType::BigInt),
];
/// Where the error codes start in [`COLUMNS`].
const FIRST_CODE: usize = 21;

/// The category of each described error, by (component, code).
pub type Categories = HashMap<(String, i64), i64>;

/// Reads the error categories of `error_descriptions` (none when the table is missing).
pub async fn categories(db: &Db) -> Categories {
    match db.error_descriptions().await {
        Ok(described) => described
            .into_iter()
            .map(|d| ((d.component, d.code), d.category))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "error categories unavailable: jobs counted as uncategorized");
            Categories::new()
        }
    }
}

/// One completed job as the rollups count it.
#[derive(Debug, Clone)]
struct Job {
    modified: i64,
    end: i64,
    /// Its JEDI task, whose campaign fills the last dimension.
    task: Option<i64>,
    dims: Dims,
    metrics: Sums,
}

pub(crate) fn int(f: &Field<'_>) -> Option<i64> {
    match f {
        Field::Int(v) => Some(*v),
        Field::Text(t) => t.trim().parse::<f64>().ok().map(|v| v as i64),
        _ => None,
    }
}

pub(crate) fn time(f: &Field<'_>) -> Option<i64> {
    match f {
        Field::Time(t) => Some(*t),
        _ => None,
    }
}

pub(crate) fn text(f: &Field<'_>) -> String {
    match f {
        Field::Text(t) => t.trim().to_string(),
        Field::Int(v) => v.to_string(),
        _ => String::new(),
    }
}

/// A job row's dimension values (the campaign filled in later, from its task).
pub(crate) fn dims(f: &[Field<'_>], status: String, category: String) -> Dims {
    [
        text(&f[5]),
        text(&f[6]),
        text(&f[7]),
        text(&f[8]),
        text(&f[9]),
        text(&f[10]),
        text(&f[11]),
        text(&f[12]),
        status,
        category,
        String::new(),
    ]
}

/// Fills the last dimension of each `(task, dims)` with the task's campaign.
pub(crate) async fn fill_campaigns<'a>(
    db: &Db,
    jobs: impl Iterator<Item = (Option<i64>, &'a mut Dims)>,
) -> Result<()> {
    let jobs: Vec<(Option<i64>, &mut Dims)> = jobs.collect();
    let mut tasks: Vec<i64> = jobs.iter().filter_map(|(t, _)| *t).collect();
    tasks.sort_unstable();
    tasks.dedup();
    let campaigns = db.task_campaigns(&tasks).await?;
    let campaign = ROLLUP_DIMS.len() - 1;
    for (task, dims) in jobs {
        if let Some(c) = task.and_then(|t| campaigns.get(&t)) {
            dims[campaign] = c.clone();
        }
    }
    Ok(())
}

impl Job {
    /// A completed job from a scanned row; `None` for a job that is not completed or has no
    /// end time.
    fn read(f: &[Field<'_>], categories: &Categories) -> Option<(i64, Job)> {
        let pandaid = int(&f[0])?;
        let status = text(&f[4]);
        if !COMPLETED.contains(&status.as_str()) {
            return None;
        }
        let end = time(&f[2])?;
        let modified = time(&f[1]).unwrap_or(end);
        let wall = time(&f[3]).map_or(0, |start| (end - start).max(0));
        let declared = int(&f[13]).or(int(&f[14])).filter(|&c| c > 0);
        let cores = declared.unwrap_or(1);
        // HS06: PanDA's own HS06-seconds when set, else the power of the job's cores over its
        // wall time; unknown when neither is known.
        let (hs06_s, unknown_power) = match (int(&f[16]).filter(|&v| v > 0), int(&f[17])) {
            (Some(sec), _) => (sec, 0),
            (None, Some(power)) if power > 0 => (power * wall, 0),
            _ => (0, 1),
        };
        let category = if status == "finished" {
            String::new()
        } else {
            let first =
                FIRST_ERROR_ORDER
                    .iter()
                    .zip(&f[FIRST_CODE..])
                    .find_map(|(component, code)| {
                        int(code)
                            .filter(|&c| c > 0)
                            .map(|c| (component.name().to_string(), c))
                    });
            match first {
                Some(key) => {
                    error_category_name(categories.get(&key).copied().unwrap_or(0)).to_string()
                }
                None => "No error code".to_string(),
            }
        };
        let dims = dims(f, status, category);
        let metrics = [
            1,
            cores,
            i64::from(declared.is_none()),
            wall * cores,
            int(&f[15]).unwrap_or(0).max(0),
            hs06_s,
            unknown_power,
            int(&f[18]).unwrap_or(0).max(0),
            int(&f[19]).unwrap_or(0).max(0),
            int(&f[20]).unwrap_or(0).max(0),
        ];
        Some((
            pandaid,
            Job {
                modified,
                end,
                task: int(&f[29]).filter(|&t| t > 0),
                dims,
                metrics,
            },
        ))
    }
}

/// Every completed job that ended in `[from, to)`, by pandaid (its latest copy).
async fn completed_jobs(
    db: &Db,
    categories: &Categories,
    from: i64,
    to: i64,
) -> Result<HashMap<i64, Job>> {
    let mut jobs: HashMap<i64, Job> = HashMap::new();
    // A job is modified when it ends: the modification time bounds the scan by an indexed
    // column, the end time selects the jobs.
    let ranges = [
        TimeRange {
            column: "modificationtime",
            from,
            to: None,
        },
        TimeRange {
            column: "endtime",
            from,
            to: Some(to),
        },
    ];
    for table in TABLES {
        db.scan(table.name(), &COLUMNS, &ranges, None, |f| {
            if let Some((pandaid, job)) = Job::read(f, categories) {
                match jobs.get(&pandaid) {
                    Some(seen) if seen.modified >= job.modified => {}
                    _ => {
                        jobs.insert(pandaid, job);
                    }
                }
            }
        })
        .await?;
    }
    // Each job's campaign is its task's.
    fill_campaigns(db, jobs.values_mut().map(|j| (j.task, &mut j.dims))).await?;
    Ok(jobs)
}

/// Sums rows (or jobs) into bins of `resolution`.
pub(crate) fn sum_into(
    out: &mut HashMap<(i64, Dims), Sums>,
    resolution: i64,
    at: i64,
    dims: &Dims,
    metrics: &Sums,
) {
    let bin = at - at.rem_euclid(resolution);
    let sums = out
        .entry((bin, dims.clone()))
        .or_insert([0; ROLLUP_METRICS.len()]);
    for (s, m) in sums.iter_mut().zip(metrics) {
        *s += m;
    }
}

pub(crate) fn rows_of(resolution: i64, sums: HashMap<(i64, Dims), Sums>) -> Vec<RollupRow> {
    let mut rows: Vec<RollupRow> = sums
        .into_iter()
        .map(|((bin, dims), metrics)| RollupRow {
            resolution,
            bin,
            dims,
            metrics,
        })
        .collect();
    rows.sort_by(|a, b| (a.bin, &a.dims).cmp(&(b.bin, &b.dims)));
    rows
}

/// `t` rounded down to a multiple of `step`.
pub fn floor(t: i64, step: i64) -> i64 {
    t - t.rem_euclid(step)
}

/// `t` rounded up to a multiple of `step`.
pub fn ceil(t: i64, step: i64) -> i64 {
    floor(t + step - 1, step)
}

/// Recomputes the rollups of the completed jobs that ended in `[from, to)` (widened to whole
/// 10-minute bins), and the hours and days that hold them. Returns how many jobs were counted.
pub async fn rebuild(
    db: &Db,
    store: &impl RollupStore,
    categories: &Categories,
    from: i64,
    to: i64,
) -> Result<u64> {
    let [fine, hour, day] = RESOLUTIONS;
    let (from, to) = (floor(from, fine), ceil(to, fine));
    let jobs = completed_jobs(db, categories, from, to).await?;
    let mut sums = HashMap::new();
    for job in jobs.values() {
        sum_into(&mut sums, fine, job.end, &job.dims, &job.metrics);
    }
    store
        .replace(&JOB_ROLLUPS, fine, from, to, &rows_of(fine, sums))
        .await?;
    // Coarser bins from the finer ones around the range.
    for (coarse, finer) in [(hour, fine), (day, hour)] {
        let (a, b) = (floor(from, coarse), ceil(to, coarse));
        let mut sums = HashMap::new();
        for row in store.rows(&JOB_ROLLUPS, finer, a, b).await? {
            sum_into(&mut sums, coarse, row.bin, &row.dims, &row.metrics);
        }
        store
            .replace(&JOB_ROLLUPS, coarse, a, b, &rows_of(coarse, sums))
            .await?;
    }
    Ok(jobs.len() as u64)
}

/// The 10-minute bins the completed jobs modified since `since` ended in, and the latest
/// modification time seen (the next watermark).
pub async fn touched_bins(db: &Db, since: i64) -> Result<(BTreeSet<i64>, Option<i64>)> {
    let columns = [
        ("modificationtime", ColType::Timestamp),
        ("endtime", ColType::Timestamp),
        ("jobstatus", ColType::Text),
    ];
    let ranges = [TimeRange {
        column: "modificationtime",
        from: since,
        to: None,
    }];
    let mut bins = BTreeSet::new();
    let mut latest = None;
    for table in [JobTable::Active, JobTable::Archived] {
        db.scan(table.name(), &columns, &ranges, None, |f| {
            if let Some(m) = time(&f[0]) {
                latest = latest.max(Some(m));
            }
            if let (Some(end), true) = (time(&f[1]), COMPLETED.contains(&text(&f[2]).as_str())) {
                bins.insert(floor(end, RESOLUTIONS[0]));
            }
        })
        .await?;
    }
    Ok((bins, latest))
}

/// Runs of consecutive bins, as `[from, to)` ranges.
pub fn runs(bins: &BTreeSet<i64>, step: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &b in bins {
        match out.last_mut() {
            Some((_, to)) if *to == b => *to = b + step,
            _ => out.push((b, b + step)),
        }
    }
    out
}

/// Brings the rollups up to date with the jobs modified since `watermark`: the bins those
/// jobs ended in are recomputed. Returns the next watermark (a little before the latest
/// modification seen, so that rows committed late are not missed) and the jobs counted.
pub async fn update(
    db: &Db,
    store: &impl RollupStore,
    categories: &Categories,
    watermark: i64,
) -> Result<(i64, u64)> {
    const OVERLAP: i64 = 10;
    let (bins, latest) = touched_bins(db, watermark - OVERLAP).await?;
    let mut counted = 0;
    for (from, to) in runs(&bins, RESOLUTIONS[0]) {
        counted += rebuild(db, store, categories, from, to).await?;
    }
    Ok((latest.unwrap_or(watermark).max(watermark), counted))
}

/// The module name under which progress is kept in the state store's values.
const PROGRESS_MODULE: &str = "accounting";

/// Rebuilds the rollups (the jobs' and the transfers') of every day in `[from, to)` (widened
/// to whole days), one day at a time, newest first. Each finished day is recorded in the state store, so a run that stops
/// resumes after the last day it finished; running it again over finished days rebuilds them
/// to the same rows. `progress` hears (days done, days in all, jobs counted so far).
pub async fn backfill(
    db: &Db,
    store: &StateStore,
    from: i64,
    to: i64,
    mut progress: impl FnMut(u64, u64, u64),
) -> Result<u64> {
    let day = RESOLUTIONS[2];
    let (from, to) = (floor(from, day), ceil(to, day));
    let key = format!("backfill {from} {to}");
    let total = ((to - from) / day) as u64;
    // Resume below the oldest day a previous run of the same range finished.
    let mut next = match store.get(PROGRESS_MODULE, &key).await? {
        Some(done) => done.parse::<i64>().unwrap_or(to).clamp(from, to),
        None => to,
    };
    let categories = categories(db).await;
    let sites = transfers::rse_sites(db).await;
    let with_transfers = transfers::available(db).await;
    let now = unix_now();
    let mut jobs = 0;
    progress(((to - next) / day) as u64, total, jobs);
    while next > from {
        let start = next - day;
        jobs += rebuild(db, store, &categories, start, next).await?;
        if with_transfers {
            transfers::rebuild(db, store, &sites, start, next, now).await?;
        }
        next = start;
        store
            .put(PROGRESS_MODULE, &key, Some(&next.to_string()))
            .await?;
        // Servers holding day rollups in memory read them again.
        let (module, name) = GENERATION;
        store
            .put(module, name, Some(&format!("{key} {next}")))
            .await?;
        progress(((to - next) / day) as u64, total, jobs);
    }
    store.put(PROGRESS_MODULE, &key, None).await?;
    Ok(jobs)
}

/// Forgets how far an interrupted backfill of `[from, to)` came: the next one starts over.
pub async fn forget_backfill(store: &StateStore, from: i64, to: i64) -> Result<()> {
    let day = RESOLUTIONS[2];
    let key = format!("backfill {} {}", floor(from, day), ceil(to, day));
    store.put(PROGRESS_MODULE, &key, None).await
}

/// The update watermark kept in the state store (unix seconds), if any.
pub async fn watermark(store: &StateStore) -> Result<Option<i64>> {
    Ok(store
        .get(PROGRESS_MODULE, "watermark")
        .await?
        .and_then(|v| v.parse().ok()))
}

/// Records the update watermark.
pub async fn set_watermark(store: &StateStore, at: i64) -> Result<()> {
    store
        .put(PROGRESS_MODULE, "watermark", Some(&at.to_string()))
        .await
}

/// The server's own backfill while it runs: the days `[from, to)` it rebuilds and the start
/// of the oldest day finished so far (`to` before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillProgress {
    pub from: i64,
    pub to: i64,
    pub done_from: i64,
}

const SERVING: &str = "serving backfill";

/// How far the server's own backfill has come, while it runs.
pub async fn serve_backfill(store: &StateStore) -> Result<Option<BackfillProgress>> {
    let Some(range) = store.get(PROGRESS_MODULE, SERVING).await? else {
        return Ok(None);
    };
    let Some((from, to)) = range
        .split_once(' ')
        .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
    else {
        return Ok(None);
    };
    let done_from = store
        .get(PROGRESS_MODULE, &format!("backfill {from} {to}"))
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(to);
    Ok(Some(BackfillProgress {
        from,
        to,
        done_from,
    }))
}

/// How often the server brings the rollups up to date.
pub const UPDATE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The server's rollup keeper: when no rollups exist yet (or a backfill of its own did not
/// finish), backfills the last `backfill_days` days, newest first, its progress readable
/// through [`serve_backfill`]; then, every [`UPDATE_EVERY`], recomputes the bins of the jobs
/// modified since the last round. Failures are logged and retried on the next round.
pub async fn run_forever(db: Db, store: StateStore, backfill_days: i64) {
    let mut mark = match watermark(&store).await {
        Ok(Some(mark)) => mark,
        _ => unix_now(),
    };
    let pending = serve_backfill(&store).await.ok().flatten();
    let empty = matches!(
        store.rollup_extent(&JOB_ROLLUPS, RESOLUTIONS[0]).await,
        Ok(None)
    );
    if pending.is_some() || empty {
        let day = RESOLUTIONS[2];
        let (from, to) = match pending {
            Some(p) => (p.from, p.to),
            None => {
                let now = unix_now();
                (floor(now - backfill_days * day, day), ceil(now, day))
            }
        };
        let _ = store
            .put(PROGRESS_MODULE, SERVING, Some(&format!("{from} {to}")))
            .await;
        tracing::info!(days = (to - from) / day, "accounting backfill starting");
        let started = std::time::Instant::now();
        match backfill(&db, &store, from, to, |_, _, _| {}).await {
            Ok(jobs) => {
                let _ = store.put(PROGRESS_MODULE, SERVING, None).await;
                tracing::info!(
                    jobs,
                    seconds = started.elapsed().as_secs(),
                    "accounting backfill done"
                );
            }
            Err(e) => tracing::warn!(
                error = %e,
                "accounting backfill stopped; it resumes at the next start"
            ),
        }
    }
    // The last month's days held in memory before the first page asks for them.
    let day = RESOLUTIONS[2];
    let today = ceil(unix_now(), day);
    match store
        .day_rollups(today - 31 * day, today, |days| days.days())
        .await
    {
        Ok(days) => tracing::info!(days, "accounting day rollups held in memory"),
        Err(e) => {
            tracing::warn!(error = %e, "accounting day rollups not loaded; loaded on first use")
        }
    }
    let mut categories = categories(&db).await;
    let mut sites = transfers::rse_sites(&db).await;
    let with_transfers = transfers::available(&db).await;
    // Transfer events arrive in order of their end: each round recounts from a little before
    // the previous round.
    let mut transfers_from = mark;
    let mut rounds = 0u64;
    let mut snapshot_at = None;
    loop {
        rounds += 1;
        let now = unix_now();
        // A snapshot of the running and pending jobs in every 10 minutes.
        if snapshot_at != Some(floor(now, RESOLUTIONS[0])) {
            match snapshots::take(&db, &store, now).await {
                Ok(_) => snapshot_at = Some(floor(now, RESOLUTIONS[0])),
                Err(e) => tracing::warn!(error = %e, "job snapshot failed; retried next round"),
            }
        }
        if rounds.is_multiple_of(120) {
            if let Err(e) = snapshots::prune(&store, now).await {
                tracing::warn!(error = %e, "old job snapshots not pruned");
            }
            categories = self::categories(&db).await;
            sites = transfers::rse_sites(&db).await;
            if let Err(e) = transfers::prune(&store, now).await {
                tracing::warn!(error = %e, "old transfer minute bins not pruned");
            }
        }
        if with_transfers {
            match transfers::rebuild(&db, &store, &sites, transfers_from - 300, now + 60, now).await
            {
                Ok(_) => transfers_from = now,
                Err(e) => {
                    tracing::warn!(error = %e, "transfer rollup update failed; retried next round")
                }
            }
        }
        match update(&db, &store, &categories, mark).await {
            Ok((next, _)) => {
                mark = next;
                if let Err(e) = set_watermark(&store, mark).await {
                    tracing::warn!(error = %e, "accounting watermark not saved");
                }
            }
            Err(e) => tracing::warn!(error = %e, "accounting update failed; retried next round"),
        }
        tokio::time::sleep(UPDATE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_in_first_error_order() {
        let codes: Vec<&str> = COLUMNS[FIRST_CODE..FIRST_CODE + FIRST_ERROR_ORDER.len()]
            .iter()
            .map(|(c, _)| *c)
            .collect();
        let order: Vec<&str> = FIRST_ERROR_ORDER.iter().map(|c| c.code_column()).collect();
        assert_eq!(codes, order);
    }

    #[test]
    fn runs_join_consecutive_bins() {
        let bins: BTreeSet<i64> = [0, 600, 1_200, 3_000, 6_000, 6_600].into();
        assert_eq!(
            runs(&bins, 600),
            vec![(0, 1_800), (3_000, 3_600), (6_000, 7_200)]
        );
        assert_eq!(floor(-1, 600), -600);
        assert_eq!(ceil(601, 600), 1_200);
        assert_eq!(ceil(600, 600), 600);
    }
}
