//! Comparison without a database: orders, renames, enums, normalisation.

use super::*;
use crate::dialect::by_name;
use crate::models::Models;
use crate::schema::{Check, ColumnType, DefaultValue, ForeignKey, Index, IndexKey, PrimaryKey, UniqueConstraint};

fn col(name: &str, ty: &str) -> Column {
    Column::new(name, ty.parse().unwrap())
}

fn table(name: &str, columns: Vec<Column>) -> Table {
    let mut t = Table::new(name);
    t.primary_key = Some(PrimaryKey { name: None, columns: vec![columns[0].name.clone()] });
    t.columns = columns;
    t
}

fn fk(column: &str, to: &str) -> ForeignKey {
    ForeignKey {
        name: Some(format!("fk_{column}_{to}")),
        columns: vec![column.into()],
        referred_table: to.into(),
        referred_columns: vec!["id".into()],
        on_delete: None,
        on_update: None,
    }
}

fn models(tables: Vec<Table>) -> Models {
    Models { schema: Schema { tables, enums: Vec::new() }, ..Models::default() }
}

fn labels(ops: &[Op]) -> Vec<String> {
    ops.iter().map(Op::label).collect()
}

fn never(_: &RenameCandidate) -> bool {
    false
}

#[test]
fn new_tables_come_referenced_first_and_cycles_get_their_keys_last() {
    let mut a = table("a", vec![col("id", "integer").not_null(), col("b_id", "integer")]);
    a.foreign_keys = vec![fk("b_id", "b")];
    let mut b = table("b", vec![col("id", "integer").not_null(), col("a_id", "integer")]);
    b.foreign_keys = vec![fk("a_id", "a")];
    let mut c = table("c", vec![col("id", "integer").not_null(), col("d_id", "integer")]);
    c.foreign_keys = vec![fk("d_id", "d")];
    let d = table("d", vec![col("id", "integer").not_null()]);
    let dialect = by_name("postgresql").unwrap();
    let diff = compare(&Schema::default(), &models(vec![a, b, c, d]), dialect.as_ref(), &mut never);
    assert_eq!(
        labels(&diff.upgrade),
        ["create_table d", "create_table c", "create_table a", "create_table b", "add_foreign_key a(b_id) -> b"]
    );
    // The downgrade is the exact inverse, in the order that applies.
    assert_eq!(
        labels(&diff.downgrade),
        ["drop_foreign_key a(b_id) -> b", "drop_table b", "drop_table a", "drop_table c", "drop_table d"]
    );
    // Dropping them all again: keys of the cycle first, referring tables before referred ones.
    let database = Schema { tables: models_schema_after(&diff), enums: Vec::new() };
    let back = compare(&database, &models(Vec::new()), dialect.as_ref(), &mut never);
    assert_eq!(
        labels(&back.upgrade),
        ["drop_foreign_key b(a_id) -> a", "drop_table c", "drop_table d", "drop_table a", "drop_table b"]
    );
}

fn models_schema_after(diff: &Diff) -> Vec<Table> {
    let mut schema = Schema::default();
    for op in &diff.upgrade {
        schema.apply(op).unwrap();
    }
    schema.tables
}

