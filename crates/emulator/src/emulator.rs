//! The running emulator's handle: where it listens, its test controls, its admin
//! token, and shutdown. [`EmulatorBuilder`](crate::EmulatorBuilder) starts one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::counters::Counters;
use crate::endpoint::Endpoint;
use crate::faults::Fault;
use crate::listener::Running;
use crate::state::State;

/// A running emulator of Smartling's authentication API v2 on a local port.
///
/// Serves `POST /auth-api/v2/authenticate`, `POST /auth-api/v2/authenticate/refresh`,
/// the emulator extension `GET /auth-api/v2/whoami`, and the admin API under
/// `/_emulator/` (guarded by [`admin_token`](Emulator::admin_token)). Stops on
/// [`shutdown`](Emulator::shutdown) or when dropped.
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
    state: Arc<State>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

impl Emulator {
    pub(crate) fn new(state: Arc<State>, addr: SocketAddr, running: Running) -> Self {
        Emulator {
            state,
            addr,
            running: Mutex::new(Some(running)),
        }
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
        self.state.users.clone()
    }

    /// The first user: the random demo user when none was configured.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert_eq!(emu.users()[0], emu.demo_user());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn demo_user(&self) -> (String, String) {
        self.state.users[0].clone()
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
        self.state.clock.advance(by);
    }

    /// Total time added by [`advance`](Emulator::advance) so far.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert_eq!(emu.now_offset(), std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn now_offset(&self) -> Duration {
        self.state.clock.offset()
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
        self.state.faults.push(endpoint, fault, count);
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
        self.state.faults.pending(endpoint)
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
        self.state.faults.clear();
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
        self.state.counters.snapshot()
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
        self.state.counters.reset();
    }

    /// The token that guards the admin API under `/_emulator/`, sent as
    /// `Authorization: Bearer <token>`: random unless
    /// [`EmulatorBuilder::admin_token`](crate::EmulatorBuilder::admin_token) preset it.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// assert!(emu.admin_token().len() >= 32);
    /// assert_ne!(emu.admin_token(), smartling_auth_emulator::Emulator::start()?.admin_token());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn admin_token(&self) -> &str {
        &self.state.admin_token
    }

    /// Stops serving: closes the listener and every connection, and joins the
    /// background thread. Idempotent; also run on drop. Pending injected delays are
    /// cut short.
    ///
    /// ```
    /// let emu = smartling_auth_emulator::Emulator::start()?;
    /// emu.shutdown();
    /// emu.shutdown();
    /// assert!(std::net::TcpStream::connect(emu.addr()).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(running) = running {
            running.stop();
        }
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
    fn debug_shows_no_secret() {
        let emu = Emulator::builder()
            .user("the-id", "the-user-secret")
            .start()
            .unwrap();
        let shown = format!("{emu:?}");
        assert!(shown.contains("the-id"), "{shown}");
        assert!(!shown.contains("the-user-secret"), "{shown}");
        assert!(!shown.contains(emu.admin_token()), "{shown}");
    }

    #[test]
    fn drop_stops_serving() {
        let emu = Emulator::start().unwrap();
        let addr = emu.addr();
        drop(emu);
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
