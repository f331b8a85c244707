//! RFC 2409 key derivation for pre-shared keys: SKEYID, SKEYID_d/_a/_e, the phase 1
//! encryption key (appendix B expansion), IVs, HASH_I/HASH_R, the Quick Mode and
//! Informational HASHes, and phase 2 KEYMAT.

use super::{CipherAlg, HashAlg, Secret};

#[derive(Debug, Clone)]
pub struct Phase1Keys {
    pub skeyid: Secret,
    pub skeyid_d: Secret,
    pub skeyid_a: Secret,
    pub skeyid_e: Secret,
    /// The cipher key: SKEYID_e truncated or expanded (RFC 2409 appendix B) to the key length.
    pub enc_key: Secret,
}

/// SKEYID = prf(pre-shared-key, Ni_b | Nr_b), then
/// SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0), _a (.. | SKEYID_d | .. | 1), _e (.. 2).
#[allow(clippy::too_many_arguments)]
pub fn derive_phase1_psk(
    prf: HashAlg,
    cipher: CipherAlg,
    psk: &[u8],
    ni_b: &[u8],
    nr_b: &[u8],
    g_xy: &[u8],
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
) -> Phase1Keys {
    derive_phase1(
        prf,
        cipher,
        skeyid_psk(prf, psk, ni_b, nr_b),
        g_xy,
        cky_i,
        cky_r,
    )
}

/// SKEYID for pre-shared key authentication: prf(pre-shared-key, Ni_b | Nr_b)
/// (RFC 2409 section 5).
pub fn skeyid_psk(prf: HashAlg, psk: &[u8], ni_b: &[u8], nr_b: &[u8]) -> Secret {
    Secret::new(prf.prf(psk, &[ni_b, nr_b]))
}

/// SKEYID_d, _a, _e and the cipher key from SKEYID, whatever the authentication method.
pub fn derive_phase1(
    prf: HashAlg,
    cipher: CipherAlg,
    skeyid: Secret,
    g_xy: &[u8],
    cky_i: &[u8; 8],
    cky_r: &[u8; 8],
) -> Phase1Keys {
    let derive = |prev: &[u8], n: u8| {
        Secret::new(prf.prf(skeyid.as_bytes(), &[prev, g_xy, cky_i, cky_r, &[n]]))
    };
    let skeyid_d = derive(&[], 0);
    let skeyid_a = derive(skeyid_d.as_bytes(), 1);
    let skeyid_e = derive(skeyid_a.as_bytes(), 2);
    let enc_key = encryption_key(prf, skeyid_e.as_bytes(), cipher.key_len());
    Phase1Keys {
        skeyid,
        skeyid_d,
        skeyid_a,
        skeyid_e,
        enc_key,
    }
}

/// RFC 2409 appendix B: the leftmost bytes of SKEYID_e, or when it is too short
/// (3DES or AES-256 with MD5/SHA-1), Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0)
/// and Kn = prf(SKEYID_e, Kn-1), truncated.
fn encryption_key(prf: HashAlg, skeyid_e: &[u8], key_len: usize) -> Secret {
    if skeyid_e.len() >= key_len {
        return Secret::new(skeyid_e[..key_len].to_vec());
    }
    // Every block is key material: each is wiped, not only the last.
    let mut ka = Secret::new(Vec::with_capacity(key_len + prf.output_len()));
    let mut k = Secret::new(prf.prf(skeyid_e, &[&[0]]));
    while ka.len() < key_len {
        ka.0.extend_from_slice(k.as_bytes());
        k = Secret::new(prf.prf(skeyid_e, &[k.as_bytes()]));
    }
    ka.0.truncate(key_len);
    ka
}

/// First phase 1 IV: hash(g^xi | g^xr) truncated to the block length.
pub fn initial_iv(hash: HashAlg, cipher: CipherAlg, g_xi: &[u8], g_xr: &[u8]) -> Vec<u8> {
    let mut iv = hash.hash(&[g_xi, g_xr]);
    iv.truncate(cipher.block_len());
    iv
}

/// IV of a phase 2 / Informational exchange: hash(last phase 1 CBC block | M-ID) truncated.
pub fn message_iv(
    hash: HashAlg,
    cipher: CipherAlg,
    last_p1_block: &[u8],
    message_id: u32,
) -> Vec<u8> {
    let mut iv = hash.hash(&[last_p1_block, &message_id.to_be_bytes()]);
    iv.truncate(cipher.block_len());
    iv
}

/// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
/// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b): call with the
/// roles swapped (`hash_phase1(prf, skeyid, g_xr, g_xi, cky_r, cky_i, sai_b, idir_b)`).
#[allow(clippy::too_many_arguments)]
pub fn hash_phase1(
    prf: HashAlg,
    skeyid: &[u8],
    g_x_own: &[u8],
    g_x_other: &[u8],
    cky_own: &[u8; 8],
    cky_other: &[u8; 8],
    sai_b: &[u8],
    id_b: &[u8],
) -> Vec<u8> {
    prf.prf(
        skeyid,
        &[g_x_own, g_x_other, cky_own, cky_other, sai_b, id_b],
    )
}

