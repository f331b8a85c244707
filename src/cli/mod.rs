//! Command line: run / check / convert / show.

mod check;
mod convert;
mod logging;
mod show;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

pub const DEFAULT_CONFIG: &str = "/etc/ikev1d/ikev1d.conf";
pub const DEFAULT_SOCKET: &str = "/run/ikev1d/ikev1d.sock";

#[derive(Parser, Debug)]
#[command(
    name = "ikev1d",
    version,
    about = "IKEv1 daemon for route-based IPsec tunnels (VTI) with Cisco IOS routers",
    long_about = "ikev1d negotiates ISAKMP Main Mode (pre-shared key) and Quick Mode with a Cisco IOS \
router configured for a route-based VTI (tunnel protection ipsec profile), then programs the \
kernel's XFRM (or runs ESP in userspace over TUN). The configuration is the IOS one; files \
ending in .toml hold the same model. See ikev1d(8)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon.
    Run {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
        /// auto picks the kernel when it accepts ESP states and has xfrm interfaces or
        /// vti6, else userspace, and logs which and why.
        #[arg(long, value_enum, default_value = "auto")]
        dataplane: crate::daemon::DataplaneChoice,
        /// Respond only; never initiate.
        #[arg(long)]
        passive: bool,
        /// Run PATH (argv: up|down INTERFACE PEER LOCAL, plus IKEV1D_* environment
        /// variables) when a Virtual-Access interface comes up or goes away.
        #[arg(long, value_name = "PATH")]
        interface_hook: Option<PathBuf>,
        /// Kill an interface hook still running after SECONDS (with what it started),
        /// logging it, so that the next one runs.
        #[arg(long, value_name = "SECONDS", default_value_t = crate::daemon::hook::DEFAULT_TIMEOUT.as_secs(),
              value_parser = clap::value_parser!(u64).range(1..))]
        interface_hook_timeout: u64,
        #[command(flatten)]
        maps: MapInterface,
    },
    /// Validate a configuration; errors as FILE:LINE: message, exit 1.
    Check {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        #[command(flatten)]
        maps: MapInterface,
    },
    /// Print a configuration (IOS dialect) as TOML.
    Convert {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        #[command(flatten)]
        maps: MapInterface,
    },
    /// Show SAs of the running daemon, like IOS `show crypto ... sa`.
    Show {
        #[command(subcommand)]
        what: ShowWhat,
    },
}

/// `--map-interface IOS=LINUX`, repeatable.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct MapInterface {
    /// The Linux interface that stands for an IOS one (`tunnel source GigabitEthernet1`),
    /// e.g. `--map-interface GigabitEthernet1=eth0`; the configuration line `ikev1d
    /// map-interface IOS LINUX` does the same.
    #[arg(long = "map-interface", value_name = "IOS=LINUX", value_parser = parse_map)]
    pub map_interface: Vec<(String, String)>,
}

fn parse_map(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((ios, linux)) if !ios.is_empty() && !linux.is_empty() => {
            Ok((ios.to_string(), linux.to_string()))
        }
        _ => Err(format!(
            "`{s}`: expected IOS-NAME=LINUX-NAME, e.g. GigabitEthernet1=eth0"
        )),
    }
}

#[derive(Subcommand, Debug, Clone)]
pub enum ShowWhat {
    /// Phase 1 SAs (`show crypto isakmp sa`).
    Isakmp {
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
        /// One JSON array instead of IOS's layout (streamed: fine for 10,000 SAs).
        #[arg(long)]
        json: bool,
        /// Only the SAs with this peer address (`show crypto isakmp sa peer A`).
        #[arg(long, value_name = "ADDRESS")]
        peer: Option<std::net::IpAddr>,
    },
    /// Phase 2 SA pairs with counters (`show crypto ipsec sa`).
    Ipsec {
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
        /// One JSON array instead of IOS's layout (streamed: fine for 10,000 SAs).
        #[arg(long)]
        json: bool,
        /// Only the pairs with this peer address (`show crypto ipsec sa peer A`).
        #[arg(long, value_name = "ADDRESS")]
        peer: Option<std::net::IpAddr>,
        /// Only the pairs of this tunnel interface, e.g. Tunnel5 (`show crypto ipsec
        /// sa interface Tunnel5`).
        #[arg(long, value_name = "NAME")]
        interface: Option<String>,
    },
    /// Negotiations admitted, refused and dropped (`show crypto call admission
    /// statistics`).
    Admission {
        #[arg(long, default_value = DEFAULT_SOCKET)]
        socket: PathBuf,
        /// One JSON object instead of IOS's layout.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config,
            socket,
            dataplane,
            passive,
            interface_hook,
            interface_hook_timeout,
            maps,
        } => run(crate::daemon::run::RunOptions {
            config,
            socket,
            dataplane,
            passive,
            interface_hook,
            interface_hook_timeout: std::time::Duration::from_secs(interface_hook_timeout),
            map_interface: maps.map_interface,
        }),
        Command::Check { config, maps } => check::run(&config, &maps.map_interface),
        Command::Convert { config, maps } => convert::run(&config, &maps.map_interface),
        Command::Show { what } => show::run(what),
    }
}

/// Logging: RUST_LOG when set, else info, or debug when the configuration has
/// `debug crypto isakmp`/`ipsec` (the file is read again by the daemon, which reports
/// its errors properly).
fn init_logging(config: &std::path::Path) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) => EnvFilter::new(f),
        Err(_) => {
            let debug = crate::config::Config::load(config)
                .map(|c| c.debug.isakmp || c.debug.ipsec)
                .unwrap_or(false);
            EnvFilter::new(if debug { "ikev1d=debug" } else { "ikev1d=info" })
        }
    };
    logging::init(filter);
}

fn run(opts: crate::daemon::run::RunOptions) -> ExitCode {
    init_logging(&opts.config);
    match crate::daemon::run::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ikev1d: {e}");
            ExitCode::FAILURE
        }
    }
}
