//! The async variants (issue 13): raw diesel-async (the typed `table!`
//! schema of orm.rs) against our async Core (`migrate::orm::asynchronous`)
//! on the same seeded database, in the same run, rounds interleaved, best
//! round kept. Both on one connection, awaited on a current-thread tokio
//! runtime (on SQLite, diesel-async runs each statement on a blocking thread
//! for both variants).
//!
//! The `session_` rows run our side through [`AsyncSession`] (one per
//! iteration, on a pool of its own): `session_load_100` is `load_100`
//! through `AsyncSession::query`, `session_nested_100x10x10` issue 12's
//! users -> posts -> comments through `selectin(..).then(selectin(..))`
//! against raw diesel-async loading each level with `eq_any` on the keys
//! and grouping by hand.

use super::{
    CHUNK, COMMENTED_USERS, DieselComment, DieselNewUser, DieselPost, DieselUser, FreshUser, ROWS, Tree, TreeComment,
    TreePost, TreeUser, User, nested_count, per_iteration, ratio, schema, session_tree, thread_cpu,
};
use crate::common::TestDb;
use diesel::connection::InstrumentationEvent;
use diesel::sqlite::SqliteConnection;
use diesel::{ExpressionMethods as _, QueryDsl as _, QueryResult, SelectableHelper as _};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection as _, RunQueryDsl as _, SimpleAsyncConnection as _};
use migrate::db::{Backend, DatabaseUrl};
use migrate::orm::PoolOptions;
use migrate::orm::asynchronous::{AsyncPool, AsyncPooledConnection, AsyncSession, exec, transaction};
use migrate::orm::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A raw diesel-async connection of the backend under test (one per run).
#[allow(clippy::large_enum_variant)]
enum RawAsync {
    Postgres(diesel_async::AsyncPgConnection),
    Mysql(diesel_async::AsyncMysqlConnection),
    Sqlite(SyncConnectionWrapper<SqliteConnection>),
}

macro_rules! on_raw {
    ($raw:expr, $c:ident => $body:expr) => {
        match $raw {
            RawAsync::Postgres($c) => $body,
            RawAsync::Mysql($c) => $body,
            RawAsync::Sqlite($c) => $body,
        }
    };
}

impl RawAsync {
    /// Opens the connection, counting its statements into `counter`.
    async fn open(db: &TestDb, counter: &Arc<AtomicUsize>) -> RawAsync {
        let mut raw = match db.backend() {
            Backend::Postgres => RawAsync::Postgres(diesel_async::AsyncPgConnection::establish(&db.url).await.unwrap()),
            Backend::Mysql => RawAsync::Mysql(diesel_async::AsyncMysqlConnection::establish(&db.url).await.unwrap()),
            Backend::Sqlite => {
                let url = DatabaseUrl::parse(&db.url).unwrap();
                let path = url.sqlite_path().unwrap().to_string();
                RawAsync::Sqlite(SyncConnectionWrapper::establish(&path).await.unwrap())
            }
        };
        let counter = Arc::clone(counter);
        let count = move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { .. } = event {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        };
        on_raw!(&mut raw, c => c.set_instrumentation(count));
        raw
    }
}

async fn raw_load(raw: &mut RawAsync, n: i64) -> QueryResult<usize> {
    use schema::users::dsl::*;
    let rows = on_raw!(raw, c => users.select(DieselUser::as_select()).order(id).limit(n).load::<DieselUser>(c).await)?;
    Ok(rows.len())
}

/// Issue 12's nested loading on raw diesel-async: each level with `eq_any`
/// on the keys of the one above, grouped by hand (diesel's `belonging_to`
/// is the same statement; its `grouped_by` needs the sync `Identifiable`
/// parents, which are these).
async fn raw_nested(raw: &mut RawAsync) -> QueryResult<usize> {
    use schema::{comments, posts, users};
    let users = on_raw!(&mut *raw, c => users::table
        .order(users::id)
        .limit(COMMENTED_USERS)
        .select(DieselUser::as_select())
        .load::<DieselUser>(c)
        .await)?;
    let user_ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let posts = on_raw!(&mut *raw, c => posts::table
        .filter(posts::user_id.eq_any(&user_ids))
        .select(DieselPost::as_select())
        .load::<DieselPost>(c)
        .await)?;
    let post_ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let comments = on_raw!(&mut *raw, c => comments::table
        .filter(comments::post_id.eq_any(&post_ids))
        .select(DieselComment::as_select())
        .load::<DieselComment>(c)
        .await)?;
    let mut by_post: HashMap<i64, Vec<DieselComment>> = HashMap::new();
    for comment in comments {
        by_post.entry(comment.post_id).or_default().push(comment);
    }
    let mut by_user: HashMap<i64, Vec<(DieselPost, Vec<DieselComment>)>> = HashMap::new();
    for post in posts {
        let comments = by_post.remove(&post.id).unwrap_or_default();
        by_user.entry(post.user_id).or_default().push((post, comments));
    }
    let tree: Vec<Tree<DieselUser, DieselPost, DieselComment>> = users
        .into_iter()
        .map(|u| {
            let posts = by_user.remove(&u.id).unwrap_or_default();
            (u, posts)
        })
        .collect();
    Ok(nested_count(&tree))
}

