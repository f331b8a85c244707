//! Configuration: the IOS dialect (first class) and TOML, with line numbers.
//!
//! `Config::load` parses a file (`*.toml` as TOML, anything else as IOS), then validates
//! it; every diagnostic reads `FILE:LINE: message`, and none shows a secret.
//! `Config::to_settings` and `Config::tunnel_specs` derive what the engine and the data
//! path need, resolving interface names through `ikev1d map-interface` and the host's
//! interfaces. See docs/ios-mapping.md for the IOS commands and what each does.

mod error;
mod ios;
mod model;
mod redact;
mod resolve;
mod toml_dialect;
mod validate;
mod words;

pub use error::{ConfigError, ConfigErrors, ConfigWarning};
pub use model::*;
pub use resolve::{resolve_interface, HostInterfaces, Interfaces};

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
    /// Read, parse and validate a file; the dialect follows the file name. Warnings
    /// include the file's own: it holds keys, so only root should read or change it.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                return Err(ConfigErrors {
                    errors: vec![ConfigError {
                        file,
                        line: 0,
                        message: format!("cannot read: {e}"),
                    }],
                    warnings: Vec::new(),
                })
            }
        };
        let text = zeroize::Zeroizing::new(text);
        let mut result = Config::parse(&text, &file, Dialect::of(path));
        let mut warnings = file_warnings(path, &file);
        match &mut result {
            Ok(c) => {
                warnings.append(&mut c.warnings);
                c.warnings = warnings;
            }
            Err(e) => {
                warnings.append(&mut e.warnings);
                e.warnings = warnings;
            }
        }
        result
    }

    /// `load`, then `--map-interface IOS=LINUX` maps over the file's own.
    pub fn load_mapped(path: &Path, maps: &[(String, String)]) -> Result<Config, ConfigErrors> {
        let mut c = Config::load(path)?;
        let file = c.file.clone();
        let errors: Vec<ConfigError> = maps
            .iter()
            .filter_map(|(ios, linux)| c.map_interface(ios, linux).err())
            .map(|message| ConfigError {
                file: file.clone(),
                line: 0,
                message: format!("--map-interface: {message}"),
            })
            .collect();
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(ConfigErrors {
                errors,
                warnings: c.warnings,
            })
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

/// Warnings about the file itself: it holds pre-shared keys, so it should be root's
/// and private (`install -m 600 -o root`).
fn file_warnings(path: &Path, file: &str) -> Vec<ConfigWarning> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let warn = |message: String| ConfigWarning {
        file: file.to_string(),
        line: 0,
        message,
    };
    let mut w = Vec::new();
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        w.push(warn(format!(
            "readable by group or others (mode {mode:03o}): it holds pre-shared keys; `chmod 600 {file}`"
        )));
    }
    if meta.uid() != 0 {
        w.push(warn(format!(
            "owned by uid {}, not root: its owner can change the keys and tunnels; `chown root: {file}`",
            meta.uid()
        )));
    }
    w
}

impl Config {
    /// `--map-interface IOS=LINUX`: like the line `ikev1d map-interface IOS LINUX`,
    /// over any line for the same IOS name.
    pub fn map_interface(&mut self, ios: &str, linux: &str) -> Result<(), String> {
        ios::add_map(self, &ios::names::interface_ref(ios), linux, 0)
    }
}

#[cfg(test)]
mod tests;
