//! Autogenerate on the three real databases: for each kind of change,
//! models before -> revision -> upgrade -> `check` in sync; models after ->
//! revision -> upgrade -> in sync, rows kept; downgrade -> in sync with the
//! models before again.

mod common;

use common::cases::{BASE, cases};
use common::{TestDb, each_backend};
use migrate::command::{self, NewRevision, RunOptions};
use migrate::config::{Config, DatabaseConfig};
use migrate::db::{Backend, DatabaseUrl};

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    value: Option<String>,
}

struct Project {
    dir: tempfile::TempDir,
    database: DatabaseConfig,
    url: DatabaseUrl,
}

fn project(db: &TestDb) -> Project {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations/versions")).unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    let toml = format!("database_url = \"{}\"\n", db.url);
    std::fs::write(dir.path().join("migrate.toml"), &toml).unwrap();
    let database = Config::parse(&toml, &dir.path().join("migrate.toml")).unwrap().database(None).unwrap();
    Project { url: DatabaseUrl::parse(&db.url).unwrap(), dir, database }
}

impl Project {
    fn models(&self, toml: &str) {
        std::fs::write(self.dir.path().join("models/app.toml"), toml).unwrap();
    }

    /// Autogenerates and applies a revision; panics unless the database then matches.
    fn migrate(&self, backend: Backend, case: &str) -> usize {
        let new = NewRevision { message: case.into(), ..NewRevision::default() };
        let written = command::autogenerate(&self.url, &self.database, new, false, &mut |_| false)
            .unwrap_or_else(|e| panic!("{backend:?} {case}: {e}"));
        let ops = written.as_ref().map_or(0, |(_, drift)| drift.diff.upgrade.len());
        command::upgrade(&self.url, &self.database, "head", &RunOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{backend:?} {case}: upgrade: {e}"));
        self.assert_in_sync(backend, case);
        ops
    }

    fn assert_in_sync(&self, backend: Backend, case: &str) {
        let drift = command::check(&self.url, &self.database).unwrap();
        assert!(drift.in_sync, "{backend:?} {case}: still differs: {:#?}", drift.diff);
    }

    fn downgrade(&self, backend: Backend, case: &str) {
        command::downgrade(&self.url, &self.database, "-1", &RunOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{backend:?} {case}: downgrade: {e}"));
    }
}

fn value(db: &TestDb, sql: &str) -> String {
    let rows: Vec<Row> = db.connect().load(sql).unwrap();
    rows.into_iter().next().and_then(|r| r.value).unwrap_or_default().trim().to_string()
}

#[test]
fn every_kind_of_change_up_and_down() {
    each_backend("autogen_matrix", |db| {
        let backend = db.backend();
        for (case, after, backends) in cases() {
            if !backends.contains(&backend) {
                continue;
            }
            // Each case in its own tables: start from an empty database.
            let fresh = common::fresh_db(backend, "autogen_case").unwrap();
            let p = project(&fresh);
            p.models(BASE);
            assert!(p.migrate(backend, case) > 0);
            fresh
                .connect()
                .execute("INSERT INTO teams (name) VALUES ('core'); INSERT INTO users (team_id, email, fullname, score) VALUES (1, 'a@b.c', 'Ann', 5)")
                .unwrap();
            p.models(&after);
            assert!(p.migrate(backend, case) > 0, "{backend:?} {case}: no change detected");
            let users = value(&fresh, "SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM users");
            assert_eq!(users, "1", "{backend:?} {case}: rows kept");
            p.downgrade(backend, case);
            p.models(BASE);
            p.assert_in_sync(backend, &format!("{case} (downgraded)"));
            assert_eq!(value(&fresh, "SELECT CAST(COUNT(*) AS CHAR(10)) AS value FROM users"), "1");
        }
        let _ = db;
    });
}

#[test]
fn no_changes_writes_nothing_and_the_database_must_be_at_head() {
    each_backend("autogen_empty", |db| {
        let p = project(db);
        p.models(BASE);
        p.migrate(db.backend(), "base");
        let new = NewRevision { message: "nothing".into(), ..NewRevision::default() };
        assert!(command::autogenerate(&p.url, &p.database, new.clone(), false, &mut |_| false).unwrap().is_none());
        let (written, _) =
            command::autogenerate(&p.url, &p.database, new.clone(), true, &mut |_| false).unwrap().unwrap();
        let e = command::autogenerate(&p.url, &p.database, new, false, &mut |_| false).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().contains(&format!("the script's heads are {}", written.revision)), "{e}");
    });
}

#[test]
fn shadow_check_catches_revisions_that_do_not_make_the_models() {
    each_backend("autogen_shadow", |db| {
        let p = project(db);
        p.models(BASE);
        p.migrate(db.backend(), "base");
        let shadow = common::fresh_db(db.backend(), "autogen_shadow2").unwrap();
        let shadow_url = DatabaseUrl::parse(&shadow.url).unwrap();
        assert!(command::check_shadow(Some(&shadow_url), None, &p.database).unwrap().in_sync);
        assert!(shadow.connect().execute("SELECT 1").is_ok());
        // A model change without a revision: the shadow check finds it.
        p.models(&BASE.replace("{ name = \"fullname\", type = \"text\" },", ""));
        let drift = command::check_shadow(Some(&shadow_url), None, &p.database).unwrap();
        assert!(!drift.in_sync);
        assert_eq!(drift.diff.upgrade.iter().map(|o| o.label()).collect::<Vec<_>>(), ["drop_column users.fullname"]);
        // And it left the shadow database empty.
        let empty =
            migrate::dialect::for_backend(db.backend()).reflect(&mut shadow.connect(), &Default::default()).unwrap();
        assert!(empty.tables.is_empty(), "{:?}", empty.tables);
    });
}

#[test]
fn a_realistic_models_file_round_trips() {
    each_backend("autogen_shop", |db| {
        let p = project(db);
        p.models(include_str!("fixtures/shop.toml"));
        let ops = p.migrate(db.backend(), "shop");
        assert!(ops >= 24, "{ops} ops");
        let tables = migrate::dialect::for_backend(db.backend())
            .reflect(&mut db.connect(), &p.database.reflection_filter())
            .unwrap();
        assert_eq!(tables.tables.len(), 24);
        // Nothing more to generate, and everything can be undone.
        let new = NewRevision { message: "again".into(), ..NewRevision::default() };
        assert!(command::autogenerate(&p.url, &p.database, new, false, &mut |_| false).unwrap().is_none());
        command::downgrade(&p.url, &p.database, "base", &RunOptions::default(), &mut |_| {}).unwrap();
        let empty = migrate::dialect::for_backend(db.backend())
            .reflect(&mut db.connect(), &p.database.reflection_filter())
            .unwrap();
        assert!(empty.tables.is_empty());
    });
}

/// Models using every expression form a backend rewrites when it stores it
/// (casts, `IN`, `BETWEEN`, negative numbers, dates, MariaDB's function
/// spellings, `0.00`): after autogenerate and upgrade, `check` finds no
/// drift, and nothing more is generated.
#[test]
fn expressions_the_database_rewrites_are_no_drift() {
    each_backend("autogen_expressions", |db| {
        let backend = db.backend();
        let mysql = backend == Backend::Mysql;
        // MariaDB has neither partial nor expression indexes (refused or lossy).
        let indexes = if mysql {
            String::new()
        } else {
            r#"indexes = [
    { name = "ix_t_at", columns = ["id"], where = "at > '2020-01-01'" },
    { name = "ix_t_kind", columns = ["id"], where = "kind IN ('a','b')" },
    { name = "ix_t_neg", columns = ["id"], where = "d > -5 AND kind <> 'z'" },
    { name = "ix_t_lower", keys = [{ expression = "lower(email)" }] },
]"#
            .to_string()
        };
        let models = format!(
            r#"
[[tables]]
name = "t"
columns = [
    {{ name = "id", type = "integer", primary_key = true }},
    {{ name = "kind", type = "varchar(10)" }},
    {{ name = "d", type = "integer" }},
    {{ name = "at", type = "timestamp", default = "'2020-01-01'" }},
    {{ name = "on_day", type = "date", default = "'2020-01-01'" }},
    {{ name = "email", type = "varchar(100)" }},
    {{ name = "n", type = "numeric(10,2)", default = 0 }},
    {{ name = "m", type = "numeric(10,2)", default = "1.50" }},
    {{ name = "s", type = "varchar(10)", default = "lower('X')" }},
    {{ name = "u", type = "varchar(10)", default = "upper('x')" }},
]
checks = [
    {{ expression = "kind IN ('a','b')" }},
    {{ expression = "kind NOT IN ('x', 'y')" }},
    {{ expression = "kind <> 'q' OR kind IN ('q')" }},
    {{ expression = "d > -5" }},
    {{ expression = "d BETWEEN -5 AND 5" }},
    {{ expression = "d NOT BETWEEN -50 AND -40" }},
    {{ expression = "length(email) > 3" }},
    {{ expression = "n >= 0.00" }},
    {{ expression = "n <> -1.5" }},
    {{ expression = "upper(kind) <> 'Z'" }},
    {{ expression = "d IS NOT NULL AND (d > 0 OR d < -10)" }},
    {{ expression = "at > '2020-01-01'" }},
    {{ expression = "d IN (1, 2)" }},
    {{ expression = "kind LIKE 'a%'" }},
    {{ expression = "COALESCE(d, 0) >= 0" }},
    {{ expression = "NOT (d = 3)" }},
    {{ expression = "d != 4" }},
]
{indexes}
"#
        );
        let p = project(db);
        p.models(&models);
        p.migrate(backend, "expressions");
        let new = NewRevision { message: "again".into(), ..NewRevision::default() };
        let again = command::autogenerate(&p.url, &p.database, new, false, &mut |_| false).unwrap();
        assert!(again.is_none(), "{backend:?}: {:#?}", again.map(|(_, d)| d.diff));
    });
}

