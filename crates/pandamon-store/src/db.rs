//! Connections: one concrete sqlx pool per dialect behind [`Db`], the schema names a PanDA
//! database uses, and the few dialect facts (quoting, placeholders) SQL builders need.

use crate::catalog::{SchemaRole, Table};
use crate::error::{Result, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// SQL dialects pandamon speaks. Oracle is rendered as text only (no server to test against).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Quotes an identifier. Identifiers come from the catalogue or validated config, never
    /// from a request.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::MySql => format!("`{ident}`"),
            _ => format!("\"{ident}\""),
        }
    }

    /// The placeholder for the `n`-th (1-based) bound parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    }

    /// Largest number of bound parameters one statement may carry.
    pub fn max_params(self) -> usize {
        match self {
            Dialect::Postgres => 32_767,
            Dialect::MySql => 60_000,
            Dialect::Sqlite => 30_000,
        }
    }
}

/// PostgreSQL schema names. The defaults are the DOMA (Rubin, sPHENIX) deployment names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schemas {
    pub panda: String,
    pub arch: String,
    pub idds: String,
    pub meta: String,
}

impl std::default::Default for Schemas {
    fn default() -> Self {
        Schemas {
            panda: "doma_panda".into(),
            arch: "doma_pandaarch".into(),
            idds: "doma_idds".into(),
            meta: "doma_pandameta".into(),
        }
    }
}

impl Schemas {
    pub fn validate(&self) -> Result<()> {
        for name in self.all() {
            let ok = !name.is_empty()
                && name.len() <= 63
                && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return Err(StoreError::BadSchemaName(name.to_string()));
            }
        }
        Ok(())
    }

    pub fn for_role(&self, role: SchemaRole) -> &str {
        match role {
            SchemaRole::Panda => &self.panda,
            SchemaRole::Arch => &self.arch,
            SchemaRole::Idds => &self.idds,
            SchemaRole::Meta => &self.meta,
        }
    }

    /// Every schema, one per role.
    pub fn all(&self) -> [&str; 4] {
        [&self.panda, &self.arch, &self.idds, &self.meta]
    }
}

/// How a connection will be used: the simulator wants fast unsafe writes on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Serve,
    Load,
}

/// A connected PanDA database.
#[derive(Debug, Clone)]
pub struct Db {
    /// Public for tests' independent SQL checks only: `tests/tidy.rs` keeps it out of every
    /// other crate's sources.
    pub pool: Pool,
    pub schemas: Schemas,
    /// The url with any password removed, for messages and `/healthz`.
    pub display_url: String,
    /// Whether the database is known to be down.
    pub health: Arc<Health>,
}

/// What is known of the database's reachability. A prober (the server checks every second) and
/// requests that found the database unreachable mark it down; while it is down, statements fail
/// at once with [`StoreError::Down`] instead of each waiting for connection timeouts, and
/// [`Db::probe`] alone still tries the database. Nothing marks it down outside a server, so
/// command-line work always tries.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
    outages: AtomicU64,
}

impl Health {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// How many times the database was marked down: an answer computed while this changed may
    /// hold gaps and is not kept.
    pub fn outages(&self) -> u64 {
        self.outages.load(Ordering::Acquire)
    }

    pub fn mark_down(&self) {
        if !self.down.swap(true, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::AcqRel);
            tracing::warn!("database marked unavailable; statements fail at once until it answers");
        }
    }

    pub fn mark_up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("database answers again");
        }
    }
}

