//! How fresh the numbers are, on every page: the header of each HTML page carries a marker that
//! this layer replaces with the live index's data time and age (or says the database is read
//! directly), so no page can forget it.

use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::Response;

/// The marker `base.html` puts in every page's header.
pub const MARKER: &str = "<!--pandamon:freshness-->";

/// Pages larger than this are passed through untouched (none are, today).
const MAX_PAGE: usize = 64 * 1024 * 1024;

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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Fills the marker of HTML responses.
pub async fn fill(State(state): State<AppState>, response: Response) -> Response {
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE).await else {
        // Unreachable for our own rendered pages; an empty body is the honest fallback.
        return Response::from_parts(parts, Body::empty());
    };
    let page = String::from_utf8_lossy(&bytes);
    if !page.contains(MARKER) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let filled = page.replacen(MARKER, &line(&state), 1);
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(filled))
}
