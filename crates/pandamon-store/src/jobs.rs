//! Job queries pushed down to the database: counts, attribute facets, error groups and one
//! sorted page of jobs, over any set of job tables. The caller passes a typed selection, which
//! compiles here to a WHERE clause for the connected dialect with every value bound.

use crate::catalog::{Catalog, ColType};
use crate::db::live_pool;
use crate::db::{Db, Dialect};
use crate::error::Result;
use crate::load::Value;
use chrono::NaiveDateTime;
use pandamon_model::JobTable;
use pandamon_query::{Selection, SqlDialect};
use sqlx::{AssertSqlSafe, Row};

/// A condition on one column of a row lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    Eq(Value),
    /// One of these values (at most 1 000 are used).
    In(Vec<Value>),
    /// This value or more (a time window's start, say).
    AtLeast(Value),
}

/// A typed cell read back from a job row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Time(NaiveDateTime),
}

impl Cell {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Cell::Int(v) => Some(*v),
            _ => None,
        }
    }
}

macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for p in $params {
            query = match p {
                Value::Null => query.bind(None::<String>),
                Value::Int(v) => query.bind(*v),
                Value::Float(v) => query.bind(*v),
                Value::Text(t) => query.bind(t.to_string()),
                Value::Time(t) => query.bind(*t),
            };
        }
        query
    }};
}
pub(crate) use bind_all;

/// How a column is selected so that every dialect returns the same Rust type.
pub(crate) fn uniform(d: Dialect, column: &str, ty: ColType) -> String {
    let q = d.quote(column);
    match (d, ty) {
        (Dialect::Postgres, t) if t.is_integer() => format!("CAST({q} AS BIGINT)"),
        (Dialect::MySql, t) if t.is_integer() => format!("CAST({q} AS SIGNED)"),
        (Dialect::Postgres, ColType::Numeric(..)) => format!("CAST({q} AS DOUBLE PRECISION)"),
        (Dialect::MySql, ColType::Numeric(..)) => format!("CAST({q} AS DOUBLE)"),
        (Dialect::Sqlite, ColType::Numeric(..)) => format!("CAST({q} AS REAL)"),
        // PostgreSQL reads `CAST(x AS CHAR)` as char(1): fixed-width text is read as text there.
        (Dialect::Postgres, ColType::Char(_)) => format!("CAST({q} AS TEXT)"),
        (_, ColType::Char(_)) => format!("CAST({q} AS CHAR)"),
        (Dialect::MySql, t) if t.is_json() => format!("CAST({q} AS CHAR)"),
        (Dialect::Postgres, t) if t.is_json() => format!("CAST({q} AS TEXT)"),
        _ => q,
    }
}

pub(crate) fn kind_of(ty: ColType) -> u8 {
    match ty {
        t if t.is_integer() => 0,
        ColType::Numeric(..) => 1,
        ColType::Timestamp => 3,
        _ => 2,
    }
}

macro_rules! read_cells {
    ($row:expr, $kinds:expr) => {{
        let mut cells = Vec::with_capacity($kinds.len());
        for (i, kind) in $kinds.iter().enumerate() {
            let cell = match kind {
                0 => $row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Cell::Null, Cell::Int),
                1 => $row
                    .try_get::<Option<f64>, _>(i)?
                    .map_or(Cell::Null, Cell::Float),
                3 => $row
                    .try_get::<Option<NaiveDateTime>, _>(i)?
                    .map_or(Cell::Null, Cell::Time),
                _ => $row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Cell::Null, Cell::Text),
            };
            cells.push(cell);
        }
        cells
    }};
}

impl Db {
    /// The selection's WHERE clause for this database, parameters numbered from `first`.
    fn where_clause(&self, selection: &Selection, first: usize) -> (String, Vec<Value>) {
        selection.where_sql(SqlDialect::from(self.dialect()), first)
    }

    /// One statement per table made by `branch` from the qualified table name and the
    /// selection's WHERE clause, the clause's values appended to `params` in order.
    fn branches(
        &self,
        tables: &[&str],
        selection: &Selection,
        params: &mut Vec<Value>,
        mut branch: impl FnMut(&str, &str) -> String,
    ) -> Vec<String> {
        tables
            .iter()
            .map(|table| {
                let (w, p) = self.where_clause(selection, params.len() + 1);
                params.extend(p);
                branch(&self.qualified(Catalog::get().table(table)), &w)
            })
            .collect()
    }

