//! The fleet: processes that step their sessions and flights as `TokenCache::drive`
//! does, the simulated store and server, and the checks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smartling_auth_core::fuzzing::{Flight, FlightStep, Judged, MAX_VERSION, judge};
use smartling_auth_core::store::{
    Fetched, LeaseId, Record, RecordName, SealKey, StoreError, StoreErrorKind, Stored, Timings,
};
use smartling_auth_core::{
    AccessToken, Action, BaseUrl, Credentials, Grant, Handled, HttpRequest, Policy, RefreshToken,
    RequestId, Session, TokenPair, TransportError,
};

use super::sim::{Generation, Server, SimStore, StoreOp, StoreResult, Transit};
use super::{
    Case, DRAIN_MS, OP_LIMIT_MS, Op, Pace, Plant, REQUEST_TIMEOUT_MS, SHADOW_MS, Tally, Violation,
};
use crate::answers;

const USER: &str = "user-id";
const SECRET: &str = "user-secret";
const REFRESH_LIFE_S: u64 = 3_660;
/// Steps one turn may take before it must have issued an operation or be waiting.
const TURN_STEPS: u32 = 64;
/// Turns processes may take by themselves while time passes, per operation.
const PASS_TURNS: u32 = 20_000;
/// An orphaned operation (its caller gave up) is lost after this long.
const ORPHAN_MS: u64 = 10_000;

macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(Violation(format!($($message)+)));
        }
    };
}

/// `SMARTLING_STORE_MODEL_TRACE=1` prints what every process does, to read a failing
/// case: `SMARTLING_STORE_MODEL_TRACE=1 cargo test ... -- --nocapture`.
fn tracing() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("SMARTLING_STORE_MODEL_TRACE").is_some())
}

macro_rules! trace {
    ($self:expr, $($arg:tt)+) => {
        if tracing() {
            eprintln!("{:>9} ms  {}", $self.t, format!($($arg)+));
        }
    };
}

/// `SharedStore`'s health, mirrored: failures in a row and the backoff they set.
#[derive(Debug, Default)]
struct Health {
    failures: u32,
    retry_at: Option<Instant>,
}

impl Health {
    fn available(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    fn note(&mut self, now: Instant, ok: bool, timings: &Timings) {
        if ok {
            self.failures = 0;
            self.retry_at = None;
        } else {
            self.failures = self.failures.saturating_add(1);
            let pause = timings
                .retry_first
                .saturating_mul(1 << (self.failures - 1).min(16))
                .min(timings.retry_max);
            self.retry_at = Some(now + pause);
        }
    }
}

/// An operation a process awaits.
#[derive(Debug)]
enum Pending {
    /// A store operation in transit; `read_at` is the driver's `now` when it was
    /// issued (a read's judgement uses it).
    Store {
        ticket: u64,
        read_at: Instant,
        hung: bool,
    },
    /// The renewal request: sent at `sent_at` (true time `sent_t`), answered once the
    /// server issued.
    Request {
        sent_at: Instant,
        sent_t: u64,
        answer: Option<(String, String)>,
        hung: bool,
    },
}

/// One renewal's flight, with what `TokenCache::drive` keeps beside it.
#[derive(Debug)]
struct FlightRun {
    flight: Flight,
    /// The renewal's request; `None` once sent.
    request: Option<HttpRequest>,
    id: RequestId,
    /// The renewal is still open (not adopted, answered or abandoned).
    open: bool,
    renewed: Option<TokenPair>,
    rejected: Option<AccessToken>,
    holder: LeaseId,
    /// `Held::holder`: released if the caller goes away.
    held: bool,
    pending: Option<Pending>,
    /// Steps other than waits.
    steps: u32,
    /// The version the last good read found.
    last_read: Option<u64>,
    /// The true time the renewal's clock last (re)started: the poll that asked for it,
    /// then every flight step (`Renewal::restart`).
    asked_t: u64,
    /// `SimStore::empties` at the last good read.
    read_empties: u64,
}

#[derive(Debug)]
struct CallState {
    epoch: Option<u64>,
    flight: Option<FlightRun>,
}

#[derive(Debug)]
struct Proc {
    base: Instant,
    session: Session,
    health: Health,
    call: Option<CallState>,
    /// The session's current access token, as last installed.
    current: Option<AccessToken>,
    /// `Session::rejected_token`, mirrored.
    rejected: Option<AccessToken>,
    /// The token it last invalidated. Only the last: the session remembers one refused
    /// token, so an older one can come back from a store that missed the renewal after
    /// it (a store fault), which the model allows.
    refused: Option<String>,
    grants: u32,
    /// The instant it waits for (a flight's poll, the session's next decision).
    wait_until: Option<Instant>,
}

/// What a step of a process leaves it doing.
enum Flow {
    /// It awaits an answer, waits, or was served: the turn ends.
    Yield,
    /// It goes on within the turn.
    Continue,
}

/// A fleet under a [`Case`]: apply operations one by one, then [`drain`](Self::drain).
///
/// ```
/// use smartling_auth_testkit::store_model::{Case, Fleet, Op, Pace};
/// let case = Case::quiet(2, 480);
/// let mut fleet = Fleet::new(&case);
/// fleet.apply(&Op::Step { proc: 0, pace: Pace::Now }).unwrap();
/// fleet.drain().unwrap();
/// assert_eq!(fleet.tally().issues, 1);
/// ```
#[derive(Debug)]
pub struct Fleet {
    policy: Policy,
    timings: Timings,
    life: Duration,
    name: RecordName,
    other_name: RecordName,
    key: Option<SealKey>,
    wrong_key: SealKey,
    seed: u64,
    procs: Vec<Proc>,
    store: SimStore,
    server: Server,
    /// True time, milliseconds.
    t: u64,
    last_fault: Option<u64>,
    next_holder: u64,
    last_landed: Option<Stored>,
    tally: Tally,
}

impl Fleet {
    /// A fleet in the shape `case` gives, before any operation.
    ///
    /// ```
    /// let fleet = smartling_auth_testkit::store_model::Fleet::new(
    ///     &smartling_auth_testkit::store_model::Case::quiet(3, 60));
    /// assert_eq!(fleet.tally().issues, 0);
    /// ```
    pub fn new(case: &Case) -> Self {
        let mut policy = Policy::default();
        policy.request_timeout = Duration::from_millis(REQUEST_TIMEOUT_MS);
        let key = case.sealed.then(|| SealKey::from_bytes([7; 32]));
        let base = BaseUrl::default();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        let epoch_ms = (wall + i64::from(case.store_skew_s) * 1000).max(0) as u64;
        let t0 = Instant::now();
        let life_s = u64::from(case.lifetime_s.max(3));
        let mut fleet = Self {
            timings: Timings::for_policy(&policy),
            life: Duration::from_secs(life_s),
            name: RecordName::new(&base, USER, key.as_ref()),
            other_name: RecordName::new(&base, "someone-else", key.as_ref()),
            key,
            wrong_key: SealKey::from_bytes([8; 32]),
            seed: case.seed,
            procs: Vec::new(),
            store: SimStore::new(epoch_ms),
            server: Server::new(life_s, REFRESH_LIFE_S),
            t: 0,
            last_fault: None,
            next_holder: 1,
            last_landed: None,
            tally: Tally::default(),
            policy,
        };
        let n = usize::from(case.procs.clamp(2, 6));
        fleet.procs = (0..n)
            .map(|i| {
                let base = t0 + Duration::from_secs(u64::from(case.offsets_s[i]));
                fleet.new_proc(i, base)
            })
            .collect();
        fleet
    }

