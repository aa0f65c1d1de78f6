//! The test kit's emulator fixtures under the names the older test files import
//! (`mod common; use common::*;`): a re-export, not a copy. New tests import
//! `smartling_auth_testkit` directly.
#![allow(unused_imports)]

pub use smartling_auth_testkit::emulator::{SECRET, USER, base, credentials, emulator, whoami};
pub use smartling_auth_testkit::policy::quick_policy;
