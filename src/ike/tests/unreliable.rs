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
            s.sa(crate::dataplane::Direction::Out).len() == 1
                && s.sa(crate::dataplane::Direction::In).len() == 1
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
    pair.run_for(Duration::from_secs(5));
    pair.assert_agree();
    assert!(
        pair.b.logged("Quick Mode collision"),
        "{:#?}",
        pair.b.log_text()
    );
    // Both ISAKMP SAs may stay (IOS too); none is torn down by INITIAL-CONTACT.
    assert_eq!(pair.a.engine.isakmp_sas(pair.time).len(), 2);
}

#[test]
fn simultaneous_initiation_under_loss() {
    for seed in 0..8 {
        let mut pair = Pair::with_seed(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR), seed);
        pair.loss = 30;
        pair.reorder = 20;
        bring_up(&mut pair, true);
        pair.loss = 0;
        pair.run_for(Duration::from_secs(300));
        pair.assert_agree();
    }
}

#[test]
fn unreachable_peer_gives_up_after_backoff() {
    let mut pair = Pair::reference();
    pair.loss = 100;
    let start = pair.time;
    pair.initiate(false);
    pair.run_for(Duration::from_secs(200));
    assert_eq!(
        pair.a.failures(),
        ["peer unreachable (no answer to MM1): 2001:db8::3 after 5 transmissions (tunnel destination of Tunnel23, line 14)"]
    );
    // Sent at 0, 2, 6, 14, 30 s.
    assert_eq!(pair.sent.len(), 5);
    assert!(pair.a.engine.isakmp_sas(pair.time).is_empty());
    assert_eq!(pair.a.engine.poll_timeout(), None);
    assert!(pair.time - start >= Duration::from_secs(62));
}
