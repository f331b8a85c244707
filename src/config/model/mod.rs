//! The configuration model both dialects parse into. Values carry IOS 15.2's defaults
//! once parsed, and every item and every reference keeps the line that set it, so
//! validation and the engine's failures can name that line.
//!
//! Items IOS accepts but ikev1d cannot use (an algorithm it lacks, `authentication
//! rsa-sig`, ...) are kept as the IOS words in an `unsupported` list: they make the item
//! unusable, which is a warning while nothing uses it and an error once a tunnel does,
//! and they survive a conversion to TOML unchanged.

mod isakmp;
mod tunnel;

pub use isakmp::*;
pub use tunnel::*;

use super::error::ConfigWarning;
use crate::crypto::{CipherAlg, DhGroup, EspTransform, HashAlg};
use crate::ipsec::InnerFamily;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

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
    /// `crypto ipsec security-association replay window-size`: IOS's default.
    pub const REPLAY_WINDOW: u32 = 64;
    /// Keepalive retry interval when `crypto isakmp keepalive S` names no R.
    pub const DPD_RETRY_S: u32 = 2;
    /// NAT-T keepalive interval when NAT is detected and none is configured.
    pub const NAT_KEEPALIVE_S: u32 = 20;
}

/// A sub-command IOS accepts that ikev1d cannot honour, as written (keys included: it
/// is configuration), with the reason; diagnostics show `words` redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub line: u32,
    pub words: String,
    pub reason: String,
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
    /// Sub-commands IOS accepts that ikev1d cannot offer (`group 19`, `authentication
    /// rsa-sig`): the policy is left out of the offer, with a warning.
    pub unsupported: Vec<Unsupported>,
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
            unsupported: Vec::new(),
        }
    }

    /// Can ikev1d offer and accept this policy?
    pub fn usable(&self) -> bool {
        self.pre_share && self.unsupported.is_empty()
    }
}

/// `crypto isakmp keepalive S [R] [periodic|on-demand]`, or `keepalive S retry R` in an
/// ISAKMP profile.
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
    /// The transforms as written, one space apart (`esp-aes 256 esp-sha-hmac`).
    pub transforms: String,
    /// What they mean, or why ikev1d cannot use them: a warning while no tunnel uses
    /// the set (IOS keeps sets for other peers), an error once one does.
    pub esp: Result<EspTransform, String>,
    pub transport: bool,
}

/// `set security-association lifetime kilobytes K | disable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeLifetime {
    Kilobytes(u64),
    /// No volume lifetime offered or enforced.
    Disable,
}

/// `set security-association replay window-size N | replay disable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    WindowSize(u32),
    Disable,
}

/// `crypto ipsec df-bit clear | set | copy` (global or on the interface): the data
/// path's own type.
pub use crate::dataplane::DfBit;

/// `crypto ipsec profile NAME`. Values left out fall back to the global `crypto ipsec
/// security-association ...` lines, then to IOS's defaults (see `Config::phase2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub line: u32,
    /// `set transform-set A B`: names, each with its line, in order of preference.
    pub transform_sets: Vec<At<String>>,
    pub pfs: Option<At<DhGroup>>,
    pub lifetime_s: Option<At<u32>>,
    pub lifetime_kb: Option<At<VolumeLifetime>>,
    pub replay: Option<At<Replay>>,
    /// `set security-association idle-time S`: the SA pair is deleted after S seconds
    /// without traffic.
    pub idle_time_s: Option<At<u32>>,
    /// `set isakmp-profile P`.
    pub isakmp_profile: Option<At<String>>,
    /// `responder-only`: tunnels using the profile never initiate.
    pub responder_only: bool,
    /// Lines IOS accepts that ikev1d cannot honour (`set pfs group19`, `set
    /// ikev2-profile`): an error once a tunnel uses the profile.
    pub unsupported: Vec<Unsupported>,
}

impl Profile {
    pub fn new(name: String, line: u32) -> Self {
        Profile {
            name,
            line,
            transform_sets: Vec::new(),
            pfs: None,
            lifetime_s: None,
            lifetime_kb: None,
            replay: None,
            idle_time_s: None,
            isakmp_profile: None,
            responder_only: false,
            unsupported: Vec::new(),
        }
    }
}

