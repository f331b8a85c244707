//! In-memory peers (quinn-proto's `Pair`): two engines, a fake clock, a packet queue
//! that can lose, duplicate and reorder, an optional NAT, and a fake data path that
//! answers `AllocSpi` and remembers installed SAs.

use crate::crypto::Rng;
use crate::crypto::{CipherAlg, DhGroup, EspAuth, EspEncr, EspTransform, HashAlg, TestRng};
use crate::ike::settings::{IsakmpPolicy, Origin, TransformSet, TunnelSettings};
use crate::ike::{Action, Command, Engine, Fvrf, LogEvent, Settings, VirtualAccess};
use crate::ipsec::{Direction, SaSpec};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const A_ADDR: &str = "2001:db8::2";
pub const B_ADDR: &str = "2001:db8::3";
pub const TUNNEL: &str = "Tunnel23";

pub fn line(n: u32) -> Origin {
    Origin {
        file: "test.conf".into(),
        line: n,
    }
}

pub fn policy(cipher: CipherAlg, hash: HashAlg, group: DhGroup) -> IsakmpPolicy {
    IsakmpPolicy {
        priority: 10,
        cipher,
        hash,
        group,
        lifetime_s: 86_400,
        origin: line(1),
    }
}

pub fn transform_set(encr: EspEncr, auth: EspAuth) -> TransformSet {
    TransformSet {
        name: "TRA".into(),
        transform: EspTransform { encr, auth },
        transport: true,
        origin: line(5),
    }
}

/// The reference configuration (docs/design.md seed, `ike::settings::seed`).
pub fn settings(local: &str, peer: &str) -> Settings {
    crate::ike::settings::seed(local.parse().unwrap(), peer.parse().unwrap())
}

/// The reference configuration's tunnel, named `name`, from `local` to `peer` (inside
/// the outer family: `tunnel mode ipsec ipv4` for IPv4 addresses).
pub fn tunnel(name: &str, local: &str, peer: &str) -> TunnelSettings {
    let mut seed = settings(local, peer);
    let mut tunnel = seed.tunnels.remove(0);
    tunnel.name = name.into();
    tunnel
}

pub struct Side {
    pub engine: Engine,
    next_spi: u32,
    /// SAs currently installed in the fake data path.
    pub installed: Vec<SaSpec>,
    pub logs: Vec<LogEvent>,
    /// When each of `logs` was logged.
    pub log_times: Vec<Instant>,
    pub deletes: usize,
    pub keepalives: usize,
    /// SPIs AllocSpi hands out first, before counting up (e.g. one SPI twice: the
    /// kernel's are unique per destination address only).
    pub fixed_spis: VecDeque<u32>,
    /// SPIs (with their destination) handed out by AllocSpi that no SA has taken and
    /// nobody gave back: the kernel keeps a larval state for each.
    pub reserved: std::collections::BTreeSet<(u32, std::net::IpAddr)>,
    /// Virtual-Access interfaces the daemon holds (cloned and not removed yet), and
    /// every one it was asked to remove, in order.
    pub interfaces: Vec<VirtualAccess>,
    pub removed: Vec<VirtualAccess>,
    /// Keep the engine's Diffie-Hellman jobs in `dh_jobs` (a busy worker pool) instead
    /// of running them at once.
    pub hold_dh: bool,
    pub dh_jobs: Vec<crate::ike::DhJob>,
}

impl Side {
    fn new(settings: Settings, seed: u64, now: Instant, spi_base: u32) -> Side {
        Side {
            engine: Engine::new(settings, Box::new(TestRng::new(seed)), now),
            next_spi: spi_base,
            installed: Vec::new(),
            logs: Vec::new(),
            log_times: Vec::new(),
            deletes: 0,
            keepalives: 0,
            fixed_spis: VecDeque::new(),
            reserved: Default::default(),
            interfaces: Vec::new(),
            removed: Vec::new(),
            hold_dh: false,
            dh_jobs: Vec::new(),
        }
    }

    /// Run the held Diffie-Hellman jobs (the workers catch up).
    pub fn run_dh(&mut self, now: Instant) {
        for job in std::mem::take(&mut self.dh_jobs) {
            self.engine
                .handle_command(now, Command::DhComputed(job.run()));
        }
    }

