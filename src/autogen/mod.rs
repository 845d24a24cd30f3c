//! Compares the database's schema with the declared models into ops, in an
//! order that applies, with the exact inverse for the downgrade.
//!
//! Both sides are first put in the form the backend would give them (types
//! with synonyms resolved, defaults fitted to their column, MySQL unique
//! indexes as unique constraints, ...), so that nothing differs that would
//! read back the same. Constraints are matched by what they do (columns,
//! expression), not by name; indexes by name.

mod lint;
mod normalize;
#[cfg(test)]
mod tests;
mod validate;

pub use lint::{Finding, Level, lint};
pub use normalize::{canonical_number, canonical_sql, normalize_sql};
pub use validate::{InvalidOp, Validator};

use crate::dialect::Dialect;
use crate::models::Models;
use crate::ops::{AlterColumn, Op};
use crate::schema::{Column, EnumType, ForeignKey, Index, Schema, Table};
use normalize::{canonical_table, same_default, same_type};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A drop and an add that may be one rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenameCandidate {
    /// The table (for a column), or `None` for a table rename.
    pub table: Option<String>,
    /// The name in the database.
    pub from: String,
    /// The name in the models.
    pub to: String,
}

impl std::fmt::Display for RenameCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.table {
            Some(table) => write!(f, "{table}.{} to {table}.{}", self.from, self.to),
            None => write!(f, "table {} to {}", self.from, self.to),
        }
    }
}

/// What a comparison found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// Ops that make the database match the models, in an order that applies.
    pub upgrade: Vec<Op>,
    /// Their inverse, in the order that applies.
    pub downgrade: Vec<Op>,
    /// Drops and adds emitted as such that may have been renames.
    pub possible_renames: Vec<RenameCandidate>,
    /// What the ops cannot express (to write by hand).
    pub warnings: Vec<String>,
    /// What the backend keeps of the models only in part (MariaDB: a
    /// partial index without its `where`): warned about, not drift.
    pub lossy: Vec<String>,
}

impl Diff {
    /// Whether the database matches the models.
    pub fn is_empty(&self) -> bool {
        self.upgrade.is_empty() && self.warnings.is_empty()
    }
}

/// Ops grouped by when they must run.
#[derive(Default)]
struct Phases {
    enums_first: Vec<Op>,
    drop_foreign_keys: Vec<Op>,
    drop_constraints: Vec<Op>,
    rename_tables: Vec<Op>,
    create_tables: Vec<Op>,
    alter_tables: Vec<Op>,
    add_constraints: Vec<Op>,
    add_foreign_keys: Vec<Op>,
    drop_tables: Vec<Op>,
    enums_last: Vec<Op>,
}

/// `schema` in the form `dialect` reads it back, as [`compare`] compares it:
/// expressions and defaults in their canonical text.
pub fn canonical_schema(dialect: &dyn Dialect, schema: &Schema) -> Schema {
    normalize::compared_schema(dialect, schema)
}

