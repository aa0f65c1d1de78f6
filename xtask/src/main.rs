//! Project tasks: `cargo xtask <command>`. Run `cargo xtask help` for the list.
//!
//! No dependencies: arguments are parsed by hand, criterion's estimates are read as
//! text, and every task is a cargo (or cargo-fuzz, cargo-deny) command run from the
//! workspace root.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

const USAGE: &str = "\
Usage: cargo xtask <command> [options]

Commands:
  ci [--skip-tests]             What CI runs (.ci/run): fmt, clippy, test (unless
                                --skip-tests), doc, deny, examples, bench build, and a
                                30 s fuzz smoke run of every fuzz target. Stops at the
                                first failure.
  fuzz [TARGET] [--seconds N]   Runs one fuzz target (all when none is given) for N
                                seconds each (default 60) on the committed corpus, then
                                prints executions and coverage. Fails on a finding.
  bench                         Runs every benchmark and prints the ratio table the
                                READMEs quote, then the CLI timing.
  demo                          Runs the CLI demo against the bundled emulator.
  help                          This text.

Environment: installs cargo-fuzz and cargo-deny with `cargo install --locked` when
missing; uses the nightly toolchain for fuzzing when rustup has one, otherwise
RUSTC_BOOTSTRAP=1 on the current toolchain.";

/// Default fuzzing time per target.
const DEFAULT_FUZZ_SECONDS: u64 = 60;
/// Fuzzing time per target in `ci`.
const CI_FUZZ_SECONDS: u64 = 30;

/// How a task ends badly: a message, or an exit code passed through.
enum Failure {
    Msg(String),
    Usage(String),
    Exit(u8),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Msg(s)
    }
}

type Result<T = ()> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Msg(m)) => {
            eprintln!("xtask: error: {m}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(m)) => {
            eprintln!("xtask: {m}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Exit(code)) => ExitCode::from(code),
    }
}

fn run(args: &[String]) -> Result {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    let root = workspace_root();
    match command.as_str() {
        "ci" => {
            let mut skip_tests = false;
            for a in rest {
                match a.as_str() {
                    "--skip-tests" => skip_tests = true,
                    other => return Err(Failure::Usage(format!("ci: unknown argument `{other}`"))),
                }
            }
            ci(&root, skip_tests)
        }
        "fuzz" => {
            let (target, seconds) = fuzz_args(rest)?;
            let stats = fuzz(&root, target.as_deref(), seconds)?;
            print_fuzz_summary(&stats);
            Ok(())
        }
        "bench" => {
            no_args("bench", rest)?;
            bench(&root)
        }
        "demo" => {
            no_args("demo", rest)?;
            demo(&root)
        }
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command `{other}`"))),
    }
}

fn no_args(command: &str, rest: &[String]) -> Result {
    match rest.first() {
        None => Ok(()),
        Some(a) => Err(Failure::Usage(format!("{command}: unknown argument `{a}`"))),
    }
}

fn fuzz_args(rest: &[String]) -> Result<(Option<String>, u64)> {
    let mut target = None;
    let mut seconds = DEFAULT_FUZZ_SECONDS;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let value = if a == "--seconds" {
            Some(
                it.next()
                    .ok_or_else(|| Failure::Usage("fuzz: --seconds needs a value".into()))?
                    .as_str(),
            )
        } else {
            a.strip_prefix("--seconds=")
        };
        if let Some(v) = value {
            seconds = v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Failure::Usage(format!(
                    "fuzz: --seconds wants a positive integer, not `{v}`"
                ))
            })?;
        } else if a.starts_with('-') {
            return Err(Failure::Usage(format!("fuzz: unknown option `{a}`")));
        } else if target.is_some() {
            return Err(Failure::Usage(format!(
                "fuzz: one target at most (got `{a}` too)"
            )));
        } else {
            target = Some(a.clone());
        }
    }
    Ok((target, seconds))
}

// ---------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `$CARGO_HOME/bin` (default `~/.cargo/bin`), where `cargo install` puts tools.
fn cargo_bin_dir() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"))
}

/// `PATH` with the cargo bin directory in it, so freshly installed tools are found
/// even where the environment (a CI shell, a container) did not add it.
fn path_with_cargo_bin() -> OsString {
    let current = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = env::split_paths(&current).collect();
    if let Some(bin) = cargo_bin_dir() {
        if !dirs.contains(&bin) {
            dirs.push(bin);
        }
    }
    env::join_paths(dirs).unwrap_or(current)
}

