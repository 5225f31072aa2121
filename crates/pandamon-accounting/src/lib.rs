//! Job accounting (seed 004): completed jobs rolled up per 10 minutes, hour and day, from the
//! PanDA job tables into pandamon's own tables, and the time series read back from them.
//!
//! - [`rollup`] builds the rollups: a bin range is recomputed from the job tables and replaced
//!   as a whole, so a rebuild, a backfill run twice or a late update never double-counts.
//! - [`series`] answers a metric over time, grouped by one dimension, from the rollups.
//! - This file names the dimensions and metrics, and ADC's activity of a job.
//!
//! The rollups are reached through [`RollupStore`]: the default is pandamon's state store (the
//! connected database); a columnar engine can stand behind the same trait.

pub mod rollup;
pub mod series;
pub mod snapshots;
pub mod transfers;

use pandamon_store::accounting::{Encoded, ROLLUP_DIMS, RollupRow, RollupTable};
use pandamon_store::{Result, StateStore};
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;

/// Where rollups are kept: any [`RollupTable`] (the jobs' and the transfers').
pub trait RollupStore: Send + Sync {
    /// Replaces the rows of `resolution` with bins in `[from, to)`.
    fn replace<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
        rows: &[RollupRow<D, M>],
    ) -> impl Future<Output = Result<()>> + Send;
    /// The rows of `resolution` with bins in `[from, to)`.
    fn rows<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
    ) -> impl Future<Output = Result<Vec<RollupRow<D, M>>>> + Send;
    /// The first and last bin of `resolution` held.
    fn extent<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
    ) -> impl Future<Output = Result<Option<(i64, i64)>>> + Send;
    /// Calls `read` with the day rollups of completed jobs of `[from, to)` held in memory, when
    /// the store holds them so; `None` when it does not (the rows are then read with `rows`).
    fn with_day_rollups<R: Send>(
        &self,
        from: i64,
        to: i64,
        read: impl FnOnce(&Encoded) -> R + Send,
    ) -> impl Future<Output = Result<Option<R>>> + Send {
        let _ = (from, to, read);
        async { Ok(None) }
    }
}

impl RollupStore for StateStore {
    async fn replace<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
        rows: &[RollupRow<D, M>],
    ) -> Result<()> {
        self.replace_rollups(table, resolution, from, to, rows)
            .await
    }
    async fn rows<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupRow<D, M>>> {
        self.rollups(table, resolution, from, to).await
    }
    async fn extent<const D: usize, const M: usize>(
        &self,
        table: &RollupTable<D, M>,
        resolution: i64,
    ) -> Result<Option<(i64, i64)>> {
        self.rollup_extent(table, resolution).await
    }
    async fn with_day_rollups<R: Send>(
        &self,
        from: i64,
        to: i64,
        read: impl FnOnce(&Encoded) -> R + Send,
    ) -> Result<Option<R>> {
        Ok(Some(self.day_rollups(from, to, read).await?))
    }
}

/// The bin sizes kept, in seconds: 10 minutes (for the last [`FINE_RETENTION_DAYS`]), 1 hour
/// and 1 day.
pub const RESOLUTIONS: [i64; 3] = [600, 3_600, 86_400];
/// How far back the 10-minute bins are kept (and asked for).
pub const FINE_RETENTION_DAYS: i64 = 62;

/// Where a site sits in the grid, as CRIC describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteFacts {
    pub site: String,
    pub cloud: String,
    pub tier: String,
    pub federation: String,
    pub country: String,
}

/// The grid's topology: each PanDA queue's and each site's facts, for the dimensions derived
/// from a queue or a site (tier, federation, country, a transfer's cloud).
#[derive(Debug, Clone, Default)]
pub struct Topology {
    queues: HashMap<String, SiteFacts>,
    sites: HashMap<String, SiteFacts>,
}

impl Topology {
    /// The topology of these queues: (queue, its site's facts).
    pub fn new(queues: impl IntoIterator<Item = (String, SiteFacts)>) -> Topology {
        let mut t = Topology::default();
        for (queue, facts) in queues {
            t.sites
                .entry(facts.site.clone())
                .or_insert_with(|| facts.clone());
            t.queues.insert(queue, facts);
        }
        t
    }

    /// A queue's site facts.
    pub fn queue(&self, queue: &str) -> Option<&SiteFacts> {
        self.queues.get(queue)
    }

    /// A site's facts.
    pub fn site(&self, site: &str) -> Option<&SiteFacts> {
        self.sites.get(site)
    }
}

