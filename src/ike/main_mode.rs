//! Phase 1, Main Mode with pre-shared keys (RFC 2409 5, 5.4), as IOS runs it:
//!
//! ```text
//! MM1 I->R  SA, VID*            MM2 R->I  SA, VID*
//! MM3 I->R  KE, Ni, NAT-D*      MM4 R->I  KE, Nr, NAT-D*
//! MM5 I->R  *ID, HASH_I [, N(INITIAL-CONTACT)]
//! MM6 R->I  *ID, HASH_R
//! ```
//! Each state (`phase1::MmState`) holds what is known so far; handling a message
//! consumes it and returns the next one. The Diffie-Hellman exponentiations after MM2,
//! MM3 and MM4 run in the daemon (`dh.rs`): the exchange waits in IKE_I_MM2,
//! IKE_R_MM3 or IKE_I_MM4 for them.
//!
//! Nothing unauthenticated ends a negotiation: an MM2..MM4 that does not fit, or an
//! MM5/MM6 that does not decrypt, is dropped and remembered as the likely cause, and
//! the exchange keeps waiting (and resending) for the real one; if none comes, the
//! timeout reports what was remembered. An on-path spoofer cannot cut a handshake
//! short that way, nor make us take its cookie for the responder's.

use super::dh::DhDone;
use super::engine::Received;
use super::error::{AuthFailure, AuthKind, Error, InvalidId, Misbehaviour};
use super::exchange::Msg;
use super::log::DropReason;
use super::log::{DownReason, LogEvent, Note, Shortened, VendorKind, Warning};
use super::nat::{self, NAT_T_PORT};
use super::phase1::{Established, IMm1, IMm3, IMm4, Keyed, MmState, Phase1, RMm2, RMm3};
use super::proposal::{self, Suite};
use super::protect::{self, Inbound, Protection};
use super::settings::{KeySource, Lookup, PeerIdentity, Settings};
use super::state::{IkeState, Role, ShowState};
use super::timer::Timer;
use super::{identity, vendor, Endpoints, Engine, Fvrf};
use crate::crypto::{ct_eq, kdf, DhPrivate, Phase1Keys, Secret};
use crate::isakmp::{
    encode_payloads, ExchangeType, Header, IdPayload, NotifyPayload, NotifyType, Payload,
    PayloadType, ProtocolId, RawPayload, SaPayload, DOI_IPSEC, FLAG_ENCRYPTION,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A payload's body (without the generic header), as we encode it.
pub(super) fn payload_body(p: &Payload) -> Vec<u8> {
    let mut out = Vec::new();
    encode_payloads(std::slice::from_ref(p), &mut out);
    out.split_off(4.min(out.len()))
}

fn require<'a>(
    msg: &'a Inbound,
    t: PayloadType,
    what: &'static str,
    payload: &'static str,
) -> Result<&'a RawPayload, Error> {
    msg.find(t)
        .ok_or(Error::PeerMisbehaved(Misbehaviour::MissingPayload {
            what,
            payload,
        }))
}

fn bytes_of(
    msg: &Inbound,
    t: PayloadType,
    what: &'static str,
    payload: &'static str,
) -> Result<Vec<u8>, Error> {
    match &require(msg, t, what, payload)?.payload {
        Payload::KeyExchange(b) | Payload::Nonce(b) | Payload::Hash(b) => Ok(b.clone()),
        _ => Err(Error::PeerMisbehaved(Misbehaviour::MissingPayload {
            what,
            payload,
        })),
    }
}

/// A nonce payload's body, of a length RFC 2409 5 allows (8..256 bytes).
pub(super) fn nonce_of(msg: &Inbound, what: &'static str) -> Result<Vec<u8>, Error> {
    let nonce = bytes_of(msg, PayloadType::NONCE, what, "NONCE")?;
    if !(8..=256).contains(&nonce.len()) {
        return Err(Misbehaviour::BadNonceLength {
            what,
            len: nonce.len(),
        }
        .into());
    }
    Ok(nonce)
}

/// A KE payload's body, of the length the group's public values have (the value
/// itself is checked with the exponentiation: RFC 2409 5, RFC 5903 5).
fn ke_of(msg: &Inbound, what: &'static str, suite: &Suite) -> Result<Vec<u8>, Error> {
    let ke = bytes_of(msg, PayloadType::KE, what, "KE")?;
    if ke.len() != suite.group.value_len() {
        return Err(Misbehaviour::InvalidKeyExchange.into());
    }
    Ok(ke)
}

/// A Main Mode message, with the state its SA was in when it came.
struct Arrived<'a, 'b> {
    rx: &'a Received<'b>,
    shown: ShowState,
}

