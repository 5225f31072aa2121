//! JSON shapes as snapshots (insta): what bigmon clients parse must not change by accident. The
//! simulated workload is pinned by seed and time; volatile fields are redacted.

mod common;
use common::get_json;

use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{Backend, TestDb};
use pandamon_web::AppState;
use serde_json::Value as Json;

/// bigmon's top-level keys per view (`bigmon-features.md` §2, "JSON shapes"): each view's JSON
/// carries every one of them with bigmon's value type; what pandamon adds is under other keys.
const BIGMON_KEYS: &[(&str, &[(&str, Kind)])] = &[
    (
        "/jobs/",
        &[
            ("selectionsummary", Kind::Array),
            ("jobs", Kind::Array),
            ("errsByCount", Kind::Array),
        ],
    ),
    (
        "/job/",
        &[
            ("job", Kind::Object),
            ("files", Kind::Array),
            ("dsfiles", Kind::Array),
        ],
    ),
    (
        "/task/",
        &[
            ("task", Kind::Object),
            ("taskparams", Kind::Any),
            ("datasets", Kind::Array),
        ],
    ),
    (
        "/errors/",
        &[
            ("jobSummary", Kind::Array),
            ("errsByCount", Kind::Array),
            ("errsBySite", Kind::Array),
            ("errsByUser", Kind::Array),
            ("errsByTask", Kind::Array),
        ],
    ),
    (
        "/dash/region/",
        &[
            ("regions", Kind::Object),
            ("sites", Kind::Object),
            ("queues", Kind::Object),
        ],
    ),
    (
        "/dash/world/",
        &[
            ("nucleuses", Kind::Object),
            ("nucleussummary", Kind::Object),
            ("statelist", Kind::Array),
            ("built", Kind::String),
        ],
    ),
    (
        "/harvester/workers/",
        &[("summary", Kind::Any), ("workers", Kind::Array)],
    ),
    ("/harvester/instances/", &[("instances", Kind::Array)]),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Array,
    Object,
    String,
    Any,
}

/// Checks `json` (the answer of `view`) against bigmon's keys for the view.
fn follows_bigmon(view: &str, json: &Json) {
    let (_, keys) = BIGMON_KEYS
        .iter()
        .find(|(v, _)| *v == view)
        .unwrap_or_else(|| panic!("no bigmon key list for {view}"));
    for (key, kind) in *keys {
        let value = json
            .get(key)
            .unwrap_or_else(|| panic!("{view}: bigmon's key {key} is missing"));
        let ok = match kind {
            Kind::Array => value.is_array(),
            Kind::Object => value.is_object(),
            Kind::String => value.is_string(),
            Kind::Any => true,
        };
        assert!(ok, "{view}: {key} is not {kind:?}: {value}");
    }
}

/// Keeps the first `n` entries of every array, so a snapshot shows shapes and leading values.
fn trim(value: &mut Json, n: usize) {
    match value {
        Json::Array(items) => {
            items.truncate(n);
            items.iter_mut().for_each(|v| trim(v, n));
        }
        Json::Object(map) => map.values_mut().for_each(|v| trim(v, n)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shapes() {
    let test = TestDb::new(Backend::Sqlite, "snapshots").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 800,
            seed: 41,
            days: 1.0,
            now: 1_790_000_000,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);
    let window = "date_from=2026-09-20T14:13:20&date_to=2026-09-21T14:13:20";

    let mut jobs = get_json(&state, &format!("/jobs/?json&{window}&display_limit=2&fields=pandaid,jobstatus,computingsite,modificationtime")).await;
    follows_bigmon("/jobs/", &jobs);
    trim(&mut jobs, 3);
    insta::assert_json_snapshot!("jobs", jobs, { ".datatime" => "[datatime]" });

    let pandaid = jobs["jobs"][0]["pandaid"].as_i64().unwrap();
    let mut job = get_json(&state, &format!("/job/{pandaid}/?json")).await;
    follows_bigmon("/job/", &job);
    trim(&mut job, 2);
    insta::assert_json_snapshot!("job", job);

    let mut errors = get_json(&state, &format!("/errors/?json&{window}")).await;
    follows_bigmon("/errors/", &errors);
    // bigmon's error keys name the component as its JSON does (`executor:65`), and `codename`
    // is the code's database column.
    for e in errors["errsByCount"].as_array().unwrap() {
        let (component, _) = e["error"].as_str().unwrap().split_once(':').unwrap();
        assert!(!matches!(component, "exe" | "ddm" | "sup"), "{e}");
        assert!(e["codename"].as_str().unwrap().ends_with("code"), "{e}");
    }
    trim(&mut errors, 2);
    insta::assert_json_snapshot!("errors", errors);

    let mut tasks = get_json(
        &state,
        &format!("/tasks/?json&{window}&fields=jeditaskid,status,taskname"),
    )
    .await;
    assert!(tasks.is_array(), "bigmon's /tasks/?json is a bare list");
    trim(&mut tasks, 3);
    insta::assert_json_snapshot!("tasks", tasks);

    let task = tasks[0]["jeditaskid"].as_i64().unwrap();
    follows_bigmon(
        "/task/",
        &get_json(&state, &format!("/task/{task}/?json")).await,
    );
    let region = get_json(&state, &format!("/dash/region/?json&{window}")).await;
    follows_bigmon("/dash/region/", &region);
    // region → job type → resource type → [{jobstatus, count}]
    let (_, jobtypes) = region["regions"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let counts = &jobtypes["all"]["all"][0];
    assert!(
        counts["jobstatus"].is_string() && counts["count"].is_i64(),
        "{counts}"
    );
    follows_bigmon(
        "/dash/world/",
        &get_json(&state, &format!("/dash/world/?json&{window}")).await,
    );
    assert!(
        get_json(&state, &format!("/users/?json&{window}"))
            .await
            .is_array()
    );
    follows_bigmon(
        "/harvester/workers/",
        &get_json(&state, &format!("/harvester/workers/?json&{window}")).await,
    );
    follows_bigmon(
        "/harvester/instances/",
        &get_json(&state, "/harvester/instances/?json").await,
    );
    // An error answers bigmon's {"error": message}.
    let (_, body) = common::get(&state, "/jobs/?json&hours=x").await;
    let error: Json = serde_json::from_str(&body).unwrap();
    assert!(error["error"].is_string(), "{body}");

    // The API document: every route, parameter and answer type; a change shows in review.
    let openapi = get_json(&state, "/api/openapi.json").await;
    insta::assert_json_snapshot!("openapi", openapi, { ".info.version" => "[version]" });
    db.close().await;
    test.cleanup().await;
}
