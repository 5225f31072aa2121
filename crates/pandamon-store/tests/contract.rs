//! The store contract: the same behaviour on SQLite, PostgreSQL and MariaDB, each test in a
//! database of its own.

use pandamon_model::JobTable;
use pandamon_store::schema::{self, InitOutcome};
use pandamon_store::{Batch, Catalog, StoreError, Value};
use pandamon_testkit::{TestDb, on_every_backend};

fn t(s: &str) -> Value {
    Value::Time(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
}

async fn schema_init_creates_every_table_and_is_idempotent(test: &TestDb) {
    let db = test.connect().await;
    assert!(!schema::is_owned(&db).await.unwrap());
    assert_eq!(
        schema::init(&db, false).await.unwrap(),
        InitOutcome::Created
    );
    let mut existing = schema::existing_tables(&db).await.unwrap();
    existing.sort();
    let mut expected: Vec<String> = Catalog::get()
        .tables
        .iter()
        .map(|t| t.name.clone())
        .collect();
    expected.sort();
    assert_eq!(existing, expected);
    assert!(schema::is_owned(&db).await.unwrap());
    assert_eq!(
        schema::panda_schema_version(&db).await.unwrap().as_deref(),
        Some("0.1.6")
    );
    assert_eq!(
        schema::init(&db, false).await.unwrap(),
        InitOutcome::AlreadyOwned
    );
    db.close().await;
}
on_every_backend!(schema_init_creates_every_table_and_is_idempotent);

async fn schema_init_refuses_foreign_panda_tables_unless_forced(test: &TestDb) {
    let db = test.connect().await;
    // A PanDA table someone else created.
    if db.dialect() == pandamon_store::Dialect::Postgres {
        db.execute("CREATE SCHEMA doma_panda").await.unwrap();
        db.execute("CREATE TABLE doma_panda.jobsactive4 (pandaid BIGINT)")
            .await
            .unwrap();
    } else {
        db.execute("CREATE TABLE jobsactive4 (pandaid BIGINT)")
            .await
            .unwrap();
    }
    let err = schema::init(&db, false).await.unwrap_err();
    assert!(matches!(err, StoreError::ForeignSchema { .. }), "{err}");
    assert!(
        err.to_string().contains("jobsactive4") && err.to_string().contains("--force"),
        "{err}"
    );
    // Nothing was touched.
    assert_eq!(
        schema::existing_tables(&db).await.unwrap(),
        vec!["jobsactive4".to_string()]
    );
    assert!(matches!(
        schema::ensure_owned(&db).await,
        Err(StoreError::NotOwned)
    ));
    assert_eq!(
        schema::init(&db, true).await.unwrap(),
        InitOutcome::Replaced { dropped: 1 }
    );
    assert_eq!(db.table_counts(&["jobsactive4"]).await.unwrap()[0].rows, 0);
    assert!(schema::is_owned(&db).await.unwrap());
    db.close().await;
}
on_every_backend!(schema_init_refuses_foreign_panda_tables_unless_forced);

fn job(batch: &Batch, pandaid: i64, status: &'static str, modified: &str) -> Vec<Value> {
    let mut row = batch.blank();
    batch.set(&mut row, "pandaid", pandaid);
    batch.set(&mut row, "jobstatus", status);
    batch.set(&mut row, "modificationtime", t(modified));
    batch.set(&mut row, "computingsite", "CERN-PROD_UCORE");
    batch.set(
        &mut row,
        "piloterrordiag",
        "tab\tnewline\nbackslash\\ 'quote' \"dq\" ünïcödé",
    );
    batch.set(&mut row, "cpuconversion", 1.25);
    row
}

async fn bulk_load_round_trips_values_and_counts(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let mut active = Batch::new("jobsactive4");
    for (i, status) in ["running", "running", "sent"].iter().enumerate() {
        let row = job(&active, 100 + i as i64, status, "2026-01-02 03:04:05");
        active.push(row);
    }
    db.load(&mut active).await.unwrap();
    let mut archived = Batch::new("jobsarchived4");
    let row = job(&archived, 200, "finished", "2026-01-03 00:00:00");
    archived.push(row);
    db.load(&mut archived).await.unwrap();
    let counts = db.job_status_counts().await.unwrap();
    let count = |table: JobTable, status: &str| {
        counts
            .iter()
            .find(|c| c.table == table && c.jobstatus == status)
            .map_or(0, |c| c.count)
    };
    assert_eq!(count(JobTable::Active, "running"), 2);
    assert_eq!(count(JobTable::Active, "sent"), 1);
    assert_eq!(count(JobTable::Archived, "finished"), 1);
    assert_eq!(
        db.data_time()
            .await
            .unwrap()
            .map(|t| t.to_string())
            .as_deref(),
        Some("2026-01-03 00:00:00")
    );
    // Text with COPY/SQL metacharacters survives unchanged; defaults fill NOT NULL columns.
    let d = db.dialect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {} = 100",
        d.quote("piloterrordiag"),
        db.qualified(Catalog::get().table("jobsactive4")),
        d.quote("pandaid")
    );
    let diag: String = pandamon_store::with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap());
    assert_eq!(diag, "tab\tnewline\nbackslash\\ 'quote' \"dq\" ünïcödé");
    let zero = db
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM {} WHERE {} = 0 AND {} = 0",
            db.qualified(Catalog::get().table("jobsactive4")),
            d.quote("attemptnr"),
            d.quote("exeerrorcode")
        ))
        .await
        .unwrap();
    assert_eq!(zero, 3);
    db.close().await;
}
on_every_backend!(bulk_load_round_trips_values_and_counts);

