//! IOS's parser, not a stricter one: pasted configurations, abbreviations, ranges,
//! banners, what is skipped, and no secret in any diagnostic.

use super::*;

/// Every diagnostic of parsing `text`, accepted or not.
fn diagnostics(text: &str) -> Vec<String> {
    match ios(text) {
        Ok(c) => warnings(&c),
        Err(e) => e
            .warnings
            .iter()
            .map(|w| w.to_string())
            .chain(e.errors.iter().map(|e| e.to_string()))
            .collect(),
    }
}

/// As IOS accepts a paste: sub-commands at column 0, one IOS knows in the interface
/// but ikev1d does not (`load-interval`, `bfd`) between the tunnel lines.
#[test]
fn a_column_0_paste_keeps_the_interface_together() {
    let c = ok("crypto isakmp policy 10\nauthentication pre-share\nencr aes 256\ngroup 14\n\
                crypto isakmp key cisco address 198.51.100.3\n\
                crypto ipsec transform-set TS esp-aes 256 esp-sha256-hmac\n\
                crypto ipsec profile VTI\nset transform-set TS\n\
                interface Tunnel1\nip address 192.168.23.2 255.255.255.252\nload-interval 30\n\
                bfd interval 100 min_rx 100 multiplier 3\nip ospf cost 10\nno ip redirects\n\
                tunnel source 198.51.100.2\ntunnel mode ipsec ipv4\ntunnel destination 198.51.100.3\n\
                tunnel protection ipsec profile VTI\n\
                ip route 192.0.2.0 255.255.255.0 Tunnel1\n");
    let t = &c.tunnels[0];
    assert_eq!(t.profile.as_ref().unwrap().value, "VTI");
    assert_eq!(t.destination.as_ref().unwrap().value, ip("198.51.100.3"));
    assert_eq!(
        c.routes.len(),
        1,
        "`ip route` is global, not `ip route-cache`"
    );
    let w = warnings(&c);
    // `load-interval` and `no ip redirects` change nothing on Linux: silent.
    assert!(!has(&w, "load-interval") && !has(&w, "redirects"), "{w:?}");
    assert!(
        has(&w, "t.conf:12: warning: unsupported in `interface Tunnel1`, ignored: `bfd interval 100 min_rx 100 multiplier 3` (routing protocols are configured in your routing daemon"),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            "t.conf:13: warning: unsupported in `interface Tunnel1`, ignored: `ip ospf cost 10`"
        ),
        "{w:?}"
    );
}

#[test]
fn interface_names_as_ios_reads_them() {
    for opening in [
        "interface Tunnel 1",
        "interface Tunne 1",
        "int tun1",
        "INT TU 1",
        "interface tunnel1",
    ] {
        let c = ok(&with_tunnel(&format!(
            "{opening}\n tunnel source eth0\n tunnel mode ipsec ipv6\n tunnel destination 2001:db8::7\n tunnel protection ipsec profile PRO"
        )));
        assert_eq!(c.tunnels[0].name(), "Tunnel1", "{opening}");
        assert!(c.tunnels[0].protected(), "{opening}");
    }
    let c = ok(&with_tunnel("int gi 1\n ip address 198.51.100.2 255.255.255.0\nint Lo0\n ip address 192.0.2.1 255.255.255.255"));
    assert_eq!(c.tunnels.len(), 1);
    assert_eq!(
        c.skipped.kinds["interface"].names,
        ["GigabitEthernet1", "Loopback0"]
    );
}

#[test]
fn interface_range_applies_each_sub_command_to_each_tunnel() {
    let c = ok(&with_tunnel(
        "interface range tun 0-1 , Tunnel5\n tunnel source eth0\n tunnel mode ipsec ipv6\n tunnel protection ipsec profile PRO\n\
         interface Tunnel0\n tunnel destination 2001:db8::10\ninterface Tunnel1\n tunnel destination 2001:db8::11\n\
         interface Tunnel5\n tunnel destination 2001:db8::15\n\
         interface range gi 1 - 4\n ip address 198.51.100.9 255.255.255.0",
    ));
    let numbers: Vec<u32> = c.tunnels.iter().map(|t| t.number).collect();
    assert_eq!(numbers, [0, 1, 5, 23]);
    for t in &c.tunnels[..3] {
        assert_eq!(t.line, 1, "opened by the range");
        assert_eq!(t.profile.as_ref().unwrap().line, 4);
    }
    assert_eq!(c.skipped.kinds["interface"].names, ["range gi 1 - 4"]);
    let e = errors(&with_tunnel("interface range tun 1-100000"));
    assert!(has(&e, "t.conf:1: interface range `tun 1-100000`: expected FIRST-LAST, at most 1024 interfaces"), "{e:?}");
}

#[test]
fn configure_terminal_end_exit_write_and_do_are_accepted() {
    let c = ok(&format!(
        "conf t\n{}do show run\nend\nwrite memory\nwr\nexit\n",
        with_tunnel(
            "configure terminal\ncrypto isakmp policy 10\n do show crypto isakmp sa\n exit\n"
        )
    ));
    assert_eq!(c.tunnels.len(), 1);
    assert!(
        warnings(&c).iter().all(|w| !w.contains("unsupported")),
        "{:?}",
        warnings(&c)
    );
    assert_eq!(c.skipped.lines, 0);
}

