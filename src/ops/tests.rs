use super::*;
use crate::schema::{ForeignKeyAction, IndexKey, Schema};

fn users() -> Table {
    let mut t = Table::new("users");
    t.columns = vec![
        Column::new("id", ColumnType::Integer).not_null().autoincrement(),
        Column::new("email", ColumnType::Varchar { length: Some(255) }).not_null(),
        Column::new("active", ColumnType::Boolean).default(DefaultValue::Boolean(true)),
    ];
    t.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    t
}

fn every_op() -> Vec<Op> {
    let column = Column::new("age", ColumnType::Integer).default(DefaultValue::Number("0".into()));
    let index = Index {
        name: "ix_users_email".into(),
        keys: vec![IndexKey::Column("email".into())],
        unique: true,
        predicate: Some("active".into()),
    };
    let fk = ForeignKey {
        name: Some("fk_users_org".into()),
        columns: vec!["org_id".into()],
        referred_table: "orgs".into(),
        referred_columns: vec!["id".into()],
        on_delete: Some(ForeignKeyAction::Cascade),
        on_update: None,
    };
    let alter = AlterColumn {
        table: "users".into(),
        column: "email".into(),
        existing: users().columns[1].clone(),
        rename: Some("mail".into()),
        ty: Some(ColumnType::Text),
        nullable: Some(true),
        default: Some(Some(DefaultValue::String("none".into()))),
        comment: Some(None),
    };
    vec![
        Op::CreateTable(users()),
        Op::DropTable(users()),
        Op::RenameTable { from: "a".into(), to: "b".into() },
        Op::AddColumn { table: "users".into(), column: column.clone() },
        Op::DropColumn { table: "users".into(), column },
        Op::AlterColumn(alter),
        Op::CreateIndex { table: "users".into(), index: index.clone() },
        Op::DropIndex { table: "users".into(), index },
        Op::AddUnique {
            table: "users".into(),
            constraint: UniqueConstraint { name: Some("uq".into()), columns: vec!["email".into()] },
        },
        Op::AddForeignKey { table: "users".into(), foreign_key: fk.clone() },
        Op::DropForeignKey { table: "users".into(), foreign_key: fk },
        Op::AddCheck { table: "users".into(), check: Check { name: Some("ck".into()), expression: "age >= 0".into() } },
        Op::AddPrimaryKey { table: "users".into(), primary_key: PrimaryKey { name: None, columns: vec!["id".into()] } },
        Op::CreateEnum(EnumType { name: "mood".into(), values: vec!["happy".into(), "sad".into()] }),
        Op::AddEnumValue {
            name: "mood".into(),
            value: "meh".into(),
            before: Some("sad".into()),
            existing: vec!["happy".into(), "sad".into()],
            columns: vec!["people.mood".into()],
        },
        Op::SetTableComment { table: "users".into(), from: None, to: Some("people".into()) },
    ]
}

#[test]
fn inverse_of_inverse_is_identity() {
    for op in every_op() {
        let inverse = op.inverse().expect("schema ops are invertible");
        assert_eq!(inverse.inverse().as_ref(), Some(&op), "{op:?}");
    }
}

#[test]
fn enum_label_inverse_restores_the_order() {
    let add = &every_op()[14];
    let Some(Op::DropEnumValue { existing, .. }) = add.inverse() else { panic!("inverse of add is drop") };
    assert_eq!(existing, ["happy", "meh", "sad"]);
}

#[test]
fn alter_column_inverse_restores_the_column() {
    let Op::AlterColumn(alter) = &every_op()[5] else { unreachable!() };
    assert_eq!(alter.altered().name, "mail");
    assert_eq!(alter.inverse().altered(), alter.existing);
}

#[test]
fn execute_and_bulk_insert_have_no_inverse() {
    let exec = Op::Execute(Execute { sql: Some("SELECT 1".into()), dialects: BTreeMap::new() });
    assert!(exec.inverse().is_none());
    assert!(Op::BulkInsert { table: "t".into(), rows: vec![] }.inverse().is_none());
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct File {
    upgrade: Vec<Op>,
}

#[test]
fn toml_round_trip_of_every_op() {
    let mut rows = BTreeMap::new();
    rows.insert("id".to_string(), Value::Integer(1));
    rows.insert("name".to_string(), Value::Text("x".into()));
    let mut ops = every_op();
    ops.push(Op::BulkInsert { table: "users".into(), rows: vec![rows] });
    ops.push(Op::Execute(Execute { sql: None, dialects: [(crate::db::Backend::Sqlite, "VACUUM".to_string())].into() }));
    let file = File { upgrade: ops };
    let text = toml::to_string(&file).unwrap();
    assert_eq!(toml::from_str::<File>(&text).unwrap(), file, "{text}");
}

#[test]
fn hand_written_toml_reads() {
    let text = r#"
        [[upgrade]]
        op = "create_table"
        name = "notes"
        columns = [
            { name = "id", type = "bigint", nullable = false, autoincrement = true },
            { name = "body", type = "text", default = "''" },
        ]
        primary_key = { columns = ["id"] }

        [[upgrade]]
        op = "alter_column"
        table = "notes"
        column = "body"
        existing = { name = "body", type = "text" }
        nullable = false
        default = {}
    "#;
    let file: File = toml::from_str(text).unwrap();
    let Op::CreateTable(table) = &file.upgrade[0] else { panic!() };
    assert!(table.columns[1].nullable, "nullable defaults to true in files");
    let Op::AlterColumn(alter) = &file.upgrade[1] else { panic!() };
    assert_eq!(alter.default, Some(None), "`default = {{}}` clears the default");
    let err = toml::from_str::<File>("[[upgrade]]\nop = \"create_tabel\"\n").unwrap_err().to_string();
    assert!(err.contains("create_tabel"), "{err}");
}

#[test]
fn applying_an_op_then_its_inverse_restores_the_schema() {
    let mut base = Schema {
        tables: vec![users()],
        enums: vec![EnumType { name: "mood".into(), values: vec!["happy".into(), "sad".into()] }],
    };
    let mut orgs = Table::new("orgs");
    orgs.columns = vec![Column::new("id", ColumnType::Integer).not_null()];
    base.tables.push(orgs);
    base.tables[0].columns.push(Column::new("org_id", ColumnType::Integer));
    base.normalize();
    for op in every_op().into_iter().filter(|op| {
        !matches!(
            op,
            Op::CreateTable(_)
                | Op::DropTable(_)
                | Op::CreateEnum(_)
                | Op::RenameTable { .. }
                | Op::DropColumn { .. }
                | Op::DropIndex { .. }
                | Op::DropForeignKey { .. }
                | Op::AddPrimaryKey { .. }
        )
    }) {
        let mut schema = base.clone();
        schema.apply(&op).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(schema, base, "{} changes the schema", op.label());
        schema.apply(&op.inverse().unwrap()).unwrap();
        assert_eq!(schema, base, "{} then its inverse", op.label());
    }
}

#[test]
fn apply_errors_name_the_op() {
    let mut schema = Schema::default();
    let err =
        schema.apply(&Op::AddColumn { table: "nope".into(), column: Column::new("x", ColumnType::Text) }).unwrap_err();
    assert_eq!(err.to_string(), "add_column nope.x: no table `nope`");
    schema.apply(&Op::CreateTable(users())).unwrap();
    let err = schema.apply(&Op::CreateTable(users())).unwrap_err();
    assert_eq!(err.to_string(), "create_table users: table `users` already exists");
}
