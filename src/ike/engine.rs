//! The engine's inputs: routing datagrams to their ISAKMP SA by cookies (before any
//! crypto, like quinn-proto's `Endpoint::handle`), commands, timers and reloads; and
//! what every exchange uses: randomness, conn-ids, logging, transmission.

use super::error::Error;
use super::exchange::{Duplicate, Exchange, Msg, Retransmission, Sent};
use super::log::{DownReason, DropReason, LogEvent, Note, Warning};
use super::memory::Report;
use super::phase1::Phase1;
use super::settings::TunnelSettings;
use super::state::{IkeState, Role, ShowState};
use super::timer::{Owner, Timer};
use super::{Action, Command, Endpoints, Engine, Fvrf, Settings, Stats};
use crate::crypto::Rng;
use crate::ipsec::Direction;
use crate::isakmp::{DecodeError, ExchangeType, Header};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// A datagram being handled: when it came, on which of our addresses, from where.
#[derive(Clone, Copy)]
pub(super) struct Received<'a> {
    pub now: Instant,
    pub fvrf: Option<Fvrf>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: &'a [u8],
}

/// Is this datagram from the SA's peer? It talks from the address it began with; only
/// its port may change (the RFC 3947 float), unless a NAT was found (which may also
/// move it to another address).
fn sent_by_peer(rx: &Received, p1: &Phase1) -> bool {
    rx.remote.ip() == p1.remote.ip() || p1.nat.detected()
}

/// Nonce length in bytes (RFC 2409 5: 8..256).
const NONCE_LEN: usize = 32;
/// IKE's UDP port.
const IKE_PORT: u16 = 500;
/// IOS numbers its ISAKMP SAs (conn-id) from about here.
const FIRST_CONN_ID: u32 = 1001;

impl Engine {
    pub fn new(settings: Settings, rng: Box<dyn Rng>, now: Instant) -> Engine {
        let tunnel_index = TunnelIndex::of(&settings);
        Engine {
            settings,
            rng,
            actions: VecDeque::new(),
            phase1: Default::default(),
            children: Default::default(),
            timers: Default::default(),
            touched_children: Vec::new(),
            dh: Default::default(),
            now,
            spi_requests: HashMap::new(),
            reserved_spis: std::collections::BTreeMap::new(),
            spi_requests_by_tunnel: HashMap::new(),
            maybe_idle: Default::default(),
            outbox: Vec::new(),
            next_conn_id: FIRST_CONN_ID,
            next_request: 1,
            wanted: Default::default(),
            retries: Default::default(),
            events: 0,
            reported: Default::default(),
            warned: Default::default(),
            clones: std::collections::BTreeMap::new(),
            clone_between: HashMap::new(),
            last_virtual_access: 0,
            stats: Stats::default(),
            shut_down: false,
            pacer: super::pacing::Pacer::new(now),
            tunnel_index,
            supervised_at: None,
            supervise_owed: false,
        }
    }

