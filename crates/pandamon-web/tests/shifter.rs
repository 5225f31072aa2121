//! The pages a shifter starts from, on every backend, their numbers against independent SQL:
//! the overview (`/`), the errors page's failed/holding split and categories, and the job list
//! sorted and narrowed over the whole selection.

mod common;
use common::{count, get, get_json, simulated_recently};

use axum::http::StatusCode;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;

async fn simulated(test: &TestDb) -> (pandamon_store::Db, i64) {
    simulated_recently(test, 4_000, 12).await
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The job tables a 24-h window reads, with the window's condition, for [`count`].
fn jobs_where(from: i64, to: i64, extra: &str) -> String {
    let show = |t: i64| time(t).replacen('T', " ", 1);
    let window = format!(
        "modificationtime >= '{}' AND modificationtime <= '{}'",
        show(from),
        show(to)
    );
    let union = ["{jobsdefined4}", "{jobsactive4}", "{jobsarchived4}"]
        .iter()
        .map(|t| format!("SELECT * FROM {t} WHERE {window}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!("SELECT COUNT(*) FROM ({union}) j WHERE 1 = 1 {extra}")
}

async fn overview_numbers_match_sql(test: &TestDb) {
    let (db, now) = simulated(test).await;
    let state = AppState::new(db.clone(), None);
    let (from, to) = (now - 86_400, now);
    let window = format!("date_from={}&date_to={}", time(from), time(to));
    let json = get_json(&state, &format!("/?json&{window}")).await;

    // Jobs by status.
    let summary = json["jobsummary"].as_array().unwrap();
    assert!(summary.len() >= 4, "{summary:?}");
    let mut total = 0;
    for s in summary {
        let status = s["jobstatus"].as_str().unwrap();
        let sql = count(
            &db,
            &jobs_where(from, to, &format!("AND jobstatus = '{status}'")),
        )
        .await;
        assert_eq!(s["count"].as_i64().unwrap(), sql, "{status}");
        total += sql;
    }
    assert_eq!(total, count(&db, &jobs_where(from, to, "")).await);

    // The worst sites: their counts, their order, the flag, and no better-qualified site left out.
    let sites = json["worstsites"].as_array().unwrap();
    assert!(!sites.is_empty(), "some site failed jobs");
    let limit = json["failure_percent_limit"].as_f64().unwrap();
    let mut previous = f64::INFINITY;
    for s in sites {
        let site = s["computingsite"].as_str().unwrap();
        let of = |status: &str| {
            jobs_where(
                from,
                to,
                &format!("AND computingsite = '{site}' AND jobstatus = '{status}'"),
            )
        };
        let finished = count(&db, &of("finished")).await;
        let failed = count(&db, &of("failed")).await;
        assert_eq!(s["finished"].as_i64().unwrap(), finished, "{site}");
        assert_eq!(s["failed"].as_i64().unwrap(), failed, "{site}");
        assert!(finished + failed >= 10);
        let percent = 100.0 * failed as f64 / (finished + failed) as f64;
        assert!((s["failure_percent"].as_f64().unwrap() - percent).abs() < 0.06);
        assert_eq!(s["flagged"].as_bool().unwrap(), percent > limit, "{site}");
        assert!(percent <= previous + 0.06, "sites ordered by failure rate");
        previous = percent;
    }

    // The biggest error codes: each pilot code's count is its failing jobs.
    let errors = json["errsByCount"].as_array().unwrap();
    assert!(!errors.is_empty() && errors.len() <= 10);
    for e in errors.iter().filter(|e| e["codename"] == "piloterrorcode") {
        let code = e["codeval"].as_i64().unwrap();
        let sql = count(
            &db,
            &jobs_where(
                from,
                to,
                &format!("AND piloterrorcode = {code} AND jobstatus IN ('failed', 'holding')"),
            ),
        )
        .await;
        assert_eq!(e["count"].as_i64().unwrap(), sql, "pilot:{code}");
    }
    let counts: Vec<i64> = errors
        .iter()
        .map(|e| e["count"].as_i64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");

    // The newest failing tasks: failing statuses, newest first, as many as SQL finds (up to 10).
    let tasks = json["failingtasks"].as_array().unwrap();
    let failing = "('failed', 'broken', 'exhausted', 'aborted')";
    let week_ago = time(chrono::Utc::now().timestamp() - 7 * 86_400).replacen('T', " ", 1);
    let sql = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM {{jedi_tasks}} WHERE status IN {failing} AND modificationtime >= '{week_ago}'"
        ),
    )
    .await;
    assert_eq!(tasks.len() as i64, sql.min(10));
    for t in tasks {
        let status = t["status"].as_str().unwrap();
        assert!(failing.contains(&format!("'{status}'")), "{status}");
    }
    let times: Vec<&str> = tasks
        .iter()
        .map(|t| t["modificationtime"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // The page: every count links to its jobs.
    let (status, html) = get(&state, &format!("/?{window}")).await;
    assert_eq!(status, StatusCode::OK);
    let first = &sites[0];
    let site = first["computingsite"].as_str().unwrap();
    assert!(
        html.contains(&format!("computingsite={site}&#38;jobstatus=failed")),
        "the worst site's failed count links to its failed jobs"
    );
    assert!(html.contains("id=\"failing-tasks\"") || tasks.is_empty());
    db.close().await;
}
on_every_backend!(overview_numbers_match_sql);

async fn errors_split_failed_from_holding(test: &TestDb) {
    let (db, now) = simulated(test).await;
    let state = AppState::new(db.clone(), None);
    let (from, to) = (now - 86_400, now);
    let window = format!("date_from={}&date_to={}", time(from), time(to));
    let json = get_json(&state, &format!("/errors/?json&{window}")).await;
    let failed = count(&db, &jobs_where(from, to, "AND jobstatus = 'failed'")).await;
    let holding = count(&db, &jobs_where(from, to, "AND jobstatus = 'holding'")).await;
    assert!(
        failed > 0 && holding > 0,
        "the window has failed and holding jobs"
    );
    assert_eq!(json["failed"].as_i64().unwrap(), failed);
    assert_eq!(json["holding"].as_i64().unwrap(), holding);
    // Every failing job counted once, in one category: the categories add up to the header.
    let categories = json["categories"].as_array().unwrap();
    let sum = |key: &str| -> i64 { categories.iter().map(|c| c[key].as_i64().unwrap()).sum() };
    assert_eq!(sum("failed"), failed);
    assert_eq!(sum("holding"), holding);
    assert_eq!(sum("count"), failed + holding);
    // The histogram keeps holding jobs in a series of their own.
    let series = json["histogram"]["series"].as_array().unwrap();
    let holding_series: i64 = series
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("holding"))
        .flat_map(|s| s["data"].as_array().unwrap())
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(holding_series, holding);
    let (status, html) = get(&state, &format!("/errors/?{window}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("id=\"selection\""),
        "the selection bar is shown"
    );
    assert!(html.contains(&format!(
        "{} holding",
        pandamon_web::kit::format::human_count(holding)
    )));
    db.close().await;
}
on_every_backend!(errors_split_failed_from_holding);

/// The first pandaid of a list page.
fn first_pandaid(json: &Json) -> i64 {
    json["jobs"][0]["pandaid"].as_i64().unwrap()
}

async fn job_list_sorts_and_narrows_the_whole_selection(test: &TestDb) {
    let (db, now) = simulated(test).await;
    let state = AppState::new(db.clone(), None);
    let (from, to) = (now - 86_400, now);
    let window = format!("date_from={}&date_to={}", time(from), time(to));
    // Sorting runs over the whole selection: page 1 ascending starts at the smallest pandaid.
    let smallest = count(
        &db,
        &jobs_where(from, to, "").replace("COUNT(*)", "MIN(pandaid)"),
    )
    .await;
    let largest = count(
        &db,
        &jobs_where(from, to, "").replace("COUNT(*)", "MAX(pandaid)"),
    )
    .await;
    let up = get_json(
        &state,
        &format!("/jobs/?json&{window}&sortby=pandaid-ascending&display_limit=5"),
    )
    .await;
    assert_eq!(first_pandaid(&up), smallest);
    let down = get_json(
        &state,
        &format!("/jobs/?json&{window}&sortby=pandaid-descending&display_limit=5"),
    )
    .await;
    assert_eq!(first_pandaid(&down), largest);
    // Narrowing by a wildcard on the job name counts over the whole selection.
    let user_jobs = count(&db, &jobs_where(from, to, "AND jobname LIKE 'user.%'")).await;
    let narrowed = get_json(&state, &format!("/jobs/?json&{window}&jobname=user.*")).await;
    assert_eq!(narrowed["totaljobs"].as_i64().unwrap(), user_jobs);
    // Repeated `fields=` (the column chooser's checkboxes) add up.
    let chosen = get_json(
        &state,
        &format!("/jobs/?json&{window}&fields=pandaid&fields=computingsite&display_limit=3"),
    )
    .await;
    let keys: Vec<&String> = chosen["jobs"][0].as_object().unwrap().keys().collect();
    assert!(keys.contains(&&"computingsite".to_string()), "{keys:?}");
    assert!(!keys.contains(&&"jobname".to_string()), "{keys:?}");

    // The HTML list: bigmon's columns as headers, sortable ones linking to the sorted selection,
    // a chip per condition, the chooser.
    let (status, html) = get(&state, &format!("/jobs/?{window}&jobstatus=failed")).await;
    assert_eq!(status, StatusCode::OK);
    for header in [
        "PanDA ID", "owner", "task", "job name", "type", "status", "created", "started", "ended",
        "duration", "attempt", "cores", "site", "error",
    ] {
        assert!(
            html.contains(&format!(">{header}<")) || html.contains(&format!(">{header}\u{25bc}<")),
            "header {header}"
        );
    }
    assert!(html.contains("sortby=pandaid-descending"));
    assert!(
        html.contains("data-param=\"jobstatus\""),
        "a chip for jobstatus"
    );
    assert!(html.contains("name=\"fields\" value=\"jobname\""));
    assert!(html.contains("class=\"preset"));
    // Failed jobs show their error with a link to the jobs with that error.
    assert!(html.contains("class=\"error\""));
    db.close().await;
}
on_every_backend!(job_list_sorts_and_narrows_the_whole_selection);
