//! Rekeying without loss: IPsec pairs make-before-break from either side, ISAKMP SAs
//! replaced under their IPsec SAs, and collisions ending with one of each.

use super::util::*;
use crate::ike::settings::Settings;
use crate::ike::{Command, LogEvent};
use crate::ipsec::Direction;
use std::time::Duration;

/// Phase 2 lifetime 30 s, phase 1 60 s (short lifetimes are accepted for tests).
fn short(mut s: Settings) -> Settings {
    s.tunnels[0].lifetime_s = 30;
    s.policies[0].lifetime_s = 60;
    s
}

fn up(a: Settings, b: Settings) -> Pair {
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    pair.check_no_loss = true;
    pair
}

fn soft_expiry(pair: &mut Pair, b: bool) {
    let now = pair.time;
    let spi = pair.side(b).sa(Direction::In)[0].spi;
    pair.side(b).engine.handle_command(
        now,
        Command::SaExpired {
            tunnel: TUNNEL.into(),
            spi,
            hard: false,
        },
    );
}

fn sa_ups(side: &Side) -> usize {
    side.logs
        .iter()
        .filter(|l| matches!(l, LogEvent::SaUp { .. }))
        .count()
}

#[test]
fn phase2_rekey_from_either_side_is_make_before_break() {
    for rekeyer in [false, true] {
        let mut pair = up(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR));
        let old_in = pair.side(rekeyer).sa(Direction::In)[0].spi;
        let old_out = pair.side(rekeyer).sa(Direction::Out)[0].spi;
        // The data path's kilobyte soft limit (or our timer) on one side.
        soft_expiry(&mut pair, rekeyer);
        pair.run_for(Duration::from_secs(1));
        let side = pair.side(rekeyer);
        // The new pair carries the traffic; the old inbound SA still receives.
        assert_ne!(side.active_outbound().unwrap().spi, old_out);
        assert_eq!(side.sa(Direction::Out).len(), 1);
        assert_eq!(side.sa(Direction::In).len(), 2);
        assert!(side.sa(Direction::In).iter().any(|s| s.spi == old_in));
        // After the grace period the peer hears of it and both drop the old pair.
        pair.run_for(Duration::from_secs(10));
        pair.assert_agree();
        let side = pair.side(rekeyer);
        assert!(!side.sa(Direction::In).iter().any(|s| s.spi == old_in));
        assert!(side.logged("replaced by a newer SA"));
        assert!(pair.a.alerts().is_empty() && pair.b.alerts().is_empty());
    }
}

#[test]
fn phase2_and_phase1_rekeys_over_100_seconds_lose_nothing() {
    let mut pair = up(
        short(settings(A_ADDR, B_ADDR)),
        short(settings(B_ADDR, A_ADDR)),
    );
    pair.run_for(Duration::from_secs(100));
    for side in [&pair.a, &pair.b] {
        // 30 s pairs, replaced at 85..94%: three or four replacements in 100 s.
        assert!((4..=5).contains(&sa_ups(side)), "{} pairs", sa_ups(side));
        let phase1_ups = side
            .logs
            .iter()
            .filter(|l| matches!(l, LogEvent::Phase1Up { .. }))
            .count();
        assert_eq!(phase1_ups, 2, "one phase 1 rekey");
        assert!(side.alerts().is_empty(), "{:#?}", side.alerts());
        // INITIAL-CONTACT only on the very first Main Mode.
        assert!(side.count("initial contact") <= 1);
        assert!(!side.logged("lifetime expired"));
    }
    // The rekeys replaced the ISAKMP SA, not stacked new ones.
    let (a, b) = (
        pair.a.engine.isakmp_sas(pair.time),
        pair.b.engine.isakmp_sas(pair.time),
    );
    assert_eq!((a.len(), b.len()), (1, 1), "{a:?} {b:?}");
    assert_eq!(a[0].conn_id, pair.a.engine.ipsec_sas(pair.time)[0].conn_id);
    pair.run_for(Duration::from_secs(6));
    pair.assert_agree();
}

