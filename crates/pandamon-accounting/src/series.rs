//! A metric over time, grouped by one dimension, from the rollups.

use crate::snapshots::snapshots_in;
use crate::{
    Dimension, FINE_RETENTION_DAYS, Metric, RESOLUTIONS, RollupStore, STATUS, Topology, activity,
    stored,
};
use pandamon_store::accounting::{
    Encoded, JOB_ROLLUPS, JOB_SNAPSHOTS, ROLLUP_DIMS, ROLLUP_METRICS, RollupRow,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The bin sizes a series can have, by name.
pub const BINS: [(&str, i64); 9] = [
    ("10m", 600),
    ("30m", 1_800),
    ("1h", 3_600),
    ("6h", 21_600),
    ("12h", 43_200),
    ("1d", 86_400),
    ("7d", 604_800),
    ("14d", 1_209_600),
    ("30d", 2_592_000),
];

/// What was asked, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesQuery {
    pub metric: Metric,
    pub groupby: Dimension,
    /// Seconds, one of [`BINS`].
    pub bin: i64,
    /// Unix seconds; `from` a multiple of the stored resolution the bin reads.
    pub from: i64,
    /// Exclusive.
    pub to: i64,
    /// Each dimension's accepted values (a row matches when it matches every filter).
    pub filters: Vec<(Dimension, Vec<String>)>,
    /// Keep this many series, the rest summed into "other".
    pub top: Option<usize>,
}

/// Why a query cannot be answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error("invalid value for parameter 'bin': {0}")]
    Bin(String),
    #[error("invalid value for parameter 'date_to': {0}")]
    Window(String),
}

/// How many bins of `bin` seconds cover `[from, to)`.
fn bin_count(from: i64, to: i64, bin: i64) -> i64 {
    (to - from + bin - 1) / bin
}

/// The stored resolution a bin size is summed from.
pub fn resolution_for(bin: i64) -> i64 {
    RESOLUTIONS
        .into_iter()
        .rev()
        .find(|r| bin % r == 0)
        .unwrap_or(RESOLUTIONS[0])
}

impl SeriesQuery {
    /// Checks the window against the bin: at most 2 000 bins, 10-minute bins only for the
    /// last [`FINE_RETENTION_DAYS`] days (before `now`), `from` before `to`.
    pub fn check(&self, now: i64) -> Result<(), SeriesError> {
        if self.to <= self.from {
            return Err(SeriesError::Window(
                "the window must end after it starts".into(),
            ));
        }
        let bins = bin_count(self.from, self.to, self.bin);
        if bins > 2_000 {
            return Err(SeriesError::Bin(format!(
                "{bins} bins of this size in the window, at most 2 000: choose a coarser bin"
            )));
        }
        if resolution_for(self.bin) == RESOLUTIONS[0]
            && self.from < now - FINE_RETENTION_DAYS * 86_400
        {
            return Err(SeriesError::Bin(format!(
                "bins under an hour are kept for the last {FINE_RETENTION_DAYS} days only: choose 1h or more"
            )));
        }
        Ok(())
    }
}

/// One named series: a value per bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub values: Vec<f64>,
    /// Its value over the whole window.
    pub total: f64,
}

/// The answer: bin starts (unix seconds), the series (largest first, "other" last), the
/// total, and how many jobs had an unknown core count or core power.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub bins: Vec<i64>,
    pub lines: Vec<Line>,
    pub total: f64,
    pub unknown_cores: i64,
    pub unknown_power: i64,
}

/// A numerator and, for a ratio, its denominator.
pub type Sums = (f64, f64);

fn add(a: &mut Sums, b: Sums) {
    a.0 += b.0;
    a.1 += b.1;
}

