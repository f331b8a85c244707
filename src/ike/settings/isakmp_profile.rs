//! ISAKMP profiles as IOS applies them: which profile serves a peer, which keepalive and
//! which phase 1 identity apply. Pure functions of the settings, for the engine.
//!
//! IOS's rules (Cisco, "IOS IKEv1/IKEv2 Selection Rules for Keyrings and Profiles",
//! document 117259; "ISAKMP Profile" and "VRF-Aware IPsec" configuration guides):
//! - as initiator, the profile is the one `set isakmp-profile` names in the tunnel's
//!   ipsec profile (`match identity` plays no part);
//! - as responder, the profile is chosen by `match identity` against the peer's phase 1
//!   ID, known after MM5 (before it, against its address), within the front-door VRF
//!   (`match identity address A M VRF`) and the profile's `local-address`;
//! - the profile must then accept the keyring whose key authenticated the peer: a
//!   profile that names keyrings accepts keys from those only;
//! - the profile's `keepalive` and `self-identity` override the global `crypto isakmp
//!   keepalive` and `crypto isakmp identity`.
//!
//! Where several profiles match, 117259 calls it a misconfiguration; ikev1d takes the
//! most specific match (the longest prefix, a host over its domain), then the profile
//! configured first.

use super::keyring::Lookup;
use super::{prefix_contains, Dpd, Origin, Settings, TunnelSettings};
use std::net::IpAddr;

/// `match identity ...` in an ISAKMP profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityMatch {
    /// `match identity address A [MASK] [VRF]` / `address ipv6 P/L`: ID_IPV4_ADDR /
    /// ID_IPV6_ADDR inside the prefix, negotiated in the front-door VRF (none: global).
    Address {
        address: IpAddr,
        prefix_len: u8,
        vrf: Option<String>,
    },
    /// `match identity host FQDN`: ID_FQDN equal to it (case-insensitive).
    Host(String),
    /// `match identity host domain D`: ID_FQDN within domain D.
    Domain(String),
}

/// A peer's phase 1 identity (its ID payload), or its address before MM5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerIdentity {
    Address(IpAddr),
    Fqdn(String),
    UserFqdn(String),
    /// Any other ID type (a DN, a key ID): no profile matches it.
    Other,
}

/// The phase 1 ID ikev1d sends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LocalIdentity {
    /// ID_IPV4_ADDR / ID_IPV6_ADDR of the local address (IOS's default).
    #[default]
    Address,
    /// ID_FQDN (`crypto isakmp identity hostname`, `self-identity fqdn`).
    Fqdn(String),
    /// ID_USER_FQDN (`self-identity user-fqdn U`).
    UserFqdn(String),
}

/// `crypto isakmp profile NAME`, resolved for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsakmpProfile {
    pub name: String,
    /// The keyrings whose keys may authenticate its peers; empty: any keyring.
    pub keyrings: Vec<String>,
    pub matches: Vec<IdentityMatch>,
    /// `keepalive S retry R`.
    pub dpd: Option<Dpd>,
    /// `self-identity`, resolved (`fqdn`: the router's host and domain names).
    pub self_identity: Option<LocalIdentity>,
    /// `local-address`: the local addresses it serves (`None`: every one).
    pub local: Option<Vec<IpAddr>>,
    /// `vrf V`: the inside VRF of its tunnels.
    pub ivrf: Option<String>,
    /// `virtual-template N`: a dynamic VTI's template.
    pub virtual_template: Option<u32>,
    pub origin: Origin,
}

/// IOS's words: `match identity address 192.0.2.0 255.255.255.0`.
impl std::fmt::Display for IdentityMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("match identity ")?;
        match self {
            IdentityMatch::Address {
                address: IpAddr::V4(a),
                prefix_len,
                vrf,
            } => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from((*prefix_len).min(32)))
                    .unwrap_or(0);
                write!(f, "address {a} {}", std::net::Ipv4Addr::from(mask))?;
                vrf.as_ref().map_or(Ok(()), |v| write!(f, " {v}"))
            }
            IdentityMatch::Address {
                address,
                prefix_len,
                vrf,
            } => {
                write!(f, "address ipv6 {address}/{prefix_len}")?;
                vrf.as_ref().map_or(Ok(()), |v| write!(f, " {v}"))
            }
            IdentityMatch::Host(h) => write!(f, "host {h}"),
            IdentityMatch::Domain(d) => write!(f, "host domain {d}"),
        }
    }
}

