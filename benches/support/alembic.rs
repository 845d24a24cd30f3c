//! The Alembic baseline the benchmarks measure in the same run.

use super::common::TestDb;
use super::sqlalchemy;
use std::process::Command;
use std::time::Duration;

/// Alembic comparing the database with itself (the work of `alembic check`),
/// best of `repeat`: time and statements.
pub fn compare(python: &str, db: &TestDb, repeat: usize) -> Option<(Duration, usize)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/alembic_compare.py");
    let out = Command::new(python).args([script, &sqlalchemy::url(db), &repeat.to_string()]).output().ok()?;
    if !out.status.success() {
        eprintln!("alembic baseline failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((Duration::from_secs_f64(json["seconds"].as_f64()?), json["statements"].as_u64()? as usize))
}
