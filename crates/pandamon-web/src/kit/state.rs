//! Shared state of the web application: the database, the live index, the answer cache, the
//! queue catalogue, the enabled modules and their settings.

use crate::kit::cache::{Answers, MemoryStore};
use crate::kit::limits::{ClientSlots, ServerLimits};
use crate::kit::module::Module;
use crate::kit::profile::{Labels, Profile};
use crate::kit::reference::ReferenceData;
use pandamon_store::Db;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use pandamon_model::SimulatorReport as LiveReport;

pub type LiveHandle = Arc<RwLock<LiveReport>>;

/// Settings of the web layer, resolved by the binary from `pandamon.toml` and the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub labels: Labels,
    /// `[modules.<name>]` sections, by module name.
    pub module_config: BTreeMap<String, Json>,
    /// How long an answer read from the database is served from the cache.
    pub cache_database_ttl: Duration,
    /// How often the reference data (queue and error descriptions) is re-read.
    pub reference_refresh: Duration,
    /// `[alerts]`: the alert rules, their recipients and the mail server.
    pub alerts: pandamon_alerts::AlertsConfig,
    /// `[server]`: connection and request limits.
    pub server: ServerLimits,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            labels: Profile::default_profile().labels,
            module_config: BTreeMap::new(),
            cache_database_ttl: Duration::ZERO,
            reference_refresh: Duration::from_secs(60),
            alerts: pandamon_alerts::AlertsConfig::default(),
            server: ServerLimits::default(),
        }
    }
}

impl Settings {
    /// The failure rate (failed / (finished + failed), in percent) above which a site is
    /// flagged on every page: `[modules.sites] failure_percent`, 50 by default.
    pub fn failure_percent(&self) -> f64 {
        self.module_int("sites", "failure_percent", 50) as f64
    }

    /// An integer setting of a module, or `default`.
    pub fn module_int(&self, module: &str, key: &str, default: i64) -> i64 {
        self.module_config
            .get(module)
            .and_then(|m| m.get(key))
            .and_then(Json::as_i64)
            .unwrap_or(default)
    }
}

#[derive(Clone)]
pub struct AppState(pub Arc<App>);

#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub started: Instant,
    pub live: Option<LiveHandle>,
    /// The in-memory job index, when enabled.
    pub index: Option<pandamon_live::sync::LiveIndex>,
    /// Answers of every page, by module, request and data generation.
    pub answers: Arc<Answers>,
    /// Queue and error descriptions.
    pub reference: Arc<ReferenceData>,
    /// The modules switched on, in registry order.
    pub modules: Arc<Vec<&'static dyn Module>>,
    pub settings: Arc<Settings>,
    /// pandamon's own tables (rollups, users, alerts sent), when opened.
    pub state: Option<pandamon_store::StateStore>,
    /// Login (`[auth]`), when configured.
    pub auth: Option<Arc<crate::kit::auth::Auth>>,
    /// Requests in progress per client address.
    pub clients: Arc<ClientSlots>,
    /// The enabled modules reading tables the database lacks (filled by
    /// [`AppState::check_tables`]; empty until then and for a complete database).
    pub missing_tables: Arc<RwLock<Vec<MissingTables>>>,
}

/// A module whose pages read tables the database lacks.
#[derive(Debug, Clone)]
pub struct MissingTables {
    pub module: &'static str,
    /// The module's route paths (`/task/{jeditaskid}/`), to find the module of a page.
    pub paths: Vec<&'static str>,
    pub tables: Vec<&'static str>,
}

impl MissingTables {
    /// Whether the page at `path` is one of the module's.
    pub fn serves(&self, path: &str) -> bool {
        self.paths.iter().any(|route| match route.split_once('{') {
            Some((prefix, _)) => prefix.len() > 1 && path.starts_with(prefix),
            None => path == *route,
        })
    }
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// A state with these modules on (the crate root's `AppState::new` turns on every
    /// registered one: the kit does not know the registry).
    pub fn with_settings_and_modules(
        db: Db,
        live: Option<LiveHandle>,
        settings: Settings,
        modules: Vec<&'static dyn Module>,
    ) -> AppState {
        AppState(Arc::new(App {
            db,
            started: Instant::now(),
            live,
            index: None,
            answers: Arc::new(Answers::new(
                Box::new(MemoryStore::new(settings.server.memory.cache_bytes)),
                settings.cache_database_ttl,
                settings.server.memory.computations,
            )),
            reference: Arc::new(ReferenceData::new(settings.reference_refresh)),
            modules: Arc::new(modules),
            settings: Arc::new(settings),
            state: None,
            auth: None,
            clients: Arc::default(),
            missing_tables: Arc::default(),
        }))
    }

