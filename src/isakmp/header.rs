//! The fixed ISAKMP header (RFC 2408 3.1).
//!
//! ```text
//!  0..8   Initiator Cookie          8..16  Responder Cookie
//!  16     Next Payload              17     MjVer | MnVer
//!  18     Exchange Type             19     Flags (E, C, A)
//!  20..24 Message ID                24..28 Length (header + payloads)
//! ```

use super::codec::Reader;
use super::{DecodeError, DecodeErrorKind, ExchangeType, PayloadType};

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
/// RFC 2408 3.1: the payloads after the header are encrypted.
pub const FLAG_ENCRYPTION: u8 = 0x01;
/// RFC 2408 3.1: commit bit (synchronise key exchange, RFC 2409 5.5 "commit bit").
pub const FLAG_COMMIT: u8 = 0x02;
/// RFC 2408 3.1: authentication only (never used by IKE).
pub const FLAG_AUTH_ONLY: u8 = 0x04;
/// Version byte we send: major 1, minor 0 (RFC 2408 3.1, RFC 2409 5).
pub const VERSION_IKEV1: u8 = 0x10;

impl Header {
    /// A header for `exchange` with version 1.0; `next_payload` and `length` are
    /// filled in by [`encode_message`](super::encode_message).
    pub fn new(
        icookie: [u8; 8],
        rcookie: [u8; 8],
        exchange: ExchangeType,
        flags: u8,
        message_id: u32,
    ) -> Header {
        Header {
            icookie,
            rcookie,
            next_payload: PayloadType::NONE,
            version: VERSION_IKEV1,
            exchange,
            flags,
            message_id,
            length: 0,
        }
    }

    /// The E flag: the body is encrypted with the phase 1 cipher.
    pub fn is_encrypted(&self) -> bool {
        self.flags & FLAG_ENCRYPTION != 0
    }

    /// Decode the fixed header and check `length` against `buf.len()` (trailing bytes
    /// beyond `length` are ignored as RFC 2408 allows padding only inside it).
    ///
    /// Only major version 1 is accepted (RFC 2408 3.1: a higher major version must be
    /// rejected); an IKEv2 message (0x20) fails here with a clear reason. Any minor
    /// version is kept, since implementations ignore it in practice. Exchange types
    /// are not restricted: the engine answers unknown ones with a notify.
    pub fn decode(buf: &[u8]) -> Result<Header, DecodeError> {
        const SHORT: &str = "shorter than the 28-byte ISAKMP header";
        let mut r = Reader::new(buf, 0, None);
        let icookie = r.take_cookie(SHORT)?;
        let rcookie = r.take_cookie(SHORT)?;
        let next_payload = PayloadType(r.take_u8(SHORT)?);
        let version = r.take_u8(SHORT)?;
        if version >> 4 != VERSION_IKEV1 >> 4 {
            return Err(r.error_at(17, DecodeErrorKind::UnsupportedMajorVersion));
        }
        let exchange = ExchangeType(r.take_u8(SHORT)?);
        let flags = r.take_u8(SHORT)?;
        let message_id = r.take_u32(SHORT)?;
        let length = r.take_u32(SHORT)?;
        if (length as usize) < HEADER_LEN {
            return Err(r.fail_at(24, "length field below the 28-byte header"));
        }
        if length as usize > buf.len() {
            return Err(r.fail_at(24, "length field beyond the datagram"));
        }
        Ok(Header {
            icookie,
            rcookie,
            next_payload,
            version,
            exchange,
            flags,
            message_id,
            length,
        })
    }

    /// Append the 28 header bytes as they are (`length` and `next_payload` included).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.icookie);
        out.extend_from_slice(&self.rcookie);
        out.extend_from_slice(&[
            self.next_payload.0,
            self.version,
            self.exchange.0,
            self.flags,
        ]);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            length: 28,
            next_payload: PayloadType::HASH,
            ..Header::new(
                [1; 8],
                [2; 8],
                ExchangeType::QUICK_MODE,
                FLAG_ENCRYPTION,
                0x1e67_e7e9,
            )
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(&out[16..20], &[8, 0x10, 32, 1]);
        assert_eq!(&out[20..], &[0x1e, 0x67, 0xe7, 0xe9, 0, 0, 0, 28]);
        assert_eq!(Header::decode(&out), Ok(h.clone()));
        assert!(h.is_encrypted());
    }

    #[test]
    fn rejects_bad_headers() {
        let mut out = Vec::new();
        sample().encode(&mut out);
        for len in 0..HEADER_LEN {
            assert!(Header::decode(&out[..len]).is_err());
        }
        let mut v2 = out.clone();
        v2[17] = 0x20;
        let e = Header::decode(&v2).unwrap_err();
        assert_eq!(
            (e.offset, e.reason()),
            (17, "unsupported major version (only IKEv1, 1.x)")
        );
        let mut minor = out.clone();
        minor[17] = 0x11;
        assert_eq!(Header::decode(&minor).unwrap().version, 0x11);
        let mut short = out.clone();
        short[27] = 27;
        assert_eq!(
            Header::decode(&short).unwrap_err().reason(),
            "length field below the 28-byte header"
        );
        let mut long = out.clone();
        long[27] = 29;
        assert_eq!(
            Header::decode(&long).unwrap_err().reason(),
            "length field beyond the datagram"
        );
        long.push(0);
        assert!(Header::decode(&long).is_ok());
    }
}
