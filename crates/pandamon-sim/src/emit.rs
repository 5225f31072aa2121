//! Turns a [`Plan`] into the rows of every PanDA table as they stand at the plan's `now`.

use crate::plan::{JobPlan, Outcome, Plan, Stage, Staging, TaskKind, TaskPlan};
use crate::rng::Rng;
use crate::transfers::{JobFiles, emit_transfers, job_transfers, staging_transfers};
use crate::world::{FAILURE_MODES, HARVESTERS, OTHER_ERRORS, Queue, RELEASES, failure_category};
use chrono::{DateTime, NaiveDateTime};
use pandamon_model::{ErrorComponent, JobStatus, JobTable};
use pandamon_store::{Batch, Value};
use std::collections::{BTreeMap, HashMap};

/// Jobs final for longer than this live in the archive table instead of `jobsarchived4`.
pub const ARCHIVE_AFTER_SECS: i64 = 3 * 86_400;

pub fn ts(t: i64) -> NaiveDateTime {
    DateTime::from_timestamp(t, 0)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

/// Collects rows per table and hands full batches to a sink.
pub struct Tables<'s> {
    open: HashMap<&'static str, Batch>,
    sink: &'s mut dyn FnMut(Batch),
}

impl<'s> Tables<'s> {
    pub fn new(sink: &'s mut dyn FnMut(Batch)) -> Tables<'s> {
        Tables {
            open: HashMap::new(),
            sink,
        }
    }

    /// Builds a row for `table` with `fill`, then queues it.
    pub fn row(&mut self, table: &'static str, fill: impl FnOnce(&Batch, &mut Vec<Value>)) {
        let batch = self.open.entry(table).or_insert_with(|| Batch::new(table));
        let mut row = batch.blank();
        fill(batch, &mut row);
        batch.push(row);
        let limit = (200_000 / batch.table.columns.len()).max(500);
        if batch.len() >= limit {
            let full = std::mem::replace(batch, Batch::new(table));
            (self.sink)(full);
        }
    }

    pub fn flush(&mut self) {
        let mut names: Vec<&'static str> = self.open.keys().copied().collect();
        names.sort();
        for name in names {
            if let Some(batch) = self.open.remove(name)
                && !batch.is_empty()
            {
                (self.sink)(batch);
            }
        }
    }
}

/// What a job looks like at `now`.
pub struct JobState {
    pub status: JobStatus,
    pub table: JobTable,
    pub modified: i64,
    pub state_changed: i64,
}

pub fn job_status(job: &JobPlan, stage: Stage) -> JobStatus {
    match stage {
        Stage::Pending => JobStatus::Pending,
        Stage::Defined => JobStatus::Defined,
        Stage::Assigned => JobStatus::Assigned,
        Stage::Activated => JobStatus::Activated,
        Stage::Sent => JobStatus::Sent,
        Stage::Starting => JobStatus::Starting,
        Stage::Running => JobStatus::Running,
        Stage::Holding => JobStatus::Holding,
        Stage::Transferring => JobStatus::Transferring,
        Stage::Final => match job.outcome {
            Outcome::Finished => JobStatus::Finished,
            Outcome::Failed(_) => JobStatus::Failed,
            Outcome::Cancelled => JobStatus::Cancelled,
            Outcome::Closed => JobStatus::Closed,
        },
    }
}

pub fn job_state(job: &JobPlan, now: i64) -> Option<JobState> {
    let stage = job.stage_at(now)?;
    let status = job_status(job, stage);
    let state_changed = job.times[stage as usize];
    let table = if status.is_final() && now - state_changed > ARCHIVE_AFTER_SECS {
        JobTable::Archive
    } else {
        status.live_table()
    };
    // Running jobs get pilot heartbeats every 30 minutes.
    let modified = if stage == Stage::Running {
        state_changed + ((now - state_changed) / 1_800) * 1_800
    } else {
        state_changed
    };
    Some(JobState {
        status,
        table,
        modified,
        state_changed,
    })
}

/// Status of a task's input file group at `now`, from the latest existing attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Ready,
    Running,
    Finished,
    Failed,
}

