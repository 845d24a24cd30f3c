//! What a session and the pool send around the work: a read outside a
//! transaction sends no `BEGIN`/`ROLLBACK` (the transaction begins at the
//! first write, at `begin()`, or at once when options are set), and the pool
//! pings only connections that sat idle or saw a failed statement.

use crate::common::{TestDb, fresh_db};
use migrate::db::{Backend, Connection};
use migrate::dialect::{Dialect, IsolationLevel, TransactionOptions};
use migrate::models::Model as _;
use migrate::orm::echo::StatementEvent;
use migrate::orm::exec;
use migrate::orm::prelude::*;
use migrate::orm::query::text;
use migrate::orm::{Echo, Error, Pool, PoolOptions};
use std::sync::{Arc, Mutex};
use std::time::Duration;

per_backend!(
    reads_outside_a_transaction_send_no_begin,
    writes_begin_the_transaction,
    begin_puts_reads_in_one_transaction,
    transaction_options_begin_at_the_first_read,
    pool_pings_only_idle_connections,
    pool_pings_after_a_failed_statement,
    pool_replaces_a_connection_killed_by_the_server,
);

fn run(backend: Backend, name: &str, body: fn(&TestDb)) {
    if let Some(db) = fresh_db(backend, name) {
        body(&db);
    }
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "notes")]
pub struct Note {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100)]
    pub body: String,
}

type Lines = Arc<Mutex<Vec<String>>>;

/// A pool on `db` echoing the SQL of every statement (without its
/// parameters and duration) into the returned lines, and a `notes` table
/// with rows 1 and 2.
fn pool(db: &TestDb, options: PoolOptions) -> (Pool, Lines) {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let echo = Echo::callback(move |event: &StatementEvent<'_>| {
        let line = event.to_string();
        sink.lock().unwrap().push(line.split(" -- ").next().unwrap_or_default().to_string());
    });
    let pool = Pool::open(&db.url, PoolOptions { echo: Some(echo), ..options }).unwrap();
    let mut conn = pool.get().unwrap();
    for sql in pool.dialect().create_table(&Note::table()) {
        conn.execute(&sql).unwrap();
    }
    conn.execute("INSERT INTO notes (body) VALUES ('one'), ('two')").unwrap();
    // The server's version is read once per connection: now, not in a test.
    let _: Vec<(i64,)> = exec::fetch(&mut conn, &text("SELECT COUNT(*) FROM notes")).unwrap();
    drop(conn);
    lines.lock().unwrap().clear();
    (pool, lines)
}

fn take(lines: &Lines) -> Vec<String> {
    std::mem::take(&mut *lines.lock().unwrap())
}

/// The transaction-control statements among `sent`.
fn control(dialect: &dyn Dialect, sent: &[String]) -> Vec<String> {
    let mut controls = dialect.begin_transaction(&TransactionOptions::default());
    controls.extend(dialect.begin_transaction(&TransactionOptions::isolation(IsolationLevel::RepeatableRead)));
    controls.extend(dialect.begin_transaction(&TransactionOptions::read_only()));
    controls.extend([dialect.commit().to_string(), dialect.rollback().to_string()]);
    sent.iter().filter(|s| controls.contains(s)).cloned().collect()
}

/// The notes' bodies, as another connection sees them.
fn bodies(db: &TestDb) -> Vec<String> {
    let mut conn = db.connect();
    let rows: Vec<(String,)> = exec::fetch(&mut conn, &text("SELECT body FROM notes ORDER BY id")).unwrap();
    rows.into_iter().map(|(b,)| b).collect()
}

fn reads_outside_a_transaction_send_no_begin(db: &TestDb) {
    let (pool, lines) = pool(db, PoolOptions { max_size: 1, ..PoolOptions::default() });
    let mut s = pool.session();
    let notes = s.query::<Note>(|q| q.order_by(Note::ID.asc())).unwrap();
    assert_eq!(notes.len(), 2);
    assert!(s.get::<Note>(&3).unwrap().is_none());
    // Untracked Core reads too.
    let rows: Vec<Note> = s.execute(&select(Note::ALL).from(Note::TABLE).filter(Note::ID.eq(1i64))).unwrap();
    assert_eq!(rows[0].body, "one");
    let before = s.statement_count();
    s.commit().unwrap();
    assert_eq!(s.statement_count(), before, "nothing to commit: nothing sent");
    drop(s);
    let sent = take(&lines);
    assert_eq!(control(pool.dialect(), &sent), Vec::<String>::new(), "{sent:?}");
    // The session gave its connection back (the pool has one).
    drop(pool.get().unwrap());
}