/// Compares `database` (as reflected) with `models`. `confirm_rename` is
/// asked about each drop-plus-add of the same shape that the models did not
/// mark with `renamed_from`: `true` makes it a rename.
pub fn compare(
    database: &Schema,
    models: &Models,
    dialect: &dyn Dialect,
    confirm_rename: &mut dyn FnMut(&RenameCandidate) -> bool,
) -> Diff {
    let db_tables: BTreeMap<&str, Table> =
        database.tables.iter().map(|t| (t.name.as_str(), canonical_table(dialect, t))).collect();
    let model_tables: BTreeMap<&str, Table> =
        models.schema.tables.iter().map(|t| (t.name.as_str(), canonical_table(dialect, t))).collect();
    let mut diff = Diff::default();
    let mut phases = Phases::default();

    // Which database table each model table is.
    let mut pairs: Vec<(&Table, &Table)> = Vec::new();
    let mut matched_db: BTreeSet<&str> = BTreeSet::new();
    let mut new_tables: Vec<&Table> = Vec::new();
    for (name, model) in &model_tables {
        let hinted = models.renamed_tables.get(*name).map(String::as_str).filter(|old| !model_tables.contains_key(old));
        match (db_tables.get(name), hinted.and_then(|old| db_tables.get(old))) {
            (Some(db), _) => {
                matched_db.insert(name);
                pairs.push((db, model));
            }
            (None, Some(db)) => {
                matched_db.insert(&db.name);
                phases.rename_tables.push(Op::RenameTable { from: db.name.clone(), to: model.name.clone() });
                pairs.push((db, model));
            }
            (None, None) => new_tables.push(model),
        }
    }
    let mut dropped: Vec<&Table> = db_tables.values().filter(|t| !matched_db.contains(t.name.as_str())).collect();
    // A dropped and a new table with the same columns may be a rename.
    new_tables.retain(|model| {
        let shape = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let Some(at) = dropped.iter().position(|db| shape(db) == shape(model)) else { return true };
        let candidate = RenameCandidate { table: None, from: dropped[at].name.clone(), to: model.name.clone() };
        if confirm_rename(&candidate) {
            phases.rename_tables.push(Op::RenameTable { from: candidate.from.clone(), to: candidate.to.clone() });
            pairs.push((dropped.remove(at), model));
            false
        } else {
            diff.possible_renames.push(candidate);
            true
        }
    });

    // Every backend points foreign keys at a table's new name when it is renamed.
    let renamed: BTreeMap<String, String> = phases
        .rename_tables
        .iter()
        .filter_map(|op| match op {
            Op::RenameTable { from, to } => Some((from.clone(), to.clone())),
            _ => None,
        })
        .collect();
    let partial = |i: &&Index| i.unique && i.predicate.is_some() && !dialect.partial_indexes();
    for model in &models.schema.tables {
        let lossy = model.indexes.iter().filter(|i| !i.unique && i.predicate.is_some() && !dialect.partial_indexes());
        for index in lossy {
            diff.lossy.push(format!(
                "{}.{}: {} has no partial indexes: the index is made without its `where` (on every row)",
                model.name,
                index.name,
                dialect.name()
            ));
        }
        for index in model.indexes.iter().filter(partial) {
            diff.warnings.push(format!(
                "{}.{}: {} has no partial indexes, and without its `where` this unique index would refuse rows \
                 the models allow: declare it without `where`, or leave it out of the models for this backend",
                model.name,
                index.name,
                dialect.name()
            ));
        }
    }
    for (db, model) in &pairs {
        let compared = Compared { models, dialect, renamed: &renamed };
        compare_table(db, model, &compared, confirm_rename, &mut phases, &mut diff);
    }
    create_tables(&new_tables, &mut phases);
    drop_tables(&dropped, &mut phases);
    if dialect.named_enums() {
        compare_enums(&database.enums, &models.schema.enums, &mut phases);
    }

    let Phases {
        enums_first,
        drop_foreign_keys,
        drop_constraints,
        rename_tables,
        create_tables,
        alter_tables,
        add_constraints,
        add_foreign_keys,
        drop_tables,
        enums_last,
    } = phases;
    diff.upgrade = [
        enums_first,
        drop_foreign_keys,
        drop_constraints,
        rename_tables,
        create_tables,
        alter_tables,
        add_constraints,
        add_foreign_keys,
        drop_tables,
        enums_last,
    ]
    .concat();
    for op in &mut diff.upgrade {
        declare_types(op, &models.schema);
    }
    diff.downgrade = diff.upgrade.iter().rev().filter_map(Op::inverse).collect();
    diff
}

