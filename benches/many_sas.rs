//! The engine's work per input with many tunnels up: a DVTI hub (one Virtual-Template,
//! a Virtual-Access per spoke) with `SPOKES` spokes up, each with its ISAKMP SA and
//! IPsec SA pair, measured
//! - answering one spoke's DPD R-U-THERE (a datagram that changes no tunnel: what a
//!   hub handles most), and
//! - running the DPD timer of one of its ISAKMP SAs (all `SPOKES` fall due each
//!   interval).
//!
//! - bringing them up: the hub's handling of each SPI the data path allocated for a
//!   Quick Mode (is it in use? then QM2), while the other spokes' negotiations run,
//! - `show ipsec --peer` of one spoke, and
//! - shutting down (SIGTERM): every pair deleted, its Delete sent, per pair.
//!
//! Each should cost about the same with `FEW` tunnels up or `SPOKES`: work
//! proportional to all the pairs on these paths is O(N) per packet and O(N^2) per DPD
//! interval, bring-up or shutdown. Prints the median time per datagram, and per ISAKMP
//! SA of a DPD round (median of `ROUNDS` rounds), and the ratio to the same hub with
//! `FEW` spokes, measured in the same run. `cargo bench --bench many_sas`

use criterion::{criterion_group, criterion_main, Criterion};
use ikev1d::crypto::TestRng;
use ikev1d::ike::settings::{seed, Dpd, IdentityMatch, IsakmpProfile, Origin};
use ikev1d::ike::{Action, Command, Engine, Settings};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const HUB: &str = "2001:db8:b::1";
const SPOKES: usize = 5000;
const FEW: usize = 10;
/// `crypto isakmp keepalive 10 2` on both sides.
const DPD_INTERVAL: Duration = Duration::from_secs(10);
/// Rounds (DPD intervals) whose medians are printed.
const ROUNDS: usize = 7;
/// Simulated time a hub serves before it is built again: less than the soft lifetime
/// of its SAs, so that every round finds the same steady state (no rekeys).
const STEADY: Duration = Duration::from_secs(2400);

fn dpd() -> Dpd {
    Dpd {
        interval_s: DPD_INTERVAL.as_secs() as u32,
        retry_s: 2,
        periodic: true,
        origin: Origin::default(),
    }
}

fn spoke_addr(i: usize) -> IpAddr {
    format!("2001:db8:a::{i:x}").parse().unwrap()
}

/// One engine with `n` addresses, Tunnel1..n from each to the hub.
fn spokes(n: usize) -> Settings {
    let mut s = seed(spoke_addr(1), HUB.parse().unwrap());
    let template = s.tunnels.remove(0);
    s.tunnels = (1..=n)
        .map(|i| ikev1d::ike::settings::TunnelSettings {
            name: format!("Tunnel{i}"),
            local: spoke_addr(i),
            ..template.clone()
        })
        .collect();
    s.dpd = Some(dpd());
    s
}

/// `interface Virtual-Template1 type tunnel` and `crypto isakmp profile DVTI` with
/// `match identity address ::/0`, `keepalive 10 retry 2`, `virtual-template 1`.
fn hub() -> Settings {
    let mut s = seed(HUB.parse().unwrap(), "::".parse().unwrap());
    let mut template = s.tunnels.remove(0);
    template.name = "Virtual-Template1".into();
    s.templates = vec![template];
    s.isakmp_profiles = vec![IsakmpProfile {
        name: "DVTI".into(),
        keyrings: Vec::new(),
        matches: vec![IdentityMatch::Address {
            address: "::".parse().unwrap(),
            prefix_len: 0,
            vrf: None,
        }],
        dpd: Some(dpd()),
        self_identity: None,
        local: None,
        ivrf: None,
        virtual_template: Some(1),
        origin: Origin::default(),
    }];
    s
}

/// The spokes' engine (0) and the hub (1), with the daemon's side inline: SPIs, DH,
/// and the wire.
struct Net {
    spokes: usize,
    engines: [Engine; 2],
    up_since: Instant,
    now: Instant,
    /// (to, its local address, the sender's) and the datagram.
    wire: VecDeque<(usize, SocketAddr, SocketAddr, Vec<u8>)>,
    next_spi: [u32; 2],
    installed: [usize; 2],
    /// The hub's time to take each allocated SPI (and send QM2), during `up`.
    spi_taken: Vec<Duration>,
}

