//! A fully built answer, before it is written to the connection.

use crate::counters::Outcome;
use crate::envelope::{self, ErrorItem};

/// Status, headers and body of an answer, plus how to count it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) outcome: Outcome,
    /// Close the connection after answering (used after a refused oversized body,
    /// whose unread rest would otherwise be parsed as the next request).
    pub(crate) close: bool,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Vec<u8>, outcome: Outcome) -> Self {
        Reply {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body,
            outcome,
            close: false,
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
        let mut reply = Reply::error(
            413,
            Outcome::Rejected,
            &[ErrorItem::new(
                "request_too_large",
                format!("Request body exceeds the limit of {max_body} bytes"),
            )
            .with_error_id()],
        );
        reply.close = true;
        reply
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

    /// The raw HTTP/1.1 status line and headers, for faults that write the
    /// connection themselves.
    pub(crate) fn head(&self, content_length: usize, close: bool) -> Vec<u8> {
        let reason = tiny_http::StatusCode(self.status).default_reason_phrase();
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nServer: smartling-auth-emulator\r\nContent-Type: {}\r\nContent-Length: {content_length}\r\n",
            self.status, self.content_type
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}
