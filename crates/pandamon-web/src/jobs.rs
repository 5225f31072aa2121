//! `/jobs/`: the attribute summary and error summary over every job of the selection, and one
//! sorted page of the jobs, as HTML or bigmon-shaped JSON.

use crate::error::AppResult;
use crate::state::AppState;
use crate::status::human_count;
use askama::Template;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use chrono::{NaiveDateTime, Utc};
use pandamon_model::{ErrorComponent, JobStatus, JobTable, error_category_name};
use pandamon_query::Selection;
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::{Cell, ErrorDescription};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};

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

fn column_type(column: &str) -> ColType {
    pandamon_store::Catalog::get()
        .table("jobsactive4")
        .column(column)
        .map_or(ColType::Text, |c| c.ty)
}

#[derive(Debug, Serialize)]
pub struct KeyCount {
    pub kname: Json,
    pub kvalue: i64,
}

#[derive(Debug, Serialize)]
pub struct Facet {
    pub field: String,
    pub list: Vec<KeyCount>,
}

#[derive(Debug, Serialize)]
pub struct ErrorCount {
    pub error: String,
    pub codename: String,
    pub codeval: i64,
    pub diag: String,
    pub desc: String,
    pub cat: Category,
    pub count: i64,
    pub example_pandaid: i64,
}

