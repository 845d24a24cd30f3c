//! Typed expressions: [`Column`] handles (the derive makes one per field),
//! bound values, operators, functions, `CASE`, casts and windows. Each
//! wraps an untyped [`ast::Expr`]; the Rust type parameter makes comparing
//! a `Column<M, i64>` with a `&str` a compile error.
//!
//! ```
//! use migrate::orm::prelude::*;
//! const ID: Column<(), i64> = Column::new("users", "id");
//! let _ = ID.eq(1);
//! ```
//!
//! ```compile_fail
//! use migrate::orm::prelude::*;
//! const ID: Column<(), i64> = Column::new("users", "id");
//! let _ = ID.eq("one"); // a text value for an integer column
//! ```

use super::value::SqlValue;
use crate::dialect::query::{self as ast, BinaryOp, Call, Func, Name, Nulls, OrderBy};
use crate::schema::ColumnType;
use std::borrow::Cow;
use std::marker::PhantomData;

/// A typed column of model `M` holding `T`, as `User::EMAIL`.
pub struct Column<M, T> {
    /// The table (or alias) that qualifies it.
    pub table: &'static str,
    /// The column's name.
    pub name: &'static str,
    marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Column<M, T> {
    /// The column `name` of `table`.
    pub const fn new(table: &'static str, name: &'static str) -> Self {
        Column { table, name, marker: PhantomData }
    }

    /// The column `name`, not qualified by a table: for statements on one
    /// table whose name is known only at run time ([`super::query::NamedTable`]).
    pub const fn unqualified(name: &'static str) -> Self {
        Column { table: "", name, marker: PhantomData }
    }

    /// The same column qualified by `alias` (a self-join's second table).
    pub const fn of(self, alias: &'static str) -> Self {
        Column { table: alias, name: self.name, marker: PhantomData }
    }
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Column<M, T> {}

impl<M, T> std::fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.table, self.name)
    }
}

/// A typed expression whose value is a `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr<T> {
    node: ast::Expr,
    marker: PhantomData<fn() -> T>,
}

impl<T> Expr<T> {
    /// Wraps an untyped node, asserting its type.
    pub fn from_node(node: ast::Expr) -> Self {
        Expr { node, marker: PhantomData }
    }

    /// The untyped node.
    pub fn into_node(self) -> ast::Expr {
        self.node
    }
}

/// Anything that is an expression of type `T` in a statement: columns,
/// expressions, and plain values (bound as parameters).
pub trait IntoExpr<T> {
    /// The untyped node.
    fn into_node(self) -> ast::Expr;
}

// A value and an `Option` of it are separate impls, so that a literal
// (`.gt(1)`) takes the column's type rather than defaulting to `i32`.
impl<V: SqlValue<Base = V>> IntoExpr<V> for V {
    fn into_node(self) -> ast::Expr {
        ast::Expr::Bind(self.to_value().into_owned())
    }
}

// `None` is a parameter too: the text of a statement does not depend on
// which values are NULL, so one prepared statement serves every row.
impl<V: SqlValue<Base = V>> IntoExpr<V> for Option<V> {
    fn into_node(self) -> ast::Expr {
        ast::Expr::Bind(self.to_value().into_owned())
    }
}

impl IntoExpr<String> for &str {
    fn into_node(self) -> ast::Expr {
        ast::Expr::Bind(ast::Value::Text(Cow::Owned(self.to_string())))
    }
}

impl IntoExpr<String> for &String {
    fn into_node(self) -> ast::Expr {
        self.as_str().into_node()
    }
}

impl IntoExpr<String> for Option<&str> {
    fn into_node(self) -> ast::Expr {
        ast::Expr::Bind(match self {
            Some(text) => ast::Value::Text(Cow::Owned(text.to_string())),
            None => ast::Value::Null,
        })
    }
}

impl<M, T: SqlValue> IntoExpr<T::Base> for Column<M, T> {
    fn into_node(self) -> ast::Expr {
        Expression::node(self)
    }
}

impl<T: SqlValue> IntoExpr<T::Base> for Expr<T> {
    fn into_node(self) -> ast::Expr {
        self.node
    }
}

