//! The job tables a selection reads and how a job's error fields read: one decoding of the
//! error components for every page that shows errors.

use pandamon_model::{ErrorComponent, JobTable, error_category_name};
use pandamon_query::Selection;
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::{Cell, ErrorDescription, Group};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The type of a job column, from the catalogue.
pub fn job_column_type(column: &str) -> ColType {
    pandamon_store::Catalog::get()
        .table(JobTable::Active.name())
        .column(column)
        .map_or(ColType::Text, |c| c.ty)
}

/// Job columns with their catalogue types.
pub fn typed_job_columns<'a>(columns: &[&'a str]) -> Vec<(&'a str, ColType)> {
    columns.iter().map(|c| (*c, job_column_type(c))).collect()
}

/// The job tables a selection reads: the archive only when its window reaches back far enough.
pub fn job_tables(selection: &Selection) -> Vec<JobTable> {
    if selection.needs_archive() {
        JobTable::ALL.to_vec()
    } else {
        vec![JobTable::Defined, JobTable::Active, JobTable::Archived]
    }
}

/// An error category as bigmon writes it.
#[derive(Debug, Serialize, Clone, JsonSchema)]
pub struct Category {
    pub id: i64,
    pub name: String,
}

impl Category {
    pub fn of(id: i64) -> Category {
        Category {
            id,
            name: error_category_name(id).to_string(),
        }
    }
}

/// bigmon's `errsByCount` entry.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorCount {
    /// `component:code`, e.g. `pilot:1305` or `executor:65`.
    pub error: String,
    /// The job column that holds the code, e.g. `piloterrorcode`.
    pub codename: String,
    pub codeval: i64,
    /// The most frequent diagnostic text.
    pub diag: String,
    pub desc: String,
    pub cat: Category,
    pub count: i64,
    pub example_pandaid: i64,
    /// The code's short symbolic name from `error_descriptions.acronym` (pandamon's addition).
    pub acronym: String,
}

/// The columns grouped for the error summary: every code and diagnostic.
pub fn error_columns() -> &'static [(&'static str, ColType)] {
    static COLUMNS: std::sync::LazyLock<Vec<(&'static str, ColType)>> =
        std::sync::LazyLock::new(|| {
            let mut columns = Vec::new();
            for c in ErrorComponent::ALL {
                columns.push((c.code_column(), job_column_type(c.code_column())));
                if let Some(diag) = c.diag_column() {
                    columns.push((diag, job_column_type(diag)));
                }
            }
            columns
        });
    &COLUMNS
}

/// The errors of one job, or of a group of jobs, given a way to read a column: (component,
/// code, diagnostic) for every component with a positive code, skipping taskbuffer when the
/// supervisor reported (bigmon's rule).
pub fn decode_errors<'a>(
    value: impl Fn(&str) -> Option<&'a Cell>,
) -> Vec<(ErrorComponent, i64, String)> {
    decode(|c| (value(c.code_column()), c.diag_column().and_then(&value)))
}

/// [`decode_errors`] given each component's code and diagnostic cells.
fn decode<'a>(
    cells: impl Fn(ErrorComponent) -> (Option<&'a Cell>, Option<&'a Cell>),
) -> Vec<(ErrorComponent, i64, String)> {
    let sup_set = cells(ErrorComponent::Sup)
        .0
        .and_then(Cell::as_int)
        .is_some_and(|c| c != 0);
    ErrorComponent::ALL
        .into_iter()
        .filter(|c| !(*c == ErrorComponent::Taskbuffer && sup_set))
        .filter_map(|c| {
            let (code, diag) = cells(c);
            let code = match code? {
                Cell::Int(v) => *v,
                Cell::Text(s) => s.trim().parse::<i64>().unwrap_or(0),
                _ => 0,
            };
            if code <= 0 {
                return None;
            }
            let diag = diag.and_then(Cell::as_text).unwrap_or("").trim_end();
            Some((c, code, diag.to_string()))
        })
        .collect()
}

/// The errors of a group of jobs grouped by [`error_columns`] (its first values).
pub fn group_errors(group: &Group) -> Vec<(ErrorComponent, i64, String)> {
    // Where each component's code and diagnostic are among the error columns.
    type Positions = Vec<(ErrorComponent, Option<usize>, Option<usize>)>;
    static AT: std::sync::LazyLock<Positions> = std::sync::LazyLock::new(|| {
        let at = |name: &str| error_columns().iter().position(|(c, _)| *c == name);
        ErrorComponent::ALL
            .into_iter()
            .map(|c| (c, at(c.code_column()), c.diag_column().and_then(at)))
            .collect()
    });
    decode(|component| {
        let (code, diag) = AT
            .iter()
            .find(|(c, _, _)| *c == component)
            .map_or((None, None), |(_, code, diag)| (*code, *diag));
        let cell = |i: Option<usize>| i.and_then(|i| group.values.get(i));
        (cell(code), cell(diag))
    })
}

