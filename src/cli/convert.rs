//! `ikev1d convert --config FILE [--map-interface IOS=LINUX]...`: the configuration as
//! TOML on stdout (the same model; `ikev1d check` accepts the output). Only a valid
//! file is converted. With `--map-interface` the TOML names the Linux interfaces
//! directly, so that the daemon needs no map for it.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, maps: &[(String, String)]) -> ExitCode {
    match super::check::load_reporting(path, maps) {
        Some(mut config) => {
            let applied: Vec<String> = maps.iter().map(|(ios, _)| ios.clone()).collect();
            config.apply_interface_map(&applied);
            super::check::print_text(&config.to_toml());
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}
