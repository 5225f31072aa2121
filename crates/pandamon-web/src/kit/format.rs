//! How values read on a page: counts, durations, times, cells of a table row.

use axum::http::{HeaderMap, header};
use chrono::NaiveDateTime;
use pandamon_query::Selection;
use pandamon_store::jobs::Cell;
use serde_json::Value as Json;

/// Whether the client asked for JSON: `?json` (bigmon's convention) or an Accept header.
pub fn wants_json(query: Option<&str>, headers: &HeaderMap) -> bool {
    let in_query =
        query.is_some_and(|q| q.split('&').any(|p| p == "json" || p.starts_with("json=")));
    in_query || accepts_json(headers)
}

/// Whether the Accept header puts JSON first.
fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `YYYY-MM-DD HH:MM:SS`, as pages show times.
pub fn format_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `YYYY-MM-DDTHH:MM:SS`, as JSON carries times.
pub fn iso(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Seconds as "3 h 05 min" style text.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min {:02} s", s / 60, s % 60),
        3_600..=86_399 => format!("{} h {:02} min", s / 3_600, (s % 3_600) / 60),
        _ => format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// Seconds as "4h04m" style text, for narrow table columns.
pub fn compact_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m{:02}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h{:02}m", s / 3_600, (s % 3_600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// Bytes in decimal units as storage systems count them: "1.80 GB", "512 B".
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes.abs() < 1_000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1_000.0;
    let mut unit = 0;
    while value.abs() >= 1_000.0 && unit < UNITS.len() - 1 {
        value /= 1_000.0;
        unit += 1;
    }
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// Failed jobs in percent of the completed ones (finished and failed); `None` when none
/// completed.
pub fn failure_percent(finished: i64, failed: i64) -> Option<f64> {
    let done = finished + failed;
    (done > 0).then(|| 100.0 * failed as f64 / done as f64)
}

/// A percentage as pages show it: "12.5 %", "" for none.
pub fn percent_text(p: Option<f64>) -> String {
    p.map_or(String::new(), |p| format!("{p:.1} %"))
}

/// Thousands separators with a thin space, as the pages show counts.
pub fn human_count(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A database cell as JSON: text without its fixed-width padding, times as ISO text.
pub fn cell_json(cell: &Cell) -> Json {
    match cell {
        Cell::Null => Json::Null,
        Cell::Int(v) => Json::from(*v),
        Cell::Float(v) => Json::from(*v),
        Cell::Text(s) => Json::from(s.trim_end().to_string()),
        Cell::Time(t) => Json::from(iso(t)),
    }
}

/// A whole row read from the database as a JSON object, column by column.
pub fn row_object(row: &[(String, Cell)]) -> serde_json::Map<String, Json> {
    row.iter().map(|(k, v)| (k.clone(), cell_json(v))).collect()
}

/// A JSON value as a table cell shows it.
pub fn cell_text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) if is_iso_time(s) => s.replacen('T', " ", 1),
        Json::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The text of one field of a JSON object (empty when the field is missing).
pub fn field_text(object: &serde_json::Map<String, Json>, key: &str) -> String {
    object.get(key).map(cell_text).unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SS`, as job times are serialised.
fn is_iso_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b[10] == b'T'
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => true,
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// The time window in words, for page headers.
pub fn describe_window(selection: &Selection) -> String {
    let show = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map_or(String::new(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    match selection.window {
        Some((from, to)) => format!(
            "{} from {} to {}",
            selection.window_column().unwrap_or("modificationtime"),
            show(from),
            show(to)
        ),
        None => "no time limit (an id was given)".to_string(),
    }
}

/// Job statuses in PanDA's lifecycle order (unknown ones last).
pub fn order_statuses<'a>(statuses: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut list: Vec<String> = statuses.into_iter().cloned().collect();
    list.sort_by_key(|s| status_rank(s));
    list.dedup();
    list
}

/// A job status's place in PanDA's lifecycle order.
pub fn status_rank(status: &str) -> usize {
    pandamon_model::JobStatus::parse(status).map_or(usize::MAX, |s| s as usize)
}

/// Text made safe for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fit_narrow_columns() {
        assert_eq!(compact_duration(-5), "0s");
        assert_eq!(compact_duration(59), "59s");
        assert_eq!(compact_duration(989), "16m29s");
        assert_eq!(compact_duration(14_640), "4h04m");
        assert_eq!(compact_duration(90_000), "1d01h");
    }

    #[test]
    fn bytes_read_as_storage_counts_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_000), "1.00 kB");
        assert_eq!(human_bytes(1_800_000_000), "1.80 GB");
        assert_eq!(human_bytes(45_300_000), "45.3 MB");
        assert_eq!(human_bytes(512_000_000_000_000), "512 TB");
        assert_eq!(human_bytes(3_000_000_000_000_000_000), "3000 PB");
    }

    #[test]
    fn json_is_detected_from_query_or_accept() {
        let empty = HeaderMap::new();
        assert!(wants_json(Some("json"), &empty));
        assert!(wants_json(Some("days=1&json"), &empty));
        assert!(!wants_json(Some("jsonp=1"), &empty));
        assert!(!wants_json(None, &empty));
        let mut accept = HeaderMap::new();
        accept.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(wants_json(None, &accept));
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(human_count(1234567), "1\u{2009}234\u{2009}567");
        assert_eq!(human_count(12), "12");
        assert_eq!(human_duration(59), "59 s");
        assert_eq!(human_duration(3_700), "1 h 01 min");
        assert_eq!(human_duration(90_000), "1 d 01 h");
    }

    #[test]
    fn only_times_lose_their_t() {
        assert_eq!(
            cell_text(&Json::from("2026-11-24T09:26:18")),
            "2026-11-24 09:26:18"
        );
        assert_eq!(
            cell_text(&Json::from("Taiwan-LCG2_UCORE")),
            "Taiwan-LCG2_UCORE"
        );
        assert_eq!(cell_text(&Json::from(12)), "12");
        assert_eq!(cell_text(&Json::Null), "");
    }
}
