//! Revisions applied to the three real databases: a chain covering every op
//! up and down and up again with data kept; failures in the middle of a
//! revision; eight concurrent runs; edited files; stamps; offline SQL.

mod common;
#[path = "revisions/migrator.rs"]
mod migrator;

use common::{TestDb, each_backend};
use migrate::command::{self, RunOptions};
use migrate::config::{Config, DatabaseConfig};
use migrate::db::{Backend, DatabaseUrl};
use migrate::dialect;
use migrate::ops::{AlterColumn, Execute, Op, Value};
use migrate::schema::{
    Check, Column, ColumnType, DefaultValue, EnumType, ForeignKey, ForeignKeyAction, Index, IndexKey, PrimaryKey,
    Schema, Table, UniqueConstraint,
};
use migrate::script::{Direction, RevisionFile, write_revision};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    value: Option<String>,
}

/// A project folder whose migrate.toml points at `db`.
struct Project {
    dir: tempfile::TempDir,
    database: DatabaseConfig,
    url: DatabaseUrl,
}

fn project(db: &TestDb) -> Project {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations/versions")).unwrap();
    let toml = format!("database_url = \"{}\"\nlock_timeout = 120\n", db.url);
    std::fs::write(dir.path().join("migrate.toml"), &toml).unwrap();
    let config = Config::parse(&toml, &dir.path().join("migrate.toml")).unwrap();
    let database = config.database(None).unwrap();
    Project { url: DatabaseUrl::parse(&db.url).unwrap(), dir, database }
}

impl Project {
    fn versions(&self) -> std::path::PathBuf {
        self.dir.path().join("migrations/versions")
    }

    /// Writes revision `id` on top of `parent`; the downgrade is the inverse
    /// of the upgrade unless given.
    fn add(&self, id: &str, parent: Option<&str>, upgrade: Vec<Op>, downgrade: Option<Vec<Op>>) {
        let downgrade =
            downgrade.unwrap_or_else(|| upgrade.iter().rev().map(|op| op.inverse().expect("invertible")).collect());
        let file = RevisionFile {
            revision: id.into(),
            down_revision: parent.map(String::from).into_iter().collect(),
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            message: format!("revision {id}"),
            created_at: None,
            upgrade,
            downgrade,
        };
        write_revision(&self.versions(), &file).unwrap();
    }

    fn upgrade(&self, target: &str) -> Result<migrate::runtime::RunReport, migrate::Error> {
        command::upgrade(&self.url, &self.database, target, &RunOptions::default(), &mut |_| {})
    }

    fn downgrade(&self, target: &str) -> Result<migrate::runtime::RunReport, migrate::Error> {
        command::downgrade(&self.url, &self.database, target, &RunOptions::default(), &mut |_| {})
    }

    fn heads(&self) -> Vec<String> {
        command::current(&self.url, &self.database).unwrap().heads.into_iter().map(|h| h.revision).collect()
    }

    fn schema(&self, db: &TestDb) -> Schema {
        let filter = self.database.reflection_filter();
        dialect::for_backend(db.backend()).reflect(&mut db.connect(), &filter).unwrap()
    }
}

fn count(db: &TestDb, sql: &str) -> String {
    let rows: Vec<CountRow> = db.connect().load(sql).unwrap();
    rows.into_iter().next().and_then(|r| r.value).unwrap_or_default().trim().to_string()
}

fn col(name: &str, ty: &str) -> Column {
    Column::new(name, ty.parse().unwrap())
}

