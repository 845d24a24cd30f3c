//! The lock held for a whole run, so that deploys that start at once apply
//! each revision once: a PostgreSQL advisory lock, a MySQL named lock, or, for
//! SQLite, an exclusive lock on a file beside the database. Taken by polling
//! until the timeout.

use super::RuntimeError;
use crate::db::Connection;
use crate::dialect::Dialect;
use std::fs::{File, OpenOptions};
use std::time::{Duration, Instant};

text_row!(ValueRow { value });

/// A lock taken for a run; [`RunLock::release`] gives it back (a dropped
/// process releases it too: the server or the OS does).
pub struct RunLock {
    unlock: Option<String>,
    _file: Option<File>,
}

const POLL: Duration = Duration::from_millis(50);

impl RunLock {
    /// Takes the lock named `key`, waiting at most `timeout`.
    pub fn acquire(
        conn: &mut Connection,
        dialect: &dyn Dialect,
        key: &str,
        timeout: Duration,
    ) -> Result<RunLock, RuntimeError> {
        let started = Instant::now();
        let timed_out = || RuntimeError::LockTimeout { seconds: timeout.as_secs_f64() };
        if let Some(statements) = dialect.lock_statements(key) {
            loop {
                let rows: Vec<ValueRow> = conn.load(&statements.try_lock)?;
                if rows.first().and_then(|r| r.value.as_deref()) == Some("1") {
                    return Ok(RunLock { unlock: Some(statements.unlock), _file: None });
                }
                if started.elapsed() >= timeout {
                    return Err(timed_out());
                }
                std::thread::sleep(POLL);
            }
        }
        let Some(path) = conn.url().sqlite_path().filter(|p| *p != ":memory:") else {
            return Ok(RunLock { unlock: None, _file: None }); // nobody else can see this database
        };
        let lock_path = format!("{path}.migrate-lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| RuntimeError::LockFile { path: lock_path.clone(), message: e.to_string() })?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(RunLock { unlock: None, _file: Some(file) }),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => std::thread::sleep(POLL),
                Err(std::fs::TryLockError::WouldBlock) => return Err(timed_out()),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(RuntimeError::LockFile { path: lock_path, message: e.to_string() });
                }
            }
        }
    }

    /// Gives the lock back.
    pub fn release(self, conn: &mut Connection) -> Result<(), RuntimeError> {
        if let Some(unlock) = &self.unlock {
            conn.load::<ValueRow>(unlock)?;
        }
        Ok(())
    }
}
