//! Model hooks and session events.
//!
//! A model's [`Hooks`] run around its own row's statements in a flush and
//! when it is read; [`SessionEvents`] run around a session's flush, commit
//! and rollback. The rule (SQLAlchemy's): a model hook changes only its own
//! row; adding, deleting or changing other objects belongs in
//! [`SessionEvents::before_flush`]. An error from a hook or from
//! `before_flush` aborts the flush, which rolls back. Statement hooks
//! (logging, metrics) are an [`Echo`](super::Echo) sink:
//! [`Echo::hook`](super::Echo::hook). See `docs/orm.md`, "Hooks and events".

use super::session::Session;
use std::fmt;
use std::sync::Arc;

/// Why a hook refused to go on: the flush is aborted and rolled back.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HookError(Box<dyn std::error::Error + Send + Sync>);

impl HookError {
    /// The refusal with `reason` (a message or an error of the application's).
    pub fn new(reason: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        HookError(reason.into())
    }
}

/// What a hook returns.
pub type HookResult = Result<(), HookError>;

/// The per-model hooks, each a no-op by default. `#[derive(Model)]`
/// implements it empty (the calls compile away); a model declared with
/// `#[model(hooks)]` implements it itself, overriding the hooks it needs.
///
/// `before_insert` and `before_update` may change the object: the changes
/// are written by its statement. A hook touches only its own row.
pub trait Hooks {
    /// Before the object's row is inserted.
    fn before_insert(&mut self) -> HookResult {
        Ok(())
    }
    /// After the object's row was inserted (generated key filled in).
    fn after_insert(&self) -> HookResult {
        Ok(())
    }
    /// Before the changed object's row is updated (called for every object
    /// changed since read, even when no column ends up different).
    fn before_update(&mut self) -> HookResult {
        Ok(())
    }
    /// After the changed object's row was updated.
    fn after_update(&self) -> HookResult {
        Ok(())
    }
    /// Before the object's row is deleted.
    fn before_delete(&self) -> HookResult {
        Ok(())
    }
    /// After the object's row was deleted.
    fn after_delete(&self) -> HookResult {
        Ok(())
    }
    /// After the object was decoded from a row (a query, a get, a refresh,
    /// a relationship load, an untracked read), also when a query then
    /// drops it because the session already holds that object.
    fn on_load(&mut self) {}
}

/// A hook of [`Hooks`], as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// [`Hooks::before_insert`].
    BeforeInsert,
    /// [`Hooks::after_insert`].
    AfterInsert,
    /// [`Hooks::before_update`].
    BeforeUpdate,
    /// [`Hooks::after_update`].
    AfterUpdate,
    /// [`Hooks::before_delete`].
    BeforeDelete,
    /// [`Hooks::after_delete`].
    AfterDelete,
    /// [`SessionEvents::before_flush`].
    BeforeFlush,
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HookPoint::BeforeInsert => "before_insert",
            HookPoint::AfterInsert => "after_insert",
            HookPoint::BeforeUpdate => "before_update",
            HookPoint::AfterUpdate => "after_update",
            HookPoint::BeforeDelete => "before_delete",
            HookPoint::AfterDelete => "after_delete",
            HookPoint::BeforeFlush => "before_flush",
        })
    }
}

/// Listeners of a session's unit of work, each a no-op by default. Given
/// to one session ([`Session::listen`]) or to every session of a pool
/// ([`PoolOptions::events`](super::PoolOptions::events)).
pub trait SessionEvents: Send + Sync {
    /// At the start of a flush that has something to write: may add,
    /// change or delete objects, which this flush then writes. An error
    /// aborts the flush (nothing written).
    fn before_flush(&self, session: &mut Session) -> HookResult {
        let _ = session;
        Ok(())
    }
    /// After a flush wrote everything, before the transaction ends.
    fn after_flush(&self, session: &Session) {
        let _ = session;
    }
    /// After the session's transaction committed (not a savepoint's release).
    fn after_commit(&self, session: &Session) {
        let _ = session;
    }
    /// After the session's transaction rolled back (not a savepoint's),
    /// including the rollback of a failed flush.
    fn after_rollback(&self, session: &Session) {
        let _ = session;
    }
}

/// A list of [`SessionEvents`] listeners, called in the order added.
#[derive(Clone, Default)]
pub struct Listeners(Vec<Arc<dyn SessionEvents>>);

impl Listeners {
    /// No listener.
    pub fn new() -> Self {
        Listeners(Vec::new())
    }

    /// Adds `listener` after those already there.
    pub fn add(&mut self, listener: impl SessionEvents + 'static) {
        self.0.push(Arc::new(listener));
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<dyn SessionEvents>> {
        self.0.iter()
    }
}

impl fmt::Debug for Listeners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Listeners({})", self.0.len())
    }
}
