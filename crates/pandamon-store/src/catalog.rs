//! The catalogue of PanDA tables pandamon knows: names, columns, types, keys and indexes,
//! parsed once from `catalog.def`. DDL for every dialect is rendered from it, and so are the
//! column lists of bulk loads, so a column exists in exactly one place.

use crate::error::{Result, StoreError};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The PostgreSQL schema a table lives in. MySQL and SQLite put every table in one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaRole {
    /// `doma_panda` by default: PanDA and JEDI tables.
    Panda,
    /// `doma_pandaarch` by default: the long-term job archive.
    Arch,
    /// `doma_idds` by default: iDDS tables.
    Idds,
    /// `doma_pandameta` by default: the legacy meta tables (`users`, `sitedata`).
    Meta,
}

/// Logical column type, rendered per dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    BigInt,
    Int,
    SmallInt,
    Numeric(u8, u8),
    Varchar(u16),
    Char(u8),
    Text,
    Timestamp,
    /// `json` on PostgreSQL, where PanDA stores the document as given.
    Json,
    /// `jsonb` on PostgreSQL (iDDS metadata, storage endpoints' status); `json` elsewhere.
    Jsonb,
}

impl ColType {
    pub fn is_integer(self) -> bool {
        matches!(self, ColType::BigInt | ColType::Int | ColType::SmallInt)
    }

    pub fn is_json(self) -> bool {
        matches!(self, ColType::Json | ColType::Jsonb)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Default {
    Number(i64),
    Text(String),
    Epoch,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColType,
    pub not_null: bool,
    pub default: Option<Default>,
}

/// FNV-1a: column lookups by name are on the simulator's hot path; SipHash's DoS resistance is
/// not needed for compile-time column names.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub role: SchemaRole,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<Vec<String>>,
    positions: FastMap<String, usize>,
}

impl Table {
    /// Position of a column in [`Table::columns`].
    pub fn position(&self, column: &str) -> Option<usize> {
        self.positions.get(column).copied()
    }

    pub fn column(&self, column: &str) -> Option<&Column> {
        self.position(column).map(|i| &self.columns[i])
    }

    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }
}

#[derive(Debug)]
pub struct Catalog {
    pub tables: Vec<Table>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    /// The catalogue compiled into the binary.
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::parse(include_str!("catalog.def"))
                .expect("catalog.def is checked by the catalogue tests")
        })
    }

    /// Looks up a table. Panics on an unknown name: table names are compile-time constants.
    pub fn table(&self, name: &str) -> &Table {
        match self.by_name.get(name) {
            Some(&i) => &self.tables[i],
            None => panic!("table {name} is not in catalog.def"),
        }
    }

    pub fn find(&self, name: &str) -> Option<&Table> {
        self.by_name.get(name).map(|&i| &self.tables[i])
    }

    pub fn parse(text: &str) -> Result<Catalog> {
        let mut sets: HashMap<String, Vec<Column>> = HashMap::new();
        let mut tables = Vec::new();
        let mut current_set: Option<(String, Vec<Column>)> = None;
        let mut current_table: Option<Table> = None;
        // Whether the table being read started from a column set: its own lines may then
        // restate a column of the set with this table's type.
        let mut from_set = false;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let err = |message: String| StoreError::Catalog {
                line: line_no,
                message,
            };
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[0] {
                "columns" if current_set.is_none() && current_table.is_none() => {
                    let name = words
                        .get(1)
                        .ok_or_else(|| err("columns needs a name".into()))?;
                    current_set = Some((name.to_string(), Vec::new()));
                }
                "table" if current_set.is_none() && current_table.is_none() => {
                    let name = words
                        .get(1)
                        .ok_or_else(|| err("table needs a name".into()))?;
                    let role = match words.get(2).copied() {
                        Some("panda") => SchemaRole::Panda,
                        Some("arch") => SchemaRole::Arch,
                        Some("idds") => SchemaRole::Idds,
                        Some("meta") => SchemaRole::Meta,
                        other => return Err(err(format!("unknown schema role {other:?}"))),
                    };
                    from_set = words.get(3).is_some();
                    let columns = match words.get(3) {
                        Some(set) => sets
                            .get(*set)
                            .cloned()
                            .ok_or_else(|| err(format!("unknown column set {set}")))?,
                        None => Vec::new(),
                    };
                    current_table = Some(Table {
                        name: name.to_string(),
                        role,
                        columns,
                        primary_key: Vec::new(),
                        indexes: Vec::new(),
                        positions: FastMap::default(),
                    });
                }
                "end" => {
                    if let Some((name, columns)) = current_set.take() {
                        sets.insert(name, columns);
                    } else if let Some(mut table) = current_table.take() {
                        table.positions = table
                            .columns
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (c.name.clone(), i))
                            .collect();
                        if table.positions.len() != table.columns.len() {
                            return Err(err(format!("duplicate column in {}", table.name)));
                        }
                        for key in table.indexes.iter().chain([&table.primary_key]) {
                            if let Some(missing) =
                                key.iter().find(|c| !table.positions.contains_key(*c))
                            {
                                return Err(err(format!(
                                    "key column {missing} not in {}",
                                    table.name
                                )));
                            }
                        }
                        tables.push(table);
                    } else {
                        return Err(err("end without a block".into()));
                    }
                }
                "pk" | "index" => {
                    let table = current_table
                        .as_mut()
                        .ok_or_else(|| err("key outside a table".into()))?;
                    let cols: Vec<String> = words
                        .get(1)
                        .ok_or_else(|| err("key needs columns".into()))?
                        .split(',')
                        .map(str::to_string)
                        .collect();
                    if words[0] == "pk" {
                        table.primary_key = cols;
                    } else {
                        table.indexes.push(cols);
                    }
                }
                name => {
                    let column = parse_column(name, &words[1..]).map_err(err)?;
                    if let Some((_, cols)) = current_set.as_mut() {
                        cols.push(column);
                    } else if let Some(table) = current_table.as_mut() {
                        match table.columns.iter_mut().find(|c| c.name == column.name) {
                            Some(restated) if from_set => *restated = column,
                            _ => table.columns.push(column),
                        }
                    } else {
                        return Err(err(format!("column {name} outside a block")));
                    }
                }
            }
        }
        if current_set.is_some() || current_table.is_some() {
            return Err(StoreError::Catalog {
                line: text.lines().count(),
                message: "missing end".into(),
            });
        }
        let by_name = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Catalog { tables, by_name })
    }
}

