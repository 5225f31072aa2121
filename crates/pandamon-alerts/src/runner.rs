//! Running the rules: once (the command line), or forever on their schedules (the server).

use crate::config::AlertsConfig;
use crate::mail::{Mailer, Outgoing, compose};
use crate::rules::{Finding, Rule};
use chrono::{Duration, NaiveDateTime, Utc};
use pandamon_store::alerts::Claim;
use pandamon_store::{Db, StateStore};
use serde::Serialize;
use std::collections::BTreeMap;

/// A claim older than this is another runner that died while sending: it is taken over.
const LEASE_MINUTES: i64 = 30;

/// After a run with failed deliveries, the rule runs again this soon whatever its schedule.
const RETRY_FAILED_SECONDS: i64 = 600;

/// The state store's namespace for the alert runner's values.
pub const MODULE: &str = "alerts";

/// What one run of one rule did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RuleReport {
    pub rule: &'static str,
    pub at: String,
    pub findings: usize,
    /// Messages sent (or, in a dry run, that would be).
    pub sent: Vec<SentMessage>,
    /// Findings reported within the repeat interval.
    pub suppressed: usize,
    /// Findings another runner is sending.
    pub busy: usize,
    /// Deliveries that failed: the findings stay due.
    pub failed: Vec<String>,
    /// The rule could not run (database error).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SentMessage {
    pub recipients: Vec<String>,
    pub title: String,
    pub subjects: Vec<String>,
}

fn messages(findings: &[&Finding], monitor: &str) -> Vec<Outgoing> {
    let mut groups: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        groups.entry(f.group.as_str()).or_default().push(f);
    }
    groups
        .values()
        .filter_map(|g| compose(g, monitor))
        .collect()
}

/// Runs `rule` now: evaluates it, claims its findings, sends one message per group and records
/// the outcome. A dry run claims and sends nothing and reports what it would send.
pub async fn run_rule(
    rule: Rule,
    db: &Db,
    state: &StateStore,
    config: &AlertsConfig,
    mailer: &Mailer,
    now: NaiveDateTime,
    dry_run: bool,
) -> RuleReport {
    let mut report = RuleReport {
        rule: rule.name(),
        at: now.format("%Y-%m-%d %H:%M:%S").to_string(),
        ..RuleReport::default()
    };
    let findings = match rule.evaluate(db, config, now).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(rule = rule.name(), error = %e, "alert rule could not run");
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.findings = findings.len();
    let repeat = Duration::seconds((config.repeat_days * 86_400.0) as i64);
    let mut due: Vec<&Finding> = Vec::new();
    for f in &findings {
        let claim = if dry_run {
            match state.alert_record(f.rule, &f.subject).await {
                Ok(Some(r)) if r.delivered_at.is_some_and(|d| d > now - repeat) => {
                    Ok(Claim::Suppressed(r.delivered_at.unwrap_or(now)))
                }
                Ok(_) => Ok(Claim::Claimed),
                Err(e) => Err(e),
            }
        } else {
            state
                .claim_alert(
                    f.rule,
                    &f.subject,
                    now,
                    repeat,
                    Duration::minutes(LEASE_MINUTES),
                )
                .await
        };
        match claim {
            Ok(Claim::Claimed) => due.push(f),
            Ok(Claim::Suppressed(_)) => report.suppressed += 1,
            Ok(Claim::Busy) => report.busy += 1,
            Err(e) => {
                report.error = Some(format!("pandamon's state store: {e}"));
                return report;
            }
        }
    }
    for message in messages(&due, &config.monitor_url) {
        let sent = SentMessage {
            recipients: message.recipients.clone(),
            title: message.title.clone(),
            subjects: message.subjects.clone(),
        };
        if dry_run {
            report.sent.push(sent);
            continue;
        }
        let outcome = mailer.send(&message).await;
        let recipients = message.recipients.join(", ");
        for subject in &message.subjects {
            let recorded = match &outcome {
                Ok(()) => {
                    state
                        .alert_delivered(rule.name(), subject, now, &recipients, &message.title)
                        .await
                }
                Err(e) => state.alert_failed(rule.name(), subject, now, e).await,
            };
            if let Err(e) = recorded {
                tracing::warn!(rule = rule.name(), subject = %subject, error = %e, "alert outcome not recorded");
            }
        }
        match outcome {
            Ok(()) => {
                tracing::info!(rule = rule.name(), recipients = %recipients, findings = message.subjects.len(), "alert sent");
                report.sent.push(sent);
            }
            Err(e) => report.failed.push(e),
        }
    }
    if !dry_run {
        let summary = serde_json::to_string(&report).unwrap_or_default();
        if let Err(e) = state
            .put(MODULE, &format!("run:{}", rule.name()), Some(&summary))
            .await
        {
            tracing::warn!(rule = rule.name(), error = %e, "alert run not recorded");
        }
    }
    report
}

/// Runs every enabled rule on its schedule, for ever (the caller aborts the task); a rule
/// whose deliveries failed runs again within ten minutes.
pub async fn run_forever(db: Db, state: StateStore, config: AlertsConfig) {
    let mailer = match Mailer::new(&config) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "alert runner not started");
            return;
        }
    };
    let rules: Vec<Rule> = Rule::ALL
        .into_iter()
        .filter(|r| r.enabled(&config))
        .collect();
    let start = Utc::now().timestamp();
    let mut next: Vec<i64> = rules
        .iter()
        .map(|r| r.schedule(&config).next_after(start))
        .collect();
    loop {
        let Some(&soonest) = next.iter().min() else {
            return;
        };
        let wait = (soonest - Utc::now().timestamp()).max(0) as u64;
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        let now = Utc::now();
        for (i, rule) in rules.iter().enumerate() {
            if next[i] > now.timestamp() {
                continue;
            }
            let report =
                run_rule(*rule, &db, &state, &config, &mailer, now.naive_utc(), false).await;
            let scheduled = rule.schedule(&config).next_after(now.timestamp());
            next[i] = if report.failed.is_empty() && report.error.is_none() {
                scheduled
            } else {
                scheduled.min(now.timestamp() + RETRY_FAILED_SECONDS)
            };
        }
    }
}