#[test]
fn ops_carry_the_declared_types_not_the_backends_reading_of_them() {
    // SQLite reads an autoincrement key back as `integer`, MySQL a uuid as
    // `char(36)`: a revision generated there must still say what the models say.
    let mut id = col("id", "bigint").not_null();
    id.autoincrement = true;
    let users = table("users", vec![id, col("token", "uuid")]);
    for name in ["sqlite", "mysql"] {
        let dialect = by_name(name).unwrap();
        let diff = compare(&Schema::default(), &models(vec![users.clone()]), dialect.as_ref(), &mut never);
        let Op::CreateTable(created) = &diff.upgrade[0] else { panic!("{:?}", diff.upgrade) };
        let types: Vec<&ColumnType> = created.columns.iter().map(|c| &c.ty).collect();
        assert_eq!(types, [&ColumnType::Bigint, &ColumnType::Uuid], "{name}");
        let Some(Op::DropTable(dropped)) = diff.downgrade.first() else { panic!("{:?}", diff.downgrade) };
        assert_eq!(dropped.columns[0].ty, ColumnType::Bigint, "{name}");
        // Compared in the backend's form, what it created reads as no change.
        let mut created = Schema::default();
        created.apply(&diff.upgrade[0]).unwrap();
        let database = canonical_schema(dialect.as_ref(), &created);
        let again = compare(&database, &models(vec![users.clone()]), dialect.as_ref(), &mut never);
        assert!(again.is_empty(), "{name}: {:?}", again.upgrade);
    }
    // A type change carries the declared type too.
    let database =
        Schema { tables: vec![table("t", vec![col("id", "integer"), col("v", "integer")])], enums: Vec::new() };
    let changed = models(vec![table("t", vec![col("id", "integer"), col("v", "uuid")])]);
    let diff = compare(&database, &changed, by_name("mysql").unwrap().as_ref(), &mut never);
    let Op::AlterColumn(alter) = &diff.upgrade[0] else { panic!("{:?}", diff.upgrade) };
    assert_eq!(alter.ty, Some(ColumnType::Uuid));
}

#[test]
fn a_renamed_table_keeps_the_foreign_keys_that_point_at_it() {
    // Every backend repoints foreign keys when a table is renamed: no drop
    // and re-add, and what is dropped is dropped under the old name.
    let mut teams = table("teams", vec![col("id", "integer").not_null(), col("parent_id", "integer")]);
    teams.foreign_keys = vec![fk("parent_id", "teams")];
    teams.checks = vec![Check { name: Some("ck_teams_1".into()), expression: "id > 0".into() }];
    let mut users = table("users", vec![col("id", "integer").not_null(), col("team_id", "integer")]);
    users.foreign_keys = vec![fk("team_id", "teams")];
    let database = Schema { tables: vec![teams.clone(), users.clone()], enums: Vec::new() };
    let mut groups = teams.clone();
    groups.name = "groups".into();
    groups.foreign_keys[0].referred_table = "groups".into();
    groups.checks.clear();
    users.foreign_keys[0].referred_table = "groups".into();
    let mut renamed = models(vec![groups, users]);
    renamed.renamed_tables.insert("groups".into(), "teams".into());
    let dialect = by_name("postgresql").unwrap();
    let diff = compare(&database, &renamed, dialect.as_ref(), &mut never);
    assert_eq!(labels(&diff.upgrade), ["drop_check teams (id > 0)", "rename_table teams -> groups"]);
    assert_eq!(labels(&diff.downgrade), ["rename_table groups -> teams", "add_check teams (id > 0)"]);
}

#[test]
fn a_unique_partial_index_where_there_are_none_is_a_warning() {
    let mut t = table("t", vec![col("id", "integer").not_null(), col("email", "text")]);
    t.indexes = vec![Index {
        name: "ux_t_email".into(),
        keys: vec![IndexKey::Column("email".into())],
        unique: true,
        predicate: Some("email IS NOT NULL".into()),
    }];
    let diff = compare(&Schema::default(), &models(vec![t.clone()]), by_name("mysql").unwrap().as_ref(), &mut never);
    assert!(diff.warnings[0].starts_with("t.ux_t_email: mysql has no partial indexes"), "{:?}", diff.warnings);
    assert!(!diff.is_empty(), "check fails: the models ask what the backend cannot keep");
    let diff = compare(&Schema::default(), &models(vec![t]), by_name("postgresql").unwrap().as_ref(), &mut never);
    assert!(diff.warnings.is_empty());
}

