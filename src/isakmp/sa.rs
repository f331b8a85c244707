//! Security Association payload (RFC 2408 3.4) with its nested Proposal (3.5) and
//! Transform (3.6) payloads and data attributes (3.3), for the IPsec DOI (RFC 2407
//! 4.6.1: a 32-bit situation, no labelled-domain fields).
//!
//! Nesting is checked strictly, so that a decoded SA re-encodes to the same length:
//! proposals fill the SA exactly and chain with next payload PROPOSAL, the last one
//! NONE (3.5); a proposal holds exactly its "# of Transforms" transforms, chained the
//! same way with TRANSFORM (3.6); attributes fill their transform exactly.

use super::codec::{put_chain, Reader};
use super::{DecodeError, DecodeErrorKind, PayloadType, ProtocolId, DOI_IPSEC, SIT_IDENTITY_ONLY};

type Result<T> = std::result::Result<T, DecodeError>;

/// SA payload (RFC 2408 3.4) with the IPsec DOI situation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaPayload {
    pub doi: u32,
    pub situation: u32,
    pub proposals: Vec<Proposal>,
}

/// Proposal payload (RFC 2408 3.5). Proposals with the same number are ANDed (e.g.
/// AH + ESP); different numbers are alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    pub protocol: ProtocolId,
    /// Empty in phase 1 (RFC 2409 5: the cookies are the SPI); 4 bytes for ESP/AH.
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

/// Transform payload (RFC 2408 3.6): one alternative of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub number: u8,
    /// KEY_IKE in phase 1; the ESP transform ID (RFC 2407 4.4.4) in phase 2.
    pub transform_id: u8,
    pub attributes: Vec<Attribute>,
}

/// Data attribute (RFC 2408 3.3): TV (AF bit set) or TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The type without the AF bit (always < 0x8000).
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

/// RFC 2408 3.3: Attribute Format bit; set means TV (basic), clear means TLV.
const AF_TV: u16 = 0x8000;

impl AttrValue {
    /// Numeric value of a basic or variable (big-endian, at most 8 bytes) attribute.
    /// `None` for an empty or longer variable value.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            AttrValue::Basic(v) => Some(u64::from(*v)),
            AttrValue::Variable(b) if (1..=8).contains(&b.len()) => {
                Some(b.iter().fold(0, |acc, &x| acc << 8 | u64::from(x)))
            }
            AttrValue::Variable(_) => None,
        }
    }
}

impl Attribute {
    /// A TV attribute.
    pub fn basic(attr_type: u16, value: u16) -> Attribute {
        Attribute {
            attr_type,
            value: AttrValue::Basic(value),
        }
    }

    /// A TLV attribute.
    pub fn variable(attr_type: u16, value: Vec<u8>) -> Attribute {
        Attribute {
            attr_type,
            value: AttrValue::Variable(value),
        }
    }

