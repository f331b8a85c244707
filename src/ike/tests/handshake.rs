//! Complete handshakes: both sides end with one SA pair and agree on every key.

use super::util::*;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, EspTransform, HashAlg};
use crate::ipsec::Direction;
use std::time::Duration;

#[test]
fn reference_configuration_comes_up_like_ios() {
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    let a = pair.a.log_text();
    for line in [
        "Old State = IKE_READY New State = IKE_I_MM1",
        "Old State = IKE_I_MM1 New State = IKE_I_MM2",
        "Old State = IKE_I_MM2 New State = IKE_I_MM3",
        "Old State = IKE_I_MM4 New State = IKE_I_MM5",
        "Old State = IKE_I_MM6 New State = IKE_P1_COMPLETE",
        "Old State = IKE_QM_SPI_STARVE New State = IKE_QM_I_QM1",
        "Old State = IKE_QM_I_QM1 New State = IKE_QM_PHASE2_COMPLETE",
        "sending packet to 2001:db8::3 my_port 500 peer_port 500 (I) MM_NO_STATE",
        "Send initial contact",
        "vendor ID is DPD",
    ] {
        assert!(
            a.iter().any(|l| l.contains(line)),
            "initiator log lacks {line:?}: {a:#?}"
        );
    }
    let b = pair.b.log_text();
    for line in [
        "received packet from 2001:db8::2 dport 500 sport 500 Global (N) NEW SA",
        "Old State = IKE_READY New State = IKE_R_MM1",
        "Old State = IKE_R_MM1 New State = IKE_R_MM2",
        "Old State = IKE_R_MM5 New State = IKE_P1_COMPLETE",
        "Old State = IKE_QM_READY New State = IKE_QM_SPI_STARVE",
        "Old State = IKE_QM_SPI_STARVE New State = IKE_QM_R_QM2",
        "reason \"QM done (await)\"",
        "Old State = IKE_QM_R_QM2 New State = IKE_QM_PHASE2_COMPLETE",
        "Process initial contact",
        "No NAT Found for self or peer",
    ] {
        assert!(
            b.iter().any(|l| l.contains(line)),
            "responder log lacks {line:?}: {b:#?}"
        );
    }
    assert!(pair.a.failures().is_empty() && pair.b.failures().is_empty());

    let now = pair.time;
    let isakmp = pair.b.engine.isakmp_sas(now);
    assert_eq!(isakmp.len(), 1);
    assert_eq!(isakmp[0].state, "QM_IDLE");
    assert_eq!(isakmp[0].encryption.as_deref(), Some("DES"));
    assert_eq!(isakmp[0].group, Some(1));
    let ipsec = pair.a.engine.ipsec_sas(now);
    assert_eq!(ipsec.len(), 1);
    assert_eq!(ipsec[0].local_ident, "::/0");
    assert_eq!(ipsec[0].mode, "tunnel");
    assert_eq!(ipsec[0].pfs, None);
    assert_eq!(ipsec[0].inbound.transform, "esp-aes esp-sha-hmac");
    assert_eq!(
        ipsec[0].outbound.as_ref().map(|o| o.spi),
        Some(pair.b.engine.ipsec_sas(now)[0].inbound.spi)
    );
    let json = serde_json::to_value(&ipsec).unwrap();
    assert!(json[0]["inbound"]["spi"].is_number());

    // The lifetimes both offered (3600 s, 4608000 KB); soft about 90% of hard.
    let sa = pair.a.sa(Direction::Out)[0];
    assert_eq!(sa.lifetimes.hard_s, Some(3600));
    assert_eq!(sa.lifetimes.hard_bytes, Some(4_608_000 * 1024));
    let soft = sa.lifetimes.soft_s.unwrap();
    assert!((3000..3600).contains(&soft), "soft {soft}");
    assert_eq!(sa.encap, None);
}

