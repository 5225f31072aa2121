//! `/job/<pandaid>/`: one job with everything PanDA knows about it: attributes, errors with
//! their descriptions, files, parameters, metadata, status history, retries and Harvester workers.

use crate::error::{AppError, AppResult};
use crate::jobs::{Category, cell_json, cell_text};
use crate::state::AppState;
use crate::status::wants_json;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use pandamon_model::{ErrorComponent, JobTable, error_category_name};
use pandamon_store::Value;
use pandamon_store::jobs::Cell;
use serde::Serialize;
use serde_json::{Map, Value as Json};

type Row = Vec<(String, Cell)>;

fn to_map(row: &Row) -> Map<String, Json> {
    row.iter().map(|(k, v)| (k.clone(), cell_json(v))).collect()
}

fn get<'a>(row: &'a Row, column: &str) -> Option<&'a Cell> {
    row.iter().find(|(k, _)| k == column).map(|(_, v)| v)
}

#[derive(Debug, Serialize)]
pub struct JobError {
    pub component: &'static str,
    pub code: i64,
    pub diag: String,
    pub codename: String,
    pub description: String,
    pub cat: Category,
}

#[derive(Debug, Serialize)]
pub struct RetryLink {
    pub oldpandaid: i64,
    pub newpandaid: i64,
    pub relationtype: String,
}

#[derive(Debug, Serialize)]
pub struct JobJson {
    pub job: Map<String, Json>,
    pub files: Vec<Map<String, Json>>,
    pub dsfiles: Vec<Map<String, Json>>,
    pub table: &'static str,
    pub errors: Vec<JobError>,
    pub jobparameters: Option<String>,
    pub metadata: Option<String>,
    pub statuslog: Vec<Map<String, Json>>,
    pub retries_up: Vec<RetryLink>,
    pub retries_down: Vec<RetryLink>,
    pub workers: Vec<Map<String, Json>>,
}

async fn find_job(state: &AppState, pandaid: i64) -> AppResult<Option<(JobTable, Row)>> {
    for table in JobTable::ALL {
        let mut rows = state
            .db
            .rows_where(table.name(), ("pandaid", Value::Int(pandaid)), None, 1)
            .await?;
        if let Some(row) = rows.pop() {
            return Ok(Some((table, row)));
        }
    }
    Ok(None)
}

fn text_of(row: &Row, column: &str) -> Option<String> {
    get(row, column)
        .and_then(|c| c.as_text())
        .map(str::to_string)
}

/// Follows `jedi_job_retry_history` up (to the jobs this one retried) or down (to its retries).
async fn retry_chain(state: &AppState, pandaid: i64, up: bool) -> AppResult<Vec<RetryLink>> {
    let key = if up { "newpandaid" } else { "oldpandaid" };
    let mut links = Vec::new();
    let mut frontier = vec![pandaid];
    while let Some(id) = frontier.pop() {
        if links.len() > 200 {
            break;
        }
        let rows = state
            .db
            .rows_where(
                "jedi_job_retry_history",
                (key, Value::Int(id)),
                Some("ins_utc_tstamp"),
                100,
            )
            .await?;
        for row in rows {
            let old = get(&row, "oldpandaid").and_then(Cell::as_int).unwrap_or(0);
            let new = get(&row, "newpandaid").and_then(Cell::as_int).unwrap_or(0);
            let link = RetryLink {
                oldpandaid: old,
                newpandaid: new,
                relationtype: text_of(&row, "relationtype").unwrap_or_default(),
            };
            let follow = if up { old } else { new };
            if follow != pandaid
                && !links
                    .iter()
                    .any(|l: &RetryLink| l.oldpandaid == old && l.newpandaid == new)
            {
                frontier.push(follow);
                links.push(link);
            }
        }
    }
    Ok(links)
}

