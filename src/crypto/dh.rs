//! Diffie-Hellman groups: MODP (RFC 2409 groups 1, 2; RFC 3526 groups 5, 14, 15, 16;
//! RFC 5114 group 24) and ECP (RFC 5903 groups 19, 20, 21: `ecp.rs`).
//! Our exponentiation is constant-time (crypto-bigint Montgomery form); peer MODP values
//! are validated 1 < y < p-1, and in group 24's prime-order subgroup.

use super::ecp::{Curve, EcpPrivate};
use super::{CryptoError, Rng, Secret};
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{
    CtAssign, CtEq, Odd, Uint, Word, U1024, U1536, U2048, U256, U3072, U4096, U768,
};

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
    /// Group 19: NIST P-256 (RFC 5903).
    Ecp256,
    /// Group 20: NIST P-384 (RFC 5903).
    Ecp384,
    /// Group 21: NIST P-521 (RFC 5903).
    Ecp521,
    /// Group 24: 2048-bit MODP with a 256-bit prime-order subgroup (RFC 5114 2.3).
    Modp2048s256,
}

impl DhGroup {
    pub const ALL: [DhGroup; 10] = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Modp2048s256,
    ];
    /// Group number (IKE attribute 4, IPsec attribute 3): 1, 2, 5, 14, 15, 16, 19, 20,
    /// 21, 24 (IANA "Group Description").
    pub fn id(self) -> u16 {
        match self {
            DhGroup::Modp768 => 1,
            DhGroup::Modp1024 => 2,
            DhGroup::Modp1536 => 5,
            DhGroup::Modp2048 => 14,
            DhGroup::Modp3072 => 15,
            DhGroup::Modp4096 => 16,
            DhGroup::Ecp256 => 19,
            DhGroup::Ecp384 => 20,
            DhGroup::Ecp521 => 21,
            DhGroup::Modp2048s256 => 24,
        }
    }
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.id() == id)
    }
    /// Length of the KE payload's public value in bytes: the prime's length for MODP
    /// groups, x || y (twice the field's length) for ECP groups.
    pub fn value_len(self) -> usize {
        match self {
            DhGroup::Modp768 => 96,
            DhGroup::Modp1024 => 128,
            DhGroup::Modp1536 => 192,
            DhGroup::Modp2048 | DhGroup::Modp2048s256 => 256,
            DhGroup::Modp3072 => 384,
            DhGroup::Modp4096 => 512,
            DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521 => {
                2 * self.curve().map_or(0, Curve::field_len)
            }
        }
    }
    /// Length of g^xy in bytes: the prime's length, or one coordinate (RFC 5903 7).
    pub fn shared_secret_len(self) -> usize {
        match self.curve() {
            Some(c) => c.field_len(),
            None => self.value_len(),
        }
    }
    /// The curve of an ECP group.
    fn curve(self) -> Option<Curve> {
        match self {
            DhGroup::Ecp256 => Some(Curve::P256),
            DhGroup::Ecp384 => Some(Curve::P384),
            DhGroup::Ecp521 => Some(Curve::P521),
            _ => None,
        }
    }
    /// Bits of our random private exponent in a MODP group. A short exponent of twice
    /// the group's security strength keeps the discrete log as hard as the group itself
    /// (RFC 3526 section 8; NIST SP 800-56A rev. 3 section 5.6.1.1.1 asks for 2s bits,
    /// with s = 112 for 2048-bit, 128 for 3072-bit, about 150 for 4096-bit groups), and
    /// makes the exponentiation 4 to 10 times cheaper than a full-length one. Group 24's
    /// subgroup order is 256 bits (RFC 5114 2.3). ECP groups draw a scalar below the
    /// curve's order instead.
    fn exponent_bits(self) -> usize {
        match self {
            DhGroup::Modp768
            | DhGroup::Modp1024
            | DhGroup::Modp1536
            | DhGroup::Modp2048
            | DhGroup::Modp2048s256 => 256,
            DhGroup::Modp3072 => 320,
            DhGroup::Modp4096 => 384,
            DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521 => {
                8 * self.curve().map_or(0, Curve::field_len)
            }
        }
    }
}

/// Our DH private value; zeroized on drop. `complete` spends it once. Drawing one is
/// cheap; its public value (g^x, a modular exponentiation) is computed on first use,
/// so that the engine can leave that work to the daemon's DH workers.
pub struct DhPrivate {
    group: DhGroup,
    x: Private,
    public: OnceLock<Vec<u8>>,
}

