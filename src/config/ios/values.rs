//! The values IOS commands take: addresses, masks, prefixes, numbers, interfaces. Both
//! dialects read them the same way (TOML spells them as IOS does).

use super::names;
use crate::config::model::{mask_to_len, TunnelSource, MAX_IFNAME};
use crate::config::words::pick;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// An IPv6 `P/L`.
pub(crate) fn parse_prefix6(s: &str) -> Result<(Ipv6Addr, u8), String> {
    match parse_prefix(s)? {
        (IpAddr::V6(a), len) => Ok((a, len)),
        _ => Err(format!("`{s}` is not an IPv6 prefix")),
    }
}

/// A dotted netmask as a prefix length.
pub(crate) fn parse_mask(m: &str) -> Result<u8, String> {
    m.parse::<Ipv4Addr>()
        .ok()
        .and_then(mask_to_len)
        .ok_or_else(|| format!("`{m}` is not a valid netmask"))
}

pub(crate) fn parse_ipv4(a: &str) -> Result<Ipv4Addr, String> {
    a.parse().map_err(|_| {
        if a.contains(':') {
            format!("`{a}` is an IPv6 address where IOS wants IPv4 (write `ipv6` before it)")
        } else {
            format!("`{a}` is not an IPv4 address")
        }
    })
}

pub(crate) fn parse_number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what}: `{s}` is not a valid number"))
}

/// IOS's peer-address forms: `A [MASK]` (IPv4; `0.0.0.0` alone is any peer, as on
/// IOS) or `ipv6 P/L`. Returns the prefix and the words after it.
pub(crate) fn parse_peer<'w>(w: &'w [&'w str]) -> Result<(IpAddr, u8, &'w [&'w str]), String> {
    match w {
        [v6, prefix, rest @ ..] if pick(v6, &["ipv6"]).is_some() => {
            let (a, len) = parse_prefix6(prefix)?;
            Ok((IpAddr::V6(a), len, rest))
        }
        [a, rest @ ..] => {
            let address = parse_ipv4(a).map_err(|e| {
                if a.contains(':') {
                    format!("`{a}`: for an IPv6 peer write `address ipv6 {a}/128`")
                } else {
                    e
                }
            })?;
            match rest {
                [m, rest @ ..] if m.parse::<Ipv4Addr>().is_ok() => {
                    Ok((IpAddr::V4(address), parse_mask(m)?, rest))
                }
                // IOS: `address 0.0.0.0` without a mask matches every peer.
                _ if address.is_unspecified() => Ok((IpAddr::V4(address), 0, rest)),
                _ => Ok((IpAddr::V4(address), 32, rest)),
            }
        }
        [] => Err("address missing".into()),
    }
}

/// A Linux interface name as the kernel allows it.
pub(crate) fn linux_ifname(s: &str) -> Result<&str, String> {
    if s.is_empty()
        || s.len() > MAX_IFNAME
        || s == "."
        || s == ".."
        || s.contains(['/', ':'])
        || s.chars().any(char::is_whitespace)
    {
        return Err(format!("`{s}` is not a valid Linux interface name"));
    }
    Ok(s)
}

/// `tunnel source` / `local-address`: an address, an IOS interface (`gi 1`, mapped to
/// a Linux one by `ikev1d map-interface`), or a Linux interface (resolved at run time).
pub(crate) fn parse_source(w: &[&str]) -> Result<TunnelSource, String> {
    if let [s] = w {
        if let Ok(a) = s.parse::<IpAddr>() {
            return Ok(TunnelSource::Address(a));
        }
    }
    if let Some(ios) = names::canonical(w) {
        return Ok(TunnelSource::Interface(ios));
    }
    match w {
        [s] => linux_ifname(s)
            .map(|n| TunnelSource::Interface(n.to_string()))
            .map_err(|_| {
                format!("`{s}` is neither an address, an IOS interface nor a Linux interface name")
            }),
        [] => Err("an interface or an address is missing".into()),
        _ => Err(format!(
            "`{}`: expected one interface or address",
            w.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> Result<(IpAddr, u8), String> {
        let w: Vec<&str> = s.split_whitespace().collect();
        parse_peer(&w).map(|(a, l, _)| (a, l))
    }

    #[test]
    fn peers_as_ios_writes_them() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(peer("0.0.0.0"), Ok((ip("0.0.0.0"), 0)));
        assert_eq!(peer("0.0.0.0 0.0.0.0"), Ok((ip("0.0.0.0"), 0)));
        assert_eq!(peer("192.0.2.1"), Ok((ip("192.0.2.1"), 32)));
        assert_eq!(peer("192.0.2.0 255.255.255.0"), Ok((ip("192.0.2.0"), 24)));
        assert_eq!(peer("ipv6 ::/0"), Ok((ip("::"), 0)));
        assert_eq!(peer("ipv6 2001:db8::3/128"), Ok((ip("2001:db8::3"), 128)));
        assert!(peer("2001:db8::3").unwrap_err().contains("address ipv6"));
        assert!(peer("192.0.2.0 255.0.255.0")
            .unwrap_err()
            .contains("netmask"));
        assert!(peer("").is_err());
    }

    #[test]
    fn sources_are_addresses_ios_or_linux_interfaces() {
        let src = |s: &str| parse_source(&s.split_whitespace().collect::<Vec<_>>());
        assert_eq!(
            src("198.51.100.2"),
            Ok(TunnelSource::Address("198.51.100.2".parse().unwrap()))
        );
        assert_eq!(
            src("gi 1"),
            Ok(TunnelSource::Interface("GigabitEthernet1".into()))
        );
        assert_eq!(
            src("Ethernet0/0"),
            Ok(TunnelSource::Interface("Ethernet0/0".into()))
        );
        assert_eq!(src("eth0"), Ok(TunnelSource::Interface("eth0".into())));
        assert!(src("a/b").is_err());
        assert!(src("averyveryverylongname0").is_err());
        assert!(src("").is_err());
    }
}
