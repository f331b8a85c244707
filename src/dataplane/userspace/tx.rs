//! Transmit: a fixed set of worker threads (one per core, up to `MAX_WORKERS`), each
//! with one poll set (epoll) over the TUN queues it serves: queue K of each of the
//! first tunnels (multi-queue TUN, so that one tunnel's flows spread over the cores),
//! the single queue of its share of the others (`queues.rs`); the thread count does
//! not grow with the tunnels (10,000 tunnels, 2 threads). A ready queue is drained (TSO packets cut to MSS-sized ones,
//! `offload.rs`), each packet sealed in place with the tunnel's newest outbound SA, up
//! to `BATCH` sent with one `sendmmsg`. No allocation, no lock per packet: the SA
//! pointer is re-read only when the control thread published a new one, and the
//! buffers belong to the worker, not to the tunnels.

use super::df::{self, IPV4_HEADER_LEN};
use super::gre;
use super::inner::next_header_of;
use super::offload::{Segments, VnetHdr, VNET_HDR_LEN};
use super::published::Reader;
use super::sa::Sa;
use super::sockets::{Outer, Sockets, UDP_HEADER_LEN, WAKE_INTERVAL};
use super::sys::{SendBatch, SLOT};
use super::tunnel::Tun;
use crate::crypto::{OsRng, Rng};
use crate::dataplane::poll::{Epoll, EventFd};
use crate::dataplane::threads::{self, Failures};
use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

/// Room before the inner packet: an IPv4 header (`df.rs`), a UDP header, the largest
/// ESP header (SPI, sequence number, 16-byte IV), GRE's header and delivery IP header,
/// so that neither GRE nor sealing ever moves the payload.
pub(super) const HEADROOM: usize = IPV4_HEADER_LEN + UDP_HEADER_LEN + 8 + 16 + gre::MAX_OVERHEAD;
/// Room after it for the largest ESP trailer (padding, pad length, next header, ICV).
const TAILROOM: usize = 64;

/// Random CBC IVs (RFC 4303 3.3.2: unpredictable), drawn from the OS a page at a time.
pub(super) struct IvPool {
    buf: [u8; 4096],
    used: usize,
}

impl IvPool {
    pub(super) fn new() -> Self {
        IvPool {
            buf: [0; 4096],
            used: 4096,
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        if self.used + n > self.buf.len() {
            OsRng.fill(&mut self.buf);
            self.used = 0;
        }
        self.used += n;
        &self.buf[self.used - n..self.used]
    }
}

/// Seal the inner packet at `slot[HEADROOM..HEADROOM + len]` (in GRE first on a GRE
/// tunnel); returns the outer datagram's span in the slot, or `None` to drop the packet.
pub(super) fn seal(
    sa: &Sa,
    slot: &mut [u8],
    len: usize,
    ivs: &mut IvPool,
) -> Option<(usize, usize)> {
    let (at, len, next_header) = match &sa.gre {
        None => (
            HEADROOM,
            len,
            next_header_of(&slot[HEADROOM..HEADROOM + len])?,
        ),
        Some(g) => g.encapsulate(sa.mode, slot, HEADROOM, len)?,
    };
    seal_payload(sa, slot, at, len, next_header, ivs)
}

/// Seal the ESP payload at `slot[at..at + len]` (the room for the ESP and UDP headers
/// before it); returns the outer datagram's span in the slot, or `None` to drop it.
pub(super) fn seal_payload(
    sa: &Sa,
    slot: &mut [u8],
    at: usize,
    len: usize,
    next_header: u8,
    ivs: &mut IvPool,
) -> Option<(usize, usize)> {
    let seq = sa.next_seq()?;
    if !sa.account(len) {
        return None;
    }
    let mut start = at - sa.esp.header_len();
    let iv = ivs.take(sa.esp.random_iv_len());
    let mut esp_len = sa
        .esp
        .seal(seq, iv, next_header, &mut slot[start..], len)
        .ok()?;
    if let Some(encap) = sa.encap {
        // RFC 3948 2.1: UDP header, checksum zero on IPv4; IPV6_CHECKSUM fills it on IPv6.
        start -= UDP_HEADER_LEN;
        esp_len += UDP_HEADER_LEN;
        let udp_len = u16::try_from(esp_len).ok()?;
        let h = &mut slot[start..start + UDP_HEADER_LEN];
        h[0..2].copy_from_slice(&encap.sport.to_be_bytes());
        h[2..4].copy_from_slice(&encap.dport.to_be_bytes());
        h[4..6].copy_from_slice(&udp_len.to_be_bytes());
        h[6..8].copy_from_slice(&[0, 0]);
    }
    Some((start, esp_len))
}

/// Put an IPv4 header without DF in front of the outer packet of `len` bytes that
/// `before` ends at, when it is to leave without DF and within the path MTU; returns
/// the header's length, or `None` for the raw ESP socket (`df.rs`).
fn own_header(sa: &Sa, df: bool, before: &mut [u8], len: usize) -> Option<usize> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (sa.src, sa.dst) else {
        return None;
    };
    if df
        || sa
            .own_header_max
            .is_none_or(|max| len + IPV4_HEADER_LEN > max)
    {
        return None;
    }
    let protocol = match sa.outer {
        Outer::Udp4 => libc::IPPROTO_UDP,
        _ => libc::IPPROTO_ESP,
    } as u8;
    let at = before.len().checked_sub(IPV4_HEADER_LEN)?;
    df::ipv4_header(&mut before[at..], len, protocol, df::TTL, src, dst)?;
    Some(IPV4_HEADER_LEN)
}