impl<'b> std::ops::Deref for Arrived<'_, 'b> {
    type Target = Received<'b>;
    fn deref(&self) -> &Received<'b> {
        self.rx
    }
}

/// What handling a Main Mode message came to.
enum Step {
    /// Taken: the exchange is in this state now.
    Next(MmState),
    /// Not taken (unauthenticated and not what the exchange waits for): the state is
    /// unchanged, the error kept as the likely cause should the exchange time out.
    Ignored(MmState, Error),
    /// Not taken now, for no fault of the message (we are busy).
    Unchanged(MmState),
    /// The negotiation failed.
    Failed(Error),
}

fn sa_of<'a>(msg: &'a Inbound, what: &'static str) -> Result<(&'a SaPayload, &'a [u8]), Error> {
    let raw = require(msg, PayloadType::SA, what, "SA")?;
    match &raw.payload {
        Payload::Sa(sa) => Ok((sa, msg.body_of(raw))),
        _ => Err(Error::PeerMisbehaved(Misbehaviour::MissingPayload {
            what,
            payload: "SA",
        })),
    }
}

fn has_initial_contact(msg: &Inbound) -> bool {
    msg.payloads.iter().any(|p| {
        matches!(&p.payload, Payload::Notify(n) if n.notify_type == NotifyType::INITIAL_CONTACT)
    })
}

impl Keyed {
    /// Both public values and nonces are known: SKEYID and its derivatives (RFC 2409
    /// 5), and the IV of MM5 (appendix B).
    pub(super) fn derive(
        p1: &Phase1,
        (sa_i_b, suite): (Vec<u8>, Suite),
        (g_xi, g_xr): (Vec<u8>, Vec<u8>),
        g_xy: &Secret,
        (ni, nr): (&[u8], &[u8]),
    ) -> Keyed {
        let keys = kdf::derive_phase1_psk(
            suite.hash,
            suite.cipher,
            p1.key.as_bytes(),
            ni,
            nr,
            g_xy.as_bytes(),
            &p1.icookie,
            &p1.rcookie,
        );
        let iv = kdf::initial_iv(suite.hash, suite.cipher, &g_xi, &g_xr);
        Keyed {
            sa_i_b,
            suite,
            g_xi,
            g_xr,
            keys,
            iv,
        }
    }

    pub(super) fn protection(&self) -> Protection<'_> {
        Protection {
            cipher: self.suite.cipher,
            key: self.keys.enc_key.as_bytes(),
        }
    }

    /// HASH_I (`of` the initiator) or HASH_R (RFC 2409 5.4) over the ID payload body
    /// `id_b` (exactly as received, for the peer's).
    pub(super) fn hash(&self, p1: &Phase1, of: Role, id_b: &[u8]) -> Vec<u8> {
        let (g_own, g_other, cky_own, cky_other) = match of {
            Role::Initiator => (&self.g_xi, &self.g_xr, &p1.icookie, &p1.rcookie),
            Role::Responder => (&self.g_xr, &self.g_xi, &p1.rcookie, &p1.icookie),
        };
        kdf::hash_phase1(
            self.suite.hash,
            self.keys.skeyid.as_bytes(),
            g_own,
            g_other,
            cky_own,
            cky_other,
            &self.sa_i_b,
            id_b,
        )
    }
}

impl Engine {
    /// The pre-shared key for a negotiation between `ends`, IOS's way (`psk_lookup`):
    /// the most specific among the global keys and the keyrings that serve the local
    /// address; as initiator, only in the keyrings of the tunnel's ISAKMP `profile`.
    /// Without one, IOS stays silent and so do we.
    fn preshared_key(
        &mut self,
        ends: Endpoints,
        profile: Option<&str>,
    ) -> Option<(Secret, KeySource)> {
        let at = Lookup {
            peer: ends.peer,
            local: Some(ends.local),
            fvrf: ends.fvrf.as_ref().map(Fvrf::as_str),
        };
        let profile = profile.and_then(|p| self.settings.isakmp_profile(p));
        let only = profile.map(|p| p.keyrings.as_slice());
        if let Some(choice) = self.settings.psk_lookup(&at, only) {
            return Some((choice.key.key.clone(), choice.source()));
        }
        let searched = match profile.filter(|p| !p.keyrings.is_empty()) {
            Some(p) => format!(
                "crypto isakmp profile {} ({}) takes keys from keyring {} only, and none of its pre-shared-key lines covers it",
                p.name,
                p.origin,
                p.keyrings.join(", ")
            ),
            None if self.settings.keyrings.is_empty() => {
                "no crypto isakmp key address covers it".to_string()
            }
            None => format!(
                "no crypto isakmp key address, nor pre-shared-key of a keyring serving local address {}, covers it",
                ends.local
            ),
        };
        let peer = ends.peer;
        self.fail(None, peer, Error::NoPresharedKey { peer, searched });
        None
    }