#[test]
fn renames_follow_hints_or_are_asked() {
    let db = Schema {
        tables: vec![table("users", vec![col("id", "integer").not_null(), col("fullname", "text")])],
        enums: vec![],
    };
    let model_table = table("users", vec![col("id", "integer").not_null(), col("name", "text")]);
    let dialect = by_name("sqlite").unwrap();
    // Not confirmed: drop and add, with the possible rename reported.
    let diff = compare(&db, &models(vec![model_table.clone()]), dialect.as_ref(), &mut never);
    assert_eq!(labels(&diff.upgrade), ["add_column users.name", "drop_column users.fullname"]);
    assert_eq!(diff.possible_renames[0].to_string(), "users.fullname to users.name");
    // Confirmed: a rename.
    let diff = compare(&db, &models(vec![model_table.clone()]), dialect.as_ref(), &mut |_| true);
    assert_eq!(labels(&diff.upgrade), ["alter_column users.fullname"]);
    // Hinted with renamed_from: a rename without asking.
    let mut hinted = models(vec![model_table]);
    hinted.renamed_columns.insert(("users".into(), "name".into()), "fullname".into());
    let diff = compare(&db, &hinted, dialect.as_ref(), &mut |_| panic!("no question when hinted"));
    match &diff.upgrade[..] {
        [Op::AlterColumn(a)] => assert_eq!((a.column.as_str(), a.rename.as_deref()), ("fullname", Some("name"))),
        other => panic!("{other:?}"),
    }
    // A table rename by hint.
    let mut renamed = models(vec![table("people", vec![col("id", "integer").not_null(), col("fullname", "text")])]);
    renamed.renamed_tables.insert("people".into(), "users".into());
    let diff = compare(&db, &renamed, dialect.as_ref(), &mut never);
    assert_eq!(labels(&diff.upgrade), ["rename_table users -> people"]);
}

#[test]
fn synonyms_defaults_and_expressions_do_not_differ() {
    let dialect = by_name("postgresql").unwrap();
    let mut db_table = table(
        "t",
        vec![
            col("id", "integer").not_null(),
            Column::new("price", ColumnType::Numeric { precision: Some(10), scale: Some(2) })
                .default(DefaultValue::Number("1.50".into())),
            col("ok", "boolean").default(DefaultValue::Boolean(true)),
        ],
    );
    db_table.checks = vec![Check { name: Some("t_price_check".into()), expression: "price > (0)::numeric".into() }];
    db_table.primary_key = Some(PrimaryKey { name: Some("t_pkey".into()), columns: vec!["id".into()] });
    let mut model_table = table(
        "t",
        vec![
            col("id", "integer").not_null(),
            col("price", "numeric(10,2)").default(DefaultValue::Number("1.5".into())),
            col("ok", "boolean").default(DefaultValue::Boolean(true)),
        ],
    );
    model_table.checks = vec![Check { name: Some("ck_t_1".into()), expression: "price > 0".into() }];
    let db = Schema { tables: vec![db_table], enums: vec![] };
    let diff = compare(&db, &models(vec![model_table]), dialect.as_ref(), &mut never);
    assert!(diff.upgrade.is_empty(), "{:?}", diff.upgrade);
}

#[test]
fn every_kind_of_change_is_found() {
    let dialect = by_name("postgresql").unwrap();
    let mut old = table("t", vec![col("id", "integer").not_null(), col("a", "varchar(10)"), col("b", "integer")]);
    old.unique_constraints = vec![UniqueConstraint { name: Some("uq_t_a".into()), columns: vec!["a".into()] }];
    old.checks = vec![Check { name: Some("ck_t_1".into()), expression: "b > 0".into() }];
    let mut new = table(
        "t",
        vec![
            col("id", "integer").not_null(),
            col("a", "varchar(20)").not_null(),
            col("b", "integer").default(DefaultValue::Number("1".into())).comment("bee"),
        ],
    );
    new.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into(), "b".into()] });
    new.checks = vec![Check { name: Some("ck_t_1".into()), expression: "b > 1".into() }];
    new.comment = Some("tee".into());
    let db = Schema { tables: vec![old], enums: vec![] };
    let diff = compare(&db, &models(vec![new]), dialect.as_ref(), &mut never);
    assert_eq!(
        labels(&diff.upgrade),
        [
            "drop_unique t(a)",
            "drop_check t (b > 0)",
            "drop_primary_key t",
            "alter_column t.a",
            "alter_column t.b",
            "add_primary_key t",
            "set_table_comment t",
            "add_check t (b > 1)",
        ]
    );
}

