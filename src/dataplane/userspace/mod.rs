//! Userspace data path: ESP (RFC 4303, tunnel mode) over a TUN device, for kernels
//! without XFRM ESP. Same contract as the kernel path: the tunnel interface is named
//! like the IOS interface (`Tunnel23`), with its addresses, its configured link-local
//! address (the random one suppressed), MTU and routes; SAs come and go through the
//! `Dataplane` trait.
//!
//! # Threads
//! - One transmit thread per TUN queue (multi-queue TUN, one queue per core, up to
//!   4): drain the queue, cut TSO packets into MSS-sized ones (the TUN device offers
//!   checksum and TCP segmentation offload, `offload.rs`), seal each in place with the
//!   tunnel's newest outbound SA, send up to 64 per `sendmmsg` (`tx.rs`).
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

mod gro;
mod inner;
mod offload;
mod published;
mod replay;
mod rx;
mod sa;
mod sockets;
mod sys;
mod tunnel;
mod tx;

use super::link::{self, Rtnl};
use super::netlink;
use super::*;
use crate::crypto::{OsRng, Rng};
use published::Published;
use sa::{Expiry, Sa};
use sockets::{Outer, Sockets, NAT_T_PORT};
use std::collections::{HashMap, HashSet};
#[cfg(test)]
use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tunnel::TunnelIo;

/// The receive threads' SPI -> SA map (inbound SPIs are ours, unique across tunnels).
pub(crate) type InboundTable = HashMap<u32, Arc<Sa>>;

/// An SA's identity, as XFRM's: direction, SPI, destination.
type SaKey = (Direction, u32, IpAddr);

/// SPIs 1..=255 are reserved by IANA (RFC 4303 2.1).
const MIN_SPI: u32 = 256;
/// Allocated SPIs remembered until installed.
const MAX_RESERVED_SPIS: usize = 4096;
/// Most TUN queues (and transmit threads) per tunnel.
const MAX_QUEUES: usize = 4;

struct Tunnel {
    spec: TunnelSpec,
    /// The TUN device's interface index.
    index: u32,
    io: Arc<TunnelIo>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Installed outbound SAs, oldest first.
    outbound: Vec<Arc<Sa>>,
}

impl Tunnel {
    /// Point the transmit threads at the newest outbound SA (or none).
    fn publish_outbound(&self) {
        let newest = self.outbound.iter().max_by_key(|sa| sa.serial).cloned();
        self.io.outbound.publish(newest);
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Installed {
    sa: Arc<Sa>,
    tunnel: String,
    soft_reported: bool,
}

pub struct UserspaceDataplane {
    rtnl: Rtnl,
    sockets: Arc<Sockets>,
    inbound: Arc<Published<InboundTable>>,
    tunnels: HashMap<String, Tunnel>,
    sas: HashMap<SaKey, Installed>,
    /// Allocated by `alloc_spi`, not installed yet.
    reserved_spis: HashSet<u32>,
    /// UDP ports held for ESP-in-UDP when the daemon does not hold them.
    held_ports: HashMap<SocketAddr, UdpSocket>,
    stop: Arc<AtomicBool>,
    rx_threads: Vec<JoinHandle<()>>,
    next_serial: u64,
    queues: usize,
}

fn err(msg: impl Into<String>) -> DataplaneError {
    DataplaneError(msg.into())
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
                err(format!(
                    "userspace data path needs /dev/net/tun (modprobe tun; CAP_NET_ADMIN): {e}"
                ))
            })?;
        let sockets = Arc::new(Sockets::open().map_err(|e| {
            err(format!(
                "userspace data path needs raw sockets (CAP_NET_RAW): {e}"
            ))
        })?);
        let inbound = Arc::new(Published::new(InboundTable::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut rx_threads = Vec::new();
        for outer in Outer::ALL {
            let (sockets, reader, stop) = (
                sockets.clone(),
                published::Reader::new(inbound.clone()),
                stop.clone(),
            );
            let thread = std::thread::Builder::new()
                .name(format!("esp-rx-{outer:?}"))
                .spawn(move || rx::run(outer, sockets, reader, stop))
                .map_err(|e| err(format!("cannot start receive thread: {e}")))?;
            rx_threads.push(thread);
        }
        let queues = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_QUEUES);
        Ok(UserspaceDataplane {
            rtnl: link::open()?,
            sockets,
            inbound,
            tunnels: HashMap::new(),
            sas: HashMap::new(),
            reserved_spis: HashSet::new(),
            held_ports: HashMap::new(),
            stop,
            rx_threads,
            next_serial: 0,
            queues,
        })
    }

