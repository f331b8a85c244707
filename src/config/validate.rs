//! Checks on the parsed model, the same for both dialects: references resolve, each
//! tunnel is complete, values are in range. Weak but working choices are warnings:
//! interoperating with an old IOS configuration is the point.

use super::error::Diagnostics;
use super::model::*;
use super::words::group_number;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, EspTransform, HashAlg};
use crate::dataplane::InnerFamily;
use std::collections::HashSet;
use std::net::IpAddr;

/// Shortest lifetime accepted at all: shorter ones would rekey continuously.
const MIN_LIFETIME_S: u32 = 10;
/// IOS refuses lifetimes below these (`lifetime` 60..86400, SA lifetime 120..86400 s,
/// 2560.. KB); we accept down to 10 s for tests, with a warning.
const IOS_MIN_P1_LIFETIME_S: u32 = 60;
const IOS_MIN_P2_LIFETIME_S: u32 = 120;
const IOS_MAX_LIFETIME_S: u32 = 86_400;
const IOS_MIN_P2_LIFETIME_KB: u64 = 2_560;
/// Linux interface names: IFNAMSIZ (16) including the NUL.
const MAX_IFNAME: usize = 15;

pub(crate) fn validate(c: &Config, d: &mut Diagnostics) {
    policies(c, d);
    keys(c, d);
    dpd(c, d);
    transform_sets(c, d);
    profiles(c, d);
    tunnels(c, d);
    routes(c, d);
}

fn weak_group(g: DhGroup) -> bool {
    matches!(g, DhGroup::Modp768 | DhGroup::Modp1024)
}

fn policies(c: &Config, d: &mut Diagnostics) {
    if c.policies.is_empty() && !c.tunnels.is_empty() {
        d.error(0, "no `crypto isakmp policy`: phase 1 has nothing to offer");
    }
    let mut seen = HashSet::new();
    for p in &c.policies {
        let n = p.priority;
        if !seen.insert(n) {
            d.error(p.line, format!("crypto isakmp policy {n} defined twice"));
        }
        if !(1..=10_000).contains(&n) {
            d.error(
                p.line,
                format!("crypto isakmp policy {n}: priority must be 1..10000"),
            );
        }
        if !p.pre_share {
            d.error(
                p.line,
                format!(
                    "crypto isakmp policy {n} lacks `authentication pre-share` \
                     (IOS's default is rsa-sig; ikev1d supports pre-shared keys only)"
                ),
            );
        }
        let e = &p.encryption;
        if e.value == CipherAlg::Des {
            d.warn(
                e.line,
                format!("policy {n}: DES (IOS's default) is weak; prefer `encryption aes 256`"),
            );
        }
        if let CipherAlg::Aes(bits) = e.value {
            if ![128, 192, 256].contains(&bits) {
                d.error(e.line, format!("policy {n}: AES key size {bits}"));
            }
        }
        if p.hash.value == HashAlg::Md5 {
            d.warn(
                p.hash.line,
                format!("policy {n}: MD5 is weak; prefer `hash sha256`"),
            );
        }
        if weak_group(p.group.value) {
            d.warn(
                p.group.line,
                format!(
                    "policy {n}: DH group {} is weak; prefer `group 14` or higher",
                    group_number(p.group.value)
                ),
            );
        }
        lifetime_s(
            d,
            p.lifetime_s.line,
            p.lifetime_s.value,
            IOS_MIN_P1_LIFETIME_S,
            "phase 1",
        );
    }
}

fn lifetime_s(d: &mut Diagnostics, line: u32, s: u32, ios_min: u32, what: &str) {
    if s < MIN_LIFETIME_S {
        d.error(
            line,
            format!("{what} lifetime {s} s: must be at least {MIN_LIFETIME_S} s"),
        );
    } else if s < ios_min {
        d.warn(
            line,
            format!("{what} lifetime {s} s is below IOS's minimum of {ios_min} s"),
        );
    } else if s > IOS_MAX_LIFETIME_S {
        d.warn(
            line,
            format!("{what} lifetime {s} s is above IOS's maximum of {IOS_MAX_LIFETIME_S} s"),
        );
    }
}

fn keys(c: &Config, d: &mut Diagnostics) {
    let mut seen = HashSet::new();
    for k in &c.keys {
        if k.key.is_empty() {
            d.error(k.origin.line, "empty pre-shared key");
        }
        let max = if k.address.is_ipv4() { 32 } else { 128 };
        if k.prefix_len > max {
            d.error(
                k.origin.line,
                format!("prefix length {} above {max}", k.prefix_len),
            );
        }
        if !seen.insert((k.address, k.prefix_len)) {
            d.error(
                k.origin.line,
                format!("a second key for {}/{}", k.address, k.prefix_len),
            );
        }
    }
}

