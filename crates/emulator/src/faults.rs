//! Injectable faults: what each one is, its JSON form in the admin API, what it does
//! to a request, and the per-endpoint queues that hold them.
//!
//! This is the one place to touch to add a fault: a [`Fault`] variant, its
//! [`FaultSpec`] form, and its [`Effect`] in [`Fault::effect`]. The server carries out
//! effects without knowing which fault asked for them.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::counters::Outcome;
use crate::endpoint::Endpoint;
use crate::envelope;
use crate::reply::{Delivery, Payload, Reply};
use crate::tokens;

/// A failure the emulator serves instead of (or around) a normal answer.
///
/// Inject with [`Emulator::inject`](crate::Emulator::inject) or
/// `POST /_emulator/faults`. Each injected fault answers one request to its endpoint,
/// in injection order; after that, requests behave normally again. Faults are served
/// *before* normal processing, so a faulted refresh does not burn its refresh token
/// (except the delay faults, which answer normally after the delay).
///
/// ```
/// use std::time::Duration;
/// use smartling_auth_emulator::{Emulator, Endpoint, Fault};
///
/// let emu = Emulator::builder().start()?;
/// emu.inject(
///     Endpoint::Refresh,
///     Fault::Status { status: 503, envelope: true, retry_after: Some("1".into()) },
///     2,
/// );
/// emu.inject(Endpoint::Authenticate, Fault::DelayHeaders(Duration::from_millis(50)), 1);
/// assert_eq!(emu.pending_faults(Endpoint::Refresh), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with `status`. With `envelope`, the body is a Smartling error envelope
    /// whose `code` matches the status (429 `MAX_OPERATIONS_LIMIT_EXCEEDED`, 503
    /// `MAINTENANCE_MODE_ERROR`, 500 `GENERAL_ERROR`, 401 `AUTHENTICATION_ERROR`, ...);
    /// without, the body is empty. `retry_after` is sent verbatim as `Retry-After`
    /// (delta seconds or an HTTP-date); a value with control characters is dropped.
    /// HTTP has no final answer outside 200..=599: such a status is sent as 500.
    Status {
        /// HTTP status code, 200 to 599.
        status: u16,
        /// Send a Smartling error envelope (`true`) or an empty body (`false`).
        envelope: bool,
        /// `Retry-After` header value, sent as given.
        retry_after: Option<String>,
    },
    /// An HTML error page with `status`, like a proxy's 502 `Bad Gateway`.
    Html {
        /// HTTP status code, 200 to 599 (another is sent as 500).
        status: u16,
    },
    /// Wait this long before answering, then answer normally.
    DelayHeaders(Duration),
    /// Answer normally, but send the headers and half the body, wait this long, then
    /// send the rest.
    DelayBody(Duration),
    /// A 200 whose `Content-Length` announces a full success envelope, but only part
    /// of the JSON is sent before the connection is closed.
    Truncate,
    /// Close the connection without any response.
    Reset,
    /// A 200 whose body is `bytes` bytes of valid-looking JSON padding.
    Oversized {
        /// Exact body length in bytes.
        bytes: usize,
    },
}

/// Pending faults, one FIFO queue per endpoint.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queues: Mutex<[VecDeque<(Fault, u64)>; Endpoint::ALL.len()]>,
}

impl FaultQueue {
    fn lock(&self) -> MutexGuard<'_, [VecDeque<(Fault, u64)>; Endpoint::ALL.len()]> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `fault` for the next `count` requests to `endpoint`.
    pub(crate) fn push(&self, endpoint: Endpoint, fault: Fault, count: u64) {
        if count > 0 {
            self.lock()[endpoint.index()].push_back((fault, count));
        }
    }

    /// Takes the next fault for `endpoint`, if any.
    pub(crate) fn take(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut queues = self.lock();
        let queue = &mut queues[endpoint.index()];
        let (fault, left) = queue.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    /// How many requests to `endpoint` will still be faulted.
    pub(crate) fn pending(&self, endpoint: Endpoint) -> u64 {
        self.lock()[endpoint.index()].iter().map(|(_, n)| n).sum()
    }

    pub(crate) fn clear(&self) {
        for queue in self.lock().iter_mut() {
            queue.clear();
        }
    }
}

/// What a fault does to the one request it answers.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// Answer this instead of processing the request.
    Replace(Reply),
    /// Wait this long, then process the request normally.
    WaitFirst(Duration),
    /// Process the request normally, and deliver its answer this way.
    Deliver(Delivery),
}

