//! The global configuration mode: the commands ikev1d reads, those it accepts without
//! effect, and IOS's other global commands, which it skips with their blocks (knowing
//! them is what lets a line pasted at column 0 leave the mode before it).

use super::names;
use super::table::{cmd, cmd_n, Command};
use super::values::{linux_ifname, parse_ipv4, parse_mask, parse_prefix6};
use super::{crypto, interface, no_value, one, peers, vrf, Act, Bad, Cx, Mode, Parser, Res};
use crate::config::model::*;
use crate::config::words::pick;
use std::net::IpAddr;

pub(super) type Global = fn(&mut Parser, &Cx) -> Res;

const IKEV2: &str = "IKEv2 is not supported: ikev1d speaks IKEv1";
const CRYPTO_MAP: &str = "crypto maps (policy-based IPsec) are not supported: use a VTI";
const EZVPN: &str = "EzVPN, XAUTH and mode-config are not supported";

pub(super) const TABLE: &[Command<Act<Global>>] = &[
    cmd("crypto isakmp policy", Act::Do(crypto::policy)),
    cmd("crypto isakmp key", Act::Do(crypto::isakmp_key)),
    cmd("crypto isakmp keepalive", Act::Do(crypto::keepalive)),
    cmd(
        "crypto isakmp nat keepalive",
        Act::Do(crypto::nat_keepalive),
    ),
    cmd("crypto isakmp identity", Act::Do(crypto::identity)),
    cmd("crypto isakmp profile", Act::Do(peers::isakmp_profile)),
    cmd("crypto isakmp fragmentation", Act::Quiet),
    cmd("crypto isakmp aggressive-mode disable", Act::Quiet),
    cmd("crypto isakmp invalid-spi-recovery", Act::Quiet),
    cmd("crypto isakmp enable", Act::Quiet),
    cmd("crypto isakmp client", Act::Warn(EZVPN)),
    cmd("crypto isakmp xauth", Act::Warn(EZVPN)),
    cmd("crypto isakmp", Act::Warn("")),
    cmd("crypto keyring", Act::Do(peers::keyring)),
    cmd("crypto ipsec transform-set", Act::Do(crypto::transform_set)),
    cmd("crypto ipsec profile", Act::Do(crypto::ipsec_profile)),
    cmd(
        "crypto ipsec security-association lifetime",
        Act::Do(crypto::sa_lifetime_global),
    ),
    cmd(
        "crypto ipsec security-association replay",
        Act::Do(crypto::sa_replay_global),
    ),
    cmd(
        "crypto ipsec security-association idle-time",
        Act::Do(crypto::sa_idle_time_global),
    ),
    cmd("crypto ipsec df-bit", Act::Do(crypto::df_bit_global)),
    cmd(
        "crypto ipsec nat-transparency udp-encapsulation",
        Act::Quiet,
    ),
    cmd("crypto ipsec fragmentation before-encryption", Act::Quiet),
    cmd("crypto ipsec client", Act::Warn(EZVPN)),
    cmd("crypto ipsec", Act::Warn("")),
    cmd(
        "crypto call admission limit ike in-negotiation-sa",
        Act::Do(crypto::admission_in_negotiation),
    ),
    cmd(
        "crypto call admission limit ike sa",
        Act::Do(crypto::admission_sa),
    ),
    cmd("crypto logging", Act::Quiet),
    cmd("crypto engine", Act::Quiet),
    cmd("crypto pki", Act::Skip),
    cmd("crypto ca", Act::Skip),
    cmd("crypto key", Act::Skip),
    cmd("crypto map", Act::Warn(CRYPTO_MAP)),
    cmd("crypto dynamic-map", Act::Warn(CRYPTO_MAP)),
    cmd("crypto ikev2", Act::Warn(IKEV2)),
    cmd("crypto", Act::Warn("")),
    cmd("no crypto", Act::Warn("")),
    cmd("interface", Act::Do(interface::open)),
    cmd("ip route", Act::Do(route_v4)),
    cmd("ipv6 route", Act::Do(route_v6)),
    cmd_n("ip vrf", 1, Act::Do(vrf::ip_vrf)),
    cmd("vrf definition", Act::Do(vrf::definition)),
    cmd("hostname", Act::Do(hostname)),
    cmd("ip domain name", Act::Do(domain_name)),
    cmd("ip domain-name", Act::Do(domain_name)),
    cmd("debug crypto isakmp", Act::Do(debug_isakmp)),
    cmd("debug crypto ipsec", Act::Do(debug_ipsec)),
    cmd("ikev1d map-interface", Act::Do(map_interface)),
    cmd("banner", Act::Do(banner)),
    // Pasting and `show running-config` framing.
    cmd("configure terminal", Act::Quiet),
    // `conf t`: `conf` is ambiguous among global commands (config-register), not in
    // the exec mode where it is typed.
    cmd("conf", Act::Quiet),
    cmd("end", Act::Quiet),
    cmd("exit", Act::Quiet),
    cmd("write", Act::Quiet),
    cmd("do", Act::Quiet),
    cmd("building", Act::Quiet),
    cmd("current configuration", Act::Quiet),
    // IOS's other global commands: skipped, summed up by kind.
    cmd("aaa", Act::Skip),
    cmd("access-list", Act::Skip),
    cmd("alias", Act::Skip),
    cmd("app-hosting", Act::Skip),
    cmd("archive", Act::Skip),
    cmd("boot", Act::Skip),
    cmd("boot-start-marker", Act::Skip),
    cmd("boot-end-marker", Act::Skip),
    cmd("bridge", Act::Skip),
    cmd("call-home", Act::Skip),
    cmd("cdp", Act::Skip),
    cmd("chat-script", Act::Skip),
    cmd("class-map", Act::Skip),
    cmd("clock", Act::Skip),
    cmd("config-register", Act::Skip),
    cmd("control-plane", Act::Skip),
    cmd("debug", Act::Skip),
    cmd("default", Act::Skip),
    cmd("device-tracking", Act::Skip),
    cmd("diagnostic", Act::Skip),
    cmd("dial-peer", Act::Skip),
    cmd("dialer-list", Act::Skip),
    cmd("dot1x", Act::Skip),
    cmd("enable", Act::Skip),
    cmd("errdisable", Act::Skip),
    cmd("ethernet", Act::Skip),
    cmd("event", Act::Skip),
    cmd("file", Act::Skip),
    cmd("flow", Act::Skip),
    cmd("hw-module", Act::Skip),
    cmd("iox", Act::Skip),
    cmd("ip", Act::Skip),
    cmd("ipv6", Act::Skip),
    cmd("key", Act::Skip),
    cmd("kron", Act::Skip),
    cmd("license", Act::Skip),
    cmd("line", Act::Skip),
    cmd("lldp", Act::Skip),
    cmd("logging", Act::Skip),
    cmd("login", Act::Skip),
    cmd("mac", Act::Skip),
    cmd("management", Act::Skip),
    cmd("memory", Act::Skip),
    cmd("monitor", Act::Skip),
    cmd("mpls", Act::Skip),
    cmd("multilink", Act::Skip),
    cmd("netconf", Act::Skip),
    cmd("netconf-yang", Act::Skip),
    cmd("no", Act::Skip),
    cmd("ntp", Act::Skip),
    cmd("object-group", Act::Skip),
    cmd("parameter-map", Act::Skip),
    cmd("platform", Act::Skip),
    cmd("policy-map", Act::Skip),
    cmd("privilege", Act::Skip),
    cmd("radius", Act::Skip),
    cmd("radius-server", Act::Skip),
    cmd("redundancy", Act::Skip),
    cmd("restconf", Act::Skip),
    cmd("route-map", Act::Skip),
    cmd("router", Act::Skip),
    cmd("service", Act::Skip),
    cmd("snmp", Act::Skip),
    cmd("snmp-server", Act::Skip),
    cmd("sip-ua", Act::Skip),
    cmd("spanning-tree", Act::Skip),
    cmd("subscriber", Act::Skip),
    cmd("system", Act::Skip),
    cmd("tacacs", Act::Skip),
    cmd("tacacs-server", Act::Skip),
    cmd("telemetry", Act::Skip),
    cmd("telephony-service", Act::Skip),
    cmd("template", Act::Skip),
    cmd("track", Act::Skip),
    cmd("transceiver", Act::Skip),
    cmd("username", Act::Skip),
    cmd("version", Act::Skip),
    cmd("virtual-service", Act::Skip),
    cmd("vlan", Act::Skip),
    cmd("voice", Act::Skip),
    cmd("vpdn", Act::Skip),
    cmd("vtp", Act::Skip),
    cmd("zone", Act::Skip),
    cmd("zone-pair", Act::Skip),
];

