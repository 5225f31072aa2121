//! The selection language of bigmon URLs, parsed once into a typed [`Selection`] that compiles to
//! SQL for every dialect (values always bound) and evaluates on in-memory jobs with the same
//! meaning.
//!
//! Architecture invariant: nothing from a request reaches SQL text. Column names come from
//! [`fields`]; every value becomes a bound parameter.

pub mod fields;
mod value;

pub use value::Value;

use chrono::{NaiveDate, NaiveDateTime};
use fields::{Derived, Field, Kind, Vocabulary};
use pandamon_model::EVENT_SERVICE_TYPES;
use std::fmt;

/// A request parameter that cannot be understood: becomes HTTP 400 naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub param: String,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value for parameter '{}': {}",
            self.param, self.message
        )
    }
}

impl std::error::Error for QueryError {}

fn invalid(param: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        param: param.to_string(),
        message: message.into(),
    }
}

/// SQL dialects a selection compiles to. Oracle is rendered for review and golden tests only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    Postgres,
    MySql,
    Sqlite,
    Oracle,
}

impl SqlDialect {
    fn quote(self, ident: &str) -> String {
        match self {
            SqlDialect::MySql => format!("`{ident}`"),
            SqlDialect::Oracle => ident.to_uppercase(),
            _ => format!("\"{ident}\""),
        }
    }

    fn placeholder(self, n: usize) -> String {
        match self {
            SqlDialect::Postgres => format!("${n}"),
            SqlDialect::Oracle => format!(":{n}"),
            _ => "?".into(),
        }
    }
}

/// One term of a text condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Equal to the value.
    Exact(String),
    /// Matches a pattern with `*` wildcards, case-insensitively.
    Pattern(String),
    /// `Not specified`: NULL or empty.
    NotSpecified,
    /// `*` alone: any non-empty value.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub term: Term,
}

/// One condition of a selection; a selection is their conjunction.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// OR over groups, AND within a group.
    Text {
        column: &'static str,
        groups: Vec<Vec<Clause>>,
    },
    /// In (or, negated, not in) a list of integers; `not_specified` also matches NULL.
    Int {
        column: &'static str,
        values: Vec<i64>,
        negated: bool,
        not_specified: bool,
    },
    /// Inclusive numeric range; either end may be open.
    Range {
        column: &'static str,
        lo: Option<i64>,
        hi: Option<i64>,
    },
    /// Inclusive time range in unix seconds.
    Time {
        column: &'static str,
        from: i64,
        to: i64,
    },
    /// Run time in minutes (end, or now for running jobs, minus start) within [lo, hi].
    Duration { lo: i64, hi: i64, now: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: &'static str,
    pub descending: bool,
}

/// Job sort keys bigmon accepts in `sortby=<key>-ascending|descending`.
pub const SORT_KEYS: &[(&str, &str)] = &[
    ("time", "modificationtime"),
    ("create", "creationtime"),
    ("statetime", "statechangetime"),
    ("start", "starttime"),
    ("end", "endtime"),
    ("priority", "currentpriority"),
    ("attemptnr", "attemptnr"),
    ("pandaid", "pandaid"),
];

pub const MAX_LIMIT: u64 = 10_000_000;
/// The most values one parameter may list (`a|b|c`...): more is a script that should ask for
/// less at once, and a statement the database would take seconds over.
pub const MAX_VALUES: usize = 200;
pub const MAX_DISPLAY_LIMIT: u64 = 10_000;
pub const DEFAULT_DISPLAY_LIMIT: u64 = 100;

/// What the URL asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub conds: Vec<Cond>,
    /// The time window on `modificationtime`, if any (also in `conds`).
    pub window: Option<(i64, i64)>,
    pub sort: Sort,
    pub limit: Option<u64>,
    pub display_limit: u64,
    pub page: u64,
    pub fields: Option<Vec<String>>,
    /// Parameters that were ignored, with why; shown on the page.
    pub notes: Vec<String>,
    /// The names of the parameters that were ignored, as given: their values change nothing.
    pub ignored: Vec<String>,
    pub now: i64,
    /// The unique id column, the sort's tie-breaker.
    pub id_column: &'static str,
}

