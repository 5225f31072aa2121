//! Who is asking: the `[auth]` settings, signed session cookies, API tokens, the middleware that
//! puts the user (if any) on every request, and what a user's preferences change.
//!
//! - A browser logs in through OpenID Connect (`kit::oidc`, the `login` module's routes) and
//!   gets a session cookie `pandamon_session = <id>.<hmac>`: HttpOnly, SameSite=Lax, Secure when
//!   pandamon is served over HTTPS. The session lives in pandamon's state, known by the SHA-256
//!   of its id; logout ends it there. A cookie whose signature does not match is a 401.
//! - A script sends `Authorization: Bearer <token>`; tokens are created and revoked on the
//!   user's own page and stored as their SHA-256. An unknown or revoked token is a 401.
//! - Pages stay public unless `[auth] required = true`.
//! - Cached answers never mix users: the answer cache keys by URL, and what is personal (the
//!   user's name in the navigation, their own panel on `/user/<login>/`) is filled in after the
//!   cache, per request. A preference that changes a page (the default window, the errors
//!   page's tables) is applied by adding its parameter to the URL, so its answer is cached
//!   under that URL, shared with anyone asking for the same.

use crate::kit::error::AppError;
use crate::kit::format::{escape_html, format_time, wants_json};
use crate::kit::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::NaiveDateTime;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The session cookie.
pub const SESSION_COOKIE: &str = "pandamon_session";
/// The cookie binding a login in progress to the browser that started it.
pub const LOGIN_COOKIE: &str = "pandamon_login";
/// The marker a page leaves where the viewer's own panel goes (see [`personal_panel`]).
pub const PERSONAL_MARKER: &str = "<!--pandamon:personal-->";
/// How a visit's weight decays: half every week.
pub const VISIT_HALF_LIFE_HOURS: f64 = 168.0;
/// Pages the window preference applies to: the ones with a time window and a selection bar.
const WINDOW_PAGES: &[&str] = &["/jobs/", "/errors/", "/tasks/"];
/// Parameters that fix a page's window or its object, so the window preference stays out.
const WINDOW_PARAMS: &[&str] = &[
    "hours",
    "days",
    "date_from",
    "date_to",
    "earlierthan",
    "earlierthandays",
    "pandaid",
    "jeditaskid",
    "taskid",
];
/// The tables of the errors page a user may choose.
pub const ERROR_TABLES: &[(&str, &str)] = &[
    ("code", "errors by code"),
    ("message", "errors by message"),
    ("site", "errors by site"),
    ("user", "errors by user"),
    ("task", "errors by task"),
];

/// `[auth]` in `pandamon.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Every page asks for a login (default: pages are public).
    pub required: bool,
    /// The OpenID Connect issuer (`https://auth.cern.ch/auth/realms/cern`); its
    /// `/.well-known/openid-configuration` names the endpoints.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// The client's secret, when the provider registered it as confidential (also
    /// `PANDAMON_AUTH_CLIENT_SECRET`); without it the client is public and PKCE alone binds the
    /// code.
    pub client_secret: Option<String>,
    /// pandamon's callback as registered at the provider: `https://<host>/login/callback/`.
    pub redirect_url: Option<String>,
    pub scopes: String,
    /// The claim holding the user's login (CERN SSO, IAM and Keycloak: `preferred_username`).
    pub login_claim: String,
    pub name_claim: String,
    /// How long a session lasts.
    pub session_hours: f64,
    /// How long a login may stay at the provider before its state expires.
    pub login_timeout_s: f64,
    /// The key sessions are signed with (at least 32 characters; also
    /// `PANDAMON_AUTH_SESSION_KEY`). Without it pandamon makes one and keeps it in its state, so
    /// every replica sharing the state shares it.
    pub session_key: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            required: false,
            issuer: None,
            client_id: None,
            client_secret: None,
            redirect_url: None,
            scopes: "openid profile email".into(),
            login_claim: "preferred_username".into(),
            name_claim: "name".into(),
            session_hours: 12.0,
            login_timeout_s: 600.0,
            session_key: None,
        }
    }
}

impl AuthConfig {
    /// Reads `[auth]` (absent: no login), with the secrets the environment gives.
    pub fn from_json(
        section: Option<&serde_json::Value>,
        client_secret: Option<String>,
        session_key: Option<String>,
    ) -> Result<Option<AuthConfig>, String> {
        let Some(section) = section else {
            return Ok(None);
        };
        let mut config: AuthConfig =
            serde_json::from_value(section.clone()).map_err(|e| format!("[auth]: {e}"))?;
        config.client_secret = client_secret.or(config.client_secret);
        config.session_key = session_key.or(config.session_key);
        config.check()?;
        Ok(Some(config))
    }

