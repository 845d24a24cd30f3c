//! Derive macros for `migrate`.
//!
//! `#[derive(Model)]` reads the struct with the one `#[model(...)]` grammar
//! (`migrate-grammar`) that migrate's CLI also uses to read model files. It
//! implements `migrate::models::Model` (the table description the CLI reads
//! from the source) and `migrate::orm::Model` (positional row decoding,
//! values, keys, memoised statements), and adds typed handles:
//! `User::TABLE`, `User::ALL` and one `Column` per field (`User::EMAIL`).
//!
//! `embed_migrations!("migrations")` compiles the revision files of a script
//! location into the program (see `docs/embedding.md`).

mod embed;

use migrate_grammar::{ColumnDef, ModelDef};
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
    let (version_tokens, advance_version) = match def.columns.iter().position(|c| c.version) {
        Some(at) => {
            let (name, f) = (&def.columns[at].name, &field_idents[at]);
            (quote!(::core::option::Option::Some(#name)), quote!(self.#f = self.#f.wrapping_add(1);))
        }
        None => (quote!(::core::option::Option::None), quote!()),
    };

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
                ::core::result::Result::Ok(#ident {
                    #(#field_idents: row.next()?,)*
                    #(#skipped: ::core::default::Default::default(),)*
                })
            }
        }

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

            fn statements() -> &'static #m::ModelStatements {
                static STATEMENTS: #m::ModelStatements = #m::ModelStatements::new();
                &STATEMENTS
            }
        }

        #checks
    })
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
            comment: #comment, renamed_from: #renamed_from, version: #version,
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
    })
}
