//! `migrate inspect`: the live database's schema, as reflected.

use crate::Error;
use crate::config::DatabaseConfig;
use crate::db::{DatabaseUrl, OpenMode};
use crate::dialect;
use crate::models;
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

/// The file format `migrate models pull` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// TOML models (`[[tables]]`).
    #[default]
    Toml,
    /// Rust `#[derive(Model)]` structs.
    Rust,
}

/// Models written from a live database.
#[derive(Debug, Clone, Serialize)]
pub struct PulledModels {
    /// The file's text.
    pub source: String,
    /// Its format.
    pub format: ModelFormat,
    /// How many tables it declares.
    pub tables: usize,
}

/// `migrate models pull`: models of every table of the database at `url`
/// that `database`'s filters pass (its own tables left out), as reflection
/// reads them, so that `migrate check` against that database finds no
/// change. Deterministic: tables by name, columns in table order.
pub fn pull_models(url: &DatabaseUrl, database: &DatabaseConfig, format: ModelFormat) -> Result<PulledModels, Error> {
    let schema = inspect(url, &database.reflection_filter(), database.busy_timeout)?.schema;
    let source = match format {
        ModelFormat::Toml => models::write_toml(
            &schema,
            "# Models pulled from the database by `migrate models pull`: the schema as\n\
             # migrate reads it. Edit them from now on; `migrate check` compares them.\n",
        )?,
        ModelFormat::Rust => models::generate_rust_with(
            &schema,
            &Default::default(),
            "//! Models pulled from the database by `migrate models pull`: the schema as\n\
             //! migrate reads it. Edit them from now on; `migrate check` compares them.\n",
        )?,
    };
    Ok(PulledModels { source, format, tables: schema.tables.len() })
}
