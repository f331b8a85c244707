//! After the handshake: deletes, rekeys, INITIAL-CONTACT, DPD, shutdown, reload.

use super::util::*;
use crate::crypto::TestRng;
use crate::ike::{Command, Engine};
use crate::ipsec::Direction;
use crate::isakmp::{NotifyPayload, NotifyType, Payload, ProtocolId, DOI_IPSEC};
use std::time::Duration;

fn up() -> Pair {
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    pair
}

fn spis(side: &Side) -> (u32, u32) {
    (
        side.sa(Direction::In)[0].spi,
        side.sa(Direction::Out)[0].spi,
    )
}

#[test]
fn soft_expiry_rekeys_and_retires_the_old_pair_on_both_sides() {
    for rekeying_side in [false, true] {
        let mut pair = up();
        let old = spis(pair.side(rekeying_side));
        let now = pair.time;
        pair.side(rekeying_side).engine.handle_command(
            now,
            Command::SaExpired {
                tunnel: TUNNEL.into(),
                spi: old.0,
                hard: false,
            },
        );
        pair.run_for(Duration::from_secs(5));
        pair.assert_agree();
        let new = spis(pair.side(rekeying_side));
        assert!(
            new.0 != old.0 && new.1 != old.1,
            "new SPIs {new:x?} vs {old:x?}"
        );
        assert!(pair.side(rekeying_side).logged("replaced by a newer SA"));
    }
}

#[test]
fn hard_expiry_deletes_tells_the_peer_and_renegotiates() {
    let mut pair = up();
    let old = spis(&pair.a);
    let now = pair.time;
    pair.a.engine.handle_command(
        now,
        Command::SaExpired {
            tunnel: TUNNEL.into(),
            spi: old.1,
            hard: true,
        },
    );
    pair.run_for(Duration::from_secs(5));
    assert!(
        pair.b.logged("deleted by the peer"),
        "{:#?}",
        pair.b.log_text()
    );
    pair.assert_agree();
    assert_ne!(spis(&pair.a), old);
}

#[test]
fn initial_contact_from_a_rebooted_peer_clears_old_sas() {
    let mut pair = up();
    let b_old = spis(&pair.b);
    pair.time += Duration::from_secs(10);
    // A reboots: a fresh engine, nothing remembered.
    let settings = pair.a.engine.settings.clone();
    pair.a.engine = Engine::new(settings, Box::new(TestRng::new(77)), pair.time);
    pair.a.installed.clear();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(5));
    // The restarted A announces it; B drops the old SAs at once, data path included.
    assert!(pair.a.logged("Send initial contact"));
    assert!(pair.b.logged("Process initial contact"));
    assert!(pair.b.logged("peer sent INITIAL-CONTACT"));
    pair.assert_agree();
    assert_ne!(spis(&pair.b), b_old);
    assert!(!pair
        .b
        .installed
        .iter()
        .any(|s| s.spi == b_old.0 || s.spi == b_old.1));
    assert_eq!(pair.b.engine.isakmp_sas(pair.time).len(), 1);
    assert!(pair.a.alerts().is_empty() && pair.b.alerts().is_empty());
}

#[test]
fn dpd_r_u_there_is_acknowledged() {
    let mut pair = up();
    let id = pair.a.engine.phase1.values().next().unwrap().conn_id;
    pair.a.engine.with_phase1(id, |e, p1| {
        let notify = Payload::Notify(NotifyPayload {
            doi: DOI_IPSEC,
            protocol: ProtocolId::ISAKMP,
            notify_type: NotifyType::R_U_THERE,
            spi: p1.cookies(),
            data: 7u32.to_be_bytes().to_vec(),
        });
        e.send_info(p1, notify);
    });
    pair.drive();
    assert!(pair
        .b
        .logged("received R-U-THERE, sent R-U-THERE-ACK, sequence 7"));
    // A asked nothing (no DPD configured): the ACK is tolerated and ignored.
    assert!(!pair.a.logged("received R-U-THERE-ACK"));
    assert!(pair.a.failures().is_empty());
}