/// `expr [NOT] IN (list)`: a list of integer parameters as a list of keys
/// (`ast::Expr::KeyIn`), anything else as written.
fn in_values(expr: ast::Expr, list: Vec<ast::Expr>, negated: bool) -> ast::Expr {
    let integer = |e: &ast::Expr| matches!(e, ast::Expr::Bind(v) if v.as_i64().is_some());
    if list.is_empty() || !list.iter().all(integer) {
        return ast::Expr::InList { expr: Box::new(expr), list, negated };
    }
    let keys = list.into_iter().filter_map(|e| if let ast::Expr::Bind(v) = e { Some(v) } else { None }).collect();
    let keys = ast::Expr::KeyIn { columns: vec![expr], keys };
    if negated { ast::Expr::Not(Box::new(keys)) } else { keys }
}

/// The operators and methods every typed expression has.
// `is_null` builds `IS NULL` from the expression it consumes: SQL's name
// (and diesel's), not a predicate on the Rust value.
#[allow(clippy::wrong_self_convention)]
pub trait Expression: Sized {
    /// The Rust type of its value.
    type Value: SqlValue;

    /// The untyped node.
    fn node(self) -> ast::Expr;

    /// As an [`Expr`], for combining.
    fn expr(self) -> Expr<Self::Value> {
        Expr::from_node(self.node())
    }

    /// `self = other`
    fn eq(self, other: impl IntoExpr<Base<Self>>) -> Expr<bool> {
        binary(BinaryOp::Eq, self.node(), other.into_node())
    }
    /// `self <> other`
    fn ne(self, other: impl IntoExpr<Base<Self>>) -> Expr<bool> {
        binary(BinaryOp::Ne, self.node(), other.into_node())
    }
    /// `self < other`
    fn lt(self, other: impl IntoExpr<Base<Self>>) -> Expr<bool> {
        binary(BinaryOp::Lt, self.node(), other.into_node())
    }
    /// `self <= other`
    fn le(self, other: impl IntoExpr<Base<Self>>) -> Expr<bool> {
        binary(BinaryOp::Le, self.node(), other.into_node())
    }
    /// `self > other`
    fn gt(self, other: impl IntoExpr<Base<Self>>) -> Expr<bool> {
        binary(BinaryOp::Gt, self.node(), other.into_node())
    }
    /// `self >= other`
    fn ge(self, other: impl IntoExpr<Base<Self>>) -> Expr<bool> {
        binary(BinaryOp::Ge, self.node(), other.into_node())
    }
    /// `self + other`
    fn add(self, other: impl IntoExpr<Base<Self>>) -> Expr<Self::Value> {
        Expr::from_node(binary(BinaryOp::Add, self.node(), other.into_node()).node)
    }
    /// `self - other`
    fn sub(self, other: impl IntoExpr<Base<Self>>) -> Expr<Self::Value> {
        Expr::from_node(binary(BinaryOp::Sub, self.node(), other.into_node()).node)
    }
    /// `self * other`
    fn mul(self, other: impl IntoExpr<Base<Self>>) -> Expr<Self::Value> {
        Expr::from_node(binary(BinaryOp::Mul, self.node(), other.into_node()).node)
    }
    /// `self IS NULL`
    fn is_null(self) -> Expr<bool> {
        Expr::from_node(ast::Expr::IsNull { expr: Box::new(self.node()), negated: false })
    }
    /// `self IS NOT NULL`
    fn is_not_null(self) -> Expr<bool> {
        Expr::from_node(ast::Expr::IsNull { expr: Box::new(self.node()), negated: true })
    }
    /// `self BETWEEN low AND high`
    fn between(self, low: impl IntoExpr<Base<Self>>, high: impl IntoExpr<Base<Self>>) -> Expr<bool> {
        Expr::from_node(ast::Expr::Between {
            expr: Box::new(self.node()),
            low: Box::new(low.into_node()),
            high: Box::new(high.into_node()),
            negated: false,
        })
    }
    /// `self IN (values...)`; an empty list holds for no row. A list of
    /// integers is bound as relationship loading binds its keys: one array
    /// parameter on PostgreSQL (`= ANY($1)`), one JSON text on SQLite
    /// (`json_each`), an `IN` list padded to a few sizes on MySQL/MariaDB,
    /// so that one prepared statement serves lists of many lengths.
    fn in_list<V: IntoExpr<Base<Self>>>(self, values: impl IntoIterator<Item = V>) -> Expr<bool> {
        Expr::from_node(in_values(self.node(), values.into_iter().map(IntoExpr::into_node).collect(), false))
    }
    /// `self NOT IN (values...)`
    fn not_in_list<V: IntoExpr<Base<Self>>>(self, values: impl IntoIterator<Item = V>) -> Expr<bool> {
        Expr::from_node(in_values(self.node(), values.into_iter().map(IntoExpr::into_node).collect(), true))
    }
    /// `self IN (SELECT ...)`
    fn in_select(self, select: super::query::Select) -> Expr<bool> {
        Expr::from_node(ast::Expr::InSelect {
            expr: Box::new(self.node()),
            select: Box::new(select.into_ast()),
            negated: false,
        })
    }
    /// `self NOT IN (SELECT ...)`
    fn not_in_select(self, select: super::query::Select) -> Expr<bool> {
        Expr::from_node(ast::Expr::InSelect {
            expr: Box::new(self.node()),
            select: Box::new(select.into_ast()),
            negated: true,
        })
    }
    /// `self LIKE pattern`
    fn like(self, pattern: impl IntoExpr<String>) -> Expr<bool>
    where
        Self::Value: SqlValue<Base = String>,
    {
        like(self.node(), pattern.into_node(), false, false)
    }
    /// `self NOT LIKE pattern`
    fn not_like(self, pattern: impl IntoExpr<String>) -> Expr<bool>
    where
        Self::Value: SqlValue<Base = String>,
    {
        like(self.node(), pattern.into_node(), false, true)
    }
    /// Case-insensitive `LIKE` (`ILIKE`, or `lower() LIKE lower()` where absent).
    fn ilike(self, pattern: impl IntoExpr<String>) -> Expr<bool>
    where
        Self::Value: SqlValue<Base = String>,
    {
        like(self.node(), pattern.into_node(), true, false)
    }
    /// Ascending order.
    fn asc(self) -> Order {
        Order(OrderBy { expr: self.node(), descending: false, nulls: None })
    }
    /// Descending order.
    fn desc(self) -> Order {
        Order(OrderBy { expr: self.node(), descending: true, nulls: None })
    }
    /// `self AS alias` in a select list.
    fn as_(self, alias: &'static str) -> Aliased<Self::Value> {
        Aliased { item: ast::SelectItem { expr: self.node(), alias: Some(Cow::Borrowed(alias)) }, marker: PhantomData }
    }
    /// `CAST(self AS ty)`, read back as `U`.
    fn cast<U: SqlValue>(self, ty: ColumnType) -> Expr<U> {
        Expr::from_node(ast::Expr::Cast { expr: Box::new(self.node()), ty })
    }
}

