//! The Harvester module: instances, the worker summary (attribute summary, worker list, the
//! PanDA jobs of the workers, statistics, diagnostics), one worker, slots, the workers of a
//! task, and bigmon's JSON sub-endpoints. Worker selections use the `workers` vocabulary: the
//! time window applies to `submittime`.

mod pages;

use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{Facet, JobStatusCount, Tally, job_summary};
use crate::kit::format::{cell_json, row_object};
use crate::kit::module::{
    ConfigKey, Module, NavEntry, Param, ParamType, Route, RouteDoc, positive_integer, schema,
};
use crate::kit::respond::{PageRequest, list_columns, parse_id, project_rows};
use crate::kit::source::{self, Source};
use crate::kit::state::AppState;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use pandamon_live::workers::WorkerSummary;
use pandamon_model::JobTable;
use pandamon_query::Selection;
use pandamon_query::fields::{self, WORKER_COLUMNS, WORKERS};
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::{Cell, Match};
use pandamon_store::{Catalog, Value};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

pub struct Harvester;

const NAME: &str = "harvester";
const INSTANCES: &str = "harvester_instances";
const WORKERS_TABLE: &str = "harvester_workers";
const RELATIONS: &str = "harvester_rel_jobs_workers";

/// The attribute summary of the workers page: bigmon's fields, each also a URL parameter.
pub const WORKER_FACETS: &[&str] = &[
    "status",
    "computingsite",
    "computingelement",
    "resourcetype",
    "harvesterid",
    "nativestatus",
    "jobtype",
];

/// The worker list's columns (all of them with `fields=`).
const WORKER_LIST: &[&str] = &[
    "harvesterid",
    "workerid",
    "status",
    "computingsite",
    "resourcetype",
    "jobtype",
    "njobs",
    "submittime",
    "lastupdate",
    "nativestatus",
    "batchid",
    "batchlog",
    "stdout",
    "stderr",
];

/// Job columns shown for the jobs of a worker.
const JOB_COLUMNS: &[&str] = &[
    "pandaid",
    "jeditaskid",
    "jobstatus",
    "computingsite",
    "produsername",
    "modificationtime",
];

/// The most workers whose jobs the summary counts.
const JOBS_OF_WORKERS_LIMIT: i64 = 50_000;

/// An instance is stale when it has not reported for this long.
const STALE_AFTER_SECONDS: i64 = 3_600;

