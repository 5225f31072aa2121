//! The dashboards module: `/dash/region/` (region → queue × job status, split by job type and
//! resource type) and `/dash/world/` (nucleus × satellite sites for production).

use crate::kit::error::AppResult;
use crate::kit::facets::JobStatusCount;
use crate::kit::format::{describe_window, human_count, order_statuses};
use crate::kit::links::{encode_segment, jobs_url, link_with};
use crate::kit::module::{Module, NavEntry, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::source::{Source, keyed_groups};
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use pandamon_model::job_type;
use pandamon_query::{Selection, fields};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct Dashboards;

impl Module for Dashboards {
    fn name(&self) -> &'static str {
        "dashboards"
    }
    fn description(&self) -> &'static str {
        "region and world dashboards: jobs by region, site and queue, and by nucleus"
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/dash/region/",
                handler: get(region_dashboard),
                doc: RouteDoc {
                    summary: "jobs by region, site and queue and status, split by job type and resource type",
                    vocabulary: Some(&fields::JOBS),
                    params: &[],
                    response: schema::<RegionJson>,
                    html: true,
                },
            },
            Route {
                path: "/dash/world/",
                handler: get(world_dashboard),
                doc: RouteDoc {
                    summary: "production jobs by nucleus and satellite site",
                    vocabulary: Some(&fields::JOBS),
                    params: &[],
                    response: schema::<WorldJson>,
                    html: true,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![
            NavEntry {
                label: "regions",
                href: "/dash/region/",
                order: 400,
            },
            NavEntry {
                label: "world",
                href: "/dash/world/",
                order: 410,
            },
        ]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&fields::JOBS]
    }
}

/// name → job type → resource type → counts by status ("all" holds the totals).
pub type Split = BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<JobStatusCount>>>>;

/// `/dash/region/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RegionJson {
    pub regions: Split,
    pub sites: Split,
    pub queues: Split,
}

/// `/dash/world/?json`: bigmon's keys.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorldJson {
    /// nucleus → satellite site → status → jobs.
    pub nucleuses: BTreeMap<String, BTreeMap<String, BTreeMap<String, i64>>>,
    /// nucleus → status → jobs.
    pub nucleussummary: BTreeMap<String, BTreeMap<String, i64>>,
    pub statelist: Vec<String>,
    pub built: String,
}

fn parse(request: &PageRequest, extra: &[(&str, String)]) -> AppResult<Selection> {
    request.selection(&fields::JOBS, 12, extra)
}

type Nested = BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, i64>>>>;

fn split(nested: &Nested, statuses: &[String]) -> Split {
    nested
        .iter()
        .map(|(name, jobtypes)| {
            let jt = jobtypes
                .iter()
                .map(|(jobtype, rts)| {
                    let rt = rts
                        .iter()
                        .map(|(resource, counts)| {
                            let list = statuses
                                .iter()
                                .map(|s| JobStatusCount {
                                    jobstatus: s.clone(),
                                    count: counts.get(s).copied().unwrap_or(0),
                                })
                                .collect();
                            (resource.clone(), list)
                        })
                        .collect();
                    (jobtype.clone(), rt)
                })
                .collect();
            (name.clone(), jt)
        })
        .collect()
}

/// The "all × all" counts of each name.
fn totals(nested: &Nested) -> BTreeMap<String, BTreeMap<String, i64>> {
    nested
        .iter()
        .map(|(name, jt)| {
            let counts = jt
                .get("all")
                .and_then(|r| r.get("all"))
                .cloned()
                .unwrap_or_default();
            (name.clone(), counts)
        })
        .collect()
}

/// Counts `n` jobs under their job type and resource type, and under the "all" totals.
fn add(nested: &mut Nested, name: &str, jobtype: &str, resource: &str, status: &str, n: i64) {
    let jobtypes: &[&str] = if jobtype == "all" {
        &["all"]
    } else {
        &[jobtype, "all"]
    };
    let resources: &[&str] = if resource == "all" {
        &["all"]
    } else {
        &[resource, "all"]
    };
    for jt in jobtypes {
        for rt in resources {
            *nested
                .entry(name.to_string())
                .or_default()
                .entry(jt.to_string())
                .or_default()
                .entry(rt.to_string())
                .or_default()
                .entry(status.to_string())
                .or_default() += n;
        }
    }
}

/// Rows of a status table: (name, link, cells, total).
type StatusRows = Vec<(String, String, Vec<String>, String)>;

fn status_rows(nested: &Nested, statuses: &[String], link: impl Fn(&str) -> String) -> StatusRows {
    nested
        .iter()
        .map(|(name, jt)| {
            let counts = jt.get("all").and_then(|r| r.get("all"));
            let cells: Vec<String> = statuses
                .iter()
                .map(|s| {
                    counts
                        .and_then(|c| c.get(s))
                        .copied()
                        .filter(|n| *n > 0)
                        .map(human_count)
                        .unwrap_or_default()
                })
                .collect();
            let total: i64 = counts.map_or(0, |c| c.values().sum());
            (name.clone(), link(name), cells, human_count(total))
        })
        .collect()
}

#[derive(Template)]
#[template(path = "dash_region.html")]
struct RegionPage {
    /// What the profile calls a region (ATLAS: cloud).
    region_label: &'static str,
    window: String,
    statuses: Vec<String>,
    regions: StatusRows,
    queues: Vec<(String, StatusRows)>,
}

