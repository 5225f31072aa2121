//! The probes of a public monitor's attackers and crowds, kept as a regression corpus on every
//! backend: NUL bytes, huge value lists, overlong addresses. Each is a 400 naming the problem,
//! never a 500; security headers are on every answer.

mod common;
use common::get;

use axum::http::StatusCode;
use pandamon_store::schema;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;

async fn probes_are_clear_errors_never_500(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let state = AppState::new(db.clone(), None);
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .join("|")
    };
    let ids = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join("|");
    let cases: Vec<(String, &str)> = vec![
        ("/user/%00/".into(), "NUL"),
        ("/search/?q=%00".into(), "NUL"),
        ("/file/?lfn=%00".into(), "NUL"),
        ("/tasks/?json&taskname=%00".into(), "NUL"),
        ("/jobs/?json&jobname=a%00b".into(), "NUL"),
        (
            format!("/jobs/?json&days=30&produsername={}", many(990)),
            "'produsername'",
        ),
        (
            format!("/jobs/?json&produsername={}", many(201)),
            "limit of 200",
        ),
        (format!("/jobs/?json&pandaid={}", ids(1_000)), "'pandaid'"),
        (
            format!("/tasks/?json&jeditaskid={}", ids(500)),
            "'jeditaskid'",
        ),
        (
            format!("/jobs/?json&computingsite={}", "A".repeat(9_000)),
            "8192",
        ),
        ("/jobs/?json&days=365".into(), "limit of 180 days"),
        ("/errors/?json&hours=9000".into(), "'hours'"),
        (
            "/harvester/workers/?json&date_from=2020-01-01".into(),
            "'date_from'",
        ),
    ];
    for (uri, needle) in &cases {
        let (code, body) = get(&state, uri).await;
        let short = &uri[..uri.len().min(80)];
        assert_eq!(code, StatusCode::BAD_REQUEST, "{short}: {body}");
        assert!(body.contains(needle), "{short}: {body}");
    }
    // At the limit, a list is an answer.
    let (code, body) = get(&state, &format!("/jobs/?json&produsername={}", many(200))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    db.close().await;
}
on_every_backend!(probes_are_clear_errors_never_500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let test = TestDb::new(pandamon_testkit::Backend::Sqlite, "headers").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let state = AppState::new(db.clone(), None);
    for uri in [
        "/jobs/",
        "/jobs/?json",
        "/nowhere/",
        "/healthz",
        "/user/%00/",
    ] {
        let response = common::request(&state, uri).await;
        let headers = response.headers();
        let csp = headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{uri}: {csp}"
        );
        assert_eq!(
            headers.get("x-content-type-options").unwrap(),
            "nosniff",
            "{uri}"
        );
    }
    // The status page does not show where the database is.
    let (_, body) = get(&state, "/status/?json").await;
    assert!(!body.contains(&test.url), "{body}");
    db.close().await;
    test.cleanup().await;
}
