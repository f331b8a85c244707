//! GRE over IPsec on the userspace path: the TUN device carries the tunnel's inner
//! packets; the transmit threads wrap each in GRE (RFC 2784, with the key of RFC 2890
//! when `tunnel key` is configured) and, in ESP tunnel mode, in the IP header of the
//! endpoints' GRE packet; the receive threads unwrap what ESP opened, checking it is the
//! peer's GRE to us with our key. What IOS sends: no checksum, no sequence numbers,
//! protocol type IPv4 or IPv6.

use super::df;
use super::inner::{inner_len, NH_IPV4, NH_IPV6};
use super::offload::{fold, sum};
use crate::ipsec::EspMode;
use std::net::IpAddr;
use std::ops::Range;

/// IP protocol number of GRE (RFC 2784): the ESP next header in transport mode.
pub(crate) const NH_GRE: u8 = 47;
/// RFC 2784 2.1 / RFC 2890 2: C, K and S bits of the first two bytes; version 0.
const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const GRE_VERSION: u16 = 0x0007;
/// Protocol types (EtherTypes) of the payload.
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
/// IOS's tunnel TTL (`tunnel ttl`, default 255) for the delivery header.
const TTL: u8 = 255;

/// The most a GRE header and a delivery IP header add in front of an inner packet.
pub(crate) const MAX_OVERHEAD: usize = 40 + 8;

/// A tunnel's GRE: its endpoints and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gre {
    pub key: Option<u32>,
    pub local: IpAddr,
    pub peer: IpAddr,
}

impl Gre {
    fn header_len(&self) -> usize {
        if self.key.is_some() {
            8
        } else {
            4
        }
    }

    fn ip_header_len(&self) -> usize {
        if self.local.is_ipv4() {
            20
        } else {
            40
        }
    }