/// `cargo` as the user would type it (the rustup proxy, so `+nightly` works), run from
/// the workspace root.
fn cargo(root: &Path) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root).env("PATH", path_with_cargo_bin());
    c
}

fn show(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if k != "PATH" {
            if let Some(v) = v {
                s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
            }
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command with inherited output; fails unless it exits 0.
fn run_cmd(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::Msg(format!("`{shown}` failed ({status})")))
    }
}

/// Whether `cargo <sub> --version` works.
fn has_cargo_tool(root: &Path, sub: &str) -> bool {
    cargo(root)
        .args([sub, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs `krate` with `cargo install --locked` unless `cargo <sub>` already works.
fn ensure_cargo_tool(root: &Path, sub: &str, krate: &str) -> Result {
    if has_cargo_tool(root, sub) {
        return Ok(());
    }
    println!("xtask: `cargo {sub}` is missing; installing {krate}");
    run_cmd(cargo(root).args(["install", krate, "--locked"]))?;
    if has_cargo_tool(root, sub) {
        Ok(())
    } else {
        Err(Failure::Msg(format!(
            "installed {krate}, but `cargo {sub}` still does not run; is {} on PATH?",
            cargo_bin_dir().map_or_else(|| "~/.cargo/bin".into(), |p| p.display().to_string())
        )))
    }
}

/// Whether rustup lists a nightly toolchain.
fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim_start().starts_with("nightly"))
        })
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------
// ci
// ---------------------------------------------------------------------------------------

enum Task {
    Cargo(
        &'static [&'static str],
        Option<(&'static str, &'static str)>,
    ),
    Deny,
    Fuzz(String),
}

fn ci(root: &Path, skip_tests: bool) -> Result {
    let mut tasks: Vec<(String, Task)> = vec![
        (
            "format".into(),
            Task::Cargo(&["fmt", "--all", "--", "--check"], None),
        ),
        (
            "clippy".into(),
            Task::Cargo(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                None,
            ),
        ),
    ];
    if !skip_tests {
        tasks.push(("tests".into(), Task::Cargo(&["test", "--workspace"], None)));
    }
    tasks.extend([
        (
            "docs".into(),
            Task::Cargo(
                &["doc", "--workspace", "--no-deps"],
                Some(("RUSTDOCFLAGS", "-D warnings")),
            ),
        ),
        ("licenses, bans, sources".into(), Task::Deny),
        (
            "examples".into(),
            Task::Cargo(&["build", "--workspace", "--examples"], None),
        ),
        (
            "bench build".into(),
            Task::Cargo(&["bench", "--workspace", "--no-run"], None),
        ),
    ]);
    for t in fuzz_targets(root)? {
        tasks.push((format!("fuzz {t} ({CI_FUZZ_SECONDS} s)"), Task::Fuzz(t)));
    }

    let total = tasks.len();
    let started = Instant::now();
    let mut done: Vec<(String, Duration)> = Vec::new();
    let mut fuzz_stats = Vec::new();
    for (i, (title, task)) in tasks.into_iter().enumerate() {
        let n = i + 1;
        println!("\n==> [{n}/{total}] {title}");
        let t0 = Instant::now();
        let result = match task {
            Task::Cargo(args, env) => {
                let mut c = cargo(root);
                c.args(args);
                if let Some((k, v)) = env {
                    c.env(k, v);
                }
                run_cmd(&mut c)
            }
            Task::Deny => ensure_cargo_tool(root, "deny", "cargo-deny").and_then(|()| {
                run_cmd(cargo(root).args(["deny", "check", "licenses", "bans", "sources"]))
            }),
            Task::Fuzz(t) => fuzz(root, Some(&t), CI_FUZZ_SECONDS).map(|s| fuzz_stats.extend(s)),
        };
        let took = t0.elapsed();
        match result {
            Ok(()) => {
                println!("<== [{n}/{total}] {title}: ok in {}", secs(took));
                done.push((title, took));
            }
            Err(e) => {
                println!("<== [{n}/{total}] {title}: FAILED after {}", secs(took));
                print_steps(&done);
                return Err(e);
            }
        }
    }
    print_steps(&done);
    print_fuzz_summary(&fuzz_stats);
    println!(
        "\nci: all {total} steps passed in {}",
        secs(started.elapsed())
    );
    Ok(())
}

