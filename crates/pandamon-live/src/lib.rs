//! The live job index: the facet, filter and sort columns of every job in the job tables within a
//! time window, held in memory column by column, kept in step with the database by polling each
//! table's `modificationtime`.
//!
//! Text and integer columns are dictionary-encoded, their codes stored in the narrowest integer
//! type that holds them (`u8` for a few hundred sites, `u16` for users, `u32` beyond); times are
//! `u32` unix seconds. Rows are kept in pandaid order, so a job is found by binary search and no
//! hash map over all jobs is needed; jobs that arrive out of order wait in a small side table
//! until the next compaction, which also drops dictionary values no job uses any more.
//!
//! A selection runs on the index when every column it reads is indexed and its window lies inside
//! the index's window; otherwise the caller pushes it down to SQL. Both give the same answers (a
//! test compares them on every backend).
//!
//! Architecture invariant: the index only reads the database, never writes; a failed poll leaves
//! the last good state in place and is retried.

mod column;
pub mod sync;
pub mod workers;

use column::{Codes, Dict, Entry, Postings};
use pandamon_model::JobTable;
use pandamon_query::{Clause, Cond, JobView, Selection, Term};
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::{Cell, Group, Summed};
use pandamon_store::scan::Field;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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

/// Integer columns held dictionary-encoded: few distinct values among many jobs.
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
    "workqueue_id",
    "nevents",
    "minramcount",
    "hs06",
    "piloterrorcode",
    "exeerrorcode",
    "superrorcode",
    "ddmerrorcode",
    "brokerageerrorcode",
    "jobdispatchererrorcode",
    "taskbuffererrorcode",
];

/// Integer columns with about one value per job, held as they are (NULL as `i64::MIN`).
pub const PLAIN_COLUMNS: &[&str] = &["parentid"];

/// Time columns, held as `u32` unix seconds.
pub const TIME_COLUMNS: &[&str] = &[
    "modificationtime",
    "creationtime",
    "starttime",
    "endtime",
    "statechangetime",
];

/// Dictionary columns with many values that selections name a few of (a site, a user, a task):
/// their per-value row lists let such a selection visit only its rows instead of every job.
const POSTED: &[&str] = &["computingsite", "produsername", "jeditaskid", "reqid"];

/// Where `modificationtime` comes among [`loaded_columns`].
pub(crate) const MODIFIED: usize = 1 + TEXT_COLUMNS.len() + INT_COLUMNS.len() + PLAIN_COLUMNS.len();

const NULL: i64 = i64::MIN;
const NULL_TIME: u32 = u32::MAX;
/// `table` of a row that holds no job.
const FREE: u8 = u8::MAX;
/// Jobs that arrive out of pandaid order, or free rows, beyond which the rows are compacted.
const COMPACT_MIN: usize = 4_096;

/// Every column the index reads from a job row, in the order [`JobIndex::upsert`] takes them.
pub fn loaded_columns() -> Vec<&'static str> {
    let mut all = vec!["pandaid"];
    all.extend(TEXT_COLUMNS);
    all.extend(INT_COLUMNS);
    all.extend(PLAIN_COLUMNS);
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

/// Where a column lives in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A dictionary column: the text columns, then the integer ones.
    Dict(usize),
    Plain(usize),
    Time(usize),
    PandaId,
    /// A time column truncated to the hour (a group key, never a column's own slot).
    Hour(usize),
}

fn slot(column: &str) -> Option<Slot> {
    if column == "pandaid" {
        return Some(Slot::PandaId);
    }
    let find = |list: &[&str]| list.iter().position(|c| *c == column);
    find(TEXT_COLUMNS)
        .map(Slot::Dict)
        .or_else(|| find(INT_COLUMNS).map(|i| Slot::Dict(TEXT_COLUMNS.len() + i)))
        .or_else(|| find(PLAIN_COLUMNS).map(Slot::Plain))
        .or_else(|| find(TIME_COLUMNS).map(Slot::Time))
}

/// Why a row was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// One job as read from the database, owned (for polls, whose rows are applied after reading).
#[derive(Debug, Clone)]
pub struct Row {
    pub table: JobTable,
    /// Values in [`loaded_columns`] order.
    pub fields: Vec<Field<'static>>,
}

impl Row {
    pub fn pandaid(&self) -> Option<i64> {
        self.fields.first().and_then(Field::as_int)
    }

    pub fn modified(&self) -> Option<i64> {
        match self.fields.get(MODIFIED) {
            Some(Field::Time(t)) => Some(*t),
            _ => None,
        }
    }
}

/// A row's values, decoded and checked before anything is written.
struct Decoded<'a> {
    pandaid: i64,
    text: [Option<&'a str>; TEXT_COLUMNS.len()],
    ints: [Option<i64>; INT_COLUMNS.len() + PLAIN_COLUMNS.len()],
    times: [u32; TIME_COLUMNS.len()],
}

fn decode<'a>(fields: &'a [Field<'a>]) -> Result<Decoded<'a>, Malformed> {
    if fields.len()
        != 1 + TEXT_COLUMNS.len() + INT_COLUMNS.len() + PLAIN_COLUMNS.len() + TIME_COLUMNS.len()
    {
        return Err(Malformed("wrong number of columns"));
    }
    let pandaid = fields[0]
        .as_int()
        .ok_or(Malformed("pandaid is not an integer"))?;
    let mut rest = &fields[1..];
    let mut text = [None; TEXT_COLUMNS.len()];
    for (t, f) in text.iter_mut().zip(rest) {
        *t = match f {
            Field::Null => None,
            // CHAR columns come padded.
            Field::Text(s) => Some(s.trim_end()),
            _ => return Err(Malformed("a text column holds a non-text value")),
        };
    }
    rest = &rest[TEXT_COLUMNS.len()..];
    let mut ints = [None; INT_COLUMNS.len() + PLAIN_COLUMNS.len()];
    for (v, f) in ints.iter_mut().zip(rest) {
        *v = match f {
            Field::Null => None,
            Field::Int(v) => Some(*v),
            _ => return Err(Malformed("an integer column holds a non-integer value")),
        };
    }
    rest = &rest[ints.len()..];
    let mut times = [NULL_TIME; TIME_COLUMNS.len()];
    for (t, f) in times.iter_mut().zip(rest) {
        *t = match f {
            Field::Null => NULL_TIME,
            Field::Time(v) if *v >= 0 && *v < i64::from(NULL_TIME) => *v as u32,
            _ => return Err(Malformed("a time column holds a value outside 1970-2106")),
        };
    }
    if times[0] == NULL_TIME {
        return Err(Malformed("no modificationtime"));
    }
    Ok(Decoded {
        pandaid,
        text,
        ints,
        times,
    })
}

/// Time bins: `bins` bins of `bin` seconds from `from`; jobs without an end run until `now`.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub from: i64,
    pub bin: i64,
    pub bins: usize,
    pub now: i64,
}

