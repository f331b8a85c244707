//! The TOML dialect: the same model, for automation. Algorithms are spelled as in IOS
//! (`encryption = "aes 256"`, `integrity = "esp-sha-hmac"`); every value keeps its span,
//! so errors name the TOML line. `to_toml` writes what `load` reads back, which is how
//! `ikev1d convert` turns an IOS file into TOML.
//!
//! ```toml
//! nat_keepalive_s = 20              # optional
//! [debug]                           # optional: isakmp / ipsec = true
//! [keepalive]                       # optional DPD: interval_s, retry_s, periodic
//! [[policies]]                      # priority, encryption, hash, group, lifetime_s, authentication
//! [[keys]]                          # key, address ("::/0", "192.0.2.0/24", "192.0.2.1")
//! [[transform_sets]]                # name, encryption, integrity, mode
//! [[profiles]]                      # name, transform_sets, pfs, lifetime_s, lifetime_kb
//! [[tunnels]]                       # name, description, ipv4, ipv6, link_local, ip_mtu,
//!                                   # ipv6_mtu, source, destination, mode, profile, shutdown
//! [[routes]]                        # prefix, interface
//! ```

use super::error::Diagnostics;
use super::ios::{parse_prefix, parse_source, tunnel_number};
use super::model::*;
use super::words::*;
use crate::crypto::Secret;
use crate::ike::settings::Origin;
use crate::ipsec::InnerFamily;
use serde::Deserialize;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    nat_keepalive_s: Option<Spanned<u32>>,
    #[serde(default)]
    debug: RawDebug,
    keepalive: Option<Spanned<RawKeepalive>>,
    #[serde(default)]
    policies: Vec<Spanned<RawPolicy>>,
    #[serde(default)]
    keys: Vec<Spanned<RawKey>>,
    #[serde(default)]
    transform_sets: Vec<Spanned<RawTransformSet>>,
    #[serde(default)]
    profiles: Vec<Spanned<RawProfile>>,
    #[serde(default)]
    tunnels: Vec<Spanned<RawTunnel>>,
    #[serde(default)]
    routes: Vec<Spanned<RawRoute>>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    priority: u32,
    encryption: Option<Spanned<String>>,
    hash: Option<Spanned<String>>,
    group: Option<Spanned<u32>>,
    lifetime_s: Option<Spanned<u32>>,
    /// Unlike IOS, defaults to pre-share: it is the only method there is.
    authentication: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    key: String,
    address: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransformSet {
    name: String,
    encryption: Spanned<String>,
    integrity: Spanned<String>,
    mode: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    transform_sets: Vec<Spanned<String>>,
    pfs: Option<Spanned<u32>>,
    lifetime_s: Option<Spanned<u32>>,
    lifetime_kb: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTunnel {
    name: Spanned<String>,
    description: Option<String>,
    ipv4: Option<Spanned<String>>,
    #[serde(default)]
    ipv6: Vec<Spanned<String>>,
    link_local: Option<Spanned<String>>,
    ip_mtu: Option<Spanned<u32>>,
    ipv6_mtu: Option<Spanned<u32>>,
    source: Option<Spanned<String>>,
    destination: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    #[serde(default)]
    shutdown: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: Spanned<String>,
    interface: Spanned<String>,
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

pub(crate) fn parse(text: &str, d: &mut Diagnostics) -> Config {
    let lines = Lines::new(text);
    let mut cfg = Config {
        file: d.file.clone(),
        ..Config::default()
    };
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map_or(0, |s| lines.line(s.start));
            d.error(line, e.message().trim().to_string());
            return cfg;
        }
    };
    // Converts one value, reporting a bad one at its own line.
    fn value<T, U>(
        d: &mut Diagnostics,
        lines: &Lines,
        raw: &Spanned<T>,
        convert: impl FnOnce(&T) -> Result<U, String>,
    ) -> Option<At<U>> {
        let line = lines.of(raw);
        match convert(raw.get_ref()) {
            Ok(v) => Some(At::new(v, line)),
            Err(message) => {
                d.error(line, message);
                None
            }
        }
    }

    cfg.debug = DebugFlags {
        isakmp: file.debug.isakmp,
        ipsec: file.debug.ipsec,
    };
    cfg.nat_keepalive_s = file
        .nat_keepalive_s
        .map(|n| At::new(*n.get_ref(), lines.of(&n)));
    cfg.keepalive = file.keepalive.map(|k| {
        let line = lines.of(&k);
        let k = k.into_inner();
        Keepalive {
            interval_s: k.interval_s,
            retry_s: k.retry_s.unwrap_or(defaults::DPD_RETRY_S),
            periodic: k.periodic,
            line,
        }
    });
    for raw in &file.policies {
        let mut p = Policy::new(raw.get_ref().priority, lines.of(raw));
        let r = raw.get_ref();
        if let Some(v) = &r.encryption {
            p.encryption = value(d, &lines, v, |s| {
                parse_cipher(&s.split_whitespace().collect::<Vec<_>>())
            })
            .unwrap_or(p.encryption);
        }
        if let Some(v) = &r.hash {
            p.hash = value(d, &lines, v, |s| parse_hash(s)).unwrap_or(p.hash);
        }
        if let Some(v) = &r.group {
            p.group = value(d, &lines, v, |n| group_from_number(&n.to_string())).unwrap_or(p.group);
        }
        if let Some(v) = &r.lifetime_s {
            p.lifetime_s = At::new(*v.get_ref(), lines.of(v));
        }
        p.pre_share = match &r.authentication {
            None => true,
            Some(v) => value(d, &lines, v, |s| {
                if s == "pre-share" {
                    Ok(())
                } else {
                    Err(format!("authentication `{s}`: only pre-share is supported"))
                }
            })
            .is_some(),
        };
        cfg.policies.push(p);
    }
    for raw in &file.keys {
        let line = lines.of(raw);
        let r = raw.get_ref();
        let address = value(d, &lines, &r.address, |s| match parse_prefix(s) {
            Ok(p) => Ok(p),
            Err(e) => s
                .parse::<IpAddr>()
                .map(|a| (a, if a.is_ipv4() { 32 } else { 128 }))
                .map_err(|_| e),
        });
        if let Some(At {
            value: (address, prefix_len),
            ..
        }) = address
        {
            cfg.keys.push(Key {
                key: Secret::new(r.key.as_bytes().to_vec()),
                address,
                prefix_len,
                origin: Origin {
                    file: cfg.file.clone(),
                    line,
                },
            });
        }
    }
    for raw in &file.transform_sets {
        let r = raw.get_ref();
        let encryption = value(d, &lines, &r.encryption, |s| {
            parse_esp_encr(&s.split_whitespace().collect::<Vec<_>>())
        });
        let integrity = value(d, &lines, &r.integrity, |s| parse_esp_auth(s));
        let transport = match &r.mode {
            None => Some(false),
            Some(m) => value(d, &lines, m, |s| match s.as_str() {
                "tunnel" => Ok(false),
                "transport" => Ok(true),
                _ => Err(format!("mode `{s}`: use tunnel or transport")),
            })
            .map(|m| m.value),
        };
        if let (Some(e), Some(i), Some(transport)) = (encryption, integrity, transport) {
            cfg.transform_sets.push(TransformSet {
                name: r.name.clone(),
                line: lines.of(raw),
                encryption: e.value,
                integrity: i.value,
                transport,
            });
        }
    }
    for raw in &file.profiles {
        let r = raw.get_ref();
        let mut p = Profile::new(r.name.clone(), lines.of(raw));
        p.transform_sets = r
            .transform_sets
            .iter()
            .map(|t| At::new(t.get_ref().clone(), lines.of(t)))
            .collect();
        if let Some(g) = &r.pfs {
            p.pfs = value(d, &lines, g, |n| group_from_number(&n.to_string()));
        }
        if let Some(s) = &r.lifetime_s {
            p.lifetime_s = At::new(*s.get_ref(), lines.of(s));
        }
        if let Some(kb) = &r.lifetime_kb {
            p.lifetime_kb = At::new(*kb.get_ref(), lines.of(kb));
        }
        cfg.profiles.push(p);
    }
    for raw in &file.tunnels {
        let r = raw.get_ref();
        let Some(number) = value(d, &lines, &r.name, |s| {
            tunnel_number(&[s]).ok_or_else(|| format!("tunnel name `{s}`: expected TunnelN"))
        }) else {
            continue;
        };
        let mut t = Tunnel::new(number.value, lines.of(raw));
        t.description = r.description.clone();
        t.ipv4 = r.ipv4.as_ref().and_then(|v| {
            value(d, &lines, v, |s| match parse_prefix(s)? {
                (IpAddr::V4(a), len) => Ok((a, len)),
                _ => Err(format!("ipv4 `{s}` is not an IPv4 prefix")),
            })
        });
        t.ipv6 = r
            .ipv6
            .iter()
            .filter_map(|v| {
                value(d, &lines, v, |s| match parse_prefix(s)? {
                    (IpAddr::V6(a), len) => Ok((a, len)),
                    _ => Err(format!("ipv6 `{s}` is not an IPv6 prefix")),
                })
            })
            .collect();
        t.link_local = r.link_local.as_ref().and_then(|v| {
            value(d, &lines, v, |s| {
                s.parse::<Ipv6Addr>()
                    .map_err(|_| format!("link_local `{s}` is not an IPv6 address"))
            })
        });
        t.ip_mtu = r
            .ip_mtu
            .as_ref()
            .map(|m| At::new(*m.get_ref(), lines.of(m)));
        t.ipv6_mtu = r
            .ipv6_mtu
            .as_ref()
            .map(|m| At::new(*m.get_ref(), lines.of(m)));
        t.source = r
            .source
            .as_ref()
            .and_then(|v| value(d, &lines, v, |s| parse_source(s)));
        t.destination = r.destination.as_ref().and_then(|v| {
            value(d, &lines, v, |s| {
                s.parse::<IpAddr>()
                    .map_err(|_| format!("destination `{s}` is not an IP address"))
            })
        });
        t.mode = r.mode.as_ref().and_then(|v| {
            value(d, &lines, v, |s| match s.as_str() {
                "ipv4" => Ok(InnerFamily::V4),
                "ipv6" => Ok(InnerFamily::V6),
                _ => Err(format!(
                    "mode `{s}`: use ipv4 or ipv6 (tunnel mode ipsec ...)"
                )),
            })
        });
        t.profile = r
            .profile
            .as_ref()
            .map(|p| At::new(p.get_ref().clone(), lines.of(p)));
        t.shutdown = r.shutdown;
        cfg.tunnels.push(t);
    }
    for raw in &file.routes {
        let r = raw.get_ref();
        let prefix = value(d, &lines, &r.prefix, |s| parse_prefix(s));
        let tunnel = value(d, &lines, &r.interface, |s| {
            tunnel_number(&[s]).ok_or_else(|| format!("interface `{s}`: expected TunnelN"))
        });
        if let (Some(p), Some(t)) = (prefix, tunnel) {
            cfg.routes.push(Route {
                prefix: p.value.0,
                prefix_len: p.value.1,
                tunnel: t.value,
                line: lines.of(raw),
            });
        }
    }
    cfg
}

