//! The iDDS module: workflows of the intelligent Data Delivery Service as the PanDA database
//! holds them (its `requests`, `transforms`, `processings`, `collections` and `contents`
//! tables). `/idds/` lists the requests of the window with their transforms and files,
//! `/idds/wfprogress/` is the workflow progress table, and bigmon's JSON endpoints answer one
//! request's transforms, one transform's collections and processings, one collection's contents
//! and a JEDI task's iDDS objects. A task's page shows its workflow.

mod names;

use crate::kit::error::{AppError, AppResult};
use crate::kit::format::{human_count, row_object};
use crate::kit::links::{link_with, url};
use crate::kit::module::{
    BoxFuture, Module, NavEntry, Param, ParamType, Route, RouteDoc, TaskPanel, schema,
};
use crate::kit::respond::{PageRequest, parse_id};
use crate::kit::state::AppState;
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use chrono::{NaiveDateTime, Utc};
use names::{collection_status, processing_status, request_status, request_type, transform_type};
use pandamon_store::Value;
use pandamon_store::jobs::{Cell, Match};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};

pub struct Idds;

/// The window of the request pages when the URL names none, in days.
const DEFAULT_DAYS: i64 = 7;
/// The most requests one page reads.
const MAX_REQUESTS: u64 = 5_000;
/// The most rows one JSON endpoint answers.
const MAX_ROWS: u64 = 10_000;

const PAGE_PARAMS: &[Param] = &[
    Param::query(
        "days",
        ParamType::Integer,
        "window on created_at in days (default 7)",
    ),
    Param::query("hours", ParamType::Integer, "window on created_at in hours"),
    Param::query("request_id", ParamType::Integer, "one request"),
    Param::query("username", ParamType::Text, "the requests of one user"),
    Param::query(
        "status",
        ParamType::Text,
        "request status, by name (Finished) or number (3)",
    ),
];

