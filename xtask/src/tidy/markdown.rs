//! The parts of Markdown (files, and the doc comments of `.rs` files) where a path
//! can be named: inline code spans and link destinations outside fenced code blocks.
//! Fenced blocks hold commands and code, whose paths belong to the command's context
//! (a build output, a scratch directory), so they are not read.

/// Where a token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `` `text` ``
    Code,
    /// `[text](dest)` or a reference definition `[label]: dest`.
    Link,
}

/// A code span's content or a link's destination, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub line: usize,
    pub kind: Kind,
}

/// The doc comments of a Rust file (`//!` and `///` lines) as Markdown blocks:
/// `(first line, text)`, one per run of adjacent doc lines.
pub fn doc_blocks(source: &str) -> Vec<(usize, String)> {
    let mut blocks: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (i, line) in source.lines().enumerate() {
        let t = line.trim_start();
        let doc = ["//!", "///"]
            .iter()
            .find_map(|p| t.strip_prefix(p))
            .filter(|_| !t.starts_with("////"));
        match (doc, open) {
            (Some(d), true) => {
                let text = &mut blocks.last_mut().expect("open block").1;
                text.push('\n');
                text.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
            (Some(d), false) => {
                blocks.push((i + 1, d.strip_prefix(' ').unwrap_or(d).to_owned()));
                open = true;
            }
            (None, _) => open = false,
        }
    }
    blocks
}

/// Every code span and link destination of `text`, whose first line is `first_line`.
pub fn tokens(text: &str, first_line: usize) -> Vec<Token> {
    let mut out = Vec::new();
    // Prose between fences, as (first line, text).
    let mut prose = String::new();
    let mut prose_line = first_line;
    let mut fence: Option<(char, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = first_line + i;
        let t = line.trim_start();
        let marker = t.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |c| t.chars().take_while(|x| *x == c).count());
        match fence {
            Some((c, len)) => {
                if marker == Some(c) && run >= len && t[run..].trim().is_empty() {
                    fence = None;
                    prose_line = n + 1;
                }
            }
            None if run >= 3 => {
                scan(&prose, prose_line, &mut out);
                prose.clear();
                fence = marker.map(|c| (c, run));
            }
            None => {
                if prose.is_empty() {
                    prose_line = n;
                }
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    if fence.is_none() {
        scan(&prose, prose_line, &mut out);
    }
    out
}

/// Code spans (CommonMark: a run of n backticks closed by the next run of exactly n),
/// inline link destinations and reference definitions.
fn scan(text: &str, first_line: usize, out: &mut Vec<Token>) {
    let b = text.as_bytes();
    let line_at = |i: usize| first_line + b[..i].iter().filter(|c| **c == b'\n').count();
    // Reference definitions: `[label]: dest` at the start of a line.
    for (k, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix('[')
            && let Some((label, dest)) = rest.split_once("]:")
            && !label.is_empty()
            && !label.contains('[')
            && let Some(d) = dest.split_whitespace().next()
        {
            out.push(Token {
                text: d.to_owned(),
                line: first_line + k,
                kind: Kind::Link,
            });
        }
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'`' => {
                let n = b[i..].iter().take_while(|c| **c == b'`').count();
                let body = i + n;
                match closing_run(b, body, n) {
                    Some(end) => {
                        out.push(Token {
                            text: text[body..end].trim().to_owned(),
                            line: line_at(i),
                            kind: Kind::Code,
                        });
                        i = end + n;
                    }
                    None => i = body,
                }
            }
            b']' if b.get(i + 1) == Some(&b'(') => {
                let start = i + 2;
                match text[start..].find(')') {
                    Some(len) => {
                        let inner = text[start..start + len].trim();
                        let dest = match inner.strip_prefix('<') {
                            Some(angled) => angled.split('>').next().unwrap_or(""),
                            None => inner.split_whitespace().next().unwrap_or(""),
                        };
                        out.push(Token {
                            text: dest.to_owned(),
                            line: line_at(i),
                            kind: Kind::Link,
                        });
                        i = start + len + 1;
                    }
                    None => i = start,
                }
            }
            _ => i += 1,
        }
    }
}

/// The start of the next run of exactly `n` backticks at or after `from`.
fn closing_run(b: &[u8], from: usize, n: usize) -> Option<usize> {
    let mut j = from;
    while j < b.len() {
        if b[j] == b'`' {
            let m = b[j..].iter().take_while(|c| **c == b'`').count();
            if m == n {
                return Some(j);
            }
            j += m;
        } else {
            j += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(md: &str) -> Vec<(String, usize, Kind)> {
        tokens(md, 1)
            .into_iter()
            .map(|t| (t.text, t.line, t.kind))
            .collect()
    }

    #[test]
    fn finds_code_spans_and_links_outside_fences() {
        let md = "See `a/b.rs` and [the map](ARCHITECTURE.md#crates).\n\
                  ```sh\ncargo run -- `not/this.rs`\n```\n\
                  ``x ` y`` then `c/d.md`\n\
                  ~~~~\n`in/tilde.md`\n~~~\n~~~~\n\
                  [ref]: docs/ref.md \"title\"\n\
                  an \\`escaped tick and `a span\nover two lines` and [x](<a b.md>)\n";
        assert_eq!(
            texts(md),
            vec![
                ("a/b.rs".into(), 1, Kind::Code),
                ("ARCHITECTURE.md#crates".into(), 1, Kind::Link),
                ("x ` y".into(), 5, Kind::Code),
                ("c/d.md".into(), 5, Kind::Code),
                ("docs/ref.md".into(), 10, Kind::Link),
                ("a span\nover two lines".into(), 11, Kind::Code),
                ("a b.md".into(), 12, Kind::Link),
            ]
        );
    }

    #[test]
    fn an_unclosed_fence_hides_the_rest() {
        assert_eq!(
            texts("`a.md`\n```\n`b.md`\n"),
            vec![("a.md".into(), 1, Kind::Code)]
        );
        assert_eq!(texts("an `unclosed span\n"), vec![]);
    }

    #[test]
    fn reads_doc_comments_as_blocks() {
        let src = "//! Header `x/y.rs`.\n//!\n//! more\n\nuse a;\n\n/// Item doc\n///   indented\n//// not a doc\nfn f() {} // `not/doc.rs`\n    /// nested\n";
        assert_eq!(
            doc_blocks(src),
            vec![
                (1, "Header `x/y.rs`.\n\nmore".into()),
                (7, "Item doc\n  indented".into()),
                (11, "nested".into()),
            ]
        );
        let toks = tokens(&doc_blocks(src)[0].1, 1);
        assert_eq!(toks[0].text, "x/y.rs");
    }
}
