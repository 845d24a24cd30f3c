//! `migrate.toml`: where the database, the revision scripts and the models are.
//!
//! The database URL is taken, first match wins, from the `--url` flag, the
//! `DATABASE_URL` environment variable, a `DATABASE_URL` line in `.env` next
//! to `migrate.toml` (or in the working directory), and `database_url` in
//! `migrate.toml`.

use crate::schema::NameFilter;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name looked for in the working directory when `--config` is not given.
pub const CONFIG_FILE: &str = "migrate.toml";
/// Default name of the table holding the current heads.
pub const DEFAULT_VERSION_TABLE: &str = "migrate_version";
/// Seconds a run waits for another run's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: f64 = 60.0;

/// Seconds an SQLite command waits for another process's writes. Generous:
/// SQLite lets a writer's commits go first, so a reader can wait through
/// many of them back to back.
pub const DEFAULT_BUSY_TIMEOUT: f64 = 30.0;

/// What can be wrong with the configuration. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The file is not valid, with the line and column where that is known.
    #[error("{path}{location}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// `:line:column`, or empty.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// No URL from any source.
    #[error("no database URL: pass --url, set DATABASE_URL, or set database_url in {CONFIG_FILE}")]
    NoUrl,
    /// `--name` names a database the file does not define.
    #[error("{path} defines no database named `{name}` (defined: {defined})")]
    UnknownDatabase {
        /// The file.
        path: String,
        /// The name asked for.
        name: String,
        /// The names defined, comma-separated.
        defined: String,
    },
    /// Several databases are defined and the command needs to know which.
    #[error("{path} defines several databases ({defined}); choose one with --name")]
    AmbiguousDatabase {
        /// The file.
        path: String,
        /// The names defined, comma-separated.
        defined: String,
    },
}

/// Settings shared by the whole file and, unless overridden, by each named database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    script_location: Option<String>,
    models: Option<Vec<String>>,
    version_table: Option<String>,
    filters: Option<NameFilter>,
    lock_timeout: Option<f64>,
    busy_timeout: Option<f64>,
    version_paths: Option<Vec<String>>,
    transaction_per_revision: Option<bool>,
}

/// The whole file: the shared settings spelled out (serde's `flatten` would
/// lose the line numbers of unknown-key errors) plus `[databases.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    database_url: Option<String>,
    script_location: Option<String>,
    models: Option<Vec<String>>,
    version_table: Option<String>,
    filters: Option<NameFilter>,
    lock_timeout: Option<f64>,
    busy_timeout: Option<f64>,
    version_paths: Option<Vec<String>>,
    transaction_per_revision: Option<bool>,
    #[serde(default)]
    databases: BTreeMap<String, FileSettings>,
}

/// A loaded `migrate.toml` (or the defaults when there is none).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file read, if one was.
    pub path: Option<PathBuf>,
    /// The directory relative paths are resolved against.
    pub root: PathBuf,
    defaults: FileSettings,
    databases: BTreeMap<String, FileSettings>,
}

/// The settings of one database after defaults are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    /// The name under `[databases]`, or `None` for a single-database file.
    pub name: Option<String>,
    /// URL from `migrate.toml`, before environment overrides.
    pub database_url: Option<String>,
    /// Folder of revision scripts (contains `versions/`).
    pub script_location: PathBuf,
    /// Globs of model files, relative to the config's folder.
    pub models: Vec<String>,
    /// The folder `migrate.toml` is in: where `models` patterns start.
    pub root: PathBuf,
    /// Name of the version table; the history table is `<name>_history`.
    pub version_table: String,
    /// Which tables commands look at.
    pub filters: NameFilter,
    /// Seconds to wait for another run's lock.
    pub lock_timeout: f64,
    /// Seconds an SQLite connection waits while another process writes,
    /// instead of failing "database is locked".
    pub busy_timeout: f64,
    /// Folders holding revision files: `<script_location>/versions`, then
    /// the `version_paths` configured.
    pub version_paths: Vec<PathBuf>,
    /// Each revision in its own transaction (`true`, the default), or the
    /// whole run in one.
    pub transaction_per_revision: bool,
}

impl DatabaseConfig {
    /// The tables this tool owns, which reflection must never report.
    pub fn own_tables(&self) -> [String; 2] {
        [self.version_table.clone(), format!("{}_history", self.version_table)]
    }

    /// The configured filters plus the tool's own tables excluded.
    pub fn reflection_filter(&self) -> NameFilter {
        let mut filter = self.filters.clone();
        filter.exclude.extend(self.own_tables());
        filter
    }
}

