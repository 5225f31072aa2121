//! The HTTP layer of pandamon: the module registry, the kit the modules share, and the router
//! that puts the enabled modules together.
//!
//! Architecture invariants (checked by `tests/tidy.rs`): only `kit/error.rs` knows HTTP status
//! codes; no SQL text here (the store takes typed selections); no module imports another.

pub mod kit;
pub mod modules;
pub mod router;

pub use kit::state::{AppState, LiveHandle, LiveReport, Settings};
pub use router::router;

impl AppState {
    /// Every registered module on, default settings.
    pub fn new(db: pandamon_store::Db, live: Option<LiveHandle>) -> AppState {
        AppState::with_settings_and_modules(db, live, Settings::default(), modules::all())
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, with the background tasks of the
/// enabled modules running beside it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = start_background(&state);
    let result = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    for task in tasks {
        task.abort();
    }
    result
}

/// Starts the background tasks of the enabled modules (and only theirs).
pub fn start_background(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    state
        .modules
        .iter()
        .flat_map(|m| m.background().into_iter().map(move |t| (m.name(), t)))
        .map(|(module, task)| {
            tracing::info!(module, task = task.name, "background task started");
            tokio::spawn((task.run)(state.clone()))
        })
        .collect()
}
