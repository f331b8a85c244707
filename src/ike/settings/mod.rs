//! What the engine needs to know, derived from the configuration (IOS dialect or TOML).
//! Every item remembers the configuration line that governs it, so failures can name it.

#[cfg(test)]
pub(crate) mod fixtures;
mod isakmp_profile;
mod keyring;

pub use isakmp_profile::{IdentityMatch, IsakmpProfile, LocalIdentity, PeerIdentity};
pub use keyring::{KeyChoice, KeySource, Keyring, Lookup};

use crate::crypto::{CipherAlg, DhGroup, EspTransform, HashAlg, Secret};
use crate::ipsec::InnerFamily;
use std::net::IpAddr;

/// Where an item came from: file and 1-based line ("line 0" = a built-in default).
/// Not part of the item's value: two settings that differ only in where they were
/// written are equal, so that a reload which moves lines (a tunnel added above
/// thousands of others) changes no tunnel (issue 14). So `assert_eq!` on two Origins,
/// or on items holding them, says nothing about their lines: compare `.line` itself.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub file: String,
    pub line: u32,
}

impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}
impl Eq for Origin {}

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
        prefix_contains(self.address, self.prefix_len, peer)
    }
}

/// Is `addr` inside `net/len` (same family)?
pub fn prefix_contains(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    fn masked(bytes: &[u8], prefix: u8) -> Vec<u8> {
        bytes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let bits = (i32::from(prefix) - 8 * i as i32).clamp(0, 8) as u32;
                if bits == 0 {
                    0
                } else {
                    b & (0xffu8 << (8 - bits))
                }
            })
            .collect()
    }
    match (net, addr) {
        (IpAddr::V4(a), IpAddr::V4(p)) => masked(&a.octets(), len) == masked(&p.octets(), len),
        (IpAddr::V6(a), IpAddr::V6(p)) => masked(&a.octets(), len) == masked(&p.octets(), len),
        _ => false,
    }
}

/// `crypto ipsec transform-set NAME t1 t2` (+ `mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSet {
    pub name: String,
    pub transform: EspTransform,
    /// `mode transport`: proposed and accepted on GRE tunnels; a VTI negotiates tunnel
    /// mode whatever the set says (IOS too).
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
    /// The Linux interface's name (IOS's, `TuN` beyond 15 characters).
    pub name: String,
    pub local: IpAddr,
    pub peer: IpAddr,
    /// Proxy identities: ::/0 for ipv6, 0.0.0.0/0 for ipv4 (any protocol). With
    /// `tunnel mode ipsec ipv4 v6-overlay` it differs from the outer family.
    pub inner: InnerFamily,
    /// The profile's transform sets in order of preference.
    pub transform_sets: Vec<TransformSet>,
    pub pfs: Option<DhGroup>,
    /// `set pfs` line (the profile's line when PFS is not configured).
    pub pfs_origin: Origin,
    pub lifetime_s: u32,
    /// `u64::MAX`: `set security-association lifetime kilobytes disable` (no volume
    /// lifetime offered or enforced).
    pub lifetime_kb: u64,
    /// `interface TunnelN` line.
    pub origin: Origin,
    /// `crypto ipsec profile P` line.
    pub profile_origin: Origin,
    /// `tunnel destination` line.
    pub destination_origin: Origin,
    /// `shutdown`: configured but neither initiates nor accepts.
    pub shutdown: bool,
    /// The rest of the profile's and interface's lines.
    pub options: TunnelOptions,
}

/// What a tunnel's IOS lines say beyond the proposal, carried for the engine (IOS's
/// defaults in `Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelOptions {
    /// `set isakmp-profile P` in the ipsec profile.
    pub isakmp_profile: Option<String>,
    /// ESP anti-replay window in packets (`set security-association replay
    /// window-size`); 0: `replay disable`.
    pub replay_window: u32,
    /// `set security-association idle-time S`: delete the SA pair after S seconds
    /// without traffic.
    pub idle_time_s: Option<u32>,
    /// `responder-only` in the ipsec profile: never initiate.
    pub responder_only: bool,
    /// `tunnel vrf V`: the VRF of IKE and the outer packets ("fvrf").
    pub fvrf: Option<String>,
    /// `vrf forwarding V`: the VRF of the tunnel interface ("ivrf").
    pub ivrf: Option<String>,
    /// `tunnel mode gre ip|ipv6` (IOS's default): the proxy identities are the
    /// endpoints, protocol 47, and transport mode is proposed where the transform set
    /// says `mode transport`.
    pub gre: bool,
    /// The words after `tunnel mode` ("ipsec ipv6", "gre ip"), for `show`.
    pub tunnel_mode: &'static str,
}

