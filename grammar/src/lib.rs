//! The one parser of the `#[model(...)]` attribute grammar.
//!
//! Both the `#[derive(Model)]` macro (at compile time) and migrate's model
//! reader (reading `.rs` files without compiling them) call [`parse_struct`],
//! and migrate builds the table from the one [`ModelDef`] it returns (the
//! derive emits it as Rust values): the two can never disagree. Everything
//! the grammar can check (types, the columns keys and indexes name) it
//! checks here, so the derive reports it at compile time.
//!
//! ```ignore
//! #[derive(Model)]
//! #[model(table = "users", comment = "people", index(columns = ["team_id", "email"]))]
//! #[model(check(expression = "length(email) > 3"))]
//! struct User {
//!     #[model(primary_key, autoincrement)]
//!     id: i64,
//!     #[model(max_length = 255, unique)]
//!     email: String,
//!     #[model(references = "teams.id", on_delete = "cascade", index)]
//!     team_id: Option<i32>,
//!     #[model(renamed_from = "name", comment = "shown")]
//!     full_name: Option<String>,
//!     #[model(sql_type = "numeric(10,2)", default = "0")]
//!     balance: rust_decimal::Decimal,
//!     #[model(enum_type = "mood", values = ["sad", "ok"], default = "'ok'")]
//!     mood: String,
//! }
//! ```

pub mod revision_files;

use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Fields, GenericArgument, ItemStruct, Lit, PathArguments, Type};

/// A model struct, as the grammar reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDef {
    /// The table.
    pub name: String,
    /// Its previous name.
    pub renamed_from: Option<String>,
    /// Table comment.
    pub comment: Option<String>,
    /// Columns, in field order.
    pub columns: Vec<ColumnDef>,
    /// Table-level indexes.
    pub indexes: Vec<IndexDef>,
    /// Table-level unique constraints.
    pub unique_constraints: Vec<UniqueDef>,
    /// Table-level (multi-column) foreign keys.
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Check constraints.
    pub checks: Vec<CheckDef>,
    /// Fields marked `#[model(skip)]`: not columns.
    pub skipped: Vec<String>,
    /// Relationship fields (`has_many(..)`, ...): not columns either.
    pub relations: Vec<RelationDef>,
    /// `#[model(hooks)]`: the model implements `migrate::orm::Hooks` itself
    /// (otherwise the derive implements it with every hook a no-op).
    pub hooks: bool,
}

/// Which way a relationship goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// Many-to-one: this model's foreign key refers to the target.
    BelongsTo,
    /// One-to-many: the target's foreign key refers to this model.
    HasMany,
    /// One-to-one: the target's foreign key refers to this model, one row.
    HasOne,
    /// Many-to-many through an association model with a foreign key to each side.
    ManyToMany,
}

impl RelationKind {
    /// The attribute that declares it (`has_many`).
    pub fn keyword(self) -> &'static str {
        match self {
            RelationKind::BelongsTo => "belongs_to",
            RelationKind::HasMany => "has_many",
            RelationKind::HasOne => "has_one",
            RelationKind::ManyToMany => "many_to_many",
        }
    }

    /// Whether it holds a collection.
    pub fn is_collection(self) -> bool {
        matches!(self, RelationKind::HasMany | RelationKind::ManyToMany)
    }
}

/// How a relationship loads when a query names no option for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadDefault {
    /// Not loaded: reading it is an error (`load = "raise"`, the default).
    Raise,
    /// A second statement per level (`load = "selectin"`).
    Selectin,
    /// A `LEFT JOIN` in the query (`load = "joined"`, to-one only).
    Joined,
}

/// What a session does to related objects when their owner changes
/// (`cascade = "save-update, delete, delete-orphan"`, SQLAlchemy's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cascade {
    /// Deleting the owner deletes its children (`delete`; `has_many` and
    /// `has_one`), loaded or not, children first, and theirs in turn.
    pub delete: bool,
    /// A child taken out of its owner's collection is deleted instead of
    /// having its foreign key set to `NULL` (`delete-orphan`).
    pub delete_orphan: bool,
}

