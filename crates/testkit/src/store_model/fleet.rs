//! The fleet: processes that each run the shipped renewal machine ([`Call`]) over a
//! [`TokenCache`] of their own, the simulated store (a real [`Store`] the machine's
//! own tasks run against, when the model says the store acts) and server, and the
//! checks. Nothing here re-implements a decision of the machine's: the model only
//! chooses when things happen and checks what came of them.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smartling_auth_core::fuzzing::MAX_VERSION;
use smartling_auth_core::store::MAX_STORE_CLOCK_GAP;
use smartling_auth_core::store::{
    Record, RecordName, SealKey, SharedStore, StoreDone, StoreOp, StoreTask, Stored, Timings,
};
use smartling_auth_core::{
    AccessToken, BaseUrl, Call, Credentials, Grant, Handled, HttpRequest, Policy, RefreshToken,
    RequestId, Session, Step, TokenCache, TokenPair, TransportError,
};

use super::sim::{Generation, Server, SimHandle, SimStore, Transit};
use super::{
    Case, DRAIN_MS, OP_LIMIT_MS, Op, Pace, Plant, REQUEST_TIMEOUT_MS, SHADOW_MS, SLOW_MS, Tally,
    Violation, WAITER_READS, WAKE_SLACK_MS, Wakes, Watching,
};
use crate::answers;

const USER: &str = "user-id";
const SECRET: &str = "user-secret";
const REFRESH_LIFE_S: u64 = 3_660;
/// Polls one turn may take before it must have issued an operation or be waiting.
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

/// What the processes run on: the simulated store, and one token cache per process
/// plus one for each crash in the case (a crashed process starts again empty). The
/// fleet's calls borrow the caches, so they live here, beside the fleet.
///
/// ```
/// use smartling_auth_testkit::store_model::{Case, Fleet, Machines};
/// let case = Case::quiet(2, 60);
/// let machines = Machines::new(&case);
/// let fleet = Fleet::new(&case, &machines);
/// assert_eq!(fleet.tally().issues, 0);
/// ```
#[derive(Debug)]
pub struct Machines {
    store: Arc<SimHandle>,
    caches: Vec<TokenCache>,
    policy: Policy,
    name: RecordName,
    key: Option<SealKey>,
    /// The machines' wall clock at true time 0, in ms since the epoch.
    wall_ms: u64,
    /// Whether the store's clock is close enough to the machines' to be believed.
    store_clock_trusted: bool,
}

impl Machines {
    /// The store and the caches for `case`.
    ///
    /// See [`Machines`] for an example.
    pub fn new(case: &Case) -> Self {
        let mut policy = Policy::default();
        policy.request_timeout = Duration::from_millis(REQUEST_TIMEOUT_MS);
        let key = case.sealed.then(|| SealKey::from_bytes([7; 32]));
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        let epoch_ms = (wall + i64::from(case.store_skew_s) * 1000).max(0) as u64;
        let store = Arc::new(SimHandle::new(
            epoch_ms,
            case.sealed,
            case.watching,
            case.wakes,
            case.seed,
        ));
        let procs = usize::from(case.procs.clamp(2, 6));
        let crashes = case
            .ops
            .iter()
            .filter(|op| matches!(op, Op::Crash(_)))
            .count();
        let base = BaseUrl::default();
        let trusted = u64::from(case.store_skew_s.unsigned_abs()) <= MAX_STORE_CLOCK_GAP.as_secs();
        let caches = (0..procs + crashes)
            .map(|n| {
                let mut policy = policy.clone();
                policy.seed = Some(case.seed.wrapping_mul(31).wrapping_add(n as u64));
                // The machines' wall clocks: the store's own where it is off by seconds
                // (the fleet's clocks are modelled by their monotonic offsets), true
                // time where the store is a day off (then it is not believed).
                let sim = store.clone();
                let skew_ms = if trusted { case.store_skew_s } else { 0 };
                let shared =
                    SharedStore::for_user(store.clone(), &base, USER, key.clone(), &policy)
                        .expect("a sealed store has its key; a plain one needs none")
                        .with_local_clock(move || {
                            let t = (wall + i64::from(skew_ms) * 1000).max(0) as u64;
                            UNIX_EPOCH + Duration::from_millis(t + sim.lock().t)
                        });
                TokenCache::new(
                    Session::new(base.clone(), policy)
                        .with_credentials(Credentials::new(USER, SECRET)),
                )
                .with_store(shared)
            })
            .collect();
        Self {
            name: RecordName::new(&base, USER, key.as_ref()),
            store,
            caches,
            policy,
            key,
            wall_ms: wall as u64,
            store_clock_trusted: trusted,
        }
    }
}

/// The request a process has out.
#[derive(Debug)]
struct Request {
    id: RequestId,
    request: HttpRequest,
    sent_t: u64,
    /// The server's pair, once it issued.
    answer: Option<(String, String)>,
    /// The answer is not delivered before this true time (a slow server).
    ready_t: u64,
    hung: bool,
    /// Its process was paused while it was out: a late answer is the pause's doing.
    paused: bool,
}