/// Puts the models' declared types back into the ops, which were compared in
/// the backend's canonical form: a revision generated against one backend
/// then creates the declared types on another (SQLite reads a `bigint`
/// autoincrement key back as `integer`, MySQL a `uuid` as `char(36)`).
fn declare_types(op: &mut Op, models: &Schema) {
    let declared = |table: &str, column: &str| models.table(table)?.column(column).map(|c| c.ty.clone());
    let redeclare = |table: &str, column: &mut Column| {
        if let Some(ty) = declared(table, &column.name) {
            column.ty = ty;
        }
    };
    match op {
        Op::CreateTable(table) => {
            for column in &mut table.columns {
                redeclare(&table.name, column);
            }
        }
        Op::AddColumn { table, column } => redeclare(table, column),
        Op::AlterColumn(alter) if alter.ty.is_some() => {
            let name = alter.rename.as_deref().unwrap_or(&alter.column);
            alter.ty = declared(&alter.table, name).or(alter.ty.take());
        }
        _ => {}
    }
}

/// What a table comparison needs to know besides the two tables.
struct Compared<'a> {
    models: &'a Models,
    dialect: &'a dyn Dialect,
    /// Old table name -> new, for the tables renamed.
    renamed: &'a BTreeMap<String, String>,
}

fn compare_table(
    db: &Table,
    model: &Table,
    compared: &Compared<'_>,
    confirm_rename: &mut dyn FnMut(&RenameCandidate) -> bool,
    phases: &mut Phases,
    diff: &mut Diff,
) {
    let Compared { models, dialect, renamed } = *compared;
    let table = model.name.clone();
    // Drops run before tables are renamed: under the name the table has then.
    let old_table = db.name.clone();
    // Columns: which database column each model column is.
    let mut matched: Vec<(&Column, &Column)> = Vec::new();
    let mut added: Vec<&Column> = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for column in &model.columns {
        let hint = models.renamed_columns.get(&(table.clone(), column.name.clone()));
        let old = db.column(&column.name).or_else(|| hint.and_then(|h| db.column(h)));
        match old {
            Some(old) => {
                seen.insert(&old.name);
                matched.push((old, column));
            }
            None => added.push(column),
        }
    }
    let mut removed: Vec<&Column> = db.columns.iter().filter(|c| !seen.contains(c.name.as_str())).collect();
    added.retain(|column| {
        let Some(at) = removed.iter().position(|old| same_type(dialect, &old.ty, &column.ty)) else { return true };
        let candidate =
            RenameCandidate { table: Some(table.clone()), from: removed[at].name.clone(), to: column.name.clone() };
        if confirm_rename(&candidate) {
            matched.push((removed.remove(at), column));
            false
        } else {
            diff.possible_renames.push(candidate);
            true
        }
    });

    // Primary key: dropped before the columns change, added after.
    let pk_changed = match (&db.primary_key, &model.primary_key) {
        (Some(a), Some(b)) => a.columns != b.columns || (a.name.is_some() && b.name.is_some() && a.name != b.name),
        (None, None) => false,
        _ => true,
    };
    if pk_changed && let Some(pk) = &db.primary_key {
        phases.alter_tables.push(Op::DropPrimaryKey { table: table.clone(), primary_key: pk.clone() });
    }
    for (old, new) in &matched {
        if let Some(alter) = alter_column(dialect, &table, old, new) {
            phases.alter_tables.push(Op::AlterColumn(alter));
        }
        if old.autoincrement != new.autoincrement {
            diff.warnings.push(format!(
                "{table}.{}: autoincrement {} in the models but not in the database; migrate does not change \
                 autoincrement: write that revision by hand",
                new.name,
                if new.autoincrement { "on" } else { "off" }
            ));
        }
    }
    for column in added {
        phases.alter_tables.push(Op::AddColumn { table: table.clone(), column: column.clone() });
    }
    for column in removed {
        phases.alter_tables.push(Op::DropColumn { table: table.clone(), column: column.clone() });
    }
    if pk_changed && let Some(pk) = &model.primary_key {
        phases.alter_tables.push(Op::AddPrimaryKey { table: table.clone(), primary_key: pk.clone() });
    }

    // Indexes, by name.
    for index in &db.indexes {
        match model.indexes.iter().find(|i| i.name == index.name) {
            Some(new) if normalize::same_index(dialect, index, new) => {}
            _ => phases.drop_constraints.push(Op::DropIndex { table: old_table.clone(), index: index.clone() }),
        }
    }
    for index in &model.indexes {
        match db.indexes.iter().find(|i| i.name == index.name) {
            Some(old) if normalize::same_index(dialect, old, index) => {}
            _ => phases.add_constraints.push(Op::CreateIndex { table: table.clone(), index: index.clone() }),
        }
    }
    // Unique constraints, by columns.
    for unique in &db.unique_constraints {
        if !model.unique_constraints.iter().any(|u| u.columns == unique.columns) {
            phases.drop_constraints.push(Op::DropUnique { table: old_table.clone(), constraint: unique.clone() });
        }
    }
    for unique in &model.unique_constraints {
        if !db.unique_constraints.iter().any(|u| u.columns == unique.columns) {
            phases.add_constraints.push(Op::AddUnique { table: table.clone(), constraint: unique.clone() });
        }
    }
    // Foreign keys, by columns and what they refer to (after renames); actions compared.
    let same_fk = |in_db: &ForeignKey, in_model: &ForeignKey| {
        let referred = renamed.get(&in_db.referred_table).unwrap_or(&in_db.referred_table);
        in_db.columns == in_model.columns
            && *referred == in_model.referred_table
            && in_db.referred_columns == in_model.referred_columns
    };
    for fk in &db.foreign_keys {
        match model.foreign_keys.iter().find(|f| same_fk(fk, f)) {
            Some(new) if new.on_delete == fk.on_delete && new.on_update == fk.on_update => {}
            _ => {
                phases.drop_foreign_keys.push(Op::DropForeignKey { table: old_table.clone(), foreign_key: fk.clone() })
            }
        }
    }
    for fk in &model.foreign_keys {
        match db.foreign_keys.iter().find(|f| same_fk(f, fk)) {
            Some(old) if old.on_delete == fk.on_delete && old.on_update == fk.on_update => {}
            _ => phases.add_foreign_keys.push(Op::AddForeignKey { table: table.clone(), foreign_key: fk.clone() }),
        }
    }
    // Checks, by expression.
    let same_check = |a: &str, b: &str| canonical_sql(dialect, a) == canonical_sql(dialect, b);
    for check in &db.checks {
        if !model.checks.iter().any(|c| same_check(&c.expression, &check.expression)) {
            phases.drop_constraints.push(Op::DropCheck { table: old_table.clone(), check: check.clone() });
        }
    }
    for check in &model.checks {
        if !db.checks.iter().any(|c| same_check(&c.expression, &check.expression)) {
            phases.add_constraints.push(Op::AddCheck { table: table.clone(), check: check.clone() });
        }
    }
    if db.comment != model.comment && dialect.has_comments() {
        phases.alter_tables.push(Op::SetTableComment {
            table: table.clone(),
            from: db.comment.clone(),
            to: model.comment.clone(),
        });
    }
}

