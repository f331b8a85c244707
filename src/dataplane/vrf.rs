//! Linux VRF devices for IOS VRFs (`vrf definition BLUE` / `ip vrf BLUE`): a tunnel
//! with `vrf forwarding BLUE` is enslaved to the VRF device `BLUE` and its routes go
//! into that VRF's table; with `tunnel vrf RED` its outer packets (and IKE) are routed
//! in RED's. A VRF device that exists is used as it is (its table kept); one that does
//! not is created with a table no VRF device or route uses, marked as ikev1d's (the
//! interface alias, as for tunnels), and removed when the data path shuts down; one
//! that exists with that mark is a crashed instance's, adopted and removed in turn.

use super::link::{self, Rtnl, OWNER_ALIAS};
use super::{DataplaneError, Result};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::{
    link::{InfoData, InfoKind, InfoVrf, LinkAttribute, LinkInfo, LinkMessage},
    route::{RouteAttribute, RouteMessage},
    RouteNetlinkMessage,
};
use nix::sys::socket::{
    bind, setsockopt, socket,
    sockopt::{BindToDevice, Ipv6V6Only},
    AddressFamily, SockFlag, SockType, SockaddrStorage,
};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Where ikev1d starts looking for a free table: above the few that `ip rule` and
/// `/etc/iproute2/rt_tables` examples use.
const FIRST_TABLE: u32 = 1000;

/// What a kernel without VRF devices lacks, in the words of its configuration.
pub const MISSING: &str = "this kernel has no VRF devices (CONFIG_NET_VRF, module vrf)";

/// A VRF device: its interface index (a tunnel's master, a socket's bound device) and
/// its routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrfDevice {
    pub index: u32,
    pub table: u32,
}

/// The VRF devices a data path uses, by name, and whether it created them.
#[derive(Debug, Default)]
pub(super) struct Vrfs {
    devices: HashMap<String, (VrfDevice, bool)>,
}

/// A link as far as VRFs care: its index, alias, and VRF table if it is one.
struct Found {
    index: u32,
    alias: Option<String>,
    table: Option<u32>,
}

