//! Parsing answers: a token pair from a success envelope, a typed error from anything else.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::{Response, StatusCode};
use serde::Serialize;

use crate::api_error::{ApiError, ErrorCode, ErrorEntry};
use crate::error::{Error, FieldProblem, Malformed};
use crate::excerpt::{body_excerpt, sanitize};
use crate::retry_after::RetryAfter;
use crate::secret::{AccessToken, RefreshToken};
use crate::wire::{
    Envelope, ErrorData, ErrorResponse, Object, SuccessResponse, TokenData, Value, scan_success,
};

/// The default cap on a response body: 64 KiB. A token answer is about 2 KiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// The longest lifetime accepted for a token: one year. Real lifetimes are minutes to
/// hours; anything longer is a broken server, and would overflow `Instant` arithmetic.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// Options for parsing answers.
///
/// ```
/// use smartling_auth_core::api::ParseOptions;
/// let opts = ParseOptions::default().max_body(1024);
/// assert_eq!(opts.max_body_bytes(), 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    max_body: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl ParseOptions {
    /// Sets the body cap in bytes; a larger body is refused before it is parsed.
    /// Transports read at most this many bytes plus one.
    ///
    /// ```
    /// let opts = smartling_auth_core::api::ParseOptions::default().max_body(10);
    /// assert_eq!(opts.max_body_bytes(), 10);
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The body cap in bytes.
    ///
    /// ```
    /// assert_eq!(smartling_auth_core::api::ParseOptions::default().max_body_bytes(), 64 * 1024);
    /// ```
    pub fn max_body_bytes(&self) -> usize {
        self.max_body
    }
}

/// The token type of a pair. Smartling always sends `Bearer` today.
///
/// ```
/// use smartling_auth_core::api::TokenType;
/// assert_eq!(TokenType::bearer().as_str(), "Bearer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenType(Cow<'static, str>);

impl TokenType {
    /// `Bearer`.
    ///
    /// ```
    /// assert_eq!(smartling_auth_core::api::TokenType::bearer().to_string(), "Bearer");
    /// ```
    pub const fn bearer() -> Self {
        TokenType(Cow::Borrowed("Bearer"))
    }

    /// The type as the API spells it (`bearer` in any case is normalised to `Bearer`).
    ///
    /// ```
    /// assert_eq!(smartling_auth_core::api::TokenType::bearer().as_str(), "Bearer");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_wire(s: &str) -> Self {
        if s.eq_ignore_ascii_case("bearer") {
            Self::bearer()
        } else {
            TokenType(Cow::Owned(s.to_owned()))
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token pair, as Authenticate and Refresh return it.
///
/// ```
/// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair};
/// use std::time::Duration;
/// let pair = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
///     Duration::from_secs(480), Duration::from_secs(3660));
/// assert_eq!(pair.token_type.as_str(), "Bearer");
/// assert!(!format!("{pair:?}").contains("\"a\""));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenPair {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token.
    pub refresh_token: RefreshToken,
    /// Seconds until the access token expires, counted from when the request was sent.
    pub expires_in: Duration,
    /// Seconds until the refresh token expires, counted from when the request was sent.
    pub refresh_expires_in: Duration,
    /// The token type (`Bearer`).
    pub token_type: TokenType,
}

impl TokenPair {
    /// Creates a `Bearer` pair.
    ///
    /// ```
    /// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair};
    /// let p = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     std::time::Duration::from_secs(1), std::time::Duration::from_secs(2));
    /// assert_eq!(p.expires_in.as_secs(), 1);
    /// ```
    pub fn new(
        access_token: AccessToken,
        refresh_token: RefreshToken,
        expires_in: Duration,
        refresh_expires_in: Duration,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            expires_in,
            refresh_expires_in,
            token_type: TokenType::bearer(),
        }
    }

