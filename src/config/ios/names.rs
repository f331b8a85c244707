//! IOS interface names: `GigabitEthernet1`, `gi1`, `Gi 0/0/1`, `Tunnel 5`, `tu5`, as
//! IOS reads them (the type abbreviated to any unambiguous prefix, the number with or
//! without a space) into the canonical form `show running-config` prints.

/// IOS interface types, canonical spelling. Types whose prefixes are common Linux names
/// (Embedded-Service-Engine: `em1`; Wlan-GigabitEthernet: `wlan0`) are left out: such a
/// name is taken as Linux's.
const TYPES: &[&str] = &[
    "AppGigabitEthernet",
    "Async",
    "ATM",
    "BDI",
    "BRI",
    "Cellular",
    "Dialer",
    "Ethernet",
    "FastEthernet",
    "FiveGigabitEthernet",
    "FortyGigabitEthernet",
    "GigabitEthernet",
    "HundredGigE",
    "Loopback",
    "MFR",
    "Multilink",
    "Null",
    "NVI",
    "Port-channel",
    "Serial",
    "TenGigabitEthernet",
    "Tunnel",
    "TwentyFiveGigE",
    "TwoGigabitEthernet",
    "Virtual-Access",
    "Virtual-PPP",
    "Virtual-Template",
    "VirtualPortGroup",
    "Vlan",
];

/// The short forms IOS itself prints (`show ip interface brief`, `show crypto session`),
/// some of which are not unique prefixes (`Vi` for Virtual-Access).
const SHORT_FORMS: &[(&str, &str)] = &[
    ("e", "Ethernet"),
    ("gi", "GigabitEthernet"),
    ("fa", "FastEthernet"),
    ("te", "TenGigabitEthernet"),
    ("tu", "Tunnel"),
    ("lo", "Loopback"),
    ("vl", "Vlan"),
    ("po", "Port-channel"),
    ("se", "Serial"),
    ("vi", "Virtual-Access"),
    ("mu", "Multilink"),
    ("di", "Dialer"),
    ("nu", "Null"),
];

/// Prefixes that are the usual Linux names of the same thing (`eth0`, `br0`), never read
/// as IOS's Ethernet0 or BRI0.
const LINUX_PREFIXES: &[&str] = &["eth", "br"];

/// The canonical IOS type for an abbreviation, if unambiguous.
pub(crate) fn interface_type(abbreviation: &str) -> Option<&'static str> {
    let a = abbreviation.to_ascii_lowercase();
    if let Some((_, t)) = SHORT_FORMS.iter().find(|(s, _)| *s == a) {
        return Some(t);
    }
    if a.len() < 2 || LINUX_PREFIXES.contains(&a.as_str()) {
        return None;
    }
    if let Some(t) = TYPES.iter().find(|t| t.eq_ignore_ascii_case(&a)) {
        return Some(t);
    }
    let mut matches = TYPES
        .iter()
        .filter(|t| t.to_ascii_lowercase().starts_with(&a));
    match (matches.next(), matches.next()) {
        (Some(t), None) => Some(t),
        _ => None,
    }
}

/// An interface number as IOS writes it: `1`, `0/0/1`, `0/1.100`, `1:0`.
fn is_number(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_digit() || "/.:".contains(c))
}

/// `words` (one or two: `gi1`, `gi 1`) as IOS's type and number, or `None` when they
/// do not name an IOS interface.
pub(crate) fn parse_interface(words: &[&str]) -> Option<(&'static str, String)> {
    let joined: String = words.concat();
    let split = joined.find(|c: char| c.is_ascii_digit())?;
    let (kind, number) = joined.split_at(split);
    if !is_number(number) {
        return None;
    }
    Some((interface_type(kind)?, number.to_string()))
}

/// The canonical name (`GigabitEthernet0/0/1`), or `None`.
pub(crate) fn canonical(words: &[&str]) -> Option<String> {
    parse_interface(words).map(|(kind, number)| format!("{kind}{number}"))
}

/// An interface named in an interface-valued command (`tunnel source`, `local-address`,
/// `ip unnumbered`): IOS's canonical name when it is one, else the name as written (a
/// Linux interface).
pub(crate) fn interface_ref(name: &str) -> String {
    canonical(&[name]).unwrap_or_else(|| name.to_string())
}

/// `TunnelN`, `Tunnel N`, `tu23` (case-insensitive) -> N.
pub(crate) fn tunnel_number(words: &[&str]) -> Option<u32> {
    match parse_interface(words)? {
        ("Tunnel", n) => n.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ios_reads_abbreviated_interface_names() {
        for (words, name) in [
            (&["GigabitEthernet1"][..], "GigabitEthernet1"),
            (&["gi", "0/0/1"], "GigabitEthernet0/0/1"),
            (&["Gig1"], "GigabitEthernet1"),
            (&["Tunnel", "1"], "Tunnel1"),
            (&["tun1"], "Tunnel1"),
            (&["Tunne", "1"], "Tunnel1"),
            (&["Lo0"], "Loopback0"),
            (&["virtual-t", "1"], "Virtual-Template1"),
            (&["Gi0/1.100"], "GigabitEthernet0/1.100"),
            (&["Ethernet0/0"], "Ethernet0/0"),
            (&["fa0/1"], "FastEthernet0/1"),
            (&["e0/0"], "Ethernet0/0"),
        ] {
            assert_eq!(canonical(words).as_deref(), Some(name), "{words:?}");
        }
        for linux in [
            "eth0", "br0", "ens3", "enp0s3", "wlan0", "em1", "lo", "t1", "wg0",
        ] {
            assert_eq!(canonical(&[linux]), None, "{linux}");
            assert_eq!(interface_ref(linux), linux);
        }
        assert_eq!(tunnel_number(&["tu", "23"]), Some(23));
        assert_eq!(tunnel_number(&["Tunnel99999999999999"]), None);
        assert_eq!(tunnel_number(&["Loopback0"]), None);
    }
}
