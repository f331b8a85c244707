//! Phase 1, Main Mode with pre-shared keys (RFC 2409 5, 5.4), as IOS runs it:
//!
//! ```text
//! MM1 I->R  SA, VID*            MM2 R->I  SA, VID*
//! MM3 I->R  KE, Ni, NAT-D*      MM4 R->I  KE, Nr, NAT-D*
//! MM5 I->R  *ID, HASH_I [, N(INITIAL-CONTACT)]
//! MM6 R->I  *ID, HASH_R
//! ```
//! Each state is a struct holding what is known so far; handling a message consumes it
//! and returns the next one.

use super::error::{AuthFailure, AuthKind, Error, Misbehaviour};
use super::exchange::{Exchange, Sent};
use super::liveness::DpdState;
use super::log::{DownReason, LogEvent, Note, Warning};
use super::nat::{self, NatStatus, NAT_T_PORT};
use super::proposal::{self, Suite};
use super::protect::{self, Inbound, Protection};
use super::quick_mode::QuickMode;
use super::settings::PresharedKey;
use super::state::{IkeState, Role, ShowState};
use super::timer::Timer;
use super::{identity, vendor, Engine};
use crate::crypto::{ct_eq, kdf, DhPrivate, Phase1Keys};
use crate::ipsec::Direction;
use crate::isakmp::{
    encode_payloads, ExchangeType, Header, NotifyPayload, NotifyType, Payload, PayloadType,
    ProtocolId, RawPayload, SaPayload, DOI_IPSEC, FLAG_ENCRYPTION,
};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Nonce length in bytes (RFC 2409 5: 8..256).
pub(crate) const NONCE_LEN: usize = 32;
const ISAKMP_VERSION: u8 = 0x10;

/// One ISAKMP SA: its Main Mode negotiation, then what it protects.
pub(crate) struct Phase1 {
    pub conn_id: u32,
    pub role: Role,
    /// Where we talk from and to (port 4500 on both ends once floated).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub icookie: [u8; 8],
    pub rcookie: [u8; 8],
    pub state: MmState,
    pub created: Instant,
    pub established_at: Option<Instant>,
    pub ex: Exchange,
    pub key: PresharedKey,
    /// Both sides sent the RFC 3947 vendor ID.
    pub nat_t: bool,
    pub nat: NatStatus,
    /// Tunnels whose Quick Mode starts once this SA is up.
    pub pending: Vec<String>,
    pub quick: BTreeMap<u32, QuickMode>,
    /// Every Quick Mode message ID used on this SA: a late duplicate of a forgotten
    /// exchange is dropped, never taken for a new one.
    pub message_ids: HashSet<u32>,
    /// The peer sent the RFC 3706 vendor ID: it answers R-U-THERE.
    pub peer_dpd: bool,
    pub dpd: DpdState,
    /// The last authenticated message from the peer over this SA (DPD idle time).
    pub last_heard: Instant,
    /// `Engine::event` numbers of the start and the end of Main Mode.
    pub started: u64,
    pub completed: Option<u64>,
    /// We began negotiating a replacement (soft lifetime reached).
    pub rekeying: bool,
    /// Replaced (why): deleted once its Quick Modes are finished.
    pub retiring: Option<DownReason>,
    /// What an unauthenticated error notify from the peer suggests: reported as the
    /// cause if the negotiation then times out.
    pub rejected: Option<Error>,
}

pub(crate) enum MmState {
    IMm1(IMm1),
    IMm3(Box<IMm3>),
    IMm5(Box<IMm5>),
    RMm2(RMm2),
    RMm4(Box<RMm4>),
    Established(Box<Established>),
    /// Negotiation failed or SA deleted: the engine drops it.
    Failed,
}

pub(crate) struct IMm1 {
    /// Our SA payload body, for HASH_I/HASH_R.
    sa_i_b: Vec<u8>,
}

pub(crate) struct IMm3 {
    sa_i_b: Vec<u8>,
    suite: Suite,
    dh: DhPrivate,
    g_xi: Vec<u8>,
    ni: Vec<u8>,
}

pub(crate) struct IMm5 {
    sa_i_b: Vec<u8>,
    suite: Suite,
    g_xi: Vec<u8>,
    g_xr: Vec<u8>,
    keys: Phase1Keys,
    iv: Vec<u8>,
}

