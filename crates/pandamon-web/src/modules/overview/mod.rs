//! The overview module: `/`, the page a shifter opens first. Jobs by state in the window, the
//! sites failing most, the biggest error codes and the newest failing tasks, each count a link
//! to the jobs or tasks behind it.

use crate::kit::error::AppResult;
use crate::kit::facets::{JobStatusCount, job_summary};
use crate::kit::format::{cell_text, describe_window, failure_percent, human_count, percent_text};
use crate::kit::joberrors::{
    ErrorCount, error_columns, error_jobs_link, error_summary, job_tables,
};
use crate::kit::links::{encode_segment, jobs_with, url};
use crate::kit::module::{Module, Route, RouteDoc, schema};
use crate::kit::respond::{PageRequest, project_rows};
use crate::kit::source::{self, keyed_groups};
use crate::kit::state::AppState;
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use pandamon_model::JobStatus;
use pandamon_query::{Selection, fields};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

pub struct Overview;

impl Module for Overview {
    fn name(&self) -> &'static str {
        "overview"
    }
    fn description(&self) -> &'static str {
        "the landing page: jobs by state, failing sites, biggest errors, newest failing tasks"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["jedi_tasks", "error_descriptions"]
    }
    fn routes(&self) -> Vec<Route> {
        vec![Route {
            path: "/",
            handler: get(overview),
            doc: RouteDoc {
                summary: "overview of the window: jobs by status, sites by failure rate, top error codes, newest failing tasks",
                vocabulary: Some(&fields::JOBS),
                params: &[],
                response: schema::<OverviewJson>,
                html: true,
            },
        }]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&fields::JOBS]
    }
}

/// Completed jobs a site needs in the window before its failure rate ranks it.
const MIN_COMPLETED: i64 = 10;
/// Rows of each list.
const TOP: usize = 10;
/// Task statuses that mean the task is failing.
const FAILING_TASKS: &str = "failed|broken|exhausted|aborted";
/// The task columns the list shows.
const TASK_COLUMNS: &[&str] = &[
    "jeditaskid",
    "taskname",
    "status",
    "username",
    "modificationtime",
];

/// One site's completed jobs in the window.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteFailure {
    pub computingsite: String,
    pub finished: i64,
    pub failed: i64,
    /// failed / (finished + failed), in percent.
    pub failure_percent: f64,
    /// Above the configured failure rate (`[modules.sites] failure_percent`).
    pub flagged: bool,
}

/// `/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OverviewJson {
    pub jobsummary: Vec<JobStatusCount>,
    /// Sites with at least 10 completed jobs, highest failure rate first.
    pub worstsites: Vec<SiteFailure>,
    /// The biggest error codes of the failed and holding jobs (bigmon's `errsByCount` entries).
    #[serde(rename = "errsByCount")]
    pub errs_by_count: Vec<ErrorCount>,
    /// The most recently modified failed, broken, exhausted or aborted tasks.
    pub failingtasks: Vec<Map<String, Json>>,
    pub failure_percent_limit: f64,
    pub notes: Vec<String>,
}

async fn overview(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let selection = request.selection(&fields::JOBS, 12, &[])?;
    request
        .answer(&selection, || async {
            let data = collect(state, &selection).await?;
            request.reply(&data, source::on_index(state, &selection), || {
                render(&selection, &data)
            })
        })
        .await
}

