//! Parsing, defaults, validation and conversion, on the seed's files and small snippets.

use super::*;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, EspTransform, HashAlg};
use crate::ipsec::InnerFamily;
use std::net::IpAddr;

mod carry;
mod dialect;
mod fixtures;

const R2: &str = include_str!("../../../examples/r2.conf");
const R3: &str = include_str!("../../../examples/r3.conf");
const IPV4: &str = include_str!("../../../examples/ipv4.conf");
const R2_TOML: &str = include_str!("../../../examples/r2.toml");
const STRAY_SPACE: &str = include_str!("../../../tests/fixtures/config/seed-stray-space.conf");
const SHOW_RUN: &str = include_str!("../../../tests/fixtures/config/show-run.conf");

pub(super) fn ios(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "t.conf", Dialect::Ios)
}

pub(super) fn ok(text: &str) -> Config {
    ios(text).unwrap_or_else(|e| panic!("rejected:\n{e}"))
}

/// The errors of a rejected file, as `check` prints them.
pub(super) fn errors(text: &str) -> Vec<String> {
    match ios(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

pub(super) fn warnings(c: &Config) -> Vec<String> {
    c.warnings.iter().map(|w| w.to_string()).collect()
}

pub(super) fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A minimal valid configuration around `extra` (prepended, so its lines start at 1).
pub(super) fn with_tunnel(extra: &str) -> String {
    format!(
        "{extra}
crypto isakmp policy 10
 authentication pre-share
crypto isakmp key cisco address ipv6 ::/0
crypto ipsec transform-set TRA esp-aes esp-sha-hmac
crypto ipsec profile PRO
 set transform-set TRA
interface Tunnel23
 tunnel source eth0
 tunnel mode ipsec ipv6
 tunnel destination 2001:db8::3
 tunnel protection ipsec profile PRO
"
    )
}

/// The model without where it came from (file, lines, diagnostics, what was skipped):
/// what must survive a conversion. `Debug` shows every field but the keys' bytes
/// (`Secret` hides them), which come after it.
pub(super) fn content(c: &Config) -> String {
    let mut c = c.clone();
    c.file.clear();
    c.warnings.clear();
    c.skipped = Skipped::default();
    let debug = format!("{c:#?}");
    let mut out = String::with_capacity(debug.len());
    for l in debug.lines() {
        let t = l.trim_start();
        if t.starts_with("line: ") {
            out.push_str("line: _,\n");
        } else if t.starts_with("file: ") {
            out.push_str("file: _,\n");
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    for k in c.all_keys() {
        out.push_str(&format!("key {:?}\n", k.key.as_bytes()));
    }
    out
}

pub(super) fn round_trip(c: &Config) -> Config {
    let text = c.to_toml();
    Config::parse(&text, "t.toml", Dialect::Toml)
        .unwrap_or_else(|e| panic!("TOML rejected:\n{e}\n{text}"))
}

/// eth0 as a netns test sets it up: a link-local, a global IPv6 and an IPv4 address.
pub(super) fn eth0(name: &str) -> Option<Vec<IpAddr>> {
    (name == "eth0").then(|| vec![ip("fe80::2"), ip("192.0.2.2"), ip("2001:db8::2")])
}

#[test]
fn seed_r2_is_the_expected_model_with_ios_defaults() {
    let c = ok(R2);
    assert_eq!(c.policies.len(), 1);
    let p = &c.policies[0];
    assert_eq!((p.priority, p.line), (10, 1));
    assert_eq!(p.encryption.value, CipherAlg::Des);
    assert_eq!(p.hash.value, HashAlg::Sha1);
    assert_eq!(p.group.value, DhGroup::Modp768);
    assert_eq!(p.lifetime_s.value, 86_400);
    assert!(p.pre_share);

    let k = &c.keys[0];
    assert_eq!(k.key.as_bytes(), b"cisco");
    assert_eq!((k.address, k.prefix_len, k.origin.line), (ip("::"), 0, 3));

    let t = &c.transform_sets[0];
    assert_eq!((t.name.as_str(), t.line), ("TRA", 4));
    assert_eq!(
        t.esp,
        Ok(EspTransform {
            encr: EspEncr::Aes(128),
            auth: EspAuth::HmacSha1
        })
    );
    assert_eq!(t.transforms, "esp-aes esp-sha-hmac");
    assert!(t.transport);

    let pr = &c.profiles[0];
    assert_eq!((pr.name.as_str(), pr.line), ("PRO", 6));
    assert_eq!(pr.transform_sets, vec![At::new("TRA".to_string(), 7)]);
    // Nothing set: the global lines' values, else IOS's defaults.
    assert_eq!(
        (&pr.lifetime_s, &pr.lifetime_kb, &pr.pfs),
        (&None, &None, &None)
    );
    let p2 = c.phase2(pr);
    assert_eq!(
        (p2.lifetime_s.value, p2.lifetime_kb.value, p2.replay.value),
        (
            3600,
            VolumeLifetime::Kilobytes(4_608_000),
            Replay::WindowSize(64)
        )
    );

    let tu = &c.tunnels[0];
    assert_eq!((tu.name(), tu.line), ("Tunnel23".to_string(), 9));
    assert_eq!(
        tu.ipv4,
        Some(At::new(("192.168.23.2".parse().unwrap(), 24), 10))
    );
    assert_eq!(
        tu.link_local,
        Some(At::new("fe80::23:2".parse().unwrap(), 11))
    );
    assert_eq!(
        tu.source,
        Some(At::new(TunnelSource::Interface("eth0".into()), 12))
    );
    assert_eq!(
        tu.mode,
        Some(At::new(
            TunnelMode::Ipsec {
                outer: InnerFamily::V6,
                inner: InnerFamily::V6
            },
            13
        ))
    );
    assert_eq!((tu.if_id(), tu.linux_name()), (23, "Tunnel23".to_string()));
    assert_eq!(tu.destination, Some(At::new(ip("2001:db8::3"), 14)));
    assert_eq!(tu.profile, Some(At::new("PRO".to_string(), 15)));
    assert!(!tu.shutdown && tu.ipv6.is_empty() && c.routes.is_empty());

    // Nothing is unsupported; the weak defaults are pointed out at the policy line.
    let w = warnings(&c);
    assert!(has(&w, "t.conf:1: warning: policy 10: DES"), "{w:?}");
    assert!(
        has(&w, "t.conf:1: warning: policy 10: DH group 1 is weak"),
        "{w:?}"
    );
    assert!(!has(&w, "unsupported"), "{w:?}");
}

#[test]
fn seed_r3_differs_only_in_addresses() {
    let (r2, r3) = (ok(R2), ok(R3));
    let t = &r3.tunnels[0];
    assert_eq!(t.destination.as_ref().unwrap().value, ip("2001:db8::2"));
    assert_eq!(
        t.link_local.as_ref().unwrap().value,
        "fe80::23:3".parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert_eq!(
        (r2.policies, r2.keys, r2.profiles),
        (r3.policies, r3.keys, r3.profiles)
    );
}

#[test]
fn stray_space_in_the_translated_destination_is_read_with_a_warning() {
    let c = ok(STRAY_SPACE);
    let t = &c.tunnels[0];
    assert_eq!(t.destination, Some(At::new(ip("2001:db8::3"), 17)));
    assert_eq!(
        t.source.as_ref().unwrap().value,
        TunnelSource::Address(ip("2001:db8::2"))
    );
    assert!(has(
        &warnings(&c),
        "t.conf:17: warning: `2001: DB8::3` read as 2001:db8::3"
    ));
}

#[test]
fn show_running_config_form_is_the_same_model_and_foreign_lines_are_summed_up() {
    let mut c = ok(SHOW_RUN);
    assert_eq!(c.hostname.take().map(|h| h.value), Some("R2".to_string()));
    assert_eq!(content(&c), content(&ok(R2)));
    // No warning per foreign line: one summary by kind.
    let w = warnings(&c);
    assert!(!has(&w, "unsupported"), "{w:?}");
    assert_eq!(
        c.skipped.summary().unwrap(),
        "skipped 6 lines outside the crypto and tunnel configuration: interface x1 (Ethernet0/0), line x1, version x1"
    );
    // Ethernet0/0's address did not leak into the tunnel.
    assert!(c.tunnels[0].ipv6.is_empty());
}

#[test]
fn settings_resolve_the_tunnel_source_and_keep_lines() {
    let s = ok(R2).to_settings(eth0).unwrap();
    let t = &s.tunnels[0];
    assert_eq!((t.local, t.peer), (ip("2001:db8::2"), ip("2001:db8::3")));
    assert_eq!(t.inner, InnerFamily::V6);
    assert_eq!(
        (t.lifetime_s, t.lifetime_kb, t.pfs),
        (3600, 4_608_000, None)
    );
    assert_eq!(t.transform_sets[0].transform.encr, EspEncr::Aes(128));
    assert_eq!(
        (
            t.origin.line,
            t.profile_origin.line,
            t.destination_origin.line
        ),
        (9, 6, 14)
    );
    assert_eq!(t.transform_sets[0].origin.line, 4);
    assert_eq!(s.policies[0].origin.to_string(), "line 1");
    let at = crate::ike::settings::Lookup::peer(ip("2001:db8::3"));
    assert_eq!(s.psk_lookup(&at, None).unwrap().key.origin.line, 3);
    assert_eq!(
        (s.dpd, s.nat_keepalive_s, s.passive),
        (None, Some(20), false)
    );
}

#[test]
fn tunnel_specs_carry_the_interface() {
    let specs = ok(IPV4).tunnel_specs(eth0).unwrap();
    assert_eq!(specs.len(), 1);
    let t = &specs[0];
    assert_eq!((t.name.as_str(), t.if_id), ("Tunnel1", 1));
    assert_eq!(
        (t.local, t.peer, t.inner),
        (ip("198.51.100.2"), ip("198.51.100.3"), InnerFamily::V4)
    );
    assert_eq!(t.ipv4, Some(("192.168.23.2".parse().unwrap(), 24)));
    assert_eq!(t.mtu, Some(1400));
    assert_eq!(t.routes, vec![(ip("192.0.2.0"), 24)]);

    let r2 = ok(R2).tunnel_specs(eth0).unwrap();
    assert_eq!(r2[0].link_local, Some("fe80::23:2".parse().unwrap()));
    assert_eq!(r2[0].local, ip("2001:db8::2"), "not the link-local address");
}

#[test]
fn unresolvable_tunnel_source_names_its_line() {
    let e = ok(R2).to_settings(|_: &str| None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.conf:12: tunnel source eth0: no such interface"
    );
    let e = ok(R2)
        .tunnel_specs(|_: &str| Some(vec![ip("fe80::2"), ip("192.0.2.2")]))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("t.conf:12: tunnel source eth0 has no global IPv6 address"),
        "{e}"
    );
}

#[test]
fn resolve_interface_reads_the_system_interfaces() {
    let lo = resolve_interface("lo").expect("every network namespace has lo");
    assert!(lo.iter().all(|a| a.is_loopback()), "{lo:?}");
    assert_eq!(resolve_interface("ikev1d-none0"), None);
}

#[test]
fn a_key_named_like_an_encryption_type_is_a_key() {
    let c = ok(&with_tunnel("crypto isakmp key 0 addr 192.0.2.1"));
    assert_eq!(c.keys[0].key.as_bytes(), b"0");
    assert_eq!(
        (c.keys[0].address, c.keys[0].prefix_len),
        (ip("192.0.2.1"), 32)
    );
}

#[test]
fn ipv4_example_reads_every_option() {
    let c = ok(IPV4);
    let p = &c.policies[0];
    assert_eq!(
        (
            p.encryption.value,
            p.hash.value,
            p.group.value,
            p.lifetime_s.value
        ),
        (
            CipherAlg::Aes(256),
            HashAlg::Sha256,
            DhGroup::Modp2048,
            28_800
        )
    );
    assert_eq!(
        (c.keys[0].address, c.keys[0].prefix_len),
        (ip("198.51.100.3"), 32)
    );
    let k = c.keepalive.as_ref().unwrap();
    assert_eq!((k.interval_s, k.retry_s, k.periodic), (10, 3, true));
    assert_eq!(c.nat_keepalive_s.as_ref().unwrap().value, 20);
    let t = &c.transform_sets[0];
    assert_eq!(
        (t.esp.clone(), t.transport),
        (
            Ok(EspTransform {
                encr: EspEncr::Aes(256),
                auth: EspAuth::HmacSha256
            }),
            false
        )
    );
    let pr = &c.profiles[0];
    assert_eq!(pr.pfs.as_ref().unwrap().value, DhGroup::Modp2048);
    assert_eq!(c.tunnels[0].description.as_deref(), Some("R3 over IPv4"));
    assert!(c.warnings.is_empty(), "{:?}", warnings(&c));
}

#[test]
fn abbreviations_case_and_pasted_modes() {
    let c = ok("CRYPTO ISAKMP POLICY 20\nencr 3des\nhash md5\nauth pre-share\ngroup 5\nlife 600\n\
                crypto isa key 0 s3cret addr 192.0.2.0 255.255.255.0 no-xauth\n\
                crypto isakmp keepalive 15\n\
                crypto ipsec transform-set T esp-sha256-hmac esp-des\n\
                crypto ipsec profile P\nset transform-set T\nset pfs\nset security-association lifetime kilobytes 10000\n\
                int tu 5\ntunnel source 192.0.2.1\ntunnel mode ipsec ipv4\ntunnel dest 192.0.2.9\ntunnel protection ipsec profile P\n\
                shutdown\nipv6 address 2001:db8:5::1/64\nipv6 mtu 1400\nip mtu 1300\n\
                ip route 10.0.0.0 255.0.0.0 Tunnel5\nipv6 route 2001:db8:99::/48 tunnel5\n\
                debug crypto isakmp\nexit\nend\n");
    let p = &c.policies[0];
    assert_eq!(
        (
            p.encryption.value,
            p.hash.value,
            p.group.value,
            p.lifetime_s.value
        ),
        (CipherAlg::TripleDes, HashAlg::Md5, DhGroup::Modp1536, 600)
    );
    assert_eq!((p.encryption.line, p.lifetime_s.line), (2, 6));
    assert_eq!(
        (c.keys[0].key.as_bytes(), c.keys[0].prefix_len),
        (&b"s3cret"[..], 24)
    );
    let k = c.keepalive.as_ref().unwrap();
    assert_eq!((k.interval_s, k.retry_s, k.periodic), (15, 2, false));
    assert_eq!(
        c.transform_sets[0].esp,
        Ok(EspTransform {
            encr: EspEncr::Des,
            auth: EspAuth::HmacSha256
        })
    );
    // As `show running-config` prints the set.
    assert_eq!(c.transform_sets[0].transforms, "esp-des esp-sha256-hmac");
    let pr = &c.profiles[0];
    let p2 = c.phase2(pr);
    assert_eq!(
        (
            pr.pfs.as_ref().unwrap().value,
            p2.lifetime_kb.value,
            p2.lifetime_s.value
        ),
        (DhGroup::Modp768, VolumeLifetime::Kilobytes(10_000), 3600)
    );
    let t = &c.tunnels[0];
    assert!(t.shutdown);
    assert_eq!(
        (
            t.ip_mtu.as_ref().unwrap().value,
            t.ipv6_mtu.as_ref().unwrap().value
        ),
        (1300, 1400)
    );
    assert_eq!(c.routes.len(), 2);
    assert_eq!(
        (
            c.routes[1].prefix,
            c.routes[1].prefix_len,
            c.routes[1].tunnel
        ),
        (ip("2001:db8:99::"), 48, 5)
    );
    assert_eq!(
        c.debug,
        DebugFlags {
            isakmp: true,
            ipsec: false
        }
    );
    let w = warnings(&c);
    assert!(has(&w, "t.conf:3: warning: policy 20: MD5"), "{w:?}");
    assert!(
        has(&w, "t.conf:9: warning: transform-set T: esp-des"),
        "{w:?}"
    );
    assert!(
        has(&w, "t.conf:12: warning: ipsec profile P: PFS group 1"),
        "{w:?}"
    );
    assert!(has(&w, "ip mtu 1300 and ipv6 mtu 1400 differ"), "{w:?}");
    // A shut tunnel is known to the engine but has no interface.
    let s = c.to_settings(eth0).unwrap();
    assert!(s.tunnels[0].shutdown);
    assert!(c.tunnel_specs(eth0).unwrap().is_empty());
}

#[test]
fn entering_a_mode_again_edits_it_as_ios_does() {
    let c = ok(&with_tunnel(
        "crypto isakmp policy 10\n hash sha256\ncrypto isakmp key old address ipv6 ::/0",
    ));
    assert_eq!(c.policies.len(), 1);
    assert_eq!(c.policies[0].hash.value, HashAlg::Sha256);
    assert_eq!(c.policies[0].line, 1);
    assert_eq!(c.keys.len(), 1);
    assert_eq!(c.keys[0].key.as_bytes(), b"cisco");
}

#[test]
fn errors_name_their_line() {
    let cases: &[(&str, &str)] = &[
        ("crypto isakmp policy 5\n lifetime 5\n authentication pre-share", "t.conf:2: phase 1 lifetime 5 s: must be at least 10 s"),
        ("crypto isakmp policy 5\n lifetime forever\n authentication pre-share", "t.conf:2: lifetime seconds: `forever` is not a valid number"),
        ("crypto isakmp policy 0", "t.conf:1: crypto isakmp policy: expected a priority"),
        ("crypto isakmp key k address 2001:db8::1", "t.conf:1: `2001:db8::1`: for an IPv6 peer write `address ipv6 2001:db8::1/128`"),
        ("crypto isakmp key k address ipv6 2001:db8::/129", "t.conf:1: `2001:db8::/129`: prefix length above 128"),
        ("crypto isakmp key k address 192.0.2.0 255.0.255.0", "t.conf:1: `255.0.255.0` is not a valid netmask"),
        ("crypto isakmp key 6 ABCDEF address 192.0.2.1", "t.conf:1: crypto isakmp key 6: an AES-encrypted key (type 6) can only be read with the router's master key"),
        ("crypto isakmp key 7 ZZ address 192.0.2.1", "t.conf:1: crypto isakmp key 7: not a type 7 string"),
        ("crypto isakmp keepalive 5", "t.conf:1: keepalive 5 s: must be 10..3600"),
        ("crypto isakmp nat keepalive 0", "t.conf:1: NAT keepalive 0 s: must be 5..3600"),
        ("crypto ipsec profile Q\n set transform-set TRA\n set security-association lifetime seconds 9", "t.conf:3: phase 2 lifetime 9 s: must be at least 10 s"),
        ("crypto ipsec security-association replay window-size 100", "t.conf:1: replay window-size 100: IOS offers 64, 128, 256, 512 or 1024"),
        ("crypto ipsec profile PRO\n set security-association idle-time 30", "t.conf:2: idle-time 30 s: must be 60..86400"),
        ("ip route 10.1.0.0 255.0.0.0 Tunnel23", "t.conf:1: inconsistent address and mask: 10.1.0.0/8 has host bits set"),
        ("ip route 10.0.0.0 255.0.0.0 Tunnel9", "t.conf:1: route via Tunnel9: no such interface"),
        ("interface Tunnel2147483648", "t.conf:1: interface Tunnel2147483648: IOS's tunnel numbers are 0..2147483647"),
        ("interface Tunnel8\n tunnel mode gre banana", "t.conf:2: tunnel mode `gre banana`: expected ipsec ipv4|ipv6 [v6-overlay|v4-overlay] or gre ip|ipv6"),
        ("interface Tunnel8\n tunnel source a/b/c/d", "t.conf:2: tunnel source: `a/b/c/d` is neither an address, an IOS interface nor a Linux interface name"),
        ("interface Tunnel8\n tunnel destination 2001:db8::zz", "t.conf:2: tunnel destination `2001:db8::zz` is not an IP address"),
        ("interface Tunnel8\n ip address 192.168.1.300 255.255.255.0", "t.conf:2: `192.168.1.300` is not an IPv4 address"),
        ("interface Tunnel8\n ipv6 address 2001:db8::1 link-local", "t.conf:2: 2001:db8::1 is not a link-local address"),
        ("interface Tunnel8\n ip mtu 40", "t.conf:2: ip mtu 40: must be 68..65535"),
        ("interface Tunnel8\n ip tcp adjust-mss 300", "t.conf:2: ip tcp adjust-mss 300: must be 500..1460"),
        ("interface Tunnel8\n ip address 192.168.8.1 255.255.255.0 secondary", "t.conf:2: Tunnel8: a secondary address needs a primary `ip address`"),
        ("interface Tunnel7\n tunnel protection ipsec profile PRO\n tunnel mode gre multipoint", "t.conf:3: Tunnel7: `tunnel mode gre multipoint` (DMVPN) is not supported"),
        ("crypto ipsec profile PRO\n set isakmp-profile NOPE", "t.conf:2: ipsec profile PRO: no crypto isakmp profile named NOPE"),
        ("crypto ipsec profile PRO\n set pfs group22", "t.conf:2: ipsec profile PRO: unsupported DH group `22`"),
        ("crypto ipsec profile PRO\n set ikev2-profile V2", "t.conf:2: ipsec profile PRO: IKEv2 is not supported"),
        ("crypto ipsec transform-set G esp-seal esp-sha-hmac\ncrypto ipsec profile P7\n set transform-set G\ninterface Tunnel7\n tunnel source eth0\n tunnel mode ipsec ipv6\n tunnel destination 2001:db8::7\n tunnel protection ipsec profile P7", "t.conf:1: transform-set G: unsupported ESP encryption `esp-seal`"),
    ];
    for (extra, expected) in cases {
        let e = errors(&with_tunnel(extra));
        assert!(
            has(&e, expected),
            "{extra:?}: expected {expected:?}, got {e:?}"
        );
    }
    // The last line of a mode wins: policy 10 ends up with IOS's rsa-sig.
    let e = errors(&(with_tunnel("") + "crypto isakmp policy 10\n authentication rsa-sig\n"));
    assert!(has(&e, "t.conf: no usable `crypto isakmp policy`"), "{e:?}");
}

/// A router's configuration keeps policies, transform sets and profiles for other
/// peers, in forms ikev1d may not support: a warning while no tunnel uses them.
#[test]
fn what_no_tunnel_uses_may_hold_anything_ios_accepts() {
    let cases: &[(&str, &str)] = &[
        ("crypto ipsec transform-set X esp-aes esp-foo-hmac", "t.conf:1: warning: transform-set X: unsupported ESP integrity `esp-foo-hmac`"),
        ("crypto ipsec transform-set X esp-seal esp-sha-hmac", "t.conf:1: warning: transform-set X: unsupported ESP encryption `esp-seal`"),
        ("crypto ipsec transform-set X ah-sha-hmac esp-aes", "t.conf:1: warning: transform-set X: unsupported ESP integrity `ah-sha-hmac`"),
        ("crypto isakmp policy 5\n encryption aes 512\n authentication pre-share", "t.conf:2: warning: policy 5 is left out of ikev1d's offer: AES key size `512`"),
        ("crypto isakmp policy 5\n group 22\n authentication pre-share", "t.conf:2: warning: policy 5 is left out of ikev1d's offer: unsupported DH group `22`"),
        ("crypto isakmp policy 5\n authentication rsa-sig", "t.conf:1: warning: policy 5 is left out of ikev1d's offer: it lacks `authentication pre-share`"),
        ("crypto isakmp policy 5", "t.conf:1: warning: policy 5 is left out of ikev1d's offer: it lacks `authentication pre-share` (IOS's default is rsa-sig"),
        ("crypto ipsec profile Q\n set transform-set NOPE", "t.conf:2: warning: ipsec profile Q: no transform-set named NOPE (nothing uses it)"),
        ("crypto ipsec profile Q", "t.conf:1: warning: ipsec profile Q has no `set transform-set` (nothing uses it)"),
        ("crypto ipsec profile Q\n set transform-set TRA\n set pfs group22", "t.conf:3: warning: ipsec profile Q: unsupported DH group `22`"),
        ("interface Tunnel8\n tunnel mode gre ip\n tunnel source Ethernet0/0", "t.conf:1: warning: Tunnel8 has no `tunnel protection ipsec profile`: not an IPsec tunnel, left to the router (dropped)"),
        ("crypto isakmp profile P\n ca trust-point TP\n match identity address 0.0.0.0", "t.conf:2: warning: isakmp profile P: `ca trust-point`: certificates are not supported"),
    ];
    for (extra, expected) in cases {
        let c = ok(&with_tunnel(extra));
        let w = warnings(&c);
        assert!(
            has(&w, expected),
            "{extra:?}: expected {expected:?}, got {w:?}"
        );
        assert_eq!(c.to_settings(eth0).unwrap().tunnels.len(), 1, "{extra:?}");
    }
}

#[test]
fn incomplete_tunnels_are_errors() {
    let base = "crypto isakmp policy 10\n authentication pre-share\ncrypto isakmp key cisco address ipv6 2001:db8::3/128\n\
                crypto ipsec transform-set TRA esp-aes esp-sha-hmac\ncrypto ipsec profile PRO\n set transform-set TRA\ninterface Tunnel23\n";
    let cases = [
        (" tunnel source eth0\n tunnel mode ipsec ipv6\n tunnel destination 2001:db8::3", "t.conf:7: Tunnel23 has no `tunnel protection ipsec profile`"),
        (" tunnel source eth0\n tunnel destination 2001:db8::3\n tunnel protection ipsec profile PRO", "t.conf:9: tunnel destination 2001:db8::3 is not an ipv4 address (no `tunnel mode` line: IOS's default is `tunnel mode gre ip`)"),
        (" tunnel mode ipsec ipv6\n tunnel destination 2001:db8::3\n tunnel protection ipsec profile PRO", "t.conf:7: Tunnel23 has no `tunnel source`"),
        (" tunnel source eth0\n tunnel mode ipsec ipv6\n tunnel protection ipsec profile PRO", "t.conf:7: Tunnel23 has no `tunnel destination`"),
        (" tunnel source eth0\n tunnel mode ipsec ipv6\n tunnel destination 2001:db8::4\n tunnel protection ipsec profile PRO", "t.conf:10: no pre-shared key (`crypto isakmp key` or keyring) matches tunnel destination 2001:db8::4"),
        (" tunnel source eth0\n tunnel mode ipsec ipv4\n tunnel destination 2001:db8::3\n tunnel protection ipsec profile PRO", "t.conf:10: tunnel destination 2001:db8::3 is not an ipv4 address (tunnel mode ipsec ipv4, line 9)"),
        (" tunnel source 192.0.2.1\n tunnel mode ipsec ipv6\n tunnel destination 2001:db8::3\n tunnel protection ipsec profile PRO", "t.conf:8: tunnel source 192.0.2.1 is not an ipv6 address"),
        (" tunnel source eth0\n tunnel mode ipsec ipv6\n tunnel destination 2001:db8::3\n tunnel protection ipsec profile NOPE", "t.conf:11: Tunnel23: no crypto ipsec profile named NOPE"),
    ];
    for (lines, expected) in cases {
        let e = errors(&format!("{base}{lines}\n"));
        assert!(
            has(&e, expected),
            "{lines:?}: expected {expected:?}, got {e:?}"
        );
    }
    let e = errors("interface Tunnel1\n tunnel protection ipsec profile P\n");
    assert!(has(&e, "t.conf: no `crypto isakmp policy`"), "{e:?}");
}

#[test]
fn short_lifetimes_are_accepted_below_ios_minimums_with_a_warning() {
    let c = ok(&with_tunnel(
        "crypto isakmp policy 10\n lifetime 30\ncrypto ipsec profile PRO\n set security-association lifetime seconds 60",
    ));
    let w = warnings(&c);
    assert!(
        has(
            &w,
            "t.conf:2: warning: phase 1 lifetime 30 s is below IOS's minimum of 60 s"
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            "t.conf:4: warning: phase 2 lifetime 60 s is below IOS's minimum of 120 s"
        ),
        "{w:?}"
    );
    assert_eq!(c.policies[0].lifetime_s.value, 30);
}

#[test]
fn unsupported_lines_warn_and_change_nothing() {
    let c = ok(&with_tunnel(
        "crypto map CM 10 ipsec-isakmp\n set peer 192.0.2.1\n set transform-set NOPE\ncrypto isakmp policy 10\n authentication pre-share\n fragmentation\ncrypto gdoi group G\n",
    ));
    let w = warnings(&c);
    assert!(has(&w, "t.conf:1: warning: unsupported command, ignored with its sub-commands: `crypto map CM 10 ipsec-isakmp` (crypto maps (policy-based IPsec) are not supported: use a VTI)"), "{w:?}");
    // Said once, at the block's line: its sub-commands go with it.
    assert!(!has(&w, "t.conf:2:") && !has(&w, "t.conf:3:"), "{w:?}");
    assert!(
        has(
            &w,
            "t.conf:6: warning: unsupported in `crypto isakmp policy 10`, ignored: `fragmentation`"
        ),
        "{w:?}"
    );
    assert!(has(&w, "t.conf:7: warning: unsupported command"), "{w:?}");
    let plain = ok(&with_tunnel(""));
    assert_eq!(
        format!("{:?}", c.profiles).replace(|ch: char| ch.is_ascii_digit(), ""),
        format!("{:?}", plain.profiles).replace(|ch: char| ch.is_ascii_digit(), "")
    );

    let c = ok(&with_tunnel(
        "interface Tunnel23\n ipv6 enable\n tunnel protection ipsec profile PRO shared\n tunnel bandwidth transmit 1000",
    ));
    let w = warnings(&c);
    assert!(c.tunnels[0].ipv6_enable);
    assert!(
        has(
            &w,
            "t.conf:4: warning: unsupported in `interface Tunnel23`, ignored: `tunnel bandwidth transmit 1000`"
        ),
        "{w:?}"
    );
    assert!(!has(&w, "t.conf:3:"), "`shared` is accepted: {w:?}");
}

#[test]
fn the_key_never_shows_in_debug_output_but_convert_writes_it() {
    let c = ok(&with_tunnel(
        "crypto isakmp key Zq8-secret address ipv6 2001:db8::3/128",
    ));
    assert!(!format!("{c:?}").contains("Zq8-secret"));
    assert!(!format!("{:?}", c.to_settings(eth0).unwrap()).contains("Zq8-secret"));
    assert!(c.to_toml().contains("key = \"Zq8-secret\""));
}

#[test]
fn toml_round_trip_gives_the_same_model() {
    for text in [R2, R3, IPV4, STRAY_SPACE] {
        let c = ok(text);
        assert_eq!(content(&round_trip(&c)), content(&c), "{}", c.to_toml());
    }
    let kitchen = ok(&with_tunnel(
        "debug crypto ipsec\ncrypto isakmp nat keepalive 30\ncrypto isakmp keepalive 20 5 periodic\n\
         crypto ipsec transform-set T2 esp-3des esp-md5-hmac\ncrypto ipsec profile PRO\n set transform-set TRA T2\n set pfs group16\n\
         set security-association lifetime kilobytes 99999\n\
         interface Tunnel23\n description \"quoted\" \\ text\n ipv6 address 2001:db8:1::1/64\n ipv6 address 2001:db8:2::1/64\n ip mtu 1400\n shutdown\n\
         ipv6 route ::/0 Tunnel23",
    ));
    assert_eq!(
        content(&round_trip(&kitchen)),
        content(&kitchen),
        "{}",
        kitchen.to_toml()
    );
    assert_eq!(
        kitchen.tunnels[0].description.as_deref(),
        Some("\"quoted\" \\ text")
    );
}

#[test]
fn the_toml_example_is_r2() {
    let t = Config::parse(R2_TOML, "r2.toml", Dialect::Toml).unwrap();
    assert_eq!(content(&t), content(&ok(R2)));
}

#[test]
fn toml_errors_name_their_line() {
    let toml = |text: &str| match Config::parse(text, "t.toml", Dialect::Toml) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
    };
    let e = toml("[[policies]]\npriority = 1\nencryption = \"rot13\"\n");
    assert!(has(&e, "t.toml:3: unsupported encryption `rot13`"), "{e:?}");
    let e = toml("[[policies]]\npriority = 1\nhsah = \"sha\"\n");
    assert!(has(&e, "t.toml:3: unknown field `hsah`"), "{e:?}");
    let e = toml("[[keys]]\nkey = \"k\"\naddress = \"::/0\"\n\n[[tunnels]]\nname = \"Tunnel2\"\nsource = \"eth0\"\nmode = \"ipv6\"\ndestination = \"::1\"\nprofile = \"missing\"\n");
    assert!(
        has(
            &e,
            "t.toml:10: Tunnel2: no crypto ipsec profile named missing"
        ),
        "{e:?}"
    );
    let e = toml("nat_keepalive_s = [\n");
    assert!(e.len() == 1 && e[0].starts_with("t.toml:1: "), "{e:?}");
}

#[test]
fn toml_defaults_match_ios_defaults_and_weak_choices_warn() {
    let c = Config::parse(
        include_str!("../../../tests/fixtures/config/weak.toml"),
        "weak.toml",
        Dialect::Toml,
    )
    .unwrap();
    let p = &c.policies[0];
    assert_eq!((p.lifetime_s.value, p.pre_share), (86_400, true));
    assert_eq!(
        c.phase2(&c.profiles[0]).lifetime_kb.value,
        VolumeLifetime::Kilobytes(4_608_000)
    );
    let w = warnings(&c);
    assert!(has(&w, "weak.toml:5: warning: policy 10: MD5"), "{w:?}");
    assert!(
        has(&w, "weak.toml:6: warning: policy 10: DH group 2"),
        "{w:?}"
    );
    assert!(
        has(&w, "weak.toml:12: warning: transform-set TS: esp-md5-hmac"),
        "{w:?}"
    );
}

/// A small deterministic generator: garbage must be rejected or accepted, never panic.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn exercise(text: &str, dialect: Dialect) {
    if let Ok(c) = Config::parse(text, "fuzz", dialect) {
        let _ = c.to_settings(eth0);
        let _ = c.tunnel_specs(eth0);
        let _ = Config::parse(&c.to_toml(), "fuzz.toml", Dialect::Toml);
    }
}

/// `n` mutations of `seed` (words replaced, dropped, inserted; lines swapped), parsed.
fn mutate_and_parse(seed: &str, rng: &mut Lcg, n: usize) {
    let words: Vec<&str> = seed.split_whitespace().collect();
    let odd = [
        "",
        "0",
        "-1",
        "4294967296",
        "::",
        "/",
        "/129",
        "Tunnel",
        "tu",
        "255.255.255.255",
        "\u{0}",
        "é",
        "address",
        "ipv6",
        "set",
        " ",
        "\t",
        "^C",
        "#",
        "<x>",
        "range",
        "type",
        "vrf",
        "key",
        "7",
        "6",
        "0.0.0.0",
        "exit",
        "end",
        "no",
        "banner",
        "-",
        "2147483648",
        "Tunnel0",
        "v6-overlay",
        "gre",
        "disable",
    ];
    for _ in 0..n {
        let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
        for _ in 0..1 + rng.next(4) {
            let i = rng.next(lines.len());
            let mut toks: Vec<String> = lines[i].split(' ').map(str::to_string).collect();
            let j = rng.next(toks.len());
            match rng.next(5) {
                0 => toks[j] = odd[rng.next(odd.len())].to_string(),
                1 => toks[j] = words[rng.next(words.len())].to_string(),
                2 => toks.truncate(j),
                3 => toks.insert(j, odd[rng.next(odd.len())].to_string()),
                _ => {
                    let k = rng.next(lines.len());
                    lines.swap(i, k);
                }
            }
            if i < lines.len() {
                lines[i] = toks.join(" ");
            }
        }
        exercise(&lines.join("\n"), Dialect::Ios);
    }
}

#[test]
fn garbage_never_panics() {
    let seed = with_tunnel(IPV4);
    let mut rng = Lcg(1);
    mutate_and_parse(&seed, &mut rng, 3000);
    // Every fixture, a few hundred times each.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ios");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            mutate_and_parse(&std::fs::read_to_string(path).unwrap(), &mut rng, 50);
        }
    }
    let toml = ok(&seed).to_toml();
    for _ in 0..2000 {
        let mut bytes = toml.clone().into_bytes();
        for _ in 0..1 + rng.next(3) {
            let i = rng.next(bytes.len());
            bytes[i] = b"\"[]=#\n0-:x/."[rng.next(12)];
        }
        exercise(&String::from_utf8_lossy(&bytes), Dialect::Toml);
    }
    for text in [
        "",
        "\n\n",
        "!",
        "interface",
        "crypto",
        "crypto isakmp",
        "crypto isakmp key",
        "crypto ipsec profile",
        " set pfs group",
        "ip route",
        "ipv6 route ::/0",
        "\u{feff}crypto isakmp policy 1",
    ] {
        exercise(text, Dialect::Ios);
        exercise(text, Dialect::Toml);
    }
}

