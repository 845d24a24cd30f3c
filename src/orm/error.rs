//! The ORM's errors: typed variants an application can match on (a unique
//! violation, a missing table, a pool that had no connection to give), each
//! naming the statement kind, table and constraint, and never a value.

use super::model::KeyRangeError;
use crate::db::DbError;
pub use crate::dialect::query::StatementKind;
use crate::dialect::query::{DecodeError, QueryError};
use crate::dialect::{Dialect, FailureKind};
use std::fmt;
use std::time::Duration;

/// A constraint that refused a statement: which statement, on which table,
/// and the constraint's name or columns, as far as the backend tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The kind of statement refused.
    pub statement: StatementKind,
    /// The table the constraint belongs to (for a foreign key refusing a
    /// delete, the referring table), else the statement's table.
    pub table: Option<String>,
    /// The constraint's name (SQLite names none for unique and foreign keys).
    pub constraint: Option<String>,
    /// The columns concerned, where the backend names them.
    pub columns: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.statement)?;
        if let Some(table) = &self.table {
            write!(f, " on `{table}`")?;
        }
        if let Some(constraint) = &self.constraint {
            write!(f, ", constraint `{constraint}`")?;
        }
        if !self.columns.is_empty() {
            write!(f, ", column{} `{}`", if self.columns.len() > 1 { "s" } else { "" }, self.columns.join("`, `"))?;
        }
        Ok(())
    }
}

/// Why a session cannot give the object behind a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// It was expunged (`Session::expunge`).
    Expunged,
    /// It was deleted (`Session::delete`; once flushed, until a rollback
    /// gives it back).
    Deleted,
    /// The transaction or savepoint it was added in rolled back.
    RolledBack,
    /// It is expired (`expire`, `expire_all`, or its row was written in a
    /// transaction that rolled back): its values may not be the row's.
    /// `Session::refresh`, `get` by its key or a query read it again.
    Expired,
    /// The handle belongs to another session, or to an object that left
    /// this one before the slot was used again.
    NotInSession,
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stale::Expunged => "the object was expunged from the session",
            Stale::Deleted => "the object was deleted",
            Stale::RolledBack => "the object left the session when the transaction it was added in rolled back",
            Stale::Expired => "the object is expired; read it again (Session::refresh, get or a query)",
            Stale::NotInSession => "the handle's object is not in this session",
        })
    }
}

