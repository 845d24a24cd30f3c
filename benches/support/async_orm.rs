//! The async variants (issue 13): raw diesel-async (the typed `table!`
//! schema of orm.rs) against our async Core (`migrate::orm::asynchronous`)
//! on the same seeded database, in the same run, rounds interleaved, best
//! round kept. Both on one connection, awaited on a current-thread tokio
//! runtime (on SQLite, diesel-async runs each statement on a blocking thread
//! for both variants).

use super::{CHUNK, DieselNewUser, DieselUser, FreshUser, ROWS, User, per_iteration, ratio, schema, thread_cpu};
use crate::common::TestDb;
use diesel::sqlite::SqliteConnection;
use diesel::{QueryDsl as _, QueryResult, SelectableHelper as _};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection as _, RunQueryDsl as _, SimpleAsyncConnection as _};
use migrate::db::{Backend, DatabaseUrl};
use migrate::orm::PoolOptions;
use migrate::orm::asynchronous::{AsyncPool, AsyncPooledConnection, exec, transaction};
use migrate::orm::prelude::*;
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
    async fn open(db: &TestDb) -> RawAsync {
        match db.backend() {
            Backend::Postgres => RawAsync::Postgres(diesel_async::AsyncPgConnection::establish(&db.url).await.unwrap()),
            Backend::Mysql => RawAsync::Mysql(diesel_async::AsyncMysqlConnection::establish(&db.url).await.unwrap()),
            Backend::Sqlite => {
                let url = DatabaseUrl::parse(&db.url).unwrap();
                let path = url.sqlite_path().unwrap().to_string();
                RawAsync::Sqlite(SyncConnectionWrapper::establish(&path).await.unwrap())
            }
        }
    }
}

async fn raw_load(raw: &mut RawAsync, n: i64) -> QueryResult<usize> {
    use schema::users::dsl::*;
    let rows = on_raw!(raw, c => users.select(DieselUser::as_select()).order(id).limit(n).load::<DieselUser>(c).await)?;
    Ok(rows.len())
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

/// Best wall and client-CPU time of the rounds.
#[derive(Default, Clone, Copy)]
struct Best {
    wall: Option<Duration>,
    cpu: Option<Duration>,
}

impl Best {
    fn keep(&mut self, wall: Duration, cpu: Option<Duration>) {
        self.wall = Some(self.wall.map_or(wall, |w| w.min(wall)));
        self.cpu = match (self.cpu, cpu) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

const WORKLOADS: [(&str, usize); 4] = [("load_1", 1000), ("load_100", 200), ("load_10000", 5), ("insert_10000", 1)];

/// Runs the async workloads on `db` (seeded by orm.rs) and prints their table.
pub fn run(db: &TestDb, name: &str, rounds: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut raw = RawAsync::open(db).await;
        let options = PoolOptions { max_size: 1, health_check: false, idle_timeout: None, ..PoolOptions::default() };
        let pool = match AsyncPool::open(&db.url, options).await {
            Ok(pool) => pool,
            Err(e) => return println!("\n{name} async: failed: {e}"),
        };
        let mut conn = pool.get().await.unwrap();
        let mut best = [[Best::default(); 2]; WORKLOADS.len()];
        for round in 0..rounds {
            for (w, (workload, iterations)) in WORKLOADS.iter().enumerate() {
                for k in 0..2 {
                    let variant = (k + round) % 2;
                    if workload.starts_with("insert") {
                        on_raw!(&mut raw, c => c.batch_execute("DELETE FROM fresh_users").await).unwrap();
                    }
                    let (cpu, started) = (thread_cpu(), Instant::now());
                    for _ in 0..*iterations {
                        let rows = match (variant, *workload) {
                            (0, "insert_10000") => raw_insert(&mut raw).await.unwrap(),
                            (0, _) => raw_load(&mut raw, limit(workload) as i64).await.unwrap(),
                            (_, "insert_10000") => ours_insert(&mut conn).await.unwrap(),
                            (_, _) => ours_load(&mut conn, limit(workload)).await.unwrap(),
                        };
                        std::hint::black_box(rows);
                    }
                    let wall = started.elapsed();
                    let cpu = thread_cpu().zip(cpu).map(|(after, before)| after.saturating_sub(before));
                    best[w][variant].keep(wall, cpu);
                }
            }
        }
        println!(
            "\n{:<17}{:>5} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}",
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
            println!(
                "{:<17}{:>5} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}",
                workload,
                n,
                shown(d.wall),
                shown(ours.wall),
                ratio(ours.wall, d.wall),
                shown(d.cpu),
                shown(ours.cpu),
                ratio(ours.cpu, d.cpu)
            );
        }
    });
}

/// The row count of a `load_N` workload.
fn limit(workload: &str) -> u64 {
    workload.rsplit('_').next().and_then(|n| n.parse().ok()).unwrap_or(1)
}
