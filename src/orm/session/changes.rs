//! Relationship changes in a session: linking and unlinking many-to-many
//! rows, giving a child a parent (`append`, `set_parent`) and taking it
//! away (`remove`). They go through the unit of work: nothing is sent
//! until the next flush, which writes them in foreign-key order.
//!
//! - A child's foreign key is a column change: set on the object at once
//!   when the parent has its key (so the child's own INSERT or UPDATE
//!   writes it, with its other changed columns), or recorded when the
//!   parent is pending with a key the database generates, and copied into
//!   the child after the parent's INSERT, before the child's own.
//! - Association rows are recorded, and written after every INSERT and
//!   UPDATE (both sides have their keys then), in the order asked,
//!   before the DELETEs.
//! - A rollback of the transaction or savepoint forgets the changes
//!   recorded inside it; the relationships loaded in the session follow
//!   each change at once.

use super::slots::AnySlots;
use super::{Handle, Session};
use crate::dialect::query::{self as ast, StatementRef, Value};
use crate::orm::error::Error;
use crate::orm::exec::{self, Conn};
use crate::orm::model::Model;
use crate::orm::query::Statement;
use crate::orm::relation::{Many, One, Relation, RelationDef, RelationError, RelationKind, Relations, Resolved};
use crate::orm::value::KeyValue;
use std::any::TypeId;
use std::borrow::Cow;

/// An object of any model in the session: its handle without the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ObjectRef {
    model: TypeId,
    index: u32,
    generation: u32,
}

impl ObjectRef {
    fn of<M: 'static>(handle: Handle<M>) -> Self {
        ObjectRef { model: TypeId::of::<M>(), index: handle.index, generation: handle.generation }
    }
}

/// A relationship change waiting for the next flush, with the transaction
/// depth it was made at (a rollback past that depth forgets it).
pub(super) struct Recorded {
    pub(super) depth: u32,
    pub(super) change: Change,
}

pub(super) enum Change {
    /// The child's foreign-key columns (`columns`) take the parent's key
    /// (its columns at `parent_columns`) once the parent's INSERT made it.
    Key { child: ObjectRef, columns: Vec<usize>, parent: ObjectRef, parent_columns: Vec<usize> },
    /// An association row inserted (`link`) or deleted.
    Association {
        link: bool,
        def: &'static RelationDef,
        owner: ObjectRef,
        target: ObjectRef,
        target_positions: Vec<usize>,
    },
    /// The children of a deleted owner (`cascade = "delete"`) that the
    /// session did not load: the owner's columns `def` joins on were `key`.
    CascadeDelete { def: &'static RelationDef, key: Vec<Value<'static>> },
}

/// A copy of a session object (`target`) that `append`, `link` or
/// `set_parent` put into `owner`'s loaded relationship `def`, with the key
/// the copy has: the next flush replaces the copy with the object as
/// written (a pending object's generated key, a pending parent's key).
pub(super) struct Copied {
    owner: ObjectRef,
    def: &'static RelationDef,
    target: ObjectRef,
    key: Vec<Value<'static>>,
    refresh: fn(&mut Session, &Copied),
}

/// Replaces the copies the relationship changes made since the last flush
/// with their objects as written; after a successful flush.
pub(super) fn refresh_copies(session: &mut Session) {
    for copied in std::mem::take(&mut session.copies) {
        (copied.refresh)(session, &copied);
    }
}

fn handle<M>(object: ObjectRef) -> Handle<M> {
    Handle { index: object.index, generation: object.generation, model: std::marker::PhantomData }
}

fn key_of<M: Model>(object: &M) -> Vec<Value<'static>> {
    object.key().key_values().into_iter().map(Value::into_owned).collect()
}

/// [`Copied::refresh`] in a collection: the first item with the copy's key
/// (pending copies, all with the unset key, are replaced in the order made).
fn refresh_in_many<P, C>(session: &mut Session, copied: &Copied)
where
    P: Model + crate::models::Model + Relations,
    C: Model + crate::models::Model + Relations + Clone,
{
    let Ok(fresh) = session.try_get(handle::<C>(copied.target)).cloned() else { return };
    let items = session.relation_value::<P, Many<C>>(handle(copied.owner), copied.def).and_then(|m| m.loaded_mut());
    if let Some(item) = items.and_then(|items| items.iter_mut().find(|i| key_of(*i) == copied.key)) {
        *item = fresh;
    }
}

