//! The Redis store against a real `redis-server` of each test's own. Ignored where
//! there is none; `cargo xtask ci` runs them.
#![cfg(feature = "redis")]

use std::time::{Duration, Instant, SystemTime};

use smartling_auth_core::store::{LeaseId, RecordName, Store, StoreErrorKind, Stored, Watched};
use smartling_auth_store::RedisStore;
use smartling_auth_testkit::redis::RedisServer;

const TTL: Duration = Duration::from_secs(60);

fn name() -> RecordName {
    RecordName::new(&Default::default(), "user", None)
}

fn record(version: u64) -> Stored {
    Stored {
        version,
        payload: format!("payload {version}\0\u{ff}").into_bytes(),
    }
}

/// A raw command on the server, as a stranger with access could send it.
fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

#[test]
#[ignore = "needs redis-server"]
fn writes_compare_and_set_and_reads_use_the_servers_clock() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let read = store.read(&name()).unwrap();
    assert!(read.record.is_none());
    let skew = read
        .now
        .duration_since(SystemTime::now())
        .unwrap_or_else(|e| e.duration());
    assert!(
        skew < Duration::from_secs(5),
        "TIME is the server's clock, this machine's here"
    );
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    assert!(
        !store.write(&name(), 0, &record(1), TTL).unwrap(),
        "stale writer refused"
    );
    assert!(store.write(&name(), 1, &record(2), TTL).unwrap());
    assert_eq!(store.read(&name()).unwrap().record.unwrap(), record(2));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(store.key_of(&name()))
        .query(&mut raw(&server.url()))
        .unwrap();
    assert!(
        ttl > 0 && ttl <= 60_000,
        "the record expires with the refresh token: {ttl}"
    );
}

/// Whether `holder` takes the lease within about 2 s, asking every 20 ms: how a
/// waiter finds a lease that ended by itself.
fn leased_within_2s(store: &RedisStore, holder: LeaseId) -> bool {
    (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        store.lease(&name(), holder, TTL).unwrap()
    })
}

#[test]
#[ignore = "needs redis-server"]
fn the_lease_is_exclusive_expires_and_is_released_only_by_its_holder() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    assert!(
        store
            .lease(&name(), LeaseId(1), Duration::from_millis(300))
            .unwrap()
    );
    assert!(!store.lease(&name(), LeaseId(2), TTL).unwrap());
    store.release(&name(), LeaseId(2)).unwrap();
    assert!(
        !store.lease(&name(), LeaseId(2), TTL).unwrap(),
        "not released by another"
    );
    // The lease ends by itself: a holder that died blocks no one for longer.
    assert!(leased_within_2s(&store, LeaseId(2)), "the lease expired");
    store.release(&name(), LeaseId(1)).unwrap();
    assert!(
        !store.lease(&name(), LeaseId(3), TTL).unwrap(),
        "the expired holder released nothing"
    );
    store.release(&name(), LeaseId(2)).unwrap();
    assert!(store.lease(&name(), LeaseId(3), TTL).unwrap());
}

/// A lease key claiming more time than any holder ever sets (a planted huge `PX`) is
/// no live lease: waiters wait on a live lease until their deadline, so it would cost
/// every caller its whole deadline. It is not waited on: the caller takes it over at
/// once (with a warning), and the fleet shares its renewal as before.
#[test]
#[ignore = "needs redis-server"]
fn a_lease_key_claiming_more_than_any_holder_sets_is_taken_over_at_once() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let key = format!("{}:lease", store.key_of(&name()));
    let mut con = raw(&server.url());
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("planted")
        .arg("PX")
        .arg(999_999_999_u64)
        .query(&mut con)
        .unwrap();
    let ttl = Duration::from_millis(300);
    // Not waited on: taken over at once, as a lease of the caller's own.
    assert!(store.lease(&name(), LeaseId(1), ttl).unwrap(), "taken over");
    let left: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!(left > 0 && left <= 300, "the lease's time: {left}");
    assert!(!store.lease(&name(), LeaseId(2), ttl).unwrap(), "held by 1");
    store.release(&name(), LeaseId(1)).unwrap();
    assert!(store.lease(&name(), LeaseId(2), ttl).unwrap(), "released");
    // A live lease of a minute (another fleet's timings) is left alone.
    store.release(&name(), LeaseId(2)).unwrap();
    assert!(
        store
            .lease(&name(), LeaseId(3), Duration::from_secs(60))
            .unwrap()
    );
    assert!(!store.lease(&name(), LeaseId(4), ttl).unwrap());
    let left: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!(left > 50_000, "{left}");
}

