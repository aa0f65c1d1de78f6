//! Fleet drills: the faults a fleet meets, run on real processes with the settings a
//! user gets. Each drill starts fleet members (a command that asks for one token,
//! prints it and exits: after `drill-token=` on a line of its stdout, or as its last
//! line), breaks something, and checks what the emulator and the members saw. The transports' and the command line's tests
//! supply the members; the drills are the same for all of them.
//!
//! The login is slowed by the emulator ([`Fault::DelayHeaders`]), never by a shorter
//! setting of the client: these drills exist because a fault test that shortened the
//! timeouts once hid the bug users met.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use smartling_auth_core::AccessToken;
use smartling_auth_core::store::{
    Fetched, LEASE_TTL, LeaseId, RecordName, Store, StoreError, Stored, Timings, Watched,
};
use smartling_auth_emulator::{Emulator, Endpoint, Fault};

use crate::emulator::{emulator, whoami};
#[cfg(feature = "redis")]
use crate::redis::RedisServer;

/// How many members wait on the holder in each drill.
pub const WAITERS: usize = 20;
/// Scheduling slack on a small, loaded machine (20 processes starting on 2 cores),
/// added to every bound on when a member is served.
const SLACK: Duration = Duration::from_secs(3);
/// A safety net against a hung member, far above every bound the drills assert.
const HANG_GUARD: Duration = Duration::from_secs(150);

/// A started member and what it printed.
struct Member {
    child: Child,
    started: Instant,
}

/// What a member ended with.
#[derive(Debug)]
struct Ended {
    ok: bool,
    /// When it exited.
    at: Instant,
    token: String,
    /// The reads of its store it reported, if it counted them.
    reads: Option<u64>,
    stderr: String,
}

impl Member {
    fn start(mut cmd: Command) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("a fleet member starts");
        Self {
            child,
            started: Instant::now(),
        }
    }

    /// Waits for it to exit (bounded by the hang guard) and reads what it printed.
    fn end(mut self) -> Ended {
        let deadline = self.started + HANG_GUARD;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the member is waited on") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("a fleet member hung past {HANG_GUARD:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let at = Instant::now();
        let mut out = String::new();
        let mut err = String::new();
        let _ = self.child.stdout.take().unwrap().read_to_string(&mut out);
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        Ended {
            ok: status.success(),
            at,
            token: token_in(&out),
            reads: out.lines().find_map(|l| {
                l[l.find("drill-reads=")? + "drill-reads=".len()..]
                    .trim()
                    .parse()
                    .ok()
            }),
            stderr: err,
        }
    }

    fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} reached the member");
    }
}

