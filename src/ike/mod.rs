//! The IKEv1 protocol engine, sans I/O: Main Mode, Quick Mode, Informational.
//!
//! Inputs: [`Engine::handle_datagram`], [`Engine::handle_timeout`],
//! [`Engine::handle_command`]. Outputs: [`Engine::poll_action`] (drain it after every
//! input, in order: sends, SA installs and deletes, log lines) and
//! [`Engine::poll_timeout`] (call `handle_timeout` at that instant). No sockets,
//! clocks, netlink or OS randomness inside: the caller passes `now` and the RNG.

pub mod admission;
mod child;
mod children;
mod dh;
mod endpoints;
mod engine;
pub mod error;
mod exchange;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
mod fvrf;
pub(crate) mod identity;
mod info;
mod liveness;
pub mod log;
mod main_mode;
mod memory;
mod nat;
mod pacing;
mod phase1;
mod proposal;
mod protect;
mod quick_mode;
mod rekey;
pub mod settings;
mod show;
pub mod state;
mod table;
mod timer;
mod vendor;
pub mod virtual_access;

#[cfg(test)]
mod tests;

pub use admission::{AdmissionStats, AdmissionView};
pub use dh::{DhDone, DhJob};
pub use endpoints::Endpoints;
pub use error::Error;
pub use fvrf::Fvrf;
pub use log::{LogEvent, Warning};
/// MM1's SA payload for a list of policies (also what examples/flood offers).
pub use proposal::p1_offer;
pub use settings::Settings;
pub use show::{IpsecSaInfo, IpsecSaSide, IsakmpSaInfo};
pub use virtual_access::VirtualAccess;

use crate::crypto::Rng;
use crate::ipsec::{Direction, SaSpec};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

/// Requests from the daemon.
#[derive(Debug)]
pub enum Command {
    /// The tunnel interface came up, or traffic met it without an SA (IOS initiates on
    /// traffic / interface up).
    Initiate {
        tunnel: String,
    },
    /// Answer to `Action::AllocSpi`.
    SpiAllocated {
        request: u64,
        spi: u32,
    },
    SpiFailed {
        request: u64,
        reason: String,
    },
    /// From the data path: soft asks for a rekey, hard means the SA is gone.
    SaExpired {
        tunnel: String,
        spi: u32,
        hard: bool,
    },
    /// Answer to `Action::ComputeDh`.
    DhComputed(DhDone),
    /// From the data path: no packet crossed the tunnel's SAs for its `set
    /// security-association idle-time` (`Lifetimes::idle_s`).
    SaIdle {
        tunnel: String,
    },
    /// Send Deletes for everything, emit `DeleteSa`s, then ignore all input.
    Shutdown,
}

/// What the daemon must do.
#[derive(Debug)]
pub enum Action {
    /// Send the IKE message `data` from `local` to `remote`; on port 4500 the daemon
    /// adds the 4-byte non-ESP marker (RFC 3948 2.2).
    Send {
        /// The front-door VRF whose socket sends it (`tunnel vrf`; `None`: global).
        fvrf: Option<Fvrf>,
        local: SocketAddr,
        remote: SocketAddr,
        data: Vec<u8>,
    },
    /// Send one NAT-keepalive datagram (RFC 3948 2.3: the single byte 0xFF) from
    /// `local` (port 4500) to `remote`, exactly as is: no non-ESP marker, it is not IKE.
    NatKeepalive {
        fvrf: Option<Fvrf>,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// Allocate an inbound SPI for an SA from `src` to `dst`; answer with
    /// `Command::SpiAllocated` (or `SpiFailed`) carrying `request`.
    AllocSpi {
        request: u64,
        tunnel: String,
        src: IpAddr,
        dst: IpAddr,
    },
    /// Run `DhJob::run` (off the event loop, urgent jobs first) and answer with
    /// `Command::DhComputed`.
    ComputeDh(DhJob),
    /// Install one direction of an SA of `SaSpec::tunnel` (the daemon passes its tunnel
    /// interface alongside).
    InstallSa(SaSpec),
    DeleteSa {
        tunnel: String,
        direction: Direction,
        spi: u32,
        dst: IpAddr,
    },
    /// Dynamic VTI: create the Virtual-Access interface cloned from its
    /// Virtual-Template, before the SAs that name it.
    CloneInterface(VirtualAccess),
    /// The Virtual-Access's last IPsec SA is gone: remove its interface.
    RemoveInterface(VirtualAccess),
    Log(LogEvent),
}

/// Datagrams dropped without effect, by reason, and retransmission work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub dropped_malformed: u64,
    pub dropped_unknown_sa: u64,
    pub dropped_stale: u64,
    pub dropped_undecryptable: u64,
    /// Datagrams with an SA's cookies from another address than its peer's.
    pub dropped_wrong_address: u64,
    /// Replayed Informational messages (RFC 3706 7).
    pub dropped_replayed: u64,
    /// Duplicates of an already processed message (answered with the stored reply).
    pub duplicates: u64,
    pub retransmissions: u64,
    pub admission: AdmissionStats,
}