    fn new_proc(&self, i: usize, base: Instant) -> Proc {
        let mut policy = self.policy.clone();
        policy.seed = Some(self.seed.wrapping_mul(31).wrapping_add(i as u64 + self.t));
        Proc {
            base,
            session: Session::new(BaseUrl::default(), policy)
                .with_credentials(Credentials::new(USER, SECRET)),
            health: Health::default(),
            call: None,
            current: None,
            rejected: None,
            refused: None,
            grants: 0,
            wait_until: None,
        }
    }

    /// What the fleet did so far.
    ///
    /// ```
    /// let fleet = smartling_auth_testkit::store_model::Fleet::new(
    ///     &smartling_auth_testkit::store_model::Case::quiet(2, 60));
    /// assert_eq!(fleet.tally().grants, 0);
    /// ```
    pub fn tally(&self) -> Tally {
        Tally {
            issues: self.server.issues,
            end_ms: self.t,
            ..self.tally.clone()
        }
    }

    fn now(&self, i: usize) -> Instant {
        self.procs[i].base + Duration::from_millis(self.t)
    }

    fn fault(&mut self) {
        self.last_fault = Some(self.t);
    }

    fn proc_index(&self, p: u8) -> usize {
        usize::from(p) % self.procs.len()
    }

    /// Applies one operation, then settles the store and checks what must hold.
    ///
    /// ```
    /// use smartling_auth_testkit::store_model::{Case, Fleet, Op};
    /// let mut fleet = Fleet::new(&Case::quiet(2, 60));
    /// fleet.apply(&Op::Down).unwrap();
    /// fleet.apply(&Op::Advance(500)).unwrap();
    /// ```
    pub fn apply(&mut self, op: &Op) -> Result<(), Violation> {
        self.settle();
        trace!(self, "{op:?}");
        match op {
            Op::Step { proc, pace } => self.turn(self.proc_index(*proc), *pace)?,
            Op::Advance(ms) => self.pass(u64::from(*ms))?,
            Op::Jump(eighths) => {
                self.pass(self.life.as_millis() as u64 * u64::from(eighths % 25) / 8)?;
            }
            Op::StoreAct(nth) => {
                let unacted: Vec<usize> = (0..self.store.transit.len())
                    .filter(|&k| self.store.transit[k].result.is_none())
                    .collect();
                if !unacted.is_empty() {
                    let k = unacted[usize::from(*nth) % unacted.len()];
                    self.act(k)?;
                }
            }
            Op::Down => {
                self.store.up = false;
                self.fault();
            }
            Op::Up => {
                self.store.up = true;
                self.fault();
            }
            Op::RestartEmpty => {
                self.store.empty();
                self.store.up = true;
                self.fault();
            }
            Op::ExpireLease => {
                self.store.lease = None;
                self.fault();
            }
            Op::LoseNextWrite => {
                self.store.lose_next_write = true;
                self.fault();
            }
            Op::Evict => {
                let lease = self.store.lease.take();
                self.store.empty();
                self.store.lease = lease;
                self.fault();
            }
            Op::Plant(plant) => self.plant(plant),
            Op::Crash(p) => {
                let i = self.proc_index(*p);
                self.orphan(i);
                let base = self.procs[i].base;
                self.procs[i] = self.new_proc(i, base);
            }
            Op::Cancel(p) => self.cancel(self.proc_index(*p)),
            Op::Invalidate(p) => {
                let i = self.proc_index(*p);
                let proc = &mut self.procs[i];
                if let Some(token) = proc.current.clone()
                    && proc.session.invalidate(&token)
                {
                    proc.refused = Some(token.secret().to_owned());
                    proc.rejected = Some(token);
                    self.fault();
                }
            }
        }
        self.settle();
        Ok(())
    }

