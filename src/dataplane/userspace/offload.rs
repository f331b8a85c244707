//! TUN offloads (IFF_VNET_HDR): the kernel hands the transmit threads whole TCP
//! segments of up to 64 KB (TSO) and packets whose checksum is left to the device;
//! here they become wire-ready IP packets, one MSS each, with every checksum done.
//! One TUN read then replaces up to ~45, and the kernel's TCP stack does its per-packet
//! work once per 64 KB instead of per MSS.
//!
//! Every packet through the TUN device carries a `virtio_net_hdr` (virtio 1.x 5.1.6,
//! little-endian on this device) first.

/// `struct virtio_net_hdr` without the mergeable-buffers field.
pub(crate) const VNET_HDR_LEN: usize = 10;
const F_NEEDS_CSUM: u8 = 1;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_ECN: u8 = 0x80;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;
const IPPROTO_TCP: u8 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VnetHdr {
    flags: u8,
    gso_type: u8,
    gso_size: u16,
    csum_start: u16,
    csum_offset: u16,
}

impl VnetHdr {
    pub fn parse(b: &[u8]) -> Option<Self> {
        let le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        (b.len() >= VNET_HDR_LEN).then(|| VnetHdr {
            flags: b[0],
            gso_type: b[1],
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }
}

/// Ones' complement sum (RFC 1071) of `data` added to `acc`, by 32-bit words: their
/// sum folds to the same 16-bit result, in half the additions.
pub(super) fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        acc += u64::from(b) << if i % 2 == 0 { 8 } else { 0 };
    }
    acc
}

pub(super) fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

pub(super) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}
fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// A packet read from the TUN device, to be cut into wire packets.
pub(crate) struct Segments<'a> {
    packet: &'a [u8],
    /// IP + TCP header bytes copied in front of each segment (TSO), or 0.
    header_len: usize,
    ip_header_len: usize,
    mss: usize,
    next: usize,
    count: usize,
}

impl<'a> Segments<'a> {
    /// Prepare `packet` (after the vnet header). Packets with a checksum left to us
    /// get it now; `None` drops what cannot be made sense of.
    pub fn new(hdr: VnetHdr, packet: &'a mut [u8]) -> Option<Self> {
        match hdr.gso_type & !GSO_ECN {
            GSO_NONE => {
                if hdr.flags & F_NEEDS_CSUM != 0 {
                    // The field holds the pseudo-header sum: sum from csum_start on.
                    let start = usize::from(hdr.csum_start);
                    let field = start + usize::from(hdr.csum_offset);
                    if field + 2 > packet.len() {
                        return None;
                    }
                    let c = !fold(sum(&packet[start..], 0));
                    put16(packet, field, c);
                }
                Some(Segments {
                    count: 1,
                    header_len: 0,
                    ip_header_len: 0,
                    mss: packet.len(),
                    next: 0,
                    packet,
                })
            }
            GSO_TCPV4 | GSO_TCPV6 => {
                let ip_header_len = match (hdr.gso_type & !GSO_ECN, packet.first()? >> 4) {
                    (GSO_TCPV4, 4) => usize::from(packet[0] & 0x0f) * 4,
                    // No extension headers: the kernel's TCP does not add any.
                    (GSO_TCPV6, 6) if packet.len() > 40 && packet[6] == IPPROTO_TCP => 40,
                    _ => return None,
                };
                let tcp_len = usize::from(*packet.get(ip_header_len + 12)? >> 4) * 4;
                let header_len = ip_header_len + tcp_len;
                let mss = usize::from(hdr.gso_size);
                if ip_header_len < 20 || tcp_len < 20 || header_len >= packet.len() || mss == 0 {
                    return None;
                }
                Some(Segments {
                    count: (packet.len() - header_len).div_ceil(mss),
                    packet,
                    header_len,
                    ip_header_len,
                    mss,
                    next: 0,
                })
            }
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.next == self.count
    }

    /// Write the next wire packet into `out`; returns its length, or `None` when done
    /// (or when `out` is too small, which drops the rest).
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let i = self.next;
        self.next += 1;
        if self.header_len == 0 {
            let p = out.get_mut(..self.packet.len())?;
            p.copy_from_slice(self.packet);
            return Some(p.len());
        }
        let (h, ip) = (self.header_len, self.ip_header_len);
        let payload = &self.packet[h..];
        let chunk = &payload[i * self.mss..((i + 1) * self.mss).min(payload.len())];
        let len = h + chunk.len();
        let p = out.get_mut(..len)?;
        p[..h].copy_from_slice(&self.packet[..h]);
        p[h..].copy_from_slice(chunk);
        let tcp_len = len - ip;
        // IP header: length, and on IPv4 a fresh ID and header checksum (RFC 791).
        let pseudo = if p[0] >> 4 == 4 {
            put16(p, 2, len as u16);
            put16(p, 4, get16(p, 4).wrapping_add(i as u16));
            put16(p, 10, 0);
            put16(p, 10, !fold(sum(&p[..ip], 0)));
            sum(&p[12..20], u64::from(IPPROTO_TCP) + tcp_len as u64)
        } else {
            put16(p, 4, tcp_len as u16);
            sum(&p[8..40], u64::from(IPPROTO_TCP) + tcp_len as u64)
        };
        // TCP: sequence number moves by the MSS; FIN and PSH only on the last segment,
        // CWR only on the first (as the kernel's own tcp_gso_segment does).
        let seq = u32::from_be_bytes([p[ip + 4], p[ip + 5], p[ip + 6], p[ip + 7]])
            .wrapping_add((i * self.mss) as u32);
        p[ip + 4..ip + 8].copy_from_slice(&seq.to_be_bytes());
        if i + 1 < self.count {
            p[ip + 13] &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            p[ip + 13] &= !TCP_CWR;
        }
        put16(p, ip + 16, 0);
        let c = !fold(sum(&p[ip..], pseudo));
        put16(p, ip + 16, c);
        Some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_tcp(p: &[u8]) -> bool {
        let (ip, pseudo) = if p[0] >> 4 == 4 {
            let ip = usize::from(p[0] & 0xf) * 4;
            if fold(sum(&p[..ip], 0)) != 0xffff {
                return false;
            }
            (ip, sum(&p[12..20], 6 + (p.len() - ip) as u64))
        } else {
            (40, sum(&p[8..40], 6 + (p.len() - 40) as u64))
        };
        fold(sum(&p[ip..], pseudo)) == 0xffff
    }

    /// A TSO packet as the kernel hands it over: headers once, then `payload` bytes.
    fn tso(v6: bool, payload: usize, flags: u8) -> Vec<u8> {
        let ip = if v6 { 40 } else { 20 };
        let mut p = vec![0u8; ip + 20 + payload];
        if v6 {
            p[0] = 0x60;
            put16(&mut p, 4, (20 + payload) as u16);
            p[6] = IPPROTO_TCP;
            p[8..24].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            p[24..40]
                .copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
        } else {
            p[0] = 0x45;
            put16(&mut p, 2, (20 + 20 + payload) as u16);
            put16(&mut p, 4, 0x1234);
            p[8] = 64;
            p[9] = IPPROTO_TCP;
            p[12..20].copy_from_slice(&[192, 168, 23, 2, 192, 168, 23, 3]);
        }
        p[ip + 4..ip + 8].copy_from_slice(&0xffff_fff0u32.to_be_bytes()); // wraps
        p[ip + 12] = 5 << 4;
        p[ip + 13] = flags;
        for (i, b) in p[ip + 20..].iter_mut().enumerate() {
            *b = i as u8;
        }
        p
    }

    fn hdr(gso_type: u8, mss: u16) -> VnetHdr {
        VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type,
            gso_size: mss,
            csum_start: 0,
            csum_offset: 0,
        }
    }

