//! The reads the live simulator makes to continue a simulated PanDA database: jobs in flight,
//! tasks with ready input, files to give a new job. Typed, so no SQL text leaves the store.

use crate::catalog::Catalog;
use crate::db::Db;
use crate::db::live_pool;
use crate::error::Result;
use chrono::NaiveDateTime;
use sqlx::AssertSqlSafe;

/// A job still moving (defined or active), as the simulator picks it up.
#[derive(Debug, Clone)]
pub struct JobInFlight {
    pub pandaid: i64,
    pub jobstatus: String,
    pub jeditaskid: Option<i64>,
    pub computingsite: Option<String>,
    pub prodsourcelabel: Option<String>,
    pub attemptnr: i16,
    pub maxattempt: i16,
    pub statechangetime: Option<NaiveDateTime>,
    pub corecount: Option<i16>,
    /// The kind of event-service job (NULL or 0: an ordinary job).
    pub eventservice: Option<i16>,
}

/// A task's input dataset with files still `ready`.
#[derive(Debug, Clone)]
pub struct ReadyInput {
    pub jeditaskid: i64,
    pub datasetid: i64,
    pub ready: i64,
    pub prodsourcelabel: Option<String>,
    /// The task's `eventservice` flag (NULL or 0: not an event-service task).
    pub eventservice: Option<i16>,
}

/// One dataset of a task, with the task's source label.
#[derive(Debug, Clone)]
pub struct TaskDataset {
    pub datasetid: i64,
    pub r#type: String,
    pub prodsourcelabel: Option<String>,
}

/// Which input files a new job reads.
#[derive(Debug, Clone, Copy)]
pub enum FilePick {
    /// The files a failed job held (its retry reads the same ones).
    HeldBy(i64),
    /// The next `n` ready files, by file id.
    NextReady(i64),
}

impl Db {
    fn sim_table(&self, name: &str) -> String {
        self.qualified(Catalog::get().table(name))
    }

    /// The largest value of an integer column of a catalogue table (0 when empty).
    pub async fn max_value(&self, table: &str, column: &str) -> Result<i64> {
        let sql = format!(
            "SELECT MAX({}) FROM {}",
            self.dialect().quote(column),
            self.sim_table(table)
        );
        self.scalar_i64(&sql).await
    }

