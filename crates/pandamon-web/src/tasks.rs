//! `/tasks/` (task attribute summary and list) and `/task/<jeditaskid>/` (one task: parameters,
//! datasets with progress, its jobs by status with superseded retries dropped, sites, history).

use crate::error::{AppError, AppResult};
use crate::jobs::{Facet, FacetView, KeyCount, cell_json, cell_text, describe_window, link_with};
use crate::state::AppState;
use crate::status::human_count;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use pandamon_model::{JobStatus, JobTable};
use pandamon_query::{Selection, SqlDialect, fields};
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::Cell;
use pandamon_store::{Catalog, Value};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap, HashSet};

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

fn parse_selection(params: &[(String, String)], extra: &[(&str, String)]) -> AppResult<Selection> {
    crate::request::parse_selection(params, extra, &fields::TASKS, 24 * 7)
}

#[derive(Debug, Serialize)]
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
    let dialect = SqlDialect::from(db.dialect());
    let clause = |first: usize| selection.where_sql(dialect, first);
    let tables = ["jedi_tasks"];
    let mut total = db.count_rows(&tables, &clause).await?;
    if let Some(limit) = selection.limit {
        total = total.min(limit as i64);
    }
    let columns: Vec<(&str, ColType)> = TASK_FACETS
        .iter()
        .map(|(_, c)| (*c, task_column_type(c)))
        .collect();
    let groups = db
        .group_rows(&tables, &columns, &clause, "jeditaskid")
        .await?;
    let mut per_field: Vec<HashMap<String, (Json, i64)>> = vec![HashMap::new(); TASK_FACETS.len()];
    for g in &groups {
        for (i, (field, _)) in TASK_FACETS.iter().enumerate() {
            let key = bin(field, &g.values[i]);
            per_field[i].entry(key.to_string()).or_insert((key, 0)).1 += g.count;
        }
    }
    let selectionsummary = TASK_FACETS
        .iter()
        .zip(per_field)
        .filter(|(_, v)| !v.is_empty())
        .map(|((field, _), values)| {
            let mut list: Vec<KeyCount> = values
                .into_values()
                .map(|(kname, kvalue)| KeyCount { kname, kvalue })
                .collect();
            list.sort_by(|a, b| {
                b.kvalue
                    .cmp(&a.kvalue)
                    .then_with(|| a.kname.to_string().cmp(&b.kname.to_string()))
            });
            Facet {
                field: field.to_string(),
                list,
            }
        })
        .collect();
    let columns = crate::request::list_columns(selection, TASK_LIST);
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
        db.page_rows(
            &tables,
            &columns,
            &clause,
            &selection.order_sql(dialect),
            size.min(remaining),
            offset,
        )
        .await?
    };
    let tasks = crate::request::project_rows(selection, &columns, rows);
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
    columns: Vec<&'a str>,
    rows: Vec<Vec<(String, Option<String>)>>,
    prev: Option<String>,
    next: Option<String>,
}

