//! Login through OpenID Connect (authorization code with PKCE), logout, and what a logged-in
//! user changes: API tokens and preferences. The provider is any standard one `[auth]` names;
//! sessions, tokens and preferences live in pandamon's own tables (`kit::auth` says how).

use crate::kit::auth::{
    Auth, CurrentUser, ERROR_TABLES, LOGIN_COOKIE, Preferences, SESSION_COOKIE, cookie_value, now,
    random_token, sha256_hex,
};
use crate::kit::error::{AppError, AppResult};
use crate::kit::links::encode_segment;
use crate::kit::module::{Module, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::oidc;
use crate::kit::respond::PageRequest;
use crate::kit::state::AppState;
use askama::Template;
use axum::Form;
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN, SET_COOKIE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pandamon_store::StateStore;
use pandamon_store::users::PendingLogin;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;
use std::sync::Arc;

pub struct Login;

/// The longest login name pandamon keeps (its users table's key).
const MAX_LOGIN: usize = 128;
/// The longest token label.
const MAX_LABEL: usize = 100;

impl Module for Login {
    fn name(&self) -> &'static str {
        "login"
    }
    fn description(&self) -> &'static str {
        "login through OpenID Connect ([auth]), logout, API tokens and preferences"
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/login/",
                handler: get(start),
                doc: RouteDoc {
                    summary: "starts a login at the identity provider of [auth] (authorization code with PKCE)",
                    vocabulary: None,
                    params: const {
                        &[Param::query(
                            "next",
                            ParamType::Text,
                            "the page (a path of this site) to go back to once logged in",
                        )]
                    },
                    response: schema::<String>,
                    html: false,
                },
            },
            Route {
                path: "/login/callback/",
                handler: get(callback),
                doc: RouteDoc {
                    summary: "where the identity provider sends the browser back: checks the state, exchanges the code, opens a session",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::query("code", ParamType::Text, "the authorization code"),
                            Param::query("state", ParamType::Text, "the state pandamon sent"),
                            Param::query(
                                "error",
                                ParamType::Text,
                                "the provider's refusal, if any",
                            ),
                        ]
                    },
                    response: schema::<String>,
                    html: false,
                },
            },
            Route {
                path: "/logout/",
                handler: get(logout).post(logout),
                doc: RouteDoc {
                    summary: "ends the session and goes to the landing page",
                    vocabulary: None,
                    params: &[],
                    response: schema::<String>,
                    html: false,
                },
            },
            Route {
                path: "/auth/tokens/",
                handler: post(create_token),
                doc: RouteDoc {
                    summary: "makes an API token for the logged-in user and shows it once",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::form("label", ParamType::Text, "what the token is for")
                                .required(),
                        ]
                    },
                    response: schema::<NewToken>,
                    html: true,
                },
            },
            Route {
                path: "/auth/tokens/revoke/",
                handler: post(revoke_token),
                doc: RouteDoc {
                    summary: "revokes one of the logged-in user's API tokens",
                    vocabulary: None,
                    params: const {
                        &[Param::form(
                            "id",
                            ParamType::Text,
                            "the token's id (its SHA-256) as the user's page lists it",
                        )
                        .required()]
                    },
                    response: schema::<Revoked>,
                    html: true,
                },
            },
            Route {
                path: "/auth/preferences/",
                handler: post(save_preferences),
                doc: RouteDoc {
                    summary: "saves the logged-in user's preferences",
                    vocabulary: None,
                    params: const {
                        &[
                            Param::form(
                                "default_hours",
                                ParamType::Integer,
                                "window of the job, task and errors pages in hours (0: as the page says)",
                            ),
                            Param::form(
                                "errors_tables",
                                ParamType::Text,
                                "a table the errors page shows (repeated): code, message, site, user, task",
                            ),
                        ]
                    },
                    response: schema::<Preferences>,
                    html: true,
                },
            },
        ]
    }
}

/// What `POST /auth/tokens/` answers scripts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NewToken {
    pub token: String,
    pub id: String,
    pub label: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Revoked {
    pub id: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "token.html")]
struct TokenPage<'a> {
    label: &'a str,
    token: &'a str,
    example: String,
    back: String,
}

fn configured(state: &AppState) -> AppResult<(Arc<Auth>, &StateStore)> {
    match (&state.auth, &state.state) {
        (Some(auth), Some(store)) => Ok((auth.clone(), store)),
        _ => Err(AppError::NotFound(
            "login (this server has no [auth] section in pandamon.toml)".into(),
        )),
    }
}

