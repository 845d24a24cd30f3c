//! Revision benchmark.
//!
//! 1. A project of 1,000 revision files: the time of `migrate heads` and
//!    `migrate history` (the release binary, whole process), and, when
//!    `MIGRATE_BENCH_PYTHON` names a Python with Alembic 1.20 (bench/run.sh
//!    sets it up), `alembic heads` / `alembic history` on the same 1,000
//!    revisions written as Alembic scripts, with the ratio.
//! 2. Applying a chain of 1,000 small revisions (one `create_table` each) on
//!    SQLite, PostgreSQL and MariaDB with `upgrade head` (on MariaDB that
//!    includes the progress recorded after each op, and the lock row), against executing the same
//!    SQL statements (`upgrade --sql`: the ops, the version-table updates and
//!    a transaction per revision) through one connection; the ratio.
//!
//! Run: `bench/run.sh revisions` (or `cargo bench --bench revisions`).

#[path = "../tests/common/mod.rs"]
mod common;

use migrate::command::{self, RunOptions};
use migrate::config::Config;
use migrate::db::{Backend, DatabaseUrl};
use migrate::dialect;
use migrate::ops::Op;
use migrate::schema::{Column, ColumnType, PrimaryKey, Table};
use migrate::script::{Direction, RevisionFile, write_revision};
use std::process::Command;
use std::time::{Duration, Instant};

const N: usize = 1000;
const REPEAT: usize = 3;

fn table(i: usize) -> Table {
    let mut t = Table::new(format!("t{i:04}"));
    t.columns = vec![
        Column::new("id", ColumnType::Integer).not_null(),
        Column::new("v", ColumnType::Varchar { length: Some(20) }),
    ];
    t.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    t
}

/// A project whose migrate.toml points at `url`, with N chained revisions.
fn project(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let versions = dir.path().join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(dir.path().join("migrate.toml"), format!("database_url = \"{url}\"\n")).unwrap();
    for i in 0..N {
        let file = RevisionFile {
            revision: format!("r{i:04}"),
            down_revision: (i > 0).then(|| format!("r{:04}", i - 1)).into_iter().collect(),
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            message: format!("create table {i}"),
            created_at: None,
            upgrade: vec![Op::CreateTable(table(i))],
            downgrade: vec![Op::DropTable(table(i))],
        };
        write_revision(&versions, &file).unwrap();
    }
    dir
}

/// The same N revisions as an Alembic project.
fn alembic_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let versions = dir.path().join("alembic/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(dir.path().join("alembic.ini"), "[alembic]\nscript_location = alembic\n").unwrap();
    std::fs::write(dir.path().join("alembic/env.py"), "").unwrap();
    for i in 0..N {
        let down = if i > 0 { format!("'r{:04}'", i - 1) } else { "None".into() };
        let script = format!(
            "\"\"\"create table {i}\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\n\
             revision = 'r{i:04}'\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\
             def upgrade():\n    op.create_table('t{i:04}', sa.Column('id', sa.Integer, primary_key=True), \
             sa.Column('v', sa.String(20)))\n\n\
             def downgrade():\n    op.drop_table('t{i:04}')\n"
        );
        std::fs::write(versions.join(format!("r{i:04}_create_table_{i}.py")), script).unwrap();
    }
    dir
}

fn best(mut run: impl FnMut() -> Duration) -> Duration {
    (0..REPEAT).map(|_| run()).min().unwrap()
}

fn timed(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn load_commands(python: Option<&str>) {
    let dir = project("sqlite:unused.db");
    let alembic = python.map(|_| alembic_project());
    println!("{:<22} {:>12} {:>12} {:>8}", format!("{N} revisions"), "migrate", "alembic", "ratio");
    for command in ["heads", "history"] {
        let ours = best(|| timed(Command::new(env!("CARGO_BIN_EXE_migrate")).arg(command).current_dir(dir.path())));
        let theirs = python.zip(alembic.as_ref()).map(|(python, adir)| {
            best(|| timed(Command::new(python).args(["-m", "alembic", command]).current_dir(adir.path())))
        });
        let (theirs_text, ratio) = match theirs {
            Some(t) => (ms(t), format!("{:.0}x", t.as_secs_f64() / ours.as_secs_f64())),
            None => ("-".into(), "-".into()),
        };
        println!("{:<22} {:>12} {:>12} {:>8}", format!("migrate {command}"), ms(ours), theirs_text, ratio);
    }
}

fn apply(backend: Backend) {
    let Some(db) = common::fresh_db(backend, "bench_apply") else { return };
    let dir = project(&db.url);
    let config = Config::load(None, dir.path()).unwrap();
    let database = config.database(None).unwrap();
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let dialect = dialect::for_backend(backend);
    let sql = command::offline(&database, dialect.as_ref(), Direction::Up, "head").unwrap();
    let statements: Vec<String> = sql
        .split(";\n")
        .map(|s| s.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n"))
        .filter(|s| !s.trim().is_empty())
        .collect();
    let mut ours = Duration::MAX;
    let mut baseline = Duration::MAX;
    for _ in 0..REPEAT {
        // migrate upgrade head, on an empty database.
        let started = Instant::now();
        command::upgrade(&url, &database, "head", &RunOptions::default(), &mut |_| {}).unwrap();
        ours = ours.min(started.elapsed());
        command::downgrade(&url, &database, "base", &RunOptions::default(), &mut |_| {}).unwrap();
        reset(&db);
        // The same statements through one connection.
        let mut conn = db.connect();
        for statement in dialect.session_setup() {
            conn.execute(&statement).unwrap();
        }
        let started = Instant::now();
        for statement in &statements {
            conn.execute(statement).unwrap();
        }
        baseline = baseline.min(started.elapsed());
        drop(conn);
        reset(&db);
    }
    println!(
        "{:<22} {:>12} {:>12} {:>8}",
        format!("apply {N} on {}", dialect.name()),
        ms(ours),
        ms(baseline),
        format!("{:.2}x", ours.as_secs_f64() / baseline.as_secs_f64())
    );
}

/// Drops every table, so that each measurement starts from an empty database.
fn reset(db: &common::TestDb) {
    let dialect = dialect::for_backend(db.backend());
    let mut conn = db.connect();
    let schema = dialect.reflect(&mut conn, &Default::default()).unwrap();
    for table in schema.tables {
        conn.execute(&format!("DROP TABLE {}", dialect.quote_identifier(&table.name))).unwrap();
    }
}

fn main() {
    let python = std::env::var("MIGRATE_BENCH_PYTHON").ok();
    if python.is_none() {
        println!("(MIGRATE_BENCH_PYTHON not set: no Alembic baseline; bench/run.sh sets it up)");
    }
    load_commands(python.as_deref());
    println!("\n{:<22} {:>12} {:>12} {:>8}", "", "migrate", "same SQL", "ratio");
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        apply(backend);
    }
}
