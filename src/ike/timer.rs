//! One table of deadlines per negotiation (quinn-proto's `TimerTable`): each `Timer`
//! indexes a slot, `next()` is the minimum, `expired()` drains the due ones.

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
}
