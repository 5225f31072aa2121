//! Shared state of the web application.

use pandamon_store::Db;
use std::sync::{Arc, RwLock};
use std::time::Instant;

pub use pandamon_model::SimulatorReport as LiveReport;

pub type LiveHandle = Arc<RwLock<LiveReport>>;

#[derive(Clone)]
pub struct AppState(pub Arc<App>);

pub struct App {
    pub db: Db,
    pub started: Instant,
    pub live: Option<LiveHandle>,
    /// The in-memory job index, when enabled.
    pub index: Option<pandamon_live::sync::LiveIndex>,
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    pub fn new(db: Db, live: Option<LiveHandle>) -> AppState {
        AppState(Arc::new(App {
            db,
            started: Instant::now(),
            live,
            index: None,
        }))
    }

    /// The same state with a live job index to answer from when it can.
    pub fn with_index(self, index: pandamon_live::sync::LiveIndex) -> AppState {
        let app = match Arc::try_unwrap(self.0) {
            Ok(app) => app,
            Err(shared) => App {
                db: shared.db.clone(),
                started: shared.started,
                live: shared.live.clone(),
                index: shared.index.clone(),
            },
        };
        AppState(Arc::new(App {
            index: Some(index),
            ..app
        }))
    }
}
