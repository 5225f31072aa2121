//! The selection parser on arbitrary query strings, for every vocabulary: it never panics, and
//! a selection it accepts compiles for every dialect with each value bound (as many placeholders
//! as values) and evaluates on a job.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run selection corpus/selection -- -max_total_time=60` (the
//! corpus holds the addresses of the hardening probes).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pandamon_query::fields::{CONTENTS, DATASETS, FILES, JOBS, TASKS, Vocabulary, WORKERS};
use pandamon_query::{Defaults, JobView, Selection, SqlDialect};

const VOCABULARIES: [&Vocabulary; 6] = [&JOBS, &TASKS, &FILES, &DATASETS, &CONTENTS, &WORKERS];

/// A job with every column set to the same values.
struct Job;

impl JobView for Job {
    fn text(&self, _column: &str) -> Option<&str> {
        Some("ANALY_CERN")
    }
    fn int(&self, _column: &str) -> Option<i64> {
        Some(1_361)
    }
    fn time(&self, _column: &str) -> Option<i64> {
        Some(1_780_000_000)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, query)) = data.split_first() else {
        return;
    };
    let vocabulary = VOCABULARIES[which as usize % VOCABULARIES.len()];
    // Decoded as the server's query extractor decodes (`%XX`, `+` as a space).
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let defaults = Defaults {
        window_hours: 12,
        now: 1_780_000_000,
        vocabulary,
    };
    let parsed = Selection::parse(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        defaults,
    );
    let Ok(selection) = parsed else {
        return;
    };
    for dialect in [
        SqlDialect::Postgres,
        SqlDialect::MySql,
        SqlDialect::Sqlite,
        SqlDialect::Oracle,
    ] {
        let (sql, values) = selection.where_sql(dialect, 1);
        let placeholders = match dialect {
            SqlDialect::MySql | SqlDialect::Sqlite => sql.matches('?').count(),
            SqlDialect::Postgres => (1..=values.len())
                .filter(|n| sql.contains(&format!("${n}")))
                .count(),
            SqlDialect::Oracle => (1..=values.len())
                .filter(|n| sql.contains(&format!(":{n}")))
                .count(),
        };
        assert_eq!(placeholders, values.len(), "every value is bound: {sql}");
        let _ = selection.order_sql(dialect);
    }
    let _ = selection.matches(&Job);
});
