//! `/tasks/` (task attribute summary and list) and `/task/<jeditaskid>/` (one task: parameters,
//! datasets with progress, its jobs by status with superseded retries dropped, sites, history).

use crate::kit::error::{AppError, AppResult};
use crate::kit::events::{EventStatusCount, event_counts};
use crate::kit::facets::{
    Facet, FacetView, JobStatusCount, Tally, facet_views, job_summary, pie_charts,
};
use crate::kit::format::{
    cell_json, cell_text, describe_window, field_text, human_count, row_object,
};
use crate::kit::joberrors::{ErrorCount, error_columns, error_jobs_link, error_summary};
use crate::kit::links::{jobs_url, link_with, page_links};
use crate::kit::module::{
    ConfigKey, Module, NavEntry, Param, ParamType, Route, RouteDoc, TaskPanel, positive_integer,
    schema,
};
use crate::kit::respond::{PageRequest, list_columns, parse_id, parse_selection, project_rows};
use crate::kit::selectionbar::SelectionBar;
use crate::kit::source;
use crate::kit::state::AppState;
use crate::kit::table::{Header, TableCell, header};
use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use pandamon_model::JobTable;
use pandamon_query::{Selection, fields};
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::Cell;
use pandamon_store::{Catalog, Value};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashSet};

pub struct Tasks;

impl Module for Tasks {
    fn name(&self) -> &'static str {
        "tasks"
    }
    fn description(&self) -> &'static str {
        "JEDI task summary and list, one task's page with its jobs, datasets and progress"
    }
    fn tables(&self) -> &'static [&'static str] {
        &[
            "jedi_tasks",
            "jedi_taskparams",
            "jedi_datasets",
            "tasks_statuslog",
            "jedi_job_retry_history",
            "jedi_events",
        ]
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/tasks/",
                handler: get(list_tasks),
                doc: RouteDoc {
                    summary: "tasks of the selection: a bare list (bigmon), or with outputs=summary the attribute summary around it",
                    vocabulary: Some(&fields::TASKS),
                    params: const {
                        &[Param::query(
                            "outputs",
                            ParamType::Text,
                            "'summary' adds the attribute summary to the JSON",
                        )]
                    },
                    response: schema::<TasksJson>,
                    html: true,
                },
            },
            Route {
                path: "/task/{jeditaskid}/",
                handler: get(find_task),
                doc: RouteDoc {
                    summary: "one task: parameters, datasets with progress, jobs by status, scouts, sites, progress, status history",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::path("jeditaskid", ParamType::Integer, "the JEDI task id"),
                            Param::query(
                                "mode",
                                ParamType::Text,
                                "drop (default): superseded retries left out; nodrop: every job",
                            ),
                        ]
                    },
                    response: schema::<TaskJson>,
                    html: true,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "tasks",
            href: "/tasks/",
            order: 200,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&fields::TASKS, &fields::JOBS]
    }
    fn config_keys(&self) -> &'static [ConfigKey] {
        &[ConfigKey {
            name: "default_days",
            description: "the window of /tasks/ when the URL names no time and no id (days, default 7)",
            check: positive_integer,
        }]
    }
}

/// Task attribute summary facets: (field in links and JSON, task column).
const TASK_FACETS: &[(&str, &str)] = &[
    ("status", "status"),
    ("superstatus", "superstatus"),
    ("username", "username"),
    ("tasktype", "tasktype"),
    ("processingtype", "processingtype"),
    ("campaign", "campaign"),
    ("workinggroup", "workinggroup"),
    ("gshare", "gshare"),
    ("reqid", "reqid"),
    ("prodsourcelabel", "prodsourcelabel"),
    ("corecount", "corecount"),
    ("resourcetype", "resource_type"),
    ("eventservice", "eventservice"),
    ("nucleus", "nucleus"),
    ("cloud", "cloud"),
    ("site", "site"),
    ("priorityrange", "currentpriority"),
    ("progressrange", "progress"),
    ("failureraterange", "failurerate"),
    ("architecture", "architecture"),
    ("transhome", "transhome"),
    ("workqueue_id", "workqueue_id"),
    ("attemptnr", "attemptnr"),
    ("container_name", "container_name"),
    ("framework", "framework"),
    ("job_label", "job_label"),
];

