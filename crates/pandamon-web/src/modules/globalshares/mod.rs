//! The Global Shares module: the share tree (`global_shares`) with, per node, its target, the
//! HS06 it is pledged (the executing total times its target), executes and has queued; the
//! overview of actual against target per level and resource kind; the detail tables by site,
//! resource kind, resource type and job status, with bigmon's JSON endpoints for them; and the
//! share of every node over the last days.
//!
//! The actual HS06 comes from the jobs of `jobsactive4` (the live index when it holds them, the
//! database otherwise): `activated` jobs are queued, `sent`, `starting` and `running` ones
//! execute. `?source=jobs_share_stats` reads PanDA's own snapshot table as bigmon does.

mod pages;
mod tree;

use crate::kit::error::{AppError, AppResult};
use crate::kit::format::describe_window;
use crate::kit::links::{jobs_url, url_with};
use crate::kit::module::{Module, NavEntry, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::reference::Queues;
use crate::kit::respond::{PageRequest, parse_selection};
use crate::kit::source::{self, Source};
use crate::kit::state::AppState;
use axum::response::Response;
use axum::routing::get;
use pandamon_live::Span;
use pandamon_model::JobTable;
use pandamon_query::Selection;
use pandamon_query::fields::{self, Vocabulary};
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::{Cell, Summed};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use tree::{Share, ShareNode};

pub struct GlobalShares;

const NAME: &str = "globalshares";

/// Job statuses whose jobs wait for a slot.
const QUEUED: &[&str] = &["activated"];
/// Job statuses whose jobs hold a slot.
const EXECUTING: &[&str] = &["sent", "starting", "running"];

/// Parameters of the page that are not job filters.
const PAGE_PARAMS: &[&str] = &["source", "level", "resource", "share"];

/// Days of history the share-over-time chart shows.
const HISTORY_DAYS: i64 = 7;

impl Module for GlobalShares {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "Global Shares: the share tree with target, pledged, executing and queued HS06, by site, resource kind and type, and over time"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["global_shares", "jobs_share_stats", "schedconfig_json"]
    }
    fn routes(&self) -> Vec<Route> {
        let page_params = const {
            &[
                Param::query(
                    "source",
                    ParamType::Text,
                    "jobs (default: the jobs of jobsactive4) or jobs_share_stats (PanDA's snapshot table)",
                ),
                Param::query(
                    "level",
                    ParamType::Integer,
                    "the level of the tree the overview compares (1 to 3, default the deepest)",
                ),
                Param::query(
                    "resource",
                    ParamType::Text,
                    "only queues of this resource kind (GRID, hpc, cloud, ...; the queue's resource_type)",
                ),
                Param::query(
                    "share",
                    ParamType::Text,
                    "the share whose history the timeline shows (default: every top-level share)",
                ),
            ]
        };
        let detail = |path: &'static str, summary: &'static str, handler| Route {
            path,
            handler,
            doc: RouteDoc {
                summary,
                vocabulary: Some(&fields::JOBS),
                params: &[],
                response: schema::<DataTable>,
                html: false,
            },
        };
        vec![
            Route {
                path: "/globalshares/",
                handler: get(overview),
                doc: RouteDoc {
                    summary: "the Global Shares tree: per share its target, pledged, executing and queued HS06, delta and % used, per resource type; the overview of actual against target; the detail tables; the last days",
                    vocabulary: Some(&fields::JOBS),
                    params: page_params,
                    response: schema::<GlobalSharesJson>,
                    html: true,
                },
            },
            detail(
                "/datatable/data/detailedInformationJSON",
                "jobs and HS06 by share, core count and status group (scheduled, running, finishing) over jobsdefined4 and jobsactive4",
                get(detailed_information),
            ),
            detail(
                "/datatable/data/sharesDistributionJSON",
                "jobs and HS06 by share and site over jobsactive4",
                get(shares_distribution),
            ),
            detail(
                "/datatable/data/resourcesType",
                "jobs and HS06 by share and resource kind of the queue over jobsactive4",
                get(resources_type),
            ),
            detail(
                "/datatable/data/coreTypes",
                "jobs and HS06 by share and resource type (single/multi core, high memory) over jobsactive4",
                get(core_types),
            ),
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "global shares",
            href: "/globalshares/",
            order: 600,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static Vocabulary> {
        vec![&fields::JOBS]
    }
}

/// HS06 and jobs of one status group.
#[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Load {
    pub executing: i64,
    pub queued: i64,
    pub executing_jobs: i64,
    pub queued_jobs: i64,
}

impl Load {
    fn add(&mut self, other: &Load) {
        self.executing += other.executing;
        self.queued += other.queued;
        self.executing_jobs += other.executing_jobs;
        self.queued_jobs += other.queued_jobs;
    }
}

/// `/globalshares/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GlobalSharesJson {
    /// The tree: top-level shares with their children.
    pub shares: Vec<ShareNode>,
    /// Over every share.
    pub totals: Load,
    /// Jobs whose share is not in the tree, by share name.
    pub unassigned: BTreeMap<String, Load>,
    /// `index` or `database` (the jobs), or `jobs_share_stats`.
    pub source: String,
    pub window: String,
    /// The resource kind the figures are limited to, if any.
    pub resource: Option<String>,
    /// Every resource kind of the queues.
    pub resources: Vec<String>,
    /// The level of the overview.
    pub level: usize,
    /// Actual against target for the shares of that level.
    #[serde(rename = "gsPlotData")]
    pub plot: Vec<PlotPoint>,
    /// Executing HS06 by resource kind, resource type and site, and jobs by share and status.
    pub details: Details,
    /// Share of the executing HS06 over the last days, when the live index holds the jobs.
    pub history: Option<History>,
}

