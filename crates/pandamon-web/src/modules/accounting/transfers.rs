//! `/accounting/transfers/`: file transfers over time from the transfer rollups — volume,
//! throughput, files, failed attempts or efficiency, stacked by source or destination site,
//! cloud, tier or country, activity, outcome or failure reason, filtered on any of them; with
//! the efficiency of every group and the top failure reasons of the window.

use super::{
    ChartView, NO_STATE, SeriesAnswer, SeriesBody, backfill_note, filter_chips, named,
    read_filters, read_window, round, series_page, topology,
};
use crate::kit::error::{AppError, AppResult};
use crate::kit::format::{human_bytes, human_count, percent_text};
use crate::kit::links::url;
use crate::kit::respond::PageRequest;
use askama::Template;
use axum::response::Response;
use pandamon_accounting::transfers::{
    self, TRANSFER_BINS, TransferDimension, TransferMetric, TransferQuery, TransferSeries,
};
use schemars::JsonSchema;
use serde::Serialize;

/// The transfers of one group of the window.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TransferGroup {
    pub name: String,
    /// Files transferred.
    pub done: i64,
    /// Failed attempts.
    pub failed: i64,
    /// Done over done and failed attempts, in %.
    pub efficiency: Option<f64>,
    pub bytes: i64,
}

/// A failure reason and how many attempts failed with it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FailureReason {
    pub reason: String,
    pub failures: i64,
}

/// `/accounting/transfers/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TransfersJson {
    #[serde(flatten)]
    pub series: SeriesBody,
    /// Every transfer of the window (with the filters), whatever the metric.
    pub all: TransferGroup,
    /// Per value of `groupby`, most transfers first.
    pub groups: Vec<TransferGroup>,
    /// The most frequent failure reasons, at most 10.
    pub failure_reasons: Vec<FailureReason>,
    pub notes: Vec<String>,
}

impl SeriesAnswer for TransfersJson {
    fn series(&self) -> &SeriesBody {
        &self.series
    }
}

/// Series the page draws when the URL names no `top`.
const PAGE_TOP: usize = 10;

fn read_query(request: &PageRequest, now: i64) -> AppResult<(TransferQuery, Vec<String>)> {
    let metric_names: Vec<&'static str> = TransferMetric::ALL.iter().map(|m| m.name()).collect();
    let metric = TransferMetric::parse(named(request, "metric", &metric_names, "volume")?)
        .unwrap_or(TransferMetric::Volume);
    let dimension_names: Vec<&'static str> =
        TransferDimension::ALL.iter().map(|d| d.name()).collect();
    let groupby =
        TransferDimension::parse(named(request, "groupby", &dimension_names, "dst_site")?)
            .unwrap_or(TransferDimension::DstSite);
    let bin_names: Vec<&'static str> = TRANSFER_BINS.iter().map(|(n, _)| *n).collect();
    let bin_name = named(request, "bin", &bin_names, "1h")?;
    let bin = TRANSFER_BINS
        .iter()
        .find(|(n, _)| *n == bin_name)
        .map_or(3_600, |(_, s)| *s);
    let top = request.whole_number("top", 1_000)?.map(|n| n as usize);
    let filters = read_filters(request, TransferDimension::parse, &dimension_names)?;
    // Read from minutes for 10-minute bins, from hours otherwise.
    let resolution = if bin % 3_600 == 0 { 3_600 } else { 60 };
    let (from, to, notes) = read_window(request, now, resolution)?;
    let query = TransferQuery {
        metric,
        groupby,
        bin,
        from,
        to,
        filters,
        top: top.or(if request.json { None } else { Some(PAGE_TOP) }),
    };
    query.check(now).map_err(AppError::BadRequest)?;
    Ok((query, notes))
}

fn group(name: String, t: &transfers::TransferTotals) -> TransferGroup {
    TransferGroup {
        name,
        done: t.done,
        failed: t.failed,
        efficiency: t.efficiency().map(round),
        bytes: t.bytes,
    }
}

async fn answer(
    request: &PageRequest,
    q: &TransferQuery,
    mut notes: Vec<String>,
) -> AppResult<TransfersJson> {
    let topology = topology(request).await;
    if request
        .state
        .missing_tables_of(super::NAME)
        .contains(&"transfer_events")
    {
        notes.push(
            "this database has no transfer_events table: feed Rucio's transfer events into it (see the README) to see transfers here".into(),
        );
    }
    let rows = match &request.state.state {
        Some(store) => {
            notes.extend(backfill_note(store).await?);
            transfers::rows(store, &topology, q).await?
        }
        None => {
            notes.push(NO_STATE.into());
            Vec::new()
        }
    };
    let TransferSeries { bins, lines, total } = transfers::series(&rows, &topology, q);
    let all = transfers::totals_by(&rows, |_| String::new());
    let all = all.first().map_or_else(Default::default, |(_, t)| *t);
    let groups = transfers::totals_by(&rows, |r| {
        let v = q.groupby.value(r, &topology);
        if v.is_empty() { "(none)" } else { v }.to_string()
    })
    .iter()
    .map(|(name, t)| group(name.clone(), t))
    .collect();
    let mut reasons: Vec<FailureReason> = transfers::totals_by(&rows, |r| r.dims[4].clone())
        .into_iter()
        .filter(|(reason, t)| !reason.is_empty() && t.failed > 0)
        .map(|(reason, t)| FailureReason {
            reason,
            failures: t.failed,
        })
        .collect();
    reasons.sort_by(|a, b| {
        b.failures
            .cmp(&a.failures)
            .then_with(|| a.reason.cmp(&b.reason))
    });
    reasons.truncate(10);
    Ok(TransfersJson {
        series: SeriesBody::new(
            q.metric.name(),
            q.groupby.name(),
            q.bin,
            (q.from, q.to),
            &bins,
            &lines,
            total,
            q.metric.label(),
        ),
        all: group("all".into(), &all),
        groups,
        failure_reasons: reasons,
        notes,
    })
}

