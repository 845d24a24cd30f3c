//! The async API (`async` feature, on in tests through the crate's own
//! dev-dependency): Core statements over diesel-async, the async pool's
//! rules, on every backend.

use crate::common::{TestDb, fresh_db};
use migrate::db::Backend;
use migrate::dialect;
use migrate::models::Model as _;
use migrate::orm::asynchronous::{AsyncPool, AsyncPooledConnection, exec, transaction};
use migrate::orm::prelude::*;
use migrate::orm::{Echo, Error as OrmError, PoolOptions};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Creates the tables (sync, as migrations would), then runs `body` on a
/// multi-threaded tokio runtime.
fn run<F: Future<Output = ()>>(backend: Backend, name: &str, body: fn(TestDb) -> F) {
    let Some(db) = fresh_db(backend, &format!("async_{name}")) else { return };
    let mut conn = db.connect();
    let dialect = dialect::of(conn.backend());
    for table in [Author::table()] {
        for sql in dialect.create_table(&table) {
            conn.execute(&sql).unwrap();
        }
    }
    drop(conn);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(body(db));
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "authors")]
pub struct Author {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100, unique)]
    pub name: String,
    pub rating: Option<f64>,
}

/// What an axum handler needs: a shareable pool, connections and futures
/// that move between threads (`tokio::spawn` below checks the futures).
#[test]
fn the_pool_and_its_connections_are_send_and_sync() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    fn movable<T: Send + 'static>() {}
    shareable::<AsyncPool>();
    movable::<AsyncPooledConnection>();
}

fn options() -> PoolOptions {
    PoolOptions { max_size: 3, connection_timeout: Duration::from_secs(10), ..PoolOptions::default() }
}

per_backend!(
    core_statements_run_decode_and_fail_typed,
    echo_and_statement_count_match_the_sync_connection,
    transactions_commit_and_roll_back,
    a_cancelled_statement_never_returns_its_connection_to_the_pool,
    a_dropped_transaction_is_never_handed_out_again,
);

async fn core_statements_run_decode_and_fail_typed(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let insert = insert_into(Author::TABLE)
        .row(Row::new().set(Author::NAME, "Ann").set(Author::RATING, Some(4.5)))
        .row(Row::new().set(Author::NAME, "Bob").set(Author::RATING, None::<f64>));
    assert_eq!(exec::execute(&mut conn, &insert).await.unwrap(), 2);
    // The same FromRow impls: a model, a tuple, a value.
    let all = select(Author::ALL).from(Author::TABLE).order_by(Author::NAME.asc());
    let authors: Vec<Author> = exec::fetch(&mut conn, &all).await.unwrap();
    let names: Vec<&str> = authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Ann", "Bob"]);
    assert_eq!(authors[0].rating, Some(4.5));
    let filtered = select((Author::NAME, Author::RATING)).from(Author::TABLE).filter(Author::RATING.gt(4.0));
    let rows: Vec<(String, Option<f64>)> = exec::fetch(&mut conn, &filtered).await.unwrap();
    assert_eq!(rows, [("Ann".to_string(), Some(4.5))]);
    let count = select(count_star()).from(Author::TABLE);
    assert_eq!(exec::fetch_optional::<i64>(&mut conn, &count).await.unwrap(), Some(2));
    let raw = text("SELECT name FROM authors WHERE name <> :not_name").bind_str("not_name", "Ann");
    assert_eq!(exec::fetch::<String>(&mut conn, &raw).await.unwrap(), ["Bob"]);
    // The same typed errors.
    let duplicate = insert_into(Author::TABLE).row(Row::new().set(Author::NAME, "Ann"));
    match exec::execute(&mut conn, &duplicate).await {
        Err(OrmError::UniqueViolation(violation)) => {
            assert_eq!(violation.table.as_deref(), Some("authors"), "{violation:?}")
        }
        other => panic!("{:?}: expected a unique violation, got {other:?}", db.backend()),
    }
    // A statement still runs after the failure.
    let update = update(Author::TABLE).set(Author::RATING, Some(1.0)).filter(Author::NAME.eq("Bob"));
    assert_eq!(exec::execute(&mut conn, &update).await.unwrap(), 1);
}

async fn echo_and_statement_count_match_the_sync_connection(db: TestDb) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let echo = Echo::callback(move |event| sink.lock().unwrap().push(event.sql.to_string()));
    let pool =
        AsyncPool::open(&db.url, PoolOptions { echo: Some(echo), health_check: false, ..options() }).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    // Learn the server's version first: asked once per connection.
    exec::capabilities(&mut conn).await.unwrap();
    seen.lock().unwrap().clear();
    let before = conn.statement_count();
    let q = select(Author::NAME).from(Author::TABLE).filter(Author::ID.eq(1i64));
    for _ in 0..3 {
        assert!(exec::fetch::<String>(&mut conn, &q).await.unwrap().is_empty());
    }
    assert_eq!(conn.statement_count() - before, 3);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|sql| sql.contains("FROM") && sql.contains("authors")), "{seen:?}");
}

