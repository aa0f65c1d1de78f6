//! The wire shapes of the envelopes. Every field is captured leniently (`Value<'a>`,
//! `Object<T>`) so that a wrong type becomes an error naming the field, never a serde
//! message that could quote the body. Strings borrow from the input when unescaped.
//!
//! The success answer in its plain form, the one Smartling sends, is also read by hand
//! ([`scan_success`]), faster than `serde` can; anything else goes through the lenient
//! shapes.

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
// The fast path: the success answer in its plain form, scanned by hand
// ---------------------------------------------------------------------------------------

/// The five fields of a success answer in its plain form (see [`scan_success`]).
pub(crate) struct PlainPair<'a> {
    pub(crate) access_token: &'a str,
    pub(crate) refresh_token: &'a str,
    pub(crate) expires_in: u64,
    pub(crate) refresh_expires_in: u64,
    /// `None` when missing or `null`.
    pub(crate) token_type: Option<&'a str>,
}

/// Reads a success answer in its plain form, the one Smartling sends:
/// `{"response": {"code": "SUCCESS", "data": {...}}}` with the five fields of `data`,
/// keys in any order and whitespace wherever JSON allows it; `code` may also be
/// `ACCEPTED`, `null` or missing. Strings have no escapes, tokens are non-empty visible
/// ASCII, lifetimes are JSON integers up to `max_secs`.
///
/// Anything else (an unknown or repeated key, an escape, a lifetime as a string, a bad
/// token, trailing bytes) is `None`, and the lenient parser reads the answer and says
/// what is wrong. What this accepts, the lenient parser reads the same way: debug
/// builds, and so the fuzzers, check that on every answer.
///
/// Why by hand: tokens are most of the answer, and a token's bytes are found, checked
/// for the header and for escapes here in one pass, where serde's string scan, its
/// UTF-8 check and the header check would be three.
pub(crate) fn scan_success(body: &[u8], max_secs: u64) -> Option<PlainPair<'_>> {
    let mut s = Scanner { b: body, i: 0 };
    let mut pair = None;
    s.object(|s, key| {
        if key != b"response" || pair.is_some() {
            return None;
        }
        pair = Some(s.response(max_secs)?);
        Some(())
    })?;
    s.skip_space();
    if s.i != body.len() {
        return None;
    }
    pair
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// `c`, after any whitespace; the position moves only past a match.
    fn eat(&mut self, c: u8) -> Option<()> {
        self.skip_space();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn null(&mut self) -> Option<()> {
        self.skip_space();
        self.b[self.i..].starts_with(b"null").then(|| self.i += 4)
    }

    /// `{ "key": value, ... }`, each value read by `member`.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            member(self, key)?;
            if self.eat(b',').is_none() {
                return self.eat(b'}');
            }
        }
    }

    /// A string with no escapes, of visible ASCII: its bytes.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let len = plain_len(&self.b[self.i..])?;
        let text = &self.b[self.i..self.i + len];
        self.i += len + 1;
        Some(text)
    }

    fn token(&mut self) -> Option<&'a str> {
        let text = self.string()?;
        // Visible ASCII: UTF-8 by construction, so this cannot fail.
        std::str::from_utf8(text).ok().filter(|t| !t.is_empty())
    }

    /// A JSON integer (no sign, fraction, exponent or leading zero) up to `max`.
    fn uint(&mut self, max: u64) -> Option<u64> {
        self.skip_space();
        let rest = &self.b[self.i..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0
            || (digits > 1 && rest[0] == b'0')
            || matches!(rest.get(digits), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let mut n: u64 = 0;
        for d in &rest[..digits] {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        if n > max {
            return None;
        }
        self.i += digits;
        Some(n)
    }

    fn response(&mut self, max_secs: u64) -> Option<PlainPair<'a>> {
        let (mut code, mut data) = (false, None);
        self.object(|s, key| match key {
            b"code" if !code => {
                code = true;
                if s.null().is_some() {
                    return Some(());
                }
                matches!(s.string()?, b"SUCCESS" | b"ACCEPTED").then_some(())
            }
            b"data" if data.is_none() => {
                data = Some(s.data(max_secs)?);
                Some(())
            }
            _ => None,
        })?;
        data
    }

    fn data(&mut self, max_secs: u64) -> Option<PlainPair<'a>> {
        let (mut access, mut refresh) = (None, None);
        let (mut expires, mut refresh_expires) = (None, None);
        let mut token_type = None;
        self.object(|s, key| {
            // Each field once: a repeated key is the lenient parser's to refuse.
            let first = match key {
                b"accessToken" => access.replace(s.token()?).is_none(),
                b"refreshToken" => refresh.replace(s.token()?).is_none(),
                b"expiresIn" => expires.replace(s.uint(max_secs)?).is_none(),
                b"refreshExpiresIn" => refresh_expires.replace(s.uint(max_secs)?).is_none(),
                b"tokenType" => {
                    let value = match s.null() {
                        Some(()) => None,
                        None => Some(s.token()?),
                    };
                    token_type.replace(value).is_none()
                }
                _ => false,
            };
            first.then_some(())
        })?;
        Some(PlainPair {
            access_token: access?,
            refresh_token: refresh?,
            expires_in: expires?,
            refresh_expires_in: refresh_expires?,
            token_type: token_type.flatten(),
        })
    }
}

