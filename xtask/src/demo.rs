//! `cargo xtask demo [fleet]`: the CLI's demo example against the bundled emulator, or
//! the fleet example (three processes sharing one token through a store); the exit
//! code passed through.

use std::path::Path;

use crate::cmd::{Failure, Result, cargo, show};

pub fn demo(root: &Path, fleet: bool) -> Result {
    let example = if fleet { "fleet" } else { "demo" };
    let mut c = cargo(root);
    c.args([
        "run",
        "-q",
        "-p",
        "smartling-auth-cli",
        "--example",
        example,
    ]);
    let status = c
        .status()
        .map_err(|e| format!("could not start `{}`: {e}", show(&c)))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Exit(u8::try_from(code).unwrap_or(1))),
        None => Err(Failure::Msg(format!("the demo was killed ({status})"))),
    }
}
