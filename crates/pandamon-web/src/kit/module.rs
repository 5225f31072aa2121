//! What a module is: a page family that declares its routes, navigation entries, selection
//! vocabularies, configuration section, background tasks, health contribution and API
//! documentation. The registry (`crate::modules::REGISTRY`) lists every module once; the
//! configuration switches each on or off.

use crate::kit::state::AppState;
use axum::routing::MethodRouter;
use pandamon_query::fields::Vocabulary;
use serde_json::Value as Json;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, as trait methods return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A JSON schema generator for a response type (`schemars::schema_for!`-like).
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// The JSON schema of `T`, for [`RouteDoc::response`].
pub fn schema<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// How a parameter's values read, for the API document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Text,
    /// One whole number.
    Integer,
    /// Whole numbers in the selection language: `1|2`, `!3`, `Not specified`.
    IntegerList,
    /// Present or absent (`?json`).
    Flag,
}

/// One documented parameter of a route.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub ty: ParamType,
    pub description: &'static str,
    /// A `{name}` segment of the path rather than a query parameter.
    pub in_path: bool,
    /// A field of the form a `POST` route reads (a route with one is a `POST`).
    pub in_form: bool,
    pub required: bool,
}

impl Param {
    pub const fn query(name: &'static str, ty: ParamType, description: &'static str) -> Param {
        Param {
            name,
            ty,
            description,
            in_path: false,
            in_form: false,
            required: false,
        }
    }

    pub const fn form(name: &'static str, ty: ParamType, description: &'static str) -> Param {
        Param {
            name,
            ty,
            description,
            in_path: false,
            in_form: true,
            required: false,
        }
    }

    pub const fn path(name: &'static str, ty: ParamType, description: &'static str) -> Param {
        Param {
            name,
            ty,
            description,
            in_path: true,
            in_form: false,
            required: true,
        }
    }

    pub const fn required(self) -> Param {
        Param {
            required: true,
            ..self
        }
    }
}

/// The parameters `a` and then `b` as one list: routes sharing some document them once
/// (`const { &joined::<2, 3, 5>(OWN, SHARED) }`).
pub const fn joined<const A: usize, const B: usize, const N: usize>(
    a: [Param; A],
    b: [Param; B],
) -> [Param; N] {
    assert!(A + B == N, "N must be A + B");
    let mut out = [Param::query("", ParamType::Text, ""); N];
    let mut i = 0;
    while i < N {
        out[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    out
}

/// What the API document says of a route.
#[derive(Clone, Copy)]
pub struct RouteDoc {
    pub summary: &'static str,
    /// The selection language the route reads its filters with, if any.
    pub vocabulary: Option<&'static Vocabulary>,
    /// Parameters beyond the vocabulary's (path segments included).
    pub params: &'static [Param],
    /// The type of the JSON answer.
    pub response: SchemaFn,
    /// Whether the route also answers an HTML page (without `?json`).
    pub html: bool,
}

/// One route of a module.
pub struct Route {
    /// An axum path; a path ending in `/` also answers its slash-less form with a redirect.
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
    pub doc: RouteDoc,
}

/// An entry of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavEntry {
    pub label: &'static str,
    pub href: &'static str,
    /// Entries are shown in this order, across modules.
    pub order: u16,
}

/// Work a module runs beside the server while it is enabled.
pub struct BackgroundTask {
    pub name: &'static str,
    pub run: Box<dyn FnOnce(AppState) -> BoxFuture<'static, ()> + Send>,
}

/// A documented key of a module's configuration section `[modules.<name>]`.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    pub name: &'static str,
    pub description: &'static str,
    pub check: fn(&Json) -> Result<(), String>,
}

/// A positive integer setting.
pub fn positive_integer(value: &Json) -> Result<(), String> {
    match value.as_i64() {
        Some(n) if n > 0 => Ok(()),
        _ => Err("expected a positive integer".to_string()),
    }
}

/// A block a module adds to the page of one task (the task page asks every enabled module).
#[derive(Debug, Clone, Default)]
pub struct TaskPanel {
    /// The block's element id.
    pub id: &'static str,
    pub title: String,
    pub notes: Vec<String>,
    pub columns: Vec<String>,
    /// Cells with their links.
    pub rows: Vec<Vec<(String, Option<String>)>>,
}

/// A page family.
pub trait Module: Send + Sync + 'static {
    /// The name configuration uses (`[modules] enabled = [...]`, `PANDAMON_MODULES`).
    fn name(&self) -> &'static str;
    /// One line for `pandamon modules`.
    fn description(&self) -> &'static str;
    fn routes(&self) -> Vec<Route>;
    fn nav(&self) -> Vec<NavEntry> {
        Vec::new()
    }
    /// The selection vocabularies the module's pages read (checked against the catalogue).
    fn vocabularies(&self) -> Vec<&'static Vocabulary> {
        Vec::new()
    }
    /// The PanDA tables the module's pages read besides the job tables (which every page and
    /// `serve` itself need). A database without one of them still serves the module's other
    /// pages; `/healthz`, `pandamon schema check` and the module's pages say which are missing.
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }
    /// The keys of `[modules.<name>]` the module understands.
    fn config_keys(&self) -> &'static [ConfigKey] {
        &[]
    }
    /// Tasks to run beside the server while the module is on.
    fn background(&self) -> Vec<BackgroundTask> {
        Vec::new()
    }
    /// Blocks the module adds to the page of task `jeditaskid` (none by default). A failing
    /// module's block is left out, with a note, never the page.
    fn task_panels<'a>(
        &'a self,
        _state: &'a AppState,
        _jeditaskid: i64,
    ) -> BoxFuture<'a, crate::kit::error::AppResult<Vec<TaskPanel>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// What the module adds to `/healthz` under `modules.<name>`.
    fn health<'a>(&'a self, _state: &'a AppState) -> BoxFuture<'a, Option<Json>> {
        Box::pin(async { None })
    }
}
