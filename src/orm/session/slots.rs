//! The identity map of one model: an arena of entries addressed by
//! generation-checked handles, with an index by primary key.

use super::Handle;
use crate::dialect::query::Value;
use crate::orm::error::{Error, Stale};
use crate::orm::exec::{self, BoxFuture, Conn};
use crate::orm::hooks::{HookError, HookPoint};
use crate::orm::model::Model;
use crate::orm::relation::Relations;
use crate::orm::value::KeyValue;
use crate::schema::ColumnType;
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::{HashMap, hash_map};
use std::marker::PhantomData;
use std::sync::Arc;

/// What a session does with every model's map, whatever the model.
pub(super) trait AnySlots: Send + Sync {
    /// The model's table.
    fn table(&self) -> &'static str;
    /// The other tables its foreign keys refer to.
    fn parents(&self) -> &[String];
    /// Whether every foreign key to `parent` has only nullable columns, so
    /// that rows can be inserted without it and given it afterwards.
    fn nullable_edge_to(&self, parent: &str) -> bool;
    /// For this flush, writes the foreign keys to `parent` after the
    /// inserts (rows inserted with them `NULL`) and clears them before the
    /// deletes: the edge that breaks a cycle between tables.
    fn defer(&mut self, parent: &str);
    /// Sets the foreign keys deferred at insert (`UPDATE`), then forgets
    /// which edges were deferred.
    fn flush_deferred_keys<'a>(&'a mut self, conn: &'a mut Conn<'_>) -> BoxFuture<'a, Result<(), Error>>;
    /// Clears the deferred foreign keys of the rows about to be deleted.
    fn flush_unlinks<'a>(&'a mut self, conn: &'a mut Conn<'_>) -> BoxFuture<'a, Result<(), Error>>;
    /// Forgets the deferred edges of a flush that failed.
    fn clear_deferred(&mut self);
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Whether a flush would send anything.
    fn has_changes(&self) -> bool;
    /// Expires every persistent object.
    fn expire_all(&mut self);
    /// Inserts the pending objects (parents before the rows that refer to
    /// them within the table), then updates the changed ones. `show_keys`:
    /// whether an error may quote primary keys (the echo shows values).
    fn flush_inserts_and_updates<'a>(
        &'a mut self,
        conn: &'a mut Conn<'_>,
        show_keys: bool,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// Deletes the objects marked for it, rows referring to others first.
    fn flush_deletes<'a>(&'a mut self, conn: &'a mut Conn<'_>, show_keys: bool) -> BoxFuture<'a, Result<(), Error>>;
    /// The level `depth` was committed into the one around it.
    fn committed(&mut self, depth: u32);
    /// Everything done deeper than `depth` was undone in the database.
    fn rolled_back(&mut self, depth: u32);
    /// The values at `positions` of the object in slot `index` of
    /// `generation`, and whether it has its key yet (a pending object
    /// whose key the database generates has none before its INSERT).
    fn values_of(&self, index: u32, generation: u32, positions: &[usize])
    -> Result<(Vec<Value<'static>>, bool), Error>;
    /// The live objects (not marked deleted) whose columns at `positions`
    /// hold `key`: the children of a parent with that key.
    fn find_children(&self, positions: &[usize], key: &[Value<'static>]) -> Vec<(u32, u32)>;
    /// Marks the object in slot `index` of `generation` for deletion.
    fn delete_at(&mut self, index: u32, generation: u32) -> Result<(), Error>;
    /// Sets the columns at `positions` of that object to `values`, as a
    /// tracked change (written by its INSERT, or its next UPDATE).
    fn set_values_of(
        &mut self,
        index: u32,
        generation: u32,
        positions: &[usize],
        values: &[Value<'static>],
    ) -> Result<(), Error>;
}

struct Entry<M> {
    object: M,
    /// Whether its row exists (inserted or read).
    persistent: bool,
    /// Marked for deletion at the next flush.
    deleted: bool,
    /// The transaction depth whose flush deleted its row (0: not deleted).
    /// The entry stays until that is committed, so that a rollback can
    /// give the object back.
    delete_flushed: u32,
    /// Its values may no longer be the row's: read it again before use.
    expired: bool,
    /// Column values as last written or read, taken on first write.
    snapshot: Option<Vec<Value<'static>>>,
    /// The transaction depth it was added at (0: read, or committed).
    added: u32,
    /// The deepest transaction depth that wrote its row (0: none open).
    written: u32,
    /// The transaction depth whose flush inserted its row (0: none open).
    inserted: u32,
}

impl<M> Entry<M> {
    fn new(object: M, persistent: bool, added: u32) -> Self {
        Entry {
            object,
            persistent,
            deleted: false,
            delete_flushed: 0,
            expired: false,
            snapshot: None,
            added,
            written: 0,
            inserted: 0,
        }
    }
}

/// One model's objects in a session.
pub(super) struct Slots<M: Model> {
    entries: Vec<Option<Entry<M>>>,
    generations: Vec<u32>,
    /// Per slot, why its last object left and the generation it had then.
    departures: Vec<Option<(u32, Stale)>>,
    /// Empty slots, reused before the arena grows.
    free: Vec<usize>,
    /// How many entries a flush would write (see [`changes`]), kept at
    /// every change of state so that autoflush need not walk them all.
    changed: usize,
    by_key: foldhash::HashMap<MapKey<M>, u32>,
    /// What the model's table says, for flush order and inserts.
    facts: Arc<Facts>,
    /// The positions of the columns deferred in this flush (see `defer`).
    deferred: Vec<usize>,
    /// Entries inserted with their deferred columns `NULL`.
    post_update: Vec<usize>,
    model: PhantomData<fn() -> M>,
}

/// What a model's table description says that a flush needs, read once
/// per model and thread and shared by every session's map of it.
struct Facts {
    /// The other tables its foreign keys refer to, sorted.
    parents: Vec<String>,
    /// Foreign keys to other tables: the table, the positions of the
    /// referring columns in `COLUMNS`, and whether all are nullable.
    outer_keys: Vec<(String, Vec<usize>, bool)>,
    /// The types of the model's columns, in `COLUMNS` order.
    types: Vec<ColumnType>,
    /// Foreign keys to the model's own table: positions of the referring
    /// columns and of the referred ones, in `COLUMNS`.
    self_references: Vec<(Vec<usize>, Vec<usize>)>,
}

impl<M: Model + crate::models::Model> Slots<M> {
    /// An empty map.
    pub(super) fn new() -> Self {
        Slots {
            entries: Vec::new(),
            generations: Vec::new(),
            departures: Vec::new(),
            free: Vec::new(),
            changed: 0,
            by_key: foldhash::HashMap::default(),
            facts: facts::<M>(),
            deferred: Vec::new(),
            post_update: Vec::new(),
            model: PhantomData,
        }
    }
}

thread_local! {
    /// Each model's [`Facts`], built once per thread: a session creates a
    /// map per model it touches, and building them (the table description,
    /// its column types parsed) cost a read-only session a third of its
    /// client time.
    static FACTS: RefCell<HashMap<TypeId, Arc<Facts>>> = RefCell::new(HashMap::new());
}

/// `M`'s [`Facts`], shared.
fn facts<M: Model + crate::models::Model>() -> Arc<Facts> {
    FACTS.with(|facts| {
        Arc::clone(facts.borrow_mut().entry(TypeId::of::<M>()).or_insert_with(|| Arc::new(read_facts::<M>())))
    })
}

fn read_facts<M: Model + crate::models::Model>() -> Facts {
    let table = M::table();
    let position = |name: &String| M::COLUMNS.iter().position(|c| c == name);
    let self_references = table
        .foreign_keys
        .iter()
        .filter(|fk| fk.referred_table == M::TABLE_NAME)
        .filter_map(|fk| {
            let from: Option<Vec<usize>> = fk.columns.iter().map(position).collect();
            let to: Option<Vec<usize>> = fk.referred_columns.iter().map(position).collect();
            Some((from?, to?))
        })
        .collect();
    let types = M::COLUMNS
        .iter()
        .map(|c| table.columns.iter().find(|t| t.name == *c).map_or(ColumnType::Text, |t| t.ty.clone()))
        .collect();
    let nullable = |name: &String| table.columns.iter().any(|c| c.name == *name && c.nullable);
    let outer_keys = table
        .foreign_keys
        .iter()
        .filter(|fk| fk.referred_table != M::TABLE_NAME)
        .filter_map(|fk| {
            let from: Option<Vec<usize>> = fk.columns.iter().map(position).collect();
            Some((fk.referred_table.clone(), from?, fk.columns.iter().all(nullable)))
        })
        .collect();
    let mut parents: Vec<String> =
        table.foreign_keys.iter().map(|fk| fk.referred_table.clone()).filter(|t| t != M::TABLE_NAME).collect();
    parents.sort();
    parents.dedup();
    Facts { parents, outer_keys, types, self_references }
}

impl<M: Model + Relations> Slots<M> {
    /// The object a query's `row` stands for: a new entry for a key the
    /// session does not hold (one lookup of the key, not two), else the
    /// session's own object, which takes the row's values if it was
    /// expired and keeps its unsaved changes if not.
    pub(super) fn read_row(&mut self, mut row: M) -> Handle<M> {
        let kept = match self.by_key.entry(row.key().map_key()) {
            hash_map::Entry::Occupied(kept) if live(&self.entries, *kept.get()) => *kept.get(),
            entry => {
                // A row is read unchanged: it counts for no flush.
                let handle = place(&mut self.entries, &mut self.generations, &mut self.free, Entry::new(row, true, 0));
                match entry {
                    hash_map::Entry::Occupied(mut gone) => *gone.get_mut() = handle.index,
                    hash_map::Entry::Vacant(new) => {
                        new.insert(handle.index);
                    }
                }
                return handle;
            }
        };
        let kept = Handle { index: kept, generation: self.generations[kept as usize], model: PhantomData };
        if self.is_expired(kept) {
            self.replace(kept, row);
        } else if let Ok(object) = self.get_mut_untracked(kept) {
            object.take_loaded(&mut row);
        }
        kept
    }
}

/// Whether slot `index` of `entries` holds an object not marked for deletion.
fn live<M>(entries: &[Option<Entry<M>>], index: u32) -> bool {
    entries[index as usize].as_ref().is_some_and(|e| !e.deleted)
}

/// Puts `entry` in a free slot of `entries`, or a new one.
fn place<M>(
    entries: &mut Vec<Option<Entry<M>>>,
    generations: &mut Vec<u32>,
    free: &mut Vec<usize>,
    entry: Entry<M>,
) -> Handle<M> {
    let index = match free.pop() {
        Some(i) => {
            entries[i] = Some(entry);
            i
        }
        None => {
            entries.push(Some(entry));
            generations.push(0);
            entries.len() - 1
        }
    };
    let index = u32::try_from(index).expect("fewer than 2^32 objects in one session");
    Handle { index, generation: generations[index as usize], model: PhantomData }
}

/// The identity map's key of a model: its primary key as hashable values.
type MapKey<M> = <<M as Model>::Key as KeyValue>::MapKey;

/// Whether a flush would write the entry: insert, delete or maybe update it.
fn changes<M>(entry: &Entry<M>) -> bool {
    !entry.persistent || entry.deleted || entry.snapshot.is_some()
}

impl<M: Model> Slots<M> {
    /// Counts an entry that gained (`now`) or lost changes (`was`).
    fn count_change(&mut self, was: bool, now: bool) {
        match (was, now) {
            (false, true) => self.changed += 1,
            (true, false) => self.changed -= 1,
            _ => {}
        }
    }

    /// Counts the entries with changes again, after a walk over all of them.
    fn recount(&mut self) {
        self.changed = self.entries.iter().flatten().filter(|e| changes(e)).count();
    }

    fn insert_entry(&mut self, entry: Entry<M>) -> Handle<M> {
        self.count_change(false, changes(&entry));
        place(&mut self.entries, &mut self.generations, &mut self.free, entry)
    }

    pub(super) fn add(&mut self, object: M, depth: u32) -> Handle<M> {
        self.insert_entry(Entry::new(object, false, depth))
    }

    /// Room for `additional` more objects (a query's rows) without regrowing.
    pub(super) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        self.generations.reserve(additional);
        self.by_key.reserve(additional);
    }

    pub(super) fn loaded(&mut self, object: M) -> Handle<M> {
        let key = object.key().map_key();
        let handle = self.insert_entry(Entry::new(object, true, 0));
        self.by_key.insert(key, handle.index);
        handle
    }

    /// The live object of `key`, expired or not.
    pub(super) fn find(&self, key: &M::Key) -> Option<Handle<M>> {
        let index = *self.by_key.get(&key.map_key())?;
        live(&self.entries, index).then(|| Handle {
            index,
            generation: self.generations[index as usize],
            model: PhantomData,
        })
    }

    /// The entry of `handle`, or why there is none.
    fn entry(&self, handle: Handle<M>) -> Result<&Entry<M>, Stale> {
        let at = handle.index as usize;
        let current = self.generations.get(at) == Some(&handle.generation);
        match self.entries.get(at).and_then(Option::as_ref) {
            Some(entry) if current => Ok(entry),
            _ => Err(self.departure(handle)),
        }
    }

    fn entry_mut(&mut self, handle: Handle<M>) -> Result<&mut Entry<M>, Stale> {
        let at = handle.index as usize;
        let current = self.generations.get(at) == Some(&handle.generation);
        if !current || self.entries.get(at).is_none_or(Option::is_none) {
            return Err(self.departure(handle));
        }
        Ok(self.entries[at].as_mut().expect("the slot was just checked"))
    }

    fn departure(&self, handle: Handle<M>) -> Stale {
        match self.departures.get(handle.index as usize).copied().flatten() {
            Some((generation, why)) if generation == handle.generation => why,
            _ => Stale::NotInSession,
        }
    }

    /// The object, unless it left the session, was deleted or is expired.
    pub(super) fn get(&self, handle: Handle<M>) -> Result<&M, Stale> {
        let entry = self.entry(handle)?;
        usable(entry)?;
        Ok(&entry.object)
    }

    pub(super) fn get_mut(&mut self, handle: Handle<M>) -> Result<&mut M, Stale> {
        let entry = self.entry_mut(handle)?;
        usable(entry)?;
        if entry.persistent && entry.snapshot.is_none() {
            let was = changes(entry);
            entry.snapshot = Some(entry.object.values().into_iter().map(Value::into_owned).collect());
            self.count_change(was, true);
        }
        let entry = self.entries[handle.index as usize].as_mut().expect("the slot was just checked");
        Ok(&mut entry.object)
    }

    /// The object, to change what is not a column (its loaded
    /// relationships): no snapshot is taken.
    pub(super) fn get_mut_untracked(&mut self, handle: Handle<M>) -> Result<&mut M, Stale> {
        let entry = self.entry_mut(handle)?;
        usable(entry)?;
        Ok(&mut entry.object)
    }

    /// Sets the columns at `positions` to `values` as a tracked change;
    /// `Ok(false)` when a value does not fit its field (`NULL` for a
    /// non-`Option`), nothing changed then.
    pub(super) fn set_values(
        &mut self,
        handle: Handle<M>,
        positions: &[usize],
        values: &[Value<'static>],
    ) -> Result<bool, Stale> {
        let object = self.get(handle)?;
        let all = object.values();
        let old: Vec<Value<'static>> =
            positions.iter().filter_map(|&at| all.get(at)).map(|v| v.clone().into_owned()).collect();
        drop(all);
        // Tried without a snapshot first, so that a refused value changes nothing.
        let object = self.get_mut_untracked(handle)?;
        let fits = positions.iter().zip(values).all(|(&at, value)| object.set_value(at, value));
        for (&at, value) in positions.iter().zip(&old) {
            object.set_value(at, value);
        }
        if !fits {
            return Ok(false);
        }
        let object = self.get_mut(handle)?;
        for (&at, value) in positions.iter().zip(values) {
            object.set_value(at, value);
        }
        Ok(true)
    }

    /// The primary key of the object, expired or not.
    pub(super) fn key_of(&self, handle: Handle<M>) -> Result<M::Key, Stale> {
        let entry = self.entry(handle)?;
        if entry.delete_flushed > 0 {
            return Err(Stale::Deleted);
        }
        Ok(entry.object.key())
    }

    /// Whether the object behind `handle` has its row (inserted or read).
    pub(super) fn is_persistent(&self, handle: Handle<M>) -> bool {
        self.entry(handle).is_ok_and(|e| e.persistent && e.delete_flushed == 0)
    }

    /// Whether the object behind `handle` is expired.
    pub(super) fn is_expired(&self, handle: Handle<M>) -> bool {
        self.entry(handle).is_ok_and(|e| e.expired)
    }

    pub(super) fn delete(&mut self, handle: Handle<M>) -> Result<(), Stale> {
        let entry = self.entry_mut(handle)?;
        if entry.delete_flushed > 0 {
            return Err(Stale::Deleted);
        }
        if entry.persistent {
            let was = changes(entry);
            entry.deleted = true;
            self.count_change(was, true);
        } else {
            self.remove(handle.index as usize, Stale::Deleted);
        }
        Ok(())
    }

    /// Marks the object expired, its unflushed changes dropped (a pending
    /// object has no row to read again: it stays as it is).
    pub(super) fn expire(&mut self, handle: Handle<M>) -> Result<(), Stale> {
        let entry = self.entry_mut(handle)?;
        if entry.persistent && entry.delete_flushed == 0 {
            let was = changes(entry);
            entry.expired = true;
            entry.snapshot = None;
            let now = changes(entry);
            self.count_change(was, now);
        }
        Ok(())
    }

    /// The row's values read again: the object takes them, unexpired.
    pub(super) fn replace(&mut self, handle: Handle<M>, object: M) {
        if let Ok(entry) = self.entry_mut(handle) {
            let was = changes(entry);
            entry.object = object;
            entry.snapshot = None;
            entry.expired = false;
            let now = changes(entry);
            self.count_change(was, now);
        }
    }

    pub(super) fn expunge(&mut self, handle: Handle<M>) -> Result<(), Stale> {
        self.entry(handle)?;
        self.remove(handle.index as usize, Stale::Expunged);
        Ok(())
    }

    fn remove(&mut self, index: usize, why: Stale) {
        if let Some(entry) = self.entries[index].take() {
            self.count_change(changes(&entry), false);
            if entry.persistent && entry.delete_flushed == 0 {
                let key = entry.object.key().map_key();
                if self.by_key.get(&key) == Some(&(index as u32)) {
                    self.by_key.remove(&key);
                }
            }
            if self.departures.len() <= index {
                self.departures.resize(index + 1, None);
            }
            self.departures[index] = Some((self.generations[index], why));
            self.generations[index] = self.generations[index].wrapping_add(1);
            self.free.push(index);
        }
    }

    /// Whether `object` holds a value in a deferred column.
    fn has_deferred_value(&self, object: &M) -> bool {
        if self.deferred.is_empty() {
            return false;
        }
        let values = object.values();
        self.deferred.iter().any(|&c| !matches!(values[c], Value::Null))
    }

    /// `indexes` (entries) in levels: a row after the rows of `indexes` its
    /// foreign keys to this same table point at, so each level can be
    /// written in one batch once the levels before it are. An error names
    /// the table (and the rows' keys, if `show_keys`) when rows point at
    /// each other in a cycle.
    fn levels(&self, indexes: Vec<usize>, show_keys: bool) -> Result<Vec<Vec<usize>>, Error> {
        if self.facts.self_references.is_empty() || indexes.len() < 2 {
            return Ok(vec![indexes]);
        }
        let object = |i: usize| &self.entries[i].as_ref().expect("levels are computed over live entries").object;
        let unset_key = |i: usize, columns: &[usize]| {
            object(i).generated_key_unset() && columns.iter().any(|&c| Some(M::COLUMNS[c]) == M::GENERATED)
        };
        // Per self-reference, the rows by the values other rows refer to.
        let targets: Vec<HashMap<String, usize>> = self
            .facts
            .self_references
            .iter()
            .map(|(_, to)| {
                let mut by_value = HashMap::new();
                for &i in indexes.iter().filter(|&&i| !unset_key(i, to)) {
                    let values = object(i).values();
                    by_value.insert(format!("{:?}", to.iter().map(|&c| &values[c]).collect::<Vec<_>>()), i);
                }
                by_value
            })
            .collect();
        let parents: HashMap<usize, Vec<usize>> = indexes
            .iter()
            .map(|&i| {
                let values = object(i).values();
                let found = self.facts.self_references.iter().zip(&targets).filter_map(|((from, _), by_value)| {
                    let refers: Vec<&Value<'_>> = from.iter().map(|&c| &values[c]).collect();
                    if refers.iter().any(|v| matches!(v, Value::Null)) {
                        return None;
                    }
                    by_value.get(&format!("{refers:?}")).copied().filter(|&p| p != i)
                });
                (i, found.collect())
            })
            .collect();
        let mut placed: HashMap<usize, bool> = indexes.iter().map(|&i| (i, false)).collect();
        let mut levels = Vec::new();
        let mut left = indexes;
        while !left.is_empty() {
            let (ready, rest): (Vec<usize>, Vec<usize>) =
                left.iter().partition(|i| parents[i].iter().all(|p| placed[p]));
            if ready.is_empty() {
                let keys = if show_keys {
                    rest.iter().map(|&i| format!("{:?}", object(i).key().key_values())).collect()
                } else {
                    Vec::new()
                };
                return Err(Error::RowCycle { table: M::TABLE_NAME.to_string(), keys });
            }
            ready.iter().for_each(|i| *placed.get_mut(i).expect("every row has a mark") = true);
            levels.push(ready);
            left = rest;
        }
        Ok(levels)
    }

    /// `UPDATE` of the columns that differ from `snapshot`; with a version
    /// column, compare-and-set on the snapshot's version, which the object
    /// then advances. Whether anything was sent.
    async fn update_changed(
        conn: &mut Conn<'_>,
        object: &mut M,
        snapshot: &[Value<'static>],
        show_keys: bool,
    ) -> Result<bool, Error> {
        let changed: Vec<usize> = M::COLUMNS
            .iter()
            .zip(object.values())
            .zip(snapshot)
            .enumerate()
            .filter(|(_, ((column, value), old))| {
                !M::KEY.contains(column) && Some(**column) != M::VERSION && value != *old
            })
            .map(|(i, _)| i)
            .collect();
        if changed.is_empty() {
            return Ok(false);
        }
        let version = M::VERSION.and_then(|v| Some((v, M::COLUMNS.iter().position(|c| *c == v)?)));
        let Some((version, at)) = version else {
            exec::update_columns_on(conn, object, &changed).await?;
            return Ok(true);
        };
        let expected = snapshot[at].clone();
        if exec::update_versioned_on(conn, object, &changed, version, expected).await? == 0 {
            return Err(stale_object(object, show_keys));
        }
        object.advance_version();
        Ok(true)
    }

    /// `DELETE` of the object's row; with a version column, only if it
    /// still holds the version read.
    async fn delete_row(conn: &mut Conn<'_>, entry: &Entry<M>, show_keys: bool) -> Result<(), Error> {
        let key = entry.object.key();
        let version = M::VERSION.and_then(|v| Some((v, M::COLUMNS.iter().position(|c| *c == v)?)));
        let Some((version, at)) = version else {
            exec::delete_on::<M>(conn, &key).await?;
            return Ok(());
        };
        let expected = match &entry.snapshot {
            Some(snapshot) => snapshot[at].clone(),
            None => entry.object.values().swap_remove(at).into_owned(),
        };
        if exec::delete_versioned_on::<M>(conn, &key, version, expected).await? == 0 {
            return Err(stale_object(&entry.object, show_keys));
        }
        Ok(())
    }
}

impl<M: Model> AnySlots for Slots<M> {
    fn table(&self) -> &'static str {
        M::TABLE_NAME
    }

    fn parents(&self) -> &[String] {
        &self.facts.parents
    }

    fn nullable_edge_to(&self, parent: &str) -> bool {
        let mut keys = self.facts.outer_keys.iter().filter(|(t, _, _)| t == parent).peekable();
        keys.peek().is_some() && keys.all(|(_, _, nullable)| *nullable)
    }

    fn defer(&mut self, parent: &str) {
        for (_, columns, _) in self.facts.outer_keys.iter().filter(|(t, _, _)| t == parent) {
            for &column in columns {
                if !self.deferred.contains(&column) {
                    self.deferred.push(column);
                }
            }
        }
    }

    fn flush_deferred_keys<'a>(&'a mut self, conn: &'a mut Conn<'_>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let deferred = std::mem::take(&mut self.deferred);
            for index in std::mem::take(&mut self.post_update) {
                if let Some(entry) = self.entries[index].as_ref() {
                    exec::update_columns_on(conn, &entry.object, &deferred).await?;
                }
            }
            Ok(())
        })
    }

    fn clear_deferred(&mut self) {
        self.deferred.clear();
        self.post_update.clear();
    }

    fn flush_unlinks<'a>(&'a mut self, conn: &'a mut Conn<'_>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let columns: Vec<&'static str> = self.deferred.iter().map(|&c| M::COLUMNS[c]).collect();
            for entry in self.entries.iter().flatten().filter(|e| e.deleted) {
                if self.has_deferred_value(&entry.object) {
                    exec::set_null_on::<M>(conn, &entry.object.key(), &columns).await?;
                }
            }
            Ok(())
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn expire_all(&mut self) {
        for entry in self.entries.iter_mut().flatten().filter(|e| e.persistent && e.delete_flushed == 0) {
            entry.expired = true;
            entry.snapshot = None;
        }
        self.recount();
    }

    fn has_changes(&self) -> bool {
        debug_assert_eq!(self.changed, self.entries.iter().flatten().filter(|e| changes(e)).count());
        self.changed > 0
    }

    fn flush_inserts_and_updates<'a>(
        &'a mut self,
        conn: &'a mut Conn<'_>,
        show_keys: bool,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let flushed = self.insert_and_update(conn, show_keys).await;
            self.recount();
            flushed
        })
    }

    fn flush_deletes<'a>(&'a mut self, conn: &'a mut Conn<'_>, show_keys: bool) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let flushed = self.delete_rows(conn, show_keys).await;
            self.recount();
            flushed
        })
    }

    fn committed(&mut self, depth: u32) {
        self.commit_entries(depth);
        self.recount();
    }

    fn rolled_back(&mut self, depth: u32) {
        self.roll_back_entries(depth);
        self.recount();
    }

    fn values_of(
        &self,
        index: u32,
        generation: u32,
        positions: &[usize],
    ) -> Result<(Vec<Value<'static>>, bool), Error> {
        let handle = Handle { index, generation, model: PhantomData };
        let entry = self.entry(handle).map_err(super::stale::<M>)?;
        if entry.delete_flushed > 0 {
            return Err(super::stale::<M>(Stale::Deleted));
        }
        // An expired object's key columns are still its row's.
        let values = entry.object.values();
        let picked = positions.iter().filter_map(|&at| values.get(at)).map(|v| v.clone().into_owned()).collect();
        Ok((picked, entry.persistent || !entry.object.generated_key_unset()))
    }

    fn find_children(&self, positions: &[usize], key: &[Value<'static>]) -> Vec<(u32, u32)> {
        let same = |a: &Value<'_>, b: &Value<'_>| a == b || a.as_i64().is_some_and(|n| b.as_i64() == Some(n));
        let holds_key = |object: &M| {
            let values = object.values();
            positions.len() == key.len()
                && positions.iter().zip(key).all(|(&at, k)| values.get(at).is_some_and(|v| same(v, k)))
        };
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, e.as_ref()?)))
            .filter(|(_, e)| !e.deleted && e.delete_flushed == 0 && holds_key(&e.object))
            .map(|(i, _)| (u32::try_from(i).expect("fewer than 2^32 objects in one session"), self.generations[i]))
            .collect()
    }

    fn delete_at(&mut self, index: u32, generation: u32) -> Result<(), Error> {
        self.delete(Handle { index, generation, model: PhantomData }).map_err(super::stale::<M>)
    }

    fn set_values_of(
        &mut self,
        index: u32,
        generation: u32,
        positions: &[usize],
        values: &[Value<'static>],
    ) -> Result<(), Error> {
        let handle = Handle { index, generation, model: PhantomData };
        match self.set_values(handle, positions, values) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::Relation(crate::orm::relation::RelationError::KeyDoesNotFit {
                model: super::model_name::<M>(),
                columns: positions.iter().map(|&at| M::COLUMNS[at]).collect(),
            })),
            Err(stale) => Err(super::stale::<M>(stale)),
        }
    }
}

