//! Flags destructive or risky ops, each with a stable code.
//!
//! | code | level | finding |
//! | --- | --- | --- |
//! | M001 | error | drop_table: the table's rows are lost |
//! | M002 | error | drop_column: the column's values are lost |
//! | M003 | error | a type change that narrows (shorter text, smaller number): values may not fit |
//! | M004 | error | NOT NULL on an existing column without a default: fails if any row holds NULL |
//! | M005 | warning | a unique constraint or index on an existing table: fails on duplicate rows |
//! | M006 | warning | an SQLite table rebuild: copies every row |
//! | M007 | warning | PostgreSQL index on an existing table without CONCURRENTLY: blocks writes while it builds |
//! | M008 | error | an enum value removed: rows holding it make the change fail |
//! | M009 | error | a NOT NULL column without a default added to an existing table: fails if it has rows |

use crate::dialect::Dialect;
use crate::ops::Op;
use crate::schema::{ColumnType, Schema};
use serde::Serialize;
use std::collections::BTreeSet;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Worth knowing.
    Warning,
    /// Loses data or fails on some data.
    Error,
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warning" => Ok(Level::Warning),
            "error" => Ok(Level::Error),
            other => Err(format!("unknown level `{other}` (warning, error)")),
        }
    }
}

/// One risky op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code, `M001`...
    pub code: &'static str,
    /// How serious.
    pub level: Level,
    /// The revision, when linting revisions.
    pub revision: Option<String>,
    /// The op, as `Op::label` names it.
    pub op: String,
    /// What may happen.
    pub message: String,
}

/// Lints `ops` that run, in order, on a database whose schema is `before`.
pub fn lint(ops: &[Op], dialect: &dyn Dialect, before: &Schema) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut state = before.clone();
    // Tables created by these ops hold no rows yet.
    let mut new_tables: BTreeSet<String> = BTreeSet::new();
    for op in ops {
        let mut flag = |code, level, message: String| {
            findings.push(Finding { code, level, revision: None, op: op.label(), message })
        };
        let existing = |table: &str| !new_tables.contains(table);
        match op {
            Op::CreateTable(table) => {
                new_tables.insert(table.name.clone());
            }
            Op::DropTable(table) => flag("M001", Level::Error, format!("dropping table {} loses its rows", table.name)),
            Op::AddColumn { table, column }
                if existing(table) && !column.nullable && column.default.is_none() && !column.autoincrement =>
            {
                flag(
                    "M009",
                    Level::Error,
                    format!(
                        "{table}.{} is added NOT NULL without a default: fails if {table} has rows (MariaDB fills \
                         them with '' or 0 instead); add it nullable, fill it, then make it NOT NULL",
                        column.name
                    ),
                )
            }
            Op::DropColumn { table, column } if existing(table) => {
                flag("M002", Level::Error, format!("dropping {table}.{} loses its values", column.name))
            }
            Op::AlterColumn(alter) if existing(&alter.table) => {
                if let Some(ty) = &alter.ty
                    && narrows(&alter.existing.ty, ty)
                {
                    flag(
                        "M003",
                        Level::Error,
                        format!(
                            "{}.{}: {} to {ty} narrows the type; values may not fit",
                            alter.table, alter.column, alter.existing.ty
                        ),
                    );
                }
                let default = alter.default.clone().unwrap_or(alter.existing.default.clone());
                if alter.nullable == Some(false) && default.is_none() {
                    flag(
                        "M004",
                        Level::Error,
                        format!(
                            "{}.{} becomes NOT NULL without a default: fails if a row holds NULL",
                            alter.table, alter.column
                        ),
                    );
                }
                if let (ColumnType::Enum { values: old, .. }, Some(ColumnType::Enum { values: new, .. })) =
                    (&alter.existing.ty, &alter.ty)
                    && old.iter().any(|v| !new.contains(v))
                {
                    flag("M008", Level::Error, format!("{}.{}: enum values removed", alter.table, alter.column));
                }
            }
            Op::AddUnique { table, constraint } if existing(table) => flag(
                "M005",
                Level::Warning,
                format!(
                    "unique ({}) on existing table {table}: fails on duplicate rows",
                    constraint.columns.join(", ")
                ),
            ),
            Op::CreateIndex { table, index } if existing(table) => {
                if index.unique {
                    flag(
                        "M005",
                        Level::Warning,
                        format!("unique index {} on existing table {table}: fails on duplicate rows", index.name),
                    );
                }
                if dialect.name() == "postgresql" {
                    flag(
                        "M007",
                        Level::Warning,
                        format!(
                            "index {} on existing table {table} blocks writes while it builds; on a large table use an \
                             execute op with CREATE INDEX CONCURRENTLY (outside a transaction)",
                            index.name
                        ),
                    );
                }
            }
            Op::DropEnumValue { name, value, .. } => {
                flag("M008", Level::Error, format!("enum {name}: removing '{value}' fails if a row holds it"))
            }
            _ => {}
        }
        if dialect.rebuilds_table(op, &state) && op.table_name().is_none_or(|t| !new_tables.contains(t)) {
            let table = op.table_name().unwrap_or("the tables of the enum");
            flag("M006", Level::Warning, format!("SQLite rebuilds {table}: every row is copied"));
        }
        let _ = state.apply(op);
    }
    findings
}

