//! The wire shapes of the envelopes. Every field is captured leniently (`Value<'a>`,
//! `Object<T>`) so that a wrong type becomes an error naming the field, never a serde
//! message that could quote the body. Strings borrow from the input when unescaped.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Any JSON value, kept only as far as the parser needs: strings and numbers as they
/// are, containers as their kind.
#[derive(Debug)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    /// A negative integer: its value never matters, only that it is below zero.
    NegInt,
    F64(f64),
    Bool,
    Null,
    Array,
    Object,
}

impl Value<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::U64(_) | Value::NegInt | Value::F64(_) => "number",
            Value::Bool => "boolean",
            Value::Null => "null",
            Value::Array => "array",
            Value::Object => "object",
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Value<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Value<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value<'a>, E> {
                Ok(Value::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value<'a>, E> {
                Ok(Value::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Value<'a>, E> {
                Ok(Value::Str(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value<'a>, E> {
                Ok(Value::U64(v))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Value<'a>, E> {
                // serde_json hands non-negative integers to `visit_u64`.
                Ok(Value::NegInt)
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value<'a>, E> {
                Ok(Value::F64(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Value<'a>, E> {
                Ok(Value::Bool)
            }
            fn visit_unit<E>(self) -> Result<Value<'a>, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value<'a>, E> {
                Ok(Value::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Value::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Value::Object)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object of shape `T`, or a note that something else stood there.
#[derive(Debug)]
pub(crate) enum Object<T> {
    Is(T),
    Not,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object::Is)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Object<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Object::Not)
            }
            fn visit_str<E>(self, _: &str) -> Result<Object<T>, E> {
                Ok(Object::Not)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Object<T>, E> {
                Ok(Object::Not)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Object<T>, E> {
                Ok(Object::Not)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Object<T>, E> {
                Ok(Object::Not)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Object<T>, E> {
                Ok(Object::Not)
            }
            fn visit_unit<E>(self) -> Result<Object<T>, E> {
                Ok(Object::Not)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `{"response": ...}`.
#[derive(Deserialize)]
pub(crate) struct Envelope<R> {
    pub(crate) response: Option<Object<R>>,
}

/// The `response` object of a success answer.
#[derive(Deserialize)]
pub(crate) struct SuccessResponse<'a> {
    #[serde(borrow)]
    pub(crate) code: Option<Value<'a>>,
    #[serde(borrow)]
    pub(crate) data: Option<Object<TokenData<'a>>>,
}

/// `response.data` of a success answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenData<'a> {
    #[serde(borrow)]
    pub(crate) access_token: Option<Value<'a>>,
    #[serde(borrow)]
    pub(crate) refresh_token: Option<Value<'a>>,
    #[serde(borrow)]
    pub(crate) expires_in: Option<Value<'a>>,
    #[serde(borrow)]
    pub(crate) refresh_expires_in: Option<Value<'a>>,
    #[serde(borrow)]
    pub(crate) token_type: Option<Value<'a>>,
}

/// The `response` object of an error answer.
#[derive(Deserialize)]
pub(crate) struct ErrorResponse<'a> {
    #[serde(borrow)]
    pub(crate) code: Option<Value<'a>>,
    pub(crate) errors: Option<serde_json::Value>,
}
