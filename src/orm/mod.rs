//! The embedded ORM: the same models at run time (see docs/orm.md). This
//! part holds the connection pool, transactions, typed errors and echo.

pub mod echo;
pub mod error;
pub mod pool;
pub mod transaction;

pub use echo::Echo;
pub use error::{Error, StatementKind, Violation};
pub use pool::{Pool, PoolOptions, PooledConnection};
pub use transaction::Transaction;
