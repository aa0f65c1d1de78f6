//! Each command and each exit code, against the emulator.

mod support;

use std::time::Duration;

use predicates::prelude::*;
use smartling_auth_emulator::{Endpoint, Fault, Outcome};
use smartling_auth_testkit::emulator::error_envelope;
use support::{Env, Pair, SECRET, USER, run};

#[test]
fn authenticate_prints_the_pair_with_the_api_field_names() {
    let env = Env::start();
    let pair = env.login_pair();
    let obj = pair.json.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accessToken",
            "expiresIn",
            "refreshExpiresIn",
            "refreshToken",
            "tokenType"
        ]
    );
    assert_eq!(obj["expiresIn"], 480);
    assert_eq!(obj["refreshExpiresIn"], 3660);
    assert_eq!(obj["tokenType"], "Bearer");
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
    // authenticate neither reads nor writes the cache
    assert!(!env.cache().exists());
}

#[test]
fn refresh_takes_the_token_from_the_environment() {
    let env = Env::start();
    let first = env.login_pair();
    let run = run(env
        .cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &first.refresh));
    run.assert_code(0);
    let second = Pair::parse(&run.stdout);
    assert_ne!(second.refresh, first.refresh, "the refresh token rotates");
    assert_eq!(second.json["expiresIn"], 480);
    assert_eq!(env.count(Endpoint::Refresh, Outcome::Success), 1);
}

#[test]
fn refresh_takes_the_token_from_the_first_line_of_stdin() {
    let env = Env::start();
    let first = env.login_pair();
    let run = run(env
        .cmd(&["refresh"])
        .write_stdin(format!("{}\nignored second line\n", first.refresh)));
    run.assert_code(0);
    assert_ne!(Pair::parse(&run.stdout).refresh, first.refresh);
}

#[test]
fn a_refused_refresh_token_exits_3_naming_status_and_code() {
    let env = Env::start();
    let first = env.login_pair();
    // single use: the second exchange of the same token is refused
    env.cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &first.refresh)
        .assert()
        .success();
    let run = run(env
        .cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &first.refresh));
    run.assert_failure(3);
    assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
    assert!(
        run.stderr.contains("AUTHENTICATION_ERROR"),
        "{}",
        run.stderr
    );
    // refresh never falls back to a login, even with credentials around
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
}

#[test]
fn wrong_credentials_exit_3() {
    let env = Env::start();
    for command in ["authenticate", "token"] {
        let run = run(env
            .cmd(&[command])
            .env("SMARTLING_USER_IDENTIFIER", USER)
            .env("SMARTLING_USER_SECRET", "wrong-secret-value"));
        run.assert_failure(3);
        assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
        assert!(!run.stderr.contains("wrong-secret-value"));
    }
    // a refused login is not retried
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Rejected), 2);
}

#[test]
fn token_cold_then_warm() {
    let env = Env::start();
    let cold = run(&mut env.with_creds(&["token"])).token();
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);
    let before = env.counters();
    let warm = run(&mut env.with_creds(&["token"])).token();
    assert_eq!(cold, warm);
    assert_eq!(env.counters(), before, "a warm token makes no request");
    // the printed token is the cached one, and the emulator accepts it
    assert_eq!(support::cached_access(&env.cache()), cold);
}

#[test]
fn usage_errors_exit_2_without_a_request() {
    let env = Env::start();
    let cases: Vec<(&str, assert_cmd::Command)> = vec![
        ("unknown flag", env.with_creds(&["--bogus", "token"])),
        ("no command", env.with_creds(&[])),
        ("unknown command", env.with_creds(&["print-token"])),
        (
            "a secret as an argument",
            env.with_creds(&["token", SECRET]),
        ),
        (
            "no credentials for authenticate",
            env.cmd(&["authenticate"]),
        ),
        ("no credentials for token", env.cmd(&["token"])),
        ("no credentials, --no-cache", {
            let mut c = env.bare();
            c.args(["--base-url", &env.base_url(), "--no-cache", "token"]);
            c
        }),
        ("no refresh token on stdin", {
            let mut c = env.cmd(&["refresh"]);
            c.write_stdin("");
            c
        }),
        ("identifier without secret", {
            let mut c = env.cmd(&["token"]);
            c.env("SMARTLING_USER_IDENTIFIER", USER);
            c
        }),
        ("secret without identifier", {
            let mut c = env.cmd(&["authenticate"]);
            c.env("SMARTLING_USER_SECRET", SECRET);
            c
        }),
        (
            "--cache-file with --no-cache",
            env.with_creds(&["--no-cache", "token"]),
        ),
        ("timeout zero", env.with_creds(&["--timeout", "0", "token"])),
        (
            "timeout negative",
            env.with_creds(&["--timeout", "-3", "token"]),
        ),
        (
            "timeout not a number",
            env.with_creds(&["--timeout", "soon", "token"]),
        ),
        ("timeout missing", env.with_creds(&["token", "--timeout"])),
        ("non-loopback http", {
            let mut c = env.bare();
            c.args(["--base-url", "http://example.com", "--no-cache", "token"])
                .env("SMARTLING_USER_IDENTIFIER", USER)
                .env("SMARTLING_USER_SECRET", SECRET);
            c
        }),
        ("non-loopback http from the environment", {
            let mut c = env.bare();
            c.args(["--no-cache", "authenticate"])
                .env("SMARTLING_BASE_URL", "http://10.1.2.3:8080")
                .env("SMARTLING_USER_IDENTIFIER", USER)
                .env("SMARTLING_USER_SECRET", SECRET);
            c
        }),
    ];
    for (what, mut cmd) in cases {
        let run = run(&mut cmd);
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        run.assert_failure(2)
            .assert_no_secret_on_stderr(&[SECRET.to_owned()]);
    }
    assert_eq!(env.counters(), Default::default(), "no request was made");
    assert!(!env.cache().exists());
}

