//! Arbitrary outcomes fed into the store protocol's state machine, `Flight`: reads
//! judged by `judge` from arbitrary stored payloads (garbage, or records of any age,
//! lifetime, version and seal), lease, write and release results, what a watch heard
//! (a record, fed as a read when newer than the last read's, as `Call` does; a
//! change; a sign of life; nothing; a store that cannot watch), renewals that did or
//! did not install tokens, time steps, and stray outcomes nobody asked for.
//!
//! Checks: no panic; a `Write` only right after a `sent()` that answered the flight's
//! own `Send` and reported a renewal (a stray `sent()` must lead to no write),
//! always as the expected version plus one, where the expected version is the one the
//! last judged read gave; a `Release` only while holding the lease; `Done` stays done;
//! a `Watch` starts no later than it is handed out, ends within a quiet spell and by
//! the deadline, and never comes once the store said it cannot watch; after a quiet
//! watch or word of a change the flight reads (it never trusts its wake-ups alone),
//! after word that the holder lives it watches again from that word, after a failed
//! watch or a store that cannot watch it waits (to the watch's end, or a poll) and
//! never spins; and once every outcome is an error the flight is done within 10 steps.

#![no_main]
#![forbid(unsafe_code)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smartling_auth_core::fuzzing::{Flight, FlightStep, Judged, MAX_VERSION, judge};
use smartling_auth_core::store::{
    LeaseId, Record, RecordName, SealKey, StoreError, StoreErrorKind, Timings, Watched,
};
use smartling_auth_core::{AccessToken, BaseUrl, Policy, RefreshToken, TokenPair};

#[derive(Arbitrary, Debug)]
struct Input {
    available: bool,
    deadline_ms: Option<u32>,
    lease_ttl_ms: u32,
    poll_ms: u16,
    sealed: bool,
    outcomes: Vec<Outcome>,
}

#[derive(Arbitrary, Debug)]
struct Outcome {
    /// Time that passes before the outcome arrives.
    advance_ms: u16,
    fail: bool,
    /// Lease taken, write landed, renewal installed tokens.
    yes: bool,
    stored: Option<(u64, Payload)>,
    /// The store's clock, relative to the start.
    store_skew_ms: i32,
    /// Whether the stored access token is the one an API call refused.
    rejected: bool,
    /// What a watch heard (with `stored` as the record a `Written` carries).
    heard: Heard,
    /// An outcome fed although the flight did not ask for it.
    stray: Option<Stray>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Heard {
    Written,
    Changed,
    Alive { ago_ms: u16 },
    Quiet,
    Unsupported,
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Raw(Vec<u8>),
    Record {
        issued_ago_ms: i32,
        expires_s: u16,
        refresh_expires_s: u16,
        foreign_version: bool,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Stray {
    Read,
    Lease,
    Sent,
    Write,
    Release,
    Watch,
}

/// The step a watch's outcome must lead to.
#[derive(Debug, Clone, Copy)]
enum After {
    /// A read (after a quiet watch, a change, or old word of the holder).
    Read,
    /// Another watch from this word of the holder, to this end.
    Watch { since: Instant, until: Instant },
    /// A wait to this instant, then a read (a failed watch; a poll).
    Wait(Instant),
}

fn err() -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, "down")
}

/// What a flight's driver feeds it, and what the checks need to remember.
struct Harness {
    base: Instant,
    epoch: SystemTime,
    name: RecordName,
    key: Option<SealKey>,
    policy: Policy,
    now: Instant,
    /// Whether the last `sent()` reported a renewal.
    renewed: bool,
    /// The version a write must replace, from the last judged read.
    expected: Option<u64>,
    timings: Timings,
    deadline: Option<Instant>,
    /// The store said it cannot watch: the flight polls from then on.
    watchless: bool,
    /// What the last watch's outcome must lead to.
    after: Option<After>,
}

impl Harness {
    fn store_now(&self, o: &Outcome) -> SystemTime {
        let skewed = if o.store_skew_ms >= 0 {
            self.epoch + Duration::from_millis(o.store_skew_ms as u64)
        } else {
            self.epoch - Duration::from_millis(u64::from(o.store_skew_ms.unsigned_abs()))
        };
        skewed + self.now.duration_since(self.base)
    }