/// A dimension a series can be grouped or filtered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    Site,
    Cloud,
    Tier,
    Federation,
    Country,
    ResourceType,
    JobType,
    Activity,
    ProcessingType,
    Gshare,
    WorkingGroup,
    Campaign,
    InputDataType,
    JobStatus,
    ErrorCategory,
}

impl Dimension {
    pub const ALL: [Dimension; 15] = [
        Dimension::Site,
        Dimension::Cloud,
        Dimension::Tier,
        Dimension::Federation,
        Dimension::Country,
        Dimension::ResourceType,
        Dimension::JobType,
        Dimension::Activity,
        Dimension::ProcessingType,
        Dimension::Gshare,
        Dimension::WorkingGroup,
        Dimension::Campaign,
        Dimension::InputDataType,
        Dimension::JobStatus,
        Dimension::ErrorCategory,
    ];

    /// The name in URLs (`groupby=`, filters): PanDA's column name where there is one.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Site => "computingsite",
            Dimension::Cloud => "cloud",
            Dimension::Tier => "tier",
            Dimension::Federation => "federation",
            Dimension::Country => "country",
            Dimension::ResourceType => "resource_type",
            Dimension::JobType => "prodsourcelabel",
            Dimension::Activity => "activity",
            Dimension::ProcessingType => "processingtype",
            Dimension::Gshare => "gshare",
            Dimension::WorkingGroup => "workinggroup",
            Dimension::Campaign => "campaign",
            Dimension::InputDataType => "inputdatatype",
            Dimension::JobStatus => "jobstatus",
            Dimension::ErrorCategory => "errorcategory",
        }
    }

    /// A dimension by its URL name (`site` and `jobtype` are accepted too).
    pub fn parse(name: &str) -> Option<Dimension> {
        match name {
            "site" => Some(Dimension::Site),
            "jobtype" => Some(Dimension::JobType),
            _ => Dimension::ALL.into_iter().find(|d| d.name() == name),
        }
    }

    /// Whether the value is a job field of the jobs page (a link can select it).
    pub fn is_job_field(self) -> bool {
        matches!(
            self,
            Dimension::Site
                | Dimension::Cloud
                | Dimension::ResourceType
                | Dimension::JobType
                | Dimension::ProcessingType
                | Dimension::Gshare
                | Dimension::WorkingGroup
                | Dimension::JobStatus
        )
    }

    /// The positions in [`ROLLUP_DIMS`] of the stored dimensions its value is read from.
    pub(crate) fn sources(self) -> Vec<usize> {
        match self {
            Dimension::Activity => vec![stored("prodsourcelabel"), stored("processingtype")],
            Dimension::Tier | Dimension::Federation | Dimension::Country => {
                vec![stored("computingsite")]
            }
            other => vec![stored(other.name())],
        }
    }

    /// This dimension's value in a rollup row ("" when the job had none); tier, federation and
    /// country come from the queue's site in `topology`.
    pub fn value<'a>(self, row: &'a RollupRow, topology: &'a Topology) -> Cow<'a, str> {
        let facts = || topology.queue(&row.dims[0]);
        match self {
            Dimension::Activity => Cow::Borrowed(activity(
                &row.dims[stored("prodsourcelabel")],
                &row.dims[stored("processingtype")],
            )),
            Dimension::Tier => Cow::Borrowed(facts().map_or("", |f| f.tier.as_str())),
            Dimension::Federation => Cow::Borrowed(facts().map_or("", |f| f.federation.as_str())),
            Dimension::Country => Cow::Borrowed(facts().map_or("", |f| f.country.as_str())),
            other => Cow::Borrowed(row.dims[stored(other.name())].as_str()),
        }
    }
}

/// Positions in `ROLLUP_METRICS` (checked by a test).
const JOBS: usize = 0;
const CORES: usize = 1;
const WALL: usize = 3;
const CPU: usize = 4;
const HS06: usize = 5;
const EVENTS: usize = 7;
const INPUT_BYTES: usize = 8;
const OUTPUT_BYTES: usize = 9;
/// The position of the final status in [`ROLLUP_DIMS`] (checked by a test).
pub(crate) const STATUS: usize = 8;

/// The position of a stored dimension in [`ROLLUP_DIMS`].
pub(crate) fn stored(name: &str) -> usize {
    ROLLUP_DIMS
        .iter()
        .position(|d| *d == name)
        .expect("a stored dimension")
}

