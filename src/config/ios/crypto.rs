//! `crypto isakmp ...` and `crypto ipsec ...`: the global lines, and the modes of
//! `crypto isakmp policy`, `crypto ipsec transform-set` and `crypto ipsec profile`.

use super::table::{cmd, Command};
use super::values::{parse_number, parse_peer};
use super::{find_or_push, no_value, one, type7, Act, Bad, Block, Cx, Mode, Parser, Res, Sub};
use crate::config::error::Diagnostics;
use crate::config::model::*;
use crate::config::words::*;
use crate::crypto::{EspTransform, Secret};
use crate::ike::settings::Origin;

impl From<&str> for Bad {
    fn from(message: &str) -> Self {
        Bad::Error(message.to_string())
    }
}

/// Record a line ikev1d cannot honour on the item, replacing an earlier one of the
/// same command (IOS: the last line wins).
pub(super) fn record(list: &mut Vec<Unsupported>, path: &str, cx: &Cx, reason: String) {
    forget(list, path);
    list.push(Unsupported {
        line: cx.line,
        words: cx.words.join(" "),
        reason,
    });
}

/// A supported value for `path` replaces an unsupported one.
pub(super) fn forget(list: &mut Vec<Unsupported>, path: &str) {
    list.retain(|u| !same_command(&u.words, path));
}

fn same_command(words: &str, path: &str) -> bool {
    let words: Vec<&str> = words.split_whitespace().collect();
    let path: Vec<&str> = path.split(' ').collect();
    words.len() >= path.len()
        && path
            .iter()
            .zip(&words)
            .all(|(p, w)| pick(w, &[p]).is_some())
}

// ---- crypto isakmp policy ----------------------------------------------------------

pub(super) const POLICY: &[Command<Act<Sub<Policy>>>] = &[
    cmd("encryption", Act::Do(policy_encryption)),
    cmd("hash", Act::Do(policy_hash)),
    cmd("group", Act::Do(policy_group)),
    cmd("lifetime", Act::Do(policy_lifetime)),
    cmd("authentication", Act::Do(policy_authentication)),
];

/// One sub-command of `crypto isakmp policy` (TOML re-reads `unsupported` lines so).
pub(crate) fn apply_policy_line(
    p: &mut Policy,
    words: &[&str],
    line: u32,
    d: &mut Diagnostics,
) -> Res {
    apply(POLICY, p, words, line, d)
}

pub(super) fn apply<T>(
    table: &[Command<Act<Sub<T>>>],
    item: &mut T,
    words: &[&str],
    line: u32,
    d: &mut Diagnostics,
) -> Res {
    let text = words.join(" ");
    match super::run(table, words, line, &text, |h, cx| h(item, cx, d)) {
        super::Outcome::Applied(r) => r,
        _ => Err(Bad::Unsupported),
    }
}

/// An algorithm value: ikev1d's, or recorded as unsupported (IOS may accept values
/// ikev1d lacks; the policy is then left out, with a warning).
fn algorithm<T>(
    p: &mut Policy,
    path: &str,
    cx: &Cx,
    parsed: Result<T, String>,
    set: impl FnOnce(&mut Policy, T),
) -> Res {
    match parsed {
        Ok(v) => {
            forget(&mut p.unsupported, path);
            set(p, v);
        }
        Err(reason) => record(&mut p.unsupported, path, cx, reason),
    }
    Ok(())
}

fn policy_encryption(p: &mut Policy, cx: &Cx, _: &mut Diagnostics) -> Res {
    let line = cx.line;
    algorithm(p, "encryption", cx, parse_cipher(cx.args), |p, c| {
        p.encryption = At::new(c, line)
    })
}

fn policy_hash(p: &mut Policy, cx: &Cx, _: &mut Diagnostics) -> Res {
    let h = parse_hash(one(cx)?);
    algorithm(p, "hash", cx, h, |p, h| p.hash = At::new(h, cx.line))
}

fn policy_group(p: &mut Policy, cx: &Cx, _: &mut Diagnostics) -> Res {
    let g = group_from_number(one(cx)?);
    algorithm(p, "group", cx, g, |p, g| p.group = At::new(g, cx.line))
}

