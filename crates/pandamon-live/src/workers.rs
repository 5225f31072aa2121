//! The live worker index: Harvester workers updated within the window, held column by column as
//! the job index holds jobs, for the worker summary (Figure 3 of the Harvester paper) over every
//! worker of a day in milliseconds.
//!
//! A worker is keyed by (instance, workerid); its facet columns are dictionary-encoded, its times
//! `u32` unix seconds. The syncer reads workers whose `lastupdate` moved since its last poll and
//! drops workers whose last update left the window. A selection runs here when every column it
//! names is held and its window (on submit or update time) lies inside the index's: a worker
//! submitted or updated in the window was updated in it, so none is missing.

use crate::column::{Codes, Dict, Entry};
use crate::{Held, Test, compile, parallel};
use pandamon_query::{JobView, Selection};
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::Cell;
use pandamon_store::scan::Field;
use rustc_hash::FxHashMap;

/// Text columns held, dictionary-encoded.
pub const WORKER_TEXT_COLUMNS: &[&str] = &[
    "harvesterid",
    "status",
    "computingsite",
    "computingelement",
    "resourcetype",
    "jobtype",
    "nativestatus",
    "queuename",
    "pilotstatus",
];

/// Integer columns held, dictionary-encoded.
pub const WORKER_INT_COLUMNS: &[&str] = &["errorcode", "ncore"];

/// Time columns held.
pub const WORKER_TIME_COLUMNS: &[&str] = &["submittime", "lastupdate", "starttime", "endtime"];

const NULL_TIME: u32 = u32::MAX;
const HARVESTERID: usize = 0;
const STATUS: usize = 1;
const SUBMITTED: usize = 0;
const UPDATED: usize = 1;

/// Every column read from a worker row, in the order [`WorkerIndex::upsert`] takes them.
pub fn worker_columns() -> Vec<(&'static str, ColType)> {
    let mut all = vec![("workerid", ColType::BigInt)];
    all.extend(WORKER_TEXT_COLUMNS.iter().map(|c| (*c, ColType::Text)));
    all.extend(WORKER_INT_COLUMNS.iter().map(|c| (*c, ColType::BigInt)));
    all.extend(WORKER_TIME_COLUMNS.iter().map(|c| (*c, ColType::Timestamp)));
    all
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    WorkerId,
    Dict(usize),
    Time(usize),
}

fn slot(column: &str) -> Option<Slot> {
    if column == "workerid" {
        return Some(Slot::WorkerId);
    }
    let find = |list: &[&str]| list.iter().position(|c| *c == column);
    find(WORKER_TEXT_COLUMNS)
        .map(Slot::Dict)
        .or_else(|| find(WORKER_INT_COLUMNS).map(|i| Slot::Dict(WORKER_TEXT_COLUMNS.len() + i)))
        .or_else(|| find(WORKER_TIME_COLUMNS).map(Slot::Time))
}

/// The worker summary of a selection: how many workers, counts per value of each asked column,
/// and workers per hour of submission by status.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSummary {
    pub total: i64,
    /// One list per asked column: (value, workers), values in no particular order.
    pub facets: Vec<Vec<(Cell, i64)>>,
    /// (hour start in unix seconds or `None` for no submit time, status, workers).
    pub hourly: Vec<(Option<i64>, Cell, i64)>,
}

/// Harvester workers of the window, column by column.
#[derive(Debug, Clone)]
pub struct WorkerIndex {
    window_start: i64,
    workerid: Vec<i64>,
    dicts: Vec<Dict>,
    codes: Vec<Codes>,
    times: Vec<Vec<u32>>,
    rows: FxHashMap<(u32, i64), u32>,
}

fn time_of(field: Option<&Field<'_>>) -> u32 {
    match field {
        Some(Field::Time(t)) if (0..i64::from(NULL_TIME)).contains(t) => *t as u32,
        _ => NULL_TIME,
    }
}

