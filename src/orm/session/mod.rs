//! The unit of work: objects added to or read into a session live in its
//! identity map (one per model and key), changes are tracked against a
//! snapshot taken on first write, and `flush` writes what changed inside the
//! session's transaction, which `commit` ends. The transaction begins at the
//! first write (lazily): reads before it run in autocommit.

#[cfg(feature = "async")]
mod asynchronous;
mod cascade;
mod changes;
mod slots;

#[cfg(feature = "async")]
pub use asynchronous::AsyncSession;

use super::echo::Echo;
use super::error::{Error, Stale};
use super::exec::{self, Conn};
use super::hooks::{HookPoint, Listeners, SessionEvents};
use super::model::Model;
use super::pool::{Pool, PooledConnection};
use super::query::{AllColumns, Select, Statement, Table, select};
use super::relation::{NPlusOne, Relation, RelationDef, RelationError, Relations};
use super::value::FromRow;
use crate::dialect::TransactionOptions;
use crate::dialect::query::StatementRef;
use slots::{AnySlots, Slots};
use std::any::TypeId;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut, Index, IndexMut};

/// A reference to an object in a session: `Copy`, valid until the object
/// leaves the session (expunge, a committed delete, a rollback of the
/// transaction that added it); then the session's methods say why
/// ([`Stale`]), and indexing panics.
pub struct Handle<M> {
    index: u32,
    generation: u32,
    model: PhantomData<fn() -> M>,
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Handle<M> {}

impl<M> PartialEq for Handle<M> {
    fn eq(&self, other: &Self) -> bool {
        (self.index, self.generation) == (other.index, other.generation)
    }
}

impl<M> std::fmt::Debug for Handle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handle({}#{})", self.index, self.generation)
    }
}

/// A unit of work on one database. Begins a transaction at the first write
/// (a flush, a Core `INSERT`/`UPDATE`/`DELETE` or raw SQL, a savepoint), at
/// the first statement when transaction options are set, or when asked
/// ([`Session::begin`]); reads before that run outside a transaction, each
/// with its own view of the database. Flushes before queries and at commit
/// (autoflush), and rolls back what is still open when dropped.
pub struct Session {
    source: Source,
    options: TransactionOptions,
    /// Per model, in the order models first entered the session.
    models: Vec<(TypeId, Box<dyn AnySlots>)>,
    autoflush: bool,
    statements: usize,
    lazy: LazyLoads,
    events: Listeners,
    /// Inside a flush: a flush asked for by a listener does nothing.
    flushing: bool,
    /// Relationship changes waiting for the next flush (see `changes`).
    relation_changes: Vec<changes::Recorded>,
    /// Copies of session objects in loaded relationships, replaced by the
    /// objects as written after the next flush (see `changes`).
    copies: Vec<changes::Copied>,
}

/// Where a session's connections come from, and the one it holds.
// One per session, never moved while in use: not worth a box per session.
#[allow(clippy::large_enum_variant)]
enum Source {
    Sync {
        pool: Pool,
        conn: Option<PooledConnection>,
    },
    #[cfg(feature = "async")]
    Async {
        pool: super::asynchronous::AsyncPool,
        conn: Option<super::asynchronous::AsyncPooledConnection>,
    },
}

impl Source {
    /// The connection held, if any, as an executor.
    fn held(&mut self) -> Option<Conn<'_>> {
        match self {
            Source::Sync { conn, .. } => conn.as_mut().map(|c| Conn::Sync(c)),
            #[cfg(feature = "async")]
            Source::Async { conn, .. } => conn.as_mut().map(|c| Conn::Async(c)),
        }
    }

    /// The held connection's statement count and transaction depth.
    fn held_state(&self) -> Option<(usize, u32)> {
        match self {
            Source::Sync { conn, .. } => conn.as_ref().map(|c| (c.statement_count(), c.transaction_state().depth)),
            #[cfg(feature = "async")]
            Source::Async { conn, .. } => conn.as_ref().map(|c| (c.statement_count(), c.transaction_state().depth)),
        }
    }

    /// Gives the held connection back to its pool; its statement count.
    fn release(&mut self) -> Option<usize> {
        match self {
            Source::Sync { conn, .. } => conn.take().map(|c| c.statement_count()),
            #[cfg(feature = "async")]
            Source::Async { conn, .. } => conn.take().map(|c| c.statement_count()),
        }
    }

    fn echo(&self) -> Option<&Echo> {
        match self {
            Source::Sync { pool, .. } => pool.echo(),
            #[cfg(feature = "async")]
            Source::Async { pool, .. } => pool.echo(),
        }
    }
}

