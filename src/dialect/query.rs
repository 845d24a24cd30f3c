//! The one renderer of ORM statements: statement nodes ([`Select`],
//! [`Insert`], ...) into SQL text with bind positions, for every backend, with small per-backend hooks
//! ([`QueryHooks`], implemented in each backend's file). Values are never
//! spliced into the text; each becomes a placeholder and a [`Value`].

mod ast;
mod value;

pub use ast::*;
pub use value::{Decode, DecodeError, FieldError, InvalidValue, KeyArray, Value, no_arrays, not_null};

use super::Dialect;
use crate::schema::ColumnType;
use std::fmt::Write as _;

/// What a backend's server can do, decided once from its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// `INSERT ... RETURNING`.
    pub returning_insert: bool,
    /// `UPDATE ... RETURNING`.
    pub returning_update: bool,
    /// `DELETE ... RETURNING`.
    pub returning_delete: bool,
    /// How a one-column list of keys can be bound.
    pub key_list: KeyList,
}

/// How a one-column list of keys (`WHERE user_id IN (...)`, what `selectin`
/// loading sends) is bound. Every form but `Padded` carries any number of
/// keys in one parameter, so one statement serves every list; `Padded` is
/// also what composite keys and keys of other types than those named get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyList {
    /// An `IN` list padded to a [`KEY_BUCKETS`] size (and chunked by the
    /// loader).
    Padded,
    /// `= ANY($1)` with an array (PostgreSQL): integer, text and UUID keys.
    Array,
    /// `IN (SELECT value FROM json_each(?))` with a JSON array (SQLite
    /// 3.38+, where JSON is built in): integer keys.
    JsonEach,
    /// `IN (SELECT k FROM JSON_TABLE(?, ...))` with a JSON array (MySQL
    /// 8.0.4+, MariaDB 10.6+): integer keys, more than [`IN_LIST_MAX`] of
    /// them. Up to that many go in a padded `IN` list, in one statement:
    /// the optimizer knows how many keys a list has and picks a scan or
    /// index lookups by it, while it estimates any `JSON_TABLE` at 40 rows
    /// and always probes the index (three times slower where the keys
    /// select most of the table).
    JsonTable,
}

/// The most keys one padded `IN` list carries, where they do not go into
/// one parameter (SQLAlchemy's chunk size).
pub const IN_LIST_CHUNK: usize = 500;

/// MySQL/MariaDB ([`KeyList::JsonTable`]): the most keys one `IN` list
/// carries before `JSON_TABLE` takes them (4,096 placeholders of the
/// protocol's 65,535).
pub const IN_LIST_MAX: usize = 4096;

/// A list of keys, `width` values each, one key after another (what
/// [`Expr::KeyIn`] holds, as many values per key as it has columns).
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// Values per key: the key's columns.
    pub width: usize,
    /// The keys' values.
    pub values: &'a [Value<'static>],
}

impl<'a> Keys<'a> {
    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.values.len() / self.width.max(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values of the `i`th key.
    pub fn key(&self, i: usize) -> &'a [Value<'static>] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    /// The keys in lists of at most `n`.
    pub fn chunks(&self, n: usize) -> impl Iterator<Item = Keys<'a>> + use<'a> {
        let width = self.width;
        self.values.chunks(n.max(1) * width.max(1)).map(move |values| Keys { width, values })
    }
}

impl Capabilities {
    /// Whether `keys` go into one parameter (see [`KeyList`]), so that one
    /// statement carries them all, whatever their number.
    pub fn binds_key_list(&self, keys: Keys<'_>) -> bool {
        fits_key_list(self.key_list, keys)
    }

    /// How many of `keys` one statement carries: all of them where they go
    /// into one parameter; else as many as an `IN` list takes (on
    /// MySQL/MariaDB, [`IN_LIST_MAX`] placeholders, however many columns a
    /// key has).
    pub fn keys_per_statement(&self, keys: Keys<'_>) -> usize {
        match self.key_list {
            _ if self.binds_key_list(keys) => keys.len(),
            KeyList::JsonTable => (IN_LIST_MAX / keys.width.max(1)).max(1),
            _ => IN_LIST_CHUNK,
        }
    }
}

/// Whether `keys` go into one parameter in the form `list`, decided without
/// building it: one column each, all of one type the form takes, and for
/// `JSON_TABLE` more than [`IN_LIST_MAX`] of them.
fn fits_key_list(list: KeyList, keys: Keys<'_>) -> bool {
    if keys.width != 1 {
        return false;
    }
    match list {
        KeyList::Padded => false,
        KeyList::JsonTable if keys.len() <= IN_LIST_MAX => false,
        KeyList::Array => {
            let Some(first) = keys.values.first() else { return false };
            let kind = std::mem::discriminant(first);
            KeyArray::holds(first) && keys.values.iter().all(|k| std::mem::discriminant(k) == kind)
        }
        KeyList::JsonEach | KeyList::JsonTable => keys.values.iter().all(|k| k.as_i64().is_some()),
    }
}

/// The one parameter that carries `keys` in the form `list` (where they
/// fit it: [`fits_key_list`]).
fn key_list_value(list: KeyList, keys: Keys<'_>) -> Option<Value<'static>> {
    if list == KeyList::Array {
        return KeyArray::of(keys.values).map(Value::Array);
    }
    let mut json = String::from("[");
    for (i, key) in keys.values.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        write!(json, "{}", key.as_i64()?).ok()?;
    }
    json.push(']');
    Some(Value::Text(std::borrow::Cow::Owned(json)))
}

/// What the text of a list of keys (`Expr::KeyIn`) depends on, besides its
/// columns and the server: the same shape, the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyShape {
    /// No keys: `(1 = 0)`.
    Empty,
    /// One parameter carrying them all ([`KeyList`] other than `Padded`).
    List,
    /// An `IN` list of this many keys (padded with the last).
    Padded(usize),
}

/// The shape of a list of `keys` on a server with `caps` (decided without
/// building its parameters).
pub fn key_shape(caps: Capabilities, keys: Keys<'_>) -> KeyShape {
    match keys.len() {
        0 => KeyShape::Empty,
        _ if caps.binds_key_list(keys) => KeyShape::List,
        n => KeyShape::Padded(key_bucket(n)),
    }
}

/// The shape of a list of `keys` on a server with `caps`, with its
/// parameters put into `binds` in order: what the renderer binds for it. A
/// statement whose only parameters are one such list has one text per
/// shape, so a caller may render it once and bind the keys of the others.
pub fn key_in_binds<'a>(caps: Capabilities, keys: Keys<'a>, binds: &mut Vec<Value<'a>>) -> KeyShape {
    let shape = key_shape(caps, keys);
    match shape {
        KeyShape::Empty => {}
        KeyShape::List => binds.extend(key_list_value(caps.key_list, keys)),
        KeyShape::Padded(bucket) => {
            let last = keys.len() - 1;
            for i in 0..bucket {
                binds.extend(keys.key(i.min(last)).iter().map(Value::borrowed));
            }
        }
    }
    shape
}