impl Module for Harvester {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "Harvester instances, the worker summary with the workers' jobs, one worker, slots"
    }
    fn tables(&self) -> &'static [&'static str] {
        &[
            "harvester_instances",
            "harvester_workers",
            "harvester_rel_jobs_workers",
            "harvester_dialogs",
            "harvester_worker_stats",
            "harvester_slots",
        ]
    }
    fn routes(&self) -> Vec<Route> {
        let window = const {
            &[
                Param::query("hours", ParamType::Integer, "the last N hours"),
                Param::query("days", ParamType::Integer, "the last N days"),
            ]
        };
        let instance_only = const {
            &[
                Param::query("harvesterid", ParamType::Text, "the Harvester instance"),
                Param::query("instance", ParamType::Text, "the Harvester instance"),
            ]
        };
        vec![
            Route {
                path: "/harvester/instances/",
                handler: get(instances),
                doc: RouteDoc {
                    summary: "every Harvester instance: host, version, last update (stale ones flagged) and its workers by status in the window",
                    vocabulary: None,
                    params: window,
                    response: schema::<InstancesJson>,
                    html: true,
                },
            },
            Route {
                path: "/harvester/workers/",
                handler: get(workers),
                doc: RouteDoc {
                    summary: "the worker summary over every worker of the selection (default: submitted in the last 12 hours): attribute summary, worker list, the workers' PanDA jobs by status, statistics and diagnostics of the instance",
                    vocabulary: Some(&WORKERS),
                    params: &[],
                    response: schema::<WorkersJson>,
                    html: true,
                },
            },
            Route {
                path: "/harvester/worker/{workerid}/",
                handler: get(worker_by_path),
                doc: RouteDoc {
                    summary: "one worker: every field, its PanDA jobs with status counts",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::path("workerid", ParamType::Integer, "the worker id"),
                            Param::query(
                                "harvesterid",
                                ParamType::Text,
                                "the instance (worker ids are unique per instance)",
                            ),
                        ]
                    },
                    response: schema::<WorkerJson>,
                    html: true,
                },
            },
            Route {
                path: "/harvester/worker/",
                handler: get(worker_by_query),
                doc: RouteDoc {
                    summary: "the worker that ran a PanDA job (pandaid=), or one worker (workerid= and harvesterid=)",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query("pandaid", ParamType::Integer, "a PanDA job id"),
                            Param::query("workerid", ParamType::Integer, "the worker id"),
                            Param::query("harvesterid", ParamType::Text, "the instance"),
                        ]
                    },
                    response: schema::<WorkerJson>,
                    html: true,
                },
            },
            Route {
                path: "/harvester/slots/",
                handler: get(slots),
                doc: RouteDoc {
                    summary: "Harvester slots per queue, global share and resource type",
                    vocabulary: None,
                    params: const {
                        &[Param::query(
                            "pandaqueuename",
                            ParamType::Text,
                            "only this queue",
                        )]
                    },
                    response: schema::<Vec<Map<String, Json>>>,
                    html: true,
                },
            },
            Route {
                path: "/workersfortask/",
                handler: get(workers_for_task),
                doc: RouteDoc {
                    summary: "the workers that ran jobs of a task, with the jobs and events of the task each ran",
                    vocabulary: None,
                    params: const {
                        &[Param::query(
                            "jeditaskid",
                            ParamType::Integer,
                            "the JEDI task id",
                        )]
                    },
                    response: schema::<Vec<TaskWorkerJson>>,
                    html: true,
                },
            },
            Route {
                path: "/harvester/getworkers/",
                handler: get(get_workers),
                doc: RouteDoc {
                    summary: "the workers of the selection, newest update first (display_limit_workers, default 1000)",
                    vocabulary: Some(&WORKERS),
                    params: const {
                        &[Param::query(
                            "display_limit_workers",
                            ParamType::Integer,
                            "how many workers (at most 10000)",
                        )]
                    },
                    response: schema::<Vec<Map<String, Json>>>,
                    html: false,
                },
            },
            Route {
                path: "/harvester/getdiagnostics/",
                handler: get(get_diagnostics),
                doc: RouteDoc {
                    summary: "the latest 100 diagnostic messages (harvester_dialogs) of an instance",
                    vocabulary: None,
                    params: instance_only,
                    response: schema::<Vec<Map<String, Json>>>,
                    html: false,
                },
            },
            Route {
                path: "/harvester/getworkerstats/",
                handler: get(get_worker_stats),
                doc: RouteDoc {
                    summary: "worker statistics of an instance (harvester_worker_stats): workers per site, resource type, status and job type",
                    vocabulary: None,
                    params: instance_only,
                    response: schema::<Vec<Map<String, Json>>>,
                    html: false,
                },
            },
            Route {
                path: "/harvester/getjobs/",
                handler: get(get_jobs),
                doc: RouteDoc {
                    summary: "the PanDA jobs of one worker (harvesterid= and workerid=)",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query("harvesterid", ParamType::Text, "the instance"),
                            Param::query("workerid", ParamType::Integer, "the worker id"),
                        ]
                    },
                    response: schema::<Vec<Map<String, Json>>>,
                    html: false,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "harvester",
            href: "/harvester/instances/",
            order: 700,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&WORKERS]
    }
    fn health<'a>(
        &'a self,
        state: &'a AppState,
    ) -> crate::kit::module::BoxFuture<'a, Option<Json>> {
        Box::pin(async move {
            let (summaries_from, workers) = match &state.index {
                Some(live) if live.workers_loaded() => (
                    "live worker index",
                    live.workers.read().map(|w| w.len()).ok(),
                ),
                Some(_) => ("database (worker index loading or failing)", None),
                None => ("database", None),
            };
            Some(serde_json::json!({
                "default_hours": default_hours(state),
                "summaries_from": summaries_from,
                "workers_indexed": workers,
            }))
        })
    }
    fn config_keys(&self) -> &'static [ConfigKey] {
        &[ConfigKey {
            name: "default_hours",
            description: "the window of /harvester/workers/ when the URL names none (hours of submit time, default 12)",
            check: positive_integer,
        }]
    }
}

