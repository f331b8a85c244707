//! Phase 2, Quick Mode (RFC 2409 5.5), as IOS runs it on a VTI:
//!
//! ```text
//! QM1 I->R  *HASH(1), SA, Ni [, KE] , IDci, IDcr
//! QM2 R->I  *HASH(2), SA, Nr [, KE] , IDci, IDcr [, N(RESPONDER-LIFETIME)]
//! QM3 I->R  *HASH(3)
//! ```
//! Inbound SPIs come from the data path (`Action::AllocSpi`): both sides wait for one
//! in IKE_QM_SPI_STARVE. The responder installs its inbound SA when sending QM2 and the
//! outbound one on QM3 (IOS "QM done (await)"); the initiator installs both with QM3.

use super::child::Agreed;
use super::engine::Received;
use super::error::{Error, InvalidId, Misbehaviour};
use super::exchange::{Exchange, Msg, Retransmission};
use super::log::{DownReason, Note, Shortened, Warning};
use super::main_mode::nonce_of;
use super::phase1::{Established, IQm1, Phase1, QmState, QuickMode, RQm1, RQm2};
use super::proposal::{self, Lifetime};
use super::protect::{self, Inbound};
use super::settings::TunnelSettings;
use super::state::{IkeState, Role};
use super::timer::Timer;
use super::{identity, Action, Endpoints, Engine};
use crate::crypto::DhPrivate;
use crate::ipsec::Direction;
use crate::isakmp::{
    ExchangeType, Header, IdPayload, NotifyPayload, NotifyType, Payload, PayloadType, ProtocolId,
    SaPayload, DOI_IPSEC, SIT_IDENTITY_ONLY,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a Quick Mode may wait for the data path's SPI.
const SPI_WAIT: Duration = Duration::from_secs(30);
/// How long a finished exchange is kept to answer retransmissions of its last message
/// (longer than the peer's whole retransmission schedule).
const LINGER: Duration = Duration::from_secs(90);

fn ids_of(msg: &Inbound) -> Result<Option<(IdPayload, IdPayload)>, Error> {
    let ids: Vec<&IdPayload> = msg
        .payloads
        .iter()
        .filter_map(|p| match &p.payload {
            Payload::Id(id) => Some(id),
            _ => None,
        })
        .collect();
    match ids.as_slice() {
        [] => Ok(None),
        [ci, cr] => Ok(Some(((*ci).clone(), (*cr).clone()))),
        _ => {
            Err(Misbehaviour::BadProposalSyntax("Quick Mode needs zero or two ID payloads").into())
        }
    }
}

fn ke_of(msg: &Inbound) -> Option<Vec<u8>> {
    match msg.find(PayloadType::KE).map(|p| &p.payload) {
        Some(Payload::KeyExchange(k)) => Some(k.clone()),
        _ => None,
    }
}

fn sa_of<'a>(msg: &'a Inbound, what: &'static str) -> Result<&'a SaPayload, Error> {
    match msg.find(PayloadType::SA).map(|p| &p.payload) {
        Some(Payload::Sa(sa)) => Ok(sa),
        _ => Err(Misbehaviour::MissingPayload {
            what,
            payload: "SA",
        }
        .into()),
    }
}

/// An SPI the data path reserves (or reserved) for Quick Mode `message_id` of ISAKMP SA
/// `conn_id`, to delete from `dst` (in `tunnel`) should the exchange go without an SA
/// holding it.
pub(super) struct Reservation {
    pub tunnel: String,
    pub dst: IpAddr,
    pub conn_id: u32,
    pub message_id: u32,
}

impl Engine {
    pub(super) fn tunnel(&self, name: &str) -> Option<TunnelSettings> {
        self.tunnel_ref(name).cloned()
    }

    /// The configured tunnels between these two addresses, in configuration order.
    pub(super) fn tunnels_between(
        &self,
        ends: Endpoints,
    ) -> impl Iterator<Item = &TunnelSettings> + Clone {
        let found = self
            .tunnel_index
            .by_ends
            .get(&ends)
            .map_or(&[][..], Vec::as_slice);
        found.iter().filter_map(|&i| self.settings.tunnels.get(i))
    }

    /// A configured tunnel or a Virtual-Access, by interface name.
    pub(super) fn tunnel_ref(&self, name: &str) -> Option<&TunnelSettings> {
        match self.tunnel_index.by_name.get(name) {
            Some(&i) => self.settings.tunnels.get(i),
            None => self.clone_tunnel(name),
        }
    }

    fn new_message_id(&mut self, p1: &Phase1) -> u32 {
        loop {
            let id = self.rng.next_u32();
            if id != 0 && !p1.message_ids.contains(&id) {
                return id;
            }
        }
    }

    fn request_spi(&mut self, p1: &Phase1, message_id: u32, tunnel: &str) {
        let request = self.next_request;
        self.next_request += 1;
        self.spi_requests.insert(
            request,
            Reservation {
                tunnel: tunnel.to_string(),
                dst: p1.local.ip(),
                conn_id: p1.conn_id,
                message_id,
            },
        );
        *self
            .spi_requests_by_tunnel
            .entry(tunnel.to_string())
            .or_default() += 1;
        self.actions.push_back(Action::AllocSpi {
            request,
            tunnel: tunnel.to_string(),
            src: p1.remote.ip(),
            dst: p1.local.ip(),
        });
    }

    /// The data path answered request `request` (if it is outstanding).
    fn take_spi_request(&mut self, request: u64) -> Option<Reservation> {
        let r = self.spi_requests.remove(&request)?;
        if let Some(n) = self.spi_requests_by_tunnel.get_mut(&r.tunnel) {
            *n -= 1;
            if *n == 0 {
                self.spi_requests_by_tunnel.remove(&r.tunnel);
            }
        }
        self.maybe_idle(&r.tunnel);
        Some(r)
    }

    /// Is an `AllocSpi` for `tunnel` outstanding?
    pub(super) fn spi_requested(&self, tunnel: &str) -> bool {
        self.spi_requests_by_tunnel.contains_key(tunnel)
    }

    /// Is `spi` the inbound SPI of a pair, reserved, or offered in a Quick Mode (which
    /// holds its reservation while it does: `release_orphan_spis`)? Two lookups, not a
    /// pass over every Quick Mode under way: a hub bringing up thousands of tunnels
    /// asks once per Quick Mode.
    fn spi_in_use(&self, spi: u32) -> bool {
        self.reserved_spis.contains_key(&spi) || self.children.contains(spi)
    }

    /// Begin Quick Mode for `tunnel` over an established `p1`.
    pub(super) fn start_quick_mode(&mut self, now: Instant, p1: &mut Phase1, tunnel: &str) {
        let Some(est) = p1.established() else {
            return;
        };
        let message_id = self.new_message_id(p1);
        let mut qm = QuickMode {
            message_id,
            tunnel: tunnel.to_string(),
            role: Role::Initiator,
            state: QmState::ISpiStarve,
            iv: est.message_iv(message_id),
            ex: Exchange::default(),
            started: self.event(),
        };
        p1.message_ids.insert(message_id);
        qm.ex.timers.set(Timer::Lifetime, now + SPI_WAIT);
        self.note(p1, Note::BeginQuickMode { message_id });
        self.state_change(p1, Some(message_id), IkeState::QmReady, qm.state.ios_name());
        self.request_spi(p1, message_id, tunnel);
        p1.quick.insert(message_id, qm);
    }

    /// The data path answered `AllocSpi`.
    pub(super) fn on_spi_allocated(
        &mut self,
        now: Instant,
        request: u64,
        spi: Result<u32, String>,
    ) {
        let Some(reservation) = self.take_spi_request(request) else {
            return;
        };
        let (conn_id, message_id) = (reservation.conn_id, reservation.message_id);
        if let Ok(spi) = spi {
            if self.spi_in_use(spi) {
                // The kernel's SPIs are unique per destination address only, and the
                // engine tells its pairs apart by inbound SPI: one we hold already, on
                // another of our addresses, goes back, and we ask for another.
                self.actions.push_back(Action::DeleteSa {
                    tunnel: reservation.tunnel.clone(),
                    direction: Direction::In,
                    spi,
                    dst: reservation.dst,
                });
                if let Some(p1) = self.phase1.take(conn_id) {
                    self.request_spi(&p1, message_id, &reservation.tunnel);
                    self.phase1.put_back(p1);
                }
                return;
            }
            self.reserved_spis.insert(spi, reservation);
        }
        self.with_phase1(conn_id, |e, p1| {
            let Some(est) = p1.established().cloned() else {
                return;
            };
            let Some(mut qm) = p1.quick.remove(&message_id) else {
                return;
            };
            let state = std::mem::replace(&mut qm.state, QmState::Failed);
            let old = state.ios_name();
            let result = match (spi, state) {
                (Err(reason), _) => Err(Error::Dataplane {
                    tunnel: qm.tunnel.clone(),
                    reason,
                }),
                (Ok(spi), QmState::ISpiStarve) => e.send_qm1(now, p1, &est, &mut qm, spi),
                (Ok(spi), QmState::RSpiStarve(s)) => e.send_qm2(now, p1, &est, &mut qm, *s, spi),
                (Ok(_), other) => Ok(other),
            };
            e.settle_quick_mode(p1, qm, old, result);
        });
    }

    /// Keep the exchange in its next state, or log its failure and drop it.
    fn settle_quick_mode(
        &mut self,
        p1: &mut Phase1,
        mut qm: QuickMode,
        old: IkeState,
        result: Result<QmState, Error>,
    ) {
        match result {
            Ok(QmState::Failed) => {}
            Ok(state) => {
                if state.ios_name() != old {
                    self.state_change(p1, Some(qm.message_id), old, state.ios_name());
                }
                qm.state = state;
                p1.quick.insert(qm.message_id, qm);
            }
            Err(error) => {
                if let Some(notify) = error.notify() {
                    self.send_info(
                        p1,
                        Payload::Notify(NotifyPayload {
                            doi: DOI_IPSEC,
                            protocol: ProtocolId::IPSEC_ESP,
                            notify_type: notify,
                            spi: Vec::new(),
                            data: Vec::new(),
                        }),
                    );
                }
                self.fail(Some(p1.conn_id), p1.remote.ip(), error);
            }
        }
    }

    /// Seal a Quick Mode message of `qm` (advancing its IV chain) and send it.
    fn send_qm(
        &mut self,
        now: Instant,
        p1: &Phase1,
        est: &Established,
        qm: &mut QuickMode,
        (msg, payloads): (Msg, Vec<Payload>),
    ) {
        let (data, iv) = protect::seal(
            &p1.header(ExchangeType::QUICK_MODE, qm.message_id),
            &payloads,
            &est.protection(),
            &qm.iv,
        );
        qm.iv = iv;
        qm.ex.timers.stop(Timer::Lifetime);
        self.transmit(now, p1.conn_id, &mut qm.ex, p1.sent(msg, data));
    }

    fn send_qm1(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        est: &Established,
        qm: &mut QuickMode,
        spi: u32,
    ) -> Result<QmState, Error> {
        let Some(tunnel) = self.tunnel(&qm.tunnel) else {
            return Ok(QmState::Failed);
        };
        let ni = self.nonce();
        let dh = tunnel
            .pfs
            .map(|g| DhPrivate::generate(g, self.rng.as_mut()));
        let ids = identity::proxies(&tunnel);
        let mut rest = vec![
            Payload::Sa(proposal::p2_offer(
                &tunnel,
                spi,
                p1.nat.detected(),
                tunnel.pfs,
            )),
            Payload::Nonce(ni.clone()),
        ];
        if let Some(dh) = &dh {
            rest.push(Payload::KeyExchange(dh.public_value()));
        }
        rest.push(Payload::Id(ids.0.clone()));
        rest.push(Payload::Id(ids.1.clone()));
        let mid = qm.message_id;
        let payloads = protect::with_hash(rest, |r| est.hash_1(mid, r));
        self.send_qm(now, p1, est, qm, (Msg::Qm1, payloads));
        Ok(QmState::IQm1(Box::new(IQm1 {
            spi_in: spi,
            ni,
            dh,
            ids,
        })))
    }

    /// A Quick Mode message (any of QM1..QM3) over `p1`.
    pub(super) fn on_quick_mode(&mut self, rx: &Received, p1: &mut Phase1, header: Header) {
        let message_id = header.message_id;
        // Shared, not borrowed: `p1` changes while the message is handled.
        let Some(est) = p1.established().map(Arc::clone) else {
            return self.drop_stale(rx.remote);
        };
        let Some(mut qm) = p1.quick.remove(&message_id) else {
            if message_id == 0 || p1.message_ids.contains(&message_id) {
                // An exchange we finished and forgot, or no exchange at all.
                return self.drop_stale(rx.remote);
            }
            // QM1: HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] [| IDci | IDcr]).
            let iv = est.message_iv(message_id);
            let opened = est.open(header, rx.data, &iv, |m| {
                est.hash_1(message_id, m.after_first())
            });
            let Some((msg, next_iv)) = opened else {
                return self.drop_undecryptable(rx.remote);
            };
            p1.message_ids.insert(message_id);
            self.heard_from(rx.now, p1);
            self.packet_in(p1, rx, Some(Role::Responder), p1.state.show());
            let mut qm = QuickMode {
                message_id,
                tunnel: String::new(),
                role: Role::Responder,
                state: QmState::Failed,
                iv: next_iv,
                ex: Exchange::default(),
                started: self.event(),
            };
            qm.ex.received(rx.data);
            let result = self.on_qm1(rx.now, p1, &mut qm, &msg);
            return self.settle_quick_mode(p1, qm, IkeState::QmReady, result);
        };
        if let Some(dup) = qm.ex.duplicate(rx.data) {
            self.answer_duplicate(dup);
            p1.quick.insert(message_id, qm);
            return;
        }
        // HASH(2) covers Ni_b and the rest of QM2; HASH(3) the nonces alone.
        let opened = match &qm.state {
            QmState::IQm1(s) => est.open(header, rx.data, &qm.iv, |m| {
                est.hash_2(message_id, &s.ni, m.after_first())
            }),
            QmState::RQm2(s) => est.open(header, rx.data, &qm.iv, |_| {
                est.hash_3(message_id, &s.ni, &s.nr)
            }),
            _ => {
                p1.quick.insert(message_id, qm);
                return self.drop_stale(rx.remote);
            }
        };
        let Some((msg, next_iv)) = opened else {
            p1.quick.insert(message_id, qm);
            return self.drop_undecryptable(rx.remote);
        };
        self.heard_from(rx.now, p1);
        self.packet_in(p1, rx, Some(qm.role), p1.state.show());
        qm.iv = next_iv;
        qm.ex.received(rx.data);
        let state = std::mem::replace(&mut qm.state, QmState::Failed);
        let old = state.ios_name();
        let result = match state {
            QmState::IQm1(s) => self.on_qm2(rx.now, p1, &est, &mut qm, *s, &msg),
            QmState::RQm2(s) => Ok(self.on_qm3(rx.now, p1, &mut qm, *s)),
            _ => unreachable!("only IQm1 and RQm2 open a message"),
        };
        self.settle_quick_mode(p1, qm, old, result);
    }

    /// Responder: QM1 chooses a tunnel by the proxy identities, then a transform set.
    fn on_qm1(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        qm: &mut QuickMode,
        msg: &Inbound,
    ) -> Result<QmState, Error> {
        let sa = sa_of(msg, "QM1")?;
        let ni = nonce_of(msg, "QM1")?;
        let ids = ids_of(msg)?;
        let tunnel = match self.tunnel_for_proxies(p1, ids.as_ref()) {
            Ok(t) => t,
            Err(e) => self.virtual_access(p1, ids.as_ref())?.ok_or(e)?,
        };
        qm.tunnel = tunnel.name.clone();
        let (choice, reply, send_lifetime) = proposal::p2_select(&tunnel, sa)?;
        let g_xi = ke_of(msg);
        if choice.pfs.is_some() && g_xi.is_none() {
            return Err(Misbehaviour::MissingPayload {
                what: "QM1 with PFS",
                payload: "KE",
            }
            .into());
        }
        qm.ex.timers.set(Timer::Lifetime, now + SPI_WAIT);
        self.request_spi(p1, qm.message_id, &tunnel.name);
        Ok(QmState::RSpiStarve(Box::new(RQm1 {
            choice,
            reply,
            send_lifetime,
            ni,
            g_xi,
            ids,
        })))
    }

    /// The tunnel between the ISAKMP SA's two addresses the proxy identities name: a
    /// VTI by their inner family, a GRE tunnel by its endpoints with protocol 47. A VTI
    /// protects everything, so QM1 must carry identities (RFC 2409 5.5 makes them
    /// optional only when they are the peers' own addresses, which is what GRE's are).
    fn tunnel_for_proxies(
        &self,
        p1: &Phase1,
        ids: Option<&(IdPayload, IdPayload)>,
    ) -> Result<TunnelSettings, Error> {
        let ends = p1.endpoints();
        let peer = ends.peer;
        let mut ours = self.tunnels_between(ends).filter(|t| !t.shutdown);
        let invalid = |detail: String, config: String| {
            Error::InvalidId(InvalidId {
                peer,
                detail,
                config,
            })
        };
        let Some((ci, cr)) = ids else {
            // Without identities the proxies are the peers' addresses: GRE's, any protocol.
            if let Some(t) = ours.clone().find(|t| t.options.gre) {
                return Ok(t.clone());
            }
            let config = ours
                .next()
                .map(|t| format!("interface {}, {}", t.name, t.origin))
                .unwrap_or_else(|| format!("no tunnel between {ends}"));
            return Err(invalid(
                "Quick Mode without proxy identities, a tunnel interface needs any/any".into(),
                config,
            ));
        };
        let family = identity::proxy_family(ci).filter(|f| identity::proxy_family(cr) == Some(*f));
        // The initiator's identity is the peer's address, unless a NAT changed it.
        let gre_hosts = match (identity::proxy_host_of(ci), identity::proxy_host_of(cr)) {
            (Some((i, identity::PROTO_GRE)), Some((r, identity::PROTO_GRE)))
                if i == peer || p1.nat.detected() =>
            {
                Some(r)
            }
            _ => None,
        };
        let found = ours.clone().find(|t| {
            if t.options.gre {
                gre_hosts == Some(t.local)
            } else {
                Some(t.inner) == family
            }
        });
        if let Some(t) = found {
            // IOS: a tunnel whose ipsec profile names an ISAKMP profile takes Quick
            // Modes over ISAKMP SAs of that profile only.
            if let Some(want) = t.options.isakmp_profile.as_deref() {
                if p1.profile.as_deref() != Some(want) {
                    let have = p1.profile.as_ref().map_or("no ISAKMP profile".into(), |p| {
                        format!("crypto isakmp profile {p}")
                    });
                    return Err(invalid(
                        format!(
                            "Quick Mode for {} over an ISAKMP SA of {have}, but the tunnel's crypto ipsec profile says set isakmp-profile {want}",
                            t.name
                        ),
                        format!("crypto ipsec profile of {}, {}", t.name, t.profile_origin),
                    ));
                }
            }
        }
        found.cloned().ok_or_else(|| {
            let config = ours
                .next()
                .map(|t| {
                    let (local, remote) = identity::proxies(t);
                    let protects = if t.options.gre {
                        format!(
                            "{} <-> {}",
                            identity::describe(&remote),
                            identity::describe(&local)
                        )
                    } else {
                        identity::describe(&local)
                    };
                    format!("interface {} ({}) protects {protects}", t.name, t.origin)
                })
                .unwrap_or_else(|| {
                    format!(
                        "no tunnel configured with source {} and destination {peer}",
                        ends.local
                    )
                });
            invalid(
                format!(
                    "proxy identities {} <-> {} not acceptable",
                    identity::describe(ci),
                    identity::describe(cr)
                ),
                config,
            )
        })
    }

    /// Responder with its SPI: QM2, and the inbound SA goes in.
    fn send_qm2(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        est: &Established,
        qm: &mut QuickMode,
        s: RQm1,
        spi: u32,
    ) -> Result<QmState, Error> {
        let Some(tunnel) = self.tunnel(&qm.tunnel) else {
            return Ok(QmState::Failed);
        };
        let nr = self.nonce();
        let (ke, g_qm) = match (s.choice.pfs, &s.g_xi) {
            (Some(group), Some(g_xi)) => {
                let dh = DhPrivate::generate(group, self.rng.as_mut());
                let public = dh.public_value();
                let shared = dh
                    .complete(g_xi)
                    .map_err(|_| Misbehaviour::InvalidKeyExchange)?;
                (Some(public), Some(shared))
            }
            _ => (None, None),
        };
        let mut reply = s.reply;
        reply.spi = spi.to_be_bytes().to_vec();
        let mut rest = vec![
            Payload::Sa(SaPayload {
                doi: DOI_IPSEC,
                situation: SIT_IDENTITY_ONLY,
                proposals: vec![reply],
            }),
            Payload::Nonce(nr.clone()),
        ];
        if let Some(ke) = ke {
            rest.push(Payload::KeyExchange(ke));
        }
        if let Some((ci, cr)) = &s.ids {
            rest.push(Payload::Id(ci.clone()));
            rest.push(Payload::Id(cr.clone()));
        }
        if s.send_lifetime {
            // RFC 2407 4.6.3.1: our lifetime is shorter than the offer.
            rest.push(Payload::Notify(NotifyPayload {
                doi: DOI_IPSEC,
                protocol: ProtocolId::IPSEC_ESP,
                notify_type: NotifyType::RESPONDER_LIFETIME,
                spi: spi.to_be_bytes().to_vec(),
                data: proposal::responder_lifetime_data(s.choice.life),
            }));
        }
        let mid = qm.message_id;
        let payloads = protect::with_hash(rest, |r| est.hash_2(mid, &s.ni, r));
        self.send_qm(now, p1, est, qm, (Msg::Qm2, payloads));
        self.check_p2_lifetime(p1, &tunnel, s.choice.life);
        let agreed = Agreed {
            tunnel: &tunnel,
            choice: &s.choice,
            spi_in: spi,
            ni: &s.ni,
            nr: &nr,
            g_qm: g_qm.as_ref(),
            ids: s.ids.as_ref(),
        };
        let (inbound, outbound) = self.new_pair(now, p1, est, qm, agreed);
        self.actions.push_back(Action::InstallSa(inbound));
        Ok(QmState::RQm2(Box::new(RQm2 {
            ni: s.ni,
            nr,
            spi_in: spi,
            outbound,
        })))
    }

    /// Initiator: QM2 answers our offer; QM3 confirms and both SAs go in.
    fn on_qm2(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        est: &Established,
        qm: &mut QuickMode,
        s: IQm1,
        msg: &Inbound,
    ) -> Result<QmState, Error> {
        let Some(tunnel) = self.tunnel(&qm.tunnel) else {
            return Ok(QmState::Failed);
        };
        let sa = sa_of(msg, "QM2")?;
        let mut choice = proposal::p2_accept(&tunnel, tunnel.pfs, sa)
            .ok_or(Misbehaviour::UnofferedChoice("an ESP transform"))?;
        let nr = nonce_of(msg, "QM2")?;
        if let Some(ids) = ids_of(msg)? {
            if ids != s.ids {
                return Err(Error::InvalidId(InvalidId {
                    peer: p1.remote.ip(),
                    detail: format!(
                        "QM2 changed the proxy identities to {} <-> {}",
                        identity::describe(&ids.0),
                        identity::describe(&ids.1)
                    ),
                    config: format!("interface {}, {}", tunnel.name, tunnel.origin),
                }));
            }
        }
        for p in &msg.payloads {
            if let Payload::Notify(n) = &p.payload {
                if n.notify_type == NotifyType::RESPONDER_LIFETIME {
                    if let Some(life) = proposal::parse_responder_lifetime(&n.data) {
                        choice.life = choice.life.min(life);
                    }
                }
            }
        }
        self.check_p2_lifetime(p1, &tunnel, choice.life);
        let g_qm = match (s.dh, ke_of(msg)) {
            (Some(dh), Some(g_xr)) => Some(
                dh.complete(&g_xr)
                    .map_err(|_| Misbehaviour::InvalidKeyExchange)?,
            ),
            (Some(_), None) => {
                return Err(Misbehaviour::MissingPayload {
                    what: "QM2 with PFS",
                    payload: "KE",
                }
                .into())
            }
            (None, _) => None,
        };
        let hash_3 = est.hash_3(qm.message_id, &s.ni, &nr);
        self.send_qm(now, p1, est, qm, (Msg::Qm3, vec![Payload::Hash(hash_3)]));
        let agreed = Agreed {
            tunnel: &tunnel,
            choice: &choice,
            spi_in: s.spi_in,
            ni: &s.ni,
            nr: &nr,
            g_qm: g_qm.as_ref(),
            ids: Some(&s.ids),
        };
        let (inbound, outbound) = self.new_pair(now, p1, est, qm, agreed);
        self.actions.push_back(Action::InstallSa(inbound));
        self.actions.push_back(Action::InstallSa(outbound));
        let done = self.qm_done(now, p1, qm);
        self.child_complete(now, s.spi_in);
        Ok(done)
    }

    /// Responder: QM3 proves the initiator has the keys; enable the outbound SA.
    fn on_qm3(&mut self, now: Instant, p1: &mut Phase1, qm: &mut QuickMode, s: RQm2) -> QmState {
        let done = self.qm_done(now, p1, qm);
        // Gone if deleted meanwhile (e.g. the peer resolved a collision against it).
        if let Some(child) = self.children.get_mut(s.spi_in) {
            child.outbound = true;
            self.actions.push_back(Action::InstallSa(s.outbound));
            self.child_complete(now, s.spi_in);
        }
        done
    }

    /// The exchange is over: it lingers to answer retransmissions of its last message.
    fn qm_done(&mut self, now: Instant, p1: &Phase1, qm: &mut QuickMode) -> QmState {
        self.note(
            p1,
            Note::QmDone {
                message_id: qm.message_id,
                await_outbound: qm.role == Role::Responder,
            },
        );
        qm.ex.timers.set(Timer::Reap, now + LINGER);
        QmState::Done
    }

    /// The peer's shorter offer or RESPONDER-LIFETIME means more rekeys than the
    /// profile asks for: say so, naming the profile.
    fn check_p2_lifetime(&mut self, p1: &Phase1, tunnel: &TunnelSettings, life: Lifetime) {
        let ours = Lifetime::of(tunnel);
        if life.seconds >= ours.seconds && life.kilobytes >= ours.kilobytes {
            return;
        }
        let describe = |l: Lifetime| format!("{} s / {} KB", l.seconds, l.kilobytes);
        let warning = Warning::LifetimeShortened {
            what: Shortened::IpsecSas {
                tunnel: tunnel.name.clone(),
            },
            ours: describe(ours),
            negotiated: describe(life),
            config: format!(
                "set security-association lifetime of the crypto ipsec profile, {}",
                tunnel.profile_origin
            ),
        };
        self.warn(p1.conn_id, p1.remote.ip(), warning);
    }

    /// Timers of one Quick Mode; `false` when it is finished with.
    pub(super) fn quick_mode_timers(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        qm: &mut QuickMode,
    ) -> bool {
        for timer in qm.ex.timers.expired(now) {
            match timer {
                Timer::Retransmit => match qm.ex.retransmit(now, &mut self.actions) {
                    Retransmission::Resent(msg, attempt) => self.retransmitted(p1, msg, attempt),
                    Retransmission::GaveUp(msg, transmissions) => {
                        // QM1 unanswered while the peer has another ISAKMP SA with us:
                        // it dropped this one; try again over that one.
                        if matches!(qm.state, QmState::IQm1(_)) && self.drop_if_stale(p1) {
                            self.initiate(now, &qm.tunnel);
                            return false;
                        }
                        self.fail(
                            Some(p1.conn_id),
                            p1.remote.ip(),
                            Error::Unreachable {
                                what: msg.name(),
                                peer: p1.remote.ip(),
                                transmissions,
                                hint: format!("Quick Mode for {}", qm.tunnel),
                            },
                        );
                        if let QmState::RQm2(s) = &qm.state {
                            // Our inbound SA is in; tell the peer it will not be used.
                            self.delete_child(s.spi_in, DownReason::NegotiationFailed);
                        }
                        return false;
                    }
                    Retransmission::Nothing => {}
                },
                Timer::Lifetime => {
                    self.fail(
                        Some(p1.conn_id),
                        p1.remote.ip(),
                        Error::Dataplane {
                            tunnel: qm.tunnel.clone(),
                            reason: "no SPI in time".into(),
                        },
                    );
                    return false;
                }
                Timer::Reap => return false,
                // Not used by Quick Mode exchanges.
                Timer::Rekey | Timer::Dpd | Timer::Keepalive | Timer::Retire => {}
            }
        }
        true
    }
}
