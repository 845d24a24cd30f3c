//! Putting both sides of a comparison in the form the backend gives them.

use crate::dialect::Dialect;
use crate::schema::{ColumnType, DefaultValue, Index, IndexKey, Table};

/// `table` as `dialect` would read it back: canonical types, no default on
/// autoincrement columns, and whatever the dialect changes besides.
pub fn canonical_table(dialect: &dyn Dialect, table: &Table) -> Table {
    let mut table = dialect.canonical_table(table);
    for column in &mut table.columns {
        column.ty = dialect.canonical_type(&column.ty);
        if column.autoincrement {
            column.default = None;
        }
        if !dialect.has_comments() {
            column.comment = None;
        }
    }
    if !dialect.has_comments() {
        table.comment = None;
    }
    table.normalize();
    table
}

/// Whether two types read back the same: named enum types (PostgreSQL) by
/// name, enums without named types by their values.
pub fn same_type(dialect: &dyn Dialect, a: &ColumnType, b: &ColumnType) -> bool {
    match (dialect.canonical_type(a), dialect.canonical_type(b)) {
        // A named enum type's values are compared with the type itself.
        (ColumnType::Enum { name: n1, .. }, ColumnType::Enum { name: n2, .. }) if dialect.named_enums() => n1 == n2,
        (ColumnType::Enum { values: v1, .. }, ColumnType::Enum { values: v2, .. }) => v1 == v2,
        (a, b) => a == b,
    }
}

/// Whether two defaults are the same value for a column of type `ty`.
pub fn same_default(a: &Option<DefaultValue>, b: &Option<DefaultValue>, ty: &ColumnType) -> bool {
    let fit = |d: &Option<DefaultValue>| d.clone().map(|d| crate::dialect::fit_default(d, ty));
    match (fit(a), fit(b)) {
        (Some(DefaultValue::Number(x)), Some(DefaultValue::Number(y))) => {
            x == y || x.parse::<f64>().ok().zip(y.parse::<f64>().ok()).is_some_and(|(x, y)| x == y)
        }
        (Some(DefaultValue::Expression(x)), Some(DefaultValue::Expression(y))) => {
            normalize_sql(&x) == normalize_sql(&y)
        }
        (x, y) => x == y,
    }
}

/// Whether two indexes of the same name are the same index.
pub fn same_index(a: &Index, b: &Index) -> bool {
    let key = |k: &IndexKey| match k {
        IndexKey::Column(c) => c.clone(),
        IndexKey::Expression(e) => normalize_sql(e),
    };
    a.unique == b.unique
        && a.keys.iter().map(key).eq(b.keys.iter().map(key))
        && a.predicate.as_deref().map(normalize_sql) == b.predicate.as_deref().map(normalize_sql)
}

/// An SQL expression in a form that ignores how each backend prints it:
/// lowercase, `BETWEEN` spelt out, without quotes around names, without
/// PostgreSQL's `::type` casts, parentheses and white space. (PostgreSQL's
/// rewriting of `IN (...)` as `= ANY (ARRAY[...])` is not undone.)
pub fn normalize_sql(sql: &str) -> String {
    const CASTS: [&str; 5] = [
        "character varying",
        "timestamp without time zone",
        "timestamp with time zone",
        "double precision",
        "time without time zone",
    ];
    let lower = expand_between(&sql.to_lowercase());
    let mut out = String::with_capacity(lower.len());
    let mut rest = lower.as_str();
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            in_string = !in_string;
        }
        if !in_string && rest.starts_with("::") {
            rest = &rest[2..];
            let long = CASTS.iter().find(|cast| rest.starts_with(*cast));
            let skip = match long {
                Some(cast) => cast.len(),
                None => rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '"')).unwrap_or(rest.len()),
            };
            rest = &rest[skip..];
            // A length or precision: `::varchar(20)`.
            if rest.starts_with('(')
                && let Some(end) = rest.find(')')
                && rest[1..end].chars().all(|ch| ch.is_ascii_digit() || ch == ',' || ch == ' ')
            {
                rest = &rest[end + 1..];
            }
            continue;
        }
        if in_string || !(c.is_whitespace() || c == '(' || c == ')' || c == '"' || c == '`') {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `x BETWEEN a AND b` as `x >= a AND x <= b`, the way PostgreSQL stores it
/// (for simple operands: a name or a literal each).
fn expand_between(sql: &str) -> String {
    let tokens: Vec<&str> = sql.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "between" && i + 3 < tokens.len() && tokens[i + 2] == "and" && !out.is_empty() {
            let subject = out.pop().unwrap_or_default();
            let (open, subject) = match subject.strip_prefix('(') {
                Some(rest) => ("(", rest.to_string()),
                None => ("", subject),
            };
            out.push(format!("{open}{subject} >= {} and {subject} <= {}", tokens[i + 1], tokens[i + 3]));
            i += 4;
        } else {
            out.push(tokens[i].to_string());
            i += 1;
        }
    }
    out.join(" ")
}
