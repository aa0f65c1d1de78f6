//! `cargo xtask demo`: the CLI's demo example against the bundled emulator, its exit
//! code passed through.

use std::path::Path;

use crate::cmd::{Failure, Result, cargo, show};

pub fn demo(root: &Path) -> Result {
    let mut c = cargo(root);
    c.args(["run", "-q", "-p", "smartling-auth-cli", "--example", "demo"]);
    let status = c
        .status()
        .map_err(|e| format!("could not start `{}`: {e}", show(&c)))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Exit(u8::try_from(code).unwrap_or(1))),
        None => Err(Failure::Msg(format!("the demo was killed ({status})"))),
    }
}