#[test]
fn banners_end_at_their_delimiter() {
    let c = ok(&with_tunnel(
        "banner motd ^C\ncrypto isakmp key B4nner address 0.0.0.0\ninterface Tunnel9\n tunnel protection ipsec profile PRO\n^C\n\
         banner login #One line, delimiter on it#\nbanner exec $\n  Hello $\n",
    ));
    assert_eq!(c.keys.len(), 1, "the banner's text is not configuration");
    assert_eq!(c.tunnels.len(), 1);
    let b = &c.skipped.kinds["banner"];
    assert_eq!(b.count, 3);
    assert_eq!(c.skipped.lines, 8);
}

#[test]
fn a_whole_show_running_config_is_summed_up_by_kind() {
    let c = ok(&format!(
        "Building configuration...\n\nCurrent configuration : 1234 bytes\n!\nversion 17.3\nservice timestamps debug datetime msec\n\
         hostname R2\n!\nboot-start-marker\nboot-end-marker\n!\nvrf definition MGMT\n address-family ipv4\n exit-address-family\n!\n\
         aaa new-model\naaa authentication login default local\nusername admin privilege 15 secret 9 $9$abc\n\
         enable secret 9 $9$def\nip domain name example.com\nno ip domain lookup\n\
         crypto pki trustpoint TP-self-signed-1\n enrollment selfsigned\n revocation-check none\n\
         crypto pki certificate chain TP-self-signed-1\n certificate self-signed 01\n  3082024A 30820133 A0030201\n  \tquit\n\
         {}\
         router ospf 1\n router-id 192.0.2.1\n network 192.168.23.0 0.0.0.255 area 0\n\
         ip forward-protocol nd\nip ssh version 2\nip route 0.0.0.0 0.0.0.0 198.51.100.1\n\
         snmp-server community S3cretCommunity RO\nline con 0\n stopbits 1\nline vty 0 4\n transport input ssh\n!\nend\n",
        with_tunnel("")
    ));
    assert_eq!(c.hostname.as_ref().unwrap().value, "R2");
    assert_eq!(c.domain_name.as_ref().unwrap().value, "example.com");
    assert_eq!(c.vrfs[0].name, "MGMT");
    assert_eq!(
        c.skipped.summary().unwrap(),
        "skipped 27 lines outside the crypto and tunnel configuration: aaa x2, boot-end-marker x1, \
         boot-start-marker x1, crypto pki x2, enable x1, ip forward-protocol x1, ip route x1, ip ssh x1, \
         line x2, no ip x1, router x1, service x1, snmp-server x1, username x1, version x1"
    );
    let w = warnings(&c);
    assert!(!has(&w, "unsupported"), "{w:?}");
}

#[test]
fn no_diagnostic_shows_a_secret() {
    let secrets = [
        "Hst-S3cret",
        "Gr0up-Key",
        "M4p-Key",
        "Rng-Key6",
        "Pa55word",
        "S3ssion",
        "Osp7-Key",
        "Nhrp-K3y",
        "Bad6-Key",
    ];
    let text = with_tunnel(
        "crypto isakmp key Hst-S3cret hostname r9.example.com\n\
         crypto isakmp client configuration group G\n key Gr0up-Key\n\
         crypto map CM 10 ipsec-manual\n set session-key inbound esp 256 cipher S3ssion\n\
         crypto isakmp key 7 M4p-Key address 192.0.2.99\n\
         crypto keyring K\n pre-shared-key hostname r1 key Rng-Key6\n pre-shared-key address 192.0.2.1 key extra Pa55word\n\
         interface Tunnel23\n ip ospf message-digest-key 1 md5 Osp7-Key\n ip nhrp authentication Nhrp-K3y\n\
         crypto isakmp key 6 Bad6-Key address 192.0.2.98\n\
         username u password Pa55word\n",
    );
    let all = diagnostics(&text).join("\n");
    assert!(!all.is_empty());
    for s in secrets {
        assert!(!all.contains(s), "{s} shown in:\n{all}");
    }
    // In TOML: an `unsupported` line, a key TOML cannot read (serde quotes values).
    let toml = "[[policies]]\npriority = 1\nunsupported = [\"key Pa55word\"]\n";
    let e = Config::parse(toml, "t.toml", Dialect::Toml).unwrap_err();
    assert!(!e.to_string().contains("Pa55word"), "{e}");
    let toml = "[[keys]]\naddress = \"0.0.0.0/0\"\nkey = 31415926\n";
    let e = Config::parse(toml, "t.toml", Dialect::Toml).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.toml:3: `key` must be a TOML string (the pre-shared key, in quotes)"
    );
}

#[test]
fn placeholders_of_the_template_are_refused() {
    let e = errors(&with_tunnel(
        "crypto isakmp key <pre-shared-key> address <peer-address>",
    ));
    assert_eq!(
        e,
        ["t.conf:1: `crypto isakmp key <removed>` still holds a placeholder of the template: replace each <...> with your value"]
    );
    let template = include_str!("../../../systemd/ikev1d.conf");
    let e = errors(template);
    assert_eq!(e.len(), 4, "{e:?}");
    let edited = template
        .replace("<pre-shared-key>", "Xq7")
        .replace("<peer-address>", "198.51.100.3")
        .replace(
            "<tunnel-address> <tunnel-netmask>",
            "192.168.23.2 255.255.255.252",
        )
        .replace("<local-interface>", "eth0");
    assert!(
        warnings(&ok(&edited)).is_empty(),
        "{:?}",
        warnings(&ok(&edited))
    );
}
