//! A secret scan across every failure case, and across successes: the user secret and
//! the tokens never reach stderr, and stdout carries them only where the command's
//! contract prints them.

mod support;

use std::time::Duration;

use smartling_auth_emulator::{Endpoint, Fault};
use smartling_auth_testkit::emulator::error_envelope;
use support::{Env, Run, SECRET, USER, run};

const WRONG_SECRET: &str = "wrong-secret-4d8e1f0a9b";

#[test]
fn no_failure_leaks_a_secret() {
    let env = Env::start();
    // Tokens the runs below may handle: a pair, a spent refresh token, a cached session.
    let pair = env.login_pair();
    let spent = env.login_pair().refresh;
    env.cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &spent)
        .assert()
        .success();
    let token = run(&mut env.with_creds(&["token"])).token();
    let cached = support::read_cache(&env.cache());
    let mut secrets = vec![
        SECRET.to_owned(),
        WRONG_SECRET.to_owned(),
        pair.access.clone(),
        pair.refresh.clone(),
        spent.clone(),
        token,
    ];
    for field in ["accessToken", "refreshToken"] {
        secrets.push(cached["plain"][field].as_str().unwrap().to_owned());
    }

    let mut failures: Vec<(&str, i32, Run)> = Vec::new();
    let mut check = |what: &'static str, code: i32, mut cmd: assert_cmd::Command| {
        failures.push((what, code, run(&mut cmd)));
    };
    // `cmd` plus environment variables, as an owned command.
    let with = |mut cmd: assert_cmd::Command, vars: &[(&str, &str)]| {
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    };
    let creds = [
        ("SMARTLING_USER_IDENTIFIER", USER),
        ("SMARTLING_USER_SECRET", SECRET),
    ];
    let wrong = [
        ("SMARTLING_USER_IDENTIFIER", USER),
        ("SMARTLING_USER_SECRET", WRONG_SECRET),
    ];
    let bare = |args: &[&str]| {
        let mut c = env.bare();
        c.args(args);
        c
    };

    // exit 2
    check(
        "secret as an argument",
        2,
        env.with_creds(&["token", SECRET]),
    );
    check(
        "secret after an unknown flag",
        2,
        env.with_creds(&["--token", &pair.refresh, "token"]),
    );
    check(
        "secret as --timeout",
        2,
        env.with_creds(&["--timeout", SECRET, "token"]),
    );
    check(
        "identifier without secret",
        2,
        with(env.cmd(&["token"]), &[("SMARTLING_USER_IDENTIFIER", USER)]),
    );
    check(
        "non-loopback http",
        2,
        with(
            bare(&["--base-url", "http://example.com", "authenticate"]),
            &creds,
        ),
    );
    let with_userinfo = format!("https://{USER}:{SECRET}@localhost");
    check(
        "user info in the URL",
        2,
        with(
            bare(&["--base-url", &with_userinfo, "authenticate"]),
            &creds,
        ),
    );
    // exit 3
    check(
        "wrong secret, authenticate",
        3,
        with(env.cmd(&["authenticate"]), &wrong),
    );
    check(
        "wrong secret, token --no-cache",
        3,
        with(
            bare(&["--base-url", &env.base_url(), "--no-cache", "token"]),
            &wrong,
        ),
    );
    check(
        "spent refresh token via env",
        3,
        with(
            env.cmd(&["refresh"]),
            &[("SMARTLING_REFRESH_TOKEN", &spent)],
        ),
    );
    let mut via_stdin = env.cmd(&["refresh"]);
    via_stdin.write_stdin(format!("{spent}\n"));
    check("spent refresh token via stdin", 3, via_stdin);
    // exit 4
    let faults = [
        error_envelope(503),
        Fault::Status {
            status: 429,
            envelope: true,
            retry_after: Some("1".into()),
        },
        Fault::Html { status: 502 },
        Fault::Html { status: 200 },
        Fault::Truncate,
        Fault::Reset,
        Fault::Oversized { bytes: 200_000 },
        // last: after its delay the emulator still spends the refresh token
        Fault::DelayHeaders(Duration::from_secs(2)),
    ];
    for fault in faults {
        env.emu.clear_faults();
        env.emu.inject(Endpoint::Refresh, fault, 100);
        let cmd = with(
            env.cmd(&["--timeout", "0.8", "refresh"]),
            &[("SMARTLING_REFRESH_TOKEN", &pair.refresh)],
        );
        check("server fault on refresh", 4, cmd);
    }
    env.emu.clear_faults();
    check(
        "connection refused",
        4,
        with(
            bare(&[
                "--base-url",
                "http://127.0.0.1:9",
                "--timeout",
                "1",
                "--no-cache",
                "token",
            ]),
            &creds,
        ),
    );

    for (what, code, run) in &failures {
        assert_eq!(run.code, *code, "{what}: {}", run.stderr);
        run.assert_failure(*code);
        run.assert_no_secret_on_stderr(&secrets);
    }
}

#[test]
fn successes_print_secrets_only_on_stdout_and_only_what_is_asked() {
    let env = Env::start();
    let login = run(&mut env.with_creds(&["authenticate"]));
    let pair = support::Pair::parse(&login.stdout);
    let refreshed = run(env
        .cmd(&["refresh"])
        .env("SMARTLING_REFRESH_TOKEN", &pair.refresh));
    let next = support::Pair::parse(&refreshed.stdout);
    let token = run(&mut env.with_creds(&["token"]));
    let warm = run(&mut env.with_creds(&["token"]));
    let secrets = vec![
        SECRET.to_owned(),
        pair.access.clone(),
        pair.refresh.clone(),
        next.access.clone(),
        next.refresh.clone(),
        token.token(),
    ];
    for run in [&login, &refreshed, &token, &warm] {
        run.assert_code(0);
        assert_eq!(run.stderr, "");
        run.assert_no_secret_on_stderr(&secrets);
        assert!(!run.stdout.contains(SECRET));
    }
    // token prints the access token and nothing else: not the refresh token.
    let cached = support::read_cache(&env.cache());
    let cached_refresh = cached["plain"]["refreshToken"].as_str().unwrap();
    assert!(!token.stdout.contains(cached_refresh));
    assert_eq!(token.stdout, format!("{}\n", token.token()));
    // refresh prints the new pair, not the token it was given.
    assert!(!refreshed.stdout.contains(&pair.refresh));
}