fn alter_column(dialect: &dyn Dialect, table: &str, old: &Column, new: &Column) -> Option<AlterColumn> {
    let alter = AlterColumn {
        table: table.to_string(),
        column: old.name.clone(),
        existing: old.clone(),
        rename: (old.name != new.name).then(|| new.name.clone()),
        ty: (!same_type(dialect, &old.ty, &new.ty)).then(|| new.ty.clone()),
        nullable: (old.nullable != new.nullable).then_some(new.nullable),
        default: (!new.autoincrement && !same_default(dialect, &old.default, &new.default, &new.ty))
            .then(|| new.default.clone()),
        comment: (dialect.has_comments() && old.comment != new.comment).then(|| new.comment.clone()),
    };
    let changed = alter.rename.is_some()
        || alter.ty.is_some()
        || alter.nullable.is_some()
        || alter.default.is_some()
        || alter.comment.is_some();
    changed.then_some(alter)
}

/// New tables, referenced ones first; a foreign key to a table created later
/// (or in a cycle) is added once all tables exist.
fn create_tables(tables: &[&Table], phases: &mut Phases) {
    let names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut created: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&Table> = tables.to_vec();
    while !pending.is_empty() {
        // The first table whose new references all exist; else the first (a cycle).
        let ready = |t: &&Table| {
            t.foreign_keys.iter().all(|fk| {
                fk.referred_table == t.name
                    || !names.contains(fk.referred_table.as_str())
                    || created.contains(fk.referred_table.as_str())
            })
        };
        let at = pending.iter().position(ready).unwrap_or(0);
        let table = pending.remove(at);
        let mut create = table.clone();
        let (now, later): (Vec<ForeignKey>, Vec<ForeignKey>) = table.foreign_keys.iter().cloned().partition(|fk| {
            fk.referred_table == table.name
                || !names.contains(fk.referred_table.as_str())
                || created.contains(fk.referred_table.as_str())
        });
        create.foreign_keys = now;
        phases.create_tables.push(Op::CreateTable(create));
        for fk in later {
            phases.add_foreign_keys.push(Op::AddForeignKey { table: table.name.clone(), foreign_key: fk });
        }
        created.insert(&table.name);
    }
}

