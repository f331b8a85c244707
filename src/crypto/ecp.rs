//! ECP groups 19, 20, 21 (RFC 5903): Diffie-Hellman over NIST P-256, P-384 and P-521.
//!
//! RFC 5903 section 7 fixes the IKE encoding: the KE payload carries x || y, each
//! coordinate left-padded to the field's length, with no SEC1 point-format byte; the
//! shared secret is the x coordinate of the common point alone. The curve arithmetic is
//! RustCrypto's (constant-time scalar multiplication on complete formulas).

use super::{CryptoError, Rng, Secret};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::{ecdh, CurveArithmetic, FieldBytes, NonZeroScalar, PublicKey};

/// One of the three curves, by its field length in bytes (32, 48, 66).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Curve {
    P256,
    P384,
    P521,
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

    /// A private scalar in 1..n-1, uniformly drawn: random field-length strings (P-521's
    /// top 7 bits cleared, the field being 521 bits) until one is below the order n.
    /// For P-256 and P-384 a retry happens with probability below 2^-32.
    pub(super) fn random_scalar(self, rng: &mut dyn Rng) -> Secret {
        let mut bytes = vec![0u8; self.field_len()];
        loop {
            rng.fill(&mut bytes);
            if self == Curve::P521 {
                bytes[0] &= 0x01;
            }
            if self.is_scalar(&bytes) {
                return Secret::new(bytes);
            }
        }
    }

    fn is_scalar(self, bytes: &[u8]) -> bool {
        match self {
            Curve::P256 => scalar::<p256::NistP256>(bytes).is_some(),
            Curve::P384 => scalar::<p384::NistP384>(bytes).is_some(),
            Curve::P521 => scalar::<p521::NistP521>(bytes).is_some(),
        }
    }

    /// x || y of k*G (RFC 5903 section 7).
    ///
    /// # Panics
    /// If `k` is not a scalar in 1..n-1 of this curve's field length.
    pub(super) fn public_value(self, k: &Secret) -> Vec<u8> {
        match self {
            Curve::P256 => public::<p256::NistP256>(k),
            Curve::P384 => public::<p384::NistP384>(k),
            Curve::P521 => public::<p521::NistP521>(k),
        }
    }

    /// The x coordinate of k*Q for the peer's point Q, after checking that Q's encoding
    /// has the right length, both coordinates are field elements and Q is on the curve
    /// (RFC 5903 section 5; the NIST curves have cofactor 1, so every such point is in
    /// the prime-order group, and the affine encoding cannot express the identity).
    pub(super) fn shared_secret(self, k: &Secret, peer: &[u8]) -> Result<Secret, CryptoError> {
        match self {
            Curve::P256 => shared::<p256::NistP256>(k, peer),
            Curve::P384 => shared::<p384::NistP384>(k, peer),
            Curve::P521 => shared::<p521::NistP521>(k, peer),
        }
    }
}

fn field_bytes<C: CurveArithmetic>(bytes: &[u8]) -> Option<FieldBytes<C>> {
    FieldBytes::<C>::try_from(bytes).ok()
}

fn scalar<C: CurveArithmetic>(bytes: &[u8]) -> Option<NonZeroScalar<C>> {
    Option::from(NonZeroScalar::<C>::from_repr(field_bytes::<C>(bytes)?))
}

fn public<C: CurveArithmetic>(k: &Secret) -> Vec<u8> {
    let k = scalar::<C>(k.as_bytes()).expect("an ECP private value is a scalar in 1..n-1");
    let point = PublicKey::<C>::from_secret_scalar(&k);
    let point = point.as_affine();
    [point.x().as_slice(), point.y().as_slice()].concat()
}

fn shared<C: CurveArithmetic>(k: &Secret, peer: &[u8]) -> Result<Secret, CryptoError> {
    let k = scalar::<C>(k.as_bytes()).expect("an ECP private value is a scalar in 1..n-1");
    let n = FieldBytes::<C>::default().len();
    if peer.len() != 2 * n {
        return Err(CryptoError::InvalidPublicValue);
    }
    let (x, y) = peer.split_at(n);
    let (x, y) = (
        field_bytes::<C>(x).ok_or(CryptoError::InvalidPublicValue)?,
        field_bytes::<C>(y).ok_or(CryptoError::InvalidPublicValue)?,
    );
    let point: C::AffinePoint = Option::from(C::AffinePoint::from_coordinates(&x, &y))
        .ok_or(CryptoError::InvalidPublicValue)?;
    let shared = ecdh::diffie_hellman(k, point);
    Ok(Secret::new(shared.raw_secret_bytes().to_vec()))
}
