//! The SQL every op renders on every dialect, as snapshots: a change to
//! rendering shows up as a reviewed diff.

use migrate::dialect::{self, Dialect};
use migrate::ops::{AlterColumn, Execute, Op, Value};
use migrate::schema::{
    Check, Column, ColumnType, DefaultValue, EnumType, ForeignKey, ForeignKeyAction, Index, IndexKey, PrimaryKey,
    Schema, Table, UniqueConstraint,
};
use std::collections::BTreeMap;

fn col(name: &str, ty: &str) -> Column {
    Column::new(name, ty.parse().unwrap())
}

/// The database the ops act on.
fn before() -> Schema {
    let mood = ColumnType::Enum { name: "mood".into(), values: vec!["sad".into(), "ok".into()] };
    let mut users = Table::new("users");
    users.comment = Some("people".into());
    users.columns = vec![
        col("id", "bigint").not_null().autoincrement(),
        col("email", "varchar(255)").not_null().comment("login"),
        col("name", "varchar(100)"),
        Column::new("mood", mood).not_null().default(DefaultValue::String("ok".into())),
        col("created_at", "timestamp").not_null().default(DefaultValue::CurrentTimestamp),
    ];
    users.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    users.unique_constraints =
        vec![UniqueConstraint { name: Some("uq_users_email".into()), columns: vec!["email".into()] }];
    users.indexes = vec![Index {
        name: "ix_users_name".into(),
        keys: vec![IndexKey::Column("name".into())],
        unique: false,
        predicate: None,
    }];
    let mut posts = Table::new("posts");
    posts.columns = vec![col("id", "integer").not_null(), col("user_id", "bigint").not_null(), col("body", "text")];
    posts.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    posts.foreign_keys = vec![fk()];
    posts.checks = vec![check()];
    Schema {
        tables: vec![posts, users],
        enums: vec![EnumType { name: "mood".into(), values: vec!["sad".into(), "ok".into()] }],
    }
}

fn fk() -> ForeignKey {
    ForeignKey {
        name: Some("fk_posts_user".into()),
        columns: vec!["user_id".into()],
        referred_table: "users".into(),
        referred_columns: vec!["id".into()],
        on_delete: Some(ForeignKeyAction::Cascade),
        on_update: None,
    }
}

fn check() -> Check {
    Check { name: Some("ck_posts_body".into()), expression: "length(body) > 0".into() }
}

