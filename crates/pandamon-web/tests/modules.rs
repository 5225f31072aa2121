//! The module registry seen from outside: modules switched off answer 404 and leave the
//! navigation, the API document lists every route, browsers get HTML error pages with the
//! navigation while JSON clients get JSON, and slash-less paths redirect.

mod common;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use common::{get, get_json, get_redirect};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::kit::module::{BackgroundTask, Module, Route};
use pandamon_web::{AppState, router};
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::ServiceExt;

async fn state(test: &TestDb) -> AppState {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let config = SimConfig {
        jobs: 300,
        seed: 11,
        days: 1.0,
        now: chrono::Utc::now().timestamp(),
    };
    pandamon_sim::simulate(&db, config, Box::new(Silent))
        .await
        .unwrap();
    AppState::new(db, None)
}

/// GET with a browser's Accept header: status, content type, body.
async fn browse(state: &AppState, uri: &str) -> (StatusCode, String, String) {
    let request = Request::builder()
        .uri(uri)
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
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

async fn modules_switch_off_and_document_themselves(test: &TestDb) {
    let all = state(test).await;
    let (status, _, html) = browse(&all, "/jobs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<a href="/tasks/">tasks</a>"#),
        "navigation lists tasks"
    );

    // Without `tasks`: its routes 404 and its navigation entry is gone; the rest works.
    let wanted: Vec<&str> = pandamon_web::modules::names()
        .into_iter()
        .filter(|m| *m != "tasks")
        .collect();
    let no_tasks = all
        .clone()
        .with_modules(pandamon_web::modules::select(&wanted).unwrap());
    let (status, _) = get(&no_tasks, "/tasks/?json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&no_tasks, "/task/1/?json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, html) = browse(&no_tasks, "/jobs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains(r#"href="/tasks/""#),
        "tasks left the navigation"
    );
    assert!(html.contains(r#"<a href="/jobs/">jobs</a>"#));

    // The API document lists every route of every enabled module, and only those.
    let doc = get_json(&all, "/api/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for module in pandamon_web::modules::REGISTRY {
        for route in module.routes() {
            let method = if route.doc.params.iter().any(|p| p.in_form) {
                "post"
            } else {
                "get"
            };
            let op = &paths
                .get(route.path)
                .unwrap_or_else(|| panic!("{} missing from the API document", route.path))[method];
            assert_eq!(op["tags"][0], module.name());
            let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
            assert!(schema.is_object(), "{}: response schema", route.path);
        }
    }
    for path in ["/healthz", "/api/openapi.json"] {
        assert!(paths.contains_key(path), "{path}");
    }
    // Vocabulary parameters are documented with their columns (defined once, referred to).
    let shared = &doc["components"]["parameters"];
    let jobs = &paths["/jobs/"]["get"]["parameters"];
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| match p["$ref"].as_str() {
            Some(r) => &shared[r.trim_start_matches("#/components/parameters/")],
            None => p,
        })
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in [
        "computingsite",
        "jobstatus",
        "hours",
        "days",
        "sortby",
        "json",
    ] {
        assert!(names.contains(&p), "/jobs/ documents {p}: {names:?}");
    }
    // Every schema and parameter referred to is defined.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = serde_json::to_string(&doc).unwrap();
    for (kind, defined) in [
        ("schemas", schemas),
        ("parameters", shared.as_object().unwrap()),
    ] {
        let prefix = format!("\"$ref\":\"#/components/{kind}/");
        for reference in text.split(prefix.as_str()).skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                defined.contains_key(name),
                "{kind} {name} is referred to but not defined"
            );
        }
    }
    assert!(schemas.contains_key("JobsJson") && schemas.contains_key("ErrorCount"));
    let no_tasks_doc = get_json(&no_tasks, "/api/openapi.json").await;
    assert!(no_tasks_doc["paths"].get("/tasks/").is_none());
}
on_every_backend!(modules_switch_off_and_document_themselves);

