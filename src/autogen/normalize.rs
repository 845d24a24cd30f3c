//! Putting both sides of a comparison in the form the backend gives them.
//!
//! Expressions (checks, index keys and predicates, defaults) are parsed with
//! `sqlparser` in the backend's dialect and rewritten into one canonical
//! form: what each backend does to an expression when it stores it
//! (PostgreSQL's casts and `= ANY (ARRAY[...])`, MariaDB's `lcase` and
//! `octet_length`, `BETWEEN` spelt out, redundant parentheses, `0.00`) is
//! undone on both sides alike. Text that does not parse falls back to a
//! textual normalisation.

use crate::dialect::Dialect;
use crate::schema::{ColumnType, DefaultValue, Index, IndexKey, Schema, Table};
use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Ident, InTarget, UnaryOperator, Value, ValueWithSpan,
    visit_expressions_mut,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;
use std::ops::ControlFlow;

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

/// `schema` as it is compared: canonical tables whose expressions and
/// defaults are in their canonical text, so that two values compared equal
/// print alike (`check`'s diff shows this).
pub fn compared_schema(dialect: &dyn Dialect, schema: &Schema) -> Schema {
    let mut tables: Vec<Table> = schema.tables.iter().map(|t| canonical_table(dialect, t)).collect();
    for table in &mut tables {
        for check in &mut table.checks {
            check.expression = canonical_sql(dialect, &check.expression);
        }
        for index in &mut table.indexes {
            for key in &mut index.keys {
                if let IndexKey::Expression(e) = key {
                    *e = canonical_sql(dialect, e);
                }
            }
            index.predicate = index.predicate.as_deref().map(|p| canonical_sql(dialect, p));
        }
        for column in &mut table.columns {
            column.default = column.default.take().map(|d| canonical_default(dialect, d, &column.ty));
        }
    }
    Schema { tables, enums: schema.enums.clone() }
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
pub fn same_default(
    dialect: &dyn Dialect,
    a: &Option<DefaultValue>,
    b: &Option<DefaultValue>,
    ty: &ColumnType,
) -> bool {
    let canonical = |d: &Option<DefaultValue>| d.clone().map(|d| canonical_default(dialect, d, ty));
    canonical(a) == canonical(b)
}

/// A default in the form it is compared and shown: fitted to its column,
/// numbers without trailing zeros, dates and times without a midnight
/// time, expressions canonical.
fn canonical_default(dialect: &dyn Dialect, default: DefaultValue, ty: &ColumnType) -> DefaultValue {
    match crate::dialect::fit_default(default, ty) {
        DefaultValue::Number(n) => DefaultValue::Number(canonical_number(&n)),
        DefaultValue::String(s) if matches!(ty, ColumnType::Date | ColumnType::Timestamp | ColumnType::Timestamptz) => {
            DefaultValue::String(without_midnight(&s).to_string())
        }
        DefaultValue::Expression(e) => DefaultValue::Expression(canonical_sql(dialect, &e)),
        other => other,
    }
}

/// Whether two indexes of the same name are the same index.
pub fn same_index(dialect: &dyn Dialect, a: &Index, b: &Index) -> bool {
    let key = |k: &IndexKey| match k {
        IndexKey::Column(c) => c.clone(),
        IndexKey::Expression(e) => canonical_sql(dialect, e),
    };
    let predicate = |i: &Index| i.predicate.as_deref().map(|p| canonical_sql(dialect, p));
    a.unique == b.unique && a.keys.iter().map(key).eq(b.keys.iter().map(key)) && predicate(a) == predicate(b)
}

/// An SQL expression in the canonical form of `dialect`: two expressions the
/// backend stores alike have the same canonical form. Text `sqlparser`
/// cannot read is normalised as text instead ([`normalize_sql`]).
pub fn canonical_sql(dialect: &dyn Dialect, sql: &str) -> String {
    let parser_dialect = dialect.expression_parser();
    let parsed = Parser::new(parser_dialect.as_ref()).try_with_sql(sql).and_then(|mut parser| {
        let expr = parser.parse_expr()?;
        parser.expect_token(&Token::EOF)?;
        Ok(expr)
    });
    match parsed {
        Ok(mut expr) => {
            let _ = visit_expressions_mut(&mut expr, |e: &mut Expr| {
                canonical_node(dialect, e);
                ControlFlow::<()>::Continue(())
            });
            expr.to_string()
        }
        Err(_) => normalize_sql(sql),
    }
}

/// Rewrites one node whose children are canonical already (the visit is
/// post-order).
fn canonical_node(dialect: &dyn Dialect, expr: &mut Expr) {
    let taken = std::mem::replace(expr, Expr::Value(Value::Null.into()));
    *expr = match taken {
        Expr::Nested(inner) => *inner,
        Expr::Cast { kind: CastKind::DoubleColon | CastKind::Cast, expr: inner, data_type, .. } => {
            // A cast the backend added, or one that changes nothing compared.
            match (*inner, numeric(&data_type)) {
                (Expr::Value(ValueWithSpan { value: Value::SingleQuotedString(s), .. }), true)
                    if s.parse::<f64>().is_ok() =>
                {
                    number(canonical_number(&s))
                }
                (inner, _) => inner,
            }
        }
        Expr::Value(ValueWithSpan { value: Value::Number(n, long), span }) => {
            Expr::Value(ValueWithSpan { value: Value::Number(canonical_number(&n), long), span })
        }
        Expr::Value(ValueWithSpan { value: Value::SingleQuotedString(s), span }) => {
            Expr::Value(ValueWithSpan { value: Value::SingleQuotedString(without_midnight(&s).into()), span })
        }
        Expr::UnaryOp { op: UnaryOperator::Minus, expr: inner } => match *inner {
            Expr::Value(ValueWithSpan { value: Value::Number(n, _), .. }) => number(canonical_number(&format!("-{n}"))),
            inner => Expr::UnaryOp { op: UnaryOperator::Minus, expr: Box::new(parenthesized(inner)) },
        },
        Expr::UnaryOp { op: UnaryOperator::Plus, expr: inner } => *inner,
        Expr::UnaryOp { op: UnaryOperator::Not, expr: inner } => negated(*inner),
        Expr::Identifier(ident) => Expr::Identifier(canonical_ident(ident)),
        Expr::CompoundIdentifier(idents) => Expr::CompoundIdentifier(idents.into_iter().map(canonical_ident).collect()),
        Expr::Function(mut function) => {
            let name = function.name.to_string().to_lowercase();
            let name = dialect.portable_function(&name).map(str::to_string).unwrap_or(name);
            function.name = sqlparser::ast::ObjectName::from(vec![Ident::new(name)]);
            Expr::Function(function)
        }
        // PostgreSQL stores `x IN (a, b)` as `x = ANY (ARRAY[a, b])`, `NOT IN` as `<> ALL`.
        Expr::AnyOp { left, compare_op: BinaryOperator::Eq, right, .. } if matches!(*right, Expr::Array(_)) => {
            in_list(*left, array_items(*right), false)
        }
        Expr::AllOp { left, compare_op: BinaryOperator::NotEq, right } if matches!(*right, Expr::Array(_)) => {
            in_list(*left, array_items(*right), true)
        }
        Expr::In { expr: subject, target: InTarget::List(list), negated: not, .. } => in_list(*subject, list, not),
        Expr::Between { expr: subject, negated: not, low, high } => {
            let (low_op, high_op, join) = if not {
                (BinaryOperator::Lt, BinaryOperator::Gt, BinaryOperator::Or)
            } else {
                (BinaryOperator::GtEq, BinaryOperator::LtEq, BinaryOperator::And)
            };
            let low = binary(*subject.clone(), low_op, *low);
            let high = binary(*subject, high_op, *high);
            binary(low, join, high)
        }
        Expr::BinaryOp { left, op, right } => {
            let like = |negated, left: Box<Expr>, right: Box<Expr>| Expr::Like {
                negated,
                any: false,
                expr: left,
                pattern: right,
                escape_char: None,
            };
            match op {
                // PostgreSQL's spellings of LIKE.
                BinaryOperator::PGLikeMatch => like(false, left, right),
                BinaryOperator::PGNotLikeMatch => like(true, left, right),
                op => binary(*left, op, *right),
            }
        }
        other => other,
    };
}

/// `NOT expr` with the negation folded into a comparison or test, as
/// MariaDB stores it (`NOT (a = b)` is `a <> b`).
fn negated(expr: Expr) -> Expr {
    let flip = |op: &BinaryOperator| match op {
        BinaryOperator::Eq => Some(BinaryOperator::NotEq),
        BinaryOperator::NotEq => Some(BinaryOperator::Eq),
        BinaryOperator::Lt => Some(BinaryOperator::GtEq),
        BinaryOperator::GtEq => Some(BinaryOperator::Lt),
        BinaryOperator::Gt => Some(BinaryOperator::LtEq),
        BinaryOperator::LtEq => Some(BinaryOperator::Gt),
        _ => None,
    };
    match expr {
        Expr::BinaryOp { left, op, right } if flip(&op).is_some() => {
            Expr::BinaryOp { left, op: flip(&op).expect("checked above"), right }
        }
        Expr::IsNull(inner) => Expr::IsNotNull(inner),
        Expr::IsNotNull(inner) => Expr::IsNull(inner),
        Expr::In { expr, target, negated, global } => Expr::In { expr, target, negated: !negated, global },
        Expr::Like { negated, any, expr, pattern, escape_char } => {
            Expr::Like { negated: !negated, any, expr, pattern, escape_char }
        }
        other => Expr::UnaryOp { op: UnaryOperator::Not, expr: Box::new(parenthesized(other)) },
    }
}

/// `subject [NOT] IN (list)`; a list of one is a comparison, as both
/// PostgreSQL and MariaDB store it.
fn in_list(subject: Expr, mut list: Vec<Expr>, negated: bool) -> Expr {
    if list.len() == 1 {
        let op = if negated { BinaryOperator::NotEq } else { BinaryOperator::Eq };
        return binary(subject, op, list.remove(0));
    }
    Expr::In { expr: Box::new(parenthesized(subject)), target: InTarget::List(list), negated, global: false }
}

fn array_items(array: Expr) -> Vec<Expr> {
    match array {
        Expr::Array(array) => array.elem,
        other => vec![other],
    }
}

/// `left op right`, each side in parentheses unless it is one term: one
/// parenthesisation for every way of writing it.
fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::BinaryOp { left: Box::new(parenthesized(left)), op, right: Box::new(parenthesized(right)) }
}

