//! pandamon's own state store: the tables of data pandamon keeps for itself (rollups, users,
//! sessions, alerts already sent, module bookmarks), never a PanDA table.
//!
//! Where the state lives:
//! - `[state] db = URL` (or `PANDAMON_STATE_DB`): that database.
//! - otherwise the PanDA database itself when its account may create tables there: a schema of
//!   its own (`pandamon`) on PostgreSQL, tables prefixed `pandamon_` on MariaDB and SQLite;
//! - otherwise (a read-only production account) a SQLite file, `[state] file`.
//!
//! The tables come from versioned [`MIGRATIONS`], applied in order when the store opens; the
//! versions applied are recorded in the store's `migrations` table. A store migrated by a newer
//! pandamon is refused rather than misread. Every statement uses `IF NOT EXISTS` and the version
//! row is written last, so two servers starting together at worst both create a table once.

use crate::catalog::ColType;
use crate::db::live_pool;
use crate::db::{Db, Dialect, Purpose, Schemas};
use crate::error::{Result, StoreError};
use crate::load::Value;
use crate::schema::column_type;
use crate::write::Statement;
use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use std::path::{Path, PathBuf};

/// The PostgreSQL schema holding pandamon's state.
pub const STATE_SCHEMA: &str = "pandamon";
/// The table-name prefix on MariaDB and SQLite, where the state shares a database with PanDA.
pub const STATE_PREFIX: &str = "pandamon_";
/// The SQLite file used when the PanDA account cannot write and no `[state] db` is given.
pub const DEFAULT_STATE_FILE: &str = "pandamon-state.db";

/// One column of a state table.
#[derive(Debug, Clone, Copy)]
pub struct StateColumn {
    pub name: &'static str,
    pub ty: ColType,
    pub not_null: bool,
}

const fn col(name: &'static str, ty: ColType) -> StateColumn {
    StateColumn {
        name,
        ty,
        not_null: true,
    }
}

const fn nullable(name: &'static str, ty: ColType) -> StateColumn {
    StateColumn {
        name,
        ty,
        not_null: false,
    }
}

/// One step of a migration, rendered for each dialect (indexes join when a table needs one).
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Table {
        name: &'static str,
        columns: &'static [StateColumn],
        key: &'static [&'static str],
    },
    /// A text column added to a table, empty in the rows it holds (skipped when present).
    TextColumn {
        table: &'static str,
        name: &'static str,
        ty: ColType,
    },
    /// Every row of a table deleted: data pandamon rebuilds from PanDA's tables.
    Clear { table: &'static str },
}

/// A numbered set of changes to pandamon's own tables. Never edit a released migration: add one.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub steps: &'static [Step],
}

/// The bookkeeping table, created before any migration.
const MIGRATIONS_TABLE: &str = "migrations";
const MIGRATIONS_COLUMNS: &[StateColumn] = &[
    col("version", ColType::BigInt),
    col("name", ColType::Varchar(128)),
    col("applied_at", ColType::Timestamp),
];

/// The state table of small named values, one namespace per module.
pub const VALUES_TABLE: &str = "state_values";

/// The alerts pandamon sent or is sending, one row per rule and subject.
pub const ALERTS_TABLE: &str = "alerts";

/// The users who logged in, with their preferences.
pub const USERS_TABLE: &str = "user_accounts";
/// Open sessions, by the hash of their id.
pub const SESSIONS_TABLE: &str = "sessions";
/// Logins in progress at the identity provider, by the hash of their state.
pub const LOGINS_TABLE: &str = "logins";
/// API tokens, by their hash.
pub const TOKENS_TABLE: &str = "api_tokens";
/// The pages each user visits, with decaying weights.
pub const VISITS_TABLE: &str = "page_visits";
/// The accounting rollups (`accounting.rs`).
pub const ROLLUPS_TABLE: &str = "job_rollups";
/// The running and pending jobs every 10 minutes (`accounting.rs`).
pub const SNAPSHOTS_TABLE: &str = "job_snapshots";
/// The transfer rollups (`accounting.rs`).
pub const TRANSFER_ROLLUPS_TABLE: &str = "transfer_rollups";

