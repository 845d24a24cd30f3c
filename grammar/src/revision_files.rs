//! What the CLI (reading a versions folder at run time) and
//! `embed_migrations!` (reading it at compile time) must agree on: which
//! files of a versions folder are revisions, and the checksum of a revision
//! file's text that the history table records.

use sha2::{Digest, Sha256};
use std::path::Path;

/// What a directory entry of a versions folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A `*.toml` file: a revision.
    Revision,
    /// Not ours, silently left alone: folders, dotfiles (`.gitkeep`, an
    /// editor's `.x.swp`), backups (`x.toml~`, `.bak`, `.orig`), a README.
    Skipped,
    /// Anything else: probably a revision misnamed, which must not be ignored.
    Stray,
}

/// The message for a [`FileKind::Stray`] file.
pub const STRAY_MESSAGE: &str =
    "not a revision file: revision files end in `.toml` (rename it, or move it out of the folder)";

/// What the entry at `path` of a versions folder is.
pub fn file_kind(path: &Path) -> FileKind {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return FileKind::Stray };
    let backup = [".bak", ".orig", ".swp", ".tmp", "~"].iter().any(|end| name.ends_with(end));
    if path.is_dir() || name.starts_with('.') || backup || name.to_ascii_lowercase().starts_with("readme") {
        FileKind::Skipped
    } else if path.extension().is_some_and(|e| e == "toml") {
        FileKind::Revision
    } else {
        FileKind::Stray
    }
}

/// SHA-256 (hex) of `text` after normalising line endings to `\n` and
/// removing trailing white space from every line and from the end, so that an
/// editor's invisible changes do not count as edits.
pub fn checksum(text: &str) -> String {
    let mut hasher = Sha256::new();
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalized.lines().map(str::trim_end).collect();
    let mut body = lines.join("\n");
    body.truncate(body.trim_end().len());
    hasher.update(body.as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn invisible_changes_do_not_count() {
        let base = checksum("a = 1\nb = 2\n");
        assert_eq!(checksum("a = 1\r\nb = 2\r\n"), base);
        assert_eq!(checksum("a = 1   \nb = 2\n\n\n"), base);
        assert_ne!(checksum("a = 1\nb = 3\n"), base);
        assert_ne!(checksum("  a = 1\nb = 2\n"), base, "leading space is content");
        assert_eq!(base.len(), 64);
    }
}
