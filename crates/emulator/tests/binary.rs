//! The `smartling-auth-emulator` binary: banner, admin token, demo user, users and
//! token from the environment, remote binds, serving, SIGTERM, bad flags.

mod common;

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;

use common::child::{BIN, LIMIT, Running};
use common::*;

const TOKEN_VAR: &str = "SMARTLING_EMULATOR_ADMIN_TOKEN";
const USER_VAR: &str = "SMARTLING_EMULATOR_USER";

/// The binary with `args` and `env`, and nothing inherited for the variables it reads.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove(TOKEN_VAR)
        .env_remove(USER_VAR);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

fn login_status(url: &str, id: &str, secret: &str) -> u16 {
    agent()
        .post(format!("{url}{AUTH}"))
        .header("Content-Type", "application/json")
        .send(&login_body(id, secret))
        .unwrap()
        .status()
        .as_u16()
}

fn counters_status(url: &str, token: Option<&str>) -> u16 {
    let mut request = agent().get(format!("{url}/_emulator/counters"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    request.call().unwrap().status().as_u16()
}

#[test]
fn prints_banner_token_and_demo_user_serves_and_stops_on_sigterm() {
    let mut emu = Running::spawn(command(&["--bind", "127.0.0.1:0"], &[]));
    let first = emu.line();
    let url = first.strip_prefix("listening on ").unwrap().to_owned();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    let second = emu.line();
    let token = second.strip_prefix("admin token: ").unwrap().to_owned();
    assert_eq!(token.len(), 43, "{token}");
    let demo = emu.line();
    let creds = demo.strip_prefix("demo user: ").unwrap();
    let (id, secret) = creds.split_once(':').unwrap();

    assert_eq!(login_status(&url, id, secret), 200);
    assert_eq!(counters_status(&url, Some(&token)), 200);
    assert_eq!(counters_status(&url, None), 401);

    emu.sigterm();
    assert_eq!(emu.wait().code(), Some(0));
}

#[test]
fn configured_users_and_flags() {
    let mut emu = Running::spawn(command(
        &[
            "--user",
            "me:my-secret",
            "--access-ttl",
            "60",
            "--refresh-ttl",
            "90",
            "--session-ttl",
            "600",
            "--no-single-use-refresh",
            "--rate-limit",
            "100/1",
            "--max-connections",
            "64",
            "--idle-timeout",
            "30",
            "--workers",
            "1",
        ],
        &[],
    ));
    let url = format!("http://{}", emu.addr());
    let mut resp = agent()
        .post(format!("{url}{AUTH}"))
        .send(&login_body("me", "my-secret"))
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let data = &json["response"]["data"];
    assert_eq!(
        (
            data["expiresIn"].as_u64(),
            data["refreshExpiresIn"].as_u64()
        ),
        (Some(60), Some(90))
    );
    let refresh = data["refreshToken"].as_str().unwrap();
    for _ in 0..2 {
        let resp = agent()
            .post(format!("{url}{REFRESH}"))
            .send(&refresh_body(refresh))
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert!(emu.line().starts_with("admin token: "));
    emu.sigterm();
    assert_eq!(emu.wait().code(), Some(0));
    // With --user, no demo line follows the token: stdout just ends.
    assert_eq!(
        emu.lines.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn user_and_admin_token_from_the_environment() {
    let token = "preset-admin-token-0123456789";
    let mut emu = Running::spawn(command(
        &[],
        &[(USER_VAR, "env-user:env-secret"), (TOKEN_VAR, token)],
    ));
    let url = format!("http://{}", emu.addr());
    assert_eq!(emu.line(), format!("admin token: {token}"));
    assert_eq!(login_status(&url, "env-user", "env-secret"), 200);
    assert_eq!(counters_status(&url, Some(token)), 200);
    assert_eq!(
        counters_status(&url, Some("preset-admin-token-012345678")),
        401
    );
    emu.sigterm();
    assert_eq!(emu.wait().code(), Some(0));
    // A user came from the environment: no demo line.
    assert_eq!(
        emu.lines.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );

    // --user wins over the environment.
    let emu = Running::spawn(command(
        &["--user", "flag-user:flag-secret"],
        &[(USER_VAR, "env-user:env-secret")],
    ));
    let url = format!("http://{}", emu.addr());
    assert_eq!(login_status(&url, "flag-user", "flag-secret"), 200);
    assert_eq!(login_status(&url, "env-user", "env-secret"), 401);
}

/// Servers in tests stay on loopback, so only the refusal runs a process; the
/// allowed path's warning is a unit test in `cli.rs`.
#[test]
fn a_remote_bind_needs_allow_remote() {
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let (status, stdout, stderr) = run_to_exit(command(&["--bind", bind], &[]));
        assert_eq!(status.code(), Some(2), "{bind}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("--allow-remote"), "{stderr}");
    }
    // Loopback needs nothing, by name or by address.
    let emu = Running::spawn(command(&["--bind", "localhost:0"], &[]));
    assert!(emu.addr().ip().is_loopback());
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        vec!["--user", "no-colon-here"],
        vec!["--bogus"],
        vec!["--rate-limit", "ten"],
        vec!["--access-ttl", "-1"],
        vec!["--max-connections", "0"],
        vec!["--idle-timeout", "0"],
        vec!["--workers", "0"],
        vec!["--bind", "not-an-address"],
    ] {
        let (status, stdout, stderr) = run_to_exit(command(&args, &[]));
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(!stderr.is_empty());
    }
    let (_, _, stderr) = run_to_exit(command(&["--user", "x"], &[]));
    assert!(stderr.contains("ID:SECRET"));
    // A malformed value may still be a secret: the error must not repeat it.
    for value in ["SeCrEt-no-colon-Zq9", ":SeCrEt-no-colon-Zq9"] {
        let (status, _, stderr) = run_to_exit(command(&["--user", value], &[]));
        assert_eq!(status.code(), Some(2));
        assert!(stderr.contains("--user"), "{stderr}");
        assert!(!stderr.contains("SeCrEt-no-colon-Zq9"), "{stderr}");

        let (status, _, stderr) = run_to_exit(command(&[], &[(USER_VAR, value)]));
        assert_eq!(status.code(), Some(2));
        assert!(stderr.contains(USER_VAR), "{stderr}");
        assert!(!stderr.contains("SeCrEt-no-colon-Zq9"), "{stderr}");
    }
    for token in ["ShortSeCrEt", "SeCrEt with spaces in the token"] {
        let (status, stdout, stderr) = run_to_exit(command(&[], &[(TOKEN_VAR, token)]));
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("admin token"), "{stderr}");
        assert!(!stderr.contains("SeCrEt"), "{stderr}");
    }
}

#[test]
fn help_names_the_environment_but_never_its_values() {
    let (status, stdout, _) = run_to_exit(command(
        &["--help"],
        &[
            (USER_VAR, "help-user:HeLp-SeCrEt"),
            (TOKEN_VAR, "HeLp-admin-token-value"),
        ],
    ));
    assert!(status.success());
    assert!(
        stdout.contains(USER_VAR) && stdout.contains(TOKEN_VAR),
        "{stdout}"
    );
    assert!(stdout.contains("--allow-remote"));
    assert!(!stdout.contains("HeLp-SeCrEt"), "{stdout}");
    assert!(!stdout.contains("HeLp-admin-token-value"), "{stdout}");
}

#[test]
fn version_flag() {
    let (status, stdout, _) = run_to_exit(command(&["--version"], &[]));
    assert!(status.success());
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")));
}

/// Runs a command expected to exit by itself; its output is small enough for the pipes.
fn run_to_exit(command: Command) -> (ExitStatus, String, String) {
    let mut emu = Running::spawn_with_stderr(command, Stdio::piped());
    let status = emu.wait();
    let stdout: Vec<String> = emu.lines.iter().collect();
    let mut stderr = String::new();
    emu.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stdout.join("\n"), stderr)
}