    /// The pair as the API's `data` object: `accessToken`, `refreshToken`, `expiresIn`,
    /// `refreshExpiresIn` (whole seconds) and `tokenType`.
    ///
    /// # Security
    /// The JSON holds both tokens in clear. Write it only where a secret may go.
    ///
    /// ```
    /// use smartling_auth_core::{AccessToken, RefreshToken, TokenPair};
    /// let p = TokenPair::new(AccessToken::new("a"), RefreshToken::new("r"),
    ///     std::time::Duration::from_secs(1), std::time::Duration::from_secs(2));
    /// assert_eq!(p.secret_json(), r#"{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2,"tokenType":"Bearer"}"#);
    /// ```
    pub fn secret_json(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            access_token: &'a str,
            refresh_token: &'a str,
            expires_in: u64,
            refresh_expires_in: u64,
            token_type: &'a str,
        }
        let out = Out {
            access_token: self.access_token.secret(),
            refresh_token: self.refresh_token.secret(),
            expires_in: self.expires_in.as_secs(),
            refresh_expires_in: self.refresh_expires_in.as_secs(),
            token_type: self.token_type.as_str(),
        };
        // Serialising borrowed strings and integers cannot fail. Written into a buffer
        // sized not to grow, which would leave unwiped copies of the tokens behind.
        let mut json = crate::SecretBody::with_capacity(
            out.access_token.len() + out.refresh_token.len() + 128,
        );
        let _ = serde_json::to_writer(&mut json, &out);
        json.into_string()
    }
}

/// Parses an Authenticate or Refresh answer with the default [`ParseOptions`].
///
/// ```
/// use smartling_auth_core::parse_token_response;
/// let body = r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c",
///   "refreshToken":"d.e.f","expiresIn":480,"refreshExpiresIn":"3660","tokenType":"Bearer"}}}"#;
/// let resp = http::Response::builder().status(200).body(body).unwrap();
/// let pair = parse_token_response(&resp).unwrap();
/// assert_eq!(pair.access_token.secret(), "a.b.c");
/// assert_eq!(pair.refresh_expires_in.as_secs(), 3660);
/// ```
pub fn parse_token_response<B: AsRef<[u8]>>(response: &Response<B>) -> Result<TokenPair, Error> {
    parse_token_response_with(response, &ParseOptions::default())
}

/// Parses an Authenticate or Refresh answer.
///
/// A 2xx must be the success envelope with a valid pair in `data`, under a `code` of
/// `SUCCESS`, `ACCEPTED` (older docs show it on a 202), or no `code` at all (missing
/// or `null`, as several clients' fixtures have it). A 2xx whose `code` is an error
/// code is the [`Error::Api`] it says. Any other status becomes [`Error::Api`] when it
/// is Smartling's error envelope, or [`Error::UnexpectedResponse`] when it is not. The
/// entries of an error envelope are read from `errors` (a list or one object), the
/// older `messages`, or `data`.
///
/// ```
/// use smartling_auth_core::{parse_token_response, error::ErrorCode};
/// let no_code = r#"{"response":{"data":{"accessToken":"a.b.c","refreshToken":"d.e.f",
///     "expiresIn":480,"refreshExpiresIn":3660}}}"#;
/// let pair = parse_token_response(&http::Response::builder().status(200).body(no_code).unwrap());
/// assert_eq!(pair.unwrap().expires_in.as_secs(), 480);
/// let error_code = r#"{"response":{"code":"VALIDATION_ERROR","messages":["refreshToken is required"]}}"#;
/// let err = parse_token_response(&http::Response::builder().status(200).body(error_code).unwrap());
/// let err = err.unwrap_err();
/// assert_eq!(err.api().unwrap().code, ErrorCode::ValidationError);
/// assert_eq!(err.to_string(), "HTTP 200 VALIDATION_ERROR: refreshToken is required");
/// ```
///
/// ```
/// use smartling_auth_core::{api::parse_token_response_with, Error, api::ParseOptions};
/// let resp = http::Response::builder().status(200).body(vec![b' '; 100]).unwrap();
/// let err = parse_token_response_with(&resp, &ParseOptions::default().max_body(10)).unwrap_err();
/// assert!(matches!(err, Error::BodyTooLarge { limit: 10, .. }));
/// ```
pub fn parse_token_response_with<B: AsRef<[u8]>>(
    response: &Response<B>,
    options: &ParseOptions,
) -> Result<TokenPair, Error> {
    let status = response.status();
    let body = response.body().as_ref();
    if body.len() > options.max_body {
        return Err(Error::BodyTooLarge {
            status,
            limit: options.max_body,
        });
    }
    if status.is_success() {
        parse_success(status, body)
    } else {
        Err(parse_failure(
            status,
            body,
            RetryAfter::from_headers(response.headers()),
        ))
    }
}

