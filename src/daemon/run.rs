//! `ikev1d run`: the daemon loop. Glue only: read datagrams (with their local address
//! and front-door VRF: `ike_socket.rs`), feed the engine with
//! `Instant::now()`, carry out its actions on sockets and, through the data path worker
//! (`worker.rs`), on the data path; serve the control socket, handle SIGTERM (clean
//! teardown) and SIGHUP (reload). Every task and thread it depends on is watched: one
//! that ends stops the daemon with an error naming it.

use super::dh::DhPool;
use super::error::RunError;
use super::hook::{self, Hook, HookCall, HookEvent};
use super::ike_socket::{self, Datagram, Dispatch, IkeSockets, NAT_T_PORT, NON_ESP_MARKER};
use super::worker::{self, Event, Request, Worker};
use super::{control, limits, notify::sd_notify, show, DataplaneChoice};
use crate::config::Config;
use crate::crypto::OsRng;
use crate::dataplane::threads::{inject_fault, panic_message};
use crate::dataplane::{self, Dataplane, DataplaneEvent, DataplaneKind, TunnelSpec};
use crate::ike::{Action, Command, Engine, Fvrf, Settings, VirtualAccess};
use crate::ipsec::Direction;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    pub socket: PathBuf,
    pub dataplane: DataplaneChoice,
    pub passive: bool,
    /// `--map-interface IOS=LINUX`.
    pub map_interface: Vec<(String, String)>,
    /// `--interface-hook PATH`: run on Virtual-Access up/down.
    pub interface_hook: Option<PathBuf>,
    /// `--interface-hook-timeout SECONDS`: a hook still running then is killed.
    pub interface_hook_timeout: std::time::Duration,
}

/// Datagrams read but not yet handled, from anyone; beyond it they are dropped at
/// dispatch (IOS's counter of that name), the socket keeps being read.
const QUEUED_DATAGRAMS: usize = 256;

/// How many datagrams from configured tunnel destinations are queued at most:
/// `QUEUED_DATAGRAMS`, or two per tunnel configured at start if that is more. A peer
/// that stops (or `clear crypto session`) sends an ESP Delete and an ISAKMP Delete for
/// each of its tunnels at once, as fast as its loop goes: with hundreds of tunnels to
/// one peer, a smaller queue dropped some, and their pairs stayed until DPD.
fn known_queue(settings: &Settings) -> usize {
    QUEUED_DATAGRAMS.max(2 * settings.tunnels.len())
}

/// A NAT-keepalive datagram's only byte (RFC 3948 2.3).
const NAT_KEEPALIVE: u8 = 0xff;

/// The local addresses, by front-door VRF, that get IKE sockets (UDP 500 and 4500).
fn ike_locals(settings: &Settings) -> std::collections::BTreeSet<(Option<String>, IpAddr)> {
    settings
        .tunnels
        .iter()
        .chain(&settings.templates)
        .map(|t| (t.options.fvrf.clone(), t.local))
        .collect()
}

fn tunnel_peers(settings: &Settings) -> HashSet<IpAddr> {
    settings.tunnels.iter().map(|t| t.peer).collect()
}

pub fn run(opts: RunOptions) -> Result<(), RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(async { Daemon::start(opts)?.serve().await })
}

/// The tasks of the event loop, by id: the long-lived ones (sockets, control server)
/// must never end; a reply task may, but not by panicking.
#[derive(Default)]
struct Tasks {
    set: JoinSet<()>,
    names: HashMap<tokio::task::Id, (&'static str, bool)>,
}

impl Tasks {
    fn spawn(
        &mut self,
        name: &'static str,
        long_lived: bool,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let id = self.set.spawn(task).id();
        self.names.insert(id, (name, long_lived));
    }

