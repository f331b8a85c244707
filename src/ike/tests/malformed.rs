//! Hostile input: truncations, lying lengths, garbage, wrong cookies. Nothing panics,
//! nothing changes, everything is counted.

use super::util::*;
use crate::crypto::{Rng, TestRng};
use crate::ike::{Engine, Settings, Stats};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addrs() -> (SocketAddr, SocketAddr) {
    (
        format!("[{B_ADDR}]:500").parse().unwrap(),
        format!("[{A_ADDR}]:500").parse().unwrap(),
    )
}

fn responder() -> Engine {
    Engine::new(
        settings(B_ADDR, A_ADDR),
        Box::new(TestRng::new(5)),
        Instant::now(),
    )
}

fn dropped(s: Stats) -> u64 {
    s.dropped_malformed + s.dropped_unknown_sa + s.dropped_stale + s.dropped_undecryptable
}

/// Every message of a complete reference handshake, in order.
fn handshake() -> Vec<Datagram> {
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    pair.sent
}

#[test]
fn every_truncation_of_mm1_is_dropped_and_counted() {
    let mm1 = handshake()[0].data.clone();
    let (local, remote) = addrs();
    let mut e = responder();
    for len in 0..mm1.len() {
        e.handle_datagram(Instant::now(), local, remote, &mm1[..len]);
        assert!(
            e.isakmp_sas(Instant::now()).is_empty(),
            "accepted {len} bytes"
        );
    }
    assert_eq!(e.stats().dropped_malformed, mm1.len() as u64);
    while let Some(a) = e.poll_action() {
        assert!(matches!(a, crate::ike::Action::Log(_)), "{a:?}");
    }
}

#[test]
fn lying_lengths_and_garbage_are_dropped() {
    let mm1 = handshake()[0].data.clone();
    let (local, remote) = addrs();
    let mut e = responder();
    let mut inputs = Vec::new();
    // Header length larger than the datagram, and smaller than the payloads.
    for delta in [1i64, 100, -1, -20, -(mm1.len() as i64 - 28)] {
        let mut m = mm1.clone();
        let len = (mm1.len() as i64 + delta) as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        inputs.push(m);
    }
    // The SA payload claims more, or less, than it has.
    for len in [0u16, 3, 4, 0xffff] {
        let mut m = mm1.clone();
        m[30..32].copy_from_slice(&len.to_be_bytes());
        inputs.push(m);
    }
    // A valid header followed by garbage.
    let mut rng = TestRng::new(9);
    for n in [1usize, 4, 7, 60, 400] {
        let mut m = mm1[..28].to_vec();
        let mut garbage = vec![0; n];
        rng.fill(&mut garbage);
        m.extend_from_slice(&garbage);
        let len = m.len() as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        inputs.push(m);
    }
    for m in &inputs {
        e.handle_datagram(Instant::now(), local, remote, m);
    }
    assert!(e.isakmp_sas(Instant::now()).is_empty());
    assert!(
        dropped(e.stats()) >= inputs.len() as u64 - 2,
        "{:?}",
        e.stats()
    );
}

#[test]
fn wrong_cookies_and_replayed_messages_change_nothing() {
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    let msgs: Vec<Datagram> = pair.sent.clone();
    let before = pair.b.engine.stats();
    for d in msgs.iter().filter(|d| d.to_b).skip(1) {
        let mut m = d.data.clone();
        m[0] ^= 0xff; // initiator cookie of no SA
        let now = pair.time;
        pair.b.engine.handle_datagram(now, d.local, d.remote, &m);
    }
    let after = pair.b.engine.stats();
    assert_eq!(
        after.dropped_unknown_sa - before.dropped_unknown_sa,
        msgs.iter().filter(|d| d.to_b).count() as u64 - 1
    );
    // Old messages replayed much later: answered from storage or dropped, never redone.
    pair.time += Duration::from_secs(1000);
    for d in msgs.iter() {
        let now = pair.time;
        pair.side(d.to_b)
            .engine
            .handle_datagram(now, d.local, d.remote, &d.data);
    }
    pair.drive();
    pair.assert_agree();
    assert!(pair.a.failures().is_empty() && pair.b.failures().is_empty());
}

#[test]
fn random_corruption_never_panics() {
    let msgs = handshake();
    let mut rng = TestRng::new(42);
    let mut pair = Pair::reference();
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    for round in 0..3000 {
        let d = &msgs[round % msgs.len()];
        let mut m = d.data.clone();
        let flips = 1 + rng.next_u32() as usize % 4;
        for _ in 0..flips {
            let i = rng.next_u32() as usize % m.len();
            m[i] = rng.next_u32() as u8;
        }
        if rng.next_u32().is_multiple_of(4) {
            m.truncate(rng.next_u32() as usize % m.len());
        }
        let now = pair.time;
        pair.side(d.to_b)
            .engine
            .handle_datagram(now, d.local, d.remote, &m);
        pair.drive();
    }
    // The established SAs survived it all.
    pair.assert_agree();
}

#[test]
fn strongswan_mm1_gets_an_answer_choosing_our_policy() {
    let capture = crate::testutil::read_pcapng("ikev1-psk-des-sha1-modp768-nonat.pcapng");
    let mm1 = &capture[0];
    let settings: Settings = settings("2001:db8::3", "2001:db8::2");
    let mut e = Engine::new(settings, Box::new(TestRng::new(1)), Instant::now());
    let local = SocketAddr::new(mm1.dst, 500);
    let remote = SocketAddr::new(mm1.src, 500);
    e.handle_datagram(Instant::now(), local, remote, mm1.isakmp().unwrap());
    let sas = e.isakmp_sas(Instant::now());
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].state, "MM_SA_SETUP");
    assert_eq!(sas[0].encryption.as_deref(), Some("DES"));
    let sent = std::iter::from_fn(|| e.poll_action())
        .filter(|a| matches!(a, crate::ike::Action::Send { .. }))
        .count();
    assert_eq!(sent, 1);
}
