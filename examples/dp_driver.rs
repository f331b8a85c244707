//! Test driver for the data paths without the IKE engine: installs one tunnel and a
//! pair of SAs with keys both sides derive from the same seed, then obeys stdin:
//! `counters` prints the SA counters as JSON, `quit` (or EOF) shuts down and cleans up.
//!
//! dp_driver --dataplane kernel|userspace --name Tunnel23 --if-id 23 --local A --peer B
//!           [--inner v6|v4] [--ipv4 A/L] [--ipv6 P/L] [--link-local X] [--mtu N]
//!           --spi-in N --spi-out N [--transform esp-aes,esp-sha-hmac|esp-gcm 256|...]
//!           [--encap SPORT:DPORT] [--gre KEY|nokey] [--mode tunnel|transport]
//!           [--vrf NAME] [--tunnel-vrf NAME] [--route P/L]
use ikev1d::crypto::Secret;
use ikev1d::dataplane::{self, DataplaneKind, Gre, InterfaceOptions, TunnelSpec};
use ikev1d::ipsec::{
    Direction, EspAuth, EspEncr, EspMode, EspTransform, InnerFamily, Lifetimes, SaSpec, UdpEncap,
};
use std::collections::HashMap;
use std::io::BufRead;

/// `esp-aes,esp-sha-hmac`, `esp-gcm 256`: IOS words, a comma between the transforms.
fn parse_transform(s: &str) -> EspTransform {
    let encr = EspEncr::ALL
        .into_iter()
        .find(|e| s.split(',').any(|part| part == e.ios_name()))
        .unwrap_or(EspEncr::Aes(128));
    let auth = EspAuth::ALL
        .into_iter()
        .find(|a| s.split(',').any(|part| part == a.ios_name()))
        .unwrap_or(if encr.is_combined() {
            EspAuth::None
        } else {
            EspAuth::HmacSha1
        });
    EspTransform::new(encr, auth).unwrap_or_else(|why| panic!("--transform {s}: {why}"))
}

/// Deterministic test keys: both ends compute the same from the SPI.
fn test_key(spi: u32, tag: u8, len: usize) -> Secret {
    Secret::new(
        (0..len)
            .map(|i| (spi as u8) ^ tag ^ (i as u8).wrapping_mul(31))
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opt = HashMap::new();
    for pair in args.chunks(2) {
        opt.insert(
            pair[0].trim_start_matches("--").to_string(),
            pair.get(1).cloned().unwrap_or_default(),
        );
    }
    let get = |k: &str| {
        opt.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("--{k} missing"))
    };
    let kind = match get("dataplane").as_str() {
        "kernel" => DataplaneKind::Kernel,
        _ => DataplaneKind::Userspace,
    };
    fn net<A: std::str::FromStr>(s: &str) -> (A, u8) {
        let (a, l) = s.split_once('/').expect("ADDR/LEN");
        let a = a.parse().ok().expect("address");
        (a, l.parse().expect("prefix length"))
    }
    // `--gre KEY` or `--gre nokey`: GRE over IPsec, whose SAs carry the outer family.
    let gre = opt.get("gre").map(|k| Gre {
        key: k.parse().ok(),
    });
    let local: std::net::IpAddr = get("local").parse().unwrap();
    let inner = match (gre, opt.get("inner").map(String::as_str)) {
        (Some(_), _) if local.is_ipv4() => InnerFamily::V4,
        (None, Some("v4")) => InnerFamily::V4,
        _ => InnerFamily::V6,
    };
    let mode = match opt.get("mode").map(String::as_str) {
        Some("transport") => EspMode::Transport,
        _ => EspMode::Tunnel,
    };
    let tunnel = TunnelSpec {
        name: get("name"),
        if_id: get("if-id").parse().unwrap(),
        local,
        peer: get("peer").parse().unwrap(),
        inner,
        ipv4: opt.get("ipv4").map(|s| net(s)),
        ipv6: opt.get("ipv6").map(|s| vec![net(s)]).unwrap_or_default(),
        link_local: opt.get("link-local").map(|s| s.parse().unwrap()),
        mtu: opt.get("mtu").map(|s| s.parse().unwrap()),
        routes: opt
            .get("route")
            .map(|r| {
                let (a, l) = net::<std::net::IpAddr>(r);
                vec![(a, l)]
            })
            .unwrap_or_default(),
        options: InterfaceOptions {
            gre,
            vrf: opt.get("vrf").cloned(),
            tunnel_vrf: opt.get("tunnel-vrf").cloned(),
            ..Default::default()
        },
    };
    let transform = parse_transform(
        opt.get("transform")
            .map(String::as_str)
            .unwrap_or("esp-aes,esp-sha-hmac"),
    );
    let encap = opt.get("encap").map(|s| {
        let (a, b) = s.split_once(':').unwrap();
        UdpEncap {
            sport: a.parse().unwrap(),
            dport: b.parse().unwrap(),
        }
    });
    let mut dp = dataplane::open(kind).unwrap_or_else(|e| {
        eprintln!("dp_driver: {e}");
        std::process::exit(1)
    });
    dp.ensure_tunnel(&tunnel).expect("ensure_tunnel");
    let sa = |direction, spi: u32, src, dst| SaSpec {
        tunnel: tunnel.name.clone(),
        direction,
        spi,
        src,
        dst,
        inner,
        mode,
        transform,
        enc_key: test_key(spi, 0x11, transform.encr.key_len()),
        auth_key: test_key(spi, 0x22, transform.auth.key_len()),
        lifetimes: Lifetimes::default(),
        encap,
        replay_window: 64,
    };
    let (spi_in, spi_out): (u32, u32) = (
        get("spi-in").parse().unwrap(),
        get("spi-out").parse().unwrap(),
    );
    dp.install_sa(
        &tunnel,
        &sa(Direction::In, spi_in, tunnel.peer, tunnel.local),
    )
    .expect("install inbound");
    dp.install_sa(
        &tunnel,
        &sa(Direction::Out, spi_out, tunnel.local, tunnel.peer),
    )
    .expect("install outbound");
    println!("READY");
    for line in std::io::stdin().lock().lines() {
        match line.unwrap_or_default().trim() {
            "counters" => {
                let i = dp
                    .counters(&tunnel.name, Direction::In, spi_in, tunnel.local)
                    .expect("counters");
                let o = dp
                    .counters(&tunnel.name, Direction::Out, spi_out, tunnel.peer)
                    .expect("counters");
                println!("{}", serde_json::json!({ "inbound": i, "outbound": o }));
            }
            "quit" => break,
            _ => {}
        }
    }
    dp.shutdown();
}
