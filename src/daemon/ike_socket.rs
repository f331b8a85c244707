//! The daemon's IKE sockets (UDP 500 and 4500, per front-door VRF) and the one thread
//! that reads them all through one poll set.
//!
//! A front-door VRF with few local addresses of a family gets a socket per address and
//! port, as IOS binds them; one with more than `WILDCARD_ABOVE` gets that family's
//! wildcard (0.0.0.0, or [::] with IPV6_V6ONLY) on each port instead, as strongSwan
//! listens: two descriptors for any number of addresses (issue 14: 10,000 spokes' local
//! addresses as 20,000 sockets would exceed the container's descriptor limit on their
//! own). Both kinds are read and written the same way: the local address of each
//! datagram comes from IP_PKTINFO / IPV6_PKTINFO, and what is sent names its source in
//! the same control message, so the engine sees the same `(fvrf, local, remote)`
//! whichever socket it came through.

use super::error::RunError;
use super::worker::Event;
use crate::dataplane::poll::{Epoll, EventFd};
use crate::dataplane::{self, threads, DataplaneKind};
use crate::ike::Fvrf;
use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrStorage,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// IKE's non-ESP marker on port 4500 (RFC 3948 2.2).
pub(super) const NON_ESP_MARKER: [u8; 4] = [0; 4];
pub(super) const NAT_T_PORT: u16 = 4500;
const IKE_PORTS: [u16; 2] = [500, NAT_T_PORT];

/// More local addresses than this of one family in one front-door VRF are served by
/// the family's wildcard. Below it, a socket per address binds only what the
/// configuration names, so another IKE daemon may hold the host's other addresses
/// (IOS's own behaviour); 16 addresses are 32 descriptors, nothing next to a
/// TUN queue per tunnel, while a router with more is a hub or a scale test where one
/// process owns IKE on the box.
const WILDCARD_ABOVE: usize = 16;

/// Datagrams read from one socket before the next ready one's turn: one flooded socket
/// delays the others by at most this many reads.
const PER_TURN: usize = 32;

/// The poll token of the stop doorbell; a socket's token is its index in `Table`.
const STOP: u64 = u64::MAX;

pub(super) struct Datagram {
    pub fvrf: Option<Fvrf>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Vec<u8>,
}

/// Where the receive thread puts datagrams: those from configured tunnel destinations
/// go to a queue of their own, handled first, so that a flood from elsewhere cannot
/// delay their rekeys, DPD and Deletes.
#[derive(Clone)]
pub(super) struct Dispatch {
    pub known_peers: Arc<RwLock<HashSet<IpAddr>>>,
    pub known: mpsc::Sender<Datagram>,
    pub others: mpsc::Sender<Datagram>,
    pub dropped: Arc<AtomicU64>,
}

impl Dispatch {
    fn send(&self, d: Datagram) {
        let known = self
            .known_peers
            .read()
            .is_ok_and(|k| k.contains(&d.remote.ip()));
        let queue = if known { &self.known } else { &self.others };
        if queue.try_send(d).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One bound socket: a local address's, or a family's wildcard.
struct Listener {
    sock: Arc<UdpSocket>,
    fvrf: Option<Fvrf>,
    port: u16,
}

/// What the receive thread shares with the daemon loop.
struct Shared {
    /// The sockets by poll token (their index); only ever appended to.
    table: RwLock<Vec<Listener>>,
    /// The local addresses tunnels use, by front-door VRF: a wildcard socket's
    /// datagrams to any other are dropped.
    locals: RwLock<HashSet<(Option<Fvrf>, IpAddr)>>,
    /// Datagrams dropped for their local address.
    unknown_local: AtomicU64,
    poll: Epoll,
    doorbell: EventFd,
    stop: Arc<AtomicBool>,
}

pub(super) struct IkeSockets {
    /// By front-door VRF and bound address (a wildcard one for a wildcard socket).
    bound: HashMap<(Option<Fvrf>, SocketAddr), Arc<UdpSocket>>,
    shared: Arc<Shared>,
}

fn wildcard(v6: bool) -> IpAddr {
    if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    }
}

impl IkeSockets {
    /// No socket yet; the receive thread (`ike-rx`) runs, reporting its death to
    /// `report`.
    pub fn start(
        dispatch: Dispatch,
        report: mpsc::UnboundedSender<Event>,
    ) -> std::io::Result<IkeSockets> {
        let shared = Arc::new(Shared {
            table: RwLock::default(),
            locals: RwLock::default(),
            unknown_local: AtomicU64::new(0),
            poll: Epoll::new()?,
            doorbell: EventFd::new()?,
            stop: Arc::default(),
        });
        shared.poll.add(shared.doorbell.as_fd(), STOP)?;
        let failed = move |f| {
            let _ = report.send(Event::Died(f));
        };
        let thread = shared.clone();
        threads::spawn("ike-rx".into(), shared.stop.clone(), failed, move || {
            receive(&thread, &dispatch)
        })?;
        Ok(IkeSockets {
            bound: HashMap::new(),
            shared,
        })
    }

