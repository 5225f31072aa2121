//! The Harvester module on every backend: every count against independent SQL, worker ↔ job
//! links both ways, bad input.

mod common;
use common::{count, get, get_json, get_redirect};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;

const NOW: i64 = 1_790_000_000;
const WINDOW: &str = "date_from=2026-09-19T14:13:20&date_to=2026-09-21T14:13:20";
const IN_WINDOW: &str =
    "submittime >= '2026-09-19 14:13:20' AND submittime <= '2026-09-21 14:13:20'";

fn facet<'a>(summary: &'a Json, field: &str) -> &'a Vec<Json> {
    summary["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .unwrap_or_else(|| panic!("no {field} facet in {summary}"))["list"]
        .as_array()
        .unwrap()
}

async fn harvester_views_match_independent_counts(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 3_000,
            seed: 23,
            days: 2.0,
            now: NOW,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);

    // The summary covers every worker of the window, facet by facet.
    let summary = get_json(&state, &format!("/harvester/workers/?json&{WINDOW}")).await;
    let total = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{harvester_workers}} WHERE {IN_WINDOW}"),
    )
    .await;
    assert!(total > 100, "the simulator made too few workers: {total}");
    assert_eq!(summary["totalworkers"].as_i64().unwrap(), total);
    for field in [
        "status",
        "computingsite",
        "resourcetype",
        "harvesterid",
        "jobtype",
    ] {
        let list = facet(&summary, field);
        let sum: i64 = list.iter().map(|e| e["kvalue"].as_i64().unwrap()).sum();
        assert_eq!(sum, total, "{field} facet sums to the total");
        let first = &list[0];
        if let Some(value) = first["kname"].as_str().filter(|v| *v != "Not specified") {
            let expected = count(
                &db,
                &format!(
                    "SELECT COUNT(*) FROM {{harvester_workers}} WHERE {IN_WINDOW} AND {field} = '{value}'"
                ),
            )
            .await;
            assert_eq!(
                first["kvalue"].as_i64().unwrap(),
                expected,
                "{field}={value}"
            );
            // The drill-down: the same count with the value as a filter.
            let narrowed = get_json(
                &state,
                &format!("/harvester/workers/?json&{WINDOW}&{field}={value}"),
            )
            .await;
            assert_eq!(narrowed["totalworkers"].as_i64().unwrap(), expected);
        }
    }
    // The jobs of those workers, by status, against SQL over every job table.
    let mut jobs_by_sql = 0;
    for table in [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ] {
        jobs_by_sql += count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{{table}}} j WHERE j.pandaid IN (SELECT r.pandaid FROM {{harvester_rel_jobs_workers}} r JOIN {{harvester_workers}} w ON w.harvesterid = r.harvesterid AND w.workerid = r.workerid WHERE w.{IN_WINDOW})"
            ),
        )
        .await;
    }
    assert!(jobs_by_sql > 0);
    assert_eq!(summary["njobs"].as_i64().unwrap(), jobs_by_sql);
    let by_status: i64 = summary["jobsummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .sum();
    assert_eq!(by_status, jobs_by_sql);
    // Timeline and list agree with the total.
    let per_hour: i64 = summary["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["count"].as_i64().unwrap())
        .sum();
    assert_eq!(per_hour, total);
    assert_eq!(
        summary["workers"].as_array().unwrap().len() as i64,
        total.min(summary["display_limit"].as_i64().unwrap())
    );

    // Instances: every instance row, its workers in the window by status.
    let instances = get_json(&state, &format!("/harvester/instances/?json&{WINDOW}")).await;
    let listed = instances["instances"].as_array().unwrap();
    assert_eq!(
        listed.len() as i64,
        count(&db, "SELECT COUNT(*) FROM {harvester_instances}").await
    );
    let busiest = listed
        .iter()
        .max_by_key(|i| i["nworkers"].as_i64().unwrap())
        .unwrap();
    let id = busiest["harvester_id"].as_str().unwrap();
    assert_eq!(
        busiest["nworkers"].as_i64().unwrap(),
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{harvester_workers}} WHERE {IN_WINDOW} AND harvesterid = '{id}'"
            )
        )
        .await
    );
    let of_instance = get_json(
        &state,
        &format!("/harvester/workers/?json&{WINDOW}&instance={id}"),
    )
    .await;
    assert_eq!(of_instance["instance"]["harvester_id"], id);
    assert_eq!(
        of_instance["workerstats"].as_array().unwrap().len() as i64,
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {{harvester_worker_stats}} WHERE harvester_id = '{id}'")
        )
        .await
    );
    let dialogs = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{harvester_dialogs}} WHERE harvester_id = '{id}'"),
    )
    .await;
    assert_eq!(
        of_instance["diagnostics"].as_array().unwrap().len() as i64,
        dialogs.min(100)
    );

    // A worker with jobs: its page lists them, and each job leads back to the worker.
    let worker = of_instance["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["njobs"].as_i64().unwrap_or(0) > 0)
        .expect("a worker with jobs");
    let workerid = worker["workerid"].as_i64().unwrap();
    let page = get_json(
        &state,
        &format!("/harvester/worker/{workerid}/?json&harvesterid={id}"),
    )
    .await;
    assert_eq!(page["workerinfo"]["workerid"], workerid);
    let related = count(
        &db,
        &format!("SELECT COUNT(*) FROM {{harvester_rel_jobs_workers}} WHERE harvesterid = '{id}' AND workerid = {workerid}"),
    )
    .await;
    let jobs = page["jobs"].as_array().unwrap();
    assert_eq!(
        jobs.len() as i64 + page["missingjobs"].as_array().unwrap().len() as i64,
        related
    );
    let pandaid = jobs[0]["pandaid"].as_i64().unwrap();
    let (code, location) =
        get_redirect(&state, &format!("/harvester/worker/?pandaid={pandaid}")).await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert!(
        location.contains(&format!("/harvester/worker/{workerid}/")),
        "{location}"
    );
    let via_getjobs = get_json(
        &state,
        &format!("/harvester/getjobs/?harvesterid={id}&workerid={workerid}"),
    )
    .await;
    assert_eq!(via_getjobs.as_array().unwrap().len(), jobs.len());

    // Workers of the task of that job.
    let task = jobs[0]["jeditaskid"].as_i64().unwrap();
    let task_workers = get_json(&state, &format!("/workersfortask/?json&jeditaskid={task}")).await;
    let rows = task_workers.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|w| w["workerid"] == workerid && w["harvesterid"] == id)
    );
    let mut expected_jobs = 0;
    for table in [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ] {
        expected_jobs += count(
            &db,
            &format!("SELECT COUNT(*) FROM {{harvester_rel_jobs_workers}} r JOIN {{{table}}} j ON j.pandaid = r.pandaid WHERE j.jeditaskid = {task}"),
        )
        .await;
    }
    assert_eq!(
        rows.iter()
            .map(|w| w["njobs"].as_i64().unwrap())
            .sum::<i64>(),
        expected_jobs
    );

    // Slots, diagnostics and statistics sub-endpoints.
    let slots = get_json(&state, "/harvester/slots/?json").await;
    assert_eq!(
        slots.as_array().unwrap().len() as i64,
        count(&db, "SELECT COUNT(*) FROM {harvester_slots}").await
    );
    let diag = get_json(
        &state,
        &format!("/harvester/getdiagnostics/?harvesterid={id}"),
    )
    .await;
    assert_eq!(diag.as_array().unwrap().len() as i64, dialogs.min(100));
    let listed = get_json(
        &state,
        &format!("/harvester/getworkers/?{WINDOW}&display_limit_workers=7"),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len() as i64, total.min(7));

    // HTML: the summary page links every facet value, and workers to their pages.
    let (code, html) = get(
        &state,
        &format!("/harvester/workers/?{WINDOW}&instance={id}"),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains(&format!("/harvester/worker/{workerid}/?harvesterid={id}")));
    assert!(html.contains("id=\"attribute-summary\""));
    db.close().await;
}
on_every_backend!(harvester_views_match_independent_counts);

