//! Portable column types.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;
use std::str::FromStr;

/// A column's type in portable terms. Each dialect maps these to and from its
/// own type names, synonyms included; [`ColumnType::Raw`] carries anything
/// that has no portable equivalent, verbatim.
///
/// In files and JSON a type is its portable spelling (`"varchar(20)"`,
/// `"numeric(10,2)"`), or `{ enum = "mood", values = [...] }`, or
/// `{ raw = "inet" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// 16-bit integer.
    Smallint,
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    Bigint,
    /// True/false.
    Boolean,
    /// Single-precision float.
    Real,
    /// Double-precision float.
    Double,
    /// Exact decimal with optional precision and scale.
    Numeric {
        /// Total digits.
        precision: Option<u32>,
        /// Digits after the decimal point.
        scale: Option<u32>,
    },
    /// Variable-length string with an optional maximum length.
    Varchar {
        /// Maximum length in characters.
        length: Option<u32>,
    },
    /// Fixed-length string.
    Char {
        /// Length in characters.
        length: Option<u32>,
    },
    /// Unbounded text.
    Text,
    /// Calendar date.
    Date,
    /// Time of day.
    Time,
    /// Date and time without time zone.
    Timestamp,
    /// Date and time with time zone.
    Timestamptz,
    /// UUID.
    Uuid,
    /// JSON document.
    Json,
    /// Byte string.
    Binary,
    /// Enumerated labels. On PostgreSQL `name` is the enum type; elsewhere the
    /// labels live in the column and `name` is informational.
    Enum {
        /// Enum type name.
        name: String,
        /// Labels, in declaration order.
        values: Vec<String>,
    },
    /// An array of another type (`bigint[]`): PostgreSQL only.
    Array(Box<ColumnType>),
    /// A backend type with no portable equivalent, as the backend spells it.
    Raw {
        /// The type as written in SQL.
        sql: String,
    },
}

/// A type spelling that is not one of the portable types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown type `{0}` (portable types: {PORTABLE_TYPES}; or {{ raw = \"...\" }} for a backend type)")]
pub struct UnknownType(pub String);

const PORTABLE_TYPES: &str = "smallint, integer, bigint, boolean, real, double, numeric(p,s), varchar(n), char(n), \
text, date, time, timestamp, timestamptz, uuid, json, binary, <type>[] (PostgreSQL), { enum = .., values = [..] }";

impl FromStr for ColumnType {
    type Err = UnknownType;

    /// Parses a portable spelling (`varchar(20)`), case-insensitively.
    fn from_str(text: &str) -> Result<Self, UnknownType> {
        let unknown = || UnknownType(text.to_string());
        if let Some(element) = text.trim().strip_suffix("[]") {
            return match element.parse::<ColumnType>().map_err(|_| unknown())? {
                ColumnType::Array(_) => Err(unknown()),
                element => Ok(ColumnType::Array(Box::new(element))),
            };
        }
        let lower = text.trim().to_ascii_lowercase();
        let (base, args) = match lower.split_once('(') {
            Some((base, rest)) => {
                let inner = rest.strip_suffix(')').ok_or_else(unknown)?;
                let args: Result<Vec<u32>, _> = inner.split(',').map(|a| a.trim().parse::<u32>()).collect();
                (base.trim().to_string(), args.map_err(|_| unknown())?)
            }
            None => (lower, Vec::new()),
        };
        let ty = match (base.as_str(), args.as_slice()) {
            ("smallint", []) => ColumnType::Smallint,
            ("integer", []) => ColumnType::Integer,
            ("bigint", []) => ColumnType::Bigint,
            ("boolean", []) => ColumnType::Boolean,
            ("real", []) => ColumnType::Real,
            ("double", []) => ColumnType::Double,
            ("numeric", []) => ColumnType::Numeric { precision: None, scale: None },
            ("numeric", [p]) => ColumnType::Numeric { precision: Some(*p), scale: None },
            ("numeric", [p, s]) => ColumnType::Numeric { precision: Some(*p), scale: Some(*s) },
            ("varchar", []) => ColumnType::Varchar { length: None },
            ("varchar", [n]) => ColumnType::Varchar { length: Some(*n) },
            ("char", []) => ColumnType::Char { length: None },
            ("char", [n]) => ColumnType::Char { length: Some(*n) },
            ("text", []) => ColumnType::Text,
            ("date", []) => ColumnType::Date,
            ("time", []) => ColumnType::Time,
            ("timestamp", []) => ColumnType::Timestamp,
            ("timestamptz", []) => ColumnType::Timestamptz,
            ("uuid", []) => ColumnType::Uuid,
            ("json", []) => ColumnType::Json,
            ("binary", []) => ColumnType::Binary,
            _ => return Err(unknown()),
        };
        Ok(ty)
    }
}

