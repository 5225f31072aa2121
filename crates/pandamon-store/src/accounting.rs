//! The accounting rollups of pandamon's state (migration 4): completed jobs summed per time bin
//! (10 minutes, 1 hour, 1 day) and per combination of the accounting dimensions. A bin range is
//! always replaced as a whole, in one transaction, so a rebuild never double-counts.

use crate::catalog::ColType;
use crate::db::live_pool;
use crate::error::Result;
use crate::load::Value;
use crate::state::{ROLLUPS_TABLE, StateStore};
use sqlx::{AssertSqlSafe, Row};

/// The dimensions a rollup row is keyed by, in column order.
pub const ROLLUP_DIMS: [&str; 10] = [
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

/// One rollup row: the sums of the completed jobs that ended in `[bin, bin + resolution)` and
/// share these dimension values ("" for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    /// Seconds: 600, 3 600 or 86 400.
    pub resolution: i64,
    /// Unix seconds, a multiple of `resolution`.
    pub bin: i64,
    pub dims: [String; 10],
    pub metrics: [i64; 10],
}

/// A stable 64-bit key of a row's dimension values (FNV-1a), part of the table's primary key.
fn dims_key(dims: &[String; 10]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for d in dims {
        for b in d.bytes().chain([0x1f]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Rows per `INSERT` statement (bound parameters stay under every dialect's limit).
const ROWS_PER_INSERT: usize = 400;

impl StateStore {
    /// Replaces the rollup rows of `resolution` with bins in `[from, to)` by `rows`, in one
    /// transaction.
    pub async fn replace_rollups(
        &self,
        resolution: i64,
        from: i64,
        to: i64,
        rows: &[RollupRow],
    ) -> Result<()> {
        let d = self.dialect();
        let table = self.table(ROLLUPS_TABLE);
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
        columns.extend(ROLLUP_DIMS);
        columns.extend(ROLLUP_METRICS);
        let column_list: Vec<String> = columns.iter().map(|c| d.quote(c)).collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
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
    pub async fn rollups(&self, resolution: i64, from: i64, to: i64) -> Result<Vec<RollupRow>> {
        let d = self.dialect();
        let mut columns = vec!["bin"];
        columns.extend(ROLLUP_DIMS);
        columns.extend(ROLLUP_METRICS);
        let select: Vec<String> = columns.iter().map(|c| d.quote(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = {} AND {} >= {} AND {} < {}",
            select.join(", "),
            self.table(ROLLUPS_TABLE),
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
                let mut dims: [String; 10] = Default::default();
                for (i, d) in dims.iter_mut().enumerate() {
                    *d = r.try_get::<String, _>(1 + i)?;
                }
                let mut metrics = [0i64; 10];
                for (i, m) in metrics.iter_mut().enumerate() {
                    *m = r.try_get::<i64, _>(1 + ROLLUP_DIMS.len() + i)?;
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
    pub async fn rollup_extent(&self, resolution: i64) -> Result<Option<(i64, i64)>> {
        let d = self.dialect();
        let bin = d.quote("bin");
        let sql = format!(
            "SELECT MIN({bin}), MAX({bin}) FROM {} WHERE {} = {}",
            self.table(ROLLUPS_TABLE),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_key_tells_values_apart_even_when_joined_alike() {
        let a: [String; 10] =
            std::array::from_fn(|i| if i == 0 { "ab".into() } else { String::new() });
        let b: [String; 10] = std::array::from_fn(|i| match i {
            0 => "a".into(),
            1 => "b".into(),
            _ => String::new(),
        });
        assert_ne!(dims_key(&a), dims_key(&b));
        assert_eq!(dims_key(&a), dims_key(&a.clone()));
        assert_eq!(dims_key(&a).len(), 16);
    }
}
