//! ISAKMP decoding never panics, and whatever decodes re-encodes to a message that
//! decodes to the same thing (up to the header fields encoding recomputes) and is a
//! fixed point.
//! The in-tree `isakmp::tests::mutated_fixtures_never_panic_and_reencode` checks the
//! same property without nightly.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=300`
//!
//! `corpus/decode` holds the nonat capture's MM1..MM4 and decrypted MM5..QM2 and
//! Informationals (`nonat-*`), plus 30 inputs of a 5-minute run (20M executions)
//! picked by greedy edge cover: 678 of the 763 edges that run reached. `cargo fuzz
//! cmin` alone keeps about 180 files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ikev1d::isakmp::check_reencode(data);
});