fn parse(m: LinkMessage) -> Found {
    let mut found = Found {
        index: m.header.index,
        alias: None,
        table: None,
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfAlias(s) => found.alias = Some(s),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Data(InfoData::Vrf(data)) = i {
                        found.table = data.iter().find_map(|d| match d {
                            InfoVrf::TableId(t) => Some(*t),
                            _ => None,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The tables in use: by VRF devices, and by any route (`ip route show table all`).
fn tables_in_use(nl: &mut Rtnl) -> io::Result<BTreeSet<u32>> {
    let mut used = BTreeSet::new();
    for m in nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
        if let RouteNetlinkMessage::NewLink(l) = m {
            used.extend(parse(l).table);
        }
    }
    for m in nl.dump(RouteNetlinkMessage::GetRoute(RouteMessage::default()))? {
        if let RouteNetlinkMessage::NewRoute(r) = m {
            used.insert(u32::from(r.header.table));
            used.extend(r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            }));
        }
    }
    Ok(used)
}

/// The first table at or above `FIRST_TABLE` that nothing uses.
fn free_table(used: &BTreeSet<u32>) -> u32 {
    (FIRST_TABLE..)
        .find(|t| !used.contains(t))
        .unwrap_or(FIRST_TABLE)
}

/// `ip link add NAME type vrf table TABLE`, marked as ours, up.
fn create(nl: &mut Rtnl, name: &str, table: u32) -> io::Result<u32> {
    let info = vec![
        LinkInfo::Kind(InfoKind::Vrf),
        LinkInfo::Data(InfoData::Vrf(vec![InfoVrf::TableId(table)])),
    ];
    let req = link::link_msg(
        0,
        vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::IfAlias(OWNER_ALIAS.into()),
            LinkAttribute::LinkInfo(info),
        ],
    );
    nl.request(RouteNetlinkMessage::NewLink(req), NLM_F_CREATE | NLM_F_EXCL)?;
    let index = link::index(nl, name)?;
    link::set_up(nl, index)?;
    Ok(index)
}

/// What `op` on VRF `name` failing for `tunnel` means: EOPNOTSUPP from a kernel
/// without VRFs is said in its words.
fn failed(tunnel: &str, name: &str, op: &str, e: io::Error) -> DataplaneError {
    let op = if e.raw_os_error() == Some(libc::EOPNOTSUPP) {
        format!("vrf {name}: {op} ({MISSING})")
    } else {
        format!("vrf {name}: {op}")
    };
    DataplaneError::on(tunnel, op, e)
}

impl Vrfs {
    /// The VRF device `name` (if any) that `tunnel` needs: found, adopted or created.
    pub fn ensure(
        &mut self,
        nl: &mut Rtnl,
        name: Option<&str>,
        tunnel: &str,
    ) -> Result<Option<VrfDevice>> {
        name.map(|name| self.device(nl, name, tunnel)).transpose()
    }

    fn device(&mut self, nl: &mut Rtnl, name: &str, tunnel: &str) -> Result<VrfDevice> {
        if let Some((dev, _)) = self.devices.get(name) {
            return Ok(*dev);
        }
        let found = link::get(nl, name)
            .map(|l| l.map(parse))
            .map_err(|e| failed(tunnel, name, "looking up", e))?;
        let (dev, ours) = match found {
            Some(f) => {
                let Some(table) = f.table else {
                    let why = DataplaneError::refused(format!(
                        "an interface {name} exists and is not a VRF device"
                    ));
                    return Err(DataplaneError::on(tunnel, format!("vrf {name}"), why));
                };
                let ours = f.alias.as_deref() == Some(OWNER_ALIAS);
                (
                    VrfDevice {
                        index: f.index,
                        table,
                    },
                    ours,
                )
            }
            None => {
                let used = tables_in_use(nl)
                    .map_err(|e| failed(tunnel, name, "listing routing tables", e))?;
                let table = free_table(&used);
                let index = create(nl, name, table).map_err(|e| {
                    let op = format!("creating a VRF device with table {table}");
                    failed(tunnel, name, &op, e)
                })?;
                tracing::info!("vrf {name}: created the VRF device, table {table}");
                (VrfDevice { index, table }, true)
            }
        };
        self.devices.insert(name.to_string(), (dev, ours));
        Ok(dev)
    }

    /// Remove the VRF devices ikev1d created; those it found stay.
    pub fn remove_own(&mut self, nl: &mut Rtnl) {
        for (name, (dev, ours)) in self.devices.drain() {
            if !ours {
                continue;
            }
            match link::delete(nl, dev.index) {
                Ok(()) => tracing::info!("vrf {name}: removed the VRF device"),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
                Err(e) => tracing::warn!("vrf {name}: removing the VRF device: {e}"),
            }
        }
    }
}

/// A blocking UDP socket on `addr` in VRF `vrf` (`None`: the global table): the IKE
/// sockets of each front-door VRF (`tunnel vrf`), and the userspace path's path-MTU
/// probe. Bound to the VRF device (SO_BINDTODEVICE, before `bind`), it sends in the
/// VRF's table and receives what came in on its interfaces only, so the same address
/// may serve two VRFs. An unbound socket is the global table's
/// (net.ipv4.udp_l3mdev_accept is 0 by default: it hears no VRF's IKE). IPv6 ones are
/// IPV6_V6ONLY: [::] (the IKE sockets' IPv6 wildcard) then leaves UDP 500 on 0.0.0.0
/// free for the IPv4 one, and IPv4 arrives on IPv4 sockets only.
pub fn bind_udp(addr: SocketAddr, vrf: Option<&str>) -> io::Result<UdpSocket> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    if let Some(vrf) = vrf {
        setsockopt(&fd, BindToDevice, &OsString::from(vrf))?;
    }
    if addr.is_ipv6() {
        setsockopt(&fd, Ipv6V6Only, &true)?;
    }
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    Ok(UdpSocket::from(fd))
}

/// Can this kernel make VRF devices? Tried with a throw-away one; `Err` says what is
/// missing (`MISSING` and the errno).
pub fn probe() -> std::result::Result<(), String> {
    let mut nl = link::open().map_err(|e| e.to_string())?;
    let name = format!("ikvrf{}", std::process::id() % 100_000_000);
    let used = tables_in_use(&mut nl).map_err(|e| format!("listing routing tables: {e}"))?;
    match create(&mut nl, &name, free_table(&used)) {
        Ok(index) => {
            let _ = link::delete(&mut nl, index);
            Ok(())
        }
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            Err(format!("{MISSING}: {}", super::netlink::errno_name(&e)))
        }
        Err(e) => Err(format!("creating a VRF device: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_sockets_bind_in_the_global_table() {
        let s = bind_udp("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let addr = s.local_addr().unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"ike", addr).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(s.recv(&mut buf).unwrap(), 3);
        // A VRF this host lacks: SO_BINDTODEVICE says so (ENODEV).
        let e = bind_udp("127.0.0.1:0".parse().unwrap(), Some("NO-SUCH-VRF")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    }

    #[test]
    fn a_free_table_is_the_first_unused_from_1000() {
        assert_eq!(free_table(&BTreeSet::from([254, 255])), 1000);
        assert_eq!(free_table(&BTreeSet::from([1000, 1001, 1003])), 1002);
    }
}
