//! The date and machine a benchmark run is stamped with: UTC time without a date
//! library, the CPU model and count from `/proc/cpuinfo`, the load average, and
//! `rustc --version`.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cmd::output_of;

/// Where and with what the run was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub rustc: String,
    pub load_before: Option<String>,
    pub load_after: Option<String>,
}

impl Machine {
    pub fn detect(root: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu, count) = cpu_of(&cpuinfo);
        let cpus = count
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(0);
        let rustc = output_of(
            std::process::Command::new("rustc")
                .arg("--version")
                .current_dir(root),
        )
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "rustc (version unknown)".to_owned());
        Machine {
            cpu: cpu.unwrap_or_else(|| "unknown CPU".to_owned()),
            cpus,
            rustc,
            load_before: load_average(),
            load_after: None,
        }
    }

    pub fn with_load_after(mut self) -> Machine {
        self.load_after = load_average();
        self
    }
}

/// The CPU model and the number of logical CPUs listed in `/proc/cpuinfo`.
fn cpu_of(cpuinfo: &str) -> (Option<String>, Option<usize>) {
    let field = |line: &str, key: &str| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    };
    let model = cpuinfo.lines().find_map(|l| field(l, "model name"));
    let count = cpuinfo
        .lines()
        .filter(|l| field(l, "processor").is_some())
        .count();
    (model, (count > 0).then_some(count))
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> Option<String> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

/// `YYYY-MM-DD HH:MM UTC`.
pub fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpuinfo_and_dates() {
        let info = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_of(info), (Some("AMD EPYC 7B13".into()), Some(2)));
        assert_eq!(cpu_of(""), (None, None));
        let at = |s: u64| utc(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(at(951_868_800), "2000-03-01 00:00 UTC");
        assert_eq!(at(1_709_164_800 + 3600 + 120), "2024-02-29 01:02 UTC");
        assert_eq!(at(1_798_761_599), "2026-12-31 23:59 UTC");
    }
}
