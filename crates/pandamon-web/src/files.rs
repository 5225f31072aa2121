//! Files and datasets: `/files/` and `/file/` over `filestable4` (every job attempt's files) and
//! `jedi_dataset_contents`; `/datasets/` and `/dataset/` over `jedi_datasets`.

use crate::error::{AppError, AppResult};
use crate::jobs::{cell_json, cell_text};
use crate::state::AppState;
use crate::status::human_count;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use pandamon_query::fields::{self, Vocabulary};
use pandamon_query::{Selection, SqlDialect};
use pandamon_store::catalog::ColType;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

fn parse(
    params: &[(String, String)],
    vocabulary: &'static Vocabulary,
    needs: &str,
) -> AppResult<Selection> {
    let selection = crate::request::parse_selection(params, &[], vocabulary, 24)?;
    if !selection.is_narrowed() {
        return Err(AppError::BadRequest(format!(
            "name what to look for: give {needs}"
        )));
    }
    Ok(selection)
}

#[derive(Debug, Serialize)]
pub struct ListJson {
    pub total: i64,
    pub page: u64,
    pub pages: u64,
    pub rows: Vec<Map<String, Json>>,
    pub notes: Vec<String>,
}

/// One page of `table` rows for a selection.
async fn list(
    state: &AppState,
    table: &str,
    columns: &[&str],
    selection: &Selection,
) -> AppResult<ListJson> {
    let db = &state.db;
    let dialect = SqlDialect::from(db.dialect());
    let clause = |first: usize| selection.where_sql(dialect, first);
    let total = db.count_rows(&[table], &clause).await?;
    let size = selection.display_limit;
    let offset = (selection.page - 1) * size;
    let rows = db
        .page_rows(
            &[table],
            columns,
            &clause,
            &selection.order_sql(dialect),
            size,
            offset,
        )
        .await?;
    Ok(ListJson {
        total,
        page: selection.page,
        pages: (total as u64).div_ceil(size.max(1)),
        rows: rows
            .iter()
            .map(|cells| {
                columns
                    .iter()
                    .zip(cells)
                    .map(|(c, v)| (c.to_string(), cell_json(v)))
                    .collect()
            })
            .collect(),
        notes: selection.notes.clone(),
    })
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    title: String,
    total: String,
    columns: Vec<String>,
    rows: Vec<Vec<(String, Option<String>)>>,
    notes: Vec<String>,
}

fn link(column: &str, value: &str, row: &Map<String, Json>) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    Some(match column {
        "pandaid" => format!("/job/{value}/"),
        "jeditaskid" => format!("/task/{value}/"),
        "lfn" => format!("/file/?lfn={value}"),
        "datasetname" => format!("/dataset/?datasetname={value}"),
        "dataset" => format!(
            "/datasets/?datasetname=*{}",
            value.split(':').next_back().unwrap_or(value)
        ),
        "datasetid" => match row.get("jeditaskid").map(cell_text) {
            Some(task) if !task.is_empty() => {
                format!("/dataset/?jeditaskid={task}&datasetid={value}")
            }
            _ => return None,
        },
        _ => return None,
    })
}

fn render_list(title: &str, data: &ListJson) -> AppResult<Response> {
    let columns: Vec<String> = data
        .rows
        .first()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    let rows = data
        .rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    let text = cell_text(&r[c.as_str()]);
                    let href = link(c, &text, r);
                    (text, href)
                })
                .collect()
        })
        .collect();
    let page = ListPage {
        title: title.to_string(),
        total: human_count(data.total),
        columns,
        rows,
        notes: data.notes.clone(),
    };
    Ok(Html(page.render()?).into_response())
}

pub async fn list_files(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(
        &params,
        &fields::FILES,
        "lfn, dataset, pandaid, jeditaskid, datasetid, fileid or guid",
    )?;
    let data = list(&state, "filestable4", fields::FILE_COLUMNS, &selection).await?;
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(data).into_response());
    }
    render_list("Files", &data)
}

pub async fn list_datasets(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(
        &params,
        &fields::DATASETS,
        "datasetname, containername, jeditaskid or datasetid",
    )?;
    let data = list(&state, "jedi_datasets", fields::DATASET_COLUMNS, &selection).await?;
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(data).into_response());
    }
    render_list("Datasets", &data)
}

