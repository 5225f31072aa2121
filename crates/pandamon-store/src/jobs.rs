//! Job queries pushed down to the database: counts, attribute facets, error groups and one
//! sorted page of jobs, over any set of job tables. The caller passes a compiled WHERE clause
//! (with its bound values); nothing here looks at request text.

use crate::catalog::{Catalog, ColType};
use crate::db::{Db, Dialect};
use crate::error::Result;
use crate::load::Value;
use crate::with_pool;
use chrono::NaiveDateTime;
use pandamon_model::JobTable;
use sqlx::{AssertSqlSafe, Row};

/// Compiles the WHERE clause with parameters numbered from the given position.
pub type WhereFn<'a> = &'a (dyn Fn(usize) -> (String, Vec<Value>) + Sync);

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

/// How a column is selected so that every dialect returns the same Rust type.
pub(crate) fn uniform(d: Dialect, column: &str, ty: ColType) -> String {
    let q = d.quote(column);
    match (d, ty) {
        (Dialect::Postgres, t) if t.is_integer() => format!("CAST({q} AS BIGINT)"),
        (Dialect::MySql, t) if t.is_integer() => format!("CAST({q} AS SIGNED)"),
        (Dialect::Postgres, ColType::Numeric(..)) => format!("CAST({q} AS DOUBLE PRECISION)"),
        (Dialect::MySql, ColType::Numeric(..)) => format!("CAST({q} AS DOUBLE)"),
        (Dialect::Sqlite, ColType::Numeric(..)) => format!("CAST({q} AS REAL)"),
        (_, ColType::Char(_)) | (Dialect::MySql, ColType::Json) => format!("CAST({q} AS CHAR)"),
        (Dialect::Postgres, ColType::Json) => format!("CAST({q} AS TEXT)"),
        _ => q,
    }
}