    /// After the operations, with the store as they left it (down, or up): every
    /// process must get a token within [`DRAIN_MS`] of simulated time.
    ///
    /// ```
    /// use smartling_auth_testkit::store_model::{Case, Fleet, Op};
    /// let mut fleet = Fleet::new(&Case::quiet(3, 60));
    /// fleet.apply(&Op::Down).unwrap();
    /// fleet.drain().unwrap(); // served through the outage
    /// assert_eq!(fleet.tally().grants, 3);
    /// ```
    pub fn drain(&mut self) -> Result<(), Violation> {
        let before: Vec<u32> = self.procs.iter().map(|p| p.grants).collect();
        let start = self.t;
        while self.t <= start + DRAIN_MS {
            for (i, grants) in before.iter().enumerate() {
                if self.procs[i].grants == *grants {
                    self.settle();
                    self.turn(i, Pace::Now)?;
                }
            }
            if self.procs.iter().zip(&before).all(|(p, b)| p.grants > *b) {
                return Ok(());
            }
            self.t += 100;
            self.settle();
        }
        let waiting: Vec<usize> = (0..self.procs.len())
            .filter(|&i| self.procs[i].grants == before[i])
            .collect();
        Err(Violation(format!(
            "(d) processes {waiting:?} not served within {DRAIN_MS} ms after the operations (store up: {})",
            self.store.up
        )))
    }

    /// When process `i` next acts by itself, in true time: when its awaited answer
    /// arrives (at once if the store or server acted; half a second after the request
    /// if not; at the time limit if the operation hangs), or when its wait ends.
    fn wake_t(&self, i: usize) -> Option<u64> {
        let proc = &self.procs[i];
        let run = proc.call.as_ref().and_then(|c| c.flight.as_ref());
        match run.and_then(|r| r.pending.as_ref()) {
            Some(Pending::Store { ticket, hung, .. }) => {
                let tr = self.store.transit.iter().find(|tr| tr.ticket == *ticket)?;
                Some(match (tr.result.is_some(), hung) {
                    (true, _) => self.t,
                    (false, false) => tr.issued_t + OP_LIMIT_MS / 2,
                    (false, true) => tr.issued_t + OP_LIMIT_MS + 1,
                })
            }
            Some(Pending::Request {
                sent_t,
                answer,
                hung,
                ..
            }) => Some(match (answer.is_some(), hung) {
                (true, _) => self.t,
                (false, false) => sent_t + OP_LIMIT_MS / 2,
                (false, true) => sent_t + REQUEST_TIMEOUT_MS,
            }),
            None => proc
                .wait_until
                .map(|until| until.saturating_duration_since(proc.base).as_millis() as u64),
        }
        .map(|at| at.max(self.t))
    }

    /// Time passes: `ms` of it, every process acting by itself when its answer
    /// arrives or its wait ends (no process is frozen meanwhile).
    fn pass(&mut self, ms: u64) -> Result<(), Violation> {
        let end = self.t + ms;
        for _ in 0..PASS_TURNS {
            let next = (0..self.procs.len())
                .filter_map(|i| self.wake_t(i).map(|at| (at, i)))
                .filter(|(at, _)| *at <= end)
                .min();
            let Some((at, i)) = next else {
                self.t = end;
                return Ok(());
            };
            self.t = at;
            self.settle();
            self.turn(i, Pace::NextTurn)?;
        }
        Err(Violation(format!(
            "(d) {PASS_TURNS} turns without reaching {end} ms: the fleet spins"
        )))
    }

    /// Time passes for the store: leases and records run out, orphans are lost.
    fn settle(&mut self) {
        let t = self.t;
        if !self.store.up {
            self.fault();
        }
        if self.store.lease.is_some_and(|(_, until)| until <= t) {
            // A holder that never released in time: a slow or dead holder.
            self.store.lease = None;
            self.fault();
        }
        if self.store.record.as_ref().is_some_and(|(_, end)| *end <= t) {
            let lease = self.store.lease.take();
            self.store.empty();
            self.store.lease = lease;
        }
        self.store
            .transit
            .retain(|tr| tr.owner.is_some() || t < tr.issued_t + ORPHAN_MS);
    }

