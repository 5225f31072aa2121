//! The Global Shares module on every backend: the tree against `global_shares`, every HS06 and
//! job figure against independent SQL over the job tables and over `jobs_share_stats`, the
//! index and the database agreeing, the history against bounds from SQL, bad input.

mod common;
use common::{count, get, get_json, sum};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::schema;
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;

/// Every node of the tree, depth first.
fn nodes(tree: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    for n in tree.as_array().unwrap() {
        out.push(n);
        out.extend(nodes(&n["children"]));
    }
    out
}

/// The names a node counts: its own and every name below it.
fn names(node: &Json) -> Vec<String> {
    let mut out = vec![node["name"].as_str().unwrap().to_string()];
    for c in node["children"].as_array().unwrap() {
        out.extend(names(c));
    }
    out
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

const EXECUTING: &str = "'sent', 'starting', 'running'";

async fn global_shares_match_independent_sql(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 4_000,
            seed: 31,
            days: 2.0,
            now: chrono::Utc::now().timestamp(),
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let live = pandamon_live::sync::LiveIndex::new(7.0);
    let mut syncer = pandamon_live::sync::Syncer::new(db.clone(), live.clone());
    syncer.load().await.unwrap();
    let plain = AppState::new(db.clone(), None);
    let indexed = AppState::new(db.clone(), None).with_index(live);
    let to = chrono::Utc::now().naive_utc();
    let from = to - chrono::Duration::days(7);
    let (f, t) = (
        from.format("%Y-%m-%d %H:%M:%S").to_string(),
        to.format("%Y-%m-%d %H:%M:%S").to_string(),
    );
    let window = format!(
        "date_from={}&date_to={}",
        from.format("%Y-%m-%dT%H:%M:%S"),
        to.format("%Y-%m-%dT%H:%M:%S")
    );
    let in_window = format!("modificationtime >= '{f}' AND modificationtime <= '{t}'");

    let page = get_json(&plain, &format!("/globalshares/?json&{window}")).await;
    assert_eq!(page["source"], "database");
    let all = nodes(&page["shares"]);
    assert_eq!(
        all.len() as i64,
        count(&db, "SELECT COUNT(*) FROM {global_shares}").await
    );
    let top: f64 = page["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["target"].as_f64().unwrap())
        .sum();
    assert!((top - 100.0).abs() < 0.01, "top-level targets sum to {top}");
    let total = page["totals"]["executing"].as_i64().unwrap();
    let expected_total = count(
        &db,
        &format!(
            "SELECT {} FROM {{jobsactive4}} WHERE jobstatus IN ({EXECUTING}) AND {in_window}",
            sum(&db, "hs06")
        ),
    )
    .await;
    assert!(expected_total > 0, "the simulation has executing jobs");
    assert_eq!(total, expected_total);
    for node in &all {
        let list = quoted(&names(node));
        let executing = count(
            &db,
            &format!(
                "SELECT {} FROM {{jobsactive4}} WHERE gshare IN ({list}) AND jobstatus IN ({EXECUTING}) AND {in_window}",
                sum(&db, "hs06")
            ),
        )
        .await;
        let queued_jobs = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{jobsactive4}} WHERE gshare IN ({list}) AND jobstatus = 'activated' AND {in_window}"
            ),
        )
        .await;
        let name = &node["name"];
        assert_eq!(node["executing"].as_i64().unwrap(), executing, "{name}");
        assert_eq!(node["queued_jobs"].as_i64().unwrap(), queued_jobs, "{name}");
        let pledged = (total as f64 * node["target"].as_f64().unwrap() / 100.0).round() as i64;
        assert!(
            (node["pledged"].as_i64().unwrap() - pledged).abs() <= 1,
            "{name}: pledged is the executing total times the target"
        );
        assert_eq!(
            node["delta"].as_i64().unwrap(),
            executing - node["pledged"].as_i64().unwrap()
        );
        // The link names what the node counts.
        let link = node["links"]["queued"].as_str().unwrap();
        assert!(
            link.starts_with("/jobs/?gshare=") && link.contains("jobstatus=activated"),
            "{link}"
        );
    }
    // Per resource type of a leaf, the jobs of that type.
    let leaf = all
        .iter()
        .find(|n| {
            n["children"].as_array().unwrap().is_empty()
                && n["executing_jobs"].as_i64().unwrap() > 0
        })
        .expect("a leaf share with executing jobs");
    for (rt, load) in leaf["resourcetypes"].as_object().unwrap() {
        let jobs = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{jobsactive4}} WHERE gshare = '{}' AND resource_type = '{rt}' AND jobstatus IN ({EXECUTING}) AND {in_window}",
                leaf["name"].as_str().unwrap()
            ),
        )
        .await;
        assert_eq!(load["executing_jobs"].as_i64().unwrap(), jobs, "{rt}");
    }

    // The index answers the same.
    let from_index = get_json(&indexed, &format!("/globalshares/?json&{window}")).await;
    assert_eq!(from_index["source"], "index");
    for key in ["shares", "totals", "gsPlotData", "details"] {
        assert_eq!(from_index[key], page[key], "{key} from the index");
    }

    // PanDA's snapshot, as the simulator wrote it with the jobs: the same HS06 per share.
    let stats = get_json(&plain, "/globalshares/?json&source=jobs_share_stats").await;
    assert_eq!(stats["source"], "jobs_share_stats");
    for node in nodes(&stats["shares"]) {
        let list = quoted(&names(node));
        let hs = count(
            &db,
            &format!(
                "SELECT {} FROM {{jobs_share_stats}} WHERE gshare IN ({list}) AND jobstatus IN ({EXECUTING})",
                sum(&db, "hs")
            ),
        )
        .await;
        assert_eq!(node["executing"].as_i64().unwrap(), hs, "{}", node["name"]);
        let jobs_side = all.iter().find(|n| n["name"] == node["name"]).unwrap();
        assert_eq!(
            node["executing"], jobs_side["executing"],
            "{}",
            node["name"]
        );
        assert_eq!(node["queued"], jobs_side["queued"], "{}", node["name"]);
    }

    // A resource kind keeps only its queues' jobs.
    let kinds = page["resources"].as_array().unwrap();
    assert!(kinds.len() >= 2, "{kinds:?}");
    let mut by_kind = 0;
    for kind in kinds {
        let kind = kind.as_str().unwrap();
        let part = get_json(
            &plain,
            &format!("/globalshares/?json&{window}&resource={kind}"),
        )
        .await;
        assert_eq!(part["resource"], kind);
        by_kind += part["totals"]["executing"].as_i64().unwrap();
    }
    let unknown = page["details"]["resource_kinds"]
        .get("unknown")
        .map_or(0, |m| {
            m.as_object()
                .unwrap()
                .values()
                .map(|l| l["executing"].as_i64().unwrap())
                .sum::<i64>()
        });
    assert_eq!(
        by_kind + unknown,
        total,
        "resource kinds partition the total"
    );

    // The DataTables endpoints.
    let by_site = get_json(
        &plain,
        &format!("/datatable/data/sharesDistributionJSON?{window}"),
    )
    .await;
    let running: i64 = by_site["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["running_jobs"].as_i64().unwrap())
        .sum();
    assert_eq!(
        running,
        count(
            &db,
            &format!("SELECT COUNT(*) FROM {{jobsactive4}} WHERE jobstatus IN ({EXECUTING}) AND {in_window}")
        )
        .await
    );
    let detailed = get_json(
        &plain,
        &format!("/datatable/data/detailedInformationJSON?{window}"),
    )
    .await;
    let scheduled: i64 = detailed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scheduled_jobs"].as_i64().unwrap())
        .sum();
    let mut expected = 0;
    for table in ["jobsdefined4", "jobsactive4"] {
        expected += count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {{{table}}} WHERE jobstatus IN ('pending', 'defined', 'assigned', 'waiting', 'throttled', 'activated') AND {in_window}"
            ),
        )
        .await;
    }
    assert_eq!(scheduled, expected);
    for path in ["resourcesType", "coreTypes"] {
        let rows = get_json(&plain, &format!("/datatable/data/{path}?{window}")).await;
        let hs: i64 = rows["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["running_hs06"].as_i64().unwrap())
            .sum();
        assert_eq!(hs, total, "{path}");
    }

    // The history: each hour's executing HS06 lies between what ran all of it and what ran in
    // it at all.
    let history = &from_index["history"];
    assert!(page["history"].is_null(), "no history without the index");
    let bins = history["bins"].as_array().unwrap();
    let totals = history["total"].as_array().unwrap();
    assert_eq!(bins.len(), 7 * 24);
    let mut checked = 0;
    // The hour in progress is averaged over its elapsed part: the checks take whole hours.
    for i in (0..bins.len() - 1).rev().take(40).step_by(7) {
        let start = bins[i].as_i64().unwrap();
        let (a, b) = (
            chrono::DateTime::from_timestamp(start, 0)
                .unwrap()
                .naive_utc(),
            chrono::DateTime::from_timestamp(start + 3_600, 0)
                .unwrap()
                .naive_utc(),
        );
        let (a, b) = (a.format("%Y-%m-%d %H:%M:%S"), b.format("%Y-%m-%d %H:%M:%S"));
        let mut whole = 0;
        let mut any = 0;
        for table in [
            "jobsdefined4",
            "jobsactive4",
            "jobsarchived4",
            "jobsarchived",
        ] {
            whole += count(
                &db,
                &format!(
                    "SELECT {} FROM {{{table}}} WHERE starttime <= '{a}' AND (endtime IS NULL OR endtime >= '{b}') AND modificationtime >= '{f}'",
                    sum(&db, "hs06")
                ),
            )
            .await;
            any += count(
                &db,
                &format!(
                    "SELECT {} FROM {{{table}}} WHERE starttime < '{b}' AND (endtime IS NULL OR endtime > '{a}') AND modificationtime >= '{f}'",
                    sum(&db, "hs06")
                ),
            )
            .await;
        }
        let got = totals[i].as_f64().unwrap();
        assert!(
            whole as f64 - 1.0 <= got && got <= any as f64 + 1.0,
            "hour {a}: {whole} <= {got} <= {any}"
        );
        checked += usize::from(any > 0);
    }
    assert!(checked > 0, "some checked hour had running jobs");
    // The newest hour with running jobs (the current hour can be empty when it has just begun
    // after the workload's end).
    let newest = totals
        .iter()
        .rposition(|t| t.as_f64().unwrap() > 0.0)
        .unwrap();
    let shares_pct: f64 = history["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["actual"][newest].as_f64().unwrap())
        .sum();
    assert!(
        (shares_pct - 100.0).abs() < 0.5,
        "the top-level shares make the whole: {shares_pct}"
    );
    let one = get_json(
        &indexed,
        &format!("/globalshares/?json&{window}&share=User%20Analysis"),
    )
    .await;
    let series = one["history"]["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["name"], "User Analysis");

    // The page: the tree, every job figure a link.
    let (code, html) = get(&plain, &format!("/globalshares/?{window}")).await;
    assert_eq!(code, StatusCode::OK);
    for n in &all {
        assert!(html.contains(n["name"].as_str().unwrap()), "{}", n["name"]);
    }
    assert!(html.contains("data-chart"));
    assert!(html.contains("href=\"/jobs/?gshare="));
    db.close().await;
}
on_every_backend!(global_shares_match_independent_sql);

/// Bad values are a 400 naming the parameter, in JSON and in HTML.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_global_shares_parameters_are_named() {
    let test = TestDb::new(pandamon_testkit::Backend::Sqlite, "gs_bad").await;
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let state = AppState::new(db.clone(), None);
    for (uri, name) in [
        ("/globalshares/?json&level=7", "level"),
        ("/globalshares/?json&source=rucio", "source"),
        (
            "/globalshares/?json&source=jobs_share_stats&computingsite=X",
            "source",
        ),
        ("/globalshares/?json&hours=abc", "hours"),
    ] {
        let (code, body) = get(&state, uri).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains(&format!("'{name}'")), "{uri}: {body}");
    }
    let (code, html) = get(&state, "/globalshares/?level=0").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(html.contains("<html") && html.contains("level"), "{html}");
    // An empty database: an empty tree, not an error.
    let empty = get_json(&state, "/globalshares/?json").await;
    assert_eq!(empty["shares"], Json::Array(Vec::new()));
    assert_eq!(empty["totals"]["executing"], 0);
    db.close().await;
    test.cleanup().await;
}
