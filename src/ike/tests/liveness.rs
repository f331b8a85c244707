//! Dead Peer Detection (RFC 3706) and NAT keepalives (RFC 3948).

use super::util::*;
use crate::ike::settings::{Dpd, Settings};
use std::time::Duration;

const S: u32 = 10;
const R: u32 = 2;

fn with_dpd(mut s: Settings) -> Settings {
    s.dpd = Some(Dpd {
        interval_s: S,
        retry_s: R,
        periodic: true,
        origin: crate::ike::settings::Origin {
            file: "r2.conf".into(),
            line: 4,
        },
    });
    s
}

fn up(a: Settings, b: Settings) -> Pair {
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    pair
}

fn dpd_pair() -> Pair {
    up(
        with_dpd(settings(A_ADDR, B_ADDR)),
        with_dpd(settings(B_ADDR, A_ADDR)),
    )
}

#[test]
fn a_live_peer_answers_r_u_there_and_nothing_goes_down() {
    let mut pair = dpd_pair();
    // Every message twice: duplicate R-U-THERE are answered, duplicate ACKs ignored.
    pair.duplicate = 100;
    pair.run_for(Duration::from_secs(100));
    for side in [&pair.a, &pair.b] {
        assert!(
            side.count("sending R-U-THERE, sequence") >= 8,
            "{:#?}",
            side.log_text()
        );
        assert!(side.logged("received R-U-THERE, sent R-U-THERE-ACK"));
        assert!(side.logged("received R-U-THERE-ACK, sequence"));
        // Each probe answered at its first transmission.
        assert!(!side.logged("(transmission 2)"));
        assert!(side.alerts().is_empty(), "{:#?}", side.alerts());
    }
    pair.assert_agree();
}

#[test]
fn dpd_removes_a_dead_peers_sas_within_s_r_plus_s_and_the_tunnel_comes_back() {
    let mut pair = dpd_pair();
    pair.run_for(Duration::from_secs(25));
    // The network between them dies.
    pair.loss = 100;
    let gone = pair.time;
    pair.run_for(Duration::from_secs(60));
    for side in [&pair.a, &pair.b] {
        let dead = side
            .logged_at("DPD timeout")
            .expect("the peer is declared dead");
        let bound = Duration::from_secs((S * R + S).into());
        assert!(dead - gone <= bound, "after {:?}", dead - gone);
        let alerts = side.alerts();
        assert!(
            alerts[0].starts_with("DPD timeout: peer ")
                && alerts[0].ends_with(
                    "did not answer 5 R-U-THERE (crypto isakmp keepalive 10 2, line 4); deleting its SAs"
                ),
            "{alerts:#?}"
        );
        assert!(side.installed.is_empty(), "{:?}", side.installed);
        assert!(side.logged("peer is dead (no answer to DPD)"));
        // Re-initiated at once.
        assert!(side
            .logs
            .iter()
            .zip(&side.log_times)
            .any(|(l, t)| *t >= dead && l.to_string() == "beginning Main Mode exchange"));
    }
    // The network is back: the tunnel comes up again by itself, one of everything.
    pair.loss = 0;
    pair.run_for(Duration::from_secs(200));
    pair.assert_agree();
    assert_eq!(pair.a.engine.isakmp_sas(pair.time).len(), 1);
    assert_eq!(pair.b.engine.isakmp_sas(pair.time).len(), 1);
}

#[test]
fn a_crashed_peer_is_detected_and_the_tunnel_returns_with_it() {
    // Only A probes; B crashes and later starts afresh, passively waiting.
    let mut pair = up(with_dpd(settings(A_ADDR, B_ADDR)), settings(B_ADDR, A_ADDR));
    let b_settings = pair.b.engine.settings.clone();
    pair.b.engine = crate::ike::Engine::new(
        b_settings,
        Box::new(crate::crypto::TestRng::new(9)),
        pair.time,
    );
    pair.b.installed.clear();
    let gone = pair.time;
    pair.run_for(Duration::from_secs(40));
    let dead = pair.a.logged_at("DPD timeout").expect("declared dead");
    assert!(dead - gone <= Duration::from_secs((S * R + S).into()));
    // A re-initiated right away and the fresh B answered: up again, INITIAL-CONTACT
    // sent since A has nothing left with B.
    pair.assert_agree();
    assert_eq!(pair.a.count("Send initial contact"), 2);
    assert_eq!(pair.a.alerts().len(), 1, "{:#?}", pair.a.alerts());
}

fn with_keepalive(mut s: Settings) -> Settings {
    s.nat_keepalive_s = Some(20);
    s
}

#[test]
fn only_the_end_behind_a_nat_sends_keepalives() {
    let a = with_keepalive(settings(A_ADDR, B_ADDR));
    let b = with_keepalive(settings(B_ADDR, A_ADDR));
    let mut pair = Pair::new(a.clone(), b.clone());
    pair.nat_port_shift = Some(1000);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(101));
    pair.assert_agree();
    // A is behind the NAT: every 20 s; B is not.
    assert_eq!((pair.a.keepalives, pair.b.keepalives), (5, 0));
    // Without a NAT nobody sends any.
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(101));
    pair.assert_agree();
    assert_eq!((pair.a.keepalives, pair.b.keepalives), (0, 0));
}
