//! `cargo xtask ci`: every check CI runs, in order, cheapest first, stopping at the
//! first failure and printing what each step cost.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{Failure, Result, cargo, ensure_cargo_tool, run_cmd, secs};
use crate::fuzz;

/// Fuzzing time per target in `ci`.
const FUZZ_SECONDS: u64 = 30;

/// One step of the run.
#[derive(Debug, PartialEq)]
enum Task {
    /// `cargo <args>`, with one environment variable set when given.
    Cargo(
        &'static [&'static str],
        Option<(&'static str, &'static str)>,
    ),
    /// `cargo <args>` once `redis-server` is known to be on `PATH`.
    NeedsRedis(&'static [&'static str]),
    Tidy,
    Snippets,
    Deny,
    Package,
    Fuzz(String),
}

/// `[--skip-tests]`: whether to skip `cargo test --workspace` (`.ci/run` runs it on
/// its own first). The ignored tests that need redis-server run either way.
pub fn parse_args(rest: &[String]) -> Result<bool> {
    match rest {
        [] => Ok(false),
        [a] if a == "--skip-tests" => Ok(true),
        [a, ..] => Err(Failure::Usage(format!("ci: unknown argument `{a}`"))),
    }
}

/// The steps, in the order they run.
fn tasks(skip_tests: bool, fuzz_targets: Vec<String>) -> Vec<(String, Task)> {
    let mut tasks: Vec<(String, Task)> = vec![
        (
            "format".into(),
            Task::Cargo(&["fmt", "--all", "--", "--check"], None),
        ),
        ("tidy".into(), Task::Tidy),
        (
            "clippy".into(),
            Task::Cargo(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--all-features",
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
    // The tests that need a real redis-server, ignored by the plain `cargo test`
    // (a fresh machine has none; `.ci/run` installs it). The child halves of
    // multi-process tests are ignored too, and run only by their parents.
    tasks.push((
        "tests that need redis-server (ignored by default)".into(),
        Task::NeedsRedis(&[
            "test",
            "--workspace",
            "--all-features",
            "--",
            "--ignored",
            "--skip",
            "child_",
        ]),
    ));
    tasks.extend([
        (
            "docs".into(),
            Task::Cargo(
                &["doc", "--workspace", "--no-deps", "--all-features"],
                Some(("RUSTDOCFLAGS", "-D warnings")),
            ),
        ),
        ("licenses, bans, sources".into(), Task::Deny),
        (
            "examples".into(),
            Task::Cargo(&["build", "--workspace", "--examples"], None),
        ),
        (
            "README blocks and examples as a user's crate".into(),
            Task::Snippets,
        ),
        (
            "bench build".into(),
            Task::Cargo(&["bench", "--workspace", "--no-run"], None),
        ),
        ("package (verified)".into(), Task::Package),
        (
            "fuzz oracle tests".into(),
            Task::Cargo(
                &["test", "--manifest-path", "fuzz/Cargo.toml", "--lib"],
                None,
            ),
        ),
    ]);
    for t in fuzz_targets {
        tasks.push((format!("fuzz {t} ({FUZZ_SECONDS} s)"), Task::Fuzz(t)));
    }
    tasks
}

pub fn ci(root: &Path, skip_tests: bool) -> Result {
    let tasks = tasks(skip_tests, fuzz::fuzz_targets(root)?);
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
            Task::NeedsRedis(args) => {
                redis_server_on_path().and_then(|()| run_cmd(cargo(root).args(args)))
            }
            Task::Tidy => crate::tidy::tidy(root),
            Task::Snippets => crate::snippets::snippets(root),
            Task::Deny => ensure_cargo_tool(root, "deny", "cargo-deny").and_then(|()| {
                run_cmd(cargo(root).args(["deny", "check", "licenses", "bans", "sources"]))
            }),
            Task::Package => crate::package::package(root),
            Task::Fuzz(t) => fuzz::fuzz(root, Some(&t), FUZZ_SECONDS).map(|s| fuzz_stats.extend(s)),
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
    fuzz::print_summary(&fuzz_stats);
    println!(
        "\nci: all {total} steps passed in {}",
        secs(started.elapsed())
    );
    Ok(())
}

/// One clear failure instead of a panic per test when `redis-server` is missing.
fn redis_server_on_path() -> Result {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        Ok(())
    } else {
        Err(Failure::Msg(
            "the Redis tests need redis-server on PATH (Debian: apt-get install \
             redis-server; .ci/run installs it when it runs as root)"
                .into(),
        ))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_every_check_and_skips_only_the_tests() {
        let titles = |skip| {
            tasks(skip, vec!["session".into()])
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>()
        };
        let all = titles(false);
        assert_eq!(
            all,
            [
                "format",
                "tidy",
                "clippy",
                "tests",
                "tests that need redis-server (ignored by default)",
                "docs",
                "licenses, bans, sources",
                "examples",
                "README blocks and examples as a user's crate",
                "bench build",
                "package (verified)",
                "fuzz oracle tests",
                "fuzz session (30 s)"
            ]
        );
        let skipped = titles(true);
        assert_eq!(skipped.len(), all.len() - 1);
        assert!(!skipped.contains(&"tests".to_owned()));
        assert!(
            skipped.iter().any(|t| t.contains("redis-server")),
            "CI runs them"
        );
    }

    #[test]
    fn parses_arguments() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches!(parse_args(&args(&[])), Ok(false)));
        assert!(matches!(parse_args(&args(&["--skip-tests"])), Ok(true)));
        assert!(parse_args(&args(&["--skip"])).is_err());
        assert!(parse_args(&args(&["--skip-tests", "x"])).is_err());
    }
}
