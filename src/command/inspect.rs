//! `migrate inspect`: the live database's schema, as reflected.

use crate::Error;
use crate::db::{DatabaseUrl, OpenMode};
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

/// Reflects every table of the database at `url` that passes `filter`,
/// waiting up to `busy_timeout` seconds for another process's write (SQLite).
/// Never creates anything: a missing SQLite file is an error.
pub fn inspect(url: &DatabaseUrl, filter: &NameFilter, busy_timeout: f64) -> Result<Inspection, Error> {
    let mut conn = super::connect(url, OpenMode::ReadOnly, busy_timeout)?;
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
