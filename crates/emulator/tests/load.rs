//! 200 concurrent clients mixing every endpoint with injected faults: no unexpected
//! errors, and the server's counters match the clients' tallies exactly.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};

const CLIENTS: usize = 200;
const ROUNDS: usize = 12;
const TIME_BUDGET: Duration = Duration::from_secs(3);

/// What one client saw, per endpoint (index = position in `Endpoint::ALL`).
#[derive(Debug, Default, Clone)]
struct Tally {
    success: [u64; 3],
    rejected: [u64; 3],
    faulted: [u64; 3],
    unexpected: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        for i in 0..3 {
            self.success[i] += other.success[i];
            self.rejected[i] += other.rejected[i];
            self.faulted[i] += other.faulted[i];
        }
        self.unexpected.extend(other.unexpected.iter().cloned());
    }
}

const A: usize = 0;
const R: usize = 1;
const W: usize = 2;

fn client(emu: &Emulator, id: &str, secret: &str, start: &Barrier, deadline: Instant) -> Tally {
    let agent = agent();
    let mut t = Tally::default();
    let mut tokens: Option<Pair> = None;
    start.wait();
    for round in 0..ROUNDS {
        if round > 0 && Instant::now() > deadline {
            break;
        }
        // Every fourth round sends a wrong secret on purpose: an expected rejection.
        let wrong = round % 4 == 3;
        if tokens.is_none() || wrong {
            let secret = if wrong { "wrong-secret" } else { secret };
            match try_post(&agent, emu, AUTH, &login_body(id, secret)) {
                Ok(a) if a.status == 200 && !wrong => {
                    t.success[A] += 1;
                    tokens = Some(pair(&a));
                }
                Ok(a) if a.status == 401 && wrong => t.rejected[A] += 1,
                Ok(a) if a.status == 503 => t.faulted[A] += 1,
                Ok(a) => t
                    .unexpected
                    .push(format!("authenticate {}: {}", a.status, a.text)),
                // Reset fault.
                Err(_) => t.faulted[A] += 1,
            }
        }
        if let Some(p) = tokens.clone() {
            match try_post(&agent, emu, REFRESH, &refresh_body(&p.refresh)) {
                Ok(a) if a.status == 200 => {
                    t.success[R] += 1;
                    tokens = Some(pair(&a));
                }
                Ok(a) if a.status == 503 => t.faulted[R] += 1,
                Ok(a) => t
                    .unexpected
                    .push(format!("refresh {}: {}", a.status, a.text)),
                // Truncate fault: the body never completes; the token was not burnt.
                Err(_) => t.faulted[R] += 1,
            }
        }
        if let Some(p) = &tokens {
            match try_get(&agent, emu, WHOAMI, Some(&p.access)) {
                Ok(a) if a.status == 200 => t.success[W] += 1,
                Ok(a) if a.status == 502 && a.text.contains("<html>") => t.faulted[W] += 1,
                Ok(a) => t
                    .unexpected
                    .push(format!("whoami {}: {}", a.status, a.text)),
                Err(e) => t.unexpected.push(format!("whoami error: {e}")),
            }
        }
    }
    t
}

#[test]
fn two_hundred_clients_with_faults_and_exact_counters() {
    let emu = Arc::new(
        Emulator::builder()
            .user("load-user", "load-secret")
            .start()
            .unwrap(),
    );
    let injected = [
        (Endpoint::Authenticate, Fault::Reset, 10),
        (
            Endpoint::Authenticate,
            Fault::Status {
                status: 503,
                envelope: true,
                retry_after: Some("1".into()),
            },
            10,
        ),
        (
            Endpoint::Refresh,
            Fault::Status {
                status: 503,
                envelope: true,
                retry_after: None,
            },
            25,
        ),
        (Endpoint::Refresh, Fault::Truncate, 15),
        (Endpoint::WhoAmI, Fault::Html { status: 502 }, 30),
        (
            Endpoint::WhoAmI,
            Fault::DelayHeaders(Duration::from_millis(20)),
            10,
        ),
        (
            Endpoint::Refresh,
            Fault::DelayBody(Duration::from_millis(20)),
            10,
        ),
    ];
    for (endpoint, fault, count) in injected.iter().cloned() {
        emu.inject(endpoint, fault, count);
    }

    let start = Arc::new(Barrier::new(CLIENTS));
    let began = Instant::now();
    let deadline = Instant::now() + TIME_BUDGET + Duration::from_secs(2);
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let emu = Arc::clone(&emu);
            let start = Arc::clone(&start);
            std::thread::spawn(move || client(&emu, "load-user", "load-secret", &start, deadline))
        })
        .collect();
    let mut total = Tally::default();
    for h in handles {
        total.add(&h.join().unwrap());
    }
    let elapsed = began.elapsed();

    assert!(
        total.unexpected.is_empty(),
        "{:?}",
        &total.unexpected[..total.unexpected.len().min(5)]
    );
    let c = emu.counters();
    for (i, e) in [Endpoint::Authenticate, Endpoint::Refresh, Endpoint::WhoAmI]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            c.get(e, Outcome::Success),
            total.success[i],
            "{e:?} success"
        );
        assert_eq!(
            c.get(e, Outcome::Rejected),
            total.rejected[i],
            "{e:?} rejected"
        );
        assert_eq!(
            c.get(e, Outcome::Faulted),
            total.faulted[i],
            "{e:?} faulted"
        );
        assert_eq!(
            c.total(e),
            total.success[i] + total.rejected[i] + total.faulted[i],
            "{e:?} total"
        );
    }
    // Every client ran at least one round, so every fault was consumed.
    for e in Endpoint::ALL {
        assert_eq!(emu.pending_faults(e), 0, "{e:?}");
    }
    assert_eq!(total.faulted, [20, 40, 30]);
    // A throughput figure for reports, not an assertion: run with --nocapture.
    let requests: u64 = Endpoint::ALL.iter().map(|&e| c.total(e)).sum();
    println!(
        "{CLIENTS} clients: {requests} requests in {:.2} s ({:.0} req/s)",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64()
    );
    emu.shutdown();
}
