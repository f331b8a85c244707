//! The tunnel interface: a multi-queue TUN device named like the IOS interface;
//! `dataplane::link` gives it the addresses, fixed link-local address, MTU and routes
//! the kernel path gives its xfrm/vti6 interface.

use super::sys;
use crate::dataplane::{DataplaneError, Result, TunnelSpec};
use std::fs::File;

/// A tunnel's TUN device, as the packet threads share it: its SAs hold it (the receive
/// threads write what they open to it), its transmit threads read it. It knows nothing
/// of the SAs, so that the last SA or thread to let go closes it.
pub(crate) struct Tun {
    pub name: String,
    /// One per TUN queue: a transmit thread reads each; receive threads write to the first.
    pub queues: Vec<File>,
}

impl std::fmt::Debug for Tun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tun({}, {} queues)", self.name, self.queues.len())
    }
}

impl Tun {
    pub fn create(name: &str, queues: usize) -> Result<Self> {
        let queues = (0..queues.max(1))
            .map(|_| sys::open_tun_queue(name))
            .collect::<std::io::Result<Vec<File>>>()
            .map_err(|e| DataplaneError::on(name, "creating the TUN device", e))?;
        Ok(Tun {
            name: name.to_string(),
            queues,
        })
    }
}

/// The configured MTU, or one that keeps the ESP packets within a 1500-byte path.
pub(crate) fn mtu(spec: &TunnelSpec) -> u32 {
    spec.mtu
        .unwrap_or_else(|| crate::dataplane::default_mtu(spec))
}
