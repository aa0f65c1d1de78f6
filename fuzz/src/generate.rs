//! The structure-aware generator: a JSON tree shaped like (and often unlike) the
//! envelopes, from fuzz input.
//!
//! Nested `response`, `data`, `errors` and `messages` of random types; numbers kept as
//! text (huge integers, negative ones, `-0`, floats, exponents); digit and near-digit
//! strings in the lifetime fields; unicode and control characters in tokens; escaped
//! keys; extra fields at every level; random whitespace. Every shape of error entries
//! seen in the wild: `errors` as a list or one object, the older `messages`, entries
//! under `data`. Codes missing or `null` beside a pair, `ACCEPTED`, error codes on a
//! 2xx.
//!
//! Corners where a `serde_json::Value` walk cannot see what the parser sees are not
//! generated: duplicate keys (a `Value` keeps the last; the parser refuses the
//! envelope), numbers beyond the f64 range and lone surrogates (a `Value` refuses them;
//! the parser skips them inside ignored fields), and nesting beyond serde_json's
//! recursion limit.

use std::fmt;

use arbitrary::{Arbitrary, Result, Unstructured};
use http::StatusCode;
use smartling_auth_core::api::MAX_LIFETIME;

use crate::json::{Escape, JStr, Json, s, serialise};

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
            "messages",
            "key",
            "message",
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
    } else if u.ratio(1, 4)? {
        "ACCEPTED".to_owned()
    } else if u.ratio(7, 8)? {
        u.choose(&CODES)?.to_string()
    } else {
        any_string(u)?
    };
    Ok(Json::Str(jstr(u, text)?))
}

/// Codes: the success ones, near misses, every documented error code, a new one.
pub const CODES: [&str; 20] = [
    "SUCCESS",
    "ACCEPTED",
    "ACCEPTED",
    "success",
    "SUCCESS ",
    "Accepted",
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
];

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

/// `errors`: a list of entries, or one entry (Smartling's spec shows an object).
fn errors(u: &mut Unstructured<'_>) -> Result<Json> {
    // The list first: an exhausted input picks it (`ratio` is true when exhausted).
    if u.ratio(3, 4)? {
        return entry_list(u);
    }
    error_entry(u)
}

fn entry_list(u: &mut Unstructured<'_>) -> Result<Json> {
    let n = u.int_in_range(0..=3)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(error_entry(u)?);
    }
    Ok(Json::Arr(items))
}

/// The older `messages`: a list of strings (or entries), or one string.
fn messages(u: &mut Unstructured<'_>) -> Result<Json> {
    let one = |u: &mut Unstructured<'_>| -> Result<Json> {
        if u.ratio(3, 4)? {
            let t = any_string(u)?;
            return Ok(Json::Str(jstr(u, t)?));
        }
        error_entry(u)
    };
    if !u.ratio(3, 4)? {
        return one(u);
    }
    let n = u.int_in_range(0..=3)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(one(u)?);
    }
    Ok(Json::Arr(items))
}

/// `data` of an error answer: entries alone or in a list, or `errors` or `messages`
/// inside it.
fn error_data(u: &mut Unstructured<'_>) -> Result<Json> {
    Ok(match u.int_in_range(0..=3)? {
        0 => error_entry(u)?,
        1 => entry_list(u)?,
        2 => {
            let mut entries = Vec::new();
            push(&mut entries, "errors", slot(u, errors)?);
            extras(u, &mut entries)?;
            object(u, entries)?
        }
        _ => {
            let mut entries = Vec::new();
            push(&mut entries, "messages", slot(u, messages)?);
            extras(u, &mut entries)?;
            object(u, entries)?
        }
    })
}

fn response_object(u: &mut Unstructured<'_>) -> Result<Json> {
    let mut entries = Vec::new();
    // Missing and `null` codes are as common as the other shapes together: a complete
    // pair without a code is accepted, and that path needs exercising.
    let code = match u.int_in_range(0..=15)? {
        0..=11 => Some(code(u)?),
        12 => None,
        13 => Some(Json::Null),
        _ => slot(u, code)?,
    };
    push(&mut entries, "code", code);
    let data = if u.ratio(5, 6)? {
        slot(u, data)?
    } else {
        slot(u, error_data)?
    };
    push(&mut entries, "data", data);
    push(&mut entries, "errors", slot(u, errors)?);
    if !u.ratio(3, 4)? {
        push(&mut entries, "messages", slot(u, messages)?);
    }
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

/// The 2xx statuses an input is parsed under.
pub const OK_STATUSES: [u16; 8] = [200, 201, 202, 203, 204, 206, 226, 299];
/// The other statuses an input is parsed under.
pub const ERR_STATUSES: [u16; 16] = [
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

/// One input of the structure-aware target: an envelope's text, parsed once under a
/// 2xx and once under an error status.
pub struct Input {
    /// The JSON text.
    pub body: String,
    /// The 2xx it is parsed under.
    pub ok_status: StatusCode,
    /// The error status it is parsed under.
    pub err_status: StatusCode,
    /// A `Retry-After` sent with both.
    pub retry_after: Option<&'static str>,
    /// Whether a `Date` header is sent with both.
    pub date: bool,
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