fn default_hours(state: &AppState) -> i64 {
    state.settings.module_int(NAME, "default_hours", 12)
}

fn column_type(table: &str, column: &str) -> ColType {
    Catalog::get()
        .table(table)
        .column(column)
        .map_or(ColType::Text, |c| c.ty)
}

fn text(value: &str) -> Value {
    Value::Text(value.to_string().into())
}

/// A facet value as bigmon shows it: "Not specified" for none.
fn facet_value(cell: &Cell) -> Json {
    match cell {
        Cell::Null => Json::from("Not specified"),
        Cell::Text(s) if s.trim().is_empty() => Json::from("Not specified"),
        c => cell_json(c),
    }
}

/// A Harvester instance and its workers in the window.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InstanceJson {
    pub harvester_id: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub hostname: Option<String>,
    pub sw_version: Option<String>,
    pub commit_stamp: Option<String>,
    pub starttime: Option<String>,
    pub lastupdate: Option<String>,
    /// Seconds since the last update.
    pub age_seconds: Option<i64>,
    /// No update for an hour or more.
    pub stale: bool,
    /// Workers submitted in the window, by status.
    pub workers: BTreeMap<String, i64>,
    pub nworkers: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InstancesJson {
    pub instances: Vec<InstanceJson>,
    /// The worker window, as text.
    pub window: String,
}

/// `/harvester/workers/`: the worker summary.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkersJson {
    /// Workers of the selection.
    pub totalworkers: i64,
    /// bigmon's attribute summary over every worker of the selection (its key `summary`).
    pub summary: Vec<Facet>,
    /// One page of workers, sorted by the server.
    pub workers: Vec<Map<String, Json>>,
    pub page: u64,
    pub pages: u64,
    pub display_limit: u64,
    /// The PanDA jobs of the selected workers, by status (empty when not counted).
    pub jobsummary: Vec<JobStatusCount>,
    /// How many PanDA jobs the selected workers ran; null when the selection holds more than
    /// 50 000 workers (see `notes`).
    pub njobs: Option<i64>,
    /// Workers submitted per hour, by status.
    pub timeline: Vec<HourCount>,
    /// The selected instance, when one is.
    pub instance: Option<InstanceJson>,
    /// Worker statistics of the selected instance (`harvester_worker_stats`).
    pub workerstats: Vec<Map<String, Json>>,
    /// Diagnostics of the selected instance (`harvester_dialogs`), newest first.
    pub diagnostics: Vec<Map<String, Json>>,
    /// The window shown, as `[from, to]` in UTC.
    pub window: Option<(String, String)>,
    /// Which one counted the workers: the live index or the database.
    pub source: Source,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HourCount {
    pub hour: String,
    pub status: String,
    pub count: i64,
}

/// One worker and its jobs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkerJson {
    pub workerinfo: Map<String, Json>,
    pub jobs: Vec<Map<String, Json>>,
    pub jobsummary: Vec<JobStatusCount>,
    /// Jobs the worker ran that are no longer in any job table.
    pub missingjobs: Vec<i64>,
}

/// A worker that ran jobs of a task.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskWorkerJson {
    pub harvesterid: String,
    pub workerid: i64,
    pub njobs: i64,
    pub nevents: i64,
    pub status: Option<String>,
    pub computingsite: Option<String>,
    pub resourcetype: Option<String>,
    pub submittime: Option<String>,
    pub endtime: Option<String>,
}

