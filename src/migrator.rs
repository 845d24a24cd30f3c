//! [`Migrator`]: what the CLI's `upgrade`, `downgrade`, `current`,
//! `history` and `check` do, from an application's own binary, over
//! revision files compiled in ([`embed_migrations!`](crate::embed_migrations))
//! or read from a folder, on a URL, a connection the application holds, or
//! an ORM pool. It shares the CLI's code: the same lock, checksums, history
//! and progress records. It returns data and typed errors ([`Error`]) and
//! prints nothing; [`Migrator::on_event`] observes a run's progress.
//!
//! ```ignore
//! use migrate::{Migrator, embed_migrations};
//! # #[derive(migrate::models::Model)] #[model(table = "users")]
//! # struct User { #[model(primary_key)] id: i64 }
//! const MIGRATIONS: migrate::script::EmbeddedMigrations = embed_migrations!("migrations");
//!
//! fn main() -> Result<(), migrate::Error> {
//!     let mut migrator = Migrator::embedded(MIGRATIONS).url("sqlite://app.db");
//!     migrator.upgrade("heads")?;
//!     let drift = migrator.check_models::<(User,)>()?;
//!     assert!(drift.in_sync, "the database does not match the models: {:?}", drift.diff);
//!     Ok(())
//! }
//! ```
//!
//! With the `async` feature, [`AsyncMigrator`] takes the same settings and
//! returns the same data, awaited: it runs this migrator on one of tokio's
//! blocking threads (as Alembic's async `env.py` runs its migrations through
//! `connection.run_sync`), since migrations are DDL run once at startup.

use crate::Error;
use crate::command::{self, Drift, Endpoint, RevisionInfo, RunOptions, Status};
use crate::config::{Config, ConfigError, DatabaseConfig};
use crate::db::{Connection, DatabaseUrl};
use crate::models::{self, ModelSet};
use crate::orm::Pool;
use crate::runtime::{Event, RunReport};
use crate::script::{Direction, EmbeddedMigrations, Script};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a [`Migrator`]'s revisions come from.
#[derive(Debug, Clone)]
pub enum Migrations {
    /// Compiled into the program by `embed_migrations!`.
    Embedded(EmbeddedMigrations),
    /// Revision files in these folders (a script location's `versions/`,
    /// then any `version_paths`), read when a command runs.
    Folders(Vec<PathBuf>),
}

impl From<EmbeddedMigrations> for Migrations {
    fn from(embedded: EmbeddedMigrations) -> Self {
        Migrations::Embedded(embedded)
    }
}

/// The database a [`Migrator`] works on.
enum Database<'c> {
    /// None given yet.
    Missing,
    /// Connects to this URL for each command (kept as given, parsed when used).
    Url(String),
    /// Connects to this URL, already parsed, for each command.
    #[cfg(feature = "async")]
    Parsed(DatabaseUrl),
    /// A connection the application lends.
    Connection(&'c mut Connection),
    /// Runs on a connection of this pool.
    Pool(Pool),
}

/// Runs the revisions of one database: a library form of the CLI's
/// revision commands. Build it with [`Migrator::embedded`],
/// [`Migrator::folder`] or [`Migrator::from_config`], choose the database
/// ([`url`](Migrator::url), [`connection`](Migrator::connection),
/// [`pool`](Migrator::pool)), adjust the settings `migrate.toml` would
/// hold, then call the commands.
pub struct Migrator<'c> {
    migrations: Migrations,
    database: Database<'c>,
    settings: DatabaseConfig,
    options: RunOptions,
    observer: Option<Observer<'c>>,
}

/// What [`Migrator::on_event`] takes.
type Observer<'c> = Box<dyn FnMut(Event<'_>) + 'c>;

