//! Alerts: rules that read the PanDA database on a schedule (stalled tape staging, sites
//! failing most of their jobs, running tasks that stopped finishing jobs), and a mailer that
//! sends each finding once per repeat interval.
//!
//! Which alert was sent when lives in pandamon's own state store (table `alerts`): a runner
//! claims a finding before sending it, so a second replica or a restart does not send it again;
//! a delivery that fails releases the claim and the finding stays due.

pub mod config;
pub mod mail;
pub mod rules;
mod runner;
pub mod schedule;

pub use config::{AlertsConfig, from_json};
pub use mail::{Mailer, Outgoing};
pub use rules::{Finding, Rule};
pub use runner::{RuleReport, run_forever, run_rule};
pub use schedule::Schedule;
