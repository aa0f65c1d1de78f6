//! The independent oracle: what the parser must answer, read from a plain
//! `serde_json::Value` of the same text by the rules of the API reference and of
//! `crates/core/src/response.rs`, written out again here without sharing its code.
//!
//! On a 2xx:
//! - the top level and `response` must be objects (else `NotEnvelope`);
//! - a `code` of `SUCCESS` or `ACCEPTED` needs `data` to be an object (else
//!   `MissingData`), which is then read as a pair;
//! - no `code` (missing or `null`): a `data` object is read as a pair; no `data` object
//!   is `MissingCode`;
//! - any other string `code` is the API error it says (with the entries, as on an error
//!   status) when it is a known error code or comes with entries, else `UnexpectedCode`;
//!   a `code` of any other type is `MissingCode`;
//! - a pair: tokens are non-empty visible ASCII (0x21..=0x7e); `tokenType` missing or
//!   null means `Bearer` (any case of `bearer` is `Bearer`); lifetimes are a JSON
//!   integer or a string of ASCII digits, 0..=MAX_LIFETIME seconds; a negative one is
//!   `Negative`, one above the maximum `TooLarge`, a non-integer number (or a string of
//!   digits and dots) `Fractional`, an empty string `Empty`, any other string
//!   `NotDigits`; missing or null is `Missing`, other types `WrongType`; fields are
//!   checked in the order accessToken, refreshToken, expiresIn, refreshExpiresIn,
//!   tokenType, and the first bad one is reported; unknown fields are ignored.
//!
//! On any other status, an envelope with a string `code` is an `Error::Api` with that
//! code and its entries, else `UnexpectedResponse` naming what is missing. Entries come
//! from the first of these that holds any: `errors` (a list: every item; one object:
//! an entry unless empty), `messages` (a list or one item; strings are messages),
//! `data` (`errors` or `messages` inside it, or an object with a `key` or `message`,
//! alone or in a list).

use serde_json::{Map, Value};
use smartling_auth_core::{
    Error, error::ErrorCode, error::ErrorEntry, error::FieldProblem, api::MAX_LIFETIME, error::Malformed, TokenPair,
};

use crate::answer::header_safe;
use crate::generate::Input;

const MAX: u64 = MAX_LIFETIME.as_secs();

/// The kind of a `Malformed`, without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// `Malformed::NotEnvelope`.
    NotEnvelope,
    /// `Malformed::MissingCode`.
    MissingCode,
    /// `Malformed::UnexpectedCode`.
    UnexpectedCode,
    /// `Malformed::MissingData`.
    MissingData,
}

