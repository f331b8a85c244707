//! The tunnel interface: a multi-queue TUN device named like the IOS interface, with
//! the addresses, fixed link-local address, MTU and routes the kernel path gives its
//! xfrm/vti6 interface.

use super::published::Published;
use super::sa::Sa;
use super::sys;
use crate::dataplane::{DataplaneError, Result, TunnelSpec};
use std::fs::File;
use std::net::IpAddr;
use std::process::Command;
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

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| DataplaneError(format!("cannot run ip (iproute2): {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(DataplaneError(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

pub(crate) fn default_mtu(spec: &TunnelSpec) -> u32 {
    let outer_ip = if spec.local.is_ipv6() { 40 } else { 20 };
    1500 - outer_ip - ESP_WORST_OVERHEAD
}

/// Give the (new or existing) interface the addresses, MTU and routes of `spec`;
/// `old` is what it had, whose routes and addresses go first.
///
/// Link configuration is rare and not on the packet path: iproute2 does it, so the
/// errors users see are the ones they know.
pub(crate) fn configure(spec: &TunnelSpec, old: Option<&TunnelSpec>) -> Result<()> {
    let name = spec.name.as_str();
    if let Some(old) = old {
        for (dst, len) in &old.routes {
            let _ = ip(&["route", "del", &format!("{dst}/{len}"), "dev", name]);
        }
        ip(&["addr", "flush", "dev", name])?;
    } else {
        // No kernel-made random link-local (addr_gen_mode 1 = none): IOS peers expect
        // the configured one (`ipv6 address FE80::23:2 link-local`). Set before up.
        let knob = format!("/proc/sys/net/ipv6/conf/{name}/addr_gen_mode");
        if let Err(e) = std::fs::write(&knob, "1") {
            if spec.link_local.is_some() || !spec.ipv6.is_empty() {
                return Err(DataplaneError(format!("{knob}: {e}")));
            }
        }
    }
    let mtu = spec.mtu.unwrap_or_else(|| default_mtu(spec)).to_string();
    ip(&["link", "set", "dev", name, "mtu", &mtu, "up"])?;
    if let Some((addr, len)) = spec.ipv4 {
        ip(&["addr", "add", &format!("{addr}/{len}"), "dev", name])?;
    }
    if let Some(ll) = spec.link_local {
        ip(&[
            "-6",
            "addr",
            "add",
            &format!("{ll}/64"),
            "dev",
            name,
            "nodad",
        ])?;
    }
    for (addr, len) in &spec.ipv6 {
        ip(&[
            "-6",
            "addr",
            "add",
            &format!("{addr}/{len}"),
            "dev",
            name,
            "nodad",
        ])?;
    }
    for (dst, len) in &spec.routes {
        let family = if matches!(dst, IpAddr::V6(_)) {
            "-6"
        } else {
            "-4"
        };
        ip(&[
            family,
            "route",
            "replace",
            &format!("{dst}/{len}"),
            "dev",
            name,
        ])?;
    }
    Ok(())
}
