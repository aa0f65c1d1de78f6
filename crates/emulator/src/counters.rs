//! Request counters: lock-free live counts and the snapshot handed to users.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::endpoint::Endpoint;

/// How the emulator answered one request, as recorded in [`Counters`].
///
/// ```
/// use smartling_auth_emulator::Outcome;
///
/// assert_eq!(Outcome::RateLimited.name(), "rate_limited");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// 200 from normal processing.
    Success,
    /// A 4xx from normal processing: bad credentials; an invalid, expired or reused
    /// token; a validation error (malformed or missing input, oversized body).
    Rejected,
    /// 429 from the emulator's own rate limiter.
    RateLimited,
    /// An injected fault that replaces the answer was served (status, HTML,
    /// truncation, reset or oversized body). Delay faults are not counted here: the
    /// answer after the delay is normal and counted by its own outcome.
    Faulted,
    /// 404 for an unknown path.
    NotFound,
    /// 405 for a known path with the wrong method.
    MethodNotAllowed,
    /// 500 after the handler panicked.
    InternalError,
}

impl Outcome {
    /// Every outcome, in a stable order.
    ///
    /// ```
    /// use smartling_auth_emulator::Outcome;
    ///
    /// assert!(Outcome::ALL.contains(&Outcome::Faulted));
    /// ```
    pub const ALL: [Outcome; 7] = [
        Outcome::Success,
        Outcome::Rejected,
        Outcome::RateLimited,
        Outcome::Faulted,
        Outcome::NotFound,
        Outcome::MethodNotAllowed,
        Outcome::InternalError,
    ];

    /// The short name used in the counters JSON.
    ///
    /// ```
    /// use smartling_auth_emulator::Outcome;
    ///
    /// assert_eq!(Outcome::Success.name(), "success");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Rejected => "rejected",
            Outcome::RateLimited => "rate_limited",
            Outcome::Faulted => "faulted",
            Outcome::NotFound => "not_found",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::InternalError => "internal_error",
        }
    }

    fn index(self) -> usize {
        match self {
            Outcome::Success => 0,
            Outcome::Rejected => 1,
            Outcome::RateLimited => 2,
            Outcome::Faulted => 3,
            Outcome::NotFound => 4,
            Outcome::MethodNotAllowed => 5,
            Outcome::InternalError => 6,
        }
    }
}

const ENDPOINTS: usize = Endpoint::ALL.len();
const OUTCOMES: usize = Outcome::ALL.len();

/// Live counters shared by the worker threads; atomics so no update is lost.
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    cells: [[AtomicU64; OUTCOMES]; ENDPOINTS],
}

impl LiveCounters {
    pub(crate) fn record(&self, endpoint: Endpoint, outcome: Outcome) {
        self.cells[endpoint.index()][outcome.index()].fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn snapshot(&self) -> Counters {
        let mut values = [[0; OUTCOMES]; ENDPOINTS];
        for (row, cells) in values.iter_mut().zip(&self.cells) {
            for (value, cell) in row.iter_mut().zip(cells) {
                *value = cell.load(Ordering::SeqCst);
            }
        }
        Counters { values }
    }

    pub(crate) fn reset(&self) {
        for cell in self.cells.iter().flatten() {
            cell.store(0, Ordering::SeqCst);
        }
    }
}

/// A snapshot of how many requests each endpoint answered, by [`Outcome`].
///
/// Admin requests under `/_emulator/` are not counted.
///
/// ```
/// use smartling_auth_emulator::{Emulator, Endpoint, Outcome};
///
/// let emu = Emulator::builder().start()?;
/// let counters = emu.counters();
/// assert_eq!(counters.get(Endpoint::Authenticate, Outcome::Success), 0);
/// assert_eq!(counters.total(Endpoint::Refresh), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    values: [[u64; OUTCOMES]; ENDPOINTS],
}

impl Counters {
    /// Requests to `endpoint` answered with `outcome`.
    ///
    /// ```
    /// use smartling_auth_emulator::{Counters, Endpoint, Outcome};
    ///
    /// assert_eq!(Counters::default().get(Endpoint::WhoAmI, Outcome::Rejected), 0);
    /// ```
    pub fn get(&self, endpoint: Endpoint, outcome: Outcome) -> u64 {
        self.values[endpoint.index()][outcome.index()]
    }

    /// All requests to `endpoint`, whatever the outcome.
    ///
    /// ```
    /// use smartling_auth_emulator::{Counters, Endpoint};
    ///
    /// assert_eq!(Counters::default().total(Endpoint::Other), 0);
    /// ```
    pub fn total(&self, endpoint: Endpoint) -> u64 {
        self.values[endpoint.index()].iter().sum()
    }

    /// Every `(endpoint, outcome, count)` triple, zero counts included.
    ///
    /// ```
    /// use smartling_auth_emulator::Counters;
    ///
    /// assert!(Counters::default().iter().all(|(_, _, n)| n == 0));
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (Endpoint, crate::Outcome, u64)> + '_ {
        Endpoint::ALL.into_iter().flat_map(move |e| {
            Outcome::ALL
                .into_iter()
                .map(move |o| (e, o, self.get(e, o)))
        })
    }

    /// The counters as JSON: `{"authenticate": {"success": 1, ..., "total": 1}, ...}`,
    /// the shape served by `GET /_emulator/counters`.
    ///
    /// ```
    /// use smartling_auth_emulator::Counters;
    ///
    /// let json = Counters::default().to_json();
    /// assert_eq!(json["refresh"]["total"], 0);
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        for endpoint in Endpoint::ALL {
            let mut row = serde_json::Map::new();
            for outcome in Outcome::ALL {
                row.insert(outcome.name().into(), self.get(endpoint, outcome).into());
            }
            row.insert("total".into(), self.total(endpoint).into());
            root.insert(endpoint.name().into(), row.into());
        }
        root.into()
    }
}
