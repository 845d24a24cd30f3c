//! Runs statements on a [`Connection`] through diesel: each as a prepared
//! statement that diesel caches by its SQL text, parameters bound, rows
//! decoded by position.

use super::error::Error as OrmError;
use super::model::{Model, Shape};
use super::query::Statement;
use super::value::{Fields, FromRow, KeyValue, OrmBackend};
use crate::db::{Connection, OnDiesel};
use crate::dialect::query::{
    self as ast, Bound, Capabilities, DecodeError, QueryError, StatementKind, Template, Value,
};
use crate::dialect::{self, Dialect};
use diesel::connection::{Connection as _, LoadConnection};
use diesel::mysql::MysqlConnection;
use diesel::pg::PgConnection;
use diesel::query_builder::QueryFragment;
use diesel::sqlite::SqliteConnection;
use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The dialect and server capabilities of `conn`, the version asked once
/// per connection.
pub fn capabilities(conn: &mut Connection) -> Result<(&'static dyn Dialect, Capabilities), OrmError> {
    let dialect = dialect::of(conn.backend());
    let version = conn
        .server_version(dialect.server_version_query())
        .map_err(|e| OrmError::from_db(dialect, StatementKind::Select, None, e))?;
    Ok((dialect, dialect.capabilities(version)))
}

thread_local! {
    // Builder statements render into this buffer, so a loop of queries
    // reuses one allocation for the text.
    static BUFFER: RefCell<Template> = RefCell::new(Template::default());
}

