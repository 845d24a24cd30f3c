//! A connection pool (r2d2) over [`Connection`]: a maximum size, a timeout
//! for getting a connection, a health check of the connections that were
//! idle or saw a failure, and connections handed back with a transaction
//! still open rolled back, or discarded when broken.

use super::echo::Echo;
use super::error::{Error, StatementKind};
use super::hooks::Listeners;
use super::transaction::Transaction;
use crate::db::{Connection, DatabaseUrl, DbError, OpenMode, StatementObserver};
use crate::dialect::query::Template;
use crate::dialect::{self, Dialect, TransactionOptions};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a pool is sized and checked.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The most connections open at once (default 10).
    pub max_size: u32,
    /// Connections kept open while idle (default 0: opened on demand).
    pub min_idle: u32,
    /// How long getting a connection waits for one to be free (default 30 s)
    /// before failing with [`Error::PoolTimeout`].
    pub connection_timeout: Duration,
    /// How long an idle connection stays open (default 10 minutes).
    pub idle_timeout: Option<Duration>,
    /// Pings a connection as it is handed out, replacing a dead one (default
    /// on), unless it was given back less than [`PoolOptions::health_check_idle`]
    /// ago with no failed statement since its last check.
    pub health_check: bool,
    /// How long a connection may sit idle and still be handed out without
    /// the ping (default 500 ms, HikariCP's `aliveBypassWindow`): one in
    /// steady use costs no round trip. A connection on which a statement
    /// failed is pinged at its next checkout whatever its idle time. Zero:
    /// ping at every checkout.
    pub health_check_idle: Duration,
    /// Echo of every statement the pool's sessions send (default none).
    pub echo: Option<Echo>,
    /// Listeners every session of the pool starts with (default none).
    pub events: Listeners,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 10,
            min_idle: 0,
            connection_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(600)),
            health_check: true,
            health_check_idle: Duration::from_millis(500),
            echo: None,
            events: Listeners::new(),
        }
    }
}

/// A pool of connections to one database. Cheap to clone; share it between
/// threads.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    dialect: Arc<dyn Dialect>,
    echo: Option<Echo>,
    events: Listeners,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.state();
        f.debug_struct("Pool")
            .field("dialect", &self.dialect.name())
            .field("connections", &state.connections)
            .field("idle", &state.idle_connections)
            .finish()
    }
}

impl Pool {
    /// A pool for the database at `url`. Opens one connection first, so that
    /// a wrong URL or an unreachable server is reported at once, typed.
    pub fn open(url: &str, options: PoolOptions) -> Result<Pool, Error> {
        let url = DatabaseUrl::parse(url).map_err(Error::Connect)?;
        let dialect: Arc<dyn Dialect> = Arc::from(dialect::for_backend(url.backend()));
        let observer = options.echo.as_ref().map(|echo| echo.observer(dialect::of(url.backend())));
        let manager = Manager {
            url,
            dialect: Arc::clone(&dialect),
            observer,
            health_check_idle: options.health_check_idle,
            ping: Template::without_parameters(dialect.ping()),
        };
        r2d2::ManageConnection::connect(&manager)
            .map_err(|e| Error::from_db(&*dialect, StatementKind::Raw, None, e))?;
        let inner = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(options.min_idle))
            .connection_timeout(options.connection_timeout)
            .idle_timeout(options.idle_timeout)
            .test_on_check_out(options.health_check)
            .build_unchecked(manager);
        Ok(Pool { inner, dialect, echo: options.echo, events: options.events })
    }

    /// A connection, waiting up to the pool's timeout for one to be free.
    pub fn get(&self) -> Result<PooledConnection, Error> {
        let waited = self.inner.connection_timeout();
        let conn = self.inner.get().map_err(|e| Error::PoolTimeout {
            size: self.inner.max_size(),
            waited,
            last_error: e.to_string().split_once(": ").map(|(_, last)| last.to_string()),
        })?;
        Ok(PooledConnection { conn, dialect: Arc::clone(&self.dialect) })
    }

    /// The dialect of the pool's database.
    pub fn dialect(&self) -> &dyn Dialect {
        &*self.dialect
    }

    /// The echo the pool's sessions use.
    pub fn echo(&self) -> Option<&Echo> {
        self.echo.as_ref()
    }

    /// The listeners each of the pool's sessions starts with.
    pub fn events(&self) -> &Listeners {
        &self.events
    }

    /// How many connections are open, and how many of them idle.
    pub fn state(&self) -> PoolState {
        let state = self.inner.state();
        PoolState { connections: state.connections, idle: state.idle_connections }
    }
}

