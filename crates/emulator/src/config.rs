//! The builder: users, lifetimes, limits, bind address, worker count.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::counters::LiveCounters;
use crate::emulator::Emulator;
use crate::faults::FaultQueue;
use crate::random;
use crate::ratelimit::RateLimiter;
use crate::relay::Relay;
use crate::server::{Shared, StopSignal};
use crate::tokens::{TokenPolicy, TokenStore};

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
///     .workers(4)
///     .bind("127.0.0.1:0")
///     .start()?;
/// assert!(emu.base_url().starts_with("http://127.0.0.1:"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct EmulatorBuilder {
    users: Vec<(String, String)>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    session_ttl: Duration,
    single_use_refresh: bool,
    rate_limit: Option<(u32, Duration)>,
    max_body: usize,
    bind: String,
    workers: usize,
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
            workers: 16,
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
        self.users.push((id.into(), secret.into()));
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

    /// Address to listen on (default `127.0.0.1:0`, an ephemeral loopback port).
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

    /// Number of worker threads answering requests (default 16, minimum 1). A delayed
    /// answer occupies one worker for its delay.
    ///
    /// ```
    /// let builder = smartling_auth_emulator::Emulator::builder().workers(2);
    /// # drop(builder);
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Binds and starts serving on background threads.
    ///
    /// # Errors
    ///
    /// Binding the address or starting a thread failed.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::builder().start()?;
    /// emu.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(self) -> io::Result<Emulator> {
        let users = if self.users.is_empty() {
            vec![demo_user()]
        } else {
            self.users
        };
        let front = TcpListener::bind(&self.bind)?;
        // tiny_http listens on a private loopback port behind the relay.
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(io::Error::other)?;
        let backend = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("tiny_http did not bind a TCP address"))?;
        // Room for a full body plus generous headers and pipelining.
        let unanswered_cap = u64::try_from(self.max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1024 * 1024);
        let (relay, accept) = Relay::start(front, backend, unanswered_cap)?;
        let shared = Arc::new(Shared {
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
            stop: StopSignal::default(),
            relay,
        });
        Emulator::launch(shared, server, accept, self.workers)
    }
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
