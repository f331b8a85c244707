//! Keyrings and ISAKMP profiles in the engine, as IOS applies them (Cisco document
//! 117259): which key each side uses, which profile a responder picks after MM5, the
//! identities sent and matched (addresses and FQDNs), the profile's keepalive.

use super::util::*;
use crate::ike::settings::fixtures::{key, match_address, profile, ring};
use crate::ike::settings::{Dpd, IdentityMatch, IsakmpProfile, LocalIdentity, Settings};
use std::time::Duration;

/// Profile `name` (at line `n`) taking keys from `keyrings` only.
fn profile_at(name: &str, keyrings: &[&str], matches: Vec<IdentityMatch>, n: u32) -> IsakmpProfile {
    IsakmpProfile {
        keyrings: keyrings.iter().map(|k| k.to_string()).collect(),
        origin: line(n),
        ..profile(name, matches)
    }
}

/// `local` to `peer` with no global key and a keyring `K` holding `secret` for the
/// peer, used by profile `P` (`match identity address` of the peer) that the tunnel's
/// ipsec profile names.
fn keyring_side(local: &str, peer: &str, secret: &str) -> Settings {
    let mut s = settings(local, peer);
    s.keys.clear();
    s.keyrings = vec![ring(
        "K",
        None,
        None,
        vec![key(secret, &format!("{peer}/128"), 21)],
    )];
    s.isakmp_profiles = vec![profile_at(
        "P",
        &["K"],
        vec![match_address(&format!("{peer}/128"), None)],
        30,
    )];
    s.tunnels[0].options.isakmp_profile = Some("P".into());
    s
}

/// `local` to `peer` with one global `crypto isakmp key`.
fn global_side(local: &str, peer: &str, secret: &str) -> Settings {
    let mut s = settings(local, peer);
    s.keys = vec![key(secret, "::/0", 3)];
    s
}

fn up(a: Settings, b: Settings, initiator_b: bool) -> Pair {
    let mut pair = Pair::new(a, b);
    pair.initiate(initiator_b);
    pair.run_for(Duration::from_secs(5));
    pair
}

fn profile_of(side: &Side, now: std::time::Instant) -> Option<String> {
    let sas = side.engine.isakmp_sas(now);
    assert_eq!(sas.len(), 1, "{sas:#?}");
    sas[0].profile.clone()
}

#[test]
fn a_keyring_and_profile_side_works_with_global_keys_both_ways() {
    for b_initiates in [false, true] {
        let pair = up(
            keyring_side(A_ADDR, B_ADDR, "s3cret"),
            global_side(B_ADDR, A_ADDR, "s3cret"),
            b_initiates,
        );
        pair.assert_agree();
        assert_eq!(profile_of(&pair.a, pair.time).as_deref(), Some("P"));
        assert_eq!(profile_of(&pair.b, pair.time), None);
        assert!(pair.a.alerts().is_empty(), "{:#?}", pair.a.alerts());
    }
}

#[test]
fn an_initiator_takes_keys_from_its_profiles_keyrings_only() {
    // The global key is the more specific one: without the profile it would win.
    let mut a = keyring_side(A_ADDR, B_ADDR, "right");
    a.keys = vec![key("wrong", &format!("{B_ADDR}/128"), 3)];
    a.keyrings[0].keys = vec![key("right", "::/0", 21)];
    let pair = up(a.clone(), global_side(B_ADDR, A_ADDR, "right"), false);
    pair.assert_agree();

    a.tunnels[0].options.isakmp_profile = None;
    a.isakmp_profiles.clear();
    let mut pair = up(a, global_side(B_ADDR, A_ADDR, "right"), false);
    // An MM5 that does not decrypt is dropped and remembered; the failure is reported
    // when the negotiation times out (nothing unauthenticated ends it).
    pair.run_for(Duration::from_secs(60));
    assert!(pair.b.failures().iter().any(|f| f.starts_with(
        "authentication failed: MM5 does not decrypt, likely pre-shared key mismatch"
    )));
}

