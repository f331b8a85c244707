//! IPsec SA pairs (one inbound, one outbound ESP SA per tunnel), what the data path
//! gets for them, and which pair survives when two exist for one tunnel.

use super::log::{DownReason, LogEvent, Note};
use super::phase1::{Established, Phase1, QuickMode};
use super::proposal::{Lifetime, P2Choice};
use super::settings::TunnelSettings;
use super::state::Role;
use super::timer::{Timer, TimerTable};
use super::{identity, Action, Endpoints, Engine, Fvrf};
use crate::crypto::{kdf, DhGroup, Secret};
use crate::ipsec::{Direction, EspMode, EspTransform, Lifetimes, SaSpec, UdpEncap};
use crate::isakmp::{DeletePayload, IdPayload, Payload, ProtocolId, DOI_IPSEC};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// IPsec DOI protocol ESP, as KEYMAT's `protocol` byte.
const PROTO_ESP: u8 = 3;
/// How long a replaced pair's inbound SA certainly keeps working before we tell the
/// peer it is gone: packets the peer sent just before it moved still arrive.
pub(crate) const GRACE: Duration = Duration::from_secs(5);
/// How long we wait for the peer's Delete of a pair it replaced before we drop our
/// outbound SA and tell the peer ourselves (longer than its grace period).
const PEER_DELETE_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub(crate) struct ChildSa {
    pub tunnel: String,
    pub conn_id: u32,
    pub fvrf: Option<Fvrf>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub spi_in: u32,
    pub spi_out: u32,
    pub transform: EspTransform,
    pub mode: EspMode,
    pub pfs: Option<DhGroup>,
    pub udp_encap: bool,
    pub life: Lifetime,
    /// Anti-replay window of both SAs (0: `replay disable`).
    pub replay_window: u32,
    pub installed_at: Instant,
    /// `Engine::event` numbers: when its Quick Mode began and when the pair completed.
    pub started: u64,
    pub completed: Option<u64>,
    /// Soft (`Rekey`) and hard (`Lifetime`) expiry, and the grace period before we
    /// tell the peer a replaced pair is gone (`Retire`).
    pub timers: TimerTable,
    /// The outbound SA is installed (the responder waits for QM3): the pair is complete.
    pub outbound: bool,
    /// Soft lifetime reached: a newer pair replaces this one.
    pub rekey_pending: bool,
    /// Replaced by a newer pair: the outbound SA is gone from the data path (traffic
    /// uses the newest), the inbound one stays for packets still in flight, until the
    /// Retire timer (or the peer's Delete) removes the pair.
    pub superseded: bool,
    /// We replaced it (why): the peer hears of it after `GRACE`, and this reason is
    /// the one its down line gives, whatever removes it in the end.
    pub retired: Option<DownReason>,
    /// We told the peer (Delete payload) that this pair is gone: its inbound SA stays
    /// one more `GRACE` for packets the peer sent before the Delete reached it.
    pub delete_sent: bool,
    pub local_ident: String,
    pub remote_ident: String,
    /// The proxies' IP protocol: 0 (any) on a VTI, 47 on GRE.
    pub protocol: u8,
}

/// What a Quick Mode agreed on for one IPsec SA pair, once both nonces are known.
pub(crate) struct Agreed<'a> {
    pub tunnel: &'a TunnelSettings,
    pub choice: &'a P2Choice,
    /// Our inbound SPI (the peer's outbound one is `choice.peer_spi`).
    pub spi_in: u32,
    pub ni: &'a [u8],
    pub nr: &'a [u8],
    /// The PFS shared secret g(qm)^xy.
    pub g_qm: Option<&'a Secret>,
    /// As carried in QM1: (initiator's, responder's).
    pub ids: Option<&'a (IdPayload, IdPayload)>,
}

