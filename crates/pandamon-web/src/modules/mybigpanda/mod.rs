//! MyBigPanDA: one analysis user's overview (`/user/<name>/`), what a physicist opens to see at
//! a glance which of their tasks is slow or broken: progress in input files, tasks by status and
//! by age, colour-coded job metrics, and the task table with each task's most common error and
//! one click to a failing job's log. A user is matched by login or by full name. `/user/` asks
//! for the name.

use crate::kit::auth;
use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{JobStatusCount, job_summary};
use crate::kit::format::{
    compact_duration, describe_window, failure_percent, field_text, human_count, percent_text,
};
use crate::kit::joberrors::{
    ErrorCount, describe, described_summary, error_columns, error_jobs_link, job_tables,
    typed_job_columns,
};
use crate::kit::links::{encode_segment, jobs_url, link_with, set_param, url, url_with};
use crate::kit::module::{
    ConfigKey, Module, Param, ParamType, Route, RouteDoc, positive_integer, schema,
};
use crate::kit::respond::{PageRequest, parse_selection, project_rows};
use crate::kit::source;
use crate::kit::state::AppState;
use askama::Template;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{NaiveDateTime, Utc};
use pandamon_model::JobTable;
use pandamon_query::{Selection, fields};
use pandamon_store::Value;
use pandamon_store::jobs::{Cell, Group, Match};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};

pub struct MyBigPanda;

/// The window of the page in days, when the URL names none (bigmon's default).
const DEFAULT_DAYS: i64 = 7;
/// The most tasks the page reads.
const MAX_TASKS: u64 = 2_000;
/// The most finished and failed jobs read for the job metrics.
const MAX_JOBS: u64 = 200_000;
/// Task age bins: (upper bound in hours, label).
const AGE_BINS: &[(i64, &str)] = &[
    (1, "< 1 h"),
    (6, "1–6 h"),
    (24, "6–24 h"),
    (72, "1–3 d"),
    (168, "3–7 d"),
    (720, "7–30 d"),
    (i64::MAX, "> 30 d"),
];

impl Module for MyBigPanda {
    fn name(&self) -> &'static str {
        "mybigpanda"
    }
    fn description(&self) -> &'static str {
        "MyBigPanDA: one user's tasks with progress, ages, job metrics and their most common errors"
    }
    fn tables(&self) -> &'static [&'static str] {
        &[
            "jedi_tasks",
            "jedi_datasets",
            "filestable4",
            "error_descriptions",
        ]
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/user/",
                handler: get(ask_user),
                doc: RouteDoc {
                    summary: "MyBigPanDA: the logged-in user's page; for others a form asking whose overview to show (JSON: the users with the most analysis jobs of the window, \"name (jobs)\"); `?name=` goes to that user's page",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query(
                                "hours",
                                ParamType::Integer,
                                "the users' jobs of this many hours back (default 24)",
                            ),
                            Param::query("days", ParamType::Integer, "the same in days"),
                        ]
                    },
                    response: schema::<Vec<String>>,
                    html: true,
                },
            },
            Route {
                path: "/user/{name}/",
                handler: get(user_page),
                doc: RouteDoc {
                    summary: "one user's overview (by login or full name): tasks with progress, age and most common error, job metrics, jobs by status",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::path("name", ParamType::Text, "the user's login or full name"),
                            Param::query("days", ParamType::Integer, "window in days (default 7)"),
                        ]
                    },
                    response: schema::<UserJson>,
                    html: true,
                },
            },
        ]
    }
    fn config_keys(&self) -> &'static [ConfigKey] {
        &[ConfigKey {
            name: "short_job_minutes",
            description: "a median duration of finished jobs below this many minutes is flagged (default 30)",
            check: positive_integer,
        }]
    }
}

/// One task of the user, as the task table shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MyTask {
    pub jeditaskid: i64,
    pub taskname: String,
    pub status: String,
    pub creationdate: String,
    pub age_hours: f64,
    /// Input files: all, finished, failed (JEDI's counts).
    pub files_total: i64,
    pub files_finished: i64,
    pub files_failed: i64,
    /// Finished of all input files, %.
    pub progress: f64,
    /// The task's jobs in the window by status.
    pub jobs: BTreeMap<String, i64>,
    /// Failed of finished and failed jobs, %.
    pub failure_percent: Option<f64>,
    /// The most common error of the task's failed and holding jobs.
    pub top_error: Option<TopError>,
}

