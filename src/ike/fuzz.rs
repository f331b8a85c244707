//! Fuzzing a responder (`fuzz/fuzz_targets/responder.rs`, and `tests::responder_survives
//! mutated sessions` without nightly): an engine with the seed's configuration answers
//! a valid MM1..MM4 from an initiator crafted here, who therefore knows the phase 1
//! keys; then the fuzzer's input, cut into records, drives the exchange on. A record
//! is a datagram as it is, or a payload chain the initiator encrypts (and, where the
//! exchange has one, authenticates with HASH(1)) so that the input reaches what lies
//! behind decryption: MM5, Quick Mode and Informational handling. Time passes at the
//! fuzzer's command, so timers fire too. The property: no panic, and the engine's
//! state stays bounded.
//!
//! A record: `kind`, a length (u16, big-endian), that many bytes.
//! - 0: the bytes as a datagram from the initiator's address (UDP 500);
//! - 1: the bytes as a datagram from another address;
//! - 2: the bytes as an encrypted MM5 payload chain;
//! - 3: our valid MM5 (ID and HASH_I): phase 1 comes up;
//! - 4: an Informational: message ID (4 bytes), the first payload's type, the payload
//!   chain, sent after a HASH(1) over it;
//! - 5: the same as a Quick Mode message (QM1 when the message ID is new);
//! - 6: let the first byte's seconds pass.