/// Defaults that differ between views.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// The window when the URL names no time and no id: 12 h for jobs, 7 days for tasks.
    pub window_hours: i64,
    pub now: i64,
    /// Which object's attributes the parameters name.
    pub vocabulary: &'static Vocabulary,
}

/// A time parameter as unix seconds: a day `YYYY-MM-DD` or an instant `YYYY-MM-DDTHH:MM[:SS]`
/// (UTC; a space may stand for the `T`); an error naming `param` otherwise.
pub fn parse_time(param: &str, text: &str) -> Result<i64, QueryError> {
    let text = text.trim();
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp()));
    }
    Err(invalid(
        param,
        "expected a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM[:SS] (UTC)",
    ))
}

fn parse_positive(param: &str, text: &str, max: i64) -> Result<i64, QueryError> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 && n <= max => Ok(n),
        Ok(_) => Err(invalid(
            param,
            format!("expected a whole number from 0 to {max}"),
        )),
        Err(_) => Err(invalid(param, "expected a whole number")),
    }
}

fn too_many(param: &str, n: usize) -> QueryError {
    invalid(
        param,
        format!("{n} values, more than the limit of {MAX_VALUES} in one parameter: ask in parts"),
    )
}

fn is_not_specified(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("not specified")
}

fn parse_int_list(param: &str, column: &'static str, text: &str) -> Result<Cond, QueryError> {
    let (negated, body) = match text.trim().strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text.trim()),
    };
    let mut values = Vec::new();
    let mut not_specified = false;
    for part in body
        .split(['|', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if is_not_specified(part) {
            not_specified = true;
            continue;
        }
        match part.parse::<i64>() {
            Ok(v) => values.push(v),
            Err(_) => {
                return Err(invalid(
                    param,
                    "expected an integer or a list like 1|2|3 (or 'Not specified')",
                ));
            }
        }
    }
    if values.is_empty() && !not_specified {
        return Err(invalid(param, "expected at least one integer"));
    }
    if values.len() > MAX_VALUES {
        return Err(too_many(param, values.len()));
    }
    Ok(Cond::Int {
        column,
        values,
        negated,
        not_specified,
    })
}

/// `eventservice=`: bigmon's names (`eventservice`, `esmerge`, `clone`, `jumbo`, `cojumbo`,
/// `finegrained`) or numbers, in lists like other integers; `all` is every event-service kind
/// and `not2` every job but the merge jobs (ordinary jobs included).
fn parse_event_service(param: &str, text: &str) -> Result<Cond, QueryError> {
    let text = text.trim().to_ascii_lowercase();
    let all = || {
        EVENT_SERVICE_TYPES
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>()
    };
    match text.as_str() {
        "all" => {
            return Ok(Cond::Int {
                column: "eventservice",
                values: all(),
                negated: false,
                not_specified: false,
            });
        }
        "not2" => {
            // Every value but 2, and ordinary jobs (NULL) too.
            let mut values: Vec<i64> = vec![0];
            values.extend(all().into_iter().filter(|v| *v != 2));
            return Ok(Cond::Int {
                column: "eventservice",
                values,
                negated: false,
                not_specified: true,
            });
        }
        _ => {}
    }
    let numbers: String = text
        .split_inclusive(['|', ','])
        .map(|part| {
            let (name, sep) = match part.strip_suffix(['|', ',']) {
                Some(n) => (n, &part[n.len()..]),
                None => (part, ""),
            };
            let (bang, bare) = match name.trim().strip_prefix('!') {
                Some(b) => ("!", b),
                None => ("", name.trim()),
            };
            match EVENT_SERVICE_TYPES.iter().find(|(_, n)| *n == bare) {
                Some((v, _)) => format!("{bang}{v}{sep}"),
                None => format!("{bang}{bare}{sep}"),
            }
        })
        .collect();
    parse_int_list(param, "eventservice", &numbers).map_err(|_| {
        invalid(
            param,
            "expected eventservice, esmerge, clone, jumbo, cojumbo, finegrained, their numbers 1 to 6, all or not2",
        )
    })
}

