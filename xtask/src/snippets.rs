//! `cargo xtask snippets`: every Rust block of the READMEs and every example compiles
//! as a user's crate would, outside this workspace. Kept out of `tidy`, which reads
//! files only; `ci` runs both.
//!
//! What is checked:
//! - every fenced block of `README.md` and `crates/*/README.md` whose info string
//!   starts with `rust` (one bin each), and every `crates/*/examples/*.rs` (copied
//!   as a bin). A block with no `fn main` is a function or a test: it gets an empty
//!   `fn main` appended, and dead code is allowed. A fence with no language at all is
//!   a finding: say `rust`, `sh`, `toml`, `text`…;
//! - a README block's attributes (the info string, split on commas): `no_run` (still
//!   compiled), and `features=a+b`, which turns feature `a` and `b` on in every
//!   workspace crate the block names that has it (```` ```rust,no_run,features=redis ````
//!   for a `RedisStore` example). Anything else (`ignore`, `compile_fail`…) is a
//!   finding: a README block must compile.
//!
//! What a block's crate may depend on, which is what a user would put in their own
//! `Cargo.toml`:
//! - the published workspace crates it names (`smartling_auth_…`), by `path`, with
//!   default features plus the block's `features=`;
//! - the crates.io crates it names from the README's crate's dev-dependencies (for
//!   the root README, those of every published crate), with the features given there:
//!   the runtimes and clients a user brings (async-std, smol, ureq…);
//! - never a crate's normal dependencies (`http`, `zeroize`…): a user reaches those
//!   through the re-exports (`smartling_auth_core::http`), and a bare `http::` fails
//!   with E0433 as it would for them.
//!
//! An example gets the same, except that the workspace crates it names come with the
//! features its own crate's manifest gives them (the CLI's examples get the store's
//! `redis`), and the crates.io crates come from its crate's dev-dependencies. A
//! crates.io crate an example needs must be a dev-dependency of its crate, which
//! tells the reader what to add. One exception: an unpublished workspace crate (the
//! test kit) that the example's crate lists as a dev-dependency, by `path`, for the
//! project's demos (`fleet.rs` starts its own redis-server with it).
//!
//! How: a scratch workspace in `target/snippets/` (its own `[workspace]`, so never a
//! member of ours), one package per README (and per feature set within it) and per
//! crate with examples, and `Cargo.lock` copied from the workspace first, so versions
//! match and nothing new is downloaded. `cargo check --all-targets` (tests too, so a
//! `#[test]` block is checked) runs once per set of workspace features, since cargo
//! unifies features across the packages of one run; its target directory
//! (`target/snippets/target`) persists, so a repeat run rebuilds only what changed.
//! Errors and warnings are reported at the README line or example line they point
//! to.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use crate::cmd::{Failure, Result, cargo, output_of, show, target_dir};
use crate::json::Json;

/// A fenced Rust block of a README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The line of the opening fence, 1-based.
    pub line: usize,
    pub code: String,
    pub features: Vec<String>,
}

/// The Rust blocks of a Markdown file, and the problems of its fences as
/// `(line, message)`.
pub fn rust_blocks(md: &str) -> (Vec<Block>, Vec<(usize, String)>) {
    let (mut blocks, mut problems) = (Vec::new(), Vec::new());
    // (marker, run length, opening line, info string, code)
    let mut open: Option<(char, usize, usize, String, String)> = None;
    for (i, line) in md.lines().enumerate() {
        let n = i + 1;
        let t = line.trim_start();
        let marker = t.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |c| t.chars().take_while(|x| *x == c).count());
        match &mut open {
            Some((c, len, ..))
                if marker == Some(*c) && run >= *len && t[run..].trim().is_empty() =>
            {
                let (_, _, first, info, code) = open.take().expect("open fence");
                let mut attrs = info.split(',').map(str::trim);
                if attrs.next() != Some("rust") {
                    continue;
                }
                let mut features = Vec::new();
                for a in attrs {
                    match a.strip_prefix("features=") {
                        Some(f) => features.extend(f.split('+').map(str::to_owned)),
                        None if a == "no_run" || a.is_empty() => {}
                        None => problems.push((
                            first,
                            format!(
                                "`{a}`: a README block must compile (attributes: no_run, features=…)"
                            ),
                        )),
                    }
                }
                blocks.push(Block {
                    line: first,
                    code,
                    features,
                });
            }
            Some((.., code)) => {
                code.push_str(line);
                code.push('\n');
            }
            None if run >= 3 => {
                let info = t[run..].trim().to_owned();
                if info.is_empty() {
                    problems.push((
                        n,
                        "a fence with no language: say `rust`, `sh`, `toml`, `text`…".into(),
                    ));
                }
                open = Some((marker.expect("a run"), run, n, info, String::new()));
            }
            None => {}
        }
    }
    if let Some((.., first, _, _)) = open {
        problems.push((first, "this fence is never closed".into()));
    }
    (blocks, problems)
}