    /// The next task to end, as a failure if it should not have.
    async fn ended(&mut self) -> Option<RunError> {
        let (id, outcome) = match self.set.join_next_with_id().await? {
            Ok((id, ())) => (id, None),
            Err(e) => (e.id(), Some(e)),
        };
        let (name, long_lived) = self.names.remove(&id).unwrap_or(("unknown", true));
        let why = match outcome {
            Some(e) if e.is_panic() => format!("panicked: {}", panic_message(&*e.into_panic())),
            Some(_) => "was cancelled".into(),
            None if long_lived => "ended".into(),
            None => return None,
        };
        Some(RunError::Died {
            what: format!("task {name}"),
            why,
        })
    }
}

struct Daemon {
    opts: RunOptions,
    settings: Settings,
    engine: Engine,
    worker: Worker,
    events: mpsc::UnboundedReceiver<Event>,
    /// The tunnel interfaces by name (Virtual-Access ones too): each SA is installed
    /// with its tunnel.
    specs: HashMap<String, TunnelSpec>,
    /// The Virtual-Templates' interfaces by name, cloned for each Virtual-Access.
    templates: HashMap<String, TunnelSpec>,
    hook: Option<Hook>,
    /// UDP 500 and 4500 of every front-door VRF (`tunnel vrf`; `None`: the global
    /// table) and local address, and their receive thread.
    sockets: IkeSockets,
    dispatch: Dispatch,
    from_known: mpsc::Receiver<Datagram>,
    from_others: mpsc::Receiver<Datagram>,
    dh: DhPool,
    tasks: Tasks,
}

fn choose_dataplane(choice: DataplaneChoice) -> Result<Box<dyn Dataplane>, RunError> {
    let dp = match choice {
        DataplaneChoice::Kernel => dataplane::open(DataplaneKind::Kernel)?,
        DataplaneChoice::Userspace => {
            tracing::info!("data path: userspace (asked for)");
            dataplane::open(DataplaneKind::Userspace)?
        }
        DataplaneChoice::Auto => match dataplane::open(DataplaneKind::Kernel) {
            Ok(dp) => {
                tracing::info!(
                    "data path: kernel (the kernel accepts ESP states and has tunnel interfaces)"
                );
                dp
            }
            Err(why) => {
                tracing::info!("data path: userspace, because {why}");
                dataplane::open(DataplaneKind::Userspace)?
            }
        },
    };
    Ok(dp)
}

/// Read the configuration as `ikev1d check` would, log its warnings and what it
/// skipped (never a secret: both are redacted), and derive the engine's settings and
/// the tunnel interfaces.
fn load(opts: &RunOptions) -> Result<Loaded, RunError> {
    use crate::config::HostInterfaces;
    let config =
        Config::load_mapped(&opts.config, &opts.map_interface).map_err(RunError::Config)?;
    for w in &config.warnings {
        tracing::warn!("{}", Bounded(w));
    }
    if let Some(summary) = config.skipped.summary() {
        tracing::info!("{}: {summary}", config.file);
    }
    vrf_support(&config)?;
    let mut settings = config
        .to_settings(HostInterfaces)
        .map_err(RunError::Resolve)?;
    settings.passive |= opts.passive;
    let specs = config
        .tunnel_specs(HostInterfaces)
        .map_err(RunError::Resolve)?;
    let templates = config
        .template_specs(HostInterfaces)
        .map_err(RunError::Resolve)?;
    Ok(Loaded {
        settings,
        specs,
        templates: templates.into_iter().map(|t| (t.name.clone(), t)).collect(),
    })
}

/// A configuration read and resolved.
struct Loaded {
    settings: Settings,
    specs: Vec<TunnelSpec>,
    templates: HashMap<String, TunnelSpec>,
}

/// A configuration with VRFs needs a kernel with VRF devices: without, the first VRF
/// line is the error, naming what the kernel lacks.
fn vrf_support(config: &Config) -> Result<(), RunError> {
    let first = config
        .tunnels
        .iter()
        .filter(|t| t.protected() && !t.shutdown)
        .flat_map(|t| {
            let ivrf = t
                .vrf
                .as_ref()
                .map(|v| (v.line, format!("vrf forwarding {}", v.value)));
            let fvrf = t
                .tunnel_vrf
                .as_ref()
                .map(|v| (v.line, format!("tunnel vrf {}", v.value)));
            ivrf.into_iter().chain(fvrf)
        })
        .min();
    let Some((line, what)) = first else {
        return Ok(());
    };
    dataplane::vrf::probe().map_err(|why| {
        RunError::Resolve(crate::config::ConfigError {
            file: config.file.clone(),
            line,
            message: format!("{what}: {why}"),
        })
    })
}

impl Daemon {
    fn start(opts: RunOptions) -> Result<Daemon, RunError> {
        let Loaded {
            settings,
            specs: tunnel_specs,
            templates,
        } = load(&opts)?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let hook = match &opts.interface_hook {
            Some(path) => Some(
                Hook::start(path.clone(), opts.interface_hook_timeout, events_tx.clone()).map_err(
                    |e| RunError::Died {
                        what: format!("thread {}", hook::THREAD_NAME),
                        why: format!("could not start: {e}"),
                    },
                )?,
            ),
            None => None,
        };
        let mut dp = choose_dataplane(opts.dataplane)?;
        // Virtual-Access numbers start again from 1: what a crashed instance left of
        // its interfaces goes now, not when a peer happens to get the same number.
        dp.remove_leftover_virtual_access()?;
        let need = limits::need(
            dp.descriptors(tunnel_specs.len()),
            ike_socket::needed(&ike_locals(&settings)),
        );
        limits::make_room(need, tunnel_specs.len());
        // Before the loop runs: a tunnel that cannot be created stops the start.
        let mut specs = HashMap::new();
        for spec in tunnel_specs {
            dp.ensure_tunnel(&spec)?;
            specs.insert(spec.name.clone(), spec);
        }
        let worker = Worker::start(dp, events_tx.clone()).map_err(|e| RunError::Died {
            what: "thread dataplane-worker".into(),
            why: format!("could not start: {e}"),
        })?;
        let dh = DhPool::start(events_tx.clone()).map_err(|e| RunError::Died {
            what: "thread dh".into(),
            why: format!("could not start: {e}"),
        })?;
        let (known, from_known) = mpsc::channel(known_queue(&settings));
        let (others, from_others) = mpsc::channel(QUEUED_DATAGRAMS);
        let dispatch = Dispatch {
            known_peers: Arc::new(RwLock::new(tunnel_peers(&settings))),
            known,
            others,
            dropped: Arc::default(),
        };
        let sockets =
            IkeSockets::start(dispatch.clone(), events_tx).map_err(|e| RunError::Died {
                what: "thread ike-rx".into(),
                why: format!("could not start: {e}"),
            })?;
        let engine = Engine::new(settings.clone(), Box::new(OsRng), std::time::Instant::now());
        Ok(Daemon {
            opts,
            settings,
            engine,
            worker,
            events,
            specs,
            templates,
            hook,
            sockets,
            dispatch,
            from_known,
            from_others,
            dh,
            tasks: Tasks::default(),
        })
    }