/// The token a member printed: after `drill-token=` (a test binary re-run as a member
/// prints libtest's lines too), or its last line (the command line's `token`).
fn token_in(out: &str) -> String {
    let marked = out
        .lines()
        .find_map(|l| Some(l[l.find("drill-token=")? + "drill-token=".len()..].to_owned()));
    marked
        .or_else(|| out.lines().last().map(str::to_owned))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// How many slowed logins the drill injects: far more than any drill sends.
const SLOWED: u64 = 1_000;

/// Logins that reached the server, answered or not (each took one injected delay):
/// a killed holder's login counts too.
fn logins(emu: &Emulator) -> u64 {
    SLOWED - emu.pending_faults(Endpoint::Authenticate)
}

/// Slows every login to `login`.
fn slow_logins(emu: &Emulator, login: Duration) {
    emu.inject(Endpoint::Authenticate, Fault::DelayHeaders(login), SLOWED);
}

/// Waits until the first login has reached the server (and so its sender holds the
/// lease), bounded.
fn until_a_login_arrives(emu: &Emulator) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while logins(emu) == 0 {
        assert!(Instant::now() < deadline, "the holder never sent its login");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A holder whose login (slowed to `login`) has reached the server, and the waiters
/// started behind it.
fn holder_and_waiters(
    emu: &Emulator,
    login: Duration,
    member: impl Fn() -> Command,
) -> (Member, Vec<Member>) {
    slow_logins(emu, login);
    let holder = Member::start(member());
    until_a_login_arrives(emu);
    let waiters = (0..WAITERS).map(|_| Member::start(member())).collect();
    (holder, waiters)
}

/// The members' ends, each checked (served, with a token the server takes), and the
/// report: the logins, and the slowest member's time from `since`.
fn served(emu: &Emulator, members: Vec<Member>, since: Instant) -> (Vec<Ended>, Report) {
    let ended: Vec<Ended> = members.into_iter().map(Member::end).collect();
    assert_served(emu, &ended);
    let slowest = ended
        .iter()
        .map(|e| e.at.saturating_duration_since(since))
        .max()
        .unwrap_or_default();
    let report = Report {
        logins: logins(emu),
        slowest,
        most_reads: ended.iter().filter_map(|e| e.reads).max(),
    };
    (ended, report)
}

/// Every member served, with a token the server still takes.
fn assert_served(emu: &Emulator, ended: &[Ended]) {
    for (i, e) in ended.iter().enumerate() {
        assert!(e.ok, "member {i} failed: {}", e.stderr);
        assert_eq!(
            whoami(emu, &AccessToken::new(e.token.as_str())),
            200,
            "member {i} was handed a token the server refuses; it said: {}",
            e.stderr
        );
    }
}

/// What a drill saw, for the test to print or check further.
#[derive(Debug)]
pub struct Report {
    /// Logins that reached the server, answered or not.
    pub logins: u64,
    /// The slowest member's time from the fault (the kill, the pause's start, the
    /// start) to its token.
    pub slowest: Duration,
    /// The most reads of its store one member made, when members count them
    /// ([`Counted`]).
    pub most_reads: Option<u64>,
}

/// **Holder killed.** The lease holder is SIGKILLed during a login that takes
/// `login`, with [`WAITERS`] members waiting on it. At most 2 logins, every waiter
/// served with a live token, each within the lease's time to live plus one login
/// after the kill.
///
/// `member` makes the command of one member (with the store and the defaults it is
/// testing).
pub fn holder_killed(emu: &Emulator, login: Duration, member: impl Fn() -> Command) -> Report {
    let (mut holder, waiters) = holder_and_waiters(emu, login, member);
    // Long enough for the waiters to start and find the lease taken.
    std::thread::sleep(Duration::from_secs(1));
    holder.child.kill().expect("the holder is killed");
    let killed = Instant::now();
    let _ = holder.child.wait();
    let (_, report) = served(emu, waiters, killed);
    assert!(
        report.logins <= 2,
        "{report:?}: a killed holder sent the waiters to the server"
    );
    assert!(
        report.slowest <= LEASE_TTL + login + SLACK,
        "{report:?}: served later than the lease's time to live plus one login"
    );
    report
}

/// **Holder paused.** The lease holder is SIGSTOPped for twice the lease's time to
/// live during a login that takes `login`, then SIGCONTed. At most 2 logins, and every
/// member (the holder too) served with a live token. The caller checks that the
/// holder's late write replaced nothing newer (the store's version).
pub fn holder_paused(emu: &Emulator, login: Duration, member: impl Fn() -> Command) -> Report {
    let (holder, mut members) = holder_and_waiters(emu, login, member);
    holder.signal("-STOP");
    let paused = Instant::now();
    std::thread::sleep(LEASE_TTL * 2);
    holder.signal("-CONT");
    members.push(holder);
    let (_, report) = served(emu, members, paused);
    assert!(
        report.logins <= 2,
        "{report:?}: a paused holder sent the waiters to the server"
    );
    report
}

/// **Slow server.** Every login takes `login` (20 s in the drills), with [`WAITERS`]
/// members starting together: exactly one login, and every member served when it
/// lands, with the same token.
pub fn slow_server(emu: &Emulator, login: Duration, member: impl Fn() -> Command) -> Report {
    slow_logins(emu, login);
    let start = Instant::now();
    let members: Vec<Member> = (0..WAITERS).map(|_| Member::start(member())).collect();
    let (ended, report) = served(emu, members, start);
    assert_eq!(
        report.logins, 1,
        "{report:?}: the slow server was stampeded"
    );
    assert!(
        ended.iter().all(|e| e.token == ended[0].token),
        "one login, one token for all"
    );
    assert!(
        report.slowest <= login + SLACK,
        "{report:?}: not every member was served when the login landed"
    );
    report
}

/// **Lost wake-ups.** As [`slow_server`], over a store whose wake-ups never arrive:
/// exactly one login, and every member served within one quiet wait
/// ([`Timings::quiet`]) after the login lands, never held to its deadline.
pub fn lost_wakeups(emu: &Emulator, login: Duration, member: impl Fn() -> Command) -> Report {
    slow_logins(emu, login);
    let start = Instant::now();
    let members: Vec<Member> = (0..WAITERS).map(|_| Member::start(member())).collect();
    let (_, report) = served(emu, members, start);
    assert_eq!(report.logins, 1, "{report:?}: one login");
    assert!(
        report.slowest <= login + Timings::default().quiet() + SLACK,
        "{report:?}: a lost wake-up cost more than one quiet wait"
    );
    report
}

/// Which drill: see [`holder_killed`], [`holder_paused`] and [`slow_server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drill {
    /// [`holder_killed`], with a 3 s login.
    HolderKilled,
    /// [`holder_paused`], with a 3 s login.
    HolderPaused,
    /// [`slow_server`], with a 20 s login.
    SlowServer,
    /// [`slow_server`] with a 3 s login: a fleet starting cold.
    ColdStart,
    /// [`lost_wakeups`], with a 3 s login (the store must drop its wake-ups).
    LostWakeups,
}

impl Drill {
    /// Runs the drill against `emu`, with members from `member`.
    pub fn run(self, emu: &Emulator, member: impl Fn() -> Command) -> Report {
        match self {
            Drill::HolderKilled => holder_killed(emu, Duration::from_secs(3), member),
            Drill::HolderPaused => holder_paused(emu, Duration::from_secs(3), member),
            Drill::SlowServer => slow_server(emu, Duration::from_secs(20), member),
            Drill::ColdStart => slow_server(emu, Duration::from_secs(3), member),
            Drill::LostWakeups => lost_wakeups(emu, Duration::from_secs(3), member),
        }
    }
}

/// The most store commands per member a renewal may cost a fleet (the holder's
/// included, connection set-up too): a waiter is woken, it does not poll.
pub const COMMANDS_PER_MEMBER: f64 = 10.0;

/// Runs `drill` over `redis` and counts the commands Redis ran for it (`INFO
/// commandstats`): the report, the commands per member, and the counts by command.
#[cfg(feature = "redis")]
pub fn counting_commands(
    redis: &RedisServer,
    drill: Drill,
    run: impl FnOnce() -> Report,
) -> (Report, f64, std::collections::BTreeMap<String, u64>) {
    redis.reset_stats();
    let report = run();
    let commands = redis.commands();
    let members = match drill {
        Drill::HolderKilled | Drill::HolderPaused => WAITERS + 1,
        Drill::SlowServer | Drill::ColdStart | Drill::LostWakeups => WAITERS,
    };
    let per_member = commands.values().sum::<u64>() as f64 / members as f64;
    (report, per_member, commands)
}

/// A store that counts the reads made of it, for a member to report
/// ([`report_reads`](Self::report_reads)).
///
/// ```
/// use smartling_auth_core::store::{MemoryStore, RecordName, Store};
/// let store = smartling_auth_testkit::drills::Counted::new(MemoryStore::new());
/// store.read(&RecordName::new(&Default::default(), "u", None)).unwrap();
/// assert_eq!(store.reads(), 1);
/// ```
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    reads: AtomicU64,
}