fn parse_success(status: StatusCode, body: &[u8]) -> Result<TokenPair, Error> {
    if let Some(pair) = parse_fast(body) {
        // The fast path only ever takes what the lenient one accepts, to the byte.
        debug_assert!(
            parse_lenient(status, body).is_ok_and(|p| same_pair(&p, &pair)),
            "the fast path accepted an answer the lenient path reads differently"
        );
        return Ok(pair);
    }
    parse_lenient(status, body)
}

/// The answer in its plain form, as Smartling sends it, read by hand: `None` for
/// anything else (escaped strings, lifetimes as strings, errors of any kind), which
/// [`parse_lenient`] then reads and explains.
fn parse_fast(body: &[u8]) -> Option<TokenPair> {
    let plain = scan_success(body, MAX_LIFETIME.as_secs())?;
    Some(TokenPair {
        access_token: AccessToken::new(plain.access_token),
        refresh_token: RefreshToken::new(plain.refresh_token),
        expires_in: Duration::from_secs(plain.expires_in),
        refresh_expires_in: Duration::from_secs(plain.refresh_expires_in),
        token_type: plain
            .token_type
            .map_or_else(TokenType::bearer, TokenType::from_wire),
    })
}

fn same_pair(a: &TokenPair, b: &TokenPair) -> bool {
    a.access_token.secret() == b.access_token.secret()
        && a.refresh_token.secret() == b.refresh_token.secret()
        && a.expires_in == b.expires_in
        && a.refresh_expires_in == b.refresh_expires_in
        && a.token_type == b.token_type
}

/// `SUCCESS`, or `ACCEPTED`, which older docs show on a 202: both say the call went
/// through, and the pair is checked the same way after either.
fn is_success_code(code: &str) -> bool {
    code == "SUCCESS" || code == "ACCEPTED"
}

/// Any 2xx answer, with an error that names what is wrong.
///
/// - A `code` of `SUCCESS` or `ACCEPTED` needs a usable `data`.
/// - No `code` (missing or `null`): a `data` object is read as a pair, so a complete
///   pair is accepted and an incomplete one names its first bad field.
/// - Any other string `code` is an error: [`Error::Api`], with the entries the server
///   sent, when it is a known error code or comes with entries; else
///   [`Malformed::UnexpectedCode`].
fn parse_lenient(status: StatusCode, body: &[u8]) -> Result<TokenPair, Error> {
    let malformed = |problem| Error::MalformedSuccess { status, problem };
    let envelope: Object<Envelope<SuccessResponse<'_>>> =
        serde_json::from_slice(body).map_err(|e| malformed(classify(&e)))?;
    let Object::Is(Envelope {
        response: Some(Object::Is(response)),
    }) = envelope
    else {
        return Err(malformed(Malformed::NotEnvelope));
    };
    let data = match (response.code, response.data) {
        (Some(Value::Str(code)), data) if is_success_code(&code) => match data {
            Some(Object::Is(data)) => data,
            _ => return Err(malformed(Malformed::MissingData)),
        },
        (None | Some(Value::Null), Some(Object::Is(data))) => data,
        (Some(Value::Str(code)), _) => return Err(error_code_on_success(status, body, &code)),
        _ => return Err(malformed(Malformed::MissingCode)),
    };
    token_pair(status, data)
}

