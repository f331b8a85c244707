//! Receive offload for the TUN writes: consecutive TCP segments of one flow in a
//! receive batch leave as one TSO packet (`virtio_net_hdr` with a GSO type), so the
//! kernel's TCP stack and the TUN write run once per batch instead of once per
//! segment. The rules are those of the kernel's own GRO (`tcp_gro_receive`): same
//! flow and headers (options included), contiguous sequence numbers, equal segment
//! sizes but for the last, only ACK (and PSH to end a run) set. Each segment's
//! checksum is checked here, since the merged packet goes up marked "checksum
//! partial" and the kernel will not look at it again.

use super::offload::{fold, put16, sum, VNET_HDR_LEN};
use super::sys::BATCH;
use std::io::IoSlice;
use std::ops::Range;

const IPPROTO_TCP: u8 = 6;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
const F_NEEDS_CSUM: u8 = 1;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
/// Largest merged IP packet (the IPv4 total length; IPv6 payload length likewise).
const MAX_MERGED: usize = 65_535 - 40;

/// A decrypted inner packet of the batch: `mem[range]`, with `VNET_HDR_LEN` bytes free
/// (already zero) before it; `spi` says which SA (hence which tunnel) it came through.
#[derive(Debug, Clone)]
pub(crate) struct Ready {
    pub range: Range<usize>,
    pub spi: u32,
}

#[derive(Debug, Clone, Copy)]
struct Tcp {
    v6: bool,
    ip_len: usize,
    header_len: usize,
    seq: u32,
    flags: u8,
}

impl Tcp {
    /// A TCP segment that may take part in a merge; `None` for anything else.
    fn parse(p: &[u8]) -> Option<Tcp> {
        let (v6, ip_len) = match *p.first()? >> 4 {
            // No IPv4 options, no fragments.
            4 if p.len() >= 40
                && p[0] == 0x45
                && p[9] == IPPROTO_TCP
                && p[6] & 0x3f == 0
                && p[7] == 0 =>
            {
                (false, 20)
            }
            // No extension headers.
            6 if p.len() >= 60 && p[6] == IPPROTO_TCP => (true, 40),
            _ => return None,
        };
        let header_len = ip_len + usize::from(p[ip_len + 12] >> 4) * 4;
        let flags = p[ip_len + 13];
        if header_len < ip_len + 20 || header_len >= p.len() || flags & !(TCP_ACK | TCP_PSH) != 0 {
            return None;
        }
        let s = &p[ip_len + 4..ip_len + 8];
        Some(Tcp {
            v6,
            ip_len,
            header_len,
            seq: u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
            flags,
        })
    }

    fn pseudo_sum(&self, p: &[u8], tcp_len: usize) -> u64 {
        let addrs = if self.v6 { &p[8..40] } else { &p[12..20] };
        sum(addrs, u64::from(IPPROTO_TCP) + tcp_len as u64)
    }

    fn checksum_ok(&self, p: &[u8]) -> bool {
        let tcp = &p[self.ip_len..];
        fold(sum(tcp, self.pseudo_sum(p, tcp.len()))) == 0xffff
    }
}

/// Same flow, same headers: everything but lengths, IPv4 ID and checksums, sequence
/// number and PSH must match.
fn same_headers(a: &[u8], b: &[u8], t: &Tcp) -> bool {
    let ip_same = if t.v6 {
        a[..4] == b[..4] && a[6..40] == b[6..40]
    } else {
        a[..2] == b[..2] && a[6..10] == b[6..10] && a[12..20] == b[12..20]
    };
    let (ta, tb) = (&a[t.ip_len..t.header_len], &b[t.ip_len..t.header_len]);
    ip_same
        && a[t.ip_len + 12] == b[t.ip_len + 12]
        && ta[..4] == tb[..4] // ports
        && ta[8..12] == tb[8..12] // acknowledgment number
        && ta[14..16] == tb[14..16] // window
        && ta[20..] == tb[20..] // options
}

