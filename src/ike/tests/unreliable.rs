//! Loss, duplication, reordering and simultaneous initiation.

use super::util::*;
use std::time::Duration;

/// Initiate like the daemon would on traffic: again while the tunnel is down.
fn bring_up(pair: &mut Pair, both: bool) {
    for _ in 0..4 {
        pair.initiate(false);
        if both {
            pair.initiate(true);
        }
        pair.run_for(Duration::from_secs(300));
        let up = |s: &Side| {
            s.sa(crate::ipsec::Direction::Out).len() == 1
                && s.sa(crate::ipsec::Direction::In).len() == 1
        };
        if up(&pair.a) && up(&pair.b) {
            return;
        }
    }
}

#[test]
fn survives_loss_duplicates_and_reordering() {
    let mut retransmissions = 0;
    let mut duplicates = 0;
    for seed in 0..12 {
        let mut pair = Pair::with_seed(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR), seed);
        pair.loss = 30;
        pair.duplicate = 10;
        pair.reorder = 10;
        bring_up(&mut pair, false);
        // Let late retransmissions and duplicates die out on a perfect network.
        pair.loss = 0;
        pair.run_for(Duration::from_secs(300));
        pair.assert_agree();
        retransmissions +=
            pair.a.engine.stats().retransmissions + pair.b.engine.stats().retransmissions;
        duplicates += pair.a.engine.stats().duplicates + pair.b.engine.stats().duplicates;
    }
    assert!(retransmissions > 0 && duplicates > 0);
}

#[test]
fn every_message_duplicated_is_processed_once() {
    let mut pair = Pair::reference();
    pair.duplicate = 100;
    pair.initiate(false);
    pair.run_for(Duration::from_secs(5));
    pair.assert_agree();
    assert_eq!(pair.b.engine.isakmp_sas(pair.time).len(), 1);
    // Each duplicate of a request was answered from the stored reply.
    assert!(
        pair.b.engine.stats().duplicates >= 4,
        "{:?}",
        pair.b.engine.stats()
    );
    assert_eq!(pair.a.installed.len(), 2);
    assert_eq!(pair.b.installed.len(), 2);
}

#[test]
fn simultaneous_initiation_ends_with_one_agreed_pair() {
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.initiate(true);
    pair.check_no_loss = true;
    pair.run_for(Duration::from_secs(30));
    pair.assert_agree();
    assert!(
        pair.b.logged("Quick Mode collision"),
        "{:#?}",
        pair.b.log_text()
    );
    // One ISAKMP SA is left, the same on both sides; the other went with a Delete
    // (not through INITIAL-CONTACT).
    let (a, b) = (
        pair.a.engine.isakmp_sas(pair.time),
        pair.b.engine.isakmp_sas(pair.time),
    );
    assert_eq!((a.len(), b.len()), (1, 1), "{a:?} {b:?}");
    assert_eq!((a[0].state, b[0].state), ("QM_IDLE", "QM_IDLE"));
    assert!(pair.a.logged("ISAKMP SA collision") && pair.b.logged("ISAKMP SA collision"));
    assert!(!pair.b.logged("peer sent INITIAL-CONTACT"));
    assert!(pair.a.alerts().is_empty() && pair.b.alerts().is_empty());
}

#[test]
fn simultaneous_initiation_under_loss() {
    for seed in 0..40 {
        let mut pair = Pair::with_seed(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR), seed);
        pair.loss = 30;
        pair.reorder = 20;
        bring_up(&mut pair, true);
        pair.loss = 0;
        pair.run_for(Duration::from_secs(300));
        // A lost Delete (Informational messages are not retransmitted) can leave an
        // unused SA behind until its lifetime; the traffic and later exchanges are fine.
        pair.assert_no_loss();
        for (b, side) in [(false, &pair.a), (true, &pair.b)] {
            let out = side.sa(crate::ipsec::Direction::Out);
            assert_eq!(out.len(), 1, "seed {seed} {b}: {out:?}");
            let sas = side.engine.isakmp_sas(pair.time);
            assert!((1..=2).contains(&sas.len()), "seed {seed}: {sas:#?}");
        }
        // Both ends rekey over the ISAKMP SA they chose.
        for b in [false, true] {
            let now = pair.time;
            let spi = pair.side(b).active_outbound().unwrap().spi;
            pair.side(b).engine.handle_command(
                now,
                crate::ike::Command::SaExpired {
                    tunnel: TUNNEL.into(),
                    spi,
                    hard: false,
                },
            );
            pair.run_for(Duration::from_secs(60));
            pair.assert_no_loss();
            assert_ne!(
                pair.side(b).active_outbound().unwrap().spi,
                spi,
                "seed {seed}"
            );
        }
    }
}

#[test]
fn unreachable_peer_gives_up_says_so_once_and_comes_back_by_itself() {
    let mut pair = Pair::reference();
    pair.loss = 100;
    let start = pair.time;
    pair.initiate(false);
    pair.run_for(Duration::from_secs(51));
    assert_eq!(
        pair.a.failures(),
        ["peer unreachable (no answer to MM1): 2001:db8::3 after 7 transmissions (tunnel destination of Tunnel23, line 14)"]
    );
    let sent: Vec<u64> = pair
        .sent
        .iter()
        .map(|d| (d.sent_at - start).as_secs())
        .collect();
    assert_eq!(sent, [0, 2, 4, 6, 10, 18, 34]);
    // Retries after 30, 60, 120, 120... s; the failure is not repeated at warning level.
    pair.run_for(Duration::from_secs(600));
    assert_eq!(pair.a.alerts().len(), 1, "{:#?}", pair.a.alerts());
    let attempts = pair.sent.iter().filter(|d| d.data.len() > 28).count() / 7;
    assert!((5..=7).contains(&attempts), "{attempts} attempts");
    // The peer is back: the tunnel comes up without anyone asking.
    pair.loss = 0;
    pair.run_for(Duration::from_secs(170));
    pair.assert_agree();
}

#[test]
fn main_and_quick_mode_complete_within_30s_under_20_percent_loss_and_jitter() {
    let mut slowest = Duration::ZERO;
    for seed in 0..40 {
        let mut pair = Pair::with_seed(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR), seed);
        pair.loss = 20;
        pair.latency = Duration::from_millis(10);
        pair.jitter = Duration::from_millis(100);
        let start = pair.time;
        pair.initiate(false);
        pair.run_for(Duration::from_secs(30));
        let up = pair
            .a
            .logged_at("IPsec SA up")
            .max(pair.b.logged_at("IPsec SA up"))
            .unwrap_or_else(|| panic!("seed {seed}: not up in 30 s: {:#?}", pair.a.log_text()));
        slowest = slowest.max(up - start);
        // Let retransmissions in flight die out, then both agree on one pair.
        pair.loss = 0;
        pair.run_for(Duration::from_secs(60));
        pair.assert_agree();
        assert!(
            pair.a.alerts().is_empty(),
            "seed {seed}: {:#?}",
            pair.a.alerts()
        );
    }
    assert!(
        slowest > Duration::from_secs(2),
        "loss made some handshake wait"
    );
}