fn ops() -> Vec<Op> {
    let schema = before();
    let users = schema.table("users").unwrap().clone();
    let posts = schema.table("posts").unwrap().clone();
    let name = users.column("name").unwrap().clone();
    let alter = |column: &Column| AlterColumn {
        table: "users".into(),
        column: column.name.clone(),
        existing: column.clone(),
        rename: None,
        ty: None,
        nullable: None,
        default: None,
        comment: None,
    };
    let mut tags = Table::new("tags");
    tags.columns = vec![col("post_id", "integer").not_null(), col("tag", "varchar(30)").not_null()];
    tags.primary_key = Some(PrimaryKey { name: Some("pk_tags".into()), columns: vec!["post_id".into(), "tag".into()] });
    let mut dialects = BTreeMap::new();
    dialects.insert(migrate::db::Backend::Postgres, "VACUUM ANALYZE users".to_string());
    let mut row = BTreeMap::new();
    row.insert("email".to_string(), Value::Text("a@example.com".into()));
    row.insert("name".to_string(), Value::Text("O'Brien".into()));
    vec![
        Op::CreateTable(tags.clone()),
        Op::DropTable(posts.clone()),
        Op::RenameTable { from: "users".into(), to: "people".into() },
        Op::AddColumn {
            table: "users".into(),
            column: col("age", "smallint").default(DefaultValue::Number("0".into())),
        },
        Op::AddColumn {
            table: "users".into(),
            column: col("joined", "date").not_null().default(DefaultValue::CurrentDate),
        },
        Op::DropColumn { table: "posts".into(), column: col("body", "text") },
        Op::AlterColumn(AlterColumn { ty: Some("varchar(200)".parse().unwrap()), ..alter(&name) }),
        Op::AlterColumn(AlterColumn { nullable: Some(false), ..alter(&name) }),
        Op::AlterColumn(AlterColumn { default: Some(Some(DefaultValue::String("anon".into()))), ..alter(&name) }),
        Op::AlterColumn(AlterColumn { comment: Some(Some("display name".into())), ..alter(&name) }),
        Op::AlterColumn(AlterColumn { rename: Some("full_name".into()), ..alter(&name) }),
        Op::CreateIndex {
            table: "users".into(),
            index: Index {
                name: "ix_users_lower_email".into(),
                keys: vec![IndexKey::Expression("lower(email)".into())],
                unique: true,
                predicate: Some("name IS NOT NULL".into()),
            },
        },
        Op::DropIndex { table: "users".into(), index: users.indexes[0].clone() },
        Op::AddUnique {
            table: "users".into(),
            constraint: UniqueConstraint { name: Some("uq_users_name".into()), columns: vec!["name".into()] },
        },
        Op::DropUnique { table: "users".into(), constraint: users.unique_constraints[0].clone() },
        Op::AddForeignKey {
            table: "posts".into(),
            foreign_key: ForeignKey { name: Some("fk_posts_user2".into()), on_delete: None, ..fk() },
        },
        Op::DropForeignKey { table: "posts".into(), foreign_key: fk() },
        Op::AddCheck {
            table: "posts".into(),
            check: Check { name: Some("ck_id".into()), expression: "id > 0".into() },
        },
        Op::DropCheck { table: "posts".into(), check: check() },
        Op::DropPrimaryKey { table: "posts".into(), primary_key: posts.primary_key.clone().unwrap() },
        Op::AddPrimaryKey {
            table: "posts".into(),
            primary_key: PrimaryKey { name: None, columns: vec!["id".into(), "user_id".into()] },
        },
        Op::CreateEnum(EnumType { name: "size".into(), values: vec!["s".into(), "m".into()] }),
        Op::DropEnum(EnumType { name: "mood".into(), values: vec!["sad".into(), "ok".into()] }),
        Op::AddEnumValue {
            name: "mood".into(),
            value: "glad".into(),
            before: Some("ok".into()),
            existing: vec!["sad".into(), "ok".into()],
            columns: vec!["users.mood".into()],
        },
        Op::DropEnumValue {
            name: "mood".into(),
            value: "sad".into(),
            existing: vec!["sad".into(), "ok".into()],
            columns: vec!["users.mood".into()],
        },
        Op::SetTableComment { table: "users".into(), from: Some("people".into()), to: Some("members".into()) },
        Op::Execute(Execute { sql: Some("UPDATE users SET name = 'x'".into()), dialects }),
        Op::BulkInsert { table: "users".into(), rows: vec![row.clone(), row] },
    ]
}

fn rendered(dialect: &dyn Dialect) -> String {
    let schema = before();
    let mut out = String::new();
    for op in ops() {
        out.push_str(&format!("-- {}\n", op.label()));
        match dialect.render_op(&op, &schema) {
            Ok(statements) if statements.is_empty() => out.push_str("(nothing)\n"),
            Ok(statements) => statements.iter().for_each(|s| out.push_str(&format!("{s};\n"))),
            Err(e) => out.push_str(&format!("error: {e}\n")),
        }
    }
    out
}

#[test]
fn postgresql() {
    insta::assert_snapshot!(rendered(dialect::by_name("postgresql").unwrap().as_ref()));
}

#[test]
fn mysql() {
    insta::assert_snapshot!(rendered(dialect::by_name("mysql").unwrap().as_ref()));
}

#[test]
fn sqlite() {
    insta::assert_snapshot!(rendered(dialect::by_name("sqlite").unwrap().as_ref()));
}

#[test]
fn dropping_an_unnamed_constraint_is_an_error() {
    let op = Op::DropUnique {
        table: "users".into(),
        constraint: UniqueConstraint { name: None, columns: vec!["x".into()] },
    };
    let e = dialect::by_name("postgresql").unwrap().render_op(&op, &before()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot run drop_unique users(x) on postgresql: the constraint has no name; give it one in the revision file"
    );
}

#[test]
fn a_unique_partial_index_is_refused_where_indexes_cannot_be_partial() {
    let index = |unique: bool| Op::CreateIndex {
        table: "users".into(),
        index: Index {
            name: "ix_users_email".into(),
            keys: vec![IndexKey::Column("email".into())],
            unique,
            predicate: Some("email IS NOT NULL".into()),
        },
    };
    let mysql = dialect::by_name("mysql").unwrap();
    let e = mysql.render_op(&index(true), &before()).unwrap_err().to_string();
    assert!(e.starts_with("cannot run create_index ix_users_email on mysql: no partial indexes"), "{e}");
    // A plain index without its WHERE only covers more rows.
    assert_eq!(
        mysql.render_op(&index(false), &before()).unwrap(),
        ["CREATE INDEX `ix_users_email` ON `users` (`email`)"]
    );
}