/// Rows summed into one line per group and one number per bin, largest group first
/// (`top` of them kept, the rest summed into "other"), and the total. Each row adds
/// `contribution` (a numerator and, for a ratio, a denominator) to the bin its `bin_of` falls
/// in; `value` turns accumulated contributions into the number shown.
#[allow(clippy::too_many_arguments)]
pub fn bin_lines<R, K: std::hash::Hash + Eq>(
    rows: impl IntoIterator<Item = R>,
    from: i64,
    bin: i64,
    n: usize,
    top: Option<usize>,
    bin_of: impl Fn(&R) -> i64,
    group: impl Fn(&R) -> K,
    name: impl Fn(K) -> String,
    contribution: impl Fn(&R) -> Sums,
    value: impl Fn(Sums) -> f64,
) -> (Vec<Line>, f64) {
    let mut groups: HashMap<K, (Vec<Sums>, Sums)> = HashMap::new();
    let mut total: Sums = (0.0, 0.0);
    for row in rows {
        let at = bin_of(&row) - from;
        if at < 0 || at / bin >= n as i64 {
            continue;
        }
        let c = contribution(&row);
        let (per_bin, sum) = groups
            .entry(group(&row))
            .or_insert_with(|| (vec![(0.0, 0.0); n], (0.0, 0.0)));
        add(&mut per_bin[(at / bin) as usize], c);
        add(sum, c);
        add(&mut total, c);
    }
    let mut named: Vec<(String, (Vec<Sums>, Sums))> =
        groups.into_iter().map(|(k, v)| (name(k), v)).collect();
    named.sort_by(|a, b| {
        value(b.1.1)
            .total_cmp(&value(a.1.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    if let Some(top) = top
        && named.len() > top
    {
        let rest = named.split_off(top);
        let mut other = (vec![(0.0, 0.0); n], (0.0, 0.0));
        for (_, (per_bin, sum)) in rest {
            for (o, s) in other.0.iter_mut().zip(per_bin) {
                add(o, s);
            }
            add(&mut other.1, sum);
        }
        named.push(("other".to_string(), other));
    }
    let lines = named
        .into_iter()
        .map(|(name, (per_bin, sum))| Line {
            name: if name.is_empty() {
                "(none)".to_string()
            } else {
                name
            },
            values: per_bin.into_iter().map(&value).collect(),
            total: value(sum),
        })
        .collect();
    (lines, value(total))
}

/// The bin starts of `[from, to)` in steps of `bin`.
pub fn bin_starts(from: i64, to: i64, bin: i64) -> Vec<i64> {
    let n = bin_count(from, to, bin).max(0);
    (0..n).map(|i| from + i * bin).collect()
}

/// Computes a series from the rollups (the query checked with [`SeriesQuery::check`]).
pub async fn series(
    store: &impl RollupStore,
    topology: &Topology,
    q: &SeriesQuery,
) -> pandamon_store::Result<Series> {
    let resolution = resolution_for(q.bin);
    if resolution == RESOLUTIONS[2]
        && !q.metric.is_snapshot()
        && let Some(series) = store
            .with_day_rollups(q.from, q.to, |days| encoded_series(days, topology, q))
            .await?
    {
        return Ok(series);
    }
    let bins = bin_starts(q.from, q.to, q.bin);
    let table = if q.metric.is_snapshot() {
        &JOB_SNAPSHOTS
    } else {
        &JOB_ROLLUPS
    };
    let rows = store.rows(table, resolution, q.from, q.to).await?;
    let kept: Vec<&RollupRow> = rows
        .iter()
        .filter(|row| snapshots_in(row).is_none())
        .filter(|row| {
            q.filters.iter().all(|(d, values)| {
                let v = d.value(row, topology);
                values.iter().any(|w| *w == v)
            })
        })
        .collect();
    let mut unknown_cores: i64 = kept.iter().map(|r| r.metrics[2]).sum();
    let mut unknown_power: i64 = kept.iter().map(|r| r.metrics[6]).sum();
    let metric = q.metric;
    let (lines, total) = bin_lines(
        kept,
        q.from,
        q.bin,
        bins.len(),
        q.top,
        |row| row.bin,
        |row| q.groupby.value(row, topology),
        |v| v.into_owned(),
        |row| metric.contribution(row),
        |sums| metric.value(sums),
    );
    let (lines, total) = if q.metric.is_snapshot() {
        let (lines, total, taken) = snapshot_means(&rows, q.from, q.bin, lines);
        unknown_cores /= taken;
        unknown_power /= taken;
        (lines, total)
    } else {
        (lines, total)
    };
    Ok(Series {
        bins,
        lines,
        total,
        unknown_cores,
        unknown_power,
    })
}

/// How a dimension's value is found from a row's codes: the index of a name in a table built
/// once per question from the dictionaries.
struct Lookup {
    /// The stored dimensions the key is made of, and the size of the second one's dictionary.
    parts: (usize, Option<(usize, usize)>),
    /// The value of every key.
    names: Vec<String>,
}

impl Lookup {
    fn new(d: Dimension, days: &Encoded, topology: &Topology) -> Lookup {
        let values = |i: usize| days.values.get(i).map_or(&[][..], |v| v.as_slice());
        match d {
            Dimension::Activity => {
                let (label, ptype) = (stored("prodsourcelabel"), stored("processingtype"));
                let (labels, ptypes) = (values(label), values(ptype));
                let names = labels
                    .iter()
                    .flat_map(|l| ptypes.iter().map(move |p| activity(l, p).to_string()))
                    .collect();
                Lookup {
                    parts: (label, Some((ptype, ptypes.len()))),
                    names,
                }
            }
            Dimension::Tier | Dimension::Federation | Dimension::Country => {
                let site = stored("computingsite");
                let names = values(site)
                    .iter()
                    .map(|q| {
                        let facts = topology.queue(q);
                        facts
                            .map_or("", |f| match d {
                                Dimension::Tier => f.tier.as_str(),
                                Dimension::Federation => f.federation.as_str(),
                                _ => f.country.as_str(),
                            })
                            .to_string()
                    })
                    .collect();
                Lookup {
                    parts: (site, None),
                    names,
                }
            }
            other => {
                let i = stored(other.name());
                Lookup {
                    parts: (i, None),
                    names: values(i).to_vec(),
                }
            }
        }
    }

    fn key(&self, codes: &[u32]) -> usize {
        match self.parts {
            (i, None) => codes[i] as usize,
            (i, Some((j, n))) => codes[i] as usize * n + codes[j] as usize,
        }
    }
}

/// A series from the day rollups held in memory: the same numbers as from the rows, found by
/// codes instead of names.
fn encoded_series(days: &Encoded, topology: &Topology, q: &SeriesQuery) -> Series {
    let bins = bin_starts(q.from, q.to, q.bin);
    let filters: Vec<(Lookup, Vec<bool>)> = q
        .filters
        .iter()
        .map(|(d, wanted)| {
            let lookup = Lookup::new(*d, days, topology);
            let pass = lookup.names.iter().map(|n| wanted.contains(n)).collect();
            (lookup, pass)
        })
        .collect();
    let group = Lookup::new(q.groupby, days, topology);
    // Keys naming the same value share a group.
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let group_of: Vec<u32> = group
        .names
        .iter()
        .map(|n| {
            let next = ids.len() as u32;
            *ids.entry(n.as_str()).or_insert(next)
        })
        .collect();
    let mut names = vec![String::new(); ids.len()];
    for (n, id) in &ids {
        names[*id as usize] = n.to_string();
    }
    let statuses = days.values.get(STATUS).map_or(&[][..], |v| v.as_slice());
    let (mut unknown_cores, mut unknown_power) = (0, 0);
    let rows = days
        .bins
        .range(q.from..q.to)
        .flat_map(|(bin, rows)| rows.rows().map(move |(codes, sums)| (*bin, codes, sums)))
        .filter(|(_, codes, _)| filters.iter().all(|(lookup, pass)| pass[lookup.key(codes)]))
        .inspect(|(_, _, sums)| {
            unknown_cores += sums[2];
            unknown_power += sums[6];
        });
    let metric = q.metric;
    let (lines, total) = bin_lines(
        rows,
        q.from,
        q.bin,
        bins.len(),
        q.top,
        |(bin, _, _)| *bin,
        |(_, codes, _)| group_of[group.key(codes)],
        |id| names[id as usize].clone(),
        |(_, codes, sums)| metric.contribution_of(sums, &statuses[codes[STATUS] as usize]),
        |sums| metric.value(sums),
    );
    Series {
        bins,
        lines,
        total,
        unknown_cores,
        unknown_power,
    }
}

/// Snapshot sums turned into means: each bin's sum over the snapshots taken in it (10-minute
/// rows count one each, hours and days say how many they hold), the total over every snapshot
/// of the window, and how many snapshots that is.
fn snapshot_means(
    rows: &[RollupRow],
    from: i64,
    bin: i64,
    mut lines: Vec<Line>,
) -> (Vec<Line>, f64, i64) {
    let mut per_bin: HashMap<i64, f64> = HashMap::new();
    let fine: BTreeSet<i64> = rows
        .iter()
        .filter(|r| r.resolution == RESOLUTIONS[0])
        .map(|r| r.bin)
        .collect();
    for t in fine {
        *per_bin.entry((t - from) / bin).or_default() += 1.0;
    }
    for row in rows {
        if let Some(n) = snapshots_in(row) {
            *per_bin.entry((row.bin - from) / bin).or_default() += n as f64;
        }
    }
    let taken: f64 = per_bin.values().sum::<f64>().max(1.0);
    let mut sum = 0.0;
    for line in &mut lines {
        let line_sum: f64 = line.values.iter().sum();
        for (i, v) in line.values.iter_mut().enumerate() {
            if let Some(n) = per_bin.get(&(i as i64)) {
                *v /= n;
            }
        }
        line.total = line_sum / taken;
        sum += line_sum;
    }
    (lines, sum / taken, taken as i64)
}

/// Every stored sum (in [`ROLLUP_METRICS`] order) per group, over the `rows` that pass
/// `keep`; `group` names a row's group.
pub fn sum_by(
    rows: &[RollupRow],
    keep: impl Fn(&RollupRow) -> bool,
    group: impl Fn(&RollupRow) -> String,
) -> BTreeMap<String, RowSums> {
    let mut out = BTreeMap::new();
    for row in rows.iter().filter(|r| keep(r)) {
        add_row(
            out.entry(group(row)).or_insert([0; ROLLUP_METRICS.len()]),
            &row.metrics,
        );
    }
    out
}

/// The sums of a rollup row, in [`ROLLUP_METRICS`] order.
pub type RowSums = [i64; ROLLUP_METRICS.len()];

fn add_row(sums: &mut RowSums, metrics: &[i64]) {
    for (s, m) in sums.iter_mut().zip(metrics) {
        *s += m;
    }
}

/// The day rollups of `[from, to)` (whole days) summed over the whole window, one row per
/// combination of the stored dimensions that the dimensions `needed` are read from. The
/// other dimensions of those rows are empty and their bin is `from`. The rows come from the
/// day rollups in memory when the store holds them, so a month's report sums codes instead of
/// reading its rows from the database; else the stored rows are encoded the same way.
pub async fn window_rows(
    store: &impl RollupStore,
    from: i64,
    to: i64,
    needed: &[Dimension],
) -> pandamon_store::Result<Vec<RollupRow>> {
    let mut used = [false; ROLLUP_DIMS.len()];
    for i in needed.iter().flat_map(|d| d.sources()) {
        used[i] = true;
    }
    if let Some(rows) = store
        .with_day_rollups(from, to, |days| sum_window(days, from, to, &used))
        .await?
    {
        return Ok(rows);
    }
    let stored = store.rows(&JOB_ROLLUPS, RESOLUTIONS[2], from, to).await?;
    Ok(sum_window(&Encoded::from_rows(&stored), from, to, &used))
}

/// The day rows of `[from, to)` summed per combination of the `used` dimensions' codes.
fn sum_window(
    days: &Encoded,
    from: i64,
    to: i64,
    used: &[bool; ROLLUP_DIMS.len()],
) -> Vec<RollupRow> {
    let mut sums: HashMap<[u32; ROLLUP_DIMS.len()], RowSums> = HashMap::new();
    for bin in days.bins.range(from..to).map(|(_, b)| b) {
        for (codes, metrics) in bin.rows() {
            let key = std::array::from_fn(|i| if used[i] { codes[i] } else { u32::MAX });
            add_row(
                sums.entry(key).or_insert([0; ROLLUP_METRICS.len()]),
                metrics,
            );
        }
    }
    sums.into_iter()
        .map(|(key, metrics)| RollupRow {
            resolution: RESOLUTIONS[2],
            bin: from,
            dims: std::array::from_fn(|i| match key[i] {
                u32::MAX => String::new(),
                code => days.values[i][code as usize].clone(),
            }),
            metrics,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_read_from_the_coarsest_resolution_that_divides_them() {
        assert_eq!(resolution_for(600), 600);
        assert_eq!(resolution_for(1_800), 600);
        assert_eq!(resolution_for(21_600), 3_600);
        assert_eq!(resolution_for(604_800), 86_400);
    }

    #[test]
    fn windows_are_checked_against_bins() {
        let q = SeriesQuery {
            metric: Metric::Jobs,
            groupby: Dimension::Site,
            bin: 600,
            from: 0,
            to: 365 * 86_400,
            filters: Vec::new(),
            top: None,
        };
        assert!(matches!(q.check(365 * 86_400), Err(SeriesError::Bin(_))));
        let day = SeriesQuery {
            bin: 3_600,
            from: 0,
            to: 86_400,
            ..q.clone()
        };
        assert_eq!(day.check(86_400), Ok(()));
        let old_fine = SeriesQuery {
            bin: 600,
            from: 0,
            to: 86_400,
            ..q.clone()
        };
        assert!(old_fine.check(100 * 86_400).is_err());
        let backwards = SeriesQuery { to: 0, ..day };
        assert!(matches!(backwards.check(0), Err(SeriesError::Window(_))));
    }
}
