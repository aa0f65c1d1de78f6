//! Structure-aware: a JSON tree shaped like (and often unlike) the envelopes, parsed at a
//! 2xx and at a non-2xx status, against an independent oracle.
//!
//! The tree is generated from the fuzz input: nested `response`, `data` and `errors` of
//! random types, numbers kept as text (huge integers, negative ones, `-0`, floats,
//! exponents), digit strings and near-digit strings in the lifetime fields,
//! unicode and control characters in tokens, escaped keys, extra fields at every level,
//! random whitespace. It is serialised, then parsed by `parse_token_response`.
//!
//! The oracle reads the same text into a plain `serde_json::Value` and walks it by the
//! rules of the API doc and of `response.rs`:
//! - the top level and `response` must be objects; on a 2xx `code` must be the string
//!   `SUCCESS` and `data` an object;
//! - tokens are non-empty visible ASCII (0x21..=0x7e); `tokenType` missing or null means
//!   `Bearer` (any case of `bearer` is `Bearer`);
//! - lifetimes are a JSON integer or a string of ASCII digits, 0..=MAX_LIFETIME seconds;
//!   a negative one is `Negative`, one above the maximum `TooLarge`, a non-integer number
//!   (or a string of digits and dots) `Fractional`, an empty string `Empty`, any other
//!   string `NotDigits`; missing or null is `Missing`, other types `WrongType`;
//! - fields are checked in the order accessToken, refreshToken, expiresIn,
//!   refreshExpiresIn, tokenType, and the first bad one is reported;
//! - unknown fields are ignored;
//! - a non-2xx answer is an `Error::Api` with the code and every `errors` entry when it
//!   is an envelope with a string code, else `UnexpectedResponse` naming what is missing.
//!
//! Corners where a `Value` walk cannot see what the parser sees are not generated:
//! duplicate keys (a `Value` keeps the last; the parser refuses the envelope), numbers
//! beyond the f64 range and lone surrogates (a `Value` refuses them; the parser skips
//! them inside ignored fields), and nesting beyond serde_json's recursion limit.

#![no_main]
#![forbid(unsafe_code)]

use std::fmt;

use arbitrary::{Arbitrary, Result, Unstructured};
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use smartling_auth_core::{
    DEFAULT_MAX_BODY, Error, ErrorCode, ErrorEntry, FieldProblem, MAX_LIFETIME, Malformed,
    TokenPair, parse_token_response,
};
use smartling_auth_fuzz::{DATE, check_result, header_safe, response};

// ---------------------------------------------------------------------------------------
// The tree and its serialisation
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
enum Json {
    Null,
    Bool(bool),
    /// A number as its JSON text, always valid number syntax.
    Num(String),
    Str(JStr),
    Arr(Vec<Json>),
    /// Keys are unique (see [`object`]).
    Obj(Vec<(JStr, Json)>),
}

#[derive(Clone)]
struct JStr {
    text: String,
    escape: Escape,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// Only what JSON requires.
    Minimal,
    /// Non-ASCII as `\uXXXX` (surrogate pairs above the BMP).
    NonAscii,
    /// Every character as `\uXXXX`.
    All,
    /// `/` as `\/` and the short escapes.
    Solidus,
}

fn s(text: impl Into<String>) -> JStr {
    JStr {
        text: text.into(),
        escape: Escape::Minimal,
    }
}

struct Writer<'a> {
    out: String,
    ws: &'a [u8],
    n: usize,
}

