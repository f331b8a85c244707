//! Writing the model as TOML (`ikev1d convert`); `read` gives back the same model.

use crate::config::model::*;
use crate::config::words::*;
use crate::dataplane::InnerFamily;
use std::fmt::Display;

/// A TOML string literal, escaped.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    format!("[{}]", items.iter().map(f).collect::<Vec<_>>().join(", "))
}

fn prefix(a: impl Display, len: u8) -> String {
    q(&format!("{a}/{len}"))
}

fn family(f: InnerFamily) -> &'static str {
    match f {
        InnerFamily::V4 => "ipv4",
        InnerFamily::V6 => "ipv6",
    }
}

fn volume(v: VolumeLifetime) -> String {
    match v {
        VolumeLifetime::Kilobytes(k) => k.to_string(),
        VolumeLifetime::Disable => q("disable"),
    }
}

fn replay(r: Replay) -> String {
    match r {
        Replay::WindowSize(n) => n.to_string(),
        Replay::Disable => q("disable"),
    }
}

/// TOML text under construction.
#[derive(Default)]
struct Out(String);

impl Out {
    fn table(&mut self, header: &str, line: u32) {
        self.0.push_str(&format!("\n{header}  # line {line}\n"));
    }
    fn kv(&mut self, key: &str, value: impl Display) {
        self.0.push_str(&format!("{key} = {value}\n"));
    }
    fn opt<T>(&mut self, key: &str, value: &Option<At<T>>, f: impl Fn(&T) -> String) {
        if let Some(v) = value {
            self.kv(key, f(&v.value));
        }
    }
    fn flag(&mut self, key: &str, on: bool) {
        if on {
            self.kv(key, true);
        }
    }
    fn unsupported(&mut self, lines: &[Unsupported]) {
        if !lines.is_empty() {
            self.kv("unsupported", list(lines, |u| q(&u.words)));
        }
    }
    fn key(&mut self, header: &str, k: &Key) {
        self.table(header, k.origin.line);
        self.kv("key", q(&String::from_utf8_lossy(k.key.as_bytes())));
        self.kv("address", prefix(k.address, k.prefix_len));
    }
}

impl Config {
    /// The configuration as TOML that `Config::load` reads back into the same model. The
    /// pre-shared keys are written in clear: this is the configuration itself.
    pub fn to_toml(&self) -> String {
        let mut o = Out::default();
        o.0.push_str(&format!(
            "# ikev1d configuration, converted from {}\n# Comments give the line of each item in that file.\n",
            self.file
        ));
        o.opt("hostname", &self.hostname, |s| q(s));
        o.opt("domain_name", &self.domain_name, |s| q(s));
        o.opt("identity", &self.identity, |i| {
            q(match i {
                Identity::Address => "address",
                Identity::Hostname => "hostname",
            })
        });
        o.opt("nat_keepalive_s", &self.nat_keepalive_s, u32::to_string);
        if self.debug != DebugFlags::default() {
            o.0.push_str("\n[debug]\n");
            o.kv("isakmp", self.debug.isakmp);
            o.kv("ipsec", self.debug.ipsec);
        }
        if let Some(k) = &self.keepalive {
            o.table("[keepalive]", k.line);
            o.kv("interval_s", k.interval_s);
            o.kv("retry_s", k.retry_s);
            o.kv("periodic", k.periodic);
        }
        if self.admission != Admission::default() {
            o.0.push_str("\n[admission]\n");
            o.opt(
                "in_negotiation_sa",
                &self.admission.in_negotiation_sa,
                u32::to_string,
            );
            o.opt("sa", &self.admission.sa, u32::to_string);
        }
        if self.ipsec != IpsecGlobals::default() {
            let g = &self.ipsec;
            o.0.push_str("\n[ipsec]\n");
            o.opt("lifetime_s", &g.lifetime_s, u32::to_string);
            o.opt("lifetime_kb", &g.lifetime_kb, |v| volume(*v));
            o.opt("replay_window", &g.replay, |r| replay(*r));
            o.opt("idle_time_s", &g.idle_time_s, u32::to_string);
            o.opt("df_bit", &g.df_bit, |d| q(d.word()));
        }
        for p in &self.policies {
            o.table("[[policies]]", p.line);
            o.kv("priority", p.priority);
            o.kv("encryption", q(&cipher_words(p.encryption.value)));
            o.kv("hash", q(hash_word(p.hash.value)));
            o.kv("group", group_number(p.group.value));
            o.kv("lifetime_s", p.lifetime_s.value);
            // IOS's default method, rsa-sig, when the policy does not name pre-share.
            o.kv(
                "authentication",
                q(if p.pre_share { "pre-share" } else { "rsa-sig" }),
            );
            o.unsupported(&p.unsupported);
        }
        for k in &self.keys {
            o.key("[[keys]]", k);
        }
        for ring in &self.keyrings {
            o.table("[[keyrings]]", ring.line);
            o.kv("name", q(&ring.name));
            o.opt("vrf", &ring.vrf, |s| q(s));
            o.opt("local_address", &ring.local_address, |s| q(&s.to_string()));
            if let Some(d) = &ring.description {
                o.kv("description", q(d));
            }
            for k in &ring.keys {
                o.key("[[keyrings.keys]]", k);
            }
        }
        for p in &self.isakmp_profiles {
            isakmp_profile(&mut o, p);
        }
        for t in &self.transform_sets {
            o.table("[[transform_sets]]", t.line);
            o.kv("name", q(&t.name));
            o.kv("transforms", q(&t.transforms));
            o.kv("mode", q(if t.transport { "transport" } else { "tunnel" }));
        }
        for p in &self.profiles {
            o.table("[[profiles]]", p.line);
            o.kv("name", q(&p.name));
            o.kv("transform_sets", list(&p.transform_sets, |s| q(&s.value)));
            o.opt("pfs", &p.pfs, |g| group_number(*g).to_string());
            o.opt("lifetime_s", &p.lifetime_s, u32::to_string);
            o.opt("lifetime_kb", &p.lifetime_kb, |v| volume(*v));
            o.opt("replay_window", &p.replay, |r| replay(*r));
            o.opt("idle_time_s", &p.idle_time_s, u32::to_string);
            o.opt("isakmp_profile", &p.isakmp_profile, |s| q(s));
            o.flag("responder_only", p.responder_only);
            o.unsupported(&p.unsupported);
        }
        for t in &self.tunnels {
            tunnel(&mut o, t);
        }
        for r in &self.routes {
            o.table("[[routes]]", r.line);
            o.kv("prefix", prefix(r.prefix, r.prefix_len));
            o.kv("interface", q(&tunnel_name(r.tunnel)));
            if let Some(v) = &r.vrf {
                o.kv("vrf", q(v));
            }
        }
        for v in &self.vrfs {
            o.table("[[vrfs]]", v.line);
            o.kv("name", q(&v.name));
            o.flag("ip_vrf", v.ip_vrf);
            if let Some(rd) = &v.rd {
                o.kv("rd", q(rd));
            }
            if !v.families.is_empty() {
                o.kv("address_families", list(&v.families, |f| q(family(*f))));
            }
        }
        for m in &self.interface_map {
            o.table("[[interface_map]]", m.line);
            o.kv("ios", q(&m.ios));
            o.kv("linux", q(&m.linux));
        }
        o.0
    }
}

