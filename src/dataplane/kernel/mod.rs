//! Kernel data path: XFRM states and policies, xfrm/vti6/gre interfaces over netlink.
//!
//! One tunnel = one interface named like the IOS one (`Tunnel23`). A VTI's is bound
//! to its states and policies by an if_id (xfrm interface) or a mark (vti/vti6, whose
//! key is the mark), plus six policies (`::/0` and `0.0.0.0/0`, out/in/fwd) installed
//! with the interface. The policies' templates name the tunnel's reqid, so any
//! state with that reqid and outer addresses carries the tunnel's traffic.
//!
//! GRE over IPsec: a gre/ip6gre interface between the endpoints (with the GRE key), and
//! two policies, out and in, for the endpoints' GRE packets only (protocol 47): nothing
//! else between the two routers is touched. Their template's mode is the one Quick
//! Mode agreed on (transport or tunnel): `install_sa` updates them when it changes.
//!
//! Make-before-break: during a rekey two outbound states match the template; the
//! kernel uses the newest one that has not passed its soft limit (xfrm_state_find
//! prefers a non-dying state, then the latest add time), so outbound traffic
//! moves to a new SA as soon as it is installed, while the old inbound SA keeps
//! decrypting until the engine deletes it.
//!
//! Both inner families always: `::/0` and `0.0.0.0/0` policies and AF_UNSPEC
//! states whatever `TunnelSpec::inner` says (IOS `tunnel mode ipsec ipv4|ipv6`
//! only changes the proxy IDs the engine negotiates). The kernel reqid is the
//! tunnel's (from its if_id), not `SaSpec::reqid`: the policies exist before any SA.
//!
//! Ownership: every state and policy of ours carries its tunnel's reqid (the top bit
//! set, the tunnel number below: `reqid_for`) and its tunnel's binding (if_id or
//! mark), and every interface we create has the alias `ikev1d`. `ensure_tunnel` of a
//! tunnel this instance does not know yet first removes such leftovers of that
//! tunnel (a crashed daemon's), and never touches state that lacks either, nor
//! interfaces without the alias.

mod iface;
mod nft;
mod sys;
#[cfg(test)]
mod vm_tests;
mod xfrm;

pub use sys::{bypass_socket, enable_espinudp};

use super::link::{self, Rtnl};
use super::netlink::{errno_name, unless_gone, Listener, Netlink};
use super::vrf::{VrfDevice, Vrfs};
use super::{
    Dataplane, DataplaneError, DataplaneEvent, DataplaneKind, Result, SaCounters, TunnelSpec,
};
use crate::crypto::{OsRng, Rng, Secret};
use crate::ipsec::{
    Direction, EspAuth, EspEncr, EspMode, EspTransform, InnerFamily, Lifetimes, SaSpec,
    MAX_VIRTUAL_ACCESS, VIRTUAL_ACCESS_IF_ID_BASE,
};
use iface::LinkKind;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_xfrm::{Selector, XfrmMessage, XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::time::{SystemTime, UNIX_EPOCH};
use xfrm::Binding;

/// The highest if_id: IOS numbers tunnels 0..2^31-1, `TunnelN`'s if_id (vti key) is
/// N and Tunnel0's 2^31 (0 means "no interface" to XFRM); Virtual-AccessN's is 2^31 + N.
const MAX_IF_ID: u32 = VIRTUAL_ACCESS_IF_ID_BASE + MAX_VIRTUAL_ACCESS;
/// Tunnel0's if_id (config's `TUNNEL0_IF_ID`).
#[cfg(test)]
const TUNNEL0_IF_ID: u32 = 1 << 31;
/// Virtual-AccessN's reqid: this base with N below. The top bit is TunnelN's, so
/// these are told from ours by the binding too (an if_id above 2^31); strongSwan and
/// Libreswan count theirs up from 1, far below.
const VIRTUAL_ACCESS_REQID_BASE: u32 = 0x4000_0000;
/// Set in every reqid of ours (see `reqid_for`).
const OWN_REQID_FLAG: u32 = 1 << 31;
/// Earlier versions' reqids, `0x494b_0000 | if_id` (if_ids up to 65534): a tunnel's
/// leftovers under them go too, or their policies (same selector and binding) would
/// refuse the new ones.
const LEGACY_REQID_BASE: u32 = 0x494b_0000;
const LEGACY_MAX_IF_ID: u32 = 0xfffe;
/// The probe's throw-away interfaces and state: an if_id no tunnel has, and a reqid
/// none of ours is.
const PROBE_IF_ID: u32 = u32::MAX;
const PROBE_REQID: u32 = 0;
const _: () = assert!(MAX_IF_ID < PROBE_IF_ID, "the probe's if_id is no tunnel's");

/// Force vti6/vti even where xfrm interfaces exist (tests of the fallback).
pub const FORCE_VTI_ENV: &str = "IKEV1D_FORCE_VTI";

/// The reqid of the tunnel with `if_id`: the top bit set, the tunnel number in the
/// 31 bits below (Tunnel0's if_id, 2^31, has none there): one per tunnel number,
/// never 0, and told from other daemons' (strongSwan and Libreswan count theirs up
/// from small numbers). A state or policy is the tunnel's when it carries this reqid
/// and the tunnel's binding.
fn reqid_for(if_id: u32) -> u32 {
    match if_id.checked_sub(VIRTUAL_ACCESS_IF_ID_BASE) {
        Some(n) if n > 0 => VIRTUAL_ACCESS_REQID_BASE | n,
        _ => OWN_REQID_FLAG | (if_id & !OWN_REQID_FLAG),
    }
}

/// `Virtual-AccessK` or `ViK`: the engine's names for dynamic VTI interfaces.
fn is_virtual_access_name(name: &str) -> bool {
    let digits = name
        .strip_prefix("Virtual-Access")
        .or_else(|| name.strip_prefix("Vi"));
    digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The reqids a tunnel's leftovers may carry: its own, and an earlier version's.
fn leftover_reqids(if_id: u32) -> impl Iterator<Item = u32> {
    let legacy = (if_id <= LEGACY_MAX_IF_ID).then_some(LEGACY_REQID_BASE | if_id);
    std::iter::once(reqid_for(if_id)).chain(legacy)
}

/// What the running kernel offers the kernel data path; each field is `Err(why)`
/// when missing. `--dataplane auto` logs it and picks userspace when unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelProbe {
    /// XFRM netlink accepts tunnel-mode ESP states for IPv6 and IPv4 outer.
    pub esp: std::result::Result<(), String>,
    /// `ip link add type xfrm` works (module xfrm_interface).
    pub xfrm_interface: std::result::Result<(), String>,
    /// `ip link add type vti6` works (module ip6_vti); `None`: not tried, because
    /// xfrm interfaces work and vti6 was not forced (loading ip6_vti adds
    /// ip6_vti0 and ip6tnl0 to every namespace).
    pub vti6: Option<std::result::Result<(), String>>,
}

/// Which interface type tunnels get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelKind {
    XfrmInterface,
    Vti,
}

