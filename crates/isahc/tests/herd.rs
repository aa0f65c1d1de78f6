//! Herds of processes sharing one token store against one emulator: a cold start makes
//! one login, and each later expiry one renewal, for the whole herd. Each worker is
//! this test binary, re-run as a child with the `child_herd_worker` role.
//!
//! The parent drives the herd in phases over the workers' stdin: on `go` every thread
//! of every worker asks for tokens at once, then the worker reports its counts; between
//! phases the parent waits out the token's lifetime, so each phase after the first
//! meets an expired token. Counts are asserted after every phase, never durations.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smartling_auth_emulator::{Emulator, Endpoint};
use smartling_auth_isahc::{BaseUrl, Credentials, FileStore, Handled, Policy, TokenProvider};
use smartling_auth_testkit::emulator::{SECRET, USER, start};
use smartling_auth_testkit::policy::quick_retry;

const ROLE: &str = "HERD_WORKER";
/// Calls per thread per phase: the first may renew or adopt, the second is a local hit.
const CALLS: u64 = 2;
/// The tokens' lifetime; the parent sleeps this long (and a little) between phases.
const LIFE: Duration = Duration::from_secs(4);
/// The most a phase (one burst of every thread) may take before the test fails.
const PHASE_LIMIT: Duration = Duration::from_secs(90);

/// One worker process: its stdin (phases), its stdout lines, its whole stderr.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    out: Vec<String>,
    err: Option<JoinHandle<String>>,
}

/// What a worker reported for one phase.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    served: u64,
    failed: u64,
    renewed: u64,
    adopted: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Self) {
        self.served += o.served;
        self.failed += o.failed;
        self.renewed += o.renewed;
        self.adopted += o.adopted;
    }
}

impl Worker {
    fn spawn(base: &str, store: &str, threads: usize, timeout: Duration) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_herd_worker",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(ROLE, "1")
            .env("HERD_BASE", base)
            .env("HERD_STORE", store)
            .env("HERD_THREADS", threads.to_string())
            .env("HERD_TIMEOUT_MS", timeout.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("a worker starts");
        // Both pipes are drained as they fill, so a chatty worker never blocks.
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut w = Worker {
            stdin: child.stdin.take(),
            child,
            lines,
            out: Vec::new(),
            err: Some(err),
        };
        w.expect_line("herd-ready", Duration::from_secs(60));
        w
    }

    /// The rest of the next stdout line holding `prefix` (bounded); earlier lines are kept.
    fn expect_line(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.out.push(line.clone());
                    // libtest may have printed the test's name on the same line.
                    if let Some(at) = line.find(prefix) {
                        return line[at + prefix.len()..].to_owned();
                    }
                }
                Err(_) => panic!(
                    "no `{prefix}` line from a worker within {limit:?}; it said: {:?}",
                    self.out
                ),
            }
        }
    }

    fn go(&mut self) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }

    fn tally(&mut self) -> Tally {
        let done = self.expect_line("herd-done ", PHASE_LIMIT);
        let field = |k: &str| -> u64 {
            done.split(' ')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {done:?}"))
        };
        Tally {
            served: field("served"),
            failed: field("failed"),
            renewed: field("renewed"),
            adopted: field("adopted"),
        }
    }

    /// Closes stdin (the worker's cue to exit), waits for it (bounded) and returns
    /// everything it wrote, stdout and stderr.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "a worker did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = self.err.take().unwrap().join().unwrap();
        let out: Vec<String> = self.lines.try_iter().collect();
        self.out.extend(out);
        let all = format!("{}\n{err}", self.out.join("\n"));
        assert!(status.success(), "a worker failed: {all}");
        all
    }
}

