//! Per-backend SQL: identifier quoting, literals, type mapping in both
//! directions, rendering, and reflection. Backend differences live here and
//! nowhere else.

mod failure;
mod mysql;
mod postgres;
pub mod query;
mod render;
mod sqlite;
mod transaction;

pub use failure::{ClassifyFailure, Failure, FailureKind};
pub use transaction::{AccessMode, IsolationLevel, TransactionOptions, TransactionSql};

pub use mysql::MysqlDialect;
pub use postgres::PostgresDialect;
pub use sqlite::SqliteDialect;

use crate::db::{Backend, Connection, DbError};
use crate::ops::{Op, Value};
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, EnumType, ForeignKey, Index, IndexKey, NameFilter, PrimaryKey, Schema,
    Table, UniqueConstraint,
};

/// What a backend knows how to do. Rendering methods are pure; `reflect`
/// talks to the database through a [`Connection`]. Rendering statements,
/// transaction control and the reading of errors are traits of their own.
pub trait Dialect: query::QueryHooks + TransactionSql + ClassifyFailure + Send + Sync {
    /// Short name used in files and `--dialect` (`postgresql`, `mysql`, `sqlite`).
    fn name(&self) -> &'static str;

    /// The backend this dialect speaks to.
    fn backend(&self) -> Backend;

    /// Quotes an identifier so that any name, however odd, is taken literally.
    fn quote_identifier(&self, ident: &str) -> String;

    /// Renders a string literal.
    fn quote_string(&self, value: &str) -> String;

    /// The SQL spelling of a portable type.
    fn render_type(&self, ty: &ColumnType) -> String;

    /// Parses a type as this backend reports it, synonyms normalised.
    fn parse_type(&self, sql: &str) -> ColumnType;

    /// The form a type takes in this backend: what reads back after creating
    /// a column of type `ty` (MySQL `uuid` is `char(36)`, SQLite has no
    /// `timestamptz`, ...). Comparing canonical types gives no false diffs.
    fn canonical_type(&self, ty: &ColumnType) -> ColumnType {
        self.parse_type(&self.render_type(ty))
    }

    /// `table` in the form this backend keeps it, for comparisons: what it
    /// does not keep (MySQL: unique indexes are unique constraints) removed
    /// or turned into what it keeps. Types are canonicalised separately.
    fn canonical_table(&self, table: &Table) -> Table {
        table.clone()
    }

    /// Whether enum types are named types of their own (PostgreSQL).
    fn named_enums(&self) -> bool {
        false
    }

    /// Whether `op` makes a new copy of a table (SQLite rebuilds), which
    /// takes as long as copying its rows.
    fn rebuilds_table(&self, _op: &Op, _before: &Schema) -> bool {
        false
    }

    /// Whether tables and columns keep comments.
    fn has_comments(&self) -> bool {
        true
    }

    /// Whether indexes can be partial (`WHERE ...`).
    fn partial_indexes(&self) -> bool {
        true
    }

    /// The `sqlparser` dialect that reads expressions as this backend
    /// stores them (for comparing checks, defaults, index predicates).
    fn expression_parser(&self) -> Box<dyn sqlparser::dialect::Dialect>;

    /// Whether columns can hold arrays (`bigint[]`: PostgreSQL).
    fn arrays(&self) -> bool {
        false
    }

    /// Why this backend cannot run `op` at all, if it cannot (MariaDB:
    /// expression indexes, unique partial indexes; arrays but on
    /// PostgreSQL); checked before a plan runs.
    fn cannot_run(&self, op: &Op) -> Option<String> {
        array_refusal(self, op)
    }