/// Dropped tables, referring ones first; foreign keys between dropped tables
/// in a cycle are dropped before any table.
fn drop_tables(tables: &[&Table], phases: &mut Phases) {
    let mut remaining: Vec<Table> = tables.iter().map(|t| (*t).clone()).collect();
    while !remaining.is_empty() {
        // A table no other remaining table refers to.
        let free = remaining.iter().position(|t| {
            !remaining.iter().any(|o| o.name != t.name && o.foreign_keys.iter().any(|fk| fk.referred_table == t.name))
        });
        let at = match free {
            Some(at) => at,
            None => {
                // A cycle: drop the foreign keys that refer to the first table.
                let target = remaining[0].name.clone();
                for other in remaining.iter_mut().filter(|o| o.name != target) {
                    let (cyclic, keep): (Vec<ForeignKey>, Vec<ForeignKey>) =
                        other.foreign_keys.drain(..).partition(|fk| fk.referred_table == target);
                    other.foreign_keys = keep;
                    for fk in cyclic {
                        phases
                            .drop_foreign_keys
                            .push(Op::DropForeignKey { table: other.name.clone(), foreign_key: fk });
                    }
                }
                0
            }
        };
        let table = remaining.remove(at);
        phases.drop_tables.push(Op::DropTable(table));
    }
}

fn compare_enums(db: &[EnumType], model: &[EnumType], phases: &mut Phases) {
    for e in model {
        let Some(old) = db.iter().find(|d| d.name == e.name) else {
            phases.enums_first.push(Op::CreateEnum(e.clone()));
            continue;
        };
        let mut existing = old.values.clone();
        for (i, value) in e.values.iter().enumerate() {
            if existing.contains(value) {
                continue;
            }
            let before = e.values[i + 1..].iter().find(|v| existing.contains(v)).cloned();
            phases.enums_first.push(Op::AddEnumValue {
                name: e.name.clone(),
                value: value.clone(),
                before: before.clone(),
                existing: existing.clone(),
                columns: Vec::new(),
            });
            let at = before.and_then(|b| existing.iter().position(|v| *v == b)).unwrap_or(existing.len());
            existing.insert(at, value.clone());
        }
        for value in old.values.iter().filter(|v| !e.values.contains(v)) {
            phases.enums_last.push(Op::DropEnumValue {
                name: e.name.clone(),
                value: value.clone(),
                existing: existing.clone(),
                columns: Vec::new(),
            });
            existing.retain(|v| v != value);
        }
    }
    for e in db.iter().filter(|d| !model.iter().any(|m| m.name == d.name)) {
        phases.enums_last.push(Op::DropEnum(e.clone()));
    }
}