#[test]
fn a_responder_takes_the_key_of_the_keyring_bound_to_the_address_asked() {
    // B answers on two addresses, each with its keyring (`local-address`); A has a
    // tunnel to each, with the matching key.
    const B2: &str = "2001:db8::33";
    let mut b = settings(B_ADDR, A_ADDR);
    b.keys.clear();
    b.keyrings = vec![
        ring("WAN1", None, Some(B_ADDR), vec![key("one", "::/0", 21)]),
        ring("WAN2", None, Some(B2), vec![key("two", "::/0", 23)]),
    ];
    b.tunnels = vec![
        tunnel("Tunnel1", B_ADDR, A_ADDR),
        tunnel("Tunnel2", B2, A_ADDR),
    ];
    let mut a = settings(A_ADDR, B_ADDR);
    a.keys = vec![
        key("one", &format!("{B_ADDR}/128"), 3),
        key("two", &format!("{B2}/128"), 4),
    ];
    a.tunnels = vec![
        tunnel("Tunnel1", A_ADDR, B_ADDR),
        tunnel("Tunnel2", A_ADDR, B2),
    ];
    let mut pair = Pair::new(a, b);
    pair.initiate_tunnel(false, "Tunnel1");
    pair.initiate_tunnel(false, "Tunnel2");
    pair.run_for(Duration::from_secs(5));
    assert_eq!(pair.b.installed.len(), 4, "{:#?}", pair.b.log_text());
    assert!(pair.b.alerts().is_empty(), "{:#?}", pair.b.alerts());
}

#[test]
fn fqdn_identities_are_sent_and_matched() {
    let mut a = global_side(A_ADDR, B_ADDR, "s3cret");
    a.identity = LocalIdentity::Fqdn("r2.branch.example.com".into());
    let mut b = keyring_side(B_ADDR, A_ADDR, "s3cret");
    b.isakmp_profiles[0].matches = vec![IdentityMatch::Domain("example.com".into())];
    b.isakmp_profiles[0].self_identity = Some(LocalIdentity::Fqdn("hub.example.com".into()));
    for b_initiates in [false, true] {
        let mut a = a.clone();
        if b_initiates {
            // A's answer names A too; B's own profile must accept it.
            a.isakmp_profiles = vec![profile(
                "HUB",
                vec![IdentityMatch::Host("hub.example.com".into())],
            )];
        }
        let pair = up(a, b.clone(), b_initiates);
        pair.assert_agree();
        assert_eq!(profile_of(&pair.b, pair.time).as_deref(), Some("P"));
        let expect_a = b_initiates.then_some("HUB");
        assert_eq!(profile_of(&pair.a, pair.time).as_deref(), expect_a);
        let (initiator, responder) = if b_initiates {
            (&pair.b, &pair.a)
        } else {
            (&pair.a, &pair.b)
        };
        assert!(initiator.logged("SA is doing pre-shared key authentication using id type ID_FQDN"));
        assert!(responder.logged("using id type ID_FQDN"));
        assert!(pair.b.logged(
            "processing ID payload: type ID_FQDN, host r2.branch.example.com, protocol 17, port 500"
        ));
        assert!(pair.b.logged("peer matches P profile"));
        // The FQDN is no address: no identity mismatch to warn about.
        assert!(pair.a.alerts().is_empty(), "{:#?}", pair.a.alerts());
        assert!(pair.b.alerts().is_empty(), "{:#?}", pair.b.alerts());
    }
}

#[test]
fn an_id_no_match_identity_accepts_fails_naming_the_profile_and_its_match_lines() {
    let mut a = global_side(A_ADDR, B_ADDR, "s3cret");
    a.identity = LocalIdentity::Fqdn("r2.example.org".into());
    let mut b = keyring_side(B_ADDR, A_ADDR, "s3cret");
    b.isakmp_profiles[0].matches = vec![
        match_address("2001:db8::/64", None),
        IdentityMatch::Domain("example.com".into()),
    ];
    let pair = up(a, b, false);
    assert!(pair.b.installed.is_empty());
    assert_eq!(
        pair.b.failures(),
        [format!(
            "invalid identity from {A_ADDR}: the peer identifies itself as host r2.example.org, \
             which no match identity accepts (crypto isakmp profile P, line 30 (match identity \
             address ipv6 2001:db8::/64, match identity host domain example.com))"
        )]
    );
}

