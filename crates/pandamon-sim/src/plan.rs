//! The workload plan: tasks and the full timeline of every job attempt, decided up front from the
//! seed. The state of the database at any instant is then a pure function of the plan and that
//! instant, which is what makes a seed reproduce the same database on every backend.

use crate::rng::{Rng, cumulative};
use crate::world::{CAMPAIGNS, FAILURE_MODES, RELEASES, TASK_MODES, USER_CODE_MODE, World};

/// Steps of a job's life; a job's plan holds the instant it enters each (0 = never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Pending = 0,
    Defined,
    Assigned,
    Activated,
    Sent,
    Starting,
    Running,
    Holding,
    Transferring,
    Final,
}

pub const STAGES: [Stage; 10] = [
    Stage::Pending,
    Stage::Defined,
    Stage::Assigned,
    Stage::Activated,
    Stage::Sent,
    Stage::Starting,
    Stage::Running,
    Stage::Holding,
    Stage::Transferring,
    Stage::Final,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    /// Failed with the failure mode at this index of [`FAILURE_MODES`].
    Failed(u8),
    Cancelled,
    /// Closed by the system and rebrokered elsewhere.
    Closed,
}

#[derive(Debug, Clone)]
pub struct JobPlan {
    pub task: u32,
    pub queue: u16,
    pub attempt: u8,
    pub parent: Option<u32>,
    pub retry: Option<u32>,
    /// Index of the first input file within its task, and how many it reads.
    pub first_file: u32,
    pub n_files: u8,
    pub scout: bool,
    pub times: [i64; 10],
    pub outcome: Outcome,
    /// Seconds of payload wall time.
    pub walltime: i64,
    pub pandaid: i64,
}

impl JobPlan {
    pub fn created(&self) -> i64 {
        self.times[0]
    }

    pub fn final_time(&self) -> i64 {
        self.times[Stage::Final as usize]
    }

    /// The last stage reached at `now`, if the job exists then.
    pub fn stage_at(&self, now: i64) -> Option<Stage> {
        if self.times[0] > now {
            return None;
        }
        STAGES
            .iter()
            .rev()
            .find(|s| {
                let t = self.times[**s as usize];
                t != 0 && t <= now
            })
            .copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Production,
    Analysis,
}

/// A tape-staging request that must finish before the task's jobs start.
#[derive(Debug, Clone)]
pub struct Staging {
    pub request_id: i64,
    pub created: i64,
    pub started: i64,
    /// When all files are on disk; `None` for a stalled request that never finishes.
    pub done: Option<i64>,
    /// For a stalled request: the fraction staged before it stopped and when it stopped.
    pub stalled_at: Option<(f64, i64)>,
    pub source_rse: String,
    pub tape: String,
    pub destination_rse: String,
    pub cancelled: bool,
}

#[derive(Debug, Clone)]
pub struct TaskPlan {
    pub id: i64,
    pub kind: TaskKind,
    pub name: String,
    pub username: String,
    pub user_index: Option<usize>,
    pub reqid: i64,
    pub campaign: &'static str,
    pub processingtype: &'static str,
    pub workinggroup: Option<&'static str>,
    pub share: &'static str,
    pub workqueue_id: i64,
    pub corecount: i64,
    pub resource_type: &'static str,
    pub ramcount: i64,
    pub created: i64,
    pub first_job_at: i64,
    pub release: usize,
    pub nucleus: String,
    pub priority: i64,
    /// The failure mode that dominates this task's failures, for a broken task.
    pub bad_mode: Option<usize>,
    pub fail_base: f64,
    pub maxattempt: u8,
    pub walltime_median: f64,
    pub files_per_job: u32,
    pub events_per_file: i64,
    pub n_files: u32,
    /// Jobs planned for the first attempt of every file group (all of the task's work).
    pub planned_jobs: u32,
    pub jobs: Vec<u32>,
    pub aborted_at: Option<i64>,
    pub staging: Option<Staging>,
    pub input_dataset: String,
    pub output_dataset: String,
    pub log_dataset: String,
    pub input_type: &'static str,
    pub output_type: &'static str,
    pub project: &'static str,
    pub transformation: &'static str,
    pub parent_tid: i64,
    pub eventservice: bool,
    /// The task is a step of a Rubin-style workflow (an iDDS DAG of many small tasks).
    pub workflow: Option<WorkflowStep>,
}

/// A task's place in a Rubin-style workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowStep {
    /// Which workflow of the plan (0, 1, ...).
    pub workflow: u32,
    /// The indexes (in `Plan::tasks`) of the steps whose output this step reads.
    pub parents: Vec<usize>,
}

