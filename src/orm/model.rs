//! The run-time side of `#[derive(Model)]`: what a session needs to read
//! and write a model's rows, and the model's statements, each rendered once
//! per backend.

use super::hooks::Hooks;
use super::value::{FromRow, KeyValue};
use crate::dialect::Dialect;
use crate::dialect::query::{self as ast, MEMO_SLOTS, StatementRef, Template, Value};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A model struct at run time (implemented by `#[derive(Model)]`), with
/// its [`Hooks`] (no-ops unless declared `#[model(hooks)]`). `Send + Sync`,
/// so that an async session's futures can move between threads.
pub trait Model: FromRow + Hooks + Send + Sync + 'static {
    /// Its table.
    const TABLE_NAME: &'static str;
    /// Its columns, in field order (what [`Model::values`] and decoding follow).
    const COLUMNS: &'static [&'static str];
    /// Its primary-key columns, in key order.
    const KEY: &'static [&'static str];
    /// The column the database generates on insert (autoincrement), if any.
    const GENERATED: Option<&'static str>;
    /// The version column of optimistic concurrency (`#[model(version)]`),
    /// if any: every update and delete of a row compares it and updates
    /// advance it. The field must be a non-null integer:
    ///
    /// ```compile_fail
    /// #[derive(migrate::models::Model)]
    /// #[model(table = "accounts")]
    /// struct Account {
    ///     #[model(primary_key)]
    ///     id: i64,
    ///     #[model(version)]
    ///     version: String, // error: needs a non-null integer field
    /// }
    /// ```
    const VERSION: Option<&'static str> = None;
    /// The primary key's Rust value: the column's type, or a tuple.
    type Key: KeyValue + Send + Sync;

    /// Every column's value, in [`Model::COLUMNS`] order.
    fn values(&self) -> Vec<Value<'_>>;

    /// The value of column `column` (its position in [`Model::COLUMNS`]),
    /// without the others; `NULL` past the last column.
    fn value(&self, column: usize) -> Value<'_>;

    /// The primary key.
    fn key(&self) -> Self::Key;

    /// Whether the generated key is still unset (zero), so an insert lets
    /// the database choose it.
    fn generated_key_unset(&self) -> bool;

    /// Stores the key the database generated on insert.
    fn set_generated_key(&mut self, key: i64) -> Result<(), KeyRangeError>;

    /// Adds one to the version field, after an update advanced the row's.
    fn advance_version(&mut self) {}

    /// Sets the field of column `column` (its position in
    /// [`Model::COLUMNS`]) to `value`, converted to the field's type (what
    /// relationship changes do to foreign keys); `false` when the value does
    /// not fit the field (see [`crate::orm::value::SqlValue::from_value`]).
    fn set_value(&mut self, _column: usize, _value: &Value<'_>) -> bool {
        false
    }

    /// The model's memoised statements.
    fn statements() -> &'static ModelStatements;
}

/// A generated key that does not fit the key field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table {table}: the generated key {key} does not fit the key field")]
pub struct KeyRangeError {
    /// The table.
    pub table: &'static str,
    /// The key the database returned.
    pub key: i64,
}

/// The statement shapes a model renders once per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `SELECT columns FROM t WHERE key = ?`.
    Get,
    /// `INSERT` of every column.
    Insert,
    /// `INSERT` without the generated column.
    InsertGenerated,
    /// `INSERT` without the generated column, `RETURNING` it.
    InsertReturning,
    /// `UPDATE t SET non-key columns WHERE key = ?`.
    UpdateByKey,
    /// `DELETE FROM t WHERE key = ?`.
    DeleteByKey,
}

const SHAPES: usize = 6;

/// A model's statement templates, filled on first use per backend.
#[derive(Debug)]
pub struct ModelStatements {
    slots: [[OnceLock<Result<Template, ast::QueryError>>; SHAPES]; MEMO_SLOTS],
}

impl Default for ModelStatements {
    fn default() -> Self {
        ModelStatements::new()
    }
}

impl ModelStatements {
    /// Empty: nothing rendered yet.
    pub const fn new() -> Self {
        ModelStatements { slots: [const { [const { OnceLock::new() }; SHAPES] }; MEMO_SLOTS] }
    }

