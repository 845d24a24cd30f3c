//! Runs statements on a [`Connection`] through diesel: each as a prepared
//! statement that diesel caches by its SQL text, parameters bound, rows
//! decoded by position.

use super::error::Error as OrmError;
use super::model::{Model, Shape};
use super::query::Statement;
use super::relation::JoinPlan;
use super::value::{Fields, FromRow, KeyValue, OrmBackend};
use crate::db::{Connection, DbError, OnDiesel};
use crate::dialect::query::{
    self as ast, Bound, Capabilities, DecodeError, QueryError, StatementKind, StatementRef, Template, Value,
};
use crate::dialect::{self, Dialect};
use crate::schema::ColumnType;
use diesel::connection::{Connection as _, LoadConnection};
#[cfg(feature = "mysql")]
use diesel::mysql::MysqlConnection;
#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::query_builder::QueryFragment;
#[cfg(feature = "sqlite")]
use diesel::sqlite::SqliteConnection;
use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Where the ORM's statements run: a sync [`Connection`] or (feature
/// `async`) an [`AsyncConnection`](crate::orm::asynchronous::AsyncConnection).
/// The session, the flush and relationship loading are written once, as
/// async functions over this; on a sync connection their futures never
/// wait, and the sync API runs them to completion at once ([`now`]).
#[doc(hidden)]
pub enum Conn<'c> {
    /// A sync connection: every future over it is ready when first polled.
    Sync(&'c mut Connection),
    /// An async connection.
    #[cfg(feature = "async")]
    Async(&'c mut crate::orm::asynchronous::AsyncConnection),
}

/// A boxed future of the ORM's IO, `Send` so that async sessions can run
/// on any of a runtime's threads (what trait objects and derived code return).
#[doc(hidden)]
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Runs `work`, a future over a sync [`Conn`], to its end: it is ready at
/// its first poll. A future that waits (async IO reached from a sync
/// method) is [`OrmError::AsyncInSync`], never a panic or a block.
///
/// Takes the future pinned where it was made (`now(pin!(..))`): a future
/// moved is copied whole, the space of everything it may await included.
pub(crate) fn now<T, F: std::future::Future<Output = Result<T, OrmError>>>(
    work: std::pin::Pin<&mut F>,
) -> Result<T, OrmError> {
    match work.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(OrmError::AsyncInSync),
    }
}

