//! Settings items for tests, each from the words of its IOS line: keys, keyrings,
//! ISAKMP profiles and their `match identity`.

use super::{IdentityMatch, IsakmpProfile, Keyring, Origin, PresharedKey};
use crate::crypto::Secret;

/// `pre-shared-key address P/L key SECRET` (or `crypto isakmp key`) at `line`.
pub fn key(secret: &str, prefix: &str, line: u32) -> PresharedKey {
    let (a, l) = prefix.split_once('/').unwrap();
    PresharedKey {
        key: Secret::new(secret.as_bytes().to_vec()),
        address: a.parse().unwrap(),
        prefix_len: l.parse().unwrap(),
        origin: Origin {
            file: "test.conf".into(),
            line,
        },
    }
}

/// `crypto keyring NAME [vrf V]` with `local-address L` and `keys`.
pub fn ring(
    name: &str,
    vrf: Option<&str>,
    local: Option<&str>,
    keys: Vec<PresharedKey>,
) -> Keyring {
    Keyring {
        name: name.into(),
        vrf: vrf.map(str::to_string),
        local: local.map(|l| vec![l.parse().unwrap()]),
        keys,
        origin: Origin::default(),
    }
}

/// `match identity address P/L [VRF]`.
pub fn match_address(prefix: &str, vrf: Option<&str>) -> IdentityMatch {
    let (a, l) = prefix.split_once('/').unwrap();
    IdentityMatch::Address {
        address: a.parse().unwrap(),
        prefix_len: l.parse().unwrap(),
        vrf: vrf.map(str::to_string),
    }
}

/// `crypto isakmp profile NAME` with `matches` and nothing else.
pub fn profile(name: &str, matches: Vec<IdentityMatch>) -> IsakmpProfile {
    IsakmpProfile {
        name: name.into(),
        keyrings: Vec::new(),
        matches,
        dpd: None,
        self_identity: None,
        local: None,
        ivrf: None,
        virtual_template: None,
        origin: Origin::default(),
    }
}