const TASK_LIST: &[&str] = &[
    "jeditaskid",
    "taskname",
    "status",
    "username",
    "creationdate",
    "modificationtime",
    "processingtype",
    "campaign",
    "reqid",
    "gshare",
    "corecount",
    "nucleus",
    "progress",
    "failurerate",
    "currentpriority",
];

fn task_column_type(column: &str) -> ColType {
    Catalog::get()
        .table("jedi_tasks")
        .column(column)
        .map_or(ColType::Text, |c| c.ty)
}

fn bin(field: &str, cell: &Cell) -> Json {
    match (field, cell) {
        (_, Cell::Null) => Json::from("Not specified"),
        ("priorityrange", Cell::Int(p)) => {
            let lo = p.div_euclid(100) * 100;
            Json::from(format!("{lo}:{}", lo + 99))
        }
        ("progressrange" | "failureraterange", Cell::Int(p)) => {
            let lo = (p.div_euclid(10) * 10).min(90);
            Json::from(format!("{lo}:{}", if lo == 90 { 100 } else { lo + 9 }))
        }
        (_, Cell::Text(s)) if s.trim().is_empty() => Json::from("Not specified"),
        (_, c) => cell_json(c),
    }
}

/// `/tasks/?json&outputs=summary` (without `outputs`, the bare `tasks` list).
#[derive(Debug, Serialize, JsonSchema)]
pub struct TasksJson {
    pub tasks: Vec<Map<String, Json>>,
    pub selectionsummary: Vec<Facet>,
    pub totaltasks: i64,
    pub page: u64,
    pub pages: u64,
    pub display_limit: u64,
    pub notes: Vec<String>,
}

pub async fn collect_tasks(
    state: &AppState,
    selection: &Selection,
    everything: bool,
) -> AppResult<TasksJson> {
    let db = &state.db;
    let tables = ["jedi_tasks"];
    let mut total = db.count_rows(&tables, selection).await?;
    if let Some(limit) = selection.limit {
        total = total.min(limit as i64);
    }
    let columns: Vec<(&str, ColType)> = TASK_FACETS
        .iter()
        .map(|(_, c)| (*c, task_column_type(c)))
        .collect();
    let groups = db
        .group_rows(&tables, &columns, selection, "jeditaskid")
        .await?;
    let mut tally = Tally::new(TASK_FACETS.iter().map(|(field, _)| *field));
    for g in &groups {
        for (i, (field, _)) in TASK_FACETS.iter().enumerate() {
            if let Some(cell) = g.values.get(i) {
                tally.add(i, bin(field, cell), g.count);
            }
        }
    }
    let selectionsummary = tally.into_facets(|_, _| None);
    let columns = list_columns(selection, TASK_LIST);
    let (size, offset) = if everything {
        (selection.limit.unwrap_or(10_000), 0)
    } else {
        (
            selection.display_limit,
            (selection.page - 1) * selection.display_limit,
        )
    };
    let remaining = (total as u64).saturating_sub(offset);
    let rows = if remaining == 0 {
        Vec::new()
    } else {
        db.page_rows(&tables, &columns, selection, size.min(remaining), offset)
            .await?
    };
    let tasks = project_rows(selection, &columns, rows);
    Ok(TasksJson {
        tasks,
        selectionsummary,
        totaltasks: total,
        page: selection.page,
        pages: (total as u64).div_ceil(selection.display_limit.max(1)),
        display_limit: selection.display_limit,
        notes: selection.notes.clone(),
    })
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage<'a> {
    data: &'a TasksJson,
    charts: Vec<String>,
    total: String,
    window: String,
    facets: Vec<FacetView>,
    bar: SelectionBar,
    headers: Vec<Header>,
    rows: Vec<Vec<TableCell>>,
    prev: Option<String>,
    next: Option<String>,
}

/// The task list's columns unless `fields=` names others: (column, header).
const VIEW_COLUMNS: &[(&str, &str)] = &[
    ("jeditaskid", "task"),
    ("taskname", "name"),
    ("status", "status"),
    ("username", "owner"),
    ("processingtype", "type"),
    ("creationdate", "created"),
    ("modificationtime", "modified"),
    ("corecount", "cores"),
    ("nucleus", "nucleus"),
    ("progress", "progress %"),
    ("failurerate", "failed %"),
    ("currentpriority", "priority"),
    ("reqid", "request"),
];

