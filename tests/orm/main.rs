//! The embedded ORM against real PostgreSQL, MariaDB and SQLite: one test
//! binary, one module per part.

/// One test per backend, so one failure does not hide the others: declares
/// each named test function once per backend
/// (`per_backend::NAME::{sqlite, postgres, mysql}`), each calling the
/// invoking module's `run(backend, name, NAME)`: a module's own setup.
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod per_backend {
            $(
                mod $name {
                    #[test]
                    fn sqlite() {
                        super::super::run(migrate::db::Backend::Sqlite, stringify!($name), super::super::$name);
                    }
                    #[test]
                    fn postgres() {
                        super::super::run(migrate::db::Backend::Postgres, stringify!($name), super::super::$name);
                    }
                    #[test]
                    fn mysql() {
                        super::super::run(migrate::db::Backend::Mysql, stringify!($name), super::super::$name);
                    }
                }
            )*
        }
    };
}

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