pub async fn collect(state: &AppState, selection: &Selection) -> AppResult<OverviewJson> {
    let (rows, _) = keyed_groups(state, selection, &["computingsite", "jobstatus"]).await?;
    let jobsummary = job_summary(rows.iter().map(|(k, n)| (k[1].clone(), *n)));
    let limit = state.settings.failure_percent();
    let mut per_site: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (keys, n) in &rows {
        let entry = per_site.entry(keys[0].as_str()).or_default();
        match keys[1].as_str() {
            "finished" => entry.0 += n,
            "failed" => entry.1 += n,
            _ => {}
        }
    }
    let mut worstsites: Vec<SiteFailure> = per_site
        .into_iter()
        .filter(|(_, (finished, failed))| finished + failed >= MIN_COMPLETED && *failed > 0)
        .filter_map(|(site, (finished, failed))| {
            let p = failure_percent(finished, failed)?;
            Some(SiteFailure {
                computingsite: site.to_string(),
                finished,
                failed,
                failure_percent: (p * 10.0).round() / 10.0,
                flagged: p > limit,
            })
        })
        .collect();
    worstsites.sort_by(|a, b| {
        b.failure_percent
            .total_cmp(&a.failure_percent)
            .then_with(|| b.failed.cmp(&a.failed))
            .then_with(|| a.computingsite.cmp(&b.computingsite))
    });
    worstsites.truncate(TOP);

    let failing = selection.and_in("jobstatus", &["failed", "holding"]);
    let (groups, _) =
        source::group(state, &failing, &job_tables(selection), error_columns()).await?;
    let descriptions = state.reference.error_descriptions(&state.db).await?;
    let mut errs_by_count = error_summary(&groups, &descriptions);
    errs_by_count.truncate(TOP);

    let tasks = crate::kit::respond::parse_selection(
        &[
            ("status".to_string(), FAILING_TASKS.to_string()),
            ("display_limit".to_string(), TOP.to_string()),
        ],
        &[],
        &fields::TASKS,
        24 * 7,
    )?;
    let task_rows = state
        .db
        .page_rows(&["jedi_tasks"], TASK_COLUMNS, &tasks, TOP as u64, 0)
        .await?;
    Ok(OverviewJson {
        jobsummary,
        worstsites,
        errs_by_count,
        failingtasks: project_rows(&tasks, TASK_COLUMNS, task_rows),
        failure_percent_limit: limit,
        notes: selection.notes.clone(),
    })
}

/// A count with the link to what it counts.
struct Linked {
    label: String,
    count: String,
    href: String,
    class: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage<'a> {
    data: &'a OverviewJson,
    window: String,
    /// Jobs by status still in the system, and those that ended, in the window.
    current: Vec<Linked>,
    ended: Vec<Linked>,
    /// Per worst site: its failed jobs, its finished jobs, its jobs, its failure rate.
    sites: Vec<(String, String, String, String)>,
    /// Per error: its failing jobs.
    error_links: Vec<String>,
    tasks: Vec<(String, String, String, String, String, String)>,
}

fn render(selection: &Selection, data: &OverviewJson) -> AppResult<String> {
    let linked = |s: &JobStatusCount| Linked {
        label: s.jobstatus.clone(),
        count: human_count(s.count),
        href: url("/jobs/", &[("jobstatus", &s.jobstatus)]),
        class: format!("st-{}", s.jobstatus),
    };
    let ended_states = [
        JobStatus::Finished,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Closed,
    ];
    let is_ended = |s: &JobStatusCount| {
        JobStatus::parse(&s.jobstatus).is_some_and(|st| ended_states.contains(&st))
    };
    let window: Vec<(String, String)> = window_params(selection);
    let page = OverviewPage {
        window: describe_window(selection),
        current: data
            .jobsummary
            .iter()
            .filter(|s| !is_ended(s))
            .map(linked)
            .collect(),
        ended: data
            .jobsummary
            .iter()
            .filter(|s| is_ended(s))
            .map(linked)
            .collect(),
        sites: data
            .worstsites
            .iter()
            .map(|s| {
                let site = s.computingsite.as_str();
                (
                    jobs_with(&window, &[("computingsite", site), ("jobstatus", "failed")]),
                    jobs_with(
                        &window,
                        &[("computingsite", site), ("jobstatus", "finished")],
                    ),
                    jobs_with(&window, &[("computingsite", site)]),
                    percent_text(Some(s.failure_percent)),
                )
            })
            .collect(),
        error_links: data
            .errs_by_count
            .iter()
            .map(|e| error_jobs_link(&window, &e.error, &[]))
            .collect(),
        tasks: data
            .failingtasks
            .iter()
            .map(|t| {
                let text = |k: &str| t.get(k).map(cell_text).unwrap_or_default();
                (
                    text("jeditaskid"),
                    text("taskname"),
                    text("status"),
                    format!("/user/{}/", encode_segment(&text("username"))),
                    text("username"),
                    text("modificationtime"),
                )
            })
            .collect(),
        data,
    };
    Ok(page.render()?)
}

/// The window of the overview as `/jobs/` parameters, so the counts' links show the same jobs.
fn window_params(selection: &Selection) -> Vec<(String, String)> {
    let show = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map_or(String::new(), |t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
    };
    match selection.window {
        Some((from, to)) => vec![
            ("date_from".to_string(), show(from)),
            ("date_to".to_string(), show(to)),
        ],
        None => Vec::new(),
    }
}
