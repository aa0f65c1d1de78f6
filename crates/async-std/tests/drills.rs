//! The fleet drills (`smartling_auth_testkit::drills`) with the async provider as
//! every member, built with nothing but credentials and a store: the timeouts, the
//! deadline and the store's timings a user gets. Each member is this test binary,
//! re-run as a child with the `child_drill_member` role. The drills need a
//! `redis-server`; `cargo xtask ci` runs them.

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use smartling_auth_async_std::{BaseUrl, Credentials, FileStore, TokenProvider};
use smartling_auth_store::RedisStore;
use smartling_auth_testkit::drills;
use smartling_auth_testkit::emulator::{SECRET, USER, emulator};
use smartling_auth_testkit::redis::RedisServer;

/// One drill at a time: each runs 21 processes, and its bounds are about when they
/// are served.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn member(base: &str, store: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_drill_member",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("DRILL_BASE", base)
    .env("DRILL_STORE", store);
    cmd
}

#[test]
#[ignore = "needs redis-server"]
fn a_killed_holder_costs_at_most_one_more_login_at_the_defaults() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let redis = RedisServer::start();
    let emu = emulator();
    let report = drills::holder_killed(&emu, Duration::from_secs(3), || {
        member(&emu.base_url(), &redis.url())
    });
    println!("async provider over Redis, holder killed: {report:?}");
}

#[test]
#[ignore = "needs redis-server"]
fn a_paused_holder_replaces_nothing_newer_at_the_defaults() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let redis = RedisServer::start();
    let emu = emulator();
    let report = drills::holder_paused(&emu, Duration::from_secs(3), || {
        member(&emu.base_url(), &redis.url())
    });
    println!("async provider over Redis, holder paused: {report:?}");
    // The waiter that took over wrote version 1; the holder's late write (over
    // version 0) was refused.
    assert_eq!(redis.record_versions(), [1]);
}

#[test]
#[ignore = "needs redis-server"]
fn a_slow_server_gets_one_login_from_the_whole_fleet_at_the_defaults() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let redis = RedisServer::start();
    let emu = emulator();
    let report = drills::slow_server(&emu, Duration::from_secs(20), || {
        member(&emu.base_url(), &redis.url())
    });
    println!("async provider over Redis, 20 s login: {report:?}");
}

/// The file store's lease is a lock the kernel releases when its holder dies.
#[test]
#[ignore = "a drill of 21 processes; cargo xtask ci runs it"]
fn a_killed_holder_over_files_costs_at_most_one_more_login_at_the_defaults() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file:{}", dir.path().join("tokens").display());
    let emu = emulator();
    let report = drills::holder_killed(&emu, Duration::from_secs(3), || {
        member(&emu.base_url(), &store)
    });
    println!("async provider over files, holder killed: {report:?}");
}

/// A fleet member: a provider with the defaults over the store it is told, one token,
/// printed for the drill.
#[test]
#[ignore = "the child half of the drills, which run it themselves"]
fn child_drill_member() {
    let (Ok(base), Ok(store)) = (std::env::var("DRILL_BASE"), std::env::var("DRILL_STORE")) else {
        return;
    };
    let builder = TokenProvider::builder(BaseUrl::parse(&base).unwrap())
        .credentials(Credentials::new(USER, SECRET));
    let builder = match store.strip_prefix("file:") {
        Some(dir) => builder.store(FileStore::new(dir)),
        None => builder.store(RedisStore::open(&store).unwrap()),
    };
    let provider = builder.build().unwrap();
    let token = smol::block_on(provider.access_token()).expect("served");
    println!("drill-token={}", token.secret());
}
