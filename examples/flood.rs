//! The attacker of scripts/flood.sh and tests/flood.sh, run in a namespace of its own:
//! - MM1s with random cookies, `--rate` a second, from `--spoofed-count` addresses of
//!   the `--spoofed` /112 (sources that never answer: the target's MM2s to them are
//!   only counted);
//! - full MM1..MM3 exchanges from `--owned-count` addresses of the `--owned` /112, each
//!   address one exchange at a time, a new one as soon as MM4 comes (every MM3 costs
//!   the responder a Diffie-Hellman exchange); an exchange unanswered for 5 s is begun
//!   again.
//!
//! Both for `--seconds`. The namespace must route both /112s back to itself (`ip -6
//! route add local P/112 dev lo`) and allow sending from them
//! (`net.ipv6.ip_nonlocal_bind=1`): one UDP socket on [::]:500 sends from any of them
//! (IPV6_PKTINFO) and learns where each reply went.
//!
//! flood --target [2001:db8::2]:500 --spoofed 2001:db8:f:: --spoofed-count 10000
//!       --rate 20000 --owned 2001:db8:e:: --owned-count 1000 --seconds 60
//!
//! Prints one JSON object: what was sent, what came back, and per spoofed source the
//! MM2s received (mean and maximum).

use ikev1d::crypto::{DhGroup, DhPrivate, OsRng, Rng};
use ikev1d::ike::p1_offer;
use ikev1d::ike::settings::seed;
use ikev1d::isakmp::{encode_message, ExchangeType, Header, Message, Payload};
use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6,
};
use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// An exchange from an owned address gives up after this long without an answer.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Spoofed MM1s leave in bursts this often.
const TICK: Duration = Duration::from_millis(10);

struct Args {
    target: SocketAddr,
    spoofed: Ipv6Addr,
    spoofed_count: u32,
    rate: u32,
    owned: Ipv6Addr,
    owned_count: u32,
    seconds: u64,
}

fn args() -> Args {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str, default: &str| {
        all.iter()
            .position(|a| a == &format!("--{k}"))
            .and_then(|i| all.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let num = |k: &str, default: &str| -> u64 {
        get(k, default)
            .parse()
            .unwrap_or_else(|_| panic!("--{k}: a number"))
    };
    Args {
        target: get("target", "[2001:db8::2]:500")
            .parse()
            .expect("--target"),
        spoofed: get("spoofed", "2001:db8:f::").parse().expect("--spoofed"),
        spoofed_count: num("spoofed-count", "10000") as u32,
        rate: num("rate", "20000") as u32,
        owned: get("owned", "2001:db8:e::").parse().expect("--owned"),
        owned_count: num("owned-count", "1000") as u32,
        seconds: num("seconds", "60"),
    }
}

/// Address `n` (1-based) of the /112 that starts at `base`.
fn nth(base: Ipv6Addr, n: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(base) + u128::from(n % 0xffff + 1))
}

/// An MM1 offering the seed's policy, IOS 15.2's default (DES / SHA / pre-share /
/// group 1 / 86400 s): the seed's responder accepts it.
fn mm1(icookie: [u8; 8]) -> Vec<u8> {
    let any = std::net::Ipv6Addr::UNSPECIFIED.into();
    let offer = p1_offer(&seed(any, any).policies);
    encode_message(&header(icookie, [0; 8]), &[Payload::Sa(offer)])
}

fn header(icookie: [u8; 8], rcookie: [u8; 8]) -> Header {
    Header::new(icookie, rcookie, ExchangeType::MAIN_MODE, 0, 0)
}

fn cookie(rng: &mut OsRng) -> [u8; 8] {
    let mut c = [0; 8];
    rng.fill(&mut c);
    c[0] |= 1;
    c
}

/// One owned address's exchange in progress.
struct Exchange {
    icookie: [u8; 8],
    begun: Instant,
    sent_mm3: bool,
}

#[derive(Default)]
struct Counts {
    mm1_spoofed: u64,
    mm2_to_spoofed: u64,
    exchanges_begun: u64,
    mm2_to_owned: u64,
    mm3_sent: u64,
    mm4_received: u64,
    timed_out: u64,
    other_replies: u64,
    send_errors: u64,
}

struct Flood {
    sock: UdpSocket,
    target: SockaddrIn6,
    rng: OsRng,
    counts: Counts,
    /// MM2s received by each spoofed address.
    per_spoofed: HashMap<Ipv6Addr, u32>,
    exchanges: HashMap<Ipv6Addr, Exchange>,
    /// The KE payload of every MM3: one valid group 1 value, computed once.
    ke: Vec<u8>,
}

impl Flood {
    fn send(&mut self, from: Ipv6Addr, data: &[u8]) {
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: from.octets(),
            },
            ipi6_ifindex: 0,
        };
        let sent = sendmsg(
            self.sock.as_raw_fd(),
            &[IoSlice::new(data)],
            &[ControlMessage::Ipv6PacketInfo(&info)],
            MsgFlags::MSG_DONTWAIT,
            Some(&self.target),
        );
        if sent.is_err() {
            self.counts.send_errors += 1;
        }
    }

    fn begin(&mut self, from: Ipv6Addr, now: Instant) {
        let icookie = cookie(&mut self.rng);
        self.exchanges.insert(
            from,
            Exchange {
                icookie,
                begun: now,
                sent_mm3: false,
            },
        );
        self.counts.exchanges_begun += 1;
        self.send(from, &mm1(icookie));
    }

    /// Everything that came back so far.
    fn receive(&mut self, spoofed: Ipv6Addr, now: Instant) {
        let mut buf = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let Ok(msg) = recvmsg::<SockaddrIn6>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT,
            ) else {
                return;
            };
            let len = msg.bytes;
            let to = msg
                .cmsgs()
                .ok()
                .into_iter()
                .flatten()
                .find_map(|c| match c {
                    ControlMessageOwned::Ipv6PacketInfo(i) => {
                        Some(Ipv6Addr::from(i.ipi6_addr.s6_addr))
                    }
                    _ => None,
                });
            let Some(to) = to else { continue };
            let data = buf[..len].to_vec();
            self.reply(to, &data, spoofed, now);
        }
    }

    fn reply(&mut self, to: Ipv6Addr, data: &[u8], spoofed: Ipv6Addr, now: Instant) {
        let in_112 = |base: Ipv6Addr| u128::from(to) >> 16 == u128::from(base) >> 16;
        if in_112(spoofed) {
            self.counts.mm2_to_spoofed += 1;
            *self.per_spoofed.entry(to).or_default() += 1;
            return;
        }
        let Ok(h) = Header::decode(data) else {
            self.counts.other_replies += 1;
            return;
        };
        let Some(x) = self.exchanges.get_mut(&to) else {
            self.counts.other_replies += 1;
            return;
        };
        if h.exchange != ExchangeType::MAIN_MODE || h.icookie != x.icookie {
            self.counts.other_replies += 1;
            return;
        }
        if !x.sent_mm3 {
            // MM2: the responder's cookie; answer with MM3.
            x.sent_mm3 = true;
            let mut nonce = vec![0; 16];
            self.rng.fill(&mut nonce);
            let payloads = [Payload::KeyExchange(self.ke.clone()), Payload::Nonce(nonce)];
            let mm3 = encode_message(&header(h.icookie, h.rcookie), &payloads);
            self.counts.mm2_to_owned += 1;
            self.counts.mm3_sent += 1;
            self.send(to, &mm3);
        } else if Message::decode(data).is_ok() {
            // MM4: the responder did its Diffie-Hellman work. Next exchange.
            self.counts.mm4_received += 1;
            self.begin(to, now);
        }
    }
}