impl TaskPlan {
    pub fn prodsourcelabel(&self) -> &'static str {
        match self.kind {
            TaskKind::Production => "managed",
            TaskKind::Analysis => "user",
        }
    }
}

/// The whole plan of a simulation.
#[derive(Debug, Clone)]
pub struct Plan {
    pub world: World,
    pub tasks: Vec<TaskPlan>,
    pub jobs: Vec<JobPlan>,
    pub now: i64,
    pub start: i64,
    pub first_pandaid: i64,
}

/// Inputs of the plan.
#[derive(Debug, Clone, Copy)]
pub struct PlanConfig {
    pub jobs: u64,
    pub seed: u64,
    pub days: f64,
    /// Unix seconds; the simulated history ends here.
    pub now: i64,
}

pub const FIRST_TASK_ID: i64 = 40_000_000;
pub const FIRST_PANDAID: i64 = 6_400_000_000;
pub const FIRST_REQID: i64 = 52_000;

const PROD_STEPS: &[(&str, &str, &str, &str, i64, f64)] = &[
    // processingtype, input type, output type, transformation, corecount, walltime median (s)
    ("evgen", "TXT", "EVNT", "Gen_tf.py", 1, 5_400.0),
    ("simul", "EVNT", "HITS", "Sim_tf.py", 8, 14_400.0),
    ("pile", "HITS", "RDO", "Reco_tf.py", 8, 7_200.0),
    ("reco", "HITS", "AOD", "Reco_tf.py", 8, 10_800.0),
    ("deriv", "AOD", "DAOD_PHYS", "Derivation_tf.py", 8, 3_600.0),
    ("merge", "HITS", "HITS", "HITSMerge_tf.py", 1, 1_800.0),
    ("reprocessing", "RAW", "AOD", "Reco_tf.py", 8, 18_000.0),
];
const PROD_STEP_WEIGHTS: [f64; 7] = [10.0, 35.0, 8.0, 15.0, 18.0, 9.0, 5.0];
const PHYSICS: &[(i64, &str)] = &[
    (601229, "PhPy8EG_A14_ttbar_hdamp258p75_SingleLep"),
    (700320, "Sh_2211_Zee_maxHTpTV2_BFilter"),
    (801165, "Py8EG_A14NNPDF23LO_jj_JZ0"),
    (601189, "PhPy8EG_AZNLO_Zmumu"),
    (700866, "Sh_2214_WWlvlv"),
    (508781, "MGPy8EG_A14N23LO_SM_HHbbtautau"),
    (603350, "PhPy8EG_PDF4LHC21_ggH125_ZZ4lep"),
    (801173, "Py8EG_A14NNPDF23LO_jj_JZ8"),
];
const WORKING_GROUPS: &[&str] = &[
    "AP_MCGN", "AP_REPR", "AP_PHYS", "GP_TOPQ", "GP_HIGG", "AP_VALI",
];
const ANALYSIS_TOOLS: &[&str] = &["prun", "pathena", "prun", "prun", "pathena", "gangarobot"];
const PROD_MANAGERS: &[&str] = &[
    "atlas-dpd-production",
    "Mc Production",
    "atlas-reprocessing",
    "Group Production",
];

/// The leaf share of a task; one analysis task in 25 runs in the express share.
fn share_for(id: i64, processingtype: &str, kind: TaskKind) -> &'static str {
    match (kind, processingtype) {
        (TaskKind::Analysis, "group") => "Group Analysis",
        (TaskKind::Analysis, _) if id % 25 == 0 => "Express Analysis",
        (TaskKind::Analysis, _) => "User Analysis",
        (_, "evgen") => "MC Event Generation",
        (_, "simul") => "MC Simulation Full",
        (_, "pile" | "reco") => "MC Reconstruction",
        (_, "reprocessing" | "pipetask") => "Data Reprocessing",
        (_, "deriv") => "Data Derivations",
        _ => "MC Merging",
    }
}

fn resource_type(corecount: i64, ram_per_core: i64) -> &'static str {
    match (corecount > 1, ram_per_core > 2000) {
        (false, false) => "SCORE",
        (false, true) => "SCORE_HIMEM",
        (true, false) => "MCORE",
        (true, true) => "MCORE_HIMEM",
    }
}

