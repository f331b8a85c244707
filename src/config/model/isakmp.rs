//! Keyrings and ISAKMP profiles: which pre-shared key, keepalive and identity apply to
//! which peer (Cisco "ISAKMP Profile" and "VRF-Aware IPsec" configuration guides).

use super::{At, Keepalive, Key, TunnelSource};

/// `crypto keyring NAME [vrf V]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    pub name: String,
    pub line: u32,
    /// The front-door VRF the keyring serves (IOS: keys of the global VRF otherwise).
    pub vrf: Option<At<String>>,
    /// `local-address IF | A`: only negotiations on that local address use it.
    pub local_address: Option<At<TunnelSource>>,
    pub description: Option<String>,
    /// `pre-shared-key address A [MASK] key K` / `address ipv6 P/L key K`.
    pub keys: Vec<Key>,
}

impl Keyring {
    pub fn new(name: String, line: u32) -> Self {
        Keyring {
            name,
            line,
            vrf: None,
            local_address: None,
            description: None,
            keys: Vec::new(),
        }
    }
}

/// `match identity ...` in an ISAKMP profile: the engine's own type.
pub use crate::ike::settings::IdentityMatch;

/// `crypto isakmp identity address | hostname` (global).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Address,
    /// ID_FQDN: `hostname` and `ip domain name`.
    Hostname,
}

/// `self-identity address | fqdn | user-fqdn U` in an ISAKMP profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfIdentity {
    Address,
    /// The router's FQDN (`hostname`.`ip domain name`).
    Fqdn,
    UserFqdn(String),
}

/// `crypto isakmp profile NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsakmpProfile {
    pub name: String,
    pub line: u32,
    pub description: Option<String>,
    /// `keyring K` lines: the keyrings whose keys may authenticate the profile's peers
    /// (any keyring when none is named).
    pub keyrings: Vec<At<String>>,
    pub matches: Vec<At<IdentityMatch>>,
    /// `keepalive S retry R`: DPD for this profile's peers, over the global one.
    pub keepalive: Option<Keepalive>,
    pub self_identity: Option<At<SelfIdentity>>,
    pub local_address: Option<At<TunnelSource>>,
    /// `vrf V`: the inside VRF of the profile's tunnels.
    pub vrf: Option<At<String>>,
    /// `virtual-template N`: dynamic VTI, one Virtual-Access interface per peer.
    pub virtual_template: Option<At<u32>>,
    /// Lines IOS accepts that ikev1d cannot honour (`initiate mode aggressive`,
    /// `match certificate`, ...): an error once a tunnel uses the profile.
    pub unsupported: Vec<super::Unsupported>,
}

impl IsakmpProfile {
    pub fn new(name: String, line: u32) -> Self {
        IsakmpProfile {
            name,
            line,
            description: None,
            keyrings: Vec::new(),
            matches: Vec::new(),
            keepalive: None,
            self_identity: None,
            local_address: None,
            vrf: None,
            virtual_template: None,
            unsupported: Vec::new(),
        }
    }
}