pub async fn collect(state: &AppState, pandaid: i64) -> AppResult<JobJson> {
    let db = &state.db;
    let Some((table, job)) = find_job(state, pandaid).await? else {
        return Err(AppError::NotFound(format!("job {pandaid}")));
    };
    let files = db
        .rows_where(
            "filestable4",
            ("pandaid", Value::Int(pandaid)),
            Some("row_id"),
            1_000,
        )
        .await?;
    let jeditaskid = get(&job, "jeditaskid").and_then(Cell::as_int);
    let mut dsfiles = Vec::new();
    if let Some(task) = jeditaskid {
        for file in files
            .iter()
            .filter(|f| text_of(f, "type").as_deref() == Some("input"))
        {
            let Some(fileid) = get(file, "fileid").and_then(Cell::as_int) else {
                continue;
            };
            let rows = db
                .rows_where(
                    "jedi_dataset_contents",
                    ("fileid", Value::Int(fileid)),
                    None,
                    5,
                )
                .await?;
            dsfiles.extend(
                rows.iter()
                    .filter(|r| get(r, "jeditaskid").and_then(Cell::as_int) == Some(task))
                    .map(to_map),
            );
        }
    }
    let jobparameters = db
        .rows_where("jobparamstable", ("pandaid", Value::Int(pandaid)), None, 1)
        .await?
        .first()
        .and_then(|r| text_of(r, "jobparameters"));
    let metadata = db
        .rows_where("metatable", ("pandaid", Value::Int(pandaid)), None, 1)
        .await?
        .first()
        .and_then(|r| text_of(r, "metadata"));
    let statuslog = db
        .rows_where(
            "jobs_statuslog",
            ("pandaid", Value::Int(pandaid)),
            Some("modificationtime"),
            200,
        )
        .await?;
    let links = db
        .rows_where(
            "harvester_rel_jobs_workers",
            ("pandaid", Value::Int(pandaid)),
            None,
            20,
        )
        .await?;
    let mut workers = Vec::new();
    for link in &links {
        let (Some(harvester), Some(worker)) = (
            text_of(link, "harvesterid"),
            get(link, "workerid").and_then(Cell::as_int),
        ) else {
            continue;
        };
        for row in db
            .rows_where(
                "harvester_workers",
                ("workerid", Value::Int(worker)),
                None,
                20,
            )
            .await?
        {
            if text_of(&row, "harvesterid").as_deref() == Some(harvester.as_str()) {
                workers.push(to_map(&row));
            }
        }
    }
    let descriptions = db.error_descriptions().await?;
    let sup_set = get(&job, "superrorcode")
        .and_then(Cell::as_int)
        .is_some_and(|c| c != 0);
    let mut errors = Vec::new();
    for c in ErrorComponent::ALL {
        if c == ErrorComponent::Taskbuffer && sup_set {
            continue;
        }
        let code = match get(&job, c.code_column()) {
            Some(Cell::Int(v)) => *v,
            Some(Cell::Text(s)) => s.trim().parse().unwrap_or(0),
            _ => 0,
        };
        if code <= 0 {
            continue;
        }
        let description = descriptions
            .iter()
            .find(|d| d.component == c.name() && d.code == code);
        let category = description.map_or(0, |d| d.category);
        errors.push(JobError {
            component: c.name(),
            code,
            diag: c
                .diag_column()
                .and_then(|col| text_of(&job, col))
                .or_else(|| description.and_then(|d| d.diagnostics.clone()))
                .unwrap_or_default(),
            codename: description
                .and_then(|d| d.acronym.clone())
                .unwrap_or_default(),
            description: description
                .and_then(|d| d.description.clone())
                .unwrap_or_default(),
            cat: Category {
                id: category,
                name: error_category_name(category).to_string(),
            },
        });
    }
    Ok(JobJson {
        job: to_map(&job),
        files: files.iter().map(to_map).collect(),
        dsfiles,
        table: table.name(),
        errors,
        jobparameters,
        metadata,
        statuslog: statuslog.iter().map(to_map).collect(),
        retries_up: retry_chain(state, pandaid, true).await?,
        retries_down: retry_chain(state, pandaid, false).await?,
        workers,
    })
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage<'a> {
    data: &'a JobJson,
    pandaid: i64,
    status: String,
    attributes: Vec<(String, String, Option<String>)>,
    files: Vec<Vec<String>>,
    statuslog: Vec<(String, String, String)>,
    workers: Vec<(String, String, String, String, String)>,
}

fn link_for(column: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    match column {
        "jeditaskid" | "taskid" => Some(format!("/task/{value}/")),
        "parentid" => Some(format!("/job/{value}/")),
        "computingsite" | "jobstatus" | "produsername" | "cloud" | "nucleus" | "gshare"
        | "reqid" | "jobsetid" => Some(format!("/jobs/?{column}={}", value.replace(' ', "+"))),
        _ => None,
    }
}

pub async fn find_job_page(
    State(state): State<AppState>,
    Path(pandaid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let pandaid: i64 = pandaid.trim().parse().map_err(|_| {
        AppError::BadRequest(
            "invalid value for parameter 'pandaid': expected a whole number".into(),
        )
    })?;
    let data = collect(&state, pandaid).await?;
    if wants_json(query.as_deref(), &headers) {
        return Ok(axum::Json(data).into_response());
    }
    let attributes = data
        .job
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = cell_text(v);
            (k.clone(), text.clone(), link_for(k, &text))
        })
        .collect();
    let file_columns = [
        "type",
        "lfn",
        "dataset",
        "status",
        "fsize",
        "scope",
        "attemptnr",
    ];
    let files = data
        .files
        .iter()
        .map(|f| file_columns.iter().map(|c| cell_text(&f[*c])).collect())
        .collect();
    let statuslog = data
        .statuslog
        .iter()
        .map(|s| {
            (
                cell_text(&s["modificationtime"]),
                cell_text(&s["jobstatus"]),
                cell_text(&s["computingsite"]),
            )
        })
        .collect();
    let workers = data
        .workers
        .iter()
        .map(|w| {
            (
                cell_text(&w["harvesterid"]),
                cell_text(&w["workerid"]),
                cell_text(&w["status"]),
                cell_text(&w["batchid"]),
                cell_text(&w["stdout"]),
            )
        })
        .collect();
    let page = JobPage {
        pandaid,
        status: cell_text(&data.job["jobstatus"]),
        attributes,
        files,
        statuslog,
        workers,
        data: &data,
    };
    Ok(Html(page.render()?).into_response())
}
