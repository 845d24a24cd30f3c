//! A real three-node MariaDB Galera cluster on loopback (tests/galera/cluster.sh):
//! three `migrate upgrade head` runs started at once, one per node, 20 times
//! on a fresh database each. Every revision, DDL and data-only, is applied
//! exactly once, every run exits 0, the history has one `ok` row per
//! revision, and the three nodes agree. Skipped with a notice where galera-4
//! or rsync is missing, except under `CI=true`.

mod common;

use migrate::db::{Connection, DatabaseUrl, OpenMode};
use migrate::dialect;
use migrate::ops::{Execute, Op, Value};
use migrate::runtime::Bookkeeping;
use migrate::schema::{Column, ColumnType, DefaultValue, NameFilter, PrimaryKey, Table};
use migrate::script::{RevisionFile, write_revision};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const NODES: [u16; 3] = [3311, 3312, 3313];
const TRIALS: usize = 20;
const ROWS: i64 = 20;

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    value: Option<String>,
}

/// The running cluster; stops every node by its pid when dropped, whether
/// the test passed or not.
struct Cluster {
    dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/galera/cluster.sh")
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let galera =
            Path::new("/usr/lib/galera/libgalera_smm.so").exists() || Path::new("/usr/lib/libgalera_smm.so").exists();
        let rsync = Command::new("rsync").arg("--version").output().is_ok_and(|o| o.status.success());
        if !(galera && rsync) {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true and galera-4 or rsync is missing");
            eprintln!("skipping the Galera cluster test: galera-4 or rsync is not installed");
            return None;
        }
        let cluster = Cluster { dir: tempfile::tempdir().unwrap() };
        let out = Command::new(script()).arg("start").arg(cluster.dir.path()).output().unwrap();
        assert!(
            out.status.success(),
            "cluster.sh start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(cluster)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        match Command::new(script()).arg("stop").arg(self.dir.path()).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("cluster.sh stop: {}", String::from_utf8_lossy(&out.stderr)),
            Err(e) => eprintln!("cluster.sh stop: {e}"),
        }
    }
}

fn url(port: u16, database: &str) -> String {
    format!("mysql://root@127.0.0.1:{port}/{database}")
}

fn connect(port: u16, database: &str) -> Connection {
    Connection::open(&DatabaseUrl::parse(&url(port, database)).unwrap(), OpenMode::ReadWrite).unwrap()
}

/// Creates `database` on node 1 and waits until every other node has
/// applied it: a read there with `wsrep_sync_wait` waits for all the
/// cluster committed before it (a connection naming the database at once
/// can meet "Unknown database" on a node that has not applied it yet).
fn create_database(database: &str) {
    connect(NODES[0], "mysql").execute(&format!("CREATE DATABASE `{database}`")).unwrap();
    for port in &NODES[1..] {
        let mut conn = connect(*port, "mysql");
        conn.execute("SET SESSION wsrep_sync_wait = 15").unwrap();
        let sql = format!(
            "SELECT CAST(COUNT(*) AS CHAR) AS value FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{database}'"
        );
        assert_eq!(texts(&mut conn, &sql), ["1"], "node {port} has applied CREATE DATABASE `{database}`");
    }
}

fn texts(conn: &mut Connection, sql: &str) -> Vec<String> {
    let rows: Vec<TextRow> = conn.load(sql).unwrap();
    rows.into_iter().map(|r| r.value.unwrap_or_default()).collect()
}

fn table(name: &str, extra: Vec<Column>) -> Table {
    let mut t = Table::new(name);
    t.columns = vec![Column::new("id", ColumnType::Integer).not_null()];
    t.columns.extend(extra);
    t.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    t
}

fn rows(count: i64) -> Vec<BTreeMap<String, Value>> {
    (1..=count)
        .map(|i| [("id".to_string(), Value::Integer(i)), ("n".to_string(), Value::Integer(0))].into_iter().collect())
        .collect()
}

fn increment() -> Op {
    Op::Execute(Execute { sql: Some("UPDATE t SET n = n + 1".into()), dialects: BTreeMap::new() })
}

