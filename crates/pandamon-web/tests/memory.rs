//! Memory under the request patterns that once grew the server to 4 GB: the largest job pages
//! asked for with a changing unknown parameter, and with distinct windows. The answer cache stays
//! within its bytes, answers being computed within their slots, and the process's peak memory
//! within the budget. This test is alone in its binary, so the process's memory is its own.

mod common;

use axum::body::to_bytes;
use axum::http::StatusCode;
use chrono::Utc;
use pandamon_live::sync::{LiveIndex, Syncer};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{Backend, TestDb};
use pandamon_web::kit::limits::{MemoryBudget, ServerLimits};
use pandamon_web::{AppState, Settings};

/// A line of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn memory(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Asks for every address, 32 at a time; each must answer 200. The bodies' sizes.
async fn ask_all(state: &AppState, uris: Vec<String>) -> Vec<usize> {
    let mut sizes = Vec::new();
    for batch in uris.chunks(32) {
        let asked: Vec<_> = batch
            .iter()
            .map(|uri| {
                let (state, uri) = (state.clone(), uri.clone());
                tokio::spawn(async move {
                    let response = common::request(&state, &uri).await;
                    assert_eq!(response.status(), StatusCode::OK, "{uri}");
                    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
                    body.len()
                })
            })
            .collect();
        for task in asked {
            sizes.push(task.await.unwrap());
        }
    }
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_within_the_budget_under_distinct_large_requests() {
    let test = TestDb::new(Backend::Sqlite, "memory").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let now = Utc::now().timestamp();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 12_000,
            seed: 5,
            days: 3.0,
            now,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let live = LiveIndex::new(7.0);
    Syncer::new(db.clone(), live.clone()).load().await.unwrap();
    let budget = MemoryBudget::new(256 << 20, Some(32 << 20));
    assert_eq!(
        budget.computations, 2,
        "224 MiB hold two 96 MiB computations"
    );
    let state = AppState::new(db.clone(), None)
        .with_settings(Settings {
            server: ServerLimits {
                memory: budget,
                ..Default::default()
            },
            ..Default::default()
        })
        .with_index(live.clone());
    let health = |state: AppState| async move { common::get_json(&state, "/healthz").await };
    // Warm up (templates, reference data, the allocator's arenas), then take the baseline: the
    // process's high-water mark so far (simulating and loading the index peaked above what is
    // resident now, and the requests must not add more than the budget to that mark).
    common::get(&state, "/jobs/?json&display_limit=10000&days=7").await;
    let baseline = memory("VmHWM");

    let windows = |limit: u64, n: i64| {
        (0..n)
            .map(|n| {
                let to = chrono::DateTime::from_timestamp(now - n * 60, 0).unwrap();
                format!(
                    "/jobs/?json&display_limit={limit}&date_from={}&date_to={}",
                    (to - chrono::Duration::days(6)).format("%Y-%m-%dT%H:%M:%S"),
                    to.format("%Y-%m-%dT%H:%M:%S")
                )
            })
            .collect::<Vec<_>>()
    };
    // One unknown parameter with 511 values: one key, one answer kept (a fixed window: a
    // relative one moves with the clock, and so does its key).
    let uris = (0..511)
        .map(|n| format!("{}&z={n}", windows(1_000, 1)[0]))
        .collect();
    let sizes = ask_all(&state, uris).await;
    assert!(
        sizes.iter().all(|s| *s == sizes[0] && *s > 100_000),
        "one answer for every value of the ignored parameter"
    );
    let cache = health(state.clone()).await["cache"].clone();
    assert_eq!(cache["entries"], 1, "{cache}: one answer kept for z");

    // Distinct windows: a key each. The largest answers are not kept (each would push out
    // many small ones); smaller ones fill the cache up to its bytes.
    let large: usize = ask_all(&state, windows(10_000, 40)).await.iter().sum();
    let small: usize = ask_all(&state, windows(1_000, 60)).await.iter().sum();
    assert!(
        large > 256 << 20 && small > 32 << 20,
        "the answers ({large} and {small} bytes) exceed the budget and the cache"
    );
    let cache = health(state.clone()).await["cache"].clone();
    let bytes = cache["bytes"].as_u64().unwrap();
    assert!(
        bytes <= 32 << 20,
        "{cache}: the cache holds at most its bytes"
    );
    assert!(bytes > 16 << 20, "{cache}: the cache is used");
    assert_eq!(cache["computing"], 0, "{cache}: every slot is free again");
    assert_eq!(cache["max_computing"], 2);

    let peak = memory("VmHWM");
    assert!(
        peak < baseline + (256 << 20),
        "peak memory {} MiB exceeds the baseline {} MiB by more than the 256 MiB budget",
        peak >> 20,
        baseline >> 20
    );
    db.close().await;
}