fn print_steps(done: &[(String, Duration)]) {
    if done.is_empty() {
        return;
    }
    println!("\nsteps passed:");
    for (title, took) in done {
        println!("  {:>8}  {title}", secs(*took));
    }
}

// ---------------------------------------------------------------------------------------
// fuzz
// ---------------------------------------------------------------------------------------

/// The fuzz targets: the file stems of `fuzz/fuzz_targets/*.rs`, sorted.
fn fuzz_targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz").join("fuzz_targets");
    let entries = fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut targets: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    targets.sort();
    Ok(targets)
}

/// What libFuzzer reported at the end of a run.
#[derive(Default)]
struct FuzzStats {
    target: String,
    runs: Option<u64>,
    cov: Option<u64>,
    ft: Option<u64>,
    corpus: Option<String>,
    exec_per_sec: Option<u64>,
    /// Seconds spent fuzzing, as libFuzzer counts them.
    fuzz_secs: Option<u64>,
    /// Wall time of the whole command, the build included.
    wall: Duration,
}

impl FuzzStats {
    /// Reads one line of libFuzzer's output.
    fn read(&mut self, line: &str) {
        // `#123456	DONE   cov: 1160 ft: 2430 corp: 416/14184b lim: 107 exec/s: 4935 rss: 467Mb`
        if line.starts_with('#') && line.contains("DONE") {
            self.runs = number_after(line, "#").or(self.runs);
            self.cov = number_after(line, "cov: ");
            self.ft = number_after(line, "ft: ");
            self.corpus = word_after(line, "corp: ");
            self.exec_per_sec = number_after(line, "exec/s: ");
        } else if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
            self.runs = rest.trim().parse().ok().or(self.runs);
        } else if let Some(rest) = line.strip_prefix("stat::average_exec_per_sec:") {
            self.exec_per_sec = rest.trim().parse().ok().or(self.exec_per_sec);
        } else if let Some(rest) = line.strip_prefix("Done ") {
            // `Done 103648 runs in 21 second(s)`
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let [n, "runs", "in", t, ..] = words[..] {
                self.runs = n.parse().ok().or(self.runs);
                self.fuzz_secs = t.parse().ok();
            }
        }
    }

    fn line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |n| n.to_string());
        format!(
            "{}: {} executions in {} s ({} exec/s), cov {}, ft {}, corpus {} ({} with the build)",
            self.target,
            opt(self.runs),
            opt(self.fuzz_secs),
            opt(self.exec_per_sec),
            opt(self.cov),
            opt(self.ft),
            self.corpus.as_deref().unwrap_or("?"),
            secs(self.wall),
        )
    }
}

fn word_after(line: &str, key: &str) -> Option<String> {
    let at = line.find(key)? + key.len();
    line[at..].split_whitespace().next().map(str::to_owned)
}

fn number_after(line: &str, key: &str) -> Option<u64> {
    let at = line.find(key)? + key.len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// libFuzzer's per-input progress lines: many thousands of them, dropped from the echo.
fn is_progress(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#') else {
        return line.starts_with('"') && line.contains("# Uses:");
    };
    let rest = rest
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    rest.starts_with("NEW") || rest.starts_with("REDUCE")
}

fn fuzz(root: &Path, target: Option<&str>, seconds: u64) -> Result<Vec<FuzzStats>> {
    let all = fuzz_targets(root)?;
    let chosen: Vec<String> = match target {
        Some(t) if all.iter().any(|a| a == t) => vec![t.to_owned()],
        Some(t) => {
            return Err(Failure::Usage(format!(
                "fuzz: no target `{t}`; targets: {}",
                all.join(", ")
            )));
        }
        None => all,
    };
    ensure_cargo_tool(root, "fuzz", "cargo-fuzz")?;
    let nightly = has_nightly();
    if !nightly {
        println!("xtask: no nightly toolchain; fuzzing with RUSTC_BOOTSTRAP=1");
    }
    let mut stats = Vec::new();
    for t in chosen {
        let s = fuzz_one(root, &t, seconds, nightly)?;
        println!("fuzz {}", s.line());
        stats.push(s);
    }
    Ok(stats)
}

