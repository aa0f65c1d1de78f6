//! Starting an emulator: the builder (users, lifetimes, limits, bind address, admin
//! token) and the `Emulator::builder` and `Emulator::start` shortcuts.
//!
//! It sits on top: it assembles the [`State`], binds the listener and hands both to
//! the background thread, then wraps them in an [`Emulator`] handle.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::counters::LiveCounters;
use crate::emulator::Emulator;
use crate::faults::FaultQueue;
use crate::listener::{self, Limits};
use crate::random;
use crate::ratelimit::RateLimiter;
use crate::state::State;
use crate::tokens::{TokenPolicy, TokenStore};

/// Connections served at once by default: above the largest herd the tests run.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// How long a client may keep the emulator waiting, by default.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Admin tokens are this many random bytes, base64url-encoded (43 characters).
const ADMIN_TOKEN_BYTES: usize = 32;
/// Bounds on a preset admin token's length.
const ADMIN_TOKEN_LEN: std::ops::RangeInclusive<usize> = 16..=256;

impl Emulator {
    /// A builder with the defaults.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::builder().start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the defaults and one random demo user.
    ///
    /// # Errors
    ///
    /// Binding `127.0.0.1:0` or starting the background thread failed.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// let (id, secret) = emu.demo_user();
    /// assert!(!id.is_empty() && !secret.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start() -> io::Result<Emulator> {
        EmulatorBuilder::default().start()
    }
}

/// Configures and starts an [`Emulator`]. Obtain one with [`Emulator::builder`].
///
/// ```
/// use std::time::Duration;
/// use smartling_auth_emulator::Emulator;
///
/// let emu = Emulator::builder()
///     .user("user-id", "user-secret")
///     .access_ttl(Duration::from_secs(480))
///     .refresh_ttl(Duration::from_secs(3660))
///     .session_ttl(Duration::from_secs(12 * 3600))
///     .single_use_refresh(true)
///     .rate_limit(10, Duration::from_secs(1))
///     .max_body(16 * 1024)
///     .workers(2)
///     .max_connections(4096)
///     .idle_timeout(Duration::from_secs(60))
///     .bind("127.0.0.1:0")
///     .start()?;
/// assert!(emu.base_url().starts_with("http://127.0.0.1:"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct EmulatorBuilder {
    users: Vec<(String, Secret)>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    session_ttl: Duration,
    single_use_refresh: bool,
    rate_limit: Option<(u32, Duration)>,
    max_body: usize,
    bind: String,
    allow_remote: bool,
    workers: usize,
    max_connections: usize,
    idle_timeout: Duration,
    admin_token: Option<Secret>,
}

/// A user secret or a preset admin token, kept out of `Debug`.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            users: Vec::new(),
            access_ttl: Duration::from_secs(480),
            refresh_ttl: Duration::from_secs(3660),
            session_ttl: Duration::from_secs(12 * 3600),
            single_use_refresh: true,
            rate_limit: None,
            max_body: 16 * 1024,
            bind: "127.0.0.1:0".to_owned(),
            allow_remote: false,
            workers: default_workers(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            admin_token: None,
        }
    }
}