fn dpd(c: &Config, d: &mut Diagnostics) {
    // IOS's ranges: keepalive 10..3600 s, retry 2..60 s, NAT keepalive 5..3600 s.
    if let Some(k) = &c.keepalive {
        if !(10..=3600).contains(&k.interval_s) {
            d.error(
                k.line,
                format!("keepalive {} s: must be 10..3600", k.interval_s),
            );
        }
        if !(2..=60).contains(&k.retry_s) {
            d.error(
                k.line,
                format!("keepalive retry {} s: must be 2..60", k.retry_s),
            );
        }
    }
    if let Some(n) = &c.nat_keepalive_s {
        if !(5..=3600).contains(&n.value) {
            d.error(
                n.line,
                format!("NAT keepalive {} s: must be 5..3600", n.value),
            );
        }
    }
}

fn transform_sets(c: &Config, d: &mut Diagnostics) {
    let mut seen = HashSet::new();
    for t in &c.transform_sets {
        if !seen.insert(&t.name) {
            d.error(t.line, format!("transform-set {} defined twice", t.name));
        }
        if let EspEncr::Aes(bits) = t.encryption {
            if ![128, 192, 256].contains(&bits) {
                d.error(
                    t.line,
                    format!("transform-set {}: AES key size {bits}", t.name),
                );
            }
        }
        // IOS's combination rules, for TOML (the IOS parser applies them on the line).
        if let Err(why) = EspTransform::new(t.encryption, t.integrity) {
            d.error(t.line, format!("transform-set {}: {why}", t.name));
        }
        if t.encryption == EspEncr::Null {
            d.warn(
                t.line,
                format!(
                    "transform-set {}: esp-null sends the traffic unencrypted; prefer esp-gcm 256",
                    t.name
                ),
            );
        }
        if t.encryption == EspEncr::Des {
            d.warn(
                t.line,
                format!(
                    "transform-set {}: esp-des is weak; prefer esp-aes 256",
                    t.name
                ),
            );
        }
        if t.integrity == EspAuth::HmacMd5 {
            d.warn(
                t.line,
                format!(
                    "transform-set {}: esp-md5-hmac is weak; prefer esp-sha256-hmac",
                    t.name
                ),
            );
        }
    }
}

fn profiles(c: &Config, d: &mut Diagnostics) {
    let mut seen = HashSet::new();
    for p in &c.profiles {
        if !seen.insert(&p.name) {
            d.error(p.line, format!("ipsec profile {} defined twice", p.name));
        }
        if p.transform_sets.is_empty() {
            d.error(
                p.line,
                format!("ipsec profile {} has no `set transform-set`", p.name),
            );
        }
        for t in &p.transform_sets {
            if c.transform_set(&t.value).is_none() {
                d.error(
                    t.line,
                    format!(
                        "ipsec profile {}: no transform-set named {}",
                        p.name, t.value
                    ),
                );
            }
        }
        if let Some(g) = &p.pfs {
            if weak_group(g.value) {
                d.warn(
                    g.line,
                    format!(
                        "ipsec profile {}: PFS group {} is weak; prefer group14",
                        p.name,
                        group_number(g.value)
                    ),
                );
            }
        }
        let s = &p.lifetime_s;
        lifetime_s(d, s.line, s.value, IOS_MIN_P2_LIFETIME_S, "phase 2");
        let kb = &p.lifetime_kb;
        if kb.value < u64::from(MIN_LIFETIME_S) {
            d.error(
                kb.line,
                format!("phase 2 lifetime {} KB: must be at least 10 KB", kb.value),
            );
        } else if kb.value < IOS_MIN_P2_LIFETIME_KB {
            d.warn(
                kb.line,
                format!(
                    "phase 2 lifetime {} KB is below IOS's minimum of {IOS_MIN_P2_LIFETIME_KB} KB",
                    kb.value
                ),
            );
        }
    }
}

fn family_word(f: InnerFamily) -> &'static str {
    match f {
        InnerFamily::V4 => "ipv4",
        InnerFamily::V6 => "ipv6",
    }
}

