//! The accounting rollups of pandamon's state: completed jobs (migration 4) and file transfers
//! (migration 5) summed per time bin and per combination of dimension values. A bin range is
//! always replaced as a whole, in one transaction, so a rebuild never double-counts.

use crate::catalog::ColType;
use crate::db::live_pool;
use crate::error::Result;
use crate::load::Value;
use crate::state::{ROLLUPS_TABLE, SNAPSHOTS_TABLE, StateStore, TRANSFER_ROLLUPS_TABLE};
use sqlx::{AssertSqlSafe, Row};

/// The dimensions a rollup row is keyed by, in column order.
pub const ROLLUP_DIMS: [&str; 11] = [
    "computingsite",
    "cloud",
    "resource_type",
    "prodsourcelabel",
    "processingtype",
    "gshare",
    "workinggroup",
    "inputdatatype",
    "jobstatus",
    "errorcategory",
    "campaign",
];

/// The sums a rollup row holds, in column order: jobs; cores; jobs whose core count is
/// unknown (counted as one core); wall-clock core-seconds; CPU seconds; HS06-seconds; jobs
/// whose core power is unknown (no HS06 counted); events; input and output bytes.
pub const ROLLUP_METRICS: [&str; 10] = [
    "jobs",
    "cores",
    "unknown_cores",
    "wall_core_s",
    "cpu_s",
    "hs06_s",
    "unknown_power",
    "events",
    "input_bytes",
    "output_bytes",
];

/// A table of rollups: its dimension and sum columns, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupTable<const D: usize, const M: usize> {
    pub name: &'static str,
    pub dims: [&'static str; D],
    pub metrics: [&'static str; M],
}

/// The completed jobs' rollups.
pub const JOB_ROLLUPS: RollupTable<11, 10> = RollupTable {
    name: ROLLUPS_TABLE,
    dims: ROLLUP_DIMS,
    metrics: ROLLUP_METRICS,
};

/// The running and pending jobs of every 10 minutes (and their means per hour and day), keyed
/// like the completed jobs; the sums are jobs, cores, jobs of unknown core count and, in
/// `hs06_s`, the HS06 power of the jobs' cores (no time: a snapshot is an instant).
pub const JOB_SNAPSHOTS: RollupTable<11, 10> = RollupTable {
    name: SNAPSHOTS_TABLE,
    dims: ROLLUP_DIMS,
    metrics: ROLLUP_METRICS,
};

/// The dimensions of a transfer rollup row: source and destination site (from the RSEs),
/// activity, `done` or `failed`, and the failure reason.
pub const TRANSFER_DIMS: [&str; 5] = ["src_site", "dst_site", "activity", "state", "reason"];

/// The sums of a transfer rollup row: files and bytes moved (a failed attempt moves none).
pub const TRANSFER_METRICS: [&str; 2] = ["files", "bytes"];

/// The file transfers' rollups.
pub const TRANSFER_ROLLUPS: RollupTable<5, 2> = RollupTable {
    name: TRANSFER_ROLLUPS_TABLE,
    dims: TRANSFER_DIMS,
    metrics: TRANSFER_METRICS,
};

/// One rollup row: the sums of what ended in `[bin, bin + resolution)` and shares these
/// dimension values ("" for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow<const D: usize = 11, const M: usize = 10> {
    /// Seconds: one of the table's resolutions.
    pub resolution: i64,
    /// Unix seconds, a multiple of `resolution`.
    pub bin: i64,
    pub dims: [String; D],
    pub metrics: [i64; M],
}

/// A transfer rollup row.
pub type TransferRow = RollupRow<5, 2>;

/// The resolution held in memory: days.
const DAY: i64 = 86_400;

/// How often a store holding day rollups in memory looks for another process's writes.
const GENERATION_CHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Where writers of the job rollups other than the server (a `pandamon accounting backfill`)
/// record that they wrote: the module and name of a state value.
pub const GENERATION: (&str, &str) = ("accounting", "generation");

/// Bytes a day rollup row takes in memory: its codes and its sums.
pub const HELD_ROW_BYTES: usize = ROLLUP_DIMS.len() * 4 + ROLLUP_METRICS.len() * 8;

/// How many bytes of day rollups a store holds in memory unless told otherwise
/// ([`StateStore::limit_day_rollups`]): 1 GiB, about 8 M rows.
pub const DAY_ROLLUP_BUDGET: usize = 1 << 30;