/// A TOML string literal, escaped.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl Config {
    /// The configuration as TOML that `Config::load` reads back into the same model. The
    /// pre-shared keys are written in clear: this is the configuration itself.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let mut w = |s: String| out.push_str(&s);
        w(format!(
            "# ikev1d configuration, converted from {}\n",
            self.file
        ));
        w("# Comments give the line of each item in that file.\n".into());
        if let Some(n) = &self.nat_keepalive_s {
            w(format!(
                "nat_keepalive_s = {}  # line {}\n",
                n.value, n.line
            ));
        }
        if self.debug != DebugFlags::default() {
            w(format!(
                "\n[debug]\nisakmp = {}\nipsec = {}\n",
                self.debug.isakmp, self.debug.ipsec
            ));
        }
        if let Some(k) = &self.keepalive {
            w(format!(
                "\n[keepalive]  # line {}\ninterval_s = {}\nretry_s = {}\nperiodic = {}\n",
                k.line, k.interval_s, k.retry_s, k.periodic
            ));
        }
        for p in &self.policies {
            w(format!(
                "\n[[policies]]  # line {}\npriority = {}\nencryption = {}\nhash = {}\ngroup = {}\nlifetime_s = {}\n",
                p.line,
                p.priority,
                q(&cipher_words(p.encryption.value)),
                q(hash_word(p.hash.value)),
                group_number(p.group.value),
                p.lifetime_s.value
            ));
            if p.pre_share {
                w("authentication = \"pre-share\"\n".into());
            }
        }
        for k in &self.keys {
            let key = String::from_utf8_lossy(k.key.as_bytes());
            w(format!(
                "\n[[keys]]  # line {}\nkey = {}\naddress = {}\n",
                k.origin.line,
                q(&key),
                q(&format!("{}/{}", k.address, k.prefix_len))
            ));
        }
        for t in &self.transform_sets {
            w(format!(
                "\n[[transform_sets]]  # line {}\nname = {}\nencryption = {}\nintegrity = {}\nmode = {}\n",
                t.line,
                q(&t.name),
                q(&esp_encr_words(t.encryption)),
                q(esp_auth_word(t.integrity)),
                q(if t.transport { "transport" } else { "tunnel" })
            ));
        }
        for p in &self.profiles {
            let sets: Vec<String> = p.transform_sets.iter().map(|s| q(&s.value)).collect();
            w(format!(
                "\n[[profiles]]  # line {}\nname = {}\ntransform_sets = [{}]\n",
                p.line,
                q(&p.name),
                sets.join(", ")
            ));
            if let Some(g) = &p.pfs {
                w(format!("pfs = {}\n", group_number(g.value)));
            }
            w(format!(
                "lifetime_s = {}\nlifetime_kb = {}\n",
                p.lifetime_s.value, p.lifetime_kb.value
            ));
        }
        for t in &self.tunnels {
            let mut s = format!(
                "\n[[tunnels]]  # line {}\nname = {}\n",
                t.line,
                q(&t.name())
            );
            let mut field = |k: &str, v: String| {
                let _ = writeln!(s, "{k} = {v}");
            };
            if let Some(d) = &t.description {
                field("description", q(d));
            }
            if let Some(a) = &t.ipv4 {
                field("ipv4", q(&format!("{}/{}", a.value.0, a.value.1)));
            }
            if !t.ipv6.is_empty() {
                let v: Vec<String> = t
                    .ipv6
                    .iter()
                    .map(|a| q(&format!("{}/{}", a.value.0, a.value.1)))
                    .collect();
                field("ipv6", format!("[{}]", v.join(", ")));
            }
            if let Some(a) = &t.link_local {
                field("link_local", q(&a.value.to_string()));
            }
            if let Some(m) = &t.ip_mtu {
                field("ip_mtu", m.value.to_string());
            }
            if let Some(m) = &t.ipv6_mtu {
                field("ipv6_mtu", m.value.to_string());
            }
            if let Some(src) = &t.source {
                field("source", q(&src.value.to_string()));
            }
            if let Some(a) = &t.destination {
                field("destination", q(&a.value.to_string()));
            }
            if let Some(m) = &t.mode {
                let family = match m.value {
                    InnerFamily::V4 => "ipv4",
                    InnerFamily::V6 => "ipv6",
                };
                field("mode", q(family));
            }
            if let Some(p) = &t.profile {
                field("profile", q(&p.value));
            }
            if t.shutdown {
                field("shutdown", "true".into());
            }
            w(s);
        }
        for r in &self.routes {
            w(format!(
                "\n[[routes]]  # line {}\nprefix = {}\ninterface = {}\n",
                r.line,
                q(&format!("{}/{}", r.prefix, r.prefix_len)),
                q(&tunnel_name(r.tunnel))
            ));
        }
        out
    }
}
