//! Keeping tunnels up: ISAKMP SA rekey and collisions, and re-initiation with backoff
//! of tunnels that went down. (IPsec pairs are rekeyed in `child.rs`.)
//!
//! Both ends must end up with the same SA when two exist for one purpose. The rule
//! (the same for ISAKMP SAs and IPsec pairs): an SA whose negotiation began after the
//! other was complete replaces it, and only the end that started the replacement
//! retires the old one (the other end follows its Delete); two SAs whose negotiations
//! overlapped are a collision, and both ends keep the one a shared value picks.

use super::log::{DownReason, Note};
use super::phase1::Phase1;
use super::timer::{Owner, Timer};
use super::{Endpoints, Engine};
use crate::isakmp::{DeletePayload, Payload, ProtocolId, DOI_IPSEC};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Waits before re-initiating a wanted tunnel that is down, by attempt (the last one
/// repeats): a tunnel comes back by itself within two minutes of its peer.
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(120),
];
/// The pass over every wanted tunnel runs at most this often (an input in between is
/// owed one, at the end of the period): with 10,000 tunnels it would otherwise run
/// after every one of the thousands of datagrams a second. Retries wait 30 s and more,
/// so noticing a tunnel down 100 ms later changes nothing.
const SUPERVISE_EVERY: Duration = Duration::from_millis(100);
/// How often a replaced ISAKMP SA checks whether its Quick Modes are finished.
const RETIRE_POLL: Duration = Duration::from_secs(1);

/// The re-initiations of a wanted tunnel that is down. When the next one is due is the
/// timer heap's `Owner::Retry` entry alone.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Retry {
    attempts: u32,
}

impl Engine {
    /// A number that orders negotiation starts and completions.
    pub(super) fn event(&mut self) -> u64 {
        self.events += 1;
        self.events
    }

    /// The ISAKMP SA to use between `ends`: of the established ones not replaced, the
    /// one the peer spoke over last (after a lost Delete we may hold one the peer
    /// dropped), then the newest.
    pub(super) fn isakmp_for(&self, ends: Endpoints) -> Option<u32> {
        self.usable_phase1(ends)
            .max_by_key(|p| preference(p))
            .map(|p| p.conn_id)
    }

    fn usable_phase1(&self, ends: Endpoints) -> impl Iterator<Item = &Phase1> {
        self.phase1
            .of_pair(ends)
            .filter(|p| p.established().is_some() && p.retiring.is_none())
    }

    /// Is another ISAKMP SA between the same addresses preferred to `p1` (taken out of
    /// the table)?
    pub(super) fn outranked(&self, p1: &Phase1) -> bool {
        self.usable_phase1(p1.endpoints())
            .any(|o| preference(o) > preference(p1))
    }

    /// `p1` got no answer (DPD, Quick Mode) while the peer has another ISAKMP SA with
    /// us between the same addresses: the peer dropped this one (its Delete was lost).
    /// Drop it too; true if so.
    pub(super) fn drop_if_stale(&mut self, p1: &mut Phase1) -> bool {
        if self.usable_phase1(p1.endpoints()).next().is_none() {
            return false;
        }
        self.phase1_down(p1, DownReason::Unanswered);
        true
    }

    /// Tunnels between `ends` we keep up, in configuration order.
    pub(super) fn wanted_between(&self, ends: Endpoints) -> Vec<String> {
        self.tunnels_between(ends)
            .filter(|t| self.wanted.contains(&t.name))
            .map(|t| t.name.clone())
            .collect()
    }

    /// A pair of `tunnel` is up: its failures may be reported afresh, its retries stop.
    pub(super) fn tunnel_up(&mut self, tunnel: &str, peer: IpAddr) {
        self.reported.forget_peer(peer);
        if !self.is_virtual_access(tunnel) {
            self.wanted.insert(tunnel.to_string());
        }
        self.stop_retrying(tunnel);
    }

    /// `tunnel` is up, gone, or left down on purpose: no more re-initiations, and the
    /// count starts again.
    pub(super) fn stop_retrying(&mut self, tunnel: &str) {
        if self.retries.remove(tunnel).is_some() {
            self.timers.forget(&Owner::Retry(tunnel.to_string()));
        }
    }

