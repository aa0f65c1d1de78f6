//! The simulated store and server: plain data the fleet acts on at the true time.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::{Mutex, MutexGuard, PoisonError};

use smartling_auth_core::store::{
    Fetched, LeaseId, RecordName, Store, StoreDone, StoreError, StoreErrorKind, StoreTask, Stored,
};

/// An operation on its way: issued by a process, acted on by the store (once), its
/// answer delivered to the process (or to nobody: an orphan whose caller gave up).
#[derive(Debug)]
pub(super) struct Transit {
    pub(super) ticket: u64,
    /// The machine's own task: the store acts by running it.
    pub(super) task: StoreTask,
    pub(super) result: Option<StoreDone>,
    pub(super) issued_t: u64,
    /// When the store acted on it (true time), `SimStore::empties` then, and for a
    /// read the version it found.
    pub(super) acted_t: u64,
    pub(super) acted_empties: u64,
    pub(super) read_version: Option<u64>,
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
    /// The next operation times out without acting (its caller gave up).
    pub(super) time_out_next: bool,
    /// True time, as the fleet last set it: when the store acts.
    pub(super) t: u64,
    /// The write that landed last, with its time to live and the store's highest
    /// version before it, for the fleet to check.
    pub(super) landed: Option<(Stored, Duration, u64)>,
    /// Writes refused by their compare-and-set.
    pub(super) refused: u32,
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
            time_out_next: false,
            t: 0,
            landed: None,
            refused: 0,
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
    /// Access token -> the process it was issued to.
    pub(super) issued_to: HashMap<String, usize>,
    pub(super) issues: u32,
}

impl Server {
    pub(super) fn new(life_s: u64, refresh_life_s: u64) -> Self {
        Self {
            life_s,
            refresh_life_s,
            access: HashMap::new(),
            refresh: HashMap::new(),
            issued_to: HashMap::new(),
            issues: 0,
        }
    }

    /// Issues a pair at true time `t` to process `to`: (access, refresh).
    pub(super) fn issue(&mut self, t: u64, to: usize) -> (String, String) {
        self.issues += 1;
        let n = self.issues;
        let (access, refresh) = (format!("a{n}.b.c"), format!("r{n}.s.t"));
        let issued = Issued {
            t,
            dies_t: t + self.life_s * 1000,
            refresh_dies_t: t + self.refresh_life_s * 1000,
        };
        self.access.insert(access.clone(), issued);
        self.issued_to.insert(access.clone(), to);
        self.refresh.insert(refresh.clone(), issued);
        (access, refresh)
    }
}

/// The simulated store as a real [`Store`]: the machine's own tasks run against it
/// when the fleet says the store acts. It keeps no lock across calls.
#[derive(Debug)]
pub(super) struct SimHandle(Mutex<SimStore>, bool);

impl SimHandle {
    /// A store that needs its records sealed or not (a private file does not).
    pub(super) fn new(epoch_ms: u64, sealed: bool) -> Self {
        Self(Mutex::new(SimStore::new(epoch_ms)), sealed)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, SimStore> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store refuses (down) or gives up (a timed-out operation) before acting.
    fn gate(&self) -> Result<MutexGuard<'_, SimStore>, StoreError> {
        let mut s = self.lock();
        if std::mem::take(&mut s.time_out_next) {
            return Err(StoreError::new(StoreErrorKind::Timeout, "over 1 s"));
        }
        if !s.up {
            return Err(SimStore::down());
        }
        Ok(s)
    }
}

impl Store for SimHandle {
    fn read(&self, _: &RecordName) -> Result<Fetched, StoreError> {
        let s = self.gate()?;
        Ok(Fetched {
            record: s.record.as_ref().map(|(r, _)| r.clone()),
            now: s.clock(s.t),
        })
    }

    fn lease(&self, _: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        let mut s = self.gate()?;
        let t = s.t;
        Ok(match s.lease {
            Some((_, until)) if until > t => false,
            _ => {
                s.lease = Some((holder, t + ttl.as_millis() as u64));
                true
            }
        })
    }

    fn extend(&self, _: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        let mut s = self.gate()?;
        let t = s.t;
        Ok(match &mut s.lease {
            Some((h, until)) if *h == holder && *until > t => {
                *until = t + ttl.as_millis() as u64;
                true
            }
            _ => false,
        })
    }

    fn write(
        &self,
        _: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut s = self.gate()?;
        if s.version() != expected {
            s.refused += 1;
            return Ok(false);
        }
        if std::mem::take(&mut s.lose_next_write) {
            return Ok(true);
        }
        let (t, high) = (s.t, s.high);
        s.landed = Some((record.clone(), ttl, high));
        s.high = high.max(record.version);
        s.record = Some((record.clone(), t + ttl.as_millis() as u64));
        Ok(true)
    }

    fn release(&self, _: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        let mut s = self.gate()?;
        if s.lease.is_some_and(|(h, _)| h == holder) {
            s.lease = None;
        }
        Ok(())
    }

    fn needs_sealing(&self) -> bool {
        self.1
    }
}