/// What the N+1 detector keeps: which query each object came from, and how
/// often each relationship was lazily loaded for one query's objects.
#[derive(Default)]
struct LazyLoads {
    mode: NPlusOne,
    queries: u64,
    /// (model, handle index, generation) -> the query that read it.
    origins: HashMap<(TypeId, u32, u32), u64>,
    /// (query, relationship) -> lazy loads so far.
    counts: HashMap<(u64, usize), usize>,
    warnings: Vec<String>,
}

impl Pool {
    /// A session borrowing connections from this pool.
    pub fn session(&self) -> Session {
        Session::new(Source::Sync { pool: self.clone(), conn: None }, self.events().clone())
    }
}

impl Session {
    fn new(source: Source, events: Listeners) -> Session {
        Session {
            source,
            options: TransactionOptions::default(),
            models: Vec::new(),
            autoflush: true,
            statements: 0,
            lazy: LazyLoads::default(),
            events,
            flushing: false,
            relation_changes: Vec::new(),
            copies: Vec::new(),
        }
    }
}

impl Session {
    /// Options for the transactions this session begins from now on. With
    /// options other than the default, the transaction begins at the
    /// session's first statement, reads included.
    pub fn set_transaction_options(&mut self, options: TransactionOptions) {
        self.options = options;
    }

    /// Begins the session's transaction now, with its transaction options,
    /// so that the reads that follow are inside it: one snapshot across them
    /// where the isolation level gives one (MariaDB/MySQL's default
    /// repeatable read, SQLite, PostgreSQL's `RepeatableRead`), and the
    /// locks a locking read takes (`SELECT ... FOR UPDATE` in raw SQL) held
    /// until commit or rollback. Without it the transaction begins at the
    /// first write. Fails with [`Error::TransactionOpen`] when one is open.
    pub fn begin(&mut self) -> Result<(), Error> {
        self.refuse_async()?;
        exec::now(std::pin::pin!(self.begin_in()))
    }

    async fn begin_in(&mut self) -> Result<(), Error> {
        if self.depth() > 0 {
            return Err(Error::TransactionOpen);
        }
        self.write_conn().await.map(drop)
    }

    /// Adds a new object, inserted at the next flush.
    pub fn add<M: Model + crate::models::Model>(&mut self, object: M) -> Handle<M> {
        // It belongs to the transaction about to begin if none is open.
        let depth = self.depth().max(1);
        self.slots_mut::<M>().add(object, depth)
    }

    /// Adds every object of `objects`.
    pub fn add_all<M: Model + crate::models::Model>(&mut self, objects: impl IntoIterator<Item = M>) -> Vec<Handle<M>> {
        objects.into_iter().map(|o| self.add(o)).collect()
    }

    /// The object of `M` with primary key `key`: from the identity map
    /// without SQL when the session holds it, else read from the database.
    /// An expired object is read again (one `SELECT`); one whose row is
    /// gone leaves the session and `None` is returned.
    pub fn get<M: Model + crate::models::Model>(&mut self, key: &M::Key) -> Result<Option<Handle<M>>, Error> {
        if let Some(handle) = self.slots_mut::<M>().find(key)
            && !self.slots_mut::<M>().is_expired(handle)
        {
            return Ok(Some(handle));
        }
        self.refuse_async()?;
        exec::now(std::pin::pin!(self.get_in(key)))
    }