/// Every migration, in version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "named values per module",
        steps: &[Step::Table {
            name: VALUES_TABLE,
            columns: &[
                col("module", ColType::Varchar(64)),
                col("name", ColType::Varchar(191)),
                nullable("value", ColType::Text),
                col("updated_at", ColType::Timestamp),
            ],
            key: &["module", "name"],
        }],
    },
    Migration {
        version: 2,
        name: "alerts sent",
        steps: &[Step::Table {
            name: ALERTS_TABLE,
            columns: &[
                col("rule", ColType::Varchar(64)),
                col("subject", ColType::Varchar(191)),
                nullable("claimed_at", ColType::Timestamp),
                nullable("delivered_at", ColType::Timestamp),
                col("attempts", ColType::BigInt),
                nullable("last_error", ColType::Text),
                nullable("recipients", ColType::Text),
                nullable("title", ColType::Text),
                col("updated_at", ColType::Timestamp),
            ],
            key: &["rule", "subject"],
        }],
    },
    Migration {
        version: 3,
        name: "users, sessions, logins, api tokens, page visits",
        steps: &[
            Step::Table {
                name: USERS_TABLE,
                columns: &[
                    col("login", ColType::Varchar(128)),
                    nullable("name", ColType::Varchar(255)),
                    nullable("email", ColType::Varchar(255)),
                    nullable("preferences", ColType::Text),
                    col("first_login", ColType::Timestamp),
                    col("last_login", ColType::Timestamp),
                ],
                key: &["login"],
            },
            Step::Table {
                name: SESSIONS_TABLE,
                columns: &[
                    col("id_hash", ColType::Varchar(64)),
                    col("login", ColType::Varchar(128)),
                    col("created_at", ColType::Timestamp),
                    col("expires_at", ColType::Timestamp),
                ],
                key: &["id_hash"],
            },
            Step::Table {
                name: LOGINS_TABLE,
                columns: &[
                    col("state_hash", ColType::Varchar(64)),
                    col("nonce", ColType::Varchar(64)),
                    col("verifier", ColType::Varchar(128)),
                    col("return_to", ColType::Text),
                    col("created_at", ColType::Timestamp),
                ],
                key: &["state_hash"],
            },
            Step::Table {
                name: TOKENS_TABLE,
                columns: &[
                    col("token_hash", ColType::Varchar(64)),
                    col("login", ColType::Varchar(128)),
                    col("label", ColType::Varchar(191)),
                    col("created_at", ColType::Timestamp),
                    nullable("last_used_at", ColType::Timestamp),
                    nullable("revoked_at", ColType::Timestamp),
                ],
                key: &["token_hash"],
            },
            Step::Table {
                name: VISITS_TABLE,
                columns: &[
                    col("login", ColType::Varchar(128)),
                    col("page", ColType::Varchar(191)),
                    col("weight", ColType::BigInt),
                    col("updated_at", ColType::Timestamp),
                ],
                key: &["login", "page"],
            },
        ],
    },
    Migration {
        version: 4,
        name: "accounting rollups of completed jobs",
        steps: &[Step::Table {
            name: ROLLUPS_TABLE,
            columns: &[
                col("resolution", ColType::BigInt),
                col("bin", ColType::BigInt),
                col("dims_key", ColType::Varchar(16)),
                col("computingsite", ColType::Varchar(128)),
                col("cloud", ColType::Varchar(128)),
                col("resource_type", ColType::Varchar(128)),
                col("prodsourcelabel", ColType::Varchar(128)),
                col("processingtype", ColType::Varchar(128)),
                col("gshare", ColType::Varchar(128)),
                col("workinggroup", ColType::Varchar(128)),
                col("inputdatatype", ColType::Varchar(128)),
                col("jobstatus", ColType::Varchar(128)),
                col("errorcategory", ColType::Varchar(128)),
                col("jobs", ColType::BigInt),
                col("cores", ColType::BigInt),
                col("unknown_cores", ColType::BigInt),
                col("wall_core_s", ColType::BigInt),
                col("cpu_s", ColType::BigInt),
                col("hs06_s", ColType::BigInt),
                col("unknown_power", ColType::BigInt),
                col("events", ColType::BigInt),
                col("input_bytes", ColType::BigInt),
                col("output_bytes", ColType::BigInt),
            ],
            key: &["resolution", "bin", "dims_key"],
        }],
    },
    Migration {
        version: 5,
        name: "accounting rollups of file transfers",
        steps: &[Step::Table {
            name: TRANSFER_ROLLUPS_TABLE,
            columns: &[
                col("resolution", ColType::BigInt),
                col("bin", ColType::BigInt),
                col("dims_key", ColType::Varchar(16)),
                col("src_site", ColType::Varchar(128)),
                col("dst_site", ColType::Varchar(128)),
                col("activity", ColType::Varchar(128)),
                col("state", ColType::Varchar(16)),
                col("reason", ColType::Varchar(500)),
                col("files", ColType::BigInt),
                col("bytes", ColType::BigInt),
            ],
            key: &["resolution", "bin", "dims_key"],
        }],
    },
    Migration {
        version: 6,
        name: "accounting rollups keyed by campaign too",
        // The job rollups are cleared: the server rolls the last days up again by itself.
        steps: &[
            Step::TextColumn {
                table: ROLLUPS_TABLE,
                name: "campaign",
                ty: ColType::Varchar(128),
            },
            Step::Clear {
                table: ROLLUPS_TABLE,
            },
        ],
    },
    Migration {
        version: 7,
        name: "running and pending jobs every 10 minutes",
        steps: &[Step::Table {
            name: SNAPSHOTS_TABLE,
            columns: &[
                col("resolution", ColType::BigInt),
                col("bin", ColType::BigInt),
                col("dims_key", ColType::Varchar(16)),
                col("computingsite", ColType::Varchar(128)),
                col("cloud", ColType::Varchar(128)),
                col("resource_type", ColType::Varchar(128)),
                col("prodsourcelabel", ColType::Varchar(128)),
                col("processingtype", ColType::Varchar(128)),
                col("gshare", ColType::Varchar(128)),
                col("workinggroup", ColType::Varchar(128)),
                col("inputdatatype", ColType::Varchar(128)),
                col("jobstatus", ColType::Varchar(128)),
                col("errorcategory", ColType::Varchar(128)),
                col("jobs", ColType::BigInt),
                col("cores", ColType::BigInt),
                col("unknown_cores", ColType::BigInt),
                col("wall_core_s", ColType::BigInt),
                col("cpu_s", ColType::BigInt),
                col("hs06_s", ColType::BigInt),
                col("unknown_power", ColType::BigInt),
                col("events", ColType::BigInt),
                col("input_bytes", ColType::BigInt),
                col("output_bytes", ColType::BigInt),
                col("campaign", ColType::Varchar(128)),
            ],
            key: &["resolution", "bin", "dims_key"],
        }],
    },
];

