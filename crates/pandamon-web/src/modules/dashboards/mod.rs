//! The dashboards module: `/dash/region/` (region → queue × job status, split by job type and
//! resource type), `/dash/es/` (the same for event-service jobs, split by their kind) and
//! `/dash/world/` (nucleus × satellite sites for production).

use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::JobStatusCount;
use crate::kit::format::{
    describe_window, failure_percent, human_count, order_statuses, percent_text,
};
use crate::kit::links::{encode_segment, jobs_url, link_with, set_param};
use crate::kit::module::{Module, NavEntry, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::source::{Source, keyed_groups};
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use pandamon_model::{event_service_name, job_type};
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
    fn tables(&self) -> &'static [&'static str] {
        &["schedconfig_json"]
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/dash/region/",
                handler: get(region_dashboard),
                doc: RouteDoc {
                    summary: "jobs by region, site and queue and status, split by job type and resource type",
                    vocabulary: Some(&fields::JOBS),
                    params: SPLITBY_PARAM,
                    response: schema::<RegionJson>,
                    html: true,
                },
            },
            Route {
                path: "/dash/es/",
                handler: get(es_dashboard),
                doc: RouteDoc {
                    summary: "event-service jobs by region, site and queue and status, split by kind of event-service job and resource type",
                    vocabulary: Some(&fields::JOBS),
                    params: SPLITBY_PARAM,
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
                label: "event service",
                href: "/dash/es/",
                order: 405,
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

const SPLITBY_PARAM: &[Param] = &[Param::query(
    "splitby",
    ParamType::Text,
    "split the HTML tables by `jobtype`, `resourcetype` or both (`jobtype,resourcetype`); the JSON always holds every split",
)];

fn parse(request: &PageRequest, extra: &[(&str, String)]) -> AppResult<Selection> {
    request.selection_except(&fields::JOBS, 12, extra, &["splitby"])
}

/// Which dimensions `splitby=` asks the HTML tables to split by: (job type, resource type).
fn parse_splitby(request: &PageRequest) -> AppResult<(bool, bool)> {
    let Some(text) = request.param("splitby") else {
        return Ok((false, false));
    };
    let (mut jobtype, mut resource) = (false, false);
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.to_ascii_lowercase().as_str() {
            "jobtype" => jobtype = true,
            "resourcetype" => resource = true,
            _ => {
                return Err(AppError::BadRequest(
                    "invalid value for parameter 'splitby': use jobtype, resourcetype or jobtype,resourcetype".into(),
                ));
            }
        }
    }
    Ok((jobtype, resource))
}

/// What the region tables split by besides resource type: bigmon's job type (from
/// `prodsourcelabel`) on `/dash/region/`, the kind of event-service job on `/dash/es/`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    JobType,
    EventService,
}

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Kind::JobType => "prodsourcelabel",
            Kind::EventService => "eventservice",
        }
    }
    fn name(self, value: &str) -> &'static str {
        match self {
            Kind::JobType => job_type(value),
            Kind::EventService => event_service_name(value.parse().ok()),
        }
    }
    /// The `/jobs/` parameter selecting jobs of one kind.
    fn param(self) -> &'static str {
        match self {
            Kind::JobType => "jobtype",
            Kind::EventService => "eventservice",
        }
    }
}

type Nested = BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, i64>>>>;

