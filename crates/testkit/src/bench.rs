//! What the providers' benchmarks compare against and how they run two threads, so the
//! blocking and the async provider's figures are measured the same way.

use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant};

use smartling_auth_core::AccessToken;

/// The baseline a provider's hot path is measured against: what a straightforward
/// cache does, a lock around the token and its expiry.
///
/// ```
/// use smartling_auth_core::AccessToken;
/// use std::time::Duration;
/// let cache = smartling_auth_testkit::bench::MutexBaseline::new(AccessToken::new("t"), Duration::from_secs(60));
/// assert_eq!(cache.get().unwrap().secret(), "t");
/// ```
#[derive(Debug)]
pub struct MutexBaseline(Mutex<Option<(AccessToken, Instant)>>);

impl MutexBaseline {
    /// A cache holding `token` for `ttl` from now.
    pub fn new(token: AccessToken, ttl: Duration) -> Self {
        Self(Mutex::new(Some((token, Instant::now() + ttl))))
    }

    /// The token while it lives: a lock, a clock read and a reference-count increment.
    #[inline]
    pub fn get(&self) -> Option<AccessToken> {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*guard {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            _ => None,
        }
    }
}

/// Runs `op` `iters` times on each of two threads started together, and returns the
/// wall time per operation of both (wall time / 2), which is what criterion's
/// `iter_custom` wants: `single / two_threads` is then the throughput ratio of two
/// threads over one. Each thread calls `op` once before the start, so a provider's
/// thread-private copy of the token is warm.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let calls = Arc::new(AtomicU64::new(0));
/// let counter = Arc::clone(&calls);
/// smartling_auth_testkit::bench::two_threads(10, Arc::new(move || {
///     counter.fetch_add(1, Ordering::Relaxed);
/// }));
/// assert_eq!(calls.load(Ordering::Relaxed), 2 * (10 + 1)); // the warm-up call each
/// ```
pub fn two_threads(iters: u64, op: Arc<dyn Fn() + Send + Sync>) -> Duration {
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (barrier, op) = (Arc::clone(&barrier), Arc::clone(&op));
            std::thread::spawn(move || {
                op();
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