impl Cascade {
    /// Reads a cascade list: `save-update` (always on: an object is in the
    /// session before it can be attached, so it is flushed with its owner),
    /// `delete`, `delete-orphan`, and `all` (`save-update, delete`), comma
    /// separated; an error names an unknown item, or `delete` and
    /// `delete-orphan` on a relationship that is not `has_many`/`has_one`.
    pub fn parse(text: &str, kind: RelationKind) -> Result<Cascade, String> {
        let mut cascade = Cascade::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "save-update" => {}
                "delete" | "all" => cascade.delete = true,
                "delete-orphan" => cascade.delete_orphan = true,
                other => {
                    return Err(format!(
                        "unknown cascade \"{other}\": expected save-update, delete, delete-orphan or all"
                    ));
                }
            }
        }
        if (cascade.delete || cascade.delete_orphan) && !matches!(kind, RelationKind::HasMany | RelationKind::HasOne) {
            return Err(format!(
                "cascade delete and delete-orphan are for has_many and has_one (the owner's children), not {}",
                kind.keyword()
            ));
        }
        Ok(cascade)
    }

    /// The list as written, `save-update` first (what `parse` reads back).
    pub fn to_list(self) -> String {
        let mut items = vec!["save-update"];
        if self.delete {
            items.push("delete");
        }
        if self.delete_orphan {
            items.push("delete-orphan");
        }
        items.join(", ")
    }
}

/// A relationship field: `#[model(has_many(Post, foreign_key = "user_id"))] posts: Many<Post>`.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationDef {
    /// The Rust field.
    pub field: String,
    /// Its kind.
    pub kind: RelationKind,
    /// The related model's Rust path, as written (`Post`, `crate::blog::Post`).
    pub target: String,
    /// The foreign key's columns: on this model (`belongs_to`), on the
    /// target (`has_many`, `has_one`) or on the association model
    /// (`many_to_many`, the key to this model). Empty: the one foreign key there is.
    pub foreign_key: Vec<String>,
    /// `many_to_many`: the association model's Rust path.
    pub through: Option<String>,
    /// `many_to_many`: the association model's foreign key to the target (empty: inferred).
    pub target_foreign_key: Vec<String>,
    /// The target's relationship that is the other side of this one.
    pub back_populates: Option<String>,
    /// Order of a collection: target columns, each optionally ` desc`.
    pub order_by: Vec<(String, bool)>,
    /// The default loading strategy.
    pub load: LoadDefault,
    /// What deleting the owner or removing a child does (`cascade = ".."`).
    pub cascade: Cascade,
}

/// `foreign_key(name = "..", columns = [..], references = "table", referred_columns = [..], on_delete = "..")`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKeyDef {
    /// Name (by convention when absent).
    pub name: Option<String>,
    /// Columns of this table.
    pub columns: Vec<String>,
    /// The table referred to.
    pub referred_table: String,
    /// Its columns.
    pub referred_columns: Vec<String>,
    /// Action.
    pub on_delete: Option<String>,
    /// Action.
    pub on_update: Option<String>,
}

/// A field.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Column name (the field's, or `name = ".."`).
    pub name: String,
    /// The Rust field (`r#type` for a raw identifier).
    pub field: String,
    /// The field's Rust type, as written.
    pub rust_type: String,
    /// The column's type.
    pub ty: TypeDef,
    /// From `Option<T>`.
    pub nullable: bool,
    /// SQL text of the default.
    pub default: Option<String>,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Identity / AUTO_INCREMENT.
    pub autoincrement: bool,
    /// Unique on its own.
    pub unique: bool,
    /// Indexed on its own.
    pub index: bool,
    /// `table.column` it refers to.
    pub references: Option<String>,
    /// The Rust model of the table referred to (`references_model = "Team"`),
    /// so that the derive checks the two columns' types agree.
    pub references_model: Option<String>,
    /// Foreign-key action.
    pub on_delete: Option<String>,
    /// Foreign-key action.
    pub on_update: Option<String>,
    /// Column comment.
    pub comment: Option<String>,
    /// Previous name.
    pub renamed_from: Option<String>,
    /// The version counter of optimistic concurrency (`#[model(version)]`):
    /// the ORM's updates and deletes compare and advance it.
    pub version: bool,
    /// The built-in Rust type a custom-type field is stored as
    /// (`#[model(base = "String")] email: Email`), which gives the column
    /// its type; the derive checks that it is the field type's
    /// `CustomType::Base`.
    pub base: Option<String>,
}

/// A column type: portable type text (`varchar(255)`), or an enum.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeDef {
    /// `integer`, `varchar(255)`, ...
    Name(String),
    /// `enum_type = "mood", values = ["sad", "ok"]`.
    Enum {
        /// The enum type's name.
        name: String,
        /// Its values, in order.
        values: Vec<String>,
    },
}

/// `index(name = "..", columns = [..], unique, where = "..")`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    /// Name (by convention when absent).
    pub name: Option<String>,
    /// Columns, in order.
    pub columns: Vec<String>,
    /// Unique index.
    pub unique: bool,
    /// Partial-index predicate.
    pub predicate: Option<String>,
}

