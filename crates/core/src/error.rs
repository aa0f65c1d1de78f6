//! Every way a call can fail, with no secret in any message.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

pub use crate::api_error::{ApiError, ErrorCode, ErrorEntry};
use crate::excerpt::Exact;
pub use crate::retry_after::RetryAfter;
pub use crate::session::SnapshotError;

/// Everything that can go wrong, from a bad base URL to a server that answers HTML.
///
/// `Error` is `Clone` so that one failed renewal can be handed to every caller that
/// waited for it. No variant holds a secret or a token, and `Display` prints at most a
/// short, escaped and redacted excerpt of a body.
///
/// ```
/// use smartling_auth_core::{parse_token_response, Error};
/// let resp = http::Response::builder().status(502).body("<html>Bad Gateway</html>").unwrap();
/// let err = parse_token_response(&resp).unwrap_err();
/// assert!(matches!(err, Error::UnexpectedResponse { .. }));
/// assert!(err.is_retryable());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL is not acceptable.
    #[error("invalid base URL: {reason}")]
    InvalidBaseUrl {
        /// Why it was refused.
        reason: &'static str,
    },

    /// The API answered with a Smartling error envelope: under an error status, or under
    /// a 2xx whose `code` is a known error code or comes with error entries.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// A non-2xx answer whose body is not a Smartling envelope: a proxy's HTML page, an
    /// empty body, truncated JSON.
    #[error(
        "HTTP {status}: the answer is not a Smartling error envelope ({problem}); body: {excerpt}"
    )]
    UnexpectedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// What is wrong with the body.
        problem: &'static str,
        /// A short excerpt of the body, control characters escaped and token-like runs
        /// redacted.
        excerpt: String,
        /// The `Retry-After` header, if any.
        retry_after: Option<RetryAfter>,
    },

    /// A 2xx answer that is not a usable success envelope.
    #[error("HTTP {status}: malformed success answer: {problem}")]
    MalformedSuccess {
        /// The HTTP status.
        status: StatusCode,
        /// What is wrong.
        problem: Malformed,
    },

    /// A field of the success envelope has a bad value.
    #[error("HTTP {status}: field `{field}` {problem}")]
    InvalidField {
        /// The HTTP status.
        status: StatusCode,
        /// The JSON field name, as the API spells it.
        field: &'static str,
        /// What is wrong with it.
        problem: FieldProblem,
    },

    /// The body is larger than the configured cap; it was not parsed.
    #[error("HTTP {status}: the body exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// The HTTP status.
        status: StatusCode,
        /// The cap in bytes.
        limit: usize,
    },

    /// The request did not complete: DNS, connect, TLS, timeout, reset.
    #[error(transparent)]
    Transport(TransportError),

    /// The session cannot go on: its tokens are spent and it has no credentials to log
    /// in again.
    #[error("the session has ended: {0}")]
    SessionEnded(SessionEnd),

    /// A token store could not be set up as configured (no key to seal records with,
    /// no user to name the record after).
    #[error("token store: {0}")]
    Store(crate::store::StoreSetupError),
}

