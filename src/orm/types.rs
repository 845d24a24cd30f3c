//! Custom column types: a user type (`Email`, `Money`, an enum, a struct
//! kept as JSON) stored as one of the built-in [`SqlValue`] types, its
//! *base*, with validation when a row is read. One impl serves every
//! backend; the model field names the base (`#[model(base = "String")]`) so
//! that the migration tool, which reads model files without compiling
//! them, knows the column's type. See `docs/orm.md`, "Custom types".

use super::value::SqlValue;
use crate::dialect::query::{Decode, FieldError, Value};
use diesel::backend::Backend;
use std::borrow::Cow;

pub use crate::dialect::query::InvalidValue;

/// A user type stored as a built-in type: bound as its base, read as its
/// base and then validated. Implementing it makes the type a [`SqlValue`]:
/// a model field, a filter's operand (`User::EMAIL.eq(email)`), a bind or
/// a column of a `text()` result.
pub trait CustomType: Clone + Sized + 'static {
    /// The built-in type it is stored as (`String`, `i64`,
    /// `rust_decimal::Decimal`, `serde_json::Value`, ...).
    type Base: SqlValue<Base = Self::Base> + Clone;

    /// The value as its base, borrowed where the type holds one.
    fn to_base(&self) -> Cow<'_, Self::Base>;

    /// The value a stored base holds, or why it is not one; the reason must
    /// not quote the value.
    fn from_base(base: Self::Base) -> Result<Self, InvalidValue>;
}

impl<T: CustomType> SqlValue for T {
    type Base = T;
    type Hashed = <T::Base as SqlValue>::Hashed;

    fn to_value(&self) -> Value<'_> {
        match self.to_base() {
            Cow::Borrowed(base) => base.to_value(),
            Cow::Owned(base) => base.to_value().into_owned(),
        }
    }

    fn hashed(&self) -> Self::Hashed {
        self.to_base().hashed()
    }
}

impl<DB: Backend, T: CustomType> Decode<DB> for T
where
    T::Base: Decode<DB>,
{
    fn decode(raw: Option<DB::RawValue<'_>>) -> Result<Self, FieldError> {
        T::from_base(<T::Base as Decode<DB>>::decode(raw)?).map_err(FieldError::Rejected)
    }

    fn decode_typed(raw: Option<DB::RawValue<'_>>, column_type: u32) -> Result<Self, FieldError> {
        T::from_base(<T::Base as Decode<DB>>::decode_typed(raw, column_type)?).map_err(FieldError::Rejected)
    }
}

/// Compiles only when the field type `F` (a custom type, or an `Option` of
/// one) is stored as `B`: the derive's check of `#[model(base = "B")]`.
///
/// ```
/// # use std::borrow::Cow;
/// # use migrate::orm::types::{CustomType, InvalidValue};
/// #[derive(Clone)]
/// struct Cents(i64);
/// impl CustomType for Cents {
///     type Base = i64;
///     fn to_base(&self) -> Cow<'_, i64> { Cow::Borrowed(&self.0) }
///     fn from_base(base: i64) -> Result<Self, InvalidValue> { Ok(Cents(base)) }
/// }
/// #[derive(migrate::models::Model)]
/// #[model(table = "prices")]
/// struct Price {
///     #[model(primary_key)]
///     id: i64,
///     #[model(base = "i64")]
///     amount: Option<Cents>,
/// }
/// ```
///
/// ```compile_fail
/// # use std::borrow::Cow;
/// # use migrate::orm::types::{CustomType, InvalidValue};
/// #[derive(Clone)]
/// struct Cents(i64);
/// impl CustomType for Cents {
///     type Base = i64;
///     fn to_base(&self) -> Cow<'_, i64> { Cow::Borrowed(&self.0) }
///     fn from_base(base: i64) -> Result<Self, InvalidValue> { Ok(Cents(base)) }
/// }
/// #[derive(migrate::models::Model)]
/// #[model(table = "prices")]
/// struct Price {
///     #[model(primary_key)]
///     id: i64,
///     #[model(base = "String")] // Cents is stored as an i64
///     amount: Cents,
/// }
/// ```
pub const fn check_base<F: SqlValue, B>()
where
    F::Base: CustomType<Base = B>,
{
}