/// One cell of the task list: the task and its name link to the task page, attributes narrow
/// the list, the request opens its jobs, a failure rate above the limit is flagged.
fn task_cell(
    params: &[(String, String)],
    task: &Map<String, Json>,
    column: &str,
    limit: f64,
) -> TableCell {
    let text = field_text(task, column);
    let id = field_text(task, "jeditaskid");
    let numeric = matches!(
        task_column_type(column),
        ColType::Int | ColType::BigInt | ColType::SmallInt | ColType::Numeric(..)
    );
    let class = if numeric { "num" } else { "" };
    match column {
        _ if text.is_empty() => TableCell::default().class(class),
        "jeditaskid" => TableCell::text(&text)
            .link(Some(format!("/task/{text}/")))
            .class(class),
        "taskname" => TableCell::text(&text)
            .link(Some(format!("/task/{id}/")))
            .title(text.clone())
            .class("name"),
        "status" | "superstatus" => TableCell::text(&text)
            .link(Some(link_with(params, column, &text)))
            .class(format!("st-{text}")),
        "username" | "processingtype" | "campaign" | "gshare" | "nucleus" | "workinggroup" => {
            TableCell::text(&text)
                .link(Some(link_with(params, column, &text)))
                .title(text.clone())
                .class("short")
        }
        "reqid" => TableCell::text(&text)
            .link(Some(jobs_url(&[("reqid", &text)])))
            .class(class),
        "failurerate" => {
            let flagged = text.parse::<f64>().is_ok_and(|p| p > limit);
            TableCell::text(&text).class(if flagged { "num bad" } else { "num" })
        }
        "creationdate" | "modificationtime" | "starttime" | "endtime" | "statechangetime"
            if text.len() == 19 =>
        {
            TableCell::text(&text[5..16]).title(text.clone())
        }
        _ => TableCell::text(text).class(class),
    }
}

fn default_days(state: &AppState) -> i64 {
    state.settings.module_int("tasks", "default_days", 7)
}

async fn list_tasks(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let selection = request.selection(&fields::TASKS, 24 * default_days(state), &[])?;
    // bigmon answers a bare list of tasks; `outputs=summary` adds the summary around it.
    let summary = request
        .param("outputs")
        .is_some_and(|v| v.contains("summary"));
    request
        .answer(&selection, || async {
            let data = collect_tasks(state, &selection, request.json).await?;
            let shape = (24 * default_days(state), state.settings.failure_percent());
            let html = || render_list(&request.params, &selection, &data, shape);
            if summary {
                request.reply(&data, false, html)
            } else {
                request.reply(&data.tasks, false, html)
            }
        })
        .await
}

