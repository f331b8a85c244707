//! Several tunnels between one peer address and several local addresses (a branch
//! with one uplink per tunnel to one head-end address), and the mirror image: each
//! tunnel has its own ISAKMP SA and SA pair, and nothing one pair of addresses does
//! (INITIAL-CONTACT, Delete, DPD) touches another pair's SAs.

use super::util::*;
use crate::crypto::TestRng;
use crate::ike::settings::{Dpd, Settings};
use crate::ike::{Endpoints, Engine};
use crate::ipsec::Direction;
use std::time::Duration;

/// The head-end's one address.
const HUB: &str = "2001:db8:b::1";

fn branch_addr(i: usize) -> String {
    format!("2001:db8:a::{i}")
}

fn name(i: usize) -> String {
    format!("Tunnel{i}")
}

/// Branch A: Tunnel1..n, each from its own address to the hub. Hub B: Tunnel1..n from
/// its one address to each of A's.
fn branch_and_hub(n: usize) -> (Settings, Settings) {
    let mut a = settings(&branch_addr(1), HUB);
    let mut b = settings(HUB, &branch_addr(1));
    a.tunnels = (1..=n)
        .map(|i| tunnel(&name(i), &branch_addr(i), HUB))
        .collect();
    b.tunnels = (1..=n)
        .map(|i| tunnel(&name(i), HUB, &branch_addr(i)))
        .collect();
    (a, b)
}

fn initiate_all(pair: &mut Pair, b: bool, n: usize) {
    for i in 1..=n {
        pair.initiate_tunnel(b, &name(i));
    }
}

/// Every tunnel has exactly one pair on each side, between its own addresses, with the
/// same SPIs and keys on both; each side holds one ISAKMP SA per tunnel; only the losers
/// of simultaneous negotiations went down.
fn assert_every_tunnel_up(pair: &Pair, n: usize) {
    assert_one_pair_per_tunnel(pair, n);
    for side in [&pair.a, &pair.b] {
        // Only the losers of simultaneous negotiations between the same two addresses
        // go; no tunnel's pair is taken for another's.
        assert!(
            side.log_text()
                .iter()
                .filter(|l| l.contains("IPsec SA down"))
                .all(|l| l.ends_with("duplicate from a simultaneous negotiation")),
            "{:#?}",
            side.log_text()
        );
        assert!(side.alerts().is_empty(), "{:#?}", side.alerts());
    }
}

/// Every tunnel has exactly one pair on each side, the same SPIs and keys on both ends,
/// and nothing else: no record of a pair (`show crypto ipsec sa`) beyond it, one ISAKMP
/// SA per tunnel.
fn assert_one_pair_per_tunnel(pair: &Pair, n: usize) {
    for i in 1..=n {
        let t = name(i);
        let ends = (branch_addr(i).parse().unwrap(), HUB.parse().unwrap());
        for (from, to, (src, dst)) in [
            (&pair.a, &pair.b, ends),
            (&pair.b, &pair.a, (ends.1, ends.0)),
        ] {
            let out = from.sas_of(&t, Direction::Out);
            let inb = to.sas_of(&t, Direction::In);
            assert_eq!(out.len(), 1, "{t}: one outbound SA: {out:?}");
            assert_eq!(inb.len(), 1, "{t}: one inbound SA: {inb:?}");
            assert_eq!((out[0].src, out[0].dst), (src, dst), "{t}'s addresses");
            assert_eq!(out[0].spi, inb[0].spi, "{t}");
            assert_eq!(out[0].enc_key, inb[0].enc_key, "{t}");
        }
    }
    let in_use = isakmp_in_use(&pair.a);
    assert_eq!(in_use.len(), n, "one ISAKMP SA per tunnel");
    assert_eq!(
        in_use,
        isakmp_in_use(&pair.b),
        "the same ISAKMP SAs on both ends"
    );
    for side in [&pair.a, &pair.b] {
        let p1 = side.engine.isakmp_sas(pair.time);
        assert_eq!(p1.len(), n, "one ISAKMP SA per tunnel: {p1:#?}");
        assert_eq!(side.installed.len(), 2 * n, "{:#x?}", side.installed);
        let shown = side.engine.ipsec_sas(pair.time);
        assert_eq!(shown.len(), n, "show crypto ipsec sa: {shown:#?}");
        // `--peer` and `--interface` through the indexes: what filtering them all gives.
        for sa in &shown {
            let of_peer = side.engine.ipsec_sas_of(pair.time, Some(sa.peer), None);
            let want: Vec<_> = shown
                .iter()
                .filter(|s| s.peer == sa.peer)
                .cloned()
                .collect();
            assert_eq!(of_peer, want, "show crypto ipsec sa peer {}", sa.peer);
            let of_both = |peer| {
                side.engine
                    .ipsec_sas_of(pair.time, Some(peer), Some(&sa.interface))
            };
            assert_eq!(of_both(sa.peer), vec![sa.clone()], "{}", sa.interface);
            assert!(
                of_both(sa.local).is_empty(),
                "{} has another peer",
                sa.interface
            );
        }
        for sa in &p1 {
            let want: Vec<_> = p1.iter().filter(|s| s.peer == sa.peer).cloned().collect();
            assert_eq!(side.engine.isakmp_sas_of(pair.time, Some(sa.peer)), want);
        }
    }
}

