//! `cargo xtask fuzz`: runs the cargo-fuzz targets on the committed corpus without
//! churning it, and reads libFuzzer's final statistics for the summary.

use std::collections::VecDeque;
use std::env;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cmd::{Failure, Result, cargo, ensure_cargo_tool, has_nightly, secs, show};

/// Default fuzzing time per target.
const DEFAULT_SECONDS: u64 = 60;

/// `[TARGET] [--seconds N]`.
pub fn parse_args(rest: &[String]) -> Result<(Option<String>, u64)> {
    let mut target = None;
    let mut seconds = DEFAULT_SECONDS;
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

/// The fuzz targets: the file stems of `fuzz/fuzz_targets/*.rs`, sorted.
pub fn fuzz_targets(root: &Path) -> Result<Vec<String>> {
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
pub struct FuzzStats {
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

    pub fn line(&self) -> String {
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

pub fn fuzz(root: &Path, target: Option<&str>, seconds: u64) -> Result<Vec<FuzzStats>> {
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

pub fn print_summary(stats: &[FuzzStats]) {
    if stats.is_empty() {
        return;
    }
    println!("\nfuzzing:");
    for s in stats {
        println!("  {}", s.line());
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
    fn parses_arguments_by_hand() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches!(parse_args(&args(&[])), Ok((None, 60))));
        assert!(
            matches!(parse_args(&args(&["session", "--seconds", "5"])), Ok((Some(t), 5)) if t == "session")
        );
        assert!(matches!(parse_args(&args(&["--seconds=7"])), Ok((None, 7))));
        assert!(parse_args(&args(&["--seconds", "0"])).is_err());
        assert!(parse_args(&args(&["--seconds"])).is_err());
        assert!(parse_args(&args(&["a", "b"])).is_err());
        assert!(parse_args(&args(&["--fast"])).is_err());
    }

    #[test]
    fn finds_the_fuzz_targets() {
        let targets = fuzz_targets(&crate::cmd::workspace_root()).unwrap_or_default();
        assert!(targets.iter().any(|t| t == "session"), "{targets:?}");
    }
}
