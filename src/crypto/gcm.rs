//! AES-GCM as ESP uses it (RFC 4106 section 4, RFC 4543 section 3.2): the key from
//! KEYMAT is the AES key followed by a 4-byte salt; the 12-byte nonce is that salt and
//! the packet's 8-byte explicit IV. RustCrypto's `aes-gcm` runs on the CPU's AES and
//! carry-less multiply instructions when it has them and works in place.

use super::CryptoError;
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::{AeadInOut, AesGcm, KeyInit, Nonce, Tag};

/// Salt bytes at the end of the KEYMAT key (RFC 4106 8.1, RFC 4543 3.2).
pub const SALT_LEN: usize = 4;
/// Explicit IV bytes carried in each packet (RFC 4106 3.1).
pub const IV_LEN: usize = 8;
/// The 16-octet ICV (transform ESP_AES_GCM_16 / ENCR_NULL_AUTH_AES_GMAC).
pub const ICV_LEN: usize = 16;

enum Aead {
    Aes128(AesGcm<Aes128, U12>),
    Aes192(AesGcm<Aes192, U12>),
    Aes256(AesGcm<Aes256, U12>),
}

/// One direction's GCM key schedule and salt; the key schedule zeroizes on drop.
pub(crate) struct GcmKey {
    aead: Aead,
    salt: [u8; SALT_LEN],
}

impl GcmKey {
    /// `key_salt`: 20, 28 or 36 bytes, the AES key then the salt.
    pub(crate) fn new(key_salt: &[u8]) -> Result<Self, CryptoError> {
        let wrong = || CryptoError::KeyLength {
            expected: 16 + SALT_LEN,
            got: key_salt.len(),
        };
        let (key, salt) = key_salt.split_last_chunk::<SALT_LEN>().ok_or_else(wrong)?;
        let aead = match key.len() {
            16 => Aead::Aes128(KeyInit::new_from_slice(key).map_err(|_| wrong())?),
            24 => Aead::Aes192(KeyInit::new_from_slice(key).map_err(|_| wrong())?),
            32 => Aead::Aes256(KeyInit::new_from_slice(key).map_err(|_| wrong())?),
            _ => return Err(wrong()),
        };
        Ok(GcmKey { aead, salt: *salt })
    }

    fn nonce(&self, iv: &[u8; IV_LEN]) -> Nonce<U12> {
        let mut nonce = Nonce::<U12>::default();
        nonce[..SALT_LEN].copy_from_slice(&self.salt);
        nonce[SALT_LEN..].copy_from_slice(iv);
        nonce
    }

    /// Encrypt `buf` in place, authenticating `aad` with it; returns the ICV.
    pub(crate) fn seal(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; ICV_LEN] {
        let nonce = self.nonce(iv);
        let tag = match &self.aead {
            Aead::Aes128(a) => a.encrypt_inout_detached(&nonce, aad, buf.into()),
            Aead::Aes192(a) => a.encrypt_inout_detached(&nonce, aad, buf.into()),
            Aead::Aes256(a) => a.encrypt_inout_detached(&nonce, aad, buf.into()),
        };
        // Only over-long inputs (2^36 bytes) fail; an ESP packet is below 64 KiB.
        tag.expect("an ESP packet fits GCM's length limits").into()
    }

    /// Check the ICV (constant time) over `aad` and `buf`, then decrypt `buf` in place;
    /// on a mismatch `buf` is left as received.
    pub(crate) fn open(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
        icv: &[u8],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(iv);
        let tag = Tag::try_from(icv).map_err(|_| CryptoError::Integrity)?;
        match &self.aead {
            Aead::Aes128(a) => a.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            Aead::Aes192(a) => a.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            Aead::Aes256(a) => a.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
        }
        .map_err(|_| CryptoError::Integrity)
    }
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.salt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    /// The GCM specification's test cases (McGrew and Viega, "The Galois/Counter Mode
    /// of Operation", also NIST's): 3 and 4 (AES-128), 9 (AES-192), 15 and 16
    /// (AES-256). Their 12-byte IV is our salt (first 4 bytes) and explicit IV.
    #[test]
    fn gcm_specification_test_cases() {
        const P: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
        const AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
        const K: &str = "feffe9928665731c6d6a8f9467308308";
        let cases = [
            (
                K.to_string(),
                "",
                64,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
                "4d5c2af327cd64a62cf35abd2ba6fab4",
            ),
            (
                K.to_string(),
                AAD,
                60,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47",
            ),
            (
                format!("{K}{}", &K[..16]),
                "",
                64,
                "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c\
                 7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
                "9924a7c8587336bfb118024db8674a14",
            ),
            (
                format!("{K}{K}"),
                "",
                64,
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
                "b094dac5d93471bdec1a502270e3cc6c",
            ),
            (
                format!("{K}{K}"),
                AAD,
                60,
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b",
            ),
        ];
        for (key, aad, len, c, t) in cases {
            let key = GcmKey::new(&unhex(&format!("{key}cafebabe"))).unwrap();
            let iv: [u8; 8] = unhex("facedbaddecaf888").try_into().unwrap();
            let aad = unhex(aad);
            let mut buf = unhex(P)[..len].to_vec();
            let tag = key.seal(&iv, &aad, &mut buf);
            assert_eq!(buf, unhex(c));
            assert_eq!(tag.to_vec(), unhex(t));
            key.open(&iv, &aad, &mut buf, &tag).unwrap();
            assert_eq!(buf, unhex(P)[..len]);
        }
    }

    /// NIST CAVS gcmEncryptExtIV128 with no plaintext and 128 bits of AAD, count 0: GMAC
    /// as RFC 4543 uses it (everything authenticated, nothing encrypted).
    #[test]
    fn gmac_nist_vector() {
        let key = GcmKey::new(&unhex("77be63708971c4e240d1cb79e8d77febe0e00f19")).unwrap();
        let iv: [u8; 8] = unhex("fed7ba0136a797f3").try_into().unwrap();
        let aad = unhex("7a43ec1d9c0a5a78a0b16533a6213cab");
        let tag = key.seal(&iv, &aad, &mut []);
        assert_eq!(tag.to_vec(), unhex("209fcc8d3675ed938e9c7166709dd946"));
        assert_eq!(key.open(&iv, &aad, &mut [], &tag), Ok(()));
        let mut forged = tag;
        forged[15] ^= 1;
        assert_eq!(
            key.open(&iv, &aad, &mut [], &forged),
            Err(CryptoError::Integrity)
        );
    }

    #[test]
    fn keys_are_aes_keys_plus_salt() {
        for len in [20, 28, 36] {
            assert!(GcmKey::new(&vec![7; len]).is_ok(), "{len}");
        }
        for len in [0, 3, 4, 16, 19, 21, 32, 40] {
            assert!(GcmKey::new(&vec![7; len]).is_err(), "{len}");
        }
    }
}
