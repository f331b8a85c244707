//! What the engine needs to know, derived from the configuration (IOS dialect or TOML).
//! Every item remembers the configuration line that governs it, so failures can name it.

use crate::crypto::{CipherAlg, DhGroup, EspTransform, HashAlg, Secret};
use crate::ipsec::InnerFamily;
use std::net::IpAddr;

/// Where an item came from: file and 1-based line ("line 0" = a built-in default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str("default")
        } else {
            write!(f, "line {}", self.line)
        }
    }
}

/// `crypto isakmp policy N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsakmpPolicy {
    pub priority: u32,
    pub cipher: CipherAlg,
    pub hash: HashAlg,
    pub group: DhGroup,
    pub lifetime_s: u32,
    pub origin: Origin,
}

/// `crypto isakmp key K address A [MASK]` / `address ipv6 P/L`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresharedKey {
    pub key: Secret,
    pub address: IpAddr,
    pub prefix_len: u8,
    pub origin: Origin,
}

impl PresharedKey {
    /// Does this key apply to `peer`? (IOS picks the longest matching prefix.)
    pub fn matches(&self, peer: IpAddr) -> bool {
        fn masked(bytes: &[u8], prefix: u8) -> Vec<u8> {
            bytes
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let bits = (prefix as i32 - 8 * i as i32).clamp(0, 8) as u32;
                    if bits == 0 {
                        0
                    } else {
                        b & (0xffu8 << (8 - bits))
                    }
                })
                .collect()
        }
        match (self.address, peer) {
            (IpAddr::V4(a), IpAddr::V4(p)) => {
                masked(&a.octets(), self.prefix_len) == masked(&p.octets(), self.prefix_len)
            }
            (IpAddr::V6(a), IpAddr::V6(p)) => {
                masked(&a.octets(), self.prefix_len) == masked(&p.octets(), self.prefix_len)
            }
            _ => false,
        }
    }
}

/// `crypto ipsec transform-set NAME t1 t2` (+ `mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSet {
    pub name: String,
    pub transform: EspTransform,
    /// `mode transport`: IOS still negotiates tunnel on a VTI; kept for diagnostics.
    pub transport: bool,
    pub origin: Origin,
}

/// `crypto isakmp keepalive S [R] [periodic|on-demand]` (RFC 3706 DPD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dpd {
    pub interval_s: u32,
    pub retry_s: u32,
    pub periodic: bool,
    pub origin: Origin,
}

/// One `interface TunnelN` with `tunnel protection ipsec profile P`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSettings {
    pub name: String,
    pub local: IpAddr,
    pub peer: IpAddr,
    /// Proxy identities: ::/0 for ipv6, 0.0.0.0/0 for ipv4 (any protocol).
    pub inner: InnerFamily,
    /// The profile's transform sets in order of preference.
    pub transform_sets: Vec<TransformSet>,
    pub pfs: Option<DhGroup>,
    /// `set pfs` line (the profile's line when PFS is not configured).
    pub pfs_origin: Origin,
    pub lifetime_s: u32,
    pub lifetime_kb: u64,
    /// `interface TunnelN` line.
    pub origin: Origin,
    /// `crypto ipsec profile P` line.
    pub profile_origin: Origin,
    /// `tunnel destination` line.
    pub destination_origin: Origin,
    /// `shutdown`: configured but neither initiates nor accepts.
    pub shutdown: bool,
}

/// The engine's whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// In priority order (lowest number first).
    pub policies: Vec<IsakmpPolicy>,
    pub keys: Vec<PresharedKey>,
    pub tunnels: Vec<TunnelSettings>,
    pub dpd: Option<Dpd>,
    pub nat_keepalive_s: Option<u32>,
    /// Respond only (`--passive`): never initiate.
    pub passive: bool,
}

impl Settings {
    /// The pre-shared key for `peer`: the longest matching prefix, as IOS does.
    pub fn key_for(&self, peer: IpAddr) -> Option<&PresharedKey> {
        self.keys
            .iter()
            .filter(|k| k.matches(peer))
            .max_by_key(|k| k.prefix_len)
    }
}