/// Every instance, with the workers submitted in `selection`'s window by status.
async fn collect_instances(state: &AppState, selection: &Selection) -> AppResult<InstancesJson> {
    let db = &state.db;
    let rows = db
        .rows_matching(INSTANCES, &[], Some("harvester_id"), 10_000)
        .await?;
    let groups = db
        .group_rows(
            &[WORKERS_TABLE],
            &[
                ("harvesterid", column_type(WORKERS_TABLE, "harvesterid")),
                ("status", column_type(WORKERS_TABLE, "status")),
            ],
            selection,
            "workerid",
        )
        .await?;
    let mut workers: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for g in groups {
        if let [Cell::Text(instance), status] = g.values.as_slice() {
            let status = status.as_text().unwrap_or("Not specified").to_string();
            *workers
                .entry(instance.clone())
                .or_default()
                .entry(status)
                .or_default() += g.count;
        }
    }
    let now = Utc::now().naive_utc();
    let instances = rows
        .into_iter()
        .map(|row| {
            let mut json = instance_json(row, now);
            if let Some(counts) = workers.remove(&json.harvester_id) {
                json.nworkers = counts.values().sum();
                json.workers = counts;
            }
            json
        })
        .collect();
    Ok(InstancesJson {
        instances,
        window: crate::kit::format::describe_window(selection),
    })
}

fn instance_json(row: Vec<(String, Cell)>, now: chrono::NaiveDateTime) -> InstanceJson {
    let get = |name: &str| row.iter().find(|(c, _)| c == name).map(|(_, v)| v.clone());
    let text = |name: &str| get(name).and_then(|c| c.as_text().map(str::to_string));
    let time = |name: &str| match get(name) {
        Some(Cell::Time(t)) => Some(t),
        _ => None,
    };
    let lastupdate = time("lastupdate");
    let age = lastupdate.map(|t| (now - t).num_seconds().max(0));
    InstanceJson {
        harvester_id: text("harvester_id").unwrap_or_default(),
        description: text("description"),
        owner: text("owner"),
        hostname: text("hostname"),
        sw_version: text("sw_version"),
        commit_stamp: text("commit_stamp"),
        starttime: time("starttime").map(crate::kit::format::format_time),
        lastupdate: lastupdate.map(crate::kit::format::format_time),
        age_seconds: age,
        stale: age.is_none_or(|a| a >= STALE_AFTER_SECONDS),
        workers: BTreeMap::new(),
        nworkers: 0,
    }
}

async fn instances(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let selection = request.selection(&WORKERS, default_hours(state), &[])?;
    request
        .answer(&selection, || async {
            let data = collect_instances(state, &selection).await?;
            request.reply(&data, false, || pages::instances(&request.params, &data))
        })
        .await
}

/// The instance a worker selection names, when it names exactly one.
fn named_instance(request: &PageRequest) -> Option<String> {
    let value = request
        .param("harvesterid")
        .or_else(|| request.param("instance"))?
        .trim();
    let plain = !value.is_empty()
        && !value.contains(['*', '|', ',', '!'])
        && !value.eq_ignore_ascii_case("Not specified");
    plain.then(|| value.to_string())
}

