//! Relationship changes in a session: linking and unlinking many-to-many
//! rows, giving a child a parent (`append`, `set_parent`) and taking it
//! away (`remove`). Each is written at once, in the session's transaction,
//! after a flush (so that new objects have their keys), and the
//! relationships loaded in the session follow.

use super::{Handle, Session};
use crate::dialect::query::{self as ast, StatementRef, Value};
use crate::orm::error::Error;
use crate::orm::exec;
use crate::orm::model::Model;
use crate::orm::query::Statement;
use crate::orm::relation::{Many, One, Relation, RelationDef, RelationError, RelationKind, Relations, Resolved};
use crate::orm::value::KeyValue;
use std::borrow::Cow;

/// A write built from a relationship's columns.
enum Write {
    Insert(ast::Insert),
    Update(ast::Update),
    Delete(ast::Delete),
}

impl Statement for Write {
    fn as_ast(&self) -> StatementRef<'_> {
        match self {
            Write::Insert(i) => StatementRef::Insert(i),
            Write::Update(u) => StatementRef::Update(u),
            Write::Delete(d) => StatementRef::Delete(d),
        }
    }
}

fn column(table: &'static str, name: &'static str) -> ast::Expr {
    ast::Expr::Column { table: Some(Cow::Borrowed(table)), name: Cow::Borrowed(name) }
}

fn equal(table: &'static str, columns: &[&'static str], values: &[Value<'static>]) -> ast::Expr {
    let parts = columns.iter().zip(values).map(|(c, v)| ast::Expr::Binary {
        op: ast::BinaryOp::Eq,
        left: Box::new(column(table, c)),
        right: Box::new(ast::Expr::Bind(v.clone())),
    });
    ast::Expr::And(parts.collect())
}

fn wrong_kind(def: &RelationDef, message: &'static str) -> Error {
    RelationError::WrongKind { relation: def.label(), kind: def.spec.kind.keyword(), message }.into()
}

fn positions(columns: &'static [&'static str], names: &[&'static str]) -> Vec<usize> {
    names.iter().filter_map(|n| columns.iter().position(|c| c == n)).collect()
}