    async fn get_in<M: Model + crate::models::Model>(&mut self, key: &M::Key) -> Result<Option<Handle<M>>, Error> {
        if let Some(handle) = self.slots_mut::<M>().find(key) {
            if !self.slots_mut::<M>().is_expired(handle) {
                return Ok(Some(handle));
            }
            self.refresh_in(handle).await?;
            return Ok(self.slots_mut::<M>().find(key));
        }
        self.autoflush().await?;
        let found = exec::get_on::<M>(&mut self.read_conn().await?, key).await?;
        Ok(found.map(|object| self.slots_mut::<M>().loaded(object)))
    }

    /// The object behind `handle`; an error names the model and why the
    /// session cannot give it (expunged, deleted, rolled back, expired).
    pub fn try_get<M: Model + crate::models::Model>(&self, handle: Handle<M>) -> Result<&M, Error> {
        let slots = self.slots::<M>().ok_or_else(|| stale::<M>(Stale::NotInSession))?;
        slots.get(handle).map_err(stale::<M>)
    }

    /// The object behind `handle`, to change (tracked: its row is updated at
    /// the next flush); the errors of [`Session::try_get`].
    pub fn try_get_mut<M: Model + crate::models::Model>(&mut self, handle: Handle<M>) -> Result<&mut M, Error> {
        self.slots_mut::<M>().get_mut(handle).map_err(stale::<M>)
    }

    /// Marks the object for deletion at the next flush (a pending object
    /// simply leaves the session). Until the deletion is committed, a
    /// rollback gives the object back. Its relationships' cascades apply
    /// (see `cascade = ".."`): children deleted with it, or given a `NULL`
    /// foreign key.
    pub fn delete<M: Model + crate::models::Model + Relations>(&mut self, handle: Handle<M>) -> Result<(), Error> {
        let slots = self.slots_mut::<M>();
        if slots.is_persistent(handle) && cascade::has_children(&M::INFO) {
            let all: Vec<usize> = (0..M::COLUMNS.len()).collect();
            let (values, _) = slots.values_of(handle.index, handle.generation, &all)?;
            self.cascade_delete(&M::INFO, &values, 0)?;
        }
        self.slots_mut::<M>().delete(handle).map_err(stale::<M>)
    }

    /// Forgets the object: no longer tracked, its handle no longer valid.
    pub fn expunge<M: Model + crate::models::Model>(&mut self, handle: Handle<M>) -> Result<(), Error> {
        self.slots_mut::<M>().expunge(handle).map_err(stale::<M>)
    }

    /// Expires the object: its unflushed changes are dropped and it cannot
    /// be read (an [`Stale::Expired`] error) until read again by
    /// [`Session::refresh`], [`Session::get`] or a query. No statement is
    /// sent, now or hidden later. A pending object has no row: it is kept.
    pub fn expire<M: Model + crate::models::Model>(&mut self, handle: Handle<M>) -> Result<(), Error> {
        self.slots_mut::<M>().expire(handle).map_err(stale::<M>)
    }

    /// Expires every persistent object of the session (see [`Session::expire`]).
    pub fn expire_all(&mut self) {
        self.models.iter_mut().for_each(|(_, s)| s.expire_all());
    }

    /// Reads the object's row again, discarding unflushed changes (and
    /// ending its expiry); if the row is gone, the object leaves the session.
    pub fn refresh<M: Model + crate::models::Model>(&mut self, handle: Handle<M>) -> Result<(), Error> {
        self.refuse_async()?;
        exec::now(std::pin::pin!(self.refresh_in(handle)))
    }

    async fn refresh_in<M: Model + crate::models::Model>(&mut self, handle: Handle<M>) -> Result<(), Error> {
        let key = self.slots_mut::<M>().key_of(handle).map_err(stale::<M>)?;
        let fresh = exec::get_on::<M>(&mut self.read_conn().await?, &key).await?;
        let slots = self.slots_mut::<M>();
        match fresh {
            Some(object) => slots.replace(handle, object),
            None => slots.expunge(handle).map_err(stale::<M>)?,
        }
        Ok(())
    }

