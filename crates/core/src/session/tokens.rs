//! The session's tokens and where they come from: installing a pair, when to renew
//! it, and the order of the token sources (the current session, then a spare refresh
//! token, then a login).

use std::time::{Duration, Instant};

use tracing::debug;

use super::{Access, Margins, Refresh, RefreshState, Session};
use crate::response::TokenPair;
use crate::secret::RefreshToken;

impl Session {
    /// A bare refresh token given before a pair or snapshot waits as the spare.
    pub(super) fn hold_back_bare_refresh(&mut self) {
        if self.spare_refresh.is_none()
            && self.refresh.as_ref().is_some_and(|r| r.expires.is_none())
        {
            self.spare_refresh = self.refresh.take().map(|r| r.token);
        }
    }

    /// Once the current refresh token cannot be used, the spare takes its place.
    pub(super) fn promote_spare_refresh(&mut self, now: Instant) {
        let spent = self
            .refresh
            .as_ref()
            .is_none_or(|r| r.state != RefreshState::Usable || !r.is_alive(now));
        if spent && let Some(token) = self.spare_refresh.take() {
            debug!("the session's refresh token is spent; using the spare one");
            self.refresh = Some(Refresh::bare(token));
        }
    }

    pub(super) fn install(&mut self, sent_at: Instant, pair: &TokenPair) {
        // The clock starts when the request was sent: the server's lifetimes count from
        // when it answered, which is later, so this errs on the safe side.
        let expires = sent_at.checked_add(pair.expires_in).unwrap_or(sent_at);
        let refresh_expires = sent_at
            .checked_add(pair.refresh_expires_in)
            .unwrap_or(sent_at);
        let margins = self.policy.margins(pair.expires_in);
        // A refresh lifetime below the renewal window, or far below the last one,
        // marks the 12-hour session cap closing in.
        let capped = pair.refresh_expires_in < margins.refresh_ahead
            || self
                .last_lifetimes
                .is_some_and(|(_, refresh)| pair.refresh_expires_in < refresh / 4);
        if capped {
            debug!(
                refresh_expires_in = pair.refresh_expires_in.as_secs(),
                "refresh lifetime shrinking; next renewal logs in"
            );
        }
        self.access = Some(Access {
            token: pair.access_token.clone(),
            token_type: pair.token_type.clone(),
            expires,
            renew_at: self.renew_at(sent_at, expires, margins),
            margin: margins.min_validity,
            invalidated: false,
        });
        self.refresh = Some(Refresh {
            token: pair.refresh_token.clone(),
            expires: Some(refresh_expires),
            margin: self.policy.margins(pair.refresh_expires_in).min_validity,
            state: if capped {
                RefreshState::Capped
            } else {
                RefreshState::Usable
            },
        });
        self.last_lifetimes = Some((pair.expires_in, pair.refresh_expires_in));
    }

    /// Renewal starts `refresh_ahead` plus a jitter before expiry, but never before
    /// half the token's life from `from` has passed: with a short lifetime (a slow
    /// server, the session cap closing in) the window would otherwise cover the whole
    /// life, and every renewal would start the next at once.
    pub(super) fn renew_at(
        &mut self,
        from: Instant,
        expires: Instant,
        margins: Margins,
    ) -> Instant {
        let half_life = from + expires.saturating_duration_since(from) / 2;
        self.renew_at_without_guard(from, expires, margins)
            .max(half_life)
    }

    pub(super) fn renew_at_without_guard(
        &mut self,
        from: Instant,
        expires: Instant,
        margins: Margins,
    ) -> Instant {
        let jitter_ms = margins.refresh_jitter.as_millis().min(u64::MAX as u128) as u64;
        let lead = margins.refresh_ahead + Duration::from_millis(self.rng.u64(0..=jitter_ms));
        expires.checked_sub(lead).unwrap_or(from).max(from)
    }
}

impl Refresh {
    /// A refresh token whose expiry is unknown.
    pub(super) fn bare(token: RefreshToken) -> Self {
        Self {
            token,
            expires: None,
            margin: Duration::ZERO,
            state: RefreshState::Usable,
        }
    }

    /// Whether it still has its margin of life left (an unknown expiry counts as yes).
    pub(super) fn is_alive(&self, now: Instant) -> bool {
        self.expires
            .is_none_or(|e| now.checked_add(self.margin).is_some_and(|t| t < e))
    }
}