impl Fault {
    /// The effect of this fault on a request to `endpoint`, at emulator time
    /// `now_unix` (unix seconds, for the claims of decoy tokens).
    pub(crate) fn effect(self, endpoint: Endpoint, now_unix: u64) -> Effect {
        let final_status = |status: u16| {
            if FINAL_STATUS.contains(&status) {
                status
            } else {
                500
            }
        };
        match self {
            Fault::Status {
                status,
                envelope: with_envelope,
                retry_after,
            } => {
                let status = final_status(status);
                let mut reply = match (with_envelope, status) {
                    (true, 200..=299) => decoy_success(endpoint, now_unix),
                    (true, _) => {
                        Reply::json(status, envelope::for_status(status), Outcome::Faulted)
                    }
                    (false, _) => Reply::json(status, Vec::new(), Outcome::Faulted),
                };
                reply.status = status;
                // A value with control characters could split the header block.
                if let Some(value) = retry_after.filter(|v| !v.chars().any(char::is_control)) {
                    reply = reply.with_header("Retry-After", value);
                }
                Effect::Replace(reply)
            }
            Fault::Html { status } => {
                let status = final_status(status);
                let mut reply = Reply::json(status, html_page(status), Outcome::Faulted);
                reply.content_type = "text/html; charset=utf-8";
                Effect::Replace(reply)
            }
            Fault::DelayHeaders(d) => Effect::WaitFirst(d),
            Fault::DelayBody(d) => Effect::Deliver(Delivery::Paused(d)),
            Fault::Truncate => {
                let mut reply = decoy_success(endpoint, now_unix);
                reply.delivery = Delivery::Truncated;
                Effect::Replace(reply)
            }
            Fault::Reset => {
                let mut reply = Reply::json(200, Vec::new(), Outcome::Faulted);
                reply.delivery = Delivery::Reset;
                Effect::Replace(reply)
            }
            Fault::Oversized { bytes } => {
                let mut reply = Reply::json(200, Vec::new(), Outcome::Faulted);
                reply.body = Payload::Padding(bytes);
                Effect::Replace(reply)
            }
        }
    }
}

/// A well-formed success answer of `endpoint`, with tokens that were never issued:
/// faults never touch the token store.
fn decoy_success(endpoint: Endpoint, iat: u64) -> Reply {
    let data = if endpoint == Endpoint::WhoAmI {
        json!({"userIdentifier": "decoy", "expiresAt": iat + 480})
    } else {
        json!({
            "accessToken": tokens::jwt("decoy", iat, iat + 480, "Bearer"),
            "refreshToken": tokens::jwt("decoy", iat, iat + 3660, "Refresh"),
            "expiresIn": 480,
            "refreshExpiresIn": 3660,
            "tokenType": "Bearer",
        })
    };
    Reply::json(200, envelope::success(data), Outcome::Faulted)
}

/// An HTML error page such as a reverse proxy sends.
pub(crate) fn html_page(status: u16) -> Vec<u8> {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    .into_bytes()
}

/// Statuses of a final answer: hyper answers 500 for a 1xx, and 600 and above are
/// not HTTP.
const FINAL_STATUS: std::ops::RangeInclusive<u16> = 200..=599;

/// Upper bounds that keep a typo in an admin request from wedging a test run.
const MAX_DELAY_MS: u64 = 600_000;
const MAX_OVERSIZED: usize = 1 << 30;

/// A fault as `POST /_emulator/faults` spells it: `{"type": "status", ...}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FaultSpec {
    Status {
        status: u16,
        #[serde(default = "yes")]
        envelope: bool,
        #[serde(rename = "retryAfter", default)]
        retry_after: Option<String>,
    },
    Html {
        status: u16,
    },
    DelayHeaders {
        ms: u64,
    },
    DelayBody {
        ms: u64,
    },
    // Empty braces, not unit variants: serde ignores unknown fields beside a unit
    // variant's tag, and a typo must not pass silently.
    Truncate {},
    Reset {},
    Oversized {
        bytes: usize,
    },
}

fn yes() -> bool {
    true
}

impl TryFrom<FaultSpec> for Fault {
    /// What is wrong with the spec; it never quotes a value back.
    type Error = String;