/// One share in the overview.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlotPoint {
    pub name: String,
    /// Target share, % of the whole.
    pub target: f64,
    /// Actual share of the executing HS06, %.
    pub actual: f64,
}

/// The detail tables of the page.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Details {
    /// Resource kind → top-level share → load.
    pub resource_kinds: BTreeMap<String, BTreeMap<String, Load>>,
    /// Resource type → top-level share → load.
    pub resource_types: BTreeMap<String, BTreeMap<String, Load>>,
    /// Site → top-level share → load.
    pub sites: BTreeMap<String, BTreeMap<String, Load>>,
    /// Leaf share → job status → jobs.
    pub statuses: BTreeMap<String, BTreeMap<String, i64>>,
}

/// The executing HS06 of shares over time.
#[derive(Debug, Serialize, JsonSchema)]
pub struct History {
    /// Bin starts, unix seconds.
    pub bins: Vec<i64>,
    pub bin_seconds: i64,
    /// The executing HS06 of every share, averaged over each bin.
    pub total: Vec<f64>,
    pub series: Vec<HistorySeries>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistorySeries {
    pub name: String,
    pub target: f64,
    /// % of the executing HS06 of all shares, per bin.
    pub actual: Vec<f64>,
}

/// A DataTables answer: `{"data": [rows]}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DataTable {
    pub data: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// One group of jobs: its share, status, resource type, site and core count, with jobs and HS06.
#[derive(Debug, Clone)]
struct JobGroup {
    gshare: String,
    status: String,
    resource_type: String,
    site: String,
    corecount: Option<i64>,
    jobs: i64,
    hs06: i64,
}

fn text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.trim_end().to_string(),
        Cell::Int(v) => v.to_string(),
        _ => "Not specified".to_string(),
    }
}

/// The request's job selection (without the page's own parameters): the jobs modified in the
/// last week unless the URL says otherwise.
fn job_selection(request: &PageRequest) -> AppResult<Selection> {
    let params: Vec<(String, String)> = request
        .params
        .iter()
        .filter(|(k, _)| !PAGE_PARAMS.contains(&k.as_str()))
        .cloned()
        .collect();
    parse_selection(&params, &[], &fields::JOBS, HISTORY_DAYS * 24)
}

