//! Payloads and the payload chain (RFC 2408 3.1 "Next Payload", 3.2 generic header).
//!
//! The chain is walked from the header's next payload; each generic header names the
//! type of the payload after it, NONE ending the chain. Every length is checked
//! against what is left before anything is read or allocated, and a length below 4 is
//! an error (a zero length would make the walk spin on one spot).

use super::codec::{put_chain, Reader};
use super::{
    DecodeError, DecodeErrorKind, IdPayload, NotifyType, PayloadType, ProtocolId, SaPayload,
};
use std::ops::Range;

type Result<T> = std::result::Result<T, DecodeError>;

/// Notification payload (RFC 2408 3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyPayload {
    pub doi: u32,
    pub protocol: ProtocolId,
    pub notify_type: NotifyType,
    /// The SPI size is `spi.len()`: 16 (both cookies) for ISAKMP, 4 for ESP/AH.
    pub spi: Vec<u8>,
    pub data: Vec<u8>,
}

/// Delete payload (RFC 2408 3.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePayload {
    pub doi: u32,
    pub protocol: ProtocolId,
    /// Length of every SPI in `spis` (16 for ISAKMP, 4 for ESP/AH); sent as is.
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
    /// NAT-D (RFC 3947 type 20; draft type 130 decoded too). Encoded as type 20: to
    /// answer a draft-only peer, send `Unknown { payload_type: NAT_D_DRAFT, .. }`.
    NatD(Vec<u8>),
    /// NAT-OA (RFC 3947 type 21; draft 131): an ID-like body. Encoded as type 21.
    NatOa(IdPayload),
    /// A payload type we do not interpret, kept so the chain can be re-encoded.
    Unknown {
        payload_type: PayloadType,
        body: Vec<u8>,
    },
}

/// A decoded payload and where it sat in the decoded buffer: `span` covers the generic
/// payload header and body (HASH(1..3) in Quick Mode hash these raw bytes); the body
/// is `span.start + 4 .. span.end`. The buffer is the one given to
/// [`decode_payloads`], or the whole message for [`Message::decode`](super::Message::decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload {
    pub payload: Payload,
    pub span: Range<usize>,
}

impl RawPayload {
    /// The body (after the 4-byte generic header) in the buffer this was decoded from,
    /// e.g. SAi_b and IDii_b for HASH_I (RFC 2409 5). `None` if `buf` is not that buffer.
    pub fn body<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        buf.get(self.span.start + 4..self.span.end)
    }
}

impl Payload {
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::KeyExchange(_) => PayloadType::KE,
            Payload::Id(_) => PayloadType::ID,
            Payload::Hash(_) => PayloadType::HASH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::NatD(_) => PayloadType::NAT_D,
            Payload::NatOa(_) => PayloadType::NAT_OA,
            Payload::Unknown { payload_type, .. } => *payload_type,
        }
    }

    fn decode_body(ty: PayloadType, mut r: Reader<'_>) -> Result<Payload> {
        let bytes = |r: &mut Reader<'_>| r.rest().to_vec();
        Ok(match ty {
            PayloadType::SA => Payload::Sa(SaPayload::decode(r)?),
            PayloadType::KE => Payload::KeyExchange(bytes(&mut r)),
            PayloadType::ID => Payload::Id(IdPayload::decode(r)?),
            PayloadType::HASH => Payload::Hash(bytes(&mut r)),
            PayloadType::NONCE => Payload::Nonce(bytes(&mut r)),
            PayloadType::NOTIFY => Payload::Notify(NotifyPayload::decode(r)?),
            PayloadType::DELETE => Payload::Delete(DeletePayload::decode(r)?),
            PayloadType::VENDOR_ID => Payload::VendorId(bytes(&mut r)),
            PayloadType::NAT_D | PayloadType::NAT_D_DRAFT => Payload::NatD(bytes(&mut r)),
            PayloadType::NAT_OA | PayloadType::NAT_OA_DRAFT => {
                Payload::NatOa(IdPayload::decode(r)?)
            }
            // RFC 2408 3.5, 3.6: these live only inside an SA payload.
            PayloadType::PROPOSAL | PayloadType::TRANSFORM => {
                return Err(r.error_at(r.offset() - 4, DecodeErrorKind::OutsideSa))
            }
            payload_type => Payload::Unknown {
                payload_type,
                body: bytes(&mut r),
            },
        })
    }

    /// Append the body (no generic header), as the peer will hash it where RFC 2409
    /// hashes a payload body (SAi_b, IDii_b).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Sa(sa) => sa.encode(out),
            Payload::Id(id) | Payload::NatOa(id) => id.encode_body(out),
            Payload::Notify(n) => n.encode(out),
            Payload::Delete(d) => d.encode(out),
            Payload::KeyExchange(b)
            | Payload::Hash(b)
            | Payload::Nonce(b)
            | Payload::VendorId(b)
            | Payload::NatD(b)
            | Payload::Unknown { body: b, .. } => out.extend_from_slice(b),
        }
    }
}

