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
        }))
    }
}
