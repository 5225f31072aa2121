//! pandamon's own state store: where it lives, its migrations, and that it never touches a
//! PanDA table; on SQLite, PostgreSQL and MariaDB.

use pandamon_store::accounting::{JOB_ROLLUPS, RollupRow};
use pandamon_store::schema;
use pandamon_store::state::{MIGRATIONS, STATE_PREFIX, STATE_SCHEMA};
use pandamon_store::{Db, Dialect, Purpose, Schemas, StateConfig, StateStore, StoreError};
use pandamon_testkit::{Backend, TestDb, on_every_backend};

fn newest() -> i64 {
    MIGRATIONS.last().unwrap().version
}

fn scratch_file(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("pandamon-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("state-{label}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&file);
    file
}

async fn state_lives_beside_panda_tables_without_touching_them(test: &TestDb) {
    let db = test.connect().await;
    schema::init(&db, false).await.unwrap();
    let panda_before = schema::existing_tables(&db).await.unwrap();
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let location = store.location().clone();
    assert_eq!(location.version, newest());
    assert_eq!(location.note, None);
    match db.dialect() {
        Dialect::Postgres => assert!(location.place.contains(STATE_SCHEMA), "{location:?}"),
        _ => assert!(location.place.contains(STATE_PREFIX), "{location:?}"),
    }
    for table in store.table_names() {
        assert!(
            table.starts_with(STATE_PREFIX) || table.starts_with(&format!("{STATE_SCHEMA}.")),
            "{table} is outside pandamon's namespace"
        );
    }
    // The PanDA tables are the same ones, still owned as before, and none gained a row.
    assert_eq!(schema::existing_tables(&db).await.unwrap(), panda_before);
    assert_eq!(db.jobs_held().await.unwrap(), 0);

    // Values round-trip, replace, clear, and stay per module.
    assert_eq!(store.get("alerts", "last").await.unwrap(), None);
    store.put("alerts", "last", Some("one")).await.unwrap();
    store.put("alerts", "last", Some("two")).await.unwrap();
    store.put("accounting", "last", Some("x")).await.unwrap();
    assert_eq!(
        store.get("alerts", "last").await.unwrap().as_deref(),
        Some("two")
    );
    assert_eq!(
        store.values("alerts").await.unwrap(),
        vec![("last".to_string(), Some("two".to_string()))]
    );
    store.put("alerts", "last", None).await.unwrap();
    assert_eq!(store.get("alerts", "last").await.unwrap(), None);
    assert_eq!(
        store.get("accounting", "last").await.unwrap().as_deref(),
        Some("x")
    );

    // Opening again applies nothing twice and keeps the data.
    let again = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    assert_eq!(
        again.applied_versions().await.unwrap(),
        (1..=newest()).collect::<Vec<_>>()
    );
    assert_eq!(
        again.get("accounting", "last").await.unwrap().as_deref(),
        Some("x")
    );
    db.close().await;
}
on_every_backend!(state_lives_beside_panda_tables_without_touching_them);

