//! Reading the TOML dialect into the model.

use crate::config::error::Diagnostics;
use crate::config::ios::values::{linux_ifname, parse_prefix, parse_prefix6, parse_source};
use crate::config::ios::{self, names, Bad};
use crate::config::model::*;
use crate::config::words::*;
use crate::crypto::Secret;
use crate::ike::settings::Origin;
use crate::ipsec::InnerFamily;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    hostname: Option<Spanned<String>>,
    domain_name: Option<Spanned<String>>,
    identity: Option<Spanned<String>>,
    nat_keepalive_s: Option<Spanned<u32>>,
    #[serde(default)]
    debug: RawDebug,
    keepalive: Option<Spanned<RawKeepalive>>,
    #[serde(default)]
    admission: RawAdmission,
    #[serde(default)]
    ipsec: RawIpsec,
    #[serde(default)]
    policies: Vec<Spanned<RawPolicy>>,
    #[serde(default)]
    keys: Vec<Spanned<RawKey>>,
    #[serde(default)]
    keyrings: Vec<Spanned<RawKeyring>>,
    #[serde(default)]
    isakmp_profiles: Vec<Spanned<RawIsakmpProfile>>,
    #[serde(default)]
    transform_sets: Vec<Spanned<RawTransformSet>>,
    #[serde(default)]
    profiles: Vec<Spanned<RawProfile>>,
    #[serde(default)]
    tunnels: Vec<Spanned<RawTunnel>>,
    #[serde(default)]
    routes: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    vrfs: Vec<Spanned<RawVrf>>,
    #[serde(default)]
    interface_map: Vec<Spanned<RawMap>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDebug {
    #[serde(default)]
    isakmp: bool,
    #[serde(default)]
    ipsec: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeepalive {
    interval_s: u32,
    retry_s: Option<u32>,
    #[serde(default)]
    periodic: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAdmission {
    in_negotiation_sa: Option<Spanned<u32>>,
    sa: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIpsec {
    lifetime_s: Option<Spanned<u32>>,
    lifetime_kb: Option<Spanned<toml::Value>>,
    replay_window: Option<Spanned<toml::Value>>,
    idle_time_s: Option<Spanned<u32>>,
    df_bit: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    priority: u32,
    encryption: Option<Spanned<String>>,
    hash: Option<Spanned<String>>,
    group: Option<Spanned<u32>>,
    lifetime_s: Option<Spanned<u32>>,
    /// Unlike IOS, defaults to pre-share: it is the only method ikev1d has.
    authentication: Option<Spanned<String>>,
    #[serde(default)]
    unsupported: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    key: RawSecret,
    address: Spanned<String>,
}

/// A pre-shared key read straight into a `Secret` (a `String` field would be a copy
/// left unwiped in freed memory).
struct RawSecret(Secret);

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawSecret;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawSecret, E> {
                Ok(RawSecret(Secret::new(v.as_bytes().to_vec())))
            }
            fn visit_string<E>(self, v: String) -> Result<RawSecret, E> {
                Ok(RawSecret(Secret::new(v.into_bytes())))
            }
        }
        d.deserialize_string(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyring {
    name: String,
    vrf: Option<Spanned<String>>,
    local_address: Option<Spanned<String>>,
    description: Option<String>,
    #[serde(default)]
    keys: Vec<Spanned<RawKey>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    address: Option<Spanned<String>>,
    vrf: Option<String>,
    host: Option<String>,
    domain: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfileKeepalive {
    interval_s: u32,
    retry_s: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIsakmpProfile {
    name: String,
    description: Option<String>,
    #[serde(default)]
    keyrings: Vec<Spanned<String>>,
    #[serde(default, rename = "match")]
    matches: Vec<Spanned<RawMatch>>,
    keepalive: Option<Spanned<RawProfileKeepalive>>,
    self_identity: Option<Spanned<String>>,
    local_address: Option<Spanned<String>>,
    vrf: Option<Spanned<String>>,
    virtual_template: Option<Spanned<u32>>,
    #[serde(default)]
    unsupported: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransformSet {
    name: String,
    transforms: Option<Spanned<String>>,
    encryption: Option<Spanned<String>>,
    integrity: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    #[serde(default)]
    transform_sets: Vec<Spanned<String>>,
    pfs: Option<Spanned<u32>>,
    lifetime_s: Option<Spanned<u32>>,
    lifetime_kb: Option<Spanned<toml::Value>>,
    replay_window: Option<Spanned<toml::Value>>,
    idle_time_s: Option<Spanned<u32>>,
    isakmp_profile: Option<Spanned<String>>,
    #[serde(default)]
    responder_only: bool,
    #[serde(default)]
    unsupported: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTunnel {
    name: Spanned<String>,
    description: Option<String>,
    ipv4: Option<Spanned<String>>,
    #[serde(default)]
    ipv4_secondary: Vec<Spanned<String>>,
    unnumbered: Option<Spanned<String>>,
    #[serde(default)]
    ipv6: Vec<Spanned<String>>,
    #[serde(default)]
    ipv6_enable: bool,
    link_local: Option<Spanned<String>>,
    ip_mtu: Option<Spanned<u32>>,
    ipv6_mtu: Option<Spanned<u32>>,
    adjust_mss: Option<Spanned<u16>>,
    ipv6_adjust_mss: Option<Spanned<u16>>,
    source: Option<Spanned<String>>,
    destination: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    key: Option<Spanned<u32>>,
    keepalive: Option<Spanned<(u32, u32)>>,
    #[serde(default)]
    path_mtu_discovery: bool,
    df_bit: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    vrf: Option<Spanned<String>>,
    tunnel_vrf: Option<Spanned<String>>,
    #[serde(default)]
    shutdown: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: Spanned<String>,
    interface: Spanned<String>,
    vrf: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVrf {
    name: String,
    #[serde(default)]
    ip_vrf: bool,
    rd: Option<String>,
    #[serde(default)]
    address_families: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    ios: Spanned<String>,
    linux: Spanned<String>,
}

/// Byte offsets to 1-based line numbers.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(text.match_indices('\n').map(|(i, _)| i).collect())
    }
    fn line(&self, offset: usize) -> u32 {
        u32::try_from(self.0.partition_point(|&nl| nl < offset) + 1).unwrap_or(u32::MAX)
    }
    fn of<T>(&self, s: &Spanned<T>) -> u32 {
        self.line(s.span().start)
    }
}

/// Reads values, reporting a bad one at its own line.
struct Reader<'d> {
    d: &'d mut Diagnostics,
    lines: Lines,
}

impl Reader<'_> {
    fn value<T, U>(
        &mut self,
        raw: &Spanned<T>,
        convert: impl FnOnce(&T) -> Result<U, String>,
    ) -> Option<At<U>> {
        let line = self.lines.of(raw);
        match convert(raw.get_ref()) {
            Ok(v) => Some(At::new(v, line)),
            Err(message) => {
                self.d.error(line, message);
                None
            }
        }
    }

    fn opt<T, U>(
        &mut self,
        raw: &Option<Spanned<T>>,
        convert: impl FnOnce(&T) -> Result<U, String>,
    ) -> Option<At<U>> {
        raw.as_ref().and_then(|r| self.value(r, convert))
    }

    /// A plain value with its line.
    fn at<T: Clone>(&self, raw: &Option<Spanned<T>>) -> Option<At<T>> {
        raw.as_ref()
            .map(|r| At::new(r.get_ref().clone(), self.lines.of(r)))
    }

    /// `unsupported = ["group 19", ...]`: IOS lines, applied by the IOS dialect.
    fn ios_lines<T>(
        &mut self,
        item: &mut T,
        lines: &[Spanned<String>],
        apply: fn(&mut T, &[&str], u32, &mut Diagnostics) -> ios::Res,
    ) {
        for raw in lines {
            let line = self.lines.of(raw);
            let words: Vec<&str> = raw.get_ref().split_whitespace().collect();
            match apply(item, &words, line, self.d) {
                Ok(()) => {}
                Err(Bad::Error(m)) => self.d.error(line, m),
                Err(Bad::Unsupported) => self.d.error(
                    line,
                    format!(
                        "unsupported = `{}`: not a line of this block",
                        crate::config::redact::redacted(&words)
                    ),
                ),
            }
        }
    }

    fn key(&mut self, raw: &Spanned<RawKey>) -> Option<Key> {
        let line = self.lines.of(raw);
        let r = raw.get_ref();
        let file = self.d.file.clone();
        let address = self.value(&r.address, |s| match parse_prefix(s) {
            Ok(p) => Ok(p),
            Err(e) => s
                .parse::<IpAddr>()
                .map(|a| (a, if a.is_ipv4() { 32 } else { 128 }))
                .map_err(|_| e),
        })?;
        let (address, prefix_len) = address.value;
        Some(Key {
            key: r.key.0.clone(),
            address,
            prefix_len,
            origin: Origin { file, line },
        })
    }
}

fn source(s: &str) -> Result<TunnelSource, String> {
    parse_source(&[s])
}

fn volume(v: &toml::Value) -> Result<VolumeLifetime, String> {
    match v {
        toml::Value::Integer(n) => u64::try_from(*n)
            .map(VolumeLifetime::Kilobytes)
            .map_err(|_| format!("lifetime_kb {n}: must be positive")),
        toml::Value::String(s) if s == "disable" => Ok(VolumeLifetime::Disable),
        _ => Err("lifetime_kb: a number of kilobytes or \"disable\"".into()),
    }
}

fn replay(v: &toml::Value) -> Result<Replay, String> {
    match v {
        toml::Value::Integer(n) => u32::try_from(*n)
            .map(Replay::WindowSize)
            .map_err(|_| format!("replay_window {n}: out of range")),
        toml::Value::String(s) if s == "disable" => Ok(Replay::Disable),
        _ => Err("replay_window: a number of packets or \"disable\"".into()),
    }
}

fn df_bit(s: &str) -> Result<DfBit, String> {
    [DfBit::Clear, DfBit::Set, DfBit::Copy]
        .into_iter()
        .find(|d| d.word() == s)
        .ok_or_else(|| format!("df_bit `{s}`: use clear, set or copy"))
}

fn family(s: &str) -> Result<InnerFamily, String> {
    match s {
        "ipv4" => Ok(InnerFamily::V4),
        "ipv6" => Ok(InnerFamily::V6),
        _ => Err(format!("`{s}`: use ipv4 or ipv6")),
    }
}

fn mode(s: &str) -> Result<TunnelMode, String> {
    // `ipv4` / `ipv6` alone: the first TOML dialect's VTI modes.
    let words: Vec<&str> = match s {
        "ipv4" | "ipv6" => vec!["ipsec", s],
        _ => s.split_whitespace().collect(),
    };
    TunnelMode::from_words(&words)
}

pub(crate) fn parse(text: &str, d: &mut Diagnostics) -> Config {
    let mut cfg = Config {
        file: d.file.clone(),
        ..Config::default()
    };
    let mut r = Reader {
        d,
        lines: Lines::new(text),
    };
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map_or(0, |s| r.lines.line(s.start));
            // serde quotes the value it could not read: not when it is a key.
            let on_key = text
                .lines()
                .nth((line as usize).saturating_sub(1))
                .is_some_and(|l| l.trim_start().starts_with("key"));
            let message = if on_key {
                "`key` must be a TOML string (the pre-shared key, in quotes)".to_string()
            } else {
                e.message().trim().to_string()
            };
            r.d.error(line, message);
            return cfg;
        }
    };
    cfg.hostname = r.at(&file.hostname);
    cfg.domain_name = r.at(&file.domain_name);
    cfg.identity = r.opt(&file.identity, |s| match s.as_str() {
        "address" => Ok(Identity::Address),
        "hostname" => Ok(Identity::Hostname),
        _ => Err(format!("identity `{s}`: use address or hostname")),
    });
    cfg.debug = DebugFlags {
        isakmp: file.debug.isakmp,
        ipsec: file.debug.ipsec,
    };
    cfg.nat_keepalive_s = r.at(&file.nat_keepalive_s);
    cfg.keepalive = file.keepalive.as_ref().map(|k| {
        let line = r.lines.of(k);
        let k = k.get_ref();
        Keepalive {
            interval_s: k.interval_s,
            retry_s: k.retry_s.unwrap_or(defaults::DPD_RETRY_S),
            periodic: k.periodic,
            line,
        }
    });
    cfg.admission = Admission {
        in_negotiation_sa: r.at(&file.admission.in_negotiation_sa),
        sa: r.at(&file.admission.sa),
    };
    let g = &file.ipsec;
    cfg.ipsec = IpsecGlobals {
        lifetime_s: r.at(&g.lifetime_s),
        lifetime_kb: r.opt(&g.lifetime_kb, volume),
        replay: r.opt(&g.replay_window, replay),
        idle_time_s: r.at(&g.idle_time_s),
        df_bit: r.opt(&g.df_bit, |s| df_bit(s)),
    };
    for raw in &file.policies {
        let p = policy(&mut r, raw);
        cfg.policies.push(p);
    }
    for raw in &file.keys {
        cfg.keys.extend(r.key(raw));
    }
    for raw in &file.keyrings {
        let k = raw.get_ref();
        let mut ring = Keyring::new(k.name.clone(), r.lines.of(raw));
        ring.vrf = r.at(&k.vrf);
        ring.local_address = r.opt(&k.local_address, |s| source(s));
        ring.description = k.description.clone();
        for key in &k.keys {
            ring.keys.extend(r.key(key));
        }
        cfg.keyrings.push(ring);
    }
    for raw in &file.isakmp_profiles {
        let p = isakmp_profile(&mut r, raw);
        cfg.isakmp_profiles.push(p);
    }
    for raw in &file.transform_sets {
        cfg.transform_sets.extend(transform_set(&mut r, raw));
    }
    for raw in &file.profiles {
        let p = profile(&mut r, raw);
        cfg.profiles.push(p);
    }
    for raw in &file.tunnels {
        cfg.tunnels.extend(tunnel(&mut r, raw));
    }
    for raw in &file.routes {
        let x = raw.get_ref();
        let prefix = r.value(&x.prefix, |s| parse_prefix(s));
        let tunnel = r.value(&x.interface, |s| {
            names::tunnel_number(&[s]).ok_or_else(|| format!("interface `{s}`: expected TunnelN"))
        });
        if let (Some(p), Some(t)) = (prefix, tunnel) {
            cfg.routes.push(Route {
                prefix: p.value.0,
                prefix_len: p.value.1,
                tunnel: t.value,
                vrf: x.vrf.clone(),
                line: r.lines.of(raw),
            });
        }
    }
    for raw in &file.vrfs {
        let v = raw.get_ref();
        let families = v
            .address_families
            .iter()
            .filter_map(|f| r.value(f, |s| family(s)).map(|f| f.value))
            .collect();
        cfg.vrfs.push(Vrf {
            name: v.name.clone(),
            line: r.lines.of(raw),
            ip_vrf: v.ip_vrf,
            rd: v.rd.clone(),
            families,
        });
    }
    for raw in &file.interface_map {
        let m = raw.get_ref();
        let line = r.lines.of(raw);
        let linux = r.value(&m.linux, |s| linux_ifname(s).map(str::to_string));
        if let Some(linux) = linux {
            cfg.interface_map.push(InterfaceMap {
                ios: names::interface_ref(m.ios.get_ref()),
                linux: linux.value,
                line,
            });
        }
    }
    cfg
}

fn policy(r: &mut Reader, raw: &Spanned<RawPolicy>) -> Policy {
    let x = raw.get_ref();
    let mut p = Policy::new(x.priority, r.lines.of(raw));
    if let Some(v) = r.opt(&x.encryption, |s| {
        parse_cipher(&s.split_whitespace().collect::<Vec<_>>())
    }) {
        p.encryption = v;
    }
    if let Some(v) = r.opt(&x.hash, |s| parse_hash(s)) {
        p.hash = v;
    }
    if let Some(v) = r.opt(&x.group, |n| group_from_number(&n.to_string())) {
        p.group = v;
    }
    if let Some(v) = r.at(&x.lifetime_s) {
        p.lifetime_s = v;
    }
    p.pre_share = x
        .authentication
        .as_ref()
        .is_none_or(|a| a.get_ref() == "pre-share");
    r.ios_lines(&mut p, &x.unsupported, ios::apply_policy_line);
    p
}

fn isakmp_profile(r: &mut Reader, raw: &Spanned<RawIsakmpProfile>) -> IsakmpProfile {
    let x = raw.get_ref();
    let mut p = IsakmpProfile::new(x.name.clone(), r.lines.of(raw));
    p.description = x.description.clone();
    p.keyrings = x
        .keyrings
        .iter()
        .map(|k| At::new(k.get_ref().clone(), r.lines.of(k)))
        .collect();
    for m in &x.matches {
        let mx = m.get_ref();
        let matched = match (&mx.address, &mx.host, &mx.domain) {
            (Some(a), None, None) => {
                r.value(a, |s| parse_prefix(s))
                    .map(|a| IdentityMatch::Address {
                        address: a.value.0,
                        prefix_len: a.value.1,
                        vrf: mx.vrf.clone(),
                    })
            }
            (None, Some(h), None) if mx.vrf.is_none() => {
                Some(IdentityMatch::Host(h.to_ascii_lowercase()))
            }
            (None, None, Some(d)) if mx.vrf.is_none() => {
                Some(IdentityMatch::Domain(d.to_ascii_lowercase()))
            }
            _ => {
                r.d.error(
                    r.lines.of(m),
                    "match: one of address (with an optional vrf), host or domain",
                );
                None
            }
        };
        if let Some(matched) = matched {
            p.matches.push(At::new(matched, r.lines.of(m)));
        }
    }
    p.keepalive = x.keepalive.as_ref().map(|k| Keepalive {
        interval_s: k.get_ref().interval_s,
        retry_s: k.get_ref().retry_s.unwrap_or(defaults::DPD_RETRY_S),
        periodic: false,
        line: r.lines.of(k),
    });
    p.self_identity = r.opt(&x.self_identity, |s| {
        match s.split_whitespace().collect::<Vec<_>>()[..] {
            ["address"] => Ok(SelfIdentity::Address),
            ["fqdn"] => Ok(SelfIdentity::Fqdn),
            ["user-fqdn", u] => Ok(SelfIdentity::UserFqdn(u.to_string())),
            _ => Err(format!(
                "self_identity `{s}`: use address, fqdn or \"user-fqdn NAME\""
            )),
        }
    });
    p.local_address = r.opt(&x.local_address, |s| source(s));
    p.vrf = r.at(&x.vrf);
    p.virtual_template = r.at(&x.virtual_template);
    r.ios_lines(&mut p, &x.unsupported, ios::apply_isakmp_profile_line);
    p
}

fn transform_set(r: &mut Reader, raw: &Spanned<RawTransformSet>) -> Option<TransformSet> {
    let x = raw.get_ref();
    let line = r.lines.of(raw);
    let transforms = match (&x.transforms, &x.encryption, &x.integrity) {
        (Some(t), None, None) => t.get_ref().clone(),
        // The first TOML dialect's form.
        (None, Some(e), Some(i)) => format!("{} {}", e.get_ref(), i.get_ref()),
        _ => {
            r.d.error(
                line,
                format!(
                    "transform set {}: give `transforms` (as IOS writes them after the name)",
                    x.name
                ),
            );
            return None;
        }
    };
    let transport = match &x.mode {
        None => false,
        Some(m) => {
            r.value(m, |s| match s.as_str() {
                "tunnel" => Ok(false),
                "transport" => Ok(true),
                _ => Err(format!("mode `{s}`: use tunnel or transport")),
            })?
            .value
        }
    };
    let words: Vec<&str> = transforms.split_whitespace().collect();
    let (transforms, esp) = ios::transforms_of(&words);
    Some(TransformSet {
        name: x.name.clone(),
        line,
        transforms,
        esp,
        transport,
    })
}

fn profile(r: &mut Reader, raw: &Spanned<RawProfile>) -> Profile {
    let x = raw.get_ref();
    let mut p = Profile::new(x.name.clone(), r.lines.of(raw));
    p.transform_sets = x
        .transform_sets
        .iter()
        .map(|t| At::new(t.get_ref().clone(), r.lines.of(t)))
        .collect();
    p.pfs = r.opt(&x.pfs, |n| group_from_number(&n.to_string()));
    p.lifetime_s = r.at(&x.lifetime_s);
    p.lifetime_kb = r.opt(&x.lifetime_kb, volume);
    p.replay = r.opt(&x.replay_window, replay);
    p.idle_time_s = r.at(&x.idle_time_s);
    p.isakmp_profile = r.at(&x.isakmp_profile);
    p.responder_only = x.responder_only;
    r.ios_lines(&mut p, &x.unsupported, ios::apply_profile_line);
    p
}

fn tunnel(r: &mut Reader, raw: &Spanned<RawTunnel>) -> Option<Tunnel> {
    let x = raw.get_ref();
    let (kind, number) = r
        .value(&x.name, |s| match names::parse_interface(&[s]) {
            Some(("Tunnel", n)) => n
                .parse()
                .ok()
                .filter(|n| *n <= MAX_TUNNEL_NUMBER)
                .map(|n| (InterfaceKind::Tunnel, n))
                .ok_or_else(|| format!("tunnel name `{s}`: Tunnel0..Tunnel{MAX_TUNNEL_NUMBER}")),
            Some(("Virtual-Template", n)) => n
                .parse()
                .map(|n| (InterfaceKind::VirtualTemplate, n))
                .map_err(|_| format!("tunnel name `{s}`: bad number")),
            _ => Err(format!(
                "tunnel name `{s}`: expected TunnelN or Virtual-TemplateN"
            )),
        })?
        .value;
    let mut t = Tunnel::new(kind, number, r.lines.of(raw));
    t.description = x.description.clone();
    let v4 = |s: &String| match parse_prefix(s)? {
        (IpAddr::V4(a), len) => Ok((a, len)),
        _ => Err(format!("`{s}` is not an IPv4 prefix")),
    };
    t.ipv4 = r.opt(&x.ipv4, v4);
    t.ipv4_secondary = x
        .ipv4_secondary
        .iter()
        .filter_map(|a| r.value(a, v4))
        .collect::<Vec<At<(Ipv4Addr, u8)>>>();
    t.unnumbered = r.opt(&x.unnumbered, |s| {
        linux_ifname(s)
            .map(|_| names::interface_ref(s))
            .or_else(|e| names::canonical(&[s]).ok_or(e))
    });
    t.ipv6 = x
        .ipv6
        .iter()
        .filter_map(|a| r.value(a, |s| parse_prefix6(s)))
        .collect();
    t.ipv6_enable = x.ipv6_enable;
    t.link_local = r.opt(&x.link_local, |s| {
        s.parse::<Ipv6Addr>()
            .map_err(|_| format!("link_local `{s}` is not an IPv6 address"))
    });
    t.ip_mtu = r.at(&x.ip_mtu);
    t.ipv6_mtu = r.at(&x.ipv6_mtu);
    t.adjust_mss = r.at(&x.adjust_mss);
    t.ipv6_adjust_mss = r.at(&x.ipv6_adjust_mss);
    t.source = r.opt(&x.source, |s| source(s));
    t.destination = r.opt(&x.destination, |s| {
        s.parse::<IpAddr>()
            .map_err(|_| format!("destination `{s}` is not an IP address"))
    });
    t.mode = r.opt(&x.mode, |s| mode(s));
    t.key = r.at(&x.key);
    t.keepalive = r.at(&x.keepalive);
    t.path_mtu_discovery = x.path_mtu_discovery;
    t.df_bit = r.opt(&x.df_bit, |s| df_bit(s));
    t.profile = r.at(&x.profile);
    t.vrf = r.at(&x.vrf);
    t.tunnel_vrf = r.at(&x.tunnel_vrf);
    t.shutdown = x.shutdown;
    Some(t)
}
