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
        assert!(command::check_shadow(&shadow_url, &p.database).unwrap().in_sync);
        assert!(shadow.connect().execute("SELECT 1").is_ok());
        // A model change without a revision: the shadow check finds it.
        p.models(&BASE.replace("{ name = \"fullname\", type = \"text\" },", ""));
        let drift = command::check_shadow(&shadow_url, &p.database).unwrap();
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
