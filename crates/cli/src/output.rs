//! What the user sees: the answer on stdout, one-line diagnostics on stderr.

use std::io::Write;
use std::os::fd::AsFd;

use zeroize::Zeroizing;

use crate::exit::Failure;

/// Writes `line` and a newline to stdout in one call. The line is a secret (a token,
/// a pair): it goes straight to the file descriptor, not through stdout's
/// process-wide buffer, which would keep a copy; the copy with the newline is wiped.
pub(crate) fn answer(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.flush().map_err(Failure::Output)?;
    let mut fd = std::fs::File::from(out.as_fd().try_clone_to_owned().map_err(Failure::Output)?);
    let mut buf = Zeroizing::new(String::with_capacity(line.len() + 1));
    buf.push_str(line);
    buf.push('\n');
    fd.write_all(buf.as_bytes()).map_err(Failure::Output)
}

/// `error: <message>` on one line of stderr.
pub(crate) fn error(message: &str) {
    diagnostic("error", message);
}

/// `warning: <message>` on one line of stderr.
pub(crate) fn warning(message: &str) {
    diagnostic("warning", message);
}

fn diagnostic(label: &str, message: &str) {
    let line = format!("{label}: {}\n", one_line(message));
    // Nothing useful can be done if stderr itself is gone.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Messages are built to be one line already; this keeps the promise even if a
/// library message ever carries a line break.
fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(super::one_line("a\nb\r\tc"), "a b  c");
    }
}