/// The crates a piece of code names: identifiers that start a path (`name::`, not
/// after `::` or `.`) or follow `use` / `extern crate`.
pub fn named_crates(code: &str) -> BTreeSet<String> {
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphabetic() || b[i] == b'_') || (i > 0 && ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        let word = &code[start..i];
        let before = code[..start].trim_end();
        let after_path = before.ends_with("::") || before.ends_with('.');
        let starts_path = code[i..].starts_with("::") && !after_path;
        let used = before.ends_with("use") || before.ends_with("extern crate");
        if starts_path || (used && !after_path) {
            out.insert(word.to_owned());
        }
    }
    out
}

/// A dependency as cargo metadata gives it.
#[derive(Debug, Clone)]
struct Dep {
    /// The package name.
    name: String,
    /// The name code uses (`rename`, or the package name).
    key: String,
    dev: bool,
    req: String,
    features: Vec<String>,
    default_features: bool,
    /// The directory of a path dependency.
    path: Option<String>,
}

/// A published workspace crate.
struct Member {
    name: String,
    dir: PathBuf,
    features: BTreeSet<String>,
    deps: Vec<Dep>,
}

fn members(meta: &Json) -> Vec<Member> {
    let published: BTreeSet<String> = crate::tidy::manifest::published_members(meta)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let strs = |v: Option<&Json>| -> Vec<String> {
        v.map(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|s| Some(s.as_str()?.to_owned()))
            .collect()
    };
    let mut out = Vec::new();
    for p in meta.get("packages").map(Json::as_array).unwrap_or(&[]) {
        let Some(name) = p.get("name").and_then(Json::as_str) else {
            continue;
        };
        let Some(manifest) = p.get("manifest_path").and_then(Json::as_str) else {
            continue;
        };
        if !published.contains(name) {
            continue;
        }
        let features = match p.get("features") {
            Some(Json::Obj(m)) => m.keys().cloned().collect(),
            _ => BTreeSet::new(),
        };
        let deps = p
            .get("dependencies")
            .map(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|d| {
                let name = d.get("name")?.as_str()?.to_owned();
                let kind = d.get("kind").and_then(Json::as_str);
                if kind == Some("build") {
                    return None;
                }
                Some(Dep {
                    key: d
                        .get("rename")
                        .and_then(Json::as_str)
                        .unwrap_or(&name)
                        .replace('-', "_"),
                    name,
                    dev: kind == Some("dev"),
                    req: d.get("req")?.as_str()?.to_owned(),
                    features: strs(d.get("features")),
                    default_features: !matches!(
                        d.get("uses_default_features"),
                        Some(Json::Bool(false))
                    ),
                    path: d.get("path").and_then(Json::as_str).map(str::to_owned),
                })
            })
            .collect();
        out.push(Member {
            name: name.to_owned(),
            dir: Path::new(manifest)
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            features,
            deps,
        });
    }
    out
}

/// One file of a scratch package, and where its lines come from.
struct Source {
    /// Relative to its package: `src/bin/<name>.rs`, or `tests/<name>.rs` for a
    /// block of `#[test]` functions.
    file: String,
    code: String,
    /// Shown in findings, relative to the root.
    origin: String,
    /// The origin's line of the code's first line.
    first_line: usize,
}