impl NotifyPayload {
    /// A notify about the ISAKMP SA identified by both cookies (RFC 2408 3.14: SPI is
    /// the cookie pair; IOS and strongSwan send it so for INITIAL-CONTACT and DPD).
    pub fn isakmp(
        notify_type: NotifyType,
        icookie: [u8; 8],
        rcookie: [u8; 8],
        data: Vec<u8>,
    ) -> NotifyPayload {
        NotifyPayload {
            doi: super::DOI_IPSEC,
            protocol: ProtocolId::ISAKMP,
            notify_type,
            spi: [icookie, rcookie].concat(),
            data,
        }
    }

    fn decode(mut r: Reader<'_>) -> Result<NotifyPayload> {
        const SHORT: &str = "notify shorter than its 8-byte fixed part";
        let doi = r.take_u32(SHORT)?;
        let protocol = ProtocolId(r.take_u8(SHORT)?);
        let spi_size = r.take_u8(SHORT)?;
        let notify_type = NotifyType(r.take_u16(SHORT)?);
        let spi = r
            .take(usize::from(spi_size), "SPI size beyond the notify payload")?
            .to_vec();
        Ok(NotifyPayload {
            doi,
            protocol,
            notify_type,
            spi,
            data: r.rest().to_vec(),
        })
    }

    /// # Panics
    /// If the SPI exceeds 255 bytes (8-bit SPI size).
    fn encode(&self, out: &mut Vec<u8>) {
        let spi_size = u8::try_from(self.spi.len()).expect("SPI longer than 255 bytes");
        out.extend_from_slice(&self.doi.to_be_bytes());
        out.extend_from_slice(&[self.protocol.0, spi_size]);
        out.extend_from_slice(&self.notify_type.0.to_be_bytes());
        out.extend_from_slice(&self.spi);
        out.extend_from_slice(&self.data);
    }
}

impl DeletePayload {
    fn decode(mut r: Reader<'_>) -> Result<DeletePayload> {
        const SHORT: &str = "delete shorter than its 8-byte fixed part";
        let doi = r.take_u32(SHORT)?;
        let protocol = ProtocolId(r.take_u8(SHORT)?);
        let spi_size = r.take_u8(SHORT)?;
        let count = r.take_u16(SHORT)?;
        // The count is checked against the bytes present before any SPI is allocated.
        if usize::from(spi_size) * usize::from(count) != r.left() {
            return Err(r.fail("number of SPIs times SPI size disagrees with the length"));
        }
        let spis = if spi_size == 0 {
            if count != 0 {
                return Err(r.fail("SPIs of size zero"));
            }
            Vec::new()
        } else {
            r.rest()
                .chunks(usize::from(spi_size))
                .map(<[u8]>::to_vec)
                .collect()
        };
        Ok(DeletePayload {
            doi,
            protocol,
            spi_size,
            spis,
        })
    }

    /// # Panics
    /// With more than 65535 SPIs (16-bit count).
    fn encode(&self, out: &mut Vec<u8>) {
        let count = u16::try_from(self.spis.len()).expect("more than 65535 SPIs");
        out.extend_from_slice(&self.doi.to_be_bytes());
        out.extend_from_slice(&[self.protocol.0, self.spi_size]);
        out.extend_from_slice(&count.to_be_bytes());
        for spi in &self.spis {
            out.extend_from_slice(spi);
        }
    }
}

/// Decode a payload chain starting with `first` (the header's next payload), from
/// `body` (the bytes after the header, already decrypted). Spans and error offsets are
/// relative to `body`.
///
/// Bytes after the payload whose next payload is NONE are accepted and ignored: an
/// encrypted message is padded up to the cipher block (RFC 2409 appendix B). That
/// appendix asks for zeros with the pad count in the last byte, but strongSwan sends
/// only zeros (a whole block when the payloads are aligned), so the pad bytes are
/// neither counted nor inspected.
pub fn decode_payloads(first: PayloadType, body: &[u8]) -> Result<Vec<RawPayload>> {
    decode_chain(first, body, 0)
}

