//! JSON shapes as snapshots (insta): what bigmon clients parse must not change by accident. The
//! simulated workload is pinned by seed and time; volatile fields are redacted.

mod common;
use common::get_json;

use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{Backend, TestDb};
use pandamon_web::AppState;
use serde_json::Value as Json;

/// Keeps the first `n` entries of every array, so a snapshot shows shapes and leading values.
fn trim(value: &mut Json, n: usize) {
    match value {
        Json::Array(items) => {
            items.truncate(n);
            items.iter_mut().for_each(|v| trim(v, n));
        }
        Json::Object(map) => map.values_mut().for_each(|v| trim(v, n)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shapes() {
    let test = TestDb::new(Backend::Sqlite, "snapshots").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 800,
            seed: 41,
            days: 1.0,
            now: 1_790_000_000,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);
    let window = "date_from=2026-09-20T14:13:20&date_to=2026-09-21T14:13:20";

    let mut jobs = get_json(&state, &format!("/jobs/?json&{window}&display_limit=2&fields=pandaid,jobstatus,computingsite,modificationtime")).await;
    trim(&mut jobs, 3);
    insta::assert_json_snapshot!("jobs", jobs, { ".datatime" => "[datatime]" });

    let pandaid = jobs["jobs"][0]["pandaid"].as_i64().unwrap();
    let mut job = get_json(&state, &format!("/job/{pandaid}/?json")).await;
    trim(&mut job, 2);
    insta::assert_json_snapshot!("job", job);

    let mut errors = get_json(&state, &format!("/errors/?json&{window}")).await;
    trim(&mut errors, 2);
    insta::assert_json_snapshot!("errors", errors);

    let mut tasks = get_json(
        &state,
        &format!("/tasks/?json&{window}&fields=jeditaskid,status,taskname"),
    )
    .await;
    trim(&mut tasks, 3);
    insta::assert_json_snapshot!("tasks", tasks);

    // The API document: every route, parameter and answer type; a change shows in review.
    let openapi = get_json(&state, "/api/openapi.json").await;
    insta::assert_json_snapshot!("openapi", openapi, { ".info.version" => "[version]" });
    db.close().await;
    test.cleanup().await;
}
