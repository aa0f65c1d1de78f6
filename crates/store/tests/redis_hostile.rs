//! The Redis store against fake servers (raw RESP bytes on a loopback port) that
//! stall, trickle, declare huge lengths or flood: each operation ends within its time
//! limit, reads a bounded number of bytes, and fails as an error. Needs no
//! `redis-server`. Also: which URLs the store accepts (clear text only to loopback).
#![cfg(feature = "redis")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smartling_auth_core::store::{RecordName, Store, StoreError, StoreErrorKind};
use smartling_auth_store::RedisStore;

/// The store's default time limit.
const LIMIT: Duration = Duration::from_secs(1);
/// What an operation may take past its limit here: the store itself overshoots by a
/// few milliseconds (a timer's slack); the rest is this shared machine's scheduling.
const MARGIN: Duration = Duration::from_millis(250);

/// A valid reply to a read: `TIME`, then no record.
const READ_REPLY: &[u8] = b"*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n$-1\r\n";

fn name() -> RecordName {
    RecordName::new(&Default::default(), "user", None)
}

/// A fake Redis: each of the first `conns` connections is served by `serve` on a
/// thread of its own. Every `serve` here ends by itself within seconds.
fn fake(conns: usize, serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for con in listener.incoming().take(conns) {
            let Ok(con) = con else { return };
            let serve = serve.clone();
            std::thread::spawn(move || serve(con));
        }
    });
    port
}

/// Reads what the client sent (one command or pipeline, sent in one go).
fn request(con: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0; 64 * 1024];
    con.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = con.read(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// Runs `op` on a thread of its own; its result and how long it took. Panics when it
/// takes over 20 s (what the store's trickled reads took before).
fn timed<T: Send + 'static>(op: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let started = Instant::now();
        let done = op();
        let _ = tx.send((done, started.elapsed()));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the operation returns")
}

fn read_at(url: String) -> (Result<(), StoreError>, Duration) {
    timed(move || {
        let store = RedisStore::open(&url).unwrap();
        store.read(&name()).map(|_| ())
    })
}

/// (a) A reply trickled a byte every 300 ms (every socket read succeeds) ends at the
/// operation's limit: before, each read restarted the limit, and a read took 25-35 s.
#[test]
fn a_trickled_reply_ends_within_the_limit() {
    let trickle = |reply: &'static [u8]| {
        move |mut con: TcpStream| {
            let _ = request(&mut con);
            for b in reply.iter().take(20) {
                std::thread::sleep(Duration::from_millis(300));
                if con.write_all(&[*b]).is_err() {
                    return;
                }
            }
        }
    };
    let mut with_auth = b"+OK\r\n".to_vec();
    with_auth.extend_from_slice(READ_REPLY);
    let with_auth: &'static [u8] = with_auth.leak();
    let cases = [
        ("redis://127.0.0.1:{}/", trickle(READ_REPLY)),
        // The AUTH reply trickled.
        ("redis://:pw@127.0.0.1:{}/", trickle(with_auth)),
        // A TLS record trickled during the handshake.
        (
            "rediss://127.0.0.1:{}/",
            trickle(b"\x16\x03\x03\x40\x00\x02\x00\x00\x00\x00\x00\x00"),
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(url, serve)| {
            let url = url.replace("{}", &fake(1, serve).to_string());
            std::thread::spawn(move || (read_at(url.clone()), url))
        })
        .collect();
    for run in runs {
        let ((read, took), url) = run.join().unwrap();
        let e = read.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Timeout, "{url}: {e}");
        assert!(took < LIMIT + MARGIN, "{url}: {took:?}");
        assert!(took >= LIMIT - Duration::from_millis(50), "{url}: {took:?}");
        eprintln!("trickle {url}: returned after {took:?}");
    }
}

/// (b) A server silent after accepting, or after part of the setup, ends the
/// operation at its limit: connecting, `AUTH`, `SELECT`, TLS and the command share
/// one deadline (before, an `AUTH` answered at 0.9 s gave the command a second more).
#[test]
fn a_silent_server_ends_within_the_limit() {
    let silent = |mut con: TcpStream| {
        let _ = request(&mut con);
        std::thread::sleep(Duration::from_secs(4));
    };
    let slow_auth = |mut con: TcpStream| {
        let _ = request(&mut con);
        std::thread::sleep(Duration::from_millis(900));
        let _ = con.write_all(b"+OK\r\n");
        std::thread::sleep(Duration::from_secs(4));
    };
    let slow_select = |mut con: TcpStream| {
        let _ = request(&mut con);
        std::thread::sleep(Duration::from_millis(900));
        let _ = con.write_all(b"+OK\r\n+OK\r\n");
        std::thread::sleep(Duration::from_secs(4));
    };
    let ports = [
        ("redis://127.0.0.1:{}/", fake(1, silent)),
        ("redis://:pw@127.0.0.1:{}/", fake(1, silent)),
        ("redis://127.0.0.1:{}/3", fake(1, silent)),
        ("rediss://127.0.0.1:{}/", fake(1, silent)),
        ("redis://:pw@127.0.0.1:{}/", fake(1, slow_auth)),
        ("redis://:pw@127.0.0.1:{}/3", fake(1, slow_select)),
    ];
    let runs: Vec<_> = ports
        .into_iter()
        .map(|(url, port)| {
            let url = url.replace("{}", &port.to_string());
            std::thread::spawn(move || (read_at(url.clone()), url))
        })
        .collect();
    for run in runs {
        let ((read, took), url) = run.join().unwrap();
        let e = read.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Timeout, "{url}: {e}");
        assert!(took < LIMIT + MARGIN, "{url}: {took:?}");
        eprintln!("silent {url}: returned after {took:?}");
    }
}

