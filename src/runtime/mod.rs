//! Applies plans of revisions to a database: renders each revision's ops
//! with the dialect, runs each revision in its own transaction together with
//! its version-table change, records every step in the history table, holds
//! a lock for the whole run, and notices revision files edited after they
//! were applied. The same rendering serves offline (`--sql`) output.

pub mod checksum;
mod cluster;
mod effect;
mod lock;
mod run;
mod version;

pub use cluster::check_cluster_safe;
pub use effect::took_effect;
pub use lock::{LEASE_SECONDS, LiveRun, RunLock, live_run};
pub use run::{Event, OpSql, Resume, Run, RunReport, StepReport, StepSql, offline_sql, render_plan};
pub use version::{Bookkeeping, HistoryEntry, HistoryTable, VersionChange, VersionTable, history};

use crate::db::DbError;
use crate::dialect::{ReflectError, RenderError};

/// An applied revision whose file changed since it was applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Edited {
    /// The revision.
    pub revision: String,
    /// Its file.
    pub path: String,
    /// A unified diff from the text applied to the file now (empty when the
    /// history holds no text: rows recorded before texts were kept).
    pub diff: String,
}

/// A run could not start or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A statement failed outside any revision (bookkeeping, lock, reflection).
    #[error(transparent)]
    Db(#[from] DbError),
    /// A statement on the tool's own tables failed or could not be rendered.
    #[error(transparent)]
    Orm(#[from] crate::orm::Error),
    /// Reading the database's schema failed.
    #[error(transparent)]
    Reflect(#[from] ReflectError),
    /// An op cannot be expressed on this backend.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// An op of a revision cannot be expressed on this backend; nothing ran.
    #[error("revision {revision} ({path}): {error}; nothing was run")]
    RenderRevision {
        /// The revision.
        revision: String,
        /// Its file.
        path: String,
        /// What cannot be rendered.
        error: RenderError,
    },
    /// Another run held the lock for longer than the timeout.
    #[error("another migrate run holds the lock; gave up after {seconds} s")]
    LockTimeout {
        /// The timeout.
        seconds: f64,
    },
    /// The SQLite lock file could not be opened.
    #[error("cannot open lock file `{path}`: {message}")]
    LockFile {
        /// The lock file.
        path: String,
        /// Why.
        message: String,
    },
    /// An op of a revision failed.
    #[error("{direction} {revision} failed at op {op_number} ({op}): {message}; {state}")]
    StepFailed {
        /// `upgrade` or `downgrade`.
        direction: &'static str,
        /// The revision.
        revision: String,
        /// 1-based position of the failed op in the revision.
        op_number: usize,
        /// The op, as `Op::label` names it.
        op: String,
        /// The database's message.
        message: String,
        /// What state the database is left in.
        state: String,
    },
    /// A revision was partly applied on a backend without transactional DDL.
    #[error(
        "revision {revision} is partially applied: {done} of {total} ops ran before {what}; \
         fix the database, then run `migrate {command} --resume` to run the remaining ops, \
         or `migrate stamp` to record the state by hand"
    )]
    Partial {
        /// The revision.
        revision: String,
        /// The command that was running it: `upgrade` or `downgrade`.
        command: &'static str,
        /// Ops that completed.
        done: usize,
        /// Ops in the revision.
        total: usize,
        /// What stopped it, naming the op: "op 2 (`execute`) failed (...)"
        /// or "the run was interrupted in op 2 (`execute`)".
        what: String,
    },
    /// A statement a crash interrupted whose effect the schema cannot tell.
    #[error(
        "revision {revision} was interrupted in op {op_number} (`{op}`), statement {statement_number} of \
         {statements}, and the schema cannot tell whether it took effect: `{sql}`; check the database, then run \
         `migrate {command} --resume --uncertain done` if it did, or `--uncertain redo` to run it again"
    )]
    Uncertain {
        /// The revision.
        revision: String,
        /// `upgrade` or `downgrade`.
        command: &'static str,
        /// 1-based position of the op.
        op_number: usize,
        /// The op, as `Op::label` names it.
        op: String,
        /// 1-based position of the statement in the op.
        statement_number: usize,
        /// Statements of the op.
        statements: usize,
        /// The statement.
        sql: String,
    },
    /// Applied revisions whose files changed since.
    #[error(
        "applied revision file(s) changed since they were applied: {}; \
         restore them, or run `migrate stamp --accept-edits REV` to accept the edits{}",
        .0.iter().map(|e| format!("{} ({})", e.revision, e.path)).collect::<Vec<_>>().join(", "),
        .0.iter().map(|e| format!("\n{}", e.diff)).collect::<String>()
    )]
    Tampered(Vec<Edited>),
    /// A version-table change found the table not as the run expected it
    /// (another run or a hand edit changed it); the change was rolled back.
    #[error(
        "the version table changed under this run at revision {revision}: `{statement}` changed {rows} rows \
         instead of 1; the change was rolled back; run `migrate current` to see the state"
    )]
    VersionConflict {
        /// The revision whose change was refused.
        revision: String,
        /// The compare-and-set statement.
        statement: String,
        /// Rows it changed.
        rows: usize,
    },
    /// The run lock's lease ran out while this run held it (it could not
    /// renew it), so another run may have taken it.
    #[error(
        "the run lock's lease (lock table `{table}`) ran out while this run held it: another run may have \
         run at the same time; check `migrate current` and `migrate history`"
    )]
    LockLost {
        /// The lock table.
        table: String,
    },
    /// The run took the run lock but could not take the named lock that
    /// shows it alive to `migrate current` (another connection holds it).
    #[error(
        "took the run lock (lock table `{table}`) but another connection holds its holder lock; \
         check `migrate current`, then try again"
    )]
    HolderLock {
        /// The lock table.
        table: String,
    },
    /// Writes were refused: the server is a PostgreSQL hot standby.
    #[error("{database} is a read-only standby (pg_is_in_recovery() is true): run migrations against the primary")]
    ReadOnlyStandby {
        /// The database, password redacted.
        database: String,
    },
    /// A Galera node with `wsrep_OSU_method=RSU`: DDL would reach this node only.
    #[error(
        "{database} is a Galera node with wsrep_OSU_method=RSU: DDL would change this node only; \
         set wsrep_OSU_method=TOI for the run"
    )]
    RollingSchemaUpgrade {
        /// The database, password redacted.
        database: String,
    },
    /// A revision would create a table without a primary key on a Galera cluster.
    #[error(
        "revision {revision} leaves table `{table}` without a primary key ({op}): Galera replicates \
         such a table badly or refuses it; add a primary key"
    )]
    NoPrimaryKeyOnCluster {
        /// The revision.
        revision: String,
        /// The table.
        table: String,
        /// The op, as `Op::label` names it.
        op: String,
    },
    /// `--resume` with nothing to resume.
    #[error("nothing to resume: no revision is partially applied")]
    NothingToResume,
}
