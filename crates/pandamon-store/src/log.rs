//! What the database driver logs, for the binary's log setup: where it logs statements, and
//! how to name a statement from the driver's summary without repeating its text.

/// The `tracing` target under which the driver logs statements (slow ones at WARN).
pub const DRIVER_TARGET: &str = "sqlx::query";

/// The kind of a statement (`select`, `create index`, ...) and the first table it names, from
/// the driver's summary, without anything else of the statement.
pub fn describe(summary: &str) -> (String, String) {
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
