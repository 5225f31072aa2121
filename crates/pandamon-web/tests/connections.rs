//! The HTTP side under a crowd: slow clients that never finish their headers are closed at the
//! header timeout and cannot keep a normal client out; one client address gets a few requests
//! in progress at once, more answer 429 with `Retry-After`; a request past its time limit
//! answers 503 naming the limit.

mod common;

use axum::http::StatusCode;
use pandamon_store::schema;
use pandamon_testkit::{Backend, TestDb};
use pandamon_web::kit::limits::{ClientAddr, ServerLimits};
use pandamon_web::{AppState, Settings, router};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

async fn state_with(test: &TestDb, server: ServerLimits) -> AppState {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    AppState::new(db, None).with_settings(Settings {
        server,
        ..Settings::default()
    })
}

/// One whole request over a fresh connection: the status line and the body.
async fn fetch(address: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_closed_and_cannot_keep_others_out() {
    let test = TestDb::new(Backend::Sqlite, "slowloris").await;
    let limits = ServerLimits {
        max_connections: 50,
        header_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let state = state_with(&test, limits).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pandamon_web::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // Four times the connection cap, each sending half a request and then nothing.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /jobs/ HTTP/1.1\r\nHost: test\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    // A normal client still gets its page: the slow ones are closed at the header timeout.
    let started = Instant::now();
    let (status, _) = tokio::time::timeout(Duration::from_secs(30), fetch(address, "/healthz"))
        .await
        .expect("a normal client is served while slow clients hold connections");
    assert!(status.contains("200"), "{status}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // The first slow connection was closed by the server (end of stream or reset).
    let mut buffer = [0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(10), slow[0].read(&mut buffer))
        .await
        .expect("the server closes a connection that never finishes its headers");
    if let Ok(n) = read {
        let text = String::from_utf8_lossy(&buffer[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    drop(slow);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    test.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_concurrent_requests_is_told_to_retry() {
    let test = TestDb::new(Backend::Sqlite, "perclient").await;
    let limits = ServerLimits {
        per_client: 2,
        ..ServerLimits::default()
    };
    let state = state_with(&test, limits).await;
    let busy: IpAddr = "192.0.2.7".parse().unwrap();
    let calm: IpAddr = "192.0.2.8".parse().unwrap();
    // Two requests of this client in progress.
    let _held = [
        state.clients.take(busy, 2).unwrap(),
        state.clients.take(busy, 2).unwrap(),
    ];
    let ask = |addr: IpAddr, uri: &str, accept: &str| {
        let mut request = axum::http::Request::builder()
            .uri(uri)
            .header("accept", accept)
            .body(axum::body::Body::empty())
            .unwrap();
        request.extensions_mut().insert(ClientAddr(addr));
        router(state.clone()).oneshot(request)
    };
    let response = ask(busy, "/jobs/?json", "application/json").await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("more than 2 requests"), "{body}");
    // A browser gets a page, not JSON.
    let response = ask(busy, "/jobs/", "text/html").await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&body).contains("<html"));
    // The health probe and other clients are not held back.
    assert_eq!(
        ask(busy, "/healthz", "application/json")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        ask(calm, "/jobs/?json", "application/json")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // The slots of finished requests come back.
    assert_eq!(state.clients.busy(calm), 0);
    test.cleanup().await;
}

/// Another session locking the active jobs table (until its connection is dropped or rolls
/// back): a page that reads those jobs waits.
async fn lock_active_jobs(test: &TestDb, state: &AppState) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut locker = sqlx::PgConnection::connect(&test.url).await.unwrap();
    let table = state
        .db
        .qualified(pandamon_store::Catalog::get().table("jobsactive4"));
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut locker)
    .await
    .unwrap();
    locker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_time_limit_answers_503_naming_it() {
    let test = TestDb::new(Backend::Postgres, "reqtimeout").await;
    let limits = ServerLimits {
        request_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let state = state_with(&test, limits).await;
    let locker = lock_active_jobs(&test, &state).await;
    let (status, body) = common::get(&state, "/jobs/?json").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("narrow the selection"), "{body}");
    drop(locker);
    test.cleanup().await;
}

/// `/healthz`'s count of answers being computed.
async fn computing(address: std::net::SocketAddr) -> i64 {
    let (_, body) = fetch(address, "/healthz").await;
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    health["cache"]["computing"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_client_went_away_stops_its_work() {
    let test = TestDb::new(Backend::Postgres, "gone").await;
    let state = state_with(&test, ServerLimits::default()).await;
    let mut locker = lock_active_jobs(&test, &state).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pandamon_web::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let mut client = TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"GET /jobs/?json HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while computing(address).await == 0 {
        assert!(Instant::now() < deadline, "the page never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The client goes away while its page waits for the lock.
    drop(client);
    let gone = Instant::now();
    while computing(address).await > 0 {
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "the page's work went on after its client left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    test.cleanup().await;
}
