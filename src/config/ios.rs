//! The IOS dialect: the crypto and tunnel part of a running configuration, as
//! `show running-config` prints it or as pasted into `configure terminal`.
//!
//! A sub-command belongs to the last mode opened (`crypto isakmp policy`, `crypto ipsec
//! transform-set`, `crypto ipsec profile`, `interface TunnelN`), indented or not. An
//! unindented line is a global command when it is one we know; otherwise it belongs to
//! the open mode if that mode has the keyword. Anything else is warned about with its
//! line number and ignored, together with its indented sub-commands (`interface
//! Ethernet0/0` must not lend its `ip address` to the tunnel above it).
//!
//! Entering an existing mode again edits it, as on IOS (`crypto isakmp policy 10` twice
//! is one policy).

use super::error::Diagnostics;
use super::model::*;
use super::words::*;
use crate::crypto::Secret;
use crate::ike::settings::Origin;
use crate::ipsec::InnerFamily;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a line was not applied.
enum Bad {
    /// Outside the supported subset: warned about and ignored.
    Unsupported,
    /// A supported command with a wrong or unsupported value: the file is rejected.
    Error(String),
}

impl From<String> for Bad {
    fn from(message: String) -> Self {
        Bad::Error(message)
    }
}

type Res = Result<(), Bad>;

const POLICY_WORDS: &[&str] = &["encryption", "hash", "group", "lifetime", "authentication"];
const TRANSFORM_SET_WORDS: &[&str] = &["mode"];
const PROFILE_WORDS: &[&str] = &["set"];
const TUNNEL_WORDS: &[&str] = &["description", "ip", "ipv6", "tunnel", "shutdown", "no"];

#[derive(Debug, Clone, Copy)]
enum Mode {
    Global,
    Policy(usize),
    TransformSet(usize),
    Profile(usize),
    Tunnel(usize),
    /// Inside an unsupported block opened at `line`: its sub-commands are ignored too.
    Ignored {
        line: u32,
    },
    /// The mode's opening line was an error (already reported): skip its sub-commands.
    Failed(&'static [&'static str]),
}

impl Mode {
    fn sub_words(self) -> &'static [&'static str] {
        match self {
            Mode::Global | Mode::Ignored { .. } => &[],
            Mode::Policy(_) => POLICY_WORDS,
            Mode::TransformSet(_) => TRANSFORM_SET_WORDS,
            Mode::Profile(_) => PROFILE_WORDS,
            Mode::Tunnel(_) => TUNNEL_WORDS,
            Mode::Failed(words) => words,
        }
    }
}

struct Parser<'d> {
    cfg: Config,
    mode: Mode,
    diag: &'d mut Diagnostics,
}

/// Parse IOS text. Errors and warnings go to `diag`; the model holds what was understood.
pub(crate) fn parse(text: &str, diag: &mut Diagnostics) -> Config {
    let mut p = Parser {
        cfg: Config {
            file: diag.file.clone(),
            ..Config::default()
        },
        mode: Mode::Global,
        diag,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        p.line(raw, line);
    }
    p.cfg
}

