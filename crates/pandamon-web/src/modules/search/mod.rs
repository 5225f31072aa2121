//! The search box: `/search/?q=` finds what the text names — a job, a task, a request, a queue
//! or site, a task, dataset or job name, a user — and goes there when one thing matches; when
//! several do it lists them, and when nothing does it says so, never guessing.

use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{ListPage, Section, list_table};
use crate::kit::links::url;
use crate::kit::module::{Module, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::state::AppState;
use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use pandamon_model::JobTable;
use pandamon_store::Value;
use pandamon_store::jobs::Match;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};

pub struct Search;

impl Module for Search {
    fn name(&self) -> &'static str {
        "search"
    }
    fn description(&self) -> &'static str {
        "the search box: pandaid, task id, reqid, queue or site, task, dataset or job name, user"
    }
    fn tables(&self) -> &'static [&'static str] {
        &["jedi_tasks", "jedi_datasets"]
    }
    fn routes(&self) -> Vec<Route> {
        vec![Route {
            path: "/search/",
            handler: get(search),
            doc: RouteDoc {
                summary: "what q names: redirects when one thing matches, lists the candidates when several do (JSON: always the list)",
                vocabulary: None,
                params: const { &[Param::query("q", ParamType::Text, "what to look for").required()] },
                response: schema::<SearchJson>,
                html: true,
            },
        }]
    }
}

/// One thing the text names.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Candidate {
    /// `job`, `task`, `request`, `queue`, `site`, `taskname`, `dataset`, `jobname`, `user` or `file`.
    pub kind: &'static str,
    pub label: String,
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchJson {
    pub q: String,
    pub candidates: Vec<Candidate>,
}

fn text(q: &str) -> Match {
    Match::Eq(Value::Text(q.to_string().into()))
}

/// Whether `table` has a row whose `column` equals the text.
async fn exists(state: &AppState, table: &str, column: &str, value: Match) -> AppResult<bool> {
    Ok(!state
        .db
        .rows_matching(table, &[(column, value)], None, 1)
        .await?
        .is_empty())
}

async fn in_job_tables(state: &AppState, column: &str, value: &Match) -> AppResult<bool> {
    for table in JobTable::ALL {
        if exists(state, table.name(), column, value.clone()).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Everything `q` names, most specific first.
pub async fn candidates(state: &AppState, q: &str) -> AppResult<Vec<Candidate>> {
    let q = q.trim();
    if q.is_empty() {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'q': type something to search for".into(),
        ));
    }
    let mut found = Vec::new();
    macro_rules! add {
        ($kind:expr, $label:expr, $url:expr $(,)?) => {
            found.push(Candidate {
                kind: $kind,
                label: $label,
                url: $url,
            })
        };
    }
    if let Ok(id) = q.parse::<i64>() {
        let number = Match::Eq(Value::Int(id));
        if in_job_tables(state, "pandaid", &number).await? {
            add!("job", format!("job {id}"), format!("/job/{id}/"));
        }
        if exists(state, "jedi_tasks", "jeditaskid", number.clone()).await? {
            add!("task", format!("task {id}"), format!("/task/{id}/"));
        }
        if exists(state, "jedi_tasks", "reqid", number).await? {
            let id = id.to_string();
            add!(
                "request",
                format!("tasks of request {id}"),
                url("/tasks/", &[("reqid", &id)]),
            );
        }
        return Ok(found);
    }
    let queues = state.reference.queues(&state.db).await?;
    if queues.contains_key(q) {
        add!(
            "queue",
            format!("jobs of queue {q}"),
            url("/jobs/", &[("computingsite", q)])
        );
    }
    let of_site: Vec<&str> = queues
        .values()
        .filter(|info| info.site.eq_ignore_ascii_case(q))
        .map(|info| info.queue.as_str())
        .collect();
    if !of_site.is_empty() {
        add!(
            "site",
            format!("jobs of site {q} ({} queues)", of_site.len()),
            url("/jobs/", &[("computingsite", &of_site.join("|"))]),
        );
    }
    if q.contains('*') {
        add!(
            "taskname",
            format!("tasks named {q} (last 30 days)"),
            url("/tasks/", &[("days", "30"), ("taskname", q)]),
        );
        return Ok(found);
    }
    if exists(state, "jedi_tasks", "taskname", text(q)).await? {
        add!(
            "taskname",
            format!("tasks named {q}"),
            url("/tasks/", &[("taskname", q)])
        );
    }
    if exists(state, "jedi_datasets", "datasetname", text(q)).await? {
        add!(
            "dataset",
            format!("dataset {q}"),
            url("/dataset/", &[("datasetname", q)])
        );
    }
    if in_job_tables(state, "jobname", &text(q)).await? {
        add!(
            "jobname",
            format!("jobs named {q}"),
            url("/jobs/", &[("jobname", q)])
        );
    }
    if in_job_tables(state, "produsername", &text(q)).await? {
        add!(
            "user",
            format!("jobs of user {q}"),
            url("/jobs/", &[("produsername", q)])
        );
    }
    if found.is_empty() && q.contains('.') && !q.contains(' ') {
        // File names are not indexed in the job tables: the file page looks it up.
        add!("file", format!("file {q}"), url("/file/", &[("lfn", q)]));
    }
    Ok(found)
}

async fn search(request: PageRequest) -> AppResult<Response> {
    let q = request.param("q").unwrap_or("").trim().to_string();
    let found = candidates(&request.state, &q).await?;
    if request.json {
        let data = SearchJson {
            q,
            candidates: found,
        };
        return request.answer_now(&data, || Ok(String::new()));
    }
    match found.as_slice() {
        [] => Err(AppError::NotFound(format!(
            "anything named '{q}' (a pandaid, task id, reqid, queue, site, task, dataset or job name, or user)"
        ))),
        [one] => Ok(Redirect::to(&one.url).into_response()),
        several => {
            let rows: Vec<Map<String, Json>> = several
                .iter()
                .map(|c| {
                    let mut row = Map::new();
                    row.insert("what".into(), Json::from(c.kind));
                    row.insert("candidate".into(), Json::from(c.label.clone()));
                    row.insert("url".into(), Json::from(c.url.clone()));
                    row
                })
                .collect();
            let table = list_table(&rows, |column, _, row| {
                (column == "candidate")
                    .then(|| row.get("url").and_then(Json::as_str).map(str::to_string))
                    .flatten()
            });
            let page = ListPage {
                title: format!("Search: {q}"),
                notes: vec![format!("'{q}' names {} things; pick one.", several.len())],
                form: Vec::new(),
                sections: vec![Section::whole("Candidates", table)],
            };
            request.answer_now(&(), || Ok(page.render()?))
        }
    }
}
