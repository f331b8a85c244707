//! rtnetlink: a tunnel interface's VRF, addresses, MTU, IPv6 link-local and routes, as
//! `ip link|addr|route` would set them. Both data paths configure their interface
//! (xfrm/vti/gre on the kernel path, TUN on the userspace path) through `configure`.

use super::netlink::{unless_gone, Netlink, Protocol};
use super::vrf::VrfDevice;
use super::{DataplaneError, Result, TunnelSpec};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::{
    address::{AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope},
    link::{AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute, LinkFlags, LinkMessage},
    route::{
        RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
        RouteType,
    },
    tc::{TcAttribute, TcHandle, TcMessage},
    AddressFamily, RouteNetlinkMessage,
};
use std::io;
use std::net::{IpAddr, Ipv6Addr};

/// Message types whose replies we read (RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE).
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

impl Protocol for RouteNetlinkMessage {
    const PROTOCOL: isize = netlink_sys::constants::NETLINK_ROUTE;
    fn min_payload_len(message_type: u16) -> Option<usize> {
        // netlink-packet-route checks lengths itself.
        matches!(message_type, RTM_NEWLINK | RTM_NEWADDR | RTM_NEWROUTE).then_some(0)
    }
}

pub(super) const IPV6_MIN_MTU: u32 = 1280;

pub(super) type Rtnl = Netlink<RouteNetlinkMessage>;

/// Interface alias marking a link as configured by ikev1d, so a restarted daemon
/// replaces its own leftovers and never someone else's interface.
pub(super) const OWNER_ALIAS: &str = "ikev1d";

pub(super) struct Link {
    pub index: u32,
    pub alias: Option<String>,
}

pub(super) fn open() -> Result<Rtnl> {
    Netlink::open().map_err(|e| DataplaneError::new("opening an rtnetlink socket", e))
}

pub(super) fn link_msg(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes = attributes;
    m
}

/// The link called `name` as the kernel describes it (`ip -d link show NAME`), if any.
pub(super) fn get(nl: &mut Rtnl, name: &str) -> io::Result<Option<LinkMessage>> {
    let req = RouteNetlinkMessage::GetLink(link_msg(0, vec![LinkAttribute::IfName(name.into())]));
    match nl.request(req, 0) {
        Ok(replies) => Ok(replies.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        })),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The link called `name`, if any.
pub(super) fn find(nl: &mut Rtnl, name: &str) -> io::Result<Option<Link>> {
    Ok(get(nl, name)?.map(|l| Link {
        index: l.header.index,
        alias: l.attributes.into_iter().find_map(|a| match a {
            LinkAttribute::IfAlias(s) => Some(s),
            _ => None,
        }),
    }))
}

/// Every link of the namespace whose name `pick` takes and whose alias is ours.
pub(super) fn ours_named(nl: &mut Rtnl, pick: impl Fn(&str) -> bool) -> io::Result<Vec<u32>> {
    let links = nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    Ok(links
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        })
        .filter(|l| {
            let (mut named, mut owned) = (false, false);
            for a in &l.attributes {
                match a {
                    LinkAttribute::IfName(n) => named = pick(n),
                    LinkAttribute::IfAlias(a) => owned = a == OWNER_ALIAS,
                    _ => {}
                }
            }
            named && owned
        })
        .map(|l| l.header.index)
        .collect())
}

/// The index of the link `name`, which must exist (just created).
pub(super) fn index(nl: &mut Rtnl, name: &str) -> io::Result<u32> {
    find(nl, name)?
        .map(|l| l.index)
        .ok_or_else(|| io::Error::other(format!("{name} vanished after creation")))
}

pub(super) fn delete(nl: &mut Rtnl, index: u32) -> io::Result<()> {
    nl.request(RouteNetlinkMessage::DelLink(link_msg(index, vec![])), 0)?;
    Ok(())
}

/// The device group of the userspace path's TUN devices (`ip link show group 18763`):
/// one RTM_DELLINK by group removes thousands of them in one batch
/// (`unregister_netdevice_many`: one RCU grace period, where deleting them one by one
/// waits one each, about 17 ms here: 17 s for 1,000 tunnels).
pub(super) const TUNNEL_GROUP: u32 = 0x494b;

/// `ip link set dev INDEX group TUNNEL_GROUP`
pub(super) fn join_group(nl: &mut Rtnl, index: u32) -> io::Result<()> {
    let attrs = vec![LinkAttribute::Group(TUNNEL_GROUP)];
    nl.request(RouteNetlinkMessage::SetLink(link_msg(index, attrs)), 0)?;
    Ok(())
}