    /// Datagrams dropped because no tunnel uses the local address they were sent to.
    pub fn dropped_unknown_local(&self) -> u64 {
        self.shared.unknown_local.load(Ordering::Relaxed)
    }

    /// Serve UDP 500 and 4500 on every local address a tunnel uses (`locals`: by
    /// front-door VRF name), opening what is missing: a socket per address, or the
    /// family's wildcard above `WILDCARD_ABOVE` addresses. On a reload an address a
    /// wildcard covers needs nothing; a VRF and family served per address stays so
    /// (its sockets hold the ports the wildcard would need) until a restart.
    pub fn open(
        &mut self,
        locals: &BTreeSet<(Option<String>, IpAddr)>,
        kind: DataplaneKind,
    ) -> Result<(), RunError> {
        let served = locals
            .iter()
            .map(|(vrf, ip)| (Fvrf::of(vrf.as_deref()), *ip))
            .collect();
        if let Ok(mut l) = self.shared.locals.write() {
            *l = served;
        }
        for ((vrf, v6), ips) in by_vrf_and_family(locals) {
            let fvrf = Fvrf::of(vrf.as_deref());
            let binds = to_bind(&ips, v6, |ip| {
                self.bound.contains_key(&(fvrf, SocketAddr::new(ip, 500)))
            });
            if binds.first().is_some_and(IpAddr::is_unspecified) {
                tracing::info!(
                    "{} local IPv{} addresses{}: one wildcard socket per IKE port for them",
                    ips.len(),
                    if v6 { 6 } else { 4 },
                    vrf.as_ref()
                        .map_or(String::new(), |v| format!(" in vrf {v}")),
                );
            }
            for ip in binds {
                for port in IKE_PORTS {
                    self.bind(vrf.as_deref(), SocketAddr::new(ip, port), kind)?;
                }
            }
        }
        Ok(())
    }

    fn bind(
        &mut self,
        vrf: Option<&str>,
        addr: SocketAddr,
        kind: DataplaneKind,
    ) -> Result<(), RunError> {
        let failed = |source| RunError::IkeSocket {
            addr,
            vrf: vrf.map(String::from),
            source,
        };
        let sock = dataplane::vrf::bind_udp(addr, vrf).map_err(failed)?;
        let pktinfo = match addr {
            SocketAddr::V4(_) => setsockopt(&sock, sockopt::Ipv4PacketInfo, &true),
            SocketAddr::V6(_) => setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true),
        };
        pktinfo.map_err(|e| failed(e.into()))?;
        kind.prepare_ike_socket(&sock, addr.port() == NAT_T_PORT)?;
        let sock = Arc::new(sock);
        let fvrf = Fvrf::of(vrf);
        let token = {
            let mut table = self.shared.table.write().unwrap_or_else(|e| e.into_inner());
            table.push(Listener {
                sock: sock.clone(),
                fvrf,
                port: addr.port(),
            });
            table.len() as u64 - 1
        };
        self.shared.poll.add(sock.as_fd(), token).map_err(failed)?;
        self.bound.insert((fvrf, addr), sock);
        Ok(())
    }