fn row(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn alter(table: &str, column: Column) -> AlterColumn {
    AlterColumn {
        table: table.into(),
        column: column.name.clone(),
        existing: column,
        rename: None,
        ty: None,
        nullable: None,
        default: None,
        comment: None,
    }
}

/// 25 revisions r01..r25 using every op.
fn write_chain(p: &Project, backend: Backend) {
    let status_values = |extra: bool| {
        let mut v = vec!["draft".to_string(), "published".to_string()];
        if extra {
            v.push("archived".into());
        }
        v
    };
    let status = ColumnType::Enum { name: "post_status".into(), values: status_values(false) };
    let mut authors = Table::new("authors");
    authors.columns = vec![
        col("id", "integer").not_null().autoincrement(),
        col("name", "varchar(100)").not_null(),
        col("bio", "text"),
    ];
    authors.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    let mut posts = Table::new("posts");
    posts.columns = vec![
        col("id", "integer").not_null().autoincrement(),
        col("author_id", "integer").not_null(),
        col("title", "varchar(200)").not_null(),
        Column::new("status", status).not_null().default(DefaultValue::String("draft".into())),
        col("score", "integer").default(DefaultValue::Number("0".into())),
    ];
    posts.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    let mut tags = Table::new("tags");
    tags.columns = vec![col("post_id", "integer").not_null(), col("tag", "varchar(30)").not_null()];
    tags.primary_key = Some(PrimaryKey { name: None, columns: vec!["post_id".into(), "tag".into()] });
    let fk = ForeignKey {
        name: Some("fk_posts_author".into()),
        columns: vec!["author_id".into()],
        referred_table: "authors".into(),
        referred_columns: vec!["id".into()],
        on_delete: Some(ForeignKeyAction::Cascade),
        on_update: None,
    };
    let index = |name: &str, keys: &[&str], unique: bool, predicate: Option<&str>| Index {
        name: name.into(),
        keys: keys.iter().map(|k| IndexKey::Column(k.to_string())).collect(),
        unique,
        predicate: predicate.map(String::from),
    };
    let subtitle = col("subtitle", "varchar(100)");
    let score = col("score", "integer").default(DefaultValue::Number("0".into()));
    let check = Check { name: Some("ck_posts_score".into()), expression: "score >= 0".into() };
    let unique = UniqueConstraint { name: Some("uq_authors_name".into()), columns: vec!["name".into()] };
    let execute = |sql: &str| Op::Execute(Execute { sql: Some(sql.into()), dialects: BTreeMap::new() });
    let partial = if backend == Backend::Mysql { None } else { Some("score > 0") };

    let t = |s: &str| Value::Text(s.into());
    let chain: Vec<(Vec<Op>, Option<Vec<Op>>)> = vec![
        (
            vec![
                Op::CreateEnum(EnumType { name: "post_status".into(), values: status_values(false) }),
                Op::CreateTable(authors.clone()),
            ],
            None,
        ),
        (vec![Op::CreateTable(posts.clone())], None),
        (vec![Op::AddForeignKey { table: "posts".into(), foreign_key: fk.clone() }], None),
        (
            vec![
                Op::BulkInsert {
                    table: "authors".into(),
                    rows: vec![
                        row(&[("id", Value::Integer(1)), ("name", t("Ann"))]),
                        row(&[("id", Value::Integer(2)), ("name", t("Bob"))]),
                    ],
                },
                Op::BulkInsert {
                    table: "posts".into(),
                    rows: vec![
                        row(&[("id", Value::Integer(1)), ("author_id", Value::Integer(1)), ("title", t("Hello"))]),
                        row(&[
                            ("id", Value::Integer(2)),
                            ("author_id", Value::Integer(2)),
                            ("title", t("World")),
                            ("status", t("published")),
                        ]),
                    ],
                },
            ],
            Some(vec![execute("DELETE FROM posts"), execute("DELETE FROM authors")]),
        ),
        (vec![Op::AddColumn { table: "posts".into(), column: subtitle.clone() }], None),
        (
            vec![Op::AlterColumn(AlterColumn {
                ty: Some("varchar(150)".parse().unwrap()),
                comment: Some(Some("shown under the title".into())),
                ..alter("posts", subtitle.clone())
            })],
            None,
        ),
        (vec![Op::AlterColumn(AlterColumn { nullable: Some(false), ..alter("posts", score.clone()) })], None),
        (
            vec![Op::AlterColumn(AlterColumn {
                default: Some(Some(DefaultValue::Number("5".into()))),
                ..alter("posts", score.clone().not_null())
            })],
            None,
        ),
        (
            vec![Op::AlterColumn(AlterColumn {
                rename: Some("biography".into()),
                ..alter("authors", col("bio", "text"))
            })],
            None,
        ),
        (
            vec![Op::CreateIndex { table: "posts".into(), index: index("ix_posts_title", &["title"], false, None) }],
            None,
        ),
        (
            vec![Op::CreateIndex {
                table: "posts".into(),
                index: index("ux_posts_title_author", &["title", "author_id"], true, None),
            }],
            None,
        ),
        (
            vec![Op::CreateIndex {
                table: "posts".into(),
                index: index("ix_posts_scored", &["score"], false, partial),
            }],
            None,
        ),
        (vec![Op::DropIndex { table: "posts".into(), index: index("ix_posts_title", &["title"], false, None) }], None),
        (vec![Op::AddUnique { table: "authors".into(), constraint: unique.clone() }], None),
        (vec![Op::AddCheck { table: "posts".into(), check: check.clone() }], None),
        (vec![Op::CreateTable(tags.clone())], None),
        (
            vec![
                Op::DropPrimaryKey { table: "tags".into(), primary_key: tags.primary_key.clone().unwrap() },
                Op::AddPrimaryKey {
                    table: "tags".into(),
                    primary_key: PrimaryKey { name: None, columns: vec!["tag".into(), "post_id".into()] },
                },
            ],
            None,
        ),
        (
            vec![Op::AddEnumValue {
                name: "post_status".into(),
                value: "archived".into(),
                before: None,
                existing: status_values(false),
                columns: vec!["posts.status".into()],
            }],
            None,
        ),
        (vec![Op::SetTableComment { table: "authors".into(), from: None, to: Some("people who write".into()) }], None),
        (vec![Op::RenameTable { from: "tags".into(), to: "post_tags".into() }], None),
        (vec![Op::DropForeignKey { table: "posts".into(), foreign_key: fk.clone() }], None),
        (
            vec![
                Op::DropCheck { table: "posts".into(), check: check.clone() },
                Op::DropUnique { table: "authors".into(), constraint: unique.clone() },
            ],
            None,
        ),
        (
            vec![execute("UPDATE posts SET score = 7 WHERE id = 1")],
            Some(vec![execute("UPDATE posts SET score = 5 WHERE id = 1")]),
        ),
        (
            vec![Op::DropColumn {
                table: "posts".into(),
                column: col("subtitle", "varchar(150)").comment("shown under the title"),
            }],
            None,
        ),
        (vec![Op::DropTable(Table { name: "post_tags".into(), ..tags.clone() })], None),
    ];
    // The last two need the final shape of what they drop.
    let mut final_tags = tags;
    final_tags.name = "post_tags".into();
    final_tags.primary_key = Some(PrimaryKey { name: None, columns: vec!["tag".into(), "post_id".into()] });
    let mut chain = chain;
    let last = chain.len() - 1;
    chain[last] = (vec![Op::DropTable(final_tags)], None);
    for (i, (upgrade, downgrade)) in chain.into_iter().enumerate() {
        let id = format!("r{:02}", i + 1);
        let parent = (i > 0).then(|| format!("r{i:02}"));
        p.add(&id, parent.as_deref(), upgrade, downgrade);
    }
}

#[test]
fn chain_of_every_op_up_down_up_keeps_data() {
    each_backend("rev_chain", |db| {
        let p = project(db);
        write_chain(&p, db.backend());
        let report = p.upgrade("head").unwrap_or_else(|e| panic!("{:?}: {e}", db.backend()));
        assert_eq!(report.steps.len(), 25);
        assert_eq!(p.heads(), ["r25"]);
        let schema = p.schema(db);
        let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["authors", "posts"], "{:?}", db.backend());
        let posts = schema.table("posts").unwrap();
        let score = posts.column("score").unwrap();
        assert!(!score.nullable);
        assert_eq!(score.default, Some(DefaultValue::Number("5".into())), "{:?}", db.backend());
        assert!(posts.column("subtitle").is_none());
        assert!(schema.table("authors").unwrap().column("biography").is_some());
        match &posts.column("status").unwrap().ty {
            ColumnType::Enum { values, .. } => assert_eq!(values.len(), 3),
            other => panic!("{:?}: status is {other:?}", db.backend()),
        }
        assert_eq!(count(db, "SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM posts"), "2");
        assert_eq!(count(db, "SELECT CAST(score AS CHAR(10)) AS value FROM posts WHERE id = 1"), "7");

        // Down to r10: the rebuilt tables keep their rows.
        p.downgrade("r10").unwrap_or_else(|e| panic!("{:?}: {e}", db.backend()));
        assert_eq!(p.heads(), ["r10"]);
        assert_eq!(count(db, "SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM posts"), "2");
        p.downgrade("base").unwrap_or_else(|e| panic!("{:?}: {e}", db.backend()));
        assert!(p.heads().is_empty());
        assert!(p.schema(db).tables.is_empty(), "{:?}", db.backend());
        p.upgrade("head").unwrap_or_else(|e| panic!("{:?}: {e}", db.backend()));
        assert_eq!(count(db, "SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM authors"), "2");
        // Each step once in the history, up and down.
        let history = migrate::runtime::Bookkeeping::new("migrate_version")
            .history(&mut db.connect(), dialect::for_backend(db.backend()).as_ref())
            .unwrap();
        assert_eq!(history.iter().filter(|h| h.direction == "up" && h.outcome == "ok").count(), 50);
        assert_eq!(history.iter().filter(|h| h.direction == "down" && h.outcome == "ok").count(), 25);
    });
}

#[test]
fn offline_sql_is_what_the_online_run_executes() {
    each_backend("rev_offline", |db| {
        let p = project(db);
        write_chain(&p, db.backend());
        let dialect = dialect::for_backend(db.backend());
        let offline = command::offline(&p.database, dialect.as_ref(), Direction::Up, "r02:r20").unwrap();
        p.upgrade("r02").unwrap();
        let report = p.upgrade("r20").unwrap();
        let online: Vec<String> =
            report.steps.iter().flat_map(|s| s.statements.iter().map(|x| format!("{x};"))).collect();
        let offline: Vec<&str> = offline
            .lines()
            .filter(|l| {
                !l.starts_with("--") && !l.is_empty() && *l != "COMMIT;" && *l != format!("{};", dialect.begin())
            })
            .collect();
        assert_eq!(offline.join("\n"), online.join("\n"), "{:?}", db.backend());
        let down = command::offline(&p.database, dialect.as_ref(), Direction::Down, "r20:r02").unwrap();
        let report = p.downgrade("r02").unwrap();
        for statement in report.steps.iter().flat_map(|s| &s.statements) {
            assert!(down.contains(statement.as_str()), "{:?}: {statement}", db.backend());
        }
    });
}