impl Module for Idds {
    fn name(&self) -> &'static str {
        "idds"
    }
    fn description(&self) -> &'static str {
        "iDDS workflows: requests with their transforms and files, workflow progress, per-task objects"
    }
    fn tables(&self) -> &'static [&'static str] {
        &[
            "requests",
            "transforms",
            "processings",
            "collections",
            "contents",
        ]
    }
    fn routes(&self) -> Vec<Route> {
        let json = |path: &'static str, summary: &'static str, params: &'static [Param]| Route {
            path,
            handler: get(move |request: PageRequest| rows_endpoint(path, request)),
            doc: RouteDoc {
                summary,
                vocabulary: None,
                params,
                response: schema::<Vec<Map<String, Json>>>,
                html: false,
            },
        };
        vec![
            Route {
                path: "/idds/",
                handler: get(requests_page),
                doc: RouteDoc {
                    summary: "iDDS requests of the window with their transforms and input/output files, and a summary by status",
                    vocabulary: None,
                    params: PAGE_PARAMS,
                    response: schema::<RequestsJson>,
                    html: true,
                },
            },
            Route {
                path: "/idds/wfprogress/",
                handler: get(progress_page),
                doc: RouteDoc {
                    summary: "workflow progress: per request its tasks by status and its files total, released, unreleased, finished and failed; summaries by status and user",
                    vocabulary: None,
                    params: PAGE_PARAMS,
                    response: schema::<ProgressJson>,
                    html: true,
                },
            },
            json(
                "/idds/transforms/",
                "the transforms of one request",
                const { &[Param::query("requestid", ParamType::Integer, "the request").required()] },
            ),
            json(
                "/idds/collections/",
                "the collections of one transform",
                const {
                    &[
                        Param::query("transform_id", ParamType::Integer, "the transform")
                            .required(),
                    ]
                },
            ),
            json(
                "/idds/processings/",
                "the processings of one transform",
                const {
                    &[
                        Param::query("transform_id", ParamType::Integer, "the transform")
                            .required(),
                    ]
                },
            ),
            json(
                "/idds/contents/",
                "the contents (files) of one collection",
                const { &[Param::query("coll_id", ParamType::Integer, "the collection").required()] },
            ),
            Route {
                path: "/idds/daggraph/",
                handler: get(dag_page),
                doc: RouteDoc {
                    summary: "one request's workflow as a graph: nodes are its tasks with status and files done/total, edges the data flow; the page redraws as the data changes",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query("idds_request_id", ParamType::Integer, "the request")
                                .required(),
                        ]
                    },
                    response: schema::<DagJson>,
                    html: true,
                },
            },
            Route {
                path: "/idds/getiddsfortask/",
                handler: get(for_task),
                doc: RouteDoc {
                    summary: "a JEDI task's transforms, each with its collections and their contents",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query("jeditaskid", ParamType::Integer, "the JEDI task")
                                .required(),
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
            label: "iDDS",
            href: "/idds/wfprogress/",
            order: 620,
        }]
    }
    fn task_panels<'a>(
        &'a self,
        state: &'a AppState,
        jeditaskid: i64,
    ) -> BoxFuture<'a, AppResult<Vec<TaskPanel>>> {
        Box::pin(async move {
            let transforms = rows(
                state,
                "transforms",
                &[("workload_id", Match::Eq(Value::Int(jeditaskid)))],
                MAX_ROWS,
            )
            .await?;
            let Some(request_id) = transforms.first().and_then(|t| int(t, "request_id")) else {
                return Ok(Vec::new());
            };
            let request = rows(
                state,
                "requests",
                &[("request_id", Match::Eq(Value::Int(request_id)))],
                1,
            )
            .await?;
            let siblings = rows(
                state,
                "transforms",
                &[("request_id", Match::Eq(Value::Int(request_id)))],
                MAX_ROWS,
            )
            .await?;
            let name = request.first().map(|r| text(r, "name")).unwrap_or_default();
            let status = request
                .first()
                .and_then(|r| int(r, "status"))
                .map_or(String::new(), |s| request_status(s).to_string());
            Ok(vec![TaskPanel {
                id: "task-idds",
                title: "iDDS workflow".to_string(),
                notes: vec![format!(
                    "request {request_id} {name} ({status}), {} tasks",
                    siblings.len()
                )],
                columns: ["request", "step", "task", "status", "type"]
                    .map(str::to_string)
                    .to_vec(),
                rows: siblings
                    .iter()
                    .map(|t| {
                        let task = int(t, "workload_id").map_or(String::new(), |w| w.to_string());
                        vec![
                            (
                                request_id.to_string(),
                                Some(url(
                                    "/idds/wfprogress/",
                                    &[("request_id", &request_id.to_string())],
                                )),
                            ),
                            (text(t, "internal_id"), None),
                            (
                                task.clone(),
                                (!task.is_empty()).then(|| format!("/task/{task}/")),
                            ),
                            (
                                int(t, "status")
                                    .map_or(String::new(), |s| request_status(s).to_string()),
                                None,
                            ),
                            (
                                int(t, "transform_type")
                                    .map_or(String::new(), |s| transform_type(s).to_string()),
                                None,
                            ),
                        ]
                    })
                    .collect(),
            }])
        })
    }
}

type Row = Vec<(String, Cell)>;

/// Rows of an iDDS table matching every condition, by their id.
async fn rows(
    state: &AppState,
    table: &'static str,
    conditions: &[(&str, Match)],
    limit: u64,
) -> AppResult<Vec<Row>> {
    Ok(state
        .db
        .rows_matching(table, conditions, None, limit)
        .await?)
}

/// Rows of `table` whose `column` is one of `ids` (any number: asked for 1 000 at a time).
async fn rows_in(
    state: &AppState,
    table: &'static str,
    column: &str,
    ids: &[i64],
) -> AppResult<Vec<Row>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(1_000) {
        let values = chunk.iter().map(|i| Value::Int(*i)).collect();
        out.extend(rows(state, table, &[(column, Match::In(values))], MAX_ROWS * 10).await?);
    }
    Ok(out)
}

fn cell<'r>(row: &'r Row, column: &str) -> Option<&'r Cell> {
    row.iter().find(|(c, _)| c == column).map(|(_, v)| v)
}

fn int(row: &Row, column: &str) -> Option<i64> {
    cell(row, column).and_then(Cell::as_int)
}

fn text(row: &Row, column: &str) -> String {
    match cell(row, column) {
        Some(Cell::Text(s)) => s.trim_end().to_string(),
        Some(Cell::Time(t)) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(Cell::Int(i)) => i.to_string(),
        _ => String::new(),
    }
}

/// What the request pages select: a window on `created_at`, and optionally one request, user
/// or status.
struct Filter {
    since: NaiveDateTime,
    days: f64,
    request_id: Option<i64>,
    username: Option<String>,
    status: Option<i64>,
}

