//! `ikev1d run`: the daemon loop. Glue only: read datagrams (remembering the local
//! address by binding one socket per configured local address), feed the engine with
//! `Instant::now()`, carry out its actions on sockets and the data path, serve the control
//! socket, handle SIGTERM (clean teardown) and SIGHUP (reload).

use super::{control, notify::sd_notify, show, DataplaneChoice};
use crate::config::Config;
use crate::crypto::OsRng;
use crate::dataplane::{self, Dataplane, DataplaneKind, Direction};
use crate::ike::{Action, Command, Engine};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    pub socket: PathBuf,
    pub dataplane: DataplaneChoice,
    pub passive: bool,
}

/// IKE's non-ESP marker on port 4500 (RFC 3948 2.2).
const NON_ESP_MARKER: [u8; 4] = [0; 4];
const NAT_T_PORT: u16 = 4500;

struct Datagram {
    local: SocketAddr,
    remote: SocketAddr,
    data: Vec<u8>,
}

pub fn run(opts: RunOptions) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(Daemon::start(opts)?.serve())
}

struct Daemon {
    opts: RunOptions,
    config: Config,
    engine: Engine,
    dp: Box<dyn Dataplane>,
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    rx: mpsc::Receiver<Datagram>,
    tx: mpsc::Sender<Datagram>,
}

fn choose_dataplane(choice: DataplaneChoice) -> Result<Box<dyn Dataplane>, String> {
    match choice {
        DataplaneChoice::Kernel => dataplane::open(DataplaneKind::Kernel).map_err(|e| e.to_string()),
        DataplaneChoice::Userspace => {
            tracing::info!("data path: userspace (asked for)");
            dataplane::open(DataplaneKind::Userspace).map_err(|e| e.to_string())
        }
        DataplaneChoice::Auto => match dataplane::open(DataplaneKind::Kernel) {
            Ok(dp) => {
                tracing::info!("data path: kernel (the kernel accepts ESP states and has tunnel interfaces)");
                Ok(dp)
            }
            Err(why) => {
                tracing::info!("data path: userspace, because {why}");
                dataplane::open(DataplaneKind::Userspace).map_err(|e| e.to_string())
            }
        },
    }
}

impl Daemon {
    fn start(opts: RunOptions) -> Result<Daemon, String> {
        let config = Config::load(&opts.config).map_err(|e| e.to_string())?;
        let mut settings = config.to_settings(crate::config::resolve_interface).map_err(|e| e.to_string())?;
        settings.passive |= opts.passive;
        let mut dp = choose_dataplane(opts.dataplane)?;
        for spec in config.tunnel_specs(crate::config::resolve_interface).map_err(|e| e.to_string())? {
            dp.ensure_tunnel(&spec).map_err(|e| format!("{}: {e}", spec.name))?;
        }
        let (tx, rx) = mpsc::channel(1024);
        let engine = Engine::new(settings, Box::new(OsRng), std::time::Instant::now());
        Ok(Daemon { opts, config, engine, dp, sockets: HashMap::new(), rx, tx })
    }

    async fn serve(mut self) -> Result<(), String> {
        todo!()
    }
}