impl Error {
    /// Whether trying again later may succeed: 429, 408, 5xx, a transport failure, or
    /// a success body cut short.
    ///
    /// ```
    /// use smartling_auth_core::{Error, TransportError, error::TransportErrorKind};
    /// assert!(Error::Transport(TransportError::new(TransportErrorKind::Timeout, "read")).is_retryable());
    /// assert!(!Error::InvalidBaseUrl { reason: "x" }.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => retryable_status(api.status),
            Error::UnexpectedResponse { status, .. } => retryable_status(*status),
            Error::MalformedSuccess { problem, .. } => *problem == Malformed::Truncated,
            Error::Transport(t) => !matches!(
                t.kind,
                TransportErrorKind::Cancelled | TransportErrorKind::Redirect
            ),
            Error::InvalidBaseUrl { .. }
            | Error::InvalidField { .. }
            | Error::BodyTooLarge { .. }
            | Error::SessionEnded(_)
            | Error::Store(_) => false,
        }
    }

    /// The server's `Retry-After`, when it sent one with an error.
    ///
    /// ```
    /// use smartling_auth_core::parse_token_response;
    /// let resp = http::Response::builder().status(429).header("retry-after", "7").body("").unwrap();
    /// let err = parse_token_response(&resp).unwrap_err();
    /// assert_eq!(err.retry_after().and_then(|r| r.delay()), Some(std::time::Duration::from_secs(7)));
    /// ```
    pub fn retry_after(&self) -> Option<&RetryAfter> {
        match self {
            Error::Api(api) => api.retry_after.as_ref(),
            Error::UnexpectedResponse { retry_after, .. } => retry_after.as_ref(),
            _ => None,
        }
    }

    /// The HTTP status of the answer behind this error, if there was one.
    ///
    /// ```
    /// use smartling_auth_core::parse_token_response;
    /// let resp = http::Response::builder().status(503).body("").unwrap();
    /// assert_eq!(parse_token_response(&resp).unwrap_err().status().map(|s| s.as_u16()), Some(503));
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::UnexpectedResponse { status, .. }
            | Error::MalformedSuccess { status, .. }
            | Error::InvalidField { status, .. }
            | Error::BodyTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Redacts the exact secrets a request carried from everything the server sent
    /// that this error holds: the body excerpt, an unexpected `response.code`, and an
    /// API error's code and entries (key, message, and every string and object key in
    /// `details`), and a transport error's message. Each secret becomes `[redacted]`
    /// in every form a server may echo it in: raw, JSON-escaped as the request
    /// builders write it, and HTML-escaped; in an excerpt, so does whatever the
    /// heuristic redaction merged into its edges, and its head when the excerpt was cut
    /// inside it.
    ///
    /// The parser never sees the request, so the layer that sent it calls this with
    /// the secrets it carried (the user secret, the refresh token), on top of the
    /// heuristic redaction every error already has. Empty secrets are ignored.
    ///
    /// ```
    /// use smartling_auth_core::{parse_token_response, Error};
    /// let secret = "Tr0ub4dor&3-horse!battery~staple";
    /// let page = format!("<html><p>Blocked: userIdentifier=bob pass={secret}</p></html>");
    /// let resp = http::Response::builder().status(403).body(page).unwrap();
    /// let err = parse_token_response(&resp).unwrap_err().redact_exact(&[secret]);
    /// assert!(!err.to_string().contains("horse"));
    /// assert!(err.to_string().contains("userIdentifier=bob pass=[redacted]"));
    /// ```
    pub fn redact_exact(self, secrets: &[&str]) -> Error {
        let exact = Exact::new(secrets);
        if exact.is_empty() {
            return self;
        }
        match self {
            Error::Api(mut api) => {
                api.redact_exact(&exact);
                Error::Api(api)
            }
            Error::UnexpectedResponse {
                status,
                problem,
                excerpt,
                retry_after,
            } => Error::UnexpectedResponse {
                status,
                problem,
                excerpt: exact.in_sanitized(&excerpt).unwrap_or(excerpt),
                retry_after,
            },
            Error::MalformedSuccess {
                status,
                problem: Malformed::UnexpectedCode(code),
            } => Error::MalformedSuccess {
                status,
                problem: Malformed::UnexpectedCode(exact.in_sanitized(&code).unwrap_or(code)),
            },
            Error::Transport(t) => Error::Transport(TransportError {
                message: exact.in_raw(&t.message).map_or(t.message, Into::into),
                kind: t.kind,
            }),
            other => other,
        }
    }

    /// The Smartling API error, when the server sent an error envelope.
    ///
    /// ```
    /// use smartling_auth_core::parse_token_response;
    /// let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":[{"key":"k","message":"m"}]}}"#;
    /// let resp = http::Response::builder().status(400).body(body).unwrap();
    /// assert_eq!(parse_token_response(&resp).unwrap_err().api().unwrap().code.as_str(), "VALIDATION_ERROR");
    /// ```
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }
}

fn retryable_status(status: StatusCode) -> bool {
    // 408 comes from proxies that gave up waiting: as transient as a 504.
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

/// What is wrong with a 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The body ends in the middle of the JSON.
    Truncated,
    /// The body is not JSON.
    NotJson {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
    },
    /// The JSON is not shaped like the envelope (`response` missing or not an object,
    /// a duplicate key, ...).
    NotEnvelope,
    /// `response.code` is not a string, or it is missing (or `null`) and `response.data`
    /// is not an object to read a pair from.
    MissingCode,
    /// `response.code` is a string other than `SUCCESS` or `ACCEPTED` that is neither a
    /// known error code nor comes with error entries (escaped and redacted like an
    /// excerpt). A known error code, or one with entries, is an [`Error::Api`].
    UnexpectedCode(String),
    /// `response.data` is missing, `null` or not an object.
    MissingData,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Truncated => f.write_str("the JSON body is truncated"),
            Malformed::NotJson { line, column } => {
                write!(
                    f,
                    "the body is not valid JSON (line {line}, column {column})"
                )
            }
            Malformed::NotEnvelope => f.write_str("the JSON is not a Smartling response envelope"),
            Malformed::MissingCode => f.write_str(
                "`response.code` is not a string, or is missing with no `response.data` object",
            ),
            Malformed::UnexpectedCode(code) => {
                write!(f, "`response.code` is {code:?}, not \"SUCCESS\"")
            }
            Malformed::MissingData => f.write_str("`response.data` is missing or not an object"),
        }
    }
}

