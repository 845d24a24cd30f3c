//! Revision scripts on disk, the revision DAG, the target grammar, and the
//! plans that take a database from its current heads to a target. No I/O but
//! reading and writing revision files.

mod file;
mod map;
#[cfg(test)]
mod tests;

pub use file::RevisionFile;
pub use map::RevisionMap;

use crate::runtime::checksum::checksum;
use migrate_grammar::revision_files::{FileKind, STRAY_MESSAGE, file_kind};
use std::path::{Path, PathBuf};

/// A revision script could not be read, or a revision or target does not
/// make sense in the DAG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A folder or file could not be read or written.
    #[error("cannot {action} {path}: {message}")]
    Io {
        /// What was tried.
        action: &'static str,
        /// The path.
        path: String,
        /// Why.
        message: String,
    },
    /// A revision file is malformed.
    #[error("{path}{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// `:line`, where known.
        line: String,
        /// What is wrong.
        message: String,
    },
    /// The revisions do not form a valid DAG, or a name does not resolve.
    #[error("{0}")]
    Dag(String),
    /// Several heads where the command needs one.
    #[error(
        "multiple heads ({0}): name one, use `heads` for all of them, `<branch label>@head`, \
         or merge them with `migrate merge heads -m MESSAGE`"
    )]
    MultipleHeads(String),
}

fn dag(message: impl Into<String>) -> ScriptError {
    ScriptError::Dag(message.into())
}

/// A revision file as loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// Its contents.
    pub file: RevisionFile,
    /// Where it is.
    pub path: PathBuf,
    /// Its text as read.
    pub source: String,
    /// The checksum of its text, as the history table records it.
    pub checksum: String,
}

/// The revisions of one database.
#[derive(Debug, Clone)]
pub struct Script {
    /// The DAG.
    pub map: RevisionMap,
}

impl Script {
    /// Loads every `*.toml` file of `version_dirs` and checks the DAG. Any
    /// other file is an error, but for dotfiles, backups and READMEs.
    pub fn load(version_dirs: &[PathBuf]) -> Result<Script, ScriptError> {
        let mut revisions = Vec::new();
        for dir in version_dirs {
            let io = |e: std::io::Error| ScriptError::Io {
                action: "read",
                path: dir.display().to_string(),
                message: e.to_string(),
            };
            let mut paths = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let path = entry.map_err(io)?.path();
                match file_kind(&path) {
                    FileKind::Revision => paths.push(path),
                    FileKind::Skipped => {}
                    FileKind::Stray => {
                        return Err(ScriptError::Parse {
                            path: path.display().to_string(),
                            line: String::new(),
                            message: STRAY_MESSAGE.into(),
                        });
                    }
                }
            }
            paths.sort();
            for path in paths {
                let source = std::fs::read_to_string(&path).map_err(|e| ScriptError::Io {
                    action: "read",
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                let file = RevisionFile::parse(&path, &source)?;
                revisions.push(Revision { file, path, checksum: checksum(&source), source });
            }
        }
        Ok(Script { map: RevisionMap::new(revisions)? })
    }

    /// The revisions `embed_migrations!` compiled into the program, with
    /// the DAG checked.
    pub fn embedded(migrations: &EmbeddedMigrations) -> Result<Script, ScriptError> {
        let mut revisions = Vec::with_capacity(migrations.files.len());
        for embedded in migrations.files {
            let path = PathBuf::from(embedded.path);
            let file = RevisionFile::parse(&path, embedded.source)?;
            revisions.push(Revision {
                file,
                path,
                source: embedded.source.to_string(),
                checksum: embedded.checksum.to_string(),
            });
        }
        Ok(Script { map: RevisionMap::new(revisions)? })
    }
}

/// Revision files compiled into the program by
/// [`embed_migrations!`](crate::embed_migrations): a `const` the macro
/// builds, read with [`Script::embedded`] (or given to a
/// [`Migrator`](crate::Migrator)).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedMigrations {
    /// The files, sorted by path.
    pub files: &'static [EmbeddedFile],
}

/// One revision file compiled in.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    /// Its path relative to the crate that embedded it, for messages.
    pub path: &'static str,
    /// Its text.
    pub source: &'static str,
    /// Its checksum, computed at compile time: the one the CLI records.
    pub checksum: &'static str,
}

/// Writes `file` as `<dir>/<rev>_<slug>.toml`, never over an existing file.
pub fn write_revision(dir: &Path, file: &RevisionFile) -> Result<PathBuf, ScriptError> {
    let slug = slug(&file.message);
    let name =
        if slug.is_empty() { format!("{}.toml", file.revision) } else { format!("{}_{slug}.toml", file.revision) };
    let path = dir.join(name);
    let io = |action, e: std::io::Error| ScriptError::Io {
        action,
        path: path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create", e))?;
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| io("create", e))?;
    std::io::Write::write_all(&mut out, file.to_toml().as_bytes()).map_err(|e| io("write", e))?;
    Ok(path)
}

/// A file-name slug of a message: lowercase, runs of other characters as
/// one `_`, at most 40 characters.
pub fn slug(message: &str) -> String {
    let mut slug = String::new();
    for c in message.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug = slug.trim_matches('_');
    let cut = slug.char_indices().nth(40).map_or(slug.len(), |(i, _)| i);
    slug[..cut].trim_end_matches('_').to_string()
}

/// A new random revision id: 12 lowercase hex digits.
pub fn new_revision_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// A user-chosen revision id: 1 to 32 ASCII letters, digits or `_`.
pub fn validate_rev_id(id: &str) -> Result<(), ScriptError> {
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(dag(format!(
            "invalid revision id `{id}`: use 1 to 32 letters, digits or `_` (no `:`, `@`, `+`, `-`)"
        )));
    }
    Ok(())
}

/// Which way a step goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Applying a revision.
    Up,
    /// Undoing it.
    Down,
}

impl Direction {
    /// `up` or `down`, as the history table records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// One revision applied or undone, with the version table before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The revision.
    pub revision: String,
    /// Up or down.
    pub direction: Direction,
    /// The heads before this step, sorted.
    pub heads_before: Vec<String>,
    /// The heads after it, sorted.
    pub heads_after: Vec<String>,
}

/// Splits `a:b` into `(Some("a"), "b")`; a plain `b` is `(None, "b")`.
pub fn parse_range(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once(':') {
        Some((from, to)) => (Some(from).filter(|f| !f.is_empty()), to),
        None => (None, spec),
    }
}