impl Session {
    fn values_at<M: Model + crate::models::Model>(
        &self,
        handle: Handle<M>,
        positions: &[usize],
    ) -> Result<Vec<Value<'static>>, Error> {
        let object = self.try_get(handle)?;
        let values = object.values();
        Ok(positions.iter().filter_map(|&i| values.get(i)).map(|v| v.clone().into_owned()).collect())
    }

    fn key_of<M: Model + crate::models::Model>(&self, handle: Handle<M>) -> Result<Vec<Value<'static>>, Error> {
        let object = self.try_get(handle)?;
        Ok(object.key().key_values().into_iter().map(Value::into_owned).collect())
    }

    fn relation_value<P: Model + crate::models::Model + Relations, V: 'static>(
        &mut self,
        handle: Handle<P>,
        def: &'static RelationDef,
    ) -> Option<&mut V> {
        self.slots_mut::<P>().get_mut_untracked(handle).ok()?.relation_value(def)?.downcast_mut::<V>()
    }

    fn write(&mut self, statement: Write) -> Result<usize, Error> {
        self.with_conn(|conn| exec::execute(conn, &statement))
    }

    /// `UPDATE child SET columns = values WHERE key`, then the child read again.
    fn set_columns<C: Model + crate::models::Model>(
        &mut self,
        child: Handle<C>,
        columns: &[&'static str],
        values: Vec<ast::Expr>,
    ) -> Result<(), Error> {
        let key = self.key_of(child)?;
        let update = ast::Update {
            table: Cow::Borrowed(C::TABLE_NAME),
            set: columns.iter().map(|c| Cow::Borrowed(*c)).zip(values).collect(),
            filter: Some(equal(C::TABLE_NAME, C::KEY, &key)),
            returning: Vec::new(),
        };
        self.write(Write::Update(update))?;
        self.refresh(child)
    }

    /// Links `owner` and `target` through a `many_to_many`'s association
    /// table: inserts the association row, and adds `target` to `owner`'s
    /// collection where it is loaded.
    pub fn link<P, C>(&mut self, owner: Handle<P>, relation: Relation<P, C>, target: Handle<C>) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        let def = relation.def();
        let (r, through) = many_to_many(def)?;
        self.autoflush()?;
        let mut values = self.values_at(owner, &r.owner_positions)?;
        values.extend(self.values_at(target, &positions(C::COLUMNS, &through.target_columns))?);
        let insert = ast::Insert {
            table: Cow::Borrowed(r.link_table),
            columns: r.link_columns.iter().chain(&through.columns).map(|c| Cow::Borrowed(*c)).collect(),
            source: ast::InsertSource::Values(vec![values.into_iter().map(ast::Expr::Bind).collect()]),
            on_conflict: None,
            returning: Vec::new(),
        };
        self.write(Write::Insert(insert))?;
        let copy = self.try_get(target).ok().cloned();
        if let (Some(copy), Some(items)) =
            (copy, self.relation_value::<P, Many<C>>(owner, def).and_then(|m| m.loaded_mut()))
        {
            items.push(copy);
        }
        Ok(())
    }

    /// Unlinks `owner` and `target`: deletes their association row, and takes
    /// `target` out of `owner`'s collection where it is loaded.
    pub fn unlink<P, C>(&mut self, owner: Handle<P>, relation: Relation<P, C>, target: Handle<C>) -> Result<(), Error>
    where
        P: Model + crate::models::Model + Relations,
        C: Model + crate::models::Model + Relations + Clone,
    {
        let def = relation.def();
        let (r, through) = many_to_many(def)?;
        self.autoflush()?;
        let owner_values = self.values_at(owner, &r.owner_positions)?;
        let target_values = self.values_at(target, &positions(C::COLUMNS, &through.target_columns))?;
        let filter = ast::Expr::And(vec![
            equal(r.link_table, &r.link_columns, &owner_values),
            equal(r.link_table, &through.columns, &target_values),
        ]);
        let delete = ast::Delete { table: Cow::Borrowed(r.link_table), filter: Some(filter), returning: Vec::new() };
        self.write(Write::Delete(delete))?;
        self.forget_in_collection::<P, C>(owner, def, target)
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
        let key = self.key_of(target)?;
        if let Some(items) = self.relation_value::<P, Many<C>>(owner, def).and_then(|m| m.loaded_mut()) {
            items.retain(|c| c.key().key_values() != key);
        }
        Ok(())
    }

    /// Makes `child` one of `owner`'s through a `has_many` or `has_one`: sets
    /// the child's foreign key to the owner's key (and reads the child
    /// again), and adds it to the owner's collection where it is loaded.
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
        self.autoflush()?;
        let values = self.values_at(owner, &r.owner_positions)?;
        self.set_columns(child, &r.link_columns, values.into_iter().map(ast::Expr::Bind).collect())?;
        let copy = self.try_get(child).ok().cloned();
        let Some(copy) = copy else { return Ok(()) };
        match def.spec.kind {
            RelationKind::HasOne => {
                if let Some(one) = self.relation_value::<P, One<C>>(owner, def).filter(|o| o.is_loaded()) {
                    *one = One::loaded(Some(copy));
                }
            }
            _ => {
                if let Some(items) = self.relation_value::<P, Many<C>>(owner, def).and_then(|m| m.loaded_mut()) {
                    items.push(copy);
                }
            }
        }
        Ok(())
    }

    /// Takes `child` away from `owner` through a `has_many`: sets the child's
    /// foreign key to `NULL` (a `NOT NULL` key refuses it:
    /// `Error::NotNullViolation`; delete the child instead), and takes it
    /// out of the owner's collection where it is loaded.
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
        self.autoflush()?;
        let nulls = r.link_columns.iter().map(|_| ast::Expr::Bind(Value::Null)).collect();
        self.set_columns(child, &r.link_columns, nulls)?;
        self.forget_in_collection::<P, C>(owner, def, child)
    }

    /// Gives `child` the parent `parent` through a `belongs_to`: sets the
    /// child's foreign key to the parent's key (and reads the child again,
    /// its `belongs_to` loaded with the parent).
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
        self.autoflush()?;
        let values = self.values_at(parent, &r.link_positions)?;
        self.set_columns(child, &r.owner_columns, values.into_iter().map(ast::Expr::Bind).collect())?;
        let copy = self.try_get(parent).ok().cloned();
        if let Some(one) = self.relation_value::<P, One<C>>(child, def) {
            *one = One::loaded(copy);
        }
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
