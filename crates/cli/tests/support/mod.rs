//! The command line's own test helpers: an emulator per test, the binary with a clean
//! environment and a private cache file, its output, its cache file, and checks that no
//! secret leaks. What other crates' tests share (canned faults, policies, fixtures)
//! comes from `smartling_auth_testkit`. The user here is the CLI's own, with a plain
//! ASCII secret: it travels through argv, the environment and URLs in these tests,
//! where the kit's user, whose secret JSON must escape, tests the transports.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use smartling_auth_emulator::{Counters, Emulator, Endpoint, Outcome};
use tempfile::TempDir;

/// The emulator's user.
pub const USER: &str = "cli-test-user";
/// Its secret: must never show on stderr.
pub const SECRET: &str = "cli-test-secret-7f3a9c2e5b1d";
/// The binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_smartling-auth");
/// A safety net against a hung child, not an assertion about speed.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// An emulator, a private temporary directory (HOME and the cache live there).
pub struct Env {
    pub emu: Emulator,
    pub dir: TempDir,
}

impl Env {
    pub fn start() -> Self {
        let emu = Emulator::builder()
            .user(USER, SECRET)
            .start()
            .expect("emulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        Self { emu, dir }
    }

    pub fn base_url(&self) -> String {
        self.emu.base_url()
    }

    /// The cache file every `cmd` uses, in a directory the binary creates.
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache").join("token.json")
    }

    /// The binary with only PATH and HOME (the temp dir) set, pointed at the emulator.
    pub fn bare(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("smartling-auth").expect("binary built");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .timeout(HANG_GUARD);
        cmd
    }

    /// `bare` plus `--base-url` and `--cache-file`, then `args`.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.bare();
        cmd.arg("--base-url").arg(self.base_url());
        cmd.arg("--cache-file").arg(self.cache());
        cmd.args(args);
        cmd
    }

    /// `cmd` with the right credentials.
    pub fn with_creds(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.cmd(args);
        cmd.env("SMARTLING_USER_IDENTIFIER", USER)
            .env("SMARTLING_USER_SECRET", SECRET);
        cmd
    }

    pub fn counters(&self) -> Counters {
        self.emu.counters()
    }

    pub fn count(&self, endpoint: Endpoint, outcome: Outcome) -> u64 {
        self.counters().get(endpoint, outcome)
    }

    /// Logs in through the binary and returns the pair it printed.
    pub fn login_pair(&self) -> Pair {
        let run = run(&mut self.with_creds(&["authenticate"]));
        run.assert_code(0);
        Pair::parse(&run.stdout)
    }
}

/// A token pair as the binary prints it.
#[derive(Debug, Clone)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
    pub json: Value,
}

impl Pair {
    pub fn parse(stdout: &str) -> Self {
        let json: Value = serde_json::from_str(stdout.trim()).expect("stdout is JSON");
        Self {
            access: json["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
            refresh: json["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_owned(),
            json,
        }
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut assert_cmd::Command) -> Run {
    let out: Output = cmd.output().expect("binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code; stderr: {}", self.stderr);
        self
    }

    /// A failure: nothing on stdout, and stderr is warnings then exactly one `error:`
    /// line.
    pub fn assert_failure(&self, code: i32) -> &Self {
        self.assert_code(code);
        assert_eq!(self.stdout, "", "no output on failure");
        let lines: Vec<&str> = self.stderr.lines().collect();
        let (last, before) = lines.split_last().expect("an error line");
        assert!(last.starts_with("error: "), "{}", self.stderr);
        assert!(
            before.iter().all(|l| l.starts_with("warning: ")),
            "{}",
            self.stderr
        );
        self
    }

    /// The one line `token` prints.
    pub fn token(&self) -> String {
        self.assert_code(0);
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {:?}", self.stdout);
        lines[0].to_owned()
    }

    pub fn warnings(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .collect()
    }

    /// None of `secrets` (nor the tail of a token) on stderr; on stdout only when the
    /// command's contract prints it, which callers check separately.
    pub fn assert_no_secret_on_stderr(&self, secrets: &[String]) -> &Self {
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(
                !self.stderr.contains(s.as_str()),
                "secret on stderr: {}",
                self.stderr
            );
            let tail = &s[s.len().saturating_sub(16)..];
            assert!(
                !self.stderr.contains(tail),
                "token tail on stderr: {}",
                self.stderr
            );
        }
        self
    }
}

/// The cache file's JSON.
pub fn read_cache(path: &Path) -> Value {
    let bytes = std::fs::read(path).expect("cache file");
    serde_json::from_slice(&bytes).expect("cache is JSON")
}

/// Whether `path` holds a complete, valid cache file (an unsealed record).
pub fn is_valid_cache(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return false;
    };
    v["format"] == 2
        && v["version"].as_u64().is_some_and(|n| n >= 1)
        && v["plain"]["accessToken"].is_string()
        && v["plain"]["refreshToken"].is_string()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Rewrites the cache so its access token has `left_ms` to live (negative: expired
/// that long ago); the refresh token keeps most of its life. The binary's wall clock
/// decides freshness, not the emulator's.
pub fn set_access_left(path: &Path, left_ms: i64) {
    let mut v = read_cache(path);
    let life = v["plain"]["expiresInMs"].as_u64().unwrap() as i64;
    v["plain"]["issuedAtMs"] = (now_ms() as i64 + left_ms - life).into();
    std::fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
}

/// Rewrites the cache so its access token expired a minute ago.
pub fn expire_access(path: &Path) {
    set_access_left(path, -60_000);
}

/// The access token stored in the cache.
pub fn cached_access(path: &Path) -> String {
    read_cache(path)["plain"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The refresh token stored in the cache.
pub fn cached_refresh(path: &Path) -> String {
    read_cache(path)["plain"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Whether this process runs as root (mode 000 files are still readable then).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