/// What is wrong with one field of a success answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The field is absent or `null`.
    Missing,
    /// The field has the wrong JSON type.
    WrongType {
        /// The JSON type that was found.
        found: &'static str,
    },
    /// The field is an empty string.
    Empty,
    /// A duration below zero.
    Negative,
    /// A duration with a fractional part.
    Fractional,
    /// A duration string that is not a plain run of ASCII digits.
    NotDigits,
    /// A duration above the accepted maximum.
    TooLarge {
        /// The maximum, in seconds.
        max_secs: u64,
    },
    /// A token with characters that cannot go into an HTTP header.
    InvalidCharacters,
    /// A lifetime too short to hand the token out under the policy's hard margin.
    TooShort {
        /// The hard margin, in seconds.
        min_secs: u64,
    },
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldProblem::Missing => f.write_str("is missing"),
            FieldProblem::WrongType { found } => write!(f, "has the wrong type ({found})"),
            FieldProblem::Empty => f.write_str("is empty"),
            FieldProblem::Negative => f.write_str("is negative"),
            FieldProblem::Fractional => f.write_str("is not a whole number of seconds"),
            FieldProblem::NotDigits => f.write_str("is a string that is not a number of seconds"),
            FieldProblem::TooLarge { max_secs } => write!(f, "is larger than {max_secs} seconds"),
            FieldProblem::InvalidCharacters => {
                f.write_str("contains characters not allowed in an HTTP header")
            }
            FieldProblem::TooShort { min_secs } => {
                write!(f, "is not longer than the {min_secs} s hard margin")
            }
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEnd {
    /// The session has neither credentials nor a refresh token.
    NoCredentials,
    /// The refresh token expired (or reached the session cap) and there are no
    /// credentials to log in again.
    RefreshExpired,
    /// The server refused the refresh token and there are no credentials to log in again.
    RefreshRejected,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionEnd::NoCredentials => "no credentials and no refresh token to start from",
            SessionEnd::RefreshExpired => {
                "the refresh token has expired and no credentials were given to log in again"
            }
            SessionEnd::RefreshRejected => {
                "the server refused the refresh token and no credentials were given to log in again"
            }
        })
    }
}

/// A request that did not complete. Transports build these; the message names what
/// failed and never echoes the request.
///
/// ```
/// use smartling_auth_core::{TransportError, error::TransportErrorKind};
/// let e = TransportError::new(TransportErrorKind::Connect, "connection refused");
/// assert_eq!(e.to_string(), "transport error (connect): connection refused");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("transport error ({kind}): {message}")]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// A short description, free of secrets.
    pub message: Arc<str>,
}

impl TransportError {
    /// Creates a transport error.
    ///
    /// ```
    /// use smartling_auth_core::{TransportError, error::TransportErrorKind};
    /// let e = TransportError::new(TransportErrorKind::Timeout, "no answer in 5 s");
    /// assert_eq!(e.kind, TransportErrorKind::Timeout);
    /// ```
    pub fn new(kind: TransportErrorKind, message: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A timeout after `after`.
    ///
    /// ```
    /// let e = smartling_auth_core::TransportError::timeout(std::time::Duration::from_secs(2));
    /// assert!(e.to_string().contains("2s"));
    /// ```
    pub fn timeout(after: Duration) -> Self {
        Self::new(
            TransportErrorKind::Timeout,
            format!("no complete answer within {after:?}"),
        )
    }
}

/// The kinds of transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name did not resolve.
    Dns,
    /// The TCP connection could not be made.
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The request or the answer took too long.
    Timeout,
    /// The connection was reset or closed early.
    Reset,
    /// The server sent something that is not HTTP, or the body ended early.
    Protocol,
    /// The server answered with a redirect, which is never followed: the request carries
    /// secrets.
    Redirect,
    /// The caller that owned the request went away before it completed.
    Cancelled,
    /// Anything else.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Dns => "dns",
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Tls => "tls",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Reset => "reset",
            TransportErrorKind::Protocol => "protocol",
            TransportErrorKind::Redirect => "redirect",
            TransportErrorKind::Cancelled => "cancelled",
            TransportErrorKind::Other => "other",
        })
    }
}
