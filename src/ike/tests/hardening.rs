//! A responder on the Internet: bounded state under floods of MM1s and MM3s, key
//! exchanges off the loop, no negotiation ended by what an unauthenticated sender
//! says, replayed Informationals without effect, bounded failure memory.

use super::util::*;
use crate::ike::protect;
use crate::ike::settings::{Dpd, Origin, Settings};
use crate::ike::LogEvent;
use crate::isakmp::{ExchangeType, Header, Payload, FLAG_ENCRYPTION};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Where the attacker's datagrams claim to come from: 2001:db8:f::N.
fn stranger(n: u32) -> SocketAddr {
    let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, (n >> 16) as u16, n as u16);
    SocketAddr::new(ip.into(), 500)
}

fn b_ike() -> SocketAddr {
    SocketAddr::new(B_ADDR.parse().unwrap(), 500)
}

fn a_ip() -> IpAddr {
    A_ADDR.parse().unwrap()
}

/// The network carries only what goes between A and B; what B sends to strangers is
/// recorded in `sent` and goes nowhere.
fn between_a_and_b(d: &Datagram) -> bool {
    d.to_b || d.local.ip() == A_ADDR.parse::<IpAddr>().unwrap()
}

/// A's real MM1, to copy with other cookies.
fn captured_mm1() -> Vec<u8> {
    let mut pair = Pair::reference();
    pair.deliver = |_| false;
    pair.initiate(false);
    pair.drive();
    pair.sent[0].data.clone()
}

fn with_icookie(mm1: &[u8], n: u64) -> Vec<u8> {
    let mut m = mm1.to_vec();
    m[..8].copy_from_slice(&(n | 1 << 63).to_be_bytes());
    m
}

/// An MM3 answering `mm2` (any value of group 1's length in range, `nonce_len` bytes
/// of nonce): what an attacker that owns its address sends to make us exponentiate.
fn mm3_for(mm2: &[u8], nonce_len: usize) -> Vec<u8> {
    let h = Header::decode(mm2).unwrap();
    let mut ke = vec![0u8; 96];
    ke[95] = 2;
    let header = Header::new(h.icookie, h.rcookie, ExchangeType::MAIN_MODE, 0, 0);
    protect::plain(
        &header,
        &[Payload::KeyExchange(ke), Payload::Nonce(vec![7; nonce_len])],
    )
}

/// What B sent to `to`.
fn sent_to(pair: &Pair, to: SocketAddr) -> Vec<Vec<u8>> {
    pair.sent
        .iter()
        .filter(|d| !d.to_b && d.local == to)
        .map(|d| d.data.clone())
        .collect()
}

fn deliver_to_b(pair: &mut Pair, from: SocketAddr, data: &[u8]) {
    let now = pair.time;
    pair.b.engine.handle_datagram(now, b_ike(), from, data);
    pair.drive();
}

#[test]
fn a_flood_of_spoofed_mm1s_holds_bounded_state_and_a_known_peer_still_gets_in() {
    let mm1 = captured_mm1();
    let mut pair = Pair::reference();
    pair.deliver = between_a_and_b;
    // 20,000 MM1s with random cookies from 10,000 addresses, two a second each.
    for round in 0..10u32 {
        for n in 0..2_000u32 {
            let i = round * 2_000 + n;
            deliver_to_b(
                &mut pair,
                stranger(i % 10_000),
                &with_icookie(&mm1, i.into()),
            );
        }
        pair.run_for(Duration::from_millis(100));
    }
    let a = pair.b.engine.admission();
    assert_eq!(a.stats.requests_in, 20_000);
    assert!(a.negotiating <= 1000, "{a:?}");
    assert!(a.stats.evicted_embryonic >= 19_000, "{a:?}");
    assert!(a.timer_entries <= 2 * a.negotiating + 64, "{a:?}");
    // One MM2 per MM1 admitted, none for one refused: no amplification, and bounded
    // per source.
    let mm2s = pair.sent.iter().filter(|d| !d.to_b).count();
    assert_eq!(mm2s as u64, a.stats.accepted_in, "{a:?}");
    assert!(sent_to(&pair, stranger(7)).len() <= 2);
    // The configured peer (A) gets in during the flood.
    pair.initiate(false);
    deliver_to_b(&mut pair, stranger(10_001), &with_icookie(&mm1, 99_999));
    pair.run_for(Duration::from_secs(2));
    pair.assert_agree();
    // Embryonic SAs go 30 s after their MM2, each resent at most twice meanwhile.
    pair.run_for(Duration::from_secs(40));
    let a = pair.b.engine.admission();
    assert_eq!((a.ike_sas, a.negotiating), (1, 0), "{a:?}");
    assert!(a.timer_entries < 10, "{a:?}");
}

