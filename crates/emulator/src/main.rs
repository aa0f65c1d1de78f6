//! Placeholder binary.
#![forbid(unsafe_code)]
fn main() {}
