//! The engine's own key derivation and message protection against real strongSwan
//! 5.9.8 exchanges (`tests/fixtures/`, PSK "cisco", DES / SHA-1 / modp768): every key,
//! IV and HASH the engine computes is the one strongSwan logged or sent, every captured
//! message opens and verifies through the code that opens the peer's messages, and the
//! ESP keys it hands the data path decrypt the captured pings.

use super::util::{line, settings, A_ADDR, B_ADDR};
use crate::crypto::{CipherAlg, DhGroup, EspSa, HashAlg, Secret};
use crate::ike::child::Agreed;
use crate::ike::identity::phase1_address;
use crate::ike::phase1::{Established, Keyed, Phase1};
use crate::ike::proposal::{Lifetime, P2Choice, Suite};
use crate::ike::protect::Inbound;
use crate::ike::settings::KeySource;
use crate::ike::state::Role;
use crate::ipsec::{Direction, EspAuth, EspEncr, EspTransform, Lifetimes};
use crate::isakmp::{ExchangeType, Header, Payload, PayloadType, HEADER_LEN};
use crate::testutil::{read_keys, read_pcapng};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

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

    /// The messages of one exchange type, with their decoded headers.
    fn messages(&self, exchange: ExchangeType) -> Vec<(Header, &[u8])> {
        self.isakmp
            .iter()
            .map(|m| (Header::decode(m).expect("header"), m.as_slice()))
            .filter(|(h, _)| h.exchange == exchange)
            .collect()
    }
}

fn bytes(msg: &Inbound, t: PayloadType) -> Vec<u8> {
    match &msg.find(t).expect("payload").payload {
        Payload::KeyExchange(b) | Payload::Nonce(b) | Payload::Hash(b) => b.clone(),
        other => panic!("{t:?}: {other:?}"),
    }
}

fn id_address(msg: &Inbound) -> IpAddr {
    match &msg.find(PayloadType::ID).expect("ID").payload {
        Payload::Id(id) => phase1_address(id).expect("an address ID"),
        other => panic!("{other:?}"),
    }
}

/// The ESP SPI of the first proposal of a Quick Mode SA payload.
fn spi(msg: &Inbound) -> u32 {
    match &msg.find(PayloadType::SA).expect("SA").payload {
        Payload::Sa(sa) => u32::from_be_bytes(sa.proposals[0].spi[..].try_into().unwrap()),
        other => panic!("{other:?}"),
    }
}

fn socket(addr: &str) -> SocketAddr {
    SocketAddr::new(addr.parse().unwrap(), 500)
}

