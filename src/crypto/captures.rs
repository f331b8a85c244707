//! The crypto layer against real strongSwan 5.9.8 exchanges (`tests/fixtures/`, PSK
//! "cisco", DES / SHA-1 / modp768): every key, IV, HASH and ESP packet must come out
//! exactly as strongSwan logged and sent it.

use super::kdf::{self, Phase1Keys};
use super::{ct_eq, CipherAlg, EspAuth, EspEncr, EspSa, EspTransform, HashAlg};
use crate::testutil::{read_keys, read_pcapng};
use std::collections::BTreeMap;
use std::net::Ipv6Addr;

const PRF: HashAlg = HashAlg::Sha1;
const CIPHER: CipherAlg = CipherAlg::Des;
const PSK: &[u8] = b"cisco";

/// Just enough ISAKMP to find payloads (RFC 2408 3.1, 3.2). Test-only: swap for
/// `crate::isakmp` once the codec lands.
mod wire {
    pub const HEADER_LEN: usize = 28;
    pub const SA: u8 = 1;
    pub const KE: u8 = 4;
    pub const ID: u8 = 5;
    pub const HASH: u8 = 8;
    pub const NONCE: u8 = 10;
    pub const MAIN_MODE: u8 = 2;
    pub const INFORMATIONAL: u8 = 5;
    pub const QUICK_MODE: u8 = 32;

    pub struct Header {
        pub cky_i: [u8; 8],
        pub cky_r: [u8; 8],
        pub next_payload: u8,
        pub exchange: u8,
        pub encrypted: bool,
        pub message_id: u32,
        pub len: usize,
    }

    pub fn header(msg: &[u8]) -> Header {
        Header {
            cky_i: msg[0..8].try_into().unwrap(),
            cky_r: msg[8..16].try_into().unwrap(),
            next_payload: msg[16],
            exchange: msg[18],
            encrypted: msg[19] & 1 != 0,
            message_id: u32::from_be_bytes(msg[20..24].try_into().unwrap()),
            len: u32::from_be_bytes(msg[24..28].try_into().unwrap()) as usize,
        }
    }

    pub struct Payload<'a> {
        pub kind: u8,
        /// The payload without its generic header (the `_b` of RFC 2409).
        pub body: &'a [u8],
        /// End of the payload in the walked buffer.
        pub end: usize,
    }

    /// The chain starting with `first` (generic header: next, reserved, length).
    pub fn payloads(first: u8, buf: &[u8]) -> Vec<Payload<'_>> {
        let mut out = Vec::new();
        let (mut kind, mut off) = (first, 0);
        while kind != 0 {
            let len = usize::from(u16::from_be_bytes([buf[off + 2], buf[off + 3]]));
            out.push(Payload {
                kind,
                body: &buf[off + 4..off + len],
                end: off + len,
            });
            kind = buf[off];
            off += len;
        }
        out
    }

    pub fn find<'a>(payloads: &'a [Payload<'a>], kind: u8) -> &'a Payload<'a> {
        payloads.iter().find(|p| p.kind == kind).expect("payload")
    }
}

struct Capture {
    keys: BTreeMap<String, Vec<Vec<u8>>>,
    isakmp: Vec<Vec<u8>>,
    esp: Vec<Vec<u8>>,
}

impl Capture {
    fn load(name: &str) -> Self {
        let packets = read_pcapng(&format!("{name}.pcapng"));
        Capture {
            keys: read_keys(&format!("{name}.keys")),
            isakmp: packets
                .iter()
                .filter_map(|c| c.isakmp().map(<[u8]>::to_vec))
                .collect(),
            esp: packets
                .iter()
                .filter_map(|c| c.esp().map(<[u8]>::to_vec))
                .collect(),
        }
    }
    fn key(&self, label: &str) -> &[u8] {
        &self.keys[label][0]
    }
    fn ivs(&self, message_id: u32) -> &[Vec<u8>] {
        &self.keys[&format!("next_IV_for_MID_{message_id}")]
    }
    fn messages(&self, exchange: u8) -> impl Iterator<Item = &[u8]> {
        self.isakmp
            .iter()
            .filter(move |m| wire::header(m).exchange == exchange)
            .map(Vec::as_slice)
    }
}