    /// The objects of `M` that `build` selects (`|q| q.filter(..).order_by(..)
    /// .limit(..)` on `SELECT <M's columns> FROM <M's table>`), after
    /// flushing. Rows already in the session come back as the session's
    /// objects, unsaved changes kept (an expired object takes the row's
    /// values); the others join the identity map. The relationships its
    /// `.options(..)` (and the relationships' defaults) name are loaded; an
    /// object already in the session takes the relationships loaded here.
    pub fn query<M: Model + crate::models::Model + Relations>(
        &mut self,
        build: impl FnOnce(Select) -> Select,
    ) -> Result<Vec<Handle<M>>, Error> {
        self.refuse_async()?;
        exec::now(std::pin::pin!(self.query_in(build)))
    }

    async fn query_in<M: Model + crate::models::Model + Relations>(
        &mut self,
        build: impl FnOnce(Select) -> Select,
    ) -> Result<Vec<Handle<M>>, Error> {
        let statement = build(
            select(AllColumns { table: M::TABLE_NAME, columns: M::COLUMNS }).from(Table::<M>::new(M::TABLE_NAME)),
        );
        let rows: Vec<M> = self.execute_in(&statement).await?;
        let slots = self.slots_mut::<M>();
        slots.reserve(rows.len());
        let handles: Vec<Handle<M>> = rows.into_iter().map(|row| slots.read_row(row)).collect();
        if self.lazy.mode != NPlusOne::Off {
            self.lazy.queries += 1;
            let query = self.lazy.queries;
            let model = TypeId::of::<M>();
            self.lazy.origins.extend(handles.iter().map(|h| ((model, h.index, h.generation), query)));
        }
        Ok(handles)
    }

    /// Loads `relation` of the object behind `handle` now (one statement,
    /// after autoflush): the only lazy load there is, explicit. Repeated for
    /// the objects of one query, the N+1 detector reports it.
    pub fn load<P: Model + crate::models::Model + Relations, C>(
        &mut self,
        handle: Handle<P>,
        relation: Relation<P, C>,
    ) -> Result<(), Error> {
        self.refuse_async()?;
        exec::now(std::pin::pin!(self.load_in(handle, relation)))
    }

    async fn load_in<P: Model + crate::models::Model + Relations, C>(
        &mut self,
        handle: Handle<P>,
        relation: Relation<P, C>,
    ) -> Result<(), Error> {
        let def = relation.def();
        self.detect_n_plus_one(handle, def)?;
        self.autoflush().await?;
        let step = super::relation::lazy_step(def)?;
        self.read_conn().await?;
        let id = TypeId::of::<P>();
        let Session { source, models, .. } = self;
        let mut conn = source.held().expect("read_conn took a connection");
        let slots =
            models.iter_mut().find(|(t, _)| *t == id).and_then(|(_, s)| s.as_any_mut().downcast_mut::<Slots<P>>());
        let Some(slots) = slots else { return Err(stale::<P>(Stale::NotInSession)) };
        let object = slots.get_mut_untracked(handle).map_err(stale::<P>)?;
        P::load_relation(&mut [object], &step, &mut conn).await
    }

    /// What the N+1 detector does when one query's objects have a
    /// relationship lazily loaded more than once: warn (the default in debug
    /// builds), fail, or nothing (the default in release builds).
    pub fn set_n_plus_one(&mut self, mode: NPlusOne) {
        self.lazy.mode = mode;
    }

    /// The N+1 warnings this session has given (also written to the `log`
    /// crate, target `migrate::orm`).
    pub fn n_plus_one_warnings(&self) -> &[String] {
        &self.lazy.warnings
    }

