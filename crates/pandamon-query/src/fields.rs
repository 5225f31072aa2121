//! The job attributes a selection can name: the URL parameter, the job column behind it and how
//! its values are read.

/// How a field's values are parsed and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text: exact match, `*` wildcards (case-insensitive), `|` OR, `,` AND, `!` NOT.
    Text,
    /// Text matched as a case-insensitive substring (bigmon's `icontains` fields).
    Contains,
    /// Integers: `|` or `,` lists, `!` NOT, `Not specified`.
    Int,
    /// A status list: `|` or `,` both mean OR.
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The URL parameter (bigmon's name).
    pub param: &'static str,
    /// The job column.
    pub column: &'static str,
    pub kind: Kind,
    /// Naming this field selects specific jobs: the default time window is lifted.
    pub lifts_window: bool,
}

const fn f(param: &'static str, column: &'static str, kind: Kind) -> Field {
    Field {
        param,
        column,
        kind,
        lifts_window: false,
    }
}

const fn id(param: &'static str, column: &'static str, kind: Kind) -> Field {
    Field {
        param,
        column,
        kind,
        lifts_window: true,
    }
}

/// Every filterable job attribute. Parameters are matched case-insensitively.
pub const JOB_FIELDS: &[Field] = &[
    id("pandaid", "pandaid", Kind::Int),
    id("jeditaskid", "jeditaskid", Kind::Int),
    id("taskid", "jeditaskid", Kind::Int),
    id("reqid", "reqid", Kind::Int),
    id("jobname", "jobname", Kind::Text),
    id("jobsetid", "jobsetid", Kind::Int),
    id("parentid", "parentid", Kind::Int),
    f("batchid", "batchid", Kind::Text),
    f("jobstatus", "jobstatus", Kind::Status),
    f("computingsite", "computingsite", Kind::Text),
    f("site", "computingsite", Kind::Text),
    f("computingelement", "computingelement", Kind::Text),
    f("cloud", "cloud", Kind::Text),
    f("region", "cloud", Kind::Text),
    f("nucleus", "nucleus", Kind::Text),
    f("prodsourcelabel", "prodsourcelabel", Kind::Text),
    f("produsername", "produsername", Kind::Contains),
    f("user", "produsername", Kind::Contains),
    f("username", "produsername", Kind::Contains),
    f("workinggroup", "workinggroup", Kind::Text),
    f("processingtype", "processingtype", Kind::Text),
    f("transformation", "transformation", Kind::Contains),
    f("homepackage", "homepackage", Kind::Text),
    f("atlasrelease", "atlasrelease", Kind::Text),
    f("cmtconfig", "cmtconfig", Kind::Text),
    f("gshare", "gshare", Kind::Text),
    f("resourcetype", "resource_type", Kind::Text),
    f("resource_type", "resource_type", Kind::Text),
    f("specialhandling", "specialhandling", Kind::Contains),
    f("schedulerid", "schedulerid", Kind::Text),
    f("container_name", "container_name", Kind::Text),
    f("inputfileproject", "inputfileproject", Kind::Text),
    f("inputfiletype", "inputfiletype", Kind::Text),
    f("outputfiletype", "outputfiletype", Kind::Text),
    f("jobsubstatus", "jobsubstatus", Kind::Text),
    f("destinationse", "destinationse", Kind::Text),
    f("modificationhost", "modificationhost", Kind::Text),
    f("proddblock", "proddblock", Kind::Text),
    f("destinationdblock", "destinationdblock", Kind::Text),
    f("job_label", "job_label", Kind::Text),
    f("attemptnr", "attemptnr", Kind::Int),
    f("maxattempt", "maxattempt", Kind::Int),
    f("corecount", "corecount", Kind::Int),
    f("actualcorecount", "actualcorecount", Kind::Int),
    f("priority", "currentpriority", Kind::Int),
    f("currentpriority", "currentpriority", Kind::Int),
    f("workqueue_id", "workqueue_id", Kind::Int),
    f("eventservice", "eventservice", Kind::Int),
    f("noutputdatafiles", "noutputdatafiles", Kind::Int),
    f("piloterrorcode", "piloterrorcode", Kind::Int),
    f("exeerrorcode", "exeerrorcode", Kind::Int),
    f("ddmerrorcode", "ddmerrorcode", Kind::Int),
    f("brokerageerrorcode", "brokerageerrorcode", Kind::Int),
    f(
        "jobdispatchererrorcode",
        "jobdispatchererrorcode",
        Kind::Int,
    ),
    f("taskbuffererrorcode", "taskbuffererrorcode", Kind::Int),
    f("superrorcode", "superrorcode", Kind::Int),
    f("transexitcode", "transexitcode", Kind::Text),
];

