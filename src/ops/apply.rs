//! Applying ops to a [`Schema`] in memory: what the database will look like
//! after each op. Offline rendering and SQLite's table rebuilds need the
//! full table an op acts on, and this gives it without a database.

use super::Op;
use crate::schema::{ColumnType, IndexKey, Schema, Table};

/// An op that does not fit the schema it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {message}")]
pub struct ApplyError {
    /// The op's name and object, e.g. `add_column users.age`.
    pub op: String,
    /// What does not fit.
    pub message: String,
}

impl Op {
    /// A short label naming the op and its object (`drop_column users.age`).
    pub fn label(&self) -> String {
        match self {
            Op::CreateTable(t) => format!("create_table {}", t.name),
            Op::DropTable(t) => format!("drop_table {}", t.name),
            Op::RenameTable { from, to } => format!("rename_table {from} -> {to}"),
            Op::AddColumn { table, column } => format!("add_column {table}.{}", column.name),
            Op::DropColumn { table, column } => format!("drop_column {table}.{}", column.name),
            Op::AlterColumn(a) => format!("alter_column {}.{}", a.table, a.column),
            Op::CreateIndex { index, .. } => format!("create_index {}", index.name),
            Op::DropIndex { index, .. } => format!("drop_index {}", index.name),
            Op::AddUnique { table, constraint } => format!("add_unique {table}({})", constraint.columns.join(", ")),
            Op::DropUnique { table, constraint } => format!("drop_unique {table}({})", constraint.columns.join(", ")),
            Op::AddForeignKey { table, foreign_key } => {
                format!("add_foreign_key {table}({}) -> {}", foreign_key.columns.join(", "), foreign_key.referred_table)
            }
            Op::DropForeignKey { table, foreign_key } => {
                format!(
                    "drop_foreign_key {table}({}) -> {}",
                    foreign_key.columns.join(", "),
                    foreign_key.referred_table
                )
            }
            Op::AddCheck { table, check } => format!("add_check {table} ({})", check.expression),
            Op::DropCheck { table, check } => format!("drop_check {table} ({})", check.expression),
            Op::AddPrimaryKey { table, .. } => format!("add_primary_key {table}"),
            Op::DropPrimaryKey { table, .. } => format!("drop_primary_key {table}"),
            Op::CreateEnum(e) => format!("create_enum {}", e.name),
            Op::DropEnum(e) => format!("drop_enum {}", e.name),
            Op::AddEnumValue { name, value, .. } => format!("add_enum_value {name}.{value}"),
            Op::DropEnumValue { name, value, .. } => format!("drop_enum_value {name}.{value}"),
            Op::SetTableComment { table, .. } => format!("set_table_comment {table}"),
            Op::Execute(_) => "execute".to_string(),
            Op::BulkInsert { table, rows } => format!("bulk_insert {table} ({} rows)", rows.len()),
        }
    }
}

impl Schema {
    /// Changes this schema as `op` changes the database. `execute` and
    /// `bulk_insert` leave it as it is: what raw SQL does is not known.
    pub fn apply(&mut self, op: &Op) -> Result<(), ApplyError> {
        let fail = |message: String| ApplyError { op: op.label(), message };
        match op {
            Op::CreateTable(table) => {
                if self.table(&table.name).is_some() {
                    return Err(fail(format!("table `{}` already exists", table.name)));
                }
                self.tables.push(table.clone());
            }
            Op::DropTable(table) => {
                self.table_mut(&table.name).map_err(fail)?;
                self.tables.retain(|t| t.name != table.name);
            }
            Op::RenameTable { from, to } => {
                if self.table(to).is_some() {
                    return Err(fail(format!("table `{to}` already exists")));
                }
                self.table_mut(from).map_err(fail)?.name = to.clone();
                for t in &mut self.tables {
                    for fk in &mut t.foreign_keys {
                        if fk.referred_table == *from {
                            fk.referred_table = to.clone();
                        }
                    }
                }
            }
            Op::CreateEnum(e) => self.enums.push(e.clone()),
            Op::DropEnum(e) => self.enums.retain(|x| x.name != e.name),
            Op::AddEnumValue { name, columns, .. } | Op::DropEnumValue { name, columns, .. } => {
                let labels = op.enum_labels_after().expect("enum label ops know their labels");
                self.apply_enum_labels(name, columns, labels).map_err(fail)?
            }
            Op::Execute(_) | Op::BulkInsert { .. } => {}
            table_op => {
                let name = table_op.table_name().expect("every remaining op acts on one table");
                apply_to_table(self.table_mut(name).map_err(fail)?, table_op).map_err(fail)?;
            }
        }
        self.normalize();
        Ok(())
    }