    /// The installed SAs of `tunnel` in `direction`.
    pub fn sas_of(&self, tunnel: &str, direction: Direction) -> Vec<&SaSpec> {
        self.installed
            .iter()
            .filter(|s| s.tunnel == tunnel && s.direction == direction)
            .collect()
    }

    pub fn sa(&self, direction: Direction) -> Vec<&SaSpec> {
        self.installed
            .iter()
            .filter(|s| s.direction == direction)
            .collect()
    }

    /// The outbound SA traffic uses: the newest installed.
    pub fn active_outbound(&self) -> Option<&SaSpec> {
        self.installed
            .iter()
            .rev()
            .find(|s| s.direction == Direction::Out)
    }

    /// The outbound SA each tunnel's traffic uses: its newest installed.
    fn active_outbound_by_tunnel(&self) -> Vec<&SaSpec> {
        let mut active: Vec<&SaSpec> = Vec::new();
        for s in self.installed.iter().rev() {
            if s.direction == Direction::Out && active.iter().all(|a| a.tunnel != s.tunnel) {
                active.push(s);
            }
        }
        active
    }

    pub fn log_text(&self) -> Vec<String> {
        self.logs.iter().map(|l| l.to_string()).collect()
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.logs.iter().any(|l| l.to_string().contains(needle))
    }

    /// When the first line containing `needle` was logged.
    pub fn logged_at(&self, needle: &str) -> Option<Instant> {
        self.logs
            .iter()
            .position(|l| l.to_string().contains(needle))
            .map(|i| self.log_times[i])
    }