    /// The portable name of a function this backend renames when it stores
    /// an expression (MariaDB `lcase` is `lower`); `None` for the others.
    fn portable_function(&self, _name: &str) -> Option<&'static str> {
        None
    }

    /// Renders a server default for a DEFAULT clause.
    fn render_default(&self, default: &DefaultValue) -> String;

    /// A column's definition as in `CREATE TABLE` and `ADD COLUMN`.
    fn column_definition(&self, column: &Column) -> String;

    /// `CREATE INDEX` for `index` on `table`.
    fn create_index(&self, table: &str, index: &Index) -> String {
        create_index_sql(self, table, index)
    }

    /// A literal for a `bulk_insert` value.
    fn render_value(&self, value: &Value) -> String {
        match value {
            Value::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Text(s) => self.quote_string(s),
        }
    }

    /// The statements that perform `op` on a database whose schema is
    /// `before` (what some ops need to know: the whole table SQLite rebuilds,
    /// the full column MySQL redefines).
    fn render_op(&self, op: &Op, before: &Schema) -> Result<Vec<String>, RenderError>;

    /// Statements that create `table` with its columns, keys, constraints,
    /// indexes and comments. Foreign keys are inline, so referenced tables
    /// must exist first.
    fn create_table(&self, table: &Table) -> Vec<String>;

    /// Statement that creates a named enum type, where the backend has them.
    fn create_enum(&self, _enum_type: &EnumType) -> Option<String> {
        None
    }

    /// Reads the schema of the connected database: every table that passes
    /// `filter`, in a number of queries that does not depend on how many
    /// tables there are.
    fn reflect(&self, conn: &mut Connection, filter: &NameFilter) -> Result<Schema, ReflectError>;

    /// How this backend holds the run-wide lock named `key`; `cluster`: the
    /// server is a node of a Galera cluster, where named locks are node-local.
    fn run_lock(&self, key: &str, cluster: bool) -> RunLockKind;

    /// The database's clock, in UTC, `seconds` from now: leases are measured
    /// by the server's clock, whatever the clients' clocks say.
    fn clock_sql(&self, seconds: u64) -> String;

    /// Whether the holder in the lock row still holds the lock, as a
    /// condition on the lock table's columns (by default: its lease is still
    /// running); `key` names the run lock, as in [`Dialect::run_lock`].
    fn lock_live_sql(&self, key: &str, cluster: bool) -> String {
        let _ = (key, cluster);
        format!("{} >= {}", self.quote_identifier("expires_at"), self.clock_sql(0))
    }

    /// Learns what kind of server the connection reaches and sets the
    /// session up for it (Galera: reads wait until the node has applied what
    /// the cluster committed).
    fn prepare_session(&self, _conn: &mut Connection) -> Result<ServerFacts, DbError> {
        Ok(ServerFacts::default())
    }

    /// `CREATE TABLE IF NOT EXISTS`: two runs creating the table at once
    /// both succeed.
    fn create_table_if_missing(&self, table: &Table) -> Vec<String> {
        let mut statements = self.create_table(table);
        if let Some(first) = statements.first_mut()
            && let Some(rest) = first.strip_prefix("CREATE TABLE ")
        {
            *first = format!("CREATE TABLE IF NOT EXISTS {rest}");
        }
        statements
    }

    /// Whether DDL runs inside transactions (MySQL commits it implicitly).
    fn transactional_ddl(&self) -> bool {
        true
    }

    /// Whether what `op` makes can only be used once committed (PostgreSQL:
    /// a new enum value), so that a revision starting with such ops commits
    /// them before running the rest.
    fn commit_before_use(&self, _op: &Op) -> bool {
        false
    }

    /// Statement that opens a transaction.
    fn begin(&self) -> &'static str {
        "BEGIN"
    }

    /// Statement making the connection wait up to `seconds` for another
    /// process's lock on the database instead of failing (SQLite).
    fn busy_timeout(&self, _seconds: f64) -> Option<String> {
        None
    }

    /// Statements run once after connecting, before a migration run.
    fn session_setup(&self) -> Vec<String> {
        Vec::new()
    }

    /// Statements that put back, after a run on a connection an application
    /// lent, what [`Dialect::session_setup`] changes, as it is now on `conn`.
    fn session_restore(&self, _conn: &mut Connection) -> Result<Vec<String>, DbError> {
        Ok(Vec::new())
    }

    /// A query run before each commit whose rows, if any, are broken foreign
    /// keys (SQLite, where rebuilds run with enforcement off).
    fn foreign_key_check(&self) -> Option<&'static str> {
        None
    }

    /// The `sqlparser` dialect that reads this backend's SQL (to tell what
    /// a raw `execute` statement does).
    fn sql_parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::GenericDialect {})
    }

    /// Statements that drop every table and enum type of `schema`, whatever
    /// refers to what (emptying a shadow database).
    fn drop_everything(&self, schema: &Schema) -> Vec<String> {
        schema.tables.iter().map(|t| format!("DROP TABLE {}", self.quote_identifier(&t.name))).collect()
    }

    /// `CREATE DATABASE name` on a server; `None` where databases are files.
    fn create_database(&self, _name: &str) -> Option<String> {
        None
    }

    /// `DROP DATABASE name` on a server; `None` where databases are files.
    fn drop_database(&self, _name: &str) -> Option<String> {
        None
    }

    /// The database every server has, to connect to while creating or
    /// dropping another; `None` where databases are files.
    fn maintenance_database(&self) -> Option<&'static str> {
        None
    }

    /// Statements creating a whole schema: enum types, then tables in the
    /// order given.
    fn create_schema(&self, schema: &Schema) -> Vec<String> {
        let enums = schema.enums.iter().filter_map(|e| self.create_enum(e));
        enums.chain(schema.tables.iter().flat_map(|t| self.create_table(t))).collect()
    }
}