fn main() {
    let a = args();
    let sock = UdpSocket::bind("[::]:500").expect("bind [::]:500");
    setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true).expect("IPV6_RECVPKTINFO");
    let SocketAddr::V6(target) = a.target else {
        panic!("--target: an IPv6 address");
    };
    let mut f = Flood {
        sock,
        target: SockaddrIn6::from(SocketAddrV6::new(*target.ip(), target.port(), 0, 0)),
        rng: OsRng,
        counts: Counts::default(),
        per_spoofed: HashMap::new(),
        exchanges: HashMap::new(),
        ke: DhPrivate::generate(DhGroup::Modp768, &mut OsRng).public_value(),
    };
    let start = Instant::now();
    let end = start + Duration::from_secs(a.seconds);
    for n in 0..a.owned_count {
        f.begin(nth(a.owned, n), start);
    }
    let mut next_tick = start;
    let per_tick = (u64::from(a.rate) * TICK.as_millis() as u64 / 1000).max(1);
    let mut spoofed_n = 0u32;
    while Instant::now() < end {
        let now = Instant::now();
        if now >= next_tick {
            for _ in 0..per_tick {
                let from = nth(a.spoofed, spoofed_n % a.spoofed_count.max(1));
                spoofed_n = spoofed_n.wrapping_add(1);
                let m = mm1(cookie(&mut f.rng));
                f.send(from, &m);
                f.counts.mm1_spoofed += 1;
            }
            next_tick += TICK;
            // Behind by more than a second (a busy machine): do not catch up in a burst.
            if now > next_tick + Duration::from_secs(1) {
                next_tick = now;
            }
        }
        f.receive(a.spoofed, now);
        let stale: Vec<Ipv6Addr> = f
            .exchanges
            .iter()
            .filter(|(_, x)| now.duration_since(x.begun) > EXCHANGE_TIMEOUT)
            .map(|(a, _)| *a)
            .collect();
        for addr in stale {
            f.counts.timed_out += 1;
            f.begin(addr, now);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    // Late replies.
    let settle = Instant::now() + Duration::from_millis(500);
    while Instant::now() < settle {
        f.receive(a.spoofed, Instant::now());
        std::thread::sleep(Duration::from_millis(10));
    }
    let c = &f.counts;
    let answered = f.per_spoofed.len();
    let max = f.per_spoofed.values().copied().max().unwrap_or(0);
    let mean = c.mm2_to_spoofed as f64 / f64::from(a.spoofed_count.max(1));
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"seconds\":{secs:.1},\"mm1_spoofed\":{},\"mm1_spoofed_per_s\":{:.0},\"spoofed_sources\":{},\"mm2_to_spoofed\":{},\"spoofed_answered\":{answered},\"mm2_per_spoofed_mean\":{mean:.2},\"mm2_per_spoofed_max\":{max},\"owned_sources\":{},\"exchanges_begun\":{},\"mm3_sent\":{},\"mm4_received\":{},\"exchanges_timed_out\":{},\"other_replies\":{},\"send_errors\":{}}}",
        c.mm1_spoofed,
        c.mm1_spoofed as f64 / secs,
        a.spoofed_count,
        c.mm2_to_spoofed,
        a.owned_count,
        c.exchanges_begun,
        c.mm3_sent,
        c.mm4_received,
        c.timed_out,
        c.other_replies,
        c.send_errors,
    );
}
