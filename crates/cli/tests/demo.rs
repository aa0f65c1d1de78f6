//! The demo example runs to the end and prints no secret, not even a long piece of one.

#[path = "../examples/demo.rs"]
#[allow(dead_code)] // the example's `main` is not called here
mod demo;

#[test]
fn demo_succeeds_and_shows_only_fingerprints() {
    let mut out = Vec::new();
    let seen = demo::run(&mut out).expect("the demo runs");
    let text = String::from_utf8(out).expect("UTF-8 transcript");
    assert!(text.contains("rotated: yes"), "{text}");
    assert!(text.contains("-> 401"), "{text}");
    assert!(text.trim_end().ends_with("done"), "{text}");
    // No run of 10 characters of any secret appears (a JWT's common header is never
    // printed either, so this also covers prefixes).
    for secret in &seen.secrets {
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(10) {
            let piece: String = window.iter().collect();
            assert!(
                !text.contains(&piece),
                "a piece of a secret was printed:\n{text}"
            );
        }
    }
}