fn split_counts(nested: &Nested, statuses: &[String]) -> Split {
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

/// One row of a status table: a region, queue, nucleus or satellite (with a split, one per job
/// type and/or resource type), every count a link to its jobs.
pub struct StatusRow {
    pub name: String,
    /// Where the name leads: the row's jobs, or the queue's page.
    pub link: String,
    /// Per status: the count (empty for none) and its jobs.
    pub cells: Vec<(String, String)>,
    pub total: String,
    /// The row's jobs.
    pub jobs: String,
    /// The split values naming the row (job type, resource type).
    pub labels: Vec<String>,
    /// failed / (finished + failed), empty without completed jobs.
    pub failure: String,
    /// Above the configured failure rate.
    pub flagged: bool,
}

/// The rows of one region or nucleus, collapsed on the page unless one is flagged.
pub struct RowGroup {
    pub name: String,
    pub rows: Vec<StatusRow>,
    pub flagged: bool,
}

impl RowGroup {
    fn new(name: &str, rows: Vec<StatusRow>) -> RowGroup {
        RowGroup {
            name: name.to_string(),
            flagged: rows.iter().any(|r| r.flagged),
            rows,
        }
    }
}

/// The table's rows; `jobs(name, job type, resource type)` makes the `/jobs/` link of a row
/// (the split values are `None` where the table does not split), `page(name)` a page the name
/// leads to instead of the jobs, if any.
fn status_rows(
    nested: &Nested,
    statuses: &[String],
    (by_jobtype, by_resource): (bool, bool),
    limit: f64,
    jobs: impl Fn(&str, Option<&str>, Option<&str>) -> String,
    page: impl Fn(&str, Option<&str>, Option<&str>) -> Option<String>,
) -> Vec<StatusRow> {
    let mut rows = Vec::new();
    for (name, jobtypes) in nested {
        for (jobtype, resources) in jobtypes {
            if by_jobtype == (jobtype == "all") {
                continue;
            }
            for (resource, counts) in resources {
                if by_resource == (resource == "all") {
                    continue;
                }
                let jt = by_jobtype.then_some(jobtype.as_str());
                let rt = by_resource.then_some(resource.as_str());
                let jobs_link = jobs(name, jt, rt);
                let cells = statuses
                    .iter()
                    .map(|s| {
                        let text = counts
                            .get(s)
                            .copied()
                            .filter(|n| *n > 0)
                            .map(human_count)
                            .unwrap_or_default();
                        (text, set_param(&jobs_link, "jobstatus", s))
                    })
                    .collect();
                let total: i64 = counts.values().sum();
                let count = |s: &str| counts.get(s).copied().unwrap_or(0);
                let failure = failure_percent(count("finished"), count("failed"));
                rows.push(StatusRow {
                    name: name.clone(),
                    link: page(name, jt, rt).unwrap_or_else(|| jobs_link.clone()),
                    cells,
                    total: human_count(total),
                    jobs: jobs_link,
                    labels: jt.into_iter().chain(rt).map(str::to_string).collect(),
                    failure: percent_text(failure),
                    flagged: failure.is_some_and(|p| p > limit),
                });
            }
        }
    }
    rows
}

/// A `/jobs/` link for `(name_param=name)` of the page's selection, narrowed to a job kind and
/// resource type when the row is split by them.
fn split_link(
    params: &[(String, String)],
    kind: Kind,
    (name_param, name): (&str, &str),
    jobtype: Option<&str>,
    resource: Option<&str>,
) -> String {
    let mut params: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "splitby")
        .cloned()
        .collect();
    if let Some(jt) = jobtype {
        params.retain(|(k, _)| k != kind.param());
        params.push((kind.param().to_string(), jt.to_string()));
    } else if kind == Kind::EventService && !params.iter().any(|(k, _)| k == "eventservice") {
        // The page counts event-service jobs only; so do its links.
        params.push(("eventservice".to_string(), "all".to_string()));
    }
    if let Some(rt) = resource {
        params.retain(|(k, _)| k != "resourcetype" && k != "resource_type");
        params.push(("resourcetype".to_string(), rt.to_string()));
    }
    link_with(&params, name_param, name).replacen('?', "/jobs/?", 1)
}

#[derive(Template)]
#[template(path = "dash_region.html")]
struct RegionPage {
    title: String,
    /// What the profile calls a region (ATLAS: cloud).
    region_label: &'static str,
    /// The headers of the split columns (none without `splitby`).
    split_headers: Vec<&'static str>,
    /// `splitby` links: (label, href, current).
    split_choices: Vec<(&'static str, String, bool)>,
    window: String,
    statuses: Vec<String>,
    /// The failure rate above which rows are flagged, in percent.
    limit: f64,
    regions: Vec<StatusRow>,
    queues: Vec<RowGroup>,
}

async fn region_dashboard(request: PageRequest) -> AppResult<Response> {
    let selection = parse(&request, &[])?;
    let split = parse_splitby(&request)?;
    request
        .answer(&selection, || {
            region(&request, &selection, Kind::JobType, split)
        })
        .await
}

/// `/dash/es/`: the region dashboard of event-service jobs (all kinds unless the URL names
/// some with `eventservice=`), split by kind of event-service job.
async fn es_dashboard(request: PageRequest) -> AppResult<Response> {
    let extra = if request.param("eventservice").is_some() {
        Vec::new()
    } else {
        vec![("eventservice", "all".to_string())]
    };
    let selection = parse(&request, &extra)?;
    let split = parse_splitby(&request)?;
    request
        .answer(&selection, || {
            region(&request, &selection, Kind::EventService, split)
        })
        .await
}

async fn region(
    request: &PageRequest,
    selection: &Selection,
    kind: Kind,
    split: (bool, bool),
) -> AppResult<crate::kit::respond::Reply> {
    let state = &request.state;
    let params = &request.params;
    let queue_info = state.reference.queues(&state.db).await?;
    let (rows, source) = keyed_groups(
        state,
        selection,
        &["computingsite", "jobstatus", kind.column(), "resource_type"],
    )
    .await?;
    let mut regions = Nested::new();
    let mut sites = Nested::new();
    let mut queue_counts = Nested::new();
    let mut statuses = BTreeSet::new();
    let mut site_region: HashMap<String, String> = HashMap::new();
    for (keys, n) in &rows {
        let (queue, status, value, resource) = (&keys[0], &keys[1], &keys[2], &keys[3]);
        let info = queue_info.get(queue);
        let region = info.map_or("Not specified".to_string(), |q| q.cloud.clone());
        let site = info.map_or(queue.clone(), |q| q.site.clone());
        let jobtype = kind.name(value);
        statuses.insert(status.clone());
        add(&mut regions, &region, jobtype, resource, status, *n);
        add(&mut sites, &site, jobtype, resource, status, *n);
        add(&mut queue_counts, queue, jobtype, resource, status, *n);
        site_region.insert(queue.clone(), region);
    }
    let statuses = order_statuses(&statuses);
    let data = RegionJson {
        regions: split_counts(&regions, &statuses),
        sites: split_counts(&sites, &statuses),
        queues: split_counts(&queue_counts, &statuses),
    };
    request.reply(&data, source == Source::Index, || {
        render_region(
            RegionView {
                region_label: state.settings.labels.region,
                limit: state.settings.failure_percent(),
                kind,
                split,
                params,
                selection,
            },
            statuses,
            &regions,
            &queue_counts,
            &site_region,
        )
    })
}

/// How a region page is drawn: its labels, what it splits by, the URL it answers.
struct RegionView<'a> {
    region_label: &'static str,
    /// The failure rate above which a row is flagged, in percent.
    limit: f64,
    kind: Kind,
    split: (bool, bool),
    params: &'a [(String, String)],
    selection: &'a Selection,
}

