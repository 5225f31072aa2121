//! `GET /healthz`: database reachability, the PanDA schema version, the live index and what each
//! enabled module reports, for load balancers and probes. No database error text reaches it.
//! It answers within about a second: a database known to be down is reported at once, and the
//! checks of a reachable one are cut off at [`HEALTH_LIMIT`]. [`watch_database`] is the
//! server's prober that keeps that knowledge current.

use crate::kit::error::health_response;
use crate::kit::format::format_time;
use crate::kit::state::AppState;
use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use pandamon_store::{ErrorKind, schema};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::time::Duration;

/// How long `/healthz` and each prober check may take.
pub const HEALTH_LIMIT: Duration = Duration::from_millis(900);

/// Checks the database every second while the server runs, so that pages know it is down
/// without each waiting for a connection timeout, and know at once when it is back.
pub async fn watch_database(state: AppState) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // The outcome is recorded in the database's health; the failure was logged there.
        let _ = state.db.probe(HEALTH_LIMIT).await;
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthJson {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    pub database: HealthDatabase,
    pub data_time: Option<String>,
    pub lag_seconds: Option<i64>,
    /// The live index's state, when there is one.
    #[schemars(with = "Option<Json>")]
    pub index: Option<pandamon_live::sync::SyncStatus>,
    /// Where pandamon's own tables are, when the state store is open.
    #[schemars(with = "Option<Json>")]
    pub state: Option<pandamon_store::StateLocation>,
    /// What each enabled module reports, by name.
    pub modules: Map<String, Json>,
    /// The answer cache: what it holds, its bound, the answers being computed.
    pub cache: crate::kit::cache::CacheReport,
    pub version: &'static str,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthDatabase {
    pub reachable: bool,
    pub dialect: &'static str,
    pub schema_version: Option<String>,
    /// Why it is not reachable, in general terms (the cause is in the server's log).
    pub error: Option<&'static str>,
}

/// The answer: 200 when the database answers, 503 otherwise; always JSON.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let db = &state.db;
    let probe = async {
        db.probe(HEALTH_LIMIT).await?;
        let version = schema::panda_schema_version(db).await?;
        let data_time = db.data_time().await.ok().flatten();
        Ok::<_, pandamon_store::StoreError>((version, data_time))
    };
    let outcome = match tokio::time::timeout(HEALTH_LIMIT, probe).await {
        Ok(outcome) => outcome,
        Err(_) => Err(pandamon_store::StoreError::NoAnswer(HEALTH_LIMIT)),
    };
    let modules_report = async {
        let mut modules = Map::new();
        for m in state.modules.iter() {
            let missing = state.missing_tables_of(m.name());
            let report = match (m.health(&state).await, missing.is_empty()) {
                (report, true) => report,
                (Some(Json::Object(mut report)), false) => {
                    report.insert("missing_tables".into(), Json::from(missing));
                    Some(Json::Object(report))
                }
                (_, false) => Some(serde_json::json!({ "missing_tables": missing })),
            };
            if let Some(report) = report {
                modules.insert(m.name().to_string(), report);
            }
        }
        modules
    };
    // A module whose report needs a database that does not answer is left out.
    let modules = tokio::time::timeout(HEALTH_LIMIT, modules_report)
        .await
        .unwrap_or_default();
    let (healthy, schema_version, data_time, error) = match outcome {
        Ok((version, data_time)) => (true, version, data_time, None),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            let why = match e.kind() {
                ErrorKind::Unavailable => "the database does not answer",
                ErrorKind::State => "the database is not in a state pandamon can read",
                ErrorKind::TooSlow => "the health query took longer than the statement timeout",
                ErrorKind::Invalid | ErrorKind::Internal => "the health query failed",
            };
            (false, None, None, Some(why))
        }
    };
    let body = HealthJson {
        status: if healthy { "ok" } else { "unavailable" },
        database: HealthDatabase {
            reachable: healthy,
            dialect: db.dialect().name(),
            schema_version,
            error,
        },
        data_time: data_time.map(format_time),
        lag_seconds: data_time.map(|t| (Utc::now().naive_utc() - t).num_seconds()),
        index: state.index.as_ref().map(|i| i.status()),
        state: state.state.as_ref().map(|s| s.location().clone()),
        modules,
        cache: state.answers.report(),
        version: env!("CARGO_PKG_VERSION"),
    };
    health_response(healthy, body)
}