/// A task's most common error and where to read about it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TopError {
    pub error: String,
    pub acronym: String,
    pub count: i64,
    pub example_pandaid: i64,
    /// The example job's log (its log tarball's page, else the job's page).
    pub log: String,
}

/// The user's job metrics over the window's finished and failed jobs.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct JobMetrics {
    pub finished: i64,
    pub failed: i64,
    pub failure_percent: Option<f64>,
    /// Median run time of finished jobs, s.
    pub median_duration_s: Option<i64>,
    /// The median is below `[modules.mybigpanda] short_job_minutes`.
    pub short_jobs: bool,
    /// CPU time over core time of finished jobs, %.
    pub cpu_efficiency: Option<f64>,
    /// Core-hours of failed jobs.
    pub failed_walltime_core_hours: f64,
}

/// Tasks per age bin and status.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AgeHistogram {
    pub bins: Vec<String>,
    /// Per status, tasks per bin.
    pub series: Vec<(String, Vec<i64>)>,
}

/// `/user/<name>/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UserJson {
    pub user: String,
    /// The names the user's tasks and jobs go by (login and full names).
    pub names: Vec<String>,
    pub days: i64,
    pub jobsummary: Vec<JobStatusCount>,
    /// The user's tasks of the window, newest first.
    pub mytasks: Vec<MyTask>,
    pub taskstatus: Vec<(String, i64)>,
    pub agehistogram: AgeHistogram,
    pub metrics: JobMetrics,
    pub short_job_minutes: i64,
    pub failure_percent_limit: f64,
}

/// The names a user goes by: the name given, and when it is a login the full names of the
/// tasks named after it (`user.<login>.…`), and the reverse.
async fn names_of(state: &AppState, name: &str) -> AppResult<Vec<String>> {
    let mut names = vec![name.to_string()];
    if !name.contains(' ') {
        let tasks = parse_selection(
            &[("taskname".to_string(), format!("user.{name}.*"))],
            &[],
            &fields::TASKS,
            24 * 30,
        )?;
        for row in state
            .db
            // The sort and id columns are selected too: the database sorts by them.
            .page_rows(
                &["jedi_tasks"],
                &["username", "modificationtime", "jeditaskid"],
                &tasks,
                20,
                0,
            )
            .await?
        {
            if let Some(full) = row.first().and_then(Cell::as_text) {
                let full = full.trim().to_string();
                if !names.contains(&full) {
                    names.push(full);
                }
            }
        }
    }
    Ok(names)
}

fn time(cell: &Cell) -> Option<NaiveDateTime> {
    match cell {
        Cell::Time(t) => Some(*t),
        _ => None,
    }
}