/// The comparison type of an expression.
pub type Base<E> = <<E as Expression>::Value as SqlValue>::Base;

impl<M, T: SqlValue> Expression for Column<M, T> {
    type Value = T;
    fn node(self) -> ast::Expr {
        let table = (!self.table.is_empty()).then_some(Cow::Borrowed(self.table));
        ast::Expr::Column { table, name: Cow::Borrowed(self.name) }
    }
}

impl<T: SqlValue> Expression for Expr<T> {
    type Value = T;
    fn node(self) -> ast::Expr {
        self.node
    }
}

fn binary(op: BinaryOp, left: ast::Expr, right: ast::Expr) -> Expr<bool> {
    Expr::from_node(ast::Expr::Binary { op, left: Box::new(left), right: Box::new(right) })
}

fn like(expr: ast::Expr, pattern: ast::Expr, case_insensitive: bool, negated: bool) -> Expr<bool> {
    Expr::from_node(ast::Expr::Like { expr: Box::new(expr), pattern: Box::new(pattern), case_insensitive, negated })
}

impl Expr<bool> {
    /// `self AND other`
    pub fn and(self, other: Expr<bool>) -> Expr<bool> {
        let mut items = match self.node {
            ast::Expr::And(items) => items,
            node => vec![node],
        };
        items.push(other.node);
        Expr::from_node(ast::Expr::And(items))
    }

    /// `self OR other`
    pub fn or(self, other: Expr<bool>) -> Expr<bool> {
        let mut items = match self.node {
            ast::Expr::Or(items) => items,
            node => vec![node],
        };
        items.push(other.node);
        Expr::from_node(ast::Expr::Or(items))
    }
}

/// `NOT e`
pub fn not(e: Expr<bool>) -> Expr<bool> {
    Expr::from_node(ast::Expr::Not(Box::new(e.node)))
}

/// `a AND b AND ...` of all of `items` (true when there are none).
pub fn and_all(items: impl IntoIterator<Item = Expr<bool>>) -> Expr<bool> {
    Expr::from_node(ast::Expr::And(items.into_iter().map(|e| e.node).collect()))
}

