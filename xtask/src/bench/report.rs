//! The text of `BENCHMARKS.md`: the run's date and machine, the ratio table, every
//! benchmark's times, the CLI timing as printed, and the headline ratios that the
//! README copies.

use std::fmt::Write as _;

use super::criterion::Measured;
use super::machine::Machine;

/// A criterion benchmark: group and function; its full id is `group/function`.
type Id = (&'static str, &'static str);

/// One row of the ratio table: `a / b`.
struct Row {
    label: &'static str,
    a: Id,
    b: Id,
    /// What the ratio means.
    reading: &'static str,
    /// Whether the README quotes it.
    headline: bool,
    /// Whether a run may leave it out (it needs a server the machine may not have).
    optional: bool,
}

const ROWS: &[Row] = &[
    Row {
        label: "core: `parse_token_response` vs serde floor (borrowed struct)",
        a: ("parse_seed", "parse_token_response"),
        b: ("parse_seed", "serde_floor_borrowed"),
        reading: "time, x the floor",
        headline: true,
        optional: false,
    },
    Row {
        label: "core: `parse_token_response` vs `serde_json::Value`",
        a: ("parse_seed", "parse_token_response"),
        b: ("parse_seed", "serde_json_value"),
        reading: "time, x Value",
        headline: false,
        optional: false,
    },
    Row {
        label: "isahc: provider vs `Mutex` baseline, 1 thread",
        a: ("fresh_token", "provider/1_thread"),
        b: ("fresh_token", "mutex_baseline/1_thread"),
        reading: "time, x baseline",
        headline: true,
        optional: false,
    },
    Row {
        label: "isahc: provider, 2 threads vs 1",
        a: ("fresh_token", "provider/1_thread"),
        b: ("fresh_token", "provider/2_threads"),
        reading: "throughput, x 1 thread",
        headline: true,
        optional: false,
    },
    Row {
        label: "isahc: `Mutex` baseline, 2 threads vs 1",
        a: ("fresh_token", "mutex_baseline/1_thread"),
        b: ("fresh_token", "mutex_baseline/2_threads"),
        reading: "throughput, x 1 thread",
        headline: false,
        optional: false,
    },
    Row {
        label: "async-std: provider (one poll) vs `Mutex` baseline, 1 thread",
        a: ("access_token/single", "provider_poll_once"),
        b: ("access_token/single", "baseline_mutex"),
        reading: "time, x baseline",
        headline: false,
        optional: false,
    },
    Row {
        label: "async-std: provider, 2 threads vs 1",
        a: ("access_token/single", "provider_poll_once"),
        b: ("access_token/2_threads", "provider_poll_once"),
        reading: "throughput, x 1 thread",
        headline: false,
        optional: false,
    },
    Row {
        label: "async-std: `Mutex` baseline, 2 threads vs 1",
        a: ("access_token/single", "baseline_mutex"),
        b: ("access_token/2_threads", "baseline_mutex"),
        reading: "throughput, x 1 thread",
        headline: false,
        optional: false,
    },
    Row {
        label: "isahc: `access_token()` on a fresh token, with a token store vs without",
        a: ("store_l1", "with_store"),
        b: ("store_l1", "without_store"),
        reading: "time, x without a store",
        headline: true,
        optional: false,
    },
    Row {
        label: "isahc: adopting the record in Redis (read, unseal, install) vs a plain `GET` of its size",
        a: ("store_l2", "adopt_from_redis"),
        b: ("store_l2", "plain_get"),
        reading: "time, x the `GET` (needs redis-server)",
        headline: false,
        optional: true,
    },
];

/// The waiter benchmark: from a record's write to a waiting provider handing it out,
/// woken by the store.
const WAITER: Id = ("store_waiter", "write_to_seen/file");
/// The same, polling the store every 50 ms (the baseline: every waiter before
/// wake-ups).
const WAITER_POLLED: Id = ("store_waiter", "write_to_seen/file_polled");
/// The same two over Redis; only measured where `redis-server` is installed.
const WAITER_REDIS: Id = ("store_waiter", "write_to_seen/redis");
const WAITER_REDIS_POLLED: Id = ("store_waiter", "write_to_seen/redis_polled");
/// The waiter latency's target on loopback (mean).
const WAITER_TARGET_MS: f64 = 5.0;

