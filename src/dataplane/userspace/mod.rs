//! Userspace data path: ESP (RFC 4303, tunnel mode) over a TUN device, for kernels
//! without XFRM ESP. Same contract as the kernel path: the tunnel interface is named
//! like the IOS interface (`Tunnel23`), with its addresses, its configured link-local
//! address (the random one suppressed), MTU and routes; SAs come and go through the
//! `Dataplane` trait. GRE over IPsec uses the same TUN device: the packet threads add
//! and remove the GRE header (and the delivery IP header in tunnel mode) around ESP
//! (`gre.rs`), so the kernel needs no GRE either.
//!
//! # Threads
//! A fixed set, whatever the number of tunnels (issue 14: 10,000 tunnels, no thread
//! per tunnel):
//! - Transmit workers, one per core (up to `MAX_WORKERS`), each with one poll set over
//!   the TUN queues it serves: drain a ready queue, cut TSO packets into MSS-sized
//!   ones (the TUN device offers checksum and TCP segmentation offload, `offload.rs`),
//!   seal each in place with the tunnel's newest outbound SA, send up to 64 per
//!   `sendmmsg` (`tx.rs`). A tunnel created while fewer than 64 exist gets a queue
//!   per worker (multi-queue TUN: one busy tunnel's flows spread over the cores);
//!   later ones get one queue, read by the least loaded worker, so that the load
//!   spreads by tunnel (`queues.rs`). Adding a tunnel registers its queues, removing
//!   it unregisters them.
//!
//! # Descriptors
//! A tunnel holds its TUN queues' descriptors: one per worker for the first 64, one
//! for each after (10,000 tunnels on 2 cores: 10,064), against the process's
//! RLIMIT_NOFILE (`Dataplane::descriptors`, which the daemon checks at start). The
//! rest is fixed: 4 outer raw sockets per underlay, a poll set and a doorbell per
//! worker, one netlink socket.
//! - One receive thread per outer socket (raw ESP over IPv4 and IPv6, ESP-in-UDP over
//!   IPv4 and IPv6): `recvmmsg` up to 64, SPI lookup, replay check, open in place,
//!   replay mark, inner-packet check (`rx.rs`); then the batch's TCP segments of one
//!   flow are merged into one TSO write to the TUN device (`gro.rs`).
//! - The caller's thread (the daemon) installs and deletes SAs, reads counters, polls
//!   lifetimes.
//!
//! The packet threads never lock per packet: the SPI table and each tunnel's outbound
//! SA are immutable snapshots the control thread republishes (`published.rs`; readers
//! compare a version number per batch). Counters and the outbound sequence number are
//! atomics; each replay window belongs to the one receive thread that can see its SA.
//! Buffers are allocated once per thread.
//!
//! # ESP-in-UDP and IKE on port 4500 (RFC 3948)
//! The daemon keeps its UDP 4500 socket for IKE; the kernel sorts the traffic so that
//! nothing is copied twice: `prepare_ike_socket` attaches a BPF filter to the daemon's
//! socket that keeps only datagrams starting with the non-ESP marker (four zero
//! bytes), and the data path's raw UDP sockets carry the opposite filter (port 4500
//! and a non-zero SPI). IKE goes straight to the daemon, ESP straight to the receive
//! threads, and neither ever relays the other's packets. Encapsulated ESP is sent
//! through the same raw UDP sockets with a UDP header built in place. When no daemon
//! holds the port (the `dp_driver` example), the data path binds it itself, receiving
//! nothing, so that the kernel does not answer ESP-in-UDP with port-unreachable.
//!
//! # Lifetimes
//! Seconds and bytes, soft and hard, as XFRM judges them; `poll_events` reports each
//! soft expiry once and removes an SA at its hard expiry, as the kernel deletes the
//! state. Packet threads stop using an SA at once when it crosses its hard byte limit
//! or runs out of sequence numbers (RFC 4303 3.3.3: the counter never cycles).

mod df;
mod gre;
mod gro;
mod inner;
mod mss;
mod offload;
mod published;
mod queues;
mod replay;
mod rx;
mod sa;
mod sockets;
mod sys;
mod tunnel;
mod tx;

use super::link::{self, Rtnl};
use super::threads::{self, Failures};
use super::vrf::{VrfDevice, Vrfs};
use super::{
    Dataplane, DataplaneError, DataplaneEvent, DataplaneKind, Result, SaCounters, TunnelSa,
    TunnelSpec,
};
use crate::crypto::{OsRng, Rng};
use crate::ipsec::{Direction, SaSpec};
use published::Published;
use sa::{Expiry, Owner, Sa};
use sockets::{Outer, Sockets, NAT_T_PORT};
use std::collections::{HashMap, HashSet};
#[cfg(test)]
use std::fs::File;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tunnel::Tun;

/// The receive threads' SPI -> SA map (inbound SPIs are ours, unique across tunnels).
pub(crate) type InboundTable = HashMap<u32, Arc<Sa>>;

/// An SA's identity, as XFRM's: direction, SPI, destination.
type SaKey = (Direction, u32, IpAddr);

