//! Injectable faults and the per-endpoint queues that hold them.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::endpoint::Endpoint;

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
    Status {
        /// HTTP status code.
        status: u16,
        /// Send a Smartling error envelope (`true`) or an empty body (`false`).
        envelope: bool,
        /// `Retry-After` header value, sent as given.
        retry_after: Option<String>,
    },
    /// An HTML error page with `status`, like a proxy's 502 `Bad Gateway`.
    Html {
        /// HTTP status code.
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

/// An HTML error page such as a reverse proxy sends.
pub(crate) fn html_page(status: u16) -> Vec<u8> {
    let reason = tiny_http::StatusCode(status).default_reason_phrase();
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    .into_bytes()
}

/// Streams exactly `len` bytes of a JSON-looking body without allocating it:
/// `{"response":{"code":"SUCCESS","data":{"padding":"xxxx..."}}}`.
#[derive(Debug)]
pub(crate) struct Padding {
    len: usize,
    pos: usize,
}

const PAD_PREFIX: &[u8] = br#"{"response":{"code":"SUCCESS","data":{"padding":""#;
const PAD_SUFFIX: &[u8] = br#""}}}"#;

impl Padding {
    pub(crate) fn new(len: usize) -> Self {
        Padding { len, pos: 0 }
    }

    fn byte_at(&self, i: usize) -> u8 {
        let frame = PAD_PREFIX.len() + PAD_SUFFIX.len();
        if self.len < frame {
            // Too short for the frame: whitespace is the only "valid-looking" filler.
            return b' ';
        }
        if i < PAD_PREFIX.len() {
            PAD_PREFIX[i]
        } else if i >= self.len - PAD_SUFFIX.len() {
            PAD_SUFFIX[i - (self.len - PAD_SUFFIX.len())]
        } else {
            b'x'
        }
    }
}

impl Read for Padding {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.len - self.pos);
        for (i, slot) in buf[..n].iter_mut().enumerate() {
            *slot = self.byte_at(self.pos + i);
        }
        self.pos += n;
        Ok(n)
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

    #[test]
    fn padding_is_exact_and_parses() {
        let mut body = Vec::new();
        Padding::new(1000).read_to_end(&mut body).unwrap();
        assert_eq!(body.len(), 1000);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["response"]["code"], "SUCCESS");
        let mut short = Vec::new();
        Padding::new(5).read_to_end(&mut short).unwrap();
        assert_eq!(short, b"     ");
    }
}
