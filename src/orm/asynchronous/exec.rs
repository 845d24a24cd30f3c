//! Runs statements on an [`AsyncConnection`]: the async twin of
//! [`crate::orm::exec`], with the same names. Statements are rendered by the
//! one renderer (`dialect::query`), run as prepared statements that
//! diesel-async caches by their SQL text, and rows decode by position through
//! the same [`FromRow`] impls; failures are the same typed [`OrmError`]s.

use super::connection::{AsyncConnection, Failure};
use crate::dialect::query::{Bound, Capabilities, StatementKind, Template, Value};
use crate::dialect::{self, Dialect};
use crate::orm::error::Error as OrmError;
use crate::orm::exec::Conn;
use crate::orm::query::Statement;
use crate::orm::relation::JoinPlan;
use crate::orm::value::FromRow;

/// The dialect and server capabilities of `conn`, the version asked once
/// per connection.
pub async fn capabilities(conn: &mut AsyncConnection) -> Result<(&'static dyn Dialect, Capabilities), OrmError> {
    let dialect = dialect::of(conn.backend());
    let version = conn
        .server_version(dialect.server_version_query())
        .await
        .map_err(|e| OrmError::from_db(dialect, StatementKind::Select, None, e))?;
    Ok((dialect, dialect.capabilities(version)))
}

/// Runs a query and decodes every row into `R` (a model, a tuple, a value);
/// for a model, loads the relationships its options (and defaults) name,
/// as the sync [`crate::orm::exec::fetch`] does: `joined` ones in the same
/// statement, `selectin` ones with one statement per level.
pub async fn fetch<R: FromRow + Send>(
    conn: &mut AsyncConnection,
    statement: &(impl Statement + Sync + ?Sized),
) -> Result<Vec<R>, OrmError> {
    crate::orm::exec::fetch_on(&mut Conn::Async(conn), statement).await
}

/// Runs a query and decodes its first row, if any.
pub async fn fetch_optional<R: FromRow + Send>(
    conn: &mut AsyncConnection,
    statement: &(impl Statement + Sync + ?Sized),
) -> Result<Option<R>, OrmError> {
    Ok(fetch(conn, statement).await?.into_iter().next())
}

/// Runs a statement that returns no rows; the number of rows it touched.
pub async fn execute(
    conn: &mut AsyncConnection,
    statement: &(impl Statement + Sync + ?Sized),
) -> Result<usize, OrmError> {
    crate::orm::exec::execute_on(&mut Conn::Async(conn), statement).await
}

/// Runs a rendered query (`template` with `binds`) and decodes its rows.
pub async fn load<R: FromRow + Send>(
    conn: &mut AsyncConnection,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
    binds: &[Value<'_>],
) -> Result<Vec<R>, OrmError> {
    load_joined(conn, statement, table, template, binds, &[]).await
}

/// [`load`], decoding the `joined` relationships' columns after each row's.
pub(crate) async fn load_joined<R: FromRow>(
    conn: &mut AsyncConnection,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
    binds: &[Value<'_>],
    joined: &[JoinPlan],
) -> Result<Vec<R>, OrmError> {
    let result = conn.load(Bound { template, binds }, joined).await;
    result.map_err(|e| into_orm(conn, e, statement, table, template))
}

/// Runs a rendered statement that returns no rows.
pub async fn run(
    conn: &mut AsyncConnection,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
    binds: &[Value<'_>],
) -> Result<usize, OrmError> {
    let result = conn.run(Bound { template, binds }).await;
    result.map_err(|e| into_orm(conn, Failure::Driver(e), statement, table, template))
}

fn into_orm(
    conn: &AsyncConnection,
    failure: Failure,
    statement: StatementKind,
    table: Option<&str>,
    template: &Template,
) -> OrmError {
    match failure {
        Failure::Decode(source) => OrmError::Decode { statement, source },
        Failure::Driver(e) => {
            let error = conn.driver_error(e, &template.sql);
            OrmError::from_db(dialect::of(conn.backend()), statement, table, error)
        }
    }
}
