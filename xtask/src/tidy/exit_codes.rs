//! The CLI's exit codes, read from the three places that state them: the constants
//! of `crates/cli/src/exit.rs` (what the binary does), the `Exit codes:` part of the
//! help text in `crates/cli/src` (what `--help` prints), and the table under the
//! `Exit codes` heading of `crates/cli/README.md`. Sources are parsed rather than
//! the binary run, so the check needs no build and gives the same answer every time.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::{Finding, has_ext};

pub type Codes = BTreeSet<u8>;

/// `const NAME: u8 = N;` lines (any visibility), plus 0 for success.
pub fn from_exit_rs(source: &str) -> Codes {
    let mut codes: Codes = [0].into();
    for line in source.lines() {
        let t = line.trim();
        let Some(at) = t.find("const ") else { continue };
        let Some((_, rest)) = t[at..].split_once(": u8 =") else {
            continue;
        };
        if let Ok(n) = rest.trim().trim_end_matches(';').trim().parse() {
            codes.insert(n);
        }
    }
    codes
}

/// The codes in the rows of the table under the first heading that contains
/// "Exit codes", up to the next heading: rows whose first cell is a number.
pub fn from_readme(md: &str) -> Option<Codes> {
    let mut lines = md.lines().skip_while(|l| {
        !(l.trim_start().starts_with('#') && l.to_ascii_lowercase().contains("exit codes"))
    });
    lines.next()?;
    let mut codes = Codes::new();
    for l in lines.take_while(|l| !l.trim_start().starts_with('#')) {
        let Some(row) = l.trim().strip_prefix('|') else {
            continue;
        };
        let cell = row.split('|').next().unwrap_or("").trim().trim_matches('`');
        if let Ok(n) = cell.parse() {
            codes.insert(n);
        }
    }
    Some(codes)
}

/// The codes listed after an `Exit codes:` line inside a string of a Rust source, up
/// to the next blank line or the end of the string. A code is a number that starts
/// the line or follows two spaces or more: `0 success   2 usage (…)`.
pub fn from_help(source: &str) -> Option<(usize, Codes)> {
    let lines: Vec<&str> = source.lines().collect();
    let start = lines.iter().position(|l| l.contains("Exit codes:"))?;
    let mut codes = Codes::new();
    // The part after the heading on its own line, then the following lines.
    let first = lines[start]
        .split_once("Exit codes:")
        .map_or("", |(_, r)| r);
    let rest = lines[start + 1..].iter().copied();
    for raw in std::iter::once(first).chain(rest) {
        let (text, ends) = match raw.find('"').filter(|i| !raw[..*i].ends_with('\\')) {
            Some(i) => (&raw[..i], true),
            None => (raw, false),
        };
        for part in text.split("\\n") {
            let part = part.trim_end_matches('\\');
            if part.trim().is_empty() && !codes.is_empty() {
                return Some((start + 1, codes));
            }
            codes.extend(codes_in(part));
        }
        if ends {
            break;
        }
    }
    Some((start + 1, codes))
}

/// Numbers at the start of `line` or after a gap of two spaces or more.
fn codes_in(line: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let trimmed = line.trim_start();
    let mut candidates = vec![trimmed];
    let mut rest = trimmed;
    while let Some(i) = rest.find("  ") {
        rest = rest[i..].trim_start();
        candidates.push(rest);
    }
    for c in candidates {
        let word = c.split_whitespace().next().unwrap_or("");
        if let Ok(n) = word.parse() {
            out.push(n);
        }
    }
    out
}

/// `exit.rs`, the help text and the README must list the same codes; `exit.rs` is
/// what the binary does, so the others are reported against it.
pub fn check(root: &Path, files: &[PathBuf]) -> Vec<Finding> {
    let cli = Path::new("crates/cli");
    if !root.join(cli).join("Cargo.toml").is_file() {
        return Vec::new();
    }
    let read = |rel: &Path| fs::read_to_string(root.join(rel)).ok();
    let exit_rs = cli.join("src/exit.rs");
    let Some(codes) = read(&exit_rs).map(|s| from_exit_rs(&s)) else {
        return vec![Finding::new(
            "crates/cli",
            1,
            "no src/exit.rs to read the exit codes from",
        )];
    };
    let show = |c: &Codes| c.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    let readme = cli.join("README.md");
    match read(&readme).and_then(|s| from_readme(&s)) {
        Some(r) if r == codes => {}
        Some(r) => out.push(Finding::new(
            readme.display().to_string(),
            1,
            format!(
                "exit codes {} differ from exit.rs's {}",
                show(&r),
                show(&codes)
            ),
        )),
        None => out.push(Finding::new(
            readme.display().to_string(),
            1,
            "no `Exit codes` section",
        )),
    }
    let help = files
        .iter()
        .filter(|f| f.starts_with(cli.join("src")) && has_ext(f, "rs"))
        .find_map(|f| Some((f, from_help(&read(f)?)?)));
    match help {
        Some((_, (_, h))) if h == codes => {}
        Some((f, (line, h))) => out.push(Finding::new(
            f.display().to_string(),
            line,
            format!(
                "--help lists exit codes {}, exit.rs has {}",
                show(&h),
                show(&codes)
            ),
        )),
        None => out.push(Finding::new(
            "crates/cli/src",
            1,
            "no `Exit codes:` part in the help text",
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_sources() {
        let exit =
            "pub(crate) const USAGE: u8 = 2;\nconst OUTPUT: u8 = 1;\npub const X: u16 = 9;\n";
        assert_eq!(from_exit_rs(exit), [0, 1, 2].into());

        let readme = "# CLI\n\n| code | x |\n|---|---|\n| 7 | no |\n## Exit codes\n\n| code | meaning |\n|---|---|\n| 0 | ok |\n| `2` | usage |\n| 3 | the API said 4xx |\n\n## Next\n| 9 | no |\n";
        assert_eq!(from_readme(readme), Some([0, 2, 3].into()));
        assert_eq!(from_readme("# CLI\n"), None);

        let help = "const AFTER_HELP: &str = \"\\\nEnvironment:\n  X   y\n\nExit codes:\n  0 success   2 usage (bad flags, 3 retries)\n  3 the API rejected the request (4xx)   4 network failure after retries\n\nExample:\n  curl 5\";\n";
        assert_eq!(from_help(help), Some((5, [0, 2, 3, 4].into())));
        let one_line = "after_help = \"Exit codes:\\n  0 ok  1 output\\n\\nMore 7\";";
        assert_eq!(from_help(one_line), Some((1, [0, 1].into())));
        let ends = "x = \"\nExit codes:\n  0 ok   5 five\";\nconst Y: u8 = 7;\n";
        assert_eq!(from_help(ends), Some((2, [0, 5].into())));
        assert_eq!(from_help("no help here"), None);
    }
}
