//! The live job index: the facet, filter and sort columns of every job in the job tables within a
//! time window, held in memory column by column with strings dictionary-encoded, kept in step
//! with the database by polling each table's `modificationtime`.
//!
//! A selection runs on the index when every column it reads is indexed and its window lies inside
//! the index's window; otherwise the caller pushes it down to SQL. Both give the same answers (a
//! test compares them on every backend).
//!
//! Architecture invariant: the index only reads the database, never writes; a failed poll leaves
//! the last good state in place and is retried.

pub mod sync;

use pandamon_model::JobTable;
use pandamon_query::{Cond, JobView, Selection};
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::{Cell, Group};
use std::collections::HashMap;

/// Text columns held dictionary-encoded. Columns unique to each job (`jobname`, `batchid`, block
/// names, worker host) are left out: they would make the dictionaries as large as the jobs, and
/// the selections that name them lift the time window anyway, so they run as SQL.
pub const TEXT_COLUMNS: &[&str] = &[
    "jobstatus",
    "computingsite",
    "cloud",
    "nucleus",
    "prodsourcelabel",
    "produsername",
    "processingtype",
    "workinggroup",
    "transformation",
    "homepackage",
    "inputfileproject",
    "inputfiletype",
    "outputfiletype",
    "specialhandling",
    "jobsubstatus",
    "gshare",
    "resource_type",
    "schedulerid",
    "computingelement",
    "container_name",
    "transexitcode",
    "atlasrelease",
    "cmtconfig",
    "job_label",
    "piloterrordiag",
    "exeerrordiag",
    "superrordiag",
    "ddmerrordiag",
    "brokerageerrordiag",
    "jobdispatchererrordiag",
    "taskbuffererrordiag",
];

/// Integer columns (NULL kept as `i64::MIN`).
pub const INT_COLUMNS: &[&str] = &[
    "jeditaskid",
    "reqid",
    "attemptnr",
    "maxattempt",
    "currentpriority",
    "corecount",
    "actualcorecount",
    "eventservice",
    "noutputdatafiles",
    "jobsetid",
    "parentid",
    "workqueue_id",
    "nevents",
    "minramcount",
    "piloterrorcode",
    "exeerrorcode",
    "superrorcode",
    "ddmerrorcode",
    "brokerageerrorcode",
    "jobdispatchererrorcode",
    "taskbuffererrorcode",
];

/// Time columns, unix seconds (NULL kept as `i64::MIN`).
pub const TIME_COLUMNS: &[&str] = &[
    "modificationtime",
    "creationtime",
    "starttime",
    "endtime",
    "statechangetime",
];

const NULL: i64 = i64::MIN;

/// Every column the index reads from a job row, in the order `Row` values come.
pub fn loaded_columns() -> Vec<&'static str> {
    let mut all = vec!["pandaid"];
    all.extend(TEXT_COLUMNS);
    all.extend(INT_COLUMNS);
    all.extend(TIME_COLUMNS);
    all
}

/// The database type a loaded column is read as.
pub fn loaded_type(column: &str) -> ColType {
    if TEXT_COLUMNS.contains(&column) {
        ColType::Text
    } else if TIME_COLUMNS.contains(&column) {
        ColType::Timestamp
    } else {
        ColType::BigInt
    }
}

#[derive(Debug, Default, Clone)]
struct Dict {
    values: Vec<String>,
    codes: HashMap<String, u32>,
}

impl Dict {
    fn new() -> Dict {
        // Code 0 is NULL.
        Dict {
            values: vec![String::new()],
            codes: HashMap::new(),
        }
    }

    fn code(&mut self, value: Option<&str>) -> u32 {
        let Some(v) = value else { return 0 };
        if let Some(&c) = self.codes.get(v) {
            return c;
        }
        let c = self.values.len() as u32;
        self.values.push(v.to_string());
        self.codes.insert(v.to_string(), c);
        c
    }

    fn value(&self, code: u32) -> Option<&str> {
        (code != 0).then(|| self.values[code as usize].as_str())
    }
}

