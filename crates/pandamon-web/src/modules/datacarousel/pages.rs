//! The staging dashboard's HTML and the task page's staging block. Every summary row narrows
//! the dashboard to itself; every request links to its tasks.

use super::{DIMENSIONS, DashJson, Histogram, RequestRow, STALLED_DAYS, Summary, dash_url};
use crate::kit::error::AppResult;
use crate::kit::format::human_count;
use crate::kit::module::TaskPanel;
use askama::Template;
use serde_json::json;

/// Bytes as TB/GB/MB.
fn bytes(n: i64) -> String {
    let n = n as f64;
    if n >= 1e12 {
        format!("{:.1} TB", n / 1e12)
    } else if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else {
        format!("{:.0} MB", n / 1e6)
    }
}

/// A summary table: one dimension, its rows narrowing the dashboard.
struct SummaryTable {
    title: String,
    key: &'static str,
    rows: Vec<(String, String, Vec<String>)>,
}

#[derive(Template)]
#[template(path = "datacarousel.html")]
struct Page<'a> {
    data: &'a DashJson,
    filters: Vec<(String, String, String)>,
    charts: Vec<String>,
    totals: Vec<(&'static str, String)>,
    summaries: Vec<SummaryTable>,
    summary_columns: &'static [&'static str],
    stalled_days: f64,
    columns: &'static [&'static str],
    requests: Vec<Vec<(String, Option<String>, &'static str)>>,
    stalled_link: String,
}

const SUMMARY_COLUMNS: &[&str] = &[
    "files",
    "staged files",
    "remaining files",
    "size",
    "staged",
    "remaining",
    "datasets",
    "done",
    "active",
];

fn summary_cells(s: &Summary) -> Vec<String> {
    vec![
        human_count(s.files_total),
        human_count(s.files_done),
        human_count(s.files_remaining),
        bytes(s.bytes_total),
        bytes(s.bytes_done),
        bytes(s.bytes_remaining),
        human_count(s.datasets_total),
        human_count(s.datasets_done),
        human_count(s.datasets_active),
    ]
}

fn bar(title: &str, h: &Histogram, stacked: bool, wide: bool) -> String {
    json!({
        "type": "bar",
        "wide": wide,
        "title": title,
        "grouped": !stacked,
        "categories": h.bins,
        "series": h.series.iter().map(|(name, data)| json!({"name": name, "data": data})).collect::<Vec<_>>(),
    })
    .to_string()
}

const REQUEST_COLUMNS: &[&str] = &[
    "request",
    "status",
    "progress",
    "files",
    "staged",
    "size",
    "source",
    "tape",
    "destination",
    "tasks",
    "campaign",
    "user",
    "started",
    "last staged",
    "ended",
    "elapsed h",
    "note",
    "dataset",
];

fn request_cells(
    params: &[(String, String)],
    r: &RequestRow,
) -> Vec<(String, Option<String>, &'static str)> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let narrow = |key: &'static str, v: &Option<String>| {
        v.as_ref().map(|v| dash_url(params, &[(key, v.as_str())]))
    };
    let mut note = Vec::new();
    if let Some(d) = r.stalled_days {
        note.push(format!("no file staged for {d:.1} days"));
    }
    if r.lost_files {
        note.push("lost files".to_string());
    }
    if let Some(e) = &r.rule_error {
        note.push(e.clone());
    }
    let note_class = if r.stalled_days.is_some_and(|d| d > STALLED_DAYS) {
        "bad"
    } else {
        "diag"
    };
    let tasks = r
        .tasks
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        (r.request_id.to_string(), None, ""),
        (
            r.status.clone(),
            Some(dash_url(params, &[("status", r.status.as_str())])),
            "",
        ),
        (format!("{:.1}%", r.progress), None, ""),
        (human_count(r.total_files), None, ""),
        (human_count(r.staged_files), None, ""),
        (bytes(r.dataset_size), None, ""),
        (opt(&r.source_rse), narrow("source", &r.source_rse), ""),
        (opt(&r.source_tape), None, ""),
        (
            opt(&r.destination_rse),
            narrow("destination", &r.destination_rse),
            "",
        ),
        (tasks, r.tasks.first().map(|t| format!("/task/{t}/")), ""),
        (opt(&r.campaign), narrow("campaign", &r.campaign), ""),
        (opt(&r.username), narrow("username", &r.username), ""),
        (opt(&r.start_time), None, ""),
        (opt(&r.last_staged_time), None, ""),
        (opt(&r.end_time), None, ""),
        (
            r.elapsed_hours
                .map(|h| format!("{h:.1}"))
                .unwrap_or_default(),
            None,
            "",
        ),
        (note.join("; "), None, note_class),
        (r.dataset.clone(), None, "diag"),
    ]
}