impl KernelProbe {
    /// Try what the data path needs, leaving nothing behind: a throw-away ESP
    /// state per family on loopback, a throw-away xfrm interface, and a vti6 one
    /// where xfrm interfaces fail or `force_vti`.
    pub fn run(force_vti: bool) -> KernelProbe {
        let missing = |e: io::Error| errno_name(&e);
        let esp = match Netlink::<XfrmMessage>::open() {
            Err(e) => Err(format!("no XFRM netlink: {}", missing(e))),
            Ok(mut nl) => {
                let fails: Vec<String> = [
                    ("esp6", IpAddr::V6(Ipv6Addr::LOCALHOST)),
                    ("esp4", IpAddr::V4(Ipv4Addr::LOCALHOST)),
                ]
                .into_iter()
                .filter_map(|(m, a)| {
                    probe_esp(&mut nl, a)
                        .err()
                        .map(|e| format!("{m}: {}", missing(e)))
                })
                .collect();
                if fails.is_empty() {
                    Ok(())
                } else {
                    Err(fails.join(", "))
                }
            }
        };
        let (xfrm_interface, vti6) = match Netlink::open() {
            Err(e) => {
                let e = format!("no rtnetlink: {}", missing(e));
                (Err(e.clone()), Some(Err(e)))
            }
            Ok(mut rt) => {
                let kind = LinkKind::Xfrm {
                    if_id: PROBE_IF_ID,
                    link: None,
                };
                let xfrmi = probe_link(&mut rt, kind).map_err(missing);
                let lo = IpAddr::V6(Ipv6Addr::LOCALHOST);
                let vti6 = (xfrmi.is_err() || force_vti).then(|| {
                    let kind = LinkKind::Vti {
                        key: PROBE_IF_ID,
                        local: lo,
                        remote: lo,
                        link: None,
                    };
                    probe_link(&mut rt, kind).map_err(missing)
                });
                (xfrmi, vti6)
            }
        };
        KernelProbe {
            esp,
            xfrm_interface,
            vti6,
        }
    }

    /// The tunnel interface type to use, or why the kernel data path is unusable.
    pub fn usable(&self, force_vti: bool) -> Result<TunnelKind> {
        let kind = match (&self.xfrm_interface, &self.vti6) {
            (Ok(()), _) if !force_vti => Some(TunnelKind::XfrmInterface),
            (_, Some(Ok(()))) => Some(TunnelKind::Vti),
            _ => None,
        };
        match (&self.esp, kind) {
            (Ok(()), Some(kind)) => Ok(kind),
            _ => Err(DataplaneError::new(
                "kernel data path unavailable",
                io::Error::new(io::ErrorKind::Unsupported, self.to_string()),
            )),
        }
    }
}

impl std::fmt::Display for KernelProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        match &self.esp {
            Ok(()) => parts.push("ESP states accepted".to_string()),
            Err(e) => parts.push(format!("the kernel rejects ESP states ({e})")),
        }
        match &self.xfrm_interface {
            Ok(()) => parts.push("xfrm interfaces".into()),
            Err(e) => parts.push(format!("no xfrm interfaces (xfrm_interface: {e})")),
        }
        match &self.vti6 {
            Some(Ok(())) => parts.push("vti6".into()),
            Some(Err(e)) => parts.push(format!("no vti6 (ip6_vti: {e})")),
            None => {}
        }
        f.write_str(&parts.join("; "))
    }
}

/// A state `src -> dst` with a random SPI and zero keys, never used for traffic:
/// probing, and replacing acquire states so that they can be deleted.
fn placeholder_sa(src: IpAddr, dst: IpAddr, mode: EspMode) -> SaSpec {
    SaSpec {
        tunnel: String::new(),
        direction: Direction::In,
        spi: 0x100 + OsRng.next_u32() % 0xffff_0000,
        src,
        dst,
        inner: InnerFamily::V6,
        mode,
        transform: EspTransform {
            encr: EspEncr::Aes(128),
            auth: EspAuth::HmacSha1,
        },
        enc_key: Secret::new(vec![0; 16]),
        auth_key: Secret::new(vec![0; 20]),
        lifetimes: Lifetimes::default(),
        encap: None,
        replay_window: 0,
    }
}

