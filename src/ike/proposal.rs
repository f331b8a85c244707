//! SA payloads: what we offer and how we choose, by IOS's rules.
//!
//! Phase 1: the initiator offers every `crypto isakmp policy` (priority order) as the
//! transforms of one proposal; the responder takes the first peer transform that matches
//! any policy, with the peer's lifetime no longer than the policy's.
//! Phase 2: one ESP proposal per transform set of the profile, tunnel mode (UDP-encapsulated
//! behind NAT) even when the set says `mode transport` (IOS on a VTI); lifetimes in seconds
//! and kilobytes, the shorter wins; PFS group when the profile sets one.
//!
//! GRE over IPsec (`tunnel mode gre ip|ipv6`) follows IOS's `mode` rules for traffic
//! between the peers themselves (Cisco IOS Security Command Reference, "mode (IPsec)";
//! Cisco, "Configuring Security for VPNs with IPsec": the mode setting applies only to
//! traffic whose source and destination are the IPsec peers, as GRE between the
//! endpoints is): a set with `mode transport` requests transport mode but accepts
//! tunnel mode, so the initiator offers it twice, transport first, then tunnel; a set
//! in tunnel mode (the default) requests and accepts tunnel mode only. The responder
//! takes transport where the peer offers it and the matching set says `mode transport`,
//! else tunnel. (strongSwan, as an IKEv1 responder, takes only the mode it is
//! configured with; as an initiator it offers only that one.)

use super::error::{NoProposal, Offered};
use super::settings::{IsakmpPolicy, Origin, TransformSet, TunnelSettings};
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, EspTransform, HashAlg};
use crate::ipsec::EspMode;
use crate::isakmp::{
    decode_attributes, encode_attributes, p1_attr, p2_attr, Attribute, Proposal, ProtocolId,
    SaPayload, Transform, DOI_IPSEC, KEY_IKE, SIT_IDENTITY_ONLY,
};

/// RFC 2407 4.5: without a life duration an SA lives 8 hours.
const DEFAULT_LIFETIME_S: u64 = 28_800;

/// A 16-bit attribute (TV).
fn attr(attr_type: u16, value: u16) -> Attribute {
    Attribute::basic(attr_type, value)
}

/// The negotiated phase 1 suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suite {
    pub cipher: CipherAlg,
    pub hash: HashAlg,
    pub group: DhGroup,
    pub lifetime_s: u64,
    pub priority: u32,
    pub origin: Origin,
}

impl Suite {
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}/{}/group {}, lifetime {} s",
            cipher_name(self.cipher),
            hash_name(self.hash),
            self.group.id(),
            self.lifetime_s
        )
    }
}

pub(crate) fn cipher_name(c: CipherAlg) -> String {
    match c {
        CipherAlg::Des => "DES".into(),
        CipherAlg::TripleDes => "3DES".into(),
        CipherAlg::Aes(bits) => format!("AES-{bits}"),
    }
}

pub(crate) fn hash_name(h: HashAlg) -> &'static str {
    match h {
        HashAlg::Md5 => "MD5",
        HashAlg::Sha1 => "SHA",
        HashAlg::Sha256 => "SHA-256",
        HashAlg::Sha384 => "SHA-384",
        HashAlg::Sha512 => "SHA-512",
    }
}

fn policy_desc(p: &IsakmpPolicy) -> String {
    format!(
        "policy {} ({}) has {}/{}/group {}",
        p.priority,
        p.origin,
        cipher_name(p.cipher),
        hash_name(p.hash),
        p.group.id()
    )
}

fn p1_transform(number: u8, p: &IsakmpPolicy) -> Transform {
    let mut attributes = vec![attr(p1_attr::ENCRYPTION_ALGORITHM, p.cipher.ike_id())];
    if let Some(bits) = p.cipher.key_length_attr() {
        attributes.push(attr(p1_attr::KEY_LENGTH, bits));
    }
    attributes.extend([
        attr(p1_attr::HASH_ALGORITHM, p.hash.ike_id()),
        attr(p1_attr::AUTHENTICATION_METHOD, p1_attr::AUTH_PRE_SHARED),
        attr(p1_attr::GROUP_DESCRIPTION, p.group.id()),
        attr(p1_attr::LIFE_TYPE, p1_attr::LIFE_SECONDS),
        Attribute::life_duration(p1_attr::LIFE_DURATION, p.lifetime_s.into()),
    ]);
    Transform {
        number,
        transform_id: KEY_IKE,
        attributes,
    }
}