impl Filter {
    fn parse(request: &PageRequest) -> AppResult<Filter> {
        let hours = request.window_hours(DEFAULT_DAYS * 24, 3_650)?;
        let status = match request.param("status").map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(names::parse_request_status(v).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "invalid value for parameter 'status': '{v}' is not an iDDS request status (a name such as Finished, or its number)"
                ))
            })?),
        };
        Ok(Filter {
            since: Utc::now().naive_utc() - chrono::Duration::hours(hours),
            days: hours as f64 / 24.0,
            request_id: request
                .param("request_id")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| parse_id("request_id", v))
                .transpose()?,
            username: request
                .param("username")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            status,
        })
    }

    fn describe(&self) -> String {
        let mut parts = vec![if self.days >= 1.0 && self.days.fract() == 0.0 {
            format!("created in the last {} days", self.days)
        } else {
            format!("created in the last {} hours", (self.days * 24.0).round())
        }];
        if let Some(id) = self.request_id {
            parts.push(format!("request {id}"));
        }
        if let Some(u) = &self.username {
            parts.push(format!("user {u}"));
        }
        if let Some(s) = self.status {
            parts.push(format!("status {}", request_status(s)));
        }
        parts.join(", ")
    }
}

/// The requests of the filter with their transforms, processings and collections.
struct Workflows {
    requests: Vec<Row>,
    transforms: HashMap<i64, Vec<Row>>,
    /// The latest processing of each transform.
    processing: HashMap<i64, Row>,
    /// Collections by transform.
    collections: HashMap<i64, Vec<Row>>,
}

async fn workflows(state: &AppState, filter: &Filter) -> AppResult<Workflows> {
    let mut conditions = vec![("created_at", Match::AtLeast(Value::Time(filter.since)))];
    if let Some(id) = filter.request_id {
        conditions.push(("request_id", Match::Eq(Value::Int(id))));
    }
    if let Some(u) = &filter.username {
        conditions.push(("username", Match::Eq(Value::Text(u.clone().into()))));
    }
    if let Some(s) = filter.status {
        conditions.push(("status", Match::Eq(Value::Int(s))));
    }
    let mut requests = rows(state, "requests", &conditions, MAX_REQUESTS).await?;
    requests.sort_by_key(|r| std::cmp::Reverse(int(r, "request_id")));
    let ids: Vec<i64> = requests
        .iter()
        .filter_map(|r| int(r, "request_id"))
        .collect();
    let mut transforms: HashMap<i64, Vec<Row>> = HashMap::new();
    for t in rows_in(state, "transforms", "request_id", &ids).await? {
        if let Some(r) = int(&t, "request_id") {
            transforms.entry(r).or_default().push(t);
        }
    }
    for list in transforms.values_mut() {
        list.sort_by_key(|t| int(t, "transform_id"));
    }
    let mut processing: HashMap<i64, Row> = HashMap::new();
    for p in rows_in(state, "processings", "request_id", &ids).await? {
        let Some(t) = int(&p, "transform_id") else {
            continue;
        };
        let newer = processing
            .get(&t)
            .is_none_or(|old| int(old, "processing_id") < int(&p, "processing_id"));
        if newer {
            processing.insert(t, p);
        }
    }
    let mut collections: HashMap<i64, Vec<Row>> = HashMap::new();
    for c in rows_in(state, "collections", "request_id", &ids).await? {
        if let Some(t) = int(&c, "transform_id") {
            collections.entry(t).or_default().push(c);
        }
    }
    Ok(Workflows {
        requests,
        transforms,
        processing,
        collections,
    })
}

/// Files of a transform's collections of one relation (0 input, 1 output).
#[derive(Debug, Default, Clone, Copy, Serialize, JsonSchema)]
pub struct Files {
    pub total: i64,
    pub processed: i64,
    pub processing: i64,
    pub failed: i64,
    /// Not yet handed to processing (`new_files`).
    pub new: i64,
}

impl Files {
    fn of(collections: Option<&Vec<Row>>, relation: i64) -> Files {
        let mut f = Files::default();
        for c in collections
            .into_iter()
            .flatten()
            .filter(|c| int(c, "relation_type") == Some(relation))
        {
            let n = |k: &str| int(c, k).unwrap_or(0);
            f.total += n("total_files");
            f.processed += n("processed_files");
            f.processing += n("processing_files");
            f.failed += n("failed_files");
            f.new += n("new_files");
        }
        f
    }

    fn add(&mut self, other: Files) {
        self.total += other.total;
        self.processed += other.processed;
        self.processing += other.processing;
        self.failed += other.failed;
        self.new += other.new;
    }
}