async fn collect(state: &AppState, name: &str, days: i64) -> AppResult<UserJson> {
    let names = names_of(state, name).await?;
    let users = names.join("|");
    let window = [("days".to_string(), days.to_string())];
    let now = Utc::now().naive_utc();

    // The user's tasks of the window, with JEDI's input file counts.
    let mut task_params = window.to_vec();
    task_params.push(("username".to_string(), users.clone()));
    let tasks_sel = parse_selection(&task_params, &[], &fields::TASKS, 24 * days)?;
    let columns = [
        "jeditaskid",
        "taskname",
        "status",
        "creationdate",
        "modificationtime",
    ];
    let task_rows = state
        .db
        .page_rows(&["jedi_tasks"], &columns, &tasks_sel, MAX_TASKS, 0)
        .await?;
    let tasks = project_rows(&tasks_sel, &columns, task_rows);
    let ids: Vec<i64> = tasks
        .iter()
        .filter_map(|t| t.get("jeditaskid").and_then(Json::as_i64))
        .collect();
    let mut files: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    for chunk in ids.chunks(1_000) {
        let values = chunk.iter().map(|i| Value::Int(*i)).collect();
        let rows = state
            .db
            .rows_matching(
                "jedi_datasets",
                &[
                    ("jeditaskid", Match::In(values)),
                    ("type", Match::Eq(Value::from("input".to_string()))),
                ],
                None,
                100_000,
            )
            .await?;
        for r in rows {
            let get = |c: &str| r.iter().find(|(k, _)| k == c).and_then(|(_, v)| v.as_int());
            if let Some(task) = get("jeditaskid") {
                let e = files.entry(task).or_default();
                e.0 += get("nfiles").unwrap_or(0);
                e.1 += get("nfilesfinished").unwrap_or(0);
                e.2 += get("nfilesfailed").unwrap_or(0);
            }
        }
    }

    // The user's jobs of the window: by task and status, their errors, their run times.
    let mut job_params = window.to_vec();
    job_params.push(("produsername".to_string(), users));
    let jobs_sel = parse_selection(&job_params, &[], &fields::JOBS, 24 * days)?;
    let tables = job_tables(&jobs_sel);
    let (groups, _) = source::group(
        state,
        &jobs_sel,
        &tables,
        &typed_job_columns(&["jeditaskid", "jobstatus"]),
    )
    .await?;
    let mut by_task: HashMap<i64, BTreeMap<String, i64>> = HashMap::new();
    let mut by_status: Vec<(String, i64)> = Vec::new();
    for g in &groups {
        let status = g
            .values
            .get(1)
            .and_then(Cell::as_text)
            .unwrap_or("")
            .trim()
            .to_string();
        by_status.push((status.clone(), g.count));
        if let Some(task) = g.values.first().and_then(Cell::as_int) {
            *by_task.entry(task).or_default().entry(status).or_default() += g.count;
        }
    }
    if tasks.is_empty() && by_status.is_empty() {
        return Err(AppError::NotFound(format!(
            "user {name} (no task or job in the last {days} days under this login or name)"
        )));
    }
    let failing = jobs_sel.and_in("jobstatus", &["failed", "holding"]);
    let mut columns = error_columns().to_vec();
    columns.extend(typed_job_columns(&["jeditaskid"]));
    let (error_groups, _) = source::group(state, &failing, &tables, &columns).await?;
    let descriptions = state.reference.error_descriptions(&state.db).await?;
    let described = describe(&descriptions);
    let task_at = error_columns().len();
    let mut errors_by_task: HashMap<i64, Vec<&Group>> = HashMap::new();
    for g in &error_groups {
        if let Some(task) = g.values.get(task_at).and_then(Cell::as_int) {
            errors_by_task.entry(task).or_default().push(g);
        }
    }
    let top_errors: HashMap<i64, ErrorCount> = errors_by_task
        .into_iter()
        .filter_map(|(task, groups)| {
            described_summary(groups, &described)
                .into_iter()
                .next()
                .map(|e| (task, e))
        })
        .collect();
    let logs = log_files(
        state,
        top_errors.values().map(|e| e.example_pandaid).collect(),
    )
    .await?;

    let metrics = job_metrics(state, &jobs_sel, &tables, now).await?;
    let short_minutes = state
        .settings
        .module_int("mybigpanda", "short_job_minutes", 30);

    let mut mytasks: Vec<MyTask> = tasks
        .iter()
        .map(|t| {
            let id = t.get("jeditaskid").and_then(Json::as_i64).unwrap_or(0);
            let created = field_text(t, "creationdate");
            let age_hours = NaiveDateTime::parse_from_str(&created, "%Y-%m-%d %H:%M:%S")
                .map_or(0.0, |c| (now - c).num_minutes() as f64 / 60.0);
            let (total, finished, failed) = files.get(&id).copied().unwrap_or_default();
            let jobs = by_task.get(&id).cloned().unwrap_or_default();
            let count = |s: &str| jobs.get(s).copied().unwrap_or(0);
            MyTask {
                jeditaskid: id,
                taskname: field_text(t, "taskname"),
                status: field_text(t, "status"),
                creationdate: created,
                age_hours: (age_hours * 10.0).round() / 10.0,
                files_total: total,
                files_finished: finished,
                files_failed: failed,
                progress: if total > 0 {
                    (1000.0 * finished as f64 / total as f64).round() / 10.0
                } else {
                    0.0
                },
                failure_percent: failure_percent(count("finished"), count("failed"))
                    .map(|p| (p * 10.0).round() / 10.0),
                top_error: top_errors.get(&id).map(|e| TopError {
                    error: e.error.clone(),
                    acronym: e.acronym.clone(),
                    count: e.count,
                    example_pandaid: e.example_pandaid,
                    log: logs
                        .get(&e.example_pandaid)
                        .map(|lfn| url("/file/", &[("lfn", lfn)]))
                        .unwrap_or_else(|| format!("/job/{}/#job-logs", e.example_pandaid)),
                }),
                jobs,
            }
        })
        .collect();
    mytasks.sort_by_key(|t| std::cmp::Reverse(t.jeditaskid));

    let mut taskstatus: BTreeMap<String, i64> = BTreeMap::new();
    for t in &mytasks {
        *taskstatus.entry(t.status.clone()).or_default() += 1;
    }
    Ok(UserJson {
        user: name.to_string(),
        names,
        days,
        jobsummary: job_summary(by_status),
        agehistogram: age_histogram(&mytasks),
        taskstatus: taskstatus.into_iter().collect(),
        mytasks,
        metrics: JobMetrics {
            short_jobs: metrics
                .median_duration_s
                .is_some_and(|m| m < short_minutes * 60),
            ..metrics
        },
        short_job_minutes: short_minutes,
        failure_percent_limit: state.settings.failure_percent(),
    })
}

