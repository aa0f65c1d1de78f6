//! Whether a token from a code span or a link names a path, and whether that path
//! exists inside the repository.
//!
//! What counts as a path (after exemptions):
//! - any relative destination of a link in a Markdown file;
//! - a token starting with `./` or `../`;
//! - a token with a `/` whose last segment ends in a known file extension
//!   (`KNOWN_EXTENSIONS`);
//! - a bare file name (no `/`) ending in `.md`, `.rs` or `.toml`, the kinds of file
//!   this repository is made of (other bare names, such as a sample
//!   `report-2024.json` or a file another tool writes, are examples, not references);
//! - a token containing `/` that ends with `/`, or whose first segment exists in
//!   one of the directories it is resolved against (so `crates/cli/` counts, while
//!   `application/json` or `127.0.0.0/8` do not).
//!
//! A token is never a path when it holds whitespace or a character outside
//! `A-Z a-z 0-9 . _ - / + @` and the placeholder and glob characters
//! `< > { } … * ?` (so `http::Request`, `--flag=x` and `[table]` are skipped).
//! Exempt: URLs (`scheme://`, `mailto:`), absolute paths, `~` paths, and paths
//! into build output (`target/`, `fuzz/target/`, `fuzz/artifacts/`,
//! `fuzz/coverage/`). Placeholders (`<`, `>`, `{`, `}`, `…`, `...`) are exempt from
//! the existence check but not from the climbing-out check; `*` and `?` are globs
//! that must match something.
//!
//! Where a path is looked for:
//! - links in Markdown files, and `./` or `../` tokens: the file's own directory
//!   only, as a Markdown renderer resolves them;
//! - other tokens: the file's directory and every directory above it up to the
//!   repository root (so crate-relative, `src`-relative and root-relative paths
//!   all work);
//! - a bare file name (no `/`) that is in none of those: any file of that name
//!   anywhere in the repository.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

/// Extensions that make a token a file name.
pub const KNOWN_EXTENSIONS: &[&str] = &[
    "rs", "md", "toml", "lock", "json", "txt", "sh", "yml", "yaml", "dict", "html", "svg", "png",
    "py", "c", "h", "cfg", "csv", "patch",
];

/// Extensions that make a bare file name (no `/`) a reference to a file here.
const SOURCE_EXTENSIONS: &[&str] = &["md", "rs", "toml"];

/// Directories of build output: paths into them are not checked.
const GENERATED: &[&[&str]] = &[
    &["target"],
    &["fuzz", "target"],
    &["fuzz", "artifacts"],
    &["fuzz", "coverage"],
];

/// The repository being checked.
pub struct Repo<'a> {
    pub root: &'a Path,
    /// Every file name in the repository, for bare names.
    pub names: HashSet<String>,
}

/// `dir` (relative to the root, as components) joined with `rel`, with `.` and `..`
/// resolved; `None` when it climbs above the root.
fn normalize(dir: &[String], rel: &str) -> Option<Vec<String>> {
    let mut out = dir.to_vec();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s.to_owned()),
        }
    }
    Some(out)
}

/// `*` and `?` wildcards within one path segment.
fn wildcard(pattern: &[char], name: &[char]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some('?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Whether `comps` (relative to `at`) names something, with globs expanded.
fn exists(at: &Path, comps: &[String], want_dir: bool) -> bool {
    let Some((first, rest)) = comps.split_first() else {
        return !want_dir || at.is_dir();
    };
    if !first.contains(['*', '?']) {
        let next = at.join(first);
        return (next.exists() || next.is_symlink()) && exists(&next, rest, want_dir);
    }
    let pattern: Vec<char> = first.chars().collect();
    let Ok(entries) = fs::read_dir(at) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name: Vec<char> = e.file_name().to_string_lossy().chars().collect();
        wildcard(&pattern, &name) && exists(&e.path(), rest, want_dir)
    })
}

fn is_generated(comps: &[String]) -> bool {
    GENERATED
        .iter()
        .any(|g| comps.len() >= g.len() && g.iter().zip(comps).all(|(a, b)| a == b))
}

