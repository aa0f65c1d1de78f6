//! The store protocol as a sans-IO state machine: what one process does, between a
//! local miss and a token, when it shares a [`Store`](super::Store) with others.
//!
//! ```text
//!   read ─ fresh record ─────────────────────────────────► adopt ─► (release) ─► done
//!     │ none, stale or untrusted
//!   lease ─ taken ─► read again ─ fresh ─► adopt ─► release
//!     │                 └ still none ─► send ─► write (if renewed) ─► release ─► done
//!     │                                  (extend the lease every third of its
//!     │                                   time to live while the request is out)
//!     └ held by another ─► watch ─ written ─► judge it as a read ─ fresh ─► adopt
//!                            ├ changed, or quiet for half a lease ─► read ─ …
//!                            └ the holder lives ─► watch again
//!          until the record lands, the lease dies (then this one takes it), or the
//!          caller's deadline passes (a store that cannot watch is polled instead)
//!   any store error ─► send, write nothing (the store is retried after a backoff)
//! ```
//!
//! The lease is short ([`LEASE_TTL`]) and lives only as long as its holder: a live
//! holder extends it however slow the server is, and one that dies, is killed or
//! loses its network lets it end within one time to live. A write is a
//! compare-and-set on the version read before the renewal, so a holder whose lease
//! expired while it was paused never replaces the record of the holder after it.

use std::time::{Duration, Instant, SystemTime};

use tracing::debug;

use super::{LeaseId, Record, RecordError, StoreError, Timings, Watched};
use crate::{AccessToken, Policy};

/// Versions stay below 10^15, exact in any store's arithmetic (Lua numbers are
/// doubles). The holder of the lease replaces a record at this version with version 1
/// (a planted record there would otherwise stop the fleet sharing for good); waiters
/// then read rather than take a version that went down on word alone.
pub const MAX_VERSION: u64 = 999_999_999_999_999;

/// The version a write after `expected` takes: the next one, or 1 after the last.
fn next_version(expected: u64) -> u64 {
    if expected >= MAX_VERSION {
        1
    } else {
        expected + 1
    }
}

/// How far ahead of the store's clock a record's issue time may be before it is
/// distrusted: more than any request takes.
const MAX_FUTURE: Duration = Duration::from_secs(60);

/// Why a record was ignored (and will be replaced). Each raises a warning event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Distrust {
    /// It did not decode: see the error.
    Record(RecordError),
    /// Both of its tokens are dead.
    Expired,
    /// Its issue time lies ahead of the store's clock.
    FromTheFuture,
}

/// What a read found, judged by [`judge`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Judged {
    /// A record fresh enough to use; `issued` is its issue time on this process's clock.
    Fresh {
        /// The record.
        record: Record,
        /// When its tokens were issued, by this process's monotonic clock.
        issued: Instant,
    },
    /// No record.
    Absent,
    /// A trusted record that is due for renewal.
    Stale {
        /// Its version, which the next write replaces.
        version: u64,
    },
    /// A record that cannot be trusted: it is ignored and replaced.
    Untrusted {
        /// Its version (0 when the store could not parse one).
        version: u64,
        /// Why.
        why: Distrust,
    },
}

impl Judged {
    /// The version a write must replace.
    pub fn version(&self) -> u64 {
        match self {
            Judged::Absent | Judged::Fresh { .. } => 0,
            Judged::Stale { version } | Judged::Untrusted { version, .. } => *version,
        }
    }
}

/// A judged read, with the two clocks it was taken on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Judgement {
    /// What the read found.
    pub judged: Judged,
    /// The store's clock during the read.
    pub store_now: SystemTime,
}