/// Main Mode as the initiator (2001:db8::2) ran it: the ISAKMP SA record the engine
/// would hold, and its keys once up.
fn main_mode(cap: &Capture) -> (Phase1, Established) {
    let mm = cap.messages(ExchangeType::MAIN_MODE);
    assert_eq!(mm.len(), 6);
    let plain = |i: usize| Inbound::plain(mm[i].0.clone(), mm[i].1).expect("clear message");
    let mm1 = plain(0);
    let sa_i_b = mm1.body_of(mm1.find(PayloadType::SA).unwrap()).to_vec();
    let (mm3, mm4) = (plain(2), plain(3));
    let (g_xi, ni) = (
        bytes(&mm3, PayloadType::KE),
        bytes(&mm3, PayloadType::NONCE),
    );
    let (g_xr, nr) = (
        bytes(&mm4, PayloadType::KE),
        bytes(&mm4, PayloadType::NONCE),
    );
    let (h5, h6) = (&mm[4].0, &mm[5].0);
    assert_eq!(h5.icookie[..], *cap.key("icookie"));
    assert_eq!(h5.rcookie[..], *cap.key("rcookie"));
    let key = (
        Secret::new(b"cisco".to_vec()),
        KeySource {
            keyring: None,
            origin: line(3),
        },
    );
    let p1 = Phase1::new(
        1001,
        Role::Initiator,
        (None, socket(A_ADDR), socket(B_ADDR)),
        (h5.icookie, h5.rcookie),
        key,
        Instant::now(),
        0,
    );
    let suite = Suite {
        cipher: CipherAlg::Des,
        hash: HashAlg::Sha1,
        group: DhGroup::Modp768,
        lifetime_s: 86_400,
        priority: 10,
        origin: line(1),
    };
    let g_xy = Secret::new(cap.key("shared_Diffie_Hellman_secret").to_vec());
    let keyed = Keyed::derive(&p1, (sa_i_b, suite), (g_xi, g_xr), &g_xy, (&ni, &nr));
    assert_eq!(keyed.keys.skeyid.as_bytes(), cap.key("SKEYID"));
    assert_eq!(keyed.keys.skeyid_d.as_bytes(), cap.key("SKEYID_d"));
    assert_eq!(keyed.keys.skeyid_a.as_bytes(), cap.key("SKEYID_a"));
    assert_eq!(keyed.keys.skeyid_e.as_bytes(), cap.key("SKEYID_e"));
    assert_eq!(keyed.keys.enc_key.as_bytes(), cap.key("encryption_key_Ka"));
    assert_eq!(keyed.iv, cap.key("initial_IV"));

    // MM5: IDii and HASH_I under the initial IV; MM6: IDir and HASH_R, chained on.
    let (mm5, iv) = Inbound::decrypt(h5.clone(), mm[4].1, &keyed.protection(), &keyed.iv)
        .expect("MM5 decrypts");
    assert_eq!(iv, cap.ivs(0)[0]);
    assert_eq!(id_address(&mm5), A_ADDR.parse::<IpAddr>().unwrap());
    let idii_b = mm5.body_of(mm5.find(PayloadType::ID).unwrap());
    assert_eq!(
        keyed.hash(&p1, Role::Initiator, idii_b),
        bytes(&mm5, PayloadType::HASH),
        "HASH_I"
    );
    let (mm6, last_block) =
        Inbound::decrypt(h6.clone(), mm[5].1, &keyed.protection(), &iv).expect("MM6 decrypts");
    assert_eq!(last_block, cap.ivs(0)[1]);
    assert_eq!(id_address(&mm6), B_ADDR.parse::<IpAddr>().unwrap());
    let idir_b = mm6.body_of(mm6.find(PayloadType::ID).unwrap());
    assert_eq!(
        keyed.hash(&p1, Role::Responder, idir_b),
        bytes(&mm6, PayloadType::HASH),
        "HASH_R"
    );
    let est = Established {
        suite: keyed.suite,
        keys: keyed.keys,
        last_block,
    };
    (p1, est)
}

/// The Quick Mode nonces and the SPI each side chose (from its SA proposal).
struct QuickMode {
    ni: Vec<u8>,
    nr: Vec<u8>,
    spi_i: u32,
    spi_r: u32,
}

/// Each message opens, and its HASH(1), HASH(2), HASH(3) verifies, as the engine checks
/// the peer's; strongSwan logs the IV of every message it sends or receives, in order.
fn quick_mode(cap: &Capture, est: &Established) -> QuickMode {
    let qm = cap.messages(ExchangeType::QUICK_MODE);
    let mid = qm[0].0.message_id;
    assert!(qm.iter().all(|(h, _)| h.message_id == mid));
    let mut iv = est.message_iv(mid);
    let mut ivs = vec![iv.clone()];
    let mut open = |i: usize, expected: &dyn Fn(&Inbound) -> Vec<u8>| {
        let (header, data) = &qm[i];
        let (msg, next) = est
            .open(header.clone(), data, &iv, expected)
            .unwrap_or_else(|| panic!("QM{} opens and its HASH verifies", i + 1));
        ivs.push(next.clone());
        iv = next;
        msg
    };
    let qm1 = open(0, &|m| est.hash_1(mid, m.after_first()));
    let ni = bytes(&qm1, PayloadType::NONCE);
    let qm2 = open(1, &|m| est.hash_2(mid, &ni, m.after_first()));
    let nr = bytes(&qm2, PayloadType::NONCE);
    if qm.len() > 2 {
        open(2, &|_| est.hash_3(mid, &ni, &nr));
    }
    let expected = cap.ivs(mid);
    assert_eq!(ivs[..expected.len()], *expected);

    // A message the keys did not protect does not open: one bit off in QM1's first
    // ciphertext block (its HASH payload). (The zero padding at the end is not
    // covered by any HASH in IKEv1: a change there would go unnoticed, harmlessly.)
    let mut forged = qm[0].1.to_vec();
    forged[HEADER_LEN + 4] ^= 1;
    let first_iv = est.message_iv(mid);
    let none = est.open(qm[0].0.clone(), &forged, &first_iv, |m| {
        est.hash_1(mid, m.after_first())
    });
    assert!(none.is_none(), "a forged QM1 verifies");
    QuickMode {
        spi_i: spi(&qm1),
        spi_r: spi(&qm2),
        ni,
        nr,
    }
}

