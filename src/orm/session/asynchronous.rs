//! The async session (feature `async`): the [`Session`] over an
//! [`AsyncPool`], its database methods awaited. One code path: the sync
//! session runs the very same async functions (over a sync connection,
//! ready at once), so the identity map, dirty tracking, flush order,
//! hooks, session events, lazy begin and relationship loading are the
//! sync session's.

use super::{Handle, Session, Source};
use crate::orm::asynchronous::AsyncPool;
use crate::orm::error::Error;
use crate::orm::model::Model;
use crate::orm::query::{Select, Statement};
use crate::orm::relation::{Relation, Relations};
use crate::orm::value::FromRow;
use std::ops::{Deref, DerefMut, Index, IndexMut};

/// A unit of work over an [`AsyncPool`]: the [`Session`]'s semantics, with
/// its database methods (`get`, `query`, `load`, `refresh`, `execute`,
/// `flush`, `commit`, `rollback`, `begin`, `begin_nested`) awaited. The
/// methods that need no database (`add`, `try_get`, `delete`, `expunge`,
/// `link`, `append`, ...) are the session's, through `Deref`; a sync
/// method that would need the database (called from a listener, say) is
/// [`Error::AsyncInSync`].
///
/// Its futures are `Send` (models are `Send + Sync`), so a request handler
/// can hold one across awaits on any runtime thread. Relationship loading
/// stays explicit: `selectin`/`joined` options of a query, or
/// [`AsyncSession::load`]; nothing is read behind a field access.
///
/// Savepoints have no guard (a drop cannot await): after
/// [`AsyncSession::begin_nested`], [`AsyncSession::commit`] releases the
/// savepoint and [`AsyncSession::rollback`] rolls back to it. Dropped with
/// a transaction open, the session gives its connection back still inside
/// it: the pool closes that connection (the server rolls back) and never
/// hands it out again.
pub struct AsyncSession {
    session: Session,
}

impl std::fmt::Debug for AsyncSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSession").field("depth", &self.session.depth()).finish()
    }
}

impl AsyncPool {
    /// An async session borrowing connections from this pool.
    pub fn session(&self) -> AsyncSession {
        let source = Source::Async { pool: self.clone(), conn: None };
        AsyncSession { session: Session::new(source, self.events().clone()) }
    }
}

impl AsyncSession {
    /// [`Session::begin`], awaited.
    pub async fn begin(&mut self) -> Result<(), Error> {
        self.session.begin_in().await
    }

    /// [`Session::get`], awaited: the identity map first (no statement).
    pub async fn get<M: Model + crate::models::Model>(&mut self, key: &M::Key) -> Result<Option<Handle<M>>, Error> {
        self.session.get_in(key).await
    }

    /// [`Session::refresh`], awaited.
    pub async fn refresh<M: Model + crate::models::Model>(&mut self, handle: Handle<M>) -> Result<(), Error> {
        self.session.refresh_in(handle).await
    }

    /// [`Session::query`], awaited: the relationships its options name are
    /// loaded (`selectin` ones with one statement per level).
    pub async fn query<M: Model + crate::models::Model + Relations>(
        &mut self,
        build: impl FnOnce(Select) -> Select,
    ) -> Result<Vec<Handle<M>>, Error> {
        self.session.query_in(build).await
    }

    /// [`Session::load`], awaited: the explicit lazy load (N+1 detector included).
    pub async fn load<P: Model + crate::models::Model + Relations, C>(
        &mut self,
        handle: Handle<P>,
        relation: Relation<P, C>,
    ) -> Result<(), Error> {
        self.session.load_in(handle, relation).await
    }

    /// [`Session::execute`], awaited.
    pub async fn execute<R: FromRow>(&mut self, statement: &(impl Statement + Sync)) -> Result<Vec<R>, Error> {
        self.session.execute_in(statement).await
    }

    /// [`Session::flush`], awaited.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.session.flush_in().await
    }

    /// [`Session::commit`], awaited: the transaction, or the innermost savepoint.
    pub async fn commit(&mut self) -> Result<(), Error> {
        self.session.commit_in().await
    }

    /// [`Session::rollback`], awaited: the transaction, or to the innermost savepoint.
    pub async fn rollback(&mut self) -> Result<(), Error> {
        self.session.rollback_in().await
    }

    /// Opens a savepoint (beginning the transaction if none is open); end
    /// it with [`AsyncSession::commit`] or [`AsyncSession::rollback`].
    pub async fn begin_nested(&mut self) -> Result<(), Error> {
        self.session.begin_nested_in().await.map(drop)
    }
}

impl Deref for AsyncSession {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl DerefMut for AsyncSession {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

/// `session[handle]`, as on [`Session`].
impl<M: Model + crate::models::Model> Index<Handle<M>> for AsyncSession {
    type Output = M;
    fn index(&self, handle: Handle<M>) -> &M {
        &self.session[handle]
    }
}

/// `session[handle] = ...`, as on [`Session`].
impl<M: Model + crate::models::Model> IndexMut<Handle<M>> for AsyncSession {
    fn index_mut(&mut self, handle: Handle<M>) -> &mut M {
        &mut self.session[handle]
    }
}
