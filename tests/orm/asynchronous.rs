//! The async API (`async` feature, on in tests through the crate's own
//! dev-dependency): Core statements over diesel-async, the async pool's
//! rules, on every backend.

use crate::common::{TestDb, fresh_db};
use migrate::db::Backend;
use migrate::dialect;
use migrate::models::Model as _;
use migrate::orm::asynchronous::{AsyncPool, AsyncPooledConnection, AsyncSession, exec, transaction};
use migrate::orm::prelude::*;
use migrate::orm::relation::{NPlusOne, RelationError};
use migrate::orm::{Echo, Error as OrmError, PoolOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Creates the tables (sync, as migrations would), then runs `body` on a
/// multi-threaded tokio runtime.
fn run<F: Future<Output = ()>>(backend: Backend, name: &str, body: fn(TestDb) -> F) {
    let Some(db) = fresh_db(backend, &format!("async_{name}")) else { return };
    let mut conn = db.connect();
    let dialect = dialect::of(conn.backend());
    for table in [Author::table(), SUser::table(), SPost::table(), STag::table()] {
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
    movable::<AsyncSession>();
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
    session_identity_map_changed_columns_and_flush_order,
    session_savepoints_and_a_failed_flush,
    session_selectin_nested_in_three_statements_and_joined,
    core_fetch_loads_selectin_as_the_sync_fetch_does,
    session_n_plus_one_detector,
    session_cancelled_or_dropped_leaves_the_pool_clean,
    sessions_of_eight_tasks_share_one_pool,
    session_events_fire_and_sync_database_methods_are_refused,
    pool_pings_only_idle_or_failed_connections,
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
    // A bare parameter in a select list reads here on MySQL/MariaDB too
    // (the sync client refuses it: `raw_text`).
    let bare = text("SELECT :a").bind_str("a", "x");
    assert_eq!(exec::fetch::<String>(&mut conn, &bare).await.unwrap(), ["x"]);
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

/// A statement that runs for seconds. SQLite has no sleep: a few seconds of
/// counting (the blocking thread finishes it after the timeout, then the
/// connection closes).
fn slow(backend: Backend) -> Text {
    match backend {
        Backend::Postgres => text("SELECT pg_sleep(5)"),
        Backend::Mysql => text("SELECT SLEEP(5)"),
        Backend::Sqlite => text(
            "WITH RECURSIVE c(x) AS (VALUES (1) UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) \
             SELECT count(*) FROM c",
        ),
    }
}

async fn a_cancelled_statement_never_returns_its_connection_to_the_pool(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    let request = async {
        let mut conn = pool.get().await.unwrap();
        transaction::begin(&mut conn, &Default::default()).await.unwrap();
        let first = insert_into(Author::TABLE).row(Row::new().set(Author::NAME, "Lost"));
        exec::execute(&mut conn, &first).await.unwrap();
        let _ = exec::fetch::<i64>(&mut conn, &slow(db.backend())).await;
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

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "s_users")]
pub struct SUser {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100, unique)]
    pub name: String,
    pub karma: i64,
    #[model(has_many(SPost, foreign_key = "user_id", order_by = "id"))]
    pub posts: Many<SPost>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "s_posts")]
pub struct SPost {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "s_users.id")]
    pub user_id: i64,
    #[model(max_length = 100)]
    pub title: String,
    #[model(belongs_to(SUser, foreign_key = "user_id"))]
    pub author: One<SUser>,
    #[model(has_many(STag, foreign_key = "post_id", order_by = "id"))]
    pub tags: Many<STag>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "s_tags")]
pub struct STag {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "s_posts.id")]
    pub post_id: i64,
    #[model(max_length = 100)]
    pub label: String,
}

fn user(name: &str) -> SUser {
    SUser { name: name.to_string(), ..SUser::default() }
}

fn post(title: &str) -> SPost {
    SPost { title: title.to_string(), ..SPost::default() }
}

/// An async pool echoing each statement's SQL into the returned lines.
async fn echoed(db: &TestDb) -> (AsyncPool, Arc<Mutex<Vec<String>>>) {
    echoed_with(db, options()).await
}

/// [`echoed`] with `options`.
async fn echoed_with(db: &TestDb, options: PoolOptions) -> (AsyncPool, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let echo = Echo::callback(move |event| sink.lock().unwrap().push(event.sql.to_string()));
    let pool = AsyncPool::open(&db.url, PoolOptions { echo: Some(echo), ..options }).await.unwrap();
    (pool, lines)
}

