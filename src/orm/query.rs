//! Statements as data: builders for `SELECT` (joins, subqueries, `WITH`,
//! set operations), `INSERT` (rows, `SELECT`, upsert), `UPDATE`, `DELETE`
//! and `text()` raw SQL. [`Statement::to_sql`] prints one for a dialect;
//! `orm::exec` runs them with bound parameters.

use super::expr::{Aliased, Column, Expr, Expression, IntoExpr, Order, name};
use super::relation::{LoadOption, Relation};
use super::value::SqlValue;
use crate::dialect::Dialect;
use crate::dialect::query::{self as ast, QueryError, Rendered, StatementRef};
use std::borrow::Cow;
use std::marker::PhantomData;

/// A statement that can be rendered and run.
pub trait Statement {
    /// The statement as the renderer takes it.
    fn as_ast(&self) -> StatementRef<'_>;

    /// The SQL text for `dialect` (its newest server), placeholders included.
    fn to_sql(&self, dialect: &dyn Dialect) -> Result<String, QueryError> {
        Ok(self.render(dialect)?.template.to_sql(dialect))
    }

    /// Text and parameters for `dialect` (its newest server).
    fn render(&self, dialect: &dyn Dialect) -> Result<Rendered, QueryError> {
        ast::render(dialect, dialect.latest_capabilities(), self.as_ast())
    }

    /// The SQL text for `dialect` with every value written as a literal
    /// (an offline script, a message): never what is sent to a server.
    fn to_literal_sql(&self, dialect: &dyn Dialect) -> Result<String, QueryError> {
        let rendered = self.render(dialect)?;
        rendered.template.with_literals(dialect, &rendered.binds)
    }

    /// The relationships its rows load (`.options(..)` of a select).
    fn load_options(&self) -> &[LoadOption] {
        &[]
    }
}

/// A model's table, as `User::TABLE`.
pub struct Table<M> {
    /// The table's name.
    pub name: &'static str,
    marker: PhantomData<fn() -> M>,
}

impl<M> Table<M> {
    /// The table called `name`.
    pub const fn new(name: &'static str) -> Self {
        Table { name, marker: PhantomData }
    }

    /// The table under another name (`FROM users AS u2`); qualify its
    /// columns with [`Column::of`].
    pub const fn alias(self, alias: &'static str) -> TableAlias<M> {
        TableAlias { table: self.name, alias, marker: PhantomData }
    }
}

impl<M> Clone for Table<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Table<M> {}

/// A table whose name is known only at run time (the migration tool's own
/// tables, named in `migrate.toml`); its columns are
/// [`Column::unqualified`] handles of marker type `M`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTable<M> {
    name: String,
    marker: PhantomData<fn() -> M>,
}

impl<M> NamedTable<M> {
    /// The table called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NamedTable { name: name.into(), marker: PhantomData }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<M> IntoSource for &NamedTable<M> {
    fn into_source(self) -> ast::Source {
        ast::Source::Table { name: Cow::Owned(self.name.clone()), alias: None }
    }
}

/// A table an `INSERT`, `UPDATE` or `DELETE` writes: a model's [`Table`]
/// or a [`NamedTable`].
pub trait IntoTable<M> {
    /// The table's name.
    fn table_name(self) -> ast::Name;
}

impl<M> IntoTable<M> for Table<M> {
    fn table_name(self) -> ast::Name {
        name(self.name)
    }
}

impl<M> IntoTable<M> for &NamedTable<M> {
    fn table_name(self) -> ast::Name {
        Cow::Owned(self.name.clone())
    }
}

/// A table under an alias.
pub struct TableAlias<M> {
    table: &'static str,
    alias: &'static str,
    marker: PhantomData<fn() -> M>,
}

impl<M> TableAlias<M> {
    /// `column` qualified by this alias.
    pub const fn col<T>(&self, column: Column<M, T>) -> Column<M, T> {
        column.of(self.alias)
    }
}

/// Anything a `FROM` or `JOIN` takes.
pub trait IntoSource {
    /// The source.
    fn into_source(self) -> ast::Source;
}

impl<M> IntoSource for Table<M> {
    fn into_source(self) -> ast::Source {
        ast::Source::Table { name: name(self.name), alias: None }
    }
}

impl<M> IntoSource for &TableAlias<M> {
    fn into_source(self) -> ast::Source {
        ast::Source::Table { name: name(self.table), alias: Some(name(self.alias)) }
    }
}