/// Numeric range parameters `<param>=lo:hi` (also `lo-hi`).
pub const RANGE_FIELDS: &[(&str, &str)] = &[
    ("priorityrange", "currentpriority"),
    ("jobsetrange", "jobsetid"),
    ("neventsrange", "nevents"),
    ("attemptnrrange", "attemptnr"),
];

/// Time columns a window or a `<column>range=from|to` can apply to.
pub const TIME_COLUMNS: &[&str] = &[
    "modificationtime",
    "creationtime",
    "starttime",
    "endtime",
    "statechangetime",
];

/// Parameters that shape the answer rather than filter the jobs.
pub const PRESENTATION_PARAMS: &[&str] = &[
    "json",
    "timestamp",
    "_",
    "sortby",
    "limit",
    "display_limit",
    "page",
    "fields",
    "outputs",
    "mode",
    "datasets",
    "extra",
    "hours",
    "days",
    "date_from",
    "date_to",
    "earlierthan",
    "earlierthandays",
    "jobtype",
    "durationmin",
];

/// The parameters one kind of object (jobs, tasks) understands.
#[derive(Debug)]
pub struct Vocabulary {
    pub name: &'static str,
    pub fields: &'static [Field],
    pub ranges: &'static [(&'static str, &'static str)],
    pub time_columns: &'static [&'static str],
    /// The column a time window applies to.
    pub window_column: &'static str,
    pub sort_keys: &'static [(&'static str, &'static str)],
    pub default_sort: crate::Sort,
    pub json_columns: &'static [&'static str],
    pub id_column: &'static str,
    /// Whether a default time window applies (files and datasets have none).
    pub windowed: bool,
    /// Parameters with a meaning of their own rather than a column match.
    pub derived: &'static [Derived],
    /// The longest time window one request may read, in days (the tables of jobs and workers
    /// are the largest; an id-narrowed selection has no window and no limit).
    pub max_window_days: Option<i64>,
}

/// A parameter computed from several columns or read in its own notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    /// `minramcount=2-3GB`: memory in 1-GB bins (MB in the database), or plain MB values.
    MemoryBins,
    /// `jobtype=analysis|production|...`: bigmon's job types, from the source label and more.
    JobType,
    /// `durationmin=lo:hi`: run time in minutes, up to now for jobs still running.
    DurationMinutes,
}

impl Derived {
    pub const ALL: [Derived; 3] = [
        Derived::MemoryBins,
        Derived::JobType,
        Derived::DurationMinutes,
    ];

    /// The URL parameter.
    pub fn param(self) -> &'static str {
        match self {
            Derived::MemoryBins => "minramcount",
            Derived::JobType => "jobtype",
            Derived::DurationMinutes => "durationmin",
        }
    }

    /// What its values mean, for the API document.
    pub fn description(self) -> &'static str {
        match self {
            Derived::MemoryBins => "memory in GB bins (e.g. 2-3GB) or MB values",
            Derived::JobType => "bigmon's job types: analysis, production, ... (| lists)",
            Derived::DurationMinutes => "run time in minutes, lo:hi",
        }
    }
}

impl Vocabulary {
    pub fn field(&self, param: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.param == param)
    }
}

/// The longest window of a job or worker page: bigmon's deep query reaches 180 days.
pub const MAX_JOB_WINDOW_DAYS: i64 = 180;

pub static JOBS: Vocabulary = Vocabulary {
    name: "jobs",
    fields: JOB_FIELDS,
    ranges: RANGE_FIELDS,
    time_columns: TIME_COLUMNS,
    window_column: "modificationtime",
    sort_keys: crate::SORT_KEYS,
    default_sort: crate::Sort {
        column: "modificationtime",
        descending: true,
    },
    json_columns: JOB_COLUMNS_FOR_JSON,
    id_column: "pandaid",
    windowed: true,
    derived: &Derived::ALL,
    max_window_days: Some(MAX_JOB_WINDOW_DAYS),
};

