//! The typed form of Smartling's error envelope.

use std::fmt;

use http::StatusCode;

use crate::excerpt::{Exact, sanitize};
use crate::retry_after::RetryAfter;

/// An error answer in Smartling's envelope:
/// `{"response": {"code": "...", "errors": [{"key", "message", "details"}]}}`.
///
/// `errors` is read as a list or as a single object; when it holds nothing, the older
/// `messages` (strings or entries), then entries under `data`, are read instead.
/// `Display` prints the status, the code and each entry's key and message, leaving out
/// the parts an entry does not have.
///
/// ```
/// use smartling_auth_core::{parse_token_response, error::ErrorCode};
/// let body = r#"{"response":{"code":"AUTHENTICATION_ERROR","errors":[
///     {"key":"invalid_token","message":"Invalid token","details":{}}]}}"#;
/// let resp = http::Response::builder().status(401).body(body).unwrap();
/// let err = parse_token_response(&resp).unwrap_err();
/// let api = err.api().unwrap();
/// assert_eq!(api.code, ErrorCode::AuthenticationError);
/// assert_eq!(api.errors[0].key, "invalid_token");
/// assert_eq!(err.to_string(), "HTTP 401 AUTHENTICATION_ERROR: invalid_token: Invalid token");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The envelope's `code`.
    pub code: ErrorCode,
    /// Every entry of `errors` (or `messages`, or `data`), in order.
    pub errors: Vec<ErrorEntry>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<RetryAfter>,
}

impl std::error::Error for ApiError {}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {}",
            self.status.as_u16(),
            sanitize(self.code.as_str())
        )?;
        // Only the parts an entry has: no `: : ` for a missing key and message.
        let mut first = true;
        for e in &self.errors {
            let key = sanitize(e.key.trim());
            let message = sanitize(e.message.trim());
            if key.is_empty() && message.is_empty() {
                continue;
            }
            f.write_str(if first { ": " } else { "; " })?;
            first = false;
            match (key.is_empty(), message.is_empty()) {
                (false, false) => write!(f, "{key}: {message}")?,
                (false, true) => f.write_str(&key)?,
                _ => f.write_str(&message)?,
            }
        }
        Ok(())
    }
}

impl ApiError {
    /// Replaces the exact secrets in everything the server sent: the code, and each
    /// entry's key, message and details (strings and object keys, at any depth).
    pub(crate) fn redact_exact(&mut self, exact: &Exact) {
        if let ErrorCode::Other(code) = &mut self.code
            && let Some(clean) = exact.in_raw(code)
        {
            *code = clean;
        }
        for e in &mut self.errors {
            for text in [&mut e.key, &mut e.message] {
                if let Some(clean) = exact.in_raw(text) {
                    *text = clean;
                }
            }
            redact_value(&mut e.details, exact);
        }
    }
}

/// Every string and object key in `value`. serde_json's recursion limit bounds the
/// depth of anything parsed.
fn redact_value(value: &mut serde_json::Value, exact: &Exact) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Some(clean) = exact.in_raw(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, exact)),
        Value::Object(map) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    redact_value(&mut v, exact);
                    (exact.in_raw(&k).unwrap_or(k), v)
                })
                .collect();
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// One entry of an error envelope's `errors` list.
///
/// ```
/// use smartling_auth_core::{parse_token_response, error::ErrorEntry};
/// let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":{"key":"unknown.field",
///     "message":"The field unknown.parameter was not expected.","details":"unknown.parameter"}}}"#;
/// let err = parse_token_response(&http::Response::builder().status(400).body(body).unwrap()).unwrap_err();
/// assert_eq!(err.api().unwrap().errors, [ErrorEntry::new("unknown.field",
///     "The field unknown.parameter was not expected.", "unknown.parameter".into())]);
/// ```
///
/// ```
/// use smartling_auth_core::error::ErrorEntry;
/// let e = ErrorEntry::new("k", "m", serde_json::json!({"errorId": "abc"}));
/// assert_eq!(e.error_id(), Some("abc"));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ErrorEntry {
    /// The machine-readable key, such as `invalid_token`. Empty when the server sent none.
    pub key: String,
    /// The human-readable message. Empty when the server sent none.
    pub message: String,
    /// `details` in whatever shape the server sent: an object, a string, or `Null` when
    /// it was missing or `null`.
    pub details: serde_json::Value,
}