/// Everything of the workers page for `selection`.
async fn collect_workers(
    state: &AppState,
    selection: &Selection,
    instance: Option<&str>,
) -> AppResult<WorkersJson> {
    let db = &state.db;
    let tables = [WORKERS_TABLE];
    let (summary, source) = match source::worker_summary(state, selection, WORKER_FACETS) {
        Some(summary) => (summary, Source::Index),
        None => (summary_in_sql(state, selection).await?, Source::Database),
    };
    let total = summary.total;
    let mut tally = Tally::new(WORKER_FACETS.iter().copied());
    for (i, values) in summary.facets.iter().enumerate() {
        for (cell, count) in values {
            tally.add(i, facet_value(cell), *count);
        }
    }
    let selectionsummary = tally.into_facets(|field, value| {
        (field == "status").then(|| worker_status_rank(value.as_str().unwrap_or("")))
    });
    let list = list_columns(selection, WORKER_LIST);
    let size = selection.display_limit;
    let offset = (selection.page - 1) * size;
    let rows = if (total as u64) <= offset {
        Vec::new()
    } else {
        db.page_rows(&tables, &list, selection, size, offset)
            .await?
    };
    let workers = project_rows(selection, &list, rows);
    // Counting the jobs joins every worker of the selection to the job tables: for the whole
    // grid's day (600 000 workers) that is seconds, so it waits for a narrower selection.
    let mut notes = selection.notes.clone();
    let (by_status, njobs) = if total <= JOBS_OF_WORKERS_LIMIT {
        let by_status = db.job_status_of_workers(selection).await?;
        let njobs = by_status.iter().map(|(_, n)| n).sum();
        (by_status, Some(njobs))
    } else {
        notes.push(format!(
            "The PanDA jobs of more than {} workers are not counted: choose an instance, site, status or a shorter window to see them.",
            crate::kit::format::human_count(JOBS_OF_WORKERS_LIMIT)
        ));
        (Vec::new(), None)
    };
    let timeline = summary
        .hourly
        .into_iter()
        .map(|(hour, status, count)| HourCount {
            hour: hour
                .and_then(|h| chrono::DateTime::from_timestamp(h, 0))
                .map_or_else(
                    || "Not specified".to_string(),
                    |t| crate::kit::format::format_time(t.naive_utc()),
                ),
            status: status.as_text().unwrap_or("Not specified").to_string(),
            count,
        })
        .collect();
    let (instance_json, workerstats, diagnostics) = match instance {
        Some(id) => {
            let now = Utc::now().naive_utc();
            let info = db
                .rows_matching(INSTANCES, &[("harvester_id", Match::Eq(text(id)))], None, 1)
                .await?
                .into_iter()
                .next()
                .map(|row| instance_json(row, now));
            (
                info,
                worker_stats(state, id).await?,
                diagnostics(state, id).await?,
            )
        }
        None => (None, Vec::new(), Vec::new()),
    };
    if let Some(id) = instance
        && instance_json.is_none()
        && total == 0
    {
        return Err(AppError::NotFound(format!("Harvester instance {id}")));
    }
    let format = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| crate::kit::format::format_time(d.naive_utc()))
            .unwrap_or_default()
    };
    Ok(WorkersJson {
        totalworkers: total,
        summary: selectionsummary,
        workers,
        page: selection.page,
        pages: (total as u64).div_ceil(size.max(1)),
        display_limit: size,
        jobsummary: job_summary(by_status),
        njobs,
        timeline,
        instance: instance_json,
        workerstats,
        diagnostics,
        window: selection.window.map(|(a, b)| (format(a), format(b))),
        source,
        notes,
    })
}

/// The worker summary as SQL: one count, one grouped count per facet, one per hour and status.
async fn summary_in_sql(state: &AppState, selection: &Selection) -> AppResult<WorkerSummary> {
    let db = &state.db;
    let tables = [WORKERS_TABLE];
    let total = db.count_rows(&tables, selection).await?;
    let mut facets = Vec::new();
    for column in WORKER_FACETS {
        let groups = db
            .group_rows(
                &tables,
                &[(column, column_type(WORKERS_TABLE, column))],
                selection,
                "workerid",
            )
            .await?;
        facets.push(
            groups
                .into_iter()
                .filter_map(|g| g.values.into_iter().next().map(|v| (v, g.count)))
                .collect(),
        );
    }
    let hourly = db
        .group_rows_by_hour(
            &tables,
            "submittime",
            &[("status", column_type(WORKERS_TABLE, "status"))],
            selection,
            "workerid",
        )
        .await?
        .into_iter()
        .filter_map(|g| match <[Cell; 2]>::try_from(g.values) {
            Ok([hour, status]) => Some((hour_of(&hour), status, g.count)),
            Err(_) => None,
        })
        .collect();
    Ok(WorkerSummary {
        total,
        facets,
        hourly,
    })
}

/// An hour as the database groups it (a time, or text on SQLite), in unix seconds.
fn hour_of(cell: &Cell) -> Option<i64> {
    match cell {
        Cell::Time(t) => Some(t.and_utc().timestamp()),
        Cell::Text(s) => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc().timestamp()),
        _ => None,
    }
}