impl Conn<'_> {
    /// The connection's backend.
    pub(crate) fn backend(&self) -> crate::db::Backend {
        match self {
            Conn::Sync(c) => c.backend(),
            #[cfg(feature = "async")]
            Conn::Async(c) => c.backend(),
        }
    }

    /// The transaction nesting on the connection (0: none open).
    pub(crate) fn depth(&self) -> u32 {
        match self {
            Conn::Sync(c) => c.transaction_state().depth,
            #[cfg(feature = "async")]
            Conn::Async(c) => c.transaction_state().depth,
        }
    }

    /// The dialect and server capabilities, the version asked once per connection.
    pub(crate) async fn capabilities(&mut self) -> Result<(&'static dyn Dialect, Capabilities), OrmError> {
        match self {
            Conn::Sync(c) => capabilities(c),
            #[cfg(feature = "async")]
            Conn::Async(c) => crate::orm::asynchronous::exec::capabilities(c).await,
        }
    }

    /// Runs a rendered query and decodes its rows (and the `joined`
    /// relationships' columns after each).
    pub(crate) async fn load<R: FromRow>(
        &mut self,
        statement: StatementKind,
        table: Option<&str>,
        template: &Template,
        binds: &[Value<'_>],
        joined: &[JoinPlan],
    ) -> Result<Vec<R>, OrmError> {
        match self {
            Conn::Sync(conn) => {
                let result = conn.with_diesel(Load::<R> {
                    bound: Bound { template, binds },
                    joined,
                    marker: std::marker::PhantomData,
                });
                result.map_err(|e| e.into_orm(conn, statement, table, template))
            }
            #[cfg(feature = "async")]
            Conn::Async(conn) => {
                crate::orm::asynchronous::exec::load_joined(conn, statement, table, template, binds, joined).await
            }
        }
    }

    /// Runs a rendered statement that returns no rows.
    pub(crate) async fn run(
        &mut self,
        statement: StatementKind,
        table: Option<&str>,
        template: &Template,
        binds: &[Value<'_>],
    ) -> Result<usize, OrmError> {
        match self {
            Conn::Sync(conn) => {
                let result = conn.with_diesel(Run { bound: Bound { template, binds } });
                result.map_err(|e| Failure::Driver(e).into_orm(conn, statement, table, template))
            }
            #[cfg(feature = "async")]
            Conn::Async(conn) => crate::orm::asynchronous::exec::run(conn, statement, table, template, binds).await,
        }
    }

    /// Opens a transaction (see [`super::transaction::begin`]).
    pub(crate) async fn begin(&mut self, options: &crate::dialect::TransactionOptions) -> Result<(), OrmError> {
        match self {
            Conn::Sync(c) => super::transaction::begin(c, dialect::of(c.backend()), options),
            #[cfg(feature = "async")]
            Conn::Async(c) => crate::orm::asynchronous::transaction::begin(c, options).await,
        }
    }

    /// Opens a savepoint; its depth.
    pub(crate) async fn begin_nested(&mut self) -> Result<u32, OrmError> {
        match self {
            Conn::Sync(c) => super::transaction::begin_nested(c, dialect::of(c.backend())),
            #[cfg(feature = "async")]
            Conn::Async(c) => crate::orm::asynchronous::transaction::begin_nested(c).await,
        }
    }

    /// Commits the innermost level.
    pub(crate) async fn commit(&mut self) -> Result<(), OrmError> {
        match self {
            Conn::Sync(c) => super::transaction::commit(c, dialect::of(c.backend())),
            #[cfg(feature = "async")]
            Conn::Async(c) => crate::orm::asynchronous::transaction::commit(c).await,
        }
    }

    /// Rolls back the innermost level.
    pub(crate) async fn rollback(&mut self) -> Result<(), OrmError> {
        match self {
            Conn::Sync(c) => super::transaction::rollback(c, dialect::of(c.backend())),
            #[cfg(feature = "async")]
            Conn::Async(c) => crate::orm::asynchronous::transaction::rollback(c).await,
        }
    }
}

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

/// The thread's render buffer, taken for one statement (out of the thread
/// local: never a borrow held across an await) and given back when dropped,
/// on whichever thread that is.
struct Buffer(Template);

impl Buffer {
    fn take() -> Buffer {
        Buffer(BUFFER.with(|buffer| buffer.try_borrow_mut().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default()))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let template = std::mem::take(&mut self.0);
        BUFFER.with(|buffer| {
            if let Ok(mut slot) = buffer.try_borrow_mut() {
                *slot = template;
            }
        });
    }
}

/// Runs a query and decodes every row into `R` (a model, a tuple, a value);
/// for a model, loads the relationships its options (and defaults) name.
pub fn fetch<R: FromRow>(conn: &mut Connection, statement: &(impl Statement + ?Sized)) -> Result<Vec<R>, OrmError> {
    now(std::pin::pin!(fetch_on(&mut Conn::Sync(conn), statement)))
}

/// [`fetch`] on either kind of connection.
pub(crate) async fn fetch_on<R: FromRow>(
    conn: &mut Conn<'_>,
    statement: &(impl Statement + ?Sized),
) -> Result<Vec<R>, OrmError> {
    match R::plan(statement.load_options())? {
        None => fetch_plain(conn, statement).await,
        Some(plan) => super::relation::fetch_planned_on(conn, statement, &plan).await,
    }
}

/// [`fetch`] without loading relationships.
pub(crate) async fn fetch_plain<R: FromRow>(
    conn: &mut Conn<'_>,
    statement: &(impl Statement + ?Sized),
) -> Result<Vec<R>, OrmError> {
    let ast = statement.as_ast();
    if !ast.returns_rows() {
        // MariaDB/MySQL's driver cannot read rows from a statement that has
        // none ("No metadata exists"): a write without RETURNING is run.
        execute_on(conn, statement).await?;
        return Ok(Vec::new());
    }
    let (dialect, caps) = conn.capabilities().await?;
    let mut buffer = Buffer::take();
    let mut binds = Vec::new();
    ast::render_into(dialect, caps, ast, &mut buffer.0, &mut binds)?;
    conn.load(ast.kind(), ast.table(), &buffer.0, &binds, &[]).await
}

/// Runs a select built by the relationship loader, decoding the `joined`
/// relationships' columns after each row's.
pub(crate) async fn fetch_ast<R: FromRow>(
    conn: &mut Conn<'_>,
    select: &ast::Select,
    joined: &[JoinPlan],
) -> Result<Vec<R>, OrmError> {
    let (dialect, caps) = conn.capabilities().await?;
    let mut buffer = Buffer::take();
    let mut binds = Vec::new();
    ast::render_into(dialect, caps, StatementRef::Select(select), &mut buffer.0, &mut binds)?;
    conn.load(StatementKind::Select, None, &buffer.0, &binds, joined).await
}

/// The key of a memoised relationship statement: the relationship (its
/// definition's address), the dialect's slot, the server and the shape of
/// the list of keys.
type KeyedShape = (usize, usize, Capabilities, ast::KeyShape);

/// The most relationship statements a thread keeps; past it, the memo
/// starts over (a program has a few per relationship, one per shape).
const KEYED_MEMO: usize = 256;

thread_local! {
    static KEYED: Memo<KeyedShape> = RefCell::new(HashMap::new());
}

/// Runs a select the relationship loader built for `keys` (by `build`),
/// decoding the `joined` relationships' columns after each row's. Without
/// joined relationships its only parameters are its list of `keys`: its
/// text is rendered once per relationship (`id`) and shape of the list
/// ([`ast::key_in_binds`]), and the keys of each load bound to it.
pub(crate) async fn fetch_keyed<R: FromRow>(
    conn: &mut Conn<'_>,
    id: usize,
    keys: ast::Keys<'_>,
    joined: &[JoinPlan],
    build: impl FnOnce() -> Result<ast::Select, OrmError>,
) -> Result<Vec<R>, OrmError> {
    if !joined.is_empty() {
        return fetch_ast(conn, &build()?, joined).await;
    }
    let (dialect, caps) = conn.capabilities().await?;
    let mut binds = Vec::new();
    let key = (id, dialect.memo_slot(), caps, ast::key_in_binds(caps, keys, &mut binds));
    let template = match recall(&KEYED, &key) {
        Some(template) => template,
        None => {
            let select = build()?;
            let mut template = Template::default();
            let mut rendered = Vec::new();
            ast::render_into(dialect, caps, StatementRef::Select(&select), &mut template, &mut rendered)?;
            // Kept only where the keys are all its parameters (as they are
            // in every statement the loader builds).
            if rendered != binds {
                return conn.load(StatementKind::Select, None, &template, &rendered, &[]).await;
            }
            keep(&KEYED, key, KEYED_MEMO, template)
        }
    };
    conn.load(StatementKind::Select, None, &template, &binds, &[]).await
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
    now(std::pin::pin!(execute_on(&mut Conn::Sync(conn), statement)))
}

/// [`execute`] on either kind of connection.
pub(crate) async fn execute_on(conn: &mut Conn<'_>, statement: &(impl Statement + ?Sized)) -> Result<usize, OrmError> {
    let ast = statement.as_ast();
    let (dialect, caps) = conn.capabilities().await?;
    let mut binds = Vec::new();
    if let Some(template) = values_template(dialect, caps, ast, &mut binds)? {
        return conn.run(ast.kind(), ast.table(), &template, &binds).await;
    }
    let mut buffer = Buffer::take();
    ast::render_into(dialect, caps, ast, &mut buffer.0, &mut binds)?;
    conn.run(ast.kind(), ast.table(), &buffer.0, &binds).await
}

/// The key of a memoised plain `INSERT ... VALUES`: the dialect's slot, the
/// server, the table, the columns and the number of rows.
type ValuesShape = (usize, Capabilities, ast::Name, Vec<ast::Name>, usize);

/// The most plain-insert templates a thread keeps; past it, the memo starts
/// over (a loop of inserts has one or two shapes: full chunks, the last).
const VALUES_MEMO: usize = 16;

thread_local! {
    static VALUES: Memo<ValuesShape> = RefCell::new(HashMap::new());
}

/// For a plain multi-row insert of values only (see
/// [`ast::shaped_values_binds`]: `insert_into(..).models(..)` or `.row(..)`s
/// of values), its template, rendered once per shape, with its values in
/// `binds`. `None` for any other statement, which is rendered as usual.
fn values_template<'a>(
    dialect: &dyn Dialect,
    caps: Capabilities,
    statement: StatementRef<'a>,
    binds: &mut Vec<Value<'a>>,
) -> Result<Option<Arc<Template>>, OrmError> {
    let StatementRef::Insert(insert) = statement else { return Ok(None) };
    let Some(rows) = ast::shaped_values_binds(insert, binds) else { return Ok(None) };
    let shape = (dialect.memo_slot(), caps, insert.table.clone(), insert.columns.clone(), rows);
    memoised(&VALUES, shape, VALUES_MEMO, || {
        let mut template = Template::default();
        ast::render_into(dialect, caps, statement, &mut template, &mut Vec::new())?;
        Ok(template)
    })
    .map(Some)
}

