//! Call admission control for new ISAKMP SAs (IOS "Call Admission Control for IKE",
//! `crypto call admission limit ike in-negotiation-sa N` / `ike sa N`), with the
//! per-peer half-open limit strongSwan has (`charon.block_threshold`). A router with
//! UDP 500 open to the Internet and a wildcard key must not let anyone who sends MM1s
//! hold its memory or make it a reflector.
//!
//! An MM1 that would create a responder SA is refused when:
//! - the ISAKMP SAs (up or negotiating) number `ike sa` already;
//! - its peer has `PER_PEER_HALF_OPEN` negotiations under way with us already (a
//!   tunnel destination: as many as it has tunnels, if that is more);
//! - `in-negotiation-sa` negotiations are under way, and none of them is a stranger's
//!   embryonic one.
//!
//! Embryonic: a responder SA that saw MM1 and nothing since. Its peer has not shown it
//! receives at its address (MM3 carries our cookie, sent only there), so it is most
//! likely spoofed: when the in-negotiation limit is reached, the oldest embryonic SA
//! of a peer we did not know makes room for the newcomer, where IOS refuses the
//! newcomer (a known peer's is never dropped for a stranger: across a slow path its
//! MM3 may take longer than a flood leaves a stranger's SA). Under a flood of
//! spoofed MM1s new peers keep getting in, and an embryonic SA lives as long as the
//! flood leaves it. A peer we know (a configured `tunnel destination`, or one with an
//! ISAKMP SA up) is bounded by the configuration, so the in-negotiation limit does not
//! refuse it; and rather than be refused by the per-peer limit (someone spoofing its
//! address), it makes room by dropping its own oldest embryonic SA.
//!
//! Defaults: IOS sets no limit, strongSwan none but `block_threshold = 5` per peer.
//! `DEFAULT_IN_NEGOTIATION` bounds the half-open state to about a megabyte (an
//! embryonic SA keeps the initiator's SA payload, our MM2 and a digest of MM1) while
//! leaving a responder with a thousand spokes room to bring them all up at once.

use super::log::{DropReason, LogEvent, Refusal};
use super::Engine;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

/// Negotiations in progress when `crypto call admission limit ike in-negotiation-sa`
/// is not configured.
pub const DEFAULT_IN_NEGOTIATION: u32 = 1000;
/// Half-open negotiations one peer address may have with us (strongSwan's
/// `charon.block_threshold` default).
pub const PER_PEER_HALF_OPEN: u32 = 5;

/// `show crypto call admission statistics`: what admission control did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AdmissionStats {
    /// MM1s from peers with a pre-shared key that would begin a negotiation.
    pub requests_in: u64,
    pub accepted_in: u64,
    pub rejected_sa_limit: u64,
    pub rejected_in_negotiation_limit: u64,
    pub rejected_per_peer: u64,
    /// Embryonic negotiations dropped to make room for a newer one.
    pub evicted_embryonic: u64,
    /// MM3s left unanswered while too many key exchanges were under way.
    pub dropped_dh_busy: u64,
    /// Negotiations we began.
    pub requests_out: u64,
}

/// `show crypto call admission statistics`: the counters, and the SAs and limits now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AdmissionView {
    pub stats: AdmissionStats,
    /// ISAKMP SAs, up or negotiating.
    pub ike_sas: usize,
    pub negotiating: usize,
    /// `crypto call admission limit ike sa` (none: no limit).
    pub limit_sa: Option<u32>,
    pub limit_in_negotiation: u32,
    pub limit_per_peer: u32,
    pub dropped_wrong_address: u64,
    pub dropped_replayed: u64,
    /// (peer, kind) failures remembered (bounded by `memory::CAPACITY`).
    pub remembered_failures: usize,
    /// Deadlines in the engine's heap.
    pub timer_entries: usize,
}

impl AdmissionStats {
    pub fn rejected_in(&self) -> u64 {
        self.rejected_sa_limit + self.rejected_in_negotiation_limit + self.rejected_per_peer
    }
}

impl Engine {
    /// The effective `in-negotiation-sa` limit.
    pub(super) fn in_negotiation_limit(&self) -> u32 {
        self.settings
            .admission
            .in_negotiation_sa
            .unwrap_or(DEFAULT_IN_NEGOTIATION)
    }

    /// May an MM1 from `remote` begin a negotiation? Makes room by dropping an
    /// embryonic SA where that is the rule; counts and logs a refusal.
    pub(super) fn admit(&mut self, remote: SocketAddr) -> bool {
        self.stats.admission.requests_in += 1;
        match self.check_admission(remote) {
            Ok(()) => true,
            Err(refusal) => {
                let a = &mut self.stats.admission;
                match refusal {
                    Refusal::SaLimit(_) => a.rejected_sa_limit += 1,
                    Refusal::InNegotiationLimit(_) => a.rejected_in_negotiation_limit += 1,
                    Refusal::PerPeer(_) => a.rejected_per_peer += 1,
                }
                self.log(LogEvent::Dropped {
                    peer: remote,
                    reason: DropReason::Refused(refusal),
                });
                false
            }
        }
    }

    fn check_admission(&mut self, remote: SocketAddr) -> Result<(), Refusal> {
        let peer = remote.ip();
        if let Some(max) = self.settings.admission.sa {
            if self.phase1.len() >= max as usize {
                return Err(Refusal::SaLimit(max));
            }
        }
        let known = self.known_peer(peer);
        let per_peer = self.half_open_limit(peer);
        if self.phase1.half_open_from(peer) >= per_peer {
            match self.phase1.oldest_embryonic(Some(peer)).filter(|_| known) {
                Some(id) => self.evict(id),
                None => return Err(Refusal::PerPeer(per_peer)),
            }
        }
        let max = self.in_negotiation_limit();
        if !known && self.phase1.negotiating() >= max as usize {
            match self.phase1.oldest_embryonic(None) {
                Some(id) => self.evict(id),
                None => return Err(Refusal::InNegotiationLimit(max)),
            }
        }
        Ok(())
    }

    /// Half-open negotiations `peer` may have with us: `PER_PEER_HALF_OPEN`, or one per
    /// tunnel configured with it where that is more (a head-end with one address
    /// starting all its tunnels to a branch at once opens that many Main Modes; none
    /// of them may be refused or dropped for another).
    fn half_open_limit(&self, peer: IpAddr) -> u32 {
        let tunnels = self.tunnel_index.per_peer.get(&peer).copied().unwrap_or(0);
        PER_PEER_HALF_OPEN.max(tunnels)
    }

    /// Drop embryonic SA `id` silently: its peer never came back.
    fn evict(&mut self, id: u32) {
        self.remove_phase1(id);
        self.stats.admission.evicted_embryonic += 1;
    }

    /// What `show crypto call admission statistics` shows: the counters, and the SAs
    /// and limits now.
    pub fn admission(&self) -> AdmissionView {
        AdmissionView {
            stats: self.stats.admission,
            ike_sas: self.phase1.len(),
            negotiating: self.phase1.negotiating(),
            limit_sa: self.settings.admission.sa,
            limit_in_negotiation: self.in_negotiation_limit(),
            limit_per_peer: PER_PEER_HALF_OPEN,
            dropped_wrong_address: self.stats.dropped_wrong_address,
            dropped_replayed: self.stats.dropped_replayed,
            remembered_failures: self.reported.len(),
            timer_entries: self.timers.len(),
        }
    }
}