    fn stored(&self, o: &Outcome) -> Option<(u64, Vec<u8>)> {
        let store_now = self.store_now(o);
        o.stored.as_ref().map(|(version, payload)| {
            let bytes = match payload {
                Payload::Raw(bytes) => bytes.clone(),
                Payload::Record {
                    issued_ago_ms,
                    expires_s,
                    refresh_expires_s,
                    foreign_version,
                } => {
                    let ago = Duration::from_millis(u64::from(issued_ago_ms.unsigned_abs()));
                    let issued = if *issued_ago_ms >= 0 {
                        store_now.checked_sub(ago).unwrap_or(UNIX_EPOCH)
                    } else {
                        store_now + ago
                    };
                    let pair = TokenPair::new(
                        AccessToken::new("a.b.c"),
                        RefreshToken::new("r.s.t"),
                        Duration::from_secs(u64::from(*expires_s)),
                        Duration::from_secs(u64::from(*refresh_expires_s)),
                    );
                    let sealed_as = version.wrapping_add(u64::from(*foreign_version));
                    Record::new(pair, issued).encode(&self.name, sealed_as, self.key.as_ref())
                }
            };
            (*version, bytes)
        })
    }

    fn judgement(&self, o: &Outcome) -> smartling_auth_core::fuzzing::Judgement {
        let store_now = self.store_now(o);
        let stored = self.stored(o);
        let rejected = o.rejected.then(|| AccessToken::new("a.b.c"));
        judge(
            stored.as_ref().map(|(v, b)| (*v, b.as_slice())),
            store_now,
            self.now,
            &self.name,
            self.key.as_ref(),
            &self.policy,
            rejected.as_ref(),
        )
    }

    fn read(&mut self, flight: &mut Flight, o: &Outcome) {
        if o.fail {
            flight.read_done(self.now, Err(err()));
            return;
        }
        let j = self.judgement(o);
        self.expected = match &j.judged {
            Judged::Fresh { .. } => self.expected,
            other => Some(other.version()),
        };
        flight.read_done(self.now, Ok(j));
    }

    /// Feeds what a watch heard, as `Call` does: a record newer than the last read's
    /// is judged as a read, an older one is word of a change. Returns the step the
    /// outcome must lead to (`None`: a read's judgement decides).
    fn watched(&mut self, flight: &mut Flight, until: Instant, o: &Outcome) -> Option<After> {
        let now = self.now;
        if o.fail {
            flight.watch_done(now, Err(err()));
            return Some(if until > now {
                After::Wait(until)
            } else {
                After::Read
            });
        }
        let heard = match o.heard {
            Heard::Written => {
                let newer = self
                    .stored(o)
                    .filter(|(version, _)| *version > flight.expected());
                if newer.is_some() {
                    self.read(flight, o);
                    return None;
                }
                Watched::Changed
            }
            Heard::Changed => Watched::Changed,
            Heard::Alive { ago_ms } => Watched::Alive(
                now.checked_sub(Duration::from_millis(u64::from(ago_ms)))
                    .unwrap_or(self.base)
                    .max(self.base),
            ),
            Heard::Quiet => Watched::Quiet,
            Heard::Unsupported => Watched::Unsupported,
        };
        let capped = |at: Instant| self.deadline.map_or(at, |d| at.min(d));
        let after = match &heard {
            Watched::Alive(at) if *at + self.timings.quiet() > now => After::Watch {
                since: *at,
                until: capped(*at + self.timings.quiet()),
            },
            Watched::Unsupported => {
                self.watchless = true;
                After::Wait(capped(now + self.timings.poll))
            }
            _ => After::Read,
        };
        flight.watch_done(now, Ok(heard));
        Some(after)
    }

    /// Checks `step` against what the last watch's outcome must lead to.
    fn check_after(&mut self, step: &FlightStep) {
        let Some(after) = self.after.take() else {
            return;
        };
        let past_deadline = self.deadline.is_some_and(|d| self.now >= d);
        match (after, step) {
            (After::Read, FlightStep::Read) => {}
            (After::Watch { .. } | After::Wait(_), FlightStep::Done) if past_deadline => {}
            (After::Watch { since, until }, FlightStep::Watch { since: s, until: u }) => {
                assert_eq!(
                    (since, until),
                    (*s, *u),
                    "word of the holder: watch from it"
                );
            }
            (After::Wait(until), FlightStep::Read) if self.now >= until => {}
            (After::Wait(until), FlightStep::Wait(u)) => {
                assert_eq!(until, *u, "a failed watch or a poll waits to its end");
            }
            (after, step) => panic!("after a watch that leads to {after:?}, {step:?}"),
        }
    }

    fn sent(&mut self, flight: &mut Flight, o: &Outcome) {
        let renewed = o.yes && !o.fail;
        self.renewed = renewed;
        flight.sent(self.now, renewed.then_some(self.now));
    }

