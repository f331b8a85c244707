//! Pre-shared key lookup as IOS does it, over the global `crypto isakmp key`s (IOS's
//! "default keyring") and `crypto keyring`s. Pure functions of the settings: the engine
//! calls them with where a negotiation is (peer, local address, front-door VRF).
//!
//! IOS's rules (Cisco, "IOS IKEv1/IKEv2 Selection Rules for Keyrings and Profiles",
//! document 117259; "VRF-Aware IPsec" configuration guide):
//! - a keyring serves one front-door VRF (`crypto keyring K vrf V`; the global VRF
//!   without `vrf`), and the global keys serve the global VRF;
//! - `local-address` limits a keyring to negotiations on that local address;
//! - among the keys of the keyrings that serve the negotiation, the most specific
//!   (longest prefix) match for the peer's address wins: the responder cannot know the
//!   ISAKMP profile before MM5, yet needs the key for SKEYID after MM3;
//! - the initiator searches only the keyrings its ISAKMP profile names (all of them when
//!   it names none); after MM5 the profile chosen must accept the keyring used (see
//!   `Settings::keyring_allowed`).
//!
//! Where 117259 leaves a tie open (one prefix in two keyrings), ikev1d prefers a keyring
//! bound to the local address, then the keyring configured first, the global keys last.

use super::{Origin, PresharedKey, Settings};
use std::net::IpAddr;

/// `crypto keyring NAME [vrf V]`, resolved for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    pub name: String,
    /// The front-door VRF it serves; `None`: the global VRF.
    pub vrf: Option<String>,
    /// `local-address`: the local addresses it serves (an interface's, resolved); `None`
    /// serves every address.
    pub local: Option<Vec<IpAddr>>,
    pub keys: Vec<PresharedKey>,
    pub origin: Origin,
}

/// Where a negotiation is: what IOS selects keys and profiles by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup<'a> {
    pub peer: IpAddr,
    /// Our address; `None` when not known (every keyring's `local-address` accepts it).
    pub local: Option<IpAddr>,
    /// The front-door VRF (`tunnel vrf`); `None`: the global VRF.
    pub fvrf: Option<&'a str>,
}

impl Lookup<'_> {
    /// A negotiation in the global VRF with `peer`, on any local address.
    #[cfg(test)]
    pub fn peer(peer: IpAddr) -> Self {
        Lookup {
            peer,
            local: None,
            fvrf: None,
        }
    }
}

/// A key found, and the keyring it came from (`None`: the global keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChoice<'s> {
    pub key: &'s PresharedKey,
    pub keyring: Option<&'s str>,
}

impl KeyChoice<'_> {
    pub fn source(&self) -> KeySource {
        KeySource {
            keyring: self.keyring.map(str::to_string),
            origin: self.key.origin.clone(),
        }
    }
}

/// Where a pre-shared key is configured, as failures name it: `crypto isakmp key,
/// line 3`, or `pre-shared-key of crypto keyring SPOKES, line 12`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySource {
    /// `None`: a global `crypto isakmp key`.
    pub keyring: Option<String>,
    pub origin: Origin,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.keyring {
            None => write!(f, "crypto isakmp key, {}", self.origin),
            Some(k) => write!(f, "pre-shared-key of crypto keyring {k}, {}", self.origin),
        }
    }
}

/// How good a key is: its prefix length, whether its keyring is bound to the local
/// address, and how early the keyring is configured (the global keys last).
type Rank = (u8, bool, std::cmp::Reverse<usize>);

impl Keyring {
    /// Does the keyring serve a negotiation at `at`? And is that because it is bound to
    /// the local address (rather than serving any)?
    fn serves(&self, at: &Lookup) -> Option<bool> {
        if self.vrf.as_deref() != at.fvrf {
            return None;
        }
        match (&self.local, at.local) {
            (None, _) => Some(false),
            (Some(_), None) => Some(false),
            (Some(addrs), Some(local)) => addrs.contains(&local).then_some(true),
        }
    }
}

