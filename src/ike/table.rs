//! The ISAKMP SAs, indexed the ways a packet or a peer finds them, so that no input
//! scans the table (a responder on the Internet holds thousands of half-open entries):
//! by both cookies (every message after MM2), by initiator cookie while our MM1 awaits
//! its MM2, by (initiator cookie, local and peer address) for a responder's
//! retransmitted MM1, and by address pair (`Endpoints`: a spoke with thousands of
//! addresses has thousands of SAs with one hub address). It also counts what admission
//! control limits: negotiations in progress, per peer, and the responder's embryonic
//! ones (MM1 seen, nothing since) in age order; our own negotiations (what pacing
//! limits); and the peers with an SA up (whom admission favours).
//!
//! An exchange takes its SA out (`take`) and puts it back (`put_back`) when done: the
//! indexes follow what changed meanwhile (cookies learnt, state, address floated).

use super::phase1::{MmState, Phase1};
use super::state::Role;
use super::Endpoints;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

type Cookie = [u8; 8];

/// Where one SA is indexed, as of its last `insert` or `put_back`.
#[derive(Debug, Clone, Copy)]
struct Keys {
    icookie: Cookie,
    /// All zeros while our MM1 waits for MM2.
    rcookie: Cookie,
    role: Role,
    ends: Endpoints,
    negotiating: bool,
    established: bool,
    /// A responder that has seen MM1 and nothing since: its peer has not shown it
    /// receives at its address (MM3 carries our cookie), let alone authenticated.
    embryonic: bool,
    /// Admitted for a peer we knew (`Phase1::known_peer`).
    known_peer: bool,
    /// Insertion order, for evicting the oldest embryonic SA.
    seq: u64,
}

impl Keys {
    fn of(p1: &Phase1, seq: u64) -> Keys {
        Keys {
            icookie: p1.icookie,
            rcookie: p1.rcookie,
            role: p1.role,
            ends: p1.endpoints(),
            negotiating: p1.negotiating(),
            established: p1.established().is_some(),
            embryonic: p1.role == Role::Responder && matches!(p1.state, MmState::RMm2(_)),
            known_peer: p1.known_peer,
            seq,
        }
    }
}

#[derive(Default)]
pub(crate) struct Phase1Table {
    sas: BTreeMap<u32, Phase1>,
    keys: HashMap<u32, Keys>,
    by_cookies: HashMap<(Cookie, Cookie), u32>,
    awaiting_mm2: HashMap<Cookie, u32>,
    responders: HashMap<(Cookie, Endpoints), u32>,
    by_pair: HashMap<Endpoints, BTreeSet<u32>>,
    /// By peer address, in conn-id order (`show crypto isakmp sa peer`).
    by_peer: BTreeSet<(IpAddr, u32)>,
    /// Established SAs per peer address.
    established_with: HashMap<IpAddr, u32>,
    /// Negotiating responder SAs per peer address (the per-source admission limit).
    half_open_by_peer: HashMap<IpAddr, u32>,
    negotiating: usize,
    /// Negotiating SAs we initiated.
    initiating: usize,
    /// Embryonic responder SAs of peers we did not know, oldest first (what a
    /// stranger's MM1 may drop: a known peer's are bounded by the configuration); and
    /// every embryonic SA by peer, oldest first.
    embryonic: BTreeMap<u64, u32>,
    embryonic_by_peer: BTreeMap<(IpAddr, u64), u32>,
    next_seq: u64,
}

impl Phase1Table {
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// SAs still negotiating Main Mode (IOS "in-negotiation").
    pub(crate) fn negotiating(&self) -> usize {
        self.negotiating
    }

    /// Main Modes we initiated still under way (`pacing.rs` caps them).
    pub(crate) fn initiating(&self) -> usize {
        self.initiating
    }

    /// Is an ISAKMP SA up with `peer` (between any of our addresses and it)?
    pub(crate) fn established_with(&self, peer: IpAddr) -> bool {
        self.established_with.contains_key(&peer)
    }

    /// Negotiating SAs we respond to from `peer`.
    pub(crate) fn half_open_from(&self, peer: IpAddr) -> u32 {
        self.half_open_by_peer.get(&peer).copied().unwrap_or(0)
    }

    /// The oldest embryonic responder SA: from `peer` if given, else of a peer we did
    /// not know when it was admitted.
    pub(crate) fn oldest_embryonic(&self, peer: Option<IpAddr>) -> Option<u32> {
        match peer {
            None => self.embryonic.values().next().copied(),
            Some(peer) => self
                .embryonic_by_peer
                .range((peer, 0)..=(peer, u64::MAX))
                .map(|(_, id)| *id)
                .next(),
        }
    }

    pub(crate) fn insert(&mut self, p1: Phase1) {
        let id = p1.conn_id;
        self.unindex(id);
        self.next_seq += 1;
        self.index(id, Keys::of(&p1, self.next_seq));
        self.sas.insert(id, p1);
    }

    /// Take an SA out to work on it; its index entries stay until `put_back` or
    /// `remove`.
    pub(crate) fn take(&mut self, id: u32) -> Option<Phase1> {
        self.sas.remove(&id)
    }

