//! Queries of the alert rules that no page makes: running tasks that stopped finishing jobs.

use crate::catalog::Catalog;
use crate::db::Db;
use crate::db::live_pool;
use crate::error::Result;
use chrono::NaiveDateTime;
use pandamon_model::JobTable;
use sqlx::AssertSqlSafe;

/// A running task without a finished job since the cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckTask {
    pub jeditaskid: i64,
    pub taskname: Option<String>,
    pub username: String,
    pub starttime: Option<NaiveDateTime>,
}

/// The most tasks one query returns.
pub const STUCK_LIMIT: u32 = 1_000;

impl Db {
    /// Tasks `running` since before `cutoff` (by start, or creation when not started) with no
    /// job finished at or after it in any job table.
    pub async fn stuck_tasks(&self, cutoff: NaiveDateTime) -> Result<Vec<StuckTask>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let catalog = Catalog::get();
        let none_finished: Vec<String> = JobTable::ALL
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "NOT EXISTS (SELECT 1 FROM {jobs} j WHERE j.{tid} = t.{tid} AND j.{status} = 'finished' AND j.{end} >= {p})",
                    jobs = self.qualified(catalog.table(t.name())),
                    tid = q("jeditaskid"),
                    status = q("jobstatus"),
                    end = q("endtime"),
                    p = d.placeholder(i + 2),
                )
            })
            .collect();
        let id = match d {
            crate::Dialect::Postgres => format!("CAST(t.{} AS BIGINT)", q("jeditaskid")),
            crate::Dialect::MySql => format!("CAST(t.{} AS SIGNED)", q("jeditaskid")),
            crate::Dialect::Sqlite => format!("t.{}", q("jeditaskid")),
        };
        let sql = format!(
            "SELECT {id}, t.{name}, t.{user}, t.{start} FROM {tasks} t WHERE t.{status} = 'running' \
             AND COALESCE(t.{start}, t.{created}) < {p} AND {none} ORDER BY t.{tid} LIMIT {STUCK_LIMIT}",
            name = q("taskname"),
            user = q("username"),
            start = q("starttime"),
            created = q("creationdate"),
            tasks = self.qualified(catalog.table("jedi_tasks")),
            status = q("status"),
            tid = q("jeditaskid"),
            p = d.placeholder(1),
            none = none_finished.join(" AND "),
        );
        let rows: Vec<(i64, Option<String>, String, Option<NaiveDateTime>)> = live_pool!(self, pool => {
            // The cutoff, once for each placeholder (MariaDB's are positional).
            let mut query = sqlx::query_as(AssertSqlSafe(sql));
            for _ in 0..=JobTable::ALL.len() {
                query = query.bind(cutoff);
            }
            query.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(jeditaskid, taskname, username, starttime)| StuckTask {
                jeditaskid,
                taskname,
                username,
                starttime,
            })
            .collect())
    }
}
