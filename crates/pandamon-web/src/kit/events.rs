//! Event service: the event ranges (`jedi_events`) of a job or a task by status.

use crate::kit::error::AppResult;
use crate::kit::state::AppState;
use pandamon_model::event_range_status;
use pandamon_query::{Cond, Selection};
use pandamon_store::catalog::ColType;
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventStatusCount {
    pub status: String,
    pub count: i64,
}

/// Event ranges meeting `conds` (a task, and a job of it) by status, in PanDA's order of statuses.
pub async fn event_counts(state: &AppState, conds: Vec<Cond>) -> AppResult<Vec<EventStatusCount>> {
    let selection = Selection::matching(conds, "pandaid");
    let groups = state
        .db
        .group_rows(
            &["jedi_events"],
            &[("status", ColType::SmallInt)],
            &selection,
            "pandaid",
        )
        .await?;
    let mut counts: Vec<(i64, i64)> = groups
        .iter()
        .filter_map(|g| Some((g.values.first()?.as_int()?, g.count)))
        .collect();
    counts.sort_unstable();
    Ok(counts
        .into_iter()
        .map(|(code, count)| EventStatusCount {
            status: event_range_status(code).map_or_else(|| code.to_string(), str::to_string),
            count,
        })
        .collect())
}