/// `unique(name = "..", columns = [..])`.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueDef {
    /// Name (by convention when absent).
    pub name: Option<String>,
    /// Columns.
    pub columns: Vec<String>,
}

/// `check(name = "..", expression = "..")`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDef {
    /// Name (by convention when absent).
    pub name: Option<String>,
    /// SQL expression.
    pub expression: String,
}

/// Whether an item derives `Model`.
pub fn derives_model(item: &ItemStruct) -> bool {
    item.attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|meta| {
            found |= meta.path.segments.last().is_some_and(|s| s.ident == "Model");
            Ok(())
        });
        found
    })
}

/// Reads a model struct: its `#[model(...)]` attributes and fields.
pub fn parse_struct(item: &ItemStruct) -> syn::Result<ModelDef> {
    let mut def = ModelDef {
        name: snake_case(&item.ident.to_string()),
        renamed_from: None,
        comment: None,
        columns: Vec::new(),
        indexes: Vec::new(),
        unique_constraints: Vec::new(),
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        skipped: Vec::new(),
        relations: Vec::new(),
        hooks: false,
    };
    for attr in model_attrs(&item.attrs) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            match key.as_str() {
                "table" => def.name = string(&meta)?,
                "renamed_from" => def.renamed_from = Some(string(&meta)?),
                "comment" => def.comment = Some(string(&meta)?),
                "hooks" => def.hooks = true,
                "index" => {
                    let mut index = IndexDef { name: None, columns: Vec::new(), unique: false, predicate: None };
                    meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident().map(|i| i.to_string()).unwrap_or_default().as_str() {
                            "name" => index.name = Some(string(&inner)?),
                            "columns" => index.columns = strings(&inner)?,
                            "unique" => index.unique = true,
                            "where" => index.predicate = Some(string(&inner)?),
                            _ => return Err(inner.error("unknown index attribute (name, columns, unique, where)")),
                        }
                        Ok(())
                    })?;
                    def.indexes.push(index);
                }
                "unique" => {
                    let mut unique = UniqueDef { name: None, columns: Vec::new() };
                    meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident().map(|i| i.to_string()).unwrap_or_default().as_str() {
                            "name" => unique.name = Some(string(&inner)?),
                            "columns" => unique.columns = strings(&inner)?,
                            _ => return Err(inner.error("unknown unique attribute (name, columns)")),
                        }
                        Ok(())
                    })?;
                    def.unique_constraints.push(unique);
                }
                "foreign_key" => {
                    let mut fk = ForeignKeyDef {
                        name: None,
                        columns: Vec::new(),
                        referred_table: String::new(),
                        referred_columns: Vec::new(),
                        on_delete: None,
                        on_update: None,
                    };
                    meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident().map(|i| i.to_string()).unwrap_or_default().as_str() {
                            "name" => fk.name = Some(string(&inner)?),
                            "columns" => fk.columns = strings(&inner)?,
                            "references" => fk.referred_table = string(&inner)?,
                            "referred_columns" => fk.referred_columns = strings(&inner)?,
                            "on_delete" => fk.on_delete = Some(action(&inner)?),
                            "on_update" => fk.on_update = Some(action(&inner)?),
                            _ => {
                                return Err(inner.error(
                                    "unknown foreign_key attribute (name, columns, references, referred_columns, \
                                     on_delete, on_update)",
                                ));
                            }
                        }
                        Ok(())
                    })?;
                    def.foreign_keys.push(fk);
                }
                "check" => {
                    let mut check = CheckDef { name: None, expression: String::new() };
                    meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident().map(|i| i.to_string()).unwrap_or_default().as_str() {
                            "name" => check.name = Some(string(&inner)?),
                            "expression" => check.expression = string(&inner)?,
                            _ => return Err(inner.error("unknown check attribute (name, expression)")),
                        }
                        Ok(())
                    })?;
                    def.checks.push(check);
                }
                _ => {
                    return Err(meta.error(
                        "unknown model attribute (table, renamed_from, comment, hooks, index(..), unique(..), foreign_key(..), check(..))",
                    ));
                }
            }
            Ok(())
        })?;
    }
    let Fields::Named(fields) = &item.fields else {
        return Err(syn::Error::new(item.span(), "a model is a struct with named fields"));
    };
    for field in &fields.named {
        let Some(ident) = field.ident.as_ref() else {
            return Err(syn::Error::new(field.span(), "a model field needs a name"));
        };
        if let Some(relation) = relation(ident, &field.attrs)? {
            def.relations.push(relation);
            continue;
        }
        if is_skipped(&field.attrs)? {
            def.skipped.push(ident.to_string());
            continue;
        }
        let (rust_type, nullable) = unwrap_option(&field.ty);
        let ty = &field.ty;
        let mut column = ColumnDef {
            field: ident.to_string(),
            rust_type: quote_type(ty),
            name: ident.to_string().trim_start_matches("r#").to_string(),
            ty: TypeDef::Name(String::new()),
            nullable,
            default: None,
            primary_key: false,
            autoincrement: false,
            unique: false,
            index: false,
            references: None,
            references_model: None,
            on_delete: None,
            on_update: None,
            comment: None,
            renamed_from: None,
            version: false,
            base: None,
        };
        let mut version = None;
        let mut sql_type = None;
        let mut max_length = None;
        let mut enum_type = None;
        let mut values = Vec::new();
        let mut base: Option<Type> = None;
        for attr in model_attrs(&field.attrs) {
            attr.parse_nested_meta(|meta| {
                match meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default().as_str() {
                    "name" => column.name = string(&meta)?,
                    "primary_key" => column.primary_key = true,
                    "autoincrement" => column.autoincrement = true,
                    "unique" => column.unique = true,
                    "index" => column.index = true,
                    "max_length" => max_length = Some(integer(&meta)?),
                    "sql_type" => {
                        let value: syn::LitStr = meta.value()?.parse()?;
                        if !is_portable_type(&value.value()) {
                            return Err(syn::Error::new(
                                value.span(),
                                format!(
                                    "unknown type `{}` (portable types: smallint, integer, bigint, boolean, real, \
                                     double, numeric(p,s), varchar(n), char(n), text, date, time, timestamp, \
                                     timestamptz, uuid, json, binary, <type>[])",
                                    value.value()
                                ),
                            ));
                        }
                        sql_type = Some(value.value());
                    }
                    "skip" => {}
                    "base" => {
                        let value: syn::LitStr = meta.value()?.parse()?;
                        base = Some(value.parse::<Type>()?);
                    }
                    "version" => {
                        column.version = true;
                        version = Some(meta.path.span());
                    }
                    "enum_type" => enum_type = Some(string(&meta)?),
                    "values" => values = strings(&meta)?,
                    "default" => column.default = Some(string(&meta)?),
                    "references" => column.references = Some(string(&meta)?),
                    "references_model" => {
                        let value: syn::LitStr = meta.value()?.parse()?;
                        value.parse::<syn::Path>()?;
                        column.references_model = Some(value.value());
                    }
                    "on_delete" => column.on_delete = Some(action(&meta)?),
                    "on_update" => column.on_update = Some(action(&meta)?),
                    "renamed_from" => column.renamed_from = Some(string(&meta)?),
                    "comment" => column.comment = Some(string(&meta)?),
                    _ => {
                        return Err(meta.error(
                            "unknown field attribute (name, primary_key, autoincrement, unique, index, max_length, \
                             sql_type, base, enum_type, values, default, references, references_model, on_delete, on_update, \
                             renamed_from, comment, version, skip)",
                        ));
                    }
                }
                Ok(())
            })?;
        }
        column.ty = match (enum_type, sql_type) {
            (Some(name), _) if !values.is_empty() => TypeDef::Enum { name, values },
            (Some(_), _) => return Err(syn::Error::new(field.span(), "enum_type needs values = [...]")),
            (None, Some(ty)) => TypeDef::Name(ty),
            (None, None) => TypeDef::Name(portable_type(base.as_ref().unwrap_or(rust_type), max_length)?),
        };
        column.base = base.as_ref().map(quote_type);
        if column.primary_key && nullable {
            return Err(syn::Error::new(field.ty.span(), "a primary-key column cannot be an Option"));
        }
        if let Some(span) = version {
            let integer =
                matches!(&column.ty, TypeDef::Name(t) if ["smallint", "integer", "bigint"].contains(&t.as_str()));
            if !integer || nullable {
                return Err(syn::Error::new(
                    field.ty.span(),
                    "#[model(version)] needs a non-null integer field (i16, i32 or i64)",
                ));
            }
            if column.primary_key {
                return Err(syn::Error::new(span, "#[model(version)] cannot be on a primary-key column"));
            }
            if def.columns.iter().any(|c| c.version) {
                return Err(syn::Error::new(span, "a model has at most one #[model(version)] column"));
            }
        }
        if def.columns.iter().any(|c| c.name == column.name) {
            return Err(syn::Error::new(field.span(), format!("column `{}` is declared twice", column.name)));
        }
        if let Some(reference) = &column.references
            && reference.rsplit_once('.').is_none_or(|(t, c)| t.is_empty() || c.is_empty())
        {
            return Err(syn::Error::new(
                field.span(),
                format!("references = \"{reference}\" should be \"table.column\""),
            ));
        }
        if column.references_model.is_some() && column.references.is_none() {
            return Err(syn::Error::new(field.span(), "references_model needs references = \"table.column\""));
        }
        def.columns.push(column);
    }
    check_named_columns(&def, item)?;
    check_relations(&def, item)?;
    Ok(def)
}

