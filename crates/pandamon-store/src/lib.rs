//! Database access for pandamon: connections per dialect, the PanDA table catalogue and its DDL,
//! bulk loading for the simulator, and read queries.
//!
//! Architecture invariant: every value reaches SQL as a bound parameter or through `COPY`
//! (the one literal, a `COPY ... TO STDOUT` scan's start, is formatted from an integer);
//! identifiers come only from the catalogue or validated configuration. This crate knows nothing
//! about HTTP.

pub mod accounting;
pub mod alerts;
pub mod carousel;
pub mod catalog;
pub mod check;
pub mod db;
pub mod error;
pub mod harvester;
pub mod jobs;
pub mod load;
pub mod log;
pub mod scan;
pub mod schema;
pub mod simreads;
pub mod state;
pub mod status;
pub mod users;
pub mod watch;
pub mod write;

pub use catalog::{Catalog, SchemaRole, Table};
pub use db::{Db, Dialect, Pool, Purpose, Schemas, dialect_of, redact};
pub use error::{ErrorKind, Result, StoreError};
pub use load::{Batch, Value};
pub use state::{StateConfig, StateLocation, StateStore};
pub use write::Statement;
