//! A store's health between calls: one warning per outage, a backoff before the next
//! try, and a note when it answers again.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{StoreError, Timings};

#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Failures in a row.
    failures: u32,
    /// No operation before this instant.
    retry_at: Option<Instant>,
}

impl Health {
    /// Whether the store may be used now.
    pub(crate) fn available(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    /// Records an operation's outcome.
    pub(crate) fn note(
        &mut self,
        now: Instant,
        error: Option<&StoreError>,
        timings: &Timings,
        what: &str,
    ) {
        match error {
            None => {
                if self.failures > 0 {
                    info!(
                        failures = self.failures,
                        "token store answers again; sharing tokens through it"
                    );
                }
                self.failures = 0;
                self.retry_at = None;
            }
            Some(e) => {
                self.failures = self.failures.saturating_add(1);
                let pause = timings
                    .retry_first
                    .saturating_mul(1 << (self.failures - 1).min(16))
                    .min(timings.retry_max);
                self.retry_at = Some(now + pause);
                if self.failures == 1 {
                    warn!(
                        operation = what,
                        error = %e,
                        retry_in_ms = duration_ms(pause),
                        "token store failed; renewing locally until it answers again"
                    );
                }
            }
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