impl Writer<'_> {
    fn ws(&mut self) {
        if self.ws.is_empty() {
            return;
        }
        let w = self.ws[self.n % self.ws.len()];
        self.n += 1;
        self.out.push_str(match w % 8 {
            0..=2 => "",
            3 => " ",
            4 => "\n",
            5 => "\t",
            6 => "\r\n",
            _ => "  ",
        });
    }

    fn value(&mut self, j: &Json) {
        self.ws();
        match j {
            Json::Null => self.out.push_str("null"),
            Json::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => self.out.push_str(n),
            Json::Str(s) => self.string(s),
            Json::Arr(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.value(item);
                }
                self.ws();
                self.out.push(']');
            }
            Json::Obj(entries) => {
                self.out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.ws();
                    self.string(k);
                    self.ws();
                    self.out.push(':');
                    self.value(v);
                }
                self.ws();
                self.out.push('}');
            }
        }
        self.ws();
    }

    fn string(&mut self, s: &JStr) {
        use std::fmt::Write;
        self.out.push('"');
        for c in s.text.chars() {
            let all = s.escape == Escape::All;
            match c {
                '"' if !all => self.out.push_str("\\\""),
                '\\' if !all => self.out.push_str("\\\\"),
                '/' if s.escape == Escape::Solidus => self.out.push_str("\\/"),
                '\n' if s.escape == Escape::Solidus => self.out.push_str("\\n"),
                '\t' if s.escape == Escape::Solidus => self.out.push_str("\\t"),
                '\r' if s.escape == Escape::Solidus => self.out.push_str("\\r"),
                '\u{8}' if s.escape == Escape::Solidus => self.out.push_str("\\b"),
                '\u{c}' if s.escape == Escape::Solidus => self.out.push_str("\\f"),
                c if all
                    || (c as u32) < 0x20
                    || (s.escape == Escape::NonAscii && !c.is_ascii()) =>
                {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        // Alternate the hex case: both are valid.
                        if self.out.len().is_multiple_of(2) {
                            let _ = write!(self.out, "\\u{unit:04x}");
                        } else {
                            let _ = write!(self.out, "\\u{unit:04X}");
                        }
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

fn serialise(j: &Json, ws: &[u8]) -> String {
    let mut w = Writer {
        out: String::new(),
        ws,
        n: 0,
    };
    w.value(j);
    w.out
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

const MAX: u64 = MAX_LIFETIME.as_secs();

/// An object from entries, in an order drawn from the input, with later duplicate keys
/// dropped (a `Value` and the parser disagree on duplicates; see the module docs).
fn object(u: &mut Unstructured<'_>, mut entries: Vec<(JStr, Json)>) -> Result<Json> {
    for i in (1..entries.len()).rev() {
        let j = u.int_in_range(0..=i)?;
        entries.swap(i, j);
    }
    let mut seen = std::collections::HashSet::new();
    entries.retain(|(k, _)| seen.insert(k.text.clone()));
    Ok(Json::Obj(entries))
}

fn escape(u: &mut Unstructured<'_>) -> Result<Escape> {
    Ok(match u.int_in_range(0..=7)? {
        0..=3 => Escape::Minimal,
        4 | 5 => Escape::NonAscii,
        6 => Escape::All,
        _ => Escape::Solidus,
    })
}

fn jstr(u: &mut Unstructured<'_>, text: String) -> Result<JStr> {
    Ok(JStr {
        text,
        escape: escape(u)?,
    })
}

fn digits(u: &mut Unstructured<'_>, min: usize, max: usize) -> Result<String> {
    let len = u.int_in_range(min..=max)?;
    let mut out = String::with_capacity(len);
    for i in 0..len {
        let lo = if i == 0 { b'1' } else { b'0' };
        out.push(char::from(u.int_in_range(lo..=b'9')?));
    }
    if out.is_empty() {
        out.push('0');
    }
    Ok(out)
}

/// A JSON number as text; always valid syntax, always within the f64 range.
fn number(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=11)? {
        0 => u.int_in_range(0..=4000u64)?.to_string(),
        1 => u.int_in_range(0..=2 * MAX)?.to_string(),
        2 => u64::arbitrary(u)?.to_string(),
        3 => u
            .choose(&[
                "0",
                "1",
                "29",
                "30",
                "31",
                "480",
                "3660",
                "31622399",
                "31622400",
                "31622401",
                "4294967295",
                "9223372036854775807",
                "9223372036854775808",
                "18446744073709551615",
                "18446744073709551616",
            ])?
            .to_string(),
        4 => format!("-{}", u.int_in_range(1..=u64::MAX)?),
        5 => u
            .choose(&["-0", "-0.0", "0.0", "480.0", "-1", "-480"])?
            .to_string(),
        6 => {
            let f = f64::from_bits(u64::arbitrary(u)?);
            if f.is_finite() {
                format!("{f:?}")
            } else {
                "1.5".to_owned()
            }
        }
        7 => format!("{}.{}", u.int_in_range(0..=2 * MAX)?, digits(u, 1, 6)?),
        8 => {
            let mantissa =
                u.choose(&["0", "1", "4.8", "48", "3.66", "-4.8", "9.99", "31622400"])?;
            let e = u.choose(&["e", "E"])?;
            let sign = u.choose(&["", "+", "-"])?;
            format!("{mantissa}{e}{sign}{}", u.int_in_range(0..=30)?)
        }
        9 => digits(u, 20, 40)?,
        10 => format!("-{}", digits(u, 19, 40)?),
        _ => u.int_in_range(0..=MAX + 1)?.to_string(),
    })
}

/// Any string: unicode, control characters, whatever the input holds.
fn any_string(u: &mut Unstructured<'_>) -> Result<String> {
    let len = u.int_in_range(0..=24)?;
    let mut out = String::new();
    for _ in 0..len {
        out.push(match u.int_in_range(0..=9)? {
            0..=5 => char::from(u.int_in_range(0x20u8..=0x7e)?),
            6 => char::from(u.int_in_range(0u8..=0x1f)?),
            7 => u
                .choose(&[
                    '\u{7f}', '\u{80}', 'é', '\u{a0}', '\u{2028}', '\u{202e}', '\u{feff}',
                ])?
                .to_owned(),
            8 => u
                .choose(&['😀', '𝄞', '中', 'ß', '\u{10ffff}', '\u{fffd}'])?
                .to_owned(),
            _ => char::arbitrary(u)?,
        });
    }
    Ok(out)
}

fn any_json(u: &mut Unstructured<'_>, depth: u32) -> Result<Json> {
    let top = if depth == 0 { 3 } else { 5 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Json::Null,
        1 => Json::Bool(bool::arbitrary(u)?),
        2 => Json::Num(number(u)?),
        3 => {
            let t = any_string(u)?;
            Json::Str(jstr(u, t)?)
        }
        4 => {
            let n = u.int_in_range(0..=3)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(any_json(u, depth - 1)?);
            }
            Json::Arr(items)
        }
        _ => {
            let n = u.int_in_range(0..=3)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                entries.push((key(u)?, any_json(u, depth - 1)?));
            }
            object(u, entries)?
        }
    })
}

