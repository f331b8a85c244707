//! A full Main Mode + Quick Mode handshake in memory, timing only the responder's work
//! (the side a busy hub spends its CPU on), for DH groups 2, 14, 19, 20, 21 and 24.
//! Prints handshakes per second per core side by side, and group 19 (P-256) against
//! group 14 (2048-bit MODP, the common choice it replaces).

use criterion::{criterion_group, criterion_main, Criterion};
use ikev1d::crypto::{CipherAlg, DhGroup, HashAlg, TestRng};
use ikev1d::ike::settings::seed;
use ikev1d::ike::{Action, Command, Engine, Settings};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The seed's configuration with AES-128 / SHA-256 and `group` for phase 1.
fn settings(local: &str, peer: &str, group: DhGroup) -> Settings {
    let mut s = seed(local.parse().unwrap(), peer.parse().unwrap());
    s.policies[0].cipher = CipherAlg::Aes(128);
    s.policies[0].hash = HashAlg::Sha256;
    s.policies[0].group = group;
    s.tunnels[0].transform_sets[0].transport = false;
    s
}

/// Run one handshake between fresh engines; returns the time spent in the responder.
fn handshake(group: DhGroup, seed: u64) -> Duration {
    let now = Instant::now();
    let mut engines = [
        Engine::new(
            settings("2001:db8::2", "2001:db8::3", group),
            Box::new(TestRng::new(seed)),
            now,
        ),
        Engine::new(
            settings("2001:db8::3", "2001:db8::2", group),
            Box::new(TestRng::new(!seed)),
            now,
        ),
    ];
    let mut responder_time = Duration::ZERO;
    let mut queue: VecDeque<(usize, SocketAddr, SocketAddr, Vec<u8>)> = VecDeque::new();
    let mut spi = 0x1000;
    let mut installed = 0;
    engines[0].handle_command(
        now,
        Command::Initiate {
            tunnel: "Tunnel23".into(),
        },
    );
    loop {
        for (i, engine) in engines.iter_mut().enumerate() {
            while let Some(action) = engine.poll_action() {
                match action {
                    Action::Send {
                        local,
                        remote,
                        data,
                        ..
                    } => queue.push_back((1 - i, remote, local, data)),
                    Action::AllocSpi { request, .. } => {
                        spi += 1;
                        let t = Instant::now();
                        engine.handle_command(now, Command::SpiAllocated { request, spi });
                        if i == 1 {
                            responder_time += t.elapsed();
                        }
                    }
                    // The daemon's DH workers' share of the work, timed as the rest.
                    Action::ComputeDh(job) => {
                        let t = Instant::now();
                        engine.handle_command(now, Command::DhComputed(job.run()));
                        if i == 1 {
                            responder_time += t.elapsed();
                        }
                    }
                    Action::InstallSa(_) => installed += 1,
                    _ => {}
                }
            }
        }
        let Some((to, local, remote, data)) = queue.pop_front() else {
            break;
        };
        let t = Instant::now();
        engines[to].handle_datagram(now, local, remote, &data);
        if to == 1 {
            responder_time += t.elapsed();
        }
    }
    assert_eq!(installed, 4, "the handshake completed");
    responder_time
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("responder handshake");
    let mut rates = Vec::new();
    for (name, dh) in [
        ("group 2", DhGroup::Modp1024),
        ("group 14", DhGroup::Modp2048),
        ("group 19", DhGroup::Ecp256),
        ("group 20", DhGroup::Ecp384),
        ("group 21", DhGroup::Ecp521),
        ("group 24", DhGroup::Modp2048s256),
    ] {
        group.bench_function(name, |b| {
            let mut seed = 1;
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        seed += 1;
                        handshake(dh, seed)
                    })
                    .sum()
            })
        });
        let n = 50;
        let total: Duration = (0..n).map(|s| handshake(dh, 1000 + s)).sum();
        rates.push((name, n as f64 / total.as_secs_f64(), total / n as u32));
    }
    group.finish();
    println!("responder handshakes per second per core (MM + QM):");
    for (name, rate, each) in &rates {
        println!("  {name:<9} {rate:>8.0}/s  ({each:?} each)");
    }
    let rate = |g: &str| rates.iter().find(|r| r.0 == g).map_or(0.0, |r| r.1);
    println!(
        "group 19 / group 14: {:.1}x (target: at least 3x)",
        rate("group 19") / rate("group 14")
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
