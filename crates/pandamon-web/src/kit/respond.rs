//! How every page answers: parse the request once, look in the answer cache, compute on a miss
//! (one computation per key at a time, its answer shared with whoever asked meanwhile), and
//! answer HTML or JSON from the same view model.

use crate::kit::cache::{Answer, Basis};
use crate::kit::error::{AppError, AppResult};
use crate::kit::format::wants_json;
use crate::kit::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use pandamon_query::fields::Vocabulary;
use pandamon_query::{Defaults, Selection};
use serde::Serialize;
use std::future::Future;

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";
const CSV: &str = "text/csv; charset=utf-8";

/// Parameters that never change an answer: cache busters and bigmon's refresh stamp.
const NO_OP_PARAMS: &[&str] = &["_", "timestamp", "json"];

/// One request to a page: an extractor every handler takes (after its path parameters).
pub struct PageRequest {
    pub state: AppState,
    /// The request's path: a route belongs to one module, so it names the module too.
    pub path: String,
    pub params: Vec<(String, String)>,
    /// Whether JSON was asked for: `?json` (any value) or an `Accept: application/json` header.
    pub json: bool,
    /// Who is asking, when logged in (never part of a cached answer).
    pub user: Option<crate::kit::auth::CurrentUser>,
    /// The index generation when the request came in: an answer computed from the index is
    /// valid for it.
    generation: Option<u64>,
}

/// What, beyond the request's parameters, tells answers apart: the resolved time window, and
/// the parameters the page ignored (their values change nothing). A page with a selection
/// passes it (`request.answer(&selection, ..)`); a page without one passes its window or `None`.
pub struct Scope<'s> {
    window: Option<(i64, i64)>,
    ignored: &'s [String],
}

impl<'s> From<&'s Selection> for Scope<'s> {
    fn from(selection: &'s Selection) -> Scope<'s> {
        Scope {
            window: selection.window,
            ignored: &selection.ignored,
        }
    }
}

impl From<Option<(i64, i64)>> for Scope<'static> {
    fn from(window: Option<(i64, i64)>) -> Scope<'static> {
        Scope {
            window,
            ignored: &[],
        }
    }
}

/// A computed answer and whether it may be kept.
pub struct Reply {
    answer: Answer,
    basis: Basis,
    cacheable: bool,
}

impl Reply {
    /// The answer is served but not kept (a degraded answer, say).
    pub fn uncacheable(mut self) -> Reply {
        self.cacheable = false;
        self
    }
}

impl FromRequestParts<AppState> for PageRequest {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<PageRequest> {
        let Query(params) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| AppError::BadRequest(format!("unreadable query string: {e}")))?;
        let json = wants_json(parts.uri.query(), &parts.headers);
        Ok(PageRequest {
            generation: state.generation(),
            state: state.clone(),
            path: parts.uri.path().to_string(),
            params,
            json,
            user: parts
                .extensions
                .get::<crate::kit::auth::CurrentUser>()
                .cloned(),
        })
    }
}

impl PageRequest {
    /// Parses the URL's parameters, plus `extra` ones a page adds, into a selection over
    /// `vocabulary` with a default window of `window_hours`. A bad value is a 400 naming the
    /// parameter.
    pub fn selection(
        &self,
        vocabulary: &'static Vocabulary,
        window_hours: i64,
        extra: &[(&str, String)],
    ) -> AppResult<Selection> {
        parse_selection(&self.params, extra, vocabulary, window_hours)
    }

    /// Like [`PageRequest::selection`], with the parameters the page reads itself (`own`, say
    /// `sortby=count` on the errors page) left out of the selection.
    pub fn selection_except(
        &self,
        vocabulary: &'static Vocabulary,
        window_hours: i64,
        extra: &[(&str, String)],
        own: &[&str],
    ) -> AppResult<Selection> {
        let params: Vec<(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| !own.contains(&k.as_str()))
            .cloned()
            .collect();
        parse_selection(&params, extra, vocabulary, window_hours)
    }

    /// A parameter with a fixed set of values the page reads itself: the canonical value of
    /// the `(accepted, canonical)` pair matching its value (in any case), `default` when it is
    /// absent, and a 400 naming it and its values otherwise.
    pub fn choice(
        &self,
        name: &str,
        values: &[(&str, &'static str)],
        default: &'static str,
    ) -> AppResult<&'static str> {
        let Some(given) = self.param(name) else {
            return Ok(default);
        };
        let given = given.trim();
        if given.is_empty() {
            return Ok(default);
        }
        values
            .iter()
            .find(|(accepted, _)| accepted.eq_ignore_ascii_case(given))
            .map(|(_, canonical)| *canonical)
            .ok_or_else(|| {
                let mut names: Vec<&str> = values.iter().map(|(a, _)| *a).collect();
                names.dedup();
                AppError::BadRequest(format!(
                    "invalid value for parameter '{name}': use one of {}",
                    names.join(", ")
                ))
            })
    }

    /// Whole-number parameter `name` from 1 to `max`: `None` when absent or empty, a 400
    /// naming it otherwise.
    pub fn whole_number(&self, name: &str, max: i64) -> AppResult<Option<i64>> {
        match self.param(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
                _ => Err(AppError::BadRequest(format!(
                    "invalid value for parameter '{name}': '{v}' is not a whole number from 1 to {max}"
                ))),
            },
        }
    }

