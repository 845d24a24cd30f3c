//! One async connection type over diesel-async's three backends: tokio-postgres
//! for PostgreSQL, mysql_async for MariaDB/MySQL, and SQLite's sync connection
//! run on tokio's blocking threads (`SyncConnectionWrapper`).

use crate::db::{
    Backend, DatabaseUrl, DbError, StatementObserver, TransactionState, connect_error, driver_error, instrumentation,
};
use crate::dialect::query::{Bound, DecodeError, Template};
use crate::orm::pool::Health;
use crate::orm::relation::JoinPlan;
use crate::orm::value::{Fields, FromRow, OrmBackend};
use diesel::query_builder::QueryFragment;
use diesel_async::{AsyncConnection as _, AsyncConnectionCore, SimpleAsyncConnection as _};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// SQLite's connection, each statement run on a blocking thread.
#[cfg(feature = "sqlite")]
type AsyncSqliteConnection =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::sqlite::SqliteConnection>;

// Boxed whole in `AsyncConnection` (PostgreSQL's variant takes over 400
// bytes), since a pool moves its connections in and out of its queue at
// every checkout: the variants' sizes differ harmlessly.
#[allow(clippy::large_enum_variant)]
enum Inner {
    #[cfg(feature = "postgres")]
    Postgres(diesel_async::AsyncPgConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel_async::AsyncMysqlConnection),
    #[cfg(feature = "sqlite")]
    Sqlite(AsyncSqliteConnection),
}

/// Runs `$body` with `$c` bound to the diesel-async connection inside
/// `$inner`, whichever backend it is.
macro_rules! on_inner {
    ($inner:expr, $c:ident => $body:expr) => {
        match $inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            Inner::Mysql($c) => $body,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite($c) => $body,
        }
    };
}

/// Why a statement failed inside diesel-async.
pub(crate) enum Failure {
    /// The driver or the server refused it.
    Driver(diesel::result::Error),
    /// A row did not decode.
    Decode(DecodeError),
}

/// An open async connection to one of the backends, the async twin of
/// [`crate::db::Connection`]: it counts the statements it sends, echoes
/// them through the same observer, and records the transactions opened on it
/// through [`AsyncConnection::control_transaction`] so that a pool can roll
/// back or discard what a user left open.
///
/// A statement whose future is dropped before it finished (a timeout, a
/// cancelled request) leaves the connection [interrupted](Self::interrupted):
/// whether the server ran it is unknown, so the pool never hands it out again.
pub struct AsyncConnection {
    inner: Box<Inner>,
    url: DatabaseUrl,
    statements: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    server_version: Option<String>,
    transaction: TransactionState,
    in_flight: bool,
    /// What its pool knows of its health between checkouts.
    health: Health,
}

impl std::fmt::Debug for AsyncConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncConnection")
            .field("url", &self.url.to_string())
            .field("transaction", &self.transaction)
            .field("interrupted", &self.in_flight)
            .finish()
    }
}

/// Marks a connection busy while a statement is awaited; a future dropped
/// mid-statement leaves the mark.
macro_rules! in_flight {
    ($self:ident, $work:expr) => {{
        $self.in_flight = true;
        let result = $work;
        $self.in_flight = false;
        result
    }};
}