fn policy_lifetime(p: &mut Policy, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.lifetime_s = At::new(parse_number(one(cx)?, "lifetime seconds")?, cx.line);
    Ok(())
}

/// `authentication pre-share | rsa-sig | rsa-encr | ecdsa-sig`: anything but
/// pre-share leaves the policy out of ikev1d's offer (validation says so).
fn policy_authentication(p: &mut Policy, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.pre_share = pick(one(cx)?, &["pre-share"]).is_some();
    Ok(())
}

pub(super) fn policy(p: &mut Parser, cx: &Cx) -> Res {
    let priority = match cx.args {
        [n] => n.parse::<u32>().ok().filter(|n| (1..=10_000).contains(n)),
        _ => None,
    };
    let Some(priority) = priority else {
        p.mode = Mode::Failed(Block::Policy);
        return Err("crypto isakmp policy: expected a priority 1..10000".into());
    };
    let i = find_or_push(
        &mut p.cfg.policies,
        |x| x.priority == priority,
        || Policy::new(priority, cx.line),
    );
    p.mode = Mode::Policy(i);
    Ok(())
}

// ---- keys ----------------------------------------------------------------------------

/// A key after its optional encryption type (`0` clear, `6` AES, `7` IOS's reversible
/// obfuscation). `what` names the command in the messages, which never quote the key.
pub(super) fn key_secret(kind: Option<&str>, key: &str, what: &str) -> Result<Secret, Bad> {
    match kind {
        None | Some("0") => Ok(Secret::new(key.as_bytes().to_vec())),
        Some("7") => type7::decode(key).map_err(|e| Bad::Error(format!("{what} 7: {e}"))),
        _ => Err(Bad::Error(format!(
            "{what} 6: an AES-encrypted key (type 6) can only be read with the router's master key \
             (`key config-key password-encrypt`), which is never part of the configuration: \
             write the key in clear as `{what} 0 KEY`, or its type 7 form"
        ))),
    }
}

/// Split `[0|6|7] KEY rest..`. In `crypto isakmp key`, where `next` keywords follow
/// the key, the type is present only if a key follows it that is not such a keyword
/// (`crypto isakmp key 0 address A` is the key "0"); in a keyring the key ends the line.
pub(super) fn typed_key<'w>(
    w: &'w [&'w str],
    next: &[&str],
) -> Option<(Option<&'w str>, &'w str, &'w [&'w str])> {
    match w {
        [t @ ("0" | "6" | "7"), key, rest @ ..]
            if next.is_empty() || (!rest.is_empty() && pick(key, next).is_none()) =>
        {
            Some((Some(t), key, rest))
        }
        [key, rest @ ..] => Some((None, key, rest)),
        [] => None,
    }
}

/// `crypto isakmp key [0|6|7] K address A [MASK] [no-xauth]` / `address ipv6 P/L` /
/// `hostname H`.
pub(super) fn isakmp_key(p: &mut Parser, cx: &Cx) -> Res {
    let usage = "crypto isakmp key: expected `KEY address A [MASK]` or `KEY address ipv6 P/L`";
    let Some((kind, key, rest)) = typed_key(cx.args, &["address", "hostname"]) else {
        return Err(usage.into());
    };
    let Some((how, rest)) = rest.split_first() else {
        return Err(usage.into());
    };
    match pick(how, &["address", "hostname"]) {
        Some("address") => {}
        Some(_) => {
            p.diag.warn(
                cx.line,
                "crypto isakmp key ... hostname: ignored; Main Mode needs the key before the peer \
                 names itself, so ikev1d (like IOS without DNS) selects keys by address: write \
                 `address A`",
            );
            return Ok(());
        }
        None => return Err(usage.into()),
    }
    let secret = key_secret(kind, key, "crypto isakmp key")?;
    let (address, prefix_len, rest) = parse_peer(rest)?;
    // `no-xauth` exempts the peer from XAUTH, which ikev1d never asks for anyway.
    match rest {
        [] => {}
        [x] if pick(x, &["no-xauth"]).is_some() => {}
        _ => return Err(Bad::Unsupported),
    }
    let item = Key {
        key: secret,
        address,
        prefix_len,
        origin: Origin {
            file: p.cfg.file.clone(),
            line: cx.line,
        },
    };
    // IOS keeps one key per address: entering it again replaces it.
    let keys = &mut p.cfg.keys;
    match keys
        .iter_mut()
        .find(|k| k.address == address && k.prefix_len == prefix_len)
    {
        Some(existing) => *existing = item,
        None => keys.push(item),
    }
    Ok(())
}

