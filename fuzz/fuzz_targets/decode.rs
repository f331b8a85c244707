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

use ikev1d::isakmp::{Header, Message, PayloadType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::decode(data) else {
        return;
    };
    let bytes = m.encode();
    let again = Message::decode(&bytes).expect("a re-encoded message decodes");
    assert_eq!(again.payloads, m.payloads);
    // `length` and `next_payload` are recomputed: padding is dropped, and draft
    // NAT-D/NAT-OA types (130/131) are re-encoded as RFC 3947's (20/21).
    let first = m
        .payloads
        .first()
        .map_or(PayloadType::NONE, |p| p.payload.payload_type());
    assert_eq!(
        again.header,
        Header {
            length: bytes.len() as u32,
            next_payload: first,
            ..m.header
        }
    );
    assert_eq!(again.encode(), bytes);
});
