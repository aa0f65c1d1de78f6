//! A fully built answer, before it is written to the connection: status, headers,
//! body, how to count it and how to deliver it.

use std::time::Duration;

use crate::counters::Outcome;
use crate::envelope::{self, ErrorItem};

/// What the body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Payload {
    /// These bytes.
    Bytes(Vec<u8>),
    /// This many bytes of JSON-looking padding, generated while it is sent.
    Padding(usize),
}

impl Payload {
    pub(crate) fn len(&self) -> usize {
        match self {
            Payload::Bytes(bytes) => bytes.len(),
            Payload::Padding(len) => *len,
        }
    }
}

/// How the answer's bytes reach the client. Faults pick anything but `Whole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// All of it.
    Whole,
    /// The head and half the body, a pause, then the rest.
    Paused(Duration),
    /// A head announcing the whole body, half of it, then the connection closes.
    Truncated,
    /// Not a byte: the connection is reset.
    Reset,
}

/// Status, headers and body of an answer, plus how to count and deliver it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Payload,
    pub(crate) outcome: Outcome,
    /// Close the connection after answering (used after a refused body, whose
    /// unread rest would otherwise be parsed as the next request).
    pub(crate) close: bool,
    pub(crate) delivery: Delivery,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Vec<u8>, outcome: Outcome) -> Self {
        Reply {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: Payload::Bytes(body),
            outcome,
            close: false,
            delivery: Delivery::Whole,
        }
    }

    pub(crate) fn success(data: serde_json::Value) -> Self {
        Reply::json(200, envelope::success(data), Outcome::Success)
    }

    /// An error envelope whose code follows `status`.
    pub(crate) fn error(status: u16, outcome: Outcome, errors: &[ErrorItem]) -> Self {
        Reply::json(
            status,
            envelope::error(envelope::code_for_status(status), errors),
            outcome,
        )
    }

    /// 400 VALIDATION_ERROR with `details.errorId`.
    pub(crate) fn validation(key: &'static str, message: impl Into<String>) -> Self {
        Reply::error(
            400,
            Outcome::Rejected,
            &[ErrorItem::new(key, message).with_error_id()],
        )
    }

    /// 401 AUTHENTICATION_ERROR.
    pub(crate) fn unauthorized(key: &'static str, message: &str) -> Self {
        Reply::error(401, Outcome::Rejected, &[ErrorItem::new(key, message)])
    }

    /// 413 VALIDATION_ERROR for a body over the cap; closes the connection.
    pub(crate) fn too_large(max_body: usize) -> Self {
        Reply::error(
            413,
            Outcome::Rejected,
            &[ErrorItem::new(
                "request_too_large",
                format!("Request body exceeds the limit of {max_body} bytes"),
            )
            .with_error_id()],
        )
        .closing()
    }

    /// 404 NOT_FOUND_ERROR.
    pub(crate) fn not_found(message: &str) -> Self {
        Reply::error(
            404,
            Outcome::NotFound,
            &[ErrorItem::new("not_found", message)],
        )
    }

    /// 405 with an envelope and the `Allow` header.
    pub(crate) fn method_not_allowed(allowed: &str) -> Self {
        Reply::error(
            405,
            Outcome::MethodNotAllowed,
            &[ErrorItem::new(
                "method_not_allowed",
                format!("Method not allowed; use {allowed}"),
            )],
        )
        .with_header("Allow", allowed)
    }

    /// 500 GENERAL_ERROR, used when a handler panicked.
    pub(crate) fn internal() -> Self {
        Reply::error(
            500,
            Outcome::InternalError,
            &[ErrorItem::new("general_error", "Internal server error")],
        )
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The same answer, after which the connection closes.
    pub(crate) fn closing(mut self) -> Self {
        self.close = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_status_outcome_and_close() {
        let too_large = Reply::too_large(10);
        assert_eq!((too_large.status, too_large.close), (413, true));
        assert_eq!(too_large.outcome, Outcome::Rejected);
        let not_allowed = Reply::method_not_allowed("POST");
        assert_eq!(not_allowed.status, 405);
        assert_eq!(not_allowed.headers, vec![("Allow", "POST".to_owned())]);
        assert_eq!(Reply::not_found("x").outcome, Outcome::NotFound);
        assert_eq!(Reply::internal().status, 500);
        assert_eq!(Payload::Padding(7).len(), 7);
        assert_eq!(
            Reply::success(serde_json::json!({})).delivery,
            Delivery::Whole
        );
    }
}
