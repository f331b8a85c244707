//! Dynamic VTI: a hub with one Virtual-Template (and an ISAKMP profile with a wildcard
//! match and `virtual-template 1`) serves spokes it has no `interface TunnelN` for.
//! Each spoke gets its own Virtual-Access, cloned before its SAs and removed with them
//! (Delete, DPD, INITIAL-CONTACT of a restarted spoke); the number is bounded.

use super::util::*;
use crate::crypto::TestRng;
use crate::ike::settings::fixtures::{key, match_address, profile, ring};
use crate::ike::settings::{Admission, Dpd, IsakmpProfile, Settings};
use crate::ike::{Command, Engine};
use crate::ipsec::Direction;
use std::time::Duration;

const HUB: &str = "2001:db8:b::1";

fn spoke_addr(i: usize) -> String {
    format!("2001:db8:a::{i}")
}

/// Spoke side A: Tunnel1..n, each from its own address to the hub (one process with
/// many addresses, as `fan` in tests/lib.sh).
fn spokes(n: usize) -> Settings {
    let mut a = settings(&spoke_addr(1), HUB);
    a.tunnels = (1..=n)
        .map(|i| tunnel(&format!("Tunnel{i}"), &spoke_addr(i), HUB))
        .collect();
    a
}

/// The hub: no tunnel interface, `interface Virtual-Template1 type tunnel` and
/// `crypto isakmp profile DVTI` / `match identity address ::/0` / `virtual-template 1`.
fn hub() -> Settings {
    let mut b = settings(HUB, "::");
    b.tunnels.clear();
    b.templates = vec![tunnel("Virtual-Template1", HUB, "::")];
    b.isakmp_profiles = vec![IsakmpProfile {
        virtual_template: Some(1),
        ..profile("DVTI", vec![match_address("::/0", None)])
    }];
    b
}

fn up(a: Settings, b: Settings, n: usize) -> Pair {
    let mut pair = Pair::new(a, b);
    for i in 1..=n {
        pair.initiate_tunnel(false, &format!("Tunnel{i}"));
    }
    pair.run_for(Duration::from_secs(10));
    pair
}

/// Spoke i's pair on the hub is installed on the Virtual-Access the hub gave it, with
/// the SPIs and keys of the spoke's Tunnel i.
fn assert_spoke_on(pair: &Pair, i: usize, interface: &str) {
    let va = pair
        .b
        .interfaces
        .iter()
        .find(|va| va.name == interface)
        .unwrap_or_else(|| panic!("no {interface}: {:#?}", pair.b.interfaces));
    assert_eq!(va.peer.to_string(), spoke_addr(i));
    assert_eq!(va.local.to_string(), HUB);
    assert_eq!((va.template, va.profile.as_str()), (1, "DVTI"));
    let t = format!("Tunnel{i}");
    for (from, from_t, to, to_t) in [
        (&pair.a, t.as_str(), &pair.b, interface),
        (&pair.b, interface, &pair.a, t.as_str()),
    ] {
        let out = from.sas_of(from_t, Direction::Out);
        let inb = to.sas_of(to_t, Direction::In);
        assert_eq!((out.len(), inb.len()), (1, 1), "{from_t} -> {to_t}");
        assert_eq!(out[0].spi, inb[0].spi);
        assert_eq!(out[0].enc_key, inb[0].enc_key);
    }
}