fn writes_begin_the_transaction(db: &TestDb) {
    let (pool, lines) = pool(db, PoolOptions { max_size: 1, ..PoolOptions::default() });
    let dialect = pool.dialect();
    let begin = dialect.begin_transaction(&TransactionOptions::default());

    // A change to an object read outside a transaction is flushed inside one.
    let mut s = pool.session();
    let notes = s.query::<Note>(|q| q.order_by(Note::ID.asc())).unwrap();
    s[notes[0]].body = "changed".into();
    s.flush().unwrap();
    let sent = take(&lines);
    let first_write = sent.iter().position(|l| l.starts_with("UPDATE")).expect("the update was sent");
    assert_eq!(sent[first_write - begin.len()..first_write], begin[..], "{sent:?}");
    s.rollback().unwrap();
    assert_eq!(bodies(db), ["one", "two"]);
    s.refresh(notes[0]).unwrap();
    assert_eq!(s[notes[0]].body, "one");
    drop(s); // a session holds its connection until commit, rollback or drop

    // Core writes through `execute`, built or raw, run in the transaction.
    let mut s = pool.session();
    let _: Vec<(i64,)> = s.execute(&update(Note::TABLE).set(Note::BODY, "built".to_string())).unwrap();
    let _: Vec<(i64,)> = s.execute(&delete_from(Note::TABLE).filter(Note::ID.eq(1))).unwrap();
    // Raw writes too, on MariaDB/MySQL as well (whose driver reads no rows
    // from a statement that has none), leading comments and all.
    let _: Vec<(i64,)> = s.execute(&text("DELETE FROM notes WHERE id = :id").bind("id", 2i64)).unwrap();
    let _: Vec<(i64,)> =
        s.execute(&text("/* audit */ -- why\n  insert into notes (id, body) values (3, 'x')")).unwrap();
    let _: Vec<(i64,)> = s.execute(&text("DELETE FROM notes WHERE id = 3")).unwrap();
    let left: Vec<Note> = s.execute(&select(Note::ALL).from(Note::TABLE)).unwrap();
    assert!(left.is_empty(), "reads see the writes: {left:?}");
    s.rollback().unwrap();
    assert_eq!(bodies(db), ["one", "two"], "all rolled back");

    // An added object: the transaction begins at its flush, commit ends it.
    let mut s = pool.session();
    s.add(Note { id: 0, body: "three".into() });
    s.commit().unwrap();
    drop(s);
    assert_eq!(bodies(db), ["one", "two", "three"]);
    let sent = take(&lines);
    assert_eq!(sent.iter().filter(|l| **l == dialect.commit()).count(), 1, "{sent:?}");
}

fn begin_puts_reads_in_one_transaction(db: &TestDb) {
    let (pool, lines) = pool(db, PoolOptions { max_size: 1, ..PoolOptions::default() });
    let dialect = pool.dialect();
    let options = TransactionOptions::isolation(IsolationLevel::RepeatableRead);
    let mut s = pool.session();
    s.begin().unwrap();
    assert!(matches!(s.begin(), Err(Error::TransactionOpen)), "one transaction at a time");
    assert_eq!(s.execute::<(i64,)>(&text("SELECT COUNT(*) FROM notes")).unwrap(), [(2,)]);
    s.rollback().unwrap();
    let sent = take(&lines);
    let mut expected = dialect.begin_transaction(&TransactionOptions::default());
    expected.extend(["SELECT COUNT(*) FROM notes".to_string(), dialect.rollback().to_string()]);
    assert_eq!(sent, expected);

    // One snapshot across reads at repeatable read: a row committed by
    // another connection in between is not seen. (SQLite's `BEGIN IMMEDIATE`
    // keeps other writers out altogether.)
    if db.backend() != Backend::Sqlite {
        s.set_transaction_options(options);
        s.begin().unwrap();
        assert_eq!(s.execute::<(i64,)>(&text("SELECT COUNT(*) FROM notes")).unwrap(), [(2,)]);
        db.connect().execute("INSERT INTO notes (id, body) VALUES (3, 'three')").unwrap();
        assert_eq!(s.execute::<(i64,)>(&text("SELECT COUNT(*) FROM notes")).unwrap(), [(2,)], "the same snapshot");
        s.commit().unwrap();
        assert_eq!(s.execute::<(i64,)>(&text("SELECT COUNT(*) FROM notes")).unwrap(), [(3,)]);
    }
}

