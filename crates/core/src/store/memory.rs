//! A store in this process's memory: the reference implementation of [`Store`], for
//! tests and for documentation.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use event_listener::{Event, Listener};

use super::{Fetched, LeaseId, RecordName, Store, StoreError, Stored, Watched};

/// A [`Store`] in memory, shared by the token caches of one process. It keeps the
/// protocol's promises exactly (leases that expire, compare-and-set writes), which
/// makes it the model for a backend of your own and a store for tests.
///
/// ```
/// use smartling_auth_core::store::{MemoryStore, Store};
/// assert!(MemoryStore::new().needs_sealing());
/// assert!(!MemoryStore::unsealed().needs_sealing());
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    sealing: bool,
    inner: Mutex<Inner>,
    /// Notified on every write and release, for [`Store::watch`].
    changed: Event,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<String, Stored>,
    leases: HashMap<String, (LeaseId, Instant)>,
    /// When each name's record was last written or its lease released.
    changes: HashMap<String, Instant>,
}

impl MemoryStore {
    /// An empty store that asks for sealed records, like a shared one would.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, RecordName, Store};
    /// let s = MemoryStore::new();
    /// assert!(s.read(&RecordName::new(&Default::default(), "u", None)).unwrap().record.is_none());
    /// ```
    pub fn new() -> Self {
        Self {
            sealing: true,
            inner: Mutex::default(),
            changed: Event::new(),
        }
    }

    /// An empty store that takes unsealed records, like a private file would.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, Store};
    /// assert!(!MemoryStore::unsealed().needs_sealing());
    /// ```
    pub fn unsealed() -> Self {
        Self {
            sealing: false,
            inner: Mutex::default(),
            changed: Event::new(),
        }
    }

    /// Replaces the payload under `name` without any check, as a stranger with write
    /// access could: for tests of records that must not be trusted.
    ///
    /// ```
    /// use smartling_auth_core::store::{MemoryStore, RecordName, Store, Stored};
    /// let s = MemoryStore::new();
    /// let name = RecordName::new(&Default::default(), "u", None);
    /// s.tamper(&name, Stored { version: 9, payload: b"garbage".to_vec() });
    /// assert_eq!(s.read(&name).unwrap().record.unwrap().version, 9);
    /// ```
    pub fn tamper(&self, name: &RecordName, stored: Stored) {
        self.lock().records.insert(name.as_str().to_owned(), stored);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a change of `name` (under the lock) and wakes its watchers.
    fn changed(&self, inner: &mut Inner, name: &RecordName) {
        inner
            .changes
            .insert(name.as_str().to_owned(), Instant::now());
        self.changed.notify(usize::MAX);
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Store for MemoryStore {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        Ok(Fetched {
            record: self.lock().records.get(name.as_str()).cloned(),
            now: SystemTime::now(),
        })
    }

    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.leases.get(name.as_str()) {
            Some((_, until)) if *until > now => Ok(false),
            _ => {
                inner
                    .leases
                    .insert(name.as_str().to_owned(), (holder, now + ttl));
                Ok(true)
            }
        }
    }

    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.leases.get_mut(name.as_str()) {
            Some((h, until)) if *h == holder && *until > now => {
                *until = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        _ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let current = inner.records.get(name.as_str()).map_or(0, |s| s.version);
        if current != expected {
            return Ok(false);
        }
        inner
            .records
            .insert(name.as_str().to_owned(), record.clone());
        self.changed(&mut inner, name);
        Ok(true)
    }

    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .leases
            .get(name.as_str())
            .is_some_and(|(h, _)| *h == holder)
        {
            inner.leases.remove(name.as_str());
            self.changed(&mut inner, name);
        }
        Ok(())
    }

    /// Woken by writes and releases in this process; at `until`, a lease still held
    /// answers [`Watched::Alive`].
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        loop {
            // Listen before looking, so a change in between is not missed.
            let listener = self.changed.listen();
            let now = Instant::now();
            {
                let inner = self.lock();
                if inner
                    .changes
                    .get(name.as_str())
                    .is_some_and(|at| *at > since)
                {
                    return Ok(Watched::Changed);
                }
                if now >= until {
                    let held = inner
                        .leases
                        .get(name.as_str())
                        .is_some_and(|(_, end)| *end > now);
                    return Ok(if held {
                        Watched::Alive(now)
                    } else {
                        Watched::Quiet
                    });
                }
            }
            listener.wait_deadline(until);
        }
    }

    fn needs_sealing(&self) -> bool {
        self.sealing
    }
}