/// Most TUN reads per ready queue and wakeup: one busy tunnel does not starve the
/// others of its worker.
const MAX_READS: usize = 256;
/// A TSO packet: 64 KB of IP packet after the vnet header, with margin.
const READ_BUF: usize = 128 << 10;
/// The token of a worker's own doorbell in its poll set (tunnel tokens count from 0).
const DOORBELL: u64 = u64::MAX;

fn flush(batch: &mut SendBatch, sa: &Sa, sockets: &Sockets, tunnel: &str) {
    if let Err(e) = sockets.send(batch, sa) {
        tracing::debug!(tunnel, "send to {}: {e}", sa.dst);
    }
}

/// What the control thread tells a worker.
pub(super) enum Change {
    /// Serve queue `queue` of `tun` (already in the poll set under `token`).
    Add {
        token: u64,
        tun: Arc<Tun>,
        queue: usize,
        outbound: Reader<Option<Arc<Sa>>>,
        /// The outer sockets of its underlay (`tunnel vrf`).
        sockets: Arc<Sockets>,
    },
    /// Let go of the tunnel `token` (already out of the poll set).
    Remove(u64),
}

/// One tunnel queue as a worker serves it.
struct Served {
    tun: Arc<Tun>,
    queue: usize,
    outbound: Reader<Option<Arc<Sa>>>,
    sockets: Arc<Sockets>,
}

/// The control thread's handle on one transmit worker.
pub(super) struct Worker {
    pub poll: Arc<Epoll>,
    doorbell: Arc<EventFd>,
    changes: mpsc::Sender<Change>,
}

impl Worker {
    /// Start transmit worker `index` (thread `esp-tx-INDEX`); its failure goes to
    /// `failures`.
    pub fn start(
        index: usize,
        stop: Arc<AtomicBool>,
        failures: &Failures,
    ) -> std::io::Result<(Worker, JoinHandle<()>)> {
        let poll = Arc::new(Epoll::new()?);
        let doorbell = Arc::new(EventFd::new()?);
        poll.add(doorbell.as_fd(), DOORBELL)?;
        let (changes, inbox) = mpsc::channel();
        let (p, d, flag) = (poll.clone(), doorbell.clone(), stop.clone());
        let body = move || run(&p, &d, &inbox, &flag);
        let sink = failures.clone();
        let thread = threads::spawn(format!("esp-tx-{index}"), stop, move |f| sink.push(f), body)?;
        let worker = Worker {
            poll,
            doorbell,
            changes,
        };
        Ok((worker, thread))
    }

    /// Hand `change` to the worker and wake it.
    pub fn tell(&self, change: Change) {
        // A worker that is gone has reported its failure; nothing to add here.
        let _ = self.changes.send(change);
        self.doorbell.ring();
    }
}

