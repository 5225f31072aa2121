//! A fresh database for each test, on each backend. PostgreSQL and MariaDB servers come from
//! `PANDAMON_TEST_PG` and `PANDAMON_TEST_MYSQL` (defaulting to the local servers); a test whose
//! server cannot be reached fails and says which variable to set. It never passes silently.

mod proxy;
mod smtp;
pub use proxy::CutProxy;
pub use smtp::{SmtpSink, free_port};

use pandamon_store::{Db, Purpose, Schemas};
use sqlx::{AssertSqlSafe, Connection};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub const PG_VAR: &str = "PANDAMON_TEST_PG";
pub const MYSQL_VAR: &str = "PANDAMON_TEST_MYSQL";
const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306";

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// A database created for one test; [`TestDb::cleanup`] drops it.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    name: String,
    server: String,
    file: Option<PathBuf>,
}

fn server_url(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
        .trim_end_matches('/')
        .to_string()
}

fn unique_name(label: &str) -> String {
    format!(
        "pmt_{}_{}_{}",
        label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(20)
            .collect::<String>()
            .to_lowercase(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    pub async fn new(backend: Backend, label: &str) -> TestDb {
        let name = unique_name(label);
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join("pandamon-tests");
                std::fs::create_dir_all(&dir).expect("temp dir is writable");
                let file = dir.join(format!("{name}.db"));
                let _ = std::fs::remove_file(&file);
                TestDb {
                    backend,
                    url: format!("sqlite://{}", file.display()),
                    name,
                    server: String::new(),
                    file: Some(file),
                }
            }
            Backend::Postgres => {
                let server = server_url(PG_VAR, PG_DEFAULT);
                let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                    .await
                    .unwrap_or_else(|e| {
                        panic!("cannot reach PostgreSQL at {server} ({e}): start it or set {PG_VAR} to a server url like {PG_DEFAULT}")
                    });
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("test database can be created");
                let _ = conn.close().await;
                TestDb {
                    backend,
                    url: format!("{server}/{name}"),
                    name,
                    server,
                    file: None,
                }
            }
            Backend::MySql => {
                let server = server_url(MYSQL_VAR, MYSQL_DEFAULT);
                let mut conn = sqlx::MySqlConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("cannot reach MariaDB/MySQL at {server} ({e}): start it or set {MYSQL_VAR} to a server url like {MYSQL_DEFAULT}")
                    });
                sqlx::query(AssertSqlSafe(format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4"
                )))
                .execute(&mut conn)
                .await
                .expect("test database can be created");
                let _ = conn.close().await;
                TestDb {
                    backend,
                    url: format!("{server}/{name}"),
                    name,
                    server,
                    file: None,
                }
            }
        }
    }

    /// Connects with the default DOMA schema names.
    pub async fn connect(&self) -> Db {
        self.connect_as(Purpose::Load).await
    }

    pub async fn connect_as(&self, purpose: Purpose) -> Db {
        Db::connect(&self.url, Schemas::default(), purpose)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test database {}: {e}", self.url))
    }

    /// The database's name on its server (the file stem on SQLite).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This database's url as another account of the same server would write it (no password).
    pub fn url_for_user(&self, user: &str) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("test urls have a scheme");
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{user}@{host}")
    }

    /// Runs one statement on the server as its administrator, outside any test database (for
    /// accounts and grants).
    pub async fn admin(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => panic!("sqlite has no accounts"),
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&format!("{}/postgres", self.server))
                    .await
                    .expect("postgres reachable");
                sqlx::query(AssertSqlSafe(sql.to_string()))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
            Backend::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(&self.server)
                    .await
                    .expect("mariadb reachable");
                sqlx::query(AssertSqlSafe(sql.to_string()))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = conn.close().await;
            }
        }
    }

    /// Drops the database (best effort; a leftover is harmless and uniquely named).
    pub async fn cleanup(self) {
        match self.backend {
            Backend::Sqlite => {
                if let Some(file) = &self.file {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                    }
                }
            }
            Backend::Postgres => {
                if let Ok(mut conn) =
                    sqlx::PgConnection::connect(&format!("{}/postgres", self.server)).await
                {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    )))
                    .execute(&mut conn)
                    .await;
                }
            }
            Backend::MySql => {
                if let Ok(mut conn) = sqlx::MySqlConnection::connect(&self.server).await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {}",
                        self.name
                    )))
                    .execute(&mut conn)
                    .await;
                }
            }
        }
    }
}

/// Runs one async test body against SQLite, PostgreSQL and MariaDB, as three tests.
#[macro_export]
macro_rules! on_every_backend {
    ($body:ident) => {
        mod $body {
            use $crate::{Backend, TestDb};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestDb::new(Backend::Sqlite, stringify!($body)).await;
                super::$body(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = TestDb::new(Backend::Postgres, stringify!($body)).await;
                super::$body(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                let db = TestDb::new(Backend::MySql, stringify!($body)).await;
                super::$body(&db).await;
                db.cleanup().await;
            }
        }
    };
}
