//! Why a command failed, and the exit code each reason maps to.

use smartling_auth_core::{Error, RequestKind, error::SessionEnd, http::StatusCode};

/// Exit code of a usage error: bad flags, missing input, a refused base URL, a
/// `--cache-file` (or its lock file) that is not safe to use.
pub(crate) const USAGE: u8 = 2;
/// Exit code of a request the API rejected (a 4xx other than 429).
pub(crate) const REJECTED: u8 = 3;
/// Exit code of a transport or server failure after retries, or of a wait past the
/// deadline (another process's renewal, stdin).
pub(crate) const FAILED: u8 = 4;
/// Exit code when the answer could not be written to stdout.
pub(crate) const OUTPUT: u8 = 1;

/// A failed command. Every message is one line and free of secrets: core errors never
/// hold one, and the messages made here name variables and paths, never values.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// Bad flags, missing credentials or input.
    #[error("{0}")]
    Usage(String),
    /// A renewal failed; `during` names the request that failed last, if any.
    #[error("{}{error}{}", prefix(*during), note.unwrap_or(""))]
    Auth {
        /// The request that failed last.
        during: Option<RequestKind>,
        /// What went wrong.
        error: Error,
        /// A remark appended to the message.
        note: Option<&'static str>,
    },
    /// A wait passed the command's deadline: for another process's renewal, or for a
    /// refresh token on stdin.
    #[error("{0}")]
    TimedOut(String),
    /// stdout is gone.
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

fn prefix(during: Option<RequestKind>) -> &'static str {
    match during {
        Some(RequestKind::Authenticate) => "authenticate: ",
        Some(RequestKind::Refresh) => "refresh: ",
        None => "",
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Auth {
            during: None,
            error,
            note: None,
        }
    }
}

impl Failure {
    /// The process exit code for this failure.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => USAGE,
            Failure::Auth { error, .. } => code_of(error),
            Failure::TimedOut(_) => FAILED,
            Failure::Output(_) => OUTPUT,
        }
    }
}

/// 4xx answers other than 429 are rejections (retrying will not help); everything
/// else the library gives up on is a failure of the network or the server.
fn code_of(error: &Error) -> u8 {
    match error {
        Error::InvalidBaseUrl { .. } => USAGE,
        Error::SessionEnded(SessionEnd::RefreshRejected) => REJECTED,
        Error::SessionEnded(_) => USAGE,
        Error::Api(_) | Error::UnexpectedResponse { .. } => match error.status() {
            Some(s) if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS => REJECTED,
            _ => FAILED,
        },
        _ => FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartling_auth_core::{
        TransportError, error::TransportErrorKind, http, parse_token_response,
    };

    fn answer(status: u16, body: &str) -> Error {
        let resp = http::Response::builder()
            .status(status)
            .body(body.to_owned())
            .unwrap();
        parse_token_response(&resp).unwrap_err()
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let env =
            r#"{"response":{"code":"AUTHENTICATION_ERROR","errors":[{"key":"k","message":"m"}]}}"#;
        assert_eq!(Failure::from(answer(401, env)).exit_code(), 3);
        assert_eq!(Failure::from(answer(400, env)).exit_code(), 3);
        assert_eq!(Failure::from(answer(429, env)).exit_code(), 4);
        assert_eq!(Failure::from(answer(503, "")).exit_code(), 4);
        assert_eq!(Failure::from(answer(200, "<html>")).exit_code(), 4);
        let t = TransportError::new(TransportErrorKind::Connect, "refused");
        assert_eq!(Failure::from(Error::Transport(t)).exit_code(), 4);
        let url = smartling_auth_core::BaseUrl::parse("http://example.com").unwrap_err();
        assert_eq!(Failure::from(url).exit_code(), 2);
        assert_eq!(Failure::Usage("x".into()).exit_code(), 2);
        assert_eq!(Failure::TimedOut("x".into()).exit_code(), 4);
    }

    #[test]
    fn messages_name_the_failed_call() {
        let f = Failure::Auth {
            during: Some(RequestKind::Refresh),
            error: answer(503, ""),
            note: Some(" (giving up)"),
        };
        let s = f.to_string();
        assert!(s.starts_with("refresh: HTTP 503"), "{s}");
        assert!(s.ends_with(" (giving up)"), "{s}");
    }
}
