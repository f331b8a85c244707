//! The data path on a thread of its own. Netlink round trips and TUN setup can take
//! seconds (the kernel loads modules; a lost netlink reply is waited for up to a
//! minute), and the event loop must go on reading IKE meanwhile. The loop sends
//! `Request`s over a channel, carried out in order; what needs an answer comes back as
//! an `Event` on the loop's channel (or through a oneshot), and the data path's own
//! events (lifetimes, dead packet threads) are polled once a second, as are the counters
//! of SAs with an idle-time (`idle.rs`).

use super::idle::IdleWatch;
use crate::dataplane::threads::{self, ThreadFailure};
use crate::dataplane::{
    Dataplane, DataplaneError, DataplaneEvent, DataplaneKind, SaCounters, TunnelSpec,
};
use crate::ipsec::SaSpec;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How often the data path's own events are polled.
const POLL_EVERY: Duration = Duration::from_secs(1);
pub const THREAD_NAME: &str = "dataplane-worker";

/// One direction of an SA, as the data path identifies it (XFRM's SPI and destination).
pub type SaKey = crate::dataplane::TunnelSa;

pub enum Request {
    /// Create or update a tunnel interface (a reload); errors are logged.
    EnsureTunnel(TunnelSpec),
    /// Remove tunnels (a reload drops many at once: the kernel data path removes
    /// their states and policies in one pass); errors are logged.
    RemoveTunnels(Vec<String>),
    /// Answered with `Event::SpiAllocated`.
    AllocSpi {
        request: u64,
        tunnel: String,
        src: IpAddr,
        dst: IpAddr,
    },
    InstallSa(Box<TunnelSpec>, SaSpec),
    /// The SAs one pass of the event loop deleted, together (a shutdown deletes them
    /// all).
    DeleteSas(Vec<SaKey>),
    /// The counters of each SA, in order (zero for an SA the data path does not have).
    Counters(Vec<SaKey>, oneshot::Sender<Vec<SaCounters>>),
    /// Run once everything queued before it is done (an interface hook that needs the
    /// interface to exist, or to be gone).
    After(Box<dyn FnOnce() + Send>),
}

pub enum Event {
    SpiAllocated {
        request: u64,
        spi: Result<u32, DataplaneError>,
    },
    Dataplane(DataplaneEvent),
    /// A Diffie-Hellman worker's result (`dh.rs`).
    DhComputed(crate::ike::DhDone),
    /// The tunnel's SAs carried nothing for their idle-time.
    Idle {
        tunnel: String,
    },
    /// The worker thread itself (or a Diffie-Hellman worker) died (its last event).
    Died(ThreadFailure),
}

pub struct Worker {
    kind: DataplaneKind,
    requests: std_mpsc::Sender<Request>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Worker {
    /// Move `dp` to the worker thread; its events go to `events`.
    pub fn start(
        dp: Box<dyn Dataplane>,
        events: mpsc::UnboundedSender<Event>,
    ) -> std::io::Result<Worker> {
        let kind = dp.kind();
        let (requests, inbox) = std_mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let report = events.clone();
        let failed = move |f| {
            let _ = report.send(Event::Died(f));
        };
        let thread = threads::spawn(THREAD_NAME.into(), stop.clone(), failed, move || {
            serve(dp, &inbox, &events);
            Ok(())
        })?;
        Ok(Worker {
            kind,
            requests,
            stop,
            thread,
        })
    }

    pub fn kind(&self) -> DataplaneKind {
        self.kind
    }

    /// Queue `request`. Should the worker be gone, the loop learns it from its event
    /// channel closing.
    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Carry out what is queued, remove everything the data path created, and wait for
    /// the thread (off the event loop: the removals are netlink round trips).
    pub async fn shutdown(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.requests);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// The worker thread: requests in order until the daemon lets go, then the data path's
/// own cleanup.
fn serve(
    mut dp: Box<dyn Dataplane>,
    inbox: &std_mpsc::Receiver<Request>,
    events: &mpsc::UnboundedSender<Event>,
) {
    let mut next_poll = Instant::now() + POLL_EVERY;
    let mut idle = IdleWatch::default();
    loop {
        match inbox.recv_timeout(next_poll.saturating_duration_since(Instant::now())) {
            Ok(request) => handle(dp.as_mut(), request, events, &mut idle),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if now >= next_poll {
            for event in dp.poll_events() {
                let _ = events.send(Event::Dataplane(event));
            }
            let counted = |t: &str, direction, spi, dst| {
                dp.counters(t, direction, spi, dst).map_or(0, |c| c.packets)
            };
            for tunnel in idle.sample(now, counted) {
                let _ = events.send(Event::Idle { tunnel });
            }
            next_poll = Instant::now() + POLL_EVERY;
        }
    }
    dp.shutdown();
}

fn handle(
    dp: &mut dyn Dataplane,
    request: Request,
    events: &mpsc::UnboundedSender<Event>,
    idle: &mut IdleWatch,
) {
    match request {
        Request::EnsureTunnel(spec) => {
            if let Err(e) = dp.ensure_tunnel(&spec) {
                tracing::error!(tunnel = %spec.name, "{e}");
            }
        }
        Request::RemoveTunnels(names) => {
            for name in &names {
                idle.removed(name);
            }
            for e in dp.remove_tunnels(&names) {
                tracing::warn!("{e}");
            }
        }
        Request::AllocSpi {
            request,
            tunnel,
            src,
            dst,
        } => {
            let spi = dp.alloc_spi(&tunnel, src, dst);
            let _ = events.send(Event::SpiAllocated { request, spi });
        }
        Request::InstallSa(tunnel, sa) => match dp.install_sa(&tunnel, &sa) {
            Ok(()) => idle.installed(Instant::now(), &sa),
            Err(e) => tracing::error!(tunnel = %tunnel.name, spi = sa.spi, "{e}"),
        },
        Request::DeleteSas(sas) => {
            for (tunnel, direction, spi, dst) in &sas {
                idle.deleted(tunnel, *direction, *spi, *dst);
            }
            // Already gone (hard expiry, tunnel removed) is the common case.
            for e in dp.delete_sas(&sas) {
                tracing::debug!("{e}");
            }
        }
        Request::Counters(keys, reply) => {
            let counters = keys
                .iter()
                .map(|(tunnel, direction, spi, dst)| {
                    dp.counters(tunnel, *direction, *spi, *dst)
                        .unwrap_or_default()
                })
                .collect();
            let _ = reply.send(counters);
        }
        Request::After(then) => then(),
    }
}