/// Server text is escaped and redacted as in `Display`: a server that echoes the
/// client's token in an error message must not put it in the client's logs.
impl fmt::Debug for ErrorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorEntry")
            .field("key", &sanitize(&self.key))
            .field("message", &sanitize(&self.message))
            .field("details", &sanitize(&self.details.to_string()))
            .finish()
    }
}

impl ErrorEntry {
    /// Creates an entry.
    ///
    /// ```
    /// let e = smartling_auth_core::error::ErrorEntry::new("k", "m", serde_json::Value::Null);
    /// assert_eq!(e.key, "k");
    /// ```
    pub fn new(
        key: impl Into<String>,
        message: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            details,
        }
    }

    /// `details.errorId`, which validation and 429 errors carry.
    ///
    /// ```
    /// let e = smartling_auth_core::error::ErrorEntry::new("k", "m", serde_json::Value::Null);
    /// assert_eq!(e.error_id(), None);
    /// ```
    pub fn error_id(&self) -> Option<&str> {
        self.details.get("errorId").and_then(|v| v.as_str())
    }
}

/// Smartling's `response.code`. Unknown codes are kept as they came.
///
/// ```
/// use smartling_auth_core::error::ErrorCode;
/// assert_eq!(ErrorCode::from("GENERAL_ERROR"), ErrorCode::GeneralError);
/// assert_eq!(ErrorCode::from("NEW_CODE").as_str(), "NEW_CODE");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `VALIDATION_ERROR` (400).
    ValidationError,
    /// `AUTHENTICATION_ERROR` (401).
    AuthenticationError,
    /// `AUTHORIZATION_ERROR` (403, sometimes 401).
    AuthorizationError,
    /// `NOT_FOUND_ERROR` (404).
    NotFoundError,
    /// `RESOURCE_LOCKED` (423).
    ResourceLocked,
    /// `MAX_OPERATIONS_LIMIT_EXCEEDED` (429).
    MaxOperationsLimitExceeded,
    /// `GENERAL_ERROR` (500).
    GeneralError,
    /// `MAINTENANCE_MODE_ERROR` (503).
    MaintenanceModeError,
    /// `ACCESS_DENIED_ERROR` (named by the official SDKs).
    AccessDeniedError,
    /// `SERVICE_BUSY` (named by the official SDKs).
    ServiceBusy,
    /// `CONFLICT` (named by the official SDKs).
    Conflict,
    /// `GONE` (named by the official SDKs).
    Gone,
    /// Any other code, exactly as the server sent it.
    Other(String),
}

const KNOWN: [(&str, ErrorCode); 12] = [
    ("VALIDATION_ERROR", ErrorCode::ValidationError),
    ("AUTHENTICATION_ERROR", ErrorCode::AuthenticationError),
    ("AUTHORIZATION_ERROR", ErrorCode::AuthorizationError),
    ("NOT_FOUND_ERROR", ErrorCode::NotFoundError),
    ("RESOURCE_LOCKED", ErrorCode::ResourceLocked),
    (
        "MAX_OPERATIONS_LIMIT_EXCEEDED",
        ErrorCode::MaxOperationsLimitExceeded,
    ),
    ("GENERAL_ERROR", ErrorCode::GeneralError),
    ("MAINTENANCE_MODE_ERROR", ErrorCode::MaintenanceModeError),
    ("ACCESS_DENIED_ERROR", ErrorCode::AccessDeniedError),
    ("SERVICE_BUSY", ErrorCode::ServiceBusy),
    ("CONFLICT", ErrorCode::Conflict),
    ("GONE", ErrorCode::Gone),
];

impl ErrorCode {
    /// The code as the API spells it.
    ///
    /// ```
    /// assert_eq!(smartling_auth_core::error::ErrorCode::ServiceBusy.as_str(), "SERVICE_BUSY");
    /// ```
    pub fn as_str(&self) -> &str {
        if let ErrorCode::Other(s) = self {
            return s;
        }
        KNOWN
            .iter()
            .find(|(_, c)| c == self)
            .map_or("", |(name, _)| name)
    }
}

impl From<&str> for ErrorCode {
    fn from(s: &str) -> Self {
        KNOWN
            .iter()
            .find(|(name, _)| *name == s)
            .map_or_else(|| ErrorCode::Other(s.to_owned()), |(_, c)| c.clone())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Whatever the server sent, escaped and redacted like an excerpt.
            ErrorCode::Other(code) => f.write_str(&sanitize(code)),
            known => f.write_str(known.as_str()),
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Other(code) => write!(f, "Other({:?})", sanitize(code)),
            known => f.write_str(known.as_str()),
        }
    }
}