/// A thread's memo of rendered templates.
type Memo<K> = RefCell<HashMap<K, Arc<Template>>>;

/// The template kept in `memo` under `key`, or the one `render` builds, then
/// kept (the memo starts over once it holds `limit` templates).
fn memoised<K: std::hash::Hash + Eq + 'static>(
    memo: &'static std::thread::LocalKey<Memo<K>>,
    key: K,
    limit: usize,
    render: impl FnOnce() -> Result<Template, OrmError>,
) -> Result<Arc<Template>, OrmError> {
    if let Some(found) = recall(memo, &key) {
        return Ok(found);
    }
    Ok(keep(memo, key, limit, render()?))
}

/// The template kept in `memo` under `key`, if any.
fn recall<K: std::hash::Hash + Eq + 'static>(
    memo: &'static std::thread::LocalKey<Memo<K>>,
    key: &K,
) -> Option<Arc<Template>> {
    memo.with(|memo| memo.borrow().get(key).cloned())
}

/// Keeps `template` in `memo` under `key` (the memo starts over once it
/// holds `limit` templates).
fn keep<K: std::hash::Hash + Eq + 'static>(
    memo: &'static std::thread::LocalKey<Memo<K>>,
    key: K,
    limit: usize,
    template: Template,
) -> Arc<Template> {
    let template = Arc::new(template);
    memo.with(|memo| {
        let mut memo = memo.borrow_mut();
        if memo.len() >= limit {
            memo.clear();
        }
        memo.insert(key, Arc::clone(&template));
    });
    template
}