#[derive(Template)]
#[template(path = "accounting_transfers.html")]
struct TransfersPage<'a> {
    data: &'a TransfersJson,
    view: ChartView,
    /// Per series: the page narrowed to its value.
    links: Vec<Option<String>>,
    /// Per group: the page narrowed to it, its failed attempts by reason, and the site
    /// dashboard when it is a site.
    group_links: Vec<(String, String, Option<String>)>,
    /// Per failure reason: the failed attempts with it, by destination.
    reason_links: Vec<String>,
    /// Label, value, status class and the page of what it counts.
    cards: Vec<(&'static str, String, &'static str, String)>,
    metrics: Vec<(&'static str, &'static str)>,
    dimensions: Vec<&'static str>,
    bins: Vec<&'static str>,
    filters: Vec<(String, String)>,
}

/// The dimension to split by once a value of `d` is chosen.
fn next_groupby(d: TransferDimension) -> TransferDimension {
    match d {
        TransferDimension::DstSite | TransferDimension::DstCloud | TransferDimension::DstTier => {
            TransferDimension::SrcSite
        }
        TransferDimension::DstCountry => TransferDimension::SrcCountry,
        _ => TransferDimension::DstSite,
    }
}

pub async fn transfers_page(request: PageRequest) -> AppResult<Response> {
    series_page(request, read_query, |q| q.metric.is_ratio(), answer, render).await
}

fn render(request: &PageRequest, query: &TransferQuery, data: &TransfersJson) -> AppResult<String> {
    // The page narrowed to one more value, keeping its other parameters.
    let narrowed = |extra: &[(&str, &str)]| {
        let mut p: Vec<(&str, &str)> = request
            .params
            .iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), "format" | "json" | "groupby")
                    && !extra.iter().any(|(e, _)| e == k)
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        p.extend_from_slice(extra);
        p.sort();
        url("/accounting/transfers/", &p)
    };
    let drill = |name: &str| {
        let next = next_groupby(query.groupby).name();
        narrowed(&[(query.groupby.name(), name), ("groupby", next)])
    };
    let real = |name: &str| name != "other" && name != "(none)";
    let links = data
        .series
        .series
        .iter()
        .map(|s| real(&s.name).then(|| drill(&s.name)))
        .collect();
    let site_dimension = matches!(
        query.groupby,
        TransferDimension::SrcSite | TransferDimension::DstSite
    );
    let group_links = data
        .groups
        .iter()
        .map(|g| {
            let site =
                (site_dimension && real(&g.name)).then(|| format!("/accounting/site/{}/", g.name));
            let failed = narrowed(&[
                (query.groupby.name(), g.name.as_str()),
                ("state", "failed"),
                ("groupby", "reason"),
            ]);
            (drill(&g.name), failed, site)
        })
        .collect();
    let reason_links = data
        .failure_reasons
        .iter()
        .map(|r| {
            narrowed(&[
                ("state", "failed"),
                ("reason", r.reason.as_str()),
                ("groupby", "dst_site"),
            ])
        })
        .collect();
    let all = &data.all;
    let seconds = (query.to - query.from).max(1);
    let here = narrowed(&[("groupby", query.groupby.name())]);
    let cards = vec![
        (
            "files transferred",
            human_count(all.done),
            "st-finished",
            narrowed(&[("state", "done"), ("groupby", query.groupby.name())]),
        ),
        (
            "failed attempts",
            human_count(all.failed),
            "st-failed",
            narrowed(&[("state", "failed"), ("groupby", "reason")]),
        ),
        ("efficiency", percent_text(all.efficiency), "", here.clone()),
        ("volume", human_bytes(all.bytes), "", here.clone()),
        (
            "mean throughput",
            format!("{}/s", human_bytes(all.bytes / seconds)),
            "",
            here,
        ),
    ];
    Ok(TransfersPage {
        view: ChartView::new(
            request,
            "/accounting/transfers/",
            &data.series,
            query.metric.is_ratio(),
            match query.metric {
                TransferMetric::Efficiency => "overall",
                TransferMetric::Throughput => "mean",
                _ => "total",
            },
        ),
        links,
        group_links,
        reason_links,
        cards,
        metrics: TransferMetric::ALL
            .iter()
            .map(|m| (m.name(), m.label()))
            .collect(),
        dimensions: TransferDimension::ALL.iter().map(|d| d.name()).collect(),
        bins: TRANSFER_BINS.iter().map(|(n, _)| *n).collect(),
        filters: filter_chips(&query.filters, TransferDimension::name),
        data,
    }
    .render()?)
}

impl FailureReason {
    fn failures_text(&self) -> String {
        human_count(self.failures)
    }
}

impl TransferGroup {
    fn done_text(&self) -> String {
        human_count(self.done)
    }
    fn failed_text(&self) -> String {
        human_count(self.failed)
    }
    fn efficiency_text(&self) -> String {
        percent_text(self.efficiency)
    }
    fn volume_text(&self) -> String {
        human_bytes(self.bytes)
    }
}