/// MM1's SA: one ISAKMP proposal, one transform per policy in priority order.
pub fn p1_offer(policies: &[IsakmpPolicy]) -> SaPayload {
    SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals: vec![Proposal {
            number: 1,
            protocol: ProtocolId::ISAKMP,
            spi: Vec::new(),
            transforms: policies
                .iter()
                .enumerate()
                .map(|(i, p)| p1_transform(u8::try_from(i + 1).unwrap_or(u8::MAX), p))
                .collect(),
        }],
    }
}

/// A peer's phase 1 transform, attribute by attribute (unknown values kept for logs).
#[derive(Debug, Default)]
struct P1Attrs {
    cipher: Option<u16>,
    key_bits: Option<u16>,
    hash: Option<u16>,
    auth: Option<u16>,
    group: Option<u16>,
    lifetime_s: Option<u64>,
    /// An attribute we do not implement (group type, prime, kilobyte lifetime...).
    unsupported: bool,
}

impl P1Attrs {
    fn parse(t: &Transform) -> P1Attrs {
        let mut a = P1Attrs::default();
        let mut life_type = None;
        for at in &t.attributes {
            let v = at.value.as_u64();
            let v16 = v.and_then(|v| u16::try_from(v).ok());
            match at.attr_type {
                p1_attr::ENCRYPTION_ALGORITHM => a.cipher = v16,
                p1_attr::KEY_LENGTH => a.key_bits = v16,
                p1_attr::HASH_ALGORITHM => a.hash = v16,
                p1_attr::AUTHENTICATION_METHOD => a.auth = v16,
                p1_attr::GROUP_DESCRIPTION => a.group = v16,
                p1_attr::LIFE_TYPE => life_type = v16,
                p1_attr::LIFE_DURATION => match (life_type, v) {
                    (Some(p1_attr::LIFE_SECONDS), Some(v)) => a.lifetime_s = Some(v),
                    _ => a.unsupported = true,
                },
                _ => a.unsupported = true,
            }
        }
        if t.transform_id != KEY_IKE {
            a.unsupported = true;
        }
        a
    }

    fn cipher(&self) -> Option<CipherAlg> {
        CipherAlg::from_ike(self.cipher?, self.key_bits)
    }
    fn hash(&self) -> Option<HashAlg> {
        HashAlg::from_ike_id(self.hash?)
    }
    fn group(&self) -> Option<DhGroup> {
        DhGroup::from_id(self.group?)
    }

    fn describe(&self) -> String {
        let cipher = match self.cipher() {
            Some(c) => cipher_name(c),
            None => format!("cipher {}", opt(self.cipher)),
        };
        let hash = match self.hash() {
            Some(h) => hash_name(h).to_string(),
            None => format!("hash {}", opt(self.hash)),
        };
        let mut s = format!("{cipher}/{hash}/group {}", opt(self.group));
        if self.auth != Some(p1_attr::AUTH_PRE_SHARED) {
            s.push_str(&format!(" with authentication method {}", opt(self.auth)));
        }
        s
    }
}

