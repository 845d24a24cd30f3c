//! Statements as plain data: what the ORM builds and [`super::render`] turns
//! into SQL text and a bind list. Untyped on purpose: `orm::expr` wraps these
//! nodes with Rust types, so a wrong comparison fails to compile there. The
//! nodes live here, with their renderer, because the dialects sit below the
//! ORM and import nothing from it.

use super::Value;
use crate::schema::ColumnType;

/// An SQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column, optionally qualified by a table, alias or CTE name.
    Column {
        /// Qualifier.
        table: Option<Name>,
        /// Column name.
        name: Name,
    },
    /// A bound parameter: the value is never spliced into the text.
    Bind(Value<'static>),
    /// `NULL`.
    Null,
    /// `*` (in `count(*)` and `SELECT *`).
    Star,
    /// A binary operation.
    Binary {
        /// Operator.
        op: BinaryOp,
        /// Left side.
        left: Box<Expr>,
        /// Right side.
        right: Box<Expr>,
    },
    /// `a AND b AND ...` (`TRUE` when empty).
    And(Vec<Expr>),
    /// `a OR b OR ...` (`FALSE` when empty).
    Or(Vec<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `a IS [NOT] NULL`.
    IsNull {
        /// Tested expression.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `a [NOT] LIKE b`, or case-insensitive (`ILIKE`, emulated where absent).
    Like {
        /// Tested expression.
        expr: Box<Expr>,
        /// Pattern.
        pattern: Box<Expr>,
        /// Case-insensitive.
        case_insensitive: bool,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `a [NOT] IN (x, y, ...)`.
    InList {
        /// Tested expression.
        expr: Box<Expr>,
        /// The list (an empty list is never true).
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `a [NOT] IN (SELECT ...)`.
    InSelect {
        /// Tested expression.
        expr: Box<Expr>,
        /// The subquery.
        select: Box<Select>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `a [NOT] BETWEEN low AND high`.
    Between {
        /// Tested expression.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `[NOT] EXISTS (SELECT ...)`.
    Exists {
        /// The subquery.
        select: Box<Select>,
        /// `NOT EXISTS`.
        negated: bool,
    },
    /// `(SELECT ...)` as a scalar.
    Subquery(Box<Select>),
    /// A function or aggregate call.
    Call(Box<Call>),
    /// `CASE WHEN c THEN v ... ELSE e END`.
    Case {
        /// Conditions and their values, in order.
        whens: Vec<(Expr, Expr)>,
        /// The value when none holds (`NULL` when absent).
        otherwise: Option<Box<Expr>>,
    },
    /// `CAST(a AS type)`.
    Cast {
        /// The expression.
        expr: Box<Expr>,
        /// Target type.
        ty: ColumnType,
    },
    /// A value of an `INSERT` row taken from the row that conflicted
    /// (`EXCLUDED.c` / `VALUES(c)`), in an upsert's update set.
    Excluded(Name),
    /// SQL text written by a dialect (the server's clock, a condition on
    /// its lock catalog), spliced as it is: never a value.
    Sql(std::borrow::Cow<'static, str>),
    /// `columns IN (keys)` for loading related rows (and Core's lists of
    /// integers, `in_list`): `= ANY($1)` with one
    /// array where the backend binds arrays and the key is one column, else
    /// an `IN` list padded to a bucket size (repeating the last key), so
    /// that a few statement texts serve every number of keys.
    KeyIn {
        /// The key's columns (one, or several for a composite key).
        columns: Vec<Expr>,
        /// The keys, one value per column each, one key after another.
        keys: Vec<Value<'static>>,
    },
    /// An expression that could not be built (a relationship that does not
    /// match its foreign keys): rendering it fails with this message.
    Invalid(String),
}

/// A name: an identifier, always quoted when rendered.
pub type Name = std::borrow::Cow<'static, str>;

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

/// A function call, aggregate or window function.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Which function.
    pub func: Func,
    /// Arguments.
    pub args: Vec<Expr>,
    /// `count(DISTINCT x)`.
    pub distinct: bool,
    /// `FILTER (WHERE ...)` (a `CASE` where the backend has no `FILTER`).
    pub filter: Option<Expr>,
    /// `OVER (...)`: a window function.
    pub over: Option<Window>,
}

/// The functions statements can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `count`
    Count,
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `lower`
    Lower,
    /// `upper`
    Upper,
    /// `coalesce`
    Coalesce,
    /// `abs`
    Abs,
    /// `row_number`
    RowNumber,
    /// `rank`
    Rank,
    /// `dense_rank`
    DenseRank,
    /// `lag`
    Lag,
    /// `lead`
    Lead,
    /// `first_value`
    FirstValue,
    /// `last_value`
    LastValue,
}

impl Func {
    /// Whether it aggregates rows (so `FILTER` applies).
    pub fn is_aggregate(self) -> bool {
        matches!(self, Func::Count | Func::Sum | Func::Avg | Func::Min | Func::Max)
    }
}

/// `OVER (PARTITION BY ... ORDER BY ... frame)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    /// `PARTITION BY`.
    pub partition_by: Vec<Expr>,
    /// `ORDER BY`.
    pub order_by: Vec<OrderBy>,
    /// `ROWS`/`RANGE BETWEEN ... AND ...`.
    pub frame: Option<Frame>,
}

/// A window frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// `ROWS` or `RANGE`.
    pub units: FrameUnits,
    /// Start.
    pub start: FrameBound,
    /// End.
    pub end: FrameBound,
}

/// How a frame counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameUnits {
    /// Physical rows.
    Rows,
    /// Peers by the ordering value.
    Range,
}

/// One end of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameBound {
    /// `UNBOUNDED PRECEDING`
    UnboundedPreceding,
    /// `n PRECEDING`
    Preceding(u64),
    /// `CURRENT ROW`
    CurrentRow,
    /// `n FOLLOWING`
    Following(u64),
    /// `UNBOUNDED FOLLOWING`
    UnboundedFollowing,
}

/// One `ORDER BY` item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// Sort key.
    pub expr: Expr,
    /// Descending.
    pub descending: bool,
    /// Where `NULL`s go (the backend's default when absent).
    pub nulls: Option<Nulls>,
}

