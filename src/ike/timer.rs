//! One table of deadlines per negotiation (quinn-proto's `TimerTable`): each `Timer`
//! indexes a slot, `next()` is the minimum, `expired()` drains the due ones. Across
//! the engine, one heap of the tables' next deadlines (`TimerHeap`): `poll_timeout` is
//! its top and a timeout visits only the owners that are due, never every SA.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Resend the last message of an exchange that has not been answered yet.
    Retransmit = 0,
    /// Phase 1: the ISAKMP SA lifetime (or the negotiation deadline before it is up).
    /// Quick Mode: the deadline of the whole exchange (e.g. waiting for an SPI).
    Lifetime = 1,
    /// Forget a finished exchange kept only to answer retransmissions of its last message.
    Reap = 2,
    /// Soft lifetime: start the replacement (jittered, so both ends rarely start at once).
    Rekey = 3,
    /// RFC 3706: time to send (or resend) an R-U-THERE.
    Dpd = 4,
    /// RFC 3948 2.3: time to send a NAT keepalive.
    Keepalive = 5,
    /// A replaced SA: time to tell the peer (IPsec pair after a grace period) or to go
    /// (ISAKMP SA once its Quick Modes are finished).
    Retire = 6,
}

impl Timer {
    const ALL: [Timer; 7] = [
        Timer::Retransmit,
        Timer::Lifetime,
        Timer::Reap,
        Timer::Rekey,
        Timer::Dpd,
        Timer::Keepalive,
        Timer::Retire,
    ];
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The timers due at `now`, cleared from the table (in `Timer` order).
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Timer> {
        Timer::ALL
            .into_iter()
            .filter(|t| {
                let slot = &mut self.deadlines[*t as usize];
                let due = slot.is_some_and(|at| at <= now);
                if due {
                    *slot = None;
                }
                due
            })
            .collect()
    }
}

/// Whose timer table a heap entry stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Owner {
    /// An ISAKMP SA (by conn-id) and its Quick Modes.
    Phase1(u32),
    /// An IPsec SA pair, by inbound SPI.
    Child(u32),
    /// The re-initiation of a wanted tunnel that is down.
    Retry(String),
    /// The next tunnel waiting for its Main Mode (`pacing.rs`).
    Pacing,
    /// A pass over the wanted tunnels owed since the last (`rekey.rs`).
    Supervise,
}

/// The engine's deadlines: for each owner at least one entry no later than its next
/// deadline. Entries are not removed when a deadline moves or its owner goes (a lazy
/// heap): a stale one only wakes the engine early, and the owner's table then says
/// whether anything is due. `scheduled` keeps one entry per deadline; when stale
/// entries outnumber the live ones, the heap is rebuilt from it (amortised O(1)), so a
/// flood of short-lived SAs leaves no trail.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<(Instant, Owner)>>,
    /// The earliest entry in the heap of each owner.
    scheduled: HashMap<Owner, Instant>,
}

impl TimerHeap {
    /// `owner`'s next deadline is `at` (`None`: none).
    pub(crate) fn schedule(&mut self, owner: Owner, at: Option<Instant>) {
        let Some(at) = at else {
            return;
        };
        match self.scheduled.get(&owner) {
            Some(&earlier) if earlier <= at => {}
            _ => {
                self.scheduled.insert(owner.clone(), at);
                self.heap.push(Reverse((at, owner)));
            }
        }
        if self.heap.len() > 2 * self.scheduled.len() + 64 {
            self.heap = self
                .scheduled
                .iter()
                .map(|(owner, at)| Reverse((*at, owner.clone())))
                .collect();
        }
    }

    /// `owner`'s registered deadline, if it has one that has not come yet.
    pub(crate) fn scheduled(&self, owner: &Owner) -> Option<Instant> {
        self.scheduled.get(owner).copied()
    }

    /// `owner` is gone: its entries need not wake anyone.
    pub(crate) fn forget(&mut self, owner: &Owner) {
        self.scheduled.remove(owner);
    }

    /// The earliest entry: when the engine must look at its timers.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Take the entries due at `now`: the owners whose registered deadline has come,
    /// each once, in deadline order.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Owner> {
        let mut owners = Vec::new();
        while let Some(Reverse((at, _))) = self.heap.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, owner))) = self.heap.pop() else {
                break;
            };
            // Only the entry of the owner's registered deadline: the others are stale
            // (a deadline moved, an owner forgotten).
            if self.scheduled.get(&owner) == Some(&at) {
                self.scheduled.remove(&owner);
                owners.push(owner);
            }
        }
        owners
    }

    /// Entries held (stale ones included): bounded by the owners' deadline changes.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn next_is_the_earliest_and_expired_clears_only_due_timers() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(Timer::Lifetime, t0 + Duration::from_secs(10));
        table.set(Timer::Retransmit, t0 + Duration::from_secs(2));
        assert_eq!(table.next(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(
            table.expired(t0 + Duration::from_secs(3)),
            vec![Timer::Retransmit]
        );
        assert_eq!(table.get(Timer::Retransmit), None);
        assert_eq!(table.next(), Some(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn the_heap_wakes_for_the_earliest_deadline_and_yields_each_owner_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut heap = TimerHeap::default();
        heap.schedule(Owner::Phase1(1), Some(t0 + s(10)));
        heap.schedule(Owner::Child(7), Some(t0 + s(5)));
        // Moved earlier: a second entry; later: none (the old one wakes early).
        heap.schedule(Owner::Phase1(1), Some(t0 + s(3)));
        heap.schedule(Owner::Child(7), Some(t0 + s(8)));
        heap.schedule(Owner::Retry("Tunnel1".into()), None);
        assert_eq!(heap.next(), Some(t0 + s(3)));
        assert_eq!(heap.due(t0 + s(4)), vec![Owner::Phase1(1)]);
        // Phase1(1) did not schedule again after its turn: its old entry is stale.
        assert_eq!(heap.due(t0 + s(20)), vec![Owner::Child(7)]);
        assert_eq!(heap.next(), None);
        assert_eq!(heap.len(), 0);
    }

    #[test]
    fn owners_that_come_and_go_leave_a_bounded_heap() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::default();
        heap.schedule(Owner::Phase1(0), Some(t0 + Duration::from_secs(60)));
        for id in 1..100_000 {
            heap.schedule(Owner::Phase1(id), Some(t0 + Duration::from_secs(2)));
            heap.forget(&Owner::Phase1(id));
        }
        assert!(heap.len() <= 2 + 64, "{}", heap.len());
        assert_eq!(
            heap.due(t0 + Duration::from_secs(61)),
            vec![Owner::Phase1(0)]
        );
    }
}