/// Where a column lives in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Text(usize),
    Int(usize),
    Time(usize),
}

fn slot(column: &str) -> Option<Slot> {
    if let Some(i) = TEXT_COLUMNS.iter().position(|c| *c == column) {
        Some(Slot::Text(i))
    } else if let Some(i) = INT_COLUMNS.iter().position(|c| *c == column) {
        Some(Slot::Int(i))
    } else if column == "pandaid" {
        None
    } else {
        TIME_COLUMNS
            .iter()
            .position(|c| *c == column)
            .map(Slot::Time)
    }
}

/// One job as read from the database.
#[derive(Debug, Clone)]
pub struct Row {
    pub pandaid: i64,
    pub table: JobTable,
    pub text: Vec<Option<String>>,
    pub ints: Vec<i64>,
    pub times: Vec<i64>,
}

/// The in-memory columnar index.
#[derive(Debug)]
pub struct JobIndex {
    /// Jobs whose `modificationtime` is at or after this instant are held.
    pub window_start: i64,
    pandaid: Vec<i64>,
    table: Vec<u8>,
    text: Vec<Vec<u32>>,
    ints: Vec<Vec<i64>>,
    times: Vec<Vec<i64>>,
    dicts: Vec<Dict>,
    rows: HashMap<i64, u32>,
    free: Vec<u32>,
}

fn table_code(t: JobTable) -> u8 {
    t as u8
}

impl JobIndex {
    pub fn new(window_start: i64) -> JobIndex {
        JobIndex {
            window_start,
            pandaid: Vec::new(),
            table: Vec::new(),
            text: vec![Vec::new(); TEXT_COLUMNS.len()],
            ints: vec![Vec::new(); INT_COLUMNS.len()],
            times: vec![Vec::new(); TIME_COLUMNS.len()],
            dicts: vec![Dict::new(); TEXT_COLUMNS.len()],
            rows: HashMap::new(),
            free: Vec::new(),
        }
    }

    /// Jobs held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Inserts or replaces a job (a job that moved between tables keeps its pandaid).
    pub fn upsert(&mut self, row: &Row) {
        let modified = row.times[0];
        if modified != NULL && modified < self.window_start {
            self.remove(row.pandaid);
            return;
        }
        let index = match self.rows.get(&row.pandaid) {
            Some(&i) => {
                // Keep the newer state: a later modification, or at the same second a later table.
                let held = self.times[0][i as usize];
                if held > modified
                    || (held == modified && self.table[i as usize] > table_code(row.table))
                {
                    return;
                }
                i as usize
            }
            None => {
                let i = match self.free.pop() {
                    Some(i) => i as usize,
                    None => {
                        self.pandaid.push(0);
                        self.table.push(0);
                        self.text.iter_mut().for_each(|c| c.push(0));
                        self.ints.iter_mut().for_each(|c| c.push(NULL));
                        self.times.iter_mut().for_each(|c| c.push(NULL));
                        self.pandaid.len() - 1
                    }
                };
                self.rows.insert(row.pandaid, i as u32);
                i
            }
        };
        self.pandaid[index] = row.pandaid;
        self.table[index] = table_code(row.table);
        for (c, value) in row.text.iter().enumerate() {
            self.text[c][index] = self.dicts[c].code(value.as_deref());
        }
        for (c, value) in row.ints.iter().enumerate() {
            self.ints[c][index] = *value;
        }
        for (c, value) in row.times.iter().enumerate() {
            self.times[c][index] = *value;
        }
    }

    pub fn remove(&mut self, pandaid: i64) {
        if let Some(i) = self.rows.remove(&pandaid) {
            self.pandaid[i as usize] = 0;
            self.free.push(i);
        }
    }

    /// Drops jobs that left the window; returns how many.
    pub fn evict(&mut self, window_start: i64) -> usize {
        self.window_start = window_start;
        let old: Vec<i64> = self
            .rows
            .iter()
            .filter(|(_, i)| {
                let t = self.times[0][**i as usize];
                t != NULL && t < window_start
            })
            .map(|(p, _)| *p)
            .collect();
        for p in &old {
            self.remove(*p);
        }
        old.len()
    }

