//! A byte relay in front of tiny_http that owns the client sockets.
//!
//! Why: tiny_http keeps a keep-alive connection open after a response writer from
//! `Request::into_writer()` is dropped, and offers no way to close it. A truncated
//! body or a reset would then leave the client waiting forever. The relay accepts
//! client connections itself, pipes bytes unchanged to tiny_http on an internal
//! loopback port, and can close (or reset) the client side of any connection, found
//! by the address tiny_http reports as the request's `remote_addr`. It never parses
//! HTTP.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Stack for relay threads: they only shuttle bytes through a heap buffer.
const RELAY_STACK: usize = 128 * 1024;
const BUF: usize = 16 * 1024;

#[derive(Debug)]
struct Conn {
    front: TcpStream,
    back: TcpStream,
    /// Set by [`Relay::reset`]: skip the orderly FIN so the close becomes an RST.
    reset: AtomicBool,
    /// Client bytes forwarded since the server last sent anything.
    unanswered: AtomicU64,
}

/// Live client connections and the relay threads that serve them.
#[derive(Debug)]
pub(crate) struct Relay {
    conns: Mutex<HashMap<SocketAddr, Arc<Conn>>>,
    live: Mutex<usize>,
    idle: Condvar,
    stopping: AtomicBool,
    backend: SocketAddr,
    front: SocketAddr,
    /// Cap on [`Conn::unanswered`]. tiny_http buffers a header line until its CRLF,
    /// however long; cutting a connection whose client keeps talking without getting
    /// answers bounds that memory without parsing HTTP here.
    unanswered_cap: u64,
}