impl Settings {
    /// The pre-shared key for a negotiation at `at`, IOS's way (see the module doc).
    /// `only`: the keyrings an initiator's ISAKMP profile names (`None` or empty: all).
    pub fn psk_lookup<'s>(&'s self, at: &Lookup, only: Option<&[String]>) -> Option<KeyChoice<'s>> {
        let allowed = |name: &str| only.is_none_or(|o| o.is_empty() || o.iter().any(|k| k == name));
        let mut best: Option<(Rank, KeyChoice<'s>)> = None;
        let mut consider = |rank: Rank, choice: KeyChoice<'s>| {
            if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                best = Some((rank, choice));
            }
        };
        for (i, ring) in self.keyrings.iter().enumerate() {
            let Some(bound) = ring.serves(at) else {
                continue;
            };
            if !allowed(&ring.name) {
                continue;
            }
            for key in ring.keys.iter().filter(|k| k.matches(at.peer)) {
                let choice = KeyChoice {
                    key,
                    keyring: Some(&ring.name),
                };
                consider((key.prefix_len, bound, std::cmp::Reverse(i)), choice);
            }
        }
        // The global keys: IOS's default keyring, global VRF, every local address.
        let default_allowed = only.is_none_or(|o| o.is_empty());
        if at.fvrf.is_none() && default_allowed {
            let last = std::cmp::Reverse(self.keyrings.len());
            for key in self.keys.iter().filter(|k| k.matches(at.peer)) {
                consider(
                    (key.prefix_len, false, last),
                    KeyChoice { key, keyring: None },
                );
            }
        }
        best.map(|(_, choice)| choice)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{key, ring};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn found<'s>(
        s: &'s Settings,
        at: &Lookup,
        only: Option<&[String]>,
    ) -> Option<(&'s [u8], Option<&'s str>)> {
        s.psk_lookup(at, only)
            .map(|c| (c.key.key.as_bytes(), c.keyring))
    }

    /// Global wildcard, a keyring with a /24 and one with the host: the longest
    /// prefix wins whichever keyring holds it (117259: the most specific entry).
    #[test]
    fn the_most_specific_key_wins_across_keyrings() {
        let s = Settings {
            keys: vec![key("any", "0.0.0.0/0", 1)],
            keyrings: vec![
                ring("NET", None, None, vec![key("net", "192.0.2.0/24", 3)]),
                ring("HOST", None, None, vec![key("host", "192.0.2.7/32", 5)]),
            ],
            ..Settings::default()
        };
        let at = |p: &str| Lookup::peer(ip(p));
        assert_eq!(
            found(&s, &at("192.0.2.7"), None),
            Some((&b"host"[..], Some("HOST")))
        );
        assert_eq!(
            found(&s, &at("192.0.2.8"), None),
            Some((&b"net"[..], Some("NET")))
        );
        assert_eq!(
            found(&s, &at("198.51.100.1"), None),
            Some((&b"any"[..], None))
        );
        assert_eq!(found(&s, &at("2001:db8::1"), None), None);
        let key = s.psk_lookup(&at("192.0.2.7"), None).unwrap().key;
        assert_eq!(key.origin.line, 5);
    }

    /// `local-address` limits a keyring to one local address; on a tie the keyring
    /// bound to the address beats one that is not, and the global keys come last.
    #[test]
    fn local_address_restricts_and_breaks_ties() {
        let s = Settings {
            keys: vec![key("global", "0.0.0.0/0", 1)],
            keyrings: vec![
                ring("ANY", None, None, vec![key("any", "0.0.0.0/0", 2)]),
                ring(
                    "WAN2",
                    None,
                    Some("198.51.100.2"),
                    vec![key("wan2", "0.0.0.0/0", 3)],
                ),
            ],
            ..Settings::default()
        };
        let on = |local: &str| Lookup {
            peer: ip("192.0.2.9"),
            local: Some(ip(local)),
            fvrf: None,
        };
        assert_eq!(
            found(&s, &on("198.51.100.2"), None),
            Some((&b"wan2"[..], Some("WAN2")))
        );
        assert_eq!(
            found(&s, &on("198.51.100.3"), None),
            Some((&b"any"[..], Some("ANY")))
        );
    }

    /// A keyring with `vrf V` serves negotiations in front-door VRF V only; the global
    /// keys and plain keyrings serve the global VRF only.
    #[test]
    fn vrf_keyrings_serve_their_vrf_only() {
        let s = Settings {
            keys: vec![key("global", "0.0.0.0/0", 1)],
            keyrings: vec![ring(
                "RED",
                Some("RED"),
                None,
                vec![key("red", "0.0.0.0/0", 2)],
            )],
            ..Settings::default()
        };
        let in_vrf = |v: Option<&'static str>| Lookup {
            peer: ip("192.0.2.9"),
            local: None,
            fvrf: v,
        };
        assert_eq!(
            found(&s, &in_vrf(Some("RED")), None),
            Some((&b"red"[..], Some("RED")))
        );
        assert_eq!(found(&s, &in_vrf(None), None), Some((&b"global"[..], None)));
        assert_eq!(found(&s, &in_vrf(Some("BLUE")), None), None);
    }

    /// An initiator whose ISAKMP profile names keyrings searches only those.
    #[test]
    fn an_initiator_profile_limits_the_keyrings() {
        let s = Settings {
            keys: vec![key("global", "192.0.2.9/32", 1)],
            keyrings: vec![
                ring("A", None, None, vec![key("a", "192.0.2.0/24", 2)]),
                ring("B", None, None, vec![key("b", "0.0.0.0/0", 3)]),
            ],
            ..Settings::default()
        };
        let at = Lookup::peer(ip("192.0.2.9"));
        assert_eq!(found(&s, &at, None), Some((&b"global"[..], None)));
        assert_eq!(
            found(&s, &at, Some(&["B".into()])),
            Some((&b"b"[..], Some("B")))
        );
        assert_eq!(found(&s, &at, Some(&[])), Some((&b"global"[..], None)));
    }
}
