//! Transaction control as each backend spells it: `BEGIN` with an isolation
//! level and access mode, savepoints, and the health-check ping a pool sends.

/// The isolation a transaction asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Each statement sees what was committed before it started.
    ReadCommitted,
    /// Every statement sees the snapshot taken by the transaction's first read.
    RepeatableRead,
    /// As if the transactions had run one after another.
    Serializable,
}

impl IsolationLevel {
    /// The SQL standard's spelling, which PostgreSQL and MySQL share.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// Whether a transaction will write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessMode {
    /// It may write (SQLite takes the write lock at `BEGIN`, so two writers
    /// never deadlock upgrading a read lock).
    #[default]
    ReadWrite,
    /// It only reads; the server refuses writes.
    ReadOnly,
}

/// How to open a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransactionOptions {
    /// `None`: the server's default (PostgreSQL read committed, MySQL
    /// repeatable read, SQLite serializable).
    pub isolation: Option<IsolationLevel>,
    /// Read-write unless said otherwise.
    pub access: AccessMode,
}

impl TransactionOptions {
    /// Options with `level` as the isolation.
    pub fn isolation(level: IsolationLevel) -> Self {
        TransactionOptions { isolation: Some(level), ..Self::default() }
    }

    /// A read-only transaction.
    pub fn read_only() -> Self {
        TransactionOptions { access: AccessMode::ReadOnly, ..Self::default() }
    }
}

/// Transaction control statements. The defaults are the SQL standard's;
/// backends override what they spell differently.
pub trait TransactionSql {
    /// The statements that open a transaction with `options`, in order (MySQL
    /// sets the isolation in a statement of its own before `START TRANSACTION`).
    fn begin_transaction(&self, options: &TransactionOptions) -> Vec<String>;

    /// Commits the outermost transaction.
    fn commit(&self) -> &'static str {
        "COMMIT"
    }

    /// Rolls back the outermost transaction.
    fn rollback(&self) -> &'static str {
        "ROLLBACK"
    }

    /// Opens the savepoint of nesting `depth` (2 for the first one inside a
    /// transaction).
    fn savepoint(&self, depth: u32) -> String {
        format!("SAVEPOINT {}", savepoint_name(depth))
    }

    /// Forgets the savepoint of `depth`, keeping its work in the enclosing
    /// transaction.
    fn release_savepoint(&self, depth: u32) -> String {
        format!("RELEASE SAVEPOINT {}", savepoint_name(depth))
    }

    /// Undoes the work done since the savepoint of `depth`, which stays open.
    fn rollback_to_savepoint(&self, depth: u32) -> String {
        format!("ROLLBACK TO SAVEPOINT {}", savepoint_name(depth))
    }

    /// A cheap statement that succeeds on a healthy connection.
    fn ping(&self) -> &'static str {
        "SELECT 1"
    }

    /// Statements run once on each connection an application pool opens.
    fn pool_connection_setup(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Savepoint names are ours and plain, so they need no quoting on any backend.
fn savepoint_name(depth: u32) -> String {
    format!("migrate_sp{depth}")
}
