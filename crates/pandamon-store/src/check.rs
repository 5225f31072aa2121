//! `schema check`: which catalogue tables and columns a database has, lacks, or holds with
//! another type, read from the database's own dictionary. It only reads: it is the first thing
//! an operator runs against a real PanDA database.

use crate::catalog::{Catalog, ColType, Table};
use crate::db::live_pool;
use crate::db::{Db, Dialect};
use crate::error::Result;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use std::collections::HashMap;

/// What the database holds of one catalogue table.
#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    pub table: String,
    /// Where pandamon looks for it (`schema.table`, or the bare name on MariaDB and SQLite).
    pub location: String,
    pub present: bool,
    /// Catalogue columns the table lacks (empty when the table is absent).
    pub missing_columns: Vec<String>,
    /// Columns present with a type pandamon cannot read as the catalogue's.
    pub other_type: Vec<ColumnType>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnType {
    pub column: String,
    pub expected: String,
    pub found: String,
}

impl TableCheck {
    /// Present with every column, each of a readable type.
    pub fn complete(&self) -> bool {
        self.present && self.missing_columns.is_empty() && self.other_type.is_empty()
    }
}

/// The kinds of value pandamon reads a column as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Integer,
    Decimal,
    Text,
    Time,
    Json,
    Other,
}

fn expected_family(ty: ColType) -> Family {
    match ty {
        ColType::BigInt | ColType::Int | ColType::SmallInt => Family::Integer,
        ColType::Numeric(_, 0) => Family::Integer,
        ColType::Numeric(..) => Family::Decimal,
        ColType::Varchar(_) | ColType::Char(_) | ColType::Text => Family::Text,
        ColType::Timestamp => Family::Time,
        ColType::Json | ColType::Jsonb => Family::Json,
    }
}

/// The family of a type as the database's dictionary names it (any dialect, any case).
fn found_family(found: &str) -> Family {
    let t = found.trim().to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    match base {
        "bigint" | "integer" | "int" | "smallint" | "tinyint" | "mediumint" | "int2" | "int4"
        | "int8" => Family::Integer,
        "numeric" | "decimal" | "double" | "real" | "float" | "float4" | "float8" | "number" => {
            Family::Decimal
        }
        "character" | "char" | "varchar" | "text" | "longtext" | "mediumtext" | "tinytext"
        | "clob" | "bpchar" => Family::Text,
        "timestamp" | "datetime" | "date" => Family::Time,
        "json" | "jsonb" => Family::Json,
        _ => Family::Other,
    }
}

/// Whether pandamon reads a column of type `found` as it reads the catalogue's `expected`:
/// a whole-number decimal reads as an integer, a text column holds JSON on MariaDB (whose JSON
/// is text) and SQLite, and SQLite's declared types are loose.
fn readable(dialect: Dialect, expected: ColType, found: &str) -> bool {
    let (want, have) = (expected_family(expected), found_family(found));
    want == have
        || (want == Family::Integer && have == Family::Decimal && found.contains(",0)"))
        || (want == Family::Decimal && have == Family::Integer)
        || (want == Family::Json && have == Family::Text && dialect != Dialect::Postgres)
        || (dialect == Dialect::Sqlite && found.trim().is_empty())
}

/// Every catalogue table as the database holds it, in catalogue order. Reads the dictionary
/// only (`information_schema`, SQLite's `pragma_table_info`).
pub async fn check_schema(db: &Db) -> Result<Vec<TableCheck>> {
    let catalog = Catalog::get();
    let columns = dictionary(db).await?;
    Ok(catalog
        .tables
        .iter()
        .map(|t| check_table(db, t, columns.get(&t.name)))
        .collect())
}

