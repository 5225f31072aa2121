//! The Data Carousel module: the staging dashboard (`/dc/dash/`, its data at `/api/dc/dash/`)
//! over the requests of `data_carousel_requests` with the tasks they feed, the staging of one
//! task (`/api/dc/staginginfofortask/`) and the staging block of the task page.
//!
//! A request counts in the window when it ended in it or has not ended. Progress is staged
//! over total files. A request is stalled when it is staging, its task is not final and
//! nothing was staged for days (`CarouselRequest::stalled_days`).

mod pages;

use crate::kit::error::{AppError, AppResult};
use crate::kit::format::format_time;
use crate::kit::links::url_with;
use crate::kit::module::{
    BoxFuture, Module, NavEntry, Param, ParamType, Route, RouteDoc, TaskPanel, schema,
};
use crate::kit::respond::{PageRequest, parse_id};
use crate::kit::state::AppState;
use axum::response::Response;
use axum::routing::get;
use chrono::{Duration, NaiveDateTime, Utc};
use pandamon_store::carousel::{CarouselFilter, CarouselRequest};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

pub struct DataCarousel;

const NAME: &str = "datacarousel";

/// Days of finished requests the dashboard shows unless the URL says otherwise.
const DEFAULT_DAYS: i64 = 14;

/// Edges of the elapsed-time histogram, hours.
const ELAPSED_EDGES: &[f64] = &[
    0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 48.0, 96.0, 168.0, 336.0,
];

/// The dimensions of the summaries: (key in the JSON, URL parameter).
const DIMENSIONS: &[(&str, &str)] = &[
    ("processingtype", "processingtype"),
    ("source_rse", "source"),
    ("destination_rse", "destination"),
    ("campaign", "campaign"),
    ("username", "username"),
];

impl Module for DataCarousel {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "Data Carousel: tape staging requests, their progress and elapsed time, summaries by source, destination, campaign, user"
    }
    fn tables(&self) -> &'static [&'static str] {
        &[
            "data_carousel_requests",
            "data_carousel_relations",
            "jedi_tasks",
            "jedi_datasets",
        ]
    }
    fn routes(&self) -> Vec<Route> {
        let params = const {
            &[
                Param::query(
                    "jeditaskid",
                    ParamType::Integer,
                    "requests feeding this task",
                ),
                Param::query(
                    "source",
                    ParamType::Text,
                    "the source (tape) RSE; also source_rse",
                ),
                Param::query("destination", ParamType::Text, "the destination RSE"),
                Param::query(
                    "campaign",
                    ParamType::Text,
                    "the task's campaign; Unknown for none",
                ),
                Param::query(
                    "processingtype",
                    ParamType::Text,
                    "the task's processing type",
                ),
                Param::query("username", ParamType::Text, "the task's owner"),
                Param::query("status", ParamType::Text, "the request status"),
                Param::query(
                    "days",
                    ParamType::Integer,
                    "requests that ended in the last N days, and every active one (default 14)",
                ),
                Param::query("hours", ParamType::Integer, "as days, in hours"),
            ]
        };
        vec![
            Route {
                path: "/dc/dash/",
                handler: get(dashboard),
                doc: RouteDoc {
                    summary: "the staging dashboard: elapsed time, submission and progress distributions, summaries by processing type, source, destination, campaign and user, the requests with their tasks",
                    vocabulary: None,
                    params,
                    response: schema::<DashJson>,
                    html: true,
                },
            },
            Route {
                path: "/datacardash/",
                handler: get(dashboard),
                doc: RouteDoc {
                    summary: "the staging dashboard (bigmon's other address)",
                    vocabulary: None,
                    params,
                    response: schema::<DashJson>,
                    html: true,
                },
            },
            Route {
                path: "/api/dc/dash/",
                handler: get(dashboard_api),
                doc: RouteDoc {
                    summary: "the data of the staging dashboard",
                    vocabulary: None,
                    params,
                    response: schema::<DashJson>,
                    html: false,
                },
            },
            Route {
                path: "/api/dc/staginginfofortask/",
                handler: get(staging_for_task),
                doc: RouteDoc {
                    summary: "the staging requests of one task",
                    vocabulary: None,
                    params: const {
                        &[Param::query("jeditaskid", ParamType::Integer, "the task").required()]
                    },
                    response: schema::<Vec<RequestRow>>,
                    html: false,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "staging",
            href: "/dc/dash/",
            order: 610,
        }]
    }
    fn task_panels<'a>(
        &'a self,
        state: &'a AppState,
        jeditaskid: i64,
    ) -> BoxFuture<'a, AppResult<Vec<TaskPanel>>> {
        Box::pin(async move {
            let filter = CarouselFilter {
                task: Some(jeditaskid),
                ..CarouselFilter::default()
            };
            let now = Utc::now().naive_utc();
            let rows = requests(state, &filter, now).await?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![pages::task_panel(jeditaskid, &rows)])
        })
    }
}