/// A 2xx whose `code` is an error code: the error the server meant, entries and all.
fn error_code_on_success(status: StatusCode, body: &[u8], code: &str) -> Error {
    // Read as the error envelope it is. The success shape already parsed, so this fails
    // only on what that shape skips: a repeated `errors` or `messages`, which leaves
    // the envelope ambiguous, as a repeated `code` or `data` does.
    let errors = match serde_json::from_slice::<Envelope<ErrorResponse<'_>>>(body) {
        Ok(Envelope {
            response: Some(Object::Is(response)),
        }) => error_entries(response),
        _ => {
            return Error::MalformedSuccess {
                status,
                problem: Malformed::NotEnvelope,
            };
        }
    };
    let code = ErrorCode::from(code);
    if errors.is_empty() && matches!(code, ErrorCode::Other(_)) {
        return Error::MalformedSuccess {
            status,
            problem: Malformed::UnexpectedCode(sanitize(code.as_str())),
        };
    }
    ApiError {
        status,
        code,
        errors,
        // `Retry-After` means something on a failure status only.
        retry_after: None,
    }
    .into()
}

fn token_pair(status: StatusCode, data: TokenData<'_>) -> Result<TokenPair, Error> {
    let field = |field, problem| Error::InvalidField {
        status,
        field,
        problem,
    };
    let access = token(data.access_token).map_err(|p| field("accessToken", p))?;
    let refresh = token(data.refresh_token).map_err(|p| field("refreshToken", p))?;
    let expires_in = lifetime(data.expires_in).map_err(|p| field("expiresIn", p))?;
    let refresh_expires_in =
        lifetime(data.refresh_expires_in).map_err(|p| field("refreshExpiresIn", p))?;
    let token_type = match data.token_type {
        // Smartling documents the field as always `Bearer`; a missing one means that.
        None | Some(Value::Null) => TokenType::bearer(),
        Some(Value::Str(s)) if !s.is_empty() && is_header_safe(&s) => TokenType::from_wire(&s),
        Some(Value::Str(s)) if s.is_empty() => return Err(field("tokenType", FieldProblem::Empty)),
        Some(Value::Str(_)) => return Err(field("tokenType", FieldProblem::InvalidCharacters)),
        Some(other) => {
            return Err(field(
                "tokenType",
                FieldProblem::WrongType {
                    found: other.kind(),
                },
            ));
        }
    };
    Ok(TokenPair {
        access_token: AccessToken::new(access.into_owned()),
        refresh_token: RefreshToken::new(refresh.into_owned()),
        expires_in,
        refresh_expires_in,
        token_type,
    })
}

fn token(value: Option<Value<'_>>) -> Result<Cow<'_, str>, FieldProblem> {
    match value {
        None | Some(Value::Null) => Err(FieldProblem::Missing),
        Some(Value::Str(s)) if s.is_empty() => Err(FieldProblem::Empty),
        Some(Value::Str(s)) if is_header_safe(&s) => Ok(s),
        Some(Value::Str(_)) => Err(FieldProblem::InvalidCharacters),
        Some(other) => Err(FieldProblem::WrongType {
            found: other.kind(),
        }),
    }
}

/// Tokens go into `Authorization` headers: visible ASCII only, so building the header
/// can never fail later.
pub(crate) fn is_header_safe(s: &str) -> bool {
    // Tokens are a kilobyte each and on every refresh path. `b - 0x21 <= 0x5d` is
    // `0x21 <= b <= 0x7e`, so the check is the largest `b - 0x21`: a max reduction
    // with no early exit vectorises to a subtract and a max per 16 bytes, about twice
    // as fast as a fold of compares.
    s.bytes().fold(0, |top, b| top.max(b.wrapping_sub(0x21))) <= 0x5d
}

/// A lifetime in seconds, sent as a JSON integer or a string of digits.
fn lifetime(value: Option<Value<'_>>) -> Result<Duration, FieldProblem> {
    let too_large = FieldProblem::TooLarge {
        max_secs: MAX_LIFETIME.as_secs(),
    };
    let secs = match value {
        None | Some(Value::Null) => return Err(FieldProblem::Missing),
        Some(Value::U64(n)) => n,
        Some(Value::NegInt) => return Err(FieldProblem::Negative),
        Some(Value::F64(f)) if f < 0.0 => return Err(FieldProblem::Negative),
        // `480.0` is a whole number, but the API sends integers: a float means a broken
        // producer, and accepting it would hide the next, fractional, one.
        // serde_json hands integers beyond u64 over as floats.
        Some(Value::F64(f)) if f > MAX_LIFETIME.as_secs() as f64 => return Err(too_large),
        Some(Value::F64(_)) => return Err(FieldProblem::Fractional),
        Some(Value::Str(s)) => {
            let s = s.as_ref();
            if s.is_empty() {
                return Err(FieldProblem::Empty);
            }
            if s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldProblem::Negative);
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(
                    if s.contains('.')
                        && s.split('.').all(|p| p.bytes().all(|b| b.is_ascii_digit()))
                    {
                        FieldProblem::Fractional
                    } else {
                        FieldProblem::NotDigits
                    },
                );
            }
            s.parse::<u64>().map_err(|_| too_large)?
        }
        Some(other) => {
            return Err(FieldProblem::WrongType {
                found: other.kind(),
            });
        }
    };
    let d = Duration::from_secs(secs);
    if d > MAX_LIFETIME {
        return Err(too_large);
    }
    Ok(d)
}

