//! `crypto ipsec df-bit clear | set | copy` for IPv4 outer headers. IOS's default,
//! `copy`, gives the outer header the DF bit of an inner IPv4 packet; an inner IPv6
//! packet is never fragmented on its way (RFC 8200 5), so its outer header gets DF, as
//! the kernel's XFRM does. IPv6 outer headers have no DF bit: the line does not
//! concern them.
//!
//! Packets that go with DF leave through the raw ESP (or UDP) socket, whose kernel
//! default sets DF and fragments locally only once it has learnt a smaller path MTU.
//! Packets that go without DF get an IPv4 header of our own and leave through an
//! IPPROTO_RAW socket (which never receives, so it costs the receive path nothing);
//! one larger than the path MTU known at install takes the raw ESP socket instead,
//! whose fragments carry no DF either.

use crate::dataplane::DfBit;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

pub(crate) const IPV4_HEADER_LEN: usize = 20;
const IPV4_DF: u8 = 0x40;
/// The outer TTL; the kernel's default for raw sockets (net.ipv4.ip_default_ttl).
pub(crate) const TTL: u8 = 64;

/// A tunnel's `df-bit`, which the transmit threads read and a reload may change.
#[derive(Debug)]
pub(crate) struct OuterDf(AtomicU8);

impl Default for OuterDf {
    fn default() -> Self {
        OuterDf(AtomicU8::new(DfBit::default() as u8))
    }
}

impl OuterDf {
    pub fn set(&self, df: DfBit) {
        self.0.store(df as u8, Relaxed);
    }

    pub fn get(&self) -> DfBit {
        match self.0.load(Relaxed) {
            x if x == DfBit::Clear as u8 => DfBit::Clear,
            x if x == DfBit::Set as u8 => DfBit::Set,
            _ => DfBit::Copy,
        }
    }
}

/// Does the outer IPv4 header of `inner` (a whole IP packet) carry DF under `df`?
pub(crate) fn wants_df(df: DfBit, inner: &[u8]) -> bool {
    match df {
        DfBit::Clear => false,
        DfBit::Set => true,
        DfBit::Copy => match inner.first().map(|b| b >> 4) {
            Some(4) => inner.get(6).is_some_and(|b| b & IPV4_DF != 0),
            _ => true,
        },
    }
}

/// An IPv4 header without DF in front of `payload_len` bytes of `protocol`, its
/// identification and checksum zero: on an IPPROTO_RAW socket the kernel fills them in
/// (raw(7), IP_HDRINCL); GRE's delivery header inside ESP sums itself (`gre.rs`).
pub(crate) fn ipv4_header(
    h: &mut [u8],
    payload_len: usize,
    protocol: u8,
    ttl: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Option<()> {
    let total = u16::try_from(IPV4_HEADER_LEN + payload_len).ok()?;
    let h = h.get_mut(..IPV4_HEADER_LEN)?;
    h.fill(0);
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[8] = ttl;
    h[9] = protocol;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[6] = flags;
        p
    }

    #[test]
    fn copy_follows_the_inner_packet_set_and_clear_do_not() {
        let v6 = {
            let mut p = vec![0u8; 48];
            p[0] = 0x60;
            p
        };
        for (df, with_df, without_df, ipv6) in [
            (DfBit::Copy, true, false, true),
            (DfBit::Set, true, true, true),
            (DfBit::Clear, false, false, false),
        ] {
            assert_eq!(wants_df(df, &v4(IPV4_DF)), with_df, "{df:?}");
            assert_eq!(wants_df(df, &v4(0x20)), without_df, "{df:?}, MF only");
            assert_eq!(wants_df(df, &v6), ipv6, "{df:?}, IPv6 inner");
        }
        let o = OuterDf::default();
        assert_eq!(o.get(), DfBit::Copy, "IOS's default");
        for df in [DfBit::Clear, DfBit::Set, DfBit::Copy] {
            o.set(df);
            assert_eq!(o.get(), df);
        }
    }

    #[test]
    fn the_header_has_no_df_and_leaves_the_rest_to_the_kernel() {
        let mut h = [0xffu8; 24];
        ipv4_header(
            &mut h,
            100,
            50,
            TTL,
            Ipv4Addr::new(192, 0, 2, 2),
            Ipv4Addr::new(192, 0, 2, 3),
        )
        .unwrap();
        assert_eq!(
            h[..20],
            [0x45, 0, 0, 120, 0, 0, 0, 0, 64, 50, 0, 0, 192, 0, 2, 2, 192, 0, 2, 3]
        );
        assert_eq!(h[20..], [0xff; 4], "nothing written past the header");
        assert!(ipv4_header(
            &mut h,
            70_000,
            50,
            TTL,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED
        )
        .is_none());
    }
}