async fn transactions_commit_and_roll_back(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let named = |name: &str| insert_into(Author::TABLE).row(Row::new().set(Author::NAME, name.to_string()));
    transaction::begin(&mut conn, &Default::default()).await.unwrap();
    exec::execute(&mut conn, &named("Kept")).await.unwrap();
    assert_eq!(transaction::begin_nested(&mut conn).await.unwrap(), 2);
    exec::execute(&mut conn, &named("Undone")).await.unwrap();
    transaction::rollback(&mut conn).await.unwrap();
    transaction::commit(&mut conn).await.unwrap();
    assert_eq!(conn.transaction_state().depth, 0);
    transaction::begin(&mut conn, &Default::default()).await.unwrap();
    exec::execute(&mut conn, &named("Gone")).await.unwrap();
    transaction::rollback(&mut conn).await.unwrap();
    let names = select(Author::NAME).from(Author::TABLE).order_by(Author::NAME.asc());
    assert_eq!(exec::fetch::<String>(&mut conn, &names).await.unwrap(), ["Kept"]);
    assert!(matches!(transaction::commit(&mut conn).await, Err(OrmError::NoTransaction)));
}

/// Whether the server has a transaction open on `conn` that has written
/// (PostgreSQL: a transaction id assigned; MariaDB/MySQL: a row in
/// `innodb_trx`; SQLite: `BEGIN` refused inside a transaction).
async fn open_transaction(conn: &mut AsyncPooledConnection) -> bool {
    let query = match conn.backend() {
        Backend::Postgres => "SELECT count(txid_current_if_assigned())",
        Backend::Mysql => {
            "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = CONNECTION_ID()"
        }
        Backend::Sqlite => {
            return match conn.batch_execute("BEGIN; ROLLBACK").await {
                Ok(()) => false,
                Err(e) if e.to_string().contains("within a transaction") => true,
                Err(e) => panic!("{e}"),
            };
        }
    };
    exec::fetch::<i64>(conn, &text(query)).await.unwrap() != [0]
}

/// Takes every connection the pool can give at once and checks that none has
/// a transaction open, on our side or on the server's.
async fn assert_every_connection_clean(pool: &AsyncPool) {
    let mut all = Vec::new();
    for _ in 0..options().max_size {
        all.push(pool.get().await.unwrap());
    }
    for conn in &mut all {
        assert_eq!(conn.transaction_state().depth, 0, "{conn:?}");
        assert!(!conn.interrupted(), "{conn:?}");
        assert!(!open_transaction(conn).await, "{:?}: a pooled connection has a transaction open", conn.backend());
    }
}

async fn a_cancelled_statement_never_returns_its_connection_to_the_pool(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    let request = async {
        let mut conn = pool.get().await.unwrap();
        transaction::begin(&mut conn, &Default::default()).await.unwrap();
        let first = insert_into(Author::TABLE).row(Row::new().set(Author::NAME, "Lost"));
        exec::execute(&mut conn, &first).await.unwrap();
        // SQLite has no sleep: a few seconds of counting (the blocking
        // thread finishes it after the timeout, then the connection closes).
        let slow = match db.backend() {
            Backend::Postgres => text("SELECT pg_sleep(5)"),
            Backend::Mysql => text("SELECT SLEEP(5)"),
            Backend::Sqlite => text(
                "WITH RECURSIVE c(x) AS (VALUES (1) UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) \
                 SELECT count(*) FROM c",
            ),
        };
        let _ = exec::fetch::<i64>(&mut conn, &slow).await;
        panic!("the slow statement finished before the timeout");
    };
    let cancelled = tokio::time::timeout(Duration::from_millis(300), request).await;
    assert!(cancelled.is_err(), "the request was not cancelled");
    assert_every_connection_clean(&pool).await;
    // Nothing of the cancelled transaction is visible.
    let mut conn = pool.get().await.unwrap();
    let count = select(count_star()).from(Author::TABLE);
    assert_eq!(exec::fetch::<i64>(&mut conn, &count).await.unwrap(), [0]);
}

async fn a_dropped_transaction_is_never_handed_out_again(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    // A task in a transaction, with a row written, aborted between statements.
    let (written, wait) = tokio::sync::oneshot::channel();
    let task = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.get().await.unwrap();
            transaction::begin(&mut conn, &Default::default()).await.unwrap();
            let row = insert_into(Author::TABLE).row(Row::new().set(Author::NAME, "Abandoned"));
            exec::execute(&mut conn, &row).await.unwrap();
            let names = select(Author::NAME).from(Author::TABLE);
            assert_eq!(exec::fetch::<String>(&mut conn, &names).await.unwrap(), ["Abandoned"]);
            assert!(!conn.interrupted());
            written.send(()).unwrap();
            std::future::pending::<()>().await;
        })
    };
    wait.await.unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_every_connection_clean(&pool).await;
    let mut conn = pool.get().await.unwrap();
    let count = select(count_star()).from(Author::TABLE);
    assert_eq!(exec::fetch::<i64>(&mut conn, &count).await.unwrap(), [0]);
    // And a pool that was given a clean connection back keeps it.
    let idle = pool.state();
    drop(conn);
    assert_eq!(pool.state().connections, idle.connections);
}