    fn cut(mut big: Vec<u8>, h: VnetHdr) -> Vec<Vec<u8>> {
        let mut segs = Segments::new(h, &mut big).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 2000];
        while let Some(n) = segs.next_into(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn tso_segments_are_valid_tcp_with_moving_sequence_numbers() {
        for v6 in [false, true] {
            let ip = if v6 { 40 } else { 20 };
            let gso = if v6 { GSO_TCPV6 } else { GSO_TCPV4 };
            let big = tso(v6, 3000, TCP_PSH | TCP_FIN | TCP_CWR | 0x10);
            let segs = cut(big.clone(), hdr(gso | GSO_ECN, 1300));
            assert_eq!(
                segs.iter().map(Vec::len).collect::<Vec<_>>(),
                [ip + 1320, ip + 1320, ip + 420]
            );
            let mut payload = Vec::new();
            for (i, s) in segs.iter().enumerate() {
                assert!(valid_tcp(s), "segment {i} checksums (v6 {v6})");
                let seq = u32::from_be_bytes(s[ip + 4..ip + 8].try_into().unwrap());
                assert_eq!(seq, 0xffff_fff0u32.wrapping_add(1300 * i as u32));
                let flags = s[ip + 13];
                assert_eq!(
                    flags & (TCP_FIN | TCP_PSH) != 0,
                    i == 2,
                    "FIN/PSH on the last only"
                );
                assert_eq!(flags & TCP_CWR != 0, i == 0, "CWR on the first only");
                assert_eq!(flags & 0x10, 0x10, "ACK kept");
                if v6 {
                    assert_eq!(usize::from(get16(s, 4)), s.len() - 40);
                } else {
                    assert_eq!(usize::from(get16(s, 2)), s.len());
                    assert_eq!(get16(s, 4), 0x1234 + i as u16);
                }
                payload.extend_from_slice(&s[ip + 20..]);
            }
            assert_eq!(payload, big[ip + 20..]);
        }
    }

    #[test]
    fn partial_checksum_is_completed() {
        // A UDP/IPv4 packet whose checksum field holds only the pseudo-header sum.
        let mut p = vec![
            0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 192, 168, 23, 2, 192, 168, 23, 3,
        ];
        p.extend([0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4]);
        let pseudo = fold(sum(&p[12..20], 17 + 12));
        put16(&mut p, 26, pseudo);
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_NONE,
            gso_size: 0,
            csum_start: 20,
            csum_offset: 6,
        };
        let out = cut(p, h);
        assert_eq!(out.len(), 1);
        let full = sum(&out[0][12..20], 17 + 12);
        assert_eq!(fold(sum(&out[0][20..], full)), 0xffff);
    }

    #[test]
    fn bad_offload_requests_are_dropped() {
        let mut v4 = tso(false, 100, 0);
        assert!(
            Segments::new(hdr(GSO_TCPV6, 50), &mut v4).is_none(),
            "family mismatch"
        );
        assert!(
            Segments::new(hdr(GSO_TCPV4, 0), &mut v4).is_none(),
            "zero MSS"
        );
        assert!(
            Segments::new(hdr(3, 50), &mut v4).is_none(),
            "UDP fragmentation offload"
        );
        let bad = VnetHdr {
            csum_start: 200,
            ..hdr(GSO_NONE, 0)
        };
        assert!(
            Segments::new(bad, &mut v4).is_none(),
            "checksum beyond the packet"
        );
        assert!(
            Segments::new(hdr(GSO_TCPV4, 50), &mut v4[..30]).is_none(),
            "truncated"
        );
        assert!(Segments::new(hdr(GSO_TCPV4, 50), &mut []).is_none());
    }
}
