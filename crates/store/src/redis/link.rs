//! One connection to Redis whose every operation has a deadline and a byte budget,
//! whatever the server sends.
//!
//! The redis crate's own sync connection bounds each socket call, not an operation:
//! a reply trickled a byte at a time within each call's timeout held a caller for
//! half a minute, and its parser buffers whatever arrives until a declared length is
//! reached (`$2000000000` asks for 2 GB, sent as fast as loopback goes). So the
//! socket is ours ([`Sock`]): before each read or write it sets the socket's timeout
//! to the time left before the operation's deadline, and it refuses to read past the
//! operation's byte budget. TLS (rustls) runs on top of it, so the handshake is
//! bounded the same way. The crate still does what it does well: it packs commands
//! and pipelines, parses replies (its public [`redis::Parser`]) and converts values;
//! [`Link`] is a [`ConnectionLike`], so `Cmd::query` and `Pipeline::query` run on it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use redis::{ConnectionLike, ErrorKind, RedisError, RedisResult, Value};
use zeroize::Zeroizing;

use super::endpoint::{Endpoint, is_loopback_ip};

/// The most one operation reads from the server (a reply, with the connection's
/// setup when it connects; or one pub/sub message): four times the largest record.
pub(super) const MAX_READ: usize = 4 * super::MAX_RECORD;

/// The error of a reply past [`MAX_READ`] bytes (inside an `io::Error`).
#[derive(Debug)]
pub(super) struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server sent over {} KiB for one reply",
            MAX_READ / 1024
        )
    }
}

impl std::error::Error for TooLong {}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the operation's time limit passed")
}

/// A TCP socket that reads and writes only until its deadline and reads at most its
/// budget.
pub(super) struct Sock {
    tcp: TcpStream,
    deadline: Instant,
    /// Bytes still allowed.
    left: usize,
    /// Bytes read since the last [`Link::arm`].
    got: usize,
    /// An idle wait (pub/sub): once a byte arrives, the deadline becomes this much
    /// later.
    then: Option<Duration>,
}

impl Sock {
    fn wait(&self) -> io::Result<Duration> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(timed_out)
    }
}

fn blocked_is_timeout(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        timed_out()
    } else {
        e
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TooLong));
        }
        self.tcp.set_read_timeout(Some(self.wait()?))?;
        let cap = buf.len().min(self.left);
        let n = self.tcp.read(&mut buf[..cap]).map_err(blocked_is_timeout)?;
        self.left -= n;
        self.got += n;
        if n > 0
            && let Some(then) = self.then.take()
        {
            self.deadline = Instant::now() + then;
        }
        Ok(n)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.wait()?))?;
        self.tcp.write(buf).map_err(blocked_is_timeout)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

enum Stream {
    Plain(Sock),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Sock>>),
}

impl Stream {
    fn sock(&mut self) -> &mut Sock {
        match self {
            Self::Plain(sock) => sock,
            Self::Tls(tls) => &mut tls.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(sock) => sock.read(buf),
            Self::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(sock) => sock.write(buf),
            Self::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(sock) => sock.flush(),
            Self::Tls(tls) => tls.flush(),
        }
    }
}

/// A connection (after `AUTH` and `SELECT`), bounded per operation by [`Link::arm`].
pub(super) struct Link {
    stream: Stream,
    parser: redis::Parser,
    db: i64,
}