impl IntoSource for &Cte {
    fn into_source(self) -> ast::Source {
        ast::Source::Table { name: name(self.name), alias: None }
    }
}

impl IntoSource for &Subquery {
    fn into_source(self) -> ast::Source {
        ast::Source::Subquery { select: Box::new(self.select.clone()), alias: name(self.alias) }
    }
}

/// A select list: one expression, an aliased one, or a tuple of them.
pub trait Columns {
    /// Appends the items to `out`.
    fn push_items(self, out: &mut Vec<ast::SelectItem>);
}

/// One select-list item.
pub trait SelectColumn {
    /// The item.
    fn item(self) -> ast::SelectItem;
}

impl<E: Expression> SelectColumn for E {
    fn item(self) -> ast::SelectItem {
        ast::SelectItem { expr: self.node(), alias: None }
    }
}

impl<T> SelectColumn for Aliased<T> {
    fn item(self) -> ast::SelectItem {
        self.item
    }
}

impl<C: SelectColumn> Columns for C {
    fn push_items(self, out: &mut Vec<ast::SelectItem>) {
        out.push(self.item());
    }
}

/// Every column of a model, in field order: `select(User::ALL)`.
#[derive(Debug, Clone, Copy)]
pub struct AllColumns {
    /// The table (or alias) that qualifies them.
    pub table: &'static str,
    /// Column names.
    pub columns: &'static [&'static str],
}

impl AllColumns {
    /// The same columns qualified by `alias`.
    pub const fn of(self, alias: &'static str) -> Self {
        AllColumns { table: alias, columns: self.columns }
    }
}

impl Columns for AllColumns {
    fn push_items(self, out: &mut Vec<ast::SelectItem>) {
        out.extend(self.columns.iter().map(|c| ast::SelectItem {
            expr: ast::Expr::Column { table: Some(name(self.table)), name: name(c) },
            alias: None,
        }));
    }
}

macro_rules! tuple_columns {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Columns),+> Columns for ($($t,)+) {
            fn push_items(self, out: &mut Vec<ast::SelectItem>) {
                $(self.$i.push_items(out);)+
            }
        }
    };
}
tuple_columns!(A 0);
tuple_columns!(A 0, B 1);
tuple_columns!(A 0, B 1, C 2);
tuple_columns!(A 0, B 1, C 2, D 3);
tuple_columns!(A 0, B 1, C 2, D 3, E 4);
tuple_columns!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_columns!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_columns!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// `SELECT columns`: add `.from(...)` and the rest.
pub fn select(columns: impl Columns) -> Select {
    let mut s = ast::Select::default();
    columns.push_items(&mut s.columns);
    Select(s, Vec::new())
}

/// A `SELECT` being built, with the relationships its rows load.
#[derive(Debug, Clone, PartialEq)]
pub struct Select(ast::Select, Vec<LoadOption>);

impl Select {
    /// The untyped statement.
    pub fn into_ast(self) -> ast::Select {
        self.0
    }

