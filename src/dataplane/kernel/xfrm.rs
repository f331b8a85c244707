//! XFRM messages: ESP states and the policies of a tunnel, in the shape `ip xfrm
//! state|policy` would send them: a VTI's tunnel-mode states and `::/0` / `0.0.0.0/0`
//! policies, GRE over IPsec's transport- or tunnel-mode states and policies for the
//! endpoints' GRE packets (protocol 47) only.

use crate::dataplane::netlink::Protocol;
use crate::dataplane::DfBit;
use crate::ipsec::{EspMode, Lifetimes, SaSpec};
use netlink_packet_xfrm::{
    policy::{DelGetMessage as PolicyId, ModifyMessage as PolicyMsg},
    state::{AllocSpiMessage, DelGetMessage as SaIdMsg, GetDumpMessage, ModifyMessage as SaMsg},
    Address, Alg, AlgAead, AlgAuth, EncapTmpl, LifetimeConfig, Mark, ReplayEsn, Selector,
    UserPolicyId, UserPolicyInfo, UserSaId, UserSaInfo, UserSpiInfo, UserTemplate, XfrmAttrs,
    XfrmMessage, AF_INET, IPPROTO_ESP, UDP_ENCAP_ESPINUDP, XFRM_ALG_AEAD_NAME_LEN,
    XFRM_ALG_AUTH_NAME_LEN, XFRM_ALG_NAME_LEN, XFRM_INF, XFRM_MODE_TRANSPORT, XFRM_MODE_TUNNEL,
    XFRM_MSG_ACQUIRE, XFRM_MSG_EXPIRE, XFRM_MSG_NEWPOLICY, XFRM_MSG_NEWSA, XFRM_POLICY_ALLOW,
    XFRM_POLICY_FWD, XFRM_POLICY_IN, XFRM_POLICY_OUT, XFRM_STATE_AF_UNSPEC, XFRM_STATE_NOPMTUDISC,
    XFRM_USER_ACQUIRE_LEN, XFRM_USER_EXPIRE_LEN, XFRM_USER_SA_INFO_LEN,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use zeroize::Zeroize;

impl Protocol for XfrmMessage {
    const PROTOCOL: isize = netlink_sys::constants::NETLINK_XFRM;
    fn min_payload_len(message_type: u16) -> Option<usize> {
        match message_type {
            XFRM_MSG_NEWSA => Some(XFRM_USER_SA_INFO_LEN),
            XFRM_MSG_NEWPOLICY => Some(netlink_packet_xfrm::XFRM_USER_POLICY_INFO_LEN),
            XFRM_MSG_EXPIRE => Some(XFRM_USER_EXPIRE_LEN),
            XFRM_MSG_ACQUIRE => Some(XFRM_USER_ACQUIRE_LEN),
            _ => None,
        }
    }
    fn wipe(&mut self) {
        if let XfrmMessage::AddSa(m) | XfrmMessage::UpdateSa(m) = self {
            wipe_keys(m);
        }
    }
}

/// How a tunnel's states and policies are tied to its interface: an xfrm
/// interface matches on if_id; vti/vti6 set a mark (its key) for the lookups. A GRE
/// interface sends plain GRE packets: its policies and states are tied to nothing
/// but their selectors, the endpoints' GRE (protocol 47).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Binding {
    IfId(u32),
    Mark(u32),
    Selector,
}

/// IP protocol number of GRE (RFC 2784).
const IPPROTO_GRE: u8 = 47;

impl Binding {
    fn attrs(self) -> Vec<XfrmAttrs> {
        match self {
            Binding::IfId(id) => vec![XfrmAttrs::IfId(id)],
            Binding::Mark(m) => vec![mark_attr(m)],
            Binding::Selector => vec![],
        }
    }
    /// Lookups by SPI match the mark, not the if_id.
    fn lookup_attrs(self) -> Vec<XfrmAttrs> {
        match self {
            Binding::IfId(_) | Binding::Selector => vec![],
            Binding::Mark(m) => vec![mark_attr(m)],
        }
    }
}

fn xfrm_mode(mode: EspMode) -> u8 {
    match mode {
        EspMode::Tunnel => XFRM_MODE_TUNNEL,
        EspMode::Transport => XFRM_MODE_TRANSPORT,
    }
}

