//! What a token store costs the provider, against the emulator:
//!
//! - `store_l1`: `access_token()` on a fresh local token, with a store configured and
//!   without one. The store must stay off this path: the ratio should be about 1.
//! - `store_l2`: a provider with no local token adopting the record another provider
//!   wrote to Redis (read, unseal, install), against a plain Redis `GET` of a value of
//!   the record's size. Needs `redis-server` on `PATH`; skipped with a message if not.
//! - `store_waiter`: a provider waiting on another's lease sees the record this long
//!   after it was written, over a `FileStore` and over Redis (skipped without
//!   `redis-server`), woken by the store (`…/file`, `…/redis`) and, for the baseline
//!   in the same run, over the same stores with their wake-ups hidden, so waiters
//!   poll every 50 ms as they all did before (`…/file_polled`, `…/redis_polled`).
//!   Each iteration's time is that latency alone; the largest seen is printed.
//! - the Redis commands per member of a fleet of 20 providers (each with its own
//!   store and connections, as processes would have) starting cold on a 3 s login,
//!   counted by `INFO commandstats`, woken and polled; written to
//!   `target/criterion/store_commands.txt` for the report.
//!
//! `cargo xtask bench` collects these into BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use smartling_auth_emulator::Emulator;
use smartling_auth_emulator::{Endpoint, Fault};
use smartling_auth_isahc::store::{
    Fetched, LeaseId, Record, RecordName, SealKey, Store, StoreError, Stored,
};
use smartling_auth_isahc::{
    AccessToken, BaseUrl, Credentials, FileStore, RefreshToken, TokenPair, TokenProvider,
};
use smartling_auth_store::RedisStore;
use smartling_auth_testkit::emulator::{SECRET, USER};
use smartling_auth_testkit::redis::{RedisServer, redis_available};

/// A store that cannot watch (`Store::watch`'s default): its waiters poll every
/// 50 ms, as every waiter did before wake-ups. The baseline.
#[derive(Debug)]
struct Polled<S>(S);

impl<S: Store> Store for Polled<S> {
    fn read(&self, name: &RecordName) -> Result<Fetched, StoreError> {
        self.0.read(name)
    }
    fn lease(&self, name: &RecordName, holder: LeaseId, ttl: Duration) -> Result<bool, StoreError> {
        self.0.lease(name, holder, ttl)
    }
    fn extend(
        &self,
        name: &RecordName,
        holder: LeaseId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.0.extend(name, holder, ttl)
    }
    fn write(
        &self,
        name: &RecordName,
        expected: u64,
        record: &Stored,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.0.write(name, expected, record, ttl)
    }
    fn release(&self, name: &RecordName, holder: LeaseId) -> Result<(), StoreError> {
        self.0.release(name, holder)
    }
    fn needs_sealing(&self) -> bool {
        self.0.needs_sealing()
    }
}

fn emulator() -> Emulator {
    Emulator::builder()
        .user(USER, SECRET)
        .start()
        .expect("the emulator starts")
}

fn builder(emu: &Emulator) -> smartling_auth_isahc::Builder<TokenProvider> {
    TokenProvider::builder(BaseUrl::parse(&emu.base_url()).unwrap())
        .credentials(Credentials::new(USER, SECRET))
}

fn l1(c: &mut Criterion, emu: &Emulator) {
    let dir = tempfile::tempdir().unwrap();
    let with = builder(emu)
        .store(FileStore::new(dir.path()))
        .build()
        .unwrap();
    let without = builder(emu).build().unwrap();
    with.access_token().unwrap();
    without.access_token().unwrap();
    let mut g = c.benchmark_group("store_l1");
    g.bench_function("with_store", |b| {
        b.iter(|| black_box(with.access_token().unwrap()))
    });
    g.bench_function("without_store", |b| {
        b.iter(|| black_box(without.access_token().unwrap()))
    });
    g.finish();
}