    fn detect_n_plus_one<P: 'static>(&mut self, handle: Handle<P>, def: &'static RelationDef) -> Result<(), Error> {
        let lazy = &mut self.lazy;
        if lazy.mode == NPlusOne::Off {
            return Ok(());
        }
        let Some(&query) = lazy.origins.get(&(TypeId::of::<P>(), handle.index, handle.generation)) else {
            return Ok(());
        };
        let count = lazy.counts.entry((query, std::ptr::from_ref(def) as usize)).or_default();
        *count += 1;
        if *count < 2 {
            return Ok(());
        }
        let found = RelationError::NPlusOne { relation: def.label(), count: *count, option: def.suggested_option() };
        match lazy.mode {
            NPlusOne::Error => Err(found.into()),
            _ if *count == 2 => {
                log::warn!(target: "migrate::orm", "{found}");
                lazy.warnings.push(found.to_string());
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Runs a Core statement after flushing; its rows as plain values, not
    /// tracked by the session. A `SELECT` is a read (see [`Session`]); any
    /// other statement, raw SQL included, runs in the session's transaction.
    pub fn execute<R: FromRow>(&mut self, statement: &impl Statement) -> Result<Vec<R>, Error> {
        self.refuse_async()?;
        exec::now(std::pin::pin!(self.execute_in(statement)))
    }

    async fn execute_in<R: FromRow>(&mut self, statement: &(impl Statement + ?Sized)) -> Result<Vec<R>, Error> {
        self.autoflush().await?;
        let mut conn = match statement.as_ast() {
            StatementRef::Select(_) => self.read_conn().await?,
            _ => self.write_conn().await?,
        };
        exec::fetch_on(&mut conn, statement).await
    }

    /// Adds `listener` to this session's [`SessionEvents`] listeners, after
    /// those of its pool.
    pub fn listen(&mut self, listener: impl SessionEvents + 'static) {
        self.events.add(listener);
    }

    /// Writes every pending insert, change and delete: parents' rows inserted
    /// before their children's, children's deleted before their parents'.
    /// Listeners' `before_flush` run first (what they add is written too),
    /// `after_flush` once all is written. A hook's error aborts the flush.
    pub fn flush(&mut self) -> Result<(), Error> {
        if !self.flushing && self.has_changes() {
            self.refuse_async()?;
        }
        exec::now(std::pin::pin!(self.flush_in()))
    }

    /// Whether a flush would write anything.
    fn has_changes(&self) -> bool {
        self.models.iter().any(|(_, s)| s.has_changes()) || changes::pending(&self.relation_changes)
    }

    async fn flush_in(&mut self) -> Result<(), Error> {
        if self.flushing
            || (self.models.iter().all(|(_, s)| !s.has_changes()) && !changes::pending(&self.relation_changes))
        {
            return Ok(());
        }
        self.flushing = true;
        let result = match self.before_flush() {
            Ok(()) => self.flush_changes().await,
            Err(e) => Err(e),
        };
        self.flushing = false;
        if result.is_ok() {
            changes::refresh_copies(self);
            self.notify(|l, s| l.after_flush(s));
        }
        result
    }

    /// Runs the listeners' `before_flush`, autoflush off.
    fn before_flush(&mut self) -> Result<(), Error> {
        if self.events.is_empty() {
            return Ok(());
        }
        let listeners = self.events.clone();
        let autoflush = std::mem::replace(&mut self.autoflush, false);
        let result = listeners.iter().try_for_each(|l| l.before_flush(self));
        self.autoflush = autoflush;
        result.map_err(|source| Error::Hook { model: None, hook: HookPoint::BeforeFlush, source })
    }

    /// Calls `event` on every listener.
    fn notify(&self, event: impl Fn(&dyn SessionEvents, &Session)) {
        self.events.iter().for_each(|l| event(&**l, self));
    }

    async fn flush_changes(&mut self) -> Result<(), Error> {
        let (order, deferred) = flush_order(&self.models)?;
        for (i, parent) in &deferred {
            self.models[*i].1.defer(parent);
        }
        let show_keys = self.echo().is_some_and(Echo::shows_parameters);
        let mut models = std::mem::take(&mut self.models);
        let recorded = std::mem::take(&mut self.relation_changes);
        let mut applied = changes::key_changes_applied(&recorded);
        let result = async {
            let mut conn = self.write_conn().await?;
            let conn = &mut conn;
            for &i in &order {
                changes::apply_keys(&mut models, &recorded, &mut applied, i)?;
                models[i].1.flush_inserts_and_updates(conn, show_keys).await?;
            }
            if applied.contains(&false) {
                // Parents inserted after their children (a cycle): their
                // keys go into the children's UPDATEs now.
                for &i in &order {
                    changes::apply_keys(&mut models, &recorded, &mut applied, i)?;
                    models[i].1.flush_inserts_and_updates(conn, show_keys).await?;
                }
            }
            changes::write_associations(conn, &models, &recorded).await?;
            for &i in &order {
                models[i].1.flush_unlinks(conn).await?;
            }
            for &i in &order {
                models[i].1.flush_deferred_keys(conn).await?;
            }
            for &i in order.iter().rev() {
                cascade::write_cascades(conn, models[i].1.as_ref(), &recorded).await?;
                models[i].1.flush_deletes(conn, show_keys).await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        if result.is_err() {
            models.iter_mut().for_each(|(_, m)| m.clear_deferred());
            // Not written: kept, unless the rollback below forgets them.
            self.relation_changes = recorded;
        }
        self.models = models;
        if result.is_err() {
            // The transaction (or savepoint) holds part of the flush: undo
            // it, and drop the objects that no longer match the database.
            let _ = self.rollback_in().await;
        }
        result
    }

    /// Flushes, then commits the transaction (or releases the savepoint).
    pub fn commit(&mut self) -> Result<(), Error> {
        self.refuse_async()?;
        exec::now(std::pin::pin!(self.commit_in()))
    }

    async fn commit_in(&mut self) -> Result<(), Error> {
        self.flush_in().await?;
        let depth = self.depth();
        if depth == 0 {
            self.release_if_done();
            return Ok(());
        }
        let result = match self.write_conn().await {
            Ok(mut conn) => conn.commit().await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.forget_transaction_work(0);
        } else {
            self.models.iter_mut().for_each(|(_, s)| s.committed(depth));
        }
        self.release_if_done();
        if result.is_ok() && depth == 1 {
            self.notify(|l, s| l.after_commit(s));
        }
        result
    }

    /// Rolls back the transaction (or to the savepoint). Objects inserted or
    /// added inside it leave the session; changed ones get their snapshot back.
    pub fn rollback(&mut self) -> Result<(), Error> {
        if self.depth() > 0 {
            self.refuse_async()?;
        }
        exec::now(std::pin::pin!(self.rollback_in()))
    }

    async fn rollback_in(&mut self) -> Result<(), Error> {
        let depth = self.depth();
        if depth == 0 {
            self.forget_transaction_work(0);
            self.release_if_done();
            return Ok(());
        }
        let result = match self.write_conn().await {
            Ok(mut conn) => conn.rollback().await,
            Err(e) => Err(e),
        };
        self.forget_transaction_work(depth - 1);
        self.release_if_done();
        if depth == 1 {
            self.notify(|l, s| l.after_rollback(s));
        }
        result
    }

    /// Opens a savepoint; the guard derefs to the session and rolls back to
    /// the savepoint when dropped uncommitted.
    pub fn begin_nested(&mut self) -> Result<Savepoint<'_>, Error> {
        self.refuse_async()?;
        let depth = exec::now(std::pin::pin!(self.begin_nested_in()))?;
        Ok(Savepoint { session: self, depth, finished: false })
    }

    /// Opens a savepoint (beginning the transaction first if none is open); its depth.
    async fn begin_nested_in(&mut self) -> Result<u32, Error> {
        self.write_conn().await?.begin_nested().await
    }

    /// Runs `work` with autoflush off.
    pub fn no_autoflush<T>(&mut self, work: impl FnOnce(&mut Session) -> T) -> T {
        let before = std::mem::replace(&mut self.autoflush, false);
        let result = work(self);
        self.autoflush = before;
        result
    }

    /// How many statements this session has sent.
    pub fn statement_count(&self) -> usize {
        self.statements.wrapping_add(self.source.held_state().map_or(0, |(count, _)| count))
    }

    /// The echo of this session's pool.
    pub fn echo(&self) -> Option<&Echo> {
        self.source.echo()
    }

    async fn autoflush(&mut self) -> Result<(), Error> {
        if !self.autoflush || self.flushing || !self.has_changes() {
            return Ok(());
        }
        // Boxed: the flush's future is large, and every read would carry it.
        let flush: exec::BoxFuture<'_, Result<(), Error>> = Box::pin(self.flush_in());
        flush.await
    }

    fn depth(&self) -> u32 {
        self.source.held_state().map_or(0, |(_, depth)| depth)
    }

    /// A sync method that needs the database, called on an async session
    /// (from a listener): refused, rather than waiting inside a runtime.
    fn refuse_async(&self) -> Result<(), Error> {
        match self.source {
            Source::Sync { .. } => Ok(()),
            #[cfg(feature = "async")]
            Source::Async { .. } => Err(Error::AsyncInSync),
        }
    }

    /// The session's connection, taken from the pool if it has none.
    async fn connection(&mut self) -> Result<Conn<'_>, Error> {
        if self.source.held_state().is_none() {
            let count = match &mut self.source {
                Source::Sync { pool, conn } => conn.insert(pool.get()?).statement_count(),
                #[cfg(feature = "async")]
                Source::Async { pool, conn } => conn.insert(pool.get().await?).statement_count(),
            };
            // Statements are counted from here: the pool's ping is not ours.
            self.statements = self.statements.wrapping_sub(count);
        }
        Ok(self.source.held().expect("a connection was just taken"))
    }

    /// The connection for a write: in the session's transaction, begun if
    /// none is open.
    async fn write_conn(&mut self) -> Result<Conn<'_>, Error> {
        let options = self.options;
        let mut conn = self.connection().await?;
        if conn.depth() == 0 {
            conn.begin(&options).await?;
        }
        Ok(conn)
    }

    /// The connection for a read: in the open transaction if there is one,
    /// else outside any (no `BEGIN` and `ROLLBACK` round trips around it),
    /// unless transaction options were set, which begin the transaction first.
    async fn read_conn(&mut self) -> Result<Conn<'_>, Error> {
        if self.options != TransactionOptions::default() {
            return self.write_conn().await;
        }
        self.connection().await
    }

    /// Gives the connection back once no transaction is open, so that an
    /// idle session holds none.
    fn release_if_done(&mut self) {
        if self.depth() == 0
            && let Some(count) = self.source.release()
        {
            self.statements = self.statements.wrapping_add(count);
        }
    }

    fn forget_transaction_work(&mut self, depth: u32) {
        changes::forget_deeper(&mut self.relation_changes, depth);
        self.models.iter_mut().for_each(|(_, s)| s.rolled_back(depth));
    }

    fn slots<M: Model + crate::models::Model>(&self) -> Option<&Slots<M>> {
        let id = TypeId::of::<M>();
        let (_, slots) = self.models.iter().find(|(t, _)| *t == id)?;
        slots.as_any().downcast_ref()
    }

    fn slots_mut<M: Model + crate::models::Model>(&mut self) -> &mut Slots<M> {
        let id = TypeId::of::<M>();
        let position = match self.models.iter().position(|(t, _)| *t == id) {
            Some(p) => p,
            None => {
                self.models.push((id, Box::new(Slots::<M>::new())));
                self.models.len() - 1
            }
        };
        self.models[position].1.as_any_mut().downcast_mut().expect("slots are stored under their model's TypeId")
    }
}

