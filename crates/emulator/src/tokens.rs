//! Token issuing and validation: sessions, rotation, single use, expiry, session cap.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::clock::Clock;
use crate::random;

/// Lifetimes and rotation policy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenPolicy {
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) single_use_refresh: bool,
}

/// A token pair as returned to the client.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: u64,
    pub(crate) refresh_expires_in: u64,
}

/// Why a refresh was refused; every case is a 401 `invalid_token` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RefreshError {
    /// Never issued, or pruned after use or expiry.
    #[error("Invalid refresh token")]
    Unknown,
    /// Past its lifetime.
    #[error("Refresh token expired")]
    Expired,
    /// Already exchanged once while refresh tokens are single use.
    #[error("Refresh token already used")]
    Reused,
    /// The login session reached its hard cap: authenticate again.
    #[error("Session expired; authenticate again")]
    SessionCapped,
}

#[derive(Debug)]
struct Session {
    started: Duration,
}

#[derive(Debug)]
struct AccessEntry {
    user: String,
    expires_at: Duration,
    exp_unix: u64,
}

#[derive(Debug)]
struct RefreshEntry {
    user: String,
    session: u64,
    expires_at: Duration,
    used: bool,
}

#[derive(Debug, Default)]
struct State {
    next_session: u64,
    sessions: HashMap<u64, Session>,
    access: HashMap<String, AccessEntry>,
    refresh: HashMap<String, RefreshEntry>,
    issued_since_prune: u32,
}

/// All issued tokens. One mutex makes "check unused, then mark used" atomic, so two
/// racing refreshes with the same single-use token cannot both succeed.
#[derive(Debug)]
pub(crate) struct TokenStore {
    policy: TokenPolicy,
    state: Mutex<State>,
}

/// Pruning cadence: keeps memory bounded in long runs without scanning on every call.
const PRUNE_EVERY: u32 = 1024;

