//! The embedded ORM against real PostgreSQL, MariaDB and SQLite: one test
//! binary, one module per part.

#[path = "../common/mod.rs"]
mod common;

#[path = "../fixtures/shop.rs"]
mod shop;

#[path = "../fixtures/custom_types.rs"]
mod custom_types_models;

#[cfg(feature = "async")]
mod asynchronous;
mod begin_and_ping;
mod blog_example;
mod core;
mod custom_types;
mod flush;
mod hooks;
mod quickstart;
mod relations;
mod session;
