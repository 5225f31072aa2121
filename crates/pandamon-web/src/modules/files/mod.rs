//! The files module: `/files/` and `/file/` over `filestable4` (every job attempt's files) and
//! `jedi_dataset_contents`; `/datasets/` and `/dataset/` over `jedi_datasets`.

use crate::kit::error::{AppError, AppResult};
use crate::kit::facets::{ListPage, Section, list_table};
use crate::kit::format::{cell_json, cell_text, human_count};
use crate::kit::links::{page_links, url};
use crate::kit::module::{Module, NavEntry, Param, ParamType, Route, RouteDoc, schema};
use crate::kit::respond::{PageRequest, parse_selection};
use crate::kit::state::AppState;
use askama::Template;
use axum::response::Response;
use axum::routing::get;
use pandamon_query::Selection;
use pandamon_query::fields::{self, CONTENT_COLUMNS, CONTENTS, Vocabulary};
use pandamon_store::catalog::ColType;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};

pub struct Files;

const NEEDS_FILES: &[&str] = &[
    "lfn",
    "dataset",
    "pandaid",
    "jeditaskid",
    "datasetid",
    "fileid",
    "guid",
];
const NEEDS_FILE: &[&str] = &["lfn", "jeditaskid", "fileid"];
const NEEDS_DATASETS: &[&str] = &["datasetname", "containername", "jeditaskid", "datasetid"];
const NEEDS_DATASET: &[&str] = &["datasetname", "jeditaskid", "datasetid"];

impl Module for Files {
    fn name(&self) -> &'static str {
        "files"
    }
    fn description(&self) -> &'static str {
        "files of jobs and of JEDI datasets, datasets and their contents"
    }
    fn tables(&self) -> &'static [&'static str] {
        &[
            "filestable4",
            "filestable_arch",
            "jedi_dataset_contents",
            "jedi_datasets",
        ]
    }
    fn routes(&self) -> Vec<Route> {
        vec![
            Route {
                path: "/files/",
                handler: get(list_files),
                doc: RouteDoc {
                    summary: "job files (filestable4) matching the selection; one of lfn, dataset, pandaid, jeditaskid, datasetid, fileid or guid is needed",
                    vocabulary: Some(&fields::FILES),
                    params: &[],
                    response: schema::<ListJson>,
                    html: true,
                },
            },
            Route {
                path: "/file/",
                handler: get(find_file),
                doc: RouteDoc {
                    summary: "one file: every job attempt that read or wrote it, and its JEDI records",
                    vocabulary: Some(&fields::FILES),
                    params: const {
                        &[Param::query(
                            "lfn",
                            ParamType::Text,
                            "the logical file name",
                        )]
                    },
                    response: schema::<FileJson>,
                    html: true,
                },
            },
            Route {
                path: "/datasets/",
                handler: get(list_datasets),
                doc: RouteDoc {
                    summary: "JEDI datasets matching the selection; one of datasetname, containername, jeditaskid or datasetid is needed",
                    vocabulary: Some(&fields::DATASETS),
                    params: &[],
                    response: schema::<ListJson>,
                    html: true,
                },
            },
            Route {
                path: "/dataset/",
                handler: get(find_dataset),
                doc: RouteDoc {
                    summary: "one dataset, its files by status and one page of its files",
                    vocabulary: Some(&fields::DATASETS),
                    params: &[],
                    response: schema::<DatasetJson>,
                    html: true,
                },
            },
        ]
    }
    fn nav(&self) -> Vec<NavEntry> {
        vec![NavEntry {
            label: "files",
            href: "/files/",
            order: 700,
        }]
    }
    fn vocabularies(&self) -> Vec<&'static Vocabulary> {
        vec![&fields::FILES, &fields::DATASETS, &fields::CONTENTS]
    }
}

/// The selection, or `None` when it names nothing to look for: JSON clients get a 400 naming
/// the parameters, browsers a form asking for them.
fn parse(
    request: &PageRequest,
    vocabulary: &'static Vocabulary,
    needs: &[&str],
) -> AppResult<Option<Selection>> {
    // The form sends every field, the ones left empty too: those name nothing.
    let given: Vec<(String, String)> = request
        .params
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .cloned()
        .collect();
    let selection = parse_selection(&given, &[], vocabulary, 24)?;
    if selection.is_narrowed() {
        return Ok(Some(selection));
    }
    if request.json {
        return Err(AppError::BadRequest(format!(
            "name what to look for: give {}",
            needs.join(", ")
        )));
    }
    Ok(None)
}

/// One page of rows, with the total over the whole selection.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListJson {
    pub total: i64,
    pub page: u64,
    pub pages: u64,
    pub rows: Vec<Map<String, Json>>,
    pub notes: Vec<String>,
}