/// Runs a rendered query (`template` with `binds`) and decodes its rows.
pub fn load<R: FromRow>(
    conn: &mut Connection,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
    binds: &[Value<'_>],
) -> Result<Vec<R>, OrmError> {
    now(std::pin::pin!(Conn::Sync(conn).load(statement, table, template, binds, &[])))
}

/// Runs a rendered statement that returns no rows.
pub fn run(
    conn: &mut Connection,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
    binds: &[Value<'_>],
) -> Result<usize, OrmError> {
    now(std::pin::pin!(Conn::Sync(conn).run(statement, table, template, binds)))
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
    joined: &'q [JoinPlan],
    marker: std::marker::PhantomData<fn() -> R>,
}

fn load_rows<C, R>(conn: &mut C, bound: Bound<'_, '_>, joined: &[JoinPlan]) -> Result<Vec<R>, Failure>
where
    C: LoadConnection,
    C::Backend: OrmBackend + diesel::backend::Backend,
    for<'a, 'b> Bound<'a, 'b>: QueryFragment<C::Backend>,
    R: FromRow,
{
    let cursor = conn.load(bound).map_err(Failure::Driver)?;
    let mut out = Vec::with_capacity(cursor.size_hint().0);
    let mut column_types = Vec::new();
    for row in cursor {
        let row = row.map_err(Failure::Driver)?;
        let mut fields = Fields::<_, C::Backend>::new(&row, &mut column_types);
        out.push(R::from_row_joined(&mut fields, joined).map_err(Failure::Decode)?);
    }
    Ok(out)
}

impl<R: FromRow> OnDiesel for Load<'_, '_, R> {
    type Output = Result<Vec<R>, Failure>;
    #[cfg(feature = "postgres")]
    fn postgres(self, conn: &mut PgConnection) -> Self::Output {
        load_rows(conn, self.bound, self.joined)
    }
    /// diesel's MySQL client panics reading a value of a column the server
    /// typed `NULL` (`SELECT ?`): that panic, and no other, is an error.
    #[cfg(feature = "mysql")]
    fn mysql(self, conn: &mut MysqlConnection) -> Self::Output {
        let load = std::panic::AssertUnwindSafe(|| load_rows(conn, self.bound, self.joined));
        std::panic::catch_unwind(load).unwrap_or_else(|panic| {
            if untyped_column(&*panic) {
                Err(Failure::Decode(DecodeError::Untyped))
            } else {
                std::panic::resume_unwind(panic)
            }
        })
    }
    #[cfg(feature = "sqlite")]
    fn sqlite(self, conn: &mut SqliteConnection) -> Self::Output {
        load_rows(conn, self.bound, self.joined)
    }
}

/// Whether a panic is diesel's on a MySQL column typed `NULL` (the arm of
/// `MYSQL_TYPE_NULL` it calls unreachable).
#[cfg(feature = "mysql")]
fn untyped_column(panic: &(dyn std::any::Any + Send)) -> bool {
    let message = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied());
    message.is_some_and(|m| m.contains("We ensure at the call side that we do not hit this type here"))
}

/// Runs `ping` (a statement without parameters) on `conn` as a cached
/// prepared statement: the server parses and plans it once per connection,
/// not at every pool checkout.
pub(crate) fn ping(conn: &mut Connection, ping: &Template) -> Result<(), DbError> {
    match conn.with_diesel(Run { bound: Bound { template: ping, binds: &[] } }) {
        Ok(_) => Ok(()),
        Err(e) => Err(conn.driver_error(e, &ping.sql)),
    }
}

struct Run<'q, 'v> {
    bound: Bound<'q, 'v>,
}

impl OnDiesel for Run<'_, '_> {
    type Output = diesel::QueryResult<usize>;
    #[cfg(feature = "postgres")]
    fn postgres(self, conn: &mut PgConnection) -> Self::Output {
        conn.execute_returning_count(&self.bound)
    }
    #[cfg(feature = "mysql")]
    fn mysql(self, conn: &mut MysqlConnection) -> Self::Output {
        conn.execute_returning_count(&self.bound)
    }
    #[cfg(feature = "sqlite")]
    fn sqlite(self, conn: &mut SqliteConnection) -> Self::Output {
        conn.execute_returning_count(&self.bound)
    }
}

/// Reads the row of `M` whose primary key is `key`.
pub(crate) async fn get_on<M: Model>(conn: &mut Conn<'_>, key: &M::Key) -> Result<Option<M>, OrmError> {
    let dialect = dialect::of(conn.backend());
    let template = M::statements().get::<M>(dialect, Shape::Get)?;
    let binds = key.key_values();
    Ok(conn.load(StatementKind::Select, Some(M::TABLE_NAME), template, &binds, &[]).await?.into_iter().next())
}

/// Inserts `model`; a generated key left unset (zero) is filled in from
/// `RETURNING` or the backend's last-insert-id.
pub(crate) async fn insert_on<M: Model>(conn: &mut Conn<'_>, model: &mut M) -> Result<(), OrmError> {
    let (dialect, caps) = conn.capabilities().await?;
    let table = Some(M::TABLE_NAME);
    let generated = M::GENERATED.filter(|_| model.generated_key_unset());
    let Some(generated) = generated else {
        let template = M::statements().get::<M>(dialect, Shape::Insert)?;
        conn.run(StatementKind::Insert, table, template, &model.values()).await?;
        return Ok(());
    };
    let binds: Vec<Value<'_>> =
        M::COLUMNS.iter().zip(model.values()).filter(|(c, _)| **c != generated).map(|(_, v)| v).collect();
    let key: i64 = if caps.returning_insert {
        let template = M::statements().get::<M>(dialect, Shape::InsertReturning)?;
        let keys: Vec<(i64,)> = conn.load(StatementKind::Insert, table, template, &binds, &[]).await?;
        keys.into_iter().next().ok_or(OrmError::NoRow { statement: StatementKind::Insert })?.0
    } else {
        let template = M::statements().get::<M>(dialect, Shape::InsertGenerated)?;
        conn.run(StatementKind::Insert, table, template, &binds).await?;
        let last = Template::without_parameters(dialect.last_insert_id_query());
        let keys: Vec<(i64,)> = conn.load(StatementKind::Select, table, &last, &[], &[]).await?;
        keys.into_iter().next().ok_or(OrmError::NoRow { statement: StatementKind::Insert })?.0
    };
    drop(binds);
    model.set_generated_key(key)?;
    Ok(())
}

/// The most rows one batched `INSERT` carries, whatever the bind limit:
/// statements stay of a few shapes (cached), and a failure names a batch of
/// reasonable size.
const MAX_BATCH_ROWS: usize = 1_000;

/// How many rows of `columns` columns one statement on `dialect` may carry.
fn rows_per_batch(dialect: &dyn Dialect, columns: usize) -> usize {
    (dialect.max_parameters() / columns.max(1)).clamp(1, MAX_BATCH_ROWS)
}

/// Renders an `INSERT INTO M (columns) <source> [RETURNING returning]`.
fn insert_template<M: Model>(
    dialect: &dyn Dialect,
    caps: Capabilities,
    columns: Vec<&'static str>,
    source: ast::InsertSource,
    returning: Vec<ast::Expr>,
) -> Result<Template, OrmError> {
    let insert = ast::Insert {
        table: std::borrow::Cow::Borrowed(M::TABLE_NAME),
        columns: columns.into_iter().map(std::borrow::Cow::Borrowed).collect(),
        source,
        on_conflict: None,
        returning,
    };
    let mut template = Template::default();
    ast::render_into(dialect, caps, ast::StatementRef::Insert(&insert), &mut template, &mut Vec::new())?;
    Ok(template)
}

/// Which multi-row `INSERT` of a model a batch sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum InsertForm {
    /// Every column, keys included.
    AllColumns,
    /// All but the generated key, which `RETURNING` reads back in row order.
    Returning,
    /// All but the generated key (read back with `LAST_INSERT_ID`).
    Generated,
}