async fn raw_insert(raw: &mut RawAsync) -> QueryResult<usize> {
    use schema::fresh_users::dsl::*;
    let rows: Vec<DieselNewUser> = (0..ROWS as usize).map(|k| FreshUser::numbered(k).into()).collect();
    let count = rows.len();
    match raw {
        RawAsync::Postgres(c) => {
            c.batch_execute("BEGIN").await?;
            for chunk in rows.chunks(CHUNK) {
                diesel::insert_into(fresh_users).values(chunk).execute(c).await?;
            }
            c.batch_execute("COMMIT").await?;
        }
        RawAsync::Mysql(c) => {
            c.batch_execute("BEGIN").await?;
            for chunk in rows.chunks(CHUNK) {
                diesel::insert_into(fresh_users).values(chunk).execute(c).await?;
            }
            c.batch_execute("COMMIT").await?;
        }
        // diesel's multi-row insert on SQLite is an impl for the sync
        // connection only: diesel-async's way is to run it on the wrapped
        // connection, on the blocking thread.
        RawAsync::Sqlite(c) => {
            c.spawn_blocking(move |c| {
                use diesel::connection::Connection as _;
                c.transaction(|c| {
                    for chunk in rows.chunks(CHUNK) {
                        diesel::RunQueryDsl::execute(diesel::insert_into(fresh_users).values(chunk), c)?;
                    }
                    Ok(())
                })
            })
            .await?;
        }
    }
    Ok(count)
}

async fn ours_load(conn: &mut AsyncPooledConnection, n: u64) -> Result<usize, OrmError> {
    let query = select(User::ALL).from(User::TABLE).order_by(User::ID.asc()).limit(n);
    let rows: Vec<User> = exec::fetch(conn, &query).await?;
    Ok(rows.len())
}

async fn ours_insert(conn: &mut AsyncPooledConnection) -> Result<usize, OrmError> {
    let rows: Vec<FreshUser> = (0..ROWS as usize).map(FreshUser::numbered).collect();
    transaction::begin(conn, &Default::default()).await?;
    for chunk in rows.chunks(CHUNK) {
        exec::execute(conn, &insert_into(FreshUser::TABLE).models(chunk)).await?;
    }
    transaction::commit(conn).await?;
    Ok(rows.len())
}

/// `load_100` through the async session: one statement.
async fn session_load(s: &mut AsyncSession, n: u64) -> Result<usize, OrmError> {
    let users = s.query::<User>(|q| q.order_by(User::ID.asc()).limit(n)).await?;
    Ok(users.len())
}

/// Issue 12's nested loading through the async session: one statement per level.
async fn session_nested(s: &mut AsyncSession) -> Result<usize, OrmError> {
    let option = selectin(TreeUser::POSTS).then(selectin(TreePost::COMMENTS));
    let users =
        s.query::<TreeUser>(|q| q.order_by(TreeUser::ID.asc()).limit(COMMENTED_USERS as u64).options(option)).await?;
    session_tree(s, &users, |p| p.comments.get().map(<[TreeComment]>::len))
}

/// Best wall and client-CPU time of the rounds, and the statements of one iteration.
#[derive(Default, Clone, Copy)]
struct Best {
    wall: Option<Duration>,
    cpu: Option<Duration>,
    statements: Option<usize>,
}