impl Net {
    fn up(n: usize) -> Net {
        let now = Instant::now();
        let mut net = Net {
            spokes: n,
            up_since: now,
            engines: [
                Engine::new(spokes(n), Box::new(TestRng::new(1)), now),
                Engine::new(hub(), Box::new(TestRng::new(2)), now),
            ],
            now,
            wire: VecDeque::new(),
            next_spi: [0xa000_0000, 0xb000_0000],
            installed: [0, 0],
            spi_taken: Vec::new(),
        };
        for i in 1..=n {
            let tunnel = format!("Tunnel{i}");
            net.engines[0].handle_command(now, Command::Initiate { tunnel });
        }
        // The spokes' Main Modes leave at the pacer's rate: step time until all are up.
        for _ in 0..20_000 {
            net.run();
            if net.engines[1].virtual_accesses().len() == n && net.installed[0] == 2 * n {
                net.up_since = net.now;
                return net;
            }
            net.now += Duration::from_millis(50);
            net.tick(0);
            net.tick(1);
        }
        panic!("{n} spokes did not come up");
    }

    /// Engine `i`'s due timers.
    fn tick(&mut self, i: usize) {
        let now = self.now;
        if self.engines[i].poll_timeout().is_some_and(|t| t <= now) {
            self.engines[i].handle_timeout(now);
        }
    }

