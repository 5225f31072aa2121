//! Event service (the job page's event ranges, the task page's event counts, `/dash/es/`,
//! `/jobs/?eventservice=`), the region dashboard's `splitby` and the users page's `sortby` and
//! `view`, on every backend against independent SQL counts.

mod common;
use common::{count, get, get_json, kind_total};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;

const NOW: i64 = 1_790_000_000;
/// The whole simulated history: event-service tasks are rare (about 1 in 150), so the test
/// looks at six days of 20 000 jobs, the long-term archive included.
const WINDOW: &str = "date_from=2026-09-15T14:13:20&date_to=2026-09-21T14:13:20";
const IN_WINDOW: &str =
    "modificationtime >= '2026-09-15 14:13:20' AND modificationtime <= '2026-09-21 14:13:20'";
const JOB_TABLES: [&str; 4] = [
    "jobsdefined4",
    "jobsactive4",
    "jobsarchived4",
    "jobsarchived",
];

/// Jobs of the window meeting `extra`.
async fn jobs(db: &pandamon_store::Db, extra: &str) -> i64 {
    let mut total = 0;
    for t in JOB_TABLES {
        total += count(
            db,
            &format!("SELECT COUNT(*) FROM {{{t}}} WHERE {IN_WINDOW} {extra}"),
        )
        .await;
    }
    total
}

