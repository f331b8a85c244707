//! Reliability of one exchange (RFC 2408 leaves it to the implementation): the last
//! message we sent is resent with exponential backoff until the next message arrives,
//! and a duplicate of the last message we processed is answered with the stored reply,
//! never processed twice.

use super::timer::{Timer, TimerTable};
use super::Action;
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
/// Transmissions of one message before giving up.
const MAX_TRANSMISSIONS: u32 = WAITS.len() as u32;

#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Vec<u8>,
    /// "MM3", "QM2": for log lines.
    pub what: &'static str,
}

#[derive(Debug, Default)]
pub(crate) struct Exchange {
    last_rx: Option<Vec<u8>>,
    /// What we sent last (the answer to `last_rx`, or a request awaiting one).
    last_tx: Option<Sent>,
    transmissions: u32,
    pub timers: TimerTable,
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
        if self.last_rx.as_deref() != Some(data) {
            return None;
        }
        Some(match &self.last_tx {
            Some(sent) => Duplicate::Answer(sent),
            None => Duplicate::Ignore,
        })
    }

    /// `data` moved the exchange on: stop resending our previous message.
    pub(crate) fn received(&mut self, data: &[u8]) {
        self.last_rx = Some(data.to_vec());
        self.last_tx = None;
        self.timers.stop(Timer::Retransmit);
    }

    /// Send `sent`; with `retransmit`, resend it until `received` is called.
    pub(crate) fn send(
        &mut self,
        now: Instant,
        out: &mut VecDeque<Action>,
        sent: Sent,
        retransmit: bool,
    ) {
        out.push_back(Action::Send {
            local: sent.local,
            remote: sent.remote,
            data: sent.data.clone(),
        });
        self.last_tx = Some(sent);
        self.transmissions = 1;
        if retransmit {
            self.timers.set(Timer::Retransmit, now + WAITS[0]);
        } else {
            self.timers.stop(Timer::Retransmit);
        }
    }

    /// The retransmit timer fired: resend (returning what and which transmission) or,
    /// after `MAX_TRANSMISSIONS`, `Err` with the message that got no answer.
    pub(crate) fn retransmit(
        &mut self,
        now: Instant,
        out: &mut VecDeque<Action>,
    ) -> Result<(&'static str, u32), (&'static str, u32)> {
        let Some(sent) = &self.last_tx else {
            return Err(("nothing", 0));
        };
        if self.transmissions >= MAX_TRANSMISSIONS {
            return Err((sent.what, self.transmissions));
        }
        self.transmissions += 1;
        out.push_back(Action::Send {
            local: sent.local,
            remote: sent.remote,
            data: sent.data.clone(),
        });
        self.timers.set(
            Timer::Retransmit,
            now + WAITS[self.transmissions as usize - 1],
        );
        Ok((sent.what, self.transmissions))
    }
}