/// The key of a memoised multi-row `INSERT` template.
type InsertShape = (TypeId, usize, Capabilities, InsertForm);

thread_local! {
    // The templates of full batches (`rows_per_batch` rows: the ~50 kB
    // statements of a large flush), rendered once per model and backend.
    static INSERTS: Memo<InsertShape> = RefCell::new(HashMap::new());
}

/// The template of a batch of `rows` rows in `form`: built by `render`, and
/// kept for the next batch when it is a full one (`rows == full`; a last,
/// shorter batch is rendered each time, so that the memo stays one template
/// per model and form).
fn batch_template<M: Model>(
    dialect: &dyn Dialect,
    caps: Capabilities,
    form: InsertForm,
    rows: usize,
    full: usize,
    render: impl FnOnce() -> Result<Template, OrmError>,
) -> Result<Arc<Template>, OrmError> {
    if rows != full {
        return render().map(Arc::new);
    }
    memoised(&INSERTS, (TypeId::of::<M>(), dialect.memo_slot(), caps, form), usize::MAX, render)
}

/// `rows` rows of `width` placeholders.
fn placeholder_rows(rows: usize, width: usize) -> Vec<Vec<ast::Expr>> {
    (0..rows).map(|_| (0..width).map(|_| ast::Expr::Bind(Value::Null)).collect()).collect()
}

