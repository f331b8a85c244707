//! ECP groups 19, 20, 21 (RFC 5903): Diffie-Hellman over NIST P-256, P-384 and P-521.
//!
//! RFC 5903 section 7 fixes the IKE encoding: the KE payload carries x || y, each
//! coordinate left-padded to the field's length, with no SEC1 point-format byte; the
//! shared secret is the x coordinate of the common point alone. The curve arithmetic is
//! AWS-LC's (constant-time, assembly for P-256 and P-384), which also checks that a
//! received point is on the curve.

use super::{CryptoError, Rng, Secret};
use aws_lc_rs::agreement::{
    agree, Algorithm, PrivateKey, UnparsedPublicKey, ECDH_P256, ECDH_P384, ECDH_P521,
};
use zeroize::Zeroizing;

/// SEC1's uncompressed-point prefix, which IKE leaves out (RFC 5903 7).
const SEC1_UNCOMPRESSED: u8 = 0x04;

/// One of the three curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Curve {
    P256,
    P384,
    P521,
}

/// Our private scalar in a form ready for the curve arithmetic; AWS-LC clears it when
/// dropped.
pub(super) struct EcpPrivate {
    key: PrivateKey,
    curve: Curve,
}

impl Curve {
    /// Bytes of one coordinate and of the shared secret.
    pub(super) fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    fn algorithm(self) -> &'static Algorithm {
        match self {
            Curve::P256 => &ECDH_P256,
            Curve::P384 => &ECDH_P384,
            Curve::P521 => &ECDH_P521,
        }
    }

    /// A private scalar in 1..n-1, uniformly drawn: field-length strings from `rng`
    /// (P-521's top 7 bits cleared, the field being 521 bits) until one is below the
    /// order n. For P-256 and P-384 a retry happens with probability below 2^-32.
    pub(super) fn generate(self, rng: &mut dyn Rng) -> EcpPrivate {
        let mut bytes = Zeroizing::new(vec![0u8; self.field_len()]);
        loop {
            rng.fill(&mut bytes);
            if self == Curve::P521 {
                bytes[0] &= 0x01;
            }
            if let Some(key) = self.private(&bytes) {
                return key;
            }
        }
    }

    /// The private key with scalar `k` (big-endian, the field's length); `None` outside
    /// 1..n-1.
    pub(super) fn private(self, k: &[u8]) -> Option<EcpPrivate> {
        let key = PrivateKey::from_private_key(self.algorithm(), k).ok()?;
        Some(EcpPrivate { key, curve: self })
    }
}

impl EcpPrivate {
    /// x || y of k*G (RFC 5903 section 7).
    pub(super) fn public_value(&self) -> Vec<u8> {
        let public = self
            .key
            .compute_public_key()
            .expect("a valid private key has a public key");
        // SEC1 uncompressed: 04 || x || y.
        public.as_ref()[1..].to_vec()
    }

    /// The x coordinate of k*Q for the peer's point Q, after checking that Q's encoding
    /// has the right length, both coordinates are field elements and Q is on the curve
    /// (RFC 5903 section 5; the NIST curves have cofactor 1, so every such point is in
    /// the prime-order group, and the affine encoding cannot express the identity).
    pub(super) fn shared_secret(&self, peer: &[u8]) -> Result<Secret, CryptoError> {
        if peer.len() != 2 * self.curve.field_len() {
            return Err(CryptoError::InvalidPublicValue);
        }
        let sec1 = [&[SEC1_UNCOMPRESSED][..], peer].concat();
        let peer = UnparsedPublicKey::new(self.curve.algorithm(), sec1);
        agree(&self.key, peer, CryptoError::InvalidPublicValue, |x| {
            Ok(Secret::new(x.to_vec()))
        })
    }
}