    /// Finds which tables of the enabled modules the database lacks (reading the dictionary
    /// only), so that `/healthz` and the modules' pages can say so.
    pub async fn check_tables(&self) -> Result<(), pandamon_store::StoreError> {
        let present = pandamon_store::schema::existing_tables(&self.db).await?;
        let mut missing = Vec::new();
        for m in self.modules.iter() {
            let tables: Vec<&'static str> = m
                .tables()
                .iter()
                .copied()
                .filter(|t| !present.iter().any(|p| p == t))
                .collect();
            if !tables.is_empty() {
                tracing::warn!(module = m.name(), tables = ?tables, "module reads tables the database lacks");
                missing.push(MissingTables {
                    module: m.name(),
                    paths: m.routes().iter().map(|r| r.path).collect(),
                    tables,
                });
            }
        }
        if let Ok(mut slot) = self.missing_tables.write() {
            *slot = missing;
        }
        Ok(())
    }

    /// The tables module `name` reads that the database lacks.
    pub fn missing_tables_of(&self, name: &str) -> Vec<&'static str> {
        self.missing_tables
            .read()
            .ok()
            .and_then(|m| {
                m.iter()
                    .find(|t| t.module == name)
                    .map(|t| t.tables.clone())
            })
            .unwrap_or_default()
    }

    fn map(self, change: impl FnOnce(&mut App)) -> AppState {
        let mut app = Arc::unwrap_or_clone(self.0);
        change(&mut app);
        AppState(Arc::new(app))
    }

    /// The same state with a live job index to answer from when it can.
    pub fn with_index(self, index: pandamon_live::sync::LiveIndex) -> AppState {
        self.map(|app| app.index = Some(index))
    }

    /// The same state with pandamon's own state store.
    pub fn with_state(self, store: pandamon_store::StateStore) -> AppState {
        self.map(|app| app.state = Some(store))
    }

    /// The same state with login (`[auth]`) on.
    pub fn with_auth(self, auth: Arc<crate::kit::auth::Auth>) -> AppState {
        self.map(|app| app.auth = Some(auth))
    }

    /// The same state with only these modules on.
    pub fn with_modules(self, modules: Vec<&'static dyn Module>) -> AppState {
        self.map(|app| app.modules = Arc::new(modules))
    }

    /// The same state with these settings (a fresh cache and reference data sized by them).
    pub fn with_settings(self, settings: Settings) -> AppState {
        let modules = self.modules.as_ref().clone();
        let (index, store, auth) = (self.index.clone(), self.state.clone(), self.auth.clone());
        let fresh = AppState::with_settings_and_modules(
            self.db.clone(),
            self.live.clone(),
            settings,
            modules,
        );
        fresh.map(|app| {
            app.index = index;
            app.state = store;
            app.auth = auth;
        })
    }

    /// The live index's generation now, if there is an index.
    pub fn generation(&self) -> Option<u64> {
        self.index.as_ref().map(|i| i.generation())
    }
}

#[cfg(test)]
mod tests {
    use super::MissingTables;

    #[test]
    fn a_page_belongs_to_the_module_whose_route_it_matches() {
        let tasks = MissingTables {
            module: "tasks",
            paths: vec!["/tasks/", "/task/{jeditaskid}/"],
            tables: vec!["jedi_events"],
        };
        assert!(tasks.serves("/tasks/"));
        assert!(tasks.serves("/task/40000002/"));
        assert!(!tasks.serves("/tasks/extra/"));
        assert!(!tasks.serves("/sites/"));
        let root = MissingTables {
            module: "x",
            paths: vec!["/{anything}"],
            tables: vec![],
        };
        assert!(!root.serves("/sites/"), "a bare / prefix claims no page");
    }
}
