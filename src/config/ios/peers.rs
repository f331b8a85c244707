//! `crypto keyring` and `crypto isakmp profile`: which key, keepalive and identity serve
//! which peer.

use super::crypto::{apply, forget, key_secret, record, typed_key};
use super::table::{cmd, cmd_n, Command};
use super::values::{parse_number, parse_peer, parse_source};
use super::{find_or_push, Act, Bad, Block, Cx, Mode, Parser, Res, Sub};
use crate::config::error::Diagnostics;
use crate::config::model::*;
use crate::config::words::pick;
use crate::ike::settings::Origin;

// ---- crypto keyring ---------------------------------------------------------------------

pub(super) const KEYRING: &[Command<Act<Sub<Keyring>>>] = &[
    cmd("pre-shared-key", Act::Do(keyring_key)),
    cmd("local-address", Act::Do(keyring_local_address)),
    cmd("description", Act::Do(keyring_description)),
    cmd(
        "rsa-pubkey",
        Act::Warn("RSA keys are for certificates; ikev1d uses pre-shared keys"),
    ),
];

/// `crypto keyring NAME [vrf V]`.
pub(super) fn keyring(p: &mut Parser, cx: &Cx) -> Res {
    let (name, vrf) = match cx.args {
        [name] => (name, None),
        [name, v, vrf] if pick(v, &["vrf"]).is_some() => {
            (name, Some(At::new(vrf.to_string(), cx.line)))
        }
        _ => {
            p.mode = Mode::Failed(Block::Keyring);
            return Err("crypto keyring: expected `NAME [vrf VRF]`".into());
        }
    };
    let rings = &mut p.cfg.keyrings;
    let i = find_or_push(
        rings,
        |k| k.name == *name,
        || Keyring::new(name.to_string(), cx.line),
    );
    rings[i].vrf = vrf;
    p.mode = Mode::Keyring(i);
    Ok(())
}

/// `pre-shared-key address A [MASK] key [0|6|7] K` / `address ipv6 P/L key K` /
/// `hostname H key K`.
fn keyring_key(ring: &mut Keyring, cx: &Cx, d: &mut Diagnostics) -> Res {
    let usage = "pre-shared-key: expected `address A [MASK] key KEY` or `address ipv6 P/L key KEY`";
    let Some((how, rest)) = cx.args.split_first() else {
        return Err(usage.into());
    };
    match pick(how, &["address", "hostname"]) {
        Some("address") => {}
        Some(_) => {
            d.warn(
                cx.line,
                format!(
                    "pre-shared-key hostname in keyring {}: ignored; Main Mode needs the key before \
                     the peer names itself, so keys are selected by address: write `address A`",
                    ring.name
                ),
            );
            return Ok(());
        }
        None => return Err(usage.into()),
    }
    let (address, prefix_len, rest) = parse_peer(rest)?;
    let [k, rest @ ..] = rest else {
        return Err(usage.into());
    };
    if pick(k, &["key"]).is_none() {
        return Err(usage.into());
    }
    let Some((kind, key, [])) = typed_key(rest, &[]) else {
        return Err(usage.into());
    };
    let item = Key {
        key: key_secret(kind, key, "pre-shared-key ... key")?,
        address,
        prefix_len,
        origin: Origin {
            file: d.file.clone(),
            line: cx.line,
        },
    };
    match ring
        .keys
        .iter_mut()
        .find(|k| k.address == address && k.prefix_len == prefix_len)
    {
        Some(existing) => *existing = item,
        None => ring.keys.push(item),
    }
    Ok(())
}

fn local_address(cx: &Cx) -> Result<At<TunnelSource>, Bad> {
    Ok(At::new(parse_source(cx.args)?, cx.line))
}

fn keyring_local_address(ring: &mut Keyring, cx: &Cx, _: &mut Diagnostics) -> Res {
    ring.local_address = Some(local_address(cx)?);
    Ok(())
}

fn description(cx: &Cx) -> Option<String> {
    cx.text
        .split_once(char::is_whitespace)
        .map(|(_, rest)| rest.trim().to_string())
}

fn keyring_description(ring: &mut Keyring, cx: &Cx, _: &mut Diagnostics) -> Res {
    ring.description = description(cx);
    Ok(())
}

// ---- crypto isakmp profile ----------------------------------------------------------------

pub(super) const ISAKMP_PROFILE: &[Command<Act<Sub<IsakmpProfile>>>] = &[
    cmd("keyring", Act::Do(profile_keyring)),
    cmd("match identity address", Act::Do(match_address)),
    cmd("match identity host", Act::Do(match_host)),
    cmd("match identity user-fqdn", Act::Do(unusable_line)),
    cmd("match identity group", Act::Do(unusable_line)),
    cmd("match certificate", Act::Do(unusable_line)),
    cmd("keepalive", Act::Do(profile_keepalive)),
    cmd("self-identity", Act::Do(self_identity)),
    cmd("local-address", Act::Do(profile_local_address)),
    cmd_n("vrf", 1, Act::Do(profile_vrf)),
    cmd("virtual-template", Act::Do(virtual_template)),
    cmd("initiate mode", Act::Do(initiate_mode)),
    cmd("description", Act::Do(profile_description)),
    cmd("ca trust-point", Act::Do(unusable_line)),
    cmd("client", Act::Do(unusable_line)),
    cmd("isakmp authorization", Act::Do(unusable_line)),
    cmd(
        "accounting",
        Act::Warn("AAA accounting of IKE sessions is not done by ikev1d"),
    ),
    cmd("qos-group", Act::Warn("QoS is not done by ikev1d")),
];

