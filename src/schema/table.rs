//! Tables.

use super::{Check, Column, ForeignKey, Index, PrimaryKey, UniqueConstraint};
use serde::{Deserialize, Serialize};

/// A table with its columns (in declaration order) and constraints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Columns, in declaration order.
    pub columns: Vec<Column>,
    /// Primary key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<PrimaryKey>,
    /// Indexes that do not implement a constraint, ordered by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// UNIQUE constraints, ordered by columns then name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_constraints: Vec<UniqueConstraint>,
    /// Foreign keys, ordered by columns then name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints, ordered by expression then name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// Table comment (PostgreSQL, MySQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The `CREATE TRIGGER` statements of the table's triggers, read on
    /// SQLite only so that a table rebuild can recreate them; neither
    /// compared nor written to files.
    #[serde(skip)]
    pub triggers: Vec<String>,
}

impl Table {
    /// An empty table called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Table {
            name: name.into(),
            columns: Vec::new(),
            primary_key: None,
            indexes: Vec::new(),
            unique_constraints: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            comment: None,
            triggers: Vec::new(),
        }
    }

    /// The column called `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Sorts constraints into canonical order; column order is meaningful and kept.
    pub fn normalize(&mut self) {
        self.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        self.unique_constraints.sort_by(|a, b| (&a.columns, &a.name).cmp(&(&b.columns, &b.name)));
        self.foreign_keys.sort_by(|a, b| (&a.columns, &a.name).cmp(&(&b.columns, &b.name)));
        self.checks.sort_by(|a, b| (&a.expression, &a.name).cmp(&(&b.expression, &b.name)));
    }
}