    /// One UDP datagram (on port 4500 without its non-ESP marker) in the global table.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        self.handle_datagram_in(now, None, local, remote, data)
    }

    /// One UDP datagram taken by a socket of front-door VRF `fvrf` (`tunnel vrf`):
    /// only the tunnels and keyrings of that VRF answer it.
    pub fn handle_datagram_in(
        &mut self,
        now: Instant,
        fvrf: Option<Fvrf>,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        self.now = now;
        if self.shut_down {
            return self.log(LogEvent::Dropped {
                peer: remote,
                reason: DropReason::ShutDown,
            });
        }
        let header = match Header::decode(data) {
            Ok(h) => h,
            Err(e) => return self.drop_malformed(remote, e),
        };
        let rx = Received {
            now,
            fvrf,
            local,
            remote,
            data,
        };
        let exchange = header.exchange;
        if exchange == ExchangeType::MAIN_MODE && header.rcookie == [0; 8] {
            // A new negotiation (or a copy of its MM1): no tunnel changes state, so
            // the tunnels are not looked over (a flood of MM1s costs no more).
            match self
                .phase1
                .responder(header.icookie, Endpoints::of(fvrf, local, remote))
            {
                Some(id) => self.with_phase1(id, |e, p1| match p1.ex.duplicate(data) {
                    Some(dup) => e.answer_duplicate(dup),
                    None => e.drop_stale(remote),
                }),
                None => self.on_mm1(&rx, header),
            }
            return self.flush_outbox();
        }
        if let Some(id) = self.phase1.find(header.icookie, header.rcookie) {
            self.with_phase1(id, |e, p1| {
                if !sent_by_peer(&rx, p1) {
                    e.stats.dropped_wrong_address += 1;
                    return e.log(LogEvent::Dropped {
                        peer: remote,
                        reason: DropReason::WrongAddress,
                    });
                }
                match exchange {
                    ExchangeType::MAIN_MODE => e.on_main_mode(&rx, p1, header),
                    ExchangeType::QUICK_MODE => e.on_quick_mode(&rx, p1, header),
                    ExchangeType::INFORMATIONAL => e.on_informational(&rx, p1, header),
                    other => e.log(LogEvent::Dropped {
                        peer: remote,
                        reason: DropReason::UnsupportedExchange(other.0),
                    }),
                }
            });
        } else {
            self.stats.dropped_unknown_sa += 1;
            self.log(LogEvent::Dropped {
                peer: remote,
                reason: DropReason::UnknownSa,
            });
        }
        self.settle(now);
    }

    /// After every input: keep the wanted tunnels going, then send what was queued and
    /// put the deadlines that changed in the heap.
    fn settle(&mut self, now: Instant) {
        self.reap_virtual_access();
        if !self.shut_down {
            self.supervise_at_most_every(now);
        }
        self.flush_outbox();
        self.timers.schedule(Owner::Pacing, self.pacer.next());
        self.timers
            .schedule(Owner::Supervise, self.supervise_owed_at());
        for spi_in in std::mem::take(&mut self.touched_children) {
            let next = self.children.get(spi_in).and_then(|c| c.timers.next());
            self.timers.schedule(Owner::Child(spi_in), next);
        }
    }

    /// The timers of IPsec SA pair `spi_in` changed.
    pub(super) fn touch_child(&mut self, spi_in: u32) {
        self.touched_children.push(spi_in);
    }

    /// Run `f` on the SA taken out of the table, then put it back unless it failed.
    pub(super) fn with_phase1(&mut self, id: u32, f: impl FnOnce(&mut Engine, &mut Phase1)) {
        let Some(mut p1) = self.phase1.take(id) else {
            return;
        };
        f(self, &mut p1);
        self.put_back(p1);
    }

    pub(super) fn put_back(&mut self, p1: Phase1) {
        // Its Quick Modes may have ended.
        self.maybe_idle_between(p1.endpoints());
        if p1.failed() {
            self.remove_phase1(p1.conn_id);
            self.dh.forget(p1.conn_id);
            self.adopt_children(p1.conn_id, p1.endpoints());
        } else {
            self.timers
                .schedule(Owner::Phase1(p1.conn_id), p1.next_deadline());
            self.phase1.put_back(p1);
        }
    }

    /// ISAKMP SA `id` is gone (taken out or not), and its deadlines with it.
    pub(super) fn remove_phase1(&mut self, id: u32) -> Option<Phase1> {
        self.timers.forget(&Owner::Phase1(id));
        let p1 = self.phase1.remove(id)?;
        self.maybe_idle_between(p1.endpoints());
        Some(p1)
    }

    /// A new ISAKMP SA joins the table.
    pub(super) fn insert_phase1(&mut self, p1: Phase1) {
        self.timers
            .schedule(Owner::Phase1(p1.conn_id), p1.next_deadline());
        self.phase1.insert(p1);
    }

    pub(super) fn answer_duplicate(&mut self, dup: Duplicate<'_>) {
        self.stats.duplicates += 1;
        if let Duplicate::Answer(sent) = dup {
            self.actions.push_back(Action::Send {
                fvrf: sent.fvrf,
                local: sent.local,
                remote: sent.remote,
                data: sent.data.clone(),
            });
        }
    }

    /// Log a failure; the same kind with the same peer again soon is a repeat.
    pub(super) fn fail(&mut self, conn_id: Option<u32>, peer: IpAddr, error: Error) {
        let (repeated, suppressed) = match self.reported.note(self.now, peer, error.kind()) {
            Report::Now { suppressed } => (false, suppressed),
            Report::Repeat => (true, 0),
        };
        self.log(LogEvent::Failed {
            conn_id,
            peer,
            error,
            repeated,
            suppressed,
        });
    }

    pub(super) fn warn(&mut self, conn_id: u32, peer: IpAddr, warning: Warning) {
        let (repeated, suppressed) = match self.warned.note(self.now, peer, warning.kind()) {
            Report::Now { suppressed } => (false, suppressed),
            Report::Repeat => (true, 0),
        };
        self.log(LogEvent::Warning {
            conn_id,
            peer,
            warning,
            repeated,
            suppressed,
        });
    }

    pub(super) fn drop_malformed(&mut self, remote: SocketAddr, why: DecodeError) {
        self.stats.dropped_malformed += 1;
        self.log(LogEvent::Dropped {
            peer: remote,
            reason: DropReason::Malformed(why),
        });
    }

    pub(super) fn drop_stale(&mut self, remote: SocketAddr) {
        self.stats.dropped_stale += 1;
        self.log(LogEvent::Dropped {
            peer: remote,
            reason: DropReason::Stale,
        });
    }

    pub(super) fn drop_replayed(&mut self, remote: SocketAddr) {
        self.stats.dropped_replayed += 1;
        self.log(LogEvent::Dropped {
            peer: remote,
            reason: DropReason::Replayed,
        });
    }

    pub(super) fn drop_undecryptable(&mut self, remote: SocketAddr) {
        self.stats.dropped_undecryptable += 1;
        self.log(LogEvent::Dropped {
            peer: remote,
            reason: DropReason::Undecryptable,
        });
    }

    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        self.now = now;
        if self.shut_down {
            return;
        }
        match cmd {
            Command::Initiate { tunnel } => {
                if self.tunnel(&tunnel).is_some() {
                    self.wanted.insert(tunnel.clone());
                }
                self.initiate(now, &tunnel)
            }
            Command::SpiAllocated { request, spi } => self.on_spi_allocated(now, request, Ok(spi)),
            Command::SpiFailed { request, reason } => {
                self.on_spi_allocated(now, request, Err(reason))
            }
            Command::SaExpired { tunnel, spi, hard } => self.on_sa_expired(now, &tunnel, spi, hard),
            Command::DhComputed(done) => self.on_dh_computed(now, done),
            Command::SaIdle { tunnel } => self.tunnel_idle(&tunnel),
            Command::Shutdown => self.shutdown(),
        }
        self.settle(now);
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        if self.actions.is_empty() {
            self.release_orphan_spis();
        }
        self.actions.pop_front()
    }

    /// Every input has been handled when the daemon drains the actions: a reserved SPI
    /// stays reserved while its Quick Mode offers it (so that `spi_in_use` need not
    /// look at the exchanges); once the exchange is over it is the SA's to delete if
    /// one holds it, and is given back if none does (the exchange failed, or its
    /// ISAKMP SA went away). Only the Quick Modes between their SPI and their end are
    /// looked at, not every tunnel.
    fn release_orphan_spis(&mut self) {
        if self.reserved_spis.is_empty() {
            return;
        }
        let reserved = std::mem::take(&mut self.reserved_spis);
        for (spi, r) in reserved {
            // Only the Quick Mode that asked can hold it: an SPI in use is never
            // given to another (`spi_in_use`).
            let held_by_exchange = self
                .phase1
                .get(r.conn_id)
                .and_then(|p1| p1.quick.get(&r.message_id))
                .is_some_and(|q| q.spi_in() == Some(spi));
            if held_by_exchange {
                self.reserved_spis.insert(spi, r);
                continue;
            }
            if self.children.contains(spi) {
                continue;
            }
            self.actions.push_back(Action::DeleteSa {
                tunnel: r.tunnel,
                direction: Direction::In,
                spi,
                dst: r.dst,
            });
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Visit the owners of the deadlines due at `now`, each once.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.shut_down {
            return;
        }
        for owner in self.timers.due(now) {
            match owner {
                Owner::Phase1(id) => self.with_phase1(id, |e, p1| e.phase1_timers(now, p1)),
                Owner::Child(spi_in) => {
                    self.child_timers(now, spi_in);
                    self.touch_child(spi_in);
                }
                Owner::Retry(tunnel) => self.retry_timer(now, &tunnel),
                Owner::Pacing => {
                    for tunnel in self.pacer.due(now, self.phase1.initiating()) {
                        self.initiate_as(now, &tunnel, true);
                    }
                }
                // `settle` runs the owed pass.
                Owner::Supervise => {}
            }
        }
        self.settle(now);
    }

    fn phase1_timers(&mut self, now: Instant, p1: &mut Phase1) {
        for timer in p1.ex.timers.expired(now) {
            match timer {
                Timer::Retransmit => match p1.ex.retransmit(now, &mut self.actions) {
                    Retransmission::Resent(msg, attempt) => self.retransmitted(p1, msg, attempt),
                    Retransmission::GaveUp(msg, transmissions) => {
                        // An unauthenticated error notify said why, most likely.
                        let error = p1.rejected.take().unwrap_or_else(|| Error::Unreachable {
                            what: msg.name(),
                            peer: p1.remote.ip(),
                            transmissions,
                            hint: self.unreachable_hint(p1, msg),
                        });
                        return self.fail_phase1(p1, error);
                    }
                    Retransmission::Nothing => {}
                },
                Timer::Lifetime if p1.computing() => {
                    return self.fail_phase1(
                        p1,
                        Error::DhTimeout {
                            peer: p1.remote.ip(),
                        },
                    );
                }
                Timer::Lifetime if p1.established().is_none() => {}
                Timer::Lifetime => {
                    // Not replaced in time (or the replacement failed): its IPsec SAs
                    // stay (IOS too) and a new ISAKMP SA is made when one is needed.
                    self.send_isakmp_delete(p1);
                    return self.phase1_down(p1, DownReason::Expired);
                }
                Timer::Rekey => self.phase1_soft_expiry(now, p1),
                Timer::Dpd => self.dpd_timer(now, p1),
                Timer::Keepalive => self.nat_keepalive_timer(now, p1),
                Timer::Retire => self.retire_timer(now, p1),
                Timer::Reap => {}
            }
            if p1.failed() {
                return;
            }
        }
        let ids: Vec<u32> = p1.quick.keys().copied().collect();
        for id in ids {
            if let Some(mut qm) = p1.quick.remove(&id) {
                if self.quick_mode_timers(now, p1, &mut qm) {
                    p1.quick.insert(id, qm);
                }
            }
        }
    }

    /// The configuration line to check when `msg` got no answer.
    fn unreachable_hint(&self, p1: &Phase1, msg: Msg) -> String {
        match msg {
            Msg::Mm5 => format!("likely pre-shared key mismatch: {}", p1.key_source),
            // The first configured tunnel it was for (waiting, or between its two
            // addresses), through the indexes: a thousand unreachable peers giving up
            // together do not each look over every tunnel.
            _ => match self
                .tunnel_index
                .by_ends
                .get(&p1.endpoints())
                .and_then(|found| found.first().copied())
                .into_iter()
                .chain(
                    p1.pending
                        .iter()
                        .filter_map(|name| self.tunnel_index.by_name.get(name).copied()),
                )
                .min()
                .and_then(|i| self.settings.tunnels.get(i))
            {
                Some(t) => format!("tunnel destination of {}, {}", t.name, t.destination_origin),
                None => p1.key_source.to_string(),
            },
        }
    }

    pub(super) fn send_isakmp_delete(&mut self, p1: &Phase1) {
        self.send_info(p1, super::rekey::isakmp_delete(p1));
    }

    /// Does `tunnel` need a Quick Mode: no pair up, or the one up is expiring, and
    /// none under way?
    fn needs_quick_mode(&self, tunnel: &str) -> bool {
        self.current_pair(tunnel).is_none_or(|c| c.rekey_pending) && !self.negotiating(tunnel)
    }

    /// May this end start a negotiation for `tunnel`: not under `--passive`, nor under
    /// its IPsec profile's `responder-only` (IOS's IKE Responder-Only Mode: no Main or
    /// Quick Mode started, no SA rekeyed; the peer does all of it).
    pub(super) fn initiates(&self, tunnel: &TunnelSettings) -> bool {
        !self.settings.passive && !tunnel.options.responder_only
    }

    /// Bring `tunnel` up (or replace its expiring pair): Quick Mode over an ISAKMP SA
    /// between its two addresses, making one first if needed.
    pub(super) fn initiate(&mut self, now: Instant, name: &str) {
        self.initiate_as(now, name, false)
    }

    /// `initiate`; `paced`: the pacer released `name` (its token taken).
    fn initiate_as(&mut self, now: Instant, name: &str, paced: bool) {
        let Some(tunnel) = self.tunnel(name) else {
            return;
        };
        if tunnel.shutdown || !self.initiates(&tunnel) || !self.needs_quick_mode(name) {
            return;
        }
        let ends = tunnel.endpoints();
        if let Some(id) = self.isakmp_for(ends) {
            return self.with_phase1(id, |e, p1| e.start_quick_mode(now, p1, name));
        }
        // A Virtual-Access is rekeyed over the spoke's ISAKMP SA only: the spoke dials
        // in (IOS's hub does not initiate to a dynamic peer).
        if self.is_virtual_access(name) {
            return;
        }
        let negotiating = self
            .phase1
            .of_pair(ends)
            .find(|p| p.negotiating())
            .map(|p| p.conn_id);
        if let Some(p1) = negotiating.and_then(|id| self.phase1.get_mut(id)) {
            if !p1.pending.iter().any(|t| t == name) {
                p1.pending.push(name.to_string());
            }
            return;
        }
        if !paced && !self.pacer.admit(now, self.phase1.initiating()) {
            return self.pacer.defer(name);
        }
        self.start_main_mode(
            now,
            (
                ends.fvrf,
                SocketAddr::new(ends.local, IKE_PORT),
                SocketAddr::new(ends.peer, IKE_PORT),
            ),
            tunnel.options.isakmp_profile.clone(),
            vec![name.to_string()],
        );
    }

    /// A Quick Mode for `tunnel` (configured, or a Virtual-Access) is running, over
    /// an ISAKMP SA between its two addresses (the only ones that can carry it).
    pub(super) fn negotiating(&self, tunnel: &str) -> bool {
        let Some(ends) = self.tunnel_ref(tunnel).map(|t| t.endpoints()) else {
            return false;
        };
        self.phase1
            .of_pair(ends)
            .flat_map(|p| p.quick.values())
            .any(|q| q.tunnel == tunnel && q.state.in_progress())
    }

    /// Phase 1 is up: start the Quick Modes that waited for it (over the SA that won,
    /// should this one have lost a collision).
    pub(super) fn start_pending(&mut self, now: Instant, p1: &mut Phase1) {
        for name in std::mem::take(&mut p1.pending) {
            let running = p1
                .quick
                .values()
                .any(|q| q.tunnel == name && q.state.in_progress());
            if running || !self.needs_quick_mode(&name) {
                continue;
            }
            if p1.retiring.is_some() {
                self.initiate(now, &name);
            } else {
                self.start_quick_mode(now, p1, &name);
            }
        }
    }

    /// The peer deleted a pair: if the tunnel is left without one, negotiate again (IOS
    /// does on the next packet; a VTI always has traffic to send). Under `idle-time`
    /// the peer's idle timer may be why: the next packet brings the tunnel back.
    pub(super) fn reinitiate_if_down(&mut self, now: Instant, p1: &mut Phase1, tunnel: &str) {
        if self.current_pair(tunnel).is_none() && self.idle_time(tunnel).is_some() {
            self.wanted.remove(tunnel);
            self.stop_retrying(tunnel);
            return;
        }
        let running = p1
            .quick
            .values()
            .any(|q| q.tunnel == tunnel && q.state.in_progress());
        let allowed = self
            .tunnel_ref(tunnel)
            .is_some_and(|t| !t.shutdown && self.initiates(t));
        if self.current_pair(tunnel).is_none()
            && !running
            && !self.negotiating(tunnel)
            && allowed
            && p1.retiring.is_none()
        {
            self.start_quick_mode(now, p1, tunnel);
        }
    }

    /// From the data path: soft (seconds or kilobytes) asks for a rekey, hard means the
    /// SA is gone.
    fn on_sa_expired(&mut self, now: Instant, tunnel: &str, spi: u32, hard: bool) {
        let Some(spi_in) = self
            .children
            .of_tunnel(tunnel)
            .find(|c| c.spi_in == spi || c.spi_out == spi)
            .map(|c| c.spi_in)
        else {
            return;
        };
        if hard {
            self.child_hard_expiry(now, spi_in);
        } else {
            self.child_soft_expiry(now, spi_in);
        }
    }

    /// Tell every peer, clear the data path, and stop.
    fn shutdown(&mut self) {
        for spi_in in self.children.iter().map(|c| c.spi_in).collect::<Vec<_>>() {
            self.delete_child(spi_in, DownReason::Shutdown);
        }
        self.flush_outbox();
        for p1 in self.phase1.drain() {
            if p1.established().is_some() {
                self.send_isakmp_delete(&p1);
                self.log_phase1_down(p1.conn_id, p1.remote.ip(), DownReason::Shutdown);
            }
        }
        self.spi_requests.clear();
        self.spi_requests_by_tunnel.clear();
        self.maybe_idle.extend(self.clones.keys().cloned());
        self.timers = Default::default();
        self.shut_down = true;
    }

    /// New configuration: tunnels that changed or went away lose their SAs (and
    /// pending negotiations); unchanged tunnels keep theirs. ISAKMP SAs stay, as on IOS.
    /// New and changed tunnels come up (as IOS brings up a new tunnel interface).
    pub fn reload(&mut self, now: Instant, settings: Settings) {
        // By name through the indexes: a reload of 10,000 tunnels compares each once.
        let index = TunnelIndex::of(&settings);
        let kept = |t: &TunnelSettings, s: &Settings, by_name: &HashMap<String, usize>| {
            by_name.get(&t.name).is_some_and(|&i| s.tunnels[i] == *t)
        };
        let gone: std::collections::HashSet<String> = self
            .settings
            .tunnels
            .iter()
            .filter(|t| !kept(t, &settings, &index.by_name))
            .map(|t| t.name.clone())
            .collect();
        let fresh: Vec<String> = settings
            .tunnels
            .iter()
            .filter(|t| !kept(t, &self.settings, &self.tunnel_index.by_name) && !t.shutdown)
            .map(|t| t.name.clone())
            .collect();
        self.now = now;
        self.settings = settings;
        self.tunnel_index = index;
        self.wanted.retain(|t| !gone.contains(t));
        for t in &gone {
            self.stop_retrying(t);
        }
        self.warned.clear();
        for spi_in in self
            .children
            .iter()
            .filter(|c| gone.contains(&c.tunnel))
            .map(|c| c.spi_in)
            .collect::<Vec<_>>()
        {
            self.delete_child(spi_in, DownReason::Reload);
        }
        for p1 in self.phase1.values_mut() {
            p1.pending.retain(|t| !gone.contains(t));
            p1.quick.retain(|_, q| !gone.contains(&q.tunnel));
        }
        self.flush_outbox();
        if !self.settings.passive {
            for name in fresh {
                self.wanted.insert(name.clone());
                self.initiate(now, &name);
            }
        }
        self.settle(now);
    }

    /// A fresh nonce (Ni_b / Nr_b) for Main Mode or Quick Mode.
    pub(super) fn nonce(&mut self) -> Vec<u8> {
        let mut v = vec![0; NONCE_LEN];
        self.rng.fill(&mut v);
        v
    }

    /// A cookie: any 8 bytes but zeros, which mean "not known yet" (RFC 2408 3.1).
    pub(super) fn cookie(&mut self) -> [u8; 8] {
        loop {
            let mut c = [0u8; 8];
            self.rng.fill(&mut c);
            if c != [0; 8] {
                return c;
            }
        }
    }

    pub(super) fn alloc_conn_id(&mut self) -> u32 {
        let id = self.next_conn_id;
        self.next_conn_id = self.next_conn_id.wrapping_add(1).max(1);
        id
    }

    pub(super) fn log(&mut self, event: LogEvent) {
        self.actions.push_back(Action::Log(event));
    }

    pub(super) fn note(&mut self, p1: &Phase1, note: Note) {
        self.log(LogEvent::Note {
            conn_id: p1.conn_id,
            peer: p1.remote.ip(),
            note,
        });
    }

    pub(super) fn state_change(
        &mut self,
        p1: &Phase1,
        message_id: Option<u32>,
        old: IkeState,
        new: IkeState,
    ) {
        self.log(LogEvent::StateChange {
            conn_id: p1.conn_id,
            peer: p1.remote.ip(),
            message_id,
            old,
            new,
        });
    }

    /// Send one message of an exchange of ISAKMP SA `conn_id`, logging it as IOS does.
    pub(super) fn transmit(&mut self, now: Instant, conn_id: u32, ex: &mut Exchange, sent: Sent) {
        self.log(LogEvent::Packet {
            conn_id,
            peer: sent.remote,
            local_port: sent.local.port(),
            sent: true,
            role: Some(sent.msg.sender()),
            state: sent.msg.show_state(),
        });
        ex.send(now, &mut self.actions, sent);
    }

    /// A received message, logged as IOS does: `role` `None` for one that makes a new SA.
    pub(super) fn packet_in(
        &mut self,
        p1: &Phase1,
        rx: &Received,
        role: Option<Role>,
        state: ShowState,
    ) {
        self.log(LogEvent::Packet {
            conn_id: p1.conn_id,
            peer: rx.remote,
            local_port: rx.local.port(),
            sent: false,
            role,
            state,
        });
    }

    pub(super) fn retransmitted(&mut self, p1: &Phase1, msg: Msg, attempt: u32) {
        self.stats.retransmissions += 1;
        self.note(
            p1,
            Note::Retransmitting {
                what: msg.name(),
                attempt,
            },
        );
    }

    /// `p1` (taken out of the table) is down: it goes when it is put back.
    pub(super) fn phase1_down(&mut self, p1: &mut Phase1, reason: DownReason) {
        self.log_phase1_down(p1.conn_id, p1.remote.ip(), reason);
        p1.close();
    }

    pub(super) fn log_phase1_down(&mut self, conn_id: u32, peer: IpAddr, reason: DownReason) {
        self.log(LogEvent::Phase1Down {
            conn_id,
            peer,
            reason,
        });
    }
}

/// `Settings::tunnels` indexed (`Engine::tunnel_index`), derived from them in this one
/// place whenever they change.
#[derive(Default)]
pub(super) struct TunnelIndex {
    pub by_name: HashMap<String, usize>,
    /// By their two addresses, in configuration order: a Quick Mode or a dead peer
    /// finds its tunnels without a scan.
    pub by_ends: HashMap<Endpoints, Vec<usize>>,
    /// Tunnel destinations, with how many tunnels each has: the peers admission
    /// control and DH scheduling favour.
    pub per_peer: HashMap<IpAddr, u32>,
}

impl TunnelIndex {
    fn of(settings: &Settings) -> TunnelIndex {
        let mut index = TunnelIndex::default();
        for (i, t) in settings.tunnels.iter().enumerate() {
            index.by_name.insert(t.name.clone(), i);
            index.by_ends.entry(t.endpoints()).or_default().push(i);
            *index.per_peer.entry(t.peer).or_insert(0) += 1;
        }
        index
    }
}