/// Inserts `objects` of `M` with one multi-row `INSERT` per batch (as many
/// rows as the backend's bind limit allows, at most 1,000), filling in the
/// keys the database generates. `types` are the types of `M`'s columns, in
/// [`Model::COLUMNS`] order; the columns at `nulled` are inserted `NULL`
/// (foreign keys written after the insert, to break a cycle of tables).
///
/// Objects whose key is given (or that have no generated column) go in a
/// plain multi-row `INSERT`. For the others the keys must be matched to the
/// objects, and the order of the rows of `INSERT ... VALUES ... RETURNING`
/// is guaranteed by neither PostgreSQL nor SQLite. As SQLAlchemy 2's
/// "insertmanyvalues" does for server-generated sentinels, the rows are
/// inserted as `INSERT ... SELECT ... FROM (VALUES (.., 0), (.., 1), ...)
/// ORDER BY` the counter: the rows are inserted in the counter's order, each
/// row's key is drawn (PostgreSQL's identity sequence, SQLite's next rowid)
/// as it is inserted, and both sources only grow within a statement, so the
/// `k`-th smallest returned key belongs to the `k`-th object, whatever order
/// `RETURNING` lists them in. (This needs an ascending sequence without
/// `CYCLE` and, on SQLite, a rowid below its maximum: the defaults.)
///
/// MySQL/MariaDB return no rows from a prepared insert; there a multi-row
/// "simple insert" gets consecutive keys, `auto_increment_increment` apart,
/// starting at `LAST_INSERT_ID()`, under `innodb_autoinc_lock_mode` 0 and 1.
/// Under 2 (interleaved; Galera) the server promises no such thing and
/// rows are inserted one at a time.
pub(crate) async fn insert_many_on<M: Model>(
    conn: &mut Conn<'_>,
    objects: Vec<&mut M>,
    types: &[ColumnType],
    nulled: &[usize],
) -> Result<(), OrmError> {
    let (dialect, caps) = conn.capabilities().await?;
    let (generated, explicit): (Vec<&mut M>, Vec<&mut M>) =
        objects.into_iter().partition(|o| M::GENERATED.is_some() && o.generated_key_unset());
    let full = rows_per_batch(dialect, M::COLUMNS.len());
    for batch in explicit.chunks(full) {
        let template = batch_template::<M>(dialect, caps, InsertForm::AllColumns, batch.len(), full, || {
            let source = ast::InsertSource::Values(placeholder_rows(batch.len(), M::COLUMNS.len()));
            insert_template::<M>(dialect, caps, M::COLUMNS.to_vec(), source, Vec::new())
        })?;
        let binds = row_values(batch.iter().map(|o| &**o), None, nulled);
        conn.run(StatementKind::Insert, Some(M::TABLE_NAME), &template, &binds).await?;
    }
    let Some(key_column) = M::GENERATED else { return Ok(()) };
    if generated.is_empty() {
        return Ok(());
    }
    let at = M::COLUMNS.iter().position(|c| *c == key_column);
    let columns: Vec<&'static str> = M::COLUMNS.iter().copied().filter(|c| *c != key_column).collect();
    let rows = rows_per_batch(dialect, columns.len());
    if caps.returning_insert && dialect.values_column(1).is_some() {
        let types: Vec<ColumnType> =
            types.iter().enumerate().filter(|(i, _)| Some(*i) != at).map(|(_, t)| t.clone()).collect();
        let mut generated = generated;
        for batch in generated.chunks_mut(rows) {
            let template = batch_template::<M>(dialect, caps, InsertForm::Returning, batch.len(), rows, || {
                let source = ast::InsertSource::InOrder {
                    rows: placeholder_rows(batch.len(), columns.len()),
                    types: types.clone(),
                };
                let returning = vec![ast::Expr::Column { table: None, name: std::borrow::Cow::Borrowed(key_column) }];
                insert_template::<M>(dialect, caps, columns.clone(), source, returning)
            })?;
            let binds = row_values(batch.iter().map(|o| &**o), at, nulled);
            let mut keys: Vec<(i64,)> =
                conn.load(StatementKind::Insert, Some(M::TABLE_NAME), &template, &binds, &[]).await?;
            drop(binds);
            if keys.len() != batch.len() {
                return Err(OrmError::NoRow { statement: StatementKind::Insert });
            }
            keys.sort_unstable();
            for (object, (key,)) in batch.iter_mut().zip(keys) {
                object.set_generated_key(key)?;
            }
        }
        return Ok(());
    }
    let step = match dialect.batched_key_settings_query() {
        Some(sql) => {
            let query = Template::without_parameters(sql);
            let settings: Vec<(i64, i64)> = conn.load(StatementKind::Select, None, &query, &[], &[]).await?;
            settings.first().filter(|(batchable, step)| *batchable == 1 && *step > 0).map(|(_, step)| *step)
        }
        None => None,
    };
    let mut generated = generated;
    let Some(step) = step else {
        for object in generated {
            insert_on(conn, object).await?;
        }
        return Ok(());
    };
    let last = Template::without_parameters(dialect.last_insert_id_query());
    for batch in generated.chunks_mut(rows) {
        let template = batch_template::<M>(dialect, caps, InsertForm::Generated, batch.len(), rows, || {
            let source = ast::InsertSource::Values(placeholder_rows(batch.len(), columns.len()));
            insert_template::<M>(dialect, caps, columns.clone(), source, Vec::new())
        })?;
        let binds = row_values(batch.iter().map(|o| &**o), at, nulled);
        let inserted = conn.run(StatementKind::Insert, Some(M::TABLE_NAME), &template, &binds).await?;
        drop(binds);
        let first: Vec<(i64,)> = conn.load(StatementKind::Select, Some(M::TABLE_NAME), &last, &[], &[]).await?;
        let Some(&(first,)) = first.first().filter(|_| inserted == batch.len()) else {
            return Err(OrmError::NoRow { statement: StatementKind::Insert });
        };
        for (k, object) in (0i64..).zip(batch.iter_mut()) {
            object.set_generated_key(first + k * step)?;
        }
    }
    Ok(())
}

/// Every object's values but the one at `skip`, row after row, those at
/// `nulled` as `NULL`.
fn row_values<'o, M: Model>(
    objects: impl Iterator<Item = &'o M>,
    skip: Option<usize>,
    nulled: &[usize],
) -> Vec<Value<'o>> {
    objects
        .flat_map(|o| {
            o.values()
                .into_iter()
                .enumerate()
                .filter(move |(i, _)| Some(*i) != skip)
                .map(|(i, v)| if nulled.contains(&i) { Value::Null } else { v })
        })
        .collect()
}

/// Writes every non-key column of `model` to its row; the number of rows
/// changed (0 when the row is gone).
pub(crate) async fn update_on<M: Model>(conn: &mut Conn<'_>, model: &M) -> Result<usize, OrmError> {
    let dialect = dialect::of(conn.backend());
    let template = M::statements().get::<M>(dialect, Shape::UpdateByKey)?;
    let values = model.values();
    let key = model.key();
    let mut binds: Vec<Value<'_>> =
        M::COLUMNS.iter().zip(values).filter(|(c, _)| !M::KEY.contains(c)).map(|(_, v)| v).collect();
    binds.extend(key.key_values());
    conn.run(StatementKind::Update, Some(M::TABLE_NAME), template, &binds).await
}