/// How a backend spells an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertSyntax {
    /// `ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c` / `DO NOTHING`.
    OnConflict,
    /// `ON DUPLICATE KEY UPDATE c = VALUES(c)`.
    OnDuplicateKey,
}

/// The per-backend differences of statement SQL.
pub trait QueryHooks {
    /// The character identifiers are quoted with.
    fn identifier_quote(&self) -> char {
        '"'
    }

    /// Writes the placeholder of the `n`th parameter (from 1).
    fn placeholder(&self, out: &mut String, _n: usize) {
        out.push('?');
    }

    /// Whether `ILIKE` exists (else `lower(a) LIKE lower(b)`).
    fn has_ilike(&self) -> bool {
        false
    }

    /// Whether `ORDER BY ... NULLS FIRST/LAST` exists (else a leading `IS NULL` key).
    fn has_nulls_order(&self) -> bool {
        true
    }

    /// Whether aggregates take `FILTER (WHERE ...)` (else `CASE WHEN ... END`).
    fn has_aggregate_filter(&self) -> bool {
        true
    }

    /// Whether `FULL JOIN` exists.
    fn has_full_join(&self) -> bool {
        true
    }

    /// The `LIMIT` a query needs for an `OFFSET` alone (`None`: `OFFSET` stands alone).
    fn limit_for_offset_only(&self) -> Option<&'static str> {
        None
    }

    /// Whether a parameter inside a select-list item needs a `CAST` to give
    /// the result column a type (MariaDB reports an untyped one as `NULL`,
    /// which its client library cannot read).
    fn casts_select_list_parameters(&self) -> bool {
        false
    }

    /// How upserts are spelt.
    fn upsert_syntax(&self) -> UpsertSyntax {
        UpsertSyntax::OnConflict
    }

    /// The type name in `CAST(x AS ...)`.
    fn cast_type(&self, ty: &ColumnType) -> String;

    /// A query whose one row and column is the server's version text.
    fn server_version_query(&self) -> &'static str;

    /// What a server of `version` (as the version query returns it) can do.
    fn capabilities(&self, version: &str) -> Capabilities;

    /// A query whose one row and column is the key the last `INSERT`
    /// generated, where `RETURNING` is missing.
    fn last_insert_id_query(&self) -> &'static str {
        "SELECT LAST_INSERT_ID() AS value"
    }

    /// The name of the `n`th column (from 1) of a `VALUES` list used as a
    /// table, for inserts of rows in a given order; `None` where that form
    /// is not used (MySQL/MariaDB, whose keys come from `LAST_INSERT_ID()`).
    fn values_column(&self, _n: usize) -> Option<String> {
        None
    }

    /// Whether the columns selected from such a `VALUES` list are cast to
    /// their column's type (PostgreSQL types an all-text or all-`NULL`
    /// column of the list as `text`, which no other column type accepts).
    fn casts_ordered_insert_columns(&self) -> bool {
        false
    }

    /// The most parameters one statement may bind.
    fn max_parameters(&self) -> usize {
        65_535
    }

    /// A query whose one row holds whether a multi-row `INSERT` is
    /// guaranteed consecutive generated keys (1 or 0) and the step between
    /// them, on backends that report keys by `LAST_INSERT_ID()`; `None`
    /// elsewhere.
    fn batched_key_settings_query(&self) -> Option<&'static str> {
        None
    }

    /// Index of this backend's slot in per-backend memo tables (below [`MEMO_SLOTS`]).
    fn memo_slot(&self) -> usize;

    /// What the newest supported server can do: statements printed without
    /// a connection (`to_sql`) assume it.
    fn latest_capabilities(&self) -> Capabilities {
        Capabilities {
            returning_insert: true,
            returning_update: true,
            returning_delete: true,
            key_list: KeyList::Padded,
        }
    }
}

/// How many backends memo tables hold.
pub const MEMO_SLOTS: usize = 3;

/// A statement that the backend (or the server version) cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The backend lacks a feature the statement uses.
    #[error("{dialect} has no {feature}")]
    Unsupported {
        /// The dialect's name.
        dialect: &'static str,
        /// What is missing (`FULL JOIN`, `RETURNING on UPDATE`, ...).
        feature: &'static str,
    },
    /// A `:name` of a `text()` statement has no bound value.
    #[error("text statement: no value bound for `:{name}`")]
    MissingBind {
        /// The parameter's name.
        name: String,
    },
    /// A value was bound to a name the text does not use.
    #[error("text statement: `:{name}` is bound but not used")]
    UnusedBind {
        /// The parameter's name.
        name: String,
    },
    /// An `INSERT` without rows, or rows of different widths.
    #[error("insert into {table}: {message}")]
    BadInsert {
        /// The table.
        table: String,
        /// What is wrong.
        message: &'static str,
    },
    /// An `UPDATE` that sets nothing.
    #[error("update of {table} sets no column")]
    EmptyUpdate {
        /// The table.
        table: String,
    },
    /// An expression that could not be built (a relationship that does not
    /// match its foreign keys).
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
}

/// The sizes `IN` lists of keys are padded to, so that a few statement
/// texts serve every number of keys; past the last (MySQL/MariaDB's lists
/// of up to [`IN_LIST_MAX`] keys), the next power of two.
pub const KEY_BUCKETS: [usize; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, IN_LIST_CHUNK];

/// The size an `IN` list of `n` keys is padded to: past [`IN_LIST_MAX`]
/// (a long Core list where the server has no list parameter) `n` itself,
/// so that padding never takes a list past the server's parameter limit.
pub fn key_bucket(n: usize) -> usize {
    match KEY_BUCKETS.iter().copied().find(|&b| b >= n) {
        Some(bucket) => bucket,
        None if n <= IN_LIST_MAX => n.next_power_of_two(),
        None => n,
    }
}

/// SQL text with the positions where parameters go, without the values:
/// what a model memoises per statement shape and backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    /// The text between parameters, concatenated.
    pub sql: String,
    /// Byte offsets into `sql` where each parameter goes, in order.
    pub splits: Vec<usize>,
}

impl Template {
    /// The template of `sql`, a statement without parameters.
    pub fn without_parameters(sql: &str) -> Template {
        Template { sql: sql.to_string(), splits: Vec::new() }
    }