impl WorkerIndex {
    pub fn new(window_start: i64) -> WorkerIndex {
        let dicts = WORKER_TEXT_COLUMNS
            .iter()
            .map(|_| Dict::text())
            .chain(WORKER_INT_COLUMNS.iter().map(|_| Dict::int()))
            .collect::<Vec<_>>();
        WorkerIndex {
            window_start,
            workerid: Vec::new(),
            codes: dicts.iter().map(|_| Codes::for_max(0, 0)).collect(),
            dicts,
            times: WORKER_TIME_COLUMNS.iter().map(|_| Vec::new()).collect(),
            rows: FxHashMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.workerid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workerid.is_empty()
    }

    pub fn window_start(&self) -> i64 {
        self.window_start
    }

    /// Bytes held per worker (columns, dictionaries and the key map).
    pub fn bytes_per_worker(&self) -> f64 {
        if self.workerid.is_empty() {
            return 0.0;
        }
        let columns = self.workerid.capacity() * 8
            + self.codes.iter().map(Codes::bytes).sum::<usize>()
            + self.times.iter().map(|t| t.capacity() * 4).sum::<usize>();
        let dicts: usize = self.dicts.iter().map(Dict::bytes).sum();
        // A hashbrown entry is its (u32, i64) key and u32 value, padded to 24 bytes, plus one
        // control byte, at a load factor of up to 7/8.
        let map = self.rows.capacity() * 25;
        (columns + dicts + map) as f64 / self.workerid.len() as f64
    }

    /// Takes one worker row (columns as [`worker_columns`]); a worker seen before is updated in
    /// place. Returns whether the row changed the index; rows without an instance or id are
    /// skipped.
    pub fn upsert(&mut self, fields: &[Field<'_>]) -> bool {
        let Some(workerid) = fields.first().and_then(Field::as_int) else {
            return false;
        };
        let Some(Field::Text(instance)) = fields.get(1) else {
            return false;
        };
        let Some(instance_code) = self.dicts[HARVESTERID].text_code(instance) else {
            return false;
        };
        let n_dicts = self.dicts.len();
        let mut codes = Vec::with_capacity(n_dicts);
        for (c, dict) in self.dicts.iter_mut().enumerate() {
            let code = match fields.get(1 + c) {
                Some(Field::Text(t)) if c < WORKER_TEXT_COLUMNS.len() => dict.text_code(t),
                Some(Field::Int(v)) if c >= WORKER_TEXT_COLUMNS.len() => dict.int_code(*v),
                _ => Some(0),
            };
            codes.push(code.unwrap_or(0));
        }
        let times: Vec<u32> = (0..WORKER_TIME_COLUMNS.len())
            .map(|t| time_of(fields.get(1 + n_dicts + t)))
            .collect();
        match self.rows.get(&(instance_code, workerid)) {
            Some(&row) => {
                let row = row as usize;
                let same = (0..n_dicts).all(|c| self.codes[c].get(row) == codes[c])
                    && (0..times.len()).all(|t| self.times[t][row] == times[t]);
                if same {
                    return false;
                }
                for (c, code) in codes.into_iter().enumerate() {
                    self.codes[c].set(row, code);
                }
                for (t, value) in times.into_iter().enumerate() {
                    self.times[t][row] = value;
                }
            }
            None => {
                let row = self.workerid.len() as u32;
                self.workerid.push(workerid);
                for (c, code) in codes.into_iter().enumerate() {
                    self.codes[c].push(code);
                }
                for (t, value) in times.into_iter().enumerate() {
                    self.times[t].push(value);
                }
                self.rows.insert((instance_code, workerid), row);
            }
        }
        true
    }

    /// Moves the window to `window_start`, dropping workers last updated before it; returns
    /// how many were dropped.
    pub fn evict(&mut self, window_start: i64) -> usize {
        self.window_start = window_start;
        let cut = window_start.clamp(0, i64::from(NULL_TIME)) as u32;
        let updated = &self.times[UPDATED];
        let keep: Vec<bool> = updated
            .iter()
            .map(|t| *t != NULL_TIME && *t >= cut)
            .collect();
        let dropped = keep.iter().filter(|k| !**k).count();
        if dropped == 0 {
            return 0;
        }
        let kept: Vec<usize> = (0..keep.len()).filter(|i| keep[*i]).collect();
        let mut fresh = WorkerIndex::new(window_start);
        fresh.dicts = self.dicts.clone();
        for c in 0..self.codes.len() {
            let max = self.dicts[c].len().saturating_sub(1) as u32;
            let mut codes = Codes::for_max(max, kept.len());
            for &i in &kept {
                codes.push(self.codes[c].get(i));
            }
            fresh.codes[c] = codes;
        }
        for t in 0..self.times.len() {
            fresh.times[t] = kept.iter().map(|&i| self.times[t][i]).collect();
        }
        fresh.workerid = kept.iter().map(|&i| self.workerid[i]).collect();
        fresh.rows = kept
            .iter()
            .enumerate()
            .map(|(row, &i)| {
                (
                    (self.codes[HARVESTERID].get(i), self.workerid[i]),
                    row as u32,
                )
            })
            .collect();
        *self = fresh;
        dropped
    }

    /// Whether the index can answer `selection` exactly.
    pub fn supports(&self, selection: &Selection) -> bool {
        let (Some((from, _)), Some(column)) = (selection.window, selection.window_column()) else {
            return false;
        };
        matches!(column, "submittime" | "lastupdate")
            && from >= self.window_start
            && selection
                .conds
                .iter()
                .all(|c| c.columns().iter().all(|col| slot(col).is_some()))
    }

    fn compile(&self, selection: &Selection) -> Vec<Test> {
        compile(selection, &self.dicts, |column| match slot(column) {
            Some(Slot::Time(t)) => Some(Held::Time(t)),
            Some(Slot::Dict(c)) => Some(Held::Dict(c)),
            _ => None,
        })
    }

    fn row_matches(&self, row: usize, tests: &[Test]) -> bool {
        tests.iter().all(|t| match t {
            Test::Codes(c, accept) => accept[self.codes[*c].get(row) as usize],
            Test::Time(c, lo, hi) => {
                let t = self.times[*c][row];
                t >= *lo && t <= *hi
            }
            Test::Never => false,
            Test::General(cond) => cond.matches(&At { index: self, row }),
        })
    }

    /// The rows of the workers `selection` matches, in row order.
    pub fn matching(&self, selection: &Selection) -> Vec<u32> {
        let tests = self.compile(selection);
        parallel(self.workerid.len(), |range| {
            range
                .filter(|&i| self.row_matches(i, &tests))
                .map(|i| i as u32)
                .collect::<Vec<u32>>()
        })
        .concat()
    }

    fn cell(&self, c: usize, code: u32) -> Cell {
        match self.dicts[c].entry(code) {
            Entry::Null => Cell::Null,
            Entry::Text(t) => Cell::Text(t.to_string()),
            Entry::Int(v) => Cell::Int(v),
        }
    }

    /// The summary of `selection`: counts per value of each of `columns` (held columns; others
    /// get no counts) and workers per submission hour by status.
    pub fn summary(&self, selection: &Selection, columns: &[&str]) -> WorkerSummary {
        let rows = self.matching(selection);
        let facets = columns
            .iter()
            .map(|column| match slot(column) {
                Some(Slot::Dict(c)) => {
                    let mut counts = vec![0u64; self.dicts[c].len()];
                    self.codes[c].count(&rows, &mut counts);
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| **n > 0)
                        .map(|(code, n)| (self.cell(c, code as u32), *n as i64))
                        .collect()
                }
                _ => Vec::new(),
            })
            .collect();
        let mut by_hour: FxHashMap<(u32, u32), i64> = FxHashMap::default();
        let submitted = &self.times[SUBMITTED];
        for &r in &rows {
            let t = submitted[r as usize];
            let hour = if t == NULL_TIME {
                NULL_TIME
            } else {
                t - t % 3_600
            };
            *by_hour
                .entry((hour, self.codes[STATUS].get(r as usize)))
                .or_default() += 1;
        }
        let mut hourly: Vec<(Option<i64>, Cell, i64)> = by_hour
            .into_iter()
            .map(|((hour, status), n)| {
                (
                    (hour != NULL_TIME).then_some(i64::from(hour)),
                    self.cell(STATUS, status),
                    n,
                )
            })
            .collect();
        hourly.sort_by_key(|(hour, status, _)| (*hour, status.as_text().map(str::to_string)));
        WorkerSummary {
            total: rows.len() as i64,
            facets,
            hourly,
        }
    }
}

/// A row of the index seen as a worker.
struct At<'a> {
    index: &'a WorkerIndex,
    row: usize,
}