impl Agreed<'_> {
    /// KEYMAT of the SA whose receiver chose `spi` (RFC 2409 5.5), `len` bytes.
    fn keymat(&self, est: &Established, spi: u32) -> Secret {
        kdf::keymat(
            est.suite.hash,
            est.keys.skeyid_d.as_bytes(),
            self.g_qm.map(Secret::as_bytes),
            PROTO_ESP,
            spi,
            self.ni,
            self.nr,
            self.choice.transform.keymat_len(),
        )
    }

    /// One direction's SA for the data path. KEYMAT is the encryption key, then the
    /// authentication key (RFC 2409 5.5).
    pub(super) fn sa_spec(
        &self,
        p1: &Phase1,
        est: &Established,
        direction: Direction,
        lifetimes: Lifetimes,
    ) -> SaSpec {
        let (src, dst, spi) = match direction {
            Direction::In => (p1.remote, p1.local, self.spi_in),
            Direction::Out => (p1.local, p1.remote, self.choice.peer_spi),
        };
        let keymat = self.keymat(est, spi);
        let k = keymat.as_bytes();
        let enc_len = self.choice.transform.encr.key_len().min(k.len());
        SaSpec {
            tunnel: self.tunnel.name.clone(),
            direction,
            spi,
            src: src.ip(),
            dst: dst.ip(),
            inner: self.tunnel.inner,
            mode: self.choice.mode,
            transform: self.choice.transform,
            enc_key: Secret::new(k[..enc_len].to_vec()),
            auth_key: Secret::new(k[enc_len..].to_vec()),
            lifetimes,
            // RFC 3948: the UDP ports are those of the IKE SA that negotiated it.
            encap: self.choice.udp_encap.then_some(UdpEncap {
                sport: src.port(),
                dport: dst.port(),
            }),
            replay_window: self.tunnel.options.replay_window,
        }
    }
}

impl ChildSa {
    /// The addresses of its tunnel (and of its ISAKMP SA).
    pub(crate) fn endpoints(&self) -> Endpoints {
        Endpoints::of(self.fvrf, self.local, self.remote)
    }

    /// The pair `qm` over `p1` agreed on, installed at `now`.
    fn new(
        now: Instant,
        p1: &Phase1,
        qm: &QuickMode,
        agreed: &Agreed,
        lifetimes: &Lifetimes,
    ) -> ChildSa {
        let initiated_by_us = qm.role == Role::Initiator;
        let ours = identity::proxies(agreed.tunnel);
        let (local_ident, remote_ident) = match agreed.ids {
            Some((ci, cr)) if initiated_by_us => (ci, cr),
            Some((ci, cr)) => (cr, ci),
            None => (&ours.0, &ours.1),
        };
        let protocol = local_ident.protocol;
        let (local_ident, remote_ident) = (
            identity::subnet(local_ident),
            identity::subnet(remote_ident),
        );
        let mut timers = TimerTable::default();
        if let Some(s) = lifetimes.soft_s {
            timers.set(Timer::Rekey, now + Duration::from_secs(s));
        }
        if let Some(s) = lifetimes.hard_s {
            timers.set(Timer::Lifetime, now + Duration::from_secs(s));
        }
        let choice = agreed.choice;
        ChildSa {
            tunnel: agreed.tunnel.name.clone(),
            conn_id: p1.conn_id,
            fvrf: p1.fvrf,
            local: p1.local,
            remote: p1.remote,
            spi_in: agreed.spi_in,
            spi_out: choice.peer_spi,
            transform: choice.transform,
            mode: choice.mode,
            pfs: choice.pfs,
            udp_encap: choice.udp_encap,
            life: choice.life,
            replay_window: agreed.tunnel.options.replay_window,
            installed_at: now,
            started: qm.started,
            completed: None,
            timers,
            outbound: initiated_by_us,
            rekey_pending: false,
            superseded: false,
            retired: None,
            delete_sent: false,
            local_ident,
            remote_ident,
            protocol,
        }
    }

    /// Collision rule (both ends compute the same): keep the pair whose smaller SPI is
    /// the larger.
    fn rank(&self) -> u32 {
        self.spi_in.min(self.spi_out)
    }
}

impl Engine {
    /// Quick Mode `qm` over `p1` agreed on a pair: its record joins `children`, and
    /// the data path's (inbound, outbound) SAs are returned for the caller to install
    /// when its role says so.
    pub(super) fn new_pair(
        &mut self,
        now: Instant,
        p1: &Phase1,
        est: &Established,
        qm: &QuickMode,
        agreed: Agreed,
    ) -> (SaSpec, SaSpec) {
        let lifetimes = Lifetimes {
            idle_s: agreed.tunnel.options.idle_time_s.map(u64::from),
            ..self.lifetimes(agreed.choice.life)
        };
        let inbound = agreed.sa_spec(p1, est, Direction::In, lifetimes);
        let outbound = agreed.sa_spec(p1, est, Direction::Out, lifetimes);
        self.children
            .insert(ChildSa::new(now, p1, qm, &agreed, &lifetimes));
        self.touch_child(agreed.spi_in);
        (inbound, outbound)
    }