/// The length of the string whose content starts `s`, up to its closing quote; `None`
/// when an escape or a byte outside visible ASCII comes first, or no quote does.
///
/// Sixteen bytes at a time: a block with no quote is checked lane by lane (a subtract,
/// a xor, a min and a max that vectorise), the block with the quote byte by byte.
fn plain_len(s: &[u8]) -> Option<usize> {
    const LANES: usize = 16;
    // `b - 0x21` above 0x5d is outside visible ASCII; `(b - 0x21) ^ 0x3b` is 0 for `\`.
    let (mut low, mut high) = ([u8::MAX; LANES], [0u8; LANES]);
    let mut start = 0;
    for block in s.chunks_exact(LANES) {
        let mut quote = false;
        for b in block {
            quote |= *b == b'"';
        }
        if quote {
            break;
        }
        for (k, b) in block.iter().enumerate() {
            let x = b.wrapping_sub(0x21);
            low[k] = low[k].min(x ^ 0x3b);
            high[k] = high[k].max(x);
        }
        start += LANES;
    }
    let mut low = low.into_iter().fold(u8::MAX, u8::min);
    let mut high = high.into_iter().fold(0, u8::max);
    for (k, b) in s[start..].iter().enumerate() {
        if *b == b'"' {
            return (low != 0 && high <= 0x5d).then_some(start + k);
        }
        let x = b.wrapping_sub(0x21);
        low = low.min(x ^ 0x3b);
        high = high.max(x);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_end_at_their_quote() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 100, 1091] {
            let text: String = (0..len)
                .map(|i| char::from(b'!' + (i % 94) as u8))
                .collect();
            let text = text.replace(['"', '\\'], "x");
            let body = format!("{text}\",\"next\":\"x\"}}");
            assert_eq!(plain_len(body.as_bytes()), Some(len), "{text}");
        }
    }

    #[test]
    fn escapes_and_bytes_outside_visible_ascii_are_refused() {
        for bad in [
            "a\\\"b\"", "a b\"", "a\tb\"", "\u{7f}\"", "é\"", "\0\"", "no quote",
        ] {
            assert_eq!(plain_len(bad.as_bytes()), None, "{bad:?}");
            // At every place in a block, and past the first blocks.
            let long = format!("{}{bad}", "x".repeat(37));
            assert_eq!(plain_len(long.as_bytes()), None, "{long:?}");
        }
        // After the quote, anything goes.
        assert_eq!(plain_len("ab\" é\\".as_bytes()), Some(2));
    }

    fn scan(body: &str) -> Option<(String, String, u64, u64, Option<String>)> {
        scan_success(body.as_bytes(), 1000).map(|p| {
            (
                p.access_token.to_owned(),
                p.refresh_token.to_owned(),
                p.expires_in,
                p.refresh_expires_in,
                p.token_type.map(str::to_owned),
            )
        })
    }

    #[test]
    fn reads_the_plain_form_in_any_order_and_spacing() {
        let expected = Some(("a.b".into(), "r!~".into(), 480, 0, Some("Bearer".into())));
        for body in [
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b","refreshToken":"r!~","expiresIn":480,"refreshExpiresIn":0,"tokenType":"Bearer"}}}"#,
            " {\r\n \"response\" :\t{ \"data\" : { \"tokenType\":\"Bearer\", \"refreshExpiresIn\" : 0 ,\"expiresIn\":480,\"refreshToken\":\"r!~\",\"accessToken\":\"a.b\"} , \"code\" : \"ACCEPTED\" } }\n",
        ] {
            assert_eq!(scan(body), expected, "{body}");
        }
        let bare = r#"{"response":{"code":null,"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2,"tokenType":null}}}"#;
        assert_eq!(scan(bare), Some(("a".into(), "r".into(), 1, 2, None)));
        let no_code = r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#;
        assert_eq!(scan(no_code), Some(("a".into(), "r".into(), 1, 2, None)));
    }

    #[test]
    fn leaves_every_other_shape_to_the_lenient_parser() {
        let data = r#""accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2"#;
        let cases = [
            format!(r#"{{"response":{{"code":"SUCCESS","data":{{{data},"x":1}}}}}}"#),
            format!(r#"{{"response":{{"code":"SUCCESS","data":{{{data}}},"x":1}}}}"#),
            format!(r#"{{"response":{{"code":"SUCCESS","data":{{{data}}}}},"x":1}}"#),
            format!(r#"{{"response":{{"code":"success","data":{{{data}}}}}}}"#),
            format!(r#"{{"response":{{"code":5,"data":{{{data}}}}}}}"#),
            format!(r#"{{"response":{{"code":"SUCCESS","code":null,"data":{{{data}}}}}}}"#),
            format!(r#"{{"response":{{"data":{{{data},"accessToken":"b"}}}}}}"#),
            format!(r#"{{"response":{{"data":{{{data}}}}}}} x"#),
            format!(r#"{{"response":{{"data":{{{data}}}}}}}{{}}"#),
            format!(r#"{{"response":{{"data":{{{data},}}}}}}"#),
            format!(r#"[{{"response":{{"data":{{{data}}}}}}}]"#),
            format!("\u{feff}{{\"response\":{{\"data\":{{{data}}}}}}}"),
            r#"{"response":{"code":"SUCCESS"}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a\/b","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":"1","refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":01,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1.0,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1e3,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":-1,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1001,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":99999999999999999999,"refreshExpiresIn":2}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2,"tokenType":""}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2,"tokenType":7}}}"#.to_owned(),
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2"#.to_owned(),
            r#"{"response":{}}"#.to_owned(),
            r#"{}"#.to_owned(),
            String::new(),
        ];
        for body in cases {
            assert_eq!(scan(&body), None, "{body}");
        }
    }
}
