//! `/jobs/` answered from the live index: same numbers as the database, and a change in the
//! database shows after one poll.

mod common;
use common::get_json;

use chrono::{Timelike, Utc};
use pandamon_live::sync::{LiveIndex, Syncer};
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, Value, schema, with_pool};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;
use sqlx::AssertSqlSafe;

fn status_count(json: &Json, status: &str) -> i64 {
    json["selectionsummary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "jobstatus")
        .and_then(|f| {
            f["list"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kname"] == status)
                .map(|k| k["kvalue"].as_i64().unwrap())
        })
        .unwrap_or(0)
}

async fn jobs_page_reads_the_index_and_sees_changes(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 1_500,
            seed: 19,
            days: 2.0,
            now: Utc::now().timestamp(),
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let live = LiveIndex::new(7.0);
    let mut syncer = Syncer::new(db.clone(), live.clone());
    syncer.load().await.unwrap();
    let plain = AppState::new(db.clone(), None);
    let indexed = AppState::new(db.clone(), None).with_index(live.clone());
    let from_db = get_json(&plain, "/jobs/?json&hours=24").await;
    let from_index = get_json(&indexed, "/jobs/?json&hours=24").await;
    assert_eq!(from_db["source"], "database");
    assert_eq!(from_index["source"], "index");
    assert_eq!(from_index["totaljobs"], from_db["totaljobs"]);
    assert_eq!(from_index["selectionsummary"], from_db["selectionsummary"]);
    assert_eq!(from_index["errsByCount"], from_db["errsByCount"]);
    // Pages picked and ordered by the index hold the same jobs in the same order, NULL times
    // included, as pages the database sorts.
    for query in [
        "/jobs/?json&hours=24&display_limit=40",
        "/jobs/?json&hours=24&sortby=start-ascending&display_limit=30",
        "/jobs/?json&hours=24&sortby=end-descending&display_limit=25&page=3",
        "/jobs/?json&hours=24&sortby=priority-descending&jobstatus=failed|finished",
        "/jobs/?json&hours=24&sortby=pandaid-ascending&fields=pandaid,jobstatus",
    ] {
        let db_page = get_json(&plain, query).await;
        let index_page = get_json(&indexed, query).await;
        assert!(!db_page["jobs"].as_array().unwrap().is_empty(), "{query}");
        assert_eq!(index_page["jobs"], db_page["jobs"], "{query}");
    }
    // The errors page (its failures per hour included) and the jobs of one site (the index
    // visits that site's rows only) as the database gives them, over one fixed window.
    let to = Utc::now();
    let window = format!(
        "date_from={}&date_to={}",
        (to - chrono::Duration::hours(24)).format("%Y-%m-%dT%H:%M:%S"),
        to.format("%Y-%m-%dT%H:%M:%S")
    );
    let site = from_db["selectionsummary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "computingsite")
        .and_then(|f| f["list"][0]["kname"].as_str())
        .unwrap()
        .to_string();
    for query in [
        format!("/errors/?json&{window}"),
        format!("/errors/?json&{window}&computingsite={site}"),
        format!("/jobs/?json&{window}&computingsite={site}&display_limit=30"),
    ] {
        let db_page = get_json(&plain, &query).await;
        let index_page = get_json(&indexed, &query).await;
        if query.starts_with("/errors/") {
            assert!(
                !db_page["histogram"]["hours"].as_array().unwrap().is_empty(),
                "{query}"
            );
            assert_eq!(index_page, db_page, "{query}");
        } else {
            assert_eq!(index_page["source"], "index", "{query}");
            assert_eq!(index_page["totaljobs"], db_page["totaljobs"], "{query}");
            assert_eq!(index_page["jobs"], db_page["jobs"], "{query}");
        }
    }
    let status = get_json(&indexed, "/status/?json").await;
    assert_eq!(status["index"]["loaded"], true);

    // A running job finishes: PanDA moves it to jobsarchived4.
    let d = db.dialect();
    let sql = format!(
        "SELECT MIN({p}) FROM {t} WHERE {s} = 'running'",
        p = d.quote("pandaid"),
        t = db.qualified(Catalog::get().table("jobsactive4")),
        s = d.quote("jobstatus")
    );
    let pandaid: i64 = with_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await.unwrap());
    let now = Value::Time(Utc::now().naive_utc().with_nanosecond(0).unwrap());
    let statements = vec![
        db.copy_statement(
            "jobsactive4",
            "jobsarchived4",
            &[("pandaid", Value::Int(pandaid))],
            &[
                ("jobstatus", Value::from("finished")),
                ("modificationtime", now.clone()),
                ("statechangetime", now),
            ],
        ),
        db.delete_statement("jobsactive4", ("pandaid", Value::Int(pandaid))),
    ];
    db.transaction(&statements).await.unwrap();
    syncer.poll().await.unwrap();
    let after = get_json(&indexed, "/jobs/?json&hours=24").await;
    assert_eq!(after["source"], "index");
    assert_eq!(
        status_count(&after, "running"),
        status_count(&from_index, "running") - 1
    );
    assert_eq!(
        status_count(&after, "finished"),
        status_count(&from_index, "finished") + 1
    );
    assert_eq!(after["totaljobs"], from_index["totaljobs"]);
    let again_db = get_json(&plain, "/jobs/?json&hours=24").await;
    assert_eq!(after["selectionsummary"], again_db["selectionsummary"]);
    // Outside the index window, the database answers.
    let wide = get_json(&indexed, "/jobs/?json&days=30").await;
    assert_eq!(wide["source"], "database");
    db.close().await;
}
on_every_backend!(jobs_page_reads_the_index_and_sees_changes);

async fn rename(db: &pandamon_store::Db, from: &str, to: &str) {
    let d = db.dialect();
    let role = Catalog::get().table("jobsactive4").role;
    let sql = format!(
        "ALTER TABLE {} RENAME TO {}",
        db.qualified_name(role, from),
        d.quote(to)
    );
    with_pool!(db, pool => {
        sqlx::query(AssertSqlSafe(sql)).execute(pool).await.unwrap();
    });
}

/// Every page says how fresh the index is; when the database fails under the poller, the last
/// index keeps answering, pages say the sync is failing, and the poller recovers by itself.
async fn index_survives_a_failing_database(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 800,
            seed: 23,
            days: 1.0,
            now: Utc::now().timestamp(),
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let live = LiveIndex::new(3.0);
    let mut syncer = Syncer::new(db.clone(), live.clone());
    syncer.load().await.unwrap();
    let plain = AppState::new(db.clone(), None);
    let indexed = AppState::new(db.clone(), None).with_index(live.clone());
    for page in ["/tasks/", "/errors/", "/jobs/", "/sites/"] {
        let (_, html) = common::get(&indexed, page).await;
        assert!(html.contains("live index: data "), "{page}");
        assert!(
            !html.contains(pandamon_web::kit::freshness::MARKER),
            "{page}"
        );
        let (_, html) = common::get(&plain, page).await;
        assert!(html.contains("read from the database"), "{page}");
    }
    let before = get_json(&indexed, "/jobs/?json&hours=24").await;
    assert_eq!(before["source"], "index");

    // The poller runs as `serve` runs it; then a job table disappears under it.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(syncer.run(std::time::Duration::from_millis(100), stopped));
    rename(&db, "jobsactive4", "jobsactive4_away").await;
    let mut failing = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if live.status().last_error.is_some() {
            failing = true;
            break;
        }
    }
    assert!(failing, "the poller did not notice the missing table");
    let during = get_json(&indexed, "/jobs/?json&hours=24").await;
    assert_eq!(during["source"], "index");
    assert_eq!(during["totaljobs"], before["totaljobs"]);
    assert_eq!(during["selectionsummary"], before["selectionsummary"]);
    // A page the cache cannot hold: its rows need the missing table, and it says so.
    let uncached = get_json(&indexed, "/jobs/?json&hours=24&sortby=pandaid-ascending").await;
    assert_eq!(uncached["source"], "index");
    assert_eq!(uncached["totaljobs"], before["totaljobs"]);
    assert_eq!(uncached["jobs"].as_array().map(Vec::len), Some(0));
    assert!(
        uncached["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("the job list could not be read")),
        "{}",
        uncached["notes"]
    );
    let (_, html) = common::get(&indexed, "/tasks/").await;
    assert!(
        html.contains("sync failing"),
        "the page says the index is stale"
    );
    let health = get_json(&indexed, "/healthz").await;
    assert!(health["index"]["failures"].as_u64().unwrap() >= 1);
    assert!(health["index"]["age_seconds"].as_i64().is_some());

    // The table comes back: the poller recovers without help (its backoff starts at 1 s).
    rename(&db, "jobsactive4_away", "jobsactive4").await;
    let mut recovered = false;
    for _ in 0..150 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if live.status().last_error.is_none() {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "the poller did not recover");
    let after = get_json(&indexed, "/jobs/?json&hours=24").await;
    assert_eq!(after["totaljobs"], before["totaljobs"]);
    let _ = stop.send(true);
    poller.await.unwrap();
    db.close().await;
}
on_every_backend!(index_survives_a_failing_database);