/// A lease key without an expiry is no lease of ours (someone set it by hand, or ran
/// `PERSIST`): it is taken over at once instead of blocking every renewal for good. A
/// live lease's expiry is left alone.
#[test]
#[ignore = "needs redis-server"]
fn a_lease_key_without_an_expiry_is_taken_over_at_once() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let key = format!("{}:lease", store.key_of(&name()));
    let mut con = raw(&server.url());
    let pttl =
        |con: &mut redis::Connection| -> i64 { redis::cmd("PTTL").arg(&key).query(con).unwrap() };
    for (put, arg) in [("SET", "stuck"), ("RPUSH", "not a lease")] {
        let _: () = redis::cmd("DEL").arg(&key).query(&mut con).unwrap();
        let _: () = redis::cmd(put).arg(&key).arg(arg).query(&mut con).unwrap();
        assert_eq!(pttl(&mut con), -1, "{put}: no expiry");
        let ttl = Duration::from_millis(300);
        assert!(
            store.lease(&name(), LeaseId(1), ttl).unwrap(),
            "{put}: taken over at once"
        );
        let left = pttl(&mut con);
        assert!(left > 0 && left <= 300, "{put}: the lease's time: {left}");
        store.release(&name(), LeaseId(1)).unwrap();
        assert!(leased_within_2s(&store, LeaseId(2)), "{put}: released");
        // A live lease keeps its own expiry when others ask for it.
        let before = pttl(&mut con);
        assert!(
            !store
                .lease(&name(), LeaseId(3), Duration::from_millis(10))
                .unwrap()
        );
        let after = pttl(&mut con);
        assert!(
            after > 10 && after <= before,
            "{put}: {before} then {after}"
        );
        store.release(&name(), LeaseId(2)).unwrap();
    }
}

#[test]
#[ignore = "needs redis-server"]
fn garbage_truncated_and_foreign_values_read_as_version_0_and_are_replaced() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let key = store.key_of(&name());
    let mut con = raw(&server.url());
    for bad in [
        &b"garbage"[..],
        b"SA1 ",
        b"SA1 7",
        b"SA1 0000000000000001 x",
        b"SA2 3 payload",
        b"",
    ] {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(bad)
            .query(&mut con)
            .unwrap();
        // An empty value reads as no record (`GETRANGE` tells them not apart).
        let got = store.read(&name()).unwrap().record;
        let version = got.map_or(0, |r| r.version);
        assert_eq!(version, 0, "{}", String::from_utf8_lossy(bad));
        assert!(
            store.write(&name(), 0, &record(4), TTL).unwrap(),
            "replaced"
        );
        assert_eq!(store.read(&name()).unwrap().record.unwrap().version, 4);
    }
    // A value of another type is garbage too: an empty version 0, replaced by a write
    // that expects version 0 and by no other.
    for other in ["LPUSH", "SADD"] {
        let _: () = redis::cmd("DEL").arg(&key).query(&mut con).unwrap();
        let _: () = redis::cmd(other)
            .arg(&key)
            .arg("x")
            .query(&mut con)
            .unwrap();
        let got = store.read(&name()).unwrap();
        assert_eq!(
            got.record,
            Some(Stored {
                version: 0,
                payload: Vec::new()
            }),
            "{other}"
        );
        let skew = got
            .now
            .duration_since(SystemTime::now())
            .unwrap_or_else(|e| e.duration());
        assert!(skew < Duration::from_secs(5), "still the server's clock");
        assert!(
            !store.write(&name(), 3, &record(4), TTL).unwrap(),
            "only version 0 replaces it"
        );
        assert!(store.write(&name(), 0, &record(5), TTL).unwrap(), "{other}");
        assert_eq!(store.read(&name()).unwrap().record.unwrap(), record(5));
        // The connection is still in step: the next reads answer their own commands.
        assert!(store.lease(&name(), LeaseId(9), TTL).unwrap());
        store.release(&name(), LeaseId(9)).unwrap();
    }
}