/// Checks one token found in the file at `file` (relative to the root). `md_link`:
/// the token is a link destination in a Markdown file. Returns a message when the
/// token is a path that is broken.
pub fn check(repo: &Repo<'_>, file: &Path, token: &str, md_link: bool) -> Option<String> {
    let mut t = token.trim();
    if md_link {
        t = t.split(['#', '?']).next().unwrap_or("");
    }
    if t.is_empty()
        || t.chars().any(char::is_whitespace)
        || t.contains("://")
        || t.starts_with("mailto:")
        || t.starts_with('/')
        || t.starts_with('~')
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/+@<>{}…*?".contains(c))
    {
        return None;
    }
    let placeholder = t.contains(['<', '>', '{', '}', '…']) || t.contains("...");
    let explicit = t.starts_with("./") || t.starts_with("../") || t == "..";
    let last = t.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let ext_known = last
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && KNOWN_EXTENSIONS.contains(&ext));
    let has_slash = t.contains('/');
    let ext_known = if has_slash {
        ext_known
    } else {
        last.rsplit_once('.')
            .is_some_and(|(stem, ext)| !stem.is_empty() && SOURCE_EXTENSIONS.contains(&ext))
    };

    let dir: Vec<String> = file
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // The directories the token is resolved against, nearest first.
    let bases: Vec<&[String]> = if explicit || md_link {
        vec![&dir[..]]
    } else {
        (0..=dir.len()).rev().map(|n| &dir[..n]).collect()
    };
    let first = t.split('/').next().unwrap_or("");
    let first_exists = || {
        bases
            .iter()
            .any(|b| normalize(b, first).is_some_and(|c| exists(repo.root, &c, false)))
    };
    let is_path = md_link
        || explicit
        || ext_known
        || (has_slash && (t.ends_with('/') || (!first.is_empty() && first_exists())));
    if !is_path {
        return None;
    }

    let resolved: Vec<Vec<String>> = bases.iter().filter_map(|b| normalize(b, t)).collect();
    if resolved.is_empty() {
        return Some(format!("`{token}` climbs out of the repository"));
    }
    if placeholder || resolved.iter().any(|c| is_generated(c)) {
        return None;
    }
    let want_dir = t.ends_with('/');
    if resolved.iter().any(|c| exists(repo.root, c, want_dir)) {
        return None;
    }
    if !has_slash && !placeholder && ext_known && repo.names.contains(t) {
        return None;
    }
    let kind = if want_dir { "directory" } else { "path" };
    Some(if explicit || md_link {
        format!("`{token}`: no such {kind} relative to this file")
    } else if has_slash {
        format!("`{token}`: no such {kind} relative to this file's directory or any above it")
    } else {
        format!("`{token}`: no file of that name in the repository")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    fn repo_with(dir: &TempDir) -> Repo<'_> {
        for f in [
            "README.md",
            "crates/cli/README.md",
            "crates/cli/src/exit.rs",
            "crates/core/src/session/policy.rs",
            "crates/core/tests/lifecycle_model.rs",
            "fuzz/README.md",
        ] {
            dir.write(f, "x");
        }
        Repo {
            root: dir.path(),
            names: ["README.md", "exit.rs", "policy.rs", "lifecycle_model.rs"]
                .map(String::from)
                .into(),
        }
    }

    #[test]
    fn accepts_paths_that_exist() {
        let dir = TempDir::new("paths-ok");
        let repo = repo_with(&dir);
        let ok = |file: &str, tok: &str, link: bool| {
            assert_eq!(
                check(&repo, Path::new(file), tok, link),
                None,
                "{file}: {tok}"
            );
        };
        ok("README.md", "crates/cli/README.md", false);
        ok("README.md", "crates/cli/", false);
        ok("README.md", "crates/cli/README.md#exit-codes", true);
        ok("crates/cli/README.md", "../../README.md", false);
        ok("crates/cli/README.md", "src/exit.rs", false);
        ok("crates/core/src/session/mod.rs", "session/policy.rs", false);
        ok("crates/core/src/lib.rs", "tests/lifecycle*.rs", false);
        ok("crates/core/src/lib.rs", "crates/*/src/", false);
        ok("fuzz/README.md", "exit.rs", false);
        ok("README.md", "./fuzz/README.md", false);
        // Not paths, or exempt.
        for tok in [
            "application/json",
            "127.0.0.0/8",
            "http::Request<Vec<u8>>",
            "cargo xtask ci",
            "https://example.com/a.md",
            "/usr/bin/time",
            "~/.cache/smartling-auth/",
            "<cache file>.lock",
            "fuzz/artifacts/<target>/",
            "crates/<name>/Cargo.toml",
            "target/release/smartling-auth",
            "fuzz/artifacts/session/crash-1",
            "1.85",
            "Session::poll",
            "[workspace.package]",
            "--seconds=5",
            "#anchor",
            "Some-Long-File_Name-2024.json",
            "estimates.json",
        ] {
            ok("README.md", tok, false);
        }
        ok("README.md", "#anchor", true);
        ok("README.md", "mailto:a@b.c", true);
    }

    #[test]
    fn flags_broken_and_escaping_paths() {
        let dir = TempDir::new("paths-bad");
        let repo = repo_with(&dir);
        let bad = |file: &str, tok: &str, link: bool| {
            check(&repo, Path::new(file), tok, link)
                .unwrap_or_else(|| panic!("{file}: {tok} not flagged"))
        };
        assert!(bad("README.md", "../outside/notes.md", false).contains("climbs out"));
        assert!(bad("README.md", "../outside/...", false).contains("climbs out"));
        assert!(bad("crates/cli/README.md", "../../../x", true).contains("climbs out"));
        assert!(bad("README.md", "crates/core/src/gone.rs", false).contains("no such path"));
        assert!(bad("README.md", "crates/nope/", false).contains("no such directory"));
        assert!(bad("README.md", "crates/cli/README.md/", false).contains("directory"));
        assert!(bad("README.md", "crates/core/tests/model*.rs", false).contains("no such"));
        assert!(bad("README.md", "missing-notes.md", false).contains("no file of that name"));
        assert!(bad("README.md", "build.rs", false).contains("no file of that name"));
        assert!(bad("README.md", "docs/report.json", false).contains("no such path"));
        // A Markdown link resolves from the file's own directory only.
        assert!(bad("crates/cli/README.md", "README.md/x", true).contains("relative to this file"));
        assert!(
            bad("crates/cli/README.md", "fuzz/README.md", true).contains("relative to this file")
        );
        assert!(bad("crates/cli/README.md", "./exit.rs", false).contains("relative to this file"));
        assert!(bad("README.md", "docs/", false).contains("no such directory"));
    }

    #[test]
    fn wildcards() {
        let m = |p: &str, n: &str| {
            wildcard(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("lifecycle*.rs", "lifecycle.rs"));
        assert!(m("lifecycle*.rs", "lifecycle_model.rs"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(!m("lifecycle*.rs", "lifecycle.md"));
        assert_eq!(normalize(&["a".into()], "../.."), None);
        assert_eq!(
            normalize(&["a".into()], "./b/../c"),
            Some(vec!["a".into(), "c".into()])
        );
    }
}
