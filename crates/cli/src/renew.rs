//! Drives a core `Session` over the blocking isahc client until it hands out a token,
//! so retries, backoff, `Retry-After` and the fallback to login follow the core policy.

use std::time::{Duration, Instant};

use smartling_auth_core::{
    Action, Error, Grant, Policy, RequestKind, Session, SessionEnd, TokenPair, TransportError,
    parse_token_response_with,
};
use smartling_auth_isahc::{Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_TIMEOUT};

use crate::exit::Failure;

/// Time limits of one command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Total timeout of each request.
    pub request: Duration,
    /// When the whole command gives up (lock wait included).
    pub deadline: Instant,
    /// The length of the whole allowance, for messages.
    pub budget: Duration,
}

impl Limits {
    /// `--timeout` sets both the per-request timeout and the overall deadline; without
    /// it, the transport's defaults apply.
    pub(crate) fn new(start: Instant, timeout: Option<Duration>) -> Self {
        let (request, budget) = match timeout {
            Some(t) => (t, t),
            None => (DEFAULT_TIMEOUT, DEFAULT_DEADLINE),
        };
        Self {
            request,
            deadline: start + budget,
            budget,
        }
    }

    /// The lifecycle policy: the core defaults, with the session's own notion of a lost
    /// request kept above the transport's timeout so it never abandons a live request.
    pub(crate) fn policy(&self) -> Policy {
        let mut policy = Policy::default();
        policy.request_timeout = policy
            .request_timeout
            .max(self.request + Duration::from_secs(5));
        policy
    }
}

/// What a successful run produced.
#[derive(Debug)]
pub(crate) struct Renewed {
    /// The token the session hands out now.
    pub grant: Grant,
    /// The pair the last successful request returned (what `authenticate` and
    /// `refresh` print).
    pub pair: Option<TokenPair>,
}

/// Polls `session` and does what it says until it yields a token, fails, or the
/// deadline would pass. The isahc client (a curl handle and a thread) is made only
/// here, on the first request, so the cached path never pays for it.
pub(crate) fn run(session: &mut Session, limits: &Limits) -> Result<Renewed, Failure> {
    let mut client: Option<Client> = None;
    let mut pair = None;
    // The error behind the last failed request: the session may end with a summary
    // (`SessionEnded`) that no longer names the HTTP status and Smartling code.
    let mut last: Option<(RequestKind, Error)> = None;
    loop {
        let now = Instant::now();
        match session.poll(now) {
            Action::UseToken(grant) => return Ok(Renewed { grant, pair }),
            Action::Fail(error) => return Err(explain(error, last)),
            Action::Wait(until) => {
                if until >= limits.deadline {
                    return Err(gave_up(last, limits));
                }
                std::thread::sleep(until.saturating_duration_since(now));
            }
            Action::Send(tx) => {
                // curl reads a zero-millisecond timeout as none: keep at least one.
                let left = limits.deadline.saturating_duration_since(now);
                if left < Duration::from_millis(1) {
                    return Err(gave_up(last, limits));
                }
                let http = match &client {
                    Some(c) => c,
                    None => client.insert(Client::new()?),
                };
                let total = limits.request.min(left);
                let answer = http
                    .clone()
                    .timeouts(DEFAULT_CONNECT_TIMEOUT.min(total), total)
                    .send(&tx.request);
                let done = Instant::now();
                match answer {
                    Ok(response) => {
                        match parse_token_response_with(&response, &session.policy().parse) {
                            Ok(p) => pair = Some(p),
                            Err(e) => last = Some((tx.kind, e)),
                        }
                        session.handle_response(done, tx.id, &response);
                    }
                    Err(e) => {
                        last = Some((tx.kind, Error::Transport(e.clone())));
                        session.handle_transport_error(done, tx.id, e);
                    }
                }
            }
        }
    }
}

/// A refused refresh without credentials ends the session; report the server's
/// answer (status, code, message) rather than the summary.
fn explain(error: Error, last: Option<(RequestKind, Error)>) -> Failure {
    match (error, last) {
        (Error::SessionEnded(SessionEnd::RefreshRejected), Some((kind, cause))) => Failure::Auth {
            during: Some(kind),
            error: cause,
            note: None,
        },
        (error @ Error::SessionEnded(_), _) => Failure::Auth {
            during: None,
            error,
            note: None,
        },
        (error, last) => Failure::Auth {
            during: last.map(|(kind, _)| kind),
            error,
            note: None,
        },
    }
}

/// The deadline would pass before the next try: report the last failure, or a
/// timeout when there was none.
fn gave_up(last: Option<(RequestKind, Error)>, limits: &Limits) -> Failure {
    match last {
        Some((kind, error)) => Failure::Auth {
            during: Some(kind),
            error,
            note: Some(" (giving up: the deadline would pass before the next try)"),
        },
        None => Failure::from(Error::Transport(TransportError::timeout(limits.budget))),
    }
}
