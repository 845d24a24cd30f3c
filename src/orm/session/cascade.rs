//! Cascades when an object is deleted, per `has_many`/`has_one` of its
//! model (`cascade = "delete"`, SQLAlchemy's names and defaults):
//!
//! - with `delete`, its children in the session are marked deleted (and
//!   theirs, recursively), and at the flush, before its own `DELETE`, one
//!   `DELETE ... WHERE EXISTS` per relationship level removes the children
//!   the session never loaded, deepest first;
//! - without it, its children in the session get a `NULL` foreign key
//!   (a `NOT NULL` one is a typed error naming both models); children not
//!   loaded are left to the foreign key's `ON DELETE`.
//!
//! A self-referential relationship (categories of categories) cascades to
//! the children in the session only: its statement would delete from the
//! table it reads, which MySQL refuses.

use super::Session;
use super::changes::{Change, Recorded};
use super::slots::AnySlots;
use crate::dialect::query::{self as ast, StatementRef, Value};
use crate::orm::error::Error;
use crate::orm::exec::{self, BoxFuture, Conn};
use crate::orm::query::Statement;
use crate::orm::relation::{ModelInfo, RelationDef, RelationError, RelationKind};
use std::borrow::Cow;

/// How deep loaded children are followed (rows that refer to each other in
/// a loop stop here).
const MAX_DEPTH: usize = 64;

struct Delete(ast::Delete);

impl Statement for Delete {
    fn as_ast(&self) -> StatementRef<'_> {
        StatementRef::Delete(&self.0)
    }
}

