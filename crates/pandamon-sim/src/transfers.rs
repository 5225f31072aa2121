//! Rucio-style transfer events (`transfer_events`) for the simulated jobs, shaped like Rucio's
//! `transfer-done` and `transfer-failed` messages: a production job whose input is not at its
//! site has its input files brought from the task's nucleus while it is `assigned`; a finished
//! production job away from its nucleus has its output sent there while it is `transferring`;
//! a task staged from tape has its files recalled by the carousel ("Staging"). A few attempts
//! fail with one of Rucio's usual reasons and are retried; routes into a few destinations fail
//! much more often than the rest, so the dashboards have something to find.
//!
//! Everything is a function of its inputs (no random stream), so history and live mode agree.

use crate::emit::{Tables, ts};
use pandamon_store::Value;

/// Why a transfer failed, as FTS reports it through Rucio.
pub const FAILURE_REASONS: [&str; 6] = [
    "TRANSFER [70] TRANSFER  globus_xio: Operation timed out",
    "DESTINATION [28] No space left on device",
    "SOURCE [2] No such file or directory",
    "DESTINATION OVERWRITE [17] Destination file exists and overwrite is not enabled",
    "TRANSFER [5] TRANSFER  Checksum mismatch",
    "SOURCE [13] Permission denied: token has expired",
];

/// One file transfer to write: what, where from and to, and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub id: i64,
    pub activity: &'static str,
    pub scope: String,
    pub name: String,
    pub dataset: String,
    pub src_rse: String,
    pub dst_rse: String,
    pub bytes: i64,
    pub submitted: i64,
    pub started: i64,
    pub done: i64,
    /// `None` for a transfer that succeeded.
    pub reason: Option<&'static str>,
    pub pandaid: Option<i64>,
    pub task: i64,
}

/// A 64-bit mix of a few numbers (SplitMix64 finaliser), for decisions that must not depend on
/// the order rows are generated in.
fn mix(parts: &[i64]) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        x ^= *p as u64;
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
    }
    x
}

