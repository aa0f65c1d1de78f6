//! What a core dump of the binary holds once it is done: every secret it handled must
//! be gone from its memory by the time it calls `exit_group`, after everything was
//! dropped. Each run is made under gdb in batch mode, stopped at `exit_group`, and
//! dumped with `gcore`; the dump is then searched for the user secret, the tokens the
//! run sent and received, the Redis password and the store key (hex and raw, and the
//! key derived from the user secret).
//!
//! Where a copy is decides whose it is:
//! - the process's environment block (`NAME=value`, copied by the kernel at `execve`)
//!   is out of any program's reach: an occurrence preceded by its variable's `NAME=`
//!   is counted apart and allowed once;
//! - the main thread's heap (`[heap]`) and stack (`[stack]`) are where the binary does
//!   all its work with secrets (building requests, reading answers, parsing, sealing,
//!   the store): no copy may be left there;
//! - the memory of other threads (their arenas and stacks) holds, for what crosses
//!   HTTP, isahc's agent thread's copies: curl builds the request it sends (headers
//!   and body in one buffer), receives the answer (likewise), and isahc hands the
//!   answer body over through its pipe's buffers, all freed without being wiped and
//!   out of our reach. For the secrets that cross HTTP (the user secret, the
//!   tokens) those copies are printed, not asserted on; the others (the Redis
//!   password, the store keys) never reach curl, and any copy of them anywhere but
//!   the environment block fails.
//!
//! Needs gdb (and redis-server for the Redis runs): ignored by plain `cargo test`,
//! run by `cargo xtask ci` with the other ignored tests (`.ci/run` installs both).

mod support;

use std::path::Path;
use std::process::Command;

use hkdf::Hkdf;
use sha2::Sha256;
use smartling_auth_core::store::SealKey;
use smartling_auth_core::{BaseUrl, UserSecret};
use smartling_auth_testkit::redis::RedisServer;
use support::{Env, Pair, SECRET, USER};

/// The Redis server's password.
const REDIS_PASSWORD: &str = "redis-pw-9c1e4b7a2f60d";
/// An explicit store key (random, 32 bytes).
const STORE_KEY: &str = "3f9c0e51a7d2b8460c1e95f3a27d6b08e4c1795a0d3b6f2e8a51c7940b6de2f1";

/// One secret to look for: its name, its bytes, and the prefix that marks its copy in
/// the environment block, if it came from a variable.
struct Needle {
    what: String,
    bytes: Vec<u8>,
    env_prefix: Option<Vec<u8>>,
    /// Sent or received over HTTP, so curl and isahc hold copies of it.
    via_http: bool,
}

impl Needle {
    fn new(what: &str, bytes: impl AsRef<[u8]>) -> Self {
        Self {
            what: what.to_owned(),
            bytes: bytes.as_ref().to_vec(),
            env_prefix: None,
            via_http: true,
        }
    }

    /// A secret that never crosses HTTP: no thread may hold it.
    fn local(self) -> Self {
        Self {
            via_http: false,
            ..self
        }
    }

    fn from_env(what: &str, bytes: impl AsRef<[u8]>, prefix: &str) -> Self {
        Self {
            env_prefix: Some(prefix.as_bytes().to_vec()),
            ..Self::new(what, bytes)
        }
    }
}

/// Offsets of `needle` in `hay`.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let first = needle[0];
    let mut i = 0;
    while let Some(p) = hay[i..].iter().position(|&b| b == first) {
        let at = i + p;
        if hay[at..].starts_with(needle) {
            found.push(at);
        }
        i = at + 1;
    }
    found
}

/// A core file: its bytes, where each of its segments was in memory, and the main
/// thread's heap and stack.
struct Core {
    bytes: Vec<u8>,
    /// (file offset, address, length) of each `PT_LOAD` segment.
    segments: Vec<(u64, u64, u64)>,
    /// Address ranges of `[heap]` and `[stack]`.
    main_thread: Vec<(u64, u64)>,
}

/// Copies of one needle, by whose memory holds them.
#[derive(Default)]
struct Found {
    env_block: usize,
    main_thread: usize,
    /// Elsewhere; `framed` of them follow HTTP headers (curl's wire buffers).
    other_threads: usize,
    framed: usize,
}