/// The models' indexes in foreign-key order (a table after the tables it
/// refers to), ties kept in the order models entered the session, and the
/// edges (model, parent table) left out to break cycles: foreign keys of
/// nullable columns only, written after the inserts.
type FlushOrder = (Vec<usize>, Vec<(usize, String)>);

fn flush_order(models: &[(TypeId, Box<dyn AnySlots>)]) -> Result<FlushOrder, Error> {
    let mut order = Vec::with_capacity(models.len());
    let mut placed = vec![false; models.len()];
    let mut deferred: Vec<(usize, String)> = Vec::new();
    let waits_for = |i: usize, parent: &String, placed: &[bool], deferred: &[(usize, String)]| {
        !deferred.iter().any(|(d, p)| *d == i && p == parent)
            && models.iter().enumerate().any(|(j, (_, m))| m.table() == parent.as_str() && !placed[j])
    };
    while order.len() < models.len() {
        let ready = (0..models.len())
            .find(|&i| !placed[i] && !models[i].1.parents().iter().any(|p| waits_for(i, p, &placed, &deferred)));
        // Stuck: a cycle. Leave out its first nullable edge, if it has one.
        let breakable = || {
            (0..models.len()).filter(|&i| !placed[i]).find_map(|i| {
                let parent = models[i]
                    .1
                    .parents()
                    .iter()
                    .find(|p| waits_for(i, p, &placed, &deferred) && models[i].1.nullable_edge_to(p))?;
                Some((i, parent.clone()))
            })
        };
        match ready {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None if let Some(edge) = breakable() => deferred.push(edge),
            None => {
                let mut tables: Vec<String> =
                    (0..models.len()).filter(|&i| !placed[i]).map(|i| models[i].1.table().to_string()).collect();
                tables.sort();
                return Err(Error::ForeignKeyCycle { tables });
            }
        }
    }
    Ok((order, deferred))
}

