//! Every change Alembic detects, migrate detects: for each kind of change of
//! tests/autogen.rs, on SQLite, PostgreSQL and MariaDB, one database holds the
//! models before and another the models after (both made by migrate); Alembic
//! 1.20 compares the first with the second reflected (bench/alembic_detects.py)
//! and migrate checks the first against the models after. Prints what each
//! found, and fails when Alembic finds a change migrate does not.
//!
//! Run: `bench/run.sh alembic_cases` (needs `MIGRATE_BENCH_PYTHON`, which
//! bench/run.sh sets up).

#[path = "../tests/common/mod.rs"]
mod common;

use common::cases::{BASE, cases};
use migrate::command::{self, NewRevision, RunOptions};
use migrate::config::Config;
use migrate::db::{Backend, DatabaseUrl};
use std::process::Command;

/// A database migrated to `models` by migrate; returns it and its project.
fn database_with(
    backend: Backend,
    models: &str,
) -> (common::TestDb, tempfile::TempDir, migrate::config::DatabaseConfig) {
    let db = common::fresh_db(backend, "alembic_cases").expect("the server is up");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations/versions")).unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::write(dir.path().join("models/app.toml"), models).unwrap();
    let toml = format!("database_url = \"{}\"\n", db.url);
    std::fs::write(dir.path().join("migrate.toml"), &toml).unwrap();
    let database = Config::parse(&toml, &dir.path().join("migrate.toml")).unwrap().database(None).unwrap();
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let new = NewRevision { message: "models".into(), ..NewRevision::default() };
    command::autogenerate(&url, &database, new, false, &mut |_| false).unwrap();
    command::upgrade(&url, &database, "head", &RunOptions::default(), &mut |_| {}).unwrap();
    (db, dir, database)
}

fn sqlalchemy_url(db: &common::TestDb) -> String {
    match db.backend() {
        Backend::Sqlite => format!("sqlite:///{}", db.url.trim_start_matches("sqlite://")),
        Backend::Postgres => db.url.replacen("postgres://", "postgresql+psycopg2://", 1),
        Backend::Mysql => db.url.replacen("mysql://", "mysql+pymysql://", 1),
    }
}

fn main() {
    let Ok(python) = std::env::var("MIGRATE_BENCH_PYTHON") else {
        println!("MIGRATE_BENCH_PYTHON not set: bench/run.sh alembic_cases sets up Alembic");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/alembic_detects.py");
    let mut missed = Vec::new();
    println!("{:<10} {:<40} {:<45} migrate", "backend", "change", "alembic");
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        for (case, after, backends) in cases() {
            if !backends.contains(&backend) {
                continue;
            }
            let (before_db, _before_dir, before_config) = database_with(backend, BASE);
            let (after_db, _after_dir, _) = database_with(backend, &after);
            let out = Command::new(&python)
                .args([script, &sqlalchemy_url(&before_db), &sqlalchemy_url(&after_db)])
                .output()
                .unwrap();
            let alembic: Vec<String> = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("alembic failed on {case}: {}", String::from_utf8_lossy(&out.stderr)));
            // migrate: the database before against the models after.
            std::fs::write(before_config.root.join("models/app.toml"), &after).unwrap();
            let drift = command::check(&DatabaseUrl::parse(&before_db.url).unwrap(), &before_config).unwrap();
            let ours: Vec<String> = drift.diff.upgrade.iter().map(|op| op.label()).collect();
            println!("{:<10} {:<40} {:<45} {}", format!("{backend:?}"), case, alembic.join(" "), ours.join(", "));
            if !alembic.is_empty() && ours.is_empty() {
                missed.push(format!("{backend:?} {case}"));
            }
        }
    }
    assert!(missed.is_empty(), "Alembic found changes migrate did not: {missed:?}");
    println!("\nevery change Alembic detected, migrate detected");
}