async fn harvester_bad_input_is_a_clear_error(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let state = AppState::new(db.clone(), None);
    let (code, body) = get(&state, "/harvester/worker/12/?json&harvesterid=nowhere").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body.contains("worker 12 of instance nowhere"), "{body}");
    let (code, body) = get(&state, "/harvester/worker/abc/").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("workerid") && body.contains("<html"),
        "{body}"
    );
    let (code, body) = get(&state, "/harvester/workers/?json&hours=x").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("hours"), "{body}");
    let (code, body) = get(&state, "/harvester/getworkers/?display_limit_workers=0").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("display_limit_workers"), "{body}");
    let (code, body) = get(&state, "/harvester/getdiagnostics/?json").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("harvesterid"), "{body}");
    let (code, body) = get(&state, "/workersfortask/?json").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("jeditaskid"), "{body}");
    let (code, _) = get(&state, "/harvester/worker/?json&pandaid=5").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, body) = get(&state, "/harvester/workers/?instance=nowhere").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(
        body.contains("Harvester instance nowhere") && body.contains("<html"),
        "{body}"
    );
    let (code, body) = get(&state, "/harvester/workers/?json&instance=nowhere").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body.contains("\"errors\""), "{body}");
    // An empty database: the pages render and say there is nothing.
    let (code, html) = get(&state, "/harvester/workers/").await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("No workers match this selection."));
    db.close().await;
}
on_every_backend!(harvester_bad_input_is_a_clear_error);

