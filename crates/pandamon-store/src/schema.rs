//! `schema init`: DDL for each dialect rendered from the catalogue, and the ownership marker
//! that lets pandamon tell a database it created from a real PanDA database it must not touch.

use crate::catalog::{Catalog, ColType, Default, SchemaRole, Table};
use crate::db::live_pool;
use crate::db::{Db, Dialect};
use crate::error::{Result, StoreError};
use sqlx::AssertSqlSafe;

/// pandamon's own table, created next to the PanDA tables by `schema init` only.
pub const MARKER_TABLE: &str = "pandamon_meta";
/// Bumped when the catalogue changes in a way that needs `schema init --force`.
pub const CATALOG_VERSION: &str = "2";
/// The panda-database schema version the catalogue follows.
pub const PANDA_SCHEMA_VERSION: (i16, i16, i16) = (0, 1, 6);

pub(crate) fn column_type(dialect: Dialect, ty: ColType) -> String {
    match (dialect, ty) {
        (_, ColType::BigInt) => "BIGINT".into(),
        (Dialect::Sqlite, ColType::Int) => "INTEGER".into(),
        (_, ColType::Int) => "INT".into(),
        (_, ColType::SmallInt) => "SMALLINT".into(),
        (Dialect::Postgres, ColType::Numeric(p, s)) => format!("NUMERIC({p},{s})"),
        (_, ColType::Numeric(p, s)) => format!("DECIMAL({p},{s})"),
        (_, ColType::Varchar(n)) => format!("VARCHAR({n})"),
        (_, ColType::Char(n)) => format!("CHAR({n})"),
        (Dialect::MySql, ColType::Text) => "LONGTEXT".into(),
        (_, ColType::Text) => "TEXT".into(),
        (Dialect::Postgres, ColType::Timestamp) => "TIMESTAMP".into(),
        (_, ColType::Timestamp) => "DATETIME".into(),
        (Dialect::Postgres, ColType::Json) => "JSON".into(),
        (Dialect::Postgres, ColType::Jsonb) => "JSONB".into(),
        (Dialect::MySql, ColType::Json | ColType::Jsonb) => "JSON".into(),
        (Dialect::Sqlite, ColType::Json | ColType::Jsonb) => "TEXT".into(),
    }
}

/// The `CREATE TABLE` and `CREATE INDEX` statements for one table.
pub fn create_table_sql(db: &Db, table: &Table) -> Vec<String> {
    let d = db.dialect();
    let name = db.qualified(table);
    let mut parts: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let mut def = format!("{} {}", d.quote(&c.name), column_type(d, c.ty));
            if c.not_null {
                def.push_str(" NOT NULL");
            }
            match &c.default {
                Some(Default::Number(n)) => def.push_str(&format!(" DEFAULT {n}")),
                Some(Default::Text(t)) => def.push_str(&format!(" DEFAULT '{t}'")),
                Some(Default::Epoch) => def.push_str(" DEFAULT '1970-01-01 00:00:00'"),
                None => {}
            }
            def
        })
        .collect();
    let key_list = |cols: &[String]| {
        cols.iter()
            .map(|c| d.quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !table.primary_key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", key_list(&table.primary_key)));
    }
    let index_name = |i: usize| index_name(table, i);
    if d == Dialect::MySql {
        for (i, cols) in table.indexes.iter().enumerate() {
            parts.push(format!(
                "KEY {} ({})",
                d.quote(&index_name(i)),
                key_list(cols)
            ));
        }
    }
    let suffix = if d == Dialect::MySql {
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC"
    } else {
        ""
    };
    let mut statements = vec![format!(
        "CREATE TABLE IF NOT EXISTS {name} (\n  {}\n){suffix}",
        parts.join(",\n  ")
    )];
    if d != Dialect::MySql {
        for (i, cols) in table.indexes.iter().enumerate() {
            statements.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {name} ({})",
                d.quote(&index_name(i)),
                key_list(cols)
            ));
        }
    }
    statements
}