/// Cisco's "next generation encryption" as an upgraded IOS-XE router has it: ECP and
/// group 24 in the policies and PFS, GCM and SHA-2 transform sets; `check` accepts it
/// without a weak-algorithm warning and `convert` keeps every algorithm.
#[test]
fn next_generation_encryption_reads_and_round_trips() {
    let c = ok("crypto isakmp policy 5\n encryption aes 256\n hash sha384\n group 20\n authentication pre-share\n\
                crypto isakmp policy 10\n encr aes\n hash sha256\n group 24\n authentication pre-share\n\
                crypto isakmp key cisco address ipv6 ::/0\n\
                crypto ipsec transform-set GCM esp-gcm 256\n\
                crypto ipsec transform-set GMAC esp-gmac\n\
                crypto ipsec transform-set SHA2 esp-aes 256 esp-sha512-hmac\n\
                crypto ipsec profile PRO\n set transform-set GCM GMAC SHA2\n set pfs group21\n\
                interface Tunnel23\n tunnel source eth0\n tunnel mode ipsec ipv6\n\
                tunnel destination 2001:db8::3\n tunnel protection ipsec profile PRO\n");
    assert!(c.warnings.is_empty(), "{:?}", warnings(&c));
    let groups: Vec<DhGroup> = c.policies.iter().map(|p| p.group.value).collect();
    assert_eq!(groups, [DhGroup::Ecp384, DhGroup::Modp2048s256]);
    let sets: Vec<(&str, Result<EspTransform, String>)> = c
        .transform_sets
        .iter()
        .map(|t| (t.transforms.as_str(), t.esp.clone()))
        .collect();
    let esp = |e, a| Ok(EspTransform::new(e, a).unwrap());
    assert_eq!(
        sets,
        [
            ("esp-gcm 256", esp(EspEncr::AesGcm(256), EspAuth::None)),
            ("esp-gmac", esp(EspEncr::AesGmac(128), EspAuth::None)),
            (
                "esp-aes 256 esp-sha512-hmac",
                esp(EspEncr::Aes(256), EspAuth::HmacSha512)
            ),
        ]
    );
    assert_eq!(c.profiles[0].pfs.as_ref().unwrap().value, DhGroup::Ecp521);
    let toml = c.to_toml();
    assert!(toml.contains("transforms = \"esp-gcm 256\""), "{toml}");
    assert_eq!(content(&round_trip(&c)), content(&c), "{toml}");
}

