//! `/jobs/`: the attribute summary and error summary over every job of the selection, and one
//! sorted page of the jobs, as HTML or bigmon-shaped JSON.

use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{Facet, FacetView, facet_views, job_facets, list_table, pie_charts};
use crate::kit::format::{describe_window, human_count, iso};
use crate::kit::joberrors::{
    ErrorCount, error_columns, error_summary, job_tables, typed_job_columns,
};
use crate::kit::links::{link_with, page_links};
use crate::kit::respond::{PageRequest, list_columns, project_rows};
use crate::kit::source::{self, Source};
use crate::kit::state::AppState;
use askama::Template;
use axum::response::Response;
use chrono::Utc;
use pandamon_query::Selection;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// Attribute summary facets: (field name shown and used in links, job column).
pub const FACETS: &[(&str, &str)] = &[
    ("jobstatus", "jobstatus"),
    ("computingsite", "computingsite"),
    ("cloud", "cloud"),
    ("nucleus", "nucleus"),
    ("prodsourcelabel", "prodsourcelabel"),
    ("produsername", "produsername"),
    ("jeditaskid", "jeditaskid"),
    ("reqid", "reqid"),
    ("processingtype", "processingtype"),
    ("workinggroup", "workinggroup"),
    ("transformation", "transformation"),
    ("homepackage", "homepackage"),
    ("inputfileproject", "inputfileproject"),
    ("inputfiletype", "inputfiletype"),
    ("outputfiletype", "outputfiletype"),
    ("attemptnr", "attemptnr"),
    ("specialhandling", "specialhandling"),
    ("priorityrange", "currentpriority"),
    ("eventservice", "eventservice"),
    ("jobsubstatus", "jobsubstatus"),
    ("gshare", "gshare"),
    ("resourcetype", "resource_type"),
    ("corecount", "corecount"),
    ("actualcorecount", "actualcorecount"),
    ("noutputdatafiles", "noutputdatafiles"),
    ("harvesterinstance", "schedulerid"),
    ("computingelement", "computingelement"),
    ("container_name", "container_name"),
    ("minramcount", "minramcount"),
    ("neventsrange", "nevents"),
];

/// Columns of a job list row unless `fields=` asks for others.
const LIST_COLUMNS: &[&str] = &[
    "pandaid",
    "jeditaskid",
    "jobname",
    "jobstatus",
    "computingsite",
    "cloud",
    "nucleus",
    "prodsourcelabel",
    "produsername",
    "processingtype",
    "attemptnr",
    "currentpriority",
    "corecount",
    "creationtime",
    "modificationtime",
    "statechangetime",
    "starttime",
    "endtime",
    "gshare",
    "resource_type",
    "piloterrorcode",
    "piloterrordiag",
    "exeerrorcode",
    "exeerrordiag",
    "transexitcode",
    "ddmerrorcode",
    "jobdispatchererrorcode",
    "taskbuffererrorcode",
    "superrorcode",
    "brokerageerrorcode",
];

/// `/jobs/?json`: bigmon's keys, over the whole selection.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobsJson {
    pub selectionsummary: Vec<Facet>,
    /// One page of jobs, with the columns `fields=` names (or the default list).
    pub jobs: Vec<Map<String, Json>>,
    #[serde(rename = "errsByCount")]
    pub errs_by_count: Vec<ErrorCount>,
    pub totaljobs: i64,
    pub page: u64,
    pub display_limit: u64,
    pub pages: u64,
    pub tables: Vec<&'static str>,
    pub notes: Vec<String>,
    pub datatime: String,
    /// Whether the live index or the database answered the summaries.
    pub source: Source,
    /// Part of the answer could not be read (the database failed while the index answered).
    #[serde(skip)]
    pub degraded: bool,
}