impl Core {
    fn new(bytes: Vec<u8>, gdb_out: &str) -> Self {
        let u16_at = |o: usize| u64::from(u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()));
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
        assert_eq!(&bytes[..4], b"\x7fELF", "a core file");
        let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
        let segments = (0..phnum)
            .map(|i| (phoff + i * phentsize) as usize)
            .filter(|&ph| u32_at(ph) == 1)
            .map(|ph| (u64_at(ph + 8), u64_at(ph + 16), u64_at(ph + 32)))
            .collect();
        // `info proc mappings`: start, end, size, offset, [perms,] objfile.
        let main_thread: Vec<(u64, u64)> = gdb_out
            .lines()
            .filter(|l| l.ends_with("[heap]") || l.ends_with("[stack]"))
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
                Some((hex(f.next()?)?, hex(f.next()?)?))
            })
            .collect();
        assert!(
            main_thread.len() >= 2,
            "gdb showed no [heap] and [stack]:\n{gdb_out}"
        );
        Self {
            bytes,
            segments,
            main_thread,
        }
    }

    fn address(&self, offset: usize) -> Option<u64> {
        let offset = offset as u64;
        self.segments
            .iter()
            .find(|(o, _, len)| (*o..o + len).contains(&offset))
            .map(|(o, addr, _)| addr + (offset - o))
    }

    fn census(&self, n: &Needle) -> Found {
        let mut found = Found::default();
        for at in find_all(&self.bytes, &n.bytes) {
            let before = &self.bytes[..at];
            if n.env_prefix.as_ref().is_some_and(|p| before.ends_with(p)) {
                found.env_block += 1;
            } else if self.address(at).is_some_and(|a| {
                self.main_thread
                    .iter()
                    .any(|(lo, hi)| (*lo..*hi).contains(&a))
            }) {
                found.main_thread += 1;
            } else {
                found.other_threads += 1;
                // Headers, then a blank line, then the body that holds the secret.
                let window = &before[before.len().saturating_sub(n.bytes.len() + 2048)..];
                if window.windows(5).any(|w| w == b"\r\n\r\n{") {
                    found.framed += 1;
                }
            }
        }
        found
    }
}

/// Runs the binary under gdb with `args` and `vars` (stdin from `stdin`, stdout to a
/// file), stops it at `exit_group`, dumps its memory, and returns (core, stdout).
fn dump(
    env: &Env,
    name: &str,
    args: &[&str],
    vars: &[(&str, &str)],
    stdin: Option<&str>,
) -> (Core, String) {
    let dir = env.dir.path();
    let core = dir.join(format!("{name}.core"));
    let out = dir.join(format!("{name}.out"));
    let input = dir.join(format!("{name}.in"));
    std::fs::write(&input, stdin.unwrap_or("")).unwrap();
    let quoted = |p: &Path| format!("'{}'", p.display());
    let mut run = String::from("run");
    for a in args {
        assert!(!a.contains('\''), "{a}");
        run.push_str(&format!(" '{a}'"));
    }
    run.push_str(&format!(" < {} > {}", quoted(&input), quoted(&out)));
    let mut gdb = Command::new("gdb");
    gdb.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .envs(vars.iter().copied())
        .args(["-batch", "-nx", "-q"])
        .args(["-ex", "set pagination off"])
        .args(["-ex", "set confirm off"])
        .args(["-ex", "set startup-with-shell on"])
        .args(["-ex", "handle SIGPIPE nostop noprint pass"])
        .args(["-ex", "catch syscall exit_group"])
        .args(["-ex", &run])
        .args(["-ex", "info proc mappings"])
        .args(["-ex", &format!("gcore {}", core.display())])
        .args(["-ex", "kill"])
        .arg(support::BIN);
    let result = gdb
        .output()
        .expect("gdb runs (install gdb: apt-get install gdb)");
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let bytes = std::fs::read(&core).unwrap_or_else(|e| {
        panic!(
            "no core file from gdb ({e}); gdb said:\n{}\n{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        )
    });
    // `CORE_DUMP_KEEP=DIR` keeps the dumps there, to see where copies are.
    match std::env::var_os("CORE_DUMP_KEEP") {
        Some(keep) => {
            std::fs::rename(&core, Path::new(&keep).join(format!("{name}.core"))).unwrap()
        }
        None => std::fs::remove_file(&core).unwrap(),
    }
    (
        Core::new(bytes, &String::from_utf8_lossy(&result.stdout)),
        stdout,
    )
}

/// The key a Redis store derives from the user secret, computed apart from the code
/// under test (and checked against it by its fingerprint).
fn derived_key(base: &str, user: &str, secret: &str) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(b"smartling-auth store key v1"), secret.as_bytes());
    let mut key = [0; 32];
    let base = BaseUrl::parse(base).unwrap();
    hk.expand(format!("{}\n{user}", base.as_str()).as_bytes(), &mut key)
        .unwrap();
    assert_eq!(
        SealKey::from_bytes(key).fingerprint(),
        SealKey::derive(&base, user, &UserSecret::new(secret)).fingerprint(),
        "the test derives the key as the store does"
    );
    key
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn secret_needle() -> Needle {
    Needle::from_env("user secret", SECRET, "SMARTLING_USER_SECRET=")
}