/// Filterable JEDI task attributes.
pub const TASK_FIELDS: &[Field] = &[
    id("jeditaskid", "jeditaskid", Kind::Int),
    id("taskid", "jeditaskid", Kind::Int),
    id("reqid", "reqid", Kind::Int),
    id("taskname", "taskname", Kind::Text),
    id("parent_tid", "parent_tid", Kind::Int),
    f("status", "status", Kind::Status),
    f("superstatus", "superstatus", Kind::Status),
    f("username", "username", Kind::Contains),
    f("user", "username", Kind::Contains),
    f("tasktype", "tasktype", Kind::Text),
    f("processingtype", "processingtype", Kind::Text),
    f("campaign", "campaign", Kind::Text),
    f("workinggroup", "workinggroup", Kind::Text),
    f("gshare", "gshare", Kind::Text),
    f("prodsourcelabel", "prodsourcelabel", Kind::Text),
    f("cloud", "cloud", Kind::Text),
    f("nucleus", "nucleus", Kind::Text),
    f("site", "site", Kind::Text),
    f("resourcetype", "resource_type", Kind::Text),
    f("resource_type", "resource_type", Kind::Text),
    f("architecture", "architecture", Kind::Text),
    f("transpath", "transpath", Kind::Contains),
    f("transhome", "transhome", Kind::Text),
    f("container_name", "container_name", Kind::Text),
    f("framework", "framework", Kind::Text),
    f("job_label", "job_label", Kind::Text),
    f("corecount", "corecount", Kind::Int),
    f("eventservice", "eventservice", Kind::Int),
    f("workqueue_id", "workqueue_id", Kind::Int),
    f("attemptnr", "attemptnr", Kind::Int),
    f("taskpriority", "taskpriority", Kind::Int),
];

pub const TASK_RANGES: &[(&str, &str)] = &[
    ("priorityrange", "currentpriority"),
    ("progressrange", "progress"),
    ("failureraterange", "failurerate"),
];

pub const TASK_TIME_COLUMNS: &[&str] = &[
    "modificationtime",
    "creationdate",
    "starttime",
    "endtime",
    "statechangetime",
];

pub const TASK_SORT_KEYS: &[(&str, &str)] = &[
    ("time", "modificationtime"),
    ("create", "creationdate"),
    ("statetime", "statechangetime"),
    ("priority", "currentpriority"),
    ("progress", "progress"),
    ("jeditaskid", "jeditaskid"),
];

/// Columns of a task the list and `fields=` may name.
pub const TASK_COLUMNS_FOR_JSON: &[&str] = &[
    "jeditaskid",
    "taskname",
    "status",
    "superstatus",
    "username",
    "creationdate",
    "modificationtime",
    "starttime",
    "endtime",
    "statechangetime",
    "reqid",
    "prodsourcelabel",
    "tasktype",
    "processingtype",
    "campaign",
    "workinggroup",
    "gshare",
    "workqueue_id",
    "resource_type",
    "corecount",
    "ramcount",
    "taskpriority",
    "currentpriority",
    "progress",
    "failurerate",
    "errordialog",
    "parent_tid",
    "cloud",
    "nucleus",
    "site",
    "eventservice",
    "attemptnr",
    "container_name",
    "transpath",
    "transhome",
    "architecture",
    "vo",
    "framework",
];

pub static TASKS: Vocabulary = Vocabulary {
    name: "tasks",
    fields: TASK_FIELDS,
    ranges: TASK_RANGES,
    time_columns: TASK_TIME_COLUMNS,
    window_column: "modificationtime",
    sort_keys: TASK_SORT_KEYS,
    default_sort: crate::Sort {
        column: "modificationtime",
        descending: true,
    },
    json_columns: TASK_COLUMNS_FOR_JSON,
    id_column: "jeditaskid",
    windowed: true,
    derived: &[],
    max_window_days: None,
};

/// Files of jobs (`filestable4`).
pub const FILE_FIELDS: &[Field] = &[
    id("lfn", "lfn", Kind::Text),
    id("dataset", "dataset", Kind::Text),
    id("pandaid", "pandaid", Kind::Int),
    id("jeditaskid", "jeditaskid", Kind::Int),
    id("datasetid", "datasetid", Kind::Int),
    id("fileid", "fileid", Kind::Int),
    id("guid", "guid", Kind::Text),
    f("type", "type", Kind::Text),
    f("status", "status", Kind::Text),
    f("scope", "scope", Kind::Text),
    f("destinationse", "destinationse", Kind::Text),
];