#[test]
fn each_spoke_gets_its_own_virtual_access_named_as_ios_names_it() {
    let n = 12;
    let pair = up(spokes(n), hub(), n);
    let names: Vec<&str> = pair.b.interfaces.iter().map(|v| v.name.as_str()).collect();
    // Virtual-Access10 is 16 characters: IOS's short form from 10 on.
    let expected: Vec<String> = (1..=n)
        .map(|k| match k {
            1..=9 => format!("Virtual-Access{k}"),
            _ => format!("Vi{k}"),
        })
        .collect();
    assert_eq!(names, expected);
    for (k, name) in expected.iter().enumerate() {
        let va = &pair.b.interfaces[k];
        assert_eq!(va.if_id(), (1 << 31) + k as u32 + 1, "{name}");
        let i: usize = va
            .peer
            .to_string()
            .trim_start_matches("2001:db8:a::")
            .parse()
            .unwrap();
        assert_spoke_on(&pair, i, name);
    }
    assert_eq!(pair.b.engine.virtual_accesses(), pair.b.interfaces);
    // `show ipsec` names each Virtual-Access and its template; `show isakmp` each
    // peer's Virtual-Access.
    let ipsec = pair.b.engine.ipsec_sas(pair.time);
    let shown: Vec<&str> = ipsec.iter().map(|s| s.interface.as_str()).collect();
    assert_eq!(shown.len(), n);
    assert!(
        expected.iter().all(|e| shown.contains(&e.as_str())),
        "{shown:?}"
    );
    assert!(ipsec
        .iter()
        .all(|s| s.virtual_template.as_deref() == Some("Virtual-Template1")));
    for sa in pair.b.engine.isakmp_sas(pair.time) {
        let va = pair
            .b
            .interfaces
            .iter()
            .find(|v| v.peer == sa.peer)
            .unwrap();
        assert_eq!(sa.virtual_access.as_deref(), Some(va.name.as_str()));
        assert_eq!(sa.profile.as_deref(), Some("DVTI"));
    }
    assert!(pair
        .a
        .engine
        .ipsec_sas(pair.time)
        .iter()
        .all(|s| s.virtual_template.is_none()));
    assert!(pair.b.alerts().is_empty(), "{:#?}", pair.b.alerts());
    assert!(pair.b.removed.is_empty());
}

#[test]
fn a_virtual_access_goes_with_its_last_ipsec_sa_and_the_hub_never_dials_back() {
    let n = 3;
    let mut pair = up(spokes(n), hub(), n);
    assert_eq!(pair.b.interfaces.len(), n);
    // The spokes go away cleanly: Deletes for every pair and ISAKMP SA.
    let now = pair.time;
    pair.a.engine.handle_command(now, Command::Shutdown);
    pair.run_for(Duration::from_secs(600));
    assert!(pair.b.interfaces.is_empty(), "{:#?}", pair.b.interfaces);
    assert_eq!(pair.b.removed.len(), n);
    assert!(pair.b.installed.is_empty(), "{:#?}", pair.b.installed);
    // Nothing from the hub after the spokes' Deletes: no Main Mode towards a spoke.
    let last = pair.sent.iter().filter(|d| !d.to_b).count();
    pair.run_for(Duration::from_secs(3600));
    assert_eq!(pair.sent.iter().filter(|d| !d.to_b).count(), last);
}

#[test]
fn a_restarted_spoke_gets_a_new_virtual_access_and_no_stale_one_stays() {
    let mut pair = up(spokes(1), hub(), 1);
    assert_spoke_on(&pair, 1, "Virtual-Access1");
    // The spoke restarts (kill -9: no Delete) and dials in again with INITIAL-CONTACT.
    pair.a.engine = Engine::new(spokes(1), Box::new(TestRng::new(77)), pair.time);
    pair.a.installed.clear();
    pair.initiate_tunnel(false, "Tunnel1");
    pair.run_for(Duration::from_secs(10));
    let names: Vec<&str> = pair.b.interfaces.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Virtual-Access2"]);
    assert_eq!(pair.b.removed.len(), 1);
    assert_eq!(pair.b.removed[0].name, "Virtual-Access1");
    assert_spoke_on(&pair, 1, "Virtual-Access2");
    assert!(
        pair.b.logged("peer sent INITIAL-CONTACT"),
        "{:#?}",
        pair.b.log_text()
    );
}