    /// Serve UDP 500 and 4500 on every local address a tunnel uses, in its front-door
    /// VRF (`IkeSockets::open`).
    fn open_sockets(&mut self) -> Result<(), RunError> {
        self.sockets
            .open(&ike_locals(&self.settings), self.worker.kind())
    }

    async fn serve(mut self) -> Result<(), RunError> {
        let outcome = self.run_loop().await;
        sd_notify("STOPPING=1");
        tracing::info!("shutting down: deleting SAs and removing what this daemon created");
        self.engine
            .handle_command(std::time::Instant::now(), Command::Shutdown);
        self.drain().await;
        self.worker.shutdown().await;
        self.dh.shutdown();
        self.sockets.stop();
        if let Some(hook) = self.hook.take() {
            hook.finish().await;
        }
        let _ = std::fs::remove_file(&self.opts.socket);
        outcome
    }

    /// Until SIGTERM (Ok) or until something the daemon needs dies (Err).
    async fn run_loop(&mut self) -> Result<(), RunError> {
        self.open_sockets()?;
        let listener =
            control::bind(&self.opts.socket).map_err(|source| RunError::ControlSocket {
                path: self.opts.socket.clone(),
                source,
            })?;
        let (qtx, mut queries) = mpsc::channel(16);
        self.tasks
            .spawn("control socket", true, control::serve(listener, qtx));
        let mut sigterm = signal(SignalKind::terminate()).map_err(RunError::Runtime)?;
        let mut sigint = signal(SignalKind::interrupt()).map_err(RunError::Runtime)?;
        let mut sighup = signal(SignalKind::hangup()).map_err(RunError::Runtime)?;
        let mut trim = tokio::time::interval(HeapTrim::EVERY);
        trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heap = HeapTrim::default();

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
            dataplane = ?self.worker.kind(),
            "ikev1d ready"
        );

