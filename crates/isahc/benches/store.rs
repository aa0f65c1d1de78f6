//! What a token store costs the provider, against the emulator:
//!
//! - `store_l1`: `access_token()` on a fresh local token, with a store configured and
//!   without one. The store must stay off this path: the ratio should be about 1.
//! - `store_l2`: a provider with no local token adopting the record another provider
//!   wrote to Redis (read, unseal, install), against a plain Redis `GET` of a value of
//!   the record's size. Needs `redis-server` on `PATH`; skipped with a message if not.
//! - `store_waiter`: a provider waiting on another's lease (the store's poll is 50 ms)
//!   sees the record this long after it was written, over a `FileStore` and over
//!   Redis (skipped without `redis-server`). Each iteration's time is that latency
//!   alone; the largest seen is checked against 250 ms and printed.
//!
//! `cargo xtask bench` collects these into BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use smartling_auth_emulator::Emulator;
use smartling_auth_isahc::store::{LeaseId, Record, SealKey, Store, Stored};
use smartling_auth_isahc::{
    AccessToken, BaseUrl, Credentials, FileStore, RefreshToken, TokenPair, TokenProvider,
};
use smartling_auth_store::RedisStore;
use smartling_auth_testkit::emulator::{SECRET, USER};
use smartling_auth_testkit::redis::{RedisServer, redis_available};

/// The largest waiter latency the store's 50 ms poll allows, with room for the
/// read and the unseal on a loaded machine.
const WAITER_BOUND: Duration = Duration::from_millis(250);

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

/// One waiter round on a record name of its own (user `n`): the round holds the
/// lease, starts a provider with no token (it finds the lease held and polls), writes
/// a record `offset` later and returns how long the provider took to hand it out.
fn waiter_round(emu: &Emulator, store: impl Store + 'static, n: u64, offset: Duration) -> Duration {
    let p = TokenProvider::builder(BaseUrl::parse(&emu.base_url()).unwrap())
        .credentials(Credentials::new(format!("waiter-{n}"), "not-needed"))
        .store(store)
        .store_key(SealKey::from_bytes([7; 32]))
        .build()
        .unwrap();
    let shared = p.state().cache().store().unwrap();
    let (store, name) = (shared.store().clone(), shared.name().clone());
    let holder = LeaseId(u64::MAX - n);
    assert!(store.lease(&name, holder, Duration::from_secs(10)).unwrap());
    let pair = TokenPair::new(
        AccessToken::new(format!("access-{n}")),
        RefreshToken::new(format!("refresh-{n}")),
        Duration::from_secs(480),
        Duration::from_secs(3600),
    );
    let record = Stored {
        version: 1,
        payload: Record::new(pair, SystemTime::now()).encode(
            &name,
            1,
            Some(&SealKey::from_bytes([7; 32])),
        ),
    };
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let token = p.access_token().unwrap();
            (Instant::now(), token)
        });
        std::thread::sleep(offset);
        let written = Instant::now();
        assert!(
            store
                .write(&name, 0, &record, Duration::from_secs(3600))
                .unwrap()
        );
        store.release(&name, holder).unwrap();
        let (seen, token) = waiter.join().unwrap();
        assert_eq!(token.secret(), format!("access-{n}"), "the written record");
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
                // The write lands at a different point of the poll cycle each round.
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
        emu.counters()
            .total(smartling_auth_emulator::Endpoint::Authenticate),
        0,
        "no waiter logged in"
    );
    let verdict = if worst < WAITER_BOUND {
        "ok"
    } else {
        "EXCEEDED"
    };
    println!(
        "store_waiter: worst write-to-seen latency over {kind} {worst:?} over {round} rounds (bound {WAITER_BOUND:?}: {verdict})"
    );
}

fn waiter(c: &mut Criterion, emu: &Emulator) {
    let dir = tempfile::tempdir().unwrap();
    waiter_over(c, emu, "file", || FileStore::new(dir.path()));
    if !redis_available() {
        println!("store_waiter/write_to_seen/redis: skipped: no redis-server on PATH");
        return;
    }
    let redis = RedisServer::start();
    let store = Arc::new(RedisStore::open(&redis.url()).unwrap());
    waiter_over(c, emu, "redis", || store.clone());
}

fn bench(c: &mut Criterion) {
    let emu = emulator();
    waiter(c, &emu);
    l1(c, &emu);
    l2(c, &emu);
}

criterion_group!(benches, bench);
criterion_main!(benches);
