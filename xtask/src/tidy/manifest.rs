//! Checks on `cargo metadata`: the declared `rust-version` is honest (every member
//! declares the same one and no dependency, dev-dependencies included, declares a
//! newer one), and every published member is ready for crates.io (description,
//! licence, README, keywords, categories, and both licence texts, identical to the
//! root's, in its directory so that `cargo package` ships them).

use std::fs;
use std::path::Path;

use crate::json::Json;

/// `1.85` or `1.85.0` as `(1, 85, 0)`.
pub fn version(s: &str) -> Option<(u64, u64, u64)> {
    let mut parts = s.trim().split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    parts.next().is_none().then_some((major, minor, patch))
}

/// The licence texts every published package carries.
pub const LICENSE_FILES: &[&str] = &["LICENSE-MIT", "LICENSE-APACHE"];

/// Whether a package of `cargo metadata` may go to crates.io: `publish = false`
/// reads as an empty list, an absent field as null.
fn is_published(p: &Json) -> bool {
    !matches!(p.get("publish"), Some(Json::Arr(to)) if to.is_empty())
}

/// `(name, version)` of the workspace members that are published, in metadata order.
pub fn published_members(meta: &Json) -> Vec<(String, String)> {
    let members = meta
        .get("workspace_members")
        .map(Json::as_array)
        .unwrap_or(&[]);
    meta.get("packages")
        .map(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .filter(|p| p.get("id").is_some_and(|id| members.contains(id)))
        .filter(|p| is_published(p))
        .filter_map(|p| {
            let field = |k| Some(p.get(k)?.as_str()?.to_owned());
            Some((field("name")?, field("version")?))
        })
        .collect()
}

/// `(file relative to the root, message)` for every problem found.
pub fn check(root: &Path, meta: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let members: Vec<&str> = meta
        .get("workspace_members")
        .map(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .filter_map(Json::as_str)
        .collect();
    let packages = meta.get("packages").map(Json::as_array).unwrap_or(&[]);
    let field = |p: &Json, k: &str| p.get(k).and_then(Json::as_str).map(str::to_owned);
    let rel = |p: &Json| {
        field(p, "manifest_path")
            .map(|m| {
                Path::new(&m)
                    .strip_prefix(root)
                    .map_or(m.clone(), |r| r.display().to_string())
            })
            .unwrap_or_else(|| "Cargo.toml".into())
    };
    let is_member = |p: &Json| field(p, "id").is_some_and(|id| members.contains(&id.as_str()));

    // rust-version: one for the workspace, none newer among the dependencies.
    let mut ours: Option<(String, (u64, u64, u64))> = None;
    for p in packages.iter().filter(|p| is_member(p)) {
        let name = field(p, "name").unwrap_or_default();
        match field(p, "rust_version")
            .as_deref()
            .and_then(|v| Some((v, version(v)?)))
        {
            None => out.push((rel(p), format!("{name} declares no rust-version"))),
            Some((text, v)) => match &ours {
                None => ours = Some((text.to_owned(), v)),
                Some((t0, v0)) if *v0 != v => out.push((
                    rel(p),
                    format!("{name} declares rust-version {text}, other members {t0}"),
                )),
                Some(_) => {}
            },
        }
    }
    if let Some((ours_text, ours_v)) = &ours {
        for p in packages.iter().filter(|p| !is_member(p)) {
            let Some(theirs) = field(p, "rust_version") else {
                continue;
            };
            if version(&theirs).is_some_and(|v| v > *ours_v) {
                out.push((
                    "Cargo.toml".into(),
                    format!(
                        "dependency {} {} declares rust-version {theirs}, newer than the workspace's {ours_text}",
                        field(p, "name").unwrap_or_default(),
                        field(p, "version").unwrap_or_default()
                    ),
                ));
            }
        }
    }

    // Published members: metadata and licence texts.
    for p in packages.iter().filter(|p| is_member(p)) {
        if !is_published(p) {
            continue;
        }
        let name = field(p, "name").unwrap_or_default();
        let manifest = rel(p);
        let dir = Path::new(&manifest).parent().unwrap_or(Path::new(""));
        for key in ["description", "license"] {
            if field(p, key).is_none_or(|v| v.trim().is_empty()) {
                out.push((
                    manifest.clone(),
                    format!("{name} is published but has no {key}"),
                ));
            }
        }
        for key in ["keywords", "categories"] {
            if p.get(key)
                .map(Json::as_array)
                .is_none_or(<[Json]>::is_empty)
            {
                out.push((
                    manifest.clone(),
                    format!("{name} is published but has no {key}"),
                ));
            }
        }
        match field(p, "readme") {
            None => out.push((
                manifest.clone(),
                format!("{name} is published but has no README"),
            )),
            Some(r) if !root.join(dir).join(&r).is_file() => out.push((
                manifest.clone(),
                format!("{name}'s readme `{r}` does not exist"),
            )),
            Some(_) => {}
        }
        for lic in LICENSE_FILES {
            let want = fs::read(root.join(lic)).ok();
            let have = fs::read(root.join(dir).join(lic)).ok();
            let problem = match (&want, &have) {
                (None, _) => Some(format!("{lic} is missing at the repository root")),
                (_, None) => Some(format!(
                    "{name} is published but {lic} is not in its directory"
                )),
                (Some(w), Some(h)) if w != h => Some(format!(
                    "{} differs from the root's",
                    dir.join(lic).display()
                )),
                _ => None,
            };
            out.extend(problem.map(|m| (manifest.clone(), m)));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The lint that keeps code within `rust-version`, spelled so that this file does not
/// match itself.
pub const MSRV_LINT: &str = concat!("incompatible", "_msrv");

/// A line that turns the MSRV lint off, or a clippy config that overrides the
/// version it checks against.
pub fn msrv_lint_off(file: &Path, text: &str) -> Option<(usize, String)> {
    let name = file.file_name()?.to_str()?;
    if name == "clippy.toml" || name == ".clippy.toml" {
        return text
            .lines()
            .position(|l| l.trim_start().starts_with("msrv"))
            .map(|i| {
                (
                    i + 1,
                    format!("`msrv` overrides rust-version for {MSRV_LINT}"),
                )
            });
    }
    if !(name.ends_with(".rs") || name == "Cargo.toml") {
        return None;
    }
    text.lines().enumerate().find_map(|(i, l)| {
        let comment = if name == "Cargo.toml" { "#" } else { "//" };
        let code = !l.trim_start().starts_with(comment);
        let off = code
            && l.contains(MSRV_LINT)
            && ["allow", "expect", "\"warn\"", "warn("]
                .iter()
                .any(|w| l.contains(w));
        off.then(|| (i + 1, format!("turns clippy's {MSRV_LINT} off or down")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    fn meta(root: &Path, dep_msrv: &str, core_msrv: &str, core_readme: &str) -> Json {
        let r = root.display();
        Json::parse(&format!(
            r#"{{
            "workspace_members": ["path+file://{r}/crates/core#0.1.0", "path+file://{r}/xtask#0.0.0"],
            "packages": [
              {{"id": "path+file://{r}/crates/core#0.1.0", "name": "core", "version": "0.1.0",
                "rust_version": "{core_msrv}", "manifest_path": "{r}/crates/core/Cargo.toml",
                "publish": null, "description": "d", "license": "MIT OR Apache-2.0",
                "readme": {core_readme}, "keywords": ["k"], "categories": ["c"]}},
              {{"id": "path+file://{r}/xtask#0.0.0", "name": "xtask", "version": "0.0.0",
                "rust_version": "1.85", "manifest_path": "{r}/xtask/Cargo.toml", "publish": [],
                "description": null, "license": null, "readme": null, "keywords": [], "categories": []}},
              {{"id": "registry+x#dep@1.0.0", "name": "dep", "version": "1.0.0",
                "rust_version": {dep_msrv}, "manifest_path": "/registry/dep/Cargo.toml"}}
            ]}}"#
        ))
        .unwrap()
    }

    fn tree() -> TempDir {
        let dir = TempDir::new("manifest");
        for f in [
            "LICENSE-MIT",
            "LICENSE-APACHE",
            "crates/core/LICENSE-MIT",
            "crates/core/LICENSE-APACHE",
        ] {
            dir.write(
                f,
                &format!("text of {}", &f[f.rfind('/').map_or(0, |i| i + 1)..]),
            );
        }
        dir.write("crates/core/README.md", "# core");
        dir
    }

    #[test]
    fn a_ready_workspace_passes() {
        let dir = tree();
        let m = meta(dir.path(), "\"1.80\"", "1.85", "\"README.md\"");
        assert_eq!(check(dir.path(), &m), vec![]);
        let m = meta(dir.path(), "null", "1.85.0", "\"README.md\"");
        assert_eq!(check(dir.path(), &m), vec![]);
    }

    #[test]
    fn flags_a_newer_dependency_and_unready_packages() {
        let dir = tree();
        let m = meta(dir.path(), "\"1.86\"", "1.85", "null");
        let found = check(dir.path(), &m);
        let msgs: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            msgs.contains(
                &"dependency dep 1.0.0 declares rust-version 1.86, newer than the workspace's 1.85"
            ),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"core is published but has no README"),
            "{msgs:?}"
        );
        assert!(
            !msgs.iter().any(|m| m.contains("xtask")),
            "xtask is not published: {msgs:?}"
        );
        assert_eq!(
            published_members(&m),
            [("core".to_owned(), "0.1.0".to_owned())]
        );

        dir.write("crates/core/LICENSE-MIT", "edited");
        std::fs::remove_file(dir.path().join("crates/core/LICENSE-APACHE")).unwrap();
        let m = meta(dir.path(), "null", "1.84", "\"README.md\"");
        let msgs: Vec<String> = check(dir.path(), &m).into_iter().map(|(_, m)| m).collect();
        assert!(
            msgs.contains(&"crates/core/LICENSE-MIT differs from the root's".to_owned()),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(
                &"core is published but LICENSE-APACHE is not in its directory".to_owned()
            ),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"xtask declares rust-version 1.85, other members 1.84".to_owned()),
            "{msgs:?}"
        );
    }

    #[test]
    fn reads_versions() {
        assert_eq!(version("1.85"), Some((1, 85, 0)));
        assert_eq!(version("1.85.1"), Some((1, 85, 1)));
        assert!(version("1.86") > version("1.85.9"));
        for bad in ["", "1.x", "1.2.3.4", "a"] {
            assert_eq!(version(bad), None, "{bad}");
        }
    }
}