async fn count_users(s: &mut AsyncSession) -> i64 {
    let rows: Vec<(i64,)> = s.execute(&text("SELECT COUNT(*) FROM s_users")).await.unwrap();
    rows[0].0
}

async fn session_identity_map_changed_columns_and_flush_order(db: TestDb) {
    let (pool, lines) = echoed(&db).await;
    let mut s = pool.session();
    // Added child first: the flush still inserts the parent first, and the
    // child takes its generated key.
    let p = s.add(post("first"));
    let u = s.add(user("ann"));
    s.append(u, SUser::POSTS, p).unwrap();
    assert_eq!(s.statement_count(), 0, "nothing is sent before the flush");
    s.commit().await.unwrap();
    let (uid, pid) = (s[u].id, s[p].id);
    assert!(uid > 0 && pid > 0);
    assert_eq!(s[p].user_id, uid);
    // Identity map: the same handle, no statement.
    let sent = s.statement_count();
    assert_eq!(s.get::<SUser>(&uid).await.unwrap(), Some(u));
    assert_eq!(s.statement_count(), sent, "an identity-map hit sends nothing");
    // Dirty tracking: only the changed column is written.
    lines.lock().unwrap().clear();
    s[u].karma = 7;
    s.commit().await.unwrap();
    let updates: Vec<String> = lines.lock().unwrap().iter().filter(|l| l.starts_with("UPDATE")).cloned().collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(updates[0].contains("karma") && !updates[0].contains("name"), "{updates:?}");
    // Another session reads the committed row.
    let mut other = pool.session();
    let found = other.get::<SUser>(&uid).await.unwrap().unwrap();
    assert_eq!((other[found].name.as_str(), other[found].karma), ("ann", 7));
    // Refresh reads the row again, dropping unflushed changes.
    other[found].karma = 100;
    other.refresh(found).await.unwrap();
    assert_eq!(other[found].karma, 7);
    // Deletes: the child's row before its parent's.
    let child = other.get::<SPost>(&pid).await.unwrap().unwrap();
    other.delete(child).unwrap();
    other.delete(found).unwrap();
    other.commit().await.unwrap();
    assert!(other.try_get(found).is_err());
    assert_eq!(count_users(&mut other).await, 0);
}

async fn session_savepoints_and_a_failed_flush(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    let mut s = pool.session();
    let kept = s.add(user("kept"));
    s.flush().await.unwrap();
    s.begin_nested().await.unwrap();
    let undone = s.add(user("undone"));
    s.flush().await.unwrap();
    s.rollback().await.unwrap();
    assert!(s.try_get(undone).is_err(), "rolled back to the savepoint: the object left the session");
    assert_eq!(s.try_get(kept).unwrap().name, "kept");
    s.commit().await.unwrap();
    assert_eq!(count_users(&mut s).await, 1);
    // A failed flush: typed, rolled back, and the session goes on.
    s.add(user("kept"));
    match s.commit().await {
        Err(OrmError::UniqueViolation(v)) => assert_eq!(v.table.as_deref(), Some("s_users"), "{v:?}"),
        other => panic!("{:?}: expected a unique violation, got {other:?}", db.backend()),
    }
    s.add(user("bob"));
    s.commit().await.unwrap();
    assert_eq!(count_users(&mut s).await, 2);
}

async fn seed_users(pool: &AsyncPool, users: usize, posts: usize, tags: usize) {
    let mut s = pool.session();
    for i in 0..users {
        let u = s.add(user(&format!("u{i}")));
        for j in 0..posts {
            let p = s.add(post(&format!("p{i}.{j}")));
            s.append(u, SUser::POSTS, p).unwrap();
            for k in 0..tags {
                let t = s.add(STag { label: format!("t{i}.{j}.{k}"), ..STag::default() });
                s.append(p, SPost::TAGS, t).unwrap();
            }
        }
    }
    s.commit().await.unwrap();
}

async fn session_selectin_nested_in_three_statements_and_joined(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    seed_users(&pool, 100, 2, 2).await;
    let mut s = pool.session();
    let users = s
        .query::<SUser>(|q| q.order_by(SUser::ID.asc()).options(selectin(SUser::POSTS).then(selectin(SPost::TAGS))))
        .await
        .unwrap();
    assert_eq!(s.statement_count(), 3, "users, posts, tags");
    assert_eq!(users.len(), 100);
    let first = &s[users[0]];
    let posts = first.posts.get().unwrap();
    assert_eq!(posts.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["p0.0", "p0.1"]);
    let labels: Vec<&str> = posts[1].tags.get().unwrap().iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["t0.1.0", "t0.1.1"]);
    // joined: the author in the posts' statement.
    let before = s.statement_count();
    let posts = s.query::<SPost>(|q| q.order_by(SPost::ID.asc()).options(joined(SPost::AUTHOR))).await.unwrap();
    assert_eq!(s.statement_count() - before, 1);
    assert_eq!(posts.len(), 200);
    assert_eq!(s[posts[199]].author.get().unwrap().map(|u| u.name.as_str()), Some("u99"));
}