/// A server that closes the connection at once (during the TLS handshake too) is
/// unavailable, at once: the handshake loop ends on the end of the stream.
#[test]
fn a_server_that_closes_at_once_is_unavailable_at_once() {
    for url in [
        "redis://127.0.0.1:{}/",
        "rediss://127.0.0.1:{}/",
        "redis://:pw@127.0.0.1:{}/",
    ] {
        let url = url.replace("{}", &fake(2, drop).to_string());
        let (read, took) = read_at(url.clone());
        let e = read.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Unavailable, "{url}: {e}");
        assert!(took < LIMIT / 2, "{url}: {took:?}");
    }
}

/// A lease against a silent server ends within one limit too: waiting for the
/// subscription to its wake-ups (which a lease waits for) and asking for the lease
/// share the deadline (before, each had a full limit: 2 s).
#[test]
fn a_lease_against_a_silent_server_ends_within_the_limit() {
    let port = fake(4, |mut con: TcpStream| {
        let _ = request(&mut con);
        std::thread::sleep(Duration::from_secs(4));
    });
    let (lease, took) = timed(move || {
        let store = RedisStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
        store.lease(&name(), smartling_auth_core::store::LeaseId(1), LIMIT)
    });
    let e = lease.unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Timeout, "{e}");
    assert!(took < LIMIT + MARGIN, "{took:?}");
    eprintln!("silent lease: returned after {took:?}");
}

/// (c) Replies that each take 0.9 s of the default 1 s limit are served, on a new
/// connection and on a kept one: the limit is the operation's, not shorter.
#[test]
fn replies_within_the_limit_are_served() {
    let port = fake(1, |mut con: TcpStream| {
        for _ in 0..3 {
            if request(&mut con).is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(900));
            if con.write_all(READ_REPLY).is_err() {
                return;
            }
        }
    });
    let store = Arc::new(RedisStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap());
    for round in 0..3 {
        let s = store.clone();
        let (read, took) = timed(move || s.read(&name()));
        let read = read.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(read.record.is_none());
        assert!(took >= Duration::from_millis(900), "{took:?}");
    }
}

/// Floods `header` and then `filler` (up to 64 MiB) at the client, as fast as it
/// takes them; the bytes it sent go to `sent`.
fn flood(
    header: Vec<u8>,
    filler: &'static [u8],
    sent: Arc<AtomicUsize>,
) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut con: TcpStream| {
        let _ = request(&mut con);
        con.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
        if con.write_all(&header).is_err() {
            return;
        }
        sent.fetch_add(header.len(), Ordering::Relaxed);
        let chunk = filler.repeat(64 * 1024 / filler.len());
        while sent.load(Ordering::Relaxed) < 64 << 20 {
            match con.write(&chunk) {
                Ok(n) => sent.fetch_add(n, Ordering::Relaxed),
                Err(_) => return,
            };
        }
    }
}