/// The day rollups of completed jobs held in memory, dictionary-encoded: each dimension's values
/// once, each row as codes and sums. A store loads the days a question needs on first use and
/// keeps them current as it replaces rows itself; another process's writes (a backfill) are
/// noticed through [`GENERATION`] and drop what was held. What is held stays within a budget:
/// after a question that brought it over, only that question's days are kept, or none when
/// they alone are over it.
#[derive(Debug, Default)]
pub struct Encoded {
    /// Per dimension (in [`ROLLUP_DIMS`] order), its values by code.
    pub values: Vec<Vec<String>>,
    codes: Vec<std::collections::HashMap<String, u32>>,
    /// Each day's rows.
    pub bins: std::collections::BTreeMap<i64, EncodedBin>,
    /// The days `[from, to)` held.
    loaded: Option<(i64, i64)>,
    /// When [`GENERATION`] was last read, and its value when the days were loaded.
    checked: Option<std::time::Instant>,
    generation: Option<String>,
    /// The most bytes held ([`DAY_ROLLUP_BUDGET`] when `None`).
    budget: Option<usize>,
}

/// The rows of one bin: `dims` holds [`ROLLUP_DIMS`]`.len()` codes per row, `metrics`
/// [`ROLLUP_METRICS`]`.len()` sums per row.
#[derive(Debug, Default)]
pub struct EncodedBin {
    pub dims: Vec<u32>,
    pub metrics: Vec<i64>,
}

impl EncodedBin {
    /// The rows: codes and sums.
    pub fn rows(&self) -> impl Iterator<Item = (&[u32], &[i64])> {
        self.dims
            .chunks_exact(ROLLUP_DIMS.len())
            .zip(self.metrics.chunks_exact(ROLLUP_METRICS.len()))
    }
}

impl Encoded {
    fn code(&mut self, dim: usize, value: &str) -> u32 {
        if self.values.len() < ROLLUP_DIMS.len() {
            self.values.resize_with(ROLLUP_DIMS.len(), Vec::new);
            self.codes.resize_with(ROLLUP_DIMS.len(), Default::default);
        }
        if let Some(&c) = self.codes[dim].get(value) {
            return c;
        }
        let c = self.values[dim].len() as u32;
        self.values[dim].push(value.to_string());
        self.codes[dim].insert(value.to_string(), c);
        c
    }

    /// Adds rows (of bins already emptied).
    fn add<const D: usize, const M: usize>(&mut self, rows: &[RollupRow<D, M>]) {
        for row in rows {
            let codes: Vec<u32> = row
                .dims
                .iter()
                .enumerate()
                .map(|(i, v)| self.code(i, v))
                .collect();
            let bin = self.bins.entry(row.bin).or_default();
            bin.dims.extend(codes);
            bin.metrics.extend(row.metrics);
        }
    }

    /// Rows encoded as they would be held (the days held are not recorded).
    pub fn from_rows<const D: usize, const M: usize>(rows: &[RollupRow<D, M>]) -> Encoded {
        let mut encoded = Encoded::default();
        encoded.add(rows);
        encoded
    }

    /// Whether `[from, to)` is held.
    fn holds(&self, from: i64, to: i64) -> bool {
        self.loaded.is_some_and(|(a, b)| a <= from && to <= b)
    }

    /// The days held.
    pub fn days(&self) -> usize {
        self.bins.len()
    }

    /// The bytes the held rows take.
    pub fn held_bytes(&self) -> usize {
        let values: usize = self.bins.values().map(|b| b.metrics.len()).sum();
        values / ROLLUP_METRICS.len() * HELD_ROW_BYTES
    }

    /// What is held emptied, keeping what says where it came from and the budget.
    fn emptied(&mut self) -> Encoded {
        Encoded {
            checked: self.checked,
            generation: self.generation.take(),
            budget: self.budget,
            ..Encoded::default()
        }
    }

    /// Brings what is held within the budget after a question on `[from, to)`: keeps only
    /// that question's days when more is held, and nothing when they alone are over it.
    fn fit(&mut self, from: i64, to: i64) {
        let budget = self.budget.unwrap_or(DAY_ROLLUP_BUDGET);
        if self.held_bytes() <= budget {
            return;
        }
        let mut kept = std::mem::take(&mut self.bins);
        kept.retain(|day, _| (from..to).contains(day));
        self.bins = kept;
        self.loaded = Some((from, to));
        if self.held_bytes() > budget {
            *self = self.emptied();
        }
        tracing::info!(
            held_days = self.bins.len(),
            held_bytes = self.held_bytes(),
            budget,
            "day rollups in memory trimmed to their budget"
        );
    }
}