    /// The pieces of text around the parameters: one more than there are parameters.
    pub fn pieces(&self) -> impl Iterator<Item = &str> {
        let ends = self.splits.iter().copied().chain(std::iter::once(self.sql.len()));
        let mut start = 0;
        ends.map(move |end| {
            let piece = &self.sql[start..end];
            start = end;
            piece
        })
    }

    /// The SQL with `dialect`'s placeholders, as the server receives it.
    pub fn to_sql(&self, dialect: &dyn Dialect) -> String {
        let mut out = String::with_capacity(self.sql.len() + 4 * self.splits.len());
        for (i, piece) in self.pieces().enumerate() {
            if i > 0 {
                dialect.placeholder(&mut out, i);
            }
            out.push_str(piece);
        }
        out
    }
}

impl Template {
    /// The SQL with each parameter replaced by `binds`' value as a literal
    /// of `dialect`: for offline scripts, which no server binds values for.
    pub fn with_literals(&self, dialect: &dyn Dialect, binds: &[Value<'_>]) -> Result<String, QueryError> {
        let mut out = String::with_capacity(self.sql.len() + 8 * self.splits.len());
        for (i, piece) in self.pieces().enumerate() {
            if i > 0 {
                let value = binds.get(i - 1).ok_or(QueryError::Unsupported {
                    dialect: dialect.name(),
                    feature: "a statement with fewer values than parameters",
                })?;
                out.push_str(&literal(dialect, value)?);
            }
            out.push_str(piece);
        }
        Ok(out)
    }
}

/// `value` as an SQL literal of `dialect` (text through its string quoting).
fn literal(dialect: &dyn Dialect, value: &Value<'_>) -> Result<String, QueryError> {
    Ok(match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::I16(v) => v.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::F32(v) => format!("{v:?}"),
        Value::F64(v) => format!("{v:?}"),
        Value::Decimal(v) => v.to_string(),
        Value::Text(v) => dialect.quote_string(v),
        Value::Date(v) => dialect.quote_string(&v.to_string()),
        Value::Time(v) => dialect.quote_string(&v.to_string()),
        Value::Timestamp(v) => dialect.quote_string(&v.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Value::Timestamptz(v) => dialect.quote_string(&v.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Value::Uuid(v) => dialect.quote_string(&v.to_string()),
        Value::Json(v) => dialect.quote_string(&v.to_string()),
        Value::Bytes(_) => {
            return Err(QueryError::Unsupported { dialect: dialect.name(), feature: "binary literals in printed SQL" });
        }
        Value::Array(_) => {
            return Err(QueryError::Unsupported { dialect: dialect.name(), feature: "array literals in printed SQL" });
        }
    })
}

/// A rendered statement: its template and the values of its parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// Text and parameter positions.
    pub template: Template,
    /// One value per parameter.
    pub binds: Vec<Value<'static>>,
}

/// Renders `statement` for `dialect` on a server with `caps`: the text into
/// `template` (cleared first, so one buffer serves many statements), the
/// parameters into `binds`, borrowed from the statement.
pub fn render_into<'a>(
    dialect: &dyn Dialect,
    caps: Capabilities,
    statement: StatementRef<'a>,
    template: &mut Template,
    binds: &mut Vec<Value<'a>>,
) -> Result<(), QueryError> {
    template.sql.clear();
    template.splits.clear();
    binds.clear();
    let mut r =
        Renderer { d: dialect, quote: dialect.identifier_quote(), caps, in_select_list: false, out: template, binds };
    match statement {
        StatementRef::Select(s) => r.select(s),
        StatementRef::Insert(i) => r.insert(i),
        StatementRef::Update(u) => r.update(u),
        StatementRef::Delete(d) => r.delete(d),
        StatementRef::Raw(raw) => r.raw(raw),
    }
}

/// For a plain multi-row `INSERT ... VALUES` of values only (every value a
/// bind; no upsert, no `RETURNING`), its number of rows, with its values put
/// into `binds` in order; `None` for any other insert. Such a statement's
/// text depends on its table, columns and number of rows alone (a bind
/// outside a select list is one placeholder, whatever its value), so a
/// caller may render one and reuse the text for the others of its shape.
pub fn shaped_values_binds<'a>(insert: &'a Insert<'a>, binds: &mut Vec<Value<'a>>) -> Option<usize> {
    if insert.on_conflict.is_some() || !insert.returning.is_empty() {
        return None;
    }
    let width = insert.columns.len();
    binds.clear();
    let rows = match &insert.source {
        InsertSource::Values(rows) if !rows.is_empty() => rows,
        InsertSource::Binds(values) if width > 0 && !values.is_empty() && values.len() % width == 0 => {
            binds.extend(values.iter().map(Value::borrowed));
            return Some(values.len() / width);
        }
        _ => return None,
    };
    binds.reserve(rows.len() * width);
    for row in rows {
        if row.len() != width {
            return None;
        }
        for value in row {
            let Expr::Bind(value) = value else { return None };
            binds.push(value.borrowed());
        }
    }
    Some(rows.len())
}

/// Renders `statement` for `dialect` on a server with `caps`.
pub fn render(dialect: &dyn Dialect, caps: Capabilities, statement: StatementRef<'_>) -> Result<Rendered, QueryError> {
    let mut template = Template::default();
    let mut binds = Vec::new();
    render_into(dialect, caps, statement, &mut template, &mut binds)?;
    Ok(Rendered { template, binds: binds.into_iter().map(Value::into_owned).collect() })
}

struct Renderer<'r, 'a> {
    d: &'r dyn Dialect,
    /// The dialect's identifier quote, asked once.
    quote: char,
    caps: Capabilities,
    /// Inside a select-list item (where parameters may need a type).
    in_select_list: bool,
    out: &'r mut Template,
    binds: &'r mut Vec<Value<'a>>,
}

