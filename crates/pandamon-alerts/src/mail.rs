//! Messages and their delivery: one message per group of findings, in plain text and HTML,
//! with links back to the monitor; delivery through the configured mail server, retried with
//! a doubling wait.

use crate::config::{AlertsConfig, redact};
use crate::rules::Finding;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// A message ready to send: who, what, and the findings it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub rule: &'static str,
    pub recipients: Vec<String>,
    pub title: String,
    pub text: String,
    pub html: String,
    /// The subjects of the findings it reports.
    pub subjects: Vec<String>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The message of a group of findings (all of one rule and group).
pub fn compose(findings: &[&Finding], monitor: &str) -> Option<Outgoing> {
    let first = findings.first()?;
    let link = |path: &str| format!("{monitor}{path}");
    let mut text = format!("{}\n\n", first.intro);
    let mut html = format!(
        "<html><body><p>{}</p><table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr>",
        escape(&first.intro)
    );
    for c in first.columns {
        html.push_str(&format!("<th>{}</th>", escape(c)));
    }
    html.push_str("</tr>");
    for f in findings {
        let mut line = Vec::new();
        html.push_str("<tr>");
        for ((value, href), column) in f.cells.iter().zip(first.columns) {
            line.push(format!("{column}: {value}"));
            match href {
                Some(h) => html.push_str(&format!(
                    "<td><a href=\"{}\">{}</a></td>",
                    escape(&link(h)),
                    escape(value)
                )),
                None => html.push_str(&format!("<td>{}</td>", escape(value))),
            }
        }
        html.push_str("</tr>");
        text.push_str(&format!("- {}\n", line.join("; ")));
        if let Some(Some(h)) = f.cells.first().map(|c| &c.1) {
            text.push_str(&format!("  {}\n", link(h)));
        }
    }
    html.push_str(&format!(
        "</table><p>Sent by pandamon, {} (rule {}). The same subject is not reported again for a few days.</p></body></html>",
        escape(monitor),
        first.rule
    ));
    text.push_str(&format!(
        "\nSent by pandamon, {monitor} (rule {}). The same subject is not reported again for a few days.\n",
        first.rule
    ));
    Some(Outgoing {
        rule: first.rule,
        recipients: first.recipients.clone(),
        title: first.title.clone(),
        text,
        html,
        subjects: findings.iter().map(|f| f.subject.clone()).collect(),
    })
}

/// Delivers messages through the configured server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    attempts: u32,
    retry: Duration,
    server: String,
}

impl Mailer {
    /// The mailer of a checked configuration.
    pub fn new(config: &AlertsConfig) -> Result<Mailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp)
            .map_err(|e| format!("mail server {}: {e}", redact(&config.smtp)))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = config
            .from
            .parse()
            .map_err(|_| format!("alerts.from: '{}' is not an e-mail address", config.from))?;
        Ok(Mailer {
            transport,
            from,
            attempts: config.attempts.max(1),
            retry: Duration::from_secs_f64(config.retry_seconds),
            server: redact(&config.smtp),
        })
    }

    /// The server, without its password.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `message`, retrying with a doubling wait; the last error if every attempt failed.
    pub async fn send(&self, message: &Outgoing) -> Result<(), String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(message.title.clone());
        for r in &message.recipients {
            let to: Mailbox = r
                .parse()
                .map_err(|_| format!("'{r}' is not an e-mail address"))?;
            builder = builder.to(to);
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| format!("cannot build the message: {e}"))?;
        let mut wait = self.retry;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.transport.send(email.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    last = format!("mail server {}: {e}", self.server);
                    tracing::warn!(attempt, attempts = self.attempts, rule = message.rule, error = %last, "alert delivery failed");
                    if attempt < self.attempts {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
            }
        }
        Err(last)
    }
}
