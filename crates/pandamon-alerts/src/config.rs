//! `[alerts]` of `pandamon.toml`: the mail server, sender, experts, repeat interval, the link
//! base, and one table per rule. Every key is checked; a bad one is an error naming it
//! (`alerts.rules.stuck_tasks.hours: ...`), so a server with a bad alert config does not start.
//!
//! ```toml
//! [alerts]
//! smtp = "smtp://user:password@mail.example.org:587?tls=required"   # or PANDAMON_SMTP
//! from = "pandamon@example.org"
//! experts = ["adc-experts@example.org"]
//! repeat_days = 4
//! monitor_url = "https://bigpanda.example.org"
//! [alerts.rules.stalled_staging]
//! schedule = "daily 10:00"
//! days = 10
//! contacts = { "CERN-PROD_DATATAPE" = ["tape-admins@example.org"] }
//! [alerts.rules.site_failure_spike]
//! schedule = "every 15m"
//! threshold = 0.5
//! min_jobs = 50
//! [alerts.rules.stuck_tasks]
//! enabled = false
//! ```

use crate::schedule::Schedule;
use lettre::message::Mailbox;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// Where reports go when nobody configured anything.
pub const DEFAULT_EXPERTS: &str = "pandamon-experts@localhost";

/// The alert settings, with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// `smtp://[user:password@]host[:port][?tls=required]` or `smtps://...`.
    pub smtp: String,
    pub from: String,
    pub experts: Vec<String>,
    /// An alert sent for a subject is not sent again for this many days.
    pub repeat_days: f64,
    /// Delivery attempts per alert and run, and the wait before the second (doubling after).
    pub attempts: u32,
    pub retry_seconds: f64,
    /// The monitor's address, for the links in the messages.
    pub monitor_url: String,
    pub stalled_staging: StalledStaging,
    pub site_failure_spike: SiteFailureSpike,
    pub stuck_tasks: StuckTasks,
}

/// Tape staging without progress (bigmon's stalled-staging report).
#[derive(Debug, Clone, PartialEq)]
pub struct StalledStaging {
    pub enabled: bool,
    pub schedule: Schedule,
    /// Days without a staged file.
    pub days: f64,
    /// Source RSE → who to tell of its tape problems (besides the experts).
    pub contacts: BTreeMap<String, Vec<String>>,
}

/// A site whose jobs fail much more than they finish.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteFailureSpike {
    pub enabled: bool,
    pub schedule: Schedule,
    /// failed / (finished + failed) over the last hour above which a site is reported.
    pub threshold: f64,
    /// Completed jobs a site needs in the hour to be judged.
    pub min_jobs: i64,
    /// Site → who to tell besides the experts.
    pub contacts: BTreeMap<String, Vec<String>>,
}

/// Running tasks that finished no job for hours.
#[derive(Debug, Clone, PartialEq)]
pub struct StuckTasks {
    pub enabled: bool,
    pub schedule: Schedule,
    pub hours: i64,
}

/// The rules by name, as the config and the command line name them.
pub const RULES: &[&str] = &["stalled_staging", "site_failure_spike", "stuck_tasks"];

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig {
            smtp: "smtp://localhost:25".to_string(),
            from: "pandamon@localhost".to_string(),
            experts: vec![DEFAULT_EXPERTS.to_string()],
            repeat_days: 4.0,
            attempts: 5,
            retry_seconds: 10.0,
            monitor_url: "http://localhost:8080".to_string(),
            stalled_staging: StalledStaging {
                enabled: true,
                schedule: Schedule::Daily {
                    hour: 10,
                    minute: 0,
                },
                days: 10.0,
                contacts: BTreeMap::new(),
            },
            site_failure_spike: SiteFailureSpike {
                enabled: true,
                schedule: Schedule::Every(15 * 60),
                threshold: 0.5,
                min_jobs: 50,
                contacts: BTreeMap::new(),
            },
            stuck_tasks: StuckTasks {
                enabled: true,
                schedule: Schedule::Every(3_600),
                hours: 24,
            },
        }
    }
}

