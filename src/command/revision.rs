//! `revision`, `merge`, and the read-only script commands: `heads`,
//! `branches`, `history`, `show`.

use super::load_script;
use crate::Error;
use crate::config::DatabaseConfig;
use crate::ops::Op;
use crate::script::{Revision, RevisionFile, Script, ScriptError, new_revision_id, validate_rev_id, write_revision};
use serde::Serialize;
use std::path::PathBuf;

/// What `migrate revision` should write.
#[derive(Debug, Clone, Default)]
pub struct NewRevision {
    /// `-m`.
    pub message: String,
    /// `--head`: the revision to build on (default `head`; `base` starts a
    /// new root).
    pub head: Option<String>,
    /// `--splice`: allow building on a revision that is not a head.
    pub splice: bool,
    /// `--branch-label`.
    pub branch_labels: Vec<String>,
    /// `--depends-on`.
    pub depends_on: Vec<String>,
    /// `--rev-id`.
    pub rev_id: Option<String>,
    /// `--version-path`: one of the configured version folders.
    pub version_path: Option<PathBuf>,
    /// Ops (from autogenerate; empty for a hand-written revision).
    pub upgrade: Vec<Op>,
    /// Their inverse.
    pub downgrade: Vec<Op>,
}

/// A revision file as written.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// Its id.
    pub revision: String,
    /// Its parents.
    pub down_revision: Vec<String>,
    /// Where it is.
    pub path: PathBuf,
}

/// `migrate revision`: writes a new revision file on top of the current head.
pub fn revision(database: &DatabaseConfig, new: NewRevision) -> Result<Written, Error> {
    let script = load_script(database)?;
    let parents = match new.head.as_deref().unwrap_or("head") {
        "base" => Vec::new(),
        head => {
            let parents = script.map.resolve_heads(head)?;
            for parent in &parents {
                if !new.splice && !script.map.children_of(parent).is_empty() {
                    return Err(ScriptError::Dag(format!(
                        "revision {parent} is not a head; pass --splice to start a branch from it"
                    ))
                    .into());
                }
            }
            parents
        }
    };
    let depends_on =
        new.depends_on.iter().map(|d| script.map.resolve_name(d)).collect::<Result<Vec<String>, ScriptError>>()?;
    let file = RevisionFile {
        revision: new_id(&script, new.rev_id.as_deref())?,
        down_revision: parents,
        branch_labels: new.branch_labels,
        depends_on,
        message: new.message,
        created_at: Some(now()),
        upgrade: new.upgrade,
        downgrade: new.downgrade,
    };
    write(database, &script, file, new.version_path)
}

/// `migrate merge REVS... -m MSG`: a revision whose parents are `revisions`
/// (e.g. `heads`), with no ops.
pub fn merge(
    database: &DatabaseConfig,
    revisions: &[String],
    message: &str,
    rev_id: Option<&str>,
) -> Result<Written, Error> {
    let script = load_script(database)?;
    let mut parents = Vec::new();
    for name in revisions {
        for parent in script.map.resolve_heads(name)? {
            if !parents.contains(&parent) {
                parents.push(parent);
            }
        }
    }
    if parents.len() < 2 {
        return Err(ScriptError::Dag(format!("nothing to merge: {} names one revision", revisions.join(" "))).into());
    }
    let file = RevisionFile {
        revision: new_id(&script, rev_id)?,
        down_revision: parents,
        branch_labels: Vec::new(),
        depends_on: Vec::new(),
        message: message.to_string(),
        created_at: Some(now()),
        upgrade: Vec::new(),
        downgrade: Vec::new(),
    };
    write(database, &script, file, None)
}

fn new_id(script: &Script, rev_id: Option<&str>) -> Result<String, ScriptError> {
    match rev_id {
        Some(id) => {
            validate_rev_id(id)?;
            if script.map.get(id).is_some() {
                return Err(ScriptError::Dag(format!("revision id {id} already exists")));
            }
            Ok(id.to_string())
        }
        None => loop {
            let id = new_revision_id();
            if script.map.get(&id).is_none() {
                break Ok(id);
            }
        },
    }
}

