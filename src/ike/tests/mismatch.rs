//! Configuration mismatches end in the right notify and one log line that names the
//! cause and the configuration line.

use super::util::*;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, HashAlg, Secret};
use crate::isakmp::{AttrValue, Attribute, Header, Message, NotifyType, Payload};
use std::time::Duration;

/// Notify types A received from B (decoding what is readable in the clear).
fn notifies_to_a(pair: &Pair) -> Vec<NotifyType> {
    pair.sent
        .iter()
        .filter(|d| !d.to_b)
        .filter_map(|d| Message::decode(&d.data).ok())
        .flat_map(|m| m.payloads)
        .filter_map(|p| match p.payload {
            Payload::Notify(n) => Some(n.notify_type),
            _ => None,
        })
        .collect()
}

/// Informational messages (encrypted or not) B sent to A.
fn informationals_to_a(pair: &Pair) -> usize {
    pair.sent
        .iter()
        .filter(|d| !d.to_b)
        .filter_map(|d| Header::decode(&d.data).ok())
        .filter(|h| h.exchange == crate::isakmp::ExchangeType::INFORMATIONAL)
        .count()
}

/// Long enough for several retries (after 30, 60, 120 s): each diagnosis is still one
/// warning or error line per side.
fn run(a: crate::ike::Settings, b: crate::ike::Settings) -> Pair {
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(400));
    if pair.a.sa(crate::ipsec::Direction::Out).is_empty() {
        let attempts =
            pair.a.count("beginning Main Mode exchange") + pair.a.count("beginning Quick Mode");
        assert!(attempts >= 4, "A retried: {attempts}");
    }
    for side in [&pair.a, &pair.b] {
        let alerts = side.alerts();
        let unique: std::collections::HashSet<&String> = alerts.iter().collect();
        assert_eq!(unique.len(), alerts.len(), "repeated: {alerts:#?}");
    }
    pair
}

#[test]
fn isakmp_policy_mismatch() {
    let mut a = settings(A_ADDR, B_ADDR);
    a.policies = vec![policy(
        CipherAlg::Aes(256),
        HashAlg::Sha256,
        DhGroup::Modp2048,
    )];
    let pair = run(a, settings(B_ADDR, A_ADDR));
    assert_eq!(
        pair.b.alerts(),
        ["no matching proposal: peer offered AES-256/SHA-256/group 14, policy 10 (line 1) has DES/SHA/group 1"]
    );
    // B answers every (retransmitted, retried) MM1 so, but reports it once.
    let n = notifies_to_a(&pair);
    assert!(
        !n.is_empty() && n.iter().all(|n| *n == NotifyType::NO_PROPOSAL_CHOSEN),
        "{n:?}"
    );
    let a = pair.a.alerts();
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].contains("peer rejected MM1 with NO_PROPOSAL_CHOSEN"),
        "{a:?}"
    );
    assert!(
        a[0].contains("policy 10 (line 1) has AES-256/SHA-256/group 14"),
        "{a:?}"
    );
    assert!(pair.a.installed.is_empty() && pair.b.installed.is_empty());
}

#[test]
fn transform_set_mismatch() {
    let mut a = settings(A_ADDR, B_ADDR);
    a.tunnels[0].transform_sets = vec![transform_set(EspEncr::TripleDes, EspAuth::HmacMd5)];
    let pair = run(a, settings(B_ADDR, A_ADDR));
    assert_eq!(
        pair.b.alerts(),
        ["no matching transform set for Tunnel23: peer offered esp-3des esp-md5-hmac, transform set TRA (line 5) has esp-aes esp-sha-hmac"]
    );
    // The notify travels protected by phase 1 (once per attempt); A names what to check.
    assert!(informationals_to_a(&pair) >= 1);
    let a = pair.a.alerts();
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].starts_with("peer rejected QM1 for Tunnel23 with NO_PROPOSAL_CHOSEN"),
        "{a:?}"
    );
    assert!(a[0].contains("transform set TRA (line 5)"), "{a:?}");
    assert!(pair.a.installed.is_empty() && pair.b.installed.is_empty());
}

#[test]
fn pfs_mismatch() {
    let a = settings(A_ADDR, B_ADDR);
    let mut b = settings(B_ADDR, A_ADDR);
    b.tunnels[0].pfs = Some(DhGroup::Modp2048);
    let pair = run(a, b);
    assert_eq!(
        pair.b.alerts(),
        ["PFS mismatch for Tunnel23: peer offered no PFS, set pfs (line 7) requires group 14"]
    );
    assert!(pair.a.alerts().len() == 1 && pair.a.alerts()[0].contains("with NO_PROPOSAL_CHOSEN"));
    assert!(pair.a.installed.is_empty() && pair.b.installed.is_empty());
}

