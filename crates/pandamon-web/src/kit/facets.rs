//! Attribute summaries (bigmon's `selectionsummary`), their views and charts, and the rows of a
//! list table: what the jobs and tasks pages (and any module with a faceted list) share.

use crate::kit::format::{cell_json, cell_text, human_count};
use crate::kit::links::link_with;
use pandamon_model::JobStatus;
use pandamon_store::jobs::Cell;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

/// One value of a facet and how many objects have it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyCount {
    /// The value (a string or a number; "Not specified" for none).
    pub kname: Json,
    /// How many objects of the selection have it.
    pub kvalue: i64,
}

/// One facet of an attribute summary.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Facet {
    pub field: String,
    pub list: Vec<KeyCount>,
}

/// Jobs of one status: an entry of bigmon's `jobsummary`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobStatusCount {
    pub jobstatus: String,
    pub count: i64,
}

/// Counts by status (a status may come more than once) as a `jobsummary`, in PanDA's
/// lifecycle order.
pub fn job_summary(counts: impl IntoIterator<Item = (String, i64)>) -> Vec<JobStatusCount> {
    let mut by_status: std::collections::BTreeMap<String, i64> = Default::default();
    for (status, n) in counts {
        *by_status.entry(status).or_default() += n;
    }
    let mut list: Vec<JobStatusCount> = by_status
        .into_iter()
        .map(|(jobstatus, count)| JobStatusCount { jobstatus, count })
        .collect();
    list.sort_by_key(|s| crate::kit::format::status_rank(&s.jobstatus));
    list
}

