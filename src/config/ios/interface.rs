//! `interface TunnelN`, `interface Virtual-Template N type tunnel`, `interface range`,
//! and the interface sub-commands. Other interfaces (physical, Loopback) are outside
//! ikev1d's part of the configuration: skipped, their sub-commands with them.

use super::crypto::df_bit_words;
use super::names;
use super::table::{cmd, cmd_max, cmd_n, Command};
use super::values::{
    linux_ifname, parse_ipv4, parse_mask, parse_number, parse_prefix6, parse_source,
};
use super::{find_or_push, no_value, one, Act, Bad, Block, Cx, Mode, Parser, Res, Sub};
use crate::config::error::Diagnostics;
use crate::config::model::*;
use crate::config::words::pick;
use std::net::{IpAddr, Ipv6Addr};

/// The most interfaces one `interface range` may open (IOS caps ranges too).
const MAX_RANGE: u32 = 1024;

/// Routing protocols run beside ikev1d (FRR, BIRD), configured there.
const ROUTING: &str =
    "routing protocols are configured in your routing daemon (e.g. FRR), not ikev1d";
const FILTERING: &str = "filtering, NAT and QoS are not done by ikev1d (use nftables or tc)";

pub(super) const TABLE: &[Command<Act<Sub<Tunnel>>>] = &[
    cmd("description", Act::Do(description)),
    cmd("ip address", Act::Do(ip_address)),
    cmd("ip unnumbered", Act::Do(ip_unnumbered)),
    cmd("ip mtu", Act::Do(ip_mtu)),
    cmd("ip tcp adjust-mss", Act::Do(ip_adjust_mss)),
    cmd("ip vrf forwarding", Act::Do(vrf_forwarding)),
    cmd("vrf forwarding", Act::Do(vrf_forwarding)),
    cmd("ipv6 address", Act::Do(ipv6_address)),
    cmd("ipv6 enable", Act::Do(ipv6_enable)),
    cmd("ipv6 mtu", Act::Do(ipv6_mtu)),
    cmd("ipv6 tcp adjust-mss", Act::Do(ipv6_adjust_mss)),
    cmd("tunnel source", Act::Do(tunnel_source)),
    cmd("tunnel destination", Act::Do(tunnel_destination)),
    cmd("tunnel mode", Act::Do(tunnel_mode)),
    cmd(
        "tunnel protection ipsec profile",
        Act::Do(tunnel_protection),
    ),
    cmd("tunnel key", Act::Do(tunnel_key)),
    cmd("tunnel vrf", Act::Do(tunnel_vrf)),
    cmd("tunnel path-mtu-discovery", Act::Do(tunnel_pmtud)),
    cmd("tunnel", Act::Warn("")),
    cmd("keepalive", Act::Do(keepalive)),
    cmd("shutdown", Act::Do(shutdown)),
    cmd("no shutdown", Act::Do(no_shutdown)),
    cmd("crypto ipsec df-bit", Act::Do(df_bit)),
    cmd(
        "crypto map",
        Act::Warn("crypto maps (policy-based IPsec) are not supported: use tunnel protection"),
    ),
    // Accepted without effect on the Linux side; docs/ios-mapping.md says why each.
    cmd("load-interval", Act::Quiet),
    cmd("bandwidth", Act::Quiet),
    cmd("delay", Act::Quiet),
    cmd("cdp", Act::Quiet),
    cmd("logging event", Act::Quiet),
    cmd("snmp trap", Act::Quiet),
    cmd("carrier-delay", Act::Quiet),
    cmd("hold-queue", Act::Quiet),
    cmd("qos pre-classify", Act::Quiet),
    cmd("ip virtual-reassembly", Act::Quiet),
    cmd_max("ip route-cache", 1, Act::Quiet),
    cmd_max("ip mroute-cache", 0, Act::Quiet),
    cmd("ip flow", Act::Quiet),
    cmd_max("ip redirects", 0, Act::Quiet),
    cmd_max("ip unreachables", 0, Act::Quiet),
    cmd_max("ip proxy-arp", 0, Act::Quiet),
    cmd_max("ipv6 redirects", 0, Act::Quiet),
    cmd_max("ipv6 unreachables", 0, Act::Quiet),
    // Known to IOS's interface mode (so a pasted block stays together), not done here.
    cmd("ip ospf", Act::Warn(ROUTING)),
    cmd("ipv6 ospf", Act::Warn(ROUTING)),
    cmd("ip eigrp", Act::Warn(ROUTING)),
    cmd("ipv6 eigrp", Act::Warn(ROUTING)),
    cmd("ip rip", Act::Warn(ROUTING)),
    cmd_n("ip pim", 1, Act::Warn(ROUTING)),
    cmd("ipv6 pim", Act::Warn(ROUTING)),
    cmd("ip igmp", Act::Warn(ROUTING)),
    cmd("ip summary-address", Act::Warn(ROUTING)),
    cmd("ip hello-interval", Act::Warn(ROUTING)),
    cmd("ip hold-time", Act::Warn(ROUTING)),
    cmd("ip authentication", Act::Warn(ROUTING)),
    cmd("ip split-horizon", Act::Warn(ROUTING)),
    cmd("bfd", Act::Warn(ROUTING)),
    cmd("ip nhrp", Act::Warn("NHRP (DMVPN) is not supported")),
    cmd("ipv6 nhrp", Act::Warn("NHRP (DMVPN) is not supported")),
    cmd("ip access-group", Act::Warn(FILTERING)),
    cmd("ipv6 traffic-filter", Act::Warn(FILTERING)),
    cmd_n("ip nat", 1, Act::Warn(FILTERING)),
    cmd("ip policy", Act::Warn(FILTERING)),
    cmd("ip inspect", Act::Warn(FILTERING)),
    cmd("ip verify", Act::Warn(FILTERING)),
    cmd("ip wccp", Act::Warn(FILTERING)),
    cmd("service-policy", Act::Warn(FILTERING)),
    cmd("zone-member", Act::Warn(FILTERING)),
    cmd(
        "ip helper-address",
        Act::Warn("DHCP relay is not done by ikev1d"),
    ),
    cmd("ip dhcp client", Act::Warn("DHCP is not done by ikev1d")),
    cmd("ip dhcp relay", Act::Warn("DHCP is not done by ikev1d")),
    cmd("ipv6 dhcp", Act::Warn("DHCP is not done by ikev1d")),
    cmd(
        "ipv6 nd",
        Act::Warn("neighbor discovery options are the kernel's"),
    ),
    cmd(
        "standby",
        Act::Warn("first-hop redundancy (HSRP/VRRP) is not done by ikev1d"),
    ),
    cmd(
        "vrrp",
        Act::Warn("first-hop redundancy (HSRP/VRRP) is not done by ikev1d"),
    ),
    cmd("mpls", Act::Warn("MPLS is not done by ikev1d")),
    cmd("encapsulation", Act::Warn("")),
    cmd("negotiation", Act::Warn("")),
    cmd("duplex", Act::Warn("")),
    cmd("speed", Act::Warn("")),
    cmd("media-type", Act::Warn("")),
];

