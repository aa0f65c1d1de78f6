//! The emulator's background thread: a tokio runtime that accepts connections up to
//! a cap, rides out accept errors (running out of descriptors among them), and
//! serves each connection with hyper on a task of its own, so that a slow or faulted
//! request holds up nothing but itself.

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::conn::{Conn, Control};
use crate::server::{self, Context};
use crate::state::State;

/// Pause after a failed accept. Out of descriptors, the pending connection stays
/// in the kernel's queue and the next try would fail at once; this keeps the retry
/// from spinning until a descriptor is free again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
/// Kernel queue of connections not accepted yet, for herds that connect at once.
const BACKLOG: i32 = 1024;
/// Longest shutdown waits for the runtime's threads.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// How much one emulator may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once; more wait in the kernel's queue.
    pub(crate) max_connections: usize,
    /// Longest wait for a client: for a request to start or its headers or body to
    /// arrive, and for a client to read the answer.
    pub(crate) idle_timeout: Duration,
    /// Runtime worker threads.
    pub(crate) workers: usize,
}

/// Binds the first of `addrs` that can be bound, with a backlog sized for herds.
pub(crate) fn bind(addrs: &[SocketAddr]) -> io::Result<StdListener> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for &addr in addrs {
        let bound = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .and_then(|socket| {
                #[cfg(unix)]
                socket.set_reuse_address(true)?;
                socket.bind(&addr.into())?;
                socket.listen(BACKLOG)?;
                Ok(StdListener::from(socket))
            });
        match bound {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The background thread, until stopped.
#[derive(Debug)]
pub(crate) struct Running {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

/// Starts serving `listener` on a background thread.
pub(crate) fn start(
    listener: StdListener,
    state: Arc<State>,
    limits: Limits,
) -> io::Result<Running> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(limits.workers.max(1))
        .thread_name("emulator-worker")
        .enable_io()
        .enable_time()
        .build()?;
    let listener = {
        let _context = runtime.enter();
        TcpListener::from_std(listener)?
    };
    let (stop, stopped) = oneshot::channel();
    let thread = thread::Builder::new()
        .name("emulator".into())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    () = accept_loop(listener, state, limits) => {}
                    _ = stopped => {}
                }
            });
            // Drops every connection task: sockets close, pending delays end.
            runtime.shutdown_timeout(SHUTDOWN_WAIT);
        })?;
    Ok(Running { stop, thread })
}

impl Running {
    /// Stops accepting, closes every connection and joins the thread.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's queue.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = loop {
            match listener.accept().await {
                Ok((stream, _)) => break stream,
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            }
        };
        tokio::spawn(serve(stream, Arc::clone(&state), limits.idle_timeout, slot));
    }
}

/// Serves one connection until either side closes it; the slot is freed on return.
async fn serve(stream: TcpStream, state: Arc<State>, idle: Duration, _slot: OwnedSemaphorePermit) {
    let _ = stream.set_nodelay(true);
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let control = Arc::new(Control::default());
    let cx = Context {
        state,
        control: Arc::clone(&control),
        local,
        read_timeout: idle,
    };
    let io = TokioIo::new(Conn::new(stream, control, idle));
    let service = service_fn(move |request| server::respond(cx.clone(), request));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        // Covers the wait for the next request on a kept-alive connection too.
        .header_read_timeout(idle)
        .title_case_headers(true)
        .serve_connection(io, service)
        .await;
}