/// A `belongs_to` names columns of this model: they must exist and refer
/// somewhere. Names must not repeat a column's.
fn check_relations(def: &ModelDef, item: &ItemStruct) -> syn::Result<()> {
    for r in &def.relations {
        let span = item
            .fields
            .iter()
            .find(|f| f.ident.as_ref().is_some_and(|i| *i == r.field))
            .map_or(item.ident.span(), |f| f.span());
        if def.columns.iter().any(|c| c.name == r.field) {
            return Err(syn::Error::new(span, format!("relationship `{}` has the name of a column", r.field)));
        }
        if r.kind != RelationKind::BelongsTo {
            continue;
        }
        for fk in &r.foreign_key {
            let Some(column) = def.columns.iter().find(|c| &c.name == fk) else {
                return Err(syn::Error::new(
                    span,
                    format!("belongs_to(.., foreign_key = \"{fk}\"): `{fk}` is not a column of this model"),
                ));
            };
            let declared = column.references.is_some() || def.foreign_keys.iter().any(|f| f.columns.contains(fk));
            if !declared {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "belongs_to(.., foreign_key = \"{fk}\"): column `{fk}` has no foreign key (add references = \"table.column\")"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Reads a relationship attribute (`has_many(Post, ...)`), if the field has
/// one; a relationship field takes no other attribute.
fn relation(ident: &syn::Ident, attrs: &[Attribute]) -> syn::Result<Option<RelationDef>> {
    let mut found: Option<RelationDef> = None;
    let mut other = None;
    for attr in model_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            let kind = match meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default().as_str() {
                "belongs_to" => RelationKind::BelongsTo,
                "has_many" => RelationKind::HasMany,
                "has_one" => RelationKind::HasOne,
                "many_to_many" => RelationKind::ManyToMany,
                _ => {
                    other = Some(meta.path.span());
                    if meta.input.peek(syn::Token![=]) {
                        let _: Expr = meta.value()?.parse()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        let _ = meta.parse_nested_meta(|_| Ok(()));
                    }
                    return Ok(());
                }
            };
            if found.is_some() {
                return Err(meta.error("a field holds one relationship"));
            }
            found = Some(relation_args(ident, kind, &meta)?);
            Ok(())
        })?;
    }
    match (found, other) {
        (Some(_), Some(span)) => {
            Err(syn::Error::new(span, "a relationship field is not a column: it takes no other attribute"))
        }
        (found, _) => Ok(found),
    }
}

fn relation_args(
    ident: &syn::Ident,
    kind: RelationKind,
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<RelationDef> {
    let mut r = RelationDef {
        field: ident.to_string(),
        kind,
        target: String::new(),
        foreign_key: Vec::new(),
        through: None,
        target_foreign_key: Vec::new(),
        back_populates: None,
        order_by: Vec::new(),
        load: LoadDefault::Raise,
        cascade: Cascade::default(),
    };
    let keyword = kind.keyword();
    meta.parse_nested_meta(|inner| {
        let has_value = inner.input.peek(syn::Token![=]);
        if !has_value && r.target.is_empty() {
            use quote::ToTokens;
            r.target = inner.path.to_token_stream().to_string().replace(' ', "");
            return Ok(());
        }
        match inner.path.get_ident().map(|i| i.to_string()).unwrap_or_default().as_str() {
            "foreign_key" => r.foreign_key = string_or_strings(&inner)?,
            "target_foreign_key" if kind == RelationKind::ManyToMany => {
                r.target_foreign_key = string_or_strings(&inner)?
            }
            "through" if kind == RelationKind::ManyToMany => {
                let value: syn::LitStr = inner.value()?.parse()?;
                value.parse::<syn::Path>()?;
                r.through = Some(value.value());
            }
            "back_populates" => r.back_populates = Some(string(&inner)?),
            "order_by" => {
                for item in string_or_strings(&inner)? {
                    let mut words = item.split_whitespace();
                    let column = words.next().unwrap_or_default().to_string();
                    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                        None | Some("asc") => false,
                        Some("desc") => true,
                        Some(_) => return Err(inner.error("order_by items are \"column\", \"column asc\" or \"column desc\"")),
                    };
                    if column.is_empty() || words.next().is_some() {
                        return Err(inner.error("order_by items are \"column\", \"column asc\" or \"column desc\""));
                    }
                    r.order_by.push((column, descending));
                }
            }
            "load" => {
                let value: syn::LitStr = inner.value()?.parse()?;
                r.load = match value.value().as_str() {
                    "raise" => LoadDefault::Raise,
                    "selectin" => LoadDefault::Selectin,
                    "joined" if !kind.is_collection() => LoadDefault::Joined,
                    "joined" => {
                        return Err(syn::Error::new(
                            value.span(),
                            "joined loading is for belongs_to and has_one; load a collection with selectin",
                        ));
                    }
                    _ => return Err(syn::Error::new(value.span(), "expected raise, selectin or joined")),
                };
            }
            "cascade" => {
                let value: syn::LitStr = inner.value()?.parse()?;
                r.cascade = Cascade::parse(&value.value(), kind).map_err(|m| syn::Error::new(value.span(), m))?;
            }
            _ => {
                let extra = if kind == RelationKind::ManyToMany { "through, target_foreign_key, " } else { "" };
                return Err(inner.error(format!(
                    "unknown {keyword} attribute (the target model first, then {extra}foreign_key, back_populates, order_by, load, cascade)"
                )));
            }
        }
        Ok(())
    })?;
    if r.target.is_empty() {
        return Err(meta.error(format!("{keyword}(..) names the related model first: {keyword}(Post, ..)")));
    }
    if kind == RelationKind::ManyToMany && r.through.is_none() {
        return Err(meta.error("many_to_many(..) needs through = \"AssociationModel\""));
    }
    Ok(r)
}

fn string_or_strings(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Vec<String>> {
    let value = meta.value()?;
    if value.peek(syn::LitStr) {
        let s: syn::LitStr = value.parse()?;
        return Ok(vec![s.value()]);
    }
    let array: syn::ExprArray = value.parse()?;
    array
        .elems
        .iter()
        .map(|e| match e {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(s.value()),
            other => Err(syn::Error::new(other.span(), "expected a string")),
        })
        .collect()
}

/// Every column a table-level index, unique constraint or foreign key names
/// must be a column of the model.
fn check_named_columns(def: &ModelDef, item: &ItemStruct) -> syn::Result<()> {
    let lists = def
        .indexes
        .iter()
        .map(|i| ("index", &i.columns))
        .chain(def.unique_constraints.iter().map(|u| ("unique", &u.columns)))
        .chain(def.foreign_keys.iter().map(|f| ("foreign_key", &f.columns)));
    for (what, columns) in lists {
        if columns.is_empty() {
            return Err(syn::Error::new(item.ident.span(), format!("{what}(..) needs columns = [...]")));
        }
        if let Some(missing) = columns.iter().find(|c| !def.columns.iter().any(|col| &col.name == *c)) {
            return Err(syn::Error::new(
                item.ident.span(),
                format!("{what}(..) names `{missing}`, which is not a column"),
            ));
        }
    }
    Ok(())
}

/// Whether a field carries `#[model(skip)]` (then it may carry nothing else).
fn is_skipped(attrs: &[Attribute]) -> syn::Result<bool> {
    let mut skip = None;
    let mut other = None;
    for attr in model_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                skip = Some(meta.path.span());
            } else {
                other = Some(meta.path.span());
                // Values are read by the column parser; skip them here.
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _ = meta.parse_nested_meta(|_| Ok(()));
                }
            }
            Ok(())
        })?;
    }
    match (skip, other) {
        (Some(_), Some(span)) => {
            Err(syn::Error::new(span, "a skipped field is not a column: it takes no other attribute"))
        }
        (skip, _) => Ok(skip.is_some()),
    }
}