impl Plan {
    pub fn build(config: PlanConfig) -> Plan {
        let root = Rng::new(config.seed);
        let world = World::build(&mut root.fork(1));
        let mut rng = root.fork(2);
        let now = config.now;
        let window = (config.days * 86_400.0) as i64;
        let start = now - window;
        // Tasks begin up to a day before the window so that work is in flight at its start.
        let lead = 86_400;
        let step_cdf = cumulative(PROD_STEP_WEIGHTS);
        let mut tasks: Vec<TaskPlan> = Vec::new();
        let mut jobs: Vec<JobPlan> = Vec::new();
        let mut emitted: u64 = 0;
        let mut next_request = 1_000i64;
        let mut next_reqid = FIRST_REQID;
        let mut reqid_tasks_left = 0;
        let mut current_campaign = CAMPAIGNS[0];
        for workflow in 0..rubin_workflows(config.jobs) {
            let mut wf_rng = root.fork(100 + workflow as u64);
            next_reqid += 1;
            emitted += plan_rubin_workflow(
                &mut wf_rng,
                &world,
                workflow,
                next_reqid,
                rubin_size(config.jobs),
                now,
                &mut tasks,
                &mut jobs,
            );
        }
        while emitted < config.jobs {
            let kind = if rng.chance(0.55) {
                TaskKind::Production
            } else {
                TaskKind::Analysis
            };
            let mut created = start - lead + rng.range(0, window + lead);
            if kind == TaskKind::Analysis {
                // Users submit more during European and American working hours.
                let hour = (created.rem_euclid(86_400)) / 3_600;
                if !(7..=22).contains(&hour) && rng.chance(0.6) {
                    created = start - lead + rng.range(0, window + lead);
                }
            }
            let id = FIRST_TASK_ID + tasks.len() as i64;
            if kind == TaskKind::Production && reqid_tasks_left == 0 {
                next_reqid += 1;
                reqid_tasks_left = rng.range(1, 25);
                current_campaign = *rng.pick(CAMPAIGNS);
            }
            let remaining = config.jobs - emitted;
            let mut task = match kind {
                TaskKind::Production => {
                    reqid_tasks_left -= 1;
                    let step = PROD_STEPS[rng.weighted(&step_cdf)];
                    let (ptype, input_type, output_type, transformation, cores, wall) = step;
                    let (dsid, phys) = *rng.pick(PHYSICS);
                    let data = ptype == "reprocessing" || current_campaign.starts_with("data");
                    let project = if data {
                        "data24_13p6TeV"
                    } else {
                        "mc23_13p6TeV"
                    };
                    let tags = format!(
                        "e{}_s{}_r{}",
                        rng.range(8400, 8600),
                        rng.range(4100, 4200),
                        rng.range(14600, 15900)
                    );
                    let name = if data {
                        format!(
                            "{project}.00{}.physics_Main.{ptype}.{output_type}.{tags}",
                            rng.range(470000, 490000)
                        )
                    } else {
                        format!("{project}.{dsid}.{phys}.{ptype}.{output_type}.{tags}")
                    };
                    let ram_per_core = if rng.chance(0.08) { 4000 } else { 2000 };
                    let files_per_job = match ptype {
                        "merge" => rng.range(5, 10),
                        "deriv" => rng.range(2, 5),
                        _ => rng.range(1, 2),
                    } as u32;
                    let planned = (rng.lognormal(150.0, 1.1).clamp(1.0, 15_000.0) as u64)
                        .min(remaining.max(1)) as u32;
                    let input_dataset = format!(
                        "{project}:{}.{input_type}.{tags}_tid{id:08}_00",
                        name.split(".").take(3).collect::<Vec<_>>().join(".")
                    );
                    let manager = PROD_MANAGERS[rng.index(PROD_MANAGERS.len())].to_string();
                    let group = *rng.pick(WORKING_GROUPS);
                    new_task(
                        &mut rng,
                        id,
                        kind,
                        name.clone(),
                        manager,
                        None,
                        next_reqid,
                        current_campaign,
                        ptype,
                        Some(group),
                        cores,
                        ram_per_core,
                        created,
                        wall,
                        files_per_job,
                        planned,
                        input_dataset,
                        format!("{project}:{name}_tid{id:08}_00"),
                        input_type,
                        output_type,
                        project,
                        transformation,
                        &world,
                    )
                }
                TaskKind::Analysis => {
                    let user_index = rng.weighted(&world.user_cdf);
                    let user = &world.users[user_index];
                    let group = rng.chance(0.1);
                    let ptype = if group {
                        "group"
                    } else {
                        *rng.pick(ANALYSIS_TOOLS)
                    };
                    let name = format!(
                        "user.{}.{}.{}_{}/",
                        user.nickname,
                        rng.pick(PHYSICS).1.split('_').next().unwrap_or("ana"),
                        rng.pick(&["ntuple", "hist", "skim", "tree", "mva"]),
                        rng.range(1, 400)
                    );
                    let planned = (rng.lognormal(30.0, 1.3).clamp(1.0, 5_000.0) as u64)
                        .min(remaining.max(1)) as u32;
                    let files_per_job = rng.range(1, 4) as u32;
                    let project = "mc23_13p6TeV";
                    let (dsid, phys) = *rng.pick(PHYSICS);
                    let ram = if rng.chance(0.05) { 4000 } else { 2000 };
                    new_task(
                        &mut rng,
                        id,
                        kind,
                        name.clone(),
                        user.name.clone(),
                        Some(user_index),
                        0,
                        "",
                        ptype,
                        None,
                        1,
                        ram,
                        created,
                        1_800.0,
                        files_per_job,
                        planned,
                        format!(
                            "{project}:{project}.{dsid}.{phys}.deriv.DAOD_PHYS.e8514_s4162_r15540_p6266"
                        ),
                        format!("user.{}:{}", user.nickname, name.trim_end_matches('/')),
                        "DAOD_PHYS",
                        "NTUP",
                        project,
                        "http://pandaserver.cern.ch:25080/trf/user/runGen-00-00-02",
                        &world,
                    )
                }
            };
            // Some production tasks read from tape: a data carousel request comes first.
            if kind == TaskKind::Production
                && matches!(task.processingtype, "reprocessing" | "deriv" | "reco")
                && rng.chance(0.4)
            {
                let stalled = rng.chance(0.2);
                let mut staging_created = task.created;
                if stalled && rng.chance(0.5) {
                    // Stalled for more than ten days: created well before the window.
                    staging_created = now - rng.range(10 * 86_400 + 3_600, 20 * 86_400);
                    task.created = staging_created;
                }
                // The carousel's sliding window is full for one request in two of the last two
                // days: it waits in the queue until after now.
                let queued_for = if staging_created > now - 2 * 86_400 && next_request % 2 == 0 {
                    now - staging_created + 3_600
                } else {
                    0
                };
                let started = staging_created + rng.range(60, 3_600) + queued_for;
                let duration = rng.lognormal(6.0 * 3_600.0, 0.9) as i64;
                let site = &world.queues[rng.weighted(&world.production_cdf)];
                let tape_site = *rng.pick(&[
                    "CERN-PROD",
                    "BNL-ATLAS",
                    "FZK-LCG2",
                    "IN2P3-CC",
                    "RAL-LCG2",
                    "INFN-T1",
                    "TRIUMF-LCG2",
                    "NDGF-T1",
                    "pic",
                    "SARA-MATRIX",
                ]);
                let staging = Staging {
                    request_id: next_request,
                    created: staging_created,
                    started,
                    done: if stalled {
                        None
                    } else {
                        Some(started + duration)
                    },
                    stalled_at: stalled.then(|| {
                        (
                            rng.f64() * 0.8,
                            started + (duration as f64 * rng.f64()) as i64,
                        )
                    }),
                    source_rse: format!("{tape_site}_DATATAPE"),
                    tape: format!("{tape_site}_TAPE_{}", rng.range(1, 40)),
                    destination_rse: format!("{}_DATADISK", site.site),
                    cancelled: !stalled && rng.chance(0.08),
                };
                next_request += 1;
                task.first_job_at = match staging.done {
                    Some(done) if !staging.cancelled => done + rng.range(60, 1_800),
                    _ => i64::MAX,
                };
                task.staging = Some(staging);
            }
            let mut task_rng = rng.fork(id as u64);
            plan_jobs(
                &mut task_rng,
                &world,
                &mut task,
                &mut jobs,
                tasks.len() as u32,
            );
            emitted += task
                .jobs
                .iter()
                .filter(|&&j| jobs[j as usize].created() <= now)
                .count() as u64;
            tasks.push(task);
        }
        // Retries of the last tasks can pass the number asked for: their newest jobs without a
        // retry of their own are then never created, so exactly `config.jobs` exist at `now`.
        let mut surplus = emitted.saturating_sub(config.jobs);
        for task in tasks.iter_mut().rev() {
            if surplus == 0 {
                break;
            }
            let mut k = task.jobs.len();
            while surplus > 0 && k > 0 {
                k -= 1;
                let j = task.jobs[k] as usize;
                let exists = |i: usize| jobs[i].created() <= now;
                let has_retry = jobs[j].retry.is_some_and(|r| exists(r as usize));
                if exists(j) && !has_retry {
                    jobs[j].times = [0; 10];
                    jobs[j].times[0] = i64::MAX;
                    jobs[j].outcome = Outcome::Cancelled;
                    task.jobs.remove(k);
                    surplus -= 1;
                }
            }
        }
        // PanDA ids grow with creation time.
        let mut order: Vec<u32> = (0..jobs.len() as u32).collect();
        order.sort_by_key(|&i| (jobs[i as usize].created(), i));
        for (rank, &i) in order.iter().enumerate() {
            jobs[i as usize].pandaid = FIRST_PANDAID + rank as i64;
        }
        Plan {
            world,
            tasks,
            jobs,
            now,
            start,
            first_pandaid: FIRST_PANDAID,
        }
    }

