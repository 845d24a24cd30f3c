//! `migrate inspect`: the live database's schema, as reflected.

use crate::Error;
use crate::db::{Connection, DatabaseUrl, OpenMode};
use crate::dialect;
use crate::schema::{NameFilter, Schema};
use serde::Serialize;

/// What `inspect` found.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The database, password redacted.
    pub database: String,
    /// Dialect name (`postgresql`, `mysql`, `sqlite`).
    pub dialect: &'static str,
    /// The reflected schema.
    pub schema: Schema,
    /// Catalog queries reflection issued.
    #[serde(skip)]
    pub statements: usize,
}

/// Reflects every table of the database at `url` that passes `filter`.
/// Never creates anything: a missing SQLite file is an error.
pub fn inspect(url: &DatabaseUrl, filter: &NameFilter) -> Result<Inspection, Error> {
    let mut conn = Connection::open(url, OpenMode::ReadOnly)?;
    let dialect = dialect::for_backend(url.backend());
    let before = conn.statement_count();
    let schema = dialect.reflect(&mut conn, filter)?;
    Ok(Inspection {
        database: url.to_string(),
        dialect: dialect.name(),
        schema,
        statements: conn.statement_count() - before,
    })
}