    fn feed(&mut self, flight: &mut Flight, what: Stray, o: &Outcome) {
        match what {
            Stray::Read => self.read(flight, o),
            Stray::Lease => {
                flight.lease_done(self.now, if o.fail { Err(err()) } else { Ok(o.yes) })
            }
            Stray::Sent => self.sent(flight, o),
            Stray::Write => {
                flight.write_done(self.now, if o.fail { Err(err()) } else { Ok(o.yes) })
            }
            Stray::Release => {
                flight.release_done(self.now, if o.fail { Err(err()) } else { Ok(()) })
            }
            Stray::Watch => {
                // Fed unasked, its outcome bears on no step, and a sign of life may
                // send a flight that polls back to watching.
                let until = self.now;
                self.watched(flight, until, o);
                self.watchless = false;
            }
        }
    }

    /// Steps once and feeds `o` as the answer. Returns whether the flight is done.
    fn step(&mut self, flight: &mut Flight, o: &Outcome) -> bool {
        let step = flight.step(self.now);
        self.check_after(&step);
        let asked = match step {
            FlightStep::Done => {
                assert!(
                    matches!(flight.step(self.now), FlightStep::Done),
                    "Done is final"
                );
                return true;
            }
            FlightStep::Read => Stray::Read,
            FlightStep::Lease { ttl, .. } => {
                assert!(ttl > Duration::ZERO);
                Stray::Lease
            }
            FlightStep::Wait(until) => {
                assert!(until > self.now, "a wait ends in the future");
                self.now = until;
                return false;
            }
            FlightStep::Adopt { .. } => return false,
            FlightStep::Watch { since, until } => {
                assert!(!self.watchless, "a watch after the store said it cannot");
                assert!(since <= self.now, "a watch from a time to come");
                assert!(since < until, "a watch that ends before it starts");
                assert!(
                    until <= self.now + self.timings.quiet(),
                    "a watch longer than a quiet spell"
                );
                assert!(
                    self.deadline.is_none_or(|d| until <= d),
                    "a watch past the deadline"
                );
                self.after = self.watched(flight, until, o);
                return false;
            }
            FlightStep::Send => Stray::Sent,
            FlightStep::Write {
                expected, version, ..
            } => {
                assert!(self.renewed, "a write without a renewal");
                // After the last version (or a larger one a store made up) comes 1.
                let next = if expected >= MAX_VERSION { 1 } else { expected + 1 };
                assert_eq!(version, next, "a write skips a version");
                assert_eq!(
                    Some(expected),
                    self.expected,
                    "a write expects another version than the last read's"
                );
                Stray::Write
            }
            FlightStep::Release { .. } => {
                assert!(flight.holding(), "a release without the lease");
                Stray::Release
            }
            _ => return false,
        };
        self.feed(flight, asked, o);
        // A write answers the renewal: the next write needs a renewal of its own.
        if matches!(asked, Stray::Write) {
            self.renewed = false;
        }
        false
    }
}

fuzz_target!(|input: Input| {
    let base = Instant::now();
    let key = input.sealed.then(|| SealKey::from_bytes([3; 32]));
    let mut harness = Harness {
        base,
        epoch: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        name: RecordName::new(&BaseUrl::default(), "user", key.as_ref()),
        key,
        policy: Policy::default(),
        now: base,
        renewed: false,
        expected: None,
        timings: Timings::default(),
        deadline: None,
        watchless: false,
        after: None,
    };
    let timings = Timings::default()
        .with_lease_ttl(Duration::from_millis(u64::from(
            input.lease_ttl_ms % 600_000,
        )))
        .with_poll(Duration::from_millis(u64::from(input.poll_ms)));
    let deadline = input
        .deadline_ms
        .map(|ms| base + Duration::from_millis(u64::from(ms)));
    harness.timings = timings;
    harness.deadline = deadline;
    let mut flight = Flight::new(timings, deadline, LeaseId(1), input.available);
    for o in &input.outcomes {
        harness.now += Duration::from_millis(u64::from(o.advance_ms));
        if let Some(stray) = o.stray {
            if let Stray::Sent = stray {
                // No Send is out between steps: the flight ignores a renewal outcome
                // it did not ask for, so no write may follow from it.
                let renewed = o.yes && !o.fail;
                flight.sent(harness.now, renewed.then_some(harness.now));
            } else {
                harness.feed(&mut flight, stray, o);
            }
            // A stray outcome may move the flight anywhere.
            harness.after = None;
            continue;
        }
        if harness.step(&mut flight, o) {
            break;
        }
    }
    // From here on every outcome is an error: the flight ends within 10 steps.
    let failing = Outcome {
        advance_ms: 0,
        fail: true,
        yes: false,
        stored: None,
        store_skew_ms: 0,
        rejected: false,
        heard: Heard::Quiet,
        stray: None,
    };
    let done = (0..10).any(|_| harness.step(&mut flight, &failing));
    assert!(
        done,
        "a flight with only failures is not done after 10 steps"
    );
});
