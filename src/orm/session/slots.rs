//! The identity map of one model: an arena of entries addressed by
//! generation-checked handles, with an index by primary key.

use super::Handle;
use crate::db::Connection;
use crate::dialect::query::Value;
use crate::orm::error::Error;
use crate::orm::exec;
use crate::orm::model::Model;
use crate::orm::value::KeyValue;
use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;

/// What a session does with every model's map, whatever the model.
pub(super) trait AnySlots {
    /// The model's table.
    fn table(&self) -> &'static str;
    /// The other tables its foreign keys refer to.
    fn parents(&self) -> &[String];
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Whether a flush would send anything.
    fn has_changes(&self) -> bool;
    fn flush_inserts_and_updates(&mut self, conn: &mut Connection) -> Result<(), Error>;
    fn flush_deletes(&mut self, conn: &mut Connection) -> Result<(), Error>;
    /// The level `depth` was committed into the one around it.
    fn committed(&mut self, depth: u32);
    /// Everything done deeper than `depth` was undone in the database.
    fn rolled_back(&mut self, depth: u32);
}

struct Entry<M> {
    object: M,
    /// Whether its row exists (inserted or read).
    persistent: bool,
    deleted: bool,
    /// Column values as last written or read, taken on first write.
    snapshot: Option<Vec<Value<'static>>>,
    /// The transaction depth it was added at (0: read, or committed).
    added: u32,
    /// The deepest transaction depth that wrote its row (0: none open).
    written: u32,
}

/// One model's objects in a session.
pub(super) struct Slots<M> {
    entries: Vec<Option<Entry<M>>>,
    generations: Vec<u32>,
    by_key: HashMap<String, u32>,
    parents: Vec<String>,
    model: PhantomData<fn() -> M>,
}

impl<M: Model + crate::models::Model> Slots<M> {
    /// An empty map; reads the model's foreign keys once, for flush order.
    pub(super) fn new() -> Self {
        let mut parents: Vec<String> = <M as crate::models::Model>::table()
            .foreign_keys
            .into_iter()
            .map(|fk| fk.referred_table)
            .filter(|t| t != M::TABLE_NAME)
            .collect();
        parents.sort();
        parents.dedup();
        Slots { entries: Vec::new(), generations: Vec::new(), by_key: HashMap::new(), parents, model: PhantomData }
    }
}

/// A primary key as a map key: values are not `Hash` (floats), their debug
/// text is, and it is equal exactly when the values are.
fn key_text<K: KeyValue + ?Sized>(key: &K) -> String {
    format!("{:?}", key.key_values())
}

impl<M: Model> Slots<M> {
    fn insert_entry(&mut self, entry: Entry<M>) -> Handle<M> {
        let index = match self.entries.iter().position(Option::is_none) {
            Some(i) => {
                self.entries[i] = Some(entry);
                i
            }
            None => {
                self.entries.push(Some(entry));
                self.generations.push(0);
                self.entries.len() - 1
            }
        };
        let index = u32::try_from(index).expect("fewer than 2^32 objects in one session");
        Handle { index, generation: self.generations[index as usize], model: PhantomData }
    }

    pub(super) fn add(&mut self, object: M, depth: u32) -> Handle<M> {
        let entry = Entry { object, persistent: false, deleted: false, snapshot: None, added: depth, written: 0 };
        self.insert_entry(entry)
    }

    pub(super) fn loaded(&mut self, object: M, _depth: u32) -> Handle<M> {
        let key = key_text(&object.key());
        let entry = Entry { object, persistent: true, deleted: false, snapshot: None, added: 0, written: 0 };
        let handle = self.insert_entry(entry);
        self.by_key.insert(key, handle.index);
        handle
    }

    pub(super) fn find(&self, key: &M::Key) -> Option<Handle<M>> {
        let index = *self.by_key.get(&key_text(key))?;
        let live = self.entries[index as usize].as_ref().is_some_and(|e| !e.deleted);
        live.then(|| Handle { index, generation: self.generations[index as usize], model: PhantomData })
    }

    fn entry(&self, handle: Handle<M>) -> Option<&Entry<M>> {
        let live = self.generations.get(handle.index as usize) == Some(&handle.generation);
        self.entries.get(handle.index as usize)?.as_ref().filter(|_| live)
    }

    fn entry_mut(&mut self, handle: Handle<M>) -> Option<&mut Entry<M>> {
        let live = self.generations.get(handle.index as usize) == Some(&handle.generation);
        self.entries.get_mut(handle.index as usize)?.as_mut().filter(|_| live)
    }

