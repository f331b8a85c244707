//! What the lines mean once carried into the engine's settings and the data path's
//! tunnel interfaces: keyrings, ISAKMP profiles, identities, Tunnel0, overlays, phase 2
//! knobs, interface maps, and what is parsed but not carried out yet.

use super::*;
use crate::config::resolve::Interfaces;
use crate::dataplane::DfBit;
use crate::ike::settings::{LocalIdentity, Lookup, PeerIdentity};

/// A host with eth0 (as `eth0` in mod.rs) and a loopback, listing its names.
struct Host;

impl Interfaces for Host {
    fn addresses(&self, name: &str) -> Option<Vec<IpAddr>> {
        match name {
            "lo" => Some(vec![ip("127.0.0.1"), ip("192.0.2.1")]),
            other => eth0(other),
        }
    }
    fn names(&self) -> Vec<String> {
        vec!["lo".into(), "eth0".into()]
    }
}

const HUB: &str = "hostname HUB\nip domain name example.com\n\
crypto isakmp policy 10\n encr aes 256\n hash sha256\n authentication pre-share\n group 14\n\
crypto isakmp identity hostname\n\
crypto isakmp keepalive 30 5\n\
crypto isakmp key 0 Gl0bal address 0.0.0.0\n\
crypto keyring SPOKES\n pre-shared-key address 198.51.100.0 255.255.255.0 key 7 094F471A1A0A\n\
crypto keyring WAN2 \n local-address 198.51.100.2\n pre-shared-key address 0.0.0.0 0.0.0.0 key Wan2-Key\n\
crypto isakmp profile SPOKES\n keyring SPOKES\n match identity address 198.51.100.0 255.255.255.0\n match identity host domain branch.example.com\n keepalive 10 retry 3\n self-identity address\n\
crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac\n\
crypto ipsec security-association lifetime seconds 7200\n\
crypto ipsec security-association replay window-size 256\n\
crypto ipsec df-bit clear\n\
crypto ipsec profile VTI\n set transform-set TS\n set isakmp-profile SPOKES\n set security-association lifetime kilobytes disable\n set security-association idle-time 600\n\
crypto ipsec profile PLAIN\n set transform-set TS\n set security-association replay disable\n set security-association lifetime seconds 1800\n responder-only\n\
crypto call admission limit ike in-negotiation-sa 40\n\
crypto call admission limit ike sa 500\n\
interface Tunnel0\n ip address 192.168.23.1 255.255.255.252\n ip address 192.168.23.5 255.255.255.252 secondary\n ip tcp adjust-mss 1360\n\
 ipv6 enable\n ipv6 tcp adjust-mss 1340\n tunnel source GigabitEthernet1\n tunnel mode ipsec ipv4 v6-overlay\n tunnel destination 198.51.100.7\n\
 tunnel path-mtu-discovery\n crypto ipsec df-bit set\n tunnel protection ipsec profile VTI\n\
interface Tunnel2147483647\n ip unnumbered Loopback0\n tunnel source 198.51.100.2\n tunnel mode ipsec ipv4\n tunnel destination 198.51.100.8\n tunnel protection ipsec profile PLAIN\n\
ikev1d map-interface GigabitEthernet1 eth0\nikev1d map-interface Loopback0 lo\n";