fn opt(v: Option<u16>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

fn p1_matches(a: &P1Attrs, p: &IsakmpPolicy) -> bool {
    !a.unsupported
        && a.auth == Some(p1_attr::AUTH_PRE_SHARED)
        && a.cipher() == Some(p.cipher)
        && a.hash() == Some(p.hash)
        && a.group() == Some(p.group)
}

/// The responder's choice: the suite, and MM2's SA (the chosen transform as received).
#[derive(Debug)]
pub(crate) struct P1Choice {
    pub suite: Suite,
    pub reply: SaPayload,
}

/// Responder: the first peer transform matching any of our policies (IOS).
pub(crate) fn p1_select(policies: &[IsakmpPolicy], sa: &SaPayload) -> Result<P1Choice, NoProposal> {
    let mut offered = Offered::default();
    let mut too_long = None;
    for prop in sa
        .proposals
        .iter()
        .filter(|p| p.protocol == ProtocolId::ISAKMP)
    {
        for t in &prop.transforms {
            let a = P1Attrs::parse(t);
            let lifetime_s = a.lifetime_s.unwrap_or(DEFAULT_LIFETIME_S);
            for p in policies.iter().filter(|p| p1_matches(&a, p)) {
                if lifetime_s > u64::from(p.lifetime_s) {
                    too_long.get_or_insert(NoProposal::Phase1Lifetime {
                        offered_s: lifetime_s,
                        priority: p.priority,
                        origin: p.origin.clone(),
                        ours_s: p.lifetime_s,
                    });
                    continue;
                }
                return Ok(P1Choice {
                    suite: Suite {
                        cipher: p.cipher,
                        hash: p.hash,
                        group: p.group,
                        lifetime_s,
                        priority: p.priority,
                        origin: p.origin.clone(),
                    },
                    reply: SaPayload {
                        doi: sa.doi,
                        situation: sa.situation,
                        proposals: vec![Proposal {
                            number: prop.number,
                            protocol: prop.protocol,
                            spi: prop.spi.clone(),
                            transforms: vec![t.clone()],
                        }],
                    },
                });
            }
            offered.push(a.describe());
        }
    }
    Err(too_long.unwrap_or_else(|| NoProposal::Phase1 {
        offered,
        policies: policies.iter().map(policy_desc).collect(),
    }))
}

/// Initiator: MM2 must pick exactly one of the transforms we offered.
pub(crate) fn p1_accept(policies: &[IsakmpPolicy], sa: &SaPayload) -> Option<Suite> {
    let [prop] = sa.proposals.as_slice() else {
        return None;
    };
    let [t] = prop.transforms.as_slice() else {
        return None;
    };
    let a = P1Attrs::parse(t);
    let p = policies.iter().find(|p| p1_matches(&a, p))?;
    Some(Suite {
        cipher: p.cipher,
        hash: p.hash,
        group: p.group,
        lifetime_s: a
            .lifetime_s
            .unwrap_or(DEFAULT_LIFETIME_S)
            .min(p.lifetime_s.into()),
        priority: p.priority,
        origin: p.origin.clone(),
    })
}

/// Our policies as they appear in failure lines.
pub(crate) fn policies_desc(policies: &[IsakmpPolicy]) -> String {
    policies
        .iter()
        .map(policy_desc)
        .collect::<Vec<_>>()
        .join(", ")
}

/// IOS transform-set words for an ESP transform: "esp-aes 256 esp-sha-hmac".
pub(crate) fn esp_name(t: EspTransform) -> String {
    t.ios_name()
}

/// Phase 2 lifetimes and the encapsulation we offer or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    pub seconds: u64,
    pub kilobytes: u64,
}

impl Lifetime {
    pub(crate) fn min(self, other: Lifetime) -> Lifetime {
        Lifetime {
            seconds: self.seconds.min(other.seconds),
            kilobytes: self.kilobytes.min(other.kilobytes),
        }
    }

    pub(crate) fn of(tunnel: &TunnelSettings) -> Lifetime {
        Lifetime {
            seconds: tunnel.lifetime_s.into(),
            kilobytes: tunnel.lifetime_kb,
        }
    }

    /// SA life type/duration attributes, seconds then kilobytes (IOS order). An
    /// unlimited volume (`lifetime kilobytes disable`) is not offered at all.
    pub(crate) fn attributes(self) -> Vec<Attribute> {
        let mut a = vec![
            attr(p2_attr::SA_LIFE_TYPE, p2_attr::LIFE_SECONDS),
            Attribute::life_duration(p2_attr::SA_LIFE_DURATION, self.seconds),
        ];
        if self.kilobytes != u64::MAX {
            a.push(attr(p2_attr::SA_LIFE_TYPE, p2_attr::LIFE_KILOBYTES));
            a.push(Attribute::life_duration(
                p2_attr::SA_LIFE_DURATION,
                self.kilobytes,
            ));
        }
        a
    }

