//! Short, safe excerpts of bodies and server strings for error messages.

/// How many characters of a body an error message shows.
const EXCERPT_CHARS: usize = 120;
/// A run of token characters at least this long is taken to be a token and redacted.
/// JWTs are hundreds of characters; ordinary words and error keys are far shorter.
const TOKEN_RUN: usize = 24;

/// A short excerpt of a body: lossy UTF-8, at most [`EXCERPT_CHARS`] characters,
/// control characters escaped, token-like runs redacted.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    // Cut the bytes first so a huge body costs nothing; allow for multi-byte characters.
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    let mut text = String::from_utf8_lossy(head).into_owned();
    if head.len() < body.len() {
        // The last run may be the start of a longer token: drop it.
        let keep = text.trim_end_matches(is_token_char).len();
        text.truncate(keep);
    }
    // Redact before cutting, so a cut cannot leave a token's head under the threshold.
    let clean = sanitize(&text);
    let mut out: String = clean.chars().take(EXCERPT_CHARS).collect();
    if out.len() < clean.len() || head.len() < body.len() {
        let keep = out.trim_end_matches(is_token_char).len();
        out.truncate(keep);
        out.push('…');
    }
    out
}

/// Escapes control characters and redacts runs that look like tokens.
pub(crate) fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(512));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if looks_like_token(run) {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if is_token_char(c) {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut out);
        if c.is_control() || is_invisible_format(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=')
}

/// Characters that reorder or hide text in a terminal (bidi controls, zero-width
/// characters, line and paragraph separators): escaped like control characters.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// A long run with digits or mixed case: tokens and secrets look like that, while
/// error codes and keys (`MAX_OPERATIONS_LIMIT_EXCEEDED`, `invalid_token`) do not.
fn looks_like_token(run: &str) -> bool {
    let (mut digit, mut upper, mut lower) = (false, false, false);
    for b in run.bytes() {
        digit |= b.is_ascii_digit();
        upper |= b.is_ascii_uppercase();
        lower |= b.is_ascii_lowercase();
    }
    run.len() >= TOKEN_RUN && (digit || (upper && lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_redacts_tokens() {
        assert_eq!(body_excerpt(b""), "(empty body)");
        assert_eq!(body_excerpt(b"a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJmYmExOTE5MC1l.e5z7taFefXx87TOhte2asn6b";
        let s = body_excerpt(format!("token={jwt} end").as_bytes());
        assert!(!s.contains("eyJ"), "{s}");
        assert!(s.contains("[redacted]") && s.ends_with(" end"), "{s}");
    }

    #[test]
    fn a_cut_never_leaves_the_head_of_a_token() {
        let token = "eyJhbGciOiJSUzI1NiJ9eyJqdGkiOiJmYmExOTE5MC1l".repeat(20);
        for pad in 0..130 {
            let body = format!("{}{token}", "x ".repeat(pad));
            let s = body_excerpt(body.as_bytes());
            assert!(!s.contains("eyJhbG"), "pad {pad}: {s}");
        }
    }

    #[test]
    fn escapes_bidi_and_invisible_characters() {
        assert_eq!(sanitize("a\u{202e}b\u{200b}c"), "a\\u{202e}b\\u{200b}c");
    }

    #[test]
    fn keeps_codes_and_keys_readable() {
        for plain in [
            "MAX_OPERATIONS_LIMIT_EXCEEDED",
            "max_operations_limit_exceeded_for_account",
        ] {
            assert_eq!(sanitize(plain), plain);
        }
        assert_eq!(sanitize("deadbeefdeadbeefdeadbeef0123"), "[redacted]");
    }

    #[test]
    fn cuts_long_bodies_and_survives_bad_utf8() {
        let long = "word ".repeat(1000);
        let s = body_excerpt(long.as_bytes());
        assert!(s.ends_with('…'));
        assert!(s.chars().count() <= EXCERPT_CHARS + 1);
        let s = body_excerpt(&[0xff, 0xfe, b'<', b'h']);
        assert!(s.contains("<h"));
    }
}