    /// Send `parts` (one datagram) from `local` in `fvrf` to `remote`, through the
    /// address's socket or its family's wildcard, naming `local` as the source. A UDP
    /// send waits only while the socket's buffer is full: microseconds.
    pub fn send(
        &self,
        (fvrf, local): (Option<Fvrf>, SocketAddr),
        remote: SocketAddr,
        parts: &[&[u8]],
    ) {
        let wild = SocketAddr::new(wildcard(local.is_ipv6()), local.port());
        let Some(sock) = self
            .bound
            .get(&(fvrf, local))
            .or_else(|| self.bound.get(&(fvrf, wild)))
        else {
            let vrf = fvrf.map_or(String::new(), |v| format!(" in vrf {v}"));
            tracing::warn!("no socket for {local}{vrf}; cannot send to {remote}");
            return;
        };
        let iov: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let v4;
        let v6;
        let cmsg = match local.ip() {
            IpAddr::V4(a) => {
                v4 = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(a).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                ControlMessage::Ipv4PacketInfo(&v4)
            }
            IpAddr::V6(a) => {
                v6 = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                ControlMessage::Ipv6PacketInfo(&v6)
            }
        };
        let to = SockaddrStorage::from(remote);
        if let Err(e) = sendmsg(
            sock.as_raw_fd(),
            &iov,
            &[cmsg],
            MsgFlags::empty(),
            Some(&to),
        ) {
            tracing::warn!("send to {remote} from {local}: {e}");
        }
    }

    /// Stop the receive thread (it wakes at once).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.doorbell.ring();
    }
}

/// The local addresses of each front-door VRF and family (`true`: IPv6).
fn by_vrf_and_family(
    locals: &BTreeSet<(Option<String>, IpAddr)>,
) -> BTreeMap<(&Option<String>, bool), Vec<IpAddr>> {
    let mut groups: BTreeMap<_, Vec<IpAddr>> = BTreeMap::new();
    for (vrf, ip) in locals {
        groups.entry((vrf, ip.is_ipv6())).or_default().push(*ip);
    }
    groups
}

/// How many sockets `IkeSockets::open` makes for `locals` at start: the descriptor
/// budget's share of IKE.
pub(super) fn needed(locals: &BTreeSet<(Option<String>, IpAddr)>) -> usize {
    by_vrf_and_family(locals)
        .into_iter()
        .map(|((_, v6), ips)| IKE_PORTS.len() * to_bind(&ips, v6, |_| false).len())
        .sum()
}

/// What to bind for the local addresses `ips` of one family (`v6`) in one front-door
/// VRF, `bound` saying what is bound already: nothing if the family's wildcard is; the
/// wildcard if there are more than `WILDCARD_ABOVE` and none has a socket of its own;
/// else each address without one.
fn to_bind(ips: &[IpAddr], v6: bool, bound: impl Fn(IpAddr) -> bool) -> Vec<IpAddr> {
    if bound(wildcard(v6)) {
        return Vec::new();
    }
    if ips.len() > WILDCARD_ABOVE && !ips.iter().any(|&ip| bound(ip)) {
        return vec![wildcard(v6)];
    }
    ips.iter().copied().filter(|&ip| !bound(ip)).collect()
}

/// The receive thread: wait on every socket at once, and read each ready one up to
/// `PER_TURN` datagrams a turn. One thread for any number of sockets, which it keeps
/// drained at the kernel's pace whatever the event loop is doing, so that under a
/// flood the kernel does not drop our peers' datagrams for a full socket buffer; what
/// the loop cannot take is dropped at dispatch, strangers' first (see `Dispatch`).
fn receive(shared: &Shared, dispatch: &Dispatch) -> std::io::Result<()> {
    let mut buf = vec![0u8; 65536];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo);
    let mut ready = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        match shared
            .poll
            .wait(&mut ready, std::time::Duration::from_secs(3600))
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("epoll_wait: {e}"))),
        }
        for &token in &ready {
            if token == STOP {
                shared.doorbell.clear();
                continue;
            }
            let Some((sock, fvrf, port)) = shared
                .table
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(token as usize)
                .map(|l| (l.sock.clone(), l.fvrf, l.port))
            else {
                continue;
            };
            for _ in 0..PER_TURN {
                let Some((local, remote, n)) = recv_one(&sock, &mut buf, &mut cmsg) else {
                    break;
                };
                let data = match (port, &buf[..n]) {
                    (NAT_T_PORT, [0, 0, 0, 0, rest @ ..]) => rest.to_vec(),
                    // a NAT keepalive (RFC 3948 2.3: 0xff), or ESP the kernel did not take
                    (NAT_T_PORT, _) => continue,
                    (_, all) => all.to_vec(),
                };
                let configured = shared
                    .locals
                    .read()
                    .is_ok_and(|l| l.contains(&(fvrf, local)));
                if !configured {
                    shared.unknown_local.fetch_add(1, Ordering::Relaxed);
                    let vrf = fvrf.map_or(String::new(), |v| format!(" in vrf {v}"));
                    tracing::debug!(
                        "ISAKMP: datagram from {remote} to {local}{vrf} dropped: no tunnel uses that local address"
                    );
                    continue;
                }
                dispatch.send(Datagram {
                    fvrf,
                    local: SocketAddr::new(local, port),
                    remote,
                    data,
                });
            }
        }
    }
    Ok(())
}