struct Group {
    /// Indices into the ready list, in order.
    first: usize,
    last: usize,
    count: usize,
    tcp: Option<Tcp>,
    /// Payload bytes of the first segment: every segment but the last has as many.
    mss: usize,
    /// IP packet length once merged.
    len: usize,
    next_seq: u32,
    /// Takes no more segments (a short or PSH segment ended it, or its flow moved on).
    closed: bool,
}

/// Reused per batch: groups and the links between their members.
pub(crate) struct Coalescer {
    groups: Vec<Group>,
    next_member: [usize; BATCH],
}

impl Coalescer {
    pub fn new() -> Self {
        Coalescer {
            groups: Vec::with_capacity(BATCH),
            next_member: [usize::MAX; BATCH],
        }
    }

    fn group(&mut self, mem: &[u8], ready: &[Ready]) {
        self.groups.clear();
        for (i, r) in ready.iter().enumerate() {
            self.next_member[i] = usize::MAX;
            let p = &mem[r.range.clone()];
            let tcp = Tcp::parse(p).filter(|t| t.checksum_ok(p));
            let payload = p.len() - tcp.map_or(0, |t| t.header_len);
            let open = tcp.and_then(|pt| {
                self.groups.iter_mut().rev().find(|g| {
                    let head = &ready[g.first];
                    g.tcp.is_some_and(|t| {
                        head.spi == r.spi
                            && (t.v6, t.header_len) == (pt.v6, pt.header_len)
                            && same_headers(&mem[head.range.clone()], p, &t)
                    })
                })
            });
            if let (Some(g), Some(t)) = (open, tcp) {
                let fits = !g.closed
                    && t.seq == g.next_seq
                    && payload <= g.mss
                    && g.len + payload <= MAX_MERGED
                    && g.count < BATCH;
                if fits {
                    self.next_member[g.last] = i;
                    g.last = i;
                    g.count += 1;
                    g.len += payload;
                    g.next_seq = t.seq.wrapping_add(payload as u32);
                    g.closed = payload < g.mss || t.flags & TCP_PSH != 0;
                    continue;
                }
                // The flow goes on in a new group; keep its packets in order.
                g.closed = true;
            }
            self.groups.push(Group {
                first: i,
                last: i,
                count: 1,
                tcp,
                mss: payload,
                len: p.len(),
                next_seq: tcp.map_or(0, |t| t.seq.wrapping_add(payload as u32)),
                closed: !matches!(tcp, Some(t) if t.flags & TCP_PSH == 0),
            });
        }
    }

    /// Turn the first packet of a merged group into the head of a TSO packet: merged
    /// lengths, PSH from the last segment, the pseudo-header sum in the TCP checksum
    /// (checksum partial), and the virtio_net_hdr in front.
    fn write_head(mem: &mut [u8], ready: &[Ready], g: &Group, t: &Tcp) {
        let last_flags = mem[ready[g.last].range.start + t.ip_len + 13];
        let start = ready[g.first].range.start;
        let p = &mut mem[start..start + t.header_len];
        let tcp_len = g.len - t.ip_len;
        if t.v6 {
            put16(p, 4, tcp_len as u16);
        } else {
            put16(p, 2, g.len as u16);
            put16(p, 10, 0);
            let c = !fold(sum(&p[..20], 0));
            put16(p, 10, c);
        }
        p[t.ip_len + 13] |= last_flags & TCP_PSH;
        let pseudo = fold(t.pseudo_sum(p, tcp_len));
        put16(p, t.ip_len + 16, pseudo);
        let hdr = &mut mem[start - VNET_HDR_LEN..start];
        hdr[0] = F_NEEDS_CSUM;
        hdr[1] = if t.v6 { GSO_TCPV6 } else { GSO_TCPV4 };
        hdr[2..4].copy_from_slice(&(t.header_len as u16).to_le_bytes());
        hdr[4..6].copy_from_slice(&(g.mss as u16).to_le_bytes());
        hdr[6..8].copy_from_slice(&(t.ip_len as u16).to_le_bytes());
        hdr[8..10].copy_from_slice(&16u16.to_le_bytes());
    }