/// How a backend holds the run lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunLockKind {
    /// A lock of the server session (PostgreSQL advisory lock, a named lock
    /// on a single MariaDB/MySQL server); a holder row beside it only tells
    /// who holds it. The server frees it the moment its holder dies.
    Session(LockStatements),
    /// The lock row taken with a lease (MySQL/MariaDB): replicated and
    /// certified, so it holds across the nodes of a Galera cluster, where
    /// named locks are node-local.
    LeaseRow,
    /// An exclusive lock on a file beside the database (SQLite).
    File,
}

/// SQL to take and release a named session lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockStatements {
    /// Tries once, without waiting; one row, column `value`, `1` when taken.
    pub try_lock: String,
    /// Releases it; one row, column `value`.
    pub unlock: String,
    /// Taken by the holder row's writer on its own idle connection (one
    /// row, column `value`, `1` when taken), where the server keeps the run
    /// lock of a killed client until the statement it was running ends (a
    /// single MariaDB/MySQL server): this lock goes with the process, so
    /// `migrate current` tells a live run from a dead one finishing a statement.
    pub holder_lock: Option<String>,
}

/// What a session learned about its server in [`Dialect::prepare_session`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFacts {
    /// The Galera cluster the server is a node of, if it is one.
    pub cluster: Option<Cluster>,
    /// A PostgreSQL hot standby (`pg_is_in_recovery()`): it refuses writes.
    pub read_only_standby: bool,
}

/// A Galera cluster as one of its nodes sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Nodes in the cluster (`wsrep_cluster_size`).
    pub size: u32,
    /// How DDL reaches the other nodes (`wsrep_OSU_method`).
    pub schema_upgrades: SchemaUpgrades,
}

/// Galera's online schema upgrade method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaUpgrades {
    /// Total order isolation (`TOI`, the default): DDL runs on every node.
    TotalOrder,
    /// Rolling schema upgrade (`RSU`): DDL runs on this node only.
    Rolling,
}