impl<'a> Renderer<'_, 'a> {
    fn push(&mut self, sql: &str) {
        self.out.sql.push_str(sql);
    }

    fn ident(&mut self, name: &str) {
        let q = self.quote;
        let sql = &mut self.out.sql;
        sql.reserve(name.len() + 2);
        sql.push(q);
        // A quote inside the name is doubled; the rest is copied as it is.
        // (The common case, no quote inside, is one byte scan.)
        let mut rest = name;
        if !q.is_ascii() || name.as_bytes().contains(&(q as u8)) {
            while let Some(at) = rest.find(q) {
                let end = at + q.len_utf8();
                sql.push_str(&rest[..end]);
                sql.push(q);
                rest = &rest[end..];
            }
        }
        sql.push_str(rest);
        sql.push(q);
    }

    fn bind(&mut self, value: Value<'a>) {
        self.out.splits.push(self.out.sql.len());
        self.binds.push(value);
    }

    fn unsupported(&self, feature: &'static str) -> QueryError {
        QueryError::Unsupported { dialect: self.d.name(), feature }
    }

    fn list<T>(
        &mut self,
        items: &'a [T],
        mut each: impl FnMut(&mut Self, &'a T) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            each(self, item)?;
        }
        Ok(())
    }

    fn select(&mut self, s: &'a Select) -> Result<(), QueryError> {
        // A subquery's own select list decides for itself.
        let outer = std::mem::replace(&mut self.in_select_list, false);
        let rendered = self.select_with_compound(s);
        self.in_select_list = outer;
        rendered
    }

    fn select_with_compound(&mut self, s: &'a Select) -> Result<(), QueryError> {
        self.with(&s.with)?;
        self.select_core(s)?;
        for (op, other) in &s.compound {
            self.push(match op {
                SetOp::Union => " UNION ",
                SetOp::UnionAll => " UNION ALL ",
                SetOp::Intersect => " INTERSECT ",
                SetOp::Except => " EXCEPT ",
            });
            // SQLite takes no parentheses around the members of a compound:
            // a member with its own ordering or limit becomes a subquery.
            if other.order_by.is_empty() && other.limit.is_none() && other.offset.is_none() && other.compound.is_empty()
            {
                self.select_core(other)?;
            } else {
                self.push("SELECT * FROM (");
                self.select(other)?;
                self.push(") AS ");
                self.ident("compound_member");
            }
        }
        self.order_by(&s.order_by)?;
        self.limit(s.limit, s.offset);
        Ok(())
    }

    fn with(&mut self, ctes: &'a [Cte]) -> Result<(), QueryError> {
        if ctes.is_empty() {
            return Ok(());
        }
        self.push(if ctes.iter().any(|c| c.recursive) { "WITH RECURSIVE " } else { "WITH " });
        self.list(ctes, |r, cte| {
            r.ident(&cte.name);
            if !cte.columns.is_empty() {
                r.push(" (");
                r.list(&cte.columns, |r, c| {
                    r.ident(c);
                    Ok(())
                })?;
                r.push(")");
            }
            r.push(" AS (");
            r.select(&cte.select)?;
            r.push(")");
            Ok(())
        })?;
        self.push(" ");
        Ok(())
    }

    fn select_core(&mut self, s: &'a Select) -> Result<(), QueryError> {
        self.push(if s.distinct { "SELECT DISTINCT " } else { "SELECT " });
        if s.columns.is_empty() {
            self.push("*");
        }
        self.list(&s.columns, |r, item| {
            let outer = std::mem::replace(&mut r.in_select_list, true);
            let rendered = r.expr(&item.expr);
            r.in_select_list = outer;
            rendered?;
            if let Some(alias) = &item.alias {
                r.push(" AS ");
                r.ident(alias);
            }
            Ok(())
        })?;
        if !s.from.is_empty() {
            self.push(" FROM ");
            self.list(&s.from, |r, source| r.source(source))?;
        }
        for join in &s.joins {
            self.push(match join.kind {
                JoinKind::Inner => " INNER JOIN ",
                JoinKind::Left => " LEFT JOIN ",
                JoinKind::Right => " RIGHT JOIN ",
                JoinKind::Full if self.d.has_full_join() => " FULL JOIN ",
                JoinKind::Full => return Err(self.unsupported("FULL JOIN")),
            });
            self.source(&join.source)?;
            self.push(" ON ");
            self.expr(&join.on)?;
        }
        self.filter(" WHERE ", s.filter.as_ref())?;
        if !s.group_by.is_empty() {
            self.push(" GROUP BY ");
            self.list(&s.group_by, |r, e| r.expr(e))?;
        }
        self.filter(" HAVING ", s.having.as_ref())
    }

    fn filter(&mut self, keyword: &str, filter: Option<&'a Expr>) -> Result<(), QueryError> {
        if let Some(e) = filter {
            self.push(keyword);
            self.expr(e)?;
        }
        Ok(())
    }

    fn source(&mut self, source: &'a Source) -> Result<(), QueryError> {
        match source {
            Source::Table { name, alias } => {
                self.ident(name);
                if let Some(alias) = alias {
                    self.push(" AS ");
                    self.ident(alias);
                }
            }
            Source::Subquery { select, alias } => {
                self.push("(");
                self.select(select)?;
                self.push(") AS ");
                self.ident(alias);
            }
        }
        Ok(())
    }

    fn order_by(&mut self, items: &'a [OrderBy]) -> Result<(), QueryError> {
        if items.is_empty() {
            return Ok(());
        }
        self.push(" ORDER BY ");
        self.order_items(items)
    }

    fn order_items(&mut self, items: &'a [OrderBy]) -> Result<(), QueryError> {
        self.list(items, |r, item| {
            let native = r.d.has_nulls_order();
            if let (Some(nulls), false) = (item.nulls, native) {
                // `x IS NULL` is 0 for values and 1 for NULLs.
                r.push("(");
                r.expr(&item.expr)?;
                r.push(if nulls == Nulls::First { " IS NULL) DESC, " } else { " IS NULL) ASC, " });
            }
            r.expr(&item.expr)?;
            if item.descending {
                r.push(" DESC");
            }
            match (item.nulls, native) {
                (Some(Nulls::First), true) => r.push(" NULLS FIRST"),
                (Some(Nulls::Last), true) => r.push(" NULLS LAST"),
                _ => {}
            }
            Ok(())
        })
    }

    fn limit(&mut self, limit: Option<u64>, offset: Option<u64>) {
        let sql = &mut self.out.sql;
        match (limit, offset) {
            (Some(l), _) => {
                let _ = write!(sql, " LIMIT {l}");
            }
            (None, Some(_)) => {
                if let Some(all) = self.d.limit_for_offset_only() {
                    let _ = write!(sql, " LIMIT {all}");
                }
            }
            (None, None) => {}
        }
        if let Some(o) = offset {
            let _ = write!(sql, " OFFSET {o}");
        }
    }

    fn returning(&mut self, returning: &'a [Expr], allowed: bool, feature: &'static str) -> Result<(), QueryError> {
        if returning.is_empty() {
            return Ok(());
        }
        if !allowed {
            return Err(self.unsupported(feature));
        }
        self.push(" RETURNING ");
        self.list(returning, |r, e| r.expr(e))
    }

    fn insert(&mut self, i: &'a Insert<'a>) -> Result<(), QueryError> {
        let bad = |message| QueryError::BadInsert { table: i.table.to_string(), message };
        self.push("INSERT INTO ");
        self.ident(&i.table);
        self.push(" (");
        self.list(&i.columns, |r, c| {
            r.ident(c);
            Ok(())
        })?;
        self.push(") ");
        match &i.source {
            InsertSource::Values(rows) => {
                if rows.is_empty() {
                    return Err(bad("no rows"));
                }
                if rows.iter().any(|row| row.len() != i.columns.len()) {
                    return Err(bad("a row's values do not match its columns"));
                }
                self.push("VALUES ");
                self.list(rows, |r, row| {
                    r.push("(");
                    r.list(row, |r, e| r.expr(e))?;
                    r.push(")");
                    Ok(())
                })?;
            }
            InsertSource::Binds(values) => {
                let width = i.columns.len();
                if values.is_empty() {
                    return Err(bad("no rows"));
                }
                if width == 0 || values.len() % width != 0 {
                    return Err(bad("a row's values do not match its columns"));
                }
                self.push("VALUES ");
                for (n, row) in values.chunks(width).enumerate() {
                    self.push(if n > 0 { ", (" } else { "(" });
                    self.list(row, |r, v| {
                        r.bind(v.borrowed());
                        Ok(())
                    })?;
                    self.push(")");
                }
            }
            InsertSource::Select(select) => self.select(select)?,
            InsertSource::InOrder { rows, types } => self.rows_in_order(i, rows, types)?,
        }
        if let Some(conflict) = &i.on_conflict {
            self.on_conflict(i, conflict)?;
        }
        self.returning(&i.returning, self.caps.returning_insert, "INSERT ... RETURNING")
    }

    /// `SELECT column1, ... FROM (VALUES (..., 0), ...) AS rows ORDER BY
    /// columnN`: a `VALUES` list has no order of its own, a query with
    /// `ORDER BY` has, and an `INSERT ... SELECT` inserts in it.
    fn rows_in_order(
        &mut self,
        i: &'a Insert<'a>,
        rows: &'a [Vec<Expr>],
        types: &[ColumnType],
    ) -> Result<(), QueryError> {
        let bad = |message| QueryError::BadInsert { table: i.table.to_string(), message };
        if rows.is_empty() {
            return Err(bad("no rows"));
        }
        if types.len() != i.columns.len() || rows.iter().any(|row| row.len() != i.columns.len()) {
            return Err(bad("a row's values do not match its columns"));
        }
        let names: Option<Vec<String>> = (1..=types.len() + 1).map(|n| self.d.values_column(n)).collect();
        let Some(names) = names else { return Err(self.unsupported("INSERT ... SELECT FROM VALUES")) };
        self.push("SELECT ");
        for (n, (ty, column)) in types.iter().zip(&names).enumerate() {
            if n > 0 {
                self.push(", ");
            }
            if self.d.casts_ordered_insert_columns() {
                self.push("CAST(");
                self.ident(column);
                let _ = write!(self.out.sql, " AS {})", self.d.cast_type(ty));
            } else {
                self.ident(column);
            }
        }
        self.push(" FROM (VALUES ");
        for (n, row) in rows.iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.push("(");
            self.list(row, |r, e| r.expr(e))?;
            let _ = write!(self.out.sql, ", {n})");
        }
        self.push(") AS ");
        self.ident("rows_in_order");
        self.push(" ORDER BY ");
        self.ident(&names[types.len()]);
        Ok(())
    }

    fn on_conflict(&mut self, i: &'a Insert<'a>, conflict: &'a OnConflict) -> Result<(), QueryError> {
        if conflict.target.is_empty() {
            return Err(QueryError::BadInsert { table: i.table.to_string(), message: "an upsert names no unique key" });
        }
        match self.d.upsert_syntax() {
            UpsertSyntax::OnConflict => {
                self.push(" ON CONFLICT (");
                self.list(&conflict.target, |r, c| {
                    r.ident(c);
                    Ok(())
                })?;
                if conflict.update.is_empty() {
                    self.push(") DO NOTHING");
                    return Ok(());
                }
                self.push(") DO UPDATE SET ");
            }
            UpsertSyntax::OnDuplicateKey => {
                self.push(" ON DUPLICATE KEY UPDATE ");
                if conflict.update.is_empty() {
                    // Assigning a column to itself skips the row and, unlike
                    // INSERT IGNORE, keeps every other error an error.
                    let column = &conflict.target[0];
                    self.ident(column);
                    self.push(" = ");
                    self.ident(column);
                    return Ok(());
                }
            }
        }
        self.assignments(&conflict.update)
    }

    fn assignments(&mut self, set: &'a [(Name, Expr)]) -> Result<(), QueryError> {
        self.list(set, |r, (column, value)| {
            r.ident(column);
            r.push(" = ");
            r.expr(value)
        })
    }

    fn update(&mut self, u: &'a Update) -> Result<(), QueryError> {
        if u.set.is_empty() {
            return Err(QueryError::EmptyUpdate { table: u.table.to_string() });
        }
        self.push("UPDATE ");
        self.ident(&u.table);
        self.push(" SET ");
        self.assignments(&u.set)?;
        self.filter(" WHERE ", u.filter.as_ref())?;
        self.returning(&u.returning, self.caps.returning_update, "UPDATE ... RETURNING")
    }

    fn delete(&mut self, d: &'a Delete) -> Result<(), QueryError> {
        self.push("DELETE FROM ");
        self.ident(&d.table);
        self.filter(" WHERE ", d.filter.as_ref())?;
        self.returning(&d.returning, self.caps.returning_delete, "DELETE ... RETURNING")
    }

    fn raw(&mut self, raw: &'a RawSql) -> Result<(), QueryError> {
        let mut used = vec![false; raw.binds.len()];
        for piece in split_named(&raw.sql) {
            match piece {
                RawPiece::Text(text) => self.push(text),
                RawPiece::Param(name) => {
                    let Some(at) = raw.binds.iter().position(|(n, _)| n == name) else {
                        return Err(QueryError::MissingBind { name: name.to_string() });
                    };
                    used[at] = true;
                    self.bind(raw.binds[at].1.borrowed());
                }
            }
        }
        match used.iter().position(|u| !u) {
            Some(at) => Err(QueryError::UnusedBind { name: raw.binds[at].0.clone() }),
            None => Ok(()),
        }
    }

    fn expr(&mut self, e: &'a Expr) -> Result<(), QueryError> {
        match e {
            Expr::Column { table, name } => {
                if let Some(table) = table {
                    self.ident(table);
                    self.push(".");
                }
                self.ident(name);
            }
            Expr::Bind(v) => {
                match parameter_type(v).filter(|_| self.in_select_list && self.d.casts_select_list_parameters()) {
                    Some(ty) => {
                        self.push("CAST(");
                        self.bind(v.borrowed());
                        self.push(" AS ");
                        let ty = self.d.cast_type(&ty);
                        self.push(&ty);
                        self.push(")");
                    }
                    None => self.bind(v.borrowed()),
                }
            }
            Expr::Null => self.push("NULL"),
            Expr::Star => self.push("*"),
            Expr::Binary { op, left, right } => {
                self.push("(");
                self.expr(left)?;
                self.push(match op {
                    BinaryOp::Eq => " = ",
                    BinaryOp::Ne => " <> ",
                    BinaryOp::Lt => " < ",
                    BinaryOp::Le => " <= ",
                    BinaryOp::Gt => " > ",
                    BinaryOp::Ge => " >= ",
                    BinaryOp::Add => " + ",
                    BinaryOp::Sub => " - ",
                    BinaryOp::Mul => " * ",
                    BinaryOp::Div => " / ",
                    BinaryOp::Rem => " % ",
                });
                self.expr(right)?;
                self.push(")");
            }
            Expr::And(items) => self.junction(items, " AND ", "(1 = 1)")?,
            Expr::Or(items) => self.junction(items, " OR ", "(1 = 0)")?,
            Expr::Not(inner) => {
                self.push("(NOT ");
                self.expr(inner)?;
                self.push(")");
            }
            Expr::IsNull { expr, negated } => {
                self.push("(");
                self.expr(expr)?;
                self.push(if *negated { " IS NOT NULL)" } else { " IS NULL)" });
            }
            Expr::Like { expr, pattern, case_insensitive, negated } => {
                self.like(expr, pattern, *case_insensitive, *negated)?
            }
            Expr::InList { expr, list, negated } => {
                if list.is_empty() {
                    // `IN ()` is no SQL; an empty list holds for no row.
                    self.push(if *negated { "(1 = 1)" } else { "(1 = 0)" });
                    return Ok(());
                }
                self.push("(");
                self.expr(expr)?;
                self.push(if *negated { " NOT IN (" } else { " IN (" });
                self.list(list, |r, e| r.expr(e))?;
                self.push("))");
            }
            Expr::InSelect { expr, select, negated } => {
                self.push("(");
                self.expr(expr)?;
                self.push(if *negated { " NOT IN (" } else { " IN (" });
                self.select(select)?;
                self.push("))");
            }
            Expr::Between { expr, low, high, negated } => {
                self.push("(");
                self.expr(expr)?;
                self.push(if *negated { " NOT BETWEEN " } else { " BETWEEN " });
                self.expr(low)?;
                self.push(" AND ");
                self.expr(high)?;
                self.push(")");
            }
            Expr::Exists { select, negated } => {
                self.push(if *negated { "(NOT EXISTS (" } else { "(EXISTS (" });
                self.select(select)?;
                self.push("))");
            }
            Expr::Subquery(select) => {
                self.push("(");
                self.select(select)?;
                self.push(")");
            }
            Expr::Call(call) => self.call(call)?,
            Expr::Case { whens, otherwise } => {
                self.push("CASE");
                for (when, then) in whens {
                    self.push(" WHEN ");
                    self.expr(when)?;
                    self.push(" THEN ");
                    self.expr(then)?;
                }
                if let Some(otherwise) = otherwise {
                    self.push(" ELSE ");
                    self.expr(otherwise)?;
                }
                self.push(" END");
            }
            Expr::Cast { expr, ty } => {
                self.push("CAST(");
                self.expr(expr)?;
                self.push(" AS ");
                let ty = self.d.cast_type(ty);
                self.push(&ty);
                self.push(")");
            }
            Expr::Sql(text) => self.push(text),
            Expr::KeyIn { columns, keys } => self.key_in(columns, Keys { width: columns.len(), values: keys })?,
            Expr::Invalid(message) => return Err(QueryError::Invalid { message: message.clone() }),
            Expr::Excluded(column) => match self.d.upsert_syntax() {
                UpsertSyntax::OnConflict => {
                    self.push("excluded.");
                    self.ident(column);
                }
                UpsertSyntax::OnDuplicateKey => {
                    self.push("VALUES(");
                    self.ident(column);
                    self.push(")");
                }
            },
        }
        Ok(())
    }

    fn key_in(&mut self, columns: &'a [Expr], keys: Keys<'a>) -> Result<(), QueryError> {
        let mismatch = || QueryError::Invalid { message: "a list of keys does not match its columns".into() };
        if !keys.values.len().is_multiple_of(keys.width.max(1)) {
            return Err(mismatch());
        }
        let shape = key_shape(self.caps, keys);
        // The text up to the parameters, then the parameters (the columns'
        // own first), then the text around them with a split per parameter.
        match (shape, columns) {
            (KeyShape::Empty, _) => {
                self.push("(1 = 0)");
                return Ok(());
            }
            (KeyShape::List, [column]) => {
                self.push("(");
                self.expr(column)?;
                self.push(match self.caps.key_list {
                    KeyList::Array => " = ANY(",
                    KeyList::JsonEach => " IN (SELECT value FROM json_each(",
                    _ => " IN (SELECT k FROM JSON_TABLE(",
                });
            }
            (KeyShape::List, _) | (KeyShape::Padded(_), []) => return Err(mismatch()),
            (KeyShape::Padded(_), _) => {
                self.push("(");
                if columns.len() > 1 {
                    self.push("(");
                }
                self.list(columns, |r, c| r.expr(c))?;
                if columns.len() > 1 {
                    self.push(")");
                }
                self.push(" IN (");
            }
        }
        key_in_binds(self.caps, keys, self.binds);
        let split = |r: &mut Self| r.out.splits.push(r.out.sql.len());
        match shape {
            KeyShape::List => {
                split(self);
                self.push(match self.caps.key_list {
                    KeyList::Array => "))",
                    KeyList::JsonEach => ")))",
                    _ => ", '$[*]' COLUMNS (k BIGINT PATH '$')) AS key_list))",
                });
            }
            KeyShape::Empty => {}
            KeyShape::Padded(bucket) => {
                let width = keys.width;
                for i in 0..bucket {
                    if i > 0 {
                        self.push(", ");
                    }
                    if width > 1 {
                        self.push("(");
                    }
                    for v in 0..width {
                        if v > 0 {
                            self.push(", ");
                        }
                        split(self);
                    }
                    if width > 1 {
                        self.push(")");
                    }
                }
                self.push("))");
            }
        }
        Ok(())
    }

    fn junction(&mut self, items: &'a [Expr], op: &str, empty: &str) -> Result<(), QueryError> {
        match items {
            [] => self.push(empty),
            [one] => self.expr(one)?,
            _ => {
                self.push("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.push(op);
                    }
                    self.expr(item)?;
                }
                self.push(")");
            }
        }
        Ok(())
    }

    fn like(
        &mut self,
        expr: &'a Expr,
        pattern: &'a Expr,
        case_insensitive: bool,
        negated: bool,
    ) -> Result<(), QueryError> {
        let not = if negated { " NOT" } else { "" };
        self.push("(");
        if case_insensitive && !self.d.has_ilike() {
            self.push("lower(");
            self.expr(expr)?;
            self.push(")");
            self.push(not);
            self.push(" LIKE lower(");
            self.expr(pattern)?;
            self.push("))");
            return Ok(());
        }
        self.expr(expr)?;
        self.push(not);
        self.push(if case_insensitive { " ILIKE " } else { " LIKE " });
        self.expr(pattern)?;
        self.push(")");
        Ok(())
    }

    fn call(&mut self, call: &'a Call) -> Result<(), QueryError> {
        self.push(func_name(call.func));
        self.push("(");
        if call.distinct {
            self.push("DISTINCT ");
        }
        match (&call.filter, self.d.has_aggregate_filter()) {
            (Some(condition), false) => {
                // count(CASE WHEN c THEN x END): rows failing c give NULL,
                // which every aggregate skips.
                static ONE: [Expr; 1] = [Expr::Bind(Value::I32(1))];
                let args: &'a [Expr] =
                    if call.args.is_empty() || call.args == [Expr::Star] { &ONE } else { &call.args };
                self.list(args, |r, arg| {
                    r.push("CASE WHEN ");
                    r.expr(condition)?;
                    r.push(" THEN ");
                    r.expr(arg)?;
                    r.push(" END");
                    Ok(())
                })?;
                self.push(")");
            }
            (filter, _) => {
                self.list(&call.args, |r, arg| r.expr(arg))?;
                self.push(")");
                if let Some(condition) = filter {
                    self.push(" FILTER (WHERE ");
                    self.expr(condition)?;
                    self.push(")");
                }
            }
        }
        if let Some(window) = &call.over {
            self.window(window)?;
        }
        Ok(())
    }

    fn window(&mut self, w: &'a Window) -> Result<(), QueryError> {
        self.push(" OVER (");
        let mut space = false;
        if !w.partition_by.is_empty() {
            self.push("PARTITION BY ");
            self.list(&w.partition_by, |r, e| r.expr(e))?;
            space = true;
        }
        if !w.order_by.is_empty() {
            self.push(if space { " ORDER BY " } else { "ORDER BY " });
            self.order_items(&w.order_by)?;
            space = true;
        }
        if let Some(frame) = &w.frame {
            if space {
                self.push(" ");
            }
            self.push(match frame.units {
                FrameUnits::Rows => "ROWS BETWEEN ",
                FrameUnits::Range => "RANGE BETWEEN ",
            });
            self.frame_bound(frame.start);
            self.push(" AND ");
            self.frame_bound(frame.end);
        }
        self.push(")");
        Ok(())
    }

    fn frame_bound(&mut self, bound: FrameBound) {
        let sql = &mut self.out.sql;
        let _ = match bound {
            FrameBound::UnboundedPreceding => write!(sql, "UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(sql, "{n} PRECEDING"),
            FrameBound::CurrentRow => write!(sql, "CURRENT ROW"),
            FrameBound::Following(n) => write!(sql, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => write!(sql, "UNBOUNDED FOLLOWING"),
        };
    }
}

/// The type a parameter's value gives a result column; `None` for `NULL`
/// and decimals (whose scale a cast would fix).
fn parameter_type(value: &Value<'_>) -> Option<ColumnType> {
    Some(match value {
        Value::Null | Value::Decimal(_) | Value::Array(_) => return None,
        Value::Bool(_) | Value::I16(_) | Value::I32(_) | Value::I64(_) => ColumnType::Bigint,
        Value::F32(_) | Value::F64(_) => ColumnType::Double,
        Value::Text(_) | Value::Uuid(_) | Value::Json(_) => ColumnType::Text,
        Value::Bytes(_) => ColumnType::Binary,
        Value::Date(_) => ColumnType::Date,
        Value::Time(_) => ColumnType::Time,
        Value::Timestamp(_) | Value::Timestamptz(_) => ColumnType::Timestamp,
    })
}

fn func_name(func: Func) -> &'static str {
    match func {
        Func::Count => "count",
        Func::Sum => "sum",
        Func::Avg => "avg",
        Func::Min => "min",
        Func::Max => "max",
        Func::Lower => "lower",
        Func::Upper => "upper",
        Func::Coalesce => "coalesce",
        Func::Abs => "abs",
        Func::RowNumber => "row_number",
        Func::Rank => "rank",
        Func::DenseRank => "dense_rank",
        Func::Lag => "lag",
        Func::Lead => "lead",
        Func::FirstValue => "first_value",
        Func::LastValue => "last_value",
    }
}