#[test]
fn every_phase1_suite_completes() {
    // Every cipher with every hash, and every group (each once: the group's
    // exponentiation does not depend on the rest of the suite, and 4096-bit MODP,
    // P-384 and P-521 are slow in a debug build).
    let suites = CipherAlg::ALL
        .into_iter()
        .flat_map(|c| HashAlg::ALL.map(|h| (c, h, DhGroup::Modp1024)))
        .chain(
            DhGroup::ALL
                .into_iter()
                .enumerate()
                .map(|(i, g)| (CipherAlg::ALL[i % 5], HashAlg::ALL[i % 5], g)),
        );
    for (cipher, hash, group) in suites {
        let mut a = settings(A_ADDR, B_ADDR);
        let mut b = settings(B_ADDR, A_ADDR);
        a.policies = vec![policy(cipher, hash, group)];
        b.policies = a.policies.clone();
        let mut pair = Pair::new(a, b);
        pair.initiate(false);
        pair.run_for(Duration::from_secs(1));
        assert!(
            pair.a.failures().is_empty(),
            "{cipher:?}/{hash:?}/{group:?}: {:?}",
            pair.a.failures()
        );
        pair.assert_agree();
    }
}

#[test]
fn every_esp_transform_completes_with_and_without_pfs() {
    for (i, t) in EspTransform::all().enumerate() {
        let mut a = settings(A_ADDR, B_ADDR);
        a.tunnels[0].transform_sets = vec![transform_set(t.encr, t.auth)];
        // PFS on every other transform, cycling through the groups.
        a.tunnels[0].pfs = (i % 2 == 1).then_some(DhGroup::ALL[i / 2 % DhGroup::ALL.len()]);
        let mut b = settings(B_ADDR, A_ADDR);
        b.tunnels[0].transform_sets = a.tunnels[0].transform_sets.clone();
        b.tunnels[0].pfs = a.tunnels[0].pfs;
        let mut pair = Pair::new(a, b);
        pair.initiate(true);
        pair.run_for(Duration::from_secs(1));
        pair.assert_agree();
        let sa = pair.a.sa(Direction::In)[0];
        assert_eq!(sa.transform, t);
        let pfs = pair.a.engine.ipsec_sas(pair.time)[0].pfs.clone();
        assert_eq!(
            pfs,
            pair.a.engine.settings.tunnels[0]
                .pfs
                .map(|g| format!("group{}", g.id()))
        );
    }
}

/// Cisco's "next generation encryption" (groups 19, 20, 21, 24 for phase 1 and PFS,
/// GCM/GMAC and SHA-2 ESP): every new group as the PFS group of every new ESP
/// transform, both sides deriving the same keys, and the ESP keys long enough for
/// GCM's salt. Phase 1 runs group 19 (each group in phase 1: above).
#[test]
fn every_new_group_with_every_new_esp_transform_agrees() {
    let groups = [
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Modp2048s256,
    ];
    let transforms = EspTransform::all().filter(|t| {
        t.encr.is_combined()
            || t.encr == EspEncr::Null
            || matches!(t.auth, EspAuth::HmacSha384 | EspAuth::HmacSha512)
    });
    for t in transforms {
        for group in groups {
            let mut a = settings(A_ADDR, B_ADDR);
            a.policies = vec![policy(
                CipherAlg::Aes(256),
                HashAlg::Sha384,
                DhGroup::Ecp256,
            )];
            a.tunnels[0].transform_sets = vec![transform_set(t.encr, t.auth)];
            a.tunnels[0].pfs = Some(group);
            let mut b = settings(B_ADDR, A_ADDR);
            b.policies = a.policies.clone();
            b.tunnels[0].transform_sets = a.tunnels[0].transform_sets.clone();
            b.tunnels[0].pfs = Some(group);
            let mut pair = Pair::new(a, b);
            pair.initiate(true);
            pair.run_for(Duration::from_secs(1));
            assert!(pair.a.failures().is_empty(), "{t:?} {group:?}");
            pair.assert_agree();
            let sa = pair.b.sa(Direction::Out)[0];
            assert_eq!(sa.transform, t);
            assert_eq!(sa.enc_key.len() + sa.auth_key.len(), t.keymat_len());
            // `show ipsec` in IOS words: "esp-gcm 256", "esp-aes esp-sha384-hmac".
            let shown = &pair.a.engine.ipsec_sas(pair.time)[0];
            assert_eq!(shown.inbound.transform, t.ios_name());
            assert_eq!(shown.pfs, Some(format!("group{}", group.id())));
        }
    }
}

