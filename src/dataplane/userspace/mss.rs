//! `ip tcp adjust-mss N` / `ipv6 tcp adjust-mss N`: IOS lowers the MSS option of every
//! TCP SYN (and SYN-ACK) that crosses the tunnel interface, in either direction and
//! whoever sent it, to N, so that neither end sends segments that the tunnel would
//! have to fragment. The transmit threads clamp what leaves the TUN device, the
//! receive threads what they write to it: the packet is rewritten in place and its
//! TCP checksum updated incrementally (RFC 1624), without allocation.

use super::offload::fold;
use std::sync::atomic::{AtomicU16, Ordering::Relaxed};

const IPPROTO_TCP: u8 = 6;
/// IPv6 extension headers a SYN may carry before TCP (RFC 8200 4): hop-by-hop
/// options, routing, destination options. A fragment header ends the search: a
/// fragmented SYN is left alone.
const IPV6_EXTENSIONS: [u8; 3] = [0, 43, 60];
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
/// TCP option kinds (RFC 9293 3.2).
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;

/// A tunnel's `adjust-mss` values, which the packet threads read and a reload may
/// change; 0 is off.
#[derive(Debug, Default)]
pub(crate) struct MssClamp {
    v4: AtomicU16,
    v6: AtomicU16,
}

impl MssClamp {
    pub fn set(&self, v4: Option<u16>, v6: Option<u16>) {
        self.v4.store(v4.unwrap_or(0), Relaxed);
        self.v6.store(v6.unwrap_or(0), Relaxed);
    }

    /// Lower the MSS of `packet` (a whole IPv4 or IPv6 packet) if it is a TCP SYN
    /// whose MSS exceeds its family's value; true if it was rewritten.
    pub fn apply(&self, packet: &mut [u8]) -> bool {
        let max = match packet.first().map(|b| b >> 4) {
            Some(4) => self.v4.load(Relaxed),
            Some(6) => self.v6.load(Relaxed),
            _ => return false,
        };
        max != 0 && clamp(packet, max)
    }
}

/// Where the TCP header of an IP packet starts, if it carries one from its first byte
/// on (not a later fragment).
fn tcp_offset(packet: &[u8]) -> Option<usize> {
    match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let fragment_offset = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]) & 0x1fff;
            (ihl >= 20 && *packet.get(9)? == IPPROTO_TCP && fragment_offset == 0).then_some(ihl)
        }
        6 => {
            let (mut next, mut at) = (*packet.get(6)?, 40);
            while IPV6_EXTENSIONS.contains(&next) {
                next = *packet.get(at)?;
                at += (usize::from(*packet.get(at + 1)?) + 1) * 8;
            }
            (next == IPPROTO_TCP).then_some(at)
        }
        _ => None,
    }
}

/// Lower the MSS option of a TCP SYN in `packet` to `max`; true if it was rewritten.
pub(crate) fn clamp(packet: &mut [u8], max: u16) -> bool {
    let Some(tcp) = tcp_offset(packet) else {
        return false;
    };
    let Some(&flags) = packet.get(tcp + 13) else {
        return false;
    };
    if flags & (TCP_SYN | TCP_RST) != TCP_SYN {
        return false;
    }
    let header_len = usize::from(packet[tcp + 12] >> 4) * 4;
    if header_len < 20 || tcp + header_len > packet.len() {
        return false;
    }
    let mut at = 20;
    while at < header_len {
        match packet[tcp + at] {
            OPT_EOL => return false,
            OPT_NOP => at += 1,
            kind => {
                let len = usize::from(*packet.get(tcp + at + 1).unwrap_or(&0));
                if len < 2 || at + len > header_len {
                    return false;
                }
                if kind == OPT_MSS && len == 4 {
                    return lower(packet, tcp, at + 2, max);
                }
                at += len;
            }
        }
    }
    false
}

