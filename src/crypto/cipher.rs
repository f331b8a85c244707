//! Phase 1 ciphers in CBC mode, in place (RFC 2409 appendix B for IV chaining).

use super::CryptoError;
use aes::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
    KeyInit,
};

/// Phase 1 encryption (IKE attribute 1: 1 DES-CBC, 5 3DES-CBC, 7 AES-CBC + key length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherAlg {
    Des,
    TripleDes,
    /// Key length in bits: 128, 192 or 256.
    Aes(u16),
}

impl CipherAlg {
    pub const ALL: [CipherAlg; 5] = [
        CipherAlg::Des,
        CipherAlg::TripleDes,
        CipherAlg::Aes(128),
        CipherAlg::Aes(192),
        CipherAlg::Aes(256),
    ];

    /// IKE attribute 1 value.
    pub fn ike_id(self) -> u16 {
        match self {
            CipherAlg::Des => 1,
            CipherAlg::TripleDes => 5,
            CipherAlg::Aes(_) => 7,
        }
    }
    /// From attribute 1 and the optional key-length attribute 14 (AES without one: 128).
    pub fn from_ike(id: u16, key_bits: Option<u16>) -> Option<Self> {
        // RFC 3602 section 5: AES key length attribute 128/192/256; a missing one means
        // 128 (what IOS and strongSwan do). DES/3DES have fixed keys: a length is an error.
        match (id, key_bits) {
            (1, None) => Some(CipherAlg::Des),
            (5, None) => Some(CipherAlg::TripleDes),
            (7, None) => Some(CipherAlg::Aes(128)),
            (7, Some(bits @ (128 | 192 | 256))) => Some(CipherAlg::Aes(bits)),
            _ => None,
        }
    }
    /// Key-length attribute to send (AES only).
    pub fn key_length_attr(self) -> Option<u16> {
        match self {
            CipherAlg::Aes(bits) => Some(bits),
            CipherAlg::Des | CipherAlg::TripleDes => None,
        }
    }
    pub fn key_len(self) -> usize {
        match self {
            CipherAlg::Des => 8,
            CipherAlg::TripleDes => 24,
            CipherAlg::Aes(bits) => usize::from(bits) / 8,
        }
    }
    pub fn block_len(self) -> usize {
        match self {
            CipherAlg::Des | CipherAlg::TripleDes => 8,
            CipherAlg::Aes(_) => 16,
        }
    }
    /// CBC-encrypt `buf` (a multiple of the block length) in place with `key` and `iv`.
    pub fn encrypt(self, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        CbcKey::new(self, key)?.encrypt(iv, buf)
    }
    /// CBC-decrypt `buf` in place.
    pub fn decrypt(self, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        CbcKey::new(self, key)?.decrypt(iv, buf)
    }
    /// IOS name: "des", "3des", "aes" (+ key size shown separately).
    pub fn ios_name(self) -> String {
        match self {
            CipherAlg::Des => "des",
            CipherAlg::TripleDes => "3des",
            CipherAlg::Aes(_) => "aes",
        }
        .to_string()
    }
}

/// A block cipher key schedule, expanded once and used for any number of CBC runs
/// (ESP SAs keep one per direction).
#[derive(Clone)]
pub(crate) enum CbcKey {
    Des(des::Des),
    TripleDes(des::TdesEde3),
    Aes128(aes::Aes128),
    Aes192(aes::Aes192),
    Aes256(aes::Aes256),
}

impl CbcKey {
    pub(crate) fn new(alg: CipherAlg, key: &[u8]) -> Result<Self, CryptoError> {
        fn init<C: KeyInit>(key: &[u8]) -> Result<C, CryptoError> {
            C::new_from_slice(key).map_err(|_| CryptoError::KeyLength {
                expected: C::key_size(),
                got: key.len(),
            })
        }
        Ok(match alg {
            CipherAlg::Des => CbcKey::Des(init(key)?),
            CipherAlg::TripleDes => CbcKey::TripleDes(init(key)?),
            CipherAlg::Aes(128) => CbcKey::Aes128(init(key)?),
            CipherAlg::Aes(192) => CbcKey::Aes192(init(key)?),
            CipherAlg::Aes(256) => CbcKey::Aes256(init(key)?),
            // Not constructible through `from_ike`; a hand-built `Aes(100)` has no cipher.
            CipherAlg::Aes(_) => {
                return Err(CryptoError::KeyLength {
                    expected: 16,
                    got: key.len(),
                })
            }
        })
    }