/// `NULLS FIRST` / `NULLS LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// Before every value.
    First,
    /// After every value.
    Last,
}

/// A `SELECT` (with its `WITH` clause and set operations).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Select {
    /// Common table expressions.
    pub with: Vec<Cte>,
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// Result columns, in order.
    pub columns: Vec<SelectItem>,
    /// `FROM` sources (comma-joined).
    pub from: Vec<Source>,
    /// Joins after the `FROM` sources.
    pub joins: Vec<Join>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<Expr>,
    /// `HAVING`.
    pub having: Option<Expr>,
    /// `UNION` / `INTERSECT` / `EXCEPT` with further selects.
    pub compound: Vec<(SetOp, Select)>,
    /// `ORDER BY` (of the whole compound).
    pub order_by: Vec<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

/// A result column.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    /// The value.
    pub expr: Expr,
    /// `AS alias`.
    pub alias: Option<Name>,
}

/// A `WITH` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    /// Its name.
    pub name: Name,
    /// Column names (`name(a, b)`), or none to take the select's.
    pub columns: Vec<Name>,
    /// Its query (for a recursive CTE: the anchor with a `UNION [ALL]` of the step).
    pub select: Select,
    /// Whether it refers to itself (`WITH RECURSIVE`).
    pub recursive: bool,
}

/// A `FROM` source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A table or CTE by name, optionally aliased.
    Table {
        /// Table or CTE name.
        name: Name,
        /// `AS alias`.
        alias: Option<Name>,
    },
    /// `(SELECT ...) AS alias`.
    Subquery {
        /// The query.
        select: Box<Select>,
        /// Its alias (every backend accepts one; MySQL needs it).
        alias: Name,
    },
}

/// A join.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Kind.
    pub kind: JoinKind,
    /// What is joined.
    pub source: Source,
    /// `ON` condition.
    pub on: Expr,
}

/// Join kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `INNER JOIN`
    Inner,
    /// `LEFT JOIN`
    Left,
    /// `RIGHT JOIN`
    Right,
    /// `FULL JOIN` (not on MySQL/MariaDB).
    Full,
}

/// Set operations between selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// `UNION`
    Union,
    /// `UNION ALL`
    UnionAll,
    /// `INTERSECT`
    Intersect,
    /// `EXCEPT`
    Except,
}

/// An `INSERT`; `'a` is the lifetime of the values it borrows (see
/// [`InsertSource::Binds`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Insert<'a> {
    /// Target table.
    pub table: Name,
    /// Columns given.
    pub columns: Vec<Name>,
    /// Rows or a query.
    pub source: InsertSource<'a>,
    /// Upsert.
    pub on_conflict: Option<OnConflict>,
    /// `RETURNING` columns (an error where the backend has none).
    pub returning: Vec<Expr>,
}