/// One request as the dashboard lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RequestRow {
    pub request_id: i64,
    pub dataset: String,
    pub status: String,
    pub source_rse: Option<String>,
    pub source_tape: Option<String>,
    pub destination_rse: Option<String>,
    pub ddm_rule_id: Option<String>,
    pub total_files: i64,
    pub staged_files: i64,
    /// Staged over total files, %.
    pub progress: f64,
    pub dataset_size: i64,
    pub staged_size: i64,
    pub creation_time: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub last_staged_time: Option<String>,
    /// Hours from the start to the end, or to now.
    pub elapsed_hours: Option<f64>,
    /// The tasks the request feeds.
    pub tasks: Vec<i64>,
    pub task_status: Option<String>,
    pub campaign: Option<String>,
    pub processingtype: Option<String>,
    pub username: Option<String>,
    /// Days without a staged file, for a request that is stalled.
    pub stalled_days: Option<f64>,
    /// JEDI counts fewer files in the dataset than were staged: files were lost.
    pub lost_files: bool,
    /// The Rucio rule's error, as the carousel's checker recorded it.
    pub rule_error: Option<String>,
}

/// Files, bytes and datasets of a group of requests.
#[derive(Debug, Clone, Default, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Summary {
    pub name: String,
    pub files_total: i64,
    pub files_done: i64,
    pub files_remaining: i64,
    pub bytes_total: i64,
    pub bytes_done: i64,
    pub bytes_remaining: i64,
    pub datasets_total: i64,
    pub datasets_done: i64,
    pub datasets_active: i64,
}

impl Summary {
    fn add(&mut self, r: &RequestRow) {
        self.files_total += r.total_files;
        self.files_done += r.staged_files;
        self.files_remaining += (r.total_files - r.staged_files).max(0);
        self.bytes_total += r.dataset_size;
        self.bytes_done += r.staged_size;
        self.bytes_remaining += (r.dataset_size - r.staged_size).max(0);
        self.datasets_total += 1;
        match r.status.as_str() {
            "done" | "retired" => self.datasets_done += 1,
            "staging" | "queued" => self.datasets_active += 1,
            _ => {}
        }
    }
}

/// A histogram: bin labels and one series of counts per category.
#[derive(Debug, Clone, Serialize, JsonSchema, Default)]
pub struct Histogram {
    pub bins: Vec<String>,
    pub series: BTreeMap<String, Vec<i64>>,
}

/// `/api/dc/dash/` and `/dc/dash/?json`: bigmon's keys.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DashJson {
    /// Requests by hours of staging: active (start to now), finished (start to end), queued
    /// (creation to now).
    pub elapsedtime: Histogram,
    /// Requests by day of submission, by status.
    pub submittime: Histogram,
    /// Files by day of submission, by status.
    pub submittimefiles: Histogram,
    /// Staging requests by progress (10 % bins).
    pub progress: Histogram,
    /// Per dimension (processingtype, source_rse, destination_rse, campaign, username).
    pub summary: BTreeMap<String, Vec<Summary>>,
    pub totals: Summary,
    /// The values each filter can take in this window.
    pub selection: BTreeMap<String, Vec<String>>,
    pub detailstable: Vec<RequestRow>,
    /// The filters applied, by URL parameter.
    pub filters: BTreeMap<String, String>,
    pub window: String,
    /// Requests stalled for more than the alert threshold.
    pub stalled: i64,
}

/// The dashboard's filter from the URL: bad values are a 400 naming the parameter.
fn filter_of(request: &PageRequest, now: NaiveDateTime) -> AppResult<(CarouselFilter, String)> {
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| request.param(n))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let task = match request.param("jeditaskid").map(str::trim) {
        None | Some("") => None,
        Some(v) => Some(parse_id("jeditaskid", v)?),
    };
    let hours = request.window_hours(DEFAULT_DAYS * 24, 3_650)?;
    let filter = CarouselFilter {
        task,
        request: None,
        source_rse: text(&["source", "source_rse"]),
        destination_rse: text(&["destination", "destination_rse"]),
        campaign: text(&["campaign"]),
        processingtype: text(&["processingtype"]),
        username: text(&["username"]),
        status: text(&["status"]),
        window: Some((now - Duration::hours(hours), now)),
    };
    let window = if hours % 24 == 0 {
        format!("ended in the last {} days, or active", hours / 24)
    } else {
        format!("ended in the last {hours} hours, or active")
    };
    Ok((filter, window))
}