/// Decrypts the body of `msg` with `iv` (RFC 2409 appendix B); returns the plaintext
/// and the last ciphertext block, the IV of the exchange's next message.
fn decrypt(keys: &Phase1Keys, msg: &[u8], iv: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let header = wire::header(msg);
    assert!(header.encrypted);
    let mut body = msg[wire::HEADER_LEN..header.len].to_vec();
    let next_iv = body[body.len() - CIPHER.block_len()..].to_vec();
    CIPHER
        .decrypt(keys.enc_key.as_bytes(), iv, &mut body)
        .unwrap();
    (body, next_iv)
}

/// What the Main Mode part of a capture yields for the later exchanges.
struct Phase1 {
    keys: Phase1Keys,
    last_block: Vec<u8>,
}

fn main_mode(cap: &Capture) -> Phase1 {
    let mm: Vec<&[u8]> = cap.messages(wire::MAIN_MODE).collect();
    assert_eq!(mm.len(), 6);
    let h1 = wire::header(mm[0]);
    let body = |m: &[u8]| wire::HEADER_LEN..wire::header(m).len;
    let mm1 = wire::payloads(h1.next_payload, &mm[0][body(mm[0])]);
    let sai_b = wire::find(&mm1, wire::SA).body;
    let mm3 = wire::payloads(wire::header(mm[2]).next_payload, &mm[2][body(mm[2])]);
    let mm4 = wire::payloads(wire::header(mm[3]).next_payload, &mm[3][body(mm[3])]);
    let (g_xi, ni_b) = (
        wire::find(&mm3, wire::KE).body,
        wire::find(&mm3, wire::NONCE).body,
    );
    let (g_xr, nr_b) = (
        wire::find(&mm4, wire::KE).body,
        wire::find(&mm4, wire::NONCE).body,
    );
    let (cky_i, cky_r) = (wire::header(mm[4]).cky_i, wire::header(mm[4]).cky_r);
    assert_eq!(cky_i[..], *cap.key("icookie"));
    assert_eq!(cky_r[..], *cap.key("rcookie"));

    let keys = kdf::derive_phase1_psk(
        PRF,
        CIPHER,
        PSK,
        ni_b,
        nr_b,
        cap.key("shared_Diffie_Hellman_secret"),
        &cky_i,
        &cky_r,
    );
    assert_eq!(keys.skeyid.as_bytes(), cap.key("SKEYID"));
    assert_eq!(keys.skeyid_d.as_bytes(), cap.key("SKEYID_d"));
    assert_eq!(keys.skeyid_a.as_bytes(), cap.key("SKEYID_a"));
    assert_eq!(keys.skeyid_e.as_bytes(), cap.key("SKEYID_e"));
    assert_eq!(keys.enc_key.as_bytes(), cap.key("encryption_key_Ka"));

    let iv = kdf::initial_iv(PRF, CIPHER, g_xi, g_xr);
    assert_eq!(iv, cap.key("initial_IV"));

    // MM5: IDii and HASH_I, under the initial IV.
    let (mm5, iv) = decrypt(&keys, mm[4], &iv);
    assert_eq!(iv, cap.ivs(0)[0]);
    let mm5 = wire::payloads(wire::header(mm[4]).next_payload, &mm5);
    let idii_b = wire::find(&mm5, wire::ID).body;
    assert_id_names(idii_b, "2001:db8::2");
    let hash_i = kdf::hash_phase1(
        PRF,
        keys.skeyid.as_bytes(),
        g_xi,
        g_xr,
        &cky_i,
        &cky_r,
        sai_b,
        idii_b,
    );
    assert!(ct_eq(&hash_i, wire::find(&mm5, wire::HASH).body), "HASH_I");

    // MM6: IDir and HASH_R, chained on MM5's last block.
    let (mm6, last_block) = decrypt(&keys, mm[5], &iv);
    assert_eq!(last_block, cap.ivs(0)[1]);
    let mm6 = wire::payloads(wire::header(mm[5]).next_payload, &mm6);
    let idir_b = wire::find(&mm6, wire::ID).body;
    assert_id_names(idir_b, "2001:db8::3");
    let hash_r = kdf::hash_phase1(
        PRF,
        keys.skeyid.as_bytes(),
        g_xr,
        g_xi,
        &cky_r,
        &cky_i,
        sai_b,
        idir_b,
    );
    assert!(ct_eq(&hash_r, wire::find(&mm6, wire::HASH).body), "HASH_R");
    Phase1 { keys, last_block }
}