/// A fraction in `[0, 1)` from `parts`.
fn unit(parts: &[i64]) -> f64 {
    (mix(parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A stable number for a name.
fn name_key(name: &str) -> i64 {
    name.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        .wrapping_shr(1) as i64
}

/// How often a transfer into `dst_site` fails: a few destinations much more than the rest.
fn failure_rate(dst_site: &str) -> f64 {
    if name_key(dst_site) % 13 == 0 {
        0.30
    } else {
        0.03
    }
}

/// One file moved from `src_rse` (at `src_site`) to `dst_rse` (at `dst_site`) within
/// `[start, end]`: a failed attempt first when the route fails this time, then the copy that
/// arrived. `id` numbers the first event; the retry takes `id + 1`.
#[allow(clippy::too_many_arguments)]
fn file_transfers(
    out: &mut Vec<Transfer>,
    id: i64,
    activity: &'static str,
    (scope, name, dataset): (&str, &str, &str),
    (src_rse, dst_rse): (&str, &str),
    dst_site: &str,
    bytes: i64,
    (start, end): (i64, i64),
    job: (Option<i64>, i64),
) {
    let span = (end - start).max(2);
    let event = |id, started, done, reason| Transfer {
        id,
        activity,
        scope: scope.to_string(),
        name: name.to_string(),
        dataset: dataset.to_string(),
        src_rse: src_rse.to_string(),
        dst_rse: dst_rse.to_string(),
        bytes,
        submitted: started - 30,
        started,
        done,
        reason,
        pandaid: job.0,
        task: job.1,
    };
    if unit(&[id, 1]) < failure_rate(dst_site) {
        let failed_at = start + span / 3;
        let reason = FAILURE_REASONS[(mix(&[id, 2]) % FAILURE_REASONS.len() as u64) as usize];
        out.push(event(id, start, failed_at, Some(reason)));
        out.push(event(id + 1, failed_at + 1, end, None));
    } else {
        out.push(event(id, start, end, None));
    }
}

/// What a job's transfers need to know of it.
pub struct JobFiles<'a> {
    pub pandaid: i64,
    pub task: i64,
    pub scope: &'a str,
    pub site: &'a str,
    pub nucleus: &'a str,
    pub input_dataset: &'a str,
    pub output_dataset: &'a str,
    /// Input files: name and size.
    pub inputs: Vec<(String, i64)>,
    /// The output file of a finished job.
    pub output: Option<(String, i64)>,
    /// When the input was brought (`assigned` to `activated`), if it was.
    pub input_window: Option<(i64, i64)>,
    /// When the output was sent (`transferring` to its end), if it was.
    pub output_window: Option<(i64, i64)>,
}

/// The transfers of one production job that happened by `now`. Nothing moves when the job
/// runs at its nucleus. Event ids are `pandaid * 32 + k`.
pub fn job_transfers(job: &JobFiles<'_>, now: i64) -> Vec<Transfer> {
    let mut out = Vec::new();
    if job.site == job.nucleus {
        return out;
    }
    let ids = |k: i64| job.pandaid * 32 + 2 * k;
    if let Some((start, end)) = job.input_window.filter(|w| w.1 <= now) {
        for (k, (name, bytes)) in job.inputs.iter().enumerate().take(12) {
            file_transfers(
                &mut out,
                ids(k as i64),
                "Production Input",
                (job.scope, name, job.input_dataset),
                (
                    &format!("{}_DATADISK", job.nucleus),
                    &format!("{}_DATADISK", job.site),
                ),
                job.site,
                *bytes,
                (start, end),
                (Some(job.pandaid), job.task),
            );
        }
    }
    if let (Some((name, bytes)), Some((start, end))) =
        (&job.output, job.output_window.filter(|w| w.1 <= now))
    {
        file_transfers(
            &mut out,
            ids(15),
            "Production Output",
            (job.scope, name, job.output_dataset),
            (
                &format!("{}_DATADISK", job.site),
                &format!("{}_DATADISK", job.nucleus),
            ),
            job.nucleus,
            *bytes,
            (start, end),
            (Some(job.pandaid), job.task),
        );
    }
    out
}

/// The carousel's recall of a staged task's files, from tape to disk, spread over
/// `[started, until]`; ids start at `first_id`, two per file.
#[allow(clippy::too_many_arguments)]
pub fn staging_transfers(
    first_id: i64,
    task: i64,
    scope: &str,
    dataset: &str,
    (src_rse, dst_rse): (&str, &str),
    files: &[(String, i64)],
    (started, until): (i64, i64),
) -> Vec<Transfer> {
    let mut out = Vec::new();
    let dst_site = dst_rse.rsplit_once('_').map_or(dst_rse, |(s, _)| s);
    let n = files.len().max(1) as i64;
    for (k, (name, bytes)) in files.iter().enumerate() {
        let k = k as i64;
        let end = started + (until - started) * (k + 1) / n;
        let start = (end - 1_200).max(started);
        file_transfers(
            &mut out,
            first_id + 2 * k,
            "Staging",
            (scope, name, dataset),
            (src_rse, dst_rse),
            dst_site,
            *bytes,
            (start, end),
            (None, task),
        );
    }
    out
}

impl Transfer {
    /// The `transfer_events` row of this event.
    pub fn values(&self) -> Vec<(&'static str, Value)> {
        let failed = self.reason.is_some();
        vec![
            ("id", self.id.into()),
            (
                "event_type",
                if failed {
                    "transfer-failed"
                } else {
                    "transfer-done"
                }
                .into(),
            ),
            ("activity", self.activity.into()),
            ("scope", self.scope.clone().into()),
            ("name", self.name.clone().into()),
            ("dataset", self.dataset.clone().into()),
            ("src_rse", self.src_rse.clone().into()),
            ("dst_rse", self.dst_rse.clone().into()),
            ("file_size", self.bytes.into()),
            ("bytes", if failed { 0 } else { self.bytes }.into()),
            ("reason", self.reason.into()),
            ("created_at", ts(self.done).into()),
            ("submitted_at", ts(self.submitted).into()),
            ("started_at", ts(self.started).into()),
            ("transferred_at", ts(self.done).into()),
            ("pandaid", self.pandaid.into()),
            ("jeditaskid", self.task.into()),
        ]
    }
}

/// Queues the events as `transfer_events` rows.
pub fn emit_transfers(tables: &mut Tables<'_>, transfers: &[Transfer]) {
    for t in transfers {
        tables.row("transfer_events", |b, r| {
            for (column, value) in t.values() {
                b.set(r, column, value);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(site: &'static str) -> JobFiles<'static> {
        JobFiles {
            pandaid: 1_000,
            task: 7,
            scope: "mc23_13p6TeV",
            site,
            nucleus: "CERN-PROD",
            input_dataset: "in",
            output_dataset: "out",
            inputs: vec![("a".into(), 10), ("b".into(), 20)],
            output: Some(("o".into(), 5)),
            input_window: Some((100, 200)),
            output_window: Some((300, 400)),
        }
    }

    #[test]
    fn a_job_away_from_its_nucleus_moves_its_input_and_output() {
        let t = job_transfers(&job("BNL-ATLAS"), 1_000);
        let arrived: Vec<&Transfer> = t.iter().filter(|t| t.reason.is_none()).collect();
        assert_eq!(arrived.len(), 3);
        assert!(arrived.iter().all(|t| t.done <= 400 && t.started <= t.done));
        assert_eq!(arrived[2].activity, "Production Output");
        assert_eq!(arrived[2].dst_rse, "CERN-PROD_DATADISK");
        // Each failed attempt is followed by the copy that arrived.
        assert_eq!(
            t.len() - arrived.len(),
            t.windows(2)
                .filter(|w| w[0].reason.is_some()
                    && w[1].reason.is_none()
                    && w[0].name == w[1].name)
                .count()
        );
        let mut ids: Vec<i64> = t.iter().map(|t| t.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), t.len());
    }

    #[test]
    fn nothing_moves_at_the_nucleus_or_before_it_happens() {
        assert!(job_transfers(&job("CERN-PROD"), 1_000).is_empty());
        let t = job_transfers(&job("BNL-ATLAS"), 250);
        assert!(t.iter().all(|t| t.activity == "Production Input"));
    }

    #[test]
    fn some_destinations_fail_far_more_often() {
        let rates: Vec<f64> = (0..200)
            .map(|i| failure_rate(&format!("SITE-{i}")))
            .collect();
        assert!(rates.contains(&0.30) && rates.contains(&0.03));
    }
}