    fn check(&self) -> Result<(), String> {
        let issuer = self
            .issuer
            .as_deref()
            .ok_or("[auth] issuer: the OpenID Connect issuer url is needed")?;
        for (key, value) in [
            ("issuer", Some(issuer)),
            ("redirect_url", self.redirect_url.as_deref()),
        ] {
            let value = value.ok_or(format!("[auth] {key}: needed"))?;
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                return Err(format!("[auth] {key}: expected an http(s) url"));
            }
        }
        if self.client_id.as_deref().is_none_or(str::is_empty) {
            return Err(
                "[auth] client_id: the client id registered at the provider is needed".into(),
            );
        }
        if !(self.session_hours > 0.0 && self.session_hours <= 24.0 * 90.0) {
            return Err("[auth] session_hours: expected hours above 0 and at most 2160".into());
        }
        if !(self.login_timeout_s > 0.0 && self.login_timeout_s <= 3600.0) {
            return Err("[auth] login_timeout_s: expected seconds above 0 and at most 3600".into());
        }
        if self.session_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err("[auth] session_key: use at least 32 characters".into());
        }
        Ok(())
    }

    /// Whether cookies get `Secure`: pandamon is reached over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.redirect_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// Login at run time: the settings, the signing key and what was learnt from the provider.
pub struct Auth {
    pub config: AuthConfig,
    key: ring::hmac::Key,
    /// The provider's endpoints and keys, read at the first login and again when its keys
    /// change.
    pub provider: tokio::sync::Mutex<Option<crate::kit::oidc::Provider>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("issuer", &self.config.issuer)
            .finish()
    }
}

impl Auth {
    /// Login as configured, signing with the configured key or the one kept in `store` (made
    /// on the first start).
    pub async fn new(
        config: AuthConfig,
        store: &pandamon_store::StateStore,
    ) -> Result<Arc<Auth>, String> {
        let kept = |e: pandamon_store::StoreError| {
            format!("cannot keep the session key in pandamon's state: {e}")
        };
        let secret = match &config.session_key {
            Some(key) => key.clone(),
            None => match store.get("auth", "session_key").await.map_err(kept)? {
                Some(key) => key,
                None => {
                    let key = random_token(32).map_err(|e| e.to_string())?;
                    store
                        .put("auth", "session_key", Some(&key))
                        .await
                        .map_err(kept)?;
                    // Two servers starting at once: the one written last is everyone's.
                    store
                        .get("auth", "session_key")
                        .await
                        .map_err(kept)?
                        .unwrap_or(key)
                }
            },
        };
        Ok(Arc::new(Auth {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
            config,
            provider: tokio::sync::Mutex::new(None),
        }))
    }

    /// `value.<signature>`.
    pub fn sign(&self, value: &str) -> String {
        let tag = ring::hmac::sign(&self.key, value.as_bytes());
        format!("{value}.{}", B64.encode(tag.as_ref()))
    }

    /// The value of a signed string, if its signature is this server's.
    pub fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, tag) = signed.rsplit_once('.')?;
        let tag = B64.decode(tag).ok()?;
        ring::hmac::verify(&self.key, value.as_bytes(), &tag).ok()?;
        Some(value)
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure over HTTPS; `max_age` 0 clears it.
    pub fn cookie(&self, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
        let secure = if self.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// The user a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub login: String,
    pub name: Option<String>,
    pub preferences: Preferences,
    /// The hash of the session's id, when the user came with a session cookie (not a token).
    pub session: Option<String>,
}

/// What a user chose on their page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Preferences {
    /// The window of the job, task and errors pages when the URL gives none, in hours.
    pub default_hours: Option<i64>,
    /// The tables the errors page shows (all when unset).
    pub errors_tables: Option<Vec<String>>,
}

impl Preferences {
    pub fn parse(text: Option<&str>) -> Preferences {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }
}

/// `n` random bytes, URL-safe base64 without padding.
pub fn random_token(n: usize) -> Result<String, AppError> {
    let mut bytes = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AppError::Secret("the system has no random source"))?;
    Ok(B64.encode(bytes))
}

