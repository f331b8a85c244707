//! Keeping a quiet tunnel honest: Dead Peer Detection (RFC 3706) and NAT keepalives
//! (RFC 3948 2.3), both timers of an established ISAKMP SA.
//!
//! DPD as IOS's `crypto isakmp keepalive S R`: after S seconds without an authenticated
//! message from the peer, send R-U-THERE; unanswered, resend every R seconds with a new
//! sequence number; after `DPD_TRANSMISSIONS` the peer is dead: its SAs go and the
//! wanted tunnels re-initiate. So a vanished peer is noticed within S + 5 R seconds
//! (IOS allows S >= 10, so within S*R + S). `periodic` and `on-demand` behave alike
//! here: on-demand means "when traffic went out but none came in", and the engine does
//! not see ESP traffic, so both probe whenever IKE has been idle for S seconds.

use super::error::Error;
use super::log::{DownReason, Note};
use super::phase1::Phase1;
use super::settings::Dpd;
use super::timer::Timer;
use super::{Action, Engine};
use crate::isakmp::{NotifyPayload, NotifyType, Payload, ProtocolId, DOI_IPSEC};
use std::time::{Duration, Instant};

/// R-U-THERE messages sent before the peer is declared dead (IOS: the first and 4 more).
pub(crate) const DPD_TRANSMISSIONS: u32 = 5;