/// A scratch package: what it depends on, and its bins.
#[derive(Default)]
struct Package {
    /// Workspace crate name to its features.
    workspace: BTreeMap<String, BTreeSet<String>>,
    /// Workspace crate name to its directory.
    dirs: BTreeMap<String, String>,
    /// Code name to (package name, req, features, default features).
    external: BTreeMap<String, (String, String, BTreeSet<String>, bool)>,
    sources: Vec<Source>,
}

impl Package {
    fn add_external(&mut self, d: &Dep) {
        let e = self.external.entry(d.key.clone()).or_insert_with(|| {
            (
                d.name.clone(),
                d.req.clone(),
                BTreeSet::new(),
                d.default_features,
            )
        });
        e.2.extend(d.features.iter().cloned());
        e.3 |= d.default_features;
    }

    /// The workspace features this package turns on: packages with the same set may
    /// share one cargo run.
    fn feature_set(&self) -> Vec<String> {
        self.workspace
            .iter()
            .flat_map(|(c, fs)| fs.iter().map(move |f| format!("{c}/{f}")))
            .collect()
    }

    fn manifest(&self, name: &str) -> String {
        let q = |s: &str| format!("{s:?}");
        let list = |fs: &BTreeSet<String>| fs.iter().map(|f| q(f)).collect::<Vec<_>>().join(", ");
        let mut s = format!(
            "[package]\nname = {}\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [lints.rust]\ndead_code = \"allow\"\n\n[dependencies]\n",
            q(name)
        );
        for (crate_name, features) in &self.workspace {
            s.push_str(&format!(
                "{crate_name} = {{ path = {}, features = [{}] }}\n",
                q(&self.dirs[crate_name]),
                list(features)
            ));
        }
        for (key, (pkg, req, features, default)) in &self.external {
            s.push_str(&format!(
                "{key} = {{ package = {}, version = {}, default-features = {default}, features = [{}] }}\n",
                q(pkg),
                q(req),
                list(features)
            ));
        }
        s
    }
}

