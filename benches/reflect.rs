//! Reflection benchmark: N = 100 and 1,000 tables (10 columns, 2 indexes,
//! 1 unique constraint, 1 foreign key each) on every reachable backend.
//! Prints our reflection time and statement count, and, when
//! `MIGRATE_BENCH_PYTHON` names a Python with Alembic 1.20 (bench/run.sh sets
//! it up), Alembic's time and statement count on the same database in the
//! same run, with the ratio.
//!
//! Run: `bench/run.sh` (or `cargo bench --bench reflect -- 100`).

#[path = "support/alembic.rs"]
mod alembic;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/sqlalchemy.rs"]
mod sqlalchemy;

use migrate::db::Backend;
use migrate::dialect::{self, Dialect};
use migrate::schema::NameFilter;
use std::time::{Duration, Instant};

const REPEAT: usize = 3;

fn populate(db: &common::TestDb, dialect: &dyn Dialect, n: usize) {
    let schema = common::chain_schema(n);
    let mut conn = db.connect();
    let statements = dialect.create_schema(&schema);
    for chunk in statements.chunks(200) {
        conn.execute(&chunk.join(";\n")).unwrap();
    }
}

fn ours(db: &common::TestDb, dialect: &dyn Dialect, n: usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut statements = 0;
    for _ in 0..REPEAT {
        let mut conn = db.connect();
        let before = conn.statement_count();
        let start = Instant::now();
        let schema = dialect.reflect(&mut conn, &NameFilter::default()).unwrap();
        best = best.min(start.elapsed());
        statements = conn.statement_count() - before;
        assert_eq!(schema.tables.len(), n);
    }
    (best, statements)
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100, 1000] } else { sizes };
    let python = std::env::var("MIGRATE_BENCH_PYTHON").ok();
    if python.is_none() {
        println!("(MIGRATE_BENCH_PYTHON not set: no Alembic baseline; bench/run.sh sets it up)");
    }
    println!(
        "{:<10} {:>6} {:>12} {:>8} {:>12} {:>8} {:>8}",
        "backend", "tables", "migrate", "stmts", "alembic", "stmts", "ratio"
    );
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let dialect = dialect::for_backend(backend);
        for &n in &sizes {
            let Some(db) = common::fresh_db(backend, &format!("bench_{n}")) else { continue };
            populate(&db, dialect.as_ref(), n);
            let (time, stmts) = ours(&db, dialect.as_ref(), n);
            let baseline = python.as_deref().and_then(|p| alembic::compare(p, &db, REPEAT));
            let (a_time, a_stmts, ratio) = match baseline {
                Some((t, s)) => (
                    format!("{:.3}s", t.as_secs_f64()),
                    s.to_string(),
                    format!("{:.1}x", t.as_secs_f64() / time.as_secs_f64()),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:<10} {:>6} {:>12} {:>8} {:>12} {:>8} {:>8}",
                dialect.name(),
                n,
                format!("{:.3}s", time.as_secs_f64()),
                stmts,
                a_time,
                a_stmts,
                ratio
            );
        }
    }
}
