//! The emulator's state, one per emulator and read by every connection: clock,
//! tokens, faults, counters, rate limiter, users and the admin token.
//!
//! It does no I/O, so everything above it (handlers, admin API, server) can use it
//! and nothing below it needs to know about connections.

use std::fmt;

use crate::clock::Clock;
use crate::counters::LiveCounters;
use crate::faults::FaultQueue;
use crate::ratelimit::RateLimiter;
use crate::tokens::TokenStore;

/// Everything a request can read or change.
pub(crate) struct State {
    pub(crate) clock: Clock,
    pub(crate) tokens: TokenStore,
    pub(crate) faults: FaultQueue,
    pub(crate) counters: LiveCounters,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) users: Vec<(String, String)>,
    pub(crate) max_body: usize,
    /// Guards `/_emulator/`: sent as `Authorization: Bearer <token>`.
    pub(crate) admin_token: String,
}

impl State {
    /// Compares against every user without early exit, so timing reveals nothing.
    pub(crate) fn credentials_match(&self, id: &str, secret: &str) -> bool {
        self.users.iter().fold(false, |found, (uid, usecret)| {
            found
                | (ct_eq(uid.as_bytes(), id.as_bytes())
                    & ct_eq(usecret.as_bytes(), secret.as_bytes()))
        })
    }

    /// Whether `candidate` is the admin token, in constant time for equal lengths.
    pub(crate) fn admin_token_matches(&self, candidate: &str) -> bool {
        ct_eq(self.admin_token.as_bytes(), candidate.as_bytes())
    }
}

/// Shows no secret: user identifiers only, and no token.
impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.users.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("State")
            .field("users", &ids)
            .field("clock_offset", &self.clock.offset())
            .field("max_body", &self.max_body)
            .field("rate_limited", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tokens::TokenPolicy;

    fn state() -> State {
        State {
            clock: Clock::new(),
            tokens: TokenStore::new(TokenPolicy {
                access_ttl: Duration::from_secs(480),
                refresh_ttl: Duration::from_secs(3660),
                session_ttl: Duration::from_secs(3600),
                single_use_refresh: true,
            }),
            faults: FaultQueue::default(),
            counters: LiveCounters::default(),
            limiter: None,
            users: vec![("the-id".into(), "the-user-secret".into())],
            max_body: 100,
            admin_token: "the-admin-token-value".into(),
        }
    }

    #[test]
    fn matches_credentials_and_token_exactly() {
        let s = state();
        assert!(s.credentials_match("the-id", "the-user-secret"));
        assert!(!s.credentials_match("the-id", "the-user-secreT"));
        assert!(!s.credentials_match("the-i", "the-user-secret"));
        assert!(s.admin_token_matches("the-admin-token-value"));
        assert!(!s.admin_token_matches("the-admin-token-valu"));
        assert!(!s.admin_token_matches(""));
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", state());
        assert!(shown.contains("the-id"));
        assert!(!shown.contains("the-user-secret"), "{shown}");
        assert!(!shown.contains("the-admin-token-value"), "{shown}");
    }
}
