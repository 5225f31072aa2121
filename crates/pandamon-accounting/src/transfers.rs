//! Transfer accounting: Rucio's transfer events (`transfer_events`) rolled up per minute for
//! the last [`MINUTE_RETENTION_DAYS`] days and per hour for all time, by source and destination
//! site (from the RSEs' sites in `ddm_endpoint`), activity, outcome and failure reason; and the
//! series read back from them (files, volume, throughput, efficiency by any of those, or by
//! the sites' cloud, tier or country).
//!
//! As for the jobs, a range of bins is recomputed from the events and replaced as a whole.
//! Events are counted in the bin of their `transferred_at`.

use crate::rollup::{ceil, floor};
use crate::series::{Line, Sums, bin_lines, bin_starts};
use crate::{RollupStore, Topology};
use pandamon_store::Db;
use pandamon_store::Result;
use pandamon_store::accounting::{TRANSFER_ROLLUPS, TransferRow};
use pandamon_store::catalog::ColType;
use pandamon_store::scan::{Field, TimeRange};
use std::collections::HashMap;

/// The bin sizes kept, in seconds: a minute (for the last [`MINUTE_RETENTION_DAYS`] days) and
/// an hour.
pub const TRANSFER_RESOLUTIONS: [i64; 2] = [60, 3_600];
/// How far back minute bins are kept.
pub const MINUTE_RETENTION_DAYS: i64 = 30;

/// The bin sizes of the transfer dashboard, by name.
pub const TRANSFER_BINS: [(&str, i64); 5] = [
    ("10m", 600),
    ("1h", 3_600),
    ("6h", 21_600),
    ("12h", 43_200),
    ("1d", 86_400),
];

/// The start of the oldest minute bin kept at `now`.
pub fn minute_cutoff(now: i64) -> i64 {
    floor(
        now - MINUTE_RETENTION_DAYS * 86_400,
        TRANSFER_RESOLUTIONS[1],
    )
}

/// Whether the database has the transfer events (a PanDA database alone has none).
pub async fn available(db: &Db) -> bool {
    match pandamon_store::schema::existing_tables(db).await {
        Ok(tables) => tables.iter().any(|t| t == "transfer_events"),
        Err(e) => {
            tracing::warn!(error = %e, "tables unknown: transfers not rolled up");
            false
        }
    }
}

/// Each storage endpoint's site (`ddm_endpoint`).
pub type RseSites = HashMap<String, String>;

/// Reads the endpoints' sites (none when the table cannot be read: sites then come from the
/// RSE names).
pub async fn rse_sites(db: &Db) -> RseSites {
    db.rse_sites().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "storage endpoints unavailable: sites taken from rse names");
        RseSites::new()
    })
}

/// An RSE's site: its `ddm_endpoint` site, else the name before its last `_` (`CERN-PROD` of
/// `CERN-PROD_DATADISK`).
pub fn site_of(sites: &RseSites, rse: &str) -> String {
    match sites.get(rse) {
        Some(site) => site.clone(),
        None => rse.rsplit_once('_').map_or(rse, |(s, _)| s).to_string(),
    }
}

const COLUMNS: [(&str, ColType); 6] = [
    ("transferred_at", ColType::Timestamp),
    ("event_type", ColType::Text),
    ("activity", ColType::Text),
    ("src_rse", ColType::Text),
    ("dst_rse", ColType::Text),
    ("bytes", ColType::BigInt),
];

/// The most of a failure reason kept (reasons differ in their details past this).
const REASON_CHARS: usize = 120;

