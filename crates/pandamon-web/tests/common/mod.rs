//! What every web test needs: a request through the router, in process.

#![allow(dead_code)]

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use pandamon_web::{AppState, router};
use serde_json::Value as Json;
use tower::ServiceExt;

/// GET `uri`: the whole answer.
pub async fn request(state: &AppState, uri: &str) -> axum::response::Response {
    router(state.clone())
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

/// GET `uri`; the status and the body as text.
pub async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    let response = request(state, uri).await;
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// GET `uri`, which must answer 200 with JSON.
pub async fn get_json(state: &AppState, uri: &str) -> Json {
    let (status, body) = get(state, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{uri}: {e}: {}", &body[..body.len().min(300)]))
}

/// GET `uri`; the status and the `Location` header of a redirect.
pub async fn get_redirect(state: &AppState, uri: &str) -> (StatusCode, Option<String>) {
    let response = request(state, uri).await;
    let location = response
        .headers()
        .get(axum::http::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    (response.status(), location)
}

/// An independent SQL count; `{table}` names a catalogue table, qualified for the database.
pub async fn count(db: &pandamon_store::Db, sql: &str) -> i64 {
    let mut text = sql.to_string();
    for t in &pandamon_store::Catalog::get().tables {
        text = text.replace(&format!("{{{}}}", t.name), &db.qualified(t));
    }
    db.scalar_i64(&text)
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// `SUM(expr)` as a whole number on every dialect (0 over no rows), for [`count`].
pub fn sum(db: &pandamon_store::Db, expr: &str) -> String {
    let ty = match db.dialect() {
        pandamon_store::Dialect::Postgres => "BIGINT",
        pandamon_store::Dialect::MySql => "SIGNED",
        pandamon_store::Dialect::Sqlite => "INTEGER",
    };
    format!("CAST(COALESCE(SUM({expr}), 0) AS {ty})")
}

/// The jobs of a region-dashboard entry (`/dash/region/`, `/dash/es/`) under job kind `kind`
/// (`all` for every kind), all resource types.
pub fn kind_total(entry: &Json, kind: &str) -> i64 {
    entry.get(kind).map_or(0, |e| {
        e["all"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["count"].as_i64().unwrap())
            .sum()
    })
}

/// A simulated workload ending within the last day, always at the same time of day: the
/// simulator's users keep office hours, so a test must not depend on the hour it runs. Pages
/// whose windows count back from the present (7 days of tasks, say) see all of it. Returns the
/// database and the workload's `now`.
pub async fn simulated_recently(
    test: &pandamon_testkit::TestDb,
    jobs: u64,
    seed: u64,
) -> (pandamon_store::Db, i64) {
    let real = chrono::Utc::now().timestamp();
    let now = real - (real - 1_790_000_000).rem_euclid(86_400);
    let db = test.connect().await;
    pandamon_store::schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        pandamon_sim::SimConfig {
            jobs,
            seed,
            days: 3.0,
            now,
        },
        Box::new(pandamon_sim::Silent),
    )
    .await
    .unwrap();
    (db, now)
}
