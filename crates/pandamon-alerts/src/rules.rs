//! The alert rules: each reads the database and returns its findings. A finding is one
//! subject (a staging request, a site, a task) that may be reported once per repeat interval;
//! findings of one group go out together in one message.

use crate::config::AlertsConfig;
use chrono::{Duration, NaiveDateTime};
use pandamon_model::JobTable;
use pandamon_query::{Defaults, Selection, fields};
use pandamon_store::Db;
use pandamon_store::carousel::{CarouselFilter, CarouselRequest};
use pandamon_store::catalog::ColType;
use std::collections::BTreeMap;

/// One thing worth an e-mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static str,
    /// What is reported once per repeat interval: `request 42`, `site X`, `task 7`.
    pub subject: String,
    /// Findings of one group travel in one message.
    pub group: String,
    pub recipients: Vec<String>,
    /// The message's subject line.
    pub title: String,
    /// The message's first paragraph.
    pub intro: String,
    pub columns: &'static [&'static str],
    /// Cells with links relative to the monitor.
    pub cells: Vec<(String, Option<String>)>,
}

/// Which rule, for runs and the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    StalledStaging,
    SiteFailureSpike,
    StuckTasks,
}

impl Rule {
    pub const ALL: [Rule; 3] = [
        Rule::StalledStaging,
        Rule::SiteFailureSpike,
        Rule::StuckTasks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::StalledStaging => "stalled_staging",
            Rule::SiteFailureSpike => "site_failure_spike",
            Rule::StuckTasks => "stuck_tasks",
        }
    }

    /// What the rule reports, in one line.
    pub fn describe(self, config: &AlertsConfig) -> String {
        match self {
            Rule::StalledStaging => format!(
                "tape staging requests without a staged file for {} days (task not final, datasets with lost files left out), per source; tape problems also to the source's contacts",
                config.stalled_staging.days
            ),
            Rule::SiteFailureSpike => format!(
                "sites where more than {:.0}% of the jobs completed in the last hour failed (at least {} jobs)",
                config.site_failure_spike.threshold * 100.0,
                config.site_failure_spike.min_jobs
            ),
            Rule::StuckTasks => format!(
                "running tasks without a finished job for {} hours",
                config.stuck_tasks.hours
            ),
        }
    }

    pub fn enabled(self, config: &AlertsConfig) -> bool {
        match self {
            Rule::StalledStaging => config.stalled_staging.enabled,
            Rule::SiteFailureSpike => config.site_failure_spike.enabled,
            Rule::StuckTasks => config.stuck_tasks.enabled,
        }
    }

    pub fn schedule(self, config: &AlertsConfig) -> crate::Schedule {
        match self {
            Rule::StalledStaging => config.stalled_staging.schedule,
            Rule::SiteFailureSpike => config.site_failure_spike.schedule,
            Rule::StuckTasks => config.stuck_tasks.schedule,
        }
    }

    /// The findings at `now`.
    pub async fn evaluate(
        self,
        db: &Db,
        config: &AlertsConfig,
        now: NaiveDateTime,
    ) -> pandamon_store::Result<Vec<Finding>> {
        match self {
            Rule::StalledStaging => stalled_staging(db, config, now).await,
            Rule::SiteFailureSpike => site_failure_spike(db, config, now).await,
            Rule::StuckTasks => stuck_tasks(db, config, now).await,
        }
    }
}

fn with_contacts(experts: &[String], contacts: Option<&Vec<String>>) -> Vec<String> {
    let mut all: Vec<String> = experts.to_vec();
    for c in contacts.into_iter().flatten() {
        if !all.contains(c) {
            all.push(c.clone());
        }
    }
    all
}

const STALLED_COLUMNS: &[&str] = &[
    "request",
    "dataset",
    "task",
    "staged / total files",
    "days without progress",
    "tape",
    "rule",
    "rule error",
];

/// bigmon's stalled-staging report: requests staging, not ended, task not final, nothing
/// staged for `days`; datasets with lost files dropped; one message per source RSE and kind
/// of problem.
async fn stalled_staging(
    db: &Db,
    config: &AlertsConfig,
    now: NaiveDateTime,
) -> pandamon_store::Result<Vec<Finding>> {
    let rule = &config.stalled_staging;
    let rows = db
        .carousel_requests(&CarouselFilter {
            status: Some("staging".to_string()),
            ..CarouselFilter::default()
        })
        .await?;
    // One request feeds one or more tasks: stalled when stalled for any open task, dropped
    // when any of them lost files.
    let mut by_request: BTreeMap<i64, Vec<&CarouselRequest>> = BTreeMap::new();
    for r in &rows {
        by_request.entry(r.request_id).or_default().push(r);
    }
    let mut findings = Vec::new();
    for (id, rows) in by_request {
        if rows.iter().any(|r| r.lost_files()) {
            continue;
        }
        let Some((r, days)) = rows
            .iter()
            .filter_map(|r| r.stalled_days(now).map(|d| (*r, d)))
            .find(|(_, d)| *d > rule.days)
        else {
            continue;
        };
        let tape = r.tape_problem();
        let rse = r
            .source_rse
            .clone()
            .unwrap_or_else(|| "unknown".to_string());
        let (recipients, title, intro) = if tape {
            (
                with_contacts(&config.experts, rule.contacts.get(&rse)),
                format!("[pandamon] Stalled tape staging at {rse}: tape problem"),
                format!(
                    "These staging requests from {rse} have staged no file for more than {} days, and their Rucio rules report a tape problem.",
                    rule.days
                ),
            )
        } else {
            (
                config.experts.clone(),
                format!("[pandamon] Stalled staging from {rse}: likely not a tape problem"),
                format!(
                    "These staging requests from {rse} have staged no file for more than {} days; their Rucio rules show no tape error, so the problem is likely not the tape.",
                    rule.days
                ),
            )
        };
        let task = r.task_id;
        findings.push(Finding {
            rule: Rule::StalledStaging.name(),
            subject: format!("request {id}"),
            group: format!("{rse} {}", if tape { "tape" } else { "other" }),
            recipients,
            title,
            intro,
            columns: STALLED_COLUMNS,
            cells: vec![
                (
                    id.to_string(),
                    task.map(|t| format!("/dc/dash/?jeditaskid={t}")),
                ),
                (r.dataset.clone(), None),
                (
                    task.map(|t| t.to_string()).unwrap_or_default(),
                    task.map(|t| format!("/task/{t}/")),
                ),
                (format!("{} / {}", r.staged_files, r.total_files), None),
                (format!("{days:.1}"), None),
                (r.source_tape.clone().unwrap_or_default(), None),
                (r.ddm_rule_id.clone().unwrap_or_default(), None),
                (r.rule_error().unwrap_or_default(), None),
            ],
        });
    }
    Ok(findings)
}