/// The GRE packets from `src` to `dst`: hosts, protocol 47.
pub(super) fn gre_selector(src: IpAddr, dst: IpAddr) -> Selector {
    let mut sel = Selector::default();
    let host = if src.is_ipv4() { 32 } else { 128 };
    sel.source_prefix(&src, host);
    sel.destination_prefix(&dst, host);
    sel.proto = IPPROTO_GRE;
    sel
}

fn mark_attr(value: u32) -> XfrmAttrs {
    XfrmAttrs::Mark(Mark {
        value,
        mask: u32::MAX,
    })
}

fn name<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0; N];
    out[..s.len()].copy_from_slice(s.as_bytes());
    out
}

fn lifetime_config(l: &Lifetimes) -> LifetimeConfig {
    LifetimeConfig {
        soft_byte_limit: l.soft_bytes.unwrap_or(XFRM_INF),
        hard_byte_limit: l.hard_bytes.unwrap_or(XFRM_INF),
        // 0 s means "no limit" to the kernel.
        soft_add_expires_seconds: l.soft_s.unwrap_or(0),
        hard_add_expires_seconds: l.hard_s.unwrap_or(0),
        ..LifetimeConfig::default()
    }
}

/// Replay windows above 32 packets need the bitmap attribute (ESN-style state
/// without the ESN flag); the legacy field silently caps at 32.
const LEGACY_REPLAY_MAX: u32 = 32;

/// XFRM_MSG_NEWSA / UPDSA body for one direction of an ESP SA, with the outer DF bit
/// `df` of its tunnel.
pub(super) fn sa(spec: &SaSpec, reqid: u32, binding: Binding, df: DfBit) -> SaMsg {
    let t = spec.transform;
    let mut info = UserSaInfo {
        // A VTI's selector is left all-zero (AF_UNSPEC) with XFRM_STATE_AF_UNSPEC: one SA
        // pair carries inner IPv4 and IPv6 (docs/design.md, "Kernel notes"). GRE's is its
        // packets, which transport mode needs of the outer family. The kernel copies an
        // inner IPv4 DF bit to the outer header (IOS's `df-bit copy`);
        // XFRM_STATE_NOPMTUDISC clears it (`df-bit clear`); `set` is a netfilter rule
        // (`nft.rs`).
        flags: if binding == Binding::Selector {
            0
        } else {
            XFRM_STATE_AF_UNSPEC
        } | if df == DfBit::Clear {
            XFRM_STATE_NOPMTUDISC
        } else {
            0
        },
        mode: xfrm_mode(spec.mode),
        reqid,
        lifetime_cfg: lifetime_config(&spec.lifetimes),
        ..UserSaInfo::default()
    };
    if binding == Binding::Selector {
        info.selector = gre_selector(spec.src, spec.dst);
    }
    info.source(&spec.src);
    info.destination(&spec.dst);
    info.id.spi = spec.spi;
    info.id.proto = IPPROTO_ESP;
    let mut nlas = if t.encr.is_combined() {
        // GCM and GMAC are one AEAD algorithm: key with its salt (RFC 4106 8.1), ICV.
        vec![XfrmAttrs::EncryptionAlgAead(AlgAead {
            alg_name: name::<XFRM_ALG_AEAD_NAME_LEN>(t.encr.xfrm_name()),
            alg_key_len: (spec.enc_key.len() * 8) as u32,
            alg_icv_len: (t.icv_len() * 8) as u32,
            alg_key: spec.enc_key.as_bytes().to_vec(),
        })]
    } else {
        vec![
            XfrmAttrs::EncryptionAlg(Alg {
                alg_name: name::<XFRM_ALG_NAME_LEN>(t.encr.xfrm_name()),
                alg_key_len: (spec.enc_key.len() * 8) as u32,
                alg_key: spec.enc_key.as_bytes().to_vec(),
            }),
            XfrmAttrs::AuthenticationAlgTrunc(AlgAuth {
                alg_name: name::<XFRM_ALG_AUTH_NAME_LEN>(t.auth.xfrm_name()),
                alg_key_len: (spec.auth_key.len() * 8) as u32,
                alg_trunc_len: (t.auth.icv_len() * 8) as u32,
                alg_key: spec.auth_key.as_bytes().to_vec(),
            }),
        ]
    };
    nlas.extend(binding.attrs());
    if spec.replay_window <= LEGACY_REPLAY_MAX {
        info.replay_window = spec.replay_window as u8;
    } else {
        let words = spec.replay_window.div_ceil(32);
        nlas.push(XfrmAttrs::ReplayStateEsn(ReplayEsn {
            bmp_len: words,
            replay_window: words * 32,
            bmp: vec![0; words as usize],
            ..ReplayEsn::default()
        }));
    }
    if let Some(encap) = spec.encap {
        // RFC 3948 UDP encapsulation; the kernel's ESP-in-UDP is type 2.
        nlas.push(XfrmAttrs::EncapsulationTemplate(EncapTmpl {
            encap_type: UDP_ENCAP_ESPINUDP,
            encap_sport: encap.sport,
            encap_dport: encap.dport,
            encap_oa: Address::default(),
        }));
    }
    SaMsg {
        user_sa_info: info,
        nlas,
    }
}

