//! The accounting module (seed 004): `/accounting/jobs/`, completed jobs over time from the
//! rollups of `pandamon-accounting` — any metric, stacked by any dimension (top N and
//! "other"), filtered on every dimension, in bins from 10 minutes to 30 days, with its table,
//! CSV and JSON. Its background task keeps the rollups current (and backfills them when
//! there are none).

use crate::kit::error::{AppError, AppResult};
use crate::kit::format;
use crate::kit::links::{jobs_url, url};
use crate::kit::module::{
    BackgroundTask, ConfigKey, Module, NavEntry, Param, ParamType, Route, RouteDoc,
    positive_integer, schema,
};
use crate::kit::plot;
use crate::kit::respond::PageRequest;
use crate::kit::state::AppState;
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, NaiveDate};
use pandamon_accounting::rollup::{self, COMPLETED, ceil, floor};
use pandamon_accounting::series::{self, BINS, SeriesQuery, resolution_for};
use pandamon_accounting::{Dimension, Metric};
use schemars::JsonSchema;
use serde::Serialize;

mod site;
mod ssb;

pub struct Accounting;

const NAME: &str = "accounting";

/// Days the server backfills when it finds no rollups (`[modules.accounting] backfill_days`).
const BACKFILL_DAYS: i64 = 30;

/// The page's own parameters (the dimensions filter besides).
const PAGE_PARAMS: &[&str] = &[
    "metric",
    "groupby",
    "bin",
    "top",
    "date_from",
    "date_to",
    "hours",
    "days",
    "format",
];

/// Parameters any page takes that change nothing here.
const IGNORED_PARAMS: &[&str] = &["json", "_", "timestamp"];

/// Series the page draws when the URL names no `top` (JSON gives every series).
const PAGE_TOP: usize = 10;

