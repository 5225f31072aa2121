//! The kit every module is built on: state, the module trait, errors and their pages, one way
//! to answer HTML or JSON through the answer cache, request parsing, formatting and links,
//! facets and charts, the job-source planner, and the platform routes (`/healthz`,
//! `/api/openapi.json`, `/static/`). Modules use the kit and never each other.

pub mod assets;
pub mod auth;
pub mod cache;
pub mod error;
pub mod events;
pub mod facets;
pub mod format;
pub mod freshness;
pub mod health;
pub mod joberrors;
pub mod layout;
pub mod limits;
pub mod links;
pub mod module;
pub mod oidc;
pub mod openapi;
pub mod plot;
pub mod profile;
pub mod reference;
pub mod respond;
pub mod selectionbar;
pub mod source;
pub mod state;
pub mod table;

use module::{Param, ParamType, Route, RouteDoc, schema};

/// Routes that are no module's: they exist whatever is enabled.
pub fn platform_routes() -> Vec<Route> {
    use axum::routing::get;
    vec![
        Route {
            path: "/healthz",
            handler: get(health::healthz),
            doc: RouteDoc {
                summary: "health: database reachability, schema version, live index, modules (503 when the database is down)",
                vocabulary: None,
                params: &[],
                response: schema::<health::HealthJson>,
                html: false,
            },
        },
        Route {
            path: "/api/freshness",
            handler: get(freshness::current),
            doc: RouteDoc {
                summary: "the live index's data time and sync age (what every page's header line says)",
                vocabulary: None,
                params: &[],
                response: schema::<freshness::FreshnessJson>,
                html: false,
            },
        },
        Route {
            path: "/api/openapi.json",
            handler: get(openapi::serve_document),
            doc: RouteDoc {
                summary: "this API document",
                vocabulary: None,
                params: &[],
                response: schema::<serde_json::Value>,
                html: false,
            },
        },
        Route {
            path: "/static/{name}",
            handler: get(assets::find_asset),
            doc: RouteDoc {
                summary: "embedded scripts and stylesheets",
                vocabulary: None,
                params: const { &[Param::path("name", ParamType::Text, "file name")] },
                response: schema::<String>,
                html: false,
            },
        },
    ]
}
