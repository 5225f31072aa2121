//! The sites module: `/sites/` (every PanDA queue from `schedconfig_json` with its jobs by
//! status) and `/site/<queue>/` (one queue: its CRIC attributes and jobs).

use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{JobStatusCount, job_summary};
use crate::kit::format::{
    cell_text, describe_window, failure_percent, human_count, order_statuses, percent_text,
};
use crate::kit::links::{jobs_url, jobs_with};
use crate::kit::module::{Module, NavEntry, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::reference::{QueueAttributes, QueueInfo};
use crate::kit::respond::{PageRequest, Reply};
use crate::kit::source::keyed_groups;
use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use pandamon_query::{Selection, fields};
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
    fn tables(&self) -> &'static [&'static str] {
        &["schedconfig_json"]
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
    #[serde(flatten)]
    pub queue: QueueAttributes,
    /// Jobs by status in the window.
    pub jobs: BTreeMap<String, i64>,
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
    rows: Vec<SiteLine>,
    limit: f64,
}

/// One queue of `/sites/`: its attributes, its jobs by status (each a link), its failure rate.
struct SiteLine {
    info: QueueInfo,
    cells: Vec<(String, String)>,
    total: String,
    jobs: String,
    failure: String,
    flagged: bool,
}

async fn list_sites(request: PageRequest) -> AppResult<Response> {
    let selection = parse(&request, &[])?;
    request
        .answer(&selection, || sites(&request, &selection))
        .await
}

async fn sites(request: &PageRequest, selection: &Selection) -> AppResult<Reply> {
    let state = &request.state;
    let queue_info = state.reference.queues(&state.db).await?;
    let (rows, _) = keyed_groups(state, selection, &["computingsite", "jobstatus"]).await?;
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
            queue: q.attributes.clone(),
            jobs: counts.get(&q.queue).cloned().unwrap_or_default(),
        })
        .collect();
    let limit = state.settings.failure_percent();
    request.reply(&data, false, || {
        let params = &request.params;
        let rows = queue_info
            .values()
            .map(|q| {
                let c = counts.get(&q.queue);
                let count = |s: &str| c.and_then(|c| c.get(s)).copied().unwrap_or(0);
                let cells = statuses
                    .iter()
                    .map(|s| {
                        let n = count(s);
                        let text = if n > 0 { human_count(n) } else { String::new() };
                        let href =
                            jobs_with(params, &[("computingsite", &q.queue), ("jobstatus", s)]);
                        (text, href)
                    })
                    .collect();
                let failure = failure_percent(count("finished"), count("failed"));
                SiteLine {
                    info: q.clone(),
                    cells,
                    total: human_count(c.map_or(0, |c| c.values().sum())),
                    jobs: jobs_with(params, &[("computingsite", &q.queue)]),
                    failure: percent_text(failure),
                    flagged: failure.is_some_and(|p| p > limit),
                }
            })
            .collect();
        let page = SitesPage {
            window: describe_window(selection),
            statuses,
            rows,
            limit,
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

async fn find_site(Path(queue): Path<String>, request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let queue_info = state.reference.queues(&state.db).await?;
    let info = queue_info
        .get(&queue)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("queue {queue}")))?;
    let selection = parse(&request, &[("computingsite", queue.clone())])?;
    request
        .answer(&selection, || async {
            let (rows, _) = keyed_groups(state, &selection, &["jobstatus"]).await?;
            let data = SiteJson {
                queue: info,
                jobsummary: job_summary(rows.into_iter().map(|(k, n)| (k[0].clone(), n))),
            };
            request.reply(&data, false, || render_site(&queue, &selection, &data))
        })
        .await
}

fn render_site(queue: &str, selection: &Selection, data: &SiteJson) -> AppResult<String> {
    let info = &data.queue;
    let attributes = info
        .data
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), cell_text(v))).collect())
        .unwrap_or_default();
    let page = SitePage {
        window: describe_window(selection),
        summary: data
            .jobsummary
            .iter()
            .map(|s| {
                (
                    s.jobstatus.clone(),
                    human_count(s.count),
                    jobs_url(&[("computingsite", queue), ("jobstatus", &s.jobstatus)]),
                )
            })
            .collect(),
        attributes,
        info: info.clone(),
    };
    Ok(page.render()?)
}
