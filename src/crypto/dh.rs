//! MODP Diffie-Hellman groups (RFC 2409 groups 1, 2; RFC 3526 groups 5, 14, 15, 16).
//! Our exponentiation is constant-time (crypto-bigint Montgomery form); peer public
//! values are validated 1 < y < p-1.

use super::{CryptoError, Rng, Secret};
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{CtAssign, CtEq, Odd, Uint, Word, U1024, U1536, U2048, U3072, U4096, U768};

/// 4-bit exponent digits per machine word (the fixed-base table's windows).
const DIGITS_PER_WORD: usize = Word::BITS as usize / 4;
use std::sync::OnceLock;
use zeroize::Zeroize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhGroup {
    Modp768,
    Modp1024,
    Modp1536,
    Modp2048,
    Modp3072,
    Modp4096,
}

impl DhGroup {
    pub const ALL: [DhGroup; 6] = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
    ];
    /// Group number (IKE attribute 4, IPsec attribute 3): 1, 2, 5, 14, 15, 16.
    pub fn id(self) -> u16 {
        match self {
            DhGroup::Modp768 => 1,
            DhGroup::Modp1024 => 2,
            DhGroup::Modp1536 => 5,
            DhGroup::Modp2048 => 14,
            DhGroup::Modp3072 => 15,
            DhGroup::Modp4096 => 16,
        }
    }
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.id() == id)
    }
    /// Length of public values and of the shared secret in bytes (the prime's length).
    pub fn value_len(self) -> usize {
        match self {
            DhGroup::Modp768 => 96,
            DhGroup::Modp1024 => 128,
            DhGroup::Modp1536 => 192,
            DhGroup::Modp2048 => 256,
            DhGroup::Modp3072 => 384,
            DhGroup::Modp4096 => 512,
        }
    }
    /// Bits of our random private exponent. A short exponent of twice the group's
    /// security strength keeps the discrete log as hard as the group itself (RFC 3526
    /// section 8; NIST SP 800-56A rev. 3 section 5.6.1.1.1 asks for 2s bits, with
    /// s = 112 for 2048-bit, 128 for 3072-bit, about 150 for 4096-bit groups), and
    /// makes the exponentiation 4 to 10 times cheaper than a full-length one.
    pub fn exponent_bits(self) -> usize {
        match self {
            DhGroup::Modp768 | DhGroup::Modp1024 | DhGroup::Modp1536 | DhGroup::Modp2048 => 256,
            DhGroup::Modp3072 => 320,
            DhGroup::Modp4096 => 384,
        }
    }
}

/// Our DH private exponent; zeroized on drop. `complete` spends it once.
pub struct DhPrivate {
    group: DhGroup,
    x: Secret,
    public: Vec<u8>,
}

impl std::fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhPrivate({:?})", self.group)
    }
}

impl DhPrivate {
    pub fn generate(group: DhGroup, rng: &mut dyn Rng) -> Self {
        let mut x = vec![0u8; group.exponent_bits() / 8];
        rng.fill(&mut x);
        // Top bit set: x is never 0 or 1 and every exponent has the same length.
        x[0] |= 0x80;
        Self::from_exponent(group, &x)
    }
    /// Build from a known exponent (tests against captures).
    ///
    /// # Panics
    /// If `x` is longer than the group's prime.
    pub fn from_exponent(group: DhGroup, x: &[u8]) -> Self {
        assert!(
            x.len() <= group.value_len(),
            "DH exponent longer than the prime"
        );
        let x = Secret::new(x.to_vec());
        let public = modexp(group, None, x.as_bytes())
            .expect("the generator is a valid base")
            .as_bytes()
            .to_vec();
        DhPrivate { group, x, public }
    }
    pub fn group(&self) -> DhGroup {
        self.group
    }
    /// g^x mod p, left-padded to `group.value_len()` bytes (the KE payload body).
    pub fn public_value(&self) -> Vec<u8> {
        self.public.clone()
    }
    /// g^xy mod p, left-padded to `group.value_len()` bytes; rejects y outside 1 < y < p-1.
    pub fn complete(self, peer_public: &[u8]) -> Result<Secret, CryptoError> {
        modexp(self.group, Some(peer_public), self.x.as_bytes())
    }
}

