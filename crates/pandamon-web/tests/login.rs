//! Sessions, API tokens, preferences and `[auth] required` on every backend, in process: who
//! is asking changes only what is theirs, cached answers never carry another user's part, and
//! every bad credential is a 401 with a clear message. (The OpenID Connect code flow itself is
//! tested against a real provider in `crates/pandamon/tests/login.rs`.)

mod common;
use common::simulated_recently;

use axum::body::{Body, to_bytes};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{Request, StatusCode};
use chrono::{Duration, Timelike, Utc};
use pandamon_store::users::PendingLogin;
use pandamon_store::{StateConfig, StateStore};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::kit::auth::{Auth, AuthConfig, SESSION_COOKIE, sha256_hex};
use pandamon_web::{AppState, router};
use std::sync::Arc;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, String)],
    form: &str,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if method == "POST" {
        request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(form.to_string())).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let location = header(LOCATION).pop();
    let cookies = header(SET_COOKIE);
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer {
        status,
        location,
        cookies,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn auth_config(required: bool) -> AuthConfig {
    let section = serde_json::json!({
        "issuer": "https://auth.example.org/realms/test",
        "client_id": "pandamon",
        "redirect_url": "https://bigpanda.example.org/login/callback/",
        "required": required,
    });
    AuthConfig::from_json(Some(&section), None, None)
        .unwrap()
        .unwrap()
}

/// A session of `login` opened in the store, as the cookie a browser sends.
async fn session(auth: &Auth, store: &StateStore, login: &str) -> (&'static str, String) {
    let id = format!("session-of-{login}");
    let now = Utc::now().naive_utc();
    store
        .user_logged_in(login, Some(&format!("{login} full")), None, now)
        .await
        .unwrap();
    store
        .open_session(&sha256_hex(&id), login, now, now + Duration::hours(1))
        .await
        .unwrap();
    ("cookie", format!("{SESSION_COOKIE}={}", auth.sign(&id)))
}

async fn setup(test: &TestDb, required: bool) -> (AppState, Arc<Auth>, StateStore, String) {
    let (db, _) = simulated_recently(test, 3_000, 23).await;
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let auth = Auth::new(auth_config(required), &store).await.unwrap();
    let state = AppState::new(db, None)
        .with_state(store.clone())
        .with_auth(auth.clone());
    // The busiest analysis user of the workload: a login with a page of their own. The list's
    // default window (the last 24 hours) can miss a workload that ended up to a day ago.
    let users = send(&state, "GET", "/user/?json&days=2", &[], "").await;
    let users: Vec<String> = serde_json::from_str(&users.body).unwrap();
    let login = users[0].rsplit_once(" (").unwrap().0.to_string();
    (state, auth, store, login)
}

async fn sessions_tokens_and_preferences_stay_their_users(test: &TestDb) {
    let (state, auth, store, login) = setup(test, false).await;
    let own = format!("/user/{}/", login.replace(' ', "%20"));
    let mine = session(&auth, &store, &login).await;
    let other = session(&auth, &store, "someone.else").await;

    // /user/ is the logged-in user's page.
    let answer = send(&state, "GET", "/user/", &[(mine.0, mine.1.clone())], "").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location.as_deref(), Some(own.as_str()));
    // Their page carries their panel; the same page, from the cache, carries nobody's for
    // anyone else, and the navigation names who is asking.
    let page = send(&state, "GET", &own, &[(mine.0, mine.1.clone())], "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"id="personal""#));
    assert!(
        page.body.contains(&format!("{login} full")),
        "the navigation names the user"
    );
    let theirs = send(&state, "GET", &own, &[(other.0, other.1.clone())], "").await;
    assert!(
        !theirs.body.contains(r#"id="personal""#),
        "another user sees no panel"
    );
    assert!(
        theirs.body.contains("someone.else full")
            && !theirs.body.contains(&format!("{login} full"))
    );
    let anonymous = send(&state, "GET", &own, &[], "").await;
    assert!(!anonymous.body.contains(r#"id="personal""#));
    assert!(anonymous.body.contains("log in"));

    // Tokens: one of each user; revoking works only on one's own.
    let now = Utc::now().naive_utc();
    store
        .create_token(&sha256_hex("pm_mine"), &login, "mine", now)
        .await
        .unwrap();
    store
        .create_token(&sha256_hex("pm_theirs"), "someone.else", "theirs", now)
        .await
        .unwrap();
    let bearer = |t: &str| (AUTHORIZATION.as_str(), format!("Bearer {t}"));
    let answer = send(&state, "GET", "/user/?json", &[bearer("pm_mine")], "").await;
    assert_eq!(
        answer.location.as_deref(),
        Some(format!("{own}?json=").as_str())
    );
    let revoke = format!("id={}", sha256_hex("pm_theirs"));
    let answer = send(
        &state,
        "POST",
        "/auth/tokens/revoke/?json",
        &[(mine.0, mine.1.clone())],
        &revoke,
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    assert_eq!(
        send(
            &state,
            "GET",
            "/jobs/?json&hours=1",
            &[bearer("pm_theirs")],
            ""
        )
        .await
        .status,
        StatusCode::OK,
        "another user's token stays valid"
    );
    let revoke = format!("id={}", sha256_hex("pm_mine"));
    let answer = send(
        &state,
        "POST",
        "/auth/tokens/revoke/",
        &[(mine.0, mine.1.clone())],
        &revoke,
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    for token in ["pm_mine", "pm_never_made"] {
        let answer = send(&state, "GET", "/jobs/?json&hours=1", &[bearer(token)], "").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        let error: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("unknown or was revoked")
        );
    }
    // A token made through the form: shown once, stored as its hash only.
    let answer = send(
        &state,
        "POST",
        "/auth/tokens/?json",
        &[(mine.0, mine.1.clone())],
        "label=nightly+script",
    )
    .await;
    let made: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let token = made["token"].as_str().unwrap();
    assert_eq!(made["id"].as_str().unwrap(), sha256_hex(token));
    let kept = store.tokens_of(&login).await.unwrap();
    assert!(
        kept.iter()
            .any(|t| t.label == "nightly script" && t.token_hash == sha256_hex(token))
    );
    assert!(kept.iter().all(|t| t.token_hash != token));
    let answer = send(
        &state,
        "POST",
        "/auth/tokens/?json",
        &[(mine.0, mine.1.clone())],
        "label=",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("'label'"));

    // Forms sent from another site, or without a login, change nothing.
    let answer = send(
        &state,
        "POST",
        "/auth/preferences/",
        &[
            (mine.0, mine.1.clone()),
            (ORIGIN.as_str(), "https://evil.example".into()),
            (HOST.as_str(), "bigpanda.example.org".into()),
        ],
        "default_hours=1",
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = send(&state, "POST", "/auth/preferences/", &[], "default_hours=1").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = send(
        &state,
        "POST",
        "/auth/preferences/?json",
        &[(mine.0, mine.1.clone())],
        "default_hours=lots",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("'default_hours'"));

    // Preferences: the user's errors page shows their tables and window; everyone else's not.
    let answer = send(
        &state,
        "POST",
        "/auth/preferences/",
        &[(mine.0, mine.1.clone())],
        "default_hours=72&errors_tables=code&errors_tables=task",
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let errors = send(&state, "GET", "/errors/", &[(mine.0, mine.1.clone())], "").await;
    assert!(
        errors.body.contains(r#"id="errors-by-count""#)
            && errors.body.contains(r#"id="errors-by-task""#)
    );
    assert!(!errors.body.contains(r#"id="errors-by-site""#));
    let anonymous = send(&state, "GET", "/errors/", &[], "").await;
    assert!(anonymous.body.contains(r#"id="errors-by-site""#));
    let with_preference = send(
        &state,
        "GET",
        "/errors/?json",
        &[(mine.0, mine.1.clone())],
        "",
    )
    .await;
    // The workload ends up to a day before the test runs: three days hold all of it, the
    // errors page's own window less.
    let three_days = send(&state, "GET", "/errors/?json&hours=72", &[], "").await;
    let default = send(&state, "GET", "/errors/?json", &[], "").await;
    let failed =
        |a: &Answer| serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["failed"].clone();
    assert_eq!(
        failed(&with_preference),
        failed(&three_days),
        "the preferred window"
    );
    assert_ne!(
        failed(&three_days),
        failed(&default),
        "a window that changes the numbers"
    );

    // An altered cookie: 401 with a page, and the cookie cleared.
    let forged = format!("{}x", mine.1);
    let answer = send(&state, "GET", "/jobs/", &[(COOKIE.as_str(), forged)], "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer.body.contains("<!doctype html>") && answer.body.contains("not one pandamon signed")
    );
    assert!(
        answer
            .cookies
            .iter()
            .any(|c| c.starts_with(&format!("{SESSION_COOKIE}=;")) && c.contains("Max-Age=0"))
    );

    // Logout ends the session in the store: the same cookie is anonymous afterwards.
    let answer = send(&state, "POST", "/logout/", &[(mine.0, mine.1.clone())], "").await;
    assert_eq!(answer.location.as_deref(), Some("/"));
    let answer = send(&state, "GET", "/user/", &[(mine.0, mine.1.clone())], "").await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "the ended session asks whose page"
    );
    assert!(
        answer.cookies.iter().any(|c| c.contains("Max-Age=0")),
        "and clears the cookie"
    );
}

on_every_backend!(sessions_tokens_and_preferences_stay_their_users);

async fn a_required_login_guards_every_page_but_login_and_health(test: &TestDb) {
    let (state, auth, store, _) = setup_required(test).await;
    let answer = send(&state, "GET", "/jobs/?hours=1", &[], "").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        answer.location.as_deref(),
        Some("/login/?next=%2Fjobs%2F%3Fhours%3D1")
    );
    let answer = send(&state, "GET", "/jobs/?json&hours=1", &[], "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&state, "GET", "/healthz", &[], "").await.status,
        StatusCode::OK
    );
    let mine = session(&auth, &store, "a.user").await;
    let answer = send(
        &state,
        "GET",
        "/jobs/?json&hours=1",
        &[(mine.0, mine.1)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

async fn setup_required(test: &TestDb) -> (AppState, Arc<Auth>, StateStore, ()) {
    let (db, _) = simulated_recently(test, 500, 3).await;
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let auth = Auth::new(auth_config(true), &store).await.unwrap();
    let state = AppState::new(db, None)
        .with_state(store.clone())
        .with_auth(auth.clone());
    (state, auth, store, ())
}

on_every_backend!(a_required_login_guards_every_page_but_login_and_health);

async fn logins_are_taken_once_and_visits_decay(test: &TestDb) {
    let db = test.connect().await;
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    // Whole seconds: MariaDB keeps no fraction.
    let now = Utc::now().naive_utc().with_nanosecond(0).unwrap();
    let pending = PendingLogin {
        nonce: "n".into(),
        verifier: "v".repeat(64),
        return_to: "/jobs/".into(),
        created_at: now,
    };
    store
        .start_login("state-hash", &pending, now - Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(
        store.take_login("state-hash").await.unwrap(),
        Some(pending.clone())
    );
    assert_eq!(
        store.take_login("state-hash").await.unwrap(),
        None,
        "a state is good once"
    );
    // Logins abandoned long ago go when a new one starts.
    let old = PendingLogin {
        created_at: now - Duration::hours(2),
        ..pending.clone()
    };
    store
        .start_login("abandoned", &old, now - Duration::hours(3))
        .await
        .unwrap();
    store
        .start_login("fresh", &pending, now - Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(store.take_login("abandoned").await.unwrap(), None);

    // Sessions end when they expire.
    store
        .open_session(
            "expired",
            "u",
            now - Duration::hours(3),
            now - Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(store.session_login("expired", now).await.unwrap(), None);

    // Three visits three weeks ago weigh less than one today (a week's half-life).
    for _ in 0..3 {
        store
            .record_visit("u", "/old/", now - Duration::weeks(3), 168.0)
            .await
            .unwrap();
    }
    store.record_visit("u", "/new/", now, 168.0).await.unwrap();
    let top = store.top_visits("u", now, 168.0, 5).await.unwrap();
    assert_eq!(
        top.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["/new/", "/old/"]
    );
    assert!((top[1].1 - 3.0 / 8.0).abs() < 1e-3, "{top:?}");
    assert!(
        store
            .top_visits("nobody", now, 168.0, 5)
            .await
            .unwrap()
            .is_empty()
    );
    db.close().await;
}

on_every_backend!(logins_are_taken_once_and_visits_decay);