    /// Life type/duration pairs from a transform or a RESPONDER-LIFETIME notify; a
    /// dimension not mentioned is unlimited.
    pub(crate) fn from_attributes(attrs: &[Attribute]) -> Lifetime {
        let mut life = Lifetime {
            seconds: u64::MAX,
            kilobytes: u64::MAX,
        };
        let mut life_type = None;
        let mut any = false;
        for a in attrs {
            match a.attr_type {
                p2_attr::SA_LIFE_TYPE => life_type = a.value.as_u64(),
                p2_attr::SA_LIFE_DURATION => {
                    let v = a.value.as_u64().unwrap_or(u64::MAX);
                    match life_type.and_then(|t| u16::try_from(t).ok()) {
                        Some(p2_attr::LIFE_SECONDS) => life.seconds = v,
                        Some(p2_attr::LIFE_KILOBYTES) => life.kilobytes = v,
                        _ => continue,
                    }
                    any = true;
                }
                _ => {}
            }
        }
        if !any {
            // RFC 2407 4.5: no lifetime attributes means the default 28800 s.
            life.seconds = DEFAULT_LIFETIME_S;
        }
        life
    }
}

/// A peer's ESP transform.
#[derive(Debug)]
struct P2Attrs {
    encr: Option<EspEncr>,
    auth: Option<EspAuth>,
    encap: Option<u16>,
    group: Option<u16>,
    life: Lifetime,
}

impl P2Attrs {
    fn parse(t: &Transform) -> P2Attrs {
        let mut key_bits = None;
        let mut auth = None;
        let mut encap = None;
        let mut group = None;
        for a in &t.attributes {
            let v16 = a.value.as_u64().and_then(|v| u16::try_from(v).ok());
            match a.attr_type {
                p2_attr::KEY_LENGTH => key_bits = v16,
                p2_attr::AUTHENTICATION_ALGORITHM => auth = v16,
                p2_attr::ENCAPSULATION_MODE => encap = v16,
                p2_attr::GROUP_DESCRIPTION => group = v16,
                _ => {}
            }
        }
        P2Attrs {
            encr: EspEncr::from_transform_id(t.transform_id, key_bits),
            auth: match auth {
                None => Some(EspAuth::None),
                Some(id) => EspAuth::from_attr_id(id),
            },
            encap,
            group,
            life: Lifetime::from_attributes(&t.attributes),
        }
    }

    fn transform(&self) -> Option<EspTransform> {
        EspTransform::new(self.encr?, self.auth?).ok()
    }

    fn describe(&self, t: &Transform) -> String {
        match self.transform() {
            Some(x) => esp_name(x),
            None => format!("ESP transform {}", t.transform_id),
        }
    }

    /// The encapsulation mode, and whether it is UDP-encapsulated (RFC 3947 and its
    /// drafts); `None` for a value we do not know. Without the attribute: tunnel mode.
    fn encapsulation(&self) -> Option<(EspMode, bool)> {
        Some(match self.encap {
            None | Some(p2_attr::ENCAP_TUNNEL) => (EspMode::Tunnel, false),
            Some(p2_attr::ENCAP_UDP_TUNNEL | p2_attr::ENCAP_UDP_TUNNEL_DRAFT) => {
                (EspMode::Tunnel, true)
            }
            Some(p2_attr::ENCAP_TRANSPORT) => (EspMode::Transport, false),
            Some(p2_attr::ENCAP_UDP_TRANSPORT | p2_attr::ENCAP_UDP_TRANSPORT_DRAFT) => {
                (EspMode::Transport, true)
            }
            Some(_) => return None,
        })
    }
}

/// The ENCAPSULATION_MODE value for `mode`, UDP-encapsulated behind a NAT (RFC 3947 5).
fn encap_attr(mode: EspMode, udp_encap: bool) -> u16 {
    match (mode, udp_encap) {
        (EspMode::Tunnel, false) => p2_attr::ENCAP_TUNNEL,
        (EspMode::Tunnel, true) => p2_attr::ENCAP_UDP_TUNNEL,
        (EspMode::Transport, false) => p2_attr::ENCAP_TRANSPORT,
        (EspMode::Transport, true) => p2_attr::ENCAP_UDP_TRANSPORT,
    }
}