#[test]
fn esp_null_is_accepted_with_an_hmac_and_a_warning() {
    let c = ok(&with_tunnel(
        "crypto ipsec transform-set N esp-null esp-sha256-hmac",
    ));
    assert_eq!(
        c.transform_sets[0].esp,
        Ok(EspTransform::new(EspEncr::Null, EspAuth::HmacSha256).unwrap())
    );
    let w = warnings(&c);
    assert!(
        has(
            &w,
            "t.conf:1: warning: transform-set N: esp-null sends the traffic unencrypted"
        ),
        "{w:?}"
    );
}

/// IOS's combination rules, in both dialects: a GCM set with an HMAC, or a CBC set
/// without one, is refused on its line once a tunnel uses it.
#[test]
fn transform_sets_follow_ios_combination_rules() {
    for (set, why) in [
        (
            "esp-gcm 256 esp-sha-hmac",
            "take no ESP integrity transform",
        ),
        ("esp-aes", "ESP without integrity is not supported"),
        ("esp-null", "ESP without integrity is not supported"),
    ] {
        let text = R2.replace("esp-aes esp-sha-hmac", set);
        let e = errors(&text);
        assert!(
            e.iter()
                .any(|l| l.starts_with("t.conf:4: transform-set TRA: ") && l.contains(why)),
            "{e:?}"
        );
        let toml = ok(R2)
            .to_toml()
            .replace("\"esp-aes esp-sha-hmac\"", &format!("\"{set}\""));
        let e = Config::parse(&toml, "t.toml", Dialect::Toml).unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
}

/// The file's text, what the parser makes of it and the engine's settings hold the
/// keys: none of them leaves a copy behind in memory given back (a crash dump or a
/// later allocation would show it), whether the file is IOS or TOML, the key plain,
/// in a keyring, or type 7.
#[test]
fn no_copy_of_a_key_is_left_in_freed_memory() {
    let dir = std::env::temp_dir().join(format!("ikev1d-wipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = "k3y-canary-in-the-config-0123";
    let ios = R2.replace("key cisco address", &format!("key {key} address"))
        + &format!("crypto keyring KR\n pre-shared-key address 192.0.2.9 key {key}\n");
    let toml = R2_TOML.replace("\"cisco\"", &format!("\"{key}\""));
    assert!(toml.contains(key));
    for (name, mut text) in [("r2.conf", ios), ("r2.toml", toml)] {
        let path = dir.join(name);
        std::fs::write(&path, &text).unwrap();
        // The test's own copy, wiped: memory it leaves would be recycled under the check.
        zeroize::Zeroize::zeroize(&mut text);
        let left = crate::testutil::freed::copies_left(&[key.as_bytes()], || {
            let config = Config::load(&path).unwrap();
            let settings = config.to_settings(eth0).unwrap();
            assert_eq!(settings.keys[0].key.as_bytes(), key.as_bytes());
        });
        assert_eq!(left, 0, "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