/// [`decode_payloads`] over `buf`, which starts at offset `base` of the caller's
/// buffer.
pub(crate) fn decode_chain(first: PayloadType, buf: &[u8], base: usize) -> Result<Vec<RawPayload>> {
    let mut r = Reader::new(buf, base, None);
    let mut payloads = Vec::new();
    let mut next = first;
    while next != PayloadType::NONE {
        if r.is_empty() {
            return Err(DecodeError {
                payload_type: Some(next),
                offset: r.offset(),
                kind: DecodeErrorKind::Malformed("next payload points past the end of the message"),
            });
        }
        let (following, span, body) = r.take_payload(next)?;
        let payload = Payload::decode_body(next, body)?;
        payloads.push(RawPayload { payload, span });
        next = following;
    }
    Ok(payloads)
}

/// Encode payloads as a chain (next-payload fields filled from the order); returns the
/// first payload type for the header.
///
/// The bytes written for `payloads[1..]` are the same whether encoded here or as part
/// of a longer chain, so HASH(1) (RFC 2409 5.5: over the payloads after the HASH) can
/// be computed by encoding the tail.
///
/// # Panics
/// If a payload cannot be represented: longer than 65535 bytes, an SPI over 255
/// bytes, more than 255 transforms. Decoded payloads always can.
pub fn encode_payloads(payloads: &[Payload], out: &mut Vec<u8>) -> PayloadType {
    put_payloads(out, payloads, |p| p)
}

/// Encode a chain of anything that holds a payload; returns the first type.
pub(crate) fn put_payloads<T>(
    out: &mut Vec<u8>,
    items: &[T],
    payload: impl Fn(&T) -> &Payload,
) -> PayloadType {
    put_chain(
        out,
        items,
        |t| payload(t).payload_type(),
        |t, o| payload(t).encode_body(o),
    );
    items
        .first()
        .map_or(PayloadType::NONE, |t| payload(t).payload_type())
}

#[cfg(test)]
mod tests {
    use super::super::{p1_attr, Attribute, IdType, Proposal, Transform};
    use super::*;

