//! Tests that re-run their own binary as a child process (to set its environment, or
//! to install process-wide loggers): waiting for it, bounded.

use std::process::{Child, Output};
use std::sync::mpsc;
use std::time::Duration;

/// The child's output, or a panic naming the limit if it has not ended within
/// `limit`: a hung child fails its test instead of hanging the run.
///
/// ```
/// use std::process::{Command, Stdio};
/// use std::time::Duration;
/// let child = Command::new("true").stdout(Stdio::piped()).spawn().unwrap();
/// let output = smartling_auth_testkit::child::output_within(child, Duration::from_secs(30));
/// assert!(output.status.success());
/// ```
pub fn output_within(child: Child, limit: Duration) -> Output {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the child did not end within {limit:?}"))
        .expect("the child's output is read")
}
