//! Smartling response envelopes: `{"response": {"code": ..., "data"|"errors": ...}}`.

use serde_json::{Value, json};

use crate::random;

/// One entry of an error envelope's `errors` array.
#[derive(Debug, Clone)]
pub(crate) struct ErrorItem {
    pub(crate) key: &'static str,
    pub(crate) message: String,
    pub(crate) details: Value,
}

impl ErrorItem {
    pub(crate) fn new(key: &'static str, message: impl Into<String>) -> Self {
        ErrorItem {
            key,
            message: message.into(),
            details: json!({}),
        }
    }

    /// Validation and 429 errors carry `details.errorId`, as Smartling's do.
    pub(crate) fn with_error_id(mut self) -> Self {
        self.details = json!({ "errorId": error_id() });
        self
    }
}

/// A success envelope around `data`.
pub(crate) fn success(data: Value) -> Vec<u8> {
    json!({"response": {"code": "SUCCESS", "data": data}})
        .to_string()
        .into_bytes()
}

/// An error envelope.
pub(crate) fn error(code: &str, errors: &[ErrorItem]) -> Vec<u8> {
    let errors: Vec<Value> = errors
        .iter()
        .map(|e| json!({"key": e.key, "message": e.message, "details": e.details}))
        .collect();
    json!({"response": {"code": code, "errors": errors}})
        .to_string()
        .into_bytes()
}

/// The envelope `code` Smartling pairs with an HTTP status (reference table).
pub(crate) fn code_for_status(status: u16) -> &'static str {
    match status {
        200..=299 => "SUCCESS",
        401 => "AUTHENTICATION_ERROR",
        403 => "AUTHORIZATION_ERROR",
        404 => "NOT_FOUND_ERROR",
        423 => "RESOURCE_LOCKED",
        429 => "MAX_OPERATIONS_LIMIT_EXCEEDED",
        503 => "MAINTENANCE_MODE_ERROR",
        400..=499 => "VALIDATION_ERROR",
        _ => "GENERAL_ERROR",
    }
}

/// A plausible error `key` for an injected status.
pub(crate) fn key_for_status(status: u16) -> &'static str {
    match status {
        401 => "invalid_token",
        403 => "forbidden",
        404 => "not_found",
        423 => "resource_locked",
        429 => "too_many_requests",
        503 => "maintenance_mode",
        400..=499 => "validation_error",
        _ => "general_error",
    }
}

/// A fresh random error id.
pub(crate) fn error_id() -> String {
    random::uuid()
}

/// An error envelope for an injected `status`, with the code from the reference table.
pub(crate) fn for_status(status: u16) -> Vec<u8> {
    let code = code_for_status(status);
    let mut item = ErrorItem::new(
        key_for_status(status),
        format!("Injected fault: HTTP {status}"),
    );
    if status == 400 || status == 429 {
        item = item.with_error_id();
    }
    error(code, &[item])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_reference_table() {
        assert_eq!(code_for_status(429), "MAX_OPERATIONS_LIMIT_EXCEEDED");
        assert_eq!(code_for_status(503), "MAINTENANCE_MODE_ERROR");
        assert_eq!(code_for_status(500), "GENERAL_ERROR");
        assert_eq!(code_for_status(401), "AUTHENTICATION_ERROR");
        assert_eq!(code_for_status(400), "VALIDATION_ERROR");
        assert_eq!(code_for_status(502), "GENERAL_ERROR");
    }

    #[test]
    fn error_envelope_shape() {
        let body: Value = serde_json::from_slice(&for_status(429)).unwrap();
        assert_eq!(body["response"]["code"], "MAX_OPERATIONS_LIMIT_EXCEEDED");
        assert!(body["response"]["errors"][0]["details"]["errorId"].is_string());
    }
}
