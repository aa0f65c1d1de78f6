//! The environment every task runs in: the workspace root, `cargo` with the cargo bin
//! directory on `PATH`, running commands and installing missing cargo tools, and the
//! `Failure` type the tasks return.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How a task ends badly: a message, a usage error, or an exit code passed through.
pub enum Failure {
    Msg(String),
    Usage(String),
    Exit(u8),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Msg(s)
    }
}

pub type Result<T = ()> = std::result::Result<T, Failure>;

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR`.
pub fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// `$CARGO_HOME/bin` (default `~/.cargo/bin`), where `cargo install` puts tools.
pub fn cargo_bin_dir() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"))
}

/// `PATH` with the cargo bin directory in it, so freshly installed tools are found
/// even where the environment (a CI shell, a container) did not add it.
fn path_with_cargo_bin() -> OsString {
    let current = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = env::split_paths(&current).collect();
    if let Some(bin) = cargo_bin_dir()
        && !dirs.contains(&bin)
    {
        dirs.push(bin);
    }
    env::join_paths(dirs).unwrap_or(current)
}

/// `cargo` as the user would type it (the rustup proxy, so `+nightly` works), run from
/// the workspace root.
pub fn cargo(root: &Path) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root).env("PATH", path_with_cargo_bin());
    c
}

/// A command as a shell line, for the log.
pub fn show(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let (true, Some(v)) = (k != "PATH", v) {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command with inherited output; fails unless it exits 0.
pub fn run_cmd(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::Msg(format!("`{shown}` failed ({status})")))
    }
}

/// Runs a command and returns its stdout; stderr passes through. Fails unless it
/// exits 0.
pub fn output_of(cmd: &mut Command) -> Result<String> {
    let shown = show(cmd);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if out.status.success() {
        String::from_utf8(out.stdout)
            .map_err(|_| Failure::Msg(format!("`{shown}` printed invalid UTF-8")))
    } else {
        Err(Failure::Msg(format!("`{shown}` failed ({})", out.status)))
    }
}

/// Whether `cargo <sub> --version` works.
fn has_cargo_tool(root: &Path, sub: &str) -> bool {
    cargo(root)
        .args([sub, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs `krate` with `cargo install --locked` unless `cargo <sub>` already works.
pub fn ensure_cargo_tool(root: &Path, sub: &str, krate: &str) -> Result {
    if has_cargo_tool(root, sub) {
        return Ok(());
    }
    println!("xtask: `cargo {sub}` is missing; installing {krate}");
    run_cmd(cargo(root).args(["install", krate, "--locked"]))?;
    if has_cargo_tool(root, sub) {
        Ok(())
    } else {
        Err(Failure::Msg(format!(
            "installed {krate}, but `cargo {sub}` still does not run; is {} on PATH?",
            cargo_bin_dir().map_or_else(|| "~/.cargo/bin".into(), |p| p.display().to_string())
        )))
    }
}

/// Whether rustup lists a nightly toolchain.
pub fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim_start().starts_with("nightly"))
        })
}

/// A duration as seconds with one decimal, for step logs.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
