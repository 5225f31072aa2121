//! The PanDA workload simulator. A seed fixes a world (queues, shares, users) and a plan (tasks
//! and every job attempt's timeline); the rows written are the state of that plan at `now`.
//! With `live`, the simulator keeps moving jobs through their lifecycle in real time.
//!
//! Architecture invariant: the simulator writes only to databases `schema init` created (it checks
//! the ownership marker first), and the same seed and `now` give the same rows on every backend.

pub mod emit;
pub mod live;
pub mod plan;
pub mod rng;
pub mod transfers;
pub mod workers;
pub mod world;

use pandamon_store::{Batch, Db, schema};
use plan::{Plan, PlanConfig};
use std::collections::BTreeMap;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimError {
    #[error(transparent)]
    Store(#[from] pandamon_store::StoreError),
    #[error("invalid simulation setting: {0}")]
    Invalid(String),
    #[error("the generator stopped unexpectedly: {0}")]
    Generator(String),
}

/// Settings of one `simulate` run.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// Job attempts that exist at `now` (the result is within one task of this).
    pub jobs: u64,
    pub seed: u64,
    /// Days of history before `now`.
    pub days: f64,
    /// Unix seconds where the history ends; the current time unless a test pins it.
    pub now: i64,
}

impl SimConfig {
    pub fn validate(&self) -> Result<(), SimError> {
        if self.jobs == 0 {
            return Err(SimError::Invalid("--jobs must be at least 1".into()));
        }
        if self.jobs > 50_000_000 {
            return Err(SimError::Invalid("--jobs must be at most 50000000".into()));
        }
        if !(self.days > 0.0 && self.days <= 60.0) {
            return Err(SimError::Invalid("--days must be between 0 and 60".into()));
        }
        Ok(())
    }
}

/// What a simulation wrote.
#[derive(Debug, Clone, Default)]
pub struct SimSummary {
    pub jobs: u64,
    pub tasks: u64,
    pub rows: BTreeMap<String, u64>,
    pub seconds: f64,
}

/// Progress events for a progress bar.
pub trait Progress: Send {
    /// A phase without a job count begins (planning, indexing).
    fn phase(&mut self, _what: &'static str) {}
    fn start(&mut self, total_jobs: u64);
    fn advance(&mut self, jobs_done: u64);
    fn finish(&mut self);
}

/// A progress sink that shows nothing.
pub struct Silent;
impl Progress for Silent {
    fn start(&mut self, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// Replaces the workload in `db` (which `schema init` must have created) with a simulated one.
pub async fn simulate(
    db: &Db,
    config: SimConfig,
    mut progress: Box<dyn Progress>,
) -> Result<(SimSummary, Plan), SimError> {
    config.validate()?;
    schema::ensure_owned(db).await?;
    let started = Instant::now();
    schema::clear_workload(db).await?;
    schema::drop_indexes(db).await?;
    let plan_config = PlanConfig {
        jobs: config.jobs,
        seed: config.seed,
        days: config.days,
        now: config.now,
    };
    progress.phase("planning the workload");
    let plan = tokio::task::spawn_blocking(move || Plan::build(plan_config))
        .await
        .map_err(|e| SimError::Generator(e.to_string()))?;
    let total = plan.existing_jobs().len() as u64;
    progress.start(total);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Batch, u64>>(8);
    let generator_plan = plan.clone();
    let generator = tokio::task::spawn_blocking(move || {
        let tx_rows = tx.clone();
        let mut sink = move |batch: Batch| {
            let _ = tx_rows.blocking_send(Ok(batch));
        };
        let mut tables = emit::Tables::new(&mut sink);
        let mut report = |done: u64| {
            let _ = tx.blocking_send(Err(done));
        };
        emit::emit(&generator_plan, &mut tables, &mut report);
    });
    let mut summary = SimSummary {
        tasks: plan.tasks.len() as u64,
        jobs: total,
        ..SimSummary::default()
    };
    // Batches load concurrently on a few connections: the database, not the generator, is the
    // slower side, and different tables do not contend.
    let loaders = match db.dialect() {
        pandamon_store::Dialect::Sqlite => 1,
        _ => 3,
    };
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(loaders));
    let mut running = tokio::task::JoinSet::new();
    let mut failure: Option<SimError> = None;
    while let Some(item) = rx.recv().await {
        match item {
            Ok(mut batch) => {
                *summary.rows.entry(batch.table.name.clone()).or_default() += batch.len() as u64;
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| SimError::Generator(e.to_string()))?;
                let db = db.clone();
                running.spawn(async move {
                    let result = db.load(&mut batch).await;
                    drop(permit);
                    result
                });
                while let Some(done) = running.try_join_next() {
                    if let Err(e) = done
                        .map_err(|e| SimError::Generator(e.to_string()))
                        .and_then(|r| r.map_err(SimError::from))
                    {
                        failure.get_or_insert(e);
                    }
                }
                if failure.is_some() {
                    break;
                }
            }
            Err(done) => progress.advance(done),
        }
    }
    drop(rx);
    while let Some(done) = running.join_next().await {
        if let Err(e) = done
            .map_err(|e| SimError::Generator(e.to_string()))
            .and_then(|r| r.map_err(SimError::from))
        {
            failure.get_or_insert(e);
        }
    }
    let generated = generator.await;
    if let Some(e) = failure {
        return Err(e);
    }
    generated.map_err(|e| SimError::Generator(e.to_string()))?;
    progress.phase("creating indexes");
    schema::create_indexes(db).await?;
    if db.dialect() == pandamon_store::Dialect::Postgres {
        db.analyze().await?;
    }
    progress.finish();
    schema::set_meta(db, "sim_seed", &config.seed.to_string()).await?;
    schema::set_meta(db, "sim_now", &config.now.to_string()).await?;
    summary.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        jobs = summary.jobs,
        tasks = summary.tasks,
        seconds = summary.seconds,
        "simulation written"
    );
    Ok((summary, plan))
}