/// One datagram, if one is queued: its local address (from its pktinfo), sender and
/// length. A datagram without pktinfo (not one the kernel sends once it is asked)
/// or from no IP address is skipped.
fn recv_one(
    sock: &UdpSocket,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> Option<(IpAddr, SocketAddr, usize)> {
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match recvmsg::<SockaddrStorage>(
            sock.as_raw_fd(),
            &mut iov,
            Some(cmsg),
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(msg) => msg,
            Err(nix::errno::Errno::EINTR) => continue,
            // EAGAIN: drained. Another error ends the turn; the poll set reports the
            // socket again if it still has datagrams.
            Err(_) => return None,
        };
        let remote = msg.address.and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::from(std::net::SocketAddrV4::from(*v4)))
                .or_else(|| {
                    a.as_sockaddr_in6()
                        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
                })
        });
        let local = msg.cmsgs().ok().and_then(|mut c| {
            c.find_map(|m| match m {
                ControlMessageOwned::Ipv4PacketInfo(i) => Some(IpAddr::from(Ipv4Addr::from(
                    u32::from_be(i.ipi_addr.s_addr),
                ))),
                ControlMessageOwned::Ipv6PacketInfo(i) => {
                    Some(IpAddr::from(Ipv6Addr::from(i.ipi6_addr.s6_addr)))
                }
                _ => None,
            })
        });
        let n = msg.bytes;
        if let (Some(local), Some(remote)) = (local, remote) {
            return Some((local, remote, n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(n: u8) -> Vec<IpAddr> {
        (1..=n).map(|i| IpAddr::from([192, 0, 2, i])).collect()
    }

    #[test]
    fn a_socket_per_address_up_to_16_then_the_wildcard() {
        let none = |_| false;
        assert_eq!(to_bind(&addrs(16), false, none), addrs(16));
        assert_eq!(to_bind(&addrs(17), false, none), [wildcard(false)]);
        assert_eq!(
            to_bind(&[IpAddr::from(Ipv6Addr::LOCALHOST)], true, none).len(),
            1
        );
    }

    #[test]
    fn the_descriptor_budget_counts_a_wildcard_pair_as_two() {
        let locals = |n| addrs(n).into_iter().map(|ip| (None, ip)).collect();
        assert_eq!(needed(&locals(3)), 6);
        assert_eq!(needed(&locals(200)), 2);
        let mut both: BTreeSet<_> = locals(200);
        both.insert((Some("RED".into()), addrs(1)[0]));
        both.insert((None, IpAddr::from(Ipv6Addr::LOCALHOST)));
        assert_eq!(needed(&both), 6);
    }

    /// SIGHUP: an address the wildcard covers needs nothing; a VRF and family served
    /// per address stays so past 16 (its sockets hold the wildcard's ports).
    #[test]
    fn a_reload_keeps_the_kind_of_socket_it_found() {
        let wild = wildcard(false);
        assert!(to_bind(&addrs(40), false, |ip| ip == wild).is_empty());
        let first = addrs(1)[0];
        let more = to_bind(&addrs(20), false, |ip| ip == first);
        assert_eq!(more, addrs(20)[1..]);
    }
}