/// ID_IPV6_ADDR (type 5), protocol and port as strongSwan sends them, then the address.
fn assert_id_names(id_b: &[u8], addr: &str) {
    assert_eq!(id_b[0], 5, "ID_IPV6_ADDR");
    let bytes: [u8; 16] = id_b[4..20].try_into().unwrap();
    assert_eq!(Ipv6Addr::from(bytes), addr.parse::<Ipv6Addr>().unwrap());
}

/// The Quick Mode nonces and the SPI each side chose (from its SA proposal).
struct QuickMode {
    ni_b: Vec<u8>,
    nr_b: Vec<u8>,
    spi_i: u32,
    spi_r: u32,
}

fn quick_mode(cap: &Capture, p1: &Phase1) -> QuickMode {
    let qm: Vec<&[u8]> = cap.messages(wire::QUICK_MODE).collect();
    let message_id = wire::header(qm[0]).message_id;
    let skeyid_a = p1.keys.skeyid_a.as_bytes();
    let expected_ivs = cap.ivs(message_id);
    let mut iv = kdf::message_iv(PRF, CIPHER, &p1.last_block, message_id);
    let mut ivs = vec![iv.clone()];
    let mut plaintexts = Vec::new();
    for msg in &qm {
        assert_eq!(wire::header(msg).message_id, message_id);
        let (plain, next) = decrypt(&p1.keys, msg, &iv);
        plaintexts.push(plain);
        ivs.push(next.clone());
        iv = next;
    }
    // strongSwan logs the IV of every message it sends or receives, in order.
    assert_eq!(ivs[..expected_ivs.len()], *expected_ivs);

    let chain = |i: usize| wire::payloads(wire::header(qm[i]).next_payload, &plaintexts[i]);
    let (qm1, qm2) = (chain(0), chain(1));
    let spi = |chain: &[wire::Payload]| {
        // SA body: DOI(4) situation(4), then the proposal: header(4), number, protocol,
        // SPI size, transform count, SPI.
        let sa = wire::find(chain, wire::SA).body;
        assert_eq!((sa[13], sa[14]), (3, 4), "ESP with a 4-byte SPI");
        u32::from_be_bytes(sa[16..20].try_into().unwrap())
    };
    // HASH(1) and HASH(2) cover everything after the HASH payload up to the last payload.
    let after_hash = |chain: &[wire::Payload], plain: &[u8]| {
        assert_eq!(chain[0].kind, wire::HASH);
        plain[chain[0].end..chain.last().unwrap().end].to_vec()
    };
    let ni_b = wire::find(&qm1, wire::NONCE).body.to_vec();
    let nr_b = wire::find(&qm2, wire::NONCE).body.to_vec();
    let hash1 = kdf::hash_qm1(PRF, skeyid_a, message_id, &after_hash(&qm1, &plaintexts[0]));
    assert!(ct_eq(&hash1, qm1[0].body), "HASH(1)");
    let hash2 = kdf::hash_qm2(
        PRF,
        skeyid_a,
        message_id,
        &ni_b,
        &after_hash(&qm2, &plaintexts[1]),
    );
    assert!(ct_eq(&hash2, qm2[0].body), "HASH(2)");
    if qm.len() > 2 {
        let qm3 = chain(2);
        let hash3 = kdf::hash_qm3(PRF, skeyid_a, message_id, &ni_b, &nr_b);
        assert!(ct_eq(&hash3, qm3[0].body), "HASH(3)");
    }
    QuickMode {
        spi_i: spi(&qm1),
        spi_r: spi(&qm2),
        ni_b,
        nr_b,
    }
}

