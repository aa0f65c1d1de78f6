//! Measures the emulator's request rate over loopback, for benchmark reports.
//!
//! Bounded: `CLIENTS` threads each send a fixed number of requests, on keep-alive
//! connections and then on a fresh connection per request. Run with
//! `cargo run --release -p smartling-auth-emulator --example request_rate`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use smartling_auth_emulator::Emulator;

const CLIENTS: usize = 8;
const KEEP_ALIVE_REQUESTS: usize = 2_000;
const FRESH_REQUESTS: usize = 250;
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> std::io::Result<()> {
    let emu = Arc::new(Emulator::start()?);
    let (id, secret) = emu.demo_user();
    let login = serde_json::json!({"userIdentifier": id, "userSecret": secret}).to_string();
    let request = format!(
        "POST /auth-api/v2/authenticate HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{login}",
        emu.addr(),
        login.len()
    );
    let keep_alive = run(&emu, &request, KEEP_ALIVE_REQUESTS, false)?;
    let fresh = run(&emu, &request, FRESH_REQUESTS, true)?;
    println!(
        "{CLIENTS} clients, authenticate: keep-alive {keep_alive:.0} req/s ({} requests), \
         new connection each {fresh:.0} req/s ({} requests)",
        CLIENTS * KEEP_ALIVE_REQUESTS,
        CLIENTS * FRESH_REQUESTS
    );
    Ok(())
}

/// Requests per second over `CLIENTS` threads sending `per_client` requests each.
fn run(emu: &Arc<Emulator>, request: &str, per_client: usize, fresh: bool) -> std::io::Result<f64> {
    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (emu, start, request) = (Arc::clone(emu), Arc::clone(&start), request.to_owned());
            std::thread::spawn(move || -> std::io::Result<()> {
                start.wait();
                let mut stream = None;
                for _ in 0..per_client {
                    if fresh || stream.is_none() {
                        let s = TcpStream::connect(emu.addr())?;
                        s.set_read_timeout(Some(TIMEOUT))?;
                        s.set_nodelay(true)?;
                        stream = Some(s);
                    }
                    let s = stream.as_mut().expect("connected above");
                    s.write_all(request.as_bytes())?;
                    read_answer(s)?;
                }
                Ok(())
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for h in handles {
        h.join().expect("client thread panicked")?;
    }
    let secs = began.elapsed().as_secs_f64();
    Ok((CLIENTS * per_client) as f64 / secs)
}

/// Reads one 200 answer with a `Content-Length` body.
fn read_answer(s: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before a full answer"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            return Err(std::io::Error::other(format!("unexpected answer: {head}")));
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other("no content-length"))?;
        if buf.len() >= end + 4 + length {
            return Ok(());
        }
    }
}
