//! Live mode: keeps a simulated PanDA database moving in real time. Jobs advance through their
//! lifecycle (and between the job tables, as PanDA moves them), fail and get retried, new jobs
//! arrive for tasks that still have input files, and new tasks start when the work runs low.
//!
//! The state lives in the database: live mode loads the jobs in flight at start, so it continues
//! any database `simulate` wrote, including one from an earlier run of the demo.

use crate::SimError;
use crate::emit::ts;
use crate::rng::Rng;
use crate::transfers::{JobFiles, Transfer, job_transfers};
use crate::world::{FAILURE_MODES, HARVESTERS, USER_CODE_MODE, World};
use chrono::Utc;
use pandamon_model::{ErrorComponent, JobStatus, JobTable, SimulatorReport};
use pandamon_store::simreads::{FilePick, JobInFlight, ReadyInput, TaskDataset};
use pandamon_store::{Db, Statement, Value, schema};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Settings of live mode.
#[derive(Debug, Clone, Copy)]
pub struct LiveConfig {
    /// New jobs per second, on average.
    pub rate: f64,
    /// How often the simulator wakes up.
    pub tick: Duration,
    /// Seed for the live random stream (the world comes from the seed `simulate` stored).
    pub seed: u64,
}

#[derive(Debug, Clone)]
struct Flight {
    table: JobTable,
    status: JobStatus,
    task: i64,
    queue: usize,
    attempt: i64,
    maxattempt: i64,
    analysis: bool,
    worker: Option<(usize, i64)>,
    cores: i64,
    /// An event-service job: its event ranges move with it.
    eventservice: bool,
}

/// Event-range statuses (`jedi_events.status`) as PanDA numbers them.
const EVENT_READY: i64 = 0;
const EVENT_SENT: i64 = 1;
const EVENT_RUNNING: i64 = 2;
const EVENT_FINISHED: i64 = 3;
const EVENT_CANCELLED: i64 = 4;
const EVENT_FAILED: i64 = 7;

/// A pilot asking for work: its instance, worker id, how many more jobs it takes, batch id.
type Pilot = (usize, i64, i64, String);

#[derive(Debug, Clone)]
struct ActiveTask {
    analysis: bool,
    template: (JobTable, i64),
    files_per_job: i64,
    input_dataset: i64,
    ready: i64,
    eventservice: bool,
}

pub struct Live {
    db: Db,
    config: LiveConfig,
    world: World,
    rng: Rng,
    flights: HashMap<i64, Flight>,
    due: BinaryHeap<Reverse<(i64, i64)>>,
    tasks: HashMap<i64, ActiveTask>,
    next_pandaid: i64,
    next_row_id: i64,
    next_worker: i64,
    /// Pilots still asking for work, per (queue, multi-core, analysis): instance, worker id and
    /// how many more jobs each will take.
    pilots: HashMap<(usize, bool, bool), Pilot>,
    /// Jobs each running pilot still holds, by (instance, worker id).
    pilot_jobs: HashMap<(usize, i64), i64>,
    next_task: i64,
    next_dataset: i64,
    next_file: i64,
    arrivals: f64,
    /// Retry jobs created so far (they count as new jobs too).
    retried: u64,
    /// When `jobs_share_stats` was last rewritten (unix seconds).
    share_stats_at: i64,
    /// Each production task's nucleus and name, read once, for its jobs' transfers.
    nuclei: HashMap<i64, Option<(String, String)>>,
    report: Arc<RwLock<SimulatorReport>>,
}

/// How often the live simulator rewrites `jobs_share_stats`, as PanDA does every few minutes.
const SHARE_STATS_EVERY: i64 = 60;

const DEFINED: &str = "jobsdefined4";

