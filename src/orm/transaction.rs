//! Transactions and savepoints through the dialect's SQL (never diesel's
//! `transaction()`, whose bookkeeping would not know about ours): `BEGIN`
//! with an isolation level, `COMMIT`, `ROLLBACK`, and nested transactions as
//! `SAVEPOINT` / `RELEASE` / `ROLLBACK TO`. The depth lives on the
//! connection, so a pool sees what a user left open.

use super::error::{Error, StatementKind};
use crate::db::Connection;
use crate::dialect::{Dialect, TransactionOptions};
use std::ops::{Deref, DerefMut};

/// Opens a transaction on `conn`, which must not be in one.
pub fn begin(conn: &mut Connection, dialect: &dyn Dialect, options: &TransactionOptions) -> Result<(), Error> {
    if conn.transaction_state().depth > 0 {
        return Err(Error::TransactionOpen);
    }
    control(conn, dialect, &dialect.begin_transaction(options), 1)
}

/// Opens a savepoint inside the transaction open on `conn`; returns its depth
/// (2 for the first).
pub fn begin_nested(conn: &mut Connection, dialect: &dyn Dialect) -> Result<u32, Error> {
    let depth = conn.transaction_state().depth;
    if depth == 0 {
        return Err(Error::NoTransaction);
    }
    control(conn, dialect, &[dialect.savepoint(depth + 1)], depth + 1)?;
    Ok(depth + 1)
}

/// Commits the innermost level open on `conn`: the transaction, or releases
/// the savepoint. A failed `COMMIT` is followed by a `ROLLBACK`, so that the
/// connection is left outside any transaction (or marked broken).
pub fn commit(conn: &mut Connection, dialect: &dyn Dialect) -> Result<(), Error> {
    match conn.transaction_state().depth {
        0 => Err(Error::NoTransaction),
        1 => control(conn, dialect, &[dialect.commit().to_string()], 0).inspect_err(|_| {
            let _ = control(conn, dialect, &[dialect.rollback().to_string()], 0);
        }),
        depth => control(conn, dialect, &[dialect.release_savepoint(depth)], depth - 1),
    }
}

/// Rolls back the innermost level open on `conn`: the transaction, or the
/// work since the savepoint (which is then released).
pub fn rollback(conn: &mut Connection, dialect: &dyn Dialect) -> Result<(), Error> {
    match conn.transaction_state().depth {
        0 => Err(Error::NoTransaction),
        1 => control(conn, dialect, &[dialect.rollback().to_string()], 0),
        depth => {
            control(conn, dialect, &[dialect.rollback_to_savepoint(depth), dialect.release_savepoint(depth)], depth - 1)
        }
    }
}

/// Runs `statements`, leaving the connection at `depth`.
fn control(conn: &mut Connection, dialect: &dyn Dialect, statements: &[String], depth: u32) -> Result<(), Error> {
    conn.control_transaction(statements, depth)
        .map_err(|e| Error::from_db(dialect, StatementKind::Transaction, None, e))
}

/// A transaction (or savepoint) open on a borrowed connection, for code that
/// works on a connection without a session. Dropped unfinished, it rolls back.
/// It dereferences to the connection, to run statements inside it.
pub struct Transaction<'c> {
    conn: &'c mut Connection,
    dialect: &'c dyn Dialect,
    depth: u32,
    finished: bool,
}

impl<'c> Transaction<'c> {
    /// Opens a transaction on `conn`.
    pub fn begin(
        conn: &'c mut Connection,
        dialect: &'c dyn Dialect,
        options: &TransactionOptions,
    ) -> Result<Self, Error> {
        begin(conn, dialect, options)?;
        Ok(Transaction { conn, dialect, depth: 1, finished: false })
    }

    /// Opens a savepoint inside this transaction.
    pub fn nested(&mut self) -> Result<Transaction<'_>, Error> {
        let depth = begin_nested(self.conn, self.dialect)?;
        Ok(Transaction { conn: self.conn, dialect: self.dialect, depth, finished: false })
    }

    /// 1 for a transaction, 2 and more for savepoints.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Commits (or releases the savepoint).
    pub fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        self.check_depth()?;
        commit(self.conn, self.dialect)
    }

    /// Rolls back (to the savepoint).
    pub fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        self.check_depth()?;
        rollback(self.conn, self.dialect)
    }

    /// A transaction finished through the connection directly is not finished
    /// again here.
    fn check_depth(&self) -> Result<(), Error> {
        match self.conn.transaction_state().depth == self.depth {
            true => Ok(()),
            false => Err(Error::NoTransaction),
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished && self.check_depth().is_ok() {
            // A failure marks the connection broken, which the pool discards.
            let _ = rollback(self.conn, self.dialect);
        }
    }
}

impl Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}
