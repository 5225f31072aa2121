//! PanDA domain vocabulary: job and task statuses, the job tables a job lives in, the error
//! components of a job, Harvester worker statuses, error categories.
//!
//! Architecture invariant: this crate does no I/O and knows nothing about SQL or HTTP. Every other
//! crate names PanDA concepts through these types instead of repeating string literals.

use serde::Serialize;
use std::fmt;

/// The job tables of a PanDA database. A job lives in exactly one of them at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobTable {
    /// `jobsdefined4`: pending, defined, assigned, waiting.
    Defined,
    /// `jobsactive4`: activated ... transferring.
    Active,
    /// `jobsarchived4`: final states, recent days.
    Archived,
    /// `jobsarchived` in the archive schema: final states, long term.
    Archive,
}

impl JobTable {
    pub const ALL: [JobTable; 4] = [
        JobTable::Defined,
        JobTable::Active,
        JobTable::Archived,
        JobTable::Archive,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobTable::Defined => "jobsdefined4",
            JobTable::Active => "jobsactive4",
            JobTable::Archived => "jobsarchived4",
            JobTable::Archive => "jobsarchived",
        }
    }

    pub fn from_name(name: &str) -> Option<JobTable> {
        JobTable::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for JobTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Job status as stored in `jobstatus`, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Defined,
    Waiting,
    Assigned,
    Throttled,
    Activated,
    Sent,
    Starting,
    Running,
    Holding,
    Transferring,
    Merging,
    Finished,
    Failed,
    Cancelled,
    Closed,
}