fn with_rendered<T>(
    conn: &mut Connection,
    statement: &(impl Statement + ?Sized),
    run: impl FnOnce(&mut Connection, &Template, &[Value<'_>]) -> Result<T, OrmError>,
) -> Result<T, OrmError> {
    let (dialect, caps) = capabilities(conn)?;
    BUFFER.with(|buffer| {
        let mut fresh = Template::default();
        let mut guard = buffer.try_borrow_mut();
        let template = match &mut guard {
            Ok(t) => &mut **t,
            Err(_) => &mut fresh,
        };
        let mut binds = Vec::new();
        ast::render_into(dialect, caps, statement.as_ast(), template, &mut binds)?;
        run(conn, template, &binds)
    })
}

/// Runs a query and decodes every row into `R` (a model, a tuple, a value).
pub fn fetch<R: FromRow>(conn: &mut Connection, statement: &(impl Statement + ?Sized)) -> Result<Vec<R>, OrmError> {
    let ast = statement.as_ast();
    with_rendered(conn, statement, |conn, template, binds| load(conn, ast.kind(), ast.table(), template, binds))
}

/// Runs a query and decodes its first row, if any.
pub fn fetch_optional<R: FromRow>(
    conn: &mut Connection,
    statement: &(impl Statement + ?Sized),
) -> Result<Option<R>, OrmError> {
    Ok(fetch(conn, statement)?.into_iter().next())
}

/// Runs a statement that returns no rows; the number of rows it touched.
pub fn execute(conn: &mut Connection, statement: &(impl Statement + ?Sized)) -> Result<usize, OrmError> {
    let ast = statement.as_ast();
    with_rendered(conn, statement, |conn, template, binds| run(conn, ast.kind(), ast.table(), template, binds))
}

/// Runs a rendered query (`template` with `binds`) and decodes its rows.
pub fn load<R: FromRow>(
    conn: &mut Connection,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
    binds: &[Value<'_>],
) -> Result<Vec<R>, OrmError> {
    let result = conn.with_diesel(Load::<R> { bound: Bound { template, binds }, marker: std::marker::PhantomData });
    result.map_err(|e| e.into_orm(conn, statement, table, template))
}

/// Runs a rendered statement that returns no rows.
pub fn run(
    conn: &mut Connection,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
    binds: &[Value<'_>],
) -> Result<usize, OrmError> {
    let result = conn.with_diesel(Run { bound: Bound { template, binds } });
    result.map_err(|e| Failure::Driver(e).into_orm(conn, statement, table, template))
}

/// Why a statement failed inside diesel.
enum Failure {
    Driver(diesel::result::Error),
    Decode(DecodeError),
}

impl Failure {
    fn into_orm(
        self,
        conn: &Connection,
        statement: StatementKind,
        table: Option<&str>,
        template: &Template,
    ) -> OrmError {
        match self {
            Failure::Decode(source) => OrmError::Decode { statement, source },
            Failure::Driver(e) => {
                let error = conn.driver_error(e, &template.sql);
                OrmError::from_db(dialect::of(conn.backend()), statement, table, error)
            }
        }
    }
}

struct Load<'q, 'v, R> {
    bound: Bound<'q, 'v>,
    marker: std::marker::PhantomData<fn() -> R>,
}

fn load_rows<C, R>(conn: &mut C, bound: Bound<'_, '_>) -> Result<Vec<R>, Failure>
where
    C: LoadConnection,
    C::Backend: OrmBackend + diesel::backend::Backend,
    for<'a, 'b> Bound<'a, 'b>: QueryFragment<C::Backend>,
    R: FromRow,
{
    let cursor = conn.load(bound).map_err(Failure::Driver)?;
    let mut out = Vec::new();
    for row in cursor {
        let row = row.map_err(Failure::Driver)?;
        out.push(R::from_row(&mut Fields::<_, C::Backend>::new(&row)).map_err(Failure::Decode)?);
    }
    Ok(out)
}

impl<R: FromRow> OnDiesel for Load<'_, '_, R> {
    type Output = Result<Vec<R>, Failure>;
    fn postgres(self, conn: &mut PgConnection) -> Self::Output {
        load_rows(conn, self.bound)
    }
    fn mysql(self, conn: &mut MysqlConnection) -> Self::Output {
        load_rows(conn, self.bound)
    }
    fn sqlite(self, conn: &mut SqliteConnection) -> Self::Output {
        load_rows(conn, self.bound)
    }
}

struct Run<'q, 'v> {
    bound: Bound<'q, 'v>,
}

impl OnDiesel for Run<'_, '_> {
    type Output = diesel::QueryResult<usize>;
    fn postgres(self, conn: &mut PgConnection) -> Self::Output {
        conn.execute_returning_count(&self.bound)
    }
    fn mysql(self, conn: &mut MysqlConnection) -> Self::Output {
        conn.execute_returning_count(&self.bound)
    }
    fn sqlite(self, conn: &mut SqliteConnection) -> Self::Output {
        conn.execute_returning_count(&self.bound)
    }
}

/// Reads the row of `M` whose primary key is `key`.
pub fn get<M: Model>(conn: &mut Connection, key: &M::Key) -> Result<Option<M>, OrmError> {
    let dialect = dialect::of(conn.backend());
    let template = M::statements().get::<M>(dialect, Shape::Get)?;
    let binds = key.key_values();
    Ok(load(conn, StatementKind::Select, Some(M::TABLE_NAME), template, &binds)?.into_iter().next())
}

/// Inserts `model`; a generated key left unset (zero) is filled in from
/// `RETURNING` or the backend's last-insert-id.
pub fn insert<M: Model>(conn: &mut Connection, model: &mut M) -> Result<(), OrmError> {
    let (dialect, caps) = capabilities(conn)?;
    let table = Some(M::TABLE_NAME);
    let generated = M::GENERATED.filter(|_| model.generated_key_unset());
    let Some(generated) = generated else {
        let template = M::statements().get::<M>(dialect, Shape::Insert)?;
        run(conn, StatementKind::Insert, table, template, &model.values())?;
        return Ok(());
    };
    let binds: Vec<Value<'_>> =
        M::COLUMNS.iter().zip(model.values()).filter(|(c, _)| **c != generated).map(|(_, v)| v).collect();
    let key: i64 = if caps.returning_insert {
        let template = M::statements().get::<M>(dialect, Shape::InsertReturning)?;
        let keys: Vec<(i64,)> = load(conn, StatementKind::Insert, table, template, &binds)?;
        keys.into_iter().next().ok_or(OrmError::NoRow { statement: StatementKind::Insert })?.0
    } else {
        let template = M::statements().get::<M>(dialect, Shape::InsertGenerated)?;
        run(conn, StatementKind::Insert, table, template, &binds)?;
        let last = Template { sql: dialect.last_insert_id_query().to_string(), splits: Vec::new() };
        let keys: Vec<(i64,)> = load(conn, StatementKind::Select, table, &last, &[])?;
        keys.into_iter().next().ok_or(OrmError::NoRow { statement: StatementKind::Insert })?.0
    };
    drop(binds);
    model.set_generated_key(key)?;
    Ok(())
}

/// Writes every non-key column of `model` to its row; the number of rows
/// changed (0 when the row is gone).
pub fn update<M: Model>(conn: &mut Connection, model: &M) -> Result<usize, OrmError> {
    let dialect = dialect::of(conn.backend());
    let template = M::statements().get::<M>(dialect, Shape::UpdateByKey)?;
    let values = model.values();
    let key = model.key();
    let mut binds: Vec<Value<'_>> =
        M::COLUMNS.iter().zip(values).filter(|(c, _)| !M::KEY.contains(c)).map(|(_, v)| v).collect();
    binds.extend(key.key_values());
    run(conn, StatementKind::Update, Some(M::TABLE_NAME), template, &binds)
}

/// Writes only the columns at `changed` (positions in [`Model::COLUMNS`],
/// none of them a key column) of `model` to its row; the number of rows changed.
pub fn update_columns<M: Model>(conn: &mut Connection, model: &M, changed: &[usize]) -> Result<usize, OrmError> {
    let template = update_columns_template::<M>(dialect::of(conn.backend()), changed)?;
    let mut values = model.values();
    let key = model.key();
    let mut binds: Vec<Value<'_>> =
        changed.iter().filter_map(|&i| values.get_mut(i).map(|v| std::mem::replace(v, Value::Null))).collect();
    binds.extend(key.key_values());
    run(conn, StatementKind::Update, Some(M::TABLE_NAME), &template, &binds)
}

/// A set of column positions (all below 64, ascending) as bits.
fn column_mask(changed: &[usize]) -> Option<u64> {
    let ascending = changed.windows(2).all(|w| w[0] < w[1]);
    let fits = changed.last().is_none_or(|&last| last < 64);
    (ascending && fits).then(|| changed.iter().fold(0, |mask, &i| mask | 1 << i))
}

/// The key of a memoised `UPDATE` template: the model, the backend, the columns set.
type UpdateShape = (TypeId, usize, u64);

thread_local! {
    // The `UPDATE t SET <changed columns> WHERE key = ?` templates flushes
    // used, so that updating many rows renders each column set once.
    static UPDATES: RefCell<HashMap<UpdateShape, Rc<Template>>> = RefCell::new(HashMap::new());
}

/// The template of an update of the columns at `changed` of `M` on
/// `dialect`, rendered on first use of that column set.
pub fn update_columns_template<M: Model>(dialect: &dyn Dialect, changed: &[usize]) -> Result<Rc<Template>, OrmError> {
    let shape = column_mask(changed).map(|mask| (TypeId::of::<M>(), dialect.memo_slot(), mask));
    if let Some(found) = shape.and_then(|shape| UPDATES.with(|memo| memo.borrow().get(&shape).cloned())) {
        return Ok(found);
    }
    let columns: Vec<&'static str> = changed.iter().filter_map(|&i| M::COLUMNS.get(i).copied()).collect();
    if columns.is_empty() || columns.iter().any(|c| M::KEY.contains(c)) {
        return Err(QueryError::EmptyUpdate { table: M::TABLE_NAME.to_string() }.into());
    }
    let template = Rc::new(super::model::update_template::<M>(dialect, &columns)?);
    if let Some(shape) = shape {
        UPDATES.with(|memo| memo.borrow_mut().insert(shape, Rc::clone(&template)));
    }
    Ok(template)
}

/// Deletes the row of `M` whose primary key is `key`; the number of rows deleted.
pub fn delete<M: Model>(conn: &mut Connection, key: &M::Key) -> Result<usize, OrmError> {
    let dialect = dialect::of(conn.backend());
    let template = M::statements().get::<M>(dialect, Shape::DeleteByKey)?;
    run(conn, StatementKind::Delete, Some(M::TABLE_NAME), template, &key.key_values())
}
