//! The Global Shares page: the overview chart, the tree table, the share over time and the
//! detail tables. Every figure of jobs links to those jobs.

use super::tree::{ShareNode, flatten};
use super::{GlobalSharesJson, Load, page_url};
use crate::kit::error::AppResult;
use crate::kit::format::human_count;
use crate::kit::links::jobs_url;
use askama::Template;
use serde_json::json;
use std::collections::BTreeMap;

/// A table cell and its link.
type Cell = (String, Option<String>);

/// A row of the tree table.
struct TreeRow {
    name: String,
    /// Indentation level: 1 for top-level shares; resource-type rows sit one below their leaf.
    level: usize,
    /// A resource-type row of a leaf.
    resource_row: bool,
    target: String,
    pledged: String,
    executing: String,
    queued: String,
    delta: String,
    used: String,
    /// `bad` when a share gets less than half of what it is pledged.
    used_class: &'static str,
    executing_jobs: (String, String),
    queued_jobs: (String, String),
}

/// A detail table: the first column, then one per top-level share, then totals.
struct DetailTable {
    id: &'static str,
    title: &'static str,
    key: &'static str,
    columns: Vec<String>,
    rows: Vec<(String, Option<String>, Vec<String>)>,
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "globalshares.html")]
struct Page<'a> {
    data: &'a GlobalSharesJson,
    source_note: &'static str,
    other_source: (String, &'static str),
    kinds: Vec<(String, String, bool)>,
    levels: Vec<(usize, String, bool)>,
    overview: String,
    history: Option<String>,
    history_choices: Vec<(String, String, bool)>,
    rows: Vec<TreeRow>,
    totals: TreeRow,
    details: Vec<DetailTable>,
    statuses: Vec<String>,
    status_rows: Vec<(String, Vec<Cell>)>,
    unassigned: Vec<(String, String)>,
}

fn hs(n: i64) -> String {
    human_count(n)
}

fn tree_row(node: &ShareNode) -> TreeRow {
    let used_class = match node.used {
        Some(u) if u < 50.0 => "bad",
        Some(u) if u > 150.0 => "warn",
        _ => "",
    };
    TreeRow {
        name: node.name.clone(),
        level: node.level,
        resource_row: false,
        target: format!("{:.2}", node.target),
        pledged: hs(node.pledged),
        executing: hs(node.load.executing),
        queued: hs(node.load.queued),
        delta: if node.delta > 0 {
            format!("+{}", hs(node.delta))
        } else {
            hs(node.delta)
        },
        used: node.used.map(|u| format!("{u:.1}")).unwrap_or_default(),
        used_class,
        executing_jobs: (
            human_count(node.load.executing_jobs),
            node.links.executing.clone(),
        ),
        queued_jobs: (
            human_count(node.load.queued_jobs),
            node.links.queued.clone(),
        ),
    }
}

fn resource_row(node: &ShareNode, rt: &str, load: &Load) -> TreeRow {
    let leaves = node.leaves().join("|");
    let link = |statuses: &[&str]| {
        let status = statuses.join("|");
        jobs_url(&[
            ("gshare", &leaves),
            ("resourcetype", rt),
            ("jobstatus", &status),
        ])
    };
    TreeRow {
        name: rt.to_string(),
        level: node.level + 1,
        resource_row: true,
        target: String::new(),
        pledged: String::new(),
        executing: hs(load.executing),
        queued: hs(load.queued),
        delta: String::new(),
        used: String::new(),
        used_class: "",
        executing_jobs: (human_count(load.executing_jobs), link(super::EXECUTING)),
        queued_jobs: (human_count(load.queued_jobs), link(super::QUEUED)),
    }
}