fn check_table(db: &Db, table: &Table, found: Option<&HashMap<String, String>>) -> TableCheck {
    let location = match db.dialect() {
        Dialect::Postgres => format!("{}.{}", db.schemas.for_role(table.role), table.name),
        _ => table.name.clone(),
    };
    let Some(found) = found else {
        return TableCheck {
            table: table.name.clone(),
            location,
            present: false,
            missing_columns: Vec::new(),
            other_type: Vec::new(),
        };
    };
    let mut missing_columns = Vec::new();
    let mut other_type = Vec::new();
    for c in &table.columns {
        match found.get(&c.name) {
            None => missing_columns.push(c.name.clone()),
            Some(ty) if !readable(db.dialect(), c.ty, ty) => other_type.push(ColumnType {
                column: c.name.clone(),
                expected: crate::schema::column_type(db.dialect(), c.ty).to_lowercase(),
                found: ty.clone(),
            }),
            Some(_) => {}
        }
    }
    TableCheck {
        table: table.name.clone(),
        location,
        present: true,
        missing_columns,
        other_type,
    }
}

/// table → column → type, for the catalogue's tables in the schemas pandamon reads.
async fn dictionary(db: &Db) -> Result<HashMap<String, HashMap<String, String>>> {
    let catalog = Catalog::get();
    let rows: Vec<(String, String, String)> = match db.dialect() {
        Dialect::Postgres => {
            let rows: Vec<(String, String, String, String)> = live_pool!(db, pool => sqlx::query_as(
                "SELECT table_schema::text, table_name::text, column_name::text, \
                 CASE WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL \
                 THEN 'numeric(' || numeric_precision || ',' || COALESCE(numeric_scale, 0) || ')' \
                 ELSE data_type::text END \
                 FROM information_schema.columns WHERE table_schema IN ($1, $2, $3, $4)",
            )
            .bind(&db.schemas.panda)
            .bind(&db.schemas.arch)
            .bind(&db.schemas.idds)
            .bind(&db.schemas.meta)
            .fetch_all(pool)
            .await?);
            rows.into_iter()
                .filter(|(schema, table, _, _)| {
                    catalog
                        .find(&table.to_lowercase())
                        .is_some_and(|t| db.schemas.for_role(t.role) == schema)
                })
                .map(|(_, t, c, ty)| (t, c, ty))
                .collect()
        }
        Dialect::MySql => live_pool!(db, pool => sqlx::query_as(
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(column_type AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE()",
        )
        .fetch_all(pool)
        .await?),
        Dialect::Sqlite => {
            let names: Vec<String> = live_pool!(db, pool => sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table'",
            )
            .fetch_all(pool)
            .await?);
            let mut rows = Vec::new();
            for name in names {
                if catalog.find(&name.to_lowercase()).is_none() {
                    continue;
                }
                // The name comes from the dictionary and is checked against the catalogue.
                let sql = "SELECT name, type FROM pragma_table_info(?)";
                let cols: Vec<(String, String)> = live_pool!(db, pool => sqlx::query_as(AssertSqlSafe(sql))
                    .bind(&name)
                    .fetch_all(pool)
                    .await?);
                rows.extend(cols.into_iter().map(|(c, ty)| (name.clone(), c, ty)));
            }
            rows
        }
    };
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    for (table, column, ty) in rows {
        out.entry(table.to_lowercase())
            .or_default()
            .insert(column.to_lowercase(), ty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_alike_are_accepted_and_others_named() {
        use Dialect::*;
        assert!(readable(Postgres, ColType::BigInt, "integer"));
        assert!(readable(MySql, ColType::Int, "bigint(20)"));
        assert!(readable(MySql, ColType::Json, "longtext"));
        assert!(!readable(Postgres, ColType::Json, "text"));
        assert!(readable(Postgres, ColType::Jsonb, "json"));
        assert!(readable(
            Postgres,
            ColType::Varchar(64),
            "character varying"
        ));
        assert!(readable(
            Postgres,
            ColType::Timestamp,
            "timestamp without time zone"
        ));
        assert!(!readable(Postgres, ColType::Timestamp, "character varying"));
        assert!(!readable(MySql, ColType::BigInt, "varchar(20)"));
        assert!(readable(Sqlite, ColType::Numeric(10, 0), "INTEGER"));
        assert!(readable(MySql, ColType::BigInt, "decimal(11,0)"));
    }
}
