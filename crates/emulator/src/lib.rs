//! Placeholder while the emulator is written.
#![forbid(unsafe_code)]