#[test]
fn mm2_is_sent_three_times_at_most_to_an_address_that_never_answers() {
    let mm1 = captured_mm1();
    let mut pair = Pair::reference();
    pair.deliver = between_a_and_b;
    deliver_to_b(&mut pair, stranger(1), &with_icookie(&mm1, 1));
    pair.run_for(Duration::from_secs(60));
    assert_eq!(sent_to(&pair, stranger(1)).len(), 3);
    assert_eq!(pair.b.engine.admission().ike_sas, 0);
    // The initiator's own retransmissions are answered one for one meanwhile.
    let mut pair = Pair::reference();
    pair.deliver = between_a_and_b;
    for _ in 0..10 {
        deliver_to_b(&mut pair, stranger(2), &with_icookie(&mm1, 2));
    }
    assert_eq!(sent_to(&pair, stranger(2)).len(), 10);
}

#[test]
fn one_address_gets_five_negotiations_at_most() {
    let mm1 = captured_mm1();
    let mut pair = Pair::reference();
    pair.deliver = between_a_and_b;
    for i in 0..12 {
        deliver_to_b(&mut pair, stranger(3), &with_icookie(&mm1, i));
    }
    assert_eq!(sent_to(&pair, stranger(3)).len(), 5);
    let a = pair.b.engine.admission();
    assert_eq!((a.negotiating, a.stats.rejected_per_peer), (5, 7));
    assert!(pair
        .b
        .logged("refused by call admission: 5 negotiations with this address in progress"));
    // Someone spoofing a configured peer's address does not lock it out.
    for i in 0..12 {
        deliver_to_b(
            &mut pair,
            SocketAddr::new(a_ip(), 500),
            &with_icookie(&mm1, 100 + i),
        );
    }
    pair.initiate(false);
    pair.run_for(Duration::from_secs(2));
    pair.assert_agree();
}

/// B with `crypto call admission limit ike in-negotiation-sa 3`, the network
/// carrying only what goes between A and B; and A's MM1, to copy.
fn limited_to_three() -> (Vec<u8>, Pair) {
    let mut b = settings(B_ADDR, A_ADDR);
    b.admission.in_negotiation_sa = Some(3);
    let mut pair = Pair::new(settings(A_ADDR, B_ADDR), b);
    pair.deliver = between_a_and_b;
    (captured_mm1(), pair)
}

#[test]
fn the_in_negotiation_limit_refuses_strangers_once_every_slot_answered_mm2() {
    let (mm1, mut pair) = limited_to_three();
    for n in 0..3 {
        deliver_to_b(&mut pair, stranger(n), &with_icookie(&mm1, n.into()));
        let mm2 = sent_to(&pair, stranger(n)).pop().unwrap();
        deliver_to_b(&mut pair, stranger(n), &mm3_for(&mm2, 32));
        assert_eq!(sent_to(&pair, stranger(n)).len(), 2, "MM4 to {n}");
    }
    deliver_to_b(&mut pair, stranger(9), &with_icookie(&mm1, 9));
    assert!(sent_to(&pair, stranger(9)).is_empty());
    let a = pair.b.engine.admission();
    assert_eq!(a.stats.rejected_in_negotiation_limit, 1);
    assert!(pair.b.logged(
        "refused by call admission: 3 negotiations in progress (crypto call admission limit ike in-negotiation-sa 3)"
    ));
    // A tunnel destination is bounded by the configuration, not by this limit.
    pair.initiate(false);
    pair.run_for(Duration::from_secs(2));
    pair.assert_agree();
}

/// Strangers' MM1s keep the in-negotiation limit full, each one making room by
/// dropping the oldest embryonic SA; the configured peer is 200 ms away, so its SA
/// waits 400 ms for MM3 while a hundred strangers come and go. Its SA is not one a
/// stranger may drop: it comes up.
#[test]
fn a_stranger_never_evicts_a_known_peers_embryonic_sa() {
    let (mm1, mut pair) = limited_to_three();
    pair.latency = Duration::from_millis(200);
    pair.initiate(false);
    for n in 0..300 {
        deliver_to_b(&mut pair, stranger(n), &with_icookie(&mm1, n.into()));
        pair.run_for(Duration::from_millis(10));
    }
    pair.run_for(Duration::from_secs(2));
    pair.assert_agree();
    let a = pair.b.engine.admission();
    assert!(a.stats.evicted_embryonic >= 290, "{a:?}");
    assert!(a.negotiating <= 3, "{a:?}");
}