/// Add a placeholder state and delete it again.
fn add_and_delete(
    nl: &mut Netlink<XfrmMessage>,
    sa: &SaSpec,
    reqid: u32,
    binding: Binding,
) -> io::Result<()> {
    nl.request(
        XfrmMessage::AddSa(xfrm::sa(sa, reqid, binding, super::DfBit::Copy)),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    nl.request(
        XfrmMessage::DeleteSa(xfrm::sa_id(sa.dst, sa.spi, binding)),
        0,
    )?;
    Ok(())
}

/// The kernel loads esp6/esp4 on demand and refuses with EPROTONOSUPPORT without them.
fn probe_esp(nl: &mut Netlink<XfrmMessage>, lo: IpAddr) -> io::Result<()> {
    add_and_delete(
        nl,
        &placeholder_sa(lo, lo, EspMode::Tunnel),
        PROBE_REQID,
        Binding::IfId(PROBE_IF_ID),
    )
}

fn probe_link(rt: &mut Rtnl, kind: LinkKind) -> io::Result<()> {
    let name = format!("ikprobe{}", std::process::id() % 100_000_000);
    let index = iface::create(rt, &name, kind)?;
    link::delete(rt, index)
}

fn tunnel<'a>(tunnels: &'a mut Tunnels, name: &str) -> Result<&'a mut Tunnel> {
    tunnels.by_name.get_mut(name).ok_or_else(|| {
        DataplaneError::on(
            name,
            "looking up",
            DataplaneError::refused("unknown tunnel"),
        )
    })
}

/// The IKE sockets bypass the tunnels' policies (RFC 4301 5.1: IKE is not IPsec
/// traffic); on 4500 the kernel takes ESP-in-UDP (RFC 3948) off the socket.
pub(super) fn prepare_ike_socket(socket: &std::net::UdpSocket, nat_t: bool) -> Result<()> {
    let v6 = socket
        .local_addr()
        .map_err(|e| DataplaneError::new("IKE socket", e))?
        .is_ipv6();
    bypass_socket(socket.as_fd(), v6)
        .map_err(|e| DataplaneError::new("IKE socket bypass policy", e))?;
    if nat_t {
        enable_espinudp(socket.as_fd())
            .map_err(|e| DataplaneError::new("IKE socket ESP-in-UDP", e))?;
    }
    Ok(())
}

/// A tunnel's policies: a VTI's `::/0` and `0.0.0.0/0` in every direction, GRE's for
/// its packets, in the tunnel's current mode (`update`: replacing them).
fn add_policies(xfrm: &mut Netlink<XfrmMessage>, tunnel: &Tunnel, update: bool) -> Result<()> {
    let t = &tunnel.spec;
    let policies: Vec<(Selector, u8)> = match tunnel.binding {
        Binding::Selector => xfrm::gre_policies(t.local, t.peer).to_vec(),
        _ => xfrm::any_selectors()
            .into_iter()
            .flat_map(|sel| xfrm::DIRECTIONS.map(|dir| (sel, dir)))
            .collect(),
    };
    for (sel, dir) in policies {
        let p = xfrm::policy(
            sel,
            dir,
            t.local,
            t.peer,
            tunnel.reqid,
            tunnel.binding,
            tunnel.policy_mode,
            update,
        );
        let flags = if update { 0 } else { NLM_F_CREATE | NLM_F_EXCL };
        xfrm.request(p, flags)
            .map_err(|e| DataplaneError::on(&t.name, "adding policy", e))?;
    }
    Ok(())
}

/// Why GRE tunnel `t` cannot be added next to `others`: its policies select the GRE
/// between its endpoints by address alone, so another GRE tunnel between the same
/// endpoints, in another `tunnel vrf`, would take its packets.
fn gre_clash<'a>(
    mut others: impl Iterator<Item = &'a TunnelSpec>,
    t: &TunnelSpec,
) -> Option<String> {
    t.options.gre?;
    let other = others.find(|o| {
        o.options.gre.is_some() && o.name != t.name && (o.local, o.peer) == (t.local, t.peer)
    })?;
    Some(format!(
        "{} is GRE between {} and {} already ({}): XFRM cannot tell the two apart by \
         their VRFs; use a VTI (tunnel mode ipsec) for one, or the userspace data path",
        other.name,
        t.local,
        t.peer,
        other
            .options
            .tunnel_vrf
            .as_deref()
            .map_or("the global table".to_string(), |v| format!(
                "tunnel vrf {v}"
            ))
    ))
}

/// The MTU to give a tunnel interface: the configured one; on GRE without one, room for
/// ESP (a GRE interface's own default, 1476, leaves none); else the kernel's choice.
fn link_mtu(t: &TunnelSpec) -> Option<u32> {
    match t.options.gre {
        Some(_) => Some(t.mtu.unwrap_or_else(|| super::default_mtu(t))),
        None => t.mtu,
    }
}

