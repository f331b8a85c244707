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
    /// `--map-interface IOS=LINUX`.
    pub map_interface: Vec<(String, String)>,
}

/// IKE's non-ESP marker on port 4500 (RFC 3948 2.2).
const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// A NAT-keepalive datagram's only byte (RFC 3948 2.3).
const NAT_KEEPALIVE: u8 = 0xff;
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
    settings: crate::ike::Settings,
    engine: Engine,
    dp: Box<dyn Dataplane>,
    /// The tunnel interfaces by name: SAs take their if_id from here.
    specs: HashMap<String, dataplane::TunnelSpec>,
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    rx: mpsc::Receiver<Datagram>,
    tx: mpsc::Sender<Datagram>,
}

fn choose_dataplane(choice: DataplaneChoice) -> Result<Box<dyn Dataplane>, String> {
    match choice {
        DataplaneChoice::Kernel => {
            dataplane::open(DataplaneKind::Kernel).map_err(|e| e.to_string())
        }
        DataplaneChoice::Userspace => {
            tracing::info!("data path: userspace (asked for)");
            dataplane::open(DataplaneKind::Userspace).map_err(|e| e.to_string())
        }
        DataplaneChoice::Auto => {
            match dataplane::open(DataplaneKind::Kernel) {
                Ok(dp) => {
                    tracing::info!("data path: kernel (the kernel accepts ESP states and has tunnel interfaces)");
                    Ok(dp)
                }
                Err(why) => {
                    tracing::info!("data path: userspace, because {why}");
                    dataplane::open(DataplaneKind::Userspace).map_err(|e| e.to_string())
                }
            }
        }
    }
}

/// Read the configuration as `ikev1d check` would, log its warnings and what it
/// skipped (never a secret: both are redacted), and derive the engine's settings and
/// the tunnel interfaces.
fn load(
    opts: &RunOptions,
) -> Result<(Config, crate::ike::Settings, Vec<dataplane::TunnelSpec>), String> {
    use crate::config::HostInterfaces;
    let config =
        Config::load_mapped(&opts.config, &opts.map_interface).map_err(|e| e.to_string())?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    if let Some(summary) = config.skipped.summary() {
        tracing::info!("{}: {summary}", config.file);
    }
    let mut settings = config
        .to_settings(HostInterfaces)
        .map_err(|e| e.to_string())?;
    settings.passive |= opts.passive;
    let specs = config
        .tunnel_specs(HostInterfaces)
        .map_err(|e| e.to_string())?;
    Ok((config, settings, specs))
}

impl Daemon {
    fn start(opts: RunOptions) -> Result<Daemon, String> {
        let (config, settings, tunnel_specs) = load(&opts)?;
        let mut dp = choose_dataplane(opts.dataplane)?;
        let mut specs = HashMap::new();
        for spec in tunnel_specs {
            dp.ensure_tunnel(&spec)
                .map_err(|e| format!("{}: {e}", spec.name))?;
            specs.insert(spec.name.clone(), spec);
        }
        let (tx, rx) = mpsc::channel(1024);
        let engine = Engine::new(settings.clone(), Box::new(OsRng), std::time::Instant::now());
        Ok(Daemon {
            opts,
            config,
            settings,
            engine,
            dp,
            specs,
            sockets: HashMap::new(),
            rx,
            tx,
        })
    }

    /// Bind UDP 500 and 4500 on every local address a tunnel uses; each socket gets a
    /// receive task feeding the main loop.
    fn open_sockets(&mut self) -> Result<(), String> {
        let locals: std::collections::BTreeSet<IpAddr> = self.engine_locals().into_iter().collect();
        for ip in locals {
            for port in [500, NAT_T_PORT] {
                let addr = SocketAddr::new(ip, port);
                if self.sockets.contains_key(&addr) {
                    continue;
                }
                let std_sock = std::net::UdpSocket::bind(addr)
                    .map_err(|e| format!("cannot bind UDP {addr}: {e}"))?;
                std_sock.set_nonblocking(true).map_err(|e| e.to_string())?;
                self.dp
                    .prepare_ike_socket(&std_sock, port == NAT_T_PORT)
                    .map_err(|e| format!("UDP {addr}: {e}"))?;
                let sock = Arc::new(UdpSocket::from_std(std_sock).map_err(|e| e.to_string())?);
                self.sockets.insert(addr, sock.clone());
                let tx = self.tx.clone();
                tokio::spawn(receive(sock, addr, tx));
            }
        }
        Ok(())
    }