    /// The phase 1 ID we send over `p1`: its profile's `self-identity`, else `crypto
    /// isakmp identity`.
    fn our_id(&mut self, p1: &Phase1) -> IdPayload {
        let profile = p1
            .profile
            .as_deref()
            .and_then(|p| self.settings.isakmp_profile(p));
        let id = identity::phase1_id(p1.local.ip(), self.settings.identity_for(profile));
        self.note(
            p1,
            Note::OwnIdType {
                id_type: id.id_type,
            },
        );
        id
    }

    /// Have we anything between these addresses (then MM5 carries no INITIAL-CONTACT)?
    fn has_sa_between(&self, ends: Endpoints) -> bool {
        self.phase1
            .of_pair(ends)
            .any(|p| p.established_at.is_some())
            || self.children.any_between(ends)
    }

    /// Begin Main Mode towards `remote` with ISAKMP `profile` (the tunnel's, or the
    /// replaced SA's) so that the `pending` tunnels can come up (none for a phase 1
    /// rekey).
    pub(super) fn start_main_mode(
        &mut self,
        now: Instant,
        path: (Option<Fvrf>, SocketAddr, SocketAddr),
        profile: Option<String>,
        pending: Vec<String>,
    ) {
        let Some(key) =
            self.preshared_key(Endpoints::of(path.0, path.1, path.2), profile.as_deref())
        else {
            return;
        };
        let sa_payload = Payload::Sa(proposal::p1_offer(&self.settings.policies));
        let sa_i_b = payload_body(&sa_payload);
        let mut payloads = vec![sa_payload];
        payloads.extend(vendor::ours().map(Payload::VendorId));
        let cookies = (self.cookie(), [0; 8]);
        let mut p1 = Phase1::new(
            self.alloc_conn_id(),
            Role::Initiator,
            path,
            cookies,
            key,
            now,
            self.event(),
        );
        p1.state = MmState::IMm1(IMm1 { sa_i_b });
        p1.profile = profile;
        p1.pending = pending;
        let data = protect::plain(&p1.header(ExchangeType::MAIN_MODE, 0), &payloads);
        self.state_change(&p1, None, IkeState::Ready, IkeState::IMm1);
        self.note(&p1, Note::BeginMainMode);
        let sent = p1.sent(Msg::Mm1, data);
        self.transmit(now, p1.conn_id, &mut p1.ex, sent);
        self.stats.admission.requests_out += 1;
        self.insert_phase1(p1);
    }

    /// MM1 from a new peer: if admission control lets it in, choose a policy and
    /// answer with MM2.
    pub(super) fn on_mm1(&mut self, rx: &Received, header: Header) {
        let msg = match Inbound::plain(header, rx.data) {
            Ok(m) => m,
            Err(e) => return self.drop_malformed(rx.remote, e),
        };
        // The profile is not known before MM5: every keyring serving the address counts.
        let Some(key) = self.preshared_key(Endpoints::of(rx.fvrf, rx.local, rx.remote), None)
        else {
            return;
        };
        if !self.admit(rx.remote) {
            return;
        }
        let known_peer = self.known_peer(rx.remote.ip());
        let cookies = (msg.header.icookie, self.cookie());
        let mut p1 = Phase1::new(
            self.alloc_conn_id(),
            Role::Responder,
            (rx.fvrf, rx.local, rx.remote),
            cookies,
            key,
            rx.now,
            self.event(),
        );
        p1.known_peer = known_peer;
        self.packet_in(&p1, rx, None, p1.state.show());
        self.state_change(&p1, None, IkeState::Ready, IkeState::RMm1);
        p1.ex.received(rx.data);
        match self.mm1(rx.now, &mut p1, &msg) {
            Ok(next) => {
                p1.state = next;
                self.stats.admission.accepted_in += 1;
                self.insert_phase1(p1);
            }
            Err(e) => self.fail_phase1(&mut p1, e),
        }
    }

    fn mm1(&mut self, now: Instant, p1: &mut Phase1, msg: &Inbound) -> Result<MmState, Error> {
        let (sa, sa_i_b) = sa_of(msg, "MM1")?;
        self.vendor_ids(p1, msg);
        let choice = proposal::p1_select(&self.settings.policies, sa)?;
        let mut payloads = vec![Payload::Sa(choice.reply)];
        payloads.extend(vendor::ours().map(Payload::VendorId));
        let data = protect::plain(&p1.header(ExchangeType::MAIN_MODE, 0), &payloads);
        let sent = p1.sent(Msg::Mm2, data);
        self.transmit(now, p1.conn_id, &mut p1.ex, sent);
        self.state_change(p1, None, IkeState::RMm1, IkeState::RMm2);
        Ok(MmState::RMm2(RMm2 {
            sa_i_b: sa_i_b.to_vec(),
            suite: choice.suite,
        }))
    }