struct Tunnel {
    spec: TunnelSpec,
    index: u32,
    binding: Binding,
    reqid: u32,
    /// The mode of a GRE tunnel's policy templates: the last SA's.
    policy_mode: EspMode,
    /// The VRF device of `vrf forwarding`.
    ivrf: Option<VrfDevice>,
    /// Inbound SPIs from ALLOCSPI: their larval states are completed by UPDSA.
    larval: HashSet<u32>,
    /// Its lines need netfilter rules (`adjust-mss`, `df-bit set`): it has a table.
    nft: bool,
}

/// The tunnels by name, and by reqid: the kernel's ACQUIRE and EXPIRE name only the
/// reqid, and a hub with thousands of tunnels gets them all the time. Tunnels are
/// added and removed here only, so the two maps stay in step.
#[derive(Default)]
struct Tunnels {
    by_name: HashMap<String, Tunnel>,
    by_reqid: HashMap<u32, String>,
}

impl Tunnels {
    fn insert(&mut self, tunnel: Tunnel) {
        let name = tunnel.spec.name.clone();
        self.by_reqid.insert(tunnel.reqid, name.clone());
        self.by_name.insert(name, tunnel);
    }

    fn remove(&mut self, name: &str) -> Option<Tunnel> {
        let tunnel = self.by_name.remove(name)?;
        if self.by_reqid.get(&tunnel.reqid).map(String::as_str) == Some(name) {
            self.by_reqid.remove(&tunnel.reqid);
        }
        Some(tunnel)
    }

    fn with_reqid(&mut self, reqid: u32) -> Option<&mut Tunnel> {
        let name = self.by_reqid.get(&reqid)?;
        self.by_name.get_mut(name)
    }

    fn values(&self) -> impl Iterator<Item = &Tunnel> {
        self.by_name.values()
    }
}

pub struct KernelDataplane {
    xfrm: Netlink<XfrmMessage>,
    rtnl: Rtnl,
    /// XFRM_MSG_EXPIRE and XFRM_MSG_ACQUIRE.
    events: Listener<XfrmMessage>,
    kind: TunnelKind,
    tunnels: Tunnels,
    vrfs: Vrfs,
    /// Netfilter tables of tunnels a previous instance left behind, by tunnel.
    nft_leftovers: HashSet<String>,
    /// The owners (reqid, binding) of the states and policies in the kernel when this
    /// instance started, less those purged since: a crashed instance's leftovers are
    /// among them. Read once, so that creating N tunnels does not read N dumps of
    /// every state and policy.
    xfrm_leftovers: HashSet<(u32, Binding)>,
}

impl KernelDataplane {
    /// Probe the kernel; fail naming what is missing (ESP, xfrm interfaces and vti6).
    /// `IKEV1D_FORCE_VTI=1` picks vti6/vti even where xfrm interfaces exist.
    pub fn open() -> Result<Self> {
        let force_vti = std::env::var_os(FORCE_VTI_ENV).is_some_and(|v| v == "1");
        let probe = KernelProbe::run(force_vti);
        let kind = probe.usable(force_vti)?;
        tracing::info!(?kind, "kernel data path: {probe}");
        let mut xfrm =
            Netlink::open().map_err(|e| DataplaneError::new("opening XFRM netlink", e))?;
        let mut xfrm_leftovers = HashSet::new();
        for dump in [xfrm::dump_policies(), xfrm::dump_sas()] {
            let dumped = xfrm
                .dump(dump)
                .map_err(|e| DataplaneError::new("reading XFRM policies and states", e))?;
            xfrm_leftovers.extend(dumped.iter().flat_map(xfrm::owners_in));
        }
        Ok(KernelDataplane {
            xfrm,
            rtnl: link::open()?,
            events: Listener::open(&[XFRMNLGRP_EXPIRE, XFRMNLGRP_ACQUIRE]).map_err(|e| {
                DataplaneError::new("joining the XFRM expire and acquire groups", e)
            })?,
            kind,
            tunnels: Tunnels::default(),
            vrfs: Vrfs::default(),
            nft_leftovers: nft::leftovers(),
            xfrm_leftovers,
        })
    }

    /// Delete every state and policy that carries one of `owners`' reqid and binding
    /// (policies first, so no traffic triggers an acquire in between). One dump of
    /// each for all of them: a dump holds every tunnel's, and a tunnel is created with
    /// two owners (its reqid, an earlier version's), a start with as many as a crashed
    /// hub had Virtual-Access interfaces.
    ///
    /// A deletion that fails does not stop the others (a daemon going down removes
    /// all it can); the first failure is returned.
    fn purge(&mut self, owners: &[(u32, Binding)]) -> io::Result<()> {
        let mut first = Ok(());
        let mut keep = |r: io::Result<()>| {
            if first.is_ok() {
                first = r;
            }
        };
        let owners: HashSet<(u32, Binding)> = owners.iter().copied().collect();
        let owned = |reqid, binding| owners.contains(&(reqid, binding));
        let policies = self.xfrm.dump(xfrm::dump_policies())?;
        for del in xfrm::deletions_for(&policies, owned) {
            keep(unless_gone(self.xfrm.request(del, 0)));
        }
        let states = self.xfrm.dump(xfrm::dump_sas())?;
        for a in xfrm::acquires_for(&states, owned) {
            keep(unless_gone(add_and_delete(
                &mut self.xfrm,
                &placeholder_sa(a.src, a.dst, a.mode),
                a.reqid,
                a.binding,
            )));
        }
        for del in xfrm::deletions_for(&states, owned) {
            keep(unless_gone(self.xfrm.request(del, 0)));
        }
        first
    }

