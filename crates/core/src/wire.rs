//! The wire shapes of the envelopes. Every field is captured leniently (`Value<'a>`,
//! `Object<T>`) so that a wrong type becomes an error naming the field, never a serde
//! message that could quote the body. Strings borrow from the input when unescaped.
//!
//! A strict twin of the success envelope ([`FastEnvelope`]) reads the answer Smartling
//! actually sends at the cost of a plain `serde` struct; anything it does not take goes
//! through the lenient shapes.

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

/// The `response` object of an error answer: the entries may be under `errors` (a
/// list, or one object), the older `messages`, or `data`.
#[derive(Deserialize)]
pub(crate) struct ErrorResponse<'a> {
    #[serde(borrow)]
    pub(crate) code: Option<Value<'a>>,
    pub(crate) errors: Option<serde_json::Value>,
    pub(crate) messages: Option<serde_json::Value>,
    pub(crate) data: Option<ErrorData>,
}

/// `response.data` of an error answer, kept only as far as it may hold error entries.
/// The fields of an object are read one by one, so that the tokens of a success body
/// under an error status are never copied, and a repeated key is not an error.
pub(crate) enum ErrorData {
    Fields(EntryFields),
    List(Vec<serde_json::Value>),
    Other,
}

/// The fields of an object that may be, or hold, error entries.
#[derive(Default)]
pub(crate) struct EntryFields {
    pub(crate) key: Option<serde_json::Value>,
    pub(crate) message: Option<serde_json::Value>,
    pub(crate) details: Option<serde_json::Value>,
    pub(crate) errors: Option<serde_json::Value>,
    pub(crate) messages: Option<serde_json::Value>,
}

impl<'de> Deserialize<'de> for ErrorData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorData;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorData, A::Error> {
                let mut fields = EntryFields::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let slot = match key.as_ref() {
                        "key" => &mut fields.key,
                        "message" => &mut fields.message,
                        "details" => &mut fields.details,
                        "errors" => &mut fields.errors,
                        "messages" => &mut fields.messages,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(ErrorData::Fields(fields))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorData, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(ErrorData::List(items))
            }
            fn visit_str<E>(self, _: &str) -> Result<ErrorData, E> {
                Ok(ErrorData::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<ErrorData, E> {
                Ok(ErrorData::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<ErrorData, E> {
                Ok(ErrorData::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<ErrorData, E> {
                Ok(ErrorData::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<ErrorData, E> {
                Ok(ErrorData::Other)
            }
            fn visit_unit<E>(self) -> Result<ErrorData, E> {
                Ok(ErrorData::Other)
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// The fast path: the success envelope as Smartling sends it
// ---------------------------------------------------------------------------------------

/// An object, and only an object: serde's derive would also build a struct from an
/// array of its fields in order, which the envelope never is.
pub(crate) struct Map<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Map<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Map<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Map<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Map)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// `{"response": ...}` with a usable success `response`, and nothing else accepted: any
/// other shape fails here and goes through the lenient types above, which say what is
/// wrong. Strings are borrowed (no escapes), lifetimes are JSON integers.
#[derive(Deserialize)]
pub(crate) struct FastEnvelope<'a> {
    #[serde(borrow)]
    pub(crate) response: Map<FastResponse<'a>>,
}

/// `response` of [`FastEnvelope`].
#[derive(Deserialize)]
pub(crate) struct FastResponse<'a> {
    #[serde(borrow)]
    pub(crate) code: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) data: Map<FastData<'a>>,
}

/// `response.data` of [`FastEnvelope`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FastData<'a> {
    pub(crate) access_token: &'a str,
    pub(crate) refresh_token: &'a str,
    pub(crate) expires_in: u64,
    pub(crate) refresh_expires_in: u64,
    #[serde(borrow)]
    pub(crate) token_type: Option<&'a str>,
}