/// One transform of `/idds/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TransformBrief {
    pub transform_id: i64,
    pub internal_id: String,
    /// The JEDI task (`workload_id`).
    pub workload_id: Option<i64>,
    pub transform_type: String,
    pub status: String,
    pub processing_status: String,
    pub input: Files,
    pub output: Files,
}

/// One request of `/idds/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RequestBrief {
    pub request_id: i64,
    pub scope: String,
    pub name: String,
    pub username: String,
    pub request_type: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub transforms: Vec<TransformBrief>,
}

/// Requests of one status.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

/// `/idds/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RequestsJson {
    pub requests: Vec<RequestBrief>,
    pub summary: Vec<StatusCount>,
}

fn briefs(w: &Workflows) -> Vec<RequestBrief> {
    w.requests
        .iter()
        .map(|r| {
            let id = int(r, "request_id").unwrap_or(0);
            RequestBrief {
                request_id: id,
                scope: text(r, "scope"),
                name: text(r, "name"),
                username: text(r, "username"),
                request_type: int(r, "request_type")
                    .map_or(String::new(), |t| request_type(t).to_string()),
                status: int(r, "status").map_or(String::new(), |s| request_status(s).to_string()),
                created_at: text(r, "created_at"),
                updated_at: text(r, "updated_at"),
                transforms: w
                    .transforms
                    .get(&id)
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        let tid = int(t, "transform_id").unwrap_or(0);
                        let collections = w.collections.get(&tid);
                        TransformBrief {
                            transform_id: tid,
                            internal_id: text(t, "internal_id"),
                            workload_id: int(t, "workload_id"),
                            transform_type: int(t, "transform_type")
                                .map_or(String::new(), |s| transform_type(s).to_string()),
                            status: int(t, "status")
                                .map_or(String::new(), |s| request_status(s).to_string()),
                            processing_status: w
                                .processing
                                .get(&tid)
                                .and_then(|p| int(p, "status"))
                                .map_or(String::new(), |s| processing_status(s).to_string()),
                            input: Files::of(collections, 0),
                            output: Files::of(collections, 1),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

fn summary<'a>(values: impl Iterator<Item = &'a str>) -> Vec<StatusCount> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut list: Vec<StatusCount> = counts
        .into_iter()
        .map(|(status, count)| StatusCount {
            status: status.to_string(),
            count,
        })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.status.cmp(&b.status)));
    list
}

#[derive(Template)]
#[template(path = "idds.html")]
struct RequestsPage<'a> {
    data: &'a RequestsJson,
    window: String,
    /// Per summary entry: the requests of that status.
    status_links: Vec<String>,
}

async fn requests_page(request: PageRequest) -> AppResult<Response> {
    let filter = Filter::parse(&request)?;
    let state = &request.state;
    request
        .answer(None, || async {
            let w = workflows(state, &filter).await?;
            let requests = briefs(&w);
            let data = RequestsJson {
                summary: summary(requests.iter().map(|r| r.status.as_str())),
                requests,
            };
            request.reply(&data, false, || {
                let page = RequestsPage {
                    window: filter.describe(),
                    status_links: data
                        .summary
                        .iter()
                        .map(|s| link_with(&request.params, "status", &s.status))
                        .collect(),
                    data: &data,
                };
                Ok(page.render()?)
            })
        })
        .await
}

/// One row of the workflow progress table.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProgressRow {
    pub request_id: i64,
    pub username: String,
    pub status: String,
    pub created_at: String,
    pub name: String,
    pub request_type: String,
    /// The transforms' types, e.g. "Processing".
    pub transform_types: String,
    /// The request's tasks (transforms) by processing status.
    pub tasks: BTreeMap<String, i64>,
    pub total_tasks: i64,
    /// Input files: all, handed to processing, not yet, processing now.
    pub total_files: i64,
    pub released_files: i64,
    pub unreleased_files: i64,
    pub processing_files: i64,
    /// Input files JEDI finished and failed (`jedi_datasets` of the tasks' input datasets).
    pub finished_files: i64,
    pub failed_files: i64,
    pub campaign: String,
    pub cloud: String,
    pub site: String,
    /// The JEDI tasks of the request.
    pub jeditaskids: Vec<i64>,
}

/// Requests of one user or status, with their files.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProgressSummary {
    pub name: String,
    pub requests: i64,
    pub tasks: i64,
    pub total_files: i64,
    pub finished_files: i64,
    pub failed_files: i64,
}