/// A key for an extra field: near misses of the real names, and anything else. A key
/// that happens to be a real name is kept (duplicates are dropped, not mis-generated).
fn key(u: &mut Unstructured<'_>) -> Result<JStr> {
    let text = if u.ratio(2, 3)? {
        u.choose(&[
            "AccessToken",
            "access_token",
            "accesstoken",
            "accessToken ",
            "expires_in",
            "ExpiresIn",
            "expiresin",
            "token_type",
            "Response",
            "RESPONSE",
            "Code",
            "DATA",
            "Errors",
            "meta",
            "status",
            "",
            "response",
            "code",
            "data",
            "errors",
            "accessToken",
            "expiresIn",
            "tokenType",
        ])?
        .to_string()
    } else {
        any_string(u)?
    };
    jstr(u, text)
}

/// A field: missing (`None`), null, the right shape, or anything.
fn slot(
    u: &mut Unstructured<'_>,
    good: impl FnOnce(&mut Unstructured<'_>) -> Result<Json>,
) -> Result<Option<Json>> {
    // The right shape comes first: an exhausted input picks it, so short inputs (where
    // libFuzzer starts) are envelopes rather than empty objects.
    Ok(match u.int_in_range(0..=19)? {
        0..=16 => Some(good(u)?),
        17 => None,
        18 => Some(Json::Null),
        _ => Some(any_json(u, 2)?),
    })
}

fn visible_ascii(u: &mut Unstructured<'_>, min: usize, max: usize) -> Result<String> {
    let len = u.int_in_range(min..=max)?;
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(u.int_in_range(0x21u8..=0x7e)?));
    }
    Ok(out)
}

fn token(u: &mut Unstructured<'_>) -> Result<Json> {
    let text = match u.int_in_range(0..=12)? {
        0..=7 => visible_ascii(u, 1, 48)?,
        8 => format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.{}",
            visible_ascii(u, 1, 16)?,
            visible_ascii(u, 1, 16)?
        ),
        9 => String::new(),
        10 => any_string(u)?,
        _ => {
            let mut t = visible_ascii(u, 0, 24)?;
            let bad = *u.choose(&[
                ' ', '\t', '\n', '\0', '\u{7f}', '\u{80}', 'é', '\u{a0}', '😀',
            ])?;
            let at = u.int_in_range(0..=t.len())?;
            t.insert(at, bad);
            t
        }
    };
    Ok(Json::Str(jstr(u, text)?))
}

