//! `access_token()` on a fresh token, against a `Mutex<Option<(token, Instant)>>`
//! baseline, on one thread and on two. Reported per operation: with two threads, the
//! time is wall time divided by the operations of both, so a halved time means a
//! doubled throughput.

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use smartling_auth_isahc::{AccessToken, BaseUrl, RefreshToken, TokenPair, TokenProvider};

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

/// The baseline: what a straightforward cache does.
struct MutexCache(Mutex<Option<(AccessToken, Instant)>>);

impl MutexCache {
    fn get(&self) -> Option<AccessToken> {
        let now = Instant::now();
        let guard = self.0.lock().unwrap();
        guard
            .as_ref()
            .filter(|(_, exp)| now < *exp)
            .map(|(t, _)| t.clone())
    }
}

/// Runs `iters` operations split over `threads` threads; returns the wall time.
fn parallel<F: Fn() + Send + Sync + 'static>(threads: u64, iters: u64, op: Arc<F>) -> Duration {
    let per_thread = iters.div_ceil(threads);
    let barrier = Arc::new(Barrier::new(threads as usize + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, barrier) = (Arc::clone(&op), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    op();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fresh_token");
    let p = provider();
    p.access_token().unwrap(); // warm this thread's copy
    g.bench_function("provider/1_thread", |b| {
        b.iter(|| black_box(p.access_token().unwrap()))
    });
    let cache = MutexCache(Mutex::new(Some((
        AccessToken::new("a".repeat(900)),
        Instant::now() + Duration::from_secs(3600),
    ))));
    g.bench_function("mutex_baseline/1_thread", |b| {
        b.iter(|| black_box(cache.get().unwrap()))
    });

    let p = Arc::new(provider());
    g.bench_function("provider/2_threads", |b| {
        let p = Arc::clone(&p);
        b.iter_custom(move |iters| {
            let p = Arc::clone(&p);
            parallel(
                2,
                iters,
                Arc::new(move || {
                    black_box(p.access_token().unwrap());
                }),
            )
        })
    });
    let cache = Arc::new(cache);
    g.bench_function("mutex_baseline/2_threads", |b| {
        let cache = Arc::clone(&cache);
        b.iter_custom(move |iters| {
            let cache = Arc::clone(&cache);
            parallel(
                2,
                iters,
                Arc::new(move || {
                    black_box(cache.get().unwrap());
                }),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