/// Each Informational exchange has its own message ID and IV (RFC 2409 appendix B) and
/// HASH(1) = prf(SKEYID_a, M-ID | N/D) (section 5.7).
fn informational(cap: &Capture, p1: &Phase1, expected: usize) {
    let infos: Vec<&[u8]> = cap.messages(wire::INFORMATIONAL).collect();
    assert_eq!(infos.len(), expected);
    for msg in infos {
        let h = wire::header(msg);
        let iv = kdf::message_iv(PRF, CIPHER, &p1.last_block, h.message_id);
        assert_eq!(iv, cap.ivs(h.message_id)[0]);
        let (plain, _) = decrypt(&p1.keys, msg, &iv);
        let chain = wire::payloads(h.next_payload, &plain);
        assert_eq!(chain[0].kind, wire::HASH);
        let rest = &plain[chain[0].end..chain.last().unwrap().end];
        let hash = kdf::hash_qm1(PRF, p1.keys.skeyid_a.as_bytes(), h.message_id, rest);
        assert!(ct_eq(&hash, chain[0].body), "Informational HASH");
    }
}

#[test]
fn nonat_capture_phase1_quick_mode_and_informational() {
    let cap = Capture::load("ikev1-psk-des-sha1-modp768-nonat");
    let p1 = main_mode(&cap);
    let qm = quick_mode(&cap, &p1);
    assert_ne!(qm.spi_i, qm.spi_r);
    // N(NO_PROPOSAL_CHOSEN) after QM2, then the IKE SA delete.
    informational(&cap, &p1, 2);
}

const ESP_TRANSFORM: EspTransform = EspTransform {
    encr: EspEncr::Aes(128),
    auth: EspAuth::HmacSha1,
};

#[test]
fn libipsec_capture_keys_and_esp_pings() {
    let cap = Capture::load("ikev1-psk-des-sha1-modp768-libipsec");
    let p1 = main_mode(&cap);
    let qm = quick_mode(&cap, &p1);
    informational(&cap, &p1, 2);
    assert_eq!((qm.spi_i, qm.spi_r), (0x69556d67, 0xe9b4ecb1));

    // KEYMAT per SA: the SPI is the one its receiver chose; no PFS (RFC 2409 5.5).
    let sa = |spi: u32, who: &str| {
        let km = kdf::keymat(
            PRF,
            p1.keys.skeyid_d.as_bytes(),
            None,
            3,
            spi,
            &qm.ni_b,
            &qm.nr_b,
            ESP_TRANSFORM.keymat_len(),
        );
        let (enc, auth) = km.as_bytes().split_at(ESP_TRANSFORM.encr.key_len());
        assert_eq!(enc, cap.key(&format!("encryption_{who}_key")));
        assert_eq!(auth, cap.key(&format!("integrity_{who}_key")));
        EspSa::new(spi, ESP_TRANSFORM, enc, auth).unwrap()
    };
    let outbound = sa(qm.spi_r, "initiator");
    let inbound = sa(qm.spi_i, "responder");

    // Three pings each way, then a router solicitation each way (UDP 4500, RFC 3948).
    let mut seen = Vec::new();
    for packet in &cap.esp {
        let mut packet = packet.clone();
        let spi = u32::from_be_bytes(packet[..4].try_into().unwrap());
        let sa = if spi == outbound.spi {
            &outbound
        } else {
            &inbound
        };
        let opened = sa.open(&mut packet).unwrap();
        assert_eq!(opened.next_header, 41, "IPv6 in ESP tunnel mode");
        let inner = &packet[opened.payload];
        assert_eq!(inner[0] >> 4, 6);
        assert_eq!(
            usize::from(u16::from_be_bytes([inner[4], inner[5]])) + 40,
            inner.len()
        );
        assert_eq!(inner[6], 58, "ICMPv6");
        seen.push((spi, opened.seq, inner[40]));
    }
    seen.sort();
    let (req, rep, rs) = (128, 129, 133);
    assert_eq!(
        seen,
        [
            (0x69556d67, 1, rep),
            (0x69556d67, 2, rep),
            (0x69556d67, 3, rep),
            (0x69556d67, 4, rs),
            (0xe9b4ecb1, 1, req),
            (0xe9b4ecb1, 2, req),
            (0xe9b4ecb1, 3, req),
            (0xe9b4ecb1, 4, rs),
        ]
    );
}