/// What the parser must answer under a 2xx.
#[derive(Debug, PartialEq)]
pub enum Success {
    /// This pair.
    Pair {
        /// The access token.
        access: String,
        /// The refresh token.
        refresh: String,
        /// `expiresIn`, in seconds.
        expires_in: u64,
        /// `refreshExpiresIn`, in seconds.
        refresh_expires_in: u64,
        /// The token type, normalised.
        token_type: String,
    },
    /// `Error::MalformedSuccess` of this kind.
    Malformed(MalformedKind),
    /// `Error::InvalidField` with this field and problem.
    Field(&'static str, FieldProblem),
    /// `Error::Api` with this code and these entries: an error code on a 2xx.
    Api {
        /// The code.
        code: String,
        /// The entries.
        errors: Vec<ErrorEntry>,
    },
}

/// What the parser must answer under an error status.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// `Error::UnexpectedResponse` with this problem.
    Unexpected(&'static str),
    /// `Error::Api` with this code and these entries.
    Api {
        /// The code.
        code: String,
        /// The entries.
        errors: Vec<ErrorEntry>,
    },
}

/// The error codes the API documents or the official SDKs name.
const KNOWN_CODES: [&str; 12] = [
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
];

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
pub fn expect_token(v: Option<&Value>) -> std::result::Result<String, FieldProblem> {
    match v {
        None | Some(Value::Null) => Err(FieldProblem::Missing),
        Some(Value::String(s)) if s.is_empty() => Err(FieldProblem::Empty),
        Some(Value::String(s)) if header_safe(s) => Ok(s.clone()),
        Some(Value::String(_)) => Err(FieldProblem::InvalidCharacters),
        Some(other) => Err(FieldProblem::WrongType { found: kind(other) }),
    }
}

/// A lifetime: a JSON integer or a string of ASCII digits, at most `MAX` seconds.
pub fn expect_lifetime(v: Option<&Value>) -> std::result::Result<u64, FieldProblem> {
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

/// A token type: missing or null is `Bearer`, any case of `bearer` is `Bearer`.
pub fn expect_token_type(v: Option<&Value>) -> std::result::Result<String, FieldProblem> {
    match v {
        None | Some(Value::Null) => Ok("Bearer".to_owned()),
        Some(Value::String(s)) if s.is_empty() => Err(FieldProblem::Empty),
        Some(Value::String(s)) if !header_safe(s) => Err(FieldProblem::InvalidCharacters),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("bearer") => Ok("Bearer".to_owned()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(FieldProblem::WrongType { found: kind(other) }),
    }
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

/// The answer the parser must give to `v` under a 2xx.
pub fn oracle_success(v: &Value) -> Success {
    let Some(response) = v
        .as_object()
        .and_then(|top| top.get("response")?.as_object())
    else {
        return Success::Malformed(MalformedKind::NotEnvelope);
    };
    let data = match response.get("code") {
        Some(Value::String(c)) if c == "SUCCESS" || c == "ACCEPTED" => {
            match response.get("data").and_then(Value::as_object) {
                Some(data) => data,
                None => return Success::Malformed(MalformedKind::MissingData),
            }
        }
        None | Some(Value::Null) => match response.get("data").and_then(Value::as_object) {
            Some(data) => data,
            None => return Success::Malformed(MalformedKind::MissingCode),
        },
        Some(Value::String(code)) => {
            let errors = entries(response);
            if errors.is_empty() && !KNOWN_CODES.contains(&code.as_str()) {
                return Success::Malformed(MalformedKind::UnexpectedCode);
            }
            return Success::Api {
                code: code.clone(),
                errors,
            };
        }
        Some(_) => return Success::Malformed(MalformedKind::MissingCode),
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

/// The answer the parser must give to `v` under an error status.
pub fn oracle_failure(v: &Value) -> Failure {
    let Some(top) = v.as_object() else {
        return Failure::Unexpected("not an error envelope");
    };
    let Some(response) = top.get("response").and_then(Value::as_object) else {
        return Failure::Unexpected("no `response` object");
    };
    let Some(Value::String(code)) = response.get("code") else {
        return Failure::Unexpected("no `response.code`");
    };
    Failure::Api {
        code: code.clone(),
        errors: entries(response),
    }
}

/// The entries of a `response` object (see the module docs for where they come from).
pub fn entries(response: &Map<String, Value>) -> Vec<ErrorEntry> {
    let found = list_or_one(response.get("errors"), false);
    if !found.is_empty() {
        return found;
    }
    let found = list_or_one(response.get("messages"), true);
    if !found.is_empty() {
        return found;
    }
    let is_entry = |v: &Value| {
        v.as_object().is_some_and(|m| {
            m.get("key").is_some_and(|k| !k.is_null())
                || m.get("message").is_some_and(|k| !k.is_null())
        })
    };
    match response.get("data") {
        Some(Value::Object(data)) => {
            let inner = list_or_one(data.get("errors"), false);
            if !inner.is_empty() {
                return inner;
            }
            let inner = list_or_one(data.get("messages"), true);
            if !inner.is_empty() {
                return inner;
            }
            let whole = Value::Object(data.clone());
            if is_entry(&whole) {
                vec![entry(&whole, false)]
            } else {
                Vec::new()
            }
        }
        Some(Value::Array(items)) => items
            .iter()
            .filter(|i| is_entry(i))
            .map(|i| entry(i, false))
            .collect(),
        _ => Vec::new(),
    }
}

/// A list (every item an entry), or one item: a non-empty object, or (when strings are
/// messages) a non-empty string.
fn list_or_one(v: Option<&Value>, strings_are_messages: bool) -> Vec<ErrorEntry> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| entry(i, strings_are_messages))
            .collect(),
        Some(Value::Object(m)) if !m.is_empty() => vec![entry(v.expect("some"), false)],
        Some(Value::String(s)) if strings_are_messages && !s.is_empty() => {
            vec![ErrorEntry::new("", s.clone(), Value::Null)]
        }
        _ => Vec::new(),
    }
}

fn entry(item: &Value, strings_are_messages: bool) -> ErrorEntry {
    match item {
        Value::Object(map) => ErrorEntry::new(
            entry_text(map.get("key")),
            entry_text(map.get("message")),
            map.get("details").cloned().unwrap_or(Value::Null),
        ),
        Value::String(s) if strings_are_messages => ErrorEntry::new("", s.clone(), Value::Null),
        other => ErrorEntry::new("", other.to_string(), Value::Null),
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

/// Whether the parser's answer under a 2xx is the oracle's.
pub fn agrees_on_success(expected: &Success, got: &Result<TokenPair, Error>) -> bool {
    match (expected, got) {
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
        (Success::Api { code, errors }, Err(Error::Api(api))) => {
            same_api(code, errors, api) && api.retry_after.is_none()
        }
        _ => false,
    }
}

/// Whether the parser's answer under an error status is the oracle's.
pub fn agrees_on_failure(expected: &Failure, got: &Result<TokenPair, Error>) -> bool {
    match (expected, got) {
        (Failure::Unexpected(problem), Err(Error::UnexpectedResponse { problem: p, .. })) => {
            problem == p
        }
        (Failure::Api { code, errors }, Err(Error::Api(api))) => same_api(code, errors, api),
        _ => false,
    }
}

fn same_api(code: &str, errors: &[ErrorEntry], api: &smartling_auth_core::error::ApiError) -> bool {
    api.code.as_str() == code && api.code == ErrorCode::from(code) && api.errors == errors
}

/// Asserts that the parser agrees with the oracle on `input` under its 2xx.
pub fn compare_success(input: &Input, expected: &Success, got: &Result<TokenPair, Error>) {
    assert!(
        agrees_on_success(expected, got),
        "at {}: the oracle expects {expected:?}, the parser gave {got:?}\n{input:?}",
        input.ok_status
    );
}

/// Asserts that the parser agrees with the oracle on `input` under its error status.
pub fn compare_failure(input: &Input, expected: &Failure, got: &Result<TokenPair, Error>) {
    assert!(
        agrees_on_failure(expected, got),
        "at {}: the oracle expects {expected:?}, the parser gave {got:?}\n{input:?}",
        input.err_status
    );
}

/// A short name of an expected outcome, for `SMARTLING_FUZZ_DEBUG` and the tests.
pub fn outcome(s: &Success) -> String {
    match s {
        Success::Pair { .. } => "Ok".to_owned(),
        Success::Malformed(k) => format!("{k:?}"),
        Success::Field(f, p) => format!("{f} {p:?}"),
        Success::Api { errors, .. } => format!("Api, {} entries", errors.len()),
    }
}

#[cfg(test)]
mod tests {
    //! The oracle against hand-written answers: the documented ones, and each shape of
    //! the answers seen in the wild.

    use super::*;
    use serde_json::json;

    const DATA: &str =
        r#"{"accessToken":"a.b","refreshToken":"r.s","expiresIn":480,"refreshExpiresIn":"3660"}"#;

    fn pair() -> Success {
        Success::Pair {
            access: "a.b".into(),
            refresh: "r.s".into(),
            expires_in: 480,
            refresh_expires_in: 3660,
            token_type: "Bearer".into(),
        }
    }

    fn on_2xx(response: &str) -> Success {
        oracle_success(&serde_json::from_str(&format!(r#"{{"response":{response}}}"#)).unwrap())
    }

    fn on_error(response: &str) -> Failure {
        oracle_failure(&serde_json::from_str(&format!(r#"{{"response":{response}}}"#)).unwrap())
    }

    fn api(code: &str, errors: Vec<ErrorEntry>) -> Failure {
        Failure::Api {
            code: code.into(),
            errors,
        }
    }

    #[test]
    fn success_codes_and_no_code() {
        for code in [
            r#""code":"SUCCESS","#,
            r#""code":"ACCEPTED","#,
            "",
            r#""code":null,"#,
        ] {
            assert_eq!(
                on_2xx(&format!(r#"{{{code}"data":{DATA}}}"#)),
                pair(),
                "{code}"
            );
        }
        assert_eq!(
            on_2xx(r#"{"code":"ACCEPTED"}"#),
            Success::Malformed(MalformedKind::MissingData)
        );
        assert_eq!(on_2xx("{}"), Success::Malformed(MalformedKind::MissingCode));
        assert_eq!(
            on_2xx(&format!(r#"{{"code":5,"data":{DATA}}}"#)),
            Success::Malformed(MalformedKind::MissingCode)
        );
        assert_eq!(
            on_2xx(r#"{"data":{"accessToken":"a"}}"#),
            Success::Field("refreshToken", FieldProblem::Missing)
        );
        assert_eq!(
            oracle_success(&json!([{"code": "SUCCESS"}])),
            Success::Malformed(MalformedKind::NotEnvelope)
        );
    }

    #[test]
    fn error_codes_on_a_2xx() {
        assert_eq!(
            on_2xx(&format!(r#"{{"code":"success","data":{DATA}}}"#)),
            Success::Malformed(MalformedKind::UnexpectedCode)
        );
        assert_eq!(
            on_2xx(r#"{"code":"GENERAL_ERROR"}"#),
            Success::Api {
                code: "GENERAL_ERROR".into(),
                errors: vec![]
            }
        );
        assert_eq!(
            on_2xx(r#"{"code":"NEW","messages":["m"]}"#),
            Success::Api {
                code: "NEW".into(),
                errors: vec![ErrorEntry::new("", "m", Value::Null)]
            }
        );
    }

    #[test]
    fn entries_in_every_shape() {
        let km = |k: &str, m: &str| ErrorEntry::new(k, m, Value::Null);
        let cases = [
            (r#"{"code":"X"}"#, vec![]),
            (
                r#"{"code":"X","errors":[{"key":"k","message":"m"},"s",7]}"#,
                vec![km("k", "m"), km("", r#""s""#), km("", "7")],
            ),
            (
                r#"{"code":"X","errors":{"key":"k","message":null}}"#,
                vec![km("k", "")],
            ),
            (r#"{"code":"X","errors":{}}"#, vec![]),
            (r#"{"code":"X","errors":"s"}"#, vec![]),
            (
                r#"{"code":"X","messages":["a",{"key":"k"},true]}"#,
                vec![km("", "a"), km("k", ""), km("", "true")],
            ),
            (r#"{"code":"X","messages":"a"}"#, vec![km("", "a")]),
            (r#"{"code":"X","messages":""}"#, vec![]),
            (
                r#"{"code":"X","errors":[],"messages":["a"]}"#,
                vec![km("", "a")],
            ),
            (
                r#"{"code":"X","errors":[{"key":"e"}],"messages":["a"]}"#,
                vec![km("e", "")],
            ),
            (
                r#"{"code":"X","data":{"key":"k","message":"m"}}"#,
                vec![km("k", "m")],
            ),
            (
                r#"{"code":"X","data":[{"key":"k"},{"other":1},{"key":null},5]}"#,
                vec![km("k", "")],
            ),
            (
                r#"{"code":"X","data":{"errors":[{"message":"m"}]}}"#,
                vec![km("", "m")],
            ),
            (r#"{"code":"X","data":{"messages":"m"}}"#, vec![km("", "m")]),
            (r#"{"code":"X","data":{"accessToken":"a"}}"#, vec![]),
        ];
        for (response, errors) in cases {
            assert_eq!(on_error(response), api("X", errors), "{response}");
        }
        let details = on_error(r#"{"code":"X","errors":{"key":"k","details":"d"}}"#);
        assert_eq!(
            details,
            api("X", vec![ErrorEntry::new("k", "", json!("d"))])
        );
    }

    #[test]
    fn answers_that_are_not_envelopes() {
        assert_eq!(
            oracle_failure(&json!([])),
            Failure::Unexpected("not an error envelope")
        );
        assert_eq!(
            oracle_failure(&json!({})),
            Failure::Unexpected("no `response` object")
        );
        assert_eq!(
            on_error(r#"{"code":1}"#),
            Failure::Unexpected("no `response.code`")
        );
    }

    #[test]
    fn lifetimes_and_tokens() {
        assert_eq!(expect_lifetime(Some(&json!("007"))), Ok(7));
        assert_eq!(
            expect_lifetime(Some(&json!(-1))),
            Err(FieldProblem::Negative)
        );
        assert_eq!(
            expect_lifetime(Some(&json!("1.5"))),
            Err(FieldProblem::Fractional)
        );
        assert_eq!(expect_lifetime(Some(&json!(""))), Err(FieldProblem::Empty));
        assert_eq!(
            expect_lifetime(Some(&json!(" 1"))),
            Err(FieldProblem::NotDigits)
        );
        assert_eq!(
            expect_lifetime(Some(&json!(MAX + 1))),
            Err(FieldProblem::TooLarge { max_secs: MAX })
        );
        assert_eq!(
            expect_token(Some(&json!("a b"))),
            Err(FieldProblem::InvalidCharacters)
        );
        assert_eq!(
            expect_token(Some(&json!(1))),
            Err(FieldProblem::WrongType { found: "number" })
        );
        assert_eq!(expect_token_type(None), Ok("Bearer".into()));
        assert_eq!(
            expect_token_type(Some(&json!("bEaReR"))),
            Ok("Bearer".into())
        );
    }
}
