//! `access_token()` on a fresh token, against a `Mutex<Option<(AccessToken, Instant)>>`
//! baseline, on one thread and on two.
//!
//! The provider starts from a token pair, so no server is needed. Its hot path completes
//! on the first poll; the benchmark polls each `access_token()` future once with a
//! no-op waker (and, for reference, through `futures_lite::future::block_on`).
//!
//! Two-thread figures are per operation: each thread runs `iters` calls, and the wall
//! time from the common start to the last finish is divided by 2. So
//! `single / two_threads` is the throughput ratio of two threads over one. The
//! baseline and the two-thread runner are the test kit's, shared with the blocking
//! provider's benchmark.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use smartling_auth_async_std::{
    AccessToken, BaseUrl, Policy, RefreshToken, TokenCache, TokenPair, TokenProvider,
};
use smartling_auth_core::{Session, Step};
use smartling_auth_testkit::bench::{MutexBaseline, two_threads};
use smartling_auth_testkit::poll::poll_once;

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
        shared.call().poll(Instant::now()),
        Step::UseToken(_)
    ));
    shared
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
    let base = MutexBaseline::new(AccessToken::new(TOKEN), Duration::from_secs(3600));
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
    let base = Arc::new(MutexBaseline::new(
        AccessToken::new(TOKEN),
        Duration::from_secs(3600),
    ));
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
