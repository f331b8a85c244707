//! One installed ESP SA as the packet threads see it: the prepared transform, the
//! outbound sequence counter, the counters `show ipsec` reads, and the lifetime limits.
//! Everything mutable here is atomic; the replay window lives with the receive thread.

use super::gre::Gre;
use super::published::Published;
use super::sockets::Outer;
use super::tunnel::Tun;
use crate::crypto::{CryptoError, EspSa};
use crate::dataplane::SaCounters;
use crate::ipsec::{Direction, EspMode, Lifetimes, SaSpec, UdpEncap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// Outbound sequence numbers (RFC 4303 3.3.3): 1, 2, ... 2^32-1, then none: the
/// counter must not cycle, the SA is spent.
#[derive(Debug)]
pub(crate) struct SeqCounter(AtomicU64);

impl SeqCounter {
    pub fn new() -> Self {
        SeqCounter(AtomicU64::new(1))
    }
    #[cfg(test)]
    pub fn starting_at(next: u32) -> Self {
        SeqCounter(AtomicU64::new(next.into()))
    }
    pub fn next(&self) -> Option<u32> {
        u32::try_from(self.0.fetch_add(1, Relaxed)).ok()
    }
    pub fn exhausted(&self) -> bool {
        self.0.load(Relaxed) > u32::MAX.into()
    }
    /// Close to exhaustion: time to rekey (1/64 of the space left).
    pub fn nearly_exhausted(&self) -> bool {
        self.0.load(Relaxed) > u64::from(u32::MAX - (u32::MAX >> 6))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub replay_errors: AtomicU64,
    pub integrity_errors: AtomicU64,
}

/// What a tunnel's SAs need of it.
pub(crate) struct Owner {
    /// Where the receive threads write what its SAs open.
    pub tun: Arc<Tun>,
    pub gre: Option<Gre>,
    /// `tunnel vrf`.
    pub fvrf: Option<Arc<str>>,
    /// Its newest outbound SA, as the transmit threads see it.
    pub outbound: Arc<Published<Option<Arc<Sa>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    Live,
    Soft,
    Hard,
}

/// Where an SA stands against its limits, as the kernel judges XFRM lifetimes: seconds
/// since it was added, bytes it carried.
pub(crate) fn expiry(limits: &Lifetimes, age_s: u64, bytes: u64) -> Expiry {
    let reached = |limit: Option<u64>, value: u64| limit.is_some_and(|l| value >= l);
    if reached(limits.hard_s, age_s) || reached(limits.hard_bytes, bytes) {
        Expiry::Hard
    } else if reached(limits.soft_s, age_s) || reached(limits.soft_bytes, bytes) {
        Expiry::Soft
    } else {
        Expiry::Live
    }
}

fn account(counters: &Counters, spent: &AtomicBool, limits: &Lifetimes, len: usize) -> bool {
    let total = counters.bytes.fetch_add(len as u64, Relaxed) + len as u64;
    if limits.hard_bytes.is_some_and(|hard| total > hard) {
        spent.store(true, Relaxed);
        return false;
    }
    counters.packets.fetch_add(1, Relaxed);
    true
}

pub(crate) struct Sa {
    /// Install order: the newest outbound SA of a tunnel carries its traffic.
    pub serial: u64,
    pub direction: Direction,
    pub spi: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub encap: Option<UdpEncap>,
    pub outer: Outer,
    pub mode: EspMode,
    /// GRE over IPsec: the tunnel's GRE, which the packet threads add and remove;
    /// `None` on a VTI, whose ESP payload is the inner packet itself.
    pub gre: Option<Gre>,
    /// The tunnel's `tunnel vrf`: only the receive threads of that underlay's sockets
    /// take its packets.
    pub fvrf: Option<Arc<str>>,
    /// An inbound GRE SA's way back for IOS keepalives: its tunnel's outbound SA.
    pub reflect: Option<Arc<Published<Option<Arc<Sa>>>>>,
    /// IPv4 outbound: the largest outer packet sent with an IPv4 header of our own
    /// (the path MTU at install, `df.rs`); `None`: never.
    pub own_header_max: Option<usize>,
    pub replay_window: u32,
    pub esp: EspSa,
    pub lifetimes: Lifetimes,
    pub installed: Instant,
    /// Where the receive thread writes the packets this SA opens.
    pub tun: Arc<Tun>,
    pub seq: SeqCounter,
    pub counters: Counters,
    /// Set by a packet thread when a hard byte limit is crossed or the sequence
    /// numbers run out; the control thread then reports and removes the SA.
    spent: AtomicBool,
}

impl std::fmt::Debug for Sa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sa({:?} {:#010x} {} -> {}, {:?})",
            self.direction, self.spi, self.src, self.dst, self.outer
        )
    }
}

impl Sa {
    /// The SA `spec` describes, the `serial`-th installed, of the tunnel `owner`; fails
    /// on keys that do not fit the transform.
    pub fn new(
        spec: &SaSpec,
        owner: &Owner,
        serial: u64,
        now: Instant,
    ) -> Result<Self, CryptoError> {
        let esp = EspSa::new(
            spec.spi,
            spec.transform,
            spec.enc_key.as_bytes(),
            spec.auth_key.as_bytes(),
        )?;
        Ok(Sa {
            serial,
            direction: spec.direction,
            spi: spec.spi,
            src: spec.src,
            dst: spec.dst,
            encap: spec.encap,
            outer: Outer::of(spec.dst, spec.encap.is_some()),
            mode: spec.mode,
            gre: owner.gre,
            fvrf: owner.fvrf.clone(),
            // Only inbound: an outbound SA that held its own tunnel's table would keep
            // itself alive.
            reflect: (spec.direction == Direction::In && owner.gre.is_some())
                .then(|| owner.outbound.clone()),
            own_header_max: None,
            replay_window: spec.replay_window,
            esp,
            lifetimes: spec.lifetimes,
            installed: now,
            tun: owner.tun.clone(),
            seq: SeqCounter::new(),
            counters: Counters::default(),
            spent: AtomicBool::new(false),
        })
    }

    /// Count a packet of `len` inner bytes. False (drop it) once the hard byte limit
    /// is crossed: the SA is spent.
    pub fn account(&self, len: usize) -> bool {
        account(&self.counters, &self.spent, &self.lifetimes, len)
    }

    /// The next outbound sequence number, or `None` when the space is used up.
    pub fn next_seq(&self) -> Option<u32> {
        let seq = self.seq.next();
        if seq.is_none() {
            self.spent.store(true, Relaxed);
        }
        seq
    }

    pub fn expiry(&self, now: Instant) -> Expiry {
        if self.spent.load(Relaxed) || self.seq.exhausted() {
            return Expiry::Hard;
        }
        let by_limits = expiry(
            &self.lifetimes,
            now.duration_since(self.installed).as_secs(),
            self.counters.bytes.load(Relaxed),
        );
        if by_limits == Expiry::Live && self.seq.nearly_exhausted() {
            return Expiry::Soft;
        }
        by_limits
    }

    pub fn snapshot(&self, now: Instant) -> SaCounters {
        SaCounters {
            packets: self.counters.packets.load(Relaxed),
            bytes: self.counters.bytes.load(Relaxed),
            replay_errors: self.counters.replay_errors.load(Relaxed),
            integrity_errors: self.counters.integrity_errors.load(Relaxed),
            age_s: now.duration_since(self.installed).as_secs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_start_at_one_and_never_wrap() {
        let c = SeqCounter::new();
        assert_eq!(c.next(), Some(1));
        assert_eq!(c.next(), Some(2));
        let c = SeqCounter::starting_at(u32::MAX - 1);
        assert!(c.nearly_exhausted());
        assert!(!c.exhausted());
        assert_eq!(c.next(), Some(u32::MAX - 1));
        assert_eq!(c.next(), Some(u32::MAX));
        assert!(c.exhausted());
        assert_eq!(c.next(), None);
        assert_eq!(c.next(), None, "stays spent instead of wrapping to 0");
    }

    #[test]
    fn crossing_the_hard_byte_limit_spends_the_sa() {
        let limits = Lifetimes {
            hard_bytes: Some(100),
            ..Lifetimes::default()
        };
        let counters = Counters::default();
        let spent = AtomicBool::new(false);
        assert!(account(&counters, &spent, &limits, 60));
        assert!(!spent.load(Relaxed));
        assert!(!account(&counters, &spent, &limits, 60), "160 bytes > 100");
        assert!(spent.load(Relaxed));
        assert_eq!(
            counters.packets.load(Relaxed),
            1,
            "the dropped packet is not counted"
        );
    }

    #[test]
    fn lifetimes_soft_then_hard_by_time_or_bytes() {
        let l = Lifetimes {
            soft_s: Some(3000),
            hard_s: Some(3600),
            soft_bytes: Some(4_000_000),
            hard_bytes: Some(5_000_000),
            idle_s: None,
        };
        assert_eq!(expiry(&l, 0, 0), Expiry::Live);
        assert_eq!(expiry(&l, 2999, 3_999_999), Expiry::Live);
        assert_eq!(expiry(&l, 3000, 0), Expiry::Soft);
        assert_eq!(expiry(&l, 0, 4_000_000), Expiry::Soft);
        assert_eq!(expiry(&l, 3600, 0), Expiry::Hard);
        assert_eq!(expiry(&l, 10, 5_000_000), Expiry::Hard);
        assert_eq!(
            expiry(&Lifetimes::default(), u64::MAX, u64::MAX),
            Expiry::Live
        );
    }
}