/// The ISAKMP SAs `side` uses (established, not being retired), by their cookies.
fn isakmp_in_use(side: &Side) -> std::collections::BTreeSet<Vec<u8>> {
    side.engine
        .phase1
        .values()
        .filter(|p| p.established().is_some() && p.retiring.is_none())
        .map(|p| p.cookies())
        .collect()
}

fn spis_of(side: &Side, tunnel: &str) -> Vec<u32> {
    let mut v: Vec<u32> = side
        .installed
        .iter()
        .filter(|s| s.tunnel == tunnel)
        .map(|s| s.spi)
        .collect();
    v.sort();
    v
}

#[test]
fn every_tunnel_of_a_multi_address_branch_comes_up_whoever_initiates() {
    for (who, n) in [("branch", 2), ("hub", 2), ("both", 2), ("branch", 20)] {
        let (a, b) = branch_and_hub(n);
        let mut pair = Pair::new(a, b);
        match who {
            "branch" => initiate_all(&mut pair, false, n),
            "hub" => initiate_all(&mut pair, true, n),
            _ => {
                initiate_all(&mut pair, false, n);
                initiate_all(&mut pair, true, n);
            }
        }
        pair.run_for(Duration::from_secs(5));
        if who == "both" {
            // Simultaneous starts: both ends settle on the same SAs (one collision
            // rule per pair of addresses), so drop the losers' leftovers first.
            pair.run_for(Duration::from_secs(60));
        }
        assert_every_tunnel_up(&pair, n);
        if who != "both" {
            assert!(!pair.a.logged("IPsec SA down") && !pair.b.logged("IPsec SA down"));
        }
    }
}

#[test]
fn initial_contact_clears_only_the_sas_between_the_same_addresses() {
    let (a, b) = branch_and_hub(3);
    let mut pair = Pair::new(a.clone(), b);
    initiate_all(&mut pair, false, 3);
    pair.run_for(Duration::from_secs(5));
    assert_every_tunnel_up(&pair, 3);
    let kept = [spis_of(&pair.b, "Tunnel2"), spis_of(&pair.b, "Tunnel3")];
    let old1 = spis_of(&pair.b, "Tunnel1");
    // The router behind Tunnel1's uplink restarts: a fresh engine with that tunnel
    // alone, announcing INITIAL-CONTACT to the hub from Tunnel1's address.
    pair.time += Duration::from_secs(10);
    let mut rebooted = a;
    rebooted.tunnels.truncate(1);
    pair.a.engine = Engine::new(rebooted, Box::new(TestRng::new(77)), pair.time);
    pair.a.installed.clear();
    pair.initiate_tunnel(false, "Tunnel1");
    pair.run_for(Duration::from_secs(5));
    assert!(pair.b.logged(&format!(
        "Process initial contact, bring down existing phase 1 and 2 SA's with local {HUB} remote {}",
        branch_addr(1)
    )));
    let new1 = spis_of(&pair.b, "Tunnel1");
    assert_eq!(
        new1.len(),
        2,
        "Tunnel1 is up again: {:#?}",
        pair.b.log_text()
    );
    assert!(
        new1.iter().all(|s| !old1.contains(s)),
        "Tunnel1's old SAs gone"
    );
    assert_eq!(
        [spis_of(&pair.b, "Tunnel2"), spis_of(&pair.b, "Tunnel3")],
        kept,
        "the other tunnels' SAs stay"
    );
    // Tunnel1's old ISAKMP SA and its old pair; nothing of the others.
    assert_eq!(
        pair.b.count("peer sent INITIAL-CONTACT"),
        2,
        "{:#?}",
        pair.b.log_text()
    );
    assert!(pair.b.logged("IPsec SA down on Tunnel1"));
}