    fn engine_locals(&self) -> Vec<IpAddr> {
        self.settings.tunnels.iter().map(|t| t.local).collect()
    }

    async fn serve(mut self) -> Result<(), String> {
        self.open_sockets()?;
        let listener = control::bind(&self.opts.socket)
            .map_err(|e| format!("control socket {}: {e}", self.opts.socket.display()))?;
        let (qtx, mut queries) = mpsc::channel(16);
        tokio::spawn(control::serve(listener, qtx));
        let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let mut sighup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        let mut dp_tick = tokio::time::interval(std::time::Duration::from_secs(1));

        let now = std::time::Instant::now();
        if !self.settings.passive {
            for t in self.settings.tunnels.iter().filter(|t| !t.shutdown) {
                self.engine.handle_command(
                    now,
                    Command::Initiate {
                        tunnel: t.name.clone(),
                    },
                );
            }
        }
        self.drain().await;
        sd_notify("READY=1");
        tracing::info!(
            tunnels = self.settings.tunnels.len(),
            dataplane = ?self.dp.kind(),
            "ikev1d ready"
        );

        loop {
            let deadline = self
                .engine
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(3600));
            tokio::select! {
                Some(d) = self.rx.recv() => {
                    self.engine.handle_datagram(std::time::Instant::now(), d.local, d.remote, &d.data);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.engine.handle_timeout(std::time::Instant::now());
                }
                _ = dp_tick.tick() => {
                    for ev in self.dp.poll_events() {
                        let dataplane::DataplaneEvent::Expired { tunnel, spi, hard, .. } = ev;
                        self.engine.handle_command(std::time::Instant::now(), Command::SaExpired { tunnel, spi, hard });
                    }
                }
                Some((req, reply)) = queries.recv() => {
                    let _ = reply.send(self.answer(req));
                }
                _ = sighup.recv() => self.reload(),
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
            }
            self.drain().await;
        }
        sd_notify("STOPPING=1");
        tracing::info!("shutting down: deleting SAs and removing what this daemon created");
        self.engine
            .handle_command(std::time::Instant::now(), Command::Shutdown);
        self.drain().await;
        self.dp.shutdown();
        let _ = std::fs::remove_file(&self.opts.socket);
        Ok(())
    }

    /// Carry out every pending engine action.
    async fn drain(&mut self) {
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::Send {
                    local,
                    remote,
                    data,
                } => self.send(local, remote, &data).await,
                Action::NatKeepalive { local, remote } => {
                    self.send_raw(local, remote, &[NAT_KEEPALIVE]).await
                }
                Action::AllocSpi {
                    request,
                    tunnel,
                    src,
                    dst,
                } => {
                    let cmd = match self.dp.alloc_spi(&tunnel, src, dst) {
                        Ok(spi) => Command::SpiAllocated { request, spi },
                        Err(e) => Command::SpiFailed {
                            request,
                            reason: e.to_string(),
                        },
                    };
                    self.engine.handle_command(std::time::Instant::now(), cmd);
                }
                Action::InstallSa(mut sa) => {
                    if let Some(spec) = self.specs.get(&sa.tunnel) {
                        sa.if_id = spec.if_id;
                        sa.reqid = spec.if_id;
                    }
                    if let Err(e) = self.dp.install_sa(&sa) {
                        tracing::error!(
                            tunnel = %sa.tunnel, spi = sa.spi,
                            "cannot install {:?} SA {:#010x} on {}: {e}", sa.direction, sa.spi, sa.tunnel
                        );
                    }
                }
                Action::DeleteSa {
                    tunnel,
                    direction,
                    spi,
                    dst,
                } => {
                    if let Err(e) = self.dp.delete_sa(&tunnel, direction, spi, dst) {
                        tracing::debug!("delete SA {spi:#010x} on {tunnel}: {e}");
                    }
                }
                Action::Log(ev) => log_event(&ev),
            }
        }
    }

    /// Send an IKE message (with the non-ESP marker on 4500).
    async fn send(&self, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if local.port() == NAT_T_PORT {
            let mut buf = Vec::with_capacity(data.len() + 4);
            buf.extend_from_slice(&NON_ESP_MARKER);
            buf.extend_from_slice(data);
            self.send_raw(local, remote, &buf).await
        } else {
            self.send_raw(local, remote, data).await
        }
    }

    /// Send `data` as is.
    async fn send_raw(&self, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        let Some(sock) = self.sockets.get(&local) else {
            tracing::warn!("no socket for {local}; cannot send to {remote}");
            return;
        };
        if let Err(e) = sock.send_to(data, remote).await {
            tracing::warn!("send to {remote} from {local}: {e}");
        }
    }

    fn answer(&mut self, req: control::Request) -> String {
        let now = std::time::Instant::now();
        match req {
            control::Request::ShowIsakmp => {
                let views: Vec<show::IsakmpSaView> = self
                    .engine
                    .isakmp_sas(now)
                    .iter()
                    .map(show::IsakmpSaView::from)
                    .collect();
                serde_json::to_string(&views).unwrap_or_else(|_| "[]".into())
            }
            control::Request::ShowIpsec => {
                let kind = self.dp.kind();
                let views: Vec<show::IpsecSaView> = self
                    .engine
                    .ipsec_sas(now)
                    .iter()
                    .filter_map(|sa| {
                        let out_spi = sa.outbound.as_ref()?.spi;
                        let inbound = self
                            .dp
                            .counters(&sa.interface, Direction::In, sa.inbound.spi, sa.local)
                            .unwrap_or_default();
                        let outbound = self
                            .dp
                            .counters(&sa.interface, Direction::Out, out_spi, sa.peer)
                            .unwrap_or_default();
                        show::IpsecSaView::new(sa, kind, &inbound, &outbound)
                    })
                    .collect();
                serde_json::to_string(&views).unwrap_or_else(|_| "[]".into())
            }
        }
    }

    /// SIGHUP: load and validate the new configuration; on any error keep the running one.
    fn reload(&mut self) {
        let (config, settings, specs) = match load(&self.opts) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("reload rejected, keeping the running configuration: {e}");
                return;
            }
        };
        let old: Vec<String> = self
            .settings
            .tunnels
            .iter()
            .map(|t| t.name.clone())
            .collect();
        for name in old.iter().filter(|n| !specs.iter().any(|s| &&s.name == n)) {
            if let Err(e) = self.dp.remove_tunnel(name) {
                tracing::warn!("removing {name}: {e}");
            }
        }
        self.specs.clear();
        for spec in specs {
            if let Err(e) = self.dp.ensure_tunnel(&spec) {
                tracing::error!("{}: {e}", spec.name);
            }
            self.specs.insert(spec.name.clone(), spec);
        }
        self.engine
            .reload(std::time::Instant::now(), settings.clone());
        self.settings = settings;
        self.config = config;
        if let Err(e) = self.open_sockets() {
            tracing::error!("after reload: {e}");
        }
        tracing::info!("configuration reloaded from {}", self.opts.config.display());
    }
}

/// Receive datagrams on one socket; on 4500 strip the non-ESP marker and drop NAT
/// keepalives (RFC 3948 2.2, 2.3).
async fn receive(sock: Arc<UdpSocket>, local: SocketAddr, tx: mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, remote)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let data = if local.port() == NAT_T_PORT {
            match buf[..n] {
                [0, 0, 0, 0, ..] => buf[4..n].to_vec(),
                // a NAT keepalive (0xff), or ESP the kernel did not take
                _ => continue,
            }
        } else {
            buf[..n].to_vec()
        };
        if tx
            .send(Datagram {
                local,
                remote,
                data,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

fn log_event(ev: &crate::ike::LogEvent) {
    use tracing::Level;
    match ev.level() {
        Level::ERROR => tracing::error!("{ev}"),
        Level::WARN => tracing::warn!("{ev}"),
        Level::INFO => tracing::info!("{ev}"),
        Level::DEBUG => tracing::debug!("{ev}"),
        _ => tracing::trace!("{ev}"),
    }
}
