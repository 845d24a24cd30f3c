//! `migrate.toml`: where the database, the revision scripts and the models are.
//!
//! The database URL is taken, first match wins, from the `--url` flag, the
//! environment, a line in `.env` next to `migrate.toml` (or in the working
//! directory), and `database_url` in `migrate.toml`. The environment
//! variable is `DATABASE_URL` for a file without `[databases]`, and
//! `DATABASE_URL_<NAME>` (upper case, `-` as `_`) for a named database, which
//! never takes another database's URL.

use crate::db::DatabaseUrl;
use crate::schema::NameFilter;
use crate::toml_error;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// File name looked for in the working directory when `--config` is not given.
pub const CONFIG_FILE: &str = "migrate.toml";
/// Default name of the table holding the current heads.
pub const DEFAULT_VERSION_TABLE: &str = "migrate_version";
/// Seconds a run waits for another run's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: f64 = 60.0;
/// The shortest lock lease: it is renewed every third of it.
const MIN_LOCK_LEASE: u64 = 3;
/// The environment variable (and `.env` key) of an unnamed database's URL.
pub const URL_VARIABLE: &str = "DATABASE_URL";
/// The longest version table name: `<name>_history` must fit PostgreSQL's 63.
const MAX_VERSION_TABLE: usize = 55;

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
        /// `:line:column`, `:line`, or empty.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// No URL from any source.
    #[error("no database URL: pass --url, set DATABASE_URL, or set database_url in {CONFIG_FILE}")]
    NoUrl,
    /// No URL for a named database: the default database's do not apply to it.
    #[error(
        "no URL for database `{name}`: set database_url under [databases.{name}] in {path}, \
         set {variable}, or pass --url"
    )]
    NoNamedUrl {
        /// The file.
        path: String,
        /// The database.
        name: String,
        /// Its environment variable.
        variable: String,
    },
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

/// Settings shared by the whole file and, unless overridden, by each named
/// database (all but `database_url`, which is each database's own).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<Spanned<String>>,
    script_location: Option<Spanned<String>>,
    models: Option<Vec<Spanned<String>>>,
    version_table: Option<Spanned<String>>,
    filters: Option<NameFilter>,
    lock_timeout: Option<Spanned<f64>>,
    lock_lease: Option<Spanned<u64>>,
    busy_timeout: Option<Spanned<f64>>,
    version_paths: Option<Vec<Spanned<String>>>,
    transaction_per_revision: Option<bool>,
}

/// The whole file: the shared settings spelled out (serde's `flatten` would
/// lose the line numbers of unknown-key errors) plus `[databases.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    database_url: Option<Spanned<String>>,
    script_location: Option<Spanned<String>>,
    models: Option<Vec<Spanned<String>>>,
    version_table: Option<Spanned<String>>,
    filters: Option<NameFilter>,
    lock_timeout: Option<Spanned<f64>>,
    lock_lease: Option<Spanned<u64>>,
    busy_timeout: Option<Spanned<f64>>,
    version_paths: Option<Vec<Spanned<String>>>,
    transaction_per_revision: Option<bool>,
    #[serde(default)]
    databases: BTreeMap<Spanned<String>, FileSettings>,
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
    /// Seconds the lock row's lease lasts unless renewed, on a Galera
    /// cluster (renewed every third of it).
    pub lock_lease: u64,
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

impl Default for DatabaseConfig {
    /// The settings of a database a `migrate.toml` says nothing about,
    /// relative to the working directory.
    fn default() -> Self {
        let script_location = PathBuf::from("migrations");
        DatabaseConfig {
            name: None,
            database_url: None,
            version_paths: vec![script_location.join("versions")],
            script_location,
            models: vec!["models/*.toml".into(), "models/*.rs".into()],
            root: PathBuf::new(),
            version_table: DEFAULT_VERSION_TABLE.into(),
            filters: NameFilter::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            lock_lease: crate::runtime::LEASE_SECONDS,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            transaction_per_revision: true,
        }
    }
}

