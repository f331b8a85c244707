//! Phase 1 ciphers in CBC mode, in place (RFC 2409 appendix B for IV chaining).

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
        todo!()
    }
    /// From attribute 1 and the optional key-length attribute 14 (AES without one: 128).
    pub fn from_ike(id: u16, key_bits: Option<u16>) -> Option<Self> {
        let _ = (id, key_bits);
        todo!()
    }
    /// Key-length attribute to send (AES only).
    pub fn key_length_attr(self) -> Option<u16> {
        todo!()
    }
    pub fn key_len(self) -> usize {
        todo!()
    }
    pub fn block_len(self) -> usize {
        todo!()
    }
    /// CBC-encrypt `buf` (a multiple of the block length) in place with `key` and `iv`.
    pub fn encrypt(self, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), super::CryptoError> {
        let _ = (key, iv, buf);
        todo!()
    }
    /// CBC-decrypt `buf` in place.
    pub fn decrypt(self, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), super::CryptoError> {
        let _ = (key, iv, buf);
        todo!()
    }
    /// IOS name: "des", "3des", "aes" (+ key size shown separately).
    pub fn ios_name(self) -> String {
        todo!()
    }
}