    fn publish_inbound(&self) {
        let table = self
            .sas
            .values()
            .filter(|i| i.sa.direction == Direction::In)
            .map(|i| (i.sa.spi, i.sa.clone()))
            .collect();
        self.inbound.publish(table);
    }

    /// Forget an SA: it leaves the packet threads' tables.
    fn remove_sa(&mut self, key: &SaKey) -> Option<Installed> {
        let gone = self.sas.remove(key)?;
        match gone.sa.direction {
            Direction::In => self.publish_inbound(),
            Direction::Out => {
                if let Some(t) = self.tunnels.get_mut(&gone.tunnel) {
                    t.outbound.retain(|sa| !Arc::ptr_eq(sa, &gone.sa));
                    t.publish_outbound();
                }
            }
        }
        Some(gone)
    }

    /// The SA `key` of `tunnel` (an SA of another tunnel is not `tunnel`'s to touch).
    fn installed(&self, tunnel: &str, key: SaKey) -> Result<&Installed> {
        match self.sas.get(&key) {
            Some(i) if i.tunnel == tunnel => Ok(i),
            _ => {
                let (direction, spi, dst) = key;
                Err(err(format!(
                    "no {direction:?} SA {spi:#010x} to {dst} on {tunnel}"
                )))
            }
        }
    }

    /// Hold UDP `local` for ESP-in-UDP unless someone (the daemon) does.
    fn hold_port(&mut self, local: SocketAddr) -> Result<()> {
        if self.held_ports.contains_key(&local) {
            return Ok(());
        }
        if let Some(sock) =
            sockets::hold_port(local).map_err(|e| err(format!("UDP {local}: {e}")))?
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
        let mtu = Some(tunnel::mtu(spec));
        if let Some(t) = self.tunnels.get_mut(&spec.name) {
            if t.spec != *spec {
                link::configure(&mut self.rtnl, t.index, spec, Some(&t.spec), mtu)?;
                t.spec = spec.clone();
            }
            return Ok(());
        }
        let io = Arc::new(TunnelIo::create(&spec.name, self.queues)?);
        // Dropping `io` on error closes the queues, which removes the device.
        let index = link::index(&mut self.rtnl, &spec.name)
            .map_err(|e| netlink::err(format!("{}: looking up", spec.name), e))?;
        link::configure(&mut self.rtnl, index, spec, None, mtu)?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for queue in 0..io.queues.len() {
            let (io, sockets, stop) = (io.clone(), self.sockets.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name(format!("esp-tx-{}-{queue}", spec.name))
                .spawn(move || tx::run(io, queue, sockets, stop))
                .map_err(|e| err(format!("cannot start transmit thread: {e}")))?;
            threads.push(thread);
        }
        self.tunnels.insert(
            spec.name.clone(),
            Tunnel {
                spec: spec.clone(),
                index,
                io,
                stop,
                threads,
                outbound: Vec::new(),
            },
        );
        Ok(())
    }

    fn remove_tunnel(&mut self, name: &str) -> Result<()> {
        let mut t = self
            .tunnels
            .remove(name)
            .ok_or_else(|| err(format!("no tunnel {name}")))?;
        t.stop();
        let keys: Vec<SaKey> = self
            .sas
            .iter()
            .filter(|(_, i)| i.tunnel == name)
            .map(|(k, _)| *k)
            .collect();
        for key in &keys {
            self.remove_sa(key);
        }
        t.outbound.clear();
        t.io.outbound.publish(None);
        // Receive threads drop their references at their next wakeup; the TUN device
        // goes away with the last one.
        let deadline = Instant::now() + 4 * sockets::WAKE_INTERVAL;
        while Arc::strong_count(&t.io) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
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
            let taken = self.reserved_spis.contains(&spi)
                || self
                    .sas
                    .keys()
                    .any(|(d, s, _)| *d == Direction::In && *s == spi);
            if spi >= MIN_SPI && !taken {
                self.reserved_spis.insert(spi);
                return Ok(spi);
            }
        }
    }