impl Module for Accounting {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "job accounting: completed jobs, cores, wall and CPU time, HS06, efficiency, events and bytes over time by any dimension, from rollups kept in pandamon's state"
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/accounting/jobs/",
                handler: get(jobs_page),
                doc: RouteDoc {
                    summary: "job accounting: a metric of completed jobs (counted in the bin of their end time) over time, grouped by one dimension, filtered on any (`computingsite=A|B`, `jobstatus=failed`, ...)",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query(
                                "metric",
                                ParamType::Text,
                                "jobs (default), cores, walltime, walltime_ok, walltime_failed, cputime, hs06, cpueff, cpueff_ok, events, input_bytes, output_bytes",
                            ),
                            Param::query(
                                "groupby",
                                ParamType::Text,
                                "computingsite (default), cloud, resource_type, prodsourcelabel, activity, processingtype, gshare, workinggroup, inputdatatype, jobstatus, errorcategory",
                            ),
                            Param::query(
                                "bin",
                                ParamType::Text,
                                "10m, 30m, 1h (default), 6h, 12h, 1d, 7d, 14d, 30d; under 1h only within the last 62 days",
                            ),
                            Param::query(
                                "top",
                                ParamType::Integer,
                                "keep this many series, the rest summed into \"other\" (JSON default: all; page: 10)",
                            ),
                            Param::query(
                                "date_from",
                                ParamType::Text,
                                "window start, 2026-11-30 or 2026-11-30T00:00:00 (UTC)",
                            ),
                            Param::query(
                                "date_to",
                                ParamType::Text,
                                "window end, exclusive, same format",
                            ),
                            Param::query(
                                "hours",
                                ParamType::Integer,
                                "a window of this many hours ending now",
                            ),
                            Param::query(
                                "days",
                                ParamType::Integer,
                                "a window of this many days ending now (default 2)",
                            ),
                            Param::query(
                                "format",
                                ParamType::Text,
                                "csv: the plotted numbers as CSV (a row per bin, a column per series); png or svg: the chart drawn on the server",
                            ),
                        ]
                    },
                    response: schema::<AccountingJson>,
                    html: true,
                },
            },
            Route {
                path: "/accounting/hs06/",
                handler: get(hs06_page),
                doc: RouteDoc {
                    summary: "the HS06 report: HS06-hours, wall-clock core-hours, CPU hours, jobs and CPU efficiency of the completed jobs of a month or range, per site, federation, tier, country, cloud or queue, with pledges when configured",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query(
                                "month",
                                ParamType::Text,
                                "a calendar month, 2026-11 (UTC)",
                            ),
                            Param::query("date_from", ParamType::Text, "first day, 2026-11-01"),
                            Param::query(
                                "date_to",
                                ParamType::Text,
                                "day after the last, 2026-12-01",
                            ),
                            Param::query(
                                "days",
                                ParamType::Integer,
                                "the last days up to today (default 30)",
                            ),
                            Param::query(
                                "by",
                                ParamType::Text,
                                "site (default), federation, tier, country, cloud, queue",
                            ),
                            Param::query(
                                "format",
                                ParamType::Text,
                                "csv: the table as CSV (RFC 4180)",
                            ),
                        ]
                    },
                    response: schema::<Hs06Json>,
                    html: true,
                },
            },
            Route {
                path: "/accounting/site/{name}/",
                handler: get(site::site_page),
                doc: RouteDoc {
                    summary: "the site-oriented dashboard: one site's (or a queue's site's) completed jobs by activity with job and CPU efficiency and wall time, failed jobs by error category, jobs per day by status, running and pending now",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::path(
                                "name",
                                ParamType::Text,
                                "the site (atlas_site), or one of its queues",
                            ),
                            Param::query(
                                "days",
                                ParamType::Integer,
                                "the last days up to today (default 7)",
                            ),
                            Param::query("month", ParamType::Text, "a calendar month, 2026-11"),
                            Param::query("date_from", ParamType::Text, "first day, 2026-11-01"),
                            Param::query("date_to", ParamType::Text, "day after the last"),
                            Param::query(
                                "format",
                                ParamType::Text,
                                "png or svg: the chart of jobs by status drawn on the server",
                            ),
                        ]
                    },
                    response: schema::<site::SiteJson>,
                    html: true,
                },
            },
            Route {
                path: "/ssb/",
                handler: get(ssb::ssb_page),
                doc: RouteDoc {
                    summary: "the Site Status Board: every site with its PanDA queues and their states, running and pending jobs, and the job efficiency of the window (default 12 hours), worst first",
                    vocabulary: Some(&pandamon_query::fields::JOBS),
                    params: &[],
                    response: schema::<Vec<ssb::SsbSite>>,
                    html: true,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "accounting",
            href: "/accounting/jobs/",
            order: 850,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static pandamon_query::fields::Vocabulary> {
        vec![&pandamon_query::fields::JOBS]
    }
    fn config_keys(&self) -> &'static [ConfigKey] {
        &[
            ConfigKey {
                name: "backfill_days",
                description: "days of history the server rolls up by itself when it finds no rollups (default 30)",
                check: positive_integer,
            },
            ConfigKey {
                name: "pledges",
                description: "HS06 pledged per site or federation, { \"CERN-PROD\" = 250000, ... }: the HS06 report compares with them",
                check: pledges_table,
            },
        ]
    }
    fn background(&self) -> Vec<BackgroundTask> {
        vec![BackgroundTask {
            name: "accounting rollups",
            run: Box::new(|state: AppState| {
                Box::pin(async move {
                    let Some(store) = state.state.clone() else {
                        tracing::warn!(
                            "accounting rollups not kept: pandamon's state store is not open"
                        );
                        return;
                    };
                    let days = state
                        .settings
                        .module_int(NAME, "backfill_days", BACKFILL_DAYS);
                    rollup::run_forever(state.db.clone(), store, days).await;
                })
            }),
        }]
    }
}

/// `pledges`: a table of positive numbers.
fn pledges_table(value: &serde_json::Value) -> Result<(), String> {
    match value.as_object() {
        Some(t) if t.values().all(|v| v.as_f64().is_some_and(|p| p > 0.0)) => Ok(()),
        _ => Err(
            "expected a table of site or federation names to pledged HS06, positive numbers".into(),
        ),
    }
}

