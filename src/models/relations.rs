//! Relationships declared in TOML models: read with the tables, checked
//! against the foreign keys once every file is read, and not columns, so
//! they change no migration.
//!
//! ```toml
//! [[tables]]
//! name = "users"
//! columns = [{ name = "id", type = "bigint", primary_key = true }]
//! relations = [
//!     { name = "posts", has_many = "posts", foreign_key = ["user_id"], order_by = ["id desc"], cascade = "delete" },
//! ]
//! ```

use crate::schema::Schema;
use migrate_grammar::{Cascade, LoadDefault, RelationKind};
use serde::Deserialize;

/// A relationship of a TOML model: like a Rust model's, with tables for models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRelation {
    /// The table it is declared on.
    pub table: String,
    /// Its name (the Rust field of a generated model).
    pub name: String,
    /// Its kind.
    pub kind: RelationKind,
    /// The related table.
    pub target: String,
    /// The foreign key's columns (see the grammar); empty: the one there is.
    pub foreign_key: Vec<String>,
    /// `many_to_many`: the association table.
    pub through: Option<String>,
    /// `many_to_many`: the association's key to the target.
    pub target_foreign_key: Vec<String>,
    /// The target's relationship on the other side.
    pub back_populates: Option<String>,
    /// Target columns a collection is ordered by, descending or not.
    pub order_by: Vec<(String, bool)>,
    /// The default loading strategy.
    pub load: LoadDefault,
    /// What deleting the owner or removing a child does (`cascade = ".."`).
    pub cascade: Cascade,
}

/// A relationship as written in a `[[tables]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RelationSpec {
    name: String,
    #[serde(default)]
    belongs_to: Option<String>,
    #[serde(default)]
    has_many: Option<String>,
    #[serde(default)]
    has_one: Option<String>,
    #[serde(default)]
    many_to_many: Option<String>,
    #[serde(default)]
    foreign_key: Vec<String>,
    #[serde(default)]
    through: Option<String>,
    #[serde(default)]
    target_foreign_key: Vec<String>,
    #[serde(default)]
    back_populates: Option<String>,
    #[serde(default)]
    order_by: Vec<String>,
    #[serde(default)]
    load: Option<String>,
    #[serde(default)]
    cascade: Option<String>,
}

impl RelationSpec {
    /// The relationship of `table`, or what is wrong with it.
    pub(super) fn into_relation(self, table: &str) -> Result<TableRelation, String> {
        let fail = |message: String| Err(format!("table `{table}`: relationship `{}`: {message}", self.name));
        let kinds = [
            (RelationKind::BelongsTo, &self.belongs_to),
            (RelationKind::HasMany, &self.has_many),
            (RelationKind::HasOne, &self.has_one),
            (RelationKind::ManyToMany, &self.many_to_many),
        ];
        let given: Vec<(RelationKind, &String)> =
            kinds.iter().filter_map(|(k, t)| t.as_ref().map(|t| (*k, t))).collect();
        let [(kind, target)] = given.as_slice() else {
            return fail("give exactly one of belongs_to, has_many, has_one, many_to_many (the related table)".into());
        };
        if (*kind == RelationKind::ManyToMany) != self.through.is_some() {
            return fail("through = \"association_table\" goes with many_to_many, and only with it".into());
        }
        if !self.target_foreign_key.is_empty() && *kind != RelationKind::ManyToMany {
            return fail("target_foreign_key goes with many_to_many".into());
        }
        let mut order_by = Vec::new();
        for item in &self.order_by {
            let mut words = item.split_whitespace();
            let column = words.next().unwrap_or_default().to_string();
            let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(_) => {
                    return fail(format!(
                        "order_by item \"{item}\": write \"column\", \"column asc\" or \"column desc\""
                    ));
                }
            };
            if column.is_empty() || words.next().is_some() {
                return fail(format!("order_by item \"{item}\": write \"column\", \"column asc\" or \"column desc\""));
            }
            order_by.push((column, descending));
        }
        let load = match self.load.as_deref() {
            None | Some("raise") => LoadDefault::Raise,
            Some("selectin") => LoadDefault::Selectin,
            Some("joined") if !kind.is_collection() => LoadDefault::Joined,
            Some("joined") => {
                return fail("joined loading is for belongs_to and has_one; load a collection with selectin".into());
            }
            Some(other) => return fail(format!("load = \"{other}\": expected raise, selectin or joined")),
        };
        let cascade = match Cascade::parse(self.cascade.as_deref().unwrap_or_default(), *kind) {
            Ok(cascade) => cascade,
            Err(message) => return fail(message),
        };
        Ok(TableRelation {
            table: table.to_string(),
            kind: *kind,
            target: target.to_string(),
            foreign_key: self.foreign_key.clone(),
            through: self.through.clone(),
            target_foreign_key: self.target_foreign_key.clone(),
            back_populates: self.back_populates.clone(),
            order_by,
            load,
            cascade,
            name: self.name,
        })
    }
}

