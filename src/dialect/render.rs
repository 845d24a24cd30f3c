//! Op rendering that is the same SQL on every backend; each dialect handles
//! its own cases first and hands the rest to [`render_common`].

use super::{Dialect, RenderError, check_clause, column_list, foreign_key_clause, primary_key_clause, unique_clause};
use crate::ops::{Op, Value};
use std::collections::BTreeSet;

/// SQL for the ops every backend spells alike.
pub(super) fn render_common(d: &dyn Dialect, op: &Op) -> Result<Vec<String>, RenderError> {
    let q = |name: &str| d.quote_identifier(name);
    let alter = |table: &str, action: String| vec![format!("ALTER TABLE {} {action}", q(table))];
    Ok(match op {
        Op::CreateTable(table) => d.create_table(table),
        Op::DropTable(table) => vec![format!("DROP TABLE {}", q(&table.name))],
        Op::RenameTable { from, to } => alter(from, format!("RENAME TO {}", q(to))),
        Op::AddColumn { table, column } => alter(table, format!("ADD COLUMN {}", d.column_definition(column))),
        Op::DropColumn { table, column } => alter(table, format!("DROP COLUMN {}", q(&column.name))),
        Op::CreateIndex { table, index } => vec![d.create_index(table, index)],
        Op::DropIndex { index, .. } => vec![format!("DROP INDEX {}", q(&index.name))],
        Op::AddUnique { table, constraint } => alter(table, format!("ADD {}", unique_clause(d, constraint))),
        Op::AddForeignKey { table, foreign_key } => alter(table, format!("ADD {}", foreign_key_clause(d, foreign_key))),
        Op::AddCheck { table, check } => alter(table, format!("ADD {}", check_clause(d, check))),
        Op::AddPrimaryKey { table, primary_key } => alter(table, format!("ADD {}", primary_key_clause(d, primary_key))),
        Op::DropUnique { table, constraint: c } => {
            alter(table, format!("DROP CONSTRAINT {}", q(named(d, op, &c.name)?)))
        }
        Op::DropForeignKey { table, foreign_key: fk } => {
            alter(table, format!("DROP CONSTRAINT {}", q(named(d, op, &fk.name)?)))
        }
        Op::DropCheck { table, check } => alter(table, format!("DROP CONSTRAINT {}", q(named(d, op, &check.name)?))),
        Op::Execute(execute) => match execute.sql_for(d.backend()) {
            Some(sql) => vec![sql.to_string()],
            None => {
                return Err(unsupported(d, op, "it has no SQL for this backend (give `sql` or `dialects.<backend>`)"));
            }
        },
        Op::BulkInsert { table, rows } => bulk_insert(d, table, rows),
        _ => return Err(unsupported(d, op, "not supported by this backend")),
    })
}

/// The name of a constraint an op drops; dropping needs one.
pub(super) fn named<'a>(d: &dyn Dialect, op: &Op, name: &'a Option<String>) -> Result<&'a str, RenderError> {
    name.as_deref().ok_or_else(|| unsupported(d, op, "the constraint has no name; give it one in the revision file"))
}

pub(super) fn unsupported(d: &dyn Dialect, op: &Op, message: &str) -> RenderError {
    RenderError { op: op.label(), dialect: d.name(), message: message.to_string() }
}

/// One `INSERT` per distinct set of keys, rows in order.
fn bulk_insert(d: &dyn Dialect, table: &str, rows: &[std::collections::BTreeMap<String, Value>]) -> Vec<String> {
    let mut statements: Vec<(BTreeSet<&String>, Vec<String>)> = Vec::new();
    for row in rows {
        let keys: BTreeSet<&String> = row.keys().collect();
        let values: Vec<String> = row.values().map(|v| d.render_value(v)).collect();
        let tuple = format!("({})", values.join(", "));
        match statements.last_mut() {
            Some((last_keys, tuples)) if *last_keys == keys => tuples.push(tuple),
            _ => statements.push((keys, vec![tuple])),
        }
    }
    statements
        .into_iter()
        .map(|(keys, tuples)| {
            let columns: Vec<String> = keys.into_iter().cloned().collect();
            format!(
                "INSERT INTO {} ({}) VALUES {}",
                d.quote_identifier(table),
                column_list(d, &columns),
                tuples.join(", ")
            )
        })
        .collect()
}
