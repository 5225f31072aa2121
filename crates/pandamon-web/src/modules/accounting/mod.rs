//! The accounting module (seed 004): `/accounting/jobs/`, completed jobs over time from the
//! rollups of `pandamon-accounting` — any metric, stacked by any dimension (top N and
//! "other"), filtered on every dimension, in bins from 10 minutes to 30 days, with its table,
//! CSV and JSON. Its background task keeps the rollups current (and backfills them when
//! there are none).

use crate::kit::error::{AppError, AppResult};
use crate::kit::format;
use crate::kit::links::url;
use crate::kit::module::{
    BackgroundTask, ConfigKey, Module, NavEntry, Param, ParamType, Route, RouteDoc, joined,
    positive_integer, schema,
};
use crate::kit::plot;
use crate::kit::respond::{PageRequest, Reply};
use crate::kit::state::AppState;
use axum::response::Response;
use axum::routing::get;
use chrono::DateTime;
use pandamon_accounting::rollup::{self, ceil, floor};
use pandamon_accounting::series::{BINS, Line};
use pandamon_accounting::{SiteFacts, Topology};
use pandamon_store::StateStore;
use pandamon_store::accounting::DAY_ROLLUP_BUDGET;
use schemars::JsonSchema;
use serde::Serialize;

mod hs06;
mod jobs;
mod site;
mod ssb;
mod transfers;

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

/// The parameters the series pages share: how many series, the window, the format.
const SERIES_WINDOW: [Param; 6] = [
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
];

/// The window of the pages counting whole days (the HS06 report, the site dashboard).
const DAY_WINDOW: [Param; 5] = [
    Param::query("month", ParamType::Text, "a calendar month, 2026-11 (UTC)"),
    Param::query("date_from", ParamType::Text, "first day, 2026-11-01"),
    Param::query("date_to", ParamType::Text, "day after the last, 2026-12-01"),
    Param::query(
        "days",
        ParamType::Integer,
        "the last days up to the end of today (default: 30 for the HS06 report, 7 for a site)",
    ),
    Param::query(
        "hours",
        ParamType::Integer,
        "the whole days holding the last hours",
    ),
];