/// The jobs of `tables` grouped by share, status, resource type, site and core count.
async fn job_groups(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
) -> AppResult<(Vec<JobGroup>, Source)> {
    let columns = [
        ("gshare", ColType::Text),
        ("jobstatus", ColType::Text),
        ("resource_type", ColType::Text),
        ("computingsite", ColType::Text),
        ("corecount", ColType::Int),
    ];
    let (groups, source) =
        source::group_sums(state, selection, tables, &columns, &["hs06"]).await?;
    Ok((groups.iter().map(job_group).collect(), source))
}

fn job_group(g: &Summed) -> JobGroup {
    JobGroup {
        gshare: text(&g.values[0]),
        status: text(&g.values[1]),
        resource_type: text(&g.values[2]),
        site: text(&g.values[3]),
        corecount: g.values.get(4).and_then(Cell::as_int),
        jobs: g.count,
        hs06: g.sums.first().copied().unwrap_or(0),
    }
}

/// PanDA's snapshot as bigmon reads it: HS06 and jobs by share, status, resource type, site.
async fn share_stats_groups(state: &AppState, selection: &Selection) -> AppResult<Vec<JobGroup>> {
    let columns = [
        ("gshare", ColType::Text),
        ("jobstatus", ColType::Text),
        ("resource_type", ColType::Text),
        ("computingsite", ColType::Text),
    ];
    let groups = state
        .db
        .group_sums(&["jobs_share_stats"], &columns, &["hs", "njobs"], selection)
        .await?;
    Ok(groups
        .iter()
        .map(|g| JobGroup {
            gshare: text(&g.values[0]),
            status: text(&g.values[1]),
            resource_type: text(&g.values[2]),
            site: text(&g.values[3]),
            corecount: None,
            jobs: g.sums.get(1).copied().unwrap_or(0),
            hs06: g.sums.first().copied().unwrap_or(0),
        })
        .collect())
}

/// The load a group adds: its HS06 and jobs as executing or queued, or nothing.
fn load_of(g: &JobGroup) -> Load {
    if EXECUTING.contains(&g.status.as_str()) {
        Load {
            executing: g.hs06,
            executing_jobs: g.jobs,
            ..Load::default()
        }
    } else if QUEUED.contains(&g.status.as_str()) {
        Load {
            queued: g.hs06,
            queued_jobs: g.jobs,
            ..Load::default()
        }
    } else {
        Load::default()
    }
}

fn resource_kind(queues: &Queues, site: &str) -> String {
    queues
        .get(site)
        .map(|q| q.resource.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The share tree as `global_shares` holds it.
async fn shares(state: &AppState) -> AppResult<Vec<Share>> {
    let rows = state
        .db
        .rows_matching("global_shares", &[], Some("name"), 10_000)
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let get = |name: &str| row.iter().find(|(c, _)| c == name).map(|(_, v)| v);
            Share {
                name: get("name").map(text).unwrap_or_default(),
                parent: get("parent").filter(|c| !matches!(c, Cell::Null)).map(text),
                value: match get("value") {
                    Some(Cell::Int(v)) => *v as f64,
                    Some(Cell::Float(v)) => *v,
                    _ => 0.0,
                },
            }
        })
        .collect())
}

/// The page's source: the jobs, or PanDA's snapshot table.
fn wants_share_stats(request: &PageRequest) -> AppResult<bool> {
    match request.param("source") {
        None | Some("" | "jobs") => Ok(false),
        Some("jobs_share_stats") => Ok(true),
        Some(other) => Err(AppError::BadRequest(format!(
            "parameter 'source': '{other}' is not a source; use jobs or jobs_share_stats"
        ))),
    }
}

