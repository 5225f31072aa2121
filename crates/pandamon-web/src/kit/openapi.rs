//! `GET /api/openapi.json`: an OpenAPI 3.1 document generated from the routes the enabled
//! modules register, their selection vocabularies and the types of their JSON answers.

use crate::kit::module::{Param, ParamType, Route, RouteDoc};
use crate::kit::state::AppState;
use axum::Json;
use axum::extract::State;
use pandamon_query::fields::{Kind, Vocabulary};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value as Json_, json};

/// Parameters every selection-reading page takes, beyond its vocabulary's fields.
const SELECTION_PARAMS: &[Param] = &[
    Param::query("hours", ParamType::Integer, "window: the last N hours"),
    Param::query("days", ParamType::Integer, "window: the last N days"),
    Param::query(
        "date_from",
        ParamType::Text,
        "window start, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)",
    ),
    Param::query(
        "date_to",
        ParamType::Text,
        "window end, same format as date_from",
    ),
    Param::query(
        "earlierthan",
        ParamType::Integer,
        "only objects older than N hours",
    ),
    Param::query(
        "earlierthandays",
        ParamType::Integer,
        "only objects older than N days",
    ),
    Param::query(
        "sortby",
        ParamType::Text,
        "sort key, optionally with -asc or -desc",
    ),
    Param::query(
        "limit",
        ParamType::Integer,
        "at most N objects in the whole selection",
    ),
    Param::query("display_limit", ParamType::Integer, "objects per page"),
    Param::query("page", ParamType::Integer, "page number, from 1"),
    Param::query(
        "fields",
        ParamType::Text,
        "comma list of the columns each listed object carries",
    ),
];

/// `?json`, which every route takes.
const JSON_PARAM: Param = Param::query(
    "json",
    ParamType::Flag,
    "answer JSON instead of HTML (so does Accept: application/json)",
);

fn param_schema(ty: ParamType) -> Json_ {
    match ty {
        ParamType::Text => json!({"type": "string"}),
        ParamType::Integer => json!({"type": "integer"}),
        ParamType::IntegerList => {
            json!({"type": "string", "pattern": "^(!?-?[0-9]+([|,]!?-?[0-9]+)*|Not specified)$"})
        }
        ParamType::Flag => json!({"type": "string"}),
    }
}

fn param_json(p: &Param) -> Json_ {
    let mut out = json!({
        "name": p.name,
        "in": if p.in_path { "path" } else { "query" },
        "required": p.required || p.in_path,
        "description": p.description,
        "schema": param_schema(p.ty),
    });
    if p.ty == ParamType::Flag {
        out["allowEmptyValue"] = Json_::Bool(true);
    }
    out
}

/// A query parameter whose description is made at run time.
fn described(name: &str, ty: ParamType, description: String) -> Json_ {
    let mut p = param_json(&Param::query("", ty, ""));
    p["name"] = Json_::from(name);
    p["description"] = Json_::from(description);
    p
}

fn vocabulary_params(vocabulary: &Vocabulary) -> Vec<Json_> {
    let mut out: Vec<Json_> = Vec::new();
    for field in vocabulary.fields {
        let (ty, how) = match field.kind {
            Kind::Int => (
                ParamType::IntegerList,
                "integers; | or , lists, ! negates, 'Not specified' for none",
            ),
            Kind::Text => (ParamType::Text, "text; * wildcards, | OR, , AND, ! negates"),
            Kind::Contains => (
                ParamType::Text,
                "text matched as a case-insensitive substring",
            ),
            Kind::Status => (ParamType::Text, "status names; | or , lists, ! negates"),
        };
        out.push(described(
            field.param,
            ty,
            format!("{} ({how})", field.column),
        ));
    }
    for derived in vocabulary.derived {
        out.push(described(
            derived.param(),
            ParamType::Text,
            derived.description().to_string(),
        ));
    }
    for (param, column) in vocabulary.ranges {
        out.push(described(
            param,
            ParamType::Text,
            format!("{column} between lo:hi (either side may be empty)"),
        ));
    }
    for column in vocabulary.time_columns {
        out.push(described(
            &format!("{column}range"),
            ParamType::Text,
            format!("{column} between two times, from|to"),
        ));
    }
    out.extend(SELECTION_PARAMS.iter().map(param_json));
    out
}

