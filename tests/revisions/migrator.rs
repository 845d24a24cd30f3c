//! `Migrator`: the revision commands from an application, over revision
//! files compiled in (`embed_migrations!`) or on disk, on a URL, a lent
//! connection or an ORM pool, with the CLI's lock, checksums and history.

use super::common::{TestDb, each_backend};
use migrate::command::{self, RunOptions};
use migrate::config::Config;
use migrate::db::{Backend, DatabaseUrl};
use migrate::models::Model;
use migrate::orm::{Pool, PoolOptions};
use migrate::runtime::Event;
use migrate::script::EmbeddedMigrations;
use migrate::{Error, Migrator, embed_migrations};
use std::path::Path;

/// The example application's revisions: `a1users` (users), then `b2posts` (posts).
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("examples/embedded/migrations");
const FOLDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embedded/migrations");

#[derive(Debug, Clone, Default, Model)]
#[model(table = "users")]
pub struct User {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 255, unique)]
    pub email: String,
}

#[derive(Debug, Clone, Default, Model)]
#[model(table = "posts")]
pub struct Post {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "users.id", index)]
    pub user_id: i64,
    #[model(max_length = 200)]
    pub title: String,
}

fn revisions(infos: &[command::RevisionInfo]) -> Vec<&str> {
    infos.iter().map(|r| r.revision.as_str()).collect()
}

#[test]
fn embedded_files_carry_the_checksum_the_cli_computes() {
    assert_eq!(MIGRATIONS.files.len(), 2);
    for file in MIGRATIONS.files {
        let on_disk = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file.path)).unwrap();
        assert_eq!(file.source, on_disk, "{}", file.path);
        assert_eq!(file.checksum, migrate::runtime::checksum::checksum(&on_disk), "{}", file.path);
    }
    assert!(MIGRATIONS.files[0].path.ends_with("a1users_create_users.toml"), "{}", MIGRATIONS.files[0].path);
}

#[test]
fn migrator_upgrades_checks_and_downgrades_like_the_cli() {
    each_backend("mig_embedded", |db| {
        let backend = db.backend();
        let mut events = Vec::new();
        let mut migrator = Migrator::embedded(MIGRATIONS).url(&db.url).on_event(|event| {
            if let Event::Finished { step, .. } = event {
                events.push(step.revision.clone());
            }
        });
        assert_eq!(revisions(&migrator.history().unwrap()), ["b2posts", "a1users"], "{backend:?}");
        assert_eq!(revisions(&migrator.pending().unwrap()), ["a1users", "b2posts"], "{backend:?}");
        let report = migrator.upgrade("heads").unwrap();
        assert_eq!((report.steps.len(), report.heads.clone()), (2, vec!["b2posts".to_string()]), "{backend:?}");
        assert!(migrator.pending().unwrap().is_empty(), "{backend:?}");
        let status = migrator.current().unwrap();
        assert!(status.at_heads && status.tampered.is_empty(), "{backend:?}: {status:?}");
        let drift = migrator.check_models::<(User, Post)>().unwrap();
        assert!(drift.in_sync, "{backend:?}: {:?}", drift.diff);
        // The CLI's commands read the same files from disk and agree: same
        // checksums in the history, same version table.
        let config = Config::parse("", &Path::new(FOLDER).join("../migrate.toml")).unwrap();
        let database = config.database(None).unwrap();
        let url = DatabaseUrl::parse(&db.url).unwrap();
        let cli = command::current(&url, &database).unwrap();
        assert!(cli.at_heads && cli.tampered.is_empty(), "{backend:?}: {cli:?}");
        let report = migrator.downgrade("base").unwrap();
        assert_eq!((report.steps.len(), report.heads.len()), (2, 0), "{backend:?}");
        drop(migrator);
        assert_eq!(events, ["a1users", "b2posts", "b2posts", "a1users"], "{backend:?}");
    });
}

#[test]
fn check_models_returns_the_drift_as_data() {
    each_backend("mig_drift", |db| {
        let mut migrator = Migrator::folder(FOLDER).url(&db.url);
        migrator.upgrade("a1users").unwrap();
        let drift = migrator.check_models::<(User, Post)>().unwrap();
        let labels: Vec<String> = drift.diff.upgrade.iter().map(|op| op.label()).collect();
        assert!(!drift.in_sync, "{:?}", db.backend());
        assert_eq!(labels, ["create_table posts"], "{:?}", db.backend());
        assert!(migrator.check_models::<(User,)>().unwrap().in_sync, "{:?}", db.backend());
    });
}

