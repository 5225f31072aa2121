//! Keeping the index in step with the database: a streaming first load, then polls of each job
//! table by a `modificationtime` watermark (with an overlap for late commits), periodic
//! reconciliation of deleted jobs, and eviction of jobs that left the window. A failed poll keeps
//! the last good index and is retried with backoff.

use crate::workers::{WorkerIndex, worker_columns};
use crate::{JobIndex, MODIFIED, Malformed, Row, loaded_columns, loaded_type};
use chrono::{DateTime, NaiveDateTime, Utc};
use pandamon_model::JobTable;
use pandamon_store::catalog::ColType;
use pandamon_store::scan::Field;
use pandamon_store::{Db, StoreError};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Where `lastupdate` comes among the worker columns.
const WORKER_UPDATED: usize =
    1 + crate::workers::WORKER_TEXT_COLUMNS.len() + crate::workers::WORKER_INT_COLUMNS.len() + 1;

/// Seconds re-read before each table's watermark, for commits that land late.
pub const OVERLAP_SECS: i64 = 10;

/// Polls between two reconciliations of deleted jobs.
pub const RECONCILE_EVERY: u64 = 120;

/// What the index reports about itself, for pages and `/healthz`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncStatus {
    pub loaded: bool,
    pub jobs: usize,
    pub window_days: f64,
    /// The newest `modificationtime` seen.
    pub data_time: Option<String>,
    /// When the last poll finished.
    pub last_sync: Option<String>,
    /// Seconds since the last successful load or poll: how stale the index may be.
    pub age_seconds: Option<i64>,
    /// When the last load or poll succeeded, unix seconds.
    #[serde(skip)]
    pub last_sync_unix: Option<i64>,
    pub last_sync_ms: u64,
    pub polls: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    pub malformed_rows: u64,
    pub cold_load_rows_per_s: f64,
    /// Whether the Harvester workers are held and current (their table may be missing, or
    /// its last poll may have failed: worker pages then ask the database).
    pub workers_loaded: bool,
    pub workers: usize,
}

/// A shared index and its status.
#[derive(Clone)]
pub struct LiveIndex {
    pub index: Arc<RwLock<JobIndex>>,
    /// Harvester workers of the window.
    pub workers: Arc<RwLock<WorkerIndex>>,
    pub status: Arc<RwLock<SyncStatus>>,
    /// Bumped whenever the index changes: answers computed at one generation stay valid until
    /// the next.
    pub generation: Arc<std::sync::atomic::AtomicU64>,
}

