//! SQLite parameters and row values: UUIDs, instants and JSON are text;
//! integers of every width are read from the 64-bit storage class.

use crate::dialect::query::{Bound, Decode, FieldError, Value, not_null};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::deserialize::FromSql;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types as st;
use diesel::sqlite::{Sqlite, SqliteValue};

const NULL: Option<&str> = None;

impl QueryFragment<Sqlite> for Bound<'_, '_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> diesel::QueryResult<()> {
        self.walk(out, |out, value| match value {
            Value::Null => out.push_bind_param::<st::Nullable<st::Text>, _>(&NULL),
            Value::Bool(v) => out.push_bind_param::<st::Bool, _>(v),
            Value::I16(v) => out.push_bind_param::<st::SmallInt, _>(v),
            Value::I32(v) => out.push_bind_param::<st::Integer, _>(v),
            Value::I64(v) => out.push_bind_param::<st::BigInt, _>(v),
            Value::F32(v) => out.push_bind_param::<st::Float, _>(v),
            Value::F64(v) => out.push_bind_param::<st::Double, _>(v),
            Value::Text(v) => out.push_bind_param::<st::Text, str>(v.as_ref()),
            Value::Bytes(v) => out.push_bind_param::<st::Binary, [u8]>(v.as_ref()),
            Value::Date(v) => out.push_bind_param::<st::Date, _>(v),
            Value::Time(v) => out.push_bind_param::<st::Time, _>(v),
            Value::Timestamp(v) => out.push_bind_param::<st::Timestamp, _>(v),
            // An array is refused by the text conversion: only PostgreSQL binds them.
            Value::Timestamptz(_) | Value::Uuid(_) | Value::Json(_) | Value::Decimal(_) | Value::Array(_) => {
                out.push_bind_param::<st::Text, Value<'_>>(value)
            }
        })
    }
}

impl ToSql<st::Text, Sqlite> for Value<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> diesel::serialize::Result {
        let text = match self {
            Value::Timestamptz(t) => t.format("%Y-%m-%d %H:%M:%S%.f+00:00").to_string(),
            Value::Uuid(u) => u.hyphenated().to_string(),
            Value::Json(j) => serde_json::to_string(j.as_ref())?,
            // NUMERIC affinity stores the text as a number.
            Value::Decimal(d) => d.to_string(),
            other => return Err(format!("{other:?} is not bound as text").into()),
        };
        out.set_value(text);
        Ok(IsNull::No)
    }
}

macro_rules! narrow {
    ($($t:ty),*) => {$(
        impl Decode<Sqlite> for $t {
            fn decode(raw: Option<SqliteValue<'_, '_, '_>>) -> Result<Self, FieldError> {
                Ok(<$t>::try_from(<i64 as FromSql<st::BigInt, Sqlite>>::from_sql(not_null(raw)?)?)?)
            }
        }
    )*};
}
narrow!(i16, i32, i64);

macro_rules! direct {
    ($($t:ty => $st:ty),* $(,)?) => {$(
        impl Decode<Sqlite> for $t {
            fn decode(raw: Option<SqliteValue<'_, '_, '_>>) -> Result<Self, FieldError> {
                Ok(<$t as FromSql<$st, Sqlite>>::from_sql(not_null(raw)?)?)
            }
        }
    )*};
}
direct!(
    bool => st::Bool,
    f32 => st::Float,
    f64 => st::Double,
    String => st::Text,
    Vec<u8> => st::Binary,
    NaiveDate => st::Date,
    NaiveTime => st::Time,
    NaiveDateTime => st::Timestamp,
    DateTime<Utc> => st::TimestamptzSqlite,
);

impl Decode<Sqlite> for uuid::Uuid {
    fn decode(raw: Option<SqliteValue<'_, '_, '_>>) -> Result<Self, FieldError> {
        let text = <String as FromSql<st::Text, Sqlite>>::from_sql(not_null(raw)?)?;
        Ok(uuid::Uuid::try_parse(&text)?)
    }
}

impl Decode<Sqlite> for serde_json::Value {
    fn decode(raw: Option<SqliteValue<'_, '_, '_>>) -> Result<Self, FieldError> {
        let text = <String as FromSql<st::Text, Sqlite>>::from_sql(not_null(raw)?)?;
        Ok(serde_json::from_str(&text)?)
    }
}

impl Decode<Sqlite> for rust_decimal::Decimal {
    fn decode(raw: Option<SqliteValue<'_, '_, '_>>) -> Result<Self, FieldError> {
        let text = <String as FromSql<st::Text, Sqlite>>::from_sql(not_null(raw)?)?;
        Ok(text.parse::<rust_decimal::Decimal>().or_else(|_| rust_decimal::Decimal::from_scientific(&text))?)
    }
}

/// Arrays are PostgreSQL's: reading one here is an error, not a guess.
macro_rules! no_array {
    ($($t:ty),*) => {$(
        impl Decode<Sqlite> for Vec<$t> {
            fn decode(_raw: Option<<Sqlite as diesel::backend::Backend>::RawValue<'_>>) -> Result<Self, FieldError> {
                Err(crate::dialect::query::no_arrays())
            }
        }
    )*};
}
no_array!(i16, i32, i64, String, uuid::Uuid);
