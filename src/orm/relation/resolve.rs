//! Resolving a relationship against the foreign keys: which columns of
//! which tables join it. The derive checks the same at compile time with
//! [`foreign_key_count`]; what it cannot see is reported here, at first use.

use super::{ForeignKeyRef, ModelInfo, RelationDef, RelationError, RelationKind};

/// How a relationship joins, once checked against the foreign keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Columns of the owner's table that the join compares.
    pub owner_columns: Vec<&'static str>,
    /// The table joined to the owner: the target, or the association table.
    pub link_table: &'static str,
    /// Its columns, paired with `owner_columns`.
    pub link_columns: Vec<&'static str>,
    /// `many_to_many`: how the association table joins the target.
    pub through: Option<Through>,
    /// Positions of `owner_columns` among the owner's columns.
    pub owner_positions: Vec<usize>,
    /// Positions of `link_columns` among the target's columns (direct relationships).
    pub link_positions: Vec<usize>,
    /// The alias the target takes in joins and `EXISTS` when it is the
    /// owner's own table (a self-reference): the relationship's name.
    pub target_alias: Option<&'static str>,
}

/// The association table's side towards the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Through {
    /// The association table's columns referring to the target.
    pub columns: Vec<&'static str>,
    /// The target's columns they refer to.
    pub target_columns: Vec<&'static str>,
}

const fn same_str(a: &str, b: &str) -> bool {
    crate::orm::value::same_str(a, b)
}

