//! Bound values and their decoding: one enum for every parameter, and a
//! per-backend [`Decode`] of each Rust type a column can hold.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::backend::Backend;
use std::borrow::Cow;

/// A parameter value. Borrows text, bytes and JSON where it can, so binding
/// a model's fields allocates nothing per value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `NULL`.
    Null,
    /// Boolean.
    Bool(bool),
    /// 16-bit integer.
    I16(i16),
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// Single-precision float.
    F32(f32),
    /// Double-precision float.
    F64(f64),
    /// Exact decimal.
    Decimal(rust_decimal::Decimal),
    /// Text.
    Text(Cow<'a, str>),
    /// Bytes.
    Bytes(Cow<'a, [u8]>),
    /// Calendar date.
    Date(NaiveDate),
    /// Time of day.
    Time(NaiveTime),
    /// Date and time without zone.
    Timestamp(NaiveDateTime),
    /// An instant (stored as UTC where the backend has no zone).
    Timestamptz(DateTime<Utc>),
    /// UUID (text on MySQL and SQLite).
    Uuid(uuid::Uuid),
    /// JSON document.
    Json(Cow<'a, serde_json::Value>),
    /// An array of keys, bound as one parameter (PostgreSQL's `= ANY($1)`).
    Array(KeyArray),
}

/// The keys of an `= ANY($1)`, all of one type.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyArray {
    /// `smallint[]`
    I16(Vec<i16>),
    /// `integer[]`
    I32(Vec<i32>),
    /// `bigint[]`
    I64(Vec<i64>),
    /// `text[]`
    Text(Vec<String>),
    /// `uuid[]`
    Uuid(Vec<uuid::Uuid>),
}

impl KeyArray {
    /// The array of `values`, when they are all of one type an array holds
    /// (integers, text, UUIDs); `None` otherwise.
    pub fn of(values: &[Value<'_>]) -> Option<KeyArray> {
        fn all<T>(values: &[Value<'_>], pick: impl Fn(&Value<'_>) -> Option<T>) -> Option<Vec<T>> {
            let mut out = Vec::with_capacity(values.len());
            for value in values {
                out.push(pick(value)?);
            }
            Some(out)
        }
        Some(match values.first()? {
            Value::I16(_) => KeyArray::I16(all(values, |v| if let Value::I16(n) = v { Some(*n) } else { None })?),
            Value::I32(_) => KeyArray::I32(all(values, |v| if let Value::I32(n) = v { Some(*n) } else { None })?),
            Value::I64(_) => KeyArray::I64(all(values, |v| if let Value::I64(n) = v { Some(*n) } else { None })?),
            Value::Text(_) => {
                KeyArray::Text(all(values, |v| if let Value::Text(t) = v { Some(t.to_string()) } else { None })?)
            }
            Value::Uuid(_) => KeyArray::Uuid(all(values, |v| if let Value::Uuid(u) = v { Some(*u) } else { None })?),
            _ => return None,
        })
    }

    /// Whether an array holds values of `value`'s type (what [`KeyArray::of`]
    /// takes), decided without building one.
    pub fn holds(value: &Value<'_>) -> bool {
        matches!(value, Value::I16(_) | Value::I32(_) | Value::I64(_) | Value::Text(_) | Value::Uuid(_))
    }
}

impl Value<'_> {
    /// The same value, owning what it borrowed.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(v) => Value::Bool(v),
            Value::I16(v) => Value::I16(v),
            Value::I32(v) => Value::I32(v),
            Value::I64(v) => Value::I64(v),
            Value::F32(v) => Value::F32(v),
            Value::F64(v) => Value::F64(v),
            Value::Decimal(v) => Value::Decimal(v),
            Value::Text(v) => Value::Text(Cow::Owned(v.into_owned())),
            Value::Bytes(v) => Value::Bytes(Cow::Owned(v.into_owned())),
            Value::Date(v) => Value::Date(v),
            Value::Time(v) => Value::Time(v),
            Value::Timestamp(v) => Value::Timestamp(v),
            Value::Timestamptz(v) => Value::Timestamptz(v),
            Value::Uuid(v) => Value::Uuid(v),
            Value::Json(v) => Value::Json(Cow::Owned(v.into_owned())),
            Value::Array(v) => Value::Array(v),
        }
    }

    /// A borrowed copy, for binding without cloning text.
    pub fn borrowed(&self) -> Value<'_> {
        match self {
            Value::Text(v) => Value::Text(Cow::Borrowed(v)),
            Value::Bytes(v) => Value::Bytes(Cow::Borrowed(v)),
            Value::Json(v) => Value::Json(Cow::Borrowed(v)),
            Value::Null => Value::Null,
            Value::Bool(v) => Value::Bool(*v),
            Value::I16(v) => Value::I16(*v),
            Value::I32(v) => Value::I32(*v),
            Value::I64(v) => Value::I64(*v),
            Value::F32(v) => Value::F32(*v),
            Value::F64(v) => Value::F64(*v),
            Value::Decimal(v) => Value::Decimal(*v),
            Value::Date(v) => Value::Date(*v),
            Value::Time(v) => Value::Time(*v),
            Value::Timestamp(v) => Value::Timestamp(*v),
            Value::Timestamptz(v) => Value::Timestamptz(*v),
            Value::Uuid(v) => Value::Uuid(*v),
            Value::Array(v) => Value::Array(v.clone()),
        }
    }

    /// The value as an `i64`, when it is an integer (a generated key).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I16(v) => Some(i64::from(*v)),
            Value::I32(v) => Some(i64::from(*v)),
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }
}