/// `/dc/dash/`.
pub fn dashboard(params: &[(String, String)], data: &DashJson) -> AppResult<String> {
    let filters = data
        .filters
        .iter()
        .map(|(k, v)| (k.clone(), v.clone(), dash_url(params, &[(k.as_str(), "")])))
        .collect();
    let charts = vec![
        bar(
            "Requests by hours of staging",
            &data.elapsedtime,
            true,
            false,
        ),
        bar("Staging requests by progress", &data.progress, true, false),
        bar(
            "Requests by day of submission",
            &data.submittime,
            true,
            true,
        ),
        bar(
            "Files by day of submission",
            &data.submittimefiles,
            true,
            true,
        ),
    ];
    let summaries = DIMENSIONS
        .iter()
        .map(|(key, param)| SummaryTable {
            title: format!("By {}", key.replace('_', " ")),
            key,
            rows: data
                .summary
                .get(*key)
                .map(|list| {
                    list.iter()
                        .map(|s| {
                            let mut set = vec![(*param, s.name.as_str())];
                            // The other spelling of the same filter goes.
                            match *param {
                                "source" => set.push(("source_rse", "")),
                                "destination" => set.push(("destination_rse", "")),
                                _ => {}
                            }
                            (s.name.clone(), dash_url(params, &set), summary_cells(s))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let requests = data
        .detailstable
        .iter()
        .map(|r| request_cells(params, r))
        .collect();
    Ok(Page {
        data,
        filters,
        charts,
        totals: SUMMARY_COLUMNS
            .iter()
            .copied()
            .zip(summary_cells(&data.totals))
            .collect(),
        summaries,
        summary_columns: SUMMARY_COLUMNS,
        stalled_days: STALLED_DAYS,
        columns: REQUEST_COLUMNS,
        requests,
        stalled_link: dash_url(params, &[("status", "staging")]),
    }
    .render()?)
}

/// The staging block of the task page.
pub fn task_panel(jeditaskid: i64, rows: &[RequestRow]) -> TaskPanel {
    let columns = [
        "request",
        "status",
        "progress",
        "files",
        "staged",
        "source",
        "tape",
        "destination",
        "started",
        "last staged",
        "ended",
        "note",
    ];
    TaskPanel {
        id: "staging",
        title: "Staging from tape (Data Carousel)".to_string(),
        notes: vec![format!(
            "{} feed{} this task; JSON: /api/dc/staginginfofortask/?jeditaskid={jeditaskid}",
            if rows.len() == 1 {
                "1 request".to_string()
            } else {
                format!("{} requests", rows.len())
            },
            if rows.len() == 1 { "s" } else { "" }
        )],
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                let opt = |v: &Option<String>| (v.clone().unwrap_or_default(), None);
                let mut note = Vec::new();
                if let Some(d) = r.stalled_days {
                    note.push(format!("no file staged for {d:.1} days"));
                }
                if let Some(e) = &r.rule_error {
                    note.push(e.clone());
                }
                vec![
                    (
                        r.request_id.to_string(),
                        Some(format!("/dc/dash/?jeditaskid={jeditaskid}")),
                    ),
                    (r.status.clone(), None),
                    (format!("{:.1}%", r.progress), None),
                    (human_count(r.total_files), None),
                    (human_count(r.staged_files), None),
                    opt(&r.source_rse),
                    opt(&r.source_tape),
                    opt(&r.destination_rse),
                    opt(&r.start_time),
                    opt(&r.last_staged_time),
                    opt(&r.end_time),
                    (note.join("; "), None),
                ]
            })
            .collect(),
    }
}
