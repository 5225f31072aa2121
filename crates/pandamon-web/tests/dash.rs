//! Dashboards, sites and users on every backend, checked against independent SQL counts.

mod common;
use common::{get, get_json, kind_total};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, Db, schema};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;

const NOW: i64 = 1_790_000_000;
const WINDOW: &str = "date_from=2026-09-20T14:13:20&date_to=2026-09-21T14:13:20";
const IN_WINDOW: &str =
    "modificationtime >= '2026-09-20 14:13:20' AND modificationtime <= '2026-09-21 14:13:20'";

/// Counts jobs in the live tables within the window and the extra condition.
async fn jobs(db: &Db, extra: &str) -> i64 {
    let mut total = 0;
    for t in ["jobsdefined4", "jobsactive4", "jobsarchived4"] {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {IN_WINDOW} {extra}",
            db.qualified(Catalog::get().table(t))
        );
        total += db.scalar_i64(&sql).await.unwrap();
    }
    total
}

async fn dashboards_match_independent_counts(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 2_000,
            seed: 23,
            days: 2.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);
    let total = jobs(&db, "").await;
    assert!(total > 100);

    let region = get_json(&state, &format!("/dash/region/?json&{WINDOW}")).await;
    let by_region: i64 = region["regions"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| kind_total(e, "all"))
        .sum();
    assert_eq!(by_region, total);
    let by_queue: i64 = region["queues"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| kind_total(e, "all"))
        .sum();
    assert_eq!(by_queue, total);
    for (queue, entry) in region["queues"].as_object().unwrap().iter().take(5) {
        assert_eq!(
            kind_total(entry, "all"),
            jobs(&db, &format!("AND computingsite = '{queue}'")).await,
            "{queue}"
        );
        let analysis = kind_total(entry, "analysis");
        assert_eq!(
            analysis,
            jobs(
                &db,
                &format!("AND computingsite = '{queue}' AND prodsourcelabel IN ('user', 'panda')")
            )
            .await
        );
    }

    let world = get_json(&state, &format!("/dash/world/?json&{WINDOW}")).await;
    let managed: i64 = world["nucleussummary"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| {
            c.as_object()
                .unwrap()
                .values()
                .map(|v| v.as_i64().unwrap())
                .sum::<i64>()
        })
        .sum();
    assert_eq!(managed, jobs(&db, "AND prodsourcelabel = 'managed'").await);
    assert!(
        world["statelist"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "finished")
    );

    let sites = get_json(&state, &format!("/sites/?json&{WINDOW}")).await;
    let queues = db
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM {}",
            db.qualified(Catalog::get().table("schedconfig_json"))
        ))
        .await
        .unwrap();
    assert_eq!(sites.as_array().unwrap().len() as i64, queues);
    assert!(queues >= 170);
    let site_jobs: i64 = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["jobs"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_i64().unwrap())
                .sum::<i64>()
        })
        .sum();
    assert_eq!(site_jobs, total);
    let busiest = sites
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|s| {
            s["jobs"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_i64().unwrap())
                .sum::<i64>()
        })
        .unwrap();
    let queue = busiest["queue"].as_str().unwrap();
    let site = get_json(&state, &format!("/site/{queue}/?json&{WINDOW}")).await;
    let site_total: i64 = site["jobsummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .sum();
    assert_eq!(
        site_total,
        jobs(&db, &format!("AND computingsite = '{queue}'")).await
    );
    assert_eq!(
        get(&state, &format!("/site/{queue}/?{WINDOW}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&state, "/site/NO_SUCH_QUEUE/").await.0,
        StatusCode::NOT_FOUND
    );

    let users = get_json(&state, &format!("/users/?json&{WINDOW}")).await;
    let user_jobs: i64 = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["jobs"].as_i64().unwrap())
        .sum();
    assert_eq!(
        user_jobs,
        jobs(&db, "AND prodsourcelabel IN ('user', 'panda')").await
    );
    for page in ["/dash/region/", "/dash/world/", "/sites/", "/users/"] {
        assert_eq!(
            get(&state, &format!("{page}?{WINDOW}")).await.0,
            StatusCode::OK,
            "{page}"
        );
    }
    assert_eq!(
        get(&state, "/dash/region/?hours=x").await.0,
        StatusCode::BAD_REQUEST
    );
    db.close().await;
}
on_every_backend!(dashboards_match_independent_counts);
