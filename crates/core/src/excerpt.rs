//! Every redaction of server text, in one place, and the short excerpts of bodies that
//! error messages show.
//!
//! Two kinds of redaction:
//! - **heuristic** ([`sanitize`], [`body_excerpt`]): the parser applies it to whatever
//!   a server sends. It hides the value of any JSON key or `key=value` pair whose name
//!   says `token` or `secret`, and long runs that look like tokens, while paths and
//!   URLs stay readable: they are judged a segment at a time, and a segment made of
//!   words (a long file name) is kept. It also escapes control characters.
//! - **exact** ([`Exact`]): the parser never sees the request, so the layer that sent it
//!   (the session, a driver) names the secrets the request carried, and every form of
//!   them a server may echo (raw, JSON-escaped, HTML-escaped) becomes `[redacted]`, in
//!   raw server text and in text the heuristic already went over.

use std::borrow::Cow;

/// What every redacted value becomes.
pub(crate) const REDACTED: &str = "[redacted]";
/// How many characters of a body an error message shows.
const EXCERPT_CHARS: usize = 120;
/// A run of token characters at least this long may be a token. JWTs are hundreds of
/// characters; ordinary words and error keys are far shorter.
const TOKEN_RUN: usize = 24;
/// JSON keys and `key=value` names longer than this are not read as names.
const KEY_MAX: usize = 64;

/// A short excerpt of a body: lossy UTF-8, at most [`EXCERPT_CHARS`] characters,
/// control characters escaped, secrets and token-like runs redacted.
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