/// What a group gathers: its count, smallest pandaid and sums.
struct Acc {
    count: i64,
    example: i64,
    sums: Box<[i64]>,
}

impl Acc {
    fn new(sums: usize) -> Acc {
        Acc {
            count: 0,
            example: i64::MAX,
            sums: vec![0; sums].into_boxed_slice(),
        }
    }

    fn merge(&mut self, other: &Acc) {
        self.count += other.count;
        self.example = self.example.min(other.example);
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
    }
}

/// The in-memory columnar index.
#[derive(Debug)]
pub struct JobIndex {
    /// Jobs whose `modificationtime` is at or after this instant are held.
    pub window_start: i64,
    pandaid: Vec<i64>,
    table: Vec<u8>,
    dicts: Vec<Dict>,
    codes: Vec<Codes>,
    plain: Vec<Vec<i64>>,
    times: Vec<Vec<u32>>,
    /// Rows `0..sorted` are in ascending pandaid order (free ones keep their pandaid).
    sorted: usize,
    /// Rows from `sorted` on, by pandaid.
    overflow: FxHashMap<i64, u32>,
    /// Rows holding a job.
    live: usize,
    /// The [`POSTED`] columns (their dictionary index) with their rows by value, built on first
    /// use and forgotten when a job changes.
    postings: Vec<(usize, OnceLock<Postings>)>,
    /// The matching rows of the last few selections, forgotten when a job changes: a page asks
    /// several questions of one selection (a count, facets, groups, a page), and they share one
    /// scan.
    recent: Mutex<VecDeque<Matched>>,
    /// Whether row lists or matches were kept since the last change: a change (one per synced
    /// job) then has nothing to forget.
    derived: AtomicBool,
}

/// The rows a selection's conditions matched in some tables.
#[derive(Debug)]
struct Matched {
    conds: Vec<Cond>,
    tables: Vec<JobTable>,
    rows: Arc<Vec<u32>>,
}

/// Selections whose matching rows are remembered.
const RECENT: usize = 8;

fn table_code(t: JobTable) -> u8 {
    t as u8
}

impl JobIndex {
    pub fn new(window_start: i64) -> JobIndex {
        let dicts: Vec<Dict> = TEXT_COLUMNS
            .iter()
            .map(|_| Dict::text())
            .chain(INT_COLUMNS.iter().map(|_| Dict::int()))
            .collect();
        JobIndex {
            window_start,
            pandaid: Vec::new(),
            table: Vec::new(),
            codes: dicts.iter().map(|_| Codes::for_max(0, 0)).collect(),
            dicts,
            plain: vec![Vec::new(); PLAIN_COLUMNS.len()],
            times: vec![Vec::new(); TIME_COLUMNS.len()],
            sorted: 0,
            overflow: FxHashMap::default(),
            live: 0,
            postings: POSTED
                .iter()
                .filter_map(|column| match slot(column) {
                    Some(Slot::Dict(c)) => Some((c, OnceLock::new())),
                    _ => None,
                })
                .collect(),
            recent: Mutex::default(),
            derived: AtomicBool::new(false),
        }
    }

    /// Forgets the row lists and the remembered matches: rows or their values changed.
    fn changed(&mut self) {
        if !std::mem::take(self.derived.get_mut()) {
            return;
        }
        for (_, p) in &mut self.postings {
            p.take();
        }
        if let Ok(recent) = self.recent.get_mut() {
            recent.clear();
        }
    }

    /// The row lists of dictionary column `c`, built now if needed; `None` for a column that is
    /// not [`POSTED`].
    fn postings(&self, c: usize) -> Option<&Postings> {
        let (_, lists) = self.postings.iter().find(|(posted, _)| *posted == c)?;
        Some(lists.get_or_init(|| {
            self.derived.store(true, Ordering::Relaxed);
            Postings::build(&self.codes[c], self.dicts[c].len(), self.pandaid.len())
        }))
    }

    /// The rows that the most selective condition on a [`POSTED`] column allows, in row order;
    /// `None` when none allows fewer than an eighth of the rows (a scan is then as quick).
    fn candidates(&self, tests: &[Test]) -> Option<Vec<u32>> {
        let accepted = |accept: &[bool]| {
            accept
                .iter()
                .enumerate()
                .filter(|(_, a)| **a)
                .map(|(k, _)| k)
                .collect::<Vec<usize>>()
        };
        let (total, postings, codes) = tests
            .iter()
            .filter_map(|t| match t {
                Test::Codes(c, accept) => {
                    let postings = self.postings(*c)?;
                    let codes = accepted(accept);
                    let total: usize = codes.iter().map(|k| postings.rows(*k).len()).sum();
                    Some((total, postings, codes))
                }
                _ => None,
            })
            .min_by_key(|(total, _, _)| *total)?;
        if total > self.pandaid.len() / 8 {
            return None;
        }
        let mut rows = Vec::with_capacity(total);
        for k in &codes {
            rows.extend_from_slice(postings.rows(*k));
        }
        if codes.len() > 1 {
            rows.sort_unstable();
        }
        Some(rows)
    }

    /// Jobs held.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The row of a job, held or freed.
    fn find(&self, pandaid: i64) -> Option<usize> {
        match self.pandaid[..self.sorted].binary_search(&pandaid) {
            Ok(i) => Some(i),
            Err(_) => self.overflow.get(&pandaid).map(|i| *i as usize),
        }
    }

    fn held(&self, pandaid: i64) -> Option<usize> {
        self.find(pandaid).filter(|i| self.table[*i] != FREE)
    }