    /// A Main Mode message for an existing ISAKMP SA.
    pub(super) fn on_main_mode(&mut self, rx: &Received, p1: &mut Phase1, header: Header) {
        if let Some(dup) = p1.ex.duplicate(rx.data) {
            return self.answer_duplicate(dup);
        }
        // Open the message before consuming the state: a message that does not decode
        // or decrypt leaves the negotiation untouched.
        let encrypted = header.flags & FLAG_ENCRYPTION != 0;
        let (msg, next_iv) = match &p1.state {
            MmState::RMm4(s) | MmState::IMm5(s) if encrypted => {
                match Inbound::decrypt(header, rx.data, &s.protection(), &s.iv) {
                    Some(opened) => opened,
                    None => {
                        // A peer with another key, or anyone who saw our cookies.
                        p1.rejected.get_or_insert(self.undecryptable(p1));
                        return self.drop_undecryptable(rx.remote);
                    }
                }
            }
            MmState::IMm1(_) | MmState::RMm2(_) | MmState::IMm3(_) if !encrypted => {
                match Inbound::plain(header, rx.data) {
                    Ok(m) => (m, Vec::new()),
                    Err(e) => return self.drop_malformed(rx.remote, e),
                }
            }
            _ => return self.drop_stale(rx.remote),
        };
        // The state the message is logged in (IOS tags it with the SA's state then).
        let rx = &Arrived {
            rx,
            shown: p1.state.show(),
        };
        let state = std::mem::replace(&mut p1.state, MmState::Failed);
        let step = match state {
            MmState::IMm1(s) => self.mm2(rx, p1, s, &msg),
            MmState::RMm2(s) => self.mm3(rx, p1, s, &msg),
            MmState::IMm3(s) => self.mm4(rx, p1, *s, &msg),
            MmState::RMm4(s) => self.mm5(rx, p1, *s, &msg, next_iv),
            MmState::IMm5(s) => self.mm6(rx, p1, *s, &msg, next_iv),
            other => Step::Ignored(other, Misbehaviour::UnofferedChoice("a message").into()),
        };
        match step {
            Step::Next(next) => {
                p1.state = next;
                if p1.established().is_some() {
                    self.start_pending(rx.now, p1);
                    self.phase1_established(rx.now, p1);
                }
            }
            Step::Ignored(state, error) => {
                p1.state = state;
                self.log(LogEvent::Dropped {
                    peer: rx.remote,
                    reason: DropReason::Unacceptable(error.to_string()),
                });
                p1.rejected.get_or_insert(error);
            }
            Step::Unchanged(state) => p1.state = state,
            Step::Failed(e) => self.fail_phase1(p1, e),
        }
    }

    /// A message the exchange takes: logged, and our previous one is no longer resent.
    fn take_message(&mut self, a: &Arrived, p1: &mut Phase1) {
        self.packet_in(p1, a.rx, Some(p1.role), a.shown);
        p1.ex.received(a.rx.data);
    }

    /// The daemon computed what the exchange waited for: send the next message.
    pub(super) fn key_exchange_done(&mut self, now: Instant, p1: &mut Phase1, dh: DhDone) {
        let state = std::mem::replace(&mut p1.state, MmState::Failed);
        let next = match state {
            MmState::IMm2(s) => Ok(self.send_mm3(now, p1, *s, dh)),
            MmState::RMm3(s) => self.send_mm4(now, p1, *s, dh),
            MmState::IMm4(s) => self.send_mm5(now, p1, *s, dh),
            other => Ok(other),
        };
        match next {
            Ok(next) => p1.state = next,
            Err(e) => self.fail_phase1(p1, e),
        }
    }

    /// MM5 (we respond) or MM6 (we initiated) does not decrypt: the keys differ.
    fn undecryptable(&self, p1: &Phase1) -> Error {
        let what = match p1.role {
            Role::Responder => "MM5",
            Role::Initiator => "MM6",
        };
        Error::AuthFailed(AuthFailure {
            kind: AuthKind::Undecryptable(what),
            peer: p1.remote.ip(),
            key: p1.key_source.clone(),
        })
    }

    fn vendor_ids(&mut self, p1: &mut Phase1, msg: &Inbound) {
        for p in &msg.payloads {
            if let Payload::VendorId(vid) = &p.payload {
                if let Some(kind) = vendor::recognise(vid) {
                    match kind {
                        VendorKind::NatTRfc3947 => p1.nat_t = true,
                        VendorKind::Dpd => p1.peer_dpd = true,
                        _ => {}
                    }
                    self.note(p1, Note::VendorId(kind));
                }
            }
        }
    }

