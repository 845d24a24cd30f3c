//! The library's error type: every command returns it, and it knows which
//! exit code the CLI should end with.

use crate::config::ConfigError;
use crate::db::DbError;
use crate::dialect::ReflectError;
use crate::models::ModelError;
use crate::runtime::RuntimeError;
use crate::script::ScriptError;
use crate::template::InitError;

/// Anything a command can fail with. Each message is one line naming the
/// file or object concerned, never containing a password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `migrate.toml`, `.env` or the command line is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `migrate init` could not write the project.
    #[error(transparent)]
    Init(#[from] InitError),
    /// Connecting or talking to the database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The database's catalog could not be read.
    #[error(transparent)]
    Reflect(#[from] ReflectError),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Models(#[from] ModelError),
    /// An op that cannot run: it names what does not exist, or the backend cannot do it.
    #[error(transparent)]
    Invalid(#[from] crate::autogen::InvalidOp),
    /// An ORM pool gave no connection to run on.
    #[error(transparent)]
    Pool(#[from] crate::orm::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotAtHead(String),
}

impl Error {
    /// The process exit code for this error: 2 for usage and configuration
    /// errors, 3 for database errors (see docs/commands.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Init(_) | Error::Usage(_) | Error::Models(_) | Error::Invalid(_) => 2,
            Error::NotAtHead(_) => 1,
            Error::Db(DbError::InvalidUrl { .. } | DbError::MissingSqliteFile { .. } | DbError::NotBuilt { .. }) => 2,
            Error::Script(_)
            | Error::Runtime(
                RuntimeError::Render(_)
                | RuntimeError::RenderRevision { .. }
                | RuntimeError::NoPrimaryKeyOnCluster { .. },
            ) => 2,
            Error::Runtime(
                RuntimeError::Tampered(_)
                | RuntimeError::Partial { .. }
                | RuntimeError::Uncertain { .. }
                | RuntimeError::NothingToResume,
            ) => 1,
            Error::Db(_) | Error::Reflect(_) | Error::Runtime(_) | Error::Pool(_) => 3,
        }
    }

    /// A stable name for the kind of error, for `--json` (see docs/commands.md).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(ConfigError::Parse { .. }) => "config_invalid",
            Error::Config(ConfigError::Read { .. }) => "config_unreadable",
            Error::Config(ConfigError::NoUrl | ConfigError::NoNamedUrl { .. }) => "no_url",
            Error::Config(ConfigError::UnknownDatabase { .. } | ConfigError::AmbiguousDatabase { .. }) => {
                "unknown_database"
            }
            Error::Init(_) => "init",
            Error::Db(DbError::InvalidUrl { .. }) => "invalid_url",
            Error::Db(DbError::NotBuilt { .. }) => "backend_not_built",
            Error::Db(DbError::MissingSqliteFile { .. }) => "missing_sqlite_file",
            Error::Db(DbError::Connect { .. }) => "connect",
            Error::Db(DbError::Conflict { .. }) => "conflict",
            Error::Db(DbError::Query { .. }) | Error::Reflect(_) => "database",
            Error::Script(ScriptError::Parse { .. }) => "revision_file_invalid",
            Error::Script(ScriptError::Io { .. }) => "revision_file_unreadable",
            Error::Script(ScriptError::MultipleHeads(_)) => "multiple_heads",
            Error::Script(_) => "revision_graph",
            Error::Runtime(RuntimeError::Render(_) | RuntimeError::RenderRevision { .. }) => "unsupported_op",
            Error::Runtime(RuntimeError::Tampered(_)) => "tampered",
            Error::Runtime(RuntimeError::Partial { .. }) => "partially_applied",
            Error::Runtime(RuntimeError::NothingToResume) => "nothing_to_resume",
            Error::Runtime(RuntimeError::LockTimeout { .. }) => "lock_timeout",
            Error::Runtime(RuntimeError::StepFailed { .. }) => "step_failed",
            Error::Runtime(_) | Error::Pool(_) => "database",
            Error::Models(ModelError::Write { .. }) => "output_unwritable",
            Error::Models(_) => "models_invalid",
            Error::Invalid(_) => "invalid_op",
            Error::Usage(_) => "usage",
            Error::NotAtHead(_) => "not_at_head",
        }
    }

    /// The file and line the error is in, where it is about one.
    pub fn location(&self) -> Option<(String, Option<usize>)> {
        let line = |text: &str| text.trim_start_matches(':').split(':').next().and_then(|l| l.parse().ok());
        match self {
            Error::Config(ConfigError::Parse { path, location, .. }) => Some((path.clone(), line(location))),
            Error::Config(ConfigError::Read { path, .. }) => Some((path.clone(), None)),
            Error::Script(ScriptError::Parse { path, line: at, .. }) => Some((path.clone(), line(at))),
            Error::Script(ScriptError::Io { path, .. }) => Some((path.clone(), None)),
            Error::Models(ModelError::Invalid { path, line: at, .. }) => Some((path.clone(), line(at))),
            Error::Models(ModelError::Read { path, .. } | ModelError::Write { path, .. }) => Some((path.clone(), None)),
            Error::Runtime(RuntimeError::RenderRevision { path, .. }) => Some((path.clone(), None)),
            _ => None,
        }
    }

    /// A second line of advice, where there is one to give.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Config(ConfigError::NoUrl) => Some("run `migrate init` to create migrate.toml"),
            Error::Db(DbError::MissingSqliteFile { .. }) => {
                Some("check the path, or run `migrate upgrade` to create the database")
            }
            Error::Db(DbError::Connect { .. }) => Some("check that the server is running and the URL is right"),
            _ => None,
        }
    }
}