        loop {
            let deadline = self
                .engine
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(3600));
            // In order of precedence: under a flood of datagrams from strangers, the
            // timers (rekeys, DPD), the configured peers' messages, the workers'
            // answers and `show` still come first.
            tokio::select! {
                biased;
                _ = sigterm.recv() => return Ok(()),
                _ = sigint.recv() => return Ok(()),
                Some(died) = self.tasks.ended() => return Err(died),
                _ = tokio::time::sleep_until(deadline) => {
                    self.engine.handle_timeout(std::time::Instant::now());
                }
                Some(d) = self.from_known.recv() => {
                    self.engine.handle_datagram_in(std::time::Instant::now(), d.fvrf, d.local, d.remote, &d.data);
                }
                event = self.events.recv() => {
                    // The worker reports its own death before its senders go.
                    let Some(event) = event else {
                        return Err(RunError::Died {
                            what: format!("thread {}", worker::THREAD_NAME),
                            why: "ended".into(),
                        });
                    };
                    self.on_event(event)?;
                }
                Some((req, reply)) = queries.recv() => self.answer(req, reply),
                _ = sighup.recv() => self.reload(),
                Some(d) = self.from_others.recv() => {
                    self.engine.handle_datagram_in(std::time::Instant::now(), d.fvrf, d.local, d.remote, &d.data);
                }
                _ = trim.tick() => heap.after(self.engine.admission().ike_sas),
            }
            self.drain().await;
        }
    }

    /// What the data path worker reports.
    fn on_event(&mut self, event: Event) -> Result<(), RunError> {
        let now = std::time::Instant::now();
        let cmd = match event {
            Event::SpiAllocated {
                request,
                spi: Ok(spi),
            } => Command::SpiAllocated { request, spi },
            Event::SpiAllocated {
                request,
                spi: Err(e),
            } => Command::SpiFailed {
                request,
                reason: e.to_string(),
            },
            Event::Dataplane(DataplaneEvent::Expired {
                tunnel, spi, hard, ..
            }) => Command::SaExpired { tunnel, spi, hard },
            Event::DhComputed(done) => Command::DhComputed(done),
            // IOS brings a tunnel up when traffic meets it without an SA.
            Event::Dataplane(DataplaneEvent::Acquire { tunnel }) => Command::Initiate { tunnel },
            Event::Idle { tunnel } => Command::SaIdle { tunnel },
            Event::Dataplane(DataplaneEvent::ThreadFailed(f)) | Event::Died(f) => {
                return Err(RunError::Died {
                    what: format!("thread {}", f.thread),
                    why: f.reason,
                })
            }
        };
        self.engine.handle_command(now, cmd);
        Ok(())
    }

    /// Carry out every pending engine action (data path work goes to the worker, in
    /// order).
    async fn drain(&mut self) {
        // The data path deletes of one pass go in one request (`Dataplane::delete_sas`),
        // before any other request of the pass that comes after them.
        let mut deletes = Vec::new();
        while let Some(action) = self.engine.poll_action() {
            let to_worker = !matches!(
                action,
                Action::Send { .. }
                    | Action::NatKeepalive { .. }
                    | Action::ComputeDh(_)
                    | Action::DeleteSa { .. }
                    | Action::Log(_)
            );
            if to_worker && !deletes.is_empty() {
                self.worker
                    .send(Request::DeleteSas(std::mem::take(&mut deletes)));
            }
            match action {
                Action::Send {
                    fvrf,
                    local,
                    remote,
                    data,
                } => self.send((fvrf, local), remote, &data),
                Action::NatKeepalive {
                    fvrf,
                    local,
                    remote,
                } => self
                    .sockets
                    .send((fvrf, local), remote, &[&[NAT_KEEPALIVE]]),
                Action::ComputeDh(job) => self.dh.submit(job),
                Action::AllocSpi {
                    request,
                    tunnel,
                    src,
                    dst,
                } => self.worker.send(Request::AllocSpi {
                    request,
                    tunnel,
                    src,
                    dst,
                }),
                Action::InstallSa(sa) => match self.specs.get(&sa.tunnel) {
                    Some(spec) => self
                        .worker
                        .send(Request::InstallSa(Box::new(spec.clone()), sa)),
                    None => tracing::error!(tunnel = %sa.tunnel, "no such tunnel configured"),
                },
                Action::DeleteSa {
                    tunnel,
                    direction,
                    spi,
                    dst,
                } => deletes.push((tunnel, direction, spi, dst)),
                Action::CloneInterface(va) => self.clone_interface(va),
                Action::RemoveInterface(va) => self.remove_interface(va),
                Action::Log(ev) => log_event(&ev),
            }
        }
        if !deletes.is_empty() {
            self.worker.send(Request::DeleteSas(deletes));
        }
    }

    /// A Virtual-Access: its template's interface with its own name, if_id and
    /// addresses, created on the data path before the SAs that name it.
    fn clone_interface(&mut self, va: VirtualAccess) {
        let Some(template) = self.templates.get(&va.template_name()) else {
            tracing::error!(interface = %va.name, "no {} to clone", va.template_name());
            return;
        };
        let spec = TunnelSpec {
            name: va.name.clone(),
            if_id: va.if_id(),
            local: va.local,
            peer: va.peer,
            ..template.clone()
        };
        tracing::info!(
            interface = %va.name,
            peer = %va.peer,
            "%LINK-3-UPDOWN: Interface {}, changed state to up ({} cloned from {} for {}, crypto isakmp profile {})",
            va.name, va.name, va.template_name(), va.peer, va.profile
        );
        self.worker.send(Request::EnsureTunnel(spec.clone()));
        self.hook_after(HookCall::new(HookEvent::Up, &va, &spec));
        self.specs.insert(va.name.clone(), spec);
    }

    /// A Virtual-Access whose last IPsec SA went: its interface goes too.
    fn remove_interface(&mut self, va: VirtualAccess) {
        tracing::info!(
            interface = %va.name,
            peer = %va.peer,
            "%LINK-3-UPDOWN: Interface {}, changed state to down (its IPsec SAs with {} are gone)",
            va.name, va.peer
        );
        self.worker
            .send(Request::RemoveTunnels(vec![va.name.clone()]));
        if let Some(spec) = self.specs.remove(&va.name) {
            self.hook_after(HookCall::new(HookEvent::Down, &va, &spec));
        }
    }

    /// Run the interface hook once the data path has done what is queued before it.
    fn hook_after(&self, call: HookCall) {
        if let Some(hook) = &self.hook {
            let queue = hook.queue();
            self.worker
                .send(Request::After(Box::new(move || queue.call(call))));
        }
    }

    /// Send an IKE message (with the non-ESP marker on 4500).
    fn send(&self, from: (Option<Fvrf>, SocketAddr), remote: SocketAddr, data: &[u8]) {
        if from.1.port() == NAT_T_PORT {
            self.sockets.send(from, remote, &[&NON_ESP_MARKER, data]);
        } else {
            self.sockets.send(from, remote, &[data]);
        }
    }

    /// A control socket query. The views are taken in the loop; a reply task
    /// serialises and streams them (`show ipsec` first waits for the worker's counters
    /// of the listed SAs only), so that the loop does not.
    fn answer(&mut self, req: control::Request, reply: control::ReplySender) {
        let now = std::time::Instant::now();
        match req {
            control::Request::ShowIsakmp { peer } => {
                let views: Vec<show::IsakmpSaView> = self
                    .engine
                    .isakmp_sas_of(now, peer)
                    .iter()
                    .map(show::IsakmpSaView::from)
                    .collect();
                self.tasks
                    .spawn("control reply", false, control::stream_array(views, reply));
            }
            control::Request::ShowAdmission => {
                let view = show::AdmissionStatsView::new(
                    &self.engine.admission(),
                    self.dispatch.dropped.load(Ordering::Relaxed),
                    self.sockets.dropped_unknown_local(),
                );
                // One object, one piece: the fresh channel has room for it.
                let _ =
                    reply.try_send(serde_json::to_string(&view).unwrap_or_else(|_| "{}".into()));
            }
            control::Request::ShowIpsec { peer, interface } => {
                let kind = self.worker.kind();
                let sas: Vec<_> = self
                    .engine
                    .ipsec_sas_of(now, peer, interface.as_deref())
                    .into_iter()
                    .filter(|sa| sa.outbound.is_some())
                    .collect();
                let keys = sas
                    .iter()
                    .flat_map(|sa| {
                        let out = sa.outbound.as_ref().map_or(0, |o| o.spi);
                        [
                            (
                                sa.interface.clone(),
                                Direction::In,
                                sa.inbound.spi,
                                sa.local,
                            ),
                            (sa.interface.clone(), Direction::Out, out, sa.peer),
                        ]
                    })
                    .collect();
                let (tx, rx) = oneshot::channel();
                self.worker.send(Request::Counters(keys, tx));
                self.tasks.spawn("control reply", false, async move {
                    inject_fault("control reply");
                    let counters = rx.await.unwrap_or_default();
                    // By value: a borrowing iterator would make the task's future not
                    // provably Send (a closure over a borrow is not general enough).
                    let views = sas.into_iter().enumerate().filter_map(move |(i, sa)| {
                        let c = |j: usize| counters.get(2 * i + j).copied().unwrap_or_default();
                        show::IpsecSaView::new(&sa, kind, &c(0), &c(1))
                    });
                    control::stream_array(views, reply).await;
                });
            }
        }
    }

    /// SIGHUP: load and validate the new configuration; on any error keep the running one.
    fn reload(&mut self) {
        let Loaded {
            settings,
            specs,
            templates,
        } = match load(&self.opts) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("reload rejected, keeping the running configuration: {e}");
                return;
            }
        };
        // Virtual-Access interfaces stay with their SAs (the engine keeps them); a
        // changed template applies to the next ones.
        // Sets, not scans: a reload of 10,000 tunnels would compare every old name with
        // every new one.
        let clones: HashSet<String> = self
            .engine
            .virtual_accesses()
            .into_iter()
            .map(|va| va.name)
            .collect();
        let configured: HashSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let removed: Vec<String> = self
            .specs
            .keys()
            .filter(|n| !configured.contains(n.as_str()) && !clones.contains(*n))
            .cloned()
            .collect();
        if !removed.is_empty() {
            self.worker.send(Request::RemoveTunnels(removed));
        }
        self.specs.retain(|n, _| clones.contains(n));
        self.templates = templates;
        for spec in specs {
            self.worker.send(Request::EnsureTunnel(spec.clone()));
            self.specs.insert(spec.name.clone(), spec);
        }
        self.engine
            .reload(std::time::Instant::now(), settings.clone());
        if let Ok(mut known) = self.dispatch.known_peers.write() {
            *known = tunnel_peers(&settings);
        }
        self.settings = settings;
        if let Err(e) = self.open_sockets() {
            tracing::error!("after reload: {e}");
        }
        tracing::info!("configuration reloaded from {}", self.opts.config.display());
    }
}