fn classify(e: &serde_json::Error) -> Malformed {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => Malformed::Truncated,
        Category::Syntax | Category::Io => Malformed::NotJson {
            line: e.line(),
            column: e.column(),
        },
        // Data errors are the derive's own (a duplicate key): the lenient field types
        // catch every wrong type. serde's message is dropped, as it may quote the body.
        Category::Data => Malformed::NotEnvelope,
    }
}

fn parse_failure(status: StatusCode, body: &[u8], retry_after: Option<RetryAfter>) -> Error {
    let unexpected = |problem, retry_after| Error::UnexpectedResponse {
        status,
        problem,
        excerpt: body_excerpt(body),
        retry_after,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return unexpected("empty body", retry_after);
    }
    let envelope: Envelope<ErrorResponse<'_>> = match serde_json::from_slice::<Object<_>>(body) {
        Ok(Object::Is(e)) => e,
        Ok(Object::Not) => return unexpected("not an error envelope", retry_after),
        Err(e) if e.is_eof() => return unexpected("truncated JSON", retry_after),
        Err(e) if e.is_syntax() => return unexpected("not JSON", retry_after),
        Err(_) => return unexpected("not an error envelope", retry_after),
    };
    let Some(Object::Is(response)) = envelope.response else {
        return unexpected("no `response` object", retry_after);
    };
    let Some(Value::Str(code)) = &response.code else {
        return unexpected("no `response.code`", retry_after);
    };
    let code = ErrorCode::from(code.as_ref());
    ApiError {
        status,
        code,
        errors: error_entries(response),
        retry_after,
    }
    .into()
}

/// The entries of an error envelope, from the first of these that holds any:
/// - `errors`: a list (every item an entry) or one object (an entry unless empty);
/// - `messages`, the older form: a list or one item, where a string is a message;
/// - `data`: entries (objects with a `key` or a `message`), alone or in a list, or an
///   `errors` or `messages` inside it.
fn error_entries(response: ErrorResponse<'_>) -> Vec<ErrorEntry> {
    let from_errors = entries(response.errors, Strings::AsJson);
    if !from_errors.is_empty() {
        return from_errors;
    }
    let from_messages = entries(response.messages, Strings::AsMessages);
    if !from_messages.is_empty() {
        return from_messages;
    }
    match response.data {
        Some(ErrorData::Fields(fields)) => {
            let inner = entries(fields.errors, Strings::AsJson);
            if !inner.is_empty() {
                return inner;
            }
            let inner = entries(fields.messages, Strings::AsMessages);
            if !inner.is_empty() {
                return inner;
            }
            if is_present(&fields.key) || is_present(&fields.message) {
                vec![ErrorEntry {
                    key: entry_text(fields.key),
                    message: entry_text(fields.message),
                    details: fields.details.unwrap_or(serde_json::Value::Null),
                }]
            } else {
                Vec::new()
            }
        }
        Some(ErrorData::List(items)) => items
            .into_iter()
            .filter(|item| {
                item.as_object().is_some_and(|m| {
                    m.get("key").is_some_and(|v| !v.is_null())
                        || m.get("message").is_some_and(|v| !v.is_null())
                })
            })
            .map(|item| entry(item, Strings::AsJson))
            .collect(),
        Some(ErrorData::Other) | None => Vec::new(),
    }
}

