//! `ikev1d check --config FILE`: validate like a compiler. Warnings and errors go to
//! stderr as `FILE:LINE: ...`; a valid file ends with one summary line on stdout.

use crate::config::Config;
use std::path::Path;
use std::process::ExitCode;

/// Load `path`, printing its warnings and errors to stderr; `None` if it is invalid.
pub(super) fn load_reporting(path: &Path) -> Option<Config> {
    let (config, warnings, errors) = match Config::load(path) {
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

pub fn run(path: &Path) -> ExitCode {
    let Some(config) = load_reporting(path) else {
        return ExitCode::FAILURE;
    };
    let n = |count: usize, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    println!(
        "{}: OK ({}, {}, {}, {})",
        path.display(),
        n(config.tunnels.len(), "tunnel", "tunnels"),
        n(config.policies.len(), "isakmp policy", "isakmp policies"),
        n(config.keys.len(), "key", "keys"),
        n(config.warnings.len(), "warning", "warnings"),
    );
    ExitCode::SUCCESS
}
