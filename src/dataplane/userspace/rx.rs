//! Receive: one thread per outer socket takes up to `BATCH` datagrams per
//! `recvmmsg`, finds the SA by SPI, checks the replay window (cheap, before the ICV),
//! opens the packet in place, marks the window, checks the inner packet and writes it
//! to the tunnel's TUN device.
//!
//! The thread owns the replay windows of the SAs it sees: an SA's packets all come
//! through one socket (its `Outer`), so no window is ever shared between threads.

use super::inner::{inner_len, NH_NONE};
use super::offload::VNET_HDR_LEN;
use super::published::Reader;
use super::replay::ReplayWindow;
use super::sa::Sa;
use super::sockets::{Outer, Sockets};
use super::sys::RecvBatch;
use super::InboundTable;
use crate::crypto::CryptoError;
use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

pub(super) struct Inbound {
    sa: Arc<Sa>,
    window: ReplayWindow,
}

/// Rebuild the thread's SPI map from the published table, keeping the windows of SAs
/// that stay (matched by install serial, so a reused SPI starts afresh).
pub(super) fn rebuild(outer: Outer, table: &InboundTable, old: &mut HashMap<u32, Inbound>) {
    let mut next = HashMap::with_capacity(table.len());
    for (&spi, sa) in table.iter().filter(|(_, sa)| sa.outer == outer) {
        let window = match old.remove(&spi) {
            Some(kept) if kept.sa.serial == sa.serial => kept.window,
            _ => ReplayWindow::new(sa.replay_window),
        };
        next.insert(
            spi,
            Inbound {
                sa: sa.clone(),
                window,
            },
        );
    }
    *old = next;
}

/// Handle one ESP packet (from the SPI on); returns nothing: every drop is counted on
/// the SA where the kernel would count it, or silently when no SA matches.
pub(super) fn handle(sas: &mut HashMap<u32, Inbound>, esp: &mut [u8]) {
    if esp.len() < 8 {
        return;
    }
    let spi = u32::from_be_bytes([esp[0], esp[1], esp[2], esp[3]]);
    let seq = u32::from_be_bytes([esp[4], esp[5], esp[6], esp[7]]);
    let Some(entry) = sas.get_mut(&spi) else {
        return;
    };
    let sa = &entry.sa;
    if entry.window.check(seq).is_err() {
        sa.counters.replay_errors.fetch_add(1, Relaxed);
        return;
    }
    let opened = match sa.esp.open(esp) {
        Ok(opened) => opened,
        Err(CryptoError::Integrity) => {
            sa.counters.integrity_errors.fetch_add(1, Relaxed);
            return;
        }
        // Good ICV but bad padding or lengths: the peer's bug, not an attack.
        Err(e) => {
            tracing::trace!("SA {spi:#010x}: {e}");
            return;
        }
    };
    if entry.window.mark(opened.seq).is_err() {
        return;
    }
    if opened.next_header == NH_NONE {
        return;
    }
    let Some(len) = inner_len(opened.next_header, &esp[opened.payload.clone()]) else {
        return;
    };
    if !sa.account(len) {
        return;
    }
    // The TUN device wants a virtio_net_hdr first (no offload asked: all zero); it
    // goes over the end of the IV, which is spent.
    let start = opened.payload.start;
    let Some(frame) = start.checked_sub(VNET_HDR_LEN) else {
        return;
    };
    esp[frame..start].fill(0);
    let tun = &sa.tunnel.queues[0];
    if let Err(e) = (&*tun).write(&esp[frame..start + len]) {
        tracing::trace!(tunnel = %sa.tunnel.name, "TUN write: {e}");
    }
}

pub(crate) fn run(
    outer: Outer,
    sockets: Arc<Sockets>,
    mut table: Reader<InboundTable>,
    stop: Arc<AtomicBool>,
) {
    let fd = sockets.get(outer);
    let mut batch = RecvBatch::new();
    let mut sas = HashMap::new();
    rebuild(outer, table.get(), &mut sas);
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
                std::thread::sleep(super::sockets::WAKE_INTERVAL);
                0
            }
        };
        // After the wait, not before: an SA installed while we slept must catch the
        // packets that woke us; on a timeout, deleted SAs (and their tunnels) are let go.
        if table.refresh() {
            rebuild(outer, table.get(), &mut sas);
        }
        for i in 0..n {
            let Some(datagram) = batch.packet(i) else {
                continue;
            };
            if let Some(at) = outer.esp_offset(datagram) {
                handle(&mut sas, &mut datagram[at..]);
            }
        }
    }
}