fn parenthesized(expr: Expr) -> Expr {
    match expr {
        Expr::BinaryOp { .. }
        | Expr::UnaryOp { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::In { .. }
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..) => Expr::Nested(Box::new(expr)),
        other => other,
    }
}

/// A name without quotes; unquoted names in lower case, as they are folded.
fn canonical_ident(ident: Ident) -> Ident {
    let value = if ident.quote_style.is_none() { ident.value.to_lowercase() } else { ident.value };
    Ident::new(value)
}

fn number(n: String) -> Expr {
    Expr::Value(Value::Number(n, false).into())
}

fn numeric(data_type: &DataType) -> bool {
    let name = data_type.to_string().to_ascii_lowercase();
    ["int", "bigint", "smallint", "numeric", "decimal", "real", "double", "float"].iter().any(|n| name.starts_with(n))
}

/// A decimal number without a leading `+`, leading zeros or trailing
/// fractional zeros: `0.00` is `0`, `1.50` is `1.5`, `-0` is `0`.
pub fn canonical_number(n: &str) -> String {
    let n = n.trim();
    let (sign, digits) = match n.strip_prefix('-') {
        Some(rest) => ("-", rest.trim()),
        None => ("", n.strip_prefix('+').unwrap_or(n).trim()),
    };
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '.') || digits.matches('.').count() > 1 || digits.is_empty() {
        return n.to_string();
    }
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let body = if fraction.is_empty() { whole.to_string() } else { format!("{whole}.{fraction}") };
    if body == "0" { body } else { format!("{sign}{body}") }
}

/// `2020-01-01 00:00:00` is `2020-01-01`, as a timestamp column stores a date.
fn without_midnight(text: &str) -> &str {
    let date_like = |d: &str| {
        d.len() == 10 && d.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() })
    };
    let midnight = |time: &str| {
        let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
        clock == "00:00:00" && fraction.chars().all(|c| c == '0')
    };
    match text.split_once(' ') {
        Some((date, time)) if date_like(date) && midnight(time) => date,
        _ => text,
    }
}

/// An SQL expression as text, normalised where it cannot be parsed: it ignores how each backend prints it:
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
