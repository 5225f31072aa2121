//! How fresh the numbers are, on every page: the header of each HTML page carries a marker that
//! the layout layer replaces with the live index's data time and age (or says the database is read
//! directly), so no page can forget it.

use crate::kit::format::escape_html as escape;
use crate::kit::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use schemars::JsonSchema;
use serde::Serialize;

/// The marker `base.html` puts in every page's header.
pub const MARKER: &str = "<!--pandamon:freshness-->";

/// The header line for the current state of the index.
pub fn line(state: &AppState) -> String {
    let Some(live) = &state.index else {
        return r#"<span class="muted">read from the database</span>"#.to_string();
    };
    let s = live.status();
    if !s.loaded {
        return match &s.last_error {
            Some(e) => format!(
                r#"<span class="bad">live index not loaded: {}</span>"#,
                escape(e)
            ),
            None => r#"<span class="warn">live index loading</span>"#.to_string(),
        };
    }
    let data = s.data_time.as_deref().unwrap_or("no jobs");
    let age = s.age_seconds.unwrap_or(0);
    match &s.last_error {
        Some(e) => format!(
            r#"<span class="bad" title="{}">live index: data {data}, last synced {age} s ago, sync failing</span>"#,
            escape(e)
        ),
        None => format!(r#"<span>live index: data {data} &middot; synced {age} s ago</span>"#),
    }
}

/// `/api/freshness`: the live index's state, for pages that keep their header current without
/// a reload (`pandamon.js` asks every few seconds while the tab is visible).
#[derive(Debug, Serialize, JsonSchema)]
pub struct FreshnessJson {
    /// Whether a live index serves the pages (false: every page reads the database).
    pub index: bool,
    pub loaded: bool,
    /// The newest change the index has seen.
    pub data_time: Option<String>,
    /// Seconds since the index last synced.
    pub age_seconds: Option<i64>,
    pub error: Option<String>,
    /// The header line, as pages show it.
    pub line: String,
}

pub async fn current(State(state): State<AppState>) -> impl IntoResponse {
    let line = line(&state);
    let body = match &state.index {
        None => FreshnessJson {
            index: false,
            loaded: false,
            data_time: None,
            age_seconds: None,
            error: None,
            line,
        },
        Some(live) => {
            let s = live.status();
            FreshnessJson {
                index: true,
                loaded: s.loaded,
                data_time: s.data_time.clone(),
                age_seconds: s.age_seconds,
                error: s.last_error.clone(),
                line,
            }
        }
    };
    ([(header::CACHE_CONTROL, "no-store")], Json(body))
}
