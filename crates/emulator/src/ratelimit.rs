//! Sliding-window limiter for authenticate calls, on the emulator's virtual clock.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// At most `max` accepted calls in any `window`. Runs on emulator time, so a test
/// can `advance` past the window instead of sleeping.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    max: u32,
    window: Duration,
    accepted: Mutex<VecDeque<Duration>>,
}

impl RateLimiter {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        RateLimiter {
            max,
            window,
            accepted: Mutex::new(VecDeque::new()),
        }
    }

    /// Admits a call at `now`, or returns the whole seconds to wait (at least 1).
    pub(crate) fn check(&self, now: Duration) -> Result<(), u64> {
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        while accepted
            .front()
            .is_some_and(|&t| t.saturating_add(self.window) <= now)
        {
            accepted.pop_front();
        }
        if accepted.len() < self.max as usize {
            accepted.push_back(now);
            return Ok(());
        }
        let free_at = accepted
            .front()
            .map_or(now.saturating_add(self.window), |&t| {
                t.saturating_add(self.window)
            });
        let wait = free_at.saturating_sub(now);
        Err(ceil_secs(wait).max(1))
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_window_and_recovers() {
        let limiter = RateLimiter::new(2, Duration::from_secs(10));
        let t0 = Duration::from_secs(100);
        assert!(limiter.check(t0).is_ok());
        assert!(limiter.check(t0).is_ok());
        assert_eq!(limiter.check(t0 + Duration::from_millis(500)), Err(10));
        assert!(limiter.check(t0 + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn zero_max_always_limits() {
        let limiter = RateLimiter::new(0, Duration::from_millis(300));
        assert_eq!(limiter.check(Duration::ZERO), Err(1));
    }
}