/// Checks every relationship against the tables and foreign keys of
/// `schema`; an error names the table it is declared on, both tables and
/// the missing key.
pub(super) fn check(schema: &Schema, relations: &[TableRelation]) -> Result<(), (String, String)> {
    for r in relations {
        check_one(schema, relations, r)
            .map_err(|m| (r.table.clone(), format!("table `{}`: relationship `{}`: {m}", r.table, r.name)))?;
    }
    Ok(())
}

fn check_one(schema: &Schema, all: &[TableRelation], r: &TableRelation) -> Result<(), String> {
    let owner = schema.table(&r.table).ok_or_else(|| format!("no table `{}`", r.table))?;
    if owner.column(&r.name).is_some() {
        return Err("it has the name of a column".into());
    }
    if all.iter().filter(|o| o.table == r.table && o.name == r.name).count() > 1 {
        return Err("it is declared twice".into());
    }
    let target =
        schema.table(&r.target).ok_or_else(|| format!("refers to table `{}`, which no model declares", r.target))?;
    let keyword = r.kind.keyword();
    let key_to = |holder: &crate::schema::Table, to: &str, columns: &[String]| -> Result<(), String> {
        let count = holder
            .foreign_keys
            .iter()
            .filter(|fk| fk.referred_table == to && (columns.is_empty() || fk.columns == columns))
            .count();
        let wanted = if columns.is_empty() { String::new() } else { format!(" ({})", columns.join(", ")) };
        match count {
            1 => Ok(()),
            0 => Err(format!("{keyword} needs a foreign key{wanted} on `{}` referring to `{to}`", holder.name)),
            _ => Err(format!(
                "`{}` has several foreign keys referring to `{to}`: name one with foreign_key",
                holder.name
            )),
        }
    };
    match r.kind {
        RelationKind::BelongsTo => key_to(owner, &target.name, &r.foreign_key)?,
        RelationKind::HasMany | RelationKind::HasOne => key_to(target, &owner.name, &r.foreign_key)?,
        RelationKind::ManyToMany => {
            let through = r.through.as_deref().unwrap_or_default();
            let assoc = schema.table(through).ok_or_else(|| format!("through `{through}`, which no model declares"))?;
            if owner.name == target.name && (r.foreign_key.is_empty() || r.target_foreign_key.is_empty()) {
                return Err(format!("both sides are `{}`: name foreign_key and target_foreign_key", owner.name));
            }
            if owner.name != target.name {
                key_to(assoc, &owner.name, &r.foreign_key)?;
                key_to(assoc, &target.name, &r.target_foreign_key)?;
            }
        }
    }
    if let Some((missing, _)) = r.order_by.iter().find(|(c, _)| target.column(c).is_none()) {
        return Err(format!("order_by names `{missing}`, which is not a column of `{}`", target.name));
    }
    if let Some(back) = &r.back_populates {
        let other = all.iter().find(|o| o.table == r.target && &o.name == back);
        if other.is_none_or(|o| o.target != r.table) {
            return Err(format!(
                "back_populates = \"{back}\": `{}` has no relationship `{back}` to `{}`",
                r.target, r.table
            ));
        }
    }
    Ok(())
}