/// Write `max` over the MSS at `tcp + field` if it is larger, and update the TCP
/// checksum for the 16-bit words that changed (the field may straddle two).
fn lower(packet: &mut [u8], tcp: usize, field: usize, max: u16) -> bool {
    let mss = u16::from_be_bytes([packet[tcp + field], packet[tcp + field + 1]]);
    if mss <= max {
        return false;
    }
    // The checksum's words are aligned on the TCP header.
    let first = field & !1;
    let last = (field + 2 + 1) & !1;
    let word = |p: &[u8], i: usize| u64::from(u16::from_be_bytes([p[tcp + i], p[tcp + i + 1]]));
    let checksum = u16::from_be_bytes([packet[tcp + 16], packet[tcp + 17]]);
    // RFC 1624 3: HC' = ~(~HC + ~m + m').
    let mut acc = u64::from(!checksum);
    for i in (first..last).step_by(2) {
        acc += u64::from(!(word(packet, i) as u16));
    }
    packet[tcp + field..tcp + field + 2].copy_from_slice(&max.to_be_bytes());
    for i in (first..last).step_by(2) {
        acc += word(packet, i);
    }
    packet[tcp + 16..tcp + 18].copy_from_slice(&(!fold(acc)).to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::userspace::offload::sum;

    /// A TCP SYN with `options` (padded to a multiple of 4), checksum computed from
    /// scratch over the pseudo-header (RFC 9293 3.1, RFC 8200 8.1).
    fn syn(v6: bool, flags: u8, options: &[u8]) -> Vec<u8> {
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[13] = flags;
        tcp.extend_from_slice(options);
        while !tcp.len().is_multiple_of(4) {
            tcp.push(OPT_EOL);
        }
        tcp[12] = ((tcp.len() / 4) as u8) << 4;
        let mut p = if v6 {
            let mut h = vec![0u8; 40];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(tcp.len() as u16).to_be_bytes());
            h[6] = IPPROTO_TCP;
            h[8..24].copy_from_slice(
                &"2001:db8::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
            );
            h[24..40].copy_from_slice(
                &"2001:db8::9"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
            );
            h
        } else {
            let mut h = vec![0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
            h[9] = IPPROTO_TCP;
            h[12..16].copy_from_slice(&[192, 0, 2, 1]);
            h[16..20].copy_from_slice(&[198, 51, 100, 9]);
            h
        };
        let at = p.len();
        p.extend_from_slice(&tcp);
        let c = tcp_checksum(&p, at);
        p[at + 16..at + 18].copy_from_slice(&c.to_be_bytes());
        p
    }

    /// The TCP checksum of `p` computed from scratch (field taken as zero).
    fn tcp_checksum(p: &[u8], at: usize) -> u16 {
        let mut seg = p[at..].to_vec();
        seg[16] = 0;
        seg[17] = 0;
        let len = seg.len() as u64;
        let addresses = if p[0] >> 4 == 6 {
            &p[8..40]
        } else {
            &p[12..20]
        };
        !fold(sum(&seg, sum(addresses, u64::from(IPPROTO_TCP) + len)))
    }

    fn mss_of(p: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([p[at], p[at + 1]])
    }

    #[test]
    fn a_syn_above_the_limit_is_lowered_and_its_checksum_stays_right() {
        for v6 in [false, true] {
            let ip = if v6 { 40 } else { 20 };
            // MSS 1460 first, as Linux sends it.
            let mut p = syn(v6, TCP_SYN, &[OPT_MSS, 4, 0x05, 0xb4, 4, 2]);
            assert!(clamp(&mut p, 1360));
            assert_eq!(mss_of(&p, ip + 22), 1360);
            assert_eq!(
                u16::from_be_bytes([p[ip + 16], p[ip + 17]]),
                tcp_checksum(&p, ip)
            );
            // A SYN-ACK, the MSS on an odd offset after a NOP: the field straddles two
            // checksum words.
            let mut p = syn(v6, TCP_SYN | 0x10, &[OPT_NOP, OPT_MSS, 4, 0x23, 0x28]);
            assert!(clamp(&mut p, 1300));
            assert_eq!(mss_of(&p, ip + 23), 1300);
            assert_eq!(
                u16::from_be_bytes([p[ip + 16], p[ip + 17]]),
                tcp_checksum(&p, ip)
            );
        }
    }

    #[test]
    fn what_is_not_a_syn_above_the_limit_is_left_alone() {
        let opts = [OPT_MSS, 4, 0x05, 0xb4];
        for (what, mut p, max) in [
            ("below the limit", syn(false, TCP_SYN, &opts), 1460),
            ("not a SYN", syn(false, 0x10, &opts), 1000),
            ("SYN with RST", syn(false, TCP_SYN | TCP_RST, &opts), 1000),
            (
                "no MSS option",
                syn(true, TCP_SYN, &[OPT_NOP, OPT_NOP, 4, 2]),
                1000,
            ),
            (
                "after EOL",
                syn(true, TCP_SYN, &[OPT_EOL, 0, 0, 0, OPT_MSS, 4, 5, 0xb4]),
                1000,
            ),
            (
                "bad option length",
                syn(false, TCP_SYN, &[3, 0, 5, 0xb4]),
                1000,
            ),
        ] {
            let before = p.clone();
            assert!(!clamp(&mut p, max), "{what}");
            assert_eq!(p, before, "{what}");
        }
        // A later IPv4 fragment, UDP, garbage, truncation: never a panic.
        let mut frag = syn(false, TCP_SYN, &opts);
        frag[7] = 1;
        assert!(!clamp(&mut frag, 1000));
        let mut udp = syn(false, TCP_SYN, &opts);
        udp[9] = 17;
        assert!(!clamp(&mut udp, 1000));
        let whole = syn(true, TCP_SYN, &opts);
        for n in 0..whole.len() {
            assert!(!clamp(&mut whole[..n].to_vec(), 1000), "truncated to {n}");
        }
    }

    /// Hop-by-hop options before TCP, as some hosts send with jumbograms or MLD.
    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let mut p = syn(true, TCP_SYN, &[OPT_MSS, 4, 0x07, 0x94]);
        let hbh = vec![IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0];
        p[6] = 0;
        p.splice(40..40, hbh);
        let payload = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&payload.to_be_bytes());
        let c = MssClamp::default();
        c.set(Some(1200), None);
        assert!(!c.apply(&mut p), "only ipv6 tcp adjust-mss applies to IPv6");
        c.set(None, Some(1340));
        assert!(c.apply(&mut p));
        assert_eq!(mss_of(&p, 48 + 22), 1340);
        assert_eq!(
            u16::from_be_bytes([p[48 + 16], p[48 + 17]]),
            tcp_checksum(&p, 48)
        );
    }
}