/// The kind a skipped command is counted under: its keyword, and for `ip`, `ipv6` and
/// `no` the next word too (`ip ssh`, `no service`).
pub(super) fn skip_kind(path: &str, words: &[&str]) -> String {
    match (path, words.get(1)) {
        ("ip" | "ipv6" | "no", Some(next)) => format!("{path} {}", next.to_ascii_lowercase()),
        _ => path.to_string(),
    }
}

fn route_v4(p: &mut Parser, cx: &Cx) -> Res {
    route(p, cx, false)
}

fn route_v6(p: &mut Parser, cx: &Cx) -> Res {
    route(p, cx, true)
}

/// `ip route [vrf V] P M TunnelN ...` / `ipv6 route [vrf V] P/L TunnelN ...`. Routes
/// through a next hop or another interface are the router's, not the tunnel's: skipped.
fn route(p: &mut Parser, cx: &Cx, v6: bool) -> Res {
    let mut w = cx.args;
    let mut vrf = None;
    if let [v, name, rest @ ..] = w {
        if pick(v, &["vrf"]).is_some() {
            vrf = Some(name.to_string());
            w = rest;
        }
    }
    let (prefix, prefix_len, rest) = match (v6, w) {
        (false, [a, m, rest @ ..]) => (IpAddr::V4(parse_ipv4(a)?), parse_mask(m)?, rest),
        (true, [a, rest @ ..]) => {
            let (a, len) = parse_prefix6(a)?;
            (IpAddr::V6(a), len, rest)
        }
        _ => return Err(Bad::Unsupported),
    };
    let (tunnel, extra) = match rest {
        [t, extra @ ..] if names::tunnel_number(&[t]).is_some() => {
            (names::tunnel_number(&[t]), extra)
        }
        [t, n, extra @ ..] if names::tunnel_number(&[t, n]).is_some() => {
            (names::tunnel_number(&[t, n]), extra)
        }
        _ => (None, rest),
    };
    let Some(tunnel) = tunnel else {
        let kind = if v6 { "ipv6 route" } else { "ip route" };
        p.skip(kind.into(), None, false);
        return Ok(());
    };
    if has_host_bits(prefix, prefix_len) {
        return Err(Bad::Error(format!(
            "inconsistent address and mask: {prefix}/{prefix_len} has host bits set"
        )));
    }
    if !extra.is_empty() {
        p.diag.warn(
            cx.line,
            format!(
                "route via {}: only the prefix and the interface are used; `{}` ignored",
                tunnel_name(tunnel),
                extra.join(" ")
            ),
        );
    }
    p.cfg.routes.push(Route {
        prefix,
        prefix_len,
        tunnel,
        vrf,
        line: cx.line,
    });
    Ok(())
}

