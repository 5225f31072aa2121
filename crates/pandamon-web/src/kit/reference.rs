//! The PanDA queues as CRIC describes them (`schedconfig_json`), read once and refreshed on a
//! timer instead of on every request.

use crate::kit::error::AppResult;
use pandamon_store::Db;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What pages need of a PanDA queue, from its CRIC document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueueInfo {
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
    /// The whole CRIC document.
    pub data: Json,
}

pub type Queues = Arc<BTreeMap<String, QueueInfo>>;

/// The queue descriptions, reloaded when older than the refresh interval.
pub struct QueueCatalog {
    refresh: Duration,
    current: tokio::sync::Mutex<Option<(Instant, Queues)>>,
}

impl QueueCatalog {
    pub fn new(refresh: Duration) -> QueueCatalog {
        QueueCatalog {
            refresh,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The queues; concurrent callers after the interval wait for one reload.
    pub async fn get(&self, db: &Db) -> AppResult<Queues> {
        let mut current = self.current.lock().await;
        if let Some((at, queues)) = current.as_ref()
            && at.elapsed() < self.refresh
        {
            return Ok(queues.clone());
        }
        match load(db).await {
            Ok(queues) => {
                let queues = Arc::new(queues);
                *current = Some((Instant::now(), queues.clone()));
                Ok(queues)
            }
            // A failed reload keeps serving the last known queues.
            Err(e) => match current.as_ref() {
                Some((_, queues)) => {
                    tracing::warn!(error = %e, "queue descriptions could not be reloaded");
                    Ok(queues.clone())
                }
                None => Err(e),
            },
        }
    }
}

async fn load(db: &Db) -> AppResult<BTreeMap<String, QueueInfo>> {
    let mut out = BTreeMap::new();
    for (name, document) in db.queue_documents().await? {
        let data: Json = serde_json::from_str(&document).unwrap_or(Json::Null);
        let text = |k: &str| data.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        out.insert(
            name.clone(),
            QueueInfo {
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
                data,
            },
        );
    }
    Ok(out)
}
