//! Tests against a kernel with ESP and xfrm interfaces: ignored by default, run as
//! root in a scratch network namespace inside the VM by tests/vm/kernel-dataplane.sh
//! (`ikev1d-* --ignored dataplane::kernel::vm_tests`).

use super::*;
use crate::ipsec::UdpEncap;
use std::process::Command;
use std::time::{Duration, Instant};

const LOCAL: &str = "2001:db8::2";
const PEER: &str = "2001:db8::3";

fn tunnel(name: &str, if_id: u32) -> TunnelSpec {
    TunnelSpec {
        name: name.into(),
        if_id,
        local: LOCAL.parse().unwrap(),
        peer: PEER.parse().unwrap(),
        inner: InnerFamily::V6,
        ipv4: Some(("192.168.23.2".parse().unwrap(), 24)),
        ipv6: vec![("2001:db8:23::2".parse().unwrap(), 64)],
        link_local: Some("fe80::23:2".parse().unwrap()),
        mtu: Some(1400),
        routes: vec![
            ("198.51.100.0".parse().unwrap(), 24),
            ("2001:db8:99::".parse().unwrap(), 48),
        ],
        options: Default::default(),
    }
}

fn sa(t: &TunnelSpec, direction: Direction, spi: u32, lifetimes: Lifetimes) -> SaSpec {
    let (src, dst) = match direction {
        Direction::In => (t.peer, t.local),
        Direction::Out => (t.local, t.peer),
    };
    SaSpec {
        tunnel: t.name.clone(),
        direction,
        spi,
        src,
        dst,
        inner: t.inner,
        mode: Default::default(),
        transform: EspTransform {
            encr: EspEncr::Aes(256),
            auth: EspAuth::HmacSha256,
        },
        enc_key: Secret::new(vec![1; 32]),
        auth_key: Secret::new(vec![2; 32]),
        lifetimes,
        encap: None,
        replay_window: 64,
    }
}

