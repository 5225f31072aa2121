//! A database outage as users see it: the database (PostgreSQL behind a proxy the test cuts)
//! goes away under a running monitor. Pages the live index can answer keep answering at once,
//! pages that need the database say so at once (503) instead of waiting for connection
//! timeouts, `/healthz` answers within about a second, and everything is back within seconds of
//! the database's return. The time bounds are generous behavioural bounds (the connection
//! timeout they guard against is 10 s), not speed measurements.

mod common;
use common::get;

use axum::http::StatusCode;
use chrono::Utc;
use pandamon_live::sync::{LiveIndex, Syncer};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Db, Purpose, Schemas, schema};
use pandamon_testkit::{Backend, CutProxy, TestDb};
use pandamon_web::AppState;
use std::time::{Duration, Instant};

/// `uri`'s status, and how long it took.
async fn timed(state: &AppState, uri: &str) -> (StatusCode, String, Duration) {
    let started = Instant::now();
    let (status, body) = get(state, uri).await;
    (status, body, started.elapsed())
}

/// Asks `uri` until it answers `want` (or panics after `within`).
async fn until(state: &AppState, uri: &str, want: StatusCode, within: Duration) {
    let started = Instant::now();
    loop {
        let (status, _) = get(state, uri).await;
        if status == want {
            return;
        }
        assert!(started.elapsed() < within, "{uri} never answered {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_the_index_answers_and_the_rest_fails_fast() {
    let test = TestDb::new(Backend::Postgres, "outage").await;
    let loader = test.connect().await;
    schema::init(&loader, false).await.unwrap();
    pandamon_sim::simulate(
        &loader,
        SimConfig {
            jobs: 1_500,
            seed: 23,
            days: 2.0,
            now: Utc::now().timestamp(),
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    loader.close().await;

    let proxy = CutProxy::start(&test.url).await;
    let db = Db::connect(proxy.url(), Schemas::default(), Purpose::Serve)
        .await
        .unwrap();
    let live = LiveIndex::new(7.0);
    let mut syncer = Syncer::new(db.clone(), live.clone());
    syncer.load().await.unwrap();
    let state = AppState::new(db.clone(), None).with_index(live);
    let prober = tokio::spawn(pandamon_web::kit::health::watch_database(state.clone()));

    // Healthy: both kinds of page answer; the reference data is read once.
    let (status, body, _) = timed(&state, "/jobs/?json&hours=24").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"source\":\"index\""), "{body}");
    assert_eq!(get(&state, "/tasks/?json").await.0, StatusCode::OK);
    assert_eq!(get(&state, "/healthz").await.0, StatusCode::OK);

    proxy.cut();
    let (status, body, took) = timed(&state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(took < Duration::from_secs(3), "/healthz took {took:?}");
    assert!(
        !body.contains(&test.url) && !body.contains("SELECT"),
        "{body}"
    );
    // The prober has noticed within a second or two.
    until(
        &state,
        "/healthz",
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(5),
    )
    .await;
    assert!(db.health.is_down());

    // A selection nobody asked before, answered by the index at once.
    let (status, body, took) = timed(&state, "/jobs/?json&hours=12&jobstatus=failed").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(took < Duration::from_secs(3), "index page took {took:?}");
    // A page that needs the database says so at once, as a page for browsers.
    let (status, body, took) = timed(&state, "/tasks/?days=3").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains("<html") && body.contains("unavailable"),
        "{body}"
    );
    assert!(took < Duration::from_secs(3), "failing page took {took:?}");

    proxy.restore();
    until(&state, "/healthz", StatusCode::OK, Duration::from_secs(10)).await;
    assert!(!db.health.is_down());
    let (status, body, _) = timed(&state, "/tasks/?json&days=3").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    prober.abort();
    db.close().await;
    test.cleanup().await;
}
