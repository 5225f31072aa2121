//! Small transactional writes for the live simulator: statements with typed bound parameters,
//! run together in one transaction on any dialect.

use crate::catalog::{Catalog, ColType, Table};
use crate::db::{Db, Pool};
use crate::error::Result;
use crate::load::Value;
use chrono::NaiveDateTime;
use sqlx::AssertSqlSafe;

/// One statement and its parameters, each with the type of the column it feeds (NULLs need it
/// on PostgreSQL).
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<(Value, ColType)>,
}

macro_rules! bind_typed {
    ($query:expr, $value:expr, $ty:expr) => {
        match ($value, $ty) {
            (Value::Null, ColType::Timestamp) => $query.bind(None::<NaiveDateTime>),
            (Value::Null, ColType::Numeric(..)) => $query.bind(None::<f64>),
            (Value::Null, t) if t.is_integer() => $query.bind(None::<i64>),
            (Value::Null, _) => $query.bind(None::<String>),
            (Value::Int(v), _) => $query.bind(*v),
            (Value::Float(v), _) => $query.bind(*v),
            (Value::Text(t), _) => $query.bind(t.to_string()),
            (Value::Time(t), _) => $query.bind(*t),
        }
    };
}

impl Db {
    /// Runs the statements in one transaction; returns the rows each one touched.
    pub async fn transaction(&self, statements: &[Statement]) -> Result<Vec<u64>> {
        let mut affected = Vec::with_capacity(statements.len());
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                for st in statements {
                    let mut query = sqlx::query(AssertSqlSafe(st.sql.as_str()));
                    for (value, ty) in &st.params {
                        query = bind_typed!(query, value, ty);
                    }
                    affected.push(query.execute(&mut *tx).await?.rows_affected());
                }
                tx.commit().await?;
            }};
        }
        self.check_health()?;
        match &self.pool {
            Pool::Pg(pool) => run!(pool),
            Pool::MySql(pool) => run!(pool),
            Pool::Sqlite(pool) => run!(pool),
        }
        Ok(affected)
    }

    fn typed(table: &Table, pairs: &[(&str, Value)]) -> Vec<(Value, ColType)> {
        pairs
            .iter()
            .map(|(c, v)| {
                let ty = table
                    .column(c)
                    .unwrap_or_else(|| panic!("column {c} is not in table {}", table.name))
                    .ty;
                (v.clone(), ty)
            })
            .collect()
    }

    /// `UPDATE table SET sets... WHERE keys...`.
    pub fn update_statement(
        &self,
        table: &str,
        sets: &[(&str, Value)],
        keys: &[(&str, Value)],
    ) -> Statement {
        let d = self.dialect();
        let table = Catalog::get().table(table);
        let mut n = 0;
        let mut next = || {
            n += 1;
            d.placeholder(n)
        };
        let set_sql: Vec<String> = sets
            .iter()
            .map(|(c, _)| format!("{} = {}", d.quote(c), next()))
            .collect();
        let where_sql: Vec<String> = keys
            .iter()
            .map(|(c, _)| format!("{} = {}", d.quote(c), next()))
            .collect();
        let mut params = Self::typed(table, sets);
        params.extend(Self::typed(table, keys));
        Statement {
            sql: format!(
                "UPDATE {} SET {} WHERE {}",
                self.qualified(table),
                set_sql.join(", "),
                where_sql.join(" AND ")
            ),
            params,
        }
    }

    /// `UPDATE table SET column = column + delta WHERE keys...` for counters.
    pub fn increment_statement(
        &self,
        table: &str,
        column: &str,
        delta: i64,
        keys: &[(&str, Value)],
    ) -> Statement {
        let d = self.dialect();
        let table = Catalog::get().table(table);
        let mut n = 1;
        let where_sql: Vec<String> = keys
            .iter()
            .map(|(c, _)| {
                n += 1;
                format!("{} = {}", d.quote(c), d.placeholder(n))
            })
            .collect();
        let mut params = vec![(Value::Int(delta), ColType::BigInt)];
        params.extend(Self::typed(table, keys));
        Statement {
            sql: format!(
                "UPDATE {t} SET {c} = COALESCE({c}, 0) + {p} WHERE {w}",
                t = self.qualified(table),
                c = d.quote(column),
                p = d.placeholder(1),
                w = where_sql.join(" AND ")
            ),
            params,
        }
    }

    /// `INSERT INTO table (columns...) VALUES (...)`.
    pub fn insert_statement(&self, table: &str, values: &[(&str, Value)]) -> Statement {
        let d = self.dialect();
        let table = Catalog::get().table(table);
        let columns: Vec<String> = values.iter().map(|(c, _)| d.quote(c)).collect();
        let params = Self::typed(table, values);
        // PostgreSQL does not take text for a JSON column without a cast.
        let placeholders: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| match (d, ty) {
                (crate::Dialect::Postgres, t) if t.is_json() => format!(
                    "CAST({} AS {})",
                    d.placeholder(i + 1),
                    crate::schema::column_type(d, *ty)
                ),
                _ => d.placeholder(i + 1),
            })
            .collect();
        Statement {
            sql: format!(
                "INSERT INTO {} ({}) VALUES ({})",
                self.qualified(table),
                columns.join(", "),
                placeholders.join(", ")
            ),
            params,
        }
    }

    /// Copies the row(s) of `from` matching `key` into `to`, replacing the `overrides` columns.
    /// Both tables must have the same columns (the job tables do).
    pub fn copy_statement(
        &self,
        from: &str,
        to: &str,
        keys: &[(&str, Value)],
        overrides: &[(&str, Value)],
    ) -> Statement {
        let d = self.dialect();
        let catalog = Catalog::get();
        let source = catalog.table(from);
        let target = catalog.table(to);
        let mut params = Vec::new();
        let mut n = 0;
        let select: Vec<String> = target
            .columns
            .iter()
            .map(
                |c| match overrides.iter().find(|(name, _)| *name == c.name) {
                    Some((_, v)) => {
                        n += 1;
                        params.push((v.clone(), c.ty));
                        match (d, c.ty, v) {
                            // Give PostgreSQL the target type of a bound value in a SELECT list.
                            (crate::db::Dialect::Postgres, ColType::Timestamp, _) => {
                                format!("CAST({} AS TIMESTAMP)", d.placeholder(n))
                            }
                            _ => d.placeholder(n),
                        }
                    }
                    None => d.quote(&c.name),
                },
            )
            .collect();
        let where_sql: Vec<String> = keys
            .iter()
            .map(|(c, _)| {
                n += 1;
                format!("{} = {}", d.quote(c), d.placeholder(n))
            })
            .collect();
        params.extend(Self::typed(source, keys));
        let columns: Vec<String> = target.column_names().map(|c| d.quote(c)).collect();
        Statement {
            sql: format!(
                "INSERT INTO {} ({}) SELECT {} FROM {} WHERE {}",
                self.qualified(target),
                columns.join(", "),
                select.join(", "),
                self.qualified(source),
                where_sql.join(" AND ")
            ),
            params,
        }
    }

    /// `DELETE FROM table WHERE key = value`.
    pub fn delete_statement(&self, table: &str, key: (&str, Value)) -> Statement {
        let d = self.dialect();
        let table = Catalog::get().table(table);
        Statement {
            sql: format!(
                "DELETE FROM {} WHERE {} = {}",
                self.qualified(table),
                d.quote(key.0),
                d.placeholder(1)
            ),
            params: Self::typed(table, &[key]),
        }
    }
}

