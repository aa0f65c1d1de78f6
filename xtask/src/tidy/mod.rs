//! `cargo xtask tidy`: the checks that keep the docs and the manifests true. Reads
//! files and `cargo metadata` only, builds nothing, so it runs in about a second:
//! - paths named in Markdown files and doc comments exist inside the repository
//!   (`paths` says exactly what counts as a path);
//! - every `.rs` file under `crates/` starts with a `//!` header;
//! - the CLI's exit codes agree between `exit.rs`, `--help` and its README;
//! - the README's headline ratios are lines of `BENCHMARKS.md`;
//! - `rust-version` is honest and published crates are ready, and clippy's lint
//!   against APIs newer than `rust-version` is never turned off (`manifest`).
//!
//! Not read: `target/` (any depth), `.git/`, `fuzz/corpus/`, `fuzz/artifacts/`,
//! `fuzz/coverage/`.

mod exit_codes;
mod figures;
pub mod manifest;
mod markdown;
mod paths;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cmd::{Failure, Result, cargo, output_of};
use crate::json::Json;

/// One problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

impl Finding {
    fn new(file: impl Into<String>, line: usize, msg: impl Into<String>) -> Finding {
        Finding {
            file: file.into(),
            line,
            msg: msg.into(),
        }
    }
}

/// Directories never read, relative to the root.
const SKIPPED: &[&str] = &[".git", "fuzz/corpus", "fuzz/artifacts", "fuzz/coverage"];

/// Every file of the repository, relative to the root, sorted.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let path = rel.join(e.file_name());
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                let skipped =
                    e.file_name() == "target" || SKIPPED.iter().any(|s| path == Path::new(s));
                if !skipped {
                    stack.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e == ext)
}

/// Every check that reads files only.
pub fn check_tree(root: &Path) -> Vec<Finding> {
    let files = walk(root);
    let repo = paths::Repo {
        root,
        names: files
            .iter()
            .filter_map(|f| Some(f.file_name()?.to_string_lossy().into_owned()))
            .collect::<HashSet<_>>(),
    };
    let mut out = Vec::new();
    for file in &files {
        let shown = file.display().to_string();
        let (is_md, is_rs) = (has_ext(file, "md"), has_ext(file, "rs"));
        if !is_md && !is_rs && !has_ext(file, "toml") {
            continue;
        }
        let Ok(text) = fs::read_to_string(root.join(file)) else {
            out.push(Finding::new(&shown, 1, "cannot be read as UTF-8 text"));
            continue;
        };
        if let Some((line, msg)) = manifest::msrv_lint_off(file, &text) {
            out.push(Finding::new(&shown, line, msg));
        }
        if !is_md && !is_rs {
            continue;
        }
        let blocks = if is_md {
            vec![(1, text.clone())]
        } else {
            markdown::doc_blocks(&text)
        };
        for (first, block) in blocks {
            for tok in markdown::tokens(&block, first) {
                let md_link = is_md && tok.kind == markdown::Kind::Link;
                if let Some(msg) = paths::check(&repo, file, &tok.text, md_link) {
                    out.push(Finding::new(&shown, tok.line, msg));
                }
            }
        }
        if is_rs && file.starts_with("crates") {
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if !first.trim_start().starts_with("//!") {
                out.push(Finding::new(
                    &shown,
                    1,
                    "no `//!` header saying why the file exists",
                ));
            }
        }
    }
    out.extend(exit_codes::check(root, &files));
    if let Ok(readme) = fs::read_to_string(root.join("README.md")) {
        let bench = fs::read_to_string(root.join("BENCHMARKS.md")).ok();
        for (line, msg) in figures::check(&readme, bench.as_deref()) {
            out.push(Finding::new("README.md", line, msg));
        }
    }
    out
}

/// `cargo metadata`, parsed.
pub fn metadata(root: &Path) -> Result<Json> {
    output_of(cargo(root).args(["metadata", "--format-version", "1"]))
        .and_then(|s| Json::parse(&s).map_err(|e| Failure::Msg(format!("cargo metadata: {e}"))))
}