pub struct TaskState {
    pub status: &'static str,
    pub modified: i64,
    pub end: Option<i64>,
    pub files: Vec<(FileState, Option<u32>)>,
    pub n_finished: i64,
    pub n_failed: i64,
    pub n_used: i64,
    pub jobs_final: i64,
    pub jobs_failed: i64,
    pub history: Vec<(i64, &'static str)>,
}

pub fn task_state(plan: &Plan, task: &TaskPlan) -> TaskState {
    let now = plan.now;
    let groups = task.planned_jobs as usize;
    let mut files: Vec<(FileState, Option<u32>)> = vec![(FileState::Ready, None); groups];
    let mut modified = task.created;
    let mut jobs_final = 0;
    let mut jobs_failed = 0;
    let mut any_active = false;
    let mut all_scouts = true;
    let mut last_final = task.created;
    for &j in &task.jobs {
        let job = &plan.jobs[j as usize];
        let Some(state) = job_state(job, now) else {
            continue;
        };
        modified = modified.max(state.modified);
        if state.status.is_final() {
            jobs_final += 1;
            last_final = last_final.max(state.state_changed);
            if state.status == JobStatus::Failed {
                jobs_failed += 1;
            }
        } else {
            any_active = true;
        }
        if !job.scout {
            all_scouts = false;
        }
        let latest = job
            .retry
            .is_none_or(|r| plan.jobs[r as usize].created() > now);
        if !latest {
            continue;
        }
        let group = (job.first_file / task.files_per_job.max(1)) as usize;
        let file_state = match state.status {
            JobStatus::Finished => FileState::Finished,
            JobStatus::Failed | JobStatus::Closed if job.retry.is_none() => FileState::Failed,
            JobStatus::Failed | JobStatus::Closed | JobStatus::Cancelled => FileState::Ready,
            _ => FileState::Running,
        };
        if group < files.len() {
            files[group] = (file_state, Some(j));
        }
    }
    let per = task.files_per_job as i64;
    let count = |s: FileState| files.iter().filter(|f| f.0 == s).count() as i64 * per;
    let n_finished = count(FileState::Finished);
    let n_failed = count(FileState::Failed);
    let n_used = n_finished + n_failed + count(FileState::Running);
    let mut history = vec![
        (task.created, "registered"),
        (task.created + 5, "defined"),
        (task.created + 30, "assigning"),
    ];
    let existing = task
        .jobs
        .iter()
        .filter(|&&j| plan.jobs[j as usize].created() <= now)
        .count();
    let (status, end) = if let Some(abort) = task.aborted_at.filter(|&a| a <= now) {
        (("aborted"), Some(abort))
    } else if let Some(staging) = &task.staging {
        history.push((staging.created, "staging"));
        if staging.cancelled {
            ("aborted", Some(staging.started + 3_600))
        } else if staging.done.is_none_or(|d| d > now) || task.first_job_at > now {
            ("staging", None)
        } else {
            running_status(task, &files, existing, any_active, all_scouts, last_final)
        }
    } else if task.first_job_at > now {
        (
            if now - task.created < 60 {
                "registered"
            } else {
                "ready"
            },
            None,
        )
    } else {
        running_status(task, &files, existing, any_active, all_scouts, last_final)
    };
    if task.first_job_at <= now && !matches!(status, "staging" | "registered") {
        history.push((task.first_job_at.max(task.created + 60), "ready"));
        if task.kind == TaskKind::Production && task.planned_jobs > 10 {
            history.push((task.first_job_at + 1, "scouting"));
        }
        if status != "scouting" && existing > 0 {
            history.push((task.first_job_at + 2, "running"));
        }
    }
    if let Some(end) = end {
        history.push((end, status));
    }
    history.retain(|(t, _)| *t <= now);
    TaskState {
        status,
        modified: modified.max(end.unwrap_or(0)).min(now),
        end,
        files,
        n_finished,
        n_failed,
        n_used,
        jobs_final,
        jobs_failed,
        history,
    }
}

fn running_status(
    task: &TaskPlan,
    files: &[(FileState, Option<u32>)],
    existing: usize,
    any_active: bool,
    all_scouts: bool,
    last_final: i64,
) -> (&'static str, Option<i64>) {
    let all_final = files
        .iter()
        .all(|f| matches!(f.0, FileState::Finished | FileState::Failed));
    if existing > 0 && all_final && !any_active {
        let failed = files.iter().filter(|f| f.0 == FileState::Failed).count();
        let status = if failed == 0 {
            "done"
        } else if failed == files.len() {
            "failed"
        } else {
            "finished"
        };
        (status, Some(last_final + 300))
    } else if task.kind == TaskKind::Production && all_scouts && task.planned_jobs > 10 {
        ("scouting", None)
    } else {
        ("running", None)
    }
}

/// Writes the whole plan as rows into `tables`; `progress` is told how many jobs are done.
pub fn emit(plan: &Plan, tables: &mut Tables<'_>, progress: &mut dyn FnMut(u64)) {
    let mut rng = Rng::new(plan.now as u64 ^ 0x5EED);
    emit_world(plan, tables, &mut rng);
    let mut workers = WorkerBook::default();
    let mut share_stats: HashMap<
        (String, i64, &'static str, u16, &'static str, String),
        ShareStat,
    > = HashMap::new();
    let mut dataset_id: i64 = 100_000_000;
    let mut file_id: i64 = 30_000_000_000;
    let mut row_id: i64 = 9_000_000_000;
    let mut done: u64 = 0;
    let mut meta = MetaTally::default();
    let now = plan.now;
    for task in &plan.tasks {
        let state = task_state(plan, task);
        emit_task(plan, task, &state, tables);
        // Datasets and their file contents.
        let input_id = dataset_id;
        dataset_id += 3;
        emit_datasets(plan, task, &state, input_id, tables);
        for (group, (file_state, job)) in state.files.iter().enumerate() {
            for k in 0..task.files_per_job {
                let n = group as u32 * task.files_per_job + k;
                let fid = file_id + n as i64;
                tables.row("jedi_dataset_contents", |b, r| {
                    b.set(r, "jeditaskid", task.id);
                    b.set(r, "datasetid", input_id);
                    b.set(r, "fileid", fid);
                    b.set(r, "creationdate", ts(task.created));
                    b.set(r, "lfn", input_lfn(task, n));
                    b.set(r, "guid", guid(task.id, n as i64));
                    b.set(r, "type", "input");
                    b.set(
                        r,
                        "status",
                        match (file_state, &task.staging) {
                            (FileState::Ready, Some(_)) if state.status == "staging" => "staging",
                            (FileState::Ready, _) => "ready",
                            (FileState::Running, _) => "running",
                            (FileState::Finished, _) => "finished",
                            (FileState::Failed, _) => "failed",
                        },
                    );
                    b.set(
                        r,
                        "fsize",
                        1_500_000_000i64 + (n as i64 * 7_919) % 900_000_000,
                    );
                    b.set(
                        r,
                        "checksum",
                        format!("ad:{:08x}", (fid as u64).wrapping_mul(2_654_435_761) as u32),
                    );
                    b.set(r, "scope", task.project);
                    b.set(r, "nevents", task.events_per_file);
                    b.set(r, "keeptrack", 1i64);
                    b.set(r, "maxattempt", task.maxattempt as i64);
                    b.set(r, "maxfailure", 3i64);
                    b.set(r, "ramcount", 0i64);
                    if let Some(j) = job {
                        let jp = &plan.jobs[*j as usize];
                        b.set(r, "pandaid", jp.pandaid);
                        b.set(r, "attemptnr", jp.attempt as i64);
                        b.set(r, "lastattempttime", ts(jp.created()));
                        b.set(
                            r,
                            "failedattempt",
                            jp.attempt as i64 - 1 + i64::from(*file_state == FileState::Failed),
                        );
                    } else {
                        b.set(r, "attemptnr", 0i64);
                        b.set(r, "failedattempt", 0i64);
                    }
                    b.set(r, "startevent", 0i64);
                    b.set(r, "endevent", task.events_per_file - 1);
                    b.set(r, "firstevent", 1i64);
                });
            }
        }
        file_id += task.n_files as i64 + 16;
        for &j in &task.jobs {
            let job = &plan.jobs[j as usize];
            let Some(js) = job_state(job, now) else {
                continue;
            };
            let queue = &plan.world.queues[job.queue as usize];
            let worker = workers.assign(plan, job, queue, &js, &mut rng);
            emit_job(
                plan,
                task,
                job,
                &js,
                queue,
                worker.as_ref(),
                input_id,
                file_id,
                &mut row_id,
                tables,
            );
            meta.add(plan, task, job, &js, queue);
            if task.kind == TaskKind::Production {
                emit_transfers(tables, &job_transfers(&job_files(task, job, queue), now));
            }
            if js.table == JobTable::Active {
                let key = (
                    task.share.to_string(),
                    task.workqueue_id,
                    task.resource_type,
                    job.queue,
                    js.status.as_str(),
                    task.nucleus.clone(),
                );
                let stat = share_stats.entry(key).or_default();
                stat.njobs += 1;
                stat.maxpriority = stat.maxpriority.max(job_priority(task, job));
                stat.hs += (queue.corepower * task.corecount.max(1) as f64) as i64;
                stat.mem += task.ramcount;
            }
            done += 1;
            if done.is_multiple_of(10_000) {
                progress(done);
            }
        }
    }
    workers.emit(plan, tables, &mut rng);
    emit_share_stats(plan, share_stats, tables);
    emit_idds(plan, tables, &mut rng);
    emit_carousel(plan, tables);
    meta.emit(plan, tables);
    progress(done);
    tables.flush();
}

#[derive(Default)]
struct ShareStat {
    njobs: i64,
    maxpriority: i64,
    hs: i64,
    mem: i64,
}

fn job_priority(task: &TaskPlan, job: &JobPlan) -> i64 {
    match task.kind {
        TaskKind::Production => {
            task.priority + if job.scout { 10 } else { 0 } - (job.attempt as i64 - 1) * 5
        }
        TaskKind::Analysis => 1_000 - (job.pandaid % 97) * 3,
    }
}

fn guid(task: i64, n: i64) -> String {
    let x = (task as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (n as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let y = x.rotate_left(29).wrapping_mul(0x1656_67B1_9E37_79F9);
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        (x >> 32) as u32,
        (x >> 16) as u16,
        x as u16,
        (y >> 48) as u16,
        y & 0xFFFF_FFFF_FFFF
    )
}

fn dataset_base(name: &str) -> &str {
    name.split_once(':').map(|(_, n)| n).unwrap_or(name)
}

/// The name of a job's output file.
fn output_lfn(task: &TaskPlan, job: &JobPlan) -> String {
    format!(
        "{}.{:08}._{:06}.pool.root.1",
        task.output_type,
        task.id - 1_000,
        job.first_file + 1
    )
}

/// The CPU efficiency of a job, in %: its kind of work sets it (event generation and
/// simulation are CPU bound, reconstruction and merging wait on I/O, analysis more so), a queue's
/// storage shaves some off (some queues much more), and a failed job wasted part of its slot.
fn cpu_efficiency(task: &TaskPlan, queue: &Queue, status: JobStatus) -> i64 {
    let work: i64 = match (task.kind, task.processingtype) {
        (TaskKind::Analysis, _) => 62,
        (_, "evgen") => 96,
        (_, "simul" | "fastsim") => 93,
        (_, "reco" | "recon" | "pile" | "pileup") => 82,
        (_, "merge") => 55,
        _ => 78,
    };
    let key = queue
        .name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let storage = if key % 11 == 0 { 25 } else { (key % 8) as i64 };
    let wasted = if status == JobStatus::Failed { 20 } else { 0 };
    (work - storage - wasted).clamp(10, 99)
}

/// The size of every simulated data file.
const FILE_BYTES: i64 = 1_800_000_000;

/// What the transfers of a production job need: its files, where it ran and when its input and
/// output moved.
fn job_files<'a>(task: &'a TaskPlan, job: &JobPlan, queue: &'a Queue) -> JobFiles<'a> {
    let at = |stage: Stage| Some(job.times[stage as usize]).filter(|&t| t != 0);
    JobFiles {
        pandaid: job.pandaid,
        task: task.id,
        scope: task.project,
        site: &queue.site,
        nucleus: &task.nucleus,
        input_dataset: dataset_base(&task.input_dataset),
        output_dataset: dataset_base(&task.output_dataset),
        inputs: (0..u32::from(job.n_files))
            .map(|k| (input_lfn(task, job.first_file + k), FILE_BYTES))
            .collect(),
        output: (job.outcome == Outcome::Finished).then(|| (output_lfn(task, job), FILE_BYTES)),
        input_window: at(Stage::Assigned).zip(at(Stage::Activated)),
        output_window: if job.outcome == Outcome::Finished {
            at(Stage::Transferring).zip(at(Stage::Final))
        } else {
            None
        },
    }
}

fn input_lfn(task: &TaskPlan, n: u32) -> String {
    format!(
        "{}.{:08}._{:06}.pool.root.1",
        task.input_type,
        task.id - 1_000,
        n + 1
    )
}

fn emit_world(plan: &Plan, tables: &mut Tables<'_>, rng: &mut Rng) {
    let now = plan.now;
    let world = &plan.world;
    for q in &world.queues {
        let data = q.json(HARVESTERS[q.harvester], world.nucleus_of_cloud(q.cloud));
        tables.row("schedconfig_json", |b, r| {
            b.set(r, "panda_queue", q.name.clone());
            b.set(r, "data", data.to_string());
            b.set(r, "last_update", ts(now - 600));
        });
    }
    for (name, min, max, minram, maxram) in [
        ("SCORE", 1, 1, 0, 2_000),
        ("MCORE", 2, 0, 0, 2_000),
        ("SCORE_HIMEM", 1, 1, 2_001, 0),
        ("MCORE_HIMEM", 2, 0, 2_001, 0),
    ] {
        tables.row("resource_types", |b, r| {
            b.set(r, "resource_name", name);
            b.set(r, "mincore", min as i64);
            b.set(
                r,
                "maxcore",
                if max == 0 {
                    Value::Null
                } else {
                    Value::Int(max)
                },
            );
            b.set(
                r,
                "minrampercore",
                if minram == 0 {
                    Value::Null
                } else {
                    Value::Int(minram)
                },
            );
            b.set(
                r,
                "maxrampercore",
                if maxram == 0 {
                    Value::Null
                } else {
                    Value::Int(maxram)
                },
            );
        });
    }
    // The error catalogue: every code the simulator uses, with a category.
    let mut id = 1i64;
    let mut seen = std::collections::HashSet::new();
    let mut describe = |tables: &mut Tables<'_>,
                        component: &str,
                        code: i64,
                        acronym: &str,
                        diag: &str,
                        category: i16| {
        if !seen.insert((component.to_string(), code)) {
            return;
        }
        let component = ErrorComponent::parse(component)
            .map(|c| c.name())
            .unwrap_or("pilot");
        let description = format!(
            "{acronym}: {diag}. Reported by the {component} component with code {code}; see the job logs for the full context."
        );
        tables.row("error_descriptions", |b, r| {
            b.set(r, "id", id);
            b.set(r, "component", component);
            b.set(r, "code", code);
            b.set(r, "acronym", acronym.to_string());
            b.set(r, "diagnostics", diag.chars().take(250).collect::<String>());
            b.set(r, "description", description);
            b.set(r, "category", category as i64);
        });
        id += 1;
    };
    for mode in FAILURE_MODES {
        let (category, acronym) = failure_category(mode);
        for (component, code, diag) in mode.errors {
            let diag = if diag.is_empty() {
                "Transformation exit code"
            } else {
                diag
            };
            describe(tables, component, *code, acronym, diag, category);
        }
    }
    for (component, code, acronym, diag, category) in OTHER_ERRORS {
        describe(tables, component, *code, acronym, diag, *category);
    }
    for (i, name) in HARVESTERS.iter().enumerate() {
        tables.row("harvester_instances", |b, r| {
            b.set(r, "harvester_id", *name);
            b.set(r, "description", format!("harvester instance {name}"));
            b.set(r, "starttime", ts(now - 86_400 * (3 + i as i64)));
            b.set(r, "owner", "atlas-adc-harvester");
            b.set(r, "hostname", format!("aipanda{:03}.cern.ch", 170 + i));
            b.set(r, "lastupdate", ts(now - rng.range(5, 300)));
            b.set(r, "sw_version", format!("0.5.{}", 10 + i % 3));
            b.set(r, "commit_stamp", rng.hex(40));
        });
        for d in 0..20 {
            let level = *rng.pick(&["INFO", "INFO", "WARNING", "ERROR"]);
            let module = *rng.pick(&[
                "submitter",
                "monitor",
                "sweeper",
                "propagator",
                "cred_manager",
            ]);
            tables.row("harvester_dialogs", |b, r| {
                b.set(r, "harvester_id", *name);
                b.set(r, "diagid", d as i64 + 1);
                b.set(r, "modulename", module);
                b.set(r, "identifier", format!("{module}-{}", rng.range(1, 9)));
                b.set(r, "creationtime", ts(now - rng.range(0, 6 * 86_400)));
                b.set(r, "messagelevel", level);
                b.set(
                    r,
                    "diagmessage",
                    match level {
                        "ERROR" => format!(
                            "failed to submit workers to {}: condor_submit timed out",
                            plan.world.queues[rng.index(plan.world.queues.len())].name
                        ),
                        "WARNING" => "proxy lifetime below 48 hours, renewing".to_string(),
                        _ => format!("cycle done: {} workers updated", rng.range(10, 5_000)),
                    },
                );
            });
        }
    }
    for s in &world.shares {
        tables.row("global_shares", |b, r| {
            b.set(r, "name", s.name);
            b.set(r, "value", s.value);
            b.set(r, "parent", s.parent);
            b.set(r, "prodsourcelabel", s.prodsourcelabel);
            b.set(r, "processingtype", s.processingtype);
            b.set(r, "vo", "atlas");
            b.set(r, "queue_id", s.queue_id);
            b.set(r, "throttled", "N");
            b.set(r, "rtype", "grid");
        });
        // The work queue a task's `workqueue_id` names: global shares have queue ids of
        // their own (the 9000 range), registered as JEDI work queues of function Resource.
        let label = s.prodsourcelabel.unwrap_or("managed");
        tables.row("jedi_work_queue", |b, r| {
            b.set(r, "queue_id", s.queue_id);
            b.set(r, "queue_name", s.name);
            b.set(r, "queue_type", label.split('|').next().unwrap_or(label));
            b.set(r, "vo", "atlas");
            b.set(r, "status", "active");
            b.set(r, "partitionid", Value::Null);
            b.set(r, "stretchable", 0i64);
            b.set(r, "queue_share", s.value);
            b.set(r, "queue_order", s.queue_id - 9_000);
            b.set(r, "queue_function", "Resource");
        });
    }
    emit_storage(plan, tables, rng);
    for q in world
        .queues
        .iter()
        .filter(|q| q.status == "online")
        .take(40)
    {
        for (gshare, rt) in [("MC Simulation Full", "MCORE"), ("User Analysis", "SCORE")] {
            tables.row("harvester_slots", |b, r| {
                b.set(r, "pandaqueuename", q.name.clone());
                b.set(r, "gshare", gshare);
                b.set(r, "resourcetype", rt);
                b.set(r, "numslots", (q.weight * 100.0) as i64 + 10);
                b.set(r, "modificationtime", ts(now - 3_600));
                b.set(r, "expirationtime", ts(now + 86_400));
            });
        }
    }
}

/// The storage endpoints (RSEs) of every site, disk and, at Tier-0/1, tape; and per queue the
/// metrics PanDA's brokerage keeps (queuing and running times per share).
fn emit_storage(plan: &Plan, tables: &mut Tables<'_>, rng: &mut Rng) {
    let now = plan.now;
    let mut sites: Vec<(&str, u8)> = plan
        .world
        .queues
        .iter()
        .map(|q| (q.site.as_str(), q.tier_level))
        .collect();
    sites.sort_unstable();
    sites.dedup_by_key(|s| s.0);
    for (site, tier) in sites {
        let mut kinds = vec![("DATADISK", "DATADISK"), ("SCRATCHDISK", "SCRATCHDISK")];
        if tier <= 1 {
            kinds.push(("DATATAPE", "DATATAPE"));
        }
        for (suffix, kind) in kinds {
            let tape = kind == "DATATAPE";
            let total: i64 = match (tier, tape) {
                (_, true) => rng.range(20_000, 90_000),
                (0 | 1, false) => rng.range(8_000, 30_000),
                _ => rng.range(500, 6_000),
            };
            let used = total * rng.range(40, 95) / 100;
            let blacklisted = if rng.chance(0.03) { "Y" } else { "N" };
            tables.row("ddm_endpoint", |b, r| {
                b.set(r, "ddm_endpoint_name", format!("{site}_{suffix}"));
                b.set(r, "site_name", site.to_string());
                b.set(r, "ddm_spacetoken_name", format!("ATLAS{kind}"));
                b.set(r, "space_total", total);
                b.set(r, "space_used", used);
                b.set(r, "space_free", total - used);
                b.set(r, "space_expired", used / 50);
                b.set(r, "space_min_free", total / 20);
                b.set(r, "space_unavailable", 0i64);
                b.set(r, "is_tape", if tape { "Y" } else { "N" });
                b.set(r, "type", kind);
                b.set(r, "blacklisted", blacklisted);
                b.set(r, "blacklisted_read", blacklisted);
                b.set(r, "blacklisted_write", blacklisted);
                b.set(r, "space_timestamp", ts(now - rng.range(600, 7_200)));
                b.set(
                    r,
                    "detailed_status",
                    serde_json::json!({
                        "read": if blacklisted == "Y" { "OFF" } else { "ON" },
                        "write": if blacklisted == "Y" { "OFF" } else { "ON" },
                        "delete": "ON",
                    })
                    .to_string(),
                );
            });
        }
    }
    for q in &plan.world.queues {
        let share = match q.kind {
            crate::world::QueueKind::Analysis => "User Analysis",
            _ => "MC Simulation Full",
        };
        for (metric, median) in [
            ("queuing_time", rng.range(300, 7_200)),
            ("running_time", rng.range(1_800, 43_200)),
        ] {
            tables.row("metrics", |b, r| {
                b.set(r, "computingsite", q.name.clone());
                b.set(r, "gshare", share);
                b.set(r, "metric", metric);
                b.set(
                    r,
                    "value_json",
                    serde_json::json!({"median": median, "p90": median * 3, "unit": "s"})
                        .to_string(),
                );
                b.set(r, "timestamp", ts(now - rng.range(60, 1_800)));
            });
        }
    }
}

/// What the legacy meta tables (`users`, `sitedata`) count, gathered while the jobs are
/// written.
#[derive(Default)]
struct MetaTally {
    /// Per user: (jobs in 7 days, jobs in 1 day, first job, latest job, CPU seconds in 1 and
    /// 7 days).
    users: BTreeMap<String, UserTally>,
    /// Per queue: jobs by status now, finished and failed in the last 12 hours.
    sites: BTreeMap<String, BTreeMap<&'static str, i64>>,
}

#[derive(Default)]
struct UserTally {
    jobs7: i64,
    jobs1: i64,
    first: i64,
    latest: i64,
    cpu1: i64,
    cpu7: i64,
    analysis: bool,
}

impl MetaTally {
    fn add(&mut self, plan: &Plan, task: &TaskPlan, job: &JobPlan, js: &JobState, queue: &Queue) {
        let now = plan.now;
        let created = job.created();
        if let Some(u) = task.user_index {
            let user = self
                .users
                .entry(plan.world.users[u].name.clone())
                .or_default();
            user.analysis |= task.kind == TaskKind::Analysis;
            if user.first == 0 || created < user.first {
                user.first = created;
            }
            user.latest = user.latest.max(created);
            let start = job.times[Stage::Running as usize];
            let cpu = if start != 0 && start <= now {
                let end = if js.status.is_final() {
                    js.state_changed
                } else {
                    now
                };
                (end - start).max(0) * task.corecount.max(1)
            } else {
                0
            };
            if now - created <= 7 * 86_400 {
                user.jobs7 += 1;
                user.cpu7 += cpu;
            }
            if now - created <= 86_400 {
                user.jobs1 += 1;
                user.cpu1 += cpu;
            }
        }
        let counts = self.sites.entry(queue.name.clone()).or_default();
        let recent = now - js.state_changed <= 12 * 3_600;
        match js.status {
            JobStatus::Finished | JobStatus::Failed if recent => {
                *counts.entry(js.status.as_str()).or_default() += 1
            }
            s if !s.is_final() => *counts.entry(s.as_str()).or_default() += 1,
            _ => {}
        }
    }

    fn emit(self, plan: &Plan, tables: &mut Tables<'_>) {
        let now = plan.now;
        for (i, (name, u)) in self.users.into_iter().enumerate() {
            tables.row("users", |b, r| {
                b.set(r, "id", i as i64 + 1);
                b.set(r, "name", name.clone());
                b.set(
                    r,
                    "dn",
                    format!("/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN={name}"),
                );
                b.set(r, "njobsa", if u.analysis { u.jobs7 } else { 0 });
                b.set(r, "njobsp", if u.analysis { 0 } else { u.jobs7 });
                b.set(r, "njobs1", u.jobs1);
                b.set(r, "njobs7", u.jobs7);
                // CPU in hours, as bigmon's aggregator writes them.
                let (a1, a7) = (u.cpu1 / 3_600, u.cpu7 / 3_600);
                b.set(r, "cpua1", if u.analysis { a1 } else { 0 });
                b.set(r, "cpua7", if u.analysis { a7 } else { 0 });
                b.set(r, "cpup1", if u.analysis { 0 } else { a1 });
                b.set(r, "cpup7", if u.analysis { 0 } else { a7 });
                b.set(r, "firstjob", ts(u.first));
                b.set(r, "latestjob", ts(u.latest));
                b.set(r, "lastmod", ts(now - 1_800));
                b.set(r, "status", "active");
                b.set(r, "vo", "atlas");
            });
        }
        for (site, counts) in self.sites {
            let n = |s: &str| counts.get(s).copied().unwrap_or(0);
            tables.row("sitedata", |b, r| {
                b.set(r, "site", site.clone());
                b.set(r, "flag", "production");
                b.set(r, "hours", 12i64);
                b.set(r, "finished", n("finished"));
                b.set(r, "failed", n("failed"));
                b.set(r, "defined", n("defined"));
                b.set(r, "assigned", n("assigned"));
                b.set(r, "waiting", n("waiting"));
                b.set(r, "activated", n("activated"));
                b.set(r, "holding", n("holding"));
                b.set(r, "running", n("running"));
                b.set(r, "transferring", n("transferring"));
                b.set(r, "lastmod", ts(now - 300));
            });
        }
    }
}

/// Event ranges of an event-service job, four per input file, in the states the job's own
/// state implies: ready before it runs, some done and one running while it runs, all finished
/// when it finished, failed or cancelled ranges otherwise.
fn emit_events(
    task: &TaskPlan,
    job: &JobPlan,
    js: &JobState,
    inputs: &[(i64, i64)],
    tables: &mut Tables<'_>,
) {
    const RANGES: i64 = 4;
    let chunk = (task.events_per_file / RANGES).max(1);
    let running = matches!(
        js.status,
        JobStatus::Running | JobStatus::Holding | JobStatus::Transferring
    );
    for (f, (datasetid, fileid)) in inputs.iter().enumerate() {
        for k in 0..RANGES {
            let n = f as i64 * RANGES + k;
            // (status, processed up to, error code)
            let (status, done, error) = match js.status {
                JobStatus::Finished => (3i64, true, None),
                JobStatus::Failed if k == 0 => (3, true, None),
                JobStatus::Failed => (7, false, Some(1228i64)),
                JobStatus::Cancelled | JobStatus::Closed => (4, false, None),
                _ if running && n == 0 => (3, true, None),
                _ if running && n == 1 => (2, false, None),
                _ if running => (1, false, None),
                _ => (0, false, None),
            };
            let low = k * chunk;
            tables.row("jedi_events", |b, r| {
                b.set(r, "jeditaskid", task.id);
                b.set(r, "pandaid", job.pandaid);
                b.set(r, "fileid", *fileid);
                b.set(r, "job_processid", n);
                b.set(r, "datasetid", *datasetid);
                b.set(r, "status", status);
                b.set(r, "def_min_eventid", low);
                b.set(r, "def_max_eventid", low + chunk - 1);
                b.set(
                    r,
                    "processed_upto_eventid",
                    if done {
                        Value::Int(low + chunk - 1)
                    } else {
                        Value::Null
                    },
                );
                b.set(r, "attemptnr", job.attempt as i64);
                b.set(r, "is_jumbo", 0i64);
                b.set(r, "path_convention", 1i64);
                if let Some(code) = error {
                    b.set(r, "error_code", code);
                    b.set(
                        r,
                        "error_diag",
                        "event range failed: payload exited with a fatal error while processing",
                    );
                }
            });
        }
    }
}

fn emit_task(plan: &Plan, task: &TaskPlan, state: &TaskState, tables: &mut Tables<'_>) {
    let (release, cmtconfig) = RELEASES[task.release];
    let progress = if task.n_files > 0 {
        (100 * state.n_finished / task.n_files as i64).min(100)
    } else {
        0
    };
    let failurerate = if state.jobs_final > 0 {
        100 * state.jobs_failed / state.jobs_final
    } else {
        0
    };
    let start = task
        .jobs
        .iter()
        .map(|&j| &plan.jobs[j as usize])
        .filter_map(|j| {
            let t = j.times[Stage::Running as usize];
            (t != 0 && t <= plan.now).then_some(t)
        })
        .min();
    tables.row("jedi_tasks", |b, r| {
        b.set(r, "jeditaskid", task.id);
        b.set(r, "taskname", task.name.clone());
        b.set(r, "status", state.status);
        b.set(r, "superstatus", state.status);
        b.set(r, "username", task.username.clone());
        b.set(r, "creationdate", ts(task.created));
        b.set(r, "modificationtime", ts(state.modified));
        b.set(r, "realmodificationtime", ts(state.modified));
        b.set(
            r,
            "statechangetime",
            ts(state.history.last().map_or(task.created, |h| h.0)),
        );
        b.set(
            r,
            "reqid",
            if task.reqid > 0 {
                Value::Int(task.reqid)
            } else {
                Value::Null
            },
        );
        b.set(r, "cloud", "WORLD");
        b.set(r, "nucleus", task.nucleus.clone());
        b.set(r, "starttime", start.map(ts));
        b.set(r, "endtime", state.end.map(ts));
        b.set(r, "prodsourcelabel", task.prodsourcelabel());
        b.set(r, "workinggroup", task.workinggroup);
        b.set(r, "vo", "atlas");
        b.set(r, "corecount", task.corecount);
        b.set(
            r,
            "tasktype",
            match task.kind {
                TaskKind::Production => "prod",
                TaskKind::Analysis => "anal",
            },
        );
        b.set(r, "processingtype", task.processingtype);
        b.set(r, "taskpriority", task.priority);
        b.set(r, "currentpriority", task.priority);
        b.set(r, "architecture", cmtconfig);
        b.set(
            r,
            "transuses",
            format!("Atlas-{}", release.split(',').nth(1).unwrap_or("")),
        );
        b.set(r, "transhome", release.replace(',', "-"));
        b.set(r, "transpath", task.transformation);
        b.set(
            r,
            "splitrule",
            if task.kind == TaskKind::Production {
                "NG=1,SE=1,NI=1,RT=1"
            } else {
                "NF=1,RT=1"
            },
        );
        b.set(
            r,
            "walltime",
            (task.walltime_median / task.events_per_file.max(1) as f64 * 1_000.0) as i64,
        );
        b.set(r, "walltimeunit", "mSPerEvent");
        b.set(r, "ramcount", task.ramcount);
        b.set(r, "ramunit", "MBPerCore");
        b.set(r, "outdiskcount", 500i64);
        b.set(r, "outdiskunit", "kB");
        b.set(r, "workdiskcount", 8_000i64);
        b.set(r, "workdiskunit", "MB");
        b.set(r, "workqueue_id", task.workqueue_id);
        b.set(r, "progress", progress);
        b.set(r, "failurerate", failurerate);
        b.set(r, "parent_tid", task.parent_tid);
        b.set(r, "eventservice", i64::from(task.eventservice));
        b.set(
            r,
            "campaign",
            if task.campaign.is_empty() {
                Value::Null
            } else {
                Value::from(task.campaign)
            },
        );
        b.set(r, "gshare", task.share);
        b.set(r, "resource_type", task.resource_type);
        b.set(r, "cputime", 100i64);
        b.set(r, "cputimeunit", "HS06sPerEvent");
        b.set(r, "cpuefficiency", 90i64);
        b.set(r, "basewalltime", 600i64);
        b.set(r, "attemptnr", 0i64);
        b.set(
            r,
            "container_name",
            "/cvmfs/atlas.cern.ch/repo/containers/fs/singularity/x86_64-el9",
        );
        b.set(
            r,
            "job_label",
            if task.kind == TaskKind::Analysis {
                "user"
            } else {
                "managed"
            },
        );
        b.set(
            r,
            "framework",
            if task.kind == TaskKind::Analysis {
                "panda-client"
            } else {
                "prodsys"
            },
        );
        b.set(r, "amiflag", 1i64);
        if state.status == "aborted" {
            b.set(r, "oldstatus", "running");
            b.set(r, "errordialog", "task aborted by the owner");
        } else if state.status == "failed" {
            b.set(
                r,
                "errordialog",
                "all input files failed; see the job errors",
            );
        }
    });
    let params = serde_json::json!({
        "taskName": task.name,
        "userName": task.username,
        "vo": "atlas",
        "prodSourceLabel": task.prodsourcelabel(),
        "processingType": task.processingtype,
        "taskType": if task.kind == TaskKind::Production { "prod" } else { "anal" },
        "coreCount": task.corecount,
        "ramCount": task.ramcount,
        "nFilesPerJob": task.files_per_job,
        "nEventsPerInputFile": task.events_per_file,
        "maxAttempt": task.maxattempt,
        "transPath": task.transformation,
        "architecture": RELEASES[task.release].1,
        "cloud": "WORLD",
        "taskPriority": task.priority,
        "campaign": task.campaign,
        "log": {"dataset": task.log_dataset, "type": "template", "param_type": "log"},
        "jobParameters": [{"type": "constant", "value": "--maxEvents=${MAXEVENTS} --skipEvents=${SKIPEVENTS}"}],
    });
    tables.row("jedi_taskparams", |b, r| {
        b.set(r, "jeditaskid", task.id);
        b.set(r, "taskparams", params.to_string());
    });
    for (t, status) in &state.history {
        tables.row("tasks_statuslog", |b, r| {
            b.set(r, "jeditaskid", task.id);
            b.set(r, "modificationtime", ts(*t));
            b.set(r, "status", *status);
            b.set(r, "modificationhost", "aipanda081.cern.ch");
            b.set(r, "attemptnr", 0i64);
        });
    }
    // The task's one attempt: from its first status to its final one, if it has ended.
    if let Some((start, first)) = state.history.first() {
        let last = state.history.last().map(|(_, s)| *s);
        tables.row("task_attempts", |b, r| {
            b.set(r, "jeditaskid", task.id);
            b.set(r, "attemptnr", 0i64);
            b.set(r, "starttime", ts(*start));
            b.set(r, "startstatus", *first);
            if let Some(end) = state.end {
                b.set(r, "endtime", ts(end));
                b.set(r, "endstatus", last);
            }
        });
    }
}

fn emit_datasets(
    plan: &Plan,
    task: &TaskPlan,
    state: &TaskState,
    input_id: i64,
    tables: &mut Tables<'_>,
) {
    let finished_jobs = task
        .jobs
        .iter()
        .filter(|&&j| {
            job_state(&plan.jobs[j as usize], plan.now)
                .is_some_and(|s| s.status == JobStatus::Finished)
        })
        .count() as i64;
    let events = task.events_per_file;
    // Where the input is: a replica at the task's nucleus.
    tables.row("jedi_dataset_locality", |b, r| {
        b.set(r, "jeditaskid", task.id);
        b.set(r, "datasetid", input_id);
        b.set(r, "rse", format!("{}_DATADISK", task.nucleus));
        b.set(r, "timestamp", ts(task.created));
    });
    let datasets = [
        (
            input_id,
            task.input_dataset.as_str(),
            "input",
            task.n_files as i64,
            state.n_finished,
            state.n_failed,
            state.n_used,
        ),
        (
            input_id + 1,
            task.output_dataset.as_str(),
            "output",
            finished_jobs,
            finished_jobs,
            0,
            finished_jobs,
        ),
        (
            input_id + 2,
            task.log_dataset.as_str(),
            "log",
            finished_jobs,
            finished_jobs,
            0,
            finished_jobs,
        ),
    ];
    for (id, name, kind, nfiles, finished, failed, used) in datasets {
        tables.row("jedi_datasets", |b, r| {
            b.set(r, "jeditaskid", task.id);
            b.set(r, "datasetid", id);
            b.set(r, "datasetname", name.to_string());
            b.set(r, "type", kind);
            b.set(r, "creationtime", ts(task.created));
            b.set(r, "modificationtime", ts(state.modified));
            b.set(r, "vo", "atlas");
            b.set(r, "cloud", "WORLD");
            b.set(
                r,
                "status",
                match (kind, state.status) {
                    (_, "done" | "finished" | "failed") => "done",
                    ("input", _) => "ready",
                    _ => "defined",
                },
            );
            b.set(r, "state", if kind == "input" { "closed" } else { "open" });
            b.set(r, "nfiles", nfiles);
            b.set(r, "nfilestobeused", nfiles);
            b.set(r, "nfilesused", used);
            b.set(r, "nfilesonhold", 0i64);
            b.set(r, "nfilesfinished", finished);
            b.set(r, "nfilesfailed", failed);
            b.set(r, "nfileswaiting", 0i64);
            b.set(r, "nfilesmissing", 0i64);
            if kind == "input" {
                b.set(r, "nevents", nfiles * events);
                b.set(r, "neventstobeused", nfiles * events);
                b.set(r, "neventsused", used * events);
                b.set(r, "streamname", "IN");
                b.set(r, "containername", format!("{}/", dataset_base(name)));
            } else {
                b.set(r, "provenanceid", input_id);
                b.set(
                    r,
                    "streamname",
                    if kind == "log" { "LOG0" } else { "OUTPUT0" },
                );
                b.set(r, "storagetoken", "ATLASDATADISK");
                b.set(r, "destination", format!("{}_DATADISK", task.nucleus));
            }
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn emit_job(
    plan: &Plan,
    task: &TaskPlan,
    job: &JobPlan,
    js: &JobState,
    queue: &Queue,
    worker: Option<&WorkerRef>,
    input_dataset_id: i64,
    task_file_base: i64,
    row_id: &mut i64,
    tables: &mut Tables<'_>,
) {
    let now = plan.now;
    let (release, cmtconfig) = RELEASES[task.release];
    let analysis = task.kind == TaskKind::Analysis;
    let table = js.table.name();
    let reached = |s: Stage| {
        let t = job.times[s as usize];
        (t != 0 && t <= now).then_some(t)
    };
    let started = reached(Stage::Running);
    let ended = js.status.is_final().then_some(js.state_changed);
    let ran = match (started, ended) {
        (Some(s), Some(e)) => Some((e - s).max(1)),
        (Some(s), None) => Some((now - s).max(1)),
        _ => None,
    };
    let cores = task.corecount.max(1);
    let n_in = job.n_files as i64;
    let events = if js.status == JobStatus::Finished {
        n_in * task.events_per_file
    } else {
        0
    };
    let final_modified = if js.status.is_final() {
        Value::Time(ts(js.modified))
    } else {
        Value::Null
    };
    let jobname = if analysis {
        format!(
            "{}.${}",
            task.name.trim_end_matches('/'),
            job.pandaid % 100_000
        )
    } else {
        format!("{}.{}", task.name, job.pandaid)
    };
    let user = task.user_index.map(|u| &plan.world.users[u]);
    tables.row(table, |b, r| {
        b.set(r, "pandaid", job.pandaid);
        b.set(
            r,
            "jobdefinitionid",
            task.id * 10 + (job.first_file as i64 / 1_000),
        );
        b.set(
            r,
            "schedulerid",
            format!("harvester-{}", HARVESTERS[queue.harvester]),
        );
        b.set(r, "creationtime", ts(job.created()));
        b.set(r, "creationhost", "aipanda183.cern.ch");
        b.set(r, "modificationtime", ts(js.modified));
        b.set(
            r,
            "modificationhost",
            match worker {
                Some(w) if started.is_some() => Value::from(w.node.clone()),
                _ => Value::from("aipanda062.cern.ch"),
            },
        );
        b.set(
            r,
            "atlasrelease",
            format!("Atlas-{}", release.split(',').nth(1).unwrap_or("")),
        );
        b.set(r, "transformation", task.transformation);
        b.set(
            r,
            "homepackage",
            if analysis {
                format!("AnalysisTransforms-{}", release.replace(',', "_"))
            } else {
                release.replace(',', "/")
            },
        );
        b.set(r, "prodserieslabel", "pandatest");
        b.set(r, "prodsourcelabel", task.prodsourcelabel());
        b.set(
            r,
            "produserid",
            match user {
                Some(u) => format!(
                    "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN={}/CN={}",
                    u.nickname, u.name
                ),
                None => {
                    "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=Robot: ATLAS Pilot1"
                        .to_string()
                }
            },
        );
        let priority = job_priority(task, job);
        b.set(r, "assignedpriority", priority);
        b.set(r, "currentpriority", priority);
        b.set(r, "attemptnr", job.attempt as i64);
        b.set(r, "maxattempt", task.maxattempt as i64);
        b.set(r, "jobstatus", js.status.as_str());
        b.set(r, "jobname", jobname.clone());
        b.set(r, "maxcpucount", (task.walltime_median * 3.0) as i64);
        b.set(r, "maxcpuunit", "HS06sPerEvent");
        b.set(r, "maxdiskcount", 8_000 * cores);
        b.set(r, "maxdiskunit", "MB  ");
        b.set(r, "minramcount", task.ramcount * cores);
        b.set(r, "minramunit", "MB");
        b.set(r, "starttime", started.map(ts));
        b.set(r, "endtime", ended.map(ts));
        b.set(
            r,
            "cpuconsumptiontime",
            ran.map_or(0, |w| {
                w * cores * cpu_efficiency(task, queue, js.status) / 100
            }),
        );
        b.set(r, "cpuconsumptionunit", "s");
        if js.status == JobStatus::Cancelled {
            b.set(r, "commandtopilot", "tobekilled");
        }
        b.set(r, "computingsite", queue.name.clone());
        b.set(r, "computingelement", queue.ce.clone());
        b.set(r, "proddblock", task.input_dataset.clone());
        b.set(
            r,
            "dispatchdblock",
            format!(
                "panda.{}.{}_dis{}",
                task.id,
                job.queue,
                job.pandaid % 10_000
            ),
        );
        b.set(
            r,
            "destinationdblock",
            format!(
                "{}_sub{:07}",
                dataset_base(&task.output_dataset),
                job.pandaid % 10_000_000
            ),
        );
        b.set(r, "destinationse", format!("nucleus:{}", task.nucleus));
        b.set(r, "nevents", events);
        b.set(r, "grid", queue.cloud);
        b.set(r, "cloud", queue.cloud);
        b.set(r, "cpuconversion", 1.0);
        b.set(r, "taskid", task.id);
        b.set(r, "cmtconfig", cmtconfig);
        b.set(r, "statechangetime", ts(js.state_changed));
        b.set(r, "lockedby", "jedi");
        b.set(r, "relocationflag", 1i64);
        b.set(r, "jobexecutionid", 0i64);
        b.set(r, "vo", "atlas");
        b.set(r, "workinggroup", task.workinggroup);
        b.set(r, "processingtype", task.processingtype);
        b.set(r, "produsername", task.username.clone());
        b.set(r, "ninputfiles", n_in);
        b.set(r, "countrygroup", user.map(|u| u.country.to_lowercase()));
        b.set(
            r,
            "batchid",
            worker
                .filter(|_| reached(Stage::Sent).is_some())
                .map(|w| w.batchid.clone()),
        );
        b.set(
            r,
            "parentid",
            job.parent.map(|p| plan.jobs[p as usize].pandaid),
        );
        let mut handling: Vec<&str> = Vec::new();
        if job.scout {
            handling.push("sj");
        }
        if task.eventservice {
            handling.push("es");
        }
        if job.attempt > 1
            && matches!(
                job.parent.map(|p| plan.jobs[p as usize].outcome),
                Some(Outcome::Closed)
            )
        {
            handling.push("rb");
        }
        if !handling.is_empty() {
            b.set(r, "specialhandling", handling.join(","));
        }
        b.set(
            r,
            "jobsetid",
            if analysis {
                Value::Int(task.id % 100_000)
            } else {
                Value::Null
            },
        );
        b.set(r, "corecount", cores);
        b.set(r, "ninputdatafiles", n_in);
        b.set(r, "inputfiletype", task.input_type);
        b.set(r, "inputfileproject", task.project);
        b.set(r, "inputfilebytes", n_in * FILE_BYTES);
        b.set(
            r,
            "noutputdatafiles",
            i64::from(js.status == JobStatus::Finished),
        );
        b.set(
            r,
            "outputfilebytes",
            if js.status == JobStatus::Finished {
                400_000_000 + job.pandaid % 100_000_000
            } else {
                0
            },
        );
        b.set(r, "workqueue_id", task.workqueue_id);
        b.set(r, "jeditaskid", task.id);
        b.set(
            r,
            "reqid",
            if task.reqid > 0 {
                Value::Int(task.reqid)
            } else {
                Value::Null
            },
        );
        b.set(r, "nucleus", task.nucleus.clone());
        b.set(r, "eventservice", i64::from(task.eventservice));
        b.set(r, "failedattempt", 0i64);
        b.set(r, "gshare", task.share);
        b.set(r, "hs06", (queue.corepower * cores as f64) as i64);
        b.set(r, "resource_type", task.resource_type);
        b.set(r, "maxwalltime", (task.walltime_median * 4.0) as i64);
        b.set(
            r,
            "container_name",
            "/cvmfs/atlas.cern.ch/repo/containers/fs/singularity/x86_64-el9",
        );
        b.set(r, "job_label", if analysis { "user" } else { "managed" });
        b.set(r, "outputfiletype", task.output_type);
        b.set(
            r,
            "cpu_architecture_level",
            if queue.kind == crate::world::QueueKind::Hpc {
                "x86-64-v4"
            } else {
                "x86-64-v3"
            },
        );
        if let Some(wall) = ran {
            let rss = task.ramcount * cores * 1_000 * (60 + job.pandaid % 35) / 100;
            b.set(r, "actualcorecount", cores);
            b.set(r, "meancorecount", cores as f64);
            b.set(r, "maxrss", rss);
            b.set(r, "maxpss", rss * 95 / 100);
            b.set(r, "maxvmem", rss * 2);
            b.set(r, "maxswap", 0i64);
            b.set(r, "avgrss", rss * 80 / 100);
            b.set(r, "avgpss", rss * 76 / 100);
            b.set(r, "avgvmem", rss * 16 / 10);
            b.set(r, "avgswap", 0i64);
            b.set(r, "totrchar", n_in * 1_900_000_000);
            b.set(r, "totwchar", 450_000_000i64);
            b.set(r, "totrbytes", n_in * 1_700_000_000);
            b.set(r, "totwbytes", 420_000_000i64);
            b.set(r, "raterchar", n_in * 1_900_000_000 / wall);
            b.set(r, "ratewchar", 450_000_000 / wall);
            b.set(r, "raterbytes", n_in * 1_700_000_000 / wall);
            b.set(r, "ratewbytes", 420_000_000 / wall);
            b.set(r, "diskio", (n_in * 1_700_000 + 420_000) / wall);
            b.set(r, "memory_leak", job.pandaid % 50);
            b.set(r, "memory_leak_x2", ((job.pandaid % 1000) as f64) / 100.0);
            b.set(
                r,
                "jobmetrics",
                format!(
                    "coreCount={cores} nEvents={events} dbTime=0.82 dbData=128000 workDirSize={}",
                    2_000_000 * n_in
                ),
            );
            if js.status.is_final() {
                let hs06sec = (wall as f64 * queue.corepower * cores as f64 * 0.85) as i64;
                b.set(r, "hs06sec", hs06sec);
                let kwh = wall as f64 * cores as f64 * 10.0 / 3_600_000.0;
                b.set(r, "gco2_regional", (kwh * 180.0 * 100.0).round() / 100.0);
                b.set(r, "gco2_global", (kwh * 420.0 * 100.0).round() / 100.0);
            }
            b.set(
                r,
                "pilotid",
                format!(
                    "{}|PR|PICARD|3.9.2.41",
                    worker.map_or("", |w| w.stdout.as_str())
                ),
            );
            b.set(
                r,
                "pilottiming",
                format!("{}|60|{}|12|30", 15 + job.pandaid % 40, wall),
            );
        }
        // Errors.
        b.set(
            r,
            "transexitcode",
            match js.status {
                JobStatus::Finished => Value::from("0"),
                _ => Value::Null,
            },
        );
        match (js.status, job.outcome) {
            (JobStatus::Failed, Outcome::Failed(mode)) => {
                for (component, code, diag) in FAILURE_MODES[mode as usize].errors {
                    let Some(c) = ErrorComponent::parse(component) else {
                        continue;
                    };
                    if c == ErrorComponent::Transform {
                        b.set(r, c.code_column(), code.to_string());
                    } else {
                        b.set(r, c.code_column(), *code);
                        if let Some(diag_col) = c.diag_column() {
                            b.set(r, diag_col, diag.to_string());
                        }
                    }
                }
            }
            (JobStatus::Cancelled, _) => {
                b.set(r, "taskbuffererrorcode", 100i64);
                b.set(
                    r,
                    "taskbuffererrordiag",
                    format!("killed by {}", task.username),
                );
            }
            (JobStatus::Closed, _) => {
                b.set(r, "taskbuffererrorcode", 105i64);
                b.set(
                    r,
                    "taskbuffererrordiag",
                    "reassigned by rebrokerage: queue had no free slots for 3600 sec",
                );
            }
            _ => {}
        }
    });
    // Status log.
    for stage in crate::plan::STAGES {
        if let Some(t) = reached(stage) {
            let status = job_status(job, stage);
            tables.row("jobs_statuslog", |b, r| {
                b.set(r, "pandaid", job.pandaid);
                b.set(r, "modificationtime", ts(t));
                b.set(r, "jobstatus", status.as_str());
                b.set(r, "prodsourcelabel", task.prodsourcelabel());
                b.set(r, "cloud", queue.cloud);
                b.set(r, "computingsite", queue.name.clone());
                b.set(r, "modificationhost", "aipanda062.cern.ch");
            });
        }
    }
    // Files: inputs, an output for finished jobs, and the log. A job of the long-term archive
    // has its files, parameters and metadata in the archive's tables.
    let archived = js.table == JobTable::Archive;
    let (files_table, params_table, meta_table) = if archived {
        ("filestable_arch", "jobparamstable_arch", "metatable_arch")
    } else {
        ("filestable4", "jobparamstable", "metatable")
    };
    let file_mod = final_modified.clone();
    let n_out = i64::from(js.status == JobStatus::Finished);
    let mut inputs: Vec<(i64, i64)> = Vec::new();
    for k in 0..(n_in + n_out + 1) {
        let (kind, lfn, dataset, status, fileid, datasetid) = if k < n_in {
            let n = job.first_file + k as u32;
            (
                "input",
                input_lfn(task, n),
                task.input_dataset.clone(),
                if js.status.is_final() || started.is_some() {
                    "ready"
                } else {
                    "defined"
                },
                Value::Int(task_file_base - task.n_files as i64 - 16 + n as i64),
                Value::Int(input_dataset_id),
            )
        } else if k < n_in + n_out {
            (
                "output",
                output_lfn(task, job),
                task.output_dataset.clone(),
                "ready",
                Value::Null,
                Value::Int(input_dataset_id + 1),
            )
        } else {
            (
                "log",
                format!(
                    "log.{:08}._{:06}.job.log.tgz.{}",
                    task.id - 1_000,
                    job.first_file + 1,
                    job.attempt
                ),
                task.log_dataset.clone(),
                match js.status {
                    JobStatus::Finished | JobStatus::Failed => "ready",
                    s if s.is_final() => "failed",
                    _ => "unknown",
                },
                Value::Null,
                Value::Int(input_dataset_id + 2),
            )
        };
        if let (true, Value::Int(d), Value::Int(f)) = (k < n_in, &datasetid, &fileid) {
            inputs.push((*d, *f));
        }
        *row_id += 1;
        let rid = *row_id;
        tables.row(files_table, |b, r| {
            b.set(r, "row_id", rid);
            b.set(r, "pandaid", job.pandaid);
            b.set(r, "modificationtime", file_mod.clone());
            if archived {
                b.set(r, "creationtime", ts(job.created()));
            }
            b.set(r, "guid", guid(job.pandaid, k));
            b.set(r, "lfn", lfn);
            b.set(r, "type", kind);
            b.set(r, "dataset", dataset_base(&dataset).to_string());
            b.set(r, "status", status);
            b.set(r, "proddblock", task.input_dataset.clone());
            b.set(
                r,
                "destinationdblock",
                format!(
                    "{}_sub{:07}",
                    dataset_base(&task.output_dataset),
                    job.pandaid % 10_000_000
                ),
            );
            b.set(r, "destinationse", format!("{}_DATADISK", task.nucleus));
            b.set(
                r,
                "fsize",
                if kind == "log" {
                    2_500_000 + job.pandaid % 1_000_000
                } else {
                    FILE_BYTES
                },
            );
            b.set(
                r,
                "checksum",
                format!(
                    "ad:{:08x}",
                    (job.pandaid as u64)
                        .wrapping_mul(2_654_435_761)
                        .wrapping_add(k as u64) as u32
                ),
            );
            b.set(r, "scope", if analysis { "user" } else { task.project });
            b.set(r, "jeditaskid", task.id);
            b.set(r, "datasetid", datasetid);
            b.set(r, "fileid", fileid);
            b.set(r, "attemptnr", job.attempt as i64);
        });
    }
    let params = format!(
        "--inputFile={} --outputFile={}.{}.pool.root --maxEvents={} --skipEvents=0 --randomSeed={} --jobNumber={} --AMITag={}",
        input_lfn(task, job.first_file),
        task.output_type,
        job.pandaid,
        n_in * task.events_per_file,
        job.pandaid % 1_000_003,
        job.first_file + 1,
        task.name.rsplit('.').next().unwrap_or("")
    );
    if task.eventservice {
        emit_events(task, job, js, &inputs, tables);
    }
    // A peek at the payload's stdout, kept for a few running jobs as PanDA does for jobs in
    // debug mode.
    if js.status == JobStatus::Running && job.pandaid % 53 == 0 {
        tables.row("jobsdebug", |b, r| {
            b.set(r, "pandaid", job.pandaid);
            b.set(
                r,
                "stdout",
                format!(
                    "{} | INFO  | processing event {} of {}\n{} | INFO  | memory in use {} MB",
                    ts(now - 60),
                    n_in * task.events_per_file / 2,
                    n_in * task.events_per_file,
                    ts(now - 30),
                    1_200 + job.pandaid % 800
                ),
            );
        });
    }
    // The job's destination block, one of PanDA's own datasets.
    if js.table != JobTable::Archive {
        let block = format!(
            "{}_sub{:07}",
            dataset_base(&task.output_dataset),
            job.pandaid % 10_000_000
        );
        let (status, modified) = match js.status {
            s if s.is_final() => ("completed", js.modified),
            _ => ("running", job.created()),
        };
        tables.row("datasets", |b, r| {
            b.set(r, "vuid", guid(job.pandaid, 1_000_000));
            b.set(r, "name", block);
            b.set(r, "version", "1");
            b.set(r, "type", "output");
            b.set(r, "status", status);
            b.set(r, "numberfiles", n_out + 1);
            b.set(
                r,
                "currentfiles",
                if js.status.is_final() { n_out + 1 } else { 0 },
            );
            b.set(r, "creationdate", ts(job.created()));
            b.set(r, "modificationdate", ts(modified));
            b.set(r, "subtype", "sub");
        });
    }
    tables.row(params_table, |b, r| {
        b.set(r, "pandaid", job.pandaid);
        b.set(r, "modificationtime", final_modified.clone());
        b.set(r, "jobparameters", params);
    });
    if js.status == JobStatus::Finished {
        let meta = format!(
            "{{\"files\":{{\"output\":[{{\"subFiles\":[{{\"name\":\"{}.{}.pool.root\",\"nentries\":{events}}}]}}]}},\"exitCode\":0,\"exitMsg\":\"OK\"}}",
            task.output_type, job.pandaid
        );
        tables.row(meta_table, |b, r| {
            b.set(r, "pandaid", job.pandaid);
            b.set(r, "modificationtime", final_modified);
            b.set(r, "metadata", meta);
        });
    }
    if let Some(parent) = job.parent {
        let mut origin = parent;
        while let Some(p) = plan.jobs[origin as usize].parent {
            origin = p;
        }
        let relation = if matches!(plan.jobs[parent as usize].outcome, Outcome::Closed) {
            "rebrokerage"
        } else {
            "retry"
        };
        tables.row("jedi_job_retry_history", |b, r| {
            b.set(r, "jeditaskid", task.id);
            b.set(r, "oldpandaid", plan.jobs[parent as usize].pandaid);
            b.set(r, "newpandaid", job.pandaid);
            b.set(r, "originpandaid", plan.jobs[origin as usize].pandaid);
            b.set(r, "relationtype", relation);
            b.set(r, "ins_utc_tstamp", ts(job.created()));
        });
    }
}

/// A worker as seen by the jobs it ran.
pub struct WorkerRef {
    pub workerid: i64,
    pub harvester: usize,
    pub batchid: String,
    pub node: String,
    pub stdout: String,
}

struct WorkerRow {
    harvester: usize,
    workerid: i64,
    queue: u16,
    submit: i64,
    start: Option<i64>,
    end: Option<i64>,
    status: &'static str,
    resource_type: &'static str,
    jobtype: &'static str,
    ncore: i64,
    njobs: i64,
    pandaids: Vec<i64>,
    last: i64,
    batchid: String,
    node: String,
    errorcode: i64,
    diag: Option<&'static str>,
    /// Whether one of its jobs is still before a final state.
    active: bool,
}

/// Harvester workers: pilots take one to a few consecutive jobs of a queue.
#[derive(Default)]
struct WorkerBook {
    rows: Vec<WorkerRow>,
    /// Open worker per (queue, resource type, job type): index into rows and jobs it may still take.
    open: HashMap<(u16, &'static str, &'static str), (usize, u32)>,
    next_id: Vec<i64>,
    /// New workers per 6-hour stretch of send time: analysis, production, single-core and
    /// multi-core, to keep each stretch's mix like ATLAS's whatever the task mix.
    balance: HashMap<i64, [u32; 4]>,
}

impl WorkerBook {
    fn assign(
        &mut self,
        plan: &Plan,
        job: &JobPlan,
        queue: &Queue,
        js: &JobState,
        rng: &mut Rng,
    ) -> Option<WorkerRef> {
        let sent = job.times[Stage::Sent as usize];
        if sent == 0 || sent > plan.now {
            return None;
        }
        let task = &plan.tasks[job.task as usize];
        let jobtype = if task.kind == TaskKind::Analysis {
            "user"
        } else {
            "managed"
        };
        let key = (job.queue, task.resource_type, jobtype);
        let end = js.status.is_final().then_some(js.state_changed);
        let rows = &self.rows;
        let reuse = match self.open.get_mut(&key) {
            Some((index, left))
                if *left > 0
                    && rows[*index].start.is_some_and(|s| s <= sent)
                    && sent - rows[*index].last < 6 * 3_600 =>
            {
                *left -= 1;
                Some(*index)
            }
            _ => None,
        };
        let index = match reuse {
            Some(i) => i,
            None => {
                if self.next_id.is_empty() {
                    self.next_id = vec![1_000_000; HARVESTERS.len()];
                }
                let id = self.next_id[queue.harvester];
                self.next_id[queue.harvester] += 1;
                let submit = sent - rng.lognormal(900.0, 0.8) as i64;
                self.rows.push(WorkerRow {
                    harvester: queue.harvester,
                    workerid: id,
                    queue: job.queue,
                    submit,
                    start: Some(sent - rng.range(5, 60)),
                    end: None,
                    status: "running",
                    resource_type: task.resource_type,
                    jobtype,
                    ncore: task.corecount.max(1),
                    njobs: 0,
                    pandaids: Vec::new(),
                    last: sent,
                    batchid: format!("{}.{}", 8_000_000 + id % 1_000_000, rng.range(0, 9)),
                    node: format!("wn{:04}.{}", rng.range(1, 2_000), queue.site.to_lowercase()),
                    errorcode: 0,
                    diag: None,
                    active: false,
                });
                let index = self.rows.len() - 1;
                // Analysis pilots are pushed one per job and production pilots pull jobs of their
                // queue until their wall time ends. How many a pilot takes is steered so that
                // each 6-hour stretch has about 43 analysis to 52 production workers and 56
                // single-core to 38 multi-core ones, as Harvester's monitoring shows for ATLAS.
                let multi = task.corecount > 1;
                let b = self.balance.entry(sent / 21_600).or_default();
                let analysis_heavy = u64::from(b[0]) * 52 > u64::from(b[1]) * 43;
                let single_heavy = u64::from(b[2]) * 38 > u64::from(b[3]) * 56;
                let more = match (jobtype, multi) {
                    ("user", _) if analysis_heavy => rng.range(1, 8),
                    ("user", _) => 0,
                    (_, false) if single_heavy => rng.range(6, 20),
                    (_, false) => rng.range(1, 4),
                    (_, true) if single_heavy => rng.range(2, 8),
                    (_, true) => rng.range(10, 40),
                };
                b[usize::from(jobtype != "user")] += 1;
                b[2 + usize::from(multi)] += 1;
                self.open.insert(key, (index, more as u32));
                index
            }
        };
        let row = &mut self.rows[index];
        row.njobs += 1;
        row.pandaids.push(job.pandaid);
        match end {
            Some(e) => {
                row.end = Some(row.end.map_or(e, |x: i64| x.max(e)));
                if matches!(job.outcome, Outcome::Failed(m) if FAILURE_MODES[m as usize].name == "sigterm" || FAILURE_MODES[m as usize].name == "batch-time-limit")
                {
                    row.errorcode = 137;
                    row.diag =
                        Some("batch system killed the worker: exceeded wall time or got SIGTERM");
                }
            }
            None => row.active = true,
        }
        row.last = row.last.max(js.modified);
        Some(WorkerRef {
            workerid: row.workerid,
            harvester: row.harvester,
            batchid: row.batchid.clone(),
            node: row.node.clone(),
            stdout: format!(
                "https://{}/condor_logs/{}/{}.out",
                HARVESTERS[row.harvester].to_lowercase(),
                row.workerid / 1000,
                row.workerid
            ),
        })
    }

    fn emit(mut self, plan: &Plan, tables: &mut Tables<'_>, rng: &mut Rng) {
        let now = plan.now;
        // Workers whose every job is final have ended; the others are still running.
        for row in &mut self.rows {
            if row.active {
                row.end = None;
                row.status = "running";
            } else if row.end.is_some() {
                // The pilot asks for more work until none comes, then exits.
                let end = row.end.unwrap_or(now) + rng.lognormal(5_400.0, 0.8) as i64;
                if end <= now {
                    row.end = Some(end);
                    row.last = end;
                    row.status = if row.errorcode != 0 {
                        "failed"
                    } else {
                        "finished"
                    };
                } else {
                    row.end = None;
                    row.status = "running";
                }
            }
        }
        // Workers that ran no job: pilots still waiting in the batch queues (about a third of
        // the recent submissions, as in ATLAS), and a few that ended without one (cancelled when
        // the queue drained, missed by the batch system, failed to start). They copy the queue,
        // resource type and job type of a worker that ran jobs, so the mix stays the workload's.
        let with_jobs = self.rows.len();
        let span = (now - plan.start).max(3_600);
        let recent = self
            .rows
            .iter()
            .filter(|r| now - r.submit < 6 * 3_600)
            .count();
        let waiting = recent * 55 / 100;
        let ended = with_jobs / 50;
        for n in 0..waiting + ended {
            if with_jobs == 0 {
                break;
            }
            let model = &self.rows[rng.index(with_jobs)];
            let (q, resource_type, jobtype, ncore) =
                (model.queue, model.resource_type, model.jobtype, model.ncore);
            let queue = &plan.world.queues[q as usize];
            if self.next_id.is_empty() {
                self.next_id = vec![1_000_000; HARVESTERS.len()];
            }
            let id = self.next_id[queue.harvester];
            self.next_id[queue.harvester] += 1;
            let (status, submit, start, end) = if n < waiting {
                let age = (rng.exp(3.0 * 3_600.0) as i64).clamp(30, span);
                ("submitted", now - age, None, None)
            } else {
                let submit = now - rng.range(600, span);
                let status = *rng.pick(&["cancelled", "cancelled", "missed", "failed"]);
                let end = (submit + rng.range(300, 7_200)).min(now);
                let start = (status == "failed").then(|| (submit + rng.range(30, 600)).min(end));
                (status, submit, start, Some(end))
            };
            self.rows.push(WorkerRow {
                harvester: queue.harvester,
                workerid: id,
                queue: q,
                submit,
                start,
                end,
                status,
                resource_type,
                jobtype,
                ncore,
                njobs: 0,
                pandaids: Vec::new(),
                last: end.unwrap_or_else(|| (submit + rng.range(0, 600)).min(now)),
                batchid: format!("{}.0", 8_000_000 + id % 1_000_000),
                node: format!("wn{:04}.{}", rng.range(1, 2_000), queue.site.to_lowercase()),
                errorcode: if status == "failed" { 1 } else { 0 },
                diag: match status {
                    "failed" => Some("worker failed to start: pilot wrapper exited with code 1"),
                    "missed" => Some("worker disappeared from the batch system"),
                    "cancelled" => Some("killed by harvester: no more jobs for the queue"),
                    _ => None,
                },
                active: false,
            });
        }
        let mut stats: HashMap<(usize, u16, &'static str, &'static str, &'static str), i64> =
            HashMap::new();
        for row in &self.rows {
            let queue = &plan.world.queues[row.queue as usize];
            let harvester = HARVESTERS[row.harvester];
            if !matches!(row.status, "finished" | "failed" | "cancelled" | "missed") {
                *stats
                    .entry((
                        row.harvester,
                        row.queue,
                        row.resource_type,
                        row.status,
                        row.jobtype,
                    ))
                    .or_default() += 1;
            }
            let last = ts(row.last.min(now));
            tables.row("harvester_workers", |b, r| {
                b.set(r, "harvesterid", harvester);
                b.set(r, "workerid", row.workerid);
                b.set(r, "lastupdate", last);
                b.set(r, "status", row.status);
                b.set(r, "batchid", row.batchid.clone());
                b.set(r, "nodeid", row.start.map(|_| row.node.clone()));
                b.set(r, "queuename", queue.name.clone());
                b.set(r, "computingsite", queue.name.clone());
                b.set(r, "submittime", ts(row.submit));
                b.set(r, "starttime", row.start.map(ts));
                b.set(r, "endtime", row.end.map(ts));
                b.set(r, "ncore", row.ncore);
                b.set(r, "errorcode", row.errorcode);
                b.set(r, "diagmessage", row.diag);
                let base = format!(
                    "https://{}/condor_logs/{}/{}",
                    harvester.to_lowercase(),
                    row.workerid / 1000,
                    row.workerid
                );
                b.set(r, "stdout", format!("{base}.out"));
                b.set(r, "stderr", format!("{base}.err"));
                b.set(r, "batchlog", format!("{base}.log"));
                b.set(r, "resourcetype", row.resource_type);
                b.set(r, "computingelement", queue.ce.clone());
                b.set(r, "njobs", row.njobs);
                b.set(
                    r,
                    "submissionhost",
                    format!("{}-submit01", harvester.to_lowercase()),
                );
                b.set(
                    r,
                    "harvesterhost",
                    format!("aipanda{:03}.cern.ch", 170 + row.harvester),
                );
                b.set(r, "jobtype", row.jobtype);
                b.set(r, "minramcount", row.ncore * 2_000);
                b.set(
                    r,
                    "nativestatus",
                    match row.status {
                        "running" => "running",
                        "submitted" | "idle" => "idle",
                        "finished" => "completed",
                        _ => "removed",
                    },
                );
                b.set(
                    r,
                    "nativeexitcode",
                    if row.end.is_some() {
                        Value::Int(row.errorcode)
                    } else {
                        Value::Null
                    },
                );
                if row.start.is_some() {
                    b.set(
                        r,
                        "pilotstatus",
                        match row.status {
                            "running" => "running",
                            "finished" => "finished",
                            _ => "failed",
                        },
                    );
                    b.set(r, "pilotstarttime", row.start.map(|s| ts(s + 20)));
                    b.set(r, "pilotendtime", row.end.map(|e| ts(e - 10)));
                    b.set(r, "pilotstatussynctime", last);
                }
            });
            for pandaid in &row.pandaids {
                tables.row("harvester_rel_jobs_workers", |b, r| {
                    b.set(r, "harvesterid", harvester);
                    b.set(r, "workerid", row.workerid);
                    b.set(r, "pandaid", *pandaid);
                    b.set(r, "lastupdate", last);
                });
            }
        }
        let mut keys: Vec<_> = stats.into_iter().collect();
        keys.sort();
        for ((h, q, rt, status, jobtype), n) in keys {
            tables.row("harvester_worker_stats", |b, r| {
                b.set(r, "harvester_id", HARVESTERS[h]);
                b.set(
                    r,
                    "computingsite",
                    plan.world.queues[q as usize].name.clone(),
                );
                b.set(r, "resourcetype", rt);
                b.set(r, "status", status);
                b.set(r, "jobtype", jobtype);
                b.set(r, "n_workers", n);
                b.set(r, "lastupdate", ts(now - 60));
            });
        }
    }
}

fn emit_share_stats(
    plan: &Plan,
    stats: HashMap<(String, i64, &'static str, u16, &'static str, String), ShareStat>,
    tables: &mut Tables<'_>,
) {
    let mut rows: Vec<_> = stats.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for ((gshare, wq, rt, queue, status, nucleus), s) in rows {
        tables.row("jobs_share_stats", |b, r| {
            b.set(r, "ts", ts(plan.now));
            b.set(r, "gshare", gshare);
            b.set(
                r,
                "computingsite",
                plan.world.queues[queue as usize].name.clone(),
            );
            b.set(r, "jobstatus", status);
            b.set(r, "maxpriority", s.maxpriority);
            b.set(r, "prorated_diskio_avg", 0.0);
            b.set(
                r,
                "prorated_mem_avg",
                (s.mem as f64 / s.njobs.max(1) as f64 * 100.0).round() / 100.0,
            );
            b.set(r, "njobs", s.njobs);
            b.set(r, "hs", s.hs);
            b.set(r, "vo", "atlas");
            b.set(r, "workqueue_id", wq);
            b.set(r, "resource_type", rt);
            b.set(r, "nucleus", nucleus);
        });
    }
}

/// iDDS: the Rubin-style workflows of the plan (1 000–5 000 small tasks in layers, see
/// `plan_rubin_workflow`), and analysis tasks grouped into small workflows (2–5 steps, each
/// depending on one earlier step).
fn emit_idds(plan: &Plan, tables: &mut Tables<'_>, rng: &mut Rng) {
    // (steps, each step's parents as positions among the steps)
    let mut groups: Vec<(Vec<&TaskPlan>, Vec<Vec<usize>>)> = Vec::new();
    let mut big: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, t) in plan.tasks.iter().enumerate() {
        if let Some(step) = &t.workflow {
            big.entry(step.workflow).or_default().push(i);
        }
    }
    for steps in big.values() {
        let position: HashMap<usize, usize> =
            steps.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let members: Vec<&TaskPlan> = steps.iter().map(|&i| &plan.tasks[i]).collect();
        let graph = members
            .iter()
            .map(|t| {
                t.workflow
                    .as_ref()
                    .map(|w| {
                        w.parents
                            .iter()
                            .filter_map(|p| position.get(p).copied())
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        groups.push((members, graph));
    }
    let candidates: Vec<&TaskPlan> = plan
        .tasks
        .iter()
        .filter(|t| t.kind == TaskKind::Analysis && t.n_files <= 200 && !t.jobs.is_empty())
        .collect();
    let n_small = (candidates.len() / 25).clamp(1, 400);
    let mut cursor = 0usize;
    for _ in 0..n_small {
        let size = rng.range(2, 6) as usize;
        if cursor + size > candidates.len() {
            break;
        }
        let graph = (0..size)
            .map(|i| if i == 0 { vec![] } else { vec![rng.index(i)] })
            .collect();
        groups.push((candidates[cursor..cursor + size].to_vec(), graph));
        cursor += size;
    }
    let mut transform_id = 500_000i64;
    let mut coll_id = 900_000i64;
    let mut processing_id = 700_000i64;
    let mut content_id = 10_000_000i64;
    for (r_index, (members, graph)) in groups.iter().enumerate() {
        let members = members.as_slice();
        let request_id = 100_000 + r_index as i64;
        let first = members[0];
        let user = first.user_index.map_or_else(
            || first.username.clone(),
            |u| plan.world.users[u].nickname.clone(),
        );
        let states: Vec<TaskState> = members.iter().map(|t| task_state(plan, t)).collect();
        let statuses: Vec<i64> = states.iter().map(|s| idds_status(s.status)).collect();
        let request_status = if statuses.iter().all(|&s| s == 3) {
            3
        } else if statuses.iter().all(|&s| matches!(s, 3 | 4 | 5 | 9)) {
            if statuses.contains(&5) && !statuses.contains(&3) {
                5
            } else {
                4
            }
        } else {
            2
        };
        let created = ts(members.iter().map(|t| t.created).min().unwrap_or(plan.now));
        let updated = ts(states.iter().map(|s| s.modified).max().unwrap_or(plan.now));
        let finished = statuses.iter().filter(|&&s| s == 3).count() as i64;
        let failed = statuses.iter().filter(|&&s| s == 5).count() as i64;
        tables.row("requests", |b, r| {
            b.set(r, "request_id", request_id);
            b.set(r, "scope", "workflow");
            let name = match &first.workflow {
                Some(step) => format!("rubin.dp{}.drp.workflow.{request_id}", step.workflow),
                None => format!("user.{user}.workflow.{request_id}"),
            };
            b.set(r, "name", name);
            b.set(r, "requester", "panda");
            b.set(r, "request_type", 8i64);
            b.set(r, "username", user.chars().take(20).collect::<String>());
            b.set(r, "transform_tag", "workflow");
            b.set(r, "workload_id", first.id);
            b.set(r, "priority", 0i64);
            b.set(r, "status", request_status);
            b.set(r, "substatus", 0i64);
            b.set(r, "locking", 0i64);
            b.set(r, "total_transforms", members.len() as i64);
            b.set(r, "finished_transforms", finished);
            b.set(r, "failed_transforms", failed);
            b.set(
                r,
                "processing_transforms",
                members.len() as i64 - finished - failed,
            );
            b.set(r, "subfinished_transforms", 0i64);
            b.set(r, "created_at", created);
            b.set(r, "updated_at", updated);
            b.set(r, "campaign", "WorkflowRun");
            b.set(
                r,
                "request_metadata",
                serde_json::json!({"workflow_type": "DAG", "steps": members.len()}).to_string(),
            );
        });
        let mut ids = Vec::new();
        for (i, (task, state)) in members.iter().zip(&states).enumerate() {
            let tid = transform_id;
            transform_id += 1;
            ids.push(tid);
            let parent = graph[i].first().map(|&p| ids[p]);
            let status = statuses[i];
            tables.row("transforms", |b, r| {
                b.set(r, "transform_id", tid);
                b.set(r, "request_id", request_id);
                b.set(r, "workload_id", task.id);
                b.set(r, "transform_type", 6i64);
                b.set(r, "transform_tag", "work");
                b.set(r, "internal_id", format!("{:04}", i + 1));
                b.set(r, "priority", 0i64);
                b.set(r, "status", status);
                b.set(r, "substatus", 0i64);
                b.set(r, "locking", 0i64);
                b.set(r, "retries", 0i64);
                b.set(r, "parent_transform_id", parent);
                b.set(
                    r,
                    "parent_internal_id",
                    parent.map(|p| format!("{:04}", p - ids[0] + 1)),
                );
                b.set(r, "created_at", ts(task.created));
                b.set(r, "updated_at", ts(state.modified));
                b.set(r, "started_at", ts(task.first_job_at.min(plan.now)));
                b.set(r, "finished_at", state.end.map(ts));
                b.set(
                    r,
                    "name",
                    task.name
                        .trim_end_matches('/')
                        .chars()
                        .take(255)
                        .collect::<String>(),
                );
            });
            let pid = processing_id;
            processing_id += 1;
            tables.row("processings", |b, r| {
                b.set(r, "processing_id", pid);
                b.set(r, "transform_id", tid);
                b.set(r, "request_id", request_id);
                b.set(r, "workload_id", task.id);
                b.set(r, "processing_type", 6i64);
                b.set(
                    r,
                    "status",
                    match status {
                        3 => 4,
                        5 => 5,
                        9 => 14,
                        _ => 3,
                    },
                );
                b.set(r, "substatus", 0i64);
                b.set(r, "locking", 0i64);
                b.set(r, "submitter", "panda");
                b.set(r, "submitted_id", task.id);
                b.set(r, "created_at", ts(task.created));
                b.set(r, "updated_at", ts(state.modified));
                b.set(r, "submitted_at", ts(task.created + 60));
                b.set(r, "finished_at", state.end.map(ts));
            });
            let running = state.n_used - state.n_finished - state.n_failed;
            let counts = [
                task.n_files as i64,
                state.n_finished,
                running,
                state.n_failed,
            ];
            // A step reads its own dataset, or what the steps it depends on wrote (its files
            // split between them); it writes its output dataset.
            let mut collections: Vec<(i64, &String, [i64; 4])> = match graph[i].as_slice() {
                [] => vec![(0, &task.input_dataset, counts)],
                parents => {
                    let n = parents.len() as i64;
                    parents
                        .iter()
                        .enumerate()
                        .map(|(k, &p)| {
                            let share = |x: i64| x / n + i64::from((k as i64) < x % n);
                            (0, &members[p].output_dataset, counts.map(share))
                        })
                        .collect()
                }
            };
            collections.push((1, &task.output_dataset, counts));
            for (relation, name, [total, processed, processing, failed]) in collections {
                let cid = coll_id;
                coll_id += 1;
                let (scope, cname) = name.split_once(':').unwrap_or(("user", name.as_str()));
                tables.row("collections", |b, r| {
                    b.set(r, "coll_id", cid);
                    b.set(r, "request_id", request_id);
                    b.set(r, "workload_id", task.id);
                    b.set(r, "transform_id", tid);
                    b.set(r, "coll_type", 1i64);
                    b.set(r, "relation_type", relation);
                    b.set(r, "scope", scope.chars().take(25).collect::<String>());
                    b.set(r, "name", cname.chars().take(255).collect::<String>());
                    b.set(
                        r,
                        "status",
                        if processed + failed >= total { 4i64 } else { 2 },
                    );
                    b.set(r, "substatus", 0i64);
                    b.set(r, "locking", 0i64);
                    b.set(r, "total_files", total);
                    b.set(r, "new_files", total - processed - processing - failed);
                    b.set(r, "processed_files", processed);
                    b.set(r, "processing_files", processing);
                    b.set(r, "failed_files", failed);
                    b.set(r, "missing_files", 0i64);
                    b.set(r, "created_at", ts(task.created));
                    b.set(r, "updated_at", ts(state.modified));
                });
                if relation == 1 {
                    for (n, (file_state, _)) in state.files.iter().enumerate() {
                        for k in 0..task.files_per_job {
                            content_id += 1;
                            let content = content_id;
                            tables.row("contents", |b, r| {
                                b.set(r, "content_id", content);
                                b.set(r, "transform_id", tid);
                                b.set(r, "coll_id", cid);
                                b.set(r, "request_id", request_id);
                                b.set(r, "workload_id", task.id);
                                b.set(r, "map_id", (n as u32 * task.files_per_job + k) as i64 + 1);
                                b.set(r, "scope", scope.chars().take(25).collect::<String>());
                                b.set(
                                    r,
                                    "name",
                                    format!(
                                        "{}._{:06}.root",
                                        cname,
                                        n as u32 * task.files_per_job + k + 1
                                    ),
                                );
                                b.set(r, "min_id", 0i64);
                                b.set(r, "max_id", task.events_per_file);
                                b.set(r, "content_type", 0i64);
                                b.set(r, "content_relation_type", 1i64);
                                b.set(
                                    r,
                                    "status",
                                    match file_state {
                                        FileState::Finished => 2i64,
                                        FileState::Failed => 4,
                                        FileState::Running => 1,
                                        FileState::Ready => 0,
                                    },
                                );
                                b.set(r, "substatus", 0i64);
                                b.set(r, "locking", 0i64);
                                b.set(r, "created_at", ts(task.created));
                                b.set(r, "updated_at", ts(state.modified));
                            });
                        }
                    }
                }
            }
        }
    }
}

/// iDDS transform status for a JEDI task status.
fn idds_status(task_status: &str) -> i64 {
    match task_status {
        "done" => 3,
        "finished" => 4,
        "failed" | "broken" => 5,
        "aborted" => 9,
        "registered" | "defined" | "ready" => 1,
        _ => 2,
    }
}

/// A request's `parameters`. A stalled request carries the error of its Rucio rule as the
/// carousel's checker last saw it (`rule_error`): half of them a tape problem.
fn carousel_parameters(task: &TaskPlan, s: &Staging, status: &str) -> serde_json::Value {
    let mut parameters = serde_json::json!({
        "task_id": task.id,
        "task_gshare": task.share,
        "task_type": "prod",
        "task_user": task.username,
        "to_pin": false,
        "remove_when_done": true,
    });
    if status == "staging" && s.stalled_at.is_some() {
        parameters["rule_error"] = serde_json::Value::from(if s.request_id % 2 == 0 {
            format!(
                "[TAPE SOURCE] {}: staging failed: tape {} is disabled (media error)",
                s.source_rse, s.tape
            )
        } else {
            format!(
                "TRANSFER_FAILED: {} unreachable: Connection refused",
                s.destination_rse
            )
        });
    }
    parameters
}

/// Where the ids of staging transfers start (job transfers are numbered from their pandaid).
const STAGING_IDS: i64 = 1 << 52;

fn emit_carousel(plan: &Plan, tables: &mut Tables<'_>) {
    let now = plan.now;
    for task in &plan.tasks {
        let Some(s) = &task.staging else { continue };
        if s.created > now {
            continue;
        }
        let mut total = task.n_files as i64;
        // One stalled request in three lost files on tape: JEDI dropped them from the task's
        // dataset, the request still counts them (staged beyond the dataset's files).
        let lost =
            (s.stalled_at.is_some() && s.request_id % 3 == 0).then_some(1 + s.request_id % 4);
        if let Some(lost) = lost {
            total += lost;
        }
        let dataset_size = total * FILE_BYTES;
        let (status, staged, last_staged, end) = if s.cancelled {
            ("cancelled", 0, None, Some(s.started + 3_600))
        } else if s.started > now {
            ("queued", 0, None, None)
        } else if let Some((fraction, stopped)) = s.stalled_at {
            let staged_until = stopped.min(now);
            let f = fraction
                * ((staged_until - s.started) as f64 / (stopped - s.started).max(1) as f64);
            let staged = match lost {
                Some(_) => task.n_files as i64 + 1,
                None => (total as f64 * f) as i64,
            };
            ("staging", staged, Some(staged_until), None)
        } else if let Some(done) = s.done {
            if done <= now - 86_400 && s.request_id % 3 == 0 {
                // Done a day ago and released by the carousel.
                ("retired", total, Some(done), Some(done))
            } else if done <= now {
                ("done", total, Some(done), Some(done))
            } else {
                let f = (now - s.started) as f64 / (done - s.started).max(1) as f64;
                ("staging", (total as f64 * f) as i64, Some(now - 300), None)
            }
        } else {
            ("staging", 0, None, None)
        };
        let end_ok = end.filter(|&e| e <= now);
        tables.row("data_carousel_requests", |b, r| {
            b.set(r, "request_id", s.request_id);
            b.set(r, "dataset", task.input_dataset.clone());
            b.set(r, "source_rse", s.source_rse.clone());
            b.set(r, "destination_rse", s.destination_rse.clone());
            b.set(
                r,
                "ddm_rule_id",
                format!(
                    "{:032x}",
                    (s.request_id as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
                ),
            );
            b.set(r, "status", status);
            b.set(r, "total_files", total);
            b.set(r, "staged_files", staged);
            b.set(r, "dataset_size", dataset_size);
            b.set(
                r,
                "staged_size",
                if total > 0 {
                    dataset_size * staged / total
                } else {
                    0
                },
            );
            b.set(r, "creation_time", ts(s.created));
            b.set(r, "start_time", (s.started <= now).then(|| ts(s.started)));
            b.set(r, "end_time", end_ok.map(ts));
            b.set(
                r,
                "modification_time",
                ts(last_staged.or(end_ok).unwrap_or(s.created).min(now)),
            );
            b.set(r, "check_time", ts(now - 600));
            b.set(r, "source_tape", s.tape.clone());
            b.set(
                r,
                "parameters",
                carousel_parameters(task, s, status).to_string(),
            );
            b.set(r, "last_staged_time", last_staged.map(ts));
        });
        tables.row("data_carousel_relations", |b, r| {
            b.set(r, "request_id", s.request_id);
            b.set(r, "task_id", task.id);
        });
        // The files recalled so far, one transfer each (the lost ones never arrive).
        if let Some(last) = last_staged.filter(|_| staged > 0) {
            let recalled = staged.min(task.n_files as i64) as u32;
            let files: Vec<(String, i64)> = (0..recalled)
                .map(|n| (input_lfn(task, n), FILE_BYTES))
                .collect();
            emit_transfers(
                tables,
                &staging_transfers(
                    STAGING_IDS + s.request_id * 1_000_000,
                    task.id,
                    task.project,
                    dataset_base(&task.input_dataset),
                    (&s.source_rse, &s.destination_rse),
                    &files,
                    (s.started, last),
                ),
            );
        }
    }
}