/// A bare async connection's `exec::fetch` loads `selectin` relationships
/// (nested, one statement per level) like the sync `exec::fetch`.
async fn core_fetch_loads_selectin_as_the_sync_fetch_does(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    seed_users(&pool, 3, 2, 2).await;
    let query = select(SUser::ALL)
        .from(SUser::TABLE)
        .order_by(SUser::ID.asc())
        .options(selectin(SUser::POSTS).then(selectin(SPost::TAGS)));
    let mut conn = pool.get().await.unwrap();
    exec::capabilities(&mut conn).await.unwrap();
    let before = conn.statement_count();
    let users: Vec<SUser> = exec::fetch(&mut conn, &query).await.unwrap();
    assert_eq!(conn.statement_count() - before, 3, "users, posts, tags");
    let posts = users[2].posts.get().unwrap();
    assert_eq!(posts.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["p2.0", "p2.1"]);
    let labels: Vec<&str> = posts[0].tags.get().unwrap().iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["t2.0.0", "t2.0.1"]);
    // The same tree as the sync fetch reads.
    let synced: Vec<SUser> = migrate::orm::exec::fetch(&mut db.connect(), &query).unwrap();
    assert_eq!(users, synced);
    // joined below selectin: the posts' authors in the posts' statement.
    let query = select(SUser::ALL)
        .from(SUser::TABLE)
        .order_by(SUser::ID.asc())
        .options(selectin(SUser::POSTS).then(joined(SPost::AUTHOR)));
    let before = conn.statement_count();
    let users: Vec<SUser> = exec::fetch(&mut conn, &query).await.unwrap();
    assert_eq!(conn.statement_count() - before, 2, "users, posts with their authors");
    let author = users[1].posts.get().unwrap()[0].author.get().unwrap().map(|u| u.name.clone());
    assert_eq!(author.as_deref(), Some("u1"));
}

async fn session_n_plus_one_detector(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    seed_users(&pool, 3, 1, 0).await;
    let mut s = pool.session();
    s.set_n_plus_one(NPlusOne::Error);
    let users = s.query::<SUser>(|q| q.order_by(SUser::ID.asc())).await.unwrap();
    // The explicit lazy load: one statement.
    let before = s.statement_count();
    s.load(users[0], SUser::POSTS).await.unwrap();
    assert_eq!(s.statement_count() - before, 1);
    assert_eq!(s[users[0]].posts.get().unwrap().len(), 1);
    match s.load(users[1], SUser::POSTS).await {
        Err(OrmError::Relation(RelationError::NPlusOne { count: 2, .. })) => {}
        other => panic!("expected the N+1 detector, got {other:?}"),
    }
}

async fn session_cancelled_or_dropped_leaves_the_pool_clean(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    // Cancelled mid-transaction: the session's future dropped during a statement.
    let request = async {
        let mut s = pool.session();
        s.add(user("lost"));
        s.flush().await.unwrap();
        let _ = s.execute::<(i64,)>(&slow(db.backend())).await;
        panic!("the slow statement finished before the timeout");
    };
    assert!(tokio::time::timeout(Duration::from_millis(300), request).await.is_err());
    assert_every_connection_clean(&pool).await;
    // Dropped between statements with the transaction open.
    let mut s = pool.session();
    s.add(user("dropped"));
    s.flush().await.unwrap();
    drop(s);
    assert_every_connection_clean(&pool).await;
    let mut s = pool.session();
    assert_eq!(count_users(&mut s).await, 0);
}

async fn sessions_of_eight_tasks_share_one_pool(db: TestDb) {
    let pool = AsyncPool::open(&db.url, options()).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut s = pool.session();
                let u = s.add(user(&format!("task{i}")));
                let p = s.add(post("hello"));
                s.append(u, SUser::POSTS, p).unwrap();
                s.commit().await.unwrap();
                let id = s[u].id;
                let found = s.query::<SUser>(|q| q.filter(SUser::ID.eq(id)).options(selectin(SUser::POSTS))).await;
                let found = found.unwrap();
                assert_eq!(found, [u], "the identity map gives the same object back");
                s[u].posts.get().unwrap().len()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 1);
    }
    let mut s = pool.session();
    assert_eq!(count_users(&mut s).await, 8);
    assert!(pool.state().connections <= options().max_size);
}