    /// Purge the owners among the start's leftovers (`xfrm_leftovers`) that `which`
    /// picks, and forget them.
    fn purge_leftovers(&mut self, which: impl Fn(&(u32, Binding)) -> bool) -> io::Result<()> {
        let picked: Vec<_> = self.xfrm_leftovers.iter().copied().filter(which).collect();
        if picked.is_empty() {
            return Ok(());
        }
        self.purge(&picked)?;
        for o in &picked {
            self.xfrm_leftovers.remove(o);
        }
        Ok(())
    }

    fn create_tunnel(&mut self, t: &TunnelSpec) -> Result<Tunnel> {
        let err = |op| DataplaneError::during(&t.name, op);
        let refused =
            |why: String| DataplaneError::on(&t.name, "creating", DataplaneError::refused(why));
        if t.if_id == 0 || t.if_id > MAX_IF_ID {
            return Err(refused(format!(
                "if_id {} outside 1..={MAX_IF_ID}",
                t.if_id
            )));
        }
        if t.local.is_ipv4() != t.peer.is_ipv4() {
            return Err(refused("local and peer address families differ".into()));
        }
        if let Some(why) = gre_clash(self.tunnels.values().map(|k| &k.spec), t) {
            return Err(refused(why));
        }
        let reqid = reqid_for(t.if_id);
        let o = &t.options;
        let ivrf = self
            .vrfs
            .ensure(&mut self.rtnl, o.vrf.as_deref(), &t.name)?;
        // `tunnel vrf`: the outer packets are routed in the VRF's table (the link's).
        let fvrf = self
            .vrfs
            .ensure(&mut self.rtnl, o.tunnel_vrf.as_deref(), &t.name)?;
        let link = fvrf.map(|v| v.index);
        let (binding, kind) = match (t.options.gre, self.kind) {
            (Some(gre), _) => (
                Binding::Selector,
                LinkKind::Gre {
                    local: t.local,
                    remote: t.peer,
                    key: gre.key,
                    link,
                },
            ),
            (None, TunnelKind::XfrmInterface) => (
                Binding::IfId(t.if_id),
                LinkKind::Xfrm {
                    if_id: t.if_id,
                    link,
                },
            ),
            (None, TunnelKind::Vti) => (
                Binding::Mark(t.if_id),
                LinkKind::Vti {
                    key: t.if_id,
                    local: t.local,
                    remote: t.peer,
                    link,
                },
            ),
        };
        let creating = match kind {
            LinkKind::Gre { local, .. } if local.is_ipv4() => {
                "creating GRE interface (gre: kernel module ip_gre)"
            }
            LinkKind::Gre { .. } => "creating GRE interface (ip6gre: kernel module ip6_gre)",
            _ => "creating interface",
        };
        // A crashed instance's leftovers of this tunnel; a foreign interface stays.
        self.purge_leftovers(|o| o.1 == binding && leftover_reqids(t.if_id).any(|r| r == o.0))
            .map_err(err("removing leftover states and policies"))?;
        if self.nft_leftovers.remove(&t.name) {
            nft::replace(&t.name, None).map_err(err("removing a leftover nftables table"))?;
        }
        if let Some(old) = link::find(&mut self.rtnl, &t.name).map_err(err("looking up"))? {
            if old.alias.as_deref() != Some(link::OWNER_ALIAS) {
                return Err(refused(
                    "an interface of that name exists and was not created by ikev1d".into(),
                ));
            }
            link::delete(&mut self.rtnl, old.index).map_err(err("removing leftover interface"))?;
        }
        let index = iface::create(&mut self.rtnl, &t.name, kind).map_err(err(creating))?;
        let tunnel = Tunnel {
            spec: t.clone(),
            index,
            binding,
            reqid,
            policy_mode: EspMode::Tunnel,
            ivrf,
            larval: HashSet::new(),
            nft: nft::ruleset(t).is_some(),
        };
        // From here on, a failure removes the half-built tunnel.
        if let Err(e) = self.configure_tunnel(&tunnel) {
            for cleanup in self.teardown(&[tunnel]) {
                tracing::warn!("{cleanup}");
            }
            return Err(e);
        }
        Ok(tunnel)
    }

    fn configure_tunnel(&mut self, tunnel: &Tunnel) -> Result<()> {
        let t = &tunnel.spec;
        link::configure(
            &mut self.rtnl,
            tunnel.index,
            t,
            None,
            link_mtu(t),
            tunnel.ivrf,
        )?;
        add_policies(&mut self.xfrm, tunnel, false)?;
        if let Some(rules) = nft::ruleset(t) {
            nft::replace(&t.name, Some(&rules))
                .map_err(|e| DataplaneError::on(&t.name, "adding nftables rules", e))?;
        }
        Ok(())
    }

    /// The same interface with other lines: addresses, routes, MTU, netfilter rules.
    /// (`df-bit clear` is a flag of each state: it holds for SAs installed from now.)
    fn reconfigure(&mut self, t: &TunnelSpec) -> Result<()> {
        let tunnel = tunnel(&mut self.tunnels, &t.name)?;
        let (old, mtu, ivrf) = (Some(&tunnel.spec), link_mtu(t), tunnel.ivrf);
        link::configure(&mut self.rtnl, tunnel.index, t, old, mtu, ivrf)?;
        let rules = nft::ruleset(t);
        if rules.is_some() || tunnel.nft {
            nft::replace(&t.name, rules.as_deref())
                .map_err(|e| DataplaneError::on(&t.name, "replacing nftables rules", e))?;
        }
        tunnel.nft = rules.is_some();
        tunnel.spec = t.clone();
        Ok(())
    }