fn fuzz_one(root: &Path, target: &str, seconds: u64, nightly: bool) -> Result<FuzzStats> {
    // New inputs go to a scratch directory: the committed corpus is read, never churned.
    let scratch = env::temp_dir().join(format!(
        "smartling-auth-fuzz-{target}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;

    let fuzz_dir = root.join("fuzz");
    let mut c = cargo(root);
    if nightly {
        c.arg("+nightly");
    } else {
        c.env("RUSTC_BOOTSTRAP", "1");
    }
    c.args(["fuzz", "run", target]).arg(&scratch);
    for dir in [
        fuzz_dir.join("corpus").join(target),
        fuzz_dir.join("seeds").join(target),
    ] {
        if dir.is_dir() {
            c.arg(dir);
        }
    }
    c.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1");
    let dict = fuzz_dir.join("dicts").join(format!("{target}.dict"));
    if dict.is_file() {
        c.arg(format!("-dict={}", dict.display()));
    }
    c.stderr(Stdio::piped());

    let shown = show(&c);
    println!("$ {shown}");
    let t0 = Instant::now();
    let mut child = c
        .spawn()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let mut stats = FuzzStats {
        target: target.to_owned(),
        ..FuzzStats::default()
    };
    let mut recent: VecDeque<String> = VecDeque::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            stats.read(&line);
            if !is_progress(&line) {
                eprintln!("{line}");
            }
            recent.push_back(line);
            if recent.len() > 20 {
                recent.pop_front();
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("`{shown}` did not finish: {e}"))?;
    stats.wall = t0.elapsed();
    let _ = fs::remove_dir_all(&scratch);
    if status.success() {
        Ok(stats)
    } else {
        Err(Failure::Msg(format!(
            "fuzz target `{target}` failed ({status}): a finding is saved under fuzz/artifacts/{target}/ \
             (reproduce: cargo +nightly fuzz run {target} <file>); last lines:\n{}",
            recent.into_iter().collect::<Vec<_>>().join("\n")
        )))
    }
}

fn print_fuzz_summary(stats: &[FuzzStats]) {
    if stats.is_empty() {
        return;
    }
    println!("\nfuzzing:");
    for s in stats {
        println!("  {}", s.line());
    }
}

// ---------------------------------------------------------------------------------------
// bench
// ---------------------------------------------------------------------------------------

/// `(package, bench)` for every `[[bench]]` of the crates under `crates/`.
fn bench_targets(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(root.join("crates")) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    dirs.sort();
    for dir in dirs {
        let Ok(manifest) = fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let mut section = String::new();
        let mut package = None;
        let mut benches = Vec::new();
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_owned();
                continue;
            }
            let Some(value) = toml_string(line, "name") else {
                continue;
            };
            match section.as_str() {
                "[package]" => package = Some(value),
                "[[bench]]" => benches.push(value),
                _ => {}
            }
        }
        if let Some(p) = package {
            out.extend(benches.into_iter().map(|b| (p.clone(), b)));
        }
    }
    out
}

/// `key = "value"` on one line of TOML.
fn toml_string(line: &str, key: &str) -> Option<String> {
    let rest = line
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim();
    let inner = rest.strip_prefix('"')?;
    Some(inner[..inner.find('"')?].to_owned())
}

fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// Criterion's directory name for a group or bench id.
fn filename_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(
                c,
                '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^'
            ) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Mean and median point estimates (ns) of one benchmark, if this run wrote them.
fn estimate(root: &Path, since: SystemTime, group: &str, bench: &str) -> Option<(f64, f64)> {
    let path = target_dir(root)
        .join("criterion")
        .join(filename_safe(group))
        .join(filename_safe(bench))
        .join("new")
        .join("estimates.json");
    let fresh = fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= since);
    if !fresh {
        return None;
    }
    let json = fs::read_to_string(&path).ok()?;
    Some((
        point_estimate(&json, "\"mean\":")?,
        point_estimate(&json, "\"median\":")?,
    ))
}

/// The `point_estimate` of the object after `key` in criterion's `estimates.json`.
fn point_estimate(json: &str, key: &str) -> Option<f64> {
    let obj = &json[json.find(key)? + key.len()..];
    let field = "\"point_estimate\":";
    let v = &obj[obj.find(field)? + field.len()..];
    let end = v.find([',', '}']).unwrap_or(v.len());
    v[..end].trim().parse().ok()
}

fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if v < 10.0 {
        format!("{v:.2} {unit}")
    } else if v < 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// One row of the ratio table: `a / b`, both per-operation times.
struct Row {
    label: &'static str,
    a: (&'static str, &'static str),
    b: (&'static str, &'static str),
    /// What the ratio means.
    reading: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        label: "core: `parse_token_response` vs serde floor (borrowed struct)",
        a: ("parse_seed", "parse_token_response"),
        b: ("parse_seed", "serde_floor_borrowed"),
        reading: "time, x the floor",
    },
    Row {
        label: "core: `parse_token_response` vs `serde_json::Value`",
        a: ("parse_seed", "parse_token_response"),
        b: ("parse_seed", "serde_json_value"),
        reading: "time, x Value",
    },
    Row {
        label: "isahc: provider vs `Mutex` baseline, 1 thread",
        a: ("fresh_token", "provider/1_thread"),
        b: ("fresh_token", "mutex_baseline/1_thread"),
        reading: "time, x baseline",
    },
    Row {
        label: "isahc: provider, 2 threads vs 1",
        a: ("fresh_token", "provider/1_thread"),
        b: ("fresh_token", "provider/2_threads"),
        reading: "throughput, x 1 thread",
    },
    Row {
        label: "isahc: `Mutex` baseline, 2 threads vs 1",
        a: ("fresh_token", "mutex_baseline/1_thread"),
        b: ("fresh_token", "mutex_baseline/2_threads"),
        reading: "throughput, x 1 thread",
    },
    Row {
        label: "async-std: provider (one poll) vs `Mutex` baseline, 1 thread",
        a: ("access_token/single", "provider_poll_once"),
        b: ("access_token/single", "baseline_mutex"),
        reading: "time, x baseline",
    },
    Row {
        label: "async-std: provider, 2 threads vs 1",
        a: ("access_token/single", "provider_poll_once"),
        b: ("access_token/2_threads", "provider_poll_once"),
        reading: "throughput, x 1 thread",
    },
    Row {
        label: "async-std: `Mutex` baseline, 2 threads vs 1",
        a: ("access_token/single", "baseline_mutex"),
        b: ("access_token/2_threads", "baseline_mutex"),
        reading: "throughput, x 1 thread",
    },
];

fn bench(root: &Path) -> Result {
    let since = SystemTime::now();
    let targets = bench_targets(root);
    let mut failed = Vec::new();
    for (package, name) in &targets {
        println!("\n==> bench {package} / {name}");
        let t0 = Instant::now();
        let result = run_cmd(cargo(root).args([
            "bench",
            "-p",
            package,
            "--bench",
            name,
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
        ]));
        match result {
            Ok(()) => println!("<== bench {package} / {name}: ok in {}", secs(t0.elapsed())),
            Err(_) => {
                println!("<== bench {package} / {name}: FAILED");
                failed.push(format!("{package}/{name}"));
            }
        }
    }

    println!("\n| comparison | A | B | ratio (mean) | ratio (median) | reads as |");
    println!("|---|---|---|---|---|---|");
    for row in ROWS {
        let a = estimate(root, since, row.a.0, row.a.1);
        let b = estimate(root, since, row.b.0, row.b.1);
        match (a, b) {
            (Some((am, amed)), Some((bm, bmed))) => println!(
                "| {} | {} | {} | {:.2}x | {:.2}x | {} |",
                row.label,
                fmt_ns(am),
                fmt_ns(bm),
                am / bm,
                amed / bmed,
                row.reading
            ),
            _ => println!(
                "| {} | n/a | n/a | n/a | n/a | not measured in this run |",
                row.label
            ),
        }
    }
    println!(
        "\nA and B are mean times per operation (2-thread benches: wall time / all operations)."
    );

    println!("\n==> CLI timing");
    if root.join("crates/cli/examples/bench_cli.rs").is_file() {
        // The example times the release binary, given as its first argument.
        let bin = target_dir(root).join("release").join("smartling-auth");
        let ok = run_cmd(cargo(root).args(["build", "--release", "-p", "smartling-auth-cli"]))
            .and_then(|()| {
                run_cmd(
                    cargo(root)
                        .args([
                            "run",
                            "--release",
                            "-p",
                            "smartling-auth-cli",
                            "--example",
                            "bench_cli",
                            "--",
                        ])
                        .arg(&bin),
                )
            });
        if ok.is_err() {
            failed.push("smartling-auth-cli/bench_cli".into());
        }
    } else {
        println!("skipped: crates/cli/examples/bench_cli.rs does not exist yet");
    }

    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Msg(format!(
            "benchmarks failed: {}",
            failed.join(", ")
        )))
    }
}