/// Escapes control characters and redacts what looks secret: values named as tokens
/// or secrets, and token-like runs.
pub(crate) fn sanitize(s: &str) -> String {
    let s = redact_named_values(s);
    let mut out = String::with_capacity(s.len().min(512));
    let mut run_start = None;
    for (i, c) in s.char_indices() {
        if is_token_char(c) {
            run_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = run_start.take() {
            push_run(&s[start..i], &mut out);
        }
        if c.is_control() || is_invisible_format(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if let Some(start) = run_start {
        push_run(&s[start..], &mut out);
    }
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

/// One run of token characters, redacted where it holds a secret.
fn push_run(mut run: &str, out: &mut String) {
    // `name=value`: a query parameter, a form field, a log's key-value pair. A loop, not
    // recursion: a server controls how many there are in a row.
    while let Some((name, value)) = run.split_once('=')
        && is_name(name)
    {
        out.push_str(name);
        out.push('=');
        if names_a_secret(name) && !value.is_empty() {
            out.push_str(REDACTED);
            return;
        }
        run = value;
    }
    if !run.contains('/') {
        out.push_str(if looks_like_token(run) { REDACTED } else { run });
        return;
    }
    // A path or a URL: judged a segment at a time, so that one token in it does not
    // hide the rest, and a segment made of words (a long file name) stays readable.
    for (i, segment) in run.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let token = looks_like_token(segment) && !is_words(segment);
        out.push_str(if token { REDACTED } else { segment });
    }
}

/// A plausible key name: an identifier, not itself token-like.
fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= KEY_MAX
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        && !looks_like_token(s)
}

/// Whether a key's name says its value is a secret.
fn names_a_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("token") || lower.contains("secret")
}

/// A long run with digits or mixed case: tokens and secrets look like that, while
/// error codes and keys (`MAX_OPERATIONS_LIMIT_EXCEEDED`, `invalid_token`) do not.
fn looks_like_token(run: &str) -> bool {
    if run.len() < TOKEN_RUN {
        return false;
    }
    let (mut digit, mut upper, mut lower) = (false, false, false);
    for b in run.bytes() {
        digit |= b.is_ascii_digit();
        upper |= b.is_ascii_uppercase();
        lower |= b.is_ascii_lowercase();
    }
    digit || (upper && lower)
}

/// A segment made of words: every piece between `-`, `_` and `.` is shaped like a word
/// or an identifier made of words (see [`is_word`]), and the pieces are words, not
/// scraps (3 characters or more on average). A JWT is not, however its pieces look.
fn is_words(segment: &str) -> bool {
    if is_jwt_shaped(segment) {
        return false;
    }
    let (mut pieces, mut chars) = (0, 0);
    for piece in segment.split(['-', '_', '.']) {
        if piece.is_empty() {
            continue;
        }
        if !is_word(piece.as_bytes()) {
            return false;
        }
        pieces += 1;
        chars += piece.len();
    }
    chars >= 3 * pieces
}

/// Lower case, then capitalised humps of two lower-case letters or more and acronyms,
/// then digits: `json`, `Name2`, `AuthApiClient`, `HTTPServer`, `IMG`, `v2`, `2024`.
/// A random string breaks this within a few characters.
fn is_word(piece: &[u8]) -> bool {
    let n = piece.len();
    let run = |mut i: usize, f: fn(&u8) -> bool| {
        while i < n && f(&piece[i]) {
            i += 1;
        }
        i
    };
    let mut i = run(0, u8::is_ascii_lowercase);
    while i < n && piece[i].is_ascii_uppercase() {
        let lower = run(i, u8::is_ascii_uppercase);
        let end = run(lower, u8::is_ascii_lowercase);
        // `Word`, `HTTPServer` (the last capital starts the hump), or an acronym.
        if end > lower && end - lower < 2 {
            return false;
        }
        i = end;
    }
    run(i, u8::is_ascii_digit) == n
}

/// Three or more parts between dots, two of them 16 characters or longer: a JWT
/// (`header.payload.signature`), not a file name.
fn is_jwt_shaped(segment: &str) -> bool {
    segment.split('.').count() >= 3 && segment.split('.').filter(|p| p.len() >= 16).count() >= 2
}

// ---------------------------------------------------------------------------------------
// Values of keys named as secrets
// ---------------------------------------------------------------------------------------

/// The quotes a key may stand between: JSON, JSON inside a JSON string, HTML-escaped
/// JSON, and Python-style reprs. Longer forms first: `\"` is also a `"`.
const QUOTES: [&str; 6] = ["\\\"", "&quot;", "&#34;", "&#39;", "\"", "'"];

/// Replaces the value of every quoted key whose name says `token` or `secret`, whatever
/// its shape (string, number, object, array; cut short at the end of the text or not),
/// and of every `name=value` whose name says so.
fn redact_named_values(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let found = match b[i] {
            b'"' | b'\\' | b'&' | b'\'' => named_value_at(s, i),
            b'A'..=b'Z' | b'a'..=b'z' | b'_' if i == 0 || !is_name_byte(b[i - 1]) => {
                assigned_value_at(s, i)
            }
            _ => None,
        };
        let Some((start, end, value)) = found else {
            i += 1;
            continue;
        };
        out.push_str(&s[copied..start]);
        match value {
            Shape::String { quote, closed } => {
                out.push_str(quote);
                out.push_str(REDACTED);
                if closed {
                    out.push_str(quote);
                }
            }
            Shape::Other => out.push_str(REDACTED),
        }
        copied = end;
        i = end;
    }
    if copied == 0 {
        Cow::Borrowed(s)
    } else {
        out.push_str(&s[copied..]);
        Cow::Owned(out)
    }
}

