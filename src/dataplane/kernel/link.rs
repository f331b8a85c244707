//! rtnetlink: the tunnel interface (xfrm interface or vti/vti6), its addresses,
//! MTU, IPv6 link-local and routes, as `ip link|addr|route` would set them.

use super::netlink::{Netlink, Protocol};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::{
    address::{AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope},
    link::{
        AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoKind, InfoVti, InfoXfrm,
        LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    },
    route::{
        RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
        RouteType,
    },
    AddressFamily, RouteNetlinkMessage,
};
use std::io;
use std::net::{IpAddr, Ipv6Addr};

/// Message types whose replies we read (RTM_NEWLINK, RTM_NEWADDR).
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;

impl Protocol for RouteNetlinkMessage {
    const PROTOCOL: isize = netlink_sys::constants::NETLINK_ROUTE;
    fn min_payload_len(message_type: u16) -> Option<usize> {
        // netlink-packet-route checks lengths itself.
        matches!(message_type, RTM_NEWLINK | RTM_NEWADDR).then_some(0)
    }
}

const IPV6_MIN_MTU: u32 = 1280;

pub(super) type Rtnl = Netlink<RouteNetlinkMessage>;

/// Interface alias marking a link as created by ikev1d, so a restarted daemon
/// replaces its own leftovers and never someone else's interface.
pub(super) const OWNER_ALIAS: &str = "ikev1d";

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

pub(super) struct Link {
    pub index: u32,
    pub alias: Option<String>,
}

fn link_msg(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes = attributes;
    m
}

/// The link called `name`, if any.
pub(super) fn find(nl: &mut Rtnl, name: &str) -> io::Result<Option<Link>> {
    let req = RouteNetlinkMessage::GetLink(link_msg(0, vec![LinkAttribute::IfName(name.into())]));
    match nl.request(req, 0) {
        Ok(replies) => Ok(replies.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(Link {
                index: l.header.index,
                alias: l.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfAlias(s) => Some(s),
                    _ => None,
                }),
            }),
            _ => None,
        })),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
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
    let req = link_msg(
        0,
        vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(info),
        ],
    );
    nl.request(RouteNetlinkMessage::NewLink(req), NLM_F_CREATE | NLM_F_EXCL)?;
    find(nl, name)?
        .map(|l| l.index)
        .ok_or_else(|| io::Error::other(format!("{name} vanished after creation")))
}

/// Mark the link as ours, set its MTU, and stop the kernel from generating a
/// (random, for ARPHRD_NONE) IPv6 link-local: the configured one replaces it.
pub(super) fn configure(nl: &mut Rtnl, index: u32, mtu: Option<u32>) -> io::Result<()> {
    let mut attrs = vec![LinkAttribute::IfAlias(OWNER_ALIAS.into())];
    attrs.extend(mtu.map(LinkAttribute::Mtu));
    // Below the IPv6 minimum MTU (RFC 8200 5) the interface has no IPv6 to configure.
    if mtu.map_or(true, |m| m >= IPV6_MIN_MTU) {
        attrs.push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
            vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
        )]));
    }
    nl.request(RouteNetlinkMessage::SetLink(link_msg(index, attrs)), 0)?;
    Ok(())
}

pub(super) fn set_up(nl: &mut Rtnl, index: u32) -> io::Result<()> {
    let mut m = link_msg(index, vec![]);
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    nl.request(RouteNetlinkMessage::SetLink(m), 0)?;
    Ok(())
}

pub(super) fn delete(nl: &mut Rtnl, index: u32) -> io::Result<()> {
    nl.request(RouteNetlinkMessage::DelLink(link_msg(index, vec![])), 0)?;
    Ok(())
}

fn addr_msg(index: u32, addr: IpAddr, prefix_len: u8) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family(addr);
    m.header.prefix_len = prefix_len;
    m.header.index = index;
    m.header.scope = match addr {
        IpAddr::V6(a) if is_link_local(a) => AddressScope::Link,
        _ => AddressScope::Universe,
    };
    m.attributes.push(AddressAttribute::Address(addr));
    if addr.is_ipv4() {
        m.attributes.push(AddressAttribute::Local(addr));
    }
    m
}

/// fe80::/10 (`Ipv6Addr::is_unicast_link_local` is newer than our MSRV).
pub(super) fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn family(a: IpAddr) -> AddressFamily {
    if a.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

/// Add (or keep) an address; IPv6 without DAD: the far end is the only neighbour.
pub(super) fn add_address(
    nl: &mut Rtnl,
    index: u32,
    addr: IpAddr,
    prefix_len: u8,
) -> io::Result<()> {
    let mut m = addr_msg(index, addr, prefix_len);
    if addr.is_ipv6() {
        m.header.flags = AddressHeaderFlags::Nodad;
    }
    nl.request(
        RouteNetlinkMessage::NewAddress(m),
        NLM_F_CREATE | NLM_F_REPLACE,
    )?;
    Ok(())
}

pub(super) fn del_address(
    nl: &mut Rtnl,
    index: u32,
    addr: IpAddr,
    prefix_len: u8,
) -> io::Result<()> {
    nl.request(
        RouteNetlinkMessage::DelAddress(addr_msg(index, addr, prefix_len)),
        0,
    )?;
    Ok(())
}

/// The addresses on interface `index`.
pub(super) fn addresses(nl: &mut Rtnl, index: u32) -> io::Result<Vec<(IpAddr, u8)>> {
    let replies = nl.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
    Ok(replies
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) if a.header.index == index => {
                let len = a.header.prefix_len;
                a.attributes.into_iter().find_map(|at| match at {
                    AddressAttribute::Address(ip) => Some((ip, len)),
                    _ => None,
                })
            }
            _ => None,
        })
        .collect())
}

/// `ip route replace DST/LEN dev IFACE`
pub(super) fn add_route(nl: &mut Rtnl, index: u32, dst: IpAddr, prefix_len: u8) -> io::Result<()> {
    let mut m = RouteMessage::default();
    m.header.address_family = family(dst);
    m.header.destination_prefix_length = prefix_len;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Static;
    m.header.kind = RouteType::Unicast;
    // A device route: IPv4 wants link scope without a gateway; IPv6 routes are universe.
    m.header.scope = if dst.is_ipv4() {
        RouteScope::Link
    } else {
        RouteScope::Universe
    };
    m.attributes.push(RouteAttribute::Destination(match dst {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }));
    m.attributes.push(RouteAttribute::Oif(index));
    nl.request(
        RouteNetlinkMessage::NewRoute(m),
        NLM_F_CREATE | NLM_F_REPLACE,
    )?;
    Ok(())
}