    /// `FROM source` (more calls add comma-joined sources).
    pub fn from(mut self, source: impl IntoSource) -> Self {
        self.0.from.push(source.into_source());
        self
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(mut self) -> Self {
        self.0.distinct = true;
        self
    }

    fn join_kind(mut self, kind: ast::JoinKind, source: impl IntoSource, on: Expr<bool>) -> Self {
        self.0.joins.push(ast::Join { kind, source: source.into_source(), on: on.into_node() });
        self
    }

    /// `INNER JOIN source ON on`.
    pub fn join(self, source: impl IntoSource, on: Expr<bool>) -> Self {
        self.join_kind(ast::JoinKind::Inner, source, on)
    }

    /// `LEFT JOIN source ON on`.
    pub fn left_join(self, source: impl IntoSource, on: Expr<bool>) -> Self {
        self.join_kind(ast::JoinKind::Left, source, on)
    }

    /// `RIGHT JOIN source ON on`.
    pub fn right_join(self, source: impl IntoSource, on: Expr<bool>) -> Self {
        self.join_kind(ast::JoinKind::Right, source, on)
    }

    /// `INNER JOIN` the relationship's target `ON` its foreign key (for a
    /// `many_to_many`, the association table and then the target). A
    /// self-reference joins the table under the relationship's name.
    pub fn join_related<P, C>(mut self, relation: Relation<P, C>) -> Self {
        self.0.joins.extend(super::relation::joins(relation.def(), ast::JoinKind::Inner));
        self
    }

    /// `LEFT JOIN` the relationship's target, as [`Select::join_related`].
    pub fn left_join_related<P, C>(mut self, relation: Relation<P, C>) -> Self {
        self.0.joins.extend(super::relation::joins(relation.def(), ast::JoinKind::Left));
        self
    }

    /// Loads relationships for the rows (a model's): `selectin(User::POSTS)`,
    /// `joined(Post::AUTHOR)`, nested with `.then(..)`. More calls add options.
    pub fn options(mut self, option: impl Into<LoadOption>) -> Self {
        self.1.push(option.into());
        self
    }

    /// `FULL JOIN source ON on`: an error when run or printed on MySQL/MariaDB.
    pub fn full_join(self, source: impl IntoSource, on: Expr<bool>) -> Self {
        self.join_kind(ast::JoinKind::Full, source, on)
    }

    /// `WHERE condition` (more calls are joined with `AND`).
    pub fn filter(mut self, condition: Expr<bool>) -> Self {
        self.0.filter = Some(and(self.0.filter.take(), condition));
        self
    }

    /// `GROUP BY e` (more calls add keys).
    pub fn group_by(mut self, e: impl Expression) -> Self {
        self.0.group_by.push(e.node());
        self
    }

    /// `HAVING condition` (more calls are joined with `AND`).
    pub fn having(mut self, condition: Expr<bool>) -> Self {
        self.0.having = Some(and(self.0.having.take(), condition));
        self
    }

    /// `ORDER BY order` (more calls add keys).
    pub fn order_by(mut self, order: Order) -> Self {
        self.0.order_by.push(order.0);
        self
    }

    /// `LIMIT n`.
    pub fn limit(mut self, n: u64) -> Self {
        self.0.limit = Some(n);
        self
    }

    /// `OFFSET n`.
    pub fn offset(mut self, n: u64) -> Self {
        self.0.offset = Some(n);
        self
    }

    /// `WITH cte` (recursive when the CTE is).
    pub fn with(mut self, cte: &Cte) -> Self {
        self.0.with.push(cte.ast.clone());
        self
    }

    fn compound(mut self, op: ast::SetOp, other: Select) -> Self {
        self.0.compound.push((op, other.0));
        self
    }

    /// `self UNION other`.
    pub fn union(self, other: Select) -> Self {
        self.compound(ast::SetOp::Union, other)
    }

    /// `self UNION ALL other`.
    pub fn union_all(self, other: Select) -> Self {
        self.compound(ast::SetOp::UnionAll, other)
    }

    /// `self INTERSECT other`.
    pub fn intersect(self, other: Select) -> Self {
        self.compound(ast::SetOp::Intersect, other)
    }

    /// `self EXCEPT other`.
    pub fn except(self, other: Select) -> Self {
        self.compound(ast::SetOp::Except, other)
    }

    /// This query as a `FROM` source named `alias`.
    pub fn alias(self, alias: &'static str) -> Subquery {
        Subquery { select: self.0, alias }
    }
}

fn and(current: Option<ast::Expr>, more: Expr<bool>) -> ast::Expr {
    match current {
        None => more.into_node(),
        Some(ast::Expr::And(mut items)) => {
            items.push(more.into_node());
            ast::Expr::And(items)
        }
        Some(node) => ast::Expr::And(vec![node, more.into_node()]),
    }
}

impl Statement for Select {
    fn as_ast(&self) -> StatementRef<'_> {
        StatementRef::Select(&self.0)
    }

    fn load_options(&self) -> &[LoadOption] {
        &self.1
    }
}

/// A query in `FROM`, under an alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    select: ast::Select,
    alias: &'static str,
}

impl Subquery {
    /// Its column `column` (an alias or column name of its select list).
    pub fn col<T: SqlValue>(&self, column: &'static str) -> Column<Subquery, T> {
        Column::new(self.alias, column)
    }
}

/// A common table expression: `WITH name AS (select)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    ast: ast::Cte,
    name: &'static str,
}

/// `WITH name AS (select)`.
pub fn cte(cte_name: &'static str, select: Select) -> Cte {
    let ast = ast::Cte { name: name(cte_name), columns: Vec::new(), select: select.0, recursive: false };
    Cte { ast, name: cte_name }
}