    /// `supervise`, unless it ran less than `SUPERVISE_EVERY` ago (then it is owed).
    pub(super) fn supervise_at_most_every(&mut self, now: Instant) {
        match self.supervised_at {
            Some(t) if now < t + SUPERVISE_EVERY => self.supervise_owed = true,
            _ => {
                self.supervise(now);
                self.supervised_at = Some(now);
                self.supervise_owed = false;
            }
        }
    }

    /// When an owed `supervise` pass is due.
    pub(super) fn supervise_owed_at(&self) -> Option<Instant> {
        self.supervised_at
            .filter(|_| self.supervise_owed)
            .map(|t| t + SUPERVISE_EVERY)
    }

    /// After inputs: each wanted tunnel that is down (or whose rekey lost its
    /// exchange) and has nothing under way gets a retry, after a growing wait. One pass
    /// over the SAs and exchanges, then one lookup per wanted tunnel.
    fn supervise(&mut self, now: Instant) {
        if self.settings.passive {
            return;
        }
        // Each tunnel's current pair (newest complete, not replaced): is it rekeying?
        let mut current: HashMap<&str, (Option<u64>, bool)> = HashMap::new();
        for c in self.children.iter().filter(|c| c.outbound && !c.superseded) {
            let e = current
                .entry(c.tunnel.as_str())
                .or_insert((c.completed, c.rekey_pending));
            if c.completed >= e.0 {
                *e = (c.completed, c.rekey_pending);
            }
        }
        let mut running: HashSet<&str> = HashSet::new();
        let mut pending: HashSet<(&str, Endpoints)> = HashSet::new();
        for p in self.phase1.values() {
            running.extend(
                p.quick
                    .values()
                    .filter(|q| q.state.in_progress())
                    .map(|q| q.tunnel.as_str()),
            );
            if p.negotiating() {
                pending.extend(p.pending.iter().map(|t| (t.as_str(), p.endpoints())));
            }
        }
        let mut due = Vec::new();
        for name in &self.wanted {
            let Some(tunnel) = self
                .tunnel_ref(name)
                .filter(|t| !t.shutdown && self.initiates(t))
            else {
                continue;
            };
            let rekeying = match current.get(name.as_str()) {
                Some(&(_, false)) => {
                    due.push((name.clone(), None));
                    continue;
                }
                Some(&(_, true)) => true,
                None => false,
            };
            let busy = running.contains(name.as_str())
                || pending.contains(&(name.as_str(), tunnel.endpoints()))
                || self.pacer.is_queued(name);
            if !busy {
                due.push((name.clone(), Some(rekeying)));
            }
        }
        for (name, rekeying) in due {
            let Some(rekeying) = rekeying else {
                // Up: nothing to retry.
                self.stop_retrying(&name);
                continue;
            };
            let owner = Owner::Retry(name.clone());
            if self.timers.scheduled(&owner).is_some() {
                continue;
            }
            let retry = self.retries.entry(name).or_default();
            // A rekey that lost its exchange (its ISAKMP SA went) tries again at once:
            // the old pair is running out.
            let wait = if rekeying && retry.attempts == 0 {
                Duration::ZERO
            } else {
                BACKOFF[(retry.attempts as usize).min(BACKOFF.len() - 1)]
            };
            retry.attempts += 1;
            self.timers.schedule(owner, Some(now + wait));
        }
    }

    /// A retry's time has come (the heap took its entry: none is pending now).
    pub(super) fn retry_timer(&mut self, now: Instant, tunnel: &str) {
        if self.retries.contains_key(tunnel) {
            self.initiate(now, tunnel);
        }
    }

