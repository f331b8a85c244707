//! Front-door VRFs (`tunnel vrf`): two underlays reach the same peer address, so two
//! tunnels share (local, peer) and only the VRF tells them apart. Each gets its own
//! ISAKMP SA in its VRF, with the key of the keyring of that VRF (`crypto keyring K vrf
//! RED`), and nothing done in one VRF touches the other's SAs.

use super::util::*;
use crate::ike::settings::fixtures::{key, match_address, profile, ring};
use crate::ike::settings::Settings;
use crate::ipsec::Direction;
use std::time::Duration;

const VRFS: [&str; 2] = ["RED", "GREEN"];

/// Tunnel1 through RED, Tunnel2 through GREEN, both from `local` to `peer`; no global
/// key, one keyring per VRF with that VRF's key for the peer.
fn two_underlays(local: &str, peer: &str) -> Settings {
    let mut s = settings(local, peer);
    s.keys.clear();
    s.tunnels = VRFS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut t = tunnel(&format!("Tunnel{}", i + 1), local, peer);
            t.options.fvrf = Some(v.to_string());
            t
        })
        .collect();
    s.keyrings = VRFS
        .iter()
        .map(|v| {
            let secret = format!("{}-key", v.to_lowercase());
            ring(
                &format!("{v}-KEYS"),
                Some(v),
                None,
                vec![key(&secret, "::/0", 5)],
            )
        })
        .collect();
    s
}

fn fvrfs(side: &Side, now: std::time::Instant) -> Vec<Option<String>> {
    let mut v: Vec<_> = side
        .engine
        .isakmp_sas(now)
        .into_iter()
        .map(|s| s.fvrf)
        .collect();
    v.sort();
    v
}

#[test]
fn two_tunnels_to_one_peer_address_through_two_vrfs_both_come_up() {
    for b_initiates in [false, true] {
        let mut pair = Pair::new(two_underlays(A_ADDR, B_ADDR), two_underlays(B_ADDR, A_ADDR));
        for t in ["Tunnel1", "Tunnel2"] {
            pair.initiate_tunnel(b_initiates, t);
        }
        pair.run_for(Duration::from_secs(5));
        for side in [&pair.a, &pair.b] {
            assert_eq!(
                fvrfs(side, pair.time),
                [Some("GREEN".to_string()), Some("RED".to_string())],
                "one ISAKMP SA per front-door VRF"
            );
            assert!(side.failures().is_empty(), "{:#?}", side.failures());
        }
        for t in ["Tunnel1", "Tunnel2"] {
            let out = pair.a.sas_of(t, Direction::Out);
            let inb = pair.b.sas_of(t, Direction::In);
            assert_eq!((out.len(), inb.len()), (1, 1), "{t}: one pair");
            assert_eq!(out[0].spi, inb[0].spi, "{t}");
            assert_eq!(out[0].enc_key, inb[0].enc_key, "{t}");
        }
    }
}

#[test]
fn a_keyring_of_another_vrf_does_not_serve_the_peer() {
    // B keeps its keys in RED only: A's GREEN Main Mode finds no key there.
    let mut b = two_underlays(B_ADDR, A_ADDR);
    b.keyrings.retain(|k| k.vrf.as_deref() == Some("RED"));
    let mut pair = Pair::new(two_underlays(A_ADDR, B_ADDR), b);
    pair.initiate_tunnel(false, "Tunnel1");
    pair.initiate_tunnel(false, "Tunnel2");
    pair.run_for(Duration::from_secs(5));
    assert_eq!(
        pair.a.sas_of("Tunnel1", Direction::Out).len(),
        1,
        "RED is up"
    );
    assert!(
        pair.a.sas_of("Tunnel2", Direction::Out).is_empty(),
        "GREEN is not"
    );
    assert!(
        pair.b
            .failures()
            .iter()
            .any(|f| f.contains("pre-shared key")),
        "{:#?}",
        pair.b.failures()
    );
}

#[test]
fn a_responder_picks_the_profile_whose_match_identity_names_the_vrf() {
    // B: one profile per VRF, each matching A's address in its VRF only
    // (`match identity address A 255.255.255.255 RED`), taking keys from its keyring.
    let mut b = two_underlays(B_ADDR, A_ADDR);
    b.isakmp_profiles = VRFS
        .iter()
        .map(|v| {
            let mut p = profile(
                &format!("P-{v}"),
                vec![match_address(&format!("{A_ADDR}/128"), Some(v))],
            );
            p.keyrings = vec![format!("{v}-KEYS")];
            p
        })
        .collect();
    let mut pair = Pair::new(two_underlays(A_ADDR, B_ADDR), b);
    pair.initiate_tunnel(false, "Tunnel1");
    pair.initiate_tunnel(false, "Tunnel2");
    pair.run_for(Duration::from_secs(5));
    let mut chosen: Vec<_> = pair
        .b
        .engine
        .isakmp_sas(pair.time)
        .into_iter()
        .map(|s| (s.fvrf, s.profile))
        .collect();
    chosen.sort();
    let named = |v: &str| (Some(v.to_string()), Some(format!("P-{v}")));
    assert_eq!(chosen, [named("GREEN"), named("RED")]);
    assert!(pair.b.failures().is_empty(), "{:#?}", pair.b.failures());
}