#[test]
fn a_profile_refuses_a_key_from_a_keyring_it_does_not_name() {
    // Document 117259's trap: the responder finds the key before it knows the profile
    // (here the more specific one, in keyring OTHER); the profile then says K only.
    let a = global_side(A_ADDR, B_ADDR, "s3cret");
    let mut b = keyring_side(B_ADDR, A_ADDR, "s3cret");
    b.keyrings[0].keys = vec![key("s3cret", "::/0", 21)];
    b.keyrings.push(ring(
        "OTHER",
        None,
        None,
        vec![key("s3cret", &format!("{A_ADDR}/128"), 26)],
    ));
    let pair = up(a, b, false);
    assert!(pair.b.installed.is_empty());
    assert_eq!(
        pair.b.failures(),
        [format!(
            "invalid identity from {A_ADDR}: address {A_ADDR} matches crypto isakmp profile P, \
             which takes keys from keyring K only, but the key that authenticated it is the \
             pre-shared-key of crypto keyring OTHER, line 26 (keyring lines of crypto isakmp \
             profile P, line 30)"
        )]
    );
}

#[test]
fn a_tunnel_naming_a_profile_takes_quick_modes_of_that_profile_only() {
    // B's tunnel says `set isakmp-profile P`, but P matches another address: A's
    // ISAKMP SA comes up with the global settings, and its Quick Mode is refused.
    let a = global_side(A_ADDR, B_ADDR, "s3cret");
    let mut b = keyring_side(B_ADDR, A_ADDR, "s3cret");
    b.isakmp_profiles[0].matches = vec![match_address("2001:db8:ffff::/48", None)];
    b.keys = vec![key("s3cret", "::/0", 3)];
    let pair = up(a, b, false);
    assert!(pair.b.installed.is_empty());
    assert!(
        pair.b.failures().iter().any(|f| f
            == &format!(
                "invalid identity from {A_ADDR}: Quick Mode for Tunnel23 over an ISAKMP SA of no \
                 ISAKMP profile, but the tunnel's crypto ipsec profile says set isakmp-profile P \
                 (crypto ipsec profile of Tunnel23, line 7)"
            )),
        "{:#?}",
        pair.b.failures()
    );
}

#[test]
fn the_profiles_keepalive_overrides_the_global_one() {
    let global = Dpd {
        interval_s: 120,
        retry_s: 10,
        periodic: true,
        origin: line(4),
    };
    let mut a = keyring_side(A_ADDR, B_ADDR, "s3cret");
    a.dpd = Some(global.clone());
    a.isakmp_profiles[0].dpd = Some(Dpd {
        interval_s: 10,
        retry_s: 2,
        origin: line(31),
        ..global.clone()
    });
    let mut b = global_side(B_ADDR, A_ADDR, "s3cret");
    b.dpd = Some(global);
    let mut pair = up(a, b, false);
    pair.assert_agree();
    // B goes silent: A's profile probes after 10 s and gives up 5 probes 2 s apart
    // later, long before the global keepalive's 120 s.
    pair.deliver = |d| d.to_b;
    let start = pair.time;
    pair.run_for(Duration::from_secs(40));
    let dead = pair.a.logged_at("DPD timeout").expect("A declares B dead");
    // Not before the profile's first probe is due, nor long after its last retry.
    assert!(
        (Duration::from_secs(10)..=Duration::from_secs(22)).contains(&(dead - start)),
        "{:?}",
        dead - start
    );
    // What a user notices: the dead peer's SAs are gone from A.
    assert!(pair.a.installed.is_empty(), "{:#x?}", pair.a.installed);
    assert!(pair.a.logged(&format!(
        "DPD timeout: peer {B_ADDR} did not answer 5 R-U-THERE (keepalive 10 retry 2 of crypto \
         isakmp profile P, line 31); deleting its SAs"
    )));
}