async fn overview(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let selection = job_selection(&request)?;
    let share_stats = wants_share_stats(&request)?;
    let filtered = selection.conds.len() > usize::from(selection.window.is_some());
    if share_stats && filtered {
        return Err(AppError::BadRequest(
            "parameter 'source': jobs_share_stats is one snapshot of every share and cannot be filtered; drop the job filters or use source=jobs".to_string(),
        ));
    }
    let level = match request.param("level") {
        None | Some("") => None,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n @ 1..=3) => Some(n),
            _ => {
                return Err(AppError::BadRequest(format!(
                    "parameter 'level': '{v}' is not a level; use 1, 2 or 3"
                )));
            }
        },
    };
    let resource = request
        .param("resource")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let share = request
        .param("share")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    request
        .answer(&selection, || async {
            let (groups, source) = if share_stats {
                let all = Selection {
                    conds: Vec::new(),
                    window: None,
                    ..selection.clone()
                };
                (
                    share_stats_groups(state, &all).await?,
                    "jobs_share_stats".to_string(),
                )
            } else {
                let (groups, source) = job_groups(state, &selection, &[JobTable::Active]).await?;
                (groups, source_name(source))
            };
            let queues = state.reference.queues(&state.db).await?;
            let shares = shares(state).await?;
            let mut data = build(
                &shares,
                &groups,
                &queues,
                resource.as_deref(),
                level,
                &selection,
            );
            data.source = source;
            if !share_stats {
                data.history = history(state, &selection, &shares, share.as_deref())?;
            }
            let from_index = data.source == "index";
            request.reply(&data, from_index, || {
                pages::overview(&request.params, &data, share.as_deref())
            })
        })
        .await
}

fn source_name(source: Source) -> String {
    match source {
        Source::Index => "index",
        Source::Database => "database",
    }
    .to_string()
}

/// Everything of the page but its source and history.
fn build(
    shares: &[Share],
    groups: &[JobGroup],
    queues: &Queues,
    resource: Option<&str>,
    level: Option<usize>,
    selection: &Selection,
) -> GlobalSharesJson {
    let mut resources: Vec<String> = queues
        .keys()
        .map(|q| resource_kind(queues, q))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    resources.retain(|r| r != "unknown");
    let kept: Vec<&JobGroup> = groups
        .iter()
        .filter(|g| resource.is_none_or(|r| resource_kind(queues, &g.site) == r))
        .collect();
    // Per share name: its load, and per resource type.
    let mut by_share: BTreeMap<String, (Load, BTreeMap<String, Load>)> = BTreeMap::new();
    let mut details = Details {
        resource_kinds: BTreeMap::new(),
        resource_types: BTreeMap::new(),
        sites: BTreeMap::new(),
        statuses: BTreeMap::new(),
    };
    let roots = tree::roots_of(shares);
    for g in &kept {
        let load = load_of(g);
        let entry = by_share.entry(g.gshare.clone()).or_default();
        entry.0.add(&load);
        entry
            .1
            .entry(g.resource_type.clone())
            .or_default()
            .add(&load);
        let root = roots
            .get(&g.gshare)
            .cloned()
            .unwrap_or_else(|| g.gshare.clone());
        for (table, key) in [
            (&mut details.resource_kinds, resource_kind(queues, &g.site)),
            (&mut details.resource_types, g.resource_type.clone()),
            (&mut details.sites, g.site.clone()),
        ] {
            table
                .entry(key)
                .or_default()
                .entry(root.clone())
                .or_default()
                .add(&load);
        }
        *details
            .statuses
            .entry(g.gshare.clone())
            .or_default()
            .entry(g.status.clone())
            .or_default() += g.jobs;
    }
    let mut totals = Load::default();
    for (load, _) in by_share.values() {
        totals.add(load);
    }
    let window = window_params(selection);
    let nodes = tree::build(shares, &by_share, totals.executing, &|leaves, statuses| {
        jobs_link(leaves, statuses, &window)
    });
    let known = tree::names(&nodes);
    let unassigned = by_share
        .iter()
        .filter(|(name, _)| !known.contains(name.as_str()))
        .map(|(name, (load, _))| (name.clone(), *load))
        .collect();
    let deepest = tree::depth(&nodes);
    let level = level.unwrap_or(deepest).min(deepest.max(1));
    let plot = tree::at_level(&nodes, level)
        .into_iter()
        .map(|n| PlotPoint {
            name: n.name.clone(),
            target: round1(n.target),
            actual: if totals.executing > 0 {
                round1(100.0 * n.load.executing as f64 / totals.executing as f64)
            } else {
                0.0
            },
        })
        .collect();
    GlobalSharesJson {
        shares: nodes,
        totals,
        unassigned,
        source: String::new(),
        window: describe_window(selection),
        resource: resource.map(str::to_string),
        resources,
        level,
        plot,
        details,
        history: None,
    }
}