fn lifetime(u: &mut Unstructured<'_>) -> Result<Json> {
    if u.ratio(1, 2)? {
        return Ok(Json::Num(number(u)?));
    }
    let text = match u.int_in_range(0..=8)? {
        0 | 1 => u.int_in_range(0..=2 * MAX)?.to_string(),
        2 => format!(
            "{}{}",
            "0".repeat(u.int_in_range(1..=4)?),
            u.int_in_range(0..=4000u32)?
        ),
        3 => format!("-{}", u.int_in_range(0..=u64::MAX)?),
        4 => format!("{}.{}", u.int_in_range(0..=4000u32)?, digits(u, 0, 4)?),
        5 => digits(u, 19, 40)?,
        6 => any_string(u)?,
        _ => u
            .choose(&[
                "",
                " 480",
                "480 ",
                "+480",
                "4.8e2",
                "0x1E0",
                "480s",
                "٤٨٠",
                "４８０",
                "-",
                ".",
                "1.",
                ".5",
                "1.2.3",
                "-1.5",
                "--1",
                "NaN",
                "Infinity",
                "null",
                "31622400",
                "31622401",
                "18446744073709551616",
            ])?
            .to_string(),
    };
    Ok(Json::Str(jstr(u, text)?))
}

fn token_type(u: &mut Unstructured<'_>) -> Result<Json> {
    let text = if u.ratio(3, 4)? {
        u.choose(&[
            "Bearer",
            "bearer",
            "BEARER",
            "bEaReR",
            "MAC",
            "DPoP",
            "",
            "Bearer ",
            "Bear\u{e9}r",
        ])?
        .to_string()
    } else {
        any_string(u)?
    };
    Ok(Json::Str(jstr(u, text)?))
}

fn extras(u: &mut Unstructured<'_>, entries: &mut Vec<(JStr, Json)>) -> Result<()> {
    let n = u.int_in_range(0..=2)?;
    for _ in 0..n {
        entries.push((key(u)?, any_json(u, 2)?));
    }
    Ok(())
}

fn push(entries: &mut Vec<(JStr, Json)>, name: &str, value: Option<Json>) {
    if let Some(v) = value {
        entries.push((s(name), v));
    }
}

fn data(u: &mut Unstructured<'_>) -> Result<Json> {
    let mut entries = Vec::new();
    push(&mut entries, "accessToken", slot(u, token)?);
    push(&mut entries, "refreshToken", slot(u, token)?);
    push(&mut entries, "expiresIn", slot(u, lifetime)?);
    push(&mut entries, "refreshExpiresIn", slot(u, lifetime)?);
    push(&mut entries, "tokenType", slot(u, token_type)?);
    extras(u, &mut entries)?;
    // Sometimes spell a real key with escapes: it is still that key.
    for (k, _) in &mut entries {
        k.escape = escape(u)?;
    }
    object(u, entries)
}

fn code(u: &mut Unstructured<'_>) -> Result<Json> {
    let text = if u.ratio(2, 3)? {
        "SUCCESS".to_owned()
    } else if u.ratio(7, 8)? {
        u.choose(&[
            "SUCCESS",
            "SUCCESS",
            "SUCCESS",
            "success",
            "SUCCESS ",
            "ACCEPTED",
            "",
            "VALIDATION_ERROR",
            "AUTHENTICATION_ERROR",
            "AUTHORIZATION_ERROR",
            "NOT_FOUND_ERROR",
            "RESOURCE_LOCKED",
            "MAX_OPERATIONS_LIMIT_EXCEEDED",
            "GENERAL_ERROR",
            "MAINTENANCE_MODE_ERROR",
            "ACCESS_DENIED_ERROR",
            "SERVICE_BUSY",
            "CONFLICT",
            "GONE",
            "NEW_CODE",
        ])?
        .to_string()
    } else {
        any_string(u)?
    };
    Ok(Json::Str(jstr(u, text)?))
}