use super::protect::{self, Protection};
use super::settings::Settings;
use super::{Action, Command, Engine};
use crate::crypto::{kdf, CipherAlg, DhGroup, DhPrivate, HashAlg, Phase1Keys, TestRng};
use crate::isakmp::{
    encode_payloads, ExchangeType, Header, Message, Payload, PayloadType, FLAG_ENCRYPTION,
    HEADER_LEN,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PSK: &[u8] = b"cisco";
const ICOOKIE: [u8; 8] = [0x49, 0x4b, 0x45, 0x76, 0x31, 0x66, 0x7a, 0x7a];
const NI: [u8; 16] = [0x11; 16];
/// ISAKMP SAs the engine may hold at most after any input (the initiator's, and the
/// per-peer limit's worth from it and from the one other address records use).
const MAX_SAS: usize = 16;

/// The seed's responder (R3), answering only.
fn responder_settings(local: SocketAddr, peer: SocketAddr) -> Settings {
    Settings {
        passive: true,
        ..super::settings::seed(local.ip(), peer.ip())
    }
}

/// The responder under test and the initiator that talks to it.
struct Session {
    engine: Engine,
    now: Instant,
    ours: SocketAddr,
    peer: SocketAddr,
    /// Every datagram the responder sent, the last one last.
    sent: Vec<Vec<u8>>,
    next_spi: u32,
    rcookie: [u8; 8],
    sa_i_b: Vec<u8>,
    g_xi: Vec<u8>,
    g_xr: Vec<u8>,
    keys: Option<Phase1Keys>,
    /// The CBC IV of MM5 (RFC 2409 appendix B).
    mm5_iv: Vec<u8>,
}

impl Session {
    fn new() -> Session {
        let ours: SocketAddr = "[2001:db8::3]:500".parse().expect("an address");
        let peer: SocketAddr = "[2001:db8::2]:500".parse().expect("an address");
        let now = Instant::now();
        Session {
            engine: Engine::new(
                responder_settings(ours, peer),
                Box::new(TestRng::new(7)),
                now,
            ),
            now,
            ours,
            peer,
            sent: Vec::new(),
            next_spi: 0x1000,
            rcookie: [0; 8],
            sa_i_b: Vec::new(),
            g_xi: Vec::new(),
            g_xr: Vec::new(),
            keys: None,
            mm5_iv: Vec::new(),
        }
    }

    /// Deliver `data` from `from`, then carry out what the engine asks (the data path
    /// and the DH workers answer at once).
    fn deliver(&mut self, from: SocketAddr, data: &[u8]) {
        self.engine.handle_datagram(self.now, self.ours, from, data);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::Send { data, .. } => self.sent.push(data),
                Action::ComputeDh(job) => self
                    .engine
                    .handle_command(self.now, Command::DhComputed(job.run())),
                Action::AllocSpi { request, .. } => {
                    self.next_spi += 1;
                    let spi = self.next_spi;
                    self.engine
                        .handle_command(self.now, Command::SpiAllocated { request, spi });
                }
                Action::NatKeepalive { .. }
                | Action::InstallSa(_)
                | Action::DeleteSa { .. }
                | Action::CloneInterface(_)
                | Action::RemoveInterface(_)
                | Action::Log(_) => {}
            }
        }
        assert!(
            self.engine.phase1.len() <= MAX_SAS,
            "unbounded state: {:?}",
            self.engine
        );
    }

    fn header(&self, exchange: ExchangeType, message_id: u32) -> Header {
        Header {
            icookie: ICOOKIE,
            rcookie: self.rcookie,
            next_payload: PayloadType::NONE,
            version: 0x10,
            exchange,
            flags: 0,
            message_id,
            length: 0,
        }
    }

    /// MM1..MM4, valid: the responder waits for MM5 with keys we know too.
    fn key_exchange(&mut self) -> Option<()> {
        let sa = Payload::Sa(super::proposal::p1_offer(
            &responder_settings(self.ours, self.peer).policies,
        ));
        self.sa_i_b = super::main_mode::payload_body(&sa);
        let mm1 = protect::plain(&self.header(ExchangeType::MAIN_MODE, 0), &[sa]);
        self.deliver(self.peer, &mm1);
        self.rcookie = Header::decode(self.sent.last()?).ok()?.rcookie;
        let dh = DhPrivate::from_exponent(DhGroup::Modp768, &[0x42; 32]);
        self.g_xi = dh.public_value();
        let payloads = [
            Payload::KeyExchange(self.g_xi.clone()),
            Payload::Nonce(NI.to_vec()),
        ];
        let mm3 = protect::plain(&self.header(ExchangeType::MAIN_MODE, 0), &payloads);
        self.deliver(self.peer, &mm3);
        let mm4 = Message::decode(self.sent.last()?).ok()?;
        let (Some(Payload::KeyExchange(g_xr)), Some(Payload::Nonce(nr))) = (
            mm4.find(PayloadType::KE).cloned(),
            mm4.find(PayloadType::NONCE).cloned(),
        ) else {
            return None;
        };
        let g_xy = dh.complete(&g_xr).ok()?;
        self.keys = Some(kdf::derive_phase1_psk(
            HashAlg::Sha1,
            CipherAlg::Des,
            PSK,
            &NI,
            &nr,
            g_xy.as_bytes(),
            &ICOOKIE,
            &self.rcookie,
        ));
        self.mm5_iv = kdf::initial_iv(HashAlg::Sha1, CipherAlg::Des, &self.g_xi, &g_xr);
        self.g_xr = g_xr;
        Some(())
    }

    /// `body` (a payload chain starting with payload type `first`) encrypted as the
    /// message `header` says, with `iv`.
    fn seal(&self, header: Header, first: PayloadType, body: &[u8], iv: &[u8]) -> Vec<u8> {
        let Some(keys) = &self.keys else {
            return Vec::new();
        };
        let mut body = body.to_vec();
        body.resize(body.len().div_ceil(8).max(1) * 8, 0);
        let key = Protection {
            cipher: CipherAlg::Des,
            key: keys.enc_key.as_bytes(),
        };
        if key.cipher.encrypt(key.key, iv, &mut body).is_err() {
            return Vec::new();
        }
        let header = Header {
            next_payload: first,
            flags: FLAG_ENCRYPTION,
            length: (HEADER_LEN + body.len()) as u32,
            ..header
        };
        let mut out = Vec::new();
        header.encode(&mut out);
        out.extend_from_slice(&body);
        out
    }

    /// Our MM5: ID and HASH_I (RFC 2409 5.4).
    fn valid_mm5(&self) -> Vec<u8> {
        let Some(keys) = &self.keys else {
            return Vec::new();
        };
        let id = Payload::Id(super::identity::phase1_id(
            self.peer.ip(),
            &super::settings::LocalIdentity::Address,
        ));
        let hash_i = kdf::hash_phase1(
            HashAlg::Sha1,
            keys.skeyid.as_bytes(),
            &self.g_xi,
            &self.g_xr,
            &ICOOKIE,
            &self.rcookie,
            &self.sa_i_b,
            &super::main_mode::payload_body(&id),
        );
        let mut body = Vec::new();
        let first = encode_payloads(&[id, Payload::Hash(hash_i)], &mut body);
        self.seal(
            self.header(ExchangeType::MAIN_MODE, 0),
            first,
            &body,
            &self.mm5_iv,
        )
    }

    /// `chain` (a payload chain from the fuzzer, its first payload of type `first`)
    /// after a HASH(1) payload that covers it (RFC 2409 5.5, 5.7), encrypted with the
    /// IV of message `message_id`.
    fn with_hash_1(
        &self,
        exchange: ExchangeType,
        message_id: u32,
        first: u8,
        chain: &[u8],
    ) -> Vec<u8> {
        let (Some(keys), Some(mm6)) = (&self.keys, self.sent.last()) else {
            return Vec::new();
        };
        // The last CBC block of phase 1 (MM6's) seeds every later IV.
        let last_block = &mm6[mm6.len().saturating_sub(8)..];
        let iv = kdf::message_iv(HashAlg::Sha1, CipherAlg::Des, last_block, message_id);
        let hash = kdf::hash_qm1(HashAlg::Sha1, keys.skeyid_a.as_bytes(), message_id, chain);
        let mut body = vec![first, 0];
        body.extend_from_slice(&((4 + hash.len()) as u16).to_be_bytes());
        body.extend_from_slice(&hash);
        body.extend_from_slice(chain);
        self.seal(
            self.header(exchange, message_id),
            PayloadType::HASH,
            &body,
            &iv,
        )
    }

    fn record(&mut self, kind: u8, bytes: &[u8]) {
        let elsewhere: SocketAddr = "[2001:db8::66]:500".parse().expect("an address");
        let message_id = |b: &[u8]| {
            b.get(..4)
                .and_then(|m| m.try_into().ok())
                .map_or(1, u32::from_be_bytes)
        };
        match kind % 7 {
            0 => self.deliver(self.peer, bytes),
            1 => self.deliver(elsewhere, bytes),
            2 => {
                let first = PayloadType(bytes.first().copied().unwrap_or(0));
                let body = bytes.get(1..).unwrap_or(&[]);
                let mm5 = self.seal(
                    self.header(ExchangeType::MAIN_MODE, 0),
                    first,
                    body,
                    &self.mm5_iv,
                );
                self.deliver(self.peer, &mm5);
            }
            3 => {
                let mm5 = self.valid_mm5();
                self.deliver(self.peer, &mm5);
            }
            4 | 5 => {
                let exchange = if kind % 7 == 4 {
                    ExchangeType::INFORMATIONAL
                } else {
                    ExchangeType::QUICK_MODE
                };
                let m = self.with_hash_1(
                    exchange,
                    message_id(bytes),
                    bytes.get(4).copied().unwrap_or(0),
                    bytes.get(5..).unwrap_or(&[]),
                );
                self.deliver(self.peer, &m);
            }
            _ => {
                let secs = bytes.first().copied().unwrap_or(1);
                self.now += Duration::from_secs(secs.into());
                self.engine.handle_timeout(self.now);
                self.drain();
            }
        }
    }
}