#[test]
fn initiator_offers_all_policies_and_responder_takes_the_first_match() {
    let mut a = settings(A_ADDR, B_ADDR);
    a.policies = vec![
        policy(CipherAlg::Aes(256), HashAlg::Sha256, DhGroup::Modp2048),
        policy(CipherAlg::TripleDes, HashAlg::Sha1, DhGroup::Modp1024),
    ];
    a.policies[1].priority = 20;
    let mut b = settings(B_ADDR, A_ADDR);
    b.policies = vec![policy(
        CipherAlg::TripleDes,
        HashAlg::Sha1,
        DhGroup::Modp1024,
    )];
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    let sa = &pair.a.engine.isakmp_sas(pair.time)[0];
    assert_eq!(sa.encryption.as_deref(), Some("3DES"));
    assert_eq!(sa.group, Some(2));
}

#[test]
fn shorter_lifetimes_win_and_responder_lifetime_is_honoured() {
    let a = settings(A_ADDR, B_ADDR);
    let mut b = settings(B_ADDR, A_ADDR);
    b.tunnels[0].lifetime_s = 1200;
    b.tunnels[0].lifetime_kb = 100_000;
    b.policies[0].lifetime_s = 86_400;
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    for side in [&pair.a, &pair.b] {
        for sa in &side.installed {
            assert_eq!(sa.lifetimes.hard_s, Some(1200));
            assert_eq!(sa.lifetimes.hard_bytes, Some(100_000 * 1024));
        }
    }
    // A peer offering a longer phase 1 lifetime than ours is refused (IOS).
    let mut a = settings(A_ADDR, B_ADDR);
    a.policies[0].lifetime_s = 100_000;
    let mut pair = Pair::new(a, settings(B_ADDR, A_ADDR));
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    assert!(pair
        .b
        .logged("peer offered lifetime 100000 s, policy 10 (line 1) allows at most 86400 s"));
}

#[test]
fn nat_floats_to_4500_and_encapsulates_esp() {
    let mut pair = Pair::reference();
    pair.nat_port_shift = Some(1000);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    assert!(pair.a.logged("NAT found, this node is inside NAT"));
    assert!(pair.b.logged("NAT found, the peer is inside NAT"));
    // MM5 onwards from A's port 4500.
    let from_a: Vec<u16> = pair
        .sent
        .iter()
        .filter(|d| d.to_b)
        .map(|d| d.remote.port())
        .collect();
    assert_eq!(&from_a[..2], &[1500, 1500]);
    assert!(from_a[2..].iter().all(|p| *p == 5500), "{from_a:?}");
    let a_out = pair.a.sa(Direction::Out)[0];
    let enc = a_out.encap.expect("UDP encapsulation");
    assert_eq!((enc.sport, enc.dport), (4500, 4500));
    let b_out = pair.b.sa(Direction::Out)[0];
    let enc = b_out.encap.expect("UDP encapsulation");
    assert_eq!((enc.sport, enc.dport), (4500, 5500), "to the NAT's port");
    assert!(pair.b.engine.ipsec_sas(pair.time)[0].nat_t);
}

#[test]
fn ipv4_tunnel_uses_ipv4_proxies() {
    let mut a = settings("192.0.2.1", "192.0.2.2");
    a.tunnels[0].inner = crate::ipsec::InnerFamily::V4;
    a.keys[0].address = "0.0.0.0".parse().unwrap();
    let mut b = settings("192.0.2.2", "192.0.2.1");
    b.tunnels[0].inner = crate::ipsec::InnerFamily::V4;
    b.keys[0].address = "0.0.0.0".parse().unwrap();
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    assert_eq!(
        pair.b.engine.ipsec_sas(pair.time)[0].remote_ident,
        "0.0.0.0/0"
    );
}