/// `WITH RECURSIVE name (columns) AS (anchor UNION ALL step)`: `step`
/// reads from the CTE itself (`.from(&cte_ref(name))`).
pub fn recursive_cte(cte_name: &'static str, columns: &[&'static str], anchor: Select, step: Select) -> Cte {
    let ast = ast::Cte {
        name: name(cte_name),
        columns: columns.iter().map(|c| name(c)).collect(),
        select: anchor.union_all(step).0,
        recursive: true,
    };
    Cte { ast, name: cte_name }
}

/// The CTE called `name` as a source, for a recursive step that reads itself.
pub fn cte_ref(cte_name: &'static str) -> Cte {
    cte(cte_name, Select(ast::Select::default(), Vec::new()))
}

impl Cte {
    /// Its column `column`, typed `T`.
    pub fn col<T: SqlValue>(&self, column: &'static str) -> Column<Cte, T> {
        Column::new(self.name, column)
    }
}

/// An `INSERT` being built; `'m` is the lifetime of the models whose
/// values it borrows ([`Insert::models`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Insert<'m>(ast::Insert<'m>);

/// `INSERT INTO table ...`: add `.row(...)`s, `.models(...)` or `.select(...)`.
pub fn insert_into<M>(table: impl IntoTable<M>) -> Insert<'static> {
    Insert(ast::Insert {
        table: table.table_name(),
        columns: Vec::new(),
        source: ast::InsertSource::Values(Vec::new()),
        on_conflict: None,
        returning: Vec::new(),
    })
}

/// One row of values for an insert, column by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    columns: Vec<ast::Name>,
    values: Vec<ast::Expr>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Row::default()
    }

    /// `column = value`.
    pub fn set<M, T: SqlValue>(mut self, column: Column<M, T>, value: impl IntoExpr<T::Base>) -> Self {
        self.columns.push(name(column.name));
        self.values.push(value.into_node());
        self
    }
}

impl<'m> Insert<'m> {
    /// Adds a row; every row must set the same columns in the same order.
    pub fn row(mut self, row: Row) -> Self {
        if self.0.columns.is_empty() {
            self.0.columns = row.columns.clone();
        }
        // A row of other columns is refused when rendered.
        let values = if row.columns == self.0.columns { row.values } else { Vec::new() };
        if let Some(rows) = self.rows_of_expressions() {
            rows.push(values);
        }
        self
    }

