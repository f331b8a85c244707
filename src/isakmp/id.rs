//! Identification payload body (RFC 2407 4.6.2): ID type, protocol ID, port, then the
//! identification data. NAT-OA (RFC 3947 5.2) has the same layout with the protocol
//! and port octets reserved.

use super::codec::Reader;
use super::{DecodeError, IdType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// ID payload (RFC 2407 4.6.2). `data` is the identification data (address, or
/// address + mask / range); HASH_I/R use the body exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPayload {
    pub id_type: IdType,
    pub protocol: u8,
    pub port: u16,
    pub data: Vec<u8>,
}

impl IdPayload {
    /// ID_IPV4_ADDR / ID_IPV6_ADDR with protocol and port 0 (RFC 2407 4.6.2: 0 means
    /// "ignore"; IOS sends 17/500 in phase 1, and decoding keeps what was received).
    pub fn address(ip: IpAddr) -> IdPayload {
        let (id_type, data) = match ip {
            IpAddr::V4(a) => (IdType::ID_IPV4_ADDR, a.octets().to_vec()),
            IpAddr::V6(a) => (IdType::ID_IPV6_ADDR, a.octets().to_vec()),
        };
        IdPayload {
            id_type,
            protocol: 0,
            port: 0,
            data,
        }
    }

    /// ID_IPV4_ADDR_SUBNET / ID_IPV6_ADDR_SUBNET (RFC 2407 4.6.2.5, 4.6.2.6): the
    /// address followed by the netmask built from `prefix_len` (clamped to the family's
    /// width). A VTI's Quick Mode proxies are `::/0` or `0.0.0.0/0`.
    pub fn subnet(ip: IpAddr, prefix_len: u8) -> IdPayload {
        let (id_type, mut data, bits) = match ip {
            IpAddr::V4(a) => (IdType::ID_IPV4_ADDR_SUBNET, a.octets().to_vec(), 32),
            IpAddr::V6(a) => (IdType::ID_IPV6_ADDR_SUBNET, a.octets().to_vec(), 128),
        };
        let prefix = u32::from(prefix_len.min(bits));
        let mask = (0..bits / 8).map(|i| {
            let ones = prefix.saturating_sub(u32::from(i) * 8).min(8);
            // `ones` is 0..=8: shifting a u16 keeps the 8-bit case defined.
            (0xff00u16 >> ones) as u8
        });
        data.extend(mask);
        IdPayload {
            id_type,
            protocol: 0,
            port: 0,
            data,
        }
    }

    /// The address and prefix length of an address or subnet ID; `None` for other
    /// types, a data length that does not fit the type, or a non-contiguous mask.
    pub fn to_subnet(&self) -> Option<(IpAddr, u8)> {
        match (self.id_type, self.data.len()) {
            (IdType::ID_IPV4_ADDR, 4) | (IdType::ID_IPV6_ADDR, 16) => {
                let ip = ip_from(&self.data)?;
                Some((ip, if ip.is_ipv4() { 32 } else { 128 }))
            }
            (IdType::ID_IPV4_ADDR_SUBNET, 8) | (IdType::ID_IPV6_ADDR_SUBNET, 32) => {
                let (addr, mask) = self.data.split_at(self.data.len() / 2);
                Some((ip_from(addr)?, prefix_len(mask)?))
            }
            _ => None,
        }
    }

    pub(crate) fn decode(mut r: Reader<'_>) -> Result<IdPayload, DecodeError> {
        const SHORT: &str = "shorter than the 4-byte ID type, protocol and port";
        let id_type = IdType(r.take_u8(SHORT)?);
        let protocol = r.take_u8(SHORT)?;
        let port = r.take_u16(SHORT)?;
        Ok(IdPayload {
            id_type,
            protocol,
            port,
            data: r.rest().to_vec(),
        })
    }

    /// Append the body (no generic header): what HASH_I/HASH_R hash as IDii_b / IDir_b
    /// (RFC 2409 5).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.id_type.0, self.protocol]);
        out.extend_from_slice(&self.port.to_be_bytes());
        out.extend_from_slice(&self.data);
    }
}

fn ip_from(b: &[u8]) -> Option<IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        Some(IpAddr::V4(Ipv4Addr::from(a)))
    } else {
        <[u8; 16]>::try_from(b)
            .ok()
            .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
    }
}

/// Prefix length of a contiguous netmask.
fn prefix_len(mask: &[u8]) -> Option<u8> {
    let ones: u32 = mask.iter().map(|b| b.leading_ones()).sum();
    let full = ones as usize / 8;
    let contiguous = mask.iter().enumerate().all(|(i, &b)| match i.cmp(&full) {
        std::cmp::Ordering::Less => b == 0xff,
        std::cmp::Ordering::Equal => b == (0xff00u16 >> (ones % 8)) as u8,
        std::cmp::Ordering::Greater => b == 0,
    });
    contiguous.then(|| u8::try_from(ones).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let any6 = IdPayload::subnet("::".parse().unwrap(), 0);
        assert_eq!(any6.id_type, IdType::ID_IPV6_ADDR_SUBNET);
        assert_eq!(any6.data, vec![0; 32]);
        assert_eq!(any6.to_subnet(), Some(("::".parse().unwrap(), 0)));

        let net = IdPayload::subnet("192.0.2.0".parse().unwrap(), 20);
        assert_eq!(net.data, [192, 0, 2, 0, 255, 255, 240, 0]);
        assert_eq!(net.to_subnet(), Some(("192.0.2.0".parse().unwrap(), 20)));
        assert_eq!(
            IdPayload::subnet("2001:db8::".parse().unwrap(), 200).to_subnet(),
            Some(("2001:db8::".parse().unwrap(), 128))
        );

        let host = IdPayload::address("2001:db8::2".parse().unwrap());
        assert_eq!(host.id_type, IdType::ID_IPV6_ADDR);
        assert_eq!(
            host.to_subnet(),
            Some(("2001:db8::2".parse().unwrap(), 128))
        );

        let holes = IdPayload {
            data: vec![192, 0, 2, 0, 255, 0, 255, 0],
            ..net.clone()
        };
        assert_eq!(holes.to_subnet(), None);
        let short = IdPayload {
            data: vec![192, 0, 2, 0],
            ..net
        };
        assert_eq!(short.to_subnet(), None);
    }

    #[test]
    fn body_round_trip() {
        // IOS phase 1 ID: ID_IPV6_ADDR, UDP, port 500.
        let id = IdPayload {
            protocol: 17,
            port: 500,
            ..IdPayload::address("2001:db8::1".parse().unwrap())
        };
        let mut body = Vec::new();
        id.encode_body(&mut body);
        assert_eq!(&body[..4], &[5, 17, 1, 0xf4]);
        assert_eq!(IdPayload::decode(Reader::new(&body, 0, None)), Ok(id));
        assert!(IdPayload::decode(Reader::new(&body[..3], 0, None)).is_err());
    }
}
