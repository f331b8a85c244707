//! The phase 2 knobs of `crypto ipsec profile`: `lifetime kilobytes disable`, `replay
//! window-size` / `replay disable`, `idle-time`, as the data path and `show` get them.

use super::util::*;
use crate::ike::{Command, Settings};
use crate::ipsec::Direction;
use std::time::Duration;

fn both(f: impl Fn(&mut Settings)) -> Pair {
    let (mut a, mut b) = (settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR));
    f(&mut a);
    f(&mut b);
    Pair::new(a, b)
}

fn up(mut pair: Pair) -> Pair {
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    pair
}

#[test]
fn kilobytes_disable_installs_no_byte_limit_and_shows_none() {
    let pair = up(both(|s| s.tunnels[0].lifetime_kb = u64::MAX));
    for side in [&pair.a, &pair.b] {
        for sa in &side.installed {
            assert_eq!(
                (sa.lifetimes.soft_bytes, sa.lifetimes.hard_bytes),
                (None, None)
            );
            assert_eq!(sa.lifetimes.hard_s, Some(3600));
        }
        let shown = &side.engine.ipsec_sas(pair.time)[0];
        assert_eq!(shown.inbound.lifetime_remaining_kb, None);
    }
    // Only one side disabling it: the other's kilobytes are the shorter, and win.
    let (a, mut b) = (settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR));
    b.tunnels[0].lifetime_kb = u64::MAX;
    let pair = up(Pair::new(a, b));
    for side in [&pair.a, &pair.b] {
        assert_eq!(
            side.installed[0].lifetimes.hard_bytes,
            Some(4_608_000 * 1024)
        );
    }
}

#[test]
fn the_replay_window_reaches_the_data_path_and_show() {
    for window in [1024, 0] {
        let pair = up(both(|s| s.tunnels[0].options.replay_window = window));
        for side in [&pair.a, &pair.b] {
            assert!(side.installed.iter().all(|sa| sa.replay_window == window));
            assert_eq!(side.engine.ipsec_sas(pair.time)[0].replay_window, window);
        }
    }
}

/// The data path's report that the tunnel's SAs carried nothing for their idle-time,
/// to side B (`true`) or A.
fn idle(pair: &mut Pair, b: bool) {
    let now = pair.time;
    pair.side(b).engine.handle_command(
        now,
        Command::SaIdle {
            tunnel: TUNNEL.into(),
        },
    );
}

fn idle_pair(b_idle: Option<u32>) -> Pair {
    let (mut a, mut b) = (settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR));
    a.tunnels[0].options.idle_time_s = Some(60);
    b.tunnels[0].options.idle_time_s = b_idle;
    up(Pair::new(a, b))
}

/// IOS's idle timer: the pair goes on both sides, and nothing brings it back but
/// traffic (the data path's acquire, `Command::Initiate`).
#[test]
fn an_idle_pair_is_deleted_and_traffic_brings_it_back() {
    let mut pair = idle_pair(Some(60));
    assert!(pair
        .a
        .installed
        .iter()
        .all(|sa| sa.lifetimes.idle_s == Some(60)));
    idle(&mut pair, false);
    pair.run_for(Duration::from_secs(5));
    assert!(pair.a.installed.is_empty() && pair.b.installed.is_empty());
    assert!(pair.a.logged(
        "idle: no traffic for 60 s (set security-association idle-time); the next packet brings it back"
    ));
    // Neither side negotiates again on its own, for as long as there is no traffic.
    pair.run_for(Duration::from_secs(600));
    assert!(pair.a.installed.is_empty() && pair.b.installed.is_empty());
    assert_eq!(
        pair.a.engine.isakmp_sas(pair.time).len(),
        1,
        "ISAKMP SA kept"
    );
    // A packet for the tunnel on B's side.
    let now = pair.time;
    pair.b.engine.handle_command(
        now,
        Command::Initiate {
            tunnel: TUNNEL.into(),
        },
    );
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
}

/// Without an idle-time of its own, the peer keeps its VTI up: it negotiates again at
/// once, as after any Delete.
#[test]
fn a_peer_without_idle_time_brings_the_pair_back_at_once() {
    let mut pair = idle_pair(None);
    let old = pair.a.sa(Direction::In)[0].spi;
    idle(&mut pair, false);
    pair.run_for(Duration::from_secs(2));
    pair.assert_agree();
    assert_ne!(pair.a.sa(Direction::In)[0].spi, old);
    // A tunnel without idle-time ignores the report.
    let spis: Vec<u32> = pair.b.installed.iter().map(|s| s.spi).collect();
    idle(&mut pair, true);
    pair.run_for(Duration::from_secs(2));
    assert_eq!(
        pair.b.installed.iter().map(|s| s.spi).collect::<Vec<_>>(),
        spis
    );
}