fn write(
    database: &DatabaseConfig,
    script: &Script,
    file: RevisionFile,
    version_path: Option<PathBuf>,
) -> Result<Written, Error> {
    let dir = match version_path {
        None => database.version_paths[0].clone(),
        Some(path) => {
            let wanted = std::fs::canonicalize(&path).unwrap_or(path.clone());
            let configured =
                database.version_paths.iter().find(|p| std::fs::canonicalize(p).ok() == Some(wanted.clone()));
            configured.cloned().ok_or_else(|| {
                ScriptError::Dag(format!(
                    "{} is not a version path of this project; add it to version_paths in migrate.toml",
                    path.display()
                ))
            })?
        }
    };
    // The new file must fit the DAG (labels unique, ...) before it is written.
    let mut revisions: Vec<Revision> = script.map.walk().into_iter().cloned().collect();
    revisions.push(Revision {
        file: file.clone(),
        path: dir.join("new.toml"),
        source: String::new(),
        checksum: String::new(),
    });
    crate::script::RevisionMap::new(revisions)?;
    let path = write_revision(&dir, &file)?;
    Ok(Written { revision: file.revision, down_revision: file.down_revision, path })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One revision as the read commands show it.
#[derive(Debug, Clone, Serialize)]
pub struct RevisionInfo {
    /// Its id.
    pub revision: String,
    /// Its parents.
    pub down_revision: Vec<String>,
    /// Its branch labels.
    pub branch_labels: Vec<String>,
    /// Its dependencies.
    pub depends_on: Vec<String>,
    /// Its message.
    pub message: String,
    /// When it was written.
    pub created_at: Option<String>,
    /// Whether no revision builds on it.
    pub is_head: bool,
    /// Whether several revisions build on it.
    pub is_branch_point: bool,
    /// Whether it has several parents.
    pub is_merge_point: bool,
    /// Its file.
    pub path: PathBuf,
    /// Number of upgrade ops.
    pub upgrade_ops: usize,
    /// Number of downgrade ops.
    pub downgrade_ops: usize,
}

impl RevisionInfo {
    /// The revision `revision` of `script`, as listed.
    pub fn new(script: &Script, revision: &Revision) -> Self {
        let children = script.map.children_of(&revision.file.revision).len();
        RevisionInfo {
            revision: revision.file.revision.clone(),
            down_revision: revision.file.down_revision.clone(),
            branch_labels: revision.file.branch_labels.clone(),
            depends_on: revision.file.depends_on.clone(),
            message: revision.file.message.clone(),
            created_at: revision.file.created_at.clone(),
            is_head: children == 0,
            is_branch_point: children > 1,
            is_merge_point: revision.file.down_revision.len() > 1,
            path: revision.path.clone(),
            upgrade_ops: revision.file.upgrade.len(),
            downgrade_ops: revision.file.downgrade.len(),
        }
    }
}

/// `migrate heads`.
pub fn heads(database: &DatabaseConfig) -> Result<Vec<RevisionInfo>, Error> {
    let script = load_script(database)?;
    let heads = script.map.heads();
    Ok(heads.iter().filter_map(|h| script.map.get(h)).map(|r| RevisionInfo::new(&script, r)).collect())
}

/// `migrate branches`: the branch points.
pub fn branches(database: &DatabaseConfig) -> Result<Vec<RevisionInfo>, Error> {
    let script = load_script(database)?;
    let points = script.map.branch_points();
    Ok(points.iter().filter_map(|(id, _)| script.map.get(id)).map(|r| RevisionInfo::new(&script, r)).collect())
}

/// `migrate history [-r RANGE]`: newest first.
pub fn history(database: &DatabaseConfig, range: Option<&str>) -> Result<Vec<RevisionInfo>, Error> {
    let script = load_script(database)?;
    Ok(script.map.history(range)?.into_iter().map(|r| RevisionInfo::new(&script, r)).collect())
}

/// `migrate show REV`: one revision with its file's text.
pub fn show(database: &DatabaseConfig, name: &str) -> Result<(RevisionInfo, String), Error> {
    let script = load_script(database)?;
    let id = script.map.resolve_heads(name)?;
    let [id] = id.as_slice() else {
        return Err(ScriptError::MultipleHeads(id.join(", ")).into());
    };
    let revision = script.map.get(id).expect("resolved ids exist");
    Ok((RevisionInfo::new(&script, revision), revision.source.clone()))
}

/// `migrate edit REV`: the file to open.
pub fn edit_path(database: &DatabaseConfig, name: &str) -> Result<PathBuf, Error> {
    Ok(show(database, name)?.0.path)
}