fn hostname(p: &mut Parser, cx: &Cx) -> Res {
    p.cfg.hostname = Some(At::new(one(cx)?.to_string(), cx.line));
    Ok(())
}

fn domain_name(p: &mut Parser, cx: &Cx) -> Res {
    p.cfg.domain_name = Some(At::new(one(cx)?.to_string(), cx.line));
    Ok(())
}

fn debug_isakmp(p: &mut Parser, cx: &Cx) -> Res {
    no_value(cx)?;
    p.cfg.debug.isakmp = true;
    Ok(())
}

fn debug_ipsec(p: &mut Parser, cx: &Cx) -> Res {
    no_value(cx)?;
    p.cfg.debug.ipsec = true;
    Ok(())
}

/// `ikev1d map-interface IOS-NAME LINUX-NAME`: ikev1d's own statement, so that the
/// daemon resolves `tunnel source GigabitEthernet1` as `--map-interface` would.
fn map_interface(p: &mut Parser, cx: &Cx) -> Res {
    let [ios, linux] = cx.args else {
        return Err("ikev1d map-interface: expected `IOS-NAME LINUX-NAME`".into());
    };
    add_map(&mut p.cfg, &names::interface_ref(ios), linux, cx.line).map_err(Bad::Error)
}

/// Map an IOS interface to a Linux one (a later map of the same name replaces it).
pub(crate) fn add_map(c: &mut Config, ios: &str, linux: &str, line: u32) -> Result<(), String> {
    let linux = linux_ifname(linux)?.to_string();
    let map = InterfaceMap {
        ios: ios.to_string(),
        linux,
        line,
    };
    match c.interface_map.iter_mut().find(|m| m.ios == map.ios) {
        Some(m) => *m = map,
        None => c.interface_map.push(map),
    }
    Ok(())
}

/// `banner [motd|login|exec|...] D text D`: the text may span lines, up to the
/// delimiter (`show running-config` prints it as `^C`).
fn banner(p: &mut Parser, cx: &Cx) -> Res {
    const KINDS: &[&str] = &[
        "config-save",
        "exec",
        "incoming",
        "login",
        "motd",
        "prompt-timeout",
        "slip-ppp",
    ];
    let mut rest = cx
        .text
        .split_once(char::is_whitespace)
        .map_or("", |x| x.1)
        .trim_start();
    if let Some(kind) = cx.args.first() {
        if pick(kind, KINDS).is_some() {
            rest = rest[kind.len()..].trim_start();
        }
    }
    let delimiter = if rest.starts_with("^C") {
        "^C".to_string()
    } else {
        match rest.chars().next() {
            Some(c) => c.to_string(),
            None => return Err("banner: the delimiter and the text are missing".into()),
        }
    };
    let body = &rest[delimiter.len()..];
    p.skip("banner".into(), None, false);
    if !body.contains(delimiter.as_str()) {
        p.mode = Mode::Banner { delimiter };
    }
    Ok(())
}