    /// One scheduling turn of process `i`.
    fn turn(&mut self, i: usize, pace: Pace) -> Result<(), Violation> {
        self.procs[i].wait_until = None;
        for _ in 0..TURN_STEPS {
            let proc = &mut self.procs[i];
            let call = proc.call.get_or_insert(CallState {
                epoch: None,
                flight: None,
            });
            let flow = if call.flight.is_some() {
                self.flight_step(i, pace)?
            } else {
                self.call_step(i)?
            };
            if let Flow::Yield = flow {
                return Ok(());
            }
        }
        Err(Violation(format!(
            "(d) process {i}'s turn took {TURN_STEPS} steps without waiting or issuing an operation"
        )))
    }

    /// `Call::step` and the driver's answer to it.
    fn call_step(&mut self, i: usize) -> Result<Flow, Violation> {
        let now = self.now(i);
        let proc = &mut self.procs[i];
        let call = proc.call.as_mut().expect("a call is under way");
        match call.epoch {
            None => {
                call.epoch = Some(proc.session.failure_epoch());
                proc.session.rearm();
            }
            Some(epoch) if proc.session.failure_epoch() > epoch => {
                if let Some(e) = proc.session.last_failure() {
                    return Err(Violation(format!(
                        "(d) process {i}'s call failed though the server always answers: {e}"
                    )));
                }
            }
            Some(_) => {}
        }
        let action = proc.session.poll(now);
        trace!(self, "  p{i} poll: {action:?}");
        let proc = &mut self.procs[i];
        match action {
            Action::UseToken(grant) => {
                proc.call = None;
                proc.grants += 1;
                self.tally.grants += 1;
                self.check_grant(i, &grant)?;
                Ok(Flow::Yield)
            }
            Action::Send(transmit) => {
                let holder = LeaseId(self.next_holder);
                self.next_holder += 1;
                let proc = &mut self.procs[i];
                let flight = Flight::new(self.timings, None, holder, proc.health.available(now));
                let call = proc.call.as_mut().expect("a call is under way");
                call.flight = Some(FlightRun {
                    flight,
                    request: Some(transmit.request),
                    id: transmit.id,
                    open: true,
                    renewed: None,
                    rejected: proc.rejected.clone(),
                    holder,
                    held: false,
                    pending: None,
                    steps: 0,
                    last_read: None,
                    asked_t: self.t,
                    read_empties: 0,
                });
                self.tally.flights += 1;
                Ok(Flow::Continue)
            }
            Action::Wait(until) => {
                ensure!(
                    until > now,
                    "(d) process {i} told to wait until a past instant"
                );
                self.procs[i].wait_until = Some(until);
                Ok(Flow::Yield)
            }
            Action::Fail(e) => Err(Violation(format!(
                "(d) process {i}'s call failed though the server always answers: {e}"
            ))),
        }
    }

    fn run_mut(&mut self, i: usize) -> &mut FlightRun {
        self.procs[i]
            .call
            .as_mut()
            .and_then(|c| c.flight.as_mut())
            .expect("a flight is under way")
    }