async fn a_store_migrated_by_a_newer_pandamon_is_refused(test: &TestDb) {
    let db = test.connect().await;
    StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let table = match db.dialect() {
        Dialect::Postgres => format!("{STATE_SCHEMA}.migrations"),
        _ => format!("{STATE_PREFIX}migrations"),
    };
    db.execute(&format!(
        "INSERT INTO {table} (version, name, applied_at) VALUES (999, 'future', '2030-01-01 00:00:00')"
    ))
    .await
    .unwrap();
    let err = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::StateTooNew { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade pandamon"), "{err}");
    db.close().await;
}
on_every_backend!(a_store_migrated_by_a_newer_pandamon_is_refused);

/// A store of the release before migration 6 (job rollups without a campaign, holding rows)
/// gains the column and loses its rows, which the server then rolls up again.
async fn job_rollups_gain_a_campaign_column(test: &TestDb) {
    let db = test.connect().await;
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    let table = |name: &str| match db.dialect() {
        Dialect::Postgres => format!("{STATE_SCHEMA}.{name}"),
        _ => format!("{STATE_PREFIX}{name}"),
    };
    let row = RollupRow {
        resolution: 600,
        bin: 600,
        dims: std::array::from_fn(|i| format!("d{i}")),
        metrics: [1; 10],
    };
    store
        .replace_rollups(&JOB_ROLLUPS, 600, 0, 1_200, std::slice::from_ref(&row))
        .await
        .unwrap();
    // Back to version 5: no campaign column, migration 6 not recorded.
    db.execute(&format!(
        "ALTER TABLE {} DROP COLUMN campaign",
        table("job_rollups")
    ))
    .await
    .unwrap();
    db.execute(&format!(
        "DELETE FROM {} WHERE version = 6",
        table("migrations")
    ))
    .await
    .unwrap();
    let count = format!("SELECT COUNT(*) FROM {}", table("job_rollups"));
    assert_eq!(db.scalar_i64(&count).await.unwrap(), 1);
    let store = StateStore::open(&StateConfig::default(), &db)
        .await
        .unwrap();
    assert_eq!(store.location().version, newest());
    assert_eq!(db.scalar_i64(&count).await.unwrap(), 0, "rows cleared");
    store
        .replace_rollups(&JOB_ROLLUPS, 600, 0, 1_200, std::slice::from_ref(&row))
        .await
        .unwrap();
    assert_eq!(
        store.rollups(&JOB_ROLLUPS, 600, 0, 1_200).await.unwrap(),
        vec![row]
    );
    db.close().await;
}
on_every_backend!(job_rollups_gain_a_campaign_column);

async fn a_read_only_panda_account_keeps_state_in_a_sqlite_file(test: &TestDb) {
    let owner = test.connect().await;
    schema::init(&owner, false).await.unwrap();
    let panda_before = schema::existing_tables(&owner).await.unwrap();
    owner.close().await;
    let role = format!("{}_ro", test.name());
    let url = match test.backend {
        Backend::Sqlite => format!("{}?mode=ro", test.url),
        Backend::Postgres => {
            test.admin(&format!("CREATE ROLE {role} LOGIN")).await;
            test.admin(&format!(
                "GRANT CONNECT ON DATABASE {} TO {role}",
                test.name()
            ))
            .await;
            test.url_for_user(&role)
        }
        Backend::MySql => {
            test.admin(&format!("CREATE USER '{role}'@'%'")).await;
            test.admin(&format!(
                "GRANT SELECT ON {}.* TO '{role}'@'%'",
                test.name()
            ))
            .await;
            test.url_for_user(&role)
        }
    };
    let reader = Db::connect(&url, Schemas::default(), Purpose::Serve)
        .await
        .unwrap();
    let file = scratch_file(test.name());
    let config = StateConfig {
        url: None,
        file: Some(file.clone()),
    };
    let store = StateStore::open(&config, &reader).await.unwrap();
    let location = store.location().clone();
    assert_eq!(location.backend, Dialect::Sqlite);
    assert!(
        location.place.contains(&file.display().to_string()),
        "{location:?}"
    );
    let note = location.note.expect("the fallback says why");
    assert!(note.contains("cannot create pandamon's tables"), "{note}");
    assert!(
        !note.to_lowercase().contains("create table"),
        "no sql in {note}"
    );
    store.put("alerts", "sent", Some("1")).await.unwrap();
    assert!(file.exists());
    store.close().await;
    reader.close().await;

    let owner = test.connect().await;
    assert_eq!(schema::existing_tables(&owner).await.unwrap(), panda_before);
    owner.close().await;
    match test.backend {
        Backend::Sqlite => {}
        Backend::Postgres => {
            test.admin(&format!(
                "REVOKE ALL ON DATABASE {} FROM {role}",
                test.name()
            ))
            .await;
            test.admin(&format!("DROP ROLE {role}")).await;
        }
        Backend::MySql => test.admin(&format!("DROP USER '{role}'@'%'")).await,
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
on_every_backend!(a_read_only_panda_account_keeps_state_in_a_sqlite_file);

/// `[state] db` puts the state in a database of its own; the PanDA database gains nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_database_of_its_own() {
    let panda = TestDb::new(Backend::Postgres, "state_panda").await;
    let own = TestDb::new(Backend::MySql, "state_own").await;
    let db = panda.connect().await;
    let config = StateConfig {
        url: Some(own.url.clone()),
        file: None,
    };
    let store = StateStore::open(&config, &db).await.unwrap();
    assert_eq!(store.location().backend, Dialect::MySql);
    assert!(
        store.location().place.contains("[state] db"),
        "{:?}",
        store.location()
    );
    assert_eq!(store.get("m", "k").await.unwrap(), None);
    store.put("m", "k", Some("v")).await.unwrap();
    let schemas: i64 = db
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{STATE_SCHEMA}'"
        ))
        .await
        .unwrap();
    assert_eq!(schemas, 0, "the panda database gained a pandamon schema");
    store.close().await;
    db.close().await;
    panda.cleanup().await;
    own.cleanup().await;
}