/// Runs every check and prints the findings; fails when there is one.
pub fn tidy(root: &Path) -> Result {
    let t0 = Instant::now();
    let mut findings = check_tree(root);
    match metadata(root) {
        Ok(meta) => findings.extend(
            manifest::check(root, &meta)
                .into_iter()
                .map(|(file, msg)| Finding::new(file, 1, msg)),
        ),
        Err(Failure::Msg(m)) => findings.push(Finding::new("Cargo.toml", 1, m)),
        Err(e) => return Err(e),
    }
    findings.sort();
    for f in &findings {
        println!("{}:{}: {}", f.file, f.line, f.msg);
    }
    let took = t0.elapsed().as_secs_f64();
    if findings.is_empty() {
        println!("tidy: ok ({took:.2} s)");
        Ok(())
    } else {
        Err(Failure::Msg(format!(
            "tidy: {} problem(s) ({took:.2} s)",
            findings.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::readme::{HEADLINE_END, HEADLINE_START};
    use crate::testdir::TempDir;

    const EXIT_RS: &str =
        "//! Exit codes.\npub(crate) const USAGE: u8 = 2;\npub(crate) const REJECTED: u8 = 3;\n";
    const ARGS_RS: &str = "//! Flags.\nconst AFTER_HELP: &str = \"\\\nExit codes:\n  0 success   2 usage   3 rejected\n\";\n";
    const CLI_README: &str = "# cli\n\nSee [the root](../../README.md) and `src/exit.rs`.\n\n## Exit codes\n\n| code | meaning |\n|---|---|\n| 0 | ok |\n| 2 | usage |\n| 3 | rejected |\n";

    /// A small repository that passes every file check.
    fn good_tree() -> TempDir {
        let dir = TempDir::new("tidy");
        dir.write(
            "README.md",
            &format!(
                "# x\n\nSee `crates/cli/README.md`, `ARCHITECTURE.md` and [bench](BENCHMARKS.md).\n\n```sh\ncat missing/in/a/fence.md\n```\n\n{HEADLINE_START}\n- a: 1.00x\n{HEADLINE_END}\n"
            ),
        );
        dir.write(
            "ARCHITECTURE.md",
            "`crates/cli/src/exit.rs`, `~/.cache/x/`, `<cache file>.lock`\n",
        );
        dir.write("BENCHMARKS.md", "# Benchmarks\n\n- a: 1.00x\n");
        dir.write("crates/cli/Cargo.toml", "[package]\n");
        dir.write("crates/cli/README.md", CLI_README);
        dir.write("crates/cli/src/exit.rs", EXIT_RS);
        dir.write("crates/cli/src/args.rs", ARGS_RS);
        dir.write(
            "crates/cli/src/main.rs",
            "//! The binary: see `args.rs`.\n\n/// Uses `exit.rs`.\nfn main() {}\n",
        );
        // Skipped directories may hold anything.
        dir.write(
            "target/debug/x.rs",
            "fn no_header() {}\n/// `gone/file.rs`\n",
        );
        dir.write("fuzz/corpus/t/x.md", "`gone/file.md`");
        dir
    }

    fn messages(dir: &TempDir) -> Vec<String> {
        check_tree(dir.path())
            .into_iter()
            .map(|f| format!("{}:{}: {}", f.file, f.line, f.msg))
            .collect()
    }

    #[test]
    fn a_clean_tree_passes() {
        let dir = good_tree();
        assert_eq!(messages(&dir), Vec::<String>::new());
    }

    #[test]
    fn fails_on_a_planted_broken_path() {
        let dir = good_tree();
        dir.write(
            "crates/cli/src/lock.rs",
            "//! Locks; the model is `crates/core/src/gone.rs`.\n",
        );
        dir.write(
            "docs/guide.md",
            "# Guide\n\nRead [the spec](../../outside/notes.md).\n\nThen `missing-notes.md`.\n",
        );
        assert_eq!(
            messages(&dir),
            [
                "crates/cli/src/lock.rs:1: `crates/core/src/gone.rs`: no such path relative to this file's directory or any above it",
                "docs/guide.md:3: `../../outside/notes.md` climbs out of the repository",
                "docs/guide.md:5: `missing-notes.md`: no file of that name in the repository",
            ]
        );
    }

    #[test]
    fn fails_on_a_missing_header() {
        let dir = good_tree();
        dir.write(
            "crates/cli/tests/flags.rs",
            "\n#![forbid(unsafe_code)]\n//! Late header.\n",
        );
        dir.write("xtask/src/free.rs", "fn outside_crates_needs_none() {}\n");
        assert_eq!(
            messages(&dir),
            ["crates/cli/tests/flags.rs:1: no `//!` header saying why the file exists"]
        );
    }

    #[test]
    fn fails_on_mismatched_exit_codes() {
        let dir = good_tree();
        dir.write(
            "crates/cli/src/exit.rs",
            &format!("{EXIT_RS}const OUTPUT: u8 = 1;\n"),
        );
        assert_eq!(
            messages(&dir),
            [
                "crates/cli/README.md:1: exit codes 0, 2, 3 differ from exit.rs's 0, 1, 2, 3",
                "crates/cli/src/args.rs:3: --help lists exit codes 0, 2, 3, exit.rs has 0, 1, 2, 3",
            ]
        );
        dir.write("crates/cli/src/args.rs", "//! Flags, and no help text.\n");
        dir.write("crates/cli/README.md", "# cli\n");
        let msgs = messages(&dir);
        assert!(
            msgs.contains(&"crates/cli/src:1: no `Exit codes:` part in the help text".to_owned()),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"crates/cli/README.md:1: no `Exit codes` section".to_owned()),
            "{msgs:?}"
        );
    }

    #[test]
    fn fails_when_the_msrv_lint_is_off() {
        let dir = good_tree();
        let lint = manifest::MSRV_LINT;
        dir.write(
            "crates/cli/src/old.rs",
            &format!("//! Old.\n#![allow(clippy::{lint})]\n"),
        );
        dir.write(
            "crates/cli/Cargo.toml",
            &format!("[package]\n[lints.clippy]\n{lint} = \"allow\"\n"),
        );
        dir.write("clippy.toml", "msrv = \"1.70\"\n");
        // Comments may name the lint.
        dir.write(
            "crates/cli/src/ok.rs",
            &format!("//! Ok.\n// {lint} is allowed nowhere\n"),
        );
        assert_eq!(
            messages(&dir),
            [
                format!("clippy.toml:1: `msrv` overrides rust-version for {lint}"),
                format!("crates/cli/Cargo.toml:3: turns clippy's {lint} off or down"),
                format!("crates/cli/src/old.rs:2: turns clippy's {lint} off or down"),
            ]
        );
    }

    #[test]
    fn fails_on_an_edited_headline() {
        let dir = good_tree();
        dir.write("BENCHMARKS.md", "# Benchmarks\n\n- a: 1.01x\n");
        assert_eq!(
            messages(&dir),
            ["README.md:10: headline `- a: 1.00x` is not a line of BENCHMARKS.md"]
        );
    }

    #[test]
    fn the_repository_walk_skips_build_output() {
        let dir = good_tree();
        let files = walk(dir.path());
        assert!(files.contains(&PathBuf::from("crates/cli/src/exit.rs")));
        assert!(
            !files
                .iter()
                .any(|f| f.starts_with("target") || f.starts_with("fuzz/corpus"))
        );
    }
}