/// base^exponent mod p for `group`; the base is the generator 2 when `peer` is `None`.
/// The time depends on the exponent's byte length, never on its value.
fn modexp(group: DhGroup, peer: Option<&[u8]>, exponent: &[u8]) -> Result<Secret, CryptoError> {
    // Per group, computed on first use: the Montgomery parameters and the powers of g.
    macro_rules! run {
        ($uint:ty, $prime:ident) => {{
            const LIMBS: usize = <$uint>::LIMBS;
            static PARAMS: OnceLock<FixedMontyParams<LIMBS>> = OnceLock::new();
            static POWERS_OF_G: OnceLock<Vec<[Uint<LIMBS>; 16]>> = OnceLock::new();
            let params = PARAMS
                .get_or_init(|| FixedMontyParams::new_vartime(Odd::<$uint>::from_be_hex($prime)));
            let group = Modp {
                params,
                powers_of_g: &POWERS_OF_G,
                exponent_bits: group.exponent_bits(),
            };
            group.modexp(peer, exponent)
        }};
    }
    match group {
        DhGroup::Modp768 => run!(U768, MODP768),
        DhGroup::Modp1024 => run!(U1024, MODP1024),
        DhGroup::Modp1536 => run!(U1536, MODP1536),
        DhGroup::Modp2048 => run!(U2048, MODP2048),
        DhGroup::Modp3072 => run!(U3072, MODP3072),
        DhGroup::Modp4096 => run!(U4096, MODP4096),
    }
}

/// One group at its fixed size (`LIMBS` words, the prime's length).
struct Modp<const LIMBS: usize> {
    params: &'static FixedMontyParams<LIMBS>,
    /// `[i][j]` = g^(j * 16^i) in Montgomery form, for our `exponent_bits / 4` windows.
    powers_of_g: &'static OnceLock<Vec<[Uint<LIMBS>; 16]>>,
    exponent_bits: usize,
}

impl<const LIMBS: usize> Modp<LIMBS> {
    fn modexp(&self, peer: Option<&[u8]>, exponent: &[u8]) -> Result<Secret, CryptoError> {
        let len = Uint::<LIMBS>::BYTES;
        let mut padded = vec![0u8; len];
        padded[len - exponent.len()..].copy_from_slice(exponent);
        let mut x = Uint::<LIMBS>::from_be_slice(&padded);
        padded.zeroize();
        let bits = 8 * exponent.len();
        let mut result = match peer {
            // g^x with our own short exponents: the fixed-base table makes this one
            // multiplication per 4 exponent bits and no squarings (about 5x faster).
            None if bits <= self.exponent_bits => self.pow_g(&x),
            None => self.pow(&Uint::from_u8(2), &x, bits),
            Some(y) => self.pow(&self.validate(y)?, &x, bits),
        };
        x.as_mut_words().zeroize();
        let out = result.to_be_bytes().as_slice().to_vec();
        result.as_mut_words().zeroize();
        Ok(Secret::new(out))
    }

    /// A peer's public value: exactly the prime's length (RFC 2409 section 5, RFC 2412)
    /// and 1 < y < p-1, since 0, 1 and p-1 (or anything >= p) would confine g^xy to
    /// {0, 1, p-1}. Public values are public, so the comparisons may be vartime.
    fn validate(&self, y: &[u8]) -> Result<Uint<LIMBS>, CryptoError> {
        if y.len() != Uint::<LIMBS>::BYTES {
            return Err(CryptoError::InvalidPublicValue);
        }
        let y = Uint::<LIMBS>::from_be_slice(y);
        let p_minus_1 = self.params.modulus().get().wrapping_sub(&Uint::ONE);
        if y <= Uint::ONE || y >= p_minus_1 {
            return Err(CryptoError::InvalidPublicValue);
        }
        Ok(y)
    }

    /// base^x over `bits` exponent bits: fixed-window square-and-multiply with
    /// constant-time table lookups, so only `bits` shows in the timing.
    fn pow(&self, base: &Uint<LIMBS>, x: &Uint<LIMBS>, bits: usize) -> Uint<LIMBS> {
        FixedMontyForm::new(base, self.params)
            .pow_amm_bounded_exp(x, bits as u32)
            .retrieve()
    }

    /// g^x for x below 2^exponent_bits: the product over every 4-bit window i of
    /// g^(digit_i * 16^i), each factor picked by scanning the whole row in constant time.
    fn pow_g(&self, x: &Uint<LIMBS>) -> Uint<LIMBS> {
        let rows = self.powers_of_g.get_or_init(|| self.powers_of_g_table());
        let mut acc = FixedMontyForm::one(self.params);
        let mut factor = Uint::<LIMBS>::ZERO;
        for (i, row) in rows.iter().enumerate() {
            let digit = (x.as_words()[i / DIGITS_PER_WORD] >> ((i % DIGITS_PER_WORD) * 4)) & 0xf;
            factor = row[0];
            for (j, power) in row.iter().enumerate().skip(1) {
                factor.ct_assign(power, (j as Word).ct_eq(&digit));
            }
            acc *= FixedMontyForm::from_montgomery(factor, self.params);
        }
        factor.as_mut_words().zeroize();
        acc.retrieve()
    }