const fn same_list(a: &[&str], b: &[&str]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !same_str(a[i], b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// How many foreign keys of `model` refer to `table` with `columns` (any
/// columns when empty): the derive's compile-time check that a
/// relationship's foreign key exists (exactly one must).
pub const fn foreign_key_count(model: &ModelInfo, table: &str, columns: &[&str]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < model.foreign_keys.len() {
        let fk = &model.foreign_keys[i];
        if same_str(fk.table, table) && (columns.is_empty() || same_list(fk.columns, columns)) {
            count += 1;
        }
        i += 1;
    }
    count
}

/// Whether `model` has the column `name` (the derive's check of `order_by`).
pub const fn has_column(model: &ModelInfo, name: &str) -> bool {
    let mut i = 0;
    while i < model.columns.len() {
        if same_str(model.columns[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

fn find_key<'a>(
    holder: &'a ModelInfo,
    table: &str,
    columns: &[&str],
    not: Option<&ForeignKeyRef>,
) -> Result<&'a ForeignKeyRef, String> {
    let matching: Vec<&ForeignKeyRef> = holder
        .foreign_keys
        .iter()
        .filter(|fk| fk.table == table && (columns.is_empty() || fk.columns == columns))
        .filter(|fk| not.is_none_or(|n| !std::ptr::eq(*fk, n)))
        .collect();
    let wanted = if columns.is_empty() { String::new() } else { format!(" ({})", columns.join(", ")) };
    match matching.as_slice() {
        [one] => Ok(one),
        [] => {
            Err(format!("{} (table `{}`) has no foreign key{wanted} referring to `{table}`", holder.name, holder.table))
        }
        _ => Err(format!(
            "{} (table `{}`) has several foreign keys referring to `{table}`: name one with foreign_key = \"..\"",
            holder.name, holder.table
        )),
    }
}

fn positions(model: &ModelInfo, columns: &[&'static str]) -> Result<Vec<usize>, String> {
    columns
        .iter()
        .map(|c| model.columns.iter().position(|m| m == c).ok_or_else(|| format!("{} has no column `{c}`", model.name)))
        .collect()
}

pub(super) fn resolve(def: &'static RelationDef) -> Result<Resolved, RelationError> {
    let spec = &def.spec;
    let invalid = |message: String| RelationError::Invalid {
        relation: format!("{} {}", spec.kind.keyword(), def.label()),
        message,
    };
    let (owner, target) = (spec.owner, spec.target);
    let (owner_columns, link_table, link_columns, through) = match spec.kind {
        RelationKind::BelongsTo => {
            let fk = find_key(owner, target.table, spec.foreign_key, None).map_err(invalid)?;
            (fk.columns.to_vec(), target.table, fk.referred.to_vec(), None)
        }
        RelationKind::HasMany | RelationKind::HasOne => {
            let fk = find_key(target, owner.table, spec.foreign_key, None).map_err(invalid)?;
            (fk.referred.to_vec(), target.table, fk.columns.to_vec(), None)
        }
        RelationKind::ManyToMany => {
            let Some(assoc) = spec.through else {
                return Err(invalid("many_to_many needs through = \"AssociationModel\"".into()));
            };
            if owner.table == target.table && (spec.foreign_key.is_empty() || spec.target_foreign_key.is_empty()) {
                return Err(invalid(format!(
                    "both sides are `{}`: name foreign_key and target_foreign_key on {}",
                    owner.table, assoc.name
                )));
            }
            let to_owner = find_key(assoc, owner.table, spec.foreign_key, None).map_err(invalid)?;
            let to_target = find_key(assoc, target.table, spec.target_foreign_key, Some(to_owner)).map_err(invalid)?;
            if to_owner.referred != owner.key {
                return Err(invalid(format!(
                    "{}'s foreign key ({}) must refer to {}'s primary key",
                    assoc.name,
                    to_owner.columns.join(", "),
                    owner.name
                )));
            }
            let through = Through { columns: to_target.columns.to_vec(), target_columns: to_target.referred.to_vec() };
            (to_owner.referred.to_vec(), assoc.table, to_owner.columns.to_vec(), Some(through))
        }
    };
    let owner_positions = positions(owner, &owner_columns).map_err(invalid)?;
    let link_positions = match through {
        None => positions(target, &link_columns).map_err(invalid)?,
        Some(_) => Vec::new(),
    };
    if let Some((missing, _)) = spec.order_by.iter().find(|(c, _)| !target.columns.contains(c)) {
        return Err(invalid(format!("order_by names `{missing}`, which is not a column of {}", target.name)));
    }
    if let Some(back) = spec.back_populates {
        check_back_populates(def, back()).map_err(invalid)?;
    }
    let target_alias = (owner.table == target.table && through.is_none()).then_some(spec.name);
    Ok(Resolved { owner_columns, link_table, link_columns, through, owner_positions, link_positions, target_alias })
}

/// See [`RelationDef::cascade_warnings`].
pub(super) fn cascade_warnings(def: &RelationDef, resolved: &Resolved) -> Vec<String> {
    let spec = &def.spec;
    if !matches!(spec.kind, RelationKind::HasMany | RelationKind::HasOne) {
        return Vec::new();
    }
    let key =
        spec.target.foreign_keys.iter().find(|fk| fk.table == spec.owner.table && fk.columns == resolved.link_columns);
    let Some(key) = key else { return Vec::new() };
    let columns = format!("{}({})", spec.target.table, key.columns.join(", "));
    let mut warnings = Vec::new();
    if key.on_delete_cascade && !spec.cascade.delete {
        warnings.push(format!(
            "{}: the foreign key {columns} is ON DELETE CASCADE but the relationship has no cascade = \"delete\": \
             deleting a {} in a session sets its loaded {} rows' key to NULL first; declare cascade = \"delete\" to agree \
             with the database",
            def.label(),
            spec.owner.name,
            spec.target.name
        ));
    }
    if spec.cascade.delete_orphan && key.nullable {
        warnings.push(format!(
            "{}: delete-orphan over the nullable foreign key {columns}: the session deletes the {} rows it takes out, \
             but the database keeps rows whose key is set to NULL elsewhere; make the key NOT NULL to agree",
            def.label(),
            spec.target.name
        ));
    }
    warnings
}

/// The two sides of a `back_populates` pair point at each other's models
/// with inverse kinds.
fn check_back_populates(def: &RelationDef, other: &RelationDef) -> Result<(), String> {
    let (a, b) = (&def.spec, &other.spec);
    let inverse = matches!(
        (a.kind, b.kind),
        (RelationKind::BelongsTo, RelationKind::HasMany | RelationKind::HasOne)
            | (RelationKind::HasMany | RelationKind::HasOne, RelationKind::BelongsTo)
            | (RelationKind::ManyToMany, RelationKind::ManyToMany)
    );
    if b.owner.table != a.target.table || b.target.table != a.owner.table || !inverse {
        return Err(format!(
            "back_populates = \"{}\": {} is a {} to {}, not the other side of this {}",
            b.name,
            other.label(),
            b.kind.keyword(),
            b.target.name,
            a.kind.keyword()
        ));
    }
    Ok(())
}