#[test]
fn a_dead_spoke_loses_its_virtual_access_within_the_dpd_time() {
    let n = 2;
    let mut b = hub();
    b.isakmp_profiles[0].dpd = Some(Dpd {
        interval_s: 10,
        retry_s: 2,
        periodic: true,
        origin: line(40),
    });
    let mut pair = up(spokes(n), b, n);
    assert_eq!(pair.b.interfaces.len(), n);
    // Spoke 1 dies: nothing of its address arrives any more; spoke 2 lives on.
    let dead: std::net::IpAddr = spoke_addr(1).parse().unwrap();
    pair.deliver = |d| {
        let dead: std::net::IpAddr = "2001:db8:a::1".parse().unwrap();
        d.local.ip() != dead && d.remote.ip() != dead
    };
    // DPD: 10 s without traffic, then R-U-THERE every 2 s until the peer is declared
    // dead; not before.
    pair.run_for(Duration::from_secs(9));
    assert_eq!(pair.b.interfaces.len(), n);
    pair.run_for(Duration::from_secs(30));
    assert_eq!(pair.b.interfaces.len(), 1, "{:#?}", pair.b.interfaces);
    assert_ne!(pair.b.interfaces[0].peer, dead);
    assert_eq!(pair.b.removed.len(), 1);
    assert_eq!(pair.b.removed[0].peer, dead);
    assert!(pair
        .b
        .installed
        .iter()
        .all(|s| s.src != dead && s.dst != dead));
}

/// `crypto call admission limit ike sa 2`: at most two Virtual-Access interfaces (the
/// phase 1 limit refuses the third spoke first; the clone's own bound is the same
/// number), and numbers wrap at the limit to the lowest free one.
#[test]
fn the_number_of_virtual_access_interfaces_is_bounded_and_numbers_wrap() {
    let n = 3;
    let mut b = hub();
    b.admission = Admission {
        in_negotiation_sa: None,
        sa: Some(2),
    };
    let pair = up(spokes(n), b, n);
    let names: Vec<&str> = pair.b.interfaces.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Virtual-Access1", "Virtual-Access2"]);
    let unserved = pair
        .a
        .engine
        .ipsec_sas(pair.time)
        .into_iter()
        .filter(|s| s.outbound.is_some())
        .count();
    assert_eq!(unserved, 2, "the third spoke has no pair");
}

/// Numbers count up as spokes reconnect and wrap at the limit (here `crypto call
/// admission limit ike sa 3`) to the lowest free one.
#[test]
fn virtual_access_numbers_count_up_and_wrap_at_the_limit() {
    let mut b = hub();
    b.admission.sa = Some(3);
    let mut pair = up(spokes(2), b, 2);
    let restart = |pair: &mut Pair, i: usize, seed: u64| {
        let addr: std::net::IpAddr = spoke_addr(i).parse().unwrap();
        let mut a = spokes(2);
        a.tunnels.retain(|t| t.local == addr);
        pair.a.engine = Engine::new(a, Box::new(TestRng::new(seed)), pair.time);
        pair.a.installed.retain(|s| s.src != addr && s.dst != addr);
        pair.initiate_tunnel(false, &format!("Tunnel{i}"));
        pair.run_for(Duration::from_secs(10));
    };
    let names =
        |pair: &Pair| -> Vec<String> { pair.b.interfaces.iter().map(|v| v.name.clone()).collect() };
    assert_eq!(names(&pair), ["Virtual-Access1", "Virtual-Access2"]);
    let of = |pair: &Pair, name: &str| {
        pair.b
            .interfaces
            .iter()
            .find(|v| v.name == name)
            .unwrap()
            .peer
            .to_string()
    };
    let first = of(&pair, "Virtual-Access1");
    let i: usize = first.trim_start_matches("2001:db8:a::").parse().unwrap();
    restart(&mut pair, i, 81);
    assert_eq!(names(&pair), ["Virtual-Access2", "Virtual-Access3"]);
    let second = of(&pair, "Virtual-Access2");
    let j: usize = second.trim_start_matches("2001:db8:a::").parse().unwrap();
    restart(&mut pair, j, 82);
    assert_eq!(names(&pair), ["Virtual-Access3", "Virtual-Access1"]);
    assert_eq!(of(&pair, "Virtual-Access1"), second);
    let removed: Vec<&str> = pair.b.removed.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(removed, ["Virtual-Access1", "Virtual-Access2"]);
}

#[test]
fn a_tunnel_interface_for_the_peer_wins_over_the_template() {
    let mut b = hub();
    b.tunnels = vec![tunnel("Tunnel7", HUB, &spoke_addr(1))];
    let pair = up(spokes(2), b, 2);
    let names: Vec<&str> = pair.b.interfaces.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Virtual-Access1"]);
    assert_eq!(pair.b.interfaces[0].peer.to_string(), spoke_addr(2));
    assert_eq!(pair.b.sas_of("Tunnel7", Direction::In).len(), 1);
}

