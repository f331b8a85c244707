//! Receive: one thread per outer socket takes up to `BATCH` datagrams per
//! `recvmmsg`, finds each one's SA by SPI, checks the replay window (cheap, before the
//! ICV), opens the packet in place, marks the window, checks the inner packet, and
//! writes the batch's inner packets to the TUN devices, TCP runs merged (`gro.rs`).
//!
//! The thread owns the replay windows of the SAs it sees: an SA's packets all come
//! through one socket (its `Outer`), so no window is ever shared between threads.

use super::gre::{self, Decapsulated};
use super::gro::{Coalescer, Ready};
use super::inner::{inner_len, NH_NONE};
use super::offload::VNET_HDR_LEN;
use super::published::Reader;
use super::replay::ReplayWindow;
use super::sa::Sa;
use super::sockets::{Outer, Sockets, WAKE_INTERVAL};
use super::sys::{RecvBatch, SendBatch, BATCH};
use super::tx::{self, IvPool};
use super::InboundTable;
use crate::crypto::CryptoError;
use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

struct Inbound {
    sa: Arc<Sa>,
    window: ReplayWindow,
}

/// A receive thread's state, reused for every batch.
pub(super) struct Receiver {
    outer: Outer,
    /// The underlay of its socket (`tunnel vrf`; `None`: the global table). An unbound
    /// raw socket sees every VRF's packets too (net.ipv4.raw_l3mdev_accept): SAs of
    /// another underlay are not this thread's.
    vrf: Option<Arc<str>>,
    sas: HashMap<u32, Inbound>,
    ready: Vec<Ready>,
    gro: Coalescer,
    /// Where IOS GRE keepalives go back out (`None`: nowhere, they are dropped).
    sockets: Option<Arc<Sockets>>,
    /// Keepalives of this batch to send back: the tunnel's outbound SA, the ESP payload
    /// and its next header.
    keepalives: Vec<(Arc<Sa>, Vec<u8>, u8)>,
    /// What seals and sends them, made at the first one.
    reflector: Option<Box<(SendBatch, IvPool)>>,
}

impl Receiver {
    /// `sockets`: the underlay's, to send IOS GRE keepalives back on.
    pub fn new(outer: Outer, vrf: Option<Arc<str>>, sockets: Option<Arc<Sockets>>) -> Self {
        Receiver {
            outer,
            vrf,
            sas: HashMap::new(),
            ready: Vec::with_capacity(BATCH),
            gro: Coalescer::new(),
            sockets,
            keepalives: Vec::new(),
            reflector: None,
        }
    }

    /// Take the published table's SAs of our socket, keeping the windows of SAs that
    /// stay (matched by install serial, so a reused SPI starts afresh).
    pub fn rebuild(&mut self, table: &InboundTable) {
        let mut old = std::mem::take(&mut self.sas);
        let ours = |sa: &Sa| sa.outer == self.outer && sa.fvrf == self.vrf;
        for (&spi, sa) in table.iter().filter(|(_, sa)| ours(sa)) {
            let window = match old.remove(&spi) {
                Some(kept) if kept.sa.serial == sa.serial => kept.window,
                _ => ReplayWindow::new(sa.replay_window),
            };
            self.sas.insert(
                spi,
                Inbound {
                    sa: sa.clone(),
                    window,
                },
            );
        }
    }

    /// Open one ESP packet (from the SPI on). On success returns its SPI and where the
    /// inner packet is, with a zeroed virtio_net_hdr in front of it (over the end of
    /// the spent IV, or of SPI and sequence number). Every drop is counted on the SA where the kernel would count it,
    /// or silently when no SA matches.
    fn open(&mut self, esp: &mut [u8]) -> Option<(u32, Range<usize>)> {
        let spi = u32::from_be_bytes(esp.get(..4)?.try_into().ok()?);
        let seq = u32::from_be_bytes(esp.get(4..8)?.try_into().ok()?);
        let entry = self.sas.get_mut(&spi)?;
        let sa = &entry.sa;
        if entry.window.check(seq).is_err() {
            sa.counters.replay_errors.fetch_add(1, Relaxed);
            return None;
        }
        let opened = match sa.esp.open(esp) {
            Ok(opened) => opened,
            Err(CryptoError::Integrity) => {
                sa.counters.integrity_errors.fetch_add(1, Relaxed);
                return None;
            }
            // Good ICV but bad padding or lengths: the peer's bug, not an attack.
            Err(e) => {
                tracing::trace!("SA {spi:#010x}: {e}");
                return None;
            }
        };
        entry.window.mark(opened.seq).ok()?;
        if opened.next_header == NH_NONE {
            return None;
        }
        let payload = &esp[opened.payload.clone()];
        // Counted as the transmit side counts: a VTI's inner packet, GRE's whole payload
        // (a packet with another GRE key did cross the SA).
        let inner = match &sa.gre {
            None => {
                let len = inner_len(opened.next_header, payload)?;
                if !sa.account(len) {
                    return None;
                }
                0..len
            }
            Some(g) => {
                if !sa.account(payload.len()) {
                    return None;
                }
                match g.decapsulate(opened.next_header, payload)? {
                    Decapsulated::Inner(inner) => inner,
                    Decapsulated::Keepalive {
                        packet,
                        next_header,
                    } => {
                        // Back through the tunnel's newest outbound SA, as the kernel's
                        // GRE would route it.
                        let out = sa.reflect.as_ref()?.current().as_ref().clone()?;
                        let keepalive = &payload[packet];
                        let (bytes, nh) = gre::reflection(out.mode, next_header, keepalive)?;
                        self.keepalives.push((out, keepalive[bytes].to_vec(), nh));
                        return None;
                    }
                }
            }
        };
        let (mut start, len) = (opened.payload.start + inner.start, inner.len());
        sa.tun.adjust_mss.apply(&mut esp[start..start + len]);
        if start < VNET_HDR_LEN {
            // esp-null has no IV to write over (RFC 2410): move the inner packet 2 bytes
            // on, over its padding and ICV (at least 14 bytes).
            esp.copy_within(start..start + len, VNET_HDR_LEN);
            start = VNET_HDR_LEN;
        }
        esp.get_mut(start - VNET_HDR_LEN..start)?.fill(0);
        Some((spi, start..start + len))
    }