impl Parser<'_> {
    fn line(&mut self, raw: &str, line: u32) {
        let text = raw.trim();
        if text.is_empty() || text.starts_with('!') {
            return;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let indented = raw.starts_with([' ', '\t']);
        let in_mode = !matches!(self.mode, Mode::Global);
        let result = if indented && in_mode {
            self.sub(&words, text, line)
        } else if let Some(result) = self.global(&words, line) {
            result
        } else if in_mode && pick(words[0], self.mode.sub_words()).is_some() {
            self.sub(&words, text, line)
        } else {
            self.diag.warn(
                line,
                format!("unsupported command, ignored with its sub-commands: `{text}`"),
            );
            self.mode = Mode::Ignored { line };
            return;
        };
        match result {
            Ok(()) => {}
            Err(Bad::Unsupported) => {
                let within = match self.mode {
                    Mode::Policy(i) => {
                        format!(
                            " in `crypto isakmp policy {}`",
                            self.cfg.policies[i].priority
                        )
                    }
                    Mode::TransformSet(i) => format!(
                        " in `crypto ipsec transform-set {}`",
                        self.cfg.transform_sets[i].name
                    ),
                    Mode::Profile(i) => {
                        format!(" in `crypto ipsec profile {}`", self.cfg.profiles[i].name)
                    }
                    Mode::Tunnel(i) => format!(" in `interface {}`", self.cfg.tunnels[i].name()),
                    _ => String::new(),
                };
                self.diag
                    .warn(line, format!("unsupported{within}, ignored: `{text}`"));
            }
            Err(Bad::Error(message)) => self.diag.error(line, message),
        }
    }

    /// A global command, or `None` (without side effects) if `words` is not one we know.
    fn global(&mut self, w: &[&str], line: u32) -> Option<Res> {
        let first = pick(
            w[0],
            &["crypto", "interface", "ip", "ipv6", "debug", "end", "exit"],
        )?;
        let word = |i: usize, words: &[&'static str]| w.get(i).and_then(|t| pick(t, words));
        let result = match first {
            "crypto" => match word(1, &["isakmp", "ipsec"])? {
                "isakmp" => match word(2, &["policy", "key", "keepalive", "nat"])? {
                    "policy" => self.policy(w, line),
                    "key" => self.key(&w[3..], line),
                    "keepalive" => self.keepalive(&w[3..], line),
                    _ => {
                        word(3, &["keepalive"])?;
                        self.nat_keepalive(&w[4..], line)
                    }
                },
                _ => match word(2, &["transform-set", "profile"])? {
                    "transform-set" => self.transform_set(w, line),
                    _ => self.profile(w, line),
                },
            },
            "interface" => {
                let number = tunnel_number(&w[1..])?;
                self.interface(number, line)
            }
            "ip" | "ipv6" => {
                word(1, &["route"])?;
                self.route(first == "ipv6", &w[2..], line)
            }
            "debug" => {
                word(1, &["crypto"])?;
                match word(2, &["isakmp", "ipsec"])? {
                    _ if w.len() > 3 => return None,
                    "isakmp" => self.cfg.debug.isakmp = true,
                    _ => self.cfg.debug.ipsec = true,
                }
                self.mode = Mode::Global;
                Ok(())
            }
            _ if w.len() == 1 => {
                self.mode = Mode::Global;
                Ok(())
            }
            _ => return None,
        };
        Some(result)
    }

    fn sub(&mut self, w: &[&str], text: &str, line: u32) -> Res {
        match self.mode {
            Mode::Global => Err(Bad::Unsupported),
            Mode::Ignored { line: opened } => {
                self.diag.warn(
                    line,
                    format!("ignored with the unsupported command of line {opened}: `{text}`"),
                );
                Ok(())
            }
            Mode::Failed(_) => Ok(()),
            Mode::Policy(i) => policy_sub(&mut self.cfg.policies[i], w, line),
            Mode::TransformSet(i) => {
                let set = &mut self.cfg.transform_sets[i];
                match (pick(w[0], TRANSFORM_SET_WORDS), w.get(1), w.len()) {
                    (Some("mode"), Some(m), 2) => match pick(m, &["tunnel", "transport"]) {
                        Some(mode) => {
                            set.transport = mode == "transport";
                            Ok(())
                        }
                        None => Err(Bad::Error(format!("mode `{m}`: use tunnel or transport"))),
                    },
                    _ => Err(Bad::Unsupported),
                }
            }
            Mode::Profile(i) => profile_sub(&mut self.cfg.profiles[i], w, line),
            Mode::Tunnel(i) => {
                let rest = text
                    .split_once(char::is_whitespace)
                    .map_or("", |(_, r)| r.trim());
                tunnel_sub(&mut self.cfg.tunnels[i], w, rest, line, self.diag)
            }
        }
    }

    fn policy(&mut self, w: &[&str], line: u32) -> Res {
        let priority = match w {
            [_, _, _, n] => n.parse::<u32>().ok().filter(|n| (1..=10_000).contains(n)),
            _ => None,
        };
        let Some(priority) = priority else {
            self.mode = Mode::Failed(POLICY_WORDS);
            return Err(Bad::Error(
                "crypto isakmp policy: expected a priority 1..10000".into(),
            ));
        };
        let i = match self
            .cfg
            .policies
            .iter()
            .position(|p| p.priority == priority)
        {
            Some(i) => i,
            None => {
                self.cfg.policies.push(Policy::new(priority, line));
                self.cfg.policies.len() - 1
            }
        };
        self.mode = Mode::Policy(i);
        Ok(())
    }

    /// `crypto isakmp key [0|6] K address A [MASK] [no-xauth]` / `address ipv6 P/L`.
    fn key(&mut self, mut w: &[&str], line: u32) -> Res {
        self.mode = Mode::Global;
        // IOS prints an encryption type before the key once `password encryption aes`
        // is on; 0 is clear text.
        let is_type = w.len() > 2 && (w[0] == "0" || w[0] == "6");
        if is_type && pick(w[1], &["address", "hostname"]).is_none() {
            if w[0] == "6" {
                return Err(Bad::Error(
                    "crypto isakmp key 6: an encrypted key cannot be used; write the key in clear text"
                        .into(),
                ));
            }
            w = &w[1..];
        }
        let (key, how, rest) =
            match w {
                [key, how, rest @ ..] => (*key, *how, rest),
                _ => return Err(Bad::Error(
                    "crypto isakmp key: expected `KEY address A [MASK]` or `KEY address ipv6 P/L`"
                        .into(),
                )),
            };
        if pick(how, &["address", "hostname"]) != Some("address") {
            return Err(Bad::Unsupported);
        }
        let (address, prefix_len, rest) = match rest {
            [v6, prefix, rest @ ..] if pick(v6, &["ipv6"]).is_some() => {
                let (a, len) = parse_prefix(prefix)?;
                if a.is_ipv4() {
                    return Err(Bad::Error(format!("`{prefix}` is not an IPv6 prefix")));
                }
                (a, len, rest)
            }
            [a, rest @ ..] => {
                let address: Ipv4Addr = a.parse().map_err(|_| {
                    if a.contains(':') {
                        format!("`{a}`: for an IPv6 peer write `address ipv6 {a}/128`")
                    } else {
                        format!("`{a}` is not an IPv4 address")
                    }
                })?;
                match rest {
                    [m, rest @ ..] if m.parse::<Ipv4Addr>().is_ok() => {
                        (IpAddr::V4(address), parse_mask(m)?, rest)
                    }
                    _ => (IpAddr::V4(address), 32, rest),
                }
            }
            [] => return Err(Bad::Error("crypto isakmp key: address missing".into())),
        };
        // `no-xauth` exempts the peer from XAUTH, which ikev1d never asks for anyway.
        match rest {
            [] => {}
            [x] if x.eq_ignore_ascii_case("no-xauth") => {}
            _ => return Err(Bad::Unsupported),
        }
        let item = Key {
            key: Secret::new(key.as_bytes().to_vec()),
            address,
            prefix_len,
            origin: Origin {
                file: self.cfg.file.clone(),
                line,
            },
        };
        // IOS keeps one key per address: entering it again replaces it.
        match self
            .cfg
            .keys
            .iter_mut()
            .find(|k| k.address == address && k.prefix_len == prefix_len)
        {
            Some(existing) => *existing = item,
            None => self.cfg.keys.push(item),
        }
        Ok(())
    }

    /// `crypto isakmp keepalive S [R] [periodic|on-demand]`.
    fn keepalive(&mut self, w: &[&str], line: u32) -> Res {
        self.mode = Mode::Global;
        let mut numbers = Vec::new();
        let mut periodic = false;
        for word in w {
            match pick(word, &["periodic", "on-demand"]) {
                Some(kind) => periodic = kind == "periodic",
                None => numbers.push(parse_number::<u32>(word, "keepalive seconds")?),
            }
        }
        let (interval_s, retry_s) = match numbers[..] {
            [s] => (s, defaults::DPD_RETRY_S),
            [s, r] => (s, r),
            _ => {
                return Err(Bad::Error(
                    "crypto isakmp keepalive: expected `S [R] [periodic|on-demand]`".into(),
                ))
            }
        };
        self.cfg.keepalive = Some(Keepalive {
            interval_s,
            retry_s,
            periodic,
            line,
        });
        Ok(())
    }

    fn nat_keepalive(&mut self, w: &[&str], line: u32) -> Res {
        self.mode = Mode::Global;
        match w {
            [s] => {
                self.cfg.nat_keepalive_s =
                    Some(At::new(parse_number(s, "NAT keepalive seconds")?, line));
                Ok(())
            }
            _ => Err(Bad::Error(
                "crypto isakmp nat keepalive: expected seconds".into(),
            )),
        }
    }

    /// `crypto ipsec transform-set NAME t1 [t2]`.
    fn transform_set(&mut self, w: &[&str], line: u32) -> Res {
        self.mode = Mode::Failed(TRANSFORM_SET_WORDS);
        let Some(name) = w.get(3) else {
            return Err(Bad::Error(
                "crypto ipsec transform-set: name missing".into(),
            ));
        };
        let (encryption, integrity) = parse_transforms(&w[4..])?;
        let set = TransformSet {
            name: name.to_string(),
            line,
            encryption,
            integrity,
            transport: false,
        };
        let i = match self.cfg.transform_sets.iter().position(|t| t.name == *name) {
            Some(i) => {
                self.cfg.transform_sets[i] = set;
                i
            }
            None => {
                self.cfg.transform_sets.push(set);
                self.cfg.transform_sets.len() - 1
            }
        };
        self.mode = Mode::TransformSet(i);
        Ok(())
    }

    fn profile(&mut self, w: &[&str], line: u32) -> Res {
        let [_, _, _, name] = w else {
            self.mode = Mode::Failed(PROFILE_WORDS);
            return Err(Bad::Error("crypto ipsec profile: expected one name".into()));
        };
        let i = match self.cfg.profiles.iter().position(|p| p.name == *name) {
            Some(i) => i,
            None => {
                self.cfg.profiles.push(Profile::new(name.to_string(), line));
                self.cfg.profiles.len() - 1
            }
        };
        self.mode = Mode::Profile(i);
        Ok(())
    }

    fn interface(&mut self, number: u32, line: u32) -> Res {
        let i = match self.cfg.tunnels.iter().position(|t| t.number == number) {
            Some(i) => i,
            None => {
                self.cfg.tunnels.push(Tunnel::new(number, line));
                self.cfg.tunnels.len() - 1
            }
        };
        self.mode = Mode::Tunnel(i);
        Ok(())
    }

    /// `ip route P M TunnelN` / `ipv6 route P/L TunnelN`. Routes through a next hop or
    /// another interface are not ours to install.
    fn route(&mut self, v6: bool, w: &[&str], line: u32) -> Res {
        self.mode = Mode::Global;
        let (prefix, prefix_len, via) = match (v6, w) {
            (false, [p, m, via]) => {
                let p: Ipv4Addr = p
                    .parse()
                    .map_err(|_| format!("`{p}` is not an IPv4 address"))?;
                (IpAddr::V4(p), parse_mask(m)?, *via)
            }
            (true, [p, via]) => {
                let (p, len) = parse_prefix(p)?;
                if p.is_ipv4() {
                    return Err(Bad::Error(format!("`{p}` is not an IPv6 prefix")));
                }
                (p, len, *via)
            }
            _ => return Err(Bad::Unsupported),
        };
        let tunnel = tunnel_number(&[via]).ok_or(Bad::Unsupported)?;
        if has_host_bits(prefix, prefix_len) {
            return Err(Bad::Error(format!(
                "inconsistent address and mask: {prefix}/{prefix_len} has host bits set"
            )));
        }
        self.cfg.routes.push(Route {
            prefix,
            prefix_len,
            tunnel,
            line,
        });
        Ok(())
    }
}

/// `TunnelN`, `Tunnel N`, `tu23` (case-insensitive) -> N.
pub(crate) fn tunnel_number(w: &[&str]) -> Option<u32> {
    let joined: String = w.concat();
    let split = joined.find(|c: char| c.is_ascii_digit())?;
    let (kind, number) = joined.split_at(split);
    if kind.len() < 2 || pick(kind, &["tunnel"]).is_none() {
        return None;
    }
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

fn policy_sub(p: &mut Policy, w: &[&str], line: u32) -> Res {
    let value = || -> Result<&str, Bad> {
        match w {
            [_, a] => Ok(a),
            _ => Err(Bad::Error(format!("`{}`: expected one value", w.join(" ")))),
        }
    };
    match pick(w[0], POLICY_WORDS) {
        Some("encryption") => p.encryption = At::new(parse_cipher(&w[1..])?, line),
        Some("hash") => p.hash = At::new(parse_hash(value()?)?, line),
        Some("group") => p.group = At::new(group_from_number(value()?)?, line),
        Some("lifetime") => {
            p.lifetime_s = At::new(parse_number(value()?, "lifetime seconds")?, line)
        }
        Some(_) => match pick(value()?, &["pre-share", "rsa-sig", "rsa-encr"]) {
            Some("pre-share") => p.pre_share = true,
            _ => {
                return Err(Bad::Error(format!(
                    "authentication {}: only pre-share is supported",
                    w[1]
                )))
            }
        },
        None => return Err(Bad::Unsupported),
    }
    Ok(())
}

fn profile_sub(p: &mut Profile, w: &[&str], line: u32) -> Res {
    if pick(w[0], PROFILE_WORDS).is_none() || w.len() < 2 {
        return Err(Bad::Unsupported);
    }
    match pick(w[1], &["transform-set", "pfs", "security-association"]) {
        Some("transform-set") if w.len() > 2 => {
            p.transform_sets = w[2..]
                .iter()
                .map(|name| At::new(name.to_string(), line))
                .collect();
        }
        Some("pfs") => {
            // `set pfs` alone means group 1 on IOS.
            let group = match w {
                [_, _] => "1",
                [_, _, g] => g
                    .get(..5)
                    .filter(|p| p.eq_ignore_ascii_case("group"))
                    .map(|_| &g[5..])
                    .ok_or_else(|| format!("set pfs `{g}`: expected groupN"))?,
                _ => return Err(Bad::Unsupported),
            };
            p.pfs = Some(At::new(group_from_number(group)?, line));
        }
        Some("security-association") => {
            let unit = w.get(3).and_then(|u| pick(u, &["seconds", "kilobytes"]));
            match (w.get(2).and_then(|l| pick(l, &["lifetime"])), unit, w) {
                (Some(_), Some("seconds"), [_, _, _, _, s]) => {
                    p.lifetime_s = At::new(parse_number(s, "lifetime seconds")?, line)
                }
                (Some(_), Some("kilobytes"), [_, _, _, _, k])
                    if !k.eq_ignore_ascii_case("disable") =>
                {
                    p.lifetime_kb = At::new(parse_number(k, "lifetime kilobytes")?, line)
                }
                _ => return Err(Bad::Unsupported),
            }
        }
        _ => return Err(Bad::Unsupported),
    }
    Ok(())
}

fn tunnel_sub(t: &mut Tunnel, w: &[&str], rest: &str, line: u32, diag: &mut Diagnostics) -> Res {
    let second = |words: &[&'static str]| w.get(1).and_then(|x| pick(x, words));
    match pick(w[0], TUNNEL_WORDS) {
        Some("description") => t.description = Some(rest.to_string()),
        Some("shutdown") if w.len() == 1 => t.shutdown = true,
        Some("no") if w.len() == 2 && second(&["shutdown"]).is_some() => t.shutdown = false,
        Some("ip") => match (second(&["address", "mtu"]), w) {
            (Some("address"), [_, _, a, m]) => {
                let a: Ipv4Addr = a
                    .parse()
                    .map_err(|_| format!("`{a}` is not an IPv4 address"))?;
                t.ipv4 = Some(At::new((a, parse_mask(m)?), line));
            }
            (Some("mtu"), [_, _, n]) => t.ip_mtu = Some(At::new(parse_number(n, "MTU")?, line)),
            _ => return Err(Bad::Unsupported),
        },
        Some("ipv6") => match (second(&["address", "mtu"]), w) {
            (Some("address"), [_, _, a, ll]) if pick(ll, &["link-local"]).is_some() => {
                let a: Ipv6Addr = a
                    .parse()
                    .map_err(|_| format!("`{a}` is not an IPv6 address"))?;
                t.link_local = Some(At::new(a, line));
            }
            (Some("address"), [_, _, p]) => match parse_prefix(p)? {
                (IpAddr::V6(a), len) => t.ipv6.push(At::new((a, len), line)),
                _ => return Err(Bad::Error(format!("`{p}` is not an IPv6 prefix"))),
            },
            (Some("mtu"), [_, _, n]) => t.ipv6_mtu = Some(At::new(parse_number(n, "MTU")?, line)),
            _ => return Err(Bad::Unsupported),
        },
        Some("tunnel") => match second(&["source", "destination", "mode", "protection"]) {
            Some("source") => {
                let [_, _, s] = w else {
                    return Err(Bad::Error(
                        "tunnel source: expected an interface or an address".into(),
                    ));
                };
                t.source = Some(At::new(parse_source(s)?, line));
            }
            Some("destination") => {
                t.destination = Some(At::new(parse_destination(&w[2..], line, diag)?, line));
            }
            Some("mode") => {
                let family = match (w.get(2).and_then(|m| pick(m, &["ipsec"])), w) {
                    (Some(_), [_, _, _, f]) => pick(f, &["ipv4", "ipv6"]),
                    _ => None,
                };
                let family = family.ok_or_else(|| {
                    format!(
                        "`{}`: only `tunnel mode ipsec ipv4|ipv6` (a VTI) is supported",
                        w.join(" ")
                    )
                })?;
                let inner = if family == "ipv4" {
                    InnerFamily::V4
                } else {
                    InnerFamily::V6
                };
                t.mode = Some(At::new(inner, line));
            }
            Some(_) => match w {
                [_, _, ipsec, profile, name]
                    if pick(ipsec, &["ipsec"]).is_some()
                        && pick(profile, &["profile"]).is_some() =>
                {
                    t.profile = Some(At::new(name.to_string(), line));
                }
                _ => return Err(Bad::Unsupported),
            },
            None => return Err(Bad::Unsupported),
        },
        _ => return Err(Bad::Unsupported),
    }
    Ok(())
}

/// `tunnel source`: an address, or a Linux interface name (resolved at run time).
pub(crate) fn parse_source(s: &str) -> Result<TunnelSource, String> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(TunnelSource::Address(a));
    }
    // IFNAMSIZ is 16 with the NUL; '/' and whitespace are invalid in Linux names.
    if s.contains('/') || s.contains(':') {
        return Err(format!(
            "tunnel source `{s}` is not a Linux interface name: name one (e.g. eth0) or give an address"
        ));
    }
    if s.len() > 15 || s == "." || s == ".." {
        return Err(format!(
            "tunnel source `{s}` is not a valid Linux interface name"
        ));
    }
    Ok(TunnelSource::Interface(s.to_string()))
}

/// `tunnel destination A`. Copies of IOS text sometimes carry a stray space inside an
/// IPv6 address (`2001: DB8::3`); it is read without the space, with a warning.
fn parse_destination(w: &[&str], line: u32, diag: &mut Diagnostics) -> Result<IpAddr, String> {
    let joined = w.concat();
    match (w, joined.parse::<IpAddr>()) {
        ([_], Ok(a)) => Ok(a),
        (_, Ok(a)) if w.len() > 1 => {
            diag.warn(
                line,
                format!("`{}` read as {a} (stray space removed)", w.join(" ")),
            );
            Ok(a)
        }
        _ if w.is_empty() => Err("tunnel destination: address missing".into()),
        _ => Err(format!(
            "tunnel destination `{}` is not an IP address (host names are not supported)",
            w.join(" ")
        )),
    }
}

/// `A/L` for IPv4 or IPv6.
pub(crate) fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("`{s}` is not a prefix (ADDRESS/LENGTH)");
    let (a, l) = s.split_once('/').ok_or_else(bad)?;
    let a: IpAddr = a.parse().map_err(|_| bad())?;
    let l: u8 = l.parse().map_err(|_| bad())?;
    let max = if a.is_ipv4() { 32 } else { 128 };
    if l > max {
        return Err(format!("`{s}`: prefix length above {max}"));
    }
    Ok((a, l))
}

fn parse_mask(m: &str) -> Result<u8, String> {
    m.parse::<Ipv4Addr>()
        .ok()
        .and_then(mask_to_len)
        .ok_or_else(|| format!("`{m}` is not a valid netmask"))
}

fn parse_number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what}: `{s}` is not a valid number"))
}
