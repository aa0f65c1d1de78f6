//! A model of the store protocol across processes: 2 to 5 token caches, each run by
//! the real driver (`TokenCache::drive`) one I/O step at a time, share one simulated
//! store that fails, restarts empty, loses leases and writes and takes garbage, and
//! one simulated server that issues tokens of a lifetime chosen per case. Proptest
//! picks the interleaving; every step checks:
//!
//! (a) once the store holds a token, nobody asks the server again before that token's
//!     refresh point unless a fault happened lately (one issue per generation);
//! (b) every token a caller is handed is alive by the server's clock;
//! (c) a write lands only on the version it expects, as that version plus one, and
//!     the store's versions never go back (except when it restarts empty);
//! (d) no call fails, and after the faults stop every call ends with a token.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use smartling_auth_core::store::{
    Fetched, LeaseId, Record, RecordName, SealKey, SharedStore, Store, StoreDone, StoreError,
    StoreErrorKind, StoreTask, Stored,
};
use smartling_auth_core::*;

/// How long a process may still be backing off from a store failure (the store's
/// longest retry pause) plus a margin: a fault's effects end by then.
const FAULT_SHADOW_MS: u64 = 32_000;
const LEASE_TTL: Duration = Duration::from_secs(10);
const SEAL: [u8; 32] = [7; 32];

/// What the simulated store and server saw, and which property broke.
#[derive(Debug, Default)]
struct World {
    /// Simulated true time, in milliseconds since the case began.
    now_ms: u64,
    /// The last instant a fault was in effect (the store down, a lost write, ...).
    last_fault_ms: Option<u64>,
    /// Per process, the last instant it took a store answer older than the store's
    /// one-second limit: that process (only) acted on stale knowledge.
    late_answer_ms: HashMap<usize, u64>,
    violations: Vec<String>,
}

impl World {
    fn fault(&mut self) {
        self.last_fault_ms = Some(self.now_ms);
    }
    fn violate(&mut self, what: String) {
        self.violations.push(what);
    }
}

#[derive(Debug, Default)]
struct StoreState {
    up: bool,
    record: Option<Stored>,
    lease: Option<(LeaseId, u64)>,
    /// The highest version since the last empty restart.
    high: u64,
    reject_next: bool,
    lose_next: bool,
    /// Writes that landed: (version, payload), for the model to decode.
    landed: Vec<Stored>,
    /// The end of the running operation's time limit, when it acts late.
    op_deadline: Option<u64>,
}

/// The shared store: one record, a lease, compare-and-set writes, and faults.
#[derive(Debug)]
struct ModelStore {
    state: Mutex<StoreState>,
    world: Arc<Mutex<World>>,
    /// The store's own clock: its offset from the simulated true time.
    epoch: SystemTime,
    now_ms: Arc<AtomicU64>,
}

/// `STORE_MODEL_TRACE=1` prints every store operation and request, to read a failing
/// case (`-- --nocapture`).
fn trace(what: std::fmt::Arguments<'_>) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("STORE_MODEL_TRACE").is_some()) {
        eprintln!("{what}");
    }
}

impl ModelStore {
    fn now(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
    /// Fails an operation while the store is down or past the operation's time limit.
    fn gate(&self, s: &StoreState) -> Result<(), StoreError> {
        if !s.up {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "the model store is down",
            ));
        }
        if s.op_deadline.is_some_and(|d| self.now() > d) {
            self.world.lock().unwrap().fault();
            return Err(StoreError::new(StoreErrorKind::Timeout, "over 1 s"));
        }
        Ok(())
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.state.lock().unwrap()
    }
}

impl Store for ModelStore {
    fn read(&self, _: &RecordName) -> Result<Fetched, StoreError> {
        let s = self.lock();
        self.gate(&s)?;
        trace(format_args!(
            "{:>7} ms  read: version {:?}",
            self.now(),
            s.record.as_ref().map(|r| r.version)
        ));
        Ok(Fetched {
            record: s.record.clone(),
            now: self.epoch + Duration::from_millis(self.now()),
        })
    }

