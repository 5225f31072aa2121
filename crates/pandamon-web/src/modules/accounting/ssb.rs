//! The Site Status Board (`/ssb/`): every site with its PanDA queues and their states (from
//! `schedconfig_json`), its running and pending jobs, and the job and transfer efficiency of
//! the last hours, colour-coded, worst first; every number links to what it counts.

use super::iso;
use crate::kit::error::AppResult;
use crate::kit::format::{describe_window, human_count, percent_text};
use crate::kit::links::{jobs_with, url};
use crate::kit::respond::PageRequest;
use crate::kit::source::keyed_groups;
use askama::Template;
use axum::response::Response;
use pandamon_accounting::Topology;
use pandamon_accounting::rollup::{ceil, floor};
use pandamon_accounting::transfers::{
    self, TransferDimension, TransferMetric, TransferQuery, TransferTotals,
};
use pandamon_query::fields;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Job statuses counted as pending: waiting for a slot or for their input.
pub const PENDING: [&str; 4] = ["defined", "waiting", "assigned", "activated"];

/// Below this job efficiency (finished over finished and failed, %) a site is marked bad; below
/// [`GOOD`] a warning.
const BAD: f64 = 75.0;
const GOOD: f64 = 90.0;

/// One PanDA queue of a site.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SsbQueue {
    pub queue: String,
    /// The queue's state in `schedconfig_json` (online, offline, test, brokeroff, ...).
    pub status: String,
}

/// One site of the board.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SsbSite {
    pub site: String,
    pub tier: String,
    pub cloud: String,
    pub queues: Vec<SsbQueue>,
    pub running: i64,
    pub pending: i64,
    pub finished: i64,
    pub failed: i64,
    /// Finished over finished and failed, in %; none without completed jobs.
    pub job_efficiency: Option<f64>,
    /// File transfers into or out of the site in the window: done, failed attempts.
    pub transfers_done: i64,
    pub transfers_failed: i64,
    /// Done over done and failed attempts, in %; none without transfers.
    pub transfer_efficiency: Option<f64>,
}

/// One line of the page: the site and its links.
struct SsbLine {
    site: SsbSite,
    /// running, pending, finished, failed: (count, jobs page).
    cells: Vec<(String, String)>,
    efficiency: String,
    efficiency_class: &'static str,
    transfer_efficiency: String,
    transfer_class: &'static str,
    /// The transfer dashboard of the site's incoming transfers.
    transfers: String,
    accounting: String,
}

#[derive(Template)]
#[template(path = "ssb.html")]
struct SsbPage {
    window: String,
    lines: Vec<SsbLine>,
    bad: f64,
    good: f64,
}

fn efficiency_class(p: Option<f64>) -> &'static str {
    match p {
        None => "",
        Some(p) if p < BAD => "bad",
        Some(p) if p < GOOD => "warn",
        Some(_) => "ok",
    }
}

