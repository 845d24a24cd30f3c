//! Derive macros for `migrate`.
//!
//! `#[derive(Model)]` reads the struct with the one `#[model(...)]` grammar
//! (`migrate-grammar`) that migrate's CLI also uses to read model files. It
//! implements `migrate::models::Model` (the table description the CLI reads
//! from the source) and `migrate::orm::Model` (positional row decoding,
//! values, keys, memoised statements; `migrate::orm::Hooks` with every hook
//! a no-op unless the struct says `#[model(hooks)]`), and adds typed handles:
//! `User::TABLE`, `User::ALL` and one `Column` per field (`User::EMAIL`).
//!
//! `embed_migrations!("migrations")` compiles the revision files of a script
//! location into the program (see `docs/embedding.md`).

mod embed;

use migrate_grammar::{ColumnDef, LoadDefault, ModelDef, RelationDef, RelationKind};
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// Implements `migrate::models::Model` and `migrate::orm::Model` for a
/// struct with named fields, with a typed column handle per field.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(input as syn::ItemStruct);
    match expand(&item) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Compiles every revision file of a script location (`"migrations"` when
/// not given: the folder holding `versions/`, relative to the crate's
/// `Cargo.toml`) into the program, as a `migrate::script::EmbeddedMigrations`
/// with each file's checksum computed now. A malformed file is a compile
/// error naming the file and line. Cargo rebuilds when a file is edited;
/// for added and removed files the crate needs a `build.rs` (see
/// `docs/embedding.md`).
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    match embed::expand(input.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(item: &syn::ItemStruct) -> syn::Result<Tokens> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(item.generics.span(), "a model cannot be generic: it is one table"));
    }
    let def = migrate_grammar::parse_struct(item)?;
    let fields = field_types(item, &def)?;
    let ident = &item.ident;
    let def_tokens = model_def_tokens(&def);
    let table = &def.name;
    let columns: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    let key: Vec<&ColumnDef> = def.columns.iter().filter(|c| c.primary_key).collect();
    let key_names: Vec<&str> = key.iter().map(|c| c.name.as_str()).collect();
    let generated = match key.as_slice() {
        [one] if one.autoincrement => Some(one),
        _ => None,
    };
    let m = quote!(::migrate::orm);

    let handles = def.columns.iter().zip(&fields).map(|(c, ty)| {
        let konst = format_ident!("{}", c.field.trim_start_matches("r#").to_uppercase());
        let name = &c.name;
        let doc = format!("The `{name}` column.");
        quote! {
            #[doc = #doc]
            pub const #konst: #m::expr::Column<#ident, #ty> = #m::expr::Column::new(#table, #name);
        }
    });
    let field_idents: Vec<syn::Ident> =
        def.columns.iter().map(|c| field_ident(&c.field)).collect::<syn::Result<_>>()?;
    let skipped: Vec<syn::Ident> = def.skipped.iter().map(|f| field_ident(f)).collect::<syn::Result<_>>()?;
    let key_fields: Vec<&syn::Ident> =
        def.columns.iter().zip(&field_idents).filter(|(c, _)| c.primary_key).map(|(_, f)| f).collect();
    let key_types: Vec<&syn::Type> =
        def.columns.iter().zip(&fields).filter(|(c, _)| c.primary_key).map(|(_, t)| *t).collect();
    let (key_type, key_value) = match (key_fields.as_slice(), key_types.as_slice()) {
        ([], _) => {
            return Err(syn::Error::new(
                item.ident.span(),
                "a model needs a primary key: mark a field #[model(primary_key)]",
            ));
        }
        ([f], [t]) => (quote!(#t), quote!(::core::clone::Clone::clone(&self.#f))),
        (fs, ts) => (quote!((#(#ts,)*)), quote!((#(::core::clone::Clone::clone(&self.#fs),)*))),
    };
    let generated_tokens = match generated {
        Some(c) => {
            let name = &c.name;
            quote!(::core::option::Option::Some(#name))
        }
        None => quote!(::core::option::Option::None),
    };
    let (unset, set_key) = match generated.and_then(|g| def.columns.iter().position(|c| c.name == g.name)) {
        Some(at) => {
            let f = &field_idents[at];
            let span = fields[at].span();
            (
                quote_spanned!(span=> self.#f == 0),
                quote_spanned! {span=>
                    self.#f = ::core::convert::TryFrom::try_from(key)
                        .map_err(|_| #m::model::KeyRangeError { table: #table, key })?;
                    ::core::result::Result::Ok(())
                },
            )
        }
        None => (quote!(false), quote! { let _ = key; ::core::result::Result::Ok(()) }),
    };
    let checks = reference_checks(&def, &fields);
    let base_checks = base_checks(&def, &fields);
    let model_name = ident.to_string();
    let decode_fields = def.columns.iter().zip(&field_idents).map(|(c, f)| {
        let column = &c.name;
        quote!(#f: row.next().map_err(|e| e.in_model(#model_name, #column))?)
    });
    let hooks_impl = if def.hooks { quote!() } else { quote!(impl #m::Hooks for #ident {}) };
    let relations = relations(item, &def)?;
    let relation_inits = relations.inits.iter();
    let relation_items = &relations.items;
    let relations_impl = &relations.trait_impl;
    let relation_checks = &relations.checks;
    let (version_tokens, advance_version) = match def.columns.iter().position(|c| c.version) {
        Some(at) => {
            let (name, f) = (&def.columns[at].name, &field_idents[at]);
            (quote!(::core::option::Option::Some(#name)), quote!(self.#f = self.#f.wrapping_add(1);))
        }
        None => (quote!(::core::option::Option::None), quote!()),
    };

    let positions: Vec<usize> = (0..field_idents.len()).collect();

    Ok(quote! {
        impl ::migrate::models::Model for #ident {
            fn table() -> ::migrate::schema::Table {
                ::migrate::models::table_from_def(&#def_tokens)
            }
        }

        impl #ident {
            /// The model's table, for `FROM` and joins.
            pub const TABLE: #m::query::Table<#ident> = #m::query::Table::new(#table);
            /// Every column, in field order: `select(Model::ALL)` decodes as the model.
            pub const ALL: #m::query::AllColumns = #m::query::AllColumns { table: #table, columns: &[#(#columns),*] };
            #(#handles)*
        }

        impl #m::value::FromRow for #ident {
            fn from_row<R: #m::value::RowReader>(
                row: &mut R,
            ) -> ::core::result::Result<Self, ::migrate::dialect::query::DecodeError> {
                let mut object = #ident {
                    #(#decode_fields,)*
                    #(#skipped: ::core::default::Default::default(),)*
                    #(#relation_inits,)*
                };
                #m::Hooks::on_load(&mut object);
                ::core::result::Result::Ok(object)
            }

            fn from_row_joined<R: #m::value::RowReader>(
                row: &mut R,
                joined: &[#m::relation::JoinPlan],
            ) -> ::core::result::Result<Self, ::migrate::dialect::query::DecodeError> {
                let mut object = <Self as #m::value::FromRow>::from_row(row)?;
                #m::relation::Relations::decode_joined(&mut object, row, joined)?;
                ::core::result::Result::Ok(object)
            }

            fn plan(
                options: &[#m::relation::LoadOption],
            ) -> ::core::result::Result<::core::option::Option<::std::sync::Arc<#m::relation::Plan>>, #m::relation::RelationError> {
                #m::relation::plan_for::<Self>(options)
            }

            fn after_load<'a>(
                rows: &'a mut ::std::vec::Vec<Self>,
                conn: &'a mut #m::exec::Conn<'_>,
                plan: &'a #m::relation::Plan,
            ) -> #m::exec::BoxFuture<'a, ::core::result::Result<(), #m::Error>> {
                ::std::boxed::Box::pin(#m::relation::after_load_rows::<Self>(rows, conn, plan))
            }
        }

        impl #ident {
            #(#relation_items)*
        }

        #relations_impl
        #relation_checks

        impl #m::Model for #ident {
            const TABLE_NAME: &'static str = #table;
            const COLUMNS: &'static [&'static str] = &[#(#columns),*];
            const KEY: &'static [&'static str] = &[#(#key_names),*];
            const GENERATED: ::core::option::Option<&'static str> = #generated_tokens;
            const VERSION: ::core::option::Option<&'static str> = #version_tokens;
            type Key = #key_type;

            fn values(&self) -> ::std::vec::Vec<::migrate::dialect::query::Value<'_>> {
                ::std::vec![#(#m::value::SqlValue::to_value(&self.#field_idents)),*]
            }

            fn value(&self, column: usize) -> ::migrate::dialect::query::Value<'_> {
                match column {
                    #(#positions => #m::value::SqlValue::to_value(&self.#field_idents),)*
                    _ => ::migrate::dialect::query::Value::Null,
                }
            }

            fn key(&self) -> Self::Key {
                #key_value
            }

            fn generated_key_unset(&self) -> bool {
                #unset
            }

            // The key field may be an `i64` already.
            #[allow(clippy::useless_conversion)]
            fn set_generated_key(&mut self, key: i64) -> ::core::result::Result<(), #m::model::KeyRangeError> {
                #set_key
            }

            fn advance_version(&mut self) {
                #advance_version
            }

            fn set_value(&mut self, column: usize, value: &::migrate::dialect::query::Value<'_>) -> bool {
                match column {
                    #(#positions => match #m::value::SqlValue::from_value(value) {
                        ::core::option::Option::Some(v) => {
                            self.#field_idents = v;
                            true
                        }
                        ::core::option::Option::None => false,
                    },)*
                    _ => false,
                }
            }

            fn statements() -> &'static #m::ModelStatements {
                static STATEMENTS: #m::ModelStatements = #m::ModelStatements::new();
                &STATEMENTS
            }
        }

        #hooks_impl
        #checks
        #base_checks
    })
}

/// Compile-time checks that a `#[model(base = "..")]` field's custom type
/// is stored as the base named, pointing at the attribute's field.
fn base_checks(def: &ModelDef, fields: &[&syn::Type]) -> Tokens {
    let checks = def.columns.iter().zip(fields).filter_map(|(c, ty)| {
        // The grammar has parsed it as a type.
        let base: syn::Type = syn::parse_str(c.base.as_deref()?).ok()?;
        let span = ty.span();
        Some(quote_spanned! {span=>
            const _: () = ::migrate::orm::types::check_base::<#ty, #base>();
        })
    });
    quote!(#(#checks)*)
}

fn field_ident(name: &str) -> syn::Result<syn::Ident> {
    syn::parse_str::<syn::Ident>(name).map_err(|e| syn::Error::new(Span::call_site(), e))
}

/// The Rust type of each column's field, in column order.
fn field_types<'a>(item: &'a syn::ItemStruct, def: &ModelDef) -> syn::Result<Vec<&'a syn::Type>> {
    def.columns
        .iter()
        .map(|c| {
            item.fields
                .iter()
                .find(|f| f.ident.as_ref().is_some_and(|i| *i == c.field))
                .map(|f| &f.ty)
                .ok_or_else(|| syn::Error::new(item.ident.span(), format!("no field for column `{}`", c.name)))
        })
        .collect()
}

/// Compile-time checks that a column referring to a column of the same
/// model, or of the model `references_model` names, holds the same type
/// (nullability aside), pointing at the field.
fn reference_checks(def: &ModelDef, fields: &[&syn::Type]) -> Tokens {
    let checks = def.columns.iter().zip(fields).filter_map(|(c, ty)| {
        let (table, column) = c.references.as_deref()?.rsplit_once('.')?;
        if let Some(model) = &c.references_model {
            // The grammar has parsed it as a path.
            let model: syn::Path = syn::parse_str(model).ok()?;
            let konst = format_ident!("{}", column.to_uppercase());
            let span = ty.span();
            let message = format!("references_model: {} is not the model of table `{table}`", quote!(#model));
            return Some(quote_spanned! {span=>
                const _: () = ::migrate::orm::value::check_reference::<#ty, _, _>(#model::#konst);
                const _: () = ::core::assert!(
                    ::migrate::orm::value::same_str(<#model as ::migrate::orm::Model>::TABLE_NAME, #table),
                    #message
                );
            });
        }
        if table != def.name {
            return None;
        }
        let target = def.columns.iter().position(|t| t.name == column)?;
        let target_ty = fields[target];
        let span = ty.span();
        Some(quote_spanned! {span=>
            const _: () = ::migrate::orm::value::same_base::<#ty, #target_ty>();
        })
    });
    quote!(#(#checks)*)
}

fn string(s: &str) -> Tokens {
    quote!(::std::string::String::from(#s))
}

fn opt_string(s: &Option<String>) -> Tokens {
    match s {
        Some(s) => {
            let s = string(s);
            quote!(::core::option::Option::Some(#s))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn strings(list: &[String]) -> Tokens {
    let items = list.iter().map(|s| string(s));
    quote!(::std::vec![#(#items),*])
}

/// The model definition as Rust values, for `Model::table()` to build the
/// table from without parsing anything at run time.
fn model_def_tokens(def: &ModelDef) -> Tokens {
    let g = quote!(::migrate::models::grammar);
    let name = string(&def.name);
    let renamed_from = opt_string(&def.renamed_from);
    let comment = opt_string(&def.comment);
    let columns = def.columns.iter().map(|c| {
        let ty = match &c.ty {
            migrate_grammar::TypeDef::Name(n) => {
                let n = string(n);
                quote!(#g::TypeDef::Name(#n))
            }
            migrate_grammar::TypeDef::Enum { name, values } => {
                let (name, values) = (string(name), strings(values));
                quote!(#g::TypeDef::Enum { name: #name, values: #values })
            }
        };
        let (name, field, rust_type) = (string(&c.name), string(&c.field), string(&c.rust_type));
        let base = opt_string(&c.base);
        let (nullable, primary_key, autoincrement, unique, index, version) =
            (c.nullable, c.primary_key, c.autoincrement, c.unique, c.index, c.version);
        let (default, references, references_model, on_delete, on_update, comment, renamed_from) = (
            opt_string(&c.default),
            opt_string(&c.references),
            opt_string(&c.references_model),
            opt_string(&c.on_delete),
            opt_string(&c.on_update),
            opt_string(&c.comment),
            opt_string(&c.renamed_from),
        );
        quote!(#g::ColumnDef {
            name: #name, field: #field, rust_type: #rust_type, ty: #ty, nullable: #nullable,
            default: #default, primary_key: #primary_key, autoincrement: #autoincrement, unique: #unique,
            index: #index, references: #references, references_model: #references_model, on_delete: #on_delete, on_update: #on_update,
            comment: #comment, renamed_from: #renamed_from, version: #version, base: #base,
        })
    });
    let indexes = def.indexes.iter().map(|i| {
        let (name, columns, unique, predicate) =
            (opt_string(&i.name), strings(&i.columns), i.unique, opt_string(&i.predicate));
        quote!(#g::IndexDef { name: #name, columns: #columns, unique: #unique, predicate: #predicate })
    });
    let uniques = def.unique_constraints.iter().map(|u| {
        let (name, columns) = (opt_string(&u.name), strings(&u.columns));
        quote!(#g::UniqueDef { name: #name, columns: #columns })
    });
    let fks = def.foreign_keys.iter().map(|f| {
        let (name, columns, referred_table, referred_columns, on_delete, on_update) = (
            opt_string(&f.name),
            strings(&f.columns),
            string(&f.referred_table),
            strings(&f.referred_columns),
            opt_string(&f.on_delete),
            opt_string(&f.on_update),
        );
        quote!(#g::ForeignKeyDef {
            name: #name, columns: #columns, referred_table: #referred_table,
            referred_columns: #referred_columns, on_delete: #on_delete, on_update: #on_update,
        })
    });
    let checks = def.checks.iter().map(|c| {
        let (name, expression) = (opt_string(&c.name), string(&c.expression));
        quote!(#g::CheckDef { name: #name, expression: #expression })
    });
    let skipped = strings(&def.skipped);
    let hooks = def.hooks;
    quote!(#g::ModelDef {
        name: #name,
        renamed_from: #renamed_from,
        comment: #comment,
        columns: ::std::vec![#(#columns),*],
        indexes: ::std::vec![#(#indexes),*],
        unique_constraints: ::std::vec![#(#uniques),*],
        foreign_keys: ::std::vec![#(#fks),*],
        checks: ::std::vec![#(#checks),*],
        skipped: #skipped,
        relations: ::std::vec::Vec::new(),
        hooks: #hooks,
    })
}

/// What the derive emits for relationships.
struct RelationTokens {
    /// Field initialisers of `from_row`: each relationship not loaded.
    inits: Vec<Tokens>,
    /// Associated items: the handle constants and their definitions.
    items: Vec<Tokens>,
    /// `impl Relations`.
    trait_impl: Tokens,
    /// Compile-time checks against the foreign keys.
    checks: Tokens,
}

fn strs(list: &[String]) -> Tokens {
    quote!(&[#(#list),*])
}

/// Whether an `on_delete` action is `CASCADE`.
fn cascades(on_delete: Option<&str>) -> bool {
    on_delete.is_some_and(|action| action.eq_ignore_ascii_case("cascade"))
}

/// The model's foreign keys as constants: column `references` and
/// table-level `foreign_key(..)`s.
fn foreign_key_refs(def: &ModelDef) -> Tokens {
    let r = quote!(::migrate::orm::relation);
    let column_keys = def.columns.iter().filter_map(|c| {
        let (table, column) = c.references.as_deref()?.rsplit_once('.')?;
        let (name, nullable) = (&c.name, c.nullable);
        let cascades = cascades(c.on_delete.as_deref());
        Some(quote!(#r::ForeignKeyRef {
            columns: &[#name], table: #table, referred: &[#column], on_delete_cascade: #cascades, nullable: #nullable,
        }))
    });
    let table_keys = def.foreign_keys.iter().map(|f| {
        let (columns, table, referred) = (strs(&f.columns), &f.referred_table, strs(&f.referred_columns));
        let cascades = cascades(f.on_delete.as_deref());
        let nullable = f.columns.iter().all(|name| def.columns.iter().any(|c| c.name == *name && c.nullable));
        quote!(#r::ForeignKeyRef {
            columns: #columns, table: #table, referred: #referred, on_delete_cascade: #cascades, nullable: #nullable,
        })
    });
    let all: Vec<Tokens> = column_keys.chain(table_keys).collect();
    quote!(&[#(#all),*])
}

fn relations(item: &syn::ItemStruct, def: &ModelDef) -> syn::Result<RelationTokens> {
    let ident = &item.ident;
    let m = quote!(::migrate::orm);
    let r = quote!(#m::relation);
    let g = quote!(::migrate::models::grammar);
    let (mut inits, mut items, mut checks) = (Vec::new(), Vec::new(), Vec::new());
    let (mut fns, mut load_arms, mut joined_arms, mut takes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut values = Vec::new();
    let model_name = ident.to_string();
    let table = &def.name;
    for rel in &def.relations {
        let field = field_ident(&rel.field)?;
        let span = item
            .fields
            .iter()
            .find(|f| f.ident.as_ref().is_some_and(|i| *i == rel.field))
            .map_or(ident.span(), |f| f.span());
        let target: syn::Path = syn::parse_str(&rel.target).map_err(|e| syn::Error::new(span, e))?;
        let handle = rel.field.trim_start_matches("r#").to_uppercase();
        let konst = format_ident!("{}", handle);
        let def_fn = format_ident!("__relation_{}", rel.field.trim_start_matches("r#"));
        let name = rel.field.trim_start_matches("r#");
        let kind = match rel.kind {
            RelationKind::BelongsTo => quote!(#g::RelationKind::BelongsTo),
            RelationKind::HasMany => quote!(#g::RelationKind::HasMany),
            RelationKind::HasOne => quote!(#g::RelationKind::HasOne),
            RelationKind::ManyToMany => quote!(#g::RelationKind::ManyToMany),
        };
        let load = match rel.load {
            LoadDefault::Raise => quote!(#g::LoadDefault::Raise),
            LoadDefault::Selectin => quote!(#g::LoadDefault::Selectin),
            LoadDefault::Joined => quote!(#g::LoadDefault::Joined),
        };
        let (cascade_delete, cascade_orphan) = (rel.cascade.delete, rel.cascade.delete_orphan);
        let cascade = quote!(#g::Cascade { delete: #cascade_delete, delete_orphan: #cascade_orphan });
        let through: Option<syn::Path> =
            rel.through.as_deref().map(syn::parse_str).transpose().map_err(|e| syn::Error::new(span, e))?;
        let through_tokens = match &through {
            Some(t) => quote!(::core::option::Option::Some(&<#t as #r::Relations>::INFO)),
            None => quote!(::core::option::Option::None),
        };
        let back = match &rel.back_populates {
            Some(other) => {
                let other = format_ident!("{}", other.to_uppercase());
                quote_spanned!(span=> ::core::option::Option::Some(|| #target::#other.def()))
            }
            None => quote!(::core::option::Option::None),
        };
        let (fk, tfk) = (strs(&rel.foreign_key), strs(&rel.target_foreign_key));
        let order = rel.order_by.iter().map(|(c, d)| quote!((#c, #d)));
        let doc = format!("The `{name}` relationship ({} {}).", rel.kind.keyword(), rel.target);
        items.push(quote! {
            #[doc = #doc]
            pub const #konst: #r::Relation<#ident, #target> = #r::Relation::new(#ident::#def_fn);
        });
        items.push(quote_spanned! {span=>
            #[doc(hidden)]
            pub fn #def_fn() -> &'static #r::RelationDef {
                static DEF: #r::RelationDef = #r::RelationDef::new(#r::RelationSpec {
                    kind: #kind,
                    name: #name,
                    handle: #handle,
                    owner: &<#ident as #r::Relations>::INFO,
                    target: &<#target as #r::Relations>::INFO,
                    through: #through_tokens,
                    foreign_key: #fk,
                    target_foreign_key: #tfk,
                    back_populates: #back,
                    order_by: &[#(#order),*],
                    load: #load,
                    cascade: #cascade,
                });
                &DEF
            }
        });
        fns.push(quote!(#ident::#def_fn));
        let collection = rel.kind.is_collection();
        let init = if collection {
            quote_spanned!(span=> #field: #r::Many::unloaded(#ident::#def_fn))
        } else {
            quote_spanned!(span=> #field: #r::One::unloaded(#ident::#def_fn))
        };
        inits.push(init);
        let loader = if collection { quote!(load_many) } else { quote!(load_one) };
        // The other side of a has_many/has_one is a belongs_to: a copy of the parent.
        let back_fill = match (&rel.back_populates, rel.kind) {
            (Some(other), RelationKind::HasMany | RelationKind::HasOne) => {
                let other = format_ident!("{}", other);
                quote_spanned!(span=> |c: &mut #target, p: &#ident| #r::set_parent(&mut c.#other, p))
            }
            _ => quote!(|_, _| {}),
        };
        load_arms.push(quote_spanned! {span=>
            if ::core::ptr::eq(step.def, #ident::#def_fn()) {
                return ::std::boxed::Box::pin(
                    #r::#loader::<#ident, #target>(rows, step, conn, |m| &mut m.#field, #back_fill),
                );
            }
        });
        if !collection {
            joined_arms.push(quote_spanned! {span=>
                if ::core::ptr::eq(join.def, #ident::#def_fn()) {
                    self.#field = #r::decode_one::<#target, R>(row, join)?;
                    continue;
                }
            });
        }
        takes.push(quote!(#r::take_if_loaded(&mut self.#field, &mut from.#field);));
        values.push(quote! {
            if ::core::ptr::eq(def, #ident::#def_fn()) {
                return ::core::option::Option::Some(&mut self.#field);
            }
        });
        checks.push(relation_checks(ident, &model_name, table, rel, &target, through.as_ref(), span));
    }
    let foreign_keys = foreign_key_refs(def);
    let columns: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    let key: Vec<&str> = def.columns.iter().filter(|c| c.primary_key).map(|c| c.name.as_str()).collect();
    let trait_impl = quote! {
        impl #r::Relations for #ident {
            const INFO: #r::ModelInfo = #r::ModelInfo {
                name: #model_name,
                table: #table,
                columns: &[#(#columns),*],
                key: &[#(#key),*],
                foreign_keys: #foreign_keys,
                relations: &[#(#fns),*],
            };

            #[allow(unused_variables)]
            fn load_relation<'a>(
                rows: &'a mut [&mut Self],
                step: &'a #r::Step,
                conn: &'a mut #m::exec::Conn<'_>,
            ) -> #m::exec::BoxFuture<'a, ::core::result::Result<(), #m::Error>> {
                #(#load_arms)*
                ::std::boxed::Box::pin(::core::future::ready(::core::result::Result::Err(
                    #r::not_a_relation_of::<Self>(step.def),
                )))
            }

            #[allow(unused_variables)]
            fn decode_joined<R: #m::value::RowReader>(
                &mut self,
                row: &mut R,
                joined: &[#r::JoinPlan],
            ) -> ::core::result::Result<(), ::migrate::dialect::query::DecodeError> {
                for join in joined {
                    #(#joined_arms)*
                }
                ::core::result::Result::Ok(())
            }

            #[allow(unused_variables)]
            fn take_loaded(&mut self, from: &mut Self) {
                #(#takes)*
            }

            #[allow(unused_variables)]
            fn relation_value(
                &mut self,
                def: &'static #r::RelationDef,
            ) -> ::core::option::Option<&mut dyn ::core::any::Any> {
                #(#values)*
                ::core::option::Option::None
            }
        }
    };
    Ok(RelationTokens { inits, items, trait_impl, checks: quote!(#(#checks)*) })
}

/// Compile-time checks of one relationship against the foreign keys the
/// models declare, pointing at the field.
fn relation_checks(
    owner: &syn::Ident,
    model: &str,
    table: &str,
    rel: &RelationDef,
    target: &syn::Path,
    through: Option<&syn::Path>,
    span: Span,
) -> Tokens {
    let r = quote!(::migrate::orm::relation);
    let m = quote!(::migrate::orm);
    let keyword = rel.kind.keyword();
    let target_name = quote!(#target).to_string().replace(' ', "");
    let label = format!("{keyword}({target_name}, ..) on {model}.{}", rel.field);
    let wanted = |cols: &[String]| if cols.is_empty() { String::new() } else { format!(" ({})", cols.join(", ")) };
    let fk = strs(&rel.foreign_key);
    let mut out = Vec::new();
    match (rel.kind, through) {
        (RelationKind::BelongsTo, _) => {
            let message = format!(
                "{label}: {model} needs exactly one foreign key{} referring to {target_name}'s table (name it with foreign_key = \"..\")",
                wanted(&rel.foreign_key)
            );
            out.push(quote_spanned! {span=>
                const _: () = ::core::assert!(
                    #r::foreign_key_count(&<#owner as #r::Relations>::INFO, <#target as #m::Model>::TABLE_NAME, #fk) == 1,
                    #message
                );
            });
        }
        (RelationKind::HasMany | RelationKind::HasOne, _) => {
            let message = format!(
                "{label}: {target_name} needs exactly one foreign key{} referring to `{table}` (name it with foreign_key = \"..\")",
                wanted(&rel.foreign_key)
            );
            out.push(quote_spanned! {span=>
                const _: () = ::core::assert!(
                    #r::foreign_key_count(&<#target as #r::Relations>::INFO, #table, #fk) == 1,
                    #message
                );
            });
        }
        (RelationKind::ManyToMany, Some(through)) => {
            let through_name = quote!(#through).to_string().replace(' ', "");
            let tfk = strs(&rel.target_foreign_key);
            let to_owner = format!(
                "{label}: {through_name} needs a foreign key{} referring to `{table}`",
                wanted(&rel.foreign_key)
            );
            let to_target = format!(
                "{label}: {through_name} needs a foreign key{} referring to {target_name}'s table",
                wanted(&rel.target_foreign_key)
            );
            out.push(quote_spanned! {span=>
                const _: () = ::core::assert!(
                    #r::foreign_key_count(&<#through as #r::Relations>::INFO, #table, #fk) >= 1,
                    #to_owner
                );
                const _: () = ::core::assert!(
                    #r::foreign_key_count(&<#through as #r::Relations>::INFO, <#target as #m::Model>::TABLE_NAME, #tfk) >= 1,
                    #to_target
                );
            });
        }
        (RelationKind::ManyToMany, None) => {}
    }
    for (column, _) in &rel.order_by {
        let message = format!("{label}: order_by names `{column}`, which is not a column of {target_name}");
        out.push(quote_spanned! {span=>
            const _: () = ::core::assert!(#r::has_column(&<#target as #r::Relations>::INFO, #column), #message);
        });
    }
    quote!(#(#out)*)
}