    /// Every queue's name and CRIC document (`schedconfig_json`).
    pub async fn queue_documents(&self) -> Result<Vec<(String, String)>> {
        let d = self.dialect();
        let t = Catalog::get().table("schedconfig_json");
        let data = t
            .column("data")
            .map_or_else(|| d.quote("data"), |c| uniform(d, &c.name, c.ty));
        let sql = format!(
            "SELECT {}, {data} FROM {}",
            d.quote("panda_queue"),
            self.qualified(t)
        );
        let rows = self
            .fetch_cells(&sql, &[], &[kind_of(ColType::Text), kind_of(ColType::Text)])
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|cells| {
                let mut cells = cells.into_iter();
                let name = cells.next()?.as_text()?.trim().to_string();
                let data = cells.next()?.as_text().unwrap_or("").to_string();
                Some((name, data))
            })
            .collect())
    }

    /// Runs `sql` with `params` and reads every row as cells of the given kinds.
    pub(crate) async fn fetch_cells(
        &self,
        sql: &str,
        params: &[Value],
        kinds: &[u8],
    ) -> Result<Vec<Vec<Cell>>> {
        let rows = live_pool!(self, pool => {
            let query = bind_all!(sqlx::query(AssertSqlSafe(sql.to_string())), params);
            let rows = query.fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(read_cells!(row, kinds));
            }
            out
        });
        Ok(rows)
    }

    /// Jobs matching the clause in each table.
    pub async fn count_jobs(&self, tables: &[JobTable], selection: &Selection) -> Result<i64> {
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        self.count_rows(&names, selection).await
    }

    /// Rows matching the clause, summed over the tables.
    pub async fn count_rows(&self, tables: &[&str], selection: &Selection) -> Result<i64> {
        let mut total = 0;
        for table in tables {
            let (w, params) = self.where_clause(selection, 1);
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE {w}",
                self.qualified(Catalog::get().table(table))
            );
            let n: i64 = live_pool!(self, pool => {
                let query = bind_all!(sqlx::query_scalar(AssertSqlSafe(sql)), &params);
                query.fetch_one(pool).await?
            });
            total += n;
        }
        Ok(total)
    }

    /// Grouped counts: one row per distinct combination of `columns` (which may be SQL
    /// expressions built from catalogue names by the caller's dialect helper) in each table.
    pub async fn group_jobs(
        &self,
        tables: &[JobTable],
        columns: &[(&str, ColType)],
        selection: &Selection,
    ) -> Result<Vec<Group>> {
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        self.group_rows(&names, columns, selection, "pandaid").await
    }

    /// Grouped counts over any catalogue tables; `example` is the smallest `id_column`.
    pub async fn group_rows(
        &self,
        tables: &[&str],
        columns: &[(&str, ColType)],
        selection: &Selection,
        id_column: &str,
    ) -> Result<Vec<Group>> {
        let aggregates = self.count_and_example(id_column);
        let rows = self
            .group_select(tables, None, columns, selection, &aggregates)
            .await?;
        Ok(rows.into_iter().map(into_group).collect())
    }

    /// Like [`Db::group_rows`], with the hour of `time_column` as the first grouped value.
    pub async fn group_rows_by_hour(
        &self,
        tables: &[&str],
        time_column: &str,
        columns: &[(&str, ColType)],
        selection: &Selection,
        id_column: &str,
    ) -> Result<Vec<Group>> {
        let d = self.dialect();
        let t = d.quote(time_column);
        let hour = match d {
            Dialect::Postgres => format!("date_trunc('hour', {t})"),
            Dialect::MySql => format!("CAST(DATE_FORMAT({t}, '%Y-%m-%d %H:00:00') AS DATETIME)"),
            Dialect::Sqlite => format!("strftime('%Y-%m-%d %H:00:00', {t})"),
        };
        let aggregates = self.count_and_example(id_column);
        let rows = self
            .group_select(tables, Some(hour), columns, selection, &aggregates)
            .await?;
        Ok(rows.into_iter().map(into_group).collect())
    }

    /// `SELECT [leading time expression,] columns, aggregates ... GROUP BY` per table; the
    /// aggregates are whole numbers and end each row of cells.
    async fn group_select(
        &self,
        tables: &[&str],
        leading_time: Option<String>,
        columns: &[(&str, ColType)],
        selection: &Selection,
        aggregates: &[String],
    ) -> Result<Vec<Vec<Cell>>> {
        let d = self.dialect();
        let mut select: Vec<String> = leading_time.iter().cloned().collect();
        select.extend(columns.iter().map(|(c, t)| uniform(d, c, *t)));
        let mut kinds: Vec<u8> = leading_time.iter().map(|_| 3).collect();
        kinds.extend(columns.iter().map(|(_, t)| kind_of(*t)));
        kinds.extend(aggregates.iter().map(|_| 0));
        let mut out = Vec::new();
        for table in tables {
            let (w, params) = self.where_clause(selection, 1);
            let sql = format!(
                "SELECT {cols}, {aggregates} FROM {t} WHERE {w} GROUP BY {cols}",
                cols = select.join(", "),
                aggregates = aggregates.join(", "),
                t = self.qualified(Catalog::get().table(table))
            );
            out.extend(self.fetch_cells(&sql, &params, &kinds).await?);
        }
        Ok(out)
    }

    /// `COUNT(*)` and `MIN(id_column)` as whole numbers, for [`Db::group_select`].
    fn count_and_example(&self, id_column: &str) -> Vec<String> {
        let d = self.dialect();
        let min_id = uniform(d, id_column, ColType::BigInt)
            .replace(&d.quote(id_column), &format!("MIN({})", d.quote(id_column)));
        vec!["COUNT(*)".to_string(), min_id]
    }

    /// Grouped sums over any catalogue tables: per distinct combination of `columns`, how many
    /// rows and the sum of each whole-number column of `sums` (NULL counts as 0).
    pub async fn group_sums(
        &self,
        tables: &[&str],
        columns: &[(&str, ColType)],
        sums: &[&str],
        selection: &Selection,
    ) -> Result<Vec<Summed>> {
        let d = self.dialect();
        let mut aggregates = vec!["COUNT(*)".to_string()];
        aggregates.extend(sums.iter().map(|c| {
            let sum = format!("COALESCE(SUM({}), 0)", d.quote(c));
            match d {
                Dialect::Postgres => format!("CAST({sum} AS BIGINT)"),
                Dialect::MySql => format!("CAST({sum} AS SIGNED)"),
                Dialect::Sqlite => sum,
            }
        }));
        let rows = self
            .group_select(tables, None, columns, selection, &aggregates)
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut cells| {
                let tail = cells.split_off(columns.len());
                let mut tail = tail.into_iter().map(|c| c.as_int().unwrap_or(0));
                Summed {
                    values: cells,
                    count: tail.next().unwrap_or(0),
                    sums: tail.collect(),
                }
            })
            .collect())
    }

    /// One page of jobs over the tables, sorted as the selection asks, with the given columns.
    pub async fn job_page(
        &self,
        tables: &[JobTable],
        columns: &[&str],
        selection: &Selection,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Vec<Cell>>> {
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        self.page_rows(&names, columns, selection, limit, offset)
            .await
    }

    /// One page over the union of catalogue tables with the same columns, sorted as the
    /// selection asks.
    pub async fn page_rows(
        &self,
        tables: &[&str],
        columns: &[&str],
        selection: &Selection,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Vec<Cell>>> {
        let d = self.dialect();
        let order = selection.order_sql(SqlDialect::from(d));
        let catalog = Catalog::get();
        let Some(first) = tables.first() else {
            return Ok(Vec::new());
        };
        let job_table = catalog.table(first);
        let typed: Vec<(&str, ColType)> = columns
            .iter()
            .filter_map(|c| job_table.column(c).map(|col| (*c, col.ty)))
            .collect();
        let select: Vec<String> = typed
            .iter()
            .map(|(c, t)| format!("{} AS {}", uniform(d, c, *t), d.quote(c)))
            .collect();
        let kinds: Vec<u8> = typed.iter().map(|(_, t)| kind_of(*t)).collect();
        let mut params = Vec::new();
        let mut n = 0;
        // Each table gives at most offset + limit rows, in order, so the database can walk an
        // index instead of sorting the whole selection.
        let branches = self.branches(tables, selection, &mut params, |table, w| {
            n += 1;
            format!(
                "SELECT * FROM (SELECT {} FROM {table} WHERE {w} ORDER BY {order} LIMIT {}) b{n}",
                select.join(", "),
                offset + limit,
            )
        });
        if branches.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM ({}) j ORDER BY {order} LIMIT {} OFFSET {}",
            branches.join(" UNION ALL "),
            limit,
            offset
        );
        self.fetch_cells(&sql, &params, &kinds).await
    }

    /// The given columns of the jobs with these pandaids, looked up in every table given, as
    /// (table, pandaid, cells). A job caught moving between tables may come back twice.
    pub async fn jobs_by_pandaid(
        &self,
        tables: &[JobTable],
        columns: &[&str],
        pandaids: &[i64],
    ) -> Result<Vec<(JobTable, i64, Vec<Cell>)>> {
        let d = self.dialect();
        let catalog = Catalog::get();
        let typed: Vec<(&str, ColType)> = std::iter::once("pandaid")
            .chain(columns.iter().copied())
            .filter_map(|c| {
                catalog
                    .table("jobsactive4")
                    .column(c)
                    .map(|col| (c, col.ty))
            })
            .collect();
        let select: Vec<String> = typed.iter().map(|(c, t)| uniform(d, c, *t)).collect();
        let kinds: Vec<u8> = typed.iter().map(|(_, t)| kind_of(*t)).collect();
        let mut out = Vec::new();
        // Lists of at most 1000 ids keep every dialect's parameter limits far away.
        for chunk in pandaids.chunks(1_000) {
            let params: Vec<Value> = chunk.iter().map(|p| Value::Int(*p)).collect();
            let marks: Vec<String> = (1..=chunk.len()).map(|i| d.placeholder(i)).collect();
            for table in tables {
                let sql = format!(
                    "SELECT {} FROM {} WHERE {} IN ({})",
                    select.join(", "),
                    self.qualified(catalog.table(table.name())),
                    d.quote("pandaid"),
                    marks.join(", ")
                );
                for mut cells in self.fetch_cells(&sql, &params, &kinds).await? {
                    let Some(pandaid) = cells.first().and_then(Cell::as_int) else {
                        continue;
                    };
                    cells.remove(0);
                    out.push((*table, pandaid, cells));
                }
            }
        }
        Ok(out)
    }

    /// Every column of the rows of `table` where `key` equals the value, optionally ordered by a
    /// column, as (column, cell) pairs in catalogue order.
    pub async fn rows_where(
        &self,
        table: &str,
        key: (&str, Value),
        order_by: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Vec<(String, Cell)>>> {
        let (column, value) = key;
        self.rows_matching(table, &[(column, Match::Eq(value))], order_by, limit)
            .await
    }

    /// Every column of the rows of `table` matching every condition, optionally ordered by a
    /// column, in catalogue order: one statement however many values an `In` lists (up to
    /// 1 000). Column names must be the table's own.
    pub async fn rows_matching(
        &self,
        table: &str,
        conditions: &[(&str, Match)],
        order_by: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Vec<(String, Cell)>>> {
        let d = self.dialect();
        let t = Catalog::get().table(table);
        for column in conditions.iter().map(|(c, _)| *c).chain(order_by) {
            if t.column(column).is_none() {
                return Err(crate::error::StoreError::UnknownColumn {
                    table: table.to_string(),
                    column: column.to_string(),
                });
            }
        }
        let select: Vec<String> = t
            .columns
            .iter()
            .map(|c| uniform(d, &c.name, c.ty))
            .collect();
        let kinds: Vec<u8> = t.columns.iter().map(|c| kind_of(c.ty)).collect();
        let mut params: Vec<Value> = Vec::new();
        let mut filters: Vec<String> = Vec::new();
        for (column, condition) in conditions {
            let q = d.quote(column);
            match condition {
                Match::Eq(v) => {
                    params.push(v.clone());
                    filters.push(format!("{q} = {}", d.placeholder(params.len())));
                }
                Match::In(values) if values.is_empty() => return Ok(Vec::new()),
                Match::In(values) => {
                    let marks: Vec<String> = values
                        .iter()
                        .take(1_000)
                        .map(|v| {
                            params.push(v.clone());
                            d.placeholder(params.len())
                        })
                        .collect();
                    filters.push(format!("{q} IN ({})", marks.join(", ")));
                }
                Match::AtLeast(v) => {
                    params.push(v.clone());
                    filters.push(format!("{q} >= {}", d.placeholder(params.len())));
                }
            }
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        let order = order_by.map_or(String::new(), |c| format!(" ORDER BY {}", d.quote(c)));
        let sql = format!(
            "SELECT {} FROM {}{filter}{order} LIMIT {limit}",
            select.join(", "),
            self.qualified(t)
        );
        let rows = self.fetch_cells(&sql, &params, &kinds).await?;
        Ok(rows
            .into_iter()
            .map(|cells| t.column_names().map(str::to_string).zip(cells).collect())
            .collect())
    }

    /// A facet summary as one SQL statement, for the bench to compare the index with:
    /// `GROUPING SETS` with `work_mem` raised on PostgreSQL, one `GROUP BY` per facet in a
    /// `UNION ALL` elsewhere. Returns the number of (facet, value) groups.
    pub async fn facet_summary_in_sql(
        &self,
        tables: &[&str],
        facets: &[&str],
        selection: &Selection,
    ) -> Result<i64> {
        let d = self.dialect();
        let columns: Vec<String> = facets.iter().map(|c| d.quote(c)).collect();
        let mut params = Vec::new();
        let union = self
            .branches(tables, selection, &mut params, |table, w| {
                format!("SELECT {} FROM {table} WHERE {w}", columns.join(", "))
            })
            .join(" UNION ALL ");
        let sql = match d {
            Dialect::Postgres => format!(
                "SELECT COUNT(*) FROM (SELECT {cols}, COUNT(*) FROM ({union}) j GROUP BY GROUPING SETS ({sets})) g",
                cols = columns.join(", "),
                sets = columns
                    .iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!(
                "SELECT COUNT(*) FROM ({}) g",
                columns
                    .iter()
                    .map(|c| format!("SELECT {c}, COUNT(*) AS n FROM ({union}) j GROUP BY {c}"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ")
            ),
        };
        // Every branch of the union repeats the WHERE parameters.
        let repeats = if d == Dialect::Postgres {
            1
        } else {
            columns.len()
        };
        let mut all_params = Vec::new();
        for _ in 0..repeats {
            all_params.extend(params.iter().cloned());
        }
        self.check_health()?;
        let n: i64 = match &self.pool {
            crate::db::Pool::Pg(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET LOCAL work_mem = '256MB'")
                    .execute(&mut *tx)
                    .await?;
                let query = bind_all!(sqlx::query_scalar(AssertSqlSafe(sql)), &all_params);
                let n = query.fetch_one(&mut *tx).await?;
                tx.commit().await?;
                n
            }
            _ => live_pool!(self, pool => {
                let query = bind_all!(sqlx::query_scalar(AssertSqlSafe(sql.clone())), &all_params);
                query.fetch_one(pool).await?
            }),
        };
        Ok(n)
    }

    /// The pandaids of up to `limit` running jobs, smallest first.
    pub async fn running_pandaids(&self, limit: u64) -> Result<Vec<i64>> {
        let d = self.dialect();
        let sql = format!(
            "SELECT {p} FROM {t} WHERE {s} = {mark} ORDER BY {p} LIMIT {limit}",
            p = d.quote("pandaid"),
            t = self.qualified(Catalog::get().table("jobsactive4")),
            s = d.quote("jobstatus"),
            mark = d.placeholder(1),
        );
        let rows = self
            .fetch_cells(&sql, &[Value::from("running")], &[kind_of(ColType::BigInt)])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.first().and_then(Cell::as_int))
            .collect())
    }

    /// `error_descriptions` as (component, code) → (acronym, diagnostics, description, category).
    pub async fn error_descriptions(&self) -> Result<Vec<ErrorDescription>> {
        let d = self.dialect();
        let table = Catalog::get().table("error_descriptions");
        let columns = [
            ("component", ColType::Varchar(32)),
            ("code", ColType::Int),
            ("acronym", ColType::Varchar(64)),
            ("diagnostics", ColType::Varchar(256)),
            ("description", ColType::Varchar(4000)),
            ("category", ColType::SmallInt),
        ];
        let select: Vec<String> = columns.iter().map(|(c, t)| uniform(d, c, *t)).collect();
        let kinds: Vec<u8> = columns.iter().map(|(_, t)| kind_of(*t)).collect();
        let sql = format!(
            "SELECT {} FROM {}",
            select.join(", "),
            self.qualified(table)
        );
        Ok(self
            .fetch_cells(&sql, &[], &kinds)
            .await?
            .into_iter()
            .map(|c| ErrorDescription {
                component: c[0].as_text().unwrap_or_default().to_string(),
                code: c[1].as_int().unwrap_or(0),
                acronym: c[2].as_text().map(str::to_string),
                diagnostics: c[3].as_text().map(str::to_string),
                description: c[4].as_text().map(str::to_string),
                category: c[5].as_int().unwrap_or(0),
            })
            .collect())
    }
}

/// One distinct combination of grouped values, with how many jobs have it and the smallest
/// pandaid among them.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub values: Vec<Cell>,
    pub count: i64,
    pub example: i64,
}

/// A group's cells followed by its count and smallest id, as a [`Group`].
fn into_group(mut cells: Vec<Cell>) -> Group {
    let example = cells.pop().and_then(|c| c.as_int()).unwrap_or(0);
    let count = cells.pop().and_then(|c| c.as_int()).unwrap_or(0);
    Group {
        values: cells,
        count,
        example,
    }
}

/// One distinct combination of grouped values with how many rows have it and the sums of the
/// summed columns, in the order they were asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Summed {
    pub values: Vec<Cell>,
    pub count: i64,
    pub sums: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDescription {
    pub component: String,
    pub code: i64,
    pub acronym: Option<String>,
    pub diagnostics: Option<String>,
    pub description: Option<String>,
    pub category: i64,
}
