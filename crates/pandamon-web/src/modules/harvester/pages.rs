//! The Harvester module's HTML: every count links to what it counts, every worker to its page,
//! every job to its job page.

use super::{InstancesJson, TaskWorkerJson, WorkerJson, WorkersJson};
use crate::kit::error::AppResult;
use crate::kit::facets::{
    FacetView, ListPage, ListTable, Section, facet_views, list_table, pie_charts,
};
use crate::kit::format::{describe_window, human_count};
use crate::kit::links::{jobs_url, link_with, page_links, url};
use askama::Template;
use pandamon_query::Selection;
use serde_json::{Map, Value as Json};

fn worker_url(instance: &str, workerid: &str) -> String {
    url(
        &format!("/harvester/worker/{workerid}/"),
        &[("harvesterid", instance)],
    )
}

/// The time window parameters of a request, which links to other worker pages keep.
const WINDOW_PARAMS: &[&str] = &["hours", "days", "date_from", "date_to", "earlierthan"];

/// `/harvester/workers/` with `pairs` and the request's time window.
fn workers_url(params: &[(String, String)], pairs: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| WINDOW_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(pairs);
    url("/harvester/workers/", &all)
}

/// Links of a worker row's cells: the worker, the current selection narrowed to its instance,
/// site, status..., its logs.
fn worker_link(
    params: &[(String, String)],
    column: &str,
    text: &str,
    row: &Map<String, Json>,
) -> Option<String> {
    let instance = row.get("harvesterid").and_then(Json::as_str).unwrap_or("");
    match column {
        "workerid" => Some(worker_url(instance, text)),
        "harvesterid" | "computingsite" | "status" | "resourcetype" | "jobtype"
        | "computingelement" => Some(format!(
            "/harvester/workers/{}",
            link_with(params, column, text)
        )),
        "batchlog" | "stdout" | "stderr" if text.starts_with("http") => Some(text.to_string()),
        "njobs" if text != "0" => Some(url(
            "/harvester/worker/",
            &[
                ("harvesterid", instance),
                (
                    "workerid",
                    row.get("workerid")
                        .map(Json::to_string)
                        .as_deref()
                        .unwrap_or(""),
                ),
            ],
        )),
        _ => None,
    }
}

fn job_link(column: &str, text: &str, _: &Map<String, Json>) -> Option<String> {
    match column {
        "pandaid" => Some(format!("/job/{text}/")),
        "jeditaskid" => Some(format!("/task/{text}/")),
        "jobstatus" | "computingsite" | "produsername" => Some(jobs_url(&[(column, text)])),
        _ => None,
    }
}

/// `/harvester/instances/`.
pub fn instances(params: &[(String, String)], data: &InstancesJson) -> AppResult<String> {
    let rows: Vec<Map<String, Json>> = data
        .instances
        .iter()
        .map(|i| {
            let mut row = Map::new();
            row.insert("instance".into(), Json::from(i.harvester_id.clone()));
            row.insert("workers".into(), Json::from(human_count(i.nworkers)));
            for status in ["submitted", "running", "finished", "failed", "cancelled"] {
                row.insert(
                    status.into(),
                    Json::from(i.workers.get(status).copied().unwrap_or(0)),
                );
            }
            row.insert("last update".into(), Json::from(i.lastupdate.clone()));
            row.insert(
                "state".into(),
                Json::from(if i.stale { "stale" } else { "reporting" }),
            );
            row.insert("host".into(), Json::from(i.hostname.clone()));
            row.insert("version".into(), Json::from(i.sw_version.clone()));
            row
        })
        .collect();
    let table = list_table(&rows, |column, text, row| {
        let instance = row.get("instance").and_then(Json::as_str).unwrap_or("");
        match column {
            "instance" | "workers" => Some(workers_url(params, &[("harvesterid", instance)])),
            "submitted" | "running" | "finished" | "failed" | "cancelled" if text != "0" => Some(
                workers_url(params, &[("harvesterid", instance), ("status", column)]),
            ),
            _ => None,
        }
    });
    let stale = data.instances.iter().filter(|i| i.stale).count();
    let mut notes = vec![format!("Workers by {}.", data.window)];
    if stale > 0 {
        notes.push(format!(
            "{stale} of {} instances have not reported for an hour or more.",
            data.instances.len()
        ));
    }
    Ok(ListPage {
        title: "Harvester instances".into(),
        notes,
        form: Vec::new(),
        sections: vec![Section::whole("Instances", table)],
    }
    .render()?)
}