fn parse_column(name: &str, rest: &[&str]) -> std::result::Result<Column, String> {
    let ty_text = rest
        .first()
        .ok_or_else(|| format!("column {name} needs a type"))?;
    let (base, args) = match ty_text.split_once('(') {
        Some((base, args)) => (base, Some(args.trim_end_matches(')'))),
        None => (*ty_text, None),
    };
    let number = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("bad size in {ty_text}"))
    };
    let ty = match (base, args) {
        ("bigint", None) => ColType::BigInt,
        ("int", None) => ColType::Int,
        ("smallint", None) => ColType::SmallInt,
        ("text", None) => ColType::Text,
        ("timestamp", None) => ColType::Timestamp,
        ("json", None) => ColType::Json,
        ("jsonb", None) => ColType::Jsonb,
        ("varchar", Some(n)) => ColType::Varchar(number(n)?),
        ("char", Some(n)) => ColType::Char(number(n)? as u8),
        ("numeric", Some(ps)) => {
            let (p, s) = ps
                .split_once(',')
                .ok_or_else(|| format!("numeric needs p,s in {ty_text}"))?;
            ColType::Numeric(number(p)? as u8, number(s)? as u8)
        }
        _ => return Err(format!("unknown type {ty_text}")),
    };
    let mut column = Column {
        name: name.to_string(),
        ty,
        not_null: false,
        default: None,
    };
    for word in &rest[1..] {
        if *word == "nn" {
            column.not_null = true;
        } else if let Some(value) = word.strip_prefix('=') {
            column.default = Some(if value == "epoch" {
                Default::Epoch
            } else if let Ok(n) = value.parse() {
                Default::Number(n)
            } else {
                Default::Text(value.trim_matches('\'').to_string())
            });
        } else {
            return Err(format!("unknown attribute {word} of column {name}"));
        }
    }
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_with_the_documented_shapes() {
        let catalog = Catalog::parse(include_str!("catalog.def")).unwrap();
        for job_table in [
            "jobsdefined4",
            "jobsactive4",
            "jobsarchived4",
            "jobsarchived",
        ] {
            assert_eq!(catalog.table(job_table).columns.len(), 127, "{job_table}");
        }
        assert_eq!(catalog.table("jedi_tasks").columns.len(), 88);
        assert_eq!(catalog.table("jedi_datasets").columns.len(), 35);
        assert_eq!(catalog.table("jedi_dataset_contents").columns.len(), 30);
        assert_eq!(catalog.table("harvester_workers").columns.len(), 31);
        assert_eq!(catalog.table("jobs_share_stats").columns.len(), 13);
        assert_eq!(catalog.table("data_carousel_requests").columns.len(), 20);
        assert_eq!(catalog.table("jobsarchived").role, SchemaRole::Arch);
        assert_eq!(catalog.table("requests").role, SchemaRole::Idds);
        let jobs = catalog.table("jobsactive4");
        assert_eq!(jobs.position("pandaid"), Some(0));
        assert_eq!(
            jobs.column("cpuconsumptiontime").unwrap().ty,
            ColType::Numeric(20, 0)
        );
        // A table restating a column of its set keeps the column's place with its own type.
        let defined = catalog.table("jobsdefined4");
        assert_eq!(defined.column("nevents").unwrap().ty, ColType::Int);
        assert_eq!(defined.position("nevents"), jobs.position("nevents"));
        assert_eq!(jobs.column("nevents").unwrap().ty, ColType::BigInt);
        assert_eq!(
            catalog.table("schedconfig_json").column("data").unwrap().ty,
            ColType::Json
        );
        assert_eq!(catalog.table("users").role, SchemaRole::Meta);
    }

    #[test]
    fn malformed_catalogue_is_rejected_with_a_line_number() {
        let err = Catalog::parse("table t panda\nx varchar\nend\n").unwrap_err();
        assert!(matches!(err, StoreError::Catalog { line: 2, .. }), "{err}");
        let err = Catalog::parse("table t panda\nx int\npk y\nend\n").unwrap_err();
        assert!(err.to_string().contains("key column y"), "{err}");
        assert!(Catalog::parse("table t panda\nx int\n").is_err());
    }
}