    /// One step of the flight loop in `TokenCache::drive`.
    fn flight_step(&mut self, i: usize, pace: Pace) -> Result<Flow, Violation> {
        if let Some(pending) = self.run_mut(i).pending.take() {
            return self.complete(i, pending);
        }
        let now = self.now(i);
        // `Renewal::restart` at the top of the driver's flight loop.
        let t = self.t;
        let proc = &mut self.procs[i];
        if let Some(call) = proc.call.as_mut()
            && let Some(run) = call.flight.as_mut()
            && run.open
        {
            run.asked_t = t;
            if !proc.session.restart(now, run.id) {
                // The session dropped the renewal: the driver leaves the flight and
                // `Held` releases a held lease.
                let (held, holder) = (run.held, run.holder);
                call.flight = None;
                if held && self.store.up && self.store.lease.is_some_and(|(h, _)| h == holder) {
                    self.store.lease = None;
                }
                return Ok(Flow::Continue);
            }
        }
        // The wait's cap is two lease lifetimes, with a read and a lease per poll.
        let bound = 4 * (self.timings.lease_ttl + self.timings.poll).as_millis() as u32
            / self.timings.poll.as_millis().max(1) as u32
            + 16;
        let step = self.run_mut(i).flight.step(now);
        trace!(self, "  p{i} flight: {step:?}");
        let run = self.run_mut(i);
        if !matches!(step, FlightStep::Wait(_)) {
            run.steps += 1;
            let steps = run.steps;
            self.tally.longest_flight = self.tally.longest_flight.max(steps);
            ensure!(
                steps <= bound,
                "(d) process {i}'s flight took {steps} steps (bound {bound})"
            );
        }
        let run = self.run_mut(i);
        match step {
            FlightStep::Read => {
                self.issue(i, StoreOp::Read, now, pace)?;
                Ok(Flow::Yield)
            }
            FlightStep::Lease { holder, ttl } => {
                ensure!(
                    holder == run.holder && ttl == self.timings.lease_ttl,
                    "(c) a lease asked for another holder or time to live"
                );
                self.issue(i, StoreOp::Lease(holder, ttl), now, pace)?;
                Ok(Flow::Yield)
            }
            FlightStep::Wait(until) => {
                ensure!(until > now, "(d) a flight waits for a past instant");
                self.procs[i].wait_until = Some(until);
                Ok(Flow::Yield)
            }
            FlightStep::Adopt { record, issued } => {
                if !run.open {
                    return Ok(Flow::Continue);
                }
                run.open = false;
                let (id, asked_t, t) = (run.id, run.asked_t, self.t);
                let token = record.pair.access_token.secret().to_owned();
                ensure!(
                    self.server.access.contains_key(&token),
                    "(b) process {i} adopts a token the server never issued"
                );
                let proc = &mut self.procs[i];
                match proc.session.adopt(now, id, record.pair.clone(), issued) {
                    Handled::Adopted(pair) => {
                        proc.current = Some(pair.access_token);
                        proc.rejected = None;
                        self.tally.adoptions += 1;
                    }
                    // The session timed the renewal out (`request_timeout` after the
                    // poll that sent it) while the flight waited for the lease.
                    Handled::Stale if t >= asked_t + REQUEST_TIMEOUT_MS => {
                        return Err(Violation(format!(
                            "(d) process {i} adopts a record {} ms after its renewal's clock \
                             last started: the session timed the renewal out meanwhile",
                            t - asked_t
                        )));
                    }
                    other => {
                        return Err(Violation(format!(
                            "(b) adopting a fresh record gave {other:?}"
                        )));
                    }
                }
                Ok(Flow::Continue)
            }
            FlightStep::Send => {
                let Some(request) = run.request.take().filter(|_| run.open) else {
                    // The driver leaves the flight loop: the renewal is gone already.
                    self.end_flight(i);
                    return Ok(Flow::Continue);
                };
                let sent_t = self.t;
                let mut answer = None;
                if pace == Pace::Now {
                    answer = Some(self.serve(i, &request)?);
                }
                self.run_mut(i).pending = Some(Pending::Request {
                    sent_at: now,
                    sent_t,
                    answer,
                    hung: pace == Pace::Hang,
                });
                self.run_mut(i).request = Some(request);
                Ok(Flow::Yield)
            }
            FlightStep::Write {
                expected,
                version,
                issued_at,
            } => {
                let (last, empties) = (run.last_read, run.read_empties);
                let Some(pair) = run.renewed.take() else {
                    return Err(Violation(format!(
                        "(c) process {i}'s flight writes version {version} without a renewal"
                    )));
                };
                ensure!(
                    version == expected + 1 && version <= MAX_VERSION,
                    "(c) a write of version {version} over {expected}"
                );
                ensure!(
                    last == Some(expected),
                    "(c) a write over version {expected}, but the last read found {last:?}"
                );
                let record = Record::new(pair, issued_at);
                let payload = record.encode(&self.name, version, self.key.as_ref());
                let ttl = record.pair.refresh_expires_in.max(Duration::from_secs(1));
                let op = StoreOp::Write {
                    expected,
                    stored: Stored { version, payload },
                    ttl,
                    empties,
                };
                self.issue(i, op, now, pace)?;
                Ok(Flow::Yield)
            }
            FlightStep::Release { holder } => {
                ensure!(
                    holder == run.holder && run.held,
                    "(c) a release of a lease this flight does not hold"
                );
                self.issue(i, StoreOp::Release(holder), now, pace)?;
                Ok(Flow::Yield)
            }
            FlightStep::Done => {
                self.end_flight(i);
                Ok(Flow::Continue)
            }
            other => Err(Violation(format!("unknown flight step {other:?}"))),
        }
    }

    /// The flight loop ends: an open renewal is dropped (abandoned); a lease still
    /// held belongs to a failed store and runs out its time.
    fn end_flight(&mut self, i: usize) {
        let proc = &mut self.procs[i];
        let call = proc.call.as_mut().expect("a call is under way");
        if let Some(run) = call.flight.take()
            && run.open
        {
            proc.session.abandon(run.id);
        }
    }

    /// Hands a store operation to the store.
    fn issue(&mut self, i: usize, op: StoreOp, now: Instant, pace: Pace) -> Result<(), Violation> {
        let ticket = self.store.next_ticket;
        self.store.next_ticket += 1;
        self.store.transit.push(Transit {
            ticket,
            op,
            result: None,
            issued_t: self.t,
            acted_t: self.t,
            acted_empties: 0,
            owner: Some(i),
        });
        self.run_mut(i).pending = Some(Pending::Store {
            ticket,
            read_at: now,
            hung: pace == Pace::Hang,
        });
        if pace == Pace::Now {
            self.act(self.store.transit.len() - 1)?;
        }
        Ok(())
    }

