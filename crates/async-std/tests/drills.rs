//! The fleet drills (`smartling_auth_testkit::drills`) with the async provider as
//! every member, built with nothing but credentials and a store: the timeouts, the
//! deadline and the store's timings a user gets. Each member is this test binary,
//! re-run as a child with the `child_drill_member` role. `cargo xtask ci` runs them.

use smartling_auth_async_std::{BaseUrl, Credentials, FileStore, TokenProvider};
use smartling_auth_store::RedisStore;
use std::sync::Arc;

use smartling_auth_testkit::drills::{self, Counted};
use smartling_auth_testkit::emulator::{SECRET, USER};

/// A killed holder, a paused holder, a 20 s login, a cold start and lost wake-ups
/// over Redis, and a killed holder and a cold start over files: at most one more
/// login, nothing newer replaced, one login for a slow server, every member served in
/// time with a live token, at most 10 Redis commands and a few file reads per member
/// for a renewal.
#[test]
#[ignore = "needs redis-server"]
fn the_fleet_drills_pass_at_the_defaults() {
    drills::all("async provider");
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
    let files = store
        .strip_prefix("file:")
        .map(|dir| Arc::new(Counted::new(FileStore::new(dir))));
    let builder = match &files {
        Some(files) => builder.store(files.clone()),
        None => builder.store(RedisStore::open(&store).unwrap()),
    };
    let provider = builder.build().unwrap();
    let token = smol::block_on(provider.access_token()).expect("served");
    drills::report_token(&token);
    if let Some(files) = files {
        files.report_reads();
    }
}