/// `ip link del group TUNNEL_GROUP`: every link of the group, in one batch.
pub(super) fn delete_group(nl: &mut Rtnl) -> io::Result<()> {
    let attrs = vec![LinkAttribute::Group(TUNNEL_GROUP)];
    nl.request(RouteNetlinkMessage::DelLink(link_msg(0, attrs)), 0)?;
    Ok(())
}

/// `ip -6 route flush` of every route (any table) through a link of `TUNNEL_GROUP`, to
/// run before `delete_group`. The kernel walks the whole IPv6 routing table for each
/// device it unregisters (`addrconf_ifdown` -> `__fib6_clean_all`), and every tunnel
/// puts routes in it (its prefix, its local addresses, multicast): O(N^2) for N
/// tunnels, 3.6 s of `ip link del group` with 4,000 TUN devices here. Deleted first
/// (one lookup each), they leave those walks short: 0.2 s, then 0.9 s.
pub(super) fn flush_group_ipv6_routes(nl: &mut Rtnl) -> io::Result<()> {
    let links = nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    let ours: std::collections::HashSet<u32> = links
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l)
                if l.attributes.contains(&LinkAttribute::Group(TUNNEL_GROUP)) =>
            {
                Some(l.header.index)
            }
            _ => None,
        })
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    let mut query = RouteMessage::default();
    query.header.address_family = AddressFamily::Inet6;
    for m in nl.dump(RouteNetlinkMessage::GetRoute(query))? {
        let RouteNetlinkMessage::NewRoute(mut r) = m else {
            continue;
        };
        let through_ours = r
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Oif(i) if ours.contains(i)));
        if !through_ours {
            continue;
        }
        // What names the route, as `ip route del` sends it; not the dump's read-only
        // attributes (cache info, preference).
        r.attributes.retain(|a| {
            matches!(
                a,
                RouteAttribute::Destination(_)
                    | RouteAttribute::Table(_)
                    | RouteAttribute::Oif(_)
                    | RouteAttribute::Priority(_)
            )
        });
        // Gone meanwhile (its device went down) is fine.
        unless_gone(nl.request(RouteNetlinkMessage::DelRoute(r), 0))?;
    }
    Ok(())
}

/// Give interface `index` the VRF, addresses, MTU and routes of `spec`, and bring it
/// up. `old` is the spec it was configured with before (`None` for a new interface),
/// in the same VRF: its routes and addresses that `spec` no longer has go. `mtu: None`
/// keeps the kernel's choice. `vrf`: the VRF device of `vrf forwarding`, whose table
/// gets the routes.
pub(super) fn configure(
    nl: &mut Rtnl,
    index: u32,
    spec: &TunnelSpec,
    old: Option<&TunnelSpec>,
    mtu: Option<u32>,
    vrf: Option<VrfDevice>,
) -> Result<()> {
    let err = |op| DataplaneError::during(&spec.name, op);
    if let Some(vrf) = vrf {
        // First: enslaving cycles the link, which takes IPv6 addresses with it.
        set_master(nl, index, vrf.index).map_err(|e| {
            let op = format!(
                "joining vrf {} (vrf forwarding)",
                spec.options.vrf.as_deref().unwrap_or_default()
            );
            DataplaneError::on(&spec.name, op, e)
        })?;
    }
    let table = vrf.map_or(u32::from(RouteHeader::RT_TABLE_MAIN), |v| v.table);
    let o = &spec.options;
    let has_ipv6 = spec.link_local.is_some() || !spec.ipv6.is_empty() || o.ipv6_enable;
    // IOS `ipv6 enable` without `ipv6 address X link-local`: the interface makes its own
    // link-local (IOS from a MAC; Linux, for a device without one, a random one).
    let own_link_local = o.ipv6_enable && spec.link_local.is_none();
    set_attributes(nl, index, mtu).map_err(err("setting MTU"))?;
    // Below the IPv6 minimum MTU (RFC 8200 5) the interface has no IPv6 to configure;
    // a kernel without IPv6 (ipv6.disable=1) refuses, which only matters with IPv6.
    if mtu.is_none_or(|m| m >= IPV6_MIN_MTU) {
        match addr_gen(nl, index, own_link_local) {
            Err(e) if has_ipv6 => {
                return Err(DataplaneError::on(&spec.name, "setting link-local mode", e))
            }
            _ => {}
        }
    }
    let wanted = addresses_of(spec);
    let keep = |a: IpAddr, l: u8| {
        wanted.contains(&(a, l))
            || (own_link_local && matches!(a, IpAddr::V6(v6) if is_link_local(v6)))
    };
    if let Some(old) = old {
        for &(dst, len) in old.routes.iter().filter(|r| !spec.routes.contains(r)) {
            unless_gone(del_route(nl, index, table, dst, len)).map_err(|e| {
                DataplaneError::on(&spec.name, format!("removing route {dst}/{len}"), e)
            })?;
        }
        // Before adding: an address whose prefix length changed is then added
        // afresh rather than replaced in place or removed after the fact.
        prune(nl, index, keep).map_err(err("removing old addresses"))?;
    }
    for &(a, l) in &wanted {
        add_address(nl, index, a, l)
            .map_err(|e| DataplaneError::on(&spec.name, format!("adding {a}/{l}"), e))?;
    }
    set_up(nl, index).map_err(err("setting link up"))?;
    if spec.link_local.is_some() {
        // Any link-local the kernel made on its own when the link came up goes
        // (addr_gen_mode none should have prevented one): IOS peers expect the
        // configured one (`ipv6 address FE80::23:2 link-local`).
        prune(nl, index, keep).map_err(err("removing link-local"))?;
    }
    for &(dst, len) in &spec.routes {
        add_route(nl, index, table, dst, len)
            .map_err(|e| DataplaneError::on(&spec.name, format!("adding route {dst}/{len}"), e))?;
    }
    Ok(())
}