/// The transfer events of `[from, to)` summed into bins of each of `resolutions`.
async fn sums(
    db: &Db,
    sites: &RseSites,
    from: i64,
    to: i64,
    resolutions: &[i64],
) -> Result<(Vec<HashMap<(i64, [String; 5]), [i64; 2]>>, u64)> {
    let mut out = vec![HashMap::new(); resolutions.len()];
    let columns: Vec<(&str, ColType)> = COLUMNS
        .iter()
        .copied()
        .chain([("reason", ColType::Text)])
        .collect();
    let range = [TimeRange {
        column: "transferred_at",
        from,
        to: Some(to),
    }];
    let text = |f: &Field<'_>| match f {
        Field::Text(t) => t.trim().to_string(),
        _ => String::new(),
    };
    let read = db
        .scan("transfer_events", &columns, &range, None, |f| {
            let Field::Time(at) = f[0] else { return };
            let failed = text(&f[1]) == "transfer-failed";
            let reason: String = if failed {
                text(&f[6]).chars().take(REASON_CHARS).collect()
            } else {
                String::new()
            };
            let dims = [
                site_of(sites, &text(&f[3])),
                site_of(sites, &text(&f[4])),
                text(&f[2]),
                if failed { "failed" } else { "done" }.to_string(),
                reason,
            ];
            let bytes = match f[5] {
                Field::Int(b) if !failed => b.max(0),
                _ => 0,
            };
            for (sums, &resolution) in out.iter_mut().zip(resolutions) {
                let s = sums
                    .entry((floor(at, resolution), dims.clone()))
                    .or_insert([0; 2]);
                s[0] += 1;
                s[1] += bytes;
            }
        })
        .await?;
    Ok((out, read))
}

fn rows_of(resolution: i64, sums: HashMap<(i64, [String; 5]), [i64; 2]>) -> Vec<TransferRow> {
    let mut rows: Vec<TransferRow> = sums
        .into_iter()
        .map(|((bin, dims), metrics)| TransferRow {
            resolution,
            bin,
            dims,
            metrics,
        })
        .collect();
    rows.sort_by(|a, b| (a.bin, &a.dims).cmp(&(b.bin, &b.dims)));
    rows
}

/// Recomputes the transfer rollups of `[from, to)`: minute bins (within the retention before
/// `now`) and the hours that hold them; hours straight from the events before the retention.
/// Returns how many events were counted.
pub async fn rebuild(
    db: &Db,
    store: &impl RollupStore,
    sites: &RseSites,
    from: i64,
    to: i64,
    now: i64,
) -> Result<u64> {
    let [minute, hour] = TRANSFER_RESOLUTIONS;
    let cutoff = minute_cutoff(now);
    let mut counted = 0;
    if from < cutoff {
        let (a, b) = (floor(from, hour), ceil(to, hour).min(cutoff));
        let (mut sums, read) = sums(db, sites, a, b, &[hour]).await?;
        store
            .replace(
                &TRANSFER_ROLLUPS,
                hour,
                a,
                b,
                &rows_of(hour, sums.remove(0)),
            )
            .await?;
        counted += read;
    }
    if to > cutoff {
        let (a, b) = (floor(from, minute).max(cutoff), ceil(to, minute));
        let (mut sums, read) = sums(db, sites, a, b, &[minute]).await?;
        store
            .replace(
                &TRANSFER_ROLLUPS,
                minute,
                a,
                b,
                &rows_of(minute, sums.remove(0)),
            )
            .await?;
        counted += read;
        // The hours around, from their minutes.
        let (a, b) = (floor(a, hour), ceil(b, hour));
        let mut hours = HashMap::new();
        for row in store.rows(&TRANSFER_ROLLUPS, minute, a, b).await? {
            let s: &mut [i64; 2] = hours
                .entry((floor(row.bin, hour), row.dims.clone()))
                .or_insert([0; 2]);
            s[0] += row.metrics[0];
            s[1] += row.metrics[1];
        }
        store
            .replace(&TRANSFER_ROLLUPS, hour, a, b, &rows_of(hour, hours))
            .await?;
    }
    Ok(counted)
}

/// Drops the minute bins older than the retention.
pub async fn prune(store: &impl RollupStore, now: i64) -> Result<()> {
    store
        .replace(
            &TRANSFER_ROLLUPS,
            TRANSFER_RESOLUTIONS[0],
            0,
            minute_cutoff(now),
            &[],
        )
        .await
}

