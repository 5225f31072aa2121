//! Bulk loading for the simulator: rows are sent with `COPY` on PostgreSQL and as multi-row
//! `INSERT`s with bound parameters on MySQL and SQLite. Values are never spliced into SQL text.

use crate::catalog::{Catalog, Table};
use crate::db::{Db, Dialect, Pool};
use crate::error::Result;
use chrono::NaiveDateTime;
use sqlx::AssertSqlSafe;
use std::io::Write as _;

pub use pandamon_query::Value;

pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Rows for one table, positionally matching the table's catalogue columns.
#[derive(Debug)]
pub struct Batch {
    pub table: &'static Table,
    pub rows: Vec<Vec<Value>>,
}

impl Batch {
    pub fn new(table: &str) -> Batch {
        Batch {
            table: Catalog::get().table(table),
            rows: Vec::new(),
        }
    }

    /// A row of NULLs, to be filled with [`Batch::set`].
    pub fn blank(&self) -> Vec<Value> {
        vec![Value::Null; self.table.columns.len()]
    }

    /// Sets a column of `row` by name. Panics on an unknown column: names are constants.
    pub fn set(&self, row: &mut [Value], column: &str, value: impl Into<Value>) {
        match self.table.position(column) {
            Some(i) => row[i] = value.into(),
            None => panic!("column {column} is not in table {}", self.table.name),
        }
    }

    /// Appends a row built from `(column, value)` pairs; other columns get their catalogue
    /// default (NULL, 0 or the epoch) from the database.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.table.columns.len());
        self.rows.push(row);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Columns of `table` that have a value in at least one row, or that are NOT NULL without a
/// default. Omitting all-NULL columns lets the database fill its defaults.
fn used_columns(batch: &Batch) -> Vec<usize> {
    let table = batch.table;
    (0..table.columns.len())
        .filter(|&i| {
            let c = &table.columns[i];
            batch.rows.iter().any(|r| r[i] != Value::Null) || (c.not_null && c.default.is_none())
        })
        .collect()
}

pub(crate) fn copy_escape(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b => out.push(b),
        }
    }
}

/// Appends a decimal integer without going through `fmt`.
pub(crate) fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_padded(out: &mut Vec<u8>, v: u32, width: usize) {
    let text = v.to_string();
    for _ in text.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(text.as_bytes());
}

/// Appends `YYYY-MM-DD HH:MM:SS` (the layout of [`TIME_FORMAT`]).
pub fn push_time(out: &mut Vec<u8>, t: &NaiveDateTime) {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if (0..=9999).contains(&year) {
        push_padded(out, year as u32, 4);
        out.push(b'-');
        push_padded(out, t.month(), 2);
        out.push(b'-');
        push_padded(out, t.day(), 2);
        out.push(b' ');
        push_padded(out, t.hour(), 2);
        out.push(b':');
        push_padded(out, t.minute(), 2);
        out.push(b':');
        push_padded(out, t.second(), 2);
    } else {
        out.extend_from_slice(t.format(TIME_FORMAT).to_string().as_bytes());
    }
}

/// The value a NULL gets in a NOT NULL column with a default (the database would apply the
/// default only if the column were left out of the statement).
fn default_for(column: &crate::catalog::Column) -> Option<Value> {
    if !column.not_null {
        return None;
    }
    match &column.default {
        Some(crate::catalog::Default::Number(n)) => Some(Value::Int(*n)),
        Some(crate::catalog::Default::Text(t)) => {
            Some(Value::Text(std::borrow::Cow::Owned(t.clone())))
        }
        Some(crate::catalog::Default::Epoch) => {
            Some(Value::Time(chrono::DateTime::UNIX_EPOCH.naive_utc()))
        }
        None => None,
    }
}

/// Replaces NULLs in NOT NULL columns with the column default.
fn fill_defaults(batch: &mut Batch) {
    let defaults: Vec<(usize, Value)> = batch
        .table
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| default_for(c).map(|v| (i, v)))
        .collect();
    for row in &mut batch.rows {
        for (i, value) in &defaults {
            if row[*i] == Value::Null {
                row[*i] = value.clone();
            }
        }
    }
}

