//! A responder past a valid MM1..MM4, driven by arbitrary records: datagrams as they
//! are, and payload chains the harness encrypts (and authenticates with HASH(1)) with
//! the phase 1 keys, so that the fuzzer reaches MM5, Quick Mode and Informational
//! handling (`ikev1d::ike::fuzz` says how an input is cut into records). The in-tree
//! `ike::fuzz::tests::responder_survives_mutated_sessions` checks the same without
//! nightly.
//!
//! Run: `scripts/fuzz.sh [SECONDS]`, or
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run -O responder -- -max_total_time=300`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ikev1d::ike::fuzz::responder(data);
});
