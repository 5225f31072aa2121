//! `/errors/`: the error summary of a selection: by code, by site, by user and by task, with
//! error categories, over every failed and holding job.

use crate::kit::auth::ERROR_TABLES;
use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{Facet, FacetView, facet_views, job_facets};
use crate::kit::format::{describe_window, human_count};
use crate::kit::joberrors::{
    ErrorCount, described_summary, error_columns, error_jobs_link, error_summary, group_errors,
    job_tables, typed_job_columns,
};
use crate::kit::links::{jobs_with, link_with, url_with};
use crate::kit::module::{Module, NavEntry, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::selectionbar::SelectionBar;
use crate::kit::source;
use crate::kit::state::AppState;
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use pandamon_model::{FIRST_ERROR_ORDER, error_category_name};
use pandamon_query::{Selection, fields};
use pandamon_store::jobs::ErrorDescription;
use pandamon_store::jobs::{Cell, Group};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct Errors;

impl Module for Errors {
    fn name(&self) -> &'static str {
        "errors"
    }
    fn description(&self) -> &'static str {
        "errors of failed and holding jobs by code, site, user, task and message, with categories"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["error_descriptions"]
    }
    fn routes(&self) -> Vec<Route> {
        vec![Route {
            path: "/errors/",
            handler: get(error_summary_page),
            doc: RouteDoc {
                summary: "error summary of the selection's failed and holding jobs (errsByCount, errsBySite, errsByUser, errsByTask)",
                vocabulary: Some(&fields::JOBS),
                params: const {
                    &[
                        Param::query(
                            "sortby",
                            ParamType::Text,
                            "order of the error tables: count (most jobs first, the default) or alpha (by error, site, user or task)",
                        ),
                        Param::query(
                            "tables",
                            ParamType::Text,
                            "the tables the page shows, comma-separated: code, message, site, user, task (default all; a logged-in user's preference)",
                        ),
                    ]
                },
                response: schema::<ErrorsJson>,
                html: true,
            },
        }]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "errors",
            href: "/errors/",
            order: 300,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&fields::JOBS]
    }
}

/// bigmon's `JOB_FIELDS_ERROR_VIEW`: the attribute summary of the failing jobs.
const ERROR_FACETS: &[(&str, &str)] = &[
    ("computingelement", "computingelement"),
    ("computingsite", "computingsite"),
    ("eventservice", "eventservice"),
    ("jeditaskid", "jeditaskid"),
    ("jobstatus", "jobstatus"),
    ("processingtype", "processingtype"),
    ("prodsourcelabel", "prodsourcelabel"),
    ("produsername", "produsername"),
    ("specialhandling", "specialhandling"),
    ("transformation", "transformation"),
    ("reqid", "reqid"),
    ("workinggroup", "workinggroup"),
];

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBrief {
    pub error: String,
    pub codename: String,
    pub count: i64,
    pub diag: String,
}

/// Errors of one site, user or task.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorsOf {
    pub name: String,
    pub toterrors: i64,
    pub toterrjobs: i64,
    pub errorlist: Vec<ErrorBrief>,
}

/// Jobs whose first error (in [`FIRST_ERROR_ORDER`]) is of one category: each failing job is
/// counted once, so the categories add up to the failing jobs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CategoryCount {
    pub id: i64,
    pub name: String,
    /// Failed and holding jobs.
    pub count: i64,
    pub failed: i64,
    pub holding: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorsJson {
    /// The attribute summary of the selection's failed and holding jobs, as bigmon's.
    #[serde(rename = "jobSummary")]
    pub job_summary: Vec<Facet>,
    #[serde(rename = "errsByCount")]
    pub errs_by_count: Vec<ErrorCount>,
    #[serde(rename = "errsBySite")]
    pub errs_by_site: Vec<ErrorsOf>,
    #[serde(rename = "errsByUser")]
    pub errs_by_user: Vec<ErrorsOf>,
    #[serde(rename = "errsByTask")]
    pub errs_by_task: Vec<ErrorsOf>,
    pub categories: Vec<CategoryCount>,
    #[serde(rename = "errsByMessage")]
    pub errs_by_message: Vec<ErrorMessage>,
    /// Failed jobs per hour, stacked by the category of each job's first error, and holding
    /// jobs per hour as a series of their own.
    pub histogram: Histogram,
    /// Failed and holding jobs of the selection (every failing job once).
    pub failed: i64,
    pub holding: i64,
    pub notes: Vec<String>,
}