impl EmulatorBuilder {
    /// A builder with the defaults (same as [`Emulator::builder`]).
    ///
    /// ```
    /// let emu = smartling_auth_emulator::EmulatorBuilder::new().start()?;
    /// assert_eq!(emu.users().len(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an API user. May be called several times. With no user at all, one demo
    /// user with random credentials is created (see [`Emulator::demo_user`]).
    ///
    /// ```
    /// use smartling_auth_emulator::Emulator;
    ///
    /// let emu = Emulator::builder().user("a", "sa").user("b", "sb").start()?;
    /// assert_eq!(emu.users().len(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn user(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.users.push((id.into(), Secret(secret.into())));
        self
    }

    /// Access token lifetime (`expiresIn`), whole seconds; default 480 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smartling_auth_emulator::Emulator::builder().access_ttl(Duration::from_secs(60));
    /// # drop(builder);
    /// ```
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh token lifetime (`refreshExpiresIn`), whole seconds; default 3660 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smartling_auth_emulator::Emulator::builder().refresh_ttl(Duration::from_secs(600));
    /// # drop(builder);
    /// ```
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Hard cap of one login session; default 12 h. Returned lifetimes never reach
    /// past it, and a refresh past it answers 401 `invalid_token`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smartling_auth_emulator::Emulator::builder().session_ttl(Duration::from_secs(3600));
    /// # drop(builder);
    /// ```
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Whether a refresh token works only once (default `true`). With `false`, a
    /// refresh token can be exchanged any number of times until it expires.
    ///
    /// ```
    /// let builder = smartling_auth_emulator::Emulator::builder().single_use_refresh(false);
    /// # drop(builder);
    /// ```
    pub fn single_use_refresh(mut self, single_use: bool) -> Self {
        self.single_use_refresh = single_use;
        self
    }

    /// Allows at most `max` authenticate calls per sliding `window` of emulator time;
    /// calls over it get 429 `MAX_OPERATIONS_LIMIT_EXCEEDED` with `Retry-After`.
    /// Off by default.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smartling_auth_emulator::Emulator::builder().rate_limit(10, Duration::from_secs(1));
    /// # drop(builder);
    /// ```
    pub fn rate_limit(mut self, max: u32, window: Duration) -> Self {
        self.rate_limit = Some((max, window));
        self
    }

    /// Request body cap in bytes (default 16 KiB); larger bodies get 413.
    ///
    /// ```
    /// let builder = smartling_auth_emulator::Emulator::builder().max_body(1024);
    /// # drop(builder);
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Address to listen on (default `127.0.0.1:0`, an ephemeral loopback port). A
    /// name is resolved and the first address that binds is used. An address that is
    /// not loopback also needs [`allow_remote`](EmulatorBuilder::allow_remote).
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::builder().bind("127.0.0.1:0").start()?;
    /// assert!(emu.addr().ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(mut self, addr: impl ToString) -> Self {
        self.bind = addr.to_string();
        self
    }

    /// Lets [`bind`](EmulatorBuilder::bind) name an address that is not loopback
    /// (default `false`). Anyone who can reach such an address can then use the
    /// API; only the [admin token](crate::Emulator::admin_token) guards the admin API.
    ///
    /// ```
    /// use smartling_auth_emulator::Emulator;
    ///
    /// let refused = Emulator::builder().bind("0.0.0.0:0").start();
    /// assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// // Allowed, the same bind would listen on every interface.
    /// let allowed = Emulator::builder().bind("0.0.0.0:0").allow_remote(true);
    /// # drop(allowed);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// Runtime worker threads answering requests (default: the number of CPUs, at
    /// most 4; minimum 1). Each connection is a task of its own, so a delayed answer
    /// holds no thread.
    ///
    /// ```
    /// let builder = smartling_auth_emulator::Emulator::builder().workers(2);
    /// # drop(builder);
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Most connections served at once (default 4096, minimum 1). Further
    /// connections wait in the kernel's queue until one closes.
    ///
    /// ```
    /// let builder = smartling_auth_emulator::Emulator::builder().max_connections(64);
    /// # drop(builder);
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Longest the emulator waits on a client (default 60 s, minimum 1 ms): for the
    /// next request on an open connection, for a request's headers or its body, and
    /// for the client to read the answer. The connection is closed after it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smartling_auth_emulator::Emulator::builder().idle_timeout(Duration::from_secs(5));
    /// # drop(builder);
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Presets the admin token instead of a random one: 16 to 256 visible ASCII
    /// characters, no spaces. [`start`](EmulatorBuilder::start) refuses any other.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::builder()
    ///     .admin_token("a-token-of-my-choosing")
    ///     .start()?;
    /// assert_eq!(emu.admin_token(), "a-token-of-my-choosing");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(Secret(token.into()));
        self
    }

    /// Binds and starts serving on a background thread.
    ///
    /// # Errors
    ///
    /// - [`InvalidInput`](io::ErrorKind::InvalidInput): the bind address does not
    ///   parse or resolve, is not loopback without
    ///   [`allow_remote`](EmulatorBuilder::allow_remote), or a preset admin token is
    ///   malformed (the message never repeats it);
    /// - any other error: binding or starting the background thread failed.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::builder().start()?;
    /// emu.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(self) -> io::Result<Emulator> {
        let admin_token = match self.admin_token {
            Some(Secret(token)) => checked_admin_token(token)?,
            None => random::b64url(ADMIN_TOKEN_BYTES),
        };
        let addrs: Vec<SocketAddr> = self.bind.to_socket_addrs()?.collect();
        check_remote(&addrs, self.allow_remote)?;
        let listener = listener::bind(&addrs)?;
        let addr = listener.local_addr()?;
        let users = if self.users.is_empty() {
            vec![demo_user()]
        } else {
            self.users
                .into_iter()
                .map(|(id, Secret(secret))| (id, secret))
                .collect()
        };
        let state = Arc::new(State {
            clock: Clock::new(),
            tokens: TokenStore::new(TokenPolicy {
                access_ttl: self.access_ttl,
                refresh_ttl: self.refresh_ttl,
                session_ttl: self.session_ttl,
                single_use_refresh: self.single_use_refresh,
            }),
            faults: FaultQueue::default(),
            counters: LiveCounters::default(),
            limiter: self
                .rate_limit
                .map(|(max, window)| RateLimiter::new(max, window)),
            users,
            max_body: self.max_body,
            admin_token,
        });
        let limits = Limits {
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout,
            workers: self.workers,
        };
        let running = listener::start(listener, Arc::clone(&state), limits)?;
        Ok(Emulator::new(state, addr, running))
    }
}

