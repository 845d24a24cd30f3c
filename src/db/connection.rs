//! One connection type over diesel's three backends.

use super::{Backend, DatabaseUrl, DbError, ServerError};
use diesel::QueryableByName;
use diesel::connection::{Connection as _, InstrumentationEvent, SimpleConnection};
#[cfg(feature = "mysql")]
use diesel::mysql::{Mysql, MysqlConnection};
#[cfg(feature = "postgres")]
use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::RunQueryDsl;
#[cfg(feature = "sqlite")]
use diesel::sqlite::{Sqlite, SqliteConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How a command intends to use the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Inspect only: a missing SQLite file is an error rather than created.
    ReadOnly,
    /// Create the SQLite file if needed.
    ReadWrite,
}

enum Inner {
    #[cfg(feature = "postgres")]
    Postgres(PgConnection),
    #[cfg(feature = "mysql")]
    Mysql(MysqlConnection),
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the diesel connection inside `$inner`,
/// whichever backend it is: one arm per backend this build has.
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

/// A row type [`Connection::load`] can read on every backend this build
/// has (`#[derive(diesel::QueryableByName)]` gives one).
pub trait LoadRow: PgRow + MysqlRow + SqliteRow + 'static {}
impl<T: PgRow + MysqlRow + SqliteRow + 'static> LoadRow for T {}

/// Readable on PostgreSQL, when this build has it.
#[cfg(feature = "postgres")]
pub trait PgRow: QueryableByName<Pg> {}
#[cfg(feature = "postgres")]
impl<T: QueryableByName<Pg>> PgRow for T {}
/// Readable on PostgreSQL, when this build has it.
#[cfg(not(feature = "postgres"))]
pub trait PgRow {}
#[cfg(not(feature = "postgres"))]
impl<T> PgRow for T {}

/// Readable on MariaDB/MySQL, when this build has it.
#[cfg(feature = "mysql")]
pub trait MysqlRow: QueryableByName<Mysql> {}
#[cfg(feature = "mysql")]
impl<T: QueryableByName<Mysql>> MysqlRow for T {}
/// Readable on MariaDB/MySQL, when this build has it.
#[cfg(not(feature = "mysql"))]
pub trait MysqlRow {}
#[cfg(not(feature = "mysql"))]
impl<T> MysqlRow for T {}

/// Readable on SQLite, when this build has it.
#[cfg(feature = "sqlite")]
pub trait SqliteRow: QueryableByName<Sqlite> {}
#[cfg(feature = "sqlite")]
impl<T: QueryableByName<Sqlite>> SqliteRow for T {}
/// Readable on SQLite, when this build has it.
#[cfg(not(feature = "sqlite"))]
pub trait SqliteRow {}
#[cfg(not(feature = "sqlite"))]
impl<T> SqliteRow for T {}

/// Work to do on whichever diesel connection a [`Connection`] holds: one
/// method per backend, so that callers stay generic and the choice of
/// connection type is made here only.
pub trait OnDiesel {
    /// What the work returns.
    type Output;
    /// Runs on PostgreSQL.
    #[cfg(feature = "postgres")]
    fn postgres(self, conn: &mut PgConnection) -> Self::Output;
    /// Runs on MySQL/MariaDB.
    #[cfg(feature = "mysql")]
    fn mysql(self, conn: &mut MysqlConnection) -> Self::Output;
    /// Runs on SQLite.
    #[cfg(feature = "sqlite")]
    fn sqlite(self, conn: &mut SqliteConnection) -> Self::Output;
}

/// An open connection to one of the backends. Counts the statements it sends,
/// so that tests and benchmarks can hold reflection to a constant number.
pub struct Connection {
    inner: Inner,
    url: DatabaseUrl,
    statements: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    server_version: Option<String>,
    transaction: TransactionState,
}

/// A statement a connection ran, as told to its observer.
pub struct StatementRecord<'a> {
    /// The SQL text, with placeholders.
    pub sql: &'a str,
    /// The bound values as the driver shows them (`[1, "ann"]`), if any.
    pub binds: Option<&'a str>,
    /// From sending it to having its result.
    pub duration: Duration,
    /// The driver's message, if it failed (may quote values).
    pub error: Option<&'a str>,
}