/// What `PRAGMA foreign_keys` (SQLite) says on `conn`.
fn foreign_keys(conn: &mut migrate::db::Connection) -> Option<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        value: Option<String>,
    }
    let rows: Vec<Row> = conn.load("SELECT CAST(foreign_keys AS TEXT) AS value FROM pragma_foreign_keys").unwrap();
    rows.into_iter().next().and_then(|r| r.value)
}

#[test]
fn a_lent_connection_is_migrated_and_given_back_as_it_was() {
    each_backend("mig_lent", |db| {
        let mut conn = db.connect();
        if db.backend() == Backend::Sqlite {
            conn.execute("PRAGMA foreign_keys = ON").unwrap();
        }
        let report = Migrator::embedded(MIGRATIONS).connection(&mut conn).upgrade("heads").unwrap();
        assert_eq!(report.steps.len(), 2, "{:?}", db.backend());
        if db.backend() == Backend::Sqlite {
            // The run turned enforcement off for table rebuilds, and back on.
            assert_eq!(foreign_keys(&mut conn).as_deref(), Some("1"));
        }
        // The connection is usable and sees the tables.
        conn.execute("INSERT INTO users (email) VALUES ('ann@example.com')").unwrap();
        let mut migrator = Migrator::embedded(MIGRATIONS).connection(&mut conn);
        assert!(migrator.current().unwrap().at_heads, "{:?}", db.backend());
    });
}

#[test]
fn a_pool_serves_the_migrator() {
    each_backend("mig_pool", |db| {
        let pool = Pool::open(&db.url, PoolOptions { max_size: 1, ..PoolOptions::default() }).unwrap();
        let mut migrator = Migrator::embedded(MIGRATIONS).pool(&pool);
        assert_eq!(migrator.upgrade("+1").unwrap().heads, ["a1users"], "{:?}", db.backend());
        assert_eq!(migrator.upgrade("heads").unwrap().heads, ["b2posts"], "{:?}", db.backend());
        // The pool's one connection was given back, usable.
        let mut conn = pool.get().unwrap();
        conn.execute("INSERT INTO users (email) VALUES ('bo@example.com')").unwrap();
        if db.backend() == Backend::Sqlite {
            assert_eq!(foreign_keys(&mut conn).as_deref(), Some("1"), "the pool's setting is back");
        }
    });
}

#[test]
fn concurrent_migrators_apply_each_revision_once() {
    each_backend("mig_concurrent", |db: &TestDb| {
        let applied: usize = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let mut migrator = Migrator::embedded(MIGRATIONS)
                            .url(&db.url)
                            .lock_timeout(std::time::Duration::from_secs(120));
                        migrator.upgrade("heads").unwrap().steps.len()
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).sum()
        });
        assert_eq!(applied, 2, "{:?}", db.backend());
    });
}

#[test]
fn the_configuration_and_mistakes_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let toml = format!("database_url = \"{url}\"\nscript_location = \"{FOLDER}\"\nversion_table = \"app_versions\"\n");
    std::fs::write(dir.path().join("migrate.toml"), toml).unwrap();
    let mut migrator = Migrator::from_config(dir.path().join("migrate.toml"), None).unwrap();
    assert_eq!(migrator.settings().version_table, "app_versions");
    assert_eq!(migrator.upgrade("heads").unwrap().steps.len(), 2);
    let mut embedded = Migrator::from_config(dir.path().join("migrate.toml"), None).unwrap().migrations(MIGRATIONS);
    assert!(embedded.current().unwrap().at_heads, "same version table, same revisions");

    let err = Migrator::embedded(MIGRATIONS).current().unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err}");
    let err = Migrator::embedded(MIGRATIONS).url(&url).version_table("no-dash").current().unwrap_err();
    assert!(matches!(err, Error::Usage(_)) && err.to_string().contains("no-dash"), "{err}");
    let err = Migrator::embedded(MIGRATIONS).url(&url).upgrade("nope").unwrap_err();
    assert!(matches!(err, Error::Script(_)), "{err}");
    let err = Migrator::embedded(MIGRATIONS).url("postgres://u:secret@127.0.0.1:1/x").current().unwrap_err();
    assert!(matches!(err, Error::Db(_)) && !err.to_string().contains("secret"), "{err}");

    let broken = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(broken.path().join("versions")).unwrap();
    let bad = broken.path().join("versions/x1.toml");
    std::fs::write(&bad, "revision = \"x1\"\n\n[[upgrade]]\nop = \"create_tabel\"\n").unwrap();
    let err = Migrator::folder(broken.path()).url(&url).pending().unwrap_err();
    assert!(matches!(err, Error::Script(_)), "{err}");
    assert!(err.to_string().starts_with(&format!("{}:", bad.display())), "names the file and line: {err}");
    let resume = RunOptions { resume: true, ..RunOptions::default() };
    let err = Migrator::embedded(MIGRATIONS).url(&url).run_options(resume).upgrade("heads").unwrap_err();
    assert!(matches!(err, Error::Runtime(migrate::runtime::RuntimeError::NothingToResume)), "{err}");
}

