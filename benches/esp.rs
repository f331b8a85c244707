//! ESP seal and open of 1400-byte packets in place, per transform: what the userspace
//! data path's crypto costs per packet, without TUN and socket overhead. Prints MB/s
//! per core for each transform and esp-gcm 256 against esp-aes esp-sha-hmac.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ikev1d::crypto::{EspAuth, EspEncr, EspSa, EspTransform};
use std::time::{Duration, Instant};

const PAYLOAD: usize = 1400;

fn sa(t: EspTransform) -> EspSa {
    let enc = vec![0x11; t.encr.key_len()];
    let auth = vec![0x22; t.auth.key_len()];
    EspSa::new(0x1000, t, &enc, &auth).expect("keys of the transform's lengths")
}

/// Seal one packet into `buf`, then open it again; returns the ESP length.
fn round_trip(sa: &EspSa, seq: u32, buf: &mut [u8]) -> usize {
    let iv = [0x3c; 16];
    let len = sa
        .seal(seq, &iv[..sa.random_iv_len()], 4, buf, PAYLOAD)
        .expect("room for the trailer");
    sa.open(&mut buf[..len]).expect("our own packet opens");
    len
}

fn bench(c: &mut Criterion) {
    let transforms = [
        (EspEncr::Aes(128), EspAuth::HmacSha1),
        (EspEncr::Aes(256), EspAuth::HmacSha256),
        (EspEncr::Aes(256), EspAuth::HmacSha512),
        (EspEncr::AesGcm(128), EspAuth::None),
        (EspEncr::AesGcm(256), EspAuth::None),
        (EspEncr::AesGmac(128), EspAuth::None),
    ];
    let mut group = c.benchmark_group("esp seal+open 1400 B");
    group.throughput(Throughput::Bytes(PAYLOAD as u64));
    let mut rates = Vec::new();
    for (encr, auth) in transforms {
        let t = EspTransform::new(encr, auth).expect("a valid transform set");
        let sa = sa(t);
        let mut buf = vec![0u8; sa.header_len() + PAYLOAD + sa.max_trailer_len()];
        group.bench_function(t.ios_name(), |b| {
            let mut seq = 0;
            b.iter(|| {
                seq += 1;
                round_trip(&sa, seq, &mut buf)
            })
        });
        let n = 20_000u32;
        let start = Instant::now();
        for seq in 1..=n {
            round_trip(&sa, seq, &mut buf);
        }
        let each: Duration = start.elapsed() / n;
        rates.push((t.ios_name(), PAYLOAD as f64 / each.as_secs_f64() / 1e6));
    }
    group.finish();
    println!("ESP seal + open, {PAYLOAD}-byte payloads, one core:");
    for (name, rate) in &rates {
        println!("  {name:<28} {rate:>7.0} MB/s");
    }
    let rate = |n: &str| rates.iter().find(|r| r.0 == n).map_or(0.0, |r| r.1);
    println!(
        "esp-gcm 256 / esp-aes esp-sha-hmac: {:.1}x",
        rate("esp-gcm 256") / rate("esp-aes esp-sha-hmac")
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
