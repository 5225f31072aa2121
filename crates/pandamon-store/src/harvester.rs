//! Queries of the Harvester tables that join workers and jobs: the jobs of a selection of
//! workers, the workers of a task, the latest submission under a selection.

use crate::catalog::Catalog;
use crate::db::live_pool;
use crate::db::{Db, Dialect};
use crate::error::Result;
use crate::jobs::bind_all;
use crate::load::Value;
use chrono::NaiveDateTime;
use pandamon_model::JobTable;
use pandamon_query::{Selection, SqlDialect};
use sqlx::AssertSqlSafe;

const WORKERS: &str = "harvester_workers";
const RELATIONS: &str = "harvester_rel_jobs_workers";

/// The workers that ran jobs of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskWorker {
    pub harvesterid: String,
    pub workerid: i64,
    /// Jobs of the task the worker ran.
    pub njobs: i64,
    /// Events those jobs processed.
    pub nevents: i64,
}

fn bigint(d: Dialect, expr: &str) -> String {
    match d {
        Dialect::Postgres => format!("CAST({expr} AS BIGINT)"),
        Dialect::MySql => format!("CAST({expr} AS SIGNED)"),
        Dialect::Sqlite => expr.to_string(),
    }
}

impl Db {
    /// The PanDA jobs run by the workers of `selection` (a worker selection), counted by job
    /// status over every job table.
    pub async fn job_status_of_workers(&self, selection: &Selection) -> Result<Vec<(String, i64)>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let catalog = Catalog::get();
        let mut params = Vec::new();
        let mut branches = Vec::new();
        for table in JobTable::ALL {
            let (w, p) = selection.where_sql(SqlDialect::from(d), params.len() + 1);
            params.extend(p);
            branches.push(format!(
                "SELECT {status} FROM {jobs} WHERE {pandaid} IN (SELECT {pandaid} FROM {rel} WHERE ({hid}, {wid}) IN (SELECT {hid}, {wid} FROM {workers} WHERE {w}))",
                status = q("jobstatus"),
                jobs = self.qualified(catalog.table(table.name())),
                pandaid = q("pandaid"),
                rel = self.qualified(catalog.table(RELATIONS)),
                workers = self.qualified(catalog.table(WORKERS)),
                hid = q("harvesterid"),
                wid = q("workerid"),
            ));
        }
        let sql = format!(
            "SELECT {status}, {n} FROM ({all}) j GROUP BY {status}",
            status = q("jobstatus"),
            n = bigint(d, "COUNT(*)"),
            all = branches.join(" UNION ALL ")
        );
        let rows: Vec<(String, i64)> = live_pool!(self, pool => {
            let query = bind_all!(sqlx::query_as(AssertSqlSafe(sql)), &params);
            query.fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The workers that ran jobs of task `task`, with how many of its jobs and events each ran.
    pub async fn workers_of_task(&self, task: i64) -> Result<Vec<TaskWorker>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let catalog = Catalog::get();
        let branches: Vec<String> = JobTable::ALL
            .iter()
            .enumerate()
            .map(|(i, table)| {
                format!(
                    "SELECT {pandaid}, {nevents} FROM {t} WHERE {tid} = {p}",
                    pandaid = q("pandaid"),
                    nevents = q("nevents"),
                    t = self.qualified(catalog.table(table.name())),
                    tid = q("jeditaskid"),
                    p = d.placeholder(i + 1)
                )
            })
            .collect();
        let sql = format!(
            "SELECT r.{hid}, r.{wid}, {n}, {events} FROM {rel} r JOIN ({jobs}) j ON j.{pandaid} = r.{pandaid} \
             GROUP BY r.{hid}, r.{wid} ORDER BY r.{hid}, r.{wid} LIMIT 10000",
            hid = q("harvesterid"),
            wid = q("workerid"),
            n = bigint(d, "COUNT(*)"),
            events = bigint(d, &format!("COALESCE(SUM(j.{}), 0)", q("nevents"))),
            rel = self.qualified(catalog.table(RELATIONS)),
            jobs = branches.join(" UNION ALL "),
            pandaid = q("pandaid"),
        );
        let rows: Vec<(String, i64, i64, i64)> = live_pool!(self, pool => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql));
            for _ in JobTable::ALL {
                query = query.bind(task);
            }
            query.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(harvesterid, workerid, njobs, nevents)| TaskWorker {
                harvesterid,
                workerid,
                njobs,
                nevents,
            })
            .collect())
    }

    /// The latest value of time column `column` of `table` under `selection`.
    pub async fn latest_time(
        &self,
        table: &str,
        column: &str,
        selection: &Selection,
    ) -> Result<Option<NaiveDateTime>> {
        let (w, params) = selection.where_sql(SqlDialect::from(self.dialect()), 1);
        let sql = format!(
            "SELECT MAX({}) FROM {} WHERE {w}",
            self.dialect().quote(column),
            self.qualified(Catalog::get().table(table))
        );
        let latest: Option<NaiveDateTime> = live_pool!(self, pool => {
            let query = bind_all!(sqlx::query_scalar(AssertSqlSafe(sql)), &params);
            query.fetch_one(pool).await?
        });
        Ok(latest)
    }
}