/// Wipe the key copies in a sent SA message.
pub(super) fn wipe_keys(msg: &mut SaMsg) {
    for nla in &mut msg.nlas {
        match nla {
            XfrmAttrs::EncryptionAlg(a) => a.alg_key.zeroize(),
            XfrmAttrs::AuthenticationAlgTrunc(a) => a.alg_key.zeroize(),
            XfrmAttrs::EncryptionAlgAead(a) => a.alg_key.zeroize(),
            _ => {}
        }
    }
}

/// XFRM_MSG_ALLOCSPI: a larval inbound state `src -> dst` with a fresh SPI.
pub(super) fn alloc_spi(src: IpAddr, dst: IpAddr, reqid: u32, binding: Binding) -> XfrmMessage {
    let mut spi_info = UserSpiInfo::default();
    spi_info.info.source(&src);
    spi_info.info.destination(&dst);
    spi_info.info.mode = XFRM_MODE_TUNNEL;
    spi_info.info.reqid = reqid;
    spi_info.protocol(IPPROTO_ESP);
    // Below 0x100 is reserved (RFC 4303 2.1).
    spi_info.spi_range(0x100, u32::MAX);
    XfrmMessage::AllocSpi(AllocSpiMessage {
        spi_info,
        nlas: binding.attrs(),
    })
}

/// Body of XFRM_MSG_GETSA / DELSA for the SA `(dst, spi)`.
pub(super) fn sa_id(dst: IpAddr, spi: u32, binding: Binding) -> SaIdMsg {
    sa_id_with(dst, spi, binding.lookup_attrs())
}

fn sa_id_with(dst: IpAddr, spi: u32, nlas: Vec<XfrmAttrs>) -> SaIdMsg {
    let mut user_sa_id = UserSaId {
        spi,
        proto: IPPROTO_ESP,
        ..UserSaId::default()
    };
    user_sa_id.destination(&dst);
    SaIdMsg { user_sa_id, nlas }
}

pub(super) fn dump_sas() -> XfrmMessage {
    XfrmMessage::GetDumpSa(GetDumpMessage::default())
}

pub(super) fn dump_policies() -> XfrmMessage {
    XfrmMessage::GetPolicy(PolicyId::default())
}

pub(super) const DIRECTIONS: [u8; 3] = [XFRM_POLICY_OUT, XFRM_POLICY_IN, XFRM_POLICY_FWD];

