//! Revision files: `migrations/versions/<rev>_<slug>.toml`.
//!
//! ```toml
//! revision = "ae1027a6acf0"
//! down_revision = "1975ea83b712"   # absent = base; a list = merge point
//! branch_labels = ["billing"]
//! depends_on = ["27c6a30d7c24"]
//! message = "add users"
//! created_at = 2026-11-25T10:00:00Z
//!
//! [[upgrade]]
//! op = "add_column"
//! table = "users"
//! column = { name = "email", type = "varchar(255)", nullable = false }
//!
//! [[downgrade]]
//! op = "drop_column"
//! ...
//! ```

use super::ScriptError;
use crate::ops::Op;
use crate::toml_layout::{inline, section_block, string_list};
use serde::Deserialize;
use std::path::Path;
use toml::Value;

/// One revision file.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionFile {
    /// Its id.
    pub revision: String,
    /// Parents: none for a root, several for a merge point.
    pub down_revision: Vec<String>,
    /// Names for the branch starting here.
    pub branch_labels: Vec<String>,
    /// Revisions (or branch labels) that must be applied first, without
    /// being parents.
    pub depends_on: Vec<String>,
    /// What it does.
    pub message: String,
    /// When it was written (RFC 3339).
    pub created_at: Option<String>,
    /// Ops to apply.
    pub upgrade: Vec<Op>,
    /// Ops that undo them.
    pub downgrade: Vec<Op>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    revision: String,
    down_revision: Option<OneOrMany>,
    #[serde(default)]
    branch_labels: Vec<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    message: String,
    created_at: Option<toml::value::Datetime>,
    #[serde(default)]
    upgrade: Vec<Op>,
    #[serde(default)]
    downgrade: Vec<Op>,
}

impl RevisionFile {
    /// Parses the text of the file at `path` (named in errors, with the line).
    pub fn parse(path: &Path, text: &str) -> Result<RevisionFile, ScriptError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let (at, message) = crate::toml_error::describe(&e, text);
            ScriptError::Parse {
                path: path.display().to_string(),
                line: at.map(|(line, _)| format!(":{line}")).unwrap_or_default(),
                message,
            }
        })?;
        // Ids written by hand obey the rule `--rev-id` does: they are targets.
        super::validate_rev_id(&raw.revision).map_err(|e| {
            let line = text.lines().position(|l| l.trim_start().starts_with("revision")).map(|l| format!(":{}", l + 1));
            ScriptError::Parse {
                path: path.display().to_string(),
                line: line.unwrap_or_default(),
                message: e.to_string(),
            }
        })?;
        Ok(RevisionFile {
            revision: raw.revision,
            down_revision: match raw.down_revision {
                None => Vec::new(),
                Some(OneOrMany::One(one)) => vec![one],
                Some(OneOrMany::Many(many)) => many,
            },
            branch_labels: raw.branch_labels,
            depends_on: raw.depends_on,
            message: raw.message,
            created_at: raw.created_at.map(|d| d.to_string()),
            upgrade: raw.upgrade,
            downgrade: raw.downgrade,
        })
    }

    /// The file's text: header keys, then one `[[upgrade]]` block per op and
    /// one `[[downgrade]]` block per op, lists of tables one per line.
    pub fn to_toml(&self) -> String {
        let mut out = format!("revision = {}\n", inline(&Value::String(self.revision.clone())));
        match self.down_revision.as_slice() {
            [] => {}
            [one] => out.push_str(&format!("down_revision = {}\n", inline(&Value::String(one.clone())))),
            many => out.push_str(&format!("down_revision = {}\n", string_list(many))),
        }
        if !self.branch_labels.is_empty() {
            out.push_str(&format!("branch_labels = {}\n", string_list(&self.branch_labels)));
        }
        if !self.depends_on.is_empty() {
            out.push_str(&format!("depends_on = {}\n", string_list(&self.depends_on)));
        }
        out.push_str(&format!("message = {}\n", inline(&Value::String(self.message.clone()))));
        if let Some(created_at) = &self.created_at {
            out.push_str(&format!("created_at = {created_at}\n"));
        }
        if self.upgrade.is_empty() && self.downgrade.is_empty() {
            out.push_str(
                "\n# Ops to apply, in order, as [[upgrade]] blocks, and the ops that undo them as\n\
                 # [[downgrade]] blocks: see docs/revisions.md.\n",
            );
        }
        for (section, ops) in [("upgrade", &self.upgrade), ("downgrade", &self.downgrade)] {
            for op in ops {
                let table = Value::try_from(op).expect("ops serialise to TOML tables");
                out.push('\n');
                out.push_str(&section_block(section, table.as_table().expect("an op is a table")));
            }
        }
        out
    }
}
