//! ISAKMP wire format (RFC 2408, DOI RFC 2407, IKE RFC 2409, NAT-T RFC 3947).
//! Wire format only: no crypto, no state. Decoding never panics and never allocates
//! from an unchecked length.
//!
//! The types below are the contract the engine codes against; the codec work package
//! fills in `decode`/`encode` and may add helpers.

pub mod consts;

pub use consts::*;
use std::ops::Range;

/// Fixed ISAKMP header (RFC 2408 3.1), 28 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub icookie: [u8; 8],
    pub rcookie: [u8; 8],
    pub next_payload: PayloadType,
    /// 0x10 for IKEv1.
    pub version: u8,
    pub exchange: ExchangeType,
    /// FLAG_ENCRYPTION | FLAG_COMMIT | FLAG_AUTH_ONLY
    pub flags: u8,
    pub message_id: u32,
    pub length: u32,
}

pub const HEADER_LEN: usize = 28;
pub const FLAG_ENCRYPTION: u8 = 0x01;
pub const FLAG_COMMIT: u8 = 0x02;
pub const FLAG_AUTH_ONLY: u8 = 0x04;

/// SA payload (RFC 2408 3.4) with the IPsec DOI situation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaPayload {
    pub doi: u32,
    pub situation: u32,
    pub proposals: Vec<Proposal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    pub protocol: ProtocolId,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub number: u8,
    pub transform_id: u8,
    pub attributes: Vec<Attribute>,
}

/// Data attribute (RFC 2408 3.3): TV (AF bit set) or TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub attr_type: u16,
    pub value: AttrValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// TV format, 16-bit value.
    Basic(u16),
    /// TLV format; life durations above 65535 (86400 s) come this way.
    Variable(Vec<u8>),
}

impl AttrValue {
    /// Numeric value of a basic or variable (big-endian, at most 8 bytes) attribute.
    pub fn as_u64(&self) -> Option<u64> {
        todo!()
    }
}

/// ID payload (RFC 2407 4.6.2). `data` is the identification data (address, or
/// address + mask / range); HASH_I/R use the body exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPayload {
    pub id_type: IdType,
    pub protocol: u8,
    pub port: u16,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyPayload {
    pub doi: u32,
    pub protocol: ProtocolId,
    pub notify_type: NotifyType,
    pub spi: Vec<u8>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePayload {
    pub doi: u32,
    pub protocol: ProtocolId,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Sa(SaPayload),
    KeyExchange(Vec<u8>),
    Id(IdPayload),
    Hash(Vec<u8>),
    Nonce(Vec<u8>),
    Notify(NotifyPayload),
    Delete(DeletePayload),
    VendorId(Vec<u8>),
    /// NAT-D (RFC 3947 type 20; draft type 130 decoded too).
    NatD(Vec<u8>),
    /// NAT-OA (RFC 3947 type 21; draft 131): an ID-like body.
    NatOa(IdPayload),
    /// A payload type we do not interpret, kept so the chain can be re-encoded.
    Unknown {
        payload_type: PayloadType,
        body: Vec<u8>,
    },
}

impl Payload {
    pub fn payload_type(&self) -> PayloadType {
        todo!()
    }
}

/// A decoded payload and where it sat in the decoded buffer: `span` covers the generic
/// payload header and body (HASH(1..3) in Quick Mode hash these raw bytes); the body
/// is `span.start + 4 .. span.end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload {
    pub payload: Payload,
    pub span: Range<usize>,
}

/// Why a decode failed: what was being decoded, at which byte offset, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub payload_type: Option<PayloadType>,
    pub offset: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.payload_type {
            Some(t) => write!(
                f,
                "malformed {} payload at offset {}: {}",
                t, self.offset, self.reason
            ),
            None => write!(
                f,
                "malformed message at offset {}: {}",
                self.offset, self.reason
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Header {
    /// Decode the fixed header and check `length` against `buf.len()` (trailing bytes
    /// beyond `length` are ignored as RFC 2408 allows padding only inside it).
    pub fn decode(buf: &[u8]) -> Result<Header, DecodeError> {
        let _ = buf;
        todo!()
    }
    pub fn encode(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }
}

/// Decode a payload chain starting with `first` (the header's next payload), from
/// `body` (the bytes after the header, already decrypted). Trailing zero padding
/// after the last payload (encrypted messages) is ignored.
pub fn decode_payloads(first: PayloadType, body: &[u8]) -> Result<Vec<RawPayload>, DecodeError> {
    let _ = (first, body);
    todo!()
}

/// Encode payloads as a chain (next-payload fields filled from the order); returns the
/// first payload type for the header.
pub fn encode_payloads(payloads: &[Payload], out: &mut Vec<u8>) -> PayloadType {
    let _ = (payloads, out);
    todo!()
}

/// A whole plaintext message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payloads: Vec<RawPayload>,
}

impl Message {
    /// Decode a message whose body is not encrypted (MM1..MM4, or after decryption
    /// with the header's E flag ignored).
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let _ = buf;
        todo!()
    }
}

/// Encode header + payloads with `length` and `next_payload` patched in.
pub fn encode_message(header: &Header, payloads: &[Payload]) -> Vec<u8> {
    let _ = (header, payloads);
    todo!()
}