// ---- other crypto isakmp lines --------------------------------------------------------

/// `crypto isakmp keepalive S [R] [periodic|on-demand]`.
pub(super) fn keepalive(p: &mut Parser, cx: &Cx) -> Res {
    let mut numbers = Vec::new();
    let mut periodic = false;
    for word in cx.args {
        match pick(word, &["periodic", "on-demand"]) {
            Some(kind) => periodic = kind == "periodic",
            None => numbers.push(parse_number::<u32>(word, "keepalive seconds")?),
        }
    }
    let (interval_s, retry_s) = match numbers[..] {
        [s] => (s, defaults::DPD_RETRY_S),
        [s, r] => (s, r),
        _ => return Err("crypto isakmp keepalive: expected `S [R] [periodic|on-demand]`".into()),
    };
    p.cfg.keepalive = Some(Keepalive {
        interval_s,
        retry_s,
        periodic,
        line: cx.line,
    });
    Ok(())
}

pub(super) fn nat_keepalive(p: &mut Parser, cx: &Cx) -> Res {
    match cx.args {
        [s] => {
            p.cfg.nat_keepalive_s =
                Some(At::new(parse_number(s, "NAT keepalive seconds")?, cx.line));
            Ok(())
        }
        _ => Err("crypto isakmp nat keepalive: expected seconds".into()),
    }
}

/// `crypto isakmp identity address | hostname | dn`.
pub(super) fn identity(p: &mut Parser, cx: &Cx) -> Res {
    let id = match cx.args {
        [w] => match pick(w, &["address", "hostname", "dn"]) {
            Some("address") => Identity::Address,
            Some("hostname") => Identity::Hostname,
            Some(_) => {
                p.diag.warn(
                    cx.line,
                    "crypto isakmp identity dn: ignored; a distinguished name comes from a certificate, \
                     and ikev1d authenticates with pre-shared keys (it sends its address)",
                );
                return Ok(());
            }
            None => {
                return Err(Bad::Error(format!(
                    "crypto isakmp identity `{w}`: expected address or hostname"
                )))
            }
        },
        _ => return Err("crypto isakmp identity: expected address or hostname".into()),
    };
    p.cfg.identity = Some(At::new(id, cx.line));
    Ok(())
}

/// `crypto call admission limit ike in-negotiation-sa N`.
pub(super) fn admission_in_negotiation(p: &mut Parser, cx: &Cx) -> Res {
    let n = parse_number(one(cx)?, "in-negotiation-sa")?;
    p.cfg.admission.in_negotiation_sa = Some(At::new(n, cx.line));
    Ok(())
}

/// `crypto call admission limit ike sa N`.
pub(super) fn admission_sa(p: &mut Parser, cx: &Cx) -> Res {
    let n = parse_number(one(cx)?, "ike sa")?;
    p.cfg.admission.sa = Some(At::new(n, cx.line));
    Ok(())
}

// ---- crypto ipsec transform-set ----------------------------------------------------------

pub(super) const TRANSFORM_SET: &[Command<Act<Sub<TransformSet>>>] =
    &[cmd("mode", Act::Do(transform_set_mode))];

fn transform_set_mode(t: &mut TransformSet, cx: &Cx, _: &mut Diagnostics) -> Res {
    let m = one(cx)?;
    match pick(m, &["tunnel", "transport"]) {
        Some(mode) => {
            t.transport = mode == "transport";
            Ok(())
        }
        None => Err(Bad::Error(format!("mode `{m}`: use tunnel or transport"))),
    }
}

/// The transforms of a set as `show running-config` prints them (as written when
/// ikev1d does not know them), and ikev1d's ESP transform or why it cannot use them.
pub(crate) fn transforms_of(words: &[&str]) -> (String, Result<EspTransform, String>) {
    match parse_transforms(words) {
        Ok(esp) => (esp.ios_name(), Ok(esp)),
        Err(why) => (words.join(" "), Err(why)),
    }
}