/// SPIs 1..=255 are reserved by IANA (RFC 4303 2.1).
const MIN_SPI: u32 = 256;
/// Allocated SPIs remembered until installed.
const MAX_RESERVED_SPIS: usize = 4096;
/// Most transmit workers (and TUN queues per tunnel, `queues.rs`): one per core up to
/// this.
const MAX_WORKERS: usize = 4;

struct Tunnel {
    spec: TunnelSpec,
    /// The TUN device's interface index.
    index: u32,
    /// The VRF device of `vrf forwarding`.
    ivrf: Option<VrfDevice>,
    /// What its SAs need of it: the TUN device, GRE, the underlay.
    owner: Owner,
    /// Its queues' token in the transmit workers' poll sets.
    token: u64,
    /// The worker reading each of its TUN queues, queue by queue.
    workers: Vec<usize>,
    /// Installed outbound SAs, oldest first.
    outbound: Vec<Arc<Sa>>,
    /// Every installed SA of the tunnel (removing a tunnel does not scan all SAs).
    sas: HashSet<SaKey>,
    /// The interface's MTU now (`tunnel path-mtu-discovery` lowers it).
    mtu: u32,
}

impl Tunnel {
    /// Point the transmit threads (and IOS GRE keepalives) at the newest outbound SA,
    /// or none (make-before-break: traffic moves to a new SA at once).
    fn publish_outbound(&self) {
        let newest = self.outbound.iter().max_by_key(|sa| sa.serial).cloned();
        self.owner.outbound.publish(newest);
    }
}

/// On 4500 a BPF filter keeps only IKE (non-ESP marker) on the daemon's socket; the
/// receive threads' raw sockets take the ESP (see the module documentation).
pub(super) fn prepare_ike_socket(socket: &std::net::UdpSocket, nat_t: bool) -> Result<()> {
    if nat_t {
        sockets::keep_ike_only(socket.as_fd())
            .map_err(|e| DataplaneError::new("filtering ESP off the IKE socket", e))?;
    }
    Ok(())
}

struct Installed {
    sa: Arc<Sa>,
    tunnel: String,
    soft_reported: bool,
}

pub struct UserspaceDataplane {
    rtnl: Rtnl,
    /// The outer sockets of each underlay: the global one (`None`) and each `tunnel vrf`
    /// in use, bound to its VRF device; each socket has a receive thread.
    underlays: HashMap<Option<String>, Arc<Sockets>>,
    vrfs: Vrfs,
    /// The receive threads' table, and the control thread's copy of it.
    inbound: Arc<Published<InboundTable>>,
    inbound_sas: InboundTable,
    tunnels: HashMap<String, Tunnel>,
    next_token: u64,
    tx_workers: Vec<tx::Worker>,
    /// Which worker reads which tunnel's queues.
    spread: queues::Spread,
    sas: HashMap<SaKey, Installed>,
    /// Allocated by `alloc_spi`, not installed yet.
    reserved_spis: HashSet<u32>,
    /// UDP ports held for ESP-in-UDP when the daemon does not hold them.
    held_ports: HashMap<SocketAddr, UdpSocket>,
    stop: Arc<AtomicBool>,
    /// The receive threads and the transmit workers.
    threads: Vec<JoinHandle<()>>,
    /// How packet threads died, reported by `poll_events`.
    failures: Failures,
    next_serial: u64,
}

impl UserspaceDataplane {
    /// Open the userspace data path (needs /dev/net/tun, and CAP_NET_ADMIN + CAP_NET_RAW
    /// for TUN devices and raw sockets).
    pub fn open() -> Result<Self> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(|e| {
                let op = "userspace data path needs /dev/net/tun (modprobe tun; CAP_NET_ADMIN)";
                DataplaneError::new(op, e)
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Failures::default();
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WORKERS);
        let mut tx_workers = Vec::new();
        let mut threads = Vec::new();
        for index in 0..workers {
            let (worker, thread) = tx::Worker::start(index, stop.clone(), &failures)
                .map_err(|e| DataplaneError::new("starting a transmit worker", e))?;
            tx_workers.push(worker);
            threads.push(thread);
        }
        let mut dp = UserspaceDataplane {
            rtnl: link::open()?,
            underlays: HashMap::new(),
            vrfs: Vrfs::default(),
            inbound: Arc::new(Published::new(InboundTable::new())),
            inbound_sas: InboundTable::new(),
            tunnels: HashMap::new(),
            next_token: 0,
            spread: queues::Spread::new(tx_workers.len()),
            tx_workers,
            sas: HashMap::new(),
            reserved_spis: HashSet::new(),
            held_ports: HashMap::new(),
            stop,
            threads,
            failures,
            next_serial: 0,
        };
        dp.underlay(None).map_err(|e| DataplaneError {
            op: "userspace data path needs raw sockets (CAP_NET_RAW)".into(),
            ..e
        })?;
        Ok(dp)
    }

