//! Connections to the three backends, chosen by URL, with passwords redacted
//! from everything that is printed.

mod connection;
mod url;

pub use connection::{Connection, OnDiesel, OpenMode};
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
    },
}
