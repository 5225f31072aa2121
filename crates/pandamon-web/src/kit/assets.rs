//! Static assets, all embedded in the binary: our stylesheet and script, and the pinned ECharts,
//! DataTables and Cytoscape (with its dagre layout) builds that `build.rs` takes from
//! `web/node_modules`.

use crate::kit::error::AppError;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

pub fn asset_bytes(name: &str) -> Option<(&'static [u8], &'static str)> {
    Some(match name {
        "pandamon.css" => (include_bytes!("../../static/pandamon.css"), CSS),
        "pandamon.js" => (include_bytes!("../../static/pandamon.js"), JS),
        "echarts.min.js" => (
            include_bytes!(concat!(env!("OUT_DIR"), "/echarts.min.js")),
            JS,
        ),
        "cytoscape.min.js" => (
            include_bytes!(concat!(env!("OUT_DIR"), "/cytoscape.min.js")),
            JS,
        ),
        "cytoscape-dagre.min.js" => (
            include_bytes!(concat!(env!("OUT_DIR"), "/cytoscape-dagre.min.js")),
            JS,
        ),
        "dataTables.min.js" => (
            include_bytes!(concat!(env!("OUT_DIR"), "/dataTables.min.js")),
            JS,
        ),
        "dataTables.dataTables.min.css" => (
            include_bytes!(concat!(env!("OUT_DIR"), "/dataTables.dataTables.min.css")),
            CSS,
        ),
        _ => return None,
    })
}

pub async fn find_asset(Path(name): Path<String>) -> Response {
    match asset_bytes(&name) {
        Some((body, content_type)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            body,
        )
            .into_response(),
        None => AppError::NotFound(format!("asset {name}")).into_response(),
    }
}