#[derive(Debug)]
struct Proc<'m> {
    base: Instant,
    cache: &'m TokenCache,
    call: Option<Call<'m>>,
    request: Option<Request>,
    /// The store operation it has out: its ticket, and whether it hangs.
    store_op: Option<(u64, bool)>,
    /// The token it last installed.
    current: Option<AccessToken>,
    /// The token it last invalidated. Only the last: the session remembers one refused
    /// token, so an older one can come back from a store that missed the renewal after
    /// it (a store fault), which the model allows.
    refused: Option<String>,
    /// An invalidation this call answers: its renewal is excused from (a).
    answers_refusal: bool,
    grants: u32,
    /// The instant its machine waits for.
    wait_until: Option<Instant>,
    /// Paused (SIGSTOP) until this true time: it takes no turn, its answers wait.
    paused_until: u64,
    /// The version and the store's empties of its last read: what a write expects.
    last_read: Option<(u64, u64)>,
    /// Its call's flight is counted in the tally.
    counted: bool,
    /// When its call first watched (true time): it waits on another's renewal.
    watched_t: Option<u64>,
    /// The reads its call made since, and the fleet's records landed before.
    reads: u32,
    landed_before: u32,
    /// When it last read the store or asked for the lease (true time).
    looked_t: u64,
}

/// A fleet under a [`Case`]: apply operations one by one, then [`drain`](Self::drain).
///
/// ```
/// use smartling_auth_testkit::store_model::{Case, Fleet, Machines, Op, Pace};
/// let case = Case::quiet(2, 480);
/// let machines = Machines::new(&case);
/// let mut fleet = Fleet::new(&case, &machines);
/// fleet.apply(&Op::Step { proc: 0, pace: Pace::Now }).unwrap();
/// fleet.drain().unwrap();
/// assert_eq!(fleet.tally().issues, 1);
/// ```
#[derive(Debug)]
pub struct Fleet<'m> {
    machines: &'m Machines,
    life: Duration,
    other_name: RecordName,
    wrong_key: SealKey,
    procs: Vec<Proc<'m>>,
    /// The next unused cache, for a process that crashed.
    spare: usize,
    transit: Vec<Transit>,
    next_ticket: u64,
    server: Server,
    /// True time, milliseconds.
    t: u64,
    last_fault: Option<u64>,
    last_landed: Option<Stored>,
    tally: Tally,
    /// A waiter's quiet spell (milliseconds), from the machine's own timings.
    quiet_ms: u64,
    /// The store wakes waiters: (g) holds them to few reads.
    can_watch: bool,
    /// And no wake-up is lost: (g) allows no quiet spell.
    wakes_kept: bool,
}

impl<'m> Fleet<'m> {
    /// A fleet in the shape `case` gives, on `machines`, before any operation.
    ///
    /// See [`Machines`] for an example.
    pub fn new(case: &Case, machines: &'m Machines) -> Self {
        let t0 = Instant::now();
        let life_s = u64::from(case.lifetime_s.max(3));
        let n = usize::from(case.procs.clamp(2, 6));
        let procs = (0..n)
            .map(|i| {
                let base = t0 + Duration::from_secs(u64::from(case.offsets_s[i]));
                Proc::new(base, &machines.caches[i])
            })
            .collect();
        Self {
            machines,
            life: Duration::from_secs(life_s),
            other_name: RecordName::new(&BaseUrl::default(), "someone-else", machines.key.as_ref()),
            wrong_key: SealKey::from_bytes([8; 32]),
            procs,
            spare: n,
            transit: Vec::new(),
            next_ticket: 0,
            server: Server::new(life_s, REFRESH_LIFE_S),
            t: 0,
            last_fault: None,
            last_landed: None,
            tally: Tally::default(),
            quiet_ms: Timings::for_policy(&machines.policy).quiet().as_millis() as u64,
            can_watch: case.watching != Watching::Unsupported,
            wakes_kept: matches!(case.wakes, Wakes::Prompt | Wakes::Late | Wakes::Twice),
        }
    }