/// Eight revisions mixing DDL and data-only ones.
fn write_script(versions: &Path) -> Vec<String> {
    let n = Column::new("n", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into()));
    let note = Column::new("note", ColumnType::Varchar { length: Some(20) });
    let steps: Vec<(Vec<Op>, Vec<Op>)> = vec![
        (vec![Op::CreateTable(table("t", vec![n]))], vec![Op::DropTable(table("t", vec![]))]),
        (vec![Op::BulkInsert { table: "t".into(), rows: rows(ROWS) }], vec![]),
        (vec![increment()], vec![]),
        (vec![Op::AddColumn { table: "t".into(), column: note.clone() }], vec![]),
        (vec![increment()], vec![]),
        (vec![Op::CreateTable(table("u", vec![]))], vec![]),
        (
            vec![Op::BulkInsert {
                table: "u".into(),
                rows: (1..=5).map(|i| [("id".to_string(), Value::Integer(i))].into_iter().collect()).collect(),
            }],
            vec![],
        ),
        (vec![increment()], vec![]),
    ];
    let mut ids = Vec::new();
    for (i, (upgrade, downgrade)) in steps.into_iter().enumerate() {
        let id = format!("g{}", i + 1);
        let file = RevisionFile {
            revision: id.clone(),
            down_revision: ids.last().cloned().into_iter().collect(),
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            message: format!("step {}", i + 1),
            created_at: None,
            upgrade,
            downgrade,
        };
        write_revision(versions, &file).unwrap();
        ids.push(id);
    }
    ids
}

/// One trial: a fresh database, three runs at once, then the checks.
fn trial(number: usize) {
    let database = format!("mt_galera_{}_{number}", std::process::id());
    create_database(&database);
    let project = tempfile::tempdir().unwrap();
    let versions = project.path().join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(
        project.path().join("migrate.toml"),
        format!("database_url = \"{}\"\nlock_timeout = 120\n", url(NODES[0], &database)),
    )
    .unwrap();
    let revisions = write_script(&versions);

    let runs: Vec<_> = NODES
        .iter()
        .map(|port| {
            Command::new(env!("CARGO_BIN_EXE_migrate"))
                .args(["upgrade", "head", "-q"])
                .current_dir(project.path())
                .env("DATABASE_URL", url(*port, &database))
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (run, port) in runs.into_iter().zip(NODES) {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "trial {number}, node {port}: {}", String::from_utf8_lossy(&out.stderr));
    }

    let dialect = dialect::for_backend(migrate::db::Backend::Mysql);
    let book = Bookkeeping::new("migrate_version");
    let mut seen = Vec::new();
    for port in NODES {
        let mut conn = connect(port, &database);
        conn.execute("SET SESSION wsrep_sync_wait = 1").unwrap();
        let history = book.history(&mut conn, dialect.as_ref()).unwrap();
        let applied: Vec<(&str, &str)> = history.iter().map(|h| (h.revision.as_str(), h.outcome.as_str())).collect();
        let expected: Vec<(&str, &str)> = revisions.iter().map(|r| (r.as_str(), "ok")).collect();
        assert_eq!(applied, expected, "trial {number}, node {port}: one ok row per revision");
        assert_eq!(book.read_heads(&mut conn).unwrap(), ["g8"]);
        let n = texts(&mut conn, "SELECT CAST(CONCAT(COUNT(*), ':', MIN(n), ':', MAX(n)) AS CHAR) AS value FROM t");
        assert_eq!(n, [format!("{ROWS}:3:3")], "trial {number}, node {port}: each data revision once");
        let u = texts(&mut conn, "SELECT CAST(COUNT(*) AS CHAR) AS value FROM u");
        assert_eq!(u, ["5"], "trial {number}, node {port}");
        let schema = dialect.reflect(&mut conn, &NameFilter::default()).unwrap();
        let data = texts(
            &mut conn,
            "SELECT CAST(CONCAT(id, ':', n, ':', COALESCE(note, '-')) AS CHAR) AS value FROM t ORDER BY id",
        );
        seen.push((schema, data));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "trial {number}: the nodes differ");
    connect(NODES[0], "mysql").execute(&format!("DROP DATABASE `{database}`")).unwrap();
}

/// What would break the cluster is refused before anything runs: a table
/// without a primary key (exit 2), a node doing rolling schema upgrades (exit 3).
fn refusals() {
    let database = format!("mt_galera_{}_refusals", std::process::id());
    create_database(&database);
    let project = tempfile::tempdir().unwrap();
    let versions = project.path().join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(project.path().join("migrate.toml"), format!("database_url = \"{}\"\n", url(NODES[0], &database)))
        .unwrap();
    let mut keyless = Table::new("keyless");
    keyless.columns = vec![Column::new("n", ColumnType::Integer)];
    let file = RevisionFile {
        revision: "nk".into(),
        down_revision: Vec::new(),
        branch_labels: Vec::new(),
        depends_on: Vec::new(),
        message: "no key".into(),
        created_at: None,
        upgrade: vec![Op::CreateTable(keyless.clone())],
        downgrade: vec![Op::DropTable(keyless)],
    };
    write_revision(&versions, &file).unwrap();
    let upgrade = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_migrate"))
            .args(["upgrade", "head"])
            .current_dir(project.path())
            .env("DATABASE_URL", url(port, &database))
            .output()
            .unwrap()
    };
    let out = upgrade(NODES[0]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("revision nk leaves table `keyless` without a primary key (create_table"), "{stderr}");
    connect(NODES[2], "mysql").execute("SET GLOBAL wsrep_OSU_method = 'RSU'").unwrap();
    let out = upgrade(NODES[2]);
    connect(NODES[2], "mysql").execute("SET GLOBAL wsrep_OSU_method = 'TOI'").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("is a Galera node with wsrep_OSU_method=RSU: DDL would change this node only"), "{stderr}");
    let mut conn = connect(NODES[1], &database);
    assert_eq!(
        texts(
            &mut conn,
            "SELECT CAST(COUNT(*) AS CHAR) AS value FROM information_schema.TABLES \
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'keyless'"
        ),
        ["0"]
    );
    connect(NODES[0], "mysql").execute(&format!("DROP DATABASE `{database}`")).unwrap();
}

