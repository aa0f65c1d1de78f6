//! Fuzzed bytes as a whole fleet's history: the test kit's store model
//! (`smartling_auth_testkit::store_model`) decodes them into 2 to 6 processes, a token
//! lifetime (half the inputs 3 to 12 s), sealed or plain records, a store that wakes
//! waiters (with the record, with "read the store", either, as a file lock) or cannot,
//! wake-ups at once, late, twice, lost or each its own way, clock offsets and a
//! sequence of turns, paces (slow logins among them), time steps, late store
//! operations and faults (the store down, restarted empty, losing a lease or a write,
//! evicting or holding planted records; crashes, paused processes, cancelled callers,
//! invalidated tokens), runs every process's own shipped renewal machine (`Call` over
//! a `TokenCache`), and checks after every step: one renewal per generation and one
//! at a time for the fleet when no fault excuses it, live tokens only (as the server
//! counts), compare-and-set writes of growing versions, no failed call, waiters that
//! fall back on the store within a quiet spell of a free lease and are served as soon
//! after the record lands whatever their wake-ups did, woken waiters that do not poll,
//! and every process served within 60 s (simulated) after the input ends, the store up
//! or down.
//!
//! Reproduce a crash with the test kit: `Case::from_bytes(&std::fs::read(path)?).run()`.

#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use smartling_auth_testkit::store_model::Case;

fuzz_target!(|data: &[u8]| {
    let case = Case::from_bytes(data);
    if let Err(violation) = case.run() {
        panic!("{violation}\n{case:?}");
    }
});