#[test]
fn a_failing_op_rolls_back_or_is_recorded() {
    each_backend("rev_failure", |db| {
        let p = project(db);
        let mut t = Table::new("t1");
        t.columns = vec![col("id", "integer").not_null()];
        p.add("f1", None, vec![Op::CreateTable(t.clone())], None);
        let mut t2 = Table::new("t2");
        t2.columns = vec![col("id", "integer").not_null()];
        let bad = Op::Execute(Execute {
            sql: Some("INSERT INTO no_such_table VALUES (1)".into()),
            dialects: BTreeMap::new(),
        });
        p.add(
            "f2",
            Some("f1"),
            vec![Op::CreateTable(t2.clone()), bad, Op::AddColumn { table: "t2".into(), column: col("x", "integer") }],
            Some(vec![Op::DropTable(t2.clone())]),
        );
        let error = p.upgrade("head").unwrap_err().to_string();
        assert!(error.starts_with("upgrade to f2 failed at op 2 (execute): "), "{:?}: {error}", db.backend());
        assert!(error.contains("no_such_table"), "{error}");
        assert_eq!(p.heads(), ["f1"], "f1 stays applied");
        let status = command::current(&p.url, &p.database).unwrap();
        if db.backend() == Backend::Mysql {
            // DDL committed: the first op stays, and the tool says so.
            assert!(error.contains("1 of its 3 ops stayed applied"), "{error}");
            assert_eq!(status.partial.as_ref().map(|h| h.ops_done), Some(1));
            let refused = p.upgrade("head").unwrap_err().to_string();
            assert!(refused.starts_with("revision f2 is partially applied: 1 of 3 ops ran"), "{refused}");
            // Fix the cause, then resume: the remaining ops run.
            db.connect().execute("CREATE TABLE no_such_table (id int)").unwrap();
            command::upgrade(
                &p.url,
                &p.database,
                "head",
                &RunOptions { resume: true, ..RunOptions::default() },
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(p.heads(), ["f2"]);
            assert!(p.schema(db).table("t2").unwrap().column("x").is_some());
        } else {
            assert!(error.contains("the database is as it was before this revision"), "{error}");
            assert!(status.partial.is_none());
            assert!(p.schema(db).table("t2").is_none(), "{:?}: t2 rolled back", db.backend());
            let resume = command::upgrade(
                &p.url,
                &p.database,
                "head",
                &RunOptions { resume: true, ..RunOptions::default() },
                &mut |_| {},
            );
            assert!(resume.unwrap_err().to_string().starts_with("nothing to resume"));
        }
    });
}

#[test]
fn partly_applied_steps_resume_in_their_direction_or_are_settled_by_stamp() {
    // Only MariaDB/MySQL commit DDL at once, leaving steps partly applied.
    let Some(db) = common::fresh_db(Backend::Mysql, "rev_partial") else { return };
    let p = project(&db);
    let mut t = Table::new("t1");
    t.columns = vec![col("id", "integer").not_null()];
    p.add("p1", None, vec![Op::CreateTable(t)], None);
    // One op, two statements: CREATE TABLE, then an index on a missing column.
    // An `execute` first: after one, what exists is unknown, so the plan is
    // not refused up front and the index fails half-way through its op.
    let mut t2 = Table::new("t2");
    t2.columns = vec![col("id", "integer").not_null()];
    t2.indexes = vec![Index {
        name: "ix_t2_code".into(),
        keys: vec![IndexKey::Column("code".into())],
        unique: false,
        predicate: None,
    }];
    let nothing = Op::Execute(Execute { sql: Some("DO 0".into()), dialects: BTreeMap::new() });
    p.add("p2", Some("p1"), vec![nothing, Op::CreateTable(t2.clone())], Some(vec![Op::DropTable(t2)]));
    let error = p.upgrade("head").unwrap_err().to_string();
    assert!(error.contains("1 of its 2 ops and 1 of the 2 statements of the failed op stayed applied"), "{error}");
    let status = command::current(&p.url, &p.database).unwrap();
    let partial = status.partial.expect("the created table is recorded");
    assert_eq!((partial.ops_done, partial.statements_done), (1, 1));
    // Fixed by hand; resuming runs only the statement that failed.
    db.connect().execute("ALTER TABLE t2 ADD COLUMN code integer").unwrap();
    let resume = RunOptions { resume: true, ..RunOptions::default() };
    command::upgrade(&p.url, &p.database, "head", &resume, &mut |_| {}).unwrap();
    assert_eq!(p.heads(), ["p2"]);
    assert_eq!(p.schema(&db).table("t2").unwrap().indexes.len(), 1);

    // A downgrade that fails halfway resumes with `downgrade --resume`.
    let bad = Op::Execute(Execute { sql: Some("DROP TABLE no_such_table".into()), dialects: BTreeMap::new() });
    p.add("p3", Some("p2"), vec![], Some(vec![Op::DropTable(p.schema(&db).table("t2").unwrap().clone()), bad]));
    p.upgrade("head").unwrap();
    let error = p.downgrade("p2").unwrap_err().to_string();
    assert!(error.contains("`migrate downgrade --resume` runs the rest"), "{error}");
    let refused = p.upgrade("head").unwrap_err().to_string();
    assert!(refused.contains("run `migrate downgrade --resume`"), "{refused}");
    db.connect().execute("CREATE TABLE no_such_table (id int)").unwrap();
    command::downgrade(&p.url, &p.database, "p2", &resume, &mut |_| {}).unwrap();
    assert_eq!(p.heads(), ["p2"]);
    assert!(p.schema(&db).table("t2").is_none());

    // A stamp settles a partly applied step: the user has fixed things by hand.
    let sql = |sql: &str| Op::Execute(Execute { sql: Some(sql.into()), dialects: BTreeMap::new() });
    p.add("p4", Some("p3"), vec![sql("CREATE TABLE t9 (id int)"), sql("DROP TABLE nope")], Some(vec![]));
    assert!(p.upgrade("head").is_err());
    assert!(command::current(&p.url, &p.database).unwrap().partial.is_some());
    db.connect().execute("DROP TABLE t9").unwrap();
    command::stamp(&p.url, &p.database, &["p3".into()], false, false).unwrap();
    let status = command::current(&p.url, &p.database).unwrap();
    assert!(status.partial.is_none(), "{:?}", status.partial);
    assert_eq!(p.heads(), ["p3"]);
}

#[test]
fn a_new_enum_value_is_committed_before_the_ops_that_use_it() {
    // PostgreSQL refuses to use an enum value in the transaction that adds it.
    let Some(db) = common::fresh_db(Backend::Postgres, "rev_enum_value") else { return };
    let p = project(&db);
    let mood = EnumType { name: "mood".into(), values: vec!["sad".into(), "ok".into()] };
    let mut people = Table::new("people");
    people.columns = vec![
        col("id", "integer").not_null(),
        Column::new("mood", ColumnType::Enum { name: "mood".into(), values: mood.values.clone() }),
    ];
    p.add("e1", None, vec![Op::CreateEnum(mood.clone()), Op::CreateTable(people)], None);
    let add = |value: &str, existing: &[&str]| Op::AddEnumValue {
        name: "mood".into(),
        value: value.into(),
        before: None,
        existing: existing.iter().map(|v| v.to_string()).collect(),
        columns: vec!["people.mood".into()],
    };
    let glad = Op::BulkInsert {
        table: "people".into(),
        rows: vec![row(&[("id", Value::Integer(1)), ("mood", Value::Text("glad".into()))])],
    };
    p.add("e2", Some("e1"), vec![add("glad", &["sad", "ok"]), glad], Some(vec![]));
    let offline = command::offline(&p.database, dialect::for_backend(db.backend()).as_ref(), Direction::Up, "e1:e2");
    assert!(offline.unwrap().contains("ADD VALUE IF NOT EXISTS 'glad';\nCOMMIT;\nBEGIN;\nINSERT"));
    p.upgrade("head").unwrap();
    assert_eq!(count(&db, "SELECT CAST(mood AS text) AS value FROM people"), "glad");
    // When a later op fails, the rest rolls back; the committed value stays
    // and the revision can run again.
    let bad = Op::Execute(Execute { sql: Some("INSERT INTO nope VALUES (1)".into()), dialects: BTreeMap::new() });
    p.add("e3", Some("e2"), vec![add("meh", &["sad", "ok", "glad"]), bad], Some(vec![]));
    let error = p.upgrade("head").unwrap_err().to_string();
    assert!(error.contains("as it was before this revision but for its first 1 ops, new enum values"), "{error}");
    db.connect().execute("CREATE TABLE nope (id integer)").unwrap();
    p.upgrade("head").unwrap();
    assert_eq!(p.heads(), ["e3"]);
}

#[test]
fn an_sqlite_rebuild_keeps_triggers_and_views() {
    let Some(db) = common::fresh_db(Backend::Sqlite, "rev_rebuild_dependents") else { return };
    let p = project(&db);
    let mut users = Table::new("users");
    users.columns = vec![col("id", "integer").not_null(), col("name", "text")];
    let sql = |sql: &str| Op::Execute(Execute { sql: Some(sql.into()), dialects: BTreeMap::new() });
    p.add(
        "d1",
        None,
        vec![
            Op::CreateTable(users.clone()),
            sql("CREATE TABLE log (msg text)"),
            sql("CREATE VIEW user_names AS SELECT name FROM users"),
            sql("CREATE TRIGGER users_log AFTER INSERT ON users BEGIN INSERT INTO log VALUES (new.name); END"),
        ],
        Some(vec![sql("DROP VIEW user_names"), sql("DROP TABLE log"), Op::DropTable(users.clone())]),
    );
    // Making `name` NOT NULL rebuilds `users` (drop and rename).
    let mut name = alter("users", col("name", "text"));
    name.nullable = Some(false);
    name.default = Some(Some(DefaultValue::String("?".into())));
    p.add("d2", Some("d1"), vec![Op::AlterColumn(name)], None);
    // In one run, the rebuild cannot know the trigger d1 makes: it refuses
    // rather than lose it, and the run rolls back.
    let error = p.upgrade("head").unwrap_err().to_string();
    assert!(error.contains("triggers on users made earlier in this run would be lost"), "{error}");
    assert!(p.heads().contains(&"d1".to_string()), "d1 committed before d2 failed");
    // Once the trigger is there when the run starts, the rebuild keeps it.
    p.upgrade("head").unwrap();
    db.connect().execute("INSERT INTO users (id, name) VALUES (1, 'ann')").unwrap();
    assert_eq!(count(&db, "SELECT msg AS value FROM log"), "ann", "the trigger still fires");
    assert_eq!(count(&db, "SELECT name AS value FROM user_names"), "ann", "the view still reads the table");
    p.downgrade("d1").unwrap();
    db.connect().execute("INSERT INTO users (id, name) VALUES (2, 'bob')").unwrap();
    assert_eq!(count(&db, "SELECT count(*) AS value FROM log"), "2");
}

#[test]
fn edited_files_are_noticed_until_accepted() {
    each_backend("rev_checksum", |db| {
        let p = project(db);
        let mut t = Table::new("t1");
        t.columns = vec![col("id", "integer").not_null()];
        p.add("c1", None, vec![Op::CreateTable(t)], None);
        p.upgrade("head").unwrap();
        let path = p.versions().join("c1_revision_c1.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        // Line endings and trailing space are not edits.
        std::fs::write(&path, text.replace('\n', "  \r\n")).unwrap();
        assert!(command::current(&p.url, &p.database).unwrap().tampered.is_empty());
        // Enough history that its ids sort differently as text (`10` before `9`).
        for _ in 0..5 {
            p.downgrade("base").unwrap();
            p.upgrade("head").unwrap();
        }
        let book = migrate::runtime::Bookkeeping::new(&p.database.version_table);
        let history = book.history(&mut db.connect(), dialect::for_backend(db.backend()).as_ref()).unwrap();
        let ids: Vec<i64> = history.iter().map(|h| h.id).collect();
        assert!(ids.len() >= 10 && ids.is_sorted(), "oldest first, by id: {ids:?}");
        std::fs::write(&path, text.replace("revision c1", "revision c1, edited")).unwrap();
        assert_eq!(command::current(&p.url, &p.database).unwrap().tampered, ["c1"]);
        let refused = p.upgrade("head").unwrap_err();
        assert_eq!(refused.exit_code(), 1);
        assert!(refused.to_string().contains("stamp --accept-edits"), "{refused}");
        command::stamp(&p.url, &p.database, &["c1".into()], false, true).unwrap();
        assert!(command::current(&p.url, &p.database).unwrap().tampered.is_empty());
        p.upgrade("head").unwrap();
    });
}

#[test]
fn stamp_sets_the_version_table_without_running_anything() {
    each_backend("rev_stamp", |db| {
        let p = project(db);
        let mut t = Table::new("t1");
        t.columns = vec![col("id", "integer").not_null()];
        p.add("s1", None, vec![Op::CreateTable(t)], None);
        p.add("s2", Some("s1"), vec![], Some(vec![]));
        assert_eq!(command::stamp(&p.url, &p.database, &["head".into()], false, false).unwrap(), ["s2"]);
        assert_eq!(p.heads(), ["s2"]);
        assert!(p.schema(db).tables.is_empty(), "nothing ran");
        assert!(p.upgrade("head").unwrap().steps.is_empty());
        assert_eq!(command::stamp(&p.url, &p.database, &["s1".into()], false, false).unwrap(), ["s1"]);
        assert_eq!(command::stamp(&p.url, &p.database, &["base".into()], true, false).unwrap(), Vec::<String>::new());
        assert!(p.heads().is_empty());
    });
}

#[test]
fn eight_concurrent_upgrades_apply_each_revision_once() {
    each_backend("rev_race", |db| {
        let p = project(db);
        for i in 1..=5 {
            let mut t = Table::new(format!("race{i}"));
            t.columns = vec![col("id", "integer").not_null()];
            let parent = (i > 1).then(|| format!("x{}", i - 1));
            p.add(&format!("x{i}"), parent.as_deref(), vec![Op::CreateTable(t)], None);
        }
        let children: Vec<std::process::Child> = (0..8)
            .map(|_| {
                std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
                    .args(["upgrade", "head", "-q"])
                    .current_dir(p.dir.path())
                    .env_remove("DATABASE_URL")
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{:?}: {}", db.backend(), String::from_utf8_lossy(&out.stderr));
        }
        assert_eq!(p.heads(), ["x5"]);
        let history = migrate::runtime::Bookkeeping::new("migrate_version")
            .history(&mut db.connect(), dialect::for_backend(db.backend()).as_ref())
            .unwrap();
        assert_eq!(history.len(), 5, "{:?}: each revision once: {history:?}", db.backend());
        assert!(history.iter().all(|h| h.outcome == "ok"));
    });
}

#[test]
fn unknown_targets_and_bad_files_are_clear_errors() {
    let db = common::fresh_db(Backend::Sqlite, "rev_errors").unwrap();
    let p = project(&db);
    p.add("e1", None, vec![], Some(vec![]));
    let e = p.upgrade("nope").unwrap_err();
    assert_eq!((e.exit_code(), e.to_string()), (2, "no revision `nope`".to_string()));
    std::fs::write(p.versions().join("e2_bad.toml"), "revision = \"e2\"\ndown_revision = \"e1\"\nmesage = \"x\"\n")
        .unwrap();
    let e = p.upgrade("head").unwrap_err().to_string();
    assert!(e.ends_with("e2_bad.toml:3: unknown key `mesage`; did you mean `message`?"), "{e}");
    assert!(!Path::new(&db.url.trim_start_matches("sqlite://")).exists(), "nothing was created");
}

#[test]
fn one_transaction_for_the_whole_run_rolls_back_every_revision() {
    each_backend("rev_one_tx", |db| {
        if db.backend() == Backend::Mysql {
            return; // DDL commits at once: each revision stands alone there.
        }
        let p = project(db);
        let mut t = Table::new("t1");
        t.columns = vec![col("id", "integer").not_null()];
        p.add("g1", None, vec![Op::CreateTable(t)], None);
        let bad = Op::Execute(Execute {
            sql: Some("INSERT INTO no_such_table VALUES (1)".into()),
            dialects: BTreeMap::new(),
        });
        p.add("g2", Some("g1"), vec![bad], Some(vec![]));
        let options = RunOptions { one_transaction: true, ..RunOptions::default() };
        let e = command::upgrade(&p.url, &p.database, "head", &options, &mut |_| {}).unwrap_err().to_string();
        assert!(e.ends_with("the database is as it was before this run"), "{e}");
        assert!(p.heads().is_empty());
        assert!(p.schema(db).tables.is_empty(), "{:?}: g1 rolled back too", db.backend());
    });
}

#[test]
fn data_ops_a_rollback_undid_are_never_counted_done() {
    // MariaDB/MySQL: the rows of data ops commit with the record that they are in.
    let Some(db) = common::fresh_db(Backend::Mysql, "rev_data_rollback") else { return };
    let p = project(&db);
    let mut t = Table::new("t");
    t.columns = vec![col("id", "integer").not_null()];
    p.add("d1", None, vec![Op::CreateTable(t)], None);
    let insert = |ids: &[i64]| Op::BulkInsert {
        table: "t".into(),
        rows: ids.iter().map(|i| row(&[("id", Value::Integer(*i))])).collect(),
    };
    let bad = Op::Execute(Execute { sql: Some("INSERT INTO nope VALUES (1)".into()), dialects: BTreeMap::new() });
    p.add("d2", Some("d1"), vec![insert(&[1, 2]), insert(&[3]), bad], Some(vec![]));
    let error = p.upgrade("head").unwrap_err().to_string();
    assert!(error.starts_with("upgrade to d2 failed at op 3 (execute): "), "{error}");
    let partial = command::current(&p.url, &p.database).unwrap().partial.expect("d2 is partly applied");
    let rows = count(&db, "SELECT CAST(COUNT(*) AS CHAR) AS value FROM t");
    assert_eq!((partial.ops_done, rows.as_str()), (2, "3"), "ops counted done are the ops whose rows are there");
    db.connect().execute("CREATE TABLE nope (id int)").unwrap();
    let resume = RunOptions { resume: true, ..RunOptions::default() };
    command::upgrade(&p.url, &p.database, "head", &resume, &mut |_| {}).unwrap();
    assert_eq!(count(&db, "SELECT CAST(COUNT(*) AS CHAR) AS value FROM t"), "3", "each row once");
    assert_eq!(count(&db, "SELECT CAST(COUNT(*) AS CHAR) AS value FROM nope"), "1");
    // One history row per attempt, each finished by its own id.
    let book = migrate::runtime::Bookkeeping::new("migrate_version");
    let history = book.history(&mut db.connect(), dialect::for_backend(Backend::Mysql).as_ref()).unwrap();
    let outcomes: Vec<(&str, &str)> = history.iter().map(|h| (h.revision.as_str(), h.outcome.as_str())).collect();
    assert_eq!(outcomes, [("d1", "ok"), ("d2", "failed"), ("d2", "ok")]);
}

#[test]
fn an_edited_applied_revision_is_refused_by_downgrade_and_stamp() {
    each_backend("rev_edited_down", |db| {
        let p = project(db);
        let table = |name: &str| {
            let mut t = Table::new(name);
            t.columns = vec![col("id", "integer").not_null()];
            t
        };
        p.add("b1", None, vec![Op::CreateTable(table("bt1"))], None);
        p.add("b2", Some("b1"), vec![Op::CreateTable(table("bt2"))], None);
        p.upgrade("head").unwrap();
        // The downgrade of b2 now drops bt1 instead of bt2.
        let path = p.versions().join("b2_revision_b2.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let (up, down) = text.split_once("[[downgrade]]").unwrap();
        std::fs::write(&path, format!("{up}[[downgrade]]{}", down.replace("bt2", "bt1"))).unwrap();
        let refused = p.downgrade("b1").unwrap_err();
        assert_eq!(refused.exit_code(), 1, "{:?}: {refused}", db.backend());
        let message = refused.to_string();
        assert!(message.contains(&format!("b2 ({})", path.display())), "{message}");
        assert!(message.contains("-name = \"bt2\"\n+name = \"bt1\""), "{message}");
        let names = |p: &Project| p.schema(db).tables.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&p), ["bt1", "bt2"], "{:?}: nothing dropped", db.backend());
        let refused = command::stamp(&p.url, &p.database, &["b1".into()], false, false).unwrap_err();
        assert!(refused.to_string().contains("stamp --accept-edits"), "{refused}");
        assert_eq!(p.heads(), ["b2"]);
        // Accepted on purpose, the edit runs.
        command::stamp(&p.url, &p.database, &["b2".into()], false, true).unwrap();
        p.downgrade("b1").unwrap();
        assert_eq!(names(&p), ["bt2"]);
    });
}

/// The crash test's revisions k01..k12: per revision, per op, the op written
/// and the op that models its effect on the schema (raw SQL modelled by hand).
fn crash_chain() -> Vec<Vec<(Op, Op)>> {
    let table = |name: &str, columns: Vec<Column>, indexes: &[(&str, &[&str])]| {
        let mut t = Table::new(name);
        t.columns = columns;
        t.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
        t.indexes = indexes
            .iter()
            .map(|(name, keys)| Index {
                name: name.to_string(),
                keys: keys.iter().map(|k| IndexKey::Column(k.to_string())).collect(),
                unique: false,
                predicate: None,
            })
            .collect();
        Op::CreateTable(t)
    };
    let id = || col("id", "integer").not_null();
    let index = |name: &str, column: &str| Index {
        name: name.into(),
        keys: vec![IndexKey::Column(column.into())],
        unique: false,
        predicate: None,
    };
    let insert = |table: &str, rows: &[i64]| Op::BulkInsert {
        table: table.into(),
        rows: rows.iter().map(|i| row(&[("id", Value::Integer(*i))])).collect(),
    };
    let sql = |sql: &str, mysql: Option<&str>| {
        let dialects = mysql.map(|m| (Backend::Mysql, m.to_string())).into_iter().collect();
        Op::Execute(Execute { sql: Some(sql.into()), dialects })
    };
    let same = |op: Op| (op.clone(), op);
    vec![
        vec![same(table(
            "a",
            vec![id(), col("n", "integer").not_null().default(DefaultValue::Number("0".into()))],
            &[],
        ))],
        vec![same(insert("a", &[1, 2, 3])), same(sql("UPDATE a SET n = n + 1", None))],
        vec![same(table(
            "b",
            vec![id(), col("label", "varchar(20)")],
            &[("ix_b_label", &["label"]), ("ix_b_both", &["id", "label"])],
        ))],
        vec![
            same(Op::AddColumn { table: "a".into(), column: col("c", "integer") }),
            same(Op::CreateIndex { table: "a".into(), index: index("ix_a_c", "c") }),
        ],
        vec![(
            sql("CREATE TABLE slow1 (s integer)", Some("CREATE TABLE slow1 AS SELECT SLEEP(1) AS s")),
            table("slow1", vec![col("s", "integer")], &[]),
        )],
        vec![same(insert("b", &[1, 2])), same(sql("UPDATE a SET n = n + 1 WHERE id = 1", None))],
        vec![same(table("c", vec![id(), col("v", "integer")], &[])), same(insert("c", &[1, 2]))],
        vec![
            same(Op::AddColumn { table: "b".into(), column: col("x", "integer") }),
            same(Op::DropIndex { table: "b".into(), index: index("ix_b_label", "label") }),
        ],
        vec![same(sql("UPDATE a SET n = n + 10", None))],
        vec![same(table("d", vec![id(), col("w", "varchar(10)")], &[("ix_d_w", &["w"])]))],
        vec![same(insert("d", &[1])), same(insert("d", &[2, 3]))],
        vec![(
            sql("CREATE INDEX ix_c_v ON c (v)", None),
            Op::CreateIndex { table: "c".into(), index: index("ix_c_v", "v") },
        )],
    ]
}

/// Tables, `table.column`s and `table#index`es of a schema.
fn objects(schema: &Schema) -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    for t in &schema.tables {
        set.insert(t.name.clone());
        set.extend(t.columns.iter().map(|c| format!("{}.{}", t.name, c.name)));
        set.extend(t.indexes.iter().map(|i| format!("{}#{}", t.name, i.name)));
    }
    set
}

/// After a kill: what `current` reports must be what the schema shows. The
/// objects of the revisions and ops it calls done are there; of the op it
/// stopped in, no more than that op changes; of later ops, none.
fn assert_current_matches_schema(p: &Project, db: &TestDb, chain: &[Vec<(Op, Op)>], trial: &str) {
    let status = command::current(&p.url, &p.database).unwrap();
    let applied = match status.heads.as_slice() {
        [] => 0,
        [head] => head.revision[1..].parse::<usize>().unwrap(),
        more => panic!("{trial}: several heads {more:?}"),
    };
    let mut before = Schema::default();
    let model = |state: &mut Schema, ops: &[(Op, Op)]| ops.iter().for_each(|(_, m)| state.apply(m).unwrap());
    chain[..applied].iter().for_each(|ops| model(&mut before, ops));
    let mut after = before.clone();
    if let Some(partial) = &status.partial {
        assert_eq!(partial.revision, format!("k{:02}", applied + 1), "{trial}: {partial:?}");
        let ops = &chain[applied];
        model(&mut before, &ops[..partial.ops_done]);
        after = before.clone();
        if partial.statements_done > 0 || partial.uncertain {
            model(&mut after, &ops[partial.ops_done..=partial.ops_done]);
        }
    }
    // The op it stopped in may have made or dropped some of what it makes or drops.
    let found = objects(&p.schema(db));
    let (before, after) = (objects(&before), objects(&after));
    let (sure, possible) = (&before & &after, &before | &after);
    let missing: Vec<_> = sure.difference(&found).collect();
    let extra: Vec<_> = found.difference(&possible).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{trial}: current says {:?} {:?}, but {missing:?} are missing and {extra:?} should not exist",
        status.heads,
        status.partial
    );
}