impl Config {
    /// Loads `path`, or `migrate.toml` in `cwd` when `path` is `None`. A
    /// missing default file gives the defaults; a missing explicit file is an error.
    pub fn load(path: Option<&Path>, cwd: &Path) -> Result<Self, ConfigError> {
        let explicit = path.is_some();
        let path = path.map_or_else(|| cwd.join(CONFIG_FILE), |p| cwd.join(p));
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => Ok(Config {
                path: None,
                root: cwd.to_path_buf(),
                defaults: FileSettings::empty(),
                databases: BTreeMap::new(),
            }),
            Err(e) => Err(ConfigError::Read { path: path.display().to_string(), message: e.to_string() }),
        }
    }

    /// Parses the text of a `migrate.toml` that lives at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let location = e.span().map(|span| line_col(text, span.start)).unwrap_or_default();
            ConfigError::Parse { path: path.display().to_string(), location, message: e.message().to_string() }
        })?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let defaults = FileSettings {
            database_url: file.database_url,
            script_location: file.script_location,
            models: file.models,
            version_table: file.version_table,
            filters: file.filters,
            lock_timeout: file.lock_timeout,
            busy_timeout: file.busy_timeout,
            version_paths: file.version_paths,
            transaction_per_revision: file.transaction_per_revision,
        };
        Ok(Config { path: Some(path.to_path_buf()), root, defaults, databases: file.databases })
    }

    /// Names of the databases under `[databases]`, sorted.
    pub fn database_names(&self) -> Vec<&str> {
        self.databases.keys().map(String::as_str).collect()
    }

    /// The settings of database `name`; with no name, the only database.
    pub fn database(&self, name: Option<&str>) -> Result<DatabaseConfig, ConfigError> {
        let defined = || self.database_names().join(", ");
        let path = || self.path.as_ref().map_or(CONFIG_FILE.to_string(), |p| p.display().to_string());
        let (name, own) = match (name, self.databases.len()) {
            (Some(name), _) => match self.databases.get(name) {
                Some(settings) => (Some(name.to_string()), Some(settings)),
                None => {
                    return Err(ConfigError::UnknownDatabase { path: path(), name: name.into(), defined: defined() });
                }
            },
            (None, 0) => (None, None),
            (None, 1) => {
                let (name, settings) = self.databases.iter().next().expect("map has exactly one entry");
                (Some(name.clone()), Some(settings))
            }
            (None, _) => return Err(ConfigError::AmbiguousDatabase { path: path(), defined: defined() }),
        };
        let pick = |f: fn(&FileSettings) -> Option<String>| own.and_then(f).or_else(|| f(&self.defaults));
        let script_location =
            self.root.join(pick(|s| s.script_location.clone()).unwrap_or_else(|| "migrations".into()));
        let extra = own.and_then(|s| s.version_paths.clone()).or_else(|| self.defaults.version_paths.clone());
        let version_paths = std::iter::once(script_location.join("versions"))
            .chain(extra.unwrap_or_default().into_iter().map(|p| self.root.join(p)))
            .collect();
        Ok(DatabaseConfig {
            name,
            database_url: pick(|s| s.database_url.clone()),
            script_location,
            models: own
                .and_then(|s| s.models.clone())
                .or_else(|| self.defaults.models.clone())
                .unwrap_or_else(|| vec!["models/*.toml".into(), "models/*.rs".into()]),
            version_table: pick(|s| s.version_table.clone()).unwrap_or_else(|| DEFAULT_VERSION_TABLE.into()),
            filters: own.and_then(|s| s.filters.clone()).or_else(|| self.defaults.filters.clone()).unwrap_or_default(),
            lock_timeout: own
                .and_then(|s| s.lock_timeout)
                .or(self.defaults.lock_timeout)
                .unwrap_or(DEFAULT_LOCK_TIMEOUT),
            busy_timeout: own
                .and_then(|s| s.busy_timeout)
                .or(self.defaults.busy_timeout)
                .unwrap_or(DEFAULT_BUSY_TIMEOUT),
            version_paths,
            root: self.root.clone(),
            transaction_per_revision: own
                .and_then(|s| s.transaction_per_revision)
                .or(self.defaults.transaction_per_revision)
                .unwrap_or(true),
        })
    }

    /// The URL to use, by precedence: `flag`, then `env_url` (the process's
    /// `DATABASE_URL`), then `.env`, then the database's configured URL.
    pub fn resolve_url(
        &self,
        database: &DatabaseConfig,
        flag: Option<&str>,
        env_url: Option<String>,
    ) -> Result<String, ConfigError> {
        if let Some(url) = flag {
            return Ok(url.to_string());
        }
        if let Some(url) = env_url.filter(|u| !u.is_empty()) {
            return Ok(url);
        }
        if let Some(url) = self.dotenv_url()? {
            return Ok(url);
        }
        database.database_url.clone().ok_or(ConfigError::NoUrl)
    }

    fn dotenv_url(&self) -> Result<Option<String>, ConfigError> {
        let path = self.root.join(".env");
        let iter = match dotenvy::from_path_iter(&path) {
            Ok(iter) => iter,
            Err(e) if e.not_found() => return Ok(None),
            Err(e) => return Err(ConfigError::Read { path: path.display().to_string(), message: e.to_string() }),
        };
        for item in iter {
            let (key, value) = item.map_err(|e| ConfigError::Parse {
                path: path.display().to_string(),
                location: String::new(),
                message: e.to_string(),
            })?;
            if key == "DATABASE_URL" {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }
}

impl FileSettings {
    fn empty() -> Self {
        FileSettings {
            database_url: None,
            script_location: None,
            models: None,
            version_table: None,
            filters: None,
            lock_timeout: None,
            busy_timeout: None,
            version_paths: None,
            transaction_per_revision: None,
        }
    }
}

/// `:line:column` (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(":{line}:{column}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/p/migrate.toml"))
    }

    #[test]
    fn defaults_apply() {
        let db = parse("database_url = \"sqlite:app.db\"\n").unwrap().database(None).unwrap();
        assert_eq!(db.script_location, PathBuf::from("/p/migrations"));
        assert_eq!(db.version_table, "migrate_version");
        assert_eq!(db.models, ["models/*.toml", "models/*.rs"]);
        assert!(!db.reflection_filter().matches("migrate_version_history"));
        assert_eq!(db.busy_timeout, DEFAULT_BUSY_TIMEOUT);
        let db = parse("busy_timeout = 0.5\n[databases.main]\n").unwrap().database(None).unwrap();
        assert_eq!(db.busy_timeout, 0.5);
    }

    #[test]
    fn unknown_key_names_line() {
        let err = parse("database_url = \"x\"\ndatabse = 1\n").unwrap_err().to_string();
        assert!(err.starts_with("/p/migrate.toml:2:1: unknown field `databse`"), "{err}");
    }

    #[test]
    fn named_databases_inherit_defaults() {
        let text = "version_table = \"v\"\n[databases.main]\ndatabase_url = \"sqlite:a.db\"\n\
                    [databases.logs]\ndatabase_url = \"sqlite:b.db\"\nscript_location = \"m/logs\"\n";
        let config = parse(text).unwrap();
        let logs = config.database(Some("logs")).unwrap();
        assert_eq!(logs.script_location, PathBuf::from("/p/m/logs"));
        assert_eq!(logs.version_table, "v");
        assert!(matches!(config.database(None), Err(ConfigError::AmbiguousDatabase { .. })));
        let err = config.database(Some("nope")).unwrap_err().to_string();
        assert!(err.contains("no database named `nope` (defined: logs, main)"), "{err}");
    }

    #[test]
    fn url_precedence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("migrate.toml"), "database_url = \"sqlite:file.db\"\n").unwrap();
        let config = Config::load(None, dir.path()).unwrap();
        let db = config.database(None).unwrap();
        assert_eq!(config.resolve_url(&db, None, None).unwrap(), "sqlite:file.db");
        std::fs::write(dir.path().join(".env"), "OTHER=1\nDATABASE_URL=sqlite:dotenv.db\n").unwrap();
        assert_eq!(config.resolve_url(&db, None, None).unwrap(), "sqlite:dotenv.db");
        assert_eq!(config.resolve_url(&db, None, Some("sqlite:env.db".into())).unwrap(), "sqlite:env.db");
        assert_eq!(config.resolve_url(&db, Some("sqlite:flag.db"), Some("x".into())).unwrap(), "sqlite:flag.db");
    }

    #[test]
    fn missing_default_file_is_fine_but_explicit_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Config::load(None, dir.path()).unwrap().path.is_none());
        assert!(matches!(Config::load(Some(Path::new("nope.toml")), dir.path()), Err(ConfigError::Read { .. })));
    }
}
