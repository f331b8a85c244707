//! The configuration model both dialects parse into. Values carry IOS 15.2's defaults
//! once parsed, and every item and every reference keeps the line that set it, so
//! validation and the engine's failures can name that line.

use super::error::ConfigWarning;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, HashAlg};
use crate::ipsec::InnerFamily;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `crypto isakmp key K address A [MASK]` / `address ipv6 P/L`: the engine's own type.
pub use crate::ike::settings::PresharedKey as Key;

/// A value and the line that set it (the item's own line for a default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub line: u32,
}

impl<T> At<T> {
    pub fn new(value: T, line: u32) -> Self {
        At { value, line }
    }
}

/// IOS 15.2 defaults (Cisco IOS Security Command Reference; the seed's MM1 shows the
/// phase 1 ones: a policy with only `authentication pre-share` offers DES/SHA/group 1).
pub mod defaults {
    use super::*;
    pub const P1_CIPHER: CipherAlg = CipherAlg::Des;
    pub const P1_HASH: HashAlg = HashAlg::Sha1;
    pub const P1_GROUP: DhGroup = DhGroup::Modp768;
    pub const P1_LIFETIME_S: u32 = 86_400;
    pub const P2_LIFETIME_S: u32 = 3_600;
    pub const P2_LIFETIME_KB: u64 = 4_608_000;
    /// Keepalive retry interval when `crypto isakmp keepalive S` names no R.
    pub const DPD_RETRY_S: u32 = 2;
    /// NAT-T keepalive interval when NAT is detected and none is configured.
    pub const NAT_KEEPALIVE_S: u32 = 20;
}

/// `crypto isakmp policy N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub priority: u32,
    pub line: u32,
    pub encryption: At<CipherAlg>,
    pub hash: At<HashAlg>,
    pub group: At<DhGroup>,
    pub lifetime_s: At<u32>,
    /// `authentication pre-share` present (IOS's default is rsa-sig, which we lack).
    pub pre_share: bool,
}

impl Policy {
    pub fn new(priority: u32, line: u32) -> Self {
        Policy {
            priority,
            line,
            encryption: At::new(defaults::P1_CIPHER, line),
            hash: At::new(defaults::P1_HASH, line),
            group: At::new(defaults::P1_GROUP, line),
            lifetime_s: At::new(defaults::P1_LIFETIME_S, line),
            pre_share: false,
        }
    }
}

/// `crypto isakmp keepalive S [R] [periodic|on-demand]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keepalive {
    pub interval_s: u32,
    pub retry_s: u32,
    pub periodic: bool,
    pub line: u32,
}

/// `crypto ipsec transform-set NAME t1 t2` with its `mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSet {
    pub name: String,
    pub line: u32,
    pub encryption: EspEncr,
    pub integrity: EspAuth,
    pub transport: bool,
}

/// `crypto ipsec profile NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub line: u32,
    /// `set transform-set A B`: names, each with its line, in order of preference.
    pub transform_sets: Vec<At<String>>,
    pub pfs: Option<At<DhGroup>>,
    pub lifetime_s: At<u32>,
    pub lifetime_kb: At<u64>,
}

impl Profile {
    pub fn new(name: String, line: u32) -> Self {
        Profile {
            name,
            line,
            transform_sets: Vec::new(),
            pfs: None,
            lifetime_s: At::new(defaults::P2_LIFETIME_S, line),
            lifetime_kb: At::new(defaults::P2_LIFETIME_KB, line),
        }
    }
}

/// `tunnel source`: resolved when the daemon starts (an interface's address may change).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TunnelSource {
    Interface(String),
    Address(IpAddr),
}

impl std::fmt::Display for TunnelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TunnelSource::Interface(name) => f.write_str(name),
            TunnelSource::Address(a) => write!(f, "{a}"),
        }
    }
}

