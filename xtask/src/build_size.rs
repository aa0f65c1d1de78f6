//! `cargo xtask build-size`: what each way of using the crates costs to build. For
//! every path in `PATHS` (core alone, each transport, each with the Redis store, a
//! bare reqwest for reference), a minimal program that calls the path's API is
//! written to a scratch crate in `target/build-size/<path>/`, depending on the
//! workspace crates by path, with the workspace's `Cargo.lock` copied in so that the
//! versions match. Each is built with a clean `cargo build --release` in a fresh
//! target directory of its own, killed after `LIMIT`, and measured: wall-clock time,
//! crates compiled (the `Compiling` lines), the crates whose build scripts compiled C
//! (object files in their `OUT_DIR`), and the stripped binary's size.
//!
//! The table is printed and written, with the date and machine, to
//! `target/build-size/report.md`, and as tab-separated values to
//! `target/build-size/build_size.txt` (as the store benchmark writes
//! `target/criterion/store_commands.txt`). A run that measured every path also writes
//! its table into BENCHMARKS.md, as the section `## Build size`, which
//! `cargo xtask bench` keeps when it rewrites the rest.
//!
//! Builds use cargo's default release profile, as a downstream program would (the
//! workspace's own `[profile.release]` does not reach another workspace).

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::bench::machine::{self, Machine};
use crate::bench::toml_string;
use crate::cmd::{Failure, Result, cargo, show, target_dir};

/// The most one build may take before it is killed.
const LIMIT: Duration = Duration::from_secs(15 * 60);

