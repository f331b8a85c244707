//! The IPsec SA pairs, indexed the ways an input finds them, so that nothing run per
//! datagram or per timer tick scans them all (a DVTI hub holds a pair or two for each
//! of thousands of spokes): by inbound SPI (its timers, the peer's Delete, our own
//! rekeys), by tunnel (the pair its traffic uses, the Virtual-Access still in use) and
//! by address pair (`Endpoints`: does an ISAKMP SA protect anything, DPD, INITIAL-
//! CONTACT) and by peer address (`show crypto ipsec sa peer`). Like `table.rs` for the ISAKMP SAs, the indexes are kept in one place
//! (`insert` and `remove`); a pair's keys (inbound SPI, tunnel, addresses) never change
//! once it is in.
//!
//! Pairs are visited in the order they came in (`show crypto ipsec sa`, shutdown, the
//! older pairs a new one replaces), as before they were indexed.

use super::child::ChildSa;
use super::Endpoints;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

#[derive(Default)]
pub(crate) struct ChildTable {
    /// By arrival order.
    pairs: BTreeMap<u64, ChildSa>,
    by_spi: HashMap<u32, u64>,
    by_tunnel: HashMap<String, BTreeSet<u64>>,
    by_ends: HashMap<Endpoints, BTreeSet<u64>>,
    by_peer: HashMap<IpAddr, BTreeSet<u64>>,
    next_seq: u64,
}

impl ChildTable {
    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// A new pair; one with the same inbound SPI is replaced.
    pub(crate) fn insert(&mut self, c: ChildSa) {
        self.remove(c.spi_in);
        self.next_seq += 1;
        let seq = self.next_seq;
        self.by_spi.insert(c.spi_in, seq);
        self.by_tunnel
            .entry(c.tunnel.clone())
            .or_default()
            .insert(seq);
        self.by_ends.entry(c.endpoints()).or_default().insert(seq);
        self.by_peer
            .entry(c.endpoints().peer)
            .or_default()
            .insert(seq);
        self.pairs.insert(seq, c);
    }

    pub(crate) fn remove(&mut self, spi_in: u32) -> Option<ChildSa> {
        let seq = self.by_spi.remove(&spi_in)?;
        let c = self.pairs.remove(&seq)?;
        unindex(&mut self.by_tunnel, &c.tunnel, seq);
        unindex(&mut self.by_ends, &c.endpoints(), seq);
        unindex(&mut self.by_peer, &c.endpoints().peer, seq);
        Some(c)
    }

    pub(crate) fn get(&self, spi_in: u32) -> Option<&ChildSa> {
        self.pairs.get(self.by_spi.get(&spi_in)?)
    }

    /// For changes that move no index entry (its keys stay as inserted).
    pub(crate) fn get_mut(&mut self, spi_in: u32) -> Option<&mut ChildSa> {
        self.pairs.get_mut(self.by_spi.get(&spi_in)?)
    }

    pub(crate) fn contains(&self, spi_in: u32) -> bool {
        self.by_spi.contains_key(&spi_in)
    }

    /// Every pair, in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ChildSa> {
        self.pairs.values()
    }

    /// The pairs of `tunnel`, in arrival order.
    pub(crate) fn of_tunnel(&self, tunnel: &str) -> impl Iterator<Item = &ChildSa> {
        self.visit(self.by_tunnel.get(tunnel))
    }

    pub(crate) fn has_tunnel(&self, tunnel: &str) -> bool {
        self.by_tunnel.contains_key(tunnel)
    }

    /// The pairs between these two addresses, in arrival order.
    pub(crate) fn of_pair(&self, ends: Endpoints) -> impl Iterator<Item = &ChildSa> {
        self.visit(self.by_ends.get(&ends))
    }

    /// The pairs with this peer address (of any of our addresses and VRFs), in arrival
    /// order.
    pub(crate) fn of_peer(&self, peer: IpAddr) -> impl Iterator<Item = &ChildSa> {
        self.visit(self.by_peer.get(&peer))
    }

    /// Is any pair up (or coming up) between these two addresses?
    pub(crate) fn any_between(&self, ends: Endpoints) -> bool {
        self.by_ends.contains_key(&ends)
    }

    /// Change the pairs between these two addresses (not their keys).
    pub(crate) fn update_pair(&mut self, ends: Endpoints, mut f: impl FnMut(&mut ChildSa)) {
        for seq in self.by_ends.get(&ends).into_iter().flatten() {
            if let Some(c) = self.pairs.get_mut(seq) {
                f(c);
            }
        }
    }

    fn visit<'a>(&'a self, seqs: Option<&'a BTreeSet<u64>>) -> impl Iterator<Item = &'a ChildSa> {
        seqs.into_iter()
            .flatten()
            .filter_map(|seq| self.pairs.get(seq))
    }
}

/// Forget `seq` under `key`, and the key with its last entry.
fn unindex<K, Q>(index: &mut HashMap<K, BTreeSet<u64>>, key: &Q, seq: u64)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(seqs) = index.get_mut(key) {
        seqs.remove(&seq);
        if seqs.is_empty() {
            index.remove(key);
        }
    }
}
