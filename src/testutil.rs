//! Test helpers: read the strongSwan captures in `tests/fixtures/` (pcapng, Ethernet,
//! IPv6 or IPv4, UDP 500/4500 or raw ESP) and their `.keys` files.

use std::collections::BTreeMap;

/// Which freed memory still holds secrets (an inspecting allocator).
#[allow(unsafe_code)]
pub mod freed;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// One captured datagram, outer headers stripped.
#[derive(Debug, Clone)]
pub struct Captured {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `Some((sport, dport))` for UDP, `None` for raw ESP (protocol 50).
    pub udp: Option<(u16, u16)>,
    /// UDP payload, or the ESP packet for protocol 50.
    pub payload: Vec<u8>,
}

impl Captured {
    /// The ISAKMP message: the UDP payload on port 500, or after the 4-byte non-ESP
    /// marker on port 4500 (RFC 3948). `None` for ESP.
    pub fn isakmp(&self) -> Option<&[u8]> {
        match self.udp {
            Some((500, _)) | Some((_, 500)) => Some(&self.payload),
            Some(_) if self.payload.len() >= 4 && self.payload[..4] == [0; 4] => {
                Some(&self.payload[4..])
            }
            _ => None,
        }
    }
    /// The ESP packet: raw protocol 50, or UDP 4500 without the non-ESP marker.
    pub fn esp(&self) -> Option<&[u8]> {
        match self.udp {
            None => Some(&self.payload),
            Some((500, _)) | Some((_, 500)) => None,
            Some(_) if self.payload.len() >= 4 && self.payload[..4] != [0; 4] => {
                Some(&self.payload)
            }
            _ => None,
        }
    }
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The kept corpus of a fuzz target (`fuzz/corpus/TARGET`: the captures' messages and
/// the inputs of past cargo-fuzz runs that reached new edges), each input with its file
/// name, so that `cargo test` replays what `scripts/fuzz.sh` starts from.
pub fn fuzz_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.expect("corpus entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("corpus input"))
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} is empty", dir.display());
    inputs
}

/// Every IP datagram of a pcapng capture with Ethernet link type.
pub fn read_pcapng(name: &str) -> Vec<Captured> {
    let data = std::fs::read(fixture_path(name)).expect("fixture");
    let u32le = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut off = 0;
    while off + 8 <= data.len() {
        let (block_type, len) = (u32le(off), u32le(off + 4) as usize);
        if block_type == 6 {
            let cap = u32le(off + 20) as usize;
            if let Some(c) = parse_ethernet(&data[off + 28..off + 28 + cap]) {
                out.push(c);
            }
        }
        off += len;
    }
    out
}

fn parse_ethernet(frame: &[u8]) -> Option<Captured> {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let ip = &frame[14..];
    let (src, dst, proto, l4) = match ethertype {
        0x86dd => {
            let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let s: [u8; 16] = ip[8..24].try_into().ok()?;
            let d: [u8; 16] = ip[24..40].try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                ip[6],
                &ip[40..40 + plen],
            )
        }
        0x0800 => {
            let ihl = (ip[0] & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            let s: [u8; 4] = ip[12..16].try_into().ok()?;
            let d: [u8; 4] = ip[16..20].try_into().ok()?;
            (
                IpAddr::V4(Ipv4Addr::from(s)),
                IpAddr::V4(Ipv4Addr::from(d)),
                ip[9],
                &ip[ihl..total],
            )
        }
        _ => return None,
    };
    match proto {
        17 => Some(Captured {
            src,
            dst,
            udp: Some((
                u16::from_be_bytes([l4[0], l4[1]]),
                u16::from_be_bytes([l4[2], l4[3]]),
            )),
            payload: l4[8..].to_vec(),
        }),
        50 => Some(Captured {
            src,
            dst,
            udp: None,
            payload: l4.to_vec(),
        }),
        _ => None,
    }
}

/// `label=hex` lines of a `.keys` file. Repeated labels (the IV chain) keep every value
/// in order.
pub fn read_keys(name: &str) -> BTreeMap<String, Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(fixture_path(name)).expect("keys fixture");
    let mut map: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            map.entry(k.to_string()).or_default().push(unhex(v));
        }
    }
    map
}

pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_captures() {
        let nonat = read_pcapng("ikev1-psk-des-sha1-modp768-nonat.pcapng");
        assert_eq!(nonat.len(), 10);
        assert!(nonat.iter().all(|c| c.isakmp().is_some()));
        let libipsec = read_pcapng("ikev1-psk-des-sha1-modp768-libipsec.pcapng");
        assert!(libipsec.iter().any(|c| c.esp().is_some()));
        let keys = read_keys("ikev1-psk-des-sha1-modp768-nonat.keys");
        assert_eq!(keys["icookie"][0], unhex("76ca95268ce66815"));
    }
}