fn ip(args: &str) -> String {
    let out = Command::new("ip").args(args.split(' ')).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ours_left() -> (String, String) {
    let reqid = format!("{:#010x}", reqid_for(23));
    let states = ip("-s xfrm state");
    let policies = ip("-s xfrm policy");
    (
        states.lines().filter(|l| l.contains(&reqid)).collect(),
        policies.lines().filter(|l| l.contains(&reqid)).collect(),
    )
}

#[test]
#[ignore = "needs root and a kernel with ESP: run by tests/vm/kernel-dataplane.sh"]
fn interface_addresses_routes_and_link_local() {
    let mut dp = KernelDataplane::open().unwrap();
    let t = tunnel("Tunnel23", 23);
    dp.ensure_tunnel(&t).unwrap();
    // adopting an unchanged tunnel is a no-op
    dp.ensure_tunnel(&t).unwrap();
    let addrs = ip("-6 addr show dev Tunnel23");
    assert!(
        addrs.contains("fe80::23:2/64") && addrs.contains("2001:db8:23::2/64"),
        "{addrs}"
    );
    assert_eq!(
        addrs.matches("scope link").count(),
        1,
        "only the fixed link-local: {addrs}"
    );
    assert!(ip("-4 addr show dev Tunnel23").contains("192.168.23.2/24"));
    assert!(ip("link show Tunnel23").contains("mtu 1400"));
    assert!(ip("-4 route show dev Tunnel23").contains("198.51.100.0/24"));
    assert!(ip("-6 route show dev Tunnel23").contains("2001:db8:99::/48"));
    assert_eq!(
        ip("-s xfrm policy")
            .matches(&format!("{:#010x}", reqid_for(23)))
            .count(),
        6
    );
    dp.shutdown();
    assert!(ip("link show Tunnel23").is_empty());
    assert_eq!(ours_left(), (String::new(), String::new()));
}

#[test]
#[ignore = "needs root and a kernel with ESP: run by tests/vm/kernel-dataplane.sh"]
fn allocated_spi_is_completed_and_expiry_is_reported() {
    let mut dp = KernelDataplane::open().unwrap();
    let t = tunnel("Tunnel23", 23);
    dp.ensure_tunnel(&t).unwrap();
    let spi = dp.alloc_spi("Tunnel23", t.peer, t.local).unwrap();
    assert!(spi >= 0x100);
    let short = Lifetimes {
        soft_s: Some(1),
        hard_s: Some(3),
        ..Lifetimes::default()
    };
    dp.install_sa(&t, &sa(&t, Direction::In, spi, short))
        .unwrap();
    dp.install_sa(&t, &sa(&t, Direction::Out, 0x5000, Lifetimes::default()))
        .unwrap();
    // the larval state was completed, not duplicated
    let states = ip("xfrm state");
    assert_eq!(
        states.matches(&format!("spi {spi:#010x}")).count(),
        1,
        "{states}"
    );
    assert!(
        states.contains("replay_window 64") && states.contains("hmac(sha256)"),
        "{states}"
    );
    let c = dp
        .counters("Tunnel23", Direction::Out, 0x5000, t.peer)
        .unwrap();
    assert_eq!(
        (c.packets, c.bytes, c.replay_errors, c.integrity_errors),
        (0, 0, 0, 0)
    );
    assert!(c.age_s < 5);

    let (mut soft, mut hard) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(soft && hard) && Instant::now() < deadline {
        for e in dp.poll_events() {
            let DataplaneEvent::Expired {
                tunnel,
                spi: s,
                dst,
                hard: h,
            } = e
            else {
                panic!("{e:?}");
            };
            assert_eq!((tunnel.as_str(), s, dst), ("Tunnel23", spi, t.local));
            if h {
                hard = true;
            } else {
                soft = true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(soft && hard, "soft {soft}, hard {hard}");
    assert!(
        dp.counters("Tunnel23", Direction::In, spi, t.local)
            .is_err(),
        "gone after hard expiry"
    );
    // deleting an SA that expired is not an error
    dp.delete_sa("Tunnel23", Direction::In, spi, t.local)
        .unwrap();
    dp.delete_sa("Tunnel23", Direction::Out, 0x5000, t.peer)
        .unwrap();
    assert!(!ip("xfrm state").contains("spi 0x00005000"));
    dp.shutdown();
}

#[test]
#[ignore = "needs root and a kernel with ESP: run by tests/vm/kernel-dataplane.sh"]
fn a_restart_removes_a_crashed_instances_leftovers_only() {
    let t = tunnel("Tunnel23", 23);
    let mut crashed = KernelDataplane::open().unwrap();
    crashed.ensure_tunnel(&t).unwrap();
    let mut with_encap = sa(&t, Direction::Out, 0x6000, Lifetimes::default());
    with_encap.encap = Some(UdpEncap {
        sport: 4500,
        dport: 4500,
    });
    crashed.install_sa(&t, &with_encap).unwrap();
    crashed.alloc_spi("Tunnel23", t.peer, t.local).unwrap();
    assert!(ip("xfrm state").contains("encap type espinudp sport 4500 dport 4500"));
    // a crash: nothing is cleaned up
    crashed.tunnels = Tunnels::default();
    drop(crashed);
    // someone else's interface of the same name is never taken over
    let mut other = KernelDataplane::open().unwrap();
    assert!(ip("link add Tunnel99 type dummy").is_empty());
    let err = other.ensure_tunnel(&tunnel("Tunnel99", 99)).unwrap_err();
    assert!(err.to_string().contains("not created by ikev1d"), "{err}");
    assert!(ip("link show Tunnel99").contains("Tunnel99"));

    let mut restarted = KernelDataplane::open().unwrap();
    restarted.ensure_tunnel(&t).unwrap();
    assert!(
        !ip("xfrm state").contains("spi 0x00006000"),
        "leftover SA removed"
    );
    assert_eq!(
        ip("-s xfrm policy")
            .matches(&format!("{:#010x}", reqid_for(23)))
            .count(),
        6
    );
    restarted.shutdown();
    assert_eq!(ours_left(), (String::new(), String::new()));
    ip("link del Tunnel99");
}

/// Tunnel0 (if_id 2^31), the numbers around the old scheme's 16-bit limit and the
/// highest: each its interface, six policies with its own reqid, its SAs; nothing left
/// after shutdown.
#[test]
#[ignore = "needs root and a kernel with ESP: run by tests/vm/kernel-dataplane.sh"]
fn every_tunnel_number_gets_its_interface_and_reqid() {
    let mut dp = KernelDataplane::open().unwrap();
    let tunnels = [
        ("Tunnel0", TUNNEL0_IF_ID),
        ("Tunnel65535", 0xffff),
        ("Tunnel65536", 0x1_0000),
        ("Tu2147483647", (1 << 31) - 1),
        // Dynamic VTI: Virtual-Access1 and the highest Virtual-Access.
        ("Virtual-Access1", VIRTUAL_ACCESS_IF_ID_BASE + 1),
        ("Vi65535", MAX_IF_ID),
    ];
    for (i, (name, if_id)) in tunnels.into_iter().enumerate() {
        let t = TunnelSpec {
            ipv4: None,
            ipv6: vec![],
            routes: vec![],
            ..tunnel(name, if_id)
        };
        dp.ensure_tunnel(&t).unwrap();
        let spi = 0x7000 + i as u32;
        dp.install_sa(&t, &sa(&t, Direction::Out, spi, Lifetimes::default()))
            .unwrap();
        assert!(
            ip(&format!("-d link show {name}")).contains(&format!("if_id {if_id:#x}")),
            "{}",
            ip(&format!("-d link show {name}"))
        );
        // `ip -s` prints it as `reqid N (0x...)`; the if_id is in hex too.
        let reqid = format!("({:#010x})", reqid_for(if_id));
        assert_eq!(ip("-s xfrm policy").matches(&reqid).count(), 6, "{name}");
        assert_eq!(ip("-s xfrm state").matches(&reqid).count(), 1, "{name}");
    }
    dp.shutdown();
    assert!(ip("xfrm state").is_empty(), "{}", ip("xfrm state"));
    assert!(ip("link show Tunnel0").is_empty());
}

/// A daemon of the old reqid scheme crashed: its state and policies for Tunnel23 go
/// when Tunnel23 is created again (its policies would refuse the new ones); state that
/// carries Tunnel23's reqid but another binding, or none, is someone else's and stays.
#[test]
#[ignore = "needs root and a kernel with ESP: run by tests/vm/kernel-dataplane.sh"]
fn old_scheme_leftovers_go_and_foreign_state_with_our_reqid_stays() {
    let t = tunnel("Tunnel23", 23);
    // The crashed daemon's and the others' state, there before this instance starts.
    let mut crashed = KernelDataplane::open().unwrap();
    let legacy = LEGACY_REQID_BASE | 23;
    let add = |dp: &mut KernelDataplane, spi, reqid, binding| {
        let msg = xfrm::sa(
            &sa(&t, Direction::Out, spi, Lifetimes::default()),
            reqid,
            binding,
            crate::dataplane::DfBit::Copy,
        );
        dp.xfrm
            .request(XfrmMessage::AddSa(msg), NLM_F_CREATE | NLM_F_EXCL)
            .unwrap();
    };
    add(&mut crashed, 0x8001, legacy, Binding::IfId(23));
    add(&mut crashed, 0x8002, reqid_for(23), Binding::IfId(24));
    for sel in xfrm::any_selectors() {
        for dir in xfrm::DIRECTIONS {
            let p = xfrm::policy(
                sel,
                dir,
                t.local,
                t.peer,
                legacy,
                Binding::IfId(23),
                EspMode::Tunnel,
                false,
            );
            crashed.xfrm.request(p, NLM_F_CREATE | NLM_F_EXCL).unwrap();
        }
    }
    let unbound = format!(
        "xfrm state add src {PEER} dst {LOCAL} proto esp spi 0x8003 reqid {:#x} mode tunnel \
         enc cbc(aes) 0x00112233445566778899aabbccddeeff",
        reqid_for(23)
    );
    assert!(ip(&unbound).is_empty());
    drop(crashed);
    let mut dp = KernelDataplane::open().unwrap();
    dp.ensure_tunnel(&t).unwrap();
    let states = ip("xfrm state");
    assert!(
        !states.contains("spi 0x00008001"),
        "legacy state removed: {states}"
    );
    assert!(
        states.contains("spi 0x00008002"),
        "another binding's stays: {states}"
    );
    assert!(
        states.contains("spi 0x00008003"),
        "an unbound one stays: {states}"
    );
    assert!(!ip("-s xfrm policy").contains(&format!("{legacy:#010x}")));
    dp.shutdown();
    let states = ip("xfrm state");
    assert!(states.contains("spi 0x00008002") && states.contains("spi 0x00008003"));
    ip("xfrm state flush");
}

/// A hub crashed with Virtual-Access interfaces up: the next instance removes them all
/// at start (interfaces, states, policies), though its own numbering starts again
/// from 1; a TunnelN it has not created yet, and a foreign `Vi` interface, stay.
#[test]
#[ignore = "needs root and a kernel with ESP: run by tests/vm/kernel-dataplane.sh"]
fn a_crashed_hubs_virtual_access_interfaces_go_at_start() {
    let crashed = [
        ("Virtual-Access2", VIRTUAL_ACCESS_IF_ID_BASE + 2),
        ("Vi17", VIRTUAL_ACCESS_IF_ID_BASE + 17),
        ("Tunnel5", 5),
    ];
    let mut dp = KernelDataplane::open().unwrap();
    for (i, (name, if_id)) in crashed.into_iter().enumerate() {
        let t = TunnelSpec {
            ipv4: None,
            ipv6: vec![],
            routes: vec![],
            ..tunnel(name, if_id)
        };
        dp.ensure_tunnel(&t).unwrap();
        dp.install_sa(
            &t,
            &sa(&t, Direction::Out, 0x9000 + i as u32, Lifetimes::default()),
        )
        .unwrap();
    }
    assert!(ip("link add Vi99 type dummy").is_empty());
    // kill -9: nothing removed.
    std::mem::forget(dp);
    let mut dp = KernelDataplane::open().unwrap();
    dp.remove_leftover_virtual_access().unwrap();
    for name in ["Virtual-Access2", "Vi17"] {
        assert!(
            ip(&format!("link show {name}")).is_empty(),
            "{name} removed"
        );
    }
    let states = ip("xfrm state");
    assert!(!states.contains("spi 0x00009000") && !states.contains("spi 0x00009001"));
    assert!(
        states.contains("spi 0x00009002"),
        "Tunnel5's stays: {states}"
    );
    let policies = ip("-s xfrm policy");
    for va in [2, 17] {
        let reqid = format!("({:#010x})", reqid_for(VIRTUAL_ACCESS_IF_ID_BASE + va));
        assert!(!policies.contains(&reqid), "{reqid}: {policies}");
    }
    assert_eq!(
        policies
            .matches(&format!("({:#010x})", reqid_for(5)))
            .count(),
        6
    );
    assert!(!ip("link show Tunnel5").is_empty());
    assert!(!ip("link show Vi99").is_empty(), "not ours: stays");
    // Tunnel5's leftovers go when it is created again, as before.
    dp.ensure_tunnel(&tunnel("Tunnel5", 5)).unwrap();
    dp.shutdown();
    assert!(ip("xfrm state").is_empty(), "{}", ip("xfrm state"));
    ip("link del Vi99");
}

#[test]
#[ignore = "needs root and a kernel with ESP: run by tests/vm/kernel-dataplane.sh"]
fn ike_sockets_get_bypass_and_espinudp() {
    for addr in ["[::1]:0", "127.0.0.1:0"] {
        let s = std::net::UdpSocket::bind(addr).unwrap();
        DataplaneKind::Kernel.prepare_ike_socket(&s, true).unwrap();
    }
}
