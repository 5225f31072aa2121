//! Dashboards and the site and user pages: `/dash/region/`, `/dash/world/`, `/sites/`,
//! `/site/<queue>/`, `/users/`, `/user/<name>/`. Queues are described by `schedconfig_json`.

use crate::error::{AppError, AppResult};
use crate::jobs::{cell_text, describe_window, job_tables, link_with};
use crate::state::AppState;
use crate::status::human_count;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use pandamon_model::{JobStatus, job_type};
use pandamon_query::{Selection, fields};
use pandamon_store::Value;
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::Cell;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the dashboards need of a PanDA queue, from its CRIC document.
#[derive(Debug, Clone, Serialize)]
pub struct QueueInfo {
    pub queue: String,
    pub site: String,
    pub cloud: String,
    pub tier: String,
    pub status: String,
    pub kind: String,
    pub resource: String,
    pub corecount: i64,
    pub corepower: f64,
    pub harvester: String,
    pub role: String,
    pub data: Json,
}

pub async fn queues(state: &AppState) -> AppResult<BTreeMap<String, QueueInfo>> {
    let rows = state.db.all_rows("schedconfig_json", 100_000).await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let name = row
            .iter()
            .find(|(k, _)| k == "panda_queue")
            .and_then(|(_, v)| v.as_text())
            .unwrap_or("")
            .to_string();
        let data: Json = row
            .iter()
            .find(|(k, _)| k == "data")
            .and_then(|(_, v)| v.as_text())
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Json::Null);
        let text = |k: &str| data.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        out.insert(
            name.clone(),
            QueueInfo {
                site: Some(text("atlas_site"))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| name.clone()),
                cloud: text("cloud"),
                tier: text("tier"),
                status: text("status"),
                kind: text("type"),
                resource: text("resource_type"),
                corecount: data.get("corecount").and_then(Json::as_i64).unwrap_or(0),
                corepower: data.get("corepower").and_then(Json::as_f64).unwrap_or(0.0),
                harvester: text("harvester"),
                role: text("role"),
                queue: name,
                data,
            },
        );
    }
    Ok(out)
}

fn parse(params: &[(String, String)], extra: &[(&str, String)]) -> AppResult<Selection> {
    crate::request::parse_selection(params, extra, &fields::JOBS, 12)
}