/// `/idds/wfprogress/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProgressJson {
    pub requests: Vec<ProgressRow>,
    pub bystatus: Vec<ProgressSummary>,
    pub byuser: Vec<ProgressSummary>,
}

async fn progress(state: &AppState, filter: &Filter) -> AppResult<ProgressJson> {
    let w = workflows(state, filter).await?;
    let tasks: Vec<i64> = w
        .transforms
        .values()
        .flatten()
        .filter_map(|t| int(t, "workload_id"))
        .collect();
    // JEDI's own count of the input files each task finished and failed.
    let mut jedi: HashMap<i64, (i64, i64)> = HashMap::new();
    for d in rows_in(state, "jedi_datasets", "jeditaskid", &tasks).await? {
        if text(&d, "type") != "input" {
            continue;
        }
        if let Some(task) = int(&d, "jeditaskid") {
            let e = jedi.entry(task).or_default();
            e.0 += int(&d, "nfilesfinished").unwrap_or(0);
            e.1 += int(&d, "nfilesfailed").unwrap_or(0);
        }
    }
    let requests: Vec<ProgressRow> = w
        .requests
        .iter()
        .map(|r| {
            let id = int(r, "request_id").unwrap_or(0);
            let transforms = w.transforms.get(&id).map(Vec::as_slice).unwrap_or_default();
            let mut tasks: BTreeMap<String, i64> = BTreeMap::new();
            let mut input = Files::default();
            let (mut finished, mut failed) = (0, 0);
            let mut types: Vec<&'static str> = Vec::new();
            let mut ids = Vec::new();
            for t in transforms {
                let tid = int(t, "transform_id").unwrap_or(0);
                let status = match w.processing.get(&tid).and_then(|p| int(p, "status")) {
                    Some(s) => processing_status(s),
                    None => "New",
                };
                *tasks.entry(status.to_string()).or_default() += 1;
                input.add(Files::of(w.collections.get(&tid), 0));
                if let Some(task) = int(t, "workload_id") {
                    ids.push(task);
                    let (f, x) = jedi.get(&task).copied().unwrap_or_default();
                    finished += f;
                    failed += x;
                }
                let kind = int(t, "transform_type").map_or("", transform_type);
                if !types.contains(&kind) {
                    types.push(kind);
                }
            }
            ProgressRow {
                request_id: id,
                username: text(r, "username"),
                status: int(r, "status").map_or(String::new(), |s| request_status(s).to_string()),
                created_at: text(r, "created_at"),
                name: text(r, "name"),
                request_type: int(r, "request_type")
                    .map_or(String::new(), |t| request_type(t).to_string()),
                transform_types: types.join(", "),
                total_tasks: transforms.len() as i64,
                tasks,
                total_files: input.total,
                released_files: input.total - input.new,
                unreleased_files: input.new,
                processing_files: input.processing,
                finished_files: finished,
                failed_files: failed,
                campaign: text(r, "campaign"),
                cloud: text(r, "cloud"),
                site: text(r, "site"),
                jeditaskids: ids,
            }
        })
        .collect();
    let group = |key: &dyn Fn(&ProgressRow) -> &str| {
        let mut out: BTreeMap<String, ProgressSummary> = BTreeMap::new();
        for r in &requests {
            let name = key(r).to_string();
            let s = out.entry(name.clone()).or_insert(ProgressSummary {
                name,
                requests: 0,
                tasks: 0,
                total_files: 0,
                finished_files: 0,
                failed_files: 0,
            });
            s.requests += 1;
            s.tasks += r.total_tasks;
            s.total_files += r.total_files;
            s.finished_files += r.finished_files;
            s.failed_files += r.failed_files;
        }
        let mut list: Vec<ProgressSummary> = out.into_values().collect();
        list.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.name.cmp(&b.name))
        });
        list
    };
    Ok(ProgressJson {
        bystatus: group(&|r| r.status.as_str()),
        byuser: group(&|r| r.username.as_str()),
        requests,
    })
}

#[derive(Template)]
#[template(path = "idds_wfprogress.html")]
struct ProgressPage<'a> {
    data: &'a ProgressJson,
    window: String,
    /// Processing statuses that occur, as columns.
    statuses: Vec<String>,
    /// Per request: its tasks' link and per-status cells.
    rows: Vec<(String, Vec<String>)>,
    status_links: Vec<String>,
    user_links: Vec<String>,
    total_requests: String,
}