/// Adds an audit user at each flush (trying a sync query first, which
/// needs the database), and counts commits.
#[derive(Default)]
struct Audit {
    commits: AtomicUsize,
    refused: Mutex<Vec<String>>,
}

struct Listener(Arc<Audit>);

impl SessionEvents for Listener {
    fn before_flush(&self, session: &mut migrate::orm::Session) -> HookResult {
        if let Err(e) = session.query::<SUser>(|q| q) {
            self.0.refused.lock().unwrap().push(e.to_string());
        }
        session.add(user(&format!("audit{}", self.0.commits.load(Ordering::SeqCst))));
        Ok(())
    }
    fn after_commit(&self, _: &migrate::orm::Session) {
        self.0.commits.fetch_add(1, Ordering::SeqCst);
    }
}

async fn session_events_fire_and_sync_database_methods_are_refused(db: TestDb) {
    let audit = Arc::new(Audit::default());
    let mut events = migrate::orm::Listeners::new();
    events.add(Listener(Arc::clone(&audit)));
    let pool = AsyncPool::open(&db.url, PoolOptions { events, ..options() }).await.unwrap();
    let mut s = pool.session();
    s.add(user("ann"));
    s.commit().await.unwrap();
    assert_eq!(audit.commits.load(Ordering::SeqCst), 1);
    assert_eq!(count_users(&mut s).await, 2, "ann and the listener's audit0");
    let refused = audit.refused.lock().unwrap().clone();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("session is async"), "{refused:?}");
}

/// The async pool keeps the sync pool's rule: a connection given back less
/// than `health_check_idle` ago, with no failed statement since its last
/// check, is handed out without the ping.
async fn pool_pings_only_idle_or_failed_connections(db: TestDb) {
    let idle = Duration::from_millis(300);
    let one = |idle| PoolOptions { max_size: 1, health_check_idle: idle, ..options() };
    // The pings echoed since the last call.
    let pings = |pool: &AsyncPool, lines: &Mutex<Vec<String>>| {
        let mut lines = lines.lock().unwrap();
        let n = lines.iter().filter(|sql| *sql == pool.dialect().ping()).count();
        lines.clear();
        n
    };
    let (pool, lines) = echoed_with(&db, one(idle)).await;
    pings(&pool, &lines);
    let all = select(Author::ALL).from(Author::TABLE);
    for _ in 0..3 {
        let mut conn = pool.get().await.unwrap();
        exec::fetch::<Author>(&mut conn, &all).await.unwrap();
    }
    assert_eq!(pings(&pool, &lines), 0, "given back a moment ago: no ping");
    tokio::time::sleep(idle + Duration::from_millis(100)).await;
    drop(pool.get().await.unwrap());
    assert_eq!(pings(&pool, &lines), 1, "idle longer than health_check_idle: pinged");
    let mut conn = pool.get().await.unwrap();
    assert!(exec::fetch::<Author>(&mut conn, &text("SELECT * FROM no_such_table")).await.is_err());
    drop(conn);
    drop(pool.get().await.unwrap());
    assert_eq!(pings(&pool, &lines), 1, "a failure since the last check: pinged however soon");
    drop(pool.get().await.unwrap());
    assert_eq!(pings(&pool, &lines), 0, "checked, no failure since: not pinged");

    // Zero: every checkout pings.
    let (pool, lines) = echoed_with(&db, one(Duration::ZERO)).await;
    pings(&pool, &lines);
    for _ in 0..3 {
        drop(pool.get().await.unwrap());
    }
    assert_eq!(pings(&pool, &lines), 3);

    // A prepared statement, which the server parses once per connection.
    let sql = crate::begin_and_ping::prepared_pings_sql(db.backend());
    let executions = async || match sql {
        Some(sql) => Some(exec::fetch::<i64>(&mut pool.get().await.unwrap(), &text(sql)).await.unwrap()[0]),
        None => None,
    };
    let before = executions().await;
    for _ in 0..3 {
        drop(pool.get().await.unwrap());
    }
    let after = executions().await;
    crate::begin_and_ping::assert_pings_prepared(db.backend(), before, after);
}