impl DatabaseConfig {
    /// The tables this tool owns, which reflection must never report.
    pub fn own_tables(&self) -> [String; 3] {
        let v = &self.version_table;
        [v.clone(), format!("{v}_history"), format!("{v}_lock")]
    }

    /// The configured filters plus the tool's own tables excluded.
    pub fn reflection_filter(&self) -> NameFilter {
        let mut filter = self.filters.clone();
        filter.exclude.extend(self.own_tables());
        filter
    }

    /// The environment variable (and `.env` key) holding this database's
    /// URL: `DATABASE_URL`, or `DATABASE_URL_<NAME>` for a named database.
    pub fn url_variable(&self) -> String {
        match &self.name {
            None => URL_VARIABLE.to_string(),
            Some(name) => format!("{URL_VARIABLE}_{}", name.to_ascii_uppercase().replace('-', "_")),
        }
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
                defaults: FileSettings::default(),
                databases: BTreeMap::new(),
            }),
            Err(e) => Err(ConfigError::Read { path: path.display().to_string(), message: e.to_string() }),
        }
    }

    /// Parses the text of a `migrate.toml` that lives at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |offset: Option<usize>, message: String| {
            let location =
                offset.map(|o| toml_error::line_col(text, o)).map_or_else(String::new, |(l, c)| format!(":{l}:{c}"));
            ConfigError::Parse { path: path.display().to_string(), location, message }
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let (_, message) = toml_error::describe(&e, text);
            invalid(e.span().map(|s| s.start), message)
        })?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let defaults = FileSettings {
            database_url: file.database_url,
            script_location: file.script_location,
            models: file.models,
            version_table: file.version_table,
            filters: file.filters,
            lock_timeout: file.lock_timeout,
            lock_lease: file.lock_lease,
            busy_timeout: file.busy_timeout,
            version_paths: file.version_paths,
            transaction_per_revision: file.transaction_per_revision,
        };
        defaults.validate().map_err(|(at, m)| invalid(Some(at), m))?;
        let mut databases = BTreeMap::new();
        for (name, settings) in file.databases {
            let at = name.span().start;
            let name = name.into_inner();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(invalid(
                    Some(at),
                    format!("database name `{name}`: use letters, digits, `_` and `-` (it names DATABASE_URL_<NAME>)"),
                ));
            }
            settings.validate().map_err(|(at, m)| invalid(Some(at), m))?;
            databases.insert(name, settings);
        }
        Ok(Config { path: Some(path.to_path_buf()), root, defaults, databases })
    }

    /// Names of the databases under `[databases]`, sorted.
    pub fn database_names(&self) -> Vec<&str> {
        self.databases.keys().map(String::as_str).collect()
    }

    fn path_text(&self) -> String {
        self.path.as_ref().map_or(CONFIG_FILE.to_string(), |p| p.display().to_string())
    }

    /// The settings of database `name`; with no name, the only database.
    pub fn database(&self, name: Option<&str>) -> Result<DatabaseConfig, ConfigError> {
        let defined = || self.database_names().join(", ");
        let (name, own) = match (name, self.databases.len()) {
            (Some(name), _) => match self.databases.get(name) {
                Some(settings) => (Some(name.to_string()), Some(settings)),
                None => {
                    return Err(ConfigError::UnknownDatabase {
                        path: self.path_text(),
                        name: name.into(),
                        defined: defined(),
                    });
                }
            },
            (None, 0) => (None, None),
            (None, 1) => {
                let (name, settings) = self.databases.iter().next().expect("map has exactly one entry");
                (Some(name.clone()), Some(settings))
            }
            (None, _) => return Err(ConfigError::AmbiguousDatabase { path: self.path_text(), defined: defined() }),
        };
        let pick = |f: fn(&FileSettings) -> Option<String>| own.and_then(f).or_else(|| f(&self.defaults));
        let script_location = self.root.join(pick(|s| text(&s.script_location)).unwrap_or_else(|| "migrations".into()));
        let extra: Option<Vec<String>> =
            own.and_then(|s| texts(&s.version_paths)).or_else(|| texts(&self.defaults.version_paths));
        let version_paths = std::iter::once(script_location.join("versions"))
            .chain(extra.unwrap_or_default().into_iter().map(|p| self.root.join(p)))
            .collect();
        // A named database's URL is its own: another database's would
        // create its tables in the wrong place.
        let database_url = match own {
            Some(settings) => text(&settings.database_url),
            None => text(&self.defaults.database_url),
        };
        Ok(DatabaseConfig {
            name,
            database_url,
            script_location,
            models: own
                .and_then(|s| texts(&s.models))
                .or_else(|| texts(&self.defaults.models))
                .unwrap_or_else(|| vec!["models/*.toml".into(), "models/*.rs".into()]),
            version_table: pick(|s| text(&s.version_table)).unwrap_or_else(|| DEFAULT_VERSION_TABLE.into()),
            filters: own.and_then(|s| s.filters.clone()).or_else(|| self.defaults.filters.clone()).unwrap_or_default(),
            lock_timeout: own
                .and_then(|s| s.lock_timeout.as_ref())
                .or(self.defaults.lock_timeout.as_ref())
                .map_or(DEFAULT_LOCK_TIMEOUT, |t| *t.get_ref()),
            lock_lease: own
                .and_then(|s| s.lock_lease.as_ref())
                .or(self.defaults.lock_lease.as_ref())
                .map_or(crate::runtime::LEASE_SECONDS, |t| *t.get_ref()),
            busy_timeout: own
                .and_then(|s| s.busy_timeout.as_ref())
                .or(self.defaults.busy_timeout.as_ref())
                .map_or(DEFAULT_BUSY_TIMEOUT, |t| *t.get_ref()),
            version_paths,
            root: self.root.clone(),
            transaction_per_revision: own
                .and_then(|s| s.transaction_per_revision)
                .or(self.defaults.transaction_per_revision)
                .unwrap_or(true),
        })
    }

    /// The URL to use, by precedence: `flag`, then the environment variable
    /// of this database ([`DatabaseConfig::url_variable`], read with `env`),
    /// then the same key in `.env`, then the database's configured URL.
    pub fn resolve_url(
        &self,
        database: &DatabaseConfig,
        flag: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<String, ConfigError> {
        if let Some(url) = flag {
            return Ok(url.to_string());
        }
        let variable = database.url_variable();
        if let Some(url) = env(&variable).filter(|u| !u.is_empty()) {
            return Ok(url);
        }
        if let Some(url) = self.dotenv()?.remove(&variable) {
            return Ok(url);
        }
        database.database_url.clone().ok_or_else(|| match &database.name {
            None => ConfigError::NoUrl,
            Some(name) => ConfigError::NoNamedUrl { path: self.path_text(), name: name.clone(), variable },
        })
    }

    /// Every URL the file and its `.env` name, valid or not: what the CLI
    /// scrubs passwords of, whatever it prints.
    pub fn urls(&self) -> Vec<String> {
        let own = std::iter::once(&self.defaults).chain(self.databases.values());
        let mut urls: Vec<String> = own.filter_map(|s| s.database_url.as_ref().map(|u| u.get_ref().clone())).collect();
        if let Ok(dotenv) = self.dotenv() {
            urls.extend(dotenv.into_values());
        }
        urls
    }

    /// The `DATABASE_URL*` entries of `.env`. A malformed line is reported
    /// by number only: it may hold a password.
    fn dotenv(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        let path = self.root.join(".env");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(ConfigError::Read { path: path.display().to_string(), message: e.to_string() }),
        };
        let mut found = BTreeMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            let (key, value) = item.map_err(|e| {
                let line = match &e {
                    dotenvy::Error::LineParse(bad, _) => {
                        text.find(bad.as_str()).map(|at| toml_error::line_col(&text, at).0)
                    }
                    _ => None,
                };
                ConfigError::Parse {
                    path: path.display().to_string(),
                    location: line.map(|l| format!(":{l}")).unwrap_or_default(),
                    message: "malformed line (not shown, it may hold a password): expected KEY=value".into(),
                }
            })?;
            if key == URL_VARIABLE || key.starts_with(&format!("{URL_VARIABLE}_")) {
                found.insert(key, value);
            }
        }
        Ok(found)
    }
}