impl<S: Store> Counted<S> {
    /// Counts the reads of `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            reads: AtomicU64::new(0),
        }
    }

    /// The reads so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Prints them for the drill (`drill-reads=`).
    pub fn report_reads(&self) {
        println!("drill-reads={}", self.reads());
    }
}

impl<S: Store> Store for Counted<S> {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read(name)
    }
    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.lease(name, holder, ttl)
    }
    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.extend(name, holder, ttl)
    }
    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.write(name, expected, record, ttl)
    }
    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        self.inner.release(name, holder)
    }
    fn watch(
        &self,
        name: &RecordName,
        since: Instant,
        until: Instant,
    ) -> Result<Watched, StoreError> {
        self.inner.watch(name, since, until)
    }
    fn needs_sealing(&self) -> bool {
        self.inner.needs_sealing()
    }
}

/// The environment variables that make a re-run test binary a fleet member.
const MEMBER_BASE: &str = "DRILL_BASE";
const MEMBER_STORE: &str = "DRILL_STORE";

/// The running test binary again, as a fleet member: its `child_drill_member` test,
/// told the emulator's base URL and the store (a Redis URL, or `file:<dir>`).
fn rerun_as_member(base: &str, store: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args([
        "--exact",
        "child_drill_member",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(MEMBER_BASE, base)
    .env(MEMBER_STORE, store);
    cmd
}

/// In a `child_drill_member` test: the base URL and the store this process was
/// started with as a fleet member, or `None` when the test runs on its own (it then
/// does nothing).
pub fn member_env() -> Option<(String, String)> {
    Some((
        std::env::var(MEMBER_BASE).ok()?,
        std::env::var(MEMBER_STORE).ok()?,
    ))
}

/// What a member prints for the drill: its token, marked.
pub fn report_token(token: &AccessToken) {
    println!("drill-token={}", token.secret());
}

/// Every drill a provider runs, one after the other (each starts 20 or 21 processes,
/// and its bounds are about when they are served): the five over Redis, with the
/// commands each costs per member (at most [`COMMANDS_PER_MEMBER`] for a healthy
/// fleet's renewal), and a killed holder and a cold start over files, with the reads
/// each member makes (a few at most). Prints each report under `label`.
#[cfg(feature = "redis")]
pub fn all(label: &str) {
    for drill in [
        Drill::HolderKilled,
        Drill::HolderPaused,
        Drill::SlowServer,
        Drill::ColdStart,
        Drill::LostWakeups,
    ] {
        let (report, per_member, commands) = over_redis(drill);
        println!(
            "{label}, {drill:?} over Redis: {report:?}, {per_member:.1} commands per member: {commands:?}"
        );
        if matches!(drill, Drill::SlowServer | Drill::ColdStart) {
            assert!(
                per_member <= COMMANDS_PER_MEMBER,
                "{drill:?}: {per_member:.1} Redis commands per member: {commands:?}"
            );
        }
    }
    for drill in [Drill::HolderKilled, Drill::ColdStart] {
        let report = over_files(drill);
        println!("{label}, {drill:?} over files: {report:?}");
        if drill == Drill::ColdStart {
            let reads = report.most_reads.expect("members count their reads");
            assert!(
                reads <= 3,
                "{report:?}: a waiter read the files {reads} times"
            );
        }
    }
}

/// Runs `drill` with members that re-run this test binary (its `child_drill_member`
/// test, see [`member_env`]) over a Redis server of its own, and checks afterwards
/// that a paused holder's late write replaced nothing: the store holds version 1.
/// With [`Drill::LostWakeups`], the server drops every publish. Also returns the
/// commands per member and by name ([`counting_commands`]).
#[cfg(feature = "redis")]
pub fn over_redis(drill: Drill) -> (Report, f64, std::collections::BTreeMap<String, u64>) {
    let redis = if drill == Drill::LostWakeups {
        RedisServer::start_without_publish()
    } else {
        RedisServer::start()
    };
    let emu = emulator();
    let counted = counting_commands(&redis, drill, || {
        drill.run(&emu, || rerun_as_member(&emu.base_url(), &redis.url()))
    });
    if drill == Drill::HolderPaused {
        // The waiter that took over wrote version 1; the holder's late write (over
        // version 0) was refused.
        assert_eq!(redis.record_versions(), [1]);
    }
    counted
}

/// Runs `drill` with members that re-run this test binary over a file store in a
/// directory of its own.
pub fn over_files(drill: Drill) -> Report {
    let dir = std::env::temp_dir().join(format!(
        "smartling-drill-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    ));
    let store = format!("file:{}", dir.join("tokens").display());
    let emu = emulator();
    let report = drill.run(&emu, || rerun_as_member(&emu.base_url(), &store));
    let _ = std::fs::remove_dir_all(&dir);
    report
}