/// What the peer identified itself as, in the words of `match identity`.
impl std::fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerIdentity::Address(a) => write!(f, "address {a}"),
            PeerIdentity::Fqdn(n) => write!(f, "host {n}"),
            PeerIdentity::UserFqdn(u) => write!(f, "user-fqdn {u}"),
            PeerIdentity::Other => f.write_str("an ID type no profile can match"),
        }
    }
}

impl IsakmpProfile {
    /// Does one of its `match identity` lines match `id` in front-door VRF `fvrf`?
    pub fn accepts(&self, id: &PeerIdentity, fvrf: Option<&str>) -> bool {
        self.matches
            .iter()
            .any(|m| m.specificity(id, fvrf).is_some())
    }

    /// `crypto isakmp profile P, line 12 (match identity address 192.0.2.0
    /// 255.255.255.0)`: the profile and what it accepts, for failures.
    pub fn describe(&self) -> String {
        let lines: Vec<String> = self.matches.iter().map(ToString::to_string).collect();
        format!(
            "crypto isakmp profile {}, {} ({})",
            self.name,
            self.origin,
            if lines.is_empty() {
                "no match identity".to_string()
            } else {
                lines.join(", ")
            }
        )
    }
}

impl IdentityMatch {
    /// How specifically this matches `id` in front-door VRF `fvrf` (higher: more
    /// specific), or `None`.
    fn specificity(&self, id: &PeerIdentity, fvrf: Option<&str>) -> Option<u32> {
        match (self, id) {
            (
                IdentityMatch::Address {
                    address,
                    prefix_len,
                    vrf,
                },
                PeerIdentity::Address(a),
            ) if vrf.as_deref() == fvrf && prefix_contains(*address, *prefix_len, *a) => {
                Some(u32::from(*prefix_len))
            }
            // Names: no VRF in the match; the global VRF's only.
            (IdentityMatch::Host(h), PeerIdentity::Fqdn(f))
                if fvrf.is_none() && f.eq_ignore_ascii_case(h) =>
            {
                Some(u32::MAX)
            }
            (IdentityMatch::Domain(d), PeerIdentity::Fqdn(f)) if fvrf.is_none() => {
                let f = f.to_ascii_lowercase();
                let inside = f == *d || f.ends_with(&format!(".{d}"));
                inside.then(|| 1_000 + d.len() as u32)
            }
            _ => None,
        }
    }
}

