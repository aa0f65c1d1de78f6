//! One accepted TCP connection as hyper reads and writes it, with what faults and
//! limits need from the socket itself:
//!
//! - a write that waits on a client which stopped reading fails after the idle
//!   timeout, so such a client cannot hold a connection forever;
//! - [`Control::reset`] turns the final close into an RST with no byte sent;
//! - [`Control::poll_close_after_flush`] closes the connection as soon as what is
//!   written so far has reached the socket (a truncated answer);
//! - an orderly close shuts the write side first, then reads and discards what the
//!   client still sends (bounded in bytes and time), so the kernel does not answer
//!   unread input with an RST that could destroy the reply the client has not read
//!   yet (a 413 for a body never read, say).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Sleep, sleep};

/// Longest an orderly close waits for the client's side to finish.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes an orderly close reads and discards.
const LINGER_BYTES: usize = 1 << 20;

const OPEN: u8 = 0;
const CLOSE_AFTER_FLUSH: u8 = 1;
const CLOSED: u8 = 2;
const RESET: u8 = 3;

/// What the request handler asks of its connection's socket.
#[derive(Debug, Default)]
pub(crate) struct Control {
    mode: AtomicU8,
    /// Woken once a close after flush has happened.
    closed: Mutex<Option<Waker>>,
}

impl Control {
    /// Resets the connection when it is dropped, and refuses any further write.
    pub(crate) fn reset(&self) {
        self.mode.store(RESET, Ordering::SeqCst);
    }

    /// Asks for the connection to close once what is written so far is flushed;
    /// ready once it has.
    pub(crate) fn poll_close_after_flush(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut waker = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        match self.mode.compare_exchange(
            OPEN,
            CLOSE_AFTER_FLUSH,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) | Err(CLOSE_AFTER_FLUSH) => {
                *waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Err(_) => Poll::Ready(()),
        }
    }

    fn mode(&self) -> u8 {
        self.mode.load(Ordering::SeqCst)
    }

    fn mark_closed(&self) {
        self.mode.store(CLOSED, Ordering::SeqCst);
        let waker = self
            .closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The socket, wrapped for hyper (through `hyper_util::rt::TokioIo`).
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    control: Arc<Control>,
    /// How long a write may wait on the client.
    write_limit: Duration,
    /// Armed while a write waits on the client.
    write_stall: Option<Pin<Box<Sleep>>>,
    /// Armed once an orderly close has shut the write side.
    linger: Option<Pin<Box<Sleep>>>,
    discarded: usize,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, control: Arc<Control>, write_limit: Duration) -> Self {
        Conn {
            stream,
            control,
            write_limit,
            write_stall: None,
            linger: None,
            discarded: 0,
        }
    }

    fn refuses_writes(&self) -> bool {
        matches!(self.control.mode(), CLOSED | RESET)
    }

    /// Passes a write's result on, failing it once it has waited too long.
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.write_stall = None;
            return result;
        }
        let limit = self.write_limit;
        let stall = self
            .write_stall
            .get_or_insert_with(|| Box::pin(sleep(limit)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the connection was closed on purpose",
    )
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.refuses_writes() {
            return Poll::Ready(Err(refused()));
        }
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.bounded(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.refuses_writes() {
            return Poll::Ready(Err(refused()));
        }
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.bounded(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.control.mode() == RESET {
            return Poll::Ready(Err(refused()));
        }
        ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
        if self.control.mode() == CLOSE_AFTER_FLUSH {
            // Everything written so far is in the socket: send the FIN after it.
            let _ = socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Write);
            self.control.mark_closed();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.control.mode() == RESET {
            return Poll::Ready(Err(refused()));
        }
        if self.linger.is_none() {
            if ready!(Pin::new(&mut self.stream).poll_shutdown(cx)).is_err() {
                return Poll::Ready(Ok(()));
            }
            self.linger = Some(Box::pin(sleep(LINGER)));
        }
        let mut scratch = [0u8; 4096];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    self.discarded += buf.filled().len();
                    if self.discarded > LINGER_BYTES {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    let linger = self.linger.as_mut().map(|l| l.as_mut().poll(cx));
                    return match linger {
                        Some(Poll::Pending) => Poll::Pending,
                        _ => Poll::Ready(Ok(())),
                    };
                }
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.control.mode() == RESET {
            // Linger 0 turns the close that follows into an RST.
            let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    async fn pair(write_limit: Duration) -> (Conn, Arc<Control>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let control = Arc::new(Control::default());
        (
            Conn::new(server, Arc::clone(&control), write_limit),
            control,
            client,
        )
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn close_after_flush_sends_what_was_written_then_eof() {
        runtime().block_on(async {
            let (mut conn, control, mut client) = pair(Duration::from_secs(10)).await;
            conn.write_all(b"partial").await.unwrap();
            let asked = poll_fn(|cx| Poll::Ready(control.poll_close_after_flush(cx))).await;
            assert!(asked.is_pending());
            conn.flush().await.unwrap();
            poll_fn(|cx| control.poll_close_after_flush(cx)).await;
            assert!(conn.write_all(b"more").await.is_err());
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"partial");
        });
    }

    #[test]
    fn reset_sends_an_rst_and_no_byte() {
        runtime().block_on(async {
            let (mut conn, control, mut client) = pair(Duration::from_secs(10)).await;
            control.reset();
            assert!(conn.write_all(b"x").await.is_err());
            drop(conn);
            let mut got = Vec::new();
            let err = client.read_to_end(&mut got).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
            assert!(got.is_empty());
        });
    }

    #[test]
    fn a_write_to_a_client_that_never_reads_fails() {
        runtime().block_on(async {
            let (mut conn, _control, _client) = pair(Duration::from_millis(50)).await;
            let chunk = vec![0u8; 1 << 16];
            // Socket buffers hold a few MiB at most; the write must stall and fail.
            let mut failed = None;
            for _ in 0..4096 {
                if let Err(e) = conn.write_all(&chunk).await {
                    failed = Some(e.kind());
                    break;
                }
            }
            assert_eq!(failed, Some(io::ErrorKind::TimedOut));
        });
    }

    #[test]
    fn orderly_close_reads_what_the_client_still_sends() {
        runtime().block_on(async {
            let (mut conn, _control, mut client) = pair(Duration::from_secs(10)).await;
            client.write_all(b"unread input").await.unwrap();
            conn.write_all(b"answer").await.unwrap();
            let closing = tokio::spawn(async move {
                conn.shutdown().await.unwrap();
                conn.discarded
            });
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"answer");
            drop(client);
            assert_eq!(closing.await.unwrap(), b"unread input".len());
        });
    }
}
