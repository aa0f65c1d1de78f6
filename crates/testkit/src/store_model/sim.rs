//! The simulated store and server: plain data the fleet acts on at the true time.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::sync::{Mutex, MutexGuard, PoisonError};

use smartling_auth_core::store::{
    Fetched, LeaseId, RecordName, Store, StoreDone, StoreError, StoreErrorKind, StoreOp, StoreTask,
    Stored, Watched,
};

use super::{LATE_MS, Tally, Wakes, Watching};

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
    /// Its process's clock at true time 0: a watch's instants are on that clock.
    pub(super) base: Instant,
}

impl Transit {
    /// For a watch: its `since` and `until` in true time (`since` rounded down,
    /// `until` up, so the watch never ends before its instant).
    pub(super) fn watch_span(&self) -> Option<(u64, u64)> {
        let StoreOp::Watch { since, until } = self.task.op() else {
            return None;
        };
        let ms = |at: &Instant, up: bool| {
            let ns = at.saturating_duration_since(self.base).as_nanos();
            let ms = if up {
                ns.div_ceil(1_000_000)
            } else {
                ns / 1_000_000
            };
            u64::try_from(ms).unwrap_or(u64::MAX)
        };
        Some((ms(since, false), ms(until, true)))
    }
}

/// Word of the record or its lease, as watchers hear it.
#[derive(Debug, Clone)]
pub(super) enum Word {
    /// A write landed: the record, with the store's clock at the write.
    Written(Fetched),
    /// A write landed or the lease was released: read the store.
    Changed,
    /// The holder took or extended its lease.
    Alive,
}

impl Word {
    fn kind(&self) -> usize {
        match self {
            Word::Written(_) => 0,
            Word::Changed => 1,
            Word::Alive => 2,
        }
    }
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
    /// The true time the lease was last let go (released, or run out).
    pub(super) let_go_t: u64,
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
    /// Whether and how it wakes watchers, and how its word reaches them.
    watching: Watching,
    wakes: Wakes,
    /// Word, with the true time watchers hear it: every word still to be heard, and
    /// of the word heard, the last of each kind (all a watch can answer, as a
    /// subscriber that notes the last word of each kind).
    words: Vec<(u64, Word)>,
    /// The watch the store acts on, set by the fleet: its process's clock at true
    /// time 0 (for the instant of a [`Watched::Alive`]), and its span in true time.
    pub(super) watcher: Option<(Instant, u64, u64)>,
    /// Draws of the wake-up faults (splitmix64).
    rng: u64,
    /// Watches answered, by answer (the tally's fields).
    pub(super) answered: Tally,
}

