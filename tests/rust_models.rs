//! Rust models: `#[derive(Model)]` and the CLI's reader of `.rs` files go
//! through one grammar and agree; the realistic shop in its Rust form is the
//! same schema as in its TOML form and round-trips on every backend.

mod common;
#[path = "fixtures/shop.rs"]
mod shop;

use common::each_backend;
use migrate::command::{self, NewRevision, RunOptions};
use migrate::config::Config;
use migrate::db::DatabaseUrl;
use migrate::models::{self, Model};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn derive_reader_and_toml_agree() {
    let read = models::load(root(), &["tests/fixtures/shop.rs".into()]).unwrap();
    let toml = models::load(root(), &["tests/fixtures/shop.toml".into()]).unwrap();
    assert_eq!(read.schema, toml.schema);
    let derived = vec![
        shop::Countries::table(),
        shop::Currencies::table(),
        shop::Customers::table(),
        shop::Addresses::table(),
        shop::Categories::table(),
        shop::Suppliers::table(),
        shop::Products::table(),
        shop::ProductImages::table(),
        shop::Tags::table(),
        shop::ProductTags::table(),
        shop::Warehouses::table(),
        shop::Stock::table(),
        shop::Orders::table(),
        shop::OrderLines::table(),
        shop::Payments::table(),
        shop::Shipments::table(),
        shop::ShipmentItems::table(),
        shop::Coupons::table(),
        shop::OrderCoupons::table(),
        shop::Reviews::table(),
        shop::Wishlists::table(),
        shop::WishlistItems::table(),
        shop::AuditLog::table(),
        shop::Settings::table(),
    ];
    assert_eq!(derived.len(), 24);
    for table in derived {
        assert_eq!(Some(&table), read.schema.table(&table.name), "{}", table.name);
    }
}

#[test]
fn rust_models_round_trip_on_every_backend() {
    each_backend("rust_models", |db| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("migrations/versions")).unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::copy(root().join("tests/fixtures/shop.rs"), dir.path().join("src/shop.rs")).unwrap();
        let toml = format!("database_url = \"{}\"\nmodels = [\"src/*.rs\"]\n", db.url);
        std::fs::write(dir.path().join("migrate.toml"), &toml).unwrap();
        let database = Config::parse(&toml, &dir.path().join("migrate.toml")).unwrap().database(None).unwrap();
        let url = DatabaseUrl::parse(&db.url).unwrap();
        let new = NewRevision { message: "shop".into(), ..NewRevision::default() };
        command::autogenerate(&url, &database, new.clone(), false, &mut |_| false).unwrap().unwrap();
        command::upgrade(&url, &database, "head", &RunOptions::default(), &mut |_| {}).unwrap();
        let drift = command::check(&url, &database).unwrap();
        assert!(drift.in_sync, "{:?}: {:#?}", db.backend(), drift.diff);
        assert!(command::autogenerate(&url, &database, new, false, &mut |_| false).unwrap().is_none());
    });
}