/// Harvester's worker statuses in lifecycle order.
const WORKER_STATUSES: &[&str] = &[
    "missed",
    "submitted",
    "ready",
    "running",
    "idle",
    "finished",
    "failed",
    "cancelled",
];

fn worker_status_rank(status: &str) -> usize {
    WORKER_STATUSES
        .iter()
        .position(|s| *s == status)
        .unwrap_or(WORKER_STATUSES.len())
}

async fn worker_stats(state: &AppState, instance: &str) -> AppResult<Vec<Map<String, Json>>> {
    let rows = state
        .db
        .rows_matching(
            "harvester_worker_stats",
            &[("harvester_id", Match::Eq(text(instance)))],
            Some("computingsite"),
            10_000,
        )
        .await?;
    Ok(rows.into_iter().map(|r| row_object(&r)).collect())
}

async fn diagnostics(state: &AppState, instance: &str) -> AppResult<Vec<Map<String, Json>>> {
    let mut rows = state
        .db
        .rows_matching(
            "harvester_dialogs",
            &[("harvester_id", Match::Eq(text(instance)))],
            None,
            100_000,
        )
        .await?;
    // Newest first, the latest 100.
    let created = |row: &Vec<(String, Cell)>| {
        row.iter()
            .find(|(c, _)| c == "diagid")
            .and_then(|(_, v)| v.as_int())
            .unwrap_or(0)
    };
    rows.sort_by_key(|r| std::cmp::Reverse(created(r)));
    rows.truncate(100);
    Ok(rows.into_iter().map(|r| row_object(&r)).collect())
}

async fn workers(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let mut selection = request.selection(&WORKERS, default_hours(state), &[])?;
    let instance = named_instance(&request);
    // bigmon: when the default window holds no worker, show the hour before the last one
    // submitted, with a warning.
    let named_window = ["hours", "days", "date_from", "date_to"]
        .iter()
        .any(|p| request.param(p).is_some());
    if !named_window
        && selection.window.is_some()
        && state.db.count_rows(&[WORKERS_TABLE], &selection).await? == 0
    {
        let unbounded = selection.with_window("submittime", None);
        if let Some(last) = state
            .db
            .latest_time(WORKERS_TABLE, "submittime", &unbounded)
            .await?
        {
            let to = last.and_utc().timestamp();
            selection = selection.with_window("submittime", Some((to - 3_600, to)));
            selection.notes.push(format!(
                "no worker was submitted in the last {} hours: showing the hour before the last submission ({})",
                default_hours(state),
                crate::kit::format::format_time(last)
            ));
        }
    }
    request
        .answer(&selection, || async {
            let data = collect_workers(state, &selection, instance.as_deref()).await?;
            let html = || pages::workers(&request.params, &selection, &data);
            request.reply(&data, false, html)
        })
        .await
}

/// One worker by instance and id; `NotFound` names what was looked for.
async fn collect_worker(
    state: &AppState,
    harvesterid: Option<&str>,
    workerid: i64,
) -> AppResult<WorkerJson> {
    let db = &state.db;
    let mut conditions = vec![("workerid", Match::Eq(Value::Int(workerid)))];
    if let Some(h) = harvesterid {
        conditions.push(("harvesterid", Match::Eq(text(h))));
    }
    let mut rows = db
        .rows_matching(WORKERS_TABLE, &conditions, Some("lastupdate"), 1_000)
        .await?;
    let Some(row) = rows.pop() else {
        return Err(AppError::NotFound(match harvesterid {
            Some(h) => format!("worker {workerid} of instance {h}"),
            None => format!("worker {workerid}"),
        }));
    };
    let workerinfo = row_object(&row);
    let instance = workerinfo
        .get("harvesterid")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let (jobs, missingjobs) = jobs_of_worker(state, &instance, workerid).await?;
    let jobsummary = job_summary(jobs.iter().map(|j| {
        (
            j.get("jobstatus")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            1,
        )
    }));
    Ok(WorkerJson {
        workerinfo,
        jobs,
        jobsummary,
        missingjobs,
    })
}