fn parse_text(param: &str, field: &Field, text: &str) -> Result<Cond, QueryError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(param, "empty value"));
    }
    let or_separator: &[char] = if field.kind == Kind::Status {
        &['|', ',']
    } else {
        &['|']
    };
    let mut groups = Vec::new();
    for alternative in text.split(or_separator) {
        let mut group = Vec::new();
        let parts: Vec<&str> = if field.kind == Kind::Status {
            vec![alternative]
        } else {
            alternative.split(',').collect()
        };
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (negated, value) = match part.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, part),
            };
            let term = if is_not_specified(value) {
                Term::NotSpecified
            } else if value == "*" {
                Term::Any
            } else if field.kind == Kind::Contains {
                Term::Pattern(format!("*{}*", value.trim_matches('*')))
            } else if value.contains('*') {
                Term::Pattern(value.to_string())
            } else {
                Term::Exact(value.to_string())
            };
            group.push(Clause { negated, term });
        }
        if !group.is_empty() {
            groups.push(group);
        }
    }
    if groups.is_empty() {
        return Err(invalid(param, "empty value"));
    }
    let values: usize = groups.iter().map(Vec::len).sum();
    if values > MAX_VALUES {
        return Err(too_many(param, values));
    }
    Ok(Cond::Text {
        column: field.column,
        groups,
    })
}

fn parse_range(param: &str, text: &str) -> Result<(Option<i64>, Option<i64>), QueryError> {
    let text = text.trim();
    let (lo, hi) = text
        .split_once(':')
        .or_else(|| {
            // `a-b` (not a leading minus).
            text.char_indices()
                .skip(1)
                .find(|(_, c)| *c == '-')
                .map(|(i, _)| (&text[..i], &text[i + 1..]))
        })
        .ok_or_else(|| invalid(param, "expected a range lo:hi (either end may be empty)"))?;
    let end = |s: &str| -> Result<Option<i64>, QueryError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<i64>()
            .map(Some)
            .map_err(|_| invalid(param, "expected a range of integers lo:hi"))
    };
    let (lo, hi) = (end(lo)?, end(hi)?);
    if let (Some(a), Some(b)) = (lo, hi)
        && a > b
    {
        return Err(invalid(param, "the lower end is above the upper end"));
    }
    Ok((lo, hi))
}

