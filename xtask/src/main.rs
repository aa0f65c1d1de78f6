//! Project tasks: `cargo xtask <command>`. Run `cargo xtask help` for the list.
//!
//! No dependencies: arguments are parsed by hand, JSON is read by `json`, and every
//! task is a cargo (or cargo-fuzz, cargo-deny) command run from the workspace root.
//! One module per task; `cmd` holds what they share.

#![forbid(unsafe_code)]

mod bench;
mod build_size;
mod ci;
mod cmd;
mod demo;
mod fuzz;
mod json;
mod package;
mod snippets;
#[cfg(test)]
mod testdir;
mod tidy;

use std::env;
use std::process::ExitCode;

use cmd::{Failure, Result, workspace_root};

const USAGE: &str = "\
Usage: cargo xtask <command> [options]

Commands:
  ci [--skip-tests]             What CI runs (.ci/run): fmt, tidy, clippy, test (unless
                                --skip-tests), doc, deny, examples, snippets, bench build,
                                cargo package (verified), and a 30 s fuzz smoke run of
                                every fuzz target. Stops at the first failure.
  tidy                          Checks that keep docs and manifests true: paths named
                                in Markdown and doc comments exist, `//!` headers, the
                                CLI's exit codes, headline figures, rust-version and
                                publish metadata. Reads files only; about a second.
  snippets                      Builds every Rust block of the READMEs and every
                                example as a user's crate would, outside the workspace
                                (target/snippets), with only the features each README
                                documents. Failures name the README line.
  package                       Packs every published crate and builds each from its
                                packaged sources, as ci does (target/package-verify).
  fuzz [TARGET] [--seconds N]   Runs one fuzz target (all when none is given) for N
                                seconds each (default 60) on the committed corpus, then
                                prints executions and coverage. Fails on a finding.
  bench [--quick]               Runs every benchmark and the CLI timing, prints the
                                results, and writes BENCHMARKS.md and the README's
                                headline ratios. --quick: short runs, rough figures.
  build-size [--only PATH]...   Builds a minimal program per way of using the crates
                                (core; isahc, async-std, reqwest, each alone and with
                                the Redis store; reqwest alone for reference), each
                                clean in target/build-size/<path>/ and killed after
                                15 min, and records build time, crates compiled, the
                                crates that compile C and the stripped binary size in
                                target/build-size/report.md and build_size.txt.
  demo [fleet]                  Runs the CLI demo against the bundled emulator; with
                                `fleet`, three processes sharing one token through a
                                store (Redis when redis-server is on PATH, else files).
  help                          This text.

Environment: installs cargo-fuzz and cargo-deny with `cargo install --locked` when
missing; uses the nightly toolchain for fuzzing when rustup has one, otherwise
RUSTC_BOOTSTRAP=1 on the current toolchain.";

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
        "ci" => ci::ci(&root, ci::parse_args(rest)?),
        "tidy" => {
            no_args("tidy", rest)?;
            tidy::tidy(&root)
        }
        "snippets" => {
            no_args("snippets", rest)?;
            snippets::snippets(&root)
        }
        "package" => {
            no_args("package", rest)?;
            package::package(&root)
        }
        "fuzz" => {
            let (target, seconds) = fuzz::parse_args(rest)?;
            let stats = fuzz::fuzz(&root, target.as_deref(), seconds)?;
            fuzz::print_summary(&stats);
            Ok(())
        }
        "bench" => bench::bench(&root, bench::parse_args(rest)?),
        "build-size" => build_size::build_size(&root, &build_size::parse_args(rest)?),
        "demo" => match rest {
            [] => demo::demo(&root, false),
            [a] if a == "fleet" => demo::demo(&root, true),
            [a, ..] => Err(Failure::Usage(format!("demo: unknown argument `{a}`"))),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_commands_and_arguments() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches!(run(&args(&["nope"])), Err(Failure::Usage(_))));
        assert!(matches!(run(&args(&["tidy", "x"])), Err(Failure::Usage(_))));
        assert!(matches!(run(&args(&["demo", "x"])), Err(Failure::Usage(_))));
        assert!(matches!(
            run(&args(&["snippets", "x"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            run(&args(&["package", "x"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            run(&args(&["ci", "--fast"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            run(&args(&["bench", "--slow"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            run(&args(&["build-size", "--only", "nope"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            run(&args(&["fuzz", "--seconds", "x"])),
            Err(Failure::Usage(_))
        ));
        assert!(run(&args(&["help"])).is_ok());
    }
}