/// A dimension of the transfer dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferDimension {
    SrcSite,
    DstSite,
    SrcCloud,
    DstCloud,
    SrcTier,
    DstTier,
    SrcCountry,
    DstCountry,
    Activity,
    State,
    Reason,
}

impl TransferDimension {
    pub const ALL: [TransferDimension; 11] = [
        TransferDimension::SrcSite,
        TransferDimension::DstSite,
        TransferDimension::SrcCloud,
        TransferDimension::DstCloud,
        TransferDimension::SrcTier,
        TransferDimension::DstTier,
        TransferDimension::SrcCountry,
        TransferDimension::DstCountry,
        TransferDimension::Activity,
        TransferDimension::State,
        TransferDimension::Reason,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TransferDimension::SrcSite => "src_site",
            TransferDimension::DstSite => "dst_site",
            TransferDimension::SrcCloud => "src_cloud",
            TransferDimension::DstCloud => "dst_cloud",
            TransferDimension::SrcTier => "src_tier",
            TransferDimension::DstTier => "dst_tier",
            TransferDimension::SrcCountry => "src_country",
            TransferDimension::DstCountry => "dst_country",
            TransferDimension::Activity => "activity",
            TransferDimension::State => "state",
            TransferDimension::Reason => "reason",
        }
    }

    pub fn parse(name: &str) -> Option<TransferDimension> {
        TransferDimension::ALL
            .into_iter()
            .find(|d| d.name() == name)
    }

    /// This dimension's value in a rollup row; clouds, tiers and countries from `topology`.
    pub fn value<'a>(self, row: &'a TransferRow, topology: &'a Topology) -> &'a str {
        let facts = |i: usize| topology.site(&row.dims[i]);
        match self {
            TransferDimension::SrcSite => &row.dims[0],
            TransferDimension::DstSite => &row.dims[1],
            TransferDimension::SrcCloud => facts(0).map_or("", |f| f.cloud.as_str()),
            TransferDimension::DstCloud => facts(1).map_or("", |f| f.cloud.as_str()),
            TransferDimension::SrcTier => facts(0).map_or("", |f| f.tier.as_str()),
            TransferDimension::DstTier => facts(1).map_or("", |f| f.tier.as_str()),
            TransferDimension::SrcCountry => facts(0).map_or("", |f| f.country.as_str()),
            TransferDimension::DstCountry => facts(1).map_or("", |f| f.country.as_str()),
            TransferDimension::Activity => &row.dims[2],
            TransferDimension::State => &row.dims[3],
            TransferDimension::Reason => &row.dims[4],
        }
    }
}

/// What a transfer series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMetric {
    /// Files transferred (done).
    Files,
    /// Failed attempts.
    Failures,
    /// Gigabytes (10⁹ bytes) transferred.
    Volume,
    /// Megabytes (10⁶ bytes) per second over each bin.
    Throughput,
    /// Done over done and failed, in %.
    Efficiency,
}