/// Encodes rows in PostgreSQL `COPY ... FROM STDIN` text format.
fn copy_text(batch: &Batch, columns: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.rows.len() * columns.len() * 8);
    for row in &batch.rows {
        for (n, &i) in columns.iter().enumerate() {
            if n > 0 {
                out.push(b'\t');
            }
            match &row[i] {
                Value::Null => out.extend_from_slice(b"\\N"),
                Value::Int(v) => push_int(&mut out, *v),
                Value::Float(v) => {
                    let _ = write!(out, "{v}");
                }
                Value::Text(t) => copy_escape(&mut out, t),
                Value::Time(t) => push_time(&mut out, t),
            }
        }
        out.push(b'\n');
    }
    out
}

macro_rules! bind_value {
    ($query:expr, $value:expr) => {
        match $value {
            Value::Null => $query.bind(None::<i64>),
            Value::Int(v) => $query.bind(*v),
            Value::Float(v) => $query.bind(*v),
            Value::Text(t) => $query.bind(t.as_ref()),
            Value::Time(t) => $query.bind(*t),
        }
    };
}

impl Db {
    /// Inserts every row of `batch`.
    pub async fn load(&self, batch: &mut Batch) -> Result<()> {
        if batch.rows.is_empty() {
            return Ok(());
        }
        fill_defaults(batch);
        let batch = &*batch;
        let d = self.dialect();
        let columns = used_columns(batch);
        let column_list = columns
            .iter()
            .map(|&i| d.quote(&batch.table.columns[i].name))
            .collect::<Vec<_>>()
            .join(", ");
        let name = self.qualified(batch.table);
        self.check_health()?;
        match &self.pool {
            Pool::Pg(pool) => {
                let mut conn = pool.acquire().await?;
                let mut copy = conn
                    .copy_in_raw(&format!("COPY {name} ({column_list}) FROM STDIN"))
                    .await?;
                copy.send(copy_text(batch, &columns)).await?;
                copy.finish().await?;
            }
            Pool::MySql(pool) => {
                for chunk in batch.rows.chunks(rows_per_statement(d, columns.len())) {
                    let sql = insert_sql(d, &name, &column_list, columns.len(), chunk.len());
                    let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
                    for row in chunk {
                        for &i in &columns {
                            query = bind_value!(query, &row[i]);
                        }
                    }
                    query.execute(pool).await?;
                }
            }
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in batch.rows.chunks(rows_per_statement(d, columns.len())) {
                    let sql = insert_sql(d, &name, &column_list, columns.len(), chunk.len());
                    let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
                    for row in chunk {
                        for &i in &columns {
                            query = bind_value!(query, &row[i]);
                        }
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

fn rows_per_statement(d: Dialect, columns: usize) -> usize {
    (d.max_params() / columns.max(1)).clamp(1, 1000)
}

fn insert_sql(d: Dialect, name: &str, column_list: &str, columns: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {name} ({column_list}) VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push(',');
            }
            n += 1;
            sql.push_str(&d.placeholder(n));
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_marks_nulls() {
        let mut batch = Batch::new("metatable");
        let mut row = batch.blank();
        batch.set(&mut row, "pandaid", 7i64);
        batch.set(&mut row, "metadata", "a\tb\\c\nd");
        batch.push(row);
        let columns = used_columns(&batch);
        // pandaid and metadata carry values; modificationtime has a default and stays out.
        assert_eq!(columns, vec![0, 2]);
        assert_eq!(copy_text(&batch, &columns), b"7\ta\\tb\\\\c\\nd\n");
    }

    #[test]
    fn integers_and_times_are_encoded_like_fmt() {
        for v in [0i64, 7, -7, 1234567890123, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            push_int(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
        let t = NaiveDateTime::parse_from_str("2026-01-02 03:04:05", TIME_FORMAT).unwrap();
        let mut out = Vec::new();
        push_time(&mut out, &t);
        assert_eq!(String::from_utf8(out).unwrap(), "2026-01-02 03:04:05");
    }

    #[test]
    fn insert_sql_numbers_placeholders_per_dialect() {
        assert_eq!(
            insert_sql(Dialect::Postgres, "t", "a, b", 2, 2),
            "INSERT INTO t (a, b) VALUES ($1,$2),($3,$4)"
        );
        assert_eq!(
            insert_sql(Dialect::MySql, "t", "a", 1, 2),
            "INSERT INTO t (a) VALUES (?),(?)"
        );
        assert!(rows_per_statement(Dialect::Sqlite, 127) * 127 <= Dialect::Sqlite.max_params());
    }
}
