//! The check on `Error::redact_exact`: a secret a request could have carried, picked
//! from the body so that the server "echoed" it, is in no server text of the error once
//! redacted, and nothing else about the error changes.

use smartling_auth_core::{Error, error::ErrorCode, error::Malformed, TokenPair};

/// Shortest secret picked: shorter runs are words the parser's own texts may hold.
pub const MIN_SECRET: usize = 6;

/// The characters a picked secret is made of: letters, digits, and punctuation that
/// JSON does not escape and that cannot open a quote, a bracket or an escape in the
/// parser's own texts (`[redacted]`, `\u{..}`, `…`).
pub fn is_secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '&' | '!' | '~' | '-' | '_' | '.')
}

/// The longest run of secret characters in `body` (the first of equal ones), when it is
/// at least [`MIN_SECRET`] long and not a piece of `redacted`.
pub fn pick_secret(body: &[u8]) -> Option<&str> {
    let mut best: Option<&[u8]> = None;
    for run in body.split(|b| !is_secret_char(char::from(*b)) || !b.is_ascii()) {
        if best.is_none_or(|b| run.len() > b.len()) {
            best = Some(run);
        }
    }
    let best = std::str::from_utf8(best?).ok()?;
    (best.len() >= MIN_SECRET && !"redacted".contains(best)).then_some(best)
}

/// Every text of `e` that came from the server: an unknown code, each entry's key and
/// message, every string and object key in its details, an excerpt, an unexpected code.
/// (A known code is an enum variant: nothing of the server's text is left in it.)
pub fn server_texts(e: &Error) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    out.push(k.clone());
                    walk(v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    match e {
        Error::Api(api) => {
            if let ErrorCode::Other(code) = &api.code {
                out.push(code.clone());
            }
            for entry in &api.errors {
                out.push(entry.key.clone());
                out.push(entry.message.clone());
                walk(&entry.details, &mut out);
            }
        }
        Error::UnexpectedResponse { excerpt, .. } => out.push(excerpt.clone()),
        Error::MalformedSuccess {
            problem: Malformed::UnexpectedCode(code),
            ..
        } => out.push(code.clone()),
        _ => {}
    }
    out
}

/// Whether `text` shows `secret`: anywhere, or for a secret shorter than 8 characters
/// (redacted only as a whole word, not inside other words), where no letter, digit or
/// `_` touches it.
fn shows(text: &str, secret: &str) -> bool {
    if secret.chars().count() >= 8 {
        return text.contains(secret);
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(secret).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(word)
            && !text[at + secret.len()..].chars().next().is_some_and(word)
    })
}

/// Redacts a secret picked from `body` out of the error in `result`, and checks that no
/// server text holds it any more, that the kind, status and `Retry-After` are
/// unchanged, and that `Display` and `Debug` still print no control character.
pub fn check_redaction(result: &Result<TokenPair, Error>, body: &[u8]) {
    let (Err(e), Some(secret)) = (result, pick_secret(body)) else {
        return;
    };
    let redacted = e.clone().redact_exact(&[secret]);
    for text in server_texts(&redacted) {
        assert!(
            !shows(&text, secret),
            "{secret:?} survives redaction in {text:?}\nbefore: {e:?}\nafter: {redacted:?}"
        );
    }
    assert_eq!(std::mem::discriminant(e), std::mem::discriminant(&redacted));
    assert_eq!(e.status(), redacted.status());
    assert_eq!(e.retry_after(), redacted.retry_after());
    assert_eq!(e.is_retryable(), redacted.is_retryable());
    if let (Some(a), Some(b)) = (e.api(), redacted.api()) {
        assert_eq!(a.errors.len(), b.errors.len(), "entries lost");
    }
    for text in [redacted.to_string(), format!("{redacted:?}")] {
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartling_auth_core::parse_token_response;

    fn parse(status: u16, body: &str) -> Result<TokenPair, Error> {
        parse_token_response(&http::Response::builder().status(status).body(body).unwrap())
    }

    #[test]
    fn picks_the_longest_run_of_secret_characters() {
        assert_eq!(
            pick_secret(b"<p>a Tr0ub4dor&3-horse!battery~staple b</p>"),
            Some("Tr0ub4dor&3-horse!battery~staple")
        );
        assert_eq!(pick_secret(b"ab cd"), None, "too short");
        assert_eq!(pick_secret(b"[redacted]"), None, "a piece of the marker");
        assert_eq!(pick_secret(b"x\xffsecret1\xff"), Some("secret1"));
        assert_eq!(pick_secret(b""), None);
    }

    #[test]
    fn server_texts_are_what_the_server_sent() {
        let body = r#"{"response":{"code":"NEW","errors":[{"key":"k1","message":"m1","details":{"d":["s1"]}}]}}"#;
        let texts = server_texts(&parse(400, body).unwrap_err());
        assert_eq!(texts, ["NEW", "k1", "m1", "d", "s1"]);
        let texts = server_texts(&parse(502, "<html>down</html>").unwrap_err());
        assert_eq!(texts, ["<html>down</html>"]);
        let texts = server_texts(&parse(200, r#"{"response":{"code":"odd"}}"#).unwrap_err());
        assert_eq!(texts, ["odd"]);
        let known = r#"{"response":{"code":"GENERAL_ERROR"}}"#;
        assert!(server_texts(&parse(500, known).unwrap_err()).is_empty());
    }

    #[test]
    fn the_check_passes_on_redacted_errors_and_catches_a_leak() {
        let body = "<p>echo Tr0ub4dor&3-horse!battery~staple</p>";
        check_redaction(&parse(403, body), body.as_bytes());
        let body = r#"{"response":{"code":"VALIDATION_ERROR","errors":{"key":"bad","message":"echo Tr0ub4dor&3-horse!battery~staple"}}}"#;
        check_redaction(&parse(400, body), body.as_bytes());
        // The texts it scans do hold the secret before redaction.
        let e = parse(400, body).unwrap_err();
        assert!(
            server_texts(&e)
                .iter()
                .any(|t| t.contains("Tr0ub4dor&3-horse"))
        );
    }
}
