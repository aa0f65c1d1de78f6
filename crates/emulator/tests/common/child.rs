//! The emulator binary as a child process: spawn it, read its banner, count what it
//! holds (threads and descriptors, from `/proc`), and stop it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_smartling-auth-emulator");

/// Upper bound for the child to print a line or exit.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A running emulator process, killed on drop if a failed assertion skips the
/// orderly stop.
pub struct Running {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// Starts `command` with stdout piped and read line by line on a thread, stdin
    /// closed and stderr discarded.
    pub fn spawn(command: Command) -> Running {
        Running::spawn_with_stderr(command, Stdio::null())
    }

    /// [`Running::spawn`], with stderr sent to `stderr`.
    pub fn spawn_with_stderr(mut command: Command, stderr: Stdio) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines: rx }
    }

    /// The binary with `args`.
    pub fn bin(args: &[&str]) -> Running {
        let mut command = Command::new(BIN);
        command.args(args);
        Running::spawn(command)
    }

    /// The binary with `args`, under a descriptor limit of `nofile` (soft and hard),
    /// set by the shell's `ulimit` before it execs the emulator.
    pub fn bin_with_nofile(nofile: usize, args: &[&str]) -> Running {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(args);
        Running::spawn(command)
    }

    /// The next stdout line, waiting at most [`LIMIT`].
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(LIMIT)
            .expect("no line from the emulator")
    }

    /// Reads the banner's first line and returns the address it names.
    pub fn addr(&self) -> std::net::SocketAddr {
        let first = self.line();
        let url = first
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        url.parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Open descriptors of the child.
    pub fn fds(&self) -> usize {
        count_dir(&format!("/proc/{}/fd", self.pid()))
    }

    /// Threads of the child.
    pub fn threads(&self) -> usize {
        count_dir(&format!("/proc/{}/task", self.pid()))
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the child to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("emulator did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .count()
}

/// Polls `probe` every 20 ms until it returns `Some`, for at most `limit`.
pub fn poll_until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