    /// The template of `shape` for `M` on `dialect`, rendered on first use;
    /// an error where the backend cannot run the shape (`RETURNING` on
    /// MySQL) or the model has nothing to update.
    pub fn get<M: Model>(&self, dialect: &dyn Dialect, shape: Shape) -> Result<&Template, ast::QueryError> {
        let slot = &self.slots[dialect.memo_slot() % MEMO_SLOTS][shape as usize];
        slot.get_or_init(|| render_shape::<M>(dialect, shape)).as_ref().map_err(Clone::clone)
    }
}

fn ident(name: &'static str) -> ast::Name {
    Cow::Borrowed(name)
}

fn column(name: &'static str) -> ast::Expr {
    ast::Expr::Column { table: None, name: ident(name) }
}

/// A placeholder: the template keeps its position, not its value.
fn param() -> ast::Expr {
    ast::Expr::Bind(Value::Null)
}

fn key_filter<M: Model>() -> Option<ast::Expr> {
    let parts = M::KEY.iter().map(|k| ast::Expr::Binary {
        op: ast::BinaryOp::Eq,
        left: Box::new(column(k)),
        right: Box::new(param()),
    });
    Some(ast::Expr::And(parts.collect()))
}

fn insert_of<M: Model>(columns: Vec<&'static str>, returning: Vec<ast::Expr>) -> ast::Insert<'static> {
    ast::Insert {
        table: ident(M::TABLE_NAME),
        source: ast::InsertSource::Values(vec![columns.iter().map(|_| param()).collect()]),
        columns: columns.into_iter().map(ident).collect(),
        on_conflict: None,
        returning,
    }
}

/// `UPDATE t SET columns WHERE key = ?`, for an update of only the columns
/// that changed (`columns` must be columns of `M`, none of them a key).
pub fn update_template<M: Model>(dialect: &dyn Dialect, columns: &[&'static str]) -> Result<Template, ast::QueryError> {
    let set = columns.iter().map(|c| (ident(c), param())).collect();
    let update = ast::Update { table: ident(M::TABLE_NAME), set, filter: key_filter::<M>(), returning: Vec::new() };
    let mut template = Template::default();
    ast::render_into(
        dialect,
        dialect.latest_capabilities(),
        StatementRef::Update(&update),
        &mut template,
        &mut Vec::new(),
    )?;
    Ok(template)
}

fn render_shape<M: Model>(dialect: &dyn Dialect, shape: Shape) -> Result<Template, ast::QueryError> {
    let not_generated = || M::COLUMNS.iter().copied().filter(|c| Some(*c) != M::GENERATED).collect::<Vec<_>>();
    let mut template = Template::default();
    let mut binds = Vec::new();
    let caps = dialect.latest_capabilities();
    match shape {
        Shape::Get => {
            let select = ast::Select {
                columns: M::COLUMNS.iter().map(|c| ast::SelectItem { expr: column(c), alias: None }).collect(),
                from: vec![ast::Source::Table { name: ident(M::TABLE_NAME), alias: None }],
                filter: key_filter::<M>(),
                ..ast::Select::default()
            };
            ast::render_into(dialect, caps, StatementRef::Select(&select), &mut template, &mut binds)
        }
        Shape::Insert | Shape::InsertGenerated | Shape::InsertReturning => {
            let columns = if shape == Shape::Insert { M::COLUMNS.to_vec() } else { not_generated() };
            let returning = match (shape, M::GENERATED) {
                (Shape::InsertReturning, Some(g)) => vec![column(g)],
                _ => Vec::new(),
            };
            let insert = insert_of::<M>(columns, returning);
            ast::render_into(dialect, caps, StatementRef::Insert(&insert), &mut template, &mut binds)
        }
        Shape::UpdateByKey => {
            let set = M::COLUMNS.iter().filter(|c| !M::KEY.contains(c)).map(|c| (ident(c), param())).collect();
            let update =
                ast::Update { table: ident(M::TABLE_NAME), set, filter: key_filter::<M>(), returning: Vec::new() };
            ast::render_into(dialect, caps, StatementRef::Update(&update), &mut template, &mut binds)
        }
        Shape::DeleteByKey => {
            let delete = ast::Delete { table: ident(M::TABLE_NAME), filter: key_filter::<M>(), returning: Vec::new() };
            ast::render_into(dialect, caps, StatementRef::Delete(&delete), &mut template, &mut binds)
        }
    }?;
    Ok(template)
}