impl Selection {
    /// The column the time window applies to, when there is a window.
    pub fn window_column(&self) -> Option<&'static str> {
        let (from, to) = self.window?;
        self.conds.iter().find_map(|c| match c {
            Cond::Time {
                column,
                from: f,
                to: t,
            } if *f == from && *t == to => Some(*column),
            _ => None,
        })
    }

    /// The same selection over another time window on `column` (`None`: no window), as
    /// bigmon's pages do when the default window holds nothing.
    pub fn with_window(&self, column: &'static str, window: Option<(i64, i64)>) -> Selection {
        let mut moved = self.clone();
        if let Some((from, to)) = self.window {
            moved.conds.retain(|c| {
                !matches!(c, Cond::Time { column: c, from: f, to: t } if *c == column && *f == from && *t == to)
            });
        }
        if let Some((from, to)) = window {
            moved.conds.push(Cond::Time { column, from, to });
        }
        moved.window = window;
        moved
    }

    /// Parses request parameters (names are matched case-insensitively).
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        defaults: Defaults,
    ) -> Result<Selection, QueryError> {
        let now = defaults.now;
        let vocab = defaults.vocabulary;
        let mut conds = Vec::new();
        let mut notes = Vec::new();
        let mut ignored = Vec::new();
        let mut lifts_window = false;
        let mut hours: Option<i64> = None;
        let mut date_from: Option<i64> = None;
        let mut date_to: Option<i64> = None;
        let mut earlier: Option<i64> = None;
        let mut explicit_time_range = false;
        let mut sort = vocab.default_sort;
        let mut limit = None;
        let mut display_limit = DEFAULT_DISPLAY_LIMIT;
        let mut page = 1;
        let mut fields_projection = None;
        // The parameter that set the window, to name in an error about its length.
        let mut window_param: Option<String> = None;
        for (raw_name, value) in params {
            let name = raw_name.trim().to_ascii_lowercase();
            let name = name.as_str();
            if matches!(name, "hours" | "days" | "date_from" | "date_to") {
                window_param.get_or_insert_with(|| raw_name.to_string());
            }
            if value.contains('%') && !matches!(name, "date_from" | "date_to") {
                return Err(invalid(name, "'%' is not a wildcard here: use '*'"));
            }
            if let Some(field) = vocab.field(name) {
                lifts_window |= field.lifts_window;
                conds.push(match field.kind {
                    Kind::Int if field.column == "eventservice" => {
                        parse_event_service(name, value)?
                    }
                    Kind::Int => parse_int_list(name, field.column, value)?,
                    _ => parse_text(name, field, value)?,
                });
                continue;
            }
            // bigmon's memory bins: `minramcount=2-3GB` (MB in the database).
            if name == "minramcount" && vocab.derived.contains(&Derived::MemoryBins) {
                let text = value.trim();
                let cond = match text.strip_suffix("GB").or_else(|| text.strip_suffix("gb")) {
                    Some(bins) => {
                        let (lo, hi) = parse_range(name, bins)?;
                        Cond::Range {
                            column: "minramcount",
                            lo: lo.map(|g| g * 1_000),
                            hi: hi.map(|g| g * 1_000 - 1),
                        }
                    }
                    None => parse_int_list(name, "minramcount", text)?,
                };
                conds.push(cond);
                continue;
            }
            if let Some((_, column)) = vocab.ranges.iter().find(|(p, _)| *p == name) {
                let (lo, hi) = parse_range(name, value)?;
                conds.push(Cond::Range { column, lo, hi });
                continue;
            }
            if let Some(column) = name
                .strip_suffix("range")
                .and_then(|c| vocab.time_columns.iter().find(|t| **t == c))
            {
                let (a, b) = value.split_once('|').ok_or_else(|| {
                    invalid(name, "expected from|to, each YYYY-MM-DD[THH:MM[:SS]]")
                })?;
                let (from, to) = (parse_time(name, a)?, parse_time(name, b)?);
                if from > to {
                    return Err(invalid(name, "the start is after the end"));
                }
                conds.push(Cond::Time { column, from, to });
                explicit_time_range = true;
                continue;
            }
            match name {
                "hours" => hours = Some(parse_positive(name, value, 24 * 3_650)?.max(1)),
                "days" => hours = Some(parse_positive(name, value, 3_650)?.max(1) * 24),
                "date_from" => date_from = Some(parse_time(name, value)?),
                "date_to" => date_to = Some(parse_time(name, value)?),
                "earlierthan" => earlier = Some(parse_positive(name, value, 24 * 3_650)? * 3_600),
                "earlierthandays" => earlier = Some(parse_positive(name, value, 3_650)? * 86_400),
                "limit" => {
                    let n = parse_positive(name, value, MAX_LIMIT as i64)?;
                    limit = Some(n.max(1) as u64);
                }
                "display_limit" => {
                    display_limit =
                        parse_positive(name, value, MAX_DISPLAY_LIMIT as i64)?.max(1) as u64;
                }
                "page" => page = parse_positive(name, value, 1_000_000)?.max(1) as u64,
                "sortby" => sort = parse_sort(vocab, value)?,
                "fields" => {
                    let list: Vec<String> = value
                        .split(',')
                        .map(|s| s.trim().to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect();
                    if let Some(bad) = list
                        .iter()
                        .find(|f| !vocab.json_columns.contains(&f.as_str()))
                    {
                        return Err(invalid(name, format!("unknown field '{bad}'")));
                    }
                    // Repeated `fields=` (a form's checkboxes) add up.
                    let all: &mut Vec<String> = fields_projection.get_or_insert_with(Vec::new);
                    for field in list {
                        if !all.contains(&field) {
                            all.push(field);
                        }
                    }
                }
                "jobtype" if vocab.derived.contains(&Derived::JobType) => {
                    conds.extend(parse_jobtype(value)?)
                }
                "durationmin" if vocab.derived.contains(&Derived::DurationMinutes) => {
                    let (lo, hi) = parse_range(name, value)?;
                    conds.push(Cond::Duration {
                        lo: lo.unwrap_or(0),
                        hi: hi.unwrap_or(i64::MAX / 120),
                        now,
                    });
                }
                n if fields::PRESENTATION_PARAMS.contains(&n)
                    && !matches!(n, "jobtype" | "durationmin") => {}
                _ => {
                    notes.push(format!(
                        "parameter '{raw_name}' is not known here and was ignored"
                    ));
                    ignored.push(raw_name.to_string());
                }
            }
        }
        if let (Some(a), Some(b)) = (date_from, date_to)
            && a > b
        {
            return Err(invalid("date_from", "date_from is after date_to"));
        }
        // The window: explicit dates, else hours/days, else the default unless an id lifts it.
        let window_hours = hours.unwrap_or(defaults.window_hours);
        let named_window =
            hours.is_some() || date_from.is_some() || date_to.is_some() || earlier.is_some();
        let window = if date_from.is_some() || date_to.is_some() {
            let to = date_to.unwrap_or(now);
            Some((date_from.unwrap_or(to - window_hours * 3_600), to))
        } else if named_window || (vocab.windowed && !lifts_window && !explicit_time_range) {
            let to = now - earlier.unwrap_or(0);
            Some((to - window_hours * 3_600, to))
        } else {
            None
        };
        if let (Some(max), Some((from, to))) = (vocab.max_window_days, window)
            && to - from > max * 86_400
        {
            let param = window_param.as_deref().unwrap_or("days");
            return Err(invalid(
                param,
                format!(
                    "a window of {} days is longer than the limit of {max} days for {} pages: narrow it, or name a task or job",
                    (to - from + 86_399) / 86_400,
                    vocab.name
                ),
            ));
        }
        if let Some((from, to)) = window {
            conds.push(Cond::Time {
                column: vocab.window_column,
                from,
                to,
            });
        }
        Ok(Selection {
            conds,
            window,
            sort,
            limit,
            display_limit,
            page,
            fields: fields_projection,
            notes,
            ignored,
            now,
            id_column: vocab.id_column,
        })
    }

    /// A selection the code makes rather than the URL: objects meeting every condition, no
    /// time window, ordered by `id_column`, one default page.
    pub fn matching(conds: Vec<Cond>, id_column: &'static str) -> Selection {
        Selection {
            conds,
            window: None,
            sort: Sort {
                column: id_column,
                descending: false,
            },
            limit: None,
            display_limit: DEFAULT_DISPLAY_LIMIT,
            page: 1,
            fields: None,
            notes: Vec::new(),
            ignored: Vec::new(),
            now: 0,
            id_column,
        }
    }

    /// The condition "`column` is `value`" on a whole-number column.
    pub fn int_equals(column: &'static str, value: i64) -> Cond {
        Cond::Int {
            column,
            values: vec![value],
            negated: false,
            not_specified: false,
        }
    }

    /// The same selection narrowed to objects whose `column` is one of `values`.
    pub fn and_in(&self, column: &'static str, values: &[&str]) -> Selection {
        let mut narrowed = self.clone();
        narrowed.conds.push(Cond::Text {
            column,
            groups: values
                .iter()
                .map(|v| {
                    vec![Clause {
                        negated: false,
                        term: Term::Exact(v.to_string()),
                    }]
                })
                .collect(),
        });
        narrowed
    }

    /// Whether the window reaches into the long-term archive (more than two days back), as bigmon
    /// decides whether to read `jobsarchived`.
    /// Whether any condition narrows the selection (files and datasets refuse to list everything).
    pub fn is_narrowed(&self) -> bool {
        !self.conds.is_empty()
    }

    pub fn needs_archive(&self) -> bool {
        match self.window {
            Some((from, _)) => self.now - from > 2 * 86_400,
            None => true,
        }
    }

    /// The WHERE clause (without `WHERE`) and its parameters, numbered from `first_param`.
    pub fn where_sql(&self, dialect: SqlDialect, first_param: usize) -> (String, Vec<Value>) {
        let mut builder = SqlBuilder {
            dialect,
            params: Vec::new(),
            first: first_param,
        };
        let parts: Vec<String> = self.conds.iter().map(|c| builder.cond(c)).collect();
        let sql = if parts.is_empty() {
            "1 = 1".to_string()
        } else {
            parts.join(" AND ")
        };
        (sql, builder.params)
    }

    /// `ORDER BY` body for the selection's sort, with pandaid as the tie-breaker.
    pub fn order_sql(&self, dialect: SqlDialect) -> String {
        let dir = if self.sort.descending { "DESC" } else { "ASC" };
        let mut sql = format!("{} {dir}", dialect.quote(self.sort.column));
        if self.sort.column != self.id_column {
            sql.push_str(&format!(", {} {dir}", dialect.quote(self.id_column)));
        }
        sql
    }

    /// Evaluates the selection on one job, with the same meaning as the SQL.
    pub fn matches(&self, job: &impl JobView) -> bool {
        self.conds.iter().all(|c| eval(c, job))
    }
}