    /// How many lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.logs
            .iter()
            .filter(|l| l.to_string().contains(needle))
            .count()
    }

    /// Failure lines logged at warning or error level (repeats are debug).
    pub fn failures(&self) -> Vec<String> {
        self.logs
            .iter()
            .filter(|l| matches!(l, LogEvent::Failed { .. }) && l.level() != tracing::Level::DEBUG)
            .map(|l| l.to_string())
            .collect()
    }

    /// Every warning or error line.
    pub fn alerts(&self) -> Vec<String> {
        self.logs
            .iter()
            .filter(|l| l.level() <= tracing::Level::WARN)
            .map(|l| l.to_string())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Datagram {
    /// When it was sent, and when the network delivers it.
    pub sent_at: Instant,
    pub at: Instant,
    pub to_b: bool,
    /// The front-door VRF it travels in: a link of VRF X ends in VRF X on both sides.
    pub fvrf: Option<Fvrf>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Vec<u8>,
}

pub struct Pair {
    pub time: Instant,
    pub a: Side,
    pub b: Side,
    /// In flight, delivered front first.
    pub queue: VecDeque<Datagram>,
    /// Loss / duplication / reordering, in percent per datagram.
    pub loss: u32,
    pub duplicate: u32,
    pub reorder: u32,
    /// Which datagrams the network delivers at all (deterministic loss).
    pub deliver: fn(&Datagram) -> bool,
    /// A NAT in front of A: A's source ports appear to B shifted by this.
    pub nat_port_shift: Option<u16>,
    /// One-way delay: `latency` plus up to `jitter` (uniform), per datagram.
    pub latency: Duration,
    pub jitter: Duration,
    /// Check `assert_no_loss` after every step (see there).
    pub check_no_loss: bool,
    net: TestRng,
    /// Every datagram sent, for inspection.
    pub sent: Vec<Datagram>,
}

impl Pair {
    pub fn new(a: Settings, b: Settings) -> Pair {
        Pair::with_seed(a, b, 1)
    }

    pub fn with_seed(a: Settings, b: Settings, seed: u64) -> Pair {
        let time = Instant::now();
        Pair {
            time,
            a: Side::new(a, seed * 2 + 100, time, 0xa000_0000),
            b: Side::new(b, seed * 2 + 101, time, 0xb000_0000),
            queue: VecDeque::new(),
            loss: 0,
            duplicate: 0,
            reorder: 0,
            nat_port_shift: None,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            check_no_loss: false,
            deliver: |_| true,
            net: TestRng::new(seed),
            sent: Vec::new(),
        }
    }

    /// The reference configuration on both ends.
    pub fn reference() -> Pair {
        Pair::new(settings(A_ADDR, B_ADDR), settings(B_ADDR, A_ADDR))
    }

    fn chance(&mut self, percent: u32) -> bool {
        percent > 0 && self.net.next_u32() % 100 < percent
    }

    pub fn side(&mut self, b: bool) -> &mut Side {
        if b {
            &mut self.b
        } else {
            &mut self.a
        }
    }

    /// Carry out the actions of one side; true if there were any.
    fn drain(&mut self, b: bool) -> bool {
        let mut any = false;
        loop {
            let now = self.time;
            let side = self.side(b);
            let Some(action) = side.engine.poll_action() else {
                break;
            };
            any = true;
            match action {
                Action::Send {
                    fvrf,
                    local,
                    remote,
                    data,
                } => self.transmit(!b, (fvrf, local), remote, data),
                Action::NatKeepalive { .. } => side.keepalives += 1,
                Action::ComputeDh(job) if side.hold_dh => side.dh_jobs.push(job),
                // The daemon's workers, inline.
                Action::ComputeDh(job) => side
                    .engine
                    .handle_command(now, Command::DhComputed(job.run())),
                Action::AllocSpi { request, dst, .. } => {
                    let spi = side.fixed_spis.pop_front().unwrap_or_else(|| {
                        side.next_spi += 1;
                        side.next_spi
                    });
                    side.reserved.insert((spi, dst));
                    side.engine
                        .handle_command(now, Command::SpiAllocated { request, spi });
                }
                Action::InstallSa(sa) => {
                    side.reserved.remove(&(sa.spi, sa.dst));
                    side.installed.push(sa)
                }
                Action::DeleteSa {
                    direction,
                    spi,
                    dst,
                    ..
                } => {
                    side.reserved.remove(&(spi, dst));
                    side.deletes += 1;
                    side.installed
                        .retain(|s| !(s.direction == direction && s.spi == spi && s.dst == dst));
                }
                Action::CloneInterface(va) => {
                    assert!(
                        side.interfaces.iter().all(|i| i.name != va.name),
                        "{} cloned twice",
                        va.name
                    );
                    side.interfaces.push(va);
                }
                Action::RemoveInterface(va) => {
                    // Every SA of it went before (a Virtual-Access lives with its SAs).
                    assert!(
                        side.installed.iter().all(|s| s.tunnel != va.name),
                        "{} removed with SAs installed",
                        va.name
                    );
                    side.interfaces.retain(|i| i.name != va.name);
                    side.removed.push(va);
                }
                Action::Log(ev) => {
                    side.logs.push(ev);
                    side.log_times.push(now);
                }
            }
        }
        any
    }

    /// Put a datagram on the wire from one side to the other, through the NAT.
    fn transmit(
        &mut self,
        to_b: bool,
        (fvrf, local): (Option<Fvrf>, SocketAddr),
        remote: SocketAddr,
        data: Vec<u8>,
    ) {
        // Seen by the receiver: its own address is `remote`, the sender is `local`.
        let (mut dst_local, mut dst_remote) = (remote, local);
        if let Some(shift) = self.nat_port_shift {
            if to_b {
                dst_remote.set_port(local.port().wrapping_add(shift));
            } else {
                dst_local.set_port(remote.port().wrapping_sub(shift));
            }
        }
        let jitter_ms = self.jitter.as_millis() as u32;
        let extra = match jitter_ms {
            0 => Duration::ZERO,
            j => Duration::from_millis((self.net.next_u32() % (j + 1)).into()),
        };
        let d = Datagram {
            sent_at: self.time,
            at: self.time + self.latency + extra,
            to_b,
            fvrf,
            local: dst_local,
            remote: dst_remote,
            data,
        };
        self.sent.push(d.clone());
        if !(self.deliver)(&d) || self.chance(self.loss) {
            return;
        }
        if self.chance(self.duplicate) {
            self.queue.push_back(d.clone());
        }
        if self.chance(self.reorder) && !self.queue.is_empty() {
            self.queue.push_front(d);
        } else {
            self.queue.push_back(d);
        }
    }

    /// Deliver everything in flight and every consequence, without moving the clock.
    /// Panics on a livelock (the two engines answering each other forever).
    pub fn drive(&mut self) {
        for _ in 0..20_000 {
            let a = self.drain(false);
            let b = self.drain(true);
            if self.check_no_loss {
                self.assert_no_loss();
            }
            let due = self.queue.iter().position(|d| d.at <= self.time);
            let Some(d) = due.and_then(|i| self.queue.remove(i)) else {
                if !a && !b {
                    return;
                }
                continue;
            };
            let now = self.time;
            self.side(d.to_b)
                .engine
                .handle_datagram_in(now, d.fvrf, d.local, d.remote, &d.data);
        }
        panic!("livelock: the engines never went quiet");
    }

    /// Drive, then jump the clock to each next timer, for `limit` of fake time.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.time + limit;
        self.drive();
        for _ in 0..20_000 {
            let next = [
                self.a.engine.poll_timeout(),
                self.b.engine.poll_timeout(),
                self.queue.iter().map(|d| d.at).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => {
                    self.time = self.time.max(t);
                    let now = self.time;
                    self.a.engine.handle_timeout(now);
                    self.b.engine.handle_timeout(now);
                    self.drive();
                }
                _ => {
                    self.time = end;
                    return;
                }
            }
        }
        panic!("livelock: timers keep firing");
    }

    pub fn initiate(&mut self, b: bool) {
        self.initiate_tunnel(b, TUNNEL);
    }

    pub fn initiate_tunnel(&mut self, b: bool, tunnel: &str) {
        let now = self.time;
        self.side(b).engine.handle_command(
            now,
            Command::Initiate {
                tunnel: tunnel.into(),
            },
        );
    }

    /// "Zero loss" in memory: on each tunnel with an outbound SA, each side sends on one
    /// (the tunnel's newest, as the kernel and the userspace data path do) that the
    /// other side has installed as inbound, with the same keys.
    pub fn assert_no_loss(&self) {
        for (name, from, to) in [("A", &self.a, &self.b), ("B", &self.b, &self.a)] {
            for out in from.active_outbound_by_tunnel() {
                let inbound = to.sas_of(&out.tunnel, Direction::In);
                assert!(
                    inbound
                        .iter()
                        .any(|i| i.spi == out.spi && i.enc_key == out.enc_key),
                    "{name} sends on {}'s SPI {:#x}, which the peer has not installed: {:x?}",
                    out.tunnel,
                    out.spi,
                    inbound.iter().map(|i| i.spi).collect::<Vec<_>>()
                );
            }
        }
    }

    /// A's outbound SAs are B's inbound ones, SPI and keys, and vice versa; exactly one
    /// pair on each side.
    pub fn assert_agree(&self) {
        for (from, to) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let out = from.sa(Direction::Out);
            let inb = to.sa(Direction::In);
            assert_eq!(out.len(), 1, "one outbound SA: {out:?}");
            assert_eq!(inb.len(), 1, "one inbound SA: {inb:?}");
            let (o, i) = (out[0], inb[0]);
            assert_eq!(o.spi, i.spi);
            assert_eq!(o.transform, i.transform);
            assert_eq!(
                o.mode, i.mode,
                "both in tunnel mode or both in transport mode"
            );
            assert_eq!(o.enc_key, i.enc_key, "encryption keys of SPI {:#x}", o.spi);
            assert_eq!(
                o.auth_key, i.auth_key,
                "authentication keys of SPI {:#x}",
                o.spi
            );
            assert_eq!((o.src, o.dst), (i.src, i.dst));
            assert_eq!(
                o.encap.is_some(),
                i.encap.is_some(),
                "both UDP-encapsulated or neither"
            );
            assert_eq!(o.enc_key.len(), o.transform.encr.key_len());
            assert_eq!(o.auth_key.len(), o.transform.auth.key_len());
        }
        let a_in = self.a.sa(Direction::In)[0];
        let a_out = self.a.sa(Direction::Out)[0];
        // Compared whole: esp-null has no encryption key, GCM no authentication key.
        let keys = |sa: &SaSpec| [sa.enc_key.as_bytes(), sa.auth_key.as_bytes()].concat();
        assert_ne!(keys(a_in), keys(a_out), "each direction has its own keys");
    }
}