    /// Inserts or replaces a job from its values in [`loaded_columns`] order (a job that moved
    /// between tables keeps its row). A row that cannot be read changes nothing.
    pub fn upsert(&mut self, table: JobTable, fields: &[Field<'_>]) -> Result<bool, Malformed> {
        let row = decode(fields)?;
        let modified = i64::from(row.times[0]);
        if modified < self.window_start {
            return Ok(self.remove(row.pandaid));
        }
        let (index, fresh) = match self.find(row.pandaid) {
            Some(i) if self.table[i] != FREE => {
                // Keep the newer state: a later modification, or at the same second a later table.
                let held = i64::from(self.times[0][i]);
                if held > modified || (held == modified && self.table[i] > table_code(table)) {
                    return Ok(false);
                }
                (i, false)
            }
            Some(i) => {
                self.live += 1;
                (i, true)
            }
            None => (self.append(row.pandaid), true),
        };
        let mut codes = [0u32; TEXT_COLUMNS.len() + INT_COLUMNS.len()];
        for (c, value) in row.text.iter().enumerate() {
            codes[c] = match value {
                Some(v) => self.dicts[c].text_code(v).unwrap_or(0),
                None => 0,
            };
        }
        for (k, value) in row.ints[..INT_COLUMNS.len()].iter().enumerate() {
            let c = TEXT_COLUMNS.len() + k;
            codes[c] = match value {
                Some(v) => self.dicts[c].int_code(*v).unwrap_or(0),
                None => 0,
            };
        }
        let plain = |k: usize| row.ints[INT_COLUMNS.len() + k].unwrap_or(NULL);
        // Polls re-read the rows of their overlap: the same state again changes nothing.
        let changed = fresh
            || self.table[index] != table_code(table)
            || self
                .codes
                .iter()
                .zip(codes)
                .any(|(c, code)| c.get(index) != code)
            || self
                .plain
                .iter()
                .enumerate()
                .any(|(k, c)| c[index] != plain(k))
            || self.times.iter().zip(row.times).any(|(c, t)| c[index] != t);
        if !changed {
            return Ok(false);
        }
        self.table[index] = table_code(table);
        for (column, code) in self.codes.iter_mut().zip(codes) {
            column.set(index, code);
        }
        for (k, column) in self.plain.iter_mut().enumerate() {
            column[index] = plain(k);
        }
        for (column, t) in self.times.iter_mut().zip(row.times) {
            column[index] = t;
        }
        self.changed();
        Ok(true)
    }

    /// A new row for a job not held; in the sorted part when its pandaid is the largest.
    fn append(&mut self, pandaid: i64) -> usize {
        let index = self.pandaid.len();
        let in_order = self.overflow.is_empty()
            && self.sorted == index
            && self.pandaid.last().is_none_or(|last| pandaid > *last);
        if in_order {
            self.sorted += 1;
        } else {
            self.overflow.insert(pandaid, index as u32);
        }
        self.pandaid.push(pandaid);
        self.table.push(FREE);
        self.codes.iter_mut().for_each(|c| c.push(0));
        self.plain.iter_mut().for_each(|c| c.push(NULL));
        self.times.iter_mut().for_each(|c| c.push(NULL_TIME));
        self.live += 1;
        index
    }

    /// Forgets a job; returns whether it was held.
    pub fn remove(&mut self, pandaid: i64) -> bool {
        let Some(i) = self.held(pandaid) else {
            return false;
        };
        self.table[i] = FREE;
        self.live -= 1;
        self.changed();
        // Its values stay behind: scans skip free rows, compaction reads only held ones, and a
        // job that comes back into this row has every value rewritten.
        if i >= self.sorted {
            self.overflow.remove(&pandaid);
        }
        true
    }

    /// Drops jobs that left the window; returns how many.
    pub fn evict(&mut self, window_start: i64) -> usize {
        self.window_start = window_start;
        let old: Vec<i64> = (0..self.pandaid.len())
            .filter(|&i| self.table[i] != FREE && i64::from(self.times[0][i]) < window_start)
            .map(|i| self.pandaid[i])
            .collect();
        for p in &old {
            self.remove(*p);
        }
        old.len()
    }

    /// Rebuilds the rows in pandaid order without free rows, and the dictionaries without values
    /// no job uses, when enough rows are out of order or free; returns whether it did.
    pub fn maintain(&mut self) -> bool {
        let untidy = (self.pandaid.len() - self.live) + self.overflow.len();
        if untidy > COMPACT_MIN.max(self.live / 16) {
            self.compact();
            true
        } else {
            false
        }
    }

    /// Rebuilds the rows in pandaid order, dropping free rows and unused dictionary values.
    pub fn compact(&mut self) {
        let mut order: Vec<u32> = (0..self.pandaid.len() as u32)
            .filter(|&i| self.table[i as usize] != FREE)
            .collect();
        order.sort_unstable_by_key(|&i| self.pandaid[i as usize]);
        let pick = |i: &u32| *i as usize;
        self.pandaid = order.iter().map(|i| self.pandaid[pick(i)]).collect();
        self.table = order.iter().map(|i| self.table[pick(i)]).collect();
        for (dict, codes) in self.dicts.iter_mut().zip(self.codes.iter_mut()) {
            let mut used = vec![false; dict.len()];
            for i in &order {
                used[codes.get(pick(i)) as usize] = true;
            }
            let (kept, remap) = dict.retain(&used);
            let mut fresh = Codes::for_max(kept.len() as u32, order.len());
            for i in &order {
                fresh.push(remap[codes.get(pick(i)) as usize]);
            }
            *dict = kept;
            *codes = fresh;
        }
        for column in &mut self.plain {
            *column = order.iter().map(|i| column[pick(i)]).collect();
        }
        for column in &mut self.times {
            *column = order.iter().map(|i| column[pick(i)]).collect();
        }
        self.sorted = order.len();
        self.overflow = FxHashMap::default();
        self.live = order.len();
        self.changed();
    }

    /// Every pandaid held, for reconciling deletions.
    pub fn pandaids(&self) -> Vec<i64> {
        (0..self.pandaid.len())
            .filter(|&i| self.table[i] != FREE)
            .map(|i| self.pandaid[i])
            .collect()
    }

    /// The table a job is in, if held.
    pub fn table_of(&self, pandaid: i64) -> Option<JobTable> {
        let i = self.held(pandaid)?;
        JobTable::ALL.get(self.table[i] as usize).copied()
    }

    pub fn status_of(&self, pandaid: i64) -> Option<&str> {
        let i = self.held(pandaid)?;
        self.dicts[0].text_of(self.codes[0].get(i))
    }

    /// Memory held per job, in bytes: every column's storage, the dictionaries and the side
    /// table of out-of-order jobs.
    pub fn bytes_per_job(&self) -> f64 {
        let rows = self.pandaid.capacity() * 8 + self.table.capacity();
        let codes: usize = self.codes.iter().map(Codes::bytes).sum();
        let dicts: usize = self.dicts.iter().map(Dict::bytes).sum();
        let plain: usize = self.plain.iter().map(|c| c.capacity() * 8).sum();
        let times: usize = self.times.iter().map(|c| c.capacity() * 4).sum();
        let overflow = self.overflow.capacity() * 17;
        (rows + codes + dicts + plain + times + overflow) as f64 / self.live.max(1) as f64
    }

    /// Whether `selection` can run here: every column it reads is indexed and its window lies
    /// inside the index's window.
    pub fn supports(&self, selection: &Selection) -> bool {
        let Some((from, _)) = selection.window else {
            return false;
        };
        from >= self.window_start
            && selection
                .conds
                .iter()
                .all(|c| c.columns().iter().all(|col| slot(col).is_some()))
    }

    fn compile(&self, selection: &Selection) -> Vec<Test> {
        compile(selection, &self.dicts, |column| match slot(column) {
            Some(Slot::Time(c)) => Some(Held::Time(c)),
            Some(Slot::Dict(c)) => Some(Held::Dict(c)),
            _ => None,
        })
    }

    fn row_matches(&self, i: usize, tests: &[Test], tables: &[bool; 256]) -> bool {
        tables[self.table[i] as usize]
            && tests.iter().all(|t| match t {
                Test::Codes(c, accept) => accept[self.codes[*c].get(i) as usize],
                Test::Time(c, lo, hi) => {
                    let t = self.times[*c][i];
                    t >= *lo && t <= *hi
                }
                Test::Never => false,
                Test::General(cond) => cond.matches(&At {
                    index: self,
                    row: i,
                }),
            })
    }

    /// Rows of the matching jobs in the given tables, in row order. A selection naming a few
    /// sites, users or tasks visits only their rows; others scan every row; the same conditions
    /// asked again before a job changes are answered from memory.
    pub fn matching(&self, selection: &Selection, tables: &[JobTable]) -> Arc<Vec<u32>> {
        let same = |m: &Matched| m.conds == selection.conds && m.tables == tables;
        if let Ok(recent) = self.recent.lock()
            && let Some(m) = recent.iter().find(|m| same(m))
        {
            return m.rows.clone();
        }
        let rows = Arc::new(self.match_rows(selection, tables));
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT {
                recent.pop_front();
            }
            self.derived.store(true, Ordering::Relaxed);
            recent.push_back(Matched {
                conds: selection.conds.clone(),
                tables: tables.to_vec(),
                rows: rows.clone(),
            });
        }
        rows
    }