#[test]
fn a_delete_names_an_spi_of_the_pair_of_addresses_it_came_over() {
    let (a, b) = branch_and_hub(2);
    let mut pair = Pair::new(a, b);
    initiate_all(&mut pair, false, 2);
    pair.run_for(Duration::from_secs(5));
    // A's inbound SPI of Tunnel1 (B's outbound), deleted over Tunnel2's ISAKMP SA: a
    // peer's SPIs are unique per its own address only, so this names nothing of B's.
    let spi1 = pair.a.sas_of("Tunnel1", Direction::In)[0].spi;
    let ends2 = Endpoints::new(branch_addr(2).parse().unwrap(), HUB.parse().unwrap());
    let id = pair.a.engine.phase1.of_pair(ends2).next().unwrap().conn_id;
    pair.a.engine.with_phase1(id, |e, p1| {
        e.send_info(p1, crate::ike::child::esp_delete(spi1))
    });
    pair.drive();
    assert!(pair.b.logged(&format!("peer deleted ESP SA {spi1:#010X}")));
    assert_eq!(pair.b.installed.len(), 4, "{:#?}", pair.b.log_text());
    assert!(!pair.b.logged("IPsec SA down"));
}

#[test]
fn dpd_declares_one_dead_uplink_dead_not_the_peer() {
    let dpd = Dpd {
        interval_s: 10,
        retry_s: 2,
        periodic: true,
        origin: line(4),
    };
    let (mut a, mut b) = branch_and_hub(2);
    a.dpd = Some(dpd.clone());
    b.dpd = Some(dpd);
    let mut pair = Pair::new(a, b);
    initiate_all(&mut pair, false, 2);
    pair.run_for(Duration::from_secs(5));
    assert_every_tunnel_up(&pair, 2);
    let kept = spis_of(&pair.b, "Tunnel1");
    // Tunnel2's uplink fails: nothing between its address and the hub gets through.
    pair.deliver = |d| {
        let uplink2: std::net::IpAddr = "2001:db8:a::2".parse().unwrap();
        d.local.ip() != uplink2 && d.remote.ip() != uplink2
    };
    pair.run_for(Duration::from_secs(60));
    for side in [&pair.b, &pair.a] {
        assert!(side.logged("DPD timeout: peer"), "{:#?}", side.log_text());
        assert!(side.sas_of("Tunnel2", Direction::In).is_empty());
    }
    assert_eq!(spis_of(&pair.b, "Tunnel1"), kept, "Tunnel1 untouched");
    assert!(!pair.b.logged("IPsec SA down on Tunnel1"));
}

#[test]
fn an_spi_the_kernel_gave_on_another_address_too_is_given_back() {
    // The branch's data path allocates per destination address, as the kernel does,
    // and hands out one SPI for both of its addresses.
    let (a, b) = branch_and_hub(2);
    let mut pair = Pair::new(a, b);
    pair.a.fixed_spis = [0x4242, 0x4242].into();
    initiate_all(&mut pair, false, 2);
    pair.run_for(Duration::from_secs(5));
    assert_every_tunnel_up(&pair, 2);
    let ins: Vec<u32> = pair.a.sa(Direction::In).iter().map(|s| s.spi).collect();
    assert!(ins.contains(&0x4242) && ins[0] != ins[1], "{ins:x?}");
    assert!(pair.a.reserved.is_empty(), "{:x?}", pair.a.reserved);
}

/// How many of `side`'s log lines from `from` on contain every one of `needles`.
fn lines_since(side: &Side, from: usize, needles: &[&str]) -> usize {
    side.logs[from..]
        .iter()
        .map(|l| l.to_string())
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .count()
}

