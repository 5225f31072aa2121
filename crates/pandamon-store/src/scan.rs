//! Streaming scans: every row of a table changed since an instant, handed to a callback one row
//! at a time without collecting the result. PostgreSQL streams with `COPY ... TO STDOUT` in text
//! format, parsed in place; the other dialects stream the rows of an ordinary `SELECT`.

use crate::catalog::{Catalog, ColType};
use crate::db::live_pool;
use crate::db::{Db, Pool};
use crate::error::{Result, StoreError};
use crate::jobs::{Cell, uniform};
use chrono::{DateTime, NaiveDateTime};
use futures_util::{StreamExt, TryStreamExt};
use sqlx::{AssertSqlSafe, Row};
use std::borrow::Cow;

/// A half-open window `[from, to)` (unix seconds; no end when `to` is `None`) on a timestamp
/// column, for [`Db::scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange<'a> {
    pub column: &'a str,
    pub from: i64,
    pub to: Option<i64>,
}

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
    /// seconds), with the given columns in order; returns how many rows were read. A large scan
    /// names an integer column to `split_by`: PostgreSQL then streams it over several
    /// connections at once.
    pub async fn scan_since(
        &self,
        table: &str,
        columns: &[(&str, ColType)],
        time_column: &str,
        since: i64,
        split_by: Option<&str>,
        row: impl FnMut(&[Field<'_>]) + Send,
    ) -> Result<u64> {
        let window = [TimeRange {
            column: time_column,
            from: since,
            to: None,
        }];
        self.scan(table, columns, &window, split_by, row).await
    }

    /// Calls `row` for every row of `table` inside every one of `ranges` (the first should be
    /// an indexed column), like [`Db::scan_since`].
    pub async fn scan(
        &self,
        table: &str,
        columns: &[(&str, ColType)],
        ranges: &[TimeRange<'_>],
        split_by: Option<&str>,
        mut row: impl FnMut(&[Field<'_>]) + Send,
    ) -> Result<u64> {
        if ranges.is_empty() {
            return Err(StoreError::Decode("a scan needs a time window"));
        }
        let d = self.dialect();
        let kinds: Vec<Kind> = columns.iter().map(|(_, t)| kind(*t)).collect();
        let name = self.qualified(Catalog::get().table(table));
        self.check_health()?;
        match &self.pool {
            Pool::Pg(pool) => {
                // Binary COPY: integers and timestamps travel as fixed-width numbers, which
                // costs the database far less than formatting them as text.
                let table_def = Catalog::get().table(table);
                let mut wire = Vec::with_capacity(columns.len());
                let select: Vec<String> = columns
                    .iter()
                    .map(|(c, t)| {
                        let stored = table_def.column(c).map(|col| col.ty);
                        let q = d.quote(c);
                        let (sql, w) = match (kind(*t), stored) {
                            (Kind::Int, Some(s)) if s.is_integer() => (q, Wire::Int),
                            (Kind::Int, _) => (format!("CAST({q} AS BIGINT)"), Wire::Int),
                            (Kind::Time, Some(ColType::Timestamp)) => (q, Wire::Time),
                            (Kind::Time, _) => (format!("CAST({q} AS TIMESTAMP)"), Wire::Time),
                            (
                                Kind::Text,
                                Some(ColType::Varchar(_) | ColType::Text | ColType::Char(_)),
                            ) => (q, Wire::Text),
                            (Kind::Text, _) => (format!("CAST({q} AS TEXT)"), Wire::Text),
                        };
                        wire.push(w);
                        sql
                    })
                    .collect();
                // COPY takes no bound parameters: the windows' bounds are literals formatted
                // from integers, never from request text.
                let mut conditions = Vec::new();
                for r in ranges {
                    let column = d.quote(r.column);
                    conditions.push(format!("{column} >= TIMESTAMP '{}'", time_literal(r.from)?));
                    if let Some(to) = r.to {
                        conditions.push(format!("{column} < TIMESTAMP '{}'", time_literal(to)?));
                    }
                }
                let sql = format!(
                    "COPY (SELECT {} FROM {name} WHERE {}) TO STDOUT (FORMAT binary)",
                    select.join(", "),
                    conditions.join(" AND ")
                );
                // On a large scan several connections each stream a share of the rows, so
                // that the database decodes them on every core.
                let parts = match split_by {
                    Some(_) => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
                    None => 1,
                };
                let mut conns = Vec::with_capacity(parts);
                for _ in 0..parts {
                    conns.push(pool.acquire().await?);
                }
                let scanned: Result<u64> = async {
                    let mut streams = Vec::with_capacity(parts);
                    for (k, conn) in conns.iter_mut().enumerate() {
                        let share = match split_by {
                            Some(c) if parts > 1 => {
                                format!(" AND MOD({}, {parts}) IN ({k}, -{k})", d.quote(c))
                            }
                            _ => String::new(),
                        };
                        let sql = sql.replacen(") TO STDOUT", &format!("{share}) TO STDOUT"), 1);
                        streams.push(conn.copy_out_raw(&sql).await?.map(move |chunk| (k, chunk)));
                    }
                    let mut all = futures_util::stream::select_all(streams);
                    let mut decoders: Vec<BinaryDecoder> =
                        (0..parts).map(|_| BinaryDecoder::default()).collect();
                    let mut rows = 0u64;
                    while let Some((k, chunk)) = all.next().await {
                        rows += decoders[k].feed(&chunk?, &wire, &mut row)?;
                    }
                    Ok(rows)
                }
                .await;
                // A COPY that failed half way leaves its connection mid-protocol: it must not
                // go back to the pool.
                if scanned.is_err() {
                    conns.iter_mut().for_each(|c| c.close_on_drop());
                }
                scanned
            }
            _ => {
                let select: Vec<String> = columns.iter().map(|(c, t)| uniform(d, c, *t)).collect();
                let mut conditions = Vec::new();
                let mut bounds: Vec<NaiveDateTime> = Vec::new();
                for r in ranges {
                    let column = d.quote(r.column);
                    for (op, at) in [(">=", Some(r.from)), ("<", r.to)] {
                        let Some(at) = at else { continue };
                        bounds.push(
                            DateTime::from_timestamp(at, 0)
                                .map(|t| t.naive_utc())
                                .ok_or(StoreError::Decode("scan start is out of range"))?,
                        );
                        conditions.push(format!("{column} {op} {}", d.placeholder(bounds.len())));
                    }
                }
                let sql = format!(
                    "SELECT {} FROM {name} WHERE {}",
                    select.join(", "),
                    conditions.join(" AND ")
                );
                let mut rows = 0u64;
                live_pool!(self, pool => {
                    let mut query = sqlx::query(AssertSqlSafe(sql.clone()));
                    for b in &bounds {
                        query = query.bind(*b);
                    }
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

const BINARY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Signature, flags and header-extension length.
const BINARY_HEADER: usize = 19;
/// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH: i64 = 946_684_800;

/// How a column arrives in binary COPY output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// Two, four or eight bytes, big-endian.
    Int,
    /// Microseconds since 2000-01-01, eight bytes.
    Time,
    Text,
}

/// Reads the binary COPY output of one connection, message by message.
#[derive(Debug, Default)]
struct BinaryDecoder {
    /// Bytes of a row split across messages.
    buffer: Vec<u8>,
    header_read: bool,
    done: bool,
}

impl BinaryDecoder {
    /// Decodes the rows a message completes and hands each to `row`; returns how many.
    fn feed(
        &mut self,
        chunk: &[u8],
        wire: &[Wire],
        row: &mut impl FnMut(&[Field<'_>]),
    ) -> Result<u64> {
        if self.done {
            return Ok(0);
        }
        // PostgreSQL sends one row per message: parse in place unless a row was split.
        let joined;
        let data: &[u8] = if self.buffer.is_empty() {
            chunk
        } else {
            self.buffer.extend_from_slice(chunk);
            joined = std::mem::take(&mut self.buffer);
            &joined
        };
        let mut at = 0;
        if !self.header_read {
            if data.len() < BINARY_HEADER {
                self.buffer.extend_from_slice(data);
                return Ok(0);
            }
            if !data.starts_with(BINARY_SIGNATURE) {
                return Err(StoreError::Decode("COPY output is not PostgreSQL binary"));
            }
            let extension = u32::from_be_bytes([data[15], data[16], data[17], data[18]]) as usize;
            at = BINARY_HEADER + extension;
            self.header_read = true;
        }
        let mut rows = 0;
        let mut fields = Vec::with_capacity(wire.len());
        loop {
            match parse_binary_tuple(data.get(at..).unwrap_or_default(), wire, &mut fields)? {
                Tuple::Row(used) => {
                    row(&fields);
                    rows += 1;
                    at += used;
                }
                Tuple::End => {
                    self.done = true;
                    return Ok(rows);
                }
                Tuple::Incomplete => break,
            }
        }
        self.buffer
            .extend_from_slice(data.get(at..).unwrap_or_default());
        Ok(rows)
    }
}

enum Tuple {
    /// A row, and the bytes it took.
    Row(usize),
    /// The trailer: no more rows.
    End,
    Incomplete,
}

/// Reads one tuple of binary COPY output into typed fields.
fn parse_binary_tuple<'a>(
    data: &'a [u8],
    wire: &[Wire],
    fields: &mut Vec<Field<'a>>,
) -> Result<Tuple> {
    fields.clear();
    let Some(count) = data.get(..2) else {
        return Ok(Tuple::Incomplete);
    };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Tuple::End);
    }
    if count as usize != wire.len() {
        return Err(StoreError::Decode(
            "COPY row has the wrong number of columns",
        ));
    }
    let mut at = 2;
    for w in wire {
        let Some(len) = data.get(at..at + 4) else {
            return Ok(Tuple::Incomplete);
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        if len < 0 {
            fields.push(Field::Null);
            continue;
        }
        let Some(value) = data.get(at..at + len as usize) else {
            return Ok(Tuple::Incomplete);
        };
        at += len as usize;
        fields.push(match (w, value.len()) {
            (Wire::Int, 2) => Field::Int(i64::from(i16::from_be_bytes([value[0], value[1]]))),
            (Wire::Int, 4) => Field::Int(i64::from(i32::from_be_bytes([
                value[0], value[1], value[2], value[3],
            ]))),
            (Wire::Int, 8) | (Wire::Time, 8) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(value);
                let v = i64::from_be_bytes(b);
                if *w == Wire::Time {
                    Field::Time(v.div_euclid(1_000_000) + PG_EPOCH)
                } else {
                    Field::Int(v)
                }
            }
            (Wire::Text, _) => Field::Text(Cow::Borrowed(
                std::str::from_utf8(value)
                    .map_err(|_| StoreError::Decode("COPY text is not UTF-8"))?,
            )),
            _ => return Err(StoreError::Decode("COPY value has an unexpected width")),
        });
    }
    Ok(Tuple::Row(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp()
    }

    fn tuple(values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (values.len() as i16).to_be_bytes().to_vec();
        for v in values {
            match v {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(bytes) => {
                    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    #[test]
    fn binary_tuples_decode_typed_fields() {
        let wire = [Wire::Int, Wire::Int, Wire::Text, Wire::Time, Wire::Int];
        let micros = (unix("2026-11-24 11:22:31") - PG_EPOCH) * 1_000_000 + 250_000;
        let data = tuple(&[
            Some(&42i64.to_be_bytes()),
            Some(&(-7i16).to_be_bytes()),
            Some("CERN-PROD".as_bytes()),
            Some(&micros.to_be_bytes()),
            None,
        ]);
        let trailer = (-1i16).to_be_bytes();
        let mut fields = Vec::new();
        let Tuple::Row(used) = parse_binary_tuple(&data, &wire, &mut fields).unwrap() else {
            panic!("a whole row was given");
        };
        assert_eq!(used, data.len());
        assert_eq!(
            fields,
            vec![
                Field::Int(42),
                Field::Int(-7),
                Field::Text(Cow::Borrowed("CERN-PROD")),
                Field::Time(unix("2026-11-24 11:22:31")),
                Field::Null,
            ]
        );
        assert!(matches!(
            parse_binary_tuple(&data[..data.len() - 3], &wire, &mut fields).unwrap(),
            Tuple::Incomplete
        ));
        assert!(matches!(
            parse_binary_tuple(&trailer, &wire, &mut fields).unwrap(),
            Tuple::End
        ));
        assert!(parse_binary_tuple(&data, &wire[..2], &mut fields).is_err());
        let odd = tuple(&[Some(&[1, 2, 3]), None, None, None, None]);
        assert!(parse_binary_tuple(&odd, &wire, &mut fields).is_err());
    }
}
