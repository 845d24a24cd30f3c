//! The Rust types a column can hold ([`SqlValue`]), and decoding rows by
//! position into them, into tuples of them and into models ([`FromRow`]).

use super::error::Error as OrmError;
use super::relation::{JoinPlan, LoadOption, Plan, RelationError};
use crate::dialect::query::{Decode, DecodeError, FieldError, KeyArray, Value};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
#[cfg(feature = "mysql")]
use diesel::mysql::Mysql;
#[cfg(feature = "postgres")]
use diesel::pg::Pg;
use diesel::row::{Field, Row};
#[cfg(feature = "sqlite")]
use diesel::sqlite::Sqlite;
use std::borrow::Cow;

/// A Rust type a column can hold, on every backend: bound as a [`Value`],
/// read back by position. `Option<T>` holds `NULL`.
pub trait SqlValue: DecodePg + DecodeMysql + DecodeSqlite + Sized + 'static {
    /// The type comparisons take: `T` for both `T` and `Option<T>`, so a
    /// nullable column compares with a plain value.
    type Base: 'static;
    /// The value as a hash-map key, equal exactly when the values are
    /// (floats by bit pattern): what the session's identity map holds, and
    /// what orders a collection loaded without an `order_by`.
    type Hashed: std::hash::Hash + Ord + Send + Sync + 'static;
    /// The value as a parameter, borrowing what it can.
    fn to_value(&self) -> Value<'_>;
    /// The value as a hash-map key.
    fn hashed(&self) -> Self::Hashed;
    /// The Rust value of a parameter (what a relationship change copies from
    /// one object's key into another's foreign key); `None` when `value`
    /// does not fit (another type, `NULL` for a non-`Option`, an integer
    /// out of range). Types without it cannot take a key that way.
    fn from_value(_value: &Value<'_>) -> Option<Self> {
        None
    }
}

/// Decodes on PostgreSQL, when this build has it.
#[cfg(feature = "postgres")]
pub trait DecodePg: Decode<Pg> {}
#[cfg(feature = "postgres")]
impl<T: Decode<Pg>> DecodePg for T {}
/// Decodes on PostgreSQL, when this build has it.
#[cfg(not(feature = "postgres"))]
pub trait DecodePg {}
#[cfg(not(feature = "postgres"))]
impl<T> DecodePg for T {}

/// Decodes on MariaDB/MySQL, when this build has it.
#[cfg(feature = "mysql")]
pub trait DecodeMysql: Decode<Mysql> {}
#[cfg(feature = "mysql")]
impl<T: Decode<Mysql>> DecodeMysql for T {}
/// Decodes on MariaDB/MySQL, when this build has it.
#[cfg(not(feature = "mysql"))]
pub trait DecodeMysql {}
#[cfg(not(feature = "mysql"))]
impl<T> DecodeMysql for T {}

/// Decodes on SQLite, when this build has it.
#[cfg(feature = "sqlite")]
pub trait DecodeSqlite: Decode<Sqlite> {}
#[cfg(feature = "sqlite")]
impl<T: Decode<Sqlite>> DecodeSqlite for T {}
/// Decodes on SQLite, when this build has it.
#[cfg(not(feature = "sqlite"))]
pub trait DecodeSqlite {}
#[cfg(not(feature = "sqlite"))]
impl<T> DecodeSqlite for T {}

macro_rules! copy_value {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        copy_value!(@one $t, $variant, |value| match value {
            Value::$variant(v) => Some(*v),
            _ => None,
        });
    )*};
    (@one $t:ty, $variant:ident, |$value:ident| $from:expr) => {
        impl SqlValue for $t {
            type Base = $t;
            type Hashed = $t;
            fn to_value(&self) -> Value<'_> {
                Value::$variant(*self)
            }
            fn hashed(&self) -> $t {
                *self
            }
            fn from_value($value: &Value<'_>) -> Option<Self> {
                $from
            }
        }
    };
}

/// Integers take a value of any width that is in range.
macro_rules! int_value {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        copy_value!(@one $t, $variant, |value| value.as_i64().and_then(|n| <$t>::try_from(n).ok()));
    )*};
}
int_value!(i16 => I16, i32 => I32, i64 => I64);
copy_value!(
    bool => Bool,
    NaiveDate => Date, NaiveTime => Time, NaiveDateTime => Timestamp, DateTime<Utc> => Timestamptz,
    uuid::Uuid => Uuid, rust_decimal::Decimal => Decimal,
);

