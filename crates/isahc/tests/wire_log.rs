//! No raw request or answer byte reaches any log or tracing output, on any thread, in
//! the worst logging setups an application can have. This build has isahc's `log`
//! feature on (another crate may turn it on), and with it tracing's: isahc then turns
//! curl's verbose mode on for every request and writes the raw bytes (`isahc::wire`)
//! from its agent thread. Each setup runs in a child process of its own, since loggers
//! and the global subscriber are set once per process.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use smartling_auth_testkit::child::output_within;

use smartling_auth_isahc::{Client, TokenProvider, authenticate_request};
use smartling_auth_testkit::emulator::*;
use smartling_auth_testkit::logs::LogCapture;
use tracing::subscriber::NoSubscriber;

/// Names the setup a child process runs.
const SETUP_VAR: &str = "SMARTLING_AUTH_WIRE_LOG_SETUP";
const CHILD_TEST: &str = "child_runs_one_setup";
const CHILD_LIMIT: Duration = Duration::from_secs(120);

#[test]
fn a_log_logger_and_a_tracing_subscriber_on_every_thread_see_no_raw_bytes() {
    run_setup("log+tracing");
}

#[test]
fn a_log_logger_alone_sees_no_raw_bytes() {
    run_setup("log");
}

fn run_setup(setup: &str) {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .env(SETUP_VAR, setup)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs again");
    let output = output_within(child, CHILD_LIMIT);
    assert!(
        output.status.success(),
        "setup {setup}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran its setup"
    );
}

/// A `log` logger that wants every record, from every thread, and keeps it.
struct Logger(Mutex<Vec<String>>);

static LOGGER: Logger = Logger(Mutex::new(Vec::new()));

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!(
            "{} {} [{}] {}",
            record.level(),
            record.target(),
            std::thread::current().name().unwrap_or("?"),
            record.args()
        );
        self.0.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

/// What only raw request or answer bytes hold, found in `output`. The secret's first
/// characters stand for every form of it: raw, JSON-escaped, or byte-escaped as
/// isahc's wire log writes it.
fn raw_bytes_in(output: &str, tokens: &[String]) -> Vec<String> {
    let secret_head = SECRET_HEAD;
    let mut needles = vec![
        secret_head.to_owned(),
        "userIdentifier".to_owned(),
        "userSecret".to_owned(),
        "refreshToken".to_owned(),
        "accessToken".to_owned(),
        "HTTP/1.1".to_owned(),
        "/auth-api/v2/".to_owned(),
        "isahc::wire".to_owned(),
    ];
    // A token's signature, its last characters, is what no other token shares.
    needles.extend(tokens.iter().map(|t| t[t.len() - 24..].to_owned()));
    needles.dedup();
    needles.retain(|n| output.contains(n.as_str()));
    needles
}

/// Every way this crate sends: a client blocking and async, a ready-made isahc client,
/// the process-wide default client, and a provider renewing from another thread.
/// Answers every token seen.
fn send_every_way() -> Vec<String> {
    let emu = emulator();
    let base = base(&emu);
    let mut tokens = Vec::new();
    let mut keep = |pair: &smartling_auth_isahc::TokenPair| {
        tokens.push(pair.access_token.secret().to_owned());
        tokens.push(pair.refresh_token.secret().to_owned());
    };

    let client = Client::new().unwrap();
    let pair = client.authenticate(&base, &credentials()).unwrap();
    keep(&client.refresh(&base, &pair.refresh_token).unwrap());
    keep(&pair);
    let answer = futures_lite::future::block_on(
        client.send_async(&authenticate_request(&base, &credentials())),
    )
    .unwrap();
    keep(&smartling_auth_isahc::parse_token_response(&answer).unwrap());
    let ready_made = Client::with_http_client(isahc::HttpClient::new().unwrap());
    keep(&ready_made.authenticate(&base, &credentials()).unwrap());
    keep(&smartling_auth_isahc::authenticate(&base, &credentials()).unwrap());

    let provider = TokenProvider::builder(base.clone())
        .credentials(credentials())
        .build()
        .unwrap();
    let first = provider.access_token().unwrap();
    provider.invalidate(&first);
    let p = provider.clone();
    let second = std::thread::spawn(move || p.access_token().unwrap())
        .join()
        .unwrap();
    tokens.extend([first.secret(), second.secret()].map(str::to_owned));
    tokens.push(
        provider
            .snapshot()
            .unwrap()
            .refresh_token
            .secret()
            .to_owned(),
    );
    tokens
}

/// The child half of the tests above: runs the setup its environment names.
#[test]
#[ignore = "the child half of the wire log tests, which run it themselves"]
fn child_runs_one_setup() {
    let setup = std::env::var(SETUP_VAR).expect("run by the wire log tests only");
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let capture = LogCapture::new();
    if setup == "log+tracing" {
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_thread_names(true)
                .with_writer(capture.clone())
                .finish(),
        )
        .unwrap();
        // tracing's `log-always` feature would copy every event, isahc's wire log
        // included, to the `log` logger whatever this crate does: the one setup the
        // guard cannot cover (see `Client`'s docs). Say so if it is ever turned on.
        tracing::info!(target: "wire_log_probe", "probe");
        assert!(
            !LOGGER
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.contains("wire_log_probe")),
            "tracing's `log-always` feature is on in this build"
        );
    }
    // isahc turns curl's verbose mode on unless its request span, made under this
    // crate's `NoSubscriber`, is `Span::none()`. With tracing's `log` feature even a
    // disabled span is not: the risk this test is about is live.
    let verbose = tracing::subscriber::with_default(NoSubscriber::default(), || {
        !tracing::debug_span!("probe").is_none()
    });
    assert!(
        verbose,
        "tracing's `log` feature is off in this build: curl would not be verbose, and \
         the test would prove nothing"
    );

    let tokens = send_every_way();

    let traced = capture.text();
    let logged = LOGGER.0.lock().unwrap().join("\n");
    if setup == "log+tracing" {
        assert!(
            traced.contains("sending"),
            "our own events are there:\n{traced}"
        );
    }
    let in_traces = raw_bytes_in(&traced, &tokens);
    let in_logs = raw_bytes_in(&logged, &tokens);
    assert!(
        in_traces.is_empty() && in_logs.is_empty(),
        "raw request or answer bytes reached the output: {in_traces:?} in tracing \
         ({} lines), {in_logs:?} in log ({} records)",
        traced.lines().count(),
        LOGGER.0.lock().unwrap().len()
    );
}
