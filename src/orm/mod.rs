//! The embedded ORM: the same `#[derive(Model)]` structs the migration tool
//! reads, at run time. Statements are data ([`query`], [`expr`]) rendered
//! by `dialect::query` and run through diesel ([`exec`]); connections come
//! from a [`Pool`], transactions are the dialect's SQL ([`transaction`]),
//! failures are typed ([`Error`]), statements can be echoed ([`echo`]),
//! models and sessions have [`hooks`] and user types map to columns ([`types`]).
//! See `docs/orm.md` and ORM.md for the design.

#[cfg(feature = "async")]
pub mod asynchronous;
pub mod echo;
pub mod error;
pub mod exec;
pub mod expr;
pub mod hooks;
pub mod model;
pub mod pool;
pub mod query;
pub mod relation;
pub mod session;
pub mod transaction;
pub mod types;
pub mod value;

pub use echo::Echo;
pub use error::{Error, Stale, StatementKind, Violation};
pub use hooks::{HookError, HookResult, Hooks, Listeners, SessionEvents};

/// The user guide to the ORM (`docs/orm.md`); its examples compile as doctests.
#[doc = include_str!("../../docs/orm.md")]
pub mod guide {}

pub use model::{Model, ModelStatements};
pub use pool::{Pool, PoolOptions, PooledConnection};
pub use session::{Handle, Savepoint, Session};
pub use transaction::Transaction;

/// What an application imports: `use migrate::orm::prelude::*;`.
pub mod prelude {
    pub use super::error::Error as OrmError;
    pub use super::exec;
    pub use super::expr::{
        Column, Expr, Expression, IntoExpr, Order, Window, and_all, avg, case, coalesce, count, count_star, dense_rank,
        exists, first_value, lag, lead, lower, max, min, not, not_exists, or_any, rank, row_number, scalar, sum, upper,
        value,
    };
    pub use super::hooks::{HookError, HookResult, Hooks, SessionEvents};
    pub use super::model::Model;
    pub use super::pool::{Pool, PoolOptions};
    pub use super::query::{
        AllColumns, Cte, Delete, Insert, Row, Select, Statement, Subquery, Table, Text, Update, col, cte, cte_ref,
        delete_from, excluded, insert_into, recursive_cte, select, text, update,
    };
    pub use super::relation::{Many, One, joined, raiseload, selectin};
    pub use super::session::{Handle, Session};
    pub use super::types::{CustomType, InvalidValue};
    pub use super::value::{FromRow, Nullable, SqlValue};
    pub use crate::dialect::query::FrameBound;
}