async fn errors_are_pages_for_browsers_and_json_for_scripts(test: &TestDb) {
    let state = state(test).await;
    // A bad value: HTML page naming the parameter, with the navigation, for a browser.
    let (status, content_type, html) = browse(&state, "/jobs/?hours=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        html.contains("hours") && html.contains(r#"<a href="/jobs/">jobs</a>"#),
        "{html}"
    );
    assert!(
        !html.contains("pandamon:nav"),
        "the navigation marker is filled"
    );
    // The same with ?json: JSON naming the parameter.
    let (status, body) = get(&state, "/jobs/?json&hours=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        json["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("'hours'")
    );
    // An unknown page: a 404 page.
    let (status, content_type, html) = browse(&state, "/no/such/page/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("text/html") && html.contains("Not found"));
    // A job that does not exist: 404 page; as JSON, 404 JSON.
    let (status, _, _) = browse(&state, "/job/999999999999/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Every answer carries the security headers.
    let response = router(state.clone())
        .oneshot(
            Request::builder()
                .uri("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    // /healthz reports the modules and no database error text.
    let health = get_json(&state, "/healthz").await;
    assert_eq!(health["status"], "ok");
    assert!(
        health["modules"]["jobs"]["default_hours"].is_number(),
        "{health}"
    );
    assert!(health["database"].get("url").is_none());
    // Files without parameters: a form for browsers, a 400 naming them for scripts.
    let (status, _, html) = browse(&state, "/files/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"name="lfn""#), "{html}");
    let (status, body) = get(&state, "/files/?json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("lfn"), "{body}");
}
on_every_backend!(errors_are_pages_for_browsers_and_json_for_scripts);

async fn slashless_paths_redirect_keeping_the_query(test: &TestDb) {
    let state = state(test).await;
    for (from, to) in [
        ("/sites", "/sites/"),
        (
            "/jobs?jobstatus=failed&hours=3",
            "/jobs/?jobstatus=failed&hours=3",
        ),
        ("/job/12", "/job/12/"),
        ("/dash/region", "/dash/region/"),
    ] {
        let (status, location) = get_redirect(&state, from).await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT, "{from}");
        assert_eq!(location.as_deref(), Some(to), "{from}");
    }
}
on_every_backend!(slashless_paths_redirect_keeping_the_query);

/// Every route of every module, on a database with the PanDA schema and no rows: HTML for a
/// browser (an error page when it fails), JSON for `?json`, never a server error.
async fn every_route_answers_on_an_empty_database(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let state = AppState::new(db, None);
    for module in pandamon_web::modules::REGISTRY {
        for route in module.routes() {
            let path = route
                .path
                .replace("{pandaid}", "1")
                .replace("{jeditaskid}", "1")
                .replace("{queue}", "NO_SUCH_QUEUE")
                .replace("{name}", "nobody");
            let (status, content_type, body) = browse(&state, &path).await;
            assert!(!status.is_server_error(), "{path}: {status} {body}");
            if status.is_client_error() || (status.is_success() && route.doc.html) {
                assert!(
                    content_type.starts_with("text/html"),
                    "{path}: {content_type}"
                );
                assert!(!body.contains("pandamon:nav"), "{path}: navigation filled");
            }
            let sep = if path.contains('?') { '&' } else { '?' };
            let (status, body) = get(&state, &format!("{path}{sep}json")).await;
            assert!(!status.is_server_error(), "{path}?json: {status} {body}");
            if !status.is_redirection() {
                assert!(
                    serde_json::from_str::<serde_json::Value>(&body).is_ok(),
                    "{path}?json answers JSON: {body}"
                );
            }
        }
    }
    // A form's address opened as a page: 405 saying so, a page for the browser.
    let (status, content_type, body) = browse(&state, "/auth/tokens/").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("does not take GET requests"), "{body}");
}
on_every_backend!(every_route_answers_on_an_empty_database);

static TICKS: AtomicUsize = AtomicUsize::new(0);

/// A module whose only work is a background task that counts its starts.
struct Ticker;

impl Module for Ticker {
    fn name(&self) -> &'static str {
        "ticker"
    }
    fn description(&self) -> &'static str {
        "counts its background task's starts"
    }
    fn routes(&self) -> Vec<Route> {
        Vec::new()
    }
    fn background(&self) -> Vec<BackgroundTask> {
        vec![BackgroundTask {
            name: "tick",
            run: Box::new(|_| {
                Box::pin(async {
                    TICKS.fetch_add(1, Ordering::SeqCst);
                })
            }),
        }]
    }
}

static TICKER: Ticker = Ticker;

#[tokio::test]
async fn only_enabled_modules_start_their_background_tasks() {
    let test = TestDb::new(pandamon_testkit::Backend::Sqlite, "background").await;
    let db = test.connect().await;
    let state = AppState::new(db.clone(), None);
    // The registry's own tasks (the alert runner) start, the ticker's does not.
    let off = state.clone().with_modules(pandamon_web::modules::all());
    let started = pandamon_web::start_background(&off);
    let expected: usize = pandamon_web::modules::all()
        .iter()
        .map(|m| m.background().len())
        .sum();
    assert_eq!(started.len(), expected);
    for task in started {
        task.abort();
    }
    assert_eq!(TICKS.load(Ordering::SeqCst), 0);
    let on = state.with_modules(vec![&TICKER]);
    for task in pandamon_web::start_background(&on) {
        task.await.unwrap();
    }
    assert_eq!(TICKS.load(Ordering::SeqCst), 1);
    db.close().await;
    test.cleanup().await;
}