/// The server's `total_net_output_bytes`: what it has sent to all its clients.
fn net_output(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_net_output_bytes:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO stats gives total_net_output_bytes")
}

/// A value over 64 KiB under the record's key (100 MiB here, planted by someone with
/// write access) is garbage the client never reads whole: it reads as version 0 with
/// no payload, and the next renewal's write replaces it. A record over the limit is
/// never written.
#[test]
#[ignore = "needs redis-server"]
fn a_value_over_64_kib_is_not_read_and_is_replaced() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    let key = store.key_of(&name());
    let mut con = raw(&server.url());
    // 100 MiB that look like a record, made inside the server.
    let _: i64 = redis::cmd("SETRANGE")
        .arg(&key)
        .arg(100 << 20)
        .arg("x")
        .query(&mut con)
        .unwrap();
    let _: i64 = redis::cmd("SETRANGE")
        .arg(&key)
        .arg(0)
        .arg("SA1 7 ")
        .query(&mut con)
        .unwrap();
    let before = net_output(&mut con);
    let read = store.read(&name()).unwrap();
    let sent = net_output(&mut con) - before;
    assert_eq!(
        read.record,
        Some(Stored {
            version: 0,
            payload: Vec::new()
        })
    );
    eprintln!("a 100 MiB value: the server sent {sent} bytes for the read and INFO");
    assert!(
        sent < 80 * 1024,
        "64 KiB and a byte of it were sent, not the value: {sent} bytes"
    );
    assert!(
        store.write(&name(), 0, &record(1), TTL).unwrap(),
        "replaced"
    );
    assert_eq!(store.read(&name()).unwrap().record.unwrap(), record(1));
    let len: i64 = redis::cmd("STRLEN").arg(&key).query(&mut con).unwrap();
    assert!(len < 100, "{len}");

    // The limit is on the value as stored: 64 KiB exactly is a record.
    let header = b"SA1 2 ";
    let payload = vec![b'p'; 64 * 1024 - header.len()];
    let mut value = header.to_vec();
    value.extend_from_slice(&payload);
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .query(&mut con)
        .unwrap();
    let got = store.read(&name()).unwrap().record.unwrap();
    assert_eq!((got.version, got.payload.len()), (2, payload.len()));
    value.push(b'p');
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .query(&mut con)
        .unwrap();
    assert_eq!(store.read(&name()).unwrap().record.unwrap().version, 0);

    // Writing over the limit is refused, and writes nothing.
    let big = Stored {
        version: 3,
        payload: vec![0; 64 * 1024],
    };
    let e = store.write(&name(), 0, &big, TTL).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    assert!(e.message.contains("64 KiB"), "{e}");
    assert_eq!(store.read(&name()).unwrap().record.unwrap().version, 0);
    assert!(store.write(&name(), 0, &record(4), TTL).unwrap());
}

