//! One ISAKMP SA (IOS's conn-id) as the engine keeps it: where its Main Mode stands
//! (each state a struct holding what is known so far, consumed by the transition),
//! its keys once it is up, its liveness, and the Quick Mode exchanges running over it.
//! Records only: the exchanges (`main_mode.rs`, `quick_mode.rs`, `info.rs`,
//! `liveness.rs`, `rekey.rs`) work on them.

use super::error::Error;
use super::exchange::{Exchange, Msg, Sent};
use super::log::DownReason;
use super::nat::NatStatus;
use super::proposal::{P2Choice, Suite};
use super::protect::{Inbound, Protection};
use super::settings::KeySource;
use super::state::{IkeState, Role, ShowState};
use super::{Endpoints, Fvrf};
use crate::crypto::{ct_eq, kdf, DhPrivate, Phase1Keys, Secret};
use crate::ipsec::SaSpec;
use crate::isakmp::{ExchangeType, Header, IdPayload, PayloadType, Proposal};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

const ISAKMP_VERSION: u8 = 0x10;

/// One ISAKMP SA: its Main Mode negotiation, then what it protects.
pub(crate) struct Phase1 {
    pub conn_id: u32,
    pub role: Role,
    /// The front-door VRF (`tunnel vrf`) whose sockets it talks through.
    pub fvrf: Option<Fvrf>,
    /// Where we talk from and to (port 4500 on both ends once floated).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub icookie: [u8; 8],
    pub rcookie: [u8; 8],
    pub state: MmState,
    pub created: Instant,
    pub established_at: Option<Instant>,
    pub ex: Exchange,
    /// The pre-shared key, and where it is configured.
    pub key: Secret,
    pub key_source: KeySource,
    /// The ISAKMP profile: as initiator the tunnel's (`set isakmp-profile`), as
    /// responder the one the peer's ID matched after MM5 (`None`: the global settings).
    pub profile: Option<String>,
    /// Both sides sent the RFC 3947 vendor ID.
    pub nat_t: bool,
    pub nat: NatStatus,
    /// Tunnels whose Quick Mode starts once this SA is up.
    pub pending: Vec<String>,
    pub quick: BTreeMap<u32, QuickMode>,
    /// Every Quick Mode message ID used on this SA: a late duplicate of a forgotten
    /// exchange is dropped, never taken for a new one.
    pub message_ids: HashSet<u32>,
    /// Message IDs of the peer's verified Informational exchanges: a copy of one
    /// (a replay) is dropped, never taken as news or as a sign of life.
    pub info_ids: RecentIds,
    /// The sequence number of the peer's last R-U-THERE: a new one must be higher
    /// (RFC 3706 section 7).
    pub peer_dpd_seq: Option<u32>,
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
    /// A responder SA admitted for a peer we knew (`Engine::known_peer`): while
    /// embryonic, only that peer's own newer MM1s may drop it, never a stranger's.
    pub known_peer: bool,
}

impl Phase1 {
    /// A new ISAKMP SA numbered `conn_id` along `path` (fvrf, local, remote), with the
    /// `cookies` (initiator's, responder's) known so far and the pre-shared key found
    /// for it, begun at `now` as the `started`-th engine event. It has no Main Mode
    /// state until its first message.
    pub(crate) fn new(
        conn_id: u32,
        role: Role,
        (fvrf, local, remote): (Option<Fvrf>, SocketAddr, SocketAddr),
        (icookie, rcookie): ([u8; 8], [u8; 8]),
        (key, key_source): (Secret, KeySource),
        now: Instant,
        started: u64,
    ) -> Phase1 {
        Phase1 {
            conn_id,
            role,
            fvrf,
            local,
            remote,
            icookie,
            rcookie,
            state: MmState::Failed,
            created: now,
            established_at: None,
            ex: Exchange::default(),
            key,
            key_source,
            profile: None,
            nat_t: false,
            nat: NatStatus::default(),
            pending: Vec::new(),
            quick: BTreeMap::new(),
            message_ids: HashSet::new(),
            info_ids: RecentIds::default(),
            peer_dpd_seq: None,
            peer_dpd: false,
            dpd: DpdState::default(),
            last_heard: now,
            started,
            completed: None,
            rekeying: false,
            retiring: None,
            rejected: None,
            known_peer: false,
        }
    }