/// (d) Huge declared lengths (a bulk string of 2 GB, an array of 2 billion, arrays
/// nested 50 deep), followed by as much as the client takes: the store allocates no
/// declared size, reads at most its budget (256 KiB) and fails within the limit,
/// without aborting. Before, it read all 64 MiB the server sent.
#[test]
fn huge_declared_lengths_are_read_no_further_than_the_budget() {
    let cases: [(Vec<u8>, &'static [u8]); 4] = [
        (b"$2000000000\r\n".to_vec(), b"x"),
        (b"*2000000000\r\n".to_vec(), b":1\r\n"),
        (b"*2000000000\r\n".repeat(50), b":1\r\n"),
        (
            b"*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n$9223372036854775807\r\n".to_vec(),
            b"y",
        ),
    ];
    for (header, filler) in cases {
        let sent = Arc::new(AtomicUsize::new(0));
        let shown = String::from_utf8_lossy(&header[..header.len().min(20)]).into_owned();
        let port = fake(1, flood(header, filler, sent.clone()));
        let (read, took) = read_at(format!("redis://127.0.0.1:{port}/"));
        let e = read.unwrap_err();
        assert!(
            matches!(e.kind, StoreErrorKind::Protocol | StoreErrorKind::Timeout),
            "{shown}: {e}"
        );
        assert!(took < LIMIT + MARGIN, "{shown}: {took:?}");
        // Give the flood time to fill the socket buffers the client left.
        std::thread::sleep(Duration::from_millis(300));
        let sent = sent.load(Ordering::Relaxed);
        eprintln!("flood {shown:?}: {e}; server sent {sent} bytes in all, {took:?}");
        assert!(
            sent < 16 << 20,
            "{shown}: the client took {sent} bytes (socket buffers hold a few MiB)"
        );
    }
}

/// The subscriber's reads are bounded too: a message declaring 2 GB and flooded
/// costs it at most its budget, then a new connection; a watch still ends on time.
#[test]
fn a_flooded_subscriber_reads_no_further_than_the_budget() {
    let sent = Arc::new(AtomicUsize::new(0));
    let flooding = flood(
        b"*3\r\n$7\r\nmessage\r\n$3\r\nabc\r\n$2000000000\r\n".to_vec(),
        b"z",
        sent.clone(),
    );
    let port = fake(3, move |mut con: TcpStream| {
        let mut peek = [0u8; 256];
        let n = con.peek(&mut peek).unwrap_or(0);
        if peek[..n].windows(9).any(|w| w == b"SUBSCRIBE") {
            flooding(con);
        } else {
            let _ = request(&mut con);
            let _ = con.write_all(b":0\r\n");
        }
    });
    let store = RedisStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
    let since = Instant::now();
    let until = since + Duration::from_millis(1500);
    let heard = store.watch(&name(), since, until).unwrap();
    assert!(Instant::now() < until + MARGIN);
    assert!(
        matches!(heard, smartling_auth_core::store::Watched::Quiet),
        "{heard:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let sent = sent.load(Ordering::Relaxed);
    eprintln!("subscriber flood: server sent {sent} bytes");
    assert!(sent < 16 << 20, "the subscriber took {sent} bytes");
}

/// Clear text (`redis://`) goes to loopback only, unless the user opts in by the URL
/// (the CLI's way) or by the constructor; `rediss://` goes anywhere. Nothing connects.
#[test]
fn clear_text_goes_only_to_loopback_unless_the_user_opts_in() {
    for url in [
        "redis://10.0.0.1/",
        "redis://example.com/",
        "redis://[2001:db8::1]/",
        "redis://user:pw-Secret-9@example.com:6379/2",
        "redis://:pw-Secret-9@10.0.0.1/?protocol=resp2",
        "redis://localhost.example.com/",
        "redis://128.0.0.1/",
    ] {
        let e = RedisStore::open(url).unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Refused, "{url}: {e}");
        assert!(e.message.contains("rediss://"), "{url}: {e}");
        assert!(e.message.contains("insecure=plaintext"), "{url}: {e}");
        assert!(!e.to_string().contains("pw-Secret-9"), "{url}: {e}");
    }
    for url in [
        "redis://127.0.0.1/",
        "redis://127.9.8.7:6380/1",
        "redis://localhost/",
        "redis://LocalHost:6379/",
        "redis://[::1]:6379/",
        "redis://[::ffff:127.0.0.1]/",
        "redis://:pw@127.0.0.1/",
        "rediss://example.com/",
        "rediss://[2001:db8::1]:6380/",
        "redis://10.0.0.1/?insecure=plaintext",
        "redis://:pw@example.com:6379/2?insecure=plaintext",
        "redis://example.com/?protocol=resp2&insecure=plaintext",
    ] {
        RedisStore::open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    for url in [
        "redis://10.0.0.1/",
        "redis://[2001:db8::1]/",
        "redis://example.com/",
    ] {
        RedisStore::open_allowing_plaintext(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    // An opt-in is said exactly so; a fragment (the redis crate's `#insecure`, no
    // certificate check) is refused.
    for url in [
        "redis://10.0.0.1/?insecure=yes",
        "redis://10.0.0.1/?insecure",
        "rediss://example.com/#insecure",
    ] {
        let e = RedisStore::open(url).unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Refused, "{url}: {e}");
    }
}

/// The opt-in warns once per store; loopback and TLS stores say nothing.
#[test]
fn an_opted_in_clear_text_store_warns_once() {
    let logs = smartling_auth_testkit::logs::LogCapture::new();
    tracing::subscriber::with_default(logs.subscriber(tracing::Level::WARN), || {
        let store = RedisStore::open("redis://:pw-Secret-9@10.0.0.1/?insecure=plaintext")
            .unwrap()
            .with_prefix("p:")
            .with_timeout(Duration::from_millis(100));
        drop(store);
        RedisStore::open("redis://127.0.0.1/").unwrap();
        RedisStore::open("rediss://example.com/").unwrap();
    });
    let text = logs.text();
    assert_eq!(text.matches("clear text").count(), 1, "{text}");
    assert!(text.contains("10.0.0.1"), "{text}");
    assert!(!text.contains("pw-Secret-9"), "{text}");
}
