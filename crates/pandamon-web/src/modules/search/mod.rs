//! The search module: `/search/?q=`, the search box. A number is a pandaid or a task id, a
//! known queue opens its jobs, a dotted name is a task name, anything else a user.

use crate::kit::error::{AppError, AppResult};
use crate::kit::links::url;
use crate::kit::module::{Module, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::respond::PageRequest;
use crate::kit::state::AppState;
use axum::response::Redirect;
use axum::routing::get;
use pandamon_model::JobTable;
use pandamon_store::Value;

pub struct Search;

impl Module for Search {
    fn name(&self) -> &'static str {
        "search"
    }
    fn description(&self) -> &'static str {
        "the search box: pandaid, task id, queue, task name or user"
    }
    fn routes(&self) -> Vec<Route> {
        vec![Route {
            path: "/search/",
            handler: get(search),
            doc: RouteDoc {
                summary: "redirects to the page of what q names: a job, a task, a queue's jobs, tasks by name or a user's jobs",
                vocabulary: None,
                params: const { &[Param::query("q", ParamType::Text, "what to look for").required()] },
                response: schema::<()>,
                html: false,
            },
        }]
    }
}

/// Where a search for `text` leads.
pub async fn resolve(state: &AppState, text: &str) -> AppResult<String> {
    let db = &state.db;
    let q = text.trim();
    if q.is_empty() {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'q': type something to search for".into(),
        ));
    }
    if let Ok(id) = q.parse::<i64>() {
        for table in JobTable::ALL {
            if !db
                .rows_where(table.name(), ("pandaid", Value::Int(id)), None, 1)
                .await?
                .is_empty()
            {
                return Ok(format!("/job/{id}/"));
            }
        }
        if !db
            .rows_where("jedi_tasks", ("jeditaskid", Value::Int(id)), None, 1)
            .await?
            .is_empty()
        {
            return Ok(format!("/task/{id}/"));
        }
        return Err(AppError::NotFound(format!("job or task {id}")));
    }
    if state.reference.queues(db).await?.contains_key(q) {
        return Ok(url("/jobs/", &[("computingsite", q)]));
    }
    if q.contains('.') || q.contains('*') {
        return Ok(url("/tasks/", &[("days", "30"), ("taskname", q)]));
    }
    Ok(url("/jobs/", &[("produsername", q)]))
}

async fn search(request: PageRequest) -> AppResult<Redirect> {
    let target = resolve(&request.state, request.param("q").unwrap_or("")).await?;
    Ok(Redirect::to(&target))
}
