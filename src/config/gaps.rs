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
        for t in self.tunnels.iter().filter(|t| t.protected()) {
            if t.kind == InterfaceKind::VirtualTemplate {
                let what = format!(
                    "interface {} type tunnel (dynamic VTI, one Virtual-Access per peer)",
                    t.name()
                );
                gaps.push(self.error(t.line, format!("{what} {NOT_YET}")));
            }
        }
        gaps
    }
}
