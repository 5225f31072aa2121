//! How fresh the numbers are, on every page: the header of each HTML page carries a marker that
//! the layout layer replaces with the live index's data time and age (or says the database is read
//! directly), so no page can forget it.

use crate::kit::format::escape_html as escape;
use crate::kit::state::AppState;

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