#[test]
fn responder_without_pfs_accepts_the_initiators_group() {
    let mut a = settings(A_ADDR, B_ADDR);
    a.tunnels[0].pfs = Some(DhGroup::Modp1024);
    let mut pair = run(a, settings(B_ADDR, A_ADDR));
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    assert_eq!(
        pair.b.engine.ipsec_sas(pair.time)[0].pfs.as_deref(),
        Some("group2")
    );
}

#[test]
fn proxy_identity_mismatch() {
    // A protects IPv4 inside, B's tunnel to A carries IPv6.
    let mut a = settings(A_ADDR, B_ADDR);
    a.tunnels[0].inner = crate::ipsec::InnerFamily::V4;
    let pair = run(a, settings(B_ADDR, A_ADDR));
    let b = pair.b.alerts();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(
        b[0],
        "invalid identity from 2001:db8::2: proxy identities 0.0.0.0/0/0/0 <-> 0.0.0.0/0/0/0 not acceptable (interface Tunnel23 (line 9) protects ::/0/0/0)"
    );
    let a = pair.a.alerts();
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].contains("with INVALID_ID_INFORMATION"), "{a:?}");
    assert!(
        a[0].contains("proxy identities of interface Tunnel23 (line 9)"),
        "{a:?}"
    );
}

#[test]
fn preshared_key_mismatch() {
    let mut a = settings(A_ADDR, B_ADDR);
    a.keys[0].key = Secret::new(b"wrong".to_vec());
    let pair = run(a, settings(B_ADDR, A_ADDR));
    let b = pair.b.alerts();
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(
        b[0].starts_with("authentication failed: ")
            && b[0].ends_with(
                "likely pre-shared key mismatch with 2001:db8::2 (crypto isakmp key, line 3)"
            ),
        "{b:?}"
    );
    // MM5 does not decrypt with B's keys: PAYLOAD_MALFORMED (or, if the garbage happens
    // to parse, INVALID_HASH_INFORMATION), in the clear, which A reports as a likely
    // PSK mismatch too.
    let n = notifies_to_a(&pair);
    assert!(
        !n.is_empty()
            && n.iter().all(|n| [
                NotifyType::PAYLOAD_MALFORMED,
                NotifyType::INVALID_HASH_INFORMATION
            ]
            .contains(n)),
        "{n:?}"
    );
    let a = pair.a.alerts();
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].starts_with("authentication failed: peer answered MM5 with"),
        "{a:?}"
    );
    assert!(a[0]
        .ends_with("likely pre-shared key mismatch with 2001:db8::3 (crypto isakmp key, line 3)"));
}

#[test]
fn silent_peer_after_mm5_is_reported_as_likely_psk_mismatch() {
    let mut a = settings(A_ADDR, B_ADDR);
    a.keys[0].key = Secret::new(b"wrong".to_vec());
    let mut pair = Pair::new(a, settings(B_ADDR, A_ADDR));
    // Many IOS versions answer a bad MM5 with silence: lose B's notifies.
    pair.deliver = |d| {
        d.to_b
            || Header::decode(&d.data)
                .is_ok_and(|h| h.exchange != crate::isakmp::ExchangeType::INFORMATIONAL)
    };
    pair.initiate(false);
    pair.run_for(Duration::from_secs(120));
    assert_eq!(
        pair.a.alerts(),
        ["negotiation with 2001:db8::3 timed out: no answer to MM5 after 7 transmissions (likely pre-shared key mismatch: crypto isakmp key, line 3)"]
    );
}

#[test]
fn no_key_for_peer_is_logged_and_nothing_sent() {
    let mut b = settings(B_ADDR, A_ADDR);
    b.keys[0].address = "2001:db8:ffff::".parse().unwrap();
    b.keys[0].prefix_len = 48;
    let pair = run(settings(A_ADDR, B_ADDR), b);
    let failures = pair.b.alerts();
    // Once per (re)transmitted MM1, like IOS.
    assert!(!failures.is_empty());
    assert!(failures
        .iter()
        .all(|f| f
            == "no pre-shared key for peer 2001:db8::2: no crypto isakmp key address covers it"));
    assert!(pair.sent.iter().all(|d| d.to_b));
}