    /// Jobs that exist at `now`, in pandaid order.
    pub fn existing_jobs(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.jobs.len() as u32)
            .filter(|&i| self.jobs[i as usize].created() <= self.now)
            .collect();
        ids.sort_by_key(|&i| self.jobs[i as usize].pandaid);
        ids
    }
}

/// How many Rubin-style workflows a history of `jobs` jobs has: one from 50 000 jobs, two
/// from 500 000.
pub fn rubin_workflows(jobs: u64) -> u32 {
    match jobs {
        0..50_000 => 0,
        50_000..500_000 => 1,
        _ => 2,
    }
}

/// Steps of each Rubin-style workflow: about one per 150 jobs of the history, 1 000 to 5 000.
fn rubin_size(jobs: u64) -> usize {
    (jobs / 150).clamp(1_000, 5_000) as usize
}

/// The pipeline steps of a Rubin-style workflow, in the order of its layers.
const RUBIN_LABELS: &[&str] = &[
    "isr",
    "calibrate",
    "characterizeImage",
    "writeSourceTable",
    "consolidateVisitSummary",
    "makeWarp",
    "assembleCoadd",
    "detection",
    "deblend",
    "measure",
    "forcedPhot",
    "diffImage",
];

/// Plans one Rubin-style workflow of `size` small tasks laid out in layers (one pipeline step
/// per layer, about 1.3 √size tasks wide): each task below the first layer reads the output of
/// one task of the layer above, a quarter of them of a second one too (chains, fan-out and
/// fan-in). The workflow started between 6 hours and 2 days before `now`; each layer is
/// submitted a while after the one above, so the first layers are done and the last still run.
/// Returns the jobs that exist at `now`.
#[allow(clippy::too_many_arguments)]
fn plan_rubin_workflow(
    rng: &mut Rng,
    world: &World,
    workflow: u32,
    reqid: i64,
    size: usize,
    now: i64,
    tasks: &mut Vec<TaskPlan>,
    jobs: &mut Vec<JobPlan>,
) -> u64 {
    let width = ((size as f64).sqrt() * 1.3).ceil() as usize;
    let layers = size.div_ceil(width);
    let started = now - rng.range(6 * 3_600, 2 * 86_400);
    let layer_gap = (now - started) / (layers as i64 + 2);
    let first = tasks.len();
    let mut emitted = 0;
    for i in 0..size {
        let layer = i / width;
        let parents: Vec<usize> = if layer == 0 {
            Vec::new()
        } else {
            let above = first + (layer - 1) * width;
            let a = above + rng.index(width);
            let b = above + rng.index(width);
            if b != a && rng.chance(0.25) {
                vec![a, b]
            } else {
                vec![a]
            }
        };
        let id = FIRST_TASK_ID + tasks.len() as i64;
        let label = RUBIN_LABELS[layer % RUBIN_LABELS.len()];
        let name = format!("rubin.dp{workflow}.{label}.{i:05}");
        let output = format!("rubin:{name}.out");
        let input = match parents.first() {
            Some(&p) => tasks[p].output_dataset.clone(),
            None => format!("rubin:raw.dp{workflow}.{i:05}"),
        };
        let created = started + layer as i64 * layer_gap + rng.range(0, layer_gap.max(1) / 2);
        let planned = rng.range(1, 4) as u32;
        let mut task = new_task(
            rng,
            id,
            TaskKind::Production,
            name,
            "rubin-drp".to_string(),
            None,
            reqid,
            "RubinDRP",
            "pipetask",
            None,
            1,
            4000,
            created,
            900.0,
            1,
            planned,
            input,
            output,
            "exposure",
            "pipetask_output",
            "rubin",
            "pipetask",
            world,
        );
        task.workflow = Some(WorkflowStep { workflow, parents });
        let mut task_rng = rng.fork(id as u64);
        plan_jobs(&mut task_rng, world, &mut task, jobs, tasks.len() as u32);
        emitted += task
            .jobs
            .iter()
            .filter(|&&j| jobs[j as usize].created() <= now)
            .count() as u64;
        tasks.push(task);
    }
    emitted
}

