//! Command line: run / check / convert / show.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "ikev1d",
    version,
    about = "IKEv1 daemon for route-based IPsec tunnels with Cisco IOS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon.
    Run {
        #[arg(long, default_value = "/etc/ikev1d/ikev1d.conf")]
        config: std::path::PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => {
            eprintln!("ikev1d: run is not implemented yet ({})", config.display());
            ExitCode::FAILURE
        }
    }
}