fn l2(c: &mut Criterion, emu: &Emulator) {
    if !redis_available() {
        println!("store_l2: skipped: no redis-server on PATH");
        return;
    }
    let redis = RedisServer::start();
    let store = Arc::new(RedisStore::open(&redis.url()).unwrap());
    // One provider logs in and writes the record; every measured one adopts it.
    let writer = builder(emu).store(store.clone()).build().unwrap();
    writer.access_token().unwrap();
    let name = writer.state().cache().store().unwrap().name().clone();
    let size = store
        .read(&name)
        .unwrap()
        .record
        .expect("a record")
        .payload
        .len();
    // One HTTP client for all: building a provider is then cheap (and unmeasured).
    let http = isahc::HttpClient::new().unwrap();
    let reader = || {
        builder(emu)
            .store(store.clone())
            .http_client(http.clone())
            .build()
            .unwrap()
    };
    let logins = emu.counters();
    let mut g = c.benchmark_group("store_l2");
    g.bench_function("adopt_from_redis", |b| {
        b.iter_batched(
            reader,
            |p| {
                let token = p.access_token().unwrap();
                (p, token)
            },
            BatchSize::SmallInput,
        )
    });
    let mut con = redis::Client::open(redis.url().as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let value = vec![0x5a_u8; size];
    let () = redis::cmd("SET")
        .arg("plain")
        .arg(&value)
        .query(&mut con)
        .unwrap();
    g.bench_function("plain_get", |b| {
        b.iter(|| {
            let v: Vec<u8> = redis::cmd("GET").arg("plain").query(&mut con).unwrap();
            black_box(v)
        })
    });
    g.finish();
    assert_eq!(
        emu.counters(),
        logins,
        "every measured provider adopted the record: no request was sent"
    );
    println!("store_l2: the record is {size} bytes sealed; the plain value the same");
}

/// One waiter round, on the record every round shares (as a process's renewals do;
/// over Redis its subscription then outlives the round): the round writes an expired
/// record (version `2n - 1`), holds the lease, starts a provider with no token (it
/// finds the record dead and the lease held, and waits), writes a fresh record
/// `offset` later and returns how long the provider took to hand it out.
fn waiter_round(emu: &Emulator, store: impl Store + 'static, n: u64, offset: Duration) -> Duration {
    let p = TokenProvider::builder(BaseUrl::parse(&emu.base_url()).unwrap())
        .credentials(Credentials::new("waiter", "not-needed"))
        .store(store)
        .store_key(SealKey::from_bytes([7; 32]))
        .build()
        .unwrap();
    let shared = p.state().cache().store().unwrap();
    let (store, name) = (shared.store().clone(), shared.name().clone());
    let record = |version: u64, issued: SystemTime| {
        let pair = TokenPair::new(
            AccessToken::new(format!("access-{version}")),
            RefreshToken::new(format!("refresh-{version}")),
            Duration::from_secs(480),
            Duration::from_secs(3600),
        );
        Stored {
            version,
            payload: Record::new(pair, issued).encode(
                &name,
                version,
                Some(&SealKey::from_bytes([7; 32])),
            ),
        }
    };
    let hour = Duration::from_secs(3600);
    let dead = record(2 * n - 1, SystemTime::now() - 2 * hour);
    assert!(store.write(&name, 2 * n - 2, &dead, hour).unwrap());
    let holder = LeaseId(u64::MAX - n);
    assert!(store.lease(&name, holder, Duration::from_secs(10)).unwrap());
    let fresh = record(2 * n, SystemTime::now());
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let token = p.access_token().unwrap();
            (Instant::now(), token)
        });
        std::thread::sleep(offset);
        let written = Instant::now();
        assert!(store.write(&name, 2 * n - 1, &fresh, hour).unwrap());
        store.release(&name, holder).unwrap();
        let (seen, token) = waiter.join().unwrap();
        assert_eq!(
            token.secret(),
            format!("access-{}", 2 * n),
            "the written record"
        );
        seen.saturating_duration_since(written)
    })
}