/// Judges a read's record: the rules for when a record can be trusted and used.
///
/// A record is used when it opens under the key, belongs to this name, and is before
/// the point where a session holding it would renew (its refresh-ahead window with the
/// longest jitter, and never before half its life). All of that is measured on the
/// store's clock (`store_now`), so a reader whose clock is off from the writer's never
/// takes a dead token for a live one. A record holding `rejected` (the access token
/// an API call refused, see [`Session::invalidate`](crate::Session::invalidate)) is
/// stale whatever its age. `read_at` (this process's clock when the read
/// started, which is no later than the store's reading) converts the record's age
/// into local time conservatively.
#[allow(clippy::too_many_arguments)]
pub fn judge(
    stored: Option<(u64, &[u8])>,
    store_now: SystemTime,
    read_at: Instant,
    name: &super::RecordName,
    key: Option<&super::SealKey>,
    policy: &Policy,
    rejected: Option<&AccessToken>,
) -> Judgement {
    let judged = match stored {
        None => Judged::Absent,
        Some((version, payload)) => match Record::decode(name, version, payload, key) {
            Err(e) => Judged::Untrusted {
                version,
                why: Distrust::Record(e),
            },
            // The token an API call just refused (`invalidate`): fresh by the clock,
            // dead by the server's word. Renew, and replace it for everyone.
            Ok(record) if rejected.is_some_and(|t| t.same_secret(&record.pair.access_token)) => {
                Judged::Stale { version }
            }
            Ok(record) => judge_record(record, version, store_now, read_at, policy),
        },
    };
    Judgement { judged, store_now }
}

fn judge_record(
    record: Record,
    version: u64,
    store_now: SystemTime,
    read_at: Instant,
    policy: &Policy,
) -> Judged {
    if record
        .issued_at
        .duration_since(store_now)
        .is_ok_and(|ahead| ahead > MAX_FUTURE)
    {
        return Judged::Untrusted {
            version,
            why: Distrust::FromTheFuture,
        };
    }
    let life = record.pair.expires_in;
    let Some(left) = record.access_left(store_now) else {
        return if record.refresh_left(store_now).is_none() {
            Judged::Untrusted {
                version,
                why: Distrust::Expired,
            }
        } else {
            Judged::Stale { version }
        };
    };
    let margins = policy.margins(life);
    // Where a session holding this record would renew at the earliest: the same rule
    // as the session's own (refresh-ahead plus the longest jitter, not before half
    // life). Adopting a record past it would only renew again at once.
    let lead = (margins.refresh_ahead + margins.refresh_jitter).min(life - life / 2);
    if left <= lead || left <= margins.min_validity {
        return Judged::Stale { version };
    }
    let age = life - left;
    let issued = read_at.checked_sub(age);
    match issued {
        Some(issued) => Judged::Fresh { record, issued },
        // This machine booted after the token was issued: count its lifetimes from
        // the read instead, shortened by its age.
        None => {
            let mut record = record;
            record.pair.expires_in = left;
            record.pair.refresh_expires_in = record.pair.refresh_expires_in.saturating_sub(age);
            Judged::Fresh {
                record,
                issued: read_at,
            }
        }
    }
}

/// The next thing a [`Flight`] needs done.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FlightStep {
    /// Read the record; feed the outcome to [`Flight::read_done`].
    Read,
    /// Try to take the renewal lease; feed the outcome to [`Flight::lease_done`].
    Lease {
        /// Who asks.
        holder: LeaseId,
        /// How long the lease lasts.
        ttl: Duration,
    },
    /// Another process holds the lease: wait until this instant, then step again.
    Wait(Instant),
    /// Another process holds the lease: wait for word of it from the store
    /// ([`Store::watch`](super::Store::watch)); feed the outcome to
    /// [`Flight::watch_done`], or a [`Watched::Written`] record to
    /// [`Flight::read_done`] as a read.
    Watch {
        /// Only word heard after this instant counts.
        since: Instant,
        /// The longest wait.
        until: Instant,
    },
    /// Extend the lease this flight holds, while its request is out; feed the outcome
    /// to [`Flight::extend_done`].
    Extend {
        /// The holder.
        holder: LeaseId,
        /// How long the lease lasts from now.
        ttl: Duration,
    },
    /// An outcome is awaited (a store operation's, or the request's): step again when
    /// it has been fed back, or at this instant, if any (a lease extension falls due).
    Pending(Option<Instant>),
    /// Install this record's tokens as the renewal's answer (no request is sent).
    Adopt {
        /// The record.
        record: Record,
        /// Its issue time on this process's clock.
        issued: Instant,
    },
    /// Send the renewal request; feed the outcome to [`Flight::sent`].
    Send,
    /// Write the new tokens as `version` if the store still holds `expected`, issued at
    /// `issued_at` on the store's clock; feed the outcome to [`Flight::write_done`].
    Write {
        /// The version read before the renewal.
        expected: u64,
        /// The new record's version.
        version: u64,
        /// When the renewal was sent, by the store's clock.
        issued_at: SystemTime,
    },
    /// Release the lease; feed the outcome to [`Flight::release_done`].
    Release {
        /// The holder.
        holder: LeaseId,
    },
    /// The flight is over.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Read,
    Lease,
    Wait(Instant),
    Watch {
        since: Instant,
        until: Instant,
    },
    Adopt,
    Send,
    Write {
        version: u64,
        issued_at: SystemTime,
    },
    Release,
    /// An operation is out; its outcome is awaited.
    Awaiting,
    Done,
}