/// A MODP exponent, or an ECP scalar held by the curve arithmetic.
enum Private {
    Modp(Secret),
    Ecp(EcpPrivate),
}

impl std::fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhPrivate({:?})", self.group)
    }
}

impl DhPrivate {
    pub fn generate(group: DhGroup, rng: &mut dyn Rng) -> Self {
        if let Some(curve) = group.curve() {
            return Self::ecp(group, curve.generate(rng));
        }
        let mut x = zeroize::Zeroizing::new(vec![0u8; group.exponent_bits() / 8]);
        rng.fill(&mut x);
        // Top bit set: x is never 0 or 1 and every exponent has the same length.
        x[0] |= 0x80;
        Self::from_exponent(group, &x)
    }
    /// Build from a known exponent (tests against captures and known answers); in an
    /// ECP group, a scalar of the field's length.
    ///
    /// # Panics
    /// If `x` is longer than the group's prime, or not a scalar in 1..n-1 of the curve.
    pub fn from_exponent(group: DhGroup, x: &[u8]) -> Self {
        if let Some(curve) = group.curve() {
            let k = curve.private(x).expect("an ECP scalar in 1..n-1");
            return Self::ecp(group, k);
        }
        assert!(
            x.len() <= group.value_len(),
            "DH exponent longer than the prime"
        );
        DhPrivate {
            group,
            x: Private::Modp(Secret::new(x.to_vec())),
            public: OnceLock::new(),
        }
    }
    fn ecp(group: DhGroup, k: EcpPrivate) -> Self {
        DhPrivate {
            group,
            x: Private::Ecp(k),
            public: OnceLock::new(),
        }
    }
    pub fn group(&self) -> DhGroup {
        self.group
    }
    /// The KE payload body: g^x mod p left-padded to `group.value_len()` bytes, or the
    /// point x*G as x || y.
    pub fn public_value(&self) -> Vec<u8> {
        self.public
            .get_or_init(|| match &self.x {
                Private::Ecp(k) => k.public_value(),
                Private::Modp(x) => modexp(self.group, None, x.as_bytes())
                    .expect("the generator is a valid base")
                    .as_bytes()
                    .to_vec(),
            })
            .clone()
    }
    /// g^xy mod p left-padded to the prime's length, or the x coordinate of x*Q;
    /// `Err(InvalidPublicValue)` for a value that is not an element of the group.
    pub fn complete(self, peer_public: &[u8]) -> Result<Secret, CryptoError> {
        match &self.x {
            Private::Ecp(k) => k.shared_secret(peer_public),
            Private::Modp(x) => modexp(self.group, Some(peer_public), x.as_bytes()),
        }
    }
}

