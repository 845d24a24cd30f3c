//! `migrate`: schema migrations for Rust projects.
//!
//! Reflects a live database's schema, compares it with declared models,
//! writes revision scripts, and applies them, on PostgreSQL, MariaDB/MySQL
//! and SQLite. See `docs/` for the user guide; every command of the CLI is a
//! library function here.

/// Declares a row struct for a query: every column read as nullable
/// text (queries cast numbers to text), so one shape serves all backends.
macro_rules! text_row {
    ($name:ident { $($field:ident),* $(,)? }) => {
        #[derive(diesel::QueryableByName)]
        struct $name {
            $(
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                $field: Option<String>,
            )*
        }
    };
}

// The command line's modules name the crate `migrate::`, as a binary would.
extern crate self as migrate;

pub mod autogen;
#[cfg(feature = "cli")]
pub mod cli;
pub mod command;
pub mod config;
pub mod db;
pub mod dialect;
mod error;
mod migrator;
pub mod models;
pub mod ops;
pub mod orm;
pub mod runtime;
pub mod schema;
pub mod script;
pub mod template;
mod toml_error;
mod toml_layout;

pub use error::Error;
/// Compiles the revision files of a script location into the program: see
/// [`script::EmbeddedMigrations`] and `docs/embedding.md`.
pub use migrate_derive::embed_migrations;
#[cfg(feature = "async")]
pub use migrator::AsyncMigrator;
pub use migrator::{Migrations, Migrator};