/// One fuzz input: a responder past MM4, then the input's records.
pub fn responder(data: &[u8]) {
    let mut s = Session::new();
    if s.key_exchange().is_none() {
        panic!("the valid MM1..MM4 prefix failed: {:?}", s.engine);
    }
    let mut rest = data;
    while let [kind, a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        s.record(*kind, bytes);
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Rng;

    fn record(kind: u8, bytes: &[u8]) -> Vec<u8> {
        let mut r = vec![kind];
        r.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        r.extend_from_slice(bytes);
        r
    }

    /// The harness reaches the encrypted states: our MM5 brings phase 1 up, and a
    /// Quick Mode and an Informational protected with our keys are taken.
    #[test]
    fn the_crafted_initiator_gets_phase_1_up() {
        let mut s = Session::new();
        s.key_exchange().expect("MM1..MM4");
        s.record(3, &[]);
        let up = s.engine.isakmp_sas(s.now);
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].state, "QM_IDLE", "{:?}", s.engine);
        // An R-U-THERE is answered: Informationals open and verify.
        let sent = s.sent.len();
        let notify = Payload::Notify(crate::isakmp::NotifyPayload {
            doi: crate::isakmp::DOI_IPSEC,
            protocol: crate::isakmp::ProtocolId::ISAKMP,
            notify_type: crate::isakmp::NotifyType::R_U_THERE,
            spi: [ICOOKIE, s.rcookie].concat(),
            data: 5u32.to_be_bytes().to_vec(),
        });
        let mut chain = Vec::new();
        let first = encode_payloads(&[notify], &mut chain);
        let mut info = 77u32.to_be_bytes().to_vec();
        info.push(first.0);
        info.extend_from_slice(&chain);
        s.record(4, &info);
        assert_eq!(s.sent.len(), sent + 1, "the R-U-THERE-ACK");
    }

    /// What the fuzz target does, on mutated sessions (a deterministic loop: the
    /// property holds without nightly too).
    #[test]
    fn responder_survives_mutated_sessions() {
        let mut rng = TestRng::new(99);
        let seeds = [
            record(3, &[]),
            record(
                4,
                &[
                    0, 0, 0, 9, 11, 0, 0, 0, 16, 0, 0, 0, 1, 1, 4, 0, 1, 1, 2, 3, 4,
                ],
            ),
            record(5, &[0, 0, 0, 5, 1, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 1]),
            record(6, &[40]),
            record(2, &[5, 0, 0, 8, 1, 0, 0, 0]),
            record(0, &[0; 28]),
        ];
        for _ in 0..300 {
            let mut input = Vec::new();
            for _ in 0..1 + rng.next_u32() % 6 {
                let mut r = seeds[(rng.next_u32() % seeds.len() as u32) as usize].clone();
                for _ in 0..rng.next_u32() % 4 {
                    let at = (rng.next_u32() as usize) % r.len();
                    r[at] ^= 1 << (rng.next_u32() % 8);
                }
                input.extend(r);
            }
            responder(&input);
        }
    }

    /// Every input of the kept corpus (`fuzz/corpus/responder`) through the fuzz
    /// target's harness: what a cargo-fuzz run starts from holds in `cargo test`.
    #[test]
    fn responder_survives_the_fuzz_corpus() {
        for (name, input) in crate::testutil::fuzz_corpus("responder") {
            let run = std::panic::catch_unwind(|| responder(&input));
            assert!(run.is_ok(), "fuzz/corpus/responder/{name}");
        }
    }
}