impl TokenStore {
    pub(crate) fn new(policy: TokenPolicy) -> Self {
        TokenStore {
            policy,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking handler must not wedge every later request.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a new session for `user` and issues its first pair.
    pub(crate) fn login(&self, user: &str, clock: &Clock) -> Grant {
        let mut state = self.lock();
        let now = clock.now();
        let session = state.next_session;
        state.next_session += 1;
        state.sessions.insert(session, Session { started: now });
        self.issue(&mut state, user, session, now, clock)
    }

    /// Exchanges a refresh token for a new pair in the same session.
    pub(crate) fn refresh(&self, token: &str, clock: &Clock) -> Result<Grant, RefreshError> {
        let mut state = self.lock();
        let now = clock.now();
        let entry = state.refresh.get(token).ok_or(RefreshError::Unknown)?;
        if entry.used {
            return Err(RefreshError::Reused);
        }
        let session = entry.session;
        let user = entry.user.clone();
        let expires_at = entry.expires_at;
        let started = state
            .sessions
            .get(&session)
            .map(|s| s.started)
            .ok_or(RefreshError::Unknown)?;
        // The cap is checked first: it is the reason that tells a client to log in again.
        if self.remaining(started, now) < Duration::from_secs(1) {
            return Err(RefreshError::SessionCapped);
        }
        if now >= expires_at {
            return Err(RefreshError::Expired);
        }
        if self.policy.single_use_refresh
            && let Some(entry) = state.refresh.get_mut(token)
        {
            entry.used = true;
        }
        Ok(self.issue(&mut state, &user, session, now, clock))
    }

    /// The user and `exp` (unix seconds) of a valid, unexpired access token.
    pub(crate) fn whoami(&self, token: &str, clock: &Clock) -> Option<(String, u64)> {
        let state = self.lock();
        let entry = state.access.get(token)?;
        (clock.now() < entry.expires_at).then(|| (entry.user.clone(), entry.exp_unix))
    }

    fn remaining(&self, started: Duration, now: Duration) -> Duration {
        self.policy
            .session_ttl
            .saturating_sub(now.saturating_sub(started))
    }

    fn issue(
        &self,
        state: &mut State,
        user: &str,
        session: u64,
        now: Duration,
        clock: &Clock,
    ) -> Grant {
        let started = state.sessions.get(&session).map_or(now, |s| s.started);
        let remaining = self.remaining(started, now);
        // Lifetimes shrink toward the session cap, in whole seconds as on the wire.
        let access_secs = self.policy.access_ttl.min(remaining).as_secs();
        let refresh_secs = self.policy.refresh_ttl.min(remaining).as_secs();
        let iat = clock.unix_secs(now);

        let access_token = jwt(user, iat, iat + access_secs, "Bearer");
        let refresh_token = jwt(user, iat, iat + refresh_secs, "Refresh");
        state.access.insert(
            access_token.clone(),
            AccessEntry {
                user: user.to_owned(),
                expires_at: now + Duration::from_secs(access_secs),
                exp_unix: iat + access_secs,
            },
        );
        state.refresh.insert(
            refresh_token.clone(),
            RefreshEntry {
                user: user.to_owned(),
                session,
                expires_at: now + Duration::from_secs(refresh_secs),
                used: false,
            },
        );
        state.issued_since_prune += 1;
        if state.issued_since_prune >= PRUNE_EVERY {
            state.issued_since_prune = 0;
            self.prune(state, now);
        }
        Grant {
            access_token,
            refresh_token,
            expires_in: access_secs,
            refresh_expires_in: refresh_secs,
        }
    }

    /// Drops what can never validate again. Pruned tokens then answer as unknown,
    /// which is the same 401 `invalid_token` on the wire.
    fn prune(&self, state: &mut State, now: Duration) {
        state.access.retain(|_, a| now < a.expires_at);
        state.refresh.retain(|_, r| !r.used && now < r.expires_at);
        let live: std::collections::HashSet<u64> =
            state.refresh.values().map(|r| r.session).collect();
        state.sessions.retain(|id, _| live.contains(id));
    }
}

/// A JWT-shaped token: RS256 header, real claims, random (unverifiable) signature.
pub(crate) fn jwt(sub: &str, iat: u64, exp: u64, typ: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = json!({
        "jti": random::uuid(),
        "exp": exp,
        "nbf": 0,
        "iat": iat,
        "iss": "smartling-auth-emulator",
        "sub": sub,
        "typ": typ,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.{}", random::b64url(64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(single_use: bool) -> TokenStore {
        TokenStore::new(TokenPolicy {
            access_ttl: Duration::from_secs(480),
            refresh_ttl: Duration::from_secs(3660),
            session_ttl: Duration::from_secs(12 * 3600),
            single_use_refresh: single_use,
        })
    }

    #[test]
    fn tokens_are_jwt_shaped_with_claims() {
        let clock = Clock::new();
        let grant = store(true).login("u", &clock);
        let parts: Vec<&str> = grant.access_token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "u");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            480
        );
        assert!(claims["jti"].is_string());
    }

    #[test]
    fn single_use_refresh_rotates() {
        let clock = Clock::new();
        let store = store(true);
        let first = store.login("u", &clock);
        let second = store.refresh(&first.refresh_token, &clock).unwrap();
        assert_ne!(first.refresh_token, second.refresh_token);
        assert_eq!(
            store.refresh(&first.refresh_token, &clock).unwrap_err(),
            RefreshError::Reused
        );
        assert!(store.whoami(&second.access_token, &clock).is_some());
    }

    #[test]
    fn session_cap_shrinks_lifetimes_then_refuses() {
        let clock = Clock::new();
        let store = store(false);
        let mut grant = store.login("u", &clock);
        for _ in 0..14 {
            clock.advance(Duration::from_secs(3000));
            grant = store.refresh(&grant.refresh_token, &clock).unwrap();
        }
        // 42 000 s into a 43 200 s session: 1 200 s remain.
        assert_eq!(grant.expires_in, 480);
        assert!(grant.refresh_expires_in <= 1200 && grant.refresh_expires_in >= 1199);
        clock.advance(Duration::from_secs(1000));
        let near = store.refresh(&grant.refresh_token, &clock).unwrap();
        assert!(near.expires_in <= 200 && near.refresh_expires_in <= 200);
        clock.advance(Duration::from_secs(300));
        assert_eq!(
            store.refresh(&grant.refresh_token, &clock).unwrap_err(),
            RefreshError::SessionCapped
        );
    }

    #[test]
    fn prune_keeps_live_tokens() {
        let clock = Clock::new();
        let store = store(true);
        let mut grant = store.login("u", &clock);
        for _ in 0..(PRUNE_EVERY + 5) {
            grant = store.refresh(&grant.refresh_token, &clock).unwrap();
        }
        assert!(store.whoami(&grant.access_token, &clock).is_some());
        assert!(store.lock().refresh.len() < 100);
    }
}
