//! Joins and filters through relationships: the `ON` condition from the
//! foreign key, `EXISTS` subqueries for `any`/`has`.

use super::loading::equal_columns;
use super::{Relation, RelationDef, RelationError};
use crate::dialect::query as ast;
use crate::orm::expr::Expr;
use std::borrow::Cow;

/// A relationship that cannot resolve becomes an expression that refuses
/// to render, naming it: builders do not fail, statements do.
fn invalid(error: RelationError) -> ast::Expr {
    ast::Expr::Invalid(error.to_string())
}

/// The name the target goes by in a statement: its alias for a self-reference.
fn target_name(def: &'static RelationDef) -> Result<(&'static str, Option<&'static str>), RelationError> {
    let r = def.resolved()?;
    let table = def.spec.target.table;
    Ok((r.target_alias.unwrap_or(table), r.target_alias))
}

/// The joins `.join_related(rel)` adds: the target (or the association
/// table, then the target), `ON` the foreign key.
pub(crate) fn joins(def: &'static RelationDef, kind: ast::JoinKind) -> Vec<ast::Join> {
    let build = || -> Result<Vec<ast::Join>, RelationError> {
        let r = def.resolved()?;
        let owner = def.spec.owner.table;
        let (target, alias) = target_name(def)?;
        let source = ast::Source::Table { name: Cow::Borrowed(def.spec.target.table), alias: alias.map(Cow::Borrowed) };
        Ok(match &r.through {
            None => {
                vec![ast::Join { kind, source, on: equal_columns(owner, &r.owner_columns, target, &r.link_columns) }]
            }
            Some(through) => vec![
                ast::Join {
                    kind,
                    source: ast::Source::Table { name: Cow::Borrowed(r.link_table), alias: None },
                    on: equal_columns(owner, &r.owner_columns, r.link_table, &r.link_columns),
                },
                ast::Join {
                    kind,
                    source,
                    on: equal_columns(r.link_table, &through.columns, target, &through.target_columns),
                },
            ],
        })
    };
    build().unwrap_or_else(|e| {
        let source = ast::Source::Table { name: Cow::Borrowed(def.spec.target.table), alias: None };
        vec![ast::Join { kind, source, on: invalid(e) }]
    })
}

impl<P, C> Relation<P, C> {
    /// The join condition from the foreign key (owner to target; for a
    /// `many_to_many`, owner to the association table): for
    /// `.join(Post::TABLE, User::POSTS.on().and(..))` with more conditions.
    pub fn on(&self) -> Expr<bool> {
        let def = self.def();
        let node = match (def.resolved(), target_name(def)) {
            (Ok(r), Ok((target, _))) => {
                let link = if r.through.is_some() { r.link_table } else { target };
                equal_columns(def.spec.owner.table, &r.owner_columns, link, &r.link_columns)
            }
            (Err(e), _) | (_, Err(e)) => invalid(e),
        };
        Expr::from_node(node)
    }

    /// `EXISTS` a related row for which `condition` holds (a correlated
    /// subquery; on a self-reference the related table is aliased by the
    /// relationship's name: `Node::NAME.of("children")`).
    pub fn any(&self, condition: Expr<bool>) -> Expr<bool> {
        Expr::from_node(exists(self.def(), Some(condition.into_node())))
    }

    /// The same as [`Relation::any`], read better on a to-one relationship:
    /// `Post::AUTHOR.has(User::NAME.eq("Ann"))`.
    pub fn has(&self, condition: Expr<bool>) -> Expr<bool> {
        self.any(condition)
    }

    /// `EXISTS` a related row.
    pub fn exists(&self) -> Expr<bool> {
        Expr::from_node(exists(self.def(), None))
    }
}

fn exists(def: &'static RelationDef, condition: Option<ast::Expr>) -> ast::Expr {
    let build = || -> Result<ast::Expr, RelationError> {
        let r = def.resolved()?;
        let owner = def.spec.owner.table;
        let (target, alias) = target_name(def)?;
        let source = ast::Source::Table { name: Cow::Borrowed(def.spec.target.table), alias: alias.map(Cow::Borrowed) };
        let mut select = ast::Select::default();
        let mut filter = match &r.through {
            None => {
                select.from.push(source);
                vec![equal_columns(target, &r.link_columns, owner, &r.owner_columns)]
            }
            Some(through) => {
                select.from.push(ast::Source::Table { name: Cow::Borrowed(r.link_table), alias: None });
                select.joins.push(ast::Join {
                    kind: ast::JoinKind::Inner,
                    source,
                    on: equal_columns(r.link_table, &through.columns, target, &through.target_columns),
                });
                vec![equal_columns(r.link_table, &r.link_columns, owner, &r.owner_columns)]
            }
        };
        filter.extend(condition);
        select.filter = Some(ast::Expr::And(filter));
        Ok(ast::Expr::Exists { select: Box::new(select), negated: false })
    };
    build().unwrap_or_else(invalid)
}