#[allow(clippy::too_many_arguments)]
fn new_task(
    rng: &mut Rng,
    id: i64,
    kind: TaskKind,
    name: String,
    username: String,
    user_index: Option<usize>,
    reqid: i64,
    campaign: &'static str,
    processingtype: &'static str,
    workinggroup: Option<&'static str>,
    corecount: i64,
    ram_per_core: i64,
    created: i64,
    walltime_median: f64,
    files_per_job: u32,
    planned_jobs: u32,
    input_dataset: String,
    output_dataset: String,
    input_type: &'static str,
    output_type: &'static str,
    project: &'static str,
    transformation: &'static str,
    world: &World,
) -> TaskPlan {
    let share = share_for(id, processingtype, kind);
    let workqueue_id = world
        .shares
        .iter()
        .find(|s| s.name == share)
        .map(|s| s.queue_id)
        .unwrap_or(9000);
    let bad_mode = rng
        .chance(0.04)
        .then(|| TASK_MODES[rng.index(TASK_MODES.len())]);
    let nucleus = world.nuclei[rng.index(world.nuclei.len())].clone();
    let aborted_at = rng
        .chance(0.02)
        .then(|| created + rng.range(3_600, 2 * 86_400));
    let n_files = planned_jobs * files_per_job;
    let log_dataset = format!("{}.log", output_dataset.trim_end_matches('/'));
    TaskPlan {
        id,
        kind,
        name,
        username,
        user_index,
        reqid,
        campaign,
        processingtype,
        workinggroup,
        share,
        workqueue_id,
        corecount,
        resource_type: resource_type(corecount, ram_per_core),
        ramcount: ram_per_core,
        created,
        first_job_at: created + rng.range(120, 1_800),
        release: match kind {
            TaskKind::Analysis => 5,
            TaskKind::Production => rng.index(RELEASES.len() - 1),
        },
        nucleus,
        priority: match kind {
            TaskKind::Production => rng.range(40, 95) * 10,
            TaskKind::Analysis => 1_000,
        },
        bad_mode,
        fail_base: match kind {
            TaskKind::Production => 0.05,
            TaskKind::Analysis => 0.10,
        },
        maxattempt: match kind {
            TaskKind::Production => 5,
            TaskKind::Analysis => 3,
        },
        walltime_median,
        files_per_job,
        events_per_file: match kind {
            TaskKind::Production => *rng.pick(&[1_000, 2_000, 5_000, 10_000]),
            TaskKind::Analysis => rng.range(5_000, 50_000),
        },
        n_files,
        planned_jobs,
        jobs: Vec::new(),
        aborted_at,
        staging: None,
        input_dataset,
        output_dataset,
        log_dataset,
        input_type,
        output_type,
        project,
        transformation,
        parent_tid: id,
        eventservice: kind == TaskKind::Production && processingtype == "simul" && rng.chance(0.05),
        workflow: None,
    }
}