    fn powers_of_g_table(&self) -> Vec<[Uint<LIMBS>; 16]> {
        let one = FixedMontyForm::one(self.params);
        let mut g_16_i = FixedMontyForm::new(&Uint::from_u8(2), self.params);
        let mut rows = Vec::with_capacity(self.exponent_bits / 4);
        for _ in 0..self.exponent_bits / 4 {
            let mut row = [*one.as_montgomery(); 16];
            let mut power = one;
            for entry in row.iter_mut().skip(1) {
                power *= g_16_i;
                *entry = *power.as_montgomery();
            }
            rows.push(row);
            g_16_i = g_16_i.square().square().square().square();
        }
        rows
    }
}

// The primes, in hex, as RFC 2409 section 6 and RFC 3526 define them:
// p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k). `tests::primes_are_safe_primes`
// checks every one (a typo would not survive a Fermat test).
const MODP768: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
);
const MODP1024: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
);
const MODP1536: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
);
const MODP2048: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);
const MODP3072: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);
const MODP4096: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8",
    "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2",
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::TestRng;
    use crate::testutil::unhex;

    fn prime(group: DhGroup) -> Vec<u8> {
        let hex = match group {
            DhGroup::Modp768 => MODP768,
            DhGroup::Modp1024 => MODP1024,
            DhGroup::Modp1536 => MODP1536,
            DhGroup::Modp2048 => MODP2048,
            DhGroup::Modp3072 => MODP3072,
            DhGroup::Modp4096 => MODP4096,
        };
        unhex(hex)
    }

    fn fermat<const L: usize>(hex: &str) {
        // p and q = (p-1)/2 both pass a Fermat test: p is a safe prime as the RFCs say.
        let p = Odd::<Uint<L>>::from_be_hex(hex);
        let p_minus_1 = p.get().wrapping_sub(&Uint::ONE);
        let params = FixedMontyParams::new_vartime(p);
        let two = FixedMontyForm::new(&Uint::from_u8(2), &params);
        assert_eq!(two.pow_vartime(&p_minus_1).retrieve(), Uint::ONE);
        let q = Odd::new(p_minus_1.shr_vartime(1)).unwrap();
        let q_minus_1 = q.get().wrapping_sub(&Uint::ONE);
        let qparams = FixedMontyParams::new_vartime(q);
        let three = FixedMontyForm::new(&Uint::from_u8(3), &qparams);
        assert_eq!(three.pow_vartime(&q_minus_1).retrieve(), Uint::ONE);
    }

    #[test]
    fn primes_are_safe_primes() {
        fermat::<12>(MODP768);
        fermat::<16>(MODP1024);
        fermat::<24>(MODP1536);
        fermat::<32>(MODP2048);
        fermat::<48>(MODP3072);
        fermat::<64>(MODP4096);
        for g in DhGroup::ALL {
            let p = prime(g);
            assert_eq!(p.len(), g.value_len(), "{g:?}");
            // RFC 2409 6 / RFC 3526: the top and bottom 64 bits are all ones.
            assert_eq!(p[..8], [0xff; 8]);
            assert_eq!(p[p.len() - 8..], [0xff; 8]);
        }
    }

    #[test]
    fn ids_round_trip() {
        for g in DhGroup::ALL {
            assert_eq!(DhGroup::from_id(g.id()), Some(g));
        }
        assert_eq!(DhGroup::from_id(3), None, "EC2N groups are not supported");
    }

    /// Known answer computed independently (Python's `pow` over the RFC 2409 formula).
    #[test]
    fn group2_known_answer() {
        let x = unhex("0123456789abcdeffedcba98765432100f1e2d3c4b5a69788796a5b4c3d2e1f0");
        let ours = DhPrivate::from_exponent(DhGroup::Modp1024, &x);
        assert_eq!(
            ours.public_value(),
            unhex(
                "d712542630b39d45d88b341cbb6ac16ff2af9f8d5e051cbcacf1b13e8f884a74\
                 fbb21dac5001af64567daa09bc80781a13c03ac84ec02001f832a5a8a04dfa2d\
                 f9eeb91af17c569edab2bfaac56df2fa57e8e5cb769213f2338494906c5970a9\
                 21bc61f4f78f3b571dc1e9900b9fe8272098031d1dd88c09dd8efb0d07389281"
            )
        );
        let peer = DhPrivate::from_exponent(DhGroup::Modp1024, &[0xde, 0xad, 0xbe, 0xef]);
        let shared = ours.complete(&peer.public_value()).unwrap();
        assert_eq!(
            shared.as_bytes(),
            unhex(
                "6cfbfc34bc39dbf04ebddd1ef0ce101564a2ff84c5bd495240ffe807a776d590\
                 cf3a073bdabdc6f6f58399df00850d61182b1e7dee27545f831e83555f369ad1\
                 fc53297b9258d1588366cd7b33c3d57104b2268becdd3d581fe7d452c96ad89d\
                 b6683dc87592e4c3b85c0c0098df8d6b6a1095fae2856baed5f172045cb9e96f"
            )
        );
    }

    /// The fixed-base table (our g^x) and the generic exponentiation (used on peer values,
    /// here on y = 2) agree, for short and for longer-than-usual exponents.
    #[test]
    fn fixed_base_and_generic_exponentiation_agree() {
        let mut rng = TestRng::new(6);
        for g in DhGroup::ALL {
            let mut two = vec![0; g.value_len()];
            two[g.value_len() - 1] = 2;
            for len in [1, g.exponent_bits() / 8, g.exponent_bits() / 8 + 5] {
                let mut x = vec![0; len];
                rng.fill(&mut x);
                let fixed = DhPrivate::from_exponent(g, &x).public_value();
                let generic = DhPrivate::from_exponent(g, &x).complete(&two).unwrap();
                assert_eq!(fixed, generic.as_bytes(), "{g:?} {len}");
            }
        }
    }

    #[test]
    fn small_results_are_left_padded() {
        for g in DhGroup::ALL {
            let public = DhPrivate::from_exponent(g, &[3]).public_value();
            assert_eq!(public.len(), g.value_len());
            assert_eq!(public[g.value_len() - 1], 8);
            assert!(public[..g.value_len() - 1].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn both_sides_agree_in_every_group() {
        let mut rng = TestRng::new(7);
        for g in DhGroup::ALL {
            let a = DhPrivate::generate(g, &mut rng);
            let b = DhPrivate::generate(g, &mut rng);
            assert_eq!(a.group(), g);
            let (pa, pb) = (a.public_value(), b.public_value());
            assert_ne!(pa, pb);
            let sa = a.complete(&pb).unwrap();
            let sb = b.complete(&pa).unwrap();
            assert_eq!(sa, sb, "{g:?}");
            assert_eq!(sa.len(), g.value_len());
        }
    }

    #[test]
    fn invalid_public_values_are_rejected() {
        let mut rng = TestRng::new(8);
        for g in DhGroup::ALL {
            let len = g.value_len();
            let p = prime(g);
            let mut p_minus_1 = p.clone();
            p_minus_1[len - 1] -= 1;
            let mut one = vec![0; len];
            one[len - 1] = 1;
            let valid = DhPrivate::generate(g, &mut rng).public_value();
            for (what, y) in [
                ("0", vec![0; len]),
                ("1", one),
                ("p-1", p_minus_1),
                ("p", p.clone()),
                ("all ones", vec![0xff; len]),
                ("short", valid[1..].to_vec()),
                ("long", [&[0][..], &valid].concat()),
                ("empty", vec![]),
            ] {
                let ours = DhPrivate::generate(g, &mut rng);
                assert_eq!(
                    ours.complete(&y),
                    Err(CryptoError::InvalidPublicValue),
                    "{g:?} {what}"
                );
            }
            // 2 (the generator itself) is a legitimate value.
            let mut two = vec![0; len];
            two[len - 1] = 2;
            assert!(DhPrivate::generate(g, &mut rng).complete(&two).is_ok());
        }
    }

    #[test]
    fn generated_exponents_have_the_documented_length() {
        let mut rng = TestRng::new(9);
        for g in DhGroup::ALL {
            let x = DhPrivate::generate(g, &mut rng);
            assert_eq!(x.x.len() * 8, g.exponent_bits());
            assert!(x.x.as_bytes()[0] & 0x80 != 0);
            assert_eq!(format!("{x:?}"), format!("DhPrivate({g:?})"));
        }
    }
}