    /// Every pandaid held, for reconciling deletions.
    pub fn pandaids(&self) -> Vec<i64> {
        self.rows.keys().copied().collect()
    }

    /// The table a job is in, if held.
    pub fn table_of(&self, pandaid: i64) -> Option<JobTable> {
        self.rows
            .get(&pandaid)
            .and_then(|&i| JobTable::ALL.get(self.table[i as usize] as usize).copied())
    }

    pub fn status_of(&self, pandaid: i64) -> Option<&str> {
        let i = *self.rows.get(&pandaid)? as usize;
        self.dicts[0].value(self.text[0][i])
    }

    /// Approximate memory held per job, in bytes.
    pub fn bytes_per_job(&self) -> f64 {
        let slots = self.pandaid.capacity().max(1);
        let per_slot =
            8 + 1 + TEXT_COLUMNS.len() * 4 + (INT_COLUMNS.len() + TIME_COLUMNS.len()) * 8;
        let dict_bytes: usize = self
            .dicts
            .iter()
            .map(|d| {
                d.values
                    .iter()
                    .map(|v| v.capacity() * 2 + 48)
                    .sum::<usize>()
            })
            .sum();
        let map_bytes = self.rows.capacity() * 16;
        (slots * per_slot + dict_bytes + map_bytes) as f64 / self.len().max(1) as f64
    }

    /// Whether `selection` can run here: every column it reads is indexed and its window lies
    /// inside the index's window.
    pub fn supports(&self, selection: &Selection) -> bool {
        let Some((from, _)) = selection.window else {
            return false;
        };
        from >= self.window_start
            && selection.conds.iter().all(|c| {
                c.columns()
                    .iter()
                    .all(|col| slot(col).is_some() || *col == "pandaid")
            })
    }

    /// Compiles the selection's conditions into per-row tests; text conditions are decided once
    /// per dictionary value.
    fn compile(&self, selection: &Selection) -> Vec<Compiled> {
        selection
            .conds
            .iter()
            .map(|cond| match cond {
                Cond::Text { column, .. } => match slot(column) {
                    Some(Slot::Text(c)) => {
                        let accept = (0..self.dicts[c].values.len() as u32)
                            .map(|code| {
                                cond.matches(&One {
                                    column,
                                    text: self.dicts[c].value(code),
                                })
                            })
                            .collect();
                        Compiled::Text(c, accept)
                    }
                    _ => Compiled::General(cond.clone()),
                },
                other => Compiled::General(other.clone()),
            })
            .collect()
    }

    fn row_matches(&self, i: usize, tests: &[Compiled], tables: &[u8]) -> bool {
        if self.pandaid[i] == 0 || !tables.contains(&self.table[i]) {
            return false;
        }
        tests.iter().all(|t| match t {
            Compiled::Text(c, accept) => accept[self.text[*c][i] as usize],
            Compiled::General(cond) => cond.matches(&At {
                index: self,
                row: i,
            }),
        })
    }

    /// Positions of the matching rows in the given tables.
    pub fn matching(&self, selection: &Selection, tables: &[JobTable]) -> Vec<u32> {
        let tests = self.compile(selection);
        let codes: Vec<u8> = tables.iter().map(|t| table_code(*t)).collect();
        // Every core scans its own stretch of rows.
        let parts = parallel(self.pandaid.len(), |range| {
            range
                .filter(|&i| self.row_matches(i, &tests, &codes))
                .map(|i| i as u32)
                .collect::<Vec<u32>>()
        });
        parts.concat()
    }

    pub fn count(&self, selection: &Selection, tables: &[JobTable]) -> i64 {
        self.matching(selection, tables).len() as i64
    }