    /// Phase 1 soft lifetime: negotiate a new ISAKMP SA while this one still works.
    /// The IPsec SAs are not touched; they move to the new SA once it is up.
    pub(super) fn phase1_soft_expiry(&mut self, now: Instant, p1: &mut Phase1) {
        if self.settings.passive || p1.retiring.is_some() {
            return;
        }
        let ends = p1.endpoints();
        if self.outranked(p1) {
            // The peer rekeyed first; this one is ours to retire too.
            return self.retire_phase1(now, p1, DownReason::Rekeyed);
        }
        let in_progress = self.phase1.of_pair(ends).any(|o| o.negotiating());
        p1.rekeying = true;
        // Only for a tunnel this end may rekey: a `responder-only` one leaves it to the
        // peer (as a Virtual-Access of a `responder-only` template does).
        let needed = self
            .children
            .of_pair(ends)
            .map(|c| c.tunnel.as_str())
            .chain(self.wanted_between(ends).iter().map(String::as_str))
            .any(|name| self.tunnel_ref(name).is_some_and(|t| self.initiates(t)));
        if !in_progress && needed {
            self.note(p1, Note::Phase1Rekey);
            let path = (p1.fvrf, p1.local, p1.remote);
            self.start_main_mode(now, path, p1.profile.clone(), Vec::new());
        }
    }

    /// `p1` just came up: retire the ISAKMP SAs between the same addresses it replaces,
    /// or resolve a collision (both ends keep the SA with the larger initiator cookie).
    pub(super) fn phase1_established(&mut self, now: Instant, p1: &mut Phase1) {
        let ends = p1.endpoints();
        let others: Vec<u32> = self
            .phase1
            .of_pair(ends)
            .filter(|o| o.completed.is_some() && o.retiring.is_none())
            .map(|o| o.conn_id)
            .collect();
        for id in others {
            let Some(o) = self.phase1.get(id) else {
                continue;
            };
            if o.rekeying {
                self.with_phase1(id, |e, o| e.retire_phase1(now, o, DownReason::Rekeyed));
            } else if o.completed.is_some_and(|done| p1.started < done) {
                let (kept, dropped) = if o.icookie > p1.icookie {
                    (id, p1.conn_id)
                } else {
                    (p1.conn_id, id)
                };
                self.note(p1, Note::IsakmpCollision { kept, dropped });
                if dropped == p1.conn_id {
                    return self.retire_phase1(now, p1, DownReason::Collision);
                }
                self.with_phase1(id, |e, o| e.retire_phase1(now, o, DownReason::Collision));
            }
        }
    }

    /// Stop using `p1`; it goes (with a Delete) once its Quick Modes are finished.
    fn retire_phase1(&mut self, now: Instant, p1: &mut Phase1, reason: DownReason) {
        p1.retiring = Some(reason);
        p1.ex.timers.set(Timer::Retire, now);
        for t in [Timer::Rekey, Timer::Dpd, Timer::Keepalive] {
            p1.ex.timers.stop(t);
        }
    }

    pub(super) fn retire_timer(&mut self, now: Instant, p1: &mut Phase1) {
        if p1.quick.values().any(|q| q.state.in_progress()) {
            p1.ex.timers.set(Timer::Retire, now + RETIRE_POLL);
            return;
        }
        // Over the SA itself and over the one that stays: Informational messages are
        // not retransmitted, and a peer that misses this Delete would keep using an SA
        // we no longer have.
        self.send_isakmp_delete(p1);
        self.outbox.push((p1.endpoints(), isakmp_delete(p1)));
        self.phase1_down(p1, p1.retiring.unwrap_or(DownReason::Rekeyed));
    }

    /// `conn_id` is gone: its IPsec SAs now belong to the remaining ISAKMP SA between
    /// the same addresses (IOS keeps IPsec SAs when their ISAKMP SA goes).
    pub(super) fn adopt_children(&mut self, conn_id: u32, ends: Endpoints) {
        let Some(heir) = self.isakmp_for(ends) else {
            return;
        };
        // Its pairs are between its two addresses.
        self.children.update_pair(ends, |c| {
            if c.conn_id == conn_id {
                c.conn_id = heir;
            }
        });
    }
}

fn preference(p: &Phase1) -> (Instant, Option<u64>) {
    (p.last_heard, p.completed)
}

/// A Delete payload for the ISAKMP SA `p1` (RFC 2408 3.15: SPI = both cookies).
pub(super) fn isakmp_delete(p1: &Phase1) -> Payload {
    Payload::Delete(DeletePayload {
        doi: DOI_IPSEC,
        protocol: ProtocolId::ISAKMP,
        spi_size: 16,
        spis: vec![p1.cookies()],
    })
}