    /// Whether what `op` names exists in this schema: the columns of the
    /// keys, indexes and constraints it adds, the tables and columns its
    /// foreign keys refer to. `unknown` says which tables this schema cannot
    /// know (outside the reflected names): references to them are not checked.
    pub fn check(&self, op: &Op, unknown: &dyn Fn(&str) -> bool) -> Result<(), ApplyError> {
        let fail = |message: String| ApplyError { op: op.label(), message };
        let (table, parts) = match op {
            Op::CreateTable(t) => (t, table_parts(t)),
            Op::CreateIndex { table, index } => (self.known_table(table, op)?, vec![Part::Index(index)]),
            Op::AddUnique { table, constraint } => {
                (self.known_table(table, op)?, vec![Part::Columns("unique constraint", &constraint.columns)])
            }
            Op::AddPrimaryKey { table, primary_key } => {
                (self.known_table(table, op)?, vec![Part::Columns("primary key", &primary_key.columns)])
            }
            Op::AddForeignKey { table, foreign_key } => {
                (self.known_table(table, op)?, vec![Part::ForeignKey(foreign_key)])
            }
            _ => return Ok(()),
        };
        for part in parts {
            match part {
                Part::Columns(what, columns) => has_columns(table, what, columns).map_err(fail)?,
                Part::Index(index) => {
                    let columns: Vec<String> = index
                        .keys
                        .iter()
                        .filter_map(|k| if let IndexKey::Column(c) = k { Some(c.clone()) } else { None })
                        .collect();
                    has_columns(table, &format!("index `{}`", index.name), &columns).map_err(fail)?
                }
                Part::ForeignKey(fk) => {
                    has_columns(table, "foreign key", &fk.columns).map_err(fail)?;
                    let referred =
                        if fk.referred_table == table.name { Some(table) } else { self.table(&fk.referred_table) };
                    match referred {
                        Some(referred) => has_columns(
                            referred,
                            &format!("foreign key to `{}`", fk.referred_table),
                            &fk.referred_columns,
                        )
                        .map_err(fail)?,
                        None if unknown(&fk.referred_table) => {}
                        None => {
                            return Err(fail(format!(
                                "foreign key to table `{}`, which does not exist",
                                fk.referred_table
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn known_table(&self, name: &str, op: &Op) -> Result<&Table, ApplyError> {
        self.table(name).ok_or_else(|| ApplyError { op: op.label(), message: format!("no table `{name}`") })
    }

    fn table_mut(&mut self, name: &str) -> Result<&mut Table, String> {
        self.tables.iter_mut().find(|t| t.name == name).ok_or_else(|| format!("no table `{name}`"))
    }

    fn apply_enum_labels(&mut self, name: &str, columns: &[String], labels: Vec<String>) -> Result<(), String> {
        // A named type (PostgreSQL) and every column of it carry the labels;
        // where enums live in columns only (MySQL, SQLite), the columns do:
        // those of that name, and those the op names (MySQL reads an enum
        // back named after its column).
        let mut found = false;
        if let Some(e) = self.enums.iter_mut().find(|e| e.name == name) {
            e.values = labels.clone();
            found = true;
        }
        for table in &mut self.tables {
            for column in &mut table.columns {
                let named =
                    columns.iter().any(|c| c.split_once('.') == Some((table.name.as_str(), column.name.as_str())));
                if let ColumnType::Enum { name: n, values } = &mut column.ty
                    && (n == name || named)
                {
                    *values = labels.clone();
                    found = true;
                }
            }
        }
        if found { Ok(()) } else { Err(format!("no enum `{name}`")) }
    }
}

impl Op {
    /// For enum label ops, the type's labels after the op.
    pub fn enum_labels_after(&self) -> Option<Vec<String>> {
        match self {
            Op::AddEnumValue { value, before, existing, .. } => {
                let mut labels = existing.clone();
                let at = before.as_ref().and_then(|b| labels.iter().position(|v| v == b)).unwrap_or(labels.len());
                labels.insert(at, value.clone());
                Some(labels)
            }
            Op::DropEnumValue { value, existing, .. } => {
                Some(existing.iter().filter(|v| *v != value).cloned().collect())
            }
            _ => None,
        }
    }
}

impl Op {
    /// The table this op acts on, for ops that act on exactly one table.
    pub fn table_name(&self) -> Option<&str> {
        match self {
            Op::AddColumn { table, .. }
            | Op::DropColumn { table, .. }
            | Op::CreateIndex { table, .. }
            | Op::DropIndex { table, .. }
            | Op::AddUnique { table, .. }
            | Op::DropUnique { table, .. }
            | Op::AddForeignKey { table, .. }
            | Op::DropForeignKey { table, .. }
            | Op::AddCheck { table, .. }
            | Op::DropCheck { table, .. }
            | Op::AddPrimaryKey { table, .. }
            | Op::DropPrimaryKey { table, .. }
            | Op::SetTableComment { table, .. }
            | Op::BulkInsert { table, .. } => Some(table),
            Op::AlterColumn(a) => Some(&a.table),
            Op::CreateTable(t) | Op::DropTable(t) => Some(&t.name),
            Op::RenameTable { from, .. } => Some(from),
            Op::CreateEnum(_)
            | Op::DropEnum(_)
            | Op::AddEnumValue { .. }
            | Op::DropEnumValue { .. }
            | Op::Execute(_) => None,
        }
    }
}

fn apply_to_table(t: &mut Table, op: &Op) -> Result<(), String> {
    match op {
        Op::AddColumn { column, .. } => {
            if t.column(&column.name).is_some() {
                return Err(format!("column `{}` already exists", column.name));
            }
            t.columns.push(column.clone());
        }
        Op::DropColumn { column, .. } => {
            position(&t.columns, |c| c.name == column.name, "column", &column.name)?;
            t.columns.retain(|c| c.name != column.name);
            // What depends on the column goes with it, as databases do it.
            let name = &column.name;
            let uses = |columns: &[String]| columns.contains(name);
            t.indexes.retain(|i| !i.keys.iter().any(|k| matches!(k, IndexKey::Column(c) if c == name)));
            t.unique_constraints.retain(|u| !uses(&u.columns));
            t.foreign_keys.retain(|f| !uses(&f.columns));
            t.checks.retain(|c| !mentions(&c.expression, name));
        }
        Op::AlterColumn(alter) => {
            let at = position(&t.columns, |c| c.name == alter.column, "column", &alter.column)?;
            let altered = alter.altered();
            if altered.name != alter.column {
                rename_in_constraints(t, &alter.column, &altered.name);
            }
            t.columns[at] = altered;
        }
        Op::CreateIndex { index, .. } => t.indexes.push(index.clone()),
        Op::DropIndex { index, .. } => {
            // MySQL reads a unique index back as the unique constraint it is there.
            let constraint = t.unique_constraints.iter().position(|u| u.name.as_deref() == Some(index.name.as_str()));
            match constraint {
                Some(at) if index.unique && !t.indexes.iter().any(|i| i.name == index.name) => {
                    t.unique_constraints.remove(at);
                }
                _ => {
                    position(&t.indexes, |i| i.name == index.name, "index", &index.name)?;
                    t.indexes.retain(|i| i.name != index.name);
                }
            }
        }
        Op::AddUnique { constraint, .. } => t.unique_constraints.push(constraint.clone()),
        Op::DropUnique { constraint, .. } => t.unique_constraints.retain(|u| u.columns != constraint.columns),
        Op::AddForeignKey { foreign_key, .. } => t.foreign_keys.push(foreign_key.clone()),
        Op::DropForeignKey { foreign_key, .. } => t
            .foreign_keys
            .retain(|f| !(f.columns == foreign_key.columns && f.referred_table == foreign_key.referred_table)),
        Op::AddCheck { check, .. } => t.checks.push(check.clone()),
        Op::DropCheck { check, .. } => {
            t.checks.retain(|c| !(c.expression == check.expression || (c.name.is_some() && c.name == check.name)))
        }
        Op::AddPrimaryKey { primary_key, .. } => t.primary_key = Some(primary_key.clone()),
        Op::DropPrimaryKey { .. } => t.primary_key = None,
        Op::SetTableComment { to, .. } => t.comment = to.clone(),
        _ => unreachable!("table-level ops only"),
    }
    Ok(())
}

/// What of a table names columns, for [`Schema::check`].
enum Part<'a> {
    Columns(&'static str, &'a [String]),
    Index(&'a crate::schema::Index),
    ForeignKey(&'a crate::schema::ForeignKey),
}

fn table_parts(t: &Table) -> Vec<Part<'_>> {
    let mut parts: Vec<Part<'_>> = t.primary_key.iter().map(|pk| Part::Columns("primary key", &pk.columns)).collect();
    parts.extend(t.unique_constraints.iter().map(|u| Part::Columns("unique constraint", &u.columns)));
    parts.extend(t.indexes.iter().map(Part::Index));
    parts.extend(t.foreign_keys.iter().map(Part::ForeignKey));
    parts
}

/// Every one of `columns` is a column of `table`.
fn has_columns(table: &Table, what: &str, columns: &[String]) -> Result<(), String> {
    match columns.iter().find(|c| table.column(c).is_none()) {
        Some(missing) => Err(format!("{what} names column `{missing}`, which `{}` does not have", table.name)),
        None => Ok(()),
    }
}

/// Whether `expression` mentions `name` as a whole word.
fn mentions(expression: &str, name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    expression.match_indices(name).any(|(at, _)| {
        let before = expression[..at].chars().next_back();
        let after = expression[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

fn position<T>(items: &[T], pred: impl Fn(&T) -> bool, kind: &str, name: &str) -> Result<usize, String> {
    items.iter().position(pred).ok_or_else(|| format!("no {kind} `{name}`"))
}

fn rename_in_constraints(t: &mut Table, from: &str, to: &str) {
    let rename = |cols: &mut Vec<String>| cols.iter_mut().filter(|c| *c == from).for_each(|c| *c = to.to_string());
    if let Some(pk) = &mut t.primary_key {
        rename(&mut pk.columns);
    }
    t.unique_constraints.iter_mut().for_each(|u| rename(&mut u.columns));
    t.foreign_keys.iter_mut().for_each(|f| rename(&mut f.columns));
    for index in &mut t.indexes {
        for key in &mut index.keys {
            if *key == IndexKey::Column(from.to_string()) {
                *key = IndexKey::Column(to.to_string());
            }
        }
    }
}