impl Settings {
    /// The responder's profile for a peer identified as `id` (its address before MM5,
    /// its ID payload after), negotiating at `at`.
    pub fn profile_for(&self, id: &PeerIdentity, at: &Lookup) -> Option<&IsakmpProfile> {
        let mut best: Option<(u32, &IsakmpProfile)> = None;
        for p in &self.isakmp_profiles {
            let serves_local = match (&p.local, at.local) {
                (Some(addrs), Some(local)) => addrs.contains(&local),
                _ => true,
            };
            if !serves_local {
                continue;
            }
            let Some(score) = p
                .matches
                .iter()
                .filter_map(|m| m.specificity(id, at.fvrf))
                .max()
            else {
                continue;
            };
            // Strictly better only: the first configured keeps a tie.
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, p));
            }
        }
        best.map(|(_, p)| p)
    }

    /// The initiator's profile for a tunnel: the one its ipsec profile names.
    pub fn tunnel_profile(&self, tunnel: &TunnelSettings) -> Option<&IsakmpProfile> {
        self.isakmp_profile(tunnel.options.isakmp_profile.as_ref()?)
    }

    /// `crypto isakmp profile NAME`.
    pub fn isakmp_profile(&self, name: &str) -> Option<&IsakmpProfile> {
        self.isakmp_profiles.iter().find(|p| p.name == name)
    }

    /// May a key from `keyring` (`None`: the global keys) authenticate a peer of
    /// `profile`? A profile that names keyrings accepts their keys only.
    pub fn keyring_allowed(profile: &IsakmpProfile, keyring: Option<&str>) -> bool {
        profile.keyrings.is_empty()
            || keyring.is_some_and(|k| profile.keyrings.iter().any(|p| p == k))
    }

    /// DPD for a peer of `profile`: its `keepalive`, else `crypto isakmp keepalive`.
    pub fn dpd_for<'a>(&'a self, profile: Option<&'a IsakmpProfile>) -> Option<&'a Dpd> {
        profile.and_then(|p| p.dpd.as_ref()).or(self.dpd.as_ref())
    }

    /// The phase 1 ID to send: the profile's `self-identity`, else `crypto isakmp
    /// identity`, else the address.
    pub fn identity_for<'a>(&'a self, profile: Option<&'a IsakmpProfile>) -> &'a LocalIdentity {
        profile
            .and_then(|p| p.self_identity.as_ref())
            .unwrap_or(&self.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{match_address as addr, profile};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn dpd(interval_s: u32) -> Dpd {
        Dpd {
            interval_s,
            retry_s: 2,
            periodic: false,
            origin: Origin::default(),
        }
    }

    fn chosen<'s>(s: &'s Settings, id: PeerIdentity, at: &Lookup) -> Option<&'s str> {
        s.profile_for(&id, at).map(|p| p.name.as_str())
    }

    #[test]
    fn responder_profiles_match_the_peer_identity_most_specific_first() {
        let s = Settings {
            isakmp_profiles: vec![
                profile("ANY", vec![addr("0.0.0.0/0", None)]),
                profile("NET", vec![addr("192.0.2.0/24", None)]),
                profile("RED", vec![addr("0.0.0.0/0", Some("RED"))]),
                profile(
                    "NAMES",
                    vec![
                        IdentityMatch::Host("r1.example.com".into()),
                        IdentityMatch::Domain("example.com".into()),
                    ],
                ),
                profile(
                    "BRANCH",
                    vec![IdentityMatch::Domain("branch.example.com".into())],
                ),
            ],
            ..Settings::default()
        };
        let global = Lookup::peer(ip("192.0.2.9"));
        let a = |s: &str| PeerIdentity::Address(ip(s));
        let f = |s: &str| PeerIdentity::Fqdn(s.into());
        assert_eq!(chosen(&s, a("192.0.2.9"), &global), Some("NET"));
        assert_eq!(chosen(&s, a("198.51.100.1"), &global), Some("ANY"));
        let red = Lookup {
            fvrf: Some("RED"),
            ..global
        };
        assert_eq!(chosen(&s, a("198.51.100.1"), &red), Some("RED"));
        assert_eq!(chosen(&s, f("R1.Example.COM"), &global), Some("NAMES"));
        assert_eq!(
            chosen(&s, f("r7.branch.example.com"), &global),
            Some("BRANCH")
        );
        assert_eq!(chosen(&s, f("r7.example.com"), &global), Some("NAMES"));
        assert_eq!(chosen(&s, f("example.org"), &global), None);
        assert_eq!(chosen(&s, PeerIdentity::Other, &global), None);
        assert_eq!(chosen(&s, f("r1.example.com"), &red), None);
    }

    #[test]
    fn local_address_limits_a_profile_and_ties_keep_the_first() {
        let mut wan2 = profile("WAN2", vec![addr("0.0.0.0/0", None)]);
        wan2.local = Some(vec![ip("198.51.100.2")]);
        let s = Settings {
            isakmp_profiles: vec![
                wan2,
                profile("FIRST", vec![addr("0.0.0.0/0", None)]),
                profile("SECOND", vec![addr("0.0.0.0/0", None)]),
            ],
            ..Settings::default()
        };
        let on = |local: &str| Lookup {
            peer: ip("192.0.2.9"),
            local: Some(ip(local)),
            fvrf: None,
        };
        let peer = PeerIdentity::Address(ip("192.0.2.9"));
        assert_eq!(chosen(&s, peer.clone(), &on("198.51.100.2")), Some("WAN2"));
        assert_eq!(chosen(&s, peer, &on("198.51.100.3")), Some("FIRST"));
    }

    #[test]
    fn keyrings_keepalive_and_identity_follow_the_profile() {
        let mut p = profile("P", vec![]);
        assert!(Settings::keyring_allowed(&p, None));
        assert!(Settings::keyring_allowed(&p, Some("K")));
        p.keyrings = vec!["K".into()];
        assert!(Settings::keyring_allowed(&p, Some("K")));
        assert!(!Settings::keyring_allowed(&p, Some("OTHER")));
        assert!(!Settings::keyring_allowed(&p, None));

        let mut s = Settings {
            dpd: Some(dpd(30)),
            identity: LocalIdentity::Fqdn("r2.example.com".into()),
            ..Settings::default()
        };
        assert_eq!(s.dpd_for(Some(&p)).unwrap().interval_s, 30);
        assert_eq!(
            s.identity_for(Some(&p)),
            &LocalIdentity::Fqdn("r2.example.com".into())
        );
        p.dpd = Some(dpd(10));
        p.self_identity = Some(LocalIdentity::Address);
        assert_eq!(s.dpd_for(Some(&p)).unwrap().interval_s, 10);
        assert_eq!(s.identity_for(Some(&p)), &LocalIdentity::Address);
        s.dpd = None;
        assert_eq!(s.dpd_for(None), None);
        assert_eq!(
            s.identity_for(None),
            &LocalIdentity::Fqdn("r2.example.com".into())
        );
    }
}
