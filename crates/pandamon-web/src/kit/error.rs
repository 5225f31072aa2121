//! The one error type of the HTTP layer, and the only place where answers get status codes.
//!
//! Policy: handlers return [`AppError`]; lower crates return their own errors, classified by
//! `kind()`. A 5xx is logged with its cause and answered with a generic message: no internals,
//! no stack traces reach a user. Errors answer JSON (`{"errors": [{"detail": ...}]}`); the
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
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] StoreError),
    #[error("page rendering failed")]
    Render(#[from] askama::Error),
    #[error("answer encoding failed")]
    Encode(#[from] serde_json::Error),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            ErrorKind::Invalid => AppError::BadRequest(e.to_string()),
            ErrorKind::Unavailable | ErrorKind::State => AppError::Unavailable(e),
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
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) | AppError::Render(_) | AppError::Encode(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "Bad request",
            AppError::NotFound(_) => "Not found",
            AppError::Unavailable(_) => "Database unavailable",
            AppError::Internal(_) | AppError::Render(_) | AppError::Encode(_) => "Internal error",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            let cause = match &self {
                AppError::Unavailable(e) | AppError::Internal(e) => e.to_string(),
                AppError::Render(e) => e.to_string(),
                AppError::Encode(e) => e.to_string(),
                _ => String::new(),
            };
            tracing::error!(status = status.as_u16(), cause, "request failed");
        }
        let body = serde_json::json!({ "errors": [{ "detail": self.to_string() }] });
        let mut response = (status, Json(body)).into_response();
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

/// An answer with the error's status and the given (HTML) body.
pub fn with_status_of(response: &Response, body: String) -> Response {
    (
        response.status(),
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}