#[test]
fn lifetime_shortened_by_the_peer_is_one_warning_naming_the_profile() {
    // B's profile says 1200 s / 100000 KB: it answers with RESPONDER-LIFETIME.
    let a = settings(A_ADDR, B_ADDR);
    let mut b = settings(B_ADDR, A_ADDR);
    b.tunnels[0].lifetime_s = 1200;
    b.tunnels[0].lifetime_kb = 100_000;
    let pair = run(a, b);
    assert_eq!(
        pair.a.alerts(),
        ["lifetime shortened by the peer: the IPsec SAs of Tunnel23: 1200 s / 100000 KB instead of 3600 s / 4608000 KB (set security-association lifetime of the crypto ipsec profile, line 7)"]
    );
    assert!(pair.b.alerts().is_empty(), "{:#?}", pair.b.alerts());

    // A offers shorter lifetimes than B's: B accepts them and says so.
    let mut a = settings(A_ADDR, B_ADDR);
    a.tunnels[0].lifetime_s = 1800;
    a.policies[0].lifetime_s = 43_200;
    let pair = run(a, settings(B_ADDR, A_ADDR));
    assert_eq!(
        pair.b.alerts(),
        [
            "lifetime shortened by the peer: the ISAKMP SA: 43200 s instead of 86400 s (lifetime of crypto isakmp policy 10, line 1)",
            "lifetime shortened by the peer: the IPsec SAs of Tunnel23: 1800 s / 4608000 KB instead of 3600 s / 4608000 KB (set security-association lifetime of the crypto ipsec profile, line 7)",
        ]
    );
    assert!(pair.a.alerts().is_empty(), "{:#?}", pair.a.alerts());
}

#[test]
fn identity_mismatch_is_one_warning_naming_the_tunnel_destination() {
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    let id = pair.b.engine.phase1.values().next().unwrap().conn_id;
    // As if A had sent "I am 2001:db8::99" (a peer configured with another identity).
    let other =
        crate::ike::identity::phase1_id("2001:db8::99".parse().unwrap(), &Default::default());
    let own = crate::ike::identity::phase1_id(A_ADDR.parse().unwrap(), &Default::default());
    for _ in 0..2 {
        pair.b.engine.with_phase1(id, |e, p1| {
            e.check_phase1_id(p1, &own);
            e.check_phase1_id(p1, &other);
        });
    }
    pair.drive();
    assert_eq!(
        pair.b.alerts(),
        ["identity mismatch: peer 2001:db8::2 identifies itself as 2001:db8::99/128/17/500 (tunnel destination of Tunnel23, line 14)"]
    );
}

/// RFC 4106 8.4 / RFC 4543: a GCM or GMAC transform carries its key length and no
/// authentication attribute. Our offer is built so; a peer's GCM transform with an
/// HMAC attribute, or without a key length, matches no `esp-gcm` transform set.
#[test]
fn gcm_transforms_carry_a_key_length_and_no_authentication_attribute() {
    use crate::ike::proposal::{p2_offer, p2_select};
    use crate::isakmp::consts::p2_attr;
    let mut s = settings(A_ADDR, B_ADDR);
    s.tunnels[0].transform_sets = vec![transform_set(EspEncr::AesGcm(256), EspAuth::None)];
    let tunnel = &s.tunnels[0];
    let offer = p2_offer(tunnel, 0x1234, false, Some(DhGroup::Ecp256));
    let t = &offer.proposals[0].transforms[0];
    assert_eq!(t.transform_id, 20, "ESP_AES-GCM with a 16-octet ICV");
    assert_eq!(t.attr(p2_attr::KEY_LENGTH), Some(&AttrValue::Basic(256)));
    assert_eq!(t.attr(p2_attr::AUTHENTICATION_ALGORITHM), None);
    assert_eq!(
        t.attr(p2_attr::GROUP_DESCRIPTION),
        Some(&AttrValue::Basic(19))
    );
    assert!(
        p2_select(tunnel, &offer).is_ok(),
        "our own offer is acceptable"
    );

    let mut with_hmac = offer.clone();
    with_hmac.proposals[0].transforms[0]
        .attributes
        .push(Attribute::basic(p2_attr::AUTHENTICATION_ALGORITHM, 2));
    let mut without_length = offer.clone();
    without_length.proposals[0].transforms[0]
        .attributes
        .retain(|a| a.attr_type != p2_attr::KEY_LENGTH);
    let mut pfs_offer = s.clone();
    pfs_offer.tunnels[0].pfs = Some(DhGroup::Ecp256);
    for bad in [with_hmac, without_length] {
        let err = p2_select(&pfs_offer.tunnels[0], &bad).unwrap_err();
        assert!(err.to_string().contains("esp-gcm 256"), "{err}");
    }
}