fn is_present(v: &Option<serde_json::Value>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_null())
}

/// How an item that is a bare string reads.
#[derive(Clone, Copy)]
enum Strings {
    /// As its JSON text, quotes and all (an `errors` item should be an object).
    AsJson,
    /// As the message itself (`messages` is a list of them).
    AsMessages,
}

/// Entries from a list, or from a single item: an object (unless empty) or, in
/// `messages`, a non-empty string.
fn entries(value: Option<serde_json::Value>, strings: Strings) -> Vec<ErrorEntry> {
    use serde_json::Value as Json;
    match value {
        Some(Json::Array(items)) => items.into_iter().map(|i| entry(i, strings)).collect(),
        Some(Json::Object(map)) if !map.is_empty() => vec![entry(Json::Object(map), strings)],
        Some(Json::String(s)) if matches!(strings, Strings::AsMessages) && !s.is_empty() => {
            vec![entry(Json::String(s), strings)]
        }
        _ => Vec::new(),
    }
}

/// One entry in whatever shape it came: non-object items and non-string keys or
/// messages are kept as their JSON text rather than dropped.
fn entry(item: serde_json::Value, strings: Strings) -> ErrorEntry {
    use serde_json::Value as Json;
    match (item, strings) {
        (Json::Object(mut map), _) => ErrorEntry {
            key: entry_text(map.remove("key")),
            message: entry_text(map.remove("message")),
            details: map.remove("details").unwrap_or(Json::Null),
        },
        (Json::String(s), Strings::AsMessages) => ErrorEntry {
            key: String::new(),
            message: s,
            details: Json::Null,
        },
        (other, _) => ErrorEntry {
            key: String::new(),
            message: other.to_string(),
            details: Json::Null,
        },
    }
}

/// A key or message: a string as it is, missing or `null` as empty, anything else as
/// its JSON text.
fn entry_text(v: Option<serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s,
        None | Some(serde_json::Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &[u8] = include_bytes!("../tests/fixtures/seed_success.json");

    #[test]
    fn the_fast_path_takes_the_answer_smartling_sends() {
        let pair = parse_fast(SEED).expect("the seed answer goes the fast way");
        assert!(same_pair(
            &pair,
            &parse_lenient(StatusCode::OK, SEED).unwrap()
        ));
        for body in [
            r#"{"response":{"code":"ACCEPTED","data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#,
            r#"{"response":{"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2,"tokenType":null}}}"#,
        ] {
            assert!(parse_fast(body.as_bytes()).is_some(), "{body}");
        }
    }

    #[test]
    fn the_fast_path_leaves_everything_else_to_the_lenient_one() {
        for body in [
            // Escapes, strings for lifetimes, odd token types, bad tokens, odd shapes.
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a\/b","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#,
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":"1","refreshExpiresIn":2}}}"#,
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2,"tokenType":""}}}"#,
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a b","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#,
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#,
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":31622401,"refreshExpiresIn":2}}}"#,
            r#"{"response":{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":1.0,"refreshExpiresIn":2}}}"#,
            r#"{"response":{"code":"success","data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#,
            r#"{"response":{"code":5,"data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#,
            r#"{"response":["SUCCESS",{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}]}"#,
            r#"[{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}]"#,
            r#"{"response":{"code":"SUCCESS","code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":1,"refreshExpiresIn":2}}}"#,
        ] {
            assert!(parse_fast(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn header_safe_is_visible_ascii() {
        for ok in ["!", "~", "a.b-c_d", &"x".repeat(1000)] {
            assert!(is_header_safe(ok), "{ok:?}");
        }
        for bad in [
            " ",
            "a b",
            "\u{7f}",
            "é",
            "\0",
            &format!("{}\n", "x".repeat(100)),
        ] {
            assert!(!is_header_safe(bad), "{bad:?}");
        }
        assert!(is_header_safe(""), "emptiness is checked apart");
    }
}
