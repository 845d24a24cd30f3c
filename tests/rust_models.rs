//! Rust models: `#[derive(Model)]` and the CLI's reader of `.rs` files go
//! through one grammar and agree; the realistic shop in its Rust form is the
//! same schema as in its TOML form and round-trips on every backend.

mod common;
#[path = "fixtures/shop.rs"]
mod shop;
// As generated for a project with rustfmt's default settings, not this crate's.
#[rustfmt::skip]
#[path = "fixtures/shop_generated.rs"]
#[allow(dead_code)]
mod shop_generated;

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

/// Corners of the grammar shop.toml does not reach: keywords and non-identifiers
/// as names, named constraints, types that need `sql_type`, attributes too
/// long for one line.
const CORNERS: &str = r#"
[[enums]]
name = "colour"
values = ["red", "green", "blue", "a rather long value to push the line", "another long value", "and one more"]

[[tables]]
name = "type"
comment = "a table comment long enough that its attribute cannot stay on one line of a hundred chars"
columns = [
    { name = "id", type = "integer", primary_key = true },
    { name = "type", type = "varchar", nullable = false, comment = "a column comment that is also long, so very long, longer than a line" },
    { name = "Line No", type = "numeric(5)" },
    { name = "self", type = "char" },
    { name = "hue", type = { enum = "colour" }, nullable = false, default = "'red'" },
    { name = "parent", type = "integer", index = true },
    { name = "quote", type = "text", default = "'it''s \"quoted\" \\ here'" },
]
unique_constraints = [{ name = "uq_named", columns = ["type"] }, { columns = ["hue", "parent"] }]
foreign_keys = [{ name = "fk_named", columns = ["parent"], referred_table = "type", referred_columns = ["id"], on_update = "cascade" }]
indexes = [{ columns = ["hue"], unique = true, where = "parent IS NOT NULL" }]
checks = [
    { expression = "id > 0" },
    { name = "ck_long", expression = "id < 1000000 AND parent IS NULL OR parent <> id AND length(type) > 0" },
]

[[tables]]
name = "members"
columns = [
    { name = "a", type = "bigint", nullable = false },
    { name = "b", type = "smallint", nullable = false },
    { name = "at", type = "time" },
    { name = "score", type = "real" },
]
primary_key = { columns = ["a", "b"] }
"#;

#[test]
fn generated_rust_models_read_back_as_the_toml_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("corners.toml"), CORNERS).unwrap();
    let sources = [(root(), "tests/fixtures/shop.toml", "shop.rs"), (dir.path(), "corners.toml", "corners.rs")];
    for (base, toml, out) in sources {
        let declared = models::load(base, &[toml.into()]).unwrap();
        let source = models::generate_rust(&declared.in_declaration_order()).unwrap();
        assert_eq!(source, models::generate_rust(&declared.in_declaration_order()).unwrap(), "deterministic");
        let path = dir.path().join(out);
        std::fs::write(&path, &source).unwrap();
        let read = models::load(dir.path(), &[out.into()]).unwrap();
        assert_eq!(read.schema, declared.schema, "{out}");
        // Already formatted: rustfmt (default settings, as in a user's project) changes nothing.
        let rustfmt = std::process::Command::new("rustfmt").args(["--edition", "2024", "--check"]).arg(&path).output();
        if let Ok(run) = rustfmt {
            assert!(run.status.success(), "{out}: {}", String::from_utf8_lossy(&run.stdout));
        }
    }
}

#[test]
fn generated_shop_is_the_committed_and_compiled_fixture() {
    let declared = models::load(root(), &["tests/fixtures/shop.toml".into()]).unwrap();
    let source = models::generate_rust(&declared.in_declaration_order()).unwrap();
    let committed = std::fs::read_to_string(root().join("tests/fixtures/shop_generated.rs")).unwrap();
    assert!(source == committed, "regenerate with `migrate models generate --out tests/fixtures/shop_generated.rs`");
    assert_eq!(shop_generated::ShipmentItems::table(), *declared.schema.table("shipment_items").unwrap());
    assert_eq!(shop_generated::Orders::table(), *declared.schema.table("orders").unwrap());
}

#[test]
fn written_toml_models_read_back_as_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("corners.toml"), CORNERS).unwrap();
    for (base, toml) in [(root(), "tests/fixtures/shop.toml"), (dir.path(), "corners.toml")] {
        let declared = models::load(base, &[toml.into()]).unwrap();
        let text = models::write_toml(&declared.schema, "# header\n").unwrap();
        assert!(text.starts_with("# header\n"), "{text}");
        std::fs::write(dir.path().join("written.toml"), &text).unwrap();
        let read = models::load(dir.path(), &["written.toml".into()]).unwrap();
        assert_eq!(read.schema, declared.schema, "{toml}:\n{text}");
        assert_eq!(models::write_toml(&read.schema, "# header\n").unwrap(), text, "{toml}: stable");
    }
}