/// Every address the interface gets: `ip address` and its secondaries, the address
/// `ip unnumbered IF` borrows (a /32: the host's own packets into the tunnel leave
/// from it, as on IOS, and IF keeps the subnet's route), `ipv6 address`es and the
/// link-local.
fn addresses_of(spec: &TunnelSpec) -> Vec<(IpAddr, u8)> {
    let o = &spec.options;
    let v4 = spec.ipv4.iter().chain(&o.ipv4_secondary).copied();
    let mut wanted: Vec<(IpAddr, u8)> = v4.map(|(a, l)| (IpAddr::V4(a), l)).collect();
    wanted.extend(o.unnumbered.iter().map(|u| (IpAddr::V4(u.address), 32)));
    wanted.extend(spec.ipv6.iter().map(|&(a, l)| (IpAddr::V6(a), l)));
    // IOS `ipv6 address X link-local`: a /64 link-local like the kernel's own.
    wanted.extend(spec.link_local.map(|a| (IpAddr::V6(a), 64)));
    wanted
}

/// Set the MTU of interface `index` (`tunnel path-mtu-discovery`).
pub(super) fn set_mtu(nl: &mut Rtnl, index: u32, mtu: u32) -> io::Result<()> {
    set_attributes(nl, index, Some(mtu))
}

/// Mark the link as ours and set its MTU.
fn set_attributes(nl: &mut Rtnl, index: u32, mtu: Option<u32>) -> io::Result<()> {
    let mut attrs = vec![LinkAttribute::IfAlias(OWNER_ALIAS.into())];
    attrs.extend(mtu.map(LinkAttribute::Mtu));
    nl.request(RouteNetlinkMessage::SetLink(link_msg(index, attrs)), 0)?;
    Ok(())
}

/// Whether the kernel generates the IPv6 link-local (for ARPHRD_NONE devices a random
/// one, addr_gen_mode random) or not (none: the configured one replaces it, or the
/// interface has no IPv6). Before the link is up.
fn addr_gen(nl: &mut Rtnl, index: u32, generate: bool) -> io::Result<()> {
    let mode = if generate {
        In6AddrGenMode::Random
    } else {
        In6AddrGenMode::None
    };
    let attrs = vec![LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
        vec![AfSpecInet6::AddrGenMode(mode)],
    )])];
    nl.request(RouteNetlinkMessage::SetLink(link_msg(index, attrs)), 0)?;
    Ok(())
}

/// `ip link set IFACE master VRF`.
fn set_master(nl: &mut Rtnl, index: u32, master: u32) -> io::Result<()> {
    let attrs = vec![LinkAttribute::Controller(master)];
    nl.request(RouteNetlinkMessage::SetLink(link_msg(index, attrs)), 0)?;
    Ok(())
}

/// A `noqueue` root qdisc, set while the link is still down. A multi-queue TUN would
/// otherwise get, when brought up, `mq` with a pfifo_fast child for each of its 256
/// possible tx queues: about 2.9 MiB of kernel memory per device (measured), for a
/// queue that buffers nothing TUN's own ring does not (TUN drops when its ring is full).
pub(super) fn no_queue(nl: &mut Rtnl, index: u32) -> io::Result<()> {
    let mut m = TcMessage::with_index(index as i32);
    m.header.parent = TcHandle::ROOT;
    m.attributes.push(TcAttribute::Kind("noqueue".into()));
    nl.request(
        RouteNetlinkMessage::NewQueueDiscipline(m),
        NLM_F_CREATE | NLM_F_REPLACE,
    )?;
    Ok(())
}