    pub(super) fn get(&self, handle: Handle<M>) -> Option<&M> {
        self.entry(handle).map(|e| &e.object)
    }

    pub(super) fn get_mut(&mut self, handle: Handle<M>) -> Option<&mut M> {
        let entry = self.entry_mut(handle)?;
        if entry.persistent && entry.snapshot.is_none() {
            entry.snapshot = Some(entry.object.values().into_iter().map(Value::into_owned).collect());
        }
        Some(&mut entry.object)
    }

    /// The object, to change what is not a column (its loaded
    /// relationships): no snapshot is taken.
    pub(super) fn get_mut_untracked(&mut self, handle: Handle<M>) -> Option<&mut M> {
        self.entry_mut(handle).map(|e| &mut e.object)
    }

    pub(super) fn delete(&mut self, handle: Handle<M>) {
        match self.entry_mut(handle) {
            Some(entry) if entry.persistent => entry.deleted = true,
            Some(_) => self.expunge(handle),
            None => {}
        }
    }

    pub(super) fn replace(&mut self, handle: Handle<M>, object: M) {
        if let Some(entry) = self.entry_mut(handle) {
            entry.object = object;
            entry.snapshot = None;
        }
    }

    pub(super) fn expunge(&mut self, handle: Handle<M>) {
        if self.entry(handle).is_some() {
            self.remove(handle.index as usize);
        }
    }

    fn remove(&mut self, index: usize) {
        if let Some(entry) = self.entries[index].take() {
            if entry.persistent {
                self.by_key.remove(&key_text(&entry.object.key()));
            }
            self.generations[index] = self.generations[index].wrapping_add(1);
        }
    }

    /// `UPDATE` of the columns that differ from `snapshot`.
    fn update_changed(conn: &mut Connection, object: &M, snapshot: &[Value<'static>]) -> Result<(), Error> {
        let changed: Vec<usize> = M::COLUMNS
            .iter()
            .zip(object.values())
            .zip(snapshot)
            .enumerate()
            .filter(|(_, ((column, value), old))| !M::KEY.contains(column) && value != *old)
            .map(|(i, _)| i)
            .collect();
        if !changed.is_empty() {
            exec::update_columns(conn, object, &changed)?;
        }
        Ok(())
    }
}

impl<M: Model> AnySlots for Slots<M> {
    fn table(&self) -> &'static str {
        M::TABLE_NAME
    }

    fn parents(&self) -> &[String] {
        &self.parents
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn has_changes(&self) -> bool {
        self.entries.iter().flatten().any(|e| !e.persistent || e.deleted || e.snapshot.is_some())
    }

    fn flush_inserts_and_updates(&mut self, conn: &mut Connection) -> Result<(), Error> {
        let depth = conn.transaction_state().depth;
        for index in 0..self.entries.len() {
            let Some(entry) = self.entries[index].as_mut() else { continue };
            if !entry.persistent {
                exec::insert(conn, &mut entry.object)?;
                entry.persistent = true;
                entry.written = depth;
                let key = key_text(&entry.object.key());
                self.by_key.insert(key, u32::try_from(index).expect("fewer than 2^32 objects in one session"));
            } else if let Some(snapshot) = entry.snapshot.as_ref().filter(|_| !entry.deleted) {
                Self::update_changed(conn, &entry.object, snapshot)?;
                entry.snapshot = None;
                entry.written = depth;
            }
        }
        Ok(())
    }

    fn flush_deletes(&mut self, conn: &mut Connection) -> Result<(), Error> {
        for index in 0..self.entries.len() {
            let Some(entry) = self.entries[index].as_ref().filter(|e| e.deleted) else { continue };
            exec::delete::<M>(conn, &entry.object.key())?;
            self.remove(index);
        }
        Ok(())
    }

    fn committed(&mut self, depth: u32) {
        for entry in self.entries.iter_mut().flatten() {
            entry.added = entry.added.min(depth - 1);
            entry.written = entry.written.min(depth - 1);
        }
    }

    fn rolled_back(&mut self, depth: u32) {
        // Objects added or written deeper than `depth` no longer match the
        // database: they leave the session (refresh reads them again).
        for index in 0..self.entries.len() {
            let stale = self.entries[index].as_ref().is_some_and(|e| e.added > depth || e.written > depth);
            if stale {
                self.remove(index);
            }
        }
    }
}
