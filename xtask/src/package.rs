//! The `package (verified)` step of `cargo xtask ci`: `cargo package` for every
//! published member, which packs each crate and builds it from its packaged sources,
//! so a file missing from a package fails here, not on crates.io.
//!
//! Members that depend on each other are packed together: cargo resolves them
//! against the freshly packed siblings in a temporary local registry. Two caches
//! then outlive a run, and both would let a later run verify against the siblings'
//! old sources, since the version does not change between runs:
//! - cargo unpacks each sibling once into `$CARGO_HOME/registry/src/-<hash>/`
//!   and never again while that directory exists;
//! - packaged files carry a fixed modification time, so cargo's freshness check
//!   never sees a sibling's new sources and reuses its old build.
//!
//! So the step builds in a target directory of its own (`target/package-verify`),
//! forgets every build of our crates there before it runs (dependencies from
//! crates.io stay built: they never change under a version), and removes the
//! unpacked copies of our crates. Unpublished members (`publish = false`) are left
//! out: they may have path-only dependencies, which cannot be packaged.
//! `--allow-dirty`: the check is about what the sources build, not whether they are
//! committed yet.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{Result, cargo, cargo_bin_dir, run_cmd, target_dir};

pub fn package(root: &Path) -> Result {
    let meta = crate::tidy::metadata(root)?;
    let members = crate::tidy::manifest::published_members(&meta);
    let dir = target_dir(root).join("package-verify");
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    let forgotten = forget_builds(&dir.join("debug"), &names)
        .map_err(|e| format!("cannot clear our builds in {}: {e}", dir.display()))?;
    let mut unpacked = 0;
    if let Some(registry_src) = cargo_bin_dir().and_then(|b| Some(b.parent()?.join("registry/src")))
    {
        unpacked = forget_unpacked(&registry_src, &members)
            .map_err(|e| format!("cannot clear {}: {e}", registry_src.display()))?;
    }
    println!(
        "xtask: cleared {forgotten} build entries and {unpacked} unpacked copies of our crates"
    );
    run_cmd(&mut package_command(root, &dir, &names))
}

fn package_command(root: &Path, dir: &Path, members: &[&str]) -> Command {
    let mut c = cargo(root);
    c.env("CARGO_TARGET_DIR", dir)
        .env("CARGO_BUILD_BUILD_DIR", dir)
        .args(["package", "--allow-dirty"]);
    for m in members {
        c.args(["-p", m]);
    }
    c
}

/// Whether a build entry belongs to one of `names`: the name (with `-` or `_`,
/// after an optional `lib`), a `-`, then a hash of letters and digits and an
/// optional extension (`smartling-auth-core-1a2b`, `libsmartling_auth_core-1a2b.rlib`).
fn is_ours(entry: &str, names: &[&str]) -> bool {
    let entry = entry.strip_prefix("lib").unwrap_or(entry);
    names.iter().any(|n| {
        [n.to_string(), n.replace('-', "_")].iter().any(|form| {
            entry
                .strip_prefix(form.as_str())
                .and_then(|r| r.strip_prefix('-'))
                .and_then(|r| r.split('.').next())
                .is_some_and(|hash| {
                    !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_alphanumeric())
                })
        })
    })
}

/// Removes our crates' entries from a profile directory's `.fingerprint`, `deps`,
/// `build` and `incremental`; returns how many.
fn forget_builds(profile: &Path, names: &[&str]) -> std::io::Result<usize> {
    let mut n = 0;
    for sub in [".fingerprint", "deps", "build", "incremental"] {
        let Ok(entries) = fs::read_dir(profile.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            if is_ours(&e.file_name().to_string_lossy(), names) {
                remove(&e.path())?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Removes `<name>-<version>` of our crates from the source directories of local
/// registries (named `-<hash>`: no host), never from crates.io's.
fn forget_unpacked(registry_src: &Path, members: &[(String, String)]) -> std::io::Result<usize> {
    let mut n = 0;
    let Ok(sources) = fs::read_dir(registry_src) else {
        return Ok(0);
    };
    for source in sources.flatten() {
        if !source.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for (name, version) in members {
            let copy: PathBuf = source.path().join(format!("{name}-{version}"));
            if copy.exists() {
                remove(&copy)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn remove(p: &Path) -> std::io::Result<()> {
    if p.is_dir() && !p.is_symlink() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    #[test]
    fn forgets_only_our_builds() {
        let dir = TempDir::new("package");
        for f in [
            "debug/.fingerprint/smartling-auth-core-1a2b/lib-smartling_auth_core.json",
            "debug/.fingerprint/smartling-auth-core-extra-9f/x",
            "debug/.fingerprint/serde-77/x",
            "debug/deps/libsmartling_auth_core-1a2b.rlib",
            "debug/deps/smartling_auth_core-1a2b.d",
            "debug/deps/libserde-77.rlib",
            "debug/build/smartling-auth-cli-3c/out",
            "debug/incremental/smartling_auth_cli-4d/s",
        ] {
            dir.write(f, "x");
        }
        let names = ["smartling-auth-core", "smartling-auth-cli"];
        assert_eq!(forget_builds(&dir.path().join("debug"), &names).unwrap(), 5);
        let left = |p: &str| dir.path().join(p).exists();
        assert!(left("debug/.fingerprint/serde-77/x"));
        assert!(left("debug/deps/libserde-77.rlib"));
        assert!(
            left("debug/.fingerprint/smartling-auth-core-extra-9f/x"),
            "another crate's prefix"
        );
        assert!(!left("debug/deps/smartling_auth_core-1a2b.d"));
        assert!(!left("debug/build/smartling-auth-cli-3c"));
        // Nothing to do is not an error.
        assert_eq!(forget_builds(&dir.path().join("none"), &names).unwrap(), 0);
    }

    #[test]
    fn forgets_only_local_registry_copies() {
        let dir = TempDir::new("unpacked");
        for f in [
            "-14cd1cce6819ff87/smartling-auth-core-0.1.0/src/lib.rs",
            "-14cd1cce6819ff87/smartling-auth-core-0.0.9/src/lib.rs",
            "index.crates.io-1949cf8c6b5b557f/smartling-auth-core-0.1.0/src/lib.rs",
            "index.crates.io-1949cf8c6b5b557f/serde-1.0.0/src/lib.rs",
        ] {
            dir.write(f, "x");
        }
        let members = [("smartling-auth-core".to_owned(), "0.1.0".to_owned())];
        assert_eq!(forget_unpacked(dir.path(), &members).unwrap(), 1);
        assert!(
            !dir.path()
                .join("-14cd1cce6819ff87/smartling-auth-core-0.1.0")
                .exists()
        );
        assert!(
            dir.path()
                .join("-14cd1cce6819ff87/smartling-auth-core-0.0.9")
                .exists()
        );
        assert!(
            dir.path()
                .join("index.crates.io-1949cf8c6b5b557f/smartling-auth-core-0.1.0")
                .exists()
        );
    }

    #[test]
    fn packs_the_members_given_in_a_target_of_its_own() {
        let shown = crate::cmd::show(&package_command(
            Path::new("."),
            Path::new("target/package-verify"),
            &["smartling-auth-core", "smartling-auth-cli"],
        ));
        // Verified (never `--no-verify`), and only the members given.
        assert_eq!(
            shown,
            "CARGO_BUILD_BUILD_DIR=target/package-verify CARGO_TARGET_DIR=target/package-verify \
             cargo package --allow-dirty -p smartling-auth-core -p smartling-auth-cli"
        );
    }
}