impl Best {
    fn keep(&mut self, wall: Duration, cpu: Option<Duration>, statements: usize) {
        self.statements = Some(statements);
        self.wall = Some(self.wall.map_or(wall, |w| w.min(wall)));
        self.cpu = match (self.cpu, cpu) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

const WORKLOADS: [(&str, usize); 6] = [
    ("load_1", 1000),
    ("load_100", 200),
    ("load_10000", 5),
    ("insert_10000", 1),
    ("session_load_100", 200),
    ("session_nested_100x10x10", 10),
];

/// Both variants' connections (and the session pool) for one run.
struct Conns {
    raw: RawAsync,
    raw_statements: Arc<AtomicUsize>,
    core: AsyncPooledConnection,
    sessions: AsyncPool,
}

impl Conns {
    /// Statements sent so far by `variant`'s connection (0: raw, 1: ours).
    async fn statements(&self, variant: usize, workload: &str) -> usize {
        match variant {
            0 => AtomicUsize::load(&self.raw_statements, Ordering::Relaxed),
            _ if workload.starts_with("session") => self.sessions.get().await.map_or(0, |c| c.statement_count()),
            _ => self.core.statement_count(),
        }
    }

    /// One iteration of `workload` by `variant`; the rows (objects) it read or wrote.
    async fn run(&mut self, variant: usize, workload: &str) -> usize {
        match (variant, workload) {
            (0, "insert_10000") => raw_insert(&mut self.raw).await.unwrap(),
            (0, "session_nested_100x10x10") => raw_nested(&mut self.raw).await.unwrap(),
            (0, _) => raw_load(&mut self.raw, limit(workload) as i64).await.unwrap(),
            (_, "insert_10000") => ours_insert(&mut self.core).await.unwrap(),
            (_, "session_load_100") => session_load(&mut self.sessions.session(), 100).await.unwrap(),
            (_, "session_nested_100x10x10") => session_nested(&mut self.sessions.session()).await.unwrap(),
            (_, _) => ours_load(&mut self.core, limit(workload)).await.unwrap(),
        }
    }
}

/// Runs the async workloads on `db` (seeded by orm.rs) and prints their table.
pub fn run(db: &TestDb, name: &str, rounds: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let raw_statements = Arc::new(AtomicUsize::new(0));
        let raw = RawAsync::open(db, &raw_statements).await;
        let options = || PoolOptions { max_size: 1, health_check: false, idle_timeout: None, ..PoolOptions::default() };
        let (pool, sessions) =
            match (AsyncPool::open(&db.url, options()).await, AsyncPool::open(&db.url, options()).await) {
                (Ok(pool), Ok(sessions)) => (pool, sessions),
                (Err(e), _) | (_, Err(e)) => return println!("\n{name} async: failed: {e}"),
            };
        let core = pool.get().await.unwrap();
        let mut conns = Conns { raw, raw_statements, core, sessions };
        let mut best = [[Best::default(); 2]; WORKLOADS.len()];
        for round in 0..rounds {
            for (w, (workload, iterations)) in WORKLOADS.iter().enumerate() {
                for k in 0..2 {
                    let variant = (k + round) % 2;
                    if workload.starts_with("insert") {
                        on_raw!(&mut conns.raw, c => c.batch_execute("DELETE FROM fresh_users").await).unwrap();
                    }
                    let before = conns.statements(variant, workload).await;
                    let (cpu, started) = (thread_cpu(), Instant::now());
                    for _ in 0..*iterations {
                        std::hint::black_box(conns.run(variant, workload).await);
                    }
                    let wall = started.elapsed();
                    let cpu = thread_cpu().zip(cpu).map(|(after, before)| after.saturating_sub(before));
                    let statements = conns.statements(variant, workload).await.saturating_sub(before);
                    best[w][variant].keep(wall, cpu, statements / iterations);
                }
            }
        }
        println!(
            "\n{:<25}{:>5} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}  statements d/ours",
            format!("{name} async"),
            "iter",
            "diesel-async",
            "ours",
            "ours/d",
            "d cpu",
            "ours cpu",
            "cpu o/d"
        );
        for ((workload, n), [d, ours]) in WORKLOADS.iter().zip(best) {
            let shown = |t: Option<Duration>| t.map_or("-".into(), |t| per_iteration(t, *n));
            let count = |b: Best| b.statements.map_or("-".into(), |s| s.to_string());
            println!(
                "{:<25}{:>5} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}  {}/{}",
                workload,
                n,
                shown(d.wall),
                shown(ours.wall),
                ratio(ours.wall, d.wall),
                shown(d.cpu),
                shown(ours.cpu),
                ratio(ours.cpu, d.cpu),
                count(d),
                count(ours)
            );
        }
    });
}

/// The row count of a `load_N` workload.
fn limit(workload: &str) -> u64 {
    workload.rsplit('_').next().and_then(|n| n.parse().ok()).unwrap_or(1)
}
