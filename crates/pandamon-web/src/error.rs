//! The one error type of the HTTP layer, and the only place where errors become status codes.
//!
//! Policy: handlers return [`AppError`]; lower crates return their own errors, classified by
//! `kind()`. A 5xx is logged with its cause and answered with a generic message: no internals,
//! no stack traces reach a user.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pandamon_store::{ErrorKind, StoreError};
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

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) | AppError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
                _ => String::new(),
            };
            tracing::error!(status = status.as_u16(), cause, "request failed");
        }
        let body = serde_json::json!({ "errors": [{ "detail": self.to_string() }] });
        (status, Json(body)).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