#[test]
fn help_and_version_exit_0() {
    let env = Env::start();
    env.bare()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("smartling-auth "));
    env.bare()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
}

#[test]
fn server_errors_exit_4_after_retries() {
    let env = Env::start();
    env.emu
        .inject(Endpoint::Authenticate, error_envelope(503), 100);
    let run = run(&mut env.with_creds(&["token"]));
    run.assert_failure(4);
    assert!(run.stderr.contains("HTTP 503"), "{}", run.stderr);
    assert!(
        run.stderr.contains("MAINTENANCE_MODE_ERROR"),
        "{}",
        run.stderr
    );
    assert!(
        env.count(Endpoint::Authenticate, Outcome::Faulted) > 1,
        "it retried"
    );
    assert!(!env.cache().exists());
}

#[test]
fn connection_refused_exits_4() {
    let env = Env::start();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = env.bare();
    cmd.args(["--base-url", &format!("http://127.0.0.1:{port}")])
        .args(["--timeout", "2", "--no-cache", "authenticate"])
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    let run = run(&mut cmd);
    run.assert_failure(4);
    assert!(run.stderr.contains("connect"), "{}", run.stderr);
}

#[test]
fn malformed_and_oversized_answers_exit_4() {
    let env = Env::start();
    let faults = [
        Fault::Html { status: 200 },
        Fault::Oversized { bytes: 1 << 20 },
        Fault::Truncate,
        Fault::Html { status: 502 },
    ];
    for fault in faults {
        env.emu.clear_faults();
        env.emu.inject(Endpoint::Authenticate, fault.clone(), 100);
        let run = run(&mut env.with_creds(&["--timeout", "2", "authenticate"]));
        assert_eq!(run.code, 4, "{fault:?}: {}", run.stderr);
        run.assert_failure(4);
    }
    env.emu.clear_faults();
    env.emu
        .inject(Endpoint::Refresh, Fault::Oversized { bytes: 1 << 20 }, 1);
    let pair = env.login_pair();
    let run = run(env
        .cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &pair.refresh));
    run.assert_failure(4);
    assert!(run.stderr.contains("limit"), "{}", run.stderr);
}

#[test]
fn rate_limited_with_retry_after_then_success_exits_0() {
    let env = Env::start();
    env.emu.inject(
        Endpoint::Authenticate,
        Fault::Status {
            status: 429,
            envelope: true,
            retry_after: Some("1".into()),
        },
        1,
    );
    let run = run(&mut env.with_creds(&["authenticate"]));
    run.assert_code(0);
    Pair::parse(&run.stdout);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Faulted), 1);
    assert_eq!(env.count(Endpoint::Authenticate, Outcome::Success), 1);

    // the same for refresh, which the transient answer must not burn
    let pair = Pair::parse(&run.stdout);
    env.emu.inject(
        Endpoint::Refresh,
        Fault::Status {
            status: 429,
            envelope: true,
            retry_after: Some("1".into()),
        },
        1,
    );
    env.cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &pair.refresh)
        .assert()
        .success();
}

#[test]
fn a_timeout_shorter_than_the_server_exits_4() {
    let env = Env::start();
    env.emu.inject(
        Endpoint::Authenticate,
        Fault::DelayHeaders(Duration::from_secs(3)),
        10,
    );
    let run = run(&mut env.with_creds(&["--timeout", "0.5", "token"]));
    run.assert_failure(4);
    assert!(
        run.stderr.contains("timeout") || run.stderr.contains("timed out"),
        "{}",
        run.stderr
    );
    env.emu.clear_faults();
}

#[test]
fn options_may_follow_the_command() {
    let env = Env::start();
    let mut cmd = env.bare();
    cmd.args(["token", "--base-url", &env.base_url(), "--no-cache"])
        .env("SMARTLING_USER_IDENTIFIER", USER)
        .env("SMARTLING_USER_SECRET", SECRET);
    run(&mut cmd).token();
}

#[test]
fn an_empty_base_url_variable_counts_as_unset() {
    let env = Env::start();
    let mut cmd = env.bare();
    cmd.args(["--no-cache", "token"])
        .env("SMARTLING_BASE_URL", "");
    let run = run(&mut cmd);
    run.assert_failure(2);
    assert!(run.stderr.contains("missing credentials"), "{}", run.stderr);
}