/// `a OR b OR ...` of all of `items` (false when there are none).
pub fn or_any(items: impl IntoIterator<Item = Expr<bool>>) -> Expr<bool> {
    Expr::from_node(ast::Expr::Or(items.into_iter().map(|e| e.node).collect()))
}

/// `EXISTS (SELECT ...)`
pub fn exists(select: super::query::Select) -> Expr<bool> {
    Expr::from_node(ast::Expr::Exists { select: Box::new(select.into_ast()), negated: false })
}

/// `NOT EXISTS (SELECT ...)`
pub fn not_exists(select: super::query::Select) -> Expr<bool> {
    Expr::from_node(ast::Expr::Exists { select: Box::new(select.into_ast()), negated: true })
}

/// A scalar subquery `(SELECT ...)` whose one column is a `T`.
pub fn scalar<T: SqlValue>(select: super::query::Select) -> Expr<T> {
    Expr::from_node(ast::Expr::Subquery(Box::new(select.into_ast())))
}

/// A value bound as a parameter, as an expression (`SELECT :v`).
pub fn value<V: SqlValue>(v: V) -> Expr<V> {
    Expr::from_node(ast::Expr::Bind(v.to_value().into_owned()))
}

/// SQL text that a dialect wrote (its server clock, a lock condition),
/// typed `T`; spliced as it is, so it must never carry a value: bind those.
pub fn dialect_sql<T: SqlValue>(sql: impl Into<Cow<'static, str>>) -> Expr<T> {
    Expr::from_node(ast::Expr::Sql(sql.into()))
}

/// `CASE WHEN c THEN v ... ELSE otherwise END`.
pub fn case<T: SqlValue>(
    whens: impl IntoIterator<Item = (Expr<bool>, Expr<T>)>,
    otherwise: Option<Expr<T>>,
) -> Expr<T> {
    Expr::from_node(ast::Expr::Case {
        whens: whens.into_iter().map(|(c, v)| (c.node, v.node)).collect(),
        otherwise: otherwise.map(|e| Box::new(e.node)),
    })
}

/// An ordering item, `.asc()` or `.desc()` of an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Order(pub(crate) OrderBy);

impl Order {
    /// `NULLS FIRST` (emulated where absent).
    pub fn nulls_first(mut self) -> Self {
        self.0.nulls = Some(Nulls::First);
        self
    }

    /// `NULLS LAST` (emulated where absent).
    pub fn nulls_last(mut self) -> Self {
        self.0.nulls = Some(Nulls::Last);
        self
    }
}

/// A select-list item with an alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Aliased<T> {
    pub(crate) item: ast::SelectItem,
    marker: PhantomData<fn() -> T>,
}

/// A function call: aggregates take `.distinct()` and `.filter()`, and any
/// of them `.over()` a window.
#[derive(Debug, Clone, PartialEq)]
pub struct FnCall<T> {
    call: Call,
    marker: PhantomData<fn() -> T>,
}

impl<T: SqlValue> FnCall<T> {
    fn new(func: Func, args: Vec<ast::Expr>) -> Self {
        FnCall { call: Call { func, args, distinct: false, filter: None, over: None }, marker: PhantomData }
    }

    /// `f(DISTINCT x)`.
    pub fn distinct(mut self) -> Self {
        self.call.distinct = true;
        self
    }

    /// `f(x) FILTER (WHERE condition)` (a `CASE` inside on MySQL/MariaDB).
    pub fn filter(mut self, condition: Expr<bool>) -> Self {
        self.call.filter = Some(condition.node);
        self
    }

    /// `f(x) OVER (window)`.
    pub fn over(mut self, window: Window) -> Self {
        self.call.over = Some(window.0);
        self
    }
}

impl<T: SqlValue> Expression for FnCall<T> {
    type Value = T;
    fn node(self) -> ast::Expr {
        ast::Expr::Call(Box::new(self.call))
    }
}

impl<T: SqlValue> IntoExpr<T::Base> for FnCall<T> {
    fn into_node(self) -> ast::Expr {
        Expression::node(self)
    }
}

/// `count(*)`.
pub fn count_star() -> FnCall<i64> {
    FnCall::new(Func::Count, vec![ast::Expr::Star])
}

/// `count(e)`: non-null values.
pub fn count(e: impl Expression) -> FnCall<i64> {
    FnCall::new(Func::Count, vec![e.node()])
}

