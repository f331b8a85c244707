//! NAT discovery (RFC 3947 section 3): NAT-D = HASH(CKY-I | CKY-R | IP | Port) with the
//! negotiated phase 1 hash. The first NAT-D a peer sends hashes the address it sent
//! the packet *to*; the others hash its own (source) addresses.

use crate::crypto::HashAlg;
use std::net::{IpAddr, SocketAddr};

/// UDP port IKE floats to once a NAT is detected (RFC 3947 section 4).
pub(crate) const NAT_T_PORT: u16 = 4500;

pub(crate) fn natd_hash(
    hash: HashAlg,
    icookie: &[u8; 8],
    rcookie: &[u8; 8],
    addr: SocketAddr,
) -> Vec<u8> {
    let ip: Vec<u8> = match addr.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    hash.hash(&[icookie, rcookie, &ip, &addr.port().to_be_bytes()])
}

/// What the peer's NAT-D payloads say about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NatStatus {
    /// Our address as the peer saw it is not the one we sent from.
    pub local_behind: bool,
    /// None of the peer's own addresses is the one its packet came from.
    pub peer_behind: bool,
}

impl NatStatus {
    pub(crate) fn detected(self) -> bool {
        self.local_behind || self.peer_behind
    }
}

/// The two NAT-D payloads we send: the peer's address first, then ours.
pub(crate) fn natd_payloads(
    hash: HashAlg,
    icookie: &[u8; 8],
    rcookie: &[u8; 8],
    local: SocketAddr,
    remote: SocketAddr,
) -> [Vec<u8>; 2] {
    [
        natd_hash(hash, icookie, rcookie, remote),
        natd_hash(hash, icookie, rcookie, local),
    ]
}

/// Compare the peer's NAT-D payloads (in received order) with the addresses of the
/// datagram that carried them. `None` when the peer sent none (no NAT-T).
pub(crate) fn check(
    hash: HashAlg,
    icookie: &[u8; 8],
    rcookie: &[u8; 8],
    local: SocketAddr,
    remote: SocketAddr,
    received: &[&[u8]],
) -> Option<NatStatus> {
    let (first, rest) = received.split_first()?;
    let ours = natd_hash(hash, icookie, rcookie, local);
    let theirs = natd_hash(hash, icookie, rcookie, remote);
    Some(NatStatus {
        local_behind: !crate::crypto::ct_eq(first, &ours),
        peer_behind: !rest.iter().any(|h| crate::crypto::ct_eq(h, &theirs)),
    })
}