/// `AsyncMigrator` (the `async` feature): the same commands and data,
/// awaited, on the database of an async pool; the pool serves the migrated
/// tables afterwards.
#[cfg(feature = "async")]
mod asynchronous {
    use super::{MIGRATIONS, Post, User, revisions};
    use migrate::AsyncMigrator;
    use migrate::db::Backend;
    use migrate::orm::PoolOptions;
    use migrate::orm::asynchronous::{AsyncPool, exec};
    use migrate::orm::prelude::*;
    use migrate::runtime::Event;
    use std::sync::{Arc, Mutex};

    fn upgrades_checks_and_downgrades(backend: Backend) {
        let Some(db) = super::super::common::fresh_db(backend, "mig_async") else { return };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let pool = AsyncPool::open(&db.url, PoolOptions::default()).await.unwrap();
            let finished = Arc::new(Mutex::new(Vec::new()));
            let seen = Arc::clone(&finished);
            let mut migrator = AsyncMigrator::embedded(MIGRATIONS).pool(&pool).on_event(move |event| {
                if let Event::Finished { step, .. } = event {
                    seen.lock().unwrap().push(step.revision.clone());
                }
            });
            assert_eq!(revisions(&migrator.history().await.unwrap()), ["b2posts", "a1users"]);
            assert_eq!(revisions(&migrator.pending().await.unwrap()), ["a1users", "b2posts"]);
            let report = migrator.upgrade("heads").await.unwrap();
            assert_eq!(report.heads, ["b2posts"], "{backend:?}");
            assert_eq!(*finished.lock().unwrap(), ["a1users", "b2posts"], "{backend:?}");
            assert!(migrator.pending().await.unwrap().is_empty());
            let status = migrator.current().await.unwrap();
            assert!(status.at_heads, "{backend:?}: {status:?}");
            let drift = migrator.check_models::<(User, Post)>().await.unwrap();
            assert!(drift.in_sync, "{backend:?}: {:?}", drift.diff);
            // The tables serve the async pool.
            let mut conn = pool.get().await.unwrap();
            let insert = insert_into(User::TABLE).row(Row::new().set(User::EMAIL, "ann@example.com"));
            assert_eq!(exec::execute(&mut conn, &insert).await.unwrap(), 1);
            drop(conn);
            let report = migrator.downgrade("a1users").await.unwrap();
            assert_eq!(report.heads, ["a1users"], "{backend:?}");
            let drift = migrator.check_models::<(User, Post)>().await.unwrap();
            assert!(!drift.in_sync, "{backend:?}: posts is gone, the models still have it");
            // A typed error, as from the sync migrator.
            let mut nowhere = AsyncMigrator::embedded(MIGRATIONS);
            assert!(matches!(nowhere.current().await, Err(migrate::Error::Usage(_))));
        });
    }

    #[test]
    fn sqlite() {
        upgrades_checks_and_downgrades(Backend::Sqlite);
    }

    #[test]
    fn postgres() {
        upgrades_checks_and_downgrades(Backend::Postgres);
    }

    #[test]
    fn mysql() {
        upgrades_checks_and_downgrades(Backend::Mysql);
    }
}
