//! Hash algorithms and their HMAC PRFs (RFC 2409 section 4: prf = HMAC of the negotiated hash).

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Phase 1 hash / PRF (IKE attribute 2 values: 1 MD5, 2 SHA, 4 SHA2-256, 5 SHA2-384, 6 SHA2-512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// The longest hash output (SHA-512), for stack buffers.
pub const MAX_OUTPUT_LEN: usize = 64;

impl HashAlg {
    pub const ALL: [HashAlg; 5] = [
        HashAlg::Md5,
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    /// IKE attribute value (RFC 2409 appendix A, RFC 4868 for SHA-2).
    pub fn ike_id(self) -> u16 {
        match self {
            HashAlg::Md5 => 1,
            HashAlg::Sha1 => 2,
            HashAlg::Sha256 => 4,
            HashAlg::Sha384 => 5,
            HashAlg::Sha512 => 6,
        }
    }
    pub fn from_ike_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.ike_id() == id)
    }
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Md5 => 16,
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
    /// hash(parts[0] | parts[1] | ...): the phase 1 and phase 2 IVs are truncated hashes
    /// (RFC 2409 appendix B).
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            HashAlg::Md5 => run::<Md5>(parts),
            HashAlg::Sha1 => run::<Sha1>(parts),
            HashAlg::Sha256 => run::<Sha256>(parts),
            HashAlg::Sha384 => run::<Sha384>(parts),
            HashAlg::Sha512 => run::<Sha512>(parts),
        }
    }
    /// HMAC(key, parts[0] | parts[1] | ...).
    pub fn prf(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0; self.output_len()];
        HmacKey::new(self, key).mac_into(parts, &mut out);
        out
    }
    /// IOS name as `show crypto isakmp sa detail` prints it: "md5", "sha", "sha256", ...
    pub fn ios_name(self) -> &'static str {
        match self {
            HashAlg::Md5 => "md5",
            HashAlg::Sha1 => "sha",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }
}

#[derive(Clone)]
enum HmacState {
    Md5(Hmac<Md5>),
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

/// An HMAC key with its inner and outer pads already hashed. Each MAC works on a clone,
/// so a long-lived key (an ESP SA's ICV key) costs no re-keying per packet.
/// `Debug` shows the algorithm only.
#[derive(Clone)]
pub struct HmacKey {
    alg: HashAlg,
    state: HmacState,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacKey({:?})", self.alg)
    }
}

impl HmacKey {
    pub fn new(alg: HashAlg, key: &[u8]) -> Self {
        // HMAC takes keys of any length (RFC 2104 section 2): no error is possible.
        fn init<M: KeyInit>(key: &[u8]) -> M {
            M::new_from_slice(key).expect("HMAC accepts any key length")
        }
        let state = match alg {
            HashAlg::Md5 => HmacState::Md5(init(key)),
            HashAlg::Sha1 => HmacState::Sha1(init(key)),
            HashAlg::Sha256 => HmacState::Sha256(init(key)),
            HashAlg::Sha384 => HmacState::Sha384(init(key)),
            HashAlg::Sha512 => HmacState::Sha512(init(key)),
        };
        HmacKey { alg, state }
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Writes the leftmost `out.len()` bytes of HMAC(key, parts[0] | parts[1] | ...):
    /// truncation as RFC 2104 section 5 and RFC 2404 / RFC 4868 ICVs use it.
    /// `out` must not be longer than `alg().output_len()`.
    pub fn mac_into(&self, parts: &[&[u8]], out: &mut [u8]) {
        fn run<M: Mac + Clone>(mac: &M, parts: &[&[u8]], out: &mut [u8]) {
            let mut mac = mac.clone();
            for p in parts {
                mac.update(p);
            }
            let tag = mac.finalize().into_bytes();
            out.copy_from_slice(&tag[..out.len()]);
        }
        match &self.state {
            HmacState::Md5(m) => run(m, parts, out),
            HmacState::Sha1(m) => run(m, parts, out),
            HmacState::Sha256(m) => run(m, parts, out),
            HmacState::Sha384(m) => run(m, parts, out),
            HmacState::Sha512(m) => run(m, parts, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    #[test]
    fn ike_ids_round_trip_and_unknown_ids_are_rejected() {
        for h in HashAlg::ALL {
            assert_eq!(HashAlg::from_ike_id(h.ike_id()), Some(h));
        }
        assert_eq!(HashAlg::from_ike_id(3), None, "3 is Tiger, unsupported");
        assert_eq!(HashAlg::from_ike_id(0), None);
    }

    /// RFC 2202 test case 2 (MD5, SHA-1) and RFC 4231 test case 2 (SHA-2): key "Jefe".
    #[test]
    fn hmac_matches_published_vectors() {
        let data: &[u8] = b"what do ya want for nothing?";
        let cases = [
            (HashAlg::Md5, "750c783e6ab0b503eaa86e310a5db738"),
            (HashAlg::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                HashAlg::Sha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                HashAlg::Sha384,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                HashAlg::Sha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (alg, expected) in cases {
            let expected = unhex(expected);
            assert_eq!(expected.len(), alg.output_len());
            // Split input: the PRF concatenates its parts.
            assert_eq!(alg.prf(b"Jefe", &[&data[..5], &data[5..]]), expected);
            let mut truncated = [0u8; 12];
            HmacKey::new(alg, b"Jefe").mac_into(&[data], &mut truncated);
            assert_eq!(truncated[..], expected[..12]);
        }
    }

    #[test]
    fn hash_matches_published_vectors() {
        assert_eq!(
            HashAlg::Sha1.hash(&[b"a", b"bc"]),
            unhex("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            HashAlg::Md5.hash(&[b"abc"]),
            unhex("900150983cd24fb0d6963f7d28e17f72")
        );
    }
}