#[test]
#[ignore = "needs redis-server"]
fn a_stopped_server_is_an_error_within_the_limit_and_a_restarted_one_is_empty() {
    let mut server = RedisServer::start();
    let store = RedisStore::open(&server.url())
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    server.stop();
    let e = store.read(&name()).unwrap_err();
    assert!(
        matches!(
            e.kind,
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{e:?}"
    );
    server.restart();
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    server.restart();
    // The kept connection died with the server: the next operation reconnects unseen.
    let read = store.read(&name()).expect("a new connection");
    assert!(read.record.is_none(), "restarted empty");
}

#[test]
#[ignore = "needs redis-server"]
fn a_kept_connection_the_server_closed_is_replaced_unseen() {
    let server = RedisServer::start();
    let store = RedisStore::open(&server.url()).unwrap();
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    // What a server's idle-client `timeout` does to a connection kept between renewals.
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal"][..])
        .query(&mut raw(&server.url()))
        .unwrap();
    assert_eq!(killed, 1, "the store kept its connection");
    assert_eq!(store.read(&name()).unwrap().record.unwrap(), record(1));
    assert!(store.write(&name(), 1, &record(2), TTL).unwrap());
}

/// The ACL the module docs give, exactly.
const ACL: &str = "~smartling-auth:* &smartling-auth:* +time +get +getrange +strlen +set +del +pttl +pexpire +publish +subscribe +evalsha +eval";

#[test]
#[ignore = "needs redis-server"]
fn the_documented_acl_is_enough_and_an_acl_user_comes_from_the_url() {
    assert!(
        include_str!("../src/redis/mod.rs")
            .contains(&format!("ACL SETUSER smartling-auth on >password {ACL}\n")),
        "the module docs give this ACL"
    );
    let server = RedisServer::start();
    let mut admin = raw(&server.url());
    let setuser = |user: &str, acl: &str| {
        let mut cmd = redis::cmd("ACL");
        cmd.arg(&["SETUSER", user, "on", ">pw-acl-Q7"][..])
            .arg(acl.split(' ').collect::<Vec<_>>());
        cmd
    };
    let _: () = setuser("smartling-auth", ACL).query(&mut admin).unwrap();
    // An empty script cache, as after a restart: the scripts go by EVAL first.
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut admin).unwrap();
    let url = server
        .url()
        .replace("redis://", "redis://smartling-auth:pw-acl-Q7@");
    let store = RedisStore::open(&url).unwrap();
    assert!(store.read(&name()).unwrap().record.is_none());
    assert!(store.lease(&name(), LeaseId(1), TTL).unwrap());
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    assert!(
        store.write(&name(), 1, &record(2), TTL).unwrap(),
        "by EVALSHA"
    );
    assert!(!store.write(&name(), 1, &record(2), TTL).unwrap());
    store.release(&name(), LeaseId(1)).unwrap();
    assert!(store.lease(&name(), LeaseId(2), TTL).unwrap(), "released");
    assert_eq!(store.read(&name()).unwrap().record.unwrap(), record(2));

    // A user whose keys are elsewhere is refused, and the message keeps its password.
    let _: () = setuser("elsewhere", &ACL.replace("smartling-auth:", "other:"))
        .query(&mut admin)
        .unwrap();
    let url = server
        .url()
        .replace("redis://", "redis://elsewhere:pw-acl-Q7@");
    let store = RedisStore::open(&url).unwrap();
    let e = store.read(&name()).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    assert!(!e.to_string().contains("pw-acl-Q7"), "{e}");

    // A user with the ACL of before the lease script's expiry repair, the
    // wake-ups and the bounded reads (no PTTL, PEXPIRE, channels, GETRANGE, STRLEN)
    // still reads,
    // takes, is refused, writes and releases as before; its waits hear nothing and end
    // quiet, on time.
    let _: () = setuser(
        "older",
        &ACL.replace(" +pttl +pexpire", "")
            .replace(" +getrange +strlen", "")
            .replace(" &smartling-auth:*", "")
            .replace(" +publish +subscribe", ""),
    )
    .query(&mut admin)
    .unwrap();
    let url = server.url().replace("redis://", "redis://older:pw-acl-Q7@");
    let older = RedisStore::open(&url).unwrap();
    let other = RecordName::new(&Default::default(), "older", None);
    assert!(older.read(&other).unwrap().record.is_none());
    assert!(older.lease(&other, LeaseId(5), TTL).unwrap());
    assert!(!older.lease(&other, LeaseId(6), TTL).unwrap(), "held");
    assert!(older.write(&other, 0, &record(1), TTL).unwrap());
    older.release(&other, LeaseId(5)).unwrap();
    assert_eq!(older.read(&other).unwrap().record.unwrap(), record(1));
    let since = std::time::Instant::now();
    let until = since + std::time::Duration::from_millis(300);
    assert!(matches!(
        older.watch(&other, since, until).unwrap(),
        smartling_auth_core::store::Watched::Quiet
    ));
    assert!(std::time::Instant::now() < until + std::time::Duration::from_millis(200));
    assert!(older.lease(&other, LeaseId(6), TTL).unwrap(), "released");

    // A user who may not GET: the write script's GET is refused, and that stops the
    // write; it is never read as "no record", which would let a stale writer through.
    let _: () = setuser("blind", &ACL.replace(" +get +getrange", ""))
        .query(&mut admin)
        .unwrap();
    let url = server.url().replace("redis://", "redis://blind:pw-acl-Q7@");
    let store = RedisStore::open(&url).unwrap();
    let e = store.write(&name(), 0, &record(3), TTL).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e}");
    assert!(!e.to_string().contains("pw-acl-Q7"), "{e}");
    let admin_view = RedisStore::open(&server.url()).unwrap();
    assert_eq!(
        admin_view.read(&name()).unwrap().record.unwrap(),
        record(2),
        "nothing written: {e}"
    );
}

