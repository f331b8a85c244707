//! The ESP data path: kernel XFRM (`kernel/`) or userspace ESP over TUN (`userspace/`).
//! The engine emits owned `SaSpec`s (`crate::ipsec`); the daemon hands each to one
//! `Dataplane` together with the tunnel it belongs to.

pub mod descriptors;
pub mod kernel;
mod link;
mod netlink;
pub(crate) mod poll;
pub mod threads;
pub mod userspace;
pub mod vrf;

use crate::ipsec::{Direction, InnerFamily, SaSpec};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataplaneKind {
    Kernel,
    Userspace,
}

impl DataplaneKind {
    /// Prepare one of the daemon's IKE sockets (UDP 500, or 4500 with `nat_t`) for this
    /// kind of data path: the kernel path exempts it from IPsec policies and lets the
    /// kernel take ESP-in-UDP on 4500; the userspace path keeps ESP off it.
    pub fn prepare_ike_socket(self, socket: &std::net::UdpSocket, nat_t: bool) -> Result<()> {
        match self {
            DataplaneKind::Kernel => kernel::prepare_ike_socket(socket, nat_t),
            DataplaneKind::Userspace => userspace::prepare_ike_socket(socket, nat_t),
        }
    }
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

/// Outer headers and ESP overhead that must fit in a 1500-byte path: UDP (NAT-T may
/// float), SPI + sequence number, a 16-byte IV, up to 15 padding bytes + pad length +
/// next header, a 16-byte ICV.
const ESP_WORST_OVERHEAD: u32 = 8 + 8 + 16 + 17 + 16;
/// The path MTU a tunnel's packets are assumed to cross when its MTU is not configured.
const PATH_MTU: u32 = 1500;

/// The MTU of a tunnel interface whose MTU is not configured: what keeps its ESP packets
/// within a 1500-byte path. GRE adds its header (with the key), and in tunnel mode (not
/// known before Quick Mode, so always counted) a second IP header.
pub(crate) fn default_mtu(spec: &TunnelSpec) -> u32 {
    mtu_within(spec, PATH_MTU)
}

/// The largest inner packet whose ESP packet fits a path MTU of `path_mtu`.
pub(crate) fn mtu_within(spec: &TunnelSpec, path_mtu: u32) -> u32 {
    let ip = if spec.local.is_ipv6() { 40 } else { 20 };
    let gre = match spec.options.gre {
        Some(g) => ip + if g.key.is_some() { 8 } else { 4 },
        None => 0,
    };
    path_mtu.saturating_sub(ip + ESP_WORST_OVERHEAD + gre)
}

/// What an IOS tunnel interface says beyond its addresses and routes, for the data
/// paths (IOS's defaults in `Default`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceOptions {
    /// `ip address A M secondary`.
    pub ipv4_secondary: Vec<(Ipv4Addr, u8)>,
    /// `ip unnumbered IF`: the interface whose IPv4 address the tunnel borrows.
    pub unnumbered: Option<Unnumbered>,
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
    /// `tunnel mode gre ip|ipv6`: a GRE interface whose packets IPsec protects;
    /// `None`: a VTI.
    pub gre: Option<Gre>,
}

/// GRE between the tunnel's endpoints (RFC 2784), as IOS sends it: no checksum, no
/// sequence numbers, a key (RFC 2890) with `tunnel key N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gre {
    pub key: Option<u32>,
}

/// `ip unnumbered IF`: IF lends the tunnel its IPv4 address. The tunnel carries it as a
/// /32, so that the host's own packets into the tunnel leave from it, as IOS's do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unnumbered {
    /// The Linux interface (after `ikev1d map-interface`).
    pub interface: String,
    /// IF's primary IPv4 address when the configuration was read.
    pub address: Ipv4Addr,
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

/// Events the data path reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataplaneEvent {
    /// A lifetime limit was reached: soft asks for a rekey, hard means the SA is gone.
    Expired {
        tunnel: String,
        spi: u32,
        dst: IpAddr,
        hard: bool,
    },
    /// Traffic for the tunnel found no SA (XFRM_MSG_ACQUIRE on the kernel path, a
    /// packet read from the TUN device on the userspace path): IOS initiates then.
    Acquire { tunnel: String },
    /// A packet thread died: the data path no longer works as configured.
    ThreadFailed(threads::ThreadFailure),
}

/// A data path operation that failed: what was being done, for which tunnel interface,
/// and why (the kernel's errno, or a refusal of ours).
#[derive(Debug)]
pub struct DataplaneError {
    /// What was being done: "creating interface", "installing In SA 0x00001234 ...".
    pub op: String,
    /// The tunnel interface it was for; `None` for the data path as a whole.
    pub tunnel: Option<String>,
    pub source: std::io::Error,
}

impl DataplaneError {
    /// `op` of the data path as a whole failed.
    pub fn new(op: impl Into<String>, source: std::io::Error) -> Self {
        DataplaneError {
            op: op.into(),
            tunnel: None,
            source,
        }
    }

    /// `op` on `tunnel` failed.
    pub fn on(tunnel: &str, op: impl Into<String>, source: std::io::Error) -> Self {
        DataplaneError {
            tunnel: Some(tunnel.to_string()),
            ..DataplaneError::new(op, source)
        }
    }

