//! Resource bounds: the emulator recovers from descriptor exhaustion, leaks nothing
//! per request, caps its connections, closes idle ones, and a fault on one request
//! never holds up another.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::child::{LIMIT, Running, poll_until};
use common::*;
use smartling_auth_emulator::{Emulator, Endpoint, Fault};

const USER: &str = "res-user:res-secret";

/// Sends one login on a fresh connection that asks to close; returns the status, or
/// `None` when no answer came within `wait`.
fn login_status(addr: SocketAddr, wait: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, wait).ok()?;
    stream.set_read_timeout(Some(wait)).ok()?;
    stream.set_write_timeout(Some(wait)).ok()?;
    let body = login_body("res-user", "res-secret");
    let request = format!(
        "POST {AUTH} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(target_os = "linux")]
#[test]
fn serves_again_after_running_out_of_descriptors() {
    const NOFILE: usize = 64;
    let emu = Running::bin_with_nofile(NOFILE, &["--user", USER]);
    let addr = emu.addr();
    assert_eq!(login_status(addr, LIMIT), Some(200));

    // More idle connections than the emulator has descriptors: the kernel completes
    // every handshake, the emulator runs out while accepting them.
    let idle: Vec<TcpStream> = (0..NOFILE + 16)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // At the limit, give or take the descriptor an accept was about to take.
    let exhausted = poll_until(LIMIT, || (emu.fds() + 1 >= NOFILE).then_some(()));
    assert!(
        exhausted.is_some(),
        "the emulator never ran out of descriptors"
    );

    drop(idle);
    // Once the descriptors are free again, it answers again. Each attempt is
    // bounded; the count of attempts is too.
    let served = (0..10).any(|_| login_status(addr, Duration::from_secs(2)) == Some(200));
    assert!(
        served,
        "the emulator never served again after running out of descriptors"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn huge_declared_bodies_leak_no_thread_and_no_descriptor() {
    const REQUESTS: usize = 300;
    let emu = Running::bin(&["--user", USER]);
    let addr = emu.addr();
    assert_eq!(login_status(addr, LIMIT), Some(200));
    let (threads, fds) = (emu.threads(), emu.fds());

    let request = format!(
        "POST {AUTH} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n{{}}"
    );
    for _ in 0..REQUESTS {
        let reply = raw_exchange(addr, request.as_bytes());
        assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    }

    // Connections close asynchronously; give them a bounded while to go.
    let settled = poll_until(LIMIT, || {
        (emu.threads() <= threads && emu.fds() <= fds).then_some(())
    });
    assert!(
        settled.is_some(),
        "threads {threads} -> {}, descriptors {fds} -> {} after {REQUESTS} huge bodies",
        emu.threads(),
        emu.fds()
    );
    assert_eq!(login_status(addr, LIMIT), Some(200));
}

#[test]
fn a_delayed_request_never_holds_up_the_others() {
    // More held requests than the old server had workers.
    const HELD: usize = 24;
    const OTHERS: usize = 24;
    let emu = Arc::new(Emulator::start().unwrap());
    emu.inject(
        Endpoint::Authenticate,
        Fault::DelayHeaders(Duration::from_secs(600)),
        HELD as u64,
    );
    let (id, secret) = emu.demo_user();
    let held: Vec<_> = (0..HELD)
        .map(|_| {
            let emu = Arc::clone(&emu);
            let body = login_body(&id, &secret);
            std::thread::spawn(move || {
                let mut stream = raw(emu.addr());
                stream.write_all(&raw_post(AUTH, &body)).unwrap();
                // Ends when shutdown closes the connection.
                let _ = read_all(&mut stream);
            })
        })
        .collect();
    // Every held request has reached the emulator and taken its fault.
    let taken = poll_until(LIMIT, || {
        (emu.pending_faults(Endpoint::Authenticate) == 0).then_some(())
    });
    assert!(
        taken.is_some(),
        "the held requests never all reached a handler"
    );

    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let answered = (0..OTHERS)
        .filter(|_| try_get(&agent, &emu, WHOAMI, None).is_ok_and(|a| a.status == 401))
        .count();
    assert_eq!(answered, OTHERS);

    emu.shutdown();
    for h in held {
        h.join().unwrap();
    }
}

/// A login request on a fresh connection, sent but not read yet.
fn send_login(emu: &Emulator) -> TcpStream {
    let (id, secret) = emu.demo_user();
    let mut stream = raw(emu.addr());
    stream
        .write_all(&raw_post(AUTH, &login_body(&id, &secret)))
        .unwrap();
    stream
}

#[test]
fn connections_over_the_cap_wait_until_one_closes() {
    let emu = Emulator::builder().max_connections(2).start().unwrap();
    // Two kept-alive connections, each answered once, hold both slots.
    let mut held: Vec<TcpStream> = (0..2).map(|_| send_login(&emu)).collect();
    for stream in &mut held {
        assert_eq!(read_one(stream), 200);
    }
    let mut third = send_login(&emu);
    // Nothing can prove "never"; half a second without an answer is the window, and
    // a slow machine can only make this pass, never fail.
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = third.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "answered over the cap: {early:?}"
    );
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 2);

    drop(held.pop());
    third.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    assert_eq!(read_one(&mut third), 200);
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 3);
}

#[test]
fn idle_and_stalled_clients_are_cut_off() {
    let emu = Emulator::builder()
        .idle_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    let addr = emu.addr();

    // Connected, never a byte.
    let (bytes, err) = read_all(&mut raw(addr));
    assert!(bytes.is_empty() && !timed_out(err), "{err:?}");

    // Half a header block.
    let mut stream = raw(addr);
    stream
        .write_all(b"GET /auth-api/v2/whoami HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, err) = read_all(&mut stream);
    assert!(!timed_out(err), "{err:?}");

    // Half a body: answered 408, then closed.
    let mut stream = raw(addr);
    stream
        .write_all(
            format!("POST {AUTH} HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{{\"us")
                .as_bytes(),
        )
        .unwrap();
    let (bytes, err) = read_all(&mut stream);
    assert!(!timed_out(err), "{err:?}");
    let reply = String::from_utf8_lossy(&bytes);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");

    // Kept alive after an answer, then idle.
    let mut stream = send_login(&emu);
    assert_eq!(read_one(&mut stream), 200);
    let (bytes, err) = read_all(&mut stream);
    assert!(bytes.is_empty() && !timed_out(err), "{err:?}");
    login(&emu);
}

fn timed_out(err: Option<std::io::ErrorKind>) -> bool {
    matches!(
        err,
        Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
    )
}

#[test]
fn a_client_that_stops_reading_frees_its_slot() {
    let emu = Emulator::builder()
        .max_connections(1)
        .idle_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    // Far more than socket buffers hold; the client never reads a byte of it.
    emu.inject(
        Endpoint::Authenticate,
        Fault::Oversized { bytes: 256 << 20 },
        1,
    );
    let hog = send_login(&emu);
    // The only slot is the hog's until its stalled answer times out.
    let mut next = send_login(&emu);
    assert_eq!(read_one(&mut next), 200);
    drop(hog);
}