    /// Grouped counts, in the shape of `Db::group_jobs`: one group per distinct combination of
    /// the columns, with its count and smallest pandaid.
    pub fn group(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        columns: &[&str],
    ) -> Vec<Group> {
        let slots: Vec<Option<Slot>> = columns.iter().map(|c| slot(c)).collect();
        let mut groups: HashMap<Vec<i64>, (i64, i64)> = HashMap::new();
        // One reused key buffer: a new allocation only for a new group.
        let mut key: Vec<i64> = vec![0; slots.len()];
        for i in self.matching(selection, tables) {
            let i = i as usize;
            for (k, s) in key.iter_mut().zip(&slots) {
                *k = match s {
                    Some(Slot::Text(c)) => i64::from(self.text[*c][i]),
                    Some(Slot::Int(c)) => self.ints[*c][i],
                    Some(Slot::Time(c)) => self.times[*c][i],
                    None => self.pandaid[i],
                };
            }
            let pandaid = self.pandaid[i];
            match groups.get_mut(key.as_slice()) {
                Some(entry) => {
                    entry.0 += 1;
                    entry.1 = entry.1.min(pandaid);
                }
                None => {
                    groups.insert(key.clone(), (1, pandaid));
                }
            }
        }
        groups
            .into_iter()
            .map(|(key, (count, example))| Group {
                values: key
                    .iter()
                    .zip(&slots)
                    .map(|(v, s)| match s {
                        Some(Slot::Text(c)) => self.dicts[*c]
                            .value(*v as u32)
                            .map_or(Cell::Null, |t| Cell::Text(t.to_string())),
                        Some(Slot::Time(_)) if *v != NULL => {
                            chrono::DateTime::from_timestamp(*v, 0)
                                .map_or(Cell::Null, |t| Cell::Time(t.naive_utc()))
                        }
                        _ if *v == NULL => Cell::Null,
                        _ => Cell::Int(*v),
                    })
                    .collect(),
                count,
                example,
            })
            .collect()
    }

    /// Per column, the (value, count) pairs over the matching rows: one pass, one counter array
    /// per dictionary-encoded column.
    pub fn facet_counts(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        columns: &[&str],
    ) -> Vec<Vec<(Cell, i64)>> {
        let slots: Vec<Option<Slot>> = columns.iter().map(|c| slot(c)).collect();
        let tests = self.compile(selection);
        let codes: Vec<u8> = tables.iter().map(|t| table_code(*t)).collect();
        // Each core filters and counts its own stretch of rows; the counters are summed after.
        let parts = parallel(self.pandaid.len(), |range| {
            let mut text_counts: Vec<Vec<i64>> = slots
                .iter()
                .map(|s| match s {
                    Some(Slot::Text(c)) => vec![0; self.dicts[*c].values.len()],
                    _ => Vec::new(),
                })
                .collect();
            let mut value_counts: Vec<HashMap<i64, i64>> = vec![HashMap::new(); slots.len()];
            for i in range {
                if !self.row_matches(i, &tests, &codes) {
                    continue;
                }
                for (k, s) in slots.iter().enumerate() {
                    match s {
                        Some(Slot::Text(c)) => text_counts[k][self.text[*c][i] as usize] += 1,
                        Some(Slot::Int(c)) => {
                            *value_counts[k].entry(self.ints[*c][i]).or_default() += 1
                        }
                        Some(Slot::Time(c)) => {
                            *value_counts[k].entry(self.times[*c][i]).or_default() += 1
                        }
                        None => *value_counts[k].entry(self.pandaid[i]).or_default() += 1,
                    }
                }
            }
            (text_counts, value_counts)
        });
        let mut parts = parts.into_iter();
        let (mut text_counts, mut value_counts) = parts.next().unwrap_or_default();
        for (texts, values) in parts {
            for (total, part) in text_counts.iter_mut().zip(texts) {
                for (t, p) in total.iter_mut().zip(part) {
                    *t += p;
                }
            }
            for (total, part) in value_counts.iter_mut().zip(values) {
                for (v, n) in part {
                    *total.entry(v).or_default() += n;
                }
            }
        }
        slots
            .iter()
            .enumerate()
            .map(|(k, s)| match s {
                Some(Slot::Text(c)) => text_counts[k]
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(code, n)| {
                        let cell = self.dicts[*c]
                            .value(code as u32)
                            .map_or(Cell::Null, |t| Cell::Text(t.to_string()));
                        (cell, *n)
                    })
                    .collect(),
                Some(Slot::Time(_)) => value_counts[k]
                    .iter()
                    .map(|(v, n)| {
                        let cell = if *v == NULL {
                            Cell::Null
                        } else {
                            chrono::DateTime::from_timestamp(*v, 0)
                                .map_or(Cell::Null, |t| Cell::Time(t.naive_utc()))
                        };
                        (cell, *n)
                    })
                    .collect(),
                _ => value_counts[k]
                    .iter()
                    .map(|(v, n)| {
                        (
                            if *v == NULL {
                                Cell::Null
                            } else {
                                Cell::Int(*v)
                            },
                            *n,
                        )
                    })
                    .collect(),
            })
            .collect()
    }

    /// Whether every column is indexed, for callers that group by columns of their choice.
    pub fn has_columns(columns: &[&str]) -> bool {
        columns.iter().all(|c| slot(c).is_some() || *c == "pandaid")
    }
}

