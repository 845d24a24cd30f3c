//! The async pool (deadpool) over [`AsyncConnection`], with the sync pool's
//! [`PoolOptions`]: a maximum size, a timeout for getting a connection, a
//! health check, an echo. A connection whose transaction is still open, or
//! broken, or whose statement's future was dropped mid-way, is never handed
//! out again: it is discarded when given back (closing it ends its
//! transaction on the server), and checked again before each checkout.

use super::connection::AsyncConnection;
use crate::db::{DatabaseUrl, DbError, StatementObserver};
use crate::dialect::query::Template;
use crate::dialect::{self, Dialect};
use crate::orm::echo::Echo;
use crate::orm::error::{Error, StatementKind};
use crate::orm::hooks::Listeners;
use crate::orm::pool::{PoolOptions, PoolState};
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

/// A pool of async connections to one database: the async twin of
/// [`crate::orm::Pool`], built from the same [`PoolOptions`]. Cheap to
/// clone; share it between tasks (it is `Clone + Send + Sync`).
#[derive(Clone)]
pub struct AsyncPool {
    inner: managed::Pool<Manager>,
    dialect: &'static dyn Dialect,
    /// Shared: every session holds a clone of its pool.
    url: Arc<DatabaseUrl>,
    echo: Option<Echo>,
    events: Listeners,
    timeout: Duration,
}

impl std::fmt::Debug for AsyncPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("AsyncPool")
            .field("dialect", &self.dialect.name())
            .field("connections", &state.connections)
            .field("idle", &state.idle)
            .finish()
    }
}

impl AsyncPool {
    /// A pool for the database at `url`. Opens one connection first (and up
    /// to `min_idle`), so that a wrong URL or an unreachable server is
    /// reported at once, typed. Must run inside a tokio runtime.
    ///
    /// `idle_timeout` is applied at checkout: a connection idle for longer
    /// is closed and replaced rather than handed out.
    pub async fn open(url: &str, options: PoolOptions) -> Result<AsyncPool, Error> {
        let url = DatabaseUrl::parse(url).map_err(Error::Connect)?;
        let dialect = dialect::of(url.backend());
        let observer = options.echo.as_ref().map(|echo| echo.observer(dialect));
        let manager = Manager {
            url: url.clone(),
            dialect,
            observer,
            health_check: options.health_check,
            health_check_idle: options.health_check_idle,
            ping: Template::without_parameters(dialect.ping()),
            idle_timeout: options.idle_timeout,
        };
        let inner = managed::Pool::builder(manager)
            .max_size(options.max_size.max(1) as usize)
            .wait_timeout(Some(options.connection_timeout))
            .create_timeout(Some(options.connection_timeout))
            .recycle_timeout(Some(options.connection_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Connect(DbError::Connect { url: url.to_string(), message: e.to_string() }))?;
        let pool = AsyncPool {
            inner,
            dialect,
            url: Arc::new(url),
            echo: options.echo,
            events: options.events,
            timeout: options.connection_timeout,
        };
        // Open the first connections (at least one) and give them back.
        let mut opened = Vec::new();
        for _ in 0..options.min_idle.clamp(1, options.max_size.max(1)) {
            opened.push(pool.get().await?);
        }
        drop(opened);
        Ok(pool)
    }

    /// A connection, waiting up to the pool's timeout for one to be free.
    pub async fn get(&self) -> Result<AsyncPooledConnection, Error> {
        // Boxed: deadpool's checkout future (its timeouts, the health check)
        // takes kilobytes that a session's futures would hold inline.
        match Box::pin(self.inner.get()).await {
            Ok(conn) => Ok(AsyncPooledConnection { conn: Some(conn) }),
            Err(managed::PoolError::Backend(e)) => Err(Error::from_db(self.dialect, StatementKind::Raw, None, e)),
            Err(e) => Err(Error::PoolTimeout {
                size: self.inner.status().max_size as u32,
                waited: self.timeout,
                last_error: match e {
                    managed::PoolError::Timeout(_) => None,
                    other => Some(other.to_string()),
                },
            }),
        }
    }

    /// The dialect of the pool's database.
    pub fn dialect(&self) -> &'static dyn Dialect {
        self.dialect
    }