#[test]
fn simultaneous_phase2_rekeys_end_with_one_pair() {
    let mut pair = up(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR));
    soft_expiry(&mut pair, false);
    soft_expiry(&mut pair, true);
    pair.run_for(Duration::from_secs(20));
    pair.assert_agree();
    assert!(pair.a.logged("Quick Mode collision") && pair.b.logged("Quick Mode collision"));
    assert!(pair.a.alerts().is_empty() && pair.b.alerts().is_empty());
}

#[test]
fn simultaneous_phase1_rekeys_end_with_one_isakmp_sa() {
    let mut pair = up(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR));
    let spis = (
        pair.a.sa(Direction::In)[0].spi,
        pair.b.sa(Direction::In)[0].spi,
    );
    let now = pair.time;
    for side in [&mut pair.a, &mut pair.b] {
        let id = side.engine.phase1.values().next().unwrap().conn_id;
        side.engine
            .with_phase1(id, |e, p1| e.phase1_soft_expiry(now, p1));
    }
    pair.run_for(Duration::from_secs(20));
    let (a, b) = (
        pair.a.engine.isakmp_sas(pair.time),
        pair.b.engine.isakmp_sas(pair.time),
    );
    assert_eq!((a.len(), b.len()), (1, 1), "{a:?} {b:?}");
    assert_ne!(a[0].conn_id, 1001, "the first ISAKMP SA was replaced");
    // The IPsec SAs were not touched, and now belong to the new ISAKMP SA.
    pair.assert_agree();
    assert_eq!(
        (
            pair.a.sa(Direction::In)[0].spi,
            pair.b.sa(Direction::In)[0].spi
        ),
        spis
    );
    assert_eq!(pair.a.engine.ipsec_sas(pair.time)[0].conn_id, a[0].conn_id);
    assert_eq!(pair.b.engine.ipsec_sas(pair.time)[0].conn_id, b[0].conn_id);
}

#[test]
fn a_lost_delete_leaves_the_old_pair_to_its_hard_lifetime() {
    let mut pair = up(
        short(settings(A_ADDR, B_ADDR)),
        short(settings(B_ADDR, A_ADDR)),
    );
    // No Informational gets through: the Deletes for replaced pairs are lost.
    pair.deliver = |d| {
        crate::isakmp::Header::decode(&d.data)
            .is_ok_and(|h| h.exchange != crate::isakmp::ExchangeType::INFORMATIONAL)
    };
    pair.run_for(Duration::from_secs(70));
    // Old inbound SAs went at their hard limit; nothing piles up.
    for side in [&pair.a, &pair.b] {
        assert!(
            side.sa(Direction::In).len() <= 2,
            "{:?}",
            side.sa(Direction::In)
        );
        assert!(side.count("replaced by a newer SA") >= 2);
    }
}

#[test]
fn responder_only_end_never_initiates_or_rekeys_and_the_peer_keeps_the_tunnel_up() {
    // `responder-only` in A's IPsec profile (IOS IKE Responder-Only Mode).
    let mut a = short(settings(A_ADDR, B_ADDR));
    a.tunnels[0].options.responder_only = true;
    let mut pair = Pair::new(a, short(settings(B_ADDR, A_ADDR)));
    pair.initiate(false);
    pair.run_for(Duration::from_secs(5));
    assert!(pair.a.engine.isakmp_sas(pair.time).is_empty());
    assert!(!pair.a.logged("beginning Main Mode"));
    // The peer brings it up and rekeys both phases; A only answers.
    pair.initiate(true);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    pair.check_no_loss = true;
    pair.run_for(Duration::from_secs(100));
    pair.assert_agree();
    assert!(sa_ups(&pair.a) >= 4, "{} pairs", sa_ups(&pair.a));
    for never in [
        "beginning Main Mode",
        "beginning Quick Mode",
        "soft lifetime reached: rekeying",
    ] {
        assert!(!pair.a.logged(never), "A logged {never:?}");
    }
    assert!(pair.b.logged("beginning Quick Mode"));
    assert!(pair.a.alerts().is_empty() && pair.b.alerts().is_empty());
}
