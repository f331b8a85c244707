//! MODP Diffie-Hellman groups (RFC 2409 groups 1, 2; RFC 3526 groups 5, 14, 15, 16).
//! Our exponentiation is constant-time (crypto-bigint Montgomery form); peer public
//! values are validated 1 < y < p-1.

use super::{CryptoError, Rng, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhGroup {
    Modp768,
    Modp1024,
    Modp1536,
    Modp2048,
    Modp3072,
    Modp4096,
}

impl DhGroup {
    pub const ALL: [DhGroup; 6] = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
    ];
    /// Group number (IKE attribute 4, IPsec attribute 3): 1, 2, 5, 14, 15, 16.
    pub fn id(self) -> u16 {
        todo!()
    }
    pub fn from_id(id: u16) -> Option<Self> {
        let _ = id;
        todo!()
    }
    /// Length of public values and of the shared secret in bytes (the prime's length).
    pub fn value_len(self) -> usize {
        todo!()
    }
}

/// Our DH private exponent; zeroized on drop. `complete` spends it once.
pub struct DhPrivate {
    group: DhGroup,
    _x: Secret,
}

impl std::fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhPrivate({:?})", self.group)
    }
}

impl DhPrivate {
    pub fn generate(group: DhGroup, rng: &mut dyn Rng) -> Self {
        let _ = (group, rng);
        todo!()
    }
    /// Build from a known exponent (tests against captures).
    pub fn from_exponent(group: DhGroup, x: &[u8]) -> Self {
        let _ = (group, x);
        todo!()
    }
    pub fn group(&self) -> DhGroup {
        self.group
    }
    /// g^x mod p, left-padded to `group.value_len()` bytes (the KE payload body).
    pub fn public_value(&self) -> Vec<u8> {
        todo!()
    }
    /// g^xy mod p, left-padded to `group.value_len()` bytes; rejects y outside 1 < y < p-1.
    pub fn complete(self, peer_public: &[u8]) -> Result<Secret, CryptoError> {
        let _ = peer_public;
        todo!()
    }
}