/// The SHA-256 of `value`, in hex: how secrets are kept.
pub fn sha256_hex(value: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, value.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The value of cookie `name` in the request's headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Who the request comes from; an altered cookie or a bad token is an error.
async fn identify(
    state: &AppState,
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<Option<CurrentUser>, AppError> {
    let store = state.state.as_ref();
    let bearer = headers.get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let (login, session) = if let Some(header) = bearer {
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "the Authorization header is not `Bearer <token>`: send an API token made on your MyBigPanDA page".into(),
                )
            })?;
        let login = match store {
            Some(store) => store.token_login(&sha256_hex(token), now()).await?,
            None => None,
        };
        let login = login.ok_or_else(|| {
            AppError::Unauthorized(
                "this API token is unknown or was revoked: make a new one on your MyBigPanDA page"
                    .into(),
            )
        })?;
        (login, None)
    } else if let Some(cookie) = cookie_value(headers, SESSION_COOKIE) {
        let id = auth.verify(cookie).ok_or_else(|| {
            AppError::Unauthorized(
                "your session cookie is not one pandamon signed: log in again".into(),
            )
        })?;
        let id_hash = sha256_hex(id);
        let login = match store {
            Some(store) => store.session_login(&id_hash, now()).await?,
            None => None,
        };
        match login {
            Some(login) => (login, Some(id_hash)),
            // Ended or expired: the visitor is anonymous again.
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let record = match store {
        Some(store) => store.user(&login).await?,
        None => None,
    };
    Ok(Some(CurrentUser {
        name: record.as_ref().and_then(|r| r.name.clone()),
        preferences: Preferences::parse(record.as_ref().and_then(|r| r.preferences.as_deref())),
        login,
        session,
    }))
}

/// Paths that answer without a login even when `[auth] required` is set.
fn is_public(path: &str) -> bool {
    path.starts_with("/login")
        || path.starts_with("/logout")
        || path.starts_with("/static/")
        || path == "/healthz"
}

/// The URL with the user's preferences added where the URL does not say otherwise.
fn with_preferences(uri: &Uri, preferences: &Preferences) -> Option<Uri> {
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let names: Vec<&str> = query
        .split('&')
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
        .collect();
    let mut extra = Vec::new();
    if let Some(hours) = preferences.default_hours
        && WINDOW_PAGES.contains(&path)
        && !names.iter().any(|n| WINDOW_PARAMS.contains(n))
    {
        extra.push(format!("hours={hours}"));
    }
    if let Some(tables) = &preferences.errors_tables
        && path == "/errors/"
        && !names.contains(&"tables")
        && !names.contains(&"json")
    {
        extra.push(format!("tables={}", tables.join(",")));
    }
    if extra.is_empty() {
        return None;
    }
    let joined = if query.is_empty() {
        extra.join("&")
    } else {
        format!("{query}&{}", extra.join("&"))
    };
    format!("{path}?{joined}").parse().ok()
}

/// The middleware: see the module documentation.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(auth) = state.auth.clone() else {
        return next.run(request).await;
    };
    let user = match identify(&state, &auth, request.headers()).await {
        Ok(user) => user,
        Err(error) => {
            let tampered = matches!(error, AppError::Unauthorized(_))
                && request.headers().get(AUTHORIZATION).is_none();
            let mut response = error.into_response();
            if tampered {
                response
                    .headers_mut()
                    .append(SET_COOKIE, auth.cookie(SESSION_COOKIE, "", "/", 0));
            }
            return response;
        }
    };
    let stale_cookie = user.is_none() && cookie_value(request.headers(), SESSION_COOKIE).is_some();
    let path = request.uri().path().to_string();
    if user.is_none() && auth.config.required && !is_public(&path) {
        if wants_json(request.uri().query(), request.headers()) || request.method() != Method::GET {
            return AppError::Unauthorized(
                "pandamon asks for a login: send `Authorization: Bearer <token>` or log in at /login/"
                    .into(),
            )
            .into_response();
        }
        let here = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        return Redirect::to(&format!(
            "/login/?next={}",
            crate::kit::links::encode(&here)
        ))
        .into_response();
    }
    // The address as asked, before a preference adds to it.
    let page = request
        .uri()
        .path_and_query()
        .map_or(String::new(), |p| p.as_str().to_string());
    if let Some(user) = &user {
        if request.method() == Method::GET
            && let Some(uri) = with_preferences(request.uri(), &user.preferences)
        {
            *request.uri_mut() = uri;
        }
        request.extensions_mut().insert(user.clone());
    }
    let is_get = request.method() == Method::GET;
    let mut response = next.run(request).await;
    if stale_cookie {
        response
            .headers_mut()
            .append(SET_COOKIE, auth.cookie(SESSION_COOKIE, "", "/", 0));
    }
    if let Some(user) = user {
        let html = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if is_get
            && html
            && response.status().is_success()
            && counts_as_visit(&page)
            && let Some(store) = state.state.clone()
        {
            let login = user.login.clone();
            tokio::spawn(async move {
                if let Err(e) = store
                    .record_visit(&login, &page, now(), VISIT_HALF_LIFE_HOURS)
                    .await
                {
                    tracing::warn!(error = %e, "cannot count a page visit");
                }
            });
        }
        response.extensions_mut().insert(user);
    }
    response
}

