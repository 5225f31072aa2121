//! The Data Carousel's staging requests (`data_carousel_requests`) with the tasks they feed
//! (`data_carousel_relations` → `jedi_tasks`) and the number of files JEDI still counts in the
//! staged dataset (fewer than were staged when files were lost).

use crate::catalog::{Catalog, ColType};
use crate::db::Db;
use crate::error::Result;
use crate::jobs::{Cell, kind_of, uniform};
use crate::load::Value;
use chrono::NaiveDateTime;

/// Which requests to read; every condition is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CarouselFilter {
    /// Requests feeding this task.
    pub task: Option<i64>,
    pub request: Option<i64>,
    pub source_rse: Option<String>,
    pub destination_rse: Option<String>,
    /// The task's campaign; `Unknown` is a task without one.
    pub campaign: Option<String>,
    pub processingtype: Option<String>,
    pub username: Option<String>,
    pub status: Option<String>,
    /// Requests that ended in this window, and every request that has not ended.
    pub window: Option<(NaiveDateTime, NaiveDateTime)>,
}

/// One request and one task it feeds (a request without a task comes once, without one).
#[derive(Debug, Clone, PartialEq)]
pub struct CarouselRequest {
    pub request_id: i64,
    pub dataset: String,
    pub source_rse: Option<String>,
    pub destination_rse: Option<String>,
    pub ddm_rule_id: Option<String>,
    pub status: Option<String>,
    pub total_files: i64,
    pub staged_files: i64,
    pub dataset_size: i64,
    pub staged_size: i64,
    pub creation_time: Option<NaiveDateTime>,
    pub start_time: Option<NaiveDateTime>,
    pub end_time: Option<NaiveDateTime>,
    pub modification_time: Option<NaiveDateTime>,
    pub last_staged_time: Option<NaiveDateTime>,
    pub source_tape: Option<String>,
    /// The request's parameters, a JSON document.
    pub parameters: String,
    pub task_id: Option<i64>,
    pub task_status: Option<String>,
    pub taskname: Option<String>,
    pub campaign: Option<String>,
    pub processingtype: Option<String>,
    pub username: Option<String>,
    /// Files of the staged dataset in JEDI, for the task.
    pub jedi_nfiles: Option<i64>,
}

/// Task statuses after which a task no longer waits for its input.
pub const FINAL_TASK_STATUSES: &[&str] = &[
    "done", "finished", "failed", "broken", "aborted", "obsolete", "toabort", "tobroken",
];

impl CarouselRequest {
    /// JEDI counts fewer files in the dataset than the request staged: files were lost.
    pub fn lost_files(&self) -> bool {
        self.jedi_nfiles.is_some_and(|n| n < self.staged_files)
    }

    /// Days since the request last staged a file (or started), when it is stalled as bigmon
    /// defines it: staging, not ended, its task not final.
    pub fn stalled_days(&self, now: NaiveDateTime) -> Option<f64> {
        let staging = self.status.as_deref() == Some("staging") && self.end_time.is_none();
        let task_open = self
            .task_status
            .as_deref()
            .is_none_or(|s| !FINAL_TASK_STATUSES.contains(&s));
        let since = self.last_staged_time.or(self.start_time)?;
        (staging && task_open)
            .then(|| ((now - since).num_seconds() as f64 / 8_640.0).round() / 10.0)
    }

    /// The error of the request's Rucio rule, as the carousel's checker recorded it in the
    /// request's parameters (`rule_error`).
    pub fn rule_error(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.parameters)
            .ok()?
            .get("rule_error")?
            .as_str()
            .map(str::to_string)
    }

    /// Whether the rule's error points at the tape (Rucio marks those `[TAPE SOURCE]`).
    pub fn tape_problem(&self) -> bool {
        self.rule_error()
            .is_some_and(|e| e.contains("[TAPE SOURCE]"))
    }
}

/// The columns read from the request table, in [`CarouselRequest`] order.
const REQUEST_COLUMNS: &[&str] = &[
    "request_id",
    "dataset",
    "source_rse",
    "destination_rse",
    "ddm_rule_id",
    "status",
    "total_files",
    "staged_files",
    "dataset_size",
    "staged_size",
    "creation_time",
    "start_time",
    "end_time",
    "modification_time",
    "last_staged_time",
    "source_tape",
    "parameters",
];

/// The task columns read, in [`CarouselRequest`] order.
const TASK_COLUMNS: &[&str] = &[
    "status",
    "taskname",
    "campaign",
    "processingtype",
    "username",
];

/// The most rows one read returns.
pub const CAROUSEL_LIMIT: u64 = 100_000;