impl ListJson {
    /// Nothing found.
    fn empty() -> ListJson {
        ListJson {
            total: 0,
            page: 1,
            pages: 1,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// `/file/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileJson {
    /// Job attempts that read or wrote the file (one page).
    pub files: Vec<Map<String, Json>>,
    /// Its JEDI records.
    pub contents: Vec<Map<String, Json>>,
    /// Job attempts in all.
    pub total: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusCount {
    pub status: Json,
    pub count: i64,
}

/// `/dataset/?json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatasetJson {
    pub dataset: Map<String, Json>,
    pub filesbystatus: Vec<StatusCount>,
    /// One page of the dataset's files.
    pub files: Vec<Map<String, Json>>,
    /// Files in the dataset.
    pub total: i64,
    pub page: u64,
    pub pages: u64,
}

fn objects(columns: &[&str], rows: Vec<Vec<pandamon_store::jobs::Cell>>) -> Vec<Map<String, Json>> {
    rows.iter()
        .map(|cells| {
            columns
                .iter()
                .zip(cells)
                .map(|(c, v)| (c.to_string(), cell_json(v)))
                .collect()
        })
        .collect()
}

/// One page of `table` rows for a selection.
async fn list(
    state: &AppState,
    tables: &[&str],
    columns: &[&str],
    selection: &Selection,
) -> AppResult<ListJson> {
    let db = &state.db;
    let total = db.count_rows(tables, selection).await?;
    let size = selection.display_limit;
    let offset = (selection.page - 1) * size;
    let rows = db
        .page_rows(tables, columns, selection, size, offset)
        .await?;
    Ok(ListJson {
        total,
        page: selection.page,
        pages: (total as u64).div_ceil(size.max(1)),
        rows: objects(columns, rows),
        notes: selection.notes.clone(),
    })
}

fn link(column: &str, value: &str, row: &Map<String, Json>) -> Option<String> {
    Some(match column {
        "pandaid" => format!("/job/{value}/"),
        "jeditaskid" => format!("/task/{value}/"),
        "lfn" => url("/file/", &[("lfn", value)]),
        "datasetname" => url("/dataset/", &[("datasetname", value)]),
        "dataset" => url(
            "/datasets/",
            &[(
                "datasetname",
                &format!("*{}", value.split(':').next_back().unwrap_or(value)),
            )],
        ),
        "datasetid" => match row.get("jeditaskid").map(cell_text) {
            Some(task) if !task.is_empty() => {
                url("/dataset/", &[("jeditaskid", &task), ("datasetid", value)])
            }
            _ => return None,
        },
        _ => return None,
    })
}

/// A table of a list page; `params` are the URL's, for its pager (`None`: a table without one).
fn section(title: &str, params: Option<&[(String, String)]>, list: &ListJson) -> Section {
    let table = list_table(&list.rows, link);
    let (prev, next) = params.map_or((None, None), |p| page_links(p, list.page, list.pages));
    Section {
        title: title.to_string(),
        total: human_count(list.total),
        page: list.page,
        pages: list.pages,
        columns: table.columns.iter().map(|c| c.to_string()).collect(),
        rows: table.rows,
        prev,
        next,
    }
}

fn render(
    title: &str,
    notes: Vec<String>,
    form: &[&'static str],
    sections: Vec<Section>,
) -> AppResult<String> {
    Ok(ListPage {
        title: title.to_string(),
        notes,
        form: form.to_vec(),
        sections,
    }
    .render()?)
}

/// The form page a browser gets when the URL names nothing to look for.
fn ask(
    request: &PageRequest,
    title: &'static str,
    needs: &'static [&'static str],
) -> AppResult<Response> {
    request.answer_now(&ListJson::empty(), || {
        render(title, Vec::new(), needs, Vec::new())
    })
}

/// What a list page lists: its title, the parameters that name something, the table.
struct Listing {
    title: &'static str,
    vocabulary: &'static Vocabulary,
    needs: &'static [&'static str],
    tables: &'static [&'static str],
    columns: &'static [&'static str],
}

/// Job files: those of jobs still in the job tables, then those of the long-term archive.
const FILE_TABLES: &[&str] = &["filestable4", "filestable_arch"];

const FILES: Listing = Listing {
    title: "Files",
    vocabulary: &fields::FILES,
    needs: NEEDS_FILES,
    tables: FILE_TABLES,
    columns: fields::FILE_COLUMNS,
};

const DATASETS: Listing = Listing {
    title: "Datasets",
    vocabulary: &fields::DATASETS,
    needs: NEEDS_DATASETS,
    tables: &["jedi_datasets"],
    columns: fields::DATASET_COLUMNS,
};

/// One page of a listing for the URL's selection (or the form asking for one).
async fn list_page(request: PageRequest, listing: &Listing) -> AppResult<Response> {
    let Some(selection) = parse(&request, listing.vocabulary, listing.needs)? else {
        return ask(&request, listing.title, listing.needs);
    };
    request
        .answer(None, || async {
            let data = list(&request.state, listing.tables, listing.columns, &selection).await?;
            request.reply(&data, false, || {
                let table = section(listing.title, Some(&request.params), &data);
                render(listing.title, data.notes.clone(), &[], vec![table])
            })
        })
        .await
}