/// One series of the answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SeriesJson {
    pub name: String,
    /// One number per bin.
    pub values: Vec<f64>,
}

/// `/accounting/jobs/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountingJson {
    pub metric: String,
    pub groupby: String,
    pub bin: String,
    /// Each bin's start (UTC); bins are half-open.
    pub bins: Vec<String>,
    /// Largest first, "other" last.
    pub series: Vec<SeriesJson>,
    /// Over the whole window (for an efficiency, of all the jobs).
    pub total: f64,
    /// What the numbers are.
    pub unit: String,
    pub date_from: String,
    /// Exclusive.
    pub date_to: String,
    /// Completed jobs without a core count (counted as one core).
    pub unknown_cores: i64,
    /// Completed jobs without a known core power (no HS06 counted for them).
    pub unknown_power: i64,
    /// What the page adjusted or could not do (window aligned to the bins, backfill running).
    pub notes: Vec<String>,
}

/// Unix seconds as JSON carries times.
fn iso(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|d| format::iso(&d.naive_utc()))
        .unwrap_or_default()
}

/// A time parameter (a day or an instant, UTC) as unix seconds; a 400 naming it otherwise.
fn parse_time(name: &str, text: &str) -> AppResult<i64> {
    pandamon_query::parse_time(name, text).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// One of `names` for parameter `name` (`default` when absent); a 400 listing them otherwise.
fn named(
    request: &PageRequest,
    name: &str,
    names: &[&'static str],
    default: &'static str,
) -> AppResult<&'static str> {
    let values: Vec<(&str, &'static str)> = names.iter().map(|n| (*n, *n)).collect();
    request.choice(name, &values, default)
}

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
    let mut filters = Vec::new();
    for (key, value) in &request.params {
        if PAGE_PARAMS.contains(&key.as_str()) || IGNORED_PARAMS.contains(&key.as_str()) {
            continue;
        }
        let Some(dimension) = Dimension::parse(key) else {
            return Err(AppError::BadRequest(format!(
                "unknown parameter '{key}': filter on {} or set {}",
                dimension_names.join(", "),
                PAGE_PARAMS.join(", ")
            )));
        };
        let values: Vec<String> = value
            .split(['|', ','])
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if !values.is_empty() {
            filters.push((dimension, values));
        }
    }
    // The window, aligned to the stored bins it is summed from.
    let resolution = resolution_for(bin);
    let mut notes = Vec::new();
    let (from, to) = match (request.param("date_from"), request.param("date_to")) {
        (Some(f), t) => {
            let from = parse_time("date_from", f)?;
            let to = match t {
                Some(t) => parse_time("date_to", t)?,
                None => now,
            };
            (from, to)
        }
        (None, Some(t)) => {
            let to = parse_time("date_to", t)?;
            (to - 2 * 86_400, to)
        }
        (None, None) => {
            let hours = request.window_hours(48, 3_660)?;
            let to = ceil(now, resolution);
            (to - hours * 3_600, to)
        }
    };
    let (aligned_from, aligned_to) = (floor(from, resolution), ceil(to, resolution));
    if (aligned_from, aligned_to) != (from, to) {
        notes.push(format!(
            "the window is widened to whole bins: {} to {}",
            iso(aligned_from),
            iso(aligned_to)
        ));
    }
    let query = SeriesQuery {
        metric,
        groupby,
        bin,
        from: aligned_from,
        to: aligned_to,
        filters,
        top: top.or(if request.json { None } else { Some(PAGE_TOP) }),
    };
    query
        .check(now)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok((query, notes))
}

fn bin_name(bin: i64) -> &'static str {
    BINS.iter()
        .find(|(_, s)| *s == bin)
        .map_or("1h", |(n, _)| *n)
}

/// Rounds for display and JSON: whole numbers stay whole, others keep three decimals.
fn round(v: f64) -> f64 {
    (v * 1_000.0).round() / 1_000.0
}