    /// The addresses it is between: the tunnels it may serve are between the same.
    pub(crate) fn endpoints(&self) -> Endpoints {
        Endpoints::of(self.fvrf, self.local, self.remote)
    }

    pub(crate) fn established(&self) -> Option<&Arc<Established>> {
        match &self.state {
            MmState::Established(e) => Some(e),
            _ => None,
        }
    }

    /// Main Mode is under way (neither up nor failed).
    pub(crate) fn negotiating(&self) -> bool {
        !matches!(self.state, MmState::Established(_) | MmState::Failed)
    }

    pub(crate) fn failed(&self) -> bool {
        matches!(self.state, MmState::Failed)
    }

    /// Waiting for the daemon's Diffie-Hellman result.
    pub(crate) fn computing(&self) -> bool {
        matches!(
            self.state,
            MmState::IMm2(_) | MmState::IMm4(_) | MmState::RMm3(_)
        )
    }

    /// The earliest deadline of the SA and of its Quick Modes.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        std::iter::once(self.ex.timers.next())
            .chain(self.quick.values().map(|q| q.ex.timers.next()))
            .flatten()
            .min()
    }

    /// The SA is finished with: the engine drops it when it is put back.
    pub(crate) fn close(&mut self) {
        self.state = MmState::Failed;
        self.ex.timers = Default::default();
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

    /// `data`, message `msg` of an exchange over this SA, as sent to the peer.
    pub(crate) fn sent(&self, msg: Msg, data: Vec<u8>) -> Sent {
        Sent {
            fvrf: self.fvrf,
            local: self.local,
            remote: self.remote,
            data,
            msg,
        }
    }
}

pub(crate) enum MmState {
    IMm1(IMm1),
    /// MM2 accepted; our public value is being computed (`Action::ComputeDh`).
    IMm2(Box<RMm2>),
    IMm3(Box<IMm3>),
    /// MM4 accepted; g^xy is being computed.
    IMm4(Box<IMm4>),
    IMm5(Box<IMm5>),
    RMm2(RMm2),
    /// MM3 accepted; our public value and g^xy are being computed.
    RMm3(Box<RMm3>),
    RMm4(Box<RMm4>),
    /// Shared with the exchanges that run over it while they handle a message.
    Established(Arc<Established>),
    /// Not begun, negotiation failed, or SA deleted: the engine drops it.
    Failed,
}

pub(crate) struct IMm1 {
    /// Our SA payload body, for HASH_I/HASH_R.
    pub sa_i_b: Vec<u8>,
}

pub(crate) struct IMm3 {
    pub sa_i_b: Vec<u8>,
    pub suite: Suite,
    pub dh: DhPrivate,
    pub g_xi: Vec<u8>,
    pub ni: Vec<u8>,
}

/// Initiator: both public values and nonces known, g^xy on its way.
pub(crate) struct IMm4 {
    pub sa_i_b: Vec<u8>,
    pub suite: Suite,
    pub g_xi: Vec<u8>,
    pub g_xr: Vec<u8>,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
}

/// Responder: the initiator's public value and nonce known, ours on their way.
pub(crate) struct RMm3 {
    pub sa_i_b: Vec<u8>,
    pub suite: Suite,
    pub g_xi: Vec<u8>,
    pub ni: Vec<u8>,
    /// MM4 carries NAT-D payloads (the initiator sent some, RFC 3947 3.2).
    pub natd: bool,
}

/// After the key exchange: what checking the peer's hash and sending ours needs.
pub(crate) struct Keyed {
    pub sa_i_b: Vec<u8>,
    pub suite: Suite,
    pub g_xi: Vec<u8>,
    pub g_xr: Vec<u8>,
    pub keys: Phase1Keys,
    /// The CBC IV of the next encrypted message (RFC 2409 appendix B).
    pub iv: Vec<u8>,
}

/// Initiator: MM5 sent, waiting for MM6.
pub(crate) type IMm5 = Keyed;
/// Responder: MM4 sent, waiting for MM5.
pub(crate) type RMm4 = Keyed;