/// Kills `migrate upgrade head` at many points of a 12-revision upgrade,
/// and after each kill checks `current` against the schema and that
/// `upgrade` (with `--resume` where asked) finishes with every revision
/// applied once.
fn crash_at_many_points(backend: Backend) {
    let chain = crash_chain();
    let setup = |trial: &str| {
        let db = common::fresh_db(backend, trial)?;
        let p = project(&db);
        for (i, ops) in chain.iter().enumerate() {
            let parent = (i > 0).then(|| format!("k{i:02}"));
            p.add(
                &format!("k{:02}", i + 1),
                parent.as_deref(),
                ops.iter().map(|(op, _)| op.clone()).collect(),
                Some(vec![]),
            );
        }
        Some((db, p))
    };
    let spawn = |p: &Project, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
            .args(args)
            .current_dir(p.dir.path())
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let finish = |p: &Project, db: &TestDb, trial: &str| {
        assert_current_matches_schema(p, db, &chain, trial);
        let resume = command::current(&p.url, &p.database).unwrap().partial.is_some();
        let args: &[&str] = if resume { &["upgrade", "head", "-q", "--resume"] } else { &["upgrade", "head", "-q"] };
        let out = spawn(p, args).wait_with_output().unwrap();
        assert!(out.status.success(), "{trial}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(p.heads(), ["k12"], "{trial}");
        let mut model = Schema::default();
        chain.iter().flatten().for_each(|(_, m)| model.apply(m).unwrap());
        assert_eq!(objects(&p.schema(db)), objects(&model), "{trial}");
        let number = |sql: &str| count(db, sql);
        assert_eq!(number("SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM a"), "3", "{trial}");
        assert_eq!(number("SELECT CAST(SUM(n) AS CHAR(10)) AS value FROM a"), "34", "{trial}: each UPDATE once");
        assert_eq!(number("SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM b"), "2", "{trial}");
        assert_eq!(number("SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM d"), "3", "{trial}");
        let book = migrate::runtime::Bookkeeping::new("migrate_version");
        let history = book.history(&mut db.connect(), dialect::for_backend(backend).as_ref()).unwrap();
        for i in 1..=chain.len() {
            let ok = history.iter().filter(|h| h.revision == format!("k{i:02}") && h.outcome == "ok").count();
            assert_eq!(ok, 1, "{trial}: k{i:02} applied once: {history:?}");
        }
    };
    // An uninterrupted run gives the time to spread the kills over.
    let Some((db, p)) = setup("crash_full") else { return };
    let started = std::time::Instant::now();
    let out = spawn(&p, &["upgrade", "head", "-q"]).wait_with_output().unwrap();
    let full = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    finish(&p, &db, "uninterrupted");
    let trials = 12;
    for trial in 1..=trials {
        let (db, p) = setup("crash_kill").unwrap();
        let mut child = spawn(&p, &["upgrade", "head", "-q"]);
        let delay = full * trial / (trials + 1);
        std::thread::sleep(delay); // the point of the test: where the kill lands
        let _ = child.kill();
        let _ = child.wait();
        finish(&p, &db, &format!("killed after {delay:?}"));
    }
    if backend != Backend::Mysql {
        return;
    }
    // Kills at chosen points, found by polling the history: during the slow
    // DDL the server finishes alone, and between the statements of one op.
    let points: [(&str, &str); 2] = [
        ("during the slow DDL", "revision = 'k05' AND outcome = 'running' AND uncertain = 1"),
        ("between the statements of create_table b", "revision = 'k03' AND statements_done >= 1"),
    ];
    for (trial, condition) in points {
        let (db, p) = setup("crash_point").unwrap();
        let mut child = spawn(&p, &["upgrade", "head", "-q"]);
        let sql = format!("SELECT CAST(COUNT(*) AS CHAR) AS value FROM migrate_version_history WHERE {condition}");
        let mut conn = db.connect();
        while child.try_wait().unwrap().is_none() {
            let seen: Vec<CountRow> = conn.load(&sql).unwrap_or_default();
            if seen.first().and_then(|r| r.value.as_deref()).is_some_and(|v| v != "0") {
                let _ = child.kill();
                break;
            }
        }
        let _ = child.wait();
        finish(&p, &db, trial);
    }
}

#[test]
fn killed_at_any_point_an_upgrade_is_reported_truthfully_and_finishes_sqlite() {
    crash_at_many_points(Backend::Sqlite);
}

#[test]
fn killed_at_any_point_an_upgrade_is_reported_truthfully_and_finishes_postgres() {
    crash_at_many_points(Backend::Postgres);
}

#[test]
fn killed_at_any_point_an_upgrade_is_reported_truthfully_and_finishes_mysql() {
    crash_at_many_points(Backend::Mysql);
}

#[test]
fn a_run_killed_during_a_statement_the_server_finishes_is_reported_interrupted_not_live() {
    let Some(db) = common::fresh_db(Backend::Mysql, "rev_dead_holder") else { return };
    let p = project(&db);
    // A statement that holds no metadata lock, so that `current` is not
    // kept waiting behind it.
    let slow = Op::Execute(Execute { sql: Some("DO SLEEP(3)".into()), dialects: BTreeMap::new() });
    let add = Op::AddColumn { table: "h1".into(), column: col("x", "integer") };
    p.add("h1", None, vec![Op::CreateTable(keyed("h1")), slow, add], Some(vec![]));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(["upgrade", "head", "-q"])
        .current_dir(p.dir.path())
        .env_remove("DATABASE_URL")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = "SELECT CAST(COUNT(*) AS CHAR) AS value FROM migrate_version_history \
                   WHERE revision = 'h1' AND outcome = 'running' AND ops_done = 1 AND uncertain = 1";
    let mut conn = db.connect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        // Live, with its holder row written, and in the slow statement.
        let seen: Vec<CountRow> = conn.load(started).unwrap_or_default();
        let live = command::current(&p.url, &p.database).unwrap().live;
        if live.is_some() && seen.first().and_then(|r| r.value.as_deref()).is_some_and(|v| v != "0") {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its slow statement was seen");
        assert!(std::time::Instant::now() < deadline, "the slow statement was not seen starting");
        std::thread::yield_now();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server goes on with the dead client's statement, and keeps its
    // named lock until it ends: the run is gone all the same.
    let status = command::current(&p.url, &p.database).unwrap();
    assert_eq!(status.live, None, "{status:?}");
    let partial = status.partial.expect("the killed run's revision is reported partial");
    assert_eq!((partial.revision.as_str(), partial.ops_done, partial.uncertain), ("h1", 1, true), "{partial:?}");
    assert_eq!(status.partial_op.map(|o| o.label), Some("execute".to_string()));
    // The resume waits for the server to finish that statement (its lock).
    let done = RunOptions { resume: true, uncertain: Some(command::Uncertain::Done), ..RunOptions::default() };
    command::upgrade(&p.url, &p.database, "head", &done, &mut |_| {}).unwrap();
    let running = "SELECT CAST(COUNT(*) AS CHAR) AS value FROM information_schema.processlist \
                   WHERE INFO = 'DO SLEEP(3)' AND DB = DATABASE()";
    assert_eq!(count(&db, running), "0", "the resume ran while the dead run's statement still ran");
    assert_eq!(p.heads(), ["h1"]);
    assert!(p.schema(&db).table("h1").is_some_and(|t| t.columns.iter().any(|c| c.name == "x")));
    assert!(command::current(&p.url, &p.database).unwrap().partial.is_none());
}

#[test]
fn an_interrupted_statement_is_decided_from_the_schema_or_settled_explicitly() {
    let Some(db) = common::fresh_db(Backend::Mysql, "rev_uncertain") else { return };
    let p = project(&db);
    let mut t = Table::new("t1");
    t.columns = vec![col("id", "integer").not_null()];
    p.add("u1", None, vec![Op::CreateTable(t)], None);
    let sql = |sql: &str| Op::Execute(Execute { sql: Some(sql.into()), dialects: BTreeMap::new() });
    let add = |name: &str| Op::AddColumn { table: "t1".into(), column: col(name, "integer") };
    p.add("u2", Some("u1"), vec![add("x"), sql("OPTIMIZE TABLE t1"), add("y")], Some(vec![]));
    p.add("u3", Some("u2"), vec![sql("OPTIMIZE TABLE t1")], Some(vec![]));
    p.upgrade("u1").unwrap();
    // What a kill during u2's first statement leaves when the server finished it.
    let crashed = |revision: &str| {
        format!(
            "INSERT INTO migrate_version_history (revision, direction, checksum, started_at, outcome, ops_done, \
             statements_done, uncertain) VALUES ('{revision}', 'up', '', '2026-12-01T00:00:00Z', 'running', 0, 0, 1)"
        )
    };
    db.connect().execute("ALTER TABLE t1 ADD COLUMN x integer").unwrap();
    db.connect().execute(&crashed("u2")).unwrap();
    let status = command::current(&p.url, &p.database).unwrap();
    let partial = status.partial.expect("an interrupted run is partial, 0 statements done or not");
    assert!(partial.uncertain);
    assert_eq!(status.partial_op.map(|o| o.label), Some("add_column t1.x".to_string()));
    let refused = p.upgrade("head").unwrap_err().to_string();
    assert!(refused.contains("the run was interrupted in op 1 (`add_column t1.x`)"), "{refused}");
    let resume = RunOptions { resume: true, ..RunOptions::default() };
    command::upgrade(&p.url, &p.database, "u2", &resume, &mut |_| {}).unwrap();
    let columns: Vec<String> = p.schema(&db).tables[0].columns.iter().map(|c| c.name.clone()).collect();
    assert_eq!(columns, ["id", "x", "y"], "x was taken as done, not added twice");
    // A statement whose effect the schema cannot show stops the resume...
    db.connect().execute(&crashed("u3")).unwrap();
    let refused = command::upgrade(&p.url, &p.database, "head", &resume, &mut |_| {}).unwrap_err();
    assert_eq!(refused.exit_code(), 1);
    assert!(
        refused.to_string().starts_with(
            "revision u3 was interrupted in op 1 (`execute`), statement 1 of 1, and the schema cannot tell \
             whether it took effect: `OPTIMIZE TABLE t1`"
        ),
        "{refused}"
    );
    assert!(refused.to_string().contains("--uncertain done"), "{refused}");
    // ...until the user says what it did.
    let redo = RunOptions { uncertain: Some(command::Uncertain::Redo), ..resume };
    command::upgrade(&p.url, &p.database, "head", &redo, &mut |_| {}).unwrap();
    assert_eq!(p.heads(), ["u3"]);
    assert!(command::current(&p.url, &p.database).unwrap().partial.is_none());
}

/// A table `name` with an integer primary key `id`.
fn keyed(name: &str) -> Table {
    let mut t = Table::new(name);
    t.columns = vec![col("id", "integer").not_null()];
    t.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    t
}

#[test]
fn a_live_run_is_reported_by_current_with_its_revision_holder_and_exit_0() {
    each_backend("rev_live", |db| {
        let p = project(db);
        p.add("l1", None, vec![Op::CreateTable(keyed("l1"))], None);
        p.add("l2", Some("l1"), vec![Op::CreateTable(keyed("l2"))], None);
        p.upgrade("l1").unwrap();
        let dialect = dialect::for_backend(db.backend());
        let book = migrate::runtime::Bookkeeping::new("migrate_version");
        let mut conn = db.connect();
        let timeout = std::time::Duration::from_secs(10);
        let lock = migrate::runtime::RunLock::acquire(&mut conn, dialect.as_ref(), &book, timeout, false, 30).unwrap();
        lock.advance("l2", Direction::Up);
        // The holder row is written by the lock's own thread: wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let live = loop {
            let status = command::current(&p.url, &p.database).unwrap();
            match status.live {
                Some(live) if live.revision.as_deref() == Some("l2") => break live,
                _ if std::time::Instant::now() > deadline => panic!("{:?}: no live run seen: {status:?}", db.backend()),
                _ => std::thread::yield_now(),
            }
        };
        assert_eq!(live.pid, std::process::id(), "{:?}", db.backend());
        assert!(!live.host.is_empty() && !live.since.is_empty(), "{live:?}");
        assert_eq!(live.lease_until, None, "{live:?}: a lease only on a Galera cluster");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
            .arg("current")
            .current_dir(p.dir.path())
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{:?}: {text}{}", db.backend(), String::from_utf8_lossy(&out.stderr));
        let pid = std::process::id();
        assert!(text.contains(&format!("a migrate run is live: applying l2, by pid {pid} on ")), "{text}");
        lock.release(&mut conn).unwrap();
        assert_eq!(command::current(&p.url, &p.database).unwrap().live, None, "{:?}", db.backend());
    });
}

#[test]
fn current_during_a_real_mysql_upgrade_says_live_not_failed() {
    let Some(db) = common::fresh_db(Backend::Mysql, "rev_live_mysql") else { return };
    let p = project(&db);
    let slow = Op::Execute(Execute { sql: Some("DO SLEEP(4)".into()), dialects: BTreeMap::new() });
    p.add("s1", None, vec![Op::CreateTable(keyed("s1")), slow], Some(vec![Op::DropTable(keyed("s1"))]));
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(["upgrade", "head", "-q"])
        .current_dir(p.dir.path())
        .env_remove("DATABASE_URL")
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        // Once the first op is done, the step's history row is running.
        let status = command::current(&p.url, &p.database).unwrap();
        if status.live.as_ref().is_some_and(|l| l.revision.as_deref() == Some("s1"))
            && p.schema(&db).table("s1").is_some()
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no live run seen");
        std::thread::yield_now();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .arg("current")
        .current_dir(p.dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("a migrate run is live: applying s1, by pid {} on ", child.id())), "{text}");
    assert!(!text.contains("partially applied"), "{text}");
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(p.heads(), ["s1"]);
}

