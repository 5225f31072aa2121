//! The users module: `/users/` (analysis users of the window with their jobs and tasks, or
//! PanDA's users table with `view=database`) and
//! `/user/<name>/` (one user's jobs by status and by task).

use crate::kit::error::AppResult;
use crate::kit::format::{cell_text, describe_window, failure_percent, percent_text, row_object};
use crate::kit::links::{encode_segment, jobs_with, link_with};
use crate::kit::module::{Module, NavEntry, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::source::keyed_groups;
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use pandamon_model::JobStatus;
use pandamon_query::{Selection, fields};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

pub struct Users;

impl Module for Users {
    fn name(&self) -> &'static str {
        "users"
    }
    fn description(&self) -> &'static str {
        "analysis users with their jobs and tasks"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["jedi_tasks", "users"]
    }
    fn routes(&self) -> Vec<Route> {
        vec![Route {
            path: "/users/",
            handler: get(list_users),
            doc: RouteDoc {
                summary: "analysis users: of the window's jobs (`view=dynamic`, the default: jobs active, finished, failed and tasks) or PanDA's users table (`view=database`)",
                vocabulary: Some(&fields::JOBS),
                params: USERS_PARAMS,
                response: schema::<Vec<UserRow>>,
                html: true,
            },
        }]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "users",
            href: "/users/",
            order: 600,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&fields::JOBS]
    }
}

const USERS_PARAMS: &[Param] = &[
    Param::query(
        "view",
        ParamType::Text,
        "`dynamic` (default): users of the window's analysis jobs; `database`: PanDA's users table in the meta schema (jobs and CPU-hours PanDA keeps per user)",
    ),
    Param::query(
        "sortby",
        ParamType::Text,
        "`jobs` (default, most jobs first), `alpha` (by name), `date` (most recent first: the latest task, task ids being given in submission order; the latest job in `view=database`)",
    ),
];