/// Job counts grouped by the given job columns over the selection.
async fn grouped(
    state: &AppState,
    selection: &Selection,
    columns: &[(&str, ColType)],
) -> AppResult<Vec<(Vec<String>, i64)>> {
    let (groups, _) =
        crate::source::group(state, selection, &job_tables(selection), columns).await?;
    Ok(groups
        .into_iter()
        .map(|g| {
            let keys = g
                .values
                .iter()
                .map(|c| match c {
                    Cell::Null => "Not specified".to_string(),
                    Cell::Int(v) => v.to_string(),
                    Cell::Text(s) => s.trim().to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            (keys, g.count)
        })
        .collect())
}

fn status_order(statuses: &BTreeSet<String>) -> Vec<String> {
    let mut list: Vec<String> = statuses.iter().cloned().collect();
    list.sort_by_key(|s| JobStatus::parse(s).map_or(usize::MAX, |s| s as usize));
    list
}

type Nested = BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<String, i64>>>>;

fn nested_json(nested: &Nested, statuses: &[String]) -> Json {
    let mut out = Map::new();
    for (name, jobtypes) in nested {
        let mut jt = Map::new();
        for (jobtype, rts) in jobtypes {
            let mut rt = Map::new();
            for (resource, counts) in rts {
                let list: Vec<Json> = statuses
                    .iter()
                    .map(|s| json!({"jobstatus": s, "count": counts.get(s).copied().unwrap_or(0)}))
                    .collect();
                rt.insert(resource.clone(), Json::Array(list));
            }
            jt.insert(jobtype.clone(), Json::Object(rt));
        }
        out.insert(name.clone(), Json::Object(jt));
    }
    Json::Object(out)
}

/// Counts `n` jobs under their job type and resource type, and under the "all" totals.
fn add(nested: &mut Nested, name: &str, jobtype: &str, resource: &str, status: &str, n: i64) {
    let jobtypes: &[&str] = if jobtype == "all" {
        &["all"]
    } else {
        &[jobtype, "all"]
    };
    let resources: &[&str] = if resource == "all" {
        &["all"]
    } else {
        &[resource, "all"]
    };
    for jt in jobtypes {
        for rt in resources {
            *nested
                .entry(name.to_string())
                .or_default()
                .entry(jt.to_string())
                .or_default()
                .entry(rt.to_string())
                .or_default()
                .entry(status.to_string())
                .or_default() += n;
        }
    }
}

/// Rows of a status table: (name, link, cells, total).
type StatusRows = Vec<(String, String, Vec<String>, String)>;

fn status_rows(nested: &Nested, statuses: &[String], link: impl Fn(&str) -> String) -> StatusRows {
    nested
        .iter()
        .map(|(name, jt)| {
            let counts = jt.get("all").and_then(|r| r.get("all"));
            let cells: Vec<String> = statuses
                .iter()
                .map(|s| {
                    counts
                        .and_then(|c| c.get(s))
                        .copied()
                        .filter(|n| *n > 0)
                        .map(human_count)
                        .unwrap_or_default()
                })
                .collect();
            let total: i64 = counts.map_or(0, |c| c.values().sum());
            (name.clone(), link(name), cells, human_count(total))
        })
        .collect()
}

#[derive(Template)]
#[template(path = "dash_region.html")]
struct RegionPage {
    window: String,
    statuses: Vec<String>,
    regions: StatusRows,
    queues: Vec<(String, StatusRows)>,
}

pub async fn region_dashboard(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(&params, &[])?;
    let queue_info = queues(&state).await?;
    let rows = grouped(
        &state,
        &selection,
        &[
            ("computingsite", ColType::Varchar(128)),
            ("jobstatus", ColType::Varchar(15)),
            ("prodsourcelabel", ColType::Varchar(20)),
            ("resource_type", ColType::Varchar(56)),
        ],
    )
    .await?;
    let mut regions = Nested::new();
    let mut sites = Nested::new();
    let mut queue_counts = Nested::new();
    let mut statuses = BTreeSet::new();
    let mut site_region: HashMap<String, String> = HashMap::new();
    for (keys, n) in &rows {
        let (queue, status, label, resource) = (&keys[0], &keys[1], &keys[2], &keys[3]);
        let info = queue_info.get(queue);
        let region = info.map_or("Not specified".to_string(), |q| q.cloud.clone());
        let site = info.map_or(queue.clone(), |q| q.site.clone());
        let jobtype = job_type(label);
        statuses.insert(status.clone());
        add(&mut regions, &region, jobtype, resource, status, *n);
        add(&mut sites, &site, jobtype, resource, status, *n);
        add(&mut queue_counts, queue, jobtype, resource, status, *n);
        site_region.insert(queue.clone(), region);
    }
    let statuses = status_order(&statuses);
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(json!({
            "regions": nested_json(&regions, &statuses),
            "sites": nested_json(&sites, &statuses),
            "queues": nested_json(&queue_counts, &statuses),
        }))
        .into_response());
    }
    let region_rows = status_rows(&regions, &statuses, |r| {
        link_with(&params, "cloud", r).replacen('?', "/jobs/?", 1)
    });
    let mut by_region: BTreeMap<String, Nested> = BTreeMap::new();
    for (queue, counts) in &queue_counts {
        let region = site_region.get(queue).cloned().unwrap_or_default();
        by_region
            .entry(region)
            .or_default()
            .insert(queue.clone(), counts.clone());
    }
    let queues = by_region
        .iter()
        .map(|(region, nested)| {
            (
                region.clone(),
                status_rows(nested, &statuses, |q| format!("/site/{q}/")),
            )
        })
        .collect();
    let page = RegionPage {
        window: describe_window(&selection),
        statuses,
        regions: region_rows,
        queues,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "dash_world.html")]
struct WorldPage {
    window: String,
    statuses: Vec<String>,
    nuclei: StatusRows,
    satellites: Vec<(String, StatusRows)>,
}

