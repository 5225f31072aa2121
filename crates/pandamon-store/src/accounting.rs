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
        let mut statements = vec![self.statement(
            &format!(
                "DELETE FROM {table} WHERE {} = {} AND {} >= {} AND {} < {}",
                d.quote("resolution"),
                d.placeholder(1),
                d.quote("bin"),
                d.placeholder(2),
                d.quote("bin"),
                d.placeholder(3)
            ),
            vec![
                (Value::Int(resolution), ColType::BigInt),
                (Value::Int(from), ColType::BigInt),
                (Value::Int(to), ColType::BigInt),
            ],
        )];
        let mut columns = vec!["resolution", "bin", "dims_key"];
        columns.extend(kind.dims);
        columns.extend(kind.metrics);
        let column_list: Vec<String> = columns.iter().map(|c| d.quote(c)).collect();
        for chunk in rows.chunks(PARAMS_PER_INSERT / columns.len()) {
            let mut params = Vec::with_capacity(chunk.len() * columns.len());
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