use fields::{CONTENT_COLUMNS, CONTENTS};

/// A page of JEDI file records for a selection, as JSON objects.
async fn content_rows(
    state: &AppState,
    selection: &Selection,
    limit: u64,
    offset: u64,
) -> AppResult<Vec<Map<String, Json>>> {
    let dialect = SqlDialect::from(state.db.dialect());
    let clause = |first: usize| selection.where_sql(dialect, first);
    let rows = state
        .db
        .page_rows(
            &["jedi_dataset_contents"],
            CONTENT_COLUMNS,
            &clause,
            &selection.order_sql(dialect),
            limit,
            offset,
        )
        .await?;
    Ok(rows
        .iter()
        .map(|cells| {
            CONTENT_COLUMNS
                .iter()
                .zip(cells)
                .map(|(c, v)| (c.to_string(), cell_json(v)))
                .collect()
        })
        .collect())
}

/// `/file/?lfn=…` (optionally `&jeditaskid=`): every job attempt that read or wrote the file,
/// and its JEDI record.
pub async fn find_file(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(
        &params,
        &fields::FILES,
        "lfn (and optionally jeditaskid), or fileid",
    )?;
    let attempts = list(&state, "filestable4", fields::FILE_COLUMNS, &selection).await?;
    // The JEDI view of the same file: contents rows with the same name (and task).
    let contents_params: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "lfn" | "jeditaskid" | "fileid" | "datasetid"))
        .cloned()
        .collect();
    let contents = if contents_params.is_empty() {
        Vec::new()
    } else {
        let sel = crate::request::parse_selection(&contents_params, &[], &CONTENTS, 24)?;
        content_rows(&state, &sel, 100, 0).await?
    };
    if attempts.total == 0 && contents.is_empty() {
        return Err(AppError::NotFound("file".into()));
    }
    let body = json!({ "files": attempts.rows, "contents": contents, "total": attempts.total });
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(body).into_response());
    }
    render_list("File", &attempts)
}

/// `/dataset/?datasetname=…` or `?jeditaskid=&datasetid=`: the dataset and its files by status.
pub async fn find_dataset(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let selection = parse(
        &params,
        &fields::DATASETS,
        "datasetname, or jeditaskid and datasetid",
    )?;
    let db = &state.db;
    let dialect = SqlDialect::from(db.dialect());
    let datasets = list(&state, "jedi_datasets", fields::DATASET_COLUMNS, &selection).await?;
    let Some(first) = datasets.rows.first() else {
        return Err(AppError::NotFound("dataset".into()));
    };
    let task = first["jeditaskid"].to_string();
    let id = first["datasetid"].to_string();
    let sel = crate::request::parse_selection(
        &[],
        &[("jeditaskid", task.clone()), ("datasetid", id)],
        &CONTENTS,
        24,
    )?;
    let clause = |first: usize| sel.where_sql(dialect, first);
    let groups = db
        .group_rows(
            &["jedi_dataset_contents"],
            &[("status", ColType::Varchar(64))],
            &clause,
            "fileid",
        )
        .await?;
    let by_status: Vec<Json> = groups
        .iter()
        .map(|g| json!({"status": cell_json(&g.values[0]), "count": g.count}))
        .collect();
    let files = content_rows(
        &state,
        &sel,
        sel.display_limit,
        (sel.page - 1) * sel.display_limit,
    )
    .await?;
    if crate::request::json_requested(&params, &headers) {
        return Ok(axum::Json(
            json!({ "dataset": first, "filesbystatus": by_status, "files": files }),
        )
        .into_response());
    }
    let data = ListJson {
        total: files.len() as i64,
        page: 1,
        pages: 1,
        rows: files,
        notes: vec![format!(
            "dataset {} of task {task}: {}",
            cell_text(&first["datasetname"]),
            by_status
                .iter()
                .map(|s| format!("{} {}", cell_text(&s["status"]), s["count"]))
                .collect::<Vec<_>>()
                .join(", ")
        )],
    };
    render_list("Dataset files", &data)
}