/// One distinct diagnostic of one error code.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorMessage {
    pub error: String,
    pub diag: String,
    pub count: i64,
    pub example_pandaids: Vec<i64>,
}

/// bigmon's `errsByMessage`: each code split by its distinct diagnostics.
fn errors_by_message(groups: &[Group]) -> Vec<ErrorMessage> {
    let mut messages: BTreeMap<(String, String), (i64, BTreeSet<i64>)> = BTreeMap::new();
    for g in groups {
        for (c, code, diag) in group_errors(g) {
            let entry = messages
                .entry((format!("{}:{code}", c.name()), diag))
                .or_default();
            entry.0 += g.count;
            entry.1.insert(g.example);
        }
    }
    let mut list: Vec<ErrorMessage> = messages
        .into_iter()
        .map(|((error, diag), (count, examples))| ErrorMessage {
            error,
            diag,
            count,
            example_pandaids: examples.into_iter().take(3).collect(),
        })
        .collect();
    list.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.error.cmp(&b.error))
            .then_with(|| a.diag.cmp(&b.diag))
    });
    list
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Histogram {
    pub hours: Vec<String>,
    pub series: Vec<HistogramSeries>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistogramSeries {
    pub name: String,
    pub data: Vec<i64>,
}

/// The category of the first error among `codes` (one per [`FIRST_ERROR_ORDER`] component),
/// "No error code" when none is set.
fn first_error_category(
    codes: &[Cell],
    described: &HashMap<(&'static str, i64), &ErrorDescription>,
) -> (i64, &'static str) {
    for (component, code) in FIRST_ERROR_ORDER.iter().zip(codes) {
        let code = match code {
            Cell::Int(v) => *v,
            Cell::Text(t) => t.trim().parse().unwrap_or(0),
            _ => 0,
        };
        if code > 0 {
            let id = described
                .get(&(component.name(), code))
                .map_or(0, |d| d.category);
            return (id, error_category_name(id));
        }
    }
    (NO_ERROR_CODE, "No error code")
}

/// The category id of failing jobs without any error code.
const NO_ERROR_CODE: i64 = -1;

/// The series of holding jobs in the histogram: they have not failed (yet).
const HOLDING: &str = "holding (not failed yet)";

/// Groups by hour, then the [`FIRST_ERROR_ORDER`] codes, then the job status.
fn histogram(groups: &[Group], descriptions: &[ErrorDescription]) -> Histogram {
    let mut cells: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let described = crate::kit::joberrors::describe(descriptions);
    let n = FIRST_ERROR_ORDER.len();
    for g in groups {
        let hour = match &g.values[0] {
            Cell::Time(t) => t.format("%Y-%m-%dT%H:00:00").to_string(),
            _ => continue,
        };
        let holding = matches!(&g.values[n + 1], Cell::Text(s) if s.trim() == "holding");
        let series = if holding {
            HOLDING.to_string()
        } else {
            first_error_category(&g.values[1..=n], &described)
                .1
                .to_string()
        };
        names.insert(series.clone());
        *cells.entry(hour).or_default().entry(series).or_default() += g.count;
    }
    let hours: Vec<String> = cells.keys().cloned().collect();
    // Holding jobs last, on top of the failed ones.
    let mut names: Vec<String> = names.into_iter().filter(|n| n != HOLDING).collect();
    if cells.values().any(|c| c.contains_key(HOLDING)) {
        names.push(HOLDING.to_string());
    }
    let series = names
        .into_iter()
        .map(|name| HistogramSeries {
            data: hours
                .iter()
                .map(|h| cells[h].get(&name).copied().unwrap_or(0))
                .collect(),
            name,
        })
        .collect();
    Histogram { hours, series }
}

/// Failing jobs by the category of their first error, failed and holding apart.
fn categories(groups: &[Group], descriptions: &[ErrorDescription]) -> Vec<CategoryCount> {
    let described = crate::kit::joberrors::describe(descriptions);
    let n_error_columns = error_columns().len();
    let at: Vec<usize> = FIRST_ERROR_ORDER
        .iter()
        .filter_map(|c| {
            error_columns()
                .iter()
                .position(|(name, _)| *name == c.code_column())
        })
        .collect();
    let mut out: BTreeMap<i64, CategoryCount> = BTreeMap::new();
    for g in groups {
        let codes: Vec<Cell> = at.iter().map(|&i| g.values[i].clone()).collect();
        let (id, name) = first_error_category(&codes, &described);
        let entry = out.entry(id).or_insert_with(|| CategoryCount {
            id,
            name: name.to_string(),
            count: 0,
            failed: 0,
            holding: 0,
        });
        entry.count += g.count;
        match &g.values[n_error_columns + OWNERS.len()] {
            Cell::Text(s) if s.trim() == "holding" => entry.holding += g.count,
            _ => entry.failed += g.count,
        }
    }
    let mut list: Vec<CategoryCount> = out.into_values().collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    list
}

/// The columns errors are split by: site, user, task.
const OWNERS: [&str; 3] = ["computingsite", "produsername", "jeditaskid"];

/// Splits groups by the value of one owner column and summarises each part.
fn errors_by(groups: &[Group], owner: usize, descriptions: &[ErrorDescription]) -> Vec<ErrorsOf> {
    let n_error_columns = error_columns().len();
    let mut parts: BTreeMap<String, Vec<&Group>> = BTreeMap::new();
    for g in groups {
        let name = match &g.values[n_error_columns + owner] {
            Cell::Null => "Not specified".to_string(),
            Cell::Int(v) => v.to_string(),
            Cell::Text(s) => s.clone(),
            other => format!("{other:?}"),
        };
        parts.entry(name).or_default().push(g);
    }
    let described = crate::kit::joberrors::describe(descriptions);
    let mut out: Vec<ErrorsOf> = parts
        .into_iter()
        .map(|(name, groups)| {
            let list = described_summary(groups.iter().copied(), &described);
            ErrorsOf {
                name,
                toterrors: list.iter().map(|e| e.count).sum(),
                toterrjobs: groups.iter().map(|g| g.count).sum(),
                errorlist: list
                    .into_iter()
                    .map(|e| ErrorBrief {
                        error: e.error,
                        codename: e.codename,
                        count: e.count,
                        diag: e.diag,
                    })
                    .collect(),
            }
        })
        .filter(|e| e.toterrors > 0)
        .collect();
    out.sort_by(|a, b| {
        b.toterrjobs
            .cmp(&a.toterrjobs)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// The window of `/errors/` when the URL names none, in hours.
const DEFAULT_HOURS: i64 = 12;

/// How the errors page orders its tables (`sortby=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Most jobs first.
    Count,
    /// By error key, site, user or task name.
    Alpha,
}

impl Order {
    fn apply(self, data: &mut ErrorsJson) {
        if self == Order::Alpha {
            data.errs_by_count.sort_by(|a, b| a.error.cmp(&b.error));
            data.errs_by_message
                .sort_by(|a, b| a.error.cmp(&b.error).then_with(|| a.diag.cmp(&b.diag)));
            for list in [
                &mut data.errs_by_site,
                &mut data.errs_by_user,
                &mut data.errs_by_task,
            ] {
                list.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
    }
}

pub async fn collect(
    state: &AppState,
    selection: &Selection,
    order: Order,
) -> AppResult<ErrorsJson> {
    let db = &state.db;
    let tables = job_tables(selection);
    let failing = selection.and_in("jobstatus", &["failed", "holding"]);
    let facet_columns =
        typed_job_columns(&ERROR_FACETS.iter().map(|(_, c)| *c).collect::<Vec<_>>());
    let (per_facet, _) = source::facets(state, &failing, &tables, &facet_columns).await?;
    let job_summary = job_facets(ERROR_FACETS, &per_facet);
    let mut columns = error_columns().to_vec();
    columns.extend(typed_job_columns(&OWNERS));
    columns.extend(typed_job_columns(&["jobstatus"]));
    let (groups, _) = source::group(state, &failing, &tables, &columns).await?;
    let descriptions = state.reference.error_descriptions(db).await?;
    // The groups' owner columns come after the error columns, which is all these read.
    let errs_by_count = error_summary(&groups, &descriptions);
    let categories = categories(&groups, &descriptions);
    let mut code_columns = typed_job_columns(&FIRST_ERROR_ORDER.map(|c| c.code_column()));
    code_columns.extend(typed_job_columns(&["jobstatus"]));
    let (hourly, _) =
        source::group_by_hour(state, &failing, &tables, "modificationtime", &code_columns).await?;
    let mut data = ErrorsJson {
        errs_by_message: errors_by_message(&groups),
        histogram: histogram(&hourly, &descriptions),
        job_summary,
        errs_by_site: errors_by(&groups, 0, &descriptions),
        errs_by_user: errors_by(&groups, 1, &descriptions),
        errs_by_task: errors_by(&groups, 2, &descriptions),
        errs_by_count,
        failed: categories.iter().map(|c| c.failed).sum(),
        holding: categories.iter().map(|c| c.holding).sum(),
        categories,
        notes: selection.notes.clone(),
    };
    order.apply(&mut data);
    Ok(data)
}

#[derive(Template)]
#[template(path = "errors.html")]
struct ErrorsPage<'a> {
    data: &'a ErrorsJson,
    /// The failing jobs' attribute summary.
    facets: Vec<FacetView>,
    /// The jobs of each entry of `errsByCount` and of `errsByMessage`.
    count_links: Vec<String>,
    message_links: Vec<String>,
    charts: Vec<String>,
    window: String,
    failed: String,
    holding: String,
    total: String,
    failed_link: String,
    holding_link: String,
    bar: SelectionBar,
    /// The failing jobs of each site, user and task of the tables by owner.
    owner_links: [Vec<String>; 3],
    /// Per category: its biggest error codes (code, their jobs, count).
    category_codes: Vec<Vec<(String, String, String)>>,
    narrow_site: Vec<(String, String)>,
    /// The tables `tables=` keeps (all when absent).
    tables: Vec<&'static str>,
    hidden: usize,
    show_all_link: String,
}

impl ErrorsPage<'_> {
    fn shows(&self, table: &str) -> bool {
        self.tables.contains(&table)
    }
}

/// `tables=code,site`: the tables the page shows (a user's preference adds it); all by default.
fn parse_tables(request: &PageRequest) -> AppResult<Vec<&'static str>> {
    let all: Vec<&'static str> = ERROR_TABLES.iter().map(|(n, _)| *n).collect();
    let Some(given) = request
        .param("tables")
        .filter(|t| !t.trim().is_empty() && !t.trim().eq_ignore_ascii_case("all"))
    else {
        return Ok(all);
    };
    given
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            all.iter().copied().find(|n| n.eq_ignore_ascii_case(t)).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "invalid value for parameter 'tables': '{t}' is not a table; use a comma-separated list of {} (or all)",
                    all.join(", ")
                ))
            })
        })
        .collect()
}