/// A detail table of executing HS06 by key and top-level share (the largest `limit` keys).
fn detail(
    id: &'static str,
    title: &'static str,
    key: &'static str,
    table: &BTreeMap<String, BTreeMap<String, Load>>,
    tops: &[String],
    link: impl Fn(&str) -> Option<String>,
    limit: usize,
) -> DetailTable {
    let mut keyed: Vec<(&String, Load)> = table
        .iter()
        .map(|(k, by_share)| {
            let mut total = Load::default();
            for l in by_share.values() {
                total.add(l);
            }
            (k, total)
        })
        .collect();
    keyed.sort_by(|a, b| b.1.executing.cmp(&a.1.executing).then(a.0.cmp(b.0)));
    let shown = keyed.len().min(limit);
    let note = (keyed.len() > shown).then(|| {
        format!(
            "The {shown} largest of {} by executing HS06; the JSON has them all.",
            keyed.len()
        )
    });
    let mut columns: Vec<String> = tops.iter().map(|t| format!("{t} HS06")).collect();
    columns.extend(
        [
            "executing HS06",
            "queued HS06",
            "running jobs",
            "queued jobs",
        ]
        .map(String::from),
    );
    let rows = keyed
        .into_iter()
        .take(limit)
        .map(|(k, total)| {
            let mut cells: Vec<String> = tops
                .iter()
                .map(|t| hs(table[k].get(t).map_or(0, |l| l.executing)))
                .collect();
            cells.extend([
                hs(total.executing),
                hs(total.queued),
                human_count(total.executing_jobs),
                human_count(total.queued_jobs),
            ]);
            (k.clone(), link(k), cells)
        })
        .collect();
    DetailTable {
        id,
        title,
        key,
        columns,
        rows,
        note,
    }
}

