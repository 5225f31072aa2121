//! Reference data: the PanDA queues as CRIC describes them (`schedconfig_json`) and the error
//! descriptions, read once and refreshed on a timer instead of on every request.

use crate::kit::error::AppResult;
use pandamon_store::Db;
use pandamon_store::jobs::ErrorDescription;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A PanDA queue: what pages need of its CRIC document, and the whole document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueueInfo {
    #[serde(flatten)]
    pub attributes: QueueAttributes,
    /// The whole CRIC document.
    pub data: Json,
}

impl std::ops::Deref for QueueInfo {
    type Target = QueueAttributes;
    fn deref(&self) -> &QueueAttributes {
        &self.attributes
    }
}

/// What pages need of a PanDA queue, from its CRIC document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueueAttributes {
    pub queue: String,
    /// The site (`atlas_site`) the queue belongs to.
    pub site: String,
    pub cloud: String,
    pub tier: String,
    pub status: String,
    pub kind: String,
    pub resource: String,
    pub corecount: i64,
    pub corepower: f64,
    pub harvester: String,
    pub role: String,
}

pub type Queues = BTreeMap<String, QueueInfo>;

/// A value loaded from the database, reloaded when older than the refresh interval.
pub struct Refreshed<T> {
    refresh: Duration,
    current: tokio::sync::Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Refreshed<T> {
    pub fn new(refresh: Duration) -> Refreshed<T> {
        Refreshed {
            refresh,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The value; concurrent callers after the interval wait for one reload, and a failed
    /// reload keeps serving the last value (an error only when there never was one).
    pub async fn get<F, Fut>(&self, what: &'static str, load: F) -> AppResult<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let mut current = self.current.lock().await;
        if let Some((at, value)) = current.as_ref()
            && at.elapsed() < self.refresh
        {
            return Ok(value.clone());
        }
        match load().await {
            Ok(value) => {
                let value = Arc::new(value);
                *current = Some((Instant::now(), value.clone()));
                Ok(value)
            }
            Err(e) => match current.as_ref() {
                Some((_, value)) => {
                    tracing::warn!(error = %e, what, "reload failed; serving the last copy");
                    Ok(value.clone())
                }
                None => Err(e),
            },
        }
    }
}

/// The small tables every page consults, read once and re-read on a timer instead of on every
/// request: the queue descriptions and the error descriptions.
pub struct ReferenceData {
    queues: Refreshed<Queues>,
    errors: Refreshed<Vec<ErrorDescription>>,
}

impl ReferenceData {
    pub fn new(refresh: Duration) -> ReferenceData {
        ReferenceData {
            queues: Refreshed::new(refresh),
            errors: Refreshed::new(refresh),
        }
    }

    /// The PanDA queues by name.
    pub async fn queues(&self, db: &Db) -> AppResult<Arc<Queues>> {
        self.queues.get("queue descriptions", || load(db)).await
    }

    /// `error_descriptions`: codes with their names, descriptions and categories.
    pub async fn error_descriptions(&self, db: &Db) -> AppResult<Arc<Vec<ErrorDescription>>> {
        self.errors
            .get("error descriptions", || async {
                Ok(db.error_descriptions().await?)
            })
            .await
    }
}

async fn load(db: &Db) -> AppResult<Queues> {
    let mut out = BTreeMap::new();
    for (name, document) in db.queue_documents().await? {
        let data: Json = serde_json::from_str(&document).unwrap_or(Json::Null);
        let text = |k: &str| data.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        out.insert(
            name.clone(),
            QueueInfo {
                attributes: QueueAttributes {
                    site: Some(text("atlas_site"))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| name.clone()),
                    cloud: text("cloud"),
                    tier: text("tier"),
                    status: text("status"),
                    kind: text("type"),
                    resource: text("resource_type"),
                    corecount: data.get("corecount").and_then(Json::as_i64).unwrap_or(0),
                    corepower: data.get("corepower").and_then(Json::as_f64).unwrap_or(0.0),
                    harvester: text("harvester"),
                    role: text("role"),
                    queue: name,
                },
                data,
            },
        );
    }
    Ok(out)
}