/// A server that accepts connections and never answers.
fn hung_server() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn a_hung_server_is_a_timeout_not_a_hang() {
    let (_listener, port) = hung_server();
    for url in [
        format!("redis://127.0.0.1:{port}/"),
        // The TLS handshake is bounded too.
        format!("rediss://127.0.0.1:{port}/"),
    ] {
        let store = RedisStore::open(&url)
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(store.read(&name())));
        let read = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the read returns");
        let e = read.unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Timeout, "{url}: {e}");
    }
}

#[test]
#[ignore = "needs redis-server"]
fn open_never_connects() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let store = RedisStore::open(&url).expect("parsing only");
    assert!(store.read(&name()).is_err());
    server.restart();
    assert!(store.read(&name()).is_ok(), "connects lazily once it is up");
}

#[test]
#[ignore = "needs redis-server"]
fn a_password_from_the_url_works_and_a_wrong_one_is_refused_without_echo() {
    let server = RedisServer::start_with_password("pw-Hk38s");
    let store = RedisStore::open(&server.url()).unwrap();
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    let wrong = server.url().replace("pw-Hk38s", "wrong-Zz91");
    let store = RedisStore::open(&wrong).unwrap();
    let e = store.read(&name()).unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::Refused, "{e:?}");
    assert!(!e.to_string().contains("wrong-Zz91"));
    assert!(!format!("{store:?}").contains("wrong-Zz91"));
}

#[test]
#[ignore = "needs redis-server"]
fn rediss_works_with_the_tests_ca_and_fails_without_it() {
    let server = RedisServer::start_tls();
    let ca = server.tls().unwrap().ca_pem.clone().into_bytes();
    let store = RedisStore::open(&server.url())
        .unwrap()
        .with_root_certificate(ca)
        .unwrap();
    assert!(store.write(&name(), 0, &record(1), TTL).unwrap());
    assert_eq!(store.read(&name()).unwrap().record.unwrap().version, 1);
    let untrusted = RedisStore::open(&server.url()).unwrap();
    let e = untrusted.read(&name()).unwrap_err();
    assert_eq!(
        e.kind,
        StoreErrorKind::Refused,
        "an unknown CA is not trusted: {e}"
    );
    assert!(e.message.contains("certificate"), "{e}");
}

/// Waits on `store` for word of `name()` heard after `since`, for at most 3 s.
fn watch(store: &RedisStore, since: Instant) -> (Watched, Duration) {
    let started = Instant::now();
    let heard = store
        .watch(&name(), since, started + Duration::from_secs(3))
        .unwrap();
    (heard, started.elapsed())
}

/// Subscribes `store` (its first watch starts the subscriber) and waits until a
/// publish reaches it, bounded.
fn subscribed(store: &RedisStore, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let channel = format!("{}:wake", store.key_of(&name()));
    loop {
        let since = Instant::now();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg("A")
            .query(&mut raw(url))
            .unwrap();
        if let Watched::Alive(_) = store
            .watch(&name(), since, since + Duration::from_millis(100))
            .unwrap()
        {
            return;
        }
        assert!(Instant::now() < deadline, "the subscriber never came up");
    }
}

