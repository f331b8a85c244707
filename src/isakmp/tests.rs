//! Decoding the real strongSwan exchanges in `tests/fixtures/`, and a deterministic
//! mutation run over them (the in-tree counterpart of `fuzz/fuzz_targets/decode.rs`).

use super::*;
use crate::crypto::{Rng, TestRng};
use crate::testutil::{read_pcapng, unhex};
use std::net::IpAddr;

const NONAT: &str = "ikev1-psk-des-sha1-modp768-nonat.pcapng";
const LIBIPSEC: &str = "ikev1-psk-des-sha1-modp768-libipsec.pcapng";

/// Decrypted bodies of the nonat capture's frames 5..10 (MM5, MM6, QM1, QM2, two
/// Informationals), padding included: DES-CBC with `encryption_key_Ka` and the IVs of
/// `ikev1-psk-des-sha1-modp768-nonat.keys` (`openssl enc -d -des-cbc -nopad`).
/// They match the fixture's `.decrypted.txt` dump field for field.
const NONAT_PLAINTEXT: [&str; 6] = [
    "080000180500000020010db80000000000000000000000020b00001828f8e0a9\
     127759151efc225a2f0eeb9a15db0f150000001c000000010110600276ca9526\
     8ce668150c778f0faaeb1c7500000000",
    "080000180500000020010db80000000000000000000000030000001804bdef4f\
     cf287aeacd39ed955400ad1313cdf9f80000000000000000",
    "010000180fd9d360653a59a76bcf1461ff6466089ccb8ff70a00003400000001\
     000000010000002801030401c05f9e2c0000001c010c00008006008080050002\
     800400018001000180020e1005000024f4665f944c77a1ff355783830878ded1\
     f120314215ca7700c8a5c83915b9673705000028060000000000000000000000\
     0000000000000000000000000000000000000000000000000000002806000000\
     0000000000000000000000000000000000000000000000000000000000000000\
     0000000000000000",
    "0100001811f6366c25fafd56c812eb34a432381b3d1d868b0a00003400000001\
     000000010000002801030401c255f41f0000001c010c00008006008080050002\
     800400018001000180020e1005000024682492a8e3146362402efdfe0ba28f28\
     3448bf6139f97bdefc0308caba9e283805000028060000000000000000000000\
     0000000000000000000000000000000000000000000000000000002806000000\
     0000000000000000000000000000000000000000000000000000000000000000\
     0000000000000000",
    "0b000018e1ef136be55abf96aeca3e97727508928893a4b50000001000000001\
     0304000ec05f9e2c0000000000000000",
    "0c00001872431daeaed36702328f4e5d94db58a5c9ab29a50000001c00000001\
     0110000176ca95268ce668150c778f0faaeb1c7500000000",
];

fn isakmp_messages(capture: &str) -> Vec<Vec<u8>> {
    read_pcapng(capture)
        .iter()
        .filter_map(|c| c.isakmp().map(<[u8]>::to_vec))
        .collect()
}

/// The nonat capture's encrypted messages with their bodies decrypted in place.
fn nonat_decrypted() -> Vec<Vec<u8>> {
    let msgs = isakmp_messages(NONAT);
    msgs[4..]
        .iter()
        .zip(NONAT_PLAINTEXT)
        .map(|(m, body)| [&m[..HEADER_LEN], &unhex(body)].concat())
        .collect()
}

fn payloads(m: &Message) -> Vec<&Payload> {
    m.payloads.iter().map(|r| &r.payload).collect()
}

