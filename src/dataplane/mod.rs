//! The ESP data path: kernel XFRM (`kernel/`) or userspace ESP over TUN (`userspace/`).
//! The engine emits owned `SaSpec`s; the daemon hands them to one `Dataplane`.

pub mod kernel;
mod link;
mod netlink;
pub mod userspace;

use crate::crypto::{EspTransform, Secret};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataplaneKind {
    Kernel,
    Userspace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    In,
    Out,
}

/// Inner address family carried by a VTI (`tunnel mode ipsec ipv4|ipv6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InnerFamily {
    V4,
    V6,
}

/// A route-based tunnel interface, as IOS `interface TunnelN` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSpec {
    /// Linux interface name, the IOS name (`Tunnel23`).
    pub name: String,
    /// xfrm if_id / vti key: one per tunnel.
    pub if_id: u32,
    pub local: IpAddr,
    pub peer: IpAddr,
    pub inner: InnerFamily,
    pub ipv4: Option<(Ipv4Addr, u8)>,
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    /// `ipv6 address X link-local`: replaces the kernel's random one.
    pub link_local: Option<Ipv6Addr>,
    pub mtu: Option<u32>,
    /// `ip route` / `ipv6 route` entries pointing at this interface.
    pub routes: Vec<(IpAddr, u8)>,
    /// The interface's other IOS lines.
    pub options: InterfaceOptions,
}

/// What an IOS tunnel interface says beyond its addresses and routes, for the data
/// paths (IOS's defaults in `Default`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceOptions {
    /// `ip address A M secondary`.
    pub ipv4_secondary: Vec<(Ipv4Addr, u8)>,
    /// `ip unnumbered IF`: the Linux interface whose IPv4 address the tunnel borrows.
    pub unnumbered: Option<String>,
    /// `ipv6 enable`: IPv6 on the interface with only its link-local address.
    pub ipv6_enable: bool,
    /// `ip tcp adjust-mss N` / `ipv6 tcp adjust-mss N`: TCP SYNs crossing the tunnel, in
    /// either direction, carry at most this MSS.
    pub adjust_mss_v4: Option<u16>,
    pub adjust_mss_v6: Option<u16>,
    /// `tunnel path-mtu-discovery`: the tunnel's MTU follows the path's.
    pub path_mtu_discovery: bool,
    /// `crypto ipsec df-bit`: the DF bit of the outer IPv4 header.
    pub df_bit: DfBit,
    /// `vrf forwarding V`: the VRF the interface belongs to ("ivrf").
    pub vrf: Option<String>,
    /// `tunnel vrf V`: the VRF of the outer packets and of IKE ("fvrf").
    pub tunnel_vrf: Option<String>,
}

/// `crypto ipsec df-bit clear | set | copy`: the outer header's DF bit. IOS's default is
/// to copy the inner packet's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DfBit {
    Clear,
    Set,
    #[default]
    Copy,
}

impl DfBit {
    /// IOS's keyword.
    pub fn word(self) -> &'static str {
        match self {
            DfBit::Clear => "clear",
            DfBit::Set => "set",
            DfBit::Copy => "copy",
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
}

/// NAT-T UDP encapsulation (RFC 3948) of an SA's ESP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpEncap {
    pub sport: u16,
    pub dport: u16,
}

/// Everything needed to install one direction of an ESP SA, owned.
#[derive(Debug, Clone)]
pub struct SaSpec {
    pub tunnel: String,
    pub if_id: u32,
    pub direction: Direction,
    pub spi: u32,
    /// Outer source and destination of the ESP packets of this SA.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub inner: InnerFamily,
    pub transform: EspTransform,
    pub enc_key: Secret,
    pub auth_key: Secret,
    pub lifetimes: Lifetimes,
    pub encap: Option<UdpEncap>,
    pub replay_window: u32,
    /// Ties the SA to the tunnel's policies (and to this daemon).
    pub reqid: u32,
}

/// Packet and byte counters of one SA, plus failures (userspace counts them; the
/// kernel reports replay and integrity failures in its stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct SaCounters {
    pub packets: u64,
    pub bytes: u64,
    pub replay_errors: u64,
    pub integrity_errors: u64,
    /// Seconds since the SA was installed.
    pub age_s: u64,
}

/// Events the data path reports to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataplaneEvent {
    /// A lifetime limit was reached: soft asks for a rekey, hard means the SA is gone.
    Expired {
        tunnel: String,
        spi: u32,
        dst: IpAddr,
        hard: bool,
    },
}

#[derive(Debug)]
pub struct DataplaneError(pub String);

impl std::fmt::Display for DataplaneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DataplaneError {}

pub type Result<T> = std::result::Result<T, DataplaneError>;

/// One data path. Synchronous: netlink round trips and TUN setup are quick; the
/// userspace packet loop runs on its own threads behind this interface.
pub trait Dataplane: Send {
    fn kind(&self) -> DataplaneKind;
    /// Create (or adopt unchanged) the tunnel interface with its addresses, MTU, routes.
    fn ensure_tunnel(&mut self, tunnel: &TunnelSpec) -> Result<()>;
    /// Remove the interface, its routes, and every SA and policy of this tunnel.
    fn remove_tunnel(&mut self, name: &str) -> Result<()>;
    /// A fresh inbound SPI for an SA from `src` to `dst` (XFRM_MSG_ALLOCSPI on the kernel).
    fn alloc_spi(&mut self, tunnel: &str, src: IpAddr, dst: IpAddr) -> Result<u32>;
    fn install_sa(&mut self, sa: &SaSpec) -> Result<()>;
    fn delete_sa(
        &mut self,
        tunnel: &str,
        direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<()>;
    fn counters(
        &mut self,
        tunnel: &str,
        direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<SaCounters>;
    /// Prepare one of the daemon's IKE sockets (UDP 500, or 4500 with `nat_t`): the kernel
    /// path exempts it from IPsec policies and lets the kernel take ESP-in-UDP on 4500.
    fn prepare_ike_socket(&mut self, socket: &std::net::UdpSocket, nat_t: bool) -> Result<()> {
        let _ = (socket, nat_t);
        Ok(())
    }
    /// Expiry events since the last call.
    fn poll_events(&mut self) -> Vec<DataplaneEvent>;
    /// Remove everything this instance created.
    fn shutdown(&mut self);
}

/// Open a data path of the given kind (probing what the kernel offers for `Kernel`).
pub fn open(kind: DataplaneKind) -> Result<Box<dyn Dataplane>> {
    match kind {
        DataplaneKind::Kernel => Ok(Box::new(kernel::KernelDataplane::open()?)),
        DataplaneKind::Userspace => Ok(Box::new(userspace::UserspaceDataplane::open()?)),
    }
}
