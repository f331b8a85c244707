//! Message protection (RFC 2409 5 and appendix B): CBC encryption of the payload chain
//! with zero padding, the IV carried from each message's last ciphertext block, and the
//! HASH payloads that authenticate Quick Mode and Informational messages.

use crate::crypto::CipherAlg;
use crate::isakmp::{
    decode_payloads, encode_message, encode_payloads, DecodeError, Header, Payload, PayloadType,
    RawPayload, FLAG_ENCRYPTION, HEADER_LEN,
};

/// Keys that protect messages once SKEYID_e is known.
pub(crate) struct Protection<'a> {
    pub cipher: CipherAlg,
    pub key: &'a [u8],
}

/// A received message (decrypted if it was encrypted) and its payloads with their
/// raw bytes, which HASH_I/HASH_R and Quick Mode hashes cover exactly as received.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub header: Header,
    /// The plaintext payload chain the payload spans point into.
    pub body: Vec<u8>,
    pub payloads: Vec<RawPayload>,
}

impl Inbound {
    /// A message sent in the clear (MM1..MM4, notifies before phase 1 keys).
    pub(crate) fn plain(header: Header, data: &[u8]) -> Result<Inbound, DecodeError> {
        let body = message_body(&header, data).to_vec();
        let payloads = decode_payloads(header.next_payload, &body)?;
        Ok(Inbound {
            header,
            body,
            payloads,
        })
    }

    /// Decrypt with `iv`; also returns the IV for the next message (the last
    /// ciphertext block). Nothing changes for the caller until it keeps that IV.
    /// `None` when it does not decrypt into a payload chain: with CBC and no
    /// integrity check, a whole number of blocks under the wrong key, or garbage.
    pub(crate) fn decrypt(
        header: Header,
        data: &[u8],
        keys: &Protection<'_>,
        iv: &[u8],
    ) -> Option<(Inbound, Vec<u8>)> {
        let ct = message_body(&header, data);
        let block = keys.cipher.block_len();
        if ct.is_empty() || !ct.len().is_multiple_of(block) {
            return None;
        }
        let next_iv = ct[ct.len() - block..].to_vec();
        let mut body = ct.to_vec();
        keys.cipher.decrypt(keys.key, iv, &mut body).ok()?;
        let payloads = decode_payloads(header.next_payload, &body).ok()?;
        Some((
            Inbound {
                header,
                body,
                payloads,
            },
            next_iv,
        ))
    }

    pub(crate) fn find(&self, t: PayloadType) -> Option<&RawPayload> {
        self.payloads.iter().find(|p| p.payload.payload_type() == t)
    }

    /// A payload's body without its generic header, exactly as received.
    pub(crate) fn body_of(&self, p: &RawPayload) -> &[u8] {
        &self.body[p.span.start + 4..p.span.end]
    }

    /// Everything after the first payload (a HASH) up to the end of the last payload:
    /// what Quick Mode HASH(1)/HASH(2) and Informational HASH(1) cover.
    pub(crate) fn after_first(&self) -> &[u8] {
        match (self.payloads.first(), self.payloads.last()) {
            (Some(first), Some(last)) => &self.body[first.span.end..last.span.end],
            _ => &[],
        }
    }

    /// The first payload's HASH value, if the message starts with one (RFC 2409 5.5:
    /// HASH must come first in Quick Mode and protected Informational messages).
    pub(crate) fn leading_hash(&self) -> Option<&[u8]> {
        match self.payloads.first().map(|p| &p.payload) {
            Some(Payload::Hash(h)) => Some(h),
            _ => None,
        }
    }
}

/// The header's `length` bytes after the fixed header (`Header::decode` checked them).
fn message_body<'a>(header: &Header, data: &'a [u8]) -> &'a [u8] {
    let end = usize::try_from(header.length)
        .unwrap_or(usize::MAX)
        .min(data.len());
    data.get(HEADER_LEN..end).unwrap_or(&[])
}

/// Encode a message in the clear.
pub(crate) fn plain(header: &Header, payloads: &[Payload]) -> Vec<u8> {
    encode_message(header, payloads)
}

/// Encode and encrypt; returns the datagram and the IV for the next message.
pub(crate) fn seal(
    header: &Header,
    payloads: &[Payload],
    keys: &Protection<'_>,
    iv: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut body = Vec::new();
    let first = encode_payloads(payloads, &mut body);
    let block = keys.cipher.block_len();
    // RFC 2408 3.1 / RFC 2409 appendix B: pad with zeros to the cipher's block size.
    body.resize(body.len().div_ceil(block) * block, 0);
    keys.cipher
        .encrypt(keys.key, iv, &mut body)
        .expect("phase 1 key length matches the negotiated cipher");
    let next_iv = body[body.len() - block..].to_vec();
    let header = Header {
        next_payload: first,
        flags: header.flags | FLAG_ENCRYPTION,
        length: u32::try_from(HEADER_LEN + body.len()).unwrap_or(u32::MAX),
        ..header.clone()
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    header.encode(&mut out);
    out.extend_from_slice(&body);
    (out, next_iv)
}

/// Put a HASH payload before `rest`, computed by `hash` over the encoded payload chain
/// that follows it (RFC 2409 5.5 HASH(1)/HASH(2), 5.7 HASH(1)).
pub(crate) fn with_hash(rest: Vec<Payload>, hash: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<Payload> {
    let mut encoded = Vec::new();
    encode_payloads(&rest, &mut encoded);
    let hash = hash(&encoded);
    let mut payloads = Vec::with_capacity(rest.len() + 1);
    payloads.push(Payload::Hash(hash));
    payloads.extend(rest);
    payloads
}
