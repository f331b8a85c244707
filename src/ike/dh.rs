//! Diffie-Hellman off the event loop. A Main Mode key exchange costs one or two
//! modular exponentiations (milliseconds each in the MODP groups): done inline, a flood
//! of MM3s from addresses an attacker owns would hold up every established tunnel's
//! rekeys, DPD and `show`. So the engine draws the private value (cheap), hands the
//! exponentiations to the daemon as `Action::ComputeDh`, and goes on with the exchange
//! when `Command::DhComputed` brings the result (like `AllocSpi` / `SpiAllocated`).
//! In-memory tests run `DhJob::run` inline.
//!
//! Admission: jobs for peers we know (a configured tunnel destination, an SA up with
//! it, or an exchange we began) are `urgent` (the daemon's workers take them first) and
//! not limited; at most `UNSOLICITED_JOBS` others are outstanding, and an MM3 beyond
//! that is dropped unanswered (the initiator resends it).

use super::error::Misbehaviour;
use super::phase1::Phase1;
use super::Engine;
use crate::crypto::{CryptoError, DhPrivate, Secret};
use std::net::IpAddr;

/// Outstanding jobs for peers we know nothing of, at most.
pub(crate) const UNSOLICITED_JOBS: usize = 16;

/// One key exchange's exponentiations: our public value and, given the peer's, the
/// shared secret.
pub struct DhJob {
    pub id: u64,
    /// For a peer we know: ahead of the others.
    pub urgent: bool,
    private: DhPrivate,
    peer_public: Option<Vec<u8>>,
}

impl std::fmt::Debug for DhJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhJob")
            .field("id", &self.id)
            .field("urgent", &self.urgent)
            .field("group", &self.private.group())
            .finish()
    }
}

/// What a `DhJob` computed: the results the exchange was waiting for.
pub struct DhDone {
    pub id: u64,
    pub(crate) public: Vec<u8>,
    /// g^xy, when the peer's value was given.
    shared: Option<Result<Secret, CryptoError>>,
    /// The private value, when it is still needed (no peer value yet).
    pub(crate) private: Option<DhPrivate>,
}

impl std::fmt::Debug for DhDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhDone({})", self.id)
    }
}

impl DhJob {
    /// The exponentiations (on a worker thread).
    pub fn run(self) -> DhDone {
        let public = self.private.public_value();
        let (shared, private) = match &self.peer_public {
            Some(peer) => (Some(self.private.complete(peer)), None),
            None => (None, Some(self.private)),
        };
        DhDone {
            id: self.id,
            public,
            shared,
            private,
        }
    }
}

impl DhDone {
    /// g^xy; `InvalidKeyExchange` when the peer's value is not in the group.
    pub(crate) fn shared_secret(&mut self) -> Result<Secret, Misbehaviour> {
        match self.shared.take() {
            Some(Ok(secret)) => Ok(secret),
            _ => Err(Misbehaviour::InvalidKeyExchange),
        }
    }
}

/// Outstanding jobs: which SA each is for, and how many are unsolicited.
#[derive(Default)]
pub(crate) struct DhJobs {
    next: u64,
    owners: std::collections::HashMap<u64, (u32, bool)>,
    unsolicited: usize,
}

impl DhJobs {
    /// Room for one more job that is not urgent?
    pub(crate) fn has_room(&self) -> bool {
        self.unsolicited < UNSOLICITED_JOBS
    }

    /// SA `conn_id` is gone: its jobs' results will be dropped, and count no more.
    pub(crate) fn forget(&mut self, conn_id: u32) {
        let unsolicited = &mut self.unsolicited;
        self.owners.retain(|_, (id, urgent)| {
            let mine = *id == conn_id;
            if mine && !*urgent {
                *unsolicited -= 1;
            }
            !mine
        });
    }
}

impl Engine {
    /// Is `peer` one we know: a configured tunnel destination, or an ISAKMP SA up with
    /// it? (Its key exchanges go first; admission control does not refuse it.)
    pub(super) fn known_peer(&self, peer: IpAddr) -> bool {
        self.tunnel_index.per_peer.contains_key(&peer) || self.phase1.established_with(peer)
    }

    /// Ask the daemon for `private`'s public value (and g^xy with `peer_public`).
    pub(super) fn compute_dh(
        &mut self,
        p1: &Phase1,
        private: DhPrivate,
        peer_public: Option<Vec<u8>>,
        urgent: bool,
    ) {
        self.dh.next += 1;
        let id = self.dh.next;
        self.dh.owners.insert(id, (p1.conn_id, urgent));
        if !urgent {
            self.dh.unsolicited += 1;
        }
        self.actions.push_back(super::Action::ComputeDh(DhJob {
            id,
            urgent,
            private,
            peer_public,
        }));
    }

    /// `Command::DhComputed`: the exchange that asked goes on (if it is still there).
    pub(super) fn on_dh_computed(&mut self, now: std::time::Instant, done: DhDone) {
        let Some((conn_id, urgent)) = self.dh.owners.remove(&done.id) else {
            return;
        };
        if !urgent {
            self.dh.unsolicited -= 1;
        }
        self.with_phase1(conn_id, |e, p1| e.key_exchange_done(now, p1, done));
    }
}