/// Responder: MM2 sent, waiting for MM3. (The initiator holds the same while its
/// public value is computed.)
pub(crate) struct RMm2 {
    pub sa_i_b: Vec<u8>,
    pub suite: Suite,
}

/// An ISAKMP SA that is up: what protects the Quick Mode and Informational exchanges
/// over it.
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

    /// Decrypt a message of an exchange over this SA with `iv` and check that it begins
    /// with the HASH `expected` computes from it, in constant time (RFC 2409 5.5, 5.7).
    /// Also returns the IV of the exchange's next message.
    pub(crate) fn open(
        &self,
        header: Header,
        data: &[u8],
        iv: &[u8],
        expected: impl FnOnce(&Inbound) -> Vec<u8>,
    ) -> Option<(Inbound, Vec<u8>)> {
        let (msg, next_iv) = Inbound::decrypt(header, data, &self.protection(), iv)?;
        let hash = msg.leading_hash()?;
        ct_eq(hash, &expected(&msg)).then_some((msg, next_iv))
    }

    /// Quick Mode HASH(1), and the Informational HASH(1) (RFC 2409 5.5, 5.7): `rest`
    /// is the message after the HASH payload.
    pub(crate) fn hash_1(&self, message_id: u32, rest: &[u8]) -> Vec<u8> {
        kdf::hash_qm1(self.suite.hash, self.skeyid_a(), message_id, rest)
    }

    /// Quick Mode HASH(2): over the initiator's nonce and the rest of QM2.
    pub(crate) fn hash_2(&self, message_id: u32, ni_b: &[u8], rest: &[u8]) -> Vec<u8> {
        kdf::hash_qm2(self.suite.hash, self.skeyid_a(), message_id, ni_b, rest)
    }

    /// Quick Mode HASH(3): over both nonces.
    pub(crate) fn hash_3(&self, message_id: u32, ni_b: &[u8], nr_b: &[u8]) -> Vec<u8> {
        kdf::hash_qm3(self.suite.hash, self.skeyid_a(), message_id, ni_b, nr_b)
    }

    fn skeyid_a(&self) -> &[u8] {
        self.keys.skeyid_a.as_bytes()
    }
}

impl MmState {
    pub(crate) fn ios_name(&self) -> IkeState {
        match self {
            MmState::IMm1(_) => IkeState::IMm1,
            MmState::IMm2(_) => IkeState::IMm2,
            MmState::IMm3(_) => IkeState::IMm3,
            MmState::IMm4(_) => IkeState::IMm4,
            MmState::IMm5(_) => IkeState::IMm5,
            MmState::RMm2(_) => IkeState::RMm2,
            MmState::RMm3(_) => IkeState::RMm3,
            MmState::RMm4(_) => IkeState::RMm4,
            MmState::Established(_) => IkeState::P1Complete,
            MmState::Failed => IkeState::Ready,
        }
    }

    /// `show crypto isakmp sa` state.
    pub(crate) fn show(&self) -> ShowState {
        match self {
            MmState::IMm1(_) | MmState::Failed => ShowState::MmNoState,
            MmState::IMm2(_) | MmState::IMm3(_) | MmState::RMm2(_) | MmState::RMm3(_) => {
                ShowState::MmSaSetup
            }
            MmState::IMm4(_) | MmState::IMm5(_) | MmState::RMm4(_) => ShowState::MmKeyExch,
            MmState::Established(_) => ShowState::QmIdle,
        }
    }

    fn suite(&self) -> Option<&Suite> {
        match self {
            MmState::IMm3(s) => Some(&s.suite),
            MmState::IMm4(s) => Some(&s.suite),
            MmState::IMm5(s) | MmState::RMm4(s) => Some(&s.suite),
            MmState::IMm2(s) => Some(&s.suite),
            MmState::RMm2(s) => Some(&s.suite),
            MmState::RMm3(s) => Some(&s.suite),
            MmState::Established(s) => Some(&s.suite),
            MmState::IMm1(_) | MmState::Failed => None,
        }
    }
}