macro_rules! float_value {
    ($($t:ty => $variant:ident, $bits:ty),* $(,)?) => {$(
        impl SqlValue for $t {
            type Base = $t;
            type Hashed = $bits;
            fn to_value(&self) -> Value<'_> {
                Value::$variant(*self)
            }
            fn hashed(&self) -> $bits {
                self.to_bits()
            }
        }
    )*};
}
float_value!(f32 => F32, u32, f64 => F64, u64);

impl SqlValue for String {
    type Base = String;
    type Hashed = String;
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
    fn hashed(&self) -> String {
        self.clone()
    }
    fn from_value(value: &Value<'_>) -> Option<Self> {
        match value {
            Value::Text(text) => Some(text.to_string()),
            _ => None,
        }
    }
}

impl SqlValue for Vec<u8> {
    type Base = Vec<u8>;
    type Hashed = Vec<u8>;
    fn to_value(&self) -> Value<'_> {
        Value::Bytes(Cow::Borrowed(self))
    }
    fn hashed(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_value(value: &Value<'_>) -> Option<Self> {
        match value {
            Value::Bytes(bytes) => Some(bytes.to_vec()),
            _ => None,
        }
    }
}

macro_rules! array_value {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        /// A PostgreSQL array (`Vec<i64>` is `bigint[]`); an error on the
        /// backends that have none.
        impl SqlValue for Vec<$t> {
            type Base = Vec<$t>;
            type Hashed = Vec<$t>;
            fn to_value(&self) -> Value<'_> {
                Value::Array(KeyArray::$variant(self.clone()))
            }
            fn hashed(&self) -> Vec<$t> {
                self.clone()
            }
        }
    )*};
}
array_value!(i16 => I16, i32 => I32, i64 => I64, String => Text, uuid::Uuid => Uuid);

impl SqlValue for serde_json::Value {
    type Base = serde_json::Value;
    /// Its JSON text (a document is not `Hash`).
    type Hashed = String;
    fn to_value(&self) -> Value<'_> {
        Value::Json(Cow::Borrowed(self))
    }
    fn hashed(&self) -> String {
        self.to_string()
    }
}