    fn try_from(spec: FaultSpec) -> Result<Fault, String> {
        let status_ok = |status: u16| {
            if FINAL_STATUS.contains(&status) {
                Ok(status)
            } else {
                Err("status must be between 200 and 599".to_owned())
            }
        };
        let delay = |ms: u64| {
            if ms <= MAX_DELAY_MS {
                Ok(Duration::from_millis(ms))
            } else {
                Err(format!("ms must be at most {MAX_DELAY_MS}"))
            }
        };
        Ok(match spec {
            FaultSpec::Status {
                status,
                envelope,
                retry_after,
            } => {
                if retry_after
                    .as_deref()
                    .is_some_and(|v| v.chars().any(char::is_control))
                {
                    return Err("retryAfter must not contain control characters".into());
                }
                Fault::Status {
                    status: status_ok(status)?,
                    envelope,
                    retry_after,
                }
            }
            FaultSpec::Html { status } => Fault::Html {
                status: status_ok(status)?,
            },
            FaultSpec::DelayHeaders { ms } => Fault::DelayHeaders(delay(ms)?),
            FaultSpec::DelayBody { ms } => Fault::DelayBody(delay(ms)?),
            FaultSpec::Truncate {} => Fault::Truncate,
            FaultSpec::Reset {} => Fault::Reset,
            FaultSpec::Oversized { bytes } => {
                if bytes > MAX_OVERSIZED {
                    return Err(format!("bytes must be at most {MAX_OVERSIZED}"));
                }
                Fault::Oversized { bytes }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_serves_in_order_then_empties() {
        let q = FaultQueue::default();
        q.push(Endpoint::Refresh, Fault::Reset, 2);
        q.push(Endpoint::Refresh, Fault::Truncate, 1);
        assert_eq!(q.pending(Endpoint::Refresh), 3);
        assert_eq!(q.take(Endpoint::Refresh), Some(Fault::Reset));
        assert_eq!(q.take(Endpoint::Refresh), Some(Fault::Reset));
        assert_eq!(q.take(Endpoint::Refresh), Some(Fault::Truncate));
        assert_eq!(q.take(Endpoint::Refresh), None);
        assert_eq!(q.take(Endpoint::Authenticate), None);
    }

    fn parse(json: &str) -> Result<Fault, String> {
        let spec: FaultSpec = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Fault::try_from(spec)
    }

    #[test]
    fn every_fault_has_a_json_form() {
        let cases = [
            (
                r#"{"type":"status","status":503,"retryAfter":"1"}"#,
                Fault::Status {
                    status: 503,
                    envelope: true,
                    retry_after: Some("1".into()),
                },
            ),
            (
                r#"{"type":"html","status":502}"#,
                Fault::Html { status: 502 },
            ),
            (
                r#"{"type":"delay_headers","ms":5}"#,
                Fault::DelayHeaders(Duration::from_millis(5)),
            ),
            (
                r#"{"type":"delay_body","ms":5}"#,
                Fault::DelayBody(Duration::from_millis(5)),
            ),
            (r#"{"type":"truncate"}"#, Fault::Truncate),
            (r#"{"type":"reset"}"#, Fault::Reset),
            (
                r#"{"type":"oversized","bytes":9}"#,
                Fault::Oversized { bytes: 9 },
            ),
        ];
        for (json, fault) in cases {
            assert_eq!(parse(json), Ok(fault), "{json}");
        }
    }

    #[test]
    fn broken_json_forms_are_refused_with_a_reason() {
        for (json, needle) in [
            (r#"{"type":"status","status":42}"#, "status must be"),
            (r#"{"type":"html","status":600}"#, "status must be"),
            (r#"{"type":"html","status":103}"#, "status must be"),
            (
                r#"{"type":"delay_headers","ms":600001}"#,
                "ms must be at most",
            ),
            (
                r#"{"type":"oversized","bytes":1073741825}"#,
                "bytes must be at most",
            ),
            (
                r#"{"type":"status","status":503,"retryAfter":"1\r\nX: y"}"#,
                "control characters",
            ),
            (r#"{"type":"bogus"}"#, "unknown variant"),
            (r#"{"type":"reset","extra":1}"#, "unknown field"),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn effects() {
        let replace = |fault: Fault| match fault.effect(Endpoint::Refresh, 1_700_000_000) {
            Effect::Replace(reply) => reply,
            other => panic!("{other:?}"),
        };
        let status = replace(Fault::Status {
            status: 429,
            envelope: true,
            retry_after: Some("3\r\nX: y".into()),
        });
        assert_eq!((status.status, status.outcome), (429, Outcome::Faulted));
        assert!(
            status.headers.is_empty(),
            "a control character drops Retry-After"
        );
        let informational = replace(Fault::Status {
            status: 103,
            envelope: false,
            retry_after: None,
        });
        assert_eq!(informational.status, 500);
        let ok = replace(Fault::Status {
            status: 200,
            envelope: true,
            retry_after: None,
        });
        assert_eq!(ok.status, 200);
        assert_eq!(replace(Fault::Truncate).delivery, Delivery::Truncated);
        assert_eq!(replace(Fault::Reset).delivery, Delivery::Reset);
        assert_eq!(
            replace(Fault::Oversized { bytes: 5 }).body,
            Payload::Padding(5)
        );
        let html = replace(Fault::Html { status: 502 });
        assert!(
            String::from_utf8_lossy(match &html.body {
                Payload::Bytes(b) => b,
                Payload::Padding(_) => unreachable!(),
            })
            .contains("502 Bad Gateway")
        );
        assert!(matches!(
            Fault::DelayHeaders(Duration::from_millis(1)).effect(Endpoint::WhoAmI, 0),
            Effect::WaitFirst(_)
        ));
        assert!(matches!(
            Fault::DelayBody(Duration::from_millis(1)).effect(Endpoint::WhoAmI, 0),
            Effect::Deliver(Delivery::Paused(_))
        ));
    }
}