async fn region_dashboard(request: PageRequest) -> AppResult<Response> {
    let selection = parse(&request, &[])?;
    request
        .answer(&selection, || region(&request, &selection))
        .await
}

async fn region(
    request: &PageRequest,
    selection: &Selection,
) -> AppResult<crate::kit::respond::Reply> {
    let state = &request.state;
    let params = &request.params;
    let queue_info = state.reference.queues(&state.db).await?;
    let (rows, source) = keyed_groups(
        state,
        selection,
        &[
            "computingsite",
            "jobstatus",
            "prodsourcelabel",
            "resource_type",
        ],
    )
    .await?;
    let mut regions = Nested::new();
    let mut sites = Nested::new();
    let mut queue_counts = Nested::new();
    let mut statuses = BTreeSet::new();
    let mut site_region: HashMap<String, String> = HashMap::new();
    for (keys, n) in &rows {
        let (queue, status, label, resource) = (&keys[0], &keys[1], &keys[2], &keys[3]);
        let info = queue_info.get(queue);
        let region = info.map_or("Not specified".to_string(), |q| q.cloud.clone());
        let site = info.map_or(queue.clone(), |q| q.site.clone());
        let jobtype = job_type(label);
        statuses.insert(status.clone());
        add(&mut regions, &region, jobtype, resource, status, *n);
        add(&mut sites, &site, jobtype, resource, status, *n);
        add(&mut queue_counts, queue, jobtype, resource, status, *n);
        site_region.insert(queue.clone(), region);
    }
    let statuses = order_statuses(&statuses);
    let data = RegionJson {
        regions: split(&regions, &statuses),
        sites: split(&sites, &statuses),
        queues: split(&queue_counts, &statuses),
    };
    request.reply(&data, source == Source::Index, || {
        render_region(
            state.settings.labels.region,
            params,
            selection,
            statuses,
            &regions,
            &queue_counts,
            &site_region,
        )
    })
}

fn render_region(
    region_label: &'static str,
    params: &[(String, String)],
    selection: &Selection,
    statuses: Vec<String>,
    regions: &Nested,
    queue_counts: &Nested,
    site_region: &HashMap<String, String>,
) -> AppResult<String> {
    let region_rows = status_rows(regions, &statuses, |r| {
        link_with(params, "cloud", r).replacen('?', "/jobs/?", 1)
    });
    let mut by_region: BTreeMap<String, Nested> = BTreeMap::new();
    for (queue, counts) in queue_counts {
        let region = site_region.get(queue).cloned().unwrap_or_default();
        by_region
            .entry(region)
            .or_default()
            .insert(queue.clone(), counts.clone());
    }
    let queues = by_region
        .iter()
        .map(|(region, nested)| {
            (
                region.clone(),
                status_rows(nested, &statuses, |q| {
                    format!("/site/{}/", encode_segment(q))
                }),
            )
        })
        .collect();
    let page = RegionPage {
        region_label,
        window: describe_window(selection),
        statuses,
        regions: region_rows,
        queues,
    };
    Ok(page.render()?)
}

#[derive(Template)]
#[template(path = "dash_world.html")]
struct WorldPage {
    window: String,
    statuses: Vec<String>,
    nuclei: StatusRows,
    satellites: Vec<(String, StatusRows)>,
}

async fn world_dashboard(request: PageRequest) -> AppResult<Response> {
    let selection = parse(&request, &[("prodsourcelabel", "managed".to_string())])?;
    request
        .answer(&selection, || world(&request, &selection))
        .await
}

async fn world(
    request: &PageRequest,
    selection: &Selection,
) -> AppResult<crate::kit::respond::Reply> {
    let state = &request.state;
    let params = &request.params;
    let queue_info = state.reference.queues(&state.db).await?;
    let (rows, _) =
        keyed_groups(state, selection, &["nucleus", "computingsite", "jobstatus"]).await?;
    let mut nuclei = Nested::new();
    let mut satellites: BTreeMap<String, Nested> = BTreeMap::new();
    let mut statuses = BTreeSet::new();
    for (keys, n) in &rows {
        let (nucleus, queue, status) = (&keys[0], &keys[1], &keys[2]);
        let site = queue_info
            .get(queue)
            .map_or(queue.clone(), |q| q.site.clone());
        statuses.insert(status.clone());
        add(&mut nuclei, nucleus, "all", "all", status, *n);
        add(
            satellites.entry(nucleus.clone()).or_default(),
            &site,
            "all",
            "all",
            status,
            *n,
        );
    }
    let statuses = order_statuses(&statuses);
    let data = WorldJson {
        nucleuses: satellites
            .iter()
            .map(|(nucleus, nested)| (nucleus.clone(), totals(nested)))
            .collect(),
        nucleussummary: totals(&nuclei),
        statelist: statuses.clone(),
        built: Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
    };
    let html = || {
        let page = WorldPage {
            window: describe_window(selection),
            nuclei: status_rows(&nuclei, &statuses, |n| {
                link_with(params, "nucleus", n).replacen('?', "/jobs/?", 1)
            }),
            satellites: satellites
                .iter()
                .map(|(nucleus, nested)| {
                    (
                        nucleus.clone(),
                        status_rows(nested, &statuses, |s| {
                            jobs_url(&[("nucleus", nucleus), ("computingsite", &format!("{s}*"))])
                        }),
                    )
                })
                .collect(),
            statuses: statuses.clone(),
        };
        Ok(page.render()?)
    };
    request.reply(&data, false, html)
}