/// A dependency of a path's program.
#[derive(Debug, Clone, Copy)]
enum Dep {
    /// A workspace crate, by its directory under `crates/`, with features.
    Workspace(&'static str, &'static [&'static str]),
    /// A crates.io line, as written in `[dependencies]`.
    Registry(&'static str),
}

/// One way of using the crates: a scratch program and what it depends on.
#[derive(Debug, Clone, Copy)]
pub struct BuildPath {
    /// The directory name under `target/build-size/` and the row's label.
    pub name: &'static str,
    deps: &'static [Dep],
    /// The body of `fn main`, in parts: it reads its inputs from the command line, so
    /// that the calls it makes cannot be optimized away.
    main: &'static [&'static str],
    /// Whether the program needs `block_on` (defined in the program, std only).
    needs_block_on: bool,
}

const STORE_REDIS: Dep = Dep::Workspace("store", &["redis"]);

/// The Redis store, opened and asked for nothing (building it is what counts).
const REDIS_USE: &str = r#"    let store = smartling_auth_store::RedisStore::open(&arg(4));
    println!("{}", store.is_ok());
"#;

const CORE_MAIN: &str = r#"    let base = smartling_auth_core::BaseUrl::parse(&arg(1)).expect("a base URL");
    let credentials = smartling_auth_core::Credentials::new(arg(2), arg(3));
    let request = smartling_auth_core::authenticate_request(&base, &credentials);
    let answer = smartling_auth_core::http::Response::new(arg(4).into_bytes());
    let parsed = smartling_auth_core::parse_token_response(&answer);
    println!("{} {}", request.uri(), parsed.is_ok());
"#;

const ISAHC_MAIN: &str = r#"    let base = smartling_auth_isahc::BaseUrl::parse(&arg(1)).expect("a base URL");
    let credentials = smartling_auth_isahc::Credentials::new(arg(2), arg(3));
    println!("{}", smartling_auth_isahc::authenticate(&base, &credentials).is_ok());
"#;

const ASYNC_STD_MAIN: &str = r#"    let base = smartling_auth_async_std::BaseUrl::parse(&arg(1)).expect("a base URL");
    let credentials = smartling_auth_async_std::Credentials::new(arg(2), arg(3));
    let pair = block_on(smartling_auth_async_std::authenticate(&base, &credentials));
    println!("{}", pair.is_ok());
"#;

/// The reqwest transport's provider, asked for a token (it builds the middleware's
/// crate too, as every user of the crate does).
const REQWEST_MAIN: &str = r#"    let base = smartling_auth_reqwest::BaseUrl::parse(&arg(1)).expect("a base URL");
    let credentials = smartling_auth_reqwest::Credentials::new(arg(2), arg(3));
    let provider = smartling_auth_reqwest::TokenProvider::new(base, credentials).expect("a provider");
    let token = block_on(provider.access_token());
    println!("{}", token.is_ok());
"#;

const REQWEST_ALONE_MAIN: &str = r#"    let client = reqwest::Client::new();
    let answer = block_on(client.post(arg(1)).body(arg(2)).send());
    println!("{}", answer.map(|a| a.status().as_u16()).unwrap_or(0));
"#;

/// The paths, in the table's order. A path on a workspace crate that does not exist
/// (yet) is left out, so a new transport is measured once its directory is there.
pub const PATHS: &[BuildPath] = &[
    BuildPath {
        name: "core",
        deps: &[Dep::Workspace("core", &[])],
        main: &[CORE_MAIN],
        needs_block_on: false,
    },
    BuildPath {
        name: "isahc",
        deps: &[Dep::Workspace("isahc", &[])],
        main: &[ISAHC_MAIN],
        needs_block_on: false,
    },
    BuildPath {
        name: "isahc+redis",
        deps: &[Dep::Workspace("isahc", &[]), STORE_REDIS],
        main: &[ISAHC_MAIN, REDIS_USE],
        needs_block_on: false,
    },
    BuildPath {
        name: "async-std",
        deps: &[Dep::Workspace("async-std", &[])],
        main: &[ASYNC_STD_MAIN],
        needs_block_on: true,
    },
    BuildPath {
        name: "async-std+redis",
        deps: &[Dep::Workspace("async-std", &[]), STORE_REDIS],
        main: &[ASYNC_STD_MAIN, REDIS_USE],
        needs_block_on: true,
    },
    BuildPath {
        name: "reqwest",
        deps: &[Dep::Workspace("reqwest", &[])],
        main: &[REQWEST_MAIN],
        needs_block_on: true,
    },
    BuildPath {
        name: "reqwest+redis",
        deps: &[Dep::Workspace("reqwest", &[]), STORE_REDIS],
        main: &[REQWEST_MAIN, REDIS_USE],
        needs_block_on: true,
    },
    BuildPath {
        name: "reqwest-alone",
        deps: &[Dep::Registry(
            r#"reqwest = { version = "0.13", default-features = false, features = ["rustls"] }"#,
        )],
        main: &[REQWEST_ALONE_MAIN],
        needs_block_on: true,
    },
];

/// A `block_on` on std alone (a parked thread as the waker), so that async paths
/// need no runtime crate of their own.
const BLOCK_ON: &str = r#"
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
"#;

/// `[--only PATH]...`: the paths to measure (all when none is named).
pub fn parse_args(rest: &[String]) -> Result<Vec<String>> {
    let mut only = Vec::new();
    let mut args = rest.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--only" => {
                let Some(name) = args.next() else {
                    return Err(Failure::Usage("build-size: --only takes a path".into()));
                };
                if !PATHS.iter().any(|p| p.name == name) {
                    let names: Vec<&str> = PATHS.iter().map(|p| p.name).collect();
                    return Err(Failure::Usage(format!(
                        "build-size: unknown path `{name}` (paths: {})",
                        names.join(", ")
                    )));
                }
                only.push(name.clone());
            }
            other => {
                return Err(Failure::Usage(format!(
                    "build-size: unknown argument `{other}`"
                )));
            }
        }
    }
    Ok(only)
}

impl BuildPath {
    /// Whether every workspace crate it needs exists.
    fn available(&self, root: &Path) -> bool {
        self.deps.iter().all(|d| match d {
            Dep::Workspace(dir, _) => root.join("crates").join(dir).join("Cargo.toml").is_file(),
            Dep::Registry(_) => true,
        })
    }

    /// The scratch crate's `Cargo.toml`. Its own `[workspace]` keeps it out of the
    /// repository's workspace, whose directory it sits in.
    fn manifest(&self, root: &Path) -> Result<String> {
        let mut deps = String::new();
        for d in self.deps {
            match d {
                Dep::Workspace(dir, features) => {
                    let path = root.join("crates").join(dir);
                    let name = package_name(&path.join("Cargo.toml"))?;
                    let features: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
                    deps.push_str(&format!(
                        "{name} = {{ path = {:?}, features = [{}] }}\n",
                        path.display().to_string(),
                        features.join(", ")
                    ));
                }
                Dep::Registry(line) => {
                    deps.push_str(line);
                    deps.push('\n');
                }
            }
        }
        Ok(format!(
            "[package]\nname = \"build-size-{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\n{deps}",
            self.name.replace('+', "-")
        ))
    }

