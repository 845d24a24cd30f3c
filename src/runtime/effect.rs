//! What a statement does to the schema, read with `sqlparser`: whether it
//! only changes rows (transactional even where DDL commits at once), and,
//! for a statement a crash left uncertain, whether the reflected schema
//! shows that it took effect.

use crate::dialect::Dialect;
use crate::ops::Op;
use crate::schema::{Schema, Table};
use sqlparser::ast::{AlterTableOperation, ObjectName, ObjectType, RenameTableNameKind, Statement};
use sqlparser::parser::Parser;

/// The effect of one statement, as far as it can be checked in a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    /// `INSERT`, `UPDATE`, `DELETE`: rows only.
    Data,
    /// `CREATE TABLE t`.
    CreateTable(String),
    /// `DROP TABLE t, ...`.
    DropTables(Vec<String>),
    /// `ALTER TABLE t ADD COLUMN c`.
    AddColumn(String, String),
    /// `ALTER TABLE t DROP COLUMN c`.
    DropColumn(String, String),
    /// `CREATE INDEX i ON t`.
    CreateIndex(String, String),
    /// `DROP INDEX i [ON t]`, `ALTER TABLE t DROP INDEX i`.
    DropIndex(String, Option<String>),
    /// `ALTER TABLE a RENAME TO b`, `RENAME TABLE a TO b`.
    RenameTable(String, String),
    /// Anything else, or text that does not parse.
    Unknown,
}

/// The effects of the statements in `sql` (one for each), or one `Unknown`
/// when it does not parse.
fn effects(dialect: &dyn Dialect, sql: &str) -> Vec<Effect> {
    match Parser::parse_sql(dialect.sql_parser().as_ref(), sql) {
        Ok(statements) if !statements.is_empty() => statements.iter().map(effect).collect(),
        _ => vec![Effect::Unknown],
    }
}

fn name(object: &ObjectName) -> String {
    object.0.last().and_then(|part| part.as_ident()).map(|ident| ident.value.clone()).unwrap_or_default()
}

fn effect(statement: &Statement) -> Effect {
    match statement {
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => Effect::Data,
        Statement::CreateTable(create) => Effect::CreateTable(name(&create.name)),
        Statement::Drop { object_type: ObjectType::Table, names, .. } => {
            Effect::DropTables(names.iter().map(name).collect())
        }
        Statement::Drop { object_type: ObjectType::Index, names, table, .. } if names.len() == 1 => {
            Effect::DropIndex(name(&names[0]), table.as_ref().map(name))
        }
        Statement::CreateIndex(create) => match &create.name {
            Some(index) => Effect::CreateIndex(name(index), name(&create.table_name)),
            None => Effect::Unknown,
        },
        Statement::RenameTable(renames) if renames.len() == 1 => {
            Effect::RenameTable(name(&renames[0].old_name), name(&renames[0].new_name))
        }
        Statement::AlterTable(alter) if alter.operations.len() == 1 => {
            let table = name(&alter.name);
            match &alter.operations[0] {
                AlterTableOperation::AddColumn { column_def, .. } => {
                    Effect::AddColumn(table, column_def.name.value.clone())
                }
                AlterTableOperation::DropColumn { column_names, .. } if column_names.len() == 1 => {
                    Effect::DropColumn(table, column_names[0].value.clone())
                }
                AlterTableOperation::DropIndex { name } => Effect::DropIndex(name.value.clone(), Some(table)),
                AlterTableOperation::RenameTable {
                    table_name: RenameTableNameKind::To(to) | RenameTableNameKind::As(to),
                } => Effect::RenameTable(table, self::name(to)),
                _ => Effect::Unknown,
            }
        }
        _ => Effect::Unknown,
    }
}

/// Whether `op`, rendered as `statements`, only changes rows.
pub(super) fn is_data(dialect: &dyn Dialect, op: &Op, statements: &[String]) -> bool {
    match op {
        Op::BulkInsert { .. } => true,
        Op::Execute(_) => {
            !statements.is_empty()
                && statements.iter().all(|sql| effects(dialect, sql).iter().all(|e| *e == Effect::Data))
        }
        _ => false,
    }
}

/// Whether statement `number` of `op` (its text `sql`), started when a run
/// was interrupted, took effect, as `schema` (reflected since) shows; `None`
/// when the schema cannot tell.
pub fn took_effect(dialect: &dyn Dialect, op: &Op, statements: usize, sql: &str, schema: &Schema) -> Option<bool> {
    let found: Vec<Option<bool>> = effects(dialect, sql).iter().map(|e| statement_done(e, schema)).collect();
    let parsed = match found.as_slice() {
        [] => None,
        [first, rest @ ..] => rest.iter().all(|d| d == first).then_some(*first).flatten(),
    };
    // A statement the parser cannot read: an op of one statement is decided
    // by what the op makes.
    parsed.or_else(|| if statements == 1 { op_done(dialect, op, schema) } else { None })
}

fn has_index(table: &Table, index: &str) -> bool {
    table.indexes.iter().any(|i| i.name == index)
        || table.unique_constraints.iter().any(|u| u.name.as_deref() == Some(index))
}

/// `Some(true)` when `done` holds and `undone` does not, `Some(false)` the
/// other way round; `None` when both or neither hold.
fn either(done: bool, undone: bool) -> Option<bool> {
    (done != undone).then_some(done)
}