    /// Soft limits at 85..94% of the hard ones, jittered from the RNG so that the two
    /// ends (and many tunnels) do not all rekey at once. One draw per pair: the engine's
    /// timer and the data path's soft expiry agree.
    pub(super) fn lifetimes(&mut self, life: Lifetime) -> Lifetimes {
        let percent = self.soft_percent();
        let hard_s = (life.seconds != u64::MAX).then_some(life.seconds);
        let hard_bytes = (life.kilobytes != u64::MAX).then(|| life.kilobytes.saturating_mul(1024));
        Lifetimes {
            soft_s: hard_s.map(|h| h * percent / 100),
            hard_s,
            soft_bytes: hard_bytes.map(|h| h / 100 * percent),
            hard_bytes,
            idle_s: None,
        }
    }

    fn soft_percent(&mut self) -> u64 {
        85 + u64::from(self.rng.next_u32() % 10)
    }

    /// The soft point of a lifetime (85..94%, jittered).
    pub(super) fn soft(&mut self, lifetime: Duration) -> Duration {
        lifetime * u32::try_from(self.soft_percent()).unwrap_or(90) / 100
    }

    /// The pair the tunnel's traffic uses: the newest complete one not replaced. (The
    /// data path sends on the newest outbound SA, as the kernel does.)
    pub(super) fn current_pair(&self, tunnel: &str) -> Option<&ChildSa> {
        self.children
            .of_tunnel(tunnel)
            .filter(|c| c.outbound && !c.superseded)
            .max_by_key(|c| c.completed)
    }

    /// The pair with inbound `spi_in` is now complete (both directions installed), and
    /// the tunnel's traffic moves to it.
    ///
    /// Older pairs of the tunnel go only where both ends agree:
    /// - pairs we are replacing (soft lifetime) are retired;
    /// - a pair negotiated concurrently with this one (each Quick Mode began before the
    ///   other completed: simultaneous starts or rekeys) is a collision: both ends keep
    ///   the pair whose smaller SPI is the larger and retire the other;
    /// - any other older pair is the peer's to replace: its Delete will come.
    ///
    /// A retired pair loses its outbound SA at once (the traffic has moved); the peer
    /// hears of it after `GRACE`, so that packets in flight on the old inbound SA are
    /// still received, and the pair is gone a `GRACE` after that (`child_retire_timer`).
    pub(super) fn child_complete(&mut self, now: Instant, spi_in: u32) {
        let event = self.event();
        let Some(new) = self.children.get_mut(spi_in) else {
            return;
        };
        new.completed = Some(event);
        let new = new.clone();
        self.log(LogEvent::SaUp {
            tunnel: new.tunnel.clone(),
            conn_id: new.conn_id,
            peer: new.remote.ip(),
            spi_in,
            spi_out: new.spi_out,
            transform: super::proposal::esp_name(new.transform),
            pfs: new.pfs.map(DhGroup::id),
            udp_encap: new.udp_encap,
        });
        self.tunnel_up(&new.tunnel, new.remote.ip());
        let older: Vec<ChildSa> = self
            .children
            .of_tunnel(&new.tunnel)
            .filter(|c| c.spi_in != spi_in)
            .filter(|c| c.outbound && !c.superseded)
            .cloned()
            .collect();
        for old in older {
            if old.rekey_pending {
                self.retire_child(now, old.spi_in, DownReason::Rekeyed);
            } else if old.completed.is_some_and(|done| new.started < done) {
                let (kept, dropped) = if old.rank() > new.rank() {
                    (&old, &new)
                } else {
                    (&new, &old)
                };
                self.log(LogEvent::Note {
                    conn_id: new.conn_id,
                    peer: new.remote.ip(),
                    note: Note::QmCollision {
                        kept_spi_in: kept.spi_in,
                        dropped_spi_in: dropped.spi_in,
                    },
                });
                let dropped = dropped.spi_in;
                self.retire_child(now, dropped, DownReason::Collision);
                if dropped == spi_in {
                    return;
                }
            } else if let Some(c) = self.children.get_mut(old.spi_in) {
                // The peer's replacement: its Delete comes after its grace period. Our
                // outbound SA stays meanwhile, in case the peer saw a collision and
                // keeps the old pair after all.
                c.timers.set(Timer::Retire, now + PEER_DELETE_WAIT);
                self.touch_child(old.spi_in);
            }
        }
    }