async fn progress_page(request: PageRequest) -> AppResult<Response> {
    let filter = Filter::parse(&request)?;
    let state = &request.state;
    request
        .answer(None, || async {
            let data = progress(state, &filter).await?;
            request.reply(&data, false, || {
                let mut statuses: Vec<String> = data
                    .requests
                    .iter()
                    .flat_map(|r| r.tasks.keys().cloned())
                    .collect();
                statuses.sort_by_key(|s| names::processing_rank(s));
                statuses.dedup();
                let rows = data
                    .requests
                    .iter()
                    .map(|r| {
                        let ids: Vec<String> = r.jeditaskids.iter().map(i64::to_string).collect();
                        let tasks = url("/tasks/", &[("jeditaskid", &ids.join("|"))]);
                        let cells = statuses
                            .iter()
                            .map(|s| r.tasks.get(s).map_or(String::new(), |n| n.to_string()))
                            .collect();
                        (tasks, cells)
                    })
                    .collect();
                let page = ProgressPage {
                    window: filter.describe(),
                    statuses,
                    rows,
                    status_links: data
                        .bystatus
                        .iter()
                        .map(|s| link_with(&request.params, "status", &s.name))
                        .collect(),
                    user_links: data
                        .byuser
                        .iter()
                        .map(|s| link_with(&request.params, "username", &s.name))
                        .collect(),
                    total_requests: human_count(data.requests.len() as i64),
                    data: &data,
                };
                Ok(page.render()?)
            })
        })
        .await
}

/// The required integer parameter of a JSON endpoint.
fn required_id(request: &PageRequest, name: &str) -> AppResult<i64> {
    match request.param(name) {
        Some(v) => parse_id(name, v),
        None => Err(AppError::BadRequest(format!(
            "missing parameter '{name}': name the {}",
            name.trim_end_matches("_id").trim_end_matches("id")
        ))),
    }
}

/// bigmon's row endpoints: every column of the matching rows, as JSON objects.
async fn rows_endpoint(path: &'static str, request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    let (param, table, column) = match path {
        "/idds/transforms/" => ("requestid", "transforms", "request_id"),
        "/idds/collections/" => ("transform_id", "collections", "transform_id"),
        "/idds/processings/" => ("transform_id", "processings", "transform_id"),
        _ => ("coll_id", "contents", "coll_id"),
    };
    let id = required_id(&request, param)?;
    let found = rows(
        &request.state,
        table,
        &[(column, Match::Eq(Value::Int(id)))],
        MAX_ROWS,
    )
    .await?;
    let data: Vec<Map<String, Json>> = found.iter().map(named).collect();
    request.answer_now(&data, || Ok(String::new()))
}

/// A row as JSON with iDDS status and type names added next to their numbers.
fn named(row: &Row) -> Map<String, Json> {
    let mut object = row_object(row);
    for (column, name) in [
        ("status", "status_name"),
        ("transform_type", "transform_type_name"),
        ("request_type", "request_type_name"),
        ("relation_type", "relation_type_name"),
    ] {
        let Some(value) = int(row, column) else {
            continue;
        };
        let text = match column {
            "transform_type" => transform_type(value),
            "request_type" => request_type(value),
            "relation_type" => names::relation_type(value),
            _ => return_status(row, value),
        };
        object.insert(name.to_string(), Json::from(text));
    }
    object
}

/// The status name of a row, by the table its columns say it comes from.
fn return_status(row: &Row, value: i64) -> &'static str {
    if cell(row, "content_id").is_some() {
        names::content_status(value)
    } else if cell(row, "coll_id").is_some() {
        collection_status(value)
    } else if cell(row, "processing_id").is_some() {
        processing_status(value)
    } else {
        request_status(value)
    }
}

/// `/idds/getiddsfortask/?jeditaskid=`: the task's transforms, each with its collections and
/// their contents.
async fn for_task(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    let task = required_id(&request, "jeditaskid")?;
    let state = &request.state;
    let transforms = rows(
        state,
        "transforms",
        &[("workload_id", Match::Eq(Value::Int(task)))],
        MAX_ROWS,
    )
    .await?;
    let mut out = Vec::new();
    for t in &transforms {
        let mut object = named(t);
        let tid = int(t, "transform_id").unwrap_or(0);
        let mut colls = Vec::new();
        for c in rows(
            state,
            "collections",
            &[("transform_id", Match::Eq(Value::Int(tid)))],
            MAX_ROWS,
        )
        .await?
        {
            let mut coll = named(&c);
            let cid = int(&c, "coll_id").unwrap_or(0);
            let contents: Vec<Json> = rows(
                state,
                "contents",
                &[("coll_id", Match::Eq(Value::Int(cid)))],
                MAX_ROWS,
            )
            .await?
            .iter()
            .map(|r| Json::Object(named(r)))
            .collect();
            coll.insert("contents".to_string(), Json::Array(contents));
            colls.push(Json::Object(coll));
        }
        object.insert("collections".to_string(), Json::Array(colls));
        out.push(object);
    }
    request.answer_now(&out, || Ok(String::new()))
}