fn transaction_options_begin_at_the_first_read(db: &TestDb) {
    let (pool, lines) = pool(db, PoolOptions { max_size: 1, ..PoolOptions::default() });
    let dialect = pool.dialect();
    let mut s = pool.session();
    s.set_transaction_options(TransactionOptions::read_only());
    assert_eq!(s.query::<Note>(|q| q).unwrap().len(), 2);
    let sent = take(&lines);
    let begin = dialect.begin_transaction(&TransactionOptions::read_only());
    assert_eq!(sent[..begin.len()], begin[..], "{sent:?}");
    drop(s);
    assert_eq!(take(&lines), [dialect.rollback()], "dropped: rolled back");
}

fn pings(dialect: &dyn Dialect, lines: &Lines) -> usize {
    take(lines).iter().filter(|l| *l == dialect.ping()).count()
}

fn pool_pings_only_idle_connections(db: &TestDb) {
    let idle = Duration::from_millis(300);
    let (pool, lines) = pool(db, PoolOptions { max_size: 1, health_check_idle: idle, ..PoolOptions::default() });
    let dialect = pool.dialect();
    for _ in 0..3 {
        let mut conn = pool.get().unwrap();
        conn.execute("SELECT 2").unwrap();
    }
    assert_eq!(pings(dialect, &lines), 0, "given back a moment ago: no ping");
    std::thread::sleep(idle + Duration::from_millis(100));
    drop(pool.get().unwrap());
    assert_eq!(pings(dialect, &lines), 1, "idle longer than health_check_idle: pinged");

    // Zero: every checkout pings; no health check: none does.
    let (pool, lines) =
        pool_on(db, PoolOptions { max_size: 1, health_check_idle: Duration::ZERO, ..PoolOptions::default() });
    (0..3).for_each(|_| drop(pool.get().unwrap()));
    assert_eq!(pings(dialect, &lines), 3);
    let (pool, lines) = pool_on(db, PoolOptions { max_size: 1, health_check: false, ..PoolOptions::default() });
    (0..3).for_each(|_| drop(pool.get().unwrap()));
    assert_eq!(pings(dialect, &lines), 0);

    // The ping is a prepared statement, which the server parses once per
    // connection, not at every checkout.
    let (pool, _) =
        pool_on(db, PoolOptions { max_size: 1, health_check_idle: Duration::ZERO, ..PoolOptions::default() });
    let executions = |conn: &mut Connection| -> Option<i64> {
        let sql = prepared_pings_sql(db.backend())?;
        let rows: Vec<(i64,)> = exec::fetch(conn, &text(sql)).unwrap();
        Some(rows[0].0)
    };
    let before = executions(&mut pool.get().unwrap());
    (0..3).for_each(|_| drop(pool.get().unwrap()));
    let after = executions(&mut pool.get().unwrap());
    assert_pings_prepared(db.backend(), before, after);
}

/// A count that shows whether the pool's pings are prepared statements
/// (`None` on SQLite, which has no server to parse them): on PostgreSQL, the
/// session's prepared statements whose text is the ping; on MySQL/MariaDB,
/// the session's prepared executions.
pub fn prepared_pings_sql(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Postgres => Some("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement = 'SELECT 1'"),
        Backend::Mysql => Some(
            "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.SESSION_STATUS \
             WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'",
        ),
        Backend::Sqlite => None,
    }
}

