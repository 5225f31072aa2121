//! `/tasks/` and `/task/<id>/` on every backend, checked against independent SQL.

mod common;
use common::{count, get, get_json, get_redirect};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, schema, with_pool};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;
use sqlx::AssertSqlSafe;

const NOW: i64 = 1_790_000_000;

/// The site (`atlas_site`) of a queue, as the sites page reports it.
async fn state_site(state: &AppState, queue: &str) -> String {
    let site = get_json(state, &format!("/site/{queue}/?json")).await;
    site["queue"]["site"]
        .as_str()
        .unwrap_or_else(|| panic!("no site for {queue}: {site}"))
        .to_string()
}

async fn tasks_views_match_independent_counts(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 2_000,
            seed: 17,
            days: 3.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);
    let window = "date_from=2026-09-14T14:13:20&date_to=2026-09-21T14:13:20";
    let in_window =
        "modificationtime >= '2026-09-14 14:13:20' AND modificationtime <= '2026-09-21 14:13:20'";
    let summary = get_json(&state, &format!("/tasks/?json&{window}&outputs=summary")).await;
    let total = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{jedi_tasks}} WHERE {in_window}"),
    )
    .await;
    assert!(total > 5);
    assert_eq!(summary["totaltasks"].as_i64().unwrap(), total);
    let status_facet = summary["selectionsummary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "status")
        .unwrap();
    for entry in status_facet["list"].as_array().unwrap() {
        let status = entry["kname"].as_str().unwrap();
        let n = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{jedi_tasks}} WHERE {in_window} AND status = '{status}'"
            ),
        )
        .await;
        assert_eq!(entry["kvalue"].as_i64().unwrap(), n, "{status}");
    }
    // The bigmon shape: a bare list of tasks.
    let list = get_json(&state, &format!("/tasks/?json&{window}")).await;
    assert_eq!(list.as_array().unwrap().len() as i64, total);
    let narrowed = get_json(
        &state,
        &format!("/tasks/?json&{window}&status=done&fields=jeditaskid,status"),
    )
    .await;
    assert!(
        narrowed
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "done" && t.as_object().unwrap().len() == 2)
    );

    // One task: the job summary drops superseded retries, and nodrop counts every attempt.
    let d = db.dialect();
    let sql = format!(
        "SELECT {tid} FROM {h} GROUP BY {tid} ORDER BY COUNT(*) DESC, {tid} LIMIT 1",
        tid = d.quote("jeditaskid"),
        h = db.qualified(Catalog::get().table("jedi_job_retry_history"))
    );
    let task: i64 = with_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await.unwrap());
    let all_jobs = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM (SELECT pandaid FROM {{jobsdefined4}} WHERE jeditaskid = {task} UNION ALL SELECT pandaid FROM {{jobsactive4}} WHERE jeditaskid = {task} \
             UNION ALL SELECT pandaid FROM {{jobsarchived4}} WHERE jeditaskid = {task} UNION ALL SELECT pandaid FROM {{jobsarchived}} WHERE jeditaskid = {task}) j"
        ),
    )
    .await;
    let superseded = count(&db, &format!("SELECT COUNT(DISTINCT oldpandaid) FROM {{jedi_job_retry_history}} WHERE jeditaskid = {task}")).await;
    assert!(superseded > 0);
    let dropped = get_json(&state, &format!("/task/{task}/?json")).await;
    let nodrop = get_json(&state, &format!("/task/{task}/?json&mode=nodrop")).await;
    let sum = |j: &Json| -> i64 {
        j["jobsummary"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["count"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(sum(&nodrop), all_jobs);
    assert_eq!(sum(&dropped), all_jobs - superseded);
    assert_eq!(dropped["dropped"].as_i64().unwrap(), superseded);
    assert_eq!(dropped["task"]["jeditaskid"].as_i64().unwrap(), task);
    assert!(dropped["taskparams"].is_object());
    let datasets = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{jedi_datasets}} WHERE jeditaskid = {task}"),
    )
    .await;
    assert_eq!(
        dropped["datasets"].as_array().unwrap().len() as i64,
        datasets
    );
    let site_jobs: i64 = dropped["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["jobs"].as_i64().unwrap())
        .sum();
    assert_eq!(site_jobs, sum(&dropped));
    let (status, html) = get(&state, &format!("/task/{task}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"task-datasets\""));
    assert_eq!(get(&state, "/task/abc/").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&state, "/task/1/").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&state, &format!("/task/{task}/?mode=sometimes"))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&state, "/tasks/?days=x").await.0,
        StatusCode::BAD_REQUEST
    );

    // The search box.
    let pandaid = count(&db, "SELECT MIN(pandaid) FROM {jobsarchived4}").await;
    let queue: String = with_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT MIN({}) FROM {}",
        d.quote("panda_queue"),
        db.qualified(Catalog::get().table("schedconfig_json"))
    )))
    .fetch_one(pool)
    .await
    .unwrap());
    let text_of = |sql: String| {
        let db = db.clone();
        async move {
            let sql = sql
                .replace(
                    "{jedi_tasks}",
                    &db.qualified(Catalog::get().table("jedi_tasks")),
                )
                .replace(
                    "{jobsarchived4}",
                    &db.qualified(Catalog::get().table("jobsarchived4")),
                )
                .replace(
                    "{jedi_datasets}",
                    &db.qualified(Catalog::get().table("jedi_datasets")),
                );
            let value: String = with_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await.unwrap());
            value
        }
    };
    let user = text_of("SELECT MIN(produsername) FROM {jobsarchived4}".into()).await;
    let dataset = text_of("SELECT MIN(datasetname) FROM {jedi_datasets}".into()).await;
    let reqid = dropped["task"]["reqid"]
        .as_i64()
        .expect("the task's request");
    let site = state_site(&state, &queue).await;
    let encode = |v: &str| pandamon_web::kit::links::encode(v);
    for (q, target) in [
        (pandaid.to_string(), format!("/job/{pandaid}/")),
        (task.to_string(), format!("/task/{task}/")),
        (reqid.to_string(), format!("/tasks/?reqid={reqid}")),
        (queue.clone(), format!("/jobs/?computingsite={queue}")),
        (
            "mc23_13p6TeV.*".to_string(),
            "/tasks/?days=30&taskname=mc23_13p6TeV.*".to_string(),
        ),
        (
            user.clone(),
            format!("/jobs/?produsername={}", encode(&user)),
        ),
        (
            dataset.clone(),
            format!("/dataset/?datasetname={}", encode(&dataset)),
        ),
    ] {
        let (status, location) = get_redirect(&state, &format!("/search/?q={}", encode(&q))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{q}");
        assert_eq!(location.as_deref(), Some(target.as_str()), "{q}");
    }
    // A site names all its queues.
    let json = get_json(&state, &format!("/search/?json&q={}", encode(&site))).await;
    let site_candidate = json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "site")
        .expect("the site is a candidate");
    assert!(
        site_candidate["url"]
            .as_str()
            .unwrap()
            .contains(&encode(&queue))
    );
    // Two things with one name: the page lists both instead of guessing.
    db.execute(&format!(
        "INSERT INTO {} (jeditaskid, datasetid, datasetname, type, creationtime, modificationtime) \
         VALUES (1, 1, '{user}', 'input', '2026-09-20 00:00:00', '2026-09-20 00:00:00')",
        db.qualified(Catalog::get().table("jedi_datasets"))
    ))
    .await
    .unwrap();
    let (status, html) = get(&state, &format!("/search/?q={}", encode(&user))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("names 2 things"), "{html}");
    assert!(html.contains(&format!("/dataset/?datasetname={}", encode(&user))));
    assert!(html.contains(&format!("/jobs/?produsername={}", encode(&user))));
    // Nothing found is said, not guessed as a user.
    let (status, body) = get(&state, "/search/?q=INFN-T2-nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("anything named"), "{body}");
    assert_eq!(get(&state, "/search/?q=").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&state, "/search/?q=1").await.0, StatusCode::NOT_FOUND);
    db.close().await;
}
on_every_backend!(tasks_views_match_independent_counts);