/// A snapshot of a pool's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open.
    pub connections: u32,
    /// Of those, how many are waiting to be handed out.
    pub idle: u32,
}

/// A connection borrowed from a pool, given back when dropped (rolled back
/// first if a transaction is still open). Dereferences to [`Connection`].
pub struct PooledConnection {
    conn: r2d2::PooledConnection<Manager>,
    dialect: Arc<dyn Dialect>,
}

impl PooledConnection {
    /// Opens a transaction on this connection.
    pub fn transaction(&mut self, options: &TransactionOptions) -> Result<Transaction<'_>, Error> {
        Transaction::begin(&mut self.conn.conn, &*self.dialect, options)
    }

    /// The dialect of this connection's database.
    pub fn dialect(&self) -> &dyn Dialect {
        &*self.dialect
    }
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn.conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn.conn
    }
}

/// Opens, checks and takes back connections for r2d2.
struct Manager {
    url: DatabaseUrl,
    dialect: Arc<dyn Dialect>,
    observer: Option<StatementObserver>,
    health_check_idle: Duration,
    /// The dialect's ping, kept to be run as a prepared statement.
    ping: Template,
}

/// A connection of the pool, with what the pool knows of its health.
struct Kept {
    conn: Connection,
    health: Health,
}

/// What a pool (this one or the async one) knows of a connection's health
/// between checkouts: its health check pings only a connection that was
/// not in steady use.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Health {
    /// When it was last given back (`None`: never).
    returned: Option<Instant>,
    /// Its failed statements at its last checkout.
    failures: usize,
}

impl Health {
    /// At checkout, with the connection's count of failed statements so
    /// far: whether to ping it. Not for one given back less than `idle` ago
    /// with no failed statement since its last checkout (a failure may have
    /// been the connection dying: it is pinged however soon).
    pub(crate) fn checked_out(&mut self, failures: usize, idle: Duration) -> bool {
        let failed = std::mem::replace(&mut self.failures, failures) != failures;
        failed || self.returned.is_none_or(|at| at.elapsed() >= idle)
    }

    /// When it is given back.
    pub(crate) fn given_back(&mut self) {
        self.returned = Some(Instant::now());
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Kept;
    type Error = DbError;

    fn connect(&self) -> Result<Kept, DbError> {
        let mut conn = Connection::open(&self.url, OpenMode::ReadWrite)?;
        for sql in self.dialect.pool_connection_setup() {
            conn.execute(&sql)?;
        }
        conn.set_observer(self.observer.clone());
        let health = Health { returned: None, failures: conn.failed_statement_count() };
        Ok(Kept { conn, health })
    }

    fn is_valid(&self, kept: &mut Kept) -> Result<(), DbError> {
        if kept.health.checked_out(kept.conn.failed_statement_count(), self.health_check_idle) {
            super::exec::ping(&mut kept.conn, &self.ping)?;
        }
        Ok(())
    }

    fn has_broken(&self, kept: &mut Kept) -> bool {
        let conn = &mut kept.conn;
        let state = conn.transaction_state();
        // What a user left open is rolled back before anyone else gets the
        // connection; if that fails, nobody does.
        let broken = state.broken
            || (state.depth > 0 && conn.control_transaction(&[self.dialect.rollback().into()], 0).is_err());
        kept.health.given_back();
        broken
    }
}