fn render_list(
    params: &[(String, String)],
    selection: &Selection,
    data: &TasksJson,
    (default_hours, limit): (i64, f64),
) -> AppResult<String> {
    let facets = facet_views(&data.selectionsummary, params, |_, _| None);
    let charts = pie_charts(
        &facets,
        &["status", "processingtype", "username"],
        data.totaltasks,
    );
    let shown: Vec<(&str, &str)> = match &selection.fields {
        Some(fields) => fields.iter().map(|f| (f.as_str(), f.as_str())).collect(),
        None => VIEW_COLUMNS.to_vec(),
    };
    let headers = shown
        .iter()
        .map(|(column, label)| {
            let numeric = matches!(
                task_column_type(column),
                ColType::Int | ColType::BigInt | ColType::SmallInt | ColType::Numeric(..)
            );
            header(
                params,
                selection,
                &fields::TASKS,
                column,
                label,
                if numeric { "num" } else { "" },
            )
        })
        .collect();
    let rows = data
        .tasks
        .iter()
        .map(|task| {
            shown
                .iter()
                .map(|(column, _)| task_cell(params, task, column, limit))
                .collect()
        })
        .collect();
    let (prev, next) = page_links(params, data.page, data.pages);
    let page = TasksPage {
        charts,
        total: human_count(data.totaltasks),
        window: describe_window(selection),
        facets,
        bar: SelectionBar::new("/tasks/", params, selection, default_hours),
        headers,
        rows,
        prev,
        next,
        data,
    };
    Ok(page.render()?)
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteUse {
    pub site: String,
    pub jobs: i64,
    pub finished: i64,
    pub failed: i64,
    /// Core-hours of payload run time.
    pub corehours: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskJson {
    pub task: Map<String, Json>,
    pub taskparams: Json,
    pub datasets: Vec<Map<String, Json>>,
    pub mode: &'static str,
    pub jobsummary: Vec<JobStatusCount>,
    pub dropped: i64,
    pub scouts: Vec<JobStatusCount>,
    pub sites: Vec<SiteUse>,
    pub statuslog: Vec<Map<String, Json>>,
    /// (hour, finished jobs so far), the task's progress over time.
    pub progress: Vec<(String, i64)>,
    /// An event-service task's event ranges by status (`jedi_events`); empty for other tasks.
    pub eventsummary: Vec<EventStatusCount>,
    /// The errors of the task's failed and holding jobs, bigmon's `errsByCount` entries.
    #[serde(rename = "errsByCount")]
    pub errs_by_count: Vec<ErrorCount>,
}

struct TaskJob {
    pandaid: i64,
    status: String,
    site: String,
    start: Option<i64>,
    end: Option<i64>,
    cores: i64,
    scout: bool,
}

pub async fn collect_task(state: &AppState, jeditaskid: i64, drop: bool) -> AppResult<TaskJson> {
    let db = &state.db;
    let row = db
        .rows_where(
            "jedi_tasks",
            ("jeditaskid", Value::Int(jeditaskid)),
            None,
            1,
        )
        .await?
        .pop()
        .ok_or_else(|| AppError::NotFound(format!("task {jeditaskid}")))?;
    let task = row_object(&row);
    let eventservice = row
        .iter()
        .find(|(k, _)| k == "eventservice")
        .and_then(|(_, v)| v.as_int())
        .is_some_and(|v| v > 0);
    let eventsummary = if eventservice {
        event_counts(state, vec![Selection::int_equals("jeditaskid", jeditaskid)]).await?
    } else {
        Vec::new()
    };
    let taskparams = db
        .rows_where(
            "jedi_taskparams",
            ("jeditaskid", Value::Int(jeditaskid)),
            None,
            1,
        )
        .await?
        .pop()
        .and_then(|r| r.into_iter().find(|(k, _)| k == "taskparams"))
        .and_then(|(_, v)| v.as_text().map(str::to_string))
        .map_or(Json::Null, |text| {
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        });
    let datasets = db
        .rows_where(
            "jedi_datasets",
            ("jeditaskid", Value::Int(jeditaskid)),
            Some("datasetid"),
            1_000,
        )
        .await?
        .iter()
        .map(|r| row_object(r))
        .collect();
    let statuslog = db
        .rows_where(
            "tasks_statuslog",
            ("jeditaskid", Value::Int(jeditaskid)),
            Some("modificationtime"),
            1_000,
        )
        .await?
        .iter()
        .map(|r| row_object(r))
        .collect();
    // Every job of the task, from all job tables.
    let selection = parse_selection(
        &[],
        &[("jeditaskid", jeditaskid.to_string())],
        &fields::JOBS,
        12,
    )?;
    // The sort column must be among the selected ones: the union is sorted as a whole.
    let columns = [
        "pandaid",
        "jobstatus",
        "computingsite",
        "starttime",
        "endtime",
        "corecount",
        "specialhandling",
        "modificationtime",
    ];
    let rows = source::job_page(state, &selection, &JobTable::ALL, &columns, 1_000_000, 0).await?;
    let ts = |c: &Cell| match c {
        Cell::Time(t) => Some(t.and_utc().timestamp()),
        _ => None,
    };
    let jobs: Vec<TaskJob> = rows
        .iter()
        .map(|r| TaskJob {
            pandaid: r[0].as_int().unwrap_or(0),
            status: r[1].as_text().unwrap_or("").to_string(),
            site: r[2].as_text().unwrap_or("Not specified").to_string(),
            start: ts(&r[3]),
            end: ts(&r[4]),
            cores: r[5].as_int().unwrap_or(1).max(1),
            scout: r[6]
                .as_text()
                .is_some_and(|s| s.split(',').any(|t| t.trim() == "sj")),
        })
        .collect();
    // Superseded retries: jobs another job retried.
    let superseded: HashSet<i64> = if drop {
        db.rows_where(
            "jedi_job_retry_history",
            ("jeditaskid", Value::Int(jeditaskid)),
            None,
            1_000_000,
        )
        .await?
        .iter()
        .filter_map(|r| {
            r.iter()
                .find(|(k, _)| k == "oldpandaid")
                .and_then(|(_, v)| v.as_int())
        })
        .collect()
    } else {
        HashSet::new()
    };
    let counted: Vec<&TaskJob> = jobs
        .iter()
        .filter(|j| !superseded.contains(&j.pandaid))
        .collect();
    let by_status = |list: &[&TaskJob]| job_summary(list.iter().map(|j| (j.status.clone(), 1)));
    let jobsummary = by_status(&counted);
    let scouts: Vec<&TaskJob> = jobs.iter().filter(|j| j.scout).collect();
    let now = Utc::now().timestamp();
    let mut sites: BTreeMap<String, SiteUse> = BTreeMap::new();
    for j in &counted {
        let s = sites.entry(j.site.clone()).or_insert_with(|| SiteUse {
            site: j.site.clone(),
            jobs: 0,
            finished: 0,
            failed: 0,
            corehours: 0.0,
        });
        s.jobs += 1;
        s.finished += i64::from(j.status == "finished");
        s.failed += i64::from(j.status == "failed");
        if let Some(start) = j.start {
            s.corehours += (j.end.unwrap_or(now) - start).max(0) as f64 * j.cores as f64 / 3_600.0;
        }
    }
    let mut sites: Vec<SiteUse> = sites.into_values().collect();
    for s in &mut sites {
        s.corehours = (s.corehours * 10.0).round() / 10.0;
    }
    sites.sort_by(|a, b| b.jobs.cmp(&a.jobs).then_with(|| a.site.cmp(&b.site)));
    let mut finished_hours: Vec<i64> = counted
        .iter()
        .filter(|j| j.status == "finished")
        .filter_map(|j| j.end.map(|e| e - e.rem_euclid(3_600)))
        .collect();
    finished_hours.sort_unstable();
    let mut progress: Vec<(String, i64)> = Vec::new();
    for (i, hour) in finished_hours.iter().enumerate() {
        let label = chrono::DateTime::from_timestamp(*hour, 0)
            .map_or(String::new(), |t| t.format("%Y-%m-%dT%H:00:00").to_string());
        match progress.last_mut() {
            Some(last) if last.0 == label => last.1 = i as i64 + 1,
            _ => progress.push((label, i as i64 + 1)),
        }
    }
    let failing = selection.and_in("jobstatus", &["failed", "holding"]);
    let (groups, _) = source::group(state, &failing, &JobTable::ALL, error_columns()).await?;
    let descriptions = state.reference.error_descriptions(db).await?;
    Ok(TaskJson {
        errs_by_count: error_summary(&groups, &descriptions),
        task,
        taskparams,
        datasets,
        mode: if drop { "drop" } else { "nodrop" },
        dropped: (jobs.len() - counted.len()) as i64,
        jobsummary,
        scouts: by_status(&scouts),
        sites,
        statuslog,
        progress,
        eventsummary,
    })
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage<'a> {
    data: &'a TaskJson,
    /// The jobs of each entry of the error summary.
    error_links: Vec<String>,
    /// The task parameters as (name, value) rows.
    params: Vec<(String, String)>,
    panels: Vec<TaskPanel>,
    progress_chart: String,
    sites_chart: String,
    jeditaskid: i64,
    name: String,
    status: String,
    attributes: Vec<(String, String)>,
    datasets: Vec<(String, String, String, String, String, String, String)>,
    other_mode: String,
    statuslog: Vec<(String, String)>,
}

async fn find_task(Path(id): Path<String>, request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let jeditaskid = parse_id("jeditaskid", &id)?;
    let drop = match request.param("mode") {
        None | Some("drop") => true,
        Some("nodrop") => false,
        Some(_) => {
            return Err(AppError::BadRequest(
                "invalid value for parameter 'mode': use drop or nodrop".into(),
            ));
        }
    };
    request
        .answer(None, || async {
            let data = collect_task(state, jeditaskid, drop).await?;
            let panels = if request.json {
                Vec::new()
            } else {
                panels_of(state, jeditaskid).await
            };
            request.reply(&data, false, || {
                render_task(jeditaskid, drop, &data, panels)
            })
        })
        .await
}

/// The blocks the enabled modules add to the task page; a module that fails adds a note.
async fn panels_of(state: &AppState, jeditaskid: i64) -> Vec<TaskPanel> {
    let mut panels = Vec::new();
    for module in state.modules.iter() {
        match module.task_panels(state, jeditaskid).await {
            Ok(mine) => panels.extend(mine),
            Err(e) => {
                tracing::warn!(module = module.name(), error = %e, "task page block failed");
                panels.push(TaskPanel {
                    id: module.name(),
                    title: module.name().to_string(),
                    notes: vec![format!("This block could not be read: {e}")],
                    ..TaskPanel::default()
                });
            }
        }
    }
    panels
}

fn render_task(
    jeditaskid: i64,
    drop: bool,
    data: &TaskJson,
    panels: Vec<TaskPanel>,
) -> AppResult<String> {
    let attributes = data
        .task
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), cell_text(v)))
        .collect();
    let datasets = data
        .datasets
        .iter()
        .map(|d| {
            let count = |key: &str| d.get(key).and_then(Json::as_i64).unwrap_or(0);
            let (nfiles, finished) = (count("nfiles"), count("nfilesfinished"));
            let pct = if nfiles > 0 {
                format!("{}%", 100 * finished / nfiles)
            } else {
                "-".into()
            };
            (
                field_text(d, "datasetname"),
                field_text(d, "type"),
                field_text(d, "status"),
                nfiles.to_string(),
                finished.to_string(),
                count("nfilesfailed").to_string(),
                pct,
            )
        })
        .collect();
    let task_selection = [("jeditaskid".to_string(), jeditaskid.to_string())];
    let error_links = data
        .errs_by_count
        .iter()
        .map(|e| error_jobs_link(&task_selection, &e.error, &[]))
        .collect();
    let params = match &data.taskparams {
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Json::String(s) => s.clone(),
                    other => serde_json::to_string_pretty(other).unwrap_or_default(),
                };
                (k.clone(), text)
            })
            .collect(),
        Json::Null => Vec::new(),
        other => vec![("taskparams".to_string(), cell_text(other))],
    };
    let statuslog = data
        .statuslog
        .iter()
        .map(|s| (field_text(s, "modificationtime"), field_text(s, "status")))
        .collect();
    let progress_chart = serde_json::json!({
        "type": "line",
        "title": "finished jobs over time",
        "data": data.progress.iter().map(|(t, n)| serde_json::json!([t, n])).collect::<Vec<_>>(),
    })
    .to_string();
    let top_sites: Vec<&SiteUse> = data.sites.iter().take(20).collect();
    let sites_chart = serde_json::json!({
        "type": "bar",
        "title": "core-hours per site",
        "categories": top_sites.iter().map(|s| s.site.as_str()).collect::<Vec<_>>(),
        "series": [{"name": "core-hours", "data": top_sites.iter().map(|s| s.corehours).collect::<Vec<_>>()}],
        "links": top_sites.iter().map(|s| jobs_url(&[("jeditaskid", &jeditaskid.to_string()), ("computingsite", &s.site)])).collect::<Vec<_>>(),
    })
    .to_string();
    let page = TaskPage {
        error_links,
        params,
        sites_chart,
        progress_chart,
        jeditaskid,
        name: field_text(&data.task, "taskname"),
        status: field_text(&data.task, "status"),
        attributes,
        datasets,
        other_mode: if drop { "nodrop".into() } else { "drop".into() },
        statuslog,
        data,
        panels,
    };
    Ok(page.render()?)
}
