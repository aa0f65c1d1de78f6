//! Store operations as plain values: what the renewal machine hands out
//! ([`Step::Store`](crate::Step::Store)) and what a transport carries out and answers.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Fetched, LeaseId, RecordName, Store, StoreError, Stored, Watched};

/// One operation on the shared store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreOp {
    /// Read the record, with the store's clock ([`Store::read`]).
    Read,
    /// Take the renewal lease ([`Store::lease`]).
    Lease {
        /// Who asks.
        holder: LeaseId,
        /// How long it lasts unless extended.
        ttl: Duration,
    },
    /// Extend the lease held ([`Store::extend`]), while the request is out.
    Extend {
        /// The holder.
        holder: LeaseId,
        /// How long it lasts from now.
        ttl: Duration,
    },
    /// Write a new record if the store still holds `expected` ([`Store::write`]).
    Write {
        /// The version read before the renewal.
        expected: u64,
        /// The new record, sealed where the store needs it.
        record: Stored,
        /// How long the store may keep it.
        ttl: Duration,
    },
    /// Release the lease ([`Store::release`]).
    Release {
        /// The holder.
        holder: LeaseId,
    },
    /// Wait for word of the record or its lease ([`Store::watch`]): a waiter's
    /// wait on another process's renewal.
    Watch {
        /// Only word heard after this instant counts.
        since: Instant,
        /// The longest wait.
        until: Instant,
    },
}

/// A [`StoreOp`] with the store and record it is for, and the id its answer carries
/// back. Run it where blocking is fine: in place for a blocking transport, on a
/// thread pool for an async one (see [`Transport::offload`](crate::Transport::offload)).
/// A copy runs the same operation again; the machine takes the first answer only.
///
/// ```
/// use smartling_auth_core::store::{MemoryStore, SharedStore, StoreOp};
/// use smartling_auth_core::{BaseUrl, Credentials, Policy, Session, Step, TokenCache};
/// use std::sync::Arc;
/// let shared = SharedStore::for_user(Arc::new(MemoryStore::unsealed()), &BaseUrl::default(),
///     "user", None, &Policy::default()).unwrap();
/// let cache = TokenCache::new(Session::new(BaseUrl::default(), Policy::default())
///     .with_credentials(Credentials::new("user", "secret"))).with_store(shared);
/// let mut call = cache.call();
/// let Step::Store(task) = call.poll(std::time::Instant::now()) else { panic!() };
/// assert!(matches!(task.op(), StoreOp::Read));
/// let done = task.run(); // blocks until the store answers
/// call.handle_store(std::time::Instant::now(), done);
/// ```
#[derive(Clone)]
pub struct StoreTask {
    pub(crate) id: u64,
    pub(crate) op: StoreOp,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) name: RecordName,
}

impl fmt::Debug for StoreTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreTask")
            .field("id", &self.id)
            .field("op", &self.op)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl StoreTask {
    /// The operation.
    ///
    /// See [`StoreTask`] for an example.
    pub fn op(&self) -> &StoreOp {
        &self.op
    }

    /// Carries the operation out, blocking until the store answers (each store bounds
    /// its own operations in time).
    ///
    /// See [`StoreTask`] for an example.
    pub fn run(self) -> StoreDone {
        let (store, name) = (&self.store, &self.name);
        let outcome = match self.op {
            StoreOp::Read => Outcome::Read(store.read(name)),
            StoreOp::Lease { holder, ttl } => Outcome::Flag(store.lease(name, holder, ttl)),
            StoreOp::Extend { holder, ttl } => Outcome::Flag(store.extend(name, holder, ttl)),
            StoreOp::Write {
                expected,
                record,
                ttl,
            } => Outcome::Flag(store.write(name, expected, &record, ttl)),
            StoreOp::Release { holder } => Outcome::Unit(store.release(name, holder)),
            StoreOp::Watch { since, until } => Outcome::Watch(store.watch(name, since, until)),
        };
        StoreDone {
            id: self.id,
            outcome,
        }
    }
}

/// What a [`StoreTask`] came back with: feed it to
/// [`Call::handle_store`](crate::Call::handle_store).
#[derive(Debug)]
pub struct StoreDone {
    pub(crate) id: u64,
    pub(crate) outcome: Outcome,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Read(Result<Fetched, StoreError>),
    Flag(Result<bool, StoreError>),
    Unit(Result<(), StoreError>),
    Watch(Result<Watched, StoreError>),
}

impl Outcome {
    pub(crate) fn error(&self) -> Option<&StoreError> {
        match self {
            Outcome::Read(r) => r.as_ref().err(),
            Outcome::Flag(r) => r.as_ref().err(),
            Outcome::Unit(r) => r.as_ref().err(),
            Outcome::Watch(r) => r.as_ref().err(),
        }
    }
}