    /// Everything engine `i` wants done; datagrams go on the wire.
    fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some(action) = self.engines[i].poll_action() {
            match action {
                Action::Send {
                    local,
                    remote,
                    data,
                    ..
                } => self.wire.push_back((1 - i, remote, local, data)),
                Action::AllocSpi { request, .. } => {
                    self.next_spi[i] += 1;
                    let spi = self.next_spi[i];
                    let t = Instant::now();
                    self.engines[i].handle_command(now, Command::SpiAllocated { request, spi });
                    if i == 1 {
                        self.spi_taken.push(t.elapsed());
                    }
                }
                Action::ComputeDh(job) => {
                    self.engines[i].handle_command(now, Command::DhComputed(job.run()))
                }
                Action::InstallSa(_) => self.installed[i] += 1,
                _ => {}
            }
        }
    }

    /// Until nothing is left to do or to deliver.
    fn run(&mut self) {
        loop {
            self.drain(0);
            self.drain(1);
            let Some((to, local, remote, data)) = self.wire.pop_front() else {
                return;
            };
            let now = self.now;
            self.engines[to].handle_datagram(now, local, remote, &data);
        }
    }

    /// One DPD interval on, on a hub in its steady state.
    fn next_round(&mut self) {
        if self.now - self.up_since > STEADY {
            *self = Net::up(self.spokes);
        }
        self.now += DPD_INTERVAL;
    }

    /// One DPD interval on: the spokes probe; the hub's handling of each R-U-THERE
    /// (and the answer it queues) is timed, per datagram.
    fn hub_answers_probes(&mut self) -> Vec<Duration> {
        self.next_round();
        self.tick(0);
        self.drain(0);
        let now = self.now;
        let probes: Vec<_> = self.wire.drain(..).collect();
        let mut times = Vec::with_capacity(probes.len());
        for (to, local, remote, data) in probes {
            assert_eq!(to, 1);
            let t = Instant::now();
            self.engines[1].handle_datagram(now, local, remote, &data);
            self.drain(1);
            times.push(t.elapsed());
        }
        // The answers reach the spokes: they stay alive.
        self.run();
        times
    }

    /// One DPD interval on: the hub's timers of all its ISAKMP SAs fall due; timed
    /// together, per ISAKMP SA.
    fn hub_probes(&mut self) -> Duration {
        self.next_round();
        let n = self.spokes;
        let t = Instant::now();
        self.tick(1);
        self.drain(1);
        let each = t.elapsed() / n as u32;
        assert_eq!(self.wire.len(), n, "one R-U-THERE per spoke");
        self.run();
        each
    }

    /// `show ipsec --peer` of one spoke: through the index, or the views of all pairs
    /// filtered (as the daemon did); per call.
    fn hub_shows_one_peer(&self, by_index: bool) -> Duration {
        let peer = spoke_addr(self.spokes / 2 + 1);
        let hub = &self.engines[1];
        let t = Instant::now();
        let shown = if by_index {
            hub.ipsec_sas_of(self.now, Some(peer), None)
        } else {
            let all = hub.ipsec_sas(self.now);
            all.into_iter().filter(|sa| sa.peer == peer).collect()
        };
        let spent = t.elapsed();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].peer, peer);
        spent
    }

    /// SIGTERM: the hub deletes every pair and tells its peer; per pair.
    fn hub_shuts_down(mut self) -> Duration {
        let n = self.spokes;
        let t = Instant::now();
        self.engines[1].handle_command(self.now, Command::Shutdown);
        let mut deletes = 0;
        while let Some(action) = self.engines[1].poll_action() {
            deletes += usize::from(matches!(action, Action::Send { .. }));
        }
        let each = t.elapsed() / n as u32;
        // An ESP Delete and an ISAKMP Delete per spoke.
        assert_eq!(deletes, 2 * n);
        each
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("DVTI hub");
    group.sample_size(10);
    let mut medians = Vec::new();
    for n in [FEW, SPOKES] {
        let mut net = Net::up(n);
        group.bench_function(format!("R-U-THERE answered, {n} spokes up"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    for t in net.hub_answers_probes().into_iter().take(left as usize) {
                        total += t;
                        left -= 1;
                    }
                }
                total
            })
        });
        group.bench_function(format!("DPD timer per ISAKMP SA, {n} spokes up"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| net.hub_probes()).sum())
        });
        let answer = median((0..ROUNDS).flat_map(|_| net.hub_answers_probes()).collect());
        let timer = median((0..ROUNDS).map(|_| net.hub_probes()).collect());
        assert_eq!(net.engines[1].virtual_accesses().len(), n, "all still up");
        let spi = median(std::mem::take(&mut net.spi_taken));
        // The indexed ones first: the thousands of views the other way frees would
        // otherwise be consolidated by the allocator in the next call, timed.
        let show_indexed = median((0..ROUNDS).map(|_| net.hub_shows_one_peer(true)).collect());
        let show_all = median((0..ROUNDS).map(|_| net.hub_shows_one_peer(false)).collect());
        let shutdown = net.hub_shuts_down();
        medians.push(Medians {
            n,
            answer,
            timer,
            spi,
            show_all,
            show_indexed,
            shutdown,
        });
    }
    group.finish();
    println!("DVTI hub, median work per input:");
    for m in &medians {
        println!(
            "  {:>5} spokes: R-U-THERE answered {:>10.1?}, DPD timer per ISAKMP SA {:>10.1?}, \
             SPI taken (Quick Mode) {:>10.1?}, shutdown per pair {:>10.1?}",
            m.n, m.answer, m.timer, m.spi, m.shutdown
        );
        println!(
            "  {:>5} spokes: show ipsec --peer (one pair): all views filtered {:>10.1?}, \
             by index {:>10.1?}",
            m.n, m.show_all, m.show_indexed
        );
    }
    let (few, many) = (&medians[0], &medians[1]);
    let ratio = |f: fn(&Medians) -> Duration| f(many).as_secs_f64() / f(few).as_secs_f64();
    println!(
        "{SPOKES} spokes / {FEW} spokes: R-U-THERE {:.1}x, DPD timer {:.1}x, SPI taken {:.1}x, \
         shutdown {:.1}x, show --peer by index {:.1}x (target: about 1x)",
        ratio(|m| m.answer),
        ratio(|m| m.timer),
        ratio(|m| m.spi),
        ratio(|m| m.shutdown),
        ratio(|m| m.show_indexed),
    );
}

struct Medians {
    n: usize,
    answer: Duration,
    timer: Duration,
    spi: Duration,
    show_all: Duration,
    show_indexed: Duration,
    shutdown: Duration,
}

criterion_group!(benches, bench);
criterion_main!(benches);