/// The engine: every ISAKMP SA (with its Quick Modes) and every IPsec SA pair.
pub struct Engine {
    settings: Settings,
    rng: Box<dyn Rng>,
    actions: VecDeque<Action>,
    /// ISAKMP SAs by conn-id (IOS's number for them), indexed by cookies and peer.
    phase1: table::Phase1Table,
    /// IPsec SA pairs, indexed by inbound SPI, tunnel and address pair.
    children: children::ChildTable,
    /// Every deadline of SAs, exchanges and retries.
    timers: timer::TimerHeap,
    /// IPsec SA pairs whose timers changed during the current input (scheduled when
    /// it is handled).
    touched_children: Vec<u32>,
    dh: dh::DhJobs,
    /// The time of the input being handled.
    now: std::time::Instant,
    /// Outstanding `AllocSpi` requests, with the Quick Mode that asked.
    spi_requests: HashMap<u64, quick_mode::Reservation>,
    /// SPIs the data path reserved for us that a Quick Mode holds or no SA holds yet,
    /// with the Quick Mode that asked: released (`DeleteSa`) once that exchange is
    /// gone without an SA holding it, so that no reservation (a larval XFRM state)
    /// outlives its Quick Mode. With the pairs' SPIs, every inbound SPI in use (a
    /// Quick Mode offers only a reserved one): `spi_in_use` looks at no exchange.
    reserved_spis: BTreeMap<u32, quick_mode::Reservation>,
    /// Outstanding `AllocSpi` requests per tunnel: a Virtual-Access waiting for one
    /// stays.
    spi_requests_by_tunnel: HashMap<String, u32>,
    /// Virtual-Access interfaces that may have lost their last IPsec SA pair, Quick
    /// Mode or SPI request during the current input (checked when it is handled).
    maybe_idle: BTreeSet<String>,
    /// Informational payloads to send once the current input is handled, over any
    /// established ISAKMP SA between the two addresses.
    outbox: Vec<(Endpoints, crate::isakmp::Payload)>,
    next_conn_id: u32,
    next_request: u64,
    /// Tunnels to keep up: initiated by the daemon, or up at some point.
    wanted: BTreeSet<String>,
    /// Re-initiation with backoff of wanted tunnels that are down.
    retries: BTreeMap<String, rekey::Retry>,
    /// Counts negotiation starts and completions: orders them to tell a replacement
    /// (begun after the older SA was up) from a collision (both begun before either).
    events: u64,
    /// Failures and warnings logged, by (peer, kind), bounded: a repeat is debug
    /// until the next report's time comes (see `memory.rs`).
    reported: memory::Reported,
    /// Warnings logged, likewise; forgotten when the configuration is reloaded.
    warned: memory::Reported,
    /// Virtual-Access interfaces by name (see `virtual_access`).
    clones: BTreeMap<String, virtual_access::Clone>,
    /// Their names by address pair (a peer never has two).
    clone_between: HashMap<Endpoints, String>,
    /// The number the last Virtual-Access got.
    last_virtual_access: u32,
    stats: Stats,
    shut_down: bool,
    /// New Main Modes leave at a bounded rate (`pacing.rs`).
    pacer: pacing::Pacer,
    /// `settings.tunnels` by name, by address pair and by peer: no scan per lookup
    /// with thousands of tunnels.
    tunnel_index: engine::TunnelIndex,
    /// When `supervise` last ran, and whether an input since is owed a pass.
    supervised_at: Option<std::time::Instant>,
    supervise_owed: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("phase1", &self.phase1.len())
            .field("children", &self.children.len())
            .field("stats", &self.stats)
            .finish()
    }
}