    fn mm2(&mut self, rx: &Arrived, p1: &mut Phase1, s: IMm1, msg: &Inbound) -> Step {
        let accepted = sa_of(msg, "MM2").and_then(|(sa, _)| {
            proposal::p1_accept(&self.settings.policies, sa)
                .ok_or(Misbehaviour::UnofferedChoice("an ISAKMP transform").into())
        });
        let suite = match accepted {
            Ok(suite) if msg.header.rcookie != [0; 8] => suite,
            Ok(_) => {
                let e = Misbehaviour::BadProposalSyntax("MM2 without a responder cookie");
                return Step::Ignored(MmState::IMm1(s), e.into());
            }
            Err(e) => return Step::Ignored(MmState::IMm1(s), e),
        };
        // Only now is the responder's cookie ours to use (RFC 2408 3.1).
        p1.rcookie = msg.header.rcookie;
        self.take_message(rx, p1);
        self.state_change(p1, None, IkeState::IMm1, IkeState::IMm2);
        self.vendor_ids(p1, msg);
        let dh = DhPrivate::generate(suite.group, self.rng.as_mut());
        self.compute_dh(p1, dh, None, true);
        Step::Next(MmState::IMm2(Box::new(RMm2 {
            sa_i_b: s.sa_i_b,
            suite,
        })))
    }

    /// Our public value is known: MM3.
    fn send_mm3(&mut self, now: Instant, p1: &mut Phase1, s: RMm2, dh: DhDone) -> MmState {
        let Some(private) = dh.private else {
            return MmState::Failed;
        };
        let g_xi = dh.public;
        let ni = self.nonce();
        let mut payloads = vec![
            Payload::KeyExchange(g_xi.clone()),
            Payload::Nonce(ni.clone()),
        ];
        if p1.nat_t {
            let natd =
                nat::natd_payloads(s.suite.hash, &p1.icookie, &p1.rcookie, p1.local, p1.remote);
            payloads.extend(natd.map(Payload::NatD));
        }
        let data = protect::plain(&p1.header(ExchangeType::MAIN_MODE, 0), &payloads);
        let sent = p1.sent(Msg::Mm3, data);
        self.transmit(now, p1.conn_id, &mut p1.ex, sent);
        self.state_change(p1, None, IkeState::IMm2, IkeState::IMm3);
        MmState::IMm3(Box::new(IMm3 {
            sa_i_b: s.sa_i_b,
            suite: s.suite,
            dh: private,
            g_xi,
            ni,
        }))
    }

    /// The peer's NAT-D payloads against the datagram's addresses (RFC 3947 3.2).
    fn nat_discovery(
        &mut self,
        p1: &mut Phase1,
        suite: &Suite,
        msg: &Inbound,
        rx: &Received,
    ) -> bool {
        let received: Vec<&[u8]> = msg
            .payloads
            .iter()
            .filter_map(|p| match &p.payload {
                Payload::NatD(h) => Some(h.as_slice()),
                _ => None,
            })
            .collect();
        if !p1.nat_t {
            return false;
        }
        let Some(status) = nat::check(
            suite.hash,
            &p1.icookie,
            &p1.rcookie,
            rx.local,
            rx.remote,
            &received,
        ) else {
            return false;
        };
        p1.nat = status;
        self.note(
            p1,
            Note::Nat {
                local_behind: status.local_behind,
                peer_behind: status.peer_behind,
            },
        );
        true
    }

    fn mm3(&mut self, rx: &Arrived, p1: &mut Phase1, s: RMm2, msg: &Inbound) -> Step {
        let parsed = ke_of(msg, "MM3", &s.suite).and_then(|ke| Ok((ke, nonce_of(msg, "MM3")?)));
        let (g_xi, ni) = match parsed {
            Ok(v) => v,
            Err(e) => return Step::Ignored(MmState::RMm2(s), e),
        };
        let urgent = self.known_peer(p1.remote.ip());
        if !urgent && !self.dh.has_room() {
            // Too many key exchanges under way for peers we do not know: the initiator
            // resends MM3, and gets its turn.
            self.stats.admission.dropped_dh_busy += 1;
            self.log(LogEvent::Dropped {
                peer: rx.remote,
                reason: DropReason::Busy,
            });
            return Step::Unchanged(MmState::RMm2(s));
        }
        self.take_message(rx, p1);
        self.state_change(p1, None, IkeState::RMm2, IkeState::RMm3);
        self.vendor_ids(p1, msg);
        let natd = self.nat_discovery(p1, &s.suite, msg, rx);
        let dh = DhPrivate::generate(s.suite.group, self.rng.as_mut());
        self.compute_dh(p1, dh, Some(g_xi.clone()), urgent);
        Step::Next(MmState::RMm3(Box::new(RMm3 {
            sa_i_b: s.sa_i_b,
            suite: s.suite,
            g_xi,
            ni,
            natd,
        })))
    }

