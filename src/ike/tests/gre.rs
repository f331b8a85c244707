//! GRE over IPsec (`tunnel mode gre ip|ipv6` with tunnel protection): the proxies are the
//! endpoints with protocol 47, and the encapsulation mode follows IOS's `mode` rules
//! (see `proposal`'s module doc).

use super::util::*;
use crate::ike::proposal::{p2_offer, p2_select};
use crate::ike::settings::Settings;
use crate::ipsec::{Direction, EspMode, InnerFamily};
use crate::isakmp::consts::p2_attr;
use crate::isakmp::{AttrValue, IdType};
use std::time::Duration;

/// The seed's tunnel as GRE over IPv4 (IOS's default mode), its transform set in
/// transport mode or not.
fn gre(local: &str, peer: &str, transport: bool) -> Settings {
    let mut s = settings(local, peer);
    let t = &mut s.tunnels[0];
    t.inner = if t.local.is_ipv4() {
        InnerFamily::V4
    } else {
        InnerFamily::V6
    };
    t.options.gre = true;
    t.options.tunnel_mode = "gre ip";
    t.transform_sets[0].transport = transport;
    if t.local.is_ipv4() {
        s.keys[0].address = "0.0.0.0".parse().unwrap();
    }
    s
}

fn up(a: Settings, b: Settings) -> Pair {
    let mut pair = Pair::new(a, b);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    assert!(pair.a.failures().is_empty(), "{:?}", pair.a.failures());
    assert!(pair.b.failures().is_empty(), "{:?}", pair.b.failures());
    pair.assert_agree();
    pair
}

fn modes(pair: &Pair) -> Vec<EspMode> {
    [&pair.a, &pair.b]
        .iter()
        .flat_map(|s| s.installed.iter().map(|sa| sa.mode))
        .collect()
}

#[test]
fn transport_when_both_sets_say_so_with_the_endpoints_as_proxies() {
    let pair = up(
        gre("192.0.2.1", "192.0.2.2", true),
        gre("192.0.2.2", "192.0.2.1", true),
    );
    assert_eq!(modes(&pair), [EspMode::Transport; 4]);
    let sa = pair.a.sa(Direction::Out)[0];
    assert_eq!(sa.inner, InnerFamily::V4, "the GRE packets' family");
    let now = pair.time;
    for (side, local, remote) in [
        (&pair.a, "192.0.2.1/32", "192.0.2.2/32"),
        (&pair.b, "192.0.2.2/32", "192.0.2.1/32"),
    ] {
        let shown = &side.engine.ipsec_sas(now)[0];
        assert_eq!(shown.mode, "transport");
        assert_eq!(
            (shown.local_ident.as_str(), shown.remote_ident.as_str()),
            (local, remote)
        );
        assert_eq!(shown.protocol, 47);
    }
}

#[test]
fn qm1_offers_transport_then_tunnel_with_host_identities_of_protocol_47() {
    let mut pair = Pair::new(gre(A_ADDR, B_ADDR, true), gre(B_ADDR, A_ADDR, true));
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    let tunnel = &gre(A_ADDR, B_ADDR, true).tunnels[0];
    let offer = p2_offer(tunnel, 0x1234, false, None);
    let encaps: Vec<Option<&AttrValue>> = offer
        .proposals
        .iter()
        .map(|p| p.transforms[0].attr(p2_attr::ENCAPSULATION_MODE))
        .collect();
    assert_eq!(
        encaps,
        [
            Some(&AttrValue::Basic(p2_attr::ENCAP_TRANSPORT)),
            Some(&AttrValue::Basic(p2_attr::ENCAP_TUNNEL))
        ]
    );
    assert_eq!(
        offer.proposals.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2]
    );
    let (ours, theirs) = crate::ike::identity::proxies(tunnel);
    for (id, addr) in [(&ours, A_ADDR), (&theirs, B_ADDR)] {
        assert_eq!(
            (id.id_type, id.protocol, id.port),
            (IdType::ID_IPV6_ADDR, 47, 0)
        );
        assert_eq!(
            crate::ike::identity::describe(id),
            format!("{addr}/128/47/0")
        );
    }
    // What the responder answered in QM2 is the offer it took, transport.
    assert_eq!(modes(&pair), [EspMode::Transport; 4]);
    // Behind a NAT both are UDP-encapsulated (RFC 3947 5).
    let udp = p2_offer(tunnel, 0x1234, true, None);
    assert_eq!(
        udp.proposals[0].transforms[0].attr(p2_attr::ENCAPSULATION_MODE),
        Some(&AttrValue::Basic(p2_attr::ENCAP_UDP_TRANSPORT))
    );
}

#[test]
fn tunnel_mode_where_either_set_is_in_tunnel_mode() {
    // IOS: a set in tunnel mode requests and accepts tunnel only; one in transport mode
    // requests transport but accepts tunnel.
    for (a, b) in [(true, false), (false, true), (false, false)] {
        let pair = up(
            gre("192.0.2.1", "192.0.2.2", a),
            gre("192.0.2.2", "192.0.2.1", b),
        );
        assert_eq!(
            modes(&pair),
            [EspMode::Tunnel; 4],
            "initiator {a}, responder {b}"
        );
        assert_eq!(pair.b.engine.ipsec_sas(pair.time)[0].mode, "tunnel");
    }
}

