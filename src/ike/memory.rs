//! Bounded memory of what was reported, so that repeated failures neither flood the
//! log nor grow the daemon. A failure or warning is remembered by (peer, kind) — not by
//! its words, which an attacker varies at will (one attribute changed in an MM1 would
//! otherwise be news) — for at most `CAPACITY` pairs, the least recently seen forgotten
//! first. The first of a kind is logged at its level; repeats within `REPORT_EVERY` are
//! debug and counted, and the next report after that says how many there were.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// (peer, kind) pairs remembered at most.
pub(crate) const CAPACITY: usize = 1024;
/// A failure that keeps happening is reported again at its level this often (with the
/// count of repeats meanwhile): a line an hour for a misconfigured peer that retries.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(3600);

type Key = (IpAddr, &'static str);

struct Entry {
    reported_at: Instant,
    /// Repeats since then.
    suppressed: u64,
    /// Position in `recency`.
    used: u64,
}

/// How to log this occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    /// At its level; `suppressed` repeats were logged at debug since the last time.
    Now { suppressed: u64 },
    /// A repeat: debug.
    Repeat,
}

#[derive(Default)]
pub(crate) struct Reported {
    entries: HashMap<Key, Entry>,
    /// Least recently seen first.
    recency: BTreeMap<u64, Key>,
    clock: u64,
}

impl Reported {
    /// `kind` happened with `peer` at `now`.
    pub(crate) fn note(&mut self, now: Instant, peer: IpAddr, kind: &'static str) -> Report {
        self.clock += 1;
        let key = (peer, kind);
        let report = match self.entries.get_mut(&key) {
            Some(e) => {
                self.recency.remove(&e.used);
                e.used = self.clock;
                if now.saturating_duration_since(e.reported_at) >= REPORT_EVERY {
                    e.reported_at = now;
                    Report::Now {
                        suppressed: std::mem::take(&mut e.suppressed),
                    }
                } else {
                    e.suppressed += 1;
                    Report::Repeat
                }
            }
            None => {
                self.entries.insert(
                    key,
                    Entry {
                        reported_at: now,
                        suppressed: 0,
                        used: self.clock,
                    },
                );
                Report::Now { suppressed: 0 }
            }
        };
        self.recency.insert(self.clock, key);
        while self.entries.len() > CAPACITY {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        report
    }

    /// A tunnel with `peer` came up: its failures are news again.
    pub(crate) fn forget_peer(&mut self, peer: IpAddr) {
        let recency = &mut self.recency;
        self.entries.retain(|(p, _), e| {
            let keep = *p != peer;
            if !keep {
                recency.remove(&e.used);
            }
            keep
        });
    }

    pub(crate) fn clear(&mut self) {
        *self = Reported::default();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_and_reported_again_later() {
        let t0 = Instant::now();
        let peer: IpAddr = "2001:db8::3".parse().unwrap();
        let mut r = Reported::default();
        assert_eq!(r.note(t0, peer, "auth"), Report::Now { suppressed: 0 });
        assert_eq!(r.note(t0, peer, "auth"), Report::Repeat);
        assert_eq!(
            r.note(t0, peer, "no-proposal"),
            Report::Now { suppressed: 0 }
        );
        assert_eq!(
            r.note(t0 + Duration::from_secs(1), peer, "auth"),
            Report::Repeat
        );
        assert_eq!(
            r.note(t0 + REPORT_EVERY, peer, "auth"),
            Report::Now { suppressed: 2 }
        );
        r.forget_peer(peer);
        assert_eq!(r.len(), 0);
        assert_eq!(r.note(t0, peer, "auth"), Report::Now { suppressed: 0 });
    }

    #[test]
    fn the_least_recently_seen_are_forgotten_beyond_capacity() {
        let t0 = Instant::now();
        let mut r = Reported::default();
        let first: IpAddr = "2001:db8::1".parse().unwrap();
        r.note(t0, first, "auth");
        for i in 0..CAPACITY as u32 * 3 {
            let peer = IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 + i));
            r.note(t0, peer, "auth");
            // The first peer keeps failing: it stays remembered.
            if i % 100 == 0 {
                assert_eq!(r.note(t0, first, "auth"), Report::Repeat);
            }
        }
        assert_eq!(r.len(), CAPACITY);
        assert_eq!(r.note(t0, first, "auth"), Report::Repeat);
    }
}