/// The scratch packages for the READMEs and examples under `root`.
fn packages(root: &Path, members: &[Member]) -> (BTreeMap<String, Package>, Vec<Finding>) {
    let mut pkgs: BTreeMap<String, Package> = BTreeMap::new();
    let mut findings = Vec::new();
    let by_key: BTreeMap<String, &Member> = members
        .iter()
        .map(|m| (m.name.replace('-', "_"), m))
        .collect();
    let externals = |ms: &[&Member]| -> Vec<Dep> {
        ms.iter()
            .flat_map(|m| m.deps.iter())
            .filter(|d| d.dev && d.path.is_none())
            .cloned()
            .collect()
    };
    let all: Vec<&Member> = members.iter().collect();
    // (file relative to the root, short name, the crate it documents)
    let mut readmes: Vec<(PathBuf, String, Option<&Member>)> =
        vec![(PathBuf::from("README.md"), "root".into(), None)];
    for m in members {
        let rel = m.dir.strip_prefix(root).unwrap_or(&m.dir).to_path_buf();
        let short = rel
            .file_name()
            .map_or_else(|| m.name.clone(), |f| f.to_string_lossy().into_owned());
        readmes.push((rel.join("README.md"), short, Some(m)));
    }
    for (rel, short, member) in &readmes {
        let Ok(md) = fs::read_to_string(root.join(rel)) else {
            continue;
        };
        let shown = rel.display().to_string();
        let (blocks, problems) = rust_blocks(&md);
        findings.extend(
            problems
                .into_iter()
                .map(|(l, m)| Finding::new(&shown, l, m)),
        );
        let pool = externals(&member.map_or_else(|| all.clone(), |m| vec![m]));
        for b in blocks {
            let named = named_crates(&b.code);
            let mut pkg_name = format!("readme-{short}");
            for f in &b.features {
                pkg_name.push_str(&format!("-{f}"));
            }
            let pkg = pkgs.entry(pkg_name).or_default();
            let mut used = BTreeSet::new();
            for n in &named {
                if let Some(m) = by_key.get(n) {
                    let fs: BTreeSet<String> = b
                        .features
                        .iter()
                        .filter(|f| m.features.contains(*f))
                        .cloned()
                        .collect();
                    used.extend(fs.iter().cloned());
                    pkg.dirs.insert(m.name.clone(), m.dir.display().to_string());
                    pkg.workspace.entry(m.name.clone()).or_default().extend(fs);
                } else if let Some(d) = pool.iter().find(|d| &d.key == n) {
                    pkg.add_external(d);
                }
            }
            for f in b.features.iter().filter(|f| !used.contains(*f)) {
                findings.push(Finding::new(
                    &shown,
                    b.line,
                    format!("feature `{f}`: no workspace crate this block names has it"),
                ));
            }
            let mut code = b.code;
            let name = format!("{short}-readme-{}", b.line);
            let file = if code.contains("fn main(") {
                format!("src/bin/{name}.rs")
            } else if code.contains("#[test]") {
                format!("tests/{name}.rs")
            } else {
                code.push_str("\nfn main() {}\n");
                format!("src/bin/{name}.rs")
            };
            pkg.sources.push(Source {
                file,
                code,
                origin: shown.clone(),
                first_line: b.line + 1,
            });
        }
    }
    for m in members {
        let Ok(entries) = fs::read_dir(m.dir.join("examples")) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        if files.is_empty() {
            continue;
        }
        let short = m
            .dir
            .file_name()
            .map_or_else(|| m.name.clone(), |f| f.to_string_lossy().into_owned());
        let pool = externals(&[m]);
        let pkg = pkgs.entry(format!("examples-{short}")).or_default();
        for file in files {
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            let Ok(code) = fs::read_to_string(&file) else {
                findings.push(Finding::new(&shown, 1, "cannot be read as UTF-8 text"));
                continue;
            };
            for n in named_crates(&code) {
                if let Some(w) = by_key.get(&n) {
                    // The features this crate's manifest gives it (none for itself).
                    let fs = m
                        .deps
                        .iter()
                        .filter(|d| d.path.is_some() && d.name == w.name)
                        .flat_map(|d| d.features.iter().cloned());
                    pkg.dirs.insert(w.name.clone(), w.dir.display().to_string());
                    pkg.workspace.entry(w.name.clone()).or_default().extend(fs);
                } else if let Some(d) = pool.iter().find(|d| d.key == n) {
                    pkg.add_external(d);
                } else if let Some(d) = m.deps.iter().find(|d| d.dev && d.key == n)
                    && let Some(dir) = &d.path
                {
                    // An unpublished helper (the test kit) a demo runs on.
                    pkg.dirs.insert(d.name.clone(), dir.clone());
                    let fs = pkg.workspace.entry(d.name.clone()).or_default();
                    fs.extend(d.features.iter().cloned());
                }
            }
            let stem = file.file_stem().unwrap_or_default().to_string_lossy();
            pkg.sources.push(Source {
                file: format!("src/bin/{short}-example-{stem}.rs"),
                code,
                origin: shown,
                first_line: 1,
            });
        }
    }
    (pkgs, findings)
}

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

/// Writes `text` unless the file already holds it, so cargo sees no change.
fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, text)
}

