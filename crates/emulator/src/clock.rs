//! The emulator's virtual clock: real monotonic time plus an offset tests can advance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Emulator time. Monotonic (immune to wall-clock jumps) for expiry decisions, with a
/// wall-clock base captured at start so JWT `iat`/`exp` claims look like real unix times.
#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    wall_base: Duration,
    /// Advanced offset in nanoseconds; an atomic so `advance` never blocks handlers.
    offset_nanos: AtomicU64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            start: Instant::now(),
            wall_base: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            offset_nanos: AtomicU64::new(0),
        }
    }

    /// Emulator time elapsed since start, advanced offset included.
    pub(crate) fn now(&self) -> Duration {
        self.start.elapsed().saturating_add(self.offset())
    }

    pub(crate) fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    pub(crate) fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Unix seconds for the emulator time `at`.
    pub(crate) fn unix_secs(&self, at: Duration) -> u64 {
        self.wall_base.saturating_add(at).as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_time_forward() {
        let clock = Clock::new();
        let before = clock.now();
        clock.advance(Duration::from_secs(100));
        assert!(clock.now() >= before + Duration::from_secs(100));
        assert_eq!(clock.offset(), Duration::from_secs(100));
        assert!(clock.unix_secs(clock.now()) > 1_600_000_000);
    }

    #[test]
    fn advance_saturates() {
        let clock = Clock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert!(clock.now() >= Duration::from_nanos(u64::MAX));
    }
}