/// `crypto ipsec transform-set NAME t1 [t2 ...]`.
pub(super) fn transform_set(p: &mut Parser, cx: &Cx) -> Res {
    let [name, transforms @ ..] = cx.args else {
        p.mode = Mode::Failed(Block::TransformSet);
        return Err("crypto ipsec transform-set: name missing".into());
    };
    if transforms.is_empty() {
        p.mode = Mode::Failed(Block::TransformSet);
        return Err(Bad::Error(format!(
            "crypto ipsec transform-set {name}: no transforms"
        )));
    }
    let (transforms, esp) = transforms_of(transforms);
    let set = TransformSet {
        name: name.to_string(),
        line: cx.line,
        transforms,
        esp,
        transport: false,
    };
    let sets = &mut p.cfg.transform_sets;
    let i = find_or_push(sets, |t| t.name == *name, || set.clone());
    sets[i] = set;
    p.mode = Mode::TransformSet(i);
    Ok(())
}

// ---- crypto ipsec profile and the global security-association lines ----------------------

pub(super) const IPSEC_PROFILE: &[Command<Act<Sub<Profile>>>] = &[
    cmd("set transform-set", Act::Do(profile_transform_set)),
    cmd("set pfs", Act::Do(profile_pfs)),
    cmd(
        "set security-association lifetime",
        Act::Do(profile_lifetime),
    ),
    cmd("set security-association replay", Act::Do(profile_replay)),
    cmd(
        "set security-association idle-time",
        Act::Do(profile_idle_time),
    ),
    cmd("set isakmp-profile", Act::Do(profile_isakmp_profile)),
    cmd("set ikev2-profile", Act::Do(profile_ikev2)),
    cmd("set", Act::Warn("")),
    cmd("responder-only", Act::Do(profile_responder_only)),
    cmd("description", Act::Quiet),
];

/// One sub-command of `crypto ipsec profile` (TOML re-reads `unsupported` lines so).
pub(crate) fn apply_profile_line(
    p: &mut Profile,
    words: &[&str],
    line: u32,
    d: &mut Diagnostics,
) -> Res {
    apply(IPSEC_PROFILE, p, words, line, d)
}

fn profile_transform_set(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    if cx.args.is_empty() {
        return Err("set transform-set: name missing".into());
    }
    p.transform_sets = cx
        .args
        .iter()
        .map(|name| At::new(name.to_string(), cx.line))
        .collect();
    Ok(())
}

fn profile_pfs(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    // `set pfs` alone means group 1 on IOS.
    let group = match cx.args {
        [] => "1",
        [g] => g
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("group"))
            .map(|_| &g[5..])
            .ok_or_else(|| format!("set pfs `{g}`: expected groupN"))?,
        _ => return Err(Bad::Unsupported),
    };
    match group_from_number(group) {
        Ok(g) => {
            forget(&mut p.unsupported, "set pfs");
            p.pfs = Some(At::new(g, cx.line));
        }
        Err(reason) => record(&mut p.unsupported, "set pfs", cx, reason),
    }
    Ok(())
}

/// `lifetime seconds S | kilobytes K | kilobytes disable` (profile or global).
enum LifetimeLine {
    Seconds(u32),
    Volume(VolumeLifetime),
}

fn lifetime_line(args: &[&str]) -> Result<LifetimeLine, Bad> {
    match args {
        [unit, v] => match pick(unit, &["seconds", "kilobytes", "days"]) {
            Some("seconds") => Ok(LifetimeLine::Seconds(parse_number(v, "lifetime seconds")?)),
            Some("kilobytes") if pick(v, &["disable"]).is_some() => {
                Ok(LifetimeLine::Volume(VolumeLifetime::Disable))
            }
            Some("kilobytes") => Ok(LifetimeLine::Volume(VolumeLifetime::Kilobytes(
                parse_number(v, "lifetime kilobytes")?,
            ))),
            _ => Err(Bad::Unsupported),
        },
        _ => Err(Bad::Unsupported),
    }
}

fn profile_lifetime(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    match lifetime_line(cx.args)? {
        LifetimeLine::Seconds(s) => p.lifetime_s = Some(At::new(s, cx.line)),
        LifetimeLine::Volume(v) => p.lifetime_kb = Some(At::new(v, cx.line)),
    }
    Ok(())
}