pub async fn world_dashboard(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(&params, &[("prodsourcelabel", "managed".to_string())])?;
    let queue_info = queues(&state).await?;
    let rows = grouped(
        &state,
        &selection,
        &[
            ("nucleus", ColType::Varchar(52)),
            ("computingsite", ColType::Varchar(128)),
            ("jobstatus", ColType::Varchar(15)),
        ],
    )
    .await?;
    let mut nuclei = Nested::new();
    let mut satellites: BTreeMap<String, Nested> = BTreeMap::new();
    let mut statuses = BTreeSet::new();
    for (keys, n) in &rows {
        let (nucleus, queue, status) = (&keys[0], &keys[1], &keys[2]);
        let site = queue_info
            .get(queue)
            .map_or(queue.clone(), |q| q.site.clone());
        statuses.insert(status.clone());
        add(&mut nuclei, nucleus, "all", "all", status, *n);
        add(
            satellites.entry(nucleus.clone()).or_default(),
            &site,
            "all",
            "all",
            status,
            *n,
        );
    }
    let statuses = status_order(&statuses);
    let flat = |nested: &Nested| -> Json {
        let mut out = Map::new();
        for (name, jt) in nested {
            let counts = jt
                .get("all")
                .and_then(|r| r.get("all"))
                .cloned()
                .unwrap_or_default();
            out.insert(name.clone(), json!(counts));
        }
        Json::Object(out)
    };
    if crate::request::json_requested(&params, &headers) {
        let mut by_nucleus = Map::new();
        for (nucleus, nested) in &satellites {
            by_nucleus.insert(nucleus.clone(), flat(nested));
        }
        return Ok(axum::Json(json!({
            "nucleuses": by_nucleus,
            "nucleussummary": flat(&nuclei),
            "statelist": statuses,
            "built": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        }))
        .into_response());
    }
    let page = WorldPage {
        window: describe_window(&selection),
        nuclei: status_rows(&nuclei, &statuses, |n| {
            link_with(&params, "nucleus", n).replacen('?', "/jobs/?", 1)
        }),
        satellites: satellites
            .iter()
            .map(|(nucleus, nested)| {
                (
                    nucleus.clone(),
                    status_rows(nested, &statuses, |s| {
                        format!("/jobs/?nucleus={nucleus}&computingsite={s}*")
                    }),
                )
            })
            .collect(),
        statuses,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "sites.html")]
struct SitesPage {
    window: String,
    statuses: Vec<String>,
    rows: Vec<(QueueInfo, Vec<String>, String)>,
}

pub async fn list_sites(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(&params, &[])?;
    let queue_info = queues(&state).await?;
    let rows = grouped(
        &state,
        &selection,
        &[
            ("computingsite", ColType::Varchar(128)),
            ("jobstatus", ColType::Varchar(15)),
        ],
    )
    .await?;
    let mut counts: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    let mut statuses = BTreeSet::new();
    for (keys, n) in rows {
        statuses.insert(keys[1].clone());
        *counts
            .entry(keys[0].clone())
            .or_default()
            .entry(keys[1].clone())
            .or_default() += n;
    }
    let statuses = status_order(&statuses);
    if crate::request::json_requested(&params, &headers) {
        let list: Vec<Json> = queue_info
            .values()
            .map(|q| {
                let mut entry = serde_json::to_value(q).unwrap_or(Json::Null);
                if let Json::Object(map) = &mut entry {
                    map.remove("data");
                    map.insert(
                        "jobs".into(),
                        json!(counts.get(&q.queue).cloned().unwrap_or_default()),
                    );
                }
                entry
            })
            .collect();
        return Ok(axum::Json(list).into_response());
    }
    let rows = queue_info
        .values()
        .map(|q| {
            let c = counts.get(&q.queue);
            let cells = statuses
                .iter()
                .map(|s| {
                    c.and_then(|c| c.get(s))
                        .copied()
                        .filter(|n| *n > 0)
                        .map(human_count)
                        .unwrap_or_default()
                })
                .collect();
            let total = human_count(c.map_or(0, |c| c.values().sum()));
            (q.clone(), cells, total)
        })
        .collect();
    let page = SitesPage {
        window: describe_window(&selection),
        statuses,
        rows,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "site.html")]
struct SitePage {
    info: QueueInfo,
    window: String,
    summary: Vec<(String, String, String)>,
    attributes: Vec<(String, String)>,
}

