//! The embedded ORM against real PostgreSQL, MariaDB and SQLite: one test
//! binary, one module per part.

#[path = "../common/mod.rs"]
mod common;

mod core;
mod flush;
mod quickstart;
mod session;
