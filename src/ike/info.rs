//! Informational exchanges (RFC 2408 4.8, RFC 2409 5.7): notifies and deletes, each
//! with its own message ID and IV, protected by HASH(1) once phase 1 is up; DPD
//! R-U-THERE answered with R-U-THERE-ACK (RFC 3706).

use super::child::{esp_delete, ChildSa};
use super::engine::Received;
use super::error::{AuthFailure, AuthKind, Error};
use super::log::{DownReason, Note};
use super::phase1::{MmState, Phase1, QmState};
use super::protect::{self, Inbound};
use super::{proposal, Action, Endpoints, Engine};
use crate::isakmp::{
    DeletePayload, ExchangeType, Header, NotifyPayload, NotifyType, Payload, ProtocolId, DOI_IPSEC,
    FLAG_ENCRYPTION,
};
use std::collections::HashMap;
use std::time::Instant;

/// Notify types below this are errors (RFC 2408 3.14.1).
const FIRST_STATUS_NOTIFY: u16 = 8192;
/// SPIs in one ESP Delete payload at most (4 bytes each): its Informational stays well
/// inside any path MTU.
const DELETE_SPIS_MAX: usize = 64;

impl Engine {
    /// Send `payload` in a protected Informational exchange over `p1`.
    pub(super) fn send_info(&mut self, p1: &Phase1, payload: Payload) {
        let Some(est) = p1.established() else {
            return;
        };
        let message_id = loop {
            let id = self.rng.next_u32();
            if id != 0 {
                break id;
            }
        };
        let payloads = protect::with_hash(vec![payload], |r| est.hash_1(message_id, r));
        let (data, _) = protect::seal(
            &p1.header(ExchangeType::INFORMATIONAL, message_id),
            &payloads,
            &est.protection(),
            &est.message_iv(message_id),
        );
        self.actions.push_back(Action::Send {
            fvrf: p1.fvrf,
            local: p1.local,
            remote: p1.remote,
            data,
        });
    }

    /// An error notify in the clear, for a negotiation without keys yet.
    pub(super) fn send_plain_notify(&mut self, p1: &Phase1, notify_type: NotifyType) {
        let notify = Payload::Notify(NotifyPayload {
            doi: DOI_IPSEC,
            protocol: ProtocolId::ISAKMP,
            notify_type,
            spi: p1.cookies(),
            data: Vec::new(),
        });
        if p1.established().is_some() {
            return self.send_info(p1, notify);
        }
        let message_id = self.rng.next_u32();
        let data = protect::plain(
            &p1.header(ExchangeType::INFORMATIONAL, message_id),
            &[notify],
        );
        self.actions.push_back(Action::Send {
            fvrf: p1.fvrf,
            local: p1.local,
            remote: p1.remote,
            data,
        });
    }

    /// Send what `outbox` collected over an established SA between its addresses (the
    /// newest). The ESP Deletes for one pair of addresses go in one Delete payload
    /// (RFC 2408 3.15 carries several SPIs of one protocol; IOS, strongSwan and we take
    /// them all): a shutdown or a reload tells a peer of its tunnels' pairs in one
    /// message, not one each.
    pub(super) fn flush_outbox(&mut self) {
        let mut messages: Vec<(Endpoints, Payload)> = Vec::new();
        // Where each pair's ESP Delete still taking SPIs is.
        let mut open: HashMap<Endpoints, usize> = HashMap::new();
        for (ends, payload) in std::mem::take(&mut self.outbox) {
            let Payload::Delete(d) = payload else {
                messages.push((ends, payload));
                continue;
            };
            if d.protocol != ProtocolId::IPSEC_ESP {
                messages.push((ends, Payload::Delete(d)));
                continue;
            }
            let batch = open.get(&ends).and_then(|&i| match &mut messages[i].1 {
                Payload::Delete(batch) if batch.spis.len() + d.spis.len() <= DELETE_SPIS_MAX => {
                    Some(batch)
                }
                _ => None,
            });
            match batch {
                Some(batch) => batch.spis.extend(d.spis),
                None => {
                    open.insert(ends, messages.len());
                    messages.push((ends, Payload::Delete(d)));
                }
            }
        }
        for (ends, payload) in messages {
            // A replaced SA still works, should it be the only one left.
            let p1 = self.isakmp_for(ends).or_else(|| {
                self.phase1
                    .of_pair(ends)
                    .find(|p| p.established().is_some())
                    .map(|p| p.conn_id)
            });
            if let Some(id) = p1 {
                if let Some(p1) = self.phase1.take(id) {
                    self.send_info(&p1, payload);
                    self.put_back(p1);
                }
            }
        }
    }