/// base^exponent mod p for `group`; the base is the generator when `peer` is `None`.
/// The time depends on the exponent's byte length, never on its value.
fn modexp(group: DhGroup, peer: Option<&[u8]>, exponent: &[u8]) -> Result<Secret, CryptoError> {
    // Per group, computed on first use: the Montgomery parameters and the powers of g.
    macro_rules! run {
        ($uint:ty, $prime:ident) => {
            run!($uint, $prime, Uint::from_u8(2), None)
        };
        ($uint:ty, $prime:ident, $generator:expr, $subgroup_order:expr) => {{
            const LIMBS: usize = <$uint>::LIMBS;
            static PARAMS: OnceLock<FixedMontyParams<LIMBS>> = OnceLock::new();
            static POWERS_OF_G: OnceLock<Vec<[Uint<LIMBS>; 16]>> = OnceLock::new();
            let params = PARAMS
                .get_or_init(|| FixedMontyParams::new_vartime(Odd::<$uint>::from_be_hex($prime)));
            let group = Modp {
                params,
                generator: $generator,
                subgroup_order: $subgroup_order,
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
        DhGroup::Modp2048s256 => run!(
            U2048,
            MODP2048S256_P,
            U2048::from_be_hex(MODP2048S256_G),
            Some(U256::from_be_hex(MODP2048S256_Q).resize())
        ),
        DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521 => {
            unreachable!("ECP groups do not exponentiate")
        }
    }
}

/// One group at its fixed size (`LIMBS` words, the prime's length).
struct Modp<const LIMBS: usize> {
    params: &'static FixedMontyParams<LIMBS>,
    generator: Uint<LIMBS>,
    /// The order q of g where it generates a small subgroup (group 24): a peer's value
    /// must lie in it too (RFC 5114 section 4, NIST SP 800-56A 5.6.2.3.1).
    subgroup_order: Option<Uint<LIMBS>>,
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
            None => self.pow(&self.generator, &x, bits),
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
        // y^q = 1: y is in g's subgroup, not in a small one that leaks bits of x.
        if let Some(q) = self.subgroup_order {
            let y_q = FixedMontyForm::new(&y, self.params).pow_vartime(&q);
            if y_q.retrieve() != Uint::ONE {
                return Err(CryptoError::InvalidPublicValue);
            }
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
        let mut g_16_i = FixedMontyForm::new(&self.generator, self.params);
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

// Group 24, RFC 5114 section 2.3: the prime p, the generator g of the subgroup of
// prime order q. `tests::group24_parameters` checks p and q prime and g^q = 1.
const MODP2048S256_P: &str = concat!(
    "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00",
    "E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C",
    "209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B",
    "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76",
    "B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E",
    "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026",
    "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103",
    "A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597",
);
const MODP2048S256_G: &str = concat!(
    "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA125",
    "10DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62",
    "901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B",
    "777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193",
    "B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A",
    "DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915",
    "B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C3",
    "2F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659",
);
const MODP2048S256_Q: &str = "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::TestRng;
    use crate::testutil::unhex;

    /// Fills with a recognisable 16-byte pattern.
    struct Canary;
    const CANARY: [u8; 16] = *b"dh-exponent-cnry";
    impl Rng for Canary {
        fn fill(&mut self, buf: &mut [u8]) {
            for (b, c) in buf.iter_mut().zip(CANARY.iter().cycle()) {
                *b = *c;
            }
        }
    }

    #[test]
    fn no_copy_of_our_exponent_is_left_in_freed_memory() {
        for group in [DhGroup::Modp768, DhGroup::Modp2048] {
            let peer = DhPrivate::generate(group, &mut TestRng::new(1)).public_value();
            let left = crate::testutil::freed::copies_left(&[&CANARY], || {
                let ours = DhPrivate::generate(group, &mut Canary);
                let _ = ours.public_value();
                let _ = ours.complete(&peer).unwrap();
            });
            assert_eq!(left, 0, "{group:?}");
        }
    }

    /// The MODP groups, the six safe-prime ones first, then group 24.
    fn modp() -> Vec<DhGroup> {
        DhGroup::ALL
            .into_iter()
            .filter(|g| g.curve().is_none())
            .collect()
    }
    fn ecp() -> Vec<DhGroup> {
        DhGroup::ALL
            .into_iter()
            .filter(|g| g.curve().is_some())
            .collect()
    }

    fn prime(group: DhGroup) -> Vec<u8> {
        let hex = match group {
            DhGroup::Modp768 => MODP768,
            DhGroup::Modp1024 => MODP1024,
            DhGroup::Modp1536 => MODP1536,
            DhGroup::Modp2048 => MODP2048,
            DhGroup::Modp3072 => MODP3072,
            DhGroup::Modp4096 => MODP4096,
            DhGroup::Modp2048s256 => MODP2048S256_P,
            DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521 => unreachable!("{group:?}"),
        };
        unhex(hex)
    }

    /// The generator as a peer's public value (left-padded to the prime's length).
    fn generator(group: DhGroup) -> Vec<u8> {
        if group == DhGroup::Modp2048s256 {
            return unhex(MODP2048S256_G);
        }
        let mut two = vec![0; group.value_len()];
        two[group.value_len() - 1] = 2;
        two
    }

    fn fermat<const L: usize>(hex: &str) {
        // p and q = (p-1)/2 both pass a Fermat test: p is a safe prime as the RFCs say.
        let p = Odd::<Uint<L>>::from_be_hex(hex);
        assert!(probably_prime(&p));
        let q = Odd::new(p.get().wrapping_sub(&Uint::ONE).shr_vartime(1)).unwrap();
        assert!(probably_prime(&q));
    }

    /// A Fermat test to base 3.
    fn probably_prime<const L: usize>(n: &Odd<Uint<L>>) -> bool {
        let params = FixedMontyParams::new_vartime(*n);
        let three = FixedMontyForm::new(&Uint::from_u8(3), &params);
        three
            .pow_vartime(&n.get().wrapping_sub(&Uint::ONE))
            .retrieve()
            == Uint::ONE
    }

    #[test]
    fn primes_are_safe_primes() {
        fermat::<12>(MODP768);
        fermat::<16>(MODP1024);
        fermat::<24>(MODP1536);
        fermat::<32>(MODP2048);
        fermat::<48>(MODP3072);
        fermat::<64>(MODP4096);
        for g in modp() {
            assert_eq!(prime(g).len(), g.value_len(), "{g:?}");
        }
        for g in &modp()[..6] {
            let p = prime(*g);
            // RFC 2409 6 / RFC 3526: the top and bottom 64 bits are all ones.
            assert_eq!(p[..8], [0xff; 8]);
            assert_eq!(p[p.len() - 8..], [0xff; 8]);
        }
    }

    /// RFC 5114 2.3: p and q are prime, q divides p-1, and g generates the order-q
    /// subgroup (g != 1, g^q = 1).
    #[test]
    fn group24_parameters() {
        let p = Odd::<U2048>::from_be_hex(MODP2048S256_P);
        let q = Odd::<U256>::from_be_hex(MODP2048S256_Q);
        assert!(probably_prime(&p));
        assert!(probably_prime(&q));
        let q_wide: U2048 = q.get().resize();
        let p_minus_1 = p.get().wrapping_sub(&Uint::ONE);
        let q_nz = crypto_bigint::NonZero::new(q_wide).unwrap();
        assert_eq!(p_minus_1.rem_vartime(&q_nz), Uint::ZERO);
        let params = FixedMontyParams::new_vartime(p);
        let g = FixedMontyForm::new(&U2048::from_be_hex(MODP2048S256_G), &params);
        assert_ne!(g.retrieve(), Uint::ONE);
        assert_eq!(g.pow_vartime(&q_wide).retrieve(), Uint::ONE);
    }

    #[test]
    fn ids_round_trip() {
        for g in DhGroup::ALL {
            assert_eq!(DhGroup::from_id(g.id()), Some(g));
        }
        let ids: Vec<u16> = DhGroup::ALL.iter().map(|g| g.id()).collect();
        assert_eq!(ids, [1, 2, 5, 14, 15, 16, 19, 20, 21, 24]);
        assert_eq!(DhGroup::from_id(3), None, "EC2N groups are not supported");
        assert_eq!(
            DhGroup::from_id(22),
            None,
            "group 22 (1024-bit/160) is not offered"
        );
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

    /// Both sides of a published exchange: each private value gives its public value,
    /// and each side computes the published shared secret from the other's.
    fn known_exchange(group: DhGroup, xa: &str, ya: &str, xb: &str, yb: &str, z: &str) {
        let (xa, ya, xb, yb, z) = (unhex(xa), unhex(ya), unhex(xb), unhex(yb), unhex(z));
        let a = DhPrivate::from_exponent(group, &xa);
        let b = DhPrivate::from_exponent(group, &xb);
        assert_eq!(a.public_value(), ya, "{group:?} initiator's public value");
        assert_eq!(b.public_value(), yb, "{group:?} responder's public value");
        assert_eq!(a.complete(&yb).unwrap().as_bytes(), z, "{group:?}");
        assert_eq!(b.complete(&ya).unwrap().as_bytes(), z, "{group:?}");
        assert_eq!(z.len(), group.shared_secret_len());
    }

    /// RFC 5114 appendix A.3: 2048-bit MODP group with 256-bit prime order subgroup.
    #[test]
    fn group24_rfc5114_test_data() {
        known_exchange(
            DhGroup::Modp2048s256,
            "0881382CDB87660C6DC13E614938D5B9C8B2F248581CC5E31B35454397FCE50E",
            "2E9380C8323AF97545BC4941DEB0EC3742C62FE0ECE824A6ABDBE66C59BEE024\
             2911BFB967235CEBA35AE13E4EC752BE630B92DC4BDE2847A9C62CB815274542\
             1FB7EB60A63C0FE9159FCCE726CE7CD8523D7450667EF840E4919121EB5F01C8\
             C9B0D3D648A93BFB75689E8244AC134AF544711CE79A02DCC34226684780DDDC\
             B498594106C37F5BC79856487AF5AB022A2E5E42F09897C1A85A11EA0212AF04\
             D9B4CEBC937C3C1A3E15A8A0342E337615C84E7FE3B8B9B87FB1E73A15AF12A3\
             0D746E06DFC34F290D797CE51AA13AA785BF6658AFF5E4B093003CBEAF665B3C\
             2E113A3A4E905269341DC0711426685F4EF37E868A8126FF3F2279B57CA67E29",
            "7D62A7E3EF36DE617B13D1AFB82C780D83A23BD4EE6705645121F371F546A53D",
            "575F0351BD2B1B817448BDF87A6C362C1E289D3903A30B9832C5741FA250363E\
             7ACBC7F77F3DACBC1F131ADD8E03367EFF8FBBB3E1C5784424809B25AFE4D226\
             2A1A6FD2FAB64105CA30A674E07F7809852088632FC049233791AD4EDD083A97\
             8B883EE618BC5E0DD047415F2D95E683CF14826B5FBE10D3CE41C6C120C78AB2\
             0008C698BF7F0BCAB9D7F407BED0F43AFB2970F57F8D12043963E66DDD320D59\
             9AD9936C8F44137C08B180EC5E985CEBE186F3D549677E80607331EE17AF3380\
             A725B0782317D7DD43F59D7AF9568A9BB63A84D365F92244ED120988219302F4\
             2924C7CA90B89D24F71B0AB697823D7DEB1AFF5B0E8E4A45D49F7F53757E1913",
            "86C70BF8D0BB81BB01078A17219CB7D27203DB2A19C877F1D1F19FD7D77EF225\
             46A68F005AD52DC84553B78FC60330BE51EA7C0672CAC1515E4B35C047B9A551\
             B88F39DC26DA14A09EF74774D47C762DD177F9ED5BC2F11E52C879BD95098504\
             CD9EECD8A8F9B3EFBD1F008AC5853097D9D1837F2B18F77CD7BE01AF80A7C7B5\
             EA3CA54CC02D0C116FEE3F95BB87399385875D7E86747E676E728938ACBFF709\
             8E05BE4DCFB24052B83AEFFB14783F029ADBDE7F53FAE92084224090E007CEE9\
             4D4BF2BACE9FFD4B57D2AF7C724D0CAA19BF0501F6F17B4AA10F425E3EA76080\
             B4B9D6B3CEFEA115B2CEB8789BB8A3B0EA87FEBE63B6C8F846EC6DB0C26C5D7C",
        );
    }

    /// RFC 5903 section 8.1 (group 19), in IKE's x || y encoding.
    #[test]
    fn group19_rfc5903_test_vector() {
        known_exchange(
            DhGroup::Ecp256,
            "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
            "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180\
             5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
            "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
            "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63\
             56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
            "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE",
        );
    }

    /// RFC 5114 appendix A.6, A.7, A.8: the random ECP groups of 256, 384 and 521 bits
    /// are NIST P-256, P-384 and P-521, IKE groups 19, 20 and 21.
    #[test]
    fn ecp_groups_rfc5114_test_data() {
        known_exchange(
            DhGroup::Ecp256,
            "814264145F2F56F2E96A8E337A1284993FAF432A5ABCE59E867B7291D507A3AF",
            "2AF502F3BE8952F2C9B5A8D4160D09E97165BE50BC42AE4A5E8D3B4BA83AEB15\
             EB0FAF4CA986C4D38681A0F9872D79D56795BD4BFF6E6DE3C0F5015ECE5EFD85",
            "2CE1788EC197E096DB95A200CC0AB26A19CE6BCCAD562B8EEE1B593761CF7F41",
            "B120DE4AA36492795346E8DE6C2C8646AE06AAEA279FA775B3AB0715F6CE51B0\
             9F1B7EECE20D7B5ED8EC685FA3F071D83727027092A8411385C34DDE5708B2B6",
            "DD0F5396219D1EA393310412D19A08F1F5811E9DC8EC8EEA7F80D21C820C2788",
        );
        known_exchange(
            DhGroup::Ecp384,
            "D27335EA71664AF244DD14E9FD1260715DFD8A7965571C48D709EE7A7962A156\
             D706A90CBCB5DF2986F05FEADB9376F1",
            "793148F1787634D5DA4C6D9074417D05E057AB62F82054D10EE6B0403D627954\
             7E6A8EA9D1FD77427D016FE27A8B8C66C6C41294331D23E6F480F4FB4CD40504\
             C947392E94F4C3F06B8F398BB29E42368F7A685923DE3B67BACED214A1A1D128",
            "52D1791FDB4B70F89C0F00D456C2F7023B6125262C36A7DF1F80231121CCE3D3\
             9BE52E00C194A4132C4A6C768BCD94D2",
            "5CD42AB9C41B5347F74B8D4EFB708B3D5B36DB65915359B44ABC17647B6B9999\
             789D72A84865AE2F223F12B5A1ABC120E171458FEAA939AAA3A8BFAC46B404BD\
             8F6D5B348C0FA4D80CECA16356CA933240BDE8723415A8ECE035B0EDF36755DE",
            "5EA1FC4AF7256D2055981B110575E0A8CAE53160137D904C59D926EB1B8456E4\
             27AA8A4540884C37DE159A58028ABC0E",
        );
        known_exchange(
            DhGroup::Ecp521,
            "0113F82DA825735E3D97276683B2B74277BAD27335EA71664AF2430CC4F33459\
             B9669EE78B3FFB9B8683015D344DCBFEF6FB9AF4C6C470BE254516CD3C1A1FB4\
             7362",
            "01EBB34DD75721ABF8ADC9DBED17889CBB9765D90A7C60F2CEF007BB0F2B26E1\
             4881FD4442E689D61CB2DD046EE30E3FFD20F9A45BBDF6413D583A2DBF59924F\
             D35C00F6B632D194C0388E22D8437E558C552AE195ADFD153F92D74908351B2F\
             8C4EDA94EDB0916D1B53C020B5EECAED1A5FC38A233E4830587BB2EE3489B3B4\
             2A5A86A4",
            "00CEE3480D8645A17D249F2776D28BAE616952D1791FDB4B70F7C3378732AA1B\
             22928448BCD1DC2496D435B01048066EBE4F72903C361B1A9DC1193DC2C9D089\
             1B96",
            "010EBFAFC6E85E08D24BFFFCC1A4511DB0E634BEEB1B6DEC8C5939AE44766201\
             AF6200430BA97C8AC6A0E9F08B33CE7E9FEEB5BA4EE5E0D81510C24295B8A08D\
             023500A4A6EC300DF9E257B0372B5E7ABFEF093436719A77887EBB0B18CF8099\
             B9F4212B6E30A1419C18E029D36863CC9D448F4DBA4D2A0E60711BE572915FBD\
             4FEF2695",
            "00CDEA89621CFA46B132F9E4CFE2261CDE2D4368EB5656634C7CC98C7A00CDE5\
             4ED1866A0DD3E6126C9D2F845DAFF82CEB1DA08F5D87521BB0EBECA77911169C\
             20CC",
        );
    }

    /// NIST CAVS "KAS ECC CDH primitive" P-256 count 0: our side's public value and
    /// the shared x coordinate from the CAVS peer's point.
    #[test]
    fn group19_nist_cdh_vector() {
        let ours = DhPrivate::from_exponent(
            DhGroup::Ecp256,
            &unhex("7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534"),
        );
        assert_eq!(
            ours.public_value(),
            unhex(
                "ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230\
                 28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141"
            )
        );
        let peer = unhex(
            "700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287\
             db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
        );
        assert_eq!(
            ours.complete(&peer).unwrap().as_bytes(),
            unhex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b")
        );
    }

    /// The fixed-base table (our g^x) and the generic exponentiation (used on peer values,
    /// here on y = g) agree, for short and for longer-than-usual exponents.
    #[test]
    fn fixed_base_and_generic_exponentiation_agree() {
        let mut rng = TestRng::new(6);
        for g in modp() {
            for len in [1, g.exponent_bits() / 8, g.exponent_bits() / 8 + 5] {
                let mut x = vec![0; len];
                rng.fill(&mut x);
                let fixed = DhPrivate::from_exponent(g, &x).public_value();
                let generic = DhPrivate::from_exponent(g, &x)
                    .complete(&generator(g))
                    .unwrap();
                assert_eq!(fixed, generic.as_bytes(), "{g:?} {len}");
            }
        }
    }

    #[test]
    fn small_results_are_left_padded() {
        for g in &modp()[..6] {
            let public = DhPrivate::from_exponent(*g, &[3]).public_value();
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
            assert_eq!(pa.len(), g.value_len(), "{g:?}");
            assert_ne!(pa, pb);
            let sa = a.complete(&pb).unwrap();
            let sb = b.complete(&pa).unwrap();
            assert_eq!(sa, sb, "{g:?}");
            assert_eq!(sa.len(), g.shared_secret_len());
        }
    }

    #[test]
    fn invalid_public_values_are_rejected() {
        let mut rng = TestRng::new(8);
        for g in modp() {
            let len = g.value_len();
            let p = prime(g);
            let mut p_minus_1 = p.clone();
            p_minus_1[len - 1] -= 1;
            let mut one = vec![0; len];
            one[len - 1] = 1;
            let valid = DhPrivate::generate(g, &mut rng).public_value();
            let mut cases = vec![
                ("0", vec![0; len]),
                ("1", one),
                ("p-1", p_minus_1),
                ("p", p.clone()),
                ("all ones", vec![0xff; len]),
                ("short", valid[1..].to_vec()),
                ("long", [&[0][..], &valid].concat()),
                ("empty", vec![]),
            ];
            if g == DhGroup::Modp2048s256 {
                // 2 is a valid residue but outside g's order-q subgroup.
                let mut two = vec![0; len];
                two[len - 1] = 2;
                cases.push(("2, outside the subgroup", two));
            }
            for (what, y) in cases {
                let ours = DhPrivate::generate(g, &mut rng);
                assert_eq!(
                    ours.complete(&y),
                    Err(CryptoError::InvalidPublicValue),
                    "{g:?} {what}"
                );
            }
            // The generator itself is a legitimate value.
            assert!(DhPrivate::generate(g, &mut rng)
                .complete(&generator(g))
                .is_ok());
        }
    }

    /// A received point must be two field elements of the right length on the curve
    /// (RFC 5903 5); the point at infinity has no x || y encoding and all-zero is not
    /// on these curves.
    #[test]
    fn invalid_points_are_rejected() {
        let mut rng = TestRng::new(10);
        for g in ecp() {
            let len = g.value_len();
            let valid = DhPrivate::generate(g, &mut rng).public_value();
            let mut off_curve = valid.clone();
            off_curve[len - 1] ^= 1;
            let mut x_too_big = valid.clone();
            x_too_big[..len / 2].fill(0xff);
            let sec1 = [&[4][..], &valid].concat();
            for (what, q) in [
                ("zero", vec![0; len]),
                ("y flipped: off the curve", off_curve),
                ("x >= p", x_too_big),
                ("SEC1 with the 04 byte", sec1),
                ("x only", valid[..len / 2].to_vec()),
                ("short", valid[1..].to_vec()),
                ("empty", vec![]),
            ] {
                let ours = DhPrivate::generate(g, &mut rng);
                assert_eq!(
                    ours.complete(&q),
                    Err(CryptoError::InvalidPublicValue),
                    "{g:?} {what}"
                );
            }
            let ours = DhPrivate::generate(g, &mut rng);
            assert!(ours.complete(&valid).is_ok(), "{g:?}");
        }
    }

    #[test]
    fn generated_exponents_have_the_documented_length() {
        let mut rng = TestRng::new(9);
        for g in modp() {
            let x = DhPrivate::generate(g, &mut rng);
            let Private::Modp(x_bytes) = &x.x else {
                panic!("{g:?} is a MODP group")
            };
            assert_eq!(x_bytes.len() * 8, g.exponent_bits());
            assert!(x_bytes.as_bytes()[0] & 0x80 != 0);
            assert_eq!(format!("{x:?}"), format!("DhPrivate({g:?})"));
        }
        for g in ecp() {
            let k = DhPrivate::generate(g, &mut rng);
            assert_eq!(format!("{k:?}"), format!("DhPrivate({g:?})"));
        }
    }

    /// ECP private scalars: 1..n-1 only, of the field's length (P-521: 66 bytes, the
    /// top 7 bits clear).
    #[test]
    fn ecp_scalars_outside_the_order_are_refused() {
        let n_p256 = unhex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
        let mut n_minus_1 = n_p256.clone();
        n_minus_1[31] -= 1;
        assert!(Curve::P256.private(&[0; 32]).is_none(), "zero");
        assert!(Curve::P256.private(&n_p256).is_none(), "n");
        assert!(Curve::P256.private(&[0xff; 32]).is_none(), "above n");
        assert!(Curve::P256.private(&[1; 31]).is_none(), "short");
        assert!(Curve::P256.private(&n_minus_1).is_some(), "n - 1");
        let mut top = vec![0u8; 66];
        top[0] = 0x02;
        assert!(Curve::P521.private(&top).is_none(), "2^521");
        top[0] = 0x01;
        assert!(Curve::P521.private(&top).is_some(), "2^520");
    }
}