/// Redis commands per member for one renewal of a cold fleet, woken and polled, as
/// the store benchmark writes them (`store_commands.txt` beside criterion's output).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commands {
    pub woken: f64,
    pub polled: f64,
}

impl Commands {
    /// Parses `woken <n>` and `polled <n>` lines.
    pub fn parse(text: &str) -> Option<Self> {
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
        };
        Some(Self {
            woken: value("woken ")?,
            polled: value("polled ")?,
        })
    }
}

/// The herd run's line: `herd of 20 x 50: 1 login, 2 refreshes for 2 expiries`.
#[derive(Debug, Clone, PartialEq)]
pub struct Herd {
    pub processes: u64,
    pub threads: u64,
    pub requests: u64,
    pub renewals: u64,
}

impl Herd {
    /// The herd test's summary line, wherever it is in `out`.
    pub fn parse(out: &str) -> Option<Herd> {
        let line = out.lines().find_map(|l| Some(&l[l.find("herd of ")?..]))?;
        let nums: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        let [processes, threads, logins, refreshes, expiries] = nums[..] else {
            return None;
        };
        Some(Herd {
            processes,
            threads,
            requests: logins + refreshes,
            renewals: 1 + expiries,
        })
    }

    /// Requests to the auth API per renewal the herd needed.
    pub fn per_renewal(&self) -> f64 {
        self.requests as f64 / self.renewals as f64
    }
}

/// The CLI timing's ratio lines the README quotes: the example's wording, and ours.
const CLI_HEADLINES: &[(&str, &str)] = &[
    (
        "refresh / curl, wall (median)",
        "CLI: `smartling-auth refresh` vs `curl` making the same POST, wall time (median)",
    ),
    (
        "token warm / --version, wall (median)",
        "CLI: `smartling-auth token` on a warm cache vs `smartling-auth --version`, wall time (median)",
    ),
];

/// Nanoseconds in the unit that keeps three significant digits.
pub fn fmt_ns(ns: f64) -> String {
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

/// `(what, ratio)` from a ratio line of the CLI timing:
/// `refresh / curl, wall (median)     0.24x  (target <= 1.3x: ok)`.
fn cli_ratio(line: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| {
        w.strip_suffix('x')
            .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok())
    })?;
    let ratio = words[at].strip_suffix('x')?;
    let what = line[..line.find(words[at])?].trim();
    (!what.is_empty()).then_some((what, ratio))
}

/// One run's results.
pub struct Report {
    pub when: String,
    pub machine: Machine,
    pub settings: String,
    pub measured: Vec<Measured>,
    /// The CLI timing's output, as printed.
    pub cli: Option<String>,
    /// The herd run's counts.
    pub herd: Option<Herd>,
    /// The store benchmark's Redis command counts.
    pub commands: Option<Commands>,
}

impl Report {
    fn find(&self, (group, function): Id) -> Option<&Measured> {
        self.measured
            .iter()
            .find(|m| m.id.strip_prefix(group).and_then(|r| r.strip_prefix('/')) == Some(function))
    }

    /// The rows and CLI lines this run could not fill.
    pub fn missing_rows(&self) -> Vec<String> {
        let mut missing: Vec<String> = ROWS
            .iter()
            .filter(|r| !r.optional)
            .flat_map(|r| [r.a, r.b])
            .chain([WAITER, WAITER_POLLED])
            .filter(|id| self.find(*id).is_none())
            .map(|(g, f)| format!("{g}/{f}"))
            .collect();
        missing.dedup();
        if self.herd.is_none() {
            missing.push("the herd run".into());
        }
        let cli = self.cli.as_deref().unwrap_or("");
        for (what, _) in CLI_HEADLINES {
            if !cli.lines().filter_map(cli_ratio).any(|(w, _)| w == *what) {
                missing.push(format!("CLI `{what}`"));
            }
        }
        missing
    }

