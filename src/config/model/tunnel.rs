//! `interface TunnelN` and `interface Virtual-Template N type tunnel`: the model of a
//! tunnel interface, its IOS modes, and how its number becomes a Linux name and if_id.

use super::At;
use crate::config::words::pick;
use crate::ipsec::InnerFamily;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IOS's tunnel numbers: `interface Tunnel0` .. `Tunnel2147483647`.
pub const MAX_TUNNEL_NUMBER: u32 = i32::MAX as u32;

/// The xfrm if_id (vti key) of Tunnel0. XFRM reads if_id 0 as "no interface", so
/// Tunnel0 gets the first value above IOS's range instead; every other TunnelN keeps
/// if_id N, so renumbering never moves an existing tunnel.
pub const TUNNEL0_IF_ID: u32 = MAX_TUNNEL_NUMBER + 1;

/// Linux interface names hold 15 characters (IFNAMSIZ with its NUL).
pub const MAX_IFNAME: usize = 15;

/// The two kinds of tunnel interface IOS configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InterfaceKind {
    Tunnel,
    /// `interface Virtual-Template N type tunnel`: a template cloned per peer.
    VirtualTemplate,
}

/// `tunnel mode ...`. Without the line IOS runs GRE over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelMode {
    /// `tunnel mode ipsec ipv4|ipv6 [v6-overlay|v4-overlay]`: a VTI. The first family is
    /// the transport's (outer), the overlay the traffic's (inner, the proxy identities).
    Ipsec {
        outer: InnerFamily,
        inner: InnerFamily,
    },
    /// `tunnel mode gre ip | gre ipv6`: GRE between the endpoints, protected by IPsec.
    Gre { outer: InnerFamily },
    /// `tunnel mode gre multipoint` (DMVPN).
    GreMultipoint,
}

impl TunnelMode {
    /// IOS's mode when an interface Tunnel has no `tunnel mode` line.
    pub const DEFAULT: TunnelMode = TunnelMode::Gre {
        outer: InnerFamily::V4,
    };

    /// The words after `tunnel mode`, as `show running-config` prints them.
    pub fn words(self) -> &'static str {
        use InnerFamily::{V4, V6};
        match self {
            TunnelMode::Ipsec {
                outer: V4,
                inner: V4,
            } => "ipsec ipv4",
            TunnelMode::Ipsec {
                outer: V6,
                inner: V6,
            } => "ipsec ipv6",
            TunnelMode::Ipsec {
                outer: V4,
                inner: V6,
            } => "ipsec ipv4 v6-overlay",
            TunnelMode::Ipsec {
                outer: V6,
                inner: V4,
            } => "ipsec ipv6 v4-overlay",
            TunnelMode::Gre { outer: V4 } => "gre ip",
            TunnelMode::Gre { outer: V6 } => "gre ipv6",
            TunnelMode::GreMultipoint => "gre multipoint",
        }
    }

    /// The words after `tunnel mode` (any unambiguous abbreviation).
    pub fn from_words(w: &[&str]) -> Result<TunnelMode, String> {
        use InnerFamily::{V4, V6};
        let family = |s: &str| match pick(s, &["ipv4", "ipv6"]) {
            Some("ipv4") => Some(V4),
            Some(_) => Some(V6),
            None => None,
        };
        let mode = match w {
            [m, rest @ ..] => match pick(m, &["ipsec", "gre"]) {
                Some("ipsec") => match rest {
                    [f] => family(f).map(|f| TunnelMode::Ipsec { outer: f, inner: f }),
                    [f, o] => match (family(f), pick(o, &["v4-overlay", "v6-overlay"])) {
                        (Some(outer), Some(o)) => Some(TunnelMode::Ipsec {
                            outer,
                            inner: if o == "v4-overlay" { V4 } else { V6 },
                        }),
                        _ => None,
                    },
                    _ => None,
                },
                Some(_) => match rest {
                    [f] => match pick(f, &["ip", "ipv6", "multipoint"]) {
                        Some("ip") => Some(TunnelMode::Gre { outer: V4 }),
                        Some("ipv6") => Some(TunnelMode::Gre { outer: V6 }),
                        Some(_) => Some(TunnelMode::GreMultipoint),
                        None => None,
                    },
                    _ => None,
                },
                None => None,
            },
            [] => None,
        };
        mode.ok_or_else(|| {
            format!(
                "tunnel mode `{}`: expected ipsec ipv4|ipv6 [v6-overlay|v4-overlay] or gre ip|ipv6",
                w.join(" ")
            )
        })
    }

    /// The family of the tunnel's endpoints (`tunnel source` / `tunnel destination`).
    pub fn outer(self) -> Option<InnerFamily> {
        match self {
            TunnelMode::Ipsec { outer, .. } | TunnelMode::Gre { outer } => Some(outer),
            TunnelMode::GreMultipoint => None,
        }
    }
}