impl JobView for At<'_> {
    fn text(&self, column: &str) -> Option<&str> {
        match slot(column) {
            Some(Slot::Dict(c)) => self.index.dicts[c].text_of(self.index.codes[c].get(self.row)),
            _ => None,
        }
    }
    fn int(&self, column: &str) -> Option<i64> {
        match slot(column)? {
            Slot::WorkerId => Some(self.index.workerid[self.row]),
            Slot::Dict(c) => self.index.dicts[c].int_of(self.index.codes[c].get(self.row)),
            Slot::Time(_) => None,
        }
    }
    fn time(&self, column: &str) -> Option<i64> {
        match slot(column) {
            Some(Slot::Time(t)) => Some(self.index.times[t][self.row])
                .filter(|v| *v != NULL_TIME)
                .map(i64::from),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pandamon_query::{Defaults, fields};
    use std::borrow::Cow;

    fn worker(
        id: i64,
        instance: &str,
        status: &str,
        site: &str,
        submitted: i64,
    ) -> Vec<Field<'static>> {
        let mut row = vec![Field::Int(id), Field::Text(Cow::Owned(instance.into()))];
        row.push(Field::Text(Cow::Owned(status.into())));
        row.push(Field::Text(Cow::Owned(site.into())));
        for _ in 3..WORKER_TEXT_COLUMNS.len() {
            row.push(Field::Null);
        }
        row.push(Field::Int(1));
        row.push(Field::Int(8));
        row.push(Field::Time(submitted));
        row.push(Field::Time(submitted + 60));
        row.push(Field::Null);
        row.push(Field::Null);
        row
    }

    fn select(query: &[(&str, &str)], now: i64) -> Selection {
        Selection::parse(
            query.iter().copied(),
            Defaults {
                window_hours: 12,
                now,
                vocabulary: &fields::WORKERS,
            },
        )
        .unwrap()
    }

    #[test]
    fn workers_are_keyed_by_instance_counted_and_evicted() {
        let now = 1_000_000;
        let mut index = WorkerIndex::new(now - 86_400);
        assert!(index.upsert(&worker(1, "A", "running", "S1", now - 100)));
        assert!(index.upsert(&worker(1, "B", "failed", "S2", now - 4_000)));
        assert!(index.upsert(&worker(2, "A", "running", "S1", now - 50_000)));
        // The same row again changes nothing; a new status is an update, not a new worker.
        assert!(!index.upsert(&worker(1, "A", "running", "S1", now - 100)));
        assert!(index.upsert(&worker(1, "A", "finished", "S1", now - 100)));
        assert_eq!(index.len(), 3);
        let all = select(&[], now);
        assert!(index.supports(&all));
        let summary = index.summary(&all, &["status", "harvesterid", "batchid"]);
        assert_eq!(summary.total, 2, "the 12-hour window holds two workers");
        let mut status = summary.facets[0].clone();
        status.sort_by_key(|(value, _)| value.as_text().map(str::to_string));
        assert_eq!(
            status,
            vec![
                (Cell::Text("failed".into()), 1),
                (Cell::Text("finished".into()), 1)
            ]
        );
        assert!(summary.facets[2].is_empty(), "batchid is not held");
        assert_eq!(summary.hourly.iter().map(|h| h.2).sum::<i64>(), 2);
        let narrowed = select(&[("instance", "B"), ("status", "!running")], now);
        assert_eq!(index.summary(&narrowed, &[]).total, 1);
        let by_id = select(&[("workerid", "2"), ("days", "1")], now);
        assert_eq!(index.summary(&by_id, &[]).total, 1);
        // A column the index does not hold, or a window older than it, goes to SQL.
        assert!(!index.supports(&select(&[("batchid", "x")], now)));
        assert!(!index.supports(&select(&[("days", "3")], now)));
        assert_eq!(index.evict(now - 10_000), 1);
        assert_eq!(index.len(), 2);
        assert!(index.upsert(&worker(1, "A", "cancelled", "S1", now - 100)));
        assert_eq!(index.len(), 2, "the key map survived the eviction");
        assert!(index.bytes_per_worker() > 0.0);
    }
}