/// Each Informational exchange has its own message ID and IV (RFC 2409 appendix B) and
/// HASH(1) = prf(SKEYID_a, M-ID | N/D) (section 5.7).
fn informational(cap: &Capture, est: &Established, expected: usize) {
    let infos = cap.messages(ExchangeType::INFORMATIONAL);
    assert_eq!(infos.len(), expected);
    for (header, data) in infos {
        let mid = header.message_id;
        let iv = est.message_iv(mid);
        assert_eq!(iv, cap.ivs(mid)[0]);
        let opened = est.open(header, data, &iv, |m| est.hash_1(mid, m.after_first()));
        assert!(opened.is_some(), "Informational {mid} opens and verifies");
    }
}

#[test]
fn nonat_capture_phase1_quick_mode_and_informational() {
    let cap = Capture::load("ikev1-psk-des-sha1-modp768-nonat");
    let (_, est) = main_mode(&cap);
    let qm = quick_mode(&cap, &est);
    assert_ne!(qm.spi_i, qm.spi_r);
    // N(NO_PROPOSAL_CHOSEN) after QM2, then the IKE SA delete.
    informational(&cap, &est, 2);
}

#[test]
fn libipsec_capture_keys_and_esp_pings() {
    let cap = Capture::load("ikev1-psk-des-sha1-modp768-libipsec");
    let (p1, est) = main_mode(&cap);
    let qm = quick_mode(&cap, &est);
    informational(&cap, &est, 2);
    assert_eq!((qm.spi_i, qm.spi_r), (0x69556d67, 0xe9b4ecb1));

    // The SAs the engine hands the data path as initiator: KEYMAT per SA, the SPI
    // the one its receiver chose, no PFS (RFC 2409 5.5).
    let tunnel = settings(A_ADDR, B_ADDR).tunnels.remove(0);
    let choice = P2Choice {
        transform: EspTransform {
            encr: EspEncr::Aes(128),
            auth: EspAuth::HmacSha1,
        },
        peer_spi: qm.spi_r,
        mode: Default::default(),
        udp_encap: true,
        pfs: None,
        life: Lifetime {
            seconds: 3600,
            kilobytes: 4_608_000,
        },
    };
    let agreed = Agreed {
        tunnel: &tunnel,
        choice: &choice,
        spi_in: qm.spi_i,
        ni: &qm.ni,
        nr: &qm.nr,
        g_qm: None,
        ids: None,
    };
    let esp = |direction, who: &str| {
        let spec = agreed.sa_spec(&p1, &est, direction, Lifetimes::default());
        assert_eq!(
            spec.enc_key.as_bytes(),
            cap.key(&format!("encryption_{who}_key"))
        );
        assert_eq!(
            spec.auth_key.as_bytes(),
            cap.key(&format!("integrity_{who}_key"))
        );
        EspSa::new(
            spec.spi,
            spec.transform,
            spec.enc_key.as_bytes(),
            spec.auth_key.as_bytes(),
        )
        .unwrap()
    };
    let outbound = esp(Direction::Out, "initiator");
    let inbound = esp(Direction::In, "responder");

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