async fn event_service_views_match_independent_counts(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 20_000,
            seed: 5,
            days: 6.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);
    const ES: &str = "AND eventservice IN (1, 2, 3, 4, 5, 6)";
    let es_total = jobs(&db, ES).await;
    assert!(es_total > 0, "the simulation made no event-service job");

    // /dash/es/: every event-service job of the window, by region and by queue and kind.
    let dash = get_json(&state, &format!("/dash/es/?json&{WINDOW}")).await;
    for level in ["regions", "queues"] {
        let sum: i64 = dash[level]
            .as_object()
            .unwrap()
            .values()
            .map(|e| kind_total(e, "all"))
            .sum();
        assert_eq!(sum, es_total, "{level}");
    }
    for (queue, entry) in dash["queues"].as_object().unwrap() {
        assert_eq!(
            kind_total(entry, "eventservice"),
            jobs(
                &db,
                &format!("AND computingsite = '{queue}' AND eventservice = 1")
            )
            .await,
            "{queue}"
        );
    }
    let (status, html) = get(&state, &format!("/dash/es/?{WINDOW}&splitby=jobtype")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<th>event service</th>"), "{html}");
    assert!(html.contains("eventservice=eventservice"));
    // Without a split, the links still count event-service jobs only.
    let (_, html) = get(&state, &format!("/dash/es/?{WINDOW}")).await;
    assert!(
        html.contains("&#38;eventservice=all&#38;cloud="),
        "links keep the kind"
    );
    assert!(html.contains("eventservice=all&#38;computingsite="));

    // /jobs/?eventservice= by name, as bigmon accepts it.
    let listed = get_json(
        &state,
        &format!("/jobs/?json&{WINDOW}&eventservice=eventservice|esmerge"),
    )
    .await;
    assert_eq!(
        listed["totaljobs"].as_i64().unwrap(),
        jobs(&db, "AND eventservice IN (1, 2)").await
    );

    // The job page: event ranges by status, as jedi_events holds them.
    let mut pick = None;
    for t in JOB_TABLES {
        let id = count(
            &db,
            &format!("SELECT COALESCE(MIN(pandaid), 0) FROM {{{t}}} WHERE eventservice = 1"),
        )
        .await;
        if id > 0 {
            pick = Some(id);
            break;
        }
    }
    let pandaid = pick.expect("an event-service job");
    let job = get_json(&state, &format!("/job/{pandaid}/?json")).await;
    let es = &job["eventservice"];
    assert_eq!(es["kind"], "eventservice");
    let ranges = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{jedi_events}} WHERE pandaid = {pandaid}"),
    )
    .await;
    assert!(ranges > 0);
    assert_eq!(es["ranges"].as_i64().unwrap(), ranges);
    for (code, name) in pandamon_model::EVENT_RANGE_STATUSES {
        let expected = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{jedi_events}} WHERE pandaid = {pandaid} AND status = {code}"
            ),
        )
        .await;
        let shown = es["bystatus"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["status"] == name)
            .map_or(0, |s| s["count"].as_i64().unwrap());
        assert_eq!(shown, expected, "{name}");
    }
    let (_, html) = get(&state, &format!("/job/{pandaid}/")).await;
    assert!(html.contains("id=\"job-events\""));

    // The task page: the task's event ranges by status.
    let task = job["job"]["jeditaskid"].as_i64().unwrap();
    let page = get_json(&state, &format!("/task/{task}/?json")).await;
    let shown: i64 = page["eventsummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .sum();
    assert_eq!(
        shown,
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {{jedi_events}} WHERE jeditaskid = {task}")
        )
        .await
    );
    let (_, html) = get(&state, &format!("/task/{task}/")).await;
    assert!(html.contains("id=\"task-events\""));
    // An ordinary task has no event summary.
    let ordinary = count(
        &db,
        "SELECT MIN(jeditaskid) FROM {jedi_tasks} WHERE eventservice = 0 OR eventservice IS NULL",
    )
    .await;
    let page = get_json(&state, &format!("/task/{ordinary}/?json")).await;
    assert_eq!(page["eventsummary"], Json::Array(Vec::new()));

    // /dash/region/?splitby=: the HTML splits rows by job type and resource type.
    let (status, html) = get(
        &state,
        &format!("/dash/region/?{WINDOW}&splitby=jobtype,resourcetype"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<th>job type</th><th>resource type</th>"));
    assert!(html.contains(">analysis</td>") && html.contains(">production</td>"));
    assert!(html.contains("jobtype=production&#38;resourcetype="));
    let (status, html) = get(&state, &format!("/dash/region/?{WINDOW}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("<th>job type</th>"));
    let (status, body) = get(&state, "/dash/region/?splitby=site&json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("splitby"), "{body}");

    // /users/: sortby=alpha|date|jobs, view=dynamic|database.
    let names = |list: &Json| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_string())
            .collect()
    };
    let alpha = get_json(&state, &format!("/users/?json&{WINDOW}&sortby=alpha")).await;
    let mut sorted = names(&alpha);
    sorted.sort();
    assert!(sorted.len() > 1);
    assert_eq!(names(&alpha), sorted);
    let by_date = get_json(&state, &format!("/users/?json&{WINDOW}&sortby=date")).await;
    let latest: Vec<i64> = by_date
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["latesttask"].as_i64().unwrap())
        .collect();
    assert!(latest.windows(2).all(|w| w[0] >= w[1]), "{latest:?}");
    let top = &by_date[0];
    let name = top["name"].as_str().unwrap().replace('\'', "''");
    assert_eq!(
        top["latesttask"].as_i64().unwrap(),
        jobs_max_task(&db, &name).await
    );
    let database = get_json(&state, "/users/?json&view=database&sortby=alpha").await;
    assert_eq!(
        database.as_array().unwrap().len() as i64,
        count(&db, "SELECT COUNT(*) FROM {users}").await
    );
    let mut sorted = names(&database);
    sorted.sort();
    assert_eq!(names(&database), sorted);
    let (status, html) = get(&state, "/users/?view=database").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"users-database\""));
    for bad in ["/users/?sortby=size", "/users/?view=static"] {
        let (status, html) = get(&state, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(html.contains("<html"), "{bad}: a browser gets a page");
    }
    db.close().await;
}

/// The highest task id of a user's analysis jobs in the window.
async fn jobs_max_task(db: &pandamon_store::Db, name: &str) -> i64 {
    let mut max = 0;
    for t in JOB_TABLES {
        max = max.max(
            count(
                db,
                &format!(
                    "SELECT COALESCE(MAX(jeditaskid), 0) FROM {{{t}}} WHERE {IN_WINDOW} \
                     AND produsername = '{name}' AND prodsourcelabel IN ('user', 'panda')"
                ),
            )
            .await,
        );
    }
    max
}
on_every_backend!(event_service_views_match_independent_counts);