/// A peer with an ISAKMP SA up is known though no tunnel names it (a dynamic VTI spoke,
/// or a tunnel a reload removed): the in-negotiation limit strangers filled does not
/// refuse its new Main Mode, and still refuses a stranger's.
#[test]
fn a_peer_with_an_sa_up_is_not_refused_by_the_in_negotiation_limit() {
    let mm1 = captured_mm1();
    let mut b = settings(B_ADDR, A_ADDR);
    b.admission.in_negotiation_sa = Some(3);
    let mut pair = Pair::new(settings(A_ADDR, B_ADDR), b.clone());
    pair.deliver = between_a_and_b;
    pair.initiate(false);
    pair.run_for(Duration::from_secs(2));
    pair.assert_agree();
    // B names A in no tunnel any more; the ISAKMP SA stays, as on IOS.
    b.tunnels.clear();
    let now = pair.time;
    pair.b.engine.reload(now, b);
    for n in 0..3 {
        deliver_to_b(&mut pair, stranger(n), &with_icookie(&mm1, n.into()));
        let mm2 = sent_to(&pair, stranger(n)).pop().unwrap();
        deliver_to_b(&mut pair, stranger(n), &mm3_for(&mm2, 32));
    }
    let before = pair.b.engine.admission().stats;
    deliver_to_b(&mut pair, stranger(9), &with_icookie(&mm1, 9));
    deliver_to_b(
        &mut pair,
        SocketAddr::new(a_ip(), 500),
        &with_icookie(&mm1, 7),
    );
    let after = pair.b.engine.admission().stats;
    assert_eq!(after.accepted_in, before.accepted_in + 1, "{after:?}");
    assert_eq!(
        after.rejected_in_negotiation_limit,
        before.rejected_in_negotiation_limit + 1,
        "the stranger alone refused: {after:?}"
    );
}

#[test]
fn the_ike_sa_limit_refuses_new_negotiations() {
    let mm1 = captured_mm1();
    let mut b = settings(B_ADDR, A_ADDR);
    b.admission.sa = Some(1);
    let mut pair = Pair::new(settings(A_ADDR, B_ADDR), b);
    pair.deliver = between_a_and_b;
    pair.initiate(false);
    pair.run_for(Duration::from_secs(2));
    pair.assert_agree();
    deliver_to_b(&mut pair, stranger(1), &with_icookie(&mm1, 1));
    assert!(sent_to(&pair, stranger(1)).is_empty());
    assert_eq!(pair.b.engine.admission().stats.rejected_sa_limit, 1);
}

#[test]
fn key_exchanges_run_outside_the_engine_and_strangers_queue_behind_known_peers() {
    let mm1 = captured_mm1();
    let mut pair = Pair::reference();
    pair.deliver = between_a_and_b;
    pair.b.hold_dh = true;
    // 40 strangers reach MM3: 16 key exchanges are handed out, the rest wait their turn.
    for n in 0..40 {
        deliver_to_b(&mut pair, stranger(n), &with_icookie(&mm1, n.into()));
        let mm2 = sent_to(&pair, stranger(n)).pop().unwrap();
        deliver_to_b(&mut pair, stranger(n), &mm3_for(&mm2, 32));
    }
    assert_eq!(pair.b.dh_jobs.len(), crate::ike::dh::UNSOLICITED_JOBS);
    assert!(pair.b.dh_jobs.iter().all(|j| !j.urgent));
    assert_eq!(
        pair.b.engine.admission().stats.dropped_dh_busy,
        40 - crate::ike::dh::UNSOLICITED_JOBS as u64
    );
    // No MM4 went out before the work was done: the engine did not exponentiate.
    assert!((0..40).all(|n| sent_to(&pair, stranger(n)).len() == 1));
    // A configured peer's key exchange is urgent and not limited.
    pair.initiate(false);
    pair.drive();
    assert!(pair.b.dh_jobs.iter().any(|j| j.urgent));
    let now = pair.time;
    pair.b.run_dh(now);
    pair.b.hold_dh = false;
    pair.run_for(Duration::from_secs(3));
    pair.assert_agree();
    assert!(
        sent_to(&pair, stranger(0)).len() >= 2,
        "MM4 once its turn came"
    );
}

