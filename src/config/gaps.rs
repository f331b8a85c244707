//! What the configuration says that the engine and the data paths cannot do yet. This
//! is the one place that says so: `to_settings` and `tunnel_specs` refuse such a
//! configuration with these errors, and `ikev1d check` prints them, rather than run a
//! tunnel that means something else than the IOS lines say. Each item is removed from
//! here by the work that implements it.

use super::error::ConfigError;
use super::model::*;

/// The suffix every gap's message ends with.
const NOT_YET: &str = "is parsed but not yet supported by the data path";

impl Config {
    /// Every kept tunnel's feature the data paths lack, at its line.
    pub fn datapath_gaps(&self) -> Vec<ConfigError> {
        let mut gaps = Vec::new();
        let mut gap = |line: u32, what: String, hint: &str| {
            gaps.push(self.error(line, format!("{what} {NOT_YET}{hint}")))
        };
        // A VTI is what runs today.
        let vti = "; for a VTI write `tunnel mode ipsec ipv4` (or ipv6)";
        for t in self.tunnels.iter().filter(|t| t.protected()) {
            let name = t.name();
            match (t.tunnel_mode(), &t.mode) {
                (TunnelMode::Gre { .. }, None) => gap(
                    t.line,
                    format!(
                        "{name}: `tunnel mode gre ip` (GRE over IPsec, IOS's default when an interface \
                         Tunnel has no `tunnel mode` line)"
                    ),
                    vti,
                ),
                (m @ TunnelMode::Gre { .. }, Some(line)) => gap(
                    line.line,
                    format!("{name}: `tunnel mode {}` (GRE over IPsec)", m.words()),
                    vti,
                ),
                _ => {}
            }
            if let Some(k) = &t.key {
                gap(
                    k.line,
                    format!("{name}: `tunnel key {}` (a GRE key)", k.value),
                    "",
                );
            }
            if let Some(v) = &t.vrf {
                gap(
                    v.line,
                    format!("{name}: `vrf forwarding {}` (an inside VRF)", v.value),
                    "",
                );
            }
            if let Some(v) = &t.tunnel_vrf {
                gap(
                    v.line,
                    format!("{name}: `tunnel vrf {}` (a front-door VRF)", v.value),
                    "",
                );
            }
        }
        gaps
    }
}
