//! Worker threads: take requests from tiny_http, route them, serve faults, answer.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use tiny_http::{Header, Request, Response, Server, StatusCode};

use crate::admin;
use crate::clock::Clock;
use crate::counters::{LiveCounters, Outcome};
use crate::endpoint::Endpoint;
use crate::envelope;
use crate::faults::{self, Fault, FaultQueue, Padding};
use crate::handlers;
use crate::ratelimit::RateLimiter;
use crate::relay::Relay;
use crate::reply::Reply;
use crate::tokens::TokenStore;

/// Largest declared body tiny_http may drain when a request is dropped. tiny_http
/// allocates the whole unread remainder at once while draining, so a request that
/// declares more is answered on the raw connection and never dropped (see
/// [`refuse_huge_body`]).
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// State shared by all worker threads.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clock: Clock,
    pub(crate) tokens: TokenStore,
    pub(crate) faults: FaultQueue,
    pub(crate) counters: LiveCounters,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) users: Vec<(String, String)>,
    pub(crate) max_body: usize,
    pub(crate) stop: StopSignal,
    pub(crate) relay: Arc<Relay>,
}

impl Shared {
    /// Compares against every user without early exit, so timing reveals nothing.
    pub(crate) fn credentials_match(&self, id: &str, secret: &str) -> bool {
        self.users.iter().fold(false, |found, (uid, usecret)| {
            found
                | (ct_eq(uid.as_bytes(), id.as_bytes())
                    & ct_eq(usecret.as_bytes(), secret.as_bytes()))
        })
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A stop flag whose sleeps end early on shutdown, so injected delays never hold up
/// `Emulator::shutdown`.
#[derive(Debug, Default)]
pub(crate) struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    pub(crate) fn set(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    pub(crate) fn is_set(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `d` unless stopped first.
    pub(crate) fn sleep(&self, d: Duration) {
        let deadline = Instant::now() + d;
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// One worker: serves requests until shutdown.
pub(crate) fn worker(shared: &Shared, server: &Server) {
    while !shared.stop.is_set() {
        match server.recv() {
            Ok(request) => {
                // A panic outside the guarded handlers drops the request, which makes
                // tiny_http answer a bare 500; the worker itself carries on.
                let _ = panic::catch_unwind(AssertUnwindSafe(|| handle(shared, request)));
            }
            // Unblocked for shutdown, or tiny_http's listener failed.
            Err(_) if shared.stop.is_set() => break,
            Err(_) => shared.stop.sleep(Duration::from_millis(50)),
        }
    }
}

/// Runs a handler, turning a panic into 500 GENERAL_ERROR.
fn guarded(f: impl FnOnce() -> Reply) -> Reply {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Reply::internal())
}

fn handle(shared: &Shared, mut request: Request) {
    let method = request.method().clone();
    let path = request
        .url()
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let is_admin = path.starts_with("/_emulator/") || path == "/_emulator";
    let endpoint = Endpoint::for_path(&path);

    if request.body_length().is_some_and(|len| len > DRAIN_LIMIT) {
        if !is_admin {
            shared.counters.record(endpoint, Outcome::Rejected);
        }
        refuse_huge_body(shared, request);
        return;
    }

    if is_admin {
        let reply = match read_body(shared, &mut request) {
            Ok(body) => guarded(|| admin::handle(shared, &method, &path, &body)),
            Err(reply) => reply,
        };
        send(shared, request, reply);
        return;
    }

    if let Some(expected) = endpoint.method() {
        if method.as_str() != expected {
            let reply = admin::method_not_allowed(expected);
            shared.counters.record(endpoint, reply.outcome);
            send(shared, request, reply);
            return;
        }
    }

    let mut body_delay = None;
    match shared.faults.take(endpoint) {
        None => {}
        Some(Fault::DelayHeaders(d)) => shared.stop.sleep(d),
        Some(Fault::DelayBody(d)) => body_delay = Some(d),
        Some(fault) => {
            shared.counters.record(endpoint, Outcome::Faulted);
            serve_fault(shared, request, endpoint, fault);
            return;
        }
    }

    let reply = if endpoint == Endpoint::Authenticate {
        match shared
            .limiter
            .as_ref()
            .map_or(Ok(()), |l| l.check(shared.clock.now()))
        {
            Ok(()) => process(shared, &mut request, endpoint),
            Err(wait) => rate_limited(wait),
        }
    } else {
        process(shared, &mut request, endpoint)
    };
    shared.counters.record(endpoint, reply.outcome);
    match body_delay {
        Some(d) => send_slow_body(shared, request, &reply, d),
        None => send(shared, request, reply),
    }
}

/// Normal processing for an API endpoint.
fn process(shared: &Shared, request: &mut Request, endpoint: Endpoint) -> Reply {
    match endpoint {
        Endpoint::Authenticate | Endpoint::Refresh => match read_body(shared, request) {
            Ok(body) if endpoint == Endpoint::Authenticate => {
                guarded(|| handlers::authenticate(shared, &body))
            }
            Ok(body) => guarded(|| handlers::refresh(shared, &body)),
            Err(reply) => reply,
        },
        Endpoint::WhoAmI => {
            let auth = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.as_str().to_owned());
            guarded(|| handlers::whoami(shared, auth.as_deref()))
        }
        Endpoint::Other => Reply::error(
            404,
            Outcome::NotFound,
            &[envelope::ErrorItem::new("not_found", "Resource not found")],
        ),
    }
}

fn rate_limited(wait_secs: u64) -> Reply {
    Reply::error(
        429,
        Outcome::RateLimited,
        &[envelope::ErrorItem::new(
            "too_many_requests",
            "Too many authentication requests; retry later",
        )
        .with_error_id()],
    )
    .with_header("Retry-After", wait_secs.to_string())
}

/// Reads at most `max_body + 1` bytes: enough to tell "too large" without ever
/// buffering unbounded input.
fn read_body(shared: &Shared, request: &mut Request) -> Result<Vec<u8>, Reply> {
    let max = shared.max_body;
    if request.body_length().is_some_and(|len| len > max) {
        return Err(Reply::too_large(max));
    }
    let mut body = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    if request
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .is_err()
    {
        let mut reply = Reply::validation("invalid_body", "Could not read the request body");
        reply.close = true;
        return Err(reply);
    }
    if body.len() > max {
        return Err(Reply::too_large(max));
    }
    Ok(body)
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

/// Answers through tiny_http.
fn send(shared: &Shared, request: Request, reply: Reply) {
    let remote = request.remote_addr().copied();
    let mut response = Response::from_data(reply.body).with_status_code(reply.status);
    let mut headers = vec![
        ("Content-Type", reply.content_type.to_owned()),
        ("Server", "smartling-auth-emulator".to_owned()),
    ];
    headers.extend(reply.headers);
    if reply.close {
        headers.push(("Connection", "close".to_owned()));
    }
    for (name, value) in headers {
        if let Some(h) = header(name, &value) {
            response.add_header(h);
        }
    }
    let _ = request.respond(response);
    if reply.close {
        if let Some(remote) = remote {
            shared.relay.finish(remote);
        }
    }
}

/// [`Fault::DelayBody`]: headers and half the body, a pause, then the rest.
fn send_slow_body(shared: &Shared, request: Request, reply: &Reply, delay: Duration) {
    let remote = request.remote_addr().copied();
    let mut writer = request.into_writer();
    let half = reply.body.len() / 2;
    let result = writer
        .write_all(&reply.head(reply.body.len(), reply.close))
        .and_then(|()| writer.write_all(&reply.body[..half]))
        .and_then(|()| writer.flush());
    if result.is_ok() {
        shared.stop.sleep(delay);
        let _ = writer
            .write_all(&reply.body[half..])
            .and_then(|()| writer.flush());
    }
    drop(writer);
    if reply.close {
        if let Some(remote) = remote {
            shared.relay.finish(remote);
        }
    }
}

/// A body that could pass for a real success answer of `endpoint`, with tokens that
/// were never issued: faults never touch the token store.
fn decoy_success(shared: &Shared, endpoint: Endpoint) -> Vec<u8> {
    let iat = shared.clock.unix_secs(shared.clock.now());
    if endpoint == Endpoint::WhoAmI {
        return envelope::success(json!({"userIdentifier": "decoy", "expiresAt": iat + 480}));
    }
    envelope::success(json!({
        "accessToken": crate::tokens::jwt("decoy", iat, iat + 480, "Bearer"),
        "refreshToken": crate::tokens::jwt("decoy", iat, iat + 3660, "Refresh"),
        "expiresIn": 480,
        "refreshExpiresIn": 3660,
        "tokenType": "Bearer",
    }))
}

fn serve_fault(shared: &Shared, request: Request, endpoint: Endpoint, fault: Fault) {
    let remote = request.remote_addr().copied();
    match fault {
        Fault::Status {
            status,
            envelope: with_envelope,
            retry_after,
        } => {
            let mut reply = match (with_envelope, status) {
                (true, 200..=299) => {
                    Reply::json(status, decoy_success(shared, endpoint), Outcome::Faulted)
                }
                (true, _) => Reply::json(status, envelope::for_status(status), Outcome::Faulted),
                (false, _) => Reply::json(status, Vec::new(), Outcome::Faulted),
            };
            // A value with control characters could split the header block.
            if let Some(value) = retry_after.filter(|v| !v.chars().any(char::is_control)) {
                reply = reply.with_header("Retry-After", value);
            }
            send(shared, request, reply);
        }
        Fault::Html { status } => {
            let mut reply = Reply::json(status, faults::html_page(status), Outcome::Faulted);
            reply.content_type = "text/html; charset=utf-8";
            send(shared, request, reply);
        }
        Fault::Truncate => {
            let body = decoy_success(shared, endpoint);
            let reply = Reply::json(200, Vec::new(), Outcome::Faulted);
            let mut writer = request.into_writer();
            let _ = writer
                .write_all(&reply.head(body.len(), true))
                .and_then(|()| writer.write_all(&body[..body.len() / 2]))
                .and_then(|()| writer.flush());
            drop(writer);
            // Let the relay pick up the partial bytes before it closes the connection.
            thread::sleep(Duration::from_millis(10));
            if let Some(remote) = remote {
                shared.relay.finish(remote);
            }
        }
        Fault::Reset => {
            drop(request.into_writer());
            if let Some(remote) = remote {
                shared.relay.reset(remote);
            }
        }
        Fault::Oversized { bytes } => {
            let headers = [
                header("Content-Type", "application/json"),
                header("Server", "smartling-auth-emulator"),
            ];
            let response = Response::new(
                StatusCode(200),
                headers.into_iter().flatten().collect(),
                Padding::new(bytes),
                Some(bytes),
                None,
            )
            // Keep Content-Length: the point is a body whose size the client can see.
            .with_chunked_threshold(usize::MAX);
            let _ = request.respond(response);
        }
        // Delays are handled by the caller; nothing else exists yet.
        Fault::DelayHeaders(_) | Fault::DelayBody(_) => {}
    }
}

/// Answers 413 for a request declaring a body tiny_http cannot safely drain, writing
/// straight to the client connection, then closes it.
///
/// Dropping such a request would make tiny_http allocate the whole declared length,
/// which can abort the process; so the request is deliberately leaked instead. That
/// parks one tiny_http connection thread for the life of the process: a bounded cost
/// paid only for hostile input, instead of an abort.
fn refuse_huge_body(shared: &Shared, request: Request) {
    let remote: Option<SocketAddr> = request.remote_addr().copied();
    let Some(remote) = remote else {
        drop(request);
        return;
    };
    let reply = Reply::too_large(shared.max_body);
    let mut bytes = reply.head(reply.body.len(), true);
    bytes.extend_from_slice(&reply.body);
    shared.relay.answer_and_close(remote, &bytes);
    std::mem::forget(request);
}
