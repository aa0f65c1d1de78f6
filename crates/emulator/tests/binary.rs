//! The `smartling-auth-emulator` binary: banner, demo user, serving, SIGTERM, bad flags.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_smartling-auth-emulator");
const LIMIT: Duration = Duration::from_secs(20);

/// Kills the child if a failed assertion skips the orderly stop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Reads stdout lines on a thread so every wait is bounded.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("emulator did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn prints_banner_and_demo_user_serves_and_stops_on_sigterm() {
    let mut guard = Guard(
        Command::new(BIN)
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let rx = lines(child);
    let first = rx.recv_timeout(LIMIT).unwrap();
    let url = first.strip_prefix("listening on ").unwrap().to_owned();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    let demo = rx.recv_timeout(LIMIT).unwrap();
    let creds = demo.strip_prefix("demo user: ").unwrap();
    let (id, secret) = creds.split_once(':').unwrap();

    let mut resp = agent()
        .post(format!("{url}{AUTH}"))
        .header("Content-Type", "application/json")
        .send(&login_body(id, secret))
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.body_mut()
            .read_to_string()
            .unwrap()
            .contains("accessToken")
    );

    sigterm(child);
    let status = wait_bounded(child);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn configured_users_and_flags() {
    let mut guard = Guard(
        Command::new(BIN)
            .args([
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
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let rx = lines(child);
    let first = rx.recv_timeout(LIMIT).unwrap();
    let url = first.strip_prefix("listening on ").unwrap().to_owned();
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
    sigterm(child);
    assert_eq!(wait_bounded(child).code(), Some(0));
    // With --user, no demo line follows the banner: stdout just ends.
    assert_eq!(
        rx.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        vec!["--user", "no-colon-here"],
        vec!["--bogus"],
        vec!["--rate-limit", "ten"],
        vec!["--access-ttl", "-1"],
    ] {
        let (status, stdout, stderr) = run_to_exit(&args);
        assert_eq!(status.code(), Some(2), "{args:?}");
        assert!(stdout.is_empty());
        assert!(!stderr.is_empty());
    }
    let (_, _, stderr) = run_to_exit(&["--user", "x"]);
    assert!(stderr.contains("ID:SECRET"));
    // A malformed value may still be a secret: the error must not repeat it.
    for value in ["SeCrEt-no-colon-Zq9", ":SeCrEt-no-colon-Zq9"] {
        let (status, _, stderr) = run_to_exit(&["--user", value]);
        assert_eq!(status.code(), Some(2));
        assert!(!stderr.contains("SeCrEt-no-colon-Zq9"), "{stderr}");
    }
}

#[test]
fn version_flag() {
    let (status, stdout, _) = run_to_exit(&["--version"]);
    assert!(status.success());
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")));
}

/// Runs a command expected to exit by itself; its output is small enough for the pipes.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String, String) {
    let mut guard = Guard(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let status = wait_bounded(child);
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stdout, stderr)
}
