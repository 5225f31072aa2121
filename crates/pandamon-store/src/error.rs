//! The store's error type. Messages are lowercase and say what to do; only the web layer turns
//! an error into an HTTP status, through [`StoreError::kind`].

use thiserror::Error;

/// What kind of failure an error is, for callers that map errors to HTTP or exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something invalid (bad URL, bad flag value).
    Invalid,
    /// The database cannot be reached.
    Unavailable,
    /// The database is reachable but not in the state required (no schema, foreign schema).
    State,
    /// The statement ran past the statement timeout and the server ended it.
    TooSlow,
    /// Anything else: a bug or an unexpected database answer.
    Internal,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "unknown database url '{0}': use postgres://user@host/db, mysql://user@host/db or sqlite://path"
    )]
    UnknownScheme(String),
    #[error("invalid schema name '{0}': use lowercase letters, digits and '_'")]
    BadSchemaName(String),
    #[error(
        "cannot connect to {backend} at {target}: {detail}; is the server running and the url right?"
    )]
    Connect {
        backend: &'static str,
        target: String,
        detail: String,
    },
    #[error(
        "the database holds PanDA tables that pandamon did not create ({tables}); refusing to touch them: pass --force to drop and recreate them"
    )]
    ForeignSchema { tables: String },
    #[error(
        "no pandamon-created PanDA schema in this database: run `pandamon schema init --db URL` first"
    )]
    NotOwned,
    #[error(
        "the PanDA tables are missing ({tables}): run `pandamon schema init --db URL`, or check the schema names in pandamon.toml"
    )]
    MissingTables { tables: String },
    #[error(
        "pandamon's state store is at migration {found}, newer than this pandamon knows ({known}): upgrade pandamon or point [state] db elsewhere"
    )]
    StateTooNew { found: i64, known: i64 },
    #[error(
        "no database file at {0}: make one with `pandamon schema init --db sqlite://PATH` (or `pandamon demo`), or check the path"
    )]
    NoSqliteFile(String),
    #[error(
        "the database is unavailable (it did not answer the last check); retrying every second"
    )]
    Down,
    #[error("the database did not answer within {} ms", .0.as_millis())]
    NoAnswer(std::time::Duration),
    /// Not a `source`: sqlx's message already carries its cause, and chains would repeat it.
    #[error("database error: {0}")]
    Sql(sqlx::Error),
    #[error("unreadable database answer: {0}")]
    Decode(&'static str),
    #[error("table {table} has no column {column} in the catalogue")]
    UnknownColumn { table: String, column: String },
    #[error("catalogue error at line {line}: {message}")]
    Catalog { line: usize, message: String },
}

impl StoreError {
    /// Whether the database refused a row because its key is taken.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sql(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::UnknownScheme(_) | StoreError::BadSchemaName(_) => ErrorKind::Invalid,
            StoreError::Connect { .. } | StoreError::Down | StoreError::NoAnswer(_) => {
                ErrorKind::Unavailable
            }
            StoreError::ForeignSchema { .. }
            | StoreError::NotOwned
            | StoreError::MissingTables { .. }
            | StoreError::StateTooNew { .. }
            | StoreError::NoSqliteFile(_) => ErrorKind::State,
            StoreError::Sql(e) => match e {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_) => ErrorKind::Unavailable,
                sqlx::Error::Database(db) if timed_out(db.as_ref()) => ErrorKind::TooSlow,
                _ => ErrorKind::Internal,
            },
            StoreError::Catalog { .. }
            | StoreError::UnknownColumn { .. }
            | StoreError::Decode(_) => ErrorKind::Internal,
        }
    }
}

/// Whether the server ended the statement at the statement timeout: PostgreSQL's
/// `query_canceled` (57014), MariaDB's `max_statement_time` (1969), MySQL's
/// `max_execution_time` (3024).
fn timed_out(e: &dyn sqlx::error::DatabaseError) -> bool {
    match e.code().as_deref() {
        Some("57014") => true,
        _ => {
            let message = e.message().to_lowercase();
            message.contains("max_statement_time")
                || message.contains("maximum statement execution time")
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Sql(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