/// Counts a relay thread as live until dropped, even if the thread panics.
struct LiveGuard(Arc<Relay>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.0.live);
        *live = live.saturating_sub(1);
        self.0.idle.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Relay {
    /// Starts accepting on `listener`, relaying to `backend`.
    pub(crate) fn start(
        listener: TcpListener,
        backend: SocketAddr,
        unanswered_cap: u64,
    ) -> io::Result<(Arc<Relay>, JoinHandle<()>)> {
        let relay = Arc::new(Relay {
            conns: Mutex::new(HashMap::new()),
            live: Mutex::new(0),
            idle: Condvar::new(),
            stopping: AtomicBool::new(false),
            backend,
            front: listener.local_addr()?,
            unanswered_cap,
        });
        let accept = {
            let relay = Arc::clone(&relay);
            thread::Builder::new()
                .name("emulator-accept".into())
                .spawn(move || relay.accept_loop(&listener))?
        };
        Ok((relay, accept))
    }

    /// The address clients connect to.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.front
    }

    fn accept_loop(self: &Arc<Self>, listener: &TcpListener) {
        while !self.stopping.load(Ordering::SeqCst) {
            let front = match listener.accept() {
                Ok((front, _)) => front,
                Err(_) => {
                    // Transient (e.g. out of descriptors): back off briefly, keep serving.
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            *lock(&self.live) += 1;
            let guard = LiveGuard(Arc::clone(self));
            let relay = Arc::clone(self);
            // If the thread cannot start, the closure (guard and socket) is dropped,
            // closing the connection and releasing the count.
            let _ = thread::Builder::new()
                .name("emulator-relay".into())
                .stack_size(RELAY_STACK)
                .spawn(move || {
                    let _guard = guard;
                    relay.serve(front);
                });
        }
    }

    /// Serves one client connection: pipes client→backend here, backend→client on a
    /// second thread.
    fn serve(self: &Arc<Self>, front: TcpStream) {
        let Ok(back) = TcpStream::connect(self.backend) else {
            return;
        };
        let _ = front.set_nodelay(true);
        let _ = back.set_nodelay(true);
        let (Ok(key), Ok(front_w), Ok(back_r), Ok(front_c), Ok(back_c)) = (
            back.local_addr(),
            front.try_clone(),
            back.try_clone(),
            front.try_clone(),
            back.try_clone(),
        ) else {
            return;
        };
        let conn = Arc::new(Conn {
            front: front_c,
            back: back_c,
            reset: AtomicBool::new(false),
            unanswered: AtomicU64::new(0),
        });
        lock(&self.conns).insert(key, Arc::clone(&conn));
        if self.stopping.load(Ordering::SeqCst) {
            // Raced with shutdown, which may already have swept the table.
            let _ = front.shutdown(Shutdown::Both);
            let _ = back.shutdown(Shutdown::Both);
        }

        *lock(&self.live) += 1;
        let guard = LiveGuard(Arc::clone(self));
        let down = {
            let conn = Arc::clone(&conn);
            thread::Builder::new()
                .name("emulator-relay".into())
                .stack_size(RELAY_STACK)
                .spawn(move || {
                    let _guard = guard;
                    let _ = pipe(back_r, &front_w, |_| {
                        conn.unanswered.store(0, Ordering::SeqCst);
                        true
                    });
                    if !conn.reset.load(Ordering::SeqCst) {
                        // tiny_http closed its side: close ours, which also wakes the
                        // upstream pipe blocked reading the client.
                        let _ = front_w.shutdown(Shutdown::Both);
                    }
                })
        };
        if down.is_ok() {
            let cap = self.unanswered_cap;
            let refused = pipe(front, &back, |n| {
                let n = u64::try_from(n).unwrap_or(u64::MAX);
                let sent = conn.unanswered.fetch_add(n, Ordering::SeqCst);
                sent.saturating_add(n) <= cap
            });
            if refused {
                let _ = conn.front.shutdown(Shutdown::Both);
                let _ = conn.back.shutdown(Shutdown::Both);
            }
        }
        let _ = back.shutdown(Shutdown::Write);
        if let Ok(down) = down {
            let _ = down.join();
        }
        lock(&self.conns).remove(&key);
    }

    fn find(&self, key: SocketAddr) -> Option<Arc<Conn>> {
        lock(&self.conns).get(&key).cloned()
    }

    /// Drops the client connection with an RST and no response.
    pub(crate) fn reset(&self, key: SocketAddr) {
        if let Some(conn) = self.find(key) {
            conn.reset.store(true, Ordering::SeqCst);
            // Linger 0 turns the final close into an RST; shutting down only the
            // read side sends nothing but wakes the pipe blocked on the client.
            let _ = socket2::SockRef::from(&conn.front).set_linger(Some(Duration::ZERO));
            let _ = conn.front.shutdown(Shutdown::Read);
            let _ = conn.back.shutdown(Shutdown::Both);
        }
    }

    /// Closes the client connection once bytes already written by tiny_http have
    /// been forwarded.
    pub(crate) fn finish(&self, key: SocketAddr) {
        if let Some(conn) = self.find(key) {
            // Queued bytes are still read before the downstream pipe sees EOF.
            let _ = conn.back.shutdown(Shutdown::Read);
        }
    }

    /// Writes `bytes` straight to the client, then closes the connection.
    pub(crate) fn answer_and_close(&self, key: SocketAddr, bytes: &[u8]) {
        if let Some(conn) = self.find(key) {
            let _ = (&conn.front).write_all(bytes);
            let _ = (&conn.front).flush();
            let _ = conn.front.shutdown(Shutdown::Both);
            let _ = conn.back.shutdown(Shutdown::Both);
        }
    }

    /// Stops accepting, closes every connection and waits (bounded) for the relay
    /// threads to finish. `accept` is the accept thread's handle.
    pub(crate) fn shutdown(&self, accept: JoinHandle<()>, wait: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a throwaway connection.
        let mut wake = self.front;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(2)).is_ok() {
            let _ = accept.join();
        }
        for conn in lock(&self.conns).values() {
            let _ = conn.front.shutdown(Shutdown::Both);
            let _ = conn.back.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + wait;
        let mut live = lock(&self.live);
        while *live > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            live = self
                .idle
                .wait_timeout(live, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Copies until EOF, an error on either side, or `admit` refusing a chunk; returns
/// whether `admit` refused.
fn pipe(mut from: TcpStream, mut to: &TcpStream, mut admit: impl FnMut(usize) -> bool) -> bool {
    let mut buf = vec![0; BUF];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                if !admit(n) {
                    return true;
                }
                if to.write_all(&buf[..n]).is_err() {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