    /// The store acts on transit `k` now.
    fn act(&mut self, k: usize) -> Result<(), Violation> {
        let t = self.t;
        let op = self.store.transit[k].op.clone();
        let result = if !self.store.up {
            match op {
                StoreOp::Read => StoreResult::Read(Err(SimStore::down())),
                StoreOp::Release(_) => StoreResult::Unit(Err(SimStore::down())),
                _ => StoreResult::Flag(Err(SimStore::down())),
            }
        } else {
            match op {
                StoreOp::Read => StoreResult::Read(Ok(Fetched {
                    record: self.store.record.as_ref().map(|(s, _)| s.clone()),
                    now: self.store.clock(t),
                })),
                StoreOp::Lease(holder, ttl) => StoreResult::Flag(Ok(match self.store.lease {
                    Some((_, until)) if until > t => false,
                    _ => {
                        self.store.lease = Some((holder, t + ttl.as_millis() as u64));
                        true
                    }
                })),
                StoreOp::Write {
                    expected,
                    stored,
                    ttl,
                    empties,
                } => {
                    let landed = if self.store.version() != expected {
                        self.tally.refused += 1;
                        false
                    } else if std::mem::take(&mut self.store.lose_next_write) {
                        true
                    } else {
                        self.land(&stored, ttl, empties)?;
                        true
                    };
                    StoreResult::Flag(Ok(landed))
                }
                StoreOp::Release(holder) => {
                    if self.store.lease.is_some_and(|(h, _)| h == holder) {
                        self.store.lease = None;
                    }
                    StoreResult::Unit(Ok(()))
                }
            }
        };
        trace!(
            self,
            "  store acts on #{}: {result:?}", self.store.transit[k].ticket
        );
        self.store.transit[k].result = Some(result);
        self.store.transit[k].acted_t = t;
        self.store.transit[k].acted_empties = self.store.empties;
        Ok(())
    }

    /// A fleet write lands: check it, and make it the generation.
    fn land(&mut self, stored: &Stored, ttl: Duration, empties: u64) -> Result<(), Violation> {
        let t = self.t;
        let version = stored.version;
        let high = self.store.high;
        ensure!(
            version > high,
            "(c) version {version} landed after version {high}"
        );
        let record = Record::decode(&self.name, version, &stored.payload, self.key.as_ref())
            .map_err(|e| Violation(format!("(c) a landed record does not decode: {e}")))?;
        let token = record.pair.access_token.secret().to_owned();
        let Some(issued) = self.server.access.get(&token).copied() else {
            return Err(Violation(
                "(c) a landed record holds a token the server never issued".into(),
            ));
        };
        let dated = self.store.true_time(record.issued_at);
        ensure!(
            dated <= issued.t,
            "(b) a record dates its token at {dated} ms, but the server issued it at {} ms: \
             readers will think it lives {} ms longer than it does",
            issued.t,
            dated - issued.t
        );
        // Versions start again once the store loses its record, so a writer that read
        // before that can land on a newer record of the same version (excused: the
        // store lost data; both tokens are live).
        if let Some(g) = &self.store.generation
            && empties == self.store.empties
        {
            ensure!(
                issued.t >= g.issued_t,
                "(c) version {version} holds a token issued at {} ms over one issued at {} ms",
                issued.t,
                g.issued_t
            );
        }
        let margins = self.policy.margins(self.life);
        let lead = (margins.refresh_ahead + margins.refresh_jitter)
            .min(self.life - self.life / 2)
            .max(margins.min_validity);
        let lead_ms = lead.as_nanos().div_ceil(1_000_000) as u64;
        self.store.generation = Some(Generation {
            token,
            landed_t: t,
            refresh_t: (dated + self.life.as_millis() as u64).saturating_sub(lead_ms),
            issued_t: issued.t,
        });
        self.store.high = version;
        self.store.record = Some((stored.clone(), t + ttl.as_millis() as u64));
        self.last_landed = Some(stored.clone());
        self.tally.landed += 1;
        Ok(())
    }

    /// The server takes the renewal request now and issues a pair.
    fn serve(&mut self, i: usize, request: &HttpRequest) -> Result<(String, String), Violation> {
        let t = self.t;
        let body: serde_json::Value = serde_json::from_slice(request.body())
            .map_err(|e| Violation(format!("a request body is not JSON: {e}")))?;
        if let Some(refresh) = body.get("refreshToken").and_then(|v| v.as_str()) {
            match self.server.refresh.get(refresh) {
                Some(r) if r.refresh_dies_t > t => {}
                Some(r) => {
                    return Err(Violation(format!(
                        "(b) process {i} refreshes with a refresh token dead since {} ms, at {t} ms",
                        r.refresh_dies_t
                    )));
                }
                None => {
                    return Err(Violation(format!(
                        "(b) process {i} refreshes with a refresh token never issued"
                    )));
                }
            }
        }
        // (a): no issue inside a generation's life unless a fault excuses it, or the
        // renewal answers an invalidation (however long ago it happened).
        let answers_refusal = self.procs[i]
            .call
            .as_ref()
            .and_then(|c| c.flight.as_ref())
            .is_some_and(|r| r.rejected.is_some());
        if let Some(g) = &self.store.generation
            && !answers_refusal
            && self.store.up
            && t >= g.landed_t
            && t < g.refresh_t
            && self.last_fault.is_none_or(|f| f + SHADOW_MS < t)
        {
            return Err(Violation(format!(
                "(a) process {i} renews at {t} ms, but the store holds {} (landed at {} ms) \
                 until its refresh point at {} ms, and no fault happened since {}",
                g.token,
                g.landed_t,
                g.refresh_t,
                self.last_fault
                    .map_or_else(|| "the start".to_owned(), |f| format!("{f} ms")),
            )));
        }
        let pair = self.server.issue(t);
        trace!(self, "  server issues {} to p{i}", pair.0);
        Ok(pair)
    }

