//! The tunnel interface: a multi-queue TUN device named like the IOS interface;
//! `dataplane::link` gives it the addresses, fixed link-local address, MTU and routes
//! the kernel path gives its xfrm/vti6 interface.

use super::published::Published;
use super::sa::Sa;
use super::sys;
use crate::dataplane::{DataplaneError, Result, TunnelSpec};
use std::fs::File;
use std::sync::Arc;

/// Outer headers and ESP overhead that must fit in a 1500-byte path when the tunnel
/// MTU is not configured: outer IP, UDP (NAT-T may float), SPI + sequence number,
/// a 16-byte IV, up to 15 padding bytes + pad length + next header, a 16-byte ICV.
const ESP_WORST_OVERHEAD: u32 = 8 + 8 + 16 + 17 + 16;

/// What the packet threads share about one tunnel.
pub(crate) struct TunnelIo {
    pub name: String,
    /// One per TUN queue: a transmit thread reads each; receive threads write to the first.
    pub queues: Vec<File>,
    /// The newest installed outbound SA (make-before-break: traffic moves to it at once).
    pub outbound: Arc<Published<Option<Arc<Sa>>>>,
}

impl std::fmt::Debug for TunnelIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TunnelIo({}, {} queues)", self.name, self.queues.len())
    }
}

impl TunnelIo {
    pub fn create(name: &str, queues: usize) -> Result<Self> {
        let queues = (0..queues.max(1))
            .map(|_| sys::open_tun_queue(name))
            .collect::<std::io::Result<Vec<File>>>()
            .map_err(|e| DataplaneError(format!("cannot create TUN device {name}: {e}")))?;
        Ok(TunnelIo {
            name: name.to_string(),
            queues,
            outbound: Arc::new(Published::new(None)),
        })
    }
}

/// The configured MTU, or one that keeps the ESP packets within a 1500-byte path.
pub(crate) fn mtu(spec: &TunnelSpec) -> u32 {
    spec.mtu.unwrap_or_else(|| {
        let outer_ip = if spec.local.is_ipv6() { 40 } else { 20 };
        1500 - outer_ip - ESP_WORST_OVERHEAD
    })
}
