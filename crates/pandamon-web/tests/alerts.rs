//! The alerts page and the health report: the rules with their schedules, the alerts sent and
//! the ones still due with their delivery error.

mod common;
use common::{get, get_json};

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use pandamon_store::{StateConfig, StateStore, schema};
use pandamon_testkit::{Backend, TestDb};
use pandamon_web::AppState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_page_shows_rules_sent_and_due_alerts() {
    let test = TestDb::new(Backend::Sqlite, "alerts_page").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let now = Utc::now().naive_utc();
    let (repeat, lease) = (Duration::days(4), Duration::minutes(30));
    store
        .claim_alert("stuck_tasks", "task 7", now, repeat, lease)
        .await
        .unwrap();
    store
        .alert_delivered(
            "stuck_tasks",
            "task 7",
            now,
            "experts@example.org",
            "[pandamon] Running tasks without a finished job",
        )
        .await
        .unwrap();
    store
        .claim_alert("site_failure_spike", "site X", now, repeat, lease)
        .await
        .unwrap();
    store
        .alert_failed(
            "site_failure_spike",
            "site X",
            now,
            "mail server smtp://127.0.0.1:1: connection refused",
        )
        .await
        .unwrap();
    let state = AppState::new(db.clone(), None).with_state(store);
    let page = get_json(&state, "/alerts/?json").await;
    let rules: Vec<&str> = page["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["stalled_staging", "site_failure_spike", "stuck_tasks"]
    );
    assert_eq!(page["rules"][0]["schedule"], "daily 10:00 UTC");
    let alerts = page["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    let due = alerts.iter().find(|a| a["subject"] == "site X").unwrap();
    assert!(
        due["delivered_at"].is_null() && due["last_error"].as_str().unwrap().contains("refused")
    );
    let sent = alerts.iter().find(|a| a["subject"] == "task 7").unwrap();
    assert_eq!(sent["recipients"], "experts@example.org");
    let health = get_json(&state, "/healthz").await;
    assert_eq!(health["modules"]["alerts"]["undelivered"], 1, "{health}");
    let (code, html) = get(&state, "/alerts/").await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("not yet") && html.contains("connection refused"));
    db.close().await;
    test.cleanup().await;
}