/// Whether a page visit feeds "most relevant links": pages, not logins, assets or the API,
/// and short enough for the table.
fn counts_as_visit(page: &str) -> bool {
    page.len() <= 191
        && page != "/"
        && ![
            "/login", "/logout", "/auth/", "/static/", "/api/", "/healthz", "/user/",
        ]
        .iter()
        .any(|p| page.starts_with(p))
}

/// The viewer's part of the navigation: their name with a logout button, or a login link.
pub fn nav_user(state: &AppState, user: Option<&CurrentUser>, here: &str) -> String {
    if state.auth.is_none() {
        return String::new();
    }
    match user {
        Some(user) => format!(
            r#"<span class="nav-user"><a href="/user/{}/" title="your MyBigPanDA page">{}</a><form method="post" action="/logout/"><button type="submit">log out</button></form></span>"#,
            crate::kit::links::encode_segment(&user.login),
            escape_html(user.name.as_deref().unwrap_or(&user.login))
        ),
        None => format!(
            r#"<span class="nav-user"><a href="/login/?next={}">log in</a></span>"#,
            escape_html(&crate::kit::links::encode(here))
        ),
    }
}

/// The panel a user sees on their own MyBigPanDA page: the pages they visit most, their API
/// tokens (with a form to make one and a button to revoke each) and their preferences.
pub async fn personal_panel(state: &AppState, user: &CurrentUser) -> Result<String, AppError> {
    let Some(store) = state.state.as_ref() else {
        return Ok(String::new());
    };
    let visits = store
        .top_visits(&user.login, now(), VISIT_HALF_LIFE_HOURS, 8)
        .await?;
    let tokens = store.tokens_of(&user.login).await?;
    let mut html = String::from(r#"<section id="personal"><h2>Most relevant links</h2>"#);
    if visits.is_empty() {
        html.push_str(r#"<p class="note">The pages you open most will be listed here.</p>"#);
    } else {
        html.push_str(r#"<ol id="relevant-links">"#);
        for (page, weight) in &visits {
            html.push_str(&format!(
                r#"<li><a href="{}">{}</a> <span class="note" title="visits, halved every week">{weight:.1}</span></li>"#,
                escape_html(page),
                escape_html(page)
            ));
        }
        html.push_str("</ol>");
    }
    html.push_str(r#"<h2>API tokens</h2><p class="note">Scripts send a token as <code>Authorization: Bearer &lt;token&gt;</code>. pandamon keeps only its hash: the token is shown once, when it is made.</p>"#);
    html.push_str(r#"<table class="data list" id="api-tokens"><thead><tr><th>Label</th><th>Id</th><th>Created</th><th>Last used</th><th>State</th></tr></thead><tbody>"#);
    for t in &tokens {
        let state_cell = match t.revoked_at {
            Some(at) => format!("revoked {}", format_time(at)),
            None => format!(
                r#"<form method="post" action="/auth/tokens/revoke/"><input type="hidden" name="id" value="{}"><button type="submit">revoke</button></form>"#,
                escape_html(&t.token_hash)
            ),
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{state_cell}</td></tr>",
            escape_html(&t.label),
            &t.token_hash[..12.min(t.token_hash.len())],
            format_time(t.created_at),
            t.last_used_at.map(format_time).unwrap_or_else(|| "never".into()),
        ));
    }
    if tokens.is_empty() {
        html.push_str(r#"<tr><td colspan="5" class="note">no tokens</td></tr>"#);
    }
    html.push_str(r#"</tbody></table><form method="post" action="/auth/tokens/" id="new-token"><label>Label <input name="label" required maxlength="100" placeholder="my script"></label> <button type="submit">make a token</button></form>"#);
    let p = &user.preferences;
    html.push_str(r#"<h2>Preferences</h2><form method="post" action="/auth/preferences/" id="preferences"><label>Window of the job, task and errors pages <select name="default_hours">"#);
    for (hours, label) in [
        (0, "as the page says"),
        (1, "1 hour"),
        (6, "6 hours"),
        (12, "12 hours"),
        (24, "1 day"),
        (72, "3 days"),
        (168, "7 days"),
    ] {
        let selected = if p.default_hours.unwrap_or(0) == hours {
            " selected"
        } else {
            ""
        };
        html.push_str(&format!(
            r#"<option value="{hours}"{selected}>{label}</option>"#
        ));
    }
    html.push_str("</select></label><fieldset><legend>Tables of the errors page</legend>");
    for (name, label) in ERROR_TABLES {
        let checked = match &p.errors_tables {
            Some(tables) if !tables.iter().any(|t| t == name) => "",
            _ => " checked",
        };
        html.push_str(&format!(
            r#"<label><input type="checkbox" name="errors_tables" value="{name}"{checked}> {label}</label> "#
        ));
    }
    html.push_str(r#"</fieldset><button type="submit">save</button></form></section>"#);
    Ok(html)
}

/// Puts `panel` where a page left [`PERSONAL_MARKER`] (a cached page stays the same for
/// everyone; only this copy gets the panel).
pub async fn fill_personal(response: Response, panel: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let page = String::from_utf8_lossy(&bytes).replacen(PERSONAL_MARKER, panel, 1);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> serde_json::Value {
        serde_json::json!({
            "issuer": "https://auth.example.org/realms/x",
            "client_id": "pandamon",
            "redirect_url": "https://bigpanda.example.org/login/callback/",
        })
    }

    #[test]
    fn config_needs_issuer_client_and_callback_and_names_the_bad_key() {
        let ok = AuthConfig::from_json(Some(&config()), Some("s".into()), None)
            .unwrap()
            .unwrap();
        assert_eq!(ok.client_secret.as_deref(), Some("s"));
        assert!(ok.secure_cookies());
        assert_eq!(AuthConfig::from_json(None, None, None).unwrap(), None);
        let mut bad = config();
        bad["issuer"] = "auth.example.org".into();
        let err = AuthConfig::from_json(Some(&bad), None, None).unwrap_err();
        assert!(err.contains("[auth] issuer"), "{err}");
        let mut bad = config();
        bad.as_object_mut().unwrap().remove("client_id");
        assert!(
            AuthConfig::from_json(Some(&bad), None, None)
                .unwrap_err()
                .contains("client_id")
        );
        let mut bad = config();
        bad["sesion_hours"] = 3.into();
        assert!(
            AuthConfig::from_json(Some(&bad), None, None)
                .unwrap_err()
                .contains("sesion_hours")
        );
        let err = AuthConfig::from_json(Some(&config()), None, Some("short".into())).unwrap_err();
        assert!(err.contains("session_key"), "{err}");
    }

    #[test]
    fn preferences_fill_only_what_the_url_leaves_open() {
        let p = Preferences {
            default_hours: Some(24),
            errors_tables: Some(vec!["code".into(), "site".into()]),
        };
        let uri: Uri = "/jobs/?computingsite=X".parse().unwrap();
        assert_eq!(
            with_preferences(&uri, &p).unwrap().to_string(),
            "/jobs/?computingsite=X&hours=24"
        );
        assert_eq!(
            with_preferences(&"/jobs/?days=3".parse().unwrap(), &p),
            None
        );
        assert_eq!(
            with_preferences(&"/jobs/?jeditaskid=7".parse().unwrap(), &p),
            None
        );
        assert_eq!(with_preferences(&"/sites/".parse().unwrap(), &p), None);
        assert_eq!(
            with_preferences(&"/errors/".parse().unwrap(), &p)
                .unwrap()
                .to_string(),
            "/errors/?hours=24&tables=code,site"
        );
        assert_eq!(
            with_preferences(&"/errors/?hours=2".parse().unwrap(), &p)
                .unwrap()
                .to_string(),
            "/errors/?hours=2&tables=code,site"
        );
        assert_eq!(
            with_preferences(&"/jobs/".parse().unwrap(), &Preferences::default()),
            None
        );
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; pandamon_session=x.y; b=2"),
        );
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), Some("x.y"));
        assert_eq!(cookie_value(&headers, "c"), None);
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn visits_count_pages_not_logins_or_assets() {
        assert!(counts_as_visit("/jobs/?computingsite=X"));
        assert!(!counts_as_visit("/static/pandamon.css"));
        assert!(!counts_as_visit("/login/callback/?code=1"));
        assert!(!counts_as_visit(&format!("/jobs/?x={}", "a".repeat(200))));
    }
}
