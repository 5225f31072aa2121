//! `/search/?q=`: the search box. A number is a pandaid or a task id, a known queue opens its
//! jobs, a dotted name is a task name, anything else a user.

use crate::error::{AppError, AppResult};
use crate::jobs::link_with;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Redirect;
use pandamon_model::JobTable;
use pandamon_store::Value;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
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
    if !db
        .rows_where(
            "schedconfig_json",
            ("panda_queue", Value::from(q.to_string())),
            None,
            1,
        )
        .await?
        .is_empty()
    {
        return Ok(link_with(&[], "computingsite", q).replacen('?', "/jobs/?", 1));
    }
    if q.contains('.') || q.contains('*') {
        return Ok(
            link_with(&[("days".into(), "30".into())], "taskname", q).replacen('?', "/tasks/?", 1)
        );
    }
    Ok(link_with(&[], "produsername", q).replacen('?', "/jobs/?", 1))
}

pub async fn search(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> AppResult<Redirect> {
    let target = resolve(&state, query.q.as_deref().unwrap_or("")).await?;
    Ok(Redirect::to(&target))
}
