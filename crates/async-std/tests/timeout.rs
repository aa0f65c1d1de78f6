//! A server slower than the client's timeouts: callers get a timeout error within the
//! deadline, and the executor keeps running other tasks meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_lite::future;
use smartling_auth_async_std::{Error, TokenProvider, error::TransportErrorKind};
use smartling_auth_emulator::{Emulator, Endpoint, Fault};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::policy::quick_policy;

const DEADLINE: Duration = Duration::from_secs(3);
/// Generous: a request on the wire may overrun the deadline by its own timeout, and a
/// noisy 2-core machine adds its own delays.
const BOUND: Duration = Duration::from_secs(8);

fn is_timeout(e: &Error) -> bool {
    matches!(e, Error::Transport(t) if t.kind == TransportErrorKind::Timeout)
}

/// Ticks every 10 ms, at most 3,000 times (30 s).
async fn ticker(ticks: &AtomicU64) {
    for _ in 0..3000 {
        async_io::Timer::after(Duration::from_millis(10)).await;
        ticks.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_std::test]
async fn a_slow_server_gives_a_timeout_within_the_deadline_and_other_tasks_run() {
    let emu = start(Emulator::builder());
    // Every login is answered after 30 s: far beyond the client's 1 s total timeout.
    emu.inject(
        Endpoint::Authenticate,
        Fault::DelayHeaders(Duration::from_secs(30)),
        100,
    );
    let provider = for_emulator(TokenProvider::builder, &emu, quick_policy())
        .timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .deadline(DEADLINE)
        .build()
        .unwrap();

    // A ticker on another task of the executor...
    let spawned_ticks = Arc::new(AtomicU64::new(0));
    let spawned_ticker = {
        let ticks = Arc::clone(&spawned_ticks);
        async_std::task::spawn(async move { ticker(&ticks).await })
    };
    // ...more callers on other tasks...
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let provider = provider.clone();
            async_std::task::spawn(async move {
                let started = Instant::now();
                (provider.access_token().await, started.elapsed())
            })
        })
        .collect();

    // ...and one caller raced against a ticker on this very task: if the call blocked
    // the thread, this ticker could not advance.
    let local_ticks = AtomicU64::new(0);
    let started = Instant::now();
    let result = future::or(async { Some(provider.access_token().await) }, async {
        ticker(&local_ticks).await;
        None
    })
    .await
    .expect("the call ends before 30 s");
    let elapsed = started.elapsed();
    let err = result.expect_err("no token from a server that never answers in time");
    assert!(is_timeout(&err), "{err}");
    assert!(elapsed < BOUND, "took {elapsed:?}");
    let local = local_ticks.load(Ordering::SeqCst);
    assert!(local > 0, "the caller's own task kept running other work");

    for caller in callers {
        let (result, elapsed) = caller.await;
        let err = result.expect_err("no token");
        assert!(is_timeout(&err), "{err}");
        assert!(elapsed < BOUND, "took {elapsed:?}");
    }
    assert!(
        spawned_ticks.load(Ordering::SeqCst) > 0,
        "other tasks kept running"
    );
    assert!(spawned_ticker.cancel().await.is_none());
    // Pending delays are cut short.
    emu.shutdown();
}