fn index_name(table: &Table, i: usize) -> String {
    format!("{}_ix{}", table.name, i + 1)
}

/// Names of the secondary indexes that exist, per dialect's catalogue.
async fn existing_indexes(db: &Db) -> Result<Vec<String>> {
    let names: Vec<String> = match db.dialect() {
        Dialect::Postgres => live_pool!(db, pool => sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname IN ($1, $2, $3, $4)",
        )
        .bind(&db.schemas.panda)
        .bind(&db.schemas.arch)
        .bind(&db.schemas.idds)
        .bind(&db.schemas.meta)
        .fetch_all(pool)
        .await?),
        Dialect::MySql => live_pool!(db, pool => sqlx::query_scalar(
            "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics WHERE table_schema = DATABASE()",
        )
        .fetch_all(pool)
        .await?),
        Dialect::Sqlite => live_pool!(db, pool => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index'",
        )
        .fetch_all(pool)
        .await?),
    };
    Ok(names)
}

/// Drops the secondary indexes before a bulk load (building them afterwards is much faster).
pub async fn drop_indexes(db: &Db) -> Result<()> {
    ensure_owned(db).await?;
    let existing = existing_indexes(db).await?;
    let d = db.dialect();
    for table in &Catalog::get().tables {
        for i in 0..table.indexes.len() {
            let name = index_name(table, i);
            if !existing.contains(&name) {
                continue;
            }
            let sql = match d {
                Dialect::Postgres => format!(
                    "DROP INDEX IF EXISTS {}.{}",
                    d.quote(db.schemas.for_role(table.role)),
                    d.quote(&name)
                ),
                Dialect::MySql => format!(
                    "ALTER TABLE {} DROP INDEX {}",
                    db.qualified(table),
                    d.quote(&name)
                ),
                Dialect::Sqlite => format!("DROP INDEX IF EXISTS {}", d.quote(&name)),
            };
            db.execute(&sql).await?;
        }
    }
    Ok(())
}

/// Creates every catalogue index that is missing.
pub async fn create_indexes(db: &Db) -> Result<()> {
    let existing = existing_indexes(db).await?;
    let d = db.dialect();
    for table in &Catalog::get().tables {
        for (i, cols) in table.indexes.iter().enumerate() {
            let name = index_name(table, i);
            if existing.contains(&name) {
                continue;
            }
            let columns = cols
                .iter()
                .map(|c| d.quote(c))
                .collect::<Vec<_>>()
                .join(", ");
            db.execute(&format!(
                "CREATE INDEX {} ON {} ({columns})",
                d.quote(&name),
                db.qualified(table)
            ))
            .await?;
        }
    }
    Ok(())
}

/// What `schema init` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// A fresh schema was created.
    Created,
    /// The database already had a pandamon-created schema; missing tables were added.
    AlreadyOwned,
    /// Foreign PanDA tables were dropped and recreated because `--force` was given.
    Replaced { dropped: usize },
}

/// Lists the catalogue tables that exist in the database.
pub async fn existing_tables(db: &Db) -> Result<Vec<String>> {
    let catalog = Catalog::get();
    let names: Vec<String> = match db.dialect() {
        Dialect::Postgres => {
            let rows: Vec<(String, String)> = live_pool!(db, pool => sqlx::query_as(
                "SELECT table_schema::text, table_name::text FROM information_schema.tables \
                 WHERE table_schema IN ($1, $2, $3, $4)",
            )
            .bind(&db.schemas.panda)
            .bind(&db.schemas.arch)
            .bind(&db.schemas.idds)
            .bind(&db.schemas.meta)
            .fetch_all(pool)
            .await?);
            rows.into_iter()
                .filter(|(schema, name)| {
                    catalog
                        .find(name)
                        .is_some_and(|t| db.schemas.for_role(t.role) == schema)
                })
                .map(|(_, name)| name)
                .collect()
        }
        Dialect::MySql => live_pool!(db, pool => sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .fetch_all(pool)
        .await?),
        Dialect::Sqlite => live_pool!(db, pool => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table'",
        )
        .fetch_all(pool)
        .await?),
    };
    Ok(names
        .into_iter()
        .map(|n| n.to_lowercase())
        .filter(|n| catalog.find(n).is_some())
        .collect())
}