fn creds() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SMARTLING_USER_IDENTIFIER", USER),
        ("SMARTLING_USER_SECRET", SECRET),
    ]
}

/// Prints what was found and fails on any copy in the main thread's memory (in any
/// thread's, for a secret that never crosses HTTP), or on more than one in the
/// environment block.
fn check(label: &str, core: &Core, needles: &[Needle], failures: &mut Vec<String>) {
    for n in needles {
        let f = core.census(n);
        let line = format!(
            "{label}: {}: {} in the main thread's heap and stack; out of reach: {} in the environment block, {} in other threads' memory ({} of them after HTTP headers: curl's wire buffers)",
            n.what, f.main_thread, f.env_block, f.other_threads, f.framed
        );
        eprintln!("{line}");
        let other = if n.via_http { 0 } else { f.other_threads };
        if f.main_thread + other > 0 || f.env_block > 1 {
            failures.push(line);
        }
    }
}

#[test]
#[ignore = "needs gdb and redis-server; cargo xtask ci runs it"]
fn no_secret_outlives_its_use_in_a_core_dump() {
    let env = Env::start();
    let base = env.base_url();
    let mut failures = Vec::new();

    // A login: the secret goes out in the body, a pair comes back and is printed.
    let (core, out) = dump(
        &env,
        "authenticate",
        &["--base-url", &base, "authenticate"],
        &creds(),
        None,
    );
    let pair = Pair::parse(&out);
    check(
        "authenticate",
        &core,
        &[
            secret_needle(),
            Needle::new("access token", &pair.access),
            Needle::new("refresh token", &pair.refresh),
        ],
        &mut failures,
    );

    // A refresh, the token read from stdin: the refresh request and its answer.
    let (core, out) = dump(
        &env,
        "refresh",
        &["--base-url", &base, "refresh"],
        &[],
        Some(&format!("{}\n", pair.refresh)),
    );
    let renewed = Pair::parse(&out);
    check(
        "refresh",
        &core,
        &[
            Needle::new("spent refresh token", &pair.refresh),
            Needle::new("access token", &renewed.access),
            Needle::new("refresh token", &renewed.refresh),
        ],
        &mut failures,
    );

    // `token` through Redis with a password, sealed under the key derived from the
    // user secret: a login, a sealed write.
    let redis = RedisServer::start_with_password(REDIS_PASSWORD);
    let url = redis.url();
    let mut vars = creds();
    vars.push(("SMARTLING_AUTH_STORE", &url));
    let (core, out) = dump(
        &env,
        "token-redis",
        &["--base-url", &base, "token"],
        &vars,
        None,
    );
    let access = out.trim().to_owned();
    assert!(!access.is_empty(), "token printed nothing");
    let key = derived_key(&base, USER, SECRET);
    check(
        "token over Redis (derived key)",
        &core,
        &[
            secret_needle(),
            Needle::new("access token", &access),
            Needle::from_env(
                "Redis password",
                REDIS_PASSWORD,
                "SMARTLING_AUTH_STORE=redis://:",
            )
            .local(),
            Needle::new("derived seal key (raw)", key).local(),
            Needle::new("derived seal key (hex)", hex(&key)).local(),
        ],
        &mut failures,
    );

    // `token` through Redis with an explicit key and a refresh token alone: a
    // refresh, a sealed write.
    let start = Pair::parse(&support::run(&mut env.with_creds(&["authenticate"])).stdout);
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&STORE_KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let vars = [
        ("SMARTLING_AUTH_STORE", url.as_str()),
        ("SMARTLING_AUTH_STORE_KEY", STORE_KEY),
        ("SMARTLING_REFRESH_TOKEN", start.refresh.as_str()),
    ];
    let (core, out) = dump(
        &env,
        "token-redis-key",
        &["--base-url", &base, "token"],
        &vars,
        None,
    );
    let access = out.trim().to_owned();
    assert!(!access.is_empty(), "token printed nothing");
    check(
        "token over Redis (explicit key)",
        &core,
        &[
            Needle::from_env(
                "spent refresh token",
                &start.refresh,
                "SMARTLING_REFRESH_TOKEN=",
            ),
            Needle::new("access token", &access),
            Needle::from_env(
                "Redis password",
                REDIS_PASSWORD,
                "SMARTLING_AUTH_STORE=redis://:",
            )
            .local(),
            Needle::from_env("store key (hex)", STORE_KEY, "SMARTLING_AUTH_STORE_KEY=").local(),
            Needle::new("store key (raw)", raw).local(),
        ],
        &mut failures,
    );

    assert!(
        failures.is_empty(),
        "secrets left in memory:\n{}",
        failures.join("\n")
    );
}