/// The selectors of a VTI's policies: everything, both inner families.
pub(super) fn any_selectors() -> [Selector; 2] {
    let mut v6 = Selector::default();
    v6.source_prefix(&IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
    v6.destination_prefix(&IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
    let mut v4 = Selector::default();
    v4.source_prefix(&IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    v4.destination_prefix(&IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    [v6, v4]
}

/// The two policies of a GRE tunnel, (selector, direction): out from us, in from the
/// peer; the GRE packets are ours, none is forwarded.
pub(super) fn gre_policies(local: IpAddr, peer: IpAddr) -> [(Selector, u8); 2] {
    [
        (gre_selector(local, peer), XFRM_POLICY_OUT),
        (gre_selector(peer, local), XFRM_POLICY_IN),
    ]
}

/// XFRM_MSG_NEWPOLICY: `selector` in direction `dir` through an ESP template in `mode`
/// between the outer addresses, matched to states by reqid. As XFRM_MSG_UPDPOLICY
/// (`update`) it replaces the policy of that selector and direction.
#[allow(clippy::too_many_arguments)]
pub(super) fn policy(
    selector: Selector,
    dir: u8,
    local: IpAddr,
    peer: IpAddr,
    reqid: u32,
    binding: Binding,
    mode: EspMode,
    update: bool,
) -> XfrmMessage {
    let (src, dst) = if dir == XFRM_POLICY_OUT {
        (local, peer)
    } else {
        (peer, local)
    };
    let mut tmpl = UserTemplate::default();
    tmpl.source(&src);
    tmpl.destination(&dst);
    tmpl.protocol(IPPROTO_ESP);
    tmpl.mode(xfrm_mode(mode));
    tmpl.reqid(reqid);
    let mut nlas = vec![XfrmAttrs::Template(vec![tmpl])];
    nlas.extend(binding.attrs());
    let msg = PolicyMsg {
        user_policy_info: UserPolicyInfo {
            selector,
            direction: dir,
            action: XFRM_POLICY_ALLOW,
            lifetime_cfg: LifetimeConfig::default(),
            ..UserPolicyInfo::default()
        },
        nlas,
    };
    if update {
        XfrmMessage::UpdatePolicy(msg)
    } else {
        XfrmMessage::AddPolicy(msg)
    }
}

/// The if_id or mark a state or policy carries; neither: bound by its selector alone
/// (GRE over IPsec's).
fn binding_of(nlas: &[XfrmAttrs]) -> Binding {
    nlas.iter()
        .find_map(|a| match a {
            XfrmAttrs::IfId(id) => Some(Binding::IfId(*id)),
            XfrmAttrs::Mark(m) => Some(Binding::Mark(m.value)),
            _ => None,
        })
        .unwrap_or(Binding::Selector)
}

/// Whose a dumped state or policy is: a state's reqid, each of a policy's templates'
/// reqids, with its binding (none for other messages).
pub(super) fn owners_in(m: &XfrmMessage) -> Vec<(u32, Binding)> {
    match m {
        XfrmMessage::AddSa(s) => vec![(s.user_sa_info.reqid, binding_of(&s.nlas))],
        XfrmMessage::AddPolicy(p) => {
            let binding = binding_of(&p.nlas);
            p.nlas
                .iter()
                .filter_map(|a| match a {
                    XfrmAttrs::Template(t) => Some(t),
                    _ => None,
                })
                .flatten()
                .map(|t| (t.reqid, binding))
                .collect()
        }
        _ => vec![],
    }
}

/// Delete requests for the states and policies of a dump whose reqid and binding are
/// `owned` (a tunnel's: see `reqid_for`), with the mark / if_id they were found with.
/// One pass over the dump whatever the number of owners.
pub(super) fn deletions_for(
    dump: &[XfrmMessage],
    owned: impl Fn(u32, Binding) -> bool,
) -> Vec<XfrmMessage> {
    let keep_ids = |nlas: &[XfrmAttrs]| -> Vec<XfrmAttrs> {
        nlas.iter()
            .filter(|a| matches!(a, XfrmAttrs::Mark(_) | XfrmAttrs::IfId(_)))
            .cloned()
            .collect()
    };
    let ours = |m| owners_in(m).into_iter().any(|(r, b)| owned(r, b));
    dump.iter()
        .filter_map(|m| match m {
            XfrmMessage::AddSa(s) if s.user_sa_info.id.spi != 0 && ours(m) => {
                let i = &s.user_sa_info;
                let mut id = sa_id_with(ip_of(i.id.daddr, i.family), i.id.spi, keep_ids(&s.nlas));
                id.user_sa_id.proto = i.id.proto;
                Some(XfrmMessage::DeleteSa(id))
            }
            XfrmMessage::AddPolicy(p) if ours(m) => {
                let info = &p.user_policy_info;
                Some(XfrmMessage::DeletePolicy(PolicyId {
                    user_policy_id: UserPolicyId {
                        selector: info.selector,
                        index: info.index,
                        direction: info.direction,
                    },
                    nlas: keep_ids(&p.nlas),
                }))
            }
            _ => None,
        })
        .collect()
}

/// An acquire state, as a state replacing it must match it (xfrm_state_add): outer
/// addresses, mode, reqid and binding.
pub(super) struct Acquire {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub mode: EspMode,
    pub reqid: u32,
    pub binding: Binding,
}

/// Acquire states (SPI 0) with `reqid` and `binding`: the kernel made them when
/// traffic met a policy before its state. No request deletes them by id; adding a
/// state with the same outer addresses, mode, reqid and binding replaces them
/// (xfrm_state_add).
pub(super) fn acquires_for(
    dump: &[XfrmMessage],
    owned: impl Fn(u32, Binding) -> bool,
) -> Vec<Acquire> {
    dump.iter()
        .filter_map(|m| match m {
            XfrmMessage::AddSa(s)
                if s.user_sa_info.id.spi == 0
                    && owned(s.user_sa_info.reqid, binding_of(&s.nlas)) =>
            {
                let i = &s.user_sa_info;
                Some(Acquire {
                    reqid: i.reqid,
                    binding: binding_of(&s.nlas),
                    src: ip_of(i.saddr, i.family),
                    dst: ip_of(i.id.daddr, i.family),
                    mode: if i.mode == XFRM_MODE_TRANSPORT {
                        EspMode::Transport
                    } else {
                        EspMode::Tunnel
                    },
                })
            }
            _ => None,
        })
        .collect()
}

/// The reqids an XFRM_MSG_ACQUIRE asks states for (its policy's templates): traffic met
/// a policy of theirs without a state.
pub(super) fn acquired_reqids(nlas: &[XfrmAttrs]) -> impl Iterator<Item = u32> + '_ {
    nlas.iter()
        .filter_map(|a| match a {
            XfrmAttrs::Template(t) => Some(t.iter().map(|t| t.reqid)),
            _ => None,
        })
        .flatten()
}

pub(super) fn ip_of(a: Address, family: u16) -> IpAddr {
    if family == AF_INET {
        IpAddr::V4(a.to_ipv4())
    } else {
        IpAddr::V6(a.to_ipv6())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Secret;

    /// The request is built from a copy of the SA message: that copy's keys are wiped
    /// once it is serialized, and so are the bytes once sent.
    #[test]
    fn no_copy_of_the_keys_is_left_in_freed_memory() {
        let mut s = spec(64);
        let (enc, auth) = (*b"enc-key-canary-0", *b"auth-key-canary-1234");
        s.enc_key = Secret::new(enc.to_vec());
        s.auth_key = Secret::new(auth.to_vec());
        let left = crate::testutil::freed::copies_left(&[&enc, &auth], || {
            let mut msg = sa(&s, 1, Binding::IfId(7), DfBit::Copy);
            let bytes = crate::dataplane::netlink::encode(XfrmMessage::AddSa(msg.clone()), 0, 1);
            assert!(
                bytes.windows(16).any(|w| w == enc),
                "the keys are in the request"
            );
            wipe_keys(&mut msg);
        });
        assert_eq!(left, 0);
    }
    use crate::ipsec::{Direction, EspAuth, EspEncr, EspTransform, UdpEncap};
    use netlink_packet_core::Emitable;
    use netlink_packet_xfrm::AF_INET6;

    fn spec(window: u32) -> SaSpec {
        SaSpec {
            lifetimes: Lifetimes {
                soft_s: Some(3000),
                hard_s: Some(3600),
                soft_bytes: None,
                hard_bytes: Some(4_608_000 * 1024),
                idle_s: None,
            },
            encap: Some(UdpEncap {
                sport: 4500,
                dport: 4500,
            }),
            replay_window: window,
            ..SaSpec::for_test(Direction::In, 0x1234, "2001:db8::3", "2001:db8::2")
        }
    }

    #[test]
    fn sa_message_matches_ip_xfrm_semantics() {
        let m = sa(&spec(32), 0x494b_0017, Binding::IfId(23), DfBit::Copy);
        let i = &m.user_sa_info;
        assert_eq!(i.family, AF_INET6);
        assert_eq!(i.selector.family, 0, "AF_UNSPEC selector carries v4 and v6");
        assert_eq!(i.flags, XFRM_STATE_AF_UNSPEC);
        assert_eq!(
            (i.mode, i.id.proto, i.id.spi),
            (XFRM_MODE_TUNNEL, IPPROTO_ESP, 0x1234)
        );
        assert_eq!(i.replay_window, 32);
        assert_eq!(i.lifetime_cfg.hard_add_expires_seconds, 3600);
        assert_eq!(i.lifetime_cfg.soft_byte_limit, XFRM_INF);
        assert!(m.nlas.contains(&XfrmAttrs::IfId(23)));
        let auth = m.nlas.iter().find_map(|a| match a {
            XfrmAttrs::AuthenticationAlgTrunc(a) => Some(a),
            _ => None,
        });
        assert_eq!(
            auth.map(|a| (a.alg_key_len, a.alg_trunc_len)),
            Some((160, 96))
        );
        assert!(m.nlas.iter().any(|a| matches!(a,
            XfrmAttrs::EncapsulationTemplate(e) if e.encap_type == 2 && e.encap_dport == 4500)));
        // the message the kernel gets: struct xfrm_usersa_info, then the attributes
        assert_eq!(UserSaInfo::parse(&emit(&m)).unwrap(), *i);
    }

    /// GCM as `ip xfrm state add ... aead 'rfc4106(gcm(aes))' 0x<36 bytes> 128`: one
    /// AEAD attribute with the salted key and a 128-bit ICV, no separate auth.
    #[test]
    fn combined_mode_sas_carry_one_aead_attribute() {
        for (encr, name, key_bits) in [
            (EspEncr::AesGcm(256), "rfc4106(gcm(aes))", 288),
            (EspEncr::AesGcm(128), "rfc4106(gcm(aes))", 160),
            (EspEncr::AesGmac(192), "rfc4543(gcm(aes))", 224),
        ] {
            let mut s = spec(32);
            s.transform = EspTransform::new(encr, EspAuth::None).unwrap();
            s.enc_key = Secret::new(vec![7; encr.key_len()]);
            s.auth_key = Secret::new(vec![]);
            let mut m = sa(&s, 1, Binding::IfId(1), DfBit::Copy);
            let aead: Vec<_> = m
                .nlas
                .iter()
                .filter_map(|a| match a {
                    XfrmAttrs::EncryptionAlgAead(a) => Some(a),
                    XfrmAttrs::EncryptionAlg(_) | XfrmAttrs::AuthenticationAlgTrunc(_) => {
                        panic!("{encr:?}: a separate cipher or auth attribute")
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(aead.len(), 1);
            assert_eq!(&aead[0].alg_name[..name.len()], name.as_bytes());
            assert_eq!(aead[0].alg_name[name.len()], 0);
            assert_eq!((aead[0].alg_key_len, aead[0].alg_icv_len), (key_bits, 128));
            assert_eq!(aead[0].alg_key.len() * 8, key_bits as usize);
            wipe_keys(&mut m);
            assert!(m.nlas.iter().all(|a| match a {
                XfrmAttrs::EncryptionAlgAead(a) => a.alg_key.iter().all(|&b| b == 0),
                _ => true,
            }));
        }
        let mut s = spec(32);
        s.transform = EspTransform::new(EspEncr::Aes(256), EspAuth::HmacSha512).unwrap();
        s.auth_key = Secret::new(vec![9; 64]);
        let m = sa(&s, 1, Binding::IfId(1), DfBit::Copy);
        assert!(m.nlas.iter().any(|a| matches!(a,
            XfrmAttrs::AuthenticationAlgTrunc(a) if a.alg_trunc_len == 256 && a.alg_key_len == 512)));
    }

    #[test]
    fn wide_replay_window_uses_the_bitmap_attribute() {
        let m = sa(&spec(64), 1, Binding::Mark(23), DfBit::Copy);
        assert_eq!(
            m.user_sa_info.replay_window, 0,
            "the kernel rejects both at once"
        );
        assert!(m.nlas.iter().any(|a| matches!(a,
            XfrmAttrs::ReplayStateEsn(r) if r.bmp_len == 2 && r.replay_window == 64 && r.bmp.len() == 2)));
        assert!(m.nlas.contains(&XfrmAttrs::Mark(Mark {
            value: 23,
            mask: u32::MAX
        })));
    }

    /// `df-bit clear` turns PMTU discovery off for the SA, whose outer header then
    /// never carries DF; `copy` (the default) and `set` leave the kernel's copying on.
    #[test]
    fn df_bit_clear_is_nopmtudisc() {
        for (df, flags) in [
            (DfBit::Clear, XFRM_STATE_AF_UNSPEC | XFRM_STATE_NOPMTUDISC),
            (DfBit::Copy, XFRM_STATE_AF_UNSPEC),
            (DfBit::Set, XFRM_STATE_AF_UNSPEC),
        ] {
            assert_eq!(
                sa(&spec(32), 1, Binding::IfId(1), df).user_sa_info.flags,
                flags
            );
        }
    }

    /// IOS's `replay window-size 1024` is a 1024-bit bitmap; `replay disable` is window
    /// 0 without one, which the kernel reads as "no anti-replay check".
    #[test]
    fn replay_disable_and_the_largest_ios_window() {
        let m = sa(&spec(1024), 1, Binding::IfId(1), DfBit::Copy);
        assert!(m.nlas.iter().any(|a| matches!(a,
            XfrmAttrs::ReplayStateEsn(r) if r.bmp_len == 32 && r.replay_window == 1024)));
        let m = sa(&spec(0), 1, Binding::IfId(1), DfBit::Copy);
        assert_eq!(m.user_sa_info.replay_window, 0);
        assert!(!m
            .nlas
            .iter()
            .any(|a| matches!(a, XfrmAttrs::ReplayStateEsn(_))));
    }

    #[test]
    fn keys_are_wiped_after_use() {
        let mut m = sa(&spec(32), 1, Binding::IfId(1), DfBit::Copy);
        wipe_keys(&mut m);
        for a in &m.nlas {
            match a {
                XfrmAttrs::EncryptionAlg(a) => assert!(a.alg_key.iter().all(|&b| b == 0)),
                XfrmAttrs::AuthenticationAlgTrunc(a) => assert!(a.alg_key.iter().all(|&b| b == 0)),
                _ => {}
            }
        }
    }

    #[test]
    fn deletions_pick_only_our_reqid_and_binding_and_keep_the_mark() {
        let ours = sa(&spec(32), 7, Binding::Mark(23), DfBit::Copy);
        let mut theirs = sa(&spec(32), 8, Binding::Mark(23), DfBit::Copy);
        theirs.user_sa_info.id.spi = 0x999;
        // Our reqid on another interface's (or nobody's) state: not ours.
        let mut elsewhere = sa(&spec(32), 7, Binding::Mark(24), DfBit::Copy);
        elsewhere.user_sa_info.id.spi = 0x998;
        let mut unbound = sa(&spec(32), 7, Binding::Mark(23), DfBit::Copy);
        unbound.user_sa_info.id.spi = 0x997;
        unbound.nlas.retain(|a| !matches!(a, XfrmAttrs::Mark(_)));
        let pol = |reqid, binding| {
            policy(
                any_selectors()[1],
                XFRM_POLICY_IN,
                "192.0.2.1".parse().unwrap(),
                "192.0.2.2".parse().unwrap(),
                reqid,
                binding,
                EspMode::Tunnel,
                false,
            )
        };
        let dump = vec![
            XfrmMessage::AddSa(ours),
            XfrmMessage::AddSa(theirs),
            XfrmMessage::AddSa(elsewhere),
            XfrmMessage::AddSa(unbound),
            pol(7, Binding::Mark(23)),
            pol(8, Binding::Mark(23)),
            pol(7, Binding::IfId(23)),
        ];
        let del = deletions_for(&dump, |r, b| (r, b) == (7, Binding::Mark(23)));
        assert_eq!(del.len(), 2, "{del:#?}");
        match &del[0] {
            XfrmMessage::DeleteSa(d) => {
                assert_eq!(d.user_sa_id.spi, 0x1234);
                assert_eq!(d.user_sa_id.family, AF_INET6);
                assert_eq!(d.nlas, vec![mark_attr(23)]);
            }
            m => panic!("{m:?}"),
        }
        match &del[1] {
            XfrmMessage::DeletePolicy(p) => {
                assert_eq!(p.user_policy_id.direction, XFRM_POLICY_IN);
                assert_eq!(p.user_policy_id.selector.family, AF_INET);
                assert_eq!(p.nlas, vec![mark_attr(23)]);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn inbound_policy_template_runs_peer_to_local() {
        let local: IpAddr = "2001:db8::2".parse().unwrap();
        let peer: IpAddr = "2001:db8::3".parse().unwrap();
        let XfrmMessage::AddPolicy(p) = policy(
            any_selectors()[0],
            XFRM_POLICY_IN,
            local,
            peer,
            9,
            Binding::IfId(23),
            EspMode::Tunnel,
            false,
        ) else {
            panic!()
        };
        let Some(XfrmAttrs::Template(t)) = p.nlas.first() else {
            panic!()
        };
        assert_eq!(ip_of(t[0].saddr, t[0].family), peer);
        assert_eq!(ip_of(t[0].id.daddr, t[0].family), local);
        assert_eq!(
            (t[0].reqid, t[0].mode, t[0].id.proto),
            (9, XFRM_MODE_TUNNEL, IPPROTO_ESP)
        );
        assert_eq!(p.user_policy_info.selector.family, AF_INET6);
        assert_eq!(p.user_policy_info.selector.prefixlen_d, 0);
    }

    /// GRE over IPsec as `ip xfrm` shows it: `src L/32 dst R/32 proto gre`, out and in
    /// only, a transport-mode template; states with that selector, in transport mode,
    /// tied to no interface.
    #[test]
    fn gre_policies_and_states_select_the_endpoints_gre_only() {
        let (local, peer): (IpAddr, IpAddr) =
            ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        let policies = gre_policies(local, peer);
        assert_eq!(
            policies.map(|(_, dir)| dir),
            [XFRM_POLICY_OUT, XFRM_POLICY_IN]
        );
        let (out, _) = policies[0];
        assert_eq!(
            (out.proto, out.family, out.prefixlen_s, out.prefixlen_d),
            (47, AF_INET, 32, 32)
        );
        assert_eq!(ip_of(out.saddr, AF_INET), local);
        assert_eq!(ip_of(out.daddr, AF_INET), peer);
        assert_eq!(ip_of(policies[1].0.saddr, AF_INET), peer);
        for update in [false, true] {
            let m = policy(
                out,
                XFRM_POLICY_OUT,
                local,
                peer,
                9,
                Binding::Selector,
                EspMode::Transport,
                update,
            );
            let p = match (&m, update) {
                (XfrmMessage::AddPolicy(p), false) | (XfrmMessage::UpdatePolicy(p), true) => p,
                _ => panic!("{m:?}"),
            };
            assert_eq!(
                p.nlas.len(),
                1,
                "a template, no if_id or mark: {:?}",
                p.nlas
            );
            let XfrmAttrs::Template(t) = &p.nlas[0] else {
                panic!()
            };
            assert_eq!((t[0].mode, t[0].reqid), (XFRM_MODE_TRANSPORT, 9));
        }
        let mut s = spec(32);
        (s.src, s.dst, s.mode, s.encap) = (peer, local, EspMode::Transport, None);
        let m = sa(&s, 9, Binding::Selector, DfBit::Copy);
        let i = &m.user_sa_info;
        assert_eq!(
            (i.mode, i.flags, i.family),
            (XFRM_MODE_TRANSPORT, 0, AF_INET)
        );
        assert_eq!(
            (i.selector.proto, i.selector.family, i.selector.prefixlen_s),
            (47, AF_INET, 32)
        );
        assert_eq!(ip_of(i.selector.saddr, AF_INET), peer);
        assert!(!m
            .nlas
            .iter()
            .any(|a| matches!(a, XfrmAttrs::IfId(_) | XfrmAttrs::Mark(_))));
        s.mode = EspMode::Tunnel;
        assert_eq!(
            sa(&s, 9, Binding::Selector, DfBit::Copy).user_sa_info.mode,
            XFRM_MODE_TUNNEL
        );
    }

    fn emit(m: &SaMsg) -> Vec<u8> {
        let mut b = vec![0; m.buffer_len()];
        m.emit(&mut b);
        b
    }
}
