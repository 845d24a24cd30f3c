//! The embedded ORM against real PostgreSQL, MariaDB and SQLite: one test
//! binary, one module per part.

#[path = "../common/mod.rs"]
mod common;

#[path = "../fixtures/shop.rs"]
mod shop;

#[cfg(feature = "async")]
mod asynchronous;
mod blog_example;
mod core;
mod flush;
mod quickstart;
mod relations;
mod session;
