//! The running emulator: its handle, test controls and shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::config::EmulatorBuilder;
use crate::counters::Counters;
use crate::endpoint::Endpoint;
use crate::faults::Fault;
use crate::server::{self, Shared};

/// How long shutdown waits for relay threads after closing their connections.
const RELAY_DRAIN: Duration = Duration::from_secs(5);

/// A running emulator of Smartling's authentication API v2 on a local port.
///
/// Serves `POST /auth-api/v2/authenticate`, `POST /auth-api/v2/authenticate/refresh`,
/// the emulator extension `GET /auth-api/v2/whoami`, and the admin API under
/// `/_emulator/`. Stops on [`shutdown`](Emulator::shutdown) or when dropped.
///
/// ```
/// use std::time::Duration;
/// use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
///
/// let emu = Emulator::builder().user("user-id", "user-secret").start()?;
/// emu.inject(Endpoint::Refresh, Fault::Status { status: 503, envelope: true, retry_after: None }, 1);
/// emu.advance(Duration::from_secs(60));
/// assert_eq!(emu.counters().get(Endpoint::Refresh, Outcome::Faulted), 0);
/// emu.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

/// What shutdown stops; dropping it closes tiny_http's private listener.
struct Running {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

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
    /// Binding `127.0.0.1:0` or starting a thread failed.
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

    pub(crate) fn launch(
        shared: Arc<Shared>,
        server: tiny_http::Server,
        accept: JoinHandle<()>,
        workers: usize,
    ) -> io::Result<Emulator> {
        let server = Arc::new(server);
        let emulator = Emulator {
            addr: shared.relay.local_addr(),
            shared,
            running: Mutex::new(Some(Running {
                server: Arc::clone(&server),
                workers: Vec::new(),
                accept,
            })),
        };
        for i in 0..workers {
            let shared = Arc::clone(&emulator.shared);
            let server = Arc::clone(&server);
            // On failure the partly started emulator is dropped, which shuts it down.
            let handle = thread::Builder::new()
                .name(format!("emulator-worker-{i}"))
                .spawn(move || server::worker(&shared, &server))?;
            if let Some(running) = emulator.lock_running().as_mut() {
                running.workers.push(handle);
            }
        }
        Ok(emulator)
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `http://HOST:PORT`, without a trailing slash.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert_eq!(emu.base_url(), format!("http://{}", emu.addr()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url()` followed by `path`.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert!(emu.url("/auth-api/v2/authenticate").ends_with("/auth-api/v2/authenticate"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The address the emulator listens on.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert_ne!(emu.addr().port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every configured user as `(userIdentifier, userSecret)`.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::builder().user("id", "secret").start()?;
    /// assert_eq!(emu.users(), vec![("id".to_owned(), "secret".to_owned())]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn users(&self) -> Vec<(String, String)> {
        self.shared.users.clone()
    }

    /// The first user: the random demo user when none was configured.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert_eq!(emu.users()[0], emu.demo_user());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn demo_user(&self) -> (String, String) {
        self.shared.users[0].clone()
    }

    /// Moves emulator time forward: tokens expire and the session cap approaches as if
    /// `by` had passed. Real time keeps running too.
    ///
    /// ```
    /// use std::time::Duration;
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// emu.advance(Duration::from_secs(481));
    /// assert_eq!(emu.now_offset(), Duration::from_secs(481));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Total time added by [`advance`](Emulator::advance) so far.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert_eq!(emu.now_offset(), std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn now_offset(&self) -> Duration {
        self.shared.clock.offset()
    }

    /// Serves `fault` to the next `count` requests to `endpoint` (after faults
    /// already queued for it). A `count` of 0 does nothing.
    ///
    /// ```
    /// use smartling_auth_emulator::{Emulator, Endpoint, Fault};
    /// let emu = Emulator::start()?;
    /// emu.inject(Endpoint::Authenticate, Fault::Reset, 1);
    /// assert_eq!(emu.pending_faults(Endpoint::Authenticate), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, count: u64) {
        self.shared.faults.push(endpoint, fault, count);
    }

    /// How many requests to `endpoint` will still be faulted.
    ///
    /// ```
    /// use smartling_auth_emulator::{Emulator, Endpoint};
    /// let emu = Emulator::start()?;
    /// assert_eq!(emu.pending_faults(Endpoint::Refresh), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pending_faults(&self, endpoint: Endpoint) -> u64 {
        self.shared.faults.pending(endpoint)
    }

    /// Drops every pending fault.
    ///
    /// ```
    /// use smartling_auth_emulator::{Emulator, Endpoint, Fault};
    /// let emu = Emulator::start()?;
    /// emu.inject(Endpoint::Refresh, Fault::Truncate, 3);
    /// emu.clear_faults();
    /// assert_eq!(emu.pending_faults(Endpoint::Refresh), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// A snapshot of the request counters.
    ///
    /// ```
    /// use smartling_auth_emulator::{Emulator, Endpoint};
    /// let emu = Emulator::start()?;
    /// assert_eq!(emu.counters().total(Endpoint::Authenticate), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
    }

    /// Sets every counter back to zero.
    ///
    /// ```
    /// use smartling_auth_emulator::Emulator;
    /// let emu = Emulator::start()?;
    /// emu.reset_counters();
    /// assert_eq!(emu.counters(), Default::default());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset_counters(&self) {
        self.shared.counters.reset();
    }

    /// Stops serving and joins the threads. Idempotent; also run on drop. Pending
    /// injected delays are cut short.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// emu.shutdown();
    /// emu.shutdown();
    /// assert!(std::net::TcpStream::connect(emu.addr()).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self) {
        let Some(running) = self.lock_running().take() else {
            return;
        };
        self.shared.stop.set();
        for _ in &running.workers {
            running.server.unblock();
        }
        for worker in running.workers {
            let _ = worker.join();
        }
        self.shared.relay.shutdown(running.accept, RELAY_DRAIN);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Emulator>();
    }

    #[test]
    fn drop_stops_serving() {
        let emu = Emulator::start().unwrap();
        let addr = emu.addr();
        drop(emu);
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
