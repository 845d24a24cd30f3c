//! Transactions and savepoints on an [`AsyncConnection`], through the
//! dialect's SQL as on a sync connection ([`crate::orm::transaction`]):
//! `BEGIN` with an isolation level, `COMMIT`, `ROLLBACK`, `SAVEPOINT` /
//! `RELEASE` / `ROLLBACK TO`. The depth lives on the connection, so the
//! async pool sees what a user (or a dropped future) left open.

use super::connection::AsyncConnection;
use crate::dialect::{self, TransactionOptions};
use crate::orm::error::{Error, StatementKind};

/// Opens a transaction on `conn`, which must not be in one.
pub async fn begin(conn: &mut AsyncConnection, options: &TransactionOptions) -> Result<(), Error> {
    if conn.transaction_state().depth > 0 {
        return Err(Error::TransactionOpen);
    }
    let statements = dialect::of(conn.backend()).begin_transaction(options);
    control(conn, &statements, 1).await
}

/// Opens a savepoint inside the transaction open on `conn`; returns its depth
/// (2 for the first).
pub async fn begin_nested(conn: &mut AsyncConnection) -> Result<u32, Error> {
    let depth = conn.transaction_state().depth;
    if depth == 0 {
        return Err(Error::NoTransaction);
    }
    let savepoint = dialect::of(conn.backend()).savepoint(depth + 1);
    control(conn, &[savepoint], depth + 1).await?;
    Ok(depth + 1)
}

/// Commits the innermost level open on `conn`: the transaction, or releases
/// the savepoint. A failed `COMMIT` is followed by a `ROLLBACK`, so that the
/// connection is left outside any transaction (or marked broken).
pub async fn commit(conn: &mut AsyncConnection) -> Result<(), Error> {
    let dialect = dialect::of(conn.backend());
    match conn.transaction_state().depth {
        0 => Err(Error::NoTransaction),
        1 => {
            let result = control(conn, &[dialect.commit().to_string()], 0).await;
            if result.is_err() {
                let _ = control(conn, &[dialect.rollback().to_string()], 0).await;
            }
            result
        }
        depth => control(conn, &[dialect.release_savepoint(depth)], depth - 1).await,
    }
}

/// Rolls back the innermost level open on `conn`: the transaction, or the
/// work since the savepoint (which is then released).
pub async fn rollback(conn: &mut AsyncConnection) -> Result<(), Error> {
    let dialect = dialect::of(conn.backend());
    match conn.transaction_state().depth {
        0 => Err(Error::NoTransaction),
        1 => control(conn, &[dialect.rollback().to_string()], 0).await,
        depth => {
            let statements = [dialect.rollback_to_savepoint(depth), dialect.release_savepoint(depth)];
            control(conn, &statements, depth - 1).await
        }
    }
}

/// Runs `statements`, leaving the connection at `depth`.
async fn control(conn: &mut AsyncConnection, statements: &[String], depth: u32) -> Result<(), Error> {
    let dialect = dialect::of(conn.backend());
    conn.control_transaction(statements, depth)
        .await
        .map_err(|e| Error::from_db(dialect, StatementKind::Transaction, None, e))
}
