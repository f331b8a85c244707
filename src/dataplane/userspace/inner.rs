//! The inner packet of tunnel mode (RFC 4303 2.6): a whole IPv4 or IPv6 packet, next
//! header 4 or 41. The VTI selectors are 0.0.0.0/0 and ::/0, any protocol, so the
//! check is that it is an IP packet of the family its next header claims.

/// IP-in-IP: IPv4 (RFC 4303 next header 4).
pub(crate) const NH_IPV4: u8 = 4;
/// IPv6 (next header 41).
pub(crate) const NH_IPV6: u8 = 41;
/// A dummy packet (RFC 4303 2.6): dropped on receipt.
pub(crate) const NH_NONE: u8 = 59;

/// The ESP next header for a packet read from the TUN device; `None` if it is not IP.
pub(crate) fn next_header_of(packet: &[u8]) -> Option<u8> {
    match packet.first()? >> 4 {
        4 if packet.len() >= 20 => Some(NH_IPV4),
        6 if packet.len() >= 40 => Some(NH_IPV6),
        _ => None,
    }
}

/// Length of the inner IP packet at the start of a decrypted payload, checked against
/// its next header; TFC padding after it (RFC 4303 2.4) is not part of it. `None` for
/// anything that is not a well-formed IP packet of that family.
pub(crate) fn inner_len(next_header: u8, payload: &[u8]) -> Option<usize> {
    let len = match next_header {
        NH_IPV4 => {
            if payload.len() < 20 || payload[0] >> 4 != 4 {
                return None;
            }
            let header = usize::from(payload[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([payload[2], payload[3]]));
            if header < 20 || total < header {
                return None;
            }
            total
        }
        NH_IPV6 => {
            if payload.len() < 40 || payload[0] >> 4 != 6 {
                return None;
            }
            // A zero payload length (a jumbogram) cannot come through a tunnel MTU.
            match u16::from_be_bytes([payload[4], payload[5]]) {
                0 => return None,
                n => 40 + usize::from(n),
            }
        }
        _ => return None,
    };
    (len <= payload.len()).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(total: u16) -> Vec<u8> {
        let mut p = vec![0u8; usize::from(total)];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p
    }
    fn v6(payload: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40 + usize::from(payload)];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&payload.to_be_bytes());
        p
    }

    #[test]
    fn ip_packets_pass_with_their_length() {
        assert_eq!(inner_len(NH_IPV4, &v4(84)), Some(84));
        assert_eq!(inner_len(NH_IPV6, &v6(64)), Some(104));
        let mut padded = v4(60);
        padded.extend([0; 16]); // TFC padding
        assert_eq!(inner_len(NH_IPV4, &padded), Some(60));
        assert_eq!(next_header_of(&v4(84)), Some(NH_IPV4));
        assert_eq!(next_header_of(&v6(8)), Some(NH_IPV6));
    }

    #[test]
    fn garbage_and_mismatched_families_are_dropped() {
        assert_eq!(
            inner_len(NH_IPV6, &v4(84)),
            None,
            "IPv4 packet under next header 41"
        );
        assert_eq!(inner_len(NH_IPV4, &v6(64)), None);
        assert_eq!(inner_len(NH_NONE, &v6(64)), None);
        assert_eq!(inner_len(17, &v4(84)), None, "transport mode payload");
        assert_eq!(inner_len(NH_IPV4, &v4(84)[..50]), None, "truncated");
        let mut bad_ihl = v4(84);
        bad_ihl[0] = 0x44;
        assert_eq!(inner_len(NH_IPV4, &bad_ihl), None);
        assert_eq!(inner_len(NH_IPV6, &v6(0)), None);
        assert_eq!(inner_len(NH_IPV4, &[]), None);
        assert_eq!(next_header_of(&[0x00; 60]), None);
        assert_eq!(next_header_of(&[0x45; 10]), None);
        assert_eq!(next_header_of(&[]), None);
    }
}
