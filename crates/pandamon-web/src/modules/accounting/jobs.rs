//! `/accounting/jobs/`: completed jobs over time from the rollups — any metric, stacked by any
//! dimension (top N and "other"), filtered on every dimension, in bins from 10 minutes to 30
//! days, with its table, CSV, JSON and server-drawn PNG and SVG.

use super::{
    ChartView, NO_STATE, SeriesAnswer, SeriesBody, backfill_note, filter_chips, named,
    read_filters, read_window, series_page, topology,
};
use crate::kit::error::{AppError, AppResult};
use crate::kit::links::{jobs_url, url};
use crate::kit::respond::PageRequest;
use askama::Template;
use axum::response::Response;
use pandamon_accounting::rollup::COMPLETED;
use pandamon_accounting::series::{self, BINS, SeriesQuery, resolution_for};
use pandamon_accounting::{Dimension, Metric};
use schemars::JsonSchema;
use serde::Serialize;

/// `/accounting/jobs/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountingJson {
    #[serde(flatten)]
    pub series: SeriesBody,
    /// Completed jobs without a core count (counted as one core).
    pub unknown_cores: i64,
    /// Completed jobs without a known core power (no HS06 counted for them).
    pub unknown_power: i64,
    /// What the page adjusted or could not do (window aligned to the bins, backfill running).
    pub notes: Vec<String>,
}

impl SeriesAnswer for AccountingJson {
    fn series(&self) -> &SeriesBody {
        &self.series
    }
}

/// Series the page draws when the URL names no `top` (JSON gives every series).
const PAGE_TOP: usize = 10;