/// `ip link set INDEX up`
pub(super) fn set_up(nl: &mut Rtnl, index: u32) -> io::Result<()> {
    let mut m = link_msg(index, vec![]);
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    nl.request(RouteNetlinkMessage::SetLink(m), 0)?;
    Ok(())
}

/// Remove every address of interface `index` that is not to be kept.
fn prune(nl: &mut Rtnl, index: u32, keep: impl Fn(IpAddr, u8) -> bool) -> io::Result<()> {
    for (a, l) in addresses(nl, index)? {
        if !keep(a, l) {
            unless_gone(del_address(nl, index, a, l))?;
        }
    }
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
fn is_link_local(a: Ipv6Addr) -> bool {
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
fn add_address(nl: &mut Rtnl, index: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
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

fn del_address(nl: &mut Rtnl, index: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
    nl.request(
        RouteNetlinkMessage::DelAddress(addr_msg(index, addr, prefix_len)),
        0,
    )?;
    Ok(())
}

/// The addresses on interface `index`.
fn addresses(nl: &mut Rtnl, index: u32) -> io::Result<Vec<(IpAddr, u8)>> {
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

/// A device route `DST/LEN dev IFACE table TABLE`.
fn route_msg(index: u32, table: u32, dst: IpAddr, prefix_len: u8) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family(dst);
    m.header.destination_prefix_length = prefix_len;
    // The header holds 8 bits; RTA_TABLE the whole id (RT_TABLE_UNSPEC then).
    m.header.table = u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    m.attributes.push(RouteAttribute::Table(table));
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
    m
}

/// `ip route replace DST/LEN dev IFACE table TABLE`
fn add_route(nl: &mut Rtnl, index: u32, table: u32, dst: IpAddr, prefix_len: u8) -> io::Result<()> {
    nl.request(
        RouteNetlinkMessage::NewRoute(route_msg(index, table, dst, prefix_len)),
        NLM_F_CREATE | NLM_F_REPLACE,
    )?;
    Ok(())
}

/// `ip route del DST/LEN dev IFACE table TABLE`
fn del_route(nl: &mut Rtnl, index: u32, table: u32, dst: IpAddr, prefix_len: u8) -> io::Result<()> {
    nl.request(
        RouteNetlinkMessage::DelRoute(route_msg(index, table, dst, prefix_len)),
        0,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::{InterfaceOptions, Unnumbered};

    /// `ip route add 10.3.0.0/16 dev Tunnel23 table 1000`: a VRF's table beyond the
    /// header's 8 bits goes in RTA_TABLE, the header saying RT_TABLE_UNSPEC.
    #[test]
    fn routes_name_their_table_whole() {
        let dst: IpAddr = "10.3.0.0".parse().unwrap();
        let m = route_msg(7, 1000, dst, 16);
        assert_eq!(m.header.table, RouteHeader::RT_TABLE_UNSPEC);
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
        assert!(m.attributes.contains(&RouteAttribute::Oif(7)));
        let main = route_msg(7, u32::from(RouteHeader::RT_TABLE_MAIN), dst, 16);
        assert_eq!(main.header.table, RouteHeader::RT_TABLE_MAIN);
        assert!(main.attributes.contains(&RouteAttribute::Table(254)));
    }

    /// `ip address` with a secondary, `ip unnumbered` (a /32 of the lender's address),
    /// `ipv6 address` and its link-local: all on the one interface.
    #[test]
    fn every_ios_address_line_becomes_an_address() {
        let spec = TunnelSpec {
            ipv4: Some(("192.168.23.2".parse().unwrap(), 24)),
            ipv6: vec![("2001:db8:9::2".parse().unwrap(), 64)],
            link_local: Some("fe80::5:2".parse().unwrap()),
            ..TunnelSpec::for_test(InterfaceOptions {
                ipv4_secondary: vec![("198.51.100.9".parse().unwrap(), 30)],
                unnumbered: Some(Unnumbered {
                    interface: "dum0".into(),
                    address: "192.0.2.102".parse().unwrap(),
                }),
                ..InterfaceOptions::default()
            })
        };
        let text: Vec<String> = addresses_of(&spec)
            .iter()
            .map(|(a, l)| format!("{a}/{l}"))
            .collect();
        assert_eq!(
            text,
            [
                "192.168.23.2/24",
                "198.51.100.9/30",
                "192.0.2.102/32",
                "2001:db8:9::2/64",
                "fe80::5:2/64"
            ]
        );
    }
}
