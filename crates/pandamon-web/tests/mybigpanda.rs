//! MyBigPanDA (`/user/<name>/`) on every backend: a user's tasks, files, jobs and errors
//! against independent SQL, matched by login and by full name.

mod common;
use common::{count, get, get_json, get_redirect, simulated_recently, sum};

use axum::http::StatusCode;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;

async fn simulated(test: &TestDb) -> (pandamon_store::Db, i64) {
    simulated_recently(test, 5_000, 17).await
}

fn since(days: i64) -> String {
    chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - days * 86_400, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The user's jobs of the last 7 days in the three job tables, for [`count`].
fn user_jobs(user: &str, extra: &str) -> String {
    let union = ["{jobsdefined4}", "{jobsactive4}", "{jobsarchived4}"]
        .iter()
        .map(|t| {
            format!(
                "SELECT * FROM {t} WHERE produsername = '{user}' AND modificationtime >= '{}'",
                since(7)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!("SELECT COUNT(*) FROM ({union}) j WHERE 1 = 1 {extra}")
}

async fn user_overview_matches_sql(test: &TestDb) {
    let (db, _) = simulated(test).await;
    let state = AppState::new(db.clone(), None);
    // The analysis user with the most tasks.
    let users = get_json(&state, "/users/?json&days=7").await;
    let user = users
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|u| {
            (
                u["tasks"].as_i64().unwrap(),
                u["name"].as_str().unwrap().to_string(),
            )
        })
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/user/{}/", user.replace(' ', "%20"));
    let json = get_json(&state, &format!("{path}?json")).await;
    assert_eq!(json["user"], user.as_str());

    // Tasks of the window.
    let tasks = json["mytasks"].as_array().unwrap();
    let sql_tasks = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM {{jedi_tasks}} WHERE username = '{user}' AND modificationtime >= '{}'",
            since(7)
        ),
    )
    .await;
    assert!(sql_tasks > 0);
    assert_eq!(tasks.len() as i64, sql_tasks);
    let by_status: i64 = json["taskstatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_i64().unwrap())
        .sum();
    assert_eq!(by_status, sql_tasks);
    let aged: i64 = json["agehistogram"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s[1].as_array().unwrap())
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(aged, sql_tasks, "every task in one age bin");
    for t in tasks {
        let id = t["jeditaskid"].as_i64().unwrap();
        let files = |column: &str| {
            format!(
                "SELECT {} FROM {{jedi_datasets}} WHERE jeditaskid = {id} AND type = 'input'",
                sum(&db, column)
            )
        };
        assert_eq!(
            t["files_total"].as_i64().unwrap(),
            count(&db, &files("nfiles")).await
        );
        assert_eq!(
            t["files_finished"].as_i64().unwrap(),
            count(&db, &files("nfilesfinished")).await
        );
        // The most common error: its count is the task's failing jobs with that code.
        if let Some(e) = t["top_error"].as_object() {
            let error = e["error"].as_str().unwrap();
            if let Some(code) = error.strip_prefix("pilot:") {
                let n = count(
                    &db,
                    &user_jobs(
                        &user,
                        &format!("AND jeditaskid = {id} AND piloterrorcode = {code} AND jobstatus IN ('failed', 'holding')"),
                    ),
                )
                .await;
                assert_eq!(e["count"].as_i64().unwrap(), n, "{error} of task {id}");
            }
            let log = e["log"].as_str().unwrap();
            assert!(
                log.starts_with("/file/?lfn=") || log.starts_with("/job/"),
                "{log}"
            );
        }
    }

    // Jobs of the window, by status, and the metrics over finished and failed ones.
    let total: i64 = json["jobsummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, count(&db, &user_jobs(&user, "")).await);
    let metrics = &json["metrics"];
    assert_eq!(
        metrics["failed"].as_i64().unwrap(),
        count(&db, &user_jobs(&user, "AND jobstatus = 'failed'")).await
    );
    assert_eq!(
        metrics["finished"].as_i64().unwrap(),
        count(&db, &user_jobs(&user, "AND jobstatus = 'finished'")).await
    );
    // The simulator records CPU time for finished jobs: the efficiency is computed.
    let efficiency = metrics["cpu_efficiency"]
        .as_f64()
        .expect("a CPU efficiency");
    assert!(efficiency > 0.0 && efficiency <= 100.0, "{efficiency}");
    let short = json["short_job_minutes"].as_i64().unwrap();
    if let Some(median) = metrics["median_duration_s"].as_i64() {
        assert_eq!(
            metrics["short_jobs"].as_bool().unwrap(),
            median < short * 60
        );
    }

    // The same user by login: the login in the user's task names.
    let login = tasks
        .iter()
        .filter_map(|t| t["taskname"].as_str())
        .find_map(|n| n.strip_prefix("user.").and_then(|r| r.split('.').next()))
        .expect("analysis task names carry the login")
        .to_string();
    let by_login = get_json(&state, &format!("/user/{login}/?json")).await;
    let names: Vec<&str> = by_login["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&user.as_str()), "{names:?}");
    assert_eq!(
        by_login["mytasks"].as_array().unwrap().len() as i64,
        sql_tasks
    );

    // The page, the form without a name, bad input.
    let (status, html) = get(&state, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"user-tasks\"") && html.contains("id=\"user-metrics\""));
    let (status, html) = get(&state, "/user/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"name\""));
    // The busiest users of the window asked, which the page names; a bad window is a 400.
    let (status, html) = get(&state, "/user/?days=2").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Users with the most analysis jobs"),
        "users listed"
    );
    assert!(html.contains("modificationtime from"), "the window named");
    assert_eq!(
        get(&state, "/user/?days=two").await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, location) = get_redirect(&state, "/user/?name=Zoe%20Tanaka").await;
    assert!(status.is_redirection());
    assert_eq!(location.as_deref(), Some("/user/Zoe%20Tanaka/"));
    assert_eq!(
        get(&state, "/user/Nobody%20At%20All/").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = get(&state, &format!("{path}?days=0&json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("days"));
    db.close().await;
}
on_every_backend!(user_overview_matches_sql);