/// Parameters any page takes that change nothing here.
const IGNORED_PARAMS: &[&str] = &["json", "_", "timestamp"];

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
                handler: get(jobs::jobs_page),
                doc: RouteDoc {
                    summary: "job accounting: a metric of completed jobs (counted in the bin of their end time) over time, grouped by one dimension, filtered on any (`computingsite=A|B`, `jobstatus=failed`, ...)",
                    vocabulary: None,
                    params: const {
                        &joined::<3, 6, 9>(
                            [
                                Param::query(
                                    "metric",
                                    ParamType::Text,
                                    "jobs (default), cores, walltime, walltime_ok, walltime_failed, cputime, hs06, cpueff, cpueff_ok, events, input_bytes, output_bytes of completed jobs; running_jobs, running_cores, running_hs06, pending_jobs from the 10-minute snapshots (means per bin)",
                                ),
                                Param::query(
                                    "groupby",
                                    ParamType::Text,
                                    "computingsite (default), cloud, tier, federation, country, resource_type, prodsourcelabel, activity, processingtype, gshare, workinggroup, campaign, inputdatatype, jobstatus, errorcategory (tier, federation and country from the queue's site in CRIC)",
                                ),
                                Param::query(
                                    "bin",
                                    ParamType::Text,
                                    "10m, 30m, 1h (default), 6h, 12h, 1d, 7d, 14d, 30d; under 1h only within the last 62 days",
                                ),
                            ],
                            SERIES_WINDOW,
                        )
                    },
                    response: schema::<jobs::AccountingJson>,
                    html: true,
                },
            },
            Route {
                path: "/accounting/hs06/",
                handler: get(hs06::hs06_page),
                doc: RouteDoc {
                    summary: "the HS06 report: HS06-hours, wall-clock core-hours, CPU hours, jobs and CPU efficiency of the completed jobs of a month or range, per site, federation, tier, country, cloud or queue, with pledges when configured",
                    vocabulary: None,
                    params: const {
                        &joined::<2, 5, 7>(
                            [
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
                            ],
                            DAY_WINDOW,
                        )
                    },
                    response: schema::<hs06::Hs06Json>,
                    html: true,
                },
            },
            Route {
                path: "/accounting/transfers/",
                handler: get(transfers::transfers_page),
                doc: RouteDoc {
                    summary: "file transfers (Rucio's transfer events): volume, throughput, files, failed attempts or efficiency over time by source or destination site, cloud, tier or country, activity, outcome or failure reason, filtered on any (`dst_site=A|B`, `state=failed`, ...); the efficiency of every group and the top failure reasons",
                    vocabulary: None,
                    params: const {
                        &joined::<3, 6, 9>(
                            [
                                Param::query(
                                    "metric",
                                    ParamType::Text,
                                    "volume (default, GB), throughput (MB/s), files, failures, efficiency (%)",
                                ),
                                Param::query(
                                    "groupby",
                                    ParamType::Text,
                                    "dst_site (default), src_site, src_cloud, dst_cloud, src_tier, dst_tier, src_country, dst_country, activity, state, reason",
                                ),
                                Param::query(
                                    "bin",
                                    ParamType::Text,
                                    "10m (within the last 30 days), 1h (default), 6h, 12h, 1d",
                                ),
                            ],
                            SERIES_WINDOW,
                        )
                    },
                    response: schema::<transfers::TransfersJson>,
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
                        &joined::<2, 5, 7>(
                            [
                                Param::path(
                                    "name",
                                    ParamType::Text,
                                    "the site (atlas_site), or one of its queues",
                                ),
                                Param::query(
                                    "format",
                                    ParamType::Text,
                                    "png or svg: the chart of jobs by status drawn on the server",
                                ),
                            ],
                            DAY_WINDOW,
                        )
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
    fn tables(&self) -> &'static [&'static str] {
        &[
            "schedconfig_json",
            "jedi_tasks",
            "error_descriptions",
            "ddm_endpoint",
            "transfer_events",
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
                name: "memory_mb",
                description: "megabytes of day rollups the server holds in memory for day bins and reports (default 1024, about 8 M rows); longer windows are answered, then let go",
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
                    let megabytes = state.settings.module_int(
                        NAME,
                        "memory_mb",
                        (DAY_ROLLUP_BUDGET >> 20) as i64,
                    );
                    store
                        .limit_day_rollups(
                            usize::try_from(megabytes)
                                .map_or(usize::MAX, |m| m.saturating_mul(1 << 20)),
                        )
                        .await;
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
    /// Over the whole window: the sum, or for an efficiency the ratio of the sums, or for a
    /// snapshot metric the mean.
    pub total: f64,
}

/// A series over time as the accounting pages answer it (JSON, CSV, the charts).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SeriesBody {
    pub metric: String,
    pub groupby: String,
    pub bin: String,
    /// Each bin's start (UTC); bins are half-open.
    pub bins: Vec<String>,
    /// Largest first, "other" last.
    pub series: Vec<SeriesJson>,
    /// Over the whole window (for an efficiency, of everything counted).
    pub total: f64,
    /// What the numbers are.
    pub unit: String,
    pub date_from: String,
    /// Exclusive.
    pub date_to: String,
    /// The bin size in seconds (not in JSON: `bin` names it).
    #[serde(skip)]
    pub bin_seconds: i64,
}

impl SeriesBody {
    #[allow(clippy::too_many_arguments)]
    fn new(
        metric: &str,
        groupby: &str,
        bin: i64,
        (from, to): (i64, i64),
        bins: &[i64],
        lines: &[Line],
        total: f64,
        unit: &str,
    ) -> SeriesBody {
        SeriesBody {
            metric: metric.to_string(),
            groupby: groupby.to_string(),
            bin: bin_name(bin).to_string(),
            bins: bins.iter().map(|b| iso(*b)).collect(),
            series: lines
                .iter()
                .map(|l| SeriesJson {
                    name: l.name.clone(),
                    values: l.values.iter().map(|v| round(*v)).collect(),
                    total: round(l.total),
                })
                .collect(),
            total: round(total),
            unit: unit.to_string(),
            date_from: iso(from),
            date_to: iso(to),
            bin_seconds: bin,
        }
    }
}

/// A bin size's name (`1h`, `1d`, ...).
fn bin_name(bin: i64) -> &'static str {
    BINS.iter()
        .find(|(_, s)| *s == bin)
        .map_or("1h", |(n, _)| *n)
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

/// A series page's filters as the page shows them: (dimension, its values joined by `|`).
fn filter_chips<D: Copy>(
    filters: &[(D, Vec<String>)],
    name: fn(D) -> &'static str,
) -> Vec<(String, String)> {
    filters
        .iter()
        .map(|(d, values)| (name(*d).to_string(), values.join("|")))
        .collect()
}

/// The dimension filters of a series page: every parameter that is not one of the page's own
/// (`A|B` or `A,B` for several values); a 400 naming an unknown one.
fn read_filters<D>(
    request: &PageRequest,
    parse: impl Fn(&str) -> Option<D>,
    names: &[&'static str],
) -> AppResult<Vec<(D, Vec<String>)>> {
    let mut filters = Vec::new();
    for (key, value) in &request.params {
        if PAGE_PARAMS.contains(&key.as_str()) || IGNORED_PARAMS.contains(&key.as_str()) {
            continue;
        }
        let Some(dimension) = parse(key) else {
            return Err(AppError::BadRequest(format!(
                "unknown parameter '{key}': filter on {} or set {}",
                names.join(", "),
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
    Ok(filters)
}

/// The window of a series page, aligned to the `resolution` it is summed from: `date_from`
/// (and `date_to`, default now), or `date_to` alone (the 2 days before it), or `hours` or
/// `days` ending now (default 2 days). Notes say when the window was widened.
fn read_window(
    request: &PageRequest,
    now: i64,
    resolution: i64,
) -> AppResult<(i64, i64, Vec<String>)> {
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
    let mut notes = Vec::new();
    if (aligned_from, aligned_to) != (from, to) {
        notes.push(format!(
            "the window is widened to whole bins: {} to {}",
            iso(aligned_from),
            iso(aligned_to)
        ));
    }
    Ok((aligned_from, aligned_to, notes))
}

/// A note on the server's own backfill while it runs.
async fn backfill_note(store: &StateStore) -> AppResult<Option<String>> {
    Ok(rollup::serve_backfill(store).await?.map(|p| {
        let days = (p.to - p.from) / 86_400;
        let done = (p.to - p.done_from) / 86_400;
        format!(
            "the rollups are being built: {done} of {days} days done (back to {}); older bins are still empty",
            iso(p.done_from)
        )
    }))
}

/// Rounds for display and JSON: whole numbers stay whole, others keep three decimals.
fn round(v: f64) -> f64 {
    (v * 1_000.0).round() / 1_000.0
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
fn csv(data: &SeriesBody) -> String {
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

/// The answer of a series page, which holds the series its files are made of.
trait SeriesAnswer: Serialize {
    fn series(&self) -> &SeriesBody;
}

/// A page's question read from its URL, and the notes on what was adjusted in it.
type Question<Q> = (Q, Vec<String>);

/// A series page (`/accounting/jobs/`, `/accounting/transfers/`): the question is read first, so
/// that a bad parameter answers 400 before anything is computed; the answer is computed once
/// per question (and cached as every page is) and given as CSV, PNG or SVG when `format=`
/// names one, else as JSON or as the page `render` draws.
async fn series_page<Q, A: SeriesAnswer>(
    request: PageRequest,
    read: fn(&PageRequest, i64) -> AppResult<Question<Q>>,
    ratio: fn(&Q) -> bool,
    answer: impl AsyncFnOnce(&PageRequest, &Q, Vec<String>) -> AppResult<A>,
    render: fn(&PageRequest, &Q, &A) -> AppResult<String>,
) -> AppResult<Response> {
    let now = chrono::Utc::now().timestamp();
    let (query, notes) = read(&request, now)?;
    let (request, format) = with_format(request)?;
    request
        .answer(None, || async {
            let data = answer(&request, &query, notes).await?;
            if let Some(file) = series_file(&request, format, data.series(), ratio(&query)) {
                return file;
            }
            request.reply(&data, false, || render(&request, &query, &data))
        })
        .await
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

/// A series as `format=csv`, `png` or `svg` asks (`None` for the other formats): exactly the
/// numbers the page plots. A ratio's series are drawn side by side, others stacked.
fn series_file(
    request: &PageRequest,
    format: &str,
    data: &SeriesBody,
    ratio: bool,
) -> Option<AppResult<Reply>> {
    if format == "csv" {
        return Some(request.reply_csv(csv(data)));
    }
    let image = image_format(format)?;
    let series: Vec<(String, Vec<f64>)> = data
        .series
        .iter()
        .map(|s| (s.name.clone(), s.values.clone()))
        .collect();
    let categories: Vec<String> = data
        .bins
        .iter()
        .map(|b| short_bin(b, data.bin_seconds))
        .collect();
    let title = format!(
        "{} by {}, {} to {}",
        data.unit, data.groupby, data.date_from, data.date_to
    );
    let chart = plot::BarChart {
        title: &title,
        categories: &categories,
        series: &series,
        stacked: !ratio,
    };
    Some(
        plot::draw(&chart, image)
            .map_err(AppError::from)
            .and_then(|bytes| request.reply_file(bytes, image.content_type())),
    )
}

/// What a series page shows of its series besides the numbers: the interactive chart, the
/// table's heads and totals, and the links to the same numbers as files.
struct ChartView {
    /// The page's own path, where its form asks again.
    path: String,
    chart: String,
    bin_labels: Vec<String>,
    /// What the table's column of each series' value over the window is called.
    total_label: &'static str,
    csv_url: String,
    json_url: String,
    png_url: String,
    svg_url: String,
}

impl ChartView {
    /// `total_label` names the value over the window: "total", "overall" for a ratio, "mean".
    fn new(
        request: &PageRequest,
        path: &str,
        data: &SeriesBody,
        ratio: bool,
        total_label: &'static str,
    ) -> ChartView {
        let short = |b: &String| short_bin(b, data.bin_seconds);
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
            "grouped": ratio,
        });
        let mut base: Vec<(&str, &str)> = request
            .params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "format" | "json"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        base.sort();
        let link = |extra: (&'static str, &'static str)| {
            let mut p = base.clone();
            p.push(extra);
            url(path, &p)
        };
        ChartView {
            path: path.to_string(),
            chart: chart.to_string(),
            bin_labels: data.bins.iter().map(|b| b.replace('T', " ")).collect(),
            total_label,
            csv_url: link(("format", "csv")),
            json_url: link(("json", "1")),
            png_url: link(("format", "png")),
            svg_url: link(("format", "svg")),
        }
    }
}

/// The grid's topology from the queues' CRIC documents (none when they cannot be read: the
/// dimensions derived from it are then empty).
async fn topology(request: &PageRequest) -> Topology {
    let state = &request.state;
    let Ok(queues) = state.reference.queues(&state.db).await else {
        return Topology::default();
    };
    Topology::new(queues.values().map(|q| {
        let field = |key: &str| {
            q.data
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        (
            q.queue.clone(),
            SiteFacts {
                site: q.attributes.site.clone(),
                cloud: q.attributes.cloud.clone(),
                tier: q.attributes.tier.clone(),
                federation: field("federation"),
                country: field("country"),
            },
        )
    }))
}

/// Said on every accounting page when there is no state store to keep rollups in.
const NO_STATE: &str =
    "accounting needs pandamon's state store, which is not open: see [state] in the README";

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
