//! The status module: `/status/`, what is in the database, how fresh it is, and
//! whether a live simulator is feeding it.

use crate::kit::error::AppResult;
use crate::kit::format::{format_time, human_count, human_duration};
use crate::kit::module::{Module, NavEntry, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::state::{AppState, LiveReport};
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use pandamon_model::{JobStatus, JobTable};
use pandamon_store::{Catalog, schema};
use schemars::JsonSchema;
use serde::Serialize;

pub struct Status;

const DOC: RouteDoc = RouteDoc {
    summary: "what the database holds: rows per table, jobs per table and status, data time, live simulator and index state",
    vocabulary: None,
    params: &[],
    response: schema::<StatusJson>,
    html: true,
};

impl Module for Status {
    fn name(&self) -> &'static str {
        "status"
    }
    fn description(&self) -> &'static str {
        "database contents, data time, live simulator and index state"
    }
    fn routes(&self) -> Vec<Route> {
        vec![Route {
            path: "/status/",
            handler: get(show_status),
            doc: DOC,
        }]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "status",
            href: "/status/",
            order: 900,
        }]
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DatabaseJson {
    pub dialect: &'static str,
    pub schema_version: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobTableJson {
    /// The job table: defined, active, archived or archive.
    #[schemars(with = "String")]
    pub table: JobTable,
    pub total: i64,
    pub by_status: Vec<(String, i64)>,
}

/// Rows of one table.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableRows {
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusJson {
    pub database: DatabaseJson,
    pub data_time: Option<String>,
    pub lag_seconds: Option<i64>,
    pub jobs: Vec<JobTableJson>,
    pub tables: Vec<TableRows>,
    /// The live simulator's report, when one runs in this process.
    #[schemars(with = "Option<serde_json::Value>")]
    pub live: Option<LiveReport>,
    /// The live job index, when enabled.
    #[schemars(with = "Option<serde_json::Value>")]
    pub index: Option<pandamon_live::sync::SyncStatus>,
    pub generated: String,
}

struct MatrixRow {
    table: &'static str,
    total: String,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    status: &'a StatusJson,
    statuses: Vec<&'static str>,
    matrix: Vec<MatrixRow>,
    totals: Vec<String>,
    grand_total: String,
    tables: Vec<(String, String)>,
    lag: Option<String>,
    uptime: String,
}

async fn collect_status(state: &AppState) -> AppResult<StatusJson> {
    let db = &state.db;
    let catalog = Catalog::get();
    let existing = schema::existing_tables(db).await?;
    let job_tables: Vec<&str> = JobTable::ALL.iter().map(|t| t.name()).collect();
    schema::ensure_tables(db, &job_tables).await?;
    let names: Vec<&str> = catalog
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| existing.iter().any(|e| e == n))
        .collect();
    let tables = db.table_counts(&names).await?;
    let counts = db.job_status_counts().await?;
    let data_time = db.data_time().await?;
    let now = Utc::now().naive_utc();
    let jobs = JobTable::ALL
        .iter()
        .map(|&table| {
            let by_status: Vec<(String, i64)> = counts
                .iter()
                .filter(|c| c.table == table)
                .map(|c| (c.jobstatus.clone(), c.count))
                .collect();
            JobTableJson {
                table,
                total: by_status.iter().map(|(_, n)| n).sum(),
                by_status,
            }
        })
        .collect();
    Ok(StatusJson {
        database: DatabaseJson {
            dialect: db.dialect().name(),
            schema_version: schema::panda_schema_version(db).await?,
        },
        data_time: data_time.map(format_time),
        lag_seconds: data_time.map(|t| (now - t).num_seconds()),
        jobs,
        tables: tables
            .into_iter()
            .map(|t| TableRows {
                table: t.table,
                rows: t.rows,
            })
            .collect(),
        live: state
            .live
            .as_ref()
            .map(|l| l.read().map(|r| r.clone()).unwrap_or_default()),
        index: state.index.as_ref().map(|i| i.status()),
        generated: format_time(now),
    })
}

async fn show_status(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    request
        .answer(None, || async {
            let status = collect_status(state).await?;
            request.reply(&status, false, || render(state, &status))
        })
        .await
}

fn render(state: &AppState, status: &StatusJson) -> AppResult<String> {
    let statuses: Vec<&'static str> = JobStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| {
            status
                .jobs
                .iter()
                .any(|t| t.by_status.iter().any(|(name, n)| name == s && *n > 0))
        })
        .collect();
    let cell = |t: &JobTableJson, s: &str| {
        t.by_status
            .iter()
            .find(|(name, _)| name == s)
            .map_or(0, |(_, n)| *n)
    };
    let matrix = status
        .jobs
        .iter()
        .map(|t| MatrixRow {
            table: t.table.name(),
            total: human_count(t.total),
            cells: statuses
                .iter()
                .map(|s| match cell(t, s) {
                    0 => String::new(),
                    n => human_count(n),
                })
                .collect(),
        })
        .collect();
    let totals = statuses
        .iter()
        .map(|s| human_count(status.jobs.iter().map(|t| cell(t, s)).sum()))
        .collect();
    let page = StatusPage {
        statuses,
        matrix,
        totals,
        grand_total: human_count(status.jobs.iter().map(|t| t.total).sum()),
        tables: status
            .tables
            .iter()
            .map(|t| (t.table.clone(), human_count(t.rows)))
            .collect(),
        lag: status.lag_seconds.map(human_duration),
        uptime: human_duration(state.started.elapsed().as_secs() as i64),
        status,
    };
    Ok(page.render()?)
}