/// The global `crypto ipsec security-association ...` and `crypto ipsec df-bit` lines:
/// defaults under each profile's (and interface's) own values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpsecGlobals {
    pub lifetime_s: Option<At<u32>>,
    pub lifetime_kb: Option<At<VolumeLifetime>>,
    pub replay: Option<At<Replay>>,
    pub idle_time_s: Option<At<u32>>,
    pub df_bit: Option<At<DfBit>>,
}

/// A profile's phase 2 values once the global lines and IOS's defaults fill its gaps;
/// each keeps the line that set it (the profile's line for a built-in default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase2 {
    pub lifetime_s: At<u32>,
    pub lifetime_kb: At<VolumeLifetime>,
    pub replay: At<Replay>,
    pub idle_time_s: Option<At<u32>>,
}

/// `ip route [vrf V] P M TunnelN` / `ipv6 route [vrf V] P/L TunnelN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpAddr,
    pub prefix_len: u8,
    pub tunnel: u32,
    pub vrf: Option<String>,
    pub line: u32,
}

/// `vrf definition NAME` (with its `address-family` blocks) or the older `ip vrf NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vrf {
    pub name: String,
    pub line: u32,
    /// `ip vrf NAME` rather than `vrf definition NAME`.
    pub ip_vrf: bool,
    pub rd: Option<String>,
    /// `address-family ipv4|ipv6` blocks, in order.
    pub families: Vec<InnerFamily>,
}

/// `ikev1d map-interface IOS-NAME LINUX-NAME` (or `--map-interface IOS=LINUX`): the
/// Linux interface that stands for an IOS one (`tunnel source GigabitEthernet1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceMap {
    /// IOS's canonical name (`GigabitEthernet1` for `gi1`).
    pub ios: String,
    pub linux: String,
    /// 0 when given on the command line.
    pub line: u32,
}

/// `crypto call admission limit ike in-negotiation-sa N` / `ike sa N`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Admission {
    pub in_negotiation_sa: Option<At<u32>>,
    pub sa: Option<At<u32>>,
}

/// `debug crypto isakmp` / `debug crypto ipsec`: IOS exec commands, accepted in the file
/// to turn on the IOS-style debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DebugFlags {
    pub isakmp: bool,
    pub ipsec: bool,
}

/// What an IOS file holds besides crypto and tunnels (hostname aside): skipped, and
/// summed up by kind in one line instead of a warning per line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Skipped {
    pub lines: u32,
    /// By kind (`interface`, `router`, `banner`, `username`, ...): how many commands,
    /// and for interfaces their names.
    pub kinds: BTreeMap<String, SkippedKind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkippedKind {
    pub count: u32,
    pub names: Vec<String>,
}

