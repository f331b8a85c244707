//! Identification payloads. Phase 1: ours as IOS sends it (UDP port 500), the address
//! (ID_IPV4_ADDR / ID_IPV6_ADDR) or a name (ID_FQDN from `hostname` and `ip domain
//! name`, ID_USER_FQDN); the peer's body is hashed exactly as received, and ISAKMP
//! profiles match what it names. Quick Mode: the VTI's proxies, "any" of the inner
//! family (ID_*_ADDR_SUBNET 0/0, protocol 0), and we accept any subnet of that family;
//! GRE over IPsec's, the two endpoints as hosts with protocol 47, as IOS sends them
//! (`local ident (addr/mask/prot/port): (192.0.2.1/255.255.255.255/47/0)`).

use super::settings::{LocalIdentity, PeerIdentity, TunnelSettings};
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

/// IP protocol number of GRE (RFC 2784), the protocol of GRE over IPsec's proxies.
pub(crate) const PROTO_GRE: u8 = 47;

/// One host, one protocol: ID_IPV4_ADDR / ID_IPV6_ADDR, any port.
pub(crate) fn proxy_host(addr: IpAddr, protocol: u8) -> IdPayload {
    IdPayload {
        protocol,
        port: 0,
        ..phase1_id(addr, &LocalIdentity::Address)
    }
}

/// The host and protocol a proxy identity names: an address, or a subnet with a full
/// mask (strongSwan sends a host traffic selector either way); `None` for anything wider
/// or with a port.
pub(crate) fn proxy_host_of(id: &IdPayload) -> Option<(IpAddr, u8)> {
    let d = &id.data;
    let addr = match (id.id_type, d.len()) {
        (IdType::ID_IPV4_ADDR_SUBNET, 8) if d[4..].iter().all(|&b| b == 0xff) => {
            IpAddr::V4(ip4(&d[..4]))
        }
        (IdType::ID_IPV6_ADDR_SUBNET, 32) if d[16..].iter().all(|&b| b == 0xff) => {
            IpAddr::V6(ip6(&d[..16]))
        }
        _ => phase1_address(id)?,
    };
    (id.port == 0).then_some((addr, id.protocol))
}

/// The proxy identities a tunnel's Quick Mode carries, ours first: any/any of the inner
/// family on a VTI, the endpoints with protocol 47 on GRE.
pub(crate) fn proxies(tunnel: &TunnelSettings) -> (IdPayload, IdPayload) {
    if tunnel.options.gre {
        (
            proxy_host(tunnel.local, PROTO_GRE),
            proxy_host(tunnel.peer, PROTO_GRE),
        )
    } else {
        (proxy_any(tunnel.inner), proxy_any(tunnel.inner))
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
    fn gre_proxies_are_the_endpoints_with_protocol_47() {
        let host = proxy_host("192.0.2.1".parse().unwrap(), PROTO_GRE);
        assert_eq!(describe(&host), "192.0.2.1/32/47/0");
        assert_eq!(host.id_type, IdType::ID_IPV4_ADDR);
        assert_eq!(
            proxy_host_of(&host),
            Some(("192.0.2.1".parse().unwrap(), 47))
        );
        let v6 = proxy_host("2001:db8::2".parse().unwrap(), PROTO_GRE);
        assert_eq!(describe(&v6), "2001:db8::2/128/47/0");
        // A /32 subnet names one host too (a host traffic selector as a subnet).
        let mut subnet = IdPayload {
            id_type: IdType::ID_IPV4_ADDR_SUBNET,
            protocol: 47,
            port: 0,
            data: vec![192, 0, 2, 1, 255, 255, 255, 255],
        };
        assert_eq!(
            proxy_host_of(&subnet),
            Some(("192.0.2.1".parse().unwrap(), 47))
        );
        subnet.data[7] = 0;
        assert_eq!(proxy_host_of(&subnet), None, "a /24 is not a host");
        assert_eq!(proxy_host_of(&proxy_any(InnerFamily::V4)), None);
        let mut port = host;
        port.port = 500;
        assert_eq!(proxy_host_of(&port), None);
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
