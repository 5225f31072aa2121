//! The one error type of the HTTP layer, and the only place where answers get status codes.
//!
//! Policy: handlers return [`AppError`]; lower crates return their own errors, classified by
//! `kind()`. A 5xx is logged with its cause and answered with a generic message: no internals,
//! no stack traces reach a user. Errors answer JSON (`{"error": ..., "errors": [{"detail": ...}]}`:
//! bigmon's `error` message, and the same as a list of details); the
//! layout layer turns them into an HTML page with the navigation for browsers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pandamon_store::{ErrorKind, StoreError};
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A form address opened as a page, or a page sent a form: the message says which method.
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    #[error(
        "the database needed longer than its time limit for this selection: narrow it (a shorter window, a site, a user or a task)"
    )]
    TooSlow(#[source] StoreError),
    #[error(
        "this answer needed longer than the limit of {} s: narrow the selection (a shorter window, a site, a user or a task)", .0.as_secs()
    )]
    Timeout(std::time::Duration),
    #[error(
        "more than {0} requests from your address are in progress: wait for them, then ask again"
    )]
    TooManyRequests(usize),
    /// No valid login: an altered session cookie, a replayed or forged login, an unknown or
    /// revoked token, or a page that needs a login.
    #[error("{0}")]
    Unauthorized(String),
    /// The identity provider could not be reached or refused what pandamon sent.
    #[error("{0}")]
    Provider(String),
    #[error("internal error")]
    Secret(&'static str),
    #[error("internal error")]
    Internal(#[source] StoreError),
    #[error("page rendering failed")]
    Render(#[from] askama::Error),
    /// A chart drawn on the server (`format=png|svg`) could not be.
    #[error("{0}")]
    Plot(#[from] crate::kit::plot::PlotError),
    #[error("answer encoding failed")]
    Encode(#[from] serde_json::Error),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            ErrorKind::Invalid => AppError::BadRequest(e.to_string()),
            ErrorKind::Unavailable | ErrorKind::State => AppError::Unavailable(e),
            ErrorKind::TooSlow => AppError::TooSlow(e),
            ErrorKind::Internal => AppError::Internal(e),
        }
    }
}

/// What the layout layer needs to render an error as a page: attached to error answers.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub title: &'static str,
    pub detail: String,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unavailable(_) | AppError::TooSlow(_) | AppError::Timeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Provider(_) => StatusCode::BAD_GATEWAY,
            AppError::Plot(crate::kit::plot::PlotError::NoFont) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Plot(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Secret(_)
            | AppError::Internal(_)
            | AppError::Render(_)
            | AppError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the database could not be reached (not merely in a state pandamon cannot read).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AppError::Unavailable(e) if e.kind() == ErrorKind::Unavailable)
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "Bad request",
            AppError::NotFound(_) => "Not found",
            AppError::MethodNotAllowed(_) => "Wrong method",
            AppError::Unavailable(_) => "Database unavailable",
            AppError::TooSlow(_) | AppError::Timeout(_) => "Selection too large",
            AppError::TooManyRequests(_) => "Too many requests",
            AppError::Unauthorized(_) => "Not logged in",
            AppError::Provider(_) => "Login failed",
            AppError::Plot(_) => "Chart unavailable",
            AppError::Secret(_)
            | AppError::Internal(_)
            | AppError::Render(_)
            | AppError::Encode(_) => "Internal error",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            let cause = match &self {
                AppError::Unavailable(e) | AppError::Internal(e) | AppError::TooSlow(e) => {
                    e.to_string()
                }
                AppError::Render(e) => e.to_string(),
                AppError::Encode(e) => e.to_string(),
                AppError::Provider(e) => e.clone(),
                AppError::Plot(e) => e.to_string(),
                AppError::Secret(e) => e.to_string(),
                _ => String::new(),
            };
            tracing::error!(status = status.as_u16(), cause, "request failed");
        }
        let detail = self.to_string();
        let body = serde_json::json!({ "error": detail, "errors": [{ "detail": detail }] });
        let mut response = (status, Json(body)).into_response();
        if matches!(self, AppError::TooManyRequests(_)) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response.extensions_mut().insert(ErrorPage {
            title: self.title(),
            detail: self.to_string(),
        });
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// A health answer: 200 when healthy, 503 otherwise, always JSON.
pub fn health_response(healthy: bool, body: impl Serialize) -> Response {
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// An answer with the error's status and the given (HTML) body, keeping the cookies the error
/// answer sets (a cleared session, say).
pub fn with_status_of(response: &Response, body: String) -> Response {
    use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
    let mut page = (
        response.status(),
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    for name in [SET_COOKIE, RETRY_AFTER] {
        for value in response.headers().get_all(&name) {
            page.headers_mut().append(&name, value.clone());
        }
    }
    page
}