/// Gives the heap back to the kernel once a flood is over. The allocator keeps what
/// thousands of half-open SAs and their datagrams freed (glibc returns only the top of
/// each arena by itself, and every thread has its arena), so the daemon's RSS would
/// stay at the flood's peak; `malloc_trim` releases the free pages of every arena.
#[derive(Default)]
struct HeapTrim {
    /// The most ISAKMP SAs seen since the last trim.
    peak: usize,
}

impl HeapTrim {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);
    /// Fewer SAs than this freed since the peak are not worth a trim.
    const WORTH: usize = 64;

    fn after(&mut self, sas: usize) {
        self.peak = self.peak.max(sas);
        if self.peak - sas < Self::WORTH.max(self.peak / 2) {
            return;
        }
        self.peak = sas;
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        #[cfg(target_env = "gnu")]
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// One engine event as one tracing event: the IOS text as the message, inside a span
/// of its ISAKMP SA (`peer`, `conn_id`: the fields to filter one SA's lines on, e.g.
/// `journalctl -u ikev1d PEER=2001:db8::3`), with the exchange and SA pair fields.
fn log_event(ev: &crate::ike::LogEvent) {
    use tracing::Level;
    // At ERROR, the span is enabled whenever any of its events is.
    let span = tracing::error_span!("isakmp", peer = %ev.peer(), conn_id = ev.conn_id());
    let _in_span = span.enter();
    let (msg_id, tunnel) = (ev.message_id(), ev.tunnel());
    let (spi_in, spi_out) = ev.spis().unzip();
    let text = Bounded(ev);
    match ev.level() {
        Level::ERROR => tracing::error!(msg_id, tunnel, spi_in, spi_out, "{text}"),
        Level::WARN => tracing::warn!(msg_id, tunnel, spi_in, spi_out, "{text}"),
        Level::INFO => tracing::info!(msg_id, tunnel, spi_in, spi_out, "{text}"),
        Level::DEBUG => tracing::debug!(msg_id, tunnel, spi_in, spi_out, "{text}"),
        _ => tracing::trace!(msg_id, tunnel, spi_in, spi_out, "{text}"),
    }
}

/// The longest log message: what a peer sends (an MM1 with thousands of transforms)
/// or a configuration line says can make a message of any length, the journal's
/// lines must not be.
const MAX_LOG_MESSAGE: usize = 1024;

/// `T` as a log message, cut after `MAX_LOG_MESSAGE` bytes (at a character boundary).
struct Bounded<T>(T);

impl<T: std::fmt::Display> std::fmt::Display for Bounded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        /// Passes on `room` bytes, then counts what it drops.
        struct Cut<'a, 'b> {
            out: &'a mut std::fmt::Formatter<'b>,
            room: usize,
            dropped: usize,
        }
        impl Write for Cut<'_, '_> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                let mut take = s.len().min(self.room);
                while !s.is_char_boundary(take) {
                    take -= 1;
                }
                self.out.write_str(&s[..take])?;
                self.room = if take < s.len() { 0 } else { self.room - take };
                self.dropped += s.len() - take;
                Ok(())
            }
        }
        let mut cut = Cut {
            out: f,
            room: MAX_LOG_MESSAGE,
            dropped: 0,
        };
        write!(cut, "{}", self.0)?;
        match cut.dropped {
            0 => Ok(()),
            n => write!(f, "... ({n} more bytes not logged)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_message_is_cut_at_a_character_boundary_and_says_so() {
        assert_eq!(Bounded("short").to_string(), "short");
        let long = "é".repeat(MAX_LOG_MESSAGE);
        let shown = Bounded(&long).to_string();
        let (kept, note) = shown.split_once("...").unwrap();
        assert_eq!(kept.len(), MAX_LOG_MESSAGE);
        assert_eq!(
            note,
            format!(" ({} more bytes not logged)", long.len() - MAX_LOG_MESSAGE)
        );
    }
}