fn statement_done(effect: &Effect, schema: &Schema) -> Option<bool> {
    let exists = |t: &str| schema.table(t).is_some();
    match effect {
        Effect::CreateTable(t) => Some(exists(t)),
        Effect::DropTables(tables) => either(tables.iter().all(|t| !exists(t)), tables.iter().all(|t| exists(t))),
        Effect::AddColumn(t, c) => schema.table(t).map(|t| t.column(c).is_some()),
        Effect::DropColumn(t, c) => schema.table(t).map(|t| t.column(c).is_none()),
        Effect::CreateIndex(i, t) => schema.table(t).map(|t| has_index(t, i)),
        Effect::DropIndex(i, Some(t)) => schema.table(t).map(|t| !has_index(t, i)),
        Effect::DropIndex(i, None) => Some(!schema.tables.iter().any(|t| has_index(t, i))),
        Effect::RenameTable(from, to) => either(exists(to) && !exists(from), exists(from) && !exists(to)),
        Effect::Data | Effect::Unknown => None,
    }
}

/// Whether the schema shows what `op` makes (for ops of one statement).
fn op_done(dialect: &dyn Dialect, op: &Op, schema: &Schema) -> Option<bool> {
    let table = |name: &str| schema.table(name);
    match op {
        Op::CreateTable(t) => Some(table(&t.name).is_some()),
        Op::DropTable(t) => Some(table(&t.name).is_none()),
        Op::AddColumn { table: t, column } => table(t).map(|t| t.column(&column.name).is_some()),
        Op::DropColumn { table: t, column } => table(t).map(|t| t.column(&column.name).is_none()),
        Op::CreateIndex { table: t, index } => table(t).map(|t| has_index(t, &index.name)),
        Op::DropIndex { table: t, index } => table(t).map(|t| !has_index(t, &index.name)),
        Op::RenameTable { from, to } => {
            either(table(to).is_some() && table(from).is_none(), table(from).is_some() && table(to).is_none())
        }
        Op::AlterColumn(alter) => {
            let t = table(&alter.table)?;
            if let Some(new_name) = &alter.rename {
                return either(
                    t.column(new_name).is_some() && t.column(&alter.column).is_none(),
                    t.column(&alter.column).is_some() && t.column(new_name).is_none(),
                );
            }
            let column = t.column(&alter.column)?;
            let same = |c: &crate::schema::Column| {
                dialect.canonical_type(&c.ty) == dialect.canonical_type(&column.ty) && c.nullable == column.nullable
            };
            either(same(&alter.altered()), same(&alter.existing))
        }
        Op::AddForeignKey { table: t, foreign_key } | Op::DropForeignKey { table: t, foreign_key } => {
            let key = foreign_key.name.as_deref()?;
            let present = table(t)?.foreign_keys.iter().any(|k| k.name.as_deref() == Some(key));
            Some(present == matches!(op, Op::AddForeignKey { .. }))
        }
        Op::AddCheck { table: t, check } | Op::DropCheck { table: t, check } => {
            let name = check.name.as_deref()?;
            let present = table(t)?.checks.iter().any(|c| c.name.as_deref() == Some(name));
            Some(present == matches!(op, Op::AddCheck { .. }))
        }
        Op::AddUnique { table: t, constraint } | Op::DropUnique { table: t, constraint } => {
            let present = has_index(table(t)?, constraint.name.as_deref()?);
            Some(present == matches!(op, Op::AddUnique { .. }))
        }
        Op::AddPrimaryKey { table: t, primary_key } => {
            let key = table(t)?.primary_key.as_ref();
            either(key.is_some_and(|k| k.columns == primary_key.columns), key.is_none())
        }
        Op::DropPrimaryKey { table: t, .. } => Some(table(t)?.primary_key.is_none()),
        Op::SetTableComment { table: t, from, to } if from != to => {
            let comment = &table(t)?.comment;
            either(comment == to, comment == from)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Effect, effects};
    use crate::dialect::MysqlDialect;

    #[test]
    fn raw_statements_are_read() {
        let read = |sql: &str| effects(&MysqlDialect, sql);
        assert_eq!(read("UPDATE a SET n = n + 1; DELETE FROM b"), [Effect::Data, Effect::Data]);
        assert_eq!(read("CREATE TABLE slow1 AS SELECT SLEEP(1) AS s"), [Effect::CreateTable("slow1".into())]);
        assert_eq!(read("DROP TABLE `x`, y"), [Effect::DropTables(vec!["x".into(), "y".into()])]);
        assert_eq!(read("ALTER TABLE t ADD COLUMN c int"), [Effect::AddColumn("t".into(), "c".into())]);
        assert_eq!(read("ALTER TABLE t DROP COLUMN c"), [Effect::DropColumn("t".into(), "c".into())]);
        assert_eq!(read("CREATE INDEX ix ON t (c)"), [Effect::CreateIndex("ix".into(), "t".into())]);
        assert_eq!(read("DROP INDEX ix ON t"), [Effect::DropIndex("ix".into(), Some("t".into()))]);
        assert_eq!(read("RENAME TABLE a TO b"), [Effect::RenameTable("a".into(), "b".into())]);
        assert_eq!(read("ALTER TABLE a RENAME TO b"), [Effect::RenameTable("a".into(), "b".into())]);
        assert_eq!(read("OPTIMIZE TABLE t"), [Effect::Unknown]);
        assert_eq!(read("this is not sql"), [Effect::Unknown]);
    }
}