/// ADC's activity of a job, from its job type (`prodsourcelabel`) and processing type, as the
/// accounting dashboards group them: user jobs are analysis; production jobs go by processing
/// type (event generation, simulation, reconstruction and pile-up, data processing,
/// derivations and group production, merging and the rest as "MC Production other"); test
/// and installation jobs are "Testing"; anything else "Others".
pub fn activity(prodsourcelabel: &str, processingtype: &str) -> &'static str {
    match prodsourcelabel {
        "user" | "panda" => "Analysis",
        "managed" | "prod_test" => match processingtype {
            "evgen" => "MC Event Generation",
            "simul" | "fastsim" => "MC Simulation",
            "reco" | "recon" | "pile" | "pileup" => "MC Reconstruction",
            "reprocessing" | "pipetask" | "urgent" => "Data Processing",
            "deriv" | "group" | "gangarobot-deriv" => "Group Production",
            _ => "MC Production other",
        },
        "ptest" | "rc_test" | "rc_test2" | "rc_alrb" | "test" | "install" => "Testing",
        _ => "Others",
    }
}

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Jobs,
    Cores,
    WallHours,
    WallHoursOk,
    WallHoursFailed,
    CpuHours,
    Hs06Hours,
    CpuEff,
    CpuEffOk,
    Events,
    InputBytes,
    OutputBytes,
    RunningJobs,
    RunningCores,
    RunningHs06,
    PendingJobs,
}