/// Whether this database carries pandamon's ownership marker.
pub async fn is_owned(db: &Db) -> Result<bool> {
    let exists: bool = match db.dialect() {
        Dialect::Postgres => live_pool!(db, pool => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)",
        )
        .bind(&db.schemas.panda)
        .bind(MARKER_TABLE)
        .fetch_one(pool)
        .await?),
        Dialect::MySql => {
            let n: i64 = live_pool!(db, pool => sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            )
            .bind(MARKER_TABLE)
            .fetch_one(pool)
            .await?);
            n > 0
        }
        Dialect::Sqlite => {
            let n: i64 = live_pool!(db, pool => sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
            )
            .bind(MARKER_TABLE)
            .fetch_one(pool)
            .await?);
            n > 0
        }
    };
    Ok(exists)
}

/// Fails unless the database was created by `schema init`: the only databases pandamon writes
/// PanDA rows into.
pub async fn ensure_owned(db: &Db) -> Result<()> {
    if is_owned(db).await? {
        Ok(())
    } else {
        Err(StoreError::NotOwned)
    }
}

/// Fails with the list of catalogue tables that are missing, so `serve` can say what to do.
pub async fn ensure_tables(db: &Db, required: &[&str]) -> Result<()> {
    let existing = existing_tables(db).await?;
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|t| !existing.iter().any(|e| e == t))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::MissingTables {
            tables: missing.join(", "),
        })
    }
}

/// Creates the PanDA schema. Refuses to touch foreign PanDA tables unless `force`.
pub async fn init(db: &Db, force: bool) -> Result<InitOutcome> {
    let catalog = Catalog::get();
    let owned = is_owned(db).await?;
    let existing = existing_tables(db).await?;
    let mut outcome = if owned {
        InitOutcome::AlreadyOwned
    } else {
        InitOutcome::Created
    };
    if !owned && !existing.is_empty() {
        if !force {
            let mut shown: Vec<&str> = existing.iter().map(String::as_str).take(5).collect();
            if existing.len() > 5 {
                shown.push("...");
            }
            return Err(StoreError::ForeignSchema {
                tables: shown.join(", "),
            });
        }
        for name in &existing {
            let table = catalog.table(name);
            db.execute(&format!("DROP TABLE {}", db.qualified(table)))
                .await?;
        }
        tracing::warn!(
            dropped = existing.len(),
            "dropped foreign panda tables (--force)"
        );
        outcome = InitOutcome::Replaced {
            dropped: existing.len(),
        };
    }
    if db.dialect() == Dialect::Postgres {
        for schema in db.schemas.all() {
            db.execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                db.dialect().quote(schema)
            ))
            .await?;
        }
    }
    for table in &catalog.tables {
        for statement in create_table_sql(db, table) {
            db.execute(&statement).await?;
        }
    }
    // Indexes a bulk load dropped and did not get to rebuild.
    create_indexes(db).await?;
    let d = db.dialect();
    let marker = db.qualified_name(SchemaRole::Panda, MARKER_TABLE);
    db.execute(&format!(
        "CREATE TABLE IF NOT EXISTS {marker} ({} VARCHAR(64) NOT NULL PRIMARY KEY, {} VARCHAR(256))",
        d.quote("name"),
        d.quote("value")
    ))
    .await?;
    let version = db.qualified(catalog.table("pandadb_version"));
    db.execute(&format!("DELETE FROM {version}")).await?;
    db.execute(&format!("DELETE FROM {marker}")).await?;
    let (major, minor, patch) = PANDA_SCHEMA_VERSION;
    let insert_version = format!(
        "INSERT INTO {version} ({}, {}, {}, {}) VALUES ({}, {}, {}, {})",
        d.quote("component"),
        d.quote("major"),
        d.quote("minor"),
        d.quote("patch"),
        d.placeholder(1),
        d.placeholder(2),
        d.placeholder(3),
        d.placeholder(4)
    );
    live_pool!(db, pool => {
        sqlx::query(AssertSqlSafe(insert_version.as_str()))
            .bind("PanDA")
            .bind(major)
            .bind(minor)
            .bind(patch)
            .execute(pool)
            .await?;
    });
    let insert_marker = format!(
        "INSERT INTO {marker} ({}, {}) VALUES ({}, {})",
        d.quote("name"),
        d.quote("value"),
        d.placeholder(1),
        d.placeholder(2)
    );
    for (name, value) in [
        ("created_by", "pandamon schema init".to_string()),
        ("catalog_version", CATALOG_VERSION.to_string()),
        (
            "created_at",
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
    ] {
        live_pool!(db, pool => {
            sqlx::query(AssertSqlSafe(insert_marker.as_str()))
                .bind(name)
                .bind(&value)
                .execute(pool)
                .await?;
        });
    }
    Ok(outcome)
}