pub const FILE_COLUMNS: &[&str] = &[
    "row_id",
    "pandaid",
    "jeditaskid",
    "datasetid",
    "fileid",
    "lfn",
    "guid",
    "type",
    "dataset",
    "status",
    "scope",
    "fsize",
    "checksum",
    "attemptnr",
    "destinationse",
    "modificationtime",
];

pub static FILES: Vocabulary = Vocabulary {
    name: "files",
    fields: FILE_FIELDS,
    ranges: &[],
    time_columns: &["modificationtime"],
    window_column: "modificationtime",
    sort_keys: &[("rowid", "row_id"), ("pandaid", "pandaid"), ("lfn", "lfn")],
    default_sort: crate::Sort {
        column: "row_id",
        descending: true,
    },
    json_columns: FILE_COLUMNS,
    id_column: "row_id",
    windowed: false,
    derived: &[],
    max_window_days: None,
};

/// JEDI datasets (`jedi_datasets`).
pub const DATASET_FIELDS: &[Field] = &[
    id("datasetname", "datasetname", Kind::Text),
    id("jeditaskid", "jeditaskid", Kind::Int),
    id("datasetid", "datasetid", Kind::Int),
    id("containername", "containername", Kind::Text),
    f("type", "type", Kind::Text),
    f("status", "status", Kind::Text),
    f("state", "state", Kind::Text),
    f("cloud", "cloud", Kind::Text),
    f("site", "site", Kind::Text),
];

pub const DATASET_COLUMNS: &[&str] = &[
    "jeditaskid",
    "datasetid",
    "datasetname",
    "type",
    "status",
    "state",
    "nfiles",
    "nfilesfinished",
    "nfilesfailed",
    "nfilesused",
    "nfilesonhold",
    "nevents",
    "neventsused",
    "containername",
    "creationtime",
    "modificationtime",
    "masterid",
    "provenanceid",
    "destination",
    "storagetoken",
];

pub static DATASETS: Vocabulary = Vocabulary {
    name: "datasets",
    fields: DATASET_FIELDS,
    ranges: &[],
    time_columns: &["creationtime", "modificationtime"],
    window_column: "modificationtime",
    sort_keys: &[
        ("datasetid", "datasetid"),
        ("time", "modificationtime"),
        ("create", "creationtime"),
    ],
    default_sort: crate::Sort {
        column: "datasetid",
        descending: true,
    },
    json_columns: DATASET_COLUMNS,
    id_column: "datasetid",
    windowed: false,
    derived: &[],
    max_window_days: None,
};

/// Columns a JSON `fields=` projection may name.
pub const JOB_COLUMNS_FOR_JSON: &[&str] = &[
    "pandaid",
    "jeditaskid",
    "reqid",
    "jobname",
    "jobstatus",
    "jobsubstatus",
    "computingsite",
    "computingelement",
    "cloud",
    "nucleus",
    "prodsourcelabel",
    "produsername",
    "workinggroup",
    "processingtype",
    "transformation",
    "homepackage",
    "atlasrelease",
    "cmtconfig",
    "gshare",
    "resource_type",
    "currentpriority",
    "assignedpriority",
    "attemptnr",
    "maxattempt",
    "parentid",
    "jobsetid",
    "creationtime",
    "modificationtime",
    "statechangetime",
    "starttime",
    "endtime",
    "corecount",
    "actualcorecount",
    "minramcount",
    "maxrss",
    "maxpss",
    "cpuconsumptiontime",
    "hs06",
    "hs06sec",
    "nevents",
    "ninputdatafiles",
    "noutputdatafiles",
    "inputfilebytes",
    "outputfilebytes",
    "eventservice",
    "specialhandling",
    "batchid",
    "schedulerid",
    "pilotid",
    "container_name",
    "inputfileproject",
    "inputfiletype",
    "outputfiletype",
    "destinationse",
    "proddblock",
    "destinationdblock",
    "transexitcode",
    "piloterrorcode",
    "piloterrordiag",
    "exeerrorcode",
    "exeerrordiag",
    "superrorcode",
    "superrordiag",
    "ddmerrorcode",
    "ddmerrordiag",
    "brokerageerrorcode",
    "brokerageerrordiag",
    "jobdispatchererrorcode",
    "jobdispatchererrordiag",
    "taskbuffererrorcode",
    "taskbuffererrordiag",
    "gco2_global",
    "gco2_regional",
    "job_label",
    "modificationhost",
    "workqueue_id",
    "maxwalltime",
];