#[derive(Debug, Serialize, Clone)]
pub struct Category {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct JobsJson {
    pub selectionsummary: Vec<Facet>,
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
    pub source: crate::source::Source,
}

fn iso(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

pub fn cell_json(cell: &Cell) -> Json {
    match cell {
        Cell::Null => Json::Null,
        Cell::Int(v) => Json::from(*v),
        Cell::Float(v) => Json::from(*v),
        Cell::Text(s) => Json::from(s.trim_end().to_string()),
        Cell::Time(t) => Json::from(iso(t)),
    }
}

fn facet_key(field: &str, cell: &Cell) -> Vec<Json> {
    match (field, cell) {
        (_, Cell::Null) => vec![Json::from("Not specified")],
        ("priorityrange", Cell::Int(p)) => {
            let lo = p.div_euclid(100) * 100;
            vec![Json::from(format!("{lo}:{}", lo + 99))]
        }
        // Memory in 1-GB bins of MB, as bigmon shows it.
        ("minramcount", Cell::Int(mb)) => {
            let gb = mb.div_euclid(1_000);
            vec![Json::from(format!("{gb}-{}GB", gb + 1))]
        }
        ("neventsrange", Cell::Int(n)) => {
            let lo = n.div_euclid(1_000) * 1_000;
            vec![Json::from(format!("{lo}:{}", lo + 999))]
        }
        ("harvesterinstance", Cell::Text(s)) => {
            vec![Json::from(
                s.strip_prefix("harvester-").unwrap_or(s).to_string(),
            )]
        }
        ("specialhandling", Cell::Text(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.starts_with("tq"))
            .map(|t| Json::from(t.to_string()))
            .collect(),
        (_, Cell::Text(s)) if s.trim().is_empty() => vec![Json::from("Not specified")],
        (_, c) => vec![cell_json(c)],
    }
}

/// Builds the attribute summary from per-facet (value, count) lists, in `FACETS` order.
fn summarise(per_facet: &[Vec<(Cell, i64)>]) -> Vec<Facet> {
    let mut per_field: Vec<HashMap<String, (Json, i64)>> = vec![HashMap::new(); FACETS.len()];
    for (i, values) in per_facet.iter().enumerate().take(FACETS.len()) {
        let field = FACETS[i].0;
        for (cell, count) in values {
            for key in facet_key(field, cell) {
                let entry = per_field[i].entry(key.to_string()).or_insert((key, 0));
                entry.1 += count;
            }
        }
    }
    FACETS
        .iter()
        .zip(per_field)
        .filter(|(_, values)| !values.is_empty())
        .map(|((field, _), values)| {
            let mut list: Vec<KeyCount> = values
                .into_values()
                .map(|(kname, kvalue)| KeyCount { kname, kvalue })
                .collect();
            if *field == "jobstatus" {
                let rank = |k: &Json| {
                    k.as_str()
                        .and_then(JobStatus::parse)
                        .map_or(usize::MAX, |s| s as usize)
                };
                list.sort_by_key(|k| rank(&k.kname));
            } else {
                list.sort_by(|a, b| {
                    b.kvalue
                        .cmp(&a.kvalue)
                        .then_with(|| a.kname.to_string().cmp(&b.kname.to_string()))
                });
            }
            Facet {
                field: field.to_string(),
                list,
            }
        })
        .collect()
}

/// The columns grouped for the error summary: every code and diagnostic.
pub fn error_columns() -> Vec<(&'static str, ColType)> {
    let mut columns = Vec::new();
    for c in ErrorComponent::ALL {
        columns.push((c.code_column(), column_type(c.code_column())));
        if let Some(diag) = c.diag_column() {
            columns.push((diag, column_type(diag)));
        }
    }
    columns
}

/// Jobs, smallest pandaid and diagnostics seen for one `component:code`.
struct Tally {
    count: i64,
    example: i64,
    diags: HashMap<String, i64>,
}

/// The errors of a group of jobs grouped by [`error_columns`]: (component, code, diagnostic) for
/// every component with a positive code, skipping taskbuffer when the supervisor reported (bigmon).
pub fn group_errors(group: &pandamon_store::jobs::Group) -> Vec<(ErrorComponent, i64, String)> {
    let columns = error_columns();
    let index = |name: &str| columns.iter().position(|(c, _)| *c == name);
    let value = |name: &str| index(name).and_then(|i| group.values.get(i));
    let sup_set = value("superrorcode")
        .and_then(Cell::as_int)
        .is_some_and(|c| c != 0);
    ErrorComponent::ALL
        .into_iter()
        .filter(|c| !(*c == ErrorComponent::Taskbuffer && sup_set))
        .filter_map(|c| {
            let code = match value(c.code_column())? {
                Cell::Int(v) => *v,
                Cell::Text(s) => s.trim().parse::<i64>().unwrap_or(0),
                _ => 0,
            };
            let diag = c
                .diag_column()
                .and_then(value)
                .and_then(Cell::as_text)
                .unwrap_or("")
                .to_string();
            (code > 0).then_some((c, code, diag))
        })
        .collect()
}

/// bigmon's `errsByCount`: one entry per `component:code` over failed and holding jobs.
pub fn error_summary(
    groups: &[pandamon_store::jobs::Group],
    descriptions: &[ErrorDescription],
) -> Vec<ErrorCount> {
    let described: HashMap<(String, i64), &ErrorDescription> = descriptions
        .iter()
        .map(|d| ((d.component.clone(), d.code), d))
        .collect();
    let mut counts: BTreeMap<(String, i64), Tally> = BTreeMap::new();
    for group in groups {
        for (c, code, diag) in group_errors(group) {
            let entry = counts.entry((c.name().to_string(), code)).or_insert(Tally {
                count: 0,
                example: i64::MAX,
                diags: HashMap::new(),
            });
            entry.count += group.count;
            entry.example = entry.example.min(group.example);
            *entry.diags.entry(diag).or_default() += group.count;
        }
    }
    let mut list: Vec<ErrorCount> = counts
        .into_iter()
        .map(
            |(
                (component, code),
                Tally {
                    count,
                    example,
                    diags,
                },
            )| {
                let description = described.get(&(component.clone(), code));
                let mut diags: Vec<(String, i64)> = diags.into_iter().collect();
                diags.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let diag = diags
                    .into_iter()
                    .map(|(d, _)| d)
                    .find(|d| !d.is_empty())
                    .or_else(|| description.and_then(|d| d.diagnostics.clone()))
                    .unwrap_or_default();
                let category = description.map_or(0, |d| d.category);
                ErrorCount {
                    error: format!("{component}:{code}"),
                    codename: description
                        .and_then(|d| d.acronym.clone())
                        .unwrap_or_else(|| component.clone()),
                    codeval: code,
                    diag,
                    desc: description
                        .and_then(|d| d.description.clone())
                        .unwrap_or_default(),
                    cat: Category {
                        id: category,
                        name: error_category_name(category).to_string(),
                    },
                    count,
                    example_pandaid: example,
                }
            },
        )
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.error.cmp(&b.error)));
    list
}

/// The query string with `name` set to `value` (other values of `name` dropped) and paging
/// reset: the link a facet value or a page number carries.
pub fn link_with(params: &[(String, String)], name: &str, value: &str) -> String {
    let mut out: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != name && k != "page" && k != "json")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    out.push(format!("{}={}", encode(name), encode(value)));
    format!("?{}", out.join("&"))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'*'
            | b'|'
            | b'!'
            | b':'
            | b',' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The job tables a selection reads: the archive only when its window reaches back far enough.
pub fn job_tables(selection: &Selection) -> Vec<JobTable> {
    if selection.needs_archive() {
        JobTable::ALL.to_vec()
    } else {
        vec![JobTable::Defined, JobTable::Active, JobTable::Archived]
    }
}

/// A pie chart spec for `pandamon.js`: the largest values of a facet (the rest as "other"),
/// each slice linking to the narrowed selection.
pub fn pie_chart(title: &str, facet: &FacetView, total: i64) -> String {
    let mut data: Vec<Json> = Vec::new();
    let mut other = 0i64;
    for (i, (link, name, _)) in facet.values.iter().enumerate() {
        let count = facet.counts.get(i).copied().unwrap_or(0);
        if i < 12 {
            data.push(serde_json::json!({"name": name, "value": count, "link": link}));
        } else {
            other += count;
        }
    }
    if other > 0 {
        data.push(serde_json::json!({"name": "other", "value": other}));
    }
    serde_json::json!({"type": "pie", "title": title, "total": human_count(total), "data": data})
        .to_string()
}

/// The time window in words, for page headers.
pub fn describe_window(selection: &Selection) -> String {
    let show = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map_or(String::new(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    match selection.window {
        Some((from, to)) => format!("modificationtime from {} to {}", show(from), show(to)),
        None => "no time limit (an id was given)".to_string(),
    }
}

/// Collects everything `/jobs/` shows for a parsed selection.
pub async fn collect(state: &AppState, selection: &Selection) -> AppResult<JobsJson> {
    let db = &state.db;
    let tables = job_tables(selection);
    let (mut total, source) = crate::source::count(state, selection, &tables).await?;
    if let Some(limit) = selection.limit {
        total = total.min(limit as i64);
    }
    let facet_columns: Vec<(&str, ColType)> = FACETS
        .iter()
        .map(|(_, column)| (*column, column_type(column)))
        .collect();
    let (per_facet, _) = crate::source::facets(state, selection, &tables, &facet_columns).await?;
    let failing = selection.and_in("jobstatus", &["failed", "holding"]);
    let (error_groups, _) =
        crate::source::group(state, &failing, &tables, &error_columns()).await?;
    let mut notes = selection.notes.clone();
    // With the summaries from the index, a failing database costs only what must be read from
    // it (descriptions, the page's rows): the page says so instead of failing whole.
    let degrade = |what: &str, e: pandamon_store::StoreError, notes: &mut Vec<String>| {
        tracing::warn!(error = %e, what, "database read failed; serving the index's summary");
        notes.push(format!(
            "{what} could not be read from the database; the summary comes from the live index"
        ));
    };
    let descriptions = match db.error_descriptions().await {
        Ok(d) => d,
        Err(e) if source == crate::source::Source::Index => {
            degrade("error descriptions", e, &mut notes);
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    let columns = crate::request::list_columns(selection, LIST_COLUMNS);
    let page_size = selection.display_limit;
    let offset = (selection.page - 1) * page_size;
    let remaining = (total as u64).saturating_sub(offset);
    let rows = if remaining == 0 {
        Vec::new()
    } else {
        match crate::source::job_page(
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
            Err(crate::error::AppError::Unavailable(e) | crate::error::AppError::Internal(e))
                if source == crate::source::Source::Index =>
            {
                degrade("the job list", e, &mut notes);
                Vec::new()
            }
            Err(e) => return Err(e),
        }
    };
    let jobs = crate::request::project_rows(selection, &columns, rows);
    Ok(JobsJson {
        selectionsummary: summarise(&per_facet),
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
            (crate::source::Source::Index, Some(t)) => t.replacen(' ', "T", 1),
            _ => iso(&Utc::now().naive_utc()),
        },
        source,
    })
}

/// A facet as pages show it: the field and its (link, value, count) entries.
pub struct FacetView {
    pub field: String,
    pub values: Vec<(String, String, String)>,
    /// The counts of `values`, as numbers.
    pub counts: Vec<i64>,
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

pub fn cell_text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) if is_iso_time(s) => s.replacen('T', " ", 1),
        Json::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS`, as job times are serialised.
fn is_iso_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b[10] == b'T'
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => true,
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

pub async fn list_jobs(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection =
        crate::request::parse_selection(&params, &[], &pandamon_query::fields::JOBS, 12)?;
    let json_requested = crate::request::json_requested(&params, &headers);
    // Relative windows move with the clock, so the cache key holds the resolved window.
    let key = format!("jobs {:?} {:?}", selection.window, params);
    if json_requested && let Some(body) = state.cached_answer(&key) {
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response());
    }
    // One computation at a time from the index; whoever waited finds the answer cached.
    let from_index = json_requested && crate::source::on_index(&state, &selection);
    let _computing = match from_index {
        true => Some(state.computing.lock().await),
        false => None,
    };
    if json_requested && let Some(body) = state.cached_answer(&key) {
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response());
    }
    let generation = state.index.as_ref().map(|i| i.generation());
    let data = collect(&state, &selection).await?;
    if json_requested {
        // Serialising our own view model cannot fail.
        let body = axum::body::Bytes::from(serde_json::to_vec(&data).unwrap_or_default());
        if let (Some(generation), crate::source::Source::Index) = (generation, data.source) {
            state.remember_answer(key, generation, body.clone());
        }
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response());
    }
    let facets = data
        .selectionsummary
        .iter()
        .map(|f| FacetView {
            field: f.field.clone(),
            values: f
                .list
                .iter()
                .map(|k| {
                    let name = cell_text(&k.kname);
                    let link = match f.field.as_str() {
                        "harvesterinstance" if name != "Not specified" => {
                            link_with(&params, "schedulerid", &format!("harvester-{name}"))
                        }
                        "harvesterinstance" => link_with(&params, "schedulerid", &name),
                        field => link_with(&params, field, &name),
                    };
                    (link, name, human_count(k.kvalue))
                })
                .collect(),
            counts: f.list.iter().map(|k| k.kvalue).collect(),
        })
        .collect::<Vec<FacetView>>();
    let charts = ["jobstatus", "computingsite", "produsername"]
        .iter()
        .filter_map(|field| facets.iter().find(|f| f.field == *field))
        .map(|f| pie_chart(&f.field, f, data.totaljobs))
        .collect();
    let columns: Vec<&str> = data
        .jobs
        .first()
        .map(|j| j.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let rows = data
        .jobs
        .iter()
        .map(|job| {
            columns
                .iter()
                .map(|c| {
                    let text = cell_text(&job[*c]);
                    let link = match *c {
                        "pandaid" => Some(format!("/job/{text}/")),
                        "jeditaskid" if !text.is_empty() => Some(format!("/task/{text}/")),
                        "computingsite" | "jobstatus" | "produsername" | "cloud" | "nucleus"
                        | "gshare" => Some(link_with(&params, c, &text)),
                        _ => None,
                    };
                    (text, link)
                })
                .collect()
        })
        .collect();
    let window = describe_window(&selection);
    let page_link = |page: u64| {
        let mut p: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        p.push(("page".into(), page.to_string()));
        link_with(&p, "page", &page.to_string())
    };
    let page = JobsPage {
        source: match data.source {
            crate::source::Source::Index => "live index",
            crate::source::Source::Database => "database",
        },
        charts,
        facets,
        columns: columns.clone(),
        rows,
        window,
        total: human_count(data.totaljobs),
        prev: (data.page > 1).then(|| page_link(data.page - 1)),
        next: (data.page < data.pages).then(|| page_link(data.page + 1)),
        data: &data,
    };
    Ok(Html(page.render()?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_replace_the_parameter_and_reset_paging() {
        let params = vec![
            ("jobstatus".to_string(), "failed".to_string()),
            ("page".to_string(), "3".to_string()),
            ("user".to_string(), "Anna Smith".to_string()),
        ];
        assert_eq!(
            link_with(&params, "jobstatus", "finished"),
            "?user=Anna+Smith&jobstatus=finished"
        );
        assert_eq!(
            link_with(&[], "computingsite", "A&B"),
            "?computingsite=A%26B"
        );
    }

    #[test]
    fn only_times_lose_their_t() {
        assert_eq!(
            cell_text(&Json::from("2026-11-24T09:26:18")),
            "2026-11-24 09:26:18"
        );
        assert_eq!(
            cell_text(&Json::from("Taiwan-LCG2_UCORE")),
            "Taiwan-LCG2_UCORE"
        );
        assert_eq!(cell_text(&Json::from(12)), "12");
        assert_eq!(cell_text(&Json::Null), "");
    }

    #[test]
    fn facet_keys_bin_and_split() {
        assert_eq!(
            facet_key("priorityrange", &Cell::Int(742)),
            vec![Json::from("700:799")]
        );
        assert_eq!(
            facet_key("specialhandling", &Cell::Text("sj,rb,tq3".into())),
            vec![Json::from("sj"), Json::from("rb")]
        );
        assert_eq!(
            facet_key("gshare", &Cell::Null),
            vec![Json::from("Not specified")]
        );
        assert_eq!(
            facet_key(
                "harvesterinstance",
                &Cell::Text("harvester-CERN_central_A".into())
            ),
            vec![Json::from("CERN_central_A")]
        );
    }
}