/// Whether going from `old` to `new` can lose values.
fn narrows(old: &ColumnType, new: &ColumnType) -> bool {
    use ColumnType::*;
    let rank = |t: &ColumnType| match t {
        Smallint => Some(1),
        Integer => Some(2),
        Bigint => Some(3),
        _ => None,
    };
    match (old, new) {
        (Varchar { length: Some(a) }, Varchar { length: Some(b) })
        | (Char { length: Some(a) }, Char { length: Some(b) }) => b < a,
        (Text | Varchar { length: None }, Varchar { length: Some(_) } | Char { .. }) => true,
        (Varchar { length: Some(_) }, Char { .. }) => true,
        (Numeric { precision: Some(p1), scale: s1 }, Numeric { precision: Some(p2), scale: s2 }) => {
            p2 < p1 || s2.unwrap_or(0) < s1.unwrap_or(0)
        }
        (Double, Real) => true,
        (Real | Double | Numeric { .. }, Smallint | Integer | Bigint) => true,
        (
            Text | Varchar { .. } | Char { .. } | Json,
            Smallint
            | Integer
            | Bigint
            | Real
            | Double
            | Numeric { .. }
            | Boolean
            | Date
            | Time
            | Timestamp
            | Timestamptz
            | Uuid,
        ) => true,
        (Timestamptz | Timestamp, Date | Time) => true,
        (a, b) => rank(a).zip(rank(b)).is_some_and(|(a, b)| b < a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::by_name;
    use crate::ops::AlterColumn;
    use crate::schema::{Column, DefaultValue, PrimaryKey, Table, UniqueConstraint};

    #[test]
    fn risky_ops_are_flagged_with_codes() {
        let mut users = Table::new("users");
        users.columns = vec![
            Column::new("id", ColumnType::Integer).not_null(),
            Column::new("name", "varchar(100)".parse().unwrap()),
        ];
        users.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
        let before = Schema { tables: vec![users.clone()], enums: vec![] };
        let name = users.columns[1].clone();
        let ops = vec![
            Op::AlterColumn(AlterColumn {
                table: "users".into(),
                column: "name".into(),
                existing: name.clone(),
                rename: None,
                ty: Some("varchar(50)".parse().unwrap()),
                nullable: Some(false),
                default: None,
                comment: None,
            }),
            Op::AddUnique {
                table: "users".into(),
                constraint: UniqueConstraint { name: Some("uq".into()), columns: vec!["name".into()] },
            },
            Op::DropColumn { table: "users".into(), column: name },
            Op::CreateTable(Table { name: "fresh".into(), ..users.clone() }),
            Op::AddUnique {
                table: "fresh".into(),
                constraint: UniqueConstraint { name: Some("uq2".into()), columns: vec!["name".into()] },
            },
            Op::DropTable(users),
        ];
        let codes = |dialect: &str| -> Vec<&'static str> {
            lint(&ops, by_name(dialect).unwrap().as_ref(), &before).into_iter().map(|f| f.code).collect()
        };
        assert_eq!(codes("postgresql"), ["M003", "M004", "M005", "M002", "M001"]);
        assert_eq!(codes("sqlite"), ["M003", "M004", "M006", "M005", "M006", "M002", "M006", "M001"]);
        assert!(narrows(&ColumnType::Bigint, &ColumnType::Integer));
    }

    #[test]
    fn not_null_column_without_default_on_an_existing_table() {
        let mut users = Table::new("users");
        users.columns = vec![Column::new("id", ColumnType::Integer).not_null()];
        let before = Schema { tables: vec![users.clone()], enums: vec![] };
        let add = |table: &str, column: Column| Op::AddColumn { table: table.into(), column };
        let ops = vec![
            add("users", Column::new("age", ColumnType::Integer).not_null()),
            add("users", Column::new("rank", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into()))),
            add("users", Column::new("note", ColumnType::Text)),
            Op::CreateTable(Table { name: "fresh".into(), ..users }),
            add("fresh", Column::new("age", ColumnType::Integer).not_null()),
        ];
        let findings = lint(&ops, by_name("postgresql").unwrap().as_ref(), &before);
        let codes: Vec<(&str, &str)> = findings.iter().map(|f| (f.code, f.op.as_str())).collect();
        assert_eq!(codes, [("M009", "add_column users.age")]);
        assert!(findings[0].message.contains("add it nullable, fill it, then make it NOT NULL"));
        assert!(!narrows(&ColumnType::Integer, &ColumnType::Bigint));
    }
}