/// `/jobs/` listing the failed and holding jobs with one error (`component:code`, as in
/// `errsByCount`), keeping the selection of the page's `params` and adding `also`.
pub fn error_jobs_link(params: &[(String, String)], error: &str, also: &[(&str, &str)]) -> String {
    let (component, code) = error.split_once(':').unwrap_or((error, ""));
    let column = ErrorComponent::parse(component).map_or("piloterrorcode", |c| c.code_column());
    let mut set = vec![(column, code), ("jobstatus", "failed|holding")];
    set.extend_from_slice(also);
    crate::kit::links::jobs_with(params, &set)
}

/// Error descriptions by (component, code), the component by its bigmon name whichever name
/// the table uses (`exe` or `executor`, say).
pub fn describe(
    descriptions: &[ErrorDescription],
) -> HashMap<(&'static str, i64), &ErrorDescription> {
    descriptions
        .iter()
        .filter_map(|d| Some(((ErrorComponent::parse(&d.component)?.name(), d.code), d)))
        .collect()
}

/// Jobs, smallest pandaid and diagnostics seen for one `component:code`.
struct ErrorTally {
    count: i64,
    example: i64,
    diags: HashMap<String, i64>,
}

/// bigmon's `errsByCount`: one entry per `component:code` over the groups' jobs.
/// Columns after the error columns (an owner, say) are not read.
pub fn error_summary<'g>(
    groups: impl IntoIterator<Item = &'g Group>,
    descriptions: &[ErrorDescription],
) -> Vec<ErrorCount> {
    described_summary(groups, &describe(descriptions))
}

/// [`error_summary`] with the descriptions already by (component, code), for pages that
/// summarise many parts.
pub fn described_summary<'g>(
    groups: impl IntoIterator<Item = &'g Group>,
    described: &HashMap<(&'static str, i64), &ErrorDescription>,
) -> Vec<ErrorCount> {
    let mut counts: BTreeMap<(ErrorComponent, i64), ErrorTally> = BTreeMap::new();
    for group in groups {
        for (c, code, diag) in group_errors(group) {
            let entry = counts.entry((c, code)).or_insert(ErrorTally {
                count: 0,
                example: i64::MAX,
                diags: HashMap::new(),
            });
            entry.count += group.count;
            entry.example = entry.example.min(group.example);
            *entry.diags.entry(diag).or_default() += group.count;
        }
    }
    let mut list: Vec<ErrorCount> = counts
        .into_iter()
        .map(|((component, code), tally)| {
            let description = described.get(&(component.name(), code));
            let mut diags: Vec<(String, i64)> = tally.diags.into_iter().collect();
            diags.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let diag = diags
                .into_iter()
                .map(|(d, _)| d)
                .find(|d| !d.is_empty())
                .or_else(|| description.and_then(|d| d.diagnostics.clone()))
                .unwrap_or_default();
            ErrorCount {
                error: format!("{}:{code}", component.name()),
                codename: component.code_column().to_string(),
                acronym: description
                    .and_then(|d| d.acronym.clone())
                    .unwrap_or_default(),
                codeval: code,
                diag,
                desc: description
                    .and_then(|d| d.description.clone())
                    .unwrap_or_default(),
                cat: Category::of(description.map_or(0, |d| d.category)),
                count: tally.count,
                example_pandaid: tally.example,
            }
        })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.error.cmp(&b.error)));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taskbuffer_is_skipped_when_the_supervisor_reported() {
        let cells: HashMap<&str, Cell> = [
            ("superrorcode", Cell::Int(2)),
            ("taskbuffererrorcode", Cell::Int(100)),
            ("piloterrorcode", Cell::Int(1305)),
            ("piloterrordiag", Cell::Text("lost heartbeat  ".into())),
            ("exeerrorcode", Cell::Int(0)),
        ]
        .into_iter()
        .collect();
        let errors = decode_errors(|c| cells.get(c));
        let names: Vec<(&str, i64, &str)> = errors
            .iter()
            .map(|(c, code, d)| (c.name(), *code, d.as_str()))
            .collect();
        assert!(names.contains(&("pilot", 1305, "lost heartbeat")));
        assert!(
            names
                .iter()
                .any(|(c, code, _)| *c == "supervisor" && *code == 2)
        );
        assert!(!names.iter().any(|(c, _, _)| *c == "taskbuffer"));
    }
}