    /// [`JobIndex::matching`] without the memory.
    fn match_rows(&self, selection: &Selection, tables: &[JobTable]) -> Vec<u32> {
        let tests = self.compile(selection);
        let mut wanted = [false; 256];
        for t in tables {
            wanted[table_code(*t) as usize] = true;
        }
        if let Some(rows) = self.candidates(&tests) {
            return rows
                .into_iter()
                .filter(|&i| self.row_matches(i as usize, &tests, &wanted))
                .collect();
        }
        // Every core scans its own stretch of rows.
        let parts = parallel(self.pandaid.len(), |range| {
            range
                .filter(|&i| self.row_matches(i, &tests, &wanted))
                .map(|i| i as u32)
                .collect::<Vec<u32>>()
        });
        parts.concat()
    }

    pub fn count(&self, selection: &Selection, tables: &[JobTable]) -> i64 {
        self.matching(selection, tables).len() as i64
    }

    /// The value a row holds in a column, as the key of a group.
    fn key(&self, slot: Slot, row: usize) -> u64 {
        match slot {
            Slot::Dict(c) => u64::from(self.codes[c].get(row)),
            Slot::Plain(c) => self.plain[c][row] as u64,
            Slot::Time(c) => u64::from(self.times[c][row]),
            Slot::Hour(c) => match self.times[c][row] {
                NULL_TIME => u64::from(NULL_TIME),
                t => u64::from(t - t % 3_600),
            },
            Slot::PandaId => self.pandaid[row] as u64,
        }
    }

    /// A group key back as a cell.
    fn cell(&self, slot: Slot, key: u64) -> Cell {
        match slot {
            Slot::Dict(c) => match self.dicts[c].entry(key as u32) {
                Entry::Null => Cell::Null,
                Entry::Text(t) => Cell::Text(t.to_string()),
                Entry::Int(v) => Cell::Int(v),
            },
            Slot::Time(_) | Slot::Hour(_) if key as u32 == NULL_TIME => Cell::Null,
            Slot::Time(_) | Slot::Hour(_) => chrono::DateTime::from_timestamp(key as i64, 0)
                .map_or(Cell::Null, |t| Cell::Time(t.naive_utc())),
            Slot::Plain(_) if key as i64 == NULL => Cell::Null,
            Slot::Plain(_) | Slot::PandaId => Cell::Int(key as i64),
        }
    }

    /// A group key as a number to add up: NULL and text count as 0.
    fn number(&self, slot: Slot, key: u64) -> i64 {
        match self.cell(slot, key) {
            Cell::Int(v) => v,
            _ => 0,
        }
    }

    /// Grouped counts, in the shape of `Db::group_jobs`: one group per distinct combination of
    /// the columns, with its count and smallest pandaid.
    pub fn group(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        columns: &[&str],
    ) -> Vec<Group> {
        counts(self.grouped(selection, tables, columns, &[]))
    }

    /// Grouped counts with the hour of `time_column` as the first value, in the shape of
    /// `Db::group_rows_by_hour`; empty if a column is not held.
    pub fn group_by_hour(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        time_column: &str,
        columns: &[&str],
    ) -> Vec<Group> {
        let Some(Slot::Time(t)) = slot(time_column) else {
            return Vec::new();
        };
        let Some(mut slots) = columns.iter().map(|c| slot(c)).collect::<Option<Vec<_>>>() else {
            return Vec::new();
        };
        slots.insert(0, Slot::Hour(t));
        counts(self.grouped_slots(selection, tables, &slots, &[]))
    }

    /// Grouped sums, in the shape of `Db::group_sums`: per distinct combination of the columns,
    /// the count and the sum of each whole-number column of `sums` (NULL as 0).
    pub fn group_sums(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        columns: &[&str],
        sums: &[&str],
    ) -> Vec<Summed> {
        self.grouped(selection, tables, columns, sums)
            .into_iter()
            .map(|(values, acc)| Summed {
                values,
                count: acc.count,
                sums: acc.sums.into_vec(),
            })
            .collect()
    }

    /// The groups of the matching jobs by `columns`, each with its count, smallest pandaid and
    /// the sums of `sums`; empty if a column is not held.
    fn grouped(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        columns: &[&str],
        sums: &[&str],
    ) -> Vec<(Vec<Cell>, Acc)> {
        let (Some(slots), Some(summed)) = (
            columns
                .iter()
                .map(|c| slot(c))
                .collect::<Option<Vec<Slot>>>(),
            sums.iter().map(|c| slot(c)).collect::<Option<Vec<Slot>>>(),
        ) else {
            return Vec::new();
        };
        self.grouped_slots(selection, tables, &slots, &summed)
    }