/// Quick Mode HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] [| IDci | IDcr]): `rest` is
/// the message after the HASH payload, up to the last payload (not the padding).
/// RFC 2409 section 5.7 computes the Informational HASH the same way.
pub fn hash_qm1(prf: HashAlg, skeyid_a: &[u8], message_id: u32, rest: &[u8]) -> Vec<u8> {
    prf.prf(skeyid_a, &[&message_id.to_be_bytes(), rest])
}

/// Quick Mode HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [| KE] [| IDci | IDcr]).
pub fn hash_qm2(
    prf: HashAlg,
    skeyid_a: &[u8],
    message_id: u32,
    ni_b: &[u8],
    rest: &[u8],
) -> Vec<u8> {
    prf.prf(skeyid_a, &[&message_id.to_be_bytes(), ni_b, rest])
}

/// Quick Mode HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
pub fn hash_qm3(
    prf: HashAlg,
    skeyid_a: &[u8],
    message_id: u32,
    ni_b: &[u8],
    nr_b: &[u8],
) -> Vec<u8> {
    prf.prf(skeyid_a, &[&[0], &message_id.to_be_bytes(), ni_b, nr_b])
}

/// KEYMAT = K1 | K2 | ... with K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
/// Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), `len` bytes.
#[allow(clippy::too_many_arguments)]
pub fn keymat(
    prf: HashAlg,
    skeyid_d: &[u8],
    g_qm_xy: Option<&[u8]>,
    protocol: u8,
    spi: u32,
    ni_b: &[u8],
    nr_b: &[u8],
    len: usize,
) -> Secret {
    let g = g_qm_xy.unwrap_or(&[]);
    let spi = spi.to_be_bytes();
    // Every block is key material: each is wiped, not only the last.
    let mut out = Secret::new(Vec::with_capacity(len + prf.output_len()));
    let mut k = Secret::new(Vec::new());
    while out.len() < len {
        // K1 has no previous block: `k` is empty on the first round.
        k = Secret::new(prf.prf(skeyid_d, &[k.as_bytes(), g, &[protocol], &spi, ni_b, nr_b]));
        out.0.extend_from_slice(k.as_bytes());
    }
    out.0.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fixture_path, unhex};
    use std::collections::BTreeMap;

    const NI: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    fn nr() -> Vec<u8> {
        (16..40).collect()
    }

    /// Every block of a key expansion is wiped, the ones past the key's length too.
    #[test]
    fn no_expansion_block_is_left_in_freed_memory() {
        let skeyid_e = [0x42; 16];
        let k1 = HashAlg::Md5.prf(&skeyid_e, &[&[0]]);
        let k2 = HashAlg::Md5.prf(&skeyid_e, &[&k1]);
        let left = crate::testutil::freed::copies_left(&[&k1, &k2], || {
            drop(encryption_key(HashAlg::Md5, &skeyid_e, 24));
        });
        assert_eq!(left, 0, "Ka = K1 | K2");
        let (d, spi) = ([0x17; 20], 0x1234u32.to_be_bytes());
        let k1 = HashAlg::Sha1.prf(&d, &[&[], &[3], &spi, &NI, &nr()]);
        let k2 = HashAlg::Sha1.prf(&d, &[&k1, &[3], &spi, &NI, &nr()]);
        let left = crate::testutil::freed::copies_left(&[&k1, &k2], || {
            drop(keymat(HashAlg::Sha1, &d, None, 3, 0x1234, &NI, &nr(), 36));
        });
        assert_eq!(left, 0, "KEYMAT = K1 | K2");
    }

    /// RFC 2409 appendix B: MD5's 16-byte SKEYID_e is too short for a 24-byte 3DES key,
    /// so Ka = K1 | K2 truncated, K1 = prf(SKEYID_e, 0), K2 = prf(SKEYID_e, K1).
    /// Expected values from Python's `hmac` module.
    #[test]
    fn appendix_b_expands_short_skeyid_e() {
        let keys = derive_phase1_psk(
            HashAlg::Md5,
            CipherAlg::TripleDes,
            b"cisco",
            &NI,
            &nr(),
            &[0xa5; 96],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
        );
        assert_eq!(
            keys.skeyid_e.as_bytes(),
            unhex("080c00ead8e2b84319b5e6d96d53ac10")
        );
        assert_eq!(
            keys.enc_key.as_bytes(),
            unhex("b89ef77859c33041cb2206d37593fb12136ba828f53bf199")
        );
        // Long enough: the leftmost bytes (DES takes 8 of SHA-1's 20).
        assert_eq!(
            encryption_key(HashAlg::Sha1, &[9; 20], 8).as_bytes(),
            [9; 8]
        );
        // AES-256 with SHA-1 needs two rounds too.
        let e = [3u8; 20];
        let k1 = HashAlg::Sha1.prf(&e, &[&[0]]);
        let k2 = HashAlg::Sha1.prf(&e, &[&k1]);
        assert_eq!(
            encryption_key(HashAlg::Sha1, &e, 32).as_bytes(),
            [&k1[..], &k2[..12]].concat()
        );
    }

    /// KEYMAT expanded over four SHA-1 blocks, with a PFS g^xy (Python `hmac`).
    #[test]
    fn keymat_expands_with_pfs() {
        let km = keymat(
            HashAlg::Sha1,
            &(0..20).collect::<Vec<u8>>(),
            Some(&[7; 128]),
            3,
            0xc0ffee01,
            &NI,
            &nr(),
            64,
        );
        assert_eq!(
            km.as_bytes(),
            unhex(
                "9dbbac567d975fedffbdaf6f841fd515aaa933dd045cd4654e341f7fdd93efee\
                 2d841683161cb5931ce1ffb1c3b429ef08e0006226090dbfd462b447892bb3cc"
            )
        );
        let short = keymat(HashAlg::Sha1, &[1; 20], None, 3, 1, &NI, &NI, 12);
        let full = keymat(HashAlg::Sha1, &[1; 20], None, 3, 1, &NI, &NI, 40);
        assert_eq!(short.as_bytes(), &full.as_bytes()[..12]);
    }

    /// NIST CAVP IKEv1 KDF sample cases (provenance in the fixture): every case checks
    /// what it has inputs for: SKEYID from the pre-shared key, SKEYID_d/_a/_e from
    /// SKEYID, or the whole chain.
    #[test]
    fn cavp_ikev1_kdf_vectors() {
        let text = std::fs::read_to_string(fixture_path("cavp-ikev1-psk.txt")).unwrap();
        let mut cases: Vec<(HashAlg, BTreeMap<&str, Vec<u8>>)> = Vec::new();
        let mut prf = None;
        for line in text.lines().map(str::trim) {
            match line {
                "" => {}
                _ if line.starts_with('#') => {}
                "[SHA-1]" => prf = Some(HashAlg::Sha1),
                "[SHA-256]" => prf = Some(HashAlg::Sha256),
                _ => {
                    let (k, v) = line.split_once(" = ").expect("key = value");
                    if k == "COUNT" {
                        cases.push((prf.expect("hash section"), BTreeMap::new()));
                    } else {
                        cases.last_mut().unwrap().1.insert(k, unhex(v));
                    }
                }
            }
        }
        let mut checked = BTreeMap::new();
        for (prf, case) in &cases {
            let skeyid = Secret::new(case["SKEYID"].clone());
            if let Some(psk) = case.get("pre-shared-key") {
                assert_eq!(skeyid_psk(*prf, psk, &case["Ni"], &case["Nr"]), skeyid);
            }
            if let Some(g_xy) = case.get("g^xy") {
                let cky = |k| <[u8; 8]>::try_from(&case[k][..]).unwrap();
                let keys = derive_phase1(
                    *prf,
                    CipherAlg::Des,
                    skeyid,
                    g_xy,
                    &cky("CKY_I"),
                    &cky("CKY_R"),
                );
                assert_eq!(keys.skeyid_d.as_bytes(), case["SKEYID_d"]);
                assert_eq!(keys.skeyid_a.as_bytes(), case["SKEYID_a"]);
                assert_eq!(keys.skeyid_e.as_bytes(), case["SKEYID_e"]);
                if let Some(psk) = case.get("pre-shared-key") {
                    // The whole chain through the engine's entry point.
                    let all = derive_phase1_psk(
                        *prf,
                        CipherAlg::Des,
                        psk,
                        &case["Ni"],
                        &case["Nr"],
                        g_xy,
                        &cky("CKY_I"),
                        &cky("CKY_R"),
                    );
                    assert_eq!(all.skeyid_e, keys.skeyid_e);
                }
            }
            *checked.entry(prf.ike_id()).or_insert(0) += 1;
        }
        assert_eq!(checked, BTreeMap::from([(2, 3), (4, 2)]));
    }

    #[test]
    fn ivs_are_truncated_hashes() {
        let iv = initial_iv(HashAlg::Sha256, CipherAlg::Aes(256), b"gxi", b"gxr");
        assert_eq!(iv, HashAlg::Sha256.hash(&[b"gxigxr"])[..16]);
        let iv = message_iv(HashAlg::Md5, CipherAlg::Des, &[1; 8], 0x01020304);
        assert_eq!(iv, HashAlg::Md5.hash(&[&[1; 8], &[1, 2, 3, 4]])[..8]);
    }
}