    /// Remove tunnels' policies, states and interfaces (their addresses and routes go
    /// with them): the states and policies of all of them in one purge, one dump of
    /// each (a dump holds every tunnel's: one per tunnel would make a SIGTERM of 10,000
    /// tunnels read 10,000 dumps of 20,000 policies). Keeps going past errors, returns
    /// them all.
    fn teardown(&mut self, tunnels: &[Tunnel]) -> Vec<DataplaneError> {
        let owners: Vec<_> = tunnels.iter().map(|t| (t.reqid, t.binding)).collect();
        let op = "removing states and policies";
        let purged = self.purge(&owners).map_err(|e| match tunnels {
            [one] => DataplaneError::on(&one.spec.name, op, e),
            _ => DataplaneError::new(format!("{op} of {} tunnels", tunnels.len()), e),
        });
        if purged.is_err() {
            // What is left is looked for again when the tunnel is created again.
            self.xfrm_leftovers.extend(owners);
        }
        let mut errors: Vec<_> = purged.err().into_iter().collect();
        for tunnel in tunnels {
            let name = &tunnel.spec.name;
            let deleted = match link::delete(&mut self.rtnl, tunnel.index) {
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
                r => r.map_err(|e| DataplaneError::on(name, "removing interface", e)),
            };
            let unfiltered = match tunnel.nft {
                true => nft::replace(name, None)
                    .map_err(|e| DataplaneError::on(name, "removing nftables rules", e)),
                false => Ok(()),
            };
            errors.extend(deleted.err().into_iter().chain(unfiltered.err()));
        }
        errors
    }
}

impl Dataplane for KernelDataplane {
    fn kind(&self) -> DataplaneKind {
        DataplaneKind::Kernel
    }

    fn ensure_tunnel(&mut self, t: &TunnelSpec) -> Result<()> {
        match self.tunnels.by_name.get(&t.name) {
            Some(known) if known.spec == *t => return Ok(()),
            // Addresses, routes, MTU and the interface's other lines change in place:
            // the SAs stay, as the engine keeps them (a reload with the same tunnel).
            // Another VRF, underlay or GRE is another interface.
            Some(known)
                if (known.spec.if_id, known.spec.local, known.spec.peer)
                    == (t.if_id, t.local, t.peer)
                    && (&known.spec.options.vrf, &known.spec.options.tunnel_vrf)
                        == (&t.options.vrf, &t.options.tunnel_vrf)
                    && known.spec.options.gre == t.options.gre =>
            {
                return self.reconfigure(t)
            }
            // Another interface: rebuild; the tunnel's SAs go with it.
            Some(_) => self.remove_tunnel(&t.name)?,
            None => {}
        }
        let tunnel = self.create_tunnel(t)?;
        self.tunnels.insert(tunnel);
        Ok(())
    }

