//! The status page (`/`), `/healthz` and the fallback: what is in the database, how fresh it is,
//! and whether a live simulator is feeding it.

use crate::error::{AppError, AppResult};
use crate::state::{AppState, LiveReport};
use askama::Template;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{NaiveDateTime, Utc};
use pandamon_model::{JobStatus, JobTable};
use pandamon_store::{Catalog, schema, status::TableCount};
use serde::Serialize;

/// Whether the client asked for JSON: `?json` (bigmon's convention) or an Accept header.
pub fn wants_json(query: Option<&str>, headers: &HeaderMap) -> bool {
    let in_query =
        query.is_some_and(|q| q.split('&').any(|p| p == "json" || p.starts_with("json=")));
    let accepts = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    in_query || accepts
}

fn format_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Seconds as "3 h 05 min" style text.
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min {:02} s", s / 60, s % 60),
        3_600..=86_399 => format!("{} h {:02} min", s / 3_600, (s % 3_600) / 60),
        _ => format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// Thousands separators with a thin space, as the pages show counts.
pub fn human_count(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[derive(Debug, Serialize)]
pub struct DatabaseJson {
    pub dialect: &'static str,
    pub url: String,
    pub schema_version: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct JobTableJson {
    pub table: JobTable,
    pub total: i64,
    pub by_status: Vec<(String, i64)>,
}

#[derive(Debug, Serialize)]
pub struct StatusJson {
    pub database: DatabaseJson,
    pub data_time: Option<String>,
    pub lag_seconds: Option<i64>,
    pub jobs: Vec<JobTableJson>,
    pub tables: Vec<TableCount>,
    pub live: Option<LiveReport>,
    /// The live job index, when enabled.
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
            url: db.display_url.clone(),
            schema_version: schema::panda_schema_version(db).await?,
        },
        data_time: data_time.map(format_time),
        lag_seconds: data_time.map(|t| (now - t).num_seconds()),
        jobs,
        tables,
        live: state
            .live
            .as_ref()
            .map(|l| l.read().map(|r| r.clone()).unwrap_or_default()),
        index: state.index.as_ref().map(|i| i.status()),
        generated: format_time(now),
    })
}

pub async fn show_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let status = collect_status(&state).await?;
    if wants_json(query.as_deref(), &headers) {
        return Ok(Json(status).into_response());
    }
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
        status: &status,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Debug, Serialize)]
pub struct HealthJson {
    pub status: &'static str,
    pub database: HealthDatabase,
    pub data_time: Option<String>,
    pub lag_seconds: Option<i64>,
    pub index: Option<pandamon_live::sync::SyncStatus>,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct HealthDatabase {
    pub reachable: bool,
    pub dialect: &'static str,
    pub url: String,
    pub schema_version: Option<String>,
    pub error: Option<String>,
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise; always JSON.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let db = &state.db;
    let probe = async {
        db.ping().await?;
        let version = schema::panda_schema_version(db).await?;
        let data_time = db.data_time().await.ok().flatten();
        Ok::<_, pandamon_store::StoreError>((version, data_time))
    };
    let (status, body) = match probe.await {
        Ok((schema_version, data_time)) => (
            StatusCode::OK,
            HealthJson {
                status: "ok",
                database: HealthDatabase {
                    reachable: true,
                    dialect: db.dialect().name(),
                    url: db.display_url.clone(),
                    schema_version,
                    error: None,
                },
                data_time: data_time.map(format_time),
                lag_seconds: data_time.map(|t| (Utc::now().naive_utc() - t).num_seconds()),
                index: state.index.as_ref().map(|i| i.status()),
                version: env!("CARGO_PKG_VERSION"),
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                HealthJson {
                    status: "unavailable",
                    database: HealthDatabase {
                        reachable: false,
                        dialect: db.dialect().name(),
                        url: db.display_url.clone(),
                        schema_version: None,
                        error: Some(e.to_string()),
                    },
                    data_time: None,
                    lag_seconds: None,
                    index: state.index.as_ref().map(|i| i.status()),
                    version: env!("CARGO_PKG_VERSION"),
                },
            )
        }
    };
    (status, Json(body)).into_response()
}

pub async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("page {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_detected_from_query_or_accept() {
        let empty = HeaderMap::new();
        assert!(wants_json(Some("json"), &empty));
        assert!(wants_json(Some("days=1&json"), &empty));
        assert!(!wants_json(Some("jsonp=1"), &empty));
        assert!(!wants_json(None, &empty));
        let mut accept = HeaderMap::new();
        accept.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(wants_json(None, &accept));
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(human_count(1234567), "1\u{2009}234\u{2009}567");
        assert_eq!(human_count(12), "12");
        assert_eq!(human_duration(59), "59 s");
        assert_eq!(human_duration(3_700), "1 h 01 min");
        assert_eq!(human_duration(90_000), "1 d 01 h");
    }
}