    /// One payload of every kind the codec interprets, plus an unknown one.
    pub(crate) fn every_payload() -> Vec<Payload> {
        vec![
            Payload::Sa(SaPayload::ipsec(vec![Proposal {
                number: 1,
                protocol: ProtocolId::ISAKMP,
                spi: vec![],
                transforms: vec![Transform {
                    number: 1,
                    transform_id: super::super::KEY_IKE,
                    attributes: vec![
                        Attribute::basic(p1_attr::AUTHENTICATION_METHOD, 1),
                        Attribute::life_duration(p1_attr::LIFE_DURATION, 86400),
                    ],
                }],
            }])),
            Payload::KeyExchange(vec![0xaa; 96]),
            Payload::Id(IdPayload {
                protocol: 17,
                port: 500,
                ..IdPayload::address("2001:db8::2".parse().unwrap())
            }),
            Payload::Hash(vec![0x28; 20]),
            Payload::Nonce(vec![0x4e; 32]),
            Payload::Notify(NotifyPayload::isakmp(
                NotifyType::INITIAL_CONTACT,
                [1; 8],
                [2; 8],
                vec![],
            )),
            Payload::Notify(NotifyPayload {
                doi: 1,
                protocol: ProtocolId::IPSEC_ESP,
                notify_type: NotifyType::RESPONDER_LIFETIME,
                spi: vec![0xc0, 0x5f, 0x9e, 0x2c],
                data: vec![0x80, 1, 0, 1, 0, 2, 0, 4, 0, 0, 0x0e, 0x10],
            }),
            Payload::Delete(DeletePayload {
                doi: 1,
                protocol: ProtocolId::IPSEC_ESP,
                spi_size: 4,
                spis: vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]],
            }),
            Payload::VendorId(super::super::vendor_id::DPD.to_vec()),
            Payload::NatD(vec![0x3d; 20]),
            Payload::NatOa(IdPayload::address("192.0.2.7".parse().unwrap())),
            Payload::Unknown {
                payload_type: PayloadType::CERT_REQ,
                body: vec![4],
            },
        ]
    }

    #[test]
    fn every_payload_round_trips_alone_and_chained() {
        for p in every_payload() {
            let mut out = Vec::new();
            let first = encode_payloads(std::slice::from_ref(&p), &mut out);
            assert_eq!(first, p.payload_type());
            let decoded = decode_payloads(first, &out).unwrap();
            assert_eq!(decoded.len(), 1);
            assert_eq!(decoded[0].payload, p);
            assert_eq!(decoded[0].span, 0..out.len());
            let mut body = Vec::new();
            p.encode_body(&mut body);
            assert_eq!(decoded[0].body(&out), Some(&body[..]));
        }
        let all = every_payload();
        let mut out = Vec::new();
        let first = encode_payloads(&all, &mut out);
        let decoded = decode_payloads(first, &out).unwrap();
        let payloads: Vec<Payload> = decoded.iter().map(|r| r.payload.clone()).collect();
        assert_eq!(payloads, all);
        // Spans tile the buffer and the tail encodes as it sits in the chain.
        assert_eq!(decoded.last().unwrap().span.end, out.len());
        assert!(decoded.windows(2).all(|w| w[0].span.end == w[1].span.start));
        let mut tail = Vec::new();
        encode_payloads(&all[1..], &mut tail);
        assert_eq!(&out[decoded[1].span.start..], &tail[..]);
    }

    #[test]
    fn empty_chain_and_padding() {
        let mut out = Vec::new();
        assert_eq!(encode_payloads(&[], &mut out), PayloadType::NONE);
        assert!(out.is_empty());
        assert_eq!(decode_payloads(PayloadType::NONE, &[1, 2, 3]), Ok(vec![]));
        let mut out = Vec::new();
        let first = encode_payloads(&[Payload::Hash(vec![7; 20])], &mut out);
        out.extend_from_slice(&[0; 4]);
        assert_eq!(decode_payloads(first, &out).unwrap().len(), 1);
    }

    #[test]
    fn draft_nat_t_types_decode() {
        let body = [0, 0, 0, 8, 9, 9, 9, 9];
        let d = decode_payloads(PayloadType::NAT_D_DRAFT, &body).unwrap();
        assert_eq!(d[0].payload, Payload::NatD(vec![9; 4]));
        let mut out = Vec::new();
        assert_eq!(
            encode_payloads(&[d[0].payload.clone()], &mut out),
            PayloadType::NAT_D
        );
        assert_eq!(out, body);
        let d = decode_payloads(PayloadType::NAT_OA_DRAFT, &body).unwrap();
        assert_eq!(
            d[0].payload,
            Payload::NatOa(IdPayload {
                id_type: IdType(9),
                protocol: 9,
                port: 0x0909,
                data: vec![]
            })
        );
    }

    fn err(first: PayloadType, body: &[u8]) -> DecodeError {
        decode_payloads(first, body).unwrap_err()
    }

    #[test]
    fn malformed_chains() {
        let nonce = [PayloadType::HASH.0, 0, 0, 8, 1, 2, 3, 4];
        let e = err(PayloadType::NONCE, &nonce);
        assert_eq!(
            (e.payload_type, e.offset, e.reason()),
            (
                Some(PayloadType::HASH),
                8,
                "next payload points past the end of the message"
            )
        );
        let mut zero = nonce;
        zero[..4].copy_from_slice(&[0, 0, 0, 0]);
        let e = err(PayloadType::NONCE, &zero);
        assert_eq!(
            (e.offset, e.reason()),
            (2, "payload length below the 4-byte generic header")
        );
        let mut long = nonce;
        long[3] = 9;
        assert_eq!(
            err(PayloadType::NONCE, &long).reason(),
            "payload length beyond the enclosing data"
        );
        assert_eq!(
            err(PayloadType::NONCE, &nonce[..3]).reason(),
            "truncated generic payload header"
        );
        assert_eq!(
            err(PayloadType::TRANSFORM, &nonce).reason(),
            "proposal or transform payload outside an SA payload"
        );
        assert_eq!(
            err(PayloadType::ID, &[0, 0, 0, 7, 5, 0, 0]).payload_type,
            Some(PayloadType::ID)
        );
        assert_eq!(
            err(
                PayloadType::NOTIFY,
                &[0, 0, 0, 12, 0, 0, 0, 1, 1, 16, 0x60, 2]
            )
            .reason(),
            "SPI size beyond the notify payload"
        );
        // Delete: 3 SPIs of 4 bytes announced, 8 bytes present; size 0 with a count.
        let delete = [0, 0, 0, 20, 0, 0, 0, 1, 3, 4, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            err(PayloadType::DELETE, &delete).reason(),
            "number of SPIs times SPI size disagrees with the length"
        );
        let delete0 = [0, 0, 0, 12, 0, 0, 0, 1, 3, 0, 0xff, 0xff];
        assert_eq!(
            err(PayloadType::DELETE, &delete0).reason(),
            "SPIs of size zero"
        );
    }
}
