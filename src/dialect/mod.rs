//! Per-backend SQL: identifier quoting, literals, type mapping in both
//! directions, rendering, and reflection. Backend differences live here and
//! nowhere else.

/// Declares a row struct for a catalog query: every column read as nullable
/// text (queries cast numbers to text), so one shape serves all backends.
macro_rules! text_row {
    ($name:ident { $($field:ident),* $(,)? }) => {
        #[derive(diesel::QueryableByName)]
        struct $name {
            $(
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                $field: Option<String>,
            )*
        }
    };
}

mod mysql;
mod postgres;
mod sqlite;

pub use mysql::MysqlDialect;
pub use postgres::PostgresDialect;
pub use sqlite::SqliteDialect;

use crate::db::{Backend, Connection, DbError};
use crate::schema::{Column, ColumnType, DefaultValue, EnumType, Index, IndexKey, NameFilter, Schema, Table};

/// What a backend knows how to do. Rendering methods are pure; `reflect`
/// talks to the database through a [`Connection`].
pub trait Dialect: Send + Sync {
    /// Short name used in files and `--dialect` (`postgresql`, `mysql`, `sqlite`).
    fn name(&self) -> &'static str;

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

    /// Renders a server default for a DEFAULT clause.
    fn render_default(&self, default: &DefaultValue) -> String;

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

    /// Statements creating a whole schema: enum types, then tables in the
    /// order given.
    fn create_schema(&self, schema: &Schema) -> Vec<String> {
        let enums = schema.enums.iter().filter_map(|e| self.create_enum(e));
        enums.chain(schema.tables.iter().flat_map(|t| self.create_table(t))).collect()
    }
}

/// The dialect for a backend.
pub fn for_backend(backend: Backend) -> Box<dyn Dialect> {
    match backend {
        Backend::Postgres => Box::new(PostgresDialect),
        Backend::Mysql => Box::new(MysqlDialect),
        Backend::Sqlite => Box::new(SqliteDialect),
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
fn create_table_sql(dialect: &dyn Dialect, table: &Table, columns: Vec<String>, inline_primary_key: bool) -> String {
    let mut lines = columns;
    let constraint = |name: &Option<String>| match name {
        Some(name) => format!("CONSTRAINT {} ", dialect.quote_identifier(name)),
        None => String::new(),
    };
    if let Some(pk) = table.primary_key.as_ref().filter(|_| !inline_primary_key) {
        lines.push(format!("{}PRIMARY KEY ({})", constraint(&pk.name), column_list(dialect, &pk.columns)));
    }
    for unique in &table.unique_constraints {
        lines.push(format!("{}UNIQUE ({})", constraint(&unique.name), column_list(dialect, &unique.columns)));
    }
    for fk in &table.foreign_keys {
        let mut line = format!(
            "{}FOREIGN KEY ({}) REFERENCES {} ({})",
            constraint(&fk.name),
            column_list(dialect, &fk.columns),
            dialect.quote_identifier(&fk.referred_table),
            column_list(dialect, &fk.referred_columns)
        );
        for (clause, action) in [("ON DELETE", fk.on_delete), ("ON UPDATE", fk.on_update)] {
            if let Some(action) = action {
                line.push_str(&format!(" {clause} {}", action.sql()));
            }
        }
        lines.push(line);
    }
    for check in &table.checks {
        lines.push(format!("{}CHECK ({})", constraint(&check.name), check.expression));
    }
    format!("CREATE TABLE {} (\n    {}\n)", dialect.quote_identifier(&table.name), lines.join(",\n    "))
}

/// `CREATE [UNIQUE] INDEX name ON table (keys) [WHERE predicate]`, expression
/// keys in parentheses.
fn create_index_sql(dialect: &dyn Dialect, table: &str, index: &Index) -> String {
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
    let value = match text.to_ascii_lowercase().as_str() {
        "now()" | "current_timestamp()" | "localtimestamp" | "localtimestamp()" => DefaultValue::CurrentTimestamp,
        "curdate()" | "current_date()" => DefaultValue::CurrentDate,
        "curtime()" | "current_time()" => DefaultValue::CurrentTime,
        _ => DefaultValue::parse(text),
    };
    Some(typed_default(value, ty))
}

/// A literal default in the form the column type gives it.
fn typed_default(value: DefaultValue, ty: &ColumnType) -> DefaultValue {
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
