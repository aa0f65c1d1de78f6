//! A loopback listener that records what each connection sent, standing in for a proxy
//! or for a TLS server: the environment tests assert on who was contacted and with what.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The most bytes kept from one connection, and the most connections served.
const MAX_BYTES: usize = 64 * 1024;
const MAX_CONNECTIONS: usize = 64;
/// How long one connection may stay silent before the recorder gives up on it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// What `finish` sends to end the recording. Connections are accepted in the order
/// they were made, so every connection made before `finish` is recorded first.
const STOP: &[u8] = b"STOP /recorder HTTP/1.1\r\n\r\n";

/// What the recorder answers once a connection's first message is in.
#[derive(Clone, Copy)]
pub enum Reply {
    /// Closes without a word (a TLS server that gives up after the ClientHello).
    Close,
    /// An HTTP proxy's refusal, so that curl fails at once rather than waiting.
    ProxyRefusal,
}

pub struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    pub fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                for stream in listener.incoming().take(MAX_CONNECTIONS) {
                    let Ok(mut stream) = stream else { continue };
                    let bytes = first_message(&mut stream);
                    if bytes == STOP {
                        break;
                    }
                    seen.lock().unwrap().push(bytes);
                    if let Reply::ProxyRefusal = reply {
                        let _ = stream.write_all(
                            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                }
            })
        };
        Self {
            addr,
            seen,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, as a proxy variable names it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops listening and returns what each connection sent, in order.
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        let mut stop = TcpStream::connect(self.addr).expect("the recorder listens");
        stop.write_all(STOP).expect("the recorder reads");
        if let Some(t) = self.thread.take() {
            t.join().expect("the recorder thread ends");
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Reads one message: an HTTP head and its declared body, a TLS record, or a SOCKS
/// greeting; or whatever came before the peer closed or went quiet.
fn first_message(stream: &mut TcpStream) -> Vec<u8> {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while bytes.len() < MAX_BYTES && !complete(&bytes) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    bytes
}

fn complete(bytes: &[u8]) -> bool {
    match bytes.first() {
        None => false,
        // A TLS record: five bytes of header, then the length they declare.
        Some(0x16) => {
            bytes.len() >= 5 && bytes.len() >= 5 + u16::from_be_bytes([bytes[3], bytes[4]]) as usize
        }
        // A SOCKS5 greeting: version, count, methods.
        Some(0x05) => bytes.len() >= 2 && bytes.len() >= 2 + bytes[1] as usize,
        // SOCKS4: the request ends with the NUL after the user id.
        Some(0x04) => bytes.len() > 8 && bytes[8..].contains(&0),
        Some(_) => match find(bytes, b"\r\n\r\n") {
            Some(end) => bytes.len() >= end + 4 + content_length(&bytes[..end]),
            None => false,
        },
    }
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
