//! Reliability of one exchange (RFC 2408 leaves it to the implementation): the last
//! message we sent is resent with exponential backoff until the next message arrives,
//! and a duplicate of the last message we processed is answered with the stored reply,
//! never processed twice. The message processed is remembered by its SHA-256 digest,
//! not kept (an MM1 may be 64 KB, and a responder may hold a thousand of them).

use super::state::{Role, ShowState};
use super::timer::{Timer, TimerTable};
use super::{Action, Fvrf};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long to wait for an answer after the first, second... transmission: short at
/// first (a lossy link loses single packets, and a handshake has five round trips to
/// finish within 30 s under 20% loss), then backing off. After the last wait the
/// exchange gives up: 50 s after the first transmission.
const WAITS: [Duration; 7] = [
    Duration::from_secs(2),
    Duration::from_secs(2),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
    Duration::from_secs(16),
];
/// The responder's MM2 and MM4 go to an address that has not authenticated: resent
/// twice at most, so that a spoofed MM1 or MM3 gets no more than three datagrams sent
/// to its victim; the negotiation then waits for the initiator's own retransmissions
/// (answered one for one) until 30 s after the reply was first sent (strongSwan's
/// `half_open_timeout`).
const REPLY_WAITS: [Duration; 3] = [
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(24),
];

/// The messages of Main Mode (RFC 2409 5) and Quick Mode (5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Msg {
    Mm1,
    Mm2,
    Mm3,
    Mm4,
    Mm5,
    Mm6,
    Qm1,
    Qm2,
    Qm3,
}

impl Msg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Msg::Mm1 => "MM1",
            Msg::Mm2 => "MM2",
            Msg::Mm3 => "MM3",
            Msg::Mm4 => "MM4",
            Msg::Mm5 => "MM5",
            Msg::Mm6 => "MM6",
            Msg::Qm1 => "QM1",
            Msg::Qm2 => "QM2",
            Msg::Qm3 => "QM3",
        }
    }

    /// Who sends it: the initiator sends the odd messages.
    pub(crate) fn sender(self) -> Role {
        match self {
            Msg::Mm1 | Msg::Mm3 | Msg::Mm5 | Msg::Qm1 | Msg::Qm3 => Role::Initiator,
            Msg::Mm2 | Msg::Mm4 | Msg::Mm6 | Msg::Qm2 => Role::Responder,
        }
    }

    /// The `show crypto isakmp sa` state IOS tags the packet with when sending it.
    pub(crate) fn show_state(self) -> ShowState {
        match self {
            Msg::Mm1 => ShowState::MmNoState,
            Msg::Mm2 | Msg::Mm3 => ShowState::MmSaSetup,
            Msg::Mm4 | Msg::Mm5 | Msg::Mm6 => ShowState::MmKeyExch,
            Msg::Qm1 | Msg::Qm2 | Msg::Qm3 => ShowState::QmIdle,
        }
    }

    /// The last message of an exchange is not resent on a timer: the other end resends
    /// its previous one if it is lost, and that duplicate is answered.
    fn retransmitted(self) -> bool {
        !matches!(self, Msg::Mm6 | Msg::Qm3)
    }

    /// How long to wait after each transmission; after the last, give up.
    fn waits(self) -> &'static [Duration] {
        match self {
            Msg::Mm2 | Msg::Mm4 => &REPLY_WAITS,
            _ => &WAITS,
        }
    }
}

/// What duplicates are recognised by.
type Digest = [u8; 32];

fn digest(data: &[u8]) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub fvrf: Option<Fvrf>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Vec<u8>,
    pub msg: Msg,
}

#[derive(Debug, Default)]
pub(crate) struct Exchange {
    last_rx: Option<Digest>,
    /// What we sent last (the answer to `last_rx`, or a request awaiting one).
    last_tx: Option<Sent>,
    transmissions: u32,
    pub timers: TimerTable,
}

/// What the retransmission timer did.
pub(crate) enum Retransmission {
    /// Sent the message again, for the n-th time.
    Resent(Msg, u32),
    /// No answer after n transmissions: the exchange failed.
    GaveUp(Msg, u32),
    /// Nothing awaits an answer.
    Nothing,
}

/// A duplicate of the last processed message.
pub(crate) enum Duplicate<'a> {
    /// Resend this (our answer to it).
    Answer(&'a Sent),
    /// Still working on it (e.g. waiting for an SPI) or nothing to answer.
    Ignore,
}

impl Exchange {
    /// Is `data` the message we processed last?
    pub(crate) fn duplicate(&self, data: &[u8]) -> Option<Duplicate<'_>> {
        if self.last_rx != Some(digest(data)) {
            return None;
        }
        Some(match &self.last_tx {
            Some(sent) => Duplicate::Answer(sent),
            None => Duplicate::Ignore,
        })
    }

    /// `data` moved the exchange on: stop resending our previous message.
    pub(crate) fn received(&mut self, data: &[u8]) {
        self.last_rx = Some(digest(data));
        self.last_tx = None;
        self.timers.stop(Timer::Retransmit);
    }

    /// Send `sent`; resend it until `received` is called, unless it ends the exchange.
    pub(crate) fn send(&mut self, now: Instant, out: &mut VecDeque<Action>, sent: Sent) {
        let retransmit = sent.msg.retransmitted();
        out.push_back(Action::Send {
            fvrf: sent.fvrf,
            local: sent.local,
            remote: sent.remote,
            data: sent.data.clone(),
        });
        let first_wait = sent.msg.waits()[0];
        self.last_tx = Some(sent);
        self.transmissions = 1;
        if retransmit {
            self.timers.set(Timer::Retransmit, now + first_wait);
        } else {
            self.timers.stop(Timer::Retransmit);
        }
    }

    /// The retransmit timer fired: resend, or after `MAX_TRANSMISSIONS` give up.
    pub(crate) fn retransmit(
        &mut self,
        now: Instant,
        out: &mut VecDeque<Action>,
    ) -> Retransmission {
        let Some(sent) = &self.last_tx else {
            return Retransmission::Nothing;
        };
        let waits = sent.msg.waits();
        if self.transmissions as usize >= waits.len() {
            return Retransmission::GaveUp(sent.msg, self.transmissions);
        }
        self.transmissions += 1;
        out.push_back(Action::Send {
            fvrf: sent.fvrf,
            local: sent.local,
            remote: sent.remote,
            data: sent.data.clone(),
        });
        self.timers.set(
            Timer::Retransmit,
            now + waits[self.transmissions as usize - 1],
        );
        Retransmission::Resent(sent.msg, self.transmissions)
    }
}
