//! Several processes, each with 10,000 tasks on one async provider, sharing a token
//! store: one login at the cold start, and one refresh after each expiry, for all of
//! them. Each worker is this test binary, re-run as a child.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smartling_auth_async_std::{BaseUrl, Credentials, FileStore, TokenProvider};
use smartling_auth_emulator::{Emulator, Endpoint};
use smartling_auth_testkit::emulator::{SECRET, USER, start};

const TASKS: usize = 10_000;
const PROCESSES: usize = 3;
const ROUNDS: u64 = 3;
const LIFE: Duration = Duration::from_secs(3);
/// Rounds start this far apart: past the token's expiry, so every round after the
/// first needs exactly one renewal.
const GAP: Duration = Duration::from_millis(3_600);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn spawn(base: &str, store: &str, start_ms: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_async_herd_worker",
            "--ignored",
            "--nocapture",
        ])
        .env("ASYNC_HERD", "1")
        .env("HERD_BASE", base)
        .env("HERD_STORE", store)
        .env("HERD_START_MS", start_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("a worker starts")
}

fn finish(mut child: Child) {
    let deadline = Instant::now() + GAP * ROUNDS as u32 + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(status.success(), "a worker failed: {out}\n{err}");
            assert!(out.contains("rounds done"), "{out}");
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("a worker ran too long");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn herd(store: &str) {
    let emu = start(
        Emulator::builder()
            .access_ttl(LIFE)
            .refresh_ttl(Duration::from_secs(120))
            .workers(4),
    );
    let base = emu.base_url();
    // Every worker starts its rounds at the same wall-clock instants.
    let start_ms = now_ms() + 1_500;
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| spawn(&base, store, start_ms))
        .collect();
    for c in children {
        finish(c);
    }
    let c = emu.counters();
    eprintln!(
        "async herd: {} logins, {} refreshes for {PROCESSES} x {TASKS} tasks x {ROUNDS} rounds",
        c.total(Endpoint::Authenticate),
        c.total(Endpoint::Refresh)
    );
    assert_eq!(
        c.total(Endpoint::Authenticate),
        1,
        "one login for every process"
    );
    assert_eq!(
        c.total(Endpoint::Refresh),
        ROUNDS - 1,
        "one refresh per expiry"
    );
}

#[test]
fn processes_of_ten_thousand_tasks_share_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    herd(&format!("file:{}", dir.path().join("tokens").display()));
}

#[cfg(feature = "redis")]
#[test]
#[ignore = "needs redis-server"]
fn processes_of_ten_thousand_tasks_share_redis() {
    let redis = smartling_auth_testkit::redis::RedisServer::start();
    herd(&redis.url());
}

/// The worker: at each round's instant, 10,000 tasks ask one provider for a token.
#[test]
#[ignore = "the child half of the async herd tests, which run it themselves"]
fn child_async_herd_worker() {
    if std::env::var_os("ASYNC_HERD").is_none() {
        return;
    }
    let var = |k: &str| std::env::var(k).unwrap();
    let base = BaseUrl::parse(&var("HERD_BASE")).unwrap();
    let store = var("HERD_STORE");
    let start_ms: u64 = var("HERD_START_MS").parse().unwrap();
    let builder = TokenProvider::builder(base)
        .credentials(Credentials::new(USER, SECRET))
        .timeouts(Duration::from_secs(2), Duration::from_secs(3))
        .deadline(Duration::from_secs(40));
    let builder = match store.strip_prefix("file:") {
        Some(dir) => builder.store(FileStore::new(Path::new(dir))),
        #[cfg(feature = "redis")]
        None => builder.store(smartling_auth_async_std::RedisStore::open(&store).unwrap()),
        #[cfg(not(feature = "redis"))]
        None => panic!("a Redis herd needs the `redis` feature"),
    };
    let provider = builder.build().unwrap();
    async_std::task::block_on(async {
        for round in 0..ROUNDS {
            let at = start_ms + round * GAP.as_millis() as u64;
            let wait = at.saturating_sub(now_ms());
            async_std::task::sleep(Duration::from_millis(wait)).await;
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let provider = provider.clone();
                    async_std::task::spawn(async move { provider.access_token().await })
                })
                .collect();
            for t in tasks {
                t.await.expect("every task gets a token");
            }
        }
    });
    println!("rounds done");
}