async fn answer(
    request: &PageRequest,
    query: &SeriesQuery,
    mut notes: Vec<String>,
) -> AppResult<AccountingJson> {
    let state = &request.state;
    let data = match &state.state {
        Some(store) => {
            if let Some(p) = rollup::serve_backfill(store).await? {
                let days = (p.to - p.from) / 86_400;
                let done = (p.to - p.done_from) / 86_400;
                notes.push(format!(
                    "the rollups are being built: {done} of {days} days done (back to {}); older bins are still empty",
                    iso(p.done_from)
                ));
            }
            series::series(store, query).await?
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
    if data.unknown_power > 0 && query.metric == Metric::Hs06Hours {
        notes.push(format!(
            "{} jobs had no known core power: no HS06 is counted for them",
            data.unknown_power
        ));
    }
    Ok(AccountingJson {
        metric: query.metric.name().to_string(),
        groupby: query.groupby.name().to_string(),
        bin: bin_name(query.bin).to_string(),
        bins: data.bins.iter().map(|b| iso(*b)).collect(),
        series: data
            .lines
            .iter()
            .map(|l| SeriesJson {
                name: l.name.clone(),
                values: l.values.iter().map(|v| round(*v)).collect(),
            })
            .collect(),
        total: round(data.total),
        unit: query.metric.label().to_string(),
        date_from: iso(query.from),
        date_to: iso(query.to),
        unknown_cores: data.unknown_cores,
        unknown_power: data.unknown_power,
        notes,
    })
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The plotted numbers: a row per bin, a column per series (RFC 4180, CRLF line ends).
fn csv(data: &AccountingJson) -> String {
    let mut out = String::from("bin");
    for s in &data.series {
        out.push(',');
        out.push_str(&csv_field(&s.name));
    }
    out.push_str("\r\n");
    for (i, bin) in data.bins.iter().enumerate() {
        out.push_str(bin);
        for s in &data.series {
            out.push(',');
            out.push_str(&s.values[i].to_string());
        }
        out.push_str("\r\n");
    }
    out
}

#[derive(Template)]
#[template(path = "accounting_jobs.html")]
struct JobsPage<'a> {
    data: &'a AccountingJson,
    chart: String,
    /// The bins as the table heads them.
    bin_labels: Vec<String>,
    /// Whether the table has a total column (not for an efficiency).
    show_total: bool,
    /// Per series: its total and the jobs page of its value, when the dimension is a job field.
    rows: Vec<(String, f64, Option<String>)>,
    metrics: Vec<(&'static str, &'static str)>,
    dimensions: Vec<&'static str>,
    bins: Vec<&'static str>,
    csv_url: String,
    json_url: String,
    filters: Vec<(String, String)>,
}

/// The dimensions that are job fields of the jobs page.
fn job_field(d: Dimension) -> bool {
    !matches!(
        d,
        Dimension::Activity | Dimension::ErrorCategory | Dimension::InputDataType
    )
}

/// `format=csv|json|html|png|svg` (default html); JSON also by `?json`.
fn with_format(request: PageRequest) -> AppResult<(PageRequest, &'static str)> {
    let format = request.choice(
        "format",
        &[
            ("csv", "csv"),
            ("json", "json"),
            ("html", "html"),
            ("png", "png"),
            ("svg", "svg"),
        ],
        "html",
    )?;
    Ok(if format == "json" {
        (request.into_api(), format)
    } else {
        (request, format)
    })
}

/// The image format `format` names, if it names one.
fn image_format(format: &str) -> Option<plot::PlotFormat> {
    match format {
        "png" => Some(plot::PlotFormat::Png),
        "svg" => Some(plot::PlotFormat::Svg),
        _ => None,
    }
}

/// A bin start as an axis label: month-day and time, or the day alone for day bins.
fn short_bin(bin: &str, size: i64) -> String {
    let label = if size >= 86_400 {
        &bin[..10]
    } else {
        &bin[5..16]
    };
    label.replace('T', " ")
}

/// Said on every accounting page when there is no state store to keep rollups in.
const NO_STATE: &str =
    "accounting needs pandamon's state store, which is not open: see [state] in the README";

async fn jobs_page(request: PageRequest) -> AppResult<Response> {
    let now = chrono::Utc::now().timestamp();
    let (query, notes) = read_query(&request, now)?;
    let (request, format) = with_format(request)?;
    request
        .answer(None, || async {
            let data = answer(&request, &query, notes).await?;
            if format == "csv" {
                return request.reply_csv(csv(&data));
            }
            if let Some(image) = image_format(format) {
                let series: Vec<(String, Vec<f64>)> = data
                    .series
                    .iter()
                    .map(|s| (s.name.clone(), s.values.clone()))
                    .collect();
                let categories: Vec<String> =
                    data.bins.iter().map(|b| short_bin(b, query.bin)).collect();
                let title = format!(
                    "{} by {}, {} to {}",
                    data.unit, data.groupby, data.date_from, data.date_to
                );
                let chart = plot::BarChart {
                    title: &title,
                    categories: &categories,
                    series: &series,
                    stacked: !query.metric.is_ratio(),
                };
                return request.reply_file(plot::draw(&chart, image)?, image.content_type());
            }
            request.reply(&data, false, || {
                let short = |b: &String| short_bin(b, query.bin);
                let bin_labels: Vec<String> =
                    data.bins.iter().map(|b| b.replace('T', " ")).collect();
                let chart = serde_json::json!({
                    "type": "bar",
                    "title": format!("{} by {}", data.unit, data.groupby),
                    "categories": data.bins.iter().map(short).collect::<Vec<_>>(),
                    "series": data.series.iter().map(|s| {
                        let mut serie = serde_json::json!({"name": s.name, "data": s.values});
                        if s.name == "other" {
                            serie["colour"] = "#b0b7c0".into();
                        }
                        serie
                    }).collect::<Vec<_>>(),
                    "wide": true,
                    "grouped": query.metric.is_ratio(),
                });
                let statuses = COMPLETED.join("|");
                let rows = data
                    .series
                    .iter()
                    .map(|s| {
                        let total = if query.metric.is_ratio() {
                            0.0
                        } else {
                            round(s.values.iter().sum())
                        };
                        let link =
                            (job_field(query.groupby) && s.name != "other" && s.name != "(none)")
                                .then(|| {
                                    let status = if query.groupby == Dimension::JobStatus {
                                        s.name.as_str()
                                    } else {
                                        statuses.as_str()
                                    };
                                    let mut pairs = vec![
                                        ("date_from", data.date_from.as_str()),
                                        ("date_to", data.date_to.as_str()),
                                        ("jobstatus", status),
                                    ];
                                    if query.groupby != Dimension::JobStatus {
                                        pairs.push((query.groupby.name(), s.name.as_str()));
                                    }
                                    jobs_url(&pairs)
                                });
                        (s.name.clone(), total, link)
                    })
                    .collect();
                let mut base: Vec<(&str, String)> = request
                    .params
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "format" | "json"))
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                base.sort();
                let pairs = |extra: (&'static str, &'static str)| {
                    let mut p: Vec<(&str, &str)> =
                        base.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    p.push(extra);
                    url("/accounting/jobs/", &p)
                };
                Ok(JobsPage {
                    chart: chart.to_string(),
                    bin_labels,
                    show_total: !query.metric.is_ratio(),
                    rows,
                    metrics: Metric::ALL.iter().map(|m| (m.name(), m.label())).collect(),
                    dimensions: Dimension::ALL.iter().map(|d| d.name()).collect(),
                    bins: BINS.iter().map(|(n, _)| *n).collect(),
                    csv_url: pairs(("format", "csv")),
                    json_url: pairs(("json", "1")),
                    filters: query
                        .filters
                        .iter()
                        .map(|(d, v)| (d.name().to_string(), v.join("|")))
                        .collect(),
                    data: &data,
                }
                .render()?)
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("CERN-PROD"), "CERN-PROD");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn times_read_as_dates_or_instants() {
        assert_eq!(parse_time("date_from", "1970-01-02").unwrap(), 86_400);
        assert_eq!(
            parse_time("date_from", "1970-01-01T01:00:00").unwrap(),
            3_600
        );
        assert_eq!(parse_time("date_from", "1970-01-01T01:00").unwrap(), 3_600);
        assert!(parse_time("date_from", "yesterday").is_err());
    }
}

/// One row of the HS06 report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Hs06Row {
    pub name: String,
    pub hs06_hours: f64,
    pub core_hours: f64,
    pub cpu_hours: f64,
    pub jobs: i64,
    /// CPU time over wall-clock core time of all completed jobs, in %.
    pub cpu_efficiency: f64,
    /// Jobs without a known core power (no HS06 counted).
    pub unknown_power: i64,
    /// The pledged HS06 (`[modules.accounting] pledges`), when configured.
    pub pledge: Option<f64>,
    /// HS06-hours delivered over the pledge's HS06-hours in the window, in %.
    pub pledge_percent: Option<f64>,
}

/// `/accounting/hs06/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Hs06Json {
    pub by: String,
    pub date_from: String,
    /// Exclusive.
    pub date_to: String,
    pub rows: Vec<Hs06Row>,
    pub total: Hs06Row,
    pub notes: Vec<String>,
}

/// What the report groups by: the queue's own name or an attribute of its site.
const HS06_BY: [(&str, &str); 6] = [
    ("site", "site"),
    ("federation", "federation"),
    ("tier", "tier"),
    ("country", "country"),
    ("cloud", "cloud"),
    ("queue", "queue"),
];

fn hs06_row(name: String, m: &[i64; 10], pledge: Option<f64>, hours: f64) -> Hs06Row {
    let hs06_hours = round(m[5] as f64 / 3_600.0);
    Hs06Row {
        name,
        hs06_hours,
        core_hours: round(m[3] as f64 / 3_600.0),
        cpu_hours: round(m[4] as f64 / 3_600.0),
        jobs: m[0],
        cpu_efficiency: if m[3] > 0 {
            round(100.0 * m[4] as f64 / m[3] as f64)
        } else {
            0.0
        },
        unknown_power: m[6],
        pledge,
        pledge_percent: pledge.map(|p| round(100.0 * hs06_hours / (p * hours))),
    }
}

/// The report's window: a month, a range of days, or the last days; whole days.
fn hs06_window(request: &PageRequest, now: i64) -> AppResult<(i64, i64)> {
    const DAY: i64 = 86_400;
    if let Some(month) = request.param("month") {
        let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d")
            .map_err(|_| {
                AppError::BadRequest("invalid value for parameter 'month': use 2026-11".into())
            })?;
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(first);
        let at = |d: NaiveDate| d.and_time(Default::default()).and_utc().timestamp();
        return Ok((at(first), at(next)));
    }
    let to = match request.param("date_to") {
        Some(t) => ceil(parse_time("date_to", t)?, DAY),
        None => ceil(now + 1, DAY),
    };
    let from = match request.param("date_from") {
        Some(f) => floor(parse_time("date_from", f)?, DAY),
        None => to - request.whole_number("days", 3_660)?.unwrap_or(30) * DAY,
    };
    if to <= from {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'date_to': the window must end after it starts".into(),
        ));
    }
    if (to - from) / DAY > 3_660 {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'date_from': at most 10 years at once".into(),
        ));
    }
    Ok((from, to))
}