fn error_entry(u: &mut Unstructured<'_>) -> Result<Json> {
    if !u.ratio(4, 5)? {
        return any_json(u, 2);
    }
    let text = |u: &mut Unstructured<'_>| -> Result<Json> {
        let t = any_string(u)?;
        Ok(Json::Str(jstr(u, t)?))
    };
    let mut entries = Vec::new();
    push(&mut entries, "key", slot(u, text)?);
    push(&mut entries, "message", slot(u, text)?);
    push(
        &mut entries,
        "details",
        slot(u, |u| {
            let mut d = Vec::new();
            if u.ratio(1, 2)? {
                let id = visible_ascii(u, 1, 12)?;
                d.push((s("errorId"), Json::Str(s(id))));
            }
            extras(u, &mut d)?;
            object(u, d)
        })?,
    );
    extras(u, &mut entries)?;
    object(u, entries)
}

fn errors(u: &mut Unstructured<'_>) -> Result<Json> {
    let n = u.int_in_range(0..=3)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(error_entry(u)?);
    }
    Ok(Json::Arr(items))
}

fn response_object(u: &mut Unstructured<'_>) -> Result<Json> {
    let mut entries = Vec::new();
    push(&mut entries, "code", slot(u, code)?);
    push(&mut entries, "data", slot(u, data)?);
    push(&mut entries, "errors", slot(u, errors)?);
    extras(u, &mut entries)?;
    object(u, entries)
}

fn envelope(u: &mut Unstructured<'_>) -> Result<Json> {
    if !u.ratio(11, 12)? {
        return any_json(u, 3);
    }
    let mut entries = Vec::new();
    push(&mut entries, "response", slot(u, response_object)?);
    extras(u, &mut entries)?;
    object(u, entries)
}

// ---------------------------------------------------------------------------------------
// The input
// ---------------------------------------------------------------------------------------

const OK_STATUSES: [u16; 8] = [200, 201, 202, 203, 204, 206, 226, 299];
const ERR_STATUSES: [u16; 16] = [
    400, 401, 403, 404, 408, 409, 423, 429, 500, 502, 503, 504, 100, 301, 418, 599,
];
const RETRY_AFTERS: [&str; 7] = [
    "0",
    "7",
    "120",
    "99999999999999999999999",
    "Wed, 21 Oct 2015 07:28:30 GMT",
    "soon",
    "-1",
];

struct Input {
    body: String,
    ok_status: StatusCode,
    err_status: StatusCode,
    retry_after: Option<&'static str>,
    date: bool,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let ok_status = StatusCode::from_u16(*u.choose(&OK_STATUSES)?).expect("valid");
        let err_status = StatusCode::from_u16(*u.choose(&ERR_STATUSES)?).expect("valid");
        let retry_after = if u.ratio(1, 3)? {
            Some(*u.choose(&RETRY_AFTERS)?)
        } else {
            None
        };
        let date = bool::arbitrary(u)?;
        let ws_len = u.int_in_range(0..=8)?;
        let ws = u.bytes(ws_len)?.to_vec();
        let tree = envelope(u)?;
        Ok(Input {
            body: serialise(&tree, &ws),
            ok_status,
            err_status,
            retry_after,
            date,
        })
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("ok_status", &self.ok_status)
            .field("err_status", &self.err_status)
            .field("retry_after", &self.retry_after)
            .field("date", &self.date)
            .finish()?;
        write!(f, "\nbody: {}", self.body)
    }
}

// ---------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MalformedKind {
    NotEnvelope,
    MissingCode,
    UnexpectedCode,
    MissingData,
}

