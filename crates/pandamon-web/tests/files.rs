//! `/files/`, `/file/`, `/datasets/` and `/dataset/` on every backend, against independent SQL.

mod common;
use common::{get, get_json};

use axum::http::StatusCode;
use pandamon_sim::{Silent, SimConfig};
use pandamon_store::{Catalog, Db, schema, with_pool};
use pandamon_testkit::{TestDb, on_every_backend};
use pandamon_web::AppState;
use sqlx::AssertSqlSafe;

async fn count(db: &Db, table: &str, filter: &str) -> i64 {
    db.scalar_i64(&format!(
        "SELECT COUNT(*) FROM {} WHERE {filter}",
        db.qualified(Catalog::get().table(table))
    ))
    .await
    .unwrap()
}

async fn files_and_datasets_match_sql(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    pandamon_sim::simulate(
        &db,
        SimConfig {
            jobs: 1_000,
            seed: 31,
            days: 2.0,
            now: 1_790_000_000,
        },
        Box::new(Silent),
    )
    .await
    .unwrap();
    let state = AppState::new(db.clone(), None);
    // A retried input file: read by two job attempts.
    let sql = format!(
        "SELECT lfn FROM {} WHERE type = 'input' AND attemptnr = 2 ORDER BY row_id LIMIT 1",
        db.qualified(Catalog::get().table("filestable4"))
    );
    let lfn: String = with_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await.unwrap());
    let files = get_json(&state, &format!("/files/?json&lfn={lfn}")).await;
    let expected = count(&db, "filestable4", &format!("lfn = '{lfn}'")).await;
    assert!(expected >= 2);
    assert_eq!(files["total"].as_i64().unwrap(), expected);
    // The form sends its empty fields too: they name nothing.
    let from_form = get_json(
        &state,
        &format!("/files/?json&lfn={lfn}&dataset=&pandaid=&jeditaskid=&guid="),
    )
    .await;
    assert_eq!(from_form["total"].as_i64().unwrap(), expected);
    let file = get_json(&state, &format!("/file/?json&lfn={lfn}")).await;
    assert_eq!(file["files"].as_array().unwrap().len() as i64, expected);
    assert_eq!(file["contents"][0]["lfn"], lfn.as_str());
    let task = file["contents"][0]["jeditaskid"].as_i64().unwrap();
    let pattern = lfn.split('.').next().unwrap();
    let wild = get_json(&state, &format!("/files/?json&lfn={pattern}*&type=input")).await;
    assert_eq!(
        wild["total"].as_i64().unwrap(),
        count(
            &db,
            "filestable4",
            &format!("lfn LIKE '{pattern}%' AND type = 'input'")
        )
        .await
    );

    let datasets = get_json(&state, &format!("/datasets/?json&jeditaskid={task}")).await;
    assert_eq!(
        datasets["total"].as_i64().unwrap(),
        count(&db, "jedi_datasets", &format!("jeditaskid = {task}")).await
    );
    let dataset = get_json(
        &state,
        &format!("/dataset/?json&jeditaskid={task}&type=input"),
    )
    .await;
    let by_status: i64 = dataset["filesbystatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .sum();
    assert_eq!(by_status, dataset["dataset"]["nfiles"].as_i64().unwrap());
    // The total is the dataset's, not the page's; the HTML says the same and pages.
    assert_eq!(dataset["total"].as_i64().unwrap(), by_status);
    let (_, html) = get(
        &state,
        &format!("/dataset/?jeditaskid={task}&type=input&display_limit=2"),
    )
    .await;
    let shown = pandamon_web::kit::format::human_count(by_status);
    assert!(
        html.contains(&format!("{shown} found")),
        "dataset total shown"
    );
    if by_status > 2 {
        assert!(
            html.contains("next &rarr;"),
            "a dataset larger than a page has a pager"
        );
    }
    for page in [
        format!("/files/?lfn={lfn}"),
        format!("/file/?lfn={lfn}"),
        format!("/datasets/?jeditaskid={task}"),
        format!("/dataset/?jeditaskid={task}&type=input"),
    ] {
        assert_eq!(get(&state, &page).await.0, StatusCode::OK, "{page}");
    }
    // Without a parameter: a form for browsers, a 400 naming the parameters for scripts.
    let (status, form) = get(&state, "/files/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"name="lfn""#), "{form}");
    assert_eq!(get(&state, "/files/?json").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&state, "/datasets/?jeditaskid=x").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&state, "/file/?lfn=no.such.file").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&state, "/dataset/?datasetname=no.such.dataset").await.0,
        StatusCode::NOT_FOUND
    );
    db.close().await;
}
on_every_backend!(files_and_datasets_match_sql);
