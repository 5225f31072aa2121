//! The HTTP layer of pandamon: the module registry, the kit the modules share, and the router
//! that puts the enabled modules together.
//!
//! Architecture invariants (checked by `tests/tidy.rs`): only `kit/error.rs` knows HTTP status
//! codes; no SQL text here (the store takes typed selections); no module imports another.

pub mod kit;
pub mod modules;
pub mod router;
pub mod serve;

pub use kit::state::{AppState, LiveHandle, LiveReport, Settings};
pub use router::router;
pub use serve::{serve, start_background};

impl AppState {
    /// Every registered module on, default settings.
    pub fn new(db: pandamon_store::Db, live: Option<LiveHandle>) -> AppState {
        AppState::with_settings_and_modules(db, live, Settings::default(), modules::all())
    }
}