/// Both ends start every tunnel at once (the daemons come up together): Main Modes and
/// Quick Modes collide, and each tunnel keeps one pair while the losers wait out their
/// grace period (or, where one end took the other's pair for a replacement, the peer's
/// Delete). Then one end restarts (kill -9) at various moments of that: before the
/// losers are gone, as their Deletes go, and long after; with various delays on the
/// wire. Its INITIAL-CONTACT on each tunnel clears that tunnel's pair in use once (a
/// loser still held goes as the duplicate it is), and every tunnel ends with one pair,
/// the same on both ends, and no other record. Until the restart no tunnel's traffic is
/// sent on an SA the peer does not have.
#[test]
fn initial_contact_after_simultaneous_starts_clears_each_tunnel_once() {
    // Five tunnels: enough for collisions and restarts to interleave, few enough for
    // 48 cases (many tunnels from one address: the test after the next).
    let n = 5;
    let mut losers_held = 0;
    for seed in 1..=8 {
        for restart_after_ms in [0, 4_990, 40_000] {
            for hub_restarts in [false, true] {
                let case = format!(
                    "seed {seed}, {} restarts {restart_after_ms} ms after setup",
                    if hub_restarts { "hub" } else { "branch" }
                );
                losers_held += restart_after_simultaneous_starts(
                    n,
                    seed,
                    restart_after_ms,
                    hub_restarts,
                    &case,
                );
            }
        }
    }
    assert!(losers_held > 0, "no restart came while a loser was held");
}

/// One case of the above; 1 if the end that stays held more pairs than tunnels when
/// the other restarted.
fn restart_after_simultaneous_starts(
    n: usize,
    seed: u64,
    restart_after_ms: u64,
    restarted: bool,
    case: &str,
) -> usize {
    let (a, b) = branch_and_hub(n);
    let config = if restarted { b.clone() } else { a.clone() };
    let mut pair = Pair::with_seed(a, b, seed);
    pair.latency = Duration::from_millis(5);
    pair.jitter = Duration::from_millis(10 * seed);
    pair.check_no_loss = true;
    initiate_all(&mut pair, false, n);
    initiate_all(&mut pair, true, n);
    // Every tunnel up on both ends (the suite pings them all) before the clock of
    // the restart starts.
    let all_up = |pair: &Pair| {
        [&pair.a, &pair.b]
            .iter()
            .all(|s| (1..=n).all(|i| s.engine.current_pair(&name(i)).is_some()))
    };
    for _ in 0..50 {
        if all_up(&pair) {
            break;
        }
        pair.run_for(Duration::from_millis(100));
    }
    assert!(all_up(&pair), "{case}: not up");
    assert!(pair.b.logged("collision"), "{case}: no collision");
    pair.run_for(Duration::from_millis(restart_after_ms));
    let now = pair.time;
    let held = pair.side(!restarted).engine.ipsec_sas(now).len();

    pair.check_no_loss = false;
    pair.time += Duration::from_millis(100);
    // Killed with nothing in flight: what it had sent would still arrive (a Delete of
    // a loser can then clear a tunnel before any INITIAL-CONTACT does).
    pair.queue.clear();
    let now = pair.time;
    let fresh = pair.side(restarted);
    fresh.engine = Engine::new(config, Box::new(TestRng::new(seed + 50)), now);
    fresh.installed.clear();
    fresh.reserved.clear();
    let mark = pair.side(!restarted).logs.len();
    initiate_all(&mut pair, restarted, n);
    pair.run_for(Duration::from_secs(60));

    let stayed = pair.side(!restarted);
    let log = || stayed.log_text()[mark..].join("\n");
    // One INITIAL-CONTACT per tunnel, unless the end that stayed began a Main Mode of
    // its own for a tunnel (a Quick Mode of its cut off by the restart): the restarted
    // end then holds an SA when it sends MM5, and the old pair goes as the one replaced.
    let contacts = lines_since(stayed, mark, &["Process initial contact"]);
    assert!(
        contacts > 0 && contacts <= n,
        "{case}, {held} pairs held: {contacts} INITIAL-CONTACTs\n{}",
        log()
    );
    for i in 1..=n {
        let down = format!("IPsec SA down on {} with", name(i));
        let cleared = lines_since(stayed, mark, &[&down, "peer sent INITIAL-CONTACT"]);
        assert!(
            cleared <= 1,
            "{case}, {held} pairs held: {}'s pair in use cleared once, not {cleared} times\n{}",
            name(i),
            log()
        );
    }
    let others: Vec<String> = stayed
        .log_text()
        .into_iter()
        .filter(|l| l.contains("IPsec SA down"))
        .filter(|l| !l.ends_with("duplicate from a simultaneous negotiation"))
        .filter(|l| !l.ends_with("replaced by a newer SA"))
        .filter(|l| !l.ends_with("peer sent INITIAL-CONTACT"))
        // A Quick Mode that the restart cut off before QM3.
        .filter(|l| !l.ends_with("negotiation failed"))
        .collect();
    assert!(others.is_empty(), "{case}: {others:#?}");
    assert_one_pair_per_tunnel(&pair, n);
    usize::from(held > n)
}