/// The operation of one route. The parameters of its vocabulary are defined once under
/// `components/parameters` (as `<vocabulary>.<name>`) and referred to.
fn operation(
    module: &str,
    path: &str,
    doc: &RouteDoc,
    generator: &mut schemars::SchemaGenerator,
    shared: &mut Map<String, Json_>,
) -> Json_ {
    let mut params: Vec<Json_> = doc
        .params
        .iter()
        .filter(|p| !p.in_form)
        .map(param_json)
        .collect();
    if let Some(vocabulary) = doc.vocabulary {
        let own: Vec<&str> = doc.params.iter().map(|p| p.name).collect();
        for p in vocabulary_params(vocabulary) {
            let name = p["name"].as_str().unwrap_or_default().to_string();
            if own.contains(&name.as_str()) {
                continue;
            }
            let id = format!("{}.{name}", vocabulary.name);
            params.push(json!({"$ref": format!("#/components/parameters/{id}")}));
            shared.insert(id, p);
        }
    }
    if doc.html {
        params.push(param_json(&JSON_PARAM));
    }
    let schema = serde_json::to_value((doc.response)(generator)).unwrap_or(Json_::Null);
    let mut content = Map::new();
    content.insert("application/json".into(), json!({"schema": schema}));
    if doc.html {
        content.insert("text/html".into(), json!({"schema": {"type": "string"}}));
    }
    let error = json!({"$ref": "#/components/responses/Error"});
    let form: Map<String, Json_> = doc
        .params
        .iter()
        .filter(|p| p.in_form)
        .map(|p| {
            let mut schema = param_schema(p.ty);
            schema["description"] = Json_::from(p.description);
            (p.name.to_string(), schema)
        })
        .collect();
    let mut op = json!({
        "tags": [module],
        "summary": doc.summary,
        "operationId": format!("{module}{}", path.replace(['/', '{', '}'], "_")),
        "parameters": params,
        "responses": {
            "200": {"description": doc.summary, "content": content},
            "400": error, "404": error, "503": error,
        },
    });
    if !form.is_empty() {
        let required: Vec<&str> = doc
            .params
            .iter()
            .filter(|p| p.in_form && p.required)
            .map(|p| p.name)
            .collect();
        op["requestBody"] = json!({"content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": form, "required": required,
        }}}});
    }
    op
}

/// The method of a route: `post` when it reads a form.
fn method(doc: &RouteDoc) -> &'static str {
    if doc.params.iter().any(|p| p.in_form) {
        "post"
    } else {
        "get"
    }
}

/// The document for the routes of the enabled modules.
pub fn document(state: &AppState) -> Json_ {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    let mut paths = Map::new();
    let mut parameters = Map::new();
    let mut tags = Vec::new();
    let platform: Vec<(&str, Route)> = crate::kit::platform_routes()
        .into_iter()
        .map(|r| ("platform", r))
        .collect();
    let modules = state
        .modules
        .iter()
        .flat_map(|m| m.routes().into_iter().map(move |r| (m.name(), r)));
    for m in state.modules.iter() {
        tags.push(json!({"name": m.name(), "description": m.description()}));
    }
    tags.push(
        json!({"name": "platform", "description": "health, the API document and static assets"}),
    );
    for (module, route) in modules.chain(platform) {
        let op = operation(
            module,
            route.path,
            &route.doc,
            &mut generator,
            &mut parameters,
        );
        let mut item = Map::new();
        item.insert(method(&route.doc).to_string(), op);
        paths.insert(route.path.to_string(), Json_::Object(item));
    }
    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pandamon",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The PanDA monitor's pages as JSON, on bigmon's URLs and keys. Every page answers JSON with ?json or Accept: application/json.",
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": parameters,
            "responses": {
                "Error": {
                    "description": "a bad parameter (400, naming it), nothing found (404) or the database unavailable (503)",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["error", "errors"],
                        "properties": {
                            "error": {"type": "string", "description": "the message, under bigmon's key"},
                            "errors": {"type": "array", "items": {
                                "type": "object", "required": ["detail"],
                                "properties": {"detail": {"type": "string"}},
                            }},
                        },
                    }}},
                },
            },
        },
    })
}

pub async fn serve_document(State(state): State<AppState>) -> Json<Json_> {
    Json(document(&state))
}