/// A worker: wait on the poll set, apply the control thread's changes, drain the ready
/// queues, until `stop`. A TUN queue that fails ends the worker with the error (the
/// daemon stops, naming the thread), as a failed socket does.
fn run(
    poll: &Epoll,
    doorbell: &EventFd,
    inbox: &mpsc::Receiver<Change>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut served: HashMap<u64, Served> = HashMap::new();
    let mut ready = Vec::new();
    let mut batch = SendBatch::new();
    let mut ivs = IvPool::new();
    let mut read_buf = vec![0u8; READ_BUF].into_boxed_slice();
    while !stop.load(Ordering::Relaxed) {
        match poll.wait(&mut ready, WAKE_INTERVAL) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("epoll_wait: {e}"))),
        }
        // Changes first: a queue registered just now is known before its first event.
        for change in inbox.try_iter() {
            match change {
                Change::Add {
                    token,
                    tun,
                    queue,
                    outbound,
                    sockets,
                } => {
                    served.insert(
                        token,
                        Served {
                            tun,
                            queue,
                            outbound,
                            sockets,
                        },
                    );
                }
                Change::Remove(token) => {
                    served.remove(&token);
                }
            }
        }
        for token in &ready {
            if *token == DOORBELL {
                doorbell.clear();
                continue;
            }
            // Removed since the wait returned: nothing to do.
            let Some(s) = served.get_mut(token) else {
                continue;
            };
            drain(s, &mut batch, &mut ivs, &mut read_buf)?;
        }
    }
    Ok(())
}

/// Seal and send what one ready TUN queue holds (up to `MAX_READS` packets).
fn drain(
    s: &mut Served,
    batch: &mut SendBatch,
    ivs: &mut IvPool,
    read_buf: &mut [u8],
) -> std::io::Result<()> {
    s.outbound.refresh();
    let (tun, queue, sockets) = (&s.tun, s.queue, &*s.sockets);
    let queue_file = &tun.queues[queue];
    let sa = s.outbound.get().as_deref();
    for _ in 0..MAX_READS {
        let n = match (&*queue_file).read(read_buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let why = format!("{}: read from TUN queue {queue}: {e}", tun.name);
                return Err(std::io::Error::new(e.kind(), why));
            }
        };
        // Without an SA the packet is dropped, as XFRM does without a state, and
        // the control thread is asked for one, as XFRM sends an acquire.
        let Some(sa) = sa else {
            tun.sa_wanted.store(true, Ordering::Relaxed);
            continue;
        };
        let Some(hdr) = VnetHdr::parse(&read_buf[..n]) else {
            continue;
        };
        let Some(mut segments) = Segments::new(hdr, &mut read_buf[VNET_HDR_LEN..n]) else {
            continue;
        };
        while !segments.is_empty() {
            if batch.is_full() {
                flush(batch, sa, sockets, &tun.name);
            }
            let slot = batch.next_slot();
            let Some(len) = segments.next_into(&mut slot[HEADROOM..SLOT - TAILROOM]) else {
                break;
            };
            let inner = &mut slot[HEADROOM..HEADROOM + len];
            tun.adjust_mss.apply(inner);
            let df = df::wants_df(tun.df_bit.get(), inner);
            if let Some((start, len)) = seal(sa, slot, len, ivs) {
                // Sealed within the slot: never refused (else dropped, like a packet
                // that does not seal).
                match own_header(sa, df, &mut slot[..start], len) {
                    Some(header) => batch.push(start - header, len + header, true),
                    None => batch.push(start, len, false),
                };
            }
        }
    }
    match sa {
        Some(sa) if !batch.is_empty() => flush(batch, sa, sockets, &tun.name),
        _ => batch.clear(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iv_pool_hands_out_fresh_bytes_across_refills() {
        let mut pool = IvPool::new();
        let first = pool.take(16).to_vec();
        let mut seen = std::collections::HashSet::new();
        seen.insert(first);
        for _ in 0..1000 {
            assert!(seen.insert(pool.take(16).to_vec()), "IV repeated");
        }
    }
}