/// Collisions on every tunnel, and none of the hub's Informational messages reaches the
/// branch (Deletes are not retransmitted): the branch still drops the losers, once it
/// has told the hub, and keeps no half of a pair that nobody will use.
#[test]
fn a_lost_delete_leaves_no_duplicate_pair_behind() {
    let n = 4;
    let (a, b) = branch_and_hub(n);
    let mut pair = Pair::new(a, b);
    // ISAKMP header byte 18: the exchange type (5: Informational).
    pair.deliver = |d| d.to_b || d.data.get(18) != Some(&5);
    initiate_all(&mut pair, false, n);
    initiate_all(&mut pair, true, n);
    pair.run_for(Duration::from_secs(60));
    assert!(
        pair.a.logged("Quick Mode collision"),
        "{:#?}",
        pair.a.log_text()
    );
    assert_one_pair_per_tunnel(&pair, n);
}

/// When each Main Mode began (`Side::log_times` of the "beginning Main Mode" lines).
fn main_mode_starts(side: &Side) -> Vec<std::time::Instant> {
    side.log_text()
        .iter()
        .zip(&side.log_times)
        .filter(|(l, _)| l.contains("beginning Main Mode exchange"))
        .map(|(_, t)| *t)
        .collect()
}

/// 300 tunnels asked up at once: a burst of Main Modes, then the rest at the paced
/// rate (no thundering herd of MM1s); every tunnel still comes up, and the pairs'
/// soft lifetimes are spread over 85..94% of the hard one, so that they do not all
/// rekey in the same second either.
#[test]
fn initiations_are_paced_and_rekeys_spread() {
    use crate::ike::pacing::{INITIATION_BURST, INITIATION_RATE};
    let n = 300;
    let (a, b) = branch_and_hub(n);
    let mut pair = Pair::new(a, b);
    let t0 = pair.time;
    initiate_all(&mut pair, false, n);
    pair.drive();
    assert_eq!(main_mode_starts(&pair.a).len(), INITIATION_BURST as usize);
    pair.run_for(Duration::from_secs(10));
    assert_every_tunnel_up(&pair, n);
    let starts = main_mode_starts(&pair.a);
    assert_eq!(starts.len(), n, "one Main Mode per tunnel");
    let paced = (n - INITIATION_BURST as usize) as u32;
    let ramp = Duration::from_secs(1) * paced / INITIATION_RATE;
    let last = *starts.iter().max().unwrap() - t0;
    assert!(
        last >= ramp && last <= ramp + Duration::from_millis(100),
        "the last Main Mode began {last:?} after the first, expected {ramp:?}"
    );
    // In no second more Main Modes than the burst and the rate allow.
    for s in &starts {
        let within = starts
            .iter()
            .filter(|t| **t >= *s && **t - *s < Duration::from_secs(1));
        assert!(within.count() <= (INITIATION_BURST + INITIATION_RATE) as usize);
    }
    let hard = pair.a.installed[0].lifetimes.hard_s.unwrap();
    let percents: std::collections::BTreeSet<u64> = pair
        .a
        .installed
        .iter()
        .map(|s| s.lifetimes.soft_s.unwrap() * 100 / hard)
        .collect();
    assert_eq!(
        percents,
        (85..=94).collect(),
        "soft lifetimes over 85..94% of {hard} s"
    );
}

