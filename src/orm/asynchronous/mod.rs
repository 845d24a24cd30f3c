//! The async API (the `async` cargo feature): the same models, statements,
//! renderer and decoders as the sync ORM, awaited over diesel-async —
//! tokio-postgres for PostgreSQL, mysql_async (pure Rust) for MariaDB/MySQL,
//! and SQLite's sync connection on tokio's blocking threads. Needs a tokio
//! runtime.
//!
//! - [`AsyncPool`]: the pool (deadpool), built from the sync pool's
//!   [`PoolOptions`](crate::orm::PoolOptions). A connection left in a
//!   transaction, broken, or interrupted by a dropped future is never
//!   handed out again.
//! - [`exec`]: Core statements ([`fetch`](exec::fetch), [`execute`](exec::execute), ...),
//!   named as in [`crate::orm::exec`].
//! - [`transaction`]: `BEGIN` / `COMMIT` / `ROLLBACK` / savepoints.
//! - [`AsyncMigrator`](crate::AsyncMigrator): the migrator, awaited.
//!
//! See docs/orm.md, "Async".

mod connection;
pub mod exec;
mod pool;
pub mod transaction;

pub use crate::orm::session::AsyncSession;
pub use connection::AsyncConnection;
pub use pool::{AsyncPool, AsyncPooledConnection};
