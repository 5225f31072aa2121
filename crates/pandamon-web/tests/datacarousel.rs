//! The Data Carousel module on every backend: every figure of the staging dashboard against
//! independent SQL, the filters, the staging of one task and its block on the task page, the
//! simulator's requests in every state, bad input.

mod common;
use common::{count, get, get_json, simulated_recently, sum};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;

const FINAL: &str =
    "'done', 'finished', 'failed', 'broken', 'aborted', 'obsolete', 'toabort', 'tobroken'";

/// A simulated database whose history ends at `now`.
async fn simulated_at(test: &TestDb, jobs: u64, now: i64) -> pandamon_store::Db {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs,
            seed: 41,
            days: 3.0,
            now,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    db
}

/// A workload ending within the last day (see [`simulated_recently`]).
async fn simulated(test: &TestDb, jobs: u64) -> pandamon_store::Db {
    simulated_recently(test, jobs, 41).await.0
}

fn summary<'a>(dash: &'a Json, key: &str) -> &'a Vec<Json> {
    dash["summary"][key].as_array().unwrap()
}

async fn staging_dashboard_matches_sql(test: &TestDb) {
    let db = simulated(test, 6_000).await;
    let state = AppState::new(db.clone(), None);
    // Everything: ten years of finished requests and every active one.
    let dash = get_json(&state, "/api/dc/dash/?days=3650").await;
    let requests = count(&db, "SELECT COUNT(*) FROM {data_carousel_requests}").await;
    assert!(requests > 0, "the simulator made staging requests");
    assert_eq!(
        dash["detailstable"].as_array().unwrap().len() as i64,
        requests
    );
    let totals = &dash["totals"];
    for (key, sql) in [
        ("files_total", sum(&db, "total_files")),
        ("files_done", sum(&db, "staged_files")),
        ("bytes_total", sum(&db, "dataset_size")),
        ("bytes_done", sum(&db, "staged_size")),
    ] {
        let expected = count(
            &db,
            &format!("SELECT {sql} FROM {{data_carousel_requests}}"),
        )
        .await;
        assert_eq!(totals[key].as_i64().unwrap(), expected, "{key}");
    }
    let done = count(
        &db,
        "SELECT COUNT(*) FROM {data_carousel_requests} WHERE status IN ('done', 'retired')",
    )
    .await;
    let active = count(
        &db,
        "SELECT COUNT(*) FROM {data_carousel_requests} WHERE status IN ('staging', 'queued')",
    )
    .await;
    assert_eq!(totals["datasets_done"].as_i64().unwrap(), done);
    assert_eq!(totals["datasets_active"].as_i64().unwrap(), active);

    // Each summary row, and the dashboard narrowed to it, against SQL.
    let source = &summary(&dash, "source_rse")[0];
    let name = source["name"].as_str().unwrap();
    let files = count(
        &db,
        &format!(
            "SELECT {} FROM {{data_carousel_requests}} WHERE source_rse = '{name}'",
            sum(&db, "total_files")
        ),
    )
    .await;
    assert_eq!(source["files_total"].as_i64().unwrap(), files);
    let narrowed = get_json(&state, &format!("/api/dc/dash/?days=3650&source={name}")).await;
    assert_eq!(narrowed["totals"]["files_total"].as_i64().unwrap(), files);
    assert_eq!(narrowed["filters"]["source"], name);
    let campaign = &summary(&dash, "campaign")[0];
    let cname = campaign["name"].as_str().unwrap();
    let condition = if cname == "Unknown" {
        "t.campaign IS NULL".to_string()
    } else {
        format!("t.campaign = '{cname}'")
    };
    let by_campaign = count(
        &db,
        &format!(
            "SELECT COUNT(DISTINCT r.request_id) FROM {{data_carousel_requests}} r JOIN {{data_carousel_relations}} x \
             ON x.request_id = r.request_id JOIN {{jedi_tasks}} t ON t.jeditaskid = x.task_id WHERE {condition}"
        ),
    )
    .await;
    assert_eq!(campaign["datasets_total"].as_i64().unwrap(), by_campaign);
    let narrowed = get_json(&state, &format!("/api/dc/dash/?days=3650&campaign={cname}")).await;
    assert_eq!(
        narrowed["totals"]["datasets_total"].as_i64().unwrap(),
        by_campaign
    );

    // The window: finished requests of the last day and every active one.
    let since = (chrono::Utc::now() - chrono::Duration::hours(24))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S");
    let recent = get_json(&state, "/api/dc/dash/?hours=24").await;
    let in_window = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM {{data_carousel_requests}} WHERE end_time IS NULL OR end_time >= '{since}'"
        ),
    )
    .await;
    assert_eq!(
        recent["detailstable"].as_array().unwrap().len() as i64,
        in_window
    );

    // Stalled as bigmon defines it, lost files left out.
    let ten_days = (chrono::Utc::now() - chrono::Duration::days(10))
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S");
    let stalled = count(
        &db,
        &format!(
            "SELECT COUNT(DISTINCT r.request_id) FROM {{data_carousel_requests}} r JOIN {{data_carousel_relations}} x \
             ON x.request_id = r.request_id JOIN {{jedi_tasks}} t ON t.jeditaskid = x.task_id \
             WHERE r.status = 'staging' AND r.end_time IS NULL AND t.status NOT IN ({FINAL}) \
             AND COALESCE(r.last_staged_time, r.start_time) < '{ten_days}' AND NOT EXISTS (SELECT 1 FROM {{jedi_datasets}} d \
             WHERE d.jeditaskid = t.jeditaskid AND d.datasetname = r.dataset AND d.type = 'input' AND d.nfiles < r.staged_files)"
        ),
    )
    .await;
    assert_eq!(dash["stalled"].as_i64().unwrap(), stalled);

    // One task's staging, as JSON and on its page.
    let task = count(&db, "SELECT MIN(task_id) FROM {data_carousel_relations}").await;
    let info = get_json(
        &state,
        &format!("/api/dc/staginginfofortask/?jeditaskid={task}"),
    )
    .await;
    let expected = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{data_carousel_relations}} WHERE task_id = {task}"),
    )
    .await;
    assert_eq!(info.as_array().unwrap().len() as i64, expected);
    assert!(
        info[0]["tasks"]
            .as_array()
            .unwrap()
            .contains(&Json::from(task))
    );
    let (code, html) = get(&state, &format!("/task/{task}/")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        html.contains("Staging from tape"),
        "the task page shows its staging"
    );
    let narrowed = get_json(
        &state,
        &format!("/api/dc/dash/?days=3650&jeditaskid={task}"),
    )
    .await;
    assert_eq!(
        narrowed["detailstable"].as_array().unwrap().len() as i64,
        expected
    );

    // The page: charts, summaries whose rows narrow the page, requests linking to tasks.
    let (code, html) = get(&state, "/dc/dash/?days=3650").await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("data-chart"));
    assert!(
        html.contains(&format!("href=\"/dc/dash/?days=3650&amp;source={name}\""))
            || html.contains(&format!("source={name}"))
    );
    assert!(html.contains("href=\"/task/"));
    let (code, _) = get(&state, "/datacardash/").await;
    assert_eq!(code, StatusCode::OK);
    db.close().await;
}
on_every_backend!(staging_dashboard_matches_sql);

