//! The architecture's invariants, checked over the source tree (in the manner of
//! rust-analyzer's tidy test). Each failure names the rule and the place.

use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source files of a crate (`src/` only: tests may build what they check against).
fn sources(krate: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&crates_dir().join(krate).join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// Lines of `text` that are code, not comments, with their numbers.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

fn violations(
    krates: &[&str],
    allowed: impl Fn(&Path) -> bool,
    bad: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for krate in krates {
        for (path, text) in sources(krate) {
            if allowed(&path) {
                continue;
            }
            for (n, line) in code_lines(&text) {
                if bad(line) {
                    out.push(format!("{}:{n}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    out
}

fn check(rule: &str, found: Vec<String>) {
    assert!(
        found.is_empty(),
        "rule broken: {rule}\n{}",
        found.join("\n")
    );
}

/// Crates outside the store and query crates that must hold no SQL.
const NO_SQL: &[&str] = &[
    "pandamon-web",
    "pandamon-live",
    "pandamon-model",
    "pandamon-sim",
    "pandamon",
];

fn has_sql(line: &str) -> bool {
    let upper = [
        "\"SELECT ",
        "SELECT {",
        " FROM {",
        "\"INSERT ",
        "\"UPDATE ",
        "\"DELETE ",
        " WHERE {",
        "GROUP BY",
        "ORDER BY ",
        "where_sql(",
        "order_sql(",
    ];
    upper.iter().any(|s| line.contains(s))
}

fn names_status_code(line: &str) -> bool {
    line.contains("StatusCode")
}

fn uses_pool(line: &str) -> bool {
    // `.pool` as a field, not inside a file name such as `EVNT.01.pool.root.1`.
    let pool_field = line
        .match_indices(".pool")
        .any(|(i, _)| !line[i + 5..].starts_with(".root"));
    pool_field
        || ["with_pool!", "sqlx::query", "Pool::"]
            .iter()
            .any(|s| line.contains(s))
}

/// Whether `line` reaches into module `other`.
fn imports_module(line: &str, other: &str) -> bool {
    [
        format!("crate::modules::{other}"),
        format!("super::super::{other}"),
        format!("modules::{other}::"),
    ]
    .iter()
    .any(|p| line.contains(p.as_str()))
}

#[test]
fn no_sql_outside_the_store_and_query_crates() {
    check(
        "SQL text lives only in pandamon-store and pandamon-query",
        violations(NO_SQL, |_| false, has_sql),
    );
}

#[test]
fn no_status_codes_outside_the_error_module() {
    check(
        "HTTP status codes appear only in pandamon-web/src/kit/error.rs",
        violations(
            &["pandamon-web"],
            |p| p.ends_with("kit/error.rs"),
            names_status_code,
        ),
    );
}

#[test]
fn no_database_pool_outside_the_store() {
    check(
        "only pandamon-store touches the database pool (with_pool!, .pool, sqlx::query)",
        violations(
            &[
                "pandamon-web",
                "pandamon-live",
                "pandamon-query",
                "pandamon-model",
                "pandamon-sim",
                "pandamon",
            ],
            |_| false,
            uses_pool,
        ),
    );
}

#[test]
fn no_module_imports_another_module() {
    let modules_dir = crates_dir().join("pandamon-web/src/modules");
    let names: Vec<String> = std::fs::read_dir(&modules_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 9, "modules found: {names:?}");
    let mut found = Vec::new();
    for (path, text) in sources("pandamon-web") {
        let Ok(rest) = path.strip_prefix(&modules_dir) else {
            continue;
        };
        let Some(own) = rest.iter().next().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if own == "mod.rs" {
            continue; // the registry names every module
        }
        for (n, line) in code_lines(&text) {
            if names
                .iter()
                .any(|other| *other != own && imports_module(line, other))
            {
                found.push(format!("{}:{n}: {}", path.display(), line.trim()));
            }
        }
    }
    check("a module uses the kit, never another module", found);
}

#[test]
fn the_kit_does_not_know_the_modules() {
    let kit = crates_dir().join("pandamon-web/src/kit");
    check(
        "the kit serves every module and names none (only the crate root holds the registry)",
        violations(
            &["pandamon-web"],
            |p| !p.starts_with(&kit),
            |l| l.contains("crate::modules"),
        ),
    );
}

#[test]
fn every_vocabulary_column_is_in_the_catalogue() {
    let catalog = pandamon_store::Catalog::get();
    let mut found = Vec::new();
    for module in pandamon_web::modules::REGISTRY {
        for vocabulary in module.vocabularies() {
            let table = match vocabulary.name {
                "jobs" => "jobsactive4",
                "tasks" => "jedi_tasks",
                "files" => "filestable4",
                "datasets" => "jedi_datasets",
                "contents" => "jedi_dataset_contents",
                "workers" => "harvester_workers",
                other => {
                    found.push(format!(
                        "vocabulary {other} of module {}: no table known",
                        module.name()
                    ));
                    continue;
                }
            };
            let t = catalog.table(table);
            let columns = vocabulary
                .fields
                .iter()
                .map(|f| f.column)
                .chain(vocabulary.ranges.iter().map(|(_, c)| *c))
                .chain(vocabulary.time_columns.iter().copied())
                .chain(vocabulary.sort_keys.iter().map(|(_, c)| *c))
                .chain(vocabulary.json_columns.iter().copied())
                .chain([vocabulary.window_column, vocabulary.id_column]);
            for column in columns {
                if t.column(column).is_none() {
                    found.push(format!(
                        "module {} vocabulary {}: column {column} not in table {table}",
                        module.name(),
                        vocabulary.name
                    ));
                }
            }
        }
    }
    check("every vocabulary column is a catalogue column", found);
}

/// The rules above must be able to fail: each detector finds a planted violation.
#[test]
fn the_detectors_find_what_they_look_for() {
    assert!(has_sql(r#"let sql = format!("SELECT {} FROM {}", a, b);"#));
    assert!(has_sql("let (w, p) = selection.where_sql(d, 1);"));
    assert!(!has_sql(
        "let rows = db.count_rows(&tables, selection).await?;"
    ));
    let lines: Vec<(usize, &str)> = code_lines("// SELECT {x}\nlet a = 1;").collect();
    assert_eq!(lines, [(2, "let a = 1;")]);
    assert!(names_status_code("(StatusCode::OK, body).into_response()"));
    assert!(!names_status_code("Err(AppError::NotFound(what))"));
    assert!(uses_pool(
        "with_pool!(db, pool => sqlx::query(q).execute(pool))"
    ));
    assert!(uses_pool("match &db.pool {"));
    assert!(!uses_pool("db.count_rows(&tables, selection)"));
    assert!(!uses_pool(
        "format!(\"{}.{:08}._{:06}.pool.root.1\", a, b, c)"
    ));
    assert!(imports_module("use crate::modules::jobs::FACETS;", "jobs"));
    assert!(imports_module(
        "super::super::tasks::collect_task(state)",
        "tasks"
    ));
    assert!(!imports_module("use crate::kit::facets::Tally;", "jobs"));
    // The checks run over real files: the walk finds this crate's sources.
    assert!(sources("pandamon-web").len() > 20);
}