/// Reads `[alerts]` (as JSON) over the defaults; `smtp_env` (`PANDAMON_SMTP`) beats the file.
/// The error names the key.
pub fn from_json(section: Option<&Json>, smtp_env: Option<&str>) -> Result<AlertsConfig, String> {
    let mut config = AlertsConfig::default();
    let empty = Map::new();
    let table = match section {
        None => &empty,
        Some(Json::Object(m)) => m,
        Some(_) => return Err("alerts: expected a table".to_string()),
    };
    for (key, value) in table {
        let at = format!("alerts.{key}");
        match key.as_str() {
            "smtp" => config.smtp = smtp_url(&at, value)?,
            "from" => config.from = address(&at, value)?,
            "experts" => config.experts = addresses(&at, value)?,
            "repeat_days" => config.repeat_days = positive(&at, value)?,
            "attempts" => config.attempts = positive(&at, value)?.round().clamp(1.0, 100.0) as u32,
            "retry_seconds" => config.retry_seconds = positive(&at, value)?,
            "monitor_url" => config.monitor_url = url(&at, value)?,
            "rules" => rules(&mut config, value)?,
            _ => {
                return Err(format!(
                    "{at}: unknown setting; known: smtp, from, experts, repeat_days, attempts, retry_seconds, monitor_url, rules"
                ));
            }
        }
    }
    if let Some(smtp) = smtp_env {
        config.smtp = smtp_url("PANDAMON_SMTP", &Json::from(smtp))?;
    }
    Ok(config)
}

fn rules(config: &mut AlertsConfig, value: &Json) -> Result<(), String> {
    let Json::Object(rules) = value else {
        return Err("alerts.rules: expected a table of rules".to_string());
    };
    for (rule, settings) in rules {
        let at = format!("alerts.rules.{rule}");
        if !RULES.contains(&rule.as_str()) {
            return Err(format!(
                "{at}: unknown rule; known rules: {}",
                RULES.join(", ")
            ));
        }
        let Json::Object(settings) = settings else {
            return Err(format!("{at}: expected a table"));
        };
        for (key, value) in settings {
            let at = format!("{at}.{key}");
            match (rule.as_str(), key.as_str()) {
                ("stalled_staging", "enabled") => {
                    config.stalled_staging.enabled = boolean(&at, value)?
                }
                ("stalled_staging", "schedule") => {
                    config.stalled_staging.schedule = schedule(&at, value)?
                }
                ("stalled_staging", "days") => config.stalled_staging.days = positive(&at, value)?,
                ("stalled_staging", "contacts") => {
                    config.stalled_staging.contacts = contacts(&at, value)?
                }
                ("site_failure_spike", "enabled") => {
                    config.site_failure_spike.enabled = boolean(&at, value)?
                }
                ("site_failure_spike", "schedule") => {
                    config.site_failure_spike.schedule = schedule(&at, value)?
                }
                ("site_failure_spike", "threshold") => {
                    let t = positive(&at, value)?;
                    if t > 1.0 {
                        return Err(format!("{at}: a fraction of the jobs, from 0 to 1"));
                    }
                    config.site_failure_spike.threshold = t;
                }
                ("site_failure_spike", "min_jobs") => {
                    config.site_failure_spike.min_jobs = positive(&at, value)?.round() as i64
                }
                ("site_failure_spike", "contacts") => {
                    config.site_failure_spike.contacts = contacts(&at, value)?
                }
                ("stuck_tasks", "enabled") => config.stuck_tasks.enabled = boolean(&at, value)?,
                ("stuck_tasks", "schedule") => config.stuck_tasks.schedule = schedule(&at, value)?,
                ("stuck_tasks", "hours") => {
                    config.stuck_tasks.hours = positive(&at, value)?.round().max(1.0) as i64
                }
                (r, _) => {
                    let known = match r {
                        "stalled_staging" => "enabled, schedule, days, contacts",
                        "site_failure_spike" => "enabled, schedule, threshold, min_jobs, contacts",
                        _ => "enabled, schedule, hours",
                    };
                    return Err(format!("{at}: unknown setting; known: {known}"));
                }
            }
        }
    }
    Ok(())
}

fn string<'a>(at: &str, value: &'a Json) -> Result<&'a str, String> {
    value
        .as_str()
        .map(str::trim)
        .ok_or_else(|| format!("{at}: expected a string"))
}

fn boolean(at: &str, value: &Json) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{at}: expected true or false"))
}

fn positive(at: &str, value: &Json) -> Result<f64, String> {
    match value.as_f64() {
        Some(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("{at}: expected a positive number")),
    }
}

fn schedule(at: &str, value: &Json) -> Result<Schedule, String> {
    string(at, value)?.parse().map_err(|e| format!("{at}: {e}"))
}

/// One e-mail address, checked.
pub fn address(at: &str, value: &Json) -> Result<String, String> {
    let text = string(at, value)?;
    text.parse::<Mailbox>()
        .map(|_| text.to_string())
        .map_err(|_| format!("{at}: '{text}' is not an e-mail address"))
}

