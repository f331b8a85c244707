//! The tunnel interface: a TUN device named like the IOS interface (multi-queue while
//! the daemon has few tunnels, `queues.rs`);
//! `dataplane::link` gives it the addresses, fixed link-local address, MTU and routes
//! the kernel path gives its xfrm/vti6 interface. The packet threads share it with the
//! interface lines they carry out (`adjust-mss`, `df-bit`).

use super::df::OuterDf;
use super::mss::MssClamp;
use super::sys;
use crate::dataplane::link::IPV6_MIN_MTU;
use crate::dataplane::{DataplaneError, Result, TunnelSpec};
use std::fs::File;
use std::sync::atomic::AtomicBool;

/// A tunnel's TUN device, as the packet threads share it: its SAs hold it (the receive
/// threads write what they open to it), its transmit threads read it. It knows nothing
/// of the SAs, so that the last SA or thread to let go closes it.
pub(crate) struct Tun {
    pub name: String,
    /// Its TUN queues: one per transmit worker, or one (`queues.rs`); a transmit worker
    /// reads each, receive threads write to the first.
    pub queues: Vec<File>,
    /// `ip tcp adjust-mss` / `ipv6 tcp adjust-mss`, applied by both kinds of thread.
    pub adjust_mss: MssClamp,
    /// `crypto ipsec df-bit`, applied by the transmit threads.
    pub df_bit: OuterDf,
    /// A transmit thread dropped a packet for want of an SA since the control thread
    /// last looked: IOS initiates on such traffic.
    pub sa_wanted: AtomicBool,
}

impl std::fmt::Debug for Tun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tun({}, {} queues)", self.name, self.queues.len())
    }
}

impl Tun {
    pub fn create(name: &str, queues: usize) -> Result<Self> {
        let multi_queue = queues > 1;
        let queues = (0..queues.max(1))
            .map(|_| sys::open_tun_queue(name, multi_queue))
            .collect::<std::io::Result<Vec<File>>>()
            .map_err(|e| DataplaneError::on(name, "creating the TUN device", e))?;
        Ok(Tun {
            name: name.to_string(),
            queues,
            adjust_mss: MssClamp::default(),
            df_bit: OuterDf::default(),
            sa_wanted: AtomicBool::new(false),
        })
    }
}

/// The configured MTU, or one that keeps the ESP packets within a 1500-byte path.
pub(crate) fn mtu(spec: &TunnelSpec) -> u32 {
    spec.mtu
        .unwrap_or_else(|| crate::dataplane::default_mtu(spec))
}

/// `tunnel path-mtu-discovery`: the MTU that keeps the ESP packets within a path MTU
/// of `path_mtu`, never above `mtu()` nor below IPv6's minimum (RFC 8200 5: below it
/// the interface would lose IPv6).
pub(crate) fn mtu_for_path(spec: &TunnelSpec, path_mtu: u32) -> u32 {
    let most = mtu(spec);
    crate::dataplane::mtu_within(spec, path_mtu)
        .min(most)
        .max(IPV6_MIN_MTU.min(most))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::InterfaceOptions;

    #[test]
    fn the_mtu_follows_a_smaller_path_within_bounds() {
        let mut spec = TunnelSpec::for_test(InterfaceOptions::default());
        assert_eq!(mtu(&spec), 1415, "1500 - IPv4 - worst ESP overhead");
        assert_eq!(mtu_for_path(&spec, 1400), 1315);
        assert_eq!(
            mtu_for_path(&spec, 9000),
            1415,
            "never above the configured"
        );
        assert_eq!(mtu_for_path(&spec, 600), 1280, "IPv6's minimum");
        spec.mtu = Some(1000);
        assert_eq!(
            mtu_for_path(&spec, 600),
            1000,
            "a configured MTU below 1280 stays"
        );
    }
}
