//! Logging: lowercase structured lines on stderr, `PANDAMON_LOG` as the filter. The database
//! driver's slow-statement warnings carry the whole statement; they are replaced by one line
//! naming the statement's kind, its table and its time, so no SQL text reaches the log.

use pandamon_store::log::{DRIVER_TARGET, describe};
use std::fmt::Debug;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

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
