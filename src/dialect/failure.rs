//! What a failed statement means, read from each backend's error: the kind
//! of failure an application can act on, the table and constraint concerned,
//! and the server's message with the values it quotes taken out.

use crate::db::ServerError;

/// The failures an application can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A unique constraint or unique index refused a duplicate.
    UniqueViolation,
    /// A foreign key refused a row (no parent) or a delete (children left).
    ForeignKeyViolation,
    /// A `NOT NULL` column was given no value.
    NotNullViolation,
    /// A `CHECK` constraint refused a row.
    CheckViolation,
    /// The statement names a table that does not exist.
    UndefinedTable,
    /// The transaction lost a conflict (serialization failure, deadlock) and
    /// was rolled back; running it again may succeed.
    SerializationFailure,
    /// A write was attempted in a read-only transaction.
    ReadOnlyTransaction,
    /// The connection to the server is gone.
    ConnectionLost,
    /// Anything else.
    Other,
}

/// A classified failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// The table concerned, where the backend says.
    pub table: Option<String>,
    /// The constraint (or unique index) concerned, where the backend says.
    pub constraint: Option<String>,
    /// The columns concerned, where the backend says.
    pub columns: Vec<String>,
    /// The server's message with every value it quoted replaced by `?`.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with no names known yet.
    pub(crate) fn new(kind: FailureKind, message: String) -> Self {
        Failure { kind, table: None, constraint: None, columns: Vec::new(), message }
    }
}

/// Reads a backend's errors.
pub trait ClassifyFailure {
    /// Classifies a failed statement from the server's `message` (scrubbed of
    /// passwords, but possibly quoting values) and the structured fields the
    /// driver gave, if any.
    fn classify_failure(&self, message: &str, server: Option<&ServerError>) -> Failure;
}

/// The kind diesel already recognised, where it did.
pub(crate) fn driver_kind(server: Option<&ServerError>) -> Option<FailureKind> {
    use diesel::result::DatabaseErrorKind as K;
    Some(match server?.kind {
        K::UniqueViolation => FailureKind::UniqueViolation,
        K::ForeignKeyViolation | K::RestrictViolation => FailureKind::ForeignKeyViolation,
        K::NotNullViolation => FailureKind::NotNullViolation,
        K::CheckViolation => FailureKind::CheckViolation,
        K::SerializationFailure => FailureKind::SerializationFailure,
        K::ReadOnlyTransaction => FailureKind::ReadOnlyTransaction,
        K::ClosedConnection | K::UnableToSendCommand => FailureKind::ConnectionLost,
        _ => return None,
    })
}