/// The filters a request applies, by URL parameter, for links and the page.
fn applied(request: &PageRequest) -> BTreeMap<String, String> {
    [
        "jeditaskid",
        "source",
        "source_rse",
        "destination",
        "destination_rse",
        "campaign",
        "processingtype",
        "username",
        "status",
        "days",
        "hours",
    ]
    .iter()
    .filter_map(|k| {
        request
            .param(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (k.to_string(), v.trim().to_string()))
    })
    .collect()
}

/// The requests of `filter`, one row per request with every task it feeds.
async fn requests(
    state: &AppState,
    filter: &CarouselFilter,
    now: NaiveDateTime,
) -> AppResult<Vec<RequestRow>> {
    let raw = state.db.carousel_requests(filter).await?;
    let mut rows: Vec<RequestRow> = Vec::new();
    for r in raw {
        match rows.last_mut() {
            Some(last) if last.request_id == r.request_id => {
                if let Some(t) = r.task_id {
                    last.tasks.push(t);
                }
                last.lost_files |= r.lost_files();
            }
            _ => rows.push(row_of(&r, now)),
        }
    }
    Ok(rows)
}

fn hours_between(a: NaiveDateTime, b: NaiveDateTime) -> f64 {
    ((b - a).num_seconds() as f64 / 360.0).round() / 10.0
}

fn row_of(r: &CarouselRequest, now: NaiveDateTime) -> RequestRow {
    let status = r.status.clone().unwrap_or_else(|| "unknown".to_string());
    let elapsed_hours = match (status.as_str(), r.creation_time, r.start_time, r.end_time) {
        ("queued", Some(c), _, _) => Some(hours_between(c, now)),
        (_, _, Some(s), Some(e)) => Some(hours_between(s, e)),
        (_, _, Some(s), None) => Some(hours_between(s, now)),
        _ => None,
    };
    RequestRow {
        request_id: r.request_id,
        dataset: r.dataset.clone(),
        source_rse: r.source_rse.clone(),
        source_tape: r.source_tape.clone(),
        destination_rse: r.destination_rse.clone(),
        ddm_rule_id: r.ddm_rule_id.clone(),
        total_files: r.total_files,
        staged_files: r.staged_files,
        progress: if r.total_files > 0 {
            (1_000.0 * r.staged_files as f64 / r.total_files as f64).round() / 10.0
        } else {
            0.0
        },
        dataset_size: r.dataset_size,
        staged_size: r.staged_size,
        creation_time: r.creation_time.map(format_time),
        start_time: r.start_time.map(format_time),
        end_time: r.end_time.map(format_time),
        last_staged_time: r.last_staged_time.map(format_time),
        elapsed_hours,
        tasks: r.task_id.into_iter().collect(),
        task_status: r.task_status.clone(),
        campaign: r.campaign.clone(),
        processingtype: r.processingtype.clone(),
        username: r.username.clone(),
        stalled_days: r.stalled_days(now),
        lost_files: r.lost_files(),
        rule_error: r.rule_error(),
        status,
    }
}

/// The value of a dimension for a request (campaign `Unknown` when the task has none).
fn dimension(r: &RequestRow, key: &str) -> String {
    let value = match key {
        "processingtype" => r.processingtype.clone(),
        "source_rse" => r.source_rse.clone(),
        "destination_rse" => r.destination_rse.clone(),
        "campaign" => r.campaign.clone(),
        "username" => r.username.clone(),
        _ => None,
    };
    value.unwrap_or_else(|| "Unknown".to_string())
}

fn elapsed_bin(hours: f64) -> usize {
    ELAPSED_EDGES.iter().rposition(|e| hours >= *e).unwrap_or(0)
}

fn elapsed_label(i: usize) -> String {
    let h = |x: f64| {
        if x >= 48.0 {
            format!("{}d", x / 24.0)
        } else {
            format!("{x}h")
        }
    };
    match ELAPSED_EDGES.get(i + 1) {
        Some(next) => format!("{}-{}", h(ELAPSED_EDGES[i]), h(*next)),
        None => format!("{}+", h(ELAPSED_EDGES[i])),
    }
}

/// The stalled-staging threshold, days (the alert rule's setting).
pub const STALLED_DAYS: f64 = 10.0;