/// A column value could not be read as the Rust type asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// `NULL` where the Rust type is not an `Option`.
    #[error("column {index} is NULL but {rust_type} is not an Option")]
    UnexpectedNull {
        /// Position in the row (from 0).
        index: usize,
        /// The Rust type asked for.
        rust_type: &'static str,
    },
    /// The row has fewer columns than the Rust type reads.
    #[error("the row has no column {index} (the Rust type reads more columns than the statement returns)")]
    MissingColumn {
        /// Position in the row (from 0).
        index: usize,
    },
    /// MySQL/MariaDB typed a result column `NULL` (a bare parameter in the
    /// select list: `SELECT ?`), which their client library cannot read.
    #[error(
        "a result column has no type: MySQL/MariaDB report a bare parameter in a select list as NULL-typed, \
         which their client library cannot read; cast it, as in `SELECT CAST(:x AS CHAR)`"
    )]
    Untyped,
    /// The bytes do not hold the Rust type.
    #[error("column {index} cannot be read as {rust_type}: {message}")]
    WrongType {
        /// Position in the row (from 0).
        index: usize,
        /// The Rust type asked for.
        rust_type: &'static str,
        /// The driver's reason.
        message: String,
    },
    /// A custom type refused the stored value (its validation on read).
    /// Names the model and column when a model was read, and never the
    /// value.
    #[error("{}: invalid stored value for {rust_type}: {reason}", place(*model, *column, *index))]
    Invalid {
        /// The model read, if the row was a model's.
        model: Option<&'static str>,
        /// The model's column, if the row was a model's.
        column: Option<&'static str>,
        /// Position in the row (from 0).
        index: usize,
        /// The Rust type asked for.
        rust_type: &'static str,
        /// Why the custom type refused it.
        reason: InvalidValue,
    },
}

fn place(model: Option<&str>, column: Option<&str>, index: usize) -> String {
    match (model, column) {
        (Some(model), Some(column)) => format!("{model}.{column}"),
        _ => format!("column {index}"),
    }
}

impl DecodeError {
    /// The error, naming `model` and its `column` if a custom type refused
    /// the value (what a model's generated decoding adds).
    pub fn in_model(self, model: &'static str, column: &'static str) -> DecodeError {
        match self {
            DecodeError::Invalid { index, rust_type, reason, .. } => {
                DecodeError::Invalid { model: Some(model), column: Some(column), index, rust_type, reason }
            }
            other => other,
        }
    }
}

/// Why a custom type refuses a stored value: a reason for people, which
/// must not quote the value (it may be personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub Cow<'static, str>);

impl InvalidValue {
    /// The refusal with `reason` (`"not an e-mail address"`).
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        InvalidValue(reason.into())
    }
}

/// Why one field failed, before its position is known.
#[derive(Debug)]
pub enum FieldError {
    /// The value is `NULL`.
    Null,
    /// The driver could not convert it.
    Invalid(Box<dyn std::error::Error + Send + Sync>),
    /// A custom type refused the value the driver read.
    Rejected(InvalidValue),
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for FieldError {
    fn from(e: E) -> Self {
        FieldError::Invalid(e.into())
    }
}

/// Reads one Rust type from one field of a row of backend `DB`. Implemented
/// per backend in `src/dialect/<backend>/value.rs`.
pub trait Decode<DB: Backend>: Sized {
    /// Converts the raw value (`None` for `NULL`).
    fn decode(raw: Option<DB::RawValue<'_>>) -> Result<Self, FieldError>;

    /// Converts the raw value of a field whose column type the reader
    /// already knows (on PostgreSQL its type OID, read once per result), so
    /// that the field is not asked again. The default ignores the type and
    /// decodes as `decode` does.
    fn decode_typed(raw: Option<DB::RawValue<'_>>, column_type: u32) -> Result<Self, FieldError> {
        let _ = column_type;
        Self::decode(raw)
    }
}

impl<DB: Backend, T: Decode<DB>> Decode<DB> for Option<T> {
    fn decode(raw: Option<DB::RawValue<'_>>) -> Result<Self, FieldError> {
        match raw {
            None => Ok(None),
            some => T::decode(some).map(Some),
        }
    }

    fn decode_typed(raw: Option<DB::RawValue<'_>>, column_type: u32) -> Result<Self, FieldError> {
        match raw {
            None => Ok(None),
            some => T::decode_typed(some, column_type).map(Some),
        }
    }
}

impl FieldError {
    /// The error for the field at `index` read as `rust_type`.
    pub fn at(self, index: usize, rust_type: &'static str) -> DecodeError {
        match self {
            FieldError::Null => DecodeError::UnexpectedNull { index, rust_type },
            FieldError::Invalid(e) => DecodeError::WrongType { index, rust_type, message: e.to_string() },
            FieldError::Rejected(reason) => {
                DecodeError::Invalid { model: None, column: None, index, rust_type, reason }
            }
        }
    }
}

/// Why an array cannot be read from a backend without arrays.
pub fn no_arrays() -> FieldError {
    FieldError::Invalid("arrays are a PostgreSQL type; this backend has none".into())
}

/// `raw`, or [`FieldError::Null`].
pub fn not_null<T>(raw: Option<T>) -> Result<T, FieldError> {
    raw.ok_or(FieldError::Null)
}