impl Link {
    /// Connects to `endpoint` (TCP, TLS, `AUTH`, `SELECT`) before `deadline`, and arms
    /// the connection for an operation that ends then.
    pub(super) fn connect(endpoint: &Endpoint, deadline: Instant) -> RedisResult<Self> {
        let mut addrs: Vec<SocketAddr> = (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()?
            .collect();
        if endpoint.loopback_only {
            addrs.retain(|a| is_loopback_ip(a.ip()));
            if addrs.is_empty() {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "the host resolved to no loopback address, and redis:// (clear text) goes only to loopback",
                )));
            }
        }
        let mut tcp = Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the host resolved to no address",
        ));
        for addr in addrs {
            let wait = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(timed_out)?;
            tcp = TcpStream::connect_timeout(&addr, wait).map_err(blocked_is_timeout);
            if tcp.is_ok() {
                break;
            }
        }
        let tcp = tcp?;
        tcp.set_nodelay(true)?;
        let sock = Sock {
            tcp,
            deadline,
            left: MAX_READ,
            got: 0,
            then: None,
        };
        let stream = match &endpoint.tls {
            None => Stream::Plain(sock),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(io::Error::other)?;
                let mut tls = rustls::StreamOwned::new(conn, sock);
                while tls.conn.is_handshaking() {
                    tls.conn.complete_io(&mut tls.sock)?;
                }
                Stream::Tls(Box::new(tls))
            }
        };
        let mut link = Self {
            stream,
            parser: redis::Parser::new(),
            db: endpoint.db,
        };
        link.setup(endpoint)?;
        Ok(link)
    }

    /// `AUTH` (packed here, into memory wiped after) and `SELECT`, one round trip.
    fn setup(&mut self, endpoint: &Endpoint) -> RedisResult<()> {
        // Room for all of it up front: a buffer that grew would leave the password in
        // the one it outgrew, unwiped.
        let secrets = endpoint.username.as_ref().map_or(0, String::len)
            + endpoint.password.as_ref().map_or(0, |p| p.len());
        let mut packed = Zeroizing::new(Vec::with_capacity(secrets + 128));
        let mut replies = Vec::new();
        if let Some(password) = &endpoint.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &endpoint.username {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            pack(&mut packed, &args);
            replies.push("AUTH");
        }
        if endpoint.db != 0 {
            let db = endpoint.db.to_string();
            pack(&mut packed, &[b"SELECT", db.as_bytes()]);
            replies.push("SELECT");
        }
        if replies.is_empty() {
            return Ok(());
        }
        self.send(&packed)?;
        drop(packed);
        let mut first_err = None;
        for what in replies {
            let reply = self.recv()?;
            if let Value::ServerError(e) = reply
                && first_err.is_none()
            {
                first_err = Some(if what == "AUTH" {
                    RedisError::from((
                        ErrorKind::AuthenticationFailed,
                        "authentication failed",
                        format!("{}: {}", e.code(), e.details().unwrap_or_default()),
                    ))
                } else {
                    RedisError::from(e)
                });
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Bounds the next operation: it ends by `deadline` and reads at most
    /// [`MAX_READ`] bytes.
    pub(super) fn arm(&mut self, deadline: Instant) {
        let sock = self.stream.sock();
        sock.deadline = deadline;
        sock.left = MAX_READ;
        sock.got = 0;
        sock.then = None;
    }

    /// Bounds the next read of a pub/sub message: nothing may come until `idle_until`;
    /// once something does, the message must be whole within `then` and
    /// [`MAX_READ`] bytes.
    pub(super) fn arm_idle(&mut self, idle_until: Instant, then: Duration) {
        self.arm(idle_until);
        self.stream.sock().then = Some(then);
    }

    /// Whether anything was read since the last arming.
    pub(super) fn started(&mut self) -> bool {
        self.stream.sock().got > 0
    }

    /// Sends packed commands.
    pub(super) fn send(&mut self, bytes: &[u8]) -> RedisResult<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Reads one value (a reply, or a pub/sub message).
    pub(super) fn recv(&mut self) -> RedisResult<Value> {
        self.parser.parse_value(&mut self.stream)
    }

    fn reply(&mut self) -> RedisResult<Value> {
        loop {
            match self.recv()? {
                Value::Push { .. } => {}
                value => return Ok(value),
            }
        }
    }
}

/// Appends the RESP encoding of the command `args` to `out`.
fn pack(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// As the redis crate's own connection does it, on our socket.
impl ConnectionLike for Link {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.send(cmd)?;
        self.reply()
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.send(cmd)?;
        let mut values = Vec::with_capacity(count);
        let mut aborted = None;
        for idx in 0..offset + count {
            match self.reply()? {
                // Only a transaction (`MULTI`) has replies before `offset`; the store
                // runs none.
                Value::ServerError(e) if idx < offset => {
                    aborted.get_or_insert(e);
                }
                value if idx >= offset => values.push(value),
                _ => {}
            }
        }
        match aborted {
            Some(e) => Err(RedisError::from(e)),
            None => Ok(values),
        }
    }

    fn get_db(&self) -> i64 {
        self.db
    }

    fn check_connection(&mut self) -> bool {
        redis::cmd("PING").query::<String>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        true
    }
}