/// [`Copied::refresh`] in a to-one relationship.
fn refresh_in_one<P, C>(session: &mut Session, copied: &Copied)
where
    P: Model + crate::models::Model + Relations,
    C: Model + crate::models::Model + Relations + Clone,
{
    let Ok(fresh) = session.try_get(handle::<C>(copied.target)).cloned() else { return };
    if let Some(one) = session.relation_value::<P, One<C>>(handle(copied.owner), copied.def)
        && one.get().ok().flatten().is_some_and(|c| key_of(c) == copied.key)
    {
        *one = One::loaded(Some(fresh));
    }
}

/// A write built from a relationship's columns.
enum Write {
    Insert(ast::Insert<'static>),
    Delete(ast::Delete),
}

impl Statement for Write {
    fn as_ast(&self) -> StatementRef<'_> {
        match self {
            Write::Insert(i) => StatementRef::Insert(i),
            Write::Delete(d) => StatementRef::Delete(d),
        }
    }
}

fn column(table: &'static str, name: &'static str) -> ast::Expr {
    ast::Expr::Column { table: Some(Cow::Borrowed(table)), name: Cow::Borrowed(name) }
}

fn equal(table: &'static str, columns: &[&'static str], values: Vec<Value<'static>>) -> ast::Expr {
    let parts = columns.iter().zip(values).map(|(c, v)| ast::Expr::Binary {
        op: ast::BinaryOp::Eq,
        left: Box::new(column(table, c)),
        right: Box::new(ast::Expr::Bind(v)),
    });
    ast::Expr::And(parts.collect())
}

fn wrong_kind(def: &RelationDef, message: &'static str) -> Error {
    RelationError::WrongKind { relation: def.label(), kind: def.spec.kind.keyword(), message }.into()
}

fn positions(columns: &'static [&'static str], names: &[&'static str]) -> Vec<usize> {
    names.iter().filter_map(|n| columns.iter().position(|c| c == n)).collect()
}

type Models = [(TypeId, Box<dyn AnySlots>)];

fn slots_of(models: &Models, object: ObjectRef) -> Option<&dyn AnySlots> {
    models.iter().find(|(t, _)| *t == object.model).map(|(_, s)| s.as_ref())
}

/// The values at `positions` of `object`, and whether it has its key yet.
fn values_of(models: &Models, object: ObjectRef, positions: &[usize]) -> Result<(Vec<Value<'static>>, bool), Error> {
    match slots_of(models, object) {
        Some(slots) => slots.values_of(object.index, object.generation, positions),
        None => Err(Error::StaleHandle { model: "?", reason: crate::orm::error::Stale::NotInSession }),
    }
}

/// Per recorded change, whether it is done with before the flush copies
/// keys: all but the key changes.
pub(super) fn key_changes_applied(recorded: &[Recorded]) -> Vec<bool> {
    recorded.iter().map(|r| !matches!(r.change, Change::Key { .. })).collect()
}

/// Copies the parents' keys into the children of model `child_model` whose
/// parents have theirs now (after the parents' INSERTs); the ones applied
/// are marked in `applied`.
pub(super) fn apply_keys(
    models: &mut Models,
    recorded: &[Recorded],
    applied: &mut [bool],
    child_model: usize,
) -> Result<(), Error> {
    let model = models[child_model].0;
    for (done, r) in applied.iter_mut().zip(recorded) {
        let Change::Key { child, columns, parent, parent_columns } = &r.change else { continue };
        if *done || child.model != model {
            continue;
        }
        if values_of(models, *child, &[]).is_err() {
            // The child left the session: nothing to write.
            *done = true;
            continue;
        }
        let (values, has_key) = values_of(models, *parent, parent_columns)?;
        if !has_key {
            // The parent's table comes later (a cycle): after all INSERTs.
            continue;
        }
        models[child_model].1.set_values_of(child.index, child.generation, columns, &values)?;
        *done = true;
    }
    Ok(())
}