impl Db {
    /// The statements that rewrite `jobs_share_stats` as PanDA keeps it: one row per share,
    /// site, status, work queue, resource type and nucleus of the jobs in `jobsactive4`, with
    /// their count, HS06, top priority and mean memory, stamped `now`.
    pub fn share_stats_statements(&self, now: NaiveDateTime) -> Vec<Statement> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let catalog = Catalog::get();
        let stats = catalog.table("jobs_share_stats");
        let keys = [
            "gshare",
            "computingsite",
            "jobstatus",
            "vo",
            "workqueue_id",
            "resource_type",
            "nucleus",
        ];
        let keys_sql: Vec<String> = keys.iter().map(|k| q(k)).collect();
        let insert = format!(
            "INSERT INTO {stats} ({ts}, {keys}, {maxpriority}, {diskio}, {mem}, {njobs}, {hs}) \
             SELECT {p}, {keys}, MAX({priority}), 0, ROUND(AVG({ram}), 2), COUNT(*), COALESCE(SUM({hs06}), 0) \
             FROM {active} GROUP BY {keys}",
            stats = self.qualified(stats),
            ts = q("ts"),
            keys = keys_sql.join(", "),
            maxpriority = q("maxpriority"),
            diskio = q("prorated_diskio_avg"),
            mem = q("prorated_mem_avg"),
            njobs = q("njobs"),
            hs = q("hs"),
            p = d.placeholder(1),
            priority = q("currentpriority"),
            ram = q("minramcount"),
            hs06 = q("hs06"),
            active = self.qualified(catalog.table("jobsactive4")),
        );
        vec![
            Statement {
                sql: format!("DELETE FROM {}", self.qualified(stats)),
                params: Vec::new(),
            },
            Statement {
                sql: insert,
                params: vec![(Value::Time(now), ColType::Timestamp)],
            },
        ]
    }
}