#[derive(Debug, Clone)]
pub enum Pool {
    Pg(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`; the body must compile for
/// all three sqlx drivers.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Pg($pool) => $body,
            $crate::db::Pool::MySql($pool) => $body,
            $crate::db::Pool::Sqlite($pool) => $body,
        }
    };
}

/// [`with_pool!`] for the store's own statements: fails at once with [`StoreError::Down`] while
/// the database is known to be down.
macro_rules! live_pool {
    ($db:expr, $pool:ident => $body:expr) => {{
        $db.check_health()?;
        $crate::with_pool!($db, $pool => $body)
    }};
}
pub(crate) use live_pool;

/// Recognises the dialect of a database url, without connecting.
pub fn dialect_of(url: &str) -> Result<Dialect> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    match scheme {
        "postgres" | "postgresql" => Ok(Dialect::Postgres),
        "mysql" | "mariadb" => Ok(Dialect::MySql),
        "sqlite" => Ok(Dialect::Sqlite),
        _ => Err(StoreError::UnknownScheme(redact(url))),
    }
}

/// Removes a password from a url.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// How long a statement that serves a request may run unless configured otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

impl Db {
    /// Connects to `url`. Fails with a clear message when the server cannot be reached. A
    /// serving connection's statements end on the server after [`DEFAULT_STATEMENT_TIMEOUT`].
    pub async fn connect(url: &str, schemas: Schemas, purpose: Purpose) -> Result<Db> {
        let timeout = (purpose == Purpose::Serve).then_some(DEFAULT_STATEMENT_TIMEOUT);
        Db::connect_limited(url, schemas, purpose, timeout).await
    }

    /// Connects to `url` with statements ended on the server after `statement_timeout`
    /// (PostgreSQL `statement_timeout`, MariaDB `max_statement_time`; SQLite has no such limit).
    /// A serving connection never creates a SQLite file.
    pub async fn connect_limited(
        url: &str,
        schemas: Schemas,
        purpose: Purpose,
        statement_timeout: Option<Duration>,
    ) -> Result<Db> {
        schemas.validate()?;
        let dialect = dialect_of(url)?;
        let display_url = redact(url);
        let connect_error = |e: sqlx::Error, target: String| StoreError::Connect {
            backend: dialect.name(),
            target,
            detail: e.to_string().to_lowercase(),
        };
        let pool = match dialect {
            Dialect::Postgres => {
                let mut options = PgConnectOptions::from_str(url)
                    .map_err(|e| connect_error(e, display_url.clone()))?
                    .options([("timezone", "UTC")]);
                if purpose == Purpose::Load {
                    // Bulk loads are re-runnable: losing the last commits on a crash is fine.
                    options = options.options([("synchronous_commit", "off")]);
                }
                if let Some(limit) = statement_timeout {
                    options = options
                        .options([("statement_timeout", limit.as_millis().max(1).to_string())]);
                }
                let target = format!("{}:{}", options.get_host(), options.get_port());
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(|e| connect_error(e, target))?;
                Pool::Pg(pool)
            }
            Dialect::MySql => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                let options = MySqlConnectOptions::from_str(&url)
                    .map_err(|e| connect_error(e, display_url.clone()))?
                    .timezone(Some("+00:00".to_string()))
                    .charset("utf8mb4");
                let limit = statement_timeout.map(|t| t.as_secs_f64().max(0.001));
                let pool = MySqlPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            if let Some(seconds) = limit {
                                use sqlx::Executor;
                                // MariaDB's limit; MySQL's is max_execution_time, in ms.
                                let mariadb = format!("SET SESSION max_statement_time = {seconds}");
                                if conn.execute(AssertSqlSafe(mariadb)).await.is_err() {
                                    let mysql = format!(
                                        "SET SESSION max_execution_time = {}",
                                        (seconds * 1_000.0) as u64
                                    );
                                    conn.execute(AssertSqlSafe(mysql)).await?;
                                }
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(|e| connect_error(e, display_url.clone()))?;
                Pool::MySql(pool)
            }
            Dialect::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| connect_error(e, display_url.clone()))?;
                let file = options.get_filename();
                if purpose == Purpose::Serve
                    && file != std::path::Path::new(":memory:")
                    && !file.exists()
                {
                    return Err(StoreError::NoSqliteFile(file.display().to_string()));
                }
                let options = options
                    .create_if_missing(purpose == Purpose::Load)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(30))
                    .synchronous(match purpose {
                        Purpose::Load => SqliteSynchronous::Off,
                        Purpose::Serve => SqliteSynchronous::Normal,
                    });
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await
                    .map_err(|e| connect_error(e, display_url.clone()))?;
                Pool::Sqlite(pool)
            }
        };
        Ok(Db {
            pool,
            schemas,
            display_url,
            health: Arc::default(),
        })
    }

    /// Fails with [`StoreError::Down`] while the database is known to be down.
    pub(crate) fn check_health(&self) -> Result<()> {
        if self.health.is_down() {
            return Err(StoreError::Down);
        }
        Ok(())
    }

    /// Tries the database whatever is known of it, within `limit`, and records the outcome in
    /// [`Db::health`]: the server's prober.
    pub async fn probe(&self, limit: Duration) -> Result<()> {
        let ping = async {
            with_pool!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
            Ok::<_, StoreError>(())
        };
        let outcome = match tokio::time::timeout(limit, ping).await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::NoAnswer(limit)),
        };
        match &outcome {
            Ok(()) => self.health.mark_up(),
            Err(e) if e.kind() == crate::ErrorKind::Unavailable => self.health.mark_down(),
            Err(_) => {}
        }
        outcome
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Pg(_) => Dialect::Postgres,
            Pool::MySql(_) => Dialect::MySql,
            Pool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The table's name as SQL, schema-qualified on PostgreSQL.
    pub fn qualified(&self, table: &Table) -> String {
        self.qualified_name(table.role, &table.name)
    }

    pub fn qualified_name(&self, role: SchemaRole, name: &str) -> String {
        let d = self.dialect();
        match d {
            Dialect::Postgres => {
                format!("{}.{}", d.quote(self.schemas.for_role(role)), d.quote(name))
            }
            _ => d.quote(name),
        }
    }

    /// Runs one statement without parameters.
    pub async fn execute(&self, sql: &str) -> Result<u64> {
        let affected = live_pool!(self, pool => sqlx::query(AssertSqlSafe(sql)).execute(pool).await?.rows_affected());
        Ok(affected)
    }

    /// Runs a query returning one `i64` (e.g. a count); NULL reads as 0.
    pub async fn scalar_i64(&self, sql: &str) -> Result<i64> {
        let value: Option<i64> =
            live_pool!(self, pool => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await?);
        Ok(value.unwrap_or(0))
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

impl From<Dialect> for pandamon_query::SqlDialect {
    fn from(d: Dialect) -> Self {
        match d {
            Dialect::Postgres => pandamon_query::SqlDialect::Postgres,
            Dialect::MySql => pandamon_query::SqlDialect::MySql,
            Dialect::Sqlite => pandamon_query::SqlDialect::Sqlite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_redacted() {
        assert_eq!(dialect_of("postgres://u@h/db").unwrap(), Dialect::Postgres);
        assert_eq!(
            dialect_of("postgresql://u@h/db").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(dialect_of("mariadb://root@h/db").unwrap(), Dialect::MySql);
        assert_eq!(dialect_of("sqlite://demo.db").unwrap(), Dialect::Sqlite);
        let err = dialect_of("oracle://u:secret@h/db").unwrap_err();
        assert!(err.to_string().contains("unknown database url"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(redact("postgres://u:pw@h:5/db"), "postgres://u@h:5/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn schema_names_are_validated() {
        assert!(Schemas::default().validate().is_ok());
        let bad = Schemas {
            panda: "x; drop table".into(),
            ..Schemas::default()
        };
        assert!(matches!(bad.validate(), Err(StoreError::BadSchemaName(_))));
    }
}
