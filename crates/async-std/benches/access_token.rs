//! `access_token()` on a fresh token, against a `Mutex<Option<(AccessToken, Instant)>>`
//! baseline, on one thread and on two.
//!
//! The provider starts from a token pair, so no server is needed. Its hot path completes
//! on the first poll; the benchmark polls each `access_token()` future once with a
//! no-op waker (and, for reference, through `futures_lite::future::block_on`).
//!
//! Two-thread figures are per operation: each thread runs `iters` calls, and the wall
//! time from the common start to the last finish is divided by 2. So
//! `single / two_threads` is the throughput ratio of two threads over one.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use smartling_auth_async_std::{
    AccessToken, BaseUrl, Policy, RefreshToken, Session, Step, TokenCache, TokenPair, TokenProvider,
};

/// Polls a future once with a no-op waker: `None` if it is not ready.
#[inline]
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl";

fn pair() -> TokenPair {
    TokenPair::new(
        AccessToken::new(TOKEN),
        RefreshToken::new("r.e.f"),
        Duration::from_secs(3600),
        Duration::from_secs(7200),
    )
}

fn provider() -> TokenProvider {
    TokenProvider::builder(BaseUrl::default())
        .token_pair(pair(), Instant::now())
        .build()
        .expect("provider")
}

/// The core's shared session alone, with a token published on its fast path.
fn shared_session() -> TokenCache {
    let session =
        Session::new(BaseUrl::default(), Policy::default()).with_token_pair(pair(), Instant::now());
    let shared = TokenCache::new(session);
    assert!(matches!(
        shared.call().step(Instant::now()),
        Step::UseToken(_)
    ));
    shared
}

/// The baseline: a lock around the token and its expiry.
struct Baseline(Mutex<Option<(AccessToken, Instant)>>);

impl Baseline {
    fn new() -> Self {
        Self(Mutex::new(Some((
            AccessToken::new(TOKEN),
            Instant::now() + Duration::from_secs(3600),
        ))))
    }

    #[inline]
    fn get(&self) -> Option<AccessToken> {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*guard {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            _ => None,
        }
    }
}

/// Runs `op` `iters` times on each of two threads started together; returns the wall
/// time per operation (wall time / 2).
fn two_threads(iters: u64, op: Arc<dyn Fn() + Send + Sync>) -> Duration {
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (barrier, op) = (Arc::clone(&barrier), Arc::clone(&op));
            std::thread::spawn(move || {
                op(); // warm this thread's copy of the token
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    op();
                }
                (start, Instant::now())
            })
        })
        .collect();
    let spans: Vec<(Instant, Instant)> = threads
        .into_iter()
        .map(|t| t.join().expect("bench thread"))
        .collect();
    let start = spans.iter().map(|s| s.0).min().expect("two spans");
    let end = spans.iter().map(|s| s.1).max().expect("two spans");
    (end - start) / 2
}

fn bench(c: &mut Criterion) {
    let mut single = c.benchmark_group("access_token/single");
    let p = provider();
    single.bench_function("provider_poll_once", |b| {
        b.iter(|| {
            black_box(
                poll_once(black_box(&p).access_token())
                    .expect("ready at once")
                    .expect("token"),
            )
        })
    });
    single.bench_function("provider_block_on", |b| {
        b.iter(|| {
            black_box(futures_lite::future::block_on(black_box(&p).access_token()).expect("token"))
        })
    });
    // Reference points: the clock read every variant pays, and the core's fast path
    // without the async wrapper.
    single.bench_function("instant_now", |b| b.iter(|| black_box(Instant::now())));
    let shared = shared_session();
    single.bench_function("core_cached", |b| {
        b.iter(|| black_box(black_box(&shared).cached(Instant::now()).expect("token")))
    });
    let base = Baseline::new();
    single.bench_function("baseline_mutex", |b| {
        b.iter(|| black_box(black_box(&base).get().expect("token")))
    });
    single.finish();

    let mut two = c.benchmark_group("access_token/2_threads");
    let p = provider();
    two.bench_function("provider_poll_once", |b| {
        let p = p.clone();
        let op: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            black_box(
                poll_once(black_box(&p).access_token())
                    .expect("ready at once")
                    .expect("token"),
            );
        });
        b.iter_custom(|iters| two_threads(iters, Arc::clone(&op)))
    });
    // Reference: the clock read alone, which tells how much parallelism the machine
    // actually gives two threads at the moment (ideal: same per-op time as
    // `single/instant_now` divided by 2).
    two.bench_function("instant_now", |b| {
        let op: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {
            black_box(Instant::now());
        });
        b.iter_custom(|iters| two_threads(iters, Arc::clone(&op)))
    });
    let base = Arc::new(Baseline::new());
    two.bench_function("baseline_mutex", |b| {
        let base = Arc::clone(&base);
        let op: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            black_box(black_box(&*base).get().expect("token"));
        });
        b.iter_custom(|iters| two_threads(iters, Arc::clone(&op)))
    });
    two.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