/// `replay window-size N | replay disable`.
fn replay_line(args: &[&str]) -> Result<Replay, Bad> {
    match args {
        [d] if pick(d, &["disable"]).is_some() => Ok(Replay::Disable),
        [w, n] if pick(w, &["window-size"]).is_some() => {
            Ok(Replay::WindowSize(parse_number(n, "replay window-size")?))
        }
        _ => Err(Bad::Unsupported),
    }
}

fn profile_replay(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.replay = Some(At::new(replay_line(cx.args)?, cx.line));
    Ok(())
}

/// `idle-time S [default]`.
fn idle_time_line(args: &[&str]) -> Result<u32, Bad> {
    match args {
        [s] => Ok(parse_number(s, "idle-time seconds")?),
        // `default`: the idle timer replaces the lifetime only while no global one is
        // set; ikev1d keeps both timers, so the keyword changes nothing here.
        [s, d] if pick(d, &["default"]).is_some() => Ok(parse_number(s, "idle-time seconds")?),
        _ => Err(Bad::Unsupported),
    }
}

fn profile_idle_time(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.idle_time_s = Some(At::new(idle_time_line(cx.args)?, cx.line));
    Ok(())
}

fn profile_isakmp_profile(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.isakmp_profile = Some(At::new(one(cx)?.to_string(), cx.line));
    Ok(())
}

fn profile_ikev2(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    record(
        &mut p.unsupported,
        "set ikev2-profile",
        cx,
        "IKEv2 is not supported: ikev1d speaks IKEv1 (use `set isakmp-profile`, or none)".into(),
    );
    Ok(())
}

fn profile_responder_only(p: &mut Profile, cx: &Cx, _: &mut Diagnostics) -> Res {
    no_value(cx)?;
    p.responder_only = true;
    Ok(())
}

/// `crypto ipsec profile NAME`.
pub(super) fn ipsec_profile(p: &mut Parser, cx: &Cx) -> Res {
    let [name] = cx.args else {
        p.mode = Mode::Failed(Block::IpsecProfile);
        return Err("crypto ipsec profile: expected one name".into());
    };
    let i = find_or_push(
        &mut p.cfg.profiles,
        |x| x.name == *name,
        || Profile::new(name.to_string(), cx.line),
    );
    p.mode = Mode::IpsecProfile(i);
    Ok(())
}

/// `crypto ipsec security-association lifetime ... | replay ... | idle-time S`.
pub(super) fn sa_lifetime_global(p: &mut Parser, cx: &Cx) -> Res {
    let g = &mut p.cfg.ipsec;
    match lifetime_line(cx.args)? {
        LifetimeLine::Seconds(s) => g.lifetime_s = Some(At::new(s, cx.line)),
        LifetimeLine::Volume(v) => g.lifetime_kb = Some(At::new(v, cx.line)),
    }
    Ok(())
}

pub(super) fn sa_replay_global(p: &mut Parser, cx: &Cx) -> Res {
    p.cfg.ipsec.replay = Some(At::new(replay_line(cx.args)?, cx.line));
    Ok(())
}

pub(super) fn sa_idle_time_global(p: &mut Parser, cx: &Cx) -> Res {
    p.cfg.ipsec.idle_time_s = Some(At::new(idle_time_line(cx.args)?, cx.line));
    Ok(())
}

/// `clear | set | copy` after `crypto ipsec df-bit`.
pub(super) fn df_bit_words(args: &[&str]) -> Result<DfBit, Bad> {
    match args {
        [w] => match pick(w, &["clear", "set", "copy"]) {
            Some("clear") => Ok(DfBit::Clear),
            Some("set") => Ok(DfBit::Set),
            Some(_) => Ok(DfBit::Copy),
            None => Err(Bad::Error(format!(
                "crypto ipsec df-bit `{w}`: use clear, set or copy"
            ))),
        },
        _ => Err("crypto ipsec df-bit: expected clear, set or copy".into()),
    }
}

pub(super) fn df_bit_global(p: &mut Parser, cx: &Cx) -> Res {
    p.cfg.ipsec.df_bit = Some(At::new(df_bit_words(cx.args)?, cx.line));
    Ok(())
}