/// `/globalshares/`.
pub fn overview(
    params: &[(String, String)],
    data: &GlobalSharesJson,
    share: Option<&str>,
) -> AppResult<String> {
    let (source_note, other_source) = match data.source.as_str() {
        "jobs_share_stats" => (
            "from PanDA's jobs_share_stats snapshot, as bigmon reads it",
            (page_url(params, &[("source", "")]), "the jobs themselves"),
        ),
        "index" => (
            "from the jobs of jobsactive4 in the live index (seconds fresh)",
            (
                page_url(params, &[("source", "jobs_share_stats")]),
                "PanDA's jobs_share_stats snapshot",
            ),
        ),
        _ => (
            "from the jobs of jobsactive4 in the database",
            (
                page_url(params, &[("source", "jobs_share_stats")]),
                "PanDA's jobs_share_stats snapshot",
            ),
        ),
    };
    let mut kinds = vec![(
        "all kinds".to_string(),
        page_url(params, &[("resource", "")]),
        data.resource.is_none(),
    )];
    kinds.extend(data.resources.iter().map(|r| {
        (
            r.clone(),
            page_url(params, &[("resource", r)]),
            data.resource.as_deref() == Some(r.as_str()),
        )
    }));
    let deepest = super::tree::depth(&data.shares);
    let levels = (1..=deepest)
        .map(|l| {
            (
                l,
                page_url(params, &[("level", &l.to_string())]),
                l == data.level,
            )
        })
        .collect();
    let overview = json!({
        "type": "bar",
        "grouped": true,
        "wide": true,
        "title": format!(
            "Actual against target share, level {}{}",
            data.level,
            data.resource.as_ref().map(|r| format!(", {r} queues")).unwrap_or_default()
        ),
        "categories": data.plot.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "series": [
            {"name": "target %", "data": data.plot.iter().map(|p| p.target).collect::<Vec<_>>()},
            {"name": "actual %", "data": data.plot.iter().map(|p| p.actual).collect::<Vec<_>>()},
        ],
        "links": data.plot.iter().map(|p| page_url(params, &[("share", &p.name)])).collect::<Vec<_>>(),
    })
    .to_string();
    let history = data.history.as_ref().map(|h| {
        let mut series = Vec::new();
        for s in &h.series {
            series.push(json!({
                "name": format!("{} actual %", s.name),
                "data": h.bins.iter().zip(&s.actual).map(|(t, v)| json!([t * 1000, v])).collect::<Vec<_>>(),
            }));
            series.push(json!({
                "name": format!("{} target %", s.name),
                "dashed": true,
                "data": h.bins.iter().map(|t| json!([t * 1000, s.target])).collect::<Vec<_>>(),
            }));
        }
        json!({
            "type": "lines",
            "wide": true,
            "title": format!("Share of the executing HS06, hourly, last {} days", super::HISTORY_DAYS),
            "series": series,
        })
        .to_string()
    });
    let mut history_choices = vec![(
        "top-level shares".to_string(),
        page_url(params, &[("share", "")]),
        share.is_none(),
    )];
    history_choices.extend(flatten(&data.shares).iter().map(|n| {
        (
            n.name.clone(),
            page_url(params, &[("share", &n.name)]),
            share == Some(n.name.as_str()),
        )
    }));
    let mut rows = Vec::new();
    for node in flatten(&data.shares) {
        rows.push(tree_row(node));
        if node.children.is_empty() {
            for (rt, load) in &node.resourcetypes {
                if load.executing_jobs + load.queued_jobs > 0 {
                    rows.push(resource_row(node, rt, load));
                }
            }
        }
    }
    let totals = TreeRow {
        name: "all shares".to_string(),
        level: 1,
        resource_row: false,
        target: "100.00".to_string(),
        pledged: hs(data.totals.executing),
        executing: hs(data.totals.executing),
        queued: hs(data.totals.queued),
        delta: String::new(),
        used: String::new(),
        used_class: "",
        executing_jobs: (
            human_count(data.totals.executing_jobs),
            jobs_url(&[("jobstatus", &super::EXECUTING.join("|"))]),
        ),
        queued_jobs: (
            human_count(data.totals.queued_jobs),
            jobs_url(&[("jobstatus", &super::QUEUED.join("|"))]),
        ),
    };
    let tops: Vec<String> = data.shares.iter().map(|n| n.name.clone()).collect();
    let details = vec![
        detail(
            "kinds",
            "By resource kind of the queue",
            "resource kind",
            &data.details.resource_kinds,
            &tops,
            |k| Some(page_url(params, &[("resource", k)])),
            50,
        ),
        detail(
            "types",
            "By resource type",
            "resource type",
            &data.details.resource_types,
            &tops,
            |k| {
                Some(jobs_url(&[
                    ("resourcetype", k),
                    ("jobstatus", &super::EXECUTING.join("|")),
                ]))
            },
            50,
        ),
        detail(
            "sites",
            "By site",
            "site",
            &data.details.sites,
            &tops,
            |k| {
                Some(jobs_url(&[
                    ("computingsite", k),
                    ("jobstatus", &super::EXECUTING.join("|")),
                ]))
            },
            40,
        ),
    ];
    let mut statuses: Vec<String> = data
        .details
        .statuses
        .values()
        .flat_map(|m| m.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    statuses.sort_by_key(|s| crate::kit::format::status_rank(s));
    let status_rows = data
        .details
        .statuses
        .iter()
        .map(|(gshare, by_status)| {
            let cells = statuses
                .iter()
                .map(|s| match by_status.get(s) {
                    Some(n) if *n > 0 => (
                        human_count(*n),
                        Some(jobs_url(&[("gshare", gshare), ("jobstatus", s)])),
                    ),
                    _ => ("0".to_string(), None),
                })
                .collect();
            (gshare.clone(), cells)
        })
        .collect();
    let unassigned = data
        .unassigned
        .keys()
        .map(|name| (name.clone(), jobs_url(&[("gshare", name)])))
        .collect();
    Ok(Page {
        data,
        source_note,
        other_source,
        kinds,
        levels,
        overview,
        history,
        history_choices,
        rows,
        totals,
        details,
        statuses,
        status_rows,
        unassigned,
    }
    .render()?)
}