/// What [`Connection::set_observer`] takes: a function called after each
/// statement, and optionally one called as each starts (its record has no
/// duration and no error yet).
#[derive(Clone)]
pub struct StatementObserver {
    finished: ObserverFn,
    started: Option<ObserverFn>,
}

/// One function of a [`StatementObserver`].
type ObserverFn = Arc<dyn Fn(&StatementRecord<'_>) + Send + Sync>;

impl StatementObserver {
    /// Calls `finished` after each statement.
    pub fn new(finished: impl Fn(&StatementRecord<'_>) + Send + Sync + 'static) -> Self {
        StatementObserver { finished: Arc::new(finished), started: None }
    }

    /// Also calls `started` as each statement is sent.
    pub fn on_start(mut self, started: impl Fn(&StatementRecord<'_>) + Send + Sync + 'static) -> Self {
        self.started = Some(Arc::new(started));
        self
    }
}

/// diesel shows a prepared statement as `SQL -- binds: [...]`: the SQL and
/// the binds, if any.
fn split_binds(text: &str) -> (&str, Option<&str>) {
    let (sql, binds) = text.split_once(" -- binds: ").map_or((text, None), |(s, b)| (s, Some(b)));
    (sql, binds.filter(|b| *b != "[]"))
}

/// Where a connection stands in the transactions opened on it through
/// [`Connection::control_transaction`], so that a pool can roll back or
/// discard what a user left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransactionState {
    /// 0 outside a transaction, 1 in one, 2 and more in savepoints.
    pub depth: u32,
    /// A transaction-control statement failed, so whether the server applied
    /// it is unknown: the connection must not be reused.
    pub broken: bool,
}

impl Connection {
    /// Connects to `url`.
    pub fn open(url: &DatabaseUrl, mode: OpenMode) -> Result<Self, DbError> {
        let driver_url = url.driver_url();
        let connect_error = |e: diesel::ConnectionError| connect_error(url, e);
        let inner = match url.backend() {
            #[cfg(feature = "postgres")]
            Backend::Postgres => Inner::Postgres(PgConnection::establish(driver_url).map_err(connect_error)?),
            #[cfg(feature = "mysql")]
            Backend::Mysql => Inner::Mysql(MysqlConnection::establish(driver_url).map_err(connect_error)?),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let path = url.sqlite_path().expect("an sqlite URL always has a path");
                if mode == OpenMode::ReadOnly && path != ":memory:" && !std::path::Path::new(path).exists() {
                    return Err(DbError::MissingSqliteFile { path: path.to_string() });
                }
                Inner::Sqlite(SqliteConnection::establish(path).map_err(connect_error)?)
            }
            #[allow(unreachable_patterns)] // with every backend built in
            backend => {
                let _ = (driver_url, connect_error, mode);
                return Err(DbError::NotBuilt { url: url.to_string(), feature: backend.feature() });
            }
        };
        let mut conn = Connection {
            inner,
            url: url.clone(),
            statements: Arc::new(AtomicUsize::new(0)),
            failures: Arc::new(AtomicUsize::new(0)),
            server_version: None,
            transaction: TransactionState::default(),
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

    /// How many of its statements have failed so far (a pool checks a
    /// connection that saw a failure before handing it out again).
    pub fn failed_statement_count(&self) -> usize {
        self.failures.load(Ordering::Relaxed)
    }

    /// Calls `observer` after each statement this connection runs (`None`:
    /// stop). Statements are counted either way.
    pub fn set_observer(&mut self, observer: Option<StatementObserver>) {
        let instrument = instrumentation(Arc::clone(&self.statements), Arc::clone(&self.failures), observer);
        on_inner!(&mut self.inner, c => c.set_instrumentation(instrument))
    }

    /// The transaction nesting and health recorded so far.
    pub fn transaction_state(&self) -> TransactionState {
        self.transaction
    }

    /// Runs transaction-control `statements` (from the dialect) that take the
    /// nesting to `depth`. If one fails the connection is marked broken; once
    /// one succeeds at depth 0 (a rollback), the state is known again.
    pub fn control_transaction(&mut self, statements: &[String], depth: u32) -> Result<(), DbError> {
        for sql in statements {
            if let Err(e) = self.execute(sql) {
                self.transaction.broken = true;
                return Err(e);
            }
        }
        self.transaction = TransactionState { depth, broken: self.transaction.broken && depth > 0 };
        Ok(())
    }

    /// Runs `work` on the diesel connection inside.
    pub fn with_diesel<W: OnDiesel>(&mut self, work: W) -> W::Output {
        match &mut self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(c) => work.postgres(c),
            #[cfg(feature = "mysql")]
            Inner::Mysql(c) => work.mysql(c),
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(c) => work.sqlite(c),
        }
    }

    /// The server's version text, asked once with `query` (one row, one
    /// column named `value`) and remembered for this connection.
    pub fn server_version(&mut self, query: &str) -> Result<&str, DbError> {
        if self.server_version.is_none() {
            text_row!(VersionRow { value });
            let rows: Vec<VersionRow> = self.load(query)?;
            self.server_version = Some(rows.into_iter().next().and_then(|r| r.value).unwrap_or_default());
        }
        Ok(self.server_version.as_deref().unwrap_or_default())
    }

    /// Scrubs the password from a driver message about this connection.
    pub fn scrub(&self, message: &str) -> String {
        self.url.scrub(message)
    }

    /// Runs one or more statements that return no rows.
    pub fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        let result = on_inner!(&mut self.inner, c => c.batch_execute(sql));
        result.map_err(|e| self.driver_error(e, sql))
    }

    /// Runs a query and maps each row by column name into `T`.
    pub fn load<T: LoadRow>(&mut self, sql: &str) -> Result<Vec<T>, DbError> {
        let query: SqlQuery = diesel::sql_query(sql);
        let result = on_inner!(&mut self.inner, c => query.load::<T>(c));
        result.map_err(|e| self.driver_error(e, sql))
    }

    /// The error for `error`, a driver failure running `sql`: the password
    /// scrubbed, a conflict (serialization failure, deadlock, Galera
    /// certification) told apart, the server's structured fields kept for
    /// the dialect to read.
    pub fn driver_error(&self, error: diesel::result::Error, sql: &str) -> DbError {
        driver_error(&self.url, error, sql)
    }
}

/// The error for a failure to connect to `url`.
pub(crate) fn connect_error(url: &DatabaseUrl, error: diesel::ConnectionError) -> DbError {
    DbError::Connect {
        url: url.to_string(),
        // Client libraries explain over several lines; an error is one.
        message: url
            .scrub(&error.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")),
    }
}

/// The instrumentation a connection (sync or async) runs with: it counts
/// every statement in `counter` and tells `observer`, if any, about each.
pub(crate) fn instrumentation(
    counter: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    observer: Option<StatementObserver>,
) -> impl FnMut(InstrumentationEvent<'_>) + Send + 'static {
    let mut started = Instant::now();
    move |event: InstrumentationEvent<'_>| match event {
        InstrumentationEvent::StartQuery { query, .. } => {
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some(on_start) = observer.as_ref().and_then(|o| o.started.as_ref()) {
                let text = query.to_string();
                let (sql, binds) = split_binds(&text);
                on_start(&StatementRecord { sql, binds, duration: Duration::ZERO, error: None });
            }
            if observer.is_some() {
                started = Instant::now();
            }
        }
        InstrumentationEvent::FinishQuery { query, error, .. } => {
            if error.is_some() {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(observer) = &observer {
                let text = query.to_string();
                let (sql, binds) = split_binds(&text);
                let error = error.map(|e| e.to_string());
                (observer.finished)(&StatementRecord {
                    sql,
                    binds,
                    duration: started.elapsed(),
                    error: error.as_deref(),
                });
            }
        }
        _ => {}
    }
}

/// The error for `error`, a driver failure running `sql` on a connection
/// to `url`: the password scrubbed, a conflict (serialization failure,
/// deadlock, Galera certification) told apart, the server's structured
/// fields kept for the dialect to read.
pub(crate) fn driver_error(url: &DatabaseUrl, error: diesel::result::Error, sql: &str) -> DbError {
    let message = url.scrub(error.to_string().trim());
    let sql = sql.to_string();
    let server = match &error {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::SerializationFailure, _) => {
            return DbError::Conflict { message, sql };
        }
        diesel::result::Error::DatabaseError(kind, info) => Some(Box::new(ServerError {
            kind: *kind,
            table: info.table_name().map(str::to_string),
            column: info.column_name().map(str::to_string),
            constraint: info.constraint_name().map(str::to_string),
        })),
        _ => None,
    };
    DbError::Query { message, sql, server }
}