/// A hub that does not answer: no more than `MAX_HALF_OPEN` of our Main Modes are
/// under way at once, however many tokens the rate has given meanwhile (3 s: the
/// burst and 300 more), and one that gives up makes room for the next.
#[test]
fn a_silent_hub_sees_no_more_than_max_half_open_main_modes() {
    use crate::ike::pacing::MAX_HALF_OPEN;
    let n = 300;
    let (a, b) = branch_and_hub(n);
    let mut pair = Pair::new(a, b);
    pair.deliver = |d| !d.to_b;
    initiate_all(&mut pair, false, n);
    pair.run_for(Duration::from_secs(3));
    assert_eq!(main_mode_starts(&pair.a).len(), MAX_HALF_OPEN);
    pair.run_for(Duration::from_secs(120));
    let gave_up = pair.a.failures().len();
    assert!(gave_up > 0, "the unanswered Main Modes gave up");
    assert!(
        main_mode_starts(&pair.a).len() > MAX_HALF_OPEN,
        "the next ones began"
    );
}

/// The one-address hub starts all its tunnels at once (a head-end after a restart):
/// the branch sees one Main Mode per tunnel from the same address, more than the
/// per-peer half-open limit a stranger gets. It is a configured peer with that many
/// tunnels, so none of them is refused or dropped to make room for another: every
/// tunnel is up within the first seconds, on its first Main Mode.
#[test]
fn a_hub_with_one_address_brings_up_every_tunnel_to_a_branch_at_once() {
    use crate::ike::admission::PER_PEER_HALF_OPEN;
    let n = 50;
    assert!(n > 2 * PER_PEER_HALF_OPEN as usize);
    let (a, b) = branch_and_hub(n);
    let mut pair = Pair::new(a, b);
    initiate_all(&mut pair, true, n);
    pair.run_for(Duration::from_secs(3));
    assert_every_tunnel_up(&pair, n);
    let admission = pair.a.engine.admission().stats;
    assert_eq!(admission.accepted_in, n as u64, "{admission:?}");
    assert_eq!(admission.rejected_in() + admission.evicted_embryonic, 0);
    assert_eq!(
        main_mode_starts(&pair.b).len(),
        n,
        "one Main Mode per tunnel"
    );
}

/// SIGHUP with one tunnel changed among many, the file's lines shifted (a profile
/// added above): that tunnel alone renegotiates; every other keeps its SAs.
#[test]
fn a_reload_changing_one_tunnel_among_many_touches_only_that_one() {
    let n = 50;
    let (a, b) = branch_and_hub(n);
    let mut pair = Pair::new(a, b.clone());
    initiate_all(&mut pair, false, n);
    pair.run_for(Duration::from_secs(5));
    assert_every_tunnel_up(&pair, n);
    let before: Vec<Vec<u32>> = (1..=n).map(|i| spis_of(&pair.b, &name(i))).collect();
    let mut reloaded = b;
    for t in &mut reloaded.tunnels {
        t.origin.line += 3;
        t.profile_origin.line += 3;
    }
    reloaded.tunnels[6].lifetime_s = 1800;
    let now = pair.time;
    pair.b.engine.reload(now, reloaded);
    pair.run_for(Duration::from_secs(5));
    for i in 1..=n {
        let after = spis_of(&pair.b, &name(i));
        if i == 7 {
            assert_eq!(after.len(), 2, "Tunnel7 up again");
            assert!(
                after.iter().all(|s| !before[i - 1].contains(s)),
                "Tunnel7 renegotiated"
            );
        } else {
            assert_eq!(after, before[i - 1], "{} kept its SAs", name(i));
        }
    }
}

/// Both ends start Main Mode on every tunnel at once, with varied delays, losses and
/// reordering on the wire: every tunnel comes up with one ISAKMP SA, the same on both
/// ends (`assert_one_pair_per_tunnel`), so a later Delete or DPD goes over an SA the
/// peer still has.
#[test]
fn simultaneous_starts_settle_on_the_same_isakmp_sa_on_both_ends() {
    for (n, seed, loss) in [(5, 1, 0), (5, 2, 10), (5, 3, 25), (5, 4, 25), (30, 5, 10)] {
        let (a, b) = branch_and_hub(n);
        let mut pair = Pair::with_seed(a, b, seed);
        pair.latency = Duration::from_millis(5);
        pair.jitter = Duration::from_millis(10 * seed);
        pair.loss = loss;
        pair.reorder = loss;
        initiate_all(&mut pair, false, n);
        initiate_all(&mut pair, true, n);
        pair.run_for(Duration::from_secs(20));
        // The network heals; a loser's Delete (not retransmitted) may have been lost.
        pair.loss = 0;
        pair.reorder = 0;
        pair.run_for(Duration::from_secs(120));
        assert_one_pair_per_tunnel(&pair, n);
    }
}