#[derive(Template)]
#[template(path = "harvester_workers.html")]
struct WorkersPage<'a> {
    data: &'a WorkersJson,
    window: String,
    total: String,
    njobs: Option<String>,
    charts: Vec<String>,
    facets: Vec<FacetView>,
    list: ListTable<'a>,
    jobs: Vec<(String, String)>,
    stats: ListTable<'a>,
    diagnostics: ListTable<'a>,
    prev: Option<String>,
    next: Option<String>,
}

/// `/harvester/workers/`: Figure 3's summary, the worker list, the workers' jobs.
pub fn workers(
    params: &[(String, String)],
    selection: &Selection,
    data: &WorkersJson,
) -> AppResult<String> {
    let facets = facet_views(&data.summary, params, |_, _| None);
    let mut charts = pie_charts(
        &facets,
        &["status", "resourcetype", "jobtype"],
        data.totalworkers,
    );
    let mut hours: Vec<&str> = data.timeline.iter().map(|h| h.hour.as_str()).collect();
    hours.sort_unstable();
    hours.dedup();
    let mut statuses: Vec<&str> = data.timeline.iter().map(|h| h.status.as_str()).collect();
    statuses.sort_by_key(|s| super::worker_status_rank(s));
    statuses.dedup();
    let series: Vec<Json> = statuses
        .iter()
        .map(|status| {
            let counts: Vec<i64> = hours
                .iter()
                .map(|hour| {
                    data.timeline
                        .iter()
                        .filter(|h| h.hour == *hour && h.status == *status)
                        .map(|h| h.count)
                        .sum()
                })
                .collect();
            serde_json::json!({"name": status, "data": counts})
        })
        .collect();
    if !hours.is_empty() {
        charts.push(
            serde_json::json!({
                "type": "bar",
                "title": "workers submitted per hour, by status",
                "wide": true,
                "categories": hours,
                "series": series,
            })
            .to_string(),
        );
    }
    if let Some(sites) = facets.iter().find(|f| f.field == "computingsite") {
        let top: Vec<&(String, String, String)> = sites.values.iter().take(15).collect();
        charts.push(
            serde_json::json!({
                "type": "bar",
                "title": "sites with most workers",
                "wide": true,
                "categories": top.iter().map(|v| v.1.as_str()).collect::<Vec<_>>(),
                "series": [{"name": "workers", "data": sites.counts.iter().take(15).collect::<Vec<_>>()}],
                "links": top.iter().map(|v| v.0.as_str()).collect::<Vec<_>>(),
            })
            .to_string(),
        );
    }
    // Jobs by status of these workers; each worker's page lists its own jobs.
    let jobs = data
        .jobsummary
        .iter()
        .map(|s| (s.jobstatus.clone(), human_count(s.count)))
        .collect();
    let (prev, next) = page_links(params, data.page, data.pages);
    let page = WorkersPage {
        window: describe_window(selection),
        total: human_count(data.totalworkers),
        njobs: data.njobs.map(human_count),
        charts,
        facets,
        list: list_table(&data.workers, |column, text, row| {
            worker_link(params, column, text, row)
        }),
        jobs,
        stats: list_table(&data.workerstats, |column, text, row| match column {
            "computingsite" | "status" | "resourcetype" | "jobtype" => {
                let instance = row.get("harvester_id").and_then(Json::as_str).unwrap_or("");
                Some(workers_url(
                    params,
                    &[("harvesterid", instance), (column, text)],
                ))
            }
            _ => None,
        }),
        diagnostics: list_table(&data.diagnostics, |_, _, _| None),
        prev,
        next,
        data,
    };
    Ok(page.render()?)
}