/// The log file of each job (`filestable4`, then the archive's copy), by pandaid.
async fn log_files(state: &AppState, pandaids: Vec<i64>) -> AppResult<HashMap<i64, String>> {
    let mut out = HashMap::new();
    for table in ["filestable4", "filestable_arch"] {
        let missing: Vec<Value> = pandaids
            .iter()
            .filter(|p| !out.contains_key(*p))
            .map(|p| Value::Int(*p))
            .collect();
        if missing.is_empty() {
            break;
        }
        for chunk in missing.chunks(1_000) {
            let rows = state
                .db
                .rows_matching(
                    table,
                    &[
                        ("pandaid", Match::In(chunk.to_vec())),
                        ("type", Match::Eq(Value::from("log".to_string()))),
                    ],
                    None,
                    10_000,
                )
                .await?;
            for r in rows {
                let get = |c: &str| r.iter().find(|(k, _)| k == c).map(|(_, v)| v.clone());
                if let (Some(Cell::Int(p)), Some(Cell::Text(lfn))) = (get("pandaid"), get("lfn")) {
                    out.insert(p, lfn.trim_end().to_string());
                }
            }
        }
    }
    Ok(out)
}

/// Failure rate, median duration and CPU efficiency of the window's finished jobs, and the
/// core-hours of its failed ones.
async fn job_metrics(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
    now: NaiveDateTime,
) -> AppResult<JobMetrics> {
    let done = selection.and_in("jobstatus", &["finished", "failed"]);
    let columns = [
        "jobstatus",
        "starttime",
        "endtime",
        "corecount",
        "cpuconsumptiontime",
        "pandaid",
        "modificationtime",
    ];
    let rows = source::job_page(state, &done, tables, &columns, MAX_JOBS, 0).await?;
    let mut durations = Vec::new();
    let (mut finished, mut failed) = (0, 0);
    let (mut cpu, mut core_seconds) = (0f64, 0f64);
    let mut failed_core_seconds = 0f64;
    for r in &rows {
        let status = r[0].as_text().unwrap_or("").trim();
        let (Some(start), end) = (time(&r[1]), time(&r[2])) else {
            match status {
                "finished" => finished += 1,
                "failed" => failed += 1,
                _ => {}
            }
            continue;
        };
        let seconds = (end.unwrap_or(now) - start).num_seconds().max(0);
        let cores = r[3].as_int().unwrap_or(1).max(1);
        match status {
            "finished" => {
                finished += 1;
                durations.push(seconds);
                // `cpuconsumptiontime` is numeric(20,0): a whole or a decimal number per dialect.
                let used = match &r[4] {
                    Cell::Int(v) => *v as f64,
                    Cell::Float(v) => *v,
                    _ => 0.0,
                };
                if used > 0.0 {
                    cpu += used;
                    core_seconds += (seconds * cores) as f64;
                }
            }
            "failed" => {
                failed += 1;
                failed_core_seconds += (seconds * cores) as f64;
            }
            _ => {}
        }
    }
    durations.sort_unstable();
    Ok(JobMetrics {
        finished,
        failed,
        failure_percent: failure_percent(finished, failed).map(|p| (p * 10.0).round() / 10.0),
        median_duration_s: durations.get(durations.len() / 2).copied(),
        short_jobs: false,
        cpu_efficiency: (core_seconds > 0.0).then(|| (1000.0 * cpu / core_seconds).round() / 10.0),
        failed_walltime_core_hours: (failed_core_seconds / 360.0).round() / 10.0,
    })
}