/// Collects everything `/jobs/` shows for a parsed selection.
pub async fn collect(state: &AppState, selection: &Selection) -> AppResult<JobsJson> {
    let db = &state.db;
    let tables = job_tables(selection);
    let (mut total, source) = source::count(state, selection, &tables).await?;
    if let Some(limit) = selection.limit {
        total = total.min(limit as i64);
    }
    let facet_columns =
        typed_job_columns(&FACETS.iter().map(|(_, column)| *column).collect::<Vec<_>>());
    let (per_facet, _) = source::facets(state, selection, &tables, &facet_columns).await?;
    let failing = selection.and_in("jobstatus", &["failed", "holding"]);
    let (error_groups, _) = source::group(state, &failing, &tables, error_columns()).await?;
    let mut notes = selection.notes.clone();
    // With the summaries from the index, a failing database costs only what must be read from
    // it (descriptions, the page's rows): the page says so instead of failing whole.
    let degrade = |what: &str, e: &AppError, notes: &mut Vec<String>| {
        if e.is_unreachable() {
            db.health.mark_down();
        }
        tracing::warn!(error = ?e, what, "database read failed; serving the index's summary");
        notes.push(format!(
            "{what} could not be read from the database; the summary comes from the live index"
        ));
    };
    let descriptions = match state.reference.error_descriptions(db).await {
        Ok(d) => d,
        Err(e) if source == Source::Index => {
            degrade("error descriptions", &e, &mut notes);
            std::sync::Arc::default()
        }
        Err(e) => return Err(e),
    };
    let columns = list_columns(selection, LIST_COLUMNS);
    let page_size = selection.display_limit;
    let offset = (selection.page - 1) * page_size;
    let remaining = (total as u64).saturating_sub(offset);
    let rows = if remaining == 0 {
        Vec::new()
    } else {
        match source::job_page(
            state,
            selection,
            &tables,
            &columns,
            page_size.min(remaining),
            offset,
        )
        .await
        {
            Ok(rows) => rows,
            Err(e @ (AppError::Unavailable(_) | AppError::Internal(_)))
                if source == Source::Index =>
            {
                degrade("the job list", &e, &mut notes);
                Vec::new()
            }
            Err(e) => return Err(e),
        }
    };
    let jobs = project_rows(selection, &columns, rows);
    Ok(JobsJson {
        selectionsummary: job_facets(FACETS, &per_facet),
        degraded: notes.len() > selection.notes.len(),
        jobs,
        errs_by_count: error_summary(&error_groups, &descriptions),
        totaljobs: total,
        page: selection.page,
        display_limit: page_size,
        pages: (total as u64).div_ceil(page_size.max(1)),
        tables: tables.iter().map(|t| t.name()).collect(),
        notes,
        // From the index: the newest change it has seen; from the database: now.
        datatime: match (
            source,
            state.index.as_ref().and_then(|i| i.status().data_time),
        ) {
            (Source::Index, Some(t)) => t.replacen(' ', "T", 1),
            _ => iso(&Utc::now().naive_utc()),
        },
        source,
    })
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage<'a> {
    data: &'a JobsJson,
    source: &'static str,
    charts: Vec<String>,
    facets: Vec<FacetView>,
    columns: Vec<&'a str>,
    rows: Vec<Vec<(String, Option<String>)>>,
    window: String,
    total: String,
    prev: Option<String>,
    next: Option<String>,
}

/// The default window of `/jobs/` in hours: `[modules.jobs] default_hours`, else 12.
pub fn default_hours(state: &AppState) -> i64 {
    state.settings.module_int("jobs", "default_hours", 12)
}

pub async fn list_jobs(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let selection = request.selection(&pandamon_query::fields::JOBS, default_hours(state), &[])?;
    request
        .answer(&selection, || async {
            let data = collect(state, &selection).await?;
            let reply = request.reply(&data, data.source == Source::Index, || {
                render(&request.params, &selection, &data)
            })?;
            Ok(if data.degraded {
                reply.uncacheable()
            } else {
                reply
            })
        })
        .await
}

fn render(
    params: &[(String, String)],
    selection: &Selection,
    data: &JobsJson,
) -> AppResult<String> {
    let facets = facet_views(&data.selectionsummary, params, |field, name| match field {
        "harvesterinstance" if name != "Not specified" => Some(link_with(
            params,
            "schedulerid",
            &format!("harvester-{name}"),
        )),
        "harvesterinstance" => Some(link_with(params, "schedulerid", name)),
        _ => None,
    });
    let charts = pie_charts(
        &facets,
        &["jobstatus", "computingsite", "produsername"],
        data.totaljobs,
    );
    let table = list_table(&data.jobs, |column, text, _| match column {
        "pandaid" => Some(format!("/job/{text}/")),
        "jeditaskid" => Some(format!("/task/{text}/")),
        "computingsite" | "jobstatus" | "produsername" | "cloud" | "nucleus" | "gshare" => {
            Some(link_with(params, column, text))
        }
        _ => None,
    });
    let (prev, next) = page_links(params, data.page, data.pages);
    let page = JobsPage {
        source: match data.source {
            Source::Index => "live index",
            Source::Database => "database",
        },
        charts,
        facets,
        columns: table.columns,
        rows: table.rows,
        window: describe_window(selection),
        total: human_count(data.totaljobs),
        prev,
        next,
        data,
    };
    Ok(page.render()?)
}
