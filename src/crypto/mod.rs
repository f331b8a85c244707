//! Cryptography for IKEv1 (RFC 2409) and ESP (RFC 4303): the engine (`ike/`) derives
//! and checks with it, both data paths seal and open ESP with it; it knows of neither.

pub mod cipher;
pub mod dh;
mod ecp;
pub mod esp;
mod gcm;
pub mod kdf;
pub mod prf;
pub mod rng;

pub use cipher::CipherAlg;
pub use dh::{DhGroup, DhPrivate};
pub use esp::{EspAuth, EspEncr, EspSa, EspTransform};
pub use kdf::Phase1Keys;
pub use prf::HashAlg;
#[cfg(any(test, feature = "test-rng"))]
pub use rng::TestRng;
pub use rng::{OsRng, Rng};

/// Secret bytes: zeroized on drop, redacted in `Debug`, compared in constant time
/// (only the lengths may show: a derived `PartialEq` stops at the first differing byte,
/// which times out how much of a guessed key is right).
#[derive(Clone, zeroize::ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl subtle::ConstantTimeEq for Secret {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        subtle::Choice::from(u8::from(ct_eq(&self.0, &other.0)))
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for Secret {}

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Constant-time equality for hashes and ICVs (length leak only).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Errors of the crypto layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// A key of the wrong length for the algorithm.
    KeyLength { expected: usize, got: usize },
    /// Data not a multiple of the cipher block size.
    NotBlockAligned,
    /// A peer's DH public value outside 1 < y < p-1 or of the wrong length.
    InvalidPublicValue,
    /// ESP: ICV check failed.
    Integrity,
    /// ESP: malformed packet (too short, bad padding, bad lengths).
    Malformed(&'static str),
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CryptoError::KeyLength { expected, got } => {
                write!(f, "key length {got}, expected {expected}")
            }
            CryptoError::NotBlockAligned => f.write_str("data not a multiple of the block size"),
            CryptoError::InvalidPublicValue => f.write_str("invalid Diffie-Hellman public value"),
            CryptoError::Integrity => f.write_str("integrity check failed"),
            CryptoError::Malformed(why) => write!(f, "malformed: {why}"),
        }
    }
}

impl std::error::Error for CryptoError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if `Secret`'s comparison is `subtle`'s constant-time one.
    fn compared_in_constant_time<T: subtle::ConstantTimeEq + PartialEq>(a: &T, b: &T) -> bool {
        bool::from(a.ct_eq(b)) == (a == b)
    }

    #[test]
    fn secrets_compare_in_constant_time() {
        let key = Secret::new(b"cisco".to_vec());
        for other in [&b"cisco"[..], b"cisc0", b"Cisco", b"cisco1", b""] {
            let other = Secret::new(other.to_vec());
            assert!(compared_in_constant_time(&key, &other));
            assert_eq!(key == other, other.as_bytes() == b"cisco");
        }
    }
}
