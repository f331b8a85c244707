//! The SA model: what Quick Mode agrees on and both data paths install (RFC 4301 4.4.2,
//! the SA database entry as far as a route-based tunnel needs it). The engine produces
//! `SaSpec`s; the kernel (XFRM) and userspace (TUN + ESP) data paths consume them. The
//! algorithm descriptions are the crypto layer's, re-exported here so that the model
//! reads whole; nothing of the engine, the data paths or the daemon is known here.

pub use crate::crypto::{EspAuth, EspEncr, EspTransform};

use crate::crypto::Secret;
use std::net::IpAddr;

/// The most Virtual-Access interfaces (dynamic VTI) at once, whatever the
/// configuration says: each is a tunnel interface with an if_id of its own.
pub const MAX_VIRTUAL_ACCESS: u32 = 65_535;

/// Virtual-AccessN's xfrm if_id on the kernel path: 2^31 + N. TunnelN's is N
/// (1..2^31-1) and Tunnel0's 2^31, so the ranges never meet.
pub const VIRTUAL_ACCESS_IF_ID_BASE: u32 = 1 << 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    In,
    Out,
}

/// Inner address family carried by a VTI (`tunnel mode ipsec ipv4|ipv6`): the proxy
/// identities Quick Mode negotiates (`0.0.0.0/0` or `::/0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InnerFamily {
    V4,
    V6,
}

/// ESP's encapsulation mode (RFC 4303 3.1): tunnel mode carries a whole inner IP
/// packet; transport mode protects the payload of a packet between the endpoints
/// themselves. A VTI always runs tunnel mode; GRE over IPsec runs transport mode when
/// both ends agree (the GRE packets are the endpoints' own), else tunnel mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EspMode {
    #[default]
    Tunnel,
    Transport,
}

impl EspMode {
    /// IOS's word (`show crypto ipsec sa`: "in use settings ={Tunnel, }").
    pub fn word(self) -> &'static str {
        match self {
            EspMode::Tunnel => "tunnel",
            EspMode::Transport => "transport",
        }
    }
}

/// Soft and hard limits; `None` = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetimes {
    pub soft_s: Option<u64>,
    pub hard_s: Option<u64>,
    pub soft_bytes: Option<u64>,
    pub hard_bytes: Option<u64>,
    /// IOS's `set security-association idle-time`: the pair goes after this long
    /// without a packet. Neither XFRM nor the userspace path has such a limit: the
    /// daemon watches the SA's counters.
    pub idle_s: Option<u64>,
}

/// NAT-T UDP encapsulation (RFC 3948) of an SA's ESP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpEncap {
    pub sport: u16,
    pub dport: u16,
}

/// Everything needed to install one direction of an ESP SA, owned (as rustls hands
/// kTLS its `ExtractedSecrets`). Which interface, if_id or reqid it goes with is the
/// tunnel's business: the daemon passes the tunnel alongside.
#[derive(Debug, Clone)]
pub struct SaSpec {
    /// The tunnel interface (IOS name, `Tunnel23`) whose traffic the SA carries.
    pub tunnel: String,
    pub direction: Direction,
    pub spi: u32,
    /// Outer source and destination of the ESP packets of this SA.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub inner: InnerFamily,
    pub mode: EspMode,
    pub transform: EspTransform,
    pub enc_key: Secret,
    pub auth_key: Secret,
    pub lifetimes: Lifetimes,
    pub encap: Option<UdpEncap>,
    pub replay_window: u32,
}

#[cfg(test)]
impl SaSpec {
    /// An esp-aes esp-sha-hmac SA of `Tunnel23` (keys of 7s and 9s, no limits, window
    /// 64), for unit tests.
    pub(crate) fn for_test(direction: Direction, spi: u32, src: &str, dst: &str) -> SaSpec {
        SaSpec {
            tunnel: "Tunnel23".into(),
            direction,
            spi,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            inner: InnerFamily::V6,
            mode: EspMode::Tunnel,
            transform: EspTransform {
                encr: crate::crypto::EspEncr::Aes(128),
                auth: crate::crypto::EspAuth::HmacSha1,
            },
            enc_key: Secret::new(vec![7; 16]),
            auth_key: Secret::new(vec![9; 20]),
            lifetimes: Lifetimes::default(),
            encap: None,
            replay_window: 64,
        }
    }
}
