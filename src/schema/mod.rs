//! The neutral schema model: what a database holds, independent of any backend.
//!
//! Reflection produces a [`Schema`]; declared models produce one; autogenerate
//! compares two. Every collection is kept in a documented, stable order so that
//! two schemas describing the same database compare equal.

mod column;
mod constraint;
mod filter;
mod table;
mod types;

pub use column::{Column, DefaultValue};
pub use constraint::{Check, ForeignKey, ForeignKeyAction, Index, IndexKey, PrimaryKey, UniqueConstraint};
pub use filter::NameFilter;
pub(crate) use filter::glob_match;
pub use table::Table;
pub use types::{ColumnType, UnknownType};

use serde::{Deserialize, Serialize};

/// A whole database schema: its tables and (PostgreSQL) named enum types.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Tables, ordered by name.
    pub tables: Vec<Table>,
    /// Named enum types (PostgreSQL `CREATE TYPE ... AS ENUM`), ordered by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
}

impl Schema {
    /// The table called `name`, if there is one.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The enum type called `name`, if there is one.
    pub fn enum_type(&self, name: &str) -> Option<&EnumType> {
        self.enums.iter().find(|e| e.name == name)
    }

    /// Puts every collection into its canonical order (see the module docs),
    /// so that equality does not depend on the order things were found in.
    pub fn normalize(&mut self) {
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
        self.enums.sort_by(|a, b| a.name.cmp(&b.name));
        for table in &mut self.tables {
            table.normalize();
        }
    }
}

/// A named enum type with its labels in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumType {
    /// Type name.
    pub name: String,
    /// Labels, in the order the type declares them.
    pub values: Vec<String>,
}