/// The worker summary from the live index equals the one the database gives.
async fn harvester_summary_from_the_index_equals_sql(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 3_000,
            seed: 29,
            days: 2.0,
            now: chrono::Utc::now().timestamp(),
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let live = pandamon_live::sync::LiveIndex::new(3.0);
    let mut syncer = pandamon_live::sync::Syncer::new(db.clone(), live.clone());
    syncer.load().await.unwrap();
    let plain = AppState::new(db.clone(), None);
    let indexed = AppState::new(db.clone(), None).with_index(live);
    // Absolute windows, so that both answers cover the same seconds.
    let to = chrono::Utc::now().naive_utc();
    let from = to - chrono::Duration::hours(30);
    let window = format!(
        "date_from={}&date_to={}",
        from.format("%Y-%m-%dT%H:%M:%S"),
        to.format("%Y-%m-%dT%H:%M:%S")
    );
    for filter in [
        "",
        "&status=running|finished",
        "&instance=CERN_*",
        "&resourcetype=!SCORE",
    ] {
        let uri = format!("/harvester/workers/?json&{window}{filter}");
        let a = get_json(&plain, &uri).await;
        let b = get_json(&indexed, &uri).await;
        assert_eq!(a["source"], "database");
        assert_eq!(b["source"], "index", "{uri}");
        assert!(a["totalworkers"].as_i64().unwrap() > 0 || !filter.is_empty());
        for key in ["totalworkers", "summary", "timeline", "njobs"] {
            let (mut x, mut y) = (a[key].clone(), b[key].clone());
            for v in [&mut x, &mut y] {
                if let Json::Array(items) = v {
                    items.sort_by_key(|i| i.to_string());
                    for item in items.iter_mut() {
                        if let Some(Json::Array(list)) = item.get_mut("list") {
                            list.sort_by_key(|i| i.to_string());
                        }
                    }
                }
            }
            assert_eq!(x, y, "{key} of {uri}");
        }
    }
    db.close().await;
}
on_every_backend!(harvester_summary_from_the_index_equals_sql);

/// Past 50 000 workers the page does not join them all to the jobs: it says so and how to
/// narrow, and still counts the workers themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_wide_worker_selection_leaves_the_jobs_uncounted() {
    let test = TestDb::new(pandamon_testkit::Backend::Sqlite, "harvester_many").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    pandamon_sim::workers::add_workers(&db, 50_500, 20.0, now, 3)
        .await
        .unwrap();
    let state = AppState::new(db.clone(), None);
    let all = get_json(&state, "/harvester/workers/?json&hours=24").await;
    assert_eq!(all["totalworkers"], 50_500);
    assert!(all["njobs"].is_null());
    assert!(
        all["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("not counted")),
        "{}",
        all["notes"]
    );
    let narrow = get_json(&state, "/harvester/workers/?json&hours=24&status=failed").await;
    assert_eq!(narrow["njobs"], 0, "workers without jobs ran none");
    let (code, html) = get(&state, "/harvester/workers/?hours=24").await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("Not counted for this many workers"));
    db.close().await;
    test.cleanup().await;
}