    /// The scratch crate's `src/main.rs`.
    fn program(&self) -> String {
        format!(
            "//! `cargo xtask build-size`, path `{}`: written by xtask, built once, never run.\n\n\
             fn arg(n: usize) -> String {{\n    std::env::args().nth(n).unwrap_or_default()\n}}\n\n\
             fn main() {{\n{}}}\n{}",
            self.name,
            self.main.concat(),
            if self.needs_block_on { BLOCK_ON } else { "" }
        )
    }

    fn binary_name(&self) -> String {
        format!("build-size-{}", self.name.replace('+', "-"))
    }
}

/// The `[package]` name in a manifest.
fn package_name(manifest: &Path) -> Result<String> {
    let text = fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(name) = toml_string(line, "name") {
            return Ok(name);
        }
    }
    Err(Failure::Msg(format!(
        "no package name in {}",
        manifest.display()
    )))
}

/// What one build cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub path: String,
    pub seconds: f64,
    /// Packages compiled, the scratch program left out.
    pub crates: usize,
    /// Packages whose build script compiled C (object files in its `OUT_DIR`).
    pub c_crates: Vec<String>,
    /// The stripped binary, in bytes (`None` when `strip` failed).
    pub stripped: Option<u64>,
}

/// A build that did not finish: the path and why.
type Failed = (String, String);

pub fn build_size(root: &Path, only: &[String]) -> Result {
    let since = SystemTime::now();
    let machine = Machine::detect(root);
    let out_dir = target_dir(root).join("build-size");
    let lock = root.join("Cargo.lock");
    let mut measures = Vec::new();
    let mut failed: Vec<Failed> = Vec::new();
    let mut skipped = Vec::new();
    for path in PATHS {
        if !only.is_empty() && !only.iter().any(|o| o == path.name) {
            continue;
        }
        if !path.available(root) {
            println!(
                "\n--- {}: skipped, a crate it needs is not in the workspace",
                path.name
            );
            skipped.push(path.name);
            continue;
        }
        println!("\n==> build-size {}", path.name);
        match measure(root, path, &out_dir.join(path.name), &lock) {
            Ok(m) => {
                println!("<== {}: {}", path.name, row(&m));
                measures.push(m);
            }
            Err(why) => {
                println!("<== {}: FAILED: {why}", path.name);
                failed.push((path.name.to_owned(), why));
            }
        }
    }
    let machine = machine.with_load_after();
    let text = render(&machine::utc(since), &machine, &measures, &failed, &skipped);
    println!("\n{text}");
    fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let report = out_dir.join("report.md");
    fs::write(&report, &text).map_err(|e| format!("cannot write {}: {e}", report.display()))?;
    let tsv = out_dir.join("build_size.txt");
    fs::write(&tsv, render_tsv(&measures))
        .map_err(|e| format!("cannot write {}: {e}", tsv.display()))?;
    println!("written: {} and {}", report.display(), tsv.display());
    // BENCHMARKS.md holds the last full run (every path measured), as its section.
    if failed.is_empty() && skipped.is_empty() && measures.len() == PATHS.len() {
        let bench = root.join("BENCHMARKS.md");
        let doc = fs::read_to_string(&bench).unwrap_or_default();
        fs::write(&bench, splice_section(&doc, &text))
            .map_err(|e| format!("cannot write {}: {e}", bench.display()))?;
        println!("written: the build-size section of BENCHMARKS.md");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
        Err(Failure::Msg(format!("builds failed: {}", names.join(", "))))
    }
}