/// `interface ...`: a tunnel, a template, a range, or an interface ikev1d skips.
pub(super) fn open(p: &mut Parser, cx: &Cx) -> Res {
    let w = cx.args;
    if let [r, rest @ ..] = w {
        if pick(r, &["range"]).is_some() {
            return range(p, rest, cx.line);
        }
    }
    // `Virtual-Template1 type tunnel`; `Tunnel1 point-to-point` is not IOS.
    let split = w
        .iter()
        .position(|x| pick(x, &["type"]).is_some())
        .unwrap_or(w.len());
    let (name, tail) = w.split_at(split);
    match names::parse_interface(name) {
        Some(("Tunnel", n)) if tail.is_empty() => {
            let n = tunnel_number(&n)?;
            open_one(p, InterfaceKind::Tunnel, n, cx.line);
            Ok(())
        }
        Some(("Virtual-Template", n)) if matches!(tail, [_, t] if pick(t, &["tunnel"]).is_some()) =>
        {
            let n = parse_number(&n, "Virtual-Template number")?;
            open_one(p, InterfaceKind::VirtualTemplate, n, cx.line);
            Ok(())
        }
        Some((kind, n)) => {
            p.skip("interface".into(), Some(format!("{kind}{n}")), true);
            Ok(())
        }
        None if name.is_empty() => {
            p.mode = Mode::Failed(Block::Interface);
            Err("interface: name missing".into())
        }
        None => {
            p.skip("interface".into(), Some(name.join(" ")), true);
            Ok(())
        }
    }
}