#[test]
fn a_virtual_access_stays_across_rekeys_by_either_side() {
    for hub_shorter in [false, true] {
        let mut a = spokes(1);
        let mut b = hub();
        let (shorter, longer) = if hub_shorter {
            (&mut b.templates[0], &mut a.tunnels[0])
        } else {
            (&mut a.tunnels[0], &mut b.templates[0])
        };
        shorter.lifetime_s = 120;
        longer.lifetime_s = 600;
        let mut pair = up(a, b, 1);
        pair.run_for(Duration::from_secs(500));
        let rekeys = pair.b.count("IPsec SA up on Virtual-Access1");
        assert!(rekeys >= 4, "hub_shorter {hub_shorter}: {rekeys} pairs");
        let names: Vec<&str> = pair.b.interfaces.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["Virtual-Access1"], "hub_shorter {hub_shorter}");
        assert!(pair.b.removed.is_empty(), "hub_shorter {hub_shorter}");
        assert_spoke_on(&pair, 1, "Virtual-Access1");
    }
}

/// The template with `tunnel vrf RED` (the spoke's tunnel too, keys from a keyring of
/// RED on both): a spoke's Quick Modes over its ISAKMP SA in RED, the first and every
/// rekey, all find its one Virtual-Access, which `show crypto isakmp sa` names.
#[test]
fn a_virtual_access_in_a_front_door_vrf_stays_across_rekeys() {
    let mut a = spokes(1);
    let mut b = hub();
    for (s, t) in [(&mut a, 0), (&mut b, 1)] {
        let t = if t == 0 {
            &mut s.tunnels[0]
        } else {
            &mut s.templates[0]
        };
        t.options.fvrf = Some("RED".into());
        t.lifetime_s = 120;
        s.keys.clear();
        s.keyrings = vec![ring(
            "RED-KEYS",
            Some("RED"),
            None,
            vec![key("red-key", "::/0", 5)],
        )];
    }
    b.isakmp_profiles[0].matches = vec![match_address("::/0", Some("RED"))];
    let mut pair = up(a, b, 1);
    pair.run_for(Duration::from_secs(500));
    let rekeys = pair.b.count("IPsec SA up on Virtual-Access1");
    assert!(rekeys >= 4, "{rekeys} pairs: {:#?}", pair.b.log_text());
    let names: Vec<&str> = pair.b.interfaces.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Virtual-Access1"]);
    assert!(pair.b.removed.is_empty(), "{:#?}", pair.b.removed);
    assert_spoke_on(&pair, 1, "Virtual-Access1");
    let shown: Vec<_> = pair
        .b
        .engine
        .isakmp_sas(pair.time)
        .into_iter()
        .map(|s| (s.fvrf, s.virtual_access))
        .collect();
    assert_eq!(
        shown,
        [(Some("RED".into()), Some("Virtual-Access1".into()))]
    );
}

#[test]
fn an_idle_virtual_access_goes_with_its_pair() {
    let mut b = hub();
    b.templates[0].options.idle_time_s = Some(300);
    let mut pair = up(spokes(2), b, 2);
    assert_eq!(pair.b.interfaces.len(), 2);
    // The data path saw no packet on Virtual-Access1 for 300 s.
    let now = pair.time;
    pair.b.engine.handle_command(
        now,
        Command::SaIdle {
            tunnel: "Virtual-Access1".into(),
        },
    );
    pair.run_for(Duration::from_secs(5));
    // Virtual-Access1 went with its pair; the spoke, whose Tunnel1 the hub's Delete
    // left without SAs, dialled in again and got a new one.
    assert_eq!(pair.b.removed.len(), 1);
    assert_eq!(pair.b.removed[0].name, "Virtual-Access1");
    assert!(pair.b.sas_of("Virtual-Access1", Direction::In).is_empty());
    let names: Vec<&str> = pair.b.interfaces.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Virtual-Access2", "Virtual-Access3"]);
    assert_eq!(pair.b.interfaces[1].peer, pair.b.removed[0].peer);
    assert!(pair.b.logged("idle"), "{:#?}", pair.b.log_text());
}

