//! Project templates: what `migrate init` writes, embedded in the binary so
//! that an installed `migrate` needs no source tree.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// One template: a description and the files and folders it creates.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Template {
    /// Name given to `migrate init --template`.
    pub name: &'static str,
    /// One line saying what it is for.
    pub description: &'static str,
    #[serde(skip)]
    files: &'static [(&'static str, &'static str)],
    #[serde(skip)]
    dirs: &'static [&'static str],
}

macro_rules! template_file {
    ($template:literal, $path:literal) => {
        ($path, include_str!(concat!("../migrations_template/", $template, "/", $path)))
    };
    // A dot file, stored without its dot so that tools leave the template's own copy alone.
    ($template:literal, $path:literal as $name:literal) => {
        ($name, include_str!(concat!("../migrations_template/", $template, "/", $path)))
    };
}

/// The file `init` adds its lines to when it exists, instead of refusing.
const GITIGNORE: &str = ".gitignore";

/// Every template, in the order `list-templates` prints them.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "generic",
        description: include_str!("../migrations_template/generic/README"),
        files: &[
            template_file!("generic", "migrate.toml"),
            template_file!("generic", "migrations/README"),
            template_file!("generic", "models/README"),
            template_file!("generic", "models/example.toml"),
            template_file!("generic", "gitignore" as ".gitignore"),
        ],
        dirs: &["migrations/versions", "models"],
    },
    Template {
        name: "multidb",
        description: include_str!("../migrations_template/multidb/README"),
        files: &[
            template_file!("multidb", "migrate.toml"),
            template_file!("multidb", "migrations/README"),
            template_file!("multidb", "models/README"),
            template_file!("multidb", "gitignore" as ".gitignore"),
        ],
        dirs: &["migrations/main/versions", "migrations/analytics/versions", "models/main", "models/analytics"],
    },
];

/// `migrate init` could not write the project.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// No template has that name.
    #[error("unknown template `{0}` (available: {available})", available = names())]
    UnknownTemplate(String),
    /// A file the template writes is already there; nothing was written.
    #[error("{0} already exists; migrate init writes nothing over existing files")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
}

fn write_error(path: &Path, error: std::io::Error) -> InitError {
    InitError::Write { path: path.to_path_buf(), message: error.to_string() }
}

fn names() -> String {
    TEMPLATES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// The template called `name`.
pub fn find(name: &str) -> Result<&'static Template, InitError> {
    TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| InitError::UnknownTemplate(name.to_string()))
}

/// Writes template `name` into `dir` (created if needed) and returns the
/// paths written. Refuses, writing nothing, if any of its files exists,
/// except `.gitignore`, which gets the template's lines it lacks.
pub fn init(dir: &Path, name: &str) -> Result<Vec<PathBuf>, InitError> {
    let template = find(name)?;
    let clash = template.files.iter().find(|(path, _)| *path != GITIGNORE && dir.join(path).exists());
    if let Some((path, _)) = clash {
        return Err(InitError::Exists(dir.join(path)));
    }
    let mut created = Vec::new();
    for sub in template.dirs {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(|e| write_error(&path, e))?;
        created.push(path);
    }
    for (sub, contents) in template.files {
        let path = dir.join(sub);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
        }
        let contents = match std::fs::read_to_string(&path) {
            Ok(existing) if *sub == GITIGNORE => with_missing_lines(&existing, contents),
            _ => contents.to_string(),
        };
        std::fs::write(&path, contents).map_err(|e| write_error(&path, e))?;
        created.push(path);
    }
    created.sort();
    Ok(created)
}

/// `existing` with the lines of `ours` it lacks appended (comments only
/// when something is added).
fn with_missing_lines(existing: &str, ours: &str) -> String {
    let have: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&str> = ours.lines().filter(|l| !l.starts_with('#') && !have.contains(&l.trim())).collect();
    if missing.is_empty() {
        return existing.to_string();
    }
    let mut text = existing.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# Added by `migrate init`.\n");
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_config_parses() {
        for template in TEMPLATES {
            let (_, text) = template.files.iter().find(|(p, _)| *p == "migrate.toml").expect("has migrate.toml");
            let config = crate::config::Config::parse(text, Path::new("migrate.toml")).unwrap();
            for name in config.database_names() {
                let db = config.database(Some(name)).unwrap();
                assert!(template.dirs.iter().any(|d| Path::new(d) == db.script_location.join("versions")));
            }
        }
    }

    #[test]
    fn an_existing_gitignore_gets_the_missing_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".gitignore"), "/target\n.env").unwrap();
        init(dir.path(), "generic").unwrap();
        let text = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert!(text.starts_with("/target\n.env\n# Added by `migrate init`.\n/app.db\n"), "{text}");
        assert_eq!(text.matches(".env").count(), 1, "{text}");
        assert!(text.ends_with("*.migrate-lock\n"), "{text}");
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("migrate.toml"), "keep me").unwrap();
        assert!(matches!(init(dir.path(), "generic"), Err(InitError::Exists(_))));
        assert_eq!(std::fs::read_to_string(dir.path().join("migrate.toml")).unwrap(), "keep me");
        assert!(!dir.path().join("migrations").exists());
    }
}