    /// The outer sockets of underlay `vrf` (`tunnel vrf`; `None`: the global table),
    /// opened with their receive threads when first needed.
    fn underlay(&mut self, vrf: Option<&str>) -> Result<Arc<Sockets>> {
        let key = vrf.map(str::to_string);
        if let Some(sockets) = self.underlays.get(&key) {
            return Ok(sockets.clone());
        }
        let sockets = Arc::new(Sockets::open(vrf).map_err(|e| {
            let op = match vrf {
                Some(v) => format!("opening the outer sockets in vrf {v} (tunnel vrf)"),
                None => "opening the outer sockets".into(),
            };
            DataplaneError::new(op, e)
        })?);
        let vrf: Option<Arc<str>> = vrf.map(Arc::from);
        for outer in Outer::ALL {
            let (sockets, reader, flag, vrf) = (
                sockets.clone(),
                published::Reader::new(self.inbound.clone()),
                self.stop.clone(),
                vrf.clone(),
            );
            let name = match &vrf {
                Some(v) => format!("esp-rx-{outer:?}-{v}"),
                None => format!("esp-rx-{outer:?}"),
            };
            let body = move || rx::run(outer, vrf, sockets, reader, flag);
            let sink = self.failures.clone();
            let failed = move |f| sink.push(f);
            let thread = threads::spawn(name, self.stop.clone(), failed, body)
                .map_err(|e| DataplaneError::new("starting a receive thread", e))?;
            self.threads.push(thread);
        }
        self.underlays.insert(key, sockets.clone());
        Ok(sockets)
    }

    fn publish_inbound(&self) {
        self.inbound.publish(self.inbound_sas.clone());
    }

