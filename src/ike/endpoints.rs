//! What tells tunnels apart: the local and the peer address, never the peer alone. A
//! branch with two uplinks has two tunnels (`tunnel source` on each) to one head-end
//! address, and a head-end with several addresses has several to one branch address.
//! Every lookup of the engine goes through this key: the ISAKMP SA serving a tunnel is
//! the one between the same two addresses, a Quick Mode over it can only be for a
//! tunnel between them, and INITIAL-CONTACT, DPD and Deletes act on that pair alone.
//! (The front-door VRF, `tunnel vrf`, will join the key.)

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The (local, peer) addresses of a tunnel, or of an SA serving one. Ports play no
/// part: an ISAKMP SA that floated to UDP 4500 (RFC 3947) still serves the same pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoints {
    pub local: IpAddr,
    pub peer: IpAddr,
}

impl Endpoints {
    pub fn new(local: IpAddr, peer: IpAddr) -> Endpoints {
        Endpoints { local, peer }
    }

    /// The pair a datagram travels between (our address, the sender's).
    pub fn of(local: SocketAddr, remote: SocketAddr) -> Endpoints {
        Endpoints::new(local.ip(), remote.ip())
    }
}

/// IOS's words for the pair (`debug crypto isakmp`: "local 192.0.2.1 remote 192.0.2.2").
impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local {} remote {}", self.local, self.peer)
    }
}