impl<M: Model> Slots<M> {
    /// See [`AnySlots::flush_inserts_and_updates`]; leaves the count stale.
    async fn insert_and_update(&mut self, conn: &mut Conn<'_>, show_keys: bool) -> Result<(), Error> {
        let depth = conn.depth();
        let pending: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.as_ref().is_some_and(|e| !e.persistent))
            .map(|(i, _)| i)
            .collect();
        for level in self.levels(pending, show_keys)? {
            let mut in_level = vec![false; self.entries.len()];
            level.iter().for_each(|&i| in_level[i] = true);
            let mut objects: Vec<&mut M> = self
                .entries
                .iter_mut()
                .zip(&in_level)
                .filter(|(_, inside)| **inside)
                .filter_map(|(e, _)| e.as_mut().map(|e| &mut e.object))
                .collect();
            for object in objects.iter_mut() {
                object.before_insert().map_err(|e| hook_error::<M>(HookPoint::BeforeInsert, e))?;
            }
            exec::insert_many_on(conn, objects, &self.facts.types, &self.deferred).await?;
            for index in level {
                let deferred = self.entries[index].as_ref().is_some_and(|e| self.has_deferred_value(&e.object));
                if deferred {
                    self.post_update.push(index);
                }
                let Some(entry) = self.entries[index].as_mut() else { continue };
                entry.persistent = true;
                entry.written = depth;
                entry.inserted = depth;
                let key = entry.object.key().map_key();
                self.by_key.insert(key, u32::try_from(index).expect("fewer than 2^32 objects in one session"));
                entry.object.after_insert().map_err(|e| hook_error::<M>(HookPoint::AfterInsert, e))?;
            }
        }
        for index in 0..self.entries.len() {
            let Some(entry) = self.entries[index].as_mut() else { continue };
            if !entry.persistent || entry.deleted || entry.delete_flushed > 0 {
                continue;
            }
            let Some(snapshot) = entry.snapshot.as_ref() else { continue };
            entry.object.before_update().map_err(|e| hook_error::<M>(HookPoint::BeforeUpdate, e))?;
            match Self::update_changed(conn, &mut entry.object, snapshot, show_keys).await {
                Ok(sent) => {
                    entry.snapshot = None;
                    if sent {
                        entry.written = depth;
                    }
                    entry.object.after_update().map_err(|e| hook_error::<M>(HookPoint::AfterUpdate, e))?;
                }
                Err(error) => {
                    if matches!(error, Error::StaleObject { .. }) {
                        // Its values are not the row's: read it again before use.
                        entry.expired = true;
                        entry.snapshot = None;
                    }
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// See [`AnySlots::flush_deletes`]; leaves the count stale.
    async fn delete_rows(&mut self, conn: &mut Conn<'_>, show_keys: bool) -> Result<(), Error> {
        let depth = conn.depth();
        let deleted: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.as_ref().is_some_and(|e| e.deleted))
            .map(|(i, _)| i)
            .collect();
        // Rows referring to others go first: the levels backwards.
        for index in self.levels(deleted, show_keys)?.into_iter().rev().flatten() {
            let Some(entry) = self.entries[index].as_mut() else { continue };
            entry.object.before_delete().map_err(|e| hook_error::<M>(HookPoint::BeforeDelete, e))?;
            if let Err(error) = Self::delete_row(conn, entry, show_keys).await {
                if matches!(error, Error::StaleObject { .. }) {
                    (entry.deleted, entry.expired, entry.snapshot) = (false, true, None);
                }
                return Err(error);
            }
            entry.deleted = false;
            entry.delete_flushed = depth.max(1);
            let key = entry.object.key().map_key();
            if self.by_key.get(&key) == Some(&(index as u32)) {
                self.by_key.remove(&key);
            }
            entry.object.after_delete().map_err(|e| hook_error::<M>(HookPoint::AfterDelete, e))?;
        }
        Ok(())
    }

    /// See [`AnySlots::committed`]; leaves the count stale.
    fn commit_entries(&mut self, depth: u32) {
        for index in 0..self.entries.len() {
            let Some(entry) = self.entries[index].as_mut() else { continue };
            entry.added = entry.added.min(depth - 1);
            entry.written = entry.written.min(depth - 1);
            entry.inserted = entry.inserted.min(depth - 1);
            if entry.delete_flushed > 0 {
                entry.delete_flushed = entry.delete_flushed.min(depth - 1);
                if entry.delete_flushed == 0 {
                    self.remove(index, Stale::Deleted);
                }
            }
        }
    }

    /// See [`AnySlots::rolled_back`]; leaves the count stale.
    fn roll_back_entries(&mut self, depth: u32) {
        for index in 0..self.entries.len() {
            let Some(entry) = self.entries[index].as_mut() else { continue };
            if entry.added > depth {
                // Its row was inserted in what was undone, or never was.
                self.remove(index, Stale::RolledBack);
                continue;
            }
            if entry.inserted > depth {
                // Added before what was undone, inserted inside it: pending again.
                entry.persistent = false;
                (entry.inserted, entry.written, entry.delete_flushed) = (0, 0, 0);
                (entry.deleted, entry.expired, entry.snapshot) = (false, false, None);
                let key = entry.object.key().map_key();
                if self.by_key.get(&key) == Some(&(index as u32)) {
                    self.by_key.remove(&key);
                }
                continue;
            }
            if entry.delete_flushed > depth {
                // Its row is back: so is the object, persistent again.
                entry.delete_flushed = 0;
                let key = entry.object.key().map_key();
                self.by_key.insert(key, index as u32);
            }
            if entry.written > depth {
                // Its row has the values it had before the undone writes,
                // which the session does not know: read it again on use.
                entry.written = depth;
                entry.expired = true;
                entry.snapshot = None;
            }
        }
    }
}

/// The error for a stale write of `object`.
fn stale_object<M: Model>(object: &M, show_keys: bool) -> Error {
    let name = std::any::type_name::<M>();
    let key = show_keys.then(|| format!("{:?}", object.key().key_values()));
    Error::StaleObject { model: name.rsplit("::").next().unwrap_or(name), key }
}

/// The error for a hook of `M` that refused.
fn hook_error<M>(hook: HookPoint, source: HookError) -> Error {
    let name = std::any::type_name::<M>();
    Error::Hook { model: Some(name.rsplit("::").next().unwrap_or(name)), hook, source }
}

/// Whether an entry's object may be used as it is.
fn usable<M>(entry: &Entry<M>) -> Result<(), Stale> {
    if entry.delete_flushed > 0 {
        Err(Stale::Deleted)
    } else if entry.expired {
        Err(Stale::Expired)
    } else {
        Ok(())
    }
}
