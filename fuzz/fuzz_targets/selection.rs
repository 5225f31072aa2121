//! The selection parser on arbitrary query strings, for every vocabulary: it never panics, and
//! a selection it accepts compiles for every dialect with each value bound (as many placeholders
//! as values) and evaluates on a job.
//!
//! Run: `cargo +nightly fuzz run selection fuzz/corpus/selection -- -max_total_time=60` (the
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

/// `%XX` decoded, `+` as a space, invalid UTF-8 replaced: what the web layer hands the parser.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, query)) = data.split_first() else {
        return;
    };
    let vocabulary = VOCABULARIES[which as usize % VOCABULARIES.len()];
    let query = String::from_utf8_lossy(query);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(pair), String::new()),
        })
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
