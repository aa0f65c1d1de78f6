//! The token provider against the emulator: lifecycle, faults and herds.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use smartling_auth_emulator::{Emulator, Endpoint, Fault, Outcome};
use smartling_auth_isahc::{Error, Policy, TokenProvider};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_policy;

fn provider(emu: &Emulator, policy: Policy) -> TokenProvider {
    for_emulator(TokenProvider::builder, emu, policy)
        .timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .deadline(Duration::from_secs(15))
        .build()
        .unwrap()
}

#[test]
fn logs_in_once_then_serves_from_cache() {
    let emu = emulator();
    let p = provider(&emu, quick_policy());
    let t1 = p.access_token().unwrap();
    let t2 = p.access_token().unwrap();
    assert!(t1.same_secret(&t2));
    assert_eq!(whoami(&emu, &t1), 200);
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
    let header = p.authorization_header().unwrap();
    assert!(header.is_sensitive());
    assert_eq!(header.to_str().unwrap(), format!("Bearer {}", t1.secret()));
}

#[test]
fn refresh_ahead_keeps_callers_unblocked_while_one_renews() {
    // A 4 s token, renewed from 2 s on, handed out until 3 s.
    let emu = start(Emulator::builder().access_ttl(Duration::from_secs(4)));
    let mut policy = quick_policy();
    policy.refresh_ahead = Some(Duration::from_secs(2));
    policy.min_validity = Some(Duration::from_secs(1));
    let p = provider(&emu, policy);
    let old = p.access_token().unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    // The renewal will hang for 0.5 s at the server.
    emu.inject(
        Endpoint::Refresh,
        Fault::DelayHeaders(Duration::from_millis(500)),
        1,
    );
    let done = Arc::new(AtomicBool::new(false));
    let renewer = {
        let (p, done) = (p.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let t = p.access_token().unwrap();
            done.store(true, Ordering::SeqCst);
            t
        })
    };
    // Once the refresh has reached the server, other callers get the current token.
    let start = Instant::now();
    while emu.pending_faults(Endpoint::Refresh) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the refresh never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..100 {
        assert!(p.access_token().unwrap().same_secret(&old));
    }
    assert!(
        !done.load(Ordering::SeqCst),
        "served while the renewal was still out"
    );
    let new = renewer.join().unwrap();
    assert!(!new.same_secret(&old));
    assert_eq!(whoami(&emu, &new), 200);
    assert_eq!(emu.counters().total(Endpoint::Refresh), 1);
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
}

#[test]
fn a_refused_refresh_falls_back_to_login() {
    let emu = emulator();
    let p = provider(&emu, quick_policy());
    let t1 = p.access_token().unwrap();
    emu.inject(Endpoint::Refresh, error_envelope(401), 1);
    assert!(p.invalidate(&t1));
    let t2 = p.access_token().unwrap();
    assert!(!t2.same_secret(&t1));
    assert_eq!(whoami(&emu, &t2), 200);
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Faulted), 1);
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 2);
}

#[test]
fn the_session_cap_leads_to_a_new_login() {
    let emu = start(Emulator::builder().session_ttl(Duration::from_secs(3600)));
    let p = provider(&emu, quick_policy());
    let t1 = p.access_token().unwrap();
    // 50 s before the cap, the refresh answer's lifetimes shrink to 50 s, under a
    // quarter of the first grant's 480 s...
    emu.advance(Duration::from_secs(3550));
    p.invalidate(&t1);
    let t2 = p.access_token().unwrap();
    // ...so the provider logs in at once rather than refreshing into the cap.
    let c = emu.counters();
    assert_eq!(c.get(Endpoint::Refresh, Outcome::Success), 1);
    assert_eq!(c.get(Endpoint::Authenticate, Outcome::Success), 2);
    // Past the old session's cap, the new session's token still works.
    emu.advance(Duration::from_secs(100));
    assert_eq!(whoami(&emu, &t2), 200);
    let t3 = p.access_token().unwrap();
    assert_eq!(whoami(&emu, &t3), 200);
    assert_eq!(
        emu.counters().total(Endpoint::Refresh),
        1,
        "no refresh into the cap"
    );
}