/// The waiter's latency over the store `make` gives for each round (`kind` names it).
fn waiter_over<S: Store + 'static>(
    c: &mut Criterion,
    emu: &Emulator,
    kind: &str,
    make: impl Fn() -> S,
) {
    let mut round = 0_u64;
    let mut worst = Duration::ZERO;
    let mut g = c.benchmark_group("store_waiter");
    // Each iteration is a round of about 100 ms of wall time: a few samples suffice.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(100));
    g.bench_function(format!("write_to_seen/{kind}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters.min(10_000) {
                round += 1;
                // The write lands at a different point of a poll's cycle each round.
                let offset = Duration::from_millis(60 + round * 7 % 50);
                let latency = waiter_round(emu, make(), round, offset);
                worst = worst.max(latency);
                total += latency;
            }
            total
        })
    });
    g.finish();
    assert_eq!(
        emu.counters().total(Endpoint::Authenticate),
        0,
        "no waiter logged in"
    );
    println!("store_waiter: worst write-to-seen latency over {kind} {worst:?} over {round} rounds");
}

fn waiter(c: &mut Criterion, emu: &Emulator) {
    let dir = tempfile::tempdir().unwrap();
    waiter_over(c, emu, "file", || FileStore::new(dir.path().join("woken")));
    waiter_over(c, emu, "file_polled", || {
        Polled(FileStore::new(dir.path().join("polled")))
    });
    if !redis_available() {
        println!("store_waiter/write_to_seen/redis: skipped: no redis-server on PATH");
        return;
    }
    let redis = RedisServer::start();
    let store = Arc::new(RedisStore::open(&redis.url()).unwrap());
    waiter_over(c, emu, "redis", || store.clone());
    let redis = RedisServer::start();
    let store = Arc::new(RedisStore::open(&redis.url()).unwrap());
    waiter_over(c, emu, "redis_polled", || Polled(store.clone()));
}

/// How many members the fleet count starts.
const FLEET: usize = 20;

/// The Redis commands per member for one renewal of a fleet of [`FLEET`] providers
/// starting cold together on a 3 s login, each with a store of its own (its own
/// connections and subscriber, as a process has), made by `wrap`.
fn fleet_commands<S: Store + 'static>(wrap: impl Fn(RedisStore) -> S) -> (f64, String) {
    let emu = emulator();
    let redis = RedisServer::start();
    emu.inject(
        Endpoint::Authenticate,
        Fault::DelayHeaders(Duration::from_secs(3)),
        1,
    );
    redis.reset_stats();
    let tokens: Vec<String> = std::thread::scope(|s| {
        let members: Vec<_> = (0..FLEET)
            .map(|_| {
                let p = builder(&emu)
                    .store(wrap(RedisStore::open(&redis.url()).unwrap()))
                    .build()
                    .unwrap();
                s.spawn(move || p.access_token().unwrap().secret().to_owned())
            })
            .collect();
        members.into_iter().map(|m| m.join().unwrap()).collect()
    });
    let commands = redis.commands();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "one token for all");
    assert_eq!(emu.counters().total(Endpoint::Authenticate), 1, "one login");
    let per_member = commands.values().sum::<u64>() as f64 / FLEET as f64;
    (per_member, format!("{commands:?}"))
}

fn commands() {
    if !redis_available() {
        println!("store_commands: skipped: no redis-server on PATH");
        return;
    }
    let (woken, woken_by) = fleet_commands(|s| s);
    let (polled, polled_by) = fleet_commands(Polled);
    println!(
        "store_commands: {woken:.1} per member woken ({woken_by}), {polled:.1} polled ({polled_by})"
    );
    // Beside criterion's own output, for `cargo xtask bench`'s report.
    let criterion = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")));
    if let Some(dir) = criterion {
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(
            dir.join("store_commands.txt"),
            format!("woken {woken:.1}\npolled {polled:.1}\n"),
        )
        .expect("the figures are written");
    }
}

fn bench(c: &mut Criterion) {
    commands();
    let emu = emulator();
    waiter(c, &emu);
    l1(c, &emu);
    l2(c, &emu);
}

criterion_group!(benches, bench);
criterion_main!(benches);
