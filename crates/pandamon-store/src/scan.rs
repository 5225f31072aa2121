//! Streaming scans: every row of a table changed since an instant, handed to a callback one row
//! at a time without collecting the result. PostgreSQL streams with `COPY ... TO STDOUT` in text
//! format, parsed in place; the other dialects stream the rows of an ordinary `SELECT`.

use crate::catalog::{Catalog, ColType};
use crate::db::{Db, Pool};
use crate::error::{Result, StoreError};
use crate::jobs::{Cell, uniform};
use chrono::{DateTime, NaiveDateTime};
use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};
use std::borrow::Cow;

/// One value of a scanned row, borrowed from the wire where it can be.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Null,
    Int(i64),
    /// Unix seconds.
    Time(i64),
    Text(Cow<'a, str>),
}

impl Field<'_> {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Field::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The same value, owning its text.
    pub fn to_owned_field(&self) -> Field<'static> {
        match self {
            Field::Null => Field::Null,
            Field::Int(v) => Field::Int(*v),
            Field::Time(t) => Field::Time(*t),
            Field::Text(s) => Field::Text(Cow::Owned(s.to_string())),
        }
    }
}

/// How a scanned column is read: integer columns as `Int`, timestamps as `Time`, the rest as
/// `Text`. A value that does not parse as its type arrives as `Text`, for the caller to reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Time,
    Text,
}

fn kind(ty: ColType) -> Kind {
    match ty {
        t if t.is_integer() => Kind::Int,
        ColType::Timestamp => Kind::Time,
        _ => Kind::Text,
    }
}

impl Db {
    /// Calls `row` for every row of `table` whose `time_column` is at or after `since` (unix
    /// seconds), with the given columns in order; returns how many rows were read.
    pub async fn scan_since(
        &self,
        table: &str,
        columns: &[(&str, ColType)],
        time_column: &str,
        since: i64,
        mut row: impl FnMut(&[Field<'_>]) + Send,
    ) -> Result<u64> {
        let d = self.dialect();
        let kinds: Vec<Kind> = columns.iter().map(|(_, t)| kind(*t)).collect();
        let from = time_literal(since)?;
        let name = self.qualified(Catalog::get().table(table));
        match &self.pool {
            Pool::Pg(pool) => {
                // Times come as text and are parsed here; casting them in the query would cost
                // the database more than parsing costs us.
                let select: Vec<String> = columns
                    .iter()
                    .map(|(c, t)| match kind(*t) {
                        Kind::Time => d.quote(c),
                        _ => uniform(d, c, *t),
                    })
                    .collect();
                // COPY takes no bound parameters: the window's start is a literal formatted
                // from an integer, never from request text.
                let sql = format!(
                    "COPY (SELECT {} FROM {name} WHERE {} >= TIMESTAMP '{from}') TO STDOUT",
                    select.join(", "),
                    d.quote(time_column)
                );
                let mut conn = pool.acquire().await?;
                sqlx::query("SET DateStyle TO ISO")
                    .execute(&mut *conn)
                    .await?;
                let mut stream = conn.copy_out_raw(&sql).await?;
                let mut carry: Vec<u8> = Vec::new();
                let mut rows = 0u64;
                while let Some(chunk) = stream.try_next().await? {
                    let mut data: &[u8] = &chunk;
                    if !carry.is_empty() {
                        // Complete the row split across chunks first.
                        let Some(end) = data.iter().position(|b| *b == b'\n') else {
                            carry.extend_from_slice(data);
                            continue;
                        };
                        carry.extend_from_slice(&data[..end]);
                        data = &data[end + 1..];
                        let line = std::mem::take(&mut carry);
                        let mut fields = Vec::with_capacity(kinds.len());
                        parse_copy_line(&line, &kinds, &mut fields)?;
                        row(&fields);
                        rows += 1;
                    }
                    // PostgreSQL sends one row per message, so this is one allocation per row.
                    let mut fields = Vec::with_capacity(kinds.len());
                    while let Some(end) = data.iter().position(|b| *b == b'\n') {
                        parse_copy_line(&data[..end], &kinds, &mut fields)?;
                        row(&fields);
                        fields.clear();
                        rows += 1;
                        data = &data[end + 1..];
                    }
                    carry.extend_from_slice(data);
                }
                Ok(rows)
            }
            _ => {
                let select: Vec<String> = columns.iter().map(|(c, t)| uniform(d, c, *t)).collect();
                let since_sql = d.placeholder(1);
                let sql = format!(
                    "SELECT {} FROM {name} WHERE {} >= {since_sql}",
                    select.join(", "),
                    d.quote(time_column)
                );
                let since = DateTime::from_timestamp(since, 0)
                    .map(|t| t.naive_utc())
                    .ok_or_else(|| StoreError::Decode("scan start is out of range"))?;
                let mut rows = 0u64;
                crate::with_pool!(self, pool => {
                    let query = sqlx::query(AssertSqlSafe(sql.clone())).bind(since);
                    let mut stream = query.fetch(pool);
                    while let Some(r) = stream.try_next().await? {
                        let mut cells: Vec<Cell> = Vec::with_capacity(kinds.len());
                        for (i, k) in kinds.iter().enumerate() {
                            cells.push(match k {
                                Kind::Int => r.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Int),
                                Kind::Time => r
                                    .try_get::<Option<NaiveDateTime>, _>(i)?
                                    .map_or(Cell::Null, Cell::Time),
                                Kind::Text => r.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text),
                            });
                        }
                        let fields: Vec<Field<'_>> = cells.iter().map(|c| match c {
                            Cell::Null => Field::Null,
                            Cell::Int(v) => Field::Int(*v),
                            Cell::Float(v) => Field::Text(Cow::Owned(v.to_string())),
                            Cell::Time(t) => Field::Time(t.and_utc().timestamp()),
                            Cell::Text(s) => Field::Text(Cow::Borrowed(s.as_str())),
                        }).collect();
                        row(&fields);
                        rows += 1;
                    }
                });
                Ok(rows)
            }
        }
    }
}

