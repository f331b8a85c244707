//! `ikev1d convert --config FILE`: the configuration as TOML on stdout (the same model;
//! `ikev1d check` accepts the output). Only a valid file is converted.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> ExitCode {
    match super::check::load_reporting(path) {
        Some(config) => {
            print!("{}", config.to_toml());
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}