    fn install_sa(&mut self, spec: &SaSpec) -> Result<()> {
        let what = format!("{:?} SA {:#010x}", spec.direction, spec.spi);
        let tunnel = self
            .tunnels
            .get(&spec.tunnel)
            .ok_or_else(|| err(format!("{what}: no tunnel {}", spec.tunnel)))?;
        if spec.src.is_ipv4() != spec.dst.is_ipv4() {
            return Err(err(format!(
                "{what}: {} -> {} mixes families",
                spec.src, spec.dst
            )));
        }
        if spec.spi < MIN_SPI {
            return Err(err(format!("{what}: reserved SPI")));
        }
        let key = (spec.direction, spec.spi, spec.dst);
        if self.sas.contains_key(&key) {
            return Err(err(format!("{what} to {} exists", spec.dst)));
        }
        if spec.direction == Direction::In && self.inbound.current().contains_key(&spec.spi) {
            return Err(err(format!("{what}: inbound SPI in use")));
        }
        let local = match spec.direction {
            Direction::In => spec.encap.map(|e| SocketAddr::new(spec.dst, e.dport)),
            Direction::Out => spec.encap.map(|e| SocketAddr::new(spec.src, e.sport)),
        };
        if let Some(local) = local {
            // The raw UDP sockets' filter listens on 4500 only (RFC 3948's port).
            if local.port() != NAT_T_PORT {
                return Err(err(format!("{what}: ESP-in-UDP only on port {NAT_T_PORT}")));
            }
        }
        let sa = Sa::new(
            spec,
            self.next_serial + 1,
            tunnel.io.clone(),
            Instant::now(),
        )
        .map_err(|e| err(format!("{what}: {e}")))?;
        self.next_serial = sa.serial;
        let sa = Arc::new(sa);
        if let Some(local) = local {
            self.hold_port(local)?;
        }
        self.sas.insert(
            key,
            Installed {
                sa: sa.clone(),
                tunnel: spec.tunnel.clone(),
                soft_reported: false,
            },
        );
        match spec.direction {
            Direction::In => {
                self.reserved_spis.remove(&spec.spi);
                self.publish_inbound();
            }
            Direction::Out => {
                if let Some(t) = self.tunnels.get_mut(&spec.tunnel) {
                    t.outbound.push(sa);
                    t.publish_outbound();
                }
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
        let key = (direction, spi, dst);
        self.installed(tunnel, key)?;
        self.remove_sa(&key);
        Ok(())
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

    fn prepare_ike_socket(&mut self, socket: &std::net::UdpSocket, nat_t: bool) -> Result<()> {
        if nat_t {
            sockets::keep_ike_only(socket.as_fd())
                .map_err(|e| err(format!("cannot filter ESP off the IKE socket: {e}")))?;
        }
        Ok(())
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
        for key in &spent {
            self.remove_sa(key);
        }
        events
    }

    fn shutdown(&mut self) {
        let names: Vec<String> = self.tunnels.keys().cloned().collect();
        for name in names {
            let _ = self.remove_tunnel(&name);
        }
        self.stop.store(true, Ordering::Relaxed);
        for t in self.rx_threads.drain(..) {
            let _ = t.join();
        }
        self.sas.clear();
        self.held_ports.clear();
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
    use crate::crypto::{EspAuth, EspEncr, EspTransform};
    use std::io::Read;

    /// A tunnel whose "TUN device" is a plain file: what the receive path writes to it
    /// can be read back.
    fn tunnel(tag: &str) -> (Arc<TunnelIo>, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("ikev1d-us-{tag}-{}", std::process::id()));
        let file = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let io = Arc::new(TunnelIo {
            name: "Tunnel23".into(),
            queues: vec![file],
            outbound: Arc::new(Published::new(None)),
        });
        (io, path)
    }

    fn sa(serial: u64, direction: Direction, spi: u32, io: &Arc<TunnelIo>) -> Arc<Sa> {
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
        io: &Arc<TunnelIo>,
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
            if_id: 23,
            direction,
            spi,
            src,
            dst,
            inner: InnerFamily::V6,
            transform,
            enc_key: key(transform.encr.key_len(), 0x11),
            auth_key: key(transform.auth.key_len(), 0x22),
            lifetimes: Lifetimes::default(),
            encap: None,
            replay_window: 64,
            reqid: 23,
        };
        Arc::new(Sa::new(&spec, serial, io.clone(), Instant::now()).unwrap())
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
        let mut rx = rx::Receiver::new(Outer::Esp6);
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
            let mut rx = rx::Receiver::new(Outer::Esp6);
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
        let mut rx = rx::Receiver::new(Outer::Esp6);
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

    #[test]
    fn outbound_moves_to_the_newest_sa_and_back_when_it_goes() {
        let (io, path) = tunnel("newest");
        let mut t = Tunnel {
            spec: TunnelSpec {
                name: "Tunnel23".into(),
                if_id: 23,
                local: "2001:db8::2".parse().unwrap(),
                peer: "2001:db8::3".parse().unwrap(),
                inner: InnerFamily::V6,
                ipv4: None,
                ipv6: vec![],
                link_local: None,
                mtu: None,
                routes: vec![],
                options: Default::default(),
            },
            index: 0,
            io: io.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: vec![],
            outbound: vec![],
        };
        let current = || io.outbound.current().as_ref().as_ref().map(|sa| sa.spi);
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
}
