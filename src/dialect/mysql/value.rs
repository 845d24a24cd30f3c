//! MySQL/MariaDB parameters and row values: UUIDs and JSON travel as text,
//! instants as UTC `DATETIME`s.

use crate::dialect::query::{Bound, Decode, FieldError, Value, not_null};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::deserialize::FromSql;
use diesel::mysql::{Mysql, MysqlType, MysqlValue};
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types as st;
use std::io::Write;

const NULL: Option<&str> = None;

impl QueryFragment<Mysql> for Bound<'_, '_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Mysql>) -> diesel::QueryResult<()> {
        self.walk(out, |out, value| match value {
            Value::Null => out.push_bind_param::<st::Nullable<st::Text>, _>(&NULL),
            Value::Bool(v) => out.push_bind_param::<st::Bool, _>(v),
            Value::I16(v) => out.push_bind_param::<st::SmallInt, _>(v),
            Value::I32(v) => out.push_bind_param::<st::Integer, _>(v),
            Value::I64(v) => out.push_bind_param::<st::BigInt, _>(v),
            Value::F32(v) => out.push_bind_param::<st::Float, _>(v),
            Value::F64(v) => out.push_bind_param::<st::Double, _>(v),
            Value::Decimal(v) => out.push_bind_param::<st::Numeric, _>(v),
            Value::Text(v) => out.push_bind_param::<st::Text, str>(v.as_ref()),
            Value::Bytes(v) => out.push_bind_param::<st::Binary, [u8]>(v.as_ref()),
            Value::Date(v) => out.push_bind_param::<st::Date, _>(v),
            Value::Time(v) => out.push_bind_param::<st::Time, _>(v),
            Value::Timestamp(v) => out.push_bind_param::<st::Datetime, _>(v),
            Value::Timestamptz(_) => out.push_bind_param::<st::Datetime, Value<'_>>(value),
            // An array is refused by the text conversion: only PostgreSQL binds them.
            Value::Uuid(_) | Value::Json(_) | Value::Array(_) => out.push_bind_param::<st::Text, Value<'_>>(value),
        })
    }
}

impl ToSql<st::Text, Mysql> for Value<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> diesel::serialize::Result {
        match self {
            Value::Uuid(u) => write!(out, "{}", u.hyphenated())?,
            Value::Json(j) => serde_json::to_writer(out, j.as_ref())?,
            other => return Err(format!("{other:?} is not bound as text").into()),
        }
        Ok(IsNull::No)
    }
}

impl ToSql<st::Datetime, Mysql> for Value<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> diesel::serialize::Result {
        let Value::Timestamptz(t) = self else { return Err(format!("{self:?} is not an instant").into()) };
        let utc = t.naive_utc();
        <NaiveDateTime as ToSql<st::Datetime, Mysql>>::to_sql(&utc, &mut out.reborrow())
    }
}

macro_rules! direct {
    ($($t:ty => $st:ty),* $(,)?) => {$(
        impl Decode<Mysql> for $t {
            fn decode(raw: Option<MysqlValue<'_>>) -> Result<Self, FieldError> {
                Ok(<$t as FromSql<$st, Mysql>>::from_sql(not_null(raw)?)?)
            }
        }
    )*};
}
// A parameter in a select list (`SELECT ?`, a recursive CTE's anchor) comes
// back as text or a blob: numbers are read from their digits then.
macro_rules! number {
    ($($t:ty => $st:ty),* $(,)?) => {$(
        impl Decode<Mysql> for $t {
            fn decode(raw: Option<MysqlValue<'_>>) -> Result<Self, FieldError> {
                let raw = not_null(raw)?;
                match <$t as FromSql<$st, Mysql>>::from_sql(raw.clone()) {
                    Ok(v) => Ok(v),
                    Err(e) if matches!(raw.value_type(), MysqlType::Blob | MysqlType::String) => {
                        std::str::from_utf8(raw.as_bytes())?.trim().parse::<$t>().map_err(|_| FieldError::from(e))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    )*};
}
number!(i16 => st::SmallInt, i32 => st::Integer, i64 => st::BigInt, f32 => st::Float, f64 => st::Double);

direct!(
    bool => st::Bool,
    String => st::Text,
    Vec<u8> => st::Binary,
    NaiveDate => st::Date,
    NaiveTime => st::Time,
    NaiveDateTime => st::Datetime,
    rust_decimal::Decimal => st::Numeric,
);

impl Decode<Mysql> for DateTime<Utc> {
    fn decode(raw: Option<MysqlValue<'_>>) -> Result<Self, FieldError> {
        Ok(<NaiveDateTime as FromSql<st::Datetime, Mysql>>::from_sql(not_null(raw)?)?.and_utc())
    }
}

impl Decode<Mysql> for uuid::Uuid {
    fn decode(raw: Option<MysqlValue<'_>>) -> Result<Self, FieldError> {
        let bytes = not_null(raw)?.as_bytes();
        Ok(match bytes.len() {
            16 => uuid::Uuid::from_slice(bytes)?,
            _ => uuid::Uuid::try_parse_ascii(bytes)?,
        })
    }
}

impl Decode<Mysql> for serde_json::Value {
    fn decode(raw: Option<MysqlValue<'_>>) -> Result<Self, FieldError> {
        Ok(serde_json::from_slice(not_null(raw)?.as_bytes())?)
    }
}

/// Arrays are PostgreSQL's: reading one here is an error, not a guess.
macro_rules! no_array {
    ($($t:ty),*) => {$(
        impl Decode<Mysql> for Vec<$t> {
            fn decode(_raw: Option<MysqlValue<'_>>) -> Result<Self, FieldError> {
                Err(crate::dialect::query::no_arrays())
            }
        }
    )*};
}
no_array!(i16, i32, i64, String, uuid::Uuid);