enum Shape {
    String { quote: &'static str, closed: bool },
    Other,
}

/// If a key naming a secret starts at `i`, the byte range of its value and its shape.
fn named_value_at(s: &str, i: usize) -> Option<(usize, usize, Shape)> {
    let b = s.as_bytes();
    let quote = *QUOTES.iter().find(|q| b[i..].starts_with(q.as_bytes()))?;
    let key_start = i + quote.len();
    let window = &b[key_start..b.len().min(key_start + KEY_MAX + quote.len())];
    let key_len = find(window, quote.as_bytes())?;
    let key = &s[key_start..key_start + key_len];
    if key.is_empty() || key.chars().any(char::is_control) || !names_a_secret(key) {
        return None;
    }
    let mut j = skip_space(b, key_start + key_len + quote.len());
    if b.get(j) != Some(&b':') {
        return None;
    }
    j = skip_space(b, j + 1);
    let rest = &b[j..];
    if rest.starts_with(quote.as_bytes()) {
        let end = string_end(b, j + quote.len(), quote);
        let closed = end.is_some();
        return Some((j, end.unwrap_or(b.len()), Shape::String { quote, closed }));
    }
    match rest.first()? {
        b'{' | b'[' => Some((
            j,
            container_end(b, j, quote).unwrap_or(b.len()),
            Shape::Other,
        )),
        _ => {
            let len = rest
                .iter()
                .position(|c| {
                    c.is_ascii_whitespace()
                        || matches!(c, b',' | b'}' | b']' | b'<' | b'&' | b'"' | b'\\' | b'\'')
                })
                .unwrap_or(rest.len());
            (len > 0).then_some((j, j + len, Shape::Other))
        }
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// If `name=value` naming a secret starts at `i` (a query parameter, a form field, a
/// log's key-value pair), the byte range of its value, up to whatever ends a value in
/// a query string or prose: `%2F` and `~` do not end it, `&` and a space do.
fn assigned_value_at(s: &str, i: usize) -> Option<(usize, usize, Shape)> {
    let b = s.as_bytes();
    let name_len = b[i..]
        .iter()
        .take(KEY_MAX + 1)
        .position(|c| !is_name_byte(*c))?;
    let eq = i + name_len;
    if b.get(eq) != Some(&b'=') {
        return None;
    }
    if !names_a_secret(&s[i..eq]) {
        return None;
    }
    let start = eq + 1;
    let len = b[start..]
        .iter()
        .position(|c| {
            c.is_ascii_whitespace()
                || matches!(
                    c,
                    b'&' | b'#'
                        | b'"'
                        | b'\''
                        | b'<'
                        | b'>'
                        | b','
                        | b';'
                        | b')'
                        | b']'
                        | b'}'
                        | b'\\'
                )
        })
        .unwrap_or(b.len() - start);
    (len > 0).then_some((start, start + len, Shape::Other))
}

fn skip_space(b: &[u8], mut j: usize) -> usize {
    while b.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    j
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The end (past the closing quote) of a string opened by `quote` whose content starts
/// at `from`; `None` when the text ends first.
fn string_end(b: &[u8], from: usize, quote: &str) -> Option<usize> {
    let q = quote.as_bytes();
    let mut k = from;
    while k < b.len() {
        if b[k..].starts_with(q) {
            let backslashes = b[..k].iter().rev().take_while(|c| **c == b'\\').count();
            // Inside a JSON string, `\"` opens and closes the inner string and `\\\"` is
            // an escaped quote within it: a closing `\"` follows a multiple of four
            // backslashes. Elsewhere a quote after an odd number of them is escaped.
            let closes = if quote == "\\\"" {
                backslashes % 4 == 0
            } else {
                backslashes % 2 == 0
            };
            if closes {
                return Some(k + q.len());
            }
        }
        k += 1;
    }
    None
}

/// The end (past the closing bracket) of the object or array at `from`; strings in
/// plain JSON are skipped so that a bracket inside one does not count.
fn container_end(b: &[u8], from: usize, quote: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = from;
    while k < b.len() {
        match b[k] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k + 1);
                }
            }
            b'"' if quote == "\"" => {
                k = string_end(b, k + 1, quote)?;
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    None
}

// ---------------------------------------------------------------------------------------
// Exact secrets
// ---------------------------------------------------------------------------------------

/// The exact secrets a request carried, in every form a server may echo them in: raw,
/// JSON-escaped as the request builders write them, and HTML-escaped (of both).
pub(crate) struct Exact {
    /// Longest first, so that a form never leaves part of a longer one behind.
    forms: Vec<Form>,
}

struct Form {
    /// The form as raw server text holds it.
    text: String,
    /// Its leading and trailing runs of token characters. A run at an edge may merge
    /// with the text around it, so [`sanitize`] may have kept it, redacted it, or
    /// redacted it together with its neighbours.
    lead: String,
    trail: String,
    /// What [`sanitize`] makes of the rest, from the first character that is not a
    /// token character to the last (its runs are whole, so it is judged the same
    /// wherever it appears). Empty when the form is one run.
    middle: String,
    /// Replaced only as a whole word: the form of a secret shorter than
    /// [`WHOLE_WORD_BELOW`] characters, which occurs inside ordinary words (a one-letter
    /// secret turned "server" into "[redacted]erver").
    whole: bool,
}

/// Secrets shorter than this (in characters) are redacted only as whole words.
const WHOLE_WORD_BELOW: usize = 8;

/// Whether `c` continues a word: a short secret next to one is part of another word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `text[at..at + len]` stands alone: no word character touches either end.
fn stands_alone(text: &str, at: usize, len: usize) -> bool {
    !text[..at].chars().next_back().is_some_and(is_word_char)
        && !text[at + len..].chars().next().is_some_and(is_word_char)
}

impl Exact {
    /// The forms of `secrets`; empty secrets are ignored.
    pub(crate) fn new(secrets: &[&str]) -> Self {
        let mut texts: Vec<(String, bool)> = Vec::new();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            let whole = secret.chars().count() < WHOLE_WORD_BELOW;
            let quoted = serde_json::to_string(secret).unwrap_or_default();
            let json = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .unwrap_or(secret)
                .to_owned();
            for text in [
                secret.to_string(),
                html_escape(secret),
                html_escape(&json),
                json,
            ] {
                match texts.iter_mut().find(|(t, _)| *t == text) {
                    // A form that is also a longer secret's stays whole-word only if
                    // every secret it stands for is short.
                    Some((_, w)) => *w &= whole,
                    None => texts.push((text, whole)),
                }
            }
        }
        texts.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        let forms = texts
            .into_iter()
            .map(|(text, whole)| {
                let lead_len = text.len() - text.trim_start_matches(is_token_char).len();
                let trail_len = text.len() - text.trim_end_matches(is_token_char).len();
                if lead_len == text.len() {
                    return Form {
                        lead: text.clone(),
                        trail: String::new(),
                        middle: String::new(),
                        text,
                        whole,
                    };
                }
                Form {
                    lead: text[..lead_len].to_owned(),
                    trail: text[text.len() - trail_len..].to_owned(),
                    middle: sanitize(&text[lead_len..text.len() - trail_len]),
                    text,
                    whole,
                }
            })
            .collect();
        Exact { forms }
    }

    /// Whether there is nothing to redact.
    pub(crate) fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Server text as the server sent it, each form of each secret replaced; `None`
    /// when none occurs.
    pub(crate) fn in_raw(&self, text: &str) -> Option<String> {
        let b = text.as_bytes();
        let mut out = String::new();
        let mut copied = 0;
        let mut i = 0;
        while i < b.len() {
            // A valid UTF-8 needle matches valid UTF-8 only at a character boundary.
            match self.forms.iter().find(|f| {
                b[i..].starts_with(f.text.as_bytes())
                    && (!f.whole || stands_alone(text, i, f.text.len()))
            }) {
                Some(f) => {
                    out.push_str(&text[copied..i]);
                    out.push_str(REDACTED);
                    i += f.text.len();
                    copied = i;
                }
                None => i += 1,
            }
        }
        (copied > 0).then(|| {
            out.push_str(&text[copied..]);
            out
        })
    }

    /// Text that went through [`sanitize`] (and perhaps [`body_excerpt`]'s cut), each
    /// form of each secret replaced, along with whatever the heuristic merged into its
    /// edges and a head of it left by a cut; `None` when none occurs.
    pub(crate) fn in_sanitized(&self, text: &str) -> Option<String> {
        let mut current: Option<String> = None;
        for form in &self.forms {
            let t = current.as_deref().unwrap_or(text);
            if let Some(next) = form.in_sanitized(t) {
                current = Some(next);
            }
        }
        current
    }
}

impl Form {
    fn in_sanitized(&self, text: &str) -> Option<String> {
        if self.whole {
            // Short: only where it stands alone, as the request had it (a short run is
            // never a token to the heuristic, so sanitize left it as it was).
            return replace_alone(text, &self.text);
        }
        if self.middle.is_empty() {
            // One run: sanitize kept it whole or redacted it (alone or with neighbours).
            return replace_all(text, &self.lead);
        }
        let mut out = String::new();
        let mut copied = 0;
        let mut changed = false;
        while let Some(at) = find(&text.as_bytes()[copied..], self.middle.as_bytes()) {
            let p = copied + at;
            let q = p + self.middle.len();
            let start = left_edge(text, copied, p, &self.lead);
            let end = right_edge(text, q, &self.trail);
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            changed = true;
        }
        // A cut body: the excerpt may end in the head of a form, then `…`.
        if let Some(body) = text[copied..].strip_suffix('…') {
            let body_end = copied + body.len();
            let head = (1..self.middle.len())
                .rev()
                .filter(|k| self.middle.is_char_boundary(*k))
                .map(|k| &self.middle[..k])
                .find(|head| {
                    text[copied..body_end].ends_with(head) && {
                        let p = body_end - head.len();
                        let before = &text[copied..p];
                        let lead_seen = !self.lead.is_empty()
                            && (before.ends_with(&self.lead) || before.ends_with(REDACTED));
                        lead_seen || head.chars().count() >= 4
                    }
                });
            if let Some(head) = head {
                let p = body_end - head.len();
                let start = left_edge(text, copied, p, &self.lead);
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = body_end;
                changed = true;
            }
        }
        changed.then(|| {
            out.push_str(&text[copied..]);
            out
        })
    }
}

/// Where a form whose middle starts at `p` starts: before its lead run as sanitize left
/// it (kept, or redacted with whatever it merged with), never before `floor`.
fn left_edge(text: &str, floor: usize, p: usize, lead: &str) -> usize {
    let before = &text[floor..p];
    if lead.is_empty() {
        p
    } else if before.ends_with(lead) {
        p - lead.len()
    } else if before.ends_with(REDACTED) {
        p - REDACTED.len()
    } else {
        p - (before.len() - before.trim_end_matches(is_token_char).len())
    }
}

/// Where a form whose middle ends at `q` ends: past its trail run as sanitize left it.
fn right_edge(text: &str, q: usize, trail: &str) -> usize {
    let after = &text[q..];
    if trail.is_empty() {
        q
    } else if after.starts_with(trail) {
        q + trail.len()
    } else if after.starts_with(REDACTED) {
        q + REDACTED.len()
    } else {
        q + (after.len() - after.trim_start_matches(is_token_char).len())
    }
}

/// `text` with each occurrence of `needle` that stands alone replaced.
fn replace_alone(text: &str, needle: &str) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = text[from..].find(needle).map(|at| from + at) {
        if stands_alone(text, at, needle.len()) {
            out.push_str(&text[copied..at]);
            out.push_str(REDACTED);
            copied = at + needle.len();
            from = copied;
        } else {
            // Past this occurrence's first character (at a character boundary).
            from = at + text[at..].chars().next().map_or(1, char::len_utf8);
        }
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

fn replace_all(text: &str, needle: &str) -> Option<String> {
    text.contains(needle)
        .then(|| text.replace(needle, REDACTED))
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
            "invalid_token",
        ] {
            assert_eq!(sanitize(plain), plain);
        }
        assert_eq!(sanitize("deadbeefdeadbeefdeadbeef0123"), "[redacted]");
        // Outside a path, a long name is judged as a token might be.
        assert_eq!(
            sanitize("Some-Really-Long-File_Name-2024-v2.json"),
            "[redacted]"
        );
        // In a path, scraps between `-` and `_` are no words, however tame each looks.
        assert_eq!(
            sanitize("a/AAAAAaaA-_A_0AAa--A_._-AAAaaaAA-_-0_aaAaA.A_-__a__a-"),
            "a/[redacted]"
        );
    }

    #[test]
    fn keeps_paths_urls_and_file_names_readable() {
        for plain in [
            "File not found: some/dir/Long-File_Name2.json",
            "File not found: files/Some-Really-Long-File_Name-2024-v2.json",
            "see https://api.smartling.com/auth-api/v2/authenticate/refresh",
            "src/main/java/com/smartling/api/AuthApiClient.java",
            "/var/log/IMG_20240101_123456.jpg",
        ] {
            assert_eq!(sanitize(plain), plain);
        }
    }

    #[test]
    fn words_and_scraps() {
        for word in [
            "json",
            "Name2",
            "AuthApiClient",
            "HTTPServer",
            "getURLForID",
            "IMG",
            "v2",
            "2024",
            "x86",
        ] {
            assert!(is_word(word.as_bytes()), "{word}");
        }
        for scrap in [
            "Aa",
            "aBc",
            "0AAa",
            "Ab1c",
            "eyJhbGciOiJSUzI1NiJ9",
            "AaAAAaAaAAAAaa",
        ] {
            assert!(!is_word(scrap.as_bytes()), "{scrap}");
        }
        assert!(is_words("Some-Really-Long-File_Name-2024-v2.json"));
        assert!(!is_words("a-b-c-d-e-f"), "scraps, not words");
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJmYmExOTE5MC1l.e5z7taFefXx87TOhte2asn6b";
        assert!(is_jwt_shaped(jwt) && !is_words(jwt));
        assert!(!is_jwt_shaped("archive.2024.tar.gz"));
    }

    #[test]
    fn a_token_in_a_path_or_a_query_is_redacted_and_the_rest_kept() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJmYmExOTE5MC1l.e5z7taFefXx87TOhte2asn6b";
        assert_eq!(
            sanitize(&format!("https://gw.example/reset/{jwt}/done")),
            "https://gw.example/reset/[redacted]/done"
        );
        assert_eq!(
            sanitize(&format!("https://gw.example/cb?code={jwt}&state=ok")),
            "https://gw.example/cb?code=[redacted]&state=ok"
        );
        // Named as a token: redacted whatever its shape, even short.
        assert_eq!(
            sanitize("https://gw.example/cb?access_token=abc&refreshToken=x.y&b=1"),
            "https://gw.example/cb?access_token=[redacted]&refreshToken=[redacted]&b=1"
        );
        assert_eq!(
            sanitize("GET /a?client_secret=hunter2 HTTP/1.1"),
            "GET /a?client_secret=[redacted] HTTP/1.1"
        );
        // The whole value, however it is encoded.
        assert_eq!(
            sanitize("/cb?token=a~b%2Fc.d&amp;refresh_token=e!f;x=1 userSecret=p~w"),
            "/cb?token=[redacted]&amp;refresh_token=[redacted];x=1 userSecret=[redacted]"
        );
        assert_eq!(sanitize("a mytokens=\u{1}"), "a mytokens=[redacted]");
        // A UUID is random, not words.
        assert_eq!(
            sanitize("files/3f2a9b8c-1d4e-4f5a-9b8c-7d6e5f4a3b2c/a.json"),
            "files/[redacted]/a.json"
        );
    }

