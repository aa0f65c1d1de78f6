//! `cargo xtask bench`: runs every criterion benchmark and the CLI timing, reads the
//! results criterion wrote, and hands them to `report` for `BENCHMARKS.md` and the
//! README's headline ratios. The files are written only when every part succeeded.

mod criterion;
pub mod machine;
pub mod readme;
mod report;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::cmd::{Failure, Result, cargo, output_of, run_cmd, secs, target_dir};
use criterion::read_criterion;
use machine::Machine;
use report::{Herd, Report};

/// How long criterion runs each benchmark, and the CLI timing's runs per case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Full,
    Quick,
}

impl Length {
    fn criterion_args(self) -> &'static [&'static str] {
        match self {
            Length::Full => &["--warm-up-time", "1", "--measurement-time", "3"],
            Length::Quick => &[
                "--warm-up-time",
                "0.1",
                "--measurement-time",
                "0.3",
                "--sample-size",
                "10",
            ],
        }
    }

    fn cli_runs(self) -> &'static str {
        match self {
            Length::Full => "30",
            Length::Quick => "5",
        }
    }

    /// The settings line of the report.
    pub fn describe(self) -> String {
        let a = self.criterion_args();
        let quick = match self {
            Length::Full => "",
            Length::Quick => "Quick run (`--quick`): rough figures, to check the tooling. ",
        };
        format!(
            "{quick}Criterion: {} s warm-up and {} s measurement per benchmark; CLI: {} timed runs per case.",
            a[1],
            a[3],
            self.cli_runs()
        )
    }
}

/// `[--quick]`.
pub fn parse_args(rest: &[String]) -> Result<Length> {
    match rest {
        [] => Ok(Length::Full),
        [q] if q == "--quick" => Ok(Length::Quick),
        [a, ..] => Err(Failure::Usage(format!("bench: unknown argument `{a}`"))),
    }
}

/// `(package, bench)` for every `[[bench]]` of the crates under `crates/`.
pub fn bench_targets(root: &Path) -> Vec<(String, String)> {
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
pub fn toml_string(line: &str, key: &str) -> Option<String> {
    let rest = line
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim();
    let inner = rest.strip_prefix('"')?;
    Some(inner[..inner.find('"')?].to_owned())
}

fn run_benches(root: &Path, length: Length, failed: &mut Vec<String>) {
    for (package, name) in bench_targets(root) {
        println!("\n==> bench {package} / {name}");
        let t0 = Instant::now();
        let result = run_cmd(
            cargo(root)
                .args(["bench", "-p", &package, "--bench", &name, "--"])
                .args(length.criterion_args()),
        );
        match result {
            Ok(()) => println!("<== bench {package} / {name}: ok in {}", secs(t0.elapsed())),
            Err(_) => {
                println!("<== bench {package} / {name}: FAILED");
                failed.push(format!("{package}/{name}"));
            }
        }
    }
}

/// The CLI timing example's output, echoed as it is.
fn run_cli_timing(root: &Path, length: Length, failed: &mut Vec<String>) -> Option<String> {
    println!("\n==> CLI timing");
    if !root.join("crates/cli/examples/bench_cli.rs").is_file() {
        println!("skipped: the CLI has no bench_cli example");
        failed.push("smartling-auth-cli/bench_cli (missing)".into());
        return None;
    }
    // The example times the release binary, given as its first argument.
    let bin = target_dir(root).join("release").join("smartling-auth");
    let out = run_cmd(cargo(root).args(["build", "--release", "-p", "smartling-auth-cli"]))
        .and_then(|()| {
            output_of(
                cargo(root)
                    .args(["run", "--release", "-p", "smartling-auth-cli"])
                    .args(["--example", "bench_cli", "--"])
                    .arg(&bin)
                    .env("BENCH_RUNS", length.cli_runs()),
            )
        });
    match out {
        Ok(text) => {
            print!("{text}");
            Some(text)
        }
        Err(_) => {
            failed.push("smartling-auth-cli/bench_cli".into());
            None
        }
    }
}

/// One herd of processes sharing a file store (the isahc herd test), for its requests
/// per renewal: the test prints its counts and asserts them.
fn run_herd(root: &Path, failed: &mut Vec<String>) -> Option<Herd> {
    const TEST: &str = "twenty_processes_of_fifty_threads_share_a_file_store";
    println!("\n==> herd: {TEST}");
    let out = output_of(
        cargo(root)
            .args(["test", "-q", "-p", "smartling-auth-isahc", "--test", "herd"])
            .args(["--", "--exact", TEST, "--nocapture"]),
    );
    let herd = out.ok().as_deref().and_then(Herd::parse);
    match &herd {
        Some(h) => println!("<== herd: {:.2} requests per renewal", h.per_renewal()),
        None => {
            println!("<== herd: FAILED");
            failed.push("smartling-auth-isahc/herd".into());
        }
    }
    herd
}

pub fn bench(root: &Path, length: Length) -> Result {
    let since = SystemTime::now();
    let machine = Machine::detect(root);
    let mut failed = Vec::new();
    run_benches(root, length, &mut failed);
    let measured = read_criterion(&target_dir(root).join("criterion"), since);
    let cli = run_cli_timing(root, length, &mut failed);
    let herd = run_herd(root, &mut failed);
    // Written by the store benchmark in this run (an older file is not this run's).
    let commands_file = target_dir(root)
        .join("criterion")
        .join("store_commands.txt");
    let commands = std::fs::metadata(&commands_file)
        .and_then(|m| m.modified())
        .ok()
        .filter(|at| *at >= since)
        .and_then(|_| std::fs::read_to_string(&commands_file).ok())
        .and_then(|text| report::Commands::parse(&text));
    let report = Report {
        when: machine::utc(since),
        machine: machine.with_load_after(),
        settings: length.describe(),
        measured,
        cli,
        herd,
        commands,
    };
    let text = report.render();
    println!("\n{text}");
    if !failed.is_empty() {
        return Err(Failure::Msg(format!(
            "benchmarks failed: {}; BENCHMARKS.md and README.md left as they were",
            failed.join(", ")
        )));
    }
    let missing = report.missing_rows();
    if !missing.is_empty() {
        return Err(Failure::Msg(format!(
            "no fresh estimates for {}; BENCHMARKS.md and README.md left as they were",
            missing.join(", ")
        )));
    }
    readme::write(root, &text, &report.headlines())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arguments() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches!(parse_args(&args(&[])), Ok(Length::Full)));
        assert!(matches!(parse_args(&args(&["--quick"])), Ok(Length::Quick)));
        assert!(parse_args(&args(&["--fast"])).is_err());
        assert!(parse_args(&args(&["--quick", "x"])).is_err());
        assert_eq!(
            toml_string(r#"name = "parse""#, "name").as_deref(),
            Some("parse")
        );
        assert_eq!(toml_string(r#"named = "x""#, "name"), None);
        assert!(Length::Quick.describe().starts_with("Quick run"));
    }

    #[test]
    fn finds_the_benches() {
        let benches = bench_targets(&crate::cmd::workspace_root());
        assert!(
            benches
                .iter()
                .any(|(p, b)| p == "smartling-auth-core" && b == "parse"),
            "{benches:?}"
        );
    }
}