    /// Wrap the inner packet at `buf[at..at + len]` in place, in the `MAX_OVERHEAD`
    /// bytes before it: the GRE header, and in tunnel mode the delivery IP header from
    /// `local` to `peer`. Returns where the ESP payload starts, its length and next
    /// header; `None` for what is not an IP packet.
    pub fn encapsulate(
        &self,
        mode: EspMode,
        buf: &mut [u8],
        at: usize,
        len: usize,
    ) -> Option<(usize, usize, u8)> {
        let protocol = match buf.get(at)? >> 4 {
            4 => ETH_P_IPV4,
            6 => ETH_P_IPV6,
            _ => return None,
        };
        let start = at.checked_sub(self.header_len())?;
        let gre = &mut buf[start..at];
        let flags = if self.key.is_some() { GRE_KEY } else { 0 };
        gre[0..2].copy_from_slice(&flags.to_be_bytes());
        gre[2..4].copy_from_slice(&protocol.to_be_bytes());
        if let Some(key) = self.key {
            gre[4..8].copy_from_slice(&key.to_be_bytes());
        }
        let gre_len = len + self.header_len();
        if mode == EspMode::Transport {
            return Some((start, gre_len, NH_GRE));
        }
        let ip_start = start.checked_sub(self.ip_header_len())?;
        let total = gre_len + self.ip_header_len();
        let ip = &mut buf[ip_start..start];
        let next_header = match (self.local, self.peer) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                df::ipv4_header(ip, gre_len, NH_GRE, TTL, src, dst)?;
                let sum = ipv4_checksum(ip);
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
                NH_IPV4
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let payload = u16::try_from(gre_len).ok()?;
                ip.fill(0);
                ip[0] = 0x60;
                ip[4..6].copy_from_slice(&payload.to_be_bytes());
                ip[6] = NH_GRE;
                ip[7] = TTL;
                ip[8..24].copy_from_slice(&src.octets());
                ip[24..40].copy_from_slice(&dst.octets());
                NH_IPV6
            }
            _ => return None,
        };
        Some((ip_start, total, next_header))
    }

    /// The inner packet in an opened ESP payload: in transport mode (next header 47)
    /// the payload is the GRE packet; in tunnel mode (4 or 41) an IP packet that must be
    /// GRE from the peer to us. The GRE header must carry our key (or none when none is
    /// configured) and an IP packet. Returns the inner packet's range in `payload`, or
    /// `None` to drop it.
    pub fn decapsulate(&self, next_header: u8, payload: &[u8]) -> Option<Decapsulated> {
        let gre = match next_header {
            NH_GRE => 0..payload.len(),
            NH_IPV4 | NH_IPV6 => self.delivery_payload(next_header, payload)?,
            _ => return None,
        };
        let g = payload.get(gre.clone())?;
        let flags = u16::from_be_bytes([*g.first()?, *g.get(1)?]);
        if flags & (GRE_ROUTING | GRE_VERSION) != 0 {
            return None;
        }
        let mut at = 4;
        if flags & GRE_CHECKSUM != 0 {
            at += 4;
        }
        let key = if flags & GRE_KEY != 0 {
            let k = u32::from_be_bytes(g.get(at..at + 4)?.try_into().ok()?);
            at += 4;
            Some(k)
        } else {
            None
        };
        if key != self.key {
            return None;
        }
        if flags & GRE_SEQUENCE != 0 {
            at += 4;
        }
        let inner_nh = match u16::from_be_bytes([*g.get(2)?, *g.get(3)?]) {
            ETH_P_IPV4 => NH_IPV4,
            ETH_P_IPV6 => NH_IPV6,
            _ => return None,
        };
        let inner = g.get(at..)?;
        let len = inner_len(inner_nh, inner)?;
        let start = gre.start + at;
        // IOS's GRE keepalive is a GRE packet from us to the peer for us to send back:
        // written to the TUN device it would leave unprotected.
        Some(if self.is_keepalive(inner_nh, &inner[..len]) {
            Decapsulated::Keepalive {
                packet: start..start + len,
                next_header: inner_nh,
            }
        } else {
            Decapsulated::Inner(start..start + len)
        })
    }

    /// The GRE packet in a delivery IP packet from the peer to us, protocol 47.
    fn delivery_payload(&self, next_header: u8, ip: &[u8]) -> Option<Range<usize>> {
        let total = inner_len(next_header, ip)?;
        let header = match next_header {
            NH_IPV4 => {
                // A fragment cannot be reassembled here (the kernel path would).
                if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                    return None;
                }
                usize::from(ip[0] & 0x0f) * 4
            }
            _ => 40,
        };
        let (proto, src, dst) = ip_fields(next_header, ip)?;
        (proto == NH_GRE && src == self.peer && dst == self.local).then_some(header..total)
    }

    fn is_keepalive(&self, next_header: u8, inner: &[u8]) -> bool {
        ip_fields(next_header, inner) == Some((NH_GRE, self.local, self.peer))
    }
}

/// What an opened GRE packet holds, as ranges of the ESP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decapsulated {
    /// A packet for the tunnel interface.
    Inner(Range<usize>),
    /// An IOS keepalive: `packet` (an IP packet of family `next_header`) is our GRE
    /// packet to the peer, to go back through the tunnel's outbound SA.
    Keepalive {
        packet: Range<usize>,
        next_header: u8,
    },
}

/// The ESP payload and next header that send a reflected keepalive `packet` (our GRE
/// packet to the peer, of family `next_header`) in `mode`: in tunnel mode the packet
/// itself, in transport mode its GRE part.
pub(crate) fn reflection(
    mode: EspMode,
    next_header: u8,
    packet: &[u8],
) -> Option<(Range<usize>, u8)> {
    match mode {
        EspMode::Tunnel => Some((0..packet.len(), next_header)),
        EspMode::Transport => {
            let header = match next_header {
                NH_IPV4 => usize::from(packet.first()? & 0x0f) * 4,
                _ => 40,
            };
            (header <= packet.len()).then_some((header..packet.len(), NH_GRE))
        }
    }
}

/// Protocol (the first next header on IPv6), source and destination of an IP packet
/// that `inner_len` accepted as of family `next_header`.
fn ip_fields(next_header: u8, ip: &[u8]) -> Option<(u8, IpAddr, IpAddr)> {
    Some(match next_header {
        NH_IPV4 => {
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (ip[9], src.into(), dst.into())
        }
        _ => {
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (*ip.get(6)?, src.into(), dst.into())
        }
    })
}