/// The error for a handle of `M` the session cannot resolve.
fn stale<M>(reason: Stale) -> Error {
    Error::StaleHandle { model: model_name::<M>(), reason }
}

/// `M`'s name without its path, for messages.
fn model_name<M>() -> &'static str {
    let name = std::any::type_name::<M>();
    name.rsplit("::").next().unwrap_or(name)
}

/// `session[handle]`, like a `slab` or `HashMap` index.
///
/// # Panics
///
/// When [`Session::try_get`] would return an error (the object was
/// expunged, deleted, rolled back or is expired), with that error's message.
impl<M: Model + crate::models::Model> Index<Handle<M>> for Session {
    type Output = M;
    fn index(&self, handle: Handle<M>) -> &M {
        match self.try_get(handle) {
            Ok(object) => object,
            Err(error) => panic!("{error}"),
        }
    }
}

/// `session[handle] = ...`: a tracked change.
///
/// # Panics
///
/// When [`Session::try_get_mut`] would return an error, with its message.
impl<M: Model + crate::models::Model> IndexMut<Handle<M>> for Session {
    fn index_mut(&mut self, handle: Handle<M>) -> &mut M {
        match self.try_get_mut(handle) {
            Ok(object) => object,
            Err(error) => panic!("{error}"),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.depth() == 0 {
            return;
        }
        match self.source {
            Source::Sync { .. } => {
                let _ = self.rollback();
            }
            // No statement can be awaited here: the connection goes back
            // still in its transaction, which makes the pool close it (the
            // server rolls back).
            #[cfg(feature = "async")]
            Source::Async { .. } => {
                self.forget_transaction_work(0);
                self.source.release();
            }
        }
    }
}

/// A savepoint of a session. Derefs to the session; dropped without
/// `commit`, it rolls back to the savepoint.
pub struct Savepoint<'s> {
    session: &'s mut Session,
    depth: u32,
    finished: bool,
}

impl Savepoint<'_> {
    /// Flushes and releases the savepoint, keeping its work.
    pub fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        self.finish(true)
    }

    /// Rolls back to the savepoint: objects added since leave the session.
    pub fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        self.finish(false)
    }

    fn finish(&mut self, commit: bool) -> Result<(), Error> {
        if self.session.depth() != self.depth {
            return Err(Error::NoTransaction);
        }
        match commit {
            true => self.session.commit(),
            false => self.session.rollback(),
        }
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(false);
        }
    }
}

impl Deref for Savepoint<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session
    }
}

impl DerefMut for Savepoint<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session
    }
}