async fn hs06(request: &PageRequest, by: &'static str, from: i64, to: i64) -> AppResult<Hs06Json> {
    let state = &request.state;
    let mut notes = Vec::new();
    let Some(store) = &state.state else {
        notes.push(NO_STATE.into());
        return Ok(Hs06Json {
            by: by.to_string(),
            date_from: iso(from),
            date_to: iso(to),
            rows: Vec::new(),
            total: hs06_row("total".into(), &[0; 10], None, 0.0),
            notes,
        });
    };
    if let Some(p) = rollup::serve_backfill(store).await? {
        notes.push(format!(
            "the rollups are being built: back to {} so far; earlier days are still empty",
            iso(p.done_from)
        ));
    }
    let queues = state.reference.queues(&state.db).await.ok();
    let attribute = |queue: &str| -> String {
        let info = queues.as_ref().and_then(|q| q.get(queue));
        let value = match (by, info) {
            ("queue", _) => queue.to_string(),
            ("site", Some(i)) => i.attributes.site.clone(),
            ("tier", Some(i)) => i.attributes.tier.clone(),
            ("cloud", Some(i)) => i.attributes.cloud.clone(),
            (key, Some(i)) => i
                .data
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            (_, None) => String::new(),
        };
        if value.is_empty() {
            format!("(queue {queue} without a {by})")
        } else {
            value
        }
    };
    let sums = series::totals(store, from, to, |_| true, |row| attribute(&row.dims[0])).await?;
    let pledges = state
        .settings
        .module_config
        .get(NAME)
        .and_then(|c| c.get("pledges"))
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    let hours = (to - from) as f64 / 3_600.0;
    let mut all = [0i64; 10];
    let mut rows: Vec<Hs06Row> = sums
        .into_iter()
        .map(|(name, m)| {
            for (a, v) in all.iter_mut().zip(m) {
                *a += v;
            }
            let pledge = pledges.get(&name).and_then(|p| p.as_f64());
            hs06_row(name, &m, pledge, hours)
        })
        .collect();
    rows.sort_by(|a, b| {
        b.hs06_hours
            .total_cmp(&a.hs06_hours)
            .then_with(|| a.name.cmp(&b.name))
    });
    if all[6] > 0 {
        notes.push(format!(
            "{} jobs had no known core power: no HS06 is counted for them",
            all[6]
        ));
    }
    Ok(Hs06Json {
        by: by.to_string(),
        date_from: iso(from),
        date_to: iso(to),
        rows,
        total: hs06_row("total".into(), &all, None, hours),
        notes,
    })
}