/// One renewal's walk through a shared store: the protocol's rules as a state machine.
///
/// Step it, do what it says, feed each outcome back. It reads no clock and does no
/// I/O; [`TokenCache::drive`](crate::TokenCache::drive) runs it for every transport.
#[derive(Debug)]
pub struct Flight {
    timings: Timings,
    deadline: Option<Instant>,
    holder: LeaseId,
    state: State,
    expected: u64,
    /// The last good read: this process's clock at its end, and the store's.
    clock: Option<(Instant, SystemTime)>,
    holding: bool,
    /// The store failed during this flight: renew locally and write nothing.
    offline: bool,
    /// While holding: when the lease is next extended.
    extend_at: Option<Instant>,
    /// When the lease operation that is out (a lease or an extension) was handed out:
    /// the lease ends no earlier than its time to live after that.
    lease_asked: Option<Instant>,
    /// An extension is out.
    extending: bool,
    /// A `Send` is out: only then does [`sent`](Self::sent) lead to a write.
    sending: bool,
    adopt: Option<(Record, Instant)>,
    /// The store cannot watch: waiters poll it.
    watchless: bool,
    /// The end of the watch that is out.
    watch_until: Option<Instant>,
}

impl Flight {
    /// A flight for one renewal. `deadline` is when the caller gives up; `available`
    /// is false while a failed store is backing off (the flight then only sends).
    pub fn new(
        timings: Timings,
        deadline: Option<Instant>,
        holder: LeaseId,
        available: bool,
    ) -> Self {
        Self {
            timings,
            deadline,
            holder,
            state: if available { State::Read } else { State::Send },
            expected: 0,
            clock: None,
            holding: false,
            offline: !available,
            extend_at: None,
            lease_asked: None,
            extending: false,
            sending: false,
            adopt: None,
            watchless: false,
            watch_until: None,
        }
    }

    /// What to do now.
    pub fn step(&mut self, now: Instant) -> FlightStep {
        if self.extending {
            // Nothing else is handed out until the extension's outcome is back.
            return FlightStep::Pending(None);
        }
        match self.state {
            State::Read => {
                self.state = State::Awaiting;
                FlightStep::Read
            }
            State::Lease => {
                self.state = State::Awaiting;
                self.lease_asked = Some(now);
                FlightStep::Lease {
                    holder: self.holder,
                    ttl: self.timings.lease_ttl,
                }
            }
            State::Wait(_) | State::Watch { .. } if self.deadline.is_some_and(|d| now >= d) => {
                // The caller's time is up while another process renews: it fails with
                // its timeout, as a caller waiting on its own process's renewal does.
                debug!("the caller's deadline passed while another process renewed");
                self.state = State::Done;
                FlightStep::Done
            }
            State::Wait(until) if now >= until => {
                self.state = State::Read;
                self.step(now)
            }
            State::Wait(until) => FlightStep::Wait(until),
            State::Watch { since, until } => {
                self.state = State::Awaiting;
                self.watch_until = Some(until);
                FlightStep::Watch { since, until }
            }
            State::Adopt => {
                self.state = self.after_renewal();
                match self.adopt.take() {
                    Some((record, issued)) => FlightStep::Adopt { record, issued },
                    None => self.step(now),
                }
            }
            State::Send => {
                self.state = State::Awaiting;
                self.sending = true;
                FlightStep::Send
            }
            State::Write { version, issued_at } => {
                self.state = State::Awaiting;
                FlightStep::Write {
                    expected: self.expected,
                    version,
                    issued_at,
                }
            }
            State::Release => {
                self.state = State::Awaiting;
                FlightStep::Release {
                    holder: self.holder,
                }
            }
            State::Awaiting => match self.extend_at {
                // Only the request runs alongside another operation: store operations
                // are handed out one at a time.
                Some(at)
                    if self.sending
                        && self.holding
                        && !self.extending
                        && !planted(Bug::NeverExtend) =>
                {
                    if now >= at {
                        self.extending = true;
                        self.lease_asked = Some(now);
                        FlightStep::Extend {
                            holder: self.holder,
                            ttl: self.timings.lease_ttl,
                        }
                    } else {
                        FlightStep::Pending(Some(at))
                    }
                }
                _ => FlightStep::Pending(None),
            },
            State::Done => FlightStep::Done,
        }
    }