/// Writes the scratch workspace; returns the packages grouped by feature set.
fn write_workspace(
    root: &Path,
    dir: &Path,
    pkgs: &BTreeMap<String, Package>,
) -> std::io::Result<Vec<Vec<String>>> {
    fs::create_dir_all(dir)?;
    // Packages of an earlier run that are gone now.
    for e in fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() && name != "target" && !pkgs.contains_key(&name) {
            fs::remove_dir_all(e.path())?;
        }
    }
    let names: Vec<String> = pkgs.keys().map(|n| format!("{n:?}")).collect();
    write_if_changed(
        &dir.join("Cargo.toml"),
        &format!(
            "# Written by `cargo xtask snippets`; see xtask/src/snippets.rs.\n\
             [workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            names.join(", ")
        ),
    )?;
    fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    let mut groups: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (name, p) in pkgs {
        let pdir = dir.join(name);
        write_if_changed(&pdir.join("Cargo.toml"), &p.manifest(name))?;
        // An empty library: a package needs a target even when its blocks are tests.
        write_if_changed(&pdir.join("src/lib.rs"), "")?;
        let wanted: BTreeSet<PathBuf> = p.sources.iter().map(|s| pdir.join(&s.file)).collect();
        for sub in ["src/bin", "tests"] {
            let Ok(entries) = fs::read_dir(pdir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                if !wanted.contains(&e.path()) {
                    fs::remove_file(e.path())?;
                }
            }
        }
        for s in &p.sources {
            write_if_changed(&pdir.join(&s.file), &s.code)?;
        }
        groups
            .entry(p.feature_set())
            .or_default()
            .push(name.clone());
    }
    Ok(groups.into_values().collect())
}

/// The findings in cargo's JSON messages: errors and warnings in our bins, at the
/// line of the README or example they come from. Also returns the rendered text.
fn diagnostics(json_lines: &str, pkgs: &BTreeMap<String, Package>) -> (Vec<Finding>, Vec<String>) {
    let origin: BTreeMap<String, &Source> = pkgs
        .iter()
        .flat_map(|(name, p)| {
            p.sources
                .iter()
                .map(move |s| (format!("{name}/{}", s.file), s))
        })
        .collect();
    let (mut found, mut rendered) = (Vec::new(), Vec::new());
    for line in json_lines.lines() {
        let Ok(j) = Json::parse(line) else { continue };
        if j.get("reason").and_then(Json::as_str) != Some("compiler-message") {
            continue;
        }
        let Some(msg) = j.get("message") else {
            continue;
        };
        let level = msg.get("level").and_then(Json::as_str).unwrap_or("");
        if level != "error" && level != "warning" {
            continue;
        }
        let text = msg.get("message").and_then(Json::as_str).unwrap_or("");
        let code = msg
            .at(&["code", "code"])
            .and_then(Json::as_str)
            .map_or(String::new(), |c| format!("[{c}]"));
        let spans = msg.get("spans").map(Json::as_array).unwrap_or(&[]);
        let primary = spans
            .iter()
            .find(|s| matches!(s.get("is_primary"), Some(Json::Bool(true))))
            .or(spans.first());
        let Some(span) = primary else {
            // "aborting due to…", "N warnings emitted": the others say it all.
            continue;
        };
        let file = span.get("file_name").and_then(Json::as_str).unwrap_or("");
        let line_no = span.get("line_start").and_then(Json::as_f64).unwrap_or(1.0) as usize;
        // The span's file is relative to the scratch workspace.
        let (shown, at) = match origin.get(file) {
            Some(s) => (s.origin.clone(), s.first_line + line_no - 1),
            None => (format!("target/snippets/{file}"), line_no),
        };
        found.push(Finding::new(shown, at, format!("{level}{code}: {text}")));
        if let Some(r) = msg.get("rendered").and_then(Json::as_str) {
            rendered.push(r.to_owned());
        }
    }
    (found, rendered)
}

