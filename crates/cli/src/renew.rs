//! Renews through the blocking provider, so the command runs the core's one driver
//! loop (retries, backoff, `Retry-After`, the order of token sources, the fallback to
//! login) and decides nothing itself. It only keeps what the command reports: the
//! pair received, and which request failed last.

use std::time::{Duration, Instant};

use smartling_auth_core::{
    AccessToken, BaseUrl, Error, Handled, RequestKind, TokenPair, TransportError,
    error::SessionEnd, error::TransportErrorKind,
};
use smartling_auth_isahc::{
    Builder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_TIMEOUT, TokenProvider,
};

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

    /// A provider builder for `base` with these limits; the caller adds the token
    /// sources. Nothing is built yet, so the cached path never makes an HTTP client.
    pub(crate) fn builder(&self, base: &BaseUrl) -> Builder<TokenProvider> {
        TokenProvider::builder(base.clone())
            .timeouts(DEFAULT_CONNECT_TIMEOUT.min(self.request), self.request)
            .deadline(self.deadline.saturating_duration_since(Instant::now()))
    }

    fn timed_out(&self) -> Failure {
        Failure::from(Error::Transport(TransportError::timeout(self.budget)))
    }
}

/// What a successful run produced.
#[derive(Debug)]
pub(crate) struct Renewed {
    /// The token the session hands out now.
    pub token: AccessToken,
    /// The pair the last successful request returned (what `authenticate` and
    /// `refresh` print).
    pub pair: Option<TokenPair>,
}

/// Builds the provider and asks it for a token, within the limits.
pub(crate) fn run(builder: Builder<TokenProvider>, limits: &Limits) -> Result<Renewed, Failure> {
    if Instant::now() >= limits.deadline {
        return Err(limits.timed_out());
    }
    let provider = builder.build()?;
    let mut pair = None;
    // The error behind the last failed request: the call may end with a summary (a
    // timeout, `SessionEnded`) that no longer names the HTTP status and Smartling code.
    let mut last: Option<(RequestKind, Error)> = None;
    let result = provider.access_token_with(|kind, handled| match handled {
        Handled::Renewed(p) => pair = Some(p.clone()),
        other => {
            if let Some(e) = other.error() {
                last = Some((kind, e.clone()));
            }
        }
    });
    match result {
        Ok(token) => Ok(Renewed { token, pair }),
        Err(error) => Err(explain(error, last, limits)),
    }
}

/// Names the request that failed, and prefers the server's words to a summary.
fn explain(error: Error, last: Option<(RequestKind, Error)>, limits: &Limits) -> Failure {
    let deadline = matches!(&error, Error::Transport(t) if t.kind == TransportErrorKind::Timeout);
    match (error, last) {
        // The deadline passed while waiting for the next try: report that try's cause.
        (_, Some((kind, cause))) if deadline => Failure::Auth {
            during: Some(kind),
            error: cause,
            note: Some(" (giving up: the deadline passed)"),
        },
        (_, None) if deadline => limits.timed_out(),
        (error @ Error::SessionEnded(SessionEnd::NoCredentials), _) => Failure::Auth {
            during: None,
            error,
            note: None,
        },
        (error, last) => {
            let note = error.is_retryable().then_some(" (giving up)");
            Failure::Auth {
                during: last.map(|(kind, _)| kind),
                error,
                note,
            }
        }
    }
}