#[test]
#[ignore = "needs redis-server"]
fn a_waiter_hears_the_holders_lease_extensions_record_and_release() {
    let server = RedisServer::start();
    let (holder, waiter) = (
        RedisStore::open(&server.url()).unwrap(),
        RedisStore::open(&server.url()).unwrap(),
    );
    subscribed(&waiter, &server.url());

    // A lease taken and each extension: the holder lives.
    let since = Instant::now();
    assert!(holder.lease(&name(), LeaseId(1), TTL).unwrap());
    assert!(matches!(watch(&waiter, since).0, Watched::Alive(at) if at > since));
    let since = Instant::now();
    assert!(holder.extend(&name(), LeaseId(1), TTL).unwrap());
    assert!(matches!(watch(&waiter, since).0, Watched::Alive(_)));
    // Another's extension is refused and says nothing.
    let since = Instant::now();
    assert!(!holder.extend(&name(), LeaseId(2), TTL).unwrap());
    let (heard, took) = {
        let started = Instant::now();
        let heard = waiter
            .watch(&name(), since, started + Duration::from_millis(300))
            .unwrap();
        (heard, started.elapsed())
    };
    assert!(matches!(heard, Watched::Quiet), "{heard:?}");
    assert!(took >= Duration::from_millis(290), "{took:?}");

    // The write carries the record and the store's clock: no read needed.
    let since = Instant::now();
    let before = SystemTime::now();
    let waiting = std::thread::scope(|s| {
        let w = s.spawn(|| watch(&waiter, since));
        std::thread::sleep(Duration::from_millis(100));
        assert!(holder.write(&name(), 0, &record(1), TTL).unwrap());
        w.join().unwrap()
    });
    let (Watched::Written(fetched), took) = waiting else {
        panic!("the write wakes the waiter with the record: {waiting:?}");
    };
    assert_eq!(fetched.record.unwrap(), record(1));
    assert!(
        fetched.now >= before - Duration::from_secs(1),
        "the store's clock"
    );
    assert!(
        took < Duration::from_secs(1),
        "woken, not timed out: {took:?}"
    );
    // Word heard before `since` is old news.
    let (heard, _) = {
        let started = Instant::now();
        let heard = waiter
            .watch(&name(), started, started + Duration::from_millis(100))
            .unwrap();
        (heard, ())
    };
    assert!(matches!(heard, Watched::Quiet), "{heard:?}");

    // A refused write publishes nothing; a release says "read".
    let since = Instant::now();
    assert!(!holder.write(&name(), 0, &record(2), TTL).unwrap());
    holder.release(&name(), LeaseId(1)).unwrap();
    assert!(matches!(watch(&waiter, since).0, Watched::Changed));
    // Another's release of a free lease says nothing.
    let since = Instant::now();
    holder.release(&name(), LeaseId(1)).unwrap();
    let heard = waiter
        .watch(&name(), since, Instant::now() + Duration::from_millis(200))
        .unwrap();
    assert!(matches!(heard, Watched::Quiet), "{heard:?}");
}

#[test]
#[ignore = "needs redis-server"]
fn a_forged_or_garbled_wake_up_is_at_most_a_read() {
    let server = RedisServer::start();
    let waiter = RedisStore::open(&server.url()).unwrap();
    subscribed(&waiter, &server.url());
    let channel = format!("{}:wake", waiter.key_of(&name()));
    let mut too_big = b"W 1 2 SA1 9 ".to_vec();
    too_big.resize(70 * 1024, b'p');
    for garbage in [
        &too_big[..],
        b"W",
        b"W 1 2 not a record",
        b"W 99999999999999999999999 0 SA1 1 p",
        b"\xff\x00",
        b"",
    ] {
        let since = Instant::now();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(garbage)
            .query(&mut raw(&server.url()))
            .unwrap();
        let (heard, _) = watch(&waiter, since);
        assert!(
            matches!(heard, Watched::Changed),
            "{}: {heard:?}",
            String::from_utf8_lossy(&garbage[..garbage.len().min(40)])
        );
    }
}