const SPIKE_COLUMNS: &[&str] = &["site", "failed", "finished", "failed %"];

/// Sites whose completed jobs of the last hour mostly failed.
async fn site_failure_spike(
    db: &Db,
    config: &AlertsConfig,
    now: NaiveDateTime,
) -> pandamon_store::Result<Vec<Finding>> {
    let rule = &config.site_failure_spike;
    let selection = Selection::parse(
        [("jobstatus", "finished|failed"), ("hours", "1")],
        Defaults {
            window_hours: 1,
            now: now.and_utc().timestamp(),
            vocabulary: &fields::JOBS,
        },
    )
    .map_err(|_| pandamon_store::StoreError::Decode("the selection of the failure-spike rule"))?;
    let groups = db
        .group_jobs(
            &[JobTable::Active, JobTable::Archived],
            &[
                ("computingsite", ColType::Text),
                ("jobstatus", ColType::Text),
            ],
            &selection,
        )
        .await?;
    let mut sites: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for g in groups {
        let (Some(site), Some(status)) = (g.values[0].as_text(), g.values[1].as_text()) else {
            continue;
        };
        let entry = sites.entry(site.trim_end().to_string()).or_default();
        match status.trim_end() {
            "failed" => entry.0 += g.count,
            _ => entry.1 += g.count,
        }
    }
    Ok(sites
        .into_iter()
        .filter(|(_, (failed, finished))| {
            let total = failed + finished;
            total >= rule.min_jobs && *failed as f64 > rule.threshold * total as f64
        })
        .map(|(site, (failed, finished))| {
            let contacts = rule.contacts.get(&site);
            Finding {
                rule: Rule::SiteFailureSpike.name(),
                subject: format!("site {site}"),
                group: if contacts.is_some() {
                    format!("site {site}")
                } else {
                    "sites".to_string()
                },
                recipients: with_contacts(&config.experts, contacts),
                title: "[pandamon] Sites failing most of their jobs".to_string(),
                intro: format!(
                    "In the last hour more than {:.0}% of the jobs these sites completed failed.",
                    rule.threshold * 100.0
                ),
                columns: SPIKE_COLUMNS,
                cells: vec![
                    (site.clone(), Some(format!("/site/{site}/"))),
                    (
                        failed.to_string(),
                        Some(format!(
                            "/jobs/?computingsite={site}&jobstatus=failed&hours=1"
                        )),
                    ),
                    (
                        finished.to_string(),
                        Some(format!(
                            "/jobs/?computingsite={site}&jobstatus=finished&hours=1"
                        )),
                    ),
                    (
                        format!("{:.0}", 100.0 * failed as f64 / (failed + finished) as f64),
                        Some(format!("/errors/?computingsite={site}&hours=1")),
                    ),
                ],
            }
        })
        .collect())
}

const STUCK_COLUMNS: &[&str] = &["task", "name", "user", "running since"];

/// Running tasks that finished no job for `hours`.
async fn stuck_tasks(
    db: &Db,
    config: &AlertsConfig,
    now: NaiveDateTime,
) -> pandamon_store::Result<Vec<Finding>> {
    let hours = config.stuck_tasks.hours;
    let tasks = db.stuck_tasks(now - Duration::hours(hours)).await?;
    Ok(tasks
        .into_iter()
        .map(|t| Finding {
            rule: Rule::StuckTasks.name(),
            subject: format!("task {}", t.jeditaskid),
            group: "tasks".to_string(),
            recipients: config.experts.clone(),
            title: "[pandamon] Running tasks without a finished job".to_string(),
            intro: format!(
                "These tasks are running but finished no job in the last {hours} hours."
            ),
            columns: STUCK_COLUMNS,
            cells: vec![
                (
                    t.jeditaskid.to_string(),
                    Some(format!("/task/{}/", t.jeditaskid)),
                ),
                (t.taskname.unwrap_or_default(), None),
                (t.username.clone(), Some(format!("/user/{}/", t.username))),
                (
                    t.starttime
                        .map(|s| s.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default(),
                    None,
                ),
            ],
        })
        .collect())
}