fn time_literal(secs: i64) -> Result<String> {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
        .ok_or_else(|| StoreError::Decode("scan start is out of range"))
}

/// Splits one line of `COPY ... TO STDOUT` text output into typed fields.
fn parse_copy_line<'a>(line: &'a [u8], kinds: &[Kind], fields: &mut Vec<Field<'a>>) -> Result<()> {
    let mut rest = line;
    for (i, k) in kinds.iter().enumerate() {
        let end = if i + 1 == kinds.len() {
            rest.len()
        } else {
            rest.iter()
                .position(|b| *b == b'\t')
                .ok_or_else(|| StoreError::Decode("COPY row has too few columns"))?
        };
        let raw = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        fields.push(if raw == b"\\N" {
            Field::Null
        } else {
            let text = unescape(raw)?;
            match k {
                Kind::Int => match text.parse::<i64>() {
                    Ok(v) => Field::Int(v),
                    Err(_) => Field::Text(text),
                },
                Kind::Time => match parse_time(&text) {
                    Some(t) => Field::Time(t),
                    None => Field::Text(text),
                },
                Kind::Text => Field::Text(text),
            }
        });
    }
    Ok(())
}

/// Undoes COPY text escaping (`\\`, `\t`, `\n`, `\r`, ...); borrows when there is none.
fn unescape(raw: &[u8]) -> Result<Cow<'_, str>> {
    let text = std::str::from_utf8(raw).map_err(|_| StoreError::Decode("COPY row is not UTF-8"))?;
    if !raw.contains(&b'\\') {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(Cow::Owned(out))
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (PostgreSQL's ISO output) to unix seconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    if b.len() > 19 && b[19] != b'.' {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3_600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_chrono() {
        for text in [
            "2026-11-24 11:22:31",
            "2000-02-29 00:00:00",
            "1999-12-31 23:59:59.999999",
            "2026-03-01 00:00:00",
        ] {
            let expected = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .unwrap()
                .and_utc()
                .timestamp();
            assert_eq!(parse_time(text), Some(expected), "{text}");
        }
        assert_eq!(parse_time("2026-13-01 00:00:00"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn copy_lines_split_unescape_and_type() {
        let kinds = [Kind::Int, Kind::Text, Kind::Time, Kind::Int, Kind::Text];
        let mut fields = Vec::new();
        parse_copy_line(
            b"42\ta\\tb\\\\c\t2026-11-24 11:22:31\t\\N\tx",
            &kinds,
            &mut fields,
        )
        .unwrap();
        assert_eq!(
            fields,
            vec![
                Field::Int(42),
                Field::Text(Cow::Borrowed("a\tb\\c")),
                Field::Time(parse_time("2026-11-24 11:22:31").unwrap()),
                Field::Null,
                Field::Text(Cow::Borrowed("x")),
            ]
        );
        fields.clear();
        parse_copy_line(b"x1\t\t\t\t", &kinds, &mut fields).unwrap();
        assert_eq!(
            fields[0],
            Field::Text(Cow::Borrowed("x1")),
            "bad ints stay text"
        );
        assert_eq!(fields[1], Field::Text(Cow::Borrowed("")));
        fields.clear();
        assert!(parse_copy_line(b"1\t2", &kinds, &mut fields).is_err());
    }
}