pub async fn list_tasks(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse_selection(&params, &[])?;
    let json = crate::request::json_requested(&params, &headers);
    let data = collect_tasks(&state, &selection, json).await?;
    if json {
        // bigmon answers a bare list of tasks; `outputs=summary` adds the summary around it.
        if params
            .iter()
            .any(|(k, v)| k == "outputs" && v.contains("summary"))
        {
            return Ok(axum::Json(data).into_response());
        }
        return Ok(axum::Json(data.tasks).into_response());
    }
    let facets = data
        .selectionsummary
        .iter()
        .map(|f| {
            let values = f
                .list
                .iter()
                .map(|k| {
                    let name = cell_text(&k.kname);
                    (
                        link_with(&params, &f.field, &name),
                        name,
                        human_count(k.kvalue),
                    )
                })
                .collect();
            FacetView {
                field: f.field.clone(),
                values,
                counts: f.list.iter().map(|k| k.kvalue).collect(),
            }
        })
        .collect::<Vec<FacetView>>();
    let charts = ["status", "processingtype", "username"]
        .iter()
        .filter_map(|field| facets.iter().find(|f| f.field == *field))
        .map(|f| crate::jobs::pie_chart(&f.field, f, data.totaltasks))
        .collect();
    let columns: Vec<&str> = data
        .tasks
        .first()
        .map(|t| t.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let rows = data
        .tasks
        .iter()
        .map(|t| {
            columns
                .iter()
                .map(|c| {
                    let text = cell_text(&t[*c]);
                    let link = match *c {
                        "jeditaskid" => Some(format!("/task/{text}/")),
                        "status" | "username" | "campaign" | "processingtype" | "gshare"
                        | "nucleus" => Some(link_with(&params, c, &text)),
                        "reqid" if !text.is_empty() => Some(format!("/jobs/?reqid={text}")),
                        _ => None,
                    };
                    (text, link)
                })
                .collect()
        })
        .collect();
    let page_link = |page: u64| link_with(&params, "page", &page.to_string());
    let page = TasksPage {
        charts,
        total: human_count(data.totaltasks),
        window: describe_window(&selection),
        facets,
        columns,
        rows,
        prev: (data.page > 1).then(|| page_link(data.page - 1)),
        next: (data.page < data.pages).then(|| page_link(data.page + 1)),
        data: &data,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Debug, Serialize)]
pub struct StatusCount {
    pub jobstatus: String,
    pub count: i64,
}

#[derive(Debug, Serialize)]
pub struct SiteUse {
    pub site: String,
    pub jobs: i64,
    pub finished: i64,
    pub failed: i64,
    /// Core-hours of payload run time.
    pub corehours: f64,
}

#[derive(Debug, Serialize)]
pub struct TaskJson {
    pub task: Map<String, Json>,
    pub taskparams: Json,
    pub datasets: Vec<Map<String, Json>>,
    pub mode: &'static str,
    pub jobsummary: Vec<StatusCount>,
    pub dropped: i64,
    pub scouts: Vec<StatusCount>,
    pub sites: Vec<SiteUse>,
    pub statuslog: Vec<Map<String, Json>>,
    /// (hour, finished jobs so far), the task's progress over time.
    pub progress: Vec<(String, i64)>,
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
    let task: Map<String, Json> = row.iter().map(|(k, v)| (k.clone(), cell_json(v))).collect();
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
        .map(|r| r.iter().map(|(k, v)| (k.clone(), cell_json(v))).collect())
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
        .map(|r| r.iter().map(|(k, v)| (k.clone(), cell_json(v))).collect())
        .collect();
    // Every job of the task, from all job tables.
    let selection = crate::request::parse_selection(
        &[],
        &[("jeditaskid", jeditaskid.to_string())],
        &fields::JOBS,
        12,
    )?;
    let dialect = SqlDialect::from(db.dialect());
    let clause = |first: usize| selection.where_sql(dialect, first);
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
    let rows = db
        .job_page(
            &JobTable::ALL,
            &columns,
            &clause,
            &selection.order_sql(dialect),
            1_000_000,
            0,
        )
        .await?;
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
    let by_status = |list: &[&TaskJob]| {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for j in list {
            *counts.entry(j.status.clone()).or_default() += 1;
        }
        let mut out: Vec<StatusCount> = counts
            .into_iter()
            .map(|(jobstatus, count)| StatusCount { jobstatus, count })
            .collect();
        out.sort_by_key(|s| JobStatus::parse(&s.jobstatus).map_or(usize::MAX, |s| s as usize));
        out
    };
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
    Ok(TaskJson {
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
    })
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage<'a> {
    data: &'a TaskJson,
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

pub async fn find_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let jeditaskid: i64 = id.trim().parse().map_err(|_| {
        AppError::BadRequest(
            "invalid value for parameter 'jeditaskid': expected a whole number".into(),
        )
    })?;
    let drop = match params
        .iter()
        .find(|(k, _)| k == "mode")
        .map(|(_, v)| v.as_str())
    {
        None | Some("drop") => true,
        Some("nodrop") => false,
        Some(_) => {
            return Err(AppError::BadRequest(
                "invalid value for parameter 'mode': use drop or nodrop".into(),
            ));
        }
    };
    let data = collect_task(&state, jeditaskid, drop).await?;
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(data).into_response());
    }
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
            let nfiles = d["nfiles"].as_i64().unwrap_or(0);
            let finished = d["nfilesfinished"].as_i64().unwrap_or(0);
            let pct = if nfiles > 0 {
                format!("{}%", 100 * finished / nfiles)
            } else {
                "-".into()
            };
            (
                cell_text(&d["datasetname"]),
                cell_text(&d["type"]),
                cell_text(&d["status"]),
                nfiles.to_string(),
                finished.to_string(),
                d["nfilesfailed"].as_i64().unwrap_or(0).to_string(),
                pct,
            )
        })
        .collect();
    let statuslog = data
        .statuslog
        .iter()
        .map(|s| (cell_text(&s["modificationtime"]), cell_text(&s["status"])))
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
        "links": top_sites.iter().map(|s| format!("/jobs/?jeditaskid={jeditaskid}&computingsite={}", s.site)).collect::<Vec<_>>(),
    })
    .to_string();
    let page = TaskPage {
        sites_chart,
        progress_chart,
        jeditaskid,
        name: cell_text(&data.task["taskname"]),
        status: cell_text(&data.task["status"]),
        attributes,
        datasets,
        other_mode: if drop { "nodrop".into() } else { "drop".into() },
        statuslog,
        data: &data,
    };
    Ok(Html(page.render()?).into_response())
}
