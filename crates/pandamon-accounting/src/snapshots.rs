//! Running and pending jobs, counted every 10 minutes from the active job tables into
//! `job_snapshots` (kept for [`FINE_RETENTION_DAYS`] days), with their means per hour and per
//! day (kept for good): the "running cores in HS06 by activity" of the accounting dashboards.
//!
//! A snapshot row holds, for one instant and one combination of dimension values, the jobs, their
//! cores (jobs without a core count count one, and are counted apart) and the HS06 power of those
//! cores (`hs06_s`; jobs without a known power are counted apart). An hour's and a day's rows
//! hold the sums over their snapshots, and one more row (error category [`MARKER`]) how many
//! snapshots were taken: a mean is the one over the other.

use crate::rollup::{COLUMNS, Dims, Sums, ceil, dims, fill_campaigns, floor, int, rows_of, text};
use crate::{FINE_RETENTION_DAYS, RESOLUTIONS, RollupStore};
use pandamon_model::JobTable;
use pandamon_store::accounting::JOB_SNAPSHOTS;
use pandamon_store::scan::TimeRange;
use pandamon_store::{Db, Result};
use std::collections::{BTreeSet, HashMap};

/// The statuses of a running job.
pub const RUNNING: [&str; 1] = ["running"];
/// The statuses of a pending job: waiting for a slot or for its input.
pub const PENDING: [&str; 4] = ["defined", "waiting", "assigned", "activated"];

/// The error category of the row of an hour or a day that counts its snapshots in `jobs` (its
/// status is none, so no metric counts it).
pub const MARKER: &str = "(snapshots taken)";

fn marker() -> Dims {
    let mut dims: Dims = Default::default();
    dims[9] = MARKER.to_string();
    dims
}

/// How many snapshots `row` stands for: one for a 10-minute row, the count of a marker row.
pub fn snapshots_in(row: &pandamon_store::accounting::RollupRow) -> Option<i64> {
    match row.resolution {
        600 => None,
        _ if row.dims[9] == MARKER => Some(row.metrics[0]),
        _ => None,
    }
}

/// Counts the running and pending jobs now into the 10-minute snapshot of `at`, and recomputes
/// the means of its hour and day. Returns how many jobs were counted.
pub async fn take(db: &Db, store: &impl RollupStore, at: i64) -> Result<u64> {
    let [fine, hour, day] = RESOLUTIONS;
    let mut jobs: HashMap<i64, (Option<i64>, Dims, Sums)> = HashMap::new();
    let since = [TimeRange {
        column: "modificationtime",
        from: 0,
        to: None,
    }];
    for table in [JobTable::Defined, JobTable::Active] {
        db.scan(table.name(), &COLUMNS, &since, None, |f| {
            let status = text(&f[4]);
            if !RUNNING.contains(&status.as_str()) && !PENDING.contains(&status.as_str()) {
                return;
            }
            let Some(pandaid) = int(&f[0]) else { return };
            let declared = int(&f[13]).or(int(&f[14])).filter(|&c| c > 0);
            let power = int(&f[17]).filter(|&p| p > 0);
            let metrics = [
                1,
                declared.unwrap_or(1),
                i64::from(declared.is_none()),
                0,
                0,
                power.unwrap_or(0),
                i64::from(power.is_none()),
                0,
                0,
                0,
            ];
            let task = int(&f[29]).filter(|&t| t > 0);
            jobs.insert(pandaid, (task, dims(f, status, String::new()), metrics));
        })
        .await?;
    }
    fill_campaigns(db, jobs.values_mut().map(|(t, d, _)| (*t, d))).await?;
    let bin = floor(at, fine);
    let mut sums = HashMap::new();
    for (_, dims, metrics) in jobs.values() {
        crate::rollup::sum_into(&mut sums, fine, bin, dims, metrics);
    }
    store
        .replace(&JOB_SNAPSHOTS, fine, bin, bin + fine, &rows_of(fine, sums))
        .await?;
    // The hour's and the day's sums over their snapshots, with how many there were.
    for (coarse, finer) in [(hour, fine), (day, hour)] {
        let (a, b) = (floor(bin, coarse), ceil(bin + 1, coarse));
        let rows = store.rows(&JOB_SNAPSHOTS, finer, a, b).await?;
        let mut sums: HashMap<(i64, Dims), Sums> = HashMap::new();
        for row in &rows {
            crate::rollup::sum_into(&mut sums, coarse, row.bin, &row.dims, &row.metrics);
        }
        if finer == fine {
            let taken: BTreeSet<i64> = rows.iter().map(|r| r.bin).collect();
            let mut count = [0; 10];
            count[0] = taken.len() as i64;
            sums.insert((a, marker()), count);
        }
        store
            .replace(&JOB_SNAPSHOTS, coarse, a, b, &rows_of(coarse, sums))
            .await?;
    }
    Ok(jobs.len() as u64)
}

/// Drops the 10-minute snapshots older than the retention.
pub async fn prune(store: &impl RollupStore, now: i64) -> Result<()> {
    let cutoff = floor(now - FINE_RETENTION_DAYS * 86_400, RESOLUTIONS[1]);
    store
        .replace(&JOB_SNAPSHOTS, RESOLUTIONS[0], 0, cutoff, &[])
        .await
}