fn tunnel_number(n: &str) -> Result<u32, Bad> {
    n.parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_TUNNEL_NUMBER)
        .ok_or_else(|| {
            Bad::Error(format!(
                "interface Tunnel{n}: IOS's tunnel numbers are 0..{MAX_TUNNEL_NUMBER}"
            ))
        })
}

/// Enter an interface (editing it if it exists), returning its index.
fn find_or_add(p: &mut Parser, kind: InterfaceKind, number: u32, line: u32) -> usize {
    find_or_push(
        &mut p.cfg.tunnels,
        |t| t.kind == kind && t.number == number,
        || Tunnel::new(kind, number, line),
    )
}

fn open_one(p: &mut Parser, kind: InterfaceKind, number: u32, line: u32) {
    let i = find_or_add(p, kind, number, line);
    p.mode = Mode::Interface(vec![i]);
}

/// `interface range tun 0-1`, `interface range Tunnel1 - 3 , Tunnel7`: the sub-commands
/// apply to each. A range of other interfaces is skipped.
fn range(p: &mut Parser, spec: &[&str], line: u32) -> Res {
    let spec = spec.join(" ");
    let mut numbers = Vec::new();
    let mut kind = None;
    for piece in spec.split(',') {
        let compact: String = piece.split_whitespace().collect();
        if compact.is_empty() {
            continue;
        }
        let split = compact
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(compact.len());
        let (t, nums) = compact.split_at(split);
        if !t.is_empty() {
            kind = names::interface_type(t);
        }
        if kind != Some("Tunnel") {
            p.skip(
                "interface".into(),
                Some(format!("range {}", spec.trim())),
                true,
            );
            return Ok(());
        }
        let (a, b) = nums.split_once('-').unwrap_or((nums, nums));
        let (a, b) = (tunnel_number(a)?, tunnel_number(b)?);
        if a > b || b - a >= MAX_RANGE {
            p.mode = Mode::Failed(Block::Interface);
            return Err(Bad::Error(format!(
                "interface range `{}`: expected FIRST-LAST, at most {MAX_RANGE} interfaces",
                spec.trim()
            )));
        }
        numbers.extend(a..=b);
    }
    if numbers.is_empty() {
        p.mode = Mode::Failed(Block::Interface);
        return Err("interface range: no interfaces".into());
    }
    let ids = numbers
        .into_iter()
        .map(|n| find_or_add(p, InterfaceKind::Tunnel, n, line))
        .collect();
    p.mode = Mode::Interface(ids);
    Ok(())
}

fn description(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.description = cx
        .text
        .split_once(char::is_whitespace)
        .map(|(_, r)| r.trim().to_string());
    Ok(())
}

/// `ip address A M [secondary]`.
fn ip_address(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    let (a, m, secondary) = match cx.args {
        [a, m] => (a, m, false),
        [a, m, s] if pick(s, &["secondary"]).is_some() => (a, m, true),
        _ => return Err(Bad::Unsupported),
    };
    let value = At::new((parse_ipv4(a)?, parse_mask(m)?), cx.line);
    if secondary {
        t.ipv4_secondary.push(value);
    } else {
        t.ipv4 = Some(value);
        t.unnumbered = None;
    }
    Ok(())
}

/// `ip unnumbered IF`: IOS's name of the interface lending its address.
fn ip_unnumbered(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    let name = match names::canonical(cx.args) {
        Some(ios) => ios,
        None => linux_ifname(one(cx)?)?.to_string(),
    };
    t.unnumbered = Some(At::new(name, cx.line));
    t.ipv4 = None;
    Ok(())
}

fn ip_mtu(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.ip_mtu = Some(At::new(parse_number(one(cx)?, "MTU")?, cx.line));
    Ok(())
}

fn ipv6_mtu(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.ipv6_mtu = Some(At::new(parse_number(one(cx)?, "MTU")?, cx.line));
    Ok(())
}

fn mss(cx: &Cx) -> Result<At<u16>, Bad> {
    Ok(At::new(parse_number(one(cx)?, "adjust-mss")?, cx.line))
}

fn ip_adjust_mss(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.adjust_mss = Some(mss(cx)?);
    Ok(())
}

fn ipv6_adjust_mss(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.ipv6_adjust_mss = Some(mss(cx)?);
    Ok(())
}

fn vrf_forwarding(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.vrf = Some(At::new(one(cx)?.to_string(), cx.line));
    Ok(())
}