    /// The window a page's `hours` or `days` names (`hours` first), in hours, at most
    /// `max_days` days; `default_hours` when it names neither.
    pub fn window_hours(&self, default_hours: i64, max_days: i64) -> AppResult<i64> {
        Ok(match self.whole_number("hours", max_days * 24)? {
            Some(h) => h,
            None => self
                .whole_number("days", max_days)?
                .map_or(default_hours, |d| d * 24),
        })
    }

    /// The value of parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The cache key: the path, the answer's format, the resolved window (relative windows move
    /// with the clock) and the parameters, sorted, without the ones that change nothing. A
    /// parameter the selection ignored counts by its name only (the page names it in a note):
    /// `?z=1`, `?z=2`, ... share one key.
    fn key(&self, scope: &Scope<'_>) -> String {
        let mut params: Vec<(&str, &str)> = self
            .params
            .iter()
            .filter(|(k, _)| !NO_OP_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| match scope.ignored.contains(k) {
                true => (k.as_str(), ""),
                false => (k.as_str(), v.as_str()),
            })
            .collect();
        params.sort_unstable();
        format!(
            "{}|{}|{:?}|{params:?}",
            self.path,
            if self.json { "json" } else { "html" },
            scope.window
        )
    }

    /// The cached answer for this request, or `compute`'s. Requests with the same key that
    /// arrive while it is computed share its answer; the answer is kept for later requests when
    /// the reply allows it. `timestamp` (bigmon's refresh button) skips the stored answers.
    pub async fn answer<'s, F, Fut>(
        &self,
        scope: impl Into<Scope<'s>>,
        compute: F,
    ) -> AppResult<Response>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<Reply>>,
    {
        let answers = &self.state.answers;
        let key = self.key(&scope.into());
        if self.param("timestamp").is_none()
            && let Some(answer) = answers.get(&key, self.generation)
        {
            return Ok(respond(answer));
        }
        let flight = answers.flight(&key);
        let health = &self.state.db.health;
        let answer = flight
            .share(|| async {
                let _slot = answers.computation_slot().await;
                let outages = health.outages();
                let reply = compute().await;
                if reply.as_ref().is_err_and(AppError::is_unreachable) {
                    health.mark_down();
                }
                let reply = reply?;
                // An answer computed while the database went away may show gaps (a page the
                // index answered without the database's part): it is not kept past recovery.
                let whole = !health.is_down() && health.outages() == outages;
                if reply.cacheable && whole {
                    answers.put(key.clone(), reply.answer.clone(), reply.basis);
                }
                Ok::<_, AppError>(reply.answer)
            })
            .await?;
        Ok(respond(answer))
    }

    /// The same request answered in JSON whatever it asked for: JSON-only endpoints.
    pub fn into_api(mut self) -> PageRequest {
        self.json = true;
        self
    }

    /// The answer of a JSON-only endpoint (see [`PageRequest::into_api`]).
    pub fn reply_json<T: Serialize + ?Sized>(
        &self,
        data: &T,
        from_index: bool,
    ) -> AppResult<Reply> {
        self.reply(data, from_index, || Ok(String::new()))
    }

    /// An answer computed now and not kept (a form page, say).
    pub fn answer_now<T: Serialize + ?Sized>(
        &self,
        data: &T,
        html: impl FnOnce() -> AppResult<String>,
    ) -> AppResult<Response> {
        Ok(respond(self.reply(data, false, html)?.answer))
    }

    /// A CSV answer (`?format=csv`), whatever the request asked for.
    pub fn reply_csv(&self, body: String) -> AppResult<Reply> {
        self.reply_file(body.into_bytes(), CSV)
    }

    /// An answer in a format of its own (CSV, an image), whatever the request asked for.
    pub fn reply_file(&self, body: Vec<u8>, content_type: &'static str) -> AppResult<Reply> {
        Ok(Reply {
            answer: Answer {
                body: Bytes::from(body),
                content_type,
            },
            basis: Basis::Database,
            cacheable: true,
        })
    }

    /// The answer from a view model: its JSON, or the page `html` renders. `from_index` says
    /// whether only the live index was read to compute it.
    pub fn reply<T: Serialize + ?Sized>(
        &self,
        data: &T,
        from_index: bool,
        html: impl FnOnce() -> AppResult<String>,
    ) -> AppResult<Reply> {
        let answer = if self.json {
            Answer {
                body: Bytes::from(serde_json::to_vec(data)?),
                content_type: JSON,
            }
        } else {
            Answer {
                body: Bytes::from(html()?),
                content_type: HTML,
            }
        };
        let basis = match (from_index, self.generation) {
            (true, Some(g)) => Basis::Index(g),
            _ => Basis::Database,
        };
        Ok(Reply {
            answer,
            basis,
            cacheable: true,
        })
    }
}

fn respond(answer: Answer) -> Response {
    ([(CONTENT_TYPE, answer.content_type)], answer.body).into_response()
}

/// A whole-number path segment (`/job/<pandaid>/`); anything else is a 400 naming it.
pub fn parse_id(name: &str, text: &str) -> AppResult<i64> {
    text.trim().parse().map_err(|_| {
        AppError::BadRequest(format!(
            "invalid value for parameter '{name}': expected a whole number"
        ))
    })
}

/// Parses parameters into a selection over `vocabulary` (see [`PageRequest::selection`]).
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
                .map(|(c, cell)| (c.to_string(), crate::kit::format::cell_json(cell)))
                .collect()
        })
        .collect()
}