/// A stable 64-bit key of a row's dimension values (FNV-1a), part of the table's primary key.
fn dims_key(dims: &[String]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for d in dims {
        for b in d.bytes().chain([0x1f]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Bound parameters per `INSERT` statement (under every dialect's limit).
const PARAMS_PER_INSERT: usize = 9_000;

impl StateStore {
    /// Replaces the rollup rows of `resolution` with bins in `[from, to)` by `rows`, in one
    /// transaction.
    pub async fn replace_rollups<const D: usize, const M: usize>(
        &self,
        kind: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
        rows: &[RollupRow<D, M>],
    ) -> Result<()> {
        let d = self.dialect();
        let table = self.table(kind.name);
        let delete = format!(
            "DELETE FROM {table} WHERE {} = {} AND {} >= {} AND {} < {}",
            d.quote("resolution"),
            d.placeholder(1),
            d.quote("bin"),
            d.placeholder(2),
            d.quote("bin"),
            d.placeholder(3)
        );
        let mut columns = vec!["resolution", "bin", "dims_key"];
        columns.extend(kind.dims);
        columns.extend(kind.metrics);
        let column_list: Vec<String> = columns.iter().map(|c| d.quote(c)).collect();
        if let crate::Pool::Pg(pool) = &self.db().pool {
            // PostgreSQL takes the rows by COPY, in the transaction that deletes the old ones.
            let mut text = Vec::with_capacity(rows.len() * columns.len() * 8);
            for row in rows {
                for v in [row.resolution, row.bin] {
                    crate::load::push_int(&mut text, v);
                    text.push(b'\t');
                }
                text.extend_from_slice(dims_key(&row.dims).as_bytes());
                for v in &row.dims {
                    text.push(b'\t');
                    crate::load::copy_escape(&mut text, v);
                }
                for v in row.metrics {
                    text.push(b'\t');
                    crate::load::push_int(&mut text, v);
                }
                text.push(b'\n');
            }
            let mut tx = pool.begin().await?;
            sqlx::query(AssertSqlSafe(delete.as_str()))
                .bind(resolution)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            if !rows.is_empty() {
                let mut copy = tx
                    .copy_in_raw(&format!(
                        "COPY {table} ({}) FROM STDIN",
                        column_list.join(", ")
                    ))
                    .await?;
                copy.send(text).await?;
                copy.finish().await?;
            }
            tx.commit().await?;
        } else {
            self.insert_rollups(&table, &delete, &column_list, (resolution, from, to), rows)
                .await?;
        }
        if kind.name == ROLLUPS_TABLE && resolution == DAY {
            let mut days = self.days.write().await;
            if let Some((a, b)) = days.loaded {
                let (from, to) = (from.max(a), to.min(b));
                if from < to {
                    let held: Vec<i64> = days.bins.range(from..to).map(|(k, _)| *k).collect();
                    for k in held {
                        days.bins.remove(&k);
                    }
                    let kept: Vec<RollupRow<D, M>> = rows
                        .iter()
                        .filter(|r| (from..to).contains(&r.bin))
                        .cloned()
                        .collect();
                    days.add(&kept);
                }
            }
        }
        Ok(())
    }

    /// Replaces rows with `DELETE` and multi-row `INSERT`s in one transaction (MariaDB, SQLite).
    async fn insert_rollups<const D: usize, const M: usize>(
        &self,
        table: &str,
        delete: &str,
        column_list: &[String],
        (resolution, from, to): (i64, i64, i64),
        rows: &[RollupRow<D, M>],
    ) -> Result<()> {
        let d = self.dialect();
        let mut statements = vec![self.statement(
            delete,
            vec![
                (Value::Int(resolution), ColType::BigInt),
                (Value::Int(from), ColType::BigInt),
                (Value::Int(to), ColType::BigInt),
            ],
        )];
        for chunk in rows.chunks(PARAMS_PER_INSERT / column_list.len()) {
            let mut params = Vec::with_capacity(chunk.len() * column_list.len());
            let mut tuples = Vec::with_capacity(chunk.len());
            for row in chunk {
                let first = params.len();
                params.push((Value::Int(row.resolution), ColType::BigInt));
                params.push((Value::Int(row.bin), ColType::BigInt));
                params.push((
                    Value::Text(dims_key(&row.dims).into()),
                    ColType::Varchar(16),
                ));
                for v in &row.dims {
                    params.push((Value::Text(v.clone().into()), ColType::Varchar(128)));
                }
                for v in row.metrics {
                    params.push((Value::Int(v), ColType::BigInt));
                }
                let marks: Vec<String> = (first + 1..=params.len())
                    .map(|i| d.placeholder(i))
                    .collect();
                tuples.push(format!("({})", marks.join(", ")));
            }
            statements.push(self.statement(
                &format!(
                    "INSERT INTO {table} ({}) VALUES {}",
                    column_list.join(", "),
                    tuples.join(", ")
                ),
                params,
            ));
        }
        self.db().transaction(&statements).await?;
        Ok(())
    }

    /// Calls `read` with the day rollups of completed jobs of `[from, to)` (whole days) held in
    /// memory, loading what is not held yet. Rows of days outside `[from, to)` may be there
    /// too: `read` picks its days from [`Encoded::bins`].
    pub async fn day_rollups<R>(
        &self,
        from: i64,
        to: i64,
        read: impl FnOnce(&Encoded) -> R,
    ) -> Result<R> {
        // Another process's writes drop what is held.
        let stale = {
            let days = self.days.read().await;
            days.checked
                .is_none_or(|at| at.elapsed() >= GENERATION_CHECK)
        };
        if stale {
            let generation = self.get(GENERATION.0, GENERATION.1).await?;
            let mut days = self.days.write().await;
            if days.generation != generation {
                *days = days.emptied();
                days.generation = generation;
            }
            days.checked = Some(std::time::Instant::now());
        }
        {
            let days = self.days.read().await;
            if days.holds(from, to) {
                return Ok(read(&days));
            }
        }
        let mut days = self.days.write().await;
        if !days.holds(from, to) {
            // Held days stay one contiguous range: what is missing on either side is read.
            let (a, b) = days
                .loaded
                .map_or((from, to), |(a, b)| (a.min(from), b.max(to)));
            let missing = match days.loaded {
                None => vec![(a, b)],
                Some((x, y)) => vec![(a, x), (y, b)],
            };
            for (p, q) in missing.into_iter().filter(|(p, q)| p < q) {
                let rows = self.rollups(&JOB_ROLLUPS, DAY, p, q).await?;
                days.add(&rows);
            }
            days.loaded = Some((a, b));
        }
        let answer = read(&days);
        days.fit(from, to);
        Ok(answer)
    }

    /// Sets how many bytes of day rollups this store (and its clones) hold in memory at most;
    /// what is held already is trimmed on the next question that loads days.
    pub async fn limit_day_rollups(&self, bytes: usize) {
        self.days.write().await.budget = Some(bytes);
    }

    /// The days `[from, to)` held in memory and the bytes their rows take.
    pub async fn day_rollups_held(&self) -> (Option<(i64, i64)>, usize) {
        let days = self.days.read().await;
        (days.loaded, days.held_bytes())
    }

    /// The rollup rows of `resolution` with bins in `[from, to)`.
    pub async fn rollups<const D: usize, const M: usize>(
        &self,
        kind: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupRow<D, M>>> {
        let d = self.dialect();
        let mut columns = vec!["bin"];
        columns.extend(kind.dims);
        columns.extend(kind.metrics);
        let select: Vec<String> = columns.iter().map(|c| d.quote(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = {} AND {} >= {} AND {} < {}",
            select.join(", "),
            self.table(kind.name),
            d.quote("resolution"),
            d.placeholder(1),
            d.quote("bin"),
            d.placeholder(2),
            d.quote("bin"),
            d.placeholder(3)
        );
        let mut out = Vec::new();
        live_pool!(self.db(), pool => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(resolution)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
            for r in rows {
                let mut dims: [String; D] = std::array::from_fn(|_| String::new());
                for (i, d) in dims.iter_mut().enumerate() {
                    *d = r.try_get::<String, _>(1 + i)?;
                }
                let mut metrics = [0i64; M];
                for (i, m) in metrics.iter_mut().enumerate() {
                    *m = r.try_get::<i64, _>(1 + D + i)?;
                }
                out.push(RollupRow {
                    resolution,
                    bin: r.try_get::<i64, _>(0)?,
                    dims,
                    metrics,
                });
            }
        });
        Ok(out)
    }

    /// The first and last bin of `resolution` held, if any.
    pub async fn rollup_extent<const D: usize, const M: usize>(
        &self,
        kind: &RollupTable<D, M>,
        resolution: i64,
    ) -> Result<Option<(i64, i64)>> {
        let d = self.dialect();
        let bin = d.quote("bin");
        let sql = format!(
            "SELECT MIN({bin}), MAX({bin}) FROM {} WHERE {} = {}",
            self.table(kind.name),
            d.quote("resolution"),
            d.placeholder(1)
        );
        let extent: (Option<i64>, Option<i64>) = live_pool!(self.db(), pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(resolution)
            .fetch_one(pool)
            .await?);
        Ok(extent.0.zip(extent.1))
    }
}

impl crate::Db {
    /// Completed jobs (finished, failed, cancelled, closed) that ended in `[from, to)` per site
    /// and UTC day, straight from the three job tables (each job once) — what the rollups
    /// answer, for comparison: (site, day as `YYYY-MM-DD`, jobs).
    pub async fn completed_by_site_and_day(
        &self,
        from: chrono::NaiveDateTime,
        to: chrono::NaiveDateTime,
    ) -> Result<Vec<(String, String, i64)>> {
        use crate::Dialect;
        let d = self.dialect();
        let day = match d {
            Dialect::Postgres => "to_char(endtime, 'YYYY-MM-DD')",
            Dialect::MySql => "DATE_FORMAT(endtime, '%Y-%m-%d')",
            Dialect::Sqlite => "strftime('%Y-%m-%d', endtime)",
        };
        let parts: Vec<String> = ["jobsactive4", "jobsarchived4", "jobsarchived"]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "SELECT pandaid, computingsite, endtime FROM {} WHERE jobstatus IN ('finished', 'failed', 'cancelled', 'closed') AND endtime >= {} AND endtime < {}",
                    self.qualified(crate::Catalog::get().table(t)),
                    d.placeholder(2 * i + 1),
                    d.placeholder(2 * i + 2)
                )
            })
            .collect();
        let sql = format!(
            "SELECT COALESCE(computingsite, ''), {day}, COUNT(DISTINCT pandaid) FROM ({}) jobs GROUP BY 1, 2",
            parts.join(" UNION ALL ")
        );
        let rows: Vec<(String, String, i64)> = live_pool!(self, pool => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.as_str()));
            for _ in 0..3 {
                query = query.bind(from).bind(to);
            }
            query.fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The campaign of each of these JEDI tasks that has one.
    pub async fn task_campaigns(
        &self,
        tasks: &[i64],
    ) -> Result<std::collections::HashMap<i64, String>> {
        let d = self.dialect();
        let mut out = std::collections::HashMap::new();
        for chunk in tasks.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| d.placeholder(i)).collect();
            let sql = format!(
                "SELECT {id}, {c} FROM {t} WHERE {id} IN ({}) AND {c} IS NOT NULL",
                marks.join(", "),
                id = d.quote("jeditaskid"),
                c = d.quote("campaign"),
                t = self.qualified(crate::Catalog::get().table("jedi_tasks"))
            );
            let rows: Vec<(i64, String)> = live_pool!(self, pool => {
                let mut query = sqlx::query_as(AssertSqlSafe(sql.as_str()));
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await?
            });
            out.extend(rows.into_iter().map(|(id, c)| (id, c.trim().to_string())));
        }
        Ok(out)
    }

    /// The site of every storage endpoint (`ddm_endpoint`): RSE name to site name.
    pub async fn rse_sites(&self) -> Result<std::collections::HashMap<String, String>> {
        let d = self.dialect();
        let sql = format!(
            "SELECT {}, {} FROM {}",
            d.quote("ddm_endpoint_name"),
            d.quote("site_name"),
            self.qualified(crate::Catalog::get().table("ddm_endpoint"))
        );
        let rows: Vec<(String, Option<String>)> = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .filter_map(|(rse, site)| Some((rse, site?)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_key_tells_values_apart_even_when_joined_alike() {
        let a: [String; 11] =
            std::array::from_fn(|i| if i == 0 { "ab".into() } else { String::new() });
        let b: [String; 11] = std::array::from_fn(|i| match i {
            0 => "a".into(),
            1 => "b".into(),
            _ => String::new(),
        });
        assert_ne!(dims_key(&a), dims_key(&b));
        assert_eq!(dims_key(&a), dims_key(&a.clone()));
        assert_eq!(dims_key(&a).len(), 16);
    }
}