/// The jobs a worker ran, and the pandaids no job table holds any more.
async fn jobs_of_worker(
    state: &AppState,
    harvesterid: &str,
    workerid: i64,
) -> AppResult<(Vec<Map<String, Json>>, Vec<i64>)> {
    let db = &state.db;
    let relations = db
        .rows_matching(
            RELATIONS,
            &[
                ("harvesterid", Match::Eq(text(harvesterid))),
                ("workerid", Match::Eq(Value::Int(workerid))),
            ],
            Some("pandaid"),
            1_000,
        )
        .await?;
    let pandaids: Vec<i64> = relations
        .iter()
        .filter_map(|r| {
            r.iter()
                .find(|(c, _)| c == "pandaid")
                .and_then(|(_, v)| v.as_int())
        })
        .collect();
    let found = db
        .jobs_by_pandaid(&JobTable::ALL, JOB_COLUMNS, &pandaids)
        .await?;
    let mut seen = std::collections::HashSet::new();
    let mut jobs = Vec::new();
    for (_, pandaid, cells) in found {
        if seen.insert(pandaid) {
            jobs.push(
                JOB_COLUMNS
                    .iter()
                    .zip(&cells)
                    .map(|(c, v)| (c.to_string(), cell_json(v)))
                    .collect(),
            );
        }
    }
    let missing = pandaids.into_iter().filter(|p| !seen.contains(p)).collect();
    Ok((jobs, missing))
}

async fn worker_by_path(Path(id): Path<String>, request: PageRequest) -> AppResult<Response> {
    let workerid = parse_id("workerid", &id)?;
    answer_worker(request, workerid).await
}

async fn worker_by_query(request: PageRequest) -> AppResult<Response> {
    if let Some(pandaid) = request.param("pandaid") {
        let pandaid = parse_id("pandaid", pandaid)?;
        let relations = request
            .state
            .db
            .rows_matching(
                RELATIONS,
                &[("pandaid", Match::Eq(Value::Int(pandaid)))],
                Some("lastupdate"),
                100,
            )
            .await?;
        let Some(last) = relations.last() else {
            return Err(AppError::NotFound(format!("a worker of job {pandaid}")));
        };
        let cell = |name: &str| last.iter().find(|(c, _)| c == name).map(|(_, v)| v.clone());
        let instance = cell("harvesterid").and_then(|c| c.as_text().map(str::to_string));
        let workerid = cell("workerid").and_then(|c| c.as_int()).unwrap_or(0);
        let target = crate::kit::links::url(
            &format!("/harvester/worker/{workerid}/"),
            &[("harvesterid", instance.as_deref().unwrap_or(""))],
        );
        let target = if request.json {
            format!("{target}&json")
        } else {
            target
        };
        return Ok(axum::response::Redirect::to(&target).into_response());
    }
    match request.param("workerid") {
        Some(id) => {
            let workerid = parse_id("workerid", id)?;
            answer_worker(request, workerid).await
        }
        None => Err(AppError::BadRequest(
            "name a job with parameter 'pandaid', or a worker with 'workerid' and 'harvesterid'"
                .to_string(),
        )),
    }
}

async fn answer_worker(request: PageRequest, workerid: i64) -> AppResult<Response> {
    let state = &request.state;
    let instance = request.param("harvesterid").map(str::to_string);
    request
        .answer(None, || async {
            let data = collect_worker(state, instance.as_deref(), workerid).await?;
            request.reply(&data, false, || pages::worker(&data))
        })
        .await
}

async fn slots(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let queue = request.param("pandaqueuename").map(str::to_string);
    request
        .answer(None, || async {
            let conditions: Vec<(&str, Match)> = queue
                .iter()
                .map(|q| ("pandaqueuename", Match::Eq(text(q))))
                .collect();
            let rows = state
                .db
                .rows_matching(
                    "harvester_slots",
                    &conditions,
                    Some("pandaqueuename"),
                    100_000,
                )
                .await?;
            let data: Vec<Map<String, Json>> = rows.into_iter().map(|r| row_object(&r)).collect();
            request.reply(&data, false, || pages::slots(&data))
        })
        .await
}