pub(crate) struct RMm2 {
    sa_i_b: Vec<u8>,
    suite: Suite,
}

/// What checking the peer's phase 1 hash needs (MM5 as responder, MM6 as initiator).
struct PeerProof<'a> {
    what: &'static str,
    suite: &'a Suite,
    keys: &'a Phase1Keys,
    g_xi: &'a [u8],
    g_xr: &'a [u8],
    sa_i_b: &'a [u8],
}

pub(crate) struct RMm4 {
    sa_i_b: Vec<u8>,
    suite: Suite,
    g_xi: Vec<u8>,
    g_xr: Vec<u8>,
    keys: Phase1Keys,
    iv: Vec<u8>,
}

#[derive(Clone)]
pub(crate) struct Established {
    pub suite: Suite,
    pub keys: Phase1Keys,
    /// The last CBC block of phase 1: seeds every phase 2 / Informational IV.
    pub last_block: Vec<u8>,
}

impl Established {
    pub(crate) fn protection(&self) -> Protection<'_> {
        Protection {
            cipher: self.suite.cipher,
            key: self.keys.enc_key.as_bytes(),
        }
    }

    /// IV of the first message of exchange `message_id` (RFC 2409 appendix B).
    pub(crate) fn message_iv(&self, message_id: u32) -> Vec<u8> {
        kdf::message_iv(
            self.suite.hash,
            self.suite.cipher,
            &self.last_block,
            message_id,
        )
    }
}

impl MmState {
    pub(crate) fn ios_name(&self) -> IkeState {
        match self {
            MmState::IMm1(_) => IkeState::IMm1,
            MmState::IMm3(_) => IkeState::IMm3,
            MmState::IMm5(_) => IkeState::IMm5,
            MmState::RMm2(_) => IkeState::RMm2,
            MmState::RMm4(_) => IkeState::RMm4,
            MmState::Established(_) => IkeState::P1Complete,
            MmState::Failed => IkeState::Ready,
        }
    }

    /// `show crypto isakmp sa` state.
    pub(crate) fn show(&self) -> ShowState {
        match self {
            MmState::IMm1(_) | MmState::Failed => ShowState::MmNoState,
            MmState::IMm3(_) | MmState::RMm2(_) => ShowState::MmSaSetup,
            MmState::IMm5(_) | MmState::RMm4(_) => ShowState::MmKeyExch,
            MmState::Established(_) => ShowState::QmIdle,
        }
    }

    fn suite(&self) -> Option<&Suite> {
        match self {
            MmState::IMm3(s) => Some(&s.suite),
            MmState::IMm5(s) => Some(&s.suite),
            MmState::RMm2(s) => Some(&s.suite),
            MmState::RMm4(s) => Some(&s.suite),
            MmState::Established(s) => Some(&s.suite),
            MmState::IMm1(_) | MmState::Failed => None,
        }
    }
}

