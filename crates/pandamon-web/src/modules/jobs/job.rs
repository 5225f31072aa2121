//! `/job/<pandaid>/`: one job with everything PanDA knows about it: attributes, errors with
//! their descriptions, files, parameters, metadata, status history, retries and Harvester workers.

use crate::kit::error::{AppError, AppResult};
use crate::kit::events::{EventStatusCount, event_counts};
use crate::kit::format::{cell_text, field_text, human_bytes, row_object};
use crate::kit::joberrors::{Category, decode_errors, describe};
use crate::kit::links::{encode_segment, url};
use crate::kit::respond::{PageRequest, parse_id};
use crate::kit::state::AppState;
use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use pandamon_model::{JobTable, event_service_name};
use pandamon_query::Selection;
use pandamon_store::Value;
use pandamon_store::jobs::{Cell, Match};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

type Row = Vec<(String, Cell)>;

fn get<'a>(row: &'a Row, column: &str) -> Option<&'a Cell> {
    row.iter().find(|(k, _)| k == column).map(|(_, v)| v)
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobError {
    pub component: &'static str,
    pub code: i64,
    pub diag: String,
    pub codename: String,
    pub description: String,
    pub cat: Category,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RetryLink {
    pub oldpandaid: i64,
    pub newpandaid: i64,
    pub relationtype: String,
}

/// `/job/<pandaid>/?json`. Row objects carry the columns of their table; their keys are pinned by
/// the JSON snapshot tests, so a catalogue edit cannot change them unnoticed.
#[derive(Debug, Serialize, JsonSchema)]
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
    /// Where the job's logs are, by name (`pilotstdout`, `pilotstderr`, `batchlog`, `jdl`,
    /// `workerstdout`, `workerstderr`, `logtarball`), built from the job's own data: its pilot
    /// id, its Harvester worker and its log file.
    pub links: BTreeMap<String, String>,
    /// For an event-service job: its kind (`eventservice`, `esmerge`, `jumbo`, ...) and its
    /// event ranges by status (every status PanDA defines that has ranges), from `jedi_events`.
    pub eventservice: Option<EventSummary>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventSummary {
    pub kind: &'static str,
    pub ranges: i64,
    pub bystatus: Vec<EventStatusCount>,
}

/// The job's log links: the pilot's batch files from its `pilotid` (the URL before the first
/// `|`), the worker's batch files, and the log tarball's file page.
fn log_links(
    job: &Map<String, Json>,
    files: &[Map<String, Json>],
    workers: &[Map<String, Json>],
) -> BTreeMap<String, String> {
    let mut links = BTreeMap::new();
    let pilot = job
        .get("pilotid")
        .and_then(Json::as_str)
        .and_then(|p| p.split('|').next())
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    if let Some(stdout) = pilot {
        links.insert("pilotstdout".to_string(), stdout.to_string());
        if let Some(base) = stdout.strip_suffix(".out") {
            for (name, suffix) in [
                ("pilotstderr", ".err"),
                ("batchlog", ".log"),
                ("jdl", ".jdl"),
            ] {
                links.insert(name.to_string(), format!("{base}{suffix}"));
            }
        }
    }
    if let Some(worker) = workers.first() {
        for (name, column) in [
            ("workerstdout", "stdout"),
            ("workerstderr", "stderr"),
            ("batchlog", "batchlog"),
        ] {
            if let Some(url) = worker
                .get(column)
                .and_then(Json::as_str)
                .filter(|u| u.starts_with("http"))
            {
                links.insert(name.to_string(), url.to_string());
            }
        }
    }
    if let Some(lfn) = files
        .iter()
        .find(|f| f.get("type").and_then(Json::as_str) == Some("log"))
        .and_then(|f| f.get("lfn").and_then(Json::as_str))
    {
        links.insert("logtarball".to_string(), url("/file/", &[("lfn", lfn)]));
    }
    links
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

/// Follows `jedi_job_retry_history` up (to the jobs this one retried) or down (to its retries),
/// one query per generation of retries.
async fn retry_chain(state: &AppState, pandaid: i64, up: bool) -> AppResult<Vec<RetryLink>> {
    let key = if up { "newpandaid" } else { "oldpandaid" };
    let mut links: Vec<RetryLink> = Vec::new();
    let mut frontier = vec![pandaid];
    for _generation in 0..50 {
        if frontier.is_empty() || links.len() > 200 {
            break;
        }
        let ids = frontier.drain(..).map(Value::Int).collect();
        let rows = state
            .db
            .rows_matching(
                "jedi_job_retry_history",
                &[(key, Match::In(ids))],
                Some("ins_utc_tstamp"),
                1_000,
            )
            .await?;
        for row in rows {
            let old = get(&row, "oldpandaid").and_then(Cell::as_int).unwrap_or(0);
            let new = get(&row, "newpandaid").and_then(Cell::as_int).unwrap_or(0);
            let follow = if up { old } else { new };
            if follow != pandaid
                && !links
                    .iter()
                    .any(|l| l.oldpandaid == old && l.newpandaid == new)
            {
                frontier.push(follow);
                links.push(RetryLink {
                    oldpandaid: old,
                    newpandaid: new,
                    relationtype: text_of(&row, "relationtype").unwrap_or_default(),
                });
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
    // A job of the long-term archive has its files, parameters and metadata in the archive's
    // own tables, as in production.
    let (files_table, params_table, meta_table) = if table == JobTable::Archive {
        ("filestable_arch", "jobparamstable_arch", "metatable_arch")
    } else {
        ("filestable4", "jobparamstable", "metatable")
    };
    let files = db
        .rows_where(
            files_table,
            ("pandaid", Value::Int(pandaid)),
            Some("row_id"),
            1_000,
        )
        .await?;
    let jeditaskid = get(&job, "jeditaskid").and_then(Cell::as_int);
    // The input files' JEDI records, by the key PanDA indexes: (jeditaskid, datasetid, fileid).
    let mut dsfiles = Vec::new();
    if let Some(task) = jeditaskid {
        let inputs: Vec<&Row> = files
            .iter()
            .filter(|f| text_of(f, "type").as_deref() == Some("input"))
            .collect();
        let ids = |column: &str| -> Vec<Value> {
            let mut v: Vec<i64> = inputs
                .iter()
                .filter_map(|f| get(f, column).and_then(Cell::as_int))
                .collect();
            v.sort_unstable();
            v.dedup();
            v.into_iter().map(Value::Int).collect()
        };
        let (datasets, fileids) = (ids("datasetid"), ids("fileid"));
        if !fileids.is_empty() {
            let rows = db
                .rows_matching(
                    "jedi_dataset_contents",
                    &[
                        ("jeditaskid", Match::Eq(Value::Int(task))),
                        ("datasetid", Match::In(datasets)),
                        ("fileid", Match::In(fileids)),
                    ],
                    None,
                    1_000,
                )
                .await?;
            dsfiles.extend(rows.iter().map(|r| row_object(r)));
        }
    }
    let jobparameters = db
        .rows_where(params_table, ("pandaid", Value::Int(pandaid)), None, 1)
        .await?
        .first()
        .and_then(|r| text_of(r, "jobparameters"));
    let metadata = db
        .rows_where(meta_table, ("pandaid", Value::Int(pandaid)), None, 1)
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
    // Workers by the key PanDA indexes, (harvesterid, workerid): one query per instance.
    let mut by_instance: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for link in &links {
        if let (Some(harvester), Some(worker)) = (
            text_of(link, "harvesterid"),
            get(link, "workerid").and_then(Cell::as_int),
        ) {
            by_instance
                .entry(harvester)
                .or_default()
                .push(Value::Int(worker));
        }
    }
    let mut workers = Vec::new();
    for (harvester, ids) in by_instance {
        let rows = db
            .rows_matching(
                "harvester_workers",
                &[
                    ("harvesterid", Match::Eq(Value::from(harvester))),
                    ("workerid", Match::In(ids)),
                ],
                None,
                100,
            )
            .await?;
        workers.extend(rows.iter().map(|r| row_object(r)));
    }
    let descriptions = state.reference.error_descriptions(db).await?;
    let described = describe(&descriptions);
    let errors = decode_errors(|column| get(&job, column))
        .into_iter()
        .map(|(c, code, diag)| {
            let description = described.get(&(c.name(), code));
            JobError {
                component: c.name(),
                code,
                diag: Some(diag)
                    .filter(|d| !d.is_empty())
                    .or_else(|| description.and_then(|d| d.diagnostics.clone()))
                    .unwrap_or_default(),
                codename: description
                    .and_then(|d| d.acronym.clone())
                    .unwrap_or_default(),
                description: description
                    .and_then(|d| d.description.clone())
                    .unwrap_or_default(),
                cat: Category::of(description.map_or(0, |d| d.category)),
            }
        })
        .collect();
    let kind = get(&job, "eventservice").and_then(Cell::as_int);
    let eventservice = match (jeditaskid, kind.filter(|k| *k > 0)) {
        (Some(task), Some(kind)) => {
            let bystatus = event_counts(
                state,
                vec![
                    Selection::int_equals("jeditaskid", task),
                    Selection::int_equals("pandaid", pandaid),
                ],
            )
            .await?;
            Some(EventSummary {
                kind: event_service_name(Some(kind)),
                ranges: bystatus.iter().map(|s| s.count).sum(),
                bystatus,
            })
        }
        _ => None,
    };
    let job = row_object(&job);
    let files: Vec<Map<String, Json>> = files.iter().map(|r| row_object(r)).collect();
    let links = log_links(&job, &files, &workers);
    Ok(JobJson {
        job,
        files,
        dsfiles,
        table: table.name(),
        errors,
        jobparameters,
        metadata,
        statuslog: statuslog.iter().map(|r| row_object(r)).collect(),
        retries_up: retry_chain(state, pandaid, true).await?,
        retries_down: retry_chain(state, pandaid, false).await?,
        workers,
        links,
        eventservice,
    })
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage<'a> {
    data: &'a JobJson,
    pandaid: i64,
    status: String,
    attributes: Vec<(String, String, Option<String>)>,
    /// Per file: its cells as (text, link).
    files: Vec<Vec<(String, Option<String>)>>,
    statuslog: Vec<(String, String, String)>,
    workers: Vec<WorkerCells>,
}

/// A worker row of the job page; links only when the Harvester pages are on.
struct WorkerCells {
    instance: (String, Option<String>),
    workerid: (String, Option<String>),
    status: String,
    batchid: String,
    stdout: (String, Option<String>),
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
    Path(pandaid): Path<String>,
    request: PageRequest,
) -> AppResult<Response> {
    let state = &request.state;
    let pandaid = parse_id("pandaid", &pandaid)?;
    request
        .answer(None, || async {
            let data = collect(state, pandaid).await?;
            let harvester = state.modules.iter().any(|m| m.name() == "harvester");
            request.reply(&data, false, || render(pandaid, &data, harvester))
        })
        .await
}

fn render(pandaid: i64, data: &JobJson, harvester: bool) -> AppResult<String> {
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
        .map(|f| {
            file_columns
                .iter()
                .map(|c| {
                    let text = field_text(f, c);
                    match (*c, f.get(*c).and_then(Json::as_i64)) {
                        ("fsize", Some(bytes)) => (human_bytes(bytes), None),
                        ("lfn", _) if !text.is_empty() => {
                            let href = url("/file/", &[("lfn", &text)]);
                            (text, Some(href))
                        }
                        ("dataset", _) if !text.is_empty() => {
                            let href = url("/dataset/", &[("datasetname", &text)]);
                            (text, Some(href))
                        }
                        _ => (text, None),
                    }
                })
                .collect()
        })
        .collect();
    let statuslog = data
        .statuslog
        .iter()
        .map(|s| {
            (
                field_text(s, "modificationtime"),
                field_text(s, "jobstatus"),
                field_text(s, "computingsite"),
            )
        })
        .collect();
    let workers = data
        .workers
        .iter()
        .map(|w| {
            let instance = field_text(w, "harvesterid");
            let workerid = field_text(w, "workerid");
            let stdout = field_text(w, "stdout");
            let on = |href: String| harvester.then_some(href);
            WorkerCells {
                instance: (
                    instance.clone(),
                    on(url("/harvester/workers/", &[("harvesterid", &instance)])),
                ),
                workerid: (
                    workerid.clone(),
                    on(url(
                        &format!("/harvester/worker/{}/", encode_segment(&workerid)),
                        &[("harvesterid", &instance)],
                    )),
                ),
                status: field_text(w, "status"),
                batchid: field_text(w, "batchid"),
                stdout: (
                    stdout.clone(),
                    stdout.starts_with("http").then(|| stdout.clone()),
                ),
            }
        })
        .collect();
    let page = JobPage {
        pandaid,
        status: field_text(&data.job, "jobstatus"),
        attributes,
        files,
        statuslog,
        workers,
        data,
    };
    Ok(page.render()?)
}