impl Metric {
    pub const ALL: [Metric; 16] = [
        Metric::Jobs,
        Metric::Cores,
        Metric::WallHours,
        Metric::WallHoursOk,
        Metric::WallHoursFailed,
        Metric::CpuHours,
        Metric::Hs06Hours,
        Metric::CpuEff,
        Metric::CpuEffOk,
        Metric::Events,
        Metric::InputBytes,
        Metric::OutputBytes,
        Metric::RunningJobs,
        Metric::RunningCores,
        Metric::RunningHs06,
        Metric::PendingJobs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Jobs => "jobs",
            Metric::Cores => "cores",
            Metric::WallHours => "walltime",
            Metric::WallHoursOk => "walltime_ok",
            Metric::WallHoursFailed => "walltime_failed",
            Metric::CpuHours => "cputime",
            Metric::Hs06Hours => "hs06",
            Metric::CpuEff => "cpueff",
            Metric::CpuEffOk => "cpueff_ok",
            Metric::Events => "events",
            Metric::InputBytes => "input_bytes",
            Metric::OutputBytes => "output_bytes",
            Metric::RunningJobs => "running_jobs",
            Metric::RunningCores => "running_cores",
            Metric::RunningHs06 => "running_hs06",
            Metric::PendingJobs => "pending_jobs",
        }
    }

    /// What the numbers are, for chart titles and table headers.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Jobs => "completed jobs",
            Metric::Cores => "cores of completed jobs",
            Metric::WallHours => "wall-clock core-hours",
            Metric::WallHoursOk => "wall-clock core-hours of successful jobs",
            Metric::WallHoursFailed => "wall-clock core-hours of failed jobs",
            Metric::CpuHours => "CPU hours",
            Metric::Hs06Hours => "HS06-hours",
            Metric::CpuEff => "CPU efficiency of all completed jobs (%)",
            Metric::CpuEffOk => "CPU efficiency of successful jobs (%)",
            Metric::Events => "events",
            Metric::InputBytes => "input bytes",
            Metric::OutputBytes => "output bytes",
            Metric::RunningJobs => "running jobs (mean)",
            Metric::RunningCores => "cores of running jobs (mean)",
            Metric::RunningHs06 => "HS06 of running jobs' cores (mean)",
            Metric::PendingJobs => "pending jobs (mean)",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Counted in the 10-minute snapshots of running and pending jobs (a bin's value is the
    /// mean of its snapshots), not over completed jobs.
    pub fn is_snapshot(self) -> bool {
        matches!(
            self,
            Metric::RunningJobs | Metric::RunningCores | Metric::RunningHs06 | Metric::PendingJobs
        )
    }

    /// A ratio (its value over several rows is the ratio of the sums), not a sum.
    pub fn is_ratio(self) -> bool {
        matches!(self, Metric::CpuEff | Metric::CpuEffOk)
    }

    /// What one rollup row adds: the numerator, and the denominator of a ratio.
    pub fn contribution(self, row: &RollupRow) -> (f64, f64) {
        self.contribution_of(&row.metrics, &row.dims[STATUS])
    }

    /// What a row of these sums (in `ROLLUP_METRICS` order) and final status adds.
    pub fn contribution_of(self, metrics: &[i64], status: &str) -> (f64, f64) {
        let m = |i: usize| metrics[i] as f64;
        let hours = |s: f64| s / 3_600.0;
        match self {
            Metric::Jobs => (m(JOBS), 0.0),
            Metric::Cores => (m(CORES), 0.0),
            Metric::WallHours => (hours(m(WALL)), 0.0),
            Metric::WallHoursOk if status == "finished" => (hours(m(WALL)), 0.0),
            Metric::WallHoursFailed if status == "failed" => (hours(m(WALL)), 0.0),
            Metric::WallHoursOk | Metric::WallHoursFailed => (0.0, 0.0),
            Metric::CpuHours => (hours(m(CPU)), 0.0),
            Metric::Hs06Hours => (hours(m(HS06)), 0.0),
            Metric::CpuEff => (m(CPU), m(WALL)),
            Metric::CpuEffOk if status == "finished" => (m(CPU), m(WALL)),
            Metric::CpuEffOk => (0.0, 0.0),
            Metric::Events => (m(EVENTS), 0.0),
            Metric::InputBytes => (m(INPUT_BYTES), 0.0),
            Metric::OutputBytes => (m(OUTPUT_BYTES), 0.0),
            Metric::RunningJobs if status == "running" => (m(JOBS), 0.0),
            Metric::RunningCores if status == "running" => (m(CORES), 0.0),
            Metric::RunningHs06 if status == "running" => (m(HS06), 0.0),
            Metric::PendingJobs if snapshots::PENDING.contains(&status) => (m(JOBS), 0.0),
            Metric::RunningJobs
            | Metric::RunningCores
            | Metric::RunningHs06
            | Metric::PendingJobs => (0.0, 0.0),
        }
    }

    /// The value of accumulated contributions.
    pub fn value(self, (num, den): (f64, f64)) -> f64 {
        if self.is_ratio() {
            if den > 0.0 { 100.0 * num / den } else { 0.0 }
        } else {
            num
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_and_metrics_read_by_their_names() {
        for d in Dimension::ALL {
            assert_eq!(Dimension::parse(d.name()), Some(d));
            if !matches!(
                d,
                Dimension::Activity | Dimension::Tier | Dimension::Federation | Dimension::Country
            ) {
                stored(d.name());
            }
        }
        assert_eq!(Dimension::parse("site"), Some(Dimension::Site));
        assert_eq!(Dimension::parse("nonsense"), None);
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
        }
    }

    #[test]
    fn stored_positions_are_the_columns() {
        use pandamon_store::accounting::ROLLUP_METRICS;
        let at = |name: &str| ROLLUP_METRICS.iter().position(|m| *m == name);
        assert_eq!(at("jobs"), Some(JOBS));
        assert_eq!(at("cores"), Some(CORES));
        assert_eq!(at("wall_core_s"), Some(WALL));
        assert_eq!(at("cpu_s"), Some(CPU));
        assert_eq!(at("hs06_s"), Some(HS06));
        assert_eq!(at("events"), Some(EVENTS));
        assert_eq!(at("input_bytes"), Some(INPUT_BYTES));
        assert_eq!(at("output_bytes"), Some(OUTPUT_BYTES));
        assert_eq!(stored("jobstatus"), STATUS);
    }

    #[test]
    fn activities_follow_job_type_then_processing_type() {
        assert_eq!(activity("user", "pathena"), "Analysis");
        assert_eq!(activity("managed", "simul"), "MC Simulation");
        assert_eq!(activity("managed", "evgen"), "MC Event Generation");
        assert_eq!(activity("managed", "merge"), "MC Production other");
        assert_eq!(activity("ptest", "simul"), "Testing");
        assert_eq!(activity("", ""), "Others");
    }

    #[test]
    fn efficiency_is_a_ratio_of_sums() {
        let mut row = RollupRow {
            resolution: 600,
            bin: 0,
            dims: Default::default(),
            metrics: [0; 10],
        };
        row.dims[stored("jobstatus")] = "failed".into();
        row.metrics[3] = 7_200; // wall core-seconds
        row.metrics[4] = 3_600; // cpu seconds
        assert_eq!(Metric::CpuEff.contribution(&row), (3_600.0, 7_200.0));
        assert_eq!(Metric::CpuEffOk.contribution(&row), (0.0, 0.0));
        assert_eq!(Metric::WallHoursFailed.contribution(&row), (2.0, 0.0));
        assert_eq!(Metric::CpuEff.value((3_600.0, 7_200.0)), 50.0);
        assert_eq!(Metric::CpuEff.value((0.0, 0.0)), 0.0);
    }
}