/// The serialised form of types that are not a plain spelling.
#[derive(Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum TypeRepr {
    Name(String),
    Enum {
        #[serde(rename = "enum")]
        name: String,
        values: Vec<String>,
    },
    Raw {
        raw: String,
    },
}

impl Serialize for ColumnType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ColumnType::Enum { name, values } => {
                TypeRepr::Enum { name: name.clone(), values: values.clone() }.serialize(serializer)
            }
            ColumnType::Raw { sql } => TypeRepr::Raw { raw: sql.clone() }.serialize(serializer),
            other => serializer.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for ColumnType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match TypeRepr::deserialize(deserializer)? {
            TypeRepr::Name(name) => name.parse().map_err(de::Error::custom),
            TypeRepr::Enum { name, values } => Ok(ColumnType::Enum { name, values }),
            TypeRepr::Raw { raw } => Ok(ColumnType::Raw { sql: raw }),
        }
    }
}

impl fmt::Display for ColumnType {
    /// The portable spelling, as models write it (`varchar(20)`, `numeric(10,2)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Smallint => f.write_str("smallint"),
            ColumnType::Integer => f.write_str("integer"),
            ColumnType::Bigint => f.write_str("bigint"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Real => f.write_str("real"),
            ColumnType::Double => f.write_str("double"),
            ColumnType::Numeric { precision: Some(p), scale: Some(s) } => write!(f, "numeric({p},{s})"),
            ColumnType::Numeric { precision: Some(p), scale: None } => write!(f, "numeric({p})"),
            ColumnType::Numeric { .. } => f.write_str("numeric"),
            ColumnType::Varchar { length: Some(n) } => write!(f, "varchar({n})"),
            ColumnType::Varchar { length: None } => f.write_str("varchar"),
            ColumnType::Char { length: Some(n) } => write!(f, "char({n})"),
            ColumnType::Char { length: None } => f.write_str("char"),
            ColumnType::Text => f.write_str("text"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Time => f.write_str("time"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::Timestamptz => f.write_str("timestamptz"),
            ColumnType::Uuid => f.write_str("uuid"),
            ColumnType::Json => f.write_str("json"),
            ColumnType::Binary => f.write_str("binary"),
            ColumnType::Enum { name, values } => write!(f, "enum {name}({})", values.join(", ")),
            ColumnType::Array(element) => write!(f, "{element}[]"),
            ColumnType::Raw { sql } => f.write_str(sql),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_round_trips() {
        for text in [
            "smallint",
            "integer",
            "bigint",
            "boolean",
            "real",
            "double",
            "numeric",
            "numeric(10)",
            "numeric(10,2)",
            "varchar",
            "varchar(20)",
            "char(3)",
            "text",
            "date",
            "time",
            "timestamp",
            "timestamptz",
            "uuid",
            "json",
            "binary",
            "bigint[]",
            "varchar(20)[]",
        ] {
            assert_eq!(text.parse::<ColumnType>().unwrap().to_string(), text);
        }
        assert_eq!("VARCHAR( 20 )".parse::<ColumnType>().unwrap(), ColumnType::Varchar { length: Some(20) });
        assert!("interger".parse::<ColumnType>().unwrap_err().to_string().starts_with("unknown type `interger`"));
        assert!("varchar(x)".parse::<ColumnType>().is_err());
        assert!("text(5)".parse::<ColumnType>().is_err());
        assert!("text[][]".parse::<ColumnType>().is_err());
    }

    #[test]
    fn serde_forms() {
        let enum_ty = ColumnType::Enum { name: "mood".into(), values: vec!["a".into()] };
        assert_eq!(serde_json::to_string(&enum_ty).unwrap(), r#"{"enum":"mood","values":["a"]}"#);
        let raw = ColumnType::Raw { sql: "inet".into() };
        assert_eq!(serde_json::to_string(&raw).unwrap(), r#"{"raw":"inet"}"#);
        for ty in [enum_ty, raw, ColumnType::Numeric { precision: Some(8), scale: Some(2) }] {
            let json = serde_json::to_string(&ty).unwrap();
            assert_eq!(serde_json::from_str::<ColumnType>(&json).unwrap(), ty);
        }
        assert!(serde_json::from_str::<ColumnType>(r#""nope""#).is_err());
    }
}