/// A type as source text, without the spaces `to_token_stream` puts in.
fn quote_type(ty: &Type) -> String {
    use quote::ToTokens;
    ty.to_token_stream().to_string().replace(' ', "")
}

/// Whether `text` spells a portable type (`varchar(20)`), case-insensitively.
pub fn is_portable_type(text: &str) -> bool {
    if let Some(element) = text.trim().strip_suffix("[]") {
        return !element.trim().ends_with("[]") && is_portable_type(element);
    }
    let lower = text.trim().to_ascii_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((base, rest)) => {
            let Some(inner) = rest.strip_suffix(')') else { return false };
            let args: Result<Vec<u32>, _> = inner.split(',').map(|a| a.trim().parse::<u32>()).collect();
            match args {
                Ok(args) => (base.trim().to_string(), args.len()),
                Err(_) => return false,
            }
        }
        None => (lower, 0),
    };
    matches!(
        (base.as_str(), args),
        ("smallint" | "integer" | "bigint" | "boolean" | "real" | "double" | "text" | "date" | "time", 0)
            | ("timestamp" | "timestamptz" | "uuid" | "json" | "binary", 0)
            | ("numeric", 0..=2)
            | ("varchar" | "char", 0..=1)
    )
}

fn model_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("model"))
}

fn string(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<String> {
    let value: syn::LitStr = meta.value()?.parse()?;
    Ok(value.value())
}

fn integer(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<u32> {
    let value: syn::LitInt = meta.value()?.parse()?;
    value.base10_parse()
}

fn strings(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Vec<String>> {
    let array: syn::ExprArray = meta.value()?.parse()?;
    array
        .elems
        .iter()
        .map(|e| match e {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(s.value()),
            other => Err(syn::Error::new(other.span(), "expected a string")),
        })
        .collect()
}

fn action(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<String> {
    let value: syn::LitStr = meta.value()?.parse()?;
    let action = value.value().to_ascii_lowercase().replace(' ', "_");
    match action.as_str() {
        "restrict" | "cascade" | "set_null" | "set_default" => Ok(action),
        _ => Err(syn::Error::new(value.span(), "expected restrict, cascade, set_null or set_default")),
    }
}

/// `Option<T>` -> (T, true); anything else -> (it, false).
fn unwrap_option(ty: &Type) -> (&Type, bool) {
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && last.ident == "Option"
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(GenericArgument::Type(inner)) = args.args.first()
    {
        return (inner, true);
    }
    (ty, false)
}

/// The portable type of a Rust type.
fn portable_type(ty: &Type, max_length: Option<u32>) -> syn::Result<String> {
    let unknown = || {
        syn::Error::new(
            ty.span(),
            "unknown type for a column: use i16, i32, i64, bool, f32, f64, String, Vec<u8>, chrono::NaiveDate, \
             NaiveTime, NaiveDateTime, DateTime<Utc>, uuid::Uuid, serde_json::Value, rust_decimal::Decimal, \
             Vec<T> of one of these (a PostgreSQL array), or #[model(sql_type = \"...\")]; for a custom type, the type it is stored as: #[model(base = \"String\")]",
        )
    };
    let Type::Path(path) = ty else { return Err(unknown()) };
    let last = path.path.segments.last().ok_or_else(unknown)?;
    let name = last.ident.to_string();
    // `Vec<T>` (but `Vec<u8>`, bytes) is an array of T's type: PostgreSQL's `T[]`.
    if name == "Vec"
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(GenericArgument::Type(element)) = args.args.first()
        && !matches!(element, Type::Path(p) if p.path.is_ident("u8"))
    {
        let element = portable_type(element, max_length)?;
        return if element.ends_with("[]") { Err(unknown()) } else { Ok(format!("{element}[]")) };
    }
    let inner = match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.first().and_then(|a| match a {
            GenericArgument::Type(Type::Path(p)) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        }),
        _ => None,
    };
    Ok(match (name.as_str(), inner.as_deref()) {
        ("i16", _) => "smallint".into(),
        ("i32", _) => "integer".into(),
        ("i64", _) => "bigint".into(),
        ("bool", _) => "boolean".into(),
        ("f32", _) => "real".into(),
        ("f64", _) => "double".into(),
        ("String", _) => max_length.map_or("text".into(), |n| format!("varchar({n})")),
        ("Vec", Some("u8")) => "binary".into(),
        ("NaiveDate", _) => "date".into(),
        ("NaiveTime", _) => "time".into(),
        ("NaiveDateTime", _) => "timestamp".into(),
        ("DateTime", _) => "timestamptz".into(),
        ("Uuid", _) => "uuid".into(),
        ("Value", _) => "json".into(),
        ("Decimal", _) => "numeric".into(),
        _ => return Err(unknown()),
    })
}

/// `OrderLine` -> `order_line`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_struct_reads_as_a_table() {
        let item: ItemStruct = syn::parse_quote! {
            #[derive(Debug, Model)]
            #[model(table = "users", comment = "people", index(columns = ["team_id", "email"]))]
            #[model(check(expression = "length(email) > 3"))]
            struct User {
                #[model(primary_key, autoincrement)]
                id: i64,
                #[model(max_length = 255, unique)]
                email: String,
                #[model(references = "teams.id", on_delete = "cascade", index)]
                team_id: Option<i32>,
                #[model(sql_type = "numeric(10,2)", default = "0")]
                balance: Decimal,
                created: chrono::DateTime<chrono::Utc>,
            }
        };
        assert!(derives_model(&item));
        let def = parse_struct(&item).unwrap();
        assert_eq!(def.name, "users");
        let types: Vec<(&str, &str, bool)> = def
            .columns
            .iter()
            .map(|c| match &c.ty {
                TypeDef::Name(ty) => (c.name.as_str(), ty.as_str(), c.nullable),
                TypeDef::Enum { name, .. } => (c.name.as_str(), name.as_str(), c.nullable),
            })
            .collect();
        assert_eq!(
            types,
            [
                ("id", "bigint", false),
                ("email", "varchar(255)", false),
                ("team_id", "integer", true),
                ("balance", "numeric(10,2)", false),
                ("created", "timestamptz", false)
            ]
        );
        assert_eq!(snake_case("OrderLine"), "order_line");
    }

    #[test]
    fn errors_point_at_the_attribute_or_type() {
        let item: ItemStruct = syn::parse_quote! {
            struct T {
                #[model(primry_key)]
                id: i64,
            }
        };
        assert!(parse_struct(&item).unwrap_err().to_string().starts_with("unknown field attribute"));
        let item: ItemStruct = syn::parse_quote! { struct T { id: std::collections::HashMap<i32, i32> } };
        assert!(parse_struct(&item).unwrap_err().to_string().starts_with("unknown type for a column"));
    }

    #[test]
    fn a_custom_type_takes_its_column_type_from_its_base() {
        let item: ItemStruct = syn::parse_quote! {
            #[model(hooks)]
            struct T {
                #[model(primary_key)] id: i64,
                #[model(base = "String", max_length = 255)] email: Email,
                #[model(base = "i64")] price: Option<Money>,
                #[model(base = "serde_json::Value")] prefs: Prefs,
            }
        };
        let def = parse_struct(&item).unwrap();
        assert!(def.hooks);
        let types: Vec<(&TypeDef, Option<&str>, bool)> =
            def.columns.iter().map(|c| (&c.ty, c.base.as_deref(), c.nullable)).collect();
        let name = |n: &str| TypeDef::Name(n.into());
        assert_eq!(
            types,
            [
                (&name("bigint"), None, false),
                (&name("varchar(255)"), Some("String"), false),
                (&name("bigint"), Some("i64"), true),
                (&name("json"), Some("serde_json::Value"), false),
            ]
        );
        let item: ItemStruct = syn::parse_quote! {
            struct T { #[model(primary_key)] id: i64, tags: Vec<String>, #[model(max_length = 9)] codes: Option<Vec<String>>, ids: Vec<i64>, b: Vec<u8> }
        };
        let types: Vec<TypeDef> = parse_struct(&item).unwrap().columns.into_iter().map(|c| c.ty).collect();
        assert_eq!(types, [name("bigint"), name("text[]"), name("varchar(9)[]"), name("bigint[]"), name("binary")]);
        assert!(is_portable_type("numeric(10,2)[]") && !is_portable_type("text[][]"));
        let item: ItemStruct = syn::parse_quote! { struct T { #[model(primary_key)] id: i64, email: Email } };
        assert!(parse_struct(&item).unwrap_err().to_string().contains("#[model(base = \"String\")]"));
    }

    #[test]
    fn a_version_column_is_one_non_null_integer_outside_the_key() {
        let item: ItemStruct = syn::parse_quote! {
            struct T { #[model(primary_key)] id: i64, #[model(version)] v: i32 }
        };
        let def = parse_struct(&item).unwrap();
        assert_eq!(def.columns.iter().map(|c| c.version).collect::<Vec<_>>(), [false, true]);
        let needs_integer = "#[model(version)] needs a non-null integer field (i16, i32 or i64)";
        for item in [
            syn::parse_quote! { struct T { #[model(primary_key)] id: i64, #[model(version)] v: String } },
            syn::parse_quote! { struct T { #[model(primary_key)] id: i64, #[model(version)] v: Option<i64> } },
        ] {
            let error = parse_struct(&item).unwrap_err();
            assert_eq!(error.to_string(), needs_integer);
        }
        let item: ItemStruct = syn::parse_quote! { struct T { #[model(primary_key, version)] id: i64 } };
        assert!(parse_struct(&item).unwrap_err().to_string().contains("cannot be on a primary-key column"));
        let item: ItemStruct = syn::parse_quote! {
            struct T { #[model(primary_key)] id: i64, #[model(version)] a: i32, #[model(version)] b: i32 }
        };
        assert!(parse_struct(&item).unwrap_err().to_string().contains("at most one"));
    }
}
