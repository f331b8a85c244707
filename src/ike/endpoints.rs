//! What tells tunnels apart: the front-door VRF and the local and the peer address,
//! never the peer alone. A branch with two uplinks has two tunnels (`tunnel source` on
//! each) to one head-end address, a head-end with several addresses has several to one
//! branch address, and a router with two underlays (`tunnel vrf RED`, `tunnel vrf
//! GREEN`) may reach the same peer address in both: two different peers. Every lookup
//! of the engine goes through this key: the ISAKMP SA serving a tunnel is the one
//! between the same two addresses in the same VRF, a Quick Mode over it can only be for
//! a tunnel between them, and INITIAL-CONTACT, DPD and Deletes act on that pair alone.

use super::fvrf::Fvrf;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The (fvrf, local, peer) of a tunnel, or of an SA serving one. Ports play no part:
/// an ISAKMP SA that floated to UDP 4500 (RFC 3947) still serves the same pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoints {
    /// `tunnel vrf`: the VRF IKE and the outer packets travel in; `None`: the global
    /// table.
    pub fvrf: Option<Fvrf>,
    pub local: IpAddr,
    pub peer: IpAddr,
}

impl Endpoints {
    /// A pair in the global table.
    pub fn new(local: IpAddr, peer: IpAddr) -> Endpoints {
        Endpoints {
            fvrf: None,
            local,
            peer,
        }
    }

    /// The pair a datagram travels between (our address, the sender's), in the
    /// front-door VRF whose socket took it.
    pub fn of(fvrf: Option<Fvrf>, local: SocketAddr, remote: SocketAddr) -> Endpoints {
        Endpoints {
            fvrf,
            ..Endpoints::new(local.ip(), remote.ip())
        }
    }
}

/// IOS's words for the pair (`debug crypto isakmp`: "local 192.0.2.1 remote 192.0.2.2",
/// `fvrf RED` as `show crypto isakmp sa detail` adds it).
impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local {} remote {}", self.local, self.peer)?;
        match self.fvrf {
            Some(v) => write!(f, " fvrf {v}"),
            None => Ok(()),
        }
    }
}