fn parse_sort(vocab: &Vocabulary, value: &str) -> Result<Sort, QueryError> {
    let value = value.trim().to_ascii_lowercase();
    let (key, descending) = if let Some(k) = value.strip_suffix("-descending") {
        (k, true)
    } else if let Some(k) = value.strip_suffix("-ascending") {
        (k, false)
    } else {
        (value.as_str(), true)
    };
    match vocab.sort_keys.iter().find(|(k, _)| *k == key) {
        Some((_, column)) => Ok(Sort { column, descending }),
        None => Err(invalid(
            "sortby",
            format!(
                "unknown sort key '{key}'; use one of {} with -ascending or -descending",
                vocab
                    .sort_keys
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn parse_jobtype(value: &str) -> Result<Vec<Cond>, QueryError> {
    let labels = |list: &[&str]| Cond::Text {
        column: "prodsourcelabel",
        groups: list
            .iter()
            .map(|l| {
                vec![Clause {
                    negated: false,
                    term: Term::Exact(l.to_string()),
                }]
            })
            .collect(),
    };
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "analysis" | "analy" => vec![labels(&["user", "panda"])],
        "production" | "prod" => vec![labels(&["managed"])],
        "groupproduction" => vec![
            labels(&["managed"]),
            Cond::Text {
                column: "workinggroup",
                groups: vec![vec![Clause {
                    negated: false,
                    term: Term::Pattern("GP_*".into()),
                }]],
            },
        ],
        "test" => vec![labels(&[
            "prod_test",
            "ptest",
            "install",
            "rc_test",
            "rc_test2",
            "rc_alrb",
        ])],
        "eventservice" | "esmerge" => vec![parse_event_service("jobtype", value)?],
        other => {
            return Err(invalid(
                "jobtype",
                format!(
                    "unknown job type '{other}'; use analysis (analy), production (prod), groupproduction, test, eventservice or esmerge"
                ),
            ));
        }
    })
}

/// Escapes a `*` pattern for `LIKE ... ESCAPE '!'`.
fn like_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for c in pattern.chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '!' => {
                out.push('!');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.to_uppercase()
}

struct SqlBuilder {
    dialect: SqlDialect,
    params: Vec<Value>,
    first: usize,
}

impl SqlBuilder {
    fn bind(&mut self, value: Value) -> String {
        self.params.push(value);
        self.dialect.placeholder(self.first + self.params.len() - 1)
    }

    fn time_value(&mut self, t: i64) -> String {
        let value = chrono::DateTime::from_timestamp(t, 0)
            .map_or(Value::Null, |d| Value::Time(d.naive_utc()));
        let p = self.bind(value);
        match self.dialect {
            SqlDialect::Postgres => format!("CAST({p} AS TIMESTAMP)"),
            _ => p,
        }
    }

    fn clause(&mut self, col: &str, clause: &Clause) -> String {
        let positive = match &clause.term {
            Term::Exact(v) => format!("{col} = {}", self.bind(Value::from(v.clone()))),
            Term::Pattern(p) => format!(
                "UPPER({col}) LIKE {} ESCAPE '!'",
                self.bind(Value::from(like_pattern(p)))
            ),
            Term::NotSpecified => format!("({col} IS NULL OR {col} = '')"),
            Term::Any => format!("({col} IS NOT NULL AND {col} <> '')"),
        };
        if !clause.negated {
            return positive;
        }
        match clause.term {
            // NULL counts as "not equal" and "not matching", as in the in-memory evaluation.
            Term::Exact(_) | Term::Pattern(_) => format!("({col} IS NULL OR NOT ({positive}))"),
            _ => format!("NOT {positive}"),
        }
    }

    fn cond(&mut self, cond: &Cond) -> String {
        let d = self.dialect;
        match cond {
            Cond::Text { column, groups } => {
                let col = d.quote(column);
                let ors: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        let ands: Vec<String> = g.iter().map(|c| self.clause(&col, c)).collect();
                        if ands.len() == 1 {
                            ands.into_iter().next().unwrap_or_default()
                        } else {
                            format!("({})", ands.join(" AND "))
                        }
                    })
                    .collect();
                if ors.len() == 1 {
                    ors.into_iter().next().unwrap_or_default()
                } else {
                    format!("({})", ors.join(" OR "))
                }
            }
            Cond::Int {
                column,
                values,
                negated,
                not_specified,
            } => {
                let col = d.quote(column);
                let mut parts = Vec::new();
                if !values.is_empty() {
                    let list: Vec<String> =
                        values.iter().map(|v| self.bind(Value::Int(*v))).collect();
                    parts.push(if list.len() == 1 {
                        format!("{col} = {}", list[0])
                    } else {
                        format!("{col} IN ({})", list.join(", "))
                    });
                }
                if *not_specified {
                    parts.push(format!("{col} IS NULL"));
                }
                let positive = if parts.len() == 1 {
                    parts.remove(0)
                } else {
                    format!("({})", parts.join(" OR "))
                };
                if *negated {
                    if *not_specified {
                        format!("NOT {positive}")
                    } else {
                        format!("({col} IS NULL OR NOT ({positive}))")
                    }
                } else {
                    positive
                }
            }
            Cond::Range { column, lo, hi } => {
                let col = d.quote(column);
                match (lo, hi) {
                    (Some(a), Some(b)) => format!(
                        "{col} BETWEEN {} AND {}",
                        self.bind(Value::Int(*a)),
                        self.bind(Value::Int(*b))
                    ),
                    (Some(a), None) => format!("{col} >= {}", self.bind(Value::Int(*a))),
                    (None, Some(b)) => format!("{col} <= {}", self.bind(Value::Int(*b))),
                    (None, None) => format!("{col} IS NOT NULL"),
                }
            }
            Cond::Time { column, from, to } => {
                let col = d.quote(column);
                let a = self.time_value(*from);
                let b = self.time_value(*to);
                format!("{col} >= {a} AND {col} <= {b}")
            }
            Cond::Duration { lo, hi, now } => {
                let start = d.quote("starttime");
                let end = d.quote("endtime");
                // Each use of "now" gets its own placeholder: `?` dialects bind by position.
                let seconds = |builder: &mut SqlBuilder| {
                    let now = builder.time_value(*now);
                    match d {
                        SqlDialect::Postgres => {
                            format!("EXTRACT(EPOCH FROM (COALESCE({end}, {now}) - {start}))")
                        }
                        SqlDialect::MySql => {
                            format!("TIMESTAMPDIFF(SECOND, {start}, COALESCE({end}, {now}))")
                        }
                        // Whole seconds, as the in-memory evaluation counts them (julianday's
                        // floating point misses exact boundaries).
                        SqlDialect::Sqlite => format!(
                            "(CAST(strftime('%s', COALESCE({end}, {now})) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER))"
                        ),
                        SqlDialect::Oracle => {
                            format!("((COALESCE({end}, {now}) - {start}) * 86400)")
                        }
                    }
                };
                let low = seconds(self);
                let lo_p = self.bind(Value::Int(lo * 60));
                let high = seconds(self);
                let hi_p = self.bind(Value::Int(hi.saturating_mul(60)));
                format!("({start} IS NOT NULL AND {low} >= {lo_p} AND {high} <= {hi_p})")
            }
        }
    }
}

/// What the in-memory evaluation needs to know of a job.
pub trait JobView {
    fn text(&self, column: &str) -> Option<&str>;
    fn int(&self, column: &str) -> Option<i64>;
    /// Unix seconds.
    fn time(&self, column: &str) -> Option<i64>;
}

/// Case-insensitive `*` glob match.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_uppercase().chars().collect();
    let t: Vec<char> = text.to_uppercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn eval_clause(value: Option<&str>, clause: &Clause) -> bool {
    let positive = match (&clause.term, value) {
        (Term::NotSpecified, v) => v.is_none_or(str::is_empty),
        (Term::Any, v) => v.is_some_and(|s| !s.is_empty()),
        (_, None) => return clause.negated,
        (Term::Exact(x), Some(v)) => v == x,
        (Term::Pattern(p), Some(v)) => glob_match(p, v),
    };
    positive != clause.negated
}

impl Cond {
    /// The job columns the condition reads.
    pub fn columns(&self) -> Vec<&'static str> {
        match self {
            Cond::Text { column, .. }
            | Cond::Int { column, .. }
            | Cond::Range { column, .. }
            | Cond::Time { column, .. } => vec![column],
            Cond::Duration { .. } => vec!["starttime", "endtime"],
        }
    }

    /// Evaluates this one condition on a job, with the SQL meaning.
    pub fn matches(&self, job: &impl JobView) -> bool {
        eval(self, job)
    }
}

fn eval(cond: &Cond, job: &impl JobView) -> bool {
    match cond {
        Cond::Text { column, groups } => {
            let value = job.text(column);
            groups
                .iter()
                .any(|g| g.iter().all(|c| eval_clause(value, c)))
        }
        Cond::Int {
            column,
            values,
            negated,
            not_specified,
        } => {
            let value = job.int(column);
            let positive = match value {
                Some(v) => values.contains(&v),
                None => *not_specified,
            };
            match (value, negated) {
                (None, true) if !not_specified => true,
                _ => positive != *negated,
            }
        }
        Cond::Range { column, lo, hi } => job
            .int(column)
            .is_some_and(|v| lo.is_none_or(|a| v >= a) && hi.is_none_or(|b| v <= b)),
        Cond::Time { column, from, to } => job.time(column).is_some_and(|t| t >= *from && t <= *to),
        Cond::Duration { lo, hi, now } => match job.time("starttime") {
            Some(start) => {
                let seconds = job.time("endtime").unwrap_or(*now) - start;
                seconds >= lo * 60 && seconds <= hi.saturating_mul(60)
            }
            None => false,
        },
    }
}

#[cfg(test)]
mod tests;
