//! PostgreSQL parameters and row values: binary format, with integer and
//! float reads that accept any integer width and `numeric` (what `sum` and
//! `avg` return), and text parameters of unspecified type so that the
//! server types them from context (enum columns take them).

use crate::dialect::query::{Bound, Decode, FieldError, KeyArray, Value, not_null};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::deserialize::FromSql;
use diesel::pg::{Pg, PgValue};
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types as st;
use std::io::Write;

/// A parameter whose type the server infers (type oid 0).
#[derive(diesel::sql_types::SqlType)]
#[diesel(postgres_type(oid = 0, array_oid = 0))]
struct Unspecified;

impl ToSql<Unspecified, Pg> for str {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
        out.write_all(self.as_bytes())?;
        Ok(IsNull::No)
    }
}

const NULL: Option<&str> = None;

impl QueryFragment<Pg> for Bound<'_, '_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        self.walk(out, |out, value| match value {
            Value::Null => out.push_bind_param::<st::Nullable<Unspecified>, _>(&NULL),
            Value::Bool(v) => out.push_bind_param::<st::Bool, _>(v),
            Value::I16(v) => out.push_bind_param::<st::SmallInt, _>(v),
            Value::I32(v) => out.push_bind_param::<st::Integer, _>(v),
            Value::I64(v) => out.push_bind_param::<st::BigInt, _>(v),
            Value::F32(v) => out.push_bind_param::<st::Float, _>(v),
            Value::F64(v) => out.push_bind_param::<st::Double, _>(v),
            Value::Decimal(v) => out.push_bind_param::<st::Numeric, _>(v),
            Value::Text(v) => out.push_bind_param::<Unspecified, str>(v.as_ref()),
            Value::Bytes(v) => out.push_bind_param::<st::Binary, [u8]>(v.as_ref()),
            Value::Date(v) => out.push_bind_param::<st::Date, _>(v),
            Value::Time(v) => out.push_bind_param::<st::Time, _>(v),
            Value::Timestamp(v) => out.push_bind_param::<st::Timestamp, _>(v),
            Value::Timestamptz(v) => out.push_bind_param::<st::Timestamptz, _>(v),
            Value::Uuid(v) => out.push_bind_param::<st::Uuid, _>(v),
            Value::Json(v) => out.push_bind_param::<st::Jsonb, serde_json::Value>(v.as_ref()),
            Value::Array(KeyArray::I16(v)) => out.push_bind_param::<st::Array<st::SmallInt>, _>(v),
            Value::Array(KeyArray::I32(v)) => out.push_bind_param::<st::Array<st::Integer>, _>(v),
            Value::Array(KeyArray::I64(v)) => out.push_bind_param::<st::Array<st::BigInt>, _>(v),
            Value::Array(KeyArray::Text(v)) => out.push_bind_param::<st::Array<st::Text>, _>(v),
            Value::Array(KeyArray::Uuid(v)) => out.push_bind_param::<st::Array<st::Uuid>, _>(v),
        })
    }
}

// Type oids of the values read leniently.
const BOOL: u32 = 16;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const JSON: u32 = 114;
const FLOAT4: u32 = 700;
const UUID: u32 = 2950;
const JSONB: u32 = 3802;
const NUMERIC: u32 = 1700;

/// `raw` of the column type `oid` as an integer.
fn integer(raw: PgValue<'_>, oid: u32) -> Result<i64, FieldError> {
    Ok(match oid {
        INT2 => i64::from(<i16 as FromSql<st::SmallInt, Pg>>::from_sql(raw)?),
        INT4 => i64::from(<i32 as FromSql<st::Integer, Pg>>::from_sql(raw)?),
        BOOL => i64::from(<bool as FromSql<st::Bool, Pg>>::from_sql(raw)?),
        NUMERIC => {
            let f = numeric(raw.as_bytes())?;
            if f.fract() != 0.0 || !f.is_finite() {
                return Err(format!("numeric {f} is not an integer").into());
            }
            f as i64
        }
        _ => <i64 as FromSql<st::BigInt, Pg>>::from_sql(raw)?,
    })
}

/// `raw` of the column type `oid` as a float.
fn float(raw: PgValue<'_>, oid: u32) -> Result<f64, FieldError> {
    Ok(match oid {
        FLOAT4 => f64::from(<f32 as FromSql<st::Float, Pg>>::from_sql(raw)?),
        NUMERIC => numeric(raw.as_bytes())?,
        INT2 | INT4 | INT8 => integer(raw, oid)? as f64,
        _ => <f64 as FromSql<st::Double, Pg>>::from_sql(raw)?,
    })
}

