//! `ikev1d check --config FILE [--map-interface IOS=LINUX]...`: validate like a
//! compiler. Warnings and errors go to stderr as `FILE:LINE: ...`; a valid file prints,
//! on stdout, what was skipped, each tunnel with its Linux interface and if_id, and one
//! summary line. What the data path cannot do yet, and IOS interface names this host
//! lacks, are errors too: the daemon would refuse to start.

use crate::config::{Config, HostInterfaces, InterfaceKind, Tunnel, TunnelSource};
use std::path::Path;
use std::process::ExitCode;

/// Load `path` with `maps`, printing its warnings and errors to stderr; `None` if it is
/// invalid.
pub(super) fn load_reporting(path: &Path, maps: &[(String, String)]) -> Option<Config> {
    let (config, warnings, errors) = match Config::load_mapped(path, maps) {
        Ok(c) => {
            let warnings = c.warnings.clone();
            (Some(c), warnings, Vec::new())
        }
        Err(e) => (None, e.warnings, e.errors),
    };
    for w in &warnings {
        eprintln!("{w}");
    }
    for e in &errors {
        eprintln!("{e}");
    }
    config
}

/// One line per tunnel: what `show` and the kernel will call it.
fn describe(c: &Config, t: &Tunnel) -> String {
    let mut s = t.name();
    if t.kind == InterfaceKind::VirtualTemplate {
        s.push_str(": template (a Virtual-Access interface per peer)");
    } else {
        if t.linux_name() != t.name() {
            s.push_str(&format!(" (Linux {})", t.linux_name()));
        }
        s.push_str(&format!(": if_id {}", t.if_id()));
    }
    s.push_str(&format!(", tunnel mode {}", t.tunnel_mode().words()));
    if let Some(k) = &t.key {
        s.push_str(&format!(" key {}", k.value));
    }
    if let Some(v) = &t.vrf {
        s.push_str(&format!(", vrf {}", v.value));
    }
    if let Some(src) = &t.source {
        s.push_str(&format!(", source {}", src.value));
        if let TunnelSource::Interface(name) = &src.value {
            let linux = c.linux_interface(name);
            if linux != name {
                s.push_str(&format!(" ({linux})"));
            }
        }
    }
    if let Some(d) = &t.destination {
        s.push_str(&format!(", destination {}", d.value));
    }
    if let Some(v) = &t.tunnel_vrf {
        s.push_str(&format!(" (tunnel vrf {})", v.value));
    }
    if let Some(p) = &t.profile {
        s.push_str(&format!(", ipsec profile {}", p.value));
    }
    if t.shutdown {
        s.push_str(", shutdown");
    }
    s
}

pub fn run(path: &Path, maps: &[(String, String)]) -> ExitCode {
    let Some(config) = load_reporting(path, maps) else {
        return ExitCode::FAILURE;
    };
    let (mut errors, interface_warnings) = config.check_interfaces(&HostInterfaces);
    for w in &interface_warnings {
        eprintln!("{w}");
    }
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        return ExitCode::FAILURE;
    }
    let n = |count: usize, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    let file = path.display();
    let mut out = Vec::new();
    if let Some(summary) = config.skipped.summary() {
        out.push(format!("{file}: {summary}"));
    }
    let kept: Vec<&Tunnel> = config.tunnels.iter().filter(|t| t.protected()).collect();
    for t in &kept {
        out.push(format!("  {}", describe(&config, t)));
    }
    out.push(format!(
        "{file}: OK ({}, {}, {}, {})",
        n(kept.len(), "tunnel", "tunnels"),
        n(
            config.policies.iter().filter(|p| p.usable()).count(),
            "isakmp policy",
            "isakmp policies"
        ),
        n(config.all_keys().count(), "key", "keys"),
        n(
            config.warnings.len() + interface_warnings.len(),
            "warning",
            "warnings"
        ),
    ));
    print_text(&(out.join("\n") + "\n"));
    ExitCode::SUCCESS
}

/// Print to stdout; a reader that went away (`ikev1d check | head -1`) is not an error.
pub(super) fn print_text(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