fn kind_of(ty: ColType) -> u8 {
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
    /// Runs `sql` with `params` and reads every row as cells of the given kinds.
    async fn fetch_cells(
        &self,
        sql: &str,
        params: &[Value],
        kinds: &[u8],
    ) -> Result<Vec<Vec<Cell>>> {
        let rows = with_pool!(self, pool => {
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
    pub async fn count_jobs(&self, tables: &[JobTable], clause: WhereFn<'_>) -> Result<i64> {
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        self.count_rows(&names, clause).await
    }

    /// Rows matching the clause, summed over the tables.
    pub async fn count_rows(&self, tables: &[&str], clause: WhereFn<'_>) -> Result<i64> {
        let mut total = 0;
        for table in tables {
            let (w, params) = clause(1);
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE {w}",
                self.qualified(Catalog::get().table(table))
            );
            let n: i64 = with_pool!(self, pool => {
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
        clause: WhereFn<'_>,
    ) -> Result<Vec<Group>> {
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        self.group_rows(&names, columns, clause, "pandaid").await
    }

    /// Grouped counts over any catalogue tables; `example` is the smallest `id_column`.
    pub async fn group_rows(
        &self,
        tables: &[&str],
        columns: &[(&str, ColType)],
        clause: WhereFn<'_>,
        id_column: &str,
    ) -> Result<Vec<Group>> {
        self.group_select(tables, None, columns, clause, id_column)
            .await
    }

    /// Like [`Db::group_rows`], with the hour of `time_column` as the first grouped value.
    pub async fn group_rows_by_hour(
        &self,
        tables: &[&str],
        time_column: &str,
        columns: &[(&str, ColType)],
        clause: WhereFn<'_>,
    ) -> Result<Vec<Group>> {
        let d = self.dialect();
        let t = d.quote(time_column);
        let hour = match d {
            Dialect::Postgres => format!("date_trunc('hour', {t})"),
            Dialect::MySql => format!("CAST(DATE_FORMAT({t}, '%Y-%m-%d %H:00:00') AS DATETIME)"),
            Dialect::Sqlite => format!("strftime('%Y-%m-%d %H:00:00', {t})"),
        };
        self.group_select(tables, Some(hour), columns, clause, "pandaid")
            .await
    }

    /// `SELECT [leading time expression,] columns, COUNT(*), MIN(id) ... GROUP BY` per table.
    async fn group_select(
        &self,
        tables: &[&str],
        leading_time: Option<String>,
        columns: &[(&str, ColType)],
        clause: WhereFn<'_>,
        id_column: &str,
    ) -> Result<Vec<Group>> {
        let d = self.dialect();
        let mut select: Vec<String> = leading_time.iter().cloned().collect();
        select.extend(columns.iter().map(|(c, t)| uniform(d, c, *t)));
        let mut kinds: Vec<u8> = leading_time.iter().map(|_| 3).collect();
        kinds.extend(columns.iter().map(|(_, t)| kind_of(*t)));
        kinds.extend([0, 0]);
        let min_id = uniform(d, id_column, ColType::BigInt)
            .replace(&d.quote(id_column), &format!("MIN({})", d.quote(id_column)));
        let mut out = Vec::new();
        for table in tables {
            let (w, params) = clause(1);
            let sql = format!(
                "SELECT {cols}, COUNT(*), {min_id} FROM {t} WHERE {w} GROUP BY {cols}",
                cols = select.join(", "),
                t = self.qualified(Catalog::get().table(table))
            );
            for mut cells in self.fetch_cells(&sql, &params, &kinds).await? {
                let example = cells.pop().and_then(|c| c.as_int()).unwrap_or(0);
                let count = cells.pop().and_then(|c| c.as_int()).unwrap_or(0);
                out.push(Group {
                    values: cells,
                    count,
                    example,
                });
            }
        }
        Ok(out)
    }

    /// One page of jobs over the tables, sorted by `order` (an ORDER BY body over selected
    /// columns), with the given columns.
    pub async fn job_page(
        &self,
        tables: &[JobTable],
        columns: &[&str],
        clause: WhereFn<'_>,
        order: &str,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Vec<Cell>>> {
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        self.page_rows(&names, columns, clause, order, limit, offset)
            .await
    }

    /// One sorted page over the union of catalogue tables with the same columns.
    pub async fn page_rows(
        &self,
        tables: &[&str],
        columns: &[&str],
        clause: WhereFn<'_>,
        order: &str,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Vec<Cell>>> {
        let d = self.dialect();
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
        let mut branches = Vec::new();
        let mut params = Vec::new();
        for table in tables {
            let (w, p) = clause(params.len() + 1);
            params.extend(p);
            // Each table gives at most offset + limit rows, in order, so the database can walk
            // an index instead of sorting the whole selection.
            branches.push(format!(
                "SELECT * FROM (SELECT {} FROM {} WHERE {w} ORDER BY {order} LIMIT {}) b{}",
                select.join(", "),
                self.qualified(catalog.table(table)),
                offset + limit,
                branches.len()
            ));
        }
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
        self.whole_rows(table, Some(key), order_by, limit).await
    }

    /// Every column of `table`'s rows (those where `key` matches, if given), in catalogue order.
    async fn whole_rows(
        &self,
        table: &str,
        key: Option<(&str, Value)>,
        order_by: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Vec<(String, Cell)>>> {
        let d = self.dialect();
        let t = Catalog::get().table(table);
        let select: Vec<String> = t
            .columns
            .iter()
            .map(|c| uniform(d, &c.name, c.ty))
            .collect();
        let kinds: Vec<u8> = t.columns.iter().map(|c| kind_of(c.ty)).collect();
        let filter = key.as_ref().map_or(String::new(), |(c, _)| {
            format!(" WHERE {} = {}", d.quote(c), d.placeholder(1))
        });
        let order = order_by.map_or(String::new(), |c| format!(" ORDER BY {}", d.quote(c)));
        let sql = format!(
            "SELECT {} FROM {}{filter}{order} LIMIT {limit}",
            select.join(", "),
            self.qualified(t)
        );
        let params: Vec<Value> = key.map(|(_, v)| v).into_iter().collect();
        let rows = self.fetch_cells(&sql, &params, &kinds).await?;
        Ok(rows
            .into_iter()
            .map(|cells| t.column_names().map(str::to_string).zip(cells).collect())
            .collect())
    }

    /// The given columns of the rows of `table` whose `time_column` is at or after `since`.
    pub async fn rows_since(
        &self,
        table: &str,
        columns: &[(&str, ColType)],
        time_column: &str,
        since: NaiveDateTime,
    ) -> Result<Vec<Vec<Cell>>> {
        let d = self.dialect();
        let select: Vec<String> = columns.iter().map(|(c, t)| uniform(d, c, *t)).collect();
        let kinds: Vec<u8> = columns.iter().map(|(_, t)| kind_of(*t)).collect();
        let since_sql = match d {
            Dialect::Postgres => format!("CAST({} AS TIMESTAMP)", d.placeholder(1)),
            _ => d.placeholder(1),
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {} >= {since_sql}",
            select.join(", "),
            self.qualified(Catalog::get().table(table)),
            d.quote(time_column)
        );
        self.fetch_cells(&sql, &[Value::Time(since)], &kinds).await
    }

    /// Every row of a small table (queue descriptions, shares), up to `limit`.
    pub async fn all_rows(&self, table: &str, limit: u64) -> Result<Vec<Vec<(String, Cell)>>> {
        self.whole_rows(table, None, None, limit).await
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

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDescription {
    pub component: String,
    pub code: i64,
    pub acronym: Option<String>,
    pub diagnostics: Option<String>,
    pub description: Option<String>,
    pub category: i64,
}
