//! Logging: lowercase structured lines on stderr, `PANDAMON_LOG` as the filter. The database
//! driver's slow-statement warnings carry the whole statement; they are replaced by one line
//! naming the statement's kind, its table and its time, so no SQL text reaches the log.

use std::fmt::Debug;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Where the driver logs statements.
const DRIVER_TARGET: &str = "sqlx::query";

pub fn init(filter_var: &str) {
    let filter = EnvFilter::try_from_env(filter_var)
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))
        .add_directive(
            format!("{DRIVER_TARGET}=off")
                .parse()
                .expect("a valid directive"),
        );
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter);
    let slow =
        SlowStatements.with_filter(Targets::new().with_target(DRIVER_TARGET, tracing::Level::WARN));
    tracing_subscriber::registry().with(fmt).with(slow).init();
}

/// Turns the driver's slow-statement warnings into SQL-free ones.
struct SlowStatements;

#[derive(Default)]
struct Fields {
    summary: String,
    elapsed_secs: f64,
    rows_returned: Option<u64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.summary = value.to_string();
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "rows_returned" {
            self.rows_returned = Some(value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "rows_returned" {
            self.rows_returned = u64::try_from(value).ok();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "summary" && self.summary.is_empty() {
            self.summary = format!("{value:?}").trim_matches('"').to_string();
        }
    }
}

impl<S: Subscriber> Layer<S> for SlowStatements {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let (kind, table) = describe(&fields.summary);
        let table = (!table.is_empty()).then_some(table.as_str());
        tracing::warn!(
            statement = kind,
            table,
            elapsed_ms = (fields.elapsed_secs * 1_000.0).round() as u64,
            rows = fields.rows_returned,
            "slow database statement"
        );
    }
}

/// The kind of a statement (`select`, `create index`, ...) and the first table it names, from
/// the driver's summary, without anything else of the statement.
fn describe(summary: &str) -> (String, String) {
    let words: Vec<String> = summary
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c| c == '"' || c == '`' || c == ',' || c == '(' || c == ')')
                .to_string()
        })
        .collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let kind = match lower.first().map(String::as_str) {
        Some("create" | "drop" | "alter") => {
            lower.iter().take(2).cloned().collect::<Vec<_>>().join(" ")
        }
        Some(first) => first.to_string(),
        None => "statement".to_string(),
    };
    let table = lower
        .iter()
        .position(|w| matches!(w.as_str(), "from" | "into" | "update" | "on" | "table"))
        .and_then(|i| words.get(i + 1))
        .filter(|t| t.to_lowercase() != "select")
        .map(|t| {
            t.rsplit('.')
                .next()
                .unwrap_or(t)
                .trim_matches(|c| c == '"' || c == '`')
                .to_string()
        })
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or_default();
    (kind, table)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn statements_are_named_without_their_text() {
        assert_eq!(
            describe(r#"SELECT "pandaid" FROM "jobsarchived4" …"#),
            ("select".into(), "jobsarchived4".into())
        );
        assert_eq!(
            describe(r#"CREATE INDEX "filestable4_ix1" ON "doma_panda"."filestable4" …"#),
            ("create index".into(), "filestable4".into())
        );
        assert_eq!(
            describe("SELECT COUNT(*) FROM (SELECT …"),
            ("select".into(), String::new())
        );
        assert_eq!(describe(""), ("statement".into(), String::new()));
    }
}