    fn lease(&self, _: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.now();
        let mut s = self.lock();
        self.gate(&s)?;
        trace(format_args!(
            "{now:>7} ms  lease for {}: held by {:?}",
            holder.0 % 1000,
            s.lease.map(|(h, until)| (h.0 % 1000, until))
        ));
        match s.lease {
            // A waiter never renews without the lease: it waits on a live one.
            Some((_, until)) if until > now => Ok(false),
            _ => {
                s.lease = Some((holder, now + ttl.as_millis() as u64));
                Ok(true)
            }
        }
    }

    fn extend(&self, _: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.now();
        let mut s = self.lock();
        self.gate(&s)?;
        trace(format_args!("{now:>7} ms  extend by {}", holder.0 % 1000));
        match &mut s.lease {
            Some((h, until)) if *h == holder && *until > now => {
                *until = now + ttl.as_millis() as u64;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn write(
        &self,
        _: &RecordName,
        expected: u64,
        record: &Stored,
        _: Duration,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        self.gate(&s)?;
        let current = s.record.as_ref().map_or(0, |r| r.version);
        trace(format_args!(
            "{:>7} ms  write {} over {expected} (holds {current})",
            self.now(),
            record.version
        ));
        let mut world = self.world.lock().unwrap();
        if record.version != expected + 1 {
            world.violate(format!(
                "(c) a write of version {} expects {expected}",
                record.version
            ));
        }
        if current != expected {
            return Ok(false);
        }
        if std::mem::take(&mut s.reject_next) {
            world.fault();
            return Ok(false);
        }
        if std::mem::take(&mut s.lose_next) {
            world.fault();
            return Ok(true);
        }
        if record.version <= s.high {
            world.violate(format!(
                "(c) version {} written after version {}",
                record.version, s.high
            ));
        }
        s.high = s.high.max(record.version);
        s.record = Some(record.clone());
        s.landed.push(record.clone());
        Ok(true)
    }

    fn release(&self, _: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        let mut s = self.lock();
        self.gate(&s)?;
        trace(format_args!(
            "{:>7} ms  release by {}",
            self.now(),
            holder.0 % 1000
        ));
        if s.lease.is_some_and(|(h, _)| h == holder) {
            s.lease = None;
        }
        Ok(())
    }
}

/// Every token the server issued: when, for how long, in issue order.
#[derive(Debug, Default)]
struct Server {
    lifetime_s: u64,
    issued: HashMap<String, (u64, u64)>,
    issues: u32,
    /// The generation the store holds: when its token landed, and its refresh point.
    generation: Option<(u64, u64)>,
}

impl Server {
    /// The earliest instant any process may renew a token issued at `at`: the rule
    /// `judge` and the session share (refresh-ahead plus the longest jitter, not
    /// before half life, and never inside the hard margin).
    fn refresh_point(&self, at: u64) -> u64 {
        let life = Duration::from_secs(self.lifetime_s);
        let m = Policy::default().margins(life);
        let lead = (m.refresh_ahead + m.refresh_jitter)
            .min(life - life / 2)
            .max(m.min_validity);
        at + (life - lead).as_millis() as u64
    }
}

/// One process's transport: its own monotonic clock, the shared server.
struct Proc {
    id: usize,
    base: Instant,
    sim: Rc<Cell<u64>>,
    server: Rc<RefCell<Server>>,
    world: Arc<Mutex<World>>,
    store_up: Arc<ModelStore>,
    late: bool,
}

impl Proc {
    fn clock(&self) -> Instant {
        self.base + Duration::from_millis(self.sim.get())
    }
}

/// Pending once, then ready: each I/O step costs one scheduling turn.
struct Once<T>(Option<T>, bool);

impl<T: Unpin> Future for Once<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        if !self.1 {
            self.1 = true;
            return Poll::Pending;
        }
        Poll::Ready(self.0.take().expect("polled after ready"))
    }
}

/// A store operation. Normally the store acts at once (its clock read when the
/// operation starts) and answers a turn later. A late one acts when its answer
/// arrives, its clock read at the end, and times out past the one-second limit every
/// store keeps.
struct StoreOp {
    job: Option<StoreTask>,
    answer: Option<StoreDone>,
    store: Arc<ModelStore>,
    started: u64,
    late: bool,
    polled: bool,
    /// The process that issued it.
    proc: usize,
}

impl Future for StoreOp {
    type Output = StoreDone;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<StoreDone> {
        if let Some(answer) = self.answer.take() {
            // Taken more than the store's one-second limit after it started: no real
            // store answers that late (its caller times out), so the old answer is a
            // fault of this process's, like the timeout a late operation gets. It
            // excuses an extra request by this process only.
            let now = self.store.now();
            if now > self.started + 1000 {
                let mut world = self.store.world.lock().unwrap();
                world.late_answer_ms.insert(self.proc, now);
            }
            return Poll::Ready(answer);
        }
        let job = self.job.take().expect("polled after ready");
        if !self.polled {
            self.polled = true;
            if self.late {
                self.job = Some(job);
            } else {
                self.answer = Some(job.run());
            }
            return Poll::Pending;
        }
        self.store.lock().op_deadline = Some(self.started + 1000);
        let answer = job.run();
        self.store.lock().op_deadline = None;
        Poll::Ready(answer)
    }
}

struct Until(Rc<Cell<u64>>, Instant, Instant);

impl Future for Until {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.1 + Duration::from_millis(self.0.get()) >= self.2 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Transport for Proc {
    fn send(
        &self,
        _: HttpRequest,
        _: Option<Duration>,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> {
        // The server issues when the request arrives; the answer comes a turn later.
        let now = self.sim.get();
        let mut server = self.server.borrow_mut();
        server.issues += 1;
        let n = server.issues;
        trace(format_args!(
            "{now:>7} ms  process {} sends: issue #{n}",
            self.id
        ));
        let life = server.lifetime_s;
        let mut world = self.world.lock().unwrap();
        if self.store_up.lock().up {
            // Only a store that is up can hold a generation.
        } else {
            world.fault();
        }
        if let Some((landed, refresh)) = server.generation
            && (landed..refresh).contains(&now)
            && world
                .last_fault_ms
                .is_none_or(|f| f + FAULT_SHADOW_MS < landed)
            && world
                .late_answer_ms
                .get(&self.id)
                .is_none_or(|f| f + FAULT_SHADOW_MS < landed)
        {
            world.violate(format!(
                "(a) issue #{n} at {now} ms inside the generation that landed at {landed} ms (refresh point {refresh} ms), with no fault"
            ));
        }
        server
            .issued
            .insert(format!("a{n}.b.c"), (now, now + life * 1000));
        let body = format!(
            r#"{{"response":{{"code":"SUCCESS","data":{{"accessToken":"a{n}.b.c","refreshToken":"r{n}.s.t","expiresIn":{life},"refreshExpiresIn":3660}}}}}}"#
        );
        Once(
            Some(Ok(http::Response::builder()
                .status(200)
                .body(body.into())
                .unwrap())),
            false,
        )
    }

    fn wait(&self, until: Instant, _: EventListener) -> impl Future<Output = ()> {
        Until(self.sim.clone(), self.base, until)
    }

    fn now(&self) -> Instant {
        self.clock()
    }

    fn offload(&self, job: StoreTask) -> impl Future<Output = StoreDone> + Send {
        StoreOp {
            job: Some(job),
            answer: None,
            store: self.store_up.clone(),
            started: self.sim.get(),
            late: self.late,
            polled: false,
            proc: self.id,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Step(usize),
    Advance(u64),
    Down,
    Up,
    RestartEmpty,
    ExpireLeases,
    RejectWrite,
    LoseWrite,
    Garbage(Vec<u8>),
}

fn op(faults: bool) -> impl Strategy<Value = Op> {
    let plain = prop_oneof![
        10 => (0usize..5).prop_map(Op::Step),
        6 => (0u64..=2000).prop_map(Op::Advance),
    ];
    if !faults {
        return plain.boxed();
    }
    prop_oneof![
        16 => plain,
        1 => Just(Op::Down),
        2 => Just(Op::Up),
        1 => Just(Op::RestartEmpty),
        1 => Just(Op::ExpireLeases),
        1 => Just(Op::RejectWrite),
        1 => Just(Op::LoseWrite),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Garbage),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Case {
    procs: usize,
    lifetime_s: u64,
    offsets_s: Vec<u64>,
    store_skew_s: u64,
    /// Store operations read the store's clock at their end, not their start.
    late: bool,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        2usize..=5,
        // Half the cases short-lived, so that cases cross several refresh points.
        prop_oneof![3u64..=20, 3u64..=480],
        proptest::collection::vec(0u64..100_000, 5),
        0u64..10_000_000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(
            |(procs, lifetime_s, offsets_s, store_skew_s, faults, late)| {
                proptest::collection::vec(op(faults), 1..250).prop_map(move |ops| Case {
                    procs,
                    lifetime_s,
                    offsets_s: offsets_s.clone(),
                    store_skew_s,
                    late,
                    ops,
                })
            },
        )
}

type Drive<'a> = Pin<Box<dyn Future<Output = Result<Grant, Error>> + 'a>>;

/// What a case did, for the report.
#[derive(Debug, Default)]
struct Tally {
    grants: u32,
    issues: u32,
}

/// Runs one case and returns what broke (nothing, if every property held).
fn run(case: &Case) -> Result<Tally, String> {
    let world = Arc::new(Mutex::new(World::default()));
    let now_ms = Arc::new(AtomicU64::new(0));
    let store = Arc::new(ModelStore {
        state: Mutex::new(StoreState {
            up: true,
            ..Default::default()
        }),
        world: world.clone(),
        epoch: UNIX_EPOCH + Duration::from_secs(1_700_000_000 + case.store_skew_s),
        now_ms: now_ms.clone(),
    });
    let server = Rc::new(RefCell::new(Server {
        lifetime_s: case.lifetime_s,
        ..Default::default()
    }));
    let sim = Rc::new(Cell::new(0u64));
    let start = Instant::now();
    let base = BaseUrl::default();
    let mut policy = Policy::default();
    policy.request_timeout = LEASE_TTL;
    let key = || Some(SealKey::from_bytes(SEAL));
    let name = RecordName::new(&base, "user", key().as_ref());
    let caches: Vec<TokenCache> = (0..case.procs)
        .map(|_| {
            let shared =
                SharedStore::for_user(store.clone(), &base, "user", key(), &policy).unwrap();
            TokenCache::new(
                Session::new(base.clone(), policy.clone())
                    .with_credentials(Credentials::new("user", "secret")),
            )
            .with_store(shared)
        })
        .collect();
    let procs: Vec<Proc> = (0..case.procs)
        .map(|i| Proc {
            id: i,
            base: start + Duration::from_secs(case.offsets_s[i]),
            sim: sim.clone(),
            server: server.clone(),
            world: world.clone(),
            store_up: store.clone(),
            late: case.late,
        })
        .collect();
    let mut drives: Vec<Option<Drive<'_>>> = (0..case.procs).map(|_| None).collect();
    let mut tally = Tally::default();
    let mut cx = Context::from_waker(Waker::noop());

    // One scheduling turn of process `i`: start a call if it has none, poll it once.
    let mut turn = |i: usize| -> Result<bool, String> {
        let drive =
            drives[i].get_or_insert_with(|| Box::pin(caches[i].drive(&procs[i], None, |_, _| {})));
        let Poll::Ready(out) = drive.as_mut().poll(&mut cx) else {
            return Ok(false);
        };
        drives[i] = None;
        let grant = out.map_err(|e| format!("(d) process {i}'s call failed: {e}"))?;
        let now = sim.get();
        match server.borrow().issued.get(grant.access_token.secret()) {
            Some(&(_, dies)) if dies > now => {}
            Some(&(_, dies)) => {
                return Err(format!(
                    "(b) process {i} was handed a token dead at {dies} ms, at {now} ms"
                ));
            }
            None => return Err(format!("(b) process {i} was handed a token never issued")),
        }
        tally.grants += 1;
        Ok(true)
    };

    // After each step: record landed writes as the store's generation, expire leases.
    let settle = |world: &Arc<Mutex<World>>| -> Result<(), String> {
        let now = sim.get();
        let mut s = store.lock();
        let mut w = world.lock().unwrap();
        w.now_ms = now;
        if !s.up {
            w.fault();
        }
        if let Some((_, until)) = s.lease
            && until <= now
        {
            // A holder that never released within its lease: as if it died.
            s.lease = None;
            w.fault();
        }
        for landed in s.landed.drain(..) {
            let record = Record::decode(&name, landed.version, &landed.payload, key().as_ref())
                .map_err(|e| format!("a landed record does not decode: {e}"))?;
            let mut server = server.borrow_mut();
            let &(issued, _) = server
                .issued
                .get(record.pair.access_token.secret())
                .ok_or("a landed record holds a token never issued")?;
            // The record's own date, on the store's clock: never after the server
            // issued (readers would think the token lives longer than it does), and
            // early by at most the writer's read (the store reads its clock somewhere
            // inside it), so the fleet's refresh point is the record's.
            let dated = record
                .issued_at
                .duration_since(store.epoch)
                .map_err(|_| "a record dated before the case began")?
                .as_millis() as u64;
            if dated > issued {
                return Err(format!(
                    "(b) a record dates its token at {dated} ms, issued at {issued} ms"
                ));
            }
            let refresh = server.refresh_point(dated);
            server.generation = Some((now, refresh));
        }
        match w.violations.first() {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    };

    for op in &case.ops {
        match op {
            Op::Step(i) => {
                trace(format_args!(
                    "{:>7} ms process {} steps",
                    sim.get(),
                    i % case.procs
                ));
                turn(*i % case.procs)?;
            }
            Op::Advance(ms) => {
                sim.set(sim.get() + ms);
                now_ms.store(sim.get(), Ordering::SeqCst);
            }
            fault => {
                let mut s = store.lock();
                world.lock().unwrap().fault();
                match fault {
                    Op::Down => s.up = false,
                    Op::Up => s.up = true,
                    Op::RestartEmpty => {
                        *s = StoreState {
                            up: true,
                            ..Default::default()
                        }
                    }
                    Op::ExpireLeases => s.lease = None,
                    Op::RejectWrite => s.reject_next = true,
                    Op::LoseWrite => s.lose_next = true,
                    Op::Garbage(bytes) => {
                        let version = s.record.as_ref().map_or(0, |r| r.version) + 1;
                        s.high = s.high.max(version);
                        s.record = Some(Stored {
                            version,
                            payload: bytes.clone(),
                        });
                    }
                    Op::Step(_) | Op::Advance(_) => unreachable!(),
                }
            }
        }
        settle(&world)?;
    }

    // The store comes back for good: every process's call ends with a token, within a
    // bounded number of turns.
    store.lock().up = true;
    let mut done = vec![false; case.procs];
    for _ in 0..400 {
        for (i, served) in done.iter_mut().enumerate() {
            if !*served && turn(i)? {
                *served = true;
            }
        }
        settle(&world)?;
        if done.iter().all(|d| *d) {
            break;
        }
        sim.set(sim.get() + 250);
        now_ms.store(sim.get(), Ordering::SeqCst);
    }
    if let Some(i) = done.iter().position(|d| !d) {
        return Err(format!("(d) process {i} was never served"));
    }
    tally.issues = server.borrow().issues;
    Ok(tally)
}

proptest! {
    // 256 cases unless PROPTEST_CASES asks for a longer search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_fleet_keeps_the_protocol(case in case()) {
        if let Err(e) = run(&case) {
            prop_assert!(false, "{e}");
        }
    }
}

#[test]
fn without_faults_two_processes_make_one_issue() {
    let case = Case {
        procs: 2,
        lifetime_s: 480,
        offsets_s: vec![0, 50, 0, 0, 0],
        store_skew_s: 7,
        late: false,
        ops: (0..20).map(|i| Op::Step(i % 2)).collect(),
    };
    let tally = run(&case).unwrap();
    assert_eq!(tally.issues, 1);
    assert!(tally.grants >= 2, "{tally:?}");
}