impl<T: SqlValue> SqlValue for Option<T> {
    type Base = T::Base;
    type Hashed = Option<T::Hashed>;
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
    fn hashed(&self) -> Option<T::Hashed> {
        self.as_ref().map(SqlValue::hashed)
    }
    fn from_value(value: &Value<'_>) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// The backends rows are read from; dispatches a [`SqlValue`] to its decoder.
pub trait OrmBackend: diesel::backend::Backend {
    /// Reads `T` from a raw field. `column_type` is what the reader keeps
    /// of the field's column from row to row of one result: on PostgreSQL
    /// its type OID (0 until its first value), asked of the driver once per
    /// result, not per field (on a sync connection each ask is a call
    /// through diesel's `dyn TypeOidLookup` into libpq, for every integer,
    /// float and JSON read).
    fn decode<T: SqlValue>(raw: Option<Self::RawValue<'_>>, column_type: &mut u32) -> Result<T, FieldError>;

    /// Whether `decode` keeps anything in `column_type` (else the reader
    /// keeps no vector of them).
    const KEEPS_COLUMN_TYPES: bool = false;
}

#[cfg(feature = "postgres")]
impl OrmBackend for Pg {
    const KEEPS_COLUMN_TYPES: bool = true;

    fn decode<T: SqlValue>(raw: Option<Self::RawValue<'_>>, column_type: &mut u32) -> Result<T, FieldError> {
        if let (0, Some(value)) = (*column_type, &raw) {
            *column_type = value.get_oid().get();
        }
        <T as Decode<Pg>>::decode_typed(raw, *column_type)
    }
}

#[cfg(feature = "mysql")]
impl OrmBackend for Mysql {
    fn decode<T: SqlValue>(raw: Option<Self::RawValue<'_>>, _: &mut u32) -> Result<T, FieldError> {
        <T as Decode<Mysql>>::decode(raw)
    }
}

#[cfg(feature = "sqlite")]
impl OrmBackend for Sqlite {
    fn decode<T: SqlValue>(raw: Option<Self::RawValue<'_>>, _: &mut u32) -> Result<T, FieldError> {
        <T as Decode<Sqlite>>::decode(raw)
    }
}

/// Reads a row's fields left to right.
pub trait RowReader {
    /// The next field as `T`.
    fn next<T: SqlValue>(&mut self) -> Result<T, DecodeError>;
    /// Whether the field `ahead` places past the next one is `NULL` (or missing).
    fn is_null_ahead(&self, ahead: usize) -> bool;
    /// Moves past `n` fields.
    fn skip(&mut self, n: usize);
}

/// A [`RowReader`] over one diesel row, with what is kept of each column
/// from row to row of its result ([`OrmBackend::decode`]).
pub struct Fields<'r, R, DB> {
    row: &'r R,
    column_types: &'r mut Vec<u32>,
    next: usize,
    backend: std::marker::PhantomData<DB>,
}

impl<'r, 'c, R: Row<'c, DB>, DB: OrmBackend> Fields<'r, R, DB> {
    /// Starts at the first field of `row`; `column_types` goes from row to
    /// row of one result, empty at the first.
    pub fn new(row: &'r R, column_types: &'r mut Vec<u32>) -> Self {
        if DB::KEEPS_COLUMN_TYPES && column_types.is_empty() {
            column_types.resize(row.field_count(), 0);
        }
        Fields { row, column_types, next: 0, backend: std::marker::PhantomData }
    }
}

impl<'r, 'c, DB: OrmBackend, R: Row<'c, DB>> RowReader for Fields<'r, R, DB> {
    fn next<T: SqlValue>(&mut self) -> Result<T, DecodeError> {
        let index = self.next;
        self.next += 1;
        let field = self.row.get(index).ok_or(DecodeError::MissingColumn { index })?;
        let mut unkept = 0;
        let column_type = self.column_types.get_mut(index).unwrap_or(&mut unkept);
        DB::decode::<T>(field.value(), column_type).map_err(|e| e.at(index, std::any::type_name::<T>()))
    }

    fn is_null_ahead(&self, ahead: usize) -> bool {
        self.row.get(self.next + ahead).is_none_or(|f| f.is_null())
    }

    fn skip(&mut self, n: usize) {
        self.next += n;
    }
}

/// What a result row decodes into: a [`SqlValue`], a tuple of decodable
/// types, or a model (by `#[derive(Model)]`), read by position.
pub trait FromRow: Sized {
    /// Reads the value from the reader's next fields.
    fn from_row<R: RowReader>(row: &mut R) -> Result<Self, DecodeError>;

    /// Reads the value and the `joined` relationships' columns after it
    /// (models; other rows have none).
    #[doc(hidden)]
    fn from_row_joined<R: RowReader>(row: &mut R, _joined: &[JoinPlan]) -> Result<Self, DecodeError> {
        Self::from_row(row)
    }

    /// What loading `options` (and the relationships' defaults) means for
    /// these rows; only models have relationships.
    #[doc(hidden)]
    fn plan(options: &[LoadOption]) -> Result<Option<std::sync::Arc<Plan>>, RelationError> {
        if options.is_empty() { Ok(None) } else { Err(RelationError::OptionsNeedModel) }
    }

    /// Runs the loads of `plan` after the rows are read.
    #[doc(hidden)]
    fn after_load<'a>(
        _rows: &'a mut Vec<Self>,
        _conn: &'a mut crate::orm::exec::Conn<'_>,
        _plan: &'a Plan,
    ) -> crate::orm::exec::BoxFuture<'a, Result<(), OrmError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl<T: SqlValue> FromRow for T {
    fn from_row<R: RowReader>(row: &mut R) -> Result<Self, DecodeError> {
        row.next()
    }
}

macro_rules! tuple_from_row {
    ($($t:ident),+) => {
        impl<$($t: FromRow),+> FromRow for ($($t,)+) {
            fn from_row<R: RowReader>(row: &mut R) -> Result<Self, DecodeError> {
                Ok(($($t::from_row(row)?,)+))
            }
        }
    };
}
tuple_from_row!(A);
tuple_from_row!(A, B);
tuple_from_row!(A, B, C);
tuple_from_row!(A, B, C, D);
tuple_from_row!(A, B, C, D, E);
tuple_from_row!(A, B, C, D, E, F);
tuple_from_row!(A, B, C, D, E, F, G);
tuple_from_row!(A, B, C, D, E, F, G, H);

/// A model that may be absent from a row (the right side of a `LEFT JOIN`):
/// `None` when its first key column is `NULL`, its columns skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Nullable<M>(pub Option<M>);

impl<M: super::Model> FromRow for Nullable<M> {
    fn from_row<R: RowReader>(row: &mut R) -> Result<Self, DecodeError> {
        let key_at = M::KEY.first().and_then(|k| M::COLUMNS.iter().position(|c| c == k)).unwrap_or(0);
        if row.is_null_ahead(key_at) {
            row.skip(M::COLUMNS.len());
            return Ok(Nullable(None));
        }
        M::from_row(row).map(|m| Nullable(Some(m)))
    }
}

/// A primary key's value: one column's type, or a tuple for a composite key.
pub trait KeyValue {
    /// The key as a hash-map key (see [`SqlValue::Hashed`]).
    type MapKey: std::hash::Hash + Ord + Send + Sync + 'static;
    /// The key's parts, in key-column order.
    fn key_values(&self) -> Vec<Value<'_>>;
    /// The key as a hash-map key, without allocating for number keys.
    fn map_key(&self) -> Self::MapKey;
    /// The one part of a one-column key (`None` for a composite key):
    /// [`KeyValue::key_values`] without the vector.
    fn single_value(&self) -> Option<Value<'_>> {
        None
    }
}

