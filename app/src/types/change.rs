//! The two value types management inputs are made of besides plain fields: [`Change`], an
//! optional field of an update (keep it, clear it, or set it), and [`WriteOnly`], a secret on
//! its way in. Under `ssr` both are GraphQL input types in their inner type's name (`Change<T>`
//! reads like `T` — absent keeps, `null` clears; `WriteOnly` reads like `String`), so declaring
//! an input with them changes nothing a GraphQL client sees.

use serde::{Deserialize, Serialize};

/// One optional field of an update: absent keeps what is stored, `null` clears it, a value sets
/// it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Change<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Change<T> {
    /// The field's new value, given its current one.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Change::Keep => current,
            Change::Clear => None,
            Change::Set(value) => Some(value),
        }
    }
}

/// A write-only value (a credential or password on its way to the server): serialized as the
/// plain string it is, but never shown by `Debug`. Only inputs carry one; no answer does.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WriteOnly(pub String);

impl std::fmt::Debug for WriteOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "[redacted]" })
    }
}

#[cfg(feature = "ssr")]
mod graphql {
    use super::{Change, WriteOnly};
    use async_graphql::{registry::Registry, InputType, InputValueError, InputValueResult, MaybeUndefined, Value};
    use std::borrow::Cow;

    impl<T: InputType> InputType for Change<T> {
        type RawValueType = T::RawValueType;

        fn type_name() -> Cow<'static, str> {
            <MaybeUndefined<T> as InputType>::type_name()
        }

        fn qualified_type_name() -> String {
            <MaybeUndefined<T> as InputType>::qualified_type_name()
        }

        fn create_type_info(registry: &mut Registry) -> String {
            <MaybeUndefined<T> as InputType>::create_type_info(registry)
        }

        fn parse(value: Option<Value>) -> InputValueResult<Self> {
            match <MaybeUndefined<T> as InputType>::parse(value).map_err(InputValueError::propagate)? {
                MaybeUndefined::Undefined => Ok(Change::Keep),
                MaybeUndefined::Null => Ok(Change::Clear),
                MaybeUndefined::Value(value) => Ok(Change::Set(value)),
            }
        }

        fn to_value(&self) -> Value {
            match self {
                Change::Keep | Change::Clear => Value::Null,
                Change::Set(value) => value.to_value(),
            }
        }

        fn as_raw_value(&self) -> Option<&Self::RawValueType> {
            match self {
                Change::Keep | Change::Clear => None,
                Change::Set(value) => value.as_raw_value(),
            }
        }
    }

    impl InputType for WriteOnly {
        type RawValueType = String;

        fn type_name() -> Cow<'static, str> {
            <String as InputType>::type_name()
        }

        fn create_type_info(registry: &mut Registry) -> String {
            <String as InputType>::create_type_info(registry)
        }

        fn parse(value: Option<Value>) -> InputValueResult<Self> {
            <String as InputType>::parse(value)
                .map(WriteOnly)
                .map_err(InputValueError::propagate)
        }

        /// Never the secret: this is what introspection would show as a default.
        fn to_value(&self) -> Value {
            Value::String(String::new())
        }

        fn as_raw_value(&self) -> Option<&Self::RawValueType> {
            Some(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_clears_or_sets() {
        assert_eq!(Change::Keep.apply(Some(1)), Some(1));
        assert_eq!(Change::Clear.apply(Some(1)), None);
        assert_eq!(Change::Set(2).apply(None), Some(2));
    }

    #[test]
    fn a_write_only_value_is_never_shown_by_debug() {
        assert_eq!(format!("{:?}", WriteOnly("sk-secret".into())), "[redacted]");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn graphql_reads_absent_as_keep_null_as_clear_and_a_value_as_set() {
        use async_graphql::{InputType, Value};
        assert_eq!(Change::<i64>::parse(None).unwrap(), Change::Keep);
        assert_eq!(Change::<i64>::parse(Some(Value::Null)).unwrap(), Change::Clear);
        assert_eq!(Change::<i64>::parse(Some(Value::from(5))).unwrap(), Change::Set(5));
        assert!(Change::<i64>::parse(Some(Value::from("five"))).is_err());
        assert_eq!(Change::<i64>::type_name(), "Int");
        assert_eq!(WriteOnly::type_name(), "String");
        assert_eq!(
            WriteOnly::parse(Some(Value::from("sk"))).unwrap(),
            WriteOnly("sk".into())
        );
        assert_eq!(
            WriteOnly("sk".into()).to_value(),
            Value::from(""),
            "never echoes the secret"
        );
    }
}