impl TunnelSettings {
    /// What tells this tunnel from the others (see `Endpoints`).
    pub fn endpoints(&self) -> super::Endpoints {
        super::Endpoints {
            fvrf: super::Fvrf::of(self.options.fvrf.as_deref()),
            ..super::Endpoints::new(self.local, self.peer)
        }
    }
}

impl Default for TunnelOptions {
    fn default() -> Self {
        TunnelOptions {
            isakmp_profile: None,
            replay_window: 64,
            idle_time_s: None,
            responder_only: false,
            fvrf: None,
            ivrf: None,
            gre: false,
            tunnel_mode: "ipsec ipv6",
        }
    }
}

/// `crypto call admission limit ike in-negotiation-sa N` / `ike sa N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admission {
    pub in_negotiation_sa: Option<u32>,
    pub sa: Option<u32>,
}

/// The engine's whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// In priority order (lowest number first).
    pub policies: Vec<IsakmpPolicy>,
    /// `crypto isakmp key`: IOS's default keyring (global VRF, any local address).
    pub keys: Vec<PresharedKey>,
    /// `crypto keyring`, in configuration order.
    pub keyrings: Vec<Keyring>,
    /// `crypto isakmp profile`, in configuration order.
    pub isakmp_profiles: Vec<IsakmpProfile>,
    /// `crypto isakmp identity`: what phase 1 sends where no profile says otherwise.
    pub identity: LocalIdentity,
    pub tunnels: Vec<TunnelSettings>,
    /// `interface Virtual-Template N type tunnel`, named `Virtual-TemplateN`, with no
    /// peer (`peer` unspecified): each Virtual-Access is a clone with the peer's.
    pub templates: Vec<TunnelSettings>,
    pub dpd: Option<Dpd>,
    pub nat_keepalive_s: Option<u32>,
    pub admission: Admission,
    /// Respond only (`--passive`): never initiate.
    pub passive: bool,
}

/// The seed configuration (docs/design.md), for tests, benchmarks and the fuzz
/// harness: a policy with IOS 15.2's defaults (DES / SHA / group 1), key "cisco" for
/// ::/0 and 0.0.0.0/0, transform set TRA esp-aes esp-sha-hmac, Tunnel23 from `local`
/// to `peer` (inside the outer family: `tunnel mode ipsec ipv4` for IPv4); every item at the line the seed's file has it on (`test.conf`).
#[cfg(any(test, feature = "test-rng"))]
pub fn seed(local: IpAddr, peer: IpAddr) -> Settings {
    use crate::crypto::{EspAuth, EspEncr};
    let line = |line| Origin {
        file: "test.conf".into(),
        line,
    };
    Settings {
        policies: vec![IsakmpPolicy {
            priority: 10,
            cipher: CipherAlg::Des,
            hash: HashAlg::Sha1,
            group: DhGroup::Modp768,
            lifetime_s: 86_400,
            origin: line(1),
        }],
        keys: vec![
            PresharedKey {
                key: Secret::new(b"cisco".to_vec()),
                address: std::net::Ipv6Addr::UNSPECIFIED.into(),
                prefix_len: 0,
                origin: line(3),
            },
            PresharedKey {
                key: Secret::new(b"cisco".to_vec()),
                address: std::net::Ipv4Addr::UNSPECIFIED.into(),
                prefix_len: 0,
                origin: line(4),
            },
        ],
        tunnels: vec![TunnelSettings {
            name: "Tunnel23".into(),
            local,
            peer,
            inner: if local.is_ipv4() {
                InnerFamily::V4
            } else {
                InnerFamily::V6
            },
            transform_sets: vec![TransformSet {
                name: "TRA".into(),
                transform: EspTransform {
                    encr: EspEncr::Aes(128),
                    auth: EspAuth::HmacSha1,
                },
                transport: true,
                origin: line(5),
            }],
            pfs: None,
            pfs_origin: line(7),
            lifetime_s: 3600,
            lifetime_kb: 4_608_000,
            origin: line(9),
            profile_origin: line(7),
            destination_origin: line(14),
            shutdown: false,
            options: Default::default(),
        }],
        ..Settings::default()
    }
}