/// Writes the scratch crate for `path` in `dir`, builds it clean and measures it.
fn measure(
    root: &Path,
    path: &BuildPath,
    dir: &Path,
    lock: &Path,
) -> std::result::Result<Measure, String> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("src"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let manifest = path.manifest(root).map_err(|e| match e {
        Failure::Msg(m) | Failure::Usage(m) => m,
        Failure::Exit(c) => format!("exit {c}"),
    })?;
    fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    fs::write(dir.join("src/main.rs"), path.program()).map_err(|e| e.to_string())?;
    fs::copy(lock, dir.join("Cargo.lock")).map_err(|e| format!("cannot copy Cargo.lock: {e}"))?;
    let target = dir.join("target");
    let log_path = dir.join("build.log");
    let log = fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut cmd = cargo(dir);
    cmd.args(["build", "--release", "--target-dir"])
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    println!("$ {}  (log: {})", show(&cmd), log_path.display());
    let t0 = Instant::now();
    let status = run_bounded(&mut cmd, LIMIT)?;
    let seconds = t0.elapsed().as_secs_f64();
    let mut text = String::new();
    fs::File::open(&log_path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if !status {
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "cargo build failed; the log ends:\n{}",
            tail.join("\n")
        ));
    }
    let crates = compiled(&text)
        .into_iter()
        .filter(|n| !n.starts_with("build-size-"))
        .count();
    let c_crates = c_builders(&target.join("release").join("build"));
    let binary = target.join("release").join(path.binary_name());
    Ok(Measure {
        path: path.name.to_owned(),
        seconds,
        crates,
        c_crates,
        stripped: stripped_size(&binary),
    })
}

/// Runs `cmd` in a process group of its own; kills the group after `limit`. Answers
/// whether it exited 0.
fn run_bounded(cmd: &mut Command, limit: Duration) -> std::result::Result<bool, String> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => return Ok(status.success()),
            None if Instant::now() >= deadline => {
                kill_group(&mut child);
                return Err(format!("killed after {} s", limit.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Kills the build and everything it started (rustc, build scripts, cc).
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// The packages named by cargo's `Compiling` lines, in order.
pub fn compiled(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.trim_start().strip_prefix("Compiling "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The packages whose build-script output directory (`build/<package>-<hash>/out`)
/// holds object files or static libraries: the ones that compiled C (or C++, or
/// assembly). Sorted, without duplicates.
pub fn c_builders(build_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(build_dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((package, _hash)) = name.rsplit_once('-') else {
            continue;
        };
        if has_objects(&entry.path().join("out")) && !out.iter().any(|p| p == package) {
            out.push(package.to_owned());
        }
    }
    out.sort();
    out
}

fn has_objects(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            has_objects(&path)
        } else {
            path.extension()
                .is_some_and(|x| x == "o" || x == "a" || x == "obj" || x == "lib")
        }
    })
}

/// The size of a stripped copy of `binary`.
fn stripped_size(binary: &Path) -> Option<u64> {
    let copy: PathBuf = binary.with_extension("stripped");
    fs::copy(binary, &copy).ok()?;
    let ok = Command::new("strip")
        .arg(&copy)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| fs::metadata(&copy).ok().map(|m| m.len()))
        .flatten()
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "?".into(),
        |b| format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0)),
    )
}

fn row(m: &Measure) -> String {
    format!(
        "{:.0} s, {} crates, C: {}, stripped {}",
        m.seconds,
        m.crates,
        if m.c_crates.is_empty() {
            "none".to_owned()
        } else {
            m.c_crates.join(" ")
        },
        mib(m.stripped)
    )
}

