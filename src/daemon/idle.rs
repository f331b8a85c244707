//! IOS's `set security-association idle-time S`, watched from the data path's packet
//! counters: neither XFRM nor the userspace path has an idle limit of its own (XFRM's
//! `use_time` is the first use, not the last). A tunnel whose SAs carried no packet,
//! either way, for S seconds is reported once; the engine then deletes the pair.
//!
//! Each tunnel is sampled every S/12 (1 to 10 s), so that an idle tunnel is reported
//! within S plus a sample, for the price of one counter read per SA per sample.

use crate::ipsec::{Direction, SaSpec};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const MIN_SAMPLE: Duration = Duration::from_secs(1);
const MAX_SAMPLE: Duration = Duration::from_secs(10);

/// One direction of an SA of the tunnel: XFRM's SPI and destination.
type Sa = (Direction, u32, IpAddr);

struct Watched {
    idle: Duration,
    sas: Vec<Sa>,
    /// The packets of all its SAs at the last sample, and when that count last moved.
    packets: u64,
    active_at: Instant,
    next_sample: Instant,
    reported: bool,
}

#[derive(Default)]
pub struct IdleWatch {
    tunnels: HashMap<String, Watched>,
}

impl IdleWatch {
    /// An SA went into the data path: watched if it has an idle limit.
    pub fn installed(&mut self, now: Instant, sa: &SaSpec) {
        let Some(idle_s) = sa.lifetimes.idle_s else {
            return;
        };
        let idle = Duration::from_secs(idle_s);
        let w = self.tunnels.entry(sa.tunnel.clone()).or_insert(Watched {
            idle,
            sas: Vec::new(),
            packets: 0,
            active_at: now,
            next_sample: now,
            reported: false,
        });
        // A new pair is the start of its idle time, as IOS starts the timer with the SA.
        w.idle = idle;
        w.active_at = now;
        w.reported = false;
        w.sas.push((sa.direction, sa.spi, sa.dst));
    }

    /// An SA left the data path.
    pub fn deleted(&mut self, tunnel: &str, direction: Direction, spi: u32, dst: IpAddr) {
        if let Some(w) = self.tunnels.get_mut(tunnel) {
            w.sas.retain(|&k| k != (direction, spi, dst));
            if w.sas.is_empty() {
                self.tunnels.remove(tunnel);
            }
        }
    }

    /// The tunnel and its SAs are gone.
    pub fn removed(&mut self, tunnel: &str) {
        self.tunnels.remove(tunnel);
    }

    /// Sample the tunnels due at `now`, reading what each of their SAs carried so far
    /// with `packets(tunnel, direction, spi, dst)`. The tunnels that have just been
    /// idle for their idle-time (each once, until traffic moves it).
    pub fn sample(
        &mut self,
        now: Instant,
        mut packets: impl FnMut(&str, Direction, u32, IpAddr) -> u64,
    ) -> Vec<String> {
        let mut idle = Vec::new();
        for (name, w) in &mut self.tunnels {
            if w.next_sample > now {
                continue;
            }
            let carried = w
                .sas
                .iter()
                .map(|&(direction, spi, dst)| packets(name, direction, spi, dst))
                .sum();
            if w.sampled(now, carried) {
                idle.push(name.clone());
            }
        }
        idle
    }
}

impl Watched {
    /// `packets`: what all its SAs carried so far, read at `now`. True when it has just
    /// been idle for its idle-time.
    fn sampled(&mut self, now: Instant, packets: u64) -> bool {
        self.next_sample = now + (self.idle / 12).clamp(MIN_SAMPLE, MAX_SAMPLE);
        if packets != self.packets {
            self.packets = packets;
            self.active_at = now;
            self.reported = false;
            return false;
        }
        if self.reported || now.saturating_duration_since(self.active_at) < self.idle {
            return false;
        }
        self.reported = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipsec::Lifetimes;

    fn sa(direction: Direction, spi: u32, idle_s: Option<u64>) -> SaSpec {
        SaSpec {
            tunnel: "Tunnel5".into(),
            lifetimes: Lifetimes {
                idle_s,
                ..Lifetimes::default()
            },
            ..SaSpec::for_test(direction, spi, "192.0.2.2", "192.0.2.3")
        }
    }

    #[test]
    fn a_tunnel_is_idle_once_its_counters_stand_still_for_its_idle_time() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut w = IdleWatch::default();
        // `sample` at t0 + `at`, the inbound SA having carried `carried` packets: how
        // many SAs it read, and the tunnels it reported idle.
        let sample = |w: &mut IdleWatch, at: u64, carried: u64| {
            let mut read = 0;
            let idle = w.sample(t0 + s(at), |tunnel, _, spi, _| {
                assert_eq!(tunnel, "Tunnel5");
                read += 1;
                if spi == 0x10 {
                    carried
                } else {
                    0
                }
            });
            (read, idle)
        };
        let none: Vec<String> = vec![];
        w.installed(t0, &sa(Direction::In, 1, None));
        assert_eq!(
            sample(&mut w, 0, 0),
            (0, none.clone()),
            "no idle-time, not watched"
        );
        w.installed(t0, &sa(Direction::In, 0x10, Some(60)));
        w.installed(t0, &sa(Direction::Out, 0x20, Some(60)));
        assert_eq!(
            sample(&mut w, 0, 0),
            (2, none.clone()),
            "both SAs of the pair are read"
        );
        // Traffic until 30 s, then none: idle at 90 s, reported once.
        assert_eq!(sample(&mut w, 30, 40), (2, none.clone()));
        assert_eq!(
            sample(&mut w, 34, 40),
            (0, none.clone()),
            "next sample after 60/12 s"
        );
        let mut sampled = |at: u64, packets: u64| {
            let watched = w.tunnels.get_mut("Tunnel5").unwrap();
            watched.sampled(t0 + s(at), packets)
        };
        assert!(!sampled(89, 40));
        assert!(sampled(90, 40));
        assert_eq!(sample(&mut w, 95, 40), (2, none.clone()), "reported once");
        // Traffic again: watched afresh.
        assert_eq!(sample(&mut w, 100, 41), (2, none.clone()));
        assert_eq!(sample(&mut w, 160, 41), (2, vec!["Tunnel5".to_string()]));
        // The pair deleted: nothing left to watch.
        let dst: IpAddr = "192.0.2.3".parse().unwrap();
        w.deleted("Tunnel5", Direction::In, 0x10, dst);
        assert_eq!(sample(&mut w, 200, 41).0, 1);
        w.deleted("Tunnel5", Direction::Out, 0x20, dst);
        assert_eq!(sample(&mut w, 200, 0), (0, none));
    }
}