    fn remove_tunnel(&mut self, name: &str) -> Result<()> {
        match self.remove_tunnels(&[name.to_string()]).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn remove_tunnels(&mut self, names: &[String]) -> Vec<DataplaneError> {
        let gone: Vec<Tunnel> = names
            .iter()
            .filter_map(|n| self.tunnels.remove(n))
            .collect();
        self.teardown(&gone)
    }

    fn remove_leftover_virtual_access(&mut self) -> Result<()> {
        let op = "removing a crashed instance's Virtual-Access leftovers";
        let err = |e| DataplaneError::new(op, e);
        // States and policies first, from what the start read (`xfrm_leftovers`): the
        // binding (if_id or vti mark 2^31 + K) and the reqid must both be a
        // Virtual-Access's, as `create_tunnel`'s purge requires.
        let live: HashSet<Binding> = self.tunnels.values().map(|t| t.binding).collect();
        self.purge_leftovers(|&(reqid, b)| match b {
            Binding::IfId(id) | Binding::Mark(id) => {
                id > VIRTUAL_ACCESS_IF_ID_BASE
                    && id <= MAX_IF_ID
                    && reqid == reqid_for(id)
                    && !live.contains(&b)
            }
            Binding::Selector => false,
        })
        .map_err(err)?;
        let names: HashSet<&str> = self.tunnels.by_name.keys().map(String::as_str).collect();
        let stale = link::ours_named(&mut self.rtnl, |n| {
            is_virtual_access_name(n) && !names.contains(n)
        })
        .map_err(err)?;
        for index in stale {
            unless_gone(link::delete(&mut self.rtnl, index)).map_err(err)?;
        }
        Ok(())
    }

    fn alloc_spi(&mut self, name: &str, src: IpAddr, dst: IpAddr) -> Result<u32> {
        let t = tunnel(&mut self.tunnels, name)?;
        let msg = xfrm::alloc_spi(src, dst, t.reqid, t.binding);
        let replies = self
            .xfrm
            .request(msg, 0)
            .map_err(|e| DataplaneError::on(name, "allocating an SPI", e))?;
        let spi = replies
            .iter()
            .find_map(|m| match m {
                XfrmMessage::AddSa(s) => Some(s.user_sa_info.id.spi),
                _ => None,
            })
            .ok_or_else(|| {
                let e = DataplaneError::refused("ALLOCSPI returned no state");
                DataplaneError::on(name, "allocating an SPI", e)
            })?;
        t.larval.insert(spi);
        Ok(spi)
    }

    fn install_sa(&mut self, spec: &TunnelSpec, sa: &SaSpec) -> Result<()> {
        let t = tunnel(&mut self.tunnels, &spec.name)?;
        if t.binding == Binding::Selector && t.policy_mode != sa.mode {
            // The templates must name the mode the states have (xfrm_state_find).
            t.policy_mode = sa.mode;
            add_policies(&mut self.xfrm, t, true)?;
        }
        let mut msg = xfrm::sa(sa, t.reqid, t.binding, spec.options.df_bit);
        // An allocated SPI has a larval state: UPDSA completes it. If it timed out
        // (the kernel drops larval states after net.core.xfrm_acq_expires), add.
        let mut res = Err(io::Error::from_raw_os_error(libc::ESRCH));
        if sa.direction == Direction::In && t.larval.remove(&sa.spi) {
            res = self.xfrm.request(XfrmMessage::UpdateSa(msg.clone()), 0);
        }
        if matches!(&res, Err(e) if e.raw_os_error() == Some(libc::ESRCH)) {
            res = self
                .xfrm
                .request(XfrmMessage::AddSa(msg.clone()), NLM_F_CREATE | NLM_F_EXCL);
        }
        xfrm::wipe_keys(&mut msg);
        res.map(drop).map_err(|e| {
            let what = format!(
                "installing {:?} SA {:#010x} ({})",
                sa.direction,
                sa.spi,
                sa.transform.ios_name()
            );
            DataplaneError::on(&spec.name, what, e)
        })
    }

    fn delete_sa(
        &mut self,
        name: &str,
        _direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<()> {
        let t = tunnel(&mut self.tunnels, name)?;
        t.larval.remove(&spi);
        let binding = t.binding;
        // Already gone (hard expiry) is fine: deleting is idempotent.
        unless_gone(
            self.xfrm
                .request(XfrmMessage::DeleteSa(xfrm::sa_id(dst, spi, binding)), 0),
        )
        .map_err(|e| DataplaneError::on(name, format!("deleting SA {spi:#010x}"), e))
    }

    fn counters(
        &mut self,
        name: &str,
        _direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<SaCounters> {
        let binding = tunnel(&mut self.tunnels, name)?.binding;
        let replies = self
            .xfrm
            .request(XfrmMessage::GetSa(xfrm::sa_id(dst, spi, binding)), 0)
            .map_err(|e| DataplaneError::on(name, format!("reading SA {spi:#010x}"), e))?;
        let info = replies
            .iter()
            .find_map(|m| match m {
                XfrmMessage::AddSa(s) => Some(s.user_sa_info),
                _ => None,
            })
            .ok_or_else(|| {
                let e = io::Error::new(io::ErrorKind::NotFound, "no such SA");
                DataplaneError::on(name, format!("reading SA {spi:#010x}"), e)
            })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(SaCounters {
            packets: info.lifetime_cur.packets,
            bytes: info.lifetime_cur.bytes,
            replay_errors: u64::from(info.stats.replay) + u64::from(info.stats.replay_window),
            integrity_errors: u64::from(info.stats.integrity_failed),
            age_s: now.saturating_sub(info.lifetime_cur.add_time),
        })
    }

    fn poll_events(&mut self) -> Vec<DataplaneEvent> {
        let messages = match self.events.drain() {
            Ok(m) => m,
            Err(e) => {
                // ENOBUFS: events were lost; the engine's own timers still expire SAs,
                // and traffic that still finds no SA makes the kernel ask again.
                tracing::warn!("XFRM expire and acquire events: {e}");
                return vec![];
            }
        };
        // One acquire per tunnel is enough, whatever the families and packets.
        let mut acquired = HashSet::new();
        messages
            .into_iter()
            .filter_map(|m| match m {
                XfrmMessage::Acquire(a) => {
                    let tunnel = xfrm::acquired_reqids(&a.nlas)
                        .find_map(|reqid| self.tunnels.by_reqid.get(&reqid))?;
                    acquired
                        .insert(tunnel.clone())
                        .then(|| DataplaneEvent::Acquire {
                            tunnel: tunnel.clone(),
                        })
                }
                XfrmMessage::Expire(x) => {
                    let s = &x.expire.state;
                    let tunnel = self.tunnels.with_reqid(s.reqid)?;
                    // An allocated SPI whose Quick Mode never completed: its larval
                    // state timed out, no SA of the engine's is affected.
                    if tunnel.larval.remove(&s.id.spi) {
                        return None;
                    }
                    Some(DataplaneEvent::Expired {
                        tunnel: tunnel.spec.name.clone(),
                        spi: s.id.spi,
                        dst: xfrm::ip_of(s.id.daddr, s.family),
                        hard: x.expire.hard != 0,
                    })
                }
                _ => None,
            })
            .collect()
    }

    fn shutdown(&mut self) {
        let names: Vec<String> = self.tunnels.by_name.keys().cloned().collect();
        for e in self.remove_tunnels(&names) {
            tracing::warn!("{e}");
        }
        self.vrfs.remove_own(&mut self.rtnl);
    }
}

impl Drop for KernelDataplane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(esp: bool, xfrmi: bool, vti6: Option<bool>) -> KernelProbe {
        let r = |ok: bool, e: &str| if ok { Ok(()) } else { Err(e.to_string()) };
        KernelProbe {
            esp: r(esp, "esp6: EPROTONOSUPPORT, esp4: EPROTONOSUPPORT"),
            xfrm_interface: r(xfrmi, "EOPNOTSUPP"),
            vti6: vti6.map(|ok| r(ok, "EOPNOTSUPP")),
        }
    }

    #[test]
    fn xfrm_interfaces_are_preferred_and_vti6_is_the_fallback() {
        assert_eq!(
            probe(true, true, None).usable(false).unwrap(),
            TunnelKind::XfrmInterface
        );
        assert_eq!(
            probe(true, true, Some(true)).usable(true).unwrap(),
            TunnelKind::Vti
        );
        assert_eq!(
            probe(true, false, Some(true)).usable(false).unwrap(),
            TunnelKind::Vti
        );
        assert!(
            probe(true, true, Some(false)).usable(true).is_err(),
            "forced vti6 without vti6"
        );
        assert!(probe(false, true, None).usable(false).is_err(), "no ESP");
    }

    /// Every tunnel number has its own reqid, the old scheme's collision (`0x494b0000 |
    /// if_id` overlapping for if_ids past 16 bits) gone; leftovers of the old scheme
    /// are looked for where it could have made them.
    #[test]
    fn reqids_are_one_per_tunnel_number_and_never_zero() {
        let if_id = |n: u32| if n == 0 { TUNNEL0_IF_ID } else { n };
        let numbers = [
            0,
            1,
            23,
            0xfffe,
            0xffff,
            0x1_0000,
            0x494b_0017,
            (1 << 31) - 1,
        ];
        let reqids: HashSet<u32> = numbers.iter().map(|&n| reqid_for(if_id(n))).collect();
        assert_eq!(reqids.len(), numbers.len(), "{reqids:x?}");
        assert!(reqids.iter().all(|r| r & OWN_REQID_FLAG != 0));
        assert_eq!(reqid_for(if_id(0)), 0x8000_0000);
        assert_eq!(reqid_for(if_id(23)), 0x8000_0017);
        assert_eq!(reqid_for(if_id((1 << 31) - 1)), u32::MAX);
        assert!(!reqids.contains(&PROBE_REQID));
        assert_eq!(
            leftover_reqids(23).collect::<Vec<_>>(),
            [0x8000_0017, 0x494b_0017]
        );
        assert_eq!(leftover_reqids(0x1_0000).count(), 1);
        assert_eq!(leftover_reqids(TUNNEL0_IF_ID).count(), 1);
        // Virtual-AccessN (if_id 2^31 + N): a reqid of its own range, no tunnel's.
        let va: HashSet<u32> = [1, 2, 9, 10, MAX_VIRTUAL_ACCESS]
            .iter()
            .map(|n| reqid_for(VIRTUAL_ACCESS_IF_ID_BASE + n))
            .collect();
        assert_eq!(va.len(), 5);
        assert!(va.is_disjoint(&reqids), "{va:x?}");
        assert_eq!(reqid_for(VIRTUAL_ACCESS_IF_ID_BASE + 1), 0x4000_0001);
        assert!(!va.contains(&PROBE_REQID));
    }

    #[test]
    fn virtual_access_names_are_told_from_other_interfaces() {
        for n in ["Virtual-Access1", "Virtual-Access9", "Vi10", "Vi65535"] {
            assert!(is_virtual_access_name(n), "{n}");
        }
        for n in [
            "Vi",
            "Virtual-Access",
            "Virtual-Template1",
            "Vif1",
            "Tunnel1",
            "vi3",
        ] {
            assert!(!is_virtual_access_name(n), "{n}");
        }
    }

    #[test]
    fn two_gre_tunnels_between_the_same_endpoints_are_refused() {
        let spec = |name: &str, vrf: &str, gre: bool| TunnelSpec {
            name: name.into(),
            ..TunnelSpec::for_test(crate::dataplane::InterfaceOptions {
                gre: gre.then(Default::default),
                tunnel_vrf: Some(vrf.into()),
                ..Default::default()
            })
        };
        let red = spec("Tunnel1", "RED", true);
        let why = gre_clash([&red].into_iter(), &spec("Tunnel2", "GREEN", true)).unwrap();
        assert!(
            why.starts_with(
                "Tunnel1 is GRE between 192.0.2.2 and 192.0.2.3 already (tunnel vrf RED)"
            ),
            "{why}"
        );
        // A VTI between the same endpoints is bound to its own interface: no clash.
        assert_eq!(
            gre_clash([&red].into_iter(), &spec("Tunnel2", "GREEN", false)),
            None
        );
        assert_eq!(
            gre_clash([&spec("Tunnel2", "GREEN", false)].into_iter(), &red),
            None
        );
        // The same tunnel again (a rebuild) is not a clash.
        assert_eq!(gre_clash([&red].into_iter(), &red), None);
    }

    #[test]
    fn refusal_names_everything_missing() {
        let e = probe(false, false, Some(false)).usable(false).unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::Unsupported);
        assert_eq!(
            e.to_string(),
            "kernel data path unavailable: the kernel rejects ESP states (esp6: \
             EPROTONOSUPPORT, esp4: EPROTONOSUPPORT); no xfrm interfaces (xfrm_interface: \
             EOPNOTSUPP); no vti6 (ip6_vti: EOPNOTSUPP)"
        );
        assert_eq!(
            probe(true, true, None).to_string(),
            "ESP states accepted; xfrm interfaces"
        );
    }
}