/// `tunnel source` and `local-address`: an interface (its address is looked up when the
/// daemon starts, as it may change) or an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TunnelSource {
    /// A Linux name (`eth0`), or an IOS name (`GigabitEthernet1`, canonical) that
    /// `ikev1d map-interface` maps to one.
    Interface(String),
    Address(IpAddr),
}

impl std::fmt::Display for TunnelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TunnelSource::Interface(name) => f.write_str(name),
            TunnelSource::Address(a) => write!(f, "{a}"),
        }
    }
}

/// `interface TunnelN` or `interface Virtual-Template N type tunnel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: InterfaceKind,
    pub number: u32,
    pub line: u32,
    pub description: Option<String>,
    pub ipv4: Option<At<(Ipv4Addr, u8)>>,
    /// `ip address A M secondary`.
    pub ipv4_secondary: Vec<At<(Ipv4Addr, u8)>>,
    /// `ip unnumbered IF`: the IPv4 address is borrowed from IF (an IOS name).
    pub unnumbered: Option<At<String>>,
    pub ipv6: Vec<At<(Ipv6Addr, u8)>>,
    /// `ipv6 enable`: IPv6 with only a link-local address.
    pub ipv6_enable: bool,
    pub link_local: Option<At<Ipv6Addr>>,
    pub ip_mtu: Option<At<u32>>,
    pub ipv6_mtu: Option<At<u32>>,
    /// `ip tcp adjust-mss N` / `ipv6 tcp adjust-mss N`: SYNs through the tunnel get at
    /// most this MSS.
    pub adjust_mss: Option<At<u16>>,
    pub ipv6_adjust_mss: Option<At<u16>>,
    pub source: Option<At<TunnelSource>>,
    pub destination: Option<At<IpAddr>>,
    /// `None`: no `tunnel mode` line, i.e. IOS's default `gre ip`.
    pub mode: Option<At<TunnelMode>>,
    /// `tunnel key N` (GRE key).
    pub key: Option<At<u32>>,
    /// `keepalive S R` on the interface (GRE keepalives).
    pub keepalive: Option<At<(u32, u32)>>,
    /// `tunnel path-mtu-discovery`.
    pub path_mtu_discovery: bool,
    /// `crypto ipsec df-bit` on the interface (over the global line).
    pub df_bit: Option<At<super::DfBit>>,
    /// `tunnel protection ipsec profile P`.
    pub profile: Option<At<String>>,
    /// `vrf forwarding V` / `ip vrf forwarding V`: the VRF of the tunnel's traffic.
    pub vrf: Option<At<String>>,
    /// `tunnel vrf V`: the VRF of the outer packets and of IKE.
    pub tunnel_vrf: Option<At<String>>,
    pub shutdown: bool,
}

impl Tunnel {
    pub fn new(kind: InterfaceKind, number: u32, line: u32) -> Self {
        Tunnel {
            kind,
            number,
            line,
            description: None,
            ipv4: None,
            ipv4_secondary: Vec::new(),
            unnumbered: None,
            ipv6: Vec::new(),
            ipv6_enable: false,
            link_local: None,
            ip_mtu: None,
            ipv6_mtu: None,
            adjust_mss: None,
            ipv6_adjust_mss: None,
            source: None,
            destination: None,
            mode: None,
            key: None,
            keepalive: None,
            path_mtu_discovery: false,
            df_bit: None,
            profile: None,
            vrf: None,
            tunnel_vrf: None,
            shutdown: false,
        }
    }