    /// For `map_err`: `op` on `tunnel` failed.
    pub fn during<'a>(
        tunnel: &'a str,
        op: &'a str,
    ) -> impl FnOnce(std::io::Error) -> DataplaneError + 'a {
        move |e| DataplaneError::on(tunnel, op, e)
    }

    /// Why we refuse something the kernel would not be asked about.
    pub fn refused(reason: impl Into<String>) -> std::io::Error {
        std::io::Error::other(reason.into())
    }
}

impl std::fmt::Display for DataplaneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(tunnel) = &self.tunnel {
            write!(f, "{tunnel}: ")?;
        }
        write!(f, "{}: {}", self.op, self.source)?;
        match self.source.raw_os_error() {
            // Not a bare "Too many open files": which limit, and where to raise it.
            Some(libc::EMFILE) => write!(f, " (EMFILE): {}", descriptors::explain_emfile()),
            // The errno's name is what `ip` and the kernel sources call it.
            Some(n) => write!(f, " ({:?})", nix::errno::Errno::from_raw(n)),
            None => Ok(()),
        }
    }
}

impl std::error::Error for DataplaneError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

pub type Result<T> = std::result::Result<T, DataplaneError>;

/// One direction of an SA of a tunnel, as the data path identifies it (XFRM's SPI and
/// destination).
pub type TunnelSa = (String, Direction, u32, IpAddr);

/// One data path. Synchronous: the daemon calls it from its data path worker thread,
/// never from the event loop; the userspace packet loop runs on threads of its own
/// behind this interface.
pub trait Dataplane: Send {
    fn kind(&self) -> DataplaneKind;
    /// Create (or adopt unchanged) the tunnel interface with its addresses, MTU, routes.
    fn ensure_tunnel(&mut self, tunnel: &TunnelSpec) -> Result<()>;
    /// Remove the interface, its routes, and every SA and policy of this tunnel.
    fn remove_tunnel(&mut self, name: &str) -> Result<()>;
    /// `remove_tunnel` of each (a reload that drops many, the end of the daemon):
    /// the kernel's removes their states and policies in one pass. Every failure.
    fn remove_tunnels(&mut self, names: &[String]) -> Vec<DataplaneError> {
        names
            .iter()
            .filter_map(|n| self.remove_tunnel(n).err())
            .collect()
    }
    /// Remove what a crashed instance left of its Virtual-Access interfaces (dynamic
    /// VTI): their numbers start again from 1, so the leftovers of higher ones would
    /// otherwise stay until a peer gets the same number. A TUN device goes with its
    /// process: nothing to do on the userspace path.
    fn remove_leftover_virtual_access(&mut self) -> Result<()> {
        Ok(())
    }
    /// The descriptors `tunnels` tunnel interfaces hold in this process (the daemon
    /// checks RLIMIT_NOFILE against them): none on the kernel path.
    fn descriptors(&self, _tunnels: usize) -> usize {
        0
    }
    /// A fresh inbound SPI for an SA from `src` to `dst` (XFRM_MSG_ALLOCSPI on the kernel).
    fn alloc_spi(&mut self, tunnel: &str, src: IpAddr, dst: IpAddr) -> Result<u32>;
    /// Install one direction of an SA of `tunnel` (created by `ensure_tunnel` before).
    fn install_sa(&mut self, tunnel: &TunnelSpec, sa: &SaSpec) -> Result<()>;
    fn delete_sa(
        &mut self,
        tunnel: &str,
        direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<()>;
    /// `delete_sa` of each (the end of the daemon deletes every SA at once): the
    /// userspace path hands its packet threads a new table of inbound SAs once, not once
    /// per SA (that made a shutdown quadratic in the tunnels). Every failure.
    fn delete_sas(&mut self, sas: &[TunnelSa]) -> Vec<DataplaneError> {
        sas.iter()
            .filter_map(|(tunnel, direction, spi, dst)| {
                self.delete_sa(tunnel, *direction, *spi, *dst).err()
            })
            .collect()
    }
    fn counters(
        &mut self,
        tunnel: &str,
        direction: Direction,
        spi: u32,
        dst: IpAddr,
    ) -> Result<SaCounters>;
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

#[cfg(test)]
impl TunnelSpec {
    /// `Tunnel5` between 192.0.2.2 and 192.0.2.3, no addresses or routes: for the data
    /// paths' unit tests of interface lines.
    pub(crate) fn for_test(options: InterfaceOptions) -> TunnelSpec {
        TunnelSpec {
            name: "Tunnel5".into(),
            if_id: 5,
            local: "192.0.2.2".parse().unwrap(),
            peer: "192.0.2.3".parse().unwrap(),
            inner: InnerFamily::V4,
            ipv4: None,
            ipv6: vec![],
            link_local: None,
            mtu: None,
            routes: vec![],
            options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_the_tunnel_the_operation_and_the_errno() {
        let e = DataplaneError::on(
            "Tunnel23",
            "creating interface",
            std::io::Error::from_raw_os_error(libc::EEXIST),
        );
        assert_eq!(e.tunnel.as_deref(), Some("Tunnel23"));
        assert_eq!(e.source.raw_os_error(), Some(libc::EEXIST));
        let text = e.to_string();
        assert!(
            text.starts_with("Tunnel23: creating interface: File exists"),
            "{text}"
        );
        assert!(text.ends_with("(EEXIST)"), "{text}");
        let refused = DataplaneError::new("opening", DataplaneError::refused("no ESP"));
        assert_eq!(refused.to_string(), "opening: no ESP");
        assert!(std::error::Error::source(&refused).is_some());
    }
}