/// A `numeric` in binary form (digit count, weight, sign, scale, base-10000
/// digits) as the nearest `f64`.
fn numeric(bytes: &[u8]) -> Result<f64, FieldError> {
    let word = |i: usize| -> Result<u16, FieldError> {
        let b = bytes.get(2 * i..2 * i + 2).ok_or("truncated numeric")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let (count, weight, sign) = (word(0)?, word(1)? as i16, word(2)?);
    if sign == 0xC000 {
        return Ok(f64::NAN);
    }
    let mut value = 0.0;
    for i in 0..usize::from(count) {
        value += f64::from(word(4 + i)?) * 10_000f64.powi(i32::from(weight) - i as i32);
    }
    Ok(if sign == 0x4000 { -value } else { value })
}

/// A non-`NULL` field and its type OID, asked of the field itself where
/// the reader did not pass its column's (a call through diesel's
/// `dyn TypeOidLookup` into libpq on a sync connection).
fn oid_of(raw: Option<PgValue<'_>>) -> Result<(PgValue<'_>, u32), FieldError> {
    let raw = not_null(raw)?;
    let oid = raw.get_oid().get();
    Ok((raw, oid))
}

macro_rules! narrow {
    ($($t:ty),*) => {$(
        impl Decode<Pg> for $t {
            fn decode(raw: Option<PgValue<'_>>) -> Result<Self, FieldError> {
                let (raw, oid) = oid_of(raw)?;
                Ok(<$t>::try_from(integer(raw, oid)?)?)
            }

            fn decode_typed(raw: Option<PgValue<'_>>, oid: u32) -> Result<Self, FieldError> {
                Ok(<$t>::try_from(integer(not_null(raw)?, oid)?)?)
            }
        }
    )*};
}
narrow!(i16, i32, i64);

impl Decode<Pg> for f64 {
    fn decode(raw: Option<PgValue<'_>>) -> Result<Self, FieldError> {
        let (raw, oid) = oid_of(raw)?;
        float(raw, oid)
    }

    fn decode_typed(raw: Option<PgValue<'_>>, oid: u32) -> Result<Self, FieldError> {
        float(not_null(raw)?, oid)
    }
}

// Narrowing a double to single precision is what the column asks for.
impl Decode<Pg> for f32 {
    fn decode(raw: Option<PgValue<'_>>) -> Result<Self, FieldError> {
        Ok(<f64 as Decode<Pg>>::decode(raw)? as f32)
    }

    fn decode_typed(raw: Option<PgValue<'_>>, oid: u32) -> Result<Self, FieldError> {
        Ok(<f64 as Decode<Pg>>::decode_typed(raw, oid)? as f32)
    }
}

impl Decode<Pg> for String {
    fn decode(raw: Option<PgValue<'_>>) -> Result<Self, FieldError> {
        let raw = not_null(raw)?;
        let bytes = raw.as_bytes();
        // Only 16 bytes can be a binary `uuid`, and only bytes starting with
        // its format version 1 a `jsonb`: any other value is text, read
        // without asking the field its type (a call through diesel's
        // `dyn TypeOidLookup` into libpq per field).
        if bytes.len() != 16 && bytes.first() != Some(&1) {
            return Ok(String::from_utf8(bytes.to_vec())?);
        }
        let oid = raw.get_oid().get();
        text(raw, oid)
    }

    fn decode_typed(raw: Option<PgValue<'_>>, oid: u32) -> Result<Self, FieldError> {
        text(not_null(raw)?, oid)
    }
}

/// `raw` of the column type `oid` as text: a `uuid` hyphenated, a `jsonb`
/// without its format byte.
fn text(raw: PgValue<'_>, oid: u32) -> Result<String, FieldError> {
    Ok(match oid {
        UUID => <uuid::Uuid as FromSql<st::Uuid, Pg>>::from_sql(raw)?.to_string(),
        JSONB => String::from_utf8(raw.as_bytes().get(1..).unwrap_or_default().to_vec())?,
        _ => String::from_utf8(raw.as_bytes().to_vec())?,
    })
}

impl Decode<Pg> for serde_json::Value {
    fn decode(raw: Option<PgValue<'_>>) -> Result<Self, FieldError> {
        let (raw, oid) = oid_of(raw)?;
        json(raw, oid)
    }

    fn decode_typed(raw: Option<PgValue<'_>>, oid: u32) -> Result<Self, FieldError> {
        json(not_null(raw)?, oid)
    }
}

/// `raw` of the column type `oid` (`json` or `jsonb`) as a document.
fn json(raw: PgValue<'_>, oid: u32) -> Result<serde_json::Value, FieldError> {
    Ok(match oid {
        JSON => <serde_json::Value as FromSql<st::Json, Pg>>::from_sql(raw)?,
        _ => <serde_json::Value as FromSql<st::Jsonb, Pg>>::from_sql(raw)?,
    })
}

macro_rules! direct {
    ($($t:ty => $st:ty),* $(,)?) => {$(
        impl Decode<Pg> for $t {
            fn decode(raw: Option<PgValue<'_>>) -> Result<Self, FieldError> {
                Ok(<$t as FromSql<$st, Pg>>::from_sql(not_null(raw)?)?)
            }
        }
    )*};
}
direct!(
    Vec<i16> => st::Array<st::SmallInt>,
    Vec<i32> => st::Array<st::Integer>,
    Vec<i64> => st::Array<st::BigInt>,
    Vec<String> => st::Array<st::Text>,
    Vec<uuid::Uuid> => st::Array<st::Uuid>,
    bool => st::Bool,
    Vec<u8> => st::Binary,
    NaiveDate => st::Date,
    NaiveTime => st::Time,
    NaiveDateTime => st::Timestamp,
    DateTime<Utc> => st::Timestamptz,
    uuid::Uuid => st::Uuid,
    rust_decimal::Decimal => st::Numeric,
);
