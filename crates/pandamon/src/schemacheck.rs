//! `pandamon schema check`: the catalogue's tables and columns as a database holds them, and
//! the pages each gap affects. Reads the database's dictionary only; never writes.

use pandamon_model::JobTable;
use pandamon_store::Db;
use pandamon_store::check::{TableCheck, check_schema};
use serde::Serialize;

/// The report: every table, and per module the tables it reads that are missing or incomplete.
#[derive(Debug, Serialize)]
pub struct Report {
    pub database: String,
    pub tables: Vec<TableCheck>,
    pub affected: Vec<Affected>,
    /// Whether `serve` can start: every job table is present.
    pub serve_can_start: bool,
}

#[derive(Debug, Serialize)]
pub struct Affected {
    pub module: &'static str,
    pub tables: Vec<String>,
    pub pages: Vec<&'static str>,
}

pub async fn run(db: &Db) -> anyhow::Result<Report> {
    let tables = check_schema(db).await?;
    let find = |name: &str| tables.iter().find(|t| t.table == name);
    let job_tables: Vec<&str> = JobTable::ALL.iter().map(|t| t.name()).collect();
    let serve_can_start = job_tables
        .iter()
        .all(|name| find(name).is_some_and(|t| t.present));
    let affected = pandamon_web::modules::all()
        .into_iter()
        .filter_map(|m| {
            let lacking: Vec<String> = m
                .tables()
                .iter()
                .chain(job_tables.iter())
                .filter(|name| find(name).is_some_and(|t| !t.complete()))
                .map(|name| name.to_string())
                .collect();
            (!lacking.is_empty()).then(|| Affected {
                module: m.name(),
                tables: lacking,
                pages: m.routes().iter().map(|r| r.path).collect(),
            })
        })
        .collect();
    Ok(Report {
        database: db.display_url.clone(),
        tables,
        affected,
        serve_can_start,
    })
}

/// The report as text for a terminal.
pub fn print(report: &Report) {
    println!("schema check of {}", report.database);
    let width = report
        .tables
        .iter()
        .map(|t| t.location.len())
        .max()
        .unwrap_or(10);
    for t in &report.tables {
        let state = if !t.present {
            "missing".to_string()
        } else if t.complete() {
            "present".to_string()
        } else {
            let mut parts = Vec::new();
            if !t.missing_columns.is_empty() {
                parts.push(format!("lacks columns {}", t.missing_columns.join(", ")));
            }
            for c in &t.other_type {
                parts.push(format!(
                    "{} is {} (pandamon reads {})",
                    c.column, c.found, c.expected
                ));
            }
            format!("incomplete: {}", parts.join("; "))
        };
        println!("  {:width$}  {state}", t.location);
    }
    let (present, total) = (
        report.tables.iter().filter(|t| t.complete()).count(),
        report.tables.len(),
    );
    println!("{present} of {total} tables complete");
    if report.affected.is_empty() {
        println!("every module's pages have the tables they read");
    }
    for a in &report.affected {
        println!(
            "module {}: {} missing or incomplete; affects {}",
            a.module,
            a.tables.join(", "),
            a.pages.join(" ")
        );
    }
    if !report.serve_can_start {
        println!(
            "serve cannot start: it needs the job tables {}",
            JobTable::ALL.map(|t| t.name()).join(", ")
        );
    }
}