/// The report: stamp, table, failures and skipped paths.
pub fn render(
    when: &str,
    machine: &Machine,
    measures: &[Measure],
    failed: &[Failed],
    skipped: &[&str],
) -> String {
    let load = |l: &Option<String>| l.clone().unwrap_or_else(|| "unknown".into());
    let mut s = format!(
        "# Build size\n\nWritten by `cargo xtask build-size`.\n\n\
         - Run: {when}\n\
         - Machine: {}, {} logical CPUs; 1-minute load average {} at the start, {} at the end\n\
         - Toolchain: {}\n\
         - Each path: a minimal program in a scratch crate, `cargo build --release` (default \
         profile) in a fresh target directory. Build times move with the machine's load.\n\n\
         | path | build (wall) | crates compiled | C compiled by | stripped binary |\n\
         |---|---|---|---|---|\n",
        machine.cpu,
        machine.cpus,
        load(&machine.load_before),
        load(&machine.load_after),
        machine.rustc
    );
    for m in measures {
        s.push_str(&format!(
            "| {} | {:.0} s | {} | {} | {} |\n",
            m.path,
            m.seconds,
            m.crates,
            if m.c_crates.is_empty() {
                "none".to_owned()
            } else {
                m.c_crates.join(", ")
            },
            mib(m.stripped)
        ));
    }
    let secs = |name: &str| measures.iter().find(|m| m.path == name).map(|m| m.seconds);
    if let (Some(ours), Some(alone)) = (secs("reqwest"), secs("reqwest-alone")) {
        s.push_str(&format!(
            "\nThe reqwest path builds in {:.2}x the time of reqwest alone (target: 1.2x).\n",
            ours / alone
        ));
    }
    for (name, why) in failed {
        let first = why.lines().next().unwrap_or("");
        s.push_str(&format!("| {name} | FAILED: {first} | | | |\n"));
    }
    if !skipped.is_empty() {
        s.push_str(&format!(
            "\nSkipped (a crate they need is not in the workspace): {}.\n",
            skipped.join(", ")
        ));
    }
    s
}

/// The heading of the build-size section in BENCHMARKS.md.
pub const SECTION: &str = "## Build size";

/// `doc` with its build-size section (from [`SECTION`] to the next `## ` heading or
/// the end) replaced by `report` (whose `# ` heading becomes [`SECTION`]), or the
/// report appended when there is none.
pub fn splice_section(doc: &str, report: &str) -> String {
    let body = report.strip_prefix("# Build size").unwrap_or(report);
    let section = format!("{SECTION}{body}");
    let section = if section.ends_with('\n') {
        section
    } else {
        format!("{section}\n")
    };
    match doc.find(&format!("\n{SECTION}\n")) {
        Some(at) => {
            let start = at + 1;
            let rest = &doc[start + SECTION.len()..];
            let end = rest
                .find("\n## ")
                .map_or(doc.len(), |i| start + SECTION.len() + i + 1);
            format!("{}{section}{}", &doc[..start], &doc[end..])
        }
        None if doc.is_empty() => section,
        None => format!(
            "{}\n{section}",
            doc.trim_end_matches('\n').to_owned() + "\n"
        ),
    }
}

/// The build-size section of `doc`, if it has one (kept when `cargo xtask bench`
/// rewrites the rest).
pub fn section_of(doc: &str) -> Option<&str> {
    let at = doc.find(&format!("\n{SECTION}\n"))? + 1;
    let rest = &doc[at + SECTION.len()..];
    let end = rest
        .find("\n## ")
        .map_or(doc.len(), |i| at + SECTION.len() + i + 1);
    Some(&doc[at..end])
}