/// The simulator makes requests in every state, stalled ones with and without tape errors,
/// some with lost files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_carousel_has_every_case() {
    let test = TestDb::new(pandamon_testkit::Backend::Sqlite, "dc_cases").await;
    // A fixed end of history: which requests exist in which state does not depend on the clock.
    let db = simulated_at(&test, 60_000, 1_790_000_000).await;
    let mut by_status = Vec::new();
    for status in ["queued", "staging", "done", "cancelled", "retired"] {
        let n = count(
            &db,
            &format!("SELECT COUNT(*) FROM {{data_carousel_requests}} WHERE status = '{status}'"),
        )
        .await;
        by_status.push((status, n));
    }
    assert!(by_status.iter().all(|(_, n)| *n > 0), "{by_status:?}");
    let state = AppState::new(db.clone(), None);
    let dash = get_json(&state, "/api/dc/dash/?days=3650").await;
    let rows = dash["detailstable"].as_array().unwrap();
    let stalled: Vec<&Json> = rows
        .iter()
        .filter(|r| r["stalled_days"].as_f64().is_some_and(|d| d > 10.0))
        .collect();
    assert!(
        !stalled.is_empty(),
        "no request stalled for more than ten days"
    );
    let tape = |r: &Json| {
        r["rule_error"]
            .as_str()
            .is_some_and(|e| e.contains("[TAPE SOURCE]"))
    };
    assert!(
        rows.iter()
            .filter(|r| r["stalled_days"].is_number())
            .any(tape)
    );
    assert!(
        rows.iter()
            .filter(|r| r["stalled_days"].is_number())
            .any(|r| !tape(r))
    );
    assert!(
        rows.iter().any(|r| r["lost_files"] == true),
        "no lost files"
    );
    db.close().await;
    test.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_carousel_parameters_are_named() {
    let test = TestDb::new(pandamon_testkit::Backend::Sqlite, "dc_bad").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let state = AppState::new(db.clone(), None);
    for (uri, name) in [
        ("/api/dc/dash/?days=abc", "days"),
        ("/api/dc/dash/?hours=0", "hours"),
        ("/dc/dash/?json&jeditaskid=x1", "jeditaskid"),
        ("/api/dc/staginginfofortask/", "jeditaskid"),
        ("/api/dc/staginginfofortask/?jeditaskid=-", "jeditaskid"),
    ] {
        let (code, body) = get(&state, uri).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains(name), "{uri}: {body}");
    }
    let (_, body) = get(&state, "/api/dc/dash/?json&days=abc").await;
    assert!(body.contains("'days'"), "{body}");
    let empty = get_json(&state, "/api/dc/dash/").await;
    assert_eq!(empty["detailstable"], Json::Array(Vec::new()));
    let (code, html) = get(&state, "/dc/dash/").await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("No request matches"));
    db.close().await;
    test.cleanup().await;
}