/// The last `RECENT_IDS` message IDs seen, for telling a replay from a new message
/// in bounded memory (a replay of an older one still fails the R-U-THERE sequence
/// check, and Deletes and notifies are idempotent).
#[derive(Debug, Default)]
pub(crate) struct RecentIds {
    order: VecDeque<u32>,
    seen: HashSet<u32>,
}

const RECENT_IDS: usize = 64;

impl RecentIds {
    /// Remember `id`; false if it was seen already.
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > RECENT_IDS {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// RFC 3706 bookkeeping of an ISAKMP SA (see `liveness.rs`).
#[derive(Debug, Default)]
pub(crate) struct DpdState {
    /// Sequence number of the next R-U-THERE (random start, RFC 3706 5.5).
    pub next_seq: u32,
    /// The latest probe run: its first sequence number and how many were sent.
    pub run: Option<(u32, u32)>,
    /// That run is unanswered so far (nothing authenticated came from the peer).
    pub probing: bool,
}

impl DpdState {
    /// Is `seq` the answer to an R-U-THERE of the latest run? (Anything else, e.g. a
    /// copy of an older ACK, is tolerated and ignored.)
    pub(crate) fn answers(&self, seq: u32) -> bool {
        self.run
            .is_some_and(|(first, sent)| seq.wrapping_sub(first) < sent)
    }
}

/// One Quick Mode exchange over an ISAKMP SA.
pub(crate) struct QuickMode {
    pub message_id: u32,
    pub tunnel: String,
    pub role: Role,
    pub state: QmState,
    /// CBC IV chain of this exchange (RFC 2409 appendix B).
    pub iv: Vec<u8>,
    pub ex: Exchange,
    /// `Engine::event` number when it began (collision rule, see `child_complete`).
    pub started: u64,
}

pub(crate) enum QmState {
    /// Initiator waiting for its inbound SPI before QM1.
    ISpiStarve,
    /// Responder waiting for its inbound SPI before QM2.
    RSpiStarve(Box<RQm1>),
    IQm1(Box<IQm1>),
    RQm2(Box<RQm2>),
    /// Complete; kept to answer a retransmitted QM2 with QM3.
    Done,
    Failed,
}

pub(crate) struct RQm1 {
    pub choice: P2Choice,
    /// QM2's proposal: the chosen transform as received, our SPI to be filled in.
    pub reply: Proposal,
    pub send_lifetime: bool,
    pub ni: Vec<u8>,
    pub g_xi: Option<Vec<u8>>,
    pub ids: Option<(IdPayload, IdPayload)>,
}

pub(crate) struct IQm1 {
    pub spi_in: u32,
    pub ni: Vec<u8>,
    pub dh: Option<DhPrivate>,
    pub ids: (IdPayload, IdPayload),
}

pub(crate) struct RQm2 {
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub spi_in: u32,
    pub outbound: SaSpec,
}

impl QmState {
    pub(crate) fn ios_name(&self) -> IkeState {
        match self {
            QmState::ISpiStarve | QmState::RSpiStarve(_) => IkeState::QmSpiStarve,
            QmState::IQm1(_) => IkeState::QmIQm1,
            QmState::RQm2(_) => IkeState::QmRQm2,
            QmState::Done => IkeState::QmPhase2Complete,
            QmState::Failed => IkeState::QmReady,
        }
    }

    /// Still negotiating (not complete, not failed).
    pub(crate) fn in_progress(&self) -> bool {
        !matches!(self, QmState::Done | QmState::Failed)
    }
}

impl QuickMode {
    /// Our inbound SPI once we offered it (initiator) or accepted (responder).
    pub(crate) fn spi_in(&self) -> Option<u32> {
        match &self.state {
            QmState::IQm1(s) => Some(s.spi_in),
            QmState::RQm2(s) => Some(s.spi_in),
            _ => None,
        }
    }

    /// The peer's inbound SPI once we know it (responder).
    pub(crate) fn peer_spi(&self) -> Option<u32> {
        match &self.state {
            QmState::RSpiStarve(s) => Some(s.choice.peer_spi),
            QmState::RQm2(s) => Some(s.outbound.spi),
            _ => None,
        }
    }
}