/// `sum(e)`: `NULL` over no rows.
pub fn sum<E: Expression>(e: E) -> FnCall<Option<Base<E>>>
where
    Base<E>: SqlValue,
{
    FnCall::new(Func::Sum, vec![e.node()])
}

/// `avg(e)`, read as a double.
pub fn avg(e: impl Expression) -> FnCall<Option<f64>> {
    FnCall::new(Func::Avg, vec![e.node()])
}

/// `min(e)`.
pub fn min<E: Expression>(e: E) -> FnCall<Option<Base<E>>>
where
    Base<E>: SqlValue,
{
    FnCall::new(Func::Min, vec![e.node()])
}

/// `max(e)`.
pub fn max<E: Expression>(e: E) -> FnCall<Option<Base<E>>>
where
    Base<E>: SqlValue,
{
    FnCall::new(Func::Max, vec![e.node()])
}

/// `lower(e)`.
pub fn lower<E: Expression<Value = String>>(e: E) -> FnCall<String> {
    FnCall::new(Func::Lower, vec![e.node()])
}

/// `upper(e)`.
pub fn upper<E: Expression<Value = String>>(e: E) -> FnCall<String> {
    FnCall::new(Func::Upper, vec![e.node()])
}

/// `coalesce(e, otherwise)`.
pub fn coalesce<E: Expression>(e: E, otherwise: impl IntoExpr<Base<E>>) -> FnCall<Base<E>>
where
    Base<E>: SqlValue,
{
    FnCall::new(Func::Coalesce, vec![e.node(), otherwise.into_node()])
}

/// `row_number()` (use with `.over()`).
pub fn row_number() -> FnCall<i64> {
    FnCall::new(Func::RowNumber, Vec::new())
}

/// `rank()` (use with `.over()`).
pub fn rank() -> FnCall<i64> {
    FnCall::new(Func::Rank, Vec::new())
}

/// `dense_rank()` (use with `.over()`).
pub fn dense_rank() -> FnCall<i64> {
    FnCall::new(Func::DenseRank, Vec::new())
}

/// `lag(e, offset)`: the value `offset` rows before (`NULL` before the first).
pub fn lag<E: Expression>(e: E, offset: i32) -> FnCall<Option<Base<E>>>
where
    Base<E>: SqlValue,
{
    FnCall::new(Func::Lag, vec![e.node(), ast::Expr::Bind(ast::Value::I32(offset))])
}

/// `lead(e, offset)`: the value `offset` rows after.
pub fn lead<E: Expression>(e: E, offset: i32) -> FnCall<Option<Base<E>>>
where
    Base<E>: SqlValue,
{
    FnCall::new(Func::Lead, vec![e.node(), ast::Expr::Bind(ast::Value::I32(offset))])
}

/// `first_value(e)` over the window frame.
pub fn first_value<E: Expression>(e: E) -> FnCall<E::Value> {
    FnCall::new(Func::FirstValue, vec![e.node()])
}

/// A window: `PARTITION BY`, `ORDER BY` and a frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window(ast::Window);

impl Window {
    /// A window partitioned by `e`.
    pub fn partition_by(e: impl Expression) -> Self {
        Window::default().and_partition_by(e)
    }

    /// A window over all rows ordered by `order`.
    pub fn ordered(order: Order) -> Self {
        Window::default().order_by(order)
    }

    /// Adds a partition key.
    pub fn and_partition_by(mut self, e: impl Expression) -> Self {
        self.0.partition_by.push(e.node());
        self
    }

    /// Adds an ordering key.
    pub fn order_by(mut self, order: Order) -> Self {
        self.0.order_by.push(order.0);
        self
    }

    /// `ROWS BETWEEN start AND end`.
    pub fn rows(mut self, start: ast::FrameBound, end: ast::FrameBound) -> Self {
        self.0.frame = Some(ast::Frame { units: ast::FrameUnits::Rows, start, end });
        self
    }

    /// `RANGE BETWEEN start AND end`.
    pub fn range(mut self, start: ast::FrameBound, end: ast::FrameBound) -> Self {
        self.0.frame = Some(ast::Frame { units: ast::FrameUnits::Range, start, end });
        self
    }
}

/// A name for a statement's parts (CTE, alias, column), never spliced unquoted.
pub(crate) fn name(text: &'static str) -> Name {
    Cow::Borrowed(text)
}
