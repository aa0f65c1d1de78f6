//! The simulated store and server: plain data the fleet acts on at the true time.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use smartling_auth_core::store::{Fetched, LeaseId, StoreError, StoreErrorKind, Stored};

/// One store operation, as a transport hands it to the store.
#[derive(Debug, Clone)]
pub(super) enum StoreOp {
    Read,
    Lease(LeaseId, Duration),
    Write {
        expected: u64,
        stored: Stored,
        ttl: Duration,
        /// `SimStore::empties` at the writer's last read.
        empties: u64,
    },
    Release(LeaseId),
}

/// What the store answered.
#[derive(Debug, Clone)]
pub(super) enum StoreResult {
    Read(Result<Fetched, StoreError>),
    Flag(Result<bool, StoreError>),
    Unit(Result<(), StoreError>),
}

impl StoreResult {
    pub(super) fn is_err(&self) -> bool {
        match self {
            StoreResult::Read(r) => r.is_err(),
            StoreResult::Flag(r) => r.is_err(),
            StoreResult::Unit(r) => r.is_err(),
        }
    }
}

/// An operation on its way: issued by a process, acted on by the store (once), its
/// answer delivered to the process (or to nobody: an orphan whose caller gave up).
#[derive(Debug)]
pub(super) struct Transit {
    pub(super) ticket: u64,
    pub(super) op: StoreOp,
    pub(super) result: Option<StoreResult>,
    pub(super) issued_t: u64,
    /// When the store acted on it (true time), and `SimStore::empties` then.
    pub(super) acted_t: u64,
    pub(super) acted_empties: u64,
    /// The process awaiting the answer; `None` once it gave up or died.
    pub(super) owner: Option<usize>,
}

/// The fleet's own record in the store: which token, and when the store's clock says
/// it was issued.
#[derive(Debug, Clone)]
pub(super) struct Generation {
    pub(super) token: String,
    /// The true time it landed.
    pub(super) landed_t: u64,
    /// The true time before which no process may renew it (no fault given).
    pub(super) refresh_t: u64,
    /// The server's issue time of its token (true time).
    pub(super) issued_t: u64,
}

/// The shared store: one record, one lease, compare-and-set writes, its own clock,
/// and the faults the model injects.
#[derive(Debug)]
pub(super) struct SimStore {
    /// The store's clock at true time 0, in milliseconds since the Unix epoch.
    pub(super) epoch_ms: u64,
    pub(super) up: bool,
    /// The record, and the true time its time to live ends.
    pub(super) record: Option<(Stored, u64)>,
    /// The lease: holder, and the true time it ends.
    pub(super) lease: Option<(LeaseId, u64)>,
    /// The highest version since the store last held no record.
    pub(super) high: u64,
    /// The next write is acknowledged and lost.
    pub(super) lose_next_write: bool,
    pub(super) transit: Vec<Transit>,
    pub(super) next_ticket: u64,
    /// The fleet's record the store holds, if the record is one.
    pub(super) generation: Option<Generation>,
    /// How many times the store lost its record (evicted, restarted empty): versions
    /// start again after each.
    pub(super) empties: u64,
}

impl SimStore {
    pub(super) fn new(epoch_ms: u64) -> Self {
        Self {
            epoch_ms,
            up: true,
            record: None,
            lease: None,
            high: 0,
            lose_next_write: false,
            transit: Vec::new(),
            next_ticket: 0,
            generation: None,
            empties: 0,
        }
    }

    /// The store's clock at true time `t`.
    pub(super) fn clock(&self, t: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.epoch_ms + t)
    }

    /// A store clock reading as true time (saturating at 0).
    pub(super) fn true_time(&self, at: SystemTime) -> u64 {
        let ms = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        ms.saturating_sub(self.epoch_ms)
    }

    pub(super) fn version(&self) -> u64 {
        self.record.as_ref().map_or(0, |(s, _)| s.version)
    }

    pub(super) fn down() -> StoreError {
        StoreError::new(StoreErrorKind::Unavailable, "the model store is down")
    }

    /// Empties the store: no record, no lease, versions start again.
    pub(super) fn empty(&mut self) {
        self.record = None;
        self.lease = None;
        self.high = 0;
        self.generation = None;
        self.empties += 1;
    }
}

/// A token the server issued.
#[derive(Debug, Clone, Copy)]
pub(super) struct Issued {
    /// True time of issue.
    pub(super) t: u64,
    /// True time the access token dies.
    pub(super) dies_t: u64,
    /// True time the refresh token dies.
    pub(super) refresh_dies_t: u64,
}

/// The auth server: always answers, issues numbered tokens of one lifetime, and
/// remembers every token it issued.
#[derive(Debug)]
pub(super) struct Server {
    pub(super) life_s: u64,
    pub(super) refresh_life_s: u64,
    /// Access token -> when issued; refresh token -> when issued.
    pub(super) access: HashMap<String, Issued>,
    pub(super) refresh: HashMap<String, Issued>,
    pub(super) issues: u32,
}

impl Server {
    pub(super) fn new(life_s: u64, refresh_life_s: u64) -> Self {
        Self {
            life_s,
            refresh_life_s,
            access: HashMap::new(),
            refresh: HashMap::new(),
            issues: 0,
        }
    }

    /// Issues a pair at true time `t`: (access, refresh).
    pub(super) fn issue(&mut self, t: u64) -> (String, String) {
        self.issues += 1;
        let n = self.issues;
        let (access, refresh) = (format!("a{n}.b.c"), format!("r{n}.s.t"));
        let issued = Issued {
            t,
            dies_t: t + self.life_s * 1000,
            refresh_dies_t: t + self.refresh_life_s * 1000,
        };
        self.access.insert(access.clone(), issued);
        self.refresh.insert(refresh.clone(), issued);
        (access, refresh)
    }
}