#[test]
fn a_forged_mm2_neither_gives_its_cookie_nor_ends_the_negotiation() {
    let mut pair = Pair::reference();
    // B's MM2 is late; an on-path forger answers first.
    pair.latency = Duration::from_millis(300);
    pair.initiate(false);
    pair.drive();
    let mm1 = pair.queue[0].data.clone();
    // One cut short (it does not decode), one choosing a cipher A did not offer.
    let mut cut = mm1[..mm1.len() - 10].to_vec();
    let len = cut.len() as u32;
    cut[24..28].copy_from_slice(&len.to_be_bytes());
    let mut m = crate::isakmp::Message::decode(&mm1).unwrap();
    if let Payload::Sa(sa) = &mut m.payloads[0].payload {
        for a in &mut sa.proposals[0].transforms[0].attributes {
            if a.attr_type == 1 {
                a.value = crate::isakmp::AttrValue::Basic(7);
            }
        }
    }
    let unoffered = m.encode();
    let now = pair.time;
    let (a_ike, b_ike) = (pair.queue[0].remote, pair.queue[0].local);
    for (n, mut forged) in [cut, unoffered].into_iter().enumerate() {
        forged[8..16].copy_from_slice(&[0xe0 + n as u8; 8]);
        pair.a.engine.handle_datagram(now, a_ike, b_ike, &forged);
    }
    pair.run_for(Duration::from_secs(5));
    pair.assert_agree();
    assert!(pair.a.failures().is_empty(), "{:?}", pair.a.failures());
}

#[test]
fn an_undecryptable_mm5_does_not_end_the_negotiation() {
    let mut pair = Pair::reference();
    // A's MM5 is held up; a forger sends garbage with the right cookies meanwhile.
    pair.deliver = no_mm5;
    pair.initiate(false);
    pair.drive();
    let mm4 = pair
        .sent
        .iter()
        .rev()
        .find(|d| !d.to_b)
        .map(|d| d.data.clone())
        .unwrap();
    let h = Header::decode(&mm4).unwrap();
    let mut garbage = mm4[..28].to_vec();
    garbage[19] = FLAG_ENCRYPTION;
    garbage.extend_from_slice(&[0x5a; 64]);
    let len = garbage.len() as u32;
    garbage[24..28].copy_from_slice(&len.to_be_bytes());
    assert_eq!(Header::decode(&garbage).unwrap().icookie, h.icookie);
    deliver_to_b(&mut pair, SocketAddr::new(a_ip(), 500), &garbage);
    assert!(pair
        .b
        .logged("dropped packet from [2001:db8::2]:500: does not decrypt"));
    pair.deliver = |_| true;
    pair.run_for(Duration::from_secs(5));
    pair.assert_agree();
    assert!(pair.b.failures().is_empty(), "{:?}", pair.b.failures());
}

/// Encrypted Main Mode messages from A (its MM5s) are lost.
fn no_mm5(d: &Datagram) -> bool {
    let Ok(h) = Header::decode(&d.data) else {
        return true;
    };
    !(d.to_b && h.exchange == ExchangeType::MAIN_MODE && h.flags & FLAG_ENCRYPTION != 0)
}

#[test]
fn a_nonce_outside_8_to_256_bytes_is_refused() {
    let mm1 = captured_mm1();
    for (len, answered) in [(4, false), (7, false), (8, true), (256, true), (257, false)] {
        let mut pair = Pair::reference();
        pair.deliver = between_a_and_b;
        deliver_to_b(&mut pair, stranger(1), &with_icookie(&mm1, 1));
        let mm2 = sent_to(&pair, stranger(1)).pop().unwrap();
        deliver_to_b(&mut pair, stranger(1), &mm3_for(&mm2, len));
        let mm4 = sent_to(&pair, stranger(1)).len() == 2;
        assert_eq!(mm4, answered, "nonce of {len} bytes");
        if !answered {
            pair.run_for(Duration::from_secs(40));
            assert!(
                pair.b.logged(&format!(
                    "MM3 carries a nonce of {len} bytes (RFC 2409: 8 to 256)"
                )),
                "{:#?}",
                pair.b.log_text()
            );
        }
    }
}

fn with_dpd(mut s: Settings, interval_s: u32) -> Settings {
    s.dpd = Some(Dpd {
        interval_s,
        retry_s: 2,
        periodic: true,
        origin: Origin {
            file: "r.conf".into(),
            line: 4,
        },
    });
    s
}