    /// A life duration (phase 1 attribute 12, phase 2 attribute 2): basic when it fits
    /// 16 bits, else variable with 4 bytes (8 above `u32::MAX`). 86400 s is variable,
    /// as IOS and strongSwan send it (RFC 2409 appendix A: life duration is variable).
    pub fn life_duration(attr_type: u16, value: u64) -> Attribute {
        if let Ok(v) = u16::try_from(value) {
            Attribute::basic(attr_type, v)
        } else if let Ok(v) = u32::try_from(value) {
            Attribute::variable(attr_type, v.to_be_bytes().to_vec())
        } else {
            Attribute::variable(attr_type, value.to_be_bytes().to_vec())
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Attribute> {
        let raw_type = r.take_u16("truncated attribute")?;
        let attr_type = raw_type & !AF_TV;
        let value = if raw_type & AF_TV != 0 {
            AttrValue::Basic(r.take_u16("truncated basic attribute value")?)
        } else {
            let len = r.take_u16("truncated attribute length")?;
            let v = r.take(usize::from(len), "attribute length beyond the transform")?;
            AttrValue::Variable(v.to_vec())
        };
        Ok(Attribute { attr_type, value })
    }

    /// # Panics
    /// If a variable value exceeds 65535 bytes (its length field is 16 bits).
    fn encode(&self, out: &mut Vec<u8>) {
        let t = self.attr_type & !AF_TV;
        match &self.value {
            AttrValue::Basic(v) => {
                out.extend_from_slice(&(t | AF_TV).to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
            AttrValue::Variable(v) => {
                let len = u16::try_from(v.len()).expect("attribute value longer than 65535");
                out.extend_from_slice(&t.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(v);
            }
        }
    }
}

/// A bare attribute list, as in RESPONDER-LIFETIME notification data (RFC 2407
/// 4.6.3.1).
pub fn decode_attributes(buf: &[u8]) -> Result<Vec<Attribute>> {
    let mut r = Reader::new(buf, 0, Some(PayloadType::NOTIFY));
    let mut attributes = Vec::new();
    while !r.is_empty() {
        attributes.push(Attribute::decode(&mut r)?);
    }
    Ok(attributes)
}

/// Encode a bare attribute list (see `decode_attributes`).
pub fn encode_attributes(attributes: &[Attribute], out: &mut Vec<u8>) {
    for a in attributes {
        a.encode(out);
    }
}

impl Transform {
    /// The first attribute of type `attr_type`.
    pub fn attr(&self, attr_type: u16) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.attr_type == attr_type)
            .map(|a| &a.value)
    }

    fn decode(mut r: Reader<'_>) -> Result<Transform> {
        const SHORT: &str = "transform shorter than its 8-byte fixed part";
        let number = r.take_u8(SHORT)?;
        let transform_id = r.take_u8(SHORT)?;
        r.take_u16(SHORT)?; // RESERVED2
        let mut attributes = Vec::new();
        while !r.is_empty() {
            attributes.push(Attribute::decode(&mut r)?);
        }
        Ok(Transform {
            number,
            transform_id,
            attributes,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.number, self.transform_id, 0, 0]);
        for a in &self.attributes {
            a.encode(out);
        }
    }
}

impl Proposal {
    fn decode(mut r: Reader<'_>) -> Result<Proposal> {
        const SHORT: &str = "proposal shorter than its 8-byte fixed part";
        let number = r.take_u8(SHORT)?;
        let protocol = ProtocolId(r.take_u8(SHORT)?);
        let spi_size = r.take_u8(SHORT)?;
        let count = r.take_u8(SHORT)?;
        if count == 0 {
            return Err(r.fail_at(r.offset() - 1, "proposal without transforms"));
        }
        let spi = r
            .take(usize::from(spi_size), "SPI size beyond the proposal")?
            .to_vec();
        let mut transforms = Vec::new();
        for i in 1..=count {
            if r.is_empty() {
                return Err(r.fail("fewer transforms than the proposal's count"));
            }
            let (next, span, body) = r.take_payload(PayloadType::TRANSFORM)?;
            let expected = if i == count {
                PayloadType::NONE
            } else {
                PayloadType::TRANSFORM
            };
            if next != expected {
                return Err(DecodeError {
                    payload_type: Some(PayloadType::TRANSFORM),
                    offset: span.start,
                    kind: DecodeErrorKind::Malformed(
                        "transform next payload disagrees with the proposal's count",
                    ),
                });
            }
            transforms.push(Transform::decode(body)?);
        }
        if !r.is_empty() {
            return Err(r.fail("more transforms than the proposal's count"));
        }
        Ok(Proposal {
            number,
            protocol,
            spi,
            transforms,
        })
    }

    /// # Panics
    /// With more than 255 transforms or an SPI over 255 bytes (8-bit fields).
    fn encode(&self, out: &mut Vec<u8>) {
        let spi_size = u8::try_from(self.spi.len()).expect("SPI longer than 255 bytes");
        let count = u8::try_from(self.transforms.len()).expect("more than 255 transforms");
        out.extend_from_slice(&[self.number, self.protocol.0, spi_size, count]);
        out.extend_from_slice(&self.spi);
        put_chain(
            out,
            &self.transforms,
            |_| PayloadType::TRANSFORM,
            Transform::encode,
        );
    }
}

impl SaPayload {
    /// An IPsec DOI SA with situation SIT_IDENTITY_ONLY, the only one IKE uses.
    pub fn ipsec(proposals: Vec<Proposal>) -> SaPayload {
        SaPayload {
            doi: DOI_IPSEC,
            situation: SIT_IDENTITY_ONLY,
            proposals,
        }
    }

    pub(crate) fn decode(mut r: Reader<'_>) -> Result<SaPayload> {
        const SHORT: &str = "SA shorter than its DOI and situation";
        let doi = r.take_u32(SHORT)?;
        let situation = r.take_u32(SHORT)?;
        let mut proposals = Vec::new();
        loop {
            if r.is_empty() {
                return Err(r.fail(if proposals.is_empty() {
                    "SA without proposals"
                } else {
                    "proposal chain continues past the SA payload"
                }));
            }
            let (next, span, body) = r.take_payload(PayloadType::PROPOSAL)?;
            proposals.push(Proposal::decode(body)?);
            match next {
                PayloadType::NONE => break,
                PayloadType::PROPOSAL => continue,
                _ => {
                    return Err(DecodeError {
                        payload_type: Some(PayloadType::PROPOSAL),
                        offset: span.start,
                        kind: DecodeErrorKind::Malformed(
                            "proposal next payload is neither PROPOSAL nor NONE",
                        ),
                    })
                }
            }
        }
        if !r.is_empty() {
            return Err(r.fail("bytes after the last proposal"));
        }
        Ok(SaPayload {
            doi,
            situation,
            proposals,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.doi.to_be_bytes());
        out.extend_from_slice(&self.situation.to_be_bytes());
        put_chain(
            out,
            &self.proposals,
            |_| PayloadType::PROPOSAL,
            Proposal::encode,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::p1_attr;
    use super::*;

    fn decode(body: &[u8]) -> Result<SaPayload> {
        SaPayload::decode(Reader::new(body, 0, Some(PayloadType::SA)))
    }

    fn encode(sa: &SaPayload) -> Vec<u8> {
        let mut out = Vec::new();
        sa.encode(&mut out);
        out
    }

    fn phase1_sa() -> SaPayload {
        SaPayload::ipsec(vec![Proposal {
            number: 1,
            protocol: ProtocolId::ISAKMP,
            spi: vec![],
            transforms: vec![
                Transform {
                    number: 1,
                    transform_id: 1,
                    attributes: vec![
                        Attribute::basic(p1_attr::ENCRYPTION_ALGORITHM, 1),
                        Attribute::life_duration(p1_attr::LIFE_DURATION, 86400),
                    ],
                },
                Transform {
                    number: 2,
                    transform_id: 1,
                    attributes: vec![Attribute::basic(p1_attr::ENCRYPTION_ALGORITHM, 7)],
                },
            ],
        }])
    }

    #[test]
    fn attribute_values() {
        assert_eq!(AttrValue::Basic(3600).as_u64(), Some(3600));
        assert_eq!(
            AttrValue::Variable(vec![0, 1, 0x51, 0x80]).as_u64(),
            Some(86400)
        );
        assert_eq!(
            AttrValue::Variable(vec![1; 8]).as_u64(),
            Some(0x0101_0101_0101_0101)
        );
        assert_eq!(AttrValue::Variable(vec![1; 9]).as_u64(), None);
        assert_eq!(AttrValue::Variable(vec![]).as_u64(), None);
        assert_eq!(
            Attribute::life_duration(2, 3600).value,
            AttrValue::Basic(3600)
        );
        assert_eq!(
            Attribute::life_duration(12, 86400).value,
            AttrValue::Variable(vec![0, 1, 0x51, 0x80])
        );
        assert_eq!(
            Attribute::life_duration(2, 1 << 40).value.as_u64(),
            Some(1 << 40)
        );
    }

    #[test]
    fn round_trip_and_layout() {
        let sa = phase1_sa();
        let bytes = encode(&sa);
        // DOI, situation, proposal header (next NONE), #1 ISAKMP, no SPI, 2 transforms,
        // transform 1 header (next TRANSFORM, length 20), TV encryption DES, TLV life.
        assert_eq!(
            &bytes[..36],
            &[
                0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 40, 1, 1, 0, 2, 3, 0, 0, 20, 1, 1, 0, 0, 0x80, 1,
                0, 1, 0, 12, 0, 4, 0, 1, 0x51, 0x80
            ][..]
        );
        assert_eq!(decode(&bytes), Ok(sa.clone()));
        assert_eq!(
            sa.proposals[0].transforms[0]
                .attr(p1_attr::LIFE_DURATION)
                .and_then(AttrValue::as_u64),
            Some(86400)
        );
        assert_eq!(
            sa.proposals[0].transforms[1].attr(p1_attr::LIFE_DURATION),
            None
        );
    }

    #[test]
    fn esp_proposal_with_spi() {
        let sa = SaPayload::ipsec(vec![
            Proposal {
                number: 1,
                protocol: ProtocolId::IPSEC_ESP,
                spi: vec![0xc0, 0x5f, 0x9e, 0x2c],
                transforms: vec![Transform {
                    number: 1,
                    transform_id: 12,
                    attributes: vec![Attribute::variable(7, vec![])],
                }],
            },
            Proposal {
                number: 2,
                protocol: ProtocolId::IPSEC_ESP,
                spi: vec![1, 2, 3, 4],
                transforms: vec![Transform {
                    number: 1,
                    transform_id: 3,
                    attributes: vec![],
                }],
            },
        ]);
        assert_eq!(decode(&encode(&sa)), Ok(sa));
    }

    fn reason(body: &[u8]) -> &'static str {
        decode(body).unwrap_err().reason()
    }

    #[test]
    fn malformed_nesting() {
        let good = encode(&phase1_sa());
        // Offsets: proposal header at 8 (length at 10), count at 15, transform 1
        // header at 16 (next at 16, length at 18), its life TLV length at 30.
        // Transform 2's header is at 36.
        let mut b = good.clone();
        b[15] = 3;
        assert_eq!(
            reason(&b),
            "transform next payload disagrees with the proposal's count"
        );
        b[36] = PayloadType::TRANSFORM.0;
        assert_eq!(reason(&b), "fewer transforms than the proposal's count");
        let mut b = good.clone();
        b[15] = 1;
        assert_eq!(
            reason(&b),
            "transform next payload disagrees with the proposal's count"
        );
        b[16] = PayloadType::NONE.0;
        assert_eq!(reason(&b), "more transforms than the proposal's count");
        b[15] = 0;
        assert_eq!(reason(&b), "proposal without transforms");
        let mut b = good.clone();
        b[31] = 200;
        assert_eq!(reason(&b), "attribute length beyond the transform");
        let mut b = good.clone();
        b[19] = 7;
        assert_eq!(reason(&b), "transform shorter than its 8-byte fixed part");
        b[19] = 3;
        assert_eq!(reason(&b), "payload length below the 4-byte generic header");
        b[19] = 200;
        assert_eq!(reason(&b), "payload length beyond the enclosing data");
        let mut b = good.clone();
        b[8] = PayloadType::PROPOSAL.0;
        assert_eq!(reason(&b), "proposal chain continues past the SA payload");
        b[8] = PayloadType::KE.0;
        assert_eq!(
            reason(&b),
            "proposal next payload is neither PROPOSAL nor NONE"
        );
        let mut b = good.clone();
        b.extend_from_slice(&[0; 4]);
        assert_eq!(reason(&b), "bytes after the last proposal");
        assert_eq!(reason(&good[..8]), "SA without proposals");
        let mut b = good.clone();
        b[14] = 60;
        assert_eq!(reason(&b), "SPI size beyond the proposal");
    }
}
