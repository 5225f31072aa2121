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
    /// JSON answers computed from the index, by query, valid for one index generation.
    pub answers: std::sync::Mutex<std::collections::HashMap<String, (u64, axum::body::Bytes)>>,
    /// Held while an answer is computed from the index: requests that missed the cache at the
    /// same moment wait for the first one's answer instead of all computing it (each
    /// computation already uses every core).
    pub computing: tokio::sync::Mutex<()>,
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// A cached JSON answer for `key`, if the index has not changed since it was computed.
    pub fn cached_answer(&self, key: &str) -> Option<axum::body::Bytes> {
        let generation = self.index.as_ref()?.generation();
        let answers = self.answers.lock().ok()?;
        answers
            .get(key)
            .filter(|(g, _)| *g == generation)
            .map(|(_, b)| b.clone())
    }

    /// Remembers a JSON answer computed from the index at `generation`.
    pub fn remember_answer(&self, key: String, generation: u64, body: axum::body::Bytes) {
        if let Ok(mut answers) = self.answers.lock() {
            if answers.len() >= 512 {
                answers.retain(|_, (g, _)| *g == generation);
                if answers.len() >= 512 {
                    answers.clear();
                }
            }
            answers.insert(key, (generation, body));
        }
    }

    pub fn new(db: Db, live: Option<LiveHandle>) -> AppState {
        AppState(Arc::new(App {
            db,
            started: Instant::now(),
            live,
            index: None,
            answers: Default::default(),
            computing: Default::default(),
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
                answers: Default::default(),
                computing: Default::default(),
            },
        };
        AppState(Arc::new(App {
            index: Some(index),
            ..app
        }))
    }
}