#[test]
#[ignore = "needs redis-server"]
fn a_subscriber_whose_connection_is_killed_comes_back() {
    let server = RedisServer::start();
    let (holder, waiter) = (
        RedisStore::open(&server.url()).unwrap(),
        RedisStore::open(&server.url()).unwrap(),
    );
    subscribed(&waiter, &server.url());
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"][..])
        .query(&mut raw(&server.url()))
        .unwrap();
    assert_eq!(killed, 1, "one subscriber connection per store");
    // Down: a watch ends quiet at its end, never early, never late.
    let since = Instant::now();
    assert!(holder.lease(&name(), LeaseId(1), TTL).unwrap());
    let heard = waiter
        .watch(&name(), since, Instant::now() + Duration::from_millis(200))
        .unwrap();
    assert!(matches!(heard, Watched::Quiet), "{heard:?}");
    // Back within its first pause (1 s), subscribed again.
    subscribed(&waiter, &server.url());
    let since = Instant::now();
    assert!(holder.write(&name(), 0, &record(1), TTL).unwrap());
    assert!(matches!(watch(&waiter, since).0, Watched::Written(_)));
}

#[test]
#[ignore = "needs redis-server"]
fn a_record_first_waited_on_later_is_subscribed_at_once() {
    let server = RedisServer::start();
    let (holder, waiter) = (
        RedisStore::open(&server.url()).unwrap(),
        RedisStore::open(&server.url()).unwrap(),
    );
    subscribed(&waiter, &server.url());
    let other = RecordName::new(&Default::default(), "another user", None);
    let since = Instant::now();
    let (heard, took) = std::thread::scope(|s| {
        let w = s.spawn(|| {
            let heard = waiter.watch(&other, since, since + Duration::from_secs(3));
            (heard, since.elapsed())
        });
        // Well inside the subscriber's half-second look up from its socket: only
        // the announcement on its own channel gets the new channel subscribed.
        std::thread::sleep(Duration::from_millis(100));
        assert!(holder.lease(&other, LeaseId(1), TTL).unwrap());
        w.join().unwrap()
    });
    assert!(matches!(heard, Ok(Watched::Alive(_))), "{heard:?}");
    assert!(took < Duration::from_millis(400), "{took:?}");
}

/// A fake Redis that answers every read (`TIME`, then `GET`) with `time` and no
/// record, on each connection, for as long as the test runs.
fn lying_clock(time: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Bounded: a few connections, each answered once.
        for con in listener.incoming().take(4) {
            let Ok(mut con) = con else { return };
            let mut buf = [0u8; 1024];
            let _ = con.read(&mut buf);
            let _ = con.write_all(time.as_bytes());
            let _ = con.write_all(b"$-1\r\n");
        }
    });
    port
}

#[test]
fn a_time_that_is_no_time_is_an_error_not_a_panic() {
    for time in [
        "*2\r\n$20\r\n18446744073709551615\r\n$1\r\n0\r\n",
        "*2\r\n$10\r\n1700000000\r\n$20\r\n18446744073709551615\r\n",
        "*2\r\n$10\r\n1700000000\r\n$7\r\n1000000\r\n",
    ] {
        let port = lying_clock(time);
        let store = RedisStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
        let e = store.read(&name()).unwrap_err();
        assert_eq!(e.kind, StoreErrorKind::Protocol, "{e}");
        assert!(e.message.contains("TIME"), "{e}");
    }
}

/// A process asking for a record's lease for the first time subscribes to its
/// wake-ups first: a write that lands right after the refusal, before the waiter
/// even starts to wait, still reaches it (the fleet's cold start, with a fast login).
#[test]
#[ignore = "needs redis-server"]
fn a_write_right_after_a_first_refusal_is_heard() {
    let server = RedisServer::start();
    let holder = RedisStore::open(&server.url()).unwrap();
    for round in 0..5 {
        let waiter = RedisStore::open(&server.url()).unwrap();
        let name = RecordName::new(&Default::default(), &format!("user {round}"), None);
        assert!(holder.lease(&name, LeaseId(1), TTL).unwrap());
        let since = Instant::now();
        assert!(!waiter.lease(&name, LeaseId(2), TTL).unwrap());
        assert!(holder.write(&name, 0, &record(1), TTL).unwrap());
        let heard = waiter
            .watch(&name, since, Instant::now() + Duration::from_secs(2))
            .unwrap();
        assert!(
            matches!(heard, Watched::Written(_)),
            "round {round}: {heard:?}"
        );
    }
}