#[test]
fn shutdown_deletes_everything_on_both_sides() {
    let mut pair = up();
    let now = pair.time;
    pair.a.engine.handle_command(now, Command::Shutdown);
    pair.run_for(Duration::from_secs(5));
    assert!(pair.a.installed.is_empty(), "{:?}", pair.a.installed);
    assert!(pair.b.installed.is_empty(), "{:?}", pair.b.installed);
    assert!(pair.b.logged("ISAKMP SA") && pair.b.logged("deleted by the peer"));
    assert!(pair.a.engine.isakmp_sas(pair.time).is_empty());
    // B wants its tunnel back: it knocks (Main Mode), A is gone and answers nothing.
    let b = pair.b.engine.isakmp_sas(pair.time);
    assert!(b.iter().all(|sa| sa.state == "MM_NO_STATE"), "{b:?}");
}

#[test]
fn reload_keeps_unchanged_tunnels_and_drops_removed_ones() {
    let mut pair = up();
    let before = spis(&pair.b);
    let now = pair.time;
    let same = pair.b.engine.settings.clone();
    pair.b.engine.reload(now, same.clone());
    pair.run_for(Duration::from_secs(1));
    assert_eq!(spis(&pair.b), before);
    let mut without = same;
    without.tunnels.clear();
    pair.b.engine.reload(now, without);
    pair.run_for(Duration::from_secs(1));
    assert!(pair.b.installed.is_empty());
    assert!(pair.b.logged("configuration changed"));
    // A learnt it through the Delete (and cannot renegotiate: B has no tunnel).
    assert!(pair.a.logged("deleted by the peer"));
    assert!(pair.a.sa(Direction::Out).is_empty());
}

#[test]
fn reload_brings_a_changed_tunnel_up_again_with_the_new_settings() {
    let mut pair = up();
    let now = pair.time;
    let mut changed = pair.a.engine.settings.clone();
    changed.tunnels[0].lifetime_s = 1800;
    pair.a.engine.reload(now, changed);
    pair.run_for(Duration::from_secs(5));
    pair.assert_agree();
    assert_eq!(pair.a.sa(Direction::Out)[0].lifetimes.hard_s, Some(1800));
}

#[test]
fn phase2_rekey_after_the_peer_deleted_the_isakmp_sa_makes_a_new_one_first() {
    let mut pair = up();
    pair.check_no_loss = true;
    // B drops its ISAKMP SA (IOS does when it expires) and tells A; IPsec SAs stay.
    let id = pair.b.engine.phase1.values().next().unwrap().conn_id;
    pair.b.engine.with_phase1(id, |e, p1| {
        e.send_isakmp_delete(p1);
        p1.close();
    });
    pair.drive();
    assert!(pair.a.engine.isakmp_sas(pair.time).is_empty());
    pair.assert_agree();
    let old = spis(&pair.a);
    let now = pair.time;
    pair.a.engine.handle_command(
        now,
        Command::SaExpired {
            tunnel: TUNNEL.into(),
            spi: old.0,
            hard: false,
        },
    );
    pair.run_for(Duration::from_secs(10));
    pair.assert_agree();
    assert_ne!(spis(&pair.a), old);
    assert_eq!(pair.a.engine.isakmp_sas(pair.time).len(), 1);
    // Not a restart: no INITIAL-CONTACT, which would have torn the old pair down early.
    assert_eq!(pair.a.count("Send initial contact"), 1);
}

/// A Quick Mode abandoned half way (its ISAKMP SA deleted by the peer while QM1 is
/// unanswered) gives back the SPI the data path reserved for it: the kernel would
/// otherwise keep a larval state for it.
#[test]
fn an_abandoned_quick_mode_gives_back_its_reserved_spi() {
    let mut pair = Pair::reference();
    // B's Quick Mode answers never reach A.
    pair.deliver = |d| {
        d.to_b
            || crate::isakmp::Header::decode(&d.data)
                .is_ok_and(|h| h.exchange != crate::isakmp::ExchangeType::QUICK_MODE)
    };
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    assert!(!pair.a.reserved.is_empty(), "A reserved an SPI for QM1");
    assert!(pair.a.sa(Direction::In).is_empty());
    let now = pair.time;
    pair.b.engine.handle_command(now, Command::Shutdown);
    pair.run_for(Duration::from_secs(1));
    assert!(
        pair.a.reserved.is_empty(),
        "still reserved: {:?}",
        pair.a.reserved
    );
}
