//! Reading a request the way every page does: the URL's selection, and whether JSON was asked for.

use crate::error::{AppError, AppResult};
use crate::status::wants_json;
use axum::http::HeaderMap;
use chrono::Utc;
use pandamon_query::fields::Vocabulary;
use pandamon_query::{Defaults, Selection};

/// Parses the URL's parameters, plus `extra` ones a page adds, into a selection over `vocabulary`
/// with a default window of `window_hours`. A bad value is a 400 naming the parameter.
pub fn parse_selection(
    params: &[(String, String)],
    extra: &[(&str, String)],
    vocabulary: &'static Vocabulary,
    window_hours: i64,
) -> AppResult<Selection> {
    let pairs = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().map(|(k, v)| (*k, v.as_str())));
    Selection::parse(
        pairs,
        Defaults {
            window_hours,
            now: Utc::now().timestamp(),
            vocabulary,
        },
    )
    .map_err(|e| AppError::BadRequest(e.to_string()))
}

/// bigmon's convention: `?json` (any value) or an `Accept: application/json` header.
pub fn json_requested(params: &[(String, String)], headers: &HeaderMap) -> bool {
    params.iter().any(|(k, _)| k == "json") || wants_json(None, headers)
}

/// The columns a list selects: the `fields=` projection plus the id and the sort column (the
/// database sorts on them), or the page's defaults.
pub fn list_columns<'a>(selection: &'a Selection, defaults: &[&'a str]) -> Vec<&'a str> {
    match &selection.fields {
        Some(fields) => {
            let mut columns: Vec<&str> = fields.iter().map(String::as_str).collect();
            for needed in [selection.id_column, selection.sort.column] {
                if !columns.contains(&needed) {
                    columns.push(needed);
                }
            }
            columns
        }
        None => defaults.to_vec(),
    }
}

/// Rows as JSON objects, keeping only the columns `fields=` asked for.
pub fn project_rows(
    selection: &Selection,
    columns: &[&str],
    rows: Vec<Vec<pandamon_store::jobs::Cell>>,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let wanted = |c: &str| {
        selection
            .fields
            .as_ref()
            .is_none_or(|f| f.iter().any(|x| x == c))
    };
    rows.into_iter()
        .map(|cells| {
            columns
                .iter()
                .zip(&cells)
                .filter(|(c, _)| wanted(c))
                .map(|(c, cell)| (c.to_string(), crate::jobs::cell_json(cell)))
                .collect()
        })
        .collect()
}
