//! The HS06 report (`/accounting/hs06/`): HS06-hours, wall-clock core-hours, CPU hours, jobs
//! and CPU efficiency of the completed jobs of a month or range, per site, federation, tier,
//! country, cloud or queue, with pledges when configured, and as CSV.

use super::{
    NAME, NO_STATE, backfill_note, csv_field, image_format, iso, parse_time, round, topology,
    with_format,
};
use crate::kit::error::{AppError, AppResult};
use crate::kit::format::{human_count, percent_text};
use crate::kit::links::{encode_segment, jobs_url, url};
use crate::kit::respond::PageRequest;
use askama::Template;
use axum::response::Response;
use chrono::NaiveDate;
use pandamon_accounting::rollup::{COMPLETED, ceil, floor};
use pandamon_accounting::{Dimension, series};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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
    /// The queues of the row (for the page's links).
    #[serde(skip)]
    #[schemars(skip)]
    pub queues: Vec<String>,
}

impl Hs06Row {
    /// A number of hours as the page shows it: whole, in groups of three digits.
    fn hours_text(hours: f64) -> String {
        human_count(hours.round() as i64)
    }
    fn hs06_text(&self) -> String {
        Self::hours_text(self.hs06_hours)
    }
    fn core_text(&self) -> String {
        Self::hours_text(self.core_hours)
    }
    fn cpu_text(&self) -> String {
        Self::hours_text(self.cpu_hours)
    }
    fn jobs_text(&self) -> String {
        human_count(self.jobs)
    }
    fn efficiency_text(&self) -> String {
        percent_text(Some(self.cpu_efficiency))
    }
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
        queues: Vec::new(),
    }
}

/// A window of whole days: a month, a range of days, or the last `days` (`default_days`
/// unless given) or the whole days holding the last `hours`, up to the end of today.
pub(super) fn day_window(
    request: &PageRequest,
    now: i64,
    default_days: i64,
) -> AppResult<(i64, i64)> {
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
        None => match request.whole_number("hours", 3_660 * 24)? {
            Some(hours) if request.param("days").is_none() => floor(now - hours * 3_600, DAY),
            _ => to - request.whole_number("days", 3_660)?.unwrap_or(default_days) * DAY,
        },
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
    notes.extend(backfill_note(store).await?);
    let topology = topology(request).await;
    let attribute = |queue: &str| -> String {
        let value = match (by, topology.queue(queue)) {
            ("queue", _) => queue,
            ("site", Some(f)) => f.site.as_str(),
            ("tier", Some(f)) => f.tier.as_str(),
            ("cloud", Some(f)) => f.cloud.as_str(),
            ("federation", Some(f)) => f.federation.as_str(),
            ("country", Some(f)) => f.country.as_str(),
            _ => "",
        };
        if value.is_empty() {
            format!("(queue {queue} without a {by})")
        } else {
            value.to_string()
        }
    };
    let queue_rows = series::window_rows(store, from, to, &[Dimension::Site]).await?;
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in &queue_rows {
        members
            .entry(attribute(&row.dims[0]))
            .or_default()
            .insert(row.dims[0].clone());
    }
    let sums = series::sum_by(&queue_rows, |_| true, |row| attribute(&row.dims[0]));
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
            let queues = members
                .remove(&name)
                .unwrap_or_default()
                .into_iter()
                .collect();
            Hs06Row {
                queues,
                ..hs06_row(name, &m, pledge, hours)
            }
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

/// The pages a report row leads to: what it names (a site's or queue's dashboard, else the
/// group's HS06 over time) and the jobs it counts (on the jobs page when its queues are few,
/// else by final status over time).
fn row_links(
    row: &Hs06Row,
    by: &str,
    window: &[(&str, &str); 2],
    statuses: &str,
) -> (String, String) {
    let over_time = |metric: &str, groupby: &str| {
        let mut p = vec![
            ("metric", metric),
            ("groupby", groupby),
            ("bin", "1d"),
            (by, row.name.as_str()),
        ];
        p.extend_from_slice(window);
        url("/accounting/jobs/", &p)
    };
    let queues = row.queues.join("|");
    let jobs = || {
        let mut p = vec![("computingsite", queues.as_str()), ("jobstatus", statuses)];
        p.extend_from_slice(window);
        jobs_url(&p)
    };
    match by {
        "site" | "queue" => (
            url(
                &format!("/accounting/site/{}/", encode_segment(&row.name)),
                window,
            ),
            jobs(),
        ),
        _ if row.queues.len() <= 20 => (over_time("hs06", "computingsite"), jobs()),
        _ => (
            over_time("hs06", "computingsite"),
            over_time("jobs", "jobstatus"),
        ),
    }
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
    /// Per row: the page of what it names, and the page of the jobs it counts.
    links: Vec<(String, String)>,
    by_choices: Vec<(&'static str, String)>,
    csv_url: String,
    json_url: String,
    pledges: bool,
}

pub async fn hs06_page(request: PageRequest) -> AppResult<Response> {
    let now = chrono::Utc::now().timestamp();
    let (from, to) = day_window(&request, now, 30)?;
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
                let (date_from, date_to) = (iso(from), iso(to));
                let window = [
                    ("date_from", date_from.as_str()),
                    ("date_to", date_to.as_str()),
                ];
                let report = |pairs: &[(&str, &str)]| {
                    let mut p = window.to_vec();
                    p.extend_from_slice(pairs);
                    url("/accounting/hs06/", &p)
                };
                let link = |extra: (&str, &str)| report(&[("by", by), extra]);
                let statuses = COMPLETED.join("|");
                Ok(Hs06Page {
                    links: data
                        .rows
                        .iter()
                        .map(|r| row_links(r, by, &window, &statuses))
                        .collect(),
                    by_choices: HS06_BY
                        .iter()
                        .map(|(b, _)| (*b, report(&[("by", b)])))
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