async fn workers_for_task(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let Some(task) = request.param("jeditaskid") else {
        return Err(AppError::BadRequest(
            "parameter 'jeditaskid' is required: the task whose workers to show".to_string(),
        ));
    };
    let task = parse_id("jeditaskid", task)?;
    request
        .answer(None, || async {
            let data = collect_task_workers(state, task).await?;
            request.reply(&data, false, || pages::task_workers(task, &data))
        })
        .await
}

async fn collect_task_workers(state: &AppState, task: i64) -> AppResult<Vec<TaskWorkerJson>> {
    let db = &state.db;
    let workers = db.workers_of_task(task).await?;
    let ids: Vec<Value> = workers.iter().map(|w| Value::Int(w.workerid)).collect();
    let mut details: BTreeMap<(String, i64), Map<String, Json>> = BTreeMap::new();
    for chunk in ids.chunks(1_000) {
        for row in db
            .rows_matching(
                WORKERS_TABLE,
                &[("workerid", Match::In(chunk.to_vec()))],
                Some("lastupdate"),
                10_000,
            )
            .await?
        {
            let object = row_object(&row);
            let key = (
                object
                    .get("harvesterid")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                object.get("workerid").and_then(Json::as_i64).unwrap_or(0),
            );
            details.insert(key, object);
        }
    }
    Ok(workers
        .into_iter()
        .map(|w| {
            let detail = details.get(&(w.harvesterid.clone(), w.workerid));
            let field = |name: &str| {
                detail
                    .and_then(|d| d.get(name))
                    .and_then(Json::as_str)
                    .map(str::to_string)
            };
            TaskWorkerJson {
                status: field("status"),
                computingsite: field("computingsite"),
                resourcetype: field("resourcetype"),
                submittime: field("submittime"),
                endtime: field("endtime"),
                harvesterid: w.harvesterid,
                workerid: w.workerid,
                njobs: w.njobs,
                nevents: w.nevents,
            }
        })
        .collect())
}

/// `display_limit_workers` (default 1000, at most 10000).
fn worker_limit(request: &PageRequest) -> AppResult<u64> {
    match request.param("display_limit_workers") {
        None => Ok(1_000),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if (1..=10_000).contains(&n) => Ok(n),
            _ => Err(AppError::BadRequest(
                "invalid value for parameter 'display_limit_workers': expected a whole number from 1 to 10000"
                    .to_string(),
            )),
        },
    }
}

/// bigmon's sub-endpoints answer JSON whatever the client asks.
async fn get_workers(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    let state = &request.state;
    let selection = request.selection(&WORKERS, default_hours(state), &[])?;
    let limit = worker_limit(&request)?;
    request
        .answer(&selection, || async {
            let columns = list_columns(&selection, WORKER_COLUMNS);
            let rows = state
                .db
                .page_rows(&[WORKERS_TABLE], &columns, &selection, limit, 0)
                .await?;
            let data = project_rows(&selection, &columns, rows);
            request.reply_json(&data, false)
        })
        .await
}

fn required_instance(request: &PageRequest) -> AppResult<String> {
    named_instance(request).ok_or_else(|| {
        AppError::BadRequest(
            "parameter 'harvesterid' (or 'instance') is required: one Harvester instance"
                .to_string(),
        )
    })
}

async fn get_diagnostics(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    let instance = required_instance(&request)?;
    request
        .answer(None, || async {
            let data = diagnostics(&request.state, &instance).await?;
            request.reply_json(&data, false)
        })
        .await
}

async fn get_worker_stats(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    let instance = required_instance(&request)?;
    request
        .answer(None, || async {
            let data = worker_stats(&request.state, &instance).await?;
            request.reply_json(&data, false)
        })
        .await
}

async fn get_jobs(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    let instance = required_instance(&request)?;
    let Some(workerid) = request.param("workerid") else {
        return Err(AppError::BadRequest(
            "parameter 'workerid' is required".to_string(),
        ));
    };
    let workerid = parse_id("workerid", workerid)?;
    request
        .answer(None, || async {
            let (data, _) = jobs_of_worker(&request.state, &instance, workerid).await?;
            request.reply_json(&data, false)
        })
        .await
}