    /// Move the tunnel's traffic off this pair now; tell the peer after `GRACE`.
    fn retire_child(&mut self, now: Instant, spi_in: u32, reason: DownReason) {
        let Some(c) = self.children.get_mut(spi_in) else {
            return;
        };
        c.retired = Some(reason);
        c.timers.set(Timer::Retire, now + GRACE);
        self.touch_child(spi_in);
        self.supersede(spi_in);
    }

    /// A newer pair carries the traffic: this one's outbound SA is of no more use.
    fn supersede(&mut self, spi_in: u32) {
        let Some(c) = self.children.get_mut(spi_in).filter(|c| !c.superseded) else {
            return;
        };
        c.superseded = true;
        c.timers.stop(Timer::Rekey);
        let delete = Action::DeleteSa {
            tunnel: c.tunnel.clone(),
            direction: Direction::Out,
            spi: c.spi_out,
            dst: c.remote.ip(),
        };
        self.actions.push_back(delete);
    }

    /// Timers of the pair with inbound `spi_in`.
    pub(super) fn child_timers(&mut self, now: Instant, spi_in: u32) {
        let Some(c) = self.children.get_mut(spi_in) else {
            return;
        };
        for timer in c.timers.expired(now) {
            match timer {
                Timer::Rekey => self.child_soft_expiry(now, spi_in),
                Timer::Lifetime => return self.child_hard_expiry(now, spi_in),
                Timer::Retire => self.child_retire_timer(now, spi_in),
                // Not used by IPsec pairs.
                Timer::Retransmit | Timer::Reap | Timer::Dpd | Timer::Keepalive => {}
            }
        }
    }

    /// A retired pair's grace period is over, or the peer's Delete for a pair it
    /// replaced did not come (lost: Informational messages are not retransmitted):
    /// the peer is told, and one more `GRACE` later (for packets it sent before our
    /// Delete reached it, e.g. where it took the pair for its newest) the inbound half
    /// goes too, whether or not the peer's own Delete came: that one may be lost too,
    /// and waiting for it kept a half pair in `show crypto ipsec sa` until the hard
    /// lifetime.
    fn child_retire_timer(&mut self, now: Instant, spi_in: u32) {
        let Some(c) = self.children.get(spi_in) else {
            return;
        };
        if self.current_pair(&c.tunnel).map(|p| p.spi_in) == Some(spi_in) {
            // The tunnel's only pair again: the peer kept it after all.
            return;
        }
        // Not retired by us: the peer replaced it and its Delete is late or lost.
        let reason = self.replaced(c).unwrap_or(DownReason::Rekeyed);
        if c.delete_sent {
            return self.delete_child(spi_in, reason);
        }
        self.supersede(spi_in);
        if let Some(c) = self.children.get_mut(spi_in) {
            c.delete_sent = true;
            c.timers.set(Timer::Retire, now + GRACE);
            let ends = c.endpoints();
            self.outbox.push((ends, esp_delete(spi_in)));
        }
    }

    /// Soft lifetime (our timer, or the data path's seconds or kilobytes): negotiate a
    /// replacement, unless one is already up or under way.
    pub(super) fn child_soft_expiry(&mut self, now: Instant, spi_in: u32) {
        let Some(c) = self.children.get(spi_in) else {
            return;
        };
        let tunnel = c.tunnel.clone();
        let current = self.current_pair(&tunnel).map(|p| p.spi_in) == Some(spi_in);
        if !current || c.rekey_pending {
            return;
        }
        if let Some(c) = self.children.get_mut(spi_in) {
            c.rekey_pending = true;
        }
        self.initiate(now, &tunnel);
    }

    /// Hard lifetime: the pair is gone. If the tunnel has nothing newer, tell the peer
    /// and negotiate again.
    pub(super) fn child_hard_expiry(&mut self, now: Instant, spi_in: u32) {
        let Some(c) = self.children.get(spi_in) else {
            return;
        };
        let tunnel = c.tunnel.clone();
        let reason = self.replaced(c).unwrap_or(DownReason::Expired);
        self.delete_child(spi_in, reason);
        self.initiate(now, &tunnel);
    }

    /// `set security-association idle-time S` of `tunnel`, if any.
    pub(super) fn idle_time(&self, tunnel: &str) -> Option<u32> {
        self.tunnel(tunnel)?.options.idle_time_s
    }