// ---------------------------------------------------------------------------------------
// demo
// ---------------------------------------------------------------------------------------

fn demo(root: &Path) -> Result {
    let mut c = cargo(root);
    c.args(["run", "-q", "-p", "smartling-auth-cli", "--example", "demo"]);
    let status = c
        .status()
        .map_err(|e| format!("could not start `{}`: {e}", show(&c)))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Exit(u8::try_from(code).unwrap_or(1))),
        None => Err(Failure::Msg(format!("the demo was killed ({status})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_final_lines() {
        let mut s = FuzzStats::default();
        s.read(
            "#103648\tDONE   cov: 1160 ft: 2430 corp: 416/14184b lim: 107 exec/s: 4935 rss: 467Mb",
        );
        s.read("Done 103648 runs in 21 second(s)");
        assert_eq!((s.runs, s.fuzz_secs), (Some(103648), Some(21)));
        s.read("stat::number_of_executed_units: 103650");
        assert_eq!(s.runs, Some(103650));
        assert_eq!((s.cov, s.ft), (Some(1160), Some(2430)));
        assert_eq!(s.corpus.as_deref(), Some("416/14184b"));
        assert_eq!(s.exec_per_sec, Some(4935));
        assert!(is_progress(
            "#69832\tNEW    cov: 3493 ft: 8426 corp: 1200/16Kb"
        ));
        assert!(is_progress("#71025\tREDUCE cov: 3494"));
        assert!(is_progress("\"refreshTo\" # Uses: 5"));
        assert!(!is_progress("#71025\tDONE   cov: 3494 ft: 8463"));
        assert!(!is_progress("==12== ERROR: libFuzzer: deadly signal"));
    }

    #[test]
    fn reads_criterion_estimates() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":3681.5,"upper_bound":4791.1},"point_estimate":4182.8,"standard_error":284.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":3618.6,"upper_bound":4454.7},"point_estimate":3906.1,"standard_error":273.9},"median_abs_dev":{"point_estimate":1e-3}}"#;
        assert_eq!(point_estimate(json, "\"mean\":"), Some(4182.8));
        assert_eq!(point_estimate(json, "\"median\":"), Some(3906.1));
        assert_eq!(
            filename_safe("access_token/2_threads"),
            "access_token_2_threads"
        );
        assert_eq!(fmt_ns(4182.8), "4.18 µs");
        assert_eq!(fmt_ns(59.0), "59.0 ns");
    }

    #[test]
    fn parses_arguments_by_hand() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches!(fuzz_args(&args(&[])), Ok((None, 60))));
        assert!(
            matches!(fuzz_args(&args(&["session", "--seconds", "5"])), Ok((Some(t), 5)) if t == "session")
        );
        assert!(matches!(fuzz_args(&args(&["--seconds=7"])), Ok((None, 7))));
        assert!(fuzz_args(&args(&["--seconds", "0"])).is_err());
        assert!(fuzz_args(&args(&["a", "b"])).is_err());
        assert!(fuzz_args(&args(&["--fast"])).is_err());
        assert_eq!(
            toml_string(r#"name = "parse""#, "name").as_deref(),
            Some("parse")
        );
        assert_eq!(toml_string(r#"named = "x""#, "name"), None);
    }

    #[test]
    fn finds_the_benches_and_fuzz_targets() {
        let root = workspace_root();
        let benches = bench_targets(&root);
        assert!(
            benches
                .iter()
                .any(|(p, b)| p == "smartling-auth-core" && b == "parse"),
            "{benches:?}"
        );
        let targets = fuzz_targets(&root).unwrap_or_default();
        assert!(targets.iter().any(|t| t == "session"), "{targets:?}");
    }
}