    /// Does ikev1d bring it up? Only with `tunnel protection`: the others are the
    /// router's own GRE or IP-in-IP tunnels.
    pub fn protected(&self) -> bool {
        self.profile.is_some()
    }

    /// IOS's canonical name: `Tunnel23`, `Virtual-Template1`.
    pub fn name(&self) -> String {
        interface_name(self.kind, self.number)
    }

    /// The Linux interface: IOS's name where it fits Linux's 15 characters, else `TuN`
    /// (IOS's own short form) for Tunnel1000000000 and above.
    /// A Virtual-Template keeps its IOS name: it is never an interface of its own
    /// (each Virtual-Access is, named by the engine).
    pub fn linux_name(&self) -> String {
        let name = self.name();
        if name.len() <= MAX_IFNAME || self.kind == InterfaceKind::VirtualTemplate {
            name
        } else {
            format!("Tu{}", self.number)
        }
    }

    /// The xfrm if_id / vti key: N for TunnelN, `TUNNEL0_IF_ID` for Tunnel0.
    pub fn if_id(&self) -> u32 {
        if_id(self.number)
    }

    /// The effective mode: the line's, or IOS's default.
    pub fn tunnel_mode(&self) -> TunnelMode {
        self.mode.as_ref().map_or(TunnelMode::DEFAULT, |m| m.value)
    }
}

pub fn if_id(number: u32) -> u32 {
    if number == 0 {
        TUNNEL0_IF_ID
    } else {
        number
    }
}

pub fn interface_name(kind: InterfaceKind, number: u32) -> String {
    match kind {
        InterfaceKind::Tunnel => format!("Tunnel{number}"),
        InterfaceKind::VirtualTemplate => format!("Virtual-Template{number}"),
    }
}

pub fn tunnel_name(number: u32) -> String {
    interface_name(InterfaceKind::Tunnel, number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_numbers_map_to_if_ids_that_are_never_zero() {
        assert_eq!(if_id(0), 0x8000_0000);
        assert_eq!(if_id(1), 1);
        assert_eq!(if_id(MAX_TUNNEL_NUMBER), 0x7fff_ffff);
        let t = |n| Tunnel::new(InterfaceKind::Tunnel, n, 1);
        assert_eq!(t(23).linux_name(), "Tunnel23");
        assert_eq!(t(999_999_999).linux_name(), "Tunnel999999999");
        assert_eq!(t(MAX_TUNNEL_NUMBER).linux_name(), "Tu2147483647");
        assert_eq!(t(MAX_TUNNEL_NUMBER).name(), "Tunnel2147483647");
    }

    #[test]
    fn tunnel_modes_read_and_print_ios_words() {
        use InnerFamily::{V4, V6};
        let all = [
            TunnelMode::Ipsec {
                outer: V4,
                inner: V4,
            },
            TunnelMode::Ipsec {
                outer: V6,
                inner: V6,
            },
            TunnelMode::Ipsec {
                outer: V4,
                inner: V6,
            },
            TunnelMode::Ipsec {
                outer: V6,
                inner: V4,
            },
            TunnelMode::Gre { outer: V4 },
            TunnelMode::Gre { outer: V6 },
            TunnelMode::GreMultipoint,
        ];
        for m in all {
            let words: Vec<&str> = m.words().split(' ').collect();
            assert_eq!(TunnelMode::from_words(&words), Ok(m));
        }
        assert_eq!(
            TunnelMode::from_words(&["ips", "ipv4", "v6"]),
            Ok(TunnelMode::Ipsec {
                outer: V4,
                inner: V6
            })
        );
        assert!(TunnelMode::from_words(&["ipsec"]).is_err());
        assert!(TunnelMode::from_words(&["mpls", "traffic-eng"]).is_err());
    }
}
