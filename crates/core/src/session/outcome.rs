//! What the session makes of an answer: a renewal installed, a retry after a backoff,
//! a fall back to the next token source, or a failure latched for the callers.

use std::time::{Duration, Instant};

use http::StatusCode;
use tracing::debug;

use super::{Handled, InFlight, RefreshState, RequestKind, Session};
use crate::error::{Error, FieldProblem};
use crate::response::TokenPair;

/// A refresh answered with a 4xx other than 408/429 (401 `invalid_token`, the session
/// cap, a 400 for a mangled token): that refresh token will not work, but the
/// credentials may.
fn is_refusal(error: &Error) -> bool {
    error
        .status()
        .is_some_and(|s| s.is_client_error() && !error.is_retryable())
}

impl Session {
    pub(super) fn complete(&mut self, now: Instant, result: Result<TokenPair, Error>) -> Handled {
        let Some(f) = self.inflight.take() else {
            return Handled::Stale;
        };
        match result {
            Ok(pair) => self.renewed(&f, pair),
            // A server or proxy may echo the request body into its answer; the
            // heuristic redaction cannot know a secret shaped like prose.
            Err(e) => {
                let e = e.redact_exact(&[f.carried.secret()]);
                self.renewal_failed(now, &f, e)
            }
        }
    }

    pub(super) fn renewed(&mut self, f: &InFlight, pair: TokenPair) -> Handled {
        let margin = self.policy.margins(pair.expires_in).min_validity;
        // Near the session cap a refresh returns ever shorter lifetimes: one far below
        // the previous grant's means the session is ending, and a login starts afresh.
        let shrunk = f.kind == RequestKind::Refresh
            && self
                .last_lifetimes
                .is_some_and(|(access, _)| pair.expires_in < access / 4);
        let too_short = pair.expires_in <= margin;
        self.install(f.sent_at, &pair);
        self.failures = 0;
        self.not_before = None;
        self.retrying = None;
        if shrunk && self.credentials.is_some() {
            // Log in now; the short token serves the other callers meanwhile.
            if let Some(r) = &mut self.refresh {
                r.state = RefreshState::Capped;
            }
            if let Some(a) = &mut self.access {
                a.renew_at = f.sent_at;
            }
            debug!(
                expires_in = pair.expires_in.as_secs(),
                "refreshed token far shorter-lived than the last; logging in"
            );
        }
        if !too_short {
            debug!(request = f.id.0, "renewed");
            return Handled::Renewed(pair);
        }
        // A token that dies before an explicit hard margin cannot be handed out. After
        // a refresh that is the session cap closing in: log in. After a login it is the
        // server's (or the policy's) mistake, and retrying would only spin.
        if let Some(a) = &mut self.access {
            a.invalidated = true;
        }
        let error = Error::InvalidField {
            status: StatusCode::OK,
            field: "expiresIn",
            problem: FieldProblem::TooShort {
                min_secs: margin.as_secs(),
            },
        };
        if f.kind == RequestKind::Refresh && self.credentials.is_some() {
            if let Some(r) = &mut self.refresh {
                r.state = RefreshState::Capped;
            }
            debug!("refreshed token too short-lived; falling back to login");
            return Handled::FallingBack(error);
        }
        self.latch(error.clone());
        Handled::Failed(error)
    }

    pub(super) fn renewal_failed(&mut self, now: Instant, f: &InFlight, error: Error) -> Handled {
        let valid = self.valid_until(now).is_some();
        if f.kind == RequestKind::Refresh && is_refusal(&error) {
            if let Some(r) = &mut self.refresh {
                r.state = RefreshState::Refused;
            }
            self.retrying = None;
            if self.spare_refresh.is_some() {
                debug!(
                    status = error.status().map(|s| s.as_u16()),
                    "refresh refused; falling back to the spare refresh token"
                );
                return Handled::FallingBack(error);
            }
            if self.credentials.is_some() {
                debug!(
                    status = error.status().map(|s| s.as_u16()),
                    "refresh refused; falling back to login"
                );
                return Handled::FallingBack(error);
            }
            if !valid {
                // The server's own words say most; later calls get `SessionEnded`.
                self.latch(error.clone());
            }
            return Handled::Failed(error);
        }
        if error.is_retryable() {
            self.failures = self.failures.saturating_add(1);
            let delay = self.backoff(&error);
            if self.failures < self.policy.retry.max_attempts || valid {
                self.not_before = now.checked_add(delay);
                debug!(
                    status = error.status().map(|s| s.as_u16()),
                    failures = self.failures,
                    retry_in_ms = delay.as_millis() as u64,
                    "renewal failed; retrying"
                );
                self.retrying = Some(error.clone());
                return Handled::WillRetry(error);
            }
        } else if valid {
            // A rejection while the current token still serves: do not fail callers, and
            // do not hammer the server either. Try again after the longest backoff.
            self.failures = self.failures.max(1);
            self.not_before = now.checked_add(self.policy.retry.max_delay);
            debug!(
                status = error.status().map(|s| s.as_u16()),
                "renewal rejected; current token still valid, retrying later"
            );
            self.retrying = Some(error.clone());
            return Handled::WillRetry(error);
        }
        self.latch(error.clone());
        Handled::Failed(error)
    }

    /// `Retry-After` when the server sent one (clamped), else full jitter under the
    /// exponential ceiling.
    pub(super) fn backoff(&mut self, error: &Error) -> Duration {
        let retry = self.policy.retry;
        if let Some(d) = error.retry_after().and_then(|r| r.delay()) {
            return d.min(retry.max_retry_after);
        }
        let ceiling = retry.ceiling(self.failures);
        let ms = self
            .rng
            .u64(0..=ceiling.as_millis().min(u64::MAX as u128) as u64);
        Duration::from_millis(ms)
    }

    pub(super) fn latch(&mut self, error: Error) {
        debug!(error = %error, "renewal failed for good");
        self.failures = 0;
        self.not_before = None;
        self.retrying = None;
        self.failure_epoch += 1;
        self.last_failure = Some(error.clone());
        self.failed = Some(error);
    }
}
