//! `vrf definition NAME` (with its `address-family` blocks) and `ip vrf NAME`.

use super::table::{cmd, Command};
use super::{find_or_push, Act, Bad, Block, Cx, Mode, Parser, Res, Sub};
use crate::config::error::Diagnostics;
use crate::config::model::*;
use crate::config::words::pick;
use crate::dataplane::InnerFamily;

pub(super) const VRF: &[Command<Act<Sub<Vrf>>>] = &[
    cmd("rd", Act::Do(rd)),
    cmd("address-family", Act::Do(address_family)),
    cmd("description", Act::Quiet),
    cmd("vpn", Act::Quiet),
    // Route targets and import/export maps feed MP-BGP, which runs beside ikev1d.
    cmd("route-target", Act::Quiet),
    cmd("import", Act::Quiet),
    cmd("export", Act::Quiet),
];

pub(super) const ADDRESS_FAMILY: &[Command<Act<Sub<Vrf>>>] = &[
    cmd("exit-address-family", Act::Quiet),
    cmd("route-target", Act::Quiet),
    cmd("import", Act::Quiet),
    cmd("export", Act::Quiet),
    cmd("maximum", Act::Quiet),
];

/// After a line in a VRF: `address-family` enters its sub-mode, `exit-address-family`
/// leaves it.
pub(super) fn next_mode(i: usize, words: &[&str], mode: &Mode) -> Mode {
    match (mode, words.first()) {
        (Mode::Vrf(_), Some(w)) if pick(w, &["address-family"]).is_some() => Mode::AddressFamily(i),
        (Mode::AddressFamily(_), Some(w)) if pick(w, &["exit-address-family"]).is_some() => {
            Mode::Vrf(i)
        }
        _ => mode.clone(),
    }
}

fn rd(v: &mut Vrf, cx: &Cx, _: &mut Diagnostics) -> Res {
    let [rd] = cx.args else {
        return Err("rd: expected one route distinguisher (ASN:N or A.B.C.D:N)".into());
    };
    v.rd = Some(rd.to_string());
    Ok(())
}

/// `address-family ipv4 | ipv6 [unicast]`.
fn address_family(v: &mut Vrf, cx: &Cx, _: &mut Diagnostics) -> Res {
    let family = match cx.args {
        [f] | [f, _] => match pick(f, &["ipv4", "ipv6"]) {
            Some("ipv4") => InnerFamily::V4,
            Some(_) => InnerFamily::V6,
            None => return Err(Bad::Unsupported),
        },
        _ => return Err(Bad::Unsupported),
    };
    if !v.families.contains(&family) {
        v.families.push(family);
    }
    Ok(())
}

fn open(p: &mut Parser, cx: &Cx, ip_vrf: bool) -> Res {
    let [name] = cx.args else {
        p.mode = Mode::Failed(Block::Vrf);
        return Err("vrf: expected one name".into());
    };
    let i = find_or_push(
        &mut p.cfg.vrfs,
        |v| v.name == *name,
        || Vrf {
            name: name.to_string(),
            line: cx.line,
            ip_vrf,
            rd: None,
            families: Vec::new(),
        },
    );
    p.mode = Mode::Vrf(i);
    Ok(())
}

/// `vrf definition NAME`.
pub(super) fn definition(p: &mut Parser, cx: &Cx) -> Res {
    open(p, cx, false)
}

/// `ip vrf NAME`.
pub(super) fn ip_vrf(p: &mut Parser, cx: &Cx) -> Res {
    open(p, cx, true)
}