    /// Open the ESP packets at `esp` (ranges of `mem`) and write what passes to the
    /// tunnels.
    pub fn deliver(&mut self, mem: &mut [u8], esp: impl Iterator<Item = Range<usize>>) {
        self.ready.clear();
        for range in esp {
            if let Some((spi, inner)) = self.open(&mut mem[range.clone()]) {
                self.ready.push(Ready {
                    range: range.start + inner.start..range.start + inner.end,
                    spi,
                });
            }
        }
        let sas = &self.sas;
        self.gro.flush(mem, &self.ready, |spi, slices| {
            let Some(entry) = sas.get(&spi) else { return };
            let tun = &entry.sa.tun;
            if let Err(e) = (&tun.queues[0]).write_vectored(slices) {
                tracing::trace!(tunnel = %tun.name, "TUN write: {e}");
            }
        });
        if !self.keepalives.is_empty() {
            self.send_keepalives();
        }
    }

    /// Seal and send the keepalives this batch held, each on its own.
    fn send_keepalives(&mut self) {
        let Some(sockets) = &self.sockets else {
            self.keepalives.clear();
            return;
        };
        let (batch, ivs) = &mut **self
            .reflector
            .get_or_insert_with(|| Box::new((SendBatch::new(), IvPool::new())));
        for (sa, payload, next_header) in self.keepalives.drain(..) {
            let slot = batch.next_slot();
            let Some(room) = slot.get_mut(tx::HEADROOM..tx::HEADROOM + payload.len()) else {
                continue;
            };
            room.copy_from_slice(&payload);
            let sealed = tx::seal_payload(&sa, slot, tx::HEADROOM, payload.len(), next_header, ivs);
            let Some((start, len)) = sealed else { continue };
            batch.push(start, len, false);
            if let Err(e) = sockets.send(batch, &sa) {
                tracing::debug!("GRE keepalive to {}: {e}", sa.dst);
            }
        }
    }
}

/// Receive, open and deliver the ESP packets of `outer`'s socket of underlay `vrf`
/// until `stop`.
pub(crate) fn run(
    outer: Outer,
    vrf: Option<Arc<str>>,
    sockets: Arc<Sockets>,
    mut table: Reader<InboundTable>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let fd = sockets.get(outer);
    let mut batch = RecvBatch::new();
    let mut rx = Receiver::new(outer, vrf, Some(sockets.clone()));
    rx.rebuild(table.get());
    let mut esp: Vec<Range<usize>> = Vec::with_capacity(BATCH);
    while !stop.load(Relaxed) {
        let n = match batch.recv(fd) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                0
            }
            Err(e) => {
                tracing::error!("receive on {outer:?} socket: {e}");
                std::thread::sleep(WAKE_INTERVAL);
                0
            }
        };
        // After the wait, not before: an SA installed while we slept must catch the
        // packets that woke us; on a timeout, deleted SAs (and their tunnels) are let go.
        if table.refresh() {
            rx.rebuild(table.get());
        }
        esp.clear();
        for i in 0..n {
            let Some(range) = batch.packet_range(i) else {
                continue;
            };
            if let Some(at) = outer.esp_offset(&batch.memory()[range.clone()]) {
                esp.push(range.start + at..range.end);
            }
        }
        rx.deliver(batch.memory(), esp.drain(..));
    }
    Ok(())
}
