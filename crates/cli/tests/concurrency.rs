//! Many processes at once: one renewal for a herd, and writers killed mid-renewal
//! never leave a torn cache file.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use smartling_auth_emulator::{Endpoint, Fault, Outcome};
use support::{BIN, Env, SECRET, USER, expire_access, is_valid_cache, run};

const HERD: usize = 20;

/// `smartling-auth token` as a plain child process, with the test's environment.
fn spawn_token(env: &Env) -> Child {
    Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET)
        .arg("--base-url")
        .arg(env.base_url())
        .arg("--cache-file")
        .arg(env.cache())
        .arg("token")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Starts `HERD` runs at once and returns their (exit code, stdout, stderr).
fn herd(env: &Env) -> Vec<(i32, String, String)> {
    let children: Vec<Child> = (0..HERD).map(|_| spawn_token(env)).collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

fn assert_one_token(results: &[(i32, String, String)]) -> String {
    for (code, _, stderr) in results {
        assert_eq!(*code, 0, "{stderr}");
        assert_eq!(stderr, "", "no diagnostics");
    }
    let first = results[0].1.clone();
    assert_eq!(first.lines().count(), 1);
    assert!(
        results.iter().all(|(_, out, _)| *out == first),
        "same token everywhere"
    );
    first.trim().to_owned()
}

#[test]
fn twenty_cold_runs_make_exactly_one_login() {
    let env = Env::start();
    // Slow the login down so the herd piles up behind the lock.
    env.emu.inject(
        Endpoint::Authenticate,
        Fault::DelayHeaders(Duration::from_millis(300)),
        1,
    );
    let token = assert_one_token(&herd(&env));
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
    assert_eq!(env.counters().total(Endpoint::Authenticate), 1);
    assert_eq!(env.counters().total(Endpoint::Refresh), 0);
    assert_eq!(support::cached_access(&env.cache()), token);
}

#[test]
fn twenty_runs_on_an_expired_cache_make_exactly_one_refresh() {
    let env = Env::start();
    run(&mut env.with_creds(&["token"])).token();
    expire_access(&env.cache());
    env.emu.inject(
        Endpoint::Refresh,
        Fault::DelayHeaders(Duration::from_millis(300)),
        1,
    );
    let token = assert_one_token(&herd(&env));
    assert_eq!(env.counters().total(Endpoint::Refresh), 1);
    assert_eq!(
        env.counters().total(Endpoint::Authenticate),
        1,
        "only the first login"
    );
    assert_eq!(support::cached_access(&env.cache()), token);
}

#[test]
fn a_writer_killed_at_any_moment_never_leaves_a_torn_cache() {
    let env = Env::start();
    let delay = Duration::from_millis(120);
    // Kill times spread over the whole run: start-up, lock, the delayed answer, the
    // write, and after the end.
    let kill_after_ms = [0u64, 2, 5, 15, 40, 110, 125, 130, 140, 160, 250];
    for (i, after) in kill_after_ms.into_iter().enumerate() {
        // Alternate a cold cache (login) and an expired one (refresh).
        let expired = i % 2 == 1 && env.cache().exists() && is_valid_cache(&env.cache());
        if expired {
            expire_access(&env.cache());
        } else {
            let _ = std::fs::remove_file(env.cache());
        }
        env.emu.clear_faults();
        env.emu
            .inject(Endpoint::Authenticate, Fault::DelayHeaders(delay), 1);
        env.emu
            .inject(Endpoint::Refresh, Fault::DelayHeaders(delay), 1);

        let mut child = spawn_token(&env);
        std::thread::sleep(Duration::from_millis(after));
        let _ = child.kill(); // SIGKILL; fails harmlessly if it already exited
        let _ = child.wait();

        let path = env.cache();
        assert!(
            !path.exists() || is_valid_cache(&path),
            "kill after {after} ms left a torn cache file"
        );
        env.emu.clear_faults();
        // The next run succeeds whatever the killed one left behind (a spent refresh
        // token included: it falls back to login).
        let token = run(&mut env.with_creds(&["token"])).token();
        assert!(is_valid_cache(&path));
        assert_eq!(support::cached_access(&path), token);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        // A killed writer's temp file is swept by the next write (and a writer that
        // finished left none).
        assert!(leftovers.is_empty(), "stale temp files: {leftovers:?}");
    }
}