/// Why `dialect` cannot create the array columns of `op`, if it has any
/// and the backend has no arrays.
pub fn array_refusal<D: Dialect + ?Sized>(dialect: &D, op: &Op) -> Option<String> {
    if dialect.arrays() {
        return None;
    }
    let columns: Vec<(&str, &ColumnType)> = match op {
        Op::CreateTable(table) => table.columns.iter().map(|c| (c.name.as_str(), &c.ty)).collect(),
        Op::AddColumn { column, .. } => vec![(column.name.as_str(), &column.ty)],
        Op::AlterColumn(alter) => alter.ty.iter().map(|ty| (alter.column.as_str(), ty)).collect(),
        _ => return None,
    };
    let (column, ty) = columns.into_iter().find(|(_, ty)| matches!(ty, ColumnType::Array(_)))?;
    Some(format!("column `{column}` is an array ({ty}), which only PostgreSQL has; store it as json here"))
}

/// An op this backend cannot perform as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot run {op} on {dialect}: {message}")]
pub struct RenderError {
    /// The op, as `Op::label` names it.
    pub op: String,
    /// The dialect's name.
    pub dialect: &'static str,
    /// Why.
    pub message: String,
}

/// The dialect for a backend.
pub fn for_backend(backend: Backend) -> Box<dyn Dialect> {
    match backend {
        Backend::Postgres => Box::new(PostgresDialect),
        Backend::Mysql => Box::new(MysqlDialect),
        Backend::Sqlite => Box::new(SqliteDialect),
    }
}

/// The dialect for a backend, borrowed: what the ORM looks up per statement.
pub fn of(backend: Backend) -> &'static dyn Dialect {
    match backend {
        Backend::Postgres => &PostgresDialect,
        Backend::Mysql => &MysqlDialect,
        Backend::Sqlite => &SqliteDialect,
    }
}

/// The dialect called `name` (`postgresql`/`postgres`, `mysql`/`mariadb`, `sqlite`).
pub fn by_name(name: &str) -> Option<Box<dyn Dialect>> {
    match name.to_ascii_lowercase().as_str() {
        "postgresql" | "postgres" => Some(Box::new(PostgresDialect)),
        "mysql" | "mariadb" => Some(Box::new(MysqlDialect)),
        "sqlite" => Some(Box::new(SqliteDialect)),
        _ => None,
    }
}

/// Reflection failed.
#[derive(Debug, thiserror::Error)]
pub enum ReflectError {
    /// A catalog query failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The catalog said something this tool cannot interpret.
    #[error("cannot read {object}: {message}")]
    Catalog {
        /// The table or object concerned.
        object: String,
        /// What was wrong.
        message: String,
    },
}

/// `'a', 'b'` for an SQL `IN (...)` list of names, quoted by `dialect`.
fn sql_name_list(dialect: &dyn Dialect, names: &[String]) -> String {
    names.iter().map(|n| dialect.quote_string(n)).collect::<Vec<_>>().join(", ")
}

/// Doubles every `quote` inside `text` and wraps it: the one quoting rule
/// ANSI identifiers, MySQL backticks and string literals share.
fn wrap_quoted(text: &str, quote: char) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        if c == quote {
            out.push(quote);
        }
        out.push(c);
    }
    out.push(quote);
    out
}

/// `"a", "b"`: names quoted as identifiers and joined.
fn column_list(dialect: &dyn Dialect, names: &[String]) -> String {
    names.iter().map(|n| dialect.quote_identifier(n)).collect::<Vec<_>>().join(", ")
}

/// `CREATE TABLE` with one line per column definition, then the primary key
/// (unless `inline_primary_key`), unique, foreign-key and check constraints.
fn create_table_sql(dialect: &dyn Dialect, table: &Table, inline_primary_key: bool) -> String {
    let mut lines: Vec<String> = table.columns.iter().map(|c| dialect.column_definition(c)).collect();
    if let Some(pk) = table.primary_key.as_ref().filter(|_| !inline_primary_key) {
        lines.push(primary_key_clause(dialect, pk));
    }
    lines.extend(table.unique_constraints.iter().map(|u| unique_clause(dialect, u)));
    lines.extend(table.foreign_keys.iter().map(|fk| foreign_key_clause(dialect, fk)));
    lines.extend(table.checks.iter().map(|c| check_clause(dialect, c)));
    format!("CREATE TABLE {} (\n    {}\n)", dialect.quote_identifier(&table.name), lines.join(",\n    "))
}