#[test]
fn enum_values_are_added_in_place_and_removals_rebuild() {
    let dialect = by_name("postgresql").unwrap();
    let db = Schema {
        tables: vec![],
        enums: vec![EnumType { name: "mood".into(), values: vec!["sad".into(), "ok".into()] }],
    };
    let mut m = models(vec![]);
    m.schema.enums = vec![EnumType { name: "mood".into(), values: vec!["sad".into(), "meh".into(), "happy".into()] }];
    let diff = compare(&db, &m, dialect.as_ref(), &mut never);
    assert_eq!(
        labels(&diff.upgrade),
        ["add_enum_value mood.meh", "add_enum_value mood.happy", "drop_enum_value mood.ok"]
    );
    match &diff.upgrade[0] {
        Op::AddEnumValue { before, .. } => assert_eq!(before, &None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn normalised_sql() {
    assert_eq!(normalize_sql("((qty > (0)::numeric) AND (name)::text <> ''::character varying)"), "qty>0andname<>''");
    assert_eq!(normalize_sql("`qty` > 0 AND \"name\" <> ''"), "qty>0andname<>''");
    assert_eq!(normalize_sql("lower(email::text)"), normalize_sql("lower(email)"));
    assert_ne!(normalize_sql("a = 'X Y'"), normalize_sql("a = 'xy'"));
    assert_eq!(normalize_sql("rating BETWEEN 1 AND 5"), normalize_sql("((rating >= 1) AND (rating <= 5))"));
}

/// What PostgreSQL and MariaDB read back for expressions as written in the
/// models (taken from the servers): each pair has one canonical form.
#[test]
fn canonical_sql_undoes_what_backends_do() {
    let pg = by_name("postgresql").unwrap();
    let my = by_name("mysql").unwrap();
    let same = |d: &dyn Dialect, written: &str, stored: &str| {
        assert_eq!(canonical_sql(d, written), canonical_sql(d, stored), "{}: {written} vs {stored}", d.name())
    };
    for (written, stored) in [
        ("kind IN ('a','b')", "(kind = ANY (ARRAY['a'::text, 'b'::text]))"),
        ("d > -5", "(d > '-5'::integer)"),
        ("d BETWEEN -5 AND 5", "((d >= '-5'::integer) AND (d <= 5))"),
        ("d NOT BETWEEN -5 AND 5", "((d < '-5'::integer) OR (d > 5))"),
        ("length(email) > 3", "(length((email)::text) > 3)"),
        ("kind NOT IN ('x')", "(kind <> 'x'::text)"),
        ("kind NOT IN ('x', 'y')", "(kind <> ALL (ARRAY['x'::text, 'y'::text]))"),
        ("upper(kind) <> 'Z'", "(upper(kind) <> 'Z'::text)"),
        ("d IS NOT NULL AND (d > 0 OR d < -10)", "((d IS NOT NULL) AND ((d > 0) OR (d < '-10'::integer)))"),
        ("at > '2020-01-01'", "(at > '2020-01-01 00:00:00'::timestamp without time zone)"),
        ("d IN (1, 2)", "(d = ANY (ARRAY[1, 2]))"),
        ("kind LIKE 'a%'", "(kind ~~ 'a%'::text)"),
        ("COALESCE(d, 0) >= 0", "(COALESCE(d, 0) >= 0)"),
        ("n <> -1.5", "(n <> '-1.5'::numeric)"),
        ("n >= 0", "(n >= 0.00)"),
        ("lower('X')", "lower('X'::text)"),
        ("'a' || 'b'", "('a'::text || 'b'::text)"),
        ("CAST(d AS text) <> ''", "((d)::text <> ''::text)"),
    ] {
        same(pg.as_ref(), written, stored);
    }
    for (written, stored) in [
        ("kind IN ('a','b')", "`kind` in ('a','b')"),
        ("length(email) > 3", "octet_length(`email`) > 3"),
        ("lower('X')", "lcase('X')"),
        ("upper(kind) <> 'Z'", "ucase(`kind`) <> 'Z'"),
        ("NOT (d = 3)", "`d` <> 3"),
        ("d != 4", "`d` <> 4"),
        ("kind NOT IN ('x')", "`kind` <> 'x'"),
        ("d IS NOT NULL AND (d > 0 OR d < -10)", "`d` is not null and (`d` > 0 or `d` < -10)"),
        ("n >= 0", "`n` >= 0.00"),
    ] {
        same(my.as_ref(), written, stored);
    }
    // What differs stays different.
    let differ = |d: &dyn Dialect, a: &str, b: &str| assert_ne!(canonical_sql(d, a), canonical_sql(d, b), "{a} vs {b}");
    differ(pg.as_ref(), "a OR b AND c", "(a OR b) AND c");
    differ(pg.as_ref(), "d > -5", "d > 5");
    differ(pg.as_ref(), "kind = 'A'", "kind = 'a'");
    differ(pg.as_ref(), "at > '2020-01-01 10:00:00'", "at > '2020-01-01'");
    // Unparseable text falls back to the textual form.
    assert_eq!(canonical_sql(pg.as_ref(), "qty >> << 0"), normalize_sql("qty >> << 0"));
    assert_eq!(canonical_number("0.00"), "0");
    assert_eq!(canonical_number("-1.50"), "-1.5");
    assert_eq!(canonical_number("010"), "10");
}

/// `check`'s diff prints the schemas as compared: values compared equal
/// print alike (no `-`/`+` lines for `lower('X'::text)` vs `lower('X')`).
#[test]
fn compared_schemas_print_equal_values_alike() {
    let pg = by_name("postgresql").unwrap();
    let mut db = table("t", vec![col("id", "integer"), col("n", "numeric(10,2)"), col("s", "text")]);
    let mut model = db.clone();
    db.columns[1].default = Some(DefaultValue::Number("0.00".into()));
    db.columns[2].default = Some(DefaultValue::Expression("lower('X'::text)".into()));
    db.checks = vec![Check { name: None, expression: "(kind = ANY (ARRAY['a'::text, 'b'::text]))".into() }];
    model.columns[1].default = Some(DefaultValue::Number("0".into()));
    model.columns[2].default = Some(DefaultValue::Expression("lower('X')".into()));
    model.checks = vec![Check { name: None, expression: "kind IN ('a','b')".into() }];
    let shown = |t: &Table| canonical_schema(pg.as_ref(), &Schema { tables: vec![t.clone()], enums: vec![] });
    assert_eq!(shown(&db), shown(&model));
    let diff = compare(&Schema { tables: vec![db], enums: vec![] }, &models(vec![model]), pg.as_ref(), &mut never);
    assert!(diff.is_empty(), "{diff:#?}");
}

/// MariaDB keeps a partial index without its `where`: a warning, not drift.
#[test]
fn lossy_partial_index_is_a_warning_not_drift() {
    let my = by_name("mysql").unwrap();
    let mut t = table("t", vec![col("id", "integer"), col("a", "integer")]);
    t.indexes = vec![Index {
        name: "ix_t_a".into(),
        keys: vec![IndexKey::Column("a".into())],
        unique: false,
        predicate: Some("a > 0".into()),
    }];
    let mut db = t.clone();
    db.indexes[0].predicate = None;
    let diff = compare(&Schema { tables: vec![db], enums: vec![] }, &models(vec![t]), my.as_ref(), &mut never);
    assert!(diff.is_empty(), "{diff:#?}");
    assert_eq!(diff.lossy.len(), 1);
    assert!(diff.lossy[0].starts_with("t.ix_t_a: mysql has no partial indexes"), "{:?}", diff.lossy);
}
