//! Wall time and peak memory of `smartling-auth` against baselines, on a local
//! emulator. Not a test: a measurement to run by hand or from the task runner.
//!
//! ```text
//! cargo build --release -p smartling-auth-cli
//! cargo run --release -p smartling-auth-cli --example bench_cli -- target/release/smartling-auth
//! ```
//!
//! The binary comes from the first argument or `SMARTLING_AUTH_BIN`; `BENCH_RUNS`
//! sets the timed runs per case (default 30, after 3 warm-ups). Cases:
//! - `smartling-auth refresh` against `curl` making the same POST (each run gets a
//!   fresh refresh token: the emulator's are single use);
//! - `smartling-auth token` on a warm cache against `smartling-auth --version`.
//!
//! Peak memory is the children's maximum resident set size, read from
//! `/usr/bin/time -f %M` when it exists.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use smartling_auth_emulator::Emulator;
use smartling_auth_isahc::{BaseUrl, Client, Credentials};

const USER: &str = "bench-user";
const SECRET: &str = "bench-secret";
const WARMUPS: usize = 3;
const MEMORY_RUNS: usize = 5;
const TIME: &str = "/usr/bin/time";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let Some(bin) = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("SMARTLING_AUTH_BIN"))
        .map(PathBuf::from)
    else {
        eprintln!("usage: bench_cli PATH-TO-smartling-auth   (or set SMARTLING_AUTH_BIN)");
        return ExitCode::from(2);
    };
    match run(&bin) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_cli: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One way to run a process: program, arguments, environment, and its stdin.
struct Case {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Case {
    fn command(&self, wrapper: Option<&str>) -> Command {
        let mut cmd = match wrapper {
            Some(time) => {
                let mut c = Command::new(time);
                c.args(["-f", "%M"]).arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs once, feeding `input`, and returns the wall time from spawn to exit and,
    /// under `/usr/bin/time`, the peak RSS in KiB.
    fn once(&self, input: &[u8], wrapper: Option<&str>) -> Result<(Duration, Option<u64>)> {
        let start = Instant::now();
        let mut child = self.command(wrapper).spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input)?;
        }
        let out = child.wait_with_output()?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} failed: {}",
                self.program.display(),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            )
            .into());
        }
        let rss = wrapper.and_then(|_| {
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
        });
        Ok((elapsed, rss))
    }
}

/// Timings and memory of one case.
struct Measured {
    name: String,
    median: Duration,
    mean: Duration,
    rss_kib: Option<u64>,
}

fn measure(
    name: &str,
    case: &Case,
    runs: usize,
    mut input: impl FnMut() -> Result<Vec<u8>>,
) -> Result<Measured> {
    for _ in 0..WARMUPS {
        case.once(&input()?, None)?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        // Make the input first: minting a token is not part of the measured run.
        let bytes = input()?;
        times.push(case.once(&bytes, None)?.0);
    }
    let time = Path::new(TIME).exists().then_some(TIME);
    let mut rss = Vec::new();
    if time.is_some() {
        for _ in 0..MEMORY_RUNS {
            let bytes = input()?;
            rss.extend(case.once(&bytes, time)?.1);
        }
    }
    times.sort_unstable();
    rss.sort_unstable();
    Ok(Measured {
        name: name.to_owned(),
        median: times[times.len() / 2],
        mean: times.iter().sum::<Duration>() / times.len() as u32,
        rss_kib: rss.get(rss.len() / 2).copied(),
    })
}

fn run(bin: &Path) -> Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(30);
    let emu = Emulator::builder().user(USER, SECRET).start()?;
    let base = BaseUrl::parse(&emu.base_url())?;
    let creds = Credentials::new(USER, SECRET);
    let client = Client::new()?;
    let mint = || -> Result<String> {
        Ok(client
            .authenticate(&base, &creds)?
            .refresh_token
            .secret()
            .to_owned())
    };
    let home = tempfile::tempdir()?;
    let cache = home.path().join("token.json");

    let refresh = Case {
        program: bin.to_owned(),
        args: vec!["--base-url".into(), emu.base_url(), "refresh".into()],
        env: vec![("HOME".into(), home.path().display().to_string())],
    };
    let curl = Case {
        program: "curl".into(),
        args: [
            "-s",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "@-",
        ]
        .into_iter()
        .map(String::from)
        .chain([emu.url("/auth-api/v2/authenticate/refresh")])
        .collect(),
        env: vec![],
    };
    let token = Case {
        program: bin.to_owned(),
        args: vec![
            "--base-url".into(),
            emu.base_url(),
            "--cache-file".into(),
            cache.display().to_string(),
            "token".into(),
        ],
        env: vec![
            ("HOME".into(), home.path().display().to_string()),
            ("SMARTLING_USER_IDENTIFIER".into(), USER.into()),
            ("SMARTLING_USER_SECRET".into(), SECRET.into()),
        ],
    };
    let version = Case {
        program: bin.to_owned(),
        args: vec!["--version".into()],
        env: vec![],
    };

    let refresh_m = measure("smartling-auth refresh", &refresh, runs, || {
        Ok(format!("{}\n", mint()?).into_bytes())
    })?;
    let curl_m = measure("curl (same POST)", &curl, runs, || {
        Ok(format!("{{\"refreshToken\":\"{}\"}}", mint()?).into_bytes())
    })?;
    token.once(b"", None)?; // fills the cache
    let token_m = measure("smartling-auth token (warm)", &token, runs, || {
        Ok(Vec::new())
    })?;
    let version_m = measure(
        "smartling-auth --version",
        &version,
        runs,
        || Ok(Vec::new()),
    )?;

    println!(
        "{runs} timed runs per case after {WARMUPS} warm-ups; peak RSS: median of {MEMORY_RUNS} runs\n"
    );
    println!(
        "{:<30} {:>10} {:>10} {:>12}",
        "case", "median ms", "mean ms", "peak RSS KiB"
    );
    for m in [&refresh_m, &curl_m, &token_m, &version_m] {
        println!(
            "{:<30} {:>10.2} {:>10.2} {:>12}",
            m.name,
            ms(m.median),
            ms(m.mean),
            m.rss_kib.map_or("n/a".to_owned(), |k| k.to_string())
        );
    }
    println!();
    ratio(
        "refresh / curl, wall (median)",
        ms(refresh_m.median),
        ms(curl_m.median),
        1.3,
    );
    ratio(
        "refresh / curl, wall (mean)",
        ms(refresh_m.mean),
        ms(curl_m.mean),
        1.3,
    );
    match (refresh_m.rss_kib, curl_m.rss_kib) {
        (Some(a), Some(b)) => ratio("refresh / curl, peak RSS", a as f64, b as f64, 2.0),
        _ => println!("{:<34} n/a", "refresh / curl, peak RSS"),
    }
    ratio(
        "token warm / --version, wall (median)",
        ms(token_m.median),
        ms(version_m.median),
        1.5,
    );
    ratio(
        "token warm / --version, wall (mean)",
        ms(token_m.mean),
        ms(version_m.mean),
        1.5,
    );
    emu.shutdown();
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(what: &str, a: f64, b: f64, target: f64) {
    let r = a / b;
    let verdict = if r <= target { "ok" } else { "OVER" };
    println!("{what:<40} {r:>6.2}x  (target <= {target}x: {verdict})");
}
