//! The site-oriented dashboard (`/accounting/site/<site>/`): for one site (or the site of a
//! queue), over whole days (default the last 7), its completed jobs by ADC activity with their
//! job and CPU efficiency and wall time, the failed jobs by error category with the wall time
//! they lost, completed jobs per day by final status, and its running and pending jobs now.

use super::hs06::day_window;
use super::{NO_STATE, image_format, iso, round, short_bin, with_format};
use crate::kit::error::{AppError, AppResult};
use crate::kit::format::{human_bytes, human_count, percent_text};
use crate::kit::links::{jobs_url, url};
use crate::kit::plot;
use crate::kit::respond::PageRequest;
use crate::kit::source::keyed_groups;
use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use pandamon_accounting::series::{self, SeriesQuery};
use pandamon_accounting::transfers::{self, TransferDimension, TransferMetric, TransferQuery};
use pandamon_accounting::{Dimension, Metric};
use pandamon_query::fields;
use pandamon_store::accounting::{RollupRow, TransferRow};
use schemars::JsonSchema;
use serde::Serialize;

/// The completed jobs of one activity (or one error category) at the site.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteGroup {
    pub name: String,
    pub finished: i64,
    pub failed: i64,
    /// Finished over finished and failed, in %.
    pub job_efficiency: Option<f64>,
    /// Wall-clock core-hours of all completed jobs of the group.
    pub wall_hours: f64,
    /// CPU time over wall-clock core time, in %.
    pub cpu_efficiency: Option<f64>,
}

/// The file transfers of one activity into or out of the site.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteTransfers {
    /// `in`: into the site; `out`: out of it.
    pub direction: String,
    pub activity: String,
    pub done: i64,
    /// Failed attempts.
    pub failed: i64,
    /// Done over done and failed attempts, in %.
    pub efficiency: Option<f64>,
    pub bytes: i64,
}

impl SiteTransfers {
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

/// `/accounting/site/<site>/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteJson {
    pub site: String,
    pub queues: Vec<String>,
    pub date_from: String,
    /// Exclusive.
    pub date_to: String,
    pub by_activity: Vec<SiteGroup>,
    /// Failed jobs by the category of their first error.
    pub errors: Vec<SiteGroup>,
    /// File transfers into or out of the site, by activity.
    pub transfers: Vec<SiteTransfers>,
    /// Jobs running and pending now (modified in the last 12 hours).
    pub running: i64,
    pub pending: i64,
    pub notes: Vec<String>,
}

fn group(name: String, m: &[i64; 10], finished: i64, failed: i64) -> SiteGroup {
    SiteGroup {
        name,
        finished,
        failed,
        job_efficiency: (finished + failed > 0)
            .then(|| round(100.0 * finished as f64 / (finished + failed) as f64)),
        wall_hours: round(m[3] as f64 / 3_600.0),
        cpu_efficiency: (m[3] > 0).then(|| round(100.0 * m[4] as f64 / m[3] as f64)),
    }
}

#[derive(Template)]
#[template(path = "accounting_site.html")]
struct SitePage<'a> {
    data: &'a SiteJson,
    chart: String,
    running_link: String,
    pending_link: String,
    over_time: String,
    hs06: String,
    /// Per transfer row: its page on the transfer dashboard.
    transfer_links: Vec<String>,
    /// Per activity and per error category: the site's jobs of it over time, by final status.
    activity_links: Vec<String>,
    error_links: Vec<String>,
}