impl TransferMetric {
    pub const ALL: [TransferMetric; 5] = [
        TransferMetric::Volume,
        TransferMetric::Throughput,
        TransferMetric::Files,
        TransferMetric::Failures,
        TransferMetric::Efficiency,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TransferMetric::Files => "files",
            TransferMetric::Failures => "failures",
            TransferMetric::Volume => "volume",
            TransferMetric::Throughput => "throughput",
            TransferMetric::Efficiency => "efficiency",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TransferMetric::Files => "files transferred",
            TransferMetric::Failures => "failed transfer attempts",
            TransferMetric::Volume => "volume transferred (GB)",
            TransferMetric::Throughput => "throughput (MB/s)",
            TransferMetric::Efficiency => "transfer efficiency (%)",
        }
    }

    pub fn parse(name: &str) -> Option<TransferMetric> {
        TransferMetric::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn is_ratio(self) -> bool {
        matches!(self, TransferMetric::Efficiency)
    }

    /// What one row adds (a numerator and, for efficiency, its denominator).
    fn contribution(self, row: &TransferRow) -> Sums {
        let done = row.dims[3] == "done";
        let (files, bytes) = (row.metrics[0] as f64, row.metrics[1] as f64);
        match self {
            TransferMetric::Files if done => (files, 0.0),
            TransferMetric::Failures if !done => (files, 0.0),
            TransferMetric::Files | TransferMetric::Failures => (0.0, 0.0),
            TransferMetric::Volume | TransferMetric::Throughput => (bytes, 0.0),
            TransferMetric::Efficiency => (if done { files } else { 0.0 }, files),
        }
    }

    /// The number shown for accumulated contributions over `seconds`.
    fn value(self, (num, den): Sums, seconds: f64) -> f64 {
        match self {
            TransferMetric::Efficiency if den > 0.0 => 100.0 * num / den,
            TransferMetric::Efficiency => 0.0,
            TransferMetric::Volume => num / 1e9,
            TransferMetric::Throughput => num / 1e6 / seconds.max(1.0),
            _ => num,
        }
    }
}

/// A transfer series asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferQuery {
    pub metric: TransferMetric,
    pub groupby: TransferDimension,
    /// Seconds, one of [`TRANSFER_BINS`].
    pub bin: i64,
    pub from: i64,
    /// Exclusive.
    pub to: i64,
    pub filters: Vec<(TransferDimension, Vec<String>)>,
    pub top: Option<usize>,
}

impl TransferQuery {
    /// The stored resolution the query reads: minutes for 10-minute bins, hours otherwise.
    pub fn resolution(&self) -> i64 {
        if self.bin % TRANSFER_RESOLUTIONS[1] == 0 {
            TRANSFER_RESOLUTIONS[1]
        } else {
            TRANSFER_RESOLUTIONS[0]
        }
    }

    /// Why the window cannot be answered in these bins, if it cannot.
    pub fn check(&self, now: i64) -> std::result::Result<(), String> {
        if self.to <= self.from {
            return Err(
                "invalid value for parameter 'date_to': the window must end after it starts".into(),
            );
        }
        let bins = (self.to - self.from + self.bin - 1) / self.bin;
        if bins > 2_000 {
            return Err(format!(
                "invalid value for parameter 'bin': {bins} bins of this size in the window, at most 2 000: choose a coarser bin"
            ));
        }
        if self.resolution() == TRANSFER_RESOLUTIONS[0] && self.from < minute_cutoff(now) {
            return Err(format!(
                "invalid value for parameter 'bin': 10-minute bins are kept for the last {MINUTE_RETENTION_DAYS} days only: choose 1h or more"
            ));
        }
        Ok(())
    }
}

/// A transfer series: bin starts, lines (largest first, "other" last) and the total over the
/// window (files, bytes, the mean throughput or the efficiency).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferSeries {
    pub bins: Vec<i64>,
    pub lines: Vec<Line>,
    pub total: f64,
}

/// The rows of the window that pass the query's filters.
pub async fn rows(
    store: &impl RollupStore,
    topology: &Topology,
    q: &TransferQuery,
) -> Result<Vec<TransferRow>> {
    Ok(store
        .rows(&TRANSFER_ROLLUPS, q.resolution(), q.from, q.to)
        .await?
        .into_iter()
        .filter(|row| {
            q.filters
                .iter()
                .all(|(d, values)| values.iter().any(|v| v == d.value(row, topology)))
        })
        .collect())
}

/// The series of a checked query over its filtered `rows`.
pub fn series(rows: &[TransferRow], topology: &Topology, q: &TransferQuery) -> TransferSeries {
    let bins = bin_starts(q.from, q.to, q.bin);
    let metric = q.metric;
    let (lines, _) = bin_lines(
        rows,
        q.from,
        q.bin,
        bins.len(),
        q.top,
        |row| row.bin,
        |row| q.groupby.value(row, topology),
        |v| v.to_string(),
        |row| metric.contribution(row),
        |sums| metric.value(sums, q.bin as f64),
    );
    // The window's total: throughput over the whole window, not per bin.
    let mut all: Sums = (0.0, 0.0);
    for row in rows {
        let (a, b) = metric.contribution(row);
        all.0 += a;
        all.1 += b;
    }
    TransferSeries {
        bins,
        lines,
        total: metric.value(all, (q.to - q.from) as f64),
    }
}

