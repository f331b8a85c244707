//! The kernel path's tunnel interface: an xfrm interface, or vti/vti6 where the
//! kernel has none. Its addresses, MTU and routes are set by `dataplane::link`.

use crate::dataplane::link::{self, Rtnl};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::{
    link::{InfoData, InfoKind, InfoVti, InfoXfrm, LinkAttribute, LinkInfo},
    RouteNetlinkMessage,
};
use std::io;
use std::net::IpAddr;

/// What a tunnel interface is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkKind {
    /// `ip link add NAME type xfrm if_id ID`
    Xfrm { if_id: u32 },
    /// `ip link add NAME type vti6 local L remote R key K` (vti for IPv4 outer)
    Vti {
        key: u32,
        local: IpAddr,
        remote: IpAddr,
    },
}

/// Create the interface (down, no addresses) and return its index.
pub(super) fn create(nl: &mut Rtnl, name: &str, kind: LinkKind) -> io::Result<u32> {
    let info = match kind {
        LinkKind::Xfrm { if_id } => vec![
            LinkInfo::Kind(InfoKind::Xfrm),
            LinkInfo::Data(InfoData::Xfrm(vec![InfoXfrm::IfId(if_id)])),
        ],
        LinkKind::Vti { key, local, remote } => vec![
            LinkInfo::Kind(if local.is_ipv6() {
                InfoKind::Vti6
            } else {
                InfoKind::Vti
            }),
            LinkInfo::Data(InfoData::Vti(vec![
                InfoVti::IKey(key),
                InfoVti::OKey(key),
                InfoVti::Local(local),
                InfoVti::Remote(remote),
            ])),
        ],
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
