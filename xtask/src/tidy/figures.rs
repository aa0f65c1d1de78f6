//! The README's headline ratios must be lines of `BENCHMARKS.md`: `cargo xtask bench`
//! writes both, and this catches a hand edit of either.

use crate::bench::readme::{HEADLINE_END, HEADLINE_START, headline_block};

/// Messages for README lines between the markers that `BENCHMARKS.md` lacks.
pub fn check(readme: &str, benchmarks: Option<&str>) -> Vec<(usize, String)> {
    let Some(block) = headline_block(readme) else {
        return vec![(
            1,
            format!("no headline-ratio block (`{HEADLINE_START}` ... `{HEADLINE_END}`)"),
        )];
    };
    let Some(benchmarks) = benchmarks else {
        return vec![(
            1,
            "the headline ratios quote BENCHMARKS.md, which does not exist".into(),
        )];
    };
    if block.is_empty() {
        return vec![(
            1,
            "the headline-ratio block is empty: run `cargo xtask bench`".into(),
        )];
    }
    let start_line = readme[..readme.find(HEADLINE_START).unwrap_or(0)]
        .lines()
        .count()
        + 1;
    block
        .iter()
        .filter(|l| !benchmarks.lines().any(|b| b == **l))
        .map(|l| {
            let n = readme
                .lines()
                .skip(start_line)
                .position(|r| r == *l)
                .map_or(start_line, |p| start_line + p + 1);
            (
                n,
                format!("headline `{}` is not a line of BENCHMARKS.md", l.trim()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headlines_must_come_from_the_benchmarks() {
        let readme = format!("# T\n\n{HEADLINE_START}\n- a: 1.00x\n- b: 2.00x\n{HEADLINE_END}\n");
        let bench = "# Benchmarks\n\n- a: 1.00x\n- b: 2.00x\n";
        assert!(check(&readme, Some(bench)).is_empty());
        let edited = readme.replace("2.00x", "1.50x");
        assert_eq!(
            check(&edited, Some(bench)),
            vec![(
                5,
                "headline `- b: 1.50x` is not a line of BENCHMARKS.md".to_owned()
            )]
        );
        assert_eq!(check(&readme, None).len(), 1);
        assert_eq!(check("# T\n", Some(bench)).len(), 1);
        let empty = format!("{HEADLINE_START}\n\n{HEADLINE_END}\n");
        assert_eq!(
            check(&empty, Some(bench)),
            vec![(
                1,
                "the headline-ratio block is empty: run `cargo xtask bench`".to_owned()
            )]
        );
    }
}