    /// The URL of the pool's database.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The echo the pool's connections use.
    pub fn echo(&self) -> Option<&Echo> {
        self.echo.as_ref()
    }

    /// The session listeners every session of this pool starts with
    /// ([`PoolOptions::events`]).
    pub fn events(&self) -> &Listeners {
        &self.events
    }

    /// How many connections are open, and how many of them idle.
    pub fn state(&self) -> PoolState {
        let status = self.inner.status();
        PoolState { connections: status.size as u32, idle: status.available as u32 }
    }
}

/// A connection borrowed from an [`AsyncPool`], given back when dropped:
/// kept for the next user only if it is outside any transaction, not broken
/// and not interrupted mid-statement; otherwise closed, which ends whatever
/// transaction it had on the server. Dereferences to [`AsyncConnection`].
pub struct AsyncPooledConnection {
    conn: Option<managed::Object<Manager>>,
}

impl std::fmt::Debug for AsyncPooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AsyncPooledConnection").field(&self.conn.as_deref()).finish()
    }
}

impl Deref for AsyncPooledConnection {
    type Target = AsyncConnection;
    fn deref(&self) -> &AsyncConnection {
        // Only `Drop` takes the object out.
        self.conn.as_ref().expect("a pooled connection holds its connection until dropped")
    }
}

impl DerefMut for AsyncPooledConnection {
    fn deref_mut(&mut self) -> &mut AsyncConnection {
        self.conn.as_mut().expect("a pooled connection holds its connection until dropped")
    }
}

impl Drop for AsyncPooledConnection {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if !reusable(&conn) {
                // Detached from the pool and dropped: the socket (or SQLite
                // handle) closes, and the server rolls back what was open.
                drop(managed::Object::take(conn));
            } else {
                conn.given_back();
            }
        }
    }
}

/// Whether `conn` can go to the next user as it is.
fn reusable(conn: &AsyncConnection) -> bool {
    let state = conn.transaction_state();
    !conn.interrupted() && !state.broken && state.depth == 0
}

/// Opens, checks and takes back connections for deadpool.
struct Manager {
    url: DatabaseUrl,
    dialect: &'static dyn Dialect,
    observer: Option<StatementObserver>,
    health_check: bool,
    health_check_idle: Duration,
    /// The dialect's ping, kept to be run as a prepared statement.
    ping: Template,
    idle_timeout: Option<Duration>,
}

impl managed::Manager for Manager {
    type Type = AsyncConnection;
    type Error = DbError;

    async fn create(&self) -> Result<AsyncConnection, DbError> {
        // Boxed: the drivers' connect futures take kilobytes, which every
        // future that checks out a connection (a session's query, commit)
        // would otherwise hold inline and copy as it is moved.
        Box::pin(async {
            let mut conn = AsyncConnection::open(&self.url).await?;
            for sql in self.dialect.pool_connection_setup() {
                conn.batch_execute(&sql).await?;
            }
            conn.set_observer(self.observer.clone());
            Ok(conn)
        })
        .await
    }

    async fn recycle(&self, conn: &mut AsyncConnection, metrics: &Metrics) -> RecycleResult<DbError> {
        // Given back dirty connections are discarded on drop; this is the
        // second line, for a connection that reached the pool anyway.
        if !reusable(conn) {
            return Err(RecycleError::message("the connection was left in a transaction or mid-statement"));
        }
        if self.idle_timeout.is_some_and(|idle| metrics.last_used() > idle) {
            return Err(RecycleError::message("the connection was idle for longer than the idle timeout"));
        }
        if self.health_check && conn.needs_ping(self.health_check_idle) {
            conn.ping(&self.ping).await.map_err(RecycleError::Backend)?;
        }
        Ok(())
    }
}