fn tunnels(c: &Config, d: &mut Diagnostics) {
    let mut numbers = HashSet::new();
    let mut endpoints = HashSet::new();
    for t in &c.tunnels {
        let name = t.name();
        if !numbers.insert(t.number) {
            d.error(t.line, format!("interface {name} defined twice"));
        }
        // xfrm if_id 0 means "no interface" to the kernel; IOS's Tunnel0 must be renumbered.
        if t.number == 0 {
            d.error(
                t.line,
                "Tunnel0: tunnel numbers start at 1 here (the number is the xfrm if_id, and 0 means none)",
            );
        }
        if name.len() > MAX_IFNAME {
            d.error(
                t.line,
                format!("{name}: longer than a Linux interface name may be"),
            );
        }
        addresses(t, d);
        let Some(profile) = &t.profile else {
            d.error(
                t.line,
                format!("{name} has no `tunnel protection ipsec profile`: only protected VTIs are supported"),
            );
            continue;
        };
        if c.profile(&profile.value).is_none() {
            d.error(
                profile.line,
                format!("{name}: no crypto ipsec profile named {}", profile.value),
            );
        }
        let Some(mode) = &t.mode else {
            d.error(
                t.line,
                format!(
                    "{name} has no `tunnel mode ipsec ipv4|ipv6`: IOS's default (GRE) is not supported"
                ),
            );
            continue;
        };
        match &t.source {
            None => d.error(t.line, format!("{name} has no `tunnel source`")),
            Some(At {
                value: TunnelSource::Address(a),
                line,
            }) if family_of(*a) != mode.value => {
                d.error(
                    *line,
                    format!(
                        "tunnel source {a} is not an {} address (tunnel mode ipsec {}, line {})",
                        family_word(mode.value),
                        family_word(mode.value),
                        mode.line
                    ),
                );
            }
            Some(_) => {}
        }
        let Some(dest) = &t.destination else {
            d.error(t.line, format!("{name} has no `tunnel destination`"));
            continue;
        };
        let peer = dest.value;
        if family_of(peer) != mode.value {
            d.error(
                dest.line,
                format!(
                    "tunnel destination {peer} is not an {} address (tunnel mode ipsec {}, line {})",
                    family_word(mode.value),
                    family_word(mode.value),
                    mode.line
                ),
            );
        }
        if !c.keys.iter().any(|k| k.matches(peer)) {
            d.error(
                dest.line,
                format!("no `crypto isakmp key` matches tunnel destination {peer}"),
            );
        }
        if !t.shutdown {
            if let Some(src) = &t.source {
                if !endpoints.insert((src.value.clone(), peer)) {
                    d.error(
                        dest.line,
                        format!(
                            "{name}: another tunnel already uses source {} and destination {peer}",
                            src.value
                        ),
                    );
                }
            }
        }
    }
}

fn addresses(t: &Tunnel, d: &mut Diagnostics) {
    let name = t.name();
    if let Some(ll) = &t.link_local {
        if !is_link_local(IpAddr::V6(ll.value)) {
            d.error(
                ll.line,
                format!("{} is not a link-local address (fe80::/10)", ll.value),
            );
        }
    }
    for a in &t.ipv6 {
        if is_link_local(IpAddr::V6(a.value.0)) {
            d.error(
                a.line,
                format!(
                    "{}: write a link-local address as `ipv6 address {} link-local`",
                    name, a.value.0
                ),
            );
        }
    }
    if let Some(m) = &t.ip_mtu {
        if !(68..=65_535).contains(&m.value) {
            d.error(m.line, format!("ip mtu {}: must be 68..65535", m.value));
        }
    }
    if let Some(m) = &t.ipv6_mtu {
        if !(1280..=65_535).contains(&m.value) {
            d.error(m.line, format!("ipv6 mtu {}: must be 1280..65535", m.value));
        }
    }
    if let (Some(v4), Some(v6)) = (&t.ip_mtu, &t.ipv6_mtu) {
        if v4.value != v6.value {
            d.warn(
                v6.line.max(v4.line),
                format!(
                    "{name}: ip mtu {} and ipv6 mtu {} differ; a Linux interface has one MTU, the smaller is used",
                    v4.value, v6.value
                ),
            );
        }
    }
}

fn routes(c: &Config, d: &mut Diagnostics) {
    for r in &c.routes {
        if c.tunnel(r.tunnel).is_none() {
            d.error(
                r.line,
                format!("route via {}: no such interface", tunnel_name(r.tunnel)),
            );
        }
        let max = if r.prefix.is_ipv4() { 32 } else { 128 };
        if r.prefix_len > max {
            d.error(
                r.line,
                format!("prefix length {} above {max}", r.prefix_len),
            );
        } else if has_host_bits(r.prefix, r.prefix_len) {
            d.error(
                r.line,
                format!("{}/{} has host bits set", r.prefix, r.prefix_len),
            );
        }
    }
}