    /// Every job of one job table, with what the simulator needs to move it on.
    pub async fn jobs_in_flight(&self, table: &str) -> Result<Vec<JobInFlight>> {
        let q = |c: &str| self.dialect().quote(c);
        let columns = [
            "pandaid",
            "jobstatus",
            "jeditaskid",
            "computingsite",
            "prodsourcelabel",
            "attemptnr",
            "maxattempt",
            "statechangetime",
            "corecount",
            "eventservice",
        ]
        .map(q)
        .join(", ");
        let sql = format!("SELECT {columns} FROM {}", self.sim_table(table));
        type Row = (
            i64,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            i16,
            i16,
            Option<NaiveDateTime>,
            Option<i16>,
            Option<i16>,
        );
        let rows: Vec<Row> = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| JobInFlight {
                pandaid: r.0,
                jobstatus: r.1,
                jeditaskid: r.2,
                computingsite: r.3,
                prodsourcelabel: r.4,
                attemptnr: r.5,
                maxattempt: r.6,
                statechangetime: r.7,
                corecount: r.8,
                eventservice: r.9,
            })
            .collect())
    }

    /// Input datasets of running tasks that still have ready files, counted.
    pub async fn ready_inputs(&self) -> Result<Vec<ReadyInput>> {
        let q = |c: &str| self.dialect().quote(c);
        let sql = format!(
            "SELECT c.{tid}, c.{dsid}, COUNT(*), t.{label}, t.{es} \
             FROM {contents} c JOIN {tasks} t ON t.{tid} = c.{tid} \
             WHERE c.{status} = 'ready' AND c.{ty} = 'input' AND t.{status} IN ('running', 'scouting', 'ready') \
             GROUP BY c.{tid}, c.{dsid}, t.{label}, t.{es}",
            tid = q("jeditaskid"),
            dsid = q("datasetid"),
            label = q("prodsourcelabel"),
            es = q("eventservice"),
            status = q("status"),
            ty = q("type"),
            contents = self.sim_table("jedi_dataset_contents"),
            tasks = self.sim_table("jedi_tasks"),
        );
        type Row = (i64, i64, i64, Option<String>, Option<i16>);
        let rows: Vec<Row> = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(jeditaskid, datasetid, ready, prodsourcelabel, eventservice)| ReadyInput {
                    jeditaskid,
                    datasetid,
                    ready,
                    prodsourcelabel,
                    eventservice,
                },
            )
            .collect())
    }

    /// The newest job of a task in one job table: its pandaid and how many input files it read.
    pub async fn newest_job_of_task(
        &self,
        table: &str,
        task: i64,
    ) -> Result<Option<(i64, Option<i32>)>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let sql = format!(
            "SELECT {p}, {n} FROM {t} WHERE {tid} = {ph} ORDER BY {p} DESC LIMIT 1",
            p = q("pandaid"),
            n = q("ninputdatafiles"),
            t = self.sim_table(table),
            tid = q("jeditaskid"),
            ph = d.placeholder(1)
        );
        let row = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(task)
            .fetch_optional(pool)
            .await?);
        Ok(row)
    }

    /// Input files for a new job of a task, as (fileid, lfn), by file id.
    pub async fn input_files(
        &self,
        task: i64,
        dataset: i64,
        pick: FilePick,
    ) -> Result<Vec<(i64, String)>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let (condition, limit, bound) = match pick {
            FilePick::HeldBy(pandaid) => (
                format!("{} = {}", q("pandaid"), d.placeholder(3)),
                String::new(),
                Some(pandaid),
            ),
            FilePick::NextReady(n) => (
                format!("{} = 'ready'", q("status")),
                format!(" LIMIT {}", n.max(1)),
                None,
            ),
        };
        let sql = format!(
            "SELECT {f}, {l} FROM {contents} WHERE {tid} = {p1} AND {ds} = {p2} AND {condition} ORDER BY {f}{limit}",
            f = q("fileid"),
            l = q("lfn"),
            contents = self.sim_table("jedi_dataset_contents"),
            tid = q("jeditaskid"),
            ds = q("datasetid"),
            p1 = d.placeholder(1),
            p2 = d.placeholder(2),
        );
        let files = live_pool!(self, pool => {
            let query = sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(task).bind(dataset);
            let query = match bound {
                Some(pandaid) => query.bind(pandaid),
                None => query,
            };
            query.fetch_all(pool).await?
        });
        Ok(files)
    }

    /// The input files a job holds as `running`, per dataset: (datasetid, files).
    pub async fn running_inputs(&self, task: i64, pandaid: i64) -> Result<Vec<(i64, i64)>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let sql = format!(
            "SELECT {ds}, COUNT(*) FROM {t} WHERE {tid} = {p1} AND {pid} = {p2} AND {st} = 'running' GROUP BY {ds}",
            ds = q("datasetid"),
            t = self.sim_table("jedi_dataset_contents"),
            tid = q("jeditaskid"),
            pid = q("pandaid"),
            st = q("status"),
            p1 = d.placeholder(1),
            p2 = d.placeholder(2)
        );
        let rows = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(task)
            .bind(pandaid)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    /// A task's nucleus and name, for the transfers of its jobs.
    pub async fn task_nucleus(&self, task: i64) -> Result<Option<(Option<String>, String)>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let sql = format!(
            "SELECT {n}, {name} FROM {t} WHERE {tid} = {p1}",
            n = q("nucleus"),
            name = q("taskname"),
            t = self.sim_table("jedi_tasks"),
            tid = q("jeditaskid"),
            p1 = d.placeholder(1)
        );
        let row = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(task)
            .fetch_optional(pool)
            .await?);
        Ok(row)
    }

    /// A job's input files in `filestable4`: name and size.
    pub async fn job_inputs(&self, pandaid: i64) -> Result<Vec<(String, i64)>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let sql = format!(
            "SELECT {l}, {s} FROM {t} WHERE {pid} = {p1} AND {ty} = 'input' ORDER BY {l}",
            l = q("lfn"),
            s = q("fsize"),
            t = self.sim_table("filestable4"),
            pid = q("pandaid"),
            ty = q("type"),
            p1 = d.placeholder(1)
        );
        let rows: Vec<(String, Option<i64>)> = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(pandaid)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(lfn, size)| (lfn, size.unwrap_or(0)))
            .collect())
    }

    /// A dataset's file counters: (nfiles, nfilesfinished, nfilesfailed).
    pub async fn dataset_counters(
        &self,
        task: i64,
        dataset: i64,
    ) -> Result<Option<(Option<i64>, Option<i64>, Option<i64>)>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let sql = format!(
            "SELECT {nf}, {nff}, {nfl} FROM {t} WHERE {tid} = {p1} AND {ds} = {p2}",
            nf = q("nfiles"),
            nff = q("nfilesfinished"),
            nfl = q("nfilesfailed"),
            t = self.sim_table("jedi_datasets"),
            tid = q("jeditaskid"),
            ds = q("datasetid"),
            p1 = d.placeholder(1),
            p2 = d.placeholder(2)
        );
        let row = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(task)
            .bind(dataset)
            .fetch_optional(pool)
            .await?);
        Ok(row)
    }

    /// The newest `limit` tasks that completed (done or finished), newest first.
    pub async fn completed_tasks(&self, limit: i64) -> Result<Vec<i64>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let sql = format!(
            "SELECT {tid} FROM {t} WHERE {st} IN ('done', 'finished') ORDER BY {tid} DESC LIMIT {n}",
            tid = q("jeditaskid"),
            st = q("status"),
            t = self.sim_table("jedi_tasks"),
            n = limit.max(1)
        );
        let ids = live_pool!(self, pool => sqlx::query_scalar(AssertSqlSafe(sql.as_str())).fetch_all(pool).await?);
        Ok(ids)
    }

    /// A task's datasets with their type and the task's source label.
    pub async fn task_datasets(&self, task: i64) -> Result<Vec<TaskDataset>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let sql = format!(
            "SELECT {ds}, {ty}, {label} FROM {t} JOIN {tasks} USING ({tid}) WHERE {tid} = {p1}",
            ds = q("datasetid"),
            ty = q("type"),
            label = q("prodsourcelabel"),
            tid = q("jeditaskid"),
            t = self.sim_table("jedi_datasets"),
            tasks = self.sim_table("jedi_tasks"),
            p1 = d.placeholder(1)
        );
        let rows: Vec<(i64, String, Option<String>)> = live_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(task)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(datasetid, r#type, prodsourcelabel)| TaskDataset {
                datasetid,
                r#type,
                prodsourcelabel,
            })
            .collect())
    }

    /// Refreshes the planner's statistics after a bulk load.
    pub async fn analyze(&self) -> Result<()> {
        self.execute("ANALYZE").await.map(|_| ())
    }
}