/// The data path's lifetime (soft or hard) of the hub's SA `spi` of Virtual-Access1
/// ran out.
fn hub_sa_expired(pair: &mut Pair, spi: u32, hard: bool) {
    let now = pair.time;
    let tunnel = "Virtual-Access1".into();
    let expired = Command::SaExpired { tunnel, spi, hard };
    pair.b.engine.handle_command(now, expired);
}

/// The hub's Virtual-Access lives through a rekey (the new pair is up before the old
/// goes), and through the hard expiry of its last pair (the data path's kilobyte
/// lifetime): the hub negotiates a new pair over the spoke's ISAKMP SA at once, and
/// the interface waits for it.
#[test]
fn a_virtual_access_stays_through_a_rekey_and_a_hard_expiry() {
    let mut pair = up(spokes(1), hub(), 1);
    // Soft expiry: a rekey; hard expiry: the pair is gone, a new one is negotiated.
    for (hard, down) in [
        (false, "replaced by a newer SA"),
        (true, "lifetime expired"),
    ] {
        let old = pair.b.sas_of("Virtual-Access1", Direction::In)[0].spi;
        hub_sa_expired(&mut pair, old, hard);
        pair.run_for(Duration::from_secs(60));
        assert!(pair.b.logged(down), "{:#?}", pair.b.log_text());
        assert!(pair.b.removed.is_empty(), "{:#?}", pair.b.removed);
        assert_spoke_on(&pair, 1, "Virtual-Access1");
        assert_ne!(pair.b.sas_of("Virtual-Access1", Direction::In)[0].spi, old);
    }
}

/// A Quick Mode refused after the template was cloned for it (no transform set in
/// common) leaves no Virtual-Access behind: each one cloned for the spoke's attempts
/// is removed, once.
#[test]
fn a_refused_quick_mode_leaves_no_virtual_access() {
    use crate::crypto::{EspAuth, EspEncr};
    let mut a = spokes(1);
    a.tunnels[0].transform_sets = vec![transform_set(EspEncr::TripleDes, EspAuth::HmacSha1)];
    let mut pair = up(a, hub(), 1);
    pair.run_for(Duration::from_secs(120));
    let refused = pair.b.count("no matching transform set for Virtual-Access");
    assert!(refused >= 2, "{:#?}", pair.b.log_text());
    assert!(pair.b.interfaces.is_empty(), "{:#?}", pair.b.interfaces);
    // One Virtual-Access per attempt, each removed once.
    let mut names: Vec<&str> = pair.b.removed.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names.len(), refused, "{:#?}", pair.b.removed);
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), refused, "removed twice: {:#?}", pair.b.removed);
}

/// The hub's pair expires (hard) and the Quick Mode the hub begins at once for a new
/// one gets no answer (the spoke went silent): the Virtual-Access stays while the
/// Quick Mode runs, and goes, once, when the hub gives up on it.
#[test]
fn a_virtual_access_goes_when_its_quick_mode_gives_up() {
    let mut pair = up(spokes(1), hub(), 1);
    let spi = pair.b.sas_of("Virtual-Access1", Direction::In)[0].spi;
    // The spoke is gone (no Delete): nothing reaches it, nothing comes from it.
    pair.deliver = |d| d.to_b;
    let mut quiet = spokes(1);
    quiet.tunnels.clear();
    pair.a.engine = Engine::new(quiet, Box::new(TestRng::new(5)), pair.time);
    hub_sa_expired(&mut pair, spi, true);
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.b.interfaces.len(), 1, "{:#?}", pair.b.log_text());
    assert!(pair.b.logged("beginning Quick Mode"));
    pair.run_for(Duration::from_secs(300));
    assert!(
        pair.b.logged("no answer to QM1"),
        "{:#?}",
        pair.b.log_text()
    );
    assert!(pair.b.interfaces.is_empty(), "{:#?}", pair.b.log_text());
    let removed: Vec<&str> = pair.b.removed.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(removed, ["Virtual-Access1"]);
}