    /// Put back an SA taken out, indexed as it is now.
    pub(crate) fn put_back(&mut self, p1: Phase1) {
        let id = p1.conn_id;
        let seq = match self.unindex(id) {
            Some(k) => k.seq,
            None => {
                self.next_seq += 1;
                self.next_seq
            }
        };
        self.index(id, Keys::of(&p1, seq));
        self.sas.insert(id, p1);
    }

    /// Forget an SA (in the table or taken out).
    pub(crate) fn remove(&mut self, id: u32) -> Option<Phase1> {
        self.unindex(id);
        self.sas.remove(&id)
    }

    /// Every SA, emptying the table.
    pub(crate) fn drain(&mut self) -> Vec<Phase1> {
        let sas = std::mem::take(&mut self.sas);
        *self = Phase1Table {
            next_seq: self.next_seq,
            ..Default::default()
        };
        sas.into_values().collect()
    }

    pub(crate) fn get(&self, id: u32) -> Option<&Phase1> {
        self.sas.get(&id)
    }

    /// For changes that move no index entry (pending tunnels, Quick Modes).
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut Phase1> {
        self.sas.get_mut(&id)
    }

    /// In conn-id order (`show crypto isakmp sa`).
    pub(crate) fn values(&self) -> impl Iterator<Item = &Phase1> {
        self.sas.values()
    }

    /// For changes that move no index entry.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Phase1> {
        self.sas.values_mut()
    }

    /// The SAs between these two addresses, in conn-id order.
    pub(crate) fn of_pair(&self, ends: Endpoints) -> impl Iterator<Item = &Phase1> {
        self.by_pair
            .get(&ends)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sas.get(id))
    }

    /// The SAs with this peer address, in conn-id order.
    pub(crate) fn of_peer(&self, peer: IpAddr) -> impl Iterator<Item = &Phase1> {
        self.by_peer
            .range((peer, 0)..=(peer, u32::MAX))
            .filter_map(|(_, id)| self.sas.get(id))
    }

    /// By both cookies; an initiator still waiting for MM2 by its own.
    pub(crate) fn find(&self, icookie: Cookie, rcookie: Cookie) -> Option<u32> {
        self.by_cookies
            .get(&(icookie, rcookie))
            .or_else(|| self.awaiting_mm2.get(&icookie))
            .copied()
    }

    /// Our responder SA for an MM1 (a retransmission) between these addresses.
    pub(crate) fn responder(&self, icookie: Cookie, ends: Endpoints) -> Option<u32> {
        self.responders.get(&(icookie, ends)).copied()
    }

    fn index(&mut self, id: u32, k: Keys) {
        if k.rcookie == [0; 8] {
            self.awaiting_mm2.insert(k.icookie, id);
        } else {
            self.by_cookies.insert((k.icookie, k.rcookie), id);
        }
        if k.role == Role::Responder {
            self.responders.insert((k.icookie, k.ends), id);
            if k.negotiating {
                *self.half_open_by_peer.entry(k.ends.peer).or_default() += 1;
            }
        }
        self.by_pair.entry(k.ends).or_default().insert(id);
        self.by_peer.insert((k.ends.peer, id));
        if k.established {
            *self.established_with.entry(k.ends.peer).or_default() += 1;
        }
        if k.negotiating {
            self.negotiating += 1;
            if k.role == Role::Initiator {
                self.initiating += 1;
            }
        }
        if k.embryonic {
            if !k.known_peer {
                self.embryonic.insert(k.seq, id);
            }
            self.embryonic_by_peer.insert((k.ends.peer, k.seq), id);
        }
        self.keys.insert(id, k);
    }

    fn unindex(&mut self, id: u32) -> Option<Keys> {
        let k = self.keys.remove(&id)?;
        fn drop_if<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: &K, id: u32) {
            if map.get(key) == Some(&id) {
                map.remove(key);
            }
        }
        drop_if(&mut self.awaiting_mm2, &k.icookie, id);
        drop_if(&mut self.by_cookies, &(k.icookie, k.rcookie), id);
        if k.role == Role::Responder {
            drop_if(&mut self.responders, &(k.icookie, k.ends), id);
            if k.negotiating {
                decrement(&mut self.half_open_by_peer, k.ends.peer);
            }
        }
        if let Some(ids) = self.by_pair.get_mut(&k.ends) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_pair.remove(&k.ends);
            }
        }
        self.by_peer.remove(&(k.ends.peer, id));
        if k.established {
            decrement(&mut self.established_with, k.ends.peer);
        }
        if k.negotiating {
            self.negotiating -= 1;
            if k.role == Role::Initiator {
                self.initiating -= 1;
            }
        }
        if k.embryonic {
            self.embryonic.remove(&k.seq);
            self.embryonic_by_peer.remove(&(k.ends.peer, k.seq));
        }
        Some(k)
    }
}

/// One fewer for `peer`, forgetting it at zero.
fn decrement(counts: &mut HashMap<IpAddr, u32>, peer: IpAddr) {
    if let Some(n) = counts.get_mut(&peer) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&peer);
        }
    }
}
