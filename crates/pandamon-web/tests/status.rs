//! The status page, `/status/?json` and `/healthz` on every backend, with every number checked against
//! an independent SQL count.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, schema};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::{AppState, router};
use tower::ServiceExt;

async fn get(state: &AppState, uri: &str, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn status_page_numbers_match_sql(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let config = SimConfig {
        jobs: 1_000,
        seed: 4,
        days: 2.0,
        now: chrono::Utc::now().timestamp(),
    };
    pandamon_sim::simulate(&db, config, Box::new(Silent))
        .await
        .unwrap();
    let state = AppState::new(db.clone(), None);

    let (status, content_type, body) = get(&state, "/status/?json", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["database"]["dialect"], db.dialect().name());
    assert_eq!(json["database"]["schema_version"], "0.1.6");
    let d = db.dialect();
    // Each job table's total and per-status counts against an independent count.
    for entry in json["jobs"].as_array().unwrap() {
        let table = entry["table"].as_str().unwrap();
        let name = match table {
            "defined" => "jobsdefined4",
            "active" => "jobsactive4",
            "archived" => "jobsarchived4",
            _ => "jobsarchived",
        };
        let qualified = db.qualified(Catalog::get().table(name));
        let total = db
            .scalar_i64(&format!("SELECT COUNT(*) FROM {qualified}"))
            .await
            .unwrap();
        assert_eq!(entry["total"].as_i64().unwrap(), total, "{name}");
        for pair in entry["by_status"].as_array().unwrap() {
            let status = pair[0].as_str().unwrap();
            assert!(status.chars().all(|c| c.is_ascii_lowercase()));
            let n = db
                .scalar_i64(&format!(
                    "SELECT COUNT(*) FROM {qualified} WHERE {} = '{status}'",
                    d.quote("jobstatus")
                ))
                .await
                .unwrap();
            assert_eq!(pair[1].as_i64().unwrap(), n, "{name} {status}");
        }
    }
    for entry in json["tables"].as_array().unwrap() {
        let name = entry["table"].as_str().unwrap();
        let n = db
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM {}",
                db.qualified(Catalog::get().table(name))
            ))
            .await
            .unwrap();
        assert_eq!(entry["rows"].as_i64().unwrap(), n, "{name}");
    }
    assert!(json["lag_seconds"].as_i64().unwrap() >= 0);

    // The same through the Accept header, and the HTML page shows the same totals.
    let (_, content_type, _) = get(&state, "/status/", Some("application/json")).await;
    assert!(content_type.starts_with("application/json"));
    let (status, content_type, html) = get(&state, "/status/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(html.contains("id=\"job-status-matrix\""));
    let grand: i64 = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["total"].as_i64().unwrap())
        .sum();
    let grand_text = pandamon_web::kit::format::human_count(grand);
    assert!(
        html.contains(&grand_text),
        "page lacks the total {grand_text}"
    );

    let (status, _, body) = get(&state, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"]["reachable"], true);
    assert_eq!(health["database"]["schema_version"], "0.1.6");

    let (status, _, body) = get(&state, "/no/such/page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("not found"));
    db.close().await;
}
on_every_backend!(status_page_numbers_match_sql);

#[tokio::test]
async fn healthz_reports_an_unreachable_database_as_503() {
    let test = TestDb::new(pandamon_testkit::Backend::Sqlite, "health_down").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let state = AppState::new(db.clone(), None);
    db.close().await;
    let (status, _, body) = get(&state, "/healthz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["database"]["reachable"], false);
    assert!(
        health["database"]["error"]
            .as_str()
            .unwrap()
            .contains("database")
    );
    // The status page degrades to a 503 with a generic message, not a stack trace.
    let (status, _, body) = get(&state, "/status/", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !body.contains("sqlx") && !body.contains("panicked"),
        "{body}"
    );
    test.cleanup().await;
}