    pub(crate) fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.cbc(Mode::Encrypt, iv, buf)
    }

    pub(crate) fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.cbc(Mode::Decrypt, iv, buf)
    }

    fn cbc(&self, mode: Mode, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        match self {
            CbcKey::Des(c) => cbc(c, mode, iv, buf),
            CbcKey::TripleDes(c) => cbc(c, mode, iv, buf),
            CbcKey::Aes128(c) => cbc(c, mode, iv, buf),
            CbcKey::Aes192(c) => cbc(c, mode, iv, buf),
            CbcKey::Aes256(c) => cbc(c, mode, iv, buf),
        }
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Encrypt,
    Decrypt,
}

const BAD_IV: CryptoError = CryptoError::Malformed("IV is not one cipher block");

// The CBC modes borrow the prepared cipher (`&C` is a block cipher too): no key
// schedule is copied or recomputed per call.
fn cbc<C: BlockCipherEncrypt + BlockCipherDecrypt>(
    cipher: &C,
    mode: Mode,
    iv: &[u8],
    buf: &mut [u8],
) -> Result<(), CryptoError> {
    let iv = Array::try_from(iv).map_err(|_| BAD_IV)?;
    let (blocks, tail) = Array::slice_as_chunks_mut(buf);
    if !tail.is_empty() {
        return Err(CryptoError::NotBlockAligned);
    }
    match mode {
        Mode::Encrypt => cbc::Encryptor::<&C>::inner_iv_init(cipher, &iv).encrypt_blocks(blocks),
        Mode::Decrypt => cbc::Decryptor::<&C>::inner_iv_init(cipher, &iv).decrypt_blocks(blocks),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    #[test]
    fn ike_ids_round_trip() {
        for c in CipherAlg::ALL {
            assert_eq!(
                CipherAlg::from_ike(c.ike_id(), c.key_length_attr()),
                Some(c)
            );
        }
        assert_eq!(CipherAlg::from_ike(7, None), Some(CipherAlg::Aes(128)));
        assert_eq!(CipherAlg::from_ike(7, Some(64)), None);
        assert_eq!(CipherAlg::from_ike(1, Some(64)), None);
        assert_eq!(CipherAlg::from_ike(2, None), None, "IDEA is not supported");
    }

    /// RFC 3602 section 4, case #2 (AES-128-CBC, two blocks) and NIST SP 800-38A
    /// F.2.5 (AES-256-CBC, first block).
    #[test]
    fn aes_cbc_matches_published_vectors() {
        let key = unhex("c286696d887c9aa0611bbb3e2025a45a");
        let iv = unhex("562e17996d093d28ddb3ba695a2e6f58");
        let plain = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let mut buf = plain.clone();
        CipherAlg::Aes(128).encrypt(&key, &iv, &mut buf).unwrap();
        assert_eq!(
            buf,
            unhex("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")
        );
        CipherAlg::Aes(128).decrypt(&key, &iv, &mut buf).unwrap();
        assert_eq!(buf, plain);

        let key = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv = unhex("000102030405060708090a0b0c0d0e0f");
        let mut buf = unhex("6bc1bee22e409f96e93d7e117393172a");
        CipherAlg::Aes(256).encrypt(&key, &iv, &mut buf).unwrap();
        assert_eq!(buf, unhex("f58c4c04d6e5f1ba779eabfb5f7bfbd6"));
    }

    #[test]
    fn every_cipher_round_trips_and_chains_blocks() {
        for alg in CipherAlg::ALL {
            let key: Vec<u8> = (0..alg.key_len() as u8).collect();
            let iv = vec![0x5a; alg.block_len()];
            let plain = vec![0x42; alg.block_len() * 3];
            let mut buf = plain.clone();
            alg.encrypt(&key, &iv, &mut buf).unwrap();
            // Equal plaintext blocks give different ciphertext blocks only if chained.
            let bl = alg.block_len();
            assert_ne!(buf[..bl], buf[bl..2 * bl], "{alg:?}");
            alg.decrypt(&key, &iv, &mut buf).unwrap();
            assert_eq!(buf, plain, "{alg:?}");
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        let mut buf = [0u8; 12];
        assert_eq!(
            CipherAlg::Des.encrypt(&[0; 8], &[0; 8], &mut buf),
            Err(CryptoError::NotBlockAligned)
        );
        assert_eq!(
            CipherAlg::Aes(256).decrypt(&[0; 16], &[0; 16], &mut [0; 16]),
            Err(CryptoError::KeyLength {
                expected: 32,
                got: 16
            })
        );
        assert!(CipherAlg::Aes(128)
            .encrypt(&[0; 16], &[0; 8], &mut [0; 16])
            .is_err());
    }
}