/// The window parameters of a selection, for links to the jobs it counts.
fn window_params(selection: &Selection) -> Vec<(String, String)> {
    match selection.window {
        Some((from, to)) => {
            let hours = ((to - from) + 3_599) / 3_600;
            vec![("hours".to_string(), hours.to_string())]
        }
        None => Vec::new(),
    }
}

fn jobs_link(leaves: &[&str], statuses: &[&str], window: &[(String, String)]) -> String {
    let gshare = leaves.join("|");
    let status = statuses.join("|");
    let mut pairs: Vec<(&str, &str)> = vec![("gshare", &gshare)];
    if !statuses.is_empty() {
        pairs.push(("jobstatus", &status));
    }
    pairs.extend(window.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    jobs_url(&pairs)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The executing HS06 of each top-level share (or of `share`) per hour of the last days, as
/// a % of all shares, from the live index; `None` when the index does not hold those jobs.
fn history(
    state: &AppState,
    selection: &Selection,
    shares: &[Share],
    share: Option<&str>,
) -> AppResult<Option<History>> {
    let now = selection.now;
    let bin = 3_600;
    let bins = (HISTORY_DAYS * 24) as usize;
    let from = (now - HISTORY_DAYS * 86_400).div_euclid(bin) * bin + bin;
    let span = Span {
        from,
        bin,
        bins,
        now,
    };
    // Jobs that ran in the span were modified in it; the URL's filters but not its window apply.
    let mut within = selection.with_window("modificationtime", Some((from, now)));
    within.window = Some((from, now));
    let Some(live) = state.index.as_ref() else {
        return Ok(None);
    };
    if !source::on_index(state, &within) {
        return Ok(None);
    }
    let Ok(index) = live.index.read() else {
        return Ok(None);
    };
    let series = index.occupancy(&within, &JobTable::ALL, "gshare", "hs06", span);
    drop(index);
    let mut total = vec![0.0; bins];
    let mut per_share: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (cell, values) in series {
        for (t, v) in total.iter_mut().zip(&values) {
            *t += v;
        }
        per_share.insert(text(&cell), values);
    }
    let nodes = tree::build(shares, &BTreeMap::new(), 0, &|_, _| String::new());
    let picked: Vec<&ShareNode> = match share {
        Some(name) => tree::find(&nodes, name).into_iter().collect(),
        None => nodes.iter().collect(),
    };
    if let (Some(name), true) = (share, picked.is_empty()) {
        return Err(AppError::BadRequest(format!(
            "parameter 'share': no share is named '{name}'"
        )));
    }
    let series = picked
        .into_iter()
        .map(|node| {
            let leaves = node.leaves();
            let actual = (0..bins)
                .map(|i| {
                    let mine: f64 = leaves
                        .iter()
                        .filter_map(|l| per_share.get(*l))
                        .map(|s| s[i])
                        .sum();
                    if total[i] > 0.0 {
                        round1(100.0 * mine / total[i])
                    } else {
                        0.0
                    }
                })
                .collect();
            HistorySeries {
                name: node.name.clone(),
                target: round1(node.target),
                actual,
            }
        })
        .collect();
    Ok(Some(History {
        bins: (0..bins).map(|i| from + i as i64 * bin).collect(),
        bin_seconds: bin,
        total: total.iter().map(|t| t.round()).collect(),
        series,
    }))
}

/// A detail endpoint: rows of `keys` with jobs and HS06 by status group.
async fn detail_rows(
    request: &PageRequest,
    tables: &[JobTable],
    key: fn(&JobGroup, &Queues) -> Vec<(&'static str, serde_json::Value)>,
) -> AppResult<Response> {
    let state = &request.state;
    let selection = job_selection(request)?;
    request
        .answer(&selection, || async {
            let (groups, source) = job_groups(state, &selection, tables).await?;
            let queues = state.reference.queues(&state.db).await?;
            let mut rows: BTreeMap<String, serde_json::Map<String, serde_json::Value>> =
                BTreeMap::new();
            for g in &groups {
                let keys = key(g, &queues);
                let id = serde_json::to_string(&keys).unwrap_or_default();
                let row = rows.entry(id).or_insert_with(|| {
                    let mut row: serde_json::Map<String, serde_json::Value> = keys
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect();
                    for group in STATUS_GROUPS.iter().map(|(name, _)| name) {
                        row.insert(format!("{group}_jobs"), 0.into());
                        row.insert(format!("{group}_hs06"), 0.into());
                    }
                    row
                });
                if let Some((group, _)) = STATUS_GROUPS
                    .iter()
                    .find(|(_, statuses)| statuses.contains(&g.status.as_str()))
                {
                    for (suffix, add) in [("jobs", g.jobs), ("hs06", g.hs06)] {
                        let k = format!("{group}_{suffix}");
                        let now = row.get(&k).and_then(serde_json::Value::as_i64).unwrap_or(0);
                        row.insert(k, (now + add).into());
                    }
                }
            }
            let data = DataTable {
                data: rows.into_values().collect(),
            };
            request.reply_json(&data, source == Source::Index)
        })
        .await
}

/// bigmon's status groups of the detail tables.
const STATUS_GROUPS: &[(&str, &[&str])] = &[
    (
        "scheduled",
        &[
            "pending",
            "defined",
            "assigned",
            "waiting",
            "throttled",
            "activated",
        ],
    ),
    ("running", &["sent", "starting", "running"]),
    ("finishing", &["holding", "merging", "transferring"]),
];

async fn detailed_information(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    detail_rows(&request, &[JobTable::Defined, JobTable::Active], |g, _| {
        vec![
            ("gshare", g.gshare.clone().into()),
            ("corecount", g.corecount.into()),
        ]
    })
    .await
}

async fn shares_distribution(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    detail_rows(&request, &[JobTable::Active], |g, _| {
        vec![
            ("gshare", g.gshare.clone().into()),
            ("computingsite", g.site.clone().into()),
        ]
    })
    .await
}

async fn resources_type(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    detail_rows(&request, &[JobTable::Active], |g, queues| {
        vec![
            ("gshare", g.gshare.clone().into()),
            ("resource", resource_kind(queues, &g.site).into()),
        ]
    })
    .await
}

async fn core_types(request: PageRequest) -> AppResult<Response> {
    let request = request.into_api();
    detail_rows(&request, &[JobTable::Active], |g, _| {
        vec![
            ("gshare", g.gshare.clone().into()),
            ("resource_type", g.resource_type.clone().into()),
        ]
    })
    .await
}

/// `/globalshares/` with the request's parameters and `set` (an empty value removes one).
fn page_url(params: &[(String, String)], set: &[(&str, &str)]) -> String {
    url_with("/globalshares/", params, set)
}