/// The IPv4 header checksum (RFC 791) of `header`, its checksum field zero.
fn ipv4_checksum(header: &[u8]) -> u16 {
    !fold(sum(header, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "192.0.2.2";
    const B: &str = "192.0.2.3";

    fn gre(local: &str, peer: &str, key: Option<u32>) -> Gre {
        Gre {
            key,
            local: local.parse().unwrap(),
            peer: peer.parse().unwrap(),
        }
    }

    /// An IPv6 ping-sized packet with `tag` in its payload.
    fn v6_packet(tag: u8) -> Vec<u8> {
        let mut p = vec![0u8; 48];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&8u16.to_be_bytes());
        p[40..].fill(tag);
        p
    }

    fn v4_packet(proto: u8, src: &str, dst: &str) -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&28u16.to_be_bytes());
        p[9] = proto;
        p[12..16].copy_from_slice(&src.parse::<std::net::Ipv4Addr>().unwrap().octets());
        p[16..20].copy_from_slice(&dst.parse::<std::net::Ipv4Addr>().unwrap().octets());
        p
    }

    /// `packet` wrapped by `g` as the transmit path does: (payload, next header).
    fn wrap(g: &Gre, mode: EspMode, packet: &[u8]) -> (Vec<u8>, u8) {
        let mut buf = vec![0u8; MAX_OVERHEAD + packet.len()];
        buf[MAX_OVERHEAD..].copy_from_slice(packet);
        let (start, len, nh) = g
            .encapsulate(mode, &mut buf, MAX_OVERHEAD, packet.len())
            .unwrap();
        (buf[start..start + len].to_vec(), nh)
    }

    #[test]
    fn transport_mode_payload_is_the_gre_packet_with_the_key() {
        let (payload, nh) = wrap(&gre(A, B, Some(100)), EspMode::Transport, &v6_packet(7));
        assert_eq!(nh, 47);
        // RFC 2890: K bit, protocol type IPv6, key 100, then the packet.
        assert_eq!(payload[..8], [0x20, 0x00, 0x86, 0xdd, 0, 0, 0, 100]);
        assert_eq!(payload[8..], v6_packet(7)[..]);
        let inner = inner_of(gre(B, A, Some(100)).decapsulate(nh, &payload));
        assert_eq!(payload[inner], v6_packet(7)[..]);
        // No key: the 4-byte header of RFC 2784.
        let (plain, _) = wrap(
            &gre(A, B, None),
            EspMode::Transport,
            &v4_packet(1, "10.0.0.1", "10.0.0.2"),
        );
        assert_eq!(plain[..4], [0, 0, 0x08, 0x00]);
    }

    #[test]
    fn tunnel_mode_adds_the_endpoints_delivery_header() {
        let (payload, nh) = wrap(&gre(A, B, None), EspMode::Tunnel, &v6_packet(9));
        assert_eq!(nh, 4);
        assert_eq!(payload.len(), 20 + 4 + 48);
        // The whole delivery header, byte for byte: length 72, no DF, TTL 255 (IOS's
        // `tunnel ttl`), protocol 47, the RFC 791 checksum (worked out by hand), A -> B.
        assert_eq!(
            payload[..20],
            [0x45, 0, 0, 72, 0, 0, 0, 0, 255, 47, 0x37, 0x81, 192, 0, 2, 2, 192, 0, 2, 3]
        );
        assert_eq!(
            ipv4_checksum(&payload[..20]),
            0,
            "a valid header sums to zero"
        );
        let inner = inner_of(gre(B, A, None).decapsulate(nh, &payload));
        assert_eq!(payload[inner], v6_packet(9)[..]);
        // IPv6 endpoints.
        let g6 = gre("2001:db8::2", "2001:db8::3", Some(5));
        let (p6, nh6) = wrap(&g6, EspMode::Tunnel, &v4_packet(1, "10.0.0.1", "10.0.0.2"));
        assert_eq!((nh6, p6[0] >> 4, p6[6], p6[7]), (41, 6, 47, 255));
        let back = gre("2001:db8::3", "2001:db8::2", Some(5));
        assert_eq!(
            p6[inner_of(back.decapsulate(nh6, &p6))],
            v4_packet(1, "10.0.0.1", "10.0.0.2")[..]
        );
    }

    #[test]
    fn what_is_not_the_peers_gre_with_our_key_is_dropped() {
        let us = gre(B, A, Some(100));
        let (payload, nh) = wrap(&gre(A, B, Some(100)), EspMode::Tunnel, &v6_packet(1));
        // Another key, no key, a key where none is configured.
        for other in [Some(101), None] {
            let (p, n) = wrap(&gre(A, B, other), EspMode::Tunnel, &v6_packet(1));
            assert_eq!(us.decapsulate(n, &p), None, "key {other:?}");
        }
        assert_eq!(gre(B, A, None).decapsulate(nh, &payload), None);
        // From someone else, or to someone else, in the delivery header.
        assert_eq!(
            gre(B, "192.0.2.9", Some(100)).decapsulate(nh, &payload),
            None
        );
        assert_eq!(
            gre("192.0.2.9", A, Some(100)).decapsulate(nh, &payload),
            None
        );
        // Not GRE inside, or a protocol type that is not IP.
        let mut udp = payload.clone();
        udp[9] = 17;
        assert_eq!(us.decapsulate(nh, &udp), None);
        let mut ethernet = payload.clone();
        ethernet[22..24].copy_from_slice(&0x6558u16.to_be_bytes());
        assert_eq!(us.decapsulate(nh, &ethernet), None);
        // Version 1 (PPTP), truncated packets, garbage.
        let mut v1 = payload.clone();
        v1[21] = 1;
        assert_eq!(us.decapsulate(nh, &v1), None);
        for cut in 0..payload.len() {
            assert_eq!(us.decapsulate(nh, &payload[..cut]), None, "cut at {cut}");
        }
        assert_eq!(us.decapsulate(50, &payload), None);
    }

    #[test]
    fn checksum_and_sequence_fields_are_skipped() {
        let us = gre(B, A, Some(7));
        let mut p = vec![
            0xb0, 0x00, 0x86, 0xdd, 0xaa, 0xbb, 0, 0, 0, 0, 0, 7, 0, 0, 0, 42,
        ];
        p.extend(v6_packet(3));
        let inner = inner_of(us.decapsulate(47, &p));
        assert_eq!(p[inner], v6_packet(3)[..]);
    }

    fn inner_of(d: Option<Decapsulated>) -> Range<usize> {
        match d {
            Some(Decapsulated::Inner(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    /// IOS's keepalive: GRE to us carrying a GRE packet from us back to it. It goes
    /// back through the SA (as the kernel's GRE sends it), never to the TUN device.
    #[test]
    fn ios_keepalives_go_back_to_the_peer() {
        let us = gre(B, A, None);
        let mut reflect = v4_packet(47, B, A);
        reflect.extend([0, 0, 0, 0]); // its GRE header: protocol type 0
        reflect[2..4].copy_from_slice(&32u16.to_be_bytes());
        let (p, nh) = wrap(&gre(A, B, None), EspMode::Transport, &reflect);
        let Some(Decapsulated::Keepalive {
            packet,
            next_header,
        }) = us.decapsulate(nh, &p)
        else {
            panic!()
        };
        assert_eq!((&p[packet.clone()], next_header), (&reflect[..], 4));
        // Transport mode sends its GRE part, tunnel mode the whole packet.
        let keepalive = &p[packet];
        let (t, nh) = reflection(EspMode::Transport, next_header, keepalive).unwrap();
        assert_eq!((&keepalive[t], nh), (&reflect[20..], 47));
        let (t, nh) = reflection(EspMode::Tunnel, next_header, keepalive).unwrap();
        assert_eq!((&keepalive[t], nh), (&reflect[..], 4));
        let other = v4_packet(47, "10.0.0.1", "10.0.0.2");
        let (p, nh) = wrap(&gre(A, B, None), EspMode::Transport, &other);
        assert!(
            matches!(us.decapsulate(nh, &p), Some(Decapsulated::Inner(_))),
            "GRE of others inside is traffic"
        );
    }
}