/// `CONSTRAINT "name" ` when there is a name.
fn constraint_name(dialect: &dyn Dialect, name: &Option<String>) -> String {
    name.as_ref().map(|n| format!("CONSTRAINT {} ", dialect.quote_identifier(n))).unwrap_or_default()
}

fn primary_key_clause(dialect: &dyn Dialect, pk: &PrimaryKey) -> String {
    format!("{}PRIMARY KEY ({})", constraint_name(dialect, &pk.name), column_list(dialect, &pk.columns))
}

fn unique_clause(dialect: &dyn Dialect, unique: &UniqueConstraint) -> String {
    format!("{}UNIQUE ({})", constraint_name(dialect, &unique.name), column_list(dialect, &unique.columns))
}

fn foreign_key_clause(dialect: &dyn Dialect, fk: &ForeignKey) -> String {
    let mut clause = format!(
        "{}FOREIGN KEY ({}) REFERENCES {} ({})",
        constraint_name(dialect, &fk.name),
        column_list(dialect, &fk.columns),
        dialect.quote_identifier(&fk.referred_table),
        column_list(dialect, &fk.referred_columns)
    );
    for (rule, action) in [("ON DELETE", fk.on_delete), ("ON UPDATE", fk.on_update)] {
        if let Some(action) = action {
            clause.push_str(&format!(" {rule} {}", action.sql()));
        }
    }
    clause
}

fn check_clause(dialect: &dyn Dialect, check: &Check) -> String {
    format!("{}CHECK ({})", constraint_name(dialect, &check.name), check.expression)
}