#[test]
fn on_one_mysql_server_a_crashed_holders_row_does_not_hold_the_lock() {
    let Some(db) = common::fresh_db(Backend::Mysql, "rev_lease") else { return };
    let mut p = project(&db);
    p.add("k1", None, vec![Op::CreateTable(keyed("k1"))], None);
    p.add("k2", Some("k1"), vec![Op::CreateTable(keyed("k2"))], None);
    p.upgrade("k1").unwrap();
    // A holder killed mid-run: its row stays, its named lock went with it.
    db.connect()
        .execute(
            "UPDATE migrate_version_lock SET holder = 'ghost', host = 'gone', pid = 4242, \
             acquired_at = UTC_TIMESTAMP(), expires_at = UTC_TIMESTAMP() + INTERVAL 1 HOUR WHERE id = 1",
        )
        .unwrap();
    assert_eq!(command::current(&p.url, &p.database).unwrap().live, None);
    p.database.lock_timeout = 0.3;
    p.upgrade("head").unwrap();
    assert_eq!(p.heads(), ["k2"]);
    assert_eq!(
        count(&db, "SELECT CAST(COUNT(*) AS CHAR) AS value FROM migrate_version_lock WHERE holder IS NULL"),
        "1"
    );
}

#[test]
fn version_table_changes_are_compare_and_set() {
    each_backend("rev_cas", |db| {
        let p = project(db);
        p.add("v1", None, vec![Op::CreateTable(keyed("v1"))], None);
        p.upgrade("head").unwrap();
        let dialect = dialect::for_backend(db.backend());
        let book = migrate::runtime::Bookkeeping::new("migrate_version");
        let mut conn = db.connect();
        // Another run moved the table on: v1 is no longer the head this change expects.
        conn.execute("UPDATE migrate_version SET version_num = 'other'").unwrap();
        for (before, after) in [(vec!["v1".to_string()], vec!["v2".to_string()]), (vec!["v1".into()], vec![])] {
            let statements = book.version_statements(&before, &after);
            conn.execute(dialect.begin()).unwrap();
            let e = book.apply_version(&mut conn, "v2", &statements).unwrap_err().to_string();
            conn.execute("ROLLBACK").unwrap();
            assert!(e.starts_with("the version table changed under this run at revision v2: `"), "{e}");
            assert!(e.contains("changed 0 rows instead of 1; the change was rolled back"), "{e}");
        }
        assert_eq!(count(db, "SELECT version_num AS value FROM migrate_version"), "other");
        // Creating the tables again where they exist is no error (IF NOT EXISTS).
        for table in book.tables() {
            for statement in dialect.create_table_if_missing(&table) {
                conn.execute(&statement).unwrap();
            }
        }
    });
}