    /// Adds one row per model, every column but a generated key that is
    /// still unset (as [`crate::orm::exec::insert`] does for one). The
    /// statement borrows the models' values: it copies no text.
    pub fn models<'n, M: super::Model>(self, models: &'n [M]) -> Insert<'n>
    where
        'm: 'n,
    {
        let mut this: Insert<'n> = self;
        // Rows with the key and rows without it have two column lists:
        // each is compared with the statement's once, not per row.
        let mut fits: [Option<bool>; 2] = [None, None];
        for model in models {
            let skip = M::GENERATED.filter(|_| model.generated_key_unset());
            let positions = || (0..M::COLUMNS.len()).filter(|&i| Some(M::COLUMNS[i]) != skip);
            let columns = &mut this.0.columns;
            if columns.is_empty() {
                *columns = positions().map(|i| name(M::COLUMNS[i])).collect();
            }
            let fits = *fits[usize::from(skip.is_some())]
                .get_or_insert_with(|| positions().map(|i| M::COLUMNS[i]).eq(columns.iter().map(|c| c.as_ref())));
            let width = columns.len();
            match &mut this.0.source {
                // The first rows, of values only: kept borrowed, row after row.
                ast::InsertSource::Values(rows) if fits && width > 0 && rows.is_empty() => {
                    let mut values = Vec::with_capacity(models.len() * width);
                    values.extend(positions().map(|i| model.value(i)));
                    this.0.source = ast::InsertSource::Binds(values);
                }
                ast::InsertSource::Binds(values) if fits => values.extend(positions().map(|i| model.value(i))),
                _ => {
                    // A row of other columns is refused when rendered.
                    let values = if fits {
                        positions().map(|i| ast::Expr::Bind(model.value(i).into_owned())).collect()
                    } else {
                        Vec::new()
                    };
                    if let Some(rows) = this.rows_of_expressions() {
                        rows.push(values);
                    }
                }
            }
        }
        this
    }

    /// The rows, as expressions (borrowed values are copied into them the
    /// first time a row of expressions joins them); `None` for a select.
    fn rows_of_expressions(&mut self) -> Option<&mut Vec<Vec<ast::Expr>>> {
        if let ast::InsertSource::Binds(values) = &mut self.0.source {
            let width = self.0.columns.len().max(1);
            let rows = values
                .chunks(width)
                .map(|row| row.iter().map(|v| ast::Expr::Bind(v.borrowed().into_owned())).collect())
                .collect();
            self.0.source = ast::InsertSource::Values(rows);
        }
        match &mut self.0.source {
            ast::InsertSource::Values(rows) => Some(rows),
            _ => None,
        }
    }

    /// `INSERT INTO table (columns) SELECT ...`.
    pub fn select<M>(mut self, columns: &[AllColumnsOf<M>], select: Select) -> Self {
        self.0.columns = columns.iter().map(|c| name(c.0)).collect();
        self.0.source = ast::InsertSource::Select(Box::new(select.0));
        self
    }

    /// On a conflict on the unique key `target`, update nothing: skip the row.
    pub fn on_conflict_do_nothing<M>(mut self, target: &[AllColumnsOf<M>]) -> Self {
        self.0.on_conflict =
            Some(ast::OnConflict { target: target.iter().map(|c| name(c.0)).collect(), update: Vec::new() });
        self
    }

    /// On a conflict on the unique key `target`, set each of `columns` to
    /// the value the row brought.
    pub fn on_conflict_update<M>(mut self, target: &[AllColumnsOf<M>], columns: &[AllColumnsOf<M>]) -> Self {
        let update = columns.iter().map(|c| (name(c.0), ast::Expr::Excluded(name(c.0)))).collect();
        self.0.on_conflict = Some(ast::OnConflict { target: target.iter().map(|c| name(c.0)).collect(), update });
        self
    }

    /// In an upsert's update, also set `column` to `value` (after
    /// `on_conflict_update`, which names the key; without it the insert is
    /// refused when rendered).
    pub fn on_conflict_set<M, T: SqlValue>(mut self, column: Column<M, T>, value: impl IntoExpr<T::Base>) -> Self {
        let conflict =
            self.0.on_conflict.get_or_insert_with(|| ast::OnConflict { target: Vec::new(), update: Vec::new() });
        conflict.update.push((name(column.name), value.into_node()));
        self
    }

    /// `RETURNING columns` (an error where the backend has none).
    pub fn returning(mut self, columns: impl Columns) -> Self {
        self.0.returning = returning(columns);
        self
    }
}

/// The value an upsert's row brought for `column` (`EXCLUDED.c` / `VALUES(c)`).
pub fn excluded<M, T: SqlValue>(column: Column<M, T>) -> Expr<T> {
    Expr::from_node(ast::Expr::Excluded(name(column.name)))
}

/// A column named in a key or column list, whatever its type.
#[derive(Debug, Clone, Copy)]
pub struct AllColumnsOf<M>(&'static str, PhantomData<fn() -> M>);

impl<M, T> From<Column<M, T>> for AllColumnsOf<M> {
    fn from(c: Column<M, T>) -> Self {
        AllColumnsOf(c.name, PhantomData)
    }
}

/// The name of `column`, for key and column lists (`&[col(User::EMAIL)]`).
pub fn col<M, T>(column: Column<M, T>) -> AllColumnsOf<M> {
    column.into()
}

fn returning(columns: impl Columns) -> Vec<ast::Expr> {
    let mut items = Vec::new();
    columns.push_items(&mut items);
    items.into_iter().map(|i| i.expr).collect()
}

impl Statement for Insert<'_> {
    fn as_ast(&self) -> StatementRef<'_> {
        StatementRef::Insert(&self.0)
    }
}

/// An `UPDATE` being built.
#[derive(Debug, Clone, PartialEq)]
pub struct Update(ast::Update);

/// `UPDATE table SET ...`.
pub fn update<M>(table: impl IntoTable<M>) -> Update {
    Update(ast::Update { table: table.table_name(), set: Vec::new(), filter: None, returning: Vec::new() })
}

impl Update {
    /// `SET column = value`.
    pub fn set<M, T: SqlValue>(mut self, column: Column<M, T>, value: impl IntoExpr<T::Base>) -> Self {
        self.0.set.push((name(column.name), value.into_node()));
        self
    }

    /// `WHERE condition` (more calls are joined with `AND`).
    pub fn filter(mut self, condition: Expr<bool>) -> Self {
        self.0.filter = Some(and(self.0.filter.take(), condition));
        self
    }

