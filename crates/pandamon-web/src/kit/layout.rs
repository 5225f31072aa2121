//! The layer around every answer: HTML pages get the navigation of the enabled modules and the
//! freshness line; error answers become HTML pages for browsers (JSON stays JSON); every answer
//! carries the security headers. Addresses too long or holding a NUL byte are refused here,
//! before any handler or database sees them.

use crate::kit::error::{AppError, ErrorPage, with_status_of};
use crate::kit::format::{escape_html, wants_json};
use crate::kit::freshness;
use crate::kit::module::NavEntry;
use crate::kit::state::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The marker `base.html` puts where a notice about the page's module goes.
const NOTICE_MARKER: &str = "<!--pandamon:notice-->";
/// The marker `base.html` puts where the navigation goes.
pub const NAV_MARKER: &str = "<!--pandamon:nav-->";

/// Pages larger than this are passed through untouched (none are, today).
const MAX_PAGE: usize = 64 * 1024 * 1024;

/// The navigation entries of the enabled modules, in order.
pub fn nav_entries(state: &AppState) -> Vec<NavEntry> {
    let mut entries: Vec<NavEntry> = state.modules.iter().flat_map(|m| m.nav()).collect();
    entries.sort_by_key(|e| e.order);
    entries
}

fn nav_html(state: &AppState) -> String {
    nav_entries(state)
        .iter()
        .map(|e| {
            format!(
                r#"<a href="{}">{}</a>"#,
                escape_html(e.href),
                escape_html(e.label)
            )
        })
        .collect::<Vec<_>>()
        .join("\n    ")
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    title: &'a str,
    detail: &'a str,
    status: u16,
}

/// The longest address pandamon reads (bigmon's longest bookmarks are a few hundred bytes).
pub const MAX_ADDRESS_BYTES: usize = 8_192;

/// Why an address is refused before any handler sees it: too long, or a NUL byte (which no
/// PanDA value holds and PostgreSQL cannot take).
fn address_problem(uri: &axum::http::Uri) -> Option<String> {
    let address = uri.path_and_query().map_or("", |p| p.as_str());
    if address.len() > MAX_ADDRESS_BYTES {
        return Some(format!(
            "the address is {} bytes long, more than the limit of {MAX_ADDRESS_BYTES}: ask for fewer values at once",
            address.len()
        ));
    }
    address.contains("%00").then(|| {
        "the address holds a NUL byte (%00), which no PanDA value contains: remove it".to_string()
    })
}

/// The middleware: see the module documentation.
pub async fn layout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let json = wants_json(request.uri().query(), request.headers());
    let path = request.uri().path().to_string();
    let here = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let response = match address_problem(request.uri()) {
        Some(problem) => AppError::BadRequest(problem).into_response(),
        None => next.run(request).await,
    };
    let mut response = match response.extensions().get::<ErrorPage>().cloned() {
        Some(error) if !json => {
            let page = ErrorTemplate {
                title: error.title,
                detail: &error.detail,
                status: response.status().as_u16(),
            };
            match page.render() {
                Ok(html) => with_status_of(&response, html),
                Err(_) => response,
            }
        }
        _ => response,
    };
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        response = fill(&state, &path, &here, response).await;
    }
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    // Scripts and styles come from pandamon itself; charts set inline styles.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

/// The notice of a page whose module reads tables the database lacks (empty otherwise).
fn missing_tables_notice(state: &AppState, path: &str) -> String {
    let Ok(missing) = state.missing_tables.read() else {
        return String::new();
    };
    let Some(module) = missing.iter().find(|m| m.serves(path)) else {
        return String::new();
    };
    format!(
        "<p class=\"notice\" id=\"missing-tables\">The database lacks tables the {} pages read: {}. \
         What needs them is left out or answers an error; <code>pandamon schema check</code> lists \
         what is missing.</p>",
        module.module,
        module.tables.join(", ")
    )
}

/// Fills the navigation, freshness and notice markers of an HTML page.
async fn fill(state: &AppState, path: &str, here: &str, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE).await else {
        // Unreachable for our own rendered pages; an empty body is the honest fallback.
        return Response::from_parts(parts, Body::empty());
    };
    let page = String::from_utf8_lossy(&bytes);
    if !page.contains(freshness::MARKER) && !page.contains(NAV_MARKER) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let user = parts.extensions.get::<crate::kit::auth::CurrentUser>();
    let nav = nav_html(state) + &crate::kit::auth::nav_user(state, user, here);
    let filled = page
        .replacen(NAV_MARKER, &nav, 1)
        .replacen(freshness::MARKER, &freshness::line(state), 1)
        .replacen(NOTICE_MARKER, &missing_tables_notice(state, path), 1);
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(filled))
}