/// `CREATE [UNIQUE] INDEX name ON table (keys) [WHERE predicate]`, expression
/// keys in parentheses.
fn create_index_sql<D: Dialect + ?Sized>(dialect: &D, table: &str, index: &Index) -> String {
    let keys: Vec<String> = index
        .keys
        .iter()
        .map(|key| match key {
            IndexKey::Column(name) => dialect.quote_identifier(name),
            IndexKey::Expression(expr) => format!("({expr})"),
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        dialect.quote_identifier(&index.name),
        dialect.quote_identifier(table),
        keys.join(", ")
    );
    if let Some(predicate) = &index.predicate {
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    sql
}

/// A column definition's common part: name, type, `NOT NULL` (or `NULL`
/// when `explicit_null`), `DEFAULT`.
fn column_sql(dialect: &dyn Dialect, column: &Column, ty: &str, explicit_null: bool) -> String {
    let mut sql = format!("{} {ty}", dialect.quote_identifier(&column.name));
    if !column.nullable {
        sql.push_str(" NOT NULL");
    } else if explicit_null {
        sql.push_str(" NULL");
    }
    if let Some(default) = &column.default {
        sql.push_str(&format!(" DEFAULT {}", dialect.render_default(default)));
    }
    sql
}

/// Removes parentheses that wrap the whole of `text`, however many pairs.
fn strip_outer_parens(text: &str) -> &str {
    let mut text = text.trim();
    while text.starts_with('(') && text.ends_with(')') && closing_paren(text) == Some(text.len() - 1) {
        text = text[1..text.len() - 1].trim();
    }
    text
}

/// Byte index of the parenthesis closing the one `text` starts with, skipping
/// string literals.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Removes `quote`s around identifiers that need none (letters, digits and
/// `_`, not starting with a digit), outside string literals: `` `qty` > 0 ``
/// reads back as `qty > 0`, the way it was written.
fn unquote_plain_identifiers(expr: &str, quote: char) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            in_string = !in_string;
        } else if c == quote && !in_string {
            let inner_end = rest[1..].find(quote).map(|i| i + 1);
            if let Some(end) = inner_end {
                let inner = &rest[1..end];
                let plain = inner.chars().next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
                    && inner.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
                if plain {
                    out.push_str(inner);
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Reads a reflected default whose text is SQL (`'x'`, `0`, `CURRENT_TIMESTAMP`,
/// `(lower('a'))`), then fits it to the column type: numbers in a numeric
/// column, `1`/`0` in a boolean one. `NULL` is no default.
fn parse_default(sql: &str, ty: &ColumnType) -> Option<DefaultValue> {
    let text = strip_outer_parens(sql);
    if text.is_empty() || text.eq_ignore_ascii_case("null") {
        return None;
    }
    Some(fit_default(DefaultValue::parse(text), ty))
}

/// A literal default in the form the column type gives it: numbers in a
/// numeric column, `1`/`0` as booleans in a boolean one.
pub fn fit_default(value: DefaultValue, ty: &ColumnType) -> DefaultValue {
    let numeric = matches!(
        ty,
        ColumnType::Smallint
            | ColumnType::Integer
            | ColumnType::Bigint
            | ColumnType::Real
            | ColumnType::Double
            | ColumnType::Numeric { .. }
    );
    match value {
        DefaultValue::String(s) if numeric && s.trim().parse::<f64>().is_ok() => DefaultValue::Number(s.trim().into()),
        DefaultValue::Number(n) if *ty == ColumnType::Boolean && (n == "0" || n == "1") => {
            DefaultValue::Boolean(n == "1")
        }
        other => other,
    }
}

/// Splits a type as a catalog spells it into its lowercase base name (spaces
/// collapsed), its numeric arguments, and whatever follows them.
fn split_type(sql: &str) -> (String, Option<Vec<u32>>, String) {
    let lower = sql.trim().to_ascii_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
    let Some((base, rest)) = lower.split_once('(') else { return (lower, Some(Vec::new()), String::new()) };
    let Some((inner, tail)) = rest.split_once(')') else { return (lower, None, String::new()) };
    let args = inner.split(',').map(|a| a.trim().parse().ok()).collect();
    (base.trim().to_string(), args, tail.trim().to_string())
}

/// The portable type for the common spellings every backend shares; `None`
/// for anything else.
fn common_type(base: &str, args: &[u32]) -> Option<ColumnType> {
    Some(match (base, args) {
        ("smallint", []) => ColumnType::Smallint,
        ("integer", []) => ColumnType::Integer,
        ("bigint", []) => ColumnType::Bigint,
        ("boolean", []) => ColumnType::Boolean,
        ("real", []) => ColumnType::Real,
        ("double precision", []) => ColumnType::Double,
        ("numeric" | "decimal", []) => ColumnType::Numeric { precision: None, scale: None },
        ("numeric" | "decimal", [p]) => ColumnType::Numeric { precision: Some(*p), scale: Some(0) },
        ("numeric" | "decimal", [p, s]) => ColumnType::Numeric { precision: Some(*p), scale: Some(*s) },
        ("varchar" | "character varying", []) => ColumnType::Varchar { length: None },
        ("varchar" | "character varying", [n]) => ColumnType::Varchar { length: Some(*n) },
        ("char" | "character", []) => ColumnType::Char { length: Some(1) },
        ("char" | "character", [n]) => ColumnType::Char { length: Some(*n) },
        ("text", []) => ColumnType::Text,
        ("date", []) => ColumnType::Date,
        ("time", []) => ColumnType::Time,
        ("timestamp", []) => ColumnType::Timestamp,
        ("uuid", []) => ColumnType::Uuid,
        ("json", []) => ColumnType::Json,
        _ => return None,
    })
}

/// Every column of enum type `name` in `schema`, with its table.
fn enum_columns<'a>(schema: &'a Schema, name: &str) -> Vec<(&'a str, &'a Column)> {
    let of_type = |c: &&Column| matches!(&c.ty, ColumnType::Enum { name: n, .. } if n == name);
    schema.tables.iter().flat_map(|t| t.columns.iter().filter(of_type).map(move |c| (t.name.as_str(), c))).collect()
}
