//! One request, start to finish: route it, let the admin guard check admin requests,
//! read the body within bounds, apply an injected fault's effect, count the
//! outcome, and hand hyper the answer.

use std::fmt;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};

use crate::admin;
use crate::body::ReplyBody;
use crate::conn::Control;
use crate::counters::Outcome;
use crate::endpoint::Endpoint;
use crate::envelope::ErrorItem;
use crate::faults::Effect;
use crate::guard;
use crate::handlers;
use crate::reply::{Delivery, Reply};
use crate::state::State;

/// What a request's handling knows about its connection.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) state: Arc<State>,
    pub(crate) control: Arc<Control>,
    /// The address the client connected to.
    pub(crate) local: SocketAddr,
    /// Longest wait for a request body.
    pub(crate) read_timeout: Duration,
}

/// The answer is no answer: hyper drops the connection, which [`Control::reset`]
/// has turned into an RST.
#[derive(Debug)]
pub(crate) struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset on purpose")
    }
}

impl std::error::Error for Dropped {}

/// Answers one request.
pub(crate) async fn respond(
    cx: Context,
    request: Request<Incoming>,
) -> Result<Response<ReplyBody>, Dropped> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let is_admin = path == "/_emulator" || path.starts_with("/_emulator/");
    let endpoint = Endpoint::for_path(&path);
    let state = &cx.state;

    // Refused before reading anything: the body could be endless.
    let max_body = u64::try_from(state.max_body).unwrap_or(u64::MAX);
    if declared_length(&parts).is_some_and(|len| len > max_body) {
        let reply = Reply::too_large(state.max_body);
        if !is_admin {
            state.counters.record(endpoint, reply.outcome);
        }
        return deliver(&cx, reply);
    }

    if is_admin {
        let reply = match guard::check(state, &parts, cx.local) {
            Err(refusal) => refusal,
            Ok(()) => match read_body(&cx, body).await {
                Ok(bytes) => guarded(|| admin::handle(state, &parts.method, &path, &bytes)),
                Err(reply) => reply,
            },
        };
        return deliver(&cx, reply);
    }

    if let Some(expected) = endpoint.method()
        && parts.method.as_str() != expected
    {
        let reply = Reply::method_not_allowed(expected);
        state.counters.record(endpoint, reply.outcome);
        return deliver(&cx, reply);
    }

    // Read before any fault is served, so that closing a faulted connection never
    // leaves unread input behind.
    let body = read_body(&cx, body).await;

    let mut delivery = Delivery::Whole;
    let now = state.clock.unix_secs(state.clock.now());
    match state.faults.take(endpoint).map(|f| f.effect(endpoint, now)) {
        None => {}
        Some(Effect::Replace(reply)) => {
            state.counters.record(endpoint, reply.outcome);
            return deliver(&cx, reply);
        }
        // Only this request waits: the connection's task sleeps, nothing else does.
        Some(Effect::WaitFirst(wait)) => tokio::time::sleep(wait).await,
        Some(Effect::Deliver(how)) => delivery = how,
    }

    let limited = match (&state.limiter, endpoint) {
        (Some(limiter), Endpoint::Authenticate) => limiter.check(state.clock.now()).err(),
        _ => None,
    };
    let mut reply = match (limited, body) {
        (Some(wait), _) => rate_limited(wait),
        (None, Err(reply)) => reply,
        (None, Ok(body)) => process(state, &parts, endpoint, &body),
    };
    if reply.delivery == Delivery::Whole {
        reply.delivery = delivery;
    }
    state.counters.record(endpoint, reply.outcome);
    deliver(&cx, reply)
}

/// Normal processing for an API endpoint.
fn process(state: &State, parts: &Parts, endpoint: Endpoint, body: &[u8]) -> Reply {
    match endpoint {
        Endpoint::Authenticate => guarded(|| handlers::authenticate(state, body)),
        Endpoint::Refresh => guarded(|| handlers::refresh(state, body)),
        Endpoint::WhoAmI => {
            let auth = parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            guarded(|| handlers::whoami(state, auth))
        }
        Endpoint::Other => Reply::not_found("Resource not found"),
    }
}

/// Runs a handler, turning a panic into 500 GENERAL_ERROR.
fn guarded(f: impl FnOnce() -> Reply) -> Reply {
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Reply::internal())
}

fn rate_limited(wait_secs: u64) -> Reply {
    Reply::error(
        429,
        Outcome::RateLimited,
        &[ErrorItem::new(
            "too_many_requests",
            "Too many authentication requests; retry later",
        )
        .with_error_id()],
    )
    .with_header("Retry-After", wait_secs.to_string())
}

/// The declared `Content-Length`; an unreadable one counts as endless.
fn declared_length(parts: &Parts) -> Option<u64> {
    let value = parts.headers.get(CONTENT_LENGTH)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(u64::MAX),
    )
}

/// Reads the body: at most `max_body` bytes, within the read timeout.
async fn read_body(cx: &Context, body: Incoming) -> Result<Vec<u8>, Reply> {
    let max = cx.state.max_body;
    let collect = Limited::new(body, max).collect();
    match tokio::time::timeout(cx.read_timeout, collect).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Reply::too_large(max)),
        Ok(Err(_)) => {
            Err(Reply::validation("invalid_body", "Could not read the request body").closing())
        }
        Err(_) => Err(Reply::error(
            408,
            Outcome::Rejected,
            &[ErrorItem::new(
                "request_timeout",
                "The request body did not arrive in time",
            )],
        )
        .closing()),
    }
}

/// Turns a reply into hyper's response, or into a reset.
fn deliver(cx: &Context, reply: Reply) -> Result<Response<ReplyBody>, Dropped> {
    if reply.delivery == Delivery::Reset {
        cx.control.reset();
        return Err(Dropped);
    }
    let mut response = Response::new(ReplyBody::new(reply.body, reply.delivery, &cx.control));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    let fixed = [
        ("Content-Type", reply.content_type.to_owned()),
        ("Server", "smartling-auth-emulator".to_owned()),
    ];
    let close = reply.close.then(|| ("Connection", "close".to_owned()));
    for (name, value) in fixed.into_iter().chain(reply.headers).chain(close) {
        // A value that is not a valid header (a control character) is left out.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    Ok(response)
}
