//! Many-databases benchmark.
//!
//! `migrate upgrade --databases FILE -j N` over 200 SQLite files and 50
//! PostgreSQL databases, 20 revisions each (one `create_table` per
//! revision), for N = 1, 2, 4 and 8, against a sequential shell loop of
//! `migrate --url URL upgrade` over the same databases, in the same run
//! (the release binary for both). Every database is emptied before each
//! measurement. Prints the times, the ratio of each to the loop, and the
//! machine's load average at the start and the end.
//!
//! Run: `bench/run.sh fleet [SQLITE POSTGRES]` (or `cargo bench --bench fleet`).

#[path = "../tests/common/mod.rs"]
mod common;

use migrate::db::Backend;
use migrate::ops::Op;
use migrate::schema::{Column, ColumnType, PrimaryKey, Table};
use migrate::script::{RevisionFile, write_revision};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const REVISIONS: usize = 20;
const JOBS: [usize; 4] = [1, 2, 4, 8];

fn table(i: usize) -> Table {
    let mut t = Table::new(format!("t{i:02}"));
    t.columns = vec![
        Column::new("id", ColumnType::Integer).not_null(),
        Column::new("v", ColumnType::Varchar { length: Some(20) }),
    ];
    t.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    t
}

/// A project of REVISIONS chained revisions.
fn project(dir: &Path) {
    let versions = dir.join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(dir.join("migrate.toml"), "").unwrap();
    for i in 0..REVISIONS {
        let file = RevisionFile {
            revision: format!("r{i:02}"),
            down_revision: (i > 0).then(|| format!("r{:02}", i - 1)).into_iter().collect(),
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            message: format!("create table {i}"),
            created_at: None,
            upgrade: vec![Op::CreateTable(table(i))],
            downgrade: vec![Op::DropTable(table(i))],
        };
        write_revision(&versions, &file).unwrap();
    }
}

/// Empties every database: SQLite files removed, PostgreSQL schemas recreated.
fn reset(dir: &Path, servers: &[common::TestDb]) {
    for entry in std::fs::read_dir(dir.join("db")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for db in servers {
        db.connect().execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public").unwrap();
    }
}

fn timed(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let status = cmd.status().unwrap();
    let elapsed = start.elapsed();
    assert!(status.success(), "{cmd:?} failed");
    elapsed
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or("unknown".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (sqlite, postgres) = (args.first().copied().unwrap_or(200), args.get(1).copied().unwrap_or(50));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("load average at start: {} ({cores} cores)", load());
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    let servers: Vec<common::TestDb> =
        (0..postgres).map_while(|i| common::fresh_db(Backend::Postgres, &format!("bench_fleet_{i}"))).collect();
    let mut urls: Vec<String> =
        (0..sqlite).map(|i| format!("sqlite:{}", dir.path().join(format!("db/t{i:03}.db")).display())).collect();
    urls.extend(servers.iter().map(|db| db.url.clone()));
    std::fs::write(dir.path().join("databases.txt"), urls.join("\n")).unwrap();
    let binary = env!("CARGO_BIN_EXE_migrate");
    println!("{} databases ({sqlite} SQLite, {} PostgreSQL), {REVISIONS} revisions each\n", urls.len(), servers.len());

    reset(dir.path(), &servers);
    let sequential = timed(
        Command::new("sh")
            .arg("-c")
            .arg("while read -r url; do \"$0\" --url \"$url\" upgrade -q || exit 1; done < databases.txt")
            .arg(binary)
            .current_dir(dir.path()),
    );
    println!("{:34} {:>10.1} ms", "sequential `migrate --url` loop", sequential.as_secs_f64() * 1000.0);
    for jobs in JOBS {
        reset(dir.path(), &servers);
        let elapsed = timed(
            Command::new(binary)
                .args(["upgrade", "--databases", "databases.txt", "-q", "-j", &jobs.to_string()])
                .current_dir(dir.path()),
        );
        println!(
            "{:34} {:>10.1} ms {:>8.2}x",
            format!("upgrade --databases -j {jobs}"),
            elapsed.as_secs_f64() * 1000.0,
            sequential.as_secs_f64() / elapsed.as_secs_f64()
        );
    }
    println!("\nload average at end: {}", load());
}