    /// `RETURNING columns` (PostgreSQL and SQLite only).
    pub fn returning(mut self, columns: impl Columns) -> Self {
        self.0.returning = returning(columns);
        self
    }
}

impl Statement for Update {
    fn as_ast(&self) -> StatementRef<'_> {
        StatementRef::Update(&self.0)
    }
}

/// A `DELETE` being built.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete(ast::Delete);

/// `DELETE FROM table`.
pub fn delete_from<M>(table: impl IntoTable<M>) -> Delete {
    Delete(ast::Delete { table: table.table_name(), filter: None, returning: Vec::new() })
}

impl Delete {
    /// `WHERE condition` (more calls are joined with `AND`).
    pub fn filter(mut self, condition: Expr<bool>) -> Self {
        self.0.filter = Some(and(self.0.filter.take(), condition));
        self
    }

    /// `RETURNING columns` (an error where the backend has none).
    pub fn returning(mut self, columns: impl Columns) -> Self {
        self.0.returning = returning(columns);
        self
    }
}

impl Statement for Delete {
    fn as_ast(&self) -> StatementRef<'_> {
        StatementRef::Delete(&self.0)
    }
}

/// Raw SQL with `:name` parameters: `text("... WHERE id = :id").bind("id", 7i64)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Text(ast::RawSql);

/// Raw SQL with `:name` parameters (`::` casts and quoted text are left alone).
pub fn text(sql: impl Into<String>) -> Text {
    Text(ast::RawSql { sql: sql.into(), binds: Vec::new() })
}

impl Text {
    /// Binds `value` to `:name`.
    pub fn bind<V: SqlValue>(mut self, param: &str, value: V) -> Self {
        self.0.binds.push((param.to_string(), value.to_value().into_owned()));
        self
    }

    /// Binds a string to `:name`.
    pub fn bind_str(mut self, param: &str, value: &str) -> Self {
        self.0.binds.push((param.to_string(), ast::Value::Text(Cow::Owned(value.to_string()))));
        self
    }
}

impl Statement for Text {
    fn as_ast(&self) -> StatementRef<'_> {
        StatementRef::Raw(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{MysqlDialect, PostgresDialect, SqliteDialect};
    use crate::orm::expr::dialect_sql;

    enum Book {}
    const NUM: Column<Book, String> = Column::unqualified("version_num");
    const AT: Column<Book, Option<chrono::NaiveDateTime>> = Column::unqualified("at");

    /// Statements on a table named at run time, with a dialect's SQL
    /// fragment, printed with placeholders and with literals.
    #[test]
    fn named_tables_fragments_and_literals_render_on_every_dialect() {
        let table = NamedTable::<Book>::new("my_version");
        let statements: Vec<(&str, Box<dyn Statement>)> = vec![
            ("select", Box::new(select(NUM).from(&table).filter(NUM.ne("it's")).order_by(NUM.asc()))),
            (
                "insert",
                Box::new(insert_into(&table).row(Row::new().set(NUM, "a1")).on_conflict_do_nothing(&[col(NUM)])),
            ),
            (
                "update",
                Box::new(
                    update(&table)
                        .set(NUM, "a2")
                        .set(AT, dialect_sql::<chrono::NaiveDateTime>("CURRENT_TIMESTAMP"))
                        .filter(NUM.eq("a1")),
                ),
            ),
            ("delete", Box::new(delete_from(&table).filter(NUM.eq("a2")))),
        ];
        let mut out = String::new();
        for dialect in [&PostgresDialect as &dyn Dialect, &MysqlDialect, &SqliteDialect] {
            for (name, statement) in &statements {
                out.push_str(&format!("{} {name}: {}\n", dialect.name(), statement.to_sql(dialect).unwrap()));
                out.push_str(&format!("{} {name}: {}\n", dialect.name(), statement.to_literal_sql(dialect).unwrap()));
            }
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn binary_values_have_no_printed_literal() {
        let bytes: Column<Book, Vec<u8>> = Column::unqualified("data");
        let insert = insert_into(&NamedTable::<Book>::new("t")).row(Row::new().set(bytes, vec![0u8, 1]));
        let e = insert.to_literal_sql(&PostgresDialect).unwrap_err();
        assert_eq!(e.to_string(), "postgresql has no binary literals in printed SQL");
    }
}