    /// Feeds a read's outcome back (`now`: when it finished).
    pub fn read_done(&mut self, now: Instant, outcome: Result<Judgement, StoreError>) {
        let judgement = match outcome {
            Ok(j) => j,
            Err(_) => {
                self.offline = true;
                self.state = State::Send;
                return;
            }
        };
        // Paired with the read's end, not its start: the store read its clock somewhere
        // in between, so dating the renewal from the end never dates it late (a late
        // date would make every reader think the token lives longer than it does).
        self.clock = Some((now, judgement.store_now));
        match judgement.judged {
            Judged::Fresh { record, issued } => {
                self.adopt = Some((record, issued));
                self.state = State::Adopt;
            }
            other => {
                self.expected = other.version();
                // Not holding: ask for the lease again. (The read may be old by now, a
                // slow store or a descheduled process, and a holder that wrote since
                // has released the lease.)
                self.state = if self.holding {
                    State::Send
                } else {
                    State::Lease
                };
            }
        }
    }

    /// Feeds a lease attempt's outcome back: taken, held by another, or failed.
    pub fn lease_done(&mut self, now: Instant, outcome: Result<bool, StoreError>) {
        let asked = self.lease_asked.take().unwrap_or(now);
        match outcome {
            Ok(true) => {
                self.holding = true;
                self.extend_at = Some(asked + self.timings.extend_every());
                // Another holder may have written between our read and our lease.
                self.state = State::Read;
            }
            Ok(false) if planted(Bug::RenewPastALiveLease) => self.state = State::Send,
            // Wait on the holder's lease for as long as the caller allows: a live holder
            // keeps extending it, and a dead one's ends within its time to live, when one
            // waiter takes it (the lease is asked for again after every quiet wait or
            // poll) and the others wait for that one.
            Ok(false) if self.watchless => {
                self.state = State::Wait(self.capped(now + self.timings.poll));
            }
            // The refusal says the holder lives now: wait for its next word. Word heard
            // since the lease was asked for counts (the write may have landed already).
            Ok(false) => {
                self.state = State::Watch {
                    since: asked,
                    until: self.capped(now + self.timings.quiet()),
                };
            }
            Err(_) => {
                self.offline = true;
                self.state = State::Send;
            }
        }
    }

    /// Feeds a watch's outcome back (see [`FlightStep::Watch`]): a change or a quiet
    /// wait leads to a read; word that the holder lives, to another watch; a store
    /// that cannot watch, to polling. A failed watch is waited out, then the store
    /// is read (which notes the failure if the store is down).
    pub fn watch_done(&mut self, now: Instant, outcome: Result<Watched, StoreError>) {
        let until = self.watch_until.take().unwrap_or(now);
        self.state = match outcome {
            // (Past the caller's deadline, the next step ends the flight.)
            Ok(Watched::Alive(at)) if at + self.timings.quiet() > now => State::Watch {
                since: at,
                until: self.capped(at + self.timings.quiet()),
            },
            Ok(Watched::Quiet) if planted(Bug::NeverFallBack) => State::Watch {
                since: now,
                until: self.capped(now + self.timings.quiet()),
            },
            Ok(Watched::Unsupported) => {
                self.watchless = true;
                State::Wait(self.capped(now + self.timings.poll))
            }
            Err(_) if until > now => State::Wait(until),
            _ => State::Read,
        };
    }

    /// The version the next write replaces: what the last read found. A
    /// [`Watched::Written`] record at or below it is old news, not a new record.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// Feeds a lease extension's outcome back: still held, lost (it ended and may be
    /// another's: the write's compare-and-set still guards the record), or failed (the
    /// extension is tried again a third of the lease's time later).
    pub fn extend_done(&mut self, _now: Instant, outcome: Result<bool, StoreError>) {
        if !std::mem::take(&mut self.extending) {
            return;
        }
        let asked = self.lease_asked.take().unwrap_or(_now);
        match outcome {
            Ok(false) => {
                debug!(
                    "the store's renewal lease ended under this holder; its write still compares versions"
                );
                self.holding = false;
                self.extend_at = None;
            }
            Ok(true) | Err(_) => {
                self.extend_at = Some(asked + self.timings.extend_every());
            }
        }
    }

