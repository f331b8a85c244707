//! Identification payloads. Phase 1: ours as IOS sends it (UDP port 500), the address
//! (ID_IPV4_ADDR / ID_IPV6_ADDR) or a name (ID_FQDN from `hostname` and `ip domain
//! name`, ID_USER_FQDN); the peer's body is hashed exactly as received, and ISAKMP
//! profiles match what it names. Quick Mode: the VTI's proxies, "any" of the inner
//! family (ID_*_ADDR_SUBNET 0/0, protocol 0), and we accept any subnet of that family.

use super::settings::{LocalIdentity, PeerIdentity};
use crate::ipsec::InnerFamily;
use crate::isakmp::{IdPayload, IdType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IOS's phase 1 ID: the local address, or the name `identity` says (`crypto isakmp
/// identity hostname`, `self-identity`), protocol 17, port 500.
pub(crate) fn phase1_id(local: IpAddr, identity: &LocalIdentity) -> IdPayload {
    let (id_type, data) = match (identity, local) {
        (LocalIdentity::Address, IpAddr::V4(a)) => (IdType::ID_IPV4_ADDR, a.octets().to_vec()),
        (LocalIdentity::Address, IpAddr::V6(a)) => (IdType::ID_IPV6_ADDR, a.octets().to_vec()),
        (LocalIdentity::Fqdn(name), _) => (IdType::ID_FQDN, name.as_bytes().to_vec()),
        (LocalIdentity::UserFqdn(name), _) => (IdType::ID_USER_FQDN, name.as_bytes().to_vec()),
    };
    IdPayload {
        id_type,
        protocol: 17,
        port: 500,
        data,
    }
}

/// What the peer's phase 1 ID names, as `match identity` compares it. A name that is
/// not text names nothing a profile can match.
pub(crate) fn peer_identity(id: &IdPayload) -> PeerIdentity {
    let text = || String::from_utf8(id.data.clone()).ok();
    match id.id_type {
        IdType::ID_FQDN => text().map_or(PeerIdentity::Other, PeerIdentity::Fqdn),
        IdType::ID_USER_FQDN => text().map_or(PeerIdentity::Other, PeerIdentity::UserFqdn),
        _ => phase1_address(id).map_or(PeerIdentity::Other, PeerIdentity::Address),
    }
}

/// The address a phase 1 ID_IPV4_ADDR / ID_IPV6_ADDR names (other types name none).
pub(crate) fn phase1_address(id: &IdPayload) -> Option<IpAddr> {
    match (id.id_type, id.data.len()) {
        (IdType::ID_IPV4_ADDR, 4) => Some(IpAddr::V4(ip4(&id.data))),
        (IdType::ID_IPV6_ADDR, 16) => Some(IpAddr::V6(ip6(&id.data))),
        _ => None,
    }
}

/// A VTI's proxy identity: everything of the inner family, any protocol.
pub(crate) fn proxy_any(inner: InnerFamily) -> IdPayload {
    let (id_type, data) = match inner {
        InnerFamily::V4 => (IdType::ID_IPV4_ADDR_SUBNET, vec![0; 8]),
        InnerFamily::V6 => (IdType::ID_IPV6_ADDR_SUBNET, vec![0; 32]),
    };
    IdPayload {
        id_type,
        protocol: 0,
        port: 0,
        data,
    }
}

/// The inner family of a proxy identity we accept (address or subnet, any protocol).
pub(crate) fn proxy_family(id: &IdPayload) -> Option<InnerFamily> {
    let family = match (id.id_type, id.data.len()) {
        (IdType::ID_IPV4_ADDR, 4) | (IdType::ID_IPV4_ADDR_SUBNET, 8) => InnerFamily::V4,
        (IdType::ID_IPV6_ADDR, 16) | (IdType::ID_IPV6_ADDR_SUBNET, 32) => InnerFamily::V6,
        _ => return None,
    };
    (id.protocol == 0 && id.port == 0).then_some(family)
}

/// IOS `debug crypto ipsec` style: `addr/prefix/prot/port`, e.g. `::/0/0/0`.
pub(crate) fn describe(id: &IdPayload) -> String {
    format!("{}/{}/{}", subnet(id), id.protocol, id.port)
}

/// The address part alone: `addr/prefix`, e.g. `::/0`.
pub(crate) fn subnet(id: &IdPayload) -> String {
    fn prefix(mask: &[u8]) -> u32 {
        mask.iter().map(|b| b.count_ones()).sum()
    }
    let d = &id.data;
    match (id.id_type, d.len()) {
        (IdType::ID_IPV4_ADDR, 4) => format!("{}/32", ip4(&d[..4])),
        (IdType::ID_IPV4_ADDR_SUBNET, 8) => format!("{}/{}", ip4(&d[..4]), prefix(&d[4..])),
        (IdType::ID_IPV6_ADDR, 16) => format!("{}/128", ip6(&d[..16])),
        (IdType::ID_IPV6_ADDR_SUBNET, 32) => format!("{}/{}", ip6(&d[..16]), prefix(&d[16..])),
        _ => format!("{} ({} bytes)", id.id_type, d.len()),
    }
}

fn ip4(b: &[u8]) -> Ipv4Addr {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Ipv4Addr::from(a)
}

fn ip6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ipv6Addr::from(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vti_proxies_are_any_of_the_family() {
        let v6 = proxy_any(InnerFamily::V6);
        assert_eq!(describe(&v6), "::/0/0/0");
        assert_eq!(proxy_family(&v6), Some(InnerFamily::V6));
        assert_eq!(describe(&proxy_any(InnerFamily::V4)), "0.0.0.0/0/0/0");
        let mut tcp_only = v6;
        tcp_only.protocol = 6;
        assert_eq!(proxy_family(&tcp_only), None);
    }

    #[test]
    fn phase1_id_is_ios_style() {
        let local = "2001:db8::2".parse().unwrap();
        let id = phase1_id(local, &LocalIdentity::Address);
        assert_eq!(
            (id.id_type, id.protocol, id.port),
            (IdType::ID_IPV6_ADDR, 17, 500)
        );
        assert_eq!(describe(&id), "2001:db8::2/128/17/500");
        assert_eq!(peer_identity(&id), PeerIdentity::Address(local));
        let fqdn = phase1_id(local, &LocalIdentity::Fqdn("r2.example.com".into()));
        assert_eq!(
            (fqdn.id_type, fqdn.protocol, fqdn.port, &fqdn.data[..]),
            (IdType::ID_FQDN, 17, 500, &b"r2.example.com"[..])
        );
        assert_eq!(
            peer_identity(&fqdn),
            PeerIdentity::Fqdn("r2.example.com".into())
        );
        let user = phase1_id(local, &LocalIdentity::UserFqdn("vpn@example.com".into()));
        assert_eq!(
            peer_identity(&user),
            PeerIdentity::UserFqdn("vpn@example.com".into())
        );
        let der_dn = IdPayload {
            id_type: IdType::ID_DER_ASN1_DN,
            data: vec![0x30, 0],
            ..fqdn.clone()
        };
        assert_eq!(peer_identity(&der_dn), PeerIdentity::Other);
        let not_text = IdPayload {
            data: vec![0xff, 0xfe],
            ..fqdn
        };
        assert_eq!(peer_identity(&not_text), PeerIdentity::Other);
    }
}