/// Where inserted rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertSource<'a> {
    /// `VALUES (...), (...)`.
    Values(Vec<Vec<Expr>>),
    /// `VALUES (...), (...)` of binds only: the values row after row, each
    /// row as wide as the columns, borrowed from the caller's objects where
    /// they can be (`insert_into(..).models(..)` copies no text).
    Binds(Vec<Value<'a>>),
    /// `INSERT ... SELECT`.
    Select(Box<Select>),
    /// Rows inserted in the order given: `SELECT column1, ... FROM (VALUES
    /// (..., 0), (..., 1)) ORDER BY` the counter, so generated keys are
    /// handed out in this order (see the session's batched insert). `types`
    /// are the columns' types, for backends that cast the selected values.
    InOrder {
        /// The rows, each as wide as the insert's columns.
        rows: Vec<Vec<Expr>>,
        /// Each column's type.
        types: Vec<ColumnType>,
    },
}

/// What an insert does with a row that violates a unique key.
#[derive(Debug, Clone, PartialEq)]
pub struct OnConflict {
    /// The unique key's columns (PostgreSQL and SQLite name it; MySQL uses any).
    pub target: Vec<Name>,
    /// Column assignments; none means the row is skipped.
    pub update: Vec<(Name, Expr)>,
}

/// An `UPDATE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Target table.
    pub table: Name,
    /// Assignments.
    pub set: Vec<(Name, Expr)>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `RETURNING` columns.
    pub returning: Vec<Expr>,
}

/// A `DELETE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// Target table.
    pub table: Name,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `RETURNING` columns.
    pub returning: Vec<Expr>,
}

/// Raw SQL with `:name` parameters, bound by name.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSql {
    /// The text as written.
    pub sql: String,
    /// Values for the names.
    pub binds: Vec<(String, Value<'static>)>,
}

/// A borrowed statement, what the renderer takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatementRef<'a> {
    /// `SELECT`.
    Select(&'a Select),
    /// `INSERT`.
    Insert(&'a Insert<'a>),
    /// `UPDATE`.
    Update(&'a Update),
    /// `DELETE`.
    Delete(&'a Delete),
    /// Raw SQL.
    Raw(&'a RawSql),
}

impl StatementRef<'_> {
    /// What kind of statement it is, for errors and logs.
    pub fn kind(&self) -> StatementKind {
        match self {
            StatementRef::Select(_) => StatementKind::Select,
            StatementRef::Insert(_) => StatementKind::Insert,
            StatementRef::Update(_) => StatementKind::Update,
            StatementRef::Delete(_) => StatementKind::Delete,
            StatementRef::Raw(_) => StatementKind::Raw,
        }
    }

    /// Whether it can return rows: a write without `RETURNING` never does.
    /// Raw SQL can unless it starts (after comments) with a write or
    /// schema keyword and has no `RETURNING`.
    pub fn returns_rows(&self) -> bool {
        match self {
            StatementRef::Select(_) => true,
            StatementRef::Raw(raw) => raw_returns_rows(&raw.sql),
            StatementRef::Insert(i) => !i.returning.is_empty(),
            StatementRef::Update(u) => !u.returning.is_empty(),
            StatementRef::Delete(d) => !d.returning.is_empty(),
        }
    }

    /// The table it writes, if it writes one.
    pub fn table(&self) -> Option<&str> {
        match self {
            StatementRef::Insert(i) => Some(&i.table),
            StatementRef::Update(u) => Some(&u.table),
            StatementRef::Delete(d) => Some(&d.table),
            StatementRef::Select(_) | StatementRef::Raw(_) => None,
        }
    }
}

/// Whether raw SQL can return rows: false for a statement whose first
/// keyword writes (`INSERT`, `UPDATE`, `DELETE`, DDL, ...) and that has no
/// `RETURNING`; true for anything else, so that an unknown statement is
/// still read.
fn raw_returns_rows(sql: &str) -> bool {
    const WRITES: &[&str] = &[
        "INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "GRANT",
        "REVOKE", "SET", "LOCK", "UNLOCK",
    ];
    let mut rest = sql.trim_start();
    loop {
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after).trim_start();
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after).trim_start();
        } else {
            break;
        }
    }
    let first = rest.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    let writes = WRITES.iter().any(|w| w.eq_ignore_ascii_case(first));
    !writes || rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').any(|w| w.eq_ignore_ascii_case("RETURNING"))
}

/// The kinds of statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    /// `SELECT`.
    Select,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// Raw SQL given by the application.
    Raw,
    /// Opening, committing or rolling back a transaction or savepoint.
    Transaction,
}

impl std::fmt::Display for StatementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StatementKind::Select => "select",
            StatementKind::Insert => "insert",
            StatementKind::Update => "update",
            StatementKind::Delete => "delete",
            StatementKind::Raw => "text",
            StatementKind::Transaction => "transaction control",
        })
    }
}
