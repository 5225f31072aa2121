//! `/jobs/`: the attribute summary and error summary over every job of the selection, and one
//! sorted page of the jobs, as HTML or bigmon-shaped JSON.

use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{Facet, FacetView, facet_views, job_facets, pie_charts};
use crate::kit::format::{compact_duration, describe_window, field_text, human_count, iso};
use crate::kit::joberrors::{
    ErrorCount, decode_errors, error_columns, error_jobs_link, error_summary, job_column_type,
    job_tables, typed_job_columns,
};
use crate::kit::links::{link_with, page_links, url_with};
use crate::kit::respond::{PageRequest, list_columns, project_rows};
use crate::kit::selectionbar::SelectionBar;
use crate::kit::source::{self, Source};
use crate::kit::state::AppState;
use crate::kit::table::{Header, TableCell, header};
use askama::Template;
use axum::response::Response;
use chrono::Utc;
use pandamon_query::Selection;
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::Cell;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

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
    bar: SelectionBar,
    headers: Vec<Header>,
    rows: Vec<Vec<TableCell>>,
    /// The column chooser: (column, shown now).
    choices: Vec<(&'static str, bool)>,
    /// The parameters the chooser keeps (all but `fields` and `page`).
    keep: Vec<(String, String)>,
    /// The fields a condition can be added on, for the "narrow" form.
    narrow: Vec<&'static str>,
    /// This selection with the default columns.
    default_columns: String,
    /// The failed and holding jobs of each entry of the error summary.
    error_links: Vec<String>,
    window: String,
    total: String,
    prev: Option<String>,
    next: Option<String>,
}

/// The job list's columns unless `fields=` names others, as bigmon shows them: (column or
/// derived value, header). `duration` and `error` are computed from the row.
const VIEW_COLUMNS: &[(&str, &str)] = &[
    ("pandaid", "PanDA ID"),
    ("produsername", "owner"),
    ("jeditaskid", "task"),
    ("jobname", "job name"),
    ("prodsourcelabel", "type"),
    ("jobstatus", "status"),
    ("creationtime", "created"),
    ("starttime", "started"),
    ("endtime", "ended"),
    ("duration", "duration"),
    ("attemptnr", "attempt"),
    ("corecount", "cores"),
    ("computingsite", "site"),
    ("error", "error"),
];
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
                render(&request.params, &selection, &data, default_hours(state))
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
    default_hours: i64,
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
    let vocabulary = &pandamon_query::fields::JOBS;
    let shown: Vec<(&str, &str)> = match &selection.fields {
        Some(fields) => fields.iter().map(|f| (f.as_str(), f.as_str())).collect(),
        None => VIEW_COLUMNS.to_vec(),
    };
    let headers = shown
        .iter()
        .map(|(column, label)| {
            header(
                params,
                selection,
                vocabulary,
                column,
                label,
                if is_numeric(column) { "num" } else { "" },
            )
        })
        .collect();
    let now = Utc::now().naive_utc();
    let described: HashMap<&str, &ErrorCount> = data
        .errs_by_count
        .iter()
        .map(|e| (e.error.as_str(), e))
        .collect();
    let rows = data
        .jobs
        .iter()
        .map(|job| {
            shown
                .iter()
                .map(|(column, _)| job_cell(params, job, column, now, &described))
                .collect()
        })
        .collect();
    let shown_now: Vec<&str> = shown.iter().map(|(c, _)| *c).collect();
    let choices = vocabulary
        .json_columns
        .iter()
        .map(|c| (*c, shown_now.contains(c)))
        .collect();
    let keep: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "fields" | "page" | "json"))
        .cloned()
        .collect();
    let default_columns = url_with("/jobs/", &keep, &[]);
    let (prev, next) = page_links(params, data.page, data.pages);
    let page = JobsPage {
        source: match data.source {
            Source::Index => "live index",
            Source::Database => "database",
        },
        charts,
        facets,
        bar: SelectionBar::new("/jobs/", params, selection, default_hours),
        headers,
        rows,
        choices,
        keep,
        narrow: NARROW_FIELDS.to_vec(),
        default_columns,
        error_links: data
            .errs_by_count
            .iter()
            .map(|e| error_jobs_link(params, &e.error, &[]))
            .collect(),
        window: describe_window(selection),
        total: human_count(data.totaljobs),
        prev,
        next,
        data,
    };
    Ok(page.render()?)
}