impl JobStatus {
    /// bigmon's `JOB_STATES`, in its display order.
    pub const ALL: [JobStatus; 16] = [
        JobStatus::Pending,
        JobStatus::Defined,
        JobStatus::Waiting,
        JobStatus::Assigned,
        JobStatus::Throttled,
        JobStatus::Activated,
        JobStatus::Sent,
        JobStatus::Starting,
        JobStatus::Running,
        JobStatus::Holding,
        JobStatus::Transferring,
        JobStatus::Merging,
        JobStatus::Finished,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Defined => "defined",
            JobStatus::Waiting => "waiting",
            JobStatus::Assigned => "assigned",
            JobStatus::Throttled => "throttled",
            JobStatus::Activated => "activated",
            JobStatus::Sent => "sent",
            JobStatus::Starting => "starting",
            JobStatus::Running => "running",
            JobStatus::Holding => "holding",
            JobStatus::Transferring => "transferring",
            JobStatus::Merging => "merging",
            JobStatus::Finished => "finished",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Final states are irreversible.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Finished | JobStatus::Failed | JobStatus::Cancelled | JobStatus::Closed
        )
    }

    /// The live table a job in this status belongs to (final jobs start in `jobsarchived4`).
    pub fn live_table(self) -> JobTable {
        match self {
            JobStatus::Pending | JobStatus::Defined | JobStatus::Waiting | JobStatus::Assigned => {
                JobTable::Defined
            }
            s if s.is_final() => JobTable::Archived,
            _ => JobTable::Active,
        }
    }

    /// Whether a job in this status may be found in `table`.
    pub fn allowed_in(self, table: JobTable) -> bool {
        match table {
            JobTable::Archived | JobTable::Archive => self.is_final(),
            other => self.live_table() == other,
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// JEDI task statuses bigmon knows, in rough lifecycle order.
pub const TASK_STATUSES: [&str; 27] = [
    "registered",
    "defined",
    "assigning",
    "ready",
    "pending",
    "scouting",
    "scouted",
    "running",
    "prepared",
    "staging",
    "throttled",
    "paused",
    "exhausted",
    "topreprocess",
    "preprocessing",
    "toretry",
    "toincexec",
    "rerefine",
    "finishing",
    "aborting",
    "tobroken",
    "done",
    "finished",
    "failed",
    "aborted",
    "broken",
    "passed",
];

/// Task statuses bigmon treats as final.
pub const TASK_FINAL_STATUSES: [&str; 5] = ["broken", "aborted", "done", "finished", "failed"];

/// The error components of a job row: bigmon's `JOB_ERROR_COMPONENTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorComponent {
    Pilot,
    #[serde(rename = "executor")]
    Exe,
    Transform,
    #[serde(rename = "dataservice")]
    Ddm,
    Brokerage,
    Jobdispatcher,
    Taskbuffer,
    #[serde(rename = "supervisor")]
    Sup,
}

impl ErrorComponent {
    pub const ALL: [ErrorComponent; 8] = [
        ErrorComponent::Brokerage,
        ErrorComponent::Ddm,
        ErrorComponent::Exe,
        ErrorComponent::Jobdispatcher,
        ErrorComponent::Pilot,
        ErrorComponent::Sup,
        ErrorComponent::Taskbuffer,
        ErrorComponent::Transform,
    ];

    /// bigmon's name (its `JOB_ERROR_COMPONENTS`), used in `component:code` error keys and in
    /// `error_descriptions.component`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorComponent::Pilot => "pilot",
            ErrorComponent::Exe => "executor",
            ErrorComponent::Transform => "transform",
            ErrorComponent::Ddm => "dataservice",
            ErrorComponent::Brokerage => "brokerage",
            ErrorComponent::Jobdispatcher => "jobdispatcher",
            ErrorComponent::Taskbuffer => "taskbuffer",
            ErrorComponent::Sup => "supervisor",
        }
    }

    /// The short name of bigmon's older code (`exe`, `ddm`, `sup`, ...): the prefix of the code
    /// and diagnostic columns, still found in `error_descriptions` of some databases.
    pub fn short_name(self) -> &'static str {
        match self {
            ErrorComponent::Exe => "exe",
            ErrorComponent::Ddm => "ddm",
            ErrorComponent::Sup => "sup",
            other => other.name(),
        }
    }

    /// The job column that holds the code (`transexitcode` is a varchar).
    pub fn code_column(self) -> &'static str {
        match self {
            ErrorComponent::Pilot => "piloterrorcode",
            ErrorComponent::Exe => "exeerrorcode",
            ErrorComponent::Transform => "transexitcode",
            ErrorComponent::Ddm => "ddmerrorcode",
            ErrorComponent::Brokerage => "brokerageerrorcode",
            ErrorComponent::Jobdispatcher => "jobdispatchererrorcode",
            ErrorComponent::Taskbuffer => "taskbuffererrorcode",
            ErrorComponent::Sup => "superrorcode",
        }
    }

    /// The job column that holds the diagnostic text; the transform has none.
    pub fn diag_column(self) -> Option<&'static str> {
        match self {
            ErrorComponent::Pilot => Some("piloterrordiag"),
            ErrorComponent::Exe => Some("exeerrordiag"),
            ErrorComponent::Transform => None,
            ErrorComponent::Ddm => Some("ddmerrordiag"),
            ErrorComponent::Brokerage => Some("brokerageerrordiag"),
            ErrorComponent::Jobdispatcher => Some("jobdispatchererrordiag"),
            ErrorComponent::Taskbuffer => Some("taskbuffererrordiag"),
            ErrorComponent::Sup => Some("superrordiag"),
        }
    }

    /// A component by its bigmon name or its short name, in any case.
    pub fn parse(text: &str) -> Option<ErrorComponent> {
        let text = text.trim();
        ErrorComponent::ALL.into_iter().find(|c| {
            c.name().eq_ignore_ascii_case(text) || c.short_name().eq_ignore_ascii_case(text)
        })
    }
}

/// The component order in which a job's first error is taken (the errors page's
/// histogram, the accounting's error category).
pub const FIRST_ERROR_ORDER: [ErrorComponent; 8] = [
    ErrorComponent::Pilot,
    ErrorComponent::Exe,
    ErrorComponent::Transform,
    ErrorComponent::Ddm,
    ErrorComponent::Jobdispatcher,
    ErrorComponent::Taskbuffer,
    ErrorComponent::Sup,
    ErrorComponent::Brokerage,
];

/// bigmon's error categories, as stored in `error_descriptions.category`.
pub const ERROR_CATEGORIES: [(i16, &str); 7] = [
    (0, "Uncategorized"),
    (1, "File and Storage Issues"),
    (2, "Runtime Failures and Resource Violations"),
    (3, "Network and Communication Errors"),
    (4, "Job Termination and Kill Signals"),
    (5, "Software and Environment Issues"),
    (6, "Internal and Unknown Errors"),
];

/// The name of an error category; unknown ids are "Uncategorized".
pub fn error_category_name(id: i64) -> &'static str {
    ERROR_CATEGORIES
        .iter()
        .find(|(c, _)| i64::from(*c) == id)
        .map_or("Uncategorized", |(_, n)| n)
}

