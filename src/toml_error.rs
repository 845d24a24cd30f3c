//! One way to report an error in a TOML file a user wrote (`migrate.toml`,
//! models, revision files): the line it is on, and for a misspelt key or
//! value the nearest valid one ("unknown key `nulable`; did you mean `nullable`?").

/// Where in `text` the error `e` is, as 1-based (line, column), and its message.
pub(crate) fn describe(e: &toml::de::Error, text: &str) -> (Option<(usize, usize)>, String) {
    (e.span().map(|span| line_col(text, span.start)), suggest(e.message().trim()))
}

/// 1-based (line, column) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" (and the
/// same for variants) into one sentence with the closest valid name.
pub(crate) fn suggest(message: &str) -> String {
    let (what, rest) = if let Some(rest) = message.strip_prefix("unknown field `") {
        ("key", rest)
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        ("value", rest)
    } else {
        return message.to_string();
    };
    let Some((given, expected)) = rest.split_once('`') else { return message.to_string() };
    let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match nearest(given, &valid) {
        Some(best) => format!("unknown {what} `{given}`; did you mean `{best}`?"),
        None if valid.is_empty() => format!("unknown {what} `{given}`: none is expected here"),
        None => format!("unknown {what} `{given}` (expected one of: {})", valid.join(", ")),
    }
}

/// "unknown key `given`; did you mean ...?" for a key outside `valid`.
pub(crate) fn unknown_key(given: &str, valid: &[&str]) -> String {
    let expected: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
    suggest(&format!("unknown field `{given}`, expected one of {}", expected.join(", ")))
}

/// The valid name closest to `given`, when it is close enough to be a typo.
fn nearest<'a>(given: &str, valid: &[&'a str]) -> Option<&'a str> {
    let limit = (given.chars().count() / 3).max(2);
    valid
        .iter()
        .map(|v| (strsim::damerau_levenshtein(&given.to_lowercase(), &v.to_lowercase()), *v))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        let serde = "unknown field `nulable`, expected one of `name`, `type`, `nullable`, `default`";
        assert_eq!(suggest(serde), "unknown key `nulable`; did you mean `nullable`?");
        assert_eq!(
            suggest("unknown field `indexs`, expected `columns` or `indexes`"),
            "unknown key `indexs`; did you mean `indexes`?"
        );
        assert_eq!(
            suggest("unknown variant `sqlite3`, expected one of `postgresql`, `mysql`, `sqlite`"),
            "unknown value `sqlite3`; did you mean `sqlite`?"
        );
        assert_eq!(
            suggest("unknown field `zzzzzz`, expected `name` or `type`"),
            "unknown key `zzzzzz` (expected one of: name, type)"
        );
        assert_eq!(unknown_key("valuse", &["enum", "values"]), "unknown key `valuse`; did you mean `values`?");
        assert_eq!(suggest("unknown field `x`, there are no fields"), "unknown key `x`: none is expected here");
        assert_eq!(
            suggest("invalid type: integer `5`, expected a string"),
            "invalid type: integer `5`, expected a string"
        );
    }

    #[test]
    fn lines_and_columns() {
        assert_eq!(line_col("a = 1\nbb = 2\n", 6), (2, 1));
        assert_eq!(line_col("a = 1\nbb = 2\n", 9), (2, 4));
        assert_eq!(line_col("é", 1), (1, 1));
    }
}