    /// Forget these SAs: they leave the packet threads' tables, which get one new
    /// inbound table if any was inbound (not one per SA: a copy of every inbound SA
    /// each time, quadratic in a hub's tunnels at shutdown or a round of expiries).
    fn remove_sas<'a>(&mut self, keys: impl IntoIterator<Item = &'a SaKey>) {
        let mut inbound_gone = false;
        for key in keys {
            inbound_gone |= self
                .forget_sa(key)
                .is_some_and(|gone| gone.sa.direction == Direction::In);
        }
        if inbound_gone {
            self.publish_inbound();
        }
    }

    /// `remove_sas` of one SA but for the inbound table's publication, which the caller
    /// owes.
    fn forget_sa(&mut self, key: &SaKey) -> Option<Installed> {
        let gone = self.sas.remove(key)?;
        if let Some(t) = self.tunnels.get_mut(&gone.tunnel) {
            t.sas.remove(key);
            if gone.sa.direction == Direction::Out {
                t.outbound.retain(|sa| !Arc::ptr_eq(sa, &gone.sa));
                t.publish_outbound();
            }
        }
        if gone.sa.direction == Direction::In {
            self.inbound_sas.remove(&gone.sa.spi);
        }
        Some(gone)
    }

    /// Take tunnel `name` out of the transmit workers and its SAs out of the tables;
    /// the device goes once the packet threads let go of it (`released`).
    fn detach(&mut self, name: &str) -> Result<Arc<Tun>> {
        let t = self.tunnels.remove(name).ok_or_else(|| {
            DataplaneError::on(name, "removing", DataplaneError::refused("unknown tunnel"))
        })?;
        self.unregister(&t.owner.tun, &t.workers, t.token);
        self.spread.release(&t.workers);
        let mut inbound_gone = false;
        for key in &t.sas {
            if let Some(gone) = self.sas.remove(key) {
                if gone.sa.direction == Direction::In {
                    self.inbound_sas.remove(&gone.sa.spi);
                    inbound_gone = true;
                }
            }
        }
        if inbound_gone {
            self.publish_inbound();
        }
        Ok(t.owner.tun.clone())
    }

    /// Take the queues of `tun` (read by `workers`, queue by queue) out of the workers'
    /// poll sets.
    fn unregister(&self, tun: &Tun, workers: &[usize], token: u64) {
        for (&w, queue) in workers.iter().zip(&tun.queues) {
            let worker = &self.tx_workers[w];
            // The queue stays open (the worker holds the device) until it is told.
            let _ = worker.poll.delete(queue.as_fd());
            worker.tell(tx::Change::Remove(token));
        }
    }

    /// Tunnel `spec`'s TUN device, a queue for each of `workers`, configured and in
    /// their poll sets (on error: nothing of it left).
    fn create(
        &mut self,
        spec: &TunnelSpec,
        ivrf: Option<VrfDevice>,
        sockets: Arc<Sockets>,
        workers: Vec<usize>,
    ) -> Result<Tunnel> {
        let (o, mtu) = (&spec.options, tunnel::mtu(spec));
        let tun = Arc::new(Tun::create(&spec.name, workers.len())?);
        tun.adjust_mss.set(o.adjust_mss_v4, o.adjust_mss_v6);
        tun.df_bit.set(o.df_bit);
        // Dropping `tun` on error closes the queues, which removes the device.
        let index = link::index(&mut self.rtnl, &spec.name)
            .map_err(|e| DataplaneError::on(&spec.name, "looking up", e))?;
        link::no_queue(&mut self.rtnl, index)
            .map_err(|e| DataplaneError::on(&spec.name, "setting qdisc noqueue", e))?;
        link::configure(&mut self.rtnl, index, spec, None, Some(mtu), ivrf)?;
        link::join_group(&mut self.rtnl, index)
            .map_err(|e| DataplaneError::on(&spec.name, "setting its device group", e))?;
        let owner = Owner {
            tun: tun.clone(),
            gre: o.gre.map(|g| gre::Gre {
                key: g.key,
                local: spec.local,
                peer: spec.peer,
            }),
            fvrf: o.tunnel_vrf.as_deref().map(Arc::from),
            outbound: Arc::new(Published::new(None)),
        };
        let token = self.next_token;
        self.next_token += 1;
        for (queue, &w) in workers.iter().enumerate() {
            let worker = &self.tx_workers[w];
            worker.tell(tx::Change::Add {
                token,
                tun: tun.clone(),
                queue,
                outbound: published::Reader::new(owner.outbound.clone()),
                sockets: sockets.clone(),
            });
            if let Err(e) = worker.poll.add(tun.queues[queue].as_fd(), token) {
                self.unregister(&tun, &workers, token);
                return Err(DataplaneError::on(&spec.name, "polling its TUN queue", e));
            }
        }
        Ok(Tunnel {
            spec: spec.clone(),
            index,
            ivrf,
            owner,
            token,
            workers,
            outbound: Vec::new(),
            sas: HashSet::new(),
            mtu,
        })
    }

    /// The SA `key` of `tunnel` (an SA of another tunnel is not `tunnel`'s to touch).
    fn installed(&self, tunnel: &str, key: SaKey) -> Result<&Installed> {
        match self.sas.get(&key) {
            Some(i) if i.tunnel == tunnel => Ok(i),
            _ => {
                let (direction, spi, dst) = key;
                let e = std::io::Error::new(std::io::ErrorKind::NotFound, "no such SA");
                Err(DataplaneError::on(
                    tunnel,
                    format!("{direction:?} SA {spi:#010x} to {dst}"),
                    e,
                ))
            }
        }
    }

    /// `tunnel path-mtu-discovery`: each such tunnel's MTU follows what the kernel
    /// learnt of the path to its peer (ICMP "fragmentation needed" / "packet too big"
    /// for the ESP packets), so that the kernel answers inner packets too large for it,
    /// as IOS does for a tunnel with the line. Without it the MTU stays as configured
    /// and the outer packets are fragmented instead.
    fn follow_path_mtu(&mut self) {
        for (name, t) in &mut self.tunnels {
            if !t.spec.options.path_mtu_discovery {
                continue;
            }
            let fvrf = t.spec.options.tunnel_vrf.as_deref();
            let Ok(path) = sys::path_mtu(t.spec.local, t.spec.peer, fvrf) else {
                continue;
            };
            let mtu = tunnel::mtu_for_path(&t.spec, path);
            if mtu == t.mtu {
                continue;
            }
            match link::set_mtu(&mut self.rtnl, t.index, mtu) {
                Ok(()) => {
                    tracing::info!(
                        tunnel = %name,
                        "path MTU to {} is {path}: {name} MTU {} -> {mtu} (tunnel path-mtu-discovery)",
                        t.spec.peer,
                        t.mtu
                    );
                    t.mtu = mtu;
                }
                Err(e) => tracing::warn!(tunnel = %name, "setting MTU {mtu}: {e}"),
            }
        }
    }

    /// Hold UDP `local` for ESP-in-UDP unless someone (the daemon) does.
    fn hold_port(&mut self, local: SocketAddr) -> Result<()> {
        if self.held_ports.contains_key(&local) {
            return Ok(());
        }
        if let Some(sock) =
            sockets::hold_port(local).map_err(|e| DataplaneError::new(format!("UDP {local}"), e))?
        {
            self.held_ports.insert(local, sock);
        }
        Ok(())
    }
}

impl Dataplane for UserspaceDataplane {
    fn kind(&self) -> DataplaneKind {
        DataplaneKind::Userspace
    }

    fn ensure_tunnel(&mut self, spec: &TunnelSpec) -> Result<()> {
        let mtu = tunnel::mtu(spec);
        let o = &spec.options;
        if let Some(t) = self.tunnels.get_mut(&spec.name) {
            let (old, new) = (&t.spec.options, &spec.options);
            let same_place = (
                &old.vrf,
                &old.tunnel_vrf,
                old.gre,
                t.spec.local,
                t.spec.peer,
            ) == (&new.vrf, &new.tunnel_vrf, new.gre, spec.local, spec.peer);
            if same_place {
                if t.spec != *spec {
                    link::configure(
                        &mut self.rtnl,
                        t.index,
                        spec,
                        Some(&t.spec),
                        Some(mtu),
                        t.ivrf,
                    )?;
                    t.mtu = mtu;
                    t.owner.tun.adjust_mss.set(o.adjust_mss_v4, o.adjust_mss_v6);
                    t.owner.tun.df_bit.set(o.df_bit);
                    t.spec = spec.clone();
                }
                return Ok(());
            }
            // Another VRF, underlay or GRE: a new interface, as the kernel path does.
            self.remove_tunnel(&spec.name)?;
        }
        let ivrf = self
            .vrfs
            .ensure(&mut self.rtnl, o.vrf.as_deref(), &spec.name)?;
        // `tunnel vrf`: the outer sockets are bound to the VRF device.
        let fvrf = o.tunnel_vrf.as_deref();
        self.vrfs.ensure(&mut self.rtnl, fvrf, &spec.name)?;
        let sockets = self.underlay(fvrf)?;
        let workers = self.spread.assign(self.tunnels.len());
        match self.create(spec, ivrf, sockets, workers.clone()) {
            Ok(t) => {
                self.tunnels.insert(spec.name.clone(), t);
                Ok(())
            }
            Err(e) => {
                self.spread.release(&workers);
                Err(e)
            }
        }
    }