    /// Merge what can be merged, then hand each resulting TUN write (vnet header
    /// included) to `write` with the SPI it came through, in arrival order of its
    /// first packet.
    pub fn flush(
        &mut self,
        mem: &mut [u8],
        ready: &[Ready],
        mut write: impl FnMut(u32, &[IoSlice]),
    ) {
        self.group(mem, ready);
        for g in &self.groups {
            if let (true, Some(t)) = (g.count > 1, g.tcp) {
                Self::write_head(mem, ready, g, &t);
            }
        }
        let mut slices = [IoSlice::new(&[]); BATCH];
        for g in &self.groups {
            let head = &ready[g.first];
            slices[0] = IoSlice::new(&mem[head.range.start - VNET_HDR_LEN..head.range.end]);
            let skip = g.tcp.map_or(0, |t| t.header_len);
            let (mut n, mut i) = (1, self.next_member[g.first]);
            while i != usize::MAX {
                slices[n] = IoSlice::new(&mem[ready[i].range.start + skip..ready[i].range.end]);
                n += 1;
                i = self.next_member[i];
            }
            write(head.spi, &slices[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::offload::{Segments, VnetHdr};
    use super::*;

    /// A valid TCP segment of `payload` bytes at sequence number `seq`.
    fn segment(v6: bool, seq: u32, payload: usize, flags: u8, id: u16) -> Vec<u8> {
        let ip = if v6 { 40 } else { 20 };
        let mut p = vec![0u8; ip + 32 + payload];
        let len = p.len();
        if v6 {
            p[0] = 0x60;
            put16(&mut p, 4, (len - 40) as u16);
            p[6] = IPPROTO_TCP;
            p[7] = 64;
            p[23] = 2;
            p[39] = 3;
        } else {
            p[0] = 0x45;
            put16(&mut p, 2, len as u16);
            put16(&mut p, 4, id);
            p[6] = 0x40; // DF
            p[8] = 64;
            p[9] = IPPROTO_TCP;
            p[12..20].copy_from_slice(&[192, 168, 23, 2, 192, 168, 23, 3]);
            let c = !fold(sum(&p[..20], 0));
            put16(&mut p, 10, c);
        }
        put16(&mut p, ip, 5201);
        put16(&mut p, ip + 2, 40000);
        p[ip + 4..ip + 8].copy_from_slice(&seq.to_be_bytes());
        p[ip + 8..ip + 12].copy_from_slice(&77u32.to_be_bytes());
        p[ip + 12] = 8 << 4; // 12 bytes of options: NOP NOP timestamps
        p[ip + 13] = flags;
        put16(&mut p, ip + 14, 500);
        p[ip + 20..ip + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7]);
        for (i, b) in p[ip + 32..].iter_mut().enumerate() {
            *b = (seq as usize + i) as u8;
        }
        let addrs = if v6 { &p[8..40] } else { &p[12..20] };
        let pseudo = sum(addrs, u64::from(IPPROTO_TCP) + (len - ip) as u64);
        let c = !fold(sum(&p[ip..], pseudo));
        put16(&mut p, ip + 16, c);
        p
    }

    /// Lay packets out as the receive path does (room for the vnet header in front)
    /// and run the coalescer; returns each write as one buffer, with its SPI.
    fn writes(packets: &[(u32, Vec<u8>)]) -> Vec<(u32, Vec<u8>)> {
        let mut mem = Vec::new();
        let mut ready = Vec::new();
        for (spi, p) in packets {
            mem.extend([0u8; VNET_HDR_LEN + 6]);
            ready.push(Ready {
                range: mem.len()..mem.len() + p.len(),
                spi: *spi,
            });
            mem.extend(p);
        }
        let mut out = Vec::new();
        Coalescer::new().flush(&mut mem, &ready, |spi, slices| {
            out.push((spi, slices.iter().flat_map(|s| s.iter().copied()).collect()));
        });
        out
    }

    /// What the kernel makes of a write: split it again with the transmit path's TSO.
    fn resegment(write: &[u8]) -> Vec<Vec<u8>> {
        let mut w = write.to_vec();
        let hdr = VnetHdr::parse(&w).unwrap();
        let mut segs = Segments::new(hdr, &mut w[VNET_HDR_LEN..]).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 70_000];
        while let Some(n) = segs.next_into(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn a_run_of_segments_becomes_one_write_that_splits_back_into_them() {
        for v6 in [false, true] {
            let segs: Vec<Vec<u8>> = (0..5)
                .map(|i| {
                    segment(
                        v6,
                        1000 + 1300 * i,
                        if i == 4 { 200 } else { 1300 },
                        if i == 4 { TCP_ACK | TCP_PSH } else { TCP_ACK },
                        7 + i as u16,
                    )
                })
                .collect();
            let out = writes(&segs.iter().map(|s| (9, s.clone())).collect::<Vec<_>>());
            assert_eq!(out.len(), 1, "v6 {v6}");
            assert_eq!(out[0].0, 9);
            assert_eq!(out[0].1[1], if v6 { GSO_TCPV6 } else { GSO_TCPV4 });
            assert_eq!(resegment(&out[0].1), segs, "v6 {v6}");
        }
    }

    #[test]
    fn merging_stops_where_the_kernel_would() {
        let s = |seq, len, flags| (9, segment(false, seq, len, flags, 1));
        let mut other_flow = segment(false, 5000, 100, TCP_ACK, 1);
        other_flow[20] = 0x99; // another source port (checksum now wrong: goes alone)
        type Case = (&'static str, Vec<(u32, Vec<u8>)>, usize);
        let cases: Vec<Case> = vec![
            (
                "gap in sequence numbers",
                vec![s(0, 100, TCP_ACK), s(200, 100, TCP_ACK)],
                2,
            ),
            (
                "PSH ends a run",
                vec![s(0, 100, TCP_ACK | TCP_PSH), s(100, 100, TCP_ACK)],
                2,
            ),
            (
                "short segment ends a run",
                vec![s(0, 100, TCP_ACK), s(100, 50, TCP_ACK), s(150, 50, TCP_ACK)],
                2,
            ),
            (
                "SYN/FIN are never merged",
                vec![s(0, 100, TCP_ACK), s(100, 100, TCP_ACK | 0x01)],
                2,
            ),
            (
                "other SA",
                vec![
                    s(0, 100, TCP_ACK),
                    (8, segment(false, 100, 100, TCP_ACK, 1)),
                ],
                2,
            ),
            (
                "bad checksum goes alone",
                vec![s(0, 100, TCP_ACK), (9, other_flow)],
                2,
            ),
            (
                "contiguous run",
                vec![
                    s(0, 100, TCP_ACK),
                    s(100, 100, TCP_ACK),
                    s(200, 100, TCP_ACK),
                ],
                1,
            ),
        ];
        for (what, packets, expected) in cases {
            let out = writes(&packets);
            assert_eq!(out.len(), expected, "{what}");
            let total: usize = out.iter().map(|w| w.1.len() - VNET_HDR_LEN).sum();
            let merged_headers = (packets.len() - expected) * 52;
            assert_eq!(
                total + merged_headers,
                packets.iter().map(|p| p.1.len()).sum::<usize>(),
                "{what}"
            );
        }
    }

    #[test]
    fn lone_packets_go_as_they_are() {
        let udp = {
            let mut p = vec![0u8; 28];
            p[0] = 0x45;
            p[9] = 17;
            p
        };
        let out = writes(&[(9, udp.clone())]);
        assert_eq!(out[0].1[..VNET_HDR_LEN], [0; VNET_HDR_LEN]);
        assert_eq!(out[0].1[VNET_HDR_LEN..], udp[..]);
    }
}