    /// Feeds the renewal's outcome back: `Some(sent_at)` when it installed new tokens
    /// (sent at that instant), `None` otherwise. Without a [`FlightStep::Send`] out it
    /// changes nothing: a write must answer a renewal this flight asked for, against
    /// the version its own read found.
    pub fn sent(&mut self, _now: Instant, renewed: Option<Instant>) {
        if !std::mem::take(&mut self.sending) {
            return;
        }
        self.state = match (renewed, self.clock) {
            (Some(sent_at), Some((read_end, store_now))) if !self.offline => {
                // The store's clock at the send, from the read's pair of clocks.
                let issued_at = store_now + sent_at.saturating_duration_since(read_end);
                State::Write {
                    version: next_version(self.expected),
                    issued_at,
                }
            }
            _ => self.after_renewal(),
        };
    }

    /// Feeds a write's outcome back: written, refused (a newer record exists), or
    /// failed.
    pub fn write_done(&mut self, _now: Instant, outcome: Result<bool, StoreError>) {
        if outcome.is_err() {
            self.offline = true;
        }
        self.state = self.after_renewal();
    }

    /// Feeds a release's outcome back.
    pub fn release_done(&mut self, _now: Instant, _outcome: Result<(), StoreError>) {
        self.holding = false;
        self.extend_at = None;
        self.state = State::Done;
    }

    /// Whether this flight holds the renewal lease.
    pub fn holding(&self) -> bool {
        self.holding
    }

    /// This flight's lease id.
    pub(crate) fn holder(&self) -> LeaseId {
        self.holder
    }

    /// The renewal is gone before its request went out (the session timed it out
    /// while a store operation ran): release a held lease, then end.
    pub(crate) fn renewal_lost(&mut self) {
        self.sending = false;
        self.adopt = None;
        self.state = self.after_renewal();
    }

    /// `at`, or the caller's deadline if sooner.
    fn capped(&self, at: Instant) -> Instant {
        self.deadline.map_or(at, |d| at.min(d))
    }

    fn after_renewal(&self) -> State {
        if self.holding && !self.offline {
            State::Release
        } else {
            State::Done
        }
    }
}

/// Bugs the model must find, planted on purpose (`fuzzing::plant`); never in a build
/// without the `fuzzing` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bug {
    /// The holder never extends its lease: a slow login lets it lapse under a live
    /// holder, and a waiter renews too.
    NeverExtend,
    /// A waiter refused the lease renews at once instead of waiting on it.
    RenewPastALiveLease,
    /// A waiter trusts its wake-ups: it keeps watching after a quiet wait instead of
    /// reading the store, so a lost wake-up holds it until its deadline.
    NeverFallBack,
}

#[cfg(feature = "fuzzing")]
thread_local! {
    static PLANTED: std::cell::Cell<Option<Bug>> = const { std::cell::Cell::new(None) };
}

/// Plants `bug` in this thread's flights (`None` removes it).
#[cfg(feature = "fuzzing")]
pub fn plant(bug: Option<Bug>) {
    PLANTED.with(|p| p.set(bug));
}

#[cfg(feature = "fuzzing")]
fn planted(bug: Bug) -> bool {
    PLANTED.with(|p| p.get() == Some(bug))
}