/// `interface TunnelN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    pub number: u32,
    pub line: u32,
    pub description: Option<String>,
    pub ipv4: Option<At<(Ipv4Addr, u8)>>,
    pub ipv6: Vec<At<(Ipv6Addr, u8)>>,
    pub link_local: Option<At<Ipv6Addr>>,
    pub ip_mtu: Option<At<u32>>,
    pub ipv6_mtu: Option<At<u32>>,
    pub source: Option<At<TunnelSource>>,
    pub destination: Option<At<IpAddr>>,
    /// `tunnel mode ipsec ipv4|ipv6`: the outer family and the proxies' (0/0 or ::/0).
    pub mode: Option<At<InnerFamily>>,
    /// `tunnel protection ipsec profile P`.
    pub profile: Option<At<String>>,
    pub shutdown: bool,
}

impl Tunnel {
    pub fn new(number: u32, line: u32) -> Self {
        Tunnel {
            number,
            line,
            description: None,
            ipv4: None,
            ipv6: Vec::new(),
            link_local: None,
            ip_mtu: None,
            ipv6_mtu: None,
            source: None,
            destination: None,
            mode: None,
            profile: None,
            shutdown: false,
        }
    }

    /// The Linux interface name: IOS's canonical name.
    pub fn name(&self) -> String {
        tunnel_name(self.number)
    }
}

pub fn tunnel_name(number: u32) -> String {
    format!("Tunnel{number}")
}

/// `ip route P M TunnelN` / `ipv6 route P/L TunnelN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpAddr,
    pub prefix_len: u8,
    pub tunnel: u32,
    pub line: u32,
}

/// `debug crypto isakmp` / `debug crypto ipsec`: IOS exec commands, accepted in the file
/// to turn on the IOS-style debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DebugFlags {
    pub isakmp: bool,
    pub ipsec: bool,
}

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The file name diagnostics print.
    pub file: String,
    pub policies: Vec<Policy>,
    pub keys: Vec<Key>,
    pub keepalive: Option<Keepalive>,
    /// `crypto isakmp nat keepalive S`.
    pub nat_keepalive_s: Option<At<u32>>,
    pub transform_sets: Vec<TransformSet>,
    pub profiles: Vec<Profile>,
    pub tunnels: Vec<Tunnel>,
    pub routes: Vec<Route>,
    pub debug: DebugFlags,
    /// Accepted, but worth showing (`ikev1d check` prints them; `run` logs them).
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    pub fn transform_set(&self, name: &str) -> Option<&TransformSet> {
        self.transform_sets.iter().find(|t| t.name == name)
    }
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
    pub fn tunnel(&self, number: u32) -> Option<&Tunnel> {
        self.tunnels.iter().find(|t| t.number == number)
    }
}

/// The address family of an outer address, in the words of `tunnel mode ipsec`.
pub(crate) fn family_of(a: IpAddr) -> InnerFamily {
    match a {
        IpAddr::V4(_) => InnerFamily::V4,
        IpAddr::V6(_) => InnerFamily::V6,
    }
}

pub(crate) fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Prefix length of a contiguous IPv4 netmask (`255.255.255.0` -> 24).
pub(crate) fn mask_to_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// Does `addr` have bits set beyond `len`? (IOS: "Inconsistent address and mask".)
pub(crate) fn has_host_bits(addr: IpAddr, len: u8) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & !m != 0
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & !m != 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks() {
        assert_eq!(mask_to_len("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(mask_to_len("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(mask_to_len("255.255.255.255".parse().unwrap()), Some(32));
        assert_eq!(mask_to_len("255.0.255.0".parse().unwrap()), None);
        assert!(has_host_bits("10.1.0.0".parse().unwrap(), 8));
        assert!(!has_host_bits("10.0.0.0".parse().unwrap(), 8));
        assert!(!has_host_bits("0.0.0.0".parse().unwrap(), 0));
        assert!(!has_host_bits("::".parse().unwrap(), 0));
        assert!(has_host_bits("2001:db8::1".parse().unwrap(), 64));
    }
}