/// Where the state store is, for `/healthz` and the start-up log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateLocation {
    pub backend: Dialect,
    /// The schema, the table prefix, the file, or the `[state] db` database (never its url).
    pub place: String,
    /// Why the state is not in the PanDA database, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The highest migration applied.
    pub version: i64,
}

/// Where to put the state, from `[state]` in the config.
#[derive(Debug, Clone, Default)]
pub struct StateConfig {
    /// A database of its own for the state.
    pub url: Option<String>,
    /// The SQLite file used when the PanDA account is read-only.
    pub file: Option<PathBuf>,
}

/// How table names are made unique in the state's database.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Namespace {
    Schema(&'static str),
    Prefix(&'static str),
}

/// pandamon's own tables, migrated to the current version.
#[derive(Debug, Clone)]
pub struct StateStore {
    db: Db,
    namespace: Namespace,
    location: StateLocation,
    /// The day rollups of completed jobs held in memory, shared by every clone of the store
    /// (`accounting.rs`).
    pub(crate) days: std::sync::Arc<tokio::sync::RwLock<crate::accounting::Encoded>>,
}

impl StateStore {
    /// Opens the state store as the config says (see the module documentation) and applies the
    /// pending migrations.
    pub async fn open(config: &StateConfig, panda: &Db) -> Result<StateStore> {
        if let Some(url) = &config.url {
            create_sqlite_file(url)?;
            let db = Db::connect(url, Schemas::default(), Purpose::Serve).await?;
            let place = "the database of [state] db".to_string();
            return StateStore::migrate(db, None, Some(place)).await;
        }
        match StateStore::migrate(panda.clone(), None, None).await {
            Ok(store) => Ok(store),
            Err(e @ StoreError::Sql(sqlx::Error::Database(_))) => {
                let file = config
                    .file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_FILE));
                let reason = format!(
                    "the panda database account cannot create pandamon's tables ({})",
                    short_reason(&e)
                );
                tracing::warn!(file = %file.display(), reason = %reason, "pandamon state kept in a sqlite file");
                StateStore::open_file(&file, Some(reason)).await
            }
            Err(e) => Err(e),
        }
    }

    /// Opens (creating it) a SQLite state file.
    pub async fn open_file(file: &Path, note: Option<String>) -> Result<StateStore> {
        let url = format!("sqlite://{}", file.display());
        create_sqlite_file(&url)?;
        let db = Db::connect(&url, Schemas::default(), Purpose::Serve).await?;
        StateStore::migrate(db, note, Some(format!("file {}", file.display()))).await
    }

    async fn migrate(db: Db, note: Option<String>, place: Option<String>) -> Result<StateStore> {
        let dialect = db.dialect();
        let namespace = match dialect {
            Dialect::Postgres => Namespace::Schema(STATE_SCHEMA),
            _ => Namespace::Prefix(STATE_PREFIX),
        };
        let place = place.unwrap_or_else(|| match namespace {
            Namespace::Schema(s) => format!("schema {s} of the panda database"),
            Namespace::Prefix(p) => format!("tables {p}* of the panda database"),
        });
        let mut store = StateStore {
            db,
            namespace,
            location: StateLocation {
                backend: dialect,
                place,
                note,
                version: 0,
            },
            days: Default::default(),
        };
        if let Namespace::Schema(schema) = store.namespace {
            store
                .db
                .execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {}",
                    dialect.quote(schema)
                ))
                .await?;
        }
        store
            .db
            .execute(&store.create_table(MIGRATIONS_TABLE, MIGRATIONS_COLUMNS, &["version"]))
            .await?;
        let applied = store.applied_versions().await?;
        let newest = MIGRATIONS.last().map_or(0, |m| m.version);
        if let Some(&found) = applied.iter().find(|&&v| v > newest) {
            return Err(StoreError::StateTooNew {
                found,
                known: newest,
            });
        }
        for migration in MIGRATIONS {
            if applied.contains(&migration.version) {
                continue;
            }
            for step in migration.steps {
                store.apply(step).await?;
            }
            let record = store.statement(
                &format!(
                    "INSERT INTO {} ({}, {}, {}) VALUES ({}, {}, {})",
                    store.table(MIGRATIONS_TABLE),
                    dialect.quote("version"),
                    dialect.quote("name"),
                    dialect.quote("applied_at"),
                    dialect.placeholder(1),
                    dialect.placeholder(2),
                    dialect.placeholder(3)
                ),
                vec![
                    (Value::Int(migration.version), ColType::BigInt),
                    (Value::Text(migration.name.into()), ColType::Varchar(128)),
                    (Value::Time(now()), ColType::Timestamp),
                ],
            );
            if let Err(e) = store.db.transaction(&[record]).await {
                // Another server applied it in the meantime: the row is there now.
                if !store.applied_versions().await?.contains(&migration.version) {
                    return Err(e);
                }
            }
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "pandamon state migrated"
            );
        }
        store.location.version = newest;
        Ok(store)
    }

    pub fn location(&self) -> &StateLocation {
        &self.location
    }

    /// The versions recorded as applied, ascending.
    pub async fn applied_versions(&self) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT {} FROM {} ORDER BY 1",
            self.db.dialect().quote("version"),
            self.table(MIGRATIONS_TABLE)
        );
        let versions: Vec<i64> = live_pool!(self.db, pool => sqlx::query_scalar(AssertSqlSafe(sql.as_str())).fetch_all(pool).await?);
        Ok(versions)
    }

    /// The names of pandamon's state tables as they exist in the database, namespace included.
    pub fn table_names(&self) -> Vec<String> {
        std::iter::once(MIGRATIONS_TABLE)
            .chain(MIGRATIONS.iter().flat_map(|m| {
                m.steps.iter().filter_map(|s| match s {
                    Step::Table { name, .. } => Some(*name),
                    Step::TextColumn { .. } | Step::Clear { .. } => None,
                })
            }))
            .map(|name| match &self.namespace {
                Namespace::Schema(s) => format!("{s}.{name}"),
                Namespace::Prefix(p) => format!("{p}{name}"),
            })
            .collect()
    }

    /// A named value a module keeps (a bookmark, the last alert sent, a backfill position).
    pub async fn get(&self, module: &str, name: &str) -> Result<Option<String>> {
        let d = self.db.dialect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = {} AND {} = {}",
            d.quote("value"),
            self.table(VALUES_TABLE),
            d.quote("module"),
            d.placeholder(1),
            d.quote("name"),
            d.placeholder(2)
        );
        let value: Option<Option<String>> = live_pool!(self.db, pool => sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
            .bind(module)
            .bind(name)
            .fetch_optional(pool)
            .await?);
        Ok(value.flatten())
    }

    /// Sets (or, with `None`, clears) a module's named value, atomically.
    pub async fn put(&self, module: &str, name: &str, value: Option<&str>) -> Result<()> {
        let d = self.db.dialect();
        let table = self.table(VALUES_TABLE);
        let key = vec![
            (Value::Text(module.to_string().into()), ColType::Varchar(64)),
            (Value::Text(name.to_string().into()), ColType::Varchar(191)),
        ];
        let delete = self.statement(
            &format!(
                "DELETE FROM {table} WHERE {} = {} AND {} = {}",
                d.quote("module"),
                d.placeholder(1),
                d.quote("name"),
                d.placeholder(2)
            ),
            key.clone(),
        );
        let mut statements = vec![delete];
        if let Some(value) = value {
            let mut params = key;
            params.push((Value::Text(value.to_string().into()), ColType::Text));
            params.push((Value::Time(now()), ColType::Timestamp));
            statements.push(self.statement(
                &format!(
                    "INSERT INTO {table} ({}, {}, {}, {}) VALUES ({}, {}, {}, {})",
                    d.quote("module"),
                    d.quote("name"),
                    d.quote("value"),
                    d.quote("updated_at"),
                    d.placeholder(1),
                    d.placeholder(2),
                    d.placeholder(3),
                    d.placeholder(4)
                ),
                params,
            ));
        }
        self.db.transaction(&statements).await?;
        Ok(())
    }

    /// Every value of one module, by name.
    pub async fn values(&self, module: &str) -> Result<Vec<(String, Option<String>)>> {
        let d = self.db.dialect();
        let sql = format!(
            "SELECT {}, {} FROM {} WHERE {} = {} ORDER BY 1",
            d.quote("name"),
            d.quote("value"),
            self.table(VALUES_TABLE),
            d.quote("module"),
            d.placeholder(1)
        );
        let rows: Vec<(String, Option<String>)> = live_pool!(self.db, pool => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(module)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    pub async fn close(&self) {
        self.db.close().await
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    pub(crate) fn statement(&self, sql: &str, params: Vec<(Value, ColType)>) -> Statement {
        Statement {
            sql: sql.to_string(),
            params,
        }
    }

    /// A state table's name as SQL.
    pub(crate) fn table(&self, name: &str) -> String {
        let d = self.db.dialect();
        match &self.namespace {
            Namespace::Schema(s) => format!("{}.{}", d.quote(s), d.quote(name)),
            Namespace::Prefix(p) => d.quote(&format!("{p}{name}")),
        }
    }

    fn create_table(&self, name: &str, columns: &[StateColumn], key: &[&str]) -> String {
        let d = self.db.dialect();
        let mut parts: Vec<String> = columns
            .iter()
            .map(|c| {
                let null = if c.not_null { " NOT NULL" } else { "" };
                format!("{} {}{null}", d.quote(c.name), column_type(d, c.ty))
            })
            .collect();
        let key: Vec<String> = key.iter().map(|k| d.quote(k)).collect();
        parts.push(format!("PRIMARY KEY ({})", key.join(", ")));
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            self.table(name),
            parts.join(", ")
        )
    }

    async fn apply(&self, step: &Step) -> Result<()> {
        let d = self.db.dialect();
        let sql = match *step {
            Step::Table { name, columns, key } => self.create_table(name, columns, key),
            Step::TextColumn { table, name, ty } => {
                // A table alias keeps SQLite from reading an unknown quoted name as a string.
                let probe = format!(
                    "SELECT t.{} FROM {} t WHERE 1 = 0",
                    d.quote(name),
                    self.table(table)
                );
                if self.db.execute(&probe).await.is_ok() {
                    return Ok(());
                }
                format!(
                    "ALTER TABLE {} ADD COLUMN {} {} NOT NULL DEFAULT ''",
                    self.table(table),
                    d.quote(name),
                    column_type(d, ty)
                )
            }
            Step::Clear { table } => format!("DELETE FROM {}", self.table(table)),
        };
        self.db.execute(&sql).await.map(|_| ())
    }
}

/// Creates the file of a `sqlite://` state url when missing: a serving connection never
/// creates one, but pandamon's own state file is pandamon's to create.
fn create_sqlite_file(url: &str) -> Result<()> {
    let Some(path) = url.strip_prefix("sqlite://") else {
        return Ok(());
    };
    let path = Path::new(path.split('?').next().unwrap_or(path));
    if path.as_os_str().is_empty() || path.exists() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|_| ())
        .map_err(|e| StoreError::Connect {
            backend: "sqlite",
            target: path.display().to_string(),
            detail: e.to_string().to_lowercase(),
        })
}

fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// The database's own words for why a statement was refused, without the statement.
fn short_reason(e: &StoreError) -> String {
    match e {
        StoreError::Sql(sqlx::Error::Database(db)) => db.message().to_lowercase(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_name_no_panda_table() {
        let catalog = crate::Catalog::get();
        let mut last = 0;
        for m in MIGRATIONS {
            assert_eq!(m.version, last + 1, "migration {} out of order", m.name);
            last = m.version;
            for step in m.steps {
                match step {
                    Step::Table { name, key, columns } => {
                        assert!(catalog.find(name).is_none(), "{name} is a panda table");
                        for k in *key {
                            assert!(columns.iter().any(|c| c.name == *k), "{name}: key {k}");
                        }
                    }
                    Step::TextColumn { table, .. } | Step::Clear { table } => {
                        assert!(catalog.find(table).is_none(), "{table} is a panda table");
                    }
                }
            }
        }
    }
}