/// A piece of raw SQL: text, or a `:name` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawPiece<'a> {
    /// SQL text, verbatim.
    Text(&'a str),
    /// A parameter's name.
    Param(&'a str),
}

/// Splits raw SQL at its `:name` parameters, leaving string literals, quoted
/// identifiers, comments and `::` casts alone.
pub fn split_named(sql: &str) -> Vec<RawPiece<'_>> {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b':' if bytes.get(i + 1) == Some(&b':') => i += 2,
            b':' if bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') => {
                let name_start = i + 1;
                let mut end = name_start;
                while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                    end += 1;
                }
                pieces.push(RawPiece::Text(&sql[start..i]));
                pieces.push(RawPiece::Param(&sql[name_start..end]));
                i = end;
                start = end;
            }
            _ => i += 1,
        }
    }
    pieces.push(RawPiece::Text(&sql[start.min(sql.len())..]));
    pieces
}

/// A rendered statement ready for diesel: its text pieces and values. As a
/// `QueryFragment` without a static query id, diesel caches its prepared
/// statement keyed by the SQL text. Implemented per backend.
#[derive(Debug, Clone, Copy)]
pub struct Bound<'q, 'v> {
    /// Text and parameter positions.
    pub template: &'q Template,
    /// One value per parameter.
    pub binds: &'q [Value<'v>],
}