/// The facet values of one job column's value: bins for ranges, one value per token of
/// `specialhandling`, "Not specified" for none.
fn job_facet_key(field: &str, cell: &Cell) -> Vec<Json> {
    match (field, cell) {
        (_, Cell::Null) => vec![Json::from("Not specified")],
        ("priorityrange", Cell::Int(p)) => {
            let lo = p.div_euclid(100) * 100;
            vec![Json::from(format!("{lo}:{}", lo + 99))]
        }
        // Memory in 1-GB bins of MB, as bigmon shows it.
        ("minramcount", Cell::Int(mb)) => {
            let gb = mb.div_euclid(1_000);
            vec![Json::from(format!("{gb}-{}GB", gb + 1))]
        }
        ("neventsrange", Cell::Int(n)) => {
            let lo = n.div_euclid(1_000) * 1_000;
            vec![Json::from(format!("{lo}:{}", lo + 999))]
        }
        ("harvesterinstance", Cell::Text(s)) => {
            vec![Json::from(
                s.strip_prefix("harvester-").unwrap_or(s).to_string(),
            )]
        }
        ("specialhandling", Cell::Text(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.starts_with("tq"))
            .map(|t| Json::from(t.to_string()))
            .collect(),
        (_, Cell::Text(s)) if s.trim().is_empty() => vec![Json::from("Not specified")],
        (_, c) => vec![cell_json(c)],
    }
}

/// A job attribute summary from per-facet (value, count) lists, one per `(field, column)` of
/// `facets`, in that order.
pub fn job_facets(facets: &[(&'static str, &str)], per_facet: &[Vec<(Cell, i64)>]) -> Vec<Facet> {
    let mut tally = Tally::new(facets.iter().map(|(field, _)| *field));
    for (i, values) in per_facet.iter().enumerate().take(facets.len()) {
        for (cell, count) in values {
            for key in job_facet_key(facets[i].0, cell) {
                tally.add(i, key, *count);
            }
        }
    }
    tally.into_facets(|field, k| match field {
        "jobstatus" => Some(
            k.as_str()
                .and_then(JobStatus::parse)
                .map_or(usize::MAX, |s| s as usize),
        ),
        _ => None,
    })
}

/// Counts per facet value, filled one (value, count) at a time, then ordered into facets.
pub struct Tally {
    fields: Vec<&'static str>,
    values: Vec<HashMap<String, (Json, i64)>>,
}

impl Tally {
    pub fn new(fields: impl IntoIterator<Item = &'static str>) -> Tally {
        let fields: Vec<&'static str> = fields.into_iter().collect();
        let values = vec![HashMap::new(); fields.len()];
        Tally { fields, values }
    }

    /// Adds `count` objects with value `key` to facet number `i`.
    pub fn add(&mut self, i: usize, key: Json, count: i64) {
        if let Some(values) = self.values.get_mut(i) {
            values.entry(key.to_string()).or_insert((key, 0)).1 += count;
        }
    }

    /// The facets with at least one value, values ordered by `rank` when it knows the field
    /// (status order, say) and by count (then name) otherwise.
    pub fn into_facets(self, rank: impl Fn(&str, &Json) -> Option<usize>) -> Vec<Facet> {
        self.fields
            .into_iter()
            .zip(self.values)
            .filter(|(_, values)| !values.is_empty())
            .map(|(field, values)| {
                let mut list: Vec<KeyCount> = values
                    .into_values()
                    .map(|(kname, kvalue)| KeyCount { kname, kvalue })
                    .collect();
                list.sort_by(|a, b| {
                    let by_rank = match (rank(field, &a.kname), rank(field, &b.kname)) {
                        (Some(x), Some(y)) => x.cmp(&y),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    };
                    by_rank
                        .then_with(|| b.kvalue.cmp(&a.kvalue))
                        .then_with(|| a.kname.to_string().cmp(&b.kname.to_string()))
                });
                Facet {
                    field: field.to_string(),
                    list,
                }
            })
            .collect()
    }
}

/// A facet as pages show it: the field and its (link, value, count) entries.
pub struct FacetView {
    pub field: String,
    pub values: Vec<(String, String, String)>,
    /// How many values the card shows before "more": all of a short list or of a status
    /// facet, the largest few of a long one.
    pub shown: usize,
    /// The counts of `values`, as numbers.
    pub counts: Vec<i64>,
}

/// Facets as pages show them; `link` gives the narrowing link of (field, value), by default the
/// URL's parameters with the field set to the value.
pub fn facet_views(
    summary: &[Facet],
    params: &[(String, String)],
    link: impl Fn(&str, &str) -> Option<String>,
) -> Vec<FacetView> {
    summary
        .iter()
        .map(|f| FacetView {
            field: f.field.clone(),
            values: f
                .list
                .iter()
                .map(|k| {
                    let name = cell_text(&k.kname);
                    let href =
                        link(&f.field, &name).unwrap_or_else(|| link_with(params, &f.field, &name));
                    (href, name, human_count(k.kvalue))
                })
                .collect(),
            counts: f.list.iter().map(|k| k.kvalue).collect(),
            shown: shown_values(&f.field, f.list.len()),
        })
        .collect()
}

/// Values a facet card lists before "more": every status (a short, ordered list where the
/// failed ones must not hide), every value of a list of at most 12, else the first 8.
fn shown_values(field: &str, values: usize) -> usize {
    let status = matches!(field, "jobstatus" | "status" | "superstatus" | "state");
    if status || values <= 12 { values } else { 8 }
}

/// Pie chart specs for `pandamon.js`, one per named facet present with more than one value
/// (a facet the selection fixed would be a one-colour ring).
pub fn pie_charts(facets: &[FacetView], fields: &[&str], total: i64) -> Vec<String> {
    fields
        .iter()
        .filter_map(|field| facets.iter().find(|f| f.field == *field))
        .filter(|f| f.values.len() > 1)
        .map(|f| pie_chart(&f.field, f, total))
        .collect()
}

/// Slices a pie shows at least, and at most, before the rest becomes "other".
const PIE_SLICES: (usize, usize) = (10, 24);

/// How many of `counts` (largest first) get a slice of their own: at least the first
/// [`PIE_SLICES`], more while the rest would outweigh the largest slice, up to the maximum.
/// "other" is the biggest slice only when the values are truly that spread.
fn slices_shown(counts: &[i64]) -> usize {
    let (min, max) = PIE_SLICES;
    let largest = counts.first().copied().unwrap_or(0);
    let mut rest: i64 = counts.iter().skip(min).sum();
    let mut shown = min.min(counts.len());
    while shown < counts.len().min(max) && rest > largest {
        rest -= counts[shown];
        shown += 1;
    }
    // A single value left over is shown by its name rather than as "other".
    if counts.len() == shown + 1 {
        shown + 1
    } else {
        shown
    }
}

/// A pie chart spec for `pandamon.js`: the largest values of a facet (the rest as "other"),
/// each slice linking to the narrowed selection.
pub fn pie_chart(title: &str, facet: &FacetView, total: i64) -> String {
    let mut order: Vec<usize> = (0..facet.values.len()).collect();
    let count = |i: usize| facet.counts.get(i).copied().unwrap_or(0);
    order.sort_by_key(|&i| std::cmp::Reverse(count(i)));
    let counts: Vec<i64> = order.iter().map(|&i| count(i)).collect();
    let shown = slices_shown(&counts);
    let mut data: Vec<Json> = order[..shown]
        .iter()
        .map(|&i| {
            let (link, name, _) = &facet.values[i];
            serde_json::json!({"name": name, "value": count(i), "link": link})
        })
        .collect();
    let other: i64 = counts[shown..].iter().sum();
    if other > 0 {
        data.push(serde_json::json!({"name": "other", "value": other}));
    }
    serde_json::json!({"type": "pie", "title": title, "total": human_count(total), "data": data})
        .to_string()
}

/// A list table: the columns of the first row, each cell as (text, link).
pub struct ListTable<'a> {
    pub columns: Vec<&'a str>,
    pub rows: Vec<Vec<(String, Option<String>)>>,
}

/// The rows of a list as table cells; `link` gives a cell's link from (column, text, row).
pub fn list_table<'a>(
    items: &'a [Map<String, Json>],
    link: impl Fn(&str, &str, &Map<String, Json>) -> Option<String>,
) -> ListTable<'a> {
    let columns: Vec<&str> = items
        .first()
        .map(|j| j.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let rows = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| {
                    let text = item.get(*c).map(cell_text).unwrap_or_default();
                    let href = if text.is_empty() {
                        None
                    } else {
                        link(c, &text, item)
                    };
                    (text, href)
                })
                .collect()
        })
        .collect();
    ListTable { columns, rows }
}