fn addresses(at: &str, value: &Json) -> Result<Vec<String>, String> {
    let list = match value {
        Json::Array(items) => items
            .iter()
            .map(|v| address(at, v))
            .collect::<Result<Vec<_>, _>>()?,
        Json::String(_) => vec![address(at, value)?],
        _ => return Err(format!("{at}: expected a list of e-mail addresses")),
    };
    if list.is_empty() {
        return Err(format!("{at}: expected at least one e-mail address"));
    }
    Ok(list)
}

fn contacts(at: &str, value: &Json) -> Result<BTreeMap<String, Vec<String>>, String> {
    let Json::Object(map) = value else {
        return Err(format!("{at}: expected a table of name = [addresses]"));
    };
    map.iter()
        .map(|(name, list)| Ok((name.clone(), addresses(&format!("{at}.{name}"), list)?)))
        .collect()
}

fn smtp_url(at: &str, value: &Json) -> Result<String, String> {
    let text = string(at, value)?;
    let scheme_ok = text.starts_with("smtp://") || text.starts_with("smtps://");
    if !scheme_ok || lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(text).is_err() {
        return Err(format!(
            "{at}: '{}' is not a mail server address; use smtp://host:port, smtp://user:password@host:587?tls=required (STARTTLS) or smtps://host:465",
            redact(text)
        ));
    }
    Ok(text.to_string())
}

fn url(at: &str, value: &Json) -> Result<String, String> {
    let text = string(at, value)?;
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text.trim_end_matches('/').to_string())
    } else {
        Err(format!("{at}: expected an http:// or https:// address"))
    }
}

/// A mail server address without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nothing_configured_is_every_rule_on_with_its_defaults() {
        let c = from_json(None, None).unwrap();
        assert_eq!(c.experts, [DEFAULT_EXPERTS]);
        assert!(c.stalled_staging.enabled && c.site_failure_spike.enabled && c.stuck_tasks.enabled);
        assert_eq!(c.stalled_staging.days, 10.0);
        assert_eq!(
            c.stalled_staging.schedule,
            Schedule::Daily {
                hour: 10,
                minute: 0
            }
        );
        assert_eq!(c.repeat_days, 4.0);
    }

    #[test]
    fn settings_are_read_and_the_environment_wins_for_smtp() {
        let section = json!({
            "smtp": "smtp://mail.example.org:587?tls=required",
            "experts": ["a@example.org", "b@example.org"],
            "rules": {
                "stalled_staging": {"days": 9, "contacts": {"X_DATATAPE": ["t@example.org"]}},
                "stuck_tasks": {"enabled": false, "schedule": "every 2h"}
            }
        });
        let c = from_json(Some(&section), Some("smtp://127.0.0.1:2525")).unwrap();
        assert_eq!(c.smtp, "smtp://127.0.0.1:2525");
        assert_eq!(c.experts.len(), 2);
        assert_eq!(c.stalled_staging.days, 9.0);
        assert_eq!(c.stalled_staging.contacts["X_DATATAPE"], ["t@example.org"]);
        assert!(!c.stuck_tasks.enabled);
        assert_eq!(c.stuck_tasks.schedule, Schedule::Every(7_200));
    }

    #[test]
    fn bad_settings_name_their_key() {
        for (section, key) in [
            (
                json!({"rules": {"stalled_stagin": {}}}),
                "alerts.rules.stalled_stagin",
            ),
            (json!({"experts": ["not an address"]}), "alerts.experts"),
            (
                json!({"rules": {"stuck_tasks": {"schedule": "sometimes"}}}),
                "alerts.rules.stuck_tasks.schedule",
            ),
            (
                json!({"rules": {"stuck_tasks": {"hourz": 3}}}),
                "alerts.rules.stuck_tasks.hourz",
            ),
            (json!({"smtp": "mail.example.org"}), "alerts.smtp"),
            (
                json!({"rules": {"site_failure_spike": {"threshold": 2}}}),
                "alerts.rules.site_failure_spike.threshold",
            ),
            (json!({"repeat": 4}), "alerts.repeat"),
        ] {
            let err = from_json(Some(&section), None).unwrap_err();
            assert!(err.starts_with(key), "{err}");
        }
        let err = from_json(None, Some("http://x")).unwrap_err();
        assert!(err.starts_with("PANDAMON_SMTP"), "{err}");
        assert_eq!(redact("smtp://u:secret@h:587"), "smtp://***@h:587");
    }
}