/// `message` with each `quote`-delimited text that directly follows one of
/// `markers` replaced by `?`: the values a server quotes, told apart from the
/// names it quotes the same way by the words before them.
pub(crate) fn redact_after(message: &str, markers: &[&str], quote: char) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    'scan: while !rest.is_empty() {
        for marker in markers {
            let opening = format!("{marker}{quote}");
            if let Some(after) = rest.strip_prefix(opening.as_str()) {
                // The value ends at the last quote before the next marker-free
                // stretch: values may contain the quote themselves, so take the
                // closing quote that is followed by a space, a comma or the end.
                let end = closing_quote(after, quote);
                out.push_str(marker);
                out.push(quote);
                out.push('?');
                out.push(quote);
                rest = &after[end..];
                rest = rest.strip_prefix(quote).unwrap_or(rest);
                continue 'scan;
            }
        }
        let c = rest.chars().next().expect("rest is not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Byte index in `text` of the quote that closes a quoted value: the last
/// one that is followed by a space or the end of the text before the next
/// ` for ` (MySQL) or the end. Falls back to the first quote.
fn closing_quote(text: &str, quote: char) -> usize {
    let candidates: Vec<usize> = text
        .char_indices()
        .filter(|&(i, c)| c == quote && text[i + c.len_utf8()..].chars().next().is_none_or(|n| n == ' ' || n == ','))
        .map(|(i, _)| i)
        .collect();
    let limit = text.find(" for ").unwrap_or(text.len());
    candidates.iter().rev().find(|&&i| i < limit).or(candidates.first()).copied().unwrap_or(text.len())
}

/// The text between the first `open` after `marker` and the next `close`.
pub(crate) fn quoted_after(message: &str, marker: &str, open: char, close: char) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    let rest = message[start..].trim_start();
    let rest = rest.strip_prefix(open)?;
    let end = rest.find(close)?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_redacted_names_kept() {
        assert_eq!(
            redact_after("Duplicate entry 'ann@x.io' for key 'email'", &["entry "], '\''),
            "Duplicate entry '?' for key 'email'"
        );
        assert_eq!(
            redact_after("Duplicate entry 'it's, odd' for key 'email'", &["entry "], '\''),
            "Duplicate entry '?' for key 'email'"
        );
        assert_eq!(
            redact_after("invalid input syntax for type integer: \"12 x\"", &[": "], '"'),
            "invalid input syntax for type integer: \"?\""
        );
        assert_eq!(
            redact_after("relation \"users\" does not exist", &[": "], '"'),
            "relation \"users\" does not exist"
        );
    }

    #[test]
    fn mysql_and_mariadb_spellings_are_both_read() {
        let mysql = crate::dialect::MysqlDialect;
        let dup = mysql.classify_failure("Duplicate entry 'a@x.io' for key 'users.uq_email'", None);
        assert_eq!(
            (dup.kind, dup.table.as_deref(), dup.constraint.as_deref()),
            (FailureKind::UniqueViolation, Some("users"), Some("uq_email"))
        );
        assert!(!dup.message.contains("a@x.io"));
        let check = mysql.classify_failure("Check constraint 'ck_n' is violated.", None);
        assert_eq!((check.kind, check.constraint.as_deref()), (FailureKind::CheckViolation, Some("ck_n")));
        let check = mysql.classify_failure("CONSTRAINT `ck_n` failed for `shop`.`items`", None);
        assert_eq!((check.kind, check.table.as_deref()), (FailureKind::CheckViolation, Some("items")));
        let missing = mysql.classify_failure("Field 'email' doesn't have a default value", None);
        assert_eq!(
            (missing.kind, missing.columns.as_slice()),
            (FailureKind::NotNullViolation, &["email".to_string()][..])
        );
        let fk = mysql.classify_failure(
            "Cannot delete or update a parent row: a foreign key constraint fails (`shop`.`orders`, CONSTRAINT `fk_o` FOREIGN KEY (`c`) REFERENCES `customers` (`id`))",
            None,
        );
        assert_eq!(
            (fk.kind, fk.table.as_deref(), fk.constraint.as_deref()),
            (FailureKind::ForeignKeyViolation, Some("orders"), Some("fk_o"))
        );
        let galera = mysql.classify_failure("Deadlock found when trying to get lock; try restarting transaction", None);
        assert_eq!(galera.kind, FailureKind::SerializationFailure);
    }

    #[test]
    fn postgres_deadlocks_and_missing_tables() {
        let pg = crate::dialect::PostgresDialect;
        assert_eq!(pg.classify_failure("deadlock detected", None).kind, FailureKind::SerializationFailure);
        let missing = pg.classify_failure("relation \"users\" does not exist", None);
        assert_eq!((missing.kind, missing.table.as_deref()), (FailureKind::UndefinedTable, Some("users")));
        let value = pg.classify_failure("value \"99999999999\" is out of range for type integer", None);
        assert_eq!(value.message, "value \"?\" is out of range for type integer");
    }

    #[test]
    fn names_are_read_between_quotes() {
        let message = "Table 'shop.users' doesn't exist";
        assert_eq!(quoted_after(message, "Table", '\'', '\''), Some("shop.users".into()));
        assert_eq!(quoted_after(message, "Column", '\'', '\''), None);
    }
}