impl std::fmt::Debug for Migrator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = match &self.database {
            Database::Missing => "none".to_string(),
            Database::Url(url) => DatabaseUrl::parse(url).map_or("an invalid URL".into(), |u| u.to_string()),
            #[cfg(feature = "async")]
            Database::Parsed(url) => url.to_string(),
            Database::Connection(conn) => conn.url().to_string(),
            Database::Pool(pool) => format!("{pool:?}"),
        };
        f.debug_struct("Migrator")
            .field("migrations", &self.migrations)
            .field("database", &database)
            .field("version_table", &self.settings.version_table)
            .finish()
    }
}

impl<'c> Migrator<'c> {
    fn with(migrations: Migrations, settings: DatabaseConfig) -> Self {
        Migrator { migrations, database: Database::Missing, settings, options: RunOptions::default(), observer: None }
    }

    /// A migrator over revision files compiled in, with the default
    /// settings (those of a `migrate.toml` that sets nothing).
    pub fn embedded(migrations: EmbeddedMigrations) -> Self {
        Self::with(Migrations::Embedded(migrations), DatabaseConfig::default())
    }

    /// A migrator over the revision files of a script location on disk
    /// (the folder holding `versions/`), with the default settings.
    pub fn folder(script_location: impl AsRef<Path>) -> Self {
        let script_location = script_location.as_ref().to_path_buf();
        let versions = script_location.join("versions");
        let settings = DatabaseConfig { version_paths: vec![versions.clone()], script_location, ..Default::default() };
        Self::with(Migrations::Folders(vec![versions]), settings)
    }

