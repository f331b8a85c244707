//! Checks on the parsed model, the same for both dialects: references resolve, each
//! tunnel is complete, values are in range. Weak but working choices are warnings:
//! interoperating with an old IOS configuration is the point.
//!
//! A router's configuration holds more than ikev1d's tunnels: transform sets, profiles
//! and policies for other peers, unprotected tunnels. What no kept tunnel uses may hold
//! anything IOS accepts: a problem there is a warning; the same problem in what a tunnel
//! uses is an error. A tunnel without `tunnel protection` is dropped with a warning; a
//! file that keeps no tunnel is an error naming why each was dropped.

use super::error::Diagnostics;
use super::model::*;
use super::redact::redacted_line;
use super::words::group_number;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, HashAlg};
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
/// `replay window-size`: the sizes IOS offers.
const REPLAY_WINDOWS: [u32; 5] = [64, 128, 256, 512, 1024];
/// `set security-association idle-time`: IOS's range.
const IDLE_TIME_S: std::ops::RangeInclusive<u32> = 60..=86_400;
/// `ip tcp adjust-mss` / `ipv6 tcp adjust-mss`: IOS's ranges.
const ADJUST_MSS_V4: std::ops::RangeInclusive<u16> = 500..=1460;
const ADJUST_MSS_V6: std::ops::RangeInclusive<u16> = 40..=1940;

/// Cisco field notice FN72510, said once when the configuration relies on what it
/// names.
const FN72510: &str = "IOS-XE 17.11 and later refuse DES, 3DES, MD5 and DH groups 1, 2 and 5 \
     unless re-allowed (`crypto engine compliance shield disable`; Cisco field notice FN72510): \
     a configuration relying on IOS 15.2's defaults stops working against an upgraded peer";

/// What the kept tunnels use, by name.
#[derive(Default)]
struct Used<'c> {
    profiles: HashSet<&'c str>,
    transform_sets: HashSet<&'c str>,
    isakmp_profiles: HashSet<&'c str>,
}

impl<'c> Used<'c> {
    fn of(c: &'c Config) -> Self {
        let mut u = Used::default();
        for t in c.tunnels.iter().filter(|t| t.protected()) {
            let Some(name) = &t.profile else { continue };
            u.profiles.insert(&name.value);
            if let Some(p) = c.profile(&name.value) {
                u.transform_sets
                    .extend(p.transform_sets.iter().map(|s| s.value.as_str()));
                u.isakmp_profiles
                    .extend(p.isakmp_profile.iter().map(|s| s.value.as_str()));
            }
        }
        // A dynamic VTI's ISAKMP profile names its template.
        for p in &c.isakmp_profiles {
            if let Some(vt) = &p.virtual_template {
                let template = c.tunnels.iter().find(|t| {
                    t.kind == InterfaceKind::VirtualTemplate
                        && t.number == vt.value
                        && t.protected()
                });
                if template.is_some() {
                    u.isakmp_profiles.insert(&p.name);
                }
            }
        }
        u
    }
}

/// Report a problem: an error when `used`, else a warning.
fn problem(d: &mut Diagnostics, used: bool, line: u32, message: String) {
    if used {
        d.error(line, message);
    } else {
        d.warn(line, format!("{message} (nothing uses it)"));
    }
}

pub(crate) fn validate(c: &Config, d: &mut Diagnostics) {
    let used = Used::of(c);
    let mut weak = Weak::default();
    tunnels(c, d);
    policies(c, d, &mut weak);
    keys(c, d);
    keyrings(c, d);
    isakmp_profiles(c, d, &used);
    dpd(c, d);
    transform_sets(c, d, &used, &mut weak);
    profiles(c, d, &used, &mut weak);
    ipsec_globals(c, d);
    routes(c, d);
    if let Some(line) = weak.first {
        d.warn(line, FN72510);
    }
}

/// Where the first weak algorithm that a peer on IOS-XE 17.11 would refuse is used.
#[derive(Default)]
struct Weak {
    first: Option<u32>,
}