#[derive(Debug)]
enum Success {
    Pair {
        access: String,
        refresh: String,
        expires_in: u64,
        refresh_expires_in: u64,
        token_type: String,
    },
    Malformed(MalformedKind),
    Field(&'static str, FieldProblem),
}

#[derive(Debug)]
enum Failure {
    Unexpected(&'static str),
    Api {
        code: String,
        errors: Vec<ErrorEntry>,
    },
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A token: a non-empty string of visible ASCII.
fn expect_token(v: Option<&Value>) -> std::result::Result<String, FieldProblem> {
    match v {
        None | Some(Value::Null) => Err(FieldProblem::Missing),
        Some(Value::String(s)) if s.is_empty() => Err(FieldProblem::Empty),
        Some(Value::String(s)) if header_safe(s) => Ok(s.clone()),
        Some(Value::String(_)) => Err(FieldProblem::InvalidCharacters),
        Some(other) => Err(FieldProblem::WrongType { found: kind(other) }),
    }
}

/// A lifetime: a JSON integer or a string of ASCII digits, at most `MAX` seconds.
fn expect_lifetime(v: Option<&Value>) -> std::result::Result<u64, FieldProblem> {
    let too_large = FieldProblem::TooLarge { max_secs: MAX };
    let secs = match v {
        None | Some(Value::Null) => return Err(FieldProblem::Missing),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_u64() {
                secs
            } else if n.as_i64().is_some() {
                return Err(FieldProblem::Negative);
            } else {
                // Not an integer a `Value` can hold: a fraction, an exponent, `-0`, or an
                // integer beyond 64 bits.
                let f = n.as_f64().expect("a number is an f64 when not an integer");
                return Err(if f < 0.0 {
                    FieldProblem::Negative
                } else if f > MAX as f64 {
                    too_large
                } else {
                    FieldProblem::Fractional
                });
            }
        }
        Some(Value::String(s)) => {
            let is_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            if s.is_empty() {
                return Err(FieldProblem::Empty);
            } else if is_digits(s) {
                let significant = s.trim_start_matches('0');
                if significant.len() > 8 {
                    return Err(too_large); // more than 8 digits is above 31_622_400
                }
                significant.parse::<u64>().unwrap_or(0)
            } else if s.strip_prefix('-').is_some_and(is_digits) {
                return Err(FieldProblem::Negative);
            } else if s.contains('.') && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(FieldProblem::Fractional);
            } else {
                return Err(FieldProblem::NotDigits);
            }
        }
        Some(other) => return Err(FieldProblem::WrongType { found: kind(other) }),
    };
    if secs > MAX {
        return Err(too_large);
    }
    Ok(secs)
}

fn expect_token_type(v: Option<&Value>) -> std::result::Result<String, FieldProblem> {
    match v {
        None | Some(Value::Null) => Ok("Bearer".to_owned()),
        Some(Value::String(s)) if s.is_empty() => Err(FieldProblem::Empty),
        Some(Value::String(s)) if !header_safe(s) => Err(FieldProblem::InvalidCharacters),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("bearer") => Ok("Bearer".to_owned()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(FieldProblem::WrongType { found: kind(other) }),
    }
}

fn oracle_success(v: &Value) -> Success {
    let Some(response) = v
        .as_object()
        .and_then(|top| top.get("response")?.as_object())
    else {
        return Success::Malformed(MalformedKind::NotEnvelope);
    };
    match response.get("code") {
        Some(Value::String(c)) if c == "SUCCESS" => {}
        Some(Value::String(_)) => return Success::Malformed(MalformedKind::UnexpectedCode),
        _ => return Success::Malformed(MalformedKind::MissingCode),
    }
    let Some(data) = response.get("data").and_then(Value::as_object) else {
        return Success::Malformed(MalformedKind::MissingData);
    };
    let run = || -> std::result::Result<Success, (&'static str, FieldProblem)> {
        let access = expect_token(data.get("accessToken")).map_err(|p| ("accessToken", p))?;
        let refresh = expect_token(data.get("refreshToken")).map_err(|p| ("refreshToken", p))?;
        let expires_in = expect_lifetime(data.get("expiresIn")).map_err(|p| ("expiresIn", p))?;
        let refresh_expires_in =
            expect_lifetime(data.get("refreshExpiresIn")).map_err(|p| ("refreshExpiresIn", p))?;
        let token_type = expect_token_type(data.get("tokenType")).map_err(|p| ("tokenType", p))?;
        Ok(Success::Pair {
            access,
            refresh,
            expires_in,
            refresh_expires_in,
            token_type,
        })
    };
    run().unwrap_or_else(|(field, problem)| Success::Field(field, problem))
}

/// An entry's key or message: a string as it is, missing or null as empty, anything
/// else as its JSON text.
fn entry_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

fn oracle_failure(v: &Value) -> Failure {
    let Some(top) = v.as_object() else {
        return Failure::Unexpected("not an error envelope");
    };
    let Some(response) = top.get("response").and_then(Value::as_object) else {
        return Failure::Unexpected("no `response` object");
    };
    let Some(Value::String(code)) = response.get("code") else {
        return Failure::Unexpected("no `response.code`");
    };
    let errors = match response.get("errors") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => ErrorEntry::new(
                    entry_text(map.get("key")),
                    entry_text(map.get("message")),
                    map.get("details").cloned().unwrap_or(Value::Null),
                ),
                other => ErrorEntry::new("", other.to_string(), Value::Null),
            })
            .collect(),
        _ => Vec::new(),
    };
    Failure::Api {
        code: code.clone(),
        errors,
    }
}