fn parse(request: &PageRequest, extra: &[(&str, String)]) -> AppResult<Selection> {
    request.selection_except(&fields::JOBS, 12, extra, &["view", "sortby"])
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserRow {
    pub name: String,
    pub jobs: i64,
    pub active: i64,
    pub finished: i64,
    pub failed: i64,
    pub tasks: i64,
    /// The user's most recent task of the window (task ids grow in submission order).
    pub latesttask: i64,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage<'a> {
    window: String,
    users: &'a [UserRow],
    /// Per user: links to the user's page, jobs, finished and failed jobs; failure rate; flag.
    lines: Vec<UserLine>,
    limit: f64,
    sorts: Vec<(&'static str, String, bool)>,
    database_view: String,
}

/// The links and failure rate of one row of `/users/`.
struct UserLine {
    page: String,
    jobs: String,
    finished: String,
    failed: String,
    failure: String,
    flagged: bool,
}

/// A row of PanDA's users table as `view=database` shows it.
#[derive(Template)]
#[template(path = "users_database.html")]
struct UsersDatabasePage {
    columns: &'static [&'static str],
    rows: Vec<Vec<String>>,
    sorts: Vec<(&'static str, String, bool)>,
    dynamic_view: String,
}

/// The users table's columns `view=database` shows, as bigmon does: jobs and CPU-hours of the
/// analysis (a) and production (p) shares over 1 and 7 days, and the latest job.
const DATABASE_COLUMNS: &[&str] = &[
    "name",
    "njobsa",
    "cpua1",
    "cpua7",
    "cpup1",
    "cpup7",
    "firstjob",
    "latestjob",
];

/// The `sortby` links of a users page: (label, href, current).
fn sort_links(params: &[(String, String)], current: &str) -> Vec<(&'static str, String, bool)> {
    SORTS
        .iter()
        .map(|(name, _)| (*name, link_with(params, "sortby", name), *name == current))
        .collect()
}

const SORTS: &[(&str, &str)] = &[("jobs", "jobs"), ("alpha", "alpha"), ("date", "date")];

async fn list_users(request: PageRequest) -> AppResult<Response> {
    let view = request.choice(
        "view",
        &[("dynamic", "dynamic"), ("database", "database")],
        "dynamic",
    )?;
    let sortby = request.choice("sortby", SORTS, "jobs")?;
    let selection = parse(&request, &[("prodsourcelabel", "user|panda".to_string())])?;
    if view == "database" {
        return request
            .answer(&selection, || users_database(&request, sortby))
            .await;
    }
    request
        .answer(&selection, || users(&request, &selection, sortby))
        .await
}

/// `view=database`: PanDA's users table, as its cron jobs keep it.
async fn users_database(
    request: &PageRequest,
    sortby: &'static str,
) -> AppResult<crate::kit::respond::Reply> {
    let order = match sortby {
        "alpha" => "name",
        "date" => "latestjob",
        _ => "njobsa",
    };
    let mut rows: Vec<Map<String, Json>> = request
        .state
        .db
        .rows_matching("users", &[], Some(order), 100_000)
        .await?
        .iter()
        .map(|r| row_object(r))
        .collect();
    if sortby != "alpha" {
        rows.reverse();
    }
    request.reply(&rows, false, || {
        let page = UsersDatabasePage {
            columns: DATABASE_COLUMNS,
            rows: rows
                .iter()
                .map(|r| {
                    DATABASE_COLUMNS
                        .iter()
                        .map(|c| r.get(*c).map(cell_text).unwrap_or_default())
                        .collect()
                })
                .collect(),
            sorts: sort_links(&request.params, sortby),
            dynamic_view: link_with(&request.params, "view", "dynamic"),
        };
        Ok(page.render()?)
    })
}

async fn users(
    request: &PageRequest,
    selection: &Selection,
    sortby: &'static str,
) -> AppResult<crate::kit::respond::Reply> {
    let state = &request.state;
    let (rows, source) = keyed_groups(
        state,
        selection,
        &["produsername", "jobstatus", "jeditaskid"],
    )
    .await?;
    let mut users: BTreeMap<String, (UserRow, BTreeSet<String>)> = BTreeMap::new();
    for (keys, n) in rows {
        let entry = users.entry(keys[0].clone()).or_insert_with(|| {
            (
                UserRow {
                    name: keys[0].clone(),
                    jobs: 0,
                    active: 0,
                    finished: 0,
                    failed: 0,
                    tasks: 0,
                    latesttask: 0,
                },
                BTreeSet::new(),
            )
        });
        entry.0.jobs += n;
        match JobStatus::parse(&keys[1]) {
            Some(JobStatus::Finished) => entry.0.finished += n,
            Some(JobStatus::Failed) => entry.0.failed += n,
            Some(s) if !s.is_final() => entry.0.active += n,
            _ => {}
        }
        entry.0.latesttask = entry.0.latesttask.max(keys[2].parse().unwrap_or(0));
        entry.1.insert(keys[2].clone());
    }
    let mut list: Vec<UserRow> = users
        .into_values()
        .map(|(mut row, tasks)| {
            row.tasks = tasks.len() as i64;
            row
        })
        .collect();
    match sortby {
        "alpha" => list.sort_by(|a, b| a.name.cmp(&b.name)),
        "date" => list.sort_by(|a, b| {
            b.latesttask
                .cmp(&a.latesttask)
                .then_with(|| a.name.cmp(&b.name))
        }),
        _ => list.sort_by(|a, b| b.jobs.cmp(&a.jobs).then_with(|| a.name.cmp(&b.name))),
    }
    request.reply(&list, source == crate::kit::source::Source::Index, || {
        let limit = request.state.settings.failure_percent();
        let params = &request.params;
        let lines = list
            .iter()
            .map(|u| {
                let of = |status: &str| {
                    let mut set = vec![("produsername", u.name.as_str())];
                    if !status.is_empty() {
                        set.push(("jobstatus", status));
                    }
                    jobs_with(params, &set)
                };
                let failure = failure_percent(u.finished, u.failed);
                UserLine {
                    page: format!("/user/{}/", encode_segment(&u.name)),
                    jobs: of(""),
                    finished: of("finished"),
                    failed: of("failed"),
                    failure: percent_text(failure),
                    flagged: failure.is_some_and(|p| p > limit),
                }
            })
            .collect();
        let page = UsersPage {
            window: describe_window(selection),
            users: &list,
            lines,
            limit,
            sorts: sort_links(&request.params, sortby),
            database_view: link_with(&request.params, "view", "database"),
        };
        Ok(page.render()?)
    })
}
