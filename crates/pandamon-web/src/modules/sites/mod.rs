//! The sites module: `/sites/` (every PanDA queue from `schedconfig_json` with its jobs by
//! status) and `/site/<queue>/` (one queue: its CRIC attributes and jobs).

use crate::kit::error::{AppError, AppResult};
use crate::kit::format::{cell_text, describe_window, human_count, order_statuses, status_rank};
use crate::kit::links::jobs_url;
use crate::kit::module::{Module, NavEntry, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::queues::QueueInfo;
use crate::kit::respond::{PageRequest, Reply};
use crate::kit::source::keyed_groups;
use crate::kit::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use pandamon_query::{Selection, fields};
use pandamon_store::catalog::ColType;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct Sites;

impl Module for Sites {
    fn name(&self) -> &'static str {
        "sites"
    }
    fn description(&self) -> &'static str {
        "PanDA queues from schedconfig_json with their jobs by status"
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/sites/",
                handler: get(list_sites),
                doc: RouteDoc {
                    summary: "every PanDA queue with its CRIC attributes and jobs by status in the window",
                    vocabulary: Some(&fields::JOBS),
                    params: &[],
                    response: schema::<Vec<SiteRow>>,
                    html: true,
                },
            },
            Route {
                path: "/site/{queue}/",
                handler: get(find_site),
                doc: RouteDoc {
                    summary: "one PanDA queue: its CRIC document and jobs by status",
                    vocabulary: Some(&fields::JOBS),
                    params: const {
                        &[Param::path(
                            "queue",
                            ParamType::Text,
                            "the PanDA queue name",
                        )]
                    },
                    response: schema::<SiteJson>,
                    html: true,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "sites",
            href: "/sites/",
            order: 500,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&fields::JOBS]
    }
}

/// One queue of `/sites/?json`: its attributes and jobs by status.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteRow {
    pub queue: String,
    pub site: String,
    pub cloud: String,
    pub tier: String,
    pub status: String,
    pub kind: String,
    pub resource: String,
    pub corecount: i64,
    pub corepower: f64,
    pub harvester: String,
    pub role: String,
    /// Jobs by status in the window.
    pub jobs: BTreeMap<String, i64>,
}

/// Jobs of one status.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobStatusCount {
    pub jobstatus: String,
    pub count: i64,
}

/// `/site/<queue>/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteJson {
    pub queue: QueueInfo,
    pub jobsummary: Vec<JobStatusCount>,
}

fn parse(request: &PageRequest, extra: &[(&str, String)]) -> AppResult<Selection> {
    request.selection(&fields::JOBS, 12, extra)
}

#[derive(Template)]
#[template(path = "sites.html")]
struct SitesPage {
    window: String,
    statuses: Vec<String>,
    rows: Vec<(QueueInfo, Vec<String>, String)>,
}

async fn list_sites(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let request = PageRequest::new(&state, "sites", params, &headers);
    let selection = parse(&request, &[])?;
    request
        .answer("sites", selection.window, || {
            sites(&state, &request, &selection)
        })
        .await
}

async fn sites(state: &AppState, request: &PageRequest, selection: &Selection) -> AppResult<Reply> {
    let queue_info = state.queues.get(&state.db).await?;
    let (rows, _) = keyed_groups(
        state,
        selection,
        &[
            ("computingsite", ColType::Varchar(128)),
            ("jobstatus", ColType::Varchar(15)),
        ],
    )
    .await?;
    let mut counts: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    let mut statuses = BTreeSet::new();
    for (keys, n) in rows {
        statuses.insert(keys[1].clone());
        *counts
            .entry(keys[0].clone())
            .or_default()
            .entry(keys[1].clone())
            .or_default() += n;
    }
    let statuses = order_statuses(&statuses);
    let data: Vec<SiteRow> = queue_info
        .values()
        .map(|q| SiteRow {
            queue: q.queue.clone(),
            site: q.site.clone(),
            cloud: q.cloud.clone(),
            tier: q.tier.clone(),
            status: q.status.clone(),
            kind: q.kind.clone(),
            resource: q.resource.clone(),
            corecount: q.corecount,
            corepower: q.corepower,
            harvester: q.harvester.clone(),
            role: q.role.clone(),
            jobs: counts.get(&q.queue).cloned().unwrap_or_default(),
        })
        .collect();
    request.reply(&data, false, || {
        let rows = queue_info
            .values()
            .map(|q| {
                let c = counts.get(&q.queue);
                let cells = statuses
                    .iter()
                    .map(|s| {
                        c.and_then(|c| c.get(s))
                            .copied()
                            .filter(|n| *n > 0)
                            .map(human_count)
                            .unwrap_or_default()
                    })
                    .collect();
                let total = human_count(c.map_or(0, |c| c.values().sum()));
                (q.clone(), cells, total)
            })
            .collect();
        let page = SitesPage {
            window: describe_window(selection),
            statuses,
            rows,
        };
        Ok(page.render()?)
    })
}

#[derive(Template)]
#[template(path = "site.html")]
struct SitePage {
    info: QueueInfo,
    window: String,
    summary: Vec<(String, String, String)>,
    attributes: Vec<(String, String)>,
}

async fn find_site(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let request = PageRequest::new(&state, "sites", params, &headers);
    let queue_info = state.queues.get(&state.db).await?;
    let info = queue_info
        .get(&queue)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("queue {queue}")))?;
    let selection = parse(&request, &[("computingsite", queue.clone())])?;
    request
        .answer(&format!("site {queue}"), selection.window, || async {
            let (rows, _) =
                keyed_groups(&state, &selection, &[("jobstatus", ColType::Varchar(15))]).await?;
            let mut summary: Vec<(String, i64)> =
                rows.into_iter().map(|(k, n)| (k[0].clone(), n)).collect();
            summary.sort_by_key(|(s, _)| status_rank(s));
            let data = SiteJson {
                queue: info,
                jobsummary: summary
                    .iter()
                    .map(|(s, n)| JobStatusCount {
                        jobstatus: s.clone(),
                        count: *n,
                    })
                    .collect(),
            };
            request.reply(&data, false, || {
                render_site(&queue, &selection, &summary, &data.queue)
            })
        })
        .await
}

fn render_site(
    queue: &str,
    selection: &Selection,
    summary: &[(String, i64)],
    info: &QueueInfo,
) -> AppResult<String> {
    let attributes = info
        .data
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), cell_text(v))).collect())
        .unwrap_or_default();
    let page = SitePage {
        window: describe_window(selection),
        summary: summary
            .iter()
            .map(|(s, n)| {
                (
                    s.clone(),
                    human_count(*n),
                    jobs_url(&[("computingsite", queue), ("jobstatus", s)]),
                )
            })
            .collect(),
        attributes,
        info: info.clone(),
    };
    Ok(page.render()?)
}
