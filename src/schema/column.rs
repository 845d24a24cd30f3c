//! Columns and their server defaults.

use super::ColumnType;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Portable type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether NULL is allowed (in files, `true` unless written otherwise).
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Server-side default, normalised by the dialect that reflected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultValue>,
    /// Values come from a sequence, identity or AUTO_INCREMENT.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub autoincrement: bool,
    /// Column comment (PostgreSQL, MySQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Column {
    /// A nullable column with no default, comment or autoincrement.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Column { name: name.into(), ty, nullable: true, default: None, autoincrement: false, comment: None }
    }

    /// The same column, NOT NULL.
    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    /// The same column with a server default.
    pub fn default(mut self, value: DefaultValue) -> Self {
        self.default = Some(value);
        self
    }

    /// The same column, auto-incrementing.
    pub fn autoincrement(mut self) -> Self {
        self.autoincrement = true;
        self
    }

    /// The same column with a comment.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }
}

fn yes() -> bool {
    true
}

/// A server default in portable form. Dialects normalise what they reflect
/// into these (`'a'::character varying` and `'a'` are both `String("a")`,
/// `now()` and `CURRENT_TIMESTAMP` both `CurrentTimestamp`), so that the same
/// default reads back equal on every backend. `DEFAULT NULL` is the same as
/// no default and is reflected as `None`.
///
/// In files and JSON a default is written the way SQL writes it: `true`,
/// `0`, `"'untitled'"` (a quoted string literal), `"current_timestamp"`, or
/// any other text, which is an expression (`"lower('X')"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    /// A boolean literal.
    Boolean(bool),
    /// A numeric literal, as written (`0`, `-1.5`).
    Number(String),
    /// A string literal, unquoted.
    String(String),
    /// The current date and time.
    CurrentTimestamp,
    /// The current date.
    CurrentDate,
    /// The current time.
    CurrentTime,
    /// Any other expression, verbatim as the backend reports it.
    Expression(String),
}

impl DefaultValue {
    /// Reads the text form: a quoted literal, a number, a keyword, or an expression.
    pub fn parse(text: &str) -> Self {
        let trimmed = text.trim();
        if let Some(literal) = unquote_sql_string(trimmed) {
            return DefaultValue::String(literal);
        }
        if trimmed.parse::<f64>().is_ok_and(f64::is_finite) {
            return DefaultValue::Number(trimmed.to_string());
        }
        match trimmed.to_ascii_lowercase().as_str() {
            "true" => DefaultValue::Boolean(true),
            "false" => DefaultValue::Boolean(false),
            // Each backend's spellings of the same three values.
            "current_timestamp" | "current_timestamp()" | "now()" | "localtimestamp" | "localtimestamp()" => {
                DefaultValue::CurrentTimestamp
            }
            "current_date" | "current_date()" | "curdate()" => DefaultValue::CurrentDate,
            "current_time" | "current_time()" | "curtime()" => DefaultValue::CurrentTime,
            _ => DefaultValue::Expression(trimmed.to_string()),
        }
    }

    /// The text form that [`DefaultValue::parse`] reads back.
    pub fn to_text(&self) -> String {
        match self {
            DefaultValue::Boolean(b) => b.to_string(),
            DefaultValue::Number(n) => n.clone(),
            DefaultValue::String(s) => format!("'{}'", s.replace('\'', "''")),
            DefaultValue::CurrentTimestamp => "current_timestamp".into(),
            DefaultValue::CurrentDate => "current_date".into(),
            DefaultValue::CurrentTime => "current_time".into(),
            DefaultValue::Expression(e) => e.clone(),
        }
    }
}

/// `'it''s'` -> `it's`; `None` unless `text` is exactly one SQL string literal.
pub(crate) fn unquote_sql_string(text: &str) -> Option<String> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum DefaultRepr {
    Boolean(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

impl Serialize for DefaultValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let repr = match self {
            DefaultValue::Boolean(b) => DefaultRepr::Boolean(*b),
            // A number is written as a number only where that loses nothing ("1.50" stays text).
            DefaultValue::Number(n) => match (n.parse::<i64>(), n.parse::<f64>()) {
                (Ok(i), _) if i.to_string() == *n => DefaultRepr::Integer(i),
                (_, Ok(f)) if f.to_string() == *n => DefaultRepr::Float(f),
                _ => DefaultRepr::Text(n.clone()),
            },
            other => DefaultRepr::Text(other.to_text()),
        };
        repr.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DefaultValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match DefaultRepr::deserialize(deserializer)? {
            DefaultRepr::Boolean(b) => DefaultValue::Boolean(b),
            DefaultRepr::Integer(i) => DefaultValue::Number(i.to_string()),
            DefaultRepr::Float(f) => DefaultValue::Number(f.to_string()),
            DefaultRepr::Text(text) => DefaultValue::parse(&text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        let cases = [
            DefaultValue::Boolean(true),
            DefaultValue::Number("-1.50".into()),
            DefaultValue::String("it's".into()),
            DefaultValue::String(String::new()),
            DefaultValue::CurrentTimestamp,
            DefaultValue::CurrentDate,
            DefaultValue::CurrentTime,
            DefaultValue::Expression("lower('X')".into()),
            DefaultValue::Expression("'a' || 'b'".into()),
        ];
        for value in cases {
            assert_eq!(DefaultValue::parse(&value.to_text()), value);
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(serde_json::from_str::<DefaultValue>(&json).unwrap(), value, "{json}");
        }
        // Every backend's spelling of the current time is one value.
        for now in ["now()", "NOW()", "CURRENT_TIMESTAMP()", "localtimestamp"] {
            assert_eq!(DefaultValue::parse(now), DefaultValue::CurrentTimestamp, "{now}");
        }
        assert_eq!(DefaultValue::parse("curdate()"), DefaultValue::CurrentDate);
        assert_eq!(serde_json::to_string(&DefaultValue::Number("0".into())).unwrap(), "0");
        assert_eq!(serde_json::to_string(&DefaultValue::String("x".into())).unwrap(), r#""'x'""#);
    }
}