impl Skipped {
    /// One line for `check` and the daemon's log, or `None` when nothing was skipped.
    pub fn summary(&self) -> Option<String> {
        if self.lines == 0 {
            return None;
        }
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(kind, k)| {
                let mut s = format!("{kind} x{}", k.count);
                if !k.names.is_empty() {
                    s.push_str(&format!(" ({})", k.names.join(", ")));
                }
                s
            })
            .collect();
        Some(format!(
            "skipped {} line{} outside the crypto and tunnel configuration: {}",
            self.lines,
            if self.lines == 1 { "" } else { "s" },
            kinds.join(", ")
        ))
    }
}

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The file name diagnostics print.
    pub file: String,
    /// `hostname` and `ip domain name`: the FQDN of `crypto isakmp identity hostname`.
    pub hostname: Option<At<String>>,
    pub domain_name: Option<At<String>>,
    pub policies: Vec<Policy>,
    /// `crypto isakmp key`: IOS's default keyring.
    pub keys: Vec<Key>,
    pub keyrings: Vec<Keyring>,
    pub isakmp_profiles: Vec<IsakmpProfile>,
    /// `crypto isakmp identity address | hostname`.
    pub identity: Option<At<Identity>>,
    pub keepalive: Option<Keepalive>,
    /// `crypto isakmp nat keepalive S`.
    pub nat_keepalive_s: Option<At<u32>>,
    pub admission: Admission,
    pub transform_sets: Vec<TransformSet>,
    pub profiles: Vec<Profile>,
    pub ipsec: IpsecGlobals,
    /// `interface TunnelN` and `interface Virtual-Template N type tunnel`.
    pub tunnels: Vec<Tunnel>,
    pub vrfs: Vec<Vrf>,
    pub routes: Vec<Route>,
    pub interface_map: Vec<InterfaceMap>,
    pub debug: DebugFlags,
    /// Not carried into TOML: what the IOS text had besides the configuration itself.
    pub skipped: Skipped,
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
    pub fn keyring(&self, name: &str) -> Option<&Keyring> {
        self.keyrings.iter().find(|k| k.name == name)
    }
    pub fn isakmp_profile(&self, name: &str) -> Option<&IsakmpProfile> {
        self.isakmp_profiles.iter().find(|p| p.name == name)
    }
    pub fn vrf(&self, name: &str) -> Option<&Vrf> {
        self.vrfs.iter().find(|v| v.name == name)
    }
    /// `interface TunnelN` (not a Virtual-Template of the same number).
    pub fn tunnel(&self, number: u32) -> Option<&Tunnel> {
        self.tunnels
            .iter()
            .find(|t| t.kind == InterfaceKind::Tunnel && t.number == number)
    }

    /// Every pre-shared key: the global ones, then each keyring's.
    pub fn all_keys(&self) -> impl Iterator<Item = &Key> {
        self.keys
            .iter()
            .chain(self.keyrings.iter().flat_map(|k| k.keys.iter()))
    }

    /// The Linux interface an IOS name is mapped to (`ikev1d map-interface`).
    pub fn mapped_interface(&self, ios: &str) -> Option<&InterfaceMap> {
        self.interface_map.iter().find(|m| m.ios == ios)
    }

    /// `profile`'s phase 2 values: its own, else the global lines', else IOS's.
    pub fn phase2(&self, profile: &Profile) -> Phase2 {
        let default_line = profile.line;
        Phase2 {
            lifetime_s: profile
                .lifetime_s
                .clone()
                .or_else(|| self.ipsec.lifetime_s.clone())
                .unwrap_or(At::new(defaults::P2_LIFETIME_S, default_line)),
            lifetime_kb: profile
                .lifetime_kb
                .clone()
                .or_else(|| self.ipsec.lifetime_kb.clone())
                .unwrap_or(At::new(
                    VolumeLifetime::Kilobytes(defaults::P2_LIFETIME_KB),
                    default_line,
                )),
            replay: profile
                .replay
                .clone()
                .or_else(|| self.ipsec.replay.clone())
                .unwrap_or(At::new(
                    Replay::WindowSize(defaults::REPLAY_WINDOW),
                    default_line,
                )),
            idle_time_s: profile
                .idle_time_s
                .clone()
                .or_else(|| self.ipsec.idle_time_s.clone()),
        }
    }

    /// The tunnel's `crypto ipsec df-bit`: its own line, else the global one, else copy.
    pub fn df_bit(&self, t: &Tunnel) -> DfBit {
        t.df_bit
            .as_ref()
            .or(self.ipsec.df_bit.as_ref())
            .map_or(DfBit::default(), |d| d.value)
    }
}

/// The address family of an outer address, in the words of `tunnel mode ipsec`.
pub(crate) fn family_of(a: IpAddr) -> InnerFamily {
    match a {
        IpAddr::V4(_) => InnerFamily::V4,
        IpAddr::V6(_) => InnerFamily::V6,
    }
}

/// The unspecified address of an outer family: a Virtual-Template's peer, which each
/// Virtual-Access replaces with its own.
pub(crate) fn unspecified(family: InnerFamily) -> IpAddr {
    match family {
        InnerFamily::V4 => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        InnerFamily::V6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
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

    #[test]
    fn skipped_summary_names_kinds_and_interfaces() {
        let mut s = Skipped::default();
        assert_eq!(s.summary(), None);
        s.lines = 7;
        s.kinds.insert(
            "interface".into(),
            SkippedKind {
                count: 2,
                names: vec!["GigabitEthernet1".into(), "Loopback0".into()],
            },
        );
        s.kinds.insert(
            "banner".into(),
            SkippedKind {
                count: 1,
                names: vec![],
            },
        );
        assert_eq!(
            s.summary().unwrap(),
            "skipped 7 lines outside the crypto and tunnel configuration: banner x1, interface x2 (GigabitEthernet1, Loopback0)"
        );
    }
}
