//! Runs this test binary again as a child process with a chosen environment: the only
//! safe way to try environment variables, since `set_var` is unsafe in edition 2024.
//! The child logs in once blocking and once async, and prints how each ended.

use std::process::{Command, Stdio};
use std::time::Duration;

use smartling_auth_testkit::child::output_within;

use smartling_auth_isahc::{BaseUrl, Client, authenticate_request};

use smartling_auth_testkit::emulator::credentials;

/// Set on the child only: the base URL it logs in against.
pub const BASE_VAR: &str = "SMARTLING_AUTH_TEST_CHILD_BASE";

/// The test that is the child's body (see `main.rs`).
const CHILD_TEST: &str = "child_logs_in_both_ways";

/// Every variable under test, removed from the child's environment unless a test sets
/// it, so that the machine's own settings cannot change an outcome.
pub const VARIABLES: [&str; 12] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "SSLKEYLOGFILE",
];

/// Bounds the child: its own requests time out well before this.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// How the child's two logins ended: `ok`, or `err <the error>`.
#[derive(Debug)]
pub struct Outcome {
    pub blocking: String,
    pub asynchronous: String,
}

impl Outcome {
    pub fn both_ok(&self) -> bool {
        self.blocking == "ok" && self.asynchronous == "ok"
    }
}

/// Runs the child against `base` with `vars` set (and the other variables under test
/// removed).
pub fn run(base: &str, vars: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in VARIABLES {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.env(BASE_VAR, base);
    let child = cmd.spawn().expect("the test binary runs again");
    let output = output_within(child, CHILD_LIMIT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = |which: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(&format!("RESULT {which} ")))
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_else(|| {
                panic!(
                    "the child printed no {which} result; stdout:\n{stdout}\nstderr:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            })
    };
    Outcome {
        blocking: line("blocking"),
        asynchronous: line("async"),
    }
}

/// The child's body: one blocking and one async login against the base URL it was given.
pub fn main() {
    let base = std::env::var(BASE_VAR).unwrap_or_else(|_| {
        panic!("{BASE_VAR} is unset: this test is the child half of the environment tests")
    });
    let base = BaseUrl::parse(&base).expect("the parent passes a valid base URL");
    let client = Client::new()
        .expect("a client")
        .timeouts(Duration::from_secs(5), Duration::from_secs(10));
    let blocking = match client.authenticate(&base, &credentials()) {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("err {e}"),
    };
    // On a line of its own: the test harness has printed the test's name already.
    println!("\nRESULT blocking {blocking}");
    let request = authenticate_request(&base, &credentials());
    let asynchronous = match futures_lite::future::block_on(client.send_async(&request)) {
        Ok(answer) if answer.status() == 200 => "ok".to_owned(),
        Ok(answer) => format!("err HTTP {}", answer.status()),
        Err(e) => format!("err {e}"),
    };
    println!("RESULT async {asynchronous}");
}
