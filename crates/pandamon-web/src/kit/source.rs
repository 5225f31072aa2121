//! Where job summaries come from: the live index when it holds the whole selection, the
//! database otherwise. Both give the same answers; pages say which one answered.

use crate::kit::error::AppResult;
use crate::kit::state::AppState;
use pandamon_live::JobIndex;
use pandamon_model::JobTable;
use pandamon_query::Selection;
use pandamon_store::catalog::ColType;
use pandamon_store::jobs::{Cell, Group, Summed};
use serde::Serialize;
use std::collections::HashMap;

/// Which one answered a page's summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Index,
    Database,
}

fn index_for<'a>(
    state: &'a AppState,
    selection: &Selection,
    columns: &[&str],
) -> Option<&'a pandamon_live::sync::LiveIndex> {
    let live = state.index.as_ref()?;
    if !live.is_loaded() || !JobIndex::has_columns(columns) {
        return None;
    }
    let supported = live
        .index
        .read()
        .map(|i| i.supports(selection))
        .unwrap_or(false);
    supported.then_some(live)
}

/// Whether the index answers this selection's summaries.
pub fn on_index(state: &AppState, selection: &Selection) -> bool {
    index_for(state, selection, &[]).is_some()
}

/// Jobs matching the selection in the tables.
pub async fn count(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
) -> AppResult<(i64, Source)> {
    if let Some(live) = index_for(state, selection, &[])
        && let Ok(index) = live.index.read()
    {
        return Ok((index.count(selection, tables), Source::Index));
    }
    Ok((
        state.db.count_jobs(tables, selection).await?,
        Source::Database,
    ))
}

/// Grouped job counts, as `Db::group_jobs` returns them.
pub async fn group(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
    columns: &[(&str, ColType)],
) -> AppResult<(Vec<Group>, Source)> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    if let Some(live) = index_for(state, selection, &names)
        && let Ok(index) = live.index.read()
    {
        return Ok((index.group(selection, tables, &names), Source::Index));
    }
    Ok((
        state.db.group_jobs(tables, columns, selection).await?,
        Source::Database,
    ))
}

/// Grouped counts and sums of whole-number columns, as `Db::group_sums` returns them.
pub async fn group_sums(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
    columns: &[(&str, ColType)],
    sums: &[&str],
) -> AppResult<(Vec<Summed>, Source)> {
    let mut names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    names.extend(sums);
    if let Some(live) = index_for(state, selection, &names)
        && let Ok(index) = live.index.read()
    {
        return Ok((
            index.group_sums(selection, tables, &names[..columns.len()], sums),
            Source::Index,
        ));
    }
    let table_names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
    Ok((
        state
            .db
            .group_sums(&table_names, columns, sums, selection)
            .await?,
        Source::Database,
    ))
}

/// Per-column (value, count) lists: what a facet summary needs.
pub async fn facets(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
    columns: &[(&str, ColType)],
) -> AppResult<(Vec<Vec<(Cell, i64)>>, Source)> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    if let Some(live) = index_for(state, selection, &names)
        && let Ok(index) = live.index.read()
    {
        return Ok((index.facet_counts(selection, tables, &names), Source::Index));
    }
    let (groups, source) = group(state, selection, tables, columns).await?;
    let mut per_column: Vec<HashMap<String, (Cell, i64)>> = vec![HashMap::new(); columns.len()];
    for g in &groups {
        for (i, cell) in g.values.iter().enumerate() {
            per_column[i]
                .entry(format!("{cell:?}"))
                .or_insert_with(|| (cell.clone(), 0))
                .1 += g.count;
        }
    }
    Ok((
        per_column
            .into_iter()
            .map(|m| m.into_values().collect())
            .collect(),
        source,
    ))
}