/// One table of a list page (`list.html`): a title, its count and pager, its cells.
pub struct Section {
    pub title: String,
    pub total: String,
    pub page: u64,
    pub pages: u64,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<(String, Option<String>)>>,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Section {
    /// A table shown whole (no pager) from a list's rows.
    pub fn whole(title: &str, table: ListTable<'_>) -> Section {
        Section {
            title: title.to_string(),
            total: human_count(table.rows.len() as i64),
            page: 1,
            pages: 1,
            columns: table.columns.iter().map(|c| c.to_string()).collect(),
            rows: table.rows,
            prev: None,
            next: None,
        }
    }
}

/// A page of one or more tables, with notes and, when the URL names nothing, a form asking
/// for one of `form`'s parameters.
#[derive(askama::Template)]
#[template(path = "list.html")]
pub struct ListPage {
    pub title: String,
    pub notes: Vec<String>,
    pub form: Vec<&'static str>,
    pub sections: Vec<Section>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_order_by_rank_then_count() {
        let mut tally = Tally::new(["jobstatus", "computingsite"]);
        tally.add(0, Json::from("failed"), 5);
        tally.add(0, Json::from("running"), 1);
        tally.add(1, Json::from("B"), 2);
        tally.add(1, Json::from("A"), 2);
        tally.add(1, Json::from("C"), 9);
        tally.add(1, Json::from("A"), 1);
        let rank = |field: &str, k: &Json| match (field, k.as_str()) {
            ("jobstatus", Some("running")) => Some(0),
            ("jobstatus", Some("failed")) => Some(1),
            _ => None,
        };
        let facets = tally.into_facets(rank);
        let names = |f: &Facet| {
            f.list
                .iter()
                .map(|k| k.kname.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&facets[0]), ["\"running\"", "\"failed\""]);
        assert_eq!(names(&facets[1]), ["\"C\"", "\"A\"", "\"B\""]);
        assert_eq!(facets[1].list[1].kvalue, 3);
    }

    #[test]
    fn other_is_the_biggest_slice_only_when_values_are_that_spread() {
        // A few big values and a long tail: the tail stays smaller than the largest slice.
        let mut counts = vec![500, 400, 300];
        counts.extend(std::iter::repeat_n(20, 40));
        let shown = slices_shown(&counts);
        assert_eq!(shown, 18);
        assert!(counts[shown..].iter().sum::<i64>() <= counts[0]);
        // 100 equal values: more slices, and "other" is still bigger, truly.
        let flat = vec![10; 100];
        assert_eq!(slices_shown(&flat), 24);
        // Eleven values: the eleventh is shown by name, not as a one-value "other".
        assert_eq!(slices_shown(&[5; 11]), 11);
        assert_eq!(slices_shown(&[3, 2]), 2);
    }

    #[test]
    fn facet_keys_bin_and_split() {
        assert_eq!(
            job_facet_key("priorityrange", &Cell::Int(742)),
            vec![Json::from("700:799")]
        );
        assert_eq!(
            job_facet_key("specialhandling", &Cell::Text("sj,rb,tq3".into())),
            vec![Json::from("sj"), Json::from("rb")]
        );
        assert_eq!(
            job_facet_key("gshare", &Cell::Null),
            vec![Json::from("Not specified")]
        );
        assert_eq!(
            job_facet_key(
                "harvesterinstance",
                &Cell::Text("harvester-CERN_central_A".into())
            ),
            vec![Json::from("CERN_central_A")]
        );
    }
}