impl Drop for Worker {
    /// A failing test leaves no worker behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one phase on every worker at once and sums what they report.
fn phase(workers: &mut [Worker]) -> Tally {
    for w in workers.iter_mut() {
        w.go();
    }
    let mut sum = Tally::default();
    for w in workers.iter_mut() {
        sum += w.tally();
    }
    sum
}

fn renewals(emu: &Emulator) -> (u64, u64) {
    let c = emu.counters();
    (c.total(Endpoint::Authenticate), c.total(Endpoint::Refresh))
}

fn emulator(life: Duration) -> Emulator {
    start(
        Emulator::builder()
            .access_ttl(life)
            .refresh_ttl(Duration::from_secs(300))
            .workers(4),
    )
}

/// Waits out the token's lifetime: the next phase meets an expired token everywhere.
fn expire() {
    std::thread::sleep(LIFE + Duration::from_millis(300));
}

/// A herd of `processes` x `threads`: one login for the cold start, then, for each of
/// `expiries` expiries, exactly one refresh. Returns everything the workers wrote.
fn herd(store: &str, processes: usize, threads: usize, expiries: u64) -> (Emulator, String) {
    let emu = emulator(LIFE);
    let base = emu.base_url();
    let mut workers: Vec<_> = (0..processes)
        .map(|_| Worker::spawn(&base, store, threads, Duration::from_secs(3)))
        .collect();
    let calls = (processes * threads) as u64 * CALLS;
    let cold = phase(&mut workers);
    assert_eq!(cold.failed, 0, "{cold:?}");
    assert_eq!(cold.served, calls);
    assert_eq!(renewals(&emu), (1, 0), "one login for the whole herd");
    assert_eq!(cold.renewed, 1, "{cold:?}");
    for n in 1..=expiries {
        expire();
        let t = phase(&mut workers);
        assert_eq!(t.failed, 0, "{t:?}");
        assert_eq!(t.served, calls);
        assert_eq!(renewals(&emu), (1, n), "one refresh per expiry, after {n}");
        assert_eq!(t.renewed, 1, "{t:?}");
        assert!(t.adopted >= processes as u64 - 1, "{t:?}");
    }
    let logs: Vec<String> = workers.into_iter().map(Worker::finish).collect();
    let (logins, refreshes) = renewals(&emu);
    println!(
        "herd of {processes} x {threads}: {logins} login, {refreshes} refreshes for {expiries} expiries"
    );
    (emu, logs.join("\n"))
}

#[test]
fn twenty_processes_of_fifty_threads_share_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file:{}", dir.path().join("tokens").display());
    let (_emu, logs) = herd(&store, 20, 50, 2);
    assert!(!logs.contains(SECRET));
}

#[cfg(feature = "redis")]
mod redis_herds {
    use super::*;
    use smartling_auth_testkit::redis::RedisServer;

    fn connect(url: &str) -> redis::Connection {
        redis::Client::open(url).unwrap().get_connection().unwrap()
    }

    fn keys(con: &mut redis::Connection) -> Vec<String> {
        redis::cmd("KEYS").arg("*").query(con).unwrap()
    }

    /// After the herd, the test adopts the shared record itself (no request: the
    /// counts do not move) to learn the tokens; no key's `DUMP` holds them, the user
    /// secret or a field name in clear, and no worker printed or logged them.
    #[test]
    #[ignore = "needs redis-server"]
    fn twenty_processes_of_fifty_threads_share_redis_which_holds_no_secret() {
        let redis = RedisServer::start();
        let (emu, logs) = herd(&redis.url(), 20, 50, 2);
        let before = renewals(&emu);
        let me = provider(&emu.base_url(), &redis.url(), Duration::from_secs(3));
        let token = me.access_token().unwrap();
        assert_eq!(renewals(&emu), before, "the shared token was adopted");
        let snap = me.snapshot().unwrap();
        let secrets = [
            token.secret(),
            snap.refresh_token.secret(),
            SECRET,
            "accessToken",
            "refreshToken",
        ];
        let mut con = connect(&redis.url());
        let keys = keys(&mut con);
        assert!(!keys.is_empty());
        for key in keys {
            assert!(!key.contains(USER), "{key}");
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query(&mut con).unwrap();
            for s in secrets {
                assert!(
                    !dump.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{key} holds a secret in clear"
                );
            }
        }
        // The workers log at debug level to stderr; none of it is a secret.
        assert!(logs.contains("DEBUG"), "the workers logged");
        for s in &secrets[..3] {
            assert!(!logs.contains(s), "a worker printed a secret");
        }
    }