/// Runs `work` on consecutive stretches of `0..len`, one per core, and returns their results in
/// order. Small inputs stay on the calling thread.
fn parallel<T: Send>(len: usize, work: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || len < 50_000 {
        return vec![work(0..len)];
    }
    let chunk = len.div_ceil(cores);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|c| {
                let range = (c * chunk).min(len)..((c + 1) * chunk).min(len);
                let work = &work;
                scope.spawn(move || work(range))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

enum Compiled {
    Text(usize, Vec<bool>),
    General(Cond),
}

/// A single text value, to decide a text condition once per dictionary entry.
struct One<'a> {
    column: &'a str,
    text: Option<&'a str>,
}

impl JobView for One<'_> {
    fn text(&self, column: &str) -> Option<&str> {
        if column == self.column {
            self.text
        } else {
            None
        }
    }
    fn int(&self, _: &str) -> Option<i64> {
        None
    }
    fn time(&self, _: &str) -> Option<i64> {
        None
    }
}

/// A row of the index seen as a job.
struct At<'a> {
    index: &'a JobIndex,
    row: usize,
}

impl JobView for At<'_> {
    fn text(&self, column: &str) -> Option<&str> {
        match slot(column) {
            Some(Slot::Text(c)) => self.index.dicts[c].value(self.index.text[c][self.row]),
            _ => None,
        }
    }
    fn int(&self, column: &str) -> Option<i64> {
        if column == "pandaid" {
            return Some(self.index.pandaid[self.row]);
        }
        match slot(column) {
            Some(Slot::Int(c)) => Some(self.index.ints[c][self.row]).filter(|v| *v != NULL),
            _ => None,
        }
    }
    fn time(&self, column: &str) -> Option<i64> {
        match slot(column) {
            Some(Slot::Time(c)) => Some(self.index.times[c][self.row]).filter(|v| *v != NULL),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pandamon_query::{Defaults, fields};

    fn row(pandaid: i64, table: JobTable, status: &str, site: Option<&str>, modified: i64) -> Row {
        let mut text = vec![None; TEXT_COLUMNS.len()];
        text[0] = Some(status.to_string());
        text[1] = site.map(str::to_string);
        let mut times = vec![NULL; TIME_COLUMNS.len()];
        times[0] = modified;
        Row {
            pandaid,
            table,
            text,
            ints: vec![NULL; INT_COLUMNS.len()],
            times,
        }
    }

    fn select(query: &[(&str, &str)], now: i64) -> Selection {
        Selection::parse(
            query.iter().copied(),
            Defaults {
                window_hours: 12,
                now,
                vocabulary: &fields::JOBS,
            },
        )
        .unwrap()
    }

    #[test]
    fn parallel_scans_cover_every_row_once_in_order() {
        let parts = parallel(100_001, |r| (r.start, r.end));
        assert_eq!(parts.first().map(|p| p.0), Some(0));
        assert_eq!(parts.last().map(|p| p.1), Some(100_001));
        assert!(parts.windows(2).all(|w| w[0].1 == w[1].0));
    }

    #[test]
    fn large_indexes_count_the_same_on_every_core() {
        let now = 2_000_000;
        let mut index = JobIndex::new(now - 86_400);
        let statuses = ["running", "finished", "failed"];
        let sites = ["A", "B", "C", "D"];
        for p in 1..=60_000i64 {
            let status = statuses[(p % 3) as usize];
            let site = sites[(p % 4) as usize];
            index.upsert(&row(
                p,
                JobTable::Archived,
                status,
                Some(site),
                now - p % 3_600,
            ));
        }
        let all = [JobTable::Archived];
        let sel = select(&[("jobstatus", "failed")], now);
        assert_eq!(index.count(&sel, &all), 20_000);
        let counts = index.facet_counts(&sel, &all, &["computingsite"]);
        let mut by_site: Vec<(String, i64)> = counts[0]
            .iter()
            .map(|(c, n)| (c.as_text().unwrap().to_string(), *n))
            .collect();
        by_site.sort();
        // p % 3 == 2 and p % 4 == k: 5000 jobs for each site.
        assert_eq!(
            by_site,
            vec![
                ("A".into(), 5_000),
                ("B".into(), 5_000),
                ("C".into(), 5_000),
                ("D".into(), 5_000)
            ]
        );
        let matching = index.matching(&sel, &all);
        assert!(
            matching.windows(2).all(|w| w[0] < w[1]),
            "rows come back in order"
        );
    }

    #[test]
    fn upserts_move_and_evict_jobs() {
        let now = 1_000_000;
        let mut index = JobIndex::new(now - 86_400);
        index.upsert(&row(1, JobTable::Active, "running", Some("A"), now - 10));
        index.upsert(&row(2, JobTable::Active, "running", Some("B"), now - 10));
        index.upsert(&row(3, JobTable::Defined, "defined", None, now - 10));
        assert_eq!(index.len(), 3);
        // Job 1 finishes: it moves to jobsarchived4 and keeps one entry.
        index.upsert(&row(1, JobTable::Archived, "finished", Some("A"), now));
        assert_eq!(index.len(), 3);
        assert_eq!(index.table_of(1), Some(JobTable::Archived));
        let live = [JobTable::Defined, JobTable::Active, JobTable::Archived];
        assert_eq!(
            index.count(&select(&[("jobstatus", "running")], now), &live),
            1
        );
        assert_eq!(
            index.count(&select(&[("computingsite", "Not specified")], now), &live),
            1
        );
        assert_eq!(
            index.count(&select(&[("computingsite", "!A")], now), &live),
            2
        );
        let groups = index.group(&select(&[], now), &live, &["jobstatus"]);
        let mut counts: Vec<(String, i64)> = groups
            .iter()
            .map(|g| (g.values[0].as_text().unwrap().to_string(), g.count))
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            vec![
                ("defined".into(), 1),
                ("finished".into(), 1),
                ("running".into(), 1)
            ]
        );
        assert!(index.supports(&select(&[], now)));
        assert!(
            !index.supports(&select(&[("days", "3")], now)),
            "reaches past the window"
        );
        assert!(
            !index.supports(&select(&[("jeditaskid", "5")], now)),
            "no window: SQL"
        );
        // An older copy of a job does not overwrite a newer one.
        index.upsert(&row(1, JobTable::Active, "running", Some("A"), now - 10));
        assert_eq!(index.table_of(1), Some(JobTable::Archived));
        // A freed slot is reused; leaving the window evicts.
        index.remove(2);
        index.upsert(&row(4, JobTable::Active, "sent", Some("C"), now));
        assert_eq!(index.len(), 3);
        assert_eq!(index.evict(now - 5), 1);
        assert_eq!(index.len(), 2);
    }
}