fn isakmp_profile(o: &mut Out, p: &IsakmpProfile) {
    o.table("[[isakmp_profiles]]", p.line);
    o.kv("name", q(&p.name));
    if let Some(d) = &p.description {
        o.kv("description", q(d));
    }
    if !p.keyrings.is_empty() {
        o.kv("keyrings", list(&p.keyrings, |k| q(&k.value)));
    }
    if let Some(k) = &p.keepalive {
        o.kv(
            "keepalive",
            format!(
                "{{ interval_s = {}, retry_s = {} }}",
                k.interval_s, k.retry_s
            ),
        );
    }
    o.opt("self_identity", &p.self_identity, |s| {
        q(&match s {
            SelfIdentity::Address => "address".to_string(),
            SelfIdentity::Fqdn => "fqdn".to_string(),
            SelfIdentity::UserFqdn(u) => format!("user-fqdn {u}"),
        })
    });
    o.opt("local_address", &p.local_address, |s| q(&s.to_string()));
    o.opt("vrf", &p.vrf, |s| q(s));
    o.opt("virtual_template", &p.virtual_template, u32::to_string);
    o.unsupported(&p.unsupported);
    // Sub-tables last: the keys after a `[[...match]]` header would be the match's.
    for m in &p.matches {
        o.table("[[isakmp_profiles.match]]", m.line);
        match &m.value {
            IdentityMatch::Address {
                address,
                prefix_len,
                vrf,
            } => {
                o.kv("address", prefix(address, *prefix_len));
                if let Some(v) = vrf {
                    o.kv("vrf", q(v));
                }
            }
            IdentityMatch::Host(h) => o.kv("host", q(h)),
            IdentityMatch::Domain(d) => o.kv("domain", q(d)),
        }
    }
}

fn tunnel(o: &mut Out, t: &Tunnel) {
    o.table("[[tunnels]]", t.line);
    o.kv("name", q(&t.name()));
    if let Some(d) = &t.description {
        o.kv("description", q(d));
    }
    o.opt("ipv4", &t.ipv4, |(a, l)| prefix(a, *l));
    if !t.ipv4_secondary.is_empty() {
        o.kv(
            "ipv4_secondary",
            list(&t.ipv4_secondary, |a| prefix(a.value.0, a.value.1)),
        );
    }
    o.opt("unnumbered", &t.unnumbered, |s| q(s));
    if !t.ipv6.is_empty() {
        o.kv("ipv6", list(&t.ipv6, |a| prefix(a.value.0, a.value.1)));
    }
    o.flag("ipv6_enable", t.ipv6_enable);
    o.opt("link_local", &t.link_local, |a| q(&a.to_string()));
    o.opt("ip_mtu", &t.ip_mtu, u32::to_string);
    o.opt("ipv6_mtu", &t.ipv6_mtu, u32::to_string);
    o.opt("adjust_mss", &t.adjust_mss, u16::to_string);
    o.opt("ipv6_adjust_mss", &t.ipv6_adjust_mss, u16::to_string);
    o.opt("source", &t.source, |s| q(&s.to_string()));
    o.opt("destination", &t.destination, |a| q(&a.to_string()));
    o.opt("mode", &t.mode, |m| q(m.words()));
    o.opt("key", &t.key, u32::to_string);
    o.opt("keepalive", &t.keepalive, |(s, r)| format!("[{s}, {r}]"));
    o.flag("path_mtu_discovery", t.path_mtu_discovery);
    o.opt("df_bit", &t.df_bit, |d| q(d.word()));
    o.opt("profile", &t.profile, |s| q(s));
    o.opt("vrf", &t.vrf, |s| q(s));
    o.opt("tunnel_vrf", &t.tunnel_vrf, |s| q(s));
    o.flag("shutdown", t.shutdown);
}