    /// What the fleet did so far.
    ///
    /// See [`Machines`] for an example.
    pub fn tally(&self) -> Tally {
        let s = self.store();
        let answered = &s.answered;
        Tally {
            issues: self.server.issues,
            refused: s.refused,
            end_ms: self.t,
            written: answered.written,
            changed: answered.changed,
            alive: answered.alive,
            quiet: answered.quiet,
            unsupported: answered.unsupported,
            ..self.tally.clone()
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, SimStore> {
        self.machines.store.lock()
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
    /// use smartling_auth_testkit::store_model::{Case, Fleet, Machines, Op};
    /// let case = Case::quiet(2, 60);
    /// let machines = Machines::new(&case);
    /// let mut fleet = Fleet::new(&case, &machines);
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
                let unacted: Vec<usize> = (0..self.transit.len())
                    .filter(|&k| self.transit[k].result.is_none())
                    .collect();
                if !unacted.is_empty() {
                    let k = unacted[usize::from(*nth) % unacted.len()];
                    self.act(k)?;
                }
            }
            Op::Down => {
                self.store().up = false;
                self.fault();
            }
            Op::Up => {
                self.store().up = true;
                self.fault();
            }
            Op::RestartEmpty => {
                let mut s = self.store();
                s.empty();
                s.up = true;
                drop(s);
                self.fault();
            }
            Op::ExpireLease => {
                let t = self.t;
                self.store().let_go(t);
                self.fault();
            }
            Op::LoseNextWrite => {
                self.store().lose_next_write = true;
                self.fault();
            }
            Op::Evict => {
                let mut s = self.store();
                let lease = s.lease.take();
                s.empty();
                s.lease = lease;
                drop(s);
                self.fault();
            }
            Op::Plant(plant) => self.plant(plant),
            Op::Crash(p) => {
                let i = self.proc_index(*p);
                self.orphan(i);
                // Its memory is gone; its lease runs out its time.
                let Some(cache) = self.machines.caches.get(self.spare) else {
                    return Err(Violation("more crashes than the case has".into()));
                };
                self.spare += 1;
                let base = self.procs[i].base;
                self.procs[i] = Proc::new(base, cache);
                self.fault();
            }
            Op::Cancel(p) => {
                // Its request, if any, is still with the server, and its lease released.
                self.cancel(self.proc_index(*p))?;
                self.fault();
            }
            Op::Invalidate(p) => {
                let i = self.proc_index(*p);
                let proc = &mut self.procs[i];
                if let Some(token) = proc.current.clone()
                    && proc.cache.invalidate(&token)
                {
                    proc.refused = Some(token.secret().to_owned());
                    proc.answers_refusal = true;
                    self.fault();
                }
            }
            Op::Pause { proc, ms } => {
                let i = self.proc_index(*proc);
                self.procs[i].paused_until = self.t + u64::from(*ms);
                if let Some(r) = &mut self.procs[i].request {
                    r.paused = true;
                }
                self.fault();
            }
        }
        self.settle();
        self.check_waiters()
    }