pub async fn find_site(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let queue_info = queues(&state).await?;
    let info = queue_info
        .get(&queue)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("queue {queue}")))?;
    let selection = parse(&params, &[("computingsite", queue.clone())])?;
    let rows = grouped(&state, &selection, &[("jobstatus", ColType::Varchar(15))]).await?;
    let mut summary: Vec<(String, i64)> =
        rows.into_iter().map(|(k, n)| (k[0].clone(), n)).collect();
    summary.sort_by_key(|(s, _)| JobStatus::parse(s).map_or(usize::MAX, |s| s as usize));
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(json!({
            "queue": info,
            "jobsummary": summary.iter().map(|(s, n)| json!({"jobstatus": s, "count": n})).collect::<Vec<_>>(),
        }))
        .into_response());
    }
    let attributes = info
        .data
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), cell_text(v))).collect())
        .unwrap_or_default();
    let page = SitePage {
        window: describe_window(&selection),
        summary: summary
            .iter()
            .map(|(s, n)| {
                (
                    s.clone(),
                    human_count(*n),
                    format!("/jobs/?computingsite={queue}&jobstatus={s}"),
                )
            })
            .collect(),
        attributes,
        info,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Debug, Serialize)]
pub struct UserRow {
    pub name: String,
    pub jobs: i64,
    pub active: i64,
    pub finished: i64,
    pub failed: i64,
    pub tasks: i64,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    window: String,
    users: Vec<UserRow>,
}

pub async fn list_users(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(&params, &[("prodsourcelabel", "user|panda".to_string())])?;
    let rows = grouped(
        &state,
        &selection,
        &[
            ("produsername", ColType::Varchar(60)),
            ("jobstatus", ColType::Varchar(15)),
            ("jeditaskid", ColType::BigInt),
        ],
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
        entry.1.insert(keys[2].clone());
    }
    let mut list: Vec<UserRow> = users
        .into_values()
        .map(|(mut row, tasks)| {
            row.tasks = tasks.len() as i64;
            row
        })
        .collect();
    list.sort_by(|a, b| b.jobs.cmp(&a.jobs).then_with(|| a.name.cmp(&b.name)));
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(list).into_response());
    }
    let page = UsersPage {
        window: describe_window(&selection),
        users: list,
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn find_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'user': empty name".into(),
        ));
    }
    let selection = parse(&params, &[])?;
    // Exact name, not the substring match of `user=`.
    let selection = selection.and_in("produsername", &[name.as_str()]);
    let rows = grouped(
        &state,
        &selection,
        &[
            ("jobstatus", ColType::Varchar(15)),
            ("jeditaskid", ColType::BigInt),
        ],
    )
    .await?;
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_task: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (keys, n) in rows {
        *by_status.entry(keys[0].clone()).or_default() += n;
        *by_task
            .entry(keys[1].clone())
            .or_default()
            .entry(keys[0].clone())
            .or_default() += n;
    }
    if by_status.is_empty() {
        let tasks = state
            .db
            .rows_where(
                "jedi_tasks",
                ("username", Value::from(name.clone())),
                None,
                1,
            )
            .await?;
        if tasks.is_empty() {
            return Err(AppError::NotFound(format!("user {name}")));
        }
    }
    let mut statuses: Vec<(String, i64)> = by_status.into_iter().collect();
    statuses.sort_by_key(|(s, _)| JobStatus::parse(s).map_or(usize::MAX, |s| s as usize));
    let json = json!({
        "user": name,
        "jobsummary": statuses.iter().map(|(s, n)| json!({"jobstatus": s, "count": n})).collect::<Vec<_>>(),
        "tasks": by_task.iter().map(|(t, c)| json!({"jeditaskid": t, "jobs": c})).collect::<Vec<_>>(),
    });
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(json).into_response());
    }
    let page = UserPage {
        window: describe_window(&selection),
        user: name.clone(),
        summary: statuses
            .iter()
            .map(|(s, n)| {
                (
                    s.clone(),
                    human_count(*n),
                    link_with(&[("produsername".into(), name.clone())], "jobstatus", s)
                        .replacen('?', "/jobs/?", 1),
                )
            })
            .collect(),
        tasks: by_task
            .iter()
            .map(|(t, c)| {
                (
                    t.clone(),
                    human_count(c.values().sum()),
                    c.iter()
                        .map(|(s, n)| format!("{s} {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })
            .collect(),
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    window: String,
    user: String,
    summary: Vec<(String, String, String)>,
    tasks: Vec<(String, String, String)>,
}
