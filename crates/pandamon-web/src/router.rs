//! The whole URL space of pandamon, in one place.

use crate::state::AppState;
use crate::{assets, errors, job, jobs, search, status, tasks};
use axum::Router;
use axum::routing::get;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status::show_status))
        .route("/status/", get(status::show_status))
        .route("/healthz", get(status::healthz))
        .route("/jobs/", get(jobs::list_jobs))
        .route("/jobs", get(jobs::list_jobs))
        .route("/search/", get(search::search))
        .route("/tasks/", get(tasks::list_tasks))
        .route("/tasks", get(tasks::list_tasks))
        .route("/task/{jeditaskid}/", get(tasks::find_task))
        .route("/task/{jeditaskid}", get(tasks::find_task))
        .route("/errors/", get(errors::error_summary_page))
        .route("/errors", get(errors::error_summary_page))
        .route("/job/{pandaid}/", get(job::find_job_page))
        .route("/job/{pandaid}", get(job::find_job_page))
        .route("/static/{name}", get(assets::find_asset))
        .fallback(status::not_found)
        .with_state(state)
}