/// One sub-command of `crypto isakmp profile` (TOML re-reads `unsupported` lines so).
pub(crate) fn apply_isakmp_profile_line(
    p: &mut IsakmpProfile,
    words: &[&str],
    line: u32,
    d: &mut Diagnostics,
) -> Res {
    apply(ISAKMP_PROFILE, p, words, line, d)
}

/// `crypto isakmp profile NAME`.
pub(super) fn isakmp_profile(p: &mut Parser, cx: &Cx) -> Res {
    let [name] = cx.args else {
        p.mode = Mode::Failed(Block::IsakmpProfile);
        return Err("crypto isakmp profile: expected one name".into());
    };
    let i = find_or_push(
        &mut p.cfg.isakmp_profiles,
        |x| x.name == *name,
        || IsakmpProfile::new(name.to_string(), cx.line),
    );
    p.mode = Mode::IsakmpProfile(i);
    Ok(())
}

/// A line that makes the profile unusable (certificates, EzVPN groups, Aggressive Mode).
fn unusable_line(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    let what = cx.words[..cx.words.len() - cx.args.len()].join(" ");
    let reason = match pick(cx.words[0], &["match", "ca", "client", "isakmp"]) {
        Some("client") | Some("isakmp") => {
            "EzVPN/mode-config (client configuration, XAUTH authorization) is not supported"
        }
        Some("ca") => "certificates are not supported: ikev1d uses pre-shared keys",
        _ => "ikev1d matches peers by address or host name only",
    };
    record(&mut p.unsupported, &what, cx, format!("`{what}`: {reason}"));
    Ok(())
}

fn profile_keyring(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    let [name] = cx.args else {
        return Err("keyring: expected one keyring name".into());
    };
    if !p.keyrings.iter().any(|k| k.value == *name) {
        p.keyrings.push(At::new(name.to_string(), cx.line));
    }
    Ok(())
}

/// `match identity address A [MASK] [VRF]` / `address ipv6 P/L [VRF]`.
fn match_address(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    let (address, prefix_len, rest) = parse_peer(cx.args)?;
    let vrf = match rest {
        [] => None,
        [v] => Some(v.to_string()),
        _ => return Err(Bad::Unsupported),
    };
    p.matches.push(At::new(
        IdentityMatch::Address {
            address,
            prefix_len,
            vrf,
        },
        cx.line,
    ));
    Ok(())
}

/// `match identity host FQDN` / `host domain D`.
fn match_host(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    let m = match cx.args {
        [d, domain] if pick(d, &["domain"]).is_some() => {
            IdentityMatch::Domain(domain.to_ascii_lowercase())
        }
        [host] => IdentityMatch::Host(host.to_ascii_lowercase()),
        _ => return Err("match identity host: expected `FQDN` or `domain NAME`".into()),
    };
    p.matches.push(At::new(m, cx.line));
    Ok(())
}

/// `keepalive S retry R` (IOS's ISAKMP-profile form of `crypto isakmp keepalive`).
fn profile_keepalive(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    let (interval, retry) = match cx.args {
        [s] => (s, None),
        [s, r, n] if pick(r, &["retry"]).is_some() => (s, Some(n)),
        _ => return Err("keepalive: expected `SECONDS retry SECONDS`".into()),
    };
    p.keepalive = Some(Keepalive {
        interval_s: parse_number(interval, "keepalive seconds")?,
        retry_s: match retry {
            Some(r) => parse_number(r, "keepalive retry")?,
            None => defaults::DPD_RETRY_S,
        },
        periodic: false,
        line: cx.line,
    });
    Ok(())
}

/// `self-identity address [ipv6] | fqdn | user-fqdn U`.
fn self_identity(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    let id = match cx.args {
        [a] | [a, _] if pick(a, &["address"]).is_some() => SelfIdentity::Address,
        [f] if pick(f, &["fqdn"]).is_some() => SelfIdentity::Fqdn,
        [u, user] if pick(u, &["user-fqdn"]).is_some() => SelfIdentity::UserFqdn(user.to_string()),
        _ => return Err("self-identity: expected address, fqdn or user-fqdn NAME".into()),
    };
    p.self_identity = Some(At::new(id, cx.line));
    Ok(())
}

fn profile_local_address(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.local_address = Some(local_address(cx)?);
    Ok(())
}

fn profile_vrf(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.vrf = Some(At::new(cx.args[0].to_string(), cx.line));
    Ok(())
}

fn virtual_template(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    let [n] = cx.args else {
        return Err("virtual-template: expected a number".into());
    };
    p.virtual_template = Some(At::new(parse_number(n, "virtual-template")?, cx.line));
    Ok(())
}

/// `initiate mode main | aggressive`: Main Mode is all ikev1d does.
fn initiate_mode(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    match cx.args {
        [m] if pick(m, &["main"]).is_some() => forget(&mut p.unsupported, "initiate mode"),
        [m] if pick(m, &["aggressive"]).is_some() => record(
            &mut p.unsupported,
            "initiate mode",
            cx,
            "Aggressive Mode is not supported: ikev1d does Main Mode".into(),
        ),
        _ => return Err("initiate mode: expected main or aggressive".into()),
    }
    Ok(())
}

fn profile_description(p: &mut IsakmpProfile, cx: &Cx, _: &mut Diagnostics) -> Res {
    p.description = description(cx);
    Ok(())
}
