//! The jobs module: `/jobs/` (attribute and error summaries over the whole selection, one sorted
//! page of jobs) and `/job/<pandaid>/` (everything PanDA knows about one job).

mod job;
mod list;

use crate::kit::module::{
    ConfigKey, Module, NavEntry, Param, ParamType, Route, RouteDoc, positive_integer, schema,
};
use crate::kit::state::AppState;
use axum::routing::get;
use pandamon_query::fields;
use serde_json::{Value as Json, json};

pub use list::FACETS;

pub struct Jobs;

impl Module for Jobs {
    fn name(&self) -> &'static str {
        "jobs"
    }
    fn description(&self) -> &'static str {
        "job attribute and error summaries, sorted job lists, one job's page"
    }
    fn tables(&self) -> &'static [&'static str] {
        &[
            "filestable4",
            "filestable_arch",
            "jobparamstable",
            "jobparamstable_arch",
            "metatable",
            "metatable_arch",
            "jobs_statuslog",
            "jedi_job_retry_history",
            "jedi_dataset_contents",
            "jedi_events",
            "harvester_rel_jobs_workers",
            "harvester_workers",
            "error_descriptions",
        ]
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/jobs/",
                handler: get(list::list_jobs),
                doc: RouteDoc {
                    summary: "job attribute summary (selectionsummary), error summary (errsByCount) and one sorted page of jobs",
                    vocabulary: Some(&fields::JOBS),
                    params: &[],
                    response: schema::<list::JobsJson>,
                    html: true,
                },
            },
            Route {
                path: "/job/{pandaid}/",
                handler: get(job::find_job_page),
                doc: RouteDoc {
                    summary: "one job: attributes, errors with descriptions, files, parameters, metadata, status history, retries, Harvester workers",
                    vocabulary: None,
                    params: const {
                        &[Param::path(
                            "pandaid",
                            ParamType::Integer,
                            "the job's PanDA id",
                        )]
                    },
                    response: schema::<job::JobJson>,
                    html: true,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "jobs",
            href: "/jobs/",
            order: 100,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static fields::Vocabulary> {
        vec![&fields::JOBS]
    }
    fn config_keys(&self) -> &'static [ConfigKey] {
        &[ConfigKey {
            name: "default_hours",
            description: "the window of /jobs/ when the URL names no time and no id (hours, default 12)",
            check: positive_integer,
        }]
    }
    fn health<'a>(
        &'a self,
        state: &'a AppState,
    ) -> crate::kit::module::BoxFuture<'a, Option<Json>> {
        Box::pin(async move {
            let source = match &state.index {
                Some(live) if live.is_loaded() => "live index, database for what it does not hold",
                Some(_) => "database (live index loading)",
                None => "database",
            };
            Some(json!({
                "default_hours": list::default_hours(state),
                "summaries_from": source,
            }))
        })
    }
}