/// Asserts the counts of [`prepared_pings_sql`] read on one connection
/// before and after four checkouts of it that each pinged it.
pub fn assert_pings_prepared(backend: Backend, before: Option<i64>, after: Option<i64>) {
    match backend {
        // Kept among the session's prepared statements, once.
        Backend::Postgres => assert_eq!((before, after), (Some(1), Some(1))),
        // Four pings and the count itself, each a prepared execution.
        Backend::Mysql => assert_eq!(after.zip(before).map(|(a, b)| a - b), Some(5)),
        Backend::Sqlite => assert_eq!((before, after), (None, None)),
    }
}

/// A pool on `db` (its table already there) echoing into the returned lines.
fn pool_on(db: &TestDb, options: PoolOptions) -> (Pool, Lines) {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let echo = Echo::callback(move |event: &StatementEvent<'_>| {
        let line = event.to_string();
        sink.lock().unwrap().push(line.split(" -- ").next().unwrap_or_default().to_string());
    });
    let pool = Pool::open(&db.url, PoolOptions { echo: Some(echo), ..options }).unwrap();
    take(&lines);
    (pool, lines)
}

fn pool_pings_after_a_failed_statement(db: &TestDb) {
    let (pool, lines) = pool(db, PoolOptions { max_size: 1, ..PoolOptions::default() });
    let dialect = pool.dialect();
    let mut conn = pool.get().unwrap();
    assert!(conn.execute("SELECT * FROM no_such_table").is_err());
    drop(conn);
    let mut conn = pool.get().unwrap();
    assert_eq!(pings(dialect, &lines), 1, "a failure since the last check: pinged however soon");
    conn.execute("SELECT 2").unwrap();
    drop(conn);
    drop(pool.get().unwrap());
    assert_eq!(pings(dialect, &lines), 0, "checked, no failure since: not pinged");
}

/// The server's id of `conn`'s session.
fn server_id(conn: &mut Connection, backend: Backend) -> i64 {
    let sql = match backend {
        Backend::Postgres => "SELECT CAST(pg_backend_pid() AS BIGINT)",
        _ => "SELECT CAST(CONNECTION_ID() AS SIGNED)",
    };
    let rows: Vec<(i64,)> = exec::fetch(conn, &text(sql)).unwrap();
    rows[0].0
}

fn pool_replaces_a_connection_killed_by_the_server(db: &TestDb) {
    // Never idle long enough to be pinged for that: only the failure can
    // make the pool check it.
    let options = PoolOptions { max_size: 1, health_check_idle: Duration::from_secs(600), ..PoolOptions::default() };
    let (pool, _lines) = pool(db, options);
    let backend = db.backend();
    if backend == Backend::Sqlite {
        // No server to lose: a failed statement is what SQLite can show, and
        // the connection stays usable after it.
        let mut s = pool.session();
        assert!(s.execute::<(i64,)>(&text("SELECT * FROM no_such_table")).is_err());
        drop(s);
        assert_eq!(pool.session().query::<Note>(|q| q).unwrap().len(), 2);
        return;
    }
    let mut conn = pool.get().unwrap();
    let id = server_id(&mut conn, backend);
    drop(conn);
    let kill = match backend {
        Backend::Postgres => format!("SELECT pg_terminate_backend({id})"),
        _ => format!("KILL {id}"),
    };
    db.connect().execute(&kill).unwrap();
    // The session that meets the dead connection fails ...
    let mut s = pool.session();
    let mut failed = false;
    for _ in 0..20 {
        // (PostgreSQL ends the backend asynchronously.)
        if s.query::<Note>(|q| q).is_err() {
            failed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(failed, "the server ended the connection");
    drop(s);
    // ... and the next one, at once, gets a working connection.
    let mut s = pool.session();
    assert_eq!(s.query::<Note>(|q| q).unwrap().len(), 2);
    drop(s);
    let mut conn = pool.get().unwrap();
    assert_ne!(server_id(&mut conn, backend), id, "a new connection");
}
