//! The operation vocabulary. One [`Op`] is written to revision files, rendered
//! to SQL by every dialect (online and offline), and inverted for downgrades.
//! Each op carries everything its inverse needs: a `drop_column` holds the
//! whole column, an `alter_column` both the old and the new state.

mod apply;
mod inverse;

pub use apply::ApplyError;
pub(crate) use apply::mentions;

use crate::db::Backend;
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, EnumType, ForeignKey, Index, PrimaryKey, Table, UniqueConstraint,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One schema change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Create a table with its columns, keys, constraints and indexes.
    CreateTable(Table),
    /// Drop a table; the definition is kept so the drop can be undone.
    DropTable(Table),
    /// Rename a table.
    RenameTable {
        /// Current name.
        from: String,
        /// New name.
        to: String,
    },
    /// Add a column.
    AddColumn {
        /// Table.
        table: String,
        /// The new column.
        column: Column,
    },
    /// Drop a column, keeping its definition for the inverse.
    DropColumn {
        /// Table.
        table: String,
        /// The column dropped.
        column: Column,
    },
    /// Change a column: any of its name, type, nullability, default, comment.
    AlterColumn(AlterColumn),
    /// Create an index.
    CreateIndex {
        /// Table.
        table: String,
        /// The index.
        index: Index,
    },
    /// Drop an index, keeping its definition.
    DropIndex {
        /// Table.
        table: String,
        /// The index.
        index: Index,
    },
    /// Add a UNIQUE constraint.
    AddUnique {
        /// Table.
        table: String,
        /// The constraint.
        constraint: UniqueConstraint,
    },
    /// Drop a UNIQUE constraint.
    DropUnique {
        /// Table.
        table: String,
        /// The constraint.
        constraint: UniqueConstraint,
    },
    /// Add a FOREIGN KEY.
    AddForeignKey {
        /// Table.
        table: String,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// Drop a FOREIGN KEY.
    DropForeignKey {
        /// Table.
        table: String,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// Add a CHECK constraint.
    AddCheck {
        /// Table.
        table: String,
        /// The constraint.
        check: Check,
    },
    /// Drop a CHECK constraint.
    DropCheck {
        /// Table.
        table: String,
        /// The constraint.
        check: Check,
    },
    /// Add a PRIMARY KEY.
    AddPrimaryKey {
        /// Table.
        table: String,
        /// The key.
        primary_key: PrimaryKey,
    },
    /// Drop the PRIMARY KEY.
    DropPrimaryKey {
        /// Table.
        table: String,
        /// The key.
        primary_key: PrimaryKey,
    },
    /// Create a named enum type (PostgreSQL; elsewhere enums live in columns).
    CreateEnum(EnumType),
    /// Drop a named enum type.
    DropEnum(EnumType),
    /// Add a label to a named enum type.
    AddEnumValue {
        /// Enum type.
        name: String,
        /// The new label.
        value: String,
        /// Insert before this label instead of at the end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<String>,
        /// The labels before the change, in order (the inverse needs them).
        existing: Vec<String>,
        /// The columns of that type, as `table.column` (the inverse needs them).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        columns: Vec<String>,
    },
    /// Remove a label from a named enum type. PostgreSQL cannot drop a label,
    /// so this rebuilds the type; it fails if rows still hold the label.
    DropEnumValue {
        /// Enum type.
        name: String,
        /// The label removed.
        value: String,
        /// The labels before the change, in order, `value` included.
        existing: Vec<String>,
        /// The columns of that type, as `table.column`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        columns: Vec<String>,
    },
    /// Set or remove a table comment.
    SetTableComment {
        /// Table.
        table: String,
        /// Comment before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Comment after.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// Raw SQL, the same for every backend or one text per dialect.
    Execute(Execute),
    /// Insert rows of literal values.
    BulkInsert {
        /// Table.
        table: String,
        /// Rows, each mapping column names to values.
        rows: Vec<BTreeMap<String, Value>>,
    },
}

/// A change to one column. Each changed attribute records its value before
/// and after, so the change can be undone and rendered on backends (MySQL)
/// that restate the whole column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterColumn {
    /// Table.
    pub table: String,
    /// The column's name before the change.
    pub column: String,
    /// The full column before the change (needed by MySQL and by SQLite's rebuild).
    pub existing: Column,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rename: Option<String>,
    /// New type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<ColumnType>,
    /// New nullability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// New default: `Some(None)` removes it.
    #[serde(default, with = "change", skip_serializing_if = "Option::is_none")]
    pub default: Option<Option<DefaultValue>>,
    /// New comment: `Some(None)` removes it.
    #[serde(default, with = "change", skip_serializing_if = "Option::is_none")]
    pub comment: Option<Option<String>>,
}

impl AlterColumn {
    /// The column as it is after the change.
    pub fn altered(&self) -> Column {
        let mut column = self.existing.clone();
        if let Some(name) = &self.rename {
            column.name = name.clone();
        }
        if let Some(ty) = &self.ty {
            column.ty = ty.clone();
        }
        if let Some(nullable) = self.nullable {
            column.nullable = nullable;
        }
        if let Some(default) = &self.default {
            column.default = default.clone();
        }
        if let Some(comment) = &self.comment {
            column.comment = comment.clone();
        }
        column
    }
}

/// Raw SQL for an `execute` op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Execute {
    /// SQL run on every backend without a specific text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// SQL per backend (`postgresql`, `mysql`, `sqlite`; a misspelt key is an error).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dialects: BTreeMap<Backend, String>,
}

impl Execute {
    /// The SQL to run on `backend`, if any applies.
    pub fn sql_for(&self, backend: Backend) -> Option<&str> {
        self.dialects.get(&backend).or(self.sql.as_ref()).map(String::as_str)
    }
}

/// A literal value in a `bulk_insert` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// Text (also dates and times, as ISO text).
    Text(String),
}

/// Serde for "a change that may set or clear": absent = no change,
/// `{ to = ... }` = set, `{}` = clear. Plain `Option<Option<T>>` would not
/// survive TOML, which has no null.
mod change {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Change<T> {
        #[serde(default = "none", skip_serializing_if = "Option::is_none")]
        to: Option<T>,
    }

    fn none<T>() -> Option<T> {
        None
    }

    pub fn serialize<T: Serialize + Clone, S: Serializer>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(to) => Change { to: to.clone() }.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Ok(Some(Change::<T>::deserialize(d)?.to))
    }
}

#[cfg(test)]
mod tests;
