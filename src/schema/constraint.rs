//! Keys, indexes and constraints.

use serde::{Deserialize, Serialize};

/// A table's primary key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryKey {
    /// Constraint name, where the backend keeps one that is not its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Key columns, in key order.
    pub columns: Vec<String>,
}

/// One key of an index: a column, or an expression where the backend allows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexKey {
    /// A plain column.
    Column(String),
    /// An expression, as the backend renders it.
    Expression(String),
}

/// An index that is not the implementation of a constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Index name.
    pub name: String,
    /// Keys, in index order.
    pub keys: Vec<IndexKey>,
    /// Whether the index enforces uniqueness.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// WHERE predicate of a partial index.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
}

/// A UNIQUE constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueConstraint {
    /// Constraint name, where the backend keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Columns, in constraint order.
    pub columns: Vec<String>,
}

/// What a foreign key does when the referenced row changes. `NO ACTION`, the
/// SQL default, is represented by the absence of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForeignKeyAction {
    /// Refuse the change immediately.
    Restrict,
    /// Apply the change to referencing rows.
    Cascade,
    /// Set referencing columns to NULL.
    SetNull,
    /// Set referencing columns to their defaults.
    SetDefault,
}

impl ForeignKeyAction {
    /// The SQL spelling (`CASCADE`, `SET NULL`, ...).
    pub fn sql(self) -> &'static str {
        match self {
            ForeignKeyAction::Restrict => "RESTRICT",
            ForeignKeyAction::Cascade => "CASCADE",
            ForeignKeyAction::SetNull => "SET NULL",
            ForeignKeyAction::SetDefault => "SET DEFAULT",
        }
    }

    /// Parses an SQL spelling, case-insensitively; `NO ACTION` gives `None`.
    pub fn parse(sql: &str) -> Option<Self> {
        match sql.trim().to_ascii_uppercase().as_str() {
            "RESTRICT" => Some(ForeignKeyAction::Restrict),
            "CASCADE" => Some(ForeignKeyAction::Cascade),
            "SET NULL" => Some(ForeignKeyAction::SetNull),
            "SET DEFAULT" => Some(ForeignKeyAction::SetDefault),
            _ => None,
        }
    }
}

/// A FOREIGN KEY constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    /// Constraint name, where the backend keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Referencing columns, in key order.
    pub columns: Vec<String>,
    /// Referenced table.
    pub referred_table: String,
    /// Referenced columns, matching `columns` position by position.
    pub referred_columns: Vec<String>,
    /// Action on delete of the referenced row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<ForeignKeyAction>,
    /// Action on update of the referenced key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<ForeignKeyAction>,
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Constraint name, where the backend keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The boolean expression, as the backend renders it, outer parentheses removed.
    pub expression: String,
}