impl Live {
    /// Loads the jobs in flight and the tasks with work left from `db`.
    pub async fn start(
        db: Db,
        config: LiveConfig,
        report: Arc<RwLock<SimulatorReport>>,
    ) -> Result<Live, SimError> {
        if !(config.rate >= 0.0 && config.rate <= 10_000.0) {
            return Err(SimError::Invalid(
                "--rate must be between 0 and 10000 jobs per second".into(),
            ));
        }
        schema::ensure_owned(&db).await?;
        let seed: u64 = schema::get_meta(&db, "sim_seed")
            .await?
            .and_then(|s| s.parse().ok())
            .unwrap_or(config.seed);
        let world = World::build(&mut Rng::new(seed).fork(1));
        let mut live = Live {
            rng: Rng::new(config.seed ^ Utc::now().timestamp() as u64),
            world,
            flights: HashMap::new(),
            due: BinaryHeap::new(),
            tasks: HashMap::new(),
            next_pandaid: 0,
            next_row_id: 0,
            next_worker: 0,
            pilots: HashMap::new(),
            pilot_jobs: HashMap::new(),
            next_task: 0,
            next_dataset: 0,
            next_file: 0,
            arrivals: 0.0,
            retried: 0,
            share_stats_at: 0,
            nuclei: HashMap::new(),
            report,
            config,
            db,
        };
        let now = Utc::now().timestamp();
        let queue_index: HashMap<String, usize> = live
            .world
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.name.clone(), i))
            .collect();
        let mut max_pandaid = 0i64;
        for table in JobTable::ALL {
            max_pandaid = max_pandaid.max(live.db.max_value(table.name(), "pandaid").await?);
            if !matches!(table, JobTable::Defined | JobTable::Active) {
                continue;
            }
            for job in live.db.jobs_in_flight(table.name()).await? {
                let JobInFlight {
                    pandaid,
                    jobstatus: status,
                    jeditaskid: task,
                    computingsite: site,
                    prodsourcelabel: label,
                    attemptnr: attempt,
                    maxattempt,
                    statechangetime: changed,
                    corecount: cores,
                    eventservice,
                } = job;
                let Some(status) = JobStatus::parse(&status) else {
                    tracing::warn!(pandaid, status, "skipping job with unknown status");
                    continue;
                };
                let queue = site.and_then(|s| queue_index.get(&s).copied()).unwrap_or(0);
                let analysis = label.as_deref() == Some("user");
                let flight = Flight {
                    table,
                    status,
                    task: task.unwrap_or(0),
                    queue,
                    attempt: attempt.into(),
                    maxattempt: maxattempt.into(),
                    analysis,
                    worker: None,
                    cores: cores.unwrap_or(1).max(1).into(),
                    eventservice: eventservice.unwrap_or(0) > 0,
                };
                let changed = changed.map_or(now, |t| t.and_utc().timestamp());
                let due = (changed + live.dwell(&flight)).max(now + live.rng.range(1, 120));
                live.due.push(Reverse((due, pandaid)));
                live.flights.insert(pandaid, flight);
            }
        }
        live.next_pandaid = max_pandaid + 1;
        live.next_row_id = live.max_of("filestable4", "row_id").await? + 1;
        live.next_worker = live
            .max_of("harvester_workers", "workerid")
            .await?
            .max(5_000_000)
            + 1;
        live.next_task = live.max_of("jedi_tasks", "jeditaskid").await? + 1;
        live.next_dataset = live.max_of("jedi_datasets", "datasetid").await? + 10;
        live.next_file = live.max_of("jedi_dataset_contents", "fileid").await? + 10;
        live.load_tasks().await?;
        tracing::info!(
            in_flight = live.flights.len(),
            tasks = live.tasks.len(),
            "live simulator loaded"
        );
        Ok(live)
    }

    async fn max_of(&self, table: &str, column: &str) -> Result<i64, SimError> {
        Ok(self.db.max_value(table, column).await?)
    }

    /// Tasks that still have ready input files, with a job to copy new jobs from.
    async fn load_tasks(&mut self) -> Result<(), SimError> {
        for ReadyInput {
            jeditaskid: task,
            datasetid: dataset,
            ready,
            prodsourcelabel: label,
            eventservice,
        } in self.db.ready_inputs().await?
        {
            if let Some((template, files)) = self.find_template(task).await? {
                self.tasks.insert(
                    task,
                    ActiveTask {
                        analysis: label.as_deref() == Some("user"),
                        template,
                        files_per_job: files.max(1),
                        input_dataset: dataset,
                        ready,
                        eventservice: eventservice.unwrap_or(0) > 0,
                    },
                );
            }
        }
        Ok(())
    }

    /// The newest job of a task, in whichever table it is, and how many input files it read.
    async fn find_template(&self, task: i64) -> Result<Option<((JobTable, i64), i64)>, SimError> {
        for table in [
            JobTable::Archived,
            JobTable::Active,
            JobTable::Defined,
            JobTable::Archive,
        ] {
            let row = self.db.newest_job_of_task(table.name(), task).await?;
            if let Some((pandaid, files)) = row {
                return Ok(Some(((table, pandaid), files.unwrap_or(1) as i64)));
            }
        }
        Ok(None)
    }

    /// Seconds a job stays in its current status.
    fn dwell(&mut self, f: &Flight) -> i64 {
        let r = &mut self.rng;
        let s = match f.status {
            JobStatus::Pending => r.exp(45.0),
            JobStatus::Defined | JobStatus::Assigned | JobStatus::Waiting => r.exp(90.0),
            JobStatus::Activated | JobStatus::Throttled => r.lognormal(600.0, 1.0),
            JobStatus::Sent => r.exp(60.0),
            JobStatus::Starting => r.lognormal(120.0, 0.8),
            JobStatus::Running => r.lognormal(if f.analysis { 1_800.0 } else { 7_200.0 }, 0.6),
            JobStatus::Holding => r.exp(120.0),
            JobStatus::Transferring | JobStatus::Merging => r.lognormal(600.0, 1.0),
            _ => 0.0,
        };
        s as i64 + 1
    }

    /// Runs until `shutdown` turns true. Database errors are reported and retried with backoff.
    pub async fn run(mut self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        set_report(&self.report, |r| r.running = true);
        let mut backoff = self.config.tick;
        loop {
            let wait = tokio::time::sleep(backoff);
            tokio::select! {
                _ = wait => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
            match self.tick().await {
                Ok((created, moved)) => {
                    backoff = self.config.tick;
                    let now = Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
                    set_report(&self.report, |r| {
                        r.ticks += 1;
                        r.jobs_created += created;
                        r.transitions += moved;
                        r.last_tick = Some(now);
                        r.last_error = None;
                    });
                }
                Err(e) => {
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "live simulator tick failed");
                    set_report(&self.report, |r| r.last_error = Some(e.to_string()));
                }
            }
        }
        set_report(&self.report, |r| r.running = false);
    }

    /// One step: new arrivals, then every transition that is due.
    pub async fn tick(&mut self) -> Result<(u64, u64), SimError> {
        let now = Utc::now().timestamp();
        self.arrivals += self.config.rate * self.config.tick.as_secs_f64();
        let mut created = 0;
        while self.arrivals >= 1.0 {
            self.arrivals -= 1.0;
            if self.tasks.len() < 10 {
                self.new_task(now).await?;
            }
            if self.new_job(now, None).await? {
                created += 1;
            }
        }
        let retried_before = self.retried;
        let mut moved = 0;
        while let Some(Reverse((due, pandaid))) = self.due.peek().copied() {
            if due > now || moved >= 2_000 {
                break;
            }
            self.due.pop();
            if self.advance(pandaid, now).await? {
                moved += 1;
            }
        }
        created += self.retried - retried_before;
        if now - self.share_stats_at >= SHARE_STATS_EVERY {
            self.db
                .transaction(&self.db.share_stats_statements(ts(now)))
                .await?;
            self.share_stats_at = now;
        }
        Ok((created, moved))
    }

    fn pick_queue(&mut self, analysis: bool) -> usize {
        let cdf = if analysis {
            &self.world.analysis_cdf
        } else {
            &self.world.production_cdf
        };
        self.rng.weighted(cdf)
    }

    /// Creates a job for an active task (or a retry of `parent`). Returns false if no task has
    /// input files left.
    async fn new_job(
        &mut self,
        now: i64,
        parent: Option<(i64, &Flight)>,
    ) -> Result<bool, SimError> {
        let task_id = match parent {
            Some((_, f)) => f.task,
            None => {
                let candidates: Vec<i64> = self
                    .tasks
                    .iter()
                    .filter(|(_, t)| t.ready > 0)
                    .map(|(id, _)| *id)
                    .collect();
                if candidates.is_empty() {
                    return Ok(false);
                }
                let mut sorted = candidates;
                sorted.sort_unstable();
                sorted[self.rng.index(sorted.len())]
            }
        };
        let Some(task) = self.tasks.get(&task_id).cloned() else {
            return Ok(false);
        };
        // Input files: the parent's files for a retry, otherwise the next ready files.
        let pick = match parent {
            Some((parent_id, _)) => FilePick::HeldBy(parent_id),
            None => FilePick::NextReady(task.files_per_job),
        };
        let files = self
            .db
            .input_files(task_id, task.input_dataset, pick)
            .await?;
        if files.is_empty() {
            if parent.is_none()
                && let Some(t) = self.tasks.get_mut(&task_id)
            {
                t.ready = 0;
            }
            return Ok(false);
        }
        let pandaid = self.next_pandaid;
        self.next_pandaid += 1;
        let queue_index = match parent {
            Some((_, f)) if self.rng.chance(0.5) => f.queue,
            _ => self.pick_queue(task.analysis),
        };
        let queue = self.world.queues[queue_index].clone();
        let attempt = parent.map_or(1, |(_, f)| f.attempt + 1);
        let t = Value::Time(ts(now));
        let (template_table, template_id) = match parent {
            Some((id, _)) => (JobTable::Archived, id),
            None => task.template,
        };
        let mut overrides: Vec<(&str, Value)> = vec![
            ("pandaid", pandaid.into()),
            ("jeditaskid", task_id.into()),
            ("taskid", task_id.into()),
            ("jobstatus", "pending".into()),
            ("creationtime", t.clone()),
            ("modificationtime", t.clone()),
            ("statechangetime", t.clone()),
            ("starttime", Value::Null),
            ("endtime", Value::Null),
            ("attemptnr", attempt.into()),
            ("parentid", parent.map(|p| p.0).into()),
            ("computingsite", queue.name.clone().into()),
            ("computingelement", queue.ce.clone().into()),
            ("cloud", queue.cloud.into()),
            ("grid", queue.cloud.into()),
            ("batchid", Value::Null),
            ("pilotid", Value::Null),
            ("cpuconsumptiontime", 0i64.into()),
            ("nevents", 0i64.into()),
            ("transexitcode", Value::Null),
            ("commandtopilot", Value::Null),
            ("ninputfiles", (files.len() as i64).into()),
            ("ninputdatafiles", (files.len() as i64).into()),
            ("noutputdatafiles", 0i64.into()),
            ("outputfilebytes", 0i64.into()),
            ("hs06sec", Value::Null),
            ("gco2_regional", Value::Null),
            ("gco2_global", Value::Null),
            ("actualcorecount", Value::Null),
            ("jobname", format!("{}.live{pandaid}", task_id).into()),
            ("modificationhost", "aipanda062.cern.ch".into()),
            ("hs06", ((queue.corepower * 1.0) as i64).into()),
            // The job is of its task's kind, whichever job it was copied from.
            ("eventservice", i64::from(task.eventservice).into()),
        ];
        for c in ErrorComponent::ALL {
            if c != ErrorComponent::Transform {
                overrides.push((c.code_column(), 0i64.into()));
            }
            if let Some(diag) = c.diag_column() {
                overrides.push((diag, Value::Null));
            }
        }
        for m in [
            "maxrss",
            "maxpss",
            "maxvmem",
            "maxswap",
            "avgrss",
            "avgpss",
            "avgvmem",
            "avgswap",
            "totrchar",
            "totwchar",
            "totrbytes",
            "totwbytes",
            "raterchar",
            "ratewchar",
            "raterbytes",
            "ratewbytes",
            "diskio",
            "memory_leak",
            "memory_leak_x2",
            "jobmetrics",
            "pilottiming",
            "meancorecount",
        ] {
            overrides.push((m, Value::Null));
        }
        let mut statements = vec![self.db.copy_statement(
            template_table.name(),
            DEFINED,
            &[("pandaid", template_id.into())],
            &overrides,
        )];
        statements.push(self.statuslog(
            pandaid,
            now,
            JobStatus::Pending,
            &queue.name,
            queue.cloud,
            task.analysis,
        ));
        if task.eventservice {
            statements.extend(self.new_event_ranges(
                task_id,
                task.input_dataset,
                pandaid,
                attempt,
                &files,
            ));
        }
        for (fileid, lfn) in &files {
            let row_id = self.next_row_id;
            self.next_row_id += 1;
            statements.push(self.db.insert_statement(
                "filestable4",
                &[
                    ("row_id", row_id.into()),
                    ("pandaid", pandaid.into()),
                    ("lfn", lfn.clone().into()),
                    ("type", "input".into()),
                    ("status", "defined".into()),
                    ("fsize", 1_800_000_000i64.into()),
                    ("jeditaskid", task_id.into()),
                    ("datasetid", task.input_dataset.into()),
                    ("fileid", (*fileid).into()),
                    ("attemptnr", attempt.into()),
                ],
            ));
            statements.push(self.db.update_statement(
                "jedi_dataset_contents",
                &[
                    ("status", "running".into()),
                    ("pandaid", pandaid.into()),
                    ("attemptnr", attempt.into()),
                    ("lastattempttime", t.clone()),
                ],
                &[
                    ("jeditaskid", task_id.into()),
                    ("datasetid", task.input_dataset.into()),
                    ("fileid", (*fileid).into()),
                ],
            ));
        }
        statements.push(self.db.increment_statement(
            "jedi_datasets",
            "nfilesused",
            files.len() as i64,
            &[
                ("jeditaskid", task_id.into()),
                ("datasetid", task.input_dataset.into()),
            ],
        ));
        statements.push(
            self.db.insert_statement(
                "jobparamstable",
                &[
                    ("pandaid", pandaid.into()),
                    (
                        "jobparameters",
                        format!(
                            "--inputFile={} --maxEvents=-1 --jobNumber={}",
                            files[0].1,
                            pandaid % 100_000
                        )
                        .into(),
                    ),
                ],
            ),
        );
        if let Some((old, _)) = parent {
            statements.push(self.db.insert_statement(
                "jedi_job_retry_history",
                &[
                    ("jeditaskid", task_id.into()),
                    ("oldpandaid", old.into()),
                    ("newpandaid", pandaid.into()),
                    ("originpandaid", old.into()),
                    ("relationtype", "retry".into()),
                    ("ins_utc_tstamp", t.clone()),
                ],
            ));
        }
        self.db.transaction(&statements).await?;
        if parent.is_none()
            && let Some(t) = self.tasks.get_mut(&task_id)
        {
            t.ready -= files.len() as i64;
        }
        let flight = Flight {
            table: JobTable::Defined,
            status: JobStatus::Pending,
            task: task_id,
            queue: queue_index,
            attempt,
            maxattempt: parent.map_or(if task.analysis { 3 } else { 5 }, |(_, f)| f.maxattempt),
            analysis: task.analysis,
            worker: None,
            cores: parent.map_or(1, |(_, f)| f.cores),
            eventservice: task.eventservice,
        };
        let due = now + self.dwell(&flight);
        self.due.push(Reverse((due, pandaid)));
        self.flights.insert(pandaid, flight);
        Ok(true)
    }

    fn statuslog(
        &self,
        pandaid: i64,
        now: i64,
        status: JobStatus,
        site: &str,
        cloud: &str,
        analysis: bool,
    ) -> Statement {
        self.db.insert_statement(
            "jobs_statuslog",
            &[
                ("pandaid", pandaid.into()),
                ("modificationtime", ts(now).into()),
                ("jobstatus", status.as_str().into()),
                (
                    "prodsourcelabel",
                    if analysis { "user" } else { "managed" }.into(),
                ),
                ("cloud", cloud.to_string().into()),
                ("computingsite", site.to_string().into()),
                ("modificationhost", "aipanda062.cern.ch".into()),
            ],
        )
    }

    /// The event ranges of a new event-service job: four per input file, all ready.
    fn new_event_ranges(
        &self,
        task: i64,
        dataset: i64,
        pandaid: i64,
        attempt: i64,
        files: &[(i64, String)],
    ) -> Vec<Statement> {
        const RANGES: i64 = 4;
        const EVENTS: i64 = 250;
        let mut statements = Vec::new();
        for (f, (fileid, _)) in files.iter().enumerate() {
            for k in 0..RANGES {
                statements.push(self.db.insert_statement(
                    "jedi_events",
                    &[
                        ("jeditaskid", task.into()),
                        ("pandaid", pandaid.into()),
                        ("fileid", (*fileid).into()),
                        ("job_processid", (f as i64 * RANGES + k).into()),
                        ("datasetid", dataset.into()),
                        ("status", EVENT_READY.into()),
                        ("def_min_eventid", (k * EVENTS).into()),
                        ("def_max_eventid", (k * EVENTS + EVENTS - 1).into()),
                        ("attemptnr", attempt.into()),
                        ("is_jumbo", 0i64.into()),
                        ("path_convention", 1i64.into()),
                    ],
                ));
            }
        }
        statements
    }

    /// Moves the event ranges of a job that are in status `from` (and meet `also`) to `to`.
    fn move_events(
        &self,
        (task, pandaid): (i64, i64),
        from: &[i64],
        also: &[(&str, Value)],
        to: i64,
    ) -> Vec<Statement> {
        from.iter()
            .map(|status| {
                let mut keys: Vec<(&str, Value)> = vec![
                    ("jeditaskid", task.into()),
                    ("pandaid", pandaid.into()),
                    ("status", (*status).into()),
                ];
                keys.extend(also.iter().cloned());
                self.db
                    .update_statement("jedi_events", &[("status", to.into())], &keys)
            })
            .collect()
    }

    /// Moves a job to its next status. Returns false if the job is no longer tracked.
    async fn advance(&mut self, pandaid: i64, now: i64) -> Result<bool, SimError> {
        let Some(mut flight) = self.flights.get(&pandaid).cloned() else {
            return Ok(false);
        };
        let queue = self.world.queues[flight.queue].clone();
        let task_bad = flight.task % 23 == 0;
        let fail_p = ((if flight.analysis { 0.10 } else { 0.05 })
            * queue.fail_factor
            * if task_bad { 6.0 } else { 1.0 })
        .min(0.9);
        let next = match flight.status {
            JobStatus::Pending => JobStatus::Defined,
            JobStatus::Defined if !flight.analysis && self.rng.chance(0.3) => JobStatus::Assigned,
            JobStatus::Defined
            | JobStatus::Assigned
            | JobStatus::Waiting
            | JobStatus::Throttled => JobStatus::Activated,
            JobStatus::Activated if self.rng.chance(0.005) => JobStatus::Closed,
            JobStatus::Activated => JobStatus::Sent,
            JobStatus::Sent => JobStatus::Starting,
            JobStatus::Starting => JobStatus::Running,
            JobStatus::Running if self.rng.chance(fail_p) => JobStatus::Failed,
            JobStatus::Running => JobStatus::Holding,
            JobStatus::Holding => JobStatus::Transferring,
            JobStatus::Transferring | JobStatus::Merging => JobStatus::Finished,
            _ => {
                self.flights.remove(&pandaid);
                return Ok(false);
            }
        };
        let t = Value::Time(ts(now));
        let mut sets: Vec<(&str, Value)> = vec![
            ("jobstatus", next.as_str().into()),
            ("modificationtime", t.clone()),
            ("statechangetime", t.clone()),
        ];
        let mut extra: Vec<Statement> = Vec::new();
        match next {
            JobStatus::Sent => {
                // A pilot of the queue still asking for work takes the job (production pilots
                // pull many, as in `simulate`); otherwise Harvester submits a new one.
                let key = (flight.queue, flight.cores > 1, flight.analysis);
                let reuse = match self.pilots.get_mut(&key) {
                    Some((harvester, workerid, left, batchid)) if *left > 0 => {
                        *left -= 1;
                        sets.push(("batchid", batchid.clone().into()));
                        Some((*harvester, *workerid))
                    }
                    _ => None,
                };
                let (harvester, workerid) = match reuse {
                    Some((harvester, workerid)) => {
                        extra.push(self.db.increment_statement(
                            "harvester_workers",
                            "njobs",
                            1,
                            &[
                                ("harvesterid", HARVESTERS[harvester].into()),
                                ("workerid", workerid.into()),
                            ],
                        ));
                        extra.push(self.db.update_statement(
                            "harvester_workers",
                            &[("lastupdate", t.clone())],
                            &[
                                ("harvesterid", HARVESTERS[harvester].into()),
                                ("workerid", workerid.into()),
                            ],
                        ));
                        (harvester, workerid)
                    }
                    None => {
                        let harvester = queue.harvester;
                        let workerid = self.next_worker;
                        self.next_worker += 1;
                        let left = match (flight.analysis, flight.cores > 1) {
                            (true, _) => 0,
                            (false, false) => self.rng.range(3, 12),
                            (false, true) => self.rng.range(12, 40),
                        };
                        let batchid = format!("{}.0", 9_000_000 + workerid % 1_000_000);
                        self.pilots
                            .insert(key, (harvester, workerid, left, batchid.clone()));
                        sets.push(("batchid", batchid.clone().into()));
                        let base = format!(
                            "https://{}/condor_logs/{}/{}",
                            HARVESTERS[harvester].to_lowercase(),
                            workerid / 1000,
                            workerid
                        );
                        extra.push(self.db.insert_statement(
                            "harvester_workers",
                            &[
                                ("harvesterid", HARVESTERS[harvester].into()),
                                ("workerid", workerid.into()),
                                ("lastupdate", t.clone()),
                                ("status", "running".into()),
                                ("nativestatus", "running".into()),
                                ("batchid", batchid.into()),
                                ("queuename", queue.name.clone().into()),
                                ("computingsite", queue.name.clone().into()),
                                ("submittime", ts(now - self.rng.range(60, 1_800)).into()),
                                ("starttime", t.clone()),
                                ("ncore", flight.cores.into()),
                                ("njobs", 1i64.into()),
                                (
                                    "resourcetype",
                                    if flight.cores > 1 { "MCORE" } else { "SCORE" }.into(),
                                ),
                                (
                                    "jobtype",
                                    if flight.analysis { "user" } else { "managed" }.into(),
                                ),
                                ("computingelement", queue.ce.clone().into()),
                                ("stdout", format!("{base}.out").into()),
                                ("stderr", format!("{base}.err").into()),
                                ("batchlog", format!("{base}.log").into()),
                            ],
                        ));
                        (harvester, workerid)
                    }
                };
                flight.worker = Some((harvester, workerid));
                *self.pilot_jobs.entry((harvester, workerid)).or_default() += 1;
                sets.push((
                    "pilotid",
                    format!(
                        "https://{}/condor_logs/{}/{}.out|PR|PICARD|3.9.2.41",
                        HARVESTERS[harvester].to_lowercase(),
                        workerid / 1000,
                        workerid
                    )
                    .into(),
                ));
                extra.push(self.db.insert_statement(
                    "harvester_rel_jobs_workers",
                    &[
                        ("harvesterid", HARVESTERS[harvester].into()),
                        ("workerid", workerid.into()),
                        ("pandaid", pandaid.into()),
                        ("lastupdate", t.clone()),
                    ],
                ));
            }
            JobStatus::Running => {
                sets.push(("starttime", t.clone()));
                sets.push(("actualcorecount", flight.cores.into()));
                if flight.eventservice {
                    // The payload takes its first range; the others are sent to it.
                    let job = (flight.task, pandaid);
                    let first = [("job_processid", Value::Int(0))];
                    extra.extend(self.move_events(job, &[EVENT_READY], &first, EVENT_RUNNING));
                    extra.extend(self.move_events(job, &[EVENT_READY], &[], EVENT_SENT));
                }
            }
            _ => {}
        }
        // Input brought to the site when the job leaves `assigned`; output sent to the nucleus
        // when it finishes.
        let moved = match (flight.status, next) {
            (JobStatus::Assigned, JobStatus::Activated) => Some(false),
            (_, JobStatus::Finished) => Some(true),
            _ => None,
        };
        if let (Some(output), false) = (moved, flight.analysis) {
            for transfer in self
                .transfers(pandaid, &flight, &queue.site, output, now)
                .await?
            {
                extra.push(
                    self.db
                        .insert_statement("transfer_events", &transfer.values()),
                );
            }
        }
        let mut retry = false;
        if next.is_final() && flight.eventservice {
            let job = (flight.task, pandaid);
            let open = [EVENT_READY, EVENT_SENT, EVENT_RUNNING];
            match next {
                JobStatus::Finished => {
                    extra.extend(self.move_events(job, &open, &[], EVENT_FINISHED));
                }
                JobStatus::Failed => {
                    // The range being processed completes; the rest fail with the job.
                    extra.extend(self.move_events(job, &[EVENT_RUNNING], &[], EVENT_FINISHED));
                    extra.extend(self.move_events(job, &open, &[], EVENT_FAILED));
                }
                _ => extra.extend(self.move_events(job, &open, &[], EVENT_CANCELLED)),
            }
        }
        if next.is_final() {
            sets.push(("endtime", t.clone()));
            match next {
                JobStatus::Finished => {
                    sets.push(("transexitcode", "0".into()));
                    sets.push(("noutputdatafiles", 1i64.into()));
                }
                JobStatus::Failed => {
                    let mode = if flight.analysis && self.rng.chance(0.45) {
                        USER_CODE_MODE
                    } else if queue.fail_factor > 1.0 && self.rng.chance(0.7) {
                        queue.fail_mode
                    } else {
                        *self.rng.pick(&[0usize, 1, 2, 3, 4, 5, 6, 7, 11, 12])
                    };
                    for (component, code, diag) in FAILURE_MODES[mode].errors {
                        let Some(c) = ErrorComponent::parse(component) else {
                            continue;
                        };
                        if c == ErrorComponent::Transform {
                            sets.push((c.code_column(), code.to_string().into()));
                        } else {
                            sets.push((c.code_column(), (*code).into()));
                            if let Some(col) = c.diag_column() {
                                sets.push((col, diag.to_string().into()));
                            }
                        }
                    }
                }
                JobStatus::Closed => {
                    sets.push(("taskbuffererrorcode", 105i64.into()));
                    sets.push((
                        "taskbuffererrordiag",
                        "reassigned by rebrokerage: queue had no free slots for 3600 sec".into(),
                    ));
                }
                _ => {}
            }
            retry = matches!(next, JobStatus::Failed | JobStatus::Closed)
                && flight.attempt < flight.maxattempt
                && self.rng.chance(0.9);
            let inputs = self.running_inputs(flight.task, pandaid).await?;
            extra.extend(self.finish_files(pandaid, &flight, next, retry, &t, &inputs));
            if let Some((harvester, workerid)) = flight.worker {
                let held = self.pilot_jobs.entry((harvester, workerid)).or_default();
                *held -= 1;
                let asks_for_more = self
                    .pilots
                    .values()
                    .any(|(h, w, left, _)| (*h, *w) == (harvester, workerid) && *left > 0);
                let keys = [
                    ("harvesterid", HARVESTERS[harvester].into()),
                    ("workerid", workerid.into()),
                ];
                if *held <= 0 && !asks_for_more {
                    self.pilot_jobs.remove(&(harvester, workerid));
                    let finished = next == JobStatus::Finished;
                    extra.push(self.db.update_statement(
                        "harvester_workers",
                        &[
                            (
                                "status",
                                if finished { "finished" } else { "failed" }.into(),
                            ),
                            (
                                "nativestatus",
                                if finished { "completed" } else { "removed" }.into(),
                            ),
                            ("endtime", t.clone()),
                            ("lastupdate", t.clone()),
                        ],
                        &keys,
                    ));
                } else {
                    extra.push(self.db.update_statement(
                        "harvester_workers",
                        &[("lastupdate", t.clone())],
                        &keys,
                    ));
                }
            }
        }
        let target = next.live_table();
        let mut statements = if target == flight.table {
            vec![self.db.update_statement(
                flight.table.name(),
                &sets,
                &[("pandaid", pandaid.into())],
            )]
        } else {
            vec![
                self.db.copy_statement(
                    flight.table.name(),
                    target.name(),
                    &[("pandaid", pandaid.into())],
                    &sets,
                ),
                self.db
                    .delete_statement(flight.table.name(), ("pandaid", pandaid.into())),
            ]
        };
        statements.push(self.statuslog(
            pandaid,
            now,
            next,
            &queue.name,
            queue.cloud,
            flight.analysis,
        ));
        statements.extend(extra);
        let affected = self.db.transaction(&statements).await?;
        if affected.first() == Some(&0) {
            // Someone else moved or removed the job: stop tracking it.
            self.flights.remove(&pandaid);
            return Ok(false);
        }
        flight.status = next;
        flight.table = target;
        if next.is_final() {
            self.flights.remove(&pandaid);
            if retry {
                if self.new_job(now, Some((pandaid, &flight))).await? {
                    self.retried += 1;
                }
            } else {
                self.close_task_if_done(flight.task, now).await?;
            }
        } else {
            let due = now + self.dwell(&flight);
            self.due.push(Reverse((due, pandaid)));
            self.flights.insert(pandaid, flight);
        }
        Ok(true)
    }

    /// Statements that record a final job on its files and datasets, as the bulk simulation does.
    /// The input files a job holds as `running`, per dataset: (datasetid, files).
    /// The transfers a production job's step makes: its input (`output` false) arriving over
    /// the last minutes, or its output leaving for the nucleus.
    async fn transfers(
        &mut self,
        pandaid: i64,
        flight: &Flight,
        site: &str,
        output: bool,
        now: i64,
    ) -> Result<Vec<Transfer>, SimError> {
        if !self.nuclei.contains_key(&flight.task) {
            let found = self.db.task_nucleus(flight.task).await?;
            let known = found.and_then(|(nucleus, name)| Some((nucleus?, name)));
            self.nuclei.insert(flight.task, known);
        }
        let Some(Some((nucleus, name))) = self.nuclei.get(&flight.task).cloned() else {
            return Ok(Vec::new());
        };
        let scope = name.split('.').next().unwrap_or("panda").to_string();
        let window = Some((now - 600, now));
        let job = JobFiles {
            pandaid,
            task: flight.task,
            scope: &scope,
            site,
            nucleus: &nucleus,
            input_dataset: &name,
            output_dataset: &name,
            inputs: if output {
                Vec::new()
            } else {
                self.db.job_inputs(pandaid).await?
            },
            output: output.then(|| (format!("{name}._{pandaid}.pool.root.1"), 1_800_000_000)),
            input_window: window.filter(|_| !output),
            output_window: window.filter(|_| output),
        };
        Ok(job_transfers(&job, now))
    }

    async fn running_inputs(&self, task: i64, pandaid: i64) -> Result<Vec<(i64, i64)>, SimError> {
        Ok(self.db.running_inputs(task, pandaid).await?)
    }

    /// Statements that record a final job on its files and datasets, as the bulk simulation does.
    fn finish_files(
        &self,
        pandaid: i64,
        flight: &Flight,
        status: JobStatus,
        retry: bool,
        t: &Value,
        inputs: &[(i64, i64)],
    ) -> Vec<Statement> {
        let file_status = match (status, retry) {
            (JobStatus::Finished, _) => "finished",
            (_, true) | (JobStatus::Cancelled, _) => "ready",
            _ => "failed",
        };
        let mut out = vec![
            self.db.update_statement(
                "filestable4",
                &[("modificationtime", t.clone()), ("status", "ready".into())],
                &[("pandaid", pandaid.into())],
            ),
            self.db.update_statement(
                "jobparamstable",
                &[("modificationtime", t.clone())],
                &[("pandaid", pandaid.into())],
            ),
        ];
        for (dataset, n) in inputs {
            let (dataset, n) = (*dataset, *n);
            let ds = [
                ("jeditaskid", Value::Int(flight.task)),
                ("datasetid", Value::Int(dataset)),
            ];
            out.push(self.db.update_statement(
                "jedi_dataset_contents",
                &[("status", file_status.into())],
                &[
                    ("jeditaskid", Value::Int(flight.task)),
                    ("datasetid", Value::Int(dataset)),
                    ("pandaid", Value::Int(pandaid)),
                    ("status", Value::from("running")),
                ],
            ));
            out.push(match file_status {
                "finished" => {
                    self.db
                        .increment_statement("jedi_datasets", "nfilesfinished", n, &ds)
                }
                "failed" => self
                    .db
                    .increment_statement("jedi_datasets", "nfilesfailed", n, &ds),
                _ => self
                    .db
                    .increment_statement("jedi_datasets", "nfilesused", -n, &ds),
            });
        }
        if file_status == "finished" {
            for kind in ["output", "log"] {
                let keys = [
                    ("jeditaskid", Value::Int(flight.task)),
                    ("type", Value::from(kind)),
                ];
                for column in ["nfiles", "nfilestobeused", "nfilesused", "nfilesfinished"] {
                    out.push(
                        self.db
                            .increment_statement("jedi_datasets", column, 1, &keys),
                    );
                }
            }
        }
        out
    }

    /// Marks a task done, finished or failed once none of its input files is ready or running.
    async fn close_task_if_done(&mut self, task_id: i64, now: i64) -> Result<(), SimError> {
        if self.flights.values().any(|f| f.task == task_id) {
            return Ok(());
        }
        let Some(task) = self.tasks.get(&task_id).cloned() else {
            return Ok(());
        };
        if task.ready > 0 {
            return Ok(());
        }
        let row = self
            .db
            .dataset_counters(task_id, task.input_dataset)
            .await?;
        let Some((Some(nfiles), finished, failed)) = row else {
            return Ok(());
        };
        let (finished, failed) = (finished.unwrap_or(0), failed.unwrap_or(0));
        if finished + failed < nfiles {
            return Ok(());
        }
        let status = if failed == 0 {
            "done"
        } else if finished == 0 {
            "failed"
        } else {
            "finished"
        };
        let t = Value::Time(ts(now));
        let statements = vec![
            self.db.update_statement(
                "jedi_tasks",
                &[
                    ("status", status.into()),
                    ("superstatus", status.into()),
                    ("modificationtime", t.clone()),
                    ("statechangetime", t.clone()),
                    ("endtime", t.clone()),
                    ("progress", (100 * finished / nfiles.max(1)).into()),
                ],
                &[("jeditaskid", task_id.into())],
            ),
            self.db.insert_statement(
                "tasks_statuslog",
                &[
                    ("jeditaskid", task_id.into()),
                    ("modificationtime", t.clone()),
                    ("status", status.into()),
                    ("modificationhost", "aipanda081.cern.ch".into()),
                    ("attemptnr", 0i64.into()),
                ],
            ),
            self.db.update_statement(
                "jedi_datasets",
                &[("status", "done".into())],
                &[("jeditaskid", task_id.into())],
            ),
        ];
        self.db.transaction(&statements).await?;
        self.tasks.remove(&task_id);
        Ok(())
    }

    /// Starts a new task modelled on an existing one: same kind of work, fresh input files.
    async fn new_task(&mut self, now: i64) -> Result<(), SimError> {
        let candidates = self.db.completed_tasks(50).await?;
        if candidates.is_empty() {
            return Ok(());
        }
        let model = candidates[self.rng.index(candidates.len())];
        let Some((template, files_per_job)) = self.find_template(model).await? else {
            return Ok(());
        };
        let datasets = self.db.task_datasets(model).await?;
        let Some(input) = datasets.iter().find(|d| d.r#type == "input") else {
            return Ok(());
        };
        let analysis = input.prodsourcelabel.as_deref() == Some("user");
        let id = self.next_task;
        self.next_task += 1;
        let jobs =
            (self.rng.lognormal(if analysis { 20.0 } else { 80.0 }, 0.8) as i64).clamp(1, 2_000);
        let n_files = jobs * files_per_job.max(1);
        let t = Value::Time(ts(now));
        let mut statements = vec![self.db.copy_statement(
            "jedi_tasks",
            "jedi_tasks",
            &[("jeditaskid", model.into())],
            &[
                ("jeditaskid", id.into()),
                ("status", "running".into()),
                ("superstatus", "running".into()),
                ("creationdate", t.clone()),
                ("modificationtime", t.clone()),
                ("realmodificationtime", t.clone()),
                ("statechangetime", t.clone()),
                ("starttime", t.clone()),
                ("endtime", Value::Null),
                ("progress", 0i64.into()),
                ("failurerate", 0i64.into()),
                ("parent_tid", id.into()),
                ("errordialog", Value::Null),
                ("oldstatus", Value::Null),
                // Tasks started live are ordinary tasks, whatever their model was.
                ("eventservice", 0i64.into()),
            ],
        )];
        statements.push(self.db.copy_statement(
            "jedi_taskparams",
            "jedi_taskparams",
            &[("jeditaskid", model.into())],
            &[("jeditaskid", id.into())],
        ));
        for status in ["registered", "defined", "ready", "running"] {
            statements.push(self.db.insert_statement(
                "tasks_statuslog",
                &[
                    ("jeditaskid", id.into()),
                    ("modificationtime", t.clone()),
                    ("status", status.into()),
                    ("modificationhost", "aipanda081.cern.ch".into()),
                    ("attemptnr", 0i64.into()),
                ],
            ));
        }
        let mut input_dataset = 0;
        for TaskDataset {
            datasetid: old,
            r#type: kind,
            ..
        } in &datasets
        {
            let new = self.next_dataset;
            self.next_dataset += 1;
            if kind == "input" {
                input_dataset = new;
            }
            let (nfiles, events) = if kind == "input" {
                (n_files, Value::Null)
            } else {
                (0, Value::Null)
            };
            statements.push(self.db.copy_statement(
                "jedi_datasets",
                "jedi_datasets",
                &[("jeditaskid", model.into()), ("datasetid", (*old).into())],
                &[
                    ("jeditaskid", id.into()),
                    ("datasetid", new.into()),
                    ("creationtime", t.clone()),
                    ("modificationtime", t.clone()),
                    (
                        "status",
                        if kind == "input" { "ready" } else { "defined" }.into(),
                    ),
                    ("nfiles", nfiles.into()),
                    ("nfilestobeused", nfiles.into()),
                    ("nfilesused", 0i64.into()),
                    ("nfilesfinished", 0i64.into()),
                    ("nfilesfailed", 0i64.into()),
                    ("nevents", events.clone()),
                    ("neventstobeused", events.clone()),
                    ("neventsused", events),
                ],
            ));
        }
        for n in 0..n_files {
            let fileid = self.next_file;
            self.next_file += 1;
            statements.push(self.db.insert_statement(
                "jedi_dataset_contents",
                &[
                    ("jeditaskid", id.into()),
                    ("datasetid", input_dataset.into()),
                    ("fileid", fileid.into()),
                    ("creationdate", t.clone()),
                    (
                        "lfn",
                        format!("DAOD.{id:08}._{:06}.pool.root.1", n + 1).into(),
                    ),
                    ("type", "input".into()),
                    ("status", "ready".into()),
                    ("attemptnr", 0i64.into()),
                    ("failedattempt", 0i64.into()),
                    ("fsize", 1_800_000_000i64.into()),
                    ("ramcount", 0i64.into()),
                ],
            ));
        }
        self.db.transaction(&statements).await?;
        self.tasks.insert(
            id,
            ActiveTask {
                analysis,
                template,
                files_per_job: files_per_job.max(1),
                input_dataset,
                ready: n_files,
                eventservice: false,
            },
        );
        set_report(&self.report, |r| r.tasks_created += 1);
        Ok(())
    }

    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }
}

fn set_report(report: &Arc<RwLock<SimulatorReport>>, update: impl FnOnce(&mut SimulatorReport)) {
    if let Ok(mut r) = report.write() {
        update(&mut r);
    }
}