    /// After the operations, with the store as they left it (down, or up): every
    /// process must get a token within [`DRAIN_MS`] of simulated time.
    ///
    /// ```
    /// use smartling_auth_testkit::store_model::{Case, Fleet, Machines, Op};
    /// let case = Case::quiet(3, 60);
    /// let machines = Machines::new(&case);
    /// let mut fleet = Fleet::new(&case, &machines);
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
            self.check_waiters()?;
            self.t += 100;
            self.settle();
        }
        let waiting: Vec<usize> = (0..self.procs.len())
            .filter(|&i| self.procs[i].grants == before[i])
            .collect();
        Err(Violation(format!(
            "(d) processes {waiting:?} not served within {DRAIN_MS} ms after the operations (store up: {})",
            self.store().up
        )))
    }

    /// When process `i` next acts by itself, in true time: when an awaited answer
    /// arrives (at once if the store or server acted; half a second after the request
    /// if not; at the time limit if the operation hangs), or when its wait ends; never
    /// while it is paused.
    fn wake_t(&self, i: usize) -> Option<u64> {
        let proc = &self.procs[i];
        let store = proc.store_op.and_then(|(ticket, hung)| {
            let tr = self.transit.iter().find(|tr| tr.ticket == ticket)?;
            Some(match (tr.result.is_some(), hung, tr.watch_span()) {
                (true, _, _) => self.t,
                (false, false, None) => tr.issued_t + OP_LIMIT_MS / 2,
                // A watch answers once word is heard, or at its end.
                (false, false, Some((since_t, until_t))) => {
                    self.store().watch_ready_t(since_t, until_t)
                }
                (false, true, _) => limit_t(tr) + 1,
            })
        });
        let request = proc.request.as_ref().map(|r| match (&r.answer, r.hung) {
            (Some(_), _) => r.ready_t,
            (None, false) => r.sent_t + OP_LIMIT_MS / 2,
            (None, true) => r.sent_t + REQUEST_TIMEOUT_MS,
        });
        // Rounded up: a wait that ends within a millisecond still lies ahead.
        let wait = proc.wait_until.map(|until| {
            until
                .saturating_duration_since(proc.base)
                .as_nanos()
                .div_ceil(1_000_000) as u64
        });
        [store, request, wait]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.max(self.t).max(proc.paused_until))
    }

    /// Time passes: `ms` of it, every process acting by itself when its answer
    /// arrives or its wait ends (none is frozen meanwhile, unless paused).
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
            self.check_waiters()?;
        }
        Err(Violation(format!(
            "(d) {PASS_TURNS} turns without reaching {end} ms: the fleet spins"
        )))
    }

    /// Time passes for the store: leases and records run out, orphans are lost.
    fn settle(&mut self) {
        let t = self.t;
        let mut s = self.store();
        let down = !s.up;
        s.t = t;
        // A lease that ran out: its holder died, paused, went away mid-write or lost
        // the store (each a fault already). A live holder extends its lease, so a
        // lapse is no excuse of its own.
        if let Some((_, until)) = s.lease.filter(|(_, until)| *until <= t) {
            s.let_go(until);
        }
        if s.record.as_ref().is_some_and(|(_, end)| *end <= t) {
            let lease = s.lease.take();
            s.empty();
            s.lease = lease;
        }
        drop(s);
        if down {
            self.fault();
        }
        self.transit
            .retain(|tr| tr.owner.is_some() || t < tr.issued_t + ORPHAN_MS);
    }

    /// One scheduling turn of process `i`: it takes the answers that are in, then
    /// polls its machine until it issues an operation, waits, or is served.
    fn turn(&mut self, i: usize, pace: Pace) -> Result<(), Violation> {
        if self.procs[i].paused_until > self.t {
            return Ok(());
        }
        self.procs[i].wait_until = None;
        let now = self.now(i);
        if self.procs[i].call.is_none() {
            // The providers' hot path first: a fresh token takes no lock.
            if let Some(token) = self.procs[i].cache.cached(now) {
                return self.check_served(i, &token);
            }
            let proc = &mut self.procs[i];
            proc.call = Some(proc.cache.call());
            proc.counted = false;
            proc.watched_t = None;
            proc.reads = 0;
        }
        self.deliver(i)?;
        for _ in 0..TURN_STEPS {
            let call = self.procs[i].call.as_mut().expect("a call is under way");
            let step = call.poll(now);
            trace!(self, "  p{i} poll: {step:?}");
            self.events(i)?;
            match step {
                Step::UseToken(grant) => {
                    self.waited(i)?;
                    self.procs[i].call = None;
                    self.procs[i].answers_refusal = false;
                    return self.check_grant(i, &grant);
                }
                Step::Send(transmit) => {
                    ensure!(
                        self.procs[i].request.is_none(),
                        "(d) process {i} sends a second request while one is out"
                    );
                    self.check_single_flight(i)?;
                    let mut request = Request {
                        id: transmit.id,
                        request: transmit.request,
                        sent_t: self.t,
                        answer: None,
                        ready_t: self.t,
                        hung: pace == Pace::Hang,
                        paused: false,
                    };
                    if matches!(pace, Pace::Now | Pace::Slow) {
                        request.answer = Some(self.serve(i, &request.request)?);
                    }
                    if pace == Pace::Slow {
                        request.ready_t = self.t + SLOW_MS;
                    }
                    self.procs[i].request = Some(request);
                    // The request runs beside what the machine does next (a lease
                    // extension falls due): poll on, as a driver does.
                    continue;
                }
                Step::Store(task) => {
                    ensure!(
                        self.procs[i].store_op.is_none(),
                        "(d) process {i} has two store operations out"
                    );
                    self.check_op(i, &task)?;
                    return self.issue(i, task, pace);
                }
                Step::Wait(until) => {
                    ensure!(
                        until > now
                            || self.procs[i].request.is_some()
                            || self.procs[i].store_op.is_some(),
                        "(d) process {i} told to wait until a past instant with nothing out"
                    );
                    self.procs[i].wait_until = Some(until);
                    return Ok(());
                }
                Step::Fail(e) => {
                    return Err(Violation(format!(
                        "(d) process {i}'s call failed though the server always answers: {e}"
                    )));
                }
            }
        }
        Err(Violation(format!(
            "(d) process {i}'s turn took {TURN_STEPS} polls without waiting or issuing an operation"
        )))
    }

    /// Feeds process `i`'s machine the answers that are in (the store or server acting
    /// now on what is not hung; a timeout for what ran past its limit).
    fn deliver(&mut self, i: usize) -> Result<(), Violation> {
        let t = self.t;
        let now = self.now(i);
        if let Some(request) = self.procs[i].request.take() {
            if t < request.ready_t {
                self.procs[i].request = Some(request);
                return self.deliver_store(i);
            }
            let timed_out = t >= request.sent_t + REQUEST_TIMEOUT_MS;
            let mut answer = request.answer.clone();
            if answer.is_none() && !request.hung && !timed_out {
                answer = Some(self.serve(i, &request.request)?);
            }
            let result = match answer {
                Some((access, refresh)) => Ok(answers::success(
                    &access,
                    &refresh,
                    self.server.life_s,
                    self.server.refresh_life_s,
                )),
                None if timed_out => {
                    self.fault();
                    Err(TransportError::timeout(Duration::from_millis(
                        REQUEST_TIMEOUT_MS,
                    )))
                }
                None => {
                    self.procs[i].request = Some(request);
                    return self.deliver_store(i);
                }
            };
            // A paused process takes its answer late: the session may have given the
            // renewal up meanwhile, and drops it (the next call renews again).
            let answered = result.is_ok() && !request.paused;
            let call = self.procs[i].call.as_mut().expect("a call is under way");
            call.handle_response(now, request.id, result);
            self.events_after_answer(i, answered)?;
        }
        self.deliver_store(i)
    }

    fn deliver_store(&mut self, i: usize) -> Result<(), Violation> {
        let t = self.t;
        let now = self.now(i);
        let Some((ticket, hung)) = self.procs[i].store_op else {
            return Ok(());
        };
        let k = self
            .transit
            .iter()
            .position(|tr| tr.ticket == ticket)
            .expect("an owned operation stays in transit");
        if self.transit[k].result.is_none() {
            if t > limit_t(&self.transit[k]) {
                // The caller gives up; the store may still act on it later.
                self.transit[k].owner = None;
                self.fault();
                let copy = self.transit[k].task.clone();
                self.store().time_out_next = true;
                let done = copy.run();
                self.procs[i].store_op = None;
                self.tally.store_errors += 1;
                return self.hand_store(i, now, done, None);
            }
            if hung {
                return Ok(());
            }
            self.act(k)?;
            if self.transit[k].result.is_none() {
                // A watch with nothing to say yet.
                return Ok(());
            }
        }
        let tr = self.transit.remove(k);
        self.procs[i].store_op = None;
        let done = tr.result.expect("acted");
        let read = tr.read_version.map(|v| (v, tr.acted_empties));
        self.hand_store(i, now, done, read)
    }

    fn hand_store(
        &mut self,
        i: usize,
        now: Instant,
        done: StoreDone,
        read: Option<(u64, u64)>,
    ) -> Result<(), Violation> {
        trace!(self, "  p{i} store answer: {done:?}");
        if read.is_some() {
            self.procs[i].last_read = read;
        }
        let call = self.procs[i].call.as_mut().expect("a call is under way");
        call.handle_store(now, done);
        self.events(i)
    }

    /// What the machine reports after an answer: a dropped answer is a violation.
    fn events_after_answer(&mut self, i: usize, answered: bool) -> Result<(), Violation> {
        let call = self.procs[i].call.as_mut().expect("a call is under way");
        let mut events = Vec::new();
        while let Some(e) = call.poll_event() {
            events.push(e);
        }
        for (_, handled) in events {
            ensure!(
                !(answered && matches!(handled, Handled::Stale)),
                "(d) process {i}'s answer came after the session timed its renewal out"
            );
            self.handled(i, handled)?;
        }
        Ok(())
    }

    /// What the machine reports: each renewal completed.
    fn events(&mut self, i: usize) -> Result<(), Violation> {
        let Some(call) = self.procs[i].call.as_mut() else {
            return Ok(());
        };
        let mut events = Vec::new();
        while let Some(e) = call.poll_event() {
            events.push(e);
        }
        for (_, handled) in events {
            self.handled(i, handled)?;
        }
        Ok(())
    }

    fn handled(&mut self, i: usize, handled: Handled) -> Result<(), Violation> {
        trace!(self, "  p{i} handled: {handled:?}");
        // A renewal ended (adopted, renewed, or failed): a wait on it is over. The
        // call may go on to another (an adopted token already due for renewal).
        self.waited(i)?;
        match handled {
            Handled::Adopted(pair) => {
                let token = pair.access_token.secret().to_owned();
                ensure!(
                    self.server.access.contains_key(&token),
                    "(b) process {i} adopts a token the server never issued"
                );
                self.procs[i].current = Some(pair.access_token);
                self.tally.adoptions += 1;
            }
            Handled::Renewed(pair) => {
                self.procs[i].current = Some(pair.access_token);
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks an operation the machine hands out: a write is a compare-and-set of the
    /// next version over what this process's last read found, of a renewal of its own.
    fn check_op(&mut self, i: usize, task: &StoreTask) -> Result<(), Violation> {
        let proc = &mut self.procs[i];
        match task.op() {
            StoreOp::Read => {
                if !proc.counted {
                    proc.counted = true;
                    self.tally.flights += 1;
                }
                if proc.watched_t.is_some() {
                    proc.reads += 1;
                    self.tally.waiter_reads = self.tally.waiter_reads.max(proc.reads);
                }
                proc.looked_t = self.t;
            }
            StoreOp::Lease { .. } => proc.looked_t = self.t,
            StoreOp::Watch { .. } if proc.watched_t.is_none() => {
                proc.watched_t = Some(self.t);
                proc.landed_before = self.tally.landed;
            }
            StoreOp::Write {
                expected, record, ..
            } => {
                let version = record.version;
                ensure!(
                    (version == expected + 1 && version <= MAX_VERSION)
                        || (*expected >= MAX_VERSION && version == 1),
                    "(c) a write of version {version} over {expected}"
                );
                let last = self.procs[i].last_read.map(|(v, _)| v);
                ensure!(
                    last == Some(*expected),
                    "(c) a write over version {expected}, but the last read found {last:?}"
                );
                let m = self.machines;
                let decoded = Record::decode(&m.name, version, &record.payload, m.key.as_ref())
                    .map_err(|e| Violation(format!("(c) a written record does not decode: {e}")))?;
                let token = decoded.pair.access_token.secret().to_owned();
                ensure!(
                    self.server.issued_to.get(&token) == Some(&i),
                    "(c) process {i} writes a token it did not renew"
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// (f) A waiter falls back on the store: while the lease is free, a process
    /// waiting on another's renewal reads the store or asks for the lease within a
    /// quiet spell plus [`WAKE_SLACK_MS`] of the latest of its first watch, the lease's
    /// end, its last look and the last fault's shadow ([`SHADOW_MS`]). And it is
    /// served as soon after the fleet's record lands: a lost wake-up costs one quiet
    /// spell, never the waiter's deadline. (While the lease is held, waiting on it is
    /// right: a waiter that took it after the landing, to read the record under it,
    /// is a holder the others wait on.) A call that answers an invalidation renews
    /// rather than adopt, and a record that turns stale before the waiter is due may
    /// be renewed: neither is held to the second part.
    fn check_waiters(&self) -> Result<(), Violation> {
        let (g, let_go_t) = {
            let s = self.store();
            if s.lease.is_some_and(|(_, end)| end > self.t) {
                return Ok(());
            }
            (s.generation.clone(), s.let_go_t)
        };
        let spell = self.quiet_ms + WAKE_SLACK_MS;
        let shadow_t = self.last_fault.map_or(0, |f| f + SHADOW_MS);
        let t = self.t;
        for (i, proc) in self.procs.iter().enumerate() {
            let Some(watched_t) = proc.watched_t.filter(|_| proc.call.is_some()) else {
                continue;
            };
            let start = watched_t.max(let_go_t).max(shadow_t);
            let looked_t = proc.looked_t.max(start);
            ensure!(
                t <= looked_t + spell,
                "(f) process {i} waits from {watched_t} ms, last looked at the store at {} ms, \
                 and at {t} ms still has not, though the lease was free from {let_go_t} ms and \
                 the last fault's shadow ended at {shadow_t} ms (due by {} ms)",
                proc.looked_t,
                looked_t + spell
            );
            let Some(g) = g.as_ref().filter(|_| !proc.answers_refusal) else {
                continue;
            };
            let due = start.max(g.landed_t) + spell;
            ensure!(
                t <= due || due >= g.refresh_t,
                "(f) process {i} waits from {watched_t} ms; the fleet's record landed at {} ms \
                 (fresh until {} ms), the lease was free from {let_go_t} ms, the last fault's \
                 shadow ended at {shadow_t} ms, and at {t} ms it is not served (due by {due} ms)",
                g.landed_t,
                g.refresh_t,
            );
        }
        Ok(())
    }

    /// (g) A renewal waited on makes at most [`WAITER_READS`] reads from its first
    /// watch on when the store wakes it, plus one per record landed meanwhile (a
    /// short-lived token's record may be due for renewal when read, and the waiter
    /// then waits on the next one) and, when wake-ups may be lost, one per quiet
    /// spell; unless a fault happened within [`SHADOW_MS`] of it. Then the wait is
    /// over.
    fn waited(&mut self, i: usize) -> Result<(), Violation> {
        let proc = &mut self.procs[i];
        let (Some(watched_t), reads) = (proc.watched_t.take(), std::mem::take(&mut proc.reads))
        else {
            return Ok(());
        };
        let spells = if self.wakes_kept {
            0
        } else {
            (self.t - watched_t) / self.quiet_ms + 1
        };
        let landings = self.tally.landed - proc.landed_before;
        let allowed = WAITER_READS + landings + spells as u32;
        ensure!(
            reads <= allowed
                || !self.can_watch
                || self.last_fault.is_some_and(|f| f + SHADOW_MS >= watched_t),
            "(g) process {i} read the store {reads} times while it waited from {watched_t} ms to {} ms \
             (at most {allowed}): a waiter woken by the store polls it",
            self.t
        );
        Ok(())
    }

    /// (e) One renewal at a time for the fleet: while one process's request is out,
    /// no other process sends one, unless a fault excuses it (a store that failed, a
    /// lease that vanished, a holder that crashed, paused or went away).
    fn check_single_flight(&self, i: usize) -> Result<(), Violation> {
        let excused = self.last_fault.is_some_and(|f| f + SHADOW_MS >= self.t);
        if let Some(j) = (0..self.procs.len()).find(|&j| j != i && self.procs[j].request.is_some())
            && !excused
            && !self.procs[i].answers_refusal
        {
            let sent = self.procs[j].request.as_ref().map_or(0, |r| r.sent_t);
            return Err(Violation(format!(
                "(e) process {i} sends at {} ms while process {j}'s request (sent at {sent} ms) is out, and no fault happened since {}",
                self.t,
                self.last_fault
                    .map_or_else(|| "the start".to_owned(), |f| format!("{f} ms")),
            )));
        }
        Ok(())
    }

    /// Hands a store operation to the store.
    fn issue(&mut self, i: usize, task: StoreTask, pace: Pace) -> Result<(), Violation> {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.transit.push(Transit {
            ticket,
            task,
            result: None,
            issued_t: self.t,
            acted_t: self.t,
            acted_empties: 0,
            read_version: None,
            owner: Some(i),
            base: self.procs[i].base,
        });
        self.procs[i].store_op = Some((ticket, pace == Pace::Hang));
        if pace == Pace::Now {
            self.act(self.transit.len() - 1)?;
        }
        Ok(())
    }

    /// The store acts on transit `k` now: the machine's task runs against it.
    fn act(&mut self, k: usize) -> Result<(), Violation> {
        let t = self.t;
        let is_read = matches!(self.transit[k].task.op(), StoreOp::Read);
        let (version, empties, answers) = {
            let mut s = self.store();
            s.t = t;
            // A watch cannot block: it is acted on once it can answer, and not before.
            if let Some((since_t, until_t)) = self.transit[k].watch_span() {
                if s.watch_ready_t(since_t, until_t) > t {
                    return Ok(());
                }
                s.watcher = Some((self.transit[k].base, since_t, until_t));
            }
            (s.version(), s.empties, s.up && !s.time_out_next)
        };
        let done = self.transit[k].task.clone().run();
        trace!(
            self,
            "  store acts on #{}: {done:?}", self.transit[k].ticket
        );
        let landed = self.store().landed.take();
        if let Some((stored, ttl, high)) = landed {
            let writer_empties = self.transit[k]
                .owner
                .and_then(|i| self.procs[i].last_read)
                .map(|(_, e)| e);
            self.land(&stored, ttl, high, writer_empties)?;
        }
        let tr = &mut self.transit[k];
        if is_read && answers {
            tr.read_version = Some(version);
        }
        tr.result = Some(done);
        tr.acted_t = t;
        tr.acted_empties = empties;
        Ok(())
    }

    /// A fleet write lands: check it, and make it the generation.
    fn land(
        &mut self,
        stored: &Stored,
        _ttl: Duration,
        high: u64,
        writer_empties: Option<u64>,
    ) -> Result<(), Violation> {
        let t = self.t;
        let version = stored.version;
        ensure!(
            version > high,
            "(c) version {version} landed after version {high}"
        );
        let m = self.machines;
        let record = Record::decode(&m.name, version, &stored.payload, m.key.as_ref())
            .map_err(|e| Violation(format!("(c) a landed record does not decode: {e}")))?;
        let token = record.pair.access_token.secret().to_owned();
        let Some(issued) = self.server.access.get(&token).copied() else {
            return Err(Violation(
                "(c) a landed record holds a token the server never issued".into(),
            ));
        };
        let trusted = self.machines.store_clock_trusted;
        let wall = self.machines.wall_ms;
        let (dated, empties, generation) = {
            let s = self.store();
            (
                // A store clock far off is replaced by the machines' own (true time).
                if trusted {
                    s.true_time(record.issued_at)
                } else {
                    let ms = record
                        .issued_at
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    ms.saturating_sub(wall)
                },
                s.empties,
                s.generation.clone(),
            )
        };
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
        if let Some(g) = &generation
            && writer_empties == Some(empties)
        {
            ensure!(
                issued.t >= g.issued_t,
                "(c) version {version} holds a token issued at {} ms over one issued at {} ms",
                issued.t,
                g.issued_t
            );
        }
        let margins = m.policy.margins(self.life);
        let lead = (margins.refresh_ahead + margins.refresh_jitter)
            .min(self.life - self.life / 2)
            .max(margins.min_validity);
        let lead_ms = lead.as_nanos().div_ceil(1_000_000) as u64;
        self.store().generation = Some(Generation {
            token,
            landed_t: t,
            refresh_t: (dated + self.life.as_millis() as u64).saturating_sub(lead_ms),
            issued_t: issued.t,
        });
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
        let (up, generation) = {
            let s = self.store();
            (s.up, s.generation.clone())
        };
        if let Some(g) = &generation
            && !self.procs[i].answers_refusal
            && up
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
        let pair = self.server.issue(t, i);
        trace!(self, "  server issues {} to p{i}", pair.0);
        Ok(pair)
    }

    fn orphan(&mut self, i: usize) {
        for tr in &mut self.transit {
            if tr.owner == Some(i) {
                tr.owner = None;
            }
        }
    }

    /// The caller goes away mid-call (a dropped future): the machine hands its renewal
    /// back, and the release it asks for runs in place, as a transport's `detach`.
    fn cancel(&mut self, i: usize) -> Result<(), Violation> {
        self.orphan(i);
        let proc = &mut self.procs[i];
        proc.request = None;
        proc.store_op = None;
        proc.wait_until = None;
        proc.watched_t = None;
        proc.reads = 0;
        let Some(mut call) = proc.call.take() else {
            return Ok(());
        };
        let release = call.abandon();
        drop(call);
        if let Some(task) = release {
            ensure!(
                matches!(task.op(), StoreOp::Release { .. }),
                "(c) a caller going away asks for {:?}",
                task.op()
            );
            self.store().t = self.t;
            let _ = task.run();
        }
        Ok(())
    }

    /// Someone outside the fleet writes a record.
    fn plant(&mut self, plant: &Plant) {
        let t = self.t;
        let m = self.machines;
        let (version, store_now) = {
            let s = self.store();
            (s.version() + 1, s.clock(t))
        };
        let pair = || {
            TokenPair::new(
                AccessToken::new("x.planted.token"),
                RefreshToken::new("x.planted.refresh"),
                self.life,
                Duration::from_secs(REFRESH_LIFE_S),
            )
        };
        let key = m.key.as_ref();
        let payload = match plant {
            Plant::Garbage(bytes) => bytes.clone(),
            Plant::OtherUser => {
                Record::new(pair(), store_now).encode(&self.other_name, version, key)
            }
            Plant::WrongKey => {
                Record::new(pair(), store_now).encode(&m.name, version, Some(&self.wrong_key))
            }
            Plant::Expired => {
                Record::new(pair(), store_now - Duration::from_secs(REFRESH_LIFE_S + 10))
                    .encode(&m.name, version, key)
            }
            // A year ahead: it stays ahead for the whole case. (One less than a minute
            // ahead is trusted by design, and one written with the key can say anything.)
            Plant::FromTheFuture => {
                Record::new(pair(), store_now + Duration::from_secs(365 * 86_400))
                    .encode(&m.name, version, key)
            }
            Plant::Replayed => self
                .last_landed
                .as_ref()
                .map_or_else(|| b"{}".to_vec(), |s| s.payload.clone()),
        };
        let untrusted = !matches!(plant, Plant::Replayed);
        let mut s = self.store();
        s.record = Some((Stored { version, payload }, t + 3_600_000));
        s.high = s.high.max(version);
        s.generation = None;
        drop(s);
        self.tally.untrusted += u32::from(untrusted);
        self.fault();
    }

    /// A token from the hot path must be a live token of the server's.
    fn check_served(&mut self, i: usize, token: &AccessToken) -> Result<(), Violation> {
        self.check_live(i, token.secret())?;
        self.procs[i].grants += 1;
        self.tally.grants += 1;
        Ok(())
    }

    fn check_live(&self, i: usize, token: &str) -> Result<u64, Violation> {
        let t = self.t;
        let Some(issued) = self.server.access.get(token) else {
            return Err(Violation(format!(
                "(b) process {i} hands out a token the server never issued"
            )));
        };
        ensure!(
            t < issued.dies_t,
            "(b) process {i} hands out {token} at {t} ms, dead since {} ms",
            issued.dies_t
        );
        ensure!(
            self.procs[i].refused.as_deref() != Some(token),
            "(b) process {i} hands out {token}, which it invalidated"
        );
        Ok(issued.dies_t)
    }

    /// A grant must be a live token of the server's, keeping its promise.
    fn check_grant(&mut self, i: usize, grant: &Grant) -> Result<(), Violation> {
        let token = grant.access_token.secret();
        let dies_t = self.check_live(i, token)?;
        let proc = &self.procs[i];
        let until = grant.valid_until.saturating_duration_since(proc.base);
        let margin = self.machines.policy.margins(self.life).min_validity;
        let promised = until + margin;
        ensure!(
            promised <= Duration::from_millis(dies_t),
            "(b) process {i} promises {token} valid until {} ms with {} ms to spare, but it dies at {dies_t} ms",
            until.as_millis(),
            margin.as_millis(),
        );
        self.procs[i].grants += 1;
        self.tally.grants += 1;
        Ok(())
    }
}

impl<'m> Proc<'m> {
    fn new(base: Instant, cache: &'m TokenCache) -> Self {
        Self {
            base,
            cache,
            call: None,
            request: None,
            store_op: None,
            current: None,
            refused: None,
            answers_refusal: false,
            grants: 0,
            wait_until: None,
            paused_until: 0,
            last_read: None,
            counted: false,
            watched_t: None,
            reads: 0,
            landed_before: 0,
            looked_t: 0,
        }
    }
}

/// When the caller of the operation in transit `tr` gives up (true time): a second
/// after it was issued, or for a watch, a second after its end.
fn limit_t(tr: &Transit) -> u64 {
    let end = tr.watch_span().map_or(tr.issued_t, |(_, until_t)| until_t);
    end.max(tr.issued_t) + OP_LIMIT_MS
}