    /// [`JobIndex::grouped`] on slots.
    fn grouped_slots(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        slots: &[Slot],
        summed: &[Slot],
    ) -> Vec<(Vec<Cell>, Acc)> {
        // The value of every code of a dictionary column, looked up once.
        let values: Vec<Option<Vec<i64>>> = summed
            .iter()
            .map(|s| match s {
                Slot::Dict(c) => Some(
                    (0..self.dicts[*c].len() as u64)
                        .map(|code| self.number(*s, code))
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        let rows = self.matching(selection, tables);
        let parts = parallel(rows.len(), |range| {
            let mut groups: FxHashMap<Box<[u64]>, Acc> = FxHashMap::default();
            // One reused key buffer: a new allocation only for a new group.
            let mut key: Vec<u64> = vec![0; slots.len()];
            for &r in &rows[range] {
                let r = r as usize;
                for (k, s) in key.iter_mut().zip(slots) {
                    *k = self.key(*s, r);
                }
                let pandaid = self.pandaid[r];
                let entry = match groups.get_mut(key.as_slice()) {
                    Some(entry) => entry,
                    None => groups
                        .entry(key.clone().into_boxed_slice())
                        .or_insert_with(|| Acc::new(summed.len())),
                };
                entry.count += 1;
                entry.example = entry.example.min(pandaid);
                for (i, s) in summed.iter().enumerate() {
                    let k = self.key(*s, r);
                    entry.sums[i] += match &values[i] {
                        Some(by_code) => by_code[k as usize],
                        None => self.number(*s, k),
                    };
                }
            }
            groups
        });
        let mut parts = parts.into_iter();
        let mut groups = parts.next().unwrap_or_default();
        for part in parts {
            for (key, acc) in part {
                groups
                    .entry(key)
                    .or_insert_with(|| Acc::new(summed.len()))
                    .merge(&acc);
            }
        }
        groups
            .into_iter()
            .map(|(key, acc)| {
                let values = key
                    .iter()
                    .zip(slots)
                    .map(|(v, s)| self.cell(*s, *v))
                    .collect();
                (values, acc)
            })
            .collect()
    }

    /// How much of `weight` was running in every bin of `bin` seconds from `from` on (`bins`
    /// bins), per value of `column`: each matching job adds its weight times the fraction of the
    /// bin it ran, from `starttime` to `endtime` (or `now` without an end); the bin holding
    /// `now` counts only its elapsed part. Jobs that never started add nothing. Empty if a
    /// column is not held.
    pub fn occupancy(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        column: &str,
        weight: &str,
        span: Span,
    ) -> Vec<(Cell, Vec<f64>)> {
        let (Some(group), Some(weight), Some(Slot::Time(start)), Some(Slot::Time(end))) = (
            slot(column),
            slot(weight),
            slot("starttime"),
            slot("endtime"),
        ) else {
            return Vec::new();
        };
        let Span {
            from,
            bin,
            bins,
            now,
        } = span;
        if bin <= 0 || bins == 0 {
            return Vec::new();
        }
        let to = from + bin * bins as i64;
        let mut by_value: FxHashMap<u64, Vec<f64>> = FxHashMap::default();
        for &r in self.matching(selection, tables).iter() {
            let r = r as usize;
            let started = self.times[start][r];
            if started == NULL_TIME {
                continue;
            }
            let ended = match self.times[end][r] {
                NULL_TIME => now,
                t => i64::from(t),
            };
            let (a, b) = (i64::from(started).max(from), ended.min(to));
            if a >= b {
                continue;
            }
            let w = self.number(weight, self.key(weight, r)) as f64;
            let series = by_value
                .entry(self.key(group, r))
                .or_insert_with(|| vec![0.0; bins]);
            let mut t = a;
            while t < b {
                let i = ((t - from) / bin) as usize;
                let bin_start = from + i as i64 * bin;
                let bin_end = bin_start + bin;
                let until = bin_end.min(b);
                // The bin that holds `now` is averaged over its elapsed part.
                let length = (bin_end.min(now) - bin_start).max(1);
                series[i] += w * (until - t) as f64 / length as f64;
                t = until;
            }
        }
        by_value
            .into_iter()
            .map(|(key, series)| (self.cell(group, key), series))
            .collect()
    }

    /// Per column, the (value, count) pairs over the matching jobs. Dictionary columns count
    /// into arrays indexed by code; the columns are shared out among the cores.
    pub fn facet_counts(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        columns: &[&str],
    ) -> Vec<Vec<(Cell, i64)>> {
        let rows = self.matching(selection, tables);
        let slots: Vec<Option<Slot>> = columns.iter().map(|c| slot(c)).collect();
        let next = AtomicUsize::new(0);
        let per_core = parallel_workers(slots.len(), || {
            let mut done = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(s) = slots.get(k) else { break };
                let counts: Vec<(u64, u64)> = match s {
                    Some(Slot::Dict(c)) => {
                        let mut counts = vec![0u64; self.dicts[*c].len()];
                        self.codes[*c].count(&rows, &mut counts);
                        counts
                            .into_iter()
                            .enumerate()
                            .filter(|(_, n)| *n > 0)
                            .map(|(code, n)| (code as u64, n))
                            .collect()
                    }
                    Some(s) => {
                        let mut counts: FxHashMap<u64, u64> = FxHashMap::default();
                        for &r in rows.iter() {
                            *counts.entry(self.key(*s, r as usize)).or_default() += 1;
                        }
                        counts.into_iter().collect()
                    }
                    None => Vec::new(),
                };
                done.push((k, counts));
            }
            done
        });
        let mut out: Vec<Vec<(Cell, i64)>> = vec![Vec::new(); slots.len()];
        for (k, counts) in per_core.into_iter().flatten() {
            if let Some(s) = slots[k] {
                out[k] = counts
                    .into_iter()
                    .map(|(key, n)| (self.cell(s, key), n as i64))
                    .collect();
            }
        }
        out
    }

    /// The pandaids and tables of the jobs on one page of the selection in the page's order.
    /// `None` if the sort column is not indexed.
    pub fn top(
        &self,
        selection: &Selection,
        tables: &[JobTable],
        page: &Page<'_>,
    ) -> Option<Vec<(i64, JobTable)>> {
        let Page {
            column,
            descending,
            nulls_largest,
            offset,
            limit,
        } = *page;
        let s = slot(column)?;
        let null = if nulls_largest { i64::MAX } else { i64::MIN };
        let rows = self.matching(selection, tables);
        let mut keyed: Vec<(i64, i64, u32)> = rows
            .iter()
            .map(|&r| {
                let r = r as usize;
                let value = match s {
                    Slot::Dict(c) => self.dicts[c].int_of(self.codes[c].get(r)),
                    Slot::Plain(c) => Some(self.plain[c][r]).filter(|v| *v != NULL),
                    Slot::Time(c) | Slot::Hour(c) => Some(self.times[c][r])
                        .filter(|t| *t != NULL_TIME)
                        .map(i64::from),
                    Slot::PandaId => Some(self.pandaid[r]),
                };
                (value.unwrap_or(null), self.pandaid[r], r as u32)
            })
            .collect();
        let order = |a: &(i64, i64, u32), b: &(i64, i64, u32)| {
            let ascending = (a.0, a.1).cmp(&(b.0, b.1));
            if descending {
                ascending.reverse()
            } else {
                ascending
            }
        };
        let end = offset.saturating_add(limit).min(keyed.len());
        if end < keyed.len() && end > 0 {
            keyed.select_nth_unstable_by(end - 1, order);
        }
        keyed.truncate(end);
        keyed.sort_unstable_by(order);
        Some(
            keyed
                .into_iter()
                .skip(offset)
                .filter_map(|(_, pandaid, r)| {
                    JobTable::ALL
                        .get(self.table[r as usize] as usize)
                        .map(|t| (pandaid, *t))
                })
                .collect(),
        )
    }

    /// Whether every column is indexed, for callers that group by columns of their choice.
    pub fn has_columns(columns: &[&str]) -> bool {
        columns.iter().all(|c| slot(c).is_some())
    }
}

/// Groups with their counts and smallest pandaids, as `Db::group_jobs` returns them.
fn counts(groups: Vec<(Vec<Cell>, Acc)>) -> Vec<Group> {
    groups
        .into_iter()
        .map(|(values, acc)| Group {
            values,
            count: acc.count,
            example: acc.example,
        })
        .collect()
}

/// One page of a sorted job list: sorted by `column` (pandaid breaking ties, in the same
/// direction), skipping `offset` jobs and taking `limit`. NULLs sort as the largest values when
/// `nulls_largest` (PostgreSQL, Oracle), otherwise as the smallest (MySQL, SQLite).
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    pub column: &'a str,
    pub descending: bool,
    pub nulls_largest: bool,
    pub offset: usize,
    pub limit: usize,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on consecutive stretches of `0..len`, one per core, and returns their results in
/// order. Small inputs stay on the calling thread.
fn parallel<T: Send>(len: usize, work: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    let cores = cores();
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

/// Runs `work` once per core (at most `tasks` times), for work shared out through a counter.
fn parallel_workers<T: Send>(tasks: usize, work: impl Fn() -> T + Sync) -> Vec<T> {
    let workers = cores().min(tasks).max(1);
    if workers < 2 {
        return vec![work()];
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(&work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Where an index holds a column a condition names.
pub(crate) enum Held {
    Time(usize),
    Dict(usize),
}

/// Compiles a selection's conditions into per-row tests for an index (jobs or workers): a
/// condition on one dictionary column is decided once per dictionary value, a time range
/// becomes integer bounds, anything else is evaluated row by row.
pub(crate) fn compile(
    selection: &Selection,
    dicts: &[Dict],
    held: impl Fn(&str) -> Option<Held>,
) -> Vec<Test> {
    selection
        .conds
        .iter()
        .map(|cond| {
            if let Cond::Time { column, from, to } = cond
                && let Some(Held::Time(c)) = held(column)
            {
                // Stored times lie in 0..u32::MAX; NULL never matches.
                let lo = (*from).clamp(0, i64::from(NULL_TIME));
                let hi = (*to).min(i64::from(NULL_TIME) - 1);
                return if hi < lo {
                    Test::Never
                } else {
                    Test::Time(c, lo as u32, hi as u32)
                };
            }
            if let [column] = cond.columns().as_slice()
                && let Some(Held::Dict(c)) = held(column)
            {
                let dict = &dicts[c];
                // A list of exact values: their codes looked up, not every value tried.
                if let Some(values) = exact_values(cond) {
                    let mut accept = vec![false; dict.len()];
                    for code in values.into_iter().filter_map(|v| dict.code_of(v)) {
                        accept[code as usize] = true;
                    }
                    return Test::Codes(c, accept);
                }
                let accept = (0..dict.len() as u32)
                    .map(|code| {
                        cond.matches(&One {
                            column,
                            entry: dict.entry(code),
                        })
                    })
                    .collect();
                return Test::Codes(c, accept);
            }
            Test::General(cond.clone())
        })
        .collect()
}

/// The values a condition accepts when it is a plain list of exact values (`site=A|B`,
/// `jeditaskid=1|2`): no negation, pattern or NULL among them.
fn exact_values(cond: &Cond) -> Option<Vec<Entry<'_>>> {
    match cond {
        Cond::Int {
            values,
            negated: false,
            not_specified: false,
            ..
        } => Some(values.iter().map(|v| Entry::Int(*v)).collect()),
        Cond::Text { groups, .. } => groups
            .iter()
            .map(|group| match group.as_slice() {
                [
                    Clause {
                        negated: false,
                        term: Term::Exact(x),
                    },
                ] => Some(Entry::Text(x)),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A selection condition compiled for one index (jobs or workers).
pub(crate) enum Test {
    /// Accepted dictionary codes of a column.
    Codes(usize, Vec<bool>),
    /// Inclusive bounds on a time column.
    Time(usize, u32, u32),
    Never,
    General(Cond),
}

/// A single dictionary value, to decide a condition once per dictionary entry.
pub(crate) struct One<'a> {
    pub(crate) column: &'a str,
    pub(crate) entry: Entry<'a>,
}

impl JobView for One<'_> {
    fn text(&self, column: &str) -> Option<&str> {
        match self.entry {
            Entry::Text(t) if column == self.column => Some(t),
            _ => None,
        }
    }
    fn int(&self, column: &str) -> Option<i64> {
        match self.entry {
            Entry::Int(v) if column == self.column => Some(v),
            _ => None,
        }
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
            Some(Slot::Dict(c)) => self.index.dicts[c].text_of(self.index.codes[c].get(self.row)),
            _ => None,
        }
    }
    fn int(&self, column: &str) -> Option<i64> {
        match slot(column)? {
            Slot::PandaId => Some(self.index.pandaid[self.row]),
            Slot::Dict(c) => self.index.dicts[c].int_of(self.index.codes[c].get(self.row)),
            Slot::Plain(c) => Some(self.index.plain[c][self.row]).filter(|v| *v != NULL),
            Slot::Time(_) | Slot::Hour(_) => None,
        }
    }
    fn time(&self, column: &str) -> Option<i64> {
        match slot(column) {
            Some(Slot::Time(c)) => Some(self.index.times[c][self.row])
                .filter(|t| *t != NULL_TIME)
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

    /// A job row with a status, a site, a priority, a start time and a modification time.
    fn job(
        pandaid: i64,
        status: &str,
        site: Option<&str>,
        priority: Option<i64>,
        start: Option<i64>,
        modified: i64,
    ) -> Vec<Field<'static>> {
        let columns = loaded_columns();
        columns
            .iter()
            .map(|c| match *c {
                "pandaid" => Field::Int(pandaid),
                "jobstatus" => Field::Text(Cow::Owned(status.to_string())),
                "computingsite" => {
                    site.map_or(Field::Null, |s| Field::Text(Cow::Owned(s.to_string())))
                }
                "currentpriority" => priority.map_or(Field::Null, Field::Int),
                "starttime" => start.map_or(Field::Null, Field::Time),
                "modificationtime" => Field::Time(modified),
                _ => Field::Null,
            })
            .collect()
    }

    fn row(pandaid: i64, status: &str, site: Option<&str>, modified: i64) -> Vec<Field<'static>> {
        job(pandaid, status, site, None, None, modified)
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
    fn narrow_selections_visit_their_rows_and_see_changes() {
        let now = 1_800_000_000;
        let mut index = JobIndex::new(now - 86_400);
        for p in 0..2_000 {
            let site = format!("SITE_{}", p % 20);
            let status = if p % 3 == 0 { "failed" } else { "finished" };
            index
                .upsert(JobTable::Archived, &row(p, status, Some(&site), now - p))
                .unwrap();
        }
        let all = JobTable::ALL;
        // One site of twenty: visited through its row list, and the same rows as a scan.
        let one = select(&[("computingsite", "SITE_3"), ("jobstatus", "failed")], now);
        let tests = index.compile(&one);
        let listed = index.candidates(&tests).expect("one site is selective");
        assert_eq!(listed.len(), 100);
        assert!(listed.windows(2).all(|w| w[0] < w[1]), "in row order");
        let scanned: Vec<u32> = (0..index.pandaid.len() as u32)
            .filter(|&i| index.row_matches(i as usize, &tests, &[true; 256]))
            .collect();
        assert_eq!(*index.matching(&one, &all), scanned);
        assert_eq!(index.count(&one, &all), 34);
        // Two sites: both lists, merged in row order.
        let two = select(&[("computingsite", "SITE_3|SITE_4")], now);
        let listed = index.candidates(&index.compile(&two)).unwrap();
        assert_eq!(listed.len(), 200);
        assert!(listed.windows(2).all(|w| w[0] < w[1]));
        // A pattern matching every site is not selective: a scan.
        let wide = select(&[("computingsite", "SITE_*")], now);
        assert!(index.candidates(&index.compile(&wide)).is_none());
        assert_eq!(index.count(&wide, &all), 2_000);
        // A job moved to the site is seen at once (the lists are rebuilt), a new one too.
        index
            .upsert(JobTable::Archived, &row(4, "failed", Some("SITE_3"), now))
            .unwrap();
        index
            .upsert(
                JobTable::Archived,
                &row(5_000, "failed", Some("SITE_3"), now),
            )
            .unwrap();
        assert_eq!(index.count(&one, &all), 36);
        index.remove(5_000);
        assert_eq!(index.count(&one, &all), 35);
        index.compact();
        assert_eq!(index.count(&one, &all), 35);
        // A name no job has: nothing, without a scan.
        let none = select(&[("computingsite", "NOWHERE")], now);
        assert_eq!(index.candidates(&index.compile(&none)), Some(Vec::new()));
    }

    fn by_text(counts: &[(Cell, i64)]) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = counts
            .iter()
            .map(|(c, n)| (c.as_text().unwrap_or("NULL").to_string(), *n))
            .collect();
        out.sort();
        out
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
        // Out of pandaid order on purpose: the side table, then compaction.
        for p in (1..=60_000i64).rev() {
            let status = statuses[(p % 3) as usize];
            let site = sites[(p % 4) as usize];
            index
                .upsert(
                    JobTable::Archived,
                    &row(p, status, Some(site), now - p % 3_600),
                )
                .unwrap();
        }
        let all = [JobTable::Archived];
        let sel = select(&[("jobstatus", "failed")], now);
        // p % 3 == 2 and p % 4 == k: 5000 jobs for each site.
        let expected: Vec<(String, i64)> = sites.iter().map(|s| (s.to_string(), 5_000)).collect();
        for round in 0..2 {
            assert_eq!(index.count(&sel, &all), 20_000, "round {round}");
            let counts = index.facet_counts(&sel, &all, &["computingsite", "jobstatus"]);
            assert_eq!(by_text(&counts[0]), expected, "round {round}");
            assert_eq!(by_text(&counts[1]), vec![("failed".into(), 20_000)]);
            let matching = index.matching(&sel, &all);
            assert!(
                matching.windows(2).all(|w| w[0] < w[1]),
                "rows come back in order"
            );
            assert!(
                index.maintain() || round == 1,
                "the reversed load is compacted once"
            );
        }
        assert_eq!(index.table_of(59_999), Some(JobTable::Archived));
    }

    #[test]
    fn upserts_move_and_evict_jobs() {
        let now = 1_000_000;
        let mut index = JobIndex::new(now - 86_400);
        index
            .upsert(JobTable::Active, &row(1, "running", Some("A"), now - 10))
            .unwrap();
        index
            .upsert(JobTable::Active, &row(2, "running", Some("B"), now - 10))
            .unwrap();
        index
            .upsert(JobTable::Defined, &row(3, "defined", None, now - 10))
            .unwrap();
        assert_eq!(index.len(), 3);
        // Job 1 finishes: it moves to jobsarchived4 and keeps one entry.
        index
            .upsert(JobTable::Archived, &row(1, "finished", Some("A"), now))
            .unwrap();
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
        // The same state again changes nothing; a change at the same second does.
        assert_eq!(
            index.upsert(JobTable::Archived, &row(1, "finished", Some("A"), now)),
            Ok(false)
        );
        assert_eq!(
            index.upsert(JobTable::Archived, &row(1, "finished", Some("B"), now)),
            Ok(true)
        );
        // An older copy of a job does not overwrite a newer one.
        index
            .upsert(JobTable::Active, &row(1, "running", Some("A"), now - 10))
            .unwrap();
        assert_eq!(index.table_of(1), Some(JobTable::Archived));
        // A removed job comes back in its old row; leaving the window evicts.
        index.remove(2);
        assert_eq!(index.table_of(2), None);
        index
            .upsert(JobTable::Active, &row(2, "sent", Some("C"), now))
            .unwrap();
        assert_eq!(index.status_of(2), Some("sent"));
        index
            .upsert(JobTable::Active, &row(4, "sent", Some("C"), now))
            .unwrap();
        assert_eq!(index.len(), 4);
        assert_eq!(index.evict(now - 5), 1);
        assert_eq!(index.len(), 3);
        assert_eq!(index.table_of(3), None);
        let mut ids = index.pandaids();
        ids.sort();
        assert_eq!(ids, vec![1, 2, 4]);
    }

    #[test]
    fn malformed_rows_change_nothing() {
        let now = 1_000_000;
        let mut index = JobIndex::new(now - 86_400);
        index
            .upsert(JobTable::Active, &row(1, "running", Some("A"), now))
            .unwrap();
        let mut bad = row(1, "failed", Some("B"), now + 5);
        let priority = loaded_columns()
            .iter()
            .position(|c| *c == "currentpriority")
            .unwrap();
        bad[priority] = Field::Text(Cow::Borrowed("high"));
        assert!(index.upsert(JobTable::Active, &bad).is_err());
        assert_eq!(index.status_of(1), Some("running"));
        let mut no_time = row(2, "running", None, now);
        let modified = loaded_columns()
            .iter()
            .position(|c| *c == "modificationtime")
            .unwrap();
        no_time[modified] = Field::Null;
        assert!(index.upsert(JobTable::Active, &no_time).is_err());
        assert!(index.upsert(JobTable::Active, &no_time[1..]).is_err());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn compaction_drops_free_rows_and_unused_values() {
        let now = 1_000_000;
        let mut index = JobIndex::new(now - 86_400);
        for p in 1..=300i64 {
            // 300 distinct sites: the codes need u16.
            let site = format!("SITE_{p}");
            index
                .upsert(JobTable::Active, &row(p, "running", Some(&site), now))
                .unwrap();
        }
        assert!(matches!(index.codes[1], Codes::U16(_)));
        for p in 1..=200 {
            index.remove(p);
        }
        index.compact();
        assert_eq!(index.len(), 100);
        assert_eq!(index.pandaid.len(), 100);
        assert!(
            matches!(index.codes[1], Codes::U8(_)),
            "101 codes fit a byte again"
        );
        let counts = index.facet_counts(&select(&[], now), &[JobTable::Active], &["computingsite"]);
        assert_eq!(counts[0].len(), 100);
        assert_eq!(
            index.count(
                &select(&[("computingsite", "SITE_250")], now),
                &[JobTable::Active]
            ),
            1
        );
        assert_eq!(index.table_of(250), Some(JobTable::Active));
        assert_eq!(index.table_of(150), None);
    }

    #[test]
    fn pages_sort_like_the_database() {
        let now = 1_000_000;
        let mut index = JobIndex::new(now - 86_400);
        let jobs = [
            (10, Some(5), Some(now - 50)),
            (11, Some(7), None),
            (12, Some(5), Some(now - 40)),
            (13, None, Some(now - 60)),
        ];
        for (p, priority, start) in jobs {
            index
                .upsert(
                    JobTable::Active,
                    &job(p, "running", Some("A"), priority, start, now),
                )
                .unwrap();
        }
        let all = select(&[], now);
        let ids =
            |column: &str, descending: bool, nulls_largest: bool, offset: usize, limit: usize| {
                let page = Page {
                    column,
                    descending,
                    nulls_largest,
                    offset,
                    limit,
                };
                index
                    .top(&all, &[JobTable::Active], &page)
                    .unwrap()
                    .into_iter()
                    .map(|(p, _)| p)
                    .collect::<Vec<i64>>()
            };
        // Ties on priority break by pandaid in the same direction.
        assert_eq!(
            ids("currentpriority", true, true, 0, 10),
            vec![13, 11, 12, 10]
        );
        assert_eq!(
            ids("currentpriority", true, false, 0, 10),
            vec![11, 12, 10, 13]
        );
        assert_eq!(ids("currentpriority", false, false, 0, 2), vec![13, 10]);
        assert_eq!(ids("starttime", false, true, 1, 2), vec![10, 12]);
        assert_eq!(ids("pandaid", true, true, 3, 5), vec![10]);
        let unindexed = Page {
            column: "jobname",
            descending: true,
            nulls_largest: true,
            offset: 0,
            limit: 1,
        };
        assert!(index.top(&all, &[JobTable::Active], &unindexed).is_none());
    }

    /// A job of a share with its HS06, start and end.
    fn share_job(
        pandaid: i64,
        gshare: &str,
        hs06: i64,
        start: Option<i64>,
        end: Option<i64>,
        modified: i64,
    ) -> Vec<Field<'static>> {
        let mut fields = job(pandaid, "running", Some("A"), None, start, modified);
        for (c, f) in loaded_columns().iter().zip(fields.iter_mut()) {
            match *c {
                "gshare" => *f = Field::Text(Cow::Owned(gshare.to_string())),
                "hs06" => *f = Field::Int(hs06),
                "endtime" => *f = end.map_or(Field::Null, Field::Time),
                _ => {}
            }
        }
        fields
    }

    #[test]
    fn sums_and_occupancy_add_up_per_group_and_bin() {
        let now = 1_000_000;
        let mut index = JobIndex::new(now - 86_400);
        let jobs = [
            (1, "X", 10, Some(now - 7_200), Some(now - 3_600)),
            (2, "X", 20, Some(now - 5_400), None),
            (3, "Y", 5, None, None),
            (4, "Y", 8, Some(now - 1_800), Some(now - 900)),
        ];
        for (p, share, hs, start, end) in jobs {
            index
                .upsert(JobTable::Active, &share_job(p, share, hs, start, end, now))
                .unwrap();
        }
        let sel = select(&[("hours", "24")], now);
        let mut sums: Vec<(String, i64, Vec<i64>)> = index
            .group_sums(&sel, &[JobTable::Active], &["gshare"], &["hs06"])
            .into_iter()
            .map(|s| (s.values[0].as_text().unwrap().to_string(), s.count, s.sums))
            .collect();
        sums.sort();
        assert_eq!(
            sums,
            vec![("X".into(), 2, vec![30]), ("Y".into(), 2, vec![13])]
        );
        let span = Span {
            from: now - 7_200,
            bin: 3_600,
            bins: 2,
            now,
        };
        let occupancy_in = |span: Span| {
            let mut occupancy: Vec<(String, Vec<f64>)> = index
                .occupancy(&sel, &[JobTable::Active], "gshare", "hs06", span)
                .into_iter()
                .map(|(c, v)| (c.as_text().unwrap().to_string(), v))
                .collect();
            occupancy.sort_by(|a, b| a.0.cmp(&b.0));
            occupancy
        };
        // X: job 1 fills the first hour; job 2 half of it and all of the second.
        // Y: job 3 never started; job 4 ran a quarter of the second hour.
        assert_eq!(
            occupancy_in(span),
            vec![("X".into(), vec![20.0, 20.0]), ("Y".into(), vec![0.0, 2.0])]
        );
        // The hour in progress (its first half elapsed) is averaged over that half.
        let span = Span {
            from: now - 5_400,
            ..span
        };
        assert_eq!(
            occupancy_in(span),
            vec![("X".into(), vec![25.0, 20.0]), ("Y".into(), vec![0.0, 4.0])]
        );
    }
}