/// The owner's children relationships: `has_many` and `has_one`.
fn child_relations(info: &'static ModelInfo) -> impl Iterator<Item = &'static RelationDef> {
    info.relations
        .iter()
        .map(|def| def())
        .filter(|def| matches!(def.spec.kind, RelationKind::HasMany | RelationKind::HasOne))
}

/// Whether the model has relationships a delete cascades along.
pub(super) fn has_children(info: &'static ModelInfo) -> bool {
    child_relations(info).next().is_some()
}

fn picked(values: &[Value<'static>], positions: &[usize]) -> Vec<Value<'static>> {
    positions.iter().filter_map(|&at| values.get(at).cloned()).collect()
}

impl Session {
    /// Applies the cascades of deleting the object of `info` whose column
    /// values are `values`: its loaded children deleted or given a `NULL`
    /// key; with `delete`, the unloaded ones recorded for the flush.
    pub(super) fn cascade_delete(
        &mut self,
        info: &'static ModelInfo,
        values: &[Value<'static>],
        depth: usize,
    ) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        for def in child_relations(info) {
            let r = def.resolved()?;
            let key = picked(values, &r.owner_positions);
            if key.iter().any(|v| matches!(v, Value::Null)) {
                continue;
            }
            let children = match self.models.iter().position(|(_, s)| s.table() == def.spec.target.table) {
                Some(i) => self.models[i].1.find_children(&r.link_positions, &key),
                None => Vec::new(),
            };
            for (index, generation) in children {
                let slot = self.slot_of_table(def.spec.target.table);
                if def.spec.cascade.delete {
                    let all: Vec<usize> = (0..def.spec.target.columns.len()).collect();
                    let (child_values, _) = self.models[slot].1.values_of(index, generation, &all)?;
                    self.cascade_delete(def.spec.target, &child_values, depth + 1)?;
                    let slot = self.slot_of_table(def.spec.target.table);
                    self.models[slot].1.delete_at(index, generation)?;
                } else {
                    let nulls = vec![Value::Null; r.link_positions.len()];
                    let set = self.models[slot].1.set_values_of(index, generation, &r.link_positions, &nulls);
                    if let Err(Error::Relation(RelationError::KeyDoesNotFit { .. })) = set {
                        return Err(not_null(def));
                    }
                    set?;
                }
            }
            if def.spec.cascade.delete && def.spec.target.table != info.table {
                let depth_now = self.depth().max(1);
                self.relation_changes.push(Recorded { depth: depth_now, change: Change::CascadeDelete { def, key } });
            }
        }
        Ok(())
    }

    fn slot_of_table(&self, table: &str) -> usize {
        self.models.iter().position(|(_, s)| s.table() == table).expect("the children's model is in the session")
    }
}

/// A child cannot lose its parent: its foreign key is `NOT NULL`.
pub(super) fn not_null(def: &'static RelationDef) -> Error {
    let columns = def.resolved().map(|r| r.link_columns.clone()).unwrap_or_default();
    RelationError::NotNullForeignKey {
        relation: def.label(),
        child: def.spec.target.name,
        parent: def.spec.owner.name,
        columns,
    }
    .into()
}

fn column(table: &'static str, name: &'static str) -> ast::Expr {
    ast::Expr::Column { table: Some(Cow::Borrowed(table)), name: Cow::Borrowed(name) }
}

fn and_equal(pairs: impl Iterator<Item = (ast::Expr, ast::Expr)>) -> ast::Expr {
    let parts = pairs.map(|(l, r)| ast::Expr::Binary { op: ast::BinaryOp::Eq, left: Box::new(l), right: Box::new(r) });
    ast::Expr::And(parts.collect())
}

/// Deletes the rows of `def`'s target that `filter` selects and, first, the
/// rows cascading from them (deepest first), skipping tables on `chain`.
/// (Boxed: it recurses.)
fn delete_cascading<'a>(
    conn: &'a mut Conn<'_>,
    def: &'static RelationDef,
    filter: ast::Expr,
    chain: &'a mut Vec<&'static str>,
) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(delete_level(conn, def, filter, chain))
}

async fn delete_level(
    conn: &mut Conn<'_>,
    def: &'static RelationDef,
    filter: ast::Expr,
    chain: &mut Vec<&'static str>,
) -> Result<(), Error> {
    let target = def.spec.target;
    chain.push(target.table);
    let below_here: Vec<&'static RelationDef> =
        child_relations(target).filter(|d| d.spec.cascade.delete && !chain.contains(&d.spec.target.table)).collect();
    for below in below_here {
        let r = below.resolved()?;
        // Rows of the level below whose parent is one of the rows selected here.
        let joins = r.owner_columns.iter().zip(&r.link_columns);
        let on = and_equal(joins.map(|(o, l)| (column(target.table, o), column(below.spec.target.table, l))));
        let parents = ast::Select {
            columns: vec![ast::SelectItem { expr: ast::Expr::Sql(Cow::Borrowed("1")), alias: None }],
            from: vec![ast::Source::Table { name: Cow::Borrowed(target.table), alias: None }],
            filter: Some(ast::Expr::And(vec![on, filter.clone()])),
            ..ast::Select::default()
        };
        let exists = ast::Expr::Exists { select: Box::new(parents), negated: false };
        delete_cascading(conn, below, exists, chain).await?;
    }
    chain.pop();
    let delete = ast::Delete { table: Cow::Borrowed(target.table), filter: Some(filter), returning: Vec::new() };
    exec::execute_on(conn, &Delete(delete)).await?;
    Ok(())
}

/// Runs the recorded cascades whose owner is `owner` (its model's rows are
/// deleted next): each relationship's unloaded children, deepest first.
pub(super) async fn write_cascades(
    conn: &mut Conn<'_>,
    owner: &dyn AnySlots,
    recorded: &[Recorded],
) -> Result<(), Error> {
    for r in recorded {
        let Change::CascadeDelete { def, key } = &r.change else { continue };
        if def.spec.owner.table != owner.table() {
            continue;
        }
        let resolved = def.resolved()?;
        let table = def.spec.target.table;
        let filter = and_equal(
            resolved.link_columns.iter().zip(key).map(|(c, v)| (column(table, c), ast::Expr::Bind(v.clone()))),
        );
        delete_cascading(conn, def, filter, &mut vec![def.spec.owner.table]).await?;
    }
    Ok(())
}