/// Writes only the columns at `changed` (positions in [`Model::COLUMNS`],
/// none of them a key column) of `model` to its row; the number of rows changed.
pub(crate) async fn update_columns_on<M: Model>(
    conn: &mut Conn<'_>,
    model: &M,
    changed: &[usize],
) -> Result<usize, OrmError> {
    let template = update_columns_template::<M>(dialect::of(conn.backend()), changed)?;
    let mut values = model.values();
    let key = model.key();
    let mut binds: Vec<Value<'_>> =
        changed.iter().filter_map(|&i| values.get_mut(i).map(|v| std::mem::replace(v, Value::Null))).collect();
    binds.extend(key.key_values());
    conn.run(StatementKind::Update, Some(M::TABLE_NAME), &template, &binds).await
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
    static UPDATES: Memo<UpdateShape> = RefCell::new(HashMap::new());
}

/// The template of an update of the columns at `changed` of `M` on
/// `dialect`, rendered on first use of that column set.
pub fn update_columns_template<M: Model>(dialect: &dyn Dialect, changed: &[usize]) -> Result<Arc<Template>, OrmError> {
    let render = || -> Result<Template, OrmError> {
        let columns: Vec<&'static str> = changed.iter().filter_map(|&i| M::COLUMNS.get(i).copied()).collect();
        if columns.is_empty() || columns.iter().any(|c| M::KEY.contains(c)) {
            return Err(QueryError::EmptyUpdate { table: M::TABLE_NAME.to_string() }.into());
        }
        Ok(super::model::update_template::<M>(dialect, &columns)?)
    };
    match column_mask(changed) {
        Some(mask) => memoised(&UPDATES, (TypeId::of::<M>(), dialect.memo_slot(), mask), usize::MAX, render),
        None => render().map(Arc::new),
    }
}

fn column_expr(name: &'static str) -> ast::Expr {
    ast::Expr::Column { table: None, name: std::borrow::Cow::Borrowed(name) }
}

/// `key = ?`.
fn key_filter<M: Model>() -> ast::Expr {
    let eq = |c: &'static str| ast::Expr::Binary {
        op: ast::BinaryOp::Eq,
        left: Box::new(column_expr(c)),
        right: Box::new(ast::Expr::Bind(Value::Null)),
    };
    ast::Expr::And(M::KEY.iter().copied().map(eq).collect())
}

/// `key = ? AND version = ?`, the filter of a compare-and-set.
fn key_and_version<M: Model>(version: &'static str) -> ast::Expr {
    let eq = |c: &'static str| ast::Expr::Binary {
        op: ast::BinaryOp::Eq,
        left: Box::new(column_expr(c)),
        right: Box::new(ast::Expr::Bind(Value::Null)),
    };
    ast::Expr::And(M::KEY.iter().copied().chain([version]).map(eq).collect())
}

/// Writes the columns at `changed` (positions in [`Model::COLUMNS`], none
/// a key column or `version`) of `model`, compare-and-set on its version
/// column: `UPDATE t SET changed.., version = version + 1 WHERE key = ? AND
/// version = ?` with `expected`, the version as read. The number of rows
/// changed: 0 when another transaction changed or deleted the row.
pub(crate) async fn update_versioned_on<M: Model>(
    conn: &mut Conn<'_>,
    model: &M,
    changed: &[usize],
    version: &'static str,
    expected: Value<'_>,
) -> Result<usize, OrmError> {
    let (dialect, caps) = conn.capabilities().await?;
    let columns: Vec<&'static str> = changed.iter().filter_map(|&i| M::COLUMNS.get(i).copied()).collect();
    if columns.iter().any(|c| M::KEY.contains(c) || *c == version) {
        return Err(QueryError::EmptyUpdate { table: M::TABLE_NAME.to_string() }.into());
    }
    let advance = ast::Expr::Binary {
        op: ast::BinaryOp::Add,
        left: Box::new(column_expr(version)),
        right: Box::new(ast::Expr::Bind(Value::Null)),
    };
    let set = columns
        .iter()
        .map(|c| (std::borrow::Cow::Borrowed(*c), ast::Expr::Bind(Value::Null)))
        .chain([(std::borrow::Cow::Borrowed(version), advance)])
        .collect();
    let update = ast::Update {
        table: std::borrow::Cow::Borrowed(M::TABLE_NAME),
        set,
        filter: Some(key_and_version::<M>(version)),
        returning: Vec::new(),
    };
    let mut template = Template::default();
    ast::render_into(dialect, caps, ast::StatementRef::Update(&update), &mut template, &mut Vec::new())?;
    let mut values: Vec<Option<Value<'_>>> = model.values().into_iter().map(Some).collect();
    let key = model.key();
    let mut binds: Vec<Value<'_>> = changed.iter().filter_map(|&i| values.get_mut(i).and_then(Option::take)).collect();
    binds.push(Value::I64(1));
    binds.extend(key.key_values());
    binds.push(expected);
    conn.run(StatementKind::Update, Some(M::TABLE_NAME), &template, &binds).await
}