fn vendor_ids(m: &Message) -> Vec<&[u8]> {
    m.find_all(PayloadType::VENDOR_ID)
        .map(|p| match p {
            Payload::VendorId(v) => &v[..],
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn mm1_offers_des_sha_group1_psk_86400() {
    let mm1 = &isakmp_messages(NONAT)[0];
    let m = Message::decode(mm1).unwrap();
    assert_eq!(m.header.icookie, unhex("76ca95268ce66815")[..]);
    assert_eq!(m.header.rcookie, [0; 8]);
    assert_eq!(
        (
            m.header.exchange,
            m.header.version,
            m.header.flags,
            m.header.message_id
        ),
        (ExchangeType::MAIN_MODE, 0x10, 0, 0)
    );
    let Some(Payload::Sa(sa)) = m.find(PayloadType::SA) else {
        panic!("no SA in MM1")
    };
    assert_eq!((sa.doi, sa.situation), (DOI_IPSEC, SIT_IDENTITY_ONLY));
    let [p] = &sa.proposals[..] else {
        panic!("one proposal expected")
    };
    assert_eq!(
        (p.number, p.protocol, p.spi.len()),
        (1, ProtocolId::ISAKMP, 0)
    );
    assert_eq!(p.transforms.len(), 2);
    let t = &p.transforms[0];
    assert_eq!(t.transform_id, KEY_IKE);
    let attr = |a| t.attr(a).and_then(AttrValue::as_u64);
    assert_eq!(attr(p1_attr::ENCRYPTION_ALGORITHM), Some(1), "DES-CBC");
    assert_eq!(attr(p1_attr::HASH_ALGORITHM), Some(2), "SHA");
    assert_eq!(attr(p1_attr::GROUP_DESCRIPTION), Some(1), "768-bit MODP");
    assert_eq!(
        attr(p1_attr::AUTHENTICATION_METHOD),
        Some(u64::from(p1_attr::AUTH_PRE_SHARED))
    );
    assert_eq!(
        attr(p1_attr::LIFE_TYPE),
        Some(u64::from(p1_attr::LIFE_SECONDS))
    );
    // 86400 does not fit a basic attribute: a 4-byte TLV.
    assert_eq!(
        t.attr(p1_attr::LIFE_DURATION),
        Some(&AttrValue::Variable(vec![0, 1, 0x51, 0x80]))
    );
    assert_eq!(attr(p1_attr::LIFE_DURATION), Some(86400));
    let aes = &p.transforms[1];
    assert_eq!(
        aes.attr(p1_attr::ENCRYPTION_ALGORITHM),
        Some(&AttrValue::Basic(7))
    );
    assert_eq!(aes.attr(p1_attr::KEY_LENGTH), Some(&AttrValue::Basic(128)));

    let vids = vendor_ids(&m);
    assert_eq!(vids.len(), 5);
    assert!(vids.contains(&&vendor_id::DPD[..]));
    assert!(vids.contains(&&vendor_id::NAT_T_RFC3947[..]));
    assert_eq!(vids[0], unhex("09002689dfd6b712"), "XAUTH");
    // Spans: SA right after the header, VIDs tiling the rest of the message.
    assert_eq!(m.payloads[0].span, 28..124);
    assert_eq!(m.payloads.last().unwrap().span.end, mm1.len());
}

#[test]
fn mm2_accepts_one_transform() {
    let m = Message::decode(&isakmp_messages(NONAT)[1]).unwrap();
    assert_eq!(m.header.rcookie, unhex("0c778f0faaeb1c75")[..]);
    let Some(Payload::Sa(sa)) = m.find(PayloadType::SA) else {
        panic!("no SA in MM2")
    };
    let t = &sa.proposals[0].transforms;
    assert_eq!(t.len(), 1);
    assert_eq!(
        t[0].attr(p1_attr::ENCRYPTION_ALGORITHM),
        Some(&AttrValue::Basic(1))
    );
    assert_eq!(
        t[0].attr(p1_attr::LIFE_DURATION)
            .and_then(AttrValue::as_u64),
        Some(86400)
    );
    assert_eq!(vendor_ids(&m).len(), 4);
}

#[test]
fn mm3_mm4_key_exchange_nonce_nat_d() {
    for capture in [NONAT, LIBIPSEC] {
        for mm in &isakmp_messages(capture)[2..4] {
            let m = Message::decode(mm).unwrap();
            let kinds: Vec<PayloadType> = payloads(&m).iter().map(|p| p.payload_type()).collect();
            assert_eq!(
                kinds,
                [
                    PayloadType::KE,
                    PayloadType::NONCE,
                    PayloadType::NAT_D,
                    PayloadType::NAT_D
                ]
            );
            // Group 1: a 768-bit public value.
            assert!(
                matches!(m.find(PayloadType::KE), Some(Payload::KeyExchange(ke)) if ke.len() == 96)
            );
            assert!(matches!(m.find(PayloadType::NONCE), Some(Payload::Nonce(n)) if n.len() == 32));
            assert!(m
                .find_all(PayloadType::NAT_D)
                .all(|p| matches!(p, Payload::NatD(h) if h.len() == 20)));
        }
    }
    let m = Message::decode(&isakmp_messages(NONAT)[2]).unwrap();
    let Some(Payload::Nonce(n)) = m.find(PayloadType::NONCE) else {
        unreachable!()
    };
    assert_eq!(
        n[..],
        unhex("a4cf4ea89c1f3dd402305ed12be0360f9739fb3390a5e95d7e9f3f73fdd99ca4")[..]
    );
}

#[test]
fn plaintext_messages_reencode_to_the_same_bytes() {
    for capture in [NONAT, LIBIPSEC] {
        let msgs = isakmp_messages(capture);
        let plain: Vec<_> = msgs
            .iter()
            .filter(|m| !Header::decode(m).unwrap().is_encrypted())
            .collect();
        assert_eq!(plain.len(), 4, "MM1..MM4 of {capture}");
        for msg in plain {
            assert_eq!(&Message::decode(msg).unwrap().encode(), msg);
        }
    }
}

#[test]
fn encrypted_messages_decode_header_only() {
    for (capture, expected) in [(NONAT, 6), (LIBIPSEC, 7)] {
        let mut encrypted = 0;
        for msg in isakmp_messages(capture) {
            let h = Header::decode(&msg).unwrap();
            if !h.is_encrypted() {
                continue;
            }
            encrypted += 1;
            assert_eq!(h.length as usize, msg.len());
            // DES-CBC: the body is whole 8-byte blocks (RFC 2409 appendix B).
            assert_eq!((msg.len() - HEADER_LEN) % 8, 0);
            assert_ne!(h.rcookie, [0; 8]);
        }
        assert_eq!(encrypted, expected, "{capture}");
    }
}

#[test]
fn decrypted_main_mode_5_6() {
    let msgs = nonat_decrypted();
    let mm5 = Message::decode(&msgs[0]).unwrap();
    let [Payload::Id(id), Payload::Hash(hash), Payload::Notify(n)] = &payloads(&mm5)[..] else {
        panic!("MM5 is ID, HASH, N(INITIAL-CONTACT): {mm5:?}")
    };
    assert_eq!(
        id.to_subnet(),
        Some(("2001:db8::2".parse::<IpAddr>().unwrap(), 128))
    );
    assert_eq!((id.protocol, id.port), (0, 0));
    assert_eq!(hash.len(), 20);
    assert_eq!(n.notify_type, NotifyType::INITIAL_CONTACT);
    assert_eq!(
        n,
        &NotifyPayload::isakmp(
            NotifyType::INITIAL_CONTACT,
            mm5.header.icookie,
            mm5.header.rcookie,
            vec![]
        )
    );
    // IDii_b for HASH_I: the ID body as received.
    let mut id_body = Vec::new();
    id.encode_body(&mut id_body);
    assert_eq!(mm5.payloads[0].body(&msgs[0]), Some(&id_body[..]));

    let mm6 = Message::decode(&msgs[1]).unwrap();
    assert!(matches!(mm6.find(PayloadType::ID), Some(Payload::Id(id))
        if id.to_subnet() == Some(("2001:db8::3".parse().unwrap(), 128))));
}

#[test]
fn decrypted_quick_mode_and_informational() {
    let msgs = nonat_decrypted();
    let qm1 = Message::decode(&msgs[2]).unwrap();
    let kinds: Vec<PayloadType> = payloads(&qm1).iter().map(|p| p.payload_type()).collect();
    assert_eq!(
        kinds,
        [
            PayloadType::HASH,
            PayloadType::SA,
            PayloadType::NONCE,
            PayloadType::ID,
            PayloadType::ID
        ]
    );
    let Some(Payload::Sa(sa)) = qm1.find(PayloadType::SA) else {
        unreachable!()
    };
    let p = &sa.proposals[0];
    assert_eq!(
        (p.protocol, &p.spi[..]),
        (ProtocolId::IPSEC_ESP, &[0xc0, 0x5f, 0x9e, 0x2c][..])
    );
    let t = &p.transforms[0];
    assert_eq!(t.transform_id, 12, "ESP_AES");
    assert_eq!(t.attr(p2_attr::KEY_LENGTH), Some(&AttrValue::Basic(128)));
    assert_eq!(
        t.attr(p2_attr::ENCAPSULATION_MODE),
        Some(&AttrValue::Basic(p2_attr::ENCAP_TUNNEL))
    );
    assert_eq!(
        t.attr(p2_attr::SA_LIFE_DURATION),
        Some(&AttrValue::Basic(3600))
    );
    // The VTI proxies ::/0 <-> ::/0.
    for id in qm1.find_all(PayloadType::ID) {
        let Payload::Id(id) = id else { unreachable!() };
        assert_eq!(id.to_subnet(), Some(("::".parse().unwrap(), 0)));
        assert_eq!(id, &IdPayload::subnet("::".parse().unwrap(), 0));
    }
    // HASH(1) covers everything after the HASH payload, up to the padding.
    let hashed = qm1.payloads[1].span.start..qm1.payloads.last().unwrap().span.end;
    let mut tail = Vec::new();
    encode_payloads(
        &payloads(&qm1)[1..]
            .iter()
            .map(|p| (*p).clone())
            .collect::<Vec<_>>(),
        &mut tail,
    );
    assert_eq!(msgs[2][hashed], tail[..]);

    let info = Message::decode(&msgs[4]).unwrap();
    assert!(
        matches!(info.find(PayloadType::NOTIFY), Some(Payload::Notify(n))
        if n.notify_type == NotifyType::NO_PROPOSAL_CHOSEN && n.spi == [0xc0, 0x5f, 0x9e, 0x2c])
    );
    let delete = Message::decode(&msgs[5]).unwrap();
    let Some(Payload::Delete(d)) = delete.find(PayloadType::DELETE) else {
        panic!("no delete")
    };
    assert_eq!((d.protocol, d.spi_size), (ProtocolId::ISAKMP, 16));
    assert_eq!(
        d.spis,
        [[delete.header.icookie, delete.header.rcookie].concat()]
    );
}

#[test]
fn decrypted_messages_reencode_without_padding() {
    for msg in nonat_decrypted() {
        let m = Message::decode(&msg).unwrap();
        let end = m.payloads.last().unwrap().span.end;
        // strongSwan pads 1..=8 bytes, a whole block when the payloads are aligned.
        assert!(
            (1..=8).contains(&(msg.len() - end)),
            "padding up to a DES block"
        );
        let mut expected = msg[..end].to_vec();
        set_message_length(&mut expected);
        assert_eq!(m.encode(), expected);
    }
}

#[test]
fn every_truncation_of_mm1_fails() {
    let mm1 = &isakmp_messages(NONAT)[0];
    for len in 0..mm1.len() {
        assert!(Message::decode(&mm1[..len]).is_err(), "{len} bytes");
        // Also with the header claiming the truncated length, so the payload chain
        // itself runs out of bytes.
        if len >= HEADER_LEN {
            let mut cut = mm1[..len].to_vec();
            set_message_length(&mut cut);
            assert!(
                Message::decode(&cut).is_err(),
                "{len} bytes, length patched"
            );
        }
    }
}

#[test]
fn lying_lengths_in_mm1() {
    let mm1 = isakmp_messages(NONAT)[0].clone();
    let with = |at: usize, bytes: &[u8]| {
        let mut m = mm1.clone();
        m[at..at + bytes.len()].copy_from_slice(bytes);
        Message::decode(&m).unwrap_err()
    };
    // SA at 28: generic length at 30, proposal at 40 (SPI size at 46, transform
    // count at 47), transform 1 at 48 with its life TLV length at 78; first VID at 124.
    let e = with(30, &[0x01, 0x00]);
    assert_eq!(
        (e.payload_type, e.offset, e.reason()),
        (
            Some(PayloadType::SA),
            30,
            "payload length beyond the enclosing data"
        )
    );
    assert_eq!(
        with(30, &[0, 7]).reason(),
        "SA shorter than its DOI and situation"
    );
    assert_eq!(
        with(30, &[0, 0]).reason(),
        "payload length below the 4-byte generic header"
    );
    assert_eq!(
        with(126, &[0, 0]).reason(),
        "payload length below the 4-byte generic header"
    );
    assert_eq!(
        with(78, &[0, 0x40]).reason(),
        "attribute length beyond the transform"
    );
    assert_eq!(
        with(47, &[3]).reason(),
        "transform next payload disagrees with the proposal's count"
    );
    assert_eq!(
        with(28, &[PayloadType::PROPOSAL.0]).reason(),
        "proposal or transform payload outside an SA payload"
    );
    assert_eq!(
        with(16, &[PayloadType::TRANSFORM.0]).reason(),
        "proposal or transform payload outside an SA payload"
    );
    assert_eq!(
        with(30, &[0, 0]).notify_type(),
        NotifyType::PAYLOAD_MALFORMED
    );
    assert_eq!(
        with(78, &[0, 0x40]).notify_type(),
        NotifyType::BAD_PROPOSAL_SYNTAX
    );
    assert_eq!(
        with(16, &[3]).notify_type(),
        NotifyType::INVALID_PAYLOAD_TYPE
    );
    assert_eq!(
        with(17, &[0x20]).notify_type(),
        NotifyType::INVALID_MAJOR_VERSION
    );
    assert_eq!(
        with(24, &[0xff]).notify_type(),
        NotifyType::PAYLOAD_MALFORMED
    );
    let e = with(46, &[0xff]);
    assert_eq!(
        (e.payload_type, e.reason()),
        (Some(PayloadType::PROPOSAL), "SPI size beyond the proposal")
    );
}

#[test]
fn mutated_fixtures_never_panic_and_reencode() {
    let mut seeds: Vec<Vec<u8>> = [NONAT, LIBIPSEC]
        .iter()
        .flat_map(|c| isakmp_messages(c))
        .filter(|m| !Header::decode(m).unwrap().is_encrypted())
        .collect();
    seeds.extend(nonat_decrypted());
    let mut rng = TestRng::new(0x15a4_3b00);
    let below = |rng: &mut TestRng, n: usize| rng.next_u32() as usize % n.max(1);
    let mut parsed = 0;
    const ROUNDS: usize = 20_000;
    for _ in 0..ROUNDS {
        let mut m = seeds[below(&mut rng, seeds.len())].clone();
        for _ in 0..=below(&mut rng, 3) {
            match below(&mut rng, 7) {
                0 if !m.is_empty() => {
                    let bit = below(&mut rng, m.len() * 8);
                    m[bit / 8] ^= 1 << (bit % 8);
                }
                1 => m.truncate(below(&mut rng, m.len())),
                2 => {
                    // A length field lie: a 16-bit length at a real payload's header.
                    if let Ok(d) = Message::decode(&m) {
                        if let Some(p) = d.payloads.get(below(&mut rng, d.payloads.len())) {
                            let at = p.span.start + 2;
                            let v = match below(&mut rng, 3) {
                                0 => rng.next_u32() as u16,
                                1 => (rng.next_u32() % 8) as u16,
                                _ => (p.span.len() as u16 + 8)
                                    .wrapping_sub(below(&mut rng, 16) as u16),
                            };
                            m[at..at + 2].copy_from_slice(&v.to_be_bytes());
                        }
                    }
                }
                3 if !m.is_empty() => {
                    let at = below(&mut rng, m.len());
                    m[at] = rng.next_u32() as u8;
                }
                4 => {
                    let at = below(&mut rng, m.len());
                    let n = below(&mut rng, 16);
                    let mut junk = vec![0; n];
                    rng.fill(&mut junk);
                    m.splice(at..at, junk);
                }
                5 => {
                    let at = below(&mut rng, m.len());
                    let end = (at + below(&mut rng, 24)).min(m.len());
                    m.drain(at..end);
                }
                6 => {
                    // A next-payload lie, in the header or a payload's generic header.
                    let at = match Message::decode(&m) {
                        Ok(d) if !d.payloads.is_empty() && below(&mut rng, 2) == 0 => {
                            d.payloads[below(&mut rng, d.payloads.len())].span.start
                        }
                        _ => 16,
                    };
                    const TYPES: [u8; 9] = [0, 2, 3, 5, 11, 20, 130, 131, 200];
                    if at < m.len() {
                        m[at] = TYPES[below(&mut rng, TYPES.len())];
                    }
                }
                _ => {}
            }
        }
        // Usually keep the header's length honest so the mutation reaches the payloads.
        if m.len() >= HEADER_LEN && below(&mut rng, 4) != 0 {
            set_message_length(&mut m);
        }
        if check_reencode(&m) {
            parsed += 1;
        }
    }
    // Enough mutants parse for the re-encode property to be exercised, and enough
    // fail for the error paths to be.
    assert!(
        parsed > ROUNDS / 20 && parsed < ROUNDS * 19 / 20,
        "{parsed} parsed"
    );
}

/// Every input of the kept corpus (`fuzz/corpus/decode`: the captures' messages and
/// what past cargo-fuzz runs found) through the fuzz target's property.
#[test]
fn fuzz_corpus_never_panics_and_reencodes() {
    let inputs = crate::testutil::fuzz_corpus("decode");
    let decoded = inputs
        .iter()
        .filter(|(name, input)| {
            let run = std::panic::catch_unwind(|| check_reencode(input));
            assert!(run.is_ok(), "fuzz/corpus/decode/{name}");
            run.unwrap()
        })
        .count();
    // the captures' messages are in it: a corpus that no longer decodes tests little
    assert!(
        decoded >= 10,
        "{decoded} of {} corpus inputs decode",
        inputs.len()
    );
}