impl<T: SqlValue> KeyValue for T {
    type MapKey = T::Hashed;
    fn single_value(&self) -> Option<Value<'_>> {
        Some(self.to_value())
    }
    fn key_values(&self) -> Vec<Value<'_>> {
        vec![self.to_value()]
    }
    fn map_key(&self) -> T::Hashed {
        SqlValue::hashed(self)
    }
}

macro_rules! tuple_key {
    ($($t:ident $i:tt),+) => {
        impl<$($t: SqlValue),+> KeyValue for ($($t,)+) {
            type MapKey = ($($t::Hashed,)+);
            fn key_values(&self) -> Vec<Value<'_>> {
                vec![$(self.$i.to_value()),+]
            }
            fn map_key(&self) -> Self::MapKey {
                ($(SqlValue::hashed(&self.$i),)+)
            }
        }
    };
}
tuple_key!(A 0, B 1);
tuple_key!(A 0, B 1, C 2);
tuple_key!(A 0, B 1, C 2, D 3);

/// Compiles only when `A` and `B` compare as the same type (`i64` and
/// `Option<i64>`): the derive's check of a `references` to a column.
///
/// ```compile_fail
/// #[derive(migrate::models::Model)]
/// #[model(table = "nodes")]
/// struct Node {
///     #[model(primary_key)]
///     id: i64,
///     #[model(references = "nodes.id")]
///     parent_id: Option<String>, // an i64 key cannot be held in text
/// }
/// ```
///
/// ```
/// #[derive(migrate::models::Model)]
/// #[model(table = "nodes")]
/// struct Node {
///     #[model(primary_key)]
///     id: i64,
///     #[model(references = "nodes.id")]
///     parent_id: Option<i64>,
/// }
/// ```
pub const fn same_base<A: SqlValue<Base = <B as SqlValue>::Base>, B: SqlValue>() {}

/// Compiles only when a column of type `A` can refer to `column`: the
/// derive's check of `references_model`.
///
/// ```
/// #[derive(migrate::models::Model)]
/// #[model(table = "teams")]
/// struct Team {
///     #[model(primary_key)]
///     id: i32,
/// }
///
/// #[derive(migrate::models::Model)]
/// #[model(table = "members")]
/// struct Member {
///     #[model(primary_key)]
///     id: i64,
///     #[model(references = "teams.id", references_model = "Team")]
///     team_id: Option<i32>,
/// }
/// ```
///
/// ```compile_fail
/// # #[derive(migrate::models::Model)]
/// # #[model(table = "teams")]
/// # struct Team {
/// #     #[model(primary_key)]
/// #     id: i32,
/// # }
/// #[derive(migrate::models::Model)]
/// #[model(table = "members")]
/// struct Member {
///     #[model(primary_key)]
///     id: i64,
///     #[model(references = "teams.id", references_model = "Team")]
///     team_id: Option<i64>, // teams.id is an i32
/// }
/// ```
///
/// ```compile_fail
/// # #[derive(migrate::models::Model)]
/// # #[model(table = "teams")]
/// # struct Team {
/// #     #[model(primary_key)]
/// #     id: i32,
/// # }
/// #[derive(migrate::models::Model)]
/// #[model(table = "members")]
/// struct Member {
///     #[model(primary_key)]
///     id: i64,
///     #[model(references = "squads.id", references_model = "Team")] // Team is `teams`
///     team_id: Option<i32>,
/// }
/// ```
pub const fn check_reference<A: SqlValue<Base = <B as SqlValue>::Base>, M, B: SqlValue>(
    column: super::expr::Column<M, B>,
) {
    let _ = column;
}

/// Whether two strings are equal, in a constant (the derive's check that
/// `references_model` is the model of the table referred to).
pub const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