/// Anything the ORM can fail with. Messages are one line and quote no value
/// from a row (values are shown only by an echo that asks for them).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A unique constraint or unique index refused a duplicate.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(Violation),
    /// A foreign key refused a row without parent, or a delete leaving children.
    #[error("foreign key violated: {0}")]
    ForeignKeyViolation(Violation),
    /// A `NOT NULL` column got no value.
    #[error("not-null constraint violated: {0}")]
    NotNullViolation(Violation),
    /// A `CHECK` constraint refused a row.
    #[error("check constraint violated: {0}")]
    CheckViolation(Violation),
    /// The statement's table does not exist: the migrations have not run.
    #[error("{statement}: table `{table}` does not exist")]
    UndefinedTable {
        /// The kind of statement.
        statement: StatementKind,
        /// The missing table.
        table: String,
    },
    /// The transaction lost a conflict with another (serialization failure,
    /// deadlock, Galera certification) and was rolled back: run it again.
    #[error("{statement}: the transaction conflicted with another and was rolled back; it can be retried")]
    SerializationFailure {
        /// The kind of statement.
        statement: StatementKind,
    },
    /// A write in a read-only transaction.
    #[error("{statement}: the transaction is read-only")]
    ReadOnlyTransaction {
        /// The kind of statement.
        statement: StatementKind,
    },
    /// Any other database error; the message has its values taken out.
    #[error("{statement}{}: {message}", table.as_ref().map(|t| format!(" on `{t}`")).unwrap_or_default())]
    Database {
        /// The kind of statement.
        statement: StatementKind,
        /// The statement's table, when it has one.
        table: Option<String>,
        /// The server's message, values replaced by `?`.
        message: String,
    },
    /// Opening a connection failed (bad URL, server down, login refused).
    #[error(transparent)]
    Connect(DbError),
    /// The connection was lost, or its transaction state is unknown after a
    /// transaction-control statement failed; it is not reused.
    #[error("{statement}: the connection was lost")]
    ConnectionLost {
        /// The kind of statement.
        statement: StatementKind,
    },
    /// Every connection of the pool stayed in use for the whole timeout.
    #[error("no free connection in the pool (size {size}) after waiting {waited:?}{}", last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    PoolTimeout {
        /// The pool's maximum size.
        size: u32,
        /// How long the caller waited.
        waited: Duration,
        /// The last error opening a connection, if opening one failed.
        last_error: Option<String>,
    },
    /// The statement cannot be rendered for this backend.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A row did not decode into the Rust type asked for.
    #[error("{statement}: {source}")]
    Decode {
        /// The statement's kind.
        statement: StatementKind,
        /// Why.
        source: DecodeError,
    },
    /// A generated key does not fit the model's key field.
    #[error(transparent)]
    KeyRange(#[from] KeyRangeError),
    /// A statement that should return a row returned none.
    #[error("{statement}: no row returned")]
    NoRow {
        /// The statement's kind.
        statement: StatementKind,
    },
    /// The models of a flush refer to each other in a cycle, so no insert
    /// order satisfies their foreign keys.
    #[error("cannot order the flush: the foreign keys of {} form a cycle", tables.join(", "))]
    ForeignKeyCycle {
        /// The tables in or behind the cycle.
        tables: Vec<String>,
    },
    /// A relationship was read unloaded, declared against no foreign key,
    /// or loaded with an option that does not apply.
    #[error(transparent)]
    Relation(#[from] super::relation::RelationError),
    /// Rows of one table refer to each other in a cycle (through a foreign
    /// key to the table itself), so no insert or delete order satisfies it.
    #[error("cannot order the flush: rows of {table} refer to each other in a cycle{}", if keys.is_empty() { String::new() } else { format!(" (keys {})", keys.join(", ")) })]
    RowCycle {
        /// The table.
        table: String,
        /// The keys of the rows in or behind the cycle; empty unless the
        /// echo shows values.
        keys: Vec<String>,
    },
    /// Optimistic concurrency: the row of a model with a version column was
    /// changed or deleted by another transaction since the session read it.
    /// Nothing was written: the flush rolled back, the object is expired.
    #[error("{model}: its row was changed or deleted by another transaction since it was read{}; nothing was written", key.as_ref().map(|k| format!(" (key {k})")).unwrap_or_default())]
    StaleObject {
        /// The model (its Rust type's name).
        model: &'static str,
        /// The object's primary key, only when the echo shows values.
        key: Option<String>,
    },
    /// A handle whose object the session cannot give, and why.
    #[error("{model}: {reason}")]
    StaleHandle {
        /// The model (its Rust type's name).
        model: &'static str,
        /// Why.
        reason: Stale,
    },
    /// A model hook or a session's `before_flush` refused: the flush was
    /// aborted (and rolled back, if it had written anything).
    #[error("{}{hook} refused: {source}", model.map(|m| format!("{m}: ")).unwrap_or_default())]
    Hook {
        /// The model whose hook refused (`None` for a session event).
        model: Option<&'static str>,
        /// Which hook.
        hook: super::hooks::HookPoint,
        /// Its reason.
        source: super::hooks::HookError,
    },
    /// Commit, rollback or a savepoint was asked for outside a transaction.
    #[error("no transaction is open")]
    NoTransaction,
    /// A transaction was begun while one is already open (use a savepoint).
    #[error("a transaction is already open; use a nested transaction (savepoint) inside it")]
    TransactionOpen,
    /// A sync method of a session was called on an async session (from a
    /// listener, say) and would have had to wait for the database.
    #[error("this needs the database, and the session is async: call it on the AsyncSession and await it")]
    AsyncInSync,
}

impl Error {
    /// The error for `error`, a failed statement of `kind` on `table`, read
    /// by `dialect`.
    pub fn from_db(dialect: &dyn Dialect, statement: StatementKind, table: Option<&str>, error: DbError) -> Error {
        let DbError::Query { message, server, .. } = &error else { return Error::Connect(error) };
        let failure = dialect.classify_failure(message, server.as_deref());
        let table = failure.table.or_else(|| table.map(str::to_string));
        let violation = || Violation {
            statement,
            table: table.clone(),
            constraint: failure.constraint.clone(),
            columns: failure.columns.clone(),
        };
        match failure.kind {
            FailureKind::UniqueViolation => Error::UniqueViolation(violation()),
            FailureKind::ForeignKeyViolation => Error::ForeignKeyViolation(violation()),
            FailureKind::NotNullViolation => Error::NotNullViolation(violation()),
            FailureKind::CheckViolation => Error::CheckViolation(violation()),
            FailureKind::UndefinedTable => {
                Error::UndefinedTable { statement, table: table.clone().unwrap_or_else(|| "?".into()) }
            }
            FailureKind::SerializationFailure => Error::SerializationFailure { statement },
            FailureKind::ReadOnlyTransaction => Error::ReadOnlyTransaction { statement },
            FailureKind::ConnectionLost => Error::ConnectionLost { statement },
            FailureKind::Other => Error::Database { statement, table, message: failure.message },
        }
    }

    /// A second line of advice, where there is one to give.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::UndefinedTable { .. } => Some("run `migrate upgrade` to create the tables the models declare"),
            Error::PoolTimeout { .. } => {
                Some("a connection is held too long (an open session?), or the pool is too small for the load")
            }
            _ => None,
        }
    }
}