#[test]
fn keyrings_profiles_and_identities_reach_the_engine() {
    let c = ok(HUB);
    let s = c.to_settings(Host).unwrap();
    // `key 7` decoded; `address 0.0.0.0` without a mask is every peer.
    assert_eq!(s.keyrings[0].keys[0].key.as_bytes(), b"cisco");
    assert_eq!(
        (s.keys[0].address, s.keys[0].prefix_len),
        (ip("0.0.0.0"), 0)
    );
    assert_eq!(s.keyrings[1].local, Some(vec![ip("198.51.100.2")]));
    let key = |peer: &str, local: Option<&str>, only: Option<&[String]>| {
        let at = Lookup {
            peer: ip(peer),
            local: local.map(ip),
            fvrf: None,
        };
        s.psk_lookup(&at, only)
            .map(|c| (c.key.key.as_bytes().to_vec(), c.keyring.map(str::to_string)))
    };
    assert_eq!(
        key("198.51.100.9", None, None),
        Some((b"cisco".to_vec(), Some("SPOKES".into())))
    );
    assert_eq!(
        key("203.0.113.9", Some("198.51.100.2"), None),
        Some((b"Wan2-Key".to_vec(), Some("WAN2".into())))
    );
    assert_eq!(
        key("203.0.113.9", Some("198.51.100.3"), None),
        Some((b"Gl0bal".to_vec(), None))
    );
    // The initiator of Tunnel0 uses its ISAKMP profile's keyring only.
    let t0 = &s.tunnels[0];
    let profile = s.tunnel_profile(t0).unwrap();
    assert_eq!(profile.name, "SPOKES");
    assert_eq!(
        key("198.51.100.7", None, Some(&profile.keyrings)),
        Some((b"cisco".to_vec(), Some("SPOKES".into())))
    );
    // Responder: by the peer's address before MM5, by its ID after.
    let at = Lookup::peer(ip("198.51.100.7"));
    let p = s
        .profile_for(&PeerIdentity::Address(ip("198.51.100.7")), &at)
        .unwrap();
    assert_eq!(p.name, "SPOKES");
    assert!(s
        .profile_for(&PeerIdentity::Fqdn("r1.branch.example.com".into()), &at)
        .is_some());
    assert!(s
        .profile_for(&PeerIdentity::Address(ip("203.0.113.1")), &at)
        .is_none());
    assert!(crate::ike::Settings::keyring_allowed(p, Some("SPOKES")));
    assert!(!crate::ike::Settings::keyring_allowed(p, Some("WAN2")));
    // Keepalive and identity: the profile's over the global lines.
    assert_eq!(s.dpd_for(Some(p)).unwrap().interval_s, 10);
    assert_eq!(s.dpd_for(None).unwrap().interval_s, 30);
    assert_eq!(s.identity_for(Some(p)), &LocalIdentity::Address);
    assert_eq!(
        s.identity_for(None),
        &LocalIdentity::Fqdn("HUB.example.com".into())
    );
    assert_eq!(
        (s.admission.in_negotiation_sa, s.admission.sa),
        (Some(40), Some(500))
    );
}

#[test]
fn phase_2_knobs_reach_the_engine() {
    let s = ok(HUB).to_settings(Host).unwrap();
    let (t0, tmax) = (&s.tunnels[0], &s.tunnels[1]);
    // Global lifetime under the profile's own values; `kilobytes disable`.
    assert_eq!((t0.lifetime_s, t0.lifetime_kb), (7200, u64::MAX));
    assert_eq!((tmax.lifetime_s, tmax.lifetime_kb), (1800, 4_608_000));
    assert_eq!(
        (t0.options.replay_window, tmax.options.replay_window),
        (256, 0)
    );
    assert_eq!(
        (t0.options.idle_time_s, tmax.options.idle_time_s),
        (Some(600), None)
    );
    assert_eq!(t0.options.isakmp_profile.as_deref(), Some("SPOKES"));
    assert!(!t0.options.responder_only && tmax.options.responder_only);
    // ipv4 v6-overlay: IPv4 endpoints, IPv6 proxy identities.
    assert_eq!(
        (t0.local, t0.peer, t0.inner),
        (ip("192.0.2.2"), ip("198.51.100.7"), InnerFamily::V6)
    );
}