    pub(super) fn on_informational(&mut self, rx: &Received, p1: &mut Phase1, header: Header) {
        let (now, remote) = (rx.now, rx.remote);
        if header.flags & FLAG_ENCRYPTION == 0 {
            return match Inbound::plain(header, rx.data) {
                // Unauthenticated: only believed while we have nothing better.
                Ok(msg) if p1.established().is_none() => self.plain_notifies(p1, &msg),
                Ok(_) => self.drop_stale(remote),
                Err(e) => self.drop_malformed(remote, e),
            };
        }
        let Some(est) = p1.established() else {
            return self.drop_undecryptable(remote);
        };
        // Its own message ID and IV (RFC 2409 appendix B); HASH(1) = prf(SKEYID_a,
        // M-ID | N/D) (5.7).
        let mid = header.message_id;
        let opened = est.open(header, rx.data, &est.message_iv(mid), |m| {
            est.hash_1(mid, m.after_first())
        });
        let Some((msg, _)) = opened else {
            return self.drop_undecryptable(remote);
        };
        // A copy of a message handled before (anyone who captured it can resend it):
        // news for nobody, and no sign of life (RFC 3706 7).
        if !p1.info_ids.insert(mid) {
            return self.drop_replayed(remote);
        }
        let mut alive = false;
        for p in &msg.payloads {
            match &p.payload {
                Payload::Notify(n)
                    if [NotifyType::R_U_THERE, NotifyType::R_U_THERE_ACK]
                        .contains(&n.notify_type) =>
                {
                    alive |= self.dpd_notify(p1, n);
                }
                Payload::Notify(n) => {
                    alive = true;
                    self.protected_notify(now, p1, n);
                }
                Payload::Delete(d) => {
                    alive = true;
                    self.peer_delete(now, p1, d);
                }
                _ => {}
            }
        }
        // Only the peer's own address shows it is alive (a NAT may move its port).
        if alive && remote.ip() == p1.remote.ip() {
            self.heard_from(now, p1);
        }
    }

    /// Error notifies before phase 1 is up: the peer refused our MM1, or (after MM5)
    /// could not decrypt or verify it, which means the pre-shared keys differ. Nothing
    /// authenticates them, so they stop nothing (anyone who saw our cookies could send
    /// one): the exchange keeps retransmitting and, if it times out, the notify is
    /// reported as the likely cause.
    fn plain_notifies(&mut self, p1: &mut Phase1, msg: &Inbound) {
        for p in &msg.payloads {
            let Payload::Notify(n) = &p.payload else {
                continue;
            };
            self.note(
                p1,
                Note::PeerNotify {
                    notify: n.notify_type,
                },
            );
            if n.notify_type.0 >= FIRST_STATUS_NOTIFY {
                continue;
            }
            let error = match &p1.state {
                MmState::IMm5(_)
                    if [
                        NotifyType::PAYLOAD_MALFORMED,
                        NotifyType::INVALID_HASH_INFORMATION,
                        NotifyType::AUTHENTICATION_FAILED,
                    ]
                    .contains(&n.notify_type) =>
                {
                    Error::AuthFailed(AuthFailure {
                        kind: AuthKind::PeerNotify(n.notify_type),
                        peer: p1.remote.ip(),
                        key: p1.key_source.clone(),
                    })
                }
                MmState::IMm1(_) => Error::PeerRejected {
                    notify: n.notify_type,
                    what: "MM1".into(),
                    config: format!(
                        "we offered {}",
                        proposal::policies_desc(&self.settings.policies)
                    ),
                },
                MmState::Failed | MmState::Established(_) => continue,
                state => Error::PeerRejected {
                    notify: n.notify_type,
                    what: format!("Main Mode in {}", state.ios_name()),
                    config: p1.key_source.to_string(),
                },
            };
            // No notify back: that would only start a ping-pong of errors.
            p1.rejected.get_or_insert(error);
            return;
        }
    }

    fn protected_notify(&mut self, now: Instant, p1: &mut Phase1, n: &NotifyPayload) {
        match n.notify_type {
            t if t.0 < FIRST_STATUS_NOTIFY => {
                self.note(p1, Note::PeerNotify { notify: t });
                self.quick_mode_rejected(now, p1, n);
            }
            t => self.note(p1, Note::PeerNotify { notify: t }),
        }
    }

