//! The README's headline ratios: the lines between two markers, which
//! `cargo xtask bench` rewrites from the lines it wrote to BENCHMARKS.md.

use std::fs;
use std::path::Path;

use crate::cmd::Result;

/// The README lines between these markers are the headline ratios. Tidy checks that
/// each of them appears in `BENCHMARKS.md`.
pub const HEADLINE_START: &str =
    "<!-- headline ratios: written by `cargo xtask bench`, copied from BENCHMARKS.md -->";
pub const HEADLINE_END: &str = "<!-- end of headline ratios -->";

/// `readme` with the lines between the headline markers replaced by `lines`.
pub fn splice_headlines(readme: &str, lines: &[String]) -> std::result::Result<String, String> {
    let start = readme
        .find(HEADLINE_START)
        .ok_or("README.md has no headline-ratio start marker")?;
    let body = start + HEADLINE_START.len();
    let end = body
        + readme[body..]
            .find(HEADLINE_END)
            .ok_or("README.md has no headline-ratio end marker")?;
    let mut out = String::with_capacity(readme.len());
    out.push_str(&readme[..body]);
    out.push('\n');
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&readme[end..]);
    Ok(out)
}

/// The lines between the headline markers, if both are there.
pub fn headline_block(readme: &str) -> Option<Vec<&str>> {
    let body = readme.find(HEADLINE_START)? + HEADLINE_START.len();
    let end = body + readme[body..].find(HEADLINE_END)?;
    Some(
        readme[body..end]
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect(),
    )
}

/// Writes `BENCHMARKS.md` and the README's headline ratios.
pub fn write(root: &Path, benchmarks: &str, headlines: &[String]) -> Result {
    let readme_path = root.join("README.md");
    let readme = fs::read_to_string(&readme_path).map_err(|e| format!("README.md: {e}"))?;
    let readme = splice_headlines(&readme, headlines)?;
    // The build-size section is `cargo xtask build-size`'s: kept as it was.
    let old = fs::read_to_string(root.join("BENCHMARKS.md")).unwrap_or_default();
    let benchmarks = match crate::build_size::section_of(&old) {
        Some(section) => format!(
            "{}\n{section}",
            benchmarks.trim_end_matches('\n').to_owned() + "\n"
        ),
        None => benchmarks.to_owned(),
    };
    fs::write(root.join("BENCHMARKS.md"), benchmarks)
        .map_err(|e| format!("cannot write BENCHMARKS.md: {e}"))?;
    fs::write(&readme_path, readme).map_err(|e| format!("cannot write README.md: {e}"))?;
    println!("wrote BENCHMARKS.md and the README's headline ratios");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_the_readme_block() {
        let readme = format!("# T\n\n{HEADLINE_START}\n- old: 1.00x\n{HEADLINE_END}\n\nrest\n");
        let new = splice_headlines(&readme, &["- new: 2.00x".into()]).unwrap();
        assert_eq!(
            new,
            format!("# T\n\n{HEADLINE_START}\n- new: 2.00x\n{HEADLINE_END}\n\nrest\n")
        );
        assert_eq!(headline_block(&new), Some(vec!["- new: 2.00x"]));
        assert!(splice_headlines("# T\n", &[]).is_err());
        assert!(splice_headlines(&format!("{HEADLINE_START}\n"), &[]).is_err());
        assert_eq!(headline_block("none"), None);
    }
}