/// Plans every job attempt of a task: first attempts spread over the task's active period, then
/// retries after failures until the file succeeds or the attempts run out.
fn plan_jobs(
    rng: &mut Rng,
    world: &World,
    task: &mut TaskPlan,
    jobs: &mut Vec<JobPlan>,
    task_index: u32,
) {
    if task.first_job_at == i64::MAX {
        return;
    }
    let analysis = task.kind == TaskKind::Analysis;
    let cdf = if analysis {
        &world.analysis_cdf
    } else {
        &world.production_cdf
    };
    // A task brokers to a handful of queues; most of its jobs go to the first of them.
    let brokered: Vec<usize> = (0..rng.range(1, 6)).map(|_| rng.weighted(cdf)).collect();
    let duration = rng.lognormal(if analysis { 3_600.0 } else { 8.0 * 3_600.0 }, 0.8);
    let scouts = task.planned_jobs.min(if analysis { 0 } else { 10 });
    let scout_done = task.first_job_at + (task.walltime_median * 1.2) as i64;
    for n in 0..task.planned_jobs {
        let scout = n < scouts;
        let created = if scout {
            task.first_job_at + rng.range(0, 120)
        } else if scouts > 0 {
            scout_done + (rng.f64() * duration) as i64
        } else {
            task.first_job_at + (rng.f64() * duration) as i64
        };
        let queue = brokered[if rng.chance(0.6) {
            0
        } else {
            rng.index(brokered.len())
        }];
        let mut index = push_job(
            rng,
            world,
            task,
            jobs,
            task_index,
            queue,
            created,
            n * task.files_per_job,
            scout,
            None,
        );
        // Retries.
        loop {
            let job = &jobs[index as usize];
            let retryable = matches!(job.outcome, Outcome::Failed(_) | Outcome::Closed)
                && job.attempt < task.maxattempt
                && task.aborted_at.is_none_or(|t| job.final_time() < t);
            if !retryable || !rng.chance(0.9) {
                break;
            }
            let queue = if matches!(job.outcome, Outcome::Closed) || rng.chance(0.5) {
                brokered[rng.index(brokered.len())]
            } else {
                job.queue as usize
            };
            let created = job.final_time() + rng.lognormal(300.0, 0.8) as i64;
            let (first_file, attempt) = (job.first_file, job.attempt);
            let child = push_job(
                rng,
                world,
                task,
                jobs,
                task_index,
                queue,
                created,
                first_file,
                false,
                Some((index, attempt + 1)),
            );
            jobs[index as usize].retry = Some(child);
            index = child;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn push_job(
    rng: &mut Rng,
    world: &World,
    task: &mut TaskPlan,
    jobs: &mut Vec<JobPlan>,
    task_index: u32,
    queue: usize,
    created: i64,
    first_file: u32,
    scout: bool,
    parent: Option<(u32, u8)>,
) -> u32 {
    let q = &world.queues[queue];
    let mut times = [0i64; 10];
    let mut t = created;
    times[Stage::Pending as usize] = t;
    t += rng.exp(45.0) as i64 + 1;
    times[Stage::Defined as usize] = t;
    if task.kind == TaskKind::Production && rng.chance(0.3) {
        t += rng.lognormal(600.0, 1.0) as i64 + 1;
        times[Stage::Assigned as usize] = t;
    }
    t += rng.exp(30.0) as i64 + 1;
    times[Stage::Activated as usize] = t;
    let activated = t;
    // Queue wait grows with how busy the queue is; a heavy tail of long waits.
    let wait = rng.lognormal(900.0 * (1.0 + q.weight / 20.0), 1.2);
    t += wait as i64 + 1;
    times[Stage::Sent as usize] = t;
    t += rng.exp(60.0) as i64 + 1;
    times[Stage::Starting as usize] = t;
    t += rng.lognormal(120.0, 0.8) as i64 + 1;
    times[Stage::Running as usize] = t;
    let walltime = (rng.lognormal(task.walltime_median, 0.5) as i64).max(60);
    let fail_p = (task.fail_base * q.fail_factor * if task.bad_mode.is_some() { 8.0 } else { 1.0 })
        .min(0.92);
    let outcome = if rng.chance(0.008) {
        Outcome::Closed
    } else if rng.chance(fail_p) {
        let mode = if let Some(mode) = task.bad_mode.filter(|_| rng.chance(0.8)) {
            mode
        } else if q.fail_factor > 1.0 && rng.chance(0.7) {
            q.fail_mode
        } else if task.kind == TaskKind::Analysis && rng.chance(0.45) {
            USER_CODE_MODE
        } else {
            *rng.pick(&[0usize, 1, 2, 3, 4, 5, 6, 7, 7, 11, 12, 13])
        };
        Outcome::Failed(mode as u8)
    } else {
        Outcome::Finished
    };
    let running = t;
    match outcome {
        Outcome::Finished => {
            t += walltime;
            times[Stage::Holding as usize] = t;
            t += rng.exp(120.0) as i64 + 1;
            times[Stage::Transferring as usize] = t;
            t += rng.lognormal(600.0, 1.0) as i64 + 1;
            times[Stage::Final as usize] = t;
        }
        Outcome::Failed(mode) => {
            let fraction = FAILURE_MODES[mode as usize].at_fraction;
            if fraction >= 1.0 {
                t += walltime;
                times[Stage::Holding as usize] = t;
                t += rng.lognormal(1_800.0, 1.0) as i64 + 1;
            } else {
                t += (walltime as f64 * fraction) as i64 + 1;
            }
            times[Stage::Final as usize] = t;
        }
        Outcome::Closed => {
            for stage in [Stage::Sent, Stage::Starting, Stage::Running] {
                times[stage as usize] = 0;
            }
            times[Stage::Final as usize] = activated + rng.lognormal(3_600.0, 1.0) as i64 + 1;
        }
        Outcome::Cancelled => unreachable!("cancellation is applied below"),
    }
    let mut job = JobPlan {
        task: task_index,
        queue: queue as u16,
        attempt: parent.map_or(1, |p| p.1),
        parent: parent.map(|p| p.0),
        retry: None,
        first_file,
        n_files: task.files_per_job.min(255) as u8,
        scout,
        times,
        outcome,
        walltime: if running > 0 { walltime } else { 0 },
        pandaid: 0,
    };
    // An aborted task cancels every job that is not final by then.
    if let Some(abort) = task.aborted_at
        && job.final_time() > abort
    {
        if created > abort {
            // Never created: the task was gone.
            job.times = [0; 10];
            job.times[0] = i64::MAX;
            job.outcome = Outcome::Cancelled;
        } else {
            for stage in STAGES {
                if job.times[stage as usize] > abort {
                    job.times[stage as usize] = 0;
                }
            }
            job.times[Stage::Final as usize] = abort + rng.range(5, 600);
            job.outcome = Outcome::Cancelled;
        }
    }
    let index = jobs.len() as u32;
    if job.times[0] != i64::MAX {
        task.jobs.push(index);
    }
    jobs.push(job);
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn plan(jobs: u64, seed: u64) -> Plan {
        Plan::build(PlanConfig {
            jobs,
            seed,
            days: 3.0,
            now: 1_790_000_000,
        })
    }

    #[test]
    fn plan_is_deterministic_and_sized() {
        let a = plan(5_000, 9);
        let b = plan(5_000, 9);
        assert_eq!(a.jobs.len(), b.jobs.len());
        assert_eq!(a.tasks.len(), b.tasks.len());
        assert!(
            a.jobs
                .iter()
                .zip(&b.jobs)
                .all(|(x, y)| x.times == y.times && x.pandaid == y.pandaid)
        );
        assert_eq!(
            a.existing_jobs().len(),
            5_000,
            "exactly the jobs asked for exist"
        );
        assert_ne!(plan(5_000, 10).jobs.len(), 0);
    }

    #[test]
    fn rubin_workflow_is_a_layered_dag_of_small_tasks() {
        let p = plan(60_000, 4);
        assert_eq!(p.existing_jobs().len(), 60_000);
        let steps: Vec<(usize, &TaskPlan)> = p
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.workflow.is_some())
            .collect();
        assert_eq!(steps.len(), rubin_size(60_000));
        let mut children: HashMap<usize, usize> = HashMap::new();
        let mut joins = 0;
        for (i, task) in &steps {
            let step = task.workflow.as_ref().unwrap();
            assert_eq!(step.workflow, 0);
            assert!(task.name.starts_with("rubin.dp0."), "{}", task.name);
            assert!((1..=4).contains(&task.planned_jobs), "a small task");
            for &parent in &step.parents {
                assert!(parent < *i, "a step depends on an earlier one");
                assert!(p.tasks[parent].workflow.is_some());
                *children.entry(parent).or_default() += 1;
            }
            match step.parents.first() {
                Some(&first) => assert_eq!(task.input_dataset, p.tasks[first].output_dataset),
                None => assert!(task.input_dataset.starts_with("rubin:raw.")),
            }
            joins += usize::from(step.parents.len() > 1);
        }
        assert!(joins > 0, "some steps join two branches");
        assert!(children.values().any(|&n| n > 1), "some steps fan out");
        assert!(
            steps
                .iter()
                .filter(|(_, t)| t.workflow.as_ref().unwrap().parents.is_empty())
                .count()
                < steps.len() / 10,
            "most steps are below the first layer"
        );
        assert_eq!(rubin_workflows(10_000), 0);
        assert_eq!(rubin_workflows(1_000_000), 2);
    }

    #[test]
    fn timelines_are_ordered_and_retries_follow_failures() {
        let p = plan(5_000, 3);
        let mut retries = 0;
        for job in p.jobs.iter().filter(|j| j.created() != i64::MAX) {
            let reached: Vec<i64> = job.times.iter().copied().filter(|&t| t != 0).collect();
            assert!(reached.windows(2).all(|w| w[0] <= w[1]), "{:?}", job.times);
            if let Some(parent) = job.parent {
                retries += 1;
                let parent = &p.jobs[parent as usize];
                assert!(matches!(
                    parent.outcome,
                    Outcome::Failed(_) | Outcome::Closed
                ));
                assert!(job.created() > parent.final_time());
                assert!(job.pandaid > parent.pandaid);
                assert_eq!(job.first_file, parent.first_file);
            }
        }
        assert!(retries > 0);
    }
}