/// Files done and failed, and bytes, per group of `rows`.
pub fn totals_by(
    rows: &[TransferRow],
    group: impl Fn(&TransferRow) -> String,
) -> Vec<(String, TransferTotals)> {
    let mut out: HashMap<String, TransferTotals> = HashMap::new();
    for row in rows {
        let t = out.entry(group(row)).or_default();
        if row.dims[3] == "done" {
            t.done += row.metrics[0];
            t.bytes += row.metrics[1];
        } else {
            t.failed += row.metrics[0];
        }
    }
    let mut out: Vec<(String, TransferTotals)> = out.into_iter().collect();
    out.sort_by(|a, b| {
        (b.1.done + b.1.failed)
            .cmp(&(a.1.done + a.1.failed))
            .then_with(|| a.0.cmp(&b.0))
    });
    out
}

/// Transfers of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferTotals {
    pub done: i64,
    pub failed: i64,
    pub bytes: i64,
}

impl TransferTotals {
    /// Done over done and failed, in %; none without transfers.
    pub fn efficiency(&self) -> Option<f64> {
        let all = self.done + self.failed;
        (all > 0).then(|| 100.0 * self.done as f64 / all as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_come_from_endpoints_or_rse_names() {
        let sites: RseSites = [("WEIRD".to_string(), "SITE-A".to_string())].into();
        assert_eq!(site_of(&sites, "WEIRD"), "SITE-A");
        assert_eq!(site_of(&sites, "CERN-PROD_DATADISK"), "CERN-PROD");
        assert_eq!(site_of(&sites, "NOUNDERSCORE"), "NOUNDERSCORE");
    }

    #[test]
    fn ten_minute_bins_only_within_the_retention() {
        let now = 100 * 86_400;
        let q = TransferQuery {
            metric: TransferMetric::Volume,
            groupby: TransferDimension::DstSite,
            bin: 600,
            from: now - 86_400,
            to: now,
            filters: Vec::new(),
            top: None,
        };
        assert_eq!(q.check(now), Ok(()));
        assert_eq!(q.resolution(), 60);
        let old = TransferQuery {
            from: now - 40 * 86_400,
            ..q.clone()
        };
        assert!(old.check(now).unwrap_err().contains("'bin'"));
        let hourly = TransferQuery { bin: 3_600, ..old };
        assert_eq!(hourly.check(now), Ok(()));
        assert_eq!(hourly.resolution(), 3_600);
    }

    #[test]
    fn efficiency_and_throughput_of_rows() {
        let row = |state: &str, files, bytes| TransferRow {
            resolution: 60,
            bin: 0,
            dims: [
                "A".into(),
                "B".into(),
                "x".into(),
                state.into(),
                String::new(),
            ],
            metrics: [files, bytes],
        };
        let rows = [row("done", 3, 600_000_000), row("failed", 1, 0)];
        let q = TransferQuery {
            metric: TransferMetric::Efficiency,
            groupby: TransferDimension::DstSite,
            bin: 600,
            from: 0,
            to: 600,
            filters: Vec::new(),
            top: None,
        };
        let topology = Topology::default();
        assert_eq!(series(&rows, &topology, &q).total, 75.0);
        let q = TransferQuery {
            metric: TransferMetric::Throughput,
            ..q
        };
        let s = series(&rows, &topology, &q);
        assert_eq!(s.lines[0].values, vec![1.0]);
        assert_eq!(
            totals_by(&rows, |_| "all".into())[0].1.efficiency(),
            Some(75.0)
        );
    }
}