/// One node of a workflow graph: a transform, with its JEDI task's status and input files.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DagNode {
    pub id: String,
    pub label: String,
    /// The JEDI task's status when the task is known, else the transform's (lowercase).
    pub status: String,
    /// Input files done and in all.
    pub done: i64,
    pub total: i64,
    pub jeditaskid: Option<i64>,
    /// Its layer: the longest path from a root, over the graph without its cycle edges.
    pub layer: usize,
}

/// One edge: data flows from `source` to `target`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DagEdge {
    pub source: String,
    pub target: String,
    /// The edge closes a cycle in the data (a workflow should have none).
    pub cycle: bool,
}

/// `/idds/daggraph/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DagJson {
    pub request_id: i64,
    pub name: String,
    pub status: String,
    pub nodes: Vec<DagNode>,
    pub edges: Vec<DagEdge>,
}

/// The edges that close cycles (found by an iterative depth-first search, so a cycle in the
/// data cannot loop), and each node's layer over the remaining edges.
fn layers(n: usize, edges: &[(usize, usize)]) -> (Vec<bool>, Vec<usize>) {
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (k, &(a, b)) in edges.iter().enumerate() {
        out[a].push((b, k));
    }
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state = vec![0u8; n];
    let mut back = vec![false; edges.len()];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some((node, next)) = stack.pop() {
            if let Some(&(to, k)) = out[node].get(next) {
                stack.push((node, next + 1));
                match state[to] {
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => back[k] = true,
                    _ => {}
                }
            } else {
                state[node] = 2;
            }
        }
    }
    // Longest path from the roots (Kahn's order over the acyclic edges).
    let mut indegree = vec![0usize; n];
    for (k, &(_, b)) in edges.iter().enumerate() {
        if !back[k] {
            indegree[b] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(node) = ready.pop() {
        for &(to, k) in &out[node] {
            if back[k] {
                continue;
            }
            layer[to] = layer[to].max(layer[node] + 1);
            indegree[to] -= 1;
            if indegree[to] == 0 {
                ready.push(to);
            }
        }
    }
    (back, layer)
}

async fn dag(state: &AppState, request_id: i64) -> AppResult<DagJson> {
    let id = Value::Int(request_id);
    let request = rows(
        state,
        "requests",
        &[("request_id", Match::Eq(id.clone()))],
        1,
    )
    .await?;
    let Some(request) = request.first() else {
        return Err(AppError::NotFound(format!("iDDS request {request_id}")));
    };
    let mut transforms = rows(
        state,
        "transforms",
        &[("request_id", Match::Eq(id.clone()))],
        MAX_ROWS,
    )
    .await?;
    transforms.sort_by_key(|t| int(t, "transform_id"));
    let collections = rows(
        state,
        "collections",
        &[("request_id", Match::Eq(id))],
        MAX_ROWS * 3,
    )
    .await?;
    // Progress: the input files processed of each step. Data flow: a step reading a collection
    // another step of the request writes depends on it.
    let mut input: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut writer: HashMap<(String, String), i64> = HashMap::new();
    let mut reads: Vec<((String, String), i64)> = Vec::new();
    for c in &collections {
        let Some(t) = int(c, "transform_id") else {
            continue;
        };
        let name = (text(c, "scope"), text(c, "name"));
        match int(c, "relation_type") {
            Some(0) => {
                let e = input.entry(t).or_default();
                e.0 += int(c, "processed_files").unwrap_or(0);
                e.1 += int(c, "total_files").unwrap_or(0);
                reads.push((name, t));
            }
            Some(1) => {
                writer.insert(name, t);
            }
            _ => {}
        }
    }
    let tasks: Vec<i64> = transforms
        .iter()
        .filter_map(|t| int(t, "workload_id"))
        .collect();
    let mut task_status: HashMap<i64, String> = HashMap::new();
    for t in rows_in(state, "jedi_tasks", "jeditaskid", &tasks).await? {
        if let Some(id) = int(&t, "jeditaskid") {
            task_status.insert(id, text(&t, "status"));
        }
    }
    // A step's progress is its task's: JEDI counts the input files as they finish, so the
    // graph moves while the workflow runs. Steps without a task keep iDDS's collection counts.
    let mut task_files: HashMap<i64, (i64, i64)> = HashMap::new();
    for d in rows_in(state, "jedi_datasets", "jeditaskid", &tasks).await? {
        if text(&d, "type") != "input" {
            continue;
        }
        if let Some(task) = int(&d, "jeditaskid") {
            let e = task_files.entry(task).or_default();
            e.0 += int(&d, "nfilesfinished").unwrap_or(0);
            e.1 += int(&d, "nfiles").unwrap_or(0);
        }
    }
    let index: HashMap<i64, usize> = transforms
        .iter()
        .enumerate()
        .filter_map(|(i, t)| int(t, "transform_id").map(|id| (id, i)))
        .collect();
    let declared = transforms.iter().filter_map(|t| {
        let parent = int(t, "parent_transform_id")?;
        Some((parent, int(t, "transform_id")?))
    });
    let through_data = reads
        .iter()
        .filter_map(|(name, t)| writer.get(name).map(|&w| (w, *t)));
    let mut pairs: Vec<(usize, usize)> = declared
        .chain(through_data)
        .filter_map(|(from, to)| Some((*index.get(&from)?, *index.get(&to)?)))
        .filter(|(a, b)| a != b)
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let (back, layer) = layers(transforms.len(), &pairs);
    let nodes = transforms
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let tid = int(t, "transform_id").unwrap_or(0);
            let task = int(t, "workload_id");
            let (done, total) = task
                .and_then(|k| task_files.get(&k))
                .or_else(|| input.get(&tid))
                .copied()
                .unwrap_or_default();
            let status = task
                .and_then(|k| task_status.get(&k).cloned())
                .unwrap_or_else(|| {
                    int(t, "status").map_or(String::new(), |s| request_status(s).to_lowercase())
                });
            DagNode {
                id: tid.to_string(),
                label: format!(
                    "{} {}",
                    text(t, "internal_id"),
                    task.map_or(String::new(), |k| k.to_string())
                )
                .trim()
                .to_string(),
                status,
                done,
                total,
                jeditaskid: task,
                layer: layer[i],
            }
        })
        .collect();
    let edges = pairs
        .iter()
        .zip(back)
        .map(|(&(a, b), cycle)| DagEdge {
            source: nodes_id(&transforms, a),
            target: nodes_id(&transforms, b),
            cycle,
        })
        .collect();
    Ok(DagJson {
        request_id,
        name: text(request, "name"),
        status: int(request, "status").map_or(String::new(), |s| request_status(s).to_string()),
        nodes,
        edges,
    })
}

