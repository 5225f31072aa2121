//! The alerts module: runs the alert rules of `[alerts]` on their schedules beside the server
//! (`pandamon_alerts::run_forever`), and shows them at `/alerts/`: each rule with its schedule
//! and last run, and the alerts sent or still due, with the last delivery error. `/healthz`
//! reports alerts that could not be delivered.

use crate::kit::error::AppResult;
use crate::kit::format::format_time;
use crate::kit::module::{BackgroundTask, BoxFuture, Module, NavEntry, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::state::AppState;
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use pandamon_alerts::{AlertsConfig, Rule};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

pub struct Alerts;

const NAME: &str = "alerts";

/// Alerts listed on the page.
const RECENT: u32 = 200;

impl Module for Alerts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "alert rules (stalled tape staging, site failure spikes, stuck tasks) run on schedules and e-mailed once; their page"
    }
    fn routes(&self) -> Vec<Route> {
        vec![Route {
            path: "/alerts/",
            handler: get(page),
            doc: RouteDoc {
                summary: "the alert rules with their schedules and last runs, and the alerts sent or still due",
                vocabulary: None,
                params: &[],
                response: schema::<AlertsJson>,
                html: true,
            },
        }]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "alerts",
            href: "/alerts/",
            order: 900,
        }]
    }
    fn background(&self) -> Vec<BackgroundTask> {
        vec![BackgroundTask {
            name: "alert rules",
            run: Box::new(|state: AppState| {
                Box::pin(async move {
                    let Some(store) = state.state.clone() else {
                        tracing::warn!("alert rules not run: pandamon's state store is not open");
                        return;
                    };
                    let config = state.settings.alerts.clone();
                    pandamon_alerts::run_forever(state.db.clone(), store, config).await;
                })
            }),
        }]
    }
    fn health<'a>(&'a self, state: &'a AppState) -> BoxFuture<'a, Option<Json>> {
        Box::pin(async move {
            let config = &state.settings.alerts;
            let mut report = serde_json::json!({
                "mail_server": pandamon_alerts::config::redact(&config.smtp),
                "rules": Rule::ALL.iter().filter(|r| r.enabled(config)).map(|r| r.name()).collect::<Vec<_>>(),
            });
            if let Some(store) = &state.state {
                match store.recent_alerts(RECENT).await {
                    Ok(records) => {
                        let due: Vec<&pandamon_store::alerts::AlertRecord> = records
                            .iter()
                            .filter(|r| r.delivered_at.is_none() && r.last_error.is_some())
                            .collect();
                        report["undelivered"] = Json::from(due.len());
                        if let Some(last) = due.first() {
                            report["last_error"] = Json::from(last.last_error.clone());
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "alert records unreadable");
                        report["undelivered"] = Json::Null;
                    }
                }
            }
            Some(report)
        })
    }
}

/// A rule as the page shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleJson {
    pub name: &'static str,
    pub enabled: bool,
    pub schedule: String,
    pub next_run: Option<String>,
    pub description: String,
    /// The last run, as the runner recorded it.
    pub last_run: Option<Json>,
}

/// An alert sent or due.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertJson {
    pub rule: String,
    pub subject: String,
    pub delivered_at: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub recipients: Option<String>,
    pub title: Option<String>,
    pub updated_at: String,
}

/// `/alerts/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertsJson {
    pub mail_server: String,
    pub experts: Vec<String>,
    pub repeat_days: f64,
    pub rules: Vec<RuleJson>,
    pub alerts: Vec<AlertJson>,
    /// Why the alerts cannot be read, when they cannot.
    pub note: Option<String>,
}

async fn collect(state: &AppState, config: &AlertsConfig) -> AlertsJson {
    let now = Utc::now();
    let mut rules = Vec::new();
    let mut note = None;
    for rule in Rule::ALL {
        let last_run = match &state.state {
            Some(store) => store
                .get(NAME, &format!("run:{}", rule.name()))
                .await
                .ok()
                .flatten()
                .and_then(|v| serde_json::from_str(&v).ok()),
            None => None,
        };
        let enabled = rule.enabled(config);
        rules.push(RuleJson {
            name: rule.name(),
            enabled,
            schedule: rule.schedule(config).to_string(),
            next_run: enabled
                .then(|| rule.schedule(config).next_after(now.timestamp()))
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| format_time(t.naive_utc())),
            description: rule.describe(config),
            last_run,
        });
    }
    let alerts = match &state.state {
        None => {
            note = Some(
                "pandamon's state store is not open: no alert is run or remembered".to_string(),
            );
            Vec::new()
        }
        Some(store) => match store.recent_alerts(RECENT).await {
            Ok(records) => records
                .into_iter()
                .map(|r| AlertJson {
                    rule: r.rule,
                    subject: r.subject,
                    delivered_at: r.delivered_at.map(format_time),
                    attempts: r.attempts,
                    last_error: r.last_error,
                    recipients: r.recipients,
                    title: r.title,
                    updated_at: format_time(r.updated_at),
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "alert records unreadable");
                note = Some("the alert records could not be read (see the server log)".to_string());
                Vec::new()
            }
        },
    };
    AlertsJson {
        mail_server: pandamon_alerts::config::redact(&config.smtp),
        experts: config.experts.clone(),
        repeat_days: config.repeat_days,
        rules,
        alerts,
        note,
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct Page<'a> {
    data: &'a AlertsJson,
    runs: Vec<String>,
}

/// A last run in one line.
fn run_line(run: Option<&Json>) -> String {
    let Some(run) = run else {
        return "not run yet".to_string();
    };
    let n = |k: &str| run.get(k).and_then(Json::as_u64).unwrap_or(0);
    let sent = run.get("sent").and_then(Json::as_array).map_or(0, Vec::len);
    let failed = run
        .get("failed")
        .and_then(Json::as_array)
        .map_or(0, Vec::len);
    let mut line = format!(
        "{}: {} found, {sent} messages sent, {} already reported",
        run.get("at").and_then(Json::as_str).unwrap_or("?"),
        n("findings"),
        n("suppressed"),
    );
    if failed > 0 {
        line.push_str(&format!(", {failed} deliveries failed"));
    }
    if let Some(e) = run.get("error").and_then(Json::as_str) {
        line.push_str(&format!("; could not run: {e}"));
    }
    line
}

async fn page(request: PageRequest) -> AppResult<Response> {
    let data = collect(&request.state, &request.state.settings.alerts).await;
    request.answer_now(&data, || {
        let runs = data
            .rules
            .iter()
            .map(|r| run_line(r.last_run.as_ref()))
            .collect();
        Ok(Page { data: &data, runs }.render()?)
    })
}
