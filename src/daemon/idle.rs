//! IOS's `set security-association idle-time S`, watched from the data path's packet
//! counters: neither XFRM nor the userspace path has an idle limit of its own (XFRM's
//! `use_time` is the first use, not the last). A tunnel whose SAs carried no packet,
//! either way, for S seconds is reported once; the engine then deletes the pair.
//!
//! Each tunnel is sampled every S/12 (1 to 10 s), so that an idle tunnel is reported
//! within S plus a sample, for the price of one counter read per SA per sample.

use super::worker::SaKey;
use crate::ipsec::{Direction, SaSpec};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const MIN_SAMPLE: Duration = Duration::from_secs(1);
const MAX_SAMPLE: Duration = Duration::from_secs(10);

struct Watched {
    idle: Duration,
    sas: Vec<SaKey>,
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
        w.sas
            .push((sa.tunnel.clone(), sa.direction, sa.spi, sa.dst));
    }

    /// An SA left the data path.
    pub fn deleted(&mut self, tunnel: &str, direction: Direction, spi: u32, dst: IpAddr) {
        if let Some(w) = self.tunnels.get_mut(tunnel) {
            w.sas.retain(|k| (k.1, k.2, k.3) != (direction, spi, dst));
            if w.sas.is_empty() {
                self.tunnels.remove(tunnel);
            }
        }
    }

    /// The tunnel and its SAs are gone.
    pub fn removed(&mut self, tunnel: &str) {
        self.tunnels.remove(tunnel);
    }

    /// The tunnels to sample now, with their SAs.
    pub fn due(&self, now: Instant) -> Vec<(String, Vec<SaKey>)> {
        self.tunnels
            .iter()
            .filter(|(_, w)| w.next_sample <= now)
            .map(|(name, w)| (name.clone(), w.sas.clone()))
            .collect()
    }

    /// `packets`: what all of `tunnel`'s SAs carried so far, read at `now`. True when
    /// the tunnel has just been idle for its idle-time (once, until traffic moves it).
    pub fn sampled(&mut self, now: Instant, tunnel: &str, packets: u64) -> bool {
        let Some(w) = self.tunnels.get_mut(tunnel) else {
            return false;
        };
        w.next_sample = now + (w.idle / 12).clamp(MIN_SAMPLE, MAX_SAMPLE);
        if packets != w.packets {
            w.packets = packets;
            w.active_at = now;
            w.reported = false;
            return false;
        }
        if w.reported || now.saturating_duration_since(w.active_at) < w.idle {
            return false;
        }
        w.reported = true;
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
        w.installed(t0, &sa(Direction::In, 1, None));
        assert!(w.due(t0).is_empty(), "no idle-time, not watched");
        w.installed(t0, &sa(Direction::In, 0x10, Some(60)));
        w.installed(t0, &sa(Direction::Out, 0x20, Some(60)));
        let due = w.due(t0);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.len(), 2, "both SAs of the pair are read");
        // Traffic until 30 s, then none: idle at 90 s, reported once.
        assert!(!w.sampled(t0 + s(30), "Tunnel5", 40));
        assert!(w.due(t0 + s(34)).is_empty(), "next sample after 60/12 s");
        assert!(!w.sampled(t0 + s(89), "Tunnel5", 40));
        assert!(w.sampled(t0 + s(90), "Tunnel5", 40));
        assert!(!w.sampled(t0 + s(95), "Tunnel5", 40), "reported once");
        // Traffic again: watched afresh.
        assert!(!w.sampled(t0 + s(100), "Tunnel5", 41));
        assert!(w.sampled(t0 + s(160), "Tunnel5", 41));
        // The pair deleted: nothing left to watch.
        let dst: IpAddr = "192.0.2.3".parse().unwrap();
        w.deleted("Tunnel5", Direction::In, 0x10, dst);
        assert_eq!(w.due(t0 + s(200))[0].1.len(), 1);
        w.deleted("Tunnel5", Direction::Out, 0x20, dst);
        assert!(w.due(t0 + s(200)).is_empty());
        assert!(!w.sampled(t0 + s(200), "Tunnel5", 0));
    }
}