/// PostgreSQL cannot drop an enum label: the type is made anew, and partial
/// indexes and checks comparing the column with a label are made again with
/// it. The downgrade of "add an enum value" then works, as does `base`.
#[test]
fn removing_an_enum_value_keeps_indexes_and_checks_on_the_column() {
    each_backend("autogen_enum_drop", |db| {
        let backend = db.backend();
        let models = |values: &str| {
            format!(
                r#"
[[enums]]
name = "st"
values = [{values}]

[[tables]]
name = "jobs"
columns = [
    {{ name = "id", type = "integer", primary_key = true }},
    {{ name = "state", type = {{ enum = "st" }}, nullable = false, default = "'new'" }},
]
checks = [{{ name = "ck_jobs_state", expression = "state <> 'done' OR id > 0" }}]
indexes = [{{ name = "ix_jobs_open", columns = ["id"], where = "state <> 'done'" }}]
"#
            )
        };
        let p = project(db);
        p.models(&models(r#""new", "done""#));
        p.migrate(backend, "enum base");
        p.models(&models(r#""new", "late", "done""#));
        p.migrate(backend, "add an enum value");
        p.downgrade(backend, "add an enum value");
        p.models(&models(r#""new", "done""#));
        p.assert_in_sync(backend, "enum value removed");
        command::downgrade(&p.url, &p.database, "base", &RunOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{backend:?}: downgrade base: {e}"));
    });
}

/// A plan that names what does not exist, or that the backend cannot run,
/// is refused before anything runs: exit 2, naming revision and op, and no
/// SQLite file is created.
#[test]
fn invalid_ops_are_refused_before_anything_runs() {
    each_backend("autogen_invalid", |db| {
        let backend = db.backend();
        let p = project(db);
        let versions = p.dir.path().join("migrations/versions");
        let write = |name: &str, body: &str| std::fs::write(versions.join(name), body).unwrap();
        let table = r#"[[upgrade]]
op = "create_table"
name = "a"
columns = [{ name = "id", type = "integer", nullable = false }]
"#;
        let cases = [
            (
                "an index on a missing column",
                "[[upgrade]]\nop = \"create_index\"\ntable = \"a\"\nindex = { name = \"ix_a_nope\", keys = [{ column = \"nope\" }] }\n",
                "index `ix_a_nope` names column `nope`",
            ),
            (
                "a foreign key to a missing table",
                "[[upgrade]]\nop = \"add_foreign_key\"\ntable = \"a\"\nforeign_key = { name = \"fk_a\", columns = [\"id\"], referred_table = \"nowhere\", referred_columns = [\"id\"] }\n",
                "foreign key to table `nowhere`, which does not exist",
            ),
        ];
        for (case, op, expected) in cases {
            for entry in std::fs::read_dir(&versions).unwrap() {
                std::fs::remove_file(entry.unwrap().path()).unwrap();
            }
            write("r1_bad.toml", &format!("revision = \"r1\"\nmessage = \"bad\"\n\n{table}\n{op}"));
            let e = command::upgrade(&p.url, &p.database, "head", &RunOptions::default(), &mut |_| {}).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{backend:?} {case}: {e}");
            let text = e.to_string();
            assert!(text.contains("revision r1") && text.contains(expected), "{backend:?} {case}: {text}");
            let sql = command::offline(
                &p.database,
                migrate::dialect::for_backend(backend).as_ref(),
                migrate::script::Direction::Up,
                "head",
            );
            assert!(sql.is_err(), "{backend:?} {case}: --sql renders it");
            if backend == Backend::Sqlite {
                let path = p.url.sqlite_path().unwrap();
                assert!(!std::path::Path::new(path).exists(), "{case}: the SQLite file was created");
            } else {
                let schema =
                    migrate::dialect::for_backend(backend).reflect(&mut db.connect(), &Default::default()).unwrap();
                assert!(schema.tables.is_empty(), "{backend:?} {case}: {:?}", schema.tables);
            }
        }
        // After an `execute`, what exists is unknown: nothing is refused.
        for entry in std::fs::read_dir(&versions).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        write(
            "r2_raw.toml",
            "revision = \"r2\"\nmessage = \"raw\"\n\n[[upgrade]]\nop = \"execute\"\nsql = \"CREATE TABLE b (id INTEGER)\"\n\n[[upgrade]]\nop = \"create_index\"\ntable = \"b\"\nindex = { name = \"ix_b_id\", keys = [{ column = \"id\" }] }\n",
        );
        command::upgrade(&p.url, &p.database, "head", &RunOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{backend:?}: after execute: {e}"));
    });
}

/// MariaDB has no expression indexes: autogenerate refuses models with one,
/// in the words an upgrade would use, and writes no file.
#[test]
fn autogenerate_refuses_what_the_backend_cannot_run() {
    let Some(db) = common::fresh_db(Backend::Mysql, "autogen_refuse") else { return };
    let p = project(&db);
    p.models("[[tables]]\nname = \"u\"\ncolumns = [{ name = \"id\", type = \"integer\", primary_key = true }, { name = \"email\", type = \"text\" }]\nindexes = [{ name = \"ix_u_lower\", keys = [{ expression = \"lower(email)\" }] }]\n");
    let new = NewRevision { message: "refused".into(), ..NewRevision::default() };
    let e = command::autogenerate(&p.url, &p.database, new, false, &mut |_| false).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("index `ix_u_lower`: no expression (functional) indexes here"), "{e}");
    assert_eq!(std::fs::read_dir(p.dir.path().join("migrations/versions")).unwrap().count(), 0);
}

/// A NOT NULL column without a default added to an existing table: lint
/// flags it (M009), and the revision file says how to do it safely.
#[test]
fn not_null_column_added_without_default_gets_the_safe_form() {
    let Some(db) = common::fresh_db(Backend::Sqlite, "autogen_m009") else { return };
    let p = project(&db);
    p.models(BASE);
    p.migrate(Backend::Sqlite, "base");
    p.models(&BASE.replace(
        "{ name = \"fullname\", type = \"text\" },",
        "{ name = \"fullname\", type = \"text\" },\n    { name = \"age\", type = \"integer\", nullable = false },",
    ));
    let new = NewRevision { message: "age".into(), ..NewRevision::default() };
    let (written, drift) = command::autogenerate(&p.url, &p.database, new, false, &mut |_| false).unwrap().unwrap();
    assert!(drift.findings.iter().any(|f| f.code == "M009" && f.op == "add_column users.age"), "{:?}", drift.findings);
    let text = std::fs::read_to_string(&written.path).unwrap();
    assert!(text.starts_with("# M009: users.age is added NOT NULL without a default"), "{text}");
    assert!(text.contains("UPDATE users SET age = ... WHERE age IS NULL"), "{text}");
    // Still a revision file that reads.
    command::load_script(&p.database).unwrap();
}

/// `check --shadow` leaves the shadow database empty when a revision fails
/// too (the next run can use it), and without a URL makes a temporary
/// database itself and removes it.
#[test]
fn shadow_check_cleans_up_after_failure_and_makes_its_own_database() {
    each_backend("autogen_shadow_fail", |db| {
        let backend = db.backend();
        let p = project(db);
        p.models(BASE);
        p.migrate(backend, "base");
        let dialect = migrate::dialect::for_backend(backend);
        // Without a URL: a temporary database, gone afterwards.
        let before = databases(db);
        assert!(command::check_shadow(None, Some(&p.url), &p.database).unwrap().in_sync, "{backend:?}");
        assert_eq!(databases(db), before, "{backend:?}: the temporary database is left");
        // A revision that fails half-way (its SQL is wrong) on a shadow database.
        std::fs::write(
            p.dir.path().join("migrations/versions/zz_broken.toml"),
            format!(
                "revision = \"zz\"\ndown_revision = \"{}\"\nmessage = \"broken\"\n\n[[upgrade]]\nop = \"execute\"\nsql = \"CREATE TABLE half (id INTEGER)\"\n\n[[upgrade]]\nop = \"execute\"\nsql = \"THIS IS NOT SQL\"\n",
                command::current(&p.url, &p.database).unwrap().heads[0].revision
            ),
        )
        .unwrap();
        let shadow = common::fresh_db(backend, "autogen_shadow_fail2").unwrap();
        let shadow_url = DatabaseUrl::parse(&shadow.url).unwrap();
        for _ in 0..2 {
            let e = command::check_shadow(Some(&shadow_url), None, &p.database).unwrap_err();
            assert!(e.to_string().contains("THIS IS NOT SQL") || e.to_string().contains("zz"), "{backend:?}: {e}");
            let left = dialect.reflect(&mut shadow.connect(), &Default::default()).unwrap();
            assert!(left.tables.is_empty() && left.enums.is_empty(), "{backend:?}: {:?}", left.tables);
        }
    });
}

/// The databases on the server of `db` (the files beside it for SQLite).
fn databases(db: &TestDb) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            let mut names: Vec<String> = std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
                .filter(|n| n.starts_with(&format!("migrate_shadow_{}_", std::process::id())))
                .collect();
            names.sort();
            return names;
        }
        Backend::Postgres => "SELECT datname AS value FROM pg_database WHERE datname LIKE 'migrate_shadow%' ORDER BY 1",
        Backend::Mysql => {
            "SELECT SCHEMA_NAME AS value FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'migrate_shadow%' ORDER BY 1"
        }
    };
    let rows: Vec<Row> = db.connect().load(sql).unwrap();
    rows.into_iter().filter_map(|r| r.value).collect()
}