/// Whether `name` can be a version table's name (its history and lock
/// tables add a suffix); the message says why not.
pub fn check_version_table(name: &str) -> Result<(), String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_VERSION_TABLE;
    if valid {
        Ok(())
    } else {
        Err(format!(
            "version_table `{name}`: use a letter or `_`, then letters, digits and `_`, at most \
             {MAX_VERSION_TABLE} characters"
        ))
    }
}

fn text(setting: &Option<Spanned<String>>) -> Option<String> {
    setting.as_ref().map(|s| s.get_ref().clone())
}

fn texts(setting: &Option<Vec<Spanned<String>>>) -> Option<Vec<String>> {
    setting.as_ref().map(|v| v.iter().map(|s| s.get_ref().clone()).collect())
}

impl FileSettings {
    /// Rejects settings that cannot work, with the offset of the value.
    fn validate(&self) -> Result<(), (usize, String)> {
        if let Some(t) = &self.lock_timeout
            && !(t.get_ref().is_finite() && *t.get_ref() >= 0.0)
        {
            return Err((t.span().start, format!("lock_timeout must be 0 or more seconds, not {}", t.get_ref())));
        }
        if let Some(t) = &self.lock_lease
            && *t.get_ref() < MIN_LOCK_LEASE
        {
            return Err((
                t.span().start,
                format!("lock_lease must be {MIN_LOCK_LEASE} seconds or more, not {}", t.get_ref()),
            ));
        }
        if let Some(t) = &self.busy_timeout
            && !(t.get_ref().is_finite() && *t.get_ref() >= 0.0)
        {
            return Err((t.span().start, format!("busy_timeout must be 0 or more seconds, not {}", t.get_ref())));
        }
        if let Some(t) = &self.version_table {
            check_version_table(t.get_ref()).map_err(|message| (t.span().start, message))?;
        }
        let paths =
            self.script_location.iter().chain(self.models.iter().flatten()).chain(self.version_paths.iter().flatten());
        if let Some(empty) = paths.into_iter().find(|p| p.get_ref().trim().is_empty()) {
            return Err((empty.span().start, "an empty path or pattern".into()));
        }
        if let Some(url) = &self.database_url
            && let Err(e) = DatabaseUrl::parse(url.get_ref())
        {
            return Err((url.span().start, e.to_string()));
        }
        Ok(())
    }
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
    fn code_defaults_are_the_file_defaults() {
        let from_file = Config::parse("", Path::new("migrate.toml")).unwrap().database(None).unwrap();
        assert_eq!(DatabaseConfig::default(), from_file);
    }

    #[test]
    fn unknown_key_names_line() {
        let err = parse("database_url = \"x\"\ndatabse = 1\n").unwrap_err().to_string();
        assert_eq!(err, "/p/migrate.toml:2:1: unknown key `databse`; did you mean `databases`?");
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
        let none = |_: &str| None;
        let env = |v: &str| (v == "DATABASE_URL").then(|| "sqlite:env.db".to_string());
        assert_eq!(config.resolve_url(&db, None, none).unwrap(), "sqlite:file.db");
        std::fs::write(dir.path().join(".env"), "OTHER=1\nDATABASE_URL=sqlite:dotenv.db\n").unwrap();
        assert_eq!(config.resolve_url(&db, None, none).unwrap(), "sqlite:dotenv.db");
        assert_eq!(config.resolve_url(&db, None, env).unwrap(), "sqlite:env.db");
        assert_eq!(config.resolve_url(&db, Some("sqlite:flag.db"), env).unwrap(), "sqlite:flag.db");
    }

    #[test]
    fn missing_default_file_is_fine_but_explicit_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Config::load(None, dir.path()).unwrap().path.is_none());
        assert!(matches!(Config::load(Some(Path::new("nope.toml")), dir.path()), Err(ConfigError::Read { .. })));
    }
}