impl<'q, 'v> Bound<'q, 'v> {
    /// Pushes the text and, at each parameter position, `bind`'s placeholder
    /// and value.
    pub fn walk<'b, DB: diesel::backend::Backend>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
        mut bind: impl FnMut(&mut diesel::query_builder::AstPass<'_, 'b, DB>, &'b Value<'v>) -> diesel::QueryResult<()>,
    ) -> diesel::QueryResult<()> {
        if self.binds.len() != self.template.splits.len() {
            return Err(diesel::result::Error::QueryBuilderError(
                format!("{} values for {} parameters", self.binds.len(), self.template.splits.len()).into(),
            ));
        }
        for (i, piece) in self.template.pieces().enumerate() {
            if i > 0 {
                bind(&mut out, &self.binds[i - 1])?;
            }
            out.push_sql(piece);
        }
        Ok(())
    }
}

impl diesel::query_builder::QueryId for Bound<'_, '_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Bound<'_, '_> {
    type SqlType = diesel::sql_types::Untyped;
}

/// Whether a version text (`10.11.6-MariaDB`, `3.45.1`, `PostgreSQL 16.2 on ...`)
/// is at least `major.minor`: the first dotted number in it is compared.
pub fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let start = version.find(|c: char| c.is_ascii_digit()).unwrap_or(version.len());
    let mut parts = version[start..].split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arrays_hold_the_types_they_are_built_of() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::I16(1),
            Value::I32(1),
            Value::I64(1),
            Value::F64(1.0),
            Value::Text("a".into()),
            Value::Bytes(std::borrow::Cow::Borrowed(b"a")),
            Value::Uuid(uuid::Uuid::nil()),
        ];
        for value in &values {
            assert_eq!(KeyArray::holds(value), KeyArray::of(std::slice::from_ref(value)).is_some(), "{value:?}");
        }
        assert_eq!(KeyArray::of(&[Value::I64(1), Value::I64(2)]), Some(KeyArray::I64(vec![1, 2])));
        assert_eq!(KeyArray::of(&[Value::I64(1), Value::I32(2)]), None, "one type");
    }

    #[test]
    fn named_parameters_skip_quotes_comments_and_casts() {
        let pieces = split_named("SELECT ':no', \"a:b\", x::text -- :none\nFROM t WHERE a = :a AND b = :b_2");
        let params: Vec<&str> = pieces
            .iter()
            .filter_map(|p| match p {
                RawPiece::Param(name) => Some(*name),
                RawPiece::Text(_) => None,
            })
            .collect();
        assert_eq!(params, ["a", "b_2"]);
        assert_eq!(split_named("no params"), [RawPiece::Text("no params")]);
    }

    #[test]
    fn raw_writes_are_run_and_everything_else_is_read() {
        let rows = |sql: &str| StatementRef::Raw(&RawSql { sql: sql.into(), binds: Vec::new() }).returns_rows();
        for write in [
            "DELETE FROM t",
            "  update t set a = 1",
            "/* x */ -- y\nINSERT INTO t VALUES (1)",
            "create table t (a int)",
        ] {
            assert!(!rows(write), "{write}");
        }
        for read in
            ["SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "SHOW TABLES", "PRAGMA foreign_keys", "VALUES (1)"]
        {
            assert!(rows(read), "{read}");
        }
        assert!(rows("INSERT INTO t (a) VALUES (1) RETURNING id"));
        assert!(rows("delete from t where a = 1 returning *"));
        assert!(rows("-- unterminated comment"));
    }

    #[test]
    fn rendered_statements_stay_cacheable_on_every_backend() {
        use diesel::query_builder::QueryFragment;
        let template = Template { sql: "SELECT ".into(), splits: vec![7] };
        let binds = [Value::I64(1)];
        let bound = Bound { template: &template, binds: &binds };
        assert!(QueryFragment::<diesel::pg::Pg>::is_safe_to_cache_prepared(&bound, &diesel::pg::Pg).unwrap());
        assert!(
            QueryFragment::<diesel::mysql::Mysql>::is_safe_to_cache_prepared(&bound, &diesel::mysql::Mysql).unwrap()
        );
        assert!(
            QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&bound, &diesel::sqlite::Sqlite)
                .unwrap()
        );
    }

    #[test]
    fn versions_compare_by_their_first_number() {
        assert!(version_at_least("10.11.6-MariaDB-0+deb12u1", (10, 5)));
        assert!(!version_at_least("10.4.32-MariaDB", (10, 5)));
        assert!(version_at_least("PostgreSQL 16.2 on x86_64", (10, 0)));
        assert!(version_at_least("3.45.1", (3, 35)));
        assert!(!version_at_least("3.31.0", (3, 35)));
        assert!(!version_at_least("", (1, 0)));
    }

    #[test]
    fn identifiers_are_quoted_with_their_quotes_doubled() {
        let select = |table: &'static str| Select {
            from: vec![Source::Table { name: table.into(), alias: None }],
            ..Select::default()
        };
        let sql = |d: &dyn Dialect, table| {
            render(d, d.latest_capabilities(), StatementRef::Select(&select(table))).unwrap().template.sql
        };
        assert_eq!(sql(&crate::dialect::PostgresDialect, "a\"b\"\""), "SELECT * FROM \"a\"\"b\"\"\"\"\"");
        assert_eq!(sql(&crate::dialect::MysqlDialect, "`ü`x"), "SELECT * FROM ```ü``x`");
        assert_eq!(sql(&crate::dialect::SqliteDialect, "plain"), "SELECT * FROM \"plain\"");
    }

    #[test]
    fn a_template_prints_each_dialects_placeholders() {
        let template = Template { sql: "a =  AND b = ".into(), splits: vec![4, 13] };
        assert_eq!(template.to_sql(&crate::dialect::PostgresDialect), "a = $1 AND b = $2");
        assert_eq!(template.to_sql(&crate::dialect::SqliteDialect), "a = ? AND b = ?");
    }

    #[test]
    fn rows_in_order_are_selected_from_values_sorted_by_a_counter() {
        let bind = || Expr::Bind(Value::Null);
        let insert = Insert {
            table: "t".into(),
            columns: vec!["a".into(), "b".into()],
            source: InsertSource::InOrder {
                rows: vec![vec![bind(), bind()], vec![bind(), bind()]],
                types: vec![ColumnType::Integer, ColumnType::Text],
            },
            on_conflict: None,
            returning: vec![Expr::Column { table: None, name: "id".into() }],
        };
        let sql = |d: &dyn Dialect| {
            render(d, d.latest_capabilities(), StatementRef::Insert(&insert)).map(|r| r.template.to_sql(d))
        };
        assert_eq!(
            sql(&crate::dialect::PostgresDialect).unwrap(),
            "INSERT INTO \"t\" (\"a\", \"b\") SELECT CAST(\"column1\" AS integer), CAST(\"column2\" AS text) \
             FROM (VALUES ($1, $2, 0), ($3, $4, 1)) AS \"rows_in_order\" ORDER BY \"column3\" RETURNING \"id\""
        );
        assert_eq!(
            sql(&crate::dialect::SqliteDialect).unwrap(),
            "INSERT INTO \"t\" (\"a\", \"b\") SELECT \"column1\", \"column2\" \
             FROM (VALUES (?, ?, 0), (?, ?, 1)) AS \"rows_in_order\" ORDER BY \"column3\" RETURNING \"id\""
        );
        assert!(matches!(sql(&crate::dialect::MysqlDialect), Err(QueryError::Unsupported { .. })));
    }
}