/// One line per path: name, seconds, crates, C crates (comma-separated), stripped
/// bytes.
pub fn render_tsv(measures: &[Measure]) -> String {
    let mut s = String::from("path\tseconds\tcrates\tc_crates\tstripped_bytes\n");
    for m in measures {
        s.push_str(&format!(
            "{}\t{:.1}\t{}\t{}\t{}\n",
            m.path,
            m.seconds,
            m.crates,
            m.c_crates.join(","),
            m.stripped.map_or_else(|| "?".into(), |b| b.to_string())
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    #[test]
    fn parses_arguments() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_args(&args(&[])).ok(), Some(vec![]));
        assert_eq!(
            parse_args(&args(&["--only", "core", "--only", "isahc+redis"])).ok(),
            Some(vec!["core".to_owned(), "isahc+redis".to_owned()])
        );
        assert!(matches!(
            parse_args(&args(&["--only"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            parse_args(&args(&["--only", "nope"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            parse_args(&args(&["--quick"])),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn paths_are_data_and_missing_crates_are_skipped() {
        let root = crate::cmd::workspace_root();
        let names: Vec<&str> = PATHS.iter().map(|p| p.name).collect();
        let unique: std::collections::HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for p in PATHS {
            let has_reqwest_crate = p
                .deps
                .iter()
                .any(|d| matches!(d, Dep::Workspace("reqwest", _)));
            if !has_reqwest_crate {
                assert!(p.available(&root), "{}", p.name);
            }
            assert_eq!(
                p.available(&root),
                !has_reqwest_crate || root.join("crates/reqwest").is_dir()
            );
            assert!(p.program().contains("fn main()"));
            assert_eq!(
                p.program().contains("fn block_on"),
                p.needs_block_on,
                "{}",
                p.name
            );
        }
        let isahc_redis = PATHS.iter().find(|p| p.name == "isahc+redis").unwrap();
        let manifest = isahc_redis.manifest(&root).ok().unwrap();
        assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
        assert!(
            manifest.contains("smartling-auth-isahc = { path = "),
            "{manifest}"
        );
        assert!(manifest.contains(r#"features = ["redis"] }"#), "{manifest}");
        assert!(isahc_redis.program().contains("RedisStore::open"));
    }

    #[test]
    fn counts_compiled_crates_and_finds_c_builders() {
        let log = "    Updating crates.io index\n   Compiling libc v0.2.170\n   Compiling cc v1.2.0\n\
                   warning: unused\n   Compiling build-size-core v0.0.0 (/x)\n    Finished `release`\n";
        assert_eq!(compiled(log), ["libc", "cc", "build-size-core"]);
        let dir = TempDir::new("build-size");
        dir.write("aws-lc-sys-0123abcd/out/build/crypto.o", "");
        dir.write("curl-sys-89ab/out/lib/libcurl.a", "");
        dir.write("curl-sys-cdef/output", "");
        dir.write("serde-4567/out/private.rs", "");
        dir.write("libc-aaaa/output", "");
        assert_eq!(c_builders(dir.path()), ["aws-lc-sys", "curl-sys"]);
        assert!(c_builders(&dir.path().join("missing")).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_build_past_its_limit_is_killed_with_its_children() {
        let t0 = Instant::now();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"]);
        let out = run_bounded(&mut cmd, Duration::from_millis(300));
        assert_eq!(out, Err("killed after 0 s".to_owned()));
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert_eq!(run_bounded(&mut Command::new("true"), LIMIT), Ok(true));
        assert_eq!(run_bounded(&mut Command::new("false"), LIMIT), Ok(false));
    }

    #[test]
    fn the_section_is_spliced_into_benchmarks_md_and_found_again() {
        let report = "# Build size\n\n| path | x |\n";
        let doc = "# Benchmarks\n\n## Ratios\n\nr\n";
        let once = splice_section(doc, report);
        assert_eq!(
            once,
            "# Benchmarks\n\n## Ratios\n\nr\n\n## Build size\n\n| path | x |\n"
        );
        assert_eq!(section_of(&once), Some("## Build size\n\n| path | x |\n"));
        let again = splice_section(&once, "# Build size\n\nnew\n");
        assert_eq!(
            again,
            "# Benchmarks\n\n## Ratios\n\nr\n\n## Build size\n\nnew\n"
        );
        let middle = "# B\n\n## Build size\n\nold\n\n## Token store\n\nt\n";
        assert_eq!(
            splice_section(middle, "# Build size\n\nnew\n"),
            "# B\n\n## Build size\n\nnew\n## Token store\n\nt\n"
        );
        assert_eq!(section_of("# B\n"), None);
    }

    #[test]
    fn renders_the_table() {
        let machine = Machine {
            cpu: "CPU".into(),
            cpus: 2,
            rustc: "rustc 1.0".into(),
            load_before: Some("0.5".into()),
            load_after: None,
        };
        let m = Measure {
            path: "core".into(),
            seconds: 12.34,
            crates: 40,
            c_crates: vec![],
            stripped: Some(1024 * 1024),
        };
        let text = render(
            "2026-01-01 00:00 UTC",
            &machine,
            std::slice::from_ref(&m),
            &[("isahc".into(), "killed\nmore".into())],
            &["reqwest"],
        );
        assert!(
            text.contains("| core | 12 s | 40 | none | 1.00 MiB |"),
            "{text}"
        );
        assert!(text.contains("| isahc | FAILED: killed | | | |"), "{text}");
        assert!(
            text.contains("Skipped (a crate they need is not in the workspace): reqwest."),
            "{text}"
        );
        assert_eq!(
            render_tsv(&[m]).lines().nth(1),
            Some("core\t12.3\t40\t\t1048576")
        );
    }
}