    fn descriptors(&self, tunnels: usize) -> usize {
        queues::descriptors(tunnels, self.tx_workers.len())
    }

    fn remove_tunnel(&mut self, name: &str) -> Result<()> {
        let tun = self.detach(name)?;
        released(&[tun]);
        Ok(())
    }

    fn alloc_spi(&mut self, _tunnel: &str, _src: IpAddr, _dst: IpAddr) -> Result<u32> {
        // SPIs of negotiations that never completed are not returned: forget them in
        // bulk once there are far more than negotiations could be in flight.
        if self.reserved_spis.len() >= MAX_RESERVED_SPIS {
            self.reserved_spis.clear();
        }
        let mut rng = OsRng;
        loop {
            let spi = rng.next_u32();
            let taken = self.reserved_spis.contains(&spi) || self.inbound_sas.contains_key(&spi);
            if spi >= MIN_SPI && !taken {
                self.reserved_spis.insert(spi);
                return Ok(spi);
            }
        }
    }

    fn install_sa(&mut self, tunnel: &TunnelSpec, spec: &SaSpec) -> Result<()> {
        let name = &tunnel.name;
        let what = format!("installing {:?} SA {:#010x}", spec.direction, spec.spi);
        let refused = |why: String| DataplaneError::on(name, &what, DataplaneError::refused(why));
        let Some(tunnel) = self.tunnels.get(name) else {
            return Err(refused("unknown tunnel".into()));
        };
        if spec.src.is_ipv4() != spec.dst.is_ipv4() {
            return Err(refused(format!(
                "{} -> {} mixes families",
                spec.src, spec.dst
            )));
        }
        if spec.spi < MIN_SPI {
            return Err(refused("reserved SPI".into()));
        }
        let key = (spec.direction, spec.spi, spec.dst);
        if self.sas.contains_key(&key) {
            return Err(refused(format!("one to {} exists", spec.dst)));
        }
        if spec.direction == Direction::In && self.inbound_sas.contains_key(&spec.spi) {
            return Err(refused("inbound SPI in use".into()));
        }
        let local = match spec.direction {
            Direction::In => spec.encap.map(|e| SocketAddr::new(spec.dst, e.dport)),
            Direction::Out => spec.encap.map(|e| SocketAddr::new(spec.src, e.sport)),
        };
        if let Some(local) = local {
            // The raw UDP sockets' filter listens on 4500 only (RFC 3948's port).
            if local.port() != NAT_T_PORT {
                return Err(refused(format!("ESP-in-UDP only on port {NAT_T_PORT}")));
            }
        }
        let mut sa = Sa::new(spec, &tunnel.owner, self.next_serial + 1, Instant::now())
            .map_err(|e| refused(e.to_string()))?;
        if spec.direction == Direction::Out && spec.dst.is_ipv4() {
            // Unknown (no route yet): every packet takes the raw ESP socket.
            let fvrf = tunnel.owner.fvrf.as_deref();
            sa.own_header_max = sys::path_mtu(spec.src, spec.dst, fvrf)
                .ok()
                .map(|m| m as usize);
        }
        self.next_serial = sa.serial;
        let sa = Arc::new(sa);
        if let Some(local) = local {
            self.hold_port(local)?;
        }
        self.sas.insert(
            key,
            Installed {
                sa: sa.clone(),
                tunnel: name.clone(),
                soft_reported: false,
            },
        );
        let Some(t) = self.tunnels.get_mut(name) else {
            return Ok(());
        };
        t.sas.insert(key);
        match spec.direction {
            Direction::In => {
                self.reserved_spis.remove(&spec.spi);
                self.inbound_sas.insert(spec.spi, sa);
                self.publish_inbound();
            }
            Direction::Out => {
                t.outbound.push(sa);
                t.publish_outbound();
            }
        }
        Ok(())
    }