    /// Our public value and g^xy are known: MM4.
    fn send_mm4(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        s: RMm3,
        mut dh: DhDone,
    ) -> Result<MmState, Error> {
        let g_xy = dh.shared_secret()?;
        let g_xr = dh.public;
        let nr = self.nonce();
        let mut payloads = vec![
            Payload::KeyExchange(g_xr.clone()),
            Payload::Nonce(nr.clone()),
        ];
        if s.natd {
            let natd =
                nat::natd_payloads(s.suite.hash, &p1.icookie, &p1.rcookie, p1.local, p1.remote);
            payloads.extend(natd.map(Payload::NatD));
        }
        let keyed = Keyed::derive(p1, (s.sa_i_b, s.suite), (s.g_xi, g_xr), &g_xy, (&s.ni, &nr));
        let data = protect::plain(&p1.header(ExchangeType::MAIN_MODE, 0), &payloads);
        let sent = p1.sent(Msg::Mm4, data);
        self.transmit(now, p1.conn_id, &mut p1.ex, sent);
        self.state_change(p1, None, IkeState::RMm3, IkeState::RMm4);
        Ok(MmState::RMm4(Box::new(keyed)))
    }

    fn mm4(&mut self, rx: &Arrived, p1: &mut Phase1, s: IMm3, msg: &Inbound) -> Step {
        let parsed = ke_of(msg, "MM4", &s.suite).and_then(|ke| Ok((ke, nonce_of(msg, "MM4")?)));
        let (g_xr, nr) = match parsed {
            Ok(v) => v,
            Err(e) => return Step::Ignored(MmState::IMm3(Box::new(s)), e),
        };
        self.take_message(rx, p1);
        self.state_change(p1, None, IkeState::IMm3, IkeState::IMm4);
        self.vendor_ids(p1, msg);
        if self.nat_discovery(p1, &s.suite, msg, rx)
            && p1.nat.detected()
            && p1.local.port() != NAT_T_PORT
        {
            // RFC 3947 4: from MM5 on, both ends talk UDP 4500. (A rekey behind a NAT
            // starts there, towards the port the NAT gave the peer: keep it.)
            p1.local.set_port(NAT_T_PORT);
            p1.remote.set_port(NAT_T_PORT);
        }
        self.compute_dh(p1, s.dh, Some(g_xr.clone()), true);
        Step::Next(MmState::IMm4(Box::new(IMm4 {
            sa_i_b: s.sa_i_b,
            suite: s.suite,
            g_xi: s.g_xi,
            g_xr,
            ni: s.ni,
            nr,
        })))
    }

    /// g^xy is known: MM5.
    fn send_mm5(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        s: IMm4,
        mut dh: DhDone,
    ) -> Result<MmState, Error> {
        let g_xy = dh.shared_secret()?;
        let mut keyed = Keyed::derive(
            p1,
            (s.sa_i_b, s.suite),
            (s.g_xi, s.g_xr),
            &g_xy,
            (&s.ni, &s.nr),
        );
        let id = Payload::Id(self.our_id(p1));
        let hash_i = keyed.hash(p1, Role::Initiator, &payload_body(&id));
        let mut payloads = vec![id, Payload::Hash(hash_i)];
        if !self.has_sa_between(p1.endpoints()) {
            self.note(p1, Note::SendInitialContact);
            payloads.push(Payload::Notify(NotifyPayload {
                doi: DOI_IPSEC,
                protocol: ProtocolId::ISAKMP,
                notify_type: NotifyType::INITIAL_CONTACT,
                spi: p1.cookies(),
                data: Vec::new(),
            }));
        }
        let (data, iv) = protect::seal(
            &p1.header(ExchangeType::MAIN_MODE, 0),
            &payloads,
            &keyed.protection(),
            &keyed.iv,
        );
        keyed.iv = iv;
        let sent = p1.sent(Msg::Mm5, data);
        self.transmit(now, p1.conn_id, &mut p1.ex, sent);
        self.state_change(p1, None, IkeState::IMm4, IkeState::IMm5);
        Ok(MmState::IMm5(Box::new(keyed)))
    }