/// One sorted page of jobs (`limit` rows after `offset`), as cells of `columns`. When the index
/// holds the selection it picks and orders the page and the rows are read by pandaid; otherwise
/// the database sorts.
pub async fn job_page(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
    columns: &[&str],
    limit: u64,
    offset: u64,
) -> AppResult<Vec<Vec<Cell>>> {
    let sort = selection.sort;
    if let Some(live) = index_for(state, selection, &[sort.column]) {
        // NULLs sort as PostgreSQL sorts them there, as MySQL and SQLite do elsewhere.
        let nulls_largest = state.db.dialect() == pandamon_store::Dialect::Postgres;
        let page = live.index.read().ok().and_then(|index| {
            let page = pandamon_live::Page {
                column: sort.column,
                descending: sort.descending,
                nulls_largest,
                offset: offset as usize,
                limit: limit as usize,
            };
            index.top(selection, tables, &page)
        });
        if let Some(page) = page {
            let ids: Vec<i64> = page.iter().map(|(p, _)| *p).collect();
            let held: HashMap<i64, JobTable> = page.iter().copied().collect();
            let mut rows: HashMap<i64, (JobTable, Vec<Cell>)> = HashMap::new();
            for (table, pandaid, cells) in state.db.jobs_by_pandaid(tables, columns, &ids).await? {
                // A job caught between two tables: the copy the index holds wins.
                let keep = rows
                    .get(&pandaid)
                    .is_none_or(|(t, _)| held.get(&pandaid) != Some(t));
                if keep {
                    rows.insert(pandaid, (table, cells));
                }
            }
            return Ok(ids
                .iter()
                .filter_map(|p| rows.remove(p).map(|(_, cells)| cells))
                .collect());
        }
    }
    Ok(state
        .db
        .job_page(tables, columns, selection, limit, offset)
        .await?)
}

/// Grouped job counts with the hour of `time_column` as the first value, as
/// `Db::group_rows_by_hour` returns them.
pub async fn group_by_hour(
    state: &AppState,
    selection: &Selection,
    tables: &[JobTable],
    time_column: &str,
    columns: &[(&str, ColType)],
) -> AppResult<(Vec<Group>, Source)> {
    let mut names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    names.push(time_column);
    if let Some(live) = index_for(state, selection, &names)
        && let Ok(index) = live.index.read()
    {
        return Ok((
            index.group_by_hour(selection, tables, time_column, &names[..columns.len()]),
            Source::Index,
        ));
    }
    let table_names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
    Ok((
        state
            .db
            .group_rows_by_hour(&table_names, time_column, columns, selection, "pandaid")
            .await?,
        Source::Database,
    ))
}

/// Job counts grouped by the given job columns (typed from the catalogue) over the selection,
/// each value as text ("Not specified" for none), from whichever source holds the selection.
pub async fn keyed_groups(
    state: &AppState,
    selection: &Selection,
    columns: &[&str],
) -> AppResult<(Vec<(Vec<String>, i64)>, Source)> {
    let tables = crate::kit::joberrors::job_tables(selection);
    let typed = crate::kit::joberrors::typed_job_columns(columns);
    let (groups, source) = group(state, selection, &tables, &typed).await?;
    let keyed = groups
        .into_iter()
        .map(|g| {
            let keys = g
                .values
                .iter()
                .map(|c| match c {
                    Cell::Null => "Not specified".to_string(),
                    Cell::Int(v) => v.to_string(),
                    Cell::Float(v) => v.to_string(),
                    Cell::Text(s) => s.trim().to_string(),
                    Cell::Time(t) => crate::kit::format::iso(t),
                })
                .collect();
            (keys, g.count)
        })
        .collect();
    Ok((keyed, source))
}

/// The worker summary (total, counts per value of `columns`, workers per submission hour by
/// status) from the live worker index, when it is current and holds the whole selection;
/// `None` sends the page to the database.
pub fn worker_summary(
    state: &AppState,
    selection: &Selection,
    columns: &[&str],
) -> Option<pandamon_live::workers::WorkerSummary> {
    let live = state.index.as_ref()?;
    if !live.workers_loaded() {
        return None;
    }
    let index = live.workers.read().ok()?;
    index
        .supports(selection)
        .then(|| index.summary(selection, columns))
}