/// Everything of the dashboard from its requests.
fn dashboard_of(
    rows: Vec<RequestRow>,
    filters: BTreeMap<String, String>,
    window: String,
) -> DashJson {
    let mut elapsed = Histogram {
        bins: (0..ELAPSED_EDGES.len()).map(elapsed_label).collect(),
        series: BTreeMap::new(),
    };
    let mut progress = Histogram {
        bins: (0..10)
            .map(|i| format!("{}-{}%", i * 10, i * 10 + 10))
            .collect(),
        series: BTreeMap::new(),
    };
    let mut by_day: BTreeMap<String, BTreeMap<String, (i64, i64)>> = BTreeMap::new();
    let mut summary: BTreeMap<String, BTreeMap<String, Summary>> = BTreeMap::new();
    let mut selection: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut totals = Summary {
        name: "all".to_string(),
        ..Summary::default()
    };
    let mut stalled = 0;
    for r in &rows {
        totals.add(r);
        if r.stalled_days.is_some_and(|d| d > STALLED_DAYS) && !r.lost_files {
            stalled += 1;
        }
        let category = match r.status.as_str() {
            "queued" => Some("queued"),
            "staging" => Some("active"),
            "done" | "retired" => Some("finished"),
            _ => None,
        };
        if let (Some(category), Some(h)) = (category, r.elapsed_hours) {
            elapsed
                .series
                .entry(category.to_string())
                .or_insert_with(|| vec![0; ELAPSED_EDGES.len()])[elapsed_bin(h)] += 1;
        }
        if r.status == "staging" {
            let bin = ((r.progress / 10.0).floor() as usize).min(9);
            progress
                .series
                .entry("staging".to_string())
                .or_insert_with(|| vec![0; 10])[bin] += 1;
        }
        if let Some(created) = &r.creation_time {
            let day = created.get(..10).unwrap_or(created).to_string();
            let entry = by_day
                .entry(day)
                .or_default()
                .entry(r.status.clone())
                .or_default();
            entry.0 += 1;
            entry.1 += r.total_files;
        }
        for (key, _) in DIMENSIONS {
            let value = dimension(r, key);
            selection
                .entry(key.to_string())
                .or_default()
                .insert(value.clone());
            summary
                .entry(key.to_string())
                .or_default()
                .entry(value.clone())
                .or_insert_with(|| Summary {
                    name: value,
                    ..Summary::default()
                })
                .add(r);
        }
    }
    let days: Vec<String> = by_day.keys().cloned().collect();
    let statuses: std::collections::BTreeSet<String> =
        by_day.values().flat_map(|m| m.keys().cloned()).collect();
    let per_day = |files: bool| Histogram {
        bins: days.clone(),
        series: statuses
            .iter()
            .map(|s| {
                let counts = days
                    .iter()
                    .map(|d| {
                        by_day[d]
                            .get(s)
                            .map_or(0, |(n, f)| if files { *f } else { *n })
                    })
                    .collect();
                (s.clone(), counts)
            })
            .collect(),
    };
    let summary = summary
        .into_iter()
        .map(|(k, m)| {
            let mut list: Vec<Summary> = m.into_values().collect();
            list.sort_by(|a, b| b.files_total.cmp(&a.files_total).then(a.name.cmp(&b.name)));
            (k, list)
        })
        .collect();
    DashJson {
        elapsedtime: elapsed,
        submittime: per_day(false),
        submittimefiles: per_day(true),
        progress,
        summary,
        totals,
        selection: selection
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect(),
        detailstable: rows,
        filters,
        window,
        stalled,
    }
}

async fn collect(request: &PageRequest) -> AppResult<DashJson> {
    let now = Utc::now().naive_utc();
    let (filter, window) = filter_of(request, now)?;
    let rows = requests(&request.state, &filter, now).await?;
    Ok(dashboard_of(rows, applied(request), window))
}

async fn dashboard(request: PageRequest) -> AppResult<Response> {
    // Check the parameters before looking for a stored answer.
    filter_of(&request, Utc::now().naive_utc())?;
    request
        .answer(None, || async {
            let data = collect(&request).await?;
            request.reply(&data, false, || pages::dashboard(&request.params, &data))
        })
        .await
}

async fn dashboard_api(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    filter_of(&request, Utc::now().naive_utc())?;
    request
        .answer(None, || async {
            let data = collect(&request).await?;
            request.reply_json(&data, false)
        })
        .await
}

async fn staging_for_task(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    let Some(id) = request.param("jeditaskid") else {
        return Err(AppError::BadRequest(
            "parameter 'jeditaskid' is required: the task whose staging to show".to_string(),
        ));
    };
    let task = parse_id("jeditaskid", id)?;
    request
        .answer(None, || async {
            let filter = CarouselFilter {
                task: Some(task),
                ..CarouselFilter::default()
            };
            let rows = requests(&request.state, &filter, Utc::now().naive_utc()).await?;
            request.reply_json(&rows, false)
        })
        .await
}

/// `/dc/dash/` with the request's parameters and `set` (an empty value removes one).
fn dash_url(params: &[(String, String)], set: &[(&str, &str)]) -> String {
    url_with("/dc/dash/", params, set)
}