fn nodes_id(transforms: &[Row], i: usize) -> String {
    int(&transforms[i], "transform_id").unwrap_or(0).to_string()
}

#[derive(Template)]
#[template(path = "idds_dag.html")]
struct DagPage<'a> {
    data: &'a DagJson,
    json_url: String,
    cycles: usize,
}

async fn dag_page(request: PageRequest) -> AppResult<Response> {
    let id = required_id(&request, "idds_request_id")?;
    let state = &request.state;
    request
        .answer(None, || async {
            let data = dag(state, id).await?;
            request.reply(&data, false, || {
                let page = DagPage {
                    json_url: url(
                        "/idds/daggraph/",
                        &[("idds_request_id", &id.to_string()), ("json", "1")],
                    ),
                    cycles: data.edges.iter().filter(|e| e.cycle).count(),
                    data: &data,
                };
                Ok(page.render()?)
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::layers;

    #[test]
    fn layers_follow_the_longest_path_and_cycles_are_cut() {
        // 0 -> 1 -> 2, 0 -> 2, 2 -> 3, and 3 -> 1 closes a cycle.
        let edges = [(0, 1), (1, 2), (0, 2), (2, 3), (3, 1)];
        let (back, layer) = layers(4, &edges);
        assert_eq!(back, [false, false, false, false, true]);
        assert_eq!(layer, [0, 1, 2, 3]);
        // A pure cycle terminates, with one edge marked.
        let (back, _) = layers(3, &[(0, 1), (1, 2), (2, 0)]);
        assert_eq!(back.iter().filter(|b| **b).count(), 1);
    }
}
