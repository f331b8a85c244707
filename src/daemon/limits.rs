//! The daemon's descriptor budget at start (issue 14): a hub of thousands of tunnels
//! needs more than the soft RLIMIT_NOFILE a service starts with (systemd's default
//! 1024 would end a userspace-path hub at tunnel ~500 with EMFILE).

use crate::dataplane::descriptors::{self, Budget};

/// Descriptors the daemon holds whatever its tunnels: stdio, the control socket,
/// netlink sockets, the runtime's and the packet threads' poll sets and doorbells,
/// the outer raw sockets (4 an underlay), the interface hook's pipes: 22 measured
/// (userspace path, no VRF, no hook), with room for VRFs and the hook.
const BASE: usize = 64;

/// What `tunnels` tunnel interfaces holding `per_tunnels` descriptors between them
/// and `ike_sockets` IKE sockets need.
pub(super) fn need(per_tunnels: usize, ike_sockets: usize) -> u64 {
    (BASE + per_tunnels + ike_sockets) as u64
}

/// Raise the soft RLIMIT_NOFILE for `need` descriptors of `tunnels` tunnels when it is
/// short; when even the hard limit is, one warning with the fix, and the start goes on
/// (the estimate may be high; the tunnel that does not fit stops it with an EMFILE
/// error that names the limit, `DataplaneError`).
pub(super) fn make_room(need: u64, tunnels: usize) {
    match descriptors::ensure(need) {
        Ok(Budget::Enough { soft }) => {
            tracing::debug!("descriptor limit {soft} covers {need} for {tunnels} tunnels")
        }
        Ok(Budget::Raised { from, to }) => tracing::info!(
            "descriptor limit (RLIMIT_NOFILE) raised from {from} to {to}: {tunnels} \
             tunnels need about {need}"
        ),
        Ok(Budget::Short { hard }) => tracing::warn!(
            "descriptor limit (RLIMIT_NOFILE) hard {hard} is below the about {need} that \
             {tunnels} tunnels need: a tunnel past it will fail with EMFILE; set \
             LimitNOFILE={} or more in the systemd unit (ulimit -n outside systemd)",
            need.next_power_of_two()
        ),
        Err(e) => tracing::warn!(
            "descriptor limit (RLIMIT_NOFILE): {e}; {tunnels} tunnels need about {need}"
        ),
    }
}