/// Harvester worker statuses; the last four are final.
pub const WORKER_STATUSES: [&str; 9] = [
    "pending",
    "submitted",
    "ready",
    "running",
    "idle",
    "finished",
    "failed",
    "cancelled",
    "missed",
];

/// Data carousel request statuses; `queued` and `staging` are active.
pub const CAROUSEL_STATUSES: [&str; 5] = ["queued", "staging", "done", "cancelled", "retired"];

/// The kinds of event-service job, by the value of the job's `eventservice` column (bigmon's
/// `EVENT_SERVICE_JOB_TYPES`); NULL or 0 is an ordinary job.
pub const EVENT_SERVICE_TYPES: [(i64, &str); 6] = [
    (1, "eventservice"),
    (2, "esmerge"),
    (3, "clone"),
    (4, "jumbo"),
    (5, "cojumbo"),
    (6, "finegrained"),
];

/// The name of an `eventservice` value ("ordinary" for none).
pub fn event_service_name(value: Option<i64>) -> &'static str {
    EVENT_SERVICE_TYPES
        .iter()
        .find(|(v, _)| Some(*v) == value)
        .map_or("ordinary", |(_, n)| n)
}

/// The statuses of an event range (`jedi_events.status`), by code, as PanDA's event service
/// numbers them.
pub const EVENT_RANGE_STATUSES: [(i64, &str); 13] = [
    (0, "ready"),
    (1, "sent"),
    (2, "running"),
    (3, "finished"),
    (4, "cancelled"),
    (5, "discarded"),
    (6, "done"),
    (7, "failed"),
    (8, "fatal"),
    (9, "merged"),
    (10, "corrupted"),
    (98, "reserved_fail"),
    (99, "reserved_get"),
];

/// The name of an event-range status code (`None` for a code PanDA does not define).
pub fn event_range_status(code: i64) -> Option<&'static str> {
    EVENT_RANGE_STATUSES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// Job type as bigmon derives it from `prodsourcelabel`.
pub fn job_type(prodsourcelabel: &str) -> &'static str {
    match prodsourcelabel {
        "user" | "panda" => "analysis",
        "managed" | "prod_test" => "production",
        _ => "test",
    }
}

/// What a live simulator reports about itself; shown on the status page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimulatorReport {
    pub running: bool,
    pub ticks: u64,
    pub jobs_created: u64,
    pub tasks_created: u64,
    pub transitions: u64,
    pub last_tick: Option<String>,
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_one_live_table_and_round_trips() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            let live = s.live_table();
            assert!(s.allowed_in(live), "{s} not allowed in {live}");
            if s.is_final() {
                assert!(s.allowed_in(JobTable::Archive));
                assert!(!s.allowed_in(JobTable::Active));
            } else {
                assert!(!s.allowed_in(JobTable::Archived));
                assert!(!s.allowed_in(JobTable::Archive));
            }
        }
        assert_eq!(JobStatus::Running.live_table(), JobTable::Active);
        assert_eq!(JobStatus::Assigned.live_table(), JobTable::Defined);
    }

    #[test]
    fn error_components_name_distinct_columns() {
        let mut columns: Vec<_> = ErrorComponent::ALL
            .iter()
            .map(|c| c.code_column())
            .collect();
        columns.sort();
        columns.dedup();
        assert_eq!(columns.len(), 8);
        assert_eq!(ErrorComponent::parse("pilot"), Some(ErrorComponent::Pilot));
        assert_eq!(ErrorComponent::parse("exe"), Some(ErrorComponent::Exe));
        assert_eq!(ErrorComponent::parse("Executor"), Some(ErrorComponent::Exe));
        assert_eq!(ErrorComponent::Ddm.name(), "dataservice");
        assert_eq!(ErrorComponent::Transform.diag_column(), None);
    }

    #[test]
    fn error_categories_have_names() {
        assert_eq!(error_category_name(1), "File and Storage Issues");
        assert_eq!(error_category_name(42), "Uncategorized");
    }

    #[test]
    fn job_type_follows_prodsourcelabel() {
        assert_eq!(job_type("user"), "analysis");
        assert_eq!(job_type("managed"), "production");
        assert_eq!(job_type("ptest"), "test");
    }
}