impl AsyncConnection {
    /// Connects to `url` (an SQLite file is created if missing).
    pub async fn open(url: &DatabaseUrl) -> Result<Self, DbError> {
        let driver_url = url.driver_url();
        let inner = match url.backend() {
            #[cfg(feature = "postgres")]
            Backend::Postgres => Inner::Postgres(
                diesel_async::AsyncPgConnection::establish(driver_url).await.map_err(|e| connect_error(url, e))?,
            ),
            #[cfg(feature = "mysql")]
            Backend::Mysql => Inner::Mysql(
                diesel_async::AsyncMysqlConnection::establish(driver_url).await.map_err(|e| connect_error(url, e))?,
            ),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                Inner::Sqlite(AsyncSqliteConnection::establish(driver_url).await.map_err(|e| connect_error(url, e))?)
            }
            #[allow(unreachable_patterns)] // with every backend built in
            backend => {
                let _ = driver_url;
                return Err(DbError::NotBuilt { url: url.to_string(), feature: backend.feature() });
            }
        };
        let mut conn = AsyncConnection {
            inner: Box::new(inner),
            url: url.clone(),
            statements: Arc::new(AtomicUsize::new(0)),
            failures: Arc::new(AtomicUsize::new(0)),
            server_version: None,
            transaction: TransactionState::default(),
            in_flight: false,
            health: Health::default(),
        };
        conn.set_observer(None);
        Ok(conn)
    }

    /// The URL this connection was opened with.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The backend of this connection.
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// How many statements this connection has sent so far.
    pub fn statement_count(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }

    /// Calls `observer` after each statement this connection runs (`None`:
    /// stop). Statements are counted either way.
    pub fn set_observer(&mut self, observer: Option<StatementObserver>) {
        let instrument = instrumentation(Arc::clone(&self.statements), Arc::clone(&self.failures), observer);
        on_inner!(&mut *self.inner, c => c.set_instrumentation(instrument))
    }

    /// At a pool's checkout: whether its health check pings it (see
    /// [`Health::checked_out`]).
    pub(super) fn needs_ping(&mut self, idle: std::time::Duration) -> bool {
        self.health.checked_out(self.failures.load(Ordering::Relaxed), idle)
    }

    /// Given back to its pool.
    pub(super) fn given_back(&mut self) {
        self.health.given_back();
    }

    /// The transaction nesting and health recorded so far.
    pub fn transaction_state(&self) -> TransactionState {
        self.transaction
    }

    /// Whether a statement's future was dropped before it finished, so that
    /// what the server did with it (and the transaction around it) is unknown.
    pub fn interrupted(&self) -> bool {
        self.in_flight
    }

    /// Runs transaction-control `statements` (from the dialect) that take the
    /// nesting to `depth`. If one fails the connection is marked broken; once
    /// one succeeds at depth 0 (a rollback), the state is known again.
    pub async fn control_transaction(&mut self, statements: &[String], depth: u32) -> Result<(), DbError> {
        for sql in statements {
            if let Err(e) = self.batch_execute(sql).await {
                self.transaction.broken = true;
                return Err(e);
            }
        }
        self.transaction = TransactionState { depth, broken: self.transaction.broken && depth > 0 };
        Ok(())
    }

    /// Runs one or more statements that return no rows (not prepared).
    // The drivers' futures are boxed here and in `load` and `run`: they take
    // kilobytes (the largest of three drivers'), which every future that
    // awaits a statement would otherwise hold inline and copy as it moves.
    pub async fn batch_execute(&mut self, sql: &str) -> Result<(), DbError> {
        let result = in_flight!(self, on_inner!(&mut *self.inner, c => Box::pin(c.batch_execute(sql)).await));
        result.map_err(|e| driver_error(&self.url, e, sql))
    }

    /// Runs `ping` (a statement without parameters) as a cached prepared
    /// statement, as diesel-async's own pool check does: the server parses
    /// and plans it once per connection, not at every checkout.
    pub(super) async fn ping(&mut self, ping: &Template) -> Result<(), DbError> {
        match self.run(Bound { template: ping, binds: &[] }).await {
            Ok(_) => Ok(()),
            Err(e) => Err(driver_error(&self.url, e, &ping.sql)),
        }
    }

    /// The server's version text, asked once with `query` (one row, one
    /// text column) and remembered for this connection.
    pub async fn server_version(&mut self, query: &str) -> Result<&str, DbError> {
        if self.server_version.is_none() {
            let template = Template::without_parameters(query);
            let rows: Vec<(Option<String>,)> = match self.load(Bound { template: &template, binds: &[] }, &[]).await {
                Ok(rows) => rows,
                Err(Failure::Driver(e)) => return Err(driver_error(&self.url, e, query)),
                Err(Failure::Decode(e)) => {
                    return Err(DbError::Query { message: e.to_string(), sql: query.to_string(), server: None });
                }
            };
            self.server_version = Some(rows.into_iter().next().and_then(|r| r.0).unwrap_or_default());
        }
        Ok(self.server_version.as_deref().unwrap_or_default())
    }

    /// Runs `bound` as a cached prepared statement and decodes each row by
    /// position into `R` (and the `joined` relationships' columns after it).
    pub(crate) async fn load<R: FromRow>(
        &mut self,
        bound: Bound<'_, '_>,
        joined: &[JoinPlan],
    ) -> Result<Vec<R>, Failure> {
        in_flight!(self, on_inner!(&mut *self.inner, c => Box::pin(load_rows(c, bound, joined)).await))
    }

    /// Runs `bound` as a cached prepared statement that returns no rows; the
    /// number of rows it touched.
    pub(crate) async fn run(&mut self, bound: Bound<'_, '_>) -> Result<usize, diesel::result::Error> {
        in_flight!(self, on_inner!(&mut *self.inner, c => Box::pin(c.execute_returning_count(bound)).await))
    }

    /// The error for `error`, a driver failure running `sql`: the password
    /// scrubbed, the server's fields kept for the dialect to classify.
    pub(crate) fn driver_error(&self, error: diesel::result::Error, sql: &str) -> DbError {
        driver_error(&self.url, error, sql)
    }
}

async fn load_rows<C, R>(conn: &mut C, bound: Bound<'_, '_>, joined: &[JoinPlan]) -> Result<Vec<R>, Failure>
where
    C: AsyncConnectionCore,
    C::Backend: OrmBackend,
    for<'a, 'b> Bound<'a, 'b>: QueryFragment<C::Backend>,
    R: FromRow,
{
    let mut rows = std::pin::pin!(conn.load(bound).await.map_err(Failure::Driver)?);
    let mut out = Vec::new();
    let mut column_types = Vec::new();
    while let Some(row) = rows.next().await {
        let row = row.map_err(Failure::Driver)?;
        let mut fields = Fields::<_, C::Backend>::new(&row, &mut column_types);
        out.push(R::from_row_joined(&mut fields, joined).map_err(Failure::Decode)?);
    }
    Ok(out)
}