/// Writes the association rows recorded, in order: consecutive links of
/// one relationship as one multi-row INSERT, unlinks one DELETE each.
pub(super) async fn write_associations(
    conn: &mut Conn<'_>,
    models: &Models,
    recorded: &[Recorded],
) -> Result<(), Error> {
    let mut rows: Vec<Vec<ast::Expr>> = Vec::new();
    let mut linking: Option<&'static RelationDef> = None;
    for r in recorded {
        let Change::Association { link, def, owner, target, target_positions } = &r.change else { continue };
        let (resolved, through) = many_to_many(def)?;
        let (mut values, _) = values_of(models, *owner, &resolved.owner_positions)?;
        let (target_values, _) = values_of(models, *target, target_positions)?;
        if linking.is_some_and(|l| !std::ptr::eq(l, *def) || !link) {
            flush_links(conn, linking.take(), &mut rows).await?;
        }
        if *link {
            values.extend(target_values);
            rows.push(values.into_iter().map(ast::Expr::Bind).collect());
            linking = Some(def);
        } else {
            let filter = ast::Expr::And(vec![
                equal(resolved.link_table, &resolved.link_columns, values),
                equal(resolved.link_table, &through.columns, target_values),
            ]);
            let table = Cow::Borrowed(resolved.link_table);
            let delete = Write::Delete(ast::Delete { table, filter: Some(filter), returning: Vec::new() });
            exec::execute_on(conn, &delete).await?;
        }
    }
    flush_links(conn, linking, &mut rows).await
}

async fn flush_links(
    conn: &mut Conn<'_>,
    def: Option<&'static RelationDef>,
    rows: &mut Vec<Vec<ast::Expr>>,
) -> Result<(), Error> {
    let Some(def) = def else { return Ok(()) };
    let (r, through) = many_to_many(def)?;
    let insert = ast::Insert {
        table: Cow::Borrowed(r.link_table),
        columns: r.link_columns.iter().chain(&through.columns).map(|c| Cow::Borrowed(*c)).collect(),
        source: ast::InsertSource::Values(std::mem::take(rows)),
        on_conflict: None,
        returning: Vec::new(),
    };
    exec::execute_on(conn, &Write::Insert(insert)).await?;
    Ok(())
}

/// Forgets the changes made deeper than `depth` (rolled back).
pub(super) fn forget_deeper(recorded: &mut Vec<Recorded>, depth: u32) {
    recorded.retain(|r| r.depth <= depth);
}

/// Whether a change is waiting that a flush would write.
pub(super) fn pending(recorded: &[Recorded]) -> bool {
    !recorded.is_empty()
}