    /// The headline ratios, one Markdown list item each.
    pub fn headlines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for row in ROWS.iter().filter(|r| r.headline) {
            if let (Some(a), Some(b)) = (self.find(row.a), self.find(row.b)) {
                out.push(format!(
                    "- {}: {:.2}x ({})",
                    row.label,
                    a.mean / b.mean,
                    row.reading
                ));
            }
        }
        if let Some(h) = &self.herd {
            out.push(format!(
                "- Token store: {:.2} requests to the auth API per renewal for {} processes x {} threads sharing a file store (1.00 is one per renewal)",
                h.per_renewal(),
                h.processes,
                h.threads
            ));
        }
        let cli = self.cli.as_deref().unwrap_or("");
        for (what, label) in CLI_HEADLINES {
            if let Some((_, r)) = cli.lines().filter_map(cli_ratio).find(|(w, _)| w == what) {
                out.push(format!("- {label}: {r}x (time, x the baseline)"));
            }
        }
        out
    }

    /// The whole of `BENCHMARKS.md`.
    pub fn render(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let load = |l: &Option<String>| l.clone().unwrap_or_else(|| "unknown".into());
        let _ = write!(
            s,
            "# Benchmarks\n\n\
             Written by `cargo xtask bench`; run it again rather than editing this file.\n\n\
             - Run: {}\n\
             - Machine: {}, {} logical CPUs; 1-minute load average {} at the start, {} at the end\n\
             - Toolchain: {}\n\
             - Settings: {}\n\n\
             Each ratio compares two benchmarks of this run. Timings move with the machine's \
             load; compare ratios, not absolute times, across machines.\n\n",
            self.when,
            m.cpu,
            m.cpus,
            load(&m.load_before),
            load(&m.load_after),
            m.rustc,
            self.settings
        );
        s.push_str("## Headline ratios\n\nThe README quotes these lines.\n\n");
        for h in self.headlines() {
            s.push_str(&h);
            s.push('\n');
        }
        s.push_str(
            "\n## Ratios\n\n\
             | comparison | A | B | ratio (mean) | ratio (median) | reads as |\n\
             |---|---|---|---|---|---|\n",
        );
        for row in ROWS {
            match (self.find(row.a), self.find(row.b)) {
                (Some(a), Some(b)) => {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {:.2}x | {:.2}x | {} |",
                        row.label,
                        fmt_ns(a.mean),
                        fmt_ns(b.mean),
                        a.mean / b.mean,
                        a.median / b.median,
                        row.reading
                    );
                }
                _ => {
                    let _ = writeln!(
                        s,
                        "| {} | n/a | n/a | n/a | n/a | not measured |",
                        row.label
                    );
                }
            }
        }
        s.push_str(
            "\nA and B are mean times per operation (2-thread benches: wall time / all \
             operations).\n\n## Every benchmark\n\n| benchmark | mean | median |\n|---|---|---|\n",
        );
        for b in &self.measured {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} |",
                b.id,
                fmt_ns(b.mean),
                fmt_ns(b.median)
            );
        }
        s.push_str(&self.store_section());
        s.push_str("\n## Command line\n\n");
        match &self.cli {
            Some(out) => {
                s.push_str(
                    "`crates/cli/examples/bench_cli.rs` against the emulator, as it printed:\n\n```text\n",
                );
                s.push_str(out.trim_end());
                s.push_str("\n```\n");
            }
            None => s.push_str("Not measured in this run.\n"),
        }
        s
    }
}