    /// IOS's idle timer: no packet crossed the tunnel's SAs for its idle-time. Its pairs
    /// go (the peer is told), and the tunnel is no longer kept up: the next packet for
    /// it (the data path's `Command::Initiate`) negotiates a new pair.
    pub(super) fn tunnel_idle(&mut self, tunnel: &str) {
        let Some(seconds) = self.idle_time(tunnel) else {
            return;
        };
        self.wanted.remove(tunnel);
        self.stop_retrying(tunnel);
        let pairs: Vec<u32> = self.children.of_tunnel(tunnel).map(|c| c.spi_in).collect();
        for spi_in in pairs {
            self.delete_child(spi_in, DownReason::Idle { seconds });
        }
    }

    /// Delete both directions of an IPsec SA pair from the data path (the record is
    /// already gone from `children`).
    pub(super) fn remove_child_sas(&mut self, c: &ChildSa, reason: DownReason) {
        self.actions.push_back(Action::DeleteSa {
            tunnel: c.tunnel.clone(),
            direction: Direction::In,
            spi: c.spi_in,
            dst: c.local.ip(),
        });
        // A superseded pair's outbound SA is gone already.
        if c.outbound && !c.superseded {
            self.actions.push_back(Action::DeleteSa {
                tunnel: c.tunnel.clone(),
                direction: Direction::Out,
                spi: c.spi_out,
                dst: c.remote.ip(),
            });
        }
        self.log(LogEvent::SaDown {
            tunnel: c.tunnel.clone(),
            conn_id: c.conn_id,
            peer: c.remote.ip(),
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            reason,
        });
    }

    /// Why `c` no longer carries its tunnel's traffic, if it does not: we retired it
    /// (a collision's loser, a pair we replaced), or a newer pair took over and the
    /// peer's Delete of it is still to come (the peer replaced it, or kept the newer
    /// one of a collision). Whatever removes such a pair in the end, its down line
    /// gives this reason: the others (peer deleted, INITIAL-CONTACT, expired) are for
    /// the tunnel's pair in use, the one a user would miss.
    pub(super) fn replaced(&self, c: &ChildSa) -> Option<DownReason> {
        c.retired.or_else(|| {
            let newer = self.current_pair(&c.tunnel).is_some_and(|p| {
                p.spi_in != c.spi_in && c.completed.is_some() && p.completed > c.completed
            });
            newer.then_some(DownReason::Rekeyed)
        })
    }

    /// The pairs between `ends` that `which` picks are gone on the peer's side (it lost
    /// its state, or is dead): remove them without telling it. `reason` is for the
    /// tunnel's pair in use; a pair the traffic had left gives why (`replaced`), and one
    /// whose Quick Mode was still waiting for QM3 never came up: its negotiation failed.
    pub(super) fn remove_children_of(
        &mut self,
        ends: Endpoints,
        reason: DownReason,
        which: impl Fn(&ChildSa) -> bool,
    ) {
        let gone: Vec<(u32, DownReason)> = self
            .children
            .of_pair(ends)
            .filter(|c| which(c))
            .map(|c| {
                let unfinished = c
                    .completed
                    .is_none()
                    .then_some(DownReason::NegotiationFailed);
                (c.spi_in, self.replaced(c).or(unfinished).unwrap_or(reason))
            })
            .collect();
        for (spi_in, reason) in gone {
            if let Some(c) = self.take_child(spi_in) {
                self.remove_child_sas(&c, reason);
            }
        }
    }

    /// Take a pair out for good: its Virtual-Access may have lost its last one.
    pub(super) fn take_child(&mut self, spi_in: u32) -> Option<ChildSa> {
        let c = self.children.remove(spi_in)?;
        self.maybe_idle(&c.tunnel);
        Some(c)
    }

    /// Remove a pair: data path deletes, and a Delete so the peer drops its side (unless
    /// it was told already).
    pub(super) fn delete_child(&mut self, spi_in: u32, reason: DownReason) {
        let Some(c) = self.take_child(spi_in) else {
            return;
        };
        self.remove_child_sas(&c, reason);
        if !c.delete_sent {
            self.outbox.push((c.endpoints(), esp_delete(c.spi_in)));
        }
    }
}

/// A Delete payload for our inbound ESP SA `spi` (the peer's outbound).
pub(super) fn esp_delete(spi: u32) -> Payload {
    Payload::Delete(DeletePayload {
        doi: DOI_IPSEC,
        protocol: ProtocolId::IPSEC_ESP,
        spi_size: 4,
        spis: vec![spi.to_be_bytes().to_vec()],
    })
}