/// A holder that crashed on one node holds the lock row until its lease
/// runs out; then a run on another node takes the row over.
fn lease() {
    let database = format!("mt_galera_{}_lease", std::process::id());
    create_database(&database);
    let project = tempfile::tempdir().unwrap();
    let versions = project.path().join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    let toml = format!("database_url = \"{}\"\nlock_timeout = 0.5\n", url(NODES[0], &database));
    std::fs::write(project.path().join("migrate.toml"), toml).unwrap();
    write_script(&versions);
    let run = |port: u16, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_migrate"))
            .args(args)
            .current_dir(project.path())
            .env("DATABASE_URL", url(port, &database))
            .output()
            .unwrap()
    };
    assert!(run(NODES[0], &["upgrade", "g1"]).status.success());
    let forge = |expires: &str| {
        connect(NODES[0], &database)
            .execute(&format!(
                "UPDATE migrate_version_lock SET holder = 'ghost', host = 'gone', pid = 4242, \
                 acquired_at = UTC_TIMESTAMP(), expires_at = {expires}, revision = 'g2', direction = 'up' WHERE id = 1"
            ))
            .unwrap()
    };
    forge("UTC_TIMESTAMP() + INTERVAL 1 HOUR");
    let out = run(NODES[2], &["current"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("a migrate run is live: applying g2, by pid 4242 on gone since "), "{text}");
    let out = run(NODES[1], &["upgrade", "head"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("another migrate run holds the lock; gave up after 0.5 s"), "{stderr}");
    forge("UTC_TIMESTAMP() - INTERVAL 1 SECOND");
    let out = run(NODES[1], &["upgrade", "head"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    renewal(project.path(), &database);
    connect(NODES[0], "mysql").execute(&format!("DROP DATABASE `{database}`")).unwrap();
}

/// A run that lasts longer than its lease keeps the lock, because its thread
/// renews the lease: a run started meanwhile on another node waits, then
/// finds nothing to do. Without renewal the second run would take the lock
/// after 3 s and apply the slow revision again.
fn renewal(project: &Path, database: &str) {
    let toml = format!("database_url = \"{}\"\nlock_timeout = 60\nlock_lease = 3\n", url(NODES[0], database));
    std::fs::write(project.join("migrate.toml"), toml).unwrap();
    let slow = Op::Execute(Execute { sql: Some("DO SLEEP(8)".into()), dialects: BTreeMap::new() });
    let file = RevisionFile {
        revision: "g9".into(),
        down_revision: vec!["g8".into()],
        branch_labels: Vec::new(),
        depends_on: Vec::new(),
        message: "slower than its lease".into(),
        created_at: None,
        upgrade: vec![slow, increment()],
        downgrade: vec![],
    };
    write_revision(&project.join("migrations/versions"), &file).unwrap();
    let command = |port: u16, args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_migrate"));
        command.args(args).current_dir(project).env("DATABASE_URL", url(port, database));
        command
    };
    let mut first = command(NODES[0], &["upgrade", "head"]).spawn().unwrap();
    // Wait until the first run is applying g9, then start the second.
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while !String::from_utf8_lossy(&command(NODES[1], &["current"]).output().unwrap().stdout).contains("applying g9") {
        assert!(Instant::now() < deadline, "the first run never showed as live");
    }
    let second = command(NODES[1], &["upgrade", "head"]).output().unwrap();
    assert!(first.wait().unwrap().success(), "the first run failed");
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let mut conn = connect(NODES[2], database);
    assert_eq!(texts(&mut conn, "SELECT DISTINCT CAST(n AS CHAR) AS value FROM t"), ["4"], "g9 ran once");
    let ok =
        "SELECT CAST(COUNT(*) AS CHAR) AS value FROM migrate_version_history WHERE revision = 'g9' AND outcome = 'ok'";
    assert_eq!(texts(&mut conn, ok), ["1"]);
}

#[test]
fn three_runs_at_once_on_three_galera_nodes_apply_each_revision_once() {
    let started = Instant::now();
    let Some(cluster) = Cluster::start() else { return };
    let up = started.elapsed();
    for number in 1..=TRIALS {
        trial(number);
    }
    refusals();
    lease();
    session_keys_on_a_stepped_node();
    eprintln!(
        "galera: cluster up in {:.1} s, {TRIALS} trials in {:.1} s",
        up.as_secs_f64(),
        (started.elapsed() - up).as_secs_f64()
    );
    drop(cluster);
    eprintln!("galera: whole test {:.1} s", started.elapsed().as_secs_f64());
}

#[derive(Debug, Clone, Default, migrate::models::Model)]
#[model(table = "members")]
struct Member {
    #[model(primary_key, autoincrement)]
    id: i64,
    #[model(max_length = 100, unique)]
    email: String,
}

/// An ORM session flushing a batch on node 2, where Galera steps keys by
/// the cluster size (`auto_increment_increment` = 3, offset 2) and the lock
/// mode is 2: every object gets the key of its own row, on every node.
fn session_keys_on_a_stepped_node() {
    use migrate::orm::{Pool, PoolOptions};
    let database = format!("mt_galera_orm_{}", std::process::id());
    create_database(&database);
    let pool = Pool::open(&url(NODES[1], &database), PoolOptions::default()).unwrap();
    let mut conn = pool.get().unwrap();
    for sql in pool.dialect().create_table(&<Member as migrate::models::Model>::table()) {
        conn.execute(&sql).unwrap();
    }
    let settings =
        texts(&mut conn, "SELECT CONCAT(@@auto_increment_increment, ' ', @@innodb_autoinc_lock_mode) AS value");
    assert_eq!(settings, ["3 2"], "Galera steps keys by the cluster size, lock mode 2");
    drop(conn);
    let mut s = pool.session();
    let handles = s.add_all((0..30).map(|i| Member { email: format!("m{i}@x.io"), ..Member::default() }));
    s.commit().unwrap();
    for port in NODES {
        // A causal read: it waits until the node has applied what the cluster committed.
        let mut conn = connect(port, &database);
        conn.execute("SET SESSION wsrep_sync_wait = 15").unwrap();
        let rows = texts(&mut conn, "SELECT CONCAT(email, ' ', id) AS value FROM members");
        assert_eq!(rows.len(), 30);
        for &h in &handles {
            let expected = format!("{} {}", s[h].email, s[h].id);
            assert!(rows.contains(&expected), "node {port}: {expected} not in {rows:?}");
        }
    }
    let ids: Vec<i64> = handles.iter().map(|&h| s[h].id).collect();
    assert!(ids.windows(2).all(|w| w[1] > w[0] && (w[1] - w[0]) % 3 == 0), "stepped by 3: {ids:?}");
    connect(NODES[0], "mysql").execute(&format!("DROP DATABASE `{database}`")).unwrap();
}

/// A PostgreSQL primary on 5442 and its hot standby on 5443 (initdb,
/// `pg_basebackup -R`), stopped by their pids when dropped.
struct Standby {
    dir: tempfile::TempDir,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl Standby {
    fn start() -> Option<Standby> {
        let as_postgres = |program: &str, args: &[&str]| {
            let out = Command::new("runuser")
                .args(["-u", "postgres", "--", &format!("{PG_BIN}/{program}")])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let usable = Path::new(PG_BIN).join("initdb").exists()
            && Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success());
        if !usable {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true and PostgreSQL 15's initdb is missing");
            eprintln!("skipping the hot standby test: no {PG_BIN}/initdb or no postgres user");
            return None;
        }
        let standby = Standby { dir: tempfile::tempdir().unwrap() };
        let dir = standby.dir.path();
        let chown = Command::new("chown").arg("postgres").arg(dir).status().unwrap();
        assert!(chown.success());
        let path = |name: &str| dir.join(name).display().to_string();
        as_postgres("initdb", &["-D", &path("primary"), "-A", "trust", "-U", "postgres"]);
        let settings = format!(
            "port = 5442\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nwal_level = replica\nfsync = off\n",
            dir.display()
        );
        let conf = dir.join("primary/postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&settings);
        std::fs::write(&conf, text).unwrap();
        as_postgres("pg_ctl", &["-D", &path("primary"), "-l", &path("primary.log"), "-w", "start"]);
        as_postgres(
            "pg_basebackup",
            &["-h", "127.0.0.1", "-p", "5442", "-U", "postgres", "-D", &path("standby"), "-R"],
        );
        let auto = dir.join("standby/postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&auto).unwrap();
        text.push_str("port = 5443\n");
        std::fs::write(&auto, text).unwrap();
        as_postgres("pg_ctl", &["-D", &path("standby"), "-l", &path("standby.log"), "-w", "start"]);
        Some(standby)
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        // Standby first, then the primary; each by the pid its postmaster.pid names.
        for node in ["standby", "primary"] {
            let pidfile = self.dir.path().join(node).join("postmaster.pid");
            let Some(pid) = std::fs::read_to_string(&pidfile).ok().and_then(|t| t.lines().next().map(String::from))
            else {
                continue;
            };
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            while pidfile.exists() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn migrate_against_a_postgresql_hot_standby_fails_as_a_read_only_standby() {
    let Some(standby) = Standby::start() else { return };
    let project = tempfile::tempdir().unwrap();
    let versions = project.path().join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(
        project.path().join("migrate.toml"),
        "database_url = \"postgres://postgres@127.0.0.1:5442/postgres\"\n",
    )
    .unwrap();
    write_script(&versions);
    let run = |port: u16, command: &str| {
        Command::new(env!("CARGO_BIN_EXE_migrate"))
            .args([command, "head"])
            .current_dir(project.path())
            .env("DATABASE_URL", format!("postgres://postgres@127.0.0.1:{port}/postgres"))
            .output()
            .unwrap()
    };
    let out = run(5443, "upgrade");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "postgres://postgres@127.0.0.1:5443/postgres is a read-only standby (pg_is_in_recovery() is true)"
        ),
        "{stderr}"
    );
    assert!(run(5442, "upgrade").status.success(), "the primary takes it");
    drop(standby);
}