impl Db {
    /// The requests matching `filter` with their tasks, by request id (at most
    /// [`CAROUSEL_LIMIT`] rows).
    pub async fn carousel_requests(&self, filter: &CarouselFilter) -> Result<Vec<CarouselRequest>> {
        let d = self.dialect();
        let q = |c: &str| d.quote(c);
        let catalog = Catalog::get();
        let requests = catalog.table("data_carousel_requests");
        let tasks = catalog.table("jedi_tasks");
        let aliased = |alias: &str, column: &str, ty: ColType| {
            uniform(d, column, ty).replacen(&q(column), &format!("{alias}.{}", q(column)), 1)
        };
        let mut select: Vec<String> = Vec::new();
        let mut kinds: Vec<u8> = Vec::new();
        for c in REQUEST_COLUMNS {
            let ty = requests.column(c).map_or(ColType::Text, |col| col.ty);
            select.push(aliased("r", c, ty));
            kinds.push(kind_of(ty));
        }
        select.push(aliased("x", "task_id", ColType::BigInt));
        kinds.push(kind_of(ColType::BigInt));
        for c in TASK_COLUMNS {
            let ty = tasks.column(c).map_or(ColType::Text, |col| col.ty);
            select.push(aliased("t", c, ty));
            kinds.push(kind_of(ty));
        }
        let nfiles = format!(
            "(SELECT MAX({nfiles}) FROM {datasets} ds WHERE ds.{tid} = x.{task_id} AND ds.{name} = r.{dataset} AND ds.{ty} = 'input')",
            nfiles = q("nfiles"),
            datasets = self.qualified(catalog.table("jedi_datasets")),
            tid = q("jeditaskid"),
            task_id = q("task_id"),
            name = q("datasetname"),
            dataset = q("dataset"),
            ty = q("type"),
        );
        select.push(uniform(d, "n", ColType::BigInt).replacen(&q("n"), &nfiles, 1));
        kinds.push(kind_of(ColType::BigInt));

        let mut params: Vec<Value> = Vec::new();
        let mut filters: Vec<String> = Vec::new();
        let bind = |params: &mut Vec<Value>, v: Value| {
            params.push(v);
            d.placeholder(params.len())
        };
        if let Some(task) = filter.task {
            let p = bind(&mut params, Value::Int(task));
            filters.push(format!(
                "r.{rid} IN (SELECT {rid} FROM {rel} WHERE {tid} = {p})",
                rid = q("request_id"),
                rel = self.qualified(catalog.table("data_carousel_relations")),
                tid = q("task_id"),
            ));
        }
        if let Some(request) = filter.request {
            let p = bind(&mut params, Value::Int(request));
            filters.push(format!("r.{} = {p}", q("request_id")));
        }
        for (column, alias, value) in [
            ("source_rse", "r", &filter.source_rse),
            ("destination_rse", "r", &filter.destination_rse),
            ("status", "r", &filter.status),
            ("processingtype", "t", &filter.processingtype),
            ("username", "t", &filter.username),
        ] {
            if let Some(v) = value {
                let p = bind(&mut params, Value::Text(v.clone().into()));
                filters.push(format!("{alias}.{} = {p}", q(column)));
            }
        }
        match filter.campaign.as_deref() {
            Some("Unknown") => filters.push(format!("t.{} IS NULL", q("campaign"))),
            Some(c) => {
                let p = bind(&mut params, Value::Text(c.to_string().into()));
                filters.push(format!("t.{} = {p}", q("campaign")));
            }
            None => {}
        }
        if let Some((from, to)) = filter.window {
            let a = bind(&mut params, Value::Time(from));
            let b = bind(&mut params, Value::Time(to));
            filters.push(format!(
                "(r.{end} IS NULL OR (r.{end} >= {a} AND r.{end} <= {b}))",
                end = q("end_time")
            ));
        }
        let filter_sql = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        let sql = format!(
            "SELECT {select} FROM {requests} r LEFT JOIN {rel} x ON x.{rid} = r.{rid} \
             LEFT JOIN {tasks} t ON t.{tid} = x.{task_id}{filter_sql} ORDER BY r.{rid}, x.{task_id} LIMIT {CAROUSEL_LIMIT}",
            select = select.join(", "),
            requests = self.qualified(requests),
            rel = self.qualified(catalog.table("data_carousel_relations")),
            tasks = self.qualified(tasks),
            rid = q("request_id"),
            tid = q("jeditaskid"),
            task_id = q("task_id"),
        );
        let rows = self.fetch_cells(&sql, &params, &kinds).await?;
        Ok(rows.into_iter().map(request_of).collect())
    }
}

fn request_of(cells: Vec<Cell>) -> CarouselRequest {
    let mut it = cells.into_iter();
    let mut next = || it.next().unwrap_or(Cell::Null);
    let text = |c: Cell| match c {
        Cell::Text(t) => Some(t.trim_end().to_string()),
        _ => None,
    };
    let int = |c: Cell| c.as_int();
    let time = |c: Cell| match c {
        Cell::Time(t) => Some(t),
        _ => None,
    };
    CarouselRequest {
        request_id: int(next()).unwrap_or(0),
        dataset: text(next()).unwrap_or_default(),
        source_rse: text(next()),
        destination_rse: text(next()),
        ddm_rule_id: text(next()),
        status: text(next()),
        total_files: int(next()).unwrap_or(0),
        staged_files: int(next()).unwrap_or(0),
        dataset_size: int(next()).unwrap_or(0),
        staged_size: int(next()).unwrap_or(0),
        creation_time: time(next()),
        start_time: time(next()),
        end_time: time(next()),
        modification_time: time(next()),
        last_staged_time: time(next()),
        source_tape: text(next()),
        parameters: text(next()).unwrap_or_else(|| "{}".to_string()),
        task_id: int(next()),
        task_status: text(next()),
        taskname: text(next()),
        campaign: text(next()),
        processingtype: text(next()),
        username: text(next()),
        jedi_nfiles: int(next()),
    }
}
