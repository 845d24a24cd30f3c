//! Derive macros for `migrate`.
//!
//! `#[derive(Model)]` reads the struct with the one `#[model(...)]` grammar
//! (`migrate-grammar`) that migrate's CLI also uses to read model files, and
//! implements `migrate::models::Model`, whose `table()` returns the same
//! table description the CLI reads from the source.

use proc_macro::TokenStream;
use quote::quote;

/// Implements `migrate::models::Model` for a struct with named fields.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(input as syn::ItemStruct);
    match migrate_grammar::parse_struct(&item) {
        Ok(def) => {
            let text = def.to_toml();
            let ident = &item.ident;
            let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
            quote! {
                impl #impl_generics ::migrate::models::Model for #ident #ty_generics #where_clause {
                    fn table() -> ::migrate::schema::Table {
                        ::migrate::models::table_from_toml(#text)
                    }
                }
            }
            .into()
        }
        Err(e) => e.to_compile_error().into(),
    }
}