#[test]
fn a_run_whose_version_row_moved_underneath_fails_and_rolls_back() {
    each_backend("rev_cas_run", |db| {
        let p = project(db);
        p.add("w1", None, vec![Op::CreateTable(keyed("w1"))], None);
        // Stands for another run that moved the version table on meanwhile.
        let moved = Op::Execute(Execute {
            sql: Some("UPDATE migrate_version SET version_num = 'elsewhere'".into()),
            dialects: BTreeMap::new(),
        });
        p.add("w2", Some("w1"), vec![moved], Some(vec![]));
        p.upgrade("w1").unwrap();
        let e = p.upgrade("head").unwrap_err();
        let message = e.to_string();
        assert!(message.starts_with("the version table changed under this run at revision w2: `UPDATE"), "{message}");
        assert_eq!(e.exit_code(), 3, "{message}");
        assert_eq!(p.heads(), ["w1"], "{:?}: rolled back", db.backend());
    });
}

#[test]
fn primaries_and_single_servers_are_neither_standbys_nor_clusters() {
    for backend in [Backend::Postgres, Backend::Mysql] {
        let Some(db) = common::fresh_db(backend, "rev_standby") else { continue };
        let facts = dialect::for_backend(backend).prepare_session(&mut db.connect()).unwrap();
        assert_eq!(facts, migrate::dialect::ServerFacts::default(), "{backend:?}");
    }
}

#[test]
fn a_history_table_from_an_older_version_is_read_and_completed() {
    each_backend("rev_old_history", |db| {
        let p = project(db);
        let mut t = Table::new("t1");
        t.columns = vec![col("id", "integer").not_null()];
        p.add("o1", None, vec![Op::CreateTable(t)], None);
        p.upgrade("head").unwrap();
        for column in ["source", "uncertain"] {
            db.connect().execute(&format!("ALTER TABLE migrate_version_history DROP COLUMN {column}")).unwrap();
        }
        let status = command::current(&p.url, &p.database).unwrap();
        assert_eq!((p.heads(), status.partial.is_none()), (vec!["o1".to_string()], true), "{:?}", db.backend());
        p.add("o2", Some("o1"), vec![], Some(vec![]));
        p.upgrade("head").unwrap();
        let book = migrate::runtime::Bookkeeping::new("migrate_version");
        let history = book.history(&mut db.connect(), dialect::for_backend(db.backend()).as_ref()).unwrap();
        let sources: Vec<bool> = history.iter().map(|h| h.source.is_some()).collect();
        assert_eq!(sources, [false, true], "{:?}: the columns are back, old rows without a text", db.backend());
    });
}
