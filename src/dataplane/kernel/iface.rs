//! The kernel path's tunnel interface: an xfrm interface, or vti/vti6 where the
//! kernel has none, for a VTI; a gre/ip6gre interface for GRE over IPsec. Its
//! addresses, MTU and routes are set by `dataplane::link`.

use crate::dataplane::link::{self, Rtnl};
use netlink_packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::{
    link::{
        GreIOFlags, InfoData, InfoGre, InfoGre6, InfoKind, InfoVti, InfoXfrm, LinkAttribute,
        LinkInfo,
    },
    RouteNetlinkMessage,
};
use std::io;
use std::net::IpAddr;

/// IOS's tunnel TTL (`tunnel ttl`, default 255) for the GRE delivery header.
const GRE_TTL: u8 = 255;
/// IFLA_GRE_FLAGS (linux/if_tunnel.h) and its IP6_TNL_F_IGN_ENCAP_LIMIT: ip6gre would
/// otherwise put a tunnel encapsulation limit option (RFC 2473 4.1) in every packet,
/// which IOS does not send.
const IFLA_GRE_FLAGS: u16 = 13;
const IP6_TNL_F_IGN_ENCAP_LIMIT: u32 = 0x1;

/// What a tunnel interface is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkKind {
    /// `ip link add NAME type xfrm if_id ID [dev LINK]`: LINK (a VRF device) is where the
    /// outer packets are routed.
    Xfrm { if_id: u32, link: Option<u32> },
    /// `ip link add NAME type vti6 local L remote R key K [dev LINK]` (vti for IPv4
    /// outer)
    Vti {
        key: u32,
        local: IpAddr,
        remote: IpAddr,
        link: Option<u32>,
    },
    /// `ip link add NAME type gre|ip6gre local L remote R [key K] ttl 255 [dev LINK]`
    /// (ip6gre with `encaplimit none`).
    Gre {
        local: IpAddr,
        remote: IpAddr,
        key: Option<u32>,
        link: Option<u32>,
    },
}

/// The attributes of a gre (IPv4) or ip6gre (IPv6) interface.
fn gre_info(local: IpAddr, remote: IpAddr, key: Option<u32>, link: Option<u32>) -> Vec<LinkInfo> {
    let flags = if key.is_some() {
        GreIOFlags::Key
    } else {
        GreIOFlags::empty()
    };
    match (local, remote) {
        (IpAddr::V4(l), IpAddr::V4(r)) => {
            let mut data = vec![
                InfoGre::Local(l),
                InfoGre::Remote(r),
                InfoGre::Ttl(GRE_TTL),
                InfoGre::IFlags(flags),
                InfoGre::OFlags(flags),
            ];
            data.extend(
                key.into_iter()
                    .flat_map(|k| [InfoGre::IKey(k), InfoGre::OKey(k)]),
            );
            data.extend(link.map(InfoGre::Link));
            vec![
                LinkInfo::Kind(InfoKind::GreTun),
                LinkInfo::Data(InfoData::GreTun(data)),
            ]
        }
        _ => {
            let ip6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let mut data = vec![
                InfoGre6::Local(ip6(local)),
                InfoGre6::Remote(ip6(remote)),
                InfoGre6::Ttl(GRE_TTL),
                InfoGre6::IFlags(flags),
                InfoGre6::OFlags(flags),
                InfoGre6::Other(DefaultNla::new(
                    IFLA_GRE_FLAGS,
                    IP6_TNL_F_IGN_ENCAP_LIMIT.to_ne_bytes().to_vec(),
                )),
            ];
            data.extend(
                key.into_iter()
                    .flat_map(|k| [InfoGre6::IKey(k), InfoGre6::OKey(k)]),
            );
            data.extend(link.map(InfoGre6::Link));
            vec![
                LinkInfo::Kind(InfoKind::GreTun6),
                LinkInfo::Data(InfoData::GreTun6(data)),
            ]
        }
    }
}

/// Create the interface (down, no addresses) and return its index.
pub(super) fn create(nl: &mut Rtnl, name: &str, kind: LinkKind) -> io::Result<u32> {
    let info = match kind {
        LinkKind::Xfrm { if_id, link } => {
            let mut data = vec![InfoXfrm::IfId(if_id)];
            data.extend(link.map(InfoXfrm::Link));
            vec![
                LinkInfo::Kind(InfoKind::Xfrm),
                LinkInfo::Data(InfoData::Xfrm(data)),
            ]
        }
        LinkKind::Gre {
            local,
            remote,
            key,
            link,
        } => gre_info(local, remote, key, link),
        LinkKind::Vti {
            key,
            local,
            remote,
            link,
        } => {
            let mut data = vec![
                InfoVti::IKey(key),
                InfoVti::OKey(key),
                InfoVti::Local(local),
                InfoVti::Remote(remote),
            ];
            data.extend(link.map(InfoVti::Link));
            vec![
                LinkInfo::Kind(if local.is_ipv6() {
                    InfoKind::Vti6
                } else {
                    InfoKind::Vti
                }),
                LinkInfo::Data(InfoData::Vti(data)),
            ]
        }
    };
    let req = link::link_msg(
        0,
        vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(info),
        ],
    );
    nl.request(RouteNetlinkMessage::NewLink(req), NLM_F_CREATE | NLM_F_EXCL)?;
    link::index(nl, name)
}
