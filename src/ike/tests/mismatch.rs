//! Configuration mismatches end in the right notify and one log line that names the
//! cause and the configuration line.

use super::util::*;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, HashAlg, Secret};
use crate::isakmp::{Header, Message, NotifyType, Payload};
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

fn run(a: crate::ike::Settings, b: crate::ike::Settings) -> Pair {
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(120));
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
        pair.b.failures(),
        ["no matching proposal: peer offered AES-256/SHA-256/group 14, policy 10 (line 1) has DES/SHA/group 1"]
    );
    assert_eq!(notifies_to_a(&pair), [NotifyType::NO_PROPOSAL_CHOSEN]);
    let a = pair.a.failures();
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
        pair.b.failures(),
        ["no matching transform set for Tunnel23: peer offered esp-3des esp-md5-hmac, transform set TRA (line 5) has esp-aes esp-sha-hmac"]
    );
    // The notify travels protected by phase 1; A names what to check.
    assert_eq!(informationals_to_a(&pair), 1);
    let a = pair.a.failures();
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
        pair.b.failures(),
        ["PFS mismatch for Tunnel23: peer offered no PFS, set pfs (line 7) requires group 14"]
    );
    assert!(pair.a.failures()[0].contains("with NO_PROPOSAL_CHOSEN"));
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
    a.tunnels[0].inner = crate::dataplane::InnerFamily::V4;
    let pair = run(a, settings(B_ADDR, A_ADDR));
    let b = pair.b.failures();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(
        b[0],
        "invalid identity from 2001:db8::2: proxy identities 0.0.0.0/0/0/0 <-> 0.0.0.0/0/0/0 not acceptable (interface Tunnel23 (line 9) protects ::/0/0/0)"
    );
    let a = pair.a.failures();
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
    let b = pair.b.failures();
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
        n == [NotifyType::PAYLOAD_MALFORMED] || n == [NotifyType::INVALID_HASH_INFORMATION],
        "{n:?}"
    );
    let a = pair.a.failures();
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
        pair.a.failures(),
        ["negotiation with 2001:db8::3 timed out: no answer to MM5 after 5 transmissions (likely pre-shared key mismatch: crypto isakmp key, line 3)"]
    );
}

#[test]
fn no_key_for_peer_is_logged_and_nothing_sent() {
    let mut b = settings(B_ADDR, A_ADDR);
    b.keys[0].address = "2001:db8:ffff::".parse().unwrap();
    b.keys[0].prefix_len = 48;
    let pair = run(settings(A_ADDR, B_ADDR), b);
    let failures = pair.b.failures();
    // Once per (re)transmitted MM1, like IOS.
    assert!(!failures.is_empty());
    assert!(failures
        .iter()
        .all(|f| f
            == "no pre-shared key for peer 2001:db8::2: no crypto isakmp key address covers it"));
    assert!(pair.sent.iter().all(|d| d.to_b));
}