/// Deletes the row of `M` whose key is `key` if its version column still
/// holds `expected`; the number of rows deleted (0: changed or deleted by
/// another transaction).
pub(crate) async fn delete_versioned_on<M: Model>(
    conn: &mut Conn<'_>,
    key: &M::Key,
    version: &'static str,
    expected: Value<'_>,
) -> Result<usize, OrmError> {
    let (dialect, caps) = conn.capabilities().await?;
    let delete = ast::Delete {
        table: std::borrow::Cow::Borrowed(M::TABLE_NAME),
        filter: Some(key_and_version::<M>(version)),
        returning: Vec::new(),
    };
    let mut template = Template::default();
    ast::render_into(dialect, caps, ast::StatementRef::Delete(&delete), &mut template, &mut Vec::new())?;
    let mut binds = key.key_values();
    binds.push(expected);
    conn.run(StatementKind::Delete, Some(M::TABLE_NAME), &template, &binds).await
}

/// Sets `columns` of the row of `M` whose key is `key` to `NULL`; the
/// number of rows changed.
pub(crate) async fn set_null_on<M: Model>(
    conn: &mut Conn<'_>,
    key: &M::Key,
    columns: &[&'static str],
) -> Result<usize, OrmError> {
    let (dialect, caps) = conn.capabilities().await?;
    let update = ast::Update {
        table: std::borrow::Cow::Borrowed(M::TABLE_NAME),
        set: columns.iter().map(|c| (std::borrow::Cow::Borrowed(*c), ast::Expr::Null)).collect(),
        filter: Some(key_filter::<M>()),
        returning: Vec::new(),
    };
    let mut template = Template::default();
    ast::render_into(dialect, caps, ast::StatementRef::Update(&update), &mut template, &mut Vec::new())?;
    conn.run(StatementKind::Update, Some(M::TABLE_NAME), &template, &key.key_values()).await
}

/// Deletes the row of `M` whose primary key is `key`; the number of rows deleted.
pub(crate) async fn delete_on<M: Model>(conn: &mut Conn<'_>, key: &M::Key) -> Result<usize, OrmError> {
    let dialect = dialect::of(conn.backend());
    let template = M::statements().get::<M>(dialect, Shape::DeleteByKey)?;
    conn.run(StatementKind::Delete, Some(M::TABLE_NAME), template, &key.key_values()).await
}

/// Reads the row of `M` whose primary key is `key`.
pub fn get<M: Model>(conn: &mut Connection, key: &M::Key) -> Result<Option<M>, OrmError> {
    now(std::pin::pin!(get_on::<M>(&mut Conn::Sync(conn), key)))
}

/// Inserts `model`; a generated key left unset (zero) is filled in from
/// `RETURNING` or the backend's last-insert-id.
pub fn insert<M: Model>(conn: &mut Connection, model: &mut M) -> Result<(), OrmError> {
    now(std::pin::pin!(insert_on(&mut Conn::Sync(conn), model)))
}

/// Inserts `objects` of `M` in multi-row batches, filling in the keys the
/// database generates (see [`insert_many_on`] for how keys are matched).
pub fn insert_many<M: Model>(
    conn: &mut Connection,
    objects: Vec<&mut M>,
    types: &[ColumnType],
    nulled: &[usize],
) -> Result<(), OrmError> {
    now(std::pin::pin!(insert_many_on(&mut Conn::Sync(conn), objects, types, nulled)))
}

/// Writes every non-key column of `model` to its row; the number of rows
/// changed (0 when the row is gone).
pub fn update<M: Model>(conn: &mut Connection, model: &M) -> Result<usize, OrmError> {
    now(std::pin::pin!(update_on(&mut Conn::Sync(conn), model)))
}

/// Writes only the columns at `changed` (positions in [`Model::COLUMNS`],
/// none of them a key column) of `model` to its row; the number of rows changed.
pub fn update_columns<M: Model>(conn: &mut Connection, model: &M, changed: &[usize]) -> Result<usize, OrmError> {
    now(std::pin::pin!(update_columns_on(&mut Conn::Sync(conn), model, changed)))
}

/// Writes the columns at `changed` of `model`, compare-and-set on its
/// version column (see [`update_versioned_on`]); the number of rows changed.
pub fn update_versioned<M: Model>(
    conn: &mut Connection,
    model: &M,
    changed: &[usize],
    version: &'static str,
    expected: Value<'_>,
) -> Result<usize, OrmError> {
    now(std::pin::pin!(update_versioned_on(&mut Conn::Sync(conn), model, changed, version, expected)))
}

/// Deletes the row of `M` whose key is `key` if its version column still
/// holds `expected`; the number of rows deleted.
pub fn delete_versioned<M: Model>(
    conn: &mut Connection,
    key: &M::Key,
    version: &'static str,
    expected: Value<'_>,
) -> Result<usize, OrmError> {
    now(std::pin::pin!(delete_versioned_on::<M>(&mut Conn::Sync(conn), key, version, expected)))
}

/// Sets `columns` of the row of `M` whose key is `key` to `NULL`; the
/// number of rows changed.
pub fn set_null<M: Model>(conn: &mut Connection, key: &M::Key, columns: &[&'static str]) -> Result<usize, OrmError> {
    now(std::pin::pin!(set_null_on::<M>(&mut Conn::Sync(conn), key, columns)))
}

/// Deletes the row of `M` whose primary key is `key`; the number of rows deleted.
pub fn delete<M: Model>(conn: &mut Connection, key: &M::Key) -> Result<usize, OrmError> {
    now(std::pin::pin!(delete_on::<M>(&mut Conn::Sync(conn), key)))
}