fn render_region(
    view: RegionView<'_>,
    statuses: Vec<String>,
    regions: &Nested,
    queue_counts: &Nested,
    site_region: &HashMap<String, String>,
) -> AppResult<String> {
    let RegionView {
        region_label,
        limit,
        kind,
        split,
        params,
        selection,
    } = view;
    let region_rows = status_rows(
        regions,
        &statuses,
        split,
        limit,
        |r, jt, rt| split_link(params, kind, ("cloud", r), jt, rt),
        |_, _, _| None,
    );
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
            RowGroup::new(
                region,
                status_rows(
                    nested,
                    &statuses,
                    split,
                    limit,
                    |q, jt, rt| split_link(params, kind, ("computingsite", q), jt, rt),
                    |q, jt, rt| {
                        (kind == Kind::JobType && jt.is_none() && rt.is_none())
                            .then(|| format!("/site/{}/", encode_segment(q)))
                    },
                ),
            )
        })
        .collect();
    let kind_header = match kind {
        Kind::JobType => "job type",
        Kind::EventService => "event service",
    };
    let split_headers = [(split.0, kind_header), (split.1, "resource type")]
        .into_iter()
        .filter_map(|(on, h)| on.then_some(h))
        .collect();
    let split_choices = [
        ("no split", ""),
        ("job type", "jobtype"),
        ("resource type", "resourcetype"),
        ("both", "jobtype,resourcetype"),
    ]
    .into_iter()
    .map(|(label, value)| {
        let current = match value {
            "" => split == (false, false),
            "jobtype" => split == (true, false),
            "resourcetype" => split == (false, true),
            _ => split == (true, true),
        };
        let label = if value == "jobtype" {
            kind_header
        } else {
            label
        };
        (label, link_with(params, "splitby", value), current)
    })
    .collect();
    let page = RegionPage {
        title: match kind {
            Kind::JobType => format!("Jobs by {region_label}"),
            Kind::EventService => format!("Event-service jobs by {region_label}"),
        },
        split_headers,
        split_choices,
        region_label,
        window: describe_window(selection),
        statuses,
        limit,
        regions: region_rows,
        queues,
    };
    Ok(page.render()?)
}

#[derive(Template)]
#[template(path = "dash_world.html")]
struct WorldPage {
    window: String,
    limit: f64,
    statuses: Vec<String>,
    nuclei: Vec<StatusRow>,
    satellites: Vec<RowGroup>,
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
    let limit = state.settings.failure_percent();
    let html = || {
        let page = WorldPage {
            window: describe_window(selection),
            limit,
            nuclei: status_rows(
                &nuclei,
                &statuses,
                (false, false),
                limit,
                |n, _, _| link_with(params, "nucleus", n).replacen('?', "/jobs/?", 1),
                |_, _, _| None,
            ),
            satellites: satellites
                .iter()
                .map(|(nucleus, nested)| {
                    RowGroup::new(
                        nucleus,
                        status_rows(
                            nested,
                            &statuses,
                            (false, false),
                            limit,
                            |s, _, _| {
                                jobs_url(&[
                                    ("nucleus", nucleus),
                                    ("computingsite", &format!("{s}*")),
                                ])
                            },
                            |_, _, _| None,
                        ),
                    )
                })
                .collect(),
            statuses: statuses.clone(),
        };
        Ok(page.render()?)
    };
    request.reply(&data, false, html)
}
