//! A whole plaintext message: header plus payload chain (RFC 2408 3.1).

use super::header::HEADER_LEN;
use super::payload::{decode_chain, put_payloads};
use super::{DecodeError, Header, Payload, PayloadType, RawPayload};

/// A whole plaintext message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payloads: Vec<RawPayload>,
}

impl Message {
    /// Decode a message whose body is not encrypted (MM1..MM4, or after decryption
    /// with the header's E flag ignored). Only the header's `length` bytes are read;
    /// spans and error offsets count from the start of `buf` (the header).
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let header = Header::decode(buf)?;
        // Header::decode checked HEADER_LEN <= length <= buf.len().
        let body = buf
            .get(HEADER_LEN..header.length as usize)
            .unwrap_or_default();
        let payloads = decode_chain(header.next_payload, body, HEADER_LEN)?;
        Ok(Message { header, payloads })
    }

    /// Re-encode (header `length` and `next_payload` recomputed; padding dropped).
    pub fn encode(&self) -> Vec<u8> {
        encode_with(&self.header, &self.payloads, |r| &r.payload)
    }

    /// The first payload of type `t` (NAT-D and NAT-OA match their RFC 3947 types).
    pub fn find(&self, t: PayloadType) -> Option<&Payload> {
        self.find_all(t).next()
    }

    /// Every payload of type `t`, in order (Vendor IDs, NAT-D, Notify, ID).
    pub fn find_all(&self, t: PayloadType) -> impl Iterator<Item = &Payload> {
        self.payloads
            .iter()
            .map(|r| &r.payload)
            .filter(move |p| p.payload_type() == t)
    }
}

/// Encode header + payloads with `length` and `next_payload` patched in.
pub fn encode_message(header: &Header, payloads: &[Payload]) -> Vec<u8> {
    encode_with(header, payloads, |p| p)
}

fn encode_with<T>(header: &Header, items: &[T], payload: impl Fn(&T) -> &Payload) -> Vec<u8> {
    let mut out = Vec::new();
    header.encode(&mut out);
    out[16] = put_payloads(&mut out, items, payload).0;
    set_message_length(&mut out);
    out
}

/// Write `msg.len()` into the header's length field (RFC 2408 3.1: header plus
/// payloads, padding included), e.g. after encrypting and padding the body.
///
/// # Panics
/// If `msg` is shorter than the header or longer than 4 GiB.
pub fn set_message_length(msg: &mut [u8]) {
    let len = u32::try_from(msg.len()).expect("ISAKMP message longer than 4 GiB");
    msg[24..HEADER_LEN].copy_from_slice(&len.to_be_bytes());
}

/// The fuzz property (run by `fuzz/fuzz_targets/decode.rs` and by the mutation test
/// in `cargo test`; it panics when the property fails): when `buf` decodes, its re-encoding decodes to the same
/// message (up to the header fields encoding recomputes) and is a fixed point.
pub fn check_reencode(buf: &[u8]) -> bool {
    let Ok(m) = Message::decode(buf) else {
        return false;
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
    true
}