    /// Takes the answer of a pending operation, or keeps waiting for it.
    fn complete(&mut self, i: usize, pending: Pending) -> Result<Flow, Violation> {
        let t = self.t;
        let now = self.now(i);
        match pending {
            Pending::Store {
                ticket,
                read_at,
                hung,
            } => {
                let k = self
                    .store
                    .transit
                    .iter()
                    .position(|tr| tr.ticket == ticket)
                    .expect("an owned operation stays in transit");
                let issued_t = self.store.transit[k].issued_t;
                let lease = matches!(self.store.transit[k].op, StoreOp::Lease(..));
                if self.store.transit[k].result.is_none() {
                    if t > issued_t + OP_LIMIT_MS {
                        // The caller gives up; the store may still act on it later.
                        self.store.transit[k].owner = None;
                        self.fault();
                        let e = StoreError::new(StoreErrorKind::Timeout, "over 1 s");
                        let result = match self.store.transit[k].op {
                            StoreOp::Read => StoreResult::Read(Err(e)),
                            StoreOp::Release(_) => StoreResult::Unit(Err(e)),
                            _ => StoreResult::Flag(Err(e)),
                        };
                        return self.deliver(i, lease, (0, 0), result, read_at, now);
                    }
                    if hung {
                        self.run_mut(i).pending = Some(Pending::Store {
                            ticket,
                            read_at,
                            hung,
                        });
                        return Ok(Flow::Yield);
                    }
                    self.act(k)?;
                }
                let tr = self.store.transit.remove(k);
                let result = tr.result.expect("acted");
                let seen = (tr.acted_t - tr.issued_t, tr.acted_empties);
                self.deliver(i, lease, seen, result, read_at, now)
            }
            Pending::Request {
                sent_at,
                sent_t,
                mut answer,
                hung,
            } => {
                let timed_out = t >= sent_t + REQUEST_TIMEOUT_MS;
                if answer.is_none() && !hung && !timed_out {
                    let request = self.run_mut(i).request.take().expect("the request");
                    answer = Some(self.serve(i, &request)?);
                }
                let proc = &mut self.procs[i];
                let run = proc
                    .call
                    .as_mut()
                    .and_then(|c| c.flight.as_mut())
                    .expect("a flight is under way");
                let answered = answer.is_some();
                let handled = match answer {
                    Some((access, refresh)) if tracing() => {
                        let h = proc.session.handle_response(
                            now,
                            run.id,
                            &answers::success(
                                &access,
                                &refresh,
                                self.server.life_s,
                                self.server.refresh_life_s,
                            ),
                        );
                        eprintln!("{:>9} ms    p{i} handled: {h:?}", self.t);
                        h
                    }
                    Some((access, refresh)) => proc.session.handle_response(
                        now,
                        run.id,
                        &answers::success(
                            &access,
                            &refresh,
                            self.server.life_s,
                            self.server.refresh_life_s,
                        ),
                    ),
                    None if timed_out => {
                        self.last_fault = Some(t);
                        proc.session.handle_transport_error(
                            now,
                            run.id,
                            TransportError::timeout(Duration::from_millis(REQUEST_TIMEOUT_MS)),
                        )
                    }
                    None => {
                        run.pending = Some(Pending::Request {
                            sent_at,
                            sent_t,
                            answer,
                            hung,
                        });
                        return Ok(Flow::Yield);
                    }
                };
                run.open = false;
                run.request = None;
                ensure!(
                    !(answered && matches!(handled, Handled::Stale)),
                    "(d) process {i} is answered {} ms after its renewal's clock last started \
                     (sent after {} ms): the session timed it out meanwhile and drops the answer",
                    t - run.asked_t,
                    sent_t - run.asked_t
                );
                if let Handled::Renewed(pair) = &handled {
                    run.renewed = Some(pair.clone());
                    proc.current = Some(pair.access_token.clone());
                    proc.rejected = None;
                }
                let renewed = run.renewed.as_ref().map(|_| sent_at);
                run.flight.sent(now, renewed);
                Ok(Flow::Continue)
            }
        }
    }