fn sequence(n: &NotifyPayload) -> Option<u32> {
    let b: [u8; 4] = n.data.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

impl Engine {
    /// The DPD that applies to `p1`: its ISAKMP profile's `keepalive`, else `crypto
    /// isakmp keepalive`; none when the peer did not say it answers R-U-THERE.
    fn dpd_of(&self, p1: &Phase1) -> Option<Dpd> {
        let profile = p1
            .profile
            .as_deref()
            .and_then(|p| self.settings.isakmp_profile(p));
        self.settings
            .dpd_for(profile)
            .filter(|_| p1.peer_dpd)
            .cloned()
    }

    /// An ISAKMP SA just came up: start its DPD and NAT keepalive timers.
    pub(super) fn arm_liveness(&mut self, now: Instant, p1: &mut Phase1) {
        if let Some(dpd) = self.dpd_of(p1) {
            p1.dpd.next_seq = self.rng.next_u32();
            p1.ex.timers.set(Timer::Dpd, now + secs(dpd.interval_s));
        }
        if let Some(every) = self.keepalive_interval(p1) {
            p1.ex.timers.set(Timer::Keepalive, now + every);
        }
    }

    /// RFC 3948 2.3: only the end behind a NAT keeps its mapping open, on port 4500.
    fn keepalive_interval(&self, p1: &Phase1) -> Option<Duration> {
        let s = self.settings.nat_keepalive_s?;
        (p1.nat.local_behind && p1.local.port() == super::nat::NAT_T_PORT && s > 0).then(|| secs(s))
    }

    /// An authenticated message from the peer: it is alive.
    pub(super) fn heard_from(&mut self, now: Instant, p1: &mut Phase1) {
        p1.last_heard = now;
        p1.dpd.probing = false;
        if let Some(dpd) = self.dpd_of(p1) {
            p1.ex.timers.set(Timer::Dpd, now + secs(dpd.interval_s));
        }
    }

    pub(super) fn nat_keepalive_timer(&mut self, now: Instant, p1: &mut Phase1) {
        if let Some(every) = self.keepalive_interval(p1) {
            self.actions.push_back(Action::NatKeepalive {
                fvrf: p1.fvrf,
                local: p1.local,
                remote: p1.remote,
            });
            p1.ex.timers.set(Timer::Keepalive, now + every);
        }
    }

    /// The DPD timer: probe, probe again, or give the peer up.
    pub(super) fn dpd_timer(&mut self, now: Instant, p1: &mut Phase1) {
        let Some(dpd) = self.dpd_of(p1) else {
            return;
        };
        let ends = p1.endpoints();
        // No IPsec SA to protect, or another ISAKMP SA probes for us: only wait.
        let idle = !self.children.any_between(ends) || p1.retiring.is_some() || self.outranked(p1);
        let seq = p1.dpd.next_seq;
        let (first, sent) = match p1.dpd.run {
            Some(run) if p1.dpd.probing => run,
            _ if idle => {
                p1.ex.timers.set(Timer::Dpd, now + secs(dpd.interval_s));
                return;
            }
            _ => (seq, 0),
        };
        if sent >= DPD_TRANSMISSIONS {
            if !self.drop_if_stale(p1) {
                let error = Error::PeerDead {
                    peer: p1.remote.ip(),
                    transmissions: sent,
                    interval_s: dpd.interval_s,
                    retry_s: dpd.retry_s,
                    origin: dpd.origin.clone(),
                    // The keepalive is the profile's when it has its own line.
                    profile: p1.profile.clone().filter(|p| {
                        self.settings
                            .isakmp_profile(p)
                            .is_some_and(|p| p.dpd.is_some())
                    }),
                };
                self.fail(Some(p1.conn_id), p1.remote.ip(), error);
                self.peer_dead(now, p1);
            }
            return;
        }
        p1.dpd.next_seq = seq.wrapping_add(1);
        p1.dpd.run = Some((first, sent + 1));
        p1.dpd.probing = true;
        self.note(
            p1,
            Note::DpdSent {
                sequence: seq,
                transmission: sent + 1,
            },
        );
        self.send_info(p1, dpd_notify(p1, NotifyType::R_U_THERE, seq));
        p1.ex.timers.set(Timer::Dpd, now + secs(dpd.retry_s));
    }

    /// A protected R-U-THERE or R-U-THERE-ACK; false for an ACK that answers nothing
    /// we asked (a late duplicate), which proves nothing.
    pub(super) fn dpd_notify(&mut self, p1: &mut Phase1, n: &NotifyPayload) -> bool {
        let seq = sequence(n).unwrap_or(0);
        if n.notify_type == NotifyType::R_U_THERE {
            // RFC 3706 7: each R-U-THERE's sequence number exceeds the last one's (in
            // serial number arithmetic); an older one is a replay, neither answered
            // nor taken as a sign of life.
            if p1
                .peer_dpd_seq
                .is_some_and(|last| seq.wrapping_sub(last) as i32 <= 0)
            {
                self.stats.dropped_replayed += 1;
                self.note(p1, Note::DpdReplayed { sequence: seq });
                return false;
            }
            p1.peer_dpd_seq = Some(seq);
            // Always answered, with the same sequence number (RFC 3706 5.3).
            self.send_info(p1, dpd_notify(p1, NotifyType::R_U_THERE_ACK, seq));
            self.note(p1, Note::DpdAck { sequence: seq });
            return true;
        }
        let answers = p1.dpd.answers(seq);
        if answers {
            self.note(p1, Note::DpdAcked { sequence: seq });
        }
        answers
    }

    /// Every SA between the two addresses goes (no Delete: nobody would read it), then
    /// the wanted tunnels between them start again. The peer's tunnels with us over
    /// other addresses have their own DPD: one dead uplink is not a dead peer.
    fn peer_dead(&mut self, now: Instant, p1: &mut Phase1) {
        let ends = p1.endpoints();
        let others: Vec<u32> = self.phase1.of_pair(ends).map(|o| o.conn_id).collect();
        for id in others {
            if let Some(o) = self.remove_phase1(id) {
                if o.established_at.is_some() {
                    self.log_phase1_down(id, ends.peer, DownReason::DeadPeer);
                }
            }
        }
        self.phase1_down(p1, DownReason::DeadPeer);
        self.remove_children_of(ends, DownReason::DeadPeer, |_| true);
        for tunnel in self.wanted_between(ends) {
            self.initiate(now, &tunnel);
        }
    }
}

fn dpd_notify(p1: &Phase1, notify_type: NotifyType, seq: u32) -> Payload {
    Payload::Notify(NotifyPayload {
        doi: DOI_IPSEC,
        protocol: ProtocolId::ISAKMP,
        notify_type,
        spi: p1.cookies(),
        data: seq.to_be_bytes().to_vec(),
    })
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(s.into())
}