#[test]
fn every_fault_ends_in_recovery_or_a_clear_error_within_the_deadline() {
    let recoverable = [
        Fault::Status {
            status: 429,
            envelope: true,
            retry_after: Some("1".into()),
        },
        error_envelope(500),
        Fault::Status {
            status: 503,
            envelope: false,
            retry_after: None,
        },
        Fault::Html { status: 502 },
        Fault::DelayHeaders(Duration::from_secs(3)),
        Fault::DelayBody(Duration::from_secs(3)),
        Fault::Truncate,
        Fault::Reset,
    ];
    for fault in recoverable {
        let emu = emulator();
        emu.inject(Endpoint::Authenticate, fault.clone(), 2);
        let p = for_emulator(TokenProvider::builder, &emu, quick_policy())
            .timeouts(Duration::from_secs(1), Duration::from_millis(700))
            .deadline(Duration::from_secs(10))
            .build()
            .unwrap();
        let start = Instant::now();
        let token = p
            .access_token()
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert!(start.elapsed() < Duration::from_secs(15), "{fault:?}");
        assert_eq!(whoami(&emu, &token), 200, "{fault:?}");
        assert_eq!(
            emu.pending_faults(Endpoint::Authenticate),
            0,
            "{fault:?}: both faults served"
        );
        // Delayed answers are counted when the server finally sends them, after the
        // client gave up; every other fault is counted at once.
        if !matches!(fault, Fault::DelayHeaders(_) | Fault::DelayBody(_)) {
            let c = emu.counters();
            assert_eq!(
                c.get(Endpoint::Authenticate, Outcome::Faulted),
                2,
                "{fault:?}"
            );
            assert_eq!(
                c.get(Endpoint::Authenticate, Outcome::Success),
                1,
                "{fault:?}"
            );
        }
    }

    // Final answers: a clear error at once, no retry.
    let emu = emulator();
    emu.inject(
        Endpoint::Authenticate,
        Fault::Oversized { bytes: 100_000 },
        1,
    );
    let p = provider(&emu, quick_policy());
    assert!(matches!(p.access_token(), Err(Error::BodyTooLarge { .. })));
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);

    // An outage longer than the retries: the error names the last failure.
    let emu = emulator();
    emu.inject(Endpoint::Authenticate, error_envelope(503), 100);
    let p = provider(&emu, quick_policy());
    let err = p.access_token().unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{err}");
    assert_eq!(
        emu.counters().total(Endpoint::Authenticate),
        6,
        "max attempts"
    );
    // The next call tries again.
    emu.clear_faults();
    assert!(p.access_token().is_ok());
}

#[test]
fn the_deadline_bounds_a_call_during_a_long_outage() {
    let emu = emulator();
    emu.inject(
        Endpoint::Authenticate,
        Fault::Status {
            status: 429,
            envelope: true,
            retry_after: Some("30".into()),
        },
        5,
    );
    let mut policy = quick_policy();
    policy.retry.max_retry_after = Duration::from_secs(30);
    let p = TokenProvider::builder(base(&emu))
        .credentials(credentials())
        .policy(policy)
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    // The server asks for 30 s; the next try would fall past the 1 s deadline, so the
    // call gives up at once with what the server said.
    match p.access_token() {
        Err(e @ Error::Api(_)) => assert_eq!(e.status().map(|s| s.as_u16()), Some(429)),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
}

/// 1000 threads at the same instant: one login at a cold start, one refresh after expiry.
#[test]
fn a_herd_of_1000_threads_makes_one_login_then_one_refresh() {
    let emu = start(Emulator::builder().access_ttl(Duration::from_secs(33)));
    let mut policy = quick_policy();
    policy.refresh_ahead = Some(Duration::from_secs(31)); // renew 2 s after each grant
    policy.min_validity = Some(Duration::from_secs(30));
    let p = provider(&emu, policy);

    let herd = |p: &TokenProvider| -> HashSet<String> {
        let barrier = Arc::new(Barrier::new(1000));
        let threads: Vec<_> = (0..1000)
            .map(|_| {
                let (p, b) = (p.clone(), Arc::clone(&barrier));
                std::thread::Builder::new()
                    .stack_size(512 * 1024)
                    .spawn(move || {
                        b.wait();
                        p.access_token().map(|t| t.secret().to_owned())
                    })
                    .unwrap()
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect()
    };

    let cold = herd(&p);
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1);
    assert_eq!(cold.len(), 1, "every thread got the same token");

    // Past the hard margin (33 s - 30 s): every caller needs the renewal.
    std::thread::sleep(Duration::from_millis(3100));
    let warm = herd(&p);
    let c = emu.counters();
    assert_eq!(c.total(Endpoint::Authenticate), 1);
    assert_eq!(c.total(Endpoint::Refresh), 1);
    assert_eq!(warm.len(), 1);
    assert_ne!(cold, warm);
    let token = smartling_auth_isahc::AccessToken::new(warm.into_iter().next().unwrap());
    assert_eq!(whoami(&emu, &token), 200);
}

#[test]
fn a_panicking_caller_poisons_nothing() {
    let emu = emulator();
    let p = provider(&emu, quick_policy());
    let p2 = p.clone();
    let r = std::thread::spawn(move || {
        let _t = p2.access_token().unwrap();
        panic!("caller bug");
    })
    .join();
    assert!(r.is_err());
    assert!(p.access_token().is_ok());
}