/// The HS06 table as CSV: the page's columns, a row per group and the total.
fn hs06_csv(data: &Hs06Json) -> String {
    let mut out = format!(
        "{},hs06_hours,core_hours,cpu_hours,jobs,cpu_efficiency_percent,unknown_power_jobs,pledge_hs06,pledge_percent\r\n",
        data.by
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for r in data.rows.iter().chain([&data.total]) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\r\n",
            csv_field(&r.name),
            r.hs06_hours,
            r.core_hours,
            r.cpu_hours,
            r.jobs,
            r.cpu_efficiency,
            r.unknown_power,
            opt(r.pledge),
            opt(r.pledge_percent)
        ));
    }
    out
}

#[derive(Template)]
#[template(path = "accounting_hs06.html")]
struct Hs06Page<'a> {
    data: &'a Hs06Json,
    by_choices: Vec<(&'static str, String)>,
    csv_url: String,
    json_url: String,
    pledges: bool,
}

async fn hs06_page(request: PageRequest) -> AppResult<Response> {
    let now = chrono::Utc::now().timestamp();
    let (from, to) = hs06_window(&request, now)?;
    let by = request.choice("by", &HS06_BY, "site")?;
    let (request, format) = with_format(request)?;
    if image_format(format).is_some() {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'format': the HS06 report is a table, use csv or json"
                .into(),
        ));
    }
    request
        .answer(None, || async {
            let data = hs06(&request, by, from, to).await?;
            if format == "csv" {
                return request.reply_csv(hs06_csv(&data));
            }
            request.reply(&data, false, || {
                let window = [("date_from", iso(from)), ("date_to", iso(to))];
                let link = |extra: (&str, &str)| {
                    let mut p: Vec<(&str, &str)> =
                        window.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    p.push(("by", by));
                    p.push(extra);
                    url("/accounting/hs06/", &p)
                };
                Ok(Hs06Page {
                    by_choices: HS06_BY
                        .iter()
                        .map(|(b, _)| {
                            let mut p: Vec<(&str, &str)> =
                                window.iter().map(|(k, v)| (*k, v.as_str())).collect();
                            p.push(("by", b));
                            (*b, url("/accounting/hs06/", &p))
                        })
                        .collect(),
                    csv_url: link(("format", "csv")),
                    json_url: link(("json", "1")),
                    pledges: data.rows.iter().any(|r| r.pledge.is_some()),
                    data: &data,
                }
                .render()?)
            })
        })
        .await
}