    fn mm5(
        &mut self,
        rx: &Arrived,
        p1: &mut Phase1,
        s: Keyed,
        msg: &Inbound,
        next_iv: Vec<u8>,
    ) -> Step {
        self.take_message(rx, p1);
        self.state_change(p1, None, IkeState::RMm4, IkeState::RMm5);
        if let Err(e) = self.authenticate_peer(p1, msg, &s, "MM5") {
            return Step::Failed(e);
        }
        // RFC 3947 4: the initiator floated to 4500 (or a NAT rewrote its port); answer
        // where the authenticated message came from.
        p1.local = rx.local;
        p1.remote = rx.remote;
        if has_initial_contact(msg) {
            self.initial_contact(p1);
        }
        let id_r = Payload::Id(self.our_id(p1));
        let hash_r = s.hash(p1, Role::Responder, &payload_body(&id_r));
        let (data, last_block) = protect::seal(
            &p1.header(ExchangeType::MAIN_MODE, 0),
            &[id_r, Payload::Hash(hash_r)],
            &s.protection(),
            &next_iv,
        );
        let sent = p1.sent(Msg::Mm6, data);
        self.transmit(rx.now, p1.conn_id, &mut p1.ex, sent);
        self.state_change(p1, None, IkeState::RMm5, IkeState::P1Complete);
        Step::Next(self.establish(rx.now, p1, s.suite, s.keys, last_block))
    }

    /// RFC 2409 5.4: check the peer's HASH_I (it initiated) or HASH_R (it responded),
    /// computed over its ID payload body exactly as received, in constant time; then
    /// note the authentication, check its identity against the configuration and
    /// choose (or check) the ISAKMP profile that identity matches (MM5 and MM6 alike).
    fn authenticate_peer(
        &mut self,
        p1: &mut Phase1,
        msg: &Inbound,
        s: &Keyed,
        what: &'static str,
    ) -> Result<(), Error> {
        let id = require(msg, PayloadType::ID, what, "ID")?;
        let hash = bytes_of(msg, PayloadType::HASH, what, "HASH")?;
        let (peer, kind) = match p1.role {
            Role::Responder => (Role::Initiator, AuthKind::HashIMismatch),
            Role::Initiator => (Role::Responder, AuthKind::HashRMismatch),
        };
        if !ct_eq(&hash, &s.hash(p1, peer, msg.body_of(id))) {
            return Err(Error::AuthFailed(AuthFailure {
                kind,
                peer: p1.remote.ip(),
                key: p1.key_source.clone(),
            }));
        }
        self.note(p1, Note::Authenticated);
        let identity = match &id.payload {
            Payload::Id(id) => {
                let identity = identity::peer_identity(id);
                let note = Note::PeerId {
                    id_type: id.id_type,
                    identity: identity.to_string(),
                    protocol: id.protocol,
                    port: id.port,
                };
                self.note(p1, note);
                self.check_phase1_id(p1, id);
                identity
            }
            _ => PeerIdentity::Other,
        };
        self.match_profile(p1, &identity)?;
        if let Some(profile) = p1.profile.clone() {
            self.note(p1, Note::ProfileMatched { profile });
        }
        Ok(())
    }

    /// The peer's phase 1 ID is known (MM5, MM6): as responder, choose the ISAKMP
    /// profile whose `match identity` accepts it; it must take keys from the keyring
    /// whose key authenticated the peer, found before any profile could be (Cisco
    /// document 117259). As initiator, the tunnel's profile must accept the responder.
    /// A peer whose address a profile matches but whose ID none does fails, naming
    /// that profile and its match lines; one no profile knows at all goes on with the
    /// global settings, as on IOS.
    fn match_profile(&mut self, p1: &mut Phase1, id: &PeerIdentity) -> Result<(), Error> {
        let at = Lookup {
            peer: p1.remote.ip(),
            local: Some(p1.local.ip()),
            fvrf: p1.fvrf.as_ref().map(Fvrf::as_str),
        };
        let invalid = |detail: String, config: String| {
            Error::InvalidId(InvalidId {
                peer: at.peer,
                detail,
                config,
            })
        };
        if p1.role == Role::Initiator {
            let profile = p1
                .profile
                .as_deref()
                .and_then(|p| self.settings.isakmp_profile(p));
            return match profile {
                Some(p) if !p.matches.is_empty() && !p.accepts(id, at.fvrf) => Err(invalid(
                    format!("the responder identifies itself as {id}, which the tunnel's ISAKMP profile does not match"),
                    p.describe(),
                )),
                _ => Ok(()),
            };
        }
        if let Some(p) = self.settings.profile_for(id, &at) {
            if !Settings::keyring_allowed(p, p1.key_source.keyring.as_deref()) {
                return Err(invalid(
                    format!(
                        "{id} matches crypto isakmp profile {}, which takes keys from keyring {} only, but the key that authenticated it is the {}",
                        p.name,
                        p.keyrings.join(", "),
                        p1.key_source
                    ),
                    format!("keyring lines of crypto isakmp profile {}, {}", p.name, p.origin),
                ));
            }
            p1.profile = Some(p.name.clone());
            return Ok(());
        }
        match self
            .settings
            .profile_for(&PeerIdentity::Address(at.peer), &at)
        {
            Some(p) if *id != PeerIdentity::Address(at.peer) => Err(invalid(
                format!("the peer identifies itself as {id}, which no match identity accepts"),
                p.describe(),
            )),
            _ => Ok(()),
        }
    }