/// Whether a column holds numbers (right-aligned); error codes read as names.
fn is_numeric(column: &str) -> bool {
    column == "duration"
        || matches!(
            job_column_type(column),
            ColType::Int | ColType::BigInt | ColType::SmallInt | ColType::Numeric(..)
        ) && !column.ends_with("errorcode")
}

/// Fields the "narrow" form offers: a condition on any of them runs over the whole selection.
const NARROW_FIELDS: &[&str] = &[
    "jobname",
    "produsername",
    "computingsite",
    "jeditaskid",
    "pandaid",
    "jobstatus",
    "transformation",
    "processingtype",
    "proddblock",
    "destinationdblock",
    "piloterrorcode",
    "exeerrorcode",
    "workinggroup",
    "gshare",
    "cloud",
];

/// One cell of the job list: links to the job, its task and the narrowed selection, the
/// status in its colour, durations and errors computed from the row.
fn job_cell(
    params: &[(String, String)],
    job: &Map<String, Json>,
    column: &str,
    now: chrono::NaiveDateTime,
    described: &HashMap<&str, &ErrorCount>,
) -> TableCell {
    let text = field_text(job, column);
    let numeric = if is_numeric(column) { "num" } else { "" };
    match column {
        "duration" => {
            let time = |c: &str| {
                chrono::NaiveDateTime::parse_from_str(&field_text(job, c), "%Y-%m-%d %H:%M:%S").ok()
            };
            match time("starttime") {
                Some(start) => {
                    let end = time("endtime").unwrap_or(now);
                    TableCell::text(compact_duration((end - start).num_seconds())).class("num")
                }
                None => TableCell::default().class("num"),
            }
        }
        "error" => {
            let cells: HashMap<&str, Cell> = error_columns()
                .iter()
                .filter_map(|(c, _)| {
                    let cell = match job.get(*c)? {
                        Json::Number(n) => Cell::Int(n.as_i64()?),
                        Json::String(s) => Cell::Text(s.clone()),
                        _ => return None,
                    };
                    Some((*c, cell))
                })
                .collect();
            let errors = decode_errors(|c| cells.get(c));
            let Some((component, code, diag)) = errors.first() else {
                return TableCell::default();
            };
            let error = format!("{}:{code}", component.name());
            let acronym = described
                .get(error.as_str())
                .map_or("", |e| e.acronym.as_str());
            let desc = described
                .get(error.as_str())
                .map_or("", |e| e.desc.as_str());
            let more = match errors.len() {
                1 => String::new(),
                n => format!(" (+{})", n - 1),
            };
            TableCell::text(format!("{error} {acronym}{more}").trim_end().to_string())
                .link(Some(error_jobs_link(params, &error, &[])))
                .title(format!("{desc} {diag}").trim().to_string())
                .class("error")
        }
        _ if text.is_empty() => TableCell::default().class(numeric),
        "pandaid" => TableCell::text(&text)
            .link(Some(format!("/job/{text}/")))
            .class(numeric),
        "jeditaskid" => TableCell::text(&text)
            .link(Some(format!("/task/{text}/")))
            .class(numeric),
        "jobstatus" => TableCell::text(&text)
            .link(Some(link_with(params, column, &text)))
            .class(format!("st-{text}")),
        "computingsite" | "produsername" | "prodsourcelabel" | "cloud" | "nucleus" | "gshare"
        | "processingtype" | "workinggroup" | "transformation" => TableCell::text(&text)
            .link(Some(link_with(params, column, &text)))
            .title(text.clone())
            .class("short"),
        // Times without the year and seconds (the full time on hover): the list fits the window.
        "creationtime" | "starttime" | "endtime" | "modificationtime" | "statechangetime"
            if text.len() == 19 =>
        {
            TableCell::text(&text[5..16]).title(text.clone())
        }
        "jobname" | "proddblock" | "destinationdblock" => {
            TableCell::text(&text).title(text.clone()).class("name")
        }
        _ => TableCell::text(text).class(numeric),
    }
}
