//! `examples/quickstart.rs`, run on every backend: its migrations applied
//! through the library, then the session's basics, results asserted.

use crate::common::fresh_db;
use migrate::db::Backend;

// The example's `main` is for `cargo run --example quickstart`.
#[allow(dead_code)]
#[path = "../../examples/quickstart.rs"]
mod example;

fn quickstart(backend: Backend) {
    let Some(db) = fresh_db(backend, "quickstart") else { return };
    let first = example::run(&db.url).unwrap();
    assert_eq!(first.applied, ["qs0001"]);
    assert!(first.matches_model, "the revision makes the table the model declares");
    assert_eq!(first.top, [("Eve".to_string(), 20), ("Ann".to_string(), 12)]);
    assert_eq!(first.after_rollback, ["Ann", "Bob"]);
    assert_eq!(first.remaining, [("Ann".to_string(), 12), ("Bob".to_string(), 13)]);
    // A second run finds the database at head and starts from an empty table.
    let again = example::run(&db.url).unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.remaining, first.remaining);
}

#[test]
fn quickstart_sqlite() {
    quickstart(Backend::Sqlite);
}

#[test]
fn quickstart_postgres() {
    quickstart(Backend::Postgres);
}

#[test]
fn quickstart_mysql() {
    quickstart(Backend::Mysql);
}