/// The URL's question, checked: the query and the notes on what was adjusted.
fn read_query(request: &PageRequest, now: i64) -> AppResult<(SeriesQuery, Vec<String>)> {
    let metric_names: Vec<&'static str> = Metric::ALL.iter().map(|m| m.name()).collect();
    let metric =
        Metric::parse(named(request, "metric", &metric_names, "jobs")?).unwrap_or(Metric::Jobs);
    let dimension_names: Vec<&'static str> = Dimension::ALL.iter().map(|d| d.name()).collect();
    let mut groupings: Vec<(&str, &'static str)> =
        dimension_names.iter().map(|n| (*n, *n)).collect();
    groupings.extend([("site", "computingsite"), ("jobtype", "prodsourcelabel")]);
    let groupby = Dimension::parse(request.choice("groupby", &groupings, "computingsite")?)
        .unwrap_or(Dimension::Site);
    let bin_names: Vec<&'static str> = BINS.iter().map(|(n, _)| *n).collect();
    let bin_name = named(request, "bin", &bin_names, "1h")?;
    let bin = BINS
        .iter()
        .find(|(n, _)| *n == bin_name)
        .map_or(3_600, |(_, s)| *s);
    let top = request.whole_number("top", 1_000)?.map(|n| n as usize);
    let filters = read_filters(request, Dimension::parse, &dimension_names)?;
    let (from, to, notes) = read_window(request, now, resolution_for(bin))?;
    let query = SeriesQuery {
        metric,
        groupby,
        bin,
        from,
        to,
        filters,
        top: top.or(if request.json { None } else { Some(PAGE_TOP) }),
    };
    query
        .check(now)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok((query, notes))
}

async fn answer(
    request: &PageRequest,
    query: &SeriesQuery,
    mut notes: Vec<String>,
) -> AppResult<AccountingJson> {
    let data = match &request.state.state {
        Some(store) => {
            notes.extend(backfill_note(store).await?);
            series::series(store, &topology(request).await, query).await?
        }
        None => {
            notes.push(NO_STATE.into());
            series::Series {
                bins: Vec::new(),
                lines: Vec::new(),
                total: 0.0,
                unknown_cores: 0,
                unknown_power: 0,
            }
        }
    };
    if data.unknown_cores > 0 {
        notes.push(format!(
            "{} jobs had no core count: each is counted as one core",
            data.unknown_cores
        ));
    }
    if query.metric.is_snapshot() {
        notes.push(
            "running and pending jobs are counted every 10 minutes while the server runs: bins before its first snapshot are empty".into(),
        );
    }
    if data.unknown_power > 0 && matches!(query.metric, Metric::Hs06Hours | Metric::RunningHs06) {
        notes.push(format!(
            "{} jobs had no known core power: no HS06 is counted for them",
            data.unknown_power
        ));
    }
    Ok(AccountingJson {
        series: SeriesBody::new(
            query.metric.name(),
            query.groupby.name(),
            query.bin,
            (query.from, query.to),
            &data.bins,
            &data.lines,
            data.total,
            query.metric.label(),
        ),
        unknown_cores: data.unknown_cores,
        unknown_power: data.unknown_power,
        notes,
    })
}

#[derive(Template)]
#[template(path = "accounting_jobs.html")]
struct JobsPage<'a> {
    data: &'a AccountingJson,
    view: ChartView,
    /// How the numbers are counted.
    counted: &'static str,
    /// Per series: the jobs page of its value, when the dimension is a job field.
    links: Vec<Option<String>>,
    metrics: Vec<(&'static str, &'static str)>,
    dimensions: Vec<&'static str>,
    bins: Vec<&'static str>,
    filters: Vec<(String, String)>,
    /// The charts seed 004 names, each a link.
    presets: Vec<(&'static str, String)>,
}

/// The charts of seed 004's job accounting dashboard: (title, the page's parameters).
const PRESETS: [(&str, &[(&str, &str)]); 8] = [
    (
        "running cores in HS06 by ADC activity",
        &[("metric", "running_hs06"), ("groupby", "activity")],
    ),
    (
        "completed jobs by final status",
        &[("metric", "jobs"), ("groupby", "jobstatus")],
    ),
    (
        "HS06-hours by ADC activity",
        &[("metric", "hs06"), ("groupby", "activity")],
    ),
    (
        "wall-clock core-hours by site",
        &[("metric", "walltime"), ("groupby", "computingsite")],
    ),
    (
        "CPU efficiency of successful jobs by site",
        &[("metric", "cpueff_ok"), ("groupby", "computingsite")],
    ),
    (
        "CPU efficiency of all jobs by site",
        &[("metric", "cpueff"), ("groupby", "computingsite")],
    ),
    (
        "failed wall-clock by error category",
        &[("metric", "walltime_failed"), ("groupby", "errorcategory")],
    ),
    (
        "completed jobs by tier",
        &[("metric", "jobs"), ("groupby", "tier")],
    ),
];

pub async fn jobs_page(request: PageRequest) -> AppResult<Response> {
    series_page(request, read_query, |q| q.metric.is_ratio(), answer, render).await
}

fn render(request: &PageRequest, query: &SeriesQuery, data: &AccountingJson) -> AppResult<String> {
    let statuses = COMPLETED.join("|");
    let links = data
        .series
        .series
        .iter()
        .map(|s| {
            let linkable = query.groupby.is_job_field() && s.name != "other" && s.name != "(none)";
            linkable.then(|| {
                let status = if query.groupby == Dimension::JobStatus {
                    s.name.as_str()
                } else {
                    statuses.as_str()
                };
                let mut pairs = vec![
                    ("date_from", data.series.date_from.as_str()),
                    ("date_to", data.series.date_to.as_str()),
                    ("jobstatus", status),
                ];
                if query.groupby != Dimension::JobStatus {
                    pairs.push((query.groupby.name(), s.name.as_str()));
                }
                jobs_url(&pairs)
            })
        })
        .collect();
    let window = [
        ("date_from", data.series.date_from.as_str()),
        ("date_to", data.series.date_to.as_str()),
    ];
    let presets = PRESETS
        .iter()
        .map(|(title, params)| {
            let mut p: Vec<(&str, &str)> = params.to_vec();
            p.extend(window);
            (*title, url("/accounting/jobs/", &p))
        })
        .collect();
    Ok(JobsPage {
        view: ChartView::new(
            request,
            "/accounting/jobs/",
            &data.series,
            query.metric.is_ratio(),
            match query.metric {
                m if m.is_snapshot() => "mean",
                m if m.is_ratio() => "overall",
                _ => "total",
            },
        ),
        counted: if query.metric.is_snapshot() {
            "each bin is the mean of the snapshots of running and pending jobs taken every 10 minutes in it"
        } else {
            "completed jobs count in the bin of their end time"
        },
        links,
        metrics: Metric::ALL.iter().map(|m| (m.name(), m.label())).collect(),
        dimensions: Dimension::ALL.iter().map(|d| d.name()).collect(),
        bins: BINS.iter().map(|(n, _)| *n).collect(),
        filters: filter_chips(&query.filters, Dimension::name),
        presets,
        data,
    }
    .render()?)
}
