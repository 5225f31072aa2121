//! A worker-only workload: Harvester workers without jobs, submitted over the last hours with
//! the mix ATLAS's Harvester monitoring shows (Figure 3 of the Harvester paper). The bench uses
//! it to reach production density (600 000 workers a day) over a job history that would make
//! far fewer.

use crate::SimError;
use crate::emit::ts;
use crate::rng::Rng;
use crate::world::{HARVESTERS, World};
use pandamon_store::{Batch, Db, schema};

/// (status, native status, share in percent).
const STATUSES: &[(&str, &str, f64)] = &[
    ("running", "running", 45.0),
    ("submitted", "idle", 32.0),
    ("finished", "completed", 21.0),
    ("cancelled", "removed", 1.0),
    ("failed", "removed", 0.5),
    ("missed", "removed", 0.5),
];

/// (resource type, cores, share in percent).
const RESOURCE_TYPES: &[(&str, i64, f64)] = &[
    ("SCORE", 1, 56.0),
    ("MCORE", 8, 38.0),
    ("SCORE_HIMEM", 1, 6.0),
];

fn pick<'a, T>(rng: &mut Rng, options: &'a [T], share: impl Fn(&T) -> f64) -> &'a T {
    let total: f64 = options.iter().map(&share).sum();
    let mut x = rng.f64() * total;
    for o in options {
        x -= share(o);
        if x <= 0.0 {
            return o;
        }
    }
    &options[options.len() - 1]
}

/// Adds `count` workers without jobs, submitted in the `hours` before `now`, to a database
/// `simulate` wrote (the world comes from its seed). Returns how many were written.
pub async fn add_workers(
    db: &Db,
    count: u64,
    hours: f64,
    now: i64,
    seed: u64,
) -> Result<u64, SimError> {
    schema::ensure_owned(db).await?;
    if hours.is_nan() || hours <= 0.0 {
        return Err(SimError::Invalid("hours must be positive".into()));
    }
    let world_seed = schema::get_meta(db, "sim_seed")
        .await?
        .and_then(|s| s.parse().ok())
        .unwrap_or(seed);
    let world = World::build(&mut Rng::new(world_seed).fork(1));
    let mut rng = Rng::new(seed).fork(0x5eed);
    let mut next_id = db.max_value("harvester_workers", "workerid").await? + 1;
    let span = (hours * 3_600.0) as i64;
    let mut written = 0u64;
    let mut batch = Batch::new("harvester_workers");
    while written < count {
        let queue = &world.queues[rng.index(world.queues.len())];
        let harvester = HARVESTERS[queue.harvester];
        let (status, native, _) = *pick(&mut rng, STATUSES, |s| s.2);
        let (resource_type, cores, _) = *pick(&mut rng, RESOURCE_TYPES, |r| r.2);
        let jobtype = if rng.chance(0.45) { "user" } else { "managed" };
        let submit = now - rng.range(0, span);
        let start = (status != "submitted" && status != "missed")
            .then(|| (submit + rng.range(30, 1_800)).min(now));
        let end = matches!(status, "finished" | "failed" | "cancelled" | "missed")
            .then(|| (start.unwrap_or(submit) + rng.range(60, 4 * 3_600)).min(now));
        let last = end.unwrap_or_else(|| (start.unwrap_or(submit) + rng.range(0, 600)).min(now));
        let id = next_id;
        next_id += 1;
        let mut row = batch.blank();
        batch.set(&mut row, "harvesterid", harvester);
        batch.set(&mut row, "workerid", id);
        batch.set(&mut row, "lastupdate", ts(last));
        batch.set(&mut row, "status", status);
        batch.set(&mut row, "nativestatus", native);
        batch.set(
            &mut row,
            "batchid",
            format!("{}.0", 7_000_000 + id % 1_000_000),
        );
        batch.set(&mut row, "queuename", queue.name.clone());
        batch.set(&mut row, "computingsite", queue.name.clone());
        batch.set(&mut row, "computingelement", queue.ce.clone());
        batch.set(&mut row, "submittime", ts(submit));
        batch.set(&mut row, "starttime", start.map(ts));
        batch.set(&mut row, "endtime", end.map(ts));
        batch.set(&mut row, "ncore", cores);
        batch.set(&mut row, "njobs", 0i64);
        batch.set(&mut row, "resourcetype", resource_type);
        batch.set(&mut row, "jobtype", jobtype);
        batch.set(&mut row, "errorcode", i64::from(status == "failed"));
        let base = format!(
            "https://{}/condor_logs/{}/{}",
            harvester.to_lowercase(),
            id / 1000,
            id
        );
        batch.set(&mut row, "stdout", format!("{base}.out"));
        batch.set(&mut row, "stderr", format!("{base}.err"));
        batch.set(&mut row, "batchlog", format!("{base}.log"));
        batch.push(row);
        written += 1;
        if batch.len() >= 20_000 {
            db.load(&mut batch).await?;
            batch = Batch::new("harvester_workers");
        }
    }
    if !batch.is_empty() {
        db.load(&mut batch).await?;
    }
    if db.dialect() == pandamon_store::Dialect::Postgres {
        db.analyze().await?;
    }
    Ok(written)
}