/// A page of this site to go back to: a path, never another site (`//host`, `/\host`).
fn local_target(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

/// The provider's endpoints and keys, read once.
async fn provider(auth: &Auth) -> AppResult<oidc::Provider> {
    let mut slot = auth.provider.lock().await;
    if let Some(p) = slot.as_ref() {
        return Ok(p.clone());
    }
    let issuer = auth.config.issuer.as_deref().unwrap_or_default();
    let found = oidc::discover(issuer).await.map_err(|e| {
        AppError::Provider(format!(
            "cannot read the identity provider's configuration: {e}"
        ))
    })?;
    *slot = Some(found.clone());
    Ok(found)
}

async fn start(request: PageRequest) -> AppResult<Response> {
    let (auth, store) = configured(&request.state)?;
    let provider = provider(&auth).await?;
    let state = random_token(32)?;
    let pending = PendingLogin {
        nonce: random_token(24)?,
        verifier: random_token(48)?,
        return_to: local_target(request.param("next")),
        created_at: now(),
    };
    let timeout = chrono::Duration::milliseconds((auth.config.login_timeout_s * 1000.0) as i64);
    store
        .start_login(&sha256_hex(&state), &pending, pending.created_at - timeout)
        .await?;
    let target = oidc::authorization_url(
        &provider,
        &auth.config,
        &state,
        &pending.nonce,
        &pending.verifier,
    );
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        auth.cookie(
            LOGIN_COOKIE,
            &auth.sign(&state),
            "/login/",
            // Outlives the state a little, so that a late callback hears why it is refused.
            auth.config.login_timeout_s.ceil() as i64 + 60,
        ),
    );
    Ok(response)
}

async fn callback(headers: HeaderMap, request: PageRequest) -> AppResult<Response> {
    let (auth, store) = configured(&request.state)?;
    if let Some(error) = request.param("error") {
        let detail = request.param("error_description").unwrap_or("");
        return Err(AppError::Unauthorized(format!(
            "the identity provider did not log you in ({error}{}{detail}): try again at /login/",
            if detail.is_empty() { "" } else { ": " }
        )));
    }
    let missing = |name: &str| AppError::BadRequest(format!("missing parameter '{name}'"));
    let state = request.param("state").ok_or_else(|| missing("state"))?;
    let code = request.param("code").ok_or_else(|| missing("code"))?;
    // The state must be the one this browser was given when it set out (login CSRF).
    let ours = cookie_value(&headers, LOGIN_COOKIE).and_then(|c| auth.verify(c));
    if ours != Some(state) {
        return Err(AppError::Unauthorized(
            "this login was not started from this browser (its state does not match): start again at /login/".into(),
        ));
    }
    let pending = store.take_login(&sha256_hex(state)).await?.ok_or_else(|| {
        AppError::Unauthorized(
            "this login was already used or is unknown (a replayed or forged state): start again at /login/".into(),
        )
    })?;
    let age = (now() - pending.created_at).num_milliseconds() as f64 / 1000.0;
    if age > auth.config.login_timeout_s {
        return Err(AppError::Unauthorized(format!(
            "this login expired: it stayed {age:.0} s at the identity provider, more than the {} s allowed; start again at /login/",
            auth.config.login_timeout_s
        )));
    }
    let mut provider = provider(&auth).await?;
    // RFC 9207: a provider naming itself must be ours (a mix-up with another provider).
    if let Some(iss) = request.param("iss")
        && iss != provider.issuer
    {
        return Err(AppError::Unauthorized(
            "the login answer comes from another identity provider: start again at /login/".into(),
        ));
    }
    let keys = provider.keys.clone();
    let claims = oidc::complete(
        &mut provider,
        &auth.config,
        code,
        &pending.verifier,
        &pending.nonce,
        chrono::Utc::now().timestamp(),
    )
    .await
    .map_err(|e| AppError::Provider(format!("the login could not be completed: {e}")))?;
    if provider.keys != keys {
        *auth.provider.lock().await = Some(provider);
    }
    let text = |name: &str| claims.get(name).and_then(Json::as_str).map(str::trim);
    let login = text(&auth.config.login_claim)
        .filter(|l| !l.is_empty())
        .or_else(|| text("sub"))
        .unwrap_or_default()
        .to_string();
    if login.is_empty() || login.len() > MAX_LOGIN || login.chars().any(char::is_control) {
        return Err(AppError::Provider(format!(
            "the identity provider's `{}` claim is not a usable login",
            auth.config.login_claim
        )));
    }
    let at = now();
    store
        .user_logged_in(&login, text(&auth.config.name_claim), text("email"), at)
        .await?;
    let id = random_token(32)?;
    let lifetime = chrono::Duration::seconds((auth.config.session_hours * 3600.0) as i64);
    store
        .open_session(&sha256_hex(&id), &login, at, at + lifetime)
        .await?;
    tracing::info!(login = %login, "user logged in");
    let mut response = Redirect::to(&pending.return_to).into_response();
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        auth.cookie(SESSION_COOKIE, &auth.sign(&id), "/", lifetime.num_seconds()),
    );
    headers.append(SET_COOKIE, auth.cookie(LOGIN_COOKIE, "", "/login/", 0));
    Ok(response)
}

async fn logout(request: PageRequest) -> AppResult<Response> {
    let (auth, store) = configured(&request.state)?;
    if let Some(session) = request.user.as_ref().and_then(|u| u.session.as_deref()) {
        store.close_session(session).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, auth.cookie(SESSION_COOKIE, "", "/", 0));
    Ok(response)
}