fn age_histogram(tasks: &[MyTask]) -> AgeHistogram {
    let mut series: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for t in tasks {
        let bin = AGE_BINS
            .iter()
            .position(|(hours, _)| t.age_hours < *hours as f64)
            .unwrap_or(AGE_BINS.len() - 1);
        series
            .entry(t.status.clone())
            .or_insert_with(|| vec![0; AGE_BINS.len()])[bin] += 1;
    }
    AgeHistogram {
        bins: AGE_BINS.iter().map(|(_, l)| l.to_string()).collect(),
        series: series.into_iter().collect(),
    }
}

/// A metric card: its label, value, whether it is flagged, and what it explains.
struct Metric {
    label: &'static str,
    value: String,
    flagged: bool,
    title: String,
    href: Option<String>,
}

/// A task row's extras: its jobs by status as (status, count, link), its failure rate, its
/// error's jobs, whether its failure rate is flagged.
type TaskRow = (Vec<(String, i64, String)>, String, String, bool);

#[derive(Template)]
#[template(path = "mybigpanda.html")]
struct UserPage<'a> {
    data: &'a UserJson,
    metrics: Vec<Metric>,
    charts: Vec<String>,
    rows: Vec<TaskRow>,
    /// The window presets: (days, link, current).
    windows: Vec<(i64, String, bool)>,
    jobs_link: String,
    tasks_link: String,
}

fn parse_days(request: &PageRequest) -> AppResult<i64> {
    match request
        .param("days")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => Ok(DEFAULT_DAYS),
        Some(v) => match v.parse::<i64>() {
            Ok(d) if (1..=180).contains(&d) => Ok(d),
            _ => Err(AppError::BadRequest(
                "invalid value for parameter 'days': a whole number of days from 1 to 180".into(),
            )),
        },
    }
}

async fn user_page(Path(name): Path<String>, request: PageRequest) -> AppResult<Response> {
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'name': empty name".into(),
        ));
    }
    let days = parse_days(&request)?;
    let state = &request.state;
    let response = request
        .answer(None, || async {
            let data = collect(state, &name, days).await?;
            request.reply(&data, false, || render(&request.params, &data))
        })
        .await?;
    // The viewer's own page gets their links, tokens and preferences, after the cache.
    match &request.user {
        Some(user) if user.login == name && !request.json => {
            let panel = auth::personal_panel(state, user).await?;
            Ok(auth::fill_personal(response, &panel).await)
        }
        _ => Ok(response),
    }
}