/// Refuses addresses that are not loopback unless they are allowed.
fn check_remote(addrs: &[SocketAddr], allow_remote: bool) -> io::Result<()> {
    if allow_remote || addrs.iter().all(|a| a.ip().is_loopback()) {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "the bind address is not loopback; allow it with allow_remote (--allow-remote)",
    ))
}

/// The preset token, if well formed. The error never quotes it.
fn checked_admin_token(token: String) -> io::Result<String> {
    if ADMIN_TOKEN_LEN.contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(token)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the admin token must be 16 to 256 visible ASCII characters, without spaces",
        ))
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// Smartling-like random credentials: a 30-letter identifier and a 40-character secret.
fn demo_user() -> (String, String) {
    (
        random::string_from(b"abcdefghijklmnopqrstuvwxyz", 30),
        random::string_from(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            40,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_admin_tokens_are_refused_without_echo() {
        for bad in [
            "short-token-0123".chars().take(15).collect::<String>(),
            "has a space in the middle of it".to_owned(),
            "non-ascii-\u{e9}-token-value".to_owned(),
            "control\u{7}-character-token".to_owned(),
            "x".repeat(257),
        ] {
            let err = Emulator::builder()
                .admin_token(bad.clone())
                .start()
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(!err.to_string().contains(&bad), "{err}");
        }
        assert!(checked_admin_token("x".repeat(16)).is_ok());
        assert!(checked_admin_token("x".repeat(256)).is_ok());
    }

    #[test]
    fn generated_admin_tokens_are_long_and_distinct() {
        let a = Emulator::start().unwrap();
        let b = Emulator::start().unwrap();
        assert_eq!(a.admin_token().len(), 43);
        assert_ne!(a.admin_token(), b.admin_token());
    }

    #[test]
    fn debug_shows_no_secret_and_no_preset_token() {
        let builder = Emulator::builder()
            .user("the-id", "the-user-secret")
            .admin_token("preset-admin-token-value");
        let shown = format!("{builder:?}");
        assert!(shown.contains("the-id"), "{shown}");
        assert!(!shown.contains("the-user-secret"), "{shown}");
        assert!(!shown.contains("preset-admin-token-value"), "{shown}");
    }

    #[test]
    fn non_loopback_needs_allow_remote() {
        let addrs = |list: &[&str]| -> Vec<SocketAddr> {
            list.iter().map(|a| a.parse().unwrap()).collect()
        };
        for remote in ["0.0.0.0:0", "[::]:0", "192.0.2.1:80"] {
            assert!(check_remote(&addrs(&[remote]), false).is_err(), "{remote}");
            assert!(check_remote(&addrs(&[remote]), true).is_ok(), "{remote}");
        }
        assert!(check_remote(&addrs(&["127.0.0.1:0", "0.0.0.0:0"]), false).is_err());
        assert!(check_remote(&addrs(&["127.0.0.1:0", "[::1]:0"]), false).is_ok());
        // No listener is bound for a refused address.
        let err = Emulator::builder().bind("0.0.0.0:0").start().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("allow_remote"));
        let err = Emulator::builder()
            .bind("not an address")
            .start()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(Emulator::builder().bind("localhost:0").start().is_ok());
    }
}