impl Session {
    fn relation_value<P: Model + crate::models::Model + Relations, V: 'static>(
        &mut self,
        handle: Handle<P>,
        def: &'static RelationDef,
    ) -> Option<&mut V> {
        self.slots_mut::<P>().get_mut_untracked(handle).ok()?.relation_value(def)?.downcast_mut::<V>()
    }

    fn record(&mut self, change: Change) {
        let depth = self.depth().max(1);
        if let Change::Key { child, columns, .. } = &change {
            self.forget_key_change(*child, columns);
        }
        self.relation_changes.push(Recorded { depth, change });
    }

    /// Drops a recorded key change of `child`'s `columns`: a later change overrides it.
    fn forget_key_change(&mut self, object: ObjectRef, of: &[usize]) {
        self.relation_changes
            .retain(|r| !matches!(&r.change, Change::Key { child, columns, .. } if *child == object && columns == of));
    }

    /// Gives `child`'s columns at `columns` the values of `parent`'s at
    /// `parent_columns`: now when the parent has its key, else recorded
    /// for the flush that inserts the parent.
    fn set_key<P, C>(
        &mut self,
        child: Handle<C>,
        columns: &[usize],
        parent: Handle<P>,
        parent_columns: &[usize],
    ) -> Result<(), Error>
    where
        P: Model + crate::models::Model,
        C: Model + crate::models::Model,
    {
        let child_ref = ObjectRef::of(child);
        self.slots_mut::<C>().key_of(child).map_err(super::stale::<C>)?;
        let (values, has_key) = self.slots_mut::<P>().values_of(parent.index, parent.generation, parent_columns)?;
        if has_key {
            self.forget_key_change(child_ref, columns);
            self.slots_mut::<C>().set_values_of(child.index, child.generation, columns, &values)
        } else {
            self.record(Change::Key {
                child: child_ref,
                columns: columns.to_vec(),
                parent: ObjectRef::of(parent),
                parent_columns: parent_columns.to_vec(),
            });
            Ok(())
        }
    }

    /// Links `owner` and `target` through a `many_to_many`'s association
    /// table: the association row is inserted at the next flush (after
    /// both objects' own INSERTs), and `target` joins `owner`'s collection
    /// at once where it is loaded.
    pub fn link<P, C>(&mut self, owner: Handle<P>, relation: Relation<P, C>, target: Handle<C>) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        self.record_association(true, owner, relation, target)?;
        self.copy_into_many(owner, relation.def(), target);
        Ok(())
    }

    /// Unlinks `owner` and `target`: their association row is deleted at the
    /// next flush (before the flush's DELETEs), and `target` leaves
    /// `owner`'s collection at once where it is loaded.
    pub fn unlink<P, C>(&mut self, owner: Handle<P>, relation: Relation<P, C>, target: Handle<C>) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        self.record_association(false, owner, relation, target)?;
        self.forget_in_collection::<P, C>(owner, relation.def(), target)
    }

    fn record_association<P, C>(
        &mut self,
        link: bool,
        owner: Handle<P>,
        relation: Relation<P, C>,
        target: Handle<C>,
    ) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations,
    {
        let def = relation.def();
        let (_, through) = many_to_many(def)?;
        self.try_get(owner)?;
        self.try_get(target)?;
        let target_positions = positions(C::COLUMNS, &through.target_columns);
        let (owner, target) = (ObjectRef::of(owner), ObjectRef::of(target));
        self.record(Change::Association { link, def, owner, target, target_positions });
        Ok(())
    }

    fn forget_in_collection<P, C>(
        &mut self,
        owner: Handle<P>,
        def: &'static RelationDef,
        target: Handle<C>,
    ) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations,
    {
        let key = key_of(self.try_get(target)?);
        let (owner_ref, target_ref) = (ObjectRef::of(owner), ObjectRef::of(target));
        let same = |c: &Copied| c.owner == owner_ref && std::ptr::eq(c.def, def) && c.key == key;
        // Copies of pending objects all have the unset key: the target's
        // is the one made in its turn.
        let turn = self.copies.iter().filter(|c| same(c)).position(|c| c.target == target_ref);
        let others = self.copies.iter().any(|c| same(c) && c.target != target_ref);
        self.copies.retain(|c| !(same(c) && c.target == target_ref));
        if let Some(items) = self.relation_value::<P, Many<C>>(owner, def).and_then(|m| m.loaded_mut()) {
            match turn {
                Some(turn) => {
                    let at = items.iter().enumerate().filter(|(_, c)| key_of(*c) == key).nth(turn).map(|(i, _)| i);
                    if let Some(at) = at {
                        items.remove(at);
                    }
                }
                None if !others => items.retain(|c| key_of(c) != key),
                None => {}
            }
        }
        Ok(())
    }

    /// Puts a copy of `target` into `owner`'s loaded collection `def`, and
    /// records it for the next flush to replace.
    fn copy_into_many<P, C>(&mut self, owner: Handle<P>, def: &'static RelationDef, target: Handle<C>)
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        let Some(copy) = self.try_get(target).ok().cloned() else { return };
        let key = key_of(&copy);
        let Some(items) = self.relation_value::<P, Many<C>>(owner, def).and_then(|m| m.loaded_mut()) else { return };
        items.push(copy);
        let (owner, target) = (ObjectRef::of(owner), ObjectRef::of(target));
        self.copies.push(Copied { owner, def, target, key, refresh: refresh_in_many::<P, C> });
    }

    /// Makes a copy of `target` the value of `owner`'s to-one relationship
    /// `def` (only where it is loaded, with `loaded_only`), recorded for
    /// the next flush to replace.
    fn copy_into_one<P, C>(&mut self, owner: Handle<P>, def: &'static RelationDef, target: Handle<C>, loaded_only: bool)
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        let copy = self.try_get(target).ok().cloned();
        let key = copy.as_ref().map(key_of);
        let Some(one) = self.relation_value::<P, One<C>>(owner, def).filter(|o| !loaded_only || o.is_loaded()) else {
            return;
        };
        *one = One::loaded(copy);
        if let Some(key) = key {
            let (owner, target) = (ObjectRef::of(owner), ObjectRef::of(target));
            self.copies.push(Copied { owner, def, target, key, refresh: refresh_in_one::<P, C> });
        }
    }

    /// Makes `child` one of `owner`'s through a `has_many` or `has_one`: the
    /// child's foreign key takes the owner's key (written by the child's
    /// INSERT or UPDATE at the next flush; a pending owner's generated key
    /// once its INSERT made it), and the child joins the owner's loaded
    /// collection at once.
    pub fn append<P, C>(&mut self, owner: Handle<P>, relation: Relation<P, C>, child: Handle<C>) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        let def = relation.def();
        if !matches!(def.spec.kind, RelationKind::HasMany | RelationKind::HasOne) {
            return Err(wrong_kind(def, "append is for has_many and has_one; use link, or set_parent"));
        }
        let r = def.resolved()?;
        self.set_key(child, &r.link_positions, owner, &r.owner_positions)?;
        match def.spec.kind {
            RelationKind::HasOne => self.copy_into_one(owner, def, child, true),
            _ => self.copy_into_many(owner, def, child),
        }
        Ok(())
    }

    /// Takes `child` away from `owner` through a `has_many`: the child's
    /// foreign key becomes `NULL` (written at the next flush), and it
    /// leaves the owner's loaded collection. With `cascade =
    /// "delete-orphan"` the child is deleted instead. A `NOT NULL` key
    /// refuses it at once (`RelationError::NotNullForeignKey`): delete the
    /// child, give it another parent, or declare `delete-orphan`.
    pub fn remove<P, C>(&mut self, owner: Handle<P>, relation: Relation<P, C>, child: Handle<C>) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations,
    {
        let def = relation.def();
        if def.spec.kind != RelationKind::HasMany {
            return Err(wrong_kind(def, "remove is for has_many; use unlink for many_to_many"));
        }
        let r = def.resolved()?;
        if def.spec.cascade.delete_orphan {
            self.forget_in_collection::<P, C>(owner, def, child)?;
            return self.delete(child);
        }
        let nulls = vec![Value::Null; r.link_positions.len()];
        let child_ref = ObjectRef::of(child);
        let set = self.slots_mut::<C>().set_values(child, &r.link_positions, &nulls).map_err(super::stale::<C>)?;
        if !set {
            return Err(super::cascade::not_null(def));
        }
        self.forget_key_change(child_ref, &r.link_positions);
        self.forget_in_collection::<P, C>(owner, def, child)
    }

    /// Gives `child` the parent `parent` through a `belongs_to`: the child's
    /// foreign key takes the parent's key (written at the next flush, a
    /// pending parent's generated key once its INSERT made it), and its
    /// `belongs_to` is loaded with the parent at once.
    pub fn set_parent<P, C>(
        &mut self,
        child: Handle<P>,
        relation: Relation<P, C>,
        parent: Handle<C>,
    ) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        let def = relation.def();
        if def.spec.kind != RelationKind::BelongsTo {
            return Err(wrong_kind(def, "set_parent is for belongs_to; use append for has_many and has_one"));
        }
        let r = def.resolved()?;
        self.set_key(child, &r.owner_positions, parent, &r.link_positions)?;
        self.copy_into_one(child, def, parent, false);
        Ok(())
    }
}

fn many_to_many(
    def: &'static RelationDef,
) -> Result<(&'static Resolved, &'static crate::orm::relation::Through), Error> {
    let r = def.resolved()?;
    match &r.through {
        Some(through) => Ok((r, through)),
        None => Err(wrong_kind(def, "link and unlink are for many_to_many; use append or set_parent")),
    }
}