impl LiveIndex {
    pub fn new(window_days: f64) -> LiveIndex {
        let start = Utc::now().timestamp() - (window_days * 86_400.0) as i64;
        LiveIndex {
            index: Arc::new(RwLock::new(JobIndex::new(start))),
            workers: Arc::new(RwLock::new(WorkerIndex::new(start))),
            status: Arc::new(RwLock::new(SyncStatus {
                window_days,
                ..SyncStatus::default()
            })),
            generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn bump(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn status(&self) -> SyncStatus {
        let mut status = self.status.read().map(|s| s.clone()).unwrap_or_default();
        status.age_seconds = status
            .last_sync_unix
            .map(|t| (Utc::now().timestamp() - t).max(0));
        status
    }

    pub fn is_loaded(&self) -> bool {
        self.status.read().map(|s| s.loaded).unwrap_or(false)
    }

    /// Whether the worker index is loaded and its last poll succeeded.
    pub fn workers_loaded(&self) -> bool {
        self.status
            .read()
            .map(|s| s.loaded && s.workers_loaded)
            .unwrap_or(false)
    }
}

fn ts(t: i64) -> NaiveDateTime {
    DateTime::from_timestamp(t, 0)
        .map_or_else(|| DateTime::UNIX_EPOCH.naive_utc(), |d| d.naive_utc())
}

fn scanned_columns() -> Vec<(&'static str, ColType)> {
    loaded_columns()
        .into_iter()
        .map(|c| (c, loaded_type(c)))
        .collect()
}

/// Malformed rows seen in one table during one load or poll: counted, and logged once.
struct Rejects {
    table: JobTable,
    count: u64,
    first: Option<(Option<i64>, &'static str)>,
}

impl Rejects {
    fn new(table: JobTable) -> Rejects {
        Rejects {
            table,
            count: 0,
            first: None,
        }
    }

    fn add(&mut self, pandaid: Option<i64>, why: Malformed) {
        self.count += 1;
        self.first.get_or_insert((pandaid, why.0));
    }

    fn log(&self) -> u64 {
        if let Some((pandaid, why)) = self.first {
            tracing::warn!(
                table = self.table.name(),
                rows = self.count,
                first_pandaid = pandaid,
                reason = why,
                "skipped malformed job rows"
            );
        }
        self.count
    }
}

/// The poller that feeds one [`LiveIndex`] from one database.
pub struct Syncer {
    db: Db,
    live: LiveIndex,
    window_secs: i64,
    watermarks: [Option<i64>; 4],
    /// The newest worker `lastupdate` seen.
    worker_watermark: Option<i64>,
    polls: u64,
}

impl Syncer {
    pub fn new(db: Db, live: LiveIndex) -> Syncer {
        let window_secs = (live.status().window_days * 86_400.0) as i64;
        Syncer {
            db,
            live,
            window_secs,
            watermarks: [None; 4],
            worker_watermark: None,
            polls: 0,
        }
    }

    /// Reads every job in the window, streaming the rows into a fresh index that replaces the
    /// served one when complete; returns rows per second.
    pub async fn load(&mut self) -> Result<f64, StoreError> {
        let started = Instant::now();
        let now = Utc::now().timestamp();
        let start = now - self.window_secs;
        let columns = scanned_columns();
        let mut total = 0u64;
        let mut malformed = 0;
        let mut fresh = JobIndex::new(start);
        tracing::info!(days = self.window_secs / 86_400, "loading the live index");
        for (slot, table) in JobTable::ALL.iter().enumerate() {
            let mut rejects = Rejects::new(*table);
            let mut newest = self.watermarks[slot].unwrap_or(start);
            total += self
                .db
                .scan_since(
                    table.name(),
                    &columns,
                    "modificationtime",
                    start,
                    Some("pandaid"),
                    |fields| match fresh.upsert(*table, fields) {
                        Ok(_) => {
                            if let Some(Field::Time(t)) = fields.get(MODIFIED) {
                                newest = newest.max(*t);
                            }
                        }
                        Err(why) => rejects.add(fields.first().and_then(Field::as_int), why),
                    },
                )
                .await?;
            malformed += rejects.log();
            tracing::info!(table = table.name(), jobs = total, "live index loading");
            self.watermarks[slot] = Some(newest);
        }
        fresh.compact();
        let rate = total as f64 / started.elapsed().as_secs_f64().max(1e-6);
        let jobs = fresh.len();
        if let Ok(mut index) = self.live.index.write() {
            *index = fresh;
        }
        self.load_workers(start).await;
        self.live.bump();
        self.update_status(started, jobs, malformed, Some(rate));
        tracing::info!(jobs, rows_per_s = rate as u64, "live index loaded");
        Ok(rate)
    }

    /// Reads every worker updated since `start` into a fresh worker index. A failure (no
    /// Harvester tables, say) leaves the workers to the database and does not stop the jobs.
    async fn load_workers(&mut self, start: i64) {
        let mut fresh = WorkerIndex::new(start);
        let mut newest = start;
        let scanned = self
            .db
            .scan_since(
                "harvester_workers",
                &worker_columns(),
                "lastupdate",
                start,
                Some("workerid"),
                |fields| {
                    fresh.upsert(fields);
                    if let Some(Field::Time(t)) = fields.get(WORKER_UPDATED) {
                        newest = newest.max(*t);
                    }
                },
            )
            .await;
        let loaded = match scanned {
            Ok(_) => {
                self.worker_watermark = Some(newest);
                let workers = fresh.len();
                if let Ok(mut index) = self.live.workers.write() {
                    *index = fresh;
                }
                tracing::info!(workers, "live worker index loaded");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "harvester workers not indexed; worker pages ask the database");
                false
            }
        };
        self.set_workers_status(loaded);
    }

    /// Applies the workers updated since the last poll and drops those that left the window;
    /// returns how many changed.
    async fn poll_workers(&mut self, start: i64) -> usize {
        let Some(mark) = self.worker_watermark else {
            self.load_workers(start).await;
            return 0;
        };
        let since = mark.max(start) - OVERLAP_SECS;
        let mut rows: Vec<Vec<Field<'static>>> = Vec::new();
        let mut newest = mark;
        let scanned = self
            .db
            .scan_since(
                "harvester_workers",
                &worker_columns(),
                "lastupdate",
                since,
                None,
                |fields| {
                    if let Some(Field::Time(t)) = fields.get(WORKER_UPDATED) {
                        newest = newest.max(*t);
                    }
                    rows.push(fields.iter().map(Field::to_owned_field).collect());
                },
            )
            .await;
        if let Err(e) = scanned {
            tracing::warn!(error = %e, "worker poll failed; worker pages ask the database");
            self.set_workers_status(false);
            return 0;
        }
        self.worker_watermark = Some(newest);
        let mut changed = 0;
        if let Ok(mut index) = self.live.workers.write() {
            for row in &rows {
                if index.upsert(row) {
                    changed += 1;
                }
            }
            changed += index.evict(start);
        }
        self.set_workers_status(true);
        changed
    }

    fn set_workers_status(&self, loaded: bool) {
        let workers = self.live.workers.read().map(|w| w.len()).unwrap_or(0);
        if let Ok(mut s) = self.live.status.write() {
            s.workers_loaded = loaded;
            s.workers = workers;
        }
    }

    /// One poll of every table; returns how many rows changed the index.
    pub async fn poll(&mut self) -> Result<usize, StoreError> {
        let started = Instant::now();
        let now = Utc::now().timestamp();
        let start = now - self.window_secs;
        let columns = scanned_columns();
        let mut updates: Vec<Row> = Vec::new();
        let mut malformed = 0;
        for (slot, table) in JobTable::ALL.iter().enumerate() {
            let since = self.watermarks[slot].unwrap_or(start).max(start) - OVERLAP_SECS;
            let mut newest = self.watermarks[slot];
            self.db
                .scan_since(
                    table.name(),
                    &columns,
                    "modificationtime",
                    since,
                    None,
                    |fields| {
                        let row = Row {
                            table: *table,
                            fields: fields.iter().map(Field::to_owned_field).collect(),
                        };
                        if let Some(t) = row.modified() {
                            newest = Some(newest.map_or(t, |n| n.max(t)));
                        }
                        updates.push(row);
                    },
                )
                .await?;
            self.watermarks[slot] = newest;
        }
        // New jobs in pandaid order land in the index's sorted rows. Which copy of a moving job
        // wins does not depend on the order (see `JobIndex::upsert`).
        updates.sort_by_key(|r| r.pandaid());
        self.polls += 1;
        // Every RECONCILE_EVERY polls, forget jobs that disappeared from every table (reading
        // only their ids).
        let present: Option<HashSet<i64>> = if self.polls.is_multiple_of(RECONCILE_EVERY) {
            let mut all = HashSet::new();
            for table in JobTable::ALL {
                self.db
                    .scan_since(
                        table.name(),
                        &[("pandaid", ColType::BigInt)],
                        "modificationtime",
                        start,
                        Some("pandaid"),
                        |fields| {
                            if let Some(p) = fields.first().and_then(Field::as_int) {
                                all.insert(p);
                            }
                        },
                    )
                    .await?;
            }
            Some(all)
        } else {
            None
        };
        let workers_changed = self.poll_workers(start).await;
        let mut rejects: Vec<Rejects> = JobTable::ALL.iter().map(|t| Rejects::new(*t)).collect();
        let mut applied = 0;
        let jobs = match self.live.index.write() {
            Ok(mut index) => {
                for row in &updates {
                    match index.upsert(row.table, &row.fields) {
                        Ok(true) => applied += 1,
                        Ok(false) => {}
                        Err(why) => rejects[row.table as usize].add(row.pandaid(), why),
                    }
                }
                let evicted = index.evict(start);
                let mut deleted = 0;
                if let Some(present) = &present {
                    for pandaid in index.pandaids() {
                        if !present.contains(&pandaid) && index.remove(pandaid) {
                            deleted += 1;
                        }
                    }
                }
                index.maintain();
                // Answers cached at the current generation stay valid if nothing changed.
                if applied > 0 || evicted > 0 || deleted > 0 || workers_changed > 0 {
                    self.live.bump();
                }
                index.len()
            }
            Err(_) => 0,
        };
        for r in &rejects {
            malformed += r.log();
        }
        self.update_status(started, jobs, malformed, None);
        Ok(applied)
    }

    fn update_status(&self, started: Instant, jobs: usize, malformed: u64, rate: Option<f64>) {
        let data_time = self
            .watermarks
            .iter()
            .flatten()
            .max()
            .map(|t| ts(*t).format("%Y-%m-%d %H:%M:%S").to_string());
        if let Ok(mut s) = self.live.status.write() {
            s.loaded = true;
            s.jobs = jobs;
            s.data_time = data_time;
            s.last_sync = Some(Utc::now().format("%Y-%m-%d %H:%M:%S").to_string());
            s.last_sync_unix = Some(Utc::now().timestamp());
            s.last_sync_ms = started.elapsed().as_millis() as u64;
            s.polls += 1;
            s.malformed_rows += malformed;
            s.last_error = None;
            if let Some(rate) = rate {
                s.cold_load_rows_per_s = rate;
            }
        }
    }

    /// Loads, then polls every `interval` until `shutdown` turns true. Failures back off up to
    /// 30 s and the last good index keeps serving.
    pub async fn run(
        mut self,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        // A syncer that already loaded goes straight to polling.
        let mut loaded = self.watermarks.iter().any(Option::is_some);
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
            let result = if loaded {
                self.poll().await.map(|_| ())
            } else {
                self.load().await.map(|_| ())
            };
            match result {
                Ok(()) => {
                    loaded = true;
                    wait = interval;
                }
                Err(e) => {
                    wait = (wait * 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
                    tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "live index sync failed");
                    if let Ok(mut s) = self.live.status.write() {
                        s.failures += 1;
                        s.last_error = Some(e.to_string());
                    }
                }
            }
        }
    }
}
