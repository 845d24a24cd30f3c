//! `migrate`: schema migrations for Rust projects.
//!
//! Reflects a live database's schema, compares it with declared models,
//! writes revision scripts, and applies them, on PostgreSQL, MariaDB/MySQL
//! and SQLite. See `docs/` for the user guide; every command of the CLI is a
//! library function here.

pub mod command;
pub mod config;
pub mod db;
pub mod dialect;
mod error;
pub mod schema;
pub mod template;

pub use error::Error;
pub mod ops;