    fn delete_sa(
        &mut self,
        tunnel: &str,
        direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<()> {
        let sa = (tunnel.to_string(), direction, spi, dst);
        self.delete_sas(&[sa]).pop().map_or(Ok(()), Err)
    }

    fn delete_sas(&mut self, sas: &[TunnelSa]) -> Vec<DataplaneError> {
        let mut errors = Vec::new();
        let mut found = Vec::new();
        for (tunnel, direction, spi, dst) in sas {
            let key = (*direction, *spi, *dst);
            match self.installed(tunnel, key) {
                Ok(_) => found.push(key),
                Err(e) => errors.push(e),
            }
        }
        self.remove_sas(&found);
        errors
    }

    fn counters(
        &mut self,
        tunnel: &str,
        direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<SaCounters> {
        let i = self.installed(tunnel, (direction, spi, dst))?;
        Ok(i.sa.snapshot(Instant::now()))
    }

    fn poll_events(&mut self) -> Vec<DataplaneEvent> {
        let now = Instant::now();
        let mut events = Vec::new();
        let mut spent = Vec::new();
        for (key, i) in &mut self.sas {
            let hard = match i.sa.expiry(now) {
                Expiry::Live => continue,
                Expiry::Soft if i.soft_reported => continue,
                Expiry::Soft => {
                    i.soft_reported = true;
                    false
                }
                Expiry::Hard => {
                    spent.push(*key);
                    true
                }
            };
            events.push(DataplaneEvent::Expired {
                tunnel: i.tunnel.clone(),
                spi: i.sa.spi,
                dst: i.sa.dst,
                hard,
            });
        }
        self.remove_sas(&spent);
        self.follow_path_mtu();
        // At most one acquire per tunnel and poll: the engine does the rest.
        events.extend(
            self.tunnels
                .iter()
                .filter(|(_, t)| t.owner.tun.sa_wanted.swap(false, Ordering::Relaxed))
                .map(|(name, _)| DataplaneEvent::Acquire {
                    tunnel: name.clone(),
                }),
        );
        events.extend(
            self.failures
                .take()
                .into_iter()
                .map(DataplaneEvent::ThreadFailed),
        );
        events
    }

    /// Every tunnel at once: one wait for the packet threads and one batched removal of
    /// the devices, not one of each per tunnel.
    fn shutdown(&mut self) {
        let names: Vec<String> = self.tunnels.keys().cloned().collect();
        let devices: Vec<Arc<Tun>> = names.iter().filter_map(|n| self.detach(n).ok()).collect();
        released(&devices);
        // The devices go in one batch; closing their queues then finds them gone.
        if !devices.is_empty() {
            if let Err(e) = link::flush_group_ipv6_routes(&mut self.rtnl) {
                tracing::warn!("removing the tunnel interfaces' IPv6 routes first: {e}");
            }
            if let Err(e) = link::delete_group(&mut self.rtnl) {
                tracing::warn!("removing the tunnel interfaces in one batch: {e}");
            }
        }
        drop(devices);
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.sas.clear();
        self.held_ports.clear();
        self.underlays.clear();
        self.vrfs.remove_own(&mut self.rtnl);
    }
}

/// Wait (a few wake-ups of the packet threads at most) until only the caller holds
/// `devices`: the receive threads drop their references to a removed tunnel's SAs at
/// their next wake-up, the workers theirs when told; the last to let go closes the TUN
/// device, which removes the interface.
fn released(devices: &[Arc<Tun>]) {
    let deadline = Instant::now() + 4 * sockets::WAKE_INTERVAL;
    while devices.iter().any(|d| Arc::strong_count(d) > 1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for UserspaceDataplane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Secret;
    use crate::ipsec::{EspAuth, EspEncr, EspMode, EspTransform, InnerFamily, Lifetimes};
    use std::io::Read;

    /// A tunnel whose "TUN device" is a plain file: what the receive path writes to it
    /// can be read back.
    fn tunnel(tag: &str) -> (Arc<Tun>, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("ikev1d-us-{tag}-{}", std::process::id()));
        let file = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let tun = Arc::new(Tun {
            name: "Tunnel23".into(),
            queues: vec![file],
            adjust_mss: Default::default(),
            df_bit: Default::default(),
            sa_wanted: AtomicBool::new(false),
        });
        (tun, path)
    }

    fn sa(serial: u64, direction: Direction, spi: u32, io: &Arc<Tun>) -> Arc<Sa> {
        let transform = EspTransform {
            encr: EspEncr::Aes(128),
            auth: EspAuth::HmacSha1,
        };
        sa_with(transform, serial, direction, spi, io)
    }

    fn sa_with(
        transform: EspTransform,
        serial: u64,
        direction: Direction,
        spi: u32,
        io: &Arc<Tun>,
    ) -> Arc<Sa> {
        gre_sa(transform, direction, spi, io, None, EspMode::Tunnel, serial)
    }

    /// An SA between 2001:db8::2 (local) and ::3, of a GRE tunnel with `gre_key` (`None`:
    /// a VTI's) in `mode`.
    fn gre_sa(
        transform: EspTransform,
        direction: Direction,
        spi: u32,
        io: &Arc<Tun>,
        gre_key: Option<Option<u32>>,
        mode: EspMode,
        serial: u64,
    ) -> Arc<Sa> {
        let (local, peer): (IpAddr, IpAddr) = (
            "2001:db8::2".parse().unwrap(),
            "2001:db8::3".parse().unwrap(),
        );
        let (src, dst) = match direction {
            Direction::In => (peer, local),
            Direction::Out => (local, peer),
        };
        // Both directions of an SPI derive the same keys, like the two ends of one SA.
        let key = |len: usize, tag: u8| Secret::new(vec![(spi as u8) ^ tag; len]);
        let spec = SaSpec {
            tunnel: "Tunnel23".into(),
            direction,
            spi,
            src,
            dst,
            inner: InnerFamily::V6,
            mode,
            transform,
            enc_key: key(transform.encr.key_len(), 0x11),
            auth_key: key(transform.auth.key_len(), 0x22),
            lifetimes: Lifetimes::default(),
            encap: None,
            replay_window: 64,
        };
        // The outbound SA sends local's GRE to the peer; the inbound one stands for the
        // peer's end of that SA, which receives it.
        let (us, them) = match direction {
            Direction::Out => (local, peer),
            Direction::In => (peer, local),
        };
        let owner = Owner {
            tun: io.clone(),
            gre: gre_key.map(|key| gre::Gre {
                key,
                local: us,
                peer: them,
            }),
            fvrf: None,
            outbound: Arc::new(Published::new(None)),
        };
        Arc::new(Sa::new(&spec, &owner, serial, Instant::now()).unwrap())
    }

    /// GRE in both modes, with and without a key, through `seal` and the receive path:
    /// the TUN device gets the inner packets back; a key mismatch delivers nothing.
    #[test]
    fn gre_crosses_the_send_and_receive_paths_in_both_modes() {
        let t = EspTransform {
            encr: EspEncr::Aes(128),
            auth: EspAuth::HmacSha1,
        };
        for (i, (mode, key)) in [
            (EspMode::Transport, Some(100)),
            (EspMode::Transport, None),
            (EspMode::Tunnel, Some(7)),
            (EspMode::Tunnel, None),
        ]
        .into_iter()
        .enumerate()
        {
            let (io, path) = tunnel(&format!("gre-{i}"));
            let out = gre_sa(t, Direction::Out, 0x5000, &io, Some(key), mode, 1);
            let inb = gre_sa(t, Direction::In, 0x5000, &io, Some(key), mode, 1);
            let mut rx = rx::Receiver::new(Outer::Esp6, None, None);
            rx.rebuild(&InboundTable::from([(0x5000, inb.clone())]));
            for tag in 1..=2 {
                receive(&mut rx, sealed(&out, tag));
            }
            assert_eq!(delivered(&path), [1, 2], "{mode:?} key {key:?}");
            // What the peer sends with another key is not its GRE.
            let stranger = gre_sa(t, Direction::Out, 0x5000, &io, Some(Some(999)), mode, 1);
            receive(&mut rx, sealed(&stranger, 3));
            assert_eq!(delivered(&path), [1, 2], "{mode:?}: key 999 delivered");
            std::fs::remove_file(path).unwrap();
        }
    }

    /// An IPv6 packet with `tag` as its payload, sealed by `out`.
    fn sealed(out: &Sa, tag: u8) -> Vec<u8> {
        let mut inner = vec![0u8; 48];
        inner[0] = 0x60;
        inner[4..6].copy_from_slice(&8u16.to_be_bytes());
        inner[40..].fill(tag);
        let mut slot = vec![0u8; sys::SLOT];
        slot[tx::HEADROOM..tx::HEADROOM + inner.len()].copy_from_slice(&inner);
        let (start, len) = tx::seal(out, &mut slot, inner.len(), &mut tx::IvPool::new()).unwrap();
        slot[start..start + len].to_vec()
    }

    fn receive(rx: &mut rx::Receiver, mut packet: Vec<u8>) {
        let n = packet.len();
        rx.deliver(&mut packet, std::iter::once(0..n));
    }

    fn delivered(path: &std::path::Path) -> Vec<u8> {
        let mut all = Vec::new();
        File::open(path).unwrap().read_to_end(&mut all).unwrap();
        // Each write: a virtio_net_hdr, then the 48-byte packet.
        all.chunks(offload::VNET_HDR_LEN + 48)
            .map(|p| p[offload::VNET_HDR_LEN + 40])
            .collect()
    }

    #[test]
    fn rekey_hands_over_without_loss_or_replay() {
        let (io, path) = tunnel("handover");
        let (old_in, old_out) = (
            sa(1, Direction::In, 0x1000, &io),
            sa(1, Direction::Out, 0x1000, &io),
        );
        let mut table = InboundTable::from([(0x1000, old_in.clone())]);
        let mut rx = rx::Receiver::new(Outer::Esp6, None, None);
        rx.rebuild(&table);

        let p1 = sealed(&old_out, 1);
        receive(&mut rx, p1.clone());
        // Make-before-break: the new inbound SA joins while the old one stays.
        let (new_in, new_out) = (
            sa(2, Direction::In, 0x2000, &io),
            sa(2, Direction::Out, 0x2000, &io),
        );
        table.insert(0x2000, new_in.clone());
        rx.rebuild(&table);
        let late_old = sealed(&old_out, 2);
        let first_new = sealed(&new_out, 3);
        receive(&mut rx, first_new.clone());
        receive(&mut rx, late_old.clone());
        // The rebuild kept the old SA's window: its first packet is still a replay.
        receive(&mut rx, p1.clone());
        // The old inbound SA goes (delete from the peer); the new one keeps its window.
        table.remove(&0x1000);
        rx.rebuild(&table);
        receive(&mut rx, first_new.clone());
        receive(&mut rx, sealed(&old_out, 4));
        receive(&mut rx, sealed(&new_out, 5));

        assert_eq!(delivered(&path), [1, 3, 2, 5]);
        assert_eq!(old_in.counters.packets.load(Ordering::Relaxed), 2);
        assert_eq!(old_in.counters.replay_errors.load(Ordering::Relaxed), 1);
        assert_eq!(new_in.counters.packets.load(Ordering::Relaxed), 2);
        assert_eq!(new_in.counters.replay_errors.load(Ordering::Relaxed), 1);
        std::fs::remove_file(path).unwrap();
    }

    /// The transmit and receive code with every transform: esp-null's 8-byte header,
    /// GCM's 8-byte IV and the SHA-2 ICVs leave the inner packets intact.
    #[test]
    fn every_transform_crosses_the_send_and_receive_paths() {
        for (i, t) in EspTransform::all().enumerate() {
            let (io, path) = tunnel(&format!("transform-{i}"));
            let (inb, out) = (
                sa_with(t, 1, Direction::In, 0x4000, &io),
                sa_with(t, 1, Direction::Out, 0x4000, &io),
            );
            let mut rx = rx::Receiver::new(Outer::Esp6, None, None);
            rx.rebuild(&InboundTable::from([(0x4000, inb.clone())]));
            for tag in 1..=3 {
                receive(&mut rx, sealed(&out, tag));
            }
            assert_eq!(delivered(&path), [1, 2, 3], "{}", t.ios_name());
            assert_eq!(inb.counters.packets.load(Ordering::Relaxed), 3);
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn tampered_packet_is_counted_and_dropped() {
        let (io, path) = tunnel("tamper");
        let (inb, out) = (
            sa(1, Direction::In, 0x3000, &io),
            sa(1, Direction::Out, 0x3000, &io),
        );
        let mut rx = rx::Receiver::new(Outer::Esp6, None, None);
        rx.rebuild(&InboundTable::from([(0x3000, inb.clone())]));
        let mut bad = sealed(&out, 1);
        let mid = bad.len() / 2;
        bad[mid] ^= 1;
        receive(&mut rx, bad);
        // The forged packet did not move the window: the genuine one still passes.
        receive(&mut rx, sealed(&out, 2));
        assert_eq!(delivered(&path), [2]);
        assert_eq!(inb.counters.integrity_errors.load(Ordering::Relaxed), 1);
        std::fs::remove_file(path).unwrap();
    }

    fn with_tunnel(tun: &Arc<Tun>) -> Tunnel {
        Tunnel {
            spec: TunnelSpec {
                name: "Tunnel23".into(),
                if_id: 23,
                local: "2001:db8::2".parse().unwrap(),
                peer: "2001:db8::3".parse().unwrap(),
                inner: InnerFamily::V6,
                ..TunnelSpec::for_test(Default::default())
            },
            index: 0,
            ivrf: None,
            owner: Owner {
                tun: tun.clone(),
                gre: None,
                fvrf: None,
                outbound: Arc::new(Published::new(None)),
            },
            token: 0,
            workers: vec![0],
            outbound: vec![],
            sas: HashSet::new(),
            mtu: 1400,
        }
    }

    #[test]
    fn outbound_moves_to_the_newest_sa_and_back_when_it_goes() {
        let (io, path) = tunnel("newest");
        let mut t = with_tunnel(&io);
        let published = t.owner.outbound.clone();
        let current = || published.current().as_ref().as_ref().map(|sa| sa.spi);
        let (a, b) = (
            sa(1, Direction::Out, 0xa, &io),
            sa(2, Direction::Out, 0xb, &io),
        );
        t.outbound = vec![a.clone()];
        t.publish_outbound();
        assert_eq!(current(), Some(0xa));
        t.outbound.push(b.clone());
        t.publish_outbound();
        assert_eq!(current(), Some(0xb));
        t.outbound.retain(|sa| !Arc::ptr_eq(sa, &b));
        t.publish_outbound();
        assert_eq!(current(), Some(0xa));
        t.outbound.clear();
        t.publish_outbound();
        assert_eq!(current(), None);
        drop(t);
        std::fs::remove_file(path).unwrap();
    }

    /// The SAs point at the TUN device, the device at nothing: once the tunnel and its
    /// SAs are let go, nothing keeps the device (and its interface) alive.
    #[test]
    fn a_removed_tunnel_leaves_no_reference_to_its_device() {
        let (tun, path) = tunnel("cycle");
        let mut t = with_tunnel(&tun);
        t.outbound = vec![sa(1, Direction::Out, 0xa, &tun)];
        t.publish_outbound();
        assert!(Arc::strong_count(&tun) > 1);
        drop(t);
        assert_eq!(Arc::strong_count(&tun), 1);
        std::fs::remove_file(path).unwrap();
    }
}