/// What the initiator offers, one proposal each, in order: every transform set in
/// tunnel mode, preceded by transport mode where a GRE tunnel's set says `mode
/// transport` (IOS's "request transport, accept tunnel"). A VTI offers tunnel only.
fn offers(tunnel: &TunnelSettings) -> Vec<(&TransformSet, EspMode)> {
    let mut out = Vec::new();
    for set in &tunnel.transform_sets {
        if tunnel.options.gre && set.transport {
            out.push((set, EspMode::Transport));
        }
        out.push((set, EspMode::Tunnel));
    }
    out
}

/// The Quick Mode parameters both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct P2Choice {
    pub transform: EspTransform,
    pub peer_spi: u32,
    pub mode: EspMode,
    pub udp_encap: bool,
    pub pfs: Option<DhGroup>,
    pub life: Lifetime,
}

/// What QM1 offers: one proposal per transform set and mode (`offers`), each with our
/// inbound SPI.
pub(crate) fn p2_offer(
    tunnel: &TunnelSettings,
    spi: u32,
    udp_encap: bool,
    pfs: Option<DhGroup>,
) -> SaPayload {
    let proposals = offers(tunnel)
        .into_iter()
        .enumerate()
        .map(|(i, (set, mode))| {
            let t = set.transform;
            let encap = encap_attr(mode, udp_encap);
            let mut attributes = vec![attr(p2_attr::ENCAPSULATION_MODE, encap)];
            attributes.extend(Lifetime::of(tunnel).attributes());
            if let Some(g) = pfs {
                attributes.push(attr(p2_attr::GROUP_DESCRIPTION, g.id()));
            }
            // RFC 4106 8.4, RFC 4543 5: no authentication attribute with GCM or GMAC.
            if let Some(auth) = t.auth.attr_id() {
                attributes.push(attr(p2_attr::AUTHENTICATION_ALGORITHM, auth));
            }
            if let Some(bits) = t.encr.key_length_attr() {
                attributes.push(attr(p2_attr::KEY_LENGTH, bits));
            }
            Proposal {
                number: u8::try_from(i + 1).unwrap_or(u8::MAX),
                protocol: ProtocolId::IPSEC_ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms: vec![Transform {
                    number: 1,
                    transform_id: t.encr.transform_id(),
                    attributes,
                }],
            }
        })
        .collect();
    SaPayload {
        doi: DOI_IPSEC,
        situation: SIT_IDENTITY_ONLY,
        proposals,
    }
}

fn spi_of(p: &Proposal) -> Option<u32> {
    Some(u32::from_be_bytes(p.spi.as_slice().try_into().ok()?))
}