/// `ipv6 address P/L` / `X link-local`.
fn ipv6_address(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    match cx.args {
        [a, ll] if pick(ll, &["link-local"]).is_some() => {
            let a: Ipv6Addr = a
                .parse()
                .map_err(|_| format!("`{a}` is not an IPv6 address"))?;
            t.link_local = Some(At::new(a, cx.line));
        }
        [p] => t.ipv6.push(At::new(parse_prefix6(p)?, cx.line)),
        _ => return Err(Bad::Unsupported),
    }
    Ok(())
}

fn ipv6_enable(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    no_value(cx)?;
    t.ipv6_enable = true;
    Ok(())
}

fn tunnel_source(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.source = Some(At::new(
        parse_source(cx.args).map_err(|e| format!("tunnel source: {e}"))?,
        cx.line,
    ));
    Ok(())
}

/// `tunnel destination A`. Copies of IOS text sometimes carry a stray space inside an
/// IPv6 address (`2001: DB8::3`); it is read without the space, with a warning.
fn tunnel_destination(t: &mut Tunnel, cx: &Cx, d: &mut Diagnostics) -> Res {
    let w = cx.args;
    let joined = w.concat();
    let a = match (w, joined.parse::<IpAddr>()) {
        ([_], Ok(a)) => a,
        (_, Ok(a)) if w.len() > 1 => {
            d.warn(
                cx.line,
                format!("`{}` read as {a} (stray space removed)", w.join(" ")),
            );
            a
        }
        _ if w.is_empty() => return Err("tunnel destination: address missing".into()),
        _ => {
            return Err(Bad::Error(format!(
                "tunnel destination `{}` is not an IP address (host names are not supported)",
                w.join(" ")
            )))
        }
    };
    t.destination = Some(At::new(a, cx.line));
    Ok(())
}

fn tunnel_mode(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.mode = Some(At::new(TunnelMode::from_words(cx.args)?, cx.line));
    Ok(())
}

/// `tunnel protection ipsec profile P [shared]`. `shared` lets IOS's tunnels with one
/// source share an SA database (DMVPN); ikev1d keeps each tunnel's SAs apart anyway.
fn tunnel_protection(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    match cx.args {
        [name] => t.profile = Some(At::new(name.to_string(), cx.line)),
        [name, s] if pick(s, &["shared"]).is_some() => {
            t.profile = Some(At::new(name.to_string(), cx.line))
        }
        _ => return Err(Bad::Unsupported),
    }
    Ok(())
}

fn tunnel_key(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.key = Some(At::new(parse_number(one(cx)?, "tunnel key")?, cx.line));
    Ok(())
}

fn tunnel_vrf(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.tunnel_vrf = Some(At::new(one(cx)?.to_string(), cx.line));
    Ok(())
}

/// `tunnel path-mtu-discovery [age-timer ... | min-mtu ...]`: the options tune IOS's
/// own PMTU cache, which the kernel keeps for ikev1d.
fn tunnel_pmtud(t: &mut Tunnel, cx: &Cx, d: &mut Diagnostics) -> Res {
    t.path_mtu_discovery = true;
    if !cx.args.is_empty() {
        d.warn(
            cx.line,
            format!(
                "tunnel path-mtu-discovery: `{}` ignored (the kernel's PMTU cache has its own timers)",
                cx.args.join(" ")
            ),
        );
    }
    Ok(())
}

/// `keepalive [S [R]]` on a tunnel: GRE keepalives, every S seconds, down after R
/// misses (IOS: 10 s, 3).
fn keepalive(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    let (s, r) = match cx.args {
        [] => (10, 3),
        [s] => (parse_number(s, "keepalive seconds")?, 3),
        [s, r] => (
            parse_number(s, "keepalive seconds")?,
            parse_number(r, "keepalive retries")?,
        ),
        _ => return Err(Bad::Unsupported),
    };
    t.keepalive = Some(At::new((s, r), cx.line));
    Ok(())
}

fn shutdown(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    no_value(cx)?;
    t.shutdown = true;
    Ok(())
}

fn no_shutdown(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    no_value(cx)?;
    t.shutdown = false;
    Ok(())
}

fn df_bit(t: &mut Tunnel, cx: &Cx, _: &mut Diagnostics) -> Res {
    t.df_bit = Some(At::new(df_bit_words(cx.args)?, cx.line));
    Ok(())
}
