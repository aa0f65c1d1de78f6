//! The fleet drills (`smartling_auth_testkit::drills`) with the async provider as
//! every member, built with nothing but credentials and a store: the timeouts, the
//! deadline and the store's timings a user gets. Each member is this test binary,
//! re-run as a child with the `child_drill_member` role. `cargo xtask ci` runs them
//! (the Redis ones need a `redis-server`).

use std::sync::Mutex;

use smartling_auth_async_std::{BaseUrl, Credentials, FileStore, TokenProvider};
use smartling_auth_store::RedisStore;
use smartling_auth_testkit::drills::{self, Drill};
use smartling_auth_testkit::emulator::{SECRET, USER};

/// One drill at a time: each runs 21 processes, and its bounds are about when they
/// are served.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn drill(run: impl FnOnce() -> drills::Report, what: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    println!("async provider, {what}: {:?}", run());
}

#[test]
#[ignore = "needs redis-server"]
fn a_killed_holder_costs_at_most_one_more_login_at_the_defaults() {
    drill(
        || drills::over_redis(Drill::HolderKilled),
        "Redis, holder killed",
    );
}

#[test]
#[ignore = "needs redis-server"]
fn a_paused_holder_replaces_nothing_newer_at_the_defaults() {
    drill(
        || drills::over_redis(Drill::HolderPaused),
        "Redis, holder paused",
    );
}

#[test]
#[ignore = "needs redis-server"]
fn a_slow_server_gets_one_login_from_the_whole_fleet_at_the_defaults() {
    drill(
        || drills::over_redis(Drill::SlowServer),
        "Redis, 20 s login",
    );
}

/// The file store's lease is a lock the kernel releases when its holder dies.
#[test]
#[ignore = "a drill of 21 processes; cargo xtask ci runs it"]
fn a_killed_holder_over_files_costs_at_most_one_more_login_at_the_defaults() {
    drill(
        || drills::over_files(Drill::HolderKilled),
        "files, holder killed",
    );
}

/// A fleet member: a provider with the defaults over the store it is told, one token,
/// printed for the drill.
#[test]
#[ignore = "the child half of the drills, which run it themselves"]
fn child_drill_member() {
    let Some((base, store)) = drills::member_env() else {
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
    drills::report_token(&token);
}