/// Responder: the first ESP transform matching one of the tunnel's transform sets.
/// Returns the choice and QM2's proposal (the chosen transform as received; the caller
/// puts our SPI in). `send_lifetime` is set when our lifetime is shorter than the offer.
pub(crate) fn p2_select(
    tunnel: &TunnelSettings,
    sa: &SaPayload,
) -> Result<(P2Choice, Proposal, bool), NoProposal> {
    let ours = Lifetime::of(tunnel);
    let mut offered = Offered::default();
    let mut mismatch = None;
    // Proposals sharing a number form one AND-bundle (RFC 2408 4.2), e.g. ESP+AH: we
    // only do ESP alone.
    let numbers: Vec<u8> = sa.proposals.iter().map(|p| p.number).collect();
    for prop in &sa.proposals {
        if prop.protocol != ProtocolId::IPSEC_ESP
            || numbers.iter().filter(|n| **n == prop.number).count() > 1
        {
            offered.push(format!("protocol {}", prop.protocol));
            continue;
        }
        let Some(peer_spi) = spi_of(prop) else {
            continue;
        };
        for t in &prop.transforms {
            let a = P2Attrs::parse(t);
            offered.push(a.describe(t));
            let Some(transform) = a.transform() else {
                continue;
            };
            let Some(set) = tunnel
                .transform_sets
                .iter()
                .find(|s| s.transform == transform)
            else {
                continue;
            };
            let Some((mode, udp_encap)) = a.encapsulation() else {
                continue;
            };
            if mode == EspMode::Transport && !(tunnel.options.gre && set.transport) {
                mismatch.get_or_insert(if tunnel.options.gre {
                    NoProposal::TransportNotConfigured {
                        tunnel: tunnel.name.clone(),
                        set: set.name.clone(),
                        origin: set.origin.clone(),
                    }
                } else {
                    NoProposal::TransportMode {
                        tunnel: tunnel.name.clone(),
                        origin: tunnel.origin.clone(),
                    }
                });
                continue;
            }
            // Cisco `set pfs`: with a group configured the peer must do PFS with it;
            // without, any PFS the peer asks for is accepted.
            let pfs = match (tunnel.pfs, a.group) {
                (Some(g), Some(peer)) if peer == g.id() => Some(g),
                (Some(g), peer) => {
                    mismatch.get_or_insert(NoProposal::Pfs {
                        tunnel: tunnel.name.clone(),
                        peer,
                        ours: g.id(),
                        origin: tunnel.pfs_origin.clone(),
                    });
                    continue;
                }
                (None, Some(peer)) => match DhGroup::from_id(peer) {
                    Some(g) => Some(g),
                    None => continue,
                },
                (None, None) => None,
            };
            let life = a.life.min(ours);
            let send_lifetime = life != a.life;
            let reply = Proposal {
                number: prop.number,
                protocol: prop.protocol,
                spi: Vec::new(),
                transforms: vec![t.clone()],
            };
            return Ok((
                P2Choice {
                    transform,
                    peer_spi,
                    mode,
                    udp_encap,
                    pfs,
                    life,
                },
                reply,
                send_lifetime,
            ));
        }
    }
    Err(mismatch.unwrap_or_else(|| NoProposal::Phase2 {
        tunnel: tunnel.name.clone(),
        offered,
        sets: tunnel
            .transform_sets
            .iter()
            .map(|s| {
                format!(
                    "transform set {} ({}) has {}",
                    s.name,
                    s.origin,
                    esp_name(s.transform)
                )
            })
            .collect(),
    }))
}

/// Initiator: QM2 must pick one of our proposals, unchanged but for the lifetimes.
/// Its number says which; a peer that renumbers is held to a set and mode we offered.
pub(crate) fn p2_accept(
    tunnel: &TunnelSettings,
    offered_pfs: Option<DhGroup>,
    sa: &SaPayload,
) -> Option<P2Choice> {
    let [prop] = sa.proposals.as_slice() else {
        return None;
    };
    let [t] = prop.transforms.as_slice() else {
        return None;
    };
    let a = P2Attrs::parse(t);
    let (mode, udp_encap) = a.encapsulation()?;
    let offered = offers(tunnel);
    let chosen = (a.transform()?, mode);
    let numbered = usize::from(prop.number)
        .checked_sub(1)
        .and_then(|i| offered.get(i))
        .filter(|(set, m)| (set.transform, *m) == chosen);
    let (set, _) = numbered.or_else(|| {
        offered
            .iter()
            .find(|(set, m)| (set.transform, *m) == chosen)
    })?;
    if prop.protocol != ProtocolId::IPSEC_ESP || a.group != offered_pfs.map(DhGroup::id) {
        return None;
    }
    Some(P2Choice {
        transform: set.transform,
        peer_spi: spi_of(prop)?,
        mode,
        udp_encap,
        pfs: offered_pfs,
        life: a.life.min(Lifetime::of(tunnel)),
    })
}

/// RESPONDER-LIFETIME (RFC 2407 4.6.3.1) notification data: SA attributes.
pub(crate) fn responder_lifetime_data(life: Lifetime) -> Vec<u8> {
    let mut out = Vec::new();
    encode_attributes(&life.attributes(), &mut out);
    out
}

/// Parse RESPONDER-LIFETIME data; `None` when the attribute list is malformed.
pub(crate) fn parse_responder_lifetime(data: &[u8]) -> Option<Lifetime> {
    decode_attributes(data)
        .ok()
        .map(|attrs| Lifetime::from_attributes(&attrs))
}
