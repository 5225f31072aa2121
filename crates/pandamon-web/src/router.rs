//! The URL space: the routes of every enabled module, the platform routes, the slash-less
//! redirects, the fallback and the layout layer.

use crate::kit::error::AppError;
use crate::kit::layout;
use crate::kit::state::AppState;
use axum::Router;
use axum::http::{Method, Uri};
use axum::response::Redirect;
use axum::routing::get;

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    let routes = state
        .modules
        .iter()
        .flat_map(|m| m.routes())
        .chain(crate::kit::platform_routes());
    for route in routes {
        if let Some(bare) = route.path.strip_suffix('/')
            && !bare.is_empty()
        {
            router = router.route(bare, get(add_slash));
        }
        router = router.route(route.path, route.handler.fallback(wrong_method));
    }
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::kit::auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::kit::limits::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            layout::layout,
        ))
        .with_state(state)
}

/// `/jobs?x=1` → `/jobs/?x=1`: bookmarks without the trailing slash keep working.
async fn add_slash(uri: Uri) -> Redirect {
    let target = match uri.query() {
        Some(q) => format!("{}/?{q}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    Redirect::permanent(&target)
}

async fn wrong_method(method: Method, uri: Uri) -> AppError {
    let hint = if method == Method::GET {
        ": it receives a form sent from a pandamon page"
    } else {
        ""
    };
    AppError::MethodNotAllowed(format!(
        "{} does not take {method} requests{hint}",
        uri.path()
    ))
}

async fn not_found(uri: Uri) -> AppError {
    AppError::NotFound(format!("page {}", uri.path()))
}