impl SimStore {
    pub(super) fn new(epoch_ms: u64, watching: Watching, wakes: Wakes, seed: u64) -> Self {
        Self {
            epoch_ms,
            up: true,
            record: None,
            lease: None,
            let_go_t: 0,
            high: 0,
            lose_next_write: false,
            time_out_next: false,
            t: 0,
            landed: None,
            refused: 0,
            generation: None,
            empties: 0,
            watching,
            wakes,
            words: Vec::new(),
            watcher: None,
            rng: seed,
            answered: Tally::default(),
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

    fn draw(&mut self, n: u64) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    /// The store says `word` now: watchers hear it a millisecond later (never at the
    /// instant a waiter asked for the lease in the same millisecond, so word is heard
    /// after every ask it follows), later, twice or never, as the case's wake-ups go.
    fn publish(&mut self, word: Word) {
        let word = match (self.watching, word) {
            // A file lock frees on the release alone.
            (Watching::Unsupported, _) | (Watching::Lock, Word::Alive | Word::Written(_)) => {
                return;
            }
            (Watching::Changed, Word::Written(_)) => Word::Changed,
            (Watching::Mixed, Word::Written(_)) if self.draw(2) == 0 => Word::Changed,
            (_, word) => word,
        };
        let wakes = match self.wakes {
            Wakes::Flaky => {
                [Wakes::Prompt, Wakes::Late, Wakes::Twice, Wakes::Lost][self.draw(4) as usize]
            }
            wakes => wakes,
        };
        let (t, late) = (self.t + 1, 1 + self.draw(LATE_MS));
        match wakes {
            Wakes::Late => self.words.push((t + late, word)),
            Wakes::Twice => {
                self.words.push((t, word.clone()));
                self.words.push((t + late, word));
            }
            Wakes::Lost => {}
            _ => self.words.push((t, word)),
        }
        // Word heard is answered from the last of its kind: drop the rest.
        let now = self.t;
        let mut last = [None; 3];
        for (at, w) in self.words.iter().filter(|(at, _)| *at <= now) {
            let l = &mut last[w.kind()];
            *l = Some(l.map_or(*at, |l: u64| l.max(*at)));
        }
        self.words
            .retain(|(at, w)| *at > now || last[w.kind()] == Some(*at));
    }

    /// The true time a watch since `since_t` until `until_t` can answer (now, if it
    /// already can): at the first word heard after `since_t`, at its end, or at once
    /// when it answers without listening (the store is down or cannot watch).
    pub(super) fn watch_ready_t(&self, since_t: u64, until_t: u64) -> u64 {
        if !self.up || self.watching == Watching::Unsupported {
            return 0;
        }
        self.words
            .iter()
            .map(|(at, _)| *at)
            .filter(|at| *at > since_t)
            .fold(until_t, u64::min)
    }

    /// What a watch since `since_t` answers now, as a subscriber does: the weightiest
    /// word heard since (the last record written, a change, the last sign of life);
    /// at its end, a lock still held says its holder lives, else it is quiet.
    fn watched(&mut self, base: Instant, since_t: u64, until_t: u64) -> Watched {
        let now = self.t;
        let heard = || {
            self.words
                .iter()
                .filter(|(at, _)| *at > since_t && *at <= now)
        };
        let last = |kind: usize| {
            heard()
                .filter(|(_, w)| w.kind() == kind)
                .max_by_key(|(at, _)| *at)
        };
        let at = |t: u64| base + Duration::from_millis(t);
        let answer = if let Some((_, Word::Written(fetched))) = last(0) {
            Watched::Written(fetched.clone())
        } else if last(1).is_some() {
            Watched::Changed
        } else if let Some((t, _)) = last(2) {
            Watched::Alive(at(*t))
        } else {
            assert!(
                now >= until_t,
                "the model acted on a watch before it could answer"
            );
            let held = self.lease.is_some_and(|(_, end)| end > now);
            if self.watching == Watching::Lock && held {
                Watched::Alive(at(now))
            } else {
                Watched::Quiet
            }
        };
        let count = match &answer {
            Watched::Written(_) => &mut self.answered.written,
            Watched::Changed => &mut self.answered.changed,
            Watched::Alive(_) => &mut self.answered.alive,
            _ => &mut self.answered.quiet,
        };
        *count += 1;
        answer
    }

    /// The lease ends at true time `at`.
    pub(super) fn let_go(&mut self, at: u64) {
        self.lease = None;
        self.let_go_t = at;
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
    /// A store that needs its records sealed or not (a private file does not), and
    /// wakes watchers as `watching` and `wakes` say (`seed` draws the faults).
    pub(super) fn new(
        epoch_ms: u64,
        sealed: bool,
        watching: Watching,
        wakes: Wakes,
        seed: u64,
    ) -> Self {
        Self(
            Mutex::new(SimStore::new(epoch_ms, watching, wakes, seed)),
            sealed,
        )
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
                s.publish(Word::Alive);
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
                s.publish(Word::Alive);
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
        let now = s.clock(t);
        s.publish(Word::Written(Fetched {
            record: Some(record.clone()),
            now,
        }));
        Ok(true)
    }

    fn release(&self, _: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        let mut s = self.gate()?;
        if s.lease.is_some_and(|(h, _)| h == holder) {
            let t = s.t;
            s.let_go(t);
            s.publish(Word::Changed);
        }
        Ok(())
    }

    /// Answers from the word heard, never blocking: the fleet acts on a watch only
    /// once it can answer ([`SimStore::watch_ready_t`]).
    fn watch(&self, _: &RecordName, _: Instant, _: Instant) -> Result<Watched, StoreError> {
        let mut s = self.lock();
        // A caller that gave up: the fleet runs a copy for the error.
        if std::mem::take(&mut s.time_out_next) {
            return Err(StoreError::new(StoreErrorKind::Timeout, "over 1 s"));
        }
        if s.watching == Watching::Unsupported {
            s.answered.unsupported += 1;
            return Ok(Watched::Unsupported);
        }
        if !s.up {
            return Err(SimStore::down());
        }
        let (base, since_t, until_t) = s
            .watcher
            .take()
            .expect("the fleet says whose watch the store acts on");
        Ok(s.watched(base, since_t, until_t))
    }

    fn needs_sealing(&self) -> bool {
        self.1
    }
}