    /// A migrator set up as the CLI would be by the `migrate.toml` at
    /// `path`, for database `name` (`None`: the only one): its revision
    /// folders, settings and URL, which `DATABASE_URL` (or
    /// `DATABASE_URL_<NAME>`) and `.env` override, as for the CLI. A URL
    /// that none of them gives is an error when a command runs, unless one
    /// is set in code.
    pub fn from_config(path: impl AsRef<Path>, name: Option<&str>) -> Result<Self, Error> {
        let cwd =
            std::env::current_dir().map_err(|e| ConfigError::Read { path: ".".into(), message: e.to_string() })?;
        let config = Config::load(Some(path.as_ref()), &cwd)?;
        let settings = config.database(name)?;
        let url = match config.resolve_url(&settings, None, |variable| std::env::var(variable).ok()) {
            Ok(url) => Some(url),
            Err(ConfigError::NoUrl | ConfigError::NoNamedUrl { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let mut migrator = Self::with(Migrations::Folders(settings.version_paths.clone()), settings);
        if let Some(url) = url {
            migrator.database = Database::Url(url);
        }
        Ok(migrator)
    }

    /// Uses these revisions (e.g. compiled in) in place of the configured ones.
    pub fn migrations(mut self, migrations: impl Into<Migrations>) -> Self {
        self.migrations = migrations.into();
        self
    }

    /// Works on the database at `url` (connected to for each command).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.database = Database::Url(url.into());
        self
    }

    /// Works on a connection the application holds. A run changes session
    /// settings it needs (SQLite: foreign-key enforcement off while tables
    /// are rebuilt) and puts them back when it ends.
    pub fn connection(mut self, conn: &'c mut Connection) -> Self {
        self.database = Database::Connection(conn);
        self
    }

    /// Works on a connection of an ORM pool, taken for each command.
    pub fn pool(mut self, pool: &Pool) -> Self {
        self.database = Database::Pool(pool.clone());
        self
    }

    /// The version table's name (default `migrate_version`; the history
    /// table is `<name>_history`).
    pub fn version_table(mut self, name: impl Into<String>) -> Self {
        self.settings.version_table = name.into();
        self
    }

    /// How long a run waits for another run's lock (default 60 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.settings.lock_timeout = timeout.as_secs_f64();
        self
    }

    /// Each revision in its own transaction (`true`, the default) or, on
    /// PostgreSQL and SQLite, the whole run in one (`false`).
    pub fn transaction_per_revision(mut self, each: bool) -> Self {
        self.settings.transaction_per_revision = each;
        self
    }

    /// How the next runs go: resuming a revision a failure left partly
    /// applied (MySQL), and what an interrupted statement did.
    pub fn run_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Calls `observer` as each revision of a run starts and finishes (for
    /// a progress display or a log); nothing is printed otherwise.
    pub fn on_event(mut self, observer: impl FnMut(Event<'_>) + 'c) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// The settings commands use, as `migrate.toml` would give them.
    pub fn settings(&self) -> &DatabaseConfig {
        &self.settings
    }

    /// The revisions, read (folders) or parsed (compiled in), with the DAG
    /// checked. A malformed file is an error naming it and the line.
    pub fn script(&self) -> Result<Script, Error> {
        Ok(match &self.migrations {
            Migrations::Embedded(embedded) => Script::embedded(embedded)?,
            Migrations::Folders(folders) => Script::load(folders)?,
        })
    }

    /// Applies revisions up to `target` (`head`, `heads`, an id, `+1`,
    /// `label@head`, ...), as `migrate upgrade TARGET`.
    pub fn upgrade(&mut self, target: &str) -> Result<RunReport, Error> {
        self.apply(Direction::Up, target)
    }

    /// Undoes revisions down to `target` (`base`, an id, `-1`, ...), as
    /// `migrate downgrade TARGET`.
    pub fn downgrade(&mut self, target: &str) -> Result<RunReport, Error> {
        self.apply(Direction::Down, target)
    }

    fn apply(&mut self, direction: Direction, target: &str) -> Result<RunReport, Error> {
        let script = self.script()?;
        let options = self.options.clone();
        let mut observer = self.observer.take();
        let report = self.on_database(|endpoint, settings| {
            let mut ignore = |_: Event<'_>| {};
            let on_event: &mut dyn FnMut(Event<'_>) = match observer.as_mut() {
                Some(observer) => observer,
                None => &mut ignore,
            };
            command::apply(endpoint, &script, settings, direction, target, &options, on_event)
        });
        self.observer = observer;
        report
    }

    /// Where the database is, as `migrate current` reports it: its heads,
    /// a revision left partly applied, edited files, a live run.
    pub fn current(&mut self) -> Result<Status, Error> {
        let script = self.script()?;
        self.on_database(|endpoint, settings| command::status(endpoint, &script, settings))
    }

    /// The revisions an upgrade to `heads` would apply, in order.
    pub fn pending(&mut self) -> Result<Vec<RevisionInfo>, Error> {
        let script = self.script()?;
        let status = self.on_database(|endpoint, settings| command::status(endpoint, &script, settings))?;
        let heads: Vec<String> = status.heads.into_iter().map(|h| h.revision).collect();
        let steps = script.map.upgrade_plan(&heads, "heads")?;
        Ok(steps.iter().filter_map(|s| script.map.get(&s.revision)).map(|r| RevisionInfo::new(&script, r)).collect())
    }

    /// The revisions, newest first, as `migrate history` lists them.
    pub fn history(&self) -> Result<Vec<RevisionInfo>, Error> {
        let script = self.script()?;
        Ok(script.map.history(None)?.into_iter().map(|r| RevisionInfo::new(&script, r)).collect())
    }

    /// A startup guard: whether the live database matches the compiled
    /// models `S` (a tuple such as `(User, Post)`) and the revision files
    /// its history, as `migrate check` would say; the differences as data
    /// ([`Drift::diff`]: the ops that would make it match).
    pub fn check_models<S: ModelSet>(&mut self) -> Result<Drift, Error> {
        let script = self.script()?;
        let models = models::compiled::<S>()?;
        self.on_database(|endpoint, settings| command::check_models(endpoint, &script, settings, &models))
    }

    /// Runs `body` on the database, with the settings checked.
    fn on_database<T>(
        &mut self,
        body: impl FnOnce(Endpoint<'_>, &DatabaseConfig) -> Result<T, Error>,
    ) -> Result<T, Error> {
        crate::config::check_version_table(&self.settings.version_table).map_err(Error::Usage)?;
        if !(self.settings.lock_timeout.is_finite() && self.settings.lock_timeout >= 0.0) {
            return Err(Error::Usage(format!(
                "lock timeout must be 0 or more seconds, not {}",
                self.settings.lock_timeout
            )));
        }
        match &mut self.database {
            Database::Missing => {
                Err(Error::Usage("the migrator has no database: give it a URL, a connection or a pool".into()))
            }
            Database::Url(url) => body(Endpoint::Url(&DatabaseUrl::parse(url)?), &self.settings),
            #[cfg(feature = "async")]
            Database::Parsed(url) => body(Endpoint::Url(url), &self.settings),
            Database::Connection(conn) => body(Endpoint::Connection(conn), &self.settings),
            Database::Pool(pool) => {
                let mut conn = pool.get()?;
                body(Endpoint::Connection(&mut conn), &self.settings)
            }
        }
    }
}

/// The database an [`AsyncMigrator`] works on.
#[cfg(feature = "async")]
#[derive(Clone)]
enum AsyncDatabase {
    /// As given to [`AsyncMigrator::url`] or read from `migrate.toml`.
    Url(String),
    /// An async pool's database.
    Parsed(DatabaseUrl),
}

/// What [`AsyncMigrator::on_event`] takes, shared with the blocking thread.
#[cfg(feature = "async")]
type SharedObserver = std::sync::Arc<std::sync::Mutex<Box<dyn FnMut(Event<'_>) + Send>>>;

/// [`Migrator`]'s commands, awaited (the `async` feature): the same
/// settings, the same data and typed errors. Each command runs the sync
/// migrator on one of tokio's blocking threads (`spawn_blocking`, as
/// Alembic's async `env.py` uses `connection.run_sync`) over its own
/// connection to the database: migrations are DDL run once at startup, so
/// nothing is gained by interleaving them with other tasks, and the async
/// runtime's threads are never blocked. Needs a tokio runtime.
///
/// ```no_run
/// # async fn startup() -> Result<(), migrate::Error> {
/// let mut migrator = migrate::AsyncMigrator::folder("migrations").url("sqlite://app.db");
/// migrator.upgrade("heads").await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "async")]
pub struct AsyncMigrator {
    migrations: Migrations,
    database: Option<AsyncDatabase>,
    settings: DatabaseConfig,
    options: RunOptions,
    observer: Option<SharedObserver>,
}

#[cfg(feature = "async")]
impl std::fmt::Debug for AsyncMigrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = match &self.database {
            None => "none".to_string(),
            Some(AsyncDatabase::Url(url)) => DatabaseUrl::parse(url).map_or("an invalid URL".into(), |u| u.to_string()),
            Some(AsyncDatabase::Parsed(url)) => url.to_string(),
        };
        f.debug_struct("AsyncMigrator")
            .field("migrations", &self.migrations)
            .field("database", &database)
            .field("version_table", &self.settings.version_table)
            .finish()
    }
}

#[cfg(feature = "async")]
impl AsyncMigrator {
    fn from_sync(migrator: Migrator<'_>) -> Self {
        let database = match migrator.database {
            Database::Url(url) => Some(AsyncDatabase::Url(url)),
            _ => None,
        };
        AsyncMigrator {
            migrations: migrator.migrations,
            database,
            settings: migrator.settings,
            options: migrator.options,
            observer: None,
        }
    }

    /// As [`Migrator::embedded`].
    pub fn embedded(migrations: EmbeddedMigrations) -> Self {
        Self::from_sync(Migrator::embedded(migrations))
    }

    /// As [`Migrator::folder`].
    pub fn folder(script_location: impl AsRef<Path>) -> Self {
        Self::from_sync(Migrator::folder(script_location))
    }

    /// As [`Migrator::from_config`] (the file is read now, on the caller's thread).
    pub fn from_config(path: impl AsRef<Path>, name: Option<&str>) -> Result<Self, Error> {
        Ok(Self::from_sync(Migrator::from_config(path, name)?))
    }

    /// As [`Migrator::migrations`].
    pub fn migrations(mut self, migrations: impl Into<Migrations>) -> Self {
        self.migrations = migrations.into();
        self
    }

    /// Works on the database at `url` (connected to for each command).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.database = Some(AsyncDatabase::Url(url.into()));
        self
    }

    /// Works on the database of an async pool, over a connection of its own
    /// (the migrator's statements run on a blocking thread, on a sync connection).
    pub fn pool(mut self, pool: &crate::orm::asynchronous::AsyncPool) -> Self {
        self.database = Some(AsyncDatabase::Parsed(pool.url().clone()));
        self
    }

    /// As [`Migrator::version_table`].
    pub fn version_table(mut self, name: impl Into<String>) -> Self {
        self.settings.version_table = name.into();
        self
    }

    /// As [`Migrator::lock_timeout`].
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.settings.lock_timeout = timeout.as_secs_f64();
        self
    }

    /// As [`Migrator::transaction_per_revision`].
    pub fn transaction_per_revision(mut self, each: bool) -> Self {
        self.settings.transaction_per_revision = each;
        self
    }

    /// As [`Migrator::run_options`].
    pub fn run_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// As [`Migrator::on_event`]; `observer` is called on the blocking thread.
    pub fn on_event(mut self, observer: impl FnMut(Event<'_>) + Send + 'static) -> Self {
        self.observer = Some(std::sync::Arc::new(std::sync::Mutex::new(Box::new(observer))));
        self
    }

    /// The settings commands use, as `migrate.toml` would give them.
    pub fn settings(&self) -> &DatabaseConfig {
        &self.settings
    }

    /// As [`Migrator::upgrade`].
    pub async fn upgrade(&mut self, target: &str) -> Result<RunReport, Error> {
        let target = target.to_string();
        self.blocking(move |m| m.upgrade(&target)).await
    }

    /// As [`Migrator::downgrade`].
    pub async fn downgrade(&mut self, target: &str) -> Result<RunReport, Error> {
        let target = target.to_string();
        self.blocking(move |m| m.downgrade(&target)).await
    }

    /// As [`Migrator::current`].
    pub async fn current(&mut self) -> Result<Status, Error> {
        self.blocking(|m| m.current()).await
    }

    /// As [`Migrator::pending`].
    pub async fn pending(&mut self) -> Result<Vec<RevisionInfo>, Error> {
        self.blocking(|m| m.pending()).await
    }

    /// As [`Migrator::history`] (reads the revisions only, no database).
    pub async fn history(&mut self) -> Result<Vec<RevisionInfo>, Error> {
        self.blocking(|m| m.history()).await
    }

    /// As [`Migrator::check_models`].
    pub async fn check_models<S: ModelSet + 'static>(&mut self) -> Result<Drift, Error> {
        self.blocking(|m| m.check_models::<S>()).await
    }

    /// Runs `command` on a sync [`Migrator`] with this one's settings, on a
    /// blocking thread.
    async fn blocking<T: Send + 'static>(
        &mut self,
        command: impl FnOnce(&mut Migrator<'static>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let database = match self.database.clone() {
            None => Database::Missing,
            Some(AsyncDatabase::Url(url)) => Database::Url(url),
            Some(AsyncDatabase::Parsed(url)) => Database::Parsed(url),
        };
        let (migrations, settings, options) = (self.migrations.clone(), self.settings.clone(), self.options.clone());
        let observer = self.observer.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut migrator = Migrator { migrations, database, settings, options, observer: None };
            if let Some(observer) = observer {
                migrator = migrator.on_event(move |event| {
                    // A panic in an earlier call poisons the lock; the observer is still usable.
                    let mut observer = observer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    observer(event)
                });
            }
            command(&mut migrator)
        });
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::Usage(format!("the migration task did not finish: {e}"))),
        }
    }
}
