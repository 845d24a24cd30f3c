//! The ORM at run time, against every backend: one test binary.

#[path = "../common/mod.rs"]
mod common;

mod session;