    /// Redis stops after the first expiry and comes back empty after the second: no
    /// call fails, and from the second expiry after the restart on, the herd makes one
    /// refresh per expiry again.
    #[test]
    #[ignore = "needs redis-server"]
    fn a_redis_outage_and_an_empty_restart_fail_no_call() {
        let mut redis = RedisServer::start();
        let emu = emulator(LIFE);
        let base = emu.base_url();
        let url = redis.url();
        let (processes, threads) = (5, 10);
        let calls = (processes * threads) as u64 * CALLS;
        let mut workers: Vec<_> = (0..processes)
            .map(|_| Worker::spawn(&base, &url, threads, Duration::from_secs(3)))
            .collect();
        let served = |workers: &mut [Worker]| {
            let t = phase(workers);
            assert_eq!((t.served, t.failed), (calls, 0), "{t:?}");
            t
        };
        served(&mut workers);
        expire();
        served(&mut workers);
        assert_eq!(renewals(&emu), (1, 1));
        redis.stop();
        expire();
        let outage = served(&mut workers);
        eprintln!("during the outage: {outage:?}, {:?}", renewals(&emu));
        redis.restart();
        expire();
        let back = served(&mut workers);
        eprintln!("just after the restart: {back:?}, {:?}", renewals(&emu));
        for _ in 0..2 {
            expire();
            let (a, r) = renewals(&emu);
            let t = served(&mut workers);
            assert_eq!(t.renewed, 1, "one renewal for the herd again: {t:?}");
            let (a2, r2) = renewals(&emu);
            assert_eq!(a2 + r2, a + r + 1, "one request per expiry again");
        }
        let mut con = connect(&url);
        assert!(
            keys(&mut con).iter().any(|k| !k.ends_with(":lease")),
            "a shared record again after the restart"
        );
        for w in workers {
            w.finish();
        }
    }

    /// Someone left a value of another type (a list) under the record's key: it is
    /// garbage like any other record that cannot be read, so the first provider warns,
    /// logs in once and writes over it, and the next one adopts what it wrote.
    #[test]
    #[ignore = "needs redis-server"]
    fn a_value_of_another_type_under_the_key_is_replaced_with_a_warning() {
        let logs = smartling_auth_testkit::logs::LogCapture::new();
        let _guard = tracing::subscriber::set_default(logs.subscriber(tracing::Level::WARN));
        let redis = RedisServer::start();
        let emu = emulator(Duration::from_secs(480));
        let first = provider(&emu.base_url(), &redis.url(), Duration::from_secs(3));
        let name = first.state().cache().store().unwrap().name().clone();
        let key = smartling_auth_isahc::RedisStore::open(&redis.url())
            .unwrap()
            .key_of(&name);
        let mut con = connect(&redis.url());
        let _: () = redis::cmd("RPUSH")
            .arg(&key)
            .arg("not a record")
            .query(&mut con)
            .unwrap();
        let token = first.access_token().unwrap();
        assert_eq!(renewals(&emu), (1, 0));
        assert!(
            logs.text().contains("ignoring a stored token record"),
            "{}",
            logs.text()
        );
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
        assert_eq!(kind, "string", "written over the list");
        let second = provider(&emu.base_url(), &redis.url(), Duration::from_secs(3));
        assert_eq!(second.access_token().unwrap().secret(), token.secret());
        assert_eq!(renewals(&emu), (1, 0), "the second provider adopted it");
    }