#[test]
fn transport_behind_a_nat_is_udp_encapsulated() {
    let mut pair = Pair::new(gre(A_ADDR, B_ADDR, true), gre(B_ADDR, A_ADDR, true));
    pair.nat_port_shift = Some(1000);
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    pair.assert_agree();
    assert_eq!(modes(&pair), [EspMode::Transport; 4]);
    assert!(pair.a.sa(Direction::Out)[0].encap.is_some());
}

/// strongSwan's IKEv1 initiator offers only the mode it is configured with: transport
/// only, to a set in tunnel mode, is refused naming the set and the line to add.
#[test]
fn a_transport_only_offer_to_a_tunnel_mode_set_names_the_fix() {
    let ours = &gre(B_ADDR, A_ADDR, false).tunnels[0];
    let theirs = &gre(A_ADDR, B_ADDR, true).tunnels[0];
    let mut offer = p2_offer(theirs, 0x1234, false, None);
    offer.proposals.truncate(1);
    let err = p2_select(ours, &offer).unwrap_err().to_string();
    assert_eq!(
        err,
        "no matching proposal for Tunnel23: peer offered transport mode only, transform set TRA (line 5) is in tunnel mode (add `mode transport` to it)"
    );
    // Accepted where configured.
    let (choice, _, _) = p2_select(theirs, &offer).unwrap();
    assert_eq!(choice.mode, EspMode::Transport);
}

#[test]
fn a_vti_still_negotiates_tunnel_mode_whatever_the_set_says() {
    // The reference's set says `mode transport`.
    let tunnel = &settings(A_ADDR, B_ADDR).tunnels[0];
    assert!(tunnel.transform_sets[0].transport);
    let offer = p2_offer(tunnel, 0x1234, false, None);
    assert_eq!(offer.proposals.len(), 1);
    let gre_offer = p2_offer(&gre(B_ADDR, A_ADDR, true).tunnels[0], 0x1234, false, None);
    let mut transport_only = gre_offer.clone();
    transport_only.proposals.truncate(1);
    let err = p2_select(tunnel, &transport_only).unwrap_err().to_string();
    assert!(
        err.contains(
            "peer offered transport mode, the tunnel interface (line 9) needs tunnel mode"
        ),
        "{err}"
    );
}

/// A VTI's any/any and GRE's endpoints are different proxies: a responder with the
/// other kind of tunnel to that peer says what it protects.
#[test]
fn gre_and_vti_proxies_do_not_match_each_other() {
    let mut pair = Pair::new(gre(A_ADDR, B_ADDR, true), settings(B_ADDR, A_ADDR));
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    assert!(pair.a.installed.is_empty() && pair.b.installed.is_empty());
    let b = pair.b.failures().join("\n");
    assert!(
        b.contains("proxy identities 2001:db8::2/128/47/0 <-> 2001:db8::3/128/47/0 not acceptable")
            && b.contains("interface Tunnel23 (line 9) protects ::/0/0/0"),
        "{b}"
    );
    let mut pair = Pair::new(settings(A_ADDR, B_ADDR), gre(B_ADDR, A_ADDR, true));
    pair.initiate(false);
    pair.run_for(Duration::from_secs(1));
    let b = pair.b.failures().join("\n");
    assert!(
        b.contains("protects 2001:db8::2/128/47/0 <-> 2001:db8::3/128/47/0"),
        "{b}"
    );
}

/// A VTI and a GRE tunnel between the same two addresses, both up: a shutdown tells
/// the peer of both pairs in one Informational (one Delete payload with both SPIs, RFC
/// 2408 3.15), then deletes the ISAKMP SA; the peer removes both pairs.
#[test]
fn shutdown_deletes_the_pairs_between_two_addresses_in_one_message() {
    let vti_and_gre = |local, peer| {
        let mut s = settings(local, peer);
        let mut g = gre(local, peer, true).tunnels.remove(0);
        g.name = "Tunnel24".into();
        s.tunnels.push(g);
        s
    };
    let mut pair = Pair::new(vti_and_gre(A_ADDR, B_ADDR), vti_and_gre(B_ADDR, A_ADDR));
    pair.initiate_tunnel(false, "Tunnel23");
    pair.initiate_tunnel(false, "Tunnel24");
    pair.run_for(Duration::from_secs(1));
    for side in [&pair.a, &pair.b] {
        assert_eq!(side.sa(Direction::In).len(), 2, "{:?}", side.installed);
    }
    let before = pair.sent.len();
    pair.a
        .engine
        .handle_command(pair.time, crate::ike::Command::Shutdown);
    pair.run_for(Duration::from_secs(5));
    assert!(pair.b.installed.is_empty(), "{:?}", pair.b.installed);
    let from_a = pair.sent[before..].iter().filter(|d| d.to_b).count();
    assert_eq!(
        from_a, 2,
        "the pairs' Deletes together, then the ISAKMP SA's"
    );
    assert_eq!(
        pair.b.count("deleted by the peer"),
        3,
        "{:#?}",
        pair.b.log_text()
    );
}
