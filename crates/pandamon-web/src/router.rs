//! The whole URL space of pandamon, in one place.

use crate::state::AppState;
use crate::{assets, dash, errors, files, freshness, job, jobs, search, status, tasks};
use axum::Router;
use axum::routing::get;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status::show_status))
        .route("/status/", get(status::show_status))
        .route("/healthz", get(status::healthz))
        .route("/jobs/", get(jobs::list_jobs))
        .route("/jobs", get(jobs::list_jobs))
        .route("/dash/region/", get(dash::region_dashboard))
        .route("/dash/world/", get(dash::world_dashboard))
        .route("/sites/", get(dash::list_sites))
        .route("/site/{queue}/", get(dash::find_site))
        .route("/users/", get(dash::list_users))
        .route("/user/{name}/", get(dash::find_user))
        .route("/files/", get(files::list_files))
        .route("/file/", get(files::find_file))
        .route("/datasets/", get(files::list_datasets))
        .route("/dataset/", get(files::find_dataset))
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
        // Every HTML page says how fresh its numbers are.
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            freshness::fill,
        ))
        .with_state(state)
}
