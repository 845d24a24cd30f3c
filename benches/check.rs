//! `migrate check` on a 1,000-table database (10 columns, 2 indexes, a unique
//! constraint and a foreign key each) equal to its models, and with a drift
//! of 10 changes, on SQLite and PostgreSQL: the whole `migrate check` process
//! against Alembic 1.20 comparing the same database (`compare_metadata`, the
//! work of `alembic check`, without its process start), when
//! `MIGRATE_BENCH_PYTHON` names a Python with Alembic (bench/run.sh sets it up).
//!
//! Run: `bench/run.sh check` (or `cargo bench --bench check`).

#[path = "support/alembic.rs"]
mod alembic;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/sqlalchemy.rs"]
mod sqlalchemy;

use migrate::db::Backend;
use migrate::dialect;
use std::process::Command;
use std::time::{Duration, Instant};

const N: usize = 1000;
const REPEAT: usize = 3;

#[derive(serde::Serialize)]
struct ModelsFile<'a> {
    tables: &'a [migrate::schema::Table],
}

/// Times `migrate check` in `dir`; returns the time and the exit code.
fn check(dir: &std::path::Path) -> (Duration, i32) {
    let mut best = Duration::MAX;
    let mut code = 0;
    for _ in 0..REPEAT {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_migrate")).args(["check", "-q"]).current_dir(dir).output().unwrap();
        best = best.min(started.elapsed());
        code = out.status.code().unwrap_or(-1);
        assert!(code == 0 || code == 1, "{}", String::from_utf8_lossy(&out.stderr));
    }
    (best, code)
}

fn main() {
    let python = std::env::var("MIGRATE_BENCH_PYTHON").ok();
    if python.is_none() {
        println!("(MIGRATE_BENCH_PYTHON not set: no Alembic baseline; bench/run.sh sets it up)");
    }
    println!("{:<28} {:>12} {:>6} {:>12} {:>8}", format!("check, {N} tables"), "migrate", "exit", "alembic", "ratio");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = common::fresh_db(backend, "bench_check") else { continue };
        let dialect = dialect::for_backend(backend);
        let schema = common::chain_schema(N);
        let mut conn = db.connect();
        for chunk in dialect.create_schema(&schema).chunks(200) {
            conn.execute(&chunk.join(";\n")).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("models")).unwrap();
        std::fs::create_dir_all(dir.path().join("migrations/versions")).unwrap();
        std::fs::write(dir.path().join("migrate.toml"), format!("database_url = \"{}\"\n", db.url)).unwrap();
        let models = toml::to_string(&ModelsFile { tables: &schema.tables }).unwrap();
        std::fs::write(dir.path().join("models/app.toml"), models).unwrap();
        let baseline = python.as_deref().and_then(|p| alembic::compare(p, &db, REPEAT)).map(|(t, _)| t);
        for (label, drift) in [("in sync", false), ("10 changes", true)] {
            if drift {
                for i in 0..10 {
                    let table = dialect.quote_identifier(&format!("t{:04}", i * 100));
                    conn.execute(&format!("ALTER TABLE {table} ADD COLUMN extra integer")).unwrap();
                }
            }
            let (ours, code) = check(dir.path());
            assert_eq!(code, i32::from(drift), "check exits 1 on drift only");
            let (theirs, ratio) = match baseline {
                Some(t) => {
                    (format!("{:.3}s", t.as_secs_f64()), format!("{:.1}x", t.as_secs_f64() / ours.as_secs_f64()))
                }
                None => ("-".into(), "-".into()),
            };
            println!(
                "{:<28} {:>12} {:>6} {:>12} {:>8}",
                format!("{} {label}", dialect.name()),
                format!("{:.3}s", ours.as_secs_f64()),
                code,
                theirs,
                ratio
            );
        }
    }
}
