//! IPsec SA pairs (one inbound, one outbound ESP SA per tunnel), what the data path
//! gets for them, and which pair survives when two exist for one tunnel.

use super::log::{DownReason, LogEvent, Note};
use super::main_mode::Phase1;
use super::proposal::{Lifetime, P2Choice};
use super::settings::TunnelSettings;
use super::{identity, Engine};
use crate::crypto::{DhGroup, EspTransform, Secret};
use crate::dataplane::{Direction, Lifetimes, SaSpec, UdpEncap};
use crate::isakmp::{DeletePayload, IdPayload, Payload, ProtocolId, DOI_IPSEC};
use std::net::SocketAddr;
use std::time::Instant;

/// IOS's default anti-replay window.
const REPLAY_WINDOW: u32 = 64;

#[derive(Debug, Clone)]
pub(crate) struct ChildSa {
    pub tunnel: String,
    pub conn_id: u32,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub spi_in: u32,
    pub spi_out: u32,
    pub transform: EspTransform,
    pub pfs: Option<DhGroup>,
    pub udp_encap: bool,
    pub life: Lifetime,
    pub installed_at: Instant,
    /// The outbound SA is installed (the responder waits for QM3).
    pub outbound: bool,
    /// The data path reported the soft lifetime: a newer pair replaces this one.
    pub rekey_pending: bool,
    pub local_ident: String,
    pub remote_ident: String,
}

impl ChildSa {
    /// `ids` as carried in QM1: (initiator's, responder's).
    pub(crate) fn new(
        now: Instant,
        tunnel: &TunnelSettings,
        p1: &Phase1,
        spi_in: u32,
        choice: &P2Choice,
        initiated_by_us: bool,
        ids: Option<&(IdPayload, IdPayload)>,
    ) -> ChildSa {
        let any = identity::subnet(&identity::proxy_any(tunnel.inner));
        let (local_ident, remote_ident) = match ids {
            Some((ci, cr)) if initiated_by_us => (identity::subnet(ci), identity::subnet(cr)),
            Some((ci, cr)) => (identity::subnet(cr), identity::subnet(ci)),
            None => (any.clone(), any),
        };
        ChildSa {
            tunnel: tunnel.name.clone(),
            conn_id: p1.conn_id,
            local: p1.local,
            remote: p1.remote,
            spi_in,
            spi_out: choice.peer_spi,
            transform: choice.transform,
            pfs: choice.pfs,
            udp_encap: choice.udp_encap,
            life: choice.life,
            installed_at: now,
            outbound: initiated_by_us,
            rekey_pending: false,
            local_ident,
            remote_ident,
        }
    }
}

impl Engine {
    /// One direction's SA for the data path. KEYMAT is the encryption key, then the
    /// authentication key (RFC 2409 5.5).
    pub(super) fn sa_spec(
        &mut self,
        tunnel: &TunnelSettings,
        p1: &Phase1,
        direction: Direction,
        spi: u32,
        choice: &P2Choice,
        keymat: Secret,
    ) -> SaSpec {
        let (src, dst) = match direction {
            Direction::In => (p1.remote, p1.local),
            Direction::Out => (p1.local, p1.remote),
        };
        let k = keymat.as_bytes();
        let enc_len = choice.transform.encr.key_len().min(k.len());
        SaSpec {
            tunnel: tunnel.name.clone(),
            if_id: 0,
            direction,
            spi,
            src: src.ip(),
            dst: dst.ip(),
            inner: tunnel.inner,
            transform: choice.transform,
            enc_key: Secret::new(k[..enc_len].to_vec()),
            auth_key: Secret::new(k[enc_len..].to_vec()),
            lifetimes: self.lifetimes(choice.life),
            // RFC 3948: the UDP ports are those of the IKE SA that negotiated it.
            encap: choice.udp_encap.then_some(UdpEncap {
                sport: src.port(),
                dport: dst.port(),
            }),
            replay_window: REPLAY_WINDOW,
            reqid: 0,
        }
    }

    /// Soft limits at 85..94% of the hard ones, jittered from the RNG so that the two
    /// ends (and many tunnels) do not all rekey at once.
    fn lifetimes(&mut self, life: Lifetime) -> Lifetimes {
        let percent = 85 + u64::from(self.rng.next_u32() % 10);
        let hard_s = (life.seconds != u64::MAX).then_some(life.seconds);
        let hard_bytes = (life.kilobytes != u64::MAX).then(|| life.kilobytes.saturating_mul(1024));
        Lifetimes {
            soft_s: hard_s.map(|h| h * percent / 100),
            hard_s,
            soft_bytes: hard_bytes.map(|h| h / 100 * percent),
            hard_bytes,
        }
    }

    /// The pair with inbound `spi_in` is now complete (both directions installed).
    ///
    /// If its tunnel has other complete pairs, one set has to go, and both ends must
    /// agree which. A rekey we started retires the pairs we marked as expiring.
    /// Otherwise (simultaneous Quick Modes, or the peer's rekey) only the end with the
    /// higher address decides: it keeps the newest pair and deletes the others with
    /// Delete payloads; the other end follows those Deletes. So the SPIs in use end up
    /// the same on both sides whatever order the exchanges finish in.
    pub(super) fn child_complete(&mut self, spi_in: u32) {
        let Some(new) = self.children.iter().find(|c| c.spi_in == spi_in) else {
            return;
        };
        let (tunnel, local, remote, conn_id) =
            (new.tunnel.clone(), new.local, new.remote, new.conn_id);
        self.log(LogEvent::SaUp {
            tunnel: tunnel.clone(),
            conn_id,
            peer: remote.ip(),
            spi_in,
            spi_out: new.spi_out,
            transform: super::proposal::esp_name(new.transform),
            pfs: new.pfs.map(DhGroup::id),
            udp_encap: new.udp_encap,
        });
        let decider = (local.ip(), local.port()) > (remote.ip(), remote.port());
        let retire: Vec<(u32, bool)> = self
            .children
            .iter()
            .filter(|c| c.tunnel == tunnel && c.spi_in != spi_in && c.outbound)
            .filter(|c| c.rekey_pending || decider)
            .map(|c| (c.spi_in, c.rekey_pending))
            .collect();
        for (old, rekeyed) in retire {
            if !rekeyed {
                self.log(LogEvent::Note {
                    conn_id,
                    peer: remote.ip(),
                    note: Note::QmCollision {
                        kept_spi_in: spi_in,
                        dropped_spi_in: old,
                    },
                });
            }
            let reason = if rekeyed {
                DownReason::Rekeyed
            } else {
                DownReason::Collision
            };
            self.delete_child(old, reason);
        }
    }

    /// Remove a pair: data path deletes, and a Delete so the peer drops its side.
    pub(super) fn delete_child(&mut self, spi_in: u32, reason: DownReason) {
        let Some(i) = self.children.iter().position(|c| c.spi_in == spi_in) else {
            return;
        };
        let c = self.children.remove(i);
        self.remove_child_sas(&c, reason);
        self.outbox.push((
            c.remote.ip(),
            Payload::Delete(DeletePayload {
                doi: DOI_IPSEC,
                protocol: ProtocolId::IPSEC_ESP,
                spi_size: 4,
                spis: vec![c.spi_in.to_be_bytes().to_vec()],
            }),
        ));
    }
}