impl Phase1 {
    pub(crate) fn established(&self) -> Option<&Established> {
        match &self.state {
            MmState::Established(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn suite(&self) -> Option<&Suite> {
        self.state.suite()
    }

    pub(crate) fn header(&self, exchange: ExchangeType, message_id: u32) -> Header {
        Header {
            icookie: self.icookie,
            rcookie: self.rcookie,
            next_payload: PayloadType::NONE,
            version: ISAKMP_VERSION,
            exchange,
            flags: 0,
            message_id,
            length: 0,
        }
    }

    /// The ISAKMP SPI (RFC 2408 2.5.3): both cookies.
    pub(crate) fn cookies(&self) -> Vec<u8> {
        [self.icookie, self.rcookie].concat()
    }

    fn sent(&self, data: Vec<u8>, what: &'static str) -> Sent {
        Sent {
            local: self.local,
            remote: self.remote,
            data,
            what,
        }
    }
}

/// A payload's body (without the generic header), as we encode it.
pub(crate) fn payload_body(p: &Payload) -> Vec<u8> {
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

impl Engine {
    pub(super) fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.rng.fill(&mut v);
        v
    }

    pub(super) fn cookie(&mut self) -> [u8; 8] {
        loop {
            let mut c = [0u8; 8];
            self.rng.fill(&mut c);
            if c != [0; 8] {
                return c;
            }
        }
    }

    fn alloc_conn_id(&mut self) -> u32 {
        let id = self.next_conn_id;
        self.next_conn_id = self.next_conn_id.wrapping_add(1).max(1);
        id
    }

    pub(super) fn log(&mut self, event: LogEvent) {
        self.actions.push_back(super::Action::Log(event));
    }

    pub(super) fn note(&mut self, p1: &Phase1, note: Note) {
        self.log(LogEvent::Note {
            conn_id: p1.conn_id,
            peer: p1.remote.ip(),
            note,
        });
    }

    pub(super) fn state_change(
        &mut self,
        p1: &Phase1,
        message_id: Option<u32>,
        old: IkeState,
        new: IkeState,
    ) {
        self.log(LogEvent::StateChange {
            conn_id: p1.conn_id,
            peer: p1.remote.ip(),
            message_id,
            old,
            new,
        });
    }

    /// Send one message of an exchange, logging it as IOS does.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn transmit(
        &mut self,
        now: Instant,
        conn_id: u32,
        role: Role,
        show: ShowState,
        ex: &mut Exchange,
        sent: Sent,
        retransmit: bool,
    ) {
        self.log(LogEvent::Packet {
            conn_id,
            peer: sent.remote,
            local_port: sent.local.port(),
            sent: true,
            role: Some(role),
            state: show,
        });
        ex.send(now, &mut self.actions, sent, retransmit);
    }

    /// Have we anything with this peer (then MM5 carries no INITIAL-CONTACT)?
    fn has_sa_with(&self, peer: std::net::IpAddr) -> bool {
        self.phase1
            .values()
            .any(|p| p.remote.ip() == peer && p.established_at.is_some())
            || self.children.iter().any(|c| c.remote.ip() == peer)
    }

    /// Begin Main Mode towards `remote` so that the `pending` tunnels can come up (none
    /// for a phase 1 rekey).
    pub(super) fn start_main_mode(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        pending: Vec<String>,
    ) {
        let Some(key) = self.settings.key_for(remote.ip()).cloned() else {
            self.fail(
                None,
                remote.ip(),
                Error::NoPresharedKey { peer: remote.ip() },
            );
            return;
        };
        let sa = proposal::p1_offer(&self.settings.policies);
        let sa_payload = Payload::Sa(sa);
        let sa_i_b = payload_body(&sa_payload);
        let mut payloads = vec![sa_payload];
        payloads.extend(vendor::ours().map(Payload::VendorId));
        let mut p1 = Phase1 {
            conn_id: self.alloc_conn_id(),
            role: Role::Initiator,
            local,
            remote,
            icookie: self.cookie(),
            rcookie: [0; 8],
            state: MmState::IMm1(IMm1 { sa_i_b }),
            created: now,
            established_at: None,
            ex: Exchange::default(),
            key,
            nat_t: false,
            nat: NatStatus::default(),
            pending,
            quick: BTreeMap::new(),
            message_ids: HashSet::new(),
            peer_dpd: false,
            dpd: DpdState::default(),
            last_heard: now,
            started: self.event(),
            completed: None,
            rekeying: false,
            retiring: None,
            rejected: None,
        };
        let data = protect::plain(&p1.header(ExchangeType::MAIN_MODE, 0), &payloads);
        self.state_change(&p1, None, IkeState::Ready, IkeState::IMm1);
        self.note(&p1, Note::BeginMainMode);
        let sent = p1.sent(data, "MM1");
        self.transmit(
            now,
            p1.conn_id,
            Role::Initiator,
            ShowState::MmNoState,
            &mut p1.ex,
            sent,
            true,
        );
        self.phase1.insert(p1.conn_id, p1);
    }

    /// MM1 from a new peer: choose a policy and answer with MM2.
    pub(super) fn on_mm1(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        header: Header,
        data: &[u8],
    ) {
        let msg = match Inbound::plain(header, data) {
            Ok(m) => m,
            Err(e) => return self.drop_malformed(remote, e.to_string()),
        };
        let Some(key) = self.settings.key_for(remote.ip()).cloned() else {
            self.fail(
                None,
                remote.ip(),
                Error::NoPresharedKey { peer: remote.ip() },
            );
            return;
        };
        let mut p1 = Phase1 {
            conn_id: self.alloc_conn_id(),
            role: Role::Responder,
            local,
            remote,
            icookie: msg.header.icookie,
            rcookie: self.cookie(),
            state: MmState::Failed,
            created: now,
            established_at: None,
            ex: Exchange::default(),
            key,
            nat_t: false,
            nat: NatStatus::default(),
            pending: Vec::new(),
            quick: BTreeMap::new(),
            message_ids: HashSet::new(),
            peer_dpd: false,
            dpd: DpdState::default(),
            last_heard: now,
            started: self.event(),
            completed: None,
            rekeying: false,
            retiring: None,
            rejected: None,
        };
        self.log(LogEvent::Packet {
            conn_id: p1.conn_id,
            peer: remote,
            local_port: local.port(),
            sent: false,
            role: None,
            state: ShowState::MmNoState,
        });
        self.state_change(&p1, None, IkeState::Ready, IkeState::RMm1);
        p1.ex.received(data);
        match self.mm1(now, &mut p1, &msg) {
            Ok(next) => {
                p1.state = next;
                self.phase1.insert(p1.conn_id, p1);
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
        let sent = p1.sent(data, "MM2");
        self.transmit(
            now,
            p1.conn_id,
            Role::Responder,
            ShowState::MmSaSetup,
            &mut p1.ex,
            sent,
            true,
        );
        self.state_change(p1, None, IkeState::RMm1, IkeState::RMm2);
        Ok(MmState::RMm2(RMm2 {
            sa_i_b: sa_i_b.to_vec(),
            suite: choice.suite,
        }))
    }

    /// A Main Mode message for an existing ISAKMP SA.
    pub(super) fn on_main_mode(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        local: SocketAddr,
        remote: SocketAddr,
        header: Header,
        data: &[u8],
    ) {
        if let Some(dup) = p1.ex.duplicate(data) {
            return self.answer_duplicate(dup);
        }
        let show = p1.state.show();
        // Open the message before consuming the state: a message that does not decode
        // leaves the negotiation untouched, except MM5/MM6, where it means the keys
        // (and so the pre-shared keys) differ.
        let (msg, next_iv) = match &p1.state {
            MmState::RMm4(s) => {
                let keys = Protection {
                    cipher: s.suite.cipher,
                    key: s.keys.enc_key.as_bytes(),
                };
                match self.open_encrypted(header, data, &keys, &s.iv) {
                    Some(Ok((m, iv))) => (m, Some(iv)),
                    Some(Err(())) => return self.fail_phase1(p1, self.undecryptable(p1, "MM5")),
                    None => return self.drop_stale(remote),
                }
            }
            MmState::IMm5(s) => {
                let keys = Protection {
                    cipher: s.suite.cipher,
                    key: s.keys.enc_key.as_bytes(),
                };
                match self.open_encrypted(header, data, &keys, &s.iv) {
                    Some(Ok((m, iv))) => (m, Some(iv)),
                    Some(Err(())) => return self.fail_phase1(p1, self.undecryptable(p1, "MM6")),
                    None => return self.drop_stale(remote),
                }
            }
            MmState::Established(_) | MmState::Failed => return self.drop_stale(remote),
            _ if header.flags & FLAG_ENCRYPTION != 0 => return self.drop_stale(remote),
            _ => match Inbound::plain(header, data) {
                Ok(m) => (m, None),
                Err(e) => return self.drop_malformed(remote, e.to_string()),
            },
        };
        self.log(LogEvent::Packet {
            conn_id: p1.conn_id,
            peer: remote,
            local_port: local.port(),
            sent: false,
            role: Some(p1.role),
            state: show,
        });
        p1.ex.received(data);
        let state = std::mem::replace(&mut p1.state, MmState::Failed);
        let result = match state {
            MmState::IMm1(s) => self.mm2(now, p1, s, &msg),
            MmState::RMm2(s) => self.mm3(now, p1, s, &msg, local, remote),
            MmState::IMm3(s) => self.mm4(now, p1, *s, &msg, local, remote),
            MmState::RMm4(s) => self.mm5(
                now,
                p1,
                *s,
                &msg,
                next_iv.unwrap_or_default(),
                local,
                remote,
            ),
            MmState::IMm5(s) => self.mm6(now, p1, *s, &msg, next_iv.unwrap_or_default()),
            MmState::Established(_) | MmState::Failed => unreachable!("dropped above"),
        };
        match result {
            Ok(next) => {
                p1.state = next;
                if p1.established().is_some() {
                    self.start_pending(now, p1);
                    self.phase1_established(now, p1);
                }
            }
            Err(e) => self.fail_phase1(p1, e),
        }
    }

    /// `None`: not encrypted (a stale clear message); `Some(Err)`: does not decrypt.
    #[allow(clippy::type_complexity)]
    fn open_encrypted(
        &mut self,
        header: Header,
        data: &[u8],
        keys: &Protection<'_>,
        iv: &[u8],
    ) -> Option<Result<(Inbound, Vec<u8>), ()>> {
        if header.flags & FLAG_ENCRYPTION == 0 {
            return None;
        }
        Some(Inbound::decrypt(header, data, keys, iv).map_err(|_| ()))
    }

    fn undecryptable(&self, p1: &Phase1, what: &'static str) -> Error {
        Error::AuthFailed(AuthFailure {
            kind: AuthKind::Undecryptable(what),
            peer: p1.remote.ip(),
            key_origin: p1.key.origin.clone(),
        })
    }

    fn vendor_ids(&mut self, p1: &mut Phase1, msg: &Inbound) {
        for p in &msg.payloads {
            if let Payload::VendorId(vid) = &p.payload {
                if let Some(kind) = vendor::recognise(vid) {
                    match kind {
                        super::log::VendorKind::NatTRfc3947 => p1.nat_t = true,
                        super::log::VendorKind::Dpd => p1.peer_dpd = true,
                        _ => {}
                    }
                    self.note(p1, Note::VendorId(kind));
                }
            }
        }
    }

    fn mm2(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        s: IMm1,
        msg: &Inbound,
    ) -> Result<MmState, Error> {
        self.state_change(p1, None, IkeState::IMm1, IkeState::IMm2);
        let (sa, _) = sa_of(msg, "MM2")?;
        let suite = proposal::p1_accept(&self.settings.policies, sa)
            .ok_or(Misbehaviour::UnofferedChoice("an ISAKMP transform"))?;
        self.vendor_ids(p1, msg);
        let dh = DhPrivate::generate(suite.group, self.rng.as_mut());
        let g_xi = dh.public_value();
        let ni = self.random_bytes(NONCE_LEN);
        let mut payloads = vec![
            Payload::KeyExchange(g_xi.clone()),
            Payload::Nonce(ni.clone()),
        ];
        if p1.nat_t {
            let natd =
                nat::natd_payloads(suite.hash, &p1.icookie, &p1.rcookie, p1.local, p1.remote);
            payloads.extend(natd.map(Payload::NatD));
        }
        let data = protect::plain(&p1.header(ExchangeType::MAIN_MODE, 0), &payloads);
        let sent = p1.sent(data, "MM3");
        self.transmit(
            now,
            p1.conn_id,
            Role::Initiator,
            ShowState::MmSaSetup,
            &mut p1.ex,
            sent,
            true,
        );
        self.state_change(p1, None, IkeState::IMm2, IkeState::IMm3);
        Ok(MmState::IMm3(Box::new(IMm3 {
            sa_i_b: s.sa_i_b,
            suite,
            dh,
            g_xi,
            ni,
        })))
    }

    /// The peer's NAT-D payloads against the datagram's addresses (RFC 3947 3.2).
    fn nat_discovery(
        &mut self,
        p1: &mut Phase1,
        suite: &Suite,
        msg: &Inbound,
        local: SocketAddr,
        remote: SocketAddr,
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
            local,
            remote,
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

    #[allow(clippy::too_many_arguments)]
    fn mm3(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        s: RMm2,
        msg: &Inbound,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<MmState, Error> {
        self.state_change(p1, None, IkeState::RMm2, IkeState::RMm3);
        let g_xi = bytes_of(msg, PayloadType::KE, "MM3", "KE")?;
        let ni = bytes_of(msg, PayloadType::NONCE, "MM3", "NONCE")?;
        self.vendor_ids(p1, msg);
        let suite = s.suite;
        let dh = DhPrivate::generate(suite.group, self.rng.as_mut());
        let g_xr = dh.public_value();
        let g_xy = dh
            .complete(&g_xi)
            .map_err(|_| Misbehaviour::InvalidKeyExchange)?;
        let nr = self.random_bytes(NONCE_LEN);
        let keys = kdf::derive_phase1_psk(
            suite.hash,
            suite.cipher,
            p1.key.key.as_bytes(),
            &ni,
            &nr,
            g_xy.as_bytes(),
            &p1.icookie,
            &p1.rcookie,
        );
        let mut payloads = vec![Payload::KeyExchange(g_xr.clone()), Payload::Nonce(nr)];
        if self.nat_discovery(p1, &suite, msg, local, remote) {
            let natd = nat::natd_payloads(suite.hash, &p1.icookie, &p1.rcookie, local, remote);
            payloads.extend(natd.map(Payload::NatD));
        }
        let iv = kdf::initial_iv(suite.hash, suite.cipher, &g_xi, &g_xr);
        let data = protect::plain(&p1.header(ExchangeType::MAIN_MODE, 0), &payloads);
        let sent = p1.sent(data, "MM4");
        self.transmit(
            now,
            p1.conn_id,
            Role::Responder,
            ShowState::MmKeyExch,
            &mut p1.ex,
            sent,
            true,
        );
        self.state_change(p1, None, IkeState::RMm3, IkeState::RMm4);
        Ok(MmState::RMm4(Box::new(RMm4 {
            sa_i_b: s.sa_i_b,
            suite,
            g_xi,
            g_xr,
            keys,
            iv,
        })))
    }

    #[allow(clippy::too_many_arguments)]
    fn mm4(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        s: IMm3,
        msg: &Inbound,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<MmState, Error> {
        self.state_change(p1, None, IkeState::IMm3, IkeState::IMm4);
        let g_xr = bytes_of(msg, PayloadType::KE, "MM4", "KE")?;
        let nr = bytes_of(msg, PayloadType::NONCE, "MM4", "NONCE")?;
        self.vendor_ids(p1, msg);
        let suite = s.suite;
        let g_xy =
            s.dh.complete(&g_xr)
                .map_err(|_| Misbehaviour::InvalidKeyExchange)?;
        let keys = kdf::derive_phase1_psk(
            suite.hash,
            suite.cipher,
            p1.key.key.as_bytes(),
            &s.ni,
            &nr,
            g_xy.as_bytes(),
            &p1.icookie,
            &p1.rcookie,
        );
        if self.nat_discovery(p1, &suite, msg, local, remote)
            && p1.nat.detected()
            && p1.local.port() != NAT_T_PORT
        {
            // RFC 3947 4: from MM5 on, both ends talk UDP 4500. (A rekey behind a NAT
            // starts there, towards the port the NAT gave the peer: keep it.)
            p1.local.set_port(NAT_T_PORT);
            p1.remote.set_port(NAT_T_PORT);
        }
        let iv = kdf::initial_iv(suite.hash, suite.cipher, &s.g_xi, &g_xr);
        let id = Payload::Id(identity::phase1_id(p1.local.ip()));
        let hash_i = kdf::hash_phase1(
            suite.hash,
            keys.skeyid.as_bytes(),
            &s.g_xi,
            &g_xr,
            &p1.icookie,
            &p1.rcookie,
            &s.sa_i_b,
            &payload_body(&id),
        );
        let mut payloads = vec![id, Payload::Hash(hash_i)];
        if !self.has_sa_with(p1.remote.ip()) {
            self.note(p1, Note::SendInitialContact);
            payloads.push(Payload::Notify(NotifyPayload {
                doi: DOI_IPSEC,
                protocol: ProtocolId::ISAKMP,
                notify_type: NotifyType::INITIAL_CONTACT,
                spi: p1.cookies(),
                data: Vec::new(),
            }));
        }
        let protection = Protection {
            cipher: suite.cipher,
            key: keys.enc_key.as_bytes(),
        };
        let (data, iv) = protect::seal(
            &p1.header(ExchangeType::MAIN_MODE, 0),
            &payloads,
            &protection,
            &iv,
        );
        let sent = p1.sent(data, "MM5");
        self.transmit(
            now,
            p1.conn_id,
            Role::Initiator,
            ShowState::MmKeyExch,
            &mut p1.ex,
            sent,
            true,
        );
        self.state_change(p1, None, IkeState::IMm4, IkeState::IMm5);
        Ok(MmState::IMm5(Box::new(IMm5 {
            sa_i_b: s.sa_i_b,
            suite,
            g_xi: s.g_xi,
            g_xr,
            keys,
            iv,
        })))
    }

    #[allow(clippy::too_many_arguments)]
    fn mm5(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        s: RMm4,
        msg: &Inbound,
        next_iv: Vec<u8>,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<MmState, Error> {
        self.state_change(p1, None, IkeState::RMm4, IkeState::RMm5);
        let peer = PeerProof {
            what: "MM5",
            suite: &s.suite,
            keys: &s.keys,
            g_xi: &s.g_xi,
            g_xr: &s.g_xr,
            sa_i_b: &s.sa_i_b,
        };
        self.authenticate_peer(p1, msg, peer)?;
        // RFC 3947 4: the initiator floated to 4500 (or a NAT rewrote its port); answer
        // where the authenticated message came from.
        p1.local = local;
        p1.remote = remote;
        if has_initial_contact(msg) {
            self.initial_contact(p1);
        }
        let id_r = Payload::Id(identity::phase1_id(local.ip()));
        let hash_r = kdf::hash_phase1(
            s.suite.hash,
            s.keys.skeyid.as_bytes(),
            &s.g_xr,
            &s.g_xi,
            &p1.rcookie,
            &p1.icookie,
            &s.sa_i_b,
            &payload_body(&id_r),
        );
        let protection = Protection {
            cipher: s.suite.cipher,
            key: s.keys.enc_key.as_bytes(),
        };
        let (data, last_block) = protect::seal(
            &p1.header(ExchangeType::MAIN_MODE, 0),
            &[id_r, Payload::Hash(hash_r)],
            &protection,
            &next_iv,
        );
        let sent = p1.sent(data, "MM6");
        // No retransmission: the initiator resends MM5 if MM6 is lost.
        self.transmit(
            now,
            p1.conn_id,
            Role::Responder,
            ShowState::MmKeyExch,
            &mut p1.ex,
            sent,
            false,
        );
        self.state_change(p1, None, IkeState::RMm5, IkeState::P1Complete);
        Ok(self.establish(now, p1, s.suite, s.keys, last_block))
    }

    /// RFC 2409 5.4: check the peer's HASH_I (it initiated) or HASH_R (it responded),
    /// computed over its ID payload body exactly as received, in constant time; then
    /// note the authentication and check its identity against the configuration.
    fn authenticate_peer(
        &mut self,
        p1: &Phase1,
        msg: &Inbound,
        peer: PeerProof,
    ) -> Result<(), Error> {
        let id = require(msg, PayloadType::ID, peer.what, "ID")?;
        let hash = bytes_of(msg, PayloadType::HASH, peer.what, "HASH")?;
        let (g_peer, g_own, cky_peer, cky_own, kind) = match p1.role {
            Role::Responder => (
                peer.g_xi,
                peer.g_xr,
                &p1.icookie,
                &p1.rcookie,
                AuthKind::HashIMismatch,
            ),
            Role::Initiator => (
                peer.g_xr,
                peer.g_xi,
                &p1.rcookie,
                &p1.icookie,
                AuthKind::HashRMismatch,
            ),
        };
        let expected = kdf::hash_phase1(
            peer.suite.hash,
            peer.keys.skeyid.as_bytes(),
            g_peer,
            g_own,
            cky_peer,
            cky_own,
            peer.sa_i_b,
            msg.body_of(id),
        );
        if !ct_eq(&hash, &expected) {
            return Err(Error::AuthFailed(AuthFailure {
                kind,
                peer: p1.remote.ip(),
                key_origin: p1.key.origin.clone(),
            }));
        }
        self.note(p1, Note::Authenticated);
        self.check_identity(p1, id);
        Ok(())
    }

    fn mm6(
        &mut self,
        now: Instant,
        p1: &mut Phase1,
        s: IMm5,
        msg: &Inbound,
        next_iv: Vec<u8>,
    ) -> Result<MmState, Error> {
        self.state_change(p1, None, IkeState::IMm5, IkeState::IMm6);
        let peer = PeerProof {
            what: "MM6",
            suite: &s.suite,
            keys: &s.keys,
            g_xi: &s.g_xi,
            g_xr: &s.g_xr,
            sa_i_b: &s.sa_i_b,
        };
        self.authenticate_peer(p1, msg, peer)?;
        if has_initial_contact(msg) {
            self.initial_contact(p1);
        }
        self.state_change(p1, None, IkeState::IMm6, IkeState::P1Complete);
        Ok(self.establish(now, p1, s.suite, s.keys, next_iv))
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
                what: "the ISAKMP SA".into(),
                ours: format!("{} s", policy.lifetime_s),
                negotiated: format!("{} s", suite.lifetime_s),
                config: format!(
                    "lifetime of crypto isakmp policy {}, {}",
                    policy.priority, policy.origin
                ),
            };
            self.warn(p1.conn_id, p1.remote.ip(), warning);
        }
        MmState::Established(Box::new(Established {
            suite,
            keys,
            last_block,
        }))
    }

    /// The peer's phase 1 ID should be the address it talks from (IOS sends its
    /// address); behind a NAT it is its private address, which is expected.
    pub(super) fn check_identity(&mut self, p1: &Phase1, id: &RawPayload) {
        if let Payload::Id(id) = &id.payload {
            self.check_phase1_id(p1, id);
        }
    }

    pub(super) fn check_phase1_id(&mut self, p1: &Phase1, id: &crate::isakmp::IdPayload) {
        let Some(address) = identity::phase1_address(id) else {
            return;
        };
        if address == p1.remote.ip() || p1.nat.peer_behind {
            return;
        }
        let config = match self
            .settings
            .tunnels
            .iter()
            .find(|t| t.peer == p1.remote.ip())
        {
            Some(t) => format!("tunnel destination of {}, {}", t.name, t.destination_origin),
            None => format!("crypto isakmp key, {}", p1.key.origin),
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
    /// and SAs set up concurrently (simultaneous initiation) stay.
    fn initial_contact(&mut self, p1: &Phase1) {
        self.note(
            p1,
            Note::ProcessInitialContact {
                local: p1.local.ip(),
                remote: p1.remote,
            },
        );
        let peer = p1.remote.ip();
        let stale: Vec<u32> = self
            .phase1
            .values()
            .filter(|o| o.remote.ip() == peer && o.established_at.is_some_and(|t| t < p1.created))
            .map(|o| o.conn_id)
            .collect();
        for id in stale {
            self.phase1.remove(&id);
            self.log(LogEvent::Phase1Down {
                conn_id: id,
                peer,
                reason: DownReason::InitialContact,
            });
        }
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.children)
            .into_iter()
            .partition(|c| c.remote.ip() == peer && c.installed_at < p1.created);
        self.children = kept;
        for c in gone {
            self.remove_child_sas(&c, DownReason::InitialContact);
        }
    }

    /// Log the failure, answer with its notify (in the clear: there is no phase 1 to
    /// protect it yet) and mark the SA for removal.
    pub(super) fn fail_phase1(&mut self, p1: &mut Phase1, error: Error) {
        if let Some(notify) = error.notify() {
            self.send_plain_notify(p1, notify);
        }
        self.fail(Some(p1.conn_id), p1.remote.ip(), error);
        p1.state = MmState::Failed;
        p1.ex.timers = Default::default();
    }

    /// Delete both directions of an IPsec SA pair from the data path (the record is
    /// already gone from `children`).
    pub(super) fn remove_child_sas(&mut self, c: &super::child::ChildSa, reason: DownReason) {
        self.actions.push_back(super::Action::DeleteSa {
            tunnel: c.tunnel.clone(),
            direction: Direction::In,
            spi: c.spi_in,
            dst: c.local.ip(),
        });
        // A superseded pair's outbound SA is gone already.
        if c.outbound && !c.superseded {
            self.actions.push_back(super::Action::DeleteSa {
                tunnel: c.tunnel.clone(),
                direction: Direction::Out,
                spi: c.spi_out,
                dst: c.remote.ip(),
            });
        }
        self.log(LogEvent::SaDown {
            tunnel: c.tunnel.clone(),
            peer: c.remote.ip(),
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            reason,
        });
    }
}