    fn mm6(
        &mut self,
        rx: &Arrived,
        p1: &mut Phase1,
        s: Keyed,
        msg: &Inbound,
        next_iv: Vec<u8>,
    ) -> Step {
        self.take_message(rx, p1);
        self.state_change(p1, None, IkeState::IMm5, IkeState::IMm6);
        if let Err(e) = self.authenticate_peer(p1, msg, &s, "MM6") {
            return Step::Failed(e);
        }
        if has_initial_contact(msg) {
            self.initial_contact(p1);
        }
        self.state_change(p1, None, IkeState::IMm6, IkeState::P1Complete);
        Step::Next(self.establish(rx.now, p1, s.suite, s.keys, next_iv))
    }

    fn establish(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        suite: Suite,
        keys: Phase1Keys,
        last_block: Vec<u8>,
    ) -> MmState {
        p1.established_at = Some(now);
        p1.completed = Some(self.event());
        p1.last_heard = now;
        let lifetime = Duration::from_secs(suite.lifetime_s);
        p1.ex.timers.set(Timer::Lifetime, now + lifetime);
        p1.ex.timers.set(Timer::Rekey, now + self.soft(lifetime));
        self.arm_liveness(now, p1);
        self.log(LogEvent::Phase1Up {
            conn_id: p1.conn_id,
            peer: p1.remote.ip(),
            suite: suite.describe(),
        });
        if let Some(policy) = self
            .settings
            .policies
            .iter()
            .find(|p| p.priority == suite.priority)
            .filter(|p| suite.lifetime_s < u64::from(p.lifetime_s))
        {
            let warning = Warning::LifetimeShortened {
                what: Shortened::IsakmpSa,
                ours: format!("{} s", policy.lifetime_s),
                negotiated: format!("{} s", suite.lifetime_s),
                config: format!(
                    "lifetime of crypto isakmp policy {}, {}",
                    policy.priority, policy.origin
                ),
            };
            self.warn(p1.conn_id, p1.remote.ip(), warning);
        }
        MmState::Established(Arc::new(Established {
            suite,
            keys,
            last_block,
        }))
    }

    /// The peer's phase 1 ID should be the address it talks from (IOS sends its
    /// address); behind a NAT it is its private address, which is expected.
    pub(super) fn check_phase1_id(&mut self, p1: &Phase1, id: &IdPayload) {
        let Some(address) = identity::phase1_address(id) else {
            return;
        };
        if address == p1.remote.ip() || p1.nat.peer_behind {
            return;
        }
        let config = match self.tunnels_between(p1.endpoints()).next() {
            Some(t) => format!("tunnel destination of {}, {}", t.name, t.destination_origin),
            None => p1.key_source.to_string(),
        };
        let warning = Warning::IdentityMismatch {
            id: identity::describe(id),
            address: p1.remote.ip(),
            config,
        };
        self.warn(p1.conn_id, p1.remote.ip(), warning);
    }

    /// RFC 2407 4.6.3.3 INITIAL-CONTACT: the peer lost its state, so drop what we
    /// established with it before this negotiation began. Negotiations still running
    /// and SAs set up concurrently (simultaneous initiation) stay. Only the SAs between
    /// the same pair of identities go (strongSwan scopes it to the pair of IDs too): a
    /// tunnel's identities are its two addresses, so the peer's other tunnels with us,
    /// from or to other addresses, are not touched.
    fn initial_contact(&mut self, p1: &Phase1) {
        self.note(
            p1,
            Note::ProcessInitialContact {
                local: p1.local.ip(),
                remote: p1.remote,
            },
        );
        let ends = p1.endpoints();
        let stale: Vec<u32> = self
            .phase1
            .of_pair(ends)
            .filter(|o| o.established_at.is_some_and(|t| t < p1.created))
            .map(|o| o.conn_id)
            .collect();
        for id in stale {
            self.remove_phase1(id);
            self.log_phase1_down(id, ends.peer, DownReason::InitialContact);
        }
        self.remove_children_of(ends, DownReason::InitialContact, |c| {
            c.installed_at < p1.created
        });
    }

    /// Log the failure, answer with its notify (in the clear: there is no phase 1 to
    /// protect it yet) and mark the SA for removal.
    pub(super) fn fail_phase1(&mut self, p1: &mut Phase1, error: Error) {
        if let Some(notify) = error.notify() {
            self.send_plain_notify(p1, notify);
        }
        self.fail(Some(p1.conn_id), p1.remote.ip(), error);
        p1.close();
    }
}
