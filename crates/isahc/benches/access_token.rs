//! `access_token()` on a fresh token, against a `Mutex<Option<(token, Instant)>>`
//! baseline, on one thread and on two. Reported per operation: with two threads, the
//! time is wall time divided by the operations of both, so a halved time means a
//! doubled throughput. The baseline and the two-thread runner are the test kit's,
//! shared with the async provider's benchmark.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use smartling_auth_isahc::{AccessToken, BaseUrl, RefreshToken, TokenPair, TokenProvider};
use smartling_auth_testkit::bench::{MutexBaseline, two_threads};

fn provider() -> TokenProvider {
    let pair = TokenPair::new(
        AccessToken::new("a".repeat(900)),
        RefreshToken::new("r".repeat(700)),
        Duration::from_secs(3600),
        Duration::from_secs(7200),
    );
    TokenProvider::builder(BaseUrl::default())
        .token_pair(pair, Instant::now())
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fresh_token");
    let p = provider();
    p.access_token().unwrap(); // warm this thread's copy
    g.bench_function("provider/1_thread", |b| {
        b.iter(|| black_box(p.access_token().unwrap()))
    });
    let cache = MutexBaseline::new(AccessToken::new("a".repeat(900)), Duration::from_secs(3600));
    g.bench_function("mutex_baseline/1_thread", |b| {
        b.iter(|| black_box(cache.get().unwrap()))
    });

    let p = Arc::new(provider());
    g.bench_function("provider/2_threads", |b| {
        let p = Arc::clone(&p);
        let op: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            black_box(p.access_token().unwrap());
        });
        b.iter_custom(|iters| two_threads(iters, Arc::clone(&op)))
    });
    let cache = Arc::new(cache);
    g.bench_function("mutex_baseline/2_threads", |b| {
        let cache = Arc::clone(&cache);
        let op: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            black_box(cache.get().unwrap());
        });
        b.iter_custom(|iters| two_threads(iters, Arc::clone(&op)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
