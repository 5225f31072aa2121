//! The iDDS pages and endpoints on every backend, their numbers against independent SQL over the
//! simulated workflows.

mod common;
use common::{count, get, get_json, sum};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;

/// Everything the simulator made, whatever the day the test runs.
const ALL: &str = "days=3650";

async fn simulated(test: &TestDb) -> pandamon_store::Db {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 20_000,
            seed: 21,
            days: 3.0,
            now: 1_790_000_000,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    db
}

fn int(v: &Json, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} in {v}"))
}

async fn idds_numbers_match_sql(test: &TestDb) {
    let db = simulated(test).await;
    let state = AppState::new(db.clone(), None);

    // /idds/: every request with its transforms and their files.
    let json = get_json(&state, &format!("/idds/?json&{ALL}")).await;
    let requests = json["requests"].as_array().unwrap();
    let n = count(&db, "SELECT COUNT(*) FROM {requests}").await;
    assert!(n > 0, "the simulator made iDDS requests");
    assert_eq!(requests.len() as i64, n);
    let summed: i64 = json["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| int(s, "count"))
        .sum();
    assert_eq!(summed, n);
    for r in requests.iter().take(20) {
        let id = int(r, "request_id");
        let transforms = r["transforms"].as_array().unwrap();
        assert_eq!(
            transforms.len() as i64,
            count(
                &db,
                &format!("SELECT COUNT(*) FROM {{transforms}} WHERE request_id = {id}")
            )
            .await
        );
        for t in transforms {
            let tid = int(t, "transform_id");
            for (relation, key) in [(0, "input"), (1, "output")] {
                let total = count(
                    &db,
                    &format!(
                        "SELECT {} FROM {{collections}} WHERE transform_id = {tid} AND relation_type = {relation}",
                        sum(&db, "total_files")
                    ),
                )
                .await;
                let processed = count(
                    &db,
                    &format!(
                        "SELECT {} FROM {{collections}} WHERE transform_id = {tid} AND relation_type = {relation}",
                        sum(&db, "processed_files")
                    ),
                )
                .await;
                assert_eq!(int(&t[key], "total"), total, "{key} of {tid}");
                assert_eq!(int(&t[key], "processed"), processed, "{key} of {tid}");
            }
        }
    }

    // /idds/wfprogress/: tasks, input files, and JEDI's finished and failed input files.
    let progress = get_json(&state, &format!("/idds/wfprogress/?json&{ALL}")).await;
    let rows = progress["requests"].as_array().unwrap();
    assert_eq!(rows.len() as i64, n);
    for r in rows.iter().take(20) {
        let id = int(r, "request_id");
        let tasks = format!("SELECT workload_id FROM {{transforms}} WHERE request_id = {id}");
        assert_eq!(
            int(r, "total_tasks"),
            count(
                &db,
                &format!("SELECT COUNT(*) FROM {{transforms}} WHERE request_id = {id}")
            )
            .await
        );
        let by_status: i64 = r["tasks"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(by_status, int(r, "total_tasks"));
        let input = |column: &str| {
            format!(
                "SELECT {} FROM {{collections}} WHERE request_id = {id} AND relation_type = 0",
                sum(&db, column)
            )
        };
        assert_eq!(
            int(r, "total_files"),
            count(&db, &input("total_files")).await
        );
        assert_eq!(
            int(r, "unreleased_files"),
            count(&db, &input("new_files")).await
        );
        assert_eq!(
            int(r, "released_files") + int(r, "unreleased_files"),
            int(r, "total_files")
        );
        let jedi = |column: &str| {
            format!(
                "SELECT {} FROM {{jedi_datasets}} WHERE type = 'input' AND jeditaskid IN ({tasks})",
                sum(&db, column)
            )
        };
        assert_eq!(
            int(r, "finished_files"),
            count(&db, &jedi("nfilesfinished")).await
        );
        assert_eq!(
            int(r, "failed_files"),
            count(&db, &jedi("nfilesfailed")).await
        );
    }
    for key in ["bystatus", "byuser"] {
        let total: i64 = progress[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| int(s, "requests"))
            .sum();
        assert_eq!(total, n, "{key} adds up to every request");
    }

    // The JSON endpoints, one request down to its files.
    let request = int(&requests[0], "request_id");
    let transforms = get_json(&state, &format!("/idds/transforms/?requestid={request}")).await;
    let transforms = transforms.as_array().unwrap();
    assert_eq!(
        transforms.len() as i64,
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {{transforms}} WHERE request_id = {request}")
        )
        .await
    );
    let transform = int(&transforms[0], "transform_id");
    assert!(transforms[0]["status_name"].is_string());
    let collections = get_json(
        &state,
        &format!("/idds/collections/?transform_id={transform}"),
    )
    .await;
    let collections = collections.as_array().unwrap();
    assert_eq!(
        collections.len() as i64,
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {{collections}} WHERE transform_id = {transform}")
        )
        .await
    );
    let processings = get_json(
        &state,
        &format!("/idds/processings/?transform_id={transform}"),
    )
    .await;
    assert_eq!(
        processings.as_array().unwrap().len() as i64,
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {{processings}} WHERE transform_id = {transform}")
        )
        .await
    );
    let output = collections
        .iter()
        .find(|c| int(c, "relation_type") == 1)
        .expect("an output collection");
    let coll = int(output, "coll_id");
    let contents = get_json(&state, &format!("/idds/contents/?coll_id={coll}")).await;
    assert_eq!(
        contents.as_array().unwrap().len() as i64,
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {{contents}} WHERE coll_id = {coll}")
        )
        .await
    );
    let task = int(&transforms[0], "workload_id");
    let for_task = get_json(&state, &format!("/idds/getiddsfortask/?jeditaskid={task}")).await;
    let for_task = for_task.as_array().unwrap();
    assert_eq!(for_task.len(), 1);
    assert_eq!(int(&for_task[0], "transform_id"), transform);
    assert_eq!(
        for_task[0]["collections"].as_array().unwrap().len(),
        collections.len()
    );

    // The workflow graph: a node per transform, an edge per parent, the tasks' statuses.
    let dag = get_json(
        &state,
        &format!("/idds/daggraph/?idds_request_id={request}&json"),
    )
    .await;
    let nodes = dag["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), transforms.len());
    // Edges: each declared parent, and each step reading a collection another step writes.
    assert_eq!(
        dag["edges"].as_array().unwrap().len() as i64,
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM (\
                 SELECT parent_transform_id AS a, transform_id AS b FROM {{transforms}} \
                 WHERE request_id = {request} AND parent_transform_id IS NOT NULL \
                 UNION SELECT w.transform_id, r.transform_id FROM {{collections}} r \
                 JOIN {{collections}} w ON w.scope = r.scope AND w.name = r.name \
                 WHERE r.request_id = {request} AND w.request_id = {request} \
                 AND r.relation_type = 0 AND w.relation_type = 1 \
                 AND w.transform_id <> r.transform_id) edges"
            )
        )
        .await
    );
    for node in nodes {
        let task = int(node, "jeditaskid");
        let status = node["status"].as_str().unwrap();
        assert_eq!(
            count(
                &db,
                &format!("SELECT COUNT(*) FROM {{jedi_tasks}} WHERE jeditaskid = {task} AND status = '{status}'")
            )
            .await,
            1,
            "node of task {task} has the task's status"
        );
        // Progress is the task's input files, as JEDI counts them.
        let input = |column: &str| {
            format!(
                "SELECT {} FROM {{jedi_datasets}} WHERE jeditaskid = {task} AND type = 'input'",
                sum(&db, column)
            )
        };
        assert_eq!(
            int(node, "done"),
            count(&db, &input("nfilesfinished")).await
        );
        assert_eq!(int(node, "total"), count(&db, &input("nfiles")).await);
        assert!(int(node, "done") <= int(node, "total"));
    }
    assert!(
        dag["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["cycle"] == false)
    );
    let (status, _) = get(&state, "/idds/daggraph/?idds_request_id=1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The task page shows its workflow, linked to the request.
    let (status, html) = get(&state, &format!("/task/{task}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("id=\"task-idds\""),
        "the task page has its iDDS block"
    );
    assert!(html.contains(&format!("/idds/wfprogress/?request_id={request}")));

    // Filters narrow the pages; bad input is a 400 naming the parameter.
    let one = get_json(
        &state,
        &format!("/idds/wfprogress/?json&{ALL}&request_id={request}"),
    )
    .await;
    assert_eq!(one["requests"].as_array().unwrap().len(), 1);
    let finished = count(&db, "SELECT COUNT(*) FROM {requests} WHERE status = 3").await;
    let only = get_json(&state, &format!("/idds/?json&{ALL}&status=Finished")).await;
    assert_eq!(only["requests"].as_array().unwrap().len() as i64, finished);
    for (uri, param) in [
        ("/idds/transforms/", "requestid"),
        ("/idds/contents/?coll_id=abc", "coll_id"),
        ("/idds/?status=Bogus", "status"),
        ("/idds/wfprogress/?days=-1", "days"),
    ] {
        let (status, body) = get(
            &state,
            &format!("{uri}{}json", if uri.contains('?') { "&" } else { "?" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body.contains(param), "{uri}: {body}");
    }
    let (status, html) = get(&state, &format!("/idds/wfprogress/?{ALL}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"wf-requests\""));
    let (status, html) = get(&state, &format!("/idds/?{ALL}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"idds-requests\""));
    db.close().await;
}
on_every_backend!(idds_numbers_match_sql);