    #[test]
    fn values_of_keys_naming_a_token_or_secret_are_redacted_in_every_shape() {
        let cases = [
            (
                r#"{"accessToken":"ACCESS-SECRET-XYZ"}"#,
                r#"{"accessToken":"[redacted]"}"#,
            ),
            (
                r#"{"userSecret" : "a b"}"#,
                r#"{"userSecret" : "[redacted]"}"#,
            ),
            (
                r#"{"refresh_token":12345,"x":1}"#,
                r#"{"refresh_token":[redacted],"x":1}"#,
            ),
            (
                r#"{"TOKEN":{"a":"}","b":[1]},"x":1}"#,
                r#"{"TOKEN":[redacted],"x":1}"#,
            ),
            (r#"{"secrets":["a","b"]}"#, r#"{"secrets":[redacted]}"#),
            (r#"{"token":null}"#, r#"{"token":[redacted]}"#),
            (
                r#"{"token":"a\"b","x":1}"#,
                r#"{"token":"[redacted]","x":1}"#,
            ),
            // Cut short: redacted to the end.
            (
                r#"{"accessToken":"ACCESS-SEC"#,
                r#"{"accessToken":"[redacted]"#,
            ),
            (r#"{"accessToken":{"a":"#, r#"{"accessToken":[redacted]"#),
            // JSON inside a JSON string, HTML-escaped JSON, a Python repr.
            (
                r#"{"body":"{\"accessToken\":\"ACCESS-SECRET-XYZ\",\"x\":1}"}"#,
                r#"{"body":"{\"accessToken\":\"[redacted]\",\"x\":1}"}"#,
            ),
            (
                "<pre>{&quot;accessToken&quot;:&quot;ACCESS-SECRET-XYZ&quot;}</pre>",
                "<pre>{&quot;accessToken&quot;:&quot;[redacted]&quot;}</pre>",
            ),
            ("{'userSecret': 'pw'}", "{'userSecret': '[redacted]'}"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize(input), expected, "{input}");
        }
        // Other keys and values that merely mention a token are left alone.
        for plain in [
            r#"{"error":"invalid_token","message":"the token: expired"}"#,
            r#"{"key":"token"}"#,
        ] {
            assert_eq!(sanitize(plain), plain);
        }
    }

    #[test]
    fn long_chains_of_pairs_and_escaped_quotes_need_no_deep_stack() {
        let pairs = "a=".repeat(40_000) + "x";
        assert_eq!(sanitize(&pairs), pairs);
        let pairs = "a=".repeat(40_000) + "token=x";
        assert!(sanitize(&pairs).ends_with("token=[redacted]"));
        let quotes = format!(r#"{{"token":"{}"#, "\\\"".repeat(20_000));
        assert_eq!(sanitize(&quotes), r#"{"token":"[redacted]"#);
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

    const PW: &str = "Tr0ub4dor&3-horse!battery~staple";

    #[test]
    fn exact_secrets_are_redacted_from_raw_text_in_every_form() {
        let exact = Exact::new(&[PW, ""]);
        let json = r#"Tr0ub\"4dor"#; // not this secret: left alone
        for (text, expected) in [
            (format!("echo: {PW}!"), "echo: [redacted]!".to_owned()),
            (
                "echo: Tr0ub4dor&amp;3-horse!battery~staple".to_owned(),
                "echo: [redacted]".to_owned(),
            ),
            (format!("{PW}{PW}"), "[redacted][redacted]".to_owned()),
            (json.to_owned(), json.to_owned()),
        ] {
            assert_eq!(exact.in_raw(&text).unwrap_or(text.clone()), expected);
        }
        let quoted = Exact::new(&["a\"b\\c\nd"]);
        assert_eq!(
            quoted.in_raw(r#"{"userSecret":"a\"b\\c\nd"}"#).as_deref(),
            Some(r#"{"userSecret":"[redacted]"}"#)
        );
        assert_eq!(
            quoted.in_raw("raw a\"b\\c\nd").as_deref(),
            Some("raw [redacted]")
        );
        assert!(Exact::new(&[""]).is_empty());
    }

    #[test]
    fn exact_secrets_are_redacted_from_excerpts() {
        let exact = Exact::new(&[PW]);
        let pages = [
            format!("<html><body><p>Rejected body: user=bob pass={PW} (WAF rule 942100)</p>"),
            format!("<html><p>user=bob userSecret={PW} rule 7</p>"),
            "<p>Tr0ub4dor&amp;3-horse!battery~staple</p>".to_owned(),
            format!("<p>{}</p>", serde_json::to_string(PW).unwrap()),
            format!("<p>xx{PW}yy</p>"),
        ];
        for page in pages {
            let excerpt = body_excerpt(page.as_bytes());
            let clean = exact.in_sanitized(&excerpt).unwrap_or(excerpt.clone());
            for piece in ["Tr0ub4dor", "horse", "battery", "staple"] {
                assert!(!clean.contains(piece), "{page}\n{excerpt}\n{clean}");
            }
            assert!(clean.contains("[redacted]"), "{clean}");
        }
        // What is around the secret stays.
        let page = format!("<p>Rejected: pass={PW} (rule 942100)</p>");
        let clean = exact.in_sanitized(&body_excerpt(page.as_bytes())).unwrap();
        assert_eq!(clean, "<p>Rejected: pass=[redacted] (rule 942100)</p>");
        let page = format!("<p>userSecret={PW} (rule 942100)</p>");
        let clean = exact.in_sanitized(&body_excerpt(page.as_bytes())).unwrap();
        assert_eq!(clean, "<p>userSecret=[redacted] (rule 942100)</p>");
    }

    #[test]
    fn a_cut_excerpt_does_not_keep_the_head_of_an_exact_secret() {
        let exact = Exact::new(&[PW]);
        for pad in 0..140 {
            let body = format!(
                "{}{PW} and the rest of the page {}",
                "x ".repeat(pad),
                "y ".repeat(200)
            );
            let excerpt = body_excerpt(body.as_bytes());
            let clean = exact.in_sanitized(&excerpt).unwrap_or(excerpt.clone());
            for head in ["Tr0ub4dor&", "&3-horse", "-horse!", "!battery"] {
                assert!(!clean.contains(head), "pad {pad}: {excerpt} -> {clean}");
            }
        }
    }

    #[test]
    fn a_secret_shorter_than_8_characters_is_redacted_only_as_a_whole_word() {
        let exact = Exact::new(&["s", "pw-12", "lé"]);
        for (text, want) in [
            ("internal server error", None),
            ("pw-123 and xpw-12", None),
            (
                "the secret s was refused",
                Some("the secret [redacted] was refused"),
            ),
            (
                "userSecret=pw-12; user=s",
                Some("userSecret=[redacted]; user=[redacted]"),
            ),
            ("\"s\"", Some("\"[redacted]\"")),
            ("lé, lés, élé", Some("[redacted], lés, élé")),
        ] {
            assert_eq!(exact.in_raw(text).as_deref(), want, "raw: {text}");
            let excerpt = body_excerpt(text.as_bytes());
            assert_eq!(
                exact.in_sanitized(&excerpt).as_deref(),
                want,
                "excerpt: {excerpt}"
            );
        }
        // From 8 characters on, a secret is redacted wherever it occurs.
        let long = Exact::new(&["abcdefgh"]);
        assert_eq!(long.in_raw("xabcdefghx").as_deref(), Some("x[redacted]x"));
    }

    #[test]
    fn exact_secrets_made_of_token_characters_only() {
        let exact = Exact::new(&["short.secret"]);
        let excerpt = body_excerpt(b"bad credentials short.secret for user");
        assert_eq!(
            exact.in_sanitized(&excerpt).as_deref(),
            Some("bad credentials [redacted] for user")
        );
    }
}