fn malformed_kind(m: &Malformed) -> Option<MalformedKind> {
    Some(match m {
        Malformed::NotEnvelope => MalformedKind::NotEnvelope,
        Malformed::MissingCode => MalformedKind::MissingCode,
        Malformed::UnexpectedCode(_) => MalformedKind::UnexpectedCode,
        Malformed::MissingData => MalformedKind::MissingData,
        _ => return None,
    })
}

fn compare_success(input: &Input, expected: &Success, got: &std::result::Result<TokenPair, Error>) {
    let agrees = match (expected, got) {
        (
            Success::Pair {
                access,
                refresh,
                expires_in,
                refresh_expires_in,
                token_type,
            },
            Ok(p),
        ) => {
            p.access_token.secret() == access
                && p.refresh_token.secret() == refresh
                && p.expires_in.as_secs() == *expires_in
                && p.expires_in.subsec_nanos() == 0
                && p.refresh_expires_in.as_secs() == *refresh_expires_in
                && p.refresh_expires_in.subsec_nanos() == 0
                && p.token_type.as_str() == token_type
        }
        (Success::Malformed(kind), Err(Error::MalformedSuccess { problem, .. })) => {
            malformed_kind(problem) == Some(*kind)
        }
        (
            Success::Field(field, problem),
            Err(Error::InvalidField {
                field: f,
                problem: p,
                ..
            }),
        ) => field == f && problem == p,
        _ => false,
    };
    assert!(
        agrees,
        "at {}: the oracle expects {expected:?}, the parser gave {got:?}\n{input:?}",
        input.ok_status
    );
}

fn compare_failure(input: &Input, expected: &Failure, got: &std::result::Result<TokenPair, Error>) {
    let agrees = match (expected, got) {
        (Failure::Unexpected(problem), Err(Error::UnexpectedResponse { problem: p, .. })) => {
            problem == p
        }
        (Failure::Api { code, errors }, Err(Error::Api(api))) => {
            api.code.as_str() == code
                && api.code == ErrorCode::from(code.as_str())
                && api.errors == *errors
        }
        _ => false,
    };
    assert!(
        agrees,
        "at {}: the oracle expects {expected:?}, the parser gave {got:?}\n{input:?}",
        input.err_status
    );
}

/// `SMARTLING_FUZZ_DEBUG=1` prints each input's expected outcomes, to check what the
/// generator reaches: `.../parse_envelope_json -runs=0 fuzz/corpus/parse_envelope_json`.
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("SMARTLING_FUZZ_DEBUG").is_some())
}

fn outcome(s: &Success) -> String {
    match s {
        Success::Pair { .. } => "Ok".to_owned(),
        Success::Malformed(k) => format!("{k:?}"),
        Success::Field(f, p) => format!("{f} {p:?}"),
    }
}

fuzz_target!(|input: Input| {
    let body = input.body.as_bytes();
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => panic!("the generator wrote invalid JSON ({e})\n{input:?}"),
    };
    let too_large = body.len() > DEFAULT_MAX_BODY;
    let date = input.date.then_some(DATE.as_bytes());
    let retry_after = input.retry_after.map(str::as_bytes);

    let ok = response(input.ok_status, retry_after, date, body.to_vec());
    let got = parse_token_response(&ok);
    check_result(ok.status(), ok.headers(), &got);
    if too_large {
        assert!(matches!(got, Err(Error::BodyTooLarge { .. })), "{got:?}");
    } else {
        let expected = oracle_success(&value);
        if debug() {
            eprintln!("outcome-2xx: {}", outcome(&expected));
        }
        compare_success(&input, &expected, &got);
    }

    let err = response(input.err_status, retry_after, date, body.to_vec());
    let got = parse_token_response(&err);
    check_result(err.status(), err.headers(), &got);
    if too_large {
        assert!(matches!(got, Err(Error::BodyTooLarge { .. })), "{got:?}");
    } else {
        let expected = oracle_failure(&value);
        if debug() {
            let shown = match &expected {
                Failure::Unexpected(p) => p.to_string(),
                Failure::Api { errors, .. } => format!("Api, {} entries", errors.len()),
            };
            eprintln!("outcome-err: {shown}");
        }
        compare_failure(&input, &expected, &got);
    }
});
