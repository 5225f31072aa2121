//! Values shown equal values stored: every column of a job row, read back by the database's own
//! text conversion, against `/job/<id>/?json`, for each job table on every backend.

mod common;
use common::{count, get_json};

use pandamon_sim::{Silent, SimConfig};
use pandamon_store::catalog::ColType;
use pandamon_store::{Catalog, Db, Dialect, Pool, schema};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use serde_json::Value as Json;
use sqlx::AssertSqlSafe;

/// The stored value of `column` of job `pandaid` as the database writes it as text.
async fn stored_text(db: &Db, table: &str, column: &str, pandaid: i64) -> Option<String> {
    let qualified = db.qualified(Catalog::get().table(table));
    let sql = match db.dialect() {
        Dialect::MySql => {
            format!("SELECT CAST(`{column}` AS CHAR) FROM {qualified} WHERE pandaid = {pandaid}")
        }
        _ => {
            format!("SELECT CAST(\"{column}\" AS TEXT) FROM {qualified} WHERE pandaid = {pandaid}")
        }
    };
    let sql = AssertSqlSafe(sql);
    match &db.pool {
        Pool::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        Pool::MySql(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    }
    .unwrap_or_else(|e| panic!("{table}.{column}: {e}"))
}

/// A time as text in one form: `YYYY-MM-DD HH:MM:SS`, fractions of zero dropped.
fn time_text(text: &str) -> String {
    let t = text.replacen('T', " ", 1);
    match t.split_once('.') {
        Some((whole, fraction)) if fraction.chars().all(|c| c == '0') => whole.to_string(),
        _ => t,
    }
}

fn same(ty: ColType, shown: &Json, stored: &Option<String>) -> bool {
    match (shown, stored) {
        (Json::Null, None) => true,
        (Json::Null, Some(_)) | (_, None) => false,
        (Json::String(s), Some(t)) if ty == ColType::Timestamp => time_text(s) == time_text(t),
        // Fixed-width text compares without its padding, as SQL compares CHAR values.
        (Json::String(s), Some(t)) if matches!(ty, ColType::Char(_)) => {
            s.trim_end() == t.trim_end()
        }
        (Json::String(s), Some(t)) => s == t,
        (Json::Number(n), Some(t)) => match (n.as_i64(), t.parse::<i64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => match (n.as_f64(), t.parse::<f64>()) {
                (Some(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                _ => false,
            },
        },
        // The job JSON holds no other kinds of value.
        (_, Some(_)) => false,
    }
}

async fn every_column_of_a_job_shows_as_stored(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 3_000,
            seed: 17,
            days: 5.0,
            now: 1_790_000_000,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);
    let mut compared = 0;
    for table in [
        "jobsdefined4",
        "jobsactive4",
        "jobsarchived4",
        "jobsarchived",
    ] {
        let pandaid = count(
            &db,
            &format!("SELECT COALESCE(MAX(pandaid), 0) FROM {{{table}}}"),
        )
        .await;
        if pandaid == 0 {
            // The simulation's defined jobs move on within minutes; the history may hold none.
            assert_eq!(table, "jobsdefined4", "{table} holds no job");
            continue;
        }
        let json = get_json(&state, &format!("/job/{pandaid}/?json")).await;
        assert_eq!(json["table"], table);
        let job = json["job"].as_object().unwrap();
        for column in &Catalog::get().table(table).columns {
            let shown = job
                .get(&column.name)
                .unwrap_or_else(|| panic!("{table}.{} is not in the JSON", column.name));
            let stored = stored_text(&db, table, &column.name, pandaid).await;
            assert!(
                same(column.ty, shown, &stored),
                "{table}.{} of job {pandaid}: shown {shown}, stored {stored:?}",
                column.name
            );
            compared += usize::from(stored.is_some());
        }
    }
    assert!(compared > 150, "{compared} values compared");
    db.close().await;
}
on_every_backend!(every_column_of_a_job_shows_as_stored);