pub async fn ssb_page(request: PageRequest) -> AppResult<Response> {
    let selection = request.selection(&fields::JOBS, 12, &[])?;
    request
        .answer(&selection, || async {
            let state = &request.state;
            let queues = state.reference.queues(&state.db).await?;
            let (groups, _) =
                keyed_groups(state, &selection, &["computingsite", "jobstatus"]).await?;
            let mut counts: HashMap<&str, HashMap<&str, i64>> = HashMap::new();
            for (keys, n) in &groups {
                *counts
                    .entry(keys[0].as_str())
                    .or_default()
                    .entry(keys[1].as_str())
                    .or_default() += n;
            }
            let mut by_site: BTreeMap<&str, Vec<&crate::kit::reference::QueueInfo>> =
                BTreeMap::new();
            for q in queues.values() {
                by_site
                    .entry(q.attributes.site.as_str())
                    .or_default()
                    .push(q);
            }
            let moved = transfer_totals(&request, selection.window).await?;
            let mut sites: Vec<SsbSite> = by_site
                .into_iter()
                .map(|(site, qs)| {
                    let count = |statuses: &[&str]| -> i64 {
                        qs.iter()
                            .filter_map(|q| counts.get(q.queue.as_str()))
                            .flat_map(|c| statuses.iter().filter_map(|s| c.get(s)))
                            .sum()
                    };
                    let (finished, failed) = (count(&["finished"]), count(&["failed"]));
                    let t = moved.get(site).copied().unwrap_or_default();
                    SsbSite {
                        site: site.to_string(),
                        tier: qs[0].attributes.tier.clone(),
                        cloud: qs[0].attributes.cloud.clone(),
                        queues: qs
                            .iter()
                            .map(|q| SsbQueue {
                                queue: q.queue.clone(),
                                status: q.attributes.status.clone(),
                            })
                            .collect(),
                        running: count(&["running"]),
                        pending: count(&PENDING),
                        finished,
                        failed,
                        job_efficiency: (finished + failed > 0)
                            .then(|| 100.0 * finished as f64 / (finished + failed) as f64),
                        transfers_done: t.done,
                        transfers_failed: t.failed,
                        transfer_efficiency: t.efficiency(),
                    }
                })
                .collect();
            // Worst first; sites without completed jobs last, by name.
            sites.sort_by(|a, b| match (a.job_efficiency, b.job_efficiency) {
                (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.site.cmp(&b.site)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.site.cmp(&b.site),
            });
            request.reply(&sites, false, || {
                let params = &request.params;
                let lines = sites
                    .iter()
                    .map(|s| {
                        let names: Vec<&str> = s.queues.iter().map(|q| q.queue.as_str()).collect();
                        let queues = names.join("|");
                        let link = |status: &str| {
                            jobs_with(params, &[("computingsite", &queues), ("jobstatus", status)])
                        };
                        let pending = PENDING.join("|");
                        let transfers_url = match selection.window {
                            Some((from, to)) => url(
                                "/accounting/transfers/",
                                &[
                                    ("dst_site", s.site.as_str()),
                                    ("groupby", "src_site"),
                                    ("metric", "efficiency"),
                                    ("date_from", &iso(from)),
                                    ("date_to", &iso(to)),
                                ],
                            ),
                            None => url(
                                "/accounting/transfers/",
                                &[("dst_site", s.site.as_str()), ("metric", "efficiency")],
                            ),
                        };
                        let cells = [
                            (s.running, link("running")),
                            (s.pending, link(&pending)),
                            (s.finished, link("finished")),
                            (s.failed, link("failed")),
                        ]
                        .into_iter()
                        .map(|(n, href)| (human_count(n), href))
                        .collect();
                        SsbLine {
                            cells,
                            efficiency: percent_text(s.job_efficiency),
                            efficiency_class: efficiency_class(s.job_efficiency),
                            transfer_efficiency: percent_text(s.transfer_efficiency),
                            transfer_class: efficiency_class(s.transfer_efficiency),
                            transfers: transfers_url,
                            accounting: url(
                                "/accounting/jobs/",
                                &[
                                    ("computingsite", &queues),
                                    ("groupby", "jobstatus"),
                                    ("days", "2"),
                                ],
                            ),
                            site: s.clone(),
                        }
                    })
                    .collect();
                Ok(SsbPage {
                    window: describe_window(&selection),
                    lines,
                    bad: BAD,
                    good: GOOD,
                }
                .render()?)
            })
        })
        .await
}

/// Each site's file transfers (as source or destination) in `window`, from the minute
/// rollups; none without a state store or a window.
async fn transfer_totals(
    request: &PageRequest,
    window: Option<(i64, i64)>,
) -> AppResult<HashMap<String, TransferTotals>> {
    let mut out: HashMap<String, TransferTotals> = HashMap::new();
    let (Some(store), Some((from, to))) = (&request.state.state, window) else {
        return Ok(out);
    };
    let query = TransferQuery {
        metric: TransferMetric::Efficiency,
        groupby: TransferDimension::DstSite,
        bin: 600,
        from: floor(from, 60),
        to: ceil(to, 60),
        filters: Vec::new(),
        top: None,
    };
    let rows = transfers::rows(store, &Topology::default(), &query).await?;
    for end in [0, 1] {
        for (site, t) in transfers::totals_by(&rows, |r| r.dims[end].clone()) {
            let sum = out.entry(site).or_default();
            sum.done += t.done;
            sum.failed += t.failed;
            sum.bytes += t.bytes;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efficiency_colours_have_thresholds() {
        assert_eq!(efficiency_class(None), "");
        assert_eq!(efficiency_class(Some(50.0)), "bad");
        assert_eq!(efficiency_class(Some(80.0)), "warn");
        assert_eq!(efficiency_class(Some(95.0)), "ok");
    }
}