/// JEDI file records (`jedi_dataset_contents`).
pub const CONTENT_FIELDS: &[Field] = &[
    id("lfn", "lfn", Kind::Text),
    id("jeditaskid", "jeditaskid", Kind::Int),
    id("datasetid", "datasetid", Kind::Int),
    id("fileid", "fileid", Kind::Int),
    id("pandaid", "pandaid", Kind::Int),
    f("status", "status", Kind::Text),
    f("type", "type", Kind::Text),
];

pub const CONTENT_COLUMNS: &[&str] = &[
    "jeditaskid",
    "datasetid",
    "fileid",
    "lfn",
    "type",
    "status",
    "attemptnr",
    "maxattempt",
    "failedattempt",
    "pandaid",
    "nevents",
    "fsize",
    "scope",
    "creationdate",
    "lastattempttime",
];

pub static CONTENTS: Vocabulary = Vocabulary {
    name: "contents",
    fields: CONTENT_FIELDS,
    ranges: &[],
    time_columns: &["creationdate", "lastattempttime"],
    window_column: "creationdate",
    sort_keys: &[("fileid", "fileid")],
    default_sort: crate::Sort {
        column: "fileid",
        descending: false,
    },
    json_columns: CONTENT_COLUMNS,
    id_column: "fileid",
    windowed: false,
    derived: &[],
    max_window_days: None,
};

/// Harvester workers (`harvester_workers`): the pilots Harvester submits.
pub const WORKER_FIELDS: &[Field] = &[
    f("instance", "harvesterid", Kind::Text),
    f("harvesterid", "harvesterid", Kind::Text),
    f("computingsite", "computingsite", Kind::Text),
    f("computingelement", "computingelement", Kind::Text),
    f("status", "status", Kind::Status),
    f("resourcetype", "resourcetype", Kind::Text),
    f("jobtype", "jobtype", Kind::Text),
    f("nativestatus", "nativestatus", Kind::Text),
    f("queuename", "queuename", Kind::Text),
    f("pilotstatus", "pilotstatus", Kind::Text),
    f("errorcode", "errorcode", Kind::Int),
    f("ncore", "ncore", Kind::Int),
    id("workerid", "workerid", Kind::Int),
    id("batchid", "batchid", Kind::Text),
    id("nodeid", "nodeid", Kind::Text),
];

/// Every worker column, in the order pages and JSON show them.
pub const WORKER_COLUMNS: &[&str] = &[
    "harvesterid",
    "workerid",
    "status",
    "computingsite",
    "computingelement",
    "resourcetype",
    "jobtype",
    "nativestatus",
    "njobs",
    "ncore",
    "minramcount",
    "submittime",
    "starttime",
    "endtime",
    "lastupdate",
    "batchid",
    "nodeid",
    "queuename",
    "errorcode",
    "nativeexitcode",
    "diagmessage",
    "batchlog",
    "stdout",
    "stderr",
    "submissionhost",
    "harvesterhost",
    "jdl",
    "pilotstarttime",
    "pilotendtime",
    "pilotstatus",
    "pilotstatussynctime",
];

pub static WORKERS: Vocabulary = Vocabulary {
    name: "workers",
    fields: WORKER_FIELDS,
    ranges: &[],
    time_columns: &["submittime", "lastupdate", "starttime", "endtime"],
    window_column: "submittime",
    sort_keys: &[
        ("lastupdate", "lastupdate"),
        ("submittime", "submittime"),
        ("workerid", "workerid"),
        ("starttime", "starttime"),
        ("endtime", "endtime"),
    ],
    default_sort: crate::Sort {
        column: "lastupdate",
        descending: true,
    },
    json_columns: WORKER_COLUMNS,
    id_column: "workerid",
    windowed: true,
    derived: &[],
    max_window_days: Some(MAX_JOB_WINDOW_DAYS),
};
