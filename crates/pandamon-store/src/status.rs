//! Read-only overview queries: row counts per table, job counts per table and status, the
//! newest modification time. They back the status page and `/healthz`.

use crate::catalog::Catalog;
use crate::db::Db;
use crate::db::live_pool;
use crate::error::Result;
use chrono::NaiveDateTime;
use pandamon_model::JobTable;
use serde::Serialize;
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatusCount {
    pub table: JobTable,
    pub jobstatus: String,
    pub count: i64,
}

impl Db {
    /// Jobs in all four job tables.
    pub async fn jobs_held(&self) -> Result<i64> {
        let names: Vec<&str> = pandamon_model::JobTable::ALL
            .iter()
            .map(|t| t.name())
            .collect();
        Ok(self
            .table_counts(&names)
            .await?
            .iter()
            .map(|c| c.rows)
            .sum())
    }

    /// Row counts of the given catalogue tables, in the order given.
    pub async fn table_counts(&self, tables: &[&str]) -> Result<Vec<TableCount>> {
        let catalog = Catalog::get();
        let mut counts = Vec::with_capacity(tables.len());
        for &name in tables {
            let sql = format!(
                "SELECT COUNT(*) FROM {}",
                self.qualified(catalog.table(name))
            );
            counts.push(TableCount {
                table: name.to_string(),
                rows: self.scalar_i64(&sql).await?,
            });
        }
        Ok(counts)
    }

    /// Jobs per table and status, over the four job tables.
    pub async fn job_status_counts(&self) -> Result<Vec<StatusCount>> {
        let catalog = Catalog::get();
        let d = self.dialect();
        let mut counts = Vec::new();
        for table in JobTable::ALL {
            let sql = format!(
                "SELECT {s}, COUNT(*) FROM {t} GROUP BY {s} ORDER BY {s}",
                s = d.quote("jobstatus"),
                t = self.qualified(catalog.table(table.name()))
            );
            let rows: Vec<(String, i64)> = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(pool).await?);
            counts.extend(rows.into_iter().map(|(jobstatus, count)| StatusCount {
                table,
                jobstatus,
                count,
            }));
        }
        Ok(counts)
    }

    /// The newest `modificationtime` over the live job tables: how current the data is.
    pub async fn data_time(&self) -> Result<Option<NaiveDateTime>> {
        let catalog = Catalog::get();
        let d = self.dialect();
        let mut newest: Option<NaiveDateTime> = None;
        for table in [JobTable::Defined, JobTable::Active, JobTable::Archived] {
            let sql = format!(
                "SELECT MAX({}) FROM {}",
                d.quote("modificationtime"),
                self.qualified(catalog.table(table.name()))
            );
            let value: Option<NaiveDateTime> = live_pool!(self, pool => sqlx::query_scalar(AssertSqlSafe(sql.as_str())).fetch_one(pool).await?);
            newest = newest.max(value);
        }
        Ok(newest)
    }
}
