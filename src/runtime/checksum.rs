//! Checksums of revision files, so that an applied revision whose file was
//! edited afterwards is noticed.

use sha2::{Digest, Sha256};

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