    /// Feeds a store answer to the flight, as the driver does (health first).
    fn deliver(
        &mut self,
        i: usize,
        lease: bool,
        (lag_ms, empties): (u64, u64),
        result: StoreResult,
        read_at: Instant,
        done: Instant,
    ) -> Result<Flow, Violation> {
        trace!(self, "  p{i} answer: {result:?} (lag {lag_ms} ms)");
        if result.is_err() {
            self.tally.store_errors += 1;
        }
        let ok = !result.is_err();
        self.procs[i].health.note(done, ok, &self.timings);
        let (name, key, policy) = (&self.name, self.key.as_ref(), &self.policy);
        let proc = &mut self.procs[i];
        let run = proc
            .call
            .as_mut()
            .and_then(|c| c.flight.as_mut())
            .expect("a flight is under way");
        match result {
            StoreResult::Read(outcome) => {
                // The driver judges each read with the token refused as of that read;
                // any refusal during the flight excuses its renewal for (a).
                if proc.rejected.is_some() {
                    run.rejected.clone_from(&proc.rejected);
                }
                let judged = outcome.map(|f| {
                    let stored = f.record.as_ref().map(|s| (s.version, s.payload.as_slice()));
                    judge(
                        stored,
                        f.now,
                        read_at,
                        name,
                        key,
                        policy,
                        proc.rejected.as_ref(),
                    )
                });
                if let Ok(j) = &judged {
                    run.read_empties = empties;
                    if let Judged::Untrusted { .. } = j.judged {
                        self.tally.untrusted += 1;
                    }
                    if !matches!(j.judged, Judged::Fresh { .. }) {
                        run.last_read = Some(j.judged.version());
                    }
                }
                run.flight.read_done(done, judged);
            }
            StoreResult::Flag(outcome) if lease => {
                run.flight.lease_done(done, outcome);
                if run.flight.holding() {
                    run.held = true;
                }
            }
            StoreResult::Flag(outcome) => run.flight.write_done(done, outcome),
            StoreResult::Unit(outcome) => {
                run.flight.release_done(done, outcome);
                run.held = false;
            }
        }
        Ok(Flow::Continue)
    }

    fn orphan(&mut self, i: usize) {
        for tr in &mut self.store.transit {
            if tr.owner == Some(i) {
                tr.owner = None;
            }
        }
    }

    /// The caller goes away mid-call: `Renewal` is dropped (abandoned) and `Held`
    /// releases a held lease in place.
    fn cancel(&mut self, i: usize) {
        self.orphan(i);
        let proc = &mut self.procs[i];
        let Some(call) = proc.call.take() else {
            return;
        };
        let Some(run) = call.flight else {
            return;
        };
        if run.open {
            proc.session.abandon(run.id);
        }
        if run.held && self.store.up && self.store.lease.is_some_and(|(h, _)| h == run.holder) {
            // `Held` leaves a lease whose write is out to that write (the driver takes
            // it out of `Held` meanwhile); otherwise it releases at once.
            let writing = matches!(run.pending, Some(Pending::Store { ticket, .. })
                if self.store.transit.iter().any(|tr| tr.ticket == ticket
                    && matches!(tr.op, StoreOp::Write { .. })));
            if !writing {
                self.store.lease = None;
            }
        }
    }

    /// Someone outside the fleet writes a record.
    fn plant(&mut self, plant: &Plant) {
        let t = self.t;
        let version = self.store.version() + 1;
        let store_now = self.store.clock(t);
        let pair = || {
            TokenPair::new(
                AccessToken::new("x.planted.token"),
                RefreshToken::new("x.planted.refresh"),
                self.life,
                Duration::from_secs(REFRESH_LIFE_S),
            )
        };
        let key = self.key.as_ref();
        let payload = match plant {
            Plant::Garbage(bytes) => bytes.clone(),
            Plant::OtherUser => {
                Record::new(pair(), store_now).encode(&self.other_name, version, key)
            }
            Plant::WrongKey => {
                Record::new(pair(), store_now).encode(&self.name, version, Some(&self.wrong_key))
            }
            Plant::Expired => {
                Record::new(pair(), store_now - Duration::from_secs(REFRESH_LIFE_S + 10))
                    .encode(&self.name, version, key)
            }
            // A year ahead: it stays ahead for the whole case. (One less than a minute
            // ahead is trusted by design, and one written with the key can say anything.)
            Plant::FromTheFuture => {
                Record::new(pair(), store_now + Duration::from_secs(365 * 86_400))
                    .encode(&self.name, version, key)
            }
            Plant::Replayed => self
                .last_landed
                .as_ref()
                .map_or_else(|| b"{}".to_vec(), |s| s.payload.clone()),
        };
        self.store.record = Some((Stored { version, payload }, t + 3_600_000));
        self.store.high = self.store.high.max(version);
        self.store.generation = None;
        self.fault();
    }

    /// A grant must be a live token of the server's, keeping its promise.
    fn check_grant(&self, i: usize, grant: &Grant) -> Result<(), Violation> {
        let t = self.t;
        let token = grant.access_token.secret();
        let Some(issued) = self.server.access.get(token) else {
            return Err(Violation(format!(
                "(b) process {i} hands out a token the server never issued"
            )));
        };
        let dies_t = issued.dies_t;
        ensure!(
            t < dies_t,
            "(b) process {i} hands out {token} at {t} ms, dead since {} ms",
            issued.dies_t
        );
        let proc = &self.procs[i];
        let until = grant.valid_until.saturating_duration_since(proc.base);
        let margin = self.policy.margins(self.life).min_validity;
        let promised = until + margin;
        ensure!(
            promised <= Duration::from_millis(dies_t),
            "(b) process {i} promises {token} valid until {} ms with {} ms to spare, but it dies at {} ms",
            until.as_millis(),
            margin.as_millis(),
            issued.dies_t
        );
        ensure!(
            proc.refused.as_deref() != Some(token),
            "(b) process {i} hands out {token}, which it invalidated"
        );
        Ok(())
    }
}
