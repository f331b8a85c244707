//! Configuration: the IOS dialect (first class) and TOML, with line numbers.
//!
//! `Config::load` parses a file (`*.toml` as TOML, anything else as IOS), then validates
//! it; every diagnostic reads `FILE:LINE: message`. `Config::to_settings` and
//! `Config::tunnel_specs` derive what the engine and the data path need, resolving
//! `tunnel source IFNAME` through a caller-supplied resolver. See docs/ios-mapping.md for
//! the supported IOS commands.

mod error;
mod ios;
mod model;
mod resolve;
mod toml_dialect;
mod validate;
mod words;

pub use error::{ConfigError, ConfigErrors, ConfigWarning};
pub use model::*;
pub use resolve::resolve_interface;

use error::Diagnostics;
use std::path::Path;

/// Which syntax a file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Ios,
    Toml,
}

impl Dialect {
    /// `*.toml` is TOML; anything else (`ikev1d.conf`, a saved `show running-config`) IOS.
    pub fn of(path: &Path) -> Dialect {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("toml") => Dialect::Toml,
            _ => Dialect::Ios,
        }
    }
}

impl Config {
    /// Read, parse and validate a file; the dialect follows the file name.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, &file, Dialect::of(path)),
            Err(e) => Err(ConfigErrors {
                errors: vec![ConfigError {
                    file,
                    line: 0,
                    message: format!("cannot read: {e}"),
                }],
                warnings: Vec::new(),
            }),
        }
    }

    /// Parse and validate `text`; `file` names it in diagnostics.
    pub fn parse(text: &str, file: &str, dialect: Dialect) -> Result<Config, ConfigErrors> {
        let mut d = Diagnostics::new(file);
        let mut config = match dialect {
            Dialect::Ios => ios::parse(text, &mut d),
            Dialect::Toml => toml_dialect::parse(text, &mut d),
        };
        // Lines that do not parse are reported alone: validating what is left would add
        // misleading follow-ups ("no tunnel source" after a bad `tunnel source` line).
        if d.errors.is_empty() {
            validate::validate(&config, &mut d);
        }
        let (errors, warnings) = d.finish();
        if errors.is_empty() {
            config.warnings = warnings;
            Ok(config)
        } else {
            Err(ConfigErrors { errors, warnings })
        }
    }
}

#[cfg(test)]
mod tests;