    /// The peer refused a Quick Mode of ours: the one whose SPI the notify names, else
    /// the one waiting for QM2.
    fn quick_mode_rejected(&mut self, _now: Instant, p1: &mut Phase1, n: &NotifyPayload) {
        let named = <[u8; 4]>::try_from(n.spi.as_slice())
            .ok()
            .map(u32::from_be_bytes);
        let waiting: Vec<u32> = p1
            .quick
            .values()
            .filter(|q| matches!(&q.state, QmState::IQm1(_)))
            .filter(|q| named.is_none() || q.spi_in() == named)
            .map(|q| q.message_id)
            .collect();
        let Some(id) = waiting.first().copied() else {
            return;
        };
        let Some(qm) = p1.quick.remove(&id) else {
            return;
        };
        let config = match self.tunnel(&qm.tunnel) {
            Some(t) if n.notify_type == NotifyType::INVALID_ID_INFORMATION => {
                format!("proxy identities of interface {} ({})", t.name, t.origin)
            }
            Some(t) => {
                let sets: Vec<String> = t
                    .transform_sets
                    .iter()
                    .map(|s| format!("transform set {} ({})", s.name, s.origin))
                    .collect();
                format!(
                    "check {} and set pfs of the profile ({})",
                    sets.join(", "),
                    t.profile_origin
                )
            }
            None => "tunnel removed".into(),
        };
        self.fail(
            Some(p1.conn_id),
            p1.remote.ip(),
            Error::PeerRejected {
                notify: n.notify_type,
                what: format!("QM1 for {}", qm.tunnel),
                config,
            },
        );
    }

    /// Why the peer deleted pair `c`: a pair the traffic had left already goes for the
    /// reason it was left (`replaced`). Our newest pair, deleted while an older one of
    /// the tunnel still stands, is the loser of a collision we took for the peer's
    /// replacement (its Quick Mode reached us after ours completed): the peer kept the
    /// older pair, which carries the traffic again.
    fn peer_deleted_reason(&self, c: &ChildSa) -> DownReason {
        if let Some(reason) = self.replaced(c) {
            return reason;
        }
        let older_stands = self
            .children
            .of_tunnel(&c.tunnel)
            .any(|o| o.spi_in != c.spi_in && o.outbound && !o.superseded);
        if older_stands {
            DownReason::Collision
        } else {
            DownReason::PeerDelete
        }
    }

    fn peer_delete(&mut self, now: Instant, p1: &mut Phase1, d: &DeletePayload) {
        match d.protocol {
            ProtocolId::ISAKMP => {
                for spi in &d.spis {
                    self.note(
                        p1,
                        Note::PeerDelete {
                            what: "the ISAKMP SA".into(),
                        },
                    );
                    if *spi == p1.cookies() {
                        // IOS keeps the IPsec SAs of a deleted ISAKMP SA (they move to
                        // another one, see `put_back`); Quick Modes under way start over.
                        self.phase1_down(p1, DownReason::PeerDelete);
                        let interrupted: Vec<String> = std::mem::take(&mut p1.quick)
                            .into_values()
                            .filter(|q| q.state.in_progress())
                            .map(|q| q.tunnel)
                            .collect();
                        for tunnel in interrupted {
                            self.initiate(now, &tunnel);
                        }
                        continue;
                    }
                    let other = self
                        .phase1
                        .of_pair(p1.endpoints())
                        .find(|o| o.cookies() == *spi)
                        .map(|o| o.conn_id);
                    if let Some(id) = other {
                        self.remove_phase1(id);
                        self.log_phase1_down(id, p1.remote.ip(), DownReason::PeerDelete);
                        if p1.retiring.is_none() {
                            let heir = p1.conn_id;
                            self.children.update_pair(p1.endpoints(), |c| {
                                if c.conn_id == id {
                                    c.conn_id = heir;
                                }
                            });
                        } else {
                            self.adopt_children(id, p1.endpoints());
                        }
                    }
                }
            }
            ProtocolId::IPSEC_ESP => {
                for spi in &d.spis {
                    let Ok(spi) = <[u8; 4]>::try_from(spi.as_slice()).map(u32::from_be_bytes)
                    else {
                        continue;
                    };
                    self.note(
                        p1,
                        Note::PeerDelete {
                            what: format!("ESP SA {spi:#010X}"),
                        },
                    );
                    // Their inbound is our outbound; a pair still in Quick Mode goes too.
                    // The peer's SPIs are unique per its own address only: a peer with
                    // several addresses may use one SPI on several of its tunnels.
                    p1.quick.retain(|_, q| q.peer_spi() != Some(spi));
                    let Some((spi_in, reason)) = self
                        .children
                        .of_pair(p1.endpoints())
                        .find(|c| c.spi_out == spi)
                        .map(|c| (c.spi_in, self.peer_deleted_reason(c)))
                    else {
                        continue;
                    };
                    let Some(c) = self.take_child(spi_in) else {
                        continue;
                    };
                    self.remove_child_sas(&c, reason);
                    if !c.delete_sent {
                        // Our inbound half is gone too: say so, as IOS does.
                        self.outbox.push((c.endpoints(), esp_delete(c.spi_in)));
                    }
                    self.reinitiate_if_down(now, p1, &c.tunnel);
                }
            }
            _ => {}
        }
    }
}