impl Report {
    /// The token store's figures that are not ratios: the waiter's latency and the
    /// herd's requests per renewal.
    fn store_section(&self) -> String {
        let mut s = String::from("\n## Token store\n\n");
        for (woken, polled, over) in [
            (WAITER, WAITER_POLLED, "a file store"),
            (WAITER_REDIS, WAITER_REDIS_POLLED, "Redis"),
        ] {
            match (self.find(woken), self.find(polled)) {
                (Some(w), Some(p)) => {
                    let verdict = if w.mean / 1e6 < WAITER_TARGET_MS {
                        "ok"
                    } else {
                        "MISSED"
                    };
                    let _ = writeln!(
                        s,
                        "- Over {over}, a waiting provider hands out a record {} (mean; median {}) after it was written, woken by the store; {} (mean; median {}) polling it every 50 ms, as before wake-ups; target under {WAITER_TARGET_MS} ms: {verdict}",
                        fmt_ns(w.mean),
                        fmt_ns(w.median),
                        fmt_ns(p.mean),
                        fmt_ns(p.median)
                    );
                }
                _ => {
                    let _ = writeln!(s, "- Waiter latency over {over}: not measured in this run.");
                }
            }
        }
        match self.commands {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "- Redis commands per member for one renewal, 20 providers with stores of their own starting cold on a 3 s login (`INFO commandstats`, connection set-up included): {:.1} woken, {:.1} polling every 50 ms",
                    c.woken, c.polled
                );
            }
            None => s.push_str("- Redis commands per member: not measured in this run.\n"),
        }
        match &self.herd {
            Some(h) => {
                let _ = writeln!(
                    s,
                    "- Herd: {} processes x {} threads over one file store made {} requests for {} renewals (a login, then one per expiry): {:.2} per renewal",
                    h.processes,
                    h.threads,
                    h.requests,
                    h.renewals,
                    h.per_renewal()
                );
            }
            None => s.push_str("- Herd: not measured in this run.\n"),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::criterion::read_criterion;
    use crate::testdir::TempDir;
    use std::fs;
    use std::path::Path;
    use std::time::SystemTime;

    const CLI_OUT: &str = "\
5 timed runs per case after 3 warm-ups; peak RSS: median of 5 runs

case                            median ms    mean ms peak RSS KiB
smartling-auth refresh               2.92       3.01         4908

refresh / curl, wall (median)              0.24x  (target <= 1.3x: ok)
refresh / curl, peak RSS                   0.46x  (target <= 2x: ok)
token warm / --version, wall (median)      1.11x  (target <= 1.5x: ok)
";

    fn report_from(dir: &Path, cli: Option<&str>) -> Report {
        Report {
            when: "2026-11-26 12:48 UTC".into(),
            machine: Machine {
                cpu: "Test CPU @ 2.0GHz".into(),
                cpus: 2,
                rustc: "rustc 1.95.0 (59807616e 2026-04-14)".into(),
                load_before: Some("0.10".into()),
                load_after: None,
            },
            settings: "Criterion: 1 s".into(),
            measured: read_criterion(dir, SystemTime::UNIX_EPOCH),
            cli: cli.map(str::to_owned),
            herd: Herd::parse("test x ... herd of 20 x 50: 1 login, 2 refreshes for 2 expiries"),
            commands: Commands::parse("woken 6.9\npolled 150.2\n"),
        }
    }

    /// Every benchmark the rows name, the n-th distinct one taking n x 100 ns (mean)
    /// and half of that (median).
    fn every_row(dir: &Path) {
        let mut ids: Vec<String> = Vec::new();
        for (g, f) in ROWS.iter().flat_map(|r| [r.a, r.b]).chain([
            WAITER,
            WAITER_POLLED,
            WAITER_REDIS,
            WAITER_REDIS_POLLED,
        ]) {
            let id = format!("{g}/{f}");
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let dirs: Vec<String> = ids.iter().map(|id| id.replace('/', "_")).collect();
        let benches: Vec<(&str, &str, f64, f64)> = ids
            .iter()
            .zip(&dirs)
            .enumerate()
            .map(|(n, (id, d))| {
                let t = 100.0 * (n + 1) as f64;
                (d.as_str(), id.as_str(), t, t / 2.0)
            })
            .collect();
        crate::bench::criterion::tests::fake_criterion(dir, &benches);
    }

    #[test]
    fn renders_a_fake_criterion_tree() {
        let dir = TempDir::new("report");
        every_row(dir.path());
        let r = report_from(dir.path(), Some(CLI_OUT));
        assert!(r.missing_rows().is_empty(), "{:?}", r.missing_rows());
        let text = r.render();
        for want in [
            "- Run: 2026-11-26 12:48 UTC",
            "- Machine: Test CPU @ 2.0GHz, 2 logical CPUs; 1-minute load average 0.10 at the start, unknown at the end",
            "- Toolchain: rustc 1.95.0 (59807616e 2026-04-14)",
            // Row 0: a = 100 ns, b = 200 ns (mean), medians half of that.
            "| core: `parse_token_response` vs serde floor (borrowed struct) | 100 ns | 200 ns | 0.50x | 0.50x | time, x the floor |",
            "| `parse_seed/parse_token_response` | 100 ns | 50.0 ns |",
            "refresh / curl, wall (median)              0.24x  (target <= 1.3x: ok)",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let heads = r.headlines();
        assert_eq!(heads.len(), 7, "{heads:?}");
        assert_eq!(
            heads[0],
            "- core: `parse_token_response` vs serde floor (borrowed struct): 0.50x (time, x the floor)"
        );
        assert!(text.contains("- Herd: 20 processes x 50 threads over one file store made 3 requests for 3 renewals (a login, then one per expiry): 1.00 per renewal"), "{text}");
        for over in ["a file store", "Redis"] {
            assert!(
                text.lines().any(
                    |l| l.starts_with(&format!("- Over {over}, a waiting provider"))
                        && l.ends_with(": ok")
                ),
                "the waiter over {over} is within its bound: {text}"
            );
        }
        assert_eq!(
            heads[6],
            "- CLI: `smartling-auth token` on a warm cache vs `smartling-auth --version`, wall time (median): 1.11x (time, x the baseline)"
        );
        for h in &heads {
            assert!(text.lines().any(|l| l == h), "{h} not in BENCHMARKS.md");
        }
    }

    #[test]
    fn a_partial_run_names_what_is_missing() {
        let dir = TempDir::new("report-partial");
        crate::bench::criterion::tests::fake_criterion(
            dir.path(),
            &[("x", "parse_seed/parse_token_response", 1.0, 1.0)],
        );
        let mut r = report_from(dir.path(), None);
        r.herd = None;
        let missing = r.missing_rows();
        assert!(missing.contains(&"the herd run".to_owned()));
        assert!(missing.contains(&"parse_seed/serde_floor_borrowed".to_owned()));
        assert!(!missing.contains(&"parse_seed/parse_token_response".to_owned()));
        // Redis rows may be absent; the waiter may not.
        assert!(
            !missing.iter().any(|m| m.starts_with("store_l2")),
            "{missing:?}"
        );
        assert!(missing.contains(&"store_waiter/write_to_seen/file".to_owned()));
        assert!(missing.iter().any(|m| m.starts_with("CLI ")));
        let text = r.render();
        assert!(text.contains("| n/a | n/a | n/a | n/a | not measured |"));
        assert!(text.contains("Not measured in this run."));
        assert!(text.contains("- Herd: not measured in this run."));
        assert!(text.contains("- Redis commands per member for one renewal"));
        assert!(text.contains("- Waiter latency over a file store: not measured in this run."));
        // Without redis-server the Redis waiter is absent, and not a missing row.
        assert!(text.contains("- Waiter latency over Redis: not measured in this run."));
        assert!(
            !missing.iter().any(|m| m.ends_with("/redis")),
            "{missing:?}"
        );
        assert!(r.headlines().is_empty());
    }

    #[test]
    fn rows_name_benchmarks_that_exist() {
        // A renamed benchmark would leave its rows at n/a: catch it here instead.
        let root = crate::cmd::workspace_root();
        let mut sources = String::new();
        for dir in [
            "crates/core/benches",
            "crates/isahc/benches",
            "crates/async-std/benches",
        ] {
            for e in fs::read_dir(root.join(dir)).unwrap().flatten() {
                sources.push_str(&fs::read_to_string(e.path()).unwrap());
            }
        }
        for row in ROWS {
            for (group, function) in [row.a, row.b] {
                let quoted = |s: &str| sources.contains(&format!("\"{s}\""));
                assert!(
                    quoted(group) && quoted(function),
                    "no bench group {group:?} with function {function:?}"
                );
            }
        }
        let example = fs::read_to_string(root.join("crates/cli/examples/bench_cli.rs")).unwrap();
        for (what, _) in CLI_HEADLINES {
            assert!(
                example.contains(&format!("\"{what}\"")),
                "bench_cli prints no {what:?}"
            );
        }
    }

    #[test]
    fn reads_the_herd_line() {
        let h = Herd::parse(
            "noise\ntest t ... herd of 20 x 50: 1 login, 4 refreshes for 2 expiries\nok",
        )
        .unwrap();
        assert_eq!(
            (h.processes, h.threads, h.requests, h.renewals),
            (20, 50, 5, 3)
        );
        assert!((h.per_renewal() - 5.0 / 3.0).abs() < 1e-9);
        assert_eq!(Herd::parse("herd of 20 x 50"), None);
        assert_eq!(Herd::parse("nothing"), None);
    }

    #[test]
    fn reads_cli_lines_and_formats_times() {
        assert_eq!(
            cli_ratio("refresh / curl, peak RSS                   0.46x  (target <= 2x: ok)"),
            Some(("refresh / curl, peak RSS", "0.46"))
        );
        assert_eq!(cli_ratio("case   median ms"), None);
        assert_eq!(cli_ratio("1.5x"), None);
        assert_eq!(fmt_ns(4182.8), "4.18 µs");
        assert_eq!(fmt_ns(59.0), "59.0 ns");
        assert_eq!(fmt_ns(2.5e9), "2.50 s");
    }
}