/// Reads a value pandamon stored in its marker table (e.g. the simulator seed).
pub async fn get_meta(db: &Db, name: &str) -> Result<Option<String>> {
    let d = db.dialect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {} = {}",
        d.quote("value"),
        db.qualified_name(SchemaRole::Panda, MARKER_TABLE),
        d.quote("name"),
        d.placeholder(1)
    );
    let value: Option<Option<String>> = live_pool!(db, pool => sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
        .bind(name)
        .fetch_optional(pool)
        .await?);
    Ok(value.flatten())
}

/// Stores a value in pandamon's marker table. Only for pandamon-created databases.
pub async fn set_meta(db: &Db, name: &str, value: &str) -> Result<()> {
    ensure_owned(db).await?;
    let d = db.dialect();
    let table = db.qualified_name(SchemaRole::Panda, MARKER_TABLE);
    let delete = format!(
        "DELETE FROM {table} WHERE {} = {}",
        d.quote("name"),
        d.placeholder(1)
    );
    let insert = format!(
        "INSERT INTO {table} ({}, {}) VALUES ({}, {})",
        d.quote("name"),
        d.quote("value"),
        d.placeholder(1),
        d.placeholder(2)
    );
    live_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(AssertSqlSafe(delete.as_str())).bind(name).execute(&mut *tx).await?;
        sqlx::query(AssertSqlSafe(insert.as_str())).bind(name).bind(value).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Empties every catalogue table except the schema version. Only for pandamon-created databases.
pub async fn clear_workload(db: &Db) -> Result<()> {
    ensure_owned(db).await?;
    for table in &Catalog::get().tables {
        if table.name == "pandadb_version" {
            continue;
        }
        let sql = match db.dialect() {
            Dialect::Sqlite => format!("DELETE FROM {}", db.qualified(table)),
            _ => format!("TRUNCATE TABLE {}", db.qualified(table)),
        };
        db.execute(&sql).await?;
    }
    Ok(())
}

/// `major.minor.patch` from `pandadb_version`, if the table exists and has the PanDA row.
pub async fn panda_schema_version(db: &Db) -> Result<Option<String>> {
    let d = db.dialect();
    let sql = format!(
        "SELECT {}, {}, {} FROM {} WHERE {} = 'PanDA'",
        d.quote("major"),
        d.quote("minor"),
        d.quote("patch"),
        db.qualified(Catalog::get().table("pandadb_version")),
        d.quote("component")
    );
    let row: Option<(i16, i16, i16)> = match live_pool!(db, pool => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_optional(pool).await)
    {
        Ok(row) => row,
        Err(sqlx::Error::Database(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(row.map(|(a, b, c)| format!("{a}.{b}.{c}")))
}