async fn a_job_moves_between_tables_in_one_transaction(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let mut active = Batch::new("jobsactive4");
    let row = job(&active, 7, "running", "2026-01-02 03:04:05");
    active.push(row);
    db.load(&mut active).await.unwrap();
    let overrides = [
        ("jobstatus", Value::from("finished")),
        ("modificationtime", t("2026-01-02 05:00:00")),
        ("endtime", t("2026-01-02 05:00:00")),
        ("exeerrorcode", Value::Int(0)),
        ("transexitcode", Value::Null),
    ];
    let statements = vec![
        db.copy_statement(
            "jobsactive4",
            "jobsarchived4",
            &[("pandaid", Value::Int(7))],
            &overrides,
        ),
        db.delete_statement("jobsactive4", ("pandaid", Value::Int(7))),
        db.update_statement(
            "jobsarchived4",
            &[("nevents", Value::Int(500))],
            &[("pandaid", Value::Int(7))],
        ),
        db.increment_statement(
            "jobsarchived4",
            "attemptnr",
            2,
            &[("pandaid", Value::Int(7))],
        ),
    ];
    assert_eq!(db.transaction(&statements).await.unwrap(), vec![1, 1, 1, 1]);
    let counts = db.job_status_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].table,
            counts[0].jobstatus.as_str(),
            counts[0].count
        ),
        (JobTable::Archived, "finished", 1)
    );
    let d = db.dialect();
    let sql = format!(
        "SELECT {}, {} FROM {}",
        d.quote("nevents"),
        d.quote("attemptnr"),
        db.qualified(Catalog::get().table("jobsarchived4"))
    );
    let (nevents, attempt): (i64, i16) = pandamon_store::with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap());
    assert_eq!((nevents, attempt), (500, 2));
    // A failing statement rolls the whole transaction back.
    let bad = vec![
        db.delete_statement("jobsarchived4", ("pandaid", Value::Int(7))),
        pandamon_store::Statement {
            sql: "SELECT * FROM no_such_table".into(),
            params: vec![],
        },
    ];
    assert!(db.transaction(&bad).await.is_err());
    assert_eq!(
        db.table_counts(&["jobsarchived4"]).await.unwrap()[0].rows,
        1
    );
    db.close().await;
}
on_every_backend!(a_job_moves_between_tables_in_one_transaction);

#[tokio::test]
async fn unreachable_server_is_a_clear_error() {
    let err = pandamon_store::Db::connect(
        "postgres://postgres@127.0.0.1:1/none",
        pandamon_store::Schemas::default(),
        pandamon_store::Purpose::Serve,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), pandamon_store::ErrorKind::Unavailable);
    let text = err.to_string();
    assert!(
        text.starts_with("cannot connect to postgres at 127.0.0.1:1"),
        "{text}"
    );
}

/// A serving connection's statements end on the server at the statement timeout, as an error of
/// kind `TooSlow` (PostgreSQL and MariaDB; SQLite has no such limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_end_at_the_statement_timeout() {
    use pandamon_store::{Db, ErrorKind, Purpose, Schemas};
    use pandamon_testkit::Backend;
    use std::time::{Duration, Instant};
    for (backend, slow) in [
        (
            Backend::Postgres,
            "SELECT COUNT(*) FROM generate_series(1, 400000000)",
        ),
        (
            Backend::MySql,
            "SELECT COUNT(*) FROM seq_1_to_1000000 a, seq_1_to_1000000 b \
             WHERE (a.seq * 7 + b.seq) % 1000003 = 0",
        ),
    ] {
        let test = TestDb::new(backend, "timeout").await;
        let db = Db::connect_limited(
            &test.url,
            Schemas::default(),
            Purpose::Serve,
            Some(Duration::from_millis(500)),
        )
        .await
        .unwrap();
        let started = Instant::now();
        let err = db.scalar_i64(slow).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooSlow, "{backend:?}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{backend:?}: the server ended the statement"
        );
        assert_eq!(
            db.scalar_i64("SELECT COUNT(*) FROM (SELECT 1 AS one) x")
                .await
                .unwrap(),
            1,
            "the pool still serves"
        );
        db.close().await;
        test.cleanup().await;
    }
}

/// A serving connection never creates a SQLite file: a mistyped path is an error, not an empty
/// database.
#[tokio::test]
async fn serving_never_creates_a_sqlite_file() {
    let path = std::env::temp_dir().join(format!("pandamon-missing-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let err = pandamon_store::Db::connect(
        &url,
        pandamon_store::Schemas::default(),
        pandamon_store::Purpose::Serve,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), pandamon_store::ErrorKind::State, "{err}");
    assert!(err.to_string().contains("pandamon schema init"), "{err}");
    assert!(!path.exists());
}