/// The logged-in user of a form, which must come from this site's own pages.
fn form_user<'a>(request: &'a PageRequest, headers: &HeaderMap) -> AppResult<&'a CurrentUser> {
    let user = request.user.as_ref().ok_or_else(|| {
        AppError::Unauthorized("this needs a login: log in at /login/ first".into())
    })?;
    // Session cookies are SameSite=Lax, so another site's form arrives without one; a browser
    // also says where a form came from.
    if let (Some(origin), Some(host)) = (headers.get(ORIGIN), headers.get(HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let host = host.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin_host != host {
            return Err(AppError::Unauthorized(
                "this form was sent from another site: use the one on your MyBigPanDA page".into(),
            ));
        }
    }
    Ok(user)
}

fn own_page(login: &str) -> String {
    format!("/user/{}/", encode_segment(login))
}

/// The values of form field `name`.
fn fields<'a>(form: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The first value of form field `name`, trimmed ("" when absent).
fn field(form: &[(String, String)], name: &str) -> String {
    fields(form, name)
        .first()
        .map_or("", |v| v.trim())
        .to_string()
}

async fn create_token(
    headers: HeaderMap,
    request: PageRequest,
    Form(form): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (auth, store) = configured(&request.state)?;
    let user = form_user(&request, &headers)?;
    let label = field(&form, "label");
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(AppError::BadRequest(format!(
            "invalid value for parameter 'label': give what the token is for, up to {MAX_LABEL} characters"
        )));
    }
    let token = format!("pm_{}", random_token(32)?);
    let hash = sha256_hex(&token);
    store
        .create_token(&hash, &user.login, &label, now())
        .await?;
    tracing::info!(login = %user.login, id = &hash[..12], "api token made");
    let origin = auth
        .config
        .redirect_url
        .as_deref()
        .and_then(|u| u.find("/login/").map(|i| u[..i].to_string()))
        .unwrap_or_default();
    let answer = NewToken {
        id: hash,
        token: token.clone(),
        label: label.clone(),
    };
    request.answer_now(&answer, || {
        Ok(TokenPage {
            label: &label,
            token: &token,
            example: format!("{origin}/jobs/?json"),
            back: own_page(&user.login),
        }
        .render()?)
    })
}

async fn revoke_token(
    headers: HeaderMap,
    request: PageRequest,
    Form(form): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (_, store) = configured(&request.state)?;
    let user = form_user(&request, &headers)?;
    let id = field(&form, "id");
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest(
            "invalid value for parameter 'id': the token's id as your page lists it (64 hex digits)"
                .into(),
        ));
    }
    if !store.revoke_token(&user.login, &id, now()).await? {
        return Err(AppError::NotFound(format!(
            "live API token {} of {}",
            &id[..12],
            user.login
        )));
    }
    tracing::info!(login = %user.login, id = &id[..12], "api token revoked");
    if request.json {
        return request.answer_now(&Revoked { id, revoked: true }, || Ok(String::new()));
    }
    Ok(Redirect::to(&own_page(&user.login)).into_response())
}

async fn save_preferences(
    headers: HeaderMap,
    request: PageRequest,
    Form(form): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (_, store) = configured(&request.state)?;
    let user = form_user(&request, &headers)?;
    let hours = match field(&form, "default_hours").as_str() {
        "" | "0" => None,
        h => match h.parse::<i64>() {
            Ok(n) if (1..=24 * 365).contains(&n) => Some(n),
            _ => {
                return Err(AppError::BadRequest(
                    "invalid value for parameter 'default_hours': hours from 1 to 8760, or 0 for the page's own"
                        .into(),
                ));
            }
        },
    };
    let mut tables = Vec::new();
    for t in fields(&form, "errors_tables") {
        let Some((name, _)) = ERROR_TABLES.iter().find(|(n, _)| *n == t.trim()) else {
            let names: Vec<&str> = ERROR_TABLES.iter().map(|(n, _)| *n).collect();
            return Err(AppError::BadRequest(format!(
                "invalid value for parameter 'errors_tables': '{t}'; use {}",
                names.join(", ")
            )));
        };
        if !tables.contains(&name.to_string()) {
            tables.push(name.to_string());
        }
    }
    // Every table, or none ticked: the page's own choice.
    let errors_tables = (!tables.is_empty() && tables.len() < ERROR_TABLES.len()).then_some(tables);
    let preferences = Preferences {
        default_hours: hours,
        errors_tables,
    };
    store
        .set_preferences(&user.login, &serde_json::to_string(&preferences)?)
        .await?;
    if request.json {
        return request.answer_now(&preferences, || Ok(String::new()));
    }
    Ok(Redirect::to(&own_page(&user.login)).into_response())
}

#[cfg(test)]
mod tests {
    use super::local_target;

    #[test]
    fn logins_return_only_to_this_site() {
        assert_eq!(local_target(Some("/jobs/?x=1")), "/jobs/?x=1");
        assert_eq!(local_target(Some("//evil.example/")), "/");
        assert_eq!(local_target(Some("/\\evil.example/")), "/");
        assert_eq!(local_target(Some("https://evil.example/")), "/");
        assert_eq!(local_target(None), "/");
    }
}