async fn error_summary_page(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let order =
        match request.choice("sortby", &[("count", "count"), ("alpha", "alpha")], "count")? {
            "alpha" => Order::Alpha,
            _ => Order::Count,
        };
    let tables = parse_tables(&request)?;
    let selection =
        request.selection_except(&fields::JOBS, DEFAULT_HOURS, &[], &["sortby", "tables"])?;
    request
        .answer(&selection, || async {
            let data = collect(state, &selection, order).await?;
            request.reply(&data, false, || {
                render(&request.params, &selection, &data, tables)
            })
        })
        .await
}

fn render(
    params: &[(String, String)],
    selection: &Selection,
    data: &ErrorsJson,
    tables: Vec<&'static str>,
) -> AppResult<String> {
    let hidden = ERROR_TABLES.len() - tables.len();
    let show_all_link = if hidden > 0 {
        url_with("/errors/", params, &[("tables", "all")])
    } else {
        String::new()
    };
    let narrow_site = data
        .errs_by_site
        .iter()
        .map(|s| (s.name.clone(), link_with(params, "computingsite", &s.name)))
        .collect();
    // Each failed job once, by its first error's category: the slices add up to the header.
    let categories = serde_json::json!({
        "type": "pie",
        "title": "failed jobs by category",
        "total": human_count(data.failed),
        "data": data.categories.iter().filter(|c| c.failed > 0).map(|c| serde_json::json!({"name": c.name, "value": c.failed})).collect::<Vec<_>>(),
    });
    let top_sites: Vec<&ErrorsOf> = data.errs_by_site.iter().take(15).collect();
    let sites = serde_json::json!({
        "type": "bar",
        "horizontal": true,
        "title": "sites with most failed and holding jobs",
        "categories": top_sites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        "series": [{"name": "failed and holding jobs", "data": top_sites.iter().map(|s| s.toterrjobs).collect::<Vec<_>>()}],
        "links": top_sites.iter().map(|s| link_with(params, "computingsite", &s.name)).collect::<Vec<_>>(),
    });
    let over_time = serde_json::json!({
        "type": "bar",
        "title": "failed jobs per hour by error category; holding jobs apart",
        "wide": true,
        // "12-02 05:00": the year and seconds say nothing on an hourly axis.
        "categories": data.histogram.hours.iter().map(|h| h.get(5..16).unwrap_or(h).replacen('T', " ", 1)).collect::<Vec<_>>(),
        "series": data.histogram.series,
    });
    let page = ErrorsPage {
        facets: facet_views(&data.job_summary, params, |_, _| None),
        count_links: data
            .errs_by_count
            .iter()
            .map(|e| error_jobs_link(params, &e.error, &[]))
            .collect(),
        message_links: data
            .errs_by_message
            .iter()
            .map(|m| error_jobs_link(params, &m.error, &[]))
            .collect(),
        charts: vec![
            categories.to_string(),
            sites.to_string(),
            over_time.to_string(),
        ],
        window: describe_window(selection),
        failed: human_count(data.failed),
        holding: human_count(data.holding),
        total: human_count(data.failed + data.holding),
        failed_link: jobs_with(params, &[("jobstatus", "failed")]),
        holding_link: jobs_with(params, &[("jobstatus", "holding")]),
        bar: SelectionBar::new("/errors/", params, selection, DEFAULT_HOURS),
        tables,
        hidden,
        show_all_link,
        owner_links: [&data.errs_by_site, &data.errs_by_user, &data.errs_by_task]
            .iter()
            .zip(OWNERS)
            .map(|(list, column)| {
                list.iter()
                    .map(|o| {
                        jobs_with(
                            params,
                            &[(column, &o.name), ("jobstatus", "failed|holding")],
                        )
                    })
                    .collect()
            })
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_default(),
        category_codes: data
            .categories
            .iter()
            .map(|c| {
                data.errs_by_count
                    .iter()
                    .filter(|e| e.cat.id == c.id)
                    .take(5)
                    .map(|e| {
                        (
                            e.error.clone(),
                            error_jobs_link(params, &e.error, &[]),
                            human_count(e.count),
                        )
                    })
                    .collect()
            })
            .collect(),
        narrow_site,
        data,
    };
    Ok(page.render()?)
}