#[test]
fn tunnel_interfaces_carry_their_ios_lines() {
    let c = ok(HUB);
    let specs = c.tunnel_specs(Host).unwrap();
    let (t0, tmax) = (&specs[0], &specs[1]);
    // Tunnel0 keeps a non-zero if_id; TunnelN keeps N; names fit Linux's 15 characters.
    assert_eq!((t0.name.as_str(), t0.if_id), ("Tunnel0", 0x8000_0000));
    assert_eq!(
        (tmax.name.as_str(), tmax.if_id),
        ("Tu2147483647", 2_147_483_647)
    );
    let o = &t0.options;
    assert_eq!(o.ipv4_secondary, [("192.168.23.5".parse().unwrap(), 30)]);
    assert_eq!((o.adjust_mss_v4, o.adjust_mss_v6), (Some(1360), Some(1340)));
    assert!(o.ipv6_enable && o.path_mtu_discovery);
    // The interface's df-bit over the global one.
    assert_eq!((o.df_bit, tmax.options.df_bit), (DfBit::Set, DfBit::Clear));
    // `ip unnumbered Loopback0` (mapped to lo) borrows lo's address, not 127.0.0.1.
    let u = tmax.options.unnumbered.as_ref().unwrap();
    assert_eq!(
        (u.interface.as_str(), u.address),
        ("lo", "192.0.2.1".parse().unwrap())
    );
    assert_eq!(tmax.ipv4, None);
}

/// `ip unnumbered IF` needs IF to hold an IPv4 address when the daemon starts; the
/// error names the line.
#[test]
fn an_unnumbered_tunnel_needs_an_ipv4_address_to_borrow() {
    let v6_only = |name: &str| (name == "lo").then(|| vec![ip("127.0.0.1"), ip("::1")]);
    let e = ok(HUB).tunnel_specs(|n: &str| v6_only(n).or_else(|| eth0(n)));
    let e = e.unwrap_err().to_string();
    assert!(
        e.ends_with("ip unnumbered Loopback0: lo has no IPv4 address to lend the tunnel"),
        "{e}"
    );
    assert!(e.starts_with("t.conf:"), "{e}");
    let e = ok(&HUB.replace("Loopback0 lo", "Loopback0 dummy7"))
        .tunnel_specs(Host)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ip unnumbered Loopback0 is mapped to dummy7"),
        "{e}"
    );
}

#[test]
fn ios_interface_names_need_a_map_and_the_error_lists_the_host() {
    let text = HUB.replace("ikev1d map-interface GigabitEthernet1 eth0\n", "");
    let c = ok(&text);
    let (errors, _) = c.check_interfaces(&Host);
    assert_eq!(
        errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        ["t.conf:44: tunnel source GigabitEthernet1 is an IOS interface this host does not have: map it to a \
          Linux interface with `--map-interface GigabitEthernet1=IFNAME` or the line `ikev1d map-interface \
          GigabitEthernet1 IFNAME` (this host has: eth0)"]
    );
    let e = c.to_settings(Host).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("t.conf:44: tunnel source GigabitEthernet1 is an IOS interface"),
        "{e}"
    );
    // --map-interface, in IOS's abbreviation.
    let mut mapped = c.clone();
    mapped.map_interface("gi1", "eth0").unwrap();
    assert_eq!(mapped.check_interfaces(&Host).0, []);
    assert_eq!(
        mapped.to_settings(Host).unwrap().tunnels[0].local,
        ip("192.0.2.2")
    );
    assert!(mapped.map_interface("gi1", "a/b").is_err());
    // convert writes the Linux name and needs the map no more.
    mapped.apply_interface_map(&["GigabitEthernet1".into()]);
    let t = round_trip(&mapped);
    assert_eq!(
        t.tunnels[0].source.as_ref().unwrap().value,
        TunnelSource::Interface("eth0".into())
    );
    assert!(t.mapped_interface("GigabitEthernet1").is_none());
    assert!(t.mapped_interface("Loopback0").is_some());
    // A mapped name the host lacks.
    let e = ok(&HUB.replace("GigabitEthernet1 eth0", "GigabitEthernet1 eth9"))
        .to_settings(Host)
        .unwrap_err();
    assert!(e.to_string().contains("GigabitEthernet1 is mapped to eth9 (line 56), which this host does not have (this host has: eth0)"), "{e}");
}