#[test]
fn a_replayed_r_u_there_does_not_keep_a_dead_peer_alive() {
    // A probes after 10 s of quiet, B after 20 s: A's R-U-THERE is what gets captured.
    let mut pair = Pair::new(
        with_dpd(settings(A_ADDR, B_ADDR), 10),
        with_dpd(settings(B_ADDR, A_ADDR), 20),
    );
    pair.initiate(false);
    pair.run_for(Duration::from_secs(11));
    pair.assert_agree();
    let probe_at = pair.a.logged_at("sending R-U-THERE").expect("A probed");
    let captured = pair
        .sent
        .iter()
        .find(|d| d.to_b && d.sent_at == probe_at)
        .expect("A's R-U-THERE")
        .clone();
    // A new message (its own message ID) with an old sequence number is a replay too
    // (RFC 3706 7): not answered.
    let seq: u32 = pair
        .b
        .log_text()
        .iter()
        .find_map(|l| l.strip_prefix("received R-U-THERE, sent R-U-THERE-ACK, sequence "))
        .expect("B answered")
        .parse()
        .unwrap();
    let id = pair.a.engine.phase1.values().next().unwrap().conn_id;
    pair.a.engine.with_phase1(id, |e, p1| {
        let old = crate::isakmp::NotifyPayload {
            doi: crate::isakmp::DOI_IPSEC,
            protocol: crate::isakmp::ProtocolId::ISAKMP,
            notify_type: crate::isakmp::NotifyType::R_U_THERE,
            spi: p1.cookies(),
            data: seq.to_be_bytes().to_vec(),
        };
        e.send_info(p1, Payload::Notify(old));
    });
    pair.drive();
    assert!(pair.b.logged(&format!(
        "dropped R-U-THERE, sequence {seq}: not above the last one (replayed)"
    )));
    // A dies; the captured probe is replayed every 3 s, from A's address and another.
    pair.loss = 100;
    let died = pair.time;
    let elsewhere = stranger(66);
    for i in 0..20 {
        pair.run_for(Duration::from_secs(3));
        let from = if i % 2 == 0 {
            captured.remote
        } else {
            elsewhere
        };
        let now = pair.time;
        pair.b
            .engine
            .handle_datagram(now, captured.local, from, &captured.data);
    }
    pair.run_for(Duration::from_secs(1));
    let dead = pair.b.logged_at("DPD timeout").expect("B declares A dead");
    // Quiet since A's probe: B probes at 20 s, then 5 times 2 s apart.
    assert!(
        dead - died <= Duration::from_secs(20 + 5 * 2),
        "{:?}",
        dead - died
    );
    assert!(
        pair.b
            .count("dropped packet from [2001:db8::2]:500: replayed")
            >= 4
    );
    let stats = pair.b.engine.stats();
    assert!(
        stats.dropped_replayed >= 5 && stats.dropped_wrong_address >= 4,
        "{stats:?}"
    );
}

#[test]
fn an_mm1_with_thousands_of_transforms_makes_one_bounded_line() {
    use crate::isakmp::{Message, Proposal};
    let mm1 = captured_mm1();
    // 1,500 transforms (about 60 KB), none acceptable: ciphers 100.. that do not exist.
    // Sent again and again, each time with other ciphers: still one error line.
    let big = |n: u16| {
        let mut m = Message::decode(&mm1).unwrap();
        let Payload::Sa(sa) = &mut m.payloads[0].payload else {
            panic!("MM1 starts with its SA");
        };
        let template: Proposal = sa.proposals[0].clone();
        // Six proposals of 250 (a proposal holds 255 at most).
        sa.proposals = (0..6u16)
            .map(|k| {
                let mut p = template.clone();
                p.number = k as u8 + 1;
                p.transforms = (0..250u16)
                    .map(|i| {
                        let mut t = template.transforms[0].clone();
                        t.number = i as u8 + 1;
                        for a in t.attributes.iter_mut().filter(|a| a.attr_type == 1) {
                            a.value = crate::isakmp::AttrValue::Basic(100 + n + 250 * k + i);
                        }
                        t
                    })
                    .collect();
                p
            })
            .collect();
        with_icookie(&m.encode(), n.into())
    };
    assert!(big(0).len() > 50_000, "{}", big(0).len());
    let mut pair = Pair::reference();
    pair.deliver = between_a_and_b;
    for n in 0..50 {
        deliver_to_b(&mut pair, stranger(1), &big(n));
    }
    let failures = pair.b.failures();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert!(failures[0].len() < 1000, "{}", failures[0].len());
    assert!(
        failures[0].contains(" more, policy 10 (line 1) has DES/SHA/group 1"),
        "{}",
        failures[0]
    );
    let repeats = pair
        .b
        .logs
        .iter()
        .filter(|l| matches!(l, LogEvent::Failed { repeated: true, .. }))
        .count();
    assert_eq!(repeats, 49);
}