impl Weak {
    fn at(&mut self, line: u32) {
        self.first = Some(self.first.map_or(line, |f| f.min(line)));
    }
}

/// DH groups IOS-XE 17.11 refuses by default (FN72510).
fn weak_group(g: DhGroup) -> bool {
    matches!(g, DhGroup::Modp768 | DhGroup::Modp1024 | DhGroup::Modp1536)
}

fn policies(c: &Config, d: &mut Diagnostics, weak: &mut Weak) {
    let needed = c.tunnels.iter().any(Tunnel::protected);
    if needed && c.policies.is_empty() {
        d.error(0, "no `crypto isakmp policy`: phase 1 has nothing to offer");
    } else if needed && !c.policies.iter().any(Policy::usable) {
        d.error(
            0,
            "no usable `crypto isakmp policy` (see the warnings above): phase 1 has nothing to offer",
        );
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
        for u in &p.unsupported {
            d.warn(
                u.line,
                format!(
                    "policy {n} is left out of ikev1d's offer: {} (`{}`)",
                    u.reason,
                    redacted_line(&u.words)
                ),
            );
        }
        if !p.pre_share {
            d.warn(
                p.line,
                format!(
                    "policy {n} is left out of ikev1d's offer: it lacks `authentication pre-share` \
                     (IOS's default is rsa-sig; ikev1d authenticates with pre-shared keys only)"
                ),
            );
        }
        if !p.usable() {
            continue;
        }
        let e = &p.encryption;
        match e.value {
            CipherAlg::Des => d.warn(
                e.line,
                format!("policy {n}: DES (IOS's default) is weak; prefer `encryption aes 256`"),
            ),
            CipherAlg::TripleDes => d.warn(
                e.line,
                format!("policy {n}: 3DES is weak; prefer `encryption aes 256`"),
            ),
            CipherAlg::Aes(bits) if ![128, 192, 256].contains(&bits) => {
                d.error(e.line, format!("policy {n}: AES key size {bits}"))
            }
            CipherAlg::Aes(_) => {}
        }
        if matches!(e.value, CipherAlg::Des | CipherAlg::TripleDes) {
            weak.at(e.line);
        }
        if p.hash.value == HashAlg::Md5 {
            d.warn(
                p.hash.line,
                format!("policy {n}: MD5 is weak; prefer `hash sha256`"),
            );
            weak.at(p.hash.line);
        }
        if weak_group(p.group.value) {
            d.warn(
                p.group.line,
                format!(
                    "policy {n}: DH group {} is weak; prefer `group 14` or higher",
                    group_number(p.group.value)
                ),
            );
            weak.at(p.group.line);
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

fn lifetime_kb(d: &mut Diagnostics, kb: &At<VolumeLifetime>) {
    let VolumeLifetime::Kilobytes(v) = kb.value else {
        return;
    };
    if v < u64::from(MIN_LIFETIME_S) {
        d.error(
            kb.line,
            format!("phase 2 lifetime {v} KB: must be at least 10 KB"),
        );
    } else if v < IOS_MIN_P2_LIFETIME_KB {
        d.warn(
            kb.line,
            format!(
                "phase 2 lifetime {v} KB is below IOS's minimum of {IOS_MIN_P2_LIFETIME_KB} KB"
            ),
        );
    }
}

/// The keys of one keyring (the global keys being IOS's default keyring).
fn key_list(d: &mut Diagnostics, keys: &[Key]) {
    let mut seen = HashSet::new();
    for k in keys {
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

fn keys(c: &Config, d: &mut Diagnostics) {
    key_list(d, &c.keys);
}

fn vrf_defined(c: &Config, d: &mut Diagnostics, vrf: &At<String>, what: &str) {
    if c.vrf(&vrf.value).is_none() {
        d.warn(
            vrf.line,
            format!(
                "{what}: vrf {} is not defined in this file (`vrf definition {}`)",
                vrf.value, vrf.value
            ),
        );
    }
}

fn keyrings(c: &Config, d: &mut Diagnostics) {
    let mut seen = HashSet::new();
    for ring in &c.keyrings {
        if !seen.insert(&ring.name) {
            d.error(
                ring.line,
                format!("crypto keyring {} defined twice", ring.name),
            );
        }
        key_list(d, &ring.keys);
        if let Some(v) = &ring.vrf {
            vrf_defined(c, d, v, &format!("crypto keyring {}", ring.name));
        }
    }
}

fn isakmp_profiles(c: &Config, d: &mut Diagnostics, used: &Used) {
    let mut seen = HashSet::new();
    for p in &c.isakmp_profiles {
        let name = &p.name;
        let is_used = used.isakmp_profiles.contains(name.as_str());
        if !seen.insert(name) {
            d.error(
                p.line,
                format!("crypto isakmp profile {name} defined twice"),
            );
        }
        for k in &p.keyrings {
            if c.keyring(&k.value).is_none() {
                problem(
                    d,
                    is_used,
                    k.line,
                    format!("isakmp profile {name}: no crypto keyring named {}", k.value),
                );
            }
        }
        for u in &p.unsupported {
            problem(
                d,
                is_used,
                u.line,
                format!("isakmp profile {name}: {}", u.reason),
            );
        }
        if p.matches.is_empty() && p.virtual_template.is_none() {
            d.warn(
                p.line,
                format!(
                    "isakmp profile {name} has no `match identity`: IOS deems it incomplete, and \
                     ikev1d picks it for the tunnels that name it only"
                ),
            );
        }
        for m in &p.matches {
            if let IdentityMatch::Address {
                address,
                prefix_len,
                ..
            } = &m.value
            {
                if has_host_bits(*address, *prefix_len) {
                    d.error(
                        m.line,
                        format!("match identity address: {address}/{prefix_len} has host bits set"),
                    );
                }
            }
        }
        if let Some(k) = &p.keepalive {
            keepalive_range(d, k);
        }
        if let Some(v) = &p.vrf {
            vrf_defined(c, d, v, &format!("isakmp profile {name}"));
        }
        if let Some(vt) = &p.virtual_template {
            let exists = c
                .tunnels
                .iter()
                .any(|t| t.kind == InterfaceKind::VirtualTemplate && t.number == vt.value);
            if !exists {
                d.error(
                    vt.line,
                    format!(
                        "isakmp profile {name}: no interface Virtual-Template{} type tunnel",
                        vt.value
                    ),
                );
            }
        }
    }
    if let Some(At {
        value: Identity::Hostname,
        line,
    }) = c.identity
    {
        if c.hostname.is_none() {
            d.warn(
                line,
                "crypto isakmp identity hostname, but no `hostname` line: the address is sent",
            );
        }
    }
}

/// IOS's ranges: keepalive 10..3600 s, retry 2..60 s.
fn keepalive_range(d: &mut Diagnostics, k: &Keepalive) {
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

fn dpd(c: &Config, d: &mut Diagnostics) {
    if let Some(k) = &c.keepalive {
        keepalive_range(d, k);
    }
    // IOS's range: NAT keepalive 5..3600 s.
    if let Some(n) = &c.nat_keepalive_s {
        if !(5..=3600).contains(&n.value) {
            d.error(
                n.line,
                format!("NAT keepalive {} s: must be 5..3600", n.value),
            );
        }
    }
    for limit in [&c.admission.in_negotiation_sa, &c.admission.sa]
        .into_iter()
        .flatten()
    {
        if limit.value == 0 {
            d.error(
                limit.line,
                "crypto call admission limit: must be at least 1",
            );
        }
    }
}

fn transform_sets(c: &Config, d: &mut Diagnostics, used: &Used, weak: &mut Weak) {
    let mut seen = HashSet::new();
    for t in &c.transform_sets {
        let is_used = used.transform_sets.contains(t.name.as_str());
        if !seen.insert(&t.name) {
            d.error(t.line, format!("transform-set {} defined twice", t.name));
        }
        let esp = match &t.esp {
            Ok(esp) => esp,
            Err(reason) => {
                problem(
                    d,
                    is_used,
                    t.line,
                    format!("transform-set {}: {reason}", t.name),
                );
                continue;
            }
        };
        if let EspEncr::Aes(bits) = esp.encr {
            if ![128, 192, 256].contains(&bits) {
                d.error(
                    t.line,
                    format!("transform-set {}: AES key size {bits}", t.name),
                );
            }
        }
        let name = &t.name;
        if esp.encr == EspEncr::Null {
            d.warn(
                t.line,
                format!("transform-set {name}: esp-null sends the traffic unencrypted; prefer esp-gcm 256"),
            );
        }
        let weak_encr = match esp.encr {
            EspEncr::Des => Some("esp-des is weak"),
            EspEncr::TripleDes => Some("esp-3des is weak"),
            _ => None,
        };
        if let Some(w) = weak_encr {
            d.warn(
                t.line,
                format!("transform-set {name}: {w}; prefer esp-aes 256"),
            );
        }
        if esp.auth == EspAuth::HmacMd5 {
            d.warn(
                t.line,
                format!("transform-set {name}: esp-md5-hmac is weak; prefer esp-sha256-hmac"),
            );
        }
        if is_used && (weak_encr.is_some() || esp.auth == EspAuth::HmacMd5) {
            weak.at(t.line);
        }
    }
}

fn replay(d: &mut Diagnostics, r: &At<Replay>) {
    if let Replay::WindowSize(n) = r.value {
        if !REPLAY_WINDOWS.contains(&n) {
            d.error(
                r.line,
                format!("replay window-size {n}: IOS offers 64, 128, 256, 512 or 1024"),
            );
        }
    }
}

fn idle_time(d: &mut Diagnostics, s: &At<u32>) {
    if !IDLE_TIME_S.contains(&s.value) {
        d.error(
            s.line,
            format!(
                "idle-time {} s: must be {}..{}",
                s.value,
                IDLE_TIME_S.start(),
                IDLE_TIME_S.end()
            ),
        );
    }
}

fn profiles(c: &Config, d: &mut Diagnostics, used: &Used, weak: &mut Weak) {
    let mut seen = HashSet::new();
    for p in &c.profiles {
        let name = &p.name;
        let is_used = used.profiles.contains(name.as_str());
        if !seen.insert(name) {
            d.error(p.line, format!("ipsec profile {name} defined twice"));
        }
        if p.transform_sets.is_empty() {
            problem(
                d,
                is_used,
                p.line,
                format!("ipsec profile {name} has no `set transform-set`"),
            );
        }
        for t in &p.transform_sets {
            if c.transform_set(&t.value).is_none() {
                problem(
                    d,
                    is_used,
                    t.line,
                    format!("ipsec profile {name}: no transform-set named {}", t.value),
                );
            }
        }
        if let Some(i) = &p.isakmp_profile {
            if c.isakmp_profile(&i.value).is_none() {
                problem(
                    d,
                    is_used,
                    i.line,
                    format!(
                        "ipsec profile {name}: no crypto isakmp profile named {}",
                        i.value
                    ),
                );
            }
        }
        for u in &p.unsupported {
            problem(
                d,
                is_used,
                u.line,
                format!("ipsec profile {name}: {}", u.reason),
            );
        }
        if let Some(g) = &p.pfs {
            if weak_group(g.value) {
                d.warn(
                    g.line,
                    format!(
                        "ipsec profile {name}: PFS group {} is weak; prefer group14",
                        group_number(g.value)
                    ),
                );
                if is_used {
                    weak.at(g.line);
                }
            }
        }
        // Only the profile's own lines: the global ones are checked once, there.
        if let Some(s) = &p.lifetime_s {
            lifetime_s(d, s.line, s.value, IOS_MIN_P2_LIFETIME_S, "phase 2");
        }
        if let Some(kb) = &p.lifetime_kb {
            lifetime_kb(d, kb);
        }
        if let Some(r) = &p.replay {
            replay(d, r);
        }
        if let Some(s) = &p.idle_time_s {
            idle_time(d, s);
        }
    }
}

fn ipsec_globals(c: &Config, d: &mut Diagnostics) {
    let g = &c.ipsec;
    if let Some(s) = &g.lifetime_s {
        lifetime_s(d, s.line, s.value, IOS_MIN_P2_LIFETIME_S, "phase 2");
    }
    if let Some(kb) = &g.lifetime_kb {
        lifetime_kb(d, kb);
    }
    if let Some(r) = &g.replay {
        replay(d, r);
    }
    if let Some(s) = &g.idle_time_s {
        idle_time(d, s);
    }
}

fn family_word(f: crate::ipsec::InnerFamily) -> &'static str {
    match f {
        crate::ipsec::InnerFamily::V4 => "ipv4",
        crate::ipsec::InnerFamily::V6 => "ipv6",
    }
}

/// Why a tunnel is not brought up, or `None` when it is.
fn dropped_because(t: &Tunnel) -> Option<String> {
    (!t.protected()).then(|| {
        format!(
            "{} has no `tunnel protection ipsec profile`: not an IPsec tunnel, left to the router (dropped)",
            t.name()
        )
    })
}

fn tunnels(c: &Config, d: &mut Diagnostics) {
    let any_kept = c.tunnels.iter().any(Tunnel::protected);
    if c.tunnels.is_empty() {
        d.error(
            0,
            "no `interface Tunnel` with `tunnel protection ipsec profile`: nothing to bring up",
        );
    } else if !any_kept {
        d.error(
            0,
            "no tunnel to bring up: every interface Tunnel was dropped (see why at its line)",
        );
    }
    let mut names = HashSet::new();
    let mut endpoints = HashSet::new();
    for t in &c.tunnels {
        let name = t.name();
        if !names.insert((t.kind, t.number)) {
            d.error(t.line, format!("interface {name} defined twice"));
        }
        addresses(t, d);
        if let Some(why) = dropped_because(t) {
            if any_kept {
                d.warn(t.line, why);
            } else {
                d.error(t.line, why);
            }
            continue;
        }
        for v in [&t.vrf, &t.tunnel_vrf].into_iter().flatten() {
            vrf_defined(c, d, v, &name);
            // A tunnel's VRF is the Linux VRF device of that name (IOS allows longer).
            if let Err(why) = super::ios::values::linux_ifname(&v.value) {
                d.error(
                    v.line,
                    format!(
                        "{name}: vrf {}: {why} for its VRF device (at most {MAX_IFNAME} characters)",
                        v.value
                    ),
                );
            }
        }
        if let Some(profile) = &t.profile {
            if c.profile(&profile.value).is_none() {
                d.error(
                    profile.line,
                    format!("{name}: no crypto ipsec profile named {}", profile.value),
                );
            }
        }
        let mode = t.tunnel_mode();
        let mode_line = t.mode.as_ref().map_or(t.line, |m| m.line);
        let Some(outer) = mode.outer() else {
            d.error(
                mode_line,
                format!("{name}: `tunnel mode gre multipoint` (DMVPN) is not supported"),
            );
            continue;
        };
        match (&t.keepalive, mode) {
            (Some(k), TunnelMode::Ipsec { .. }) => d.warn(
                k.line,
                format!("{name}: `keepalive` has no effect on a VTI (IOS sends keepalives on GRE tunnels only)"),
            ),
            // GRE keepalives are IOS's own (RFC 2784 has none): packets the peer is to
            // reflect. The liveness of the SAs is DPD's business.
            (Some(k), _) => d.warn(
                k.line,
                format!(
                    "{name}: `keepalive {} {}`: ikev1d sends no GRE keepalives; use \
                     `crypto isakmp keepalive` (DPD) to detect a dead peer",
                    k.value.0, k.value.1
                ),
            ),
            (None, _) => {}
        }
        if let (Some(k), TunnelMode::Ipsec { .. }) = (&t.key, mode) {
            d.warn(
                k.line,
                format!(
                    "{name}: `tunnel key {}` has no effect on a VTI (a GRE key)",
                    k.value
                ),
            );
        }
        let why = match &t.mode {
            Some(m) => format!("tunnel mode {}, line {}", mode.words(), m.line),
            None => format!(
                "no `tunnel mode` line: IOS's default is `tunnel mode {}`",
                mode.words()
            ),
        };
        let family_error = |what: &str, a: IpAddr, line: u32, d: &mut Diagnostics| {
            if family_of(a) != outer {
                d.error(
                    line,
                    format!(
                        "{what} {a} is not an {} address ({why})",
                        family_word(outer)
                    ),
                );
            }
        };
        if let Some(At {
            value: TunnelSource::Address(a),
            line,
        }) = &t.source
        {
            family_error("tunnel source", *a, *line, d);
        }
        // A template has no destination: each peer that connects is one.
        if t.kind == InterfaceKind::VirtualTemplate {
            continue;
        }
        if t.source.is_none() {
            d.error(t.line, format!("{name} has no `tunnel source`"));
        }
        let Some(dest) = &t.destination else {
            d.error(t.line, format!("{name} has no `tunnel destination`"));
            continue;
        };
        let peer = dest.value;
        family_error("tunnel destination", peer, dest.line, d);
        if !key_exists(c, t, peer) {
            d.error(
                dest.line,
                format!("no pre-shared key (`crypto isakmp key` or keyring) matches tunnel destination {peer}"),
            );
        }
        if !t.shutdown {
            if let Some(src) = &t.source {
                let fvrf = t.tunnel_vrf.as_ref().map(|v| v.value.clone());
                if !endpoints.insert((fvrf, src.value.clone(), peer)) {
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

/// Is there a key for `peer` that the tunnel may use: in the keyrings its ISAKMP profile
/// names, else in any keyring or the global keys.
fn key_exists(c: &Config, t: &Tunnel, peer: IpAddr) -> bool {
    let isakmp_profile = t
        .profile
        .as_ref()
        .and_then(|p| c.profile(&p.value))
        .and_then(|p| p.isakmp_profile.as_ref())
        .and_then(|i| c.isakmp_profile(&i.value));
    match isakmp_profile {
        Some(ip) if !ip.keyrings.is_empty() => ip
            .keyrings
            .iter()
            .filter_map(|k| c.keyring(&k.value))
            .flat_map(|k| &k.keys)
            .any(|k| k.matches(peer)),
        _ => c.all_keys().any(|k| k.matches(peer)),
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
    if !t.ipv4_secondary.is_empty() && t.ipv4.is_none() {
        d.error(
            t.ipv4_secondary[0].line,
            format!("{name}: a secondary address needs a primary `ip address`"),
        );
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
    for (mss, range, what) in [
        (&t.adjust_mss, ADJUST_MSS_V4, "ip tcp adjust-mss"),
        (&t.ipv6_adjust_mss, ADJUST_MSS_V6, "ipv6 tcp adjust-mss"),
    ] {
        if let Some(m) = mss {
            if !range.contains(&m.value) {
                d.error(
                    m.line,
                    format!(
                        "{what} {}: must be {}..{}",
                        m.value,
                        range.start(),
                        range.end()
                    ),
                );
            }
        }
    }
}

fn routes(c: &Config, d: &mut Diagnostics) {
    for r in &c.routes {
        let Some(t) = c.tunnel(r.tunnel) else {
            d.error(
                r.line,
                format!("route via {}: no such interface", tunnel_name(r.tunnel)),
            );
            continue;
        };
        let tunnel_vrf = t.vrf.as_ref().map(|v| &v.value);
        if r.vrf.as_ref() != tunnel_vrf {
            let table =
                |v: Option<&String>| v.map_or("the global table".into(), |v| format!("vrf {v}"));
            d.warn(
                r.line,
                format!(
                    "route via {} in {}, but the interface is in {}: the route goes into the interface's",
                    t.name(),
                    table(r.vrf.as_ref()),
                    table(tunnel_vrf)
                ),
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