#[test]
fn gre_vrfs_and_virtual_templates_are_carried() {
    let gre = "crypto isakmp policy 10\n authentication pre-share\ncrypto isakmp key k address 0.0.0.0\n\
               crypto ipsec transform-set TS esp-aes esp-sha-hmac\n mode transport\ncrypto ipsec profile P\n set transform-set TS\n\
               vrf definition BLUE\n rd 65000:1\n address-family ipv4\n exit-address-family\n\
               interface Tunnel1\n vrf forwarding BLUE\n ip address 192.168.23.1 255.255.255.252\n tunnel source 198.51.100.2\n\
               tunnel destination 198.51.100.3\n tunnel key 42\n keepalive 5 3\n tunnel vrf RED\n tunnel protection ipsec profile P\n\
               ip route vrf BLUE 192.0.2.0 255.255.255.0 Tunnel1\n\
               interface Virtual-Template1 type tunnel\n ip unnumbered Loopback0\n tunnel source 198.51.100.2\n tunnel mode ipsec ipv4\n tunnel protection ipsec profile P\n\
               crypto isakmp profile DVTI\n match identity address 0.0.0.0\n virtual-template 1\n";
    let c = ok(gre);
    let t = &c.tunnels[0];
    assert_eq!(t.mode, None);
    assert_eq!(
        t.tunnel_mode(),
        TunnelMode::Gre {
            outer: InnerFamily::V4
        }
    );
    assert_eq!(
        (
            t.key.as_ref().unwrap().value,
            t.keepalive.as_ref().unwrap().value
        ),
        (42, (5, 3))
    );
    assert_eq!(c.routes[0].vrf.as_deref(), Some("BLUE"));
    assert_eq!(c.vrfs[0].families, [InnerFamily::V4]);
    assert!(
        has(
            &warnings(&c),
            "t.conf:19: warning: Tunnel1: vrf RED is not defined in this file"
        ),
        "{:?}",
        warnings(&c)
    );
    // Parsed, so it converts.
    assert_eq!(content(&round_trip(&c)), content(&c));

    // Without the template, GRE, its key and both VRFs reach the engine and the data
    // path; the GRE keepalive is warned about.
    let c = ok(&gre[..gre.find("interface Virtual-Template1").unwrap()]);
    assert!(
        has(
            &warnings(&c),
            "t.conf:18: warning: Tunnel1: `keepalive 5 3`: ikev1d sends no GRE keepalives"
        ),
        "{:?}",
        warnings(&c)
    );
    let t = &c.to_settings(eth0).unwrap().tunnels[0];
    assert!(t.options.gre);
    assert_eq!(t.options.tunnel_mode, "gre ip");
    assert_eq!(
        t.inner,
        InnerFamily::V4,
        "GRE's proxies are of the outer family"
    );
    assert_eq!(
        (t.options.fvrf.as_deref(), t.options.ivrf.as_deref()),
        (Some("RED"), Some("BLUE"))
    );
    let spec = &c.tunnel_specs(eth0).unwrap()[0];
    assert_eq!(
        spec.options.gre,
        Some(crate::dataplane::Gre { key: Some(42) })
    );
    assert_eq!(spec.options.vrf.as_deref(), Some("BLUE"));
    assert_eq!(spec.options.tunnel_vrf.as_deref(), Some("RED"));
    // A VRF becomes a Linux VRF device: its name must be one.
    let long = gre[..gre.find("interface Virtual-Template1").unwrap()]
        .replace("tunnel vrf RED", "tunnel vrf INTERNET-TRANSIT-A");
    assert!(
        errors(&long).contains(&"t.conf:19: Tunnel1: vrf INTERNET-TRANSIT-A: `INTERNET-TRANSIT-A` is not a valid Linux interface name for its VRF device (at most 15 characters)".to_string()),
        "{:?}",
        errors(&long)
    );
}