pub fn snippets(root: &Path) -> Result {
    let t0 = Instant::now();
    let meta = output_of(cargo(root).args(["metadata", "--format-version", "1", "--no-deps"]))
        .and_then(|s| Json::parse(&s).map_err(|e| Failure::Msg(format!("cargo metadata: {e}"))))?;
    let members = members(&meta);
    let (pkgs, mut findings) = packages(root, &members);
    let dir = target_dir(root).join("snippets");
    let groups = write_workspace(root, &dir, &pkgs)
        .map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    let mut rendered = Vec::new();
    let mut failed_runs = Vec::new();
    for group in &groups {
        let mut c = cargo(&dir);
        c.env("CARGO_TARGET_DIR", dir.join("target")).args([
            "check",
            "--all-targets",
            "--keep-going",
            "--message-format",
            "json",
        ]);
        for p in group {
            c.args(["-p", p]);
        }
        let shown = show(&c);
        println!("$ {shown}");
        let out = c
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("could not start `{shown}`: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (f, r) = diagnostics(&stdout, &pkgs);
        if !out.status.success() && f.is_empty() {
            failed_runs.push(format!("`{shown}` failed ({})", out.status));
        }
        findings.extend(f);
        rendered.extend(r);
    }
    rendered.dedup();
    for r in &rendered {
        eprintln!("{r}");
    }
    findings.sort();
    findings.dedup();
    for f in &findings {
        println!("{}:{}: {}", f.file, f.line, f.msg);
    }
    let took = t0.elapsed().as_secs_f64();
    let bins: usize = pkgs.values().map(|p| p.sources.len()).sum();
    if findings.is_empty() && failed_runs.is_empty() {
        println!(
            "snippets: ok, {bins} README blocks and examples in {} cargo run(s) ({took:.1} s)",
            groups.len()
        );
        Ok(())
    } else {
        Err(Failure::Msg(format!(
            "snippets: {} problem(s){} ({took:.1} s)",
            findings.len(),
            failed_runs
                .iter()
                .map(|r| format!("; {r}"))
                .collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rust_blocks_and_their_attributes() {
        let md = "# x\n\n```rust\nfn main() {}\n```\n\n```sh\nls\n```\n\n\
                  ```rust,no_run,features=redis+tls\nlet a = 1;\n```\n\n\
                  ````rust,ignore\n```\n````\n\n```\nplain\n```\n";
        let (blocks, problems) = rust_blocks(md);
        assert_eq!(
            blocks,
            [
                Block {
                    line: 3,
                    code: "fn main() {}\n".into(),
                    features: vec![]
                },
                Block {
                    line: 11,
                    code: "let a = 1;\n".into(),
                    features: vec!["redis".into(), "tls".into()]
                },
                Block {
                    line: 15,
                    code: "```\n".into(),
                    features: vec![]
                },
            ]
        );
        assert_eq!(
            problems,
            [
                (
                    15,
                    "`ignore`: a README block must compile (attributes: no_run, features=…)"
                        .to_owned()
                ),
                (
                    19,
                    "a fence with no language: say `rust`, `sh`, `toml`, `text`…".to_owned()
                ),
            ]
        );
        assert_eq!(
            rust_blocks("```rust\nx\n").1[0].1,
            "this fence is never closed"
        );
    }

    #[test]
    fn finds_the_crates_code_names() {
        let code = "use smartling_auth_isahc::{BaseUrl, http};\nuse smol;\n\
                    #[async_std::main]\nasync fn main() { let x = a.b::<u8>(); std::env::var(\"x\"); \
                    Foo::bar(); x.y::z(); crate::m::f(); }\n";
        let got: Vec<String> = named_crates(code).into_iter().collect();
        assert_eq!(
            got,
            [
                "Foo",
                "async_std",
                "crate",
                "smartling_auth_isahc",
                "smol",
                "std"
            ]
        );
    }

    #[test]
    fn maps_diagnostics_to_their_readme_line() {
        let mut pkgs = BTreeMap::new();
        pkgs.insert(
            "readme-core".to_owned(),
            Package {
                sources: vec![Source {
                    file: "src/bin/core-readme-18.rs".into(),
                    code: String::new(),
                    origin: "crates/core/README.md".into(),
                    first_line: 19,
                }],
                ..Package::default()
            },
        );
        let line = r#"{"reason":"compiler-message","manifest_path":"/t/snippets/readme-core/Cargo.toml","message":{"level":"error","message":"failed to resolve","code":{"code":"E0433"},"rendered":"error","spans":[{"file_name":"readme-core/src/bin/core-readme-18.rs","line_start":3,"is_primary":true}]}}"#;
        let other = r#"{"reason":"build-finished","success":false}"#;
        let (found, _) = diagnostics(&format!("{line}\n{other}\n"), &pkgs);
        assert_eq!(
            found,
            [Finding::new(
                "crates/core/README.md",
                21,
                "error[E0433]: failed to resolve"
            )]
        );
    }
}
