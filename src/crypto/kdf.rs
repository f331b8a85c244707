//! RFC 2409 key derivation for pre-shared keys: SKEYID, SKEYID_d/_a/_e, the phase 1
//! encryption key (appendix B expansion), IVs, HASH_I/HASH_R and phase 2 KEYMAT.

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
    let _ = (prf, cipher, psk, ni_b, nr_b, g_xy, cky_i, cky_r);
    todo!()
}

/// First phase 1 IV: hash(g^xi | g^xr) truncated to the block length.
pub fn initial_iv(hash: HashAlg, cipher: CipherAlg, g_xi: &[u8], g_xr: &[u8]) -> Vec<u8> {
    let _ = (hash, cipher, g_xi, g_xr);
    todo!()
}

/// IV of a phase 2 / Informational exchange: hash(last phase 1 CBC block | M-ID) truncated.
pub fn message_iv(
    hash: HashAlg,
    cipher: CipherAlg,
    last_p1_block: &[u8],
    message_id: u32,
) -> Vec<u8> {
    let _ = (hash, cipher, last_p1_block, message_id);
    todo!()
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
    let _ = (
        prf, skeyid, g_x_own, g_x_other, cky_own, cky_other, sai_b, id_b,
    );
    todo!()
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
    let _ = (prf, skeyid_d, g_qm_xy, protocol, spi, ni_b, nr_b, len);
    todo!()
}