/// `local-address` of the ISAKMP profile a tunnel's ipsec profile names pins its
/// source: among the `tunnel source` interface's addresses, that one; a source
/// elsewhere is refused at its line, naming the profile's line.
#[test]
fn the_profiles_local_address_pins_the_tunnel_source() {
    let conf = |source: &str| {
        format!(
            "crypto isakmp policy 10\n authentication pre-share\n\
             crypto keyring K\n pre-shared-key address 0.0.0.0 0.0.0.0 key Secret1\n\
             crypto isakmp profile P\n keyring K\n match identity address 198.51.100.7 255.255.255.255\n local-address 192.0.2.1\n\
             crypto ipsec transform-set TS esp-aes esp-sha-hmac\n\
             crypto ipsec profile VTI\n set transform-set TS\n set isakmp-profile P\n\
             interface Tunnel1\n tunnel source {source}\n tunnel mode ipsec ipv4\n tunnel destination 198.51.100.7\n tunnel protection ipsec profile VTI\n\
             ikev1d map-interface Loopback0 lo\n"
        )
    };
    // lo's first address is 127.0.0.1: the profile picks its other one.
    let s = ok(&conf("Loopback0")).to_settings(Host).unwrap();
    assert_eq!(s.tunnels[0].local, ip("192.0.2.1"));
    let specs = ok(&conf("Loopback0")).tunnel_specs(Host).unwrap();
    assert_eq!(specs[0].local, ip("192.0.2.1"));
    let e = ok(&conf("198.51.100.2")).to_settings(Host).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.conf:14: Tunnel1: tunnel source 198.51.100.2 is not the local-address (192.0.2.1) \
         of crypto isakmp profile P (line 8), which `set isakmp-profile` names for it"
    );
}

/// `interface Virtual-Template N type tunnel` reaches the engine as a template (its IOS
/// name, no peer, the tunnel source's address) and the data path as the interface each
/// Virtual-Access clones; it is no tunnel of its own.
#[test]
fn a_virtual_template_is_a_template_not_a_tunnel() {
    let conf = "crypto isakmp policy 10\n authentication pre-share\n\
                crypto keyring SPOKES\n pre-shared-key address 0.0.0.0 0.0.0.0 key Dvti\n\
                crypto isakmp profile DVTI\n keyring SPOKES\n match identity address 0.0.0.0\n virtual-template 1\n\
                crypto ipsec transform-set TS esp-aes esp-sha-hmac\n\
                crypto ipsec profile P\n set transform-set TS\n set isakmp-profile DVTI\n\
                interface Virtual-Template1 type tunnel\n ip unnumbered Loopback0\n tunnel source GigabitEthernet1\n tunnel mode ipsec ipv4\n tunnel protection ipsec profile P\n\
                ikev1d map-interface GigabitEthernet1 eth0\nikev1d map-interface Loopback0 lo\n";
    let c = ok(conf);
    let s = c.to_settings(Host).unwrap();
    assert_eq!(s.tunnels, []);
    assert_eq!(s.templates.len(), 1);
    let t = &s.templates[0];
    assert_eq!(t.name, "Virtual-Template1");
    assert!(t.local.is_ipv4() && eth0("eth0").unwrap().contains(&t.local));
    assert_eq!(t.peer, ip("0.0.0.0"));
    assert_eq!(t.options.isakmp_profile.as_deref(), Some("DVTI"));
    assert_eq!(s.isakmp_profiles[0].virtual_template, Some(1));
    assert_eq!(c.tunnel_specs(Host).unwrap(), []);
    let specs = c.template_specs(Host).unwrap();
    assert_eq!(specs.len(), 1);
    assert_eq!(specs[0].name, "Virtual-Template1");
    let u = specs[0].options.unnumbered.as_ref().unwrap();
    assert_eq!(
        (u.interface.as_str(), u.address),
        ("lo", "192.0.2.1".parse().unwrap())
    );
    assert_eq!(specs[0].routes, []);
}