#[cfg(not(feature = "fuzzing"))]
fn planted(_: Bug) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BaseUrl;

    fn absent(at: Instant) -> Result<Judgement, StoreError> {
        let name = super::super::RecordName::new(&BaseUrl::default(), "u", None);
        Ok(judge(
            None,
            SystemTime::now(),
            at,
            &name,
            None,
            &Policy::default(),
            None,
        ))
    }

    fn timings() -> Timings {
        Timings::default().with_lease_ttl(Duration::from_secs(5))
    }

    /// A flight that read nothing and was refused the lease once, at `t0`.
    fn refused_once(t0: Instant, deadline: Option<Instant>) -> Flight {
        let mut f = Flight::new(timings(), deadline, LeaseId(1), true);
        f.step(t0);
        f.read_done(t0, absent(t0));
        f.step(t0);
        f.lease_done(t0, Ok(false));
        f
    }

    /// Refused, polled, refused again: over a store that cannot watch, the waiter
    /// polls, asks for the lease after each poll, and takes it once the holder's
    /// lease is gone.
    #[test]
    fn a_waiter_polls_a_store_that_cannot_watch_and_takes_the_lease_when_it_frees() {
        let t0 = Instant::now();
        let mut f = refused_once(t0, None);
        let FlightStep::Watch { since, until } = f.step(t0) else {
            panic!("a refused waiter watches first");
        };
        assert_eq!((since, until), (t0, t0 + timings().quiet()));
        f.watch_done(t0, Ok(Watched::Unsupported));
        let mut now = t0;
        for _ in 0..50 {
            let FlightStep::Wait(until) = f.step(now) else {
                panic!("a waiter on a store that cannot watch polls");
            };
            assert_eq!(until, now + timings().poll);
            now = until;
            assert!(matches!(f.step(now), FlightStep::Read));
            f.read_done(now, absent(now));
            assert!(matches!(f.step(now), FlightStep::Lease { .. }));
            f.lease_done(now, Ok(false));
        }
        // Well past one lease lifetime of refusals: still waiting, never sending.
        assert!(now > t0 + Duration::from_secs(2));
        assert!(matches!(f.step(now), FlightStep::Wait(_)));
        now += timings().poll;
        assert!(matches!(f.step(now), FlightStep::Read));
        f.read_done(now, absent(now));
        assert!(matches!(f.step(now), FlightStep::Lease { .. }));
        f.lease_done(now, Ok(true));
        assert!(f.holding());
        assert!(matches!(f.step(now), FlightStep::Read));
        f.read_done(now, absent(now));
        assert!(matches!(f.step(now), FlightStep::Send));
    }

    /// A waiter that hears the holder live keeps watching until its caller's
    /// deadline, touching the store not once more; it never renews on its own.
    #[test]
    fn a_waiter_that_hears_the_holder_live_waits_without_a_read_until_its_deadline() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(60);
        let mut f = refused_once(t0, Some(deadline));
        let mut now = t0;
        let mut watches = 0;
        loop {
            match f.step(now) {
                FlightStep::Watch { since, until } => {
                    watches += 1;
                    assert!(since <= now && until <= deadline && until > now);
                    // The holder extends every third of the lease's time.
                    now = (now + timings().extend_every()).min(until);
                    f.watch_done(now, Ok(Watched::Alive(now)));
                }
                FlightStep::Done => break,
                other => panic!("a waiter on a live, speaking holder never does {other:?}"),
            }
        }
        assert_eq!(now, deadline, "it waits out the caller's whole time");
        assert!(watches >= 30, "{watches} watches");
        assert!(!f.holding());
    }

    /// A quiet wait (a lost wake-up, a dead holder) leads to one read and one lease
    /// request, then another watch; a change leads to a read at once.
    #[test]
    fn a_quiet_watch_or_a_change_reads_the_store() {
        let t0 = Instant::now();
        let mut f = refused_once(t0, None);
        let FlightStep::Watch { until, .. } = f.step(t0) else {
            panic!("watches");
        };
        f.watch_done(until, Ok(Watched::Quiet));
        assert!(matches!(f.step(until), FlightStep::Read));
        f.read_done(until, absent(until));
        assert!(matches!(f.step(until), FlightStep::Lease { .. }));
        f.lease_done(until, Ok(false));
        let FlightStep::Watch { since, .. } = f.step(until) else {
            panic!("watches again");
        };
        assert_eq!(since, until);
        let soon = until + Duration::from_millis(3);
        f.watch_done(soon, Ok(Watched::Changed));
        assert!(matches!(f.step(soon), FlightStep::Read));
    }

    /// A watch that fails is waited out to its end (never a spin), then the store is
    /// read; word of a holder heard long ago leads to a read at once.
    #[test]
    fn a_failed_watch_is_waited_out_and_old_word_reads() {
        let t0 = Instant::now();
        let mut f = refused_once(t0, None);
        let FlightStep::Watch { until, .. } = f.step(t0) else {
            panic!("watches");
        };
        let failed = StoreError::new(super::super::StoreErrorKind::Unavailable, "down");
        f.watch_done(t0, Err(failed));
        assert!(matches!(f.step(t0), FlightStep::Wait(at) if at == until));
        assert!(matches!(f.step(until), FlightStep::Read));
        f.read_done(until, absent(until));
        f.step(until);
        f.lease_done(until, Ok(false));
        let later = until + timings().lease_ttl;
        assert!(matches!(f.step(until), FlightStep::Watch { .. }));
        f.watch_done(later, Ok(Watched::Alive(until)));
        assert!(matches!(f.step(later), FlightStep::Read));
    }

    /// The planted bug the fleet model must find: a waiter that trusts its wake-ups
    /// and never reads after a quiet wait.
    #[cfg(feature = "fuzzing")]
    #[test]
    fn the_planted_never_fall_back_keeps_watching() {
        plant(Some(Bug::NeverFallBack));
        let t0 = Instant::now();
        let mut f = refused_once(t0, None);
        let FlightStep::Watch { until, .. } = f.step(t0) else {
            panic!("watches");
        };
        f.watch_done(until, Ok(Watched::Quiet));
        let watches_again = matches!(f.step(until), FlightStep::Watch { .. });
        plant(None);
        assert!(watches_again);
    }

    /// The holder extends its lease every third of its time to live while its request
    /// is out, and nothing else is handed out while an extension is out.
    #[test]
    fn a_holder_extends_its_lease_while_its_request_is_out() {
        let t0 = Instant::now();
        let every = timings().extend_every();
        let mut f = Flight::new(timings(), None, LeaseId(1), true);
        f.step(t0);
        f.read_done(t0, absent(t0));
        assert!(matches!(f.step(t0), FlightStep::Lease { .. }));
        f.lease_done(t0, Ok(true));
        f.step(t0);
        f.read_done(t0, absent(t0));
        assert!(matches!(f.step(t0), FlightStep::Send));
        assert!(matches!(f.step(t0), FlightStep::Pending(Some(at)) if at == t0 + every));
        let mut now = t0;
        for _ in 0..30 {
            now += every;
            let FlightStep::Extend { holder, ttl } = f.step(now) else {
                panic!("an extension falls due");
            };
            assert_eq!((holder, ttl), (LeaseId(1), timings().lease_ttl));
            assert!(matches!(f.step(now), FlightStep::Pending(None)));
            f.extend_done(now, Ok(true));
            assert!(matches!(f.step(now), FlightStep::Pending(Some(at)) if at == now + every));
        }
        // A request that took ten lease lifetimes: still held, written, released.
        f.sent(now, Some(t0));
        assert!(matches!(f.step(now), FlightStep::Write { .. }));
        f.write_done(now, Ok(true));
        assert!(matches!(f.step(now), FlightStep::Release { .. }));
    }

    /// A holder whose lease ended under it (it was paused past its time to live) stops
    /// extending and releasing it, but still writes: the compare-and-set decides.
    #[test]
    fn a_holder_that_lost_its_lease_still_writes_by_compare_and_set() {
        let t0 = Instant::now();
        let mut f = Flight::new(timings(), None, LeaseId(1), true);
        f.step(t0);
        f.lease_done(t0, Ok(true));
        f.step(t0);
        f.read_done(t0, absent(t0));
        assert!(matches!(f.step(t0), FlightStep::Send));
        let late = t0 + timings().lease_ttl * 2;
        assert!(matches!(f.step(late), FlightStep::Extend { .. }));
        f.extend_done(late, Ok(false));
        assert!(!f.holding());
        assert!(matches!(f.step(late), FlightStep::Pending(None)));
        f.sent(late, Some(t0));
        assert!(matches!(
            f.step(late),
            FlightStep::Write { expected: 0, .. }
        ));
        f.write_done(late, Ok(false));
        assert!(
            matches!(f.step(late), FlightStep::Done),
            "no release of another's lease"
        );
    }

    /// The write is dated from the end of the last read: the store read its clock
    /// no later than that, so the record never claims a later issue than the truth.
    #[test]
    fn a_write_is_dated_from_the_end_of_the_read() {
        let t0 = Instant::now();
        let store_now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut f = Flight::new(timings(), None, LeaseId(1), true);
        f.step(t0);
        f.lease_done(t0, Ok(true));
        f.step(t0);
        let read_end = t0 + Duration::from_millis(700);
        let mut j = absent(t0).unwrap();
        j.store_now = store_now;
        f.read_done(read_end, Ok(j));
        assert!(matches!(f.step(read_end), FlightStep::Send));
        let sent_at = read_end + Duration::from_millis(100);
        f.sent(sent_at, Some(sent_at));
        let FlightStep::Write { issued_at, .. } = f.step(sent_at) else {
            panic!("a renewal under the lease is written");
        };
        assert_eq!(issued_at, store_now + Duration::from_millis(100));
    }
}