    /// The lease holder is killed while its login is in flight: the others wait out
    /// the lease, one of them logs in, and everyone is served. Two requests in all.
    #[test]
    #[ignore = "needs redis-server"]
    fn a_lease_holder_killed_mid_request_costs_at_most_one_more_request() {
        let redis = RedisServer::start();
        let emu = emulator(Duration::from_secs(480));
        emu.inject(
            Endpoint::Authenticate,
            smartling_auth_emulator::Fault::DelayHeaders(Duration::from_secs(30)),
            1,
        );
        let base = emu.base_url();
        let url = redis.url();
        let timeout = Duration::from_secs(5);
        let mut holder = Worker::spawn(&base, &url, 1, timeout);
        let mut others: Vec<_> = (0..4)
            .map(|_| Worker::spawn(&base, &url, 5, timeout))
            .collect();
        holder.go();
        // Until the held login reached the server.
        let deadline = Instant::now() + Duration::from_secs(20);
        while emu.pending_faults(Endpoint::Authenticate) > 0 {
            assert!(Instant::now() < deadline, "the holder never sent its login");
            std::thread::sleep(Duration::from_millis(10));
        }
        for w in &mut others {
            w.go();
        }
        // The others are waiting on the lease now (they cannot finish before it
        // expires); the holder dies without releasing it.
        std::thread::sleep(Duration::from_millis(300));
        holder.child.kill().unwrap();
        holder.child.wait().unwrap();
        let mut sum = Tally::default();
        for w in &mut others {
            sum += w.tally();
        }
        assert_eq!((sum.served, sum.failed), (4 * 5 * CALLS, 0), "{sum:?}");
        if renewals(&emu).0 > 2 {
            let logs: Vec<String> = others.into_iter().map(Worker::finish).collect();
            panic!("{:?} logins:\n{}", renewals(&emu), logs.join("\n----\n"));
        }
        assert_eq!(renewals(&emu).1, 0);
        for w in others {
            w.finish();
        }
    }
}

fn provider(base: &str, store: &str, timeout: Duration) -> TokenProvider {
    let mut policy = Policy::default();
    policy.retry = quick_retry();
    // Renew half a second before expiry, without jitter: a phase, however slow on a
    // small machine, ends long before the token it renewed needs renewing again.
    policy.refresh_ahead = Some(Duration::from_millis(500));
    policy.refresh_jitter = Some(Duration::ZERO);
    policy.min_validity = Some(Duration::from_millis(250));
    let builder = TokenProvider::builder(BaseUrl::parse(base).unwrap())
        .credentials(Credentials::new(USER, SECRET))
        .policy(policy)
        .timeouts(Duration::from_secs(2), timeout)
        .deadline(Duration::from_secs(40));
    let builder = match store.strip_prefix("file:") {
        Some(dir) => builder.store(FileStore::new(Path::new(dir))),
        #[cfg(feature = "redis")]
        None => builder.store(
            smartling_auth_isahc::RedisStore::open(store)
                .unwrap()
                .with_timeout(Duration::from_millis(300)),
        ),
        #[cfg(not(feature = "redis"))]
        None => panic!("a Redis herd needs the `redis` feature"),
    };
    builder.build().unwrap()
}

/// The worker: a provider over the store it is told; on each `go` line its
/// `HERD_THREADS` threads ask for a token `CALLS` times each, then it prints what
/// happened. It exits when stdin closes, and logs at debug level to stderr.
#[test]
#[ignore = "the child half of the herd tests, which run it themselves"]
fn child_herd_worker() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::stderr)
        .init();
    let var = |k: &str| std::env::var(k).unwrap();
    let threads: usize = var("HERD_THREADS").parse().unwrap();
    let timeout = Duration::from_millis(var("HERD_TIMEOUT_MS").parse().unwrap());
    let provider = provider(&var("HERD_BASE"), &var("HERD_STORE"), timeout);
    println!("herd-ready");
    let stdin = std::io::stdin();
    for line in stdin.lock().lines().take(1_000) {
        if line.unwrap() != "go" {
            break;
        }
        let [served, failed, renewed, adopted] = std::array::from_fn(|_| AtomicU64::new(0));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..CALLS {
                        let r = provider.access_token_with(|_, handled| match handled {
                            Handled::Renewed(_) => {
                                renewed.fetch_add(1, Ordering::Relaxed);
                            }
                            Handled::Adopted(_) => {
                                adopted.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {}
                        });
                        match r {
                            Ok(_) => served.fetch_add(1, Ordering::Relaxed),
                            Err(e) => {
                                eprintln!("a call failed: {e}");
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                    }
                });
            }
        });
        println!(
            "herd-done served={} failed={} renewed={} adopted={}",
            served.into_inner(),
            failed.into_inner(),
            renewed.into_inner(),
            adopted.into_inner()
        );
    }
}