pub async fn site_page(Path(name): Path<String>, request: PageRequest) -> AppResult<Response> {
    let now = chrono::Utc::now().timestamp();
    let (from, to) = day_window(&request, now, 7)?;
    let (request, format) = with_format(request)?;
    if format == "csv" {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'format': the site page answers json, png or svg".into(),
        ));
    }
    let bin = if to - from > 14 * 86_400 {
        86_400
    } else {
        21_600
    };
    request
        .answer(None, || async {
            let state = &request.state;
            let queues = state.reference.queues(&state.db).await?;
            // A site name, or a queue standing for its site.
            let site = queues
                .get(&name)
                .map_or(name.clone(), |q| q.attributes.site.clone());
            let names: Vec<String> = queues
                .values()
                .filter(|q| q.attributes.site == site)
                .map(|q| q.queue.clone())
                .collect();
            if names.is_empty() {
                return Err(AppError::NotFound(format!("site {name}")));
            }
            let joined = names.join("|");
            let mut notes = Vec::new();
            let (mut by_activity, mut errors, mut chart_series) = (Vec::new(), Vec::new(), None);
            let mut transfer_groups = Vec::new();
            if let Some(store) = &state.state {
                let topology = super::topology(&request).await;
                // The site's rows of the window, read once for every table.
                let needed = [
                    Dimension::Site,
                    Dimension::JobStatus,
                    Dimension::Activity,
                    Dimension::ErrorCategory,
                ];
                let rows: Vec<RollupRow> = series::window_rows(store, from, to, &needed)
                    .await?
                    .into_iter()
                    .filter(|row| names.contains(&row.dims[0]))
                    .collect();
                let status_is = |status: &'static str| {
                    move |row: &RollupRow| row.dims[8] == status
                };
                let activity =
                    |row: &RollupRow| Dimension::Activity.value(row, &topology).into_owned();
                let finished = series::sum_by(&rows, status_is("finished"), activity);
                let failed = series::sum_by(&rows, status_is("failed"), activity);
                let jobs = |sums: &std::collections::BTreeMap<String, series::RowSums>, name: &str| {
                    sums.get(name).map_or(0, |m| m[0])
                };
                by_activity = series::sum_by(&rows, |_| true, activity)
                    .into_iter()
                    .map(|(name, m)| {
                        let (f, x) = (jobs(&finished, &name), jobs(&failed, &name));
                        group(name, &m, f, x)
                    })
                    .collect();
                by_activity.sort_by(|a, b| b.wall_hours.total_cmp(&a.wall_hours));
                errors = series::sum_by(&rows, status_is("failed"), |row| {
                    Dimension::ErrorCategory.value(row, &topology).into_owned()
                })
                .into_iter()
                .map(|(name, m)| group(name, &m, 0, m[0]))
                .collect();
                errors.sort_by_key(|g| std::cmp::Reverse(g.failed));
                let q = SeriesQuery {
                    metric: Metric::Jobs,
                    groupby: Dimension::JobStatus,
                    bin,
                    from,
                    to,
                    filters: vec![(Dimension::Site, names.clone())],
                    top: None,
                };
                if q.check(now).is_ok() {
                    chart_series = Some(series::series(store, &topology, &q).await?);
                }
                // Transfers into and out of the site, by activity.
                let tq = TransferQuery {
                    metric: TransferMetric::Efficiency,
                    groupby: TransferDimension::Activity,
                    bin: 86_400,
                    from,
                    to,
                    filters: Vec::new(),
                    top: None,
                };
                let moved: Vec<TransferRow> = transfers::rows(store, &topology, &tq).await?;
                for (direction, end) in [("in", 1), ("out", 0)] {
                    let mine: Vec<TransferRow> = moved
                        .iter()
                        .filter(|r| r.dims[end] == site)
                        .cloned()
                        .collect();
                    transfer_groups.extend(
                        transfers::totals_by(&mine, |r| r.dims[2].clone())
                            .into_iter()
                            .map(|(activity, t)| SiteTransfers {
                                direction: direction.to_string(),
                                activity,
                                done: t.done,
                                failed: t.failed,
                                efficiency: t.efficiency().map(round),
                                bytes: t.bytes,
                            }),
                    );
                }
            } else {
                notes.push(NO_STATE.into());
            }
            let selection = request.selection(
                &fields::JOBS,
                12,
                &[("computingsite", joined.clone())],
            );
            let (running, pending) = match selection {
                Ok(selection) => {
                    let (groups, _) = keyed_groups(state, &selection, &["jobstatus"]).await?;
                    let sum = |statuses: &[&str]| -> i64 {
                        groups
                            .iter()
                            .filter(|(k, _)| statuses.contains(&k[0].as_str()))
                            .map(|(_, n)| n)
                            .sum()
                    };
                    (sum(&["running"]), sum(&super::ssb::PENDING))
                }
                Err(_) => (0, 0),
            };
            let data = SiteJson {
                site: site.clone(),
                queues: names.clone(),
                date_from: iso(from),
                date_to: iso(to),
                by_activity,
                errors,
                transfers: transfer_groups,
                running,
                pending,
                notes,
            };
            if let Some(image) = image_format(format) {
                let (categories, series) = chart_series.as_ref().map_or_else(Default::default, |s| {
                    (
                        s.bins.iter().map(|b| short_bin(&iso(*b), bin)).collect::<Vec<_>>(),
                        s.lines.iter().map(|l| (l.name.clone(), l.values.clone())).collect::<Vec<_>>(),
                    )
                });
                let title = format!("{site}: completed jobs by final status, {} to {}", data.date_from, data.date_to);
                let chart = plot::BarChart {
                    title: &title,
                    categories: &categories,
                    series: &series,
                    stacked: true,
                };
                return request.reply_file(plot::draw(&chart, image)?, image.content_type());
            }
            request.reply(&data, false, || {
                let chart = chart_series.as_ref().map_or(String::new(), |s| {
                    serde_json::json!({
                        "type": "bar",
                        "title": "completed jobs by final status",
                        "categories": s.bins.iter().map(|b| short_bin(&iso(*b), bin)).collect::<Vec<_>>(),
                        "series": s.lines.iter().map(|l| serde_json::json!({"name": l.name, "data": l.values})).collect::<Vec<_>>(),
                        "wide": true,
                    })
                    .to_string()
                });
                let window = |status: &str| {
                    jobs_url(&[("computingsite", joined.as_str()), ("jobstatus", status), ("hours", "12")])
                };
                let over_time = |dimension: &str, value: &str| {
                    url(
                        "/accounting/jobs/",
                        &[
                            ("computingsite", joined.as_str()),
                            (dimension, value),
                            ("groupby", "jobstatus"),
                            ("bin", "1d"),
                            ("date_from", &data.date_from),
                            ("date_to", &data.date_to),
                        ],
                    )
                };
                Ok(SitePage {
                    chart,
                    running_link: window("running"),
                    pending_link: window(&super::ssb::PENDING.join("|")),
                    over_time: url(
                        "/accounting/jobs/",
                        &[
                            ("computingsite", joined.as_str()),
                            ("groupby", "activity"),
                            ("date_from", &data.date_from),
                            ("date_to", &data.date_to),
                        ],
                    ),
                    activity_links: data
                        .by_activity
                        .iter()
                        .map(|g| over_time("activity", &g.name))
                        .collect(),
                    error_links: data
                        .errors
                        .iter()
                        .map(|g| over_time("errorcategory", &g.name))
                        .collect(),
                    transfer_links: data
                        .transfers
                        .iter()
                        .map(|t| {
                            let end = if t.direction == "in" { "dst_site" } else { "src_site" };
                            url(
                                "/accounting/transfers/",
                                &[
                                    (end, site.as_str()),
                                    ("activity", t.activity.as_str()),
                                    ("groupby", if end == "dst_site" { "src_site" } else { "dst_site" }),
                                    ("date_from", &data.date_from),
                                    ("date_to", &data.date_to),
                                ],
                            )
                        })
                        .collect(),
                    hs06: url(
                        "/accounting/hs06/",
                        &[("by", "queue"), ("date_from", &data.date_from[..10]), ("date_to", &data.date_to[..10])],
                    ),
                    data: &data,
                }
                .render()?)
            })
        })
        .await
}

impl SiteGroup {
    fn job_efficiency_text(&self) -> String {
        percent_text(self.job_efficiency)
    }
    fn cpu_efficiency_text(&self) -> String {
        percent_text(self.cpu_efficiency)
    }
    fn finished_text(&self) -> String {
        human_count(self.finished)
    }
    fn failed_text(&self) -> String {
        human_count(self.failed)
    }
    fn wall_text(&self) -> String {
        human_count(self.wall_hours.round() as i64)
    }
}
