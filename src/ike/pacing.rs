//! Paced initiation: new Main Modes leave through a token bucket, so that a daemon
//! starting (or restarting) with thousands of tunnels ramps up instead of sending
//! thousands of MM1s at once and making its peer do as many DH computations in the
//! same second. IOS limits the SAs in negotiation (`crypto call admission limit ike
//! in-negotiation-sa`) and strongSwan the half-open ones (`charon.init_limit_half_open`);
//! a rate is what an initiator controls on its own.
//!
//! `INITIATION_BURST` Main Modes may start at once, then `INITIATION_RATE` per second
//! (1,000 tunnels: about 10 s of ramp), and never more than `MAX_HALF_OPEN` of ours
//! at a time (strongSwan's `init_limit_half_open`): a slow or busy peer slows the ramp
//! down instead of seeing its retransmissions time out. Quick Modes over an
//! established ISAKMP SA are not paced (no DH unless PFS, one round trip), nor are
//! responders.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// New Main Modes per second once the burst is spent.
pub(super) const INITIATION_RATE: u32 = 100;
/// Main Modes that may start at once (a daemon with a few tunnels never waits).
pub(super) const INITIATION_BURST: u32 = 25;
/// Our Main Modes under way at most.
pub(super) const MAX_HALF_OPEN: usize = 64;
/// How soon a queue held back by `MAX_HALF_OPEN` looks again.
const RECHECK: Duration = Duration::from_millis(50);

/// The token bucket and the tunnels waiting for a token, first come first served.
#[derive(Debug)]
pub(super) struct Pacer {
    /// Tokens, in units of 1/INITIATION_RATE s (integer: the engine's clock is exact).
    credit: Duration,
    at: Instant,
    queue: VecDeque<String>,
    queued: HashSet<String>,
    /// Held back by `MAX_HALF_OPEN` until then.
    recheck: Option<Instant>,
}

const TOKEN: Duration = Duration::from_nanos(1_000_000_000 / INITIATION_RATE as u64);
const FULL: Duration =
    Duration::from_nanos(1_000_000_000 / INITIATION_RATE as u64 * INITIATION_BURST as u64);

impl Pacer {
    pub fn new(now: Instant) -> Self {
        Pacer {
            credit: FULL,
            at: now,
            queue: VecDeque::new(),
            queued: HashSet::new(),
            recheck: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        self.credit = (self.credit + now.saturating_duration_since(self.at)).min(FULL);
        self.at = self.at.max(now);
    }

    /// May a Main Mode start now, with `half_open` of ours under way? Not while
    /// others wait (they go first).
    pub fn admit(&mut self, now: Instant, half_open: usize) -> bool {
        self.refill(now);
        if !self.queue.is_empty() || self.credit < TOKEN || half_open >= MAX_HALF_OPEN {
            return false;
        }
        self.credit -= TOKEN;
        true
    }

    /// `tunnel` waits for a token (once, however often it is asked for).
    pub fn defer(&mut self, tunnel: &str) {
        if self.queued.insert(tunnel.to_string()) {
            self.queue.push_back(tunnel.to_string());
        }
    }

    pub fn is_queued(&self, tunnel: &str) -> bool {
        self.queued.contains(tunnel)
    }

    /// When the next waiting tunnel gets its token.
    pub fn next(&self) -> Option<Instant> {
        if self.queue.is_empty() {
            return None;
        }
        let token = self.at + TOKEN.saturating_sub(self.credit);
        Some(self.recheck.map_or(token, |r| r.max(token)))
    }

    /// The waiting tunnels whose token has come, in order (their tokens taken), as
    /// many as `half_open` of ours under way leaves room for.
    pub fn due(&mut self, now: Instant, half_open: usize) -> Vec<String> {
        self.refill(now);
        let room = MAX_HALF_OPEN.saturating_sub(half_open);
        self.recheck = None;
        let mut out = Vec::new();
        while self.credit >= TOKEN {
            if out.len() >= room {
                self.recheck = Some(now + RECHECK);
                break;
            }
            let Some(tunnel) = self.queue.pop_front() else {
                break;
            };
            self.queued.remove(&tunnel);
            self.credit -= TOKEN;
            out.push(tunnel);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_in_order() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        let admitted = (0..1000).filter(|_| p.admit(t0, 0)).count();
        assert_eq!(admitted, INITIATION_BURST as usize);
        for i in 0..200 {
            p.defer(&format!("Tunnel{i}"));
        }
        p.defer("Tunnel0");
        assert!(!p.admit(t0, 0), "the queue goes first");
        assert_eq!(p.next(), Some(t0 + TOKEN));
        let mut released = Vec::new();
        let mut now = t0;
        while released.len() < 200 {
            now = p.next().unwrap();
            released.extend(p.due(now, 0));
        }
        let expected: Vec<String> = (0..200).map(|i| format!("Tunnel{i}")).collect();
        assert_eq!(released, expected, "each once, first come first served");
        // 200 at INITIATION_RATE per second after the burst.
        assert_eq!(now - t0, 200 * TOKEN);
        assert_eq!(p.next(), None);
    }

    #[test]
    fn no_more_than_max_half_open_of_ours_at_once() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0);
        assert!(!p.admit(t0, MAX_HALF_OPEN), "full: wait");
        for i in 0..10 {
            p.defer(&format!("Tunnel{i}"));
        }
        let later = t0 + Duration::from_secs(1);
        assert_eq!(p.due(later, MAX_HALF_OPEN - 3).len(), 3);
        assert_eq!(
            p.next(),
            Some(later + RECHECK),
            "looks again soon, not at once"
        );
        assert_eq!(p.due(later + RECHECK, 0).len(), 7);
    }
}