async fn list_files(request: PageRequest) -> AppResult<Response> {
    list_page(request, &FILES).await
}

async fn list_datasets(request: PageRequest) -> AppResult<Response> {
    list_page(request, &DATASETS).await
}

/// `/file/?lfn=…` (optionally `&jeditaskid=`): every job attempt that read or wrote the file,
/// and its JEDI records.
async fn find_file(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let Some(selection) = parse(&request, &fields::FILES, NEEDS_FILE)? else {
        return ask(&request, "File", NEEDS_FILE);
    };
    request
        .answer(None, || async {
            let attempts = list(state, FILE_TABLES, fields::FILE_COLUMNS, &selection).await?;
            // The JEDI view of the same file: contents rows with the same name (and task).
            let contents_params: Vec<(String, String)> = request
                .params
                .iter()
                .filter(|(k, _)| {
                    matches!(k.as_str(), "lfn" | "jeditaskid" | "fileid" | "datasetid")
                })
                .cloned()
                .collect();
            let contents = if contents_params.is_empty() {
                ListJson::empty()
            } else {
                let sel = parse_selection(&contents_params, &[], &CONTENTS, 24)?;
                list(state, &["jedi_dataset_contents"], CONTENT_COLUMNS, &sel).await?
            };
            if attempts.total == 0 && contents.total == 0 {
                return Err(AppError::NotFound("file".into()));
            }
            let html = || {
                render(
                    "File",
                    attempts.notes.clone(),
                    &[],
                    vec![
                        section(
                            "Job attempts that read or wrote the file",
                            Some(&request.params),
                            &attempts,
                        ),
                        section("JEDI records of the file", None, &contents),
                    ],
                )
            };
            let data = FileJson {
                files: attempts.rows.clone(),
                contents: contents.rows.clone(),
                total: attempts.total,
            };
            request.reply(&data, false, html)
        })
        .await
}

/// `/dataset/?datasetname=…` or `?jeditaskid=&datasetid=`: the dataset, its files by status and
/// one page of its files.
async fn find_dataset(request: PageRequest) -> AppResult<Response> {
    let state = &request.state;
    let Some(selection) = parse(&request, &fields::DATASETS, NEEDS_DATASET)? else {
        return ask(&request, "Dataset", NEEDS_DATASET);
    };
    request
        .answer(None, || async {
            let db = &state.db;
            let datasets = list(
                state,
                &["jedi_datasets"],
                fields::DATASET_COLUMNS,
                &selection,
            )
            .await?;
            let Some(first) = datasets.rows.into_iter().next() else {
                return Err(AppError::NotFound("dataset".into()));
            };
            let key = |k: &str| first.get(k).map(cell_text).unwrap_or_default();
            let (task, id, name) = (key("jeditaskid"), key("datasetid"), key("datasetname"));
            // The page's own paging applies to the dataset's files.
            let mut file_params: Vec<(String, String)> = request
                .params
                .iter()
                .filter(|(k, _)| matches!(k.as_str(), "page" | "display_limit" | "sortby"))
                .cloned()
                .collect();
            file_params.push(("jeditaskid".into(), task.clone()));
            file_params.push(("datasetid".into(), id));
            let sel = parse_selection(&file_params, &[], &CONTENTS, 24)?;
            let groups = db
                .group_rows(
                    &["jedi_dataset_contents"],
                    &[("status", ColType::Varchar(64))],
                    &sel,
                    "fileid",
                )
                .await?;
            let filesbystatus: Vec<StatusCount> = groups
                .iter()
                .map(|g| StatusCount {
                    status: g.values.first().map_or(Json::Null, cell_json),
                    count: g.count,
                })
                .collect();
            let total: i64 = filesbystatus.iter().map(|s| s.count).sum();
            let size = sel.display_limit;
            let rows = db
                .page_rows(
                    &["jedi_dataset_contents"],
                    CONTENT_COLUMNS,
                    &sel,
                    size,
                    (sel.page - 1) * size,
                )
                .await?;
            let data = DatasetJson {
                dataset: first,
                filesbystatus,
                files: objects(CONTENT_COLUMNS, rows),
                total,
                page: sel.page,
                pages: (total as u64).div_ceil(size.max(1)),
            };
            let html = || {
                let files = ListJson {
                    total: data.total,
                    page: data.page,
                    pages: data.pages,
                    rows: data.files.clone(),
                    notes: Vec::new(),
                };
                let note = format!(
                    "dataset {name} of task {task}: {}",
                    data.filesbystatus
                        .iter()
                        .map(|s| format!("{} {}", cell_text(&s.status), human_count(s.count)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                render(
                    "Dataset files",
                    vec![note],
                    &[],
                    vec![section("Files", Some(&request.params), &files)],
                )
            };
            request.reply(&data, false, html)
        })
        .await
}
