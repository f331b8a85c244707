//! ISAKMP wire format (RFC 2408, DOI RFC 2407, IKE RFC 2409, NAT-T RFC 3947).
//! Wire format only: no crypto, no state. Decoding never panics and never allocates
//! from an unchecked length.
//!
//! - [`Header`] (RFC 2408 3.1): the fixed 28 bytes; only major version 1 decodes.
//! - [`decode_payloads`] / [`encode_payloads`]: the next-payload chain (3.1, 3.2),
//!   every length checked against its enclosing buffer; [`RawPayload::span`] keeps
//!   each payload's place so the engine can hash the bytes exactly as received.
//! - [`SaPayload`] / [`Proposal`] / [`Transform`] / [`Attribute`] (3.3 - 3.6) with TV
//!   and TLV attributes (IOS sends life 86400 as a 4-byte TLV).
//! - [`IdPayload`] (RFC 2407 4.6.2), [`NotifyPayload`] (3.14), [`DeletePayload`]
//!   (3.15), KE (3.7), HASH (3.11), NONCE (3.13), Vendor ID (3.16), NAT-D and NAT-OA
//!   (RFC 3947 3.2, 5.2; draft types 130/131 decode too); other types are kept as
//!   [`Payload::Unknown`] and skipped along the chain.
//! - [`Message`] / [`encode_message`]: a whole plaintext message. Encrypted messages
//!   are decoded with [`Header::decode`] first, then [`Message::decode`] after the
//!   body is decrypted in place.
//!
//! Decode and encode are exact inverses for well-formed input: re-encoding a decoded
//! message gives the same bytes, except RESERVED fields (sent as zero), padding after
//! the last payload (dropped) and draft NAT-D/NAT-OA types (sent as RFC 3947's).

mod codec;
pub mod consts;
mod header;
mod id;
mod message;
mod payload;
mod sa;
#[cfg(test)]
mod tests;

pub use consts::*;
pub use header::{Header, FLAG_AUTH_ONLY, FLAG_COMMIT, FLAG_ENCRYPTION, HEADER_LEN, VERSION_IKEV1};
pub use id::IdPayload;
pub use message::{check_reencode, encode_message, set_message_length, Message};
pub use payload::{
    decode_payloads, encode_payloads, DeletePayload, NotifyPayload, Payload, RawPayload,
};
pub use sa::{
    decode_attributes, encode_attributes, AttrValue, Attribute, Proposal, SaPayload, Transform,
};

/// Why a decode failed: what was being decoded, at which byte offset, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The payload being decoded (PROPOSAL / TRANSFORM inside an SA); `None` for the
    /// header.
    pub payload_type: Option<PayloadType>,
    /// Offset of the offending field in the decoded buffer.
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

/// What is wrong with a message; RFC 2408 5.1 - 5.6 name the notify for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// Lengths, counts or values that do not fit together: which ones.
    Malformed(&'static str),
    /// Another major version than IKEv1's (any 1.x minor version is accepted).
    UnsupportedMajorVersion,
    /// A PROPOSAL or TRANSFORM payload in the message's chain, outside an SA payload.
    OutsideSa,
}

impl DecodeError {
    pub fn reason(&self) -> &'static str {
        match self.kind {
            DecodeErrorKind::Malformed(reason) => reason,
            DecodeErrorKind::UnsupportedMajorVersion => {
                "unsupported major version (only IKEv1, 1.x)"
            }
            DecodeErrorKind::OutsideSa => "proposal or transform payload outside an SA payload",
        }
    }

    /// The notify that answers it: INVALID-MAJOR-VERSION (RFC 2408 5.1),
    /// INVALID-PAYLOAD-TYPE (5.2), BAD-PROPOSAL-SYNTAX for a malformed proposal or
    /// transform (5.4), else PAYLOAD-MALFORMED.
    pub fn notify_type(&self) -> NotifyType {
        match (self.kind, self.payload_type) {
            (DecodeErrorKind::UnsupportedMajorVersion, _) => NotifyType::INVALID_MAJOR_VERSION,
            (DecodeErrorKind::OutsideSa, _) => NotifyType::INVALID_PAYLOAD_TYPE,
            (_, Some(PayloadType::PROPOSAL | PayloadType::TRANSFORM)) => {
                NotifyType::BAD_PROPOSAL_SYNTAX
            }
            _ => NotifyType::PAYLOAD_MALFORMED,
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.payload_type {
            Some(t) => write!(
                f,
                "malformed {} payload at offset {}: {}",
                t,
                self.offset,
                self.reason()
            ),
            None => write!(
                f,
                "malformed message at offset {}: {}",
                self.offset,
                self.reason()
            ),
        }
    }
}

impl std::error::Error for DecodeError {}
