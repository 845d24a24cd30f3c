//! The embedded ORM: the same `#[derive(Model)]` structs the migration tool
//! reads, at run time. Statements are data ([`query`], [`expr`]) rendered
//! by `dialect::query` and run through diesel ([`exec`]); see
//! `docs/orm.md` and ORM.md for the design.

pub mod exec;
pub mod expr;
pub mod model;
pub mod query;
pub mod value;

pub use exec::OrmError;

/// The user guide to the ORM (`docs/orm.md`); its examples compile as doctests.
#[doc = include_str!("../../docs/orm.md")]
pub mod guide {}
pub use model::{Model, ModelStatements};

/// What an application imports: `use migrate::orm::prelude::*;`.
pub mod prelude {
    pub use super::exec::{self, OrmError};
    pub use super::expr::{
        Column, Expr, Expression, IntoExpr, Order, Window, and_all, avg, case, coalesce, count, count_star, dense_rank,
        exists, first_value, lag, lead, lower, max, min, not, not_exists, or_any, rank, row_number, scalar, sum, upper,
        value,
    };
    pub use super::model::Model;
    pub use super::query::{
        AllColumns, Cte, Delete, Insert, Row, Select, Statement, Subquery, Table, Text, Update, col, cte, cte_ref,
        delete_from, excluded, insert_into, recursive_cte, select, text, update,
    };
    pub use super::value::{FromRow, Nullable, SqlValue};
    pub use crate::dialect::query::FrameBound;
}