/// `/harvester/worker/<id>/`: the worker's fields and its jobs.
pub fn worker(data: &WorkerJson) -> AppResult<String> {
    let instance = data
        .workerinfo
        .get("harvesterid")
        .and_then(Json::as_str)
        .unwrap_or("");
    let fields: Vec<Map<String, Json>> = data
        .workerinfo
        .iter()
        .map(|(k, v)| {
            let mut row = Map::new();
            row.insert("field".into(), Json::from(k.clone()));
            row.insert("value".into(), v.clone());
            row
        })
        .collect();
    let fields_table = list_table(&fields, |column, text, row| {
        let field = row.get("field").and_then(Json::as_str).unwrap_or("");
        if column != "value" {
            return None;
        }
        match field {
            "batchlog" | "stdout" | "stderr" | "jdl" if text.starts_with("http") => {
                Some(text.to_string())
            }
            "harvesterid" => Some(workers_url(&[], &[("harvesterid", text)])),
            "computingsite" | "status" | "resourcetype" | "jobtype" | "computingelement" => Some(
                workers_url(&[], &[("harvesterid", instance), (field, text)]),
            ),
            _ => None,
        }
    });
    let workerid = data
        .workerinfo
        .get("workerid")
        .map(Json::to_string)
        .unwrap_or_default();
    let mut notes: Vec<String> = data
        .jobsummary
        .iter()
        .map(|s| format!("{} {}", human_count(s.count), s.jobstatus))
        .collect();
    notes = if notes.is_empty() {
        vec!["This worker ran no PanDA job that is still recorded.".to_string()]
    } else {
        vec![format!("Jobs by status: {}.", notes.join(", "))]
    };
    if !data.missingjobs.is_empty() {
        let ids: Vec<String> = data.missingjobs.iter().map(i64::to_string).collect();
        notes.push(format!(
            "{} of its jobs are no longer in the job tables (deleted or not yet archived): {}.",
            data.missingjobs.len(),
            ids.join(", ")
        ));
    }
    let jobs = Section::whole("Jobs", list_table(&data.jobs, job_link));
    Ok(ListPage {
        title: format!("Worker {workerid} of {instance}"),
        notes,
        form: Vec::new(),
        sections: vec![Section::whole("Worker", fields_table), jobs],
    }
    .render()?)
}

/// `/harvester/slots/`.
pub fn slots(data: &[Map<String, Json>]) -> AppResult<String> {
    let table = list_table(data, |column, text, _| match column {
        "pandaqueuename" => Some(workers_url(&[], &[("computingsite", text)])),
        "gshare" => Some(jobs_url(&[("gshare", text)])),
        _ => None,
    });
    Ok(ListPage {
        title: "Harvester slots".into(),
        notes: Vec::new(),
        form: Vec::new(),
        sections: vec![Section::whole("Slots", table)],
    }
    .render()?)
}

/// `/workersfortask/`.
pub fn task_workers(task: i64, data: &[TaskWorkerJson]) -> AppResult<String> {
    let rows: Vec<Map<String, Json>> = data
        .iter()
        .filter_map(|w| match serde_json::to_value(w) {
            Ok(Json::Object(map)) => Some(map),
            _ => None,
        })
        .collect();
    let table = list_table(&rows, |column, text, row| {
        let instance = row.get("harvesterid").and_then(Json::as_str).unwrap_or("");
        match column {
            "workerid" => Some(worker_url(instance, text)),
            "harvesterid" => Some(workers_url(&[], &[("harvesterid", text)])),
            "computingsite" | "status" | "resourcetype" => Some(workers_url(
                &[],
                &[("harvesterid", instance), (column, text)],
            )),
            _ => None,
        }
    });
    let jobs: i64 = data.iter().map(|w| w.njobs).sum();
    Ok(ListPage {
        title: format!("Workers of task {task}"),
        notes: vec![format!(
            "{} workers ran {} jobs of task {task}.",
            human_count(data.len() as i64),
            human_count(jobs)
        )],
        form: Vec::new(),
        sections: vec![Section::whole("Workers", table)],
    }
    .render()?)
}