fn render(params: &[(String, String)], data: &UserJson) -> AppResult<String> {
    let users = data.names.join("|");
    let days = data.days.to_string();
    let jobs_of = |extra: &[(&str, &str)]| {
        let mut pairs = vec![("produsername", users.as_str()), ("days", days.as_str())];
        pairs.extend_from_slice(extra);
        jobs_url(&pairs)
    };
    let m = &data.metrics;
    let limit = data.failure_percent_limit;
    let metrics = vec![
        Metric {
            label: "tasks",
            value: human_count(data.mytasks.len() as i64),
            flagged: false,
            title: format!("tasks modified in the last {} days", data.days),
            href: Some(url("/tasks/", &[("username", &users), ("days", &days)])),
        },
        Metric {
            label: "failed jobs",
            value: percent_text(m.failure_percent),
            flagged: m.failure_percent.is_some_and(|p| p > limit),
            title: format!(
                "{} failed of {} finished and failed jobs; flagged above {limit} %",
                m.failed,
                m.finished + m.failed
            ),
            href: Some(jobs_of(&[("jobstatus", "failed")])),
        },
        Metric {
            label: "median job duration",
            value: m.median_duration_s.map_or(String::new(), compact_duration),
            flagged: m.short_jobs,
            title: format!(
                "of finished jobs; flagged below {} min: very short jobs waste the overheads",
                data.short_job_minutes
            ),
            href: Some(jobs_of(&[("jobstatus", "finished")])),
        },
        Metric {
            label: "CPU efficiency",
            value: percent_text(m.cpu_efficiency),
            flagged: m.cpu_efficiency.is_some_and(|e| e < 50.0),
            title: "CPU time over core time of finished jobs; flagged below 50 %".to_string(),
            href: None,
        },
        Metric {
            label: "failed walltime",
            value: format!("{} core-h", m.failed_walltime_core_hours),
            flagged: m.failed_walltime_core_hours > 0.0
                && m.failure_percent.is_some_and(|p| p > limit),
            title: "core-hours spent in jobs that failed".to_string(),
            href: Some(jobs_of(&[("jobstatus", "failed")])),
        },
    ];
    let (total, finished, failed) = data.mytasks.iter().fold((0, 0, 0), |a, t| {
        (
            a.0 + t.files_total,
            a.1 + t.files_finished,
            a.2 + t.files_failed,
        )
    });
    let files = serde_json::json!({
        "type": "pie",
        "title": "input files",
        "total": human_count(total),
        "data": [
            {"name": "finished", "value": finished},
            {"name": "failed", "value": failed},
            {"name": "pending", "value": (total - finished - failed).max(0)},
        ],
    });
    let task_pie = serde_json::json!({
        "type": "pie",
        "title": "tasks by status",
        "total": human_count(data.mytasks.len() as i64),
        "data": data.taskstatus.iter().map(|(s, n)| serde_json::json!({
            "name": s, "value": n,
            "link": url("/tasks/", &[("username", &users), ("days", &days), ("status", s)]),
        })).collect::<Vec<_>>(),
    });
    let ages = serde_json::json!({
        "type": "bar",
        "title": "tasks by age and status",
        "categories": data.agehistogram.bins,
        "series": data.agehistogram.series.iter().map(|(s, counts)| serde_json::json!({"name": s, "data": counts})).collect::<Vec<_>>(),
    });
    let rows = data
        .mytasks
        .iter()
        .map(|t| {
            let task = t.jeditaskid.to_string();
            let jobs = t
                .jobs
                .iter()
                .map(|(s, n)| {
                    (
                        s.clone(),
                        *n,
                        jobs_url(&[("jeditaskid", &task), ("jobstatus", s)]),
                    )
                })
                .collect();
            let error_jobs = t.top_error.as_ref().map_or(String::new(), |e| {
                error_jobs_link(&[("jeditaskid".to_string(), task.clone())], &e.error, &[])
            });
            (
                jobs,
                percent_text(t.failure_percent),
                error_jobs,
                t.failure_percent.is_some_and(|p| p > limit),
            )
        })
        .collect();
    let windows = [1, 3, 7, 30]
        .into_iter()
        .map(|d| (d, link_with(params, "days", &d.to_string()), d == data.days))
        .collect();
    let page = UserPage {
        metrics,
        charts: vec![files.to_string(), task_pie.to_string(), ages.to_string()],
        rows,
        windows,
        jobs_link: jobs_of(&[]),
        tasks_link: url("/tasks/", &[("username", &users), ("days", &days)]),
        data,
    };
    Ok(page.render()?)
}

#[derive(Template)]
#[template(path = "mybigpanda_ask.html")]
struct AskPage {
    users: Vec<(String, String)>,
    /// The window the users' jobs are counted in, in words.
    window: String,
}

/// `/user/`: the logged-in user's page; for anyone else the page asks whose overview to show,
/// and lists the users with the most jobs of the last day (or of the last `hours` or `days`).
async fn ask_user(request: PageRequest) -> AppResult<Response> {
    if request.param("name").is_none()
        && let Some(user) = &request.user
    {
        let own = format!("/user/{}/", encode_segment(&user.login));
        let mut target = url_with(&own, &request.params, &[]);
        if request.json {
            target = set_param(&target, "json", "");
        }
        return Ok(Redirect::to(&target).into_response());
    }
    if let Some(name) = request
        .param("name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        return Ok(Redirect::to(&format!("/user/{}/", encode_segment(name))).into_response());
    }
    let state = &request.state;
    // The window is the last day unless `hours` or `days` says otherwise.
    let mut params = vec![("prodsourcelabel".to_string(), "user".to_string())];
    params.extend(
        request
            .params
            .iter()
            .filter(|(k, _)| k == "hours" || k == "days")
            .cloned(),
    );
    let selection = parse_selection(&params, &[], &fields::JOBS, 24)?;
    let (rows, _) = source::keyed_groups(state, &selection, &["produsername"]).await?;
    let mut users: Vec<(String, i64)> = rows.into_iter().map(|(k, n)| (k[0].clone(), n)).collect();
    users.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let page = AskPage {
        window: describe_window(&selection),
        users: users
            .into_iter()
            .take(30)
            .map(|(u, n)| {
                (
                    format!("/user/{}/", encode_segment(&u)),
                    format!("{u} ({})", human_count(n)),
                )
            })
            .collect(),
    };
    let names: Vec<&str> = page.users.iter().map(|(_, u)| u.as_str()).collect();
    request.answer_now(&names, || Ok(page.render()?))
}
