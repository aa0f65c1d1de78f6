//! The fleet drills (`smartling_auth_testkit::drills`) with `smartling-auth token` as
//! every member, at the command's defaults: its default file cache (every member
//! shares one HOME), or Redis through `SMARTLING_AUTH_STORE`. The Redis drills need a
//! `redis-server`; `cargo xtask ci` runs them all.

mod support;

use std::process::Command;
use std::sync::Mutex;

use smartling_auth_emulator::Emulator;
use smartling_auth_testkit::drills::{self, Drill};
use smartling_auth_testkit::redis::RedisServer;
use support::{BIN, SECRET, USER};

/// One drill at a time: each runs 21 processes, and its bounds are about when they
/// are served.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn emulator() -> Emulator {
    Emulator::builder()
        .user(USER, SECRET)
        .start()
        .expect("emulator starts")
}

/// `smartling-auth --base-url … token` with credentials in the environment, a private
/// HOME (its default cache lives there) and, given one, a Redis store.
fn member(emu: &Emulator, home: &std::path::Path, redis: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET)
        .args(["--base-url", &emu.base_url(), "token"]);
    if let Some(url) = redis {
        cmd.env("SMARTLING_AUTH_STORE", url);
    }
    cmd
}

/// Runs `drill` with CLI members over Redis (`Some`) or the default cache (`None`).
fn drill(drill: Drill, redis: Option<&RedisServer>) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (emu, home) = (emulator(), tempfile::tempdir().unwrap());
    let url = redis.map(RedisServer::url);
    let run = || drill.run(&emu, || member(&emu, home.path(), url.as_deref()));
    let Some(server) = redis else {
        println!("CLI, {drill:?}, over the default cache: {:?}", run());
        return;
    };
    let (report, per_member, commands) = drills::counting_commands(server, drill, run);
    println!(
        "CLI, {drill:?}, over Redis: {report:?}, {per_member:.1} commands per member: {commands:?}"
    );
    if matches!(drill, Drill::SlowServer | Drill::ColdStart) {
        assert!(
            per_member <= drills::COMMANDS_PER_MEMBER,
            "{per_member:.1} Redis commands per member: {commands:?}"
        );
    }
    if let (Drill::HolderPaused, Some(redis)) = (drill, redis) {
        // The waiter that took over wrote version 1; the holder's late write (over
        // version 0) was refused.
        assert_eq!(redis.record_versions(), [1]);
    }
}

#[test]
#[ignore = "needs redis-server"]
fn a_killed_holder_costs_at_most_one_more_login_over_redis() {
    drill(Drill::HolderKilled, Some(&RedisServer::start()));
}

#[test]
#[ignore = "needs redis-server"]
fn a_paused_holder_replaces_nothing_newer_over_redis() {
    drill(Drill::HolderPaused, Some(&RedisServer::start()));
}

#[test]
#[ignore = "needs redis-server"]
fn a_slow_server_gets_one_login_from_the_whole_fleet_over_redis() {
    drill(Drill::SlowServer, Some(&RedisServer::start()));
}

#[test]
#[ignore = "needs redis-server"]
fn a_cold_fleet_costs_redis_a_few_commands_per_process() {
    drill(Drill::ColdStart, Some(&RedisServer::start()));
}

#[test]
#[ignore = "needs redis-server"]
fn lost_wake_ups_cost_one_quiet_wait_over_redis() {
    drill(
        Drill::LostWakeups,
        Some(&RedisServer::start_without_publish()),
    );
}

#[test]
#[ignore = "a drill of 21 processes; cargo xtask ci runs it"]
fn a_killed_holder_costs_at_most_one_more_login_over_the_default_cache() {
    drill(Drill::HolderKilled, None);
}

#[test]
#[ignore = "a drill of 21 processes; cargo xtask ci runs it"]
fn a_paused_holder_costs_at_most_one_more_login_over_the_default_cache() {
    drill(Drill::HolderPaused, None);
}

#[test]
#[ignore = "a drill of 21 processes; cargo xtask ci runs it"]
fn a_slow_server_gets_one_login_from_the_whole_fleet_over_the_default_cache() {
    drill(Drill::SlowServer, None);
}
