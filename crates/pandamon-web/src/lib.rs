//! The HTTP layer of pandamon: router, pages, JSON.
//!
//! Architecture invariant: this is the only crate that knows HTTP status codes; handlers read
//! through `pandamon-store` and never build SQL themselves.

pub mod assets;
pub mod dash;
pub mod error;
pub mod errors;
pub mod files;
pub mod freshness;
pub mod job;
pub mod jobs;
pub mod request;
pub mod router;
pub mod search;
pub mod source;
pub mod state;
pub mod status;
pub mod tasks;

pub use router::router;
pub use state::{AppState, LiveHandle, LiveReport};

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
