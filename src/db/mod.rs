//! Connections to the three backends, chosen by URL, with passwords redacted
//! from everything that is printed.

mod connection;
mod url;

pub use connection::{
    Connection, LoadRow, MysqlRow, OnDiesel, OpenMode, PgRow, SqliteRow, StatementObserver, StatementRecord,
    TransactionState,
};
#[cfg(feature = "async")]
pub(crate) use connection::{connect_error, driver_error, instrumentation};
pub use url::{Backend, DatabaseUrl, Redactor};

/// What can go wrong opening or using a connection. Messages never contain a
/// password: URLs are redacted and the password is scrubbed from server text.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL could not be understood.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL names a backend this build was compiled without.
    #[error("{url}: this build has no driver for it (enable the `{feature}` feature of migrate-orm)")]
    NotBuilt {
        /// The URL, redacted.
        url: String,
        /// The cargo feature that adds the backend.
        feature: &'static str,
    },
    /// A read-only command was pointed at an SQLite file that does not exist.
    #[error("SQLite database file `{path}` does not exist")]
    MissingSqliteFile {
        /// The path as given.
        path: String,
    },
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL, redacted.
        url: String,
        /// The driver's message, scrubbed.
        message: String,
    },
    /// A statement lost a race with another transaction (a deadlock, a
    /// serialization failure, a Galera certification conflict): running it
    /// again can succeed.
    #[error("{message}")]
    Conflict {
        /// The database's message, scrubbed.
        message: String,
        /// The statement that failed.
        sql: String,
    },
    /// A statement failed.
    #[error("{message}")]
    Query {
        /// The database's message, scrubbed.
        message: String,
        /// The statement that failed.
        sql: String,
        /// What the driver told apart about the failure, when the server
        /// answered (not for a failure to send).
        server: Option<Box<ServerError>>,
    },
}

/// The structured part of a server's error, as the driver reports it; the
/// dialect reads it (with the message) to classify the failure.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    /// The driver's classification (`Unknown` for most MySQL and SQLite
    /// errors sent as plain text, which the dialect then reads).
    pub kind: diesel::result::DatabaseErrorKind,
    /// The table named by the server (PostgreSQL).
    pub table: Option<String>,
    /// The column named by the server (PostgreSQL).
    pub column: Option<String>,
    /// The constraint named by the server (PostgreSQL).
    pub constraint: Option<String>,
}
